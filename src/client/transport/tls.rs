//! What a failed TLS handshake means, in words that name the `tls:` key that fixes it (the TLS
//! configuration itself is the profile's: [`crate::profile::tls::TlsClient`]).

use rustls::CertificateError;

/// What a failed handshake with `host` means, with the `tls:` key that fixes it; `None` when
/// the error is not a TLS verdict (the connection broke: a connect error, not a TLS one).
pub(crate) fn handshake_failure(e: &std::io::Error, host: &str) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let hint = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                "the server's certificate is not issued by a CA this run trusts ({c:?}): set \
                 `tls.ca_file` to the CA that issued it, or `tls.insecure: true` for a staging server"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the server's certificate is not valid for {host}: set `tls.server_name` to a \
                     name the certificate carries"
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            other => format!("the server's certificate was refused: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the server ended the handshake ({alert:?}); if it requires a client certificate, set \
             `tls.client_cert` and `tls.client_key`"
        ),
        other => format!("{other}"),
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use crate::profile::tls::TlsOptions;

    /// A CA: its PEM, its DER, and its key to issue certificates with.
    struct Made {
        ca_pem: String,
        ca_der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca() -> Made {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Made {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A certificate for `name` issued by `ca`: (cert PEM, key PEM, cert DER, key DER).
    fn leaf(
        ca: &Made,
        name: &str,
    ) -> (
        String,
        String,
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
    ) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca.issuer)
            .unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.pem(), key.serialize_pem(), cert.der().clone(), der)
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A server that requires a client certificate issued by `client_ca`, answers `ok` to an
    /// authenticated client and counts the handshakes it refused.
    async fn mutual_tls_server(
        server_ca: &Made,
        client_ca: &Made,
    ) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let (_, _, cert, key) = leaf(server_ca, "localhost");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(client_ca.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = refused.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                match acceptor.accept(tcp).await {
                    Ok(mut s) => {
                        let _ = s.write_all(b"ok").await;
                        let _ = s.shutdown().await;
                    }
                    Err(_) => {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        });
        (port, refused)
    }

    /// Connects with `opts` and reads what the server says (`Err`: the connection failed).
    async fn talk(opts: &TlsOptions, port: u16) -> Result<Vec<u8>, String> {
        let tls = opts.build().map_err(|e| e.to_string())?;
        let mut c =
            super::super::stream::open("127.0.0.1", port, Some(&tls), Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())?;
        assert!(c.tls_handshake.is_some());
        let mut got = Vec::new();
        c.stream
            .read_to_end(&mut got)
            .await
            .map_err(|e| e.to_string())?;
        Ok(got)
    }

    #[tokio::test]
    async fn mutual_tls_presents_the_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let server_ca = ca();
        let client_ca = ca();
        let (port, refused) = mutual_tls_server(&server_ca, &client_ca).await;
        let (cert, key, _, _) = leaf(&client_ca, "authbench-client");
        let with_cert = TlsOptions {
            ca_file: Some(write(d, "server-ca.pem", &server_ca.ca_pem)),
            client_cert: Some(write(d, "client.pem", &cert)),
            client_key: Some(write(d, "client-key.pem", &key)),
            server_name: Some("localhost".into()),
            ..TlsOptions::default()
        };
        assert_eq!(talk(&with_cert, port).await.unwrap(), b"ok");
        assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 0);

        // Without a client certificate the server refuses the handshake.
        let without = TlsOptions {
            client_cert: None,
            client_key: None,
            ..with_cert.clone()
        };
        // TLS 1.3: the client's side of the handshake may complete before the server's verdict
        // arrives; either way the server refuses and never answers.
        let got = talk(&without, port).await.unwrap_or_default();
        assert_ne!(got, b"ok", "no answer without a client certificate");
        assert!(refused.load(std::sync::atomic::Ordering::SeqCst) >= 1);

        // A certificate from another CA: refused too.
        let stranger = ca();
        let (cert, key, _, _) = leaf(&stranger, "authbench-client");
        let foreign = TlsOptions {
            client_cert: Some(write(d, "foreign.pem", &cert)),
            client_key: Some(write(d, "foreign-key.pem", &key)),
            ..with_cert.clone()
        };
        assert_ne!(talk(&foreign, port).await.unwrap_or_default(), b"ok");
    }

    #[tokio::test]
    async fn a_certificate_for_another_name_is_a_tls_error_naming_server_name() {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = ca();
        let client_ca = ca();
        let (port, _) = mutual_tls_server(&server_ca, &client_ca).await;
        let opts = TlsOptions {
            ca_file: Some(write(dir.path(), "ca.pem", &server_ca.ca_pem)),
            server_name: Some("auth.example.com".into()),
            ..TlsOptions::default()
        };
        let tls = opts.build().unwrap();
        let e = super::super::stream::open("127.0.0.1", port, Some(&tls), Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind, super::super::ErrorKind::Tls, "{e}");
        assert!(e.message.contains("tls.server_name"), "{e}");
    }
}
