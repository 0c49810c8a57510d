//! The first-message exchange of a WebSocket whose token travels in the first message
//! ([`crate::profile::first_message`]): right after the upgrade, send the rendered message, then
//! read until the server's acknowledgement (answering the protocol's own pings, skipping other
//! messages), a refusal in a message (the profile's `reject`), a close frame (the server refused:
//! its code, e.g. graphql-ws's 4403), or the deadline.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::ws::ConnectError;
use crate::profile::first_message::{Answer, FirstMessage};
use crate::profile::ws_ping::WsPing;

/// Sends `first`'s message with `token` on `socket` and waits (at most `timeout`) for the
/// acknowledgement, answering `ping`s meanwhile.
pub async fn authenticate<S>(
    socket: &mut WebSocketStream<S>,
    first: &FirstMessage,
    ping: Option<&WsPing>,
    token: Option<&str>,
    timeout: Duration,
) -> Result<(), ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        socket
            .send(Message::text(first.render(token)))
            .await
            .map_err(|e| ConnectError::Io(format!("sending the first message: {e}")))?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Some(reply) = ping.and_then(|p| p.answer(t.as_str())) {
                        socket
                            .send(Message::text(reply))
                            .await
                            .map_err(|e| ConnectError::Io(format!("answering a ping: {e}")))?;
                        continue;
                    }
                    match first.answer(t.as_str()) {
                        Answer::Ack => return Ok(()),
                        Answer::Rejected => return Err(ConnectError::Rejected),
                        Answer::Other => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(ConnectError::Closed(frame.map_or(1005, |f| f.code.into())));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(ConnectError::Io(format!(
                        "the socket failed before the acknowledgement: {e}"
                    )));
                }
                None => {
                    return Err(ConnectError::Io(
                        "the socket ended before the acknowledgement".into(),
                    ));
                }
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(ConnectError::NoAck))
}
