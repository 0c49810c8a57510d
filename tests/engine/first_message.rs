//! WebSocket authentication in the first message against the mock's `--ws-auth first-message`
//! (graphql-transport-ws's `connection_init` / `connection_ack` and close codes): sockets open,
//! get kicked and come back after an expiry with the token in the first message; a message the
//! server refuses ends in its close code, never in an open socket.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{mock, plan, run, settings};
use authbench::client::Strategy;
use authbench::profile::{Profile, profile_from_str};
use authbench::scenario::Phase;
use authbench_mock::{MockServer, WsAuth};

fn profile(server: &MockServer, payload: &str) -> Arc<Profile> {
    let src = format!(
        "preset: mock\nbase_url: {}\nws:\n  token:\n    first_message:\n      type: connection_init\n      payload: {{ authorization: \"{payload}\" }}\n    ack: {{ body: {{ type: connection_ack }} }}\n    protocol: graphql-transport-ws\n",
        server.base_url()
    );
    let p = profile_from_str(&src, None).unwrap_or_else(|e| panic!("{e}\n{src}"));
    assert!(p.ws().unwrap().token.first_message().is_some());
    Arc::new(p.with_admin_key(server.admin_key()))
}

fn kickoff() -> Vec<Phase> {
    vec![
        Phase::Login {
            ramp: Duration::ZERO,
        },
        Phase::WsConnect {
            ramp: Duration::ZERO,
        },
        Phase::Relogin {
            ramp: Duration::ZERO,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_in_connection_init_opens_sockets_that_get_kicked() {
    let server = mock(|c| {
        c.single_session = true;
        c.ws_auth = WsAuth::FirstMessage;
    })
    .await;
    let clients = 4;
    let r = run(
        plan(clients, settings(Strategy::SingleFlight, 1), kickoff()),
        profile(&server, "Bearer {{access_token}}"),
    )
    .await;
    let n = u64::from(clients);
    assert_eq!(r.counter("ws_connects"), 2 * n, "{:?}", r.snap.counters);
    assert_eq!(r.samples("kick_latency"), n, "{:?}", r.snap.counters);
    assert_eq!(r.counter("missed_kicks"), 0);
    assert_eq!(server.stats().ws_rejected, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_first_message_is_its_close_code_not_an_open_socket() {
    let server = mock(|c| c.ws_auth = WsAuth::FirstMessage).await;
    let clients = 3;
    let r = run(
        plan(
            clients,
            settings(Strategy::SingleFlight, 1),
            vec![
                Phase::Login {
                    ramp: Duration::ZERO,
                },
                Phase::WsConnect {
                    ramp: Duration::ZERO,
                },
            ],
        ),
        // A token the server cannot know.
        profile(&server, "Bearer x{{access_token}}"),
    )
    .await;
    assert_eq!(r.counter("ws_connects"), 0, "{:?}", r.snap.counters);
    // Refused, refreshed once and refused again: 4403 twice per client, then the session is over.
    assert_eq!(
        r.counter("ws_connect_failed.4403"),
        2 * u64::from(clients),
        "{:?}",
        r.snap.counters
    );
    assert!(server.stats().ws_rejected >= u64::from(clients));
    server.shutdown().await;
}
