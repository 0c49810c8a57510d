//! [`Profile`]: how authbench talks to one server — its requests, extractors, renewal header,
//! refresh-rejected policy, reuse matcher, declared session limits, admin access and WebSocket
//! settings — and the target file form ([`ProfileFile`]) it is loaded from, optionally on top of a
//! preset.

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::channels::{PushProfile, PushSpec, SseProfile, SseSpec};
use super::extract::{ExtractError, Extractor, Extractors, RejectPolicy, Tokens};
use super::grant::{self, AuthCodeSpec, GrantSpec};
use super::matcher::{Matcher, Rejection};
use super::presets;
use super::request::{Rendered, RequestError, RequestSpec};
use super::scoped::ScopedResource;
use super::template::{Template, Var, Vars};
use super::tls::TlsClient;
use super::tls::TlsSpec;
use super::ws::{WsProfile, WsSpec};
use crate::config::overrides;
use crate::config::units::{duration_opt_schema, human_duration_opt};
use crate::config::yaml::{self, DocKind};
use crate::config::{ConfigError, ErrorKind, did_you_mean};

/// How target files are described in messages.
pub const TARGET_DOC: DocKind = DocKind::plain(
    "target profile",
    "`preset: mock` and `base_url: http://127.0.0.1:8080` (see scenarios/targets/mock.yaml)",
)
.with_schema(schema_of_profiles);

/// The JSON Schema of target profile files (made once, on the first error that needs it).
fn schema_of_profiles() -> &'static serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = schemars::generate::SchemaSettings::draft07()
            .into_generator()
            .into_root_schema_for::<ProfileFile>();
        serde_json::to_value(schema).unwrap_or_default()
    })
}

/// The default renewal header of the sliding strategy.
pub const DEFAULT_RENEWAL_HEADER: &str = "New-Access-Token";

/// Which token a revoke or introspect request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
}

impl TokenKind {
    /// The RFC 7009 `token_type_hint` value.
    pub fn hint(self) -> &'static str {
        match self {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        }
    }
}

/// A first admin request that looks the user's id up (`admin_user_id:`), for admin APIs that
/// name users by id (Keycloak): its answer's `id` becomes `{{user_id}}` in `admin_logout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdLookup {
    /// The lookup (default method GET); variables `user`, `admin_key`.
    pub request: RequestSpec,
    /// Where the id is in the answer, e.g. `json:/0/id`.
    pub id: Extractor,
}

/// `force_logout: { command: [...] }`: "log this user out everywhere" as a program (a CLI, a
/// database update), run once per user with `AUTHBENCH_USER` set to the user name; exit status 0
/// is success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceLogoutHook {
    /// The program and its arguments (no shell: write `[sh, -c, "..."]` for one).
    pub command: Vec<String>,
    /// How long one run may take (default 30s).
    #[serde(
        default,
        with = "human_duration_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_opt_schema")]
    pub timeout: Option<Duration>,
}

/// The default time one run of a `force_logout` command may take.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// A token type as a profile names it (`access_token`, `refresh_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenTypeName {
    /// Access tokens.
    AccessToken,
    /// Refresh tokens.
    RefreshToken,
}

impl TokenTypeName {
    fn kind(self) -> TokenKind {
        match self {
            TokenTypeName::AccessToken => TokenKind::Access,
            TokenTypeName::RefreshToken => TokenKind::Refresh,
        }
    }
}

/// Which token types the revocation and introspection endpoints accept (`token_types:`); many
/// providers refuse JWT access tokens there by design. Left out: both types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TokenTypes {
    /// Types `revoke` accepts, e.g. `[refresh_token]` (Auth0, Cognito).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke: Option<Vec<TokenTypeName>>,
    /// Types `introspect` accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspect: Option<Vec<TokenTypeName>>,
}

impl TokenTypes {
    fn accepts(list: &Option<Vec<TokenTypeName>>, kind: TokenKind) -> bool {
        list.as_ref()
            .is_none_or(|l| l.iter().any(|t| t.kind() == kind))
    }
}

/// The extractors as written; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractSpec {
    /// Access token (default `json:/access_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Extractor>,
    /// Refresh token (default `json:/refresh_token`); `cookie:NAME` when it lives in an HttpOnly cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Extractor>,
    /// Lifetime in seconds for opaque access tokens (default `json:/expires_in`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<Extractor>,
    /// Session id (default `json:/session_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Extractor>,
    /// Seconds the refresh token stays valid (default `json:/refresh_expires_in`; 0 = not said).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<Extractor>,
    /// Extractors for login responses only, over the keys above (Cognito:
    /// `access_token: json:/AuthenticationResult/AccessToken`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<Box<ExtractSpec>>,
    /// Extractors for refresh responses only, over the keys above. A refresh answer without a
    /// refresh token keeps the previous one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Box<ExtractSpec>>,
}

impl ExtractSpec {
    /// `base` with the keys this spec sets replaced (not looking at `login`/`refresh`).
    fn over(&self, base: &Extractors) -> Extractors {
        let mut out = base.clone();
        let slots = [
            (&mut out.access_token, &self.access_token),
            (&mut out.refresh_token, &self.refresh_token),
            (&mut out.expires_in, &self.expires_in),
            (&mut out.session_id, &self.session_id),
            (&mut out.refresh_expires_in, &self.refresh_expires_in),
        ];
        for (slot, v) in slots {
            if let Some(v) = v {
                *slot = v.clone();
            }
        }
        out
    }

    /// The login and refresh extractors: the preset's (`base_login`, `base_refresh`), then this
    /// spec's common keys, then its `login:` / `refresh:` keys.
    fn resolve(
        &self,
        base_login: &Extractors,
        base_refresh: &Extractors,
    ) -> Result<(Extractors, Extractors), Problem> {
        for (op, nested) in [("login", &self.login), ("refresh", &self.refresh)] {
            if let Some(n) = nested
                && (n.login.is_some() || n.refresh.is_some())
            {
                let inner = if n.login.is_some() {
                    "login"
                } else {
                    "refresh"
                };
                return Err(problem(
                    format!("extract.{op}.{inner}"),
                    format!("`extract.{op}` cannot hold another `{inner}:`"),
                    format!(
                        "write the keys for {op} responses directly under `extract.{op}`, e.g. access_token: json:/..."
                    ),
                ));
            }
        }
        let login = self.over(base_login);
        let refresh = self.over(base_refresh);
        Ok((
            self.login
                .as_ref()
                .map_or(login.clone(), |l| l.over(&login)),
            self.refresh
                .as_ref()
                .map_or(refresh.clone(), |r| r.over(&refresh)),
        ))
    }
}

/// What the server's documentation promises about a login session, for limits its token
/// responses do not announce (`refresh_expires_in`, the refresh token's `exp`). A refresh refused
/// past one of these ends is `sessions_expired`, not `spurious_logouts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SessionLimits {
    /// Absolute lifetime from the login; rotation does not extend it (the mock's `--max-session`,
    /// Keycloak's "SSO Session Max").
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub max: Option<Duration>,
    /// The session ends after this long without a login or refresh (Keycloak's "SSO Session
    /// Idle").
    #[serde(with = "human_duration_opt", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_opt_schema")]
    pub idle: Option<Duration>,
    /// Concurrent sessions one user may hold: `1` (single-session policy: a new login ends the
    /// older session), `N` (a login beyond N ends the oldest) or `unlimited` (multi-session).
    /// The `SS-*` checks need it; undeclared, they SKIP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<super::policy::MaxSessions>,
}

/// A target profile file (DESIGN §4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "authbench target profile")]
pub struct ProfileFile {
    /// Start from a preset (`mock`, `mock-json`, `oauth2`) and override parts of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preset_schema")]
    pub preset: Option<String>,
    /// The server's base URL; request paths are appended to it. May use `{{env.NAME}}` and
    /// `{{env.NAME | default("http://...")}}`; `--base-url` on `run` and `check` overrides it.
    pub base_url: Template,
    /// Password login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<RequestSpec>,
    /// Refresh-token grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RequestSpec>,
    /// Logout (ends the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout: Option<RequestSpec>,
    /// The protected API call made in traffic phases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<RequestSpec>,
    /// A resource that needs a scope the test users lack (RS-03, `client.scoped_share`); sent
    /// like `resource` with this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoped_resource: Option<ScopedResource>,
    /// Token revocation (RFC 7009); variables `token`, `token_type_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke: Option<RequestSpec>,
    /// Token introspection (RFC 7662); variables `token`, `token_type_hint`, `admin_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspect: Option<RequestSpec>,
    /// Admin "log this user out everywhere" (force_logout); variables `user`, `admin_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_logout: Option<RequestSpec>,
    /// Admin "stop serving for a while" (the `outage` phase); variables `duration_ms`, `admin_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_outage: Option<RequestSpec>,
    /// The admin key, normally `"{{env.AUTHBENCH_ADMIN_KEY}}"` (never write secrets in files);
    /// when the variable is unset, admin requests are unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<Template>,
    /// Where tokens are in login/refresh responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
    /// Response header carrying a renewed access token (sliding strategy); `""` = none.
    /// Default `New-Access-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_header: Option<String>,
    /// What counts as a rejected refresh ("this refresh token is dead": log in again): `strict`
    /// (400 invalid_grant), `lenient` (400/401/403), or status + body field rules, e.g.
    /// `{ status: 401, body: { code: token_not_valid } }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rejected: Option<Rejection>,
    /// Which rejected refreshes say "this refresh token was already used" (`reuse_detected`):
    /// status + body field rules; the default matches the RFC 6749 `invalid_grant` answers of the
    /// mock, Keycloak and Supabase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_rejected: Option<Matcher>,
    /// Session limits the server enforces without announcing them in its token responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionLimits>,
    /// How long after an access token's `exp` the resource server still accepts it: its
    /// clock-skew leeway (RFC 7519 §4.1.4 allows a small one; Spring Security and the Rust
    /// `jsonwebtoken` crate default to 60s, .NET to 5m). The checks judge an expired token only
    /// past it (JW-06, RS-02, WS-03, AT-01). Default 0.
    #[serde(
        default,
        with = "human_duration_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_opt_schema")]
    pub expiry_leeway: Option<Duration>,
    /// Looks the user's id up before `admin_logout` (which may then use `{{user_id}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user_id: Option<UserIdLookup>,
    /// "Log this user out everywhere" as a command, instead of `admin_logout`:
    /// `{ command: [sh, -c, "..."] }`, run with `AUTHBENCH_USER` in its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_logout: Option<ForceLogoutHook>,
    /// Which token types `revoke` and `introspect` accept (default: both); the checks use only
    /// the declared ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_types: Option<TokenTypes>,
    /// How the first token pair is obtained: `password` (default), `client_credentials`, or
    /// `{ authorization_code: { authorize, redirect_uri, form } }` (PKCE, headless form login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantSpec>,
    /// Which resource answers mean "this access token is rejected" (the client renews and
    /// retries): status + body field rules; default `{ status: 401 }` (RFC 6750). Cognito's API
    /// answers 400 `NotAuthorizedException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_rejected: Option<Matcher>,
    /// WebSocket settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<WsSpec>,
    /// Server-Sent Events stream settings (`client.channel: sse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<SseSpec>,
    /// Mobile push settings (`client.channel: push`): the device-token registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushSpec>,
    /// Logout everywhere: one request that ends every session of the user (the `logout_everywhere`
    /// phase, SS-02); variables of `logout` plus `user` and `admin_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_everywhere: Option<RequestSpec>,
    /// TLS for `https`/`wss`: a private CA, `insecure`, a client certificate (mutual TLS), the
    /// server name (see [`super::tls`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// A cookie-session server (Django, Rails, express-session, Spring Session): the session
    /// cookie `login` sets, the CSRF token and `Origin` sent on unsafe methods, the redirect that
    /// means "log in again". Such a profile has no `refresh` request; run it with
    /// `client.strategy: cookie-session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_session: Option<super::cookie_session::CookieSessionSpec>,
}

fn preset_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": presets::NAMES })
}

/// How to talk to one server. Built from a preset ([`super::preset`]), a file
/// ([`super::load_profile`]) or a URL ([`super::Discovery`]).
#[derive(Clone)]
pub struct Profile {
    pub(crate) name: String,
    pub(crate) base_url: url::Url,
    pub(crate) login: RequestSpec,
    /// `None`: a cookie-session server (no refresh endpoint).
    pub(crate) refresh: Option<RequestSpec>,
    pub(crate) resource: RequestSpec,
    pub(crate) scoped: Option<(ScopedResource, RequestSpec)>,
    pub(crate) logout: Option<RequestSpec>,
    pub(crate) revoke: Option<RequestSpec>,
    pub(crate) introspect: Option<RequestSpec>,
    /// Where `introspect` came from when the profile did not declare it (`the `oauth2` preset`,
    /// OpenID discovery); `None`: declared in the profile file (or none at all).
    pub(crate) introspect_origin: Option<String>,
    pub(crate) admin_logout: Option<RequestSpec>,
    pub(crate) admin_outage: Option<RequestSpec>,
    pub(crate) admin_key: Option<Template>,
    pub(crate) admin_key_value: Option<String>,
    /// Extractors of login responses.
    pub(crate) extract: Extractors,
    pub(crate) renewal_header: Option<http::HeaderName>,
    pub(crate) refresh_rejected: Rejection,
    pub(crate) reuse_rejected: Matcher,
    pub(crate) session: SessionLimits,
    /// The resource server's leeway after an access token's `exp` (`expiry_leeway`).
    pub(crate) expiry_leeway: Duration,
    pub(crate) ws: Option<WsProfile>,
    pub(crate) sse: Option<SseProfile>,
    pub(crate) push: Option<PushProfile>,
    pub(crate) logout_everywhere: Option<RequestSpec>,
    /// The `tls:` section, files read and checked; `None`: the platform's roots.
    pub(crate) tls: Option<TlsClient>,
    /// Extractors of refresh responses (`extract.refresh`; otherwise the login ones).
    pub(crate) refresh_extract: Extractors,
    /// `refresh_rejected` as a matcher.
    pub(crate) refresh_rejected_matcher: Matcher,
    /// Resource answers that reject the access token (default 401).
    pub(crate) access_rejected: Matcher,
    /// How the first token pair is obtained.
    pub(crate) grant: GrantSpec,
    /// Token types the revocation and introspection endpoints accept.
    pub(crate) token_types: TokenTypes,
    /// The user-id lookup before `admin_logout`.
    pub(crate) admin_user_id: Option<UserIdLookup>,
    /// The force-logout command.
    pub(crate) force_logout: Option<ForceLogoutHook>,
    /// The cookie-session settings (`cookie_session:`), when the server is one.
    pub(crate) cookie_session: Option<super::cookie_session::CookieSession>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("base_url", &self.base_url.as_str())
            .field("login", &self.login.path)
            .field("refresh", &self.refresh.as_ref().map(|r| &r.path))
            .field("resource", &self.resource.path)
            .field("refresh_rejected", &self.refresh_rejected)
            .field("ws", &self.ws.as_ref().map(|w| w.url.as_str()))
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// The preset or file name this profile came from (`mock`, `oauth2`, `my-idp`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// Uses `key` as the admin key (the builtin mock tells it in-process).
    pub fn with_admin_key(mut self, key: &str) -> Profile {
        self.admin_key_value = Some(key.to_string());
        self
    }

    /// The admin key, if one is known now.
    fn admin_key(&self) -> Option<String> {
        if let Some(k) = &self.admin_key_value {
            return Some(k.clone());
        }
        self.admin_key
            .as_ref()
            .map(|t| t.render(&Vars::default()))
            .filter(|k| !k.is_empty())
    }

    /// The name of the refresh-token cookie when the RT lives in an HttpOnly cookie (as the
    /// refresh response carries it, else the login response).
    pub fn refresh_cookie(&self) -> Option<&str> {
        match (
            &self.refresh_extract.refresh_token,
            &self.extract.refresh_token,
        ) {
            (Extractor::Cookie(name), _) | (_, Extractor::Cookie(name)) => Some(name),
            _ => None,
        }
    }

    /// Adds the refresh-token cookie when the RT lives in a cookie and is known.
    fn with_rt_cookie(
        &self,
        req: Result<Rendered, RequestError>,
        rt: Option<&str>,
    ) -> Result<Rendered, RequestError> {
        let mut req = req?;
        if let (Some(name), Some(rt)) = (self.refresh_cookie(), rt) {
            let v = http::HeaderValue::from_str(&format!("{name}={rt}")).map_err(|_| {
                RequestError::Header {
                    name: "cookie".into(),
                }
            })?;
            req.headers_mut().append(http::header::COOKIE, v);
        }
        Ok(req)
    }

    /// The login request (password or client-credentials grant).
    pub fn login_request(&self, user: &str, password: &str) -> Result<Rendered, RequestError> {
        let vars = Vars {
            user: Some(user),
            password: Some(password),
            ..Vars::default()
        };
        self.login.render(&self.base_url, http::Method::POST, &vars)
    }

    /// The token exchange of the authorization-code grant: the login request with `code` and
    /// `code_verifier` (and `user`, `password`).
    pub fn code_exchange_request(
        &self,
        user: &str,
        password: &str,
        code: &str,
        code_verifier: &str,
    ) -> Result<Rendered, RequestError> {
        let vars = Vars {
            user: Some(user),
            password: Some(password),
            code: Some(code),
            code_verifier: Some(code_verifier),
            ..Vars::default()
        };
        self.login.render(&self.base_url, http::Method::POST, &vars)
    }

    /// How the first token pair is obtained.
    pub fn grant(&self) -> &GrantSpec {
        &self.grant
    }

    /// The browser part of the authorization-code grant, if that is the grant.
    pub fn authorization_code(&self) -> Option<&AuthCodeSpec> {
        match &self.grant {
            GrantSpec::AuthorizationCode(a) => Some(a),
            _ => None,
        }
    }

    /// The refresh request. `None`: the refresh token lives in the client's cookie jar. With a
    /// cookie-borne refresh token and `Some(rt)`, the cookie is sent explicitly (works with shared
    /// connection pools too).
    pub fn refresh_request(&self, refresh_token: Option<&str>) -> Result<Rendered, RequestError> {
        let Some(spec) = &self.refresh else {
            return Err(RequestError::NoRefresh);
        };
        let vars = Vars {
            refresh_token,
            ..Vars::default()
        };
        let req = spec.render(&self.base_url, http::Method::POST, &vars);
        self.with_rt_cookie(req, refresh_token)
    }

    /// The logout request, if the profile has one.
    pub fn logout_request(&self, tokens: &Tokens) -> Option<Result<Rendered, RequestError>> {
        let spec = self.logout.as_ref()?;
        let vars = Vars {
            access_token: Some(&tokens.access_token),
            refresh_token: tokens.refresh_token.as_deref(),
            session_id: tokens.session_id.as_deref(),
            token: tokens.refresh_token.as_deref(),
            token_type_hint: Some(TokenKind::Refresh.hint()),
            ..Vars::default()
        };
        let req = spec.render(&self.base_url, http::Method::POST, &vars);
        Some(self.with_rt_cookie(req, tokens.refresh_token.as_deref()))
    }

    /// The protected API call.
    pub fn resource_request(&self, access_token: &str) -> Result<Rendered, RequestError> {
        let vars = Vars {
            access_token: Some(access_token),
            ..Vars::default()
        };
        self.resource
            .render(&self.base_url, http::Method::GET, &vars)
    }

    /// The scope-restricted resource, if the profile declares one.
    pub fn scoped_resource(&self) -> Option<&ScopedResource> {
        self.scoped.as_ref().map(|(s, _)| s)
    }

    /// The API call to the scope-restricted resource, if the profile declares one.
    pub fn scoped_request(&self, access_token: &str) -> Option<Result<Rendered, RequestError>> {
        let vars = Vars {
            access_token: Some(access_token),
            ..Vars::default()
        };
        let (_, spec) = self.scoped.as_ref()?;
        Some(spec.render(&self.base_url, http::Method::GET, &vars))
    }

    /// A revocation request (RFC 7009) for `token`, if configured.
    pub fn revoke_request(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Option<Result<Rendered, RequestError>> {
        self.token_request(self.revoke.as_ref()?, token, kind, KeyMissing::Render)
    }

    /// An introspection request (RFC 7662) for `token`, if configured (and the admin key known
    /// when the template needs it).
    pub fn introspect_request(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Option<Result<Rendered, RequestError>> {
        self.token_request(self.introspect.as_ref()?, token, kind, KeyMissing::Skip)
    }

    /// The admin "log `user` out everywhere" request (force_logout), if configured and the
    /// admin key is known when the template needs it.
    pub fn admin_logout_request(&self, user: &str) -> Option<Result<Rendered, RequestError>> {
        self.admin_logout_request_for(user, None)
    }

    /// Like [`Self::admin_logout_request`], with the id the lookup found (`{{user_id}}`).
    pub fn admin_logout_request_for(
        &self,
        user: &str,
        user_id: Option<&str>,
    ) -> Option<Result<Rendered, RequestError>> {
        let vars = Vars {
            user: Some(user),
            user_id,
            ..Vars::default()
        };
        self.render_with_key(self.admin_logout.as_ref()?, vars, KeyMissing::Skip)
    }

    /// The user-id lookup request for `user` (a GET unless the profile says otherwise), if the
    /// profile has one.
    pub fn admin_user_id_request(&self, user: &str) -> Option<Result<Rendered, RequestError>> {
        let lookup = self.admin_user_id.as_ref()?;
        let key = self.admin_key();
        let vars = Vars {
            user: Some(user),
            admin_key: key.as_deref(),
            ..Vars::default()
        };
        Some(
            lookup
                .request
                .render(&self.base_url, http::Method::GET, &vars),
        )
    }

    /// The user's id in a lookup answer (a 2xx whose `id` extractor finds something).
    pub fn admin_user_id_from(
        &self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Option<String> {
        let lookup = self.admin_user_id.as_ref()?;
        if !(200..300).contains(&status) {
            return None;
        }
        let json = serde_json::from_slice::<serde_json::Value>(body).ok();
        lookup.id.extract(headers, json.as_ref())
    }

    /// The extractor of the user-id lookup, for messages.
    pub fn admin_user_id_extractor(&self) -> Option<&Extractor> {
        self.admin_user_id.as_ref().map(|l| &l.id)
    }

    /// The `force_logout` command, if the profile logs users out that way.
    pub fn force_logout_hook(&self) -> Option<&ForceLogoutHook> {
        self.force_logout.as_ref()
    }

    /// A request about `token` (`token` and `token_type_hint` set), see [`Self::render_with_key`].
    fn token_request(
        &self,
        spec: &RequestSpec,
        token: &str,
        kind: TokenKind,
        missing: KeyMissing,
    ) -> Option<Result<Rendered, RequestError>> {
        let vars = Vars {
            token: Some(token),
            token_type_hint: Some(kind.hint()),
            ..Vars::default()
        };
        self.render_with_key(spec, vars, missing)
    }

    /// `spec` rendered as a POST with `vars` and the admin key; `None` when the template needs
    /// the key, it is unknown and `missing` says to skip.
    fn render_with_key(
        &self,
        spec: &RequestSpec,
        vars: Vars<'_>,
        missing: KeyMissing,
    ) -> Option<Result<Rendered, RequestError>> {
        let key = self.admin_key();
        if key.is_none() && missing == KeyMissing::Skip && needs_admin_key(spec) {
            return None;
        }
        let vars = Vars {
            admin_key: key.as_deref(),
            ..vars
        };
        Some(spec.render(&self.base_url, http::Method::POST, &vars))
    }

    /// `spec` rendered as a POST with `vars` and the admin key; `None` when its template needs the
    /// key and it is unknown.
    pub(super) fn render_keyed(
        &self,
        spec: &RequestSpec,
        vars: Vars<'_>,
    ) -> Option<Result<Rendered, RequestError>> {
        self.render_with_key(spec, vars, KeyMissing::Skip)
    }

    /// Whether `spec` can be sent: the admin key is known or its template does not need it.
    pub(super) fn key_usable(&self, spec: &RequestSpec) -> bool {
        self.admin_key().is_some() || !needs_admin_key(spec)
    }

    /// The admin "stop serving for `duration`" request (the `outage` phase), if configured and
    /// the admin key is known when the template needs it.
    pub fn admin_outage_request(
        &self,
        duration: std::time::Duration,
    ) -> Option<Result<Rendered, RequestError>> {
        let ms = duration.as_millis().to_string();
        let vars = Vars {
            duration_ms: Some(&ms),
            ..Vars::default()
        };
        self.render_with_key(self.admin_outage.as_ref()?, vars, KeyMissing::Skip)
    }

    /// Whether an outage can be caused (admin outage request configured and usable).
    pub fn has_admin_outage(&self) -> bool {
        self.admin_outage
            .as_ref()
            .is_some_and(|spec| self.admin_key().is_some() || !needs_admin_key(spec))
    }

    /// Whether a force_logout can be made (a `force_logout` command, or an admin endpoint
    /// configured and usable).
    pub fn has_admin_logout(&self) -> bool {
        self.force_logout.is_some()
            || self
                .admin_logout
                .as_ref()
                .is_some_and(|spec| self.admin_key().is_some() || !needs_admin_key(spec))
    }

    /// Reads tokens from a login response (see [`Tokens`]).
    pub fn parse_tokens(
        &self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Tokens, ExtractError> {
        self.extract.parse(status, headers, body)
    }

    /// Reads tokens from a refresh response with the refresh extractors (`extract.refresh`). A
    /// missing refresh token is `None`: the session keeps its previous one.
    pub fn parse_refresh_tokens(
        &self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Tokens, ExtractError> {
        self.refresh_extract.parse(status, headers, body)
    }

    /// The extractors of login responses.
    pub fn extractors(&self) -> &Extractors {
        &self.extract
    }

    /// The extractors of refresh responses.
    pub fn refresh_extractors(&self) -> &Extractors {
        &self.refresh_extract
    }

    /// Whether a refresh response means "refresh token rejected" (then the client logs in again).
    pub fn refresh_rejected(&self, status: u16, body: &[u8]) -> bool {
        self.refresh_rejected_matcher.matches(status, body)
    }

    /// The named policy behind [`Profile::refresh_rejected`] (`None`: matcher rules).
    pub fn reject_policy(&self) -> Option<RejectPolicy> {
        self.refresh_rejected.policy()
    }

    /// Whether a resource answer means "this access token is rejected" (`access_rejected`;
    /// default: 401): the client renews and retries.
    pub fn access_rejected(&self, status: u16, body: &[u8]) -> bool {
        self.access_rejected.matches(status, body)
    }

    /// Whether a rejected refresh's answer says the refresh token was already used
    /// (`reuse_rejected`).
    pub fn reuse_rejected(&self, status: u16, body: &[u8]) -> bool {
        self.reuse_rejected.matches(status, body)
    }

    /// The session limits the profile declares.
    pub fn session_limits(&self) -> SessionLimits {
        self.session
    }

    /// How long after an access token's `exp` the resource server still accepts it
    /// (`expiry_leeway`; zero unless declared).
    pub fn expiry_leeway(&self) -> Duration {
        self.expiry_leeway
    }

    /// The response header carrying a renewed access token (sliding strategy).
    pub fn renewal_header(&self) -> Option<&http::HeaderName> {
        self.renewal_header.as_ref()
    }

    /// The WebSocket settings, if the target has a socket.
    pub fn ws(&self) -> Option<&WsProfile> {
        self.ws.as_ref()
    }

    /// The Server-Sent Events stream, if the profile has one.
    pub fn sse(&self) -> Option<&SseProfile> {
        self.sse.as_ref()
    }

    /// The push registration, if the profile has one.
    pub fn push(&self) -> Option<&PushProfile> {
        self.push.as_ref()
    }

    /// The push registration request of `push_token` for the session holding `access_token`.
    pub fn push_register_request(
        &self,
        access_token: &str,
        push_token: &str,
    ) -> Option<Result<Rendered, RequestError>> {
        let spec = &self.push.as_ref()?.register;
        let vars = Vars {
            access_token: Some(access_token),
            push_token: Some(push_token),
            ..Vars::default()
        };
        Some(spec.render(&self.base_url, http::Method::POST, &vars))
    }

    /// The TLS settings of the profile's `tls:` section (`None`: the platform's roots).
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref()
    }

    /// Sends the WebSocket token as `token` says (the builtin mock in `--ws-auth first-message`
    /// mode wants it in the first message); no-op without a `ws:` section.
    pub fn with_ws_token(mut self, token: super::ws::TokenTransport) -> Profile {
        if let Some(ws) = &mut self.ws {
            ws.token = token;
        }
        self
    }

    /// Uses `tls` for this target's `https`/`wss` connections (the builtin mock serving TLS
    /// tells its CA in-process).
    pub fn with_tls(mut self, tls: TlsClient) -> Profile {
        self.tls = Some(tls);
        self
    }

    /// The cookie-session settings, when the target is a cookie-session server.
    pub fn cookie_session(&self) -> Option<&super::cookie_session::CookieSession> {
        self.cookie_session.as_ref()
    }

    /// Whether the profile has a refresh request (a cookie-session server has none).
    pub fn has_refresh(&self) -> bool {
        self.refresh.is_some()
    }

    /// Whether a logout request is configured.
    pub fn has_logout(&self) -> bool {
        self.logout.is_some()
    }

    /// Whether a revocation request is configured.
    pub fn has_revoke(&self) -> bool {
        self.revoke.is_some()
    }

    /// Whether the revocation endpoint accepts tokens of `kind` (`token_types.revoke`).
    pub fn revoke_accepts(&self, kind: TokenKind) -> bool {
        TokenTypes::accepts(&self.token_types.revoke, kind)
    }

    /// Whether the introspection endpoint accepts tokens of `kind` (`token_types.introspect`).
    pub fn introspect_accepts(&self, kind: TokenKind) -> bool {
        TokenTypes::accepts(&self.token_types.introspect, kind)
    }

    /// Whether an introspection request is configured.
    pub fn has_introspect(&self) -> bool {
        self.introspect.is_some()
    }

    /// Where the introspection request came from when the profile file did not declare it (e.g.
    /// "the `oauth2` preset"); `None` when the profile declares it (`introspect:`).
    pub fn introspect_origin(&self) -> Option<&str> {
        self.introspect_origin.as_deref()
    }
}

/// A problem in a profile file: key path, message, fix.
struct Problem(String, String, String);

fn problem(key: impl Into<String>, msg: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem(key.into(), msg.into(), fix.into())
}

/// Whether loading a profile requires every `{{env.NAME}}` its requests use to be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvCheck {
    /// Fail on an unset variable (what a run needs: a missing secret is a configuration error).
    #[default]
    Require,
    /// Do not look at the environment (validating a file on a machine without the secrets).
    Skip,
}

/// How a profile file is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Whether unset environment variables are an error.
    pub env: EnvCheck,
    /// Replaces the file's `base_url` (`--base-url`).
    pub base_url: Option<String>,
}

/// The base URL `validate` uses when `base_url` needs an environment variable that is unset.
const UNSET_BASE_URL: &str = "http://environment-variable-not-set.invalid/";

/// Loads a target profile file; every environment variable its requests use must be set.
pub fn load_profile(path: &Path) -> Result<Profile, ConfigError> {
    load_profile_with(path, &LoadOptions::default())
}

/// Loads a target profile file with `opts`.
pub fn load_profile_with(path: &Path, opts: &LoadOptions) -> Result<Profile, ConfigError> {
    let src = yaml::read_file(path)?;
    profile_from_str_opts(&src, Some(path), opts)
}

/// Every template of the file that may read the environment: the section a message names
/// (`base_url`, `login`, `grant.authorization_code.authorize`, `admin_key`...), the template's own
/// key (`login.basic_auth.user`), and the template.
fn env_templates(spec: &ProfileFile) -> Vec<(&'static str, String, &Template)> {
    let mut requests: Vec<(&'static str, &RequestSpec)> = spec
        .requests()
        .into_iter()
        .filter_map(|(key, req)| req.as_ref().map(|r| (key, r)))
        .collect();
    if let Some(GrantSpec::AuthorizationCode(a)) = &spec.grant {
        requests.push(("grant.authorization_code.authorize", &a.authorize));
    }
    if let Some(l) = &spec.admin_user_id {
        requests.push(("admin_user_id.request", &l.request));
    }
    let mut out: Vec<(&'static str, String, &Template)> =
        vec![("base_url", "base_url".into(), &spec.base_url)];
    for (owner, req) in requests {
        out.extend(
            req.keyed_templates()
                .into_iter()
                .map(|(sub, t)| (owner, format!("{owner}.{sub}"), t)),
        );
    }
    if let Some(page) = spec
        .cookie_session
        .as_ref()
        .and_then(|c| c.csrf.as_ref())
        .and_then(|c| c.page.as_ref())
    {
        out.push((
            "cookie_session.csrf.page",
            "cookie_session.csrf.page".into(),
            page,
        ));
    }
    if let Some(s) = &spec.scoped_resource {
        out.push((
            "scoped_resource.path",
            "scoped_resource.path".into(),
            &s.path,
        ));
    }
    if let Some(k) = &spec.admin_key {
        out.push(("admin_key", "admin_key".into(), k));
    }
    out
}

/// One use of an environment variable that is unset now: the section a message names, the
/// template's own key, the variable and the template.
type UnsetUse<'a> = (&'static str, String, String, &'a Template);

/// Every use of an unset environment variable in the file, in file order.
fn unset_uses<'a>(spec: &'a ProfileFile, src: &str) -> Vec<UnsetUse<'a>> {
    let mut uses: Vec<UnsetUse<'a>> = env_templates(spec)
        .into_iter()
        .flat_map(|(owner, key, t)| {
            t.unset_env()
                .into_iter()
                .map(move |var| (owner, key.clone(), var, t))
        })
        .collect();
    if !uses.is_empty() {
        let index = crate::config::locate::Index::build(src);
        uses.sort_by_key(|(_, key, _, _)| {
            index
                .position(key)
                .map_or((u64::MAX, u64::MAX), |(line, col, _)| (line, col))
        });
    }
    uses
}

/// Every environment variable the profile in `src` needs that is unset now, with the section
/// that uses it (`base_url`, `login`, `grant.authorization_code.authorize`, `admin_key`...), in
/// file order: the variables [`EnvCheck::Require`] refuses, and `admin_key`'s. Empty when the
/// file does not parse (loading it says why).
pub fn unset_environment(src: &str, file: Option<&Path>) -> Vec<(String, String)> {
    let Ok(spec) = yaml::parse::<ProfileFile>(src, file, TARGET_DOC) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (owner, _, var, _) in unset_uses(&spec, src) {
        let pair = (owner.to_string(), var);
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// What a run cannot start without: the file's first use of an environment variable that is
/// unset now, pointed at by its own key, naming every other unset variable too. `admin_key` is
/// left out (without it only the admin requests are unavailable), and so is `base_url` when
/// `--base-url` replaces it.
fn unset_env_problem(spec: &ProfileFile, src: &str, opts: &LoadOptions) -> Option<Problem> {
    let uses: Vec<(String, String, &Template)> = unset_uses(spec, src)
        .into_iter()
        .filter(|(owner, ..)| {
            *owner != "admin_key" && !(*owner == "base_url" && opts.base_url.is_some())
        })
        .map(|(_, key, var, t)| (key, var, t))
        .collect();
    if uses.is_empty() {
        return None;
    }
    let (key, var, t) = &uses[0];
    let mut others: Vec<(&str, &str)> = Vec::new();
    for (k, v, _) in &uses[1..] {
        if v != var && !others.iter().any(|(o, _)| o == v) {
            others.push((v, k));
        }
    }
    let also = match others.as_slice() {
        [] => String::new(),
        list => format!(
            "; also unset: {}",
            list.iter()
                .map(|(v, k)| format!("{v} (`{k}`)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // `base_url`'s variable is an address; every other one a value.
    let first = if key == "base_url" {
        "http://..."
    } else {
        "..."
    };
    let exports = std::iter::once(format!("{var}={first}"))
        .chain(others.iter().map(|(v, _)| format!("{v}=...")))
        .collect::<Vec<_>>()
        .join(" ");
    let fix = if key == "base_url" {
        format!(
            "export {exports}, pass --base-url URL, or give a default: {{{{env.{var} | default(\"http://127.0.0.1:8080\")}}}}"
        )
    } else {
        format!(
            "export {exports} before running, give a default with {{{{env.{var} | default(\"...\")}}}}, or remove it from `{key}`"
        )
    };
    Some(problem(
        key.clone(),
        format!("environment variable {var} is not set (used by `{key}`: {t}){also}"),
        fix,
    ))
}

/// Loads a target profile from text (`file` only for messages and the default name).
pub fn profile_from_str(src: &str, file: Option<&Path>) -> Result<Profile, ConfigError> {
    profile_from_str_with(src, file, EnvCheck::Require)
}

/// Like [`profile_from_str`], choosing whether unset environment variables are an error.
pub fn profile_from_str_with(
    src: &str,
    file: Option<&Path>,
    env: EnvCheck,
) -> Result<Profile, ConfigError> {
    let opts = LoadOptions {
        env,
        ..LoadOptions::default()
    };
    profile_from_str_opts(src, file, &opts)
}

/// Like [`profile_from_str`], with [`LoadOptions`].
pub fn profile_from_str_opts(
    src: &str,
    file: Option<&Path>,
    opts: &LoadOptions,
) -> Result<Profile, ConfigError> {
    profile_from_str_with_sets(src, file, opts, &[])
}

/// Like [`profile_from_str_opts`], with `--set key=value` overrides of the file's keys applied
/// first, in order (`authbench validate PROFILE.yaml --set base_url=...`): the overridden values
/// get the same checks as the file's, and an error they cause names the override.
pub fn profile_from_str_with_sets(
    src: &str,
    file: Option<&Path>,
    opts: &LoadOptions,
    sets: &[String],
) -> Result<Profile, ConfigError> {
    let (spec, ovs): (ProfileFile, _) =
        overrides::parse_with_sets(src, file, TARGET_DOC, sets, |_, e| e)?;
    let name = file
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target".into());
    let mut profile = match opts.env {
        EnvCheck::Require => {
            unset_env_problem(&spec, src, opts).map_or_else(|| resolve(&spec, name, opts), Err)
        }
        EnvCheck::Skip => resolve(&spec, name, opts),
    };
    if let (Ok(p), Some(tls)) = (&mut profile, &spec.tls) {
        match tls.build(file) {
            Ok(client) => p.tls = Some(client),
            Err(e) => profile = Err(problem(format!("tls.{}", e.key), e.message, e.fix)),
        }
    }
    profile.map_err(|Problem(key, msg, fix)| {
        let e = ConfigError::new(ErrorKind::Invalid, msg).with_fix(fix);
        match ovs.iter().rev().find(|o| o.touches(&key)) {
            Some(ov) => e.with_key(key).with_set(ov.raw.clone()),
            None => e.at_key(src, file, key),
        }
    })
}

impl ProfileFile {
    /// Every request key with its request, in file order.
    fn requests(&self) -> [(&'static str, &Option<RequestSpec>); 9] {
        [
            ("login", &self.login),
            ("refresh", &self.refresh),
            ("logout", &self.logout),
            ("resource", &self.resource),
            ("revoke", &self.revoke),
            ("introspect", &self.introspect),
            ("admin_logout", &self.admin_logout),
            ("admin_outage", &self.admin_outage),
            ("logout_everywhere", &self.logout_everywhere),
        ]
    }
}

/// The base URL: `--base-url`, or the file's `base_url` rendered (its environment variables read
/// now).
fn base_url(spec: &ProfileFile, opts: &LoadOptions) -> Result<url::Url, Problem> {
    let (text, origin) = match &opts.base_url {
        Some(u) => (u.clone(), "--base-url"),
        // An unset variable was refused before (`unset_env_problem`) unless the environment
        // is not looked at (`validate`), which gets a stand-in address.
        None if opts.env == EnvCheck::Skip && !spec.base_url.unset_env().is_empty() => {
            (UNSET_BASE_URL.to_string(), "base_url")
        }
        None => (
            spec.base_url.render(&super::template::Vars::default()),
            "base_url",
        ),
    };
    url::Url::parse(text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            let shown = if spec.base_url.has_vars() && origin == "base_url" {
                format!("{text:?} (from {})", spec.base_url)
            } else {
                format!("{text:?}")
            };
            problem(
                "base_url",
                format!("{origin} {shown} is not an http(s) URL"),
                "write the server's address, e.g. base_url: http://127.0.0.1:8080",
            )
        })
}

fn resolve(spec: &ProfileFile, name: String, opts: &LoadOptions) -> Result<Profile, Problem> {
    let base_url = base_url(spec, opts)?;
    let base = match &spec.preset {
        Some(p) => Some(presets::build(p, base_url.clone()).ok_or_else(|| {
            let hint = did_you_mean(p, presets::NAMES.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            problem(
                "preset",
                format!("unknown preset {p:?}"),
                format!("{hint}presets: {}", presets::NAMES.join(", ")),
            )
        })?),
        None => None,
    };
    for (key, req) in spec.requests() {
        let Some(req) = req else { continue };
        req.check().map_err(|(sub, msg)| {
            problem(
                format!("{key}.{sub}"),
                msg,
                "see the target profile reference in the README",
            )
        })?;
    }
    let required = |key: &str, own: &Option<RequestSpec>, from_base: Option<&RequestSpec>| {
        own.clone().or_else(|| from_base.cloned()).ok_or_else(|| {
            problem(
                key,
                format!("the profile has no `{key}` request"),
                format!("add `{key}: {{ path: ... }}` or start from a preset with `preset: mock` / `preset: oauth2`"),
            )
        })
    };
    let optional = |own: &Option<RequestSpec>, from_base: Option<&Option<RequestSpec>>| {
        own.clone().or_else(|| from_base.cloned().flatten())
    };
    let b = base.as_ref();
    let base_login = b.map(|b| b.extract.clone()).unwrap_or_default();
    let base_refresh = b.map(|b| b.refresh_extract.clone()).unwrap_or_default();
    let (extract, refresh_extract) = match &spec.extract {
        Some(x) => x.resolve(&base_login, &base_refresh)?,
        None => (base_login, base_refresh),
    };
    let renewal_header = match &spec.renewal_header {
        Some(h) if h.trim().is_empty() => None,
        Some(h) => Some(
            http::HeaderName::from_bytes(h.trim().as_bytes()).map_err(|_| {
                problem(
                    "renewal_header",
                    format!("{h:?} is not a valid header name"),
                    "write a header name such as New-Access-Token, or \"\" for none",
                )
            })?,
        ),
        None => match b {
            Some(b) => b.renewal_header.clone(),
            None => Some(http::HeaderName::from_static("new-access-token")),
        },
    };
    let ws = match &spec.ws {
        Some(w) => Some(
            w.resolve(b.and_then(|b| b.ws.as_ref()), &base_url)
                .map_err(|(k, m)| {
                    problem(
                        format!("ws.{k}"),
                        m,
                        "see the ws section of the target profile reference",
                    )
                })?,
        ),
        None => b.and_then(|b| b.ws.clone()),
    };
    let sse = match &spec.sse {
        Some(w) => Some(
            w.resolve(b.and_then(|b| b.sse.as_ref()), &base_url)
                .map_err(|(k, m)| {
                    problem(
                        format!("sse.{k}"),
                        m,
                        "see the sse section of the target profile reference",
                    )
                })?,
        ),
        None => b.and_then(|b| b.sse.clone()),
    };
    let push = match &spec.push {
        Some(p) => Some(
            p.resolve(b.and_then(|b| b.push.as_ref()))
                .map_err(|(k, m)| {
                    problem(
                        format!("push.{k}"),
                        m,
                        "see the push section of the target profile reference",
                    )
                })?,
        ),
        None => b.and_then(|b| b.push.clone()),
    };
    let matchers = [
        ("reuse_rejected", spec.reuse_rejected.as_ref()),
        ("access_rejected", spec.access_rejected.as_ref()),
        (
            "refresh_rejected",
            match &spec.refresh_rejected {
                Some(Rejection::Rules(m)) => Some(m),
                _ => None,
            },
        ),
    ];
    for (name, m) in matchers {
        let Some(m) = m else { continue };
        m.validate().map_err(|p| {
            let key = match p.key.as_str() {
                "" => name.to_string(),
                k => format!("{name}.{k}"),
            };
            problem(
                key,
                p.message,
                "write rules like { status: [400, 401], body: { error: invalid_grant, error_description: \"~reuse\" } } (see the target profile reference)",
            )
        })?;
    }
    let refresh_rejected = spec
        .refresh_rejected
        .clone()
        .or_else(|| b.map(|b| b.refresh_rejected.clone()))
        .unwrap_or(Rejection::Policy(RejectPolicy::default()));
    let session = spec
        .session
        .or_else(|| b.map(|b| b.session))
        .unwrap_or_default();
    for (key, limit) in [("session.max", session.max), ("session.idle", session.idle)] {
        if limit == Some(Duration::ZERO) {
            return Err(problem(
                key,
                format!("`{key}: 0` would end every session at once"),
                format!("give the server's limit, e.g. `{key}: 8h`, or leave the key out"),
            ));
        }
    }
    let expiry_leeway = spec
        .expiry_leeway
        .or_else(|| b.map(|b| b.expiry_leeway))
        .unwrap_or_default();
    let grant = spec
        .grant
        .clone()
        .or_else(|| b.map(|b| b.grant.clone()))
        .unwrap_or_default();
    if let GrantSpec::AuthorizationCode(a) = &grant {
        a.check()
            .map_err(|(k, m, f)| problem(format!("grant.authorization_code.{k}"), m, f))?;
    }
    let token_types = spec
        .token_types
        .clone()
        .or_else(|| b.map(|b| b.token_types.clone()))
        .unwrap_or_default();
    for (key, list) in [
        ("token_types.revoke", &token_types.revoke),
        ("token_types.introspect", &token_types.introspect),
    ] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            return Err(problem(
                key,
                "an empty list says the endpoint accepts no token at all".to_string(),
                "list what it accepts, e.g. [refresh_token], or remove the endpoint's request",
            ));
        }
    }
    if let Some(hook) = &spec.force_logout {
        if hook.command.first().is_none_or(|c| c.trim().is_empty()) {
            return Err(problem(
                "force_logout.command",
                "the command is empty".to_string(),
                "give the program and its arguments, e.g. command: [sh, -c, \"psql -c \\\"...\\\"\"] (the user is in $AUTHBENCH_USER)",
            ));
        }
        if hook.timeout == Some(Duration::ZERO) {
            return Err(problem(
                "force_logout.timeout",
                "a zero timeout would stop every run at once".to_string(),
                "give the time one run may take, e.g. timeout: 30s",
            ));
        }
    }
    if let Some(l) = &spec.admin_user_id {
        l.request.check().map_err(|(sub, msg)| {
            problem(
                format!("admin_user_id.request.{sub}"),
                msg,
                "see the target profile reference in the README",
            )
        })?;
    }
    let implied = match (&spec.login, b) {
        (None, Some(b)) => grant::default_login(&grant, &b.login),
        _ => None,
    };
    let login = match implied {
        Some(l) => l,
        None => required("login", &spec.login, b.map(|b| &b.login))?,
    };
    let cookie_session = match &spec.cookie_session {
        Some(c) => Some(
            c.resolve(&base_url)
                .map_err(|(k, m, f)| problem(format!("cookie_session.{k}"), m, f))?,
        ),
        None => None,
    };
    let refresh = match (&cookie_session, &spec.refresh) {
        (Some(_), Some(_)) => {
            return Err(problem(
                "refresh",
                "a cookie-session server has no refresh endpoint: its session is renewed by `Set-Cookie` in ordinary responses",
                "remove `refresh:` (or `cookie_session:` if the server hands out refresh tokens)",
            ));
        }
        (Some(_), None) => None,
        (None, own) => Some(required("refresh", own, b.and_then(|b| b.refresh.as_ref())).map_err(
            |Problem(k, m, f)| {
                Problem(
                    k,
                    m,
                    format!("{f}; a server whose credential is a session cookie has no refresh request: describe it with `cookie_session: {{ cookie: sessionid }}`"),
                )
            },
        )?),
    };
    let resource = required("resource", &spec.resource, b.map(|b| &b.resource))?;
    let scoped = match &spec.scoped_resource {
        Some(sr) if sr.scope.trim().is_empty() => {
            return Err(problem(
                "scoped_resource.scope",
                "the scope is empty".to_string(),
                "name the scope the resource needs and the test users lack, e.g. `scope: admin`",
            ));
        }
        Some(sr) => Some((
            sr.clone(),
            RequestSpec {
                path: sr.path.clone(),
                ..resource.clone()
            },
        )),
        None => b.and_then(|b| b.scoped.clone()),
    };
    Ok(Profile {
        name,
        login,
        refresh,
        resource,
        scoped,
        logout: optional(&spec.logout, b.map(|b| &b.logout)),
        revoke: optional(&spec.revoke, b.map(|b| &b.revoke)),
        introspect: optional(&spec.introspect, b.map(|b| &b.introspect)),
        introspect_origin: match &spec.introspect {
            Some(_) => None,
            None => b.and_then(|b| b.introspect_origin.clone()),
        },
        admin_logout: optional(&spec.admin_logout, b.map(|b| &b.admin_logout)),
        admin_outage: optional(&spec.admin_outage, b.map(|b| &b.admin_outage)),
        admin_key: spec
            .admin_key
            .clone()
            .or_else(|| b.and_then(|b| b.admin_key.clone())),
        admin_key_value: None,
        extract,
        renewal_header,
        refresh_rejected_matcher: refresh_rejected.matcher(),
        refresh_rejected,
        access_rejected: spec
            .access_rejected
            .clone()
            .or_else(|| b.map(|b| b.access_rejected.clone()))
            .unwrap_or_else(|| Matcher::status(401)),
        reuse_rejected: spec
            .reuse_rejected
            .clone()
            .or_else(|| b.map(|b| b.reuse_rejected.clone()))
            .unwrap_or_else(Matcher::default_reuse),
        session,
        expiry_leeway,
        ws,
        sse,
        push,
        logout_everywhere: optional(&spec.logout_everywhere, b.map(|b| &b.logout_everywhere)),
        tls: None,
        base_url,
        refresh_extract,
        grant,
        token_types,
        admin_user_id: spec
            .admin_user_id
            .clone()
            .or_else(|| b.and_then(|b| b.admin_user_id.clone())),
        force_logout: spec
            .force_logout
            .clone()
            .or_else(|| b.and_then(|b| b.force_logout.clone())),
        cookie_session: cookie_session.or_else(|| b.and_then(|b| b.cookie_session.clone())),
    })
}

/// What a request whose template needs the admin key becomes when the key is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyMissing {
    /// No request (the caller reports the capability as absent).
    Skip,
    /// Rendered anyway, `{{admin_key}}` left empty (revocation: the server answers for itself).
    Render,
}

/// Whether any template of `spec` uses `{{admin_key}}`.
fn needs_admin_key(spec: &RequestSpec) -> bool {
    spec.templates().iter().any(|t| t.uses(&Var::AdminKey))
}
