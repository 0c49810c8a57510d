//! `authbench init URL`: reads the server's metadata (OpenID discovery, then RFC 8414), optionally
//! probes a login and a refresh, writes a commented target profile and validates it. What the
//! metadata and answers mean lives in `authbench::profile::init`; this file does the I/O.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use authbench::client::authorize::{UNOBSERVED, obtain_code};
use authbench::client::transport::{BodyMode, HttpError, Reply};
use authbench::client::{Connections, Connector, Http};
use authbench::profile::file::{EnvCheck, profile_from_str_with};
use authbench::profile::init::{
    ClientAuth, Draft, Findings, InitGrant, find_token_fields, metadata_urls,
};
use authbench::profile::{Profile, Rendered, request};

use crate::cli::{InitArgs, InitGrantArg};
use crate::exit::{CliError, Code};

/// Deadline of each request `init` sends.
const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(args: InitArgs) -> Result<Code, CliError> {
    let base = url::Url::parse(args.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            CliError::usage(format!(
                "{:?} is not an http(s) URL\n  = fix: give the server's base URL, e.g. `authbench init https://idp.example.com/realms/demo`",
                args.url
            ))
        })?;
    if args.out.exists() && !args.force {
        return Err(CliError::usage(format!(
            "{} exists\n  = fix: choose another file with --out, or overwrite it with --force",
            args.out.display()
        )));
    }
    let client_auth = match &args.client_auth {
        Some(s) => Some(ClientAuth::parse(s).ok_or_else(|| {
            CliError::usage(format!(
                "--client-auth {s:?} is not one of basic, post, none"
            ))
        })?),
        None => None,
    };
    let http = Connector::new(Connections::PerClient, TIMEOUT, base.scheme() == "https", 1)
        .map_err(CliError::cannot_proceed)?
        .client();

    let mut draft = match fetch_metadata(&http, &base).await? {
        Some((source, doc)) => {
            Draft::from_metadata(base.clone(), &source, &doc).map_err(|reason| {
                CliError::cannot_proceed(format!(
                    "the metadata at {source} is unusable: {reason}\n  = fix: pass the endpoints yourself (--token-path, --resource, ...)"
                ))
            })?
        }
        None => {
            let token = match &args.token_path {
                Some(t) => t.clone(),
                None => ask_token_path(&base)?,
            };
            Draft::manual(base.clone(), token)
        }
    };
    // What the command line says wins over what the server announced.
    if let Some(t) = &args.token_path {
        draft.token = t.clone();
    }
    if let Some(r) = &args.revoke_path {
        draft.revocation = Some(r.clone());
    }
    if let Some(i) = &args.introspect_path {
        draft.introspection = Some(i.clone());
        draft.introspection_bearer = false;
    }
    if let Some(r) = &args.resource {
        draft.resource = Some(r.clone());
    }
    if let Some(c) = client_auth {
        draft.client_auth = c;
    }
    draft.client_id = args.client_id.clone();
    draft.grant = grant(&args, &draft)?;
    draft.scope = match (&args.scope, &draft.grant) {
        (Some(s), _) => Some(s.clone()),
        (None, InitGrant::AuthorizationCode { .. }) => draft.code_flow_scope(),
        (None, InitGrant::Password) => None,
    };

    if args.probe {
        let (Some(user), Some(password)) = (&args.user, &args.password) else {
            return Err(CliError::usage(
                "--probe needs a test account: --user NAME --password SECRET",
            ));
        };
        draft.findings = Some(probe(&http, &draft, user, password).await?);
    }

    let text = draft.render();
    // Validate what is written the way `authbench validate` does, without the secrets.
    profile_from_str_with(&text, Some(&args.out), EnvCheck::Skip).map_err(|e| {
        CliError::cannot_proceed(format!(
            "the drafted profile does not load (please report this): {e}"
        ))
    })?;
    std::fs::write(&args.out, &text).map_err(|e| {
        CliError::cannot_proceed(format!("cannot write {}: {e}", args.out.display()))
    })?;
    authbench_mock::stderrln!(
        "wrote {} ({}; endpoints: {})",
        args.out.display(),
        if draft.findings.is_some() {
            "response shape from a probe login"
        } else {
            "response shape assumed: RFC 6749 JSON fields"
        },
        draft.source
    );
    authbench_mock::stderrln!("validated: it loads as a target profile");
    let vars = draft.env_vars();
    authbench_mock::stderrln!("next:");
    if !vars.is_empty() {
        authbench_mock::stderrln!("  export {}", vars.join("=... ") + "=...");
    }
    authbench_mock::stderrln!("  authbench check {}", shell_path(&args.out));
    Ok(Code::Ok)
}

/// The grant the profile uses: `--grant`, else the authorization-code flow when the server
/// announces it and not the password grant, else the password grant. The code flow needs the
/// redirect URI (nothing announces it) and the authorization endpoint.
fn grant(args: &InitArgs, draft: &Draft) -> Result<InitGrant, CliError> {
    let code_flow = match args.grant {
        Some(InitGrantArg::AuthorizationCode) => true,
        Some(InitGrantArg::Password) => false,
        None => draft.announces_only_the_code_flow(),
    };
    if !code_flow {
        return Ok(InitGrant::Password);
    }
    let why = if args.grant.is_some() {
        "--grant authorization-code".to_string()
    } else {
        format!(
            "the server announces no password grant (grant_types_supported: {}), so the profile signs in with the authorization-code flow",
            draft.grants.join(", ")
        )
    };
    if draft.authorize.is_none() {
        return Err(CliError::usage(format!(
            "{why}, but no authorization_endpoint is announced\n  = fix: use --grant password, or write `grant.authorization_code.authorize` yourself (see the README's target profile reference)"
        )));
    }
    let Some(redirect_uri) = args.redirect_uri.clone() else {
        return Err(CliError::usage(format!(
            "{why}, which needs the redirect URI registered for the client\n  = fix: pass --redirect-uri URI (e.g. --redirect-uri http://127.0.0.1:3000/cb; nothing needs to listen there), or --grant password if the client may use the password grant"
        )));
    };
    Ok(InitGrant::AuthorizationCode {
        redirect_uri,
        form: args.form.clone(),
    })
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The first metadata document the server publishes: `(its URL, the JSON)`, or `None` when every
/// well-known path answers 404 (or another non-2xx). Unreachable servers and documents that are
/// not JSON are errors.
async fn fetch_metadata(
    http: &Http,
    base: &url::Url,
) -> Result<Option<(String, serde_json::Value)>, CliError> {
    let root = base.as_str().trim_end_matches('/');
    for url in metadata_urls(base) {
        let parsed = url::Url::parse(&url).map_err(|e| CliError::usage(format!("{url}: {e}")))?;
        let reply = send(http, || request::get(&parsed)).await.map_err(|e| {
            CliError::cannot_proceed(format!(
                "cannot reach {url}: {e}\n  hint: is the server running, and is {root} its base URL?"
            ))
        })?;
        if !(200..300).contains(&reply.status) {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| {
            CliError::cannot_proceed(format!(
                "{url} answered {} but its body is not JSON ({e}): {}",
                reply.status,
                authbench::redact::excerpt(&String::from_utf8_lossy(&reply.body), 120)
            ))
        })?;
        return Ok(Some((url, doc)));
    }
    Ok(None)
}

/// No metadata: the token endpoint from a person at a terminal, or an error saying which flag.
fn ask_token_path(base: &url::Url) -> Result<String, CliError> {
    let missing = || {
        CliError::usage(format!(
            "{base} publishes no discovery document (none at {})\n  = fix: give the token endpoint with --token-path, e.g. --token-path /oauth/token",
            metadata_urls(base).join(", ")
        ))
    };
    if !std::io::stdin().is_terminal() {
        return Err(missing());
    }
    authbench_mock::stderr!(
        "{base} publishes no discovery document. Token endpoint path (e.g. /oauth/token): "
    );
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let t = line.trim();
    if t.is_empty() {
        return Err(missing());
    }
    Ok(t.to_string())
}

async fn send<E: Into<HttpError>>(
    http: &Http,
    build: impl FnMut() -> Result<Rendered, E>,
) -> Result<Reply, HttpError> {
    http.exchange_with(build, BodyMode::Keep).await
}

/// Logs in as `user`, reads the answer's shape, refreshes once (does the refresh token rotate?),
/// presents an unknown refresh token (is the rejection RFC 6749's 400 invalid_grant?) and calls
/// the resource.
async fn probe(
    http: &Http,
    draft: &Draft,
    user: &str,
    password: &str,
) -> Result<Findings, CliError> {
    let profile = draft_profile(draft)?;
    let mut f = Findings {
        user: user.to_string(),
        ..Findings::default()
    };
    let login = match profile.authorization_code() {
        Some(spec) => {
            let code = obtain_code(http, &profile, spec, user, password, UNOBSERVED)
                .await
                .map_err(|e| {
                    CliError::cannot_proceed(format!(
                        "probe login as {user}: no authorization code: {e}"
                    ))
                })?;
            send(http, || {
                profile.code_exchange_request(user, password, &code.code, &code.verifier)
            })
            .await
        }
        None => send(http, || profile.login_request(user, password)).await,
    }
    .map_err(|e| CliError::cannot_proceed(format!("probe login: no answer: {e}")))?;
    if !(200..300).contains(&login.status) {
        return Err(CliError::cannot_proceed(format!(
            "probe login as {user} answered {}: {}\n  = fix: check the test account, the client credentials in the environment and --client-auth/--scope",
            login.status,
            authbench::redact::excerpt(&String::from_utf8_lossy(&login.body), 200)
        )));
    }
    let body: serde_json::Value = serde_json::from_slice(&login.body).unwrap_or_default();
    for (key, extractor) in find_token_fields(&body) {
        match key {
            "access_token" => f.access_token = extractor,
            "refresh_token" => f.refresh_token = Some(extractor),
            "expires_in" => f.expires_in = Some(extractor),
            "refresh_expires_in" => f.refresh_expires_in = Some(extractor),
            "session_id" => f.session_id = Some(extractor),
            _ => {}
        }
    }
    if f.refresh_token.is_none()
        && let Some(name) = refresh_cookie(&login.headers)
    {
        f.refresh_token = Some(format!("cookie:{name}"));
    }
    if f.access_token.is_empty() {
        let keys = body
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "(not a JSON object)".into());
        return Err(CliError::cannot_proceed(format!(
            "probe login answered {} without an access token field authbench knows (keys: {keys})\n  = fix: write the profile without --probe and set extract.access_token yourself",
            login.status
        )));
    }
    f.notes.push(format!(
        "login {} — fields: {}",
        login.status,
        [
            Some(&f.access_token),
            f.refresh_token.as_ref(),
            f.expires_in.as_ref(),
            f.refresh_expires_in.as_ref(),
            f.session_id.as_ref()
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
    ));
    // The probed shape, so that the profile reads the tokens exactly as a run will.
    let mut shaped = draft.clone();
    shaped.findings = Some(f.clone());
    let profile = draft_profile(&shaped)?;
    let tokens = profile
        .parse_tokens(login.status, &login.headers, &login.body)
        .map_err(|e| CliError::cannot_proceed(format!("probe login: {e}")))?;
    f.access_is_jwt = authbench::profile::jwt_exp(&tokens.access_token).is_some();
    f.notes.push(if f.access_is_jwt {
        "the access token is a JWT: its expiry comes from `exp`".into()
    } else {
        "the access token is opaque: its expiry comes from expires_in".into()
    });

    match &tokens.refresh_token {
        Some(rt) => {
            let refreshed = send(http, || profile.refresh_request(Some(rt))).await;
            match refreshed {
                Ok(r) if (200..300).contains(&r.status) => {
                    let next = profile.parse_tokens(r.status, &r.headers, &r.body).ok();
                    let rotated = next
                        .as_ref()
                        .and_then(|t| t.refresh_token.as_deref())
                        .is_some_and(|n| n != rt.as_str());
                    f.rotates = Some(rotated);
                    f.notes.push(if rotated {
                        format!(
                            "refresh {}: a new refresh token on every use (rotation)",
                            r.status
                        )
                    } else {
                        format!(
                            "refresh {}: the refresh token is kept (no rotation)",
                            r.status
                        )
                    });
                    if let Some(t) = next {
                        note_resource(http, &profile, &t.access_token, &mut f).await;
                    }
                }
                Ok(r) => f.notes.push(format!(
                    "refresh answered {} — check the refresh request",
                    r.status
                )),
                Err(e) => f.notes.push(format!("refresh: no answer ({e})")),
            }
        }
        None => f.notes.push(
            "no refresh token in the login answer: clients will log in again at expiry".into(),
        ),
    }
    let garbage = "authbench-init-probe-unknown-refresh-token";
    if let Ok(r) = send(http, || profile.refresh_request(Some(garbage))).await {
        let invalid_grant = serde_json::from_slice::<serde_json::Value>(&r.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .is_some_and(|e| e == "invalid_grant");
        f.rejection_strict = Some(r.status == 400 && invalid_grant);
        f.notes.push(format!(
            "an unknown refresh token got {}{}",
            r.status,
            if invalid_grant { " invalid_grant" } else { "" }
        ));
    }
    Ok(f)
}

/// Calls the resource with a fresh access token and notes the answer.
async fn note_resource(http: &Http, profile: &Profile, access: &str, f: &mut Findings) {
    match send(http, || profile.resource_request(access)).await {
        Ok(r) if (200..300).contains(&r.status) => f
            .notes
            .push(format!("resource {}: the access token works", r.status)),
        Ok(r) => f.notes.push(format!(
            "WARNING: the resource answered {} to a fresh access token — set `resource` to a protected API of yours (--resource PATH)",
            r.status
        )),
        Err(e) => f.notes.push(format!("resource: no answer ({e})")),
    }
}

/// A `Set-Cookie` whose name says it holds the refresh token (parsed by the `cookie` crate, as
/// the client's cookie jar does).
fn refresh_cookie(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| cookie::Cookie::parse(c).ok())
        .map(|c| c.name().to_string())
        .find(|name| name.to_ascii_lowercase().contains("refresh"))
}

/// The draft as a profile the probe can send (its client secrets from the environment; the admin
/// endpoints, which the probe does not use, left out).
fn draft_profile(draft: &Draft) -> Result<Profile, CliError> {
    let mut draft = draft.clone();
    draft.admin_logout = None;
    draft.admin_outage = None;
    if draft.introspection_bearer {
        draft.introspection = None;
    }
    profile_from_str_with(&draft.render(), None, EnvCheck::Require).map_err(|e| {
        CliError::usage(format!(
            "the probe needs the profile's secrets in the environment: {e}\n  = fix: export {} (or choose --client-auth none for a public client)",
            draft.env_vars().join(", ")
        ))
    })
}
