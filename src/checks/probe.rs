//! The [`Probe`]: what one check uses to talk to the target. Every request goes through it, so
//! every exchange lands in the check's evidence (redacted), every token it receives is remembered
//! as a secret, and each check logs in its own users.
//!
//! [`Shared`] holds what all checks of a run share: the profile, one handle on the client transport
//! (the same HTTP/TLS path and body limits as the simulated clients; bodies are truncated-and-drained
//! since only excerpts are shown), the user source, `--strict`, and the target's JWKS (fetched once,
//! on first use). The probe only records: what is sent and how it fails is the transport's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use parking_lot::Mutex;
use serde_json::Value;

use super::evidence::{self, Exchange, Header};
use super::jwt::{self, Jwt};
use super::meta::CheckMeta;
use super::outcome::Stop;
use crate::client::transport::{BodyMode, Connections, Connector, Http};
use crate::profile::request;
use crate::profile::{Profile, Rendered, RequestError, TokenKind, Tokens};
use crate::redact::redact;
use crate::scenario::UserSource;

/// Users each check may log in (`user(0)` .. `user(USERS_PER_CHECK - 1)`): check i of the catalog
/// uses users `i * USERS_PER_CHECK ..`, so checks running at the same time never share a user.
pub const USERS_PER_CHECK: u64 = 4;
/// Deadline of one HTTP exchange (connection included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections the checks of a run share.
const IDLE_CONNECTIONS: u32 = 64;
/// Most exchanges kept as evidence per check (the oldest after the first half are dropped).
pub const MAX_EVIDENCE: usize = 40;
/// Pause before a check's login answered with a server error is tried again.
pub const LOGIN_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Why one login attempt failed: a server error (5xx) or a rate limit (429) is tried once more.
enum LoginFailure {
    ServerError(Stop),
    RateLimited(Stop),
    Other(Stop),
}

impl LoginFailure {
    fn stop(self) -> Stop {
        match self {
            LoginFailure::ServerError(s)
            | LoginFailure::RateLimited(s)
            | LoginFailure::Other(s) => s,
        }
    }
}

/// What every check of one run shares.
pub struct Shared {
    /// How to talk to the target.
    pub profile: Arc<Profile>,
    /// The transport (no cookie store: cookies are sent explicitly by the profile).
    pub http: Http,
    /// Credentials of the test users.
    pub users: UserSource,
    /// `--strict`: a refresh rejected with 401/403 is a FAIL.
    pub strict: bool,
    /// The refresh endpoint is an RFC 6749 token endpoint (form `grant_type=refresh_token`).
    pub oauth_refresh: bool,
    jwks: tokio::sync::OnceCell<Result<Value, JwksMissing>>,
}

impl Shared {
    /// Shared state for a run against `profile`.
    pub fn new(profile: Arc<Profile>, users: UserSource, strict: bool) -> Result<Self, String> {
        let https = profile.base_url().scheme() == "https";
        let http = Connector::new(
            Connections::PerClient,
            HTTP_TIMEOUT,
            https && profile.tls().is_none(),
            IDLE_CONNECTIONS,
        )
        .map_err(|e| e.to_string())?
        .with_profile_tls(profile.tls())
        .client();
        let oauth_refresh = is_oauth_refresh(&profile);
        Ok(Shared {
            profile,
            http,
            users,
            strict,
            oauth_refresh,
            jwks: tokio::sync::OnceCell::new(),
        })
    }
}

/// Whether the profile's refresh request is an RFC 6749 §6 token request (then §5.2's
/// "400 invalid_grant" applies to its errors).
fn is_oauth_refresh(profile: &Profile) -> bool {
    let Ok(req) = profile.refresh_request(Some("probe")) else {
        return false;
    };
    let form = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let grant = String::from_utf8_lossy(req.body()).contains("grant_type=refresh_token");
    form && grant
}

/// A response: status, headers, body (capped), time taken.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body, at most [`BODY_CAP`](crate::client::transport::BODY_CAP) bytes.
    pub body: Bytes,
    /// Time to the end of the body.
    pub elapsed: Duration,
}

impl Resp {
    /// 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The `error` member of a JSON body.
    pub fn error_code(&self) -> Option<String> {
        self.json()?.get("error")?.as_str().map(str::to_string)
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `status` plus the `error` code when there is one, e.g. `400 invalid_grant`.
    pub fn brief(&self) -> String {
        match self.error_code() {
            Some(e) => format!("{} {e}", self.status),
            None => self.status.to_string(),
        }
    }

    /// Why this answer says nothing about the request, when the server declined to judge it: a
    /// 429 (rate limited) or a 503 (unavailable, over capacity). The text names the cause and
    /// the fix; `None` for any other answer. Judged, such an answer was a finding about a token
    /// the server never looked at (RT-02 FAILed a 429 as "unexpected answer").
    pub fn declined(&self) -> Option<String> {
        let retry = self
            .header("retry-after")
            .map(|v| match v.trim().parse::<u64>() {
                Ok(s) => format!(", Retry-After {s} s"),
                Err(_) => format!(", Retry-After {}", v.trim()),
            })
            .unwrap_or_default();
        let brief = self.brief();
        match self.status {
            429 => Some(format!(
                "the server rate-limited the check ({brief}{retry}), so the answer says nothing about the request: run fewer checks at once (`--jobs 1`, or `--only` a few) or raise the server's rate limit for the test client"
            )),
            503 => Some(format!(
                "the server was unavailable ({brief}{retry}: overloaded or down), so the answer says nothing about the request: run fewer checks at once (`--jobs 1`), raise the server's capacity, or run again when it is back"
            )),
            _ => None,
        }
    }
}

/// Why the server's signing keys (JWKS) could not be read.
#[derive(Debug, Clone)]
pub enum JwksMissing {
    /// Neither OpenID discovery nor `/.well-known/jwks.json` publishes them.
    NotPublished,
    /// The server failed or did not answer (5xx, 429, a transport error): not known.
    Unavailable(String),
}

/// What became of a refresh request.
#[derive(Debug, Clone)]
pub enum RefreshReply {
    /// New tokens.
    Accepted(Tokens),
    /// Rejected; `rfc` = the RFC 6749 §5.2 form (400 `invalid_grant`), or the profile's own
    /// rejection contract for non-OAuth refresh endpoints.
    Rejected {
        /// Whether the rejection has the standard form.
        rfc: bool,
    },
    /// 5xx.
    ServerError,
    /// Anything else (404, a 2xx without tokens...; a 429 or 503 never gets here: [`Probe::send`]
    /// stops the check).
    Unexpected,
}

impl RefreshReply {
    /// Whether the refresh token was accepted.
    pub fn accepted(&self) -> bool {
        matches!(self, RefreshReply::Accepted(_))
    }

    /// Whether the refresh token was rejected.
    pub fn rejected(&self) -> bool {
        matches!(self, RefreshReply::Rejected { .. })
    }
}

/// A logged-in test session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The username.
    pub user: String,
    /// Its tokens.
    pub tokens: Tokens,
    /// The login response (for fields the profile does not extract, e.g. `refresh_expires_in`).
    pub resp: Resp,
    /// When the login response arrived.
    pub at: Instant,
}

impl Session {
    /// The refresh token, or a SKIP when the client cannot see it.
    pub fn rt(&self) -> Result<String, Stop> {
        self.tokens
            .refresh_token
            .clone()
            .ok_or_else(|| Stop::skip(super::meta::Need::RefreshTokenValue.reason()))
    }

    /// The access token.
    pub fn at(&self) -> &str {
        &self.tokens.access_token
    }
}

#[derive(Default)]
struct Log {
    evidence: Vec<Exchange>,
    omitted: usize,
    secrets: Vec<String>,
}

/// One check's connection to the target (see the module docs).
pub struct Probe {
    shared: Arc<Shared>,
    /// The check this probe belongs to.
    pub meta: &'static CheckMeta,
    user_base: u64,
    log: Mutex<Log>,
}

impl Probe {
    /// A probe for check `meta`, whose users start at `user_base`.
    pub fn new(shared: Arc<Shared>, meta: &'static CheckMeta, user_base: u64) -> Self {
        Probe {
            shared,
            meta,
            user_base,
            log: Mutex::new(Log::default()),
        }
    }

    /// The target profile.
    pub fn profile(&self) -> &Profile {
        &self.shared.profile
    }

    /// The shared transport handle.
    pub fn http(&self) -> &Http {
        &self.shared.http
    }

    /// `--strict`.
    pub fn strict(&self) -> bool {
        self.shared.strict
    }

    /// Whether the refresh endpoint is an RFC 6749 token endpoint.
    pub fn oauth_refresh(&self) -> bool {
        self.shared.oauth_refresh
    }

    /// Credentials of this check's user `k` (`k` < [`USERS_PER_CHECK`]).
    pub fn user(&self, k: u64) -> (String, String) {
        self.shared
            .users
            .credentials(self.user_base + k.min(USERS_PER_CHECK - 1))
    }

    /// Remembers a secret so that it is redacted wherever it appears in the evidence.
    pub fn secret(&self, s: &str) {
        if s.len() > 8 {
            let mut log = self.log.lock();
            if !log.secrets.iter().any(|x| x == s) {
                log.secrets.push(s.to_string());
            }
        }
    }

    fn secrets(&self) -> Vec<String> {
        self.log.lock().secrets.clone()
    }

    /// A token as it may be shown: a short prefix.
    pub fn show(&self, token: &str) -> String {
        redact(token)
    }

    /// Records an exchange (bounded: past [`MAX_EVIDENCE`], the middle is dropped).
    pub fn record(&self, ex: Exchange) {
        let mut log = self.log.lock();
        if log.evidence.len() >= MAX_EVIDENCE {
            log.evidence.remove(MAX_EVIDENCE / 2);
            log.omitted += 1;
        }
        log.evidence.push(ex);
    }

    /// Takes the evidence out, redacted with every secret learnt, and the number of exchanges
    /// dropped to stay bounded.
    pub fn take_evidence(&self) -> (Vec<Exchange>, usize) {
        let mut log = self.log.lock();
        let secrets = std::mem::take(&mut log.secrets);
        let mut ev = std::mem::take(&mut log.evidence);
        for e in &mut ev {
            e.scrub(&secrets);
        }
        log.secrets = secrets;
        (ev, log.omitted)
    }

    /// Redacts `text` with every secret known so far.
    pub fn scrub(&self, text: &str) -> String {
        evidence::scrub(text, &self.secrets())
    }

    /// Sends a request and records it; a transport failure (or a request that could not be
    /// rendered) is returned as text, and recorded.
    pub async fn try_send(
        &self,
        label: &str,
        req: Result<Rendered, RequestError>,
    ) -> Result<Resp, String> {
        let secrets = self.secrets();
        let mut ex = Exchange::new(label, "(not built)".into());
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("cannot build the request: {e}");
                ex.error = Some(evidence::scrub(&msg, &secrets));
                self.record(ex);
                return Err(msg);
            }
        };
        let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        ex.request = evidence::scrub(&format!("{} {target}", req.method()), &secrets);
        ex.request_headers = req
            .headers()
            .iter()
            .filter(|(n, _)| evidence::keep_request_header(n.as_str()))
            .map(|(n, v)| Header {
                name: n.as_str().to_string(),
                value: evidence::header_value(
                    n.as_str(),
                    &String::from_utf8_lossy(v.as_bytes()),
                    &secrets,
                ),
            })
            .collect();
        ex.request_body = evidence::body_excerpt(req.body(), &secrets);
        let start = Instant::now();
        let result = self.shared.http.exchange(req, BodyMode::Truncate).await;
        let elapsed = start.elapsed();
        ex.elapsed_ms = elapsed.as_millis() as u64;
        match result {
            Ok(reply) => {
                let renewal = self.profile().renewal_header().map(|h| h.as_str());
                ex.status = Some(reply.status);
                ex.response_headers = reply
                    .headers
                    .iter()
                    .filter(|(n, _)| evidence::keep_response_header(n.as_str(), renewal))
                    .map(|(n, v)| Header {
                        name: n.as_str().to_string(),
                        value: evidence::header_value(
                            n.as_str(),
                            &String::from_utf8_lossy(v.as_bytes()),
                            &secrets,
                        ),
                    })
                    .collect();
                ex.response_body = evidence::body_excerpt(&reply.body, &secrets);
                self.record(ex);
                Ok(Resp {
                    status: reply.status,
                    headers: reply.headers,
                    body: reply.body,
                    elapsed,
                })
            }
            Err(e) => {
                let msg = e.to_string();
                ex.error = Some(evidence::scrub(&msg, &secrets));
                self.record(ex);
                Err(msg)
            }
        }
    }

    /// Sends a request and records it; a transport failure stops the check with an error, and so
    /// does an answer the server declined to give ([`Resp::declined`]: 429, 503) — every check
    /// judges what `send` returns, and a rate limit or an outage is no verdict about the request.
    pub async fn send(
        &self,
        label: &str,
        req: Result<Rendered, RequestError>,
    ) -> Result<Resp, Stop> {
        let r = self.send_answered(label, req).await?;
        match r.declined() {
            Some(why) => Err(Stop::error(format!("{label}: {why}"))),
            None => Ok(r),
        }
    }

    /// [`Self::send`] that returns a 429 or 503 as any other answer (a transport failure still
    /// stops the check).
    async fn send_answered(
        &self,
        label: &str,
        req: Result<Rendered, RequestError>,
    ) -> Result<Resp, Stop> {
        self.try_send(label, req)
            .await
            .map_err(|e| Stop::error(format!("{label}: {e}")))
    }

    /// Logs in this check's user `k`; any failure stops the check with an error. A login answered
    /// with a server error or a rate limit (5xx, 429: the login is the check's setup, not its
    /// subject; e.g. a database busy with another check's login) is tried once more after
    /// [`LOGIN_RETRY_PAUSE`], and both exchanges stay in the evidence.
    pub async fn login(&self, k: u64) -> Result<Session, Stop> {
        match self.login_once(k, "").await {
            Err(LoginFailure::ServerError(_)) => {
                tokio::time::sleep(LOGIN_RETRY_PAUSE).await;
                self.login_once(k, ", again after a server error")
                    .await
                    .map_err(LoginFailure::stop)
            }
            Err(LoginFailure::RateLimited(_)) => {
                tokio::time::sleep(LOGIN_RETRY_PAUSE).await;
                self.login_once(k, ", again after a 429")
                    .await
                    .map_err(LoginFailure::stop)
            }
            done => done.map_err(LoginFailure::stop),
        }
    }

    async fn login_once(&self, k: u64, attempt: &str) -> Result<Session, LoginFailure> {
        let (user, password) = self.user(k);
        self.secret(&password);
        let label = format!("login as {user}{attempt}");
        let req = match self.profile().authorization_code() {
            // The browser part is not evidence of a check; its failure stops the check.
            Some(spec) => {
                let code = crate::client::authorize::obtain_code(
                    self.http(),
                    self.profile(),
                    spec,
                    &user,
                    &password,
                    crate::client::authorize::UNOBSERVED,
                )
                .await
                .map_err(|e| LoginFailure::Other(Stop::error(format!("{label}: {e}"))))?;
                self.secret(&code.code);
                self.profile()
                    .code_exchange_request(&user, &password, &code.code, &code.verifier)
            }
            None => self.profile().login_request(&user, &password),
        };
        let resp = self
            .send_answered(&label, req)
            .await
            .map_err(LoginFailure::Other)?;
        if let Some(why) = resp.declined() {
            let stop = Stop::error(format!("{label}: {why}"));
            return Err(match resp.status {
                429 => LoginFailure::RateLimited(stop),
                _ => LoginFailure::ServerError(stop),
            });
        }
        let tokens = self
            .profile()
            .parse_tokens(resp.status, &resp.headers, &resp.body);
        match tokens {
            Ok(tokens) => {
                self.remember(&tokens);
                Ok(Session {
                    user,
                    tokens,
                    resp,
                    at: Instant::now(),
                })
            }
            Err(e) => {
                let stop = Stop::error(format!(
                    "{label} failed: {} (is {user} a valid test account?)",
                    self.scrub(&e.to_string())
                ));
                Err(if resp.status >= 500 {
                    LoginFailure::ServerError(stop)
                } else {
                    LoginFailure::Other(stop)
                })
            }
        }
    }

    /// Remembers the tokens as secrets.
    pub fn remember(&self, tokens: &Tokens) {
        self.secret(&tokens.access_token);
        if let Some(rt) = &tokens.refresh_token {
            self.secret(rt);
        }
    }

    /// Sends a refresh with `rt`.
    pub async fn refresh(&self, label: &str, rt: &str) -> Result<Resp, Stop> {
        let req = self.profile().refresh_request(Some(rt));
        self.send(label, req).await
    }

    /// Sends a refresh with `rt` and classifies the answer.
    pub async fn refresh_reply(&self, label: &str, rt: &str) -> Result<(RefreshReply, Resp), Stop> {
        let resp = self.refresh(label, rt).await?;
        Ok((self.classify_refresh(&resp), resp))
    }

    /// Classifies a refresh response (and remembers any tokens in it).
    pub fn classify_refresh(&self, resp: &Resp) -> RefreshReply {
        if resp.ok() {
            return match self
                .profile()
                .parse_refresh_tokens(resp.status, &resp.headers, &resp.body)
            {
                Ok(t) => {
                    self.remember(&t);
                    RefreshReply::Accepted(t)
                }
                Err(_) => RefreshReply::Unexpected,
            };
        }
        if resp.status >= 500 {
            return RefreshReply::ServerError;
        }
        let rfc_form = resp.status == 400 && resp.error_code().as_deref() == Some("invalid_grant");
        if self.oauth_refresh() {
            if rfc_form {
                return RefreshReply::Rejected { rfc: true };
            }
            if matches!(resp.status, 400 | 401 | 403) {
                return RefreshReply::Rejected { rfc: false };
            }
            return RefreshReply::Unexpected;
        }
        if self.profile().refresh_rejected(resp.status, &resp.body)
            || matches!(resp.status, 400 | 401 | 403)
        {
            // Not an OAuth token endpoint: its own rejection contract is the standard.
            return RefreshReply::Rejected { rfc: true };
        }
        RefreshReply::Unexpected
    }

    /// Calls the scope-restricted resource with `access_token` (a SKIP when the profile declares
    /// none).
    pub async fn scoped_api(&self, label: &str, access_token: &str) -> Result<Resp, Stop> {
        let req = self
            .profile()
            .scoped_request(access_token)
            .ok_or_else(|| Stop::skip(crate::checks::meta::Need::ScopedResource.reason()))?;
        self.send(label, req).await
    }

    /// Calls the protected resource with `access_token`.
    pub async fn api(&self, label: &str, access_token: &str) -> Result<Resp, Stop> {
        let req = self.profile().resource_request(access_token);
        self.send(label, req).await
    }

    /// Builds the resource request with `access_token` and lets `edit` change it (remove the
    /// credential, move it to the query...) before sending.
    pub async fn api_edited(
        &self,
        label: &str,
        access_token: &str,
        edit: impl FnOnce(&mut Rendered),
    ) -> Result<Resp, Stop> {
        let req = self.profile().resource_request(access_token);
        self.send(label, edited(req, edit)).await
    }

    /// Sends `req` when the profile could build one (`None` when it has no such request).
    async fn send_if(
        &self,
        label: &str,
        req: Option<Result<Rendered, RequestError>>,
    ) -> Option<Result<Resp, Stop>> {
        Some(self.send(label, req?).await)
    }

    /// Logs `tokens` out with the profile's logout request (`None` when it has none).
    pub async fn logout(&self, label: &str, tokens: &Tokens) -> Option<Result<Resp, Stop>> {
        self.send_if(label, self.profile().logout_request(tokens))
            .await
    }

    /// Revokes `token` (RFC 7009), `None` when the profile has no revocation endpoint.
    pub async fn revoke(
        &self,
        label: &str,
        token: &str,
        kind: TokenKind,
    ) -> Option<Result<Resp, Stop>> {
        self.send_if(label, self.profile().revoke_request(token, kind))
            .await
    }

    /// Introspects `token` (RFC 7662), `None` when the profile cannot.
    pub async fn introspect(
        &self,
        label: &str,
        token: &str,
        kind: TokenKind,
    ) -> Option<Result<Resp, Stop>> {
        self.send_if(label, self.profile().introspect_request(token, kind))
            .await
    }

    /// The introspection request for `token` of `kind` with `edit` applied (e.g. credentials
    /// removed).
    pub async fn introspect_edited(
        &self,
        label: &str,
        token: &str,
        kind: TokenKind,
        edit: impl FnOnce(&mut Rendered),
    ) -> Option<Result<Resp, Stop>> {
        let req = self.profile().introspect_request(token, kind)?;
        Some(self.send(label, edited(req, edit)).await)
    }

    /// Logs `user` out everywhere through the admin endpoint (after the profile's user-id
    /// lookup, if it has one) or the profile's `force_logout` command, `None` when there is
    /// neither. A command that exits 0 answers as a 200 with no body.
    pub async fn admin_logout(&self, label: &str, user: &str) -> Option<Result<Resp, Stop>> {
        if let Some(hook) = self.profile().force_logout_hook() {
            let started = Instant::now();
            return Some(
                crate::client::admin_logout::run_hook(hook, user)
                    .await
                    .map(|()| Resp {
                        status: 200,
                        headers: HeaderMap::new(),
                        body: Bytes::new(),
                        elapsed: started.elapsed(),
                    })
                    .map_err(|e| Stop::error(format!("{label}: {e}"))),
            );
        }
        let user_id = match self.profile().admin_user_id_request(user) {
            Some(req) => {
                let r = match self
                    .send(&format!("{label}: look up the user's id"), req)
                    .await
                {
                    Ok(r) => r,
                    Err(stop) => return Some(Err(stop)),
                };
                match self
                    .profile()
                    .admin_user_id_from(r.status, &r.headers, &r.body)
                {
                    Some(id) => Some(id),
                    None => {
                        return Some(Err(Stop::error(format!(
                            "{label}: the user-id lookup found no id at {} ({})",
                            self.profile()
                                .admin_user_id_extractor()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            r.brief()
                        ))));
                    }
                }
            }
            None => None,
        };
        self.send_if(
            label,
            self.profile()
                .admin_logout_request_for(user, user_id.as_deref()),
        )
        .await
    }

    /// The access token as a JWT, or a SKIP when it is opaque.
    pub fn jwt(&self, access_token: &str) -> Result<Jwt, Stop> {
        jwt::parse(access_token)
            .ok_or_else(|| Stop::skip(super::meta::Need::JwtAccessTokens.reason()))
    }

    /// The target's JWKS (from OpenID discovery's `jwks_uri`, else `/.well-known/jwks.json`),
    /// fetched once per run and recorded as evidence by the first check that asks.
    pub async fn jwks(&self) -> Result<Value, JwksMissing> {
        let shared = self.shared.clone();
        shared
            .jwks
            .get_or_init(|| async { self.fetch_jwks().await })
            .await
            .clone()
    }

    async fn fetch_jwks(&self) -> Result<Value, JwksMissing> {
        // Below the base URL's path, as OpenID issuers with a path (`/realms/x`) publish them.
        let base = self
            .profile()
            .base_url()
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let url = |path: &str| {
            url::Url::parse(&format!("{base}{path}")).map_err(|_| JwksMissing::NotPublished)
        };
        let discovery = url("/.well-known/openid-configuration")?;
        let mut jwks_url = url("/.well-known/jwks.json")?;
        // A failing server (5xx, 429, no answer) says nothing about whether it publishes keys.
        let failing = |r: &Result<Resp, String>| match r {
            Ok(r) if r.status >= 500 || r.status == 429 => Some(r.brief()),
            Ok(_) => None,
            Err(e) => Some(e.clone()),
        };
        let d = self
            .try_send("OpenID discovery", request::get(&discovery))
            .await;
        if let Some(why) = failing(&d) {
            return Err(JwksMissing::Unavailable(format!("OpenID discovery: {why}")));
        }
        if let Ok(r) = &d
            && r.ok()
            && let Some(u) = r
                .json()
                .and_then(|v| v.get("jwks_uri")?.as_str().map(str::to_string))
                .and_then(|u| url::Url::parse(&u).ok())
        {
            jwks_url = u;
        }
        let r = self.try_send("JWKS", request::get(&jwks_url)).await;
        if let Some(why) = failing(&r) {
            return Err(JwksMissing::Unavailable(format!("JWKS: {why}")));
        }
        r.ok()
            .filter(Resp::ok)
            .and_then(|r| r.json())
            .ok_or(JwksMissing::NotPublished)
    }
}

/// A request that rendered, changed by `edit` (a credential removed, moved to the query...).
fn edited(
    req: Result<Rendered, RequestError>,
    edit: impl FnOnce(&mut Rendered),
) -> Result<Rendered, RequestError> {
    req.map(|mut r| {
        edit(&mut r);
        r
    })
}

/// Edits the URL of a rendered request (e.g. a query parameter added or removed); a URL that no
/// longer parses leaves the request as it was.
pub fn edit_url(req: &mut Rendered, edit: impl FnOnce(&mut url::Url)) {
    let Ok(mut url) = url::Url::parse(&req.uri().to_string()) else {
        return;
    };
    edit(&mut url);
    if let Ok(uri) = http::Uri::try_from(url.as_str()) {
        *req.uri_mut() = uri;
    }
}

/// The RFC 6750 §3 `WWW-Authenticate` challenge of a 401, parsed loosely.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme (`Bearer`).
    pub scheme: String,
    /// The `error` parameter, if any.
    pub error: Option<String>,
    /// The `scope` parameter (RFC 6750 §3: the scope the resource needs), if any.
    pub scope: Option<String>,
}

/// Parses `WWW-Authenticate` (first challenge only).
pub fn challenge(resp: &Resp) -> Option<Challenge> {
    let v = resp.header("www-authenticate")?.trim();
    let (scheme, params) = v.split_once(' ').unwrap_or((v, ""));
    let param = |name: &str| {
        params.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    Some(Challenge {
        scheme: scheme.to_string(),
        error: param("error"),
        scope: param("scope"),
    })
}

/// A response with `status`, an optional `WWW-Authenticate` value and `body`, for unit tests of
/// the checks that judge responses.
#[cfg(test)]
pub(crate) fn test_resp(status: u16, www: Option<&str>, body: &str) -> Resp {
    let mut headers = HeaderMap::new();
    if let Some(w) = www {
        headers.insert("www-authenticate", w.parse().unwrap());
    }
    Resp {
        status,
        headers,
        body: Bytes::from(body.to_string()),
        elapsed: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::BODY_CAP;

    fn resp(status: u16, www: Option<&str>, body: &str) -> Resp {
        test_resp(status, www, body)
    }

    #[test]
    fn challenges_parse() {
        let r = resp(
            401,
            Some("Bearer realm=\"authbench\", error=\"invalid_token\", error_description=\"x\""),
            "",
        );
        let c = challenge(&r).unwrap();
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        let c = challenge(&resp(401, Some("Bearer realm=\"a\""), "")).unwrap();
        assert_eq!(c.error, None);
        assert_eq!(challenge(&resp(401, None, "")), None);
    }

    #[test]
    fn briefs_name_the_error() {
        let r = resp(400, None, "{\"error\":\"invalid_grant\"}");
        assert_eq!(r.brief(), "400 invalid_grant");
        assert_eq!(resp(500, None, "oops").brief(), "500");
    }

    #[test]
    fn a_rate_limit_or_an_outage_is_declined_naming_the_fix() {
        let mut limited = resp(429, None, "{\"error\":\"slow_down\"}");
        limited.headers.insert("retry-after", "2".parse().unwrap());
        let why = limited.declined().unwrap();
        assert!(
            why.contains("rate-limited the check (429 slow_down, Retry-After 2 s)")
                && why.contains("`--jobs 1`"),
            "{why}"
        );
        let why = resp(503, None, "").declined().unwrap();
        assert!(why.starts_with("the server was unavailable (503"), "{why}");
        for s in [200, 400, 401, 404, 500] {
            assert_eq!(resp(s, None, "").declined(), None, "{s}");
        }
    }

    #[test]
    fn oauth_refresh_is_detected_from_the_request() {
        let mock = crate::profile::preset("mock", "http://127.0.0.1:1").unwrap();
        assert!(is_oauth_refresh(&mock));
        let json = crate::profile::preset("mock-json", "http://127.0.0.1:1").unwrap();
        assert!(!is_oauth_refresh(&json));
    }

    /// A server that answers every request with a 200 whose body is `len` bytes of `x`.
    async fn big_body_server(len: usize) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        let mut b = [0u8; 1];
                        if s.read(&mut b).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let h = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
                    let _ = s.write_all(h.as_bytes()).await;
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut left = len;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if s.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        });
        addr
    }

    fn probe_for(addr: std::net::SocketAddr) -> Probe {
        let profile = crate::profile::preset("mock", &format!("http://{addr}")).unwrap();
        let shared = Shared::new(Arc::new(profile), UserSource::default(), false).unwrap();
        let meta = &crate::checks::catalog::ALL[0].meta;
        Probe::new(Arc::new(shared), meta, 0)
    }

    #[tokio::test]
    async fn evidence_bodies_are_truncated_and_floods_are_body_errors() {
        let p = probe_for(big_body_server(BODY_CAP * 3).await);
        let r = p.api("big resource", "at").await.unwrap();
        assert_eq!((r.status, r.body.len()), (200, BODY_CAP));
        let (ev, _) = p.take_evidence();
        assert_eq!(ev[0].status, Some(200));
        assert!(ev[0].error.is_none());

        let p = probe_for(big_body_server(crate::client::transport::DRAIN_LIMIT + 1).await);
        let e = p
            .try_send("flood", p.profile().resource_request("at"))
            .await;
        assert!(e.unwrap_err().starts_with("reading the body failed"));
        let (ev, _) = p.take_evidence();
        assert!(ev[0].error.as_deref().unwrap().contains("over"));
    }

    #[test]
    fn urls_of_rendered_requests_can_be_edited() {
        let mut req = request::get(&"http://h/me?a=1".parse().unwrap()).unwrap();
        edit_url(&mut req, |u| {
            u.query_pairs_mut().append_pair("access_token", "t");
        });
        assert_eq!(req.uri(), "http://h/me?a=1&access_token=t");
    }
}
