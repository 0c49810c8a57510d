//! Every target profile under `scenarios/targets/` loads (`authbench validate`-level), and the
//! real-server presets say what their documentation says: token endpoint, grant bodies, client
//! authentication, logout/revoke/introspect, extractors and the refresh-rejected policy. Also
//! checks that each preset documents its server-side setup at the top and keeps secrets out of
//! the file (only `{{env.NAME}}` templates).

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, SystemTime};

use authbench::profile::{Profile, RejectPolicy, TokenKind, Tokens, load_profile};
use base64::Engine as _;

const CLIENT_ID: &str = "presets-test-client";
const CLIENT_SECRET: &str = "presets-test-secret";

/// The presets owned here (the mock and generic ones are tested with their own module).
const REAL_SERVER_PRESETS: &[&str] = &[
    "keycloak.yaml",
    "hydra.yaml",
    "auth0.yaml",
    "okta.yaml",
    "cognito.yaml",
    "cognito-initiate-auth.yaml",
    "spring-authorization-server.yaml",
    "django-oauth-toolkit.yaml",
    "oidc-provider.yaml",
];

/// Sets the credentials the presets read from the environment, once, before any profile loads.
fn env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: every test of this binary (its own, for this reason) calls `env()` before anything else, and `Once` makes
        // every other caller wait until this block has finished, so no thread reads the
        // environment while it is being written.
        unsafe {
            std::env::set_var("AUTHBENCH_CLIENT_ID", CLIENT_ID);
            std::env::set_var("AUTHBENCH_CLIENT_SECRET", CLIENT_SECRET);
        }
    });
}

fn targets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/targets")
}

fn load(name: &str) -> Profile {
    env();
    let path = targets_dir().join(name);
    load_profile(&path).unwrap_or_else(|e| panic!("{name} does not load: {e}"))
}

/// A built request, for inspection.
struct Req {
    url: String,
    headers: http::HeaderMap,
    body: String,
}

fn built(req: Result<authbench::profile::Rendered, authbench::profile::RequestError>) -> Req {
    let req = req.expect("the request renders");
    Req {
        url: req.uri().to_string(),
        headers: req.headers().clone(),
        body: String::from_utf8_lossy(req.body()).into_owned(),
    }
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn basic(user: &str, password: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b64}")
}

fn tokens(at: &str, rt: &str) -> Tokens {
    Tokens {
        access_token: at.into(),
        refresh_token: Some(rt.into()),
        expires_at: None,
        session_id: None,
        refresh_expires_at: None,
    }
}

#[test]
fn every_target_file_loads() {
    env();
    let mut names: Vec<String> = std::fs::read_dir(targets_dir())
        .expect("scenarios/targets exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    names.sort();
    for preset in REAL_SERVER_PRESETS {
        assert!(names.iter().any(|n| n == preset), "missing preset {preset}");
    }
    for name in &names {
        let p = load(name);
        let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
        assert_eq!(p.name(), stem, "profile name of {name}");
        assert!(matches!(p.base_url().scheme(), "http" | "https"), "{name}");
    }
}

/// What each OAuth-form preset's documentation says: (file, token URL, refresh_rejected policy,
/// client auth is HTTP Basic, logout URL, revoke?, introspection URL).
struct OAuthPreset {
    file: &'static str,
    token_url: &'static str,
    login_grant: &'static str,
    policy: RejectPolicy,
    basic_auth: bool,
    logout_url: &'static str,
    revoke: bool,
    introspect_url: Option<&'static str>,
    resource_url: &'static str,
}

const OAUTH_PRESETS: &[OAuthPreset] = &[
    OAuthPreset {
        file: "keycloak.yaml",
        token_url: "http://127.0.0.1:8080/realms/authbench/protocol/openid-connect/token",
        login_grant: "password",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "http://127.0.0.1:8080/realms/authbench/protocol/openid-connect/logout",
        revoke: true,
        introspect_url: Some(
            "http://127.0.0.1:8080/realms/authbench/protocol/openid-connect/token/introspect",
        ),
        resource_url: "http://127.0.0.1:8080/realms/authbench/protocol/openid-connect/userinfo",
    },
    OAuthPreset {
        file: "hydra.yaml",
        token_url: "http://127.0.0.1:4444/oauth2/token",
        login_grant: "refresh_token",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "http://127.0.0.1:4444/oauth2/revoke",
        revoke: true,
        introspect_url: Some("http://127.0.0.1:4445/admin/oauth2/introspect"),
        resource_url: "http://127.0.0.1:4444/userinfo",
    },
    OAuthPreset {
        file: "auth0.yaml",
        token_url: "https://your_tenant.us.auth0.com/oauth/token",
        login_grant: "password",
        policy: RejectPolicy::Lenient,
        basic_auth: false,
        logout_url: "https://your_tenant.us.auth0.com/oauth/revoke",
        revoke: true,
        introspect_url: None,
        resource_url: "https://your_tenant.us.auth0.com/userinfo",
    },
    OAuthPreset {
        file: "okta.yaml",
        token_url: "https://your_org.okta.com/oauth2/default/v1/token",
        login_grant: "password",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "https://your_org.okta.com/oauth2/default/v1/revoke",
        revoke: true,
        introspect_url: Some("https://your_org.okta.com/oauth2/default/v1/introspect"),
        resource_url: "https://your_org.okta.com/oauth2/default/v1/userinfo",
    },
    OAuthPreset {
        file: "cognito.yaml",
        token_url: "https://your_prefix.auth.us-east-1.amazoncognito.com/oauth2/token",
        login_grant: "refresh_token",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "https://your_prefix.auth.us-east-1.amazoncognito.com/oauth2/revoke",
        revoke: true,
        introspect_url: None,
        resource_url: "https://your_prefix.auth.us-east-1.amazoncognito.com/oauth2/userInfo",
    },
    OAuthPreset {
        file: "spring-authorization-server.yaml",
        token_url: "http://127.0.0.1:9000/oauth2/token",
        login_grant: "password",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "http://127.0.0.1:9000/oauth2/revoke",
        revoke: true,
        introspect_url: Some("http://127.0.0.1:9000/oauth2/introspect"),
        resource_url: "http://127.0.0.1:9000/userinfo",
    },
    OAuthPreset {
        file: "django-oauth-toolkit.yaml",
        token_url: "http://127.0.0.1:8000/o/token/",
        login_grant: "password",
        policy: RejectPolicy::Strict,
        basic_auth: true,
        logout_url: "http://127.0.0.1:8000/o/revoke_token/",
        revoke: true,
        introspect_url: Some("http://127.0.0.1:8000/o/introspect/"),
        resource_url: "http://127.0.0.1:8000/api/me",
    },
];

/// Client authentication as the preset documents it: HTTP Basic from the environment, or
/// `client_id` / `client_secret` form fields (client_secret_post).
fn assert_client_auth(preset: &OAuthPreset, what: &str, req: &Req) {
    let fields = form(&req.body);
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if preset.basic_auth {
        assert_eq!(
            auth,
            Some(basic(CLIENT_ID, CLIENT_SECRET).as_str()),
            "{} {what}",
            preset.file
        );
        assert_eq!(
            field(&fields, "client_secret"),
            None,
            "{} {what}: secret in the body",
            preset.file
        );
    } else {
        assert_eq!(auth, None, "{} {what}", preset.file);
        assert_eq!(
            field(&fields, "client_id"),
            Some(CLIENT_ID),
            "{} {what}",
            preset.file
        );
        assert_eq!(
            field(&fields, "client_secret"),
            Some(CLIENT_SECRET),
            "{} {what}",
            preset.file
        );
    }
}

#[test]
fn oauth_presets_match_their_documentation() {
    for preset in OAUTH_PRESETS {
        let p = load(preset.file);
        let f = preset.file;
        assert_eq!(
            p.reject_policy(),
            Some(preset.policy),
            "{f}: refresh_rejected"
        );
        assert!(
            p.renewal_header().is_none(),
            "{f}: no sliding renewal header"
        );
        assert!(p.ws().is_none(), "{f}: no WebSocket");
        assert!(
            p.refresh_cookie().is_none(),
            "{f}: refresh token in the body"
        );

        let login = built(p.login_request("user7", "pw-7"));
        assert_eq!(login.url, preset.token_url, "{f}: login URL");
        let lf = form(&login.body);
        assert_eq!(
            field(&lf, "grant_type"),
            Some(preset.login_grant),
            "{f}: login grant"
        );
        if preset.login_grant == "password" {
            assert_eq!(field(&lf, "username"), Some("user7"), "{f}");
            assert_eq!(field(&lf, "password"), Some("pw-7"), "{f}");
        } else {
            // Bootstrap refresh token in the password column (no password grant on this server).
            assert_eq!(field(&lf, "refresh_token"), Some("pw-7"), "{f}");
        }
        assert_client_auth(preset, "login", &login);

        let refresh = built(p.refresh_request(Some("rt-123456789")));
        assert_eq!(refresh.url, preset.token_url, "{f}: refresh URL");
        let rf = form(&refresh.body);
        assert_eq!(field(&rf, "grant_type"), Some("refresh_token"), "{f}");
        assert_eq!(field(&rf, "refresh_token"), Some("rt-123456789"), "{f}");
        assert_client_auth(preset, "refresh", &refresh);

        let logout = p
            .logout_request(&tokens("at-1", "rt-logout"))
            .unwrap_or_else(|| panic!("{f}: no logout"));
        let logout = built(logout);
        assert_eq!(logout.url, preset.logout_url, "{f}: logout URL");
        let of = form(&logout.body);
        assert!(
            field(&of, "token") == Some("rt-logout")
                || field(&of, "refresh_token") == Some("rt-logout"),
            "{f}: logout carries the refresh token: {}",
            logout.body
        );
        assert_client_auth(preset, "logout", &logout);

        assert_eq!(p.has_revoke(), preset.revoke, "{f}: revoke");
        if let Some(rb) = p.revoke_request("tok-to-revoke", TokenKind::Refresh) {
            let r = built(rb);
            assert_eq!(field(&form(&r.body), "token"), Some("tok-to-revoke"), "{f}");
            assert_client_auth(preset, "revoke", &r);
        }
        match preset.introspect_url {
            Some(url) => {
                let rb = p
                    .introspect_request("tok-to-inspect", TokenKind::Access)
                    .unwrap_or_else(|| panic!("{f}: no introspection"));
                let r = built(rb);
                assert_eq!(r.url, url, "{f}: introspection URL");
                assert_eq!(
                    field(&form(&r.body), "token"),
                    Some("tok-to-inspect"),
                    "{f}"
                );
            }
            None => assert!(
                !p.has_introspect(),
                "{f}: no introspection endpoint documented"
            ),
        }

        let api = built(p.resource_request("at-xyz"));
        assert_eq!(api.url, preset.resource_url, "{f}: resource URL");
        assert_eq!(
            api.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer at-xyz"),
            "{f}: bearer token on the resource"
        );
    }
}

#[test]
fn keycloak_reads_the_session_state() {
    let p = load("keycloak.yaml");
    // Admin logout in two steps: the id by username, then the logout of that id.
    let admin = p.clone().with_admin_key("admin-token");
    assert!(admin.has_admin_logout());
    let lookup = built(admin.admin_user_id_request("user5").expect("lookup"));
    assert_eq!(
        lookup.url,
        "http://127.0.0.1:8080/admin/realms/authbench/users?exact=true&username=user5"
    );
    let body = br#"[{"id":"6f1c-id","username":"user5"}]"#;
    let id = admin
        .admin_user_id_from(200, &http::HeaderMap::new(), body)
        .expect("id");
    let logout = built(
        admin
            .admin_logout_request_for("user5", Some(&id))
            .expect("logout"),
    );
    assert_eq!(
        logout.url,
        "http://127.0.0.1:8080/admin/realms/authbench/users/6f1c-id/logout"
    );
    let body = br#"{"access_token":"opaque-at","expires_in":300,"refresh_expires_in":1800,"refresh_token":"rt","token_type":"Bearer","session_state":"4f1c-sess","scope":"openid"}"#;
    let t = p
        .parse_tokens(200, &http::HeaderMap::new(), body)
        .expect("parses");
    assert_eq!(t.session_id.as_deref(), Some("4f1c-sess"));
    assert_eq!(t.refresh_token.as_deref(), Some("rt"));
}

#[test]
fn opaque_access_tokens_expire_by_expires_in() {
    // DOT and Hydra issue opaque access tokens: their expiry can only come from expires_in.
    for name in ["django-oauth-toolkit.yaml", "hydra.yaml"] {
        let p = load(name);
        let before = SystemTime::now();
        let body = br#"{"access_token":"HAk7aKIiHKfH1zVKOllk1SakLhkFlo","expires_in":6,"token_type":"Bearer","scope":"read","refresh_token":"i83tSY9TTWf6icWcCe1UlPNPVzoC8c"}"#;
        let t = p
            .parse_tokens(200, &http::HeaderMap::new(), body)
            .expect("parses");
        let exp = t.expires_at.expect("expiry from expires_in");
        assert!(exp >= before + Duration::from_secs(6), "{name}");
        assert!(exp <= SystemTime::now() + Duration::from_secs(6), "{name}");
        // DOT's error body for a dead refresh token is a rejection under the strict policy.
        assert!(
            p.refresh_rejected(400, br#"{"error": "invalid_grant"}"#),
            "{name}"
        );
        assert!(
            !p.refresh_rejected(401, br#"{"error": "invalid_client"}"#),
            "{name}"
        );
    }
}

#[test]
fn auth0_403_is_a_rejected_refresh() {
    let p = load("auth0.yaml");
    assert!(p.refresh_rejected(
        403,
        br#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#
    ));
    let login = built(p.login_request("user1", "pw-1"));
    let f = form(&login.body);
    assert_eq!(field(&f, "scope"), Some("openid offline_access"));
    assert!(
        field(&f, "audience").is_some(),
        "audience gives a JWT access token"
    );
}

#[test]
fn cognito_initiate_auth_speaks_the_json_api() {
    let p = load("cognito-initiate-auth.yaml");
    let target = |r: &Req| {
        r.headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let json = |r: &Req| serde_json::from_str::<serde_json::Value>(&r.body).expect("JSON body");
    let endpoint = "https://cognito-idp.us-east-1.amazonaws.com/";

    let login = built(p.login_request("user3", "pw-3"));
    assert_eq!(login.url, endpoint);
    assert_eq!(
        login
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-amz-json-1.1"),
        "the explicit content type wins over application/json"
    );
    assert_eq!(
        target(&login).as_deref(),
        Some("AWSCognitoIdentityProviderService.InitiateAuth")
    );
    // SECRET_HASH = Base64(HMAC-SHA256(client secret, username + client id)).
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("user3{CLIENT_ID}").as_bytes());
    let secret_hash = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    assert_eq!(
        json(&login),
        serde_json::json!({
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": CLIENT_ID,
            "AuthParameters": { "USERNAME": "user3", "PASSWORD": "pw-3", "SECRET_HASH": secret_hash }
        })
    );

    let refresh = built(p.refresh_request(Some("cognito-rt")));
    assert_eq!(
        target(&refresh).as_deref(),
        Some("AWSCognitoIdentityProviderService.GetTokensFromRefreshToken")
    );
    assert_eq!(
        json(&refresh),
        serde_json::json!({ "ClientId": CLIENT_ID, "ClientSecret": CLIENT_SECRET, "RefreshToken": "cognito-rt" })
    );

    let logout = built(p.logout_request(&tokens("at", "rt-out")).expect("logout"));
    assert_eq!(
        target(&logout).as_deref(),
        Some("AWSCognitoIdentityProviderService.RevokeToken")
    );
    assert_eq!(json(&logout)["Token"], "rt-out");

    let api = built(p.resource_request("cognito-at"));
    assert_eq!(
        target(&api).as_deref(),
        Some("AWSCognitoIdentityProviderService.GetUser")
    );
    assert_eq!(
        json(&api),
        serde_json::json!({ "AccessToken": "cognito-at" })
    );

    // Tokens come from AuthenticationResult; a refresh without rotation has no RefreshToken.
    let login_resp = br#"{"AuthenticationResult":{"AccessToken":"opaque-looking","ExpiresIn":3600,"IdToken":"id","RefreshToken":"rt-1","TokenType":"Bearer"},"ChallengeParameters":{}}"#;
    let t = p
        .parse_tokens(200, &http::HeaderMap::new(), login_resp)
        .expect("parses");
    assert_eq!(t.access_token, "opaque-looking");
    assert_eq!(t.refresh_token.as_deref(), Some("rt-1"));
    assert!(t.expires_at.is_some(), "ExpiresIn read");
    let refresh_resp = br#"{"AuthenticationResult":{"AccessToken":"at-2","ExpiresIn":3600,"IdToken":"id","TokenType":"Bearer"}}"#;
    let t = p
        .parse_refresh_tokens(200, &http::HeaderMap::new(), refresh_resp)
        .expect("parses");
    assert_eq!(
        t.refresh_token, None,
        "no rotation: keep the previous refresh token"
    );
    assert!(p.refresh_rejected(
        400,
        br#"{"__type":"NotAuthorizedException","message":"Refresh Token has been revoked"}"#
    ));
    // GetUser answers a dead access token with 400: that is the access rejection.
    assert!(p.access_rejected(
        400,
        br#"{"__type":"NotAuthorizedException","message":"Access Token has expired"}"#
    ));
    assert!(!p.access_rejected(400, br#"{"__type":"InvalidParameterException"}"#));
    assert!(!p.revoke_accepts(TokenKind::Access) && p.revoke_accepts(TokenKind::Refresh));
}

#[test]
fn presets_document_setup_and_keep_secrets_out() {
    for name in REAL_SERVER_PRESETS {
        let text = std::fs::read_to_string(targets_dir().join(name)).expect("readable");
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            header.contains("Server side"),
            "{name}: no server-side setup in the header"
        );
        assert!(
            header.contains("environment"),
            "{name}: no word on where secrets come from"
        );
        assert!(
            header.contains("PROVEN LIVE") || header.contains("not run live"),
            "{name}: must say whether it was proven live"
        );
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            if code.to_ascii_lowercase().contains("secret") {
                // `{{env.NAME}}`, or an expression over it (`{{ hmac_sha256_b64(env.NAME, ...) }}`).
                assert!(
                    code.contains("{{") && code.contains("env."),
                    "{name}:{}: a secret must come from an {{{{env.NAME}}}} template: {line}",
                    i + 1
                );
            }
        }
    }
}
