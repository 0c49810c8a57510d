//! A target given as a bare URL: fetches its OpenID discovery document through the client
//! transport and turns it into a profile ([`crate::profile::Discovery`] knows what to ask and how
//! to read the answer).

use super::transport::{BodyMode, ErrorKind, Http};
use crate::profile::{Discovery, Profile, TargetError};

/// The `oauth2` preset for `url`, with endpoints from OpenID discovery when the server publishes
/// it (its default paths otherwise). The document is read whole, within the transport's body cap.
pub async fn discover(url: &str, http: &Http) -> Result<Profile, TargetError> {
    let discovery = Discovery::parse(url)?;
    let shown = discovery.document_url().to_string();
    let reply = http
        .exchange_with(|| discovery.request(), BodyMode::Keep)
        .await
        .map_err(|e| match e.kind {
            ErrorKind::Body => TargetError::Discovery {
                url: shown.clone(),
                reason: e.to_string(),
            },
            _ => TargetError::Unreachable {
                url: shown.clone(),
                reason: e.to_string(),
            },
        })?;
    discovery.profile(reply.status, &reply.body)
}
