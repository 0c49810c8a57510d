//! How to talk to one server (DESIGN §4): target profiles, request templates, token extractors,
//! presets, OpenID discovery and WebSocket close-code profiles.
//!
//! A [`Profile`] comes from a preset ([`preset`]: `mock`, `mock-json`, `oauth2`), a target file
//! ([`load_profile`], optionally `preset:` plus overrides) or a bare URL ([`Discovery`]: `oauth2` +
//! OpenID discovery). It renders plain `http::Request`s from `{{var}}` templates ([`template`],
//! [`request`]), reads tokens out of responses ([`extract`]), tells rejections apart ([`matcher`])
//! and describes the WebSocket ([`ws`],
//! [`close_codes`]). Nothing here sends anything: `client::transport` does.

pub mod close_codes;
pub mod discovery;
pub mod extract;
pub mod file;
pub mod matcher;
pub mod presets;
pub mod request;
pub mod scoped;
pub mod template;
mod uri_memo;
pub mod ws;

pub use close_codes::{CloseClass, CloseProfile};
pub use discovery::{Discovery, TargetError};
pub use extract::{ExtractError, Extractor, Extractors, RejectPolicy, Tokens, jwt_exp};
pub use file::{
    EnvCheck, Profile, ProfileFile, SessionLimits, TokenKind, load_profile, profile_from_str,
    profile_from_str_with,
};
pub use matcher::{MatchRule, Matcher};
pub use presets::{builtin, preset};
pub use request::{Rendered, RequestError, RequestSpec};
pub use scoped::ScopedResource;
pub use template::{Template, Vars};
pub use ws::{TokenTransport, WsEvent, WsEvents, WsProfile};
