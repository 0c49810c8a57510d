//! A canned HTTP endpoint on 127.0.0.1 port 0 for the cases the mock cannot play: a token
//! endpoint that refuses everything, a resource that stops working, one that fails only for some
//! tokens. It reads each request (head and `Content-Length` body), answers the status, headers and
//! JSON body that `answer` gives for the request's number (0, 1, ... over the endpoint's life) and
//! head, and closes the connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts the endpoint; `answer(n)` is the status and body of request `n`.
pub async fn canned_endpoint(
    answer: impl Fn(usize) -> (u16, &'static str) + Send + Sync + 'static,
) -> SocketAddr {
    canned_endpoint_with(move |n, _| {
        let (status, body) = answer(n);
        (status, String::new(), body.to_string())
    })
    .await
}

/// Starts the endpoint; `answer(n, request)` is the status, extra header lines (each ending in
/// `\r\n`; a `content-type` among them replaces the JSON one) and body of request `n`, whose
/// text (request line, headers, blank line and body) is
/// `request`.
pub async fn canned_endpoint_with(
    answer: impl Fn(usize, &str) -> (u16, String, String) + Send + Sync + 'static,
) -> SocketAddr {
    slow_canned_endpoint(std::time::Duration::ZERO, answer).await
}

/// [`canned_endpoint_with`], each answer sent `delay` after its request was read.
pub async fn slow_canned_endpoint(
    delay: std::time::Duration,
    answer: impl Fn(usize, &str) -> (u16, String, String) + Send + Sync + 'static,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    let served = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (answer, served) = (answer.clone(), served.clone());
            tokio::spawn(async move {
                let Some(request) = read_request(&mut sock).await else {
                    return;
                };
                let (status, headers, body) =
                    answer(served.fetch_add(1, Ordering::SeqCst), &request);
                tokio::time::sleep(delay).await;
                // JSON unless the answer names its own content type.
                let json = if headers.to_ascii_lowercase().contains("content-type:") {
                    ""
                } else {
                    "content-type: application/json\r\n"
                };
                let resp = format!(
                    "HTTP/1.1 {status} Canned\r\n{json}content-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

/// Reads one request's head and (small, `Content-Length`) body; its text, or `None` if the peer
/// went away.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    loop {
        let Ok(n) = sock.read(&mut buf).await else {
            return None;
        };
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let len = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= head_end + 4 + len {
                return Some(text[..head_end + 4 + len].to_string());
            }
        }
    }
}
