//! Resolving "what to talk to" for `run` and `check`: the builtin mock started in-process, a target
//! profile file, or a bare URL (generic oauth2 preset with OpenID discovery).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authbench::client::{self, Connections, Connector};
use authbench::profile::{self, Profile};
use authbench::scenario::TargetSpec;
use authbench_mock::{MockConfig, MockServer};

use crate::exit::CliError;

/// Deadline of the OpenID discovery exchange of a bare-URL target.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A target ready to use; keeps the in-process mock alive while it lives.
pub struct Resolved {
    pub profile: Arc<Profile>,
    /// As a person reads it: `builtin mock (http://127.0.0.1:PORT)`, a file or a URL.
    pub label: String,
    pub mock: Option<MockServer>,
}

impl Resolved {
    /// Stops the in-process mock, if any.
    pub async fn shutdown(self) {
        if let Some(m) = self.mock {
            m.shutdown().await;
        }
    }
}

/// `--target` text (file or URL) to a spec; relative files are taken from the current directory.
pub fn spec_from_arg(arg: &str) -> Result<TargetSpec, CliError> {
    let spec = TargetSpec::parse(arg, Path::new("."));
    if let TargetSpec::File(path) = &spec
        && let Some(what) = not_a_profile(path)
    {
        return Err(CliError::usage(format!(
            "--target {arg}: the target profile {arg} {what}\n  = fix: give a target profile file, an http(s):// URL, or `builtin`"
        )));
    }
    Ok(spec)
}

/// Why `path` cannot be a target profile file (`does not exist`, `is not a file`), if it cannot.
pub fn not_a_profile(path: &Path) -> Option<&'static str> {
    if path.is_file() {
        None
    } else if path.exists() {
        Some("is not a file")
    } else {
        Some("does not exist")
    }
}

/// Builds the profile for `spec`; for `Builtin`, starts the mock with `mock` on 127.0.0.1:0.
/// `base_url` (`--base-url`) replaces a profile file's `base_url`, or is the URL of a bare-URL
/// target; the builtin mock chooses its own address, so it refuses one.
pub async fn resolve(
    spec: &TargetSpec,
    mock: &MockConfig,
    base_url: Option<&str>,
) -> Result<Resolved, CliError> {
    let spec = match (spec, base_url) {
        (TargetSpec::Builtin, Some(u)) => {
            return Err(CliError::usage(format!(
                "--base-url {u}: the target is the builtin mock, which chooses its own address; give a target profile (--target FILE) whose base_url it should replace"
            )));
        }
        (TargetSpec::Url(_), Some(u)) => &TargetSpec::Url(u.to_string()),
        (spec, _) => spec,
    };
    match spec {
        TargetSpec::Builtin => {
            let mut cfg = mock.clone();
            cfg.port = 0;
            cfg.bind = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
            let server = authbench_mock::start(cfg).await.map_err(|e| match e {
                authbench_mock::MockError::Config(e) => CliError::usage(format!("mock: {e}")),
                other => {
                    CliError::cannot_proceed(format!("cannot start the builtin mock: {other}"))
                }
            })?;
            let base = server.base_url();
            // The builtin mock's own session policy is declared (the SS-* checks need it).
            let policy = profile::MaxSessions::of_mock(mock);
            // `mock.session_mode: cookie`: the clients speak to its cookie sessions.
            let builtin = if server.config().session_mode == authbench_mock::SessionMode::Cookie {
                profile::builtin_cookie
            } else {
                profile::builtin
            };
            let mut profile = builtin(&base, server.admin_key())
                .map(|p| p.with_max_sessions(policy))
                .ok_or_else(|| {
                    CliError::cannot_proceed(format!(
                        "the builtin mock gave an unusable URL {base}"
                    ))
                })?;
            // `mock.ws_auth: first-message`: the token goes in graphql-ws's `connection_init`.
            if server.config().ws_auth == authbench_mock::WsAuth::FirstMessage {
                use authbench::profile::{TokenTransport, first_message::FirstMessage};
                let first = FirstMessage::graphql_ws("authorization");
                profile = profile.with_ws_token(TokenTransport::FirstMessage(Box::new(first)));
            }
            // `mock.tls: true`: the clients trust the CA the mock made at start, and only it.
            if let Some(ca) = server.tls_ca_pem() {
                let tls = authbench::client::transport::TlsClient::trusting_pem(ca)
                    .map_err(|e| CliError::cannot_proceed(format!("builtin mock TLS: {e}")))?;
                profile = profile.with_tls(tls);
            }
            Ok(Resolved {
                profile: Arc::new(profile),
                label: format!("builtin mock ({base})"),
                mock: Some(server),
            })
        }
        TargetSpec::File(path) => {
            let opts = profile::LoadOptions {
                base_url: base_url.map(str::to_string),
                ..profile::LoadOptions::default()
            };
            let profile = profile::load_profile_with(path, &opts).map_err(CliError::usage)?;
            Ok(Resolved {
                profile: Arc::new(profile),
                label: path.display().to_string(),
                mock: None,
            })
        }
        TargetSpec::Url(url) => {
            let https = url.trim_start().starts_with("https://");
            let http = Connector::new(Connections::PerClient, DISCOVERY_TIMEOUT, https, 1)
                .map_err(CliError::cannot_proceed)?
                .client();
            let profile = client::discover(url, &http)
                .await
                .map_err(CliError::cannot_proceed)?;
            Ok(Resolved {
                profile: Arc::new(profile),
                label: url.clone(),
                mock: None,
            })
        }
    }
}

/// Fails with exit 3 when nothing listens at the target.
pub async fn preflight(profile: &Profile) -> Result<(), CliError> {
    authbench::engine::preflight(profile, Duration::from_secs(5))
        .await
        .map_err(|e| {
            CliError::cannot_proceed(format!(
                "the target is unreachable: {e}\n  hint: start the server first (e.g. `authbench mock --port 8080`) or check the URL in the target profile"
            ))
        })
}
