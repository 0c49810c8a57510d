//! TLS as deployments have it, the client side of every `https` and `wss` connection: the one
//! [`TlsClient`] of a run (a shared [`rustls::ClientConfig`] and the name the server's certificate
//! is checked against), built either from the platform's roots or from a profile's `tls:` section
//! ([`TlsOptions`]: a private CA, `insecure` for self-signed staging servers, a client certificate
//! for mutual TLS as RFC 8705 uses it, a `server_name` other than the URL's host); and what a
//! failed handshake means ([`handshake_failure`]), in words that name the key that fixes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::error::BuildError;

/// The TLS side of a run's connections: one configuration every connection shares, and the name
/// to present (SNI) and verify instead of the URL's host, if the profile gives one.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl From<rustls::ClientConfig> for TlsClient {
    /// `config` as it is, the URL's host as the server name (tests with a self-signed server).
    fn from(config: rustls::ClientConfig) -> Self {
        TlsClient {
            config: Arc::new(config),
            server_name: None,
        }
    }
}

impl TlsClient {
    /// The platform's roots (what a browser on this machine trusts), no client certificate.
    pub fn platform() -> Result<TlsClient, BuildError> {
        Ok(TlsClient::from(platform_config()?))
    }

    /// Trusts exactly the CA certificate(s) in `ca_pem` (the builtin mock's generated CA,
    /// handed over in-process).
    pub fn trusting_pem(ca_pem: &str) -> Result<TlsClient, TlsSetupError> {
        let certs = parse_certificates(ca_pem.as_bytes(), "ca_file", Path::new("(in-process CA)"))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots.add(c).map_err(|e| {
                setup_error(
                    "ca_file",
                    format!("the CA is not usable: {e}"),
                    "report this as a bug",
                )
            })?;
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient::from(finish(config)))
    }

    /// The shared configuration.
    pub fn config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// The name to present and verify for a connection to `host`: the configured server name, or
    /// `host` itself (a DNS name or an IP address).
    pub fn server_name(&self, host: &str) -> Option<ServerName<'static>> {
        match &self.server_name {
            Some(name) => Some(name.clone()),
            None => ServerName::try_from(host.to_string()).ok(),
        }
    }
}

/// The TLS client configuration of a run without a `tls:` section (HTTP and WebSocket
/// handshakes, both HTTP/1.1): platform roots, the ALPN offer `http/1.1`, and no session
/// resumption (every simulated client pays its own handshake, like independent devices).
pub fn platform_config() -> Result<rustls::ClientConfig, BuildError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let cfg =
        rustls::ClientConfig::with_platform_verifier().map_err(|e| BuildError(e.to_string()))?;
    Ok(finish(cfg))
}

/// What every configuration of ours has: ALPN `http/1.1`, no resumption.
fn finish(mut cfg: rustls::ClientConfig) -> rustls::ClientConfig {
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg
}

/// A profile's `tls:` settings with paths resolved (relative to the profile file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA(s) that issued the server's certificate; replaces the platform roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (self-signed staging servers). Handshake signatures are
    /// still checked; the server's identity is not.
    pub insecure: bool,
    /// PEM certificate chain presented to servers that ask for one (mutual TLS).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The name to send (SNI) and to verify the certificate against instead of the URL's host.
    pub server_name: Option<String>,
}

/// A `tls:` setting that cannot be used: the key (below `tls`), what is wrong, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TlsSetupError {
    /// `ca_file`, `client_cert`, `client_key`, `server_name`, `insecure`.
    pub key: &'static str,
    /// What is wrong, naming the file.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

fn setup_error(key: &'static str, message: String, fix: impl Into<String>) -> TlsSetupError {
    TlsSetupError {
        key,
        message,
        fix: fix.into(),
    }
}

impl TlsOptions {
    /// The run's [`TlsClient`]: reads and checks every file now, so a missing CA file, a bad PEM
    /// or a key that does not belong to its certificate fails before anything is sent.
    pub fn build(&self) -> Result<TlsClient, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| setup_error("insecure", e.to_string(), "report this as a bug"))?;
        let builder = match (&self.ca_file, self.insecure) {
            (Some(ca), true) => {
                return Err(setup_error(
                    "insecure",
                    format!(
                        "`insecure: true` accepts any certificate, so `ca_file` ({}) would be ignored",
                        ca.display()
                    ),
                    "keep `ca_file` to trust a private CA (recommended), or remove it to accept any certificate",
                ));
            }
            (Some(ca), false) => builder.with_root_certificates(roots(ca)?),
            (None, true) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
            (None, false) => {
                use rustls_platform_verifier::BuilderVerifierExt;
                builder.with_platform_verifier().map_err(|e| {
                    setup_error(
                        "ca_file",
                        format!("cannot load the platform's root certificates: {e}"),
                        "give the CA that issued the server's certificate in `tls.ca_file`",
                    )
                })?
            }
        };
        let config = match (&self.client_cert, &self.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "client_cert")?;
                let private = private_key(key)?;
                builder
                    .with_client_auth_cert(chain, private)
                    .map_err(|e| mismatch(cert, key, &e))?
            }
            (Some(_), None) => {
                return Err(setup_error(
                    "client_key",
                    "`client_cert` is set but `client_key` is not".into(),
                    "add `client_key:` with the PEM file of the certificate's private key",
                ));
            }
            (None, Some(_)) => {
                return Err(setup_error(
                    "client_cert",
                    "`client_key` is set but `client_cert` is not".into(),
                    "add `client_cert:` with the PEM file of the client certificate",
                ));
            }
        };
        let server_name = match &self.server_name {
            Some(name) => Some(ServerName::try_from(name.trim().to_string()).map_err(|_| {
                setup_error(
                    "server_name",
                    format!("{name:?} is not a DNS name or an IP address"),
                    "write the name the server's certificate carries, e.g. auth.example.com",
                )
            })?),
            None => None,
        };
        Ok(TlsClient {
            config: Arc::new(finish(config)),
            server_name,
        })
    }
}

/// The CA certificates of `path` as a root store.
fn roots(path: &Path) -> Result<rustls::RootCertStore, TlsSetupError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in certificates(path, "ca_file")? {
        store.add(cert).map_err(|e| {
            setup_error(
                "ca_file",
                format!(
                    "{} holds a certificate that is not a usable CA: {e}",
                    path.display()
                ),
                "give the PEM file of the CA certificate that issued the server's certificate",
            )
        })?;
    }
    Ok(store)
}

/// Reads `path` (a file of a `tls.<key>` setting), with a message naming both.
fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| {
        setup_error(
            key,
            format!("cannot read tls.{key} {}: {e}", path.display()),
            "give the path of a PEM file (relative paths are relative to the profile file)",
        )
    })
}

/// Every `CERTIFICATE` block of the PEM file `path` (at least one).
fn certificates(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = read(path, key)?;
    parse_certificates(&bytes, key, path)
}

/// Every `CERTIFICATE` block of `bytes` (at least one), read from `path`.
fn parse_certificates(
    bytes: &[u8],
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            setup_error(
                key,
                format!("tls.{key} {} is not valid PEM: {e}", path.display()),
                "give a PEM file with -----BEGIN CERTIFICATE----- blocks",
            )
        })?;
    if certs.is_empty() {
        return Err(setup_error(
            key,
            format!("tls.{key} {} holds no certificate", path.display()),
            "give a PEM file with -----BEGIN CERTIFICATE----- blocks (a DER file can be converted with `openssl x509 -inform der`)",
        ));
    }
    Ok(certs)
}

/// The private key of the PEM file `path` (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let bytes = read(path, "client_key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        setup_error(
            "client_key",
            format!(
                "tls.client_key {} holds no usable private key: {e}",
                path.display()
            ),
            "give a PEM file with a -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY) block",
        )
    })
}

fn mismatch(cert: &Path, key: &Path, e: &rustls::Error) -> TlsSetupError {
    setup_error(
        "client_key",
        format!(
            "tls.client_key {} does not fit tls.client_cert {}: {e}",
            key.display(),
            cert.display()
        ),
        "give the private key the client certificate was issued for",
    )
}

/// `insecure: true`: any certificate chain is accepted (the server's identity is not checked);
/// the handshake's signatures still are, with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

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
    use std::path::Path;
    use std::time::Duration;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

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
