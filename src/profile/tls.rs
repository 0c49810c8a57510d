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

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::client::transport::{TlsClient, TlsOptions, TlsSetupError};

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
