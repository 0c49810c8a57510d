//! The mock serving TLS (`https://`, `wss://`): with a certificate and key from files
//! (`--tls-cert`/`--tls-key`), or with a certificate it makes at start (`--tls-self-signed CA_FILE`):
//! a fresh CA, and a server certificate it issues for `localhost`, `127.0.0.1`, `::1` and the bound
//! address; the CA is written to `CA_FILE` (PEM) so clients can trust it (`tls.ca_file`), and is
//! available in-process ([`ServerTls::ca_pem`]). ALPN offers `http/1.1`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

/// How the mock serves TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MockTls {
    /// A certificate chain and its private key from PEM files.
    Files {
        /// PEM certificate chain (server certificate first).
        cert: PathBuf,
        /// PEM private key of the certificate.
        key: PathBuf,
    },
    /// A CA and a server certificate made at start; the CA written to `ca_out` (PEM) if given.
    SelfSigned {
        /// Where to write the CA certificate.
        ca_out: Option<PathBuf>,
    },
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{flag} {path}: {source}")]
    File {
        flag: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM.
    #[error("{flag} {path}: {reason}")]
    Pem {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The key does not belong to the certificate, or rustls refused the pair.
    #[error(
        "--tls-key does not fit --tls-cert: {0} (give the private key the certificate was issued for)"
    )]
    Mismatch(String),
    /// Certificate generation failed.
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(String),
}

/// The TLS side of a running mock: the acceptor and, for a generated certificate, its CA.
#[derive(Clone)]
pub struct ServerTls {
    /// Accepts TLS connections.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// The CA that issued a generated server certificate (PEM); `None` with certificate files.
    pub ca_pem: Option<String>,
}

impl MockTls {
    /// Builds the acceptor (reading, or generating and writing, the certificates) for a server
    /// bound to `bind`.
    pub fn server(&self, bind: IpAddr) -> Result<ServerTls, TlsError> {
        let (chain, key, ca_pem) = match self {
            MockTls::Files { cert, key } => (read_certs(cert)?, read_key(key)?, None),
            MockTls::SelfSigned { ca_out } => {
                let made = generate(bind)?;
                if let Some(path) = ca_out {
                    std::fs::write(path, &made.ca_pem).map_err(|source| TlsError::File {
                        flag: "--tls-self-signed",
                        path: path.clone(),
                        source,
                    })?;
                }
                (made.chain, made.key, Some(made.ca_pem))
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ca_pem,
        })
    }
}

fn read(path: &Path, flag: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::File {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, "--tls-cert")?;
    let pem = |reason: String| TlsError::Pem {
        flag: "--tls-cert",
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem("no -----BEGIN CERTIFICATE----- block".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, "--tls-key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        flag: "--tls-key",
        path: path.to_path_buf(),
        reason: format!("no usable private key: {e}"),
    })
}

/// A generated CA and the server certificate it issued.
struct Generated {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_pem: String,
}

/// A CA ("authbench-mock test CA") and a server certificate for `localhost`, `127.0.0.1`, `::1`
/// and `bind` (when it is a specific address), both ECDSA P-256.
fn generate(bind: IpAddr) -> Result<Generated, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "authbench-mock test CA");
    ca.distinguished_name = dn;
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca, ca_key);

    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !bind.is_unspecified() && !names.contains(&bind.to_string()) {
        names.push(bind.to_string());
    }
    let mut leaf = CertificateParams::new(names).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "authbench-mock");
    leaf.distinguished_name = dn;
    let leaf_key = KeyPair::generate().map_err(err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    Ok(Generated {
        chain: vec![leaf_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        ca_pem,
    })
}
