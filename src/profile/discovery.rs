//! A target given as a bare URL: the `oauth2` preset, with its endpoints taken from OpenID
//! discovery (`/.well-known/openid-configuration`) when the server publishes it. This module
//! renders the discovery request and reads the answer ([`Discovery`]); `client::discover` sends it
//! through the client transport.

use super::close_codes::CloseProfile;
use super::file::Profile;
use super::presets::{ENV_ADMIN_KEY, OAuthEndpoints, oauth2};
use super::request::{self, Rendered, RequestError, RequestSpec};
use super::template::Template;
use super::ws::{TokenTransport, WsEvents, WsProfile};

/// Why a URL target could not be set up (exit code 3: the run cannot proceed).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The text is not an http(s) URL.
    #[error("{url:?} is not an http(s) URL")]
    InvalidUrl {
        /// What was given.
        url: String,
    },
    /// Nothing answered.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The discovery document exists but is unusable.
    #[error("OpenID discovery at {url} is invalid: {reason}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// OpenID discovery for a bare-URL target: the base URL and where its discovery document is.
#[derive(Debug, Clone)]
pub struct Discovery {
    base: url::Url,
    document: url::Url,
}

impl Discovery {
    /// Reads `url`: a base URL, or the discovery document's own URL.
    pub fn parse(url: &str) -> Result<Discovery, TargetError> {
        let invalid = || TargetError::InvalidUrl {
            url: url.to_string(),
        };
        let trimmed = url.trim().trim_end_matches('/');
        let (base, document) = match trimmed.strip_suffix(WELL_KNOWN) {
            Some(base) => (base.to_string(), trimmed.to_string()),
            None => (trimmed.to_string(), format!("{trimmed}{WELL_KNOWN}")),
        };
        let http_url = |u: &str| {
            url::Url::parse(u)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
        };
        Ok(Discovery {
            base: http_url(&base).ok_or_else(invalid)?,
            document: http_url(&document).ok_or_else(invalid)?,
        })
    }

    /// The discovery document's URL.
    pub fn document_url(&self) -> &url::Url {
        &self.document
    }

    /// `GET` of the discovery document.
    pub fn request(&self) -> Result<Rendered, RequestError> {
        request::get(&self.document)
    }

    /// The profile for the discovery response: the preset's default paths when the server has no
    /// discovery (a non-2xx or non-JSON answer), its endpoints otherwise.
    pub fn profile(self, status: u16, body: &[u8]) -> Result<Profile, TargetError> {
        let doc = (200..300)
            .contains(&status)
            .then(|| serde_json::from_slice::<serde_json::Value>(body).ok())
            .flatten();
        let Some(doc) = doc else {
            return Ok(oauth2(self.base, &OAuthEndpoints::default()));
        };
        profile_from_discovery(self.base, &doc).map_err(|reason| TargetError::Discovery {
            url: self.document.to_string(),
            reason,
        })
    }
}

/// The `oauth2` preset with the endpoints of an OpenID discovery document (RFC 8414 / OpenID
/// Discovery). The reference mock's `authbench_*` extensions add its resource, WebSocket and admin
/// endpoints (the admin key then comes from `AUTHBENCH_ADMIN_KEY`).
pub fn profile_from_discovery(
    base_url: url::Url,
    doc: &serde_json::Value,
) -> Result<Profile, String> {
    let endpoint = |key: &str| -> Result<Option<&str>, String> {
        match doc.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s))
                if s.starts_with("http://") || s.starts_with("https://") =>
            {
                Ok(Some(s.as_str()))
            }
            Some(other) => Err(format!("{key} is not an http(s) URL: {other}")),
        }
    };
    let token = endpoint("token_endpoint")?.ok_or("no token_endpoint")?;
    let defaults = OAuthEndpoints::default();
    let resource = endpoint("userinfo_endpoint")?.or(endpoint("authbench_resource_endpoint")?);
    let ep = OAuthEndpoints {
        token,
        revocation: endpoint("revocation_endpoint")?,
        introspection: endpoint("introspection_endpoint")?,
        userinfo: resource.unwrap_or(defaults.userinfo),
    };
    let mut profile = oauth2(base_url, &ep);
    profile.introspect_origin = ep
        .introspection
        .map(|_| "the server's OpenID discovery document (introspection_endpoint)".to_string());
    let bearer_introspection = doc
        .get("introspection_endpoint_auth_methods_supported")
        .and_then(|v| v.as_array())
        .is_some_and(|m| m.iter().any(|x| x == "bearer"));
    if bearer_introspection && let Some(i) = ep.introspection {
        profile.introspect = Some(
            RequestSpec::new("POST", i)
                .header("Authorization", "Bearer {{admin_key}}")
                .form_field("token", "{{token}}")
                .form_field("token_type_hint", "{{token_type_hint}}"),
        );
        profile.admin_key = Template::parse(&format!("{{{{env.{ENV_ADMIN_KEY}}}}}")).ok();
    }
    if let Some(admin) = doc
        .get("authbench_admin_logout_endpoint")
        .and_then(|v| v.as_str())
        && (admin.starts_with("http://") || admin.starts_with("https://"))
        && !admin.contains("{{")
    {
        profile.admin_logout = Some(
            RequestSpec::new("POST", &admin.replace("{user}", "{{user}}"))
                .header("Authorization", "Bearer {{admin_key}}"),
        );
        profile.admin_key = Template::parse(&format!("{{{{env.{ENV_ADMIN_KEY}}}}}")).ok();
    }
    if let Some(outage) = doc
        .get("authbench_admin_outage_endpoint")
        .and_then(|v| v.as_str())
        && (outage.starts_with("http://") || outage.starts_with("https://"))
        && !outage.contains("{{")
    {
        profile.admin_outage = Some(
            RequestSpec::new("POST", outage)
                .query_param("duration_ms", "{{duration_ms}}")
                .header("Authorization", "Bearer {{admin_key}}"),
        );
        profile.admin_key = Template::parse(&format!("{{{{env.{ENV_ADMIN_KEY}}}}}")).ok();
    }
    if let Some(ws) = doc.get("authbench_ws_endpoint").and_then(|v| v.as_str())
        && let Ok(url) = url::Url::parse(ws)
        && matches!(url.scheme(), "ws" | "wss")
    {
        profile.ws = Some(WsProfile {
            url,
            token: TokenTransport::default(),
            events: WsEvents::default(),
            close_codes: CloseProfile::preset("authbench").unwrap_or_default(),
            ping: None,
        });
    }
    Ok(profile)
}
