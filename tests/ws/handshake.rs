//! The one WebSocket handshake of `client::transport::ws` against the mock, with the token in each
//! place a target may want it (query, `Authorization` header, `bearer.` subprotocol), and without
//! one: the simulated clients and the conformance probes both open sockets through it.

use std::time::Duration;

use authbench::client::transport::ws::{self, ConnectError};
use authbench::profile::TokenTransport;
use futures::StreamExt;

use crate::support::{http, login, mock, ws_options};

#[tokio::test]
async fn every_token_transport_opens_a_socket_and_no_token_is_refused() {
    let server = mock(|_| {}).await;
    let pair = login(&http(), &server.base_url(), 1).await.expect("login");
    let mut opts = ws_options(&server);
    for transport in [
        TokenTransport::Query {
            param: "access_token".into(),
        },
        TokenTransport::Header,
        TokenTransport::Subprotocol {
            prefix: "bearer.".into(),
        },
    ] {
        opts.token = transport.clone();
        let mut socket = ws::connect(opts.upgrade(), &pair.access)
            .await
            .unwrap_or_else(|e| panic!("{transport:?}: {e}"))
            .socket;
        let first = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        let text = first.into_text().expect("text");
        assert!(text.contains("\"welcome\""), "{transport:?}: {text}");
        socket.close(None).await.expect("close");

        // The same handshake without a credential: refused with 401 before any upgrade, the
        // refusal kept for evidence.
        let req = ws::request(&opts.upgrade(), None).expect("request");
        let refused = ws::open(opts.upgrade(), req).await.err().expect("refused");
        assert_eq!(refused.error, ConnectError::Status(401), "{transport:?}");
        assert_eq!(
            refused.response.map(|r| r.status().as_u16()),
            Some(401),
            "{transport:?}"
        );
    }
    server.shutdown().await;
}
