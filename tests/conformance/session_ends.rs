//! SS-04 both ways against the in-process mock: the correct mock tells every kind of session end
//! apart (PASS); the `generic-session-end` flaw answers a logout, an admin logout and a kick alike
//! (WARN, naming the pair and the signals); a server that refuses every refresh still tells them
//! apart by its 401s and sockets, and cannot make a kind of end that did not happen count.

use std::sync::Arc;

use authbench::checks::{self, CheckOptions, Status};
use authbench_mock::Flaw;

async fn ss04(flaws: &[Flaw]) -> (Status, String) {
    ss04_with(flaws, "").await
}

/// SS-04 against a builtin-configured mock with `flaws`, through the `mock` preset changed by the
/// profile keys `yaml`.
async fn ss04_with(flaws: &[Flaw], yaml: &str) -> (Status, String) {
    let mut cfg = checks::builtin_mock_config();
    cfg.flaws.extend_from_slice(flaws);
    let server = authbench_mock::start(cfg).await.expect("mock starts");
    let yaml = format!("preset: mock\nbase_url: {}\n{yaml}", server.base_url());
    let profile = authbench::profile::profile_from_str(&yaml, None)
        .expect("profile")
        .with_admin_key(server.admin_key())
        .with_max_sessions(authbench::profile::MaxSessions::of_mock(server.config()));
    let opts = CheckOptions {
        only: vec!["SS-04".into()],
        ..CheckOptions::default()
    };
    let run = checks::run(Arc::new(profile), &opts).await;
    server.shutdown().await;
    let r = run.get("SS-04").expect("SS-04 ran");
    (r.status, r.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss04_passes_on_distinct_signals_and_warns_on_one_generic_signal() {
    let (good, generic, no_kick) = tokio::join!(
        ss04(&[]),
        ss04(&[Flaw::GenericSessionEnd]),
        ss04(&[Flaw::NoKick])
    );
    assert_eq!(good.0, Status::Pass, "{}", good.1);
    assert_eq!(generic.0, Status::Warn, "{}", generic.1);
    assert!(
        generic
            .1
            .contains("logout and login elsewhere produce the same signals"),
        "{}",
        generic.1
    );
    assert!(generic.1.contains("the session has ended"), "{}", generic.1);
    // Without a kick on the socket the 401 and the refresh refusal still say "replaced".
    assert_eq!(no_kick.0, Status::Pass, "{}", no_kick.1);
}

/// A resource that answers an expired access token with 503 (and a logged-out one with a proper
/// 401) gives no signal of the expiry: SS-04 reports ERROR naming the 503 — taken for an end
/// signal, it differed from the 401s and the check passed. With the expired token answered 401
/// the same resource is judged (no ERROR): the 503 is what stops the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss04_takes_no_5xx_for_a_signal_of_the_end() {
    let (failing, refusing) = tokio::join!(
        ss04_with_canned_resource(503),
        ss04_with_canned_resource(401)
    );
    assert_eq!(failing.0, Status::Error, "{}", failing.1);
    assert!(
        failing.1.contains("503") && failing.1.contains("says nothing about the request"),
        "{}",
        failing.1
    );
    assert_ne!(refusing.0, Status::Error, "{}", refusing.1);
}

/// SS-04 against the mock whose resource is replaced by a canned one: a token's first call is
/// accepted (the genuine call), a later one within 1.5 s refused with 401 `invalid_token` (an
/// end that is not the expiry), and one 1.5 s or more after the first (the 2 s token has expired)
/// answered `expired_status`.
async fn ss04_with_canned_resource(expired_status: u16) -> (Status, String) {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};
    let seen: Arc<parking_lot::Mutex<HashMap<String, Instant>>> = Arc::default();
    let fake = crate::canned::canned_endpoint_with(move |_, head| {
        let token = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        let first = seen.lock().get(&token).copied();
        let age = match first {
            Some(first) => first.elapsed(),
            None => {
                seen.lock().insert(token, Instant::now());
                return (200, String::new(), r#"{"sub":"user0"}"#.to_string());
            }
        };
        let status = if age >= Duration::from_millis(1500) {
            expired_status
        } else {
            401
        };
        let challenge = if status == 401 {
            "www-authenticate: Bearer error=\"invalid_token\"\r\n".to_string()
        } else {
            String::new()
        };
        (
            status,
            challenge,
            r#"{"error":"invalid_token"}"#.to_string(),
        )
    })
    .await;
    ss04_with(
        &[],
        &format!(
            "resource: {{ method: GET, path: \"http://{fake}/api/me\", headers: {{ Authorization: \"Bearer {{{{access_token}}}}\" }} }}\n"
        ),
    )
    .await
}
