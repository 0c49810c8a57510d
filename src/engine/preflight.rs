//! Preflight: before a run starts, make sure something listens at the target (the CLI exits 3 when
//! not, instead of running a whole plan against nothing), and for an `https` target that the TLS
//! handshake succeeds with the profile's `tls:` settings (an unknown CA or a wrong name is said
//! once, up front, with the key that fixes it).

use std::time::Duration;

use tokio::net::TcpStream;

use crate::profile::Profile;

/// Why the target cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The base URL has no host or port.
    #[error("the target URL {url} has no host or port")]
    NoHost { url: String },
    /// The host name does not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// Connections are refused (nothing listens) or fail.
    #[error("nothing answers at {addr} ({url}): {source}")]
    Unreachable {
        url: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// No TCP connection within the timeout.
    #[error("no answer from {addr} ({url}) within {timeout:?}")]
    Timeout {
        url: String,
        addr: String,
        timeout: Duration,
    },
    /// The TLS handshake failed (the reason names the `tls:` key that fixes it).
    #[error("{url}: {reason}")]
    Tls { url: String, reason: String },
}

/// For an `https` target: one TLS handshake with the profile's settings (the platform's roots
/// without a `tls:` section).
async fn handshake(
    profile: &Profile,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), PreflightError> {
    use crate::client::transport::TlsClient;
    let url = profile.base_url().as_str().to_string();
    let tls = match profile.tls() {
        Some(t) => t.clone(),
        None => TlsClient::platform().map_err(|e| PreflightError::Tls {
            url: url.clone(),
            reason: e.to_string(),
        })?,
    };
    crate::client::transport::stream::open(host, port, Some(&tls), timeout)
        .await
        .map(drop)
        .map_err(|e| PreflightError::Tls {
            url,
            reason: e.message,
        })
}

/// Opens (and closes) one TCP connection to the target's host and port within `timeout`.
pub async fn preflight(profile: &Profile, timeout: Duration) -> Result<(), PreflightError> {
    let url = profile.base_url();
    let shown = url.as_str().to_string();
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(PreflightError::NoHost { url: shown });
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host((host.clone(), port))).await;
    let addrs: Vec<_> = match lookup {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(source)) => return Err(PreflightError::Resolve { host, source }),
        Err(_) => {
            return Err(PreflightError::Timeout {
                url: shown,
                addr: format!("{host}:{port}"),
                timeout,
            });
        }
    };
    let mut last = None;
    for addr in &addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(_)) if url.scheme() == "https" => {
                return handshake(profile, &host, port, timeout).await;
            }
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => {
                last = Some(PreflightError::Unreachable {
                    url: shown.clone(),
                    addr: addr.to_string(),
                    source: e,
                })
            }
            Err(_) => {
                last = Some(PreflightError::Timeout {
                    url: shown.clone(),
                    addr: addr.to_string(),
                    timeout,
                })
            }
        }
    }
    Err(last.unwrap_or(PreflightError::Resolve {
        host,
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_and_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let up = crate::profile::preset("mock", &format!("http://{addr}")).unwrap();
        preflight(&up, Duration::from_secs(2)).await.unwrap();
        drop(l);
        let err = preflight(&up, Duration::from_secs(2)).await.unwrap_err();
        assert!(matches!(err, PreflightError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains(&addr.to_string()));
    }
}
