//! The `WS-*` checks with the token in the first message of a protocol that refuses it in a
//! message (`ws.token.reject`) rather than by closing: a Socket.IO-style in-test server (Engine.IO
//! open packet first, `40{"token":...}` answered by `40{"sid":...}` or CONNECT_ERROR
//! `44{"message":...}`) that asks the mock whether the token is good. WS-01 passes against it and
//! fails against the same server accepting any token.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use authbench::checks::{self, CheckOptions, Status};
use authbench::profile::Profile;

/// Serves Socket.IO-style connections; `verify_at` is the mock whose `/api/me` judges the token
/// (`None`: every token is accepted, a broken server).
async fn socket_io_server(verify_at: Option<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (verify_at, http) = (verify_at.clone(), http.clone());
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let open =
                    r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
                if ws.send(Message::text(open)).await.is_err() {
                    return;
                }
                let auth = loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str().starts_with("40") => {
                            break t.as_str()[2..].to_string();
                        }
                        Some(Ok(Message::Text(_))) => {}
                        _ => return,
                    }
                };
                let auth: serde_json::Value = serde_json::from_str(&auth).unwrap_or_default();
                let token = auth["token"].as_str().unwrap_or_default();
                let genuine = match &verify_at {
                    None => true,
                    Some(base) => http
                        .get(format!("{base}/api/me"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                };
                let answer = if genuine {
                    r#"40{"sid":"s1"}"#
                } else {
                    r#"44{"message":"unauthorized"}"#
                };
                if ws.send(Message::text(answer)).await.is_err() {
                    return;
                }
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_close() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn profile(mock: &authbench_mock::MockServer, ws_port: u16) -> Arc<Profile> {
    let src = format!(
        "preset: mock\nbase_url: {}\nws:\n  url: \"ws://127.0.0.1:{ws_port}/socket.io/?EIO=4&transport=websocket\"\n  token:\n    first_message: '40{{\"token\":\"{{{{access_token}}}}\"}}'\n    ack: {{ prefix: \"40\", body: {{ sid: \"*\" }} }}\n    reject: {{ prefix: \"44\" }}\n  ping: {{ match: {{ prefix: \"2\" }}, reply: \"3\" }}\n",
        mock.base_url()
    );
    let p =
        authbench::profile::profile_from_str(&src, None).unwrap_or_else(|e| panic!("{e}\n{src}"));
    Arc::new(p.with_admin_key(mock.admin_key()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_in_a_message_is_a_refusal_and_an_open_socket_is_not() {
    let mock = authbench_mock::start(checks::builtin_mock_config())
        .await
        .expect("mock starts");
    let only = CheckOptions {
        only: vec!["WS-01".into()],
        ..CheckOptions::default()
    };
    let checking = socket_io_server(Some(mock.base_url().trim_end_matches('/').to_string())).await;
    let run = checks::run(profile(&mock, checking), &only).await;
    let r = run.get("WS-01").unwrap();
    assert_eq!(r.status, Status::Pass, "{r:#?}");
    assert!(format!("{r:?}").contains("refused in a message"), "{r:#?}");

    let accepting = socket_io_server(None).await;
    let run = checks::run(profile(&mock, accepting), &only).await;
    let r = run.get("WS-01").unwrap();
    assert_eq!(r.status, Status::Fail, "{r:#?}");
    mock.shutdown().await;
}
