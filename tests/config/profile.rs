//! Target profiles against the real mock on 127.0.0.1:0: the `mock` and `mock-json` presets log
//! in, call the resource, refresh, log out; rejected refreshes are recognised; admin, introspection,
//! cookie-borne refresh tokens, OpenID discovery and the WebSocket handshake work; profile files
//! give clear errors.

use std::time::{Duration, SystemTime};

use authbench::client::cookies::CookieJar;
use authbench::client::transport::{BodyMode, Connections, Connector, Http};
use authbench::profile::{
    self, Profile, RejectPolicy, Rendered, RequestError, TokenKind, Tokens, WsEvent,
};
use authbench_mock::{MockConfig, MockServer, Signing};
use futures::StreamExt;

async fn mock(cfg: MockConfig) -> MockServer {
    authbench_mock::start(MockConfig {
        port: 0,
        signing: Signing::Hs256,
        ..cfg
    })
    .await
    .unwrap()
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

/// The client transport, as the simulated clients and the checks use it.
fn transport() -> Http {
    Connector::new(Connections::PerClient, Duration::from_secs(5), false, 4)
        .unwrap()
        .client()
}

async fn send_on(http: &Http, req: Result<Rendered, RequestError>) -> Reply {
    let r = http.exchange(req.unwrap(), BodyMode::Keep).await.unwrap();
    Reply {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

async fn send(req: Result<Rendered, RequestError>) -> Reply {
    send_on(&transport(), req).await
}

async fn login(p: &Profile, http: &Http, n: u32) -> Tokens {
    let r = send_on(
        http,
        p.login_request(&format!("user{n}"), &format!("pw-{n}")),
    )
    .await;
    p.parse_tokens(r.status, &r.headers, &r.body)
        .unwrap_or_else(|e| panic!("login via {}: {e}", p.name()))
}

/// Login → resource → refresh (rotated) → resource → reuse of the old RT rejected → logout →
/// refresh rejected.
async fn full_session(p: &Profile, http: &Http) {
    let t = login(p, http, 1).await;
    let rt = t.refresh_token.clone().expect("refresh token");
    assert!(t.session_id.is_some());
    let exp = t.expires_at.expect("exp");
    let left = exp.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(20) && left <= Duration::from_secs(31),
        "{left:?}"
    );

    let r = send(p.resource_request(&t.access_token)).await;
    assert_eq!(r.status, 200, "{}", p.name());
    let me: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(me["sub"], "user1");

    let r = send(p.refresh_request(Some(&rt))).await;
    let t2 = p.parse_tokens(r.status, &r.headers, &r.body).unwrap();
    let rt2 = t2.refresh_token.clone().unwrap();
    assert_ne!(rt2, rt, "rotation gives a new refresh token");
    assert!(!p.refresh_rejected(r.status, &r.body));
    let r = send(p.resource_request(&t2.access_token)).await;
    assert_eq!(r.status, 200);

    // A second session: refresh, then reuse the rotated-out token.
    let s = login(p, http, 2).await;
    let old = s.refresh_token.clone().unwrap();
    let r = send(p.refresh_request(Some(&old))).await;
    assert_eq!(r.status, 200);
    let r = send(p.refresh_request(Some(&old))).await;
    assert!(
        p.refresh_rejected(r.status, &r.body),
        "{}: reuse answered {} {:?}",
        p.name(),
        r.status,
        r.body
    );

    // Logout ends the first session.
    let r = send(p.logout_request(&t2).expect("logout")).await;
    assert!((200..300).contains(&r.status), "logout {}", r.status);
    let r = send(p.refresh_request(Some(&rt2))).await;
    assert!(
        p.refresh_rejected(r.status, &r.body),
        "after logout: {}",
        r.status
    );
}

#[tokio::test]
async fn mock_preset_end_to_end() {
    let server = mock(MockConfig::default()).await;
    let p = profile::builtin(&server.base_url(), server.admin_key()).unwrap();
    assert_eq!(p.reject_policy(), Some(RejectPolicy::Strict));
    let http = transport();
    full_session(&p, &http).await;

    // Introspection with the admin key.
    let t = login(&p, &http, 3).await;
    let r = send(
        p.introspect_request(&t.access_token, TokenKind::Access)
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["active"], true);

    // Revocation of the refresh token ends the session.
    let rt = t.refresh_token.clone().unwrap();
    let r = send(p.revoke_request(&rt, TokenKind::Refresh).unwrap()).await;
    assert_eq!(r.status, 200);
    let r = send(p.refresh_request(Some(&rt))).await;
    assert!(p.refresh_rejected(r.status, &r.body));

    // Admin logout of a user.
    let u = login(&p, &http, 4).await;
    assert!(p.has_admin_logout());
    let r = send(p.admin_logout_request("user4").unwrap()).await;
    assert!((200..300).contains(&r.status), "admin logout {}", r.status);
    let r = send(p.refresh_request(u.refresh_token.as_deref())).await;
    assert!(p.refresh_rejected(r.status, &r.body));

    // Without an admin key, admin requests are unavailable rather than sent unauthenticated.
    let bare = profile::preset("mock", &server.base_url()).unwrap();
    if std::env::var_os("AUTHBENCH_ADMIN_KEY").is_none() {
        assert!(bare.admin_logout_request("user1").is_none());
        assert!(!bare.has_admin_logout());
    }

    // Bad credentials are a Status error, not a panic.
    let r = send(p.login_request("user1", "wrong")).await;
    assert!(p.parse_tokens(r.status, &r.headers, &r.body).is_err());

    // The admin outage request (the `outage` phase) needs the admin key; the oauth2 preset has
    // none. It renders {{duration_ms}} and the mock accepts it — it is then away for a moment, so
    // this is the test's last request.
    if std::env::var_os("AUTHBENCH_ADMIN_KEY").is_none() {
        assert!(bare.admin_outage_request(Duration::from_secs(1)).is_none());
        assert!(!bare.has_admin_outage());
    }
    let oauth2 = profile::preset("oauth2", &server.base_url()).unwrap();
    assert!(!oauth2.has_admin_outage());
    assert!(p.has_admin_outage());
    let r = send(p.admin_outage_request(Duration::from_millis(250)).unwrap()).await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["outage_ms"], 250);
    server.shutdown().await;
}

#[tokio::test]
async fn mock_json_preset_end_to_end() {
    let server = mock(MockConfig::default()).await;
    let p = profile::preset("mock-json", &server.base_url()).unwrap();
    assert_eq!(p.reject_policy(), Some(RejectPolicy::Lenient));
    let http = transport();
    full_session(&p, &http).await;
    server.shutdown().await;
}

#[tokio::test]
async fn target_files_end_to_end() {
    let server = mock(MockConfig::default()).await;
    let http = transport();
    for file in ["mock.yaml", "mock-json.yaml", "oauth2.yaml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/targets")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("http://127.0.0.1:8080", &server.base_url());
        let p = profile::profile_from_str(&text, Some(&path)).unwrap();
        full_session(&p, &http).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn refresh_token_in_an_httponly_cookie() {
    let server = mock(MockConfig {
        refresh_cookie: true,
        ..MockConfig::default()
    })
    .await;
    let yaml = format!(
        "preset: mock\nbase_url: {}\nrefresh:\n  path: /oauth/token\n  form: {{ grant_type: refresh_token }}\nextract:\n  refresh_token: cookie:refresh_token\n",
        server.base_url()
    );
    let p = profile::profile_from_str(&yaml, None).unwrap();
    assert_eq!(p.refresh_cookie(), Some("refresh_token"));
    // No cookie jar: the profile sends the cookie itself.
    let http = transport();
    let t = login(&p, &http, 1).await;
    let rt = t
        .refresh_token
        .clone()
        .expect("refresh token from Set-Cookie");
    let r = send(p.refresh_request(Some(&rt))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let t2 = p.parse_tokens(r.status, &r.headers, &r.body).unwrap();
    assert_ne!(t2.refresh_token.as_deref(), Some(rt.as_str()));
    // With a jar, `None` relies on the jar.
    let mut jar = CookieJar::default();
    let r = send(p.login_request("user2", "pw-2")).await;
    jar.absorb(&r.headers);
    let mut req = p.refresh_request(None).unwrap();
    let cookie = jar.header_value().unwrap().parse().unwrap();
    req.headers_mut().append(http::header::COOKIE, cookie);
    let r = send(Ok(req)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    server.shutdown().await;
}

#[tokio::test]
async fn bare_url_uses_openid_discovery() {
    let server = mock(MockConfig::default()).await;
    let http = transport();
    let p = authbench::client::discover(&server.base_url(), &http)
        .await
        .unwrap();
    assert_eq!(p.name(), "oauth2");
    assert!(p.has_revoke() && p.has_introspect() && p.ws().is_some());
    // The mock's admin endpoints come from its `authbench_*` extensions (the key from the env).
    let admin = p.clone().with_admin_key(server.admin_key());
    assert!(admin.has_admin_logout() && admin.has_admin_outage());
    let t = login(&p, &http, 1).await;
    let r = send(p.resource_request(&t.access_token)).await;
    assert_eq!(r.status, 200, "resource from authbench_resource_endpoint");
    let r = send(p.refresh_request(t.refresh_token.as_deref())).await;
    assert_eq!(r.status, 200);
    // A server without discovery falls back to the preset's paths; nothing listening is an error.
    let dead = "http://127.0.0.1:9";
    assert!(matches!(
        authbench::client::discover(dead, &http).await,
        Err(profile::TargetError::Unreachable { .. })
    ));
    assert!(matches!(
        authbench::client::discover("ftp://x", &http).await,
        Err(profile::TargetError::InvalidUrl { .. })
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_handshake_from_the_profile() {
    let server = mock(MockConfig::default()).await;
    let p = profile::builtin(&server.base_url(), server.admin_key()).unwrap();
    let http = transport();
    let t = login(&p, &http, 1).await;
    let ws = p.ws().unwrap();
    let url = ws.connect_url(&t.access_token);
    let (mut sock, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sock.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = msg.into_text().unwrap();
    assert_eq!(
        ws.events.classify(&text),
        Some(WsEvent::Other("welcome".into()))
    );
    assert_eq!(ws.close_codes.classify(4409), profile::CloseClass::Terminal);
    sock.close(None).await.unwrap();
    while let Some(Ok(_)) = sock.next().await {}
    server.shutdown().await;
}

#[test]
fn profile_file_errors_are_clear() {
    let err = |yaml: &str| profile::profile_from_str(yaml, None).unwrap_err();
    // (file, what the message says, the key it names, its position)
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<(u64, u64)>,
    );
    let cases: &[Case] = &[
        (
            "preset: mock\nbase_url: http://h\nrefresh_rejeted: strict\n",
            "did you mean `refresh_rejected`?",
            None,
            Some((3, 1)),
        ),
        (
            "preset: mok\nbase_url: http://h\n",
            "did you mean `mock`?",
            Some("preset"),
            None,
        ),
        ("base_url: http://h\n", "no `login` request", None, None),
        (
            "preset: mock\nbase_url: localhost:8080\n",
            "",
            Some("base_url"),
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nlogin:\n  path: /t\n  form: { client_secret: \"{{env.AUTHBENCH_TEST_SURELY_UNSET_VAR}}\" }\n",
            "AUTHBENCH_TEST_SURELY_UNSET_VAR is not set",
            None,
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nresource: { path: \"/me/{{acess_token}}\" }\n",
            "did you mean {{access_token}}",
            None,
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nextract: { access_token: \"body:/x\" }\n",
            "use json, header or cookie",
            None,
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nws: { close_codes: pushr }\n",
            "known presets",
            None,
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nscoped_resource: { path: /x, scope: \" \" }\n",
            "e.g. `scope: admin`",
            Some("scoped_resource.scope"),
            None,
        ),
        (
            "preset: mock\nbase_url: http://h\nscoped_resource: { path: /x, scop: admin }\n",
            "did you mean `scope`?",
            None,
            Some((3, 30)),
        ),
    ];
    for (yaml, says, key, position) in cases {
        let e = err(yaml);
        assert!(e.to_string().contains(says), "{yaml}: {e}");
        if key.is_some() {
            assert_eq!(e.key(), *key, "{yaml}");
        }
        if position.is_some() {
            assert_eq!(e.position(), *position, "{yaml}");
        }
    }
}

#[test]
fn a_missing_key_is_named_under_its_own_section() {
    // serde-saphyr points at the section's first key: the missing key is its sibling, not its
    // child (it was `grant.authorization_code.redirect_uri.authorize`).
    let e = profile::profile_from_str(
        "preset: oauth2\nbase_url: http://h\ngrant:\n  authorization_code:\n    redirect_uri: http://127.0.0.1:3000/cb\n",
        None,
    )
    .unwrap_err();
    assert_eq!(e.key(), Some("grant.authorization_code.authorize"), "{e}");
    assert_eq!(
        e.diagnostic().fix.as_deref(),
        Some("add `authorize:` under `grant.authorization_code`")
    );
}

#[test]
fn an_unset_variable_is_refused_at_its_first_use_in_the_file_naming_the_others() {
    let err = |yaml: &str| profile::profile_from_str(yaml, None).unwrap_err();
    // The authorize request comes first in the file; `login` was named before (at its section's
    // key) because the requests were looked at first. Every unset variable is named at once.
    let yaml = "preset: oauth2\nbase_url: http://h\ngrant:\n  authorization_code:\n    authorize: { path: /auth, query: { client_id: \"{{env.AB_UNSET_FIRST_ID}}\" } }\n    redirect_uri: http://127.0.0.1:3000/cb\nlogin:\n  path: /token\n  basic_auth: { user: \"{{env.AB_UNSET_FIRST_ID}}\", password: \"{{env.AB_UNSET_FIRST_SECRET}}\" }\n  form: { grant_type: authorization_code, code: \"{{code}}\" }\n";
    let e = err(yaml);
    assert_eq!(
        e.key(),
        Some("grant.authorization_code.authorize.query.client_id"),
        "{e}"
    );
    assert_eq!(e.position(), Some((5, 40)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("environment variable AB_UNSET_FIRST_ID is not set"),
        "{text}"
    );
    assert!(
        text.contains("also unset: AB_UNSET_FIRST_SECRET (`login.basic_auth.password`)"),
        "{text}"
    );
    assert!(
        text.contains("export AB_UNSET_FIRST_ID=... AB_UNSET_FIRST_SECRET=..."),
        "{text}"
    );
    // The id lookup and the scoped resource read the environment too: an unset variable there
    // would have been sent as an empty string.
    for (yaml, key) in [
        (
            "preset: mock\nbase_url: http://h\nscoped_resource: { path: \"/{{env.AB_UNSET_SCOPED}}\", scope: admin }\n",
            "scoped_resource.path",
        ),
        (
            "preset: mock\nbase_url: http://h\nadmin_user_id:\n  request: { path: /users, headers: { X-Tenant: \"{{env.AB_UNSET_TENANT}}\" } }\n  id: \"json:/0/id\"\n",
            "admin_user_id.request.headers.X-Tenant",
        ),
    ] {
        let e = err(yaml);
        assert_eq!(e.key(), Some(key), "{yaml}: {e}");
        assert!(e.to_string().contains("is not set"), "{yaml}: {e}");
    }
    // `--base-url` replaces the file's `base_url`, so its variable is not needed then.
    let unset_base = "preset: mock\nbase_url: \"{{env.AB_UNSET_BASE}}\"\n";
    assert_eq!(err(unset_base).key(), Some("base_url"));
    let opts = profile::LoadOptions {
        base_url: Some("http://127.0.0.1:9".into()),
        ..profile::LoadOptions::default()
    };
    assert!(profile::profile_from_str_opts(unset_base, None, &opts).is_ok());
    // Not an error when the environment is not looked at (`validate`), nor for `admin_key`.
    assert!(profile::profile_from_str_with(yaml, None, profile::EnvCheck::Skip).is_ok());
    assert!(
        profile::profile_from_str(
            "preset: mock\nbase_url: http://h\nadmin_key: \"{{env.AB_UNSET_ADMIN}}\"\n",
            None
        )
        .is_ok()
    );
}

#[test]
fn preset_overrides_keep_the_rest() {
    let p = profile::profile_from_str(
        "preset: mock\nbase_url: http://h:1/base\nresource: { method: GET, path: /v2/me, headers: { Authorization: \"Bearer {{access_token}}\" } }\nrenewal_header: \"\"\nws: { token: header }\n",
        None,
    )
    .unwrap();
    let req = p.resource_request("at").unwrap();
    assert_eq!(req.uri(), "http://h:1/base/v2/me");
    // The preset's scoped resource is kept, and sent like the overridden resource.
    assert_eq!(p.scoped_resource().unwrap().scope, "admin");
    let req = p.scoped_request("at").unwrap().unwrap();
    assert_eq!(req.uri(), "http://h:1/base/api/admin");
    assert_eq!(req.headers()["authorization"], "Bearer at");
    let req = p.login_request("u", "p").unwrap();
    assert_eq!(req.uri(), "http://h:1/base/oauth/token");
    assert!(p.renewal_header().is_none());
    let ws = p.ws().unwrap();
    assert_eq!(ws.url.as_str(), "ws://h:1/base/ws");
    assert_eq!(ws.token, profile::TokenTransport::Header);
    assert_eq!(ws.close_codes.name(), "authbench");
    let default = profile::preset("mock", "http://h").unwrap();
    assert_eq!(
        default.renewal_header().unwrap().as_str(),
        "new-access-token"
    );
    assert!(profile::preset("nope", "http://h").is_none());
    assert!(profile::preset("mock", "not a url").is_none());
}

#[test]
fn reuse_matcher_and_session_limits_load_and_their_errors_point_at_the_key() {
    let file = std::path::Path::new("targets/idp.yaml");
    let p = profile::profile_from_str(
        "preset: oauth2\nbase_url: http://h\nreuse_rejected:\n  - { status: [400, 401], body: { error: invalid_grant, error_description: \"~Stale token\" } }\nsession: { max: 10h, idle: 30m }\n",
        Some(file),
    )
    .unwrap();
    let body = br#"{"error":"invalid_grant","error_description":"Stale token"}"#;
    assert!(p.reuse_rejected(400, body));
    assert!(!p.reuse_rejected(400, br#"{"error":"invalid_grant"}"#));
    let limits = p.session_limits();
    assert_eq!(limits.max, Some(std::time::Duration::from_secs(36_000)));
    assert_eq!(limits.idle, Some(std::time::Duration::from_secs(1_800)));
    // Without the key, the default recognises the mock's answer.
    let default = profile::preset("mock", "http://h").unwrap();
    assert!(default.reuse_rejected(
        400,
        br#"{"error":"invalid_grant","error_description":"refresh token reuse detected; the session has been revoked"}"#
    ));

    // (file, the key named, position, what the message says)
    let cases: &[(&str, &str, (u64, u64), &str)] = &[
        (
            "preset: mock\nbase_url: http://h\nreuse_rejected:\n  - status: [400]\n  - status: [700]\n",
            "reuse_rejected.1.status",
            (5, 5),
            "700 is not an HTTP status",
        ),
        (
            "preset: mock\nbase_url: http://h\nreuse_rejected: { body: { error_description: \"~\" } }\n",
            "reuse_rejected.body.error_description",
            (3, 27),
            "needs the text to look for",
        ),
        (
            "preset: mock\nbase_url: http://h\nsession:\n  max: 0\n",
            "session.max",
            (4, 3),
            "would end every session at once",
        ),
    ];
    for (yaml, key, position, says) in cases {
        let e = profile::profile_from_str(yaml, Some(file)).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(says), "{yaml}: {text}");
        assert_eq!(e.key(), Some(*key), "{yaml}: {text}");
        assert_eq!(e.position(), Some(*position), "{yaml}: {text}");
        assert!(text.contains("targets/idp.yaml"), "{text}");
    }
    // A misspelt key inside a rule is refused with its position, its key and the rename (it read
    // "data did not match any variant of untagged enum OneOrMany"), in one rule or in a list.
    for (yaml, key) in [
        (
            "preset: mock\nbase_url: http://h\nreuse_rejected: { stauts: 400 }\n",
            "reuse_rejected.stauts",
        ),
        (
            "preset: mock\nbase_url: http://h\nreuse_rejected:\n  - { status: 400 }\n  - { stauts: 400 }\n",
            "reuse_rejected.1.stauts",
        ),
    ] {
        let e = profile::profile_from_str(yaml, Some(file)).unwrap_err();
        assert_eq!(e.key(), Some(key), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("unknown field `stauts`, did you mean `status`?")
                && !text.contains("untagged"),
            "{text}"
        );
        assert_eq!(
            e.diagnostic().fix.as_deref(),
            Some("rename `stauts` to `status` (keys allowed here: status, prefix, body)")
        );
    }
    // The same for the WebSocket token's mapping forms.
    let e = profile::profile_from_str(
        "preset: mock\nbase_url: http://h\nws:\n  path: /ws\n  token: { qurey: access_token }\n",
        Some(file),
    )
    .unwrap_err();
    assert_eq!(e.key(), Some("ws.token.qurey"), "{e}");
    assert!(e.to_string().contains("did you mean `query`?"), "{e}");
    // Numbers and booleans in a body rule are compared as text.
    let p = profile::profile_from_str(
        "preset: mock\nbase_url: http://h\nreuse_rejected: { status: 400, body: { code: 17, retry: false } }\n",
        Some(file),
    )
    .unwrap();
    assert!(p.reuse_rejected(400, br#"{"code":17,"retry":false}"#));
    assert!(!p.reuse_rejected(400, br#"{"code":18,"retry":false}"#));
    let e = profile::profile_from_str(
        "preset: mock\nbase_url: http://h\nsession: { max: 10 }\n",
        Some(file),
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs a unit"), "{e}");
}
