//! The close code as the server put it on the wire. tungstenite replaces an illegal code it
//! receives (1005, 1006, 1015, 0–999, reserved or unassigned) by 1002 "Protocol violation" before
//! the caller sees it, so a server that sends 1006 and one that legitimately sends 1002 look the
//! same. [`CloseTap`] sits between the byte stream and tungstenite: past the head of the server's
//! 101 answer it follows the server's frame headers (payloads are skipped, not copied) and keeps the first two payload bytes of the first
//! Close frame. Only the conformance probes use it (`checks::wsprobe`, WS-05).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// WebSocket opcode of a Close frame (RFC 6455 §5.5.1).
const OP_CLOSE: u8 = 0x8;

/// The first Close frame the server sent, as it was on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawClose {
    /// A Close frame with this code.
    Code(u16),
    /// A Close frame without a payload (no code).
    Empty,
    /// A one-byte payload: not a code at all (RFC 6455 §5.5.1 requires two bytes).
    Malformed,
}

/// Where the parser is in the server's byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// In the HTTP answer to the upgrade: `matched` bytes of the `\r\n\r\n` that ends it.
    Upgrade { matched: usize },
    /// Reading a frame header: `have` of its bytes so far.
    Header { buf: [u8; 14], have: usize },
    /// Skipping a payload: `left` bytes to go; for a Close frame, the first two (unmasked).
    Payload { left: u64, close: Option<Capture> },
}

/// The code bytes of a Close frame being read.
#[derive(Debug, Clone, Copy)]
struct Capture {
    mask: Option<[u8; 4]>,
    code: [u8; 2],
    seen: usize,
    len: u64,
}

/// A byte stream that records the server's first raw close code (see the module docs).
pub struct CloseTap<S> {
    inner: S,
    state: State,
    close: Option<RawClose>,
}

impl<S> CloseTap<S> {
    /// Wraps `inner`, a connection whose first bytes from the server are its HTTP answer to the
    /// upgrade request (frames follow the head of a 101).
    pub fn new(inner: S) -> Self {
        CloseTap {
            inner,
            state: State::Upgrade { matched: 0 },
            close: None,
        }
    }

    /// The first Close frame the server sent, if one has been read.
    pub fn close(&self) -> Option<RawClose> {
        self.close
    }

    /// Follows the frames in `bytes` (the next bytes the server sent).
    fn observe(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.close.is_none() {
            match &mut self.state {
                State::Upgrade { matched } => {
                    let end = b"\r\n\r\n";
                    *matched = match bytes[0] {
                        b if b == end[*matched] => *matched + 1,
                        b'\r' => 1,
                        _ => 0,
                    };
                    bytes = &bytes[1..];
                    if *matched == end.len() {
                        self.state = State::Header {
                            buf: [0; 14],
                            have: 0,
                        };
                    }
                }
                State::Header { buf, have } => {
                    buf[*have] = bytes[0];
                    *have += 1;
                    bytes = &bytes[1..];
                    if let Some(next) = header_done(&buf[..*have]) {
                        self.state = next;
                        self.finish_if_empty();
                    }
                }
                State::Payload { left, close } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    if let Some(c) = close {
                        for &b in bytes[..n].iter().take(2usize.saturating_sub(c.seen)) {
                            let k = c.mask.map_or(0, |m| m[c.seen % 4]);
                            c.code[c.seen] = b ^ k;
                            c.seen += 1;
                        }
                    }
                    *left -= n as u64;
                    bytes = &bytes[n..];
                    self.finish_if_empty();
                }
            }
        }
    }

    /// At the end of a payload: records a Close frame, and reads the next header.
    fn finish_if_empty(&mut self) {
        if let State::Payload { left: 0, close } = self.state {
            if let Some(c) = close {
                self.close = Some(match (c.len, c.seen) {
                    (0, _) => RawClose::Empty,
                    (_, 2) => RawClose::Code(u16::from_be_bytes(c.code)),
                    _ => RawClose::Malformed,
                });
            }
            self.state = State::Header {
                buf: [0; 14],
                have: 0,
            };
        }
    }
}

/// The payload state once `h` holds a whole frame header, or `None` while it is incomplete.
fn header_done(h: &[u8]) -> Option<State> {
    if h.len() < 2 {
        return None;
    }
    let masked = h[1] & 0x80 != 0;
    let (len_bytes, len7) = match h[1] & 0x7f {
        126 => (2, None),
        127 => (8, None),
        n => (0, Some(u64::from(n))),
    };
    let need = 2 + len_bytes + if masked { 4 } else { 0 };
    if h.len() < need {
        return None;
    }
    let len = len7.unwrap_or_else(|| {
        h[2..2 + len_bytes]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    });
    let mask = masked.then(|| {
        let at = 2 + len_bytes;
        [h[at], h[at + 1], h[at + 2], h[at + 3]]
    });
    let close = (h[0] & 0x0f == OP_CLOSE).then_some(Capture {
        mask,
        code: [0; 2],
        seen: 0,
        len,
    });
    Some(State::Payload { left: len, close })
}

impl<S: AsyncRead + Unpin> AsyncRead for CloseTap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res
            && this.close.is_none()
        {
            this.observe(&buf.filled()[before..]);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CloseTap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADED: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";

    fn tap(chunks: &[&[u8]]) -> Option<RawClose> {
        let mut t = CloseTap::new(());
        t.observe(UPGRADED);
        for c in chunks {
            t.observe(c);
        }
        t.close()
    }

    #[test]
    fn the_raw_code_of_the_first_close_frame_is_kept() {
        // A text frame "hi", then Close 1006 "x": split at every byte boundary.
        let wire: &[u8] = &[0x81, 2, b'h', b'i', 0x88, 3, 0x03, 0xEE, b'x'];
        assert_eq!(tap(&[wire]), Some(RawClose::Code(1006)));
        for cut in 1..wire.len() {
            assert_eq!(
                tap(&[&wire[..cut], &wire[cut..]]),
                Some(RawClose::Code(1006)),
                "{cut}"
            );
        }
        assert_eq!(tap(&[&[0x88, 0]]), Some(RawClose::Empty));
        assert_eq!(tap(&[&[0x88, 1, 0x03]]), Some(RawClose::Malformed));
        assert_eq!(tap(&[&wire[..6]]), None, "the payload has not all arrived");
        // The 101's head and the first frames in one read.
        let mut t = CloseTap::new(());
        t.observe(&[UPGRADED, wire].concat());
        assert_eq!(t.close(), Some(RawClose::Code(1006)));
    }

    #[test]
    fn extended_lengths_and_masks_are_followed() {
        // A 300-byte binary frame (16-bit length), then a masked Close 1002.
        let mut wire = vec![0x82, 126, 0x01, 0x2C];
        wire.resize(wire.len() + 300, 0x88);
        let mask = [1u8, 2, 3, 4];
        wire.extend([0x88, 0x80 | 2]);
        wire.extend(mask);
        wire.extend([0x03 ^ 1, 0xEA ^ 2]);
        assert_eq!(tap(&[&wire]), Some(RawClose::Code(1002)));
    }
}
