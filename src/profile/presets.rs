//! Built-in target profiles:
//!
//! - `mock`: the reference mock's OAuth 2.0 API — password and refresh grants on `/oauth/token`
//!   (form), logout = revoke the refresh token at `/oauth/revoke`, `/oauth/introspect` with the
//!   admin key, `/admin/users/{user}/logout`, `GET /api/me`, the scoped resource `GET /api/admin`
//!   (scope `admin`), `/ws` with the token in the query and
//!   the `authbench` close codes, logout everywhere at `/api/auth/logout-all` with the access
//!   token. Rejected refresh: strict (400 invalid_grant).
//! - `mock-json`: the mock's seed-style JSON API `/api/auth/{login,refresh,logout}` (errors are 401,
//!   so lenient), with the same resource, admin and WebSocket endpoints.
//! - `oauth2`: a generic RFC 6749 server — form grants on `/oauth/token`, RFC 7009 revocation at
//!   `/oauth/revoke`, the OpenID `userinfo` endpoint as the resource, client credentials from
//!   `AUTHBENCH_CLIENT_ID` / `AUTHBENCH_CLIENT_SECRET` and a scope from `AUTHBENCH_SCOPE` when set
//!   (`client_secret_post`); lenient. [`super::Discovery`] fills the endpoints from OpenID discovery.
//! - `mock-session`: the mock's cookie sessions (`--session-mode cookie`, strategy `cookie-session`).

use super::close_codes::CloseProfile;
use super::extract::{Extractors, RejectPolicy};
use super::file::{Profile, SessionLimits};
use super::grant::GrantSpec;
use super::matcher::{Matcher, Rejection};
use super::request::RequestSpec;
use super::scoped::ScopedResource;
use super::template::Template;
use super::ws::{TokenTransport, WsEvents, WsProfile, ws_url_below};

/// Every preset name.
pub const NAMES: &[&str] = &["mock", "mock-json", "oauth2", "mock-session"];

/// Environment variable of the OAuth client id used by the `oauth2` preset.
pub const ENV_CLIENT_ID: &str = "AUTHBENCH_CLIENT_ID";
/// Environment variable of the OAuth client secret used by the `oauth2` preset.
pub const ENV_CLIENT_SECRET: &str = "AUTHBENCH_CLIENT_SECRET";
/// Environment variable of the scope requested at login by the `oauth2` preset.
pub const ENV_SCOPE: &str = "AUTHBENCH_SCOPE";
/// Environment variable of the admin key used by the `mock` presets when none is set in-process.
pub const ENV_ADMIN_KEY: &str = "AUTHBENCH_ADMIN_KEY";

fn bearer(spec: RequestSpec, var: &str) -> RequestSpec {
    spec.header("Authorization", &format!("Bearer {{{{{var}}}}}"))
}

fn env_template(name: &str) -> Option<Template> {
    Template::parse(&format!("{{{{env.{name}}}}}")).ok()
}

fn mock_common(name: &str, base_url: url::Url) -> Profile {
    let ws = ws_url_below(&base_url, "/ws").ok().map(|url| WsProfile {
        url,
        token: TokenTransport::Query {
            param: "access_token".into(),
        },
        events: WsEvents::default(),
        close_codes: CloseProfile::preset("authbench").unwrap_or_default(),
        ping: None,
    });
    let (sse, push) = super::channels::mock_channels(&base_url);
    Profile {
        name: name.to_string(),
        login: RequestSpec::new("POST", "/oauth/token")
            .form_field("grant_type", "password")
            .form_field("username", "{{user}}")
            .form_field("password", "{{password}}"),
        refresh: Some(
            RequestSpec::new("POST", "/oauth/token")
                .form_field("grant_type", "refresh_token")
                .form_field("refresh_token", "{{refresh_token}}"),
        ),
        resource: bearer(RequestSpec::new("GET", "/api/me"), "access_token"),
        scoped: Template::parse("/api/admin").ok().map(|path| {
            (
                ScopedResource {
                    path,
                    scope: "admin".into(),
                },
                bearer(RequestSpec::new("GET", "/api/admin"), "access_token"),
            )
        }),
        logout: Some(
            RequestSpec::new("POST", "/oauth/revoke")
                .form_field("token", "{{refresh_token}}")
                .form_field("token_type_hint", "refresh_token"),
        ),
        revoke: Some(
            RequestSpec::new("POST", "/oauth/revoke")
                .form_field("token", "{{token}}")
                .form_field("token_type_hint", "{{token_type_hint}}"),
        ),
        introspect: Some(bearer(
            RequestSpec::new("POST", "/oauth/introspect")
                .form_field("token", "{{token}}")
                .form_field("token_type_hint", "{{token_type_hint}}"),
            "admin_key",
        )),
        introspect_origin: Some(format!("the `{name}` preset")),
        admin_logout: Some(bearer(
            RequestSpec::new("POST", "/admin/users/{{user}}/logout"),
            "admin_key",
        )),
        admin_outage: Some(bearer(
            RequestSpec::new("POST", "/admin/outage").query_param("duration_ms", "{{duration_ms}}"),
            "admin_key",
        )),
        admin_key: env_template(ENV_ADMIN_KEY),
        admin_key_value: None,
        extract: Extractors::default(),
        renewal_header: Some(http::HeaderName::from_static("new-access-token")),
        refresh_rejected: Rejection::Policy(RejectPolicy::Strict),
        refresh_rejected_matcher: RejectPolicy::Strict.matcher(),
        access_rejected: Matcher::status(401),
        reuse_rejected: Matcher::default_reuse(),
        session: SessionLimits::default(),
        expiry_leeway: std::time::Duration::ZERO,
        ws,
        sse,
        push,
        logout_everywhere: Some(bearer(
            RequestSpec::new("POST", "/api/auth/logout-all"),
            "access_token",
        )),
        tls: None,
        base_url,
        refresh_extract: Extractors::default(),
        grant: GrantSpec::Password,
        token_types: Default::default(),
        admin_user_id: None,
        force_logout: None,
        cookie_session: None,
    }
}

fn mock_json(base_url: url::Url) -> Profile {
    let mut p = mock_common("mock-json", base_url);
    p.login = RequestSpec::new("POST", "/api/auth/login")
        .json_body(serde_json::json!({ "username": "{{user}}", "password": "{{password}}" }));
    p.refresh = Some(
        RequestSpec::new("POST", "/api/auth/refresh")
            .json_body(serde_json::json!({ "refresh_token": "{{refresh_token}}" })),
    );
    p.logout = Some(bearer(
        RequestSpec::new("POST", "/api/auth/logout")
            .json_body(serde_json::json!({ "refresh_token": "{{refresh_token}}" })),
        "access_token",
    ));
    p.refresh_rejected = Rejection::Policy(RejectPolicy::Lenient);
    p.refresh_rejected_matcher = RejectPolicy::Lenient.matcher();
    p
}

/// The mock's cookie sessions (`--session-mode cookie`): form login at `/session/login` setting
/// `sessionid` and `csrftoken`, the resource `POST /session/me` (an unsafe method, so every call
/// carries `Origin` and `X-CSRFToken`), logout at `/session/logout`, the admin logout of the user.
/// No refresh request, no token endpoints, no WebSocket: strategy `cookie-session`.
fn mock_session(base_url: url::Url) -> Profile {
    let mut p = mock_common("mock-session", base_url.clone());
    p.login = RequestSpec::new("POST", "/session/login")
        .form_field("username", "{{user}}")
        .form_field("password", "{{password}}");
    p.refresh = None;
    p.resource = RequestSpec::new("POST", "/session/me");
    p.scoped = None;
    p.logout = Some(RequestSpec::new("POST", "/session/logout"));
    p.revoke = None;
    p.introspect = None;
    p.introspect_origin = None;
    p.renewal_header = None;
    p.ws = None;
    p.sse = None;
    p.push = None;
    p.logout_everywhere = None;
    let spec = super::cookie_session::CookieSessionSpec {
        cookie: "sessionid".into(),
        csrf: Some(super::cookie_session::CsrfSpec {
            header: "X-CSRFToken".into(),
            cookie: Some("csrftoken".into()),
            page: None,
            selector: None,
        }),
        origin: None,
        login_redirect: None,
    };
    p.cookie_session = spec.resolve(&base_url).ok();
    p
}

/// Form fields every `oauth2` grant carries: client credentials when set in the environment.
fn client_auth(spec: RequestSpec) -> RequestSpec {
    spec.form_field("client_id", &format!("{{{{env.{ENV_CLIENT_ID}}}}}"))
        .form_field("client_secret", &format!("{{{{env.{ENV_CLIENT_SECRET}}}}}"))
}

/// The endpoints of a generic OAuth 2.0 server (paths below the base URL or absolute URLs).
pub struct OAuthEndpoints<'a> {
    /// Token endpoint.
    pub token: &'a str,
    /// RFC 7009 revocation endpoint, if any.
    pub revocation: Option<&'a str>,
    /// RFC 7662 introspection endpoint, if any.
    pub introspection: Option<&'a str>,
    /// The protected resource (OpenID userinfo).
    pub userinfo: &'a str,
}

impl Default for OAuthEndpoints<'_> {
    fn default() -> Self {
        OAuthEndpoints {
            token: "/oauth/token",
            revocation: Some("/oauth/revoke"),
            introspection: Some("/oauth/introspect"),
            userinfo: "/userinfo",
        }
    }
}

/// The `oauth2` preset with explicit endpoints.
pub fn oauth2(base_url: url::Url, ep: &OAuthEndpoints<'_>) -> Profile {
    let revoke = ep.revocation.map(|r| {
        client_auth(
            RequestSpec::new("POST", r)
                .form_field("token", "{{token}}")
                .form_field("token_type_hint", "{{token_type_hint}}"),
        )
    });
    Profile {
        name: "oauth2".into(),
        login: client_auth(
            RequestSpec::new("POST", ep.token)
                .form_field("grant_type", "password")
                .form_field("username", "{{user}}")
                .form_field("password", "{{password}}")
                .form_field("scope", &format!("{{{{env.{ENV_SCOPE}}}}}")),
        ),
        refresh: Some(client_auth(
            RequestSpec::new("POST", ep.token)
                .form_field("grant_type", "refresh_token")
                .form_field("refresh_token", "{{refresh_token}}"),
        )),
        resource: bearer(RequestSpec::new("GET", ep.userinfo), "access_token"),
        scoped: None,
        logout: ep.revocation.map(|r| {
            client_auth(
                RequestSpec::new("POST", r)
                    .form_field("token", "{{refresh_token}}")
                    .form_field("token_type_hint", "refresh_token"),
            )
        }),
        revoke,
        introspect: ep.introspection.map(|i| {
            client_auth(
                RequestSpec::new("POST", i)
                    .form_field("token", "{{token}}")
                    .form_field("token_type_hint", "{{token_type_hint}}"),
            )
        }),
        introspect_origin: ep.introspection.map(|_| "the `oauth2` preset".to_string()),
        admin_logout: None,
        admin_outage: None,
        admin_key: None,
        admin_key_value: None,
        extract: Extractors::default(),
        renewal_header: Some(http::HeaderName::from_static("new-access-token")),
        refresh_rejected: Rejection::Policy(RejectPolicy::Lenient),
        refresh_rejected_matcher: RejectPolicy::Lenient.matcher(),
        access_rejected: Matcher::status(401),
        reuse_rejected: Matcher::default_reuse(),
        session: SessionLimits::default(),
        expiry_leeway: std::time::Duration::ZERO,
        ws: None,
        sse: None,
        push: None,
        logout_everywhere: None,
        tls: None,
        base_url,
        refresh_extract: Extractors::default(),
        grant: GrantSpec::Password,
        token_types: Default::default(),
        admin_user_id: None,
        force_logout: None,
        cookie_session: None,
    }
}

/// A preset for `base_url`, or `None` for an unknown name.
pub fn build(name: &str, base_url: url::Url) -> Option<Profile> {
    match name {
        "mock" => Some(mock_common("mock", base_url)),
        "mock-json" => Some(mock_json(base_url)),
        "oauth2" => Some(oauth2(base_url, &OAuthEndpoints::default())),
        "mock-session" => Some(mock_session(base_url)),
        _ => None,
    }
}

/// A preset by name for a base URL string; `None` for an unknown name or an invalid URL.
pub fn preset(name: &str, base_url: &str) -> Option<Profile> {
    let url = url::Url::parse(base_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))?;
    build(name, url)
}

/// The profile of the builtin mock started in-process: the `mock` preset with the server's
/// admin key. `None` if `base_url` is not an http(s) URL.
pub fn builtin(base_url: &str, admin_key: &str) -> Option<Profile> {
    preset("mock", base_url).map(|p| p.with_admin_key(admin_key))
}

/// The profile of the builtin mock serving cookie sessions (`mock.session_mode: cookie`): the
/// `mock-session` preset with the server's admin key.
pub fn builtin_cookie(base_url: &str, admin_key: &str) -> Option<Profile> {
    preset("mock-session", base_url).map(|p| p.with_admin_key(admin_key))
}
