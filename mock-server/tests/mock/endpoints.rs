//! Every endpoint's behaviour on a correctly configured server.

use authbench_mock::Signing;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn password_grant_issues_a_standard_token_response() {
    let s = start(cfg()).await;
    let r = login(&s, 7).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.str("token_type"), "Bearer");
    assert_eq!(r.body["expires_in"], 30);
    assert_eq!(r.body["refresh_expires_in"], 86400);
    let at = r.str("access_token");
    let h = jwt_header(at);
    assert_eq!(
        (h["typ"].as_str(), h["alg"].as_str()),
        (Some("at+jwt"), Some("ES256"))
    );
    assert!(h["kid"].is_string());
    let c = claims(at);
    assert_eq!(c["iss"], s.base_url());
    assert_eq!(c["sub"], "user7");
    assert_eq!(c["aud"], "authbench");
    assert_eq!(c["sid"], r.body["session_id"]);
    assert!(c["jti"].is_string());
    let lifetime = c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
    assert!((30..=31).contains(&lifetime), "{lifetime}");
    let rt = r.str("refresh_token");
    assert!(rt.len() >= 43, "at least 256 bits of base64url");
    assert!(
        rt.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    // a second login gets another session
    let r2 = login(&s, 7).await;
    assert_ne!(r2.str("session_id"), r.str("session_id"));
    assert_eq!(s.stats().logins, 2);
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc6749() {
    let s = start(cfg()).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[
                ("grant_type", "password"),
                ("username", "user1"),
                ("password", "wrong"),
            ],
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "user1000"),
                ("password", "pw-1000"),
            ],
            "invalid_grant",
        ),
        (
            &[("grant_type", "password"), ("username", "user1")],
            "invalid_request",
        ),
        (
            &[("username", "user1"), ("password", "pw-1")],
            "invalid_request",
        ),
        (
            &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
            "unsupported_grant_type",
        ),
        (&[("grant_type", "client_credentials")], "invalid_client"),
        (&[("grant_type", "authorization_code")], "invalid_request"),
        (&[("grant_type", "refresh_token")], "invalid_request"),
        (
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "garbage"),
            ],
            "invalid_grant",
        ),
    ];
    for (form, want) in cases {
        let r = token(&s, form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(r.error(), *want, "{form:?}: {}", r.body);
        assert!(r.body["error_description"].is_string());
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    // a parameter twice is invalid_request
    let r = send(
        http()
            .post(format!("{}/oauth/token", s.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&grant_type=password&username=user1&password=pw-1"),
    )
    .await;
    assert_eq!(r.error(), "invalid_request");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let s = start(cfg()).await;
    let l = login(&s, 1).await;
    let rt0 = l.str("refresh_token").to_string();
    let r1 = refresh(&s, &rt0).await;
    assert_eq!(r1.status, StatusCode::OK);
    let rt1 = r1.str("refresh_token").to_string();
    assert_ne!(rt1, rt0);
    assert_eq!(r1.str("session_id"), l.str("session_id"));
    assert_eq!(
        me(&s, Some(r1.str("access_token"))).await.status,
        StatusCode::OK
    );
    // reuse of rt0: rejected, the whole family dies (rt1 and its AT too)
    let reuse = refresh(&s, &rt0).await;
    assert_eq!(
        (reuse.status, reuse.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(refresh(&s, &rt1).await.status, StatusCode::BAD_REQUEST);
    let m = me(&s, Some(r1.str("access_token"))).await;
    assert_eq!(m.status, StatusCode::UNAUTHORIZED);
    let st = s.stats();
    assert_eq!(
        (st.refreshes, st.reuse_detected, st.families_revoked),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn json_api_shares_the_core() {
    let s = start(cfg()).await;
    let c = http();
    let base = s.base_url();
    let bad = send(
        c.post(format!("{base}/api/auth/login"))
            .json(&json!({"username": "user1", "password": "nope"})),
    )
    .await;
    assert_eq!(
        (bad.status, bad.error()),
        (StatusCode::UNAUTHORIZED, "invalid_grant")
    );
    let broken = send(c.post(format!("{base}/api/auth/login")).body("{")).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    let l = send(
        c.post(format!("{base}/api/auth/login"))
            .json(&json!({"username": "user1", "password": "pw-1"})),
    )
    .await;
    assert_eq!(l.status, StatusCode::OK);
    for key in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "session_id",
    ] {
        assert!(!l.body[key].is_null(), "{key} missing in {}", l.body);
    }
    let r = send(
        c.post(format!("{base}/api/auth/refresh"))
            .json(&json!({"refresh_token": l.str("refresh_token")})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let stale = send(
        c.post(format!("{base}/api/auth/refresh"))
            .json(&json!({"refresh_token": "not-a-token"})),
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    let out = send(
        c.post(format!("{base}/api/auth/logout"))
            .json(&json!({"refresh_token": r.str("refresh_token")})),
    )
    .await;
    assert_eq!(
        (out.status, out.body["logged_out"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    // the session is gone: its RT and AT no longer work
    let again = send(
        c.post(format!("{base}/api/auth/refresh"))
            .json(&json!({"refresh_token": r.str("refresh_token")})),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&s, Some(r.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_with_bearer_access_token() {
    let s = start(cfg()).await;
    let l = login(&s, 2).await;
    let out = send(
        http()
            .post(format!("{}/api/auth/logout", s.base_url()))
            .bearer_auth(l.str("access_token")),
    )
    .await;
    assert_eq!(out.body["logged_out"], true);
    assert_eq!(
        refresh(&s, l.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn api_me_enforces_rfc6750() {
    let s = start(cfg()).await;
    let l = login(&s, 3).await;
    let at = l.str("access_token");
    let ok = me(&s, Some(at)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body,
        json!({"sub": "user3", "session_id": l.str("session_id")})
    );
    assert!(
        ok.header("new-access-token").is_none(),
        "sliding window is off"
    );

    let missing = me(&s, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"authbench\"")
    );

    let other = start(cfg()).await;
    let foreign = login(&other, 3).await;
    let tampered = {
        let mut parts: Vec<String> = at.split('.').map(String::from).collect();
        parts[1] = parts[1].chars().rev().collect();
        parts.join(".")
    };
    for bad in [
        "garbage".to_string(),
        alg_none(at),
        tampered,
        foreign.str("access_token").to_string(),
        l.str("refresh_token").to_string(),
    ] {
        let r = me(&s, Some(&bad)).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            authbench_mock::redact(&bad)
        );
        let h = r.header("www-authenticate").unwrap();
        assert!(
            h.starts_with(
                "Bearer realm=\"authbench\", error=\"invalid_token\", error_description=\""
            ),
            "{h}"
        );
        assert_eq!(r.error(), "invalid_token");
    }
}

#[tokio::test]
async fn expired_access_token_is_rejected_with_invalid_token() {
    let s = start_with(|c| c.access_ttl = std::time::Duration::from_secs(1)).await;
    let l = login(&s, 1).await;
    let at = l.str("access_token");
    assert_eq!(me(&s, Some(at)).await.status, StatusCode::OK);
    until_expired(at).await;
    let r = me(&s, Some(at)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().contains("expired"));
}

#[tokio::test]
async fn revocation_follows_rfc7009() {
    let s = start(cfg()).await;
    let c = http();
    let revoke = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/oauth/revoke", s.base_url());
        async move { c.post(url).form(&form).send().await.unwrap().status() }
    };
    assert_eq!(
        revoke(vec![("token", "garbage".into())]).await,
        StatusCode::OK
    );
    assert_eq!(revoke(vec![]).await, StatusCode::BAD_REQUEST);

    // an access token: only that token dies
    let l = login(&s, 4).await;
    assert_eq!(
        revoke(vec![
            ("token", l.str("access_token").into()),
            ("token_type_hint", "access_token".into())
        ])
        .await,
        StatusCode::OK
    );
    assert_eq!(
        me(&s, Some(l.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = refresh(&s, l.str("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK, "the session lives on");
    assert_eq!(
        me(&s, Some(r.str("access_token"))).await.status,
        StatusCode::OK
    );

    // a refresh token: the session and its access tokens die
    assert_eq!(
        revoke(vec![("token", r.str("refresh_token").into())]).await,
        StatusCode::OK
    );
    assert_session_over(&s, &r).await;
}

#[tokio::test]
async fn introspection_follows_rfc7662() {
    let s = start(cfg()).await;
    let l = login(&s, 5).await;
    let introspect = |key: Option<&'static str>, tok: String| {
        let mut req = http()
            .post(format!("{}/oauth/introspect", s.base_url()))
            .form(&[("token", tok)]);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        async move { send(req).await }
    };
    assert_eq!(
        introspect(None, "x".into()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        introspect(Some("wrong"), "x".into()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let at = introspect(Some("admin-secret"), l.str("access_token").into()).await;
    assert_eq!(at.body["active"], true);
    assert_eq!(at.body["token_type"], "access_token");
    assert_eq!(at.body["sub"], "user5");
    assert_eq!(at.body["sid"], l.body["session_id"]);
    let rt = introspect(Some("admin-secret"), l.str("refresh_token").into()).await;
    assert_eq!(
        (rt.body["active"].as_bool(), rt.body["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    let junk = introspect(Some("admin-secret"), "garbage".into()).await;
    assert_eq!(junk.body, json!({"active": false}));
    // after logout both are inactive, exactly {"active":false}
    let n = admin_logout(&s, "user5", "admin-secret").await;
    assert_eq!(n.body["sessions_revoked"], 1);
    for t in [l.str("access_token"), l.str("refresh_token")] {
        assert_eq!(
            introspect(Some("admin-secret"), t.into()).await.body,
            json!({"active": false})
        );
    }
}

#[tokio::test]
async fn admin_logout_revokes_every_session_of_the_user() {
    let s = start(cfg()).await;
    let a = login(&s, 6).await;
    let b = login(&s, 6).await;
    let other = login(&s, 8).await;
    assert_eq!(
        admin_logout(&s, "user6", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin_logout(&s, "nobody", "admin-secret").await.status,
        StatusCode::NOT_FOUND
    );
    let r = admin_logout(&s, "user6", "admin-secret").await;
    assert_eq!(
        (r.status, r.body["sessions_revoked"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    for l in [&a, &b] {
        assert_session_over(&s, l).await;
    }
    assert_eq!(
        me(&s, Some(other.str("access_token"))).await.status,
        StatusCode::OK
    );
    assert_eq!(s.stats().admin_logouts, 2);
}

#[tokio::test]
async fn health_stats_and_discovery() {
    let s = start(cfg()).await;
    let c = http();
    let base = s.base_url();
    let h = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    assert_eq!(h.text().await.unwrap(), "ok");
    login(&s, 1).await;
    let st = send(c.get(format!("{base}/admin/stats"))).await;
    assert_eq!(st.status, StatusCode::OK);
    for key in [
        "logins",
        "refreshes",
        "refresh_failures",
        "reuse_detected",
        "families_revoked",
        "api_requests",
        "ws_open",
        "ws_total",
        "kicks",
    ] {
        assert!(st.body[key].is_number(), "{key} missing");
    }
    assert_eq!(st.body["logins"], 1);
    let d = send(c.get(format!("{base}/.well-known/openid-configuration"))).await;
    assert_eq!(d.body["issuer"], base);
    assert_eq!(d.body["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(
        d.body["revocation_endpoint"],
        format!("{base}/oauth/revoke")
    );
    assert_eq!(
        d.body["introspection_endpoint"],
        format!("{base}/oauth/introspect")
    );
    assert_eq!(d.body["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        d.body["grant_types_supported"],
        json!([
            "password",
            "refresh_token",
            "client_credentials",
            "authorization_code"
        ])
    );
    assert_eq!(
        d.body["authorization_endpoint"],
        format!("{base}/authorize")
    );
    assert_eq!(d.body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        d.body["authbench_ws_endpoint"],
        format!("{}/ws", base.replacen("http", "ws", 1))
    );
    let nf = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(nf.status(), StatusCode::NOT_FOUND);
}

/// Tokens of every algorithm verify with a standard JWT library against the published JWKS.
#[tokio::test]
async fn every_signing_algorithm_verifies_against_the_jwks() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    for (signing, alg) in [
        (Signing::Es256, Algorithm::ES256),
        (Signing::EdDsa, Algorithm::EdDSA),
        (Signing::Rs256, Algorithm::RS256),
        (Signing::Hs256, Algorithm::HS256),
    ] {
        let s = start_with(|c| c.signing = signing).await;
        let l = login(&s, 1).await;
        let at = l.str("access_token");
        assert_eq!(me(&s, Some(at)).await.status, StatusCode::OK, "{signing}");
        assert_eq!(jwt_header(at)["alg"], format!("{alg:?}"));
        let set: JwkSet = http()
            .get(format!("{}/.well-known/jwks.json", s.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if signing == Signing::Hs256 {
            assert!(set.keys.is_empty(), "a shared secret is never published");
            continue;
        }
        assert_eq!(set.keys.len(), 1);
        let jwk = &set.keys[0];
        assert_eq!(jwk.common.key_id.as_deref(), jwt_header(at)["kid"].as_str());
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut v = Validation::new(alg);
        v.set_audience(&["authbench"]);
        v.set_issuer(&[s.base_url()]);
        let data = jsonwebtoken::decode::<serde_json::Value>(at, &key, &v)
            .unwrap_or_else(|e| panic!("{signing}: {e}"));
        assert_eq!(data.claims["sub"], "user1");
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let s = start_with(|c| c.max_body = 1024).await;
    let big = "x".repeat(4096);
    let r = http()
        .post(format!("{}/oauth/token", s.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("username", big.as_str()),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = http()
        .post(format!("{}/api/auth/login", s.base_url()))
        .json(&json!({"username": big, "password": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    login(&s, 1).await; // small bodies still work
}

#[tokio::test]
async fn shutdown_is_graceful_and_frees_the_port() {
    let s = start(cfg()).await;
    let addr = s.local_addr();
    login(&s, 1).await;
    let t = std::time::Instant::now();
    s.shutdown().await;
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    // the same port can be bound again right away (SO_REUSEADDR)
    let again = start_with(|c| c.port = addr.port()).await;
    assert_eq!(again.local_addr(), addr);
    again.shutdown().await;
}

#[tokio::test]
async fn port_in_use_is_a_bind_error() {
    let s = start(cfg()).await;
    let err = authbench_mock::start(authbench_mock::MockConfig {
        port: s.local_addr().port(),
        ..cfg()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, authbench_mock::MockError::Bind { .. }),
        "{err}"
    );
}
