//! The `tls:` section of a target profile ([`TlsSpec`]): TLS as deployments have it — a private
//! CA, a self-signed staging server, mutual TLS (RFC 8705 client authentication), a certificate
//! name other than the URL's host. Relative paths are relative to the profile file. The files are
//! read when the profile is loaded, so a missing CA file, a bad PEM or a key that does not belong
//! to its certificate is a configuration error naming the key, never a failed run.
//!
//! ```yaml
//! tls:
//!   ca_file: certs/private-ca.pem     # trust this CA (instead of the platform's roots)
//!   client_cert: certs/client.pem     # mutual TLS
//!   client_key: certs/client-key.pem
//!   server_name: auth.internal        # SNI and certificate name, when the URL says 10.0.0.5
//!   # insecure: true                  # accept any certificate (staging only)
//! ```
//!
//! The section resolves into the run's [`TlsClient`] (a shared [`rustls::ClientConfig`] and the
//! name to verify), which the client transport uses for every `https` and `wss` connection; without
//! a section the platform's roots are used ([`TlsClient::platform`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    pub fn platform() -> Result<TlsClient, TlsSetupError> {
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
pub fn platform_config() -> Result<rustls::ClientConfig, TlsSetupError> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let cfg = rustls::ClientConfig::with_platform_verifier().map_err(|e| {
        setup_error(
            "ca_file",
            format!("cannot load the platform's root certificates: {e}"),
            "give the CA that issued the server's certificate in `tls.ca_file`",
        )
    })?;
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

/// The `tls:` section as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSpec {
    /// PEM file of the CA(s) that issued the server's certificate; replaces the platform's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (self-signed staging servers): the server's identity is not
    /// checked. Never together with `ca_file`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// PEM certificate (chain) presented to a server that asks for one (mutual TLS, RFC 8705).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert` (PKCS#8, PKCS#1 or SEC1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// Name sent in SNI and checked against the certificate instead of the URL's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

impl TlsSpec {
    /// The options with every path made relative to `dir` (the profile file's folder).
    pub fn options(&self, dir: Option<&Path>) -> TlsOptions {
        let place = |p: &Option<PathBuf>| {
            p.as_ref().map(|p| match dir {
                Some(d) if p.is_relative() => d.join(p),
                _ => p.clone(),
            })
        };
        TlsOptions {
            ca_file: place(&self.ca_file),
            insecure: self.insecure,
            client_cert: place(&self.client_cert),
            client_key: place(&self.client_key),
            server_name: self.server_name.clone(),
        }
    }

    /// The run's TLS client for a profile loaded from `file`.
    pub fn build(&self, file: Option<&Path>) -> Result<TlsClient, TlsSetupError> {
        let dir = file.and_then(Path::parent);
        self.options(dir).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_relative_to_the_profile() {
        let spec = TlsSpec {
            ca_file: Some("ca.pem".into()),
            client_cert: Some("/etc/c.pem".into()),
            ..TlsSpec::default()
        };
        let o = spec.options(Some(Path::new("targets")));
        assert_eq!(o.ca_file, Some(PathBuf::from("targets/ca.pem")));
        assert_eq!(o.client_cert, Some(PathBuf::from("/etc/c.pem")));
    }
}
