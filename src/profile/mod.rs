//! How to talk to one server (DESIGN §4): target profiles, request templates, token extractors,
//! presets, OpenID discovery and WebSocket close-code profiles.
//!
//! A [`Profile`] comes from a preset ([`preset`]: `mock`, `mock-json`, `oauth2`), a target file
//! ([`load_profile`], optionally `preset:` plus overrides) or a bare URL ([`Discovery`]: `oauth2` +
//! OpenID discovery). It renders plain `http::Request`s from `{{var}}` templates and expressions
//! ([`template`], [`functions`]: `{{env.NAME | default}}`, `hmac_sha256_b64`, ...; [`request`]),
//! reads tokens out of login and refresh responses ([`extract`]), tells rejections apart
//! ([`matcher`]: `refresh_rejected`, `access_rejected`, `reuse_rejected`), says how the first
//! token pair is obtained ([`grant`]), describes a cookie-session server ([`cookie_session`]) and describes the WebSocket ([`ws`], [`close_codes`]), the event stream and push registration
//! ([`channels`]).
//! Nothing here sends anything: `client::transport` does (the authorization-code browser flow is
//! `client::authorize`).

pub mod channels;
pub mod close_codes;
pub mod cookie_session;
pub mod discovery;
pub mod extract;
pub mod file;
pub mod first_message;
pub mod functions;
pub mod grant;
pub mod init;
pub mod matcher;
pub mod policy;
pub mod presets;
pub mod request;
pub mod scoped;
pub mod template;
pub mod tls;
mod uri_memo;
pub mod ws;
pub mod ws_ping;

pub use channels::{PushProfile, SseProfile};
pub use close_codes::{CloseClass, CloseProfile};
pub use cookie_session::{CookieSession, CookieSessionSpec, Csrf, CsrfSource};
pub use discovery::{Discovery, TargetError};
pub use extract::{ExtractError, Extractor, Extractors, RejectPolicy, Tokens, jwt_exp};
pub use file::{
    EnvCheck, ForceLogoutHook, LoadOptions, Profile, ProfileFile, SessionLimits, TokenKind,
    TokenTypeName, TokenTypes, UserIdLookup, load_profile, load_profile_with, profile_from_str,
    profile_from_str_opts, profile_from_str_with, profile_from_str_with_sets, unset_environment,
};
pub use grant::{AuthCodeSpec, GrantSpec};
pub use matcher::{MatchRule, Matcher, Rejection};
pub use policy::MaxSessions;
pub use presets::{builtin, builtin_cookie, preset};
pub use request::{Rendered, RequestError, RequestSpec};
pub use scoped::ScopedResource;
pub use template::{Template, Vars};
pub use ws::{TokenTransport, WsEvent, WsEvents, WsProfile};
