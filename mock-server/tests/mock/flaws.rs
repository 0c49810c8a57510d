//! Each flaw: the same probe against a correct server and a server with the flaw shows exactly
//! the deviation the flaw is named for.

use std::time::Duration;

use authbench_mock::{Flaw, MockConfig, MockServer};
use futures::StreamExt;
use reqwest::StatusCode;

use crate::support::*;

/// A correct server and one with `flaw`, both configured by `f`.
async fn pair(flaw: Flaw, f: impl Fn(&mut MockConfig)) -> (MockServer, MockServer) {
    (start_with(&f).await, start_flawed(flaw, &f).await)
}

#[test]
fn every_flaw_has_a_test_here() {
    let src = include_str!("flaws.rs");
    for f in Flaw::ALL {
        let variant = format!("{f:?}");
        assert!(
            src.contains(&format!("Flaw::{variant},")),
            "no test for {f}"
        );
    }
}

#[tokio::test]
async fn accept_alg_none() {
    let (good, bad) = pair(Flaw::AcceptAlgNone, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(
            me(s, Some(&alg_none(l.str("access_token")))).await.status,
            want
        );
    }
}

/// With access tokens of `ttl`, what `/me` answers a token of its own past `exp`: the correct
/// server's status, the flawed server's status, and the flawed server.
async fn me_after_expiry(flaw: Flaw, ttl: Duration) -> ((StatusCode, StatusCode), MockServer) {
    let (good, bad) = pair(flaw, |c| c.access_ttl = ttl).await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    until_expired(lb.str("access_token")).await;
    until_expired(lg.str("access_token")).await;
    let statuses = (
        me(&good, Some(lg.str("access_token"))).await.status,
        me(&bad, Some(lb.str("access_token"))).await.status,
    );
    (statuses, bad)
}

#[tokio::test]
async fn accept_expired() {
    let (statuses, _) = me_after_expiry(Flaw::AcceptExpired, Duration::from_secs(1)).await;
    assert_eq!(statuses, (StatusCode::UNAUTHORIZED, StatusCode::OK));
}

#[tokio::test]
async fn forbidden_on_expired() {
    let (statuses, bad) = me_after_expiry(Flaw::ForbiddenOnExpired, Duration::from_secs(1)).await;
    assert_eq!(statuses, (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN));
    // only expiry changes: a garbage token is still 401
    assert_eq!(
        me(&bad, Some("garbage")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn no_www_authenticate() {
    let (good, bad) = pair(Flaw::NoWwwAuthenticate, |_| {}).await;
    for token in [None, Some("garbage")] {
        let (g, b) = (me(&good, token).await, me(&bad, token).await);
        assert_eq!(
            (g.status, b.status),
            (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        );
        assert!(g.header("www-authenticate").is_some());
        assert!(b.header("www-authenticate").is_none());
    }
}

#[tokio::test]
async fn no_rotation() {
    let (good, bad) = pair(Flaw::NoRotation, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_ne!(
        refresh(&good, lg.str("refresh_token"))
            .await
            .str("refresh_token"),
        lg.str("refresh_token")
    );
    let lb = login(&bad, 1).await;
    assert_eq!(
        refresh(&bad, lb.str("refresh_token"))
            .await
            .str("refresh_token"),
        lb.str("refresh_token")
    );
}

#[tokio::test]
async fn rotate_once() {
    let (good, bad) = pair(Flaw::RotateOnce, |_| {}).await;
    for (s, rotates_again) in [(&good, true), (&bad, false)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        // The login's token is rotated either way.
        assert_ne!(r1.str("refresh_token"), l.str("refresh_token"));
        let r2 = refresh(s, r1.str("refresh_token")).await;
        assert_eq!(r2.status, StatusCode::OK);
        assert_eq!(
            r2.str("refresh_token") != r1.str("refresh_token"),
            rotates_again
        );
    }
}

#[tokio::test]
async fn reuse_allowed() {
    let (good, bad) = pair(Flaw::ReuseAllowed, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(
            refresh(s, l.str("refresh_token")).await.status,
            StatusCode::OK
        );
        assert_eq!(refresh(s, l.str("refresh_token")).await.status, want);
    }
    assert_eq!(bad.stats().reuse_detected, 0);
}

#[tokio::test]
async fn no_family_revocation() {
    let (good, bad) = pair(Flaw::NoFamilyRevocation, |_| {}).await;
    for (s, successor_after_reuse) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        assert_eq!(
            refresh(s, l.str("refresh_token")).await.status,
            StatusCode::BAD_REQUEST,
            "reuse is rejected"
        );
        assert_eq!(
            refresh(s, r1.str("refresh_token")).await.status,
            successor_after_reuse
        );
        assert_eq!(s.stats().reuse_detected, 1);
    }
}

async fn concurrent_refreshes(s: &MockServer, rt: &str, n: usize) -> Vec<String> {
    let client = http();
    let url = format!("{}/oauth/token", s.base_url());
    let calls = (0..n).map(|_| {
        let req = client
            .post(&url)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)]);
        async move {
            let r = send(req).await;
            (r.status == StatusCode::OK).then(|| r.str("refresh_token").to_string())
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_rotation() {
    let (good, bad) = pair(Flaw::RacyRotation, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_eq!(
        concurrent_refreshes(&good, lg.str("refresh_token"), 20)
            .await
            .len(),
        1
    );
    let lb = login(&bad, 1).await;
    let mut winners = concurrent_refreshes(&bad, lb.str("refresh_token"), 20).await;
    assert!(winners.len() > 1, "{} winners", winners.len());
    winners.sort();
    winners.dedup();
    assert!(winners.len() > 1, "each winner got its own successor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_rotated() {
    let (good, bad) = pair(Flaw::RacyRotated, |_| {}).await;
    for (s, forks) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        // A login's token rotates atomically either way.
        assert_eq!(
            concurrent_refreshes(s, l.str("refresh_token"), 20)
                .await
                .len(),
            1
        );
        let l = login(s, 2).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        let mut winners = concurrent_refreshes(s, r1.str("refresh_token"), 20).await;
        winners.sort();
        winners.dedup();
        assert_eq!(winners.len() > 1, forks, "{} successors", winners.len());
    }
}

#[tokio::test]
async fn revocation_lapses() {
    let (good, bad) = pair(Flaw::RevocationLapses, |_| {}).await;
    for (s, lapses) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        revoke(s, l.str("refresh_token")).await;
        // Refused at once either way.
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(s, l.str("refresh_token")).await.status,
            StatusCode::BAD_REQUEST
        );
        // 300 ms later the flawed server has forgotten the revocation.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let want = if lapses {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(refresh(s, l.str("refresh_token")).await.status, want);
    }
}

#[tokio::test]
async fn refresh_as_access() {
    let (good, bad) = pair(Flaw::RefreshAsAccess, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(me(s, Some(l.str("refresh_token"))).await.status, want);
    }
}

#[tokio::test]
async fn access_as_refresh() {
    let (good, bad) = pair(Flaw::AccessAsRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        assert_eq!(refresh(s, l.str("access_token")).await.status, want);
    }
}

#[tokio::test]
async fn logout_keeps_refresh() {
    let (good, bad) = pair(Flaw::LogoutKeepsRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::BAD_REQUEST), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        http()
            .post(format!("{}/oauth/revoke", s.base_url()))
            .form(&[("token", l.str("refresh_token"))])
            .send()
            .await
            .unwrap();
        // the access token dies either way; only the refresh token differs
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(refresh(s, l.str("refresh_token")).await.status, want);
    }
}

#[tokio::test]
async fn session_extends() {
    // Each step has 2 s or more to spare, so a stall of the machine of 1-2 s lands no call on the
    // wrong side of an end: the refresh at 2.2 s is inside both 4.5 s sessions, the next one at
    // 4.6 s past the correct end and 2.1 s before the flawed one (restarted at 2.2 s).
    let (good, bad) = pair(Flaw::SessionExtends, |c| {
        c.max_session = Duration::from_millis(4500)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!((rg.status, rb.status), (StatusCode::OK, StatusCode::OK));
    tokio::time::sleep(Duration::from_millis(2400)).await;
    assert_eq!(
        refresh(&good, rg.str("refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refresh(&bad, rb.str("refresh_token")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ws_no_handshake_auth() {
    let (good, bad) = pair(Flaw::WsNoHandshakeAuth, |_| {}).await;
    assert_eq!(ws_connect(&good, Transport::None).await.err(), Some(401));
    let (mut ws, _) = ws_connect(&bad, Transport::None)
        .await
        .expect("anonymous upgrade");
    let welcome = next_event(&mut ws, WAIT).await.unwrap();
    assert_eq!(welcome["type"], "welcome");
    assert!(welcome["session_id"].is_null());
    client_close(ws).await;
}

#[tokio::test]
async fn ws_stays_open_after_expiry() {
    let (good, bad) = pair(Flaw::WsStaysOpenAfterExpiry, |c| {
        c.access_ttl = Duration::from_secs(1);
        c.ws_tick = Duration::from_millis(100);
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    let mut wg = ws_open(&good, lg.str("access_token")).await;
    let mut wb = ws_open(&bad, lb.str("access_token")).await;
    let end = until_close(&mut wg, WAIT).await;
    assert_eq!(end.close_code, Some(4401));
    // the flawed socket keeps ticking: tick 25 comes 2.5 s after the upgrade, past any 1 s token's exp
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = next_event(&mut wb, deadline - tokio::time::Instant::now())
            .await
            .expect("the socket stays open");
        if ev["type"] == "tick" && ev["seq"].as_u64().unwrap() >= 25 {
            break;
        }
        assert!(ev["type"] == "tick" || ev["type"] == "welcome", "{ev}");
    }
    client_close(wb).await;
}

#[tokio::test]
async fn no_kick() {
    let (good, bad) = pair(Flaw::NoKick, |c| {
        c.single_session = true;
        c.ws_tick = Duration::from_millis(100);
    })
    .await;
    for s in [&good, &bad] {
        let (l, mut ws) = ws_welcomed(s, 1).await;
        login(s, 1).await;
        // the old session is revoked either way
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        if std::ptr::eq(s, &good) {
            let end = until_close(&mut ws, WAIT).await;
            assert_eq!(
                (end.types(), end.close_code),
                (vec!["kicked".to_string()], Some(4409))
            );
        } else {
            // no event, the socket stays open and keeps ticking
            for _ in 0..3 {
                assert_eq!(next_event(&mut ws, WAIT).await.unwrap()["type"], "tick");
            }
            client_close(ws).await;
        }
    }
}

/// Every kind of logout revokes the session with or without the flaw; with it, the session's
/// socket hears nothing of it (no event, no close) and keeps ticking.
#[tokio::test]
async fn silent_logout() {
    let (good, bad) = pair(Flaw::SilentLogout, |c| {
        c.ws_tick = Duration::from_millis(100);
    })
    .await;
    for s in [&good, &bad] {
        let flawed = std::ptr::eq(s, &bad);
        for how in ["admin logout", "revocation", "logout everywhere"] {
            let (l, mut ws) = ws_welcomed(s, 1).await;
            match how {
                "admin logout" => {
                    admin_logout(s, "user1", "admin-secret").await;
                }
                "revocation" => {
                    revoke(s, l.str("refresh_token")).await;
                }
                _ => {
                    logout_all(s, Some(l.str("access_token"))).await;
                }
            }
            // the session is over either way
            assert_session_over(s, &l).await;
            if flawed {
                for _ in 0..3 {
                    assert_eq!(
                        next_event(&mut ws, WAIT).await.unwrap()["type"],
                        "tick",
                        "{how}"
                    );
                }
                client_close(ws).await;
            } else {
                let end = until_close(&mut ws, WAIT).await;
                assert_eq!(
                    (end.types(), end.close_code),
                    (vec!["logout".to_string()], Some(4403)),
                    "{how}"
                );
            }
        }
    }
}

#[tokio::test]
async fn wrong_close_code() {
    let (good, bad) = pair(Flaw::WrongCloseCode, |_| {}).await;
    for (s, want_types, want_code) in [(&good, vec!["logout"], 4403), (&bad, vec![], 1000)] {
        let (_, mut ws) = ws_welcomed(s, 1).await;
        admin_logout(s, "user1", "admin-secret").await;
        let end = until_close(&mut ws, WAIT).await;
        assert_eq!(end.types(), want_types);
        assert_eq!(end.close_code, Some(want_code));
    }
}

#[tokio::test]
async fn no_close_after_event() {
    let (good, bad) = pair(Flaw::NoCloseAfterEvent, |c| c.single_session = true).await;
    for s in [&good, &bad] {
        let flawed = std::ptr::eq(s, &bad);
        for (how, want, code) in [("logout", "logout", 4403), ("kick", "kicked", 4409)] {
            let (_, mut ws) = ws_welcomed(s, 1).await;
            if how == "logout" {
                admin_logout(s, "user1", "admin-secret").await;
            } else {
                login(s, 1).await;
            }
            if flawed {
                assert_eq!(next_event(&mut ws, WAIT).await.unwrap()["type"], want);
                // told, but no close frame follows: the socket stays open
                let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
                assert!(quiet.is_err(), "{how}: {quiet:?}");
                client_close(ws).await;
            } else {
                let end = until_close(&mut ws, WAIT).await;
                assert_eq!(end.types(), vec![want]);
                assert_eq!(end.close_code, Some(code));
            }
        }
    }
}

#[tokio::test]
async fn refresh_cacheable() {
    let (good, bad) = pair(Flaw::RefreshCacheable, |_| {}).await;
    for (s, want) in [(&good, Some("no-store")), (&bad, None)] {
        let l = login(s, 1).await;
        // the login response is not affected
        assert_eq!(l.header("cache-control"), Some("no-store"));
        let r = refresh(s, l.str("refresh_token")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("cache-control"), want);
    }
}

#[tokio::test]
async fn accept_query_token() {
    let (good, bad) = pair(Flaw::AcceptQueryToken, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let r = send(
            http()
                .get(format!("{}/api/me", s.base_url()))
                .query(&[("access_token", l.str("access_token"))]),
        )
        .await;
        assert_eq!(r.status, want);
    }
}

async fn revoke(s: &MockServer, token: &str) -> Reply {
    send(
        http()
            .post(format!("{}/oauth/revoke", s.base_url()))
            .form(&[("token", token)]),
    )
    .await
}

#[tokio::test]
async fn revoke_unknown_error() {
    let (good, bad) = pair(Flaw::RevokeUnknownError, |_| {}).await;
    for (s, want) in [(&good, StatusCode::OK), (&bad, StatusCode::BAD_REQUEST)] {
        assert_eq!(revoke(s, "garbage").await.status, want);
        // tokens the server issued are revoked as usual, even twice
        let l = login(s, 1).await;
        for _ in 0..2 {
            assert_eq!(
                revoke(s, l.str("refresh_token")).await.status,
                StatusCode::OK
            );
        }
        assert_session_over(s, &l).await;
    }
}

#[tokio::test]
async fn introspect_revoked_active() {
    let (good, bad) = pair(Flaw::IntrospectRevokedActive, |_| {}).await;
    for (s, want) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        assert_eq!(
            revoke(s, l.str("access_token")).await.status,
            StatusCode::OK
        );
        let introspect = |token: String| {
            send(
                http()
                    .post(format!("{}/oauth/introspect", s.base_url()))
                    .bearer_auth("admin-secret")
                    .form(&[("token", token)]),
            )
        };
        let r = introspect(l.str("access_token").to_string()).await;
        assert_eq!(r.body["active"], want, "{}", r.body);
        // the resource server refuses it either way; garbage is inactive either way
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(introspect("garbage".into()).await.body["active"], false);
    }
}

#[tokio::test]
async fn introspect_no_access_tokens() {
    let (good, bad) = pair(Flaw::IntrospectNoAccessTokens, |_| {}).await;
    for (s, flawed) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        let introspect = |token: String| {
            send(
                http()
                    .post(format!("{}/oauth/introspect", s.base_url()))
                    .bearer_auth("admin-secret")
                    .form(&[("token", token)]),
            )
        };
        let r = introspect(l.str("access_token").to_string()).await;
        if flawed {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
            assert_eq!(r.body["error"], "unsupported_token_type");
        } else {
            assert_eq!(r.body["active"], true, "{}", r.body);
        }
        // Refresh tokens and unknown tokens as usual.
        let rt = introspect(l.str("refresh_token").to_string()).await;
        assert_eq!(rt.body["active"], true, "{}", rt.body);
        assert_eq!(introspect("garbage".into()).await.body["active"], false);
    }
}

/// What `/oauth/introspect` answers a caller without the admin key that asks about a live access
/// token, on each server.
async fn introspect_unauthenticated(
    servers: [&MockServer; 2],
) -> [(StatusCode, serde_json::Value); 2] {
    let mut out = Vec::new();
    for s in servers {
        let l = login(s, 1).await;
        let r = send(
            http()
                .post(format!("{}/oauth/introspect", s.base_url()))
                .form(&[("token", l.str("access_token"))]),
        )
        .await;
        out.push((r.status, r.body));
    }
    out.try_into().unwrap()
}

#[tokio::test]
async fn introspect_open() {
    let (good, bad) = pair(Flaw::IntrospectOpen, |_| {}).await;
    let [good, bad] = introspect_unauthenticated([&good, &bad]).await;
    assert_eq!(good.0, StatusCode::UNAUTHORIZED, "{}", good.1);
    assert_eq!(bad.0, StatusCode::OK, "{}", bad.1);
    assert_eq!(bad.1["active"], true, "{}", bad.1);
}

#[tokio::test]
async fn introspect_unauthenticated_400() {
    let (good, bad) = pair(Flaw::IntrospectUnauthenticated400, |_| {}).await;
    let [good, bad] = introspect_unauthenticated([&good, &bad]).await;
    assert_eq!(good.0, StatusCode::UNAUTHORIZED, "{}", good.1);
    assert_eq!(bad.0, StatusCode::BAD_REQUEST, "{}", bad.1);
    assert_eq!(bad.1["error"], "invalid_request", "{}", bad.1);
    assert!(bad.1.get("active").is_none(), "{}", bad.1);
}

/// `jwt`'s claims under `header`, HMAC-SHA256-signed with `secret`.
fn resigned_hs256(jwt: &str, header: &str, secret: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = jwt.split('.').nth(1).unwrap();
    let signed = format!("{}.{payload}", b64.encode(header));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signed.as_bytes());
    format!("{signed}.{}", b64.encode(tag.as_ref()))
}

#[tokio::test]
async fn unverified_signature() {
    let (good, bad) = pair(Flaw::UnverifiedSignature, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let at = l.str("access_token");
        let stripped = format!("{}.", at.rsplit_once('.').unwrap().0);
        assert_eq!(me(s, Some(&stripped)).await.status, want);
        // alg none is still refused
        assert_eq!(
            me(s, Some(&alg_none(at))).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

/// DER of an ASN.1 element.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The PKCS#1 RSAPublicKey DER of the server's RSA JWK.
async fn rsa_public_der(s: &MockServer) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = send(http().get(format!("{}/.well-known/jwks.json", s.base_url()))).await;
    let key = &jwks.body["keys"][0];
    let int = |member: &str| {
        let mut v = b64.decode(key[member].as_str().unwrap()).unwrap();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        der(0x02, &v)
    };
    der(0x30, &[int("n"), int("e")].concat())
}

#[tokio::test]
async fn hs256_key_confusion() {
    let (good, bad) = pair(Flaw::Hs256KeyConfusion, |c| {
        c.signing = authbench_mock::Signing::Rs256
    })
    .await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let secret = rsa_public_der(s).await;
        let header = r#"{"alg":"HS256","typ":"at+jwt"}"#;
        let forged = resigned_hs256(l.str("access_token"), header, &secret);
        assert_eq!(me(s, Some(&forged)).await.status, want);
        // any other secret is refused
        let other = resigned_hs256(l.str("access_token"), header, b"secret");
        assert_eq!(me(s, Some(&other)).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn kid_file_path() {
    let (good, bad) = pair(Flaw::KidFilePath, |_| {}).await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let header = r#"{"alg":"HS256","typ":"at+jwt","kid":"../../../../../../../dev/null"}"#;
        let forged = resigned_hs256(l.str("access_token"), header, b"");
        assert_eq!(me(s, Some(&forged)).await.status, want);
        // a kid naming no file is refused
        let header = r#"{"alg":"HS256","typ":"at+jwt","kid":"no such key file"}"#;
        let forged = resigned_hs256(l.str("access_token"), header, b"");
        assert_eq!(me(s, Some(&forged)).await.status, StatusCode::UNAUTHORIZED);
    }
}

/// One frame from the server (unmasked): its opcode and payload.
async fn raw_frame(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    r.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => r.read_u16().await.unwrap() as usize,
        127 => r.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0f, payload)
}

/// Opens `/ws` with `user1`'s token over a plain TCP connection, has the admin log the user out,
/// and returns the close code exactly as the server put it on the wire (no WebSocket library in
/// between: tungstenite would report an illegal code as 1002).
async fn close_code_on_the_wire(s: &MockServer) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let l = login(s, 1).await;
    let tcp = tokio::net::TcpStream::connect(s.local_addr())
        .await
        .unwrap();
    let mut io = BufReader::new(tcp);
    let request = format!(
        "GET /ws?access_token={} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        l.str("access_token"),
        s.local_addr()
    );
    io.get_mut().write_all(request.as_bytes()).await.unwrap();
    let mut line = String::new();
    io.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    while line != "\r\n" {
        line.clear();
        io.read_line(&mut line).await.unwrap();
    }
    assert_eq!(raw_frame(&mut io).await.0, 0x1, "the welcome");
    admin_logout(s, "user1", "admin-secret").await;
    tokio::time::timeout(WAIT, async {
        loop {
            let (opcode, payload) = raw_frame(&mut io).await;
            if opcode == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("a close frame")
}

#[tokio::test]
async fn illegal_close_code() {
    let (good, bad) = pair(Flaw::IllegalCloseCode, |_| {}).await;
    // tungstenite reports an illegal code from the server as 1002 "Protocol violation"
    for (s, want_code) in [(&good, 4403), (&bad, 1002)] {
        let (_, mut ws) = ws_welcomed(s, 1).await;
        admin_logout(s, "user1", "admin-secret").await;
        let end = until_close(&mut ws, WAIT).await;
        assert_eq!(end.types(), vec!["logout"]);
        assert_eq!(end.close_code, Some(want_code));
    }
    // on the wire: 4403, and 1006 from the flawed server
    assert_eq!(close_code_on_the_wire(&good).await, 4403);
    assert_eq!(close_code_on_the_wire(&bad).await, 1006);
}

#[tokio::test]
async fn renewal_same_expiry() {
    // A 2.5 s renewal window on 3 s tokens: the call 2.3 s before exp is inside it, and still
    // before exp after a stall of the machine of up to 2.3 s (with 1 s on 2 s tokens, 0.7 s).
    let (good, bad) = pair(Flaw::RenewalSameExpiry, |c| {
        c.access_ttl = Duration::from_secs(3);
        c.sliding_window = Duration::from_millis(2500);
    })
    .await;
    for (s, later) in [(&good, true), (&bad, false)] {
        let l = login(s, 1).await;
        let at = l.str("access_token");
        let exp = claims(at)["exp"].as_u64().unwrap();
        // inside the renewal window: less than 2.5 s left
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(exp * 1000 - 2300).saturating_sub(now)).await;
        let r = me(s, Some(at)).await;
        let renewed = r.header("new-access-token").expect("renewal header");
        assert_ne!(renewed, at);
        assert_eq!(claims(renewed)["exp"].as_u64().unwrap() > exp, later);
        assert_eq!(me(s, Some(renewed)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn cached_verdicts() {
    let (good, bad) = pair(Flaw::CachedVerdicts, |c| {
        c.access_ttl = Duration::from_secs(1)
    })
    .await;
    for (s, want) in [(&good, StatusCode::UNAUTHORIZED), (&bad, StatusCode::OK)] {
        let l = login(s, 1).await;
        let at = l.str("access_token");
        assert_eq!(me(s, Some(at)).await.status, StatusCode::OK);
        assert_eq!(
            revoke(s, l.str("refresh_token")).await.status,
            StatusCode::OK
        );
        // logged out, then expired: only the cache still accepts it
        assert_eq!(me(s, Some(at)).await.status, want);
        until_expired(at).await;
        assert_eq!(me(s, Some(at)).await.status, want);
        // a token never accepted before is judged as usual
        let other = login(s, 2).await;
        assert_eq!(
            revoke(s, other.str("refresh_token")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            me(s, Some(other.str("access_token"))).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn reject_all_refresh() {
    let (good, bad) = pair(Flaw::RejectAllRefresh, |_| {}).await;
    for (s, want) in [(&good, StatusCode::OK), (&bad, StatusCode::BAD_REQUEST)] {
        let l = login(s, 1).await;
        let r = refresh(s, l.str("refresh_token")).await;
        assert_eq!(r.status, want, "{}", r.body);
    }
    // only refresh changes: the login's access token works
    let l = login(&bad, 2).await;
    assert_eq!(
        me(&bad, Some(l.str("access_token"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_shot_rotation() {
    let (good, bad) = pair(Flaw::OneShotRotation, |_| {}).await;
    for (s, want) in [(&good, StatusCode::OK), (&bad, StatusCode::BAD_REQUEST)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        assert_eq!(r1.status, StatusCode::OK, "the login's token refreshes");
        assert_eq!(refresh(s, r1.str("refresh_token")).await.status, want);
    }
}

#[tokio::test]
async fn session_ends_early() {
    // 5 s sessions, the flawed one over at 2.5 s: the refresh at 2.8 s is past the early end and
    // 2.2 s before the real one, room for a stall of the machine.
    let (good, bad) = pair(Flaw::SessionEndsEarly, |c| {
        c.max_session = Duration::from_secs(5)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    // both announce the full session
    assert_eq!(lb.body["refresh_expires_in"], lg.body["refresh_expires_in"]);
    tokio::time::sleep(Duration::from_millis(2800)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!(
        (rg.status, rb.status),
        (StatusCode::OK, StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn grace_new_successor() {
    let (good, bad) = pair(Flaw::GraceNewSuccessor, |c| {
        c.reuse_grace = Duration::from_secs(5)
    })
    .await;
    for (s, forked) in [(&good, false), (&bad, true)] {
        let l = login(s, 1).await;
        let r1 = refresh(s, l.str("refresh_token")).await;
        let again = refresh(s, l.str("refresh_token")).await;
        assert_eq!(again.status, StatusCode::OK, "inside the grace window");
        assert_eq!(
            again.str("refresh_token") != r1.str("refresh_token"),
            forked
        );
        // with the flaw both successors are live chains
        let other = refresh(s, r1.str("refresh_token")).await.status;
        assert_eq!(other, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_one_in_four() {
    let (good, bad) = pair(Flaw::ForkOneInFour, |_| {}).await;
    let lg = login(&good, 1).await;
    assert_eq!(
        concurrent_refreshes(&good, lg.str("refresh_token"), 8)
            .await
            .len(),
        1
    );
    let mut forked = Vec::new();
    for round in 1..=8 {
        let l = login(&bad, 1).await;
        let mut winners = concurrent_refreshes(&bad, l.str("refresh_token"), 8).await;
        winners.sort();
        winners.dedup();
        if winners.len() > 1 {
            forked.push(round);
        }
    }
    assert_eq!(forked, vec![4, 8], "the 4th and 8th login of the user fork");
}

#[tokio::test]
async fn bare_bearer_challenge() {
    let (good, bad) = pair(Flaw::BareBearerChallenge, |_| {}).await;
    let g = me(&good, Some("garbage")).await;
    let b = me(&bad, Some("garbage")).await;
    assert_eq!(
        (g.status, b.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert!(
        g.header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        b.header("www-authenticate"),
        Some("Bearer realm=\"authbench\"")
    );
}

#[tokio::test]
async fn scope_401() {
    let (good, bad) = pair(Flaw::Scope401, |_| {}).await;
    for (s, want, error) in [
        (&good, StatusCode::FORBIDDEN, "insufficient_scope"),
        (&bad, StatusCode::UNAUTHORIZED, "invalid_token"),
    ] {
        let l = login(s, 1).await;
        let at = l.str("access_token");
        assert_eq!(me(s, Some(at)).await.status, StatusCode::OK, "token valid");
        let r = send(
            http()
                .get(format!("{}/api/admin", s.base_url()))
                .bearer_auth(at),
        )
        .await;
        assert_eq!(r.status, want);
        let www = r.header("www-authenticate").unwrap_or_default();
        assert!(www.contains(&format!("error=\"{error}\"")), "{www}");
        assert!(www.contains("scope=\"admin\""), "{www}");
        // An invalid token is refused as at /api/me, flaw or not.
        let r = send(
            http()
                .get(format!("{}/api/admin", s.base_url()))
                .bearer_auth("garbage"),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn idle_never() {
    let (good, bad) = pair(Flaw::IdleNever, |c| c.idle_timeout = Duration::from_secs(1)).await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    // both announce the idle timeout
    assert_eq!(lb.body["refresh_expires_in"], 1);
    assert_eq!(lg.body["refresh_expires_in"], 1);
    // Past a pass of the mock's janitor (every 5 s): the flawed session is not pruned either.
    tokio::time::sleep(Duration::from_millis(5600)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!(
        (rg.status, rb.status),
        (StatusCode::BAD_REQUEST, StatusCode::OK)
    );
    assert!(rg.description().contains("idle timeout"), "{}", rg.body);
}

#[tokio::test]
async fn idle_early() {
    // A 5 s idle timeout, the flawed one enforced at 2.5 s: the refresh at 2.8 s is past the early
    // end and 2.2 s before the real one, room for a stall of the machine.
    let (good, bad) = pair(Flaw::IdleEarly, |c| c.idle_timeout = Duration::from_secs(5)).await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    assert_eq!(
        lb.body["refresh_expires_in"], 5,
        "announces the full timeout"
    );
    tokio::time::sleep(Duration::from_millis(2800)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!(
        (rg.status, rb.status),
        (StatusCode::OK, StatusCode::BAD_REQUEST)
    );
    assert!(rb.description().contains("idle timeout"), "{}", rb.body);
}

#[tokio::test]
async fn idle_not_extended() {
    // A 5 s idle timeout and refreshes 2.6 s apart: each is 2.4 s before the end it must beat and
    // the second 0.2 s past the flawed end (5 s after the login), room for a stall of the machine.
    let (good, bad) = pair(Flaw::IdleNotExtended, |c| {
        c.idle_timeout = Duration::from_secs(5)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (rg, rb) = (
        refresh(&good, lg.str("refresh_token")).await,
        refresh(&bad, lb.str("refresh_token")).await,
    );
    assert_eq!((rg.status, rb.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        rb.body["refresh_expires_in"], 5,
        "announces the restarted idle clock"
    );
    // 5.2 s after the login, 2.6 s after the refresh: only the correct server extended it.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (rg, rb) = (
        refresh(&good, rg.str("refresh_token")).await,
        refresh(&bad, rb.str("refresh_token")).await,
    );
    assert_eq!(
        (rg.status, rb.status),
        (StatusCode::OK, StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn session_limit_ignored() {
    let (good, bad) = pair(Flaw::SessionLimitIgnored, |c| c.max_sessions = 1).await;
    for (s, kicked) in [(&good, 1), (&bad, 0)] {
        let a = login(s, 1).await;
        let b = login(s, 1).await;
        if kicked == 1 {
            assert_session_over(s, &a).await;
        } else {
            assert_live(s, &a).await;
        }
        assert_live(s, &b).await;
        assert_eq!(s.stats().sessions_kicked, kicked);
    }
}

#[tokio::test]
async fn logout_everywhere_partial() {
    let (good, bad) = pair(Flaw::LogoutEverywherePartial, |_| {}).await;
    for (s, revoked) in [(&good, 2), (&bad, 1)] {
        let a = login(s, 1).await;
        let b = login(s, 1).await;
        let r = logout_all(s, Some(b.str("access_token"))).await;
        assert_eq!(r.body["sessions_revoked"], revoked);
        assert_session_over(s, &b).await;
        if revoked == 2 {
            assert_session_over(s, &a).await;
        } else {
            assert_live(s, &a).await;
        }
    }
}

#[tokio::test]
async fn logout_ends_all_sessions() {
    let (good, bad) = pair(Flaw::LogoutEndsAllSessions, |_| {}).await;
    for (s, takes_all) in [(&good, false), (&bad, true)] {
        let a = login(s, 1).await;
        let b = login(s, 1).await;
        let other = login(s, 2).await;
        json_logout(s, a.str("refresh_token")).await;
        assert_session_over(s, &a).await;
        if takes_all {
            assert_session_over(s, &b).await;
        } else {
            assert_live(s, &b).await;
        }
        assert_live(s, &other).await;
    }
}

#[tokio::test]
async fn generic_session_end() {
    let (good, bad) = pair(Flaw::GenericSessionEnd, |c| c.single_session = true).await;
    // What a kick and an admin logout leave on the socket, the 401 and the refresh refusal.
    async fn ends(s: &MockServer) -> Vec<(Vec<String>, Option<u16>, String, String)> {
        let mut out = Vec::new();
        for (n, admin) in [(1, false), (2, true)] {
            let (l, mut ws) = ws_welcomed(s, n).await;
            if admin {
                admin_logout(s, &format!("user{n}"), "admin-secret").await;
            } else {
                login(s, n).await;
            }
            let end = until_close(&mut ws, WAIT).await;
            let api = me(s, Some(l.str("access_token"))).await;
            assert_eq!(api.status, StatusCode::UNAUTHORIZED);
            let r = refresh(s, l.str("refresh_token")).await;
            assert_eq!(
                (r.status, r.error()),
                (StatusCode::BAD_REQUEST, "invalid_grant")
            );
            out.push((
                end.types(),
                end.close_code,
                api.description().to_string(),
                r.description().to_string(),
            ));
        }
        out
    }
    let (g, b) = (ends(&good).await, ends(&bad).await);
    assert_eq!(
        (g[0].0.clone(), g[0].1, g[1].0.clone(), g[1].1),
        (
            vec!["kicked".to_string()],
            Some(4409),
            vec!["logout".to_string()],
            Some(4403)
        )
    );
    assert_ne!(g[0].2, g[1].2, "distinct 401 descriptions");
    assert_ne!(g[0].3, g[1].3, "distinct refresh descriptions");
    // The flaw: one signal for both causes, on every channel.
    assert_eq!(b[0], b[1]);
    assert_eq!(b[0].0, Vec::<String>::new());
    assert_eq!(b[0].1, Some(4403));
    assert_eq!(b[0].2, "the session has ended");
    assert_eq!(b[0].3, "the session has ended");
    // Reuse detection keeps its own wording.
    let l = login(&bad, 4).await;
    let rt = l.str("refresh_token").to_string();
    assert_eq!(refresh(&bad, &rt).await.status, StatusCode::OK);
    let reuse = refresh(&bad, &rt).await;
    assert!(
        reuse.description().contains("reuse"),
        "{}",
        reuse.description()
    );
}

#[tokio::test]
async fn exp_millis() {
    let (good, bad) = pair(Flaw::ExpMillis, |c| c.access_ttl = Duration::from_secs(2)).await;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    let exp = |l: &Reply| claims(l.str("access_token"))["exp"].as_u64().unwrap();
    assert!(exp(&lg) <= now_s + 4, "seconds: {}", exp(&lg));
    assert!(exp(&lb) >= now_s * 1000, "milliseconds: {}", exp(&lb));
    // The announcement and the server's own expiry stay right.
    assert_eq!(lb.body["expires_in"], lg.body["expires_in"]);
    assert_eq!(
        me(&bad, Some(lb.str("access_token"))).await.status,
        StatusCode::OK
    );
    until_expired(lg.str("access_token")).await;
    assert_eq!(
        me(&bad, Some(lb.str("access_token"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn access_dies_early() {
    // 5 s tokens: the flawed server refuses its own after 2 s (2/5), the correct one takes them
    // until their exp; both announce the whole.
    let (good, bad) = pair(Flaw::AccessDiesEarly, |c| {
        c.access_ttl = Duration::from_secs(5)
    })
    .await;
    let (lg, lb) = (login(&good, 1).await, login(&bad, 1).await);
    assert_eq!(lb.body["expires_in"], lg.body["expires_in"]);
    for (s, l) in [(&good, &lg), (&bad, &lb)] {
        assert_eq!(
            me(s, Some(l.str("access_token"))).await.status,
            StatusCode::OK
        );
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        me(&good, Some(lg.str("access_token"))).await.status,
        StatusCode::OK
    );
    let refused = me(&bad, Some(lb.str("access_token"))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|h| h.contains("invalid_token"))
    );
}

#[tokio::test]
async fn accept_any_token() {
    // Any token sent to /api/me is taken (made up, or the refresh token); none is still refused,
    // and a genuine one still names its own subject.
    let (good, bad) = pair(Flaw::AcceptAnyToken, |_| {}).await;
    let lb = login(&bad, 1).await;
    for token in ["garbage", lb.str("refresh_token")] {
        assert_eq!(
            me(&good, Some(token)).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = me(&bad, Some(token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["sub"], "anonymous");
    }
    assert_eq!(me(&bad, None).await.status, StatusCode::UNAUTHORIZED);
    let genuine = me(&bad, Some(lb.str("access_token"))).await;
    assert_eq!(genuine.status, StatusCode::OK);
    assert_eq!(genuine.body["sub"], "user1");
}
