//! [`ScopedResource`]: a protected resource that needs a scope the test users' logins do not get
//! (`scoped_resource: { path, scope }` in a target profile). RS-03 probes it for RFC 6750 §3.1's
//! 403 `insufficient_scope`, and scenarios send a share of their API calls to it
//! (`client.scoped_share`) to show what clients that log out on 403 cost. The request is the
//! profile's `resource` request with this path.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::template::Template;

/// A scope-restricted resource, as written in a target profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopedResource {
    /// Path below the base URL (or an absolute URL), sent like `resource` (same method, headers,
    /// token).
    pub path: Template,
    /// The scope it needs, which the test users' access tokens lack (e.g. `admin`).
    pub scope: String,
}
