//! How a simulated client gets its first token pair (`grant:`, DESIGN §10): the resource owner
//! password grant (the default), `client_credentials` (machine clients: each row of `users:` is a
//! client id and secret; no refresh token, so renewal is a new grant), or `authorization_code`
//! with PKCE driven headlessly ([`AuthCodeSpec`]; the browser part is `client::authorize`).
//!
//! ```yaml
//! grant:
//!   authorization_code:
//!     authorize: { path: /realms/demo/protocol/openid-connect/auth, query: { client_id: app, scope: openid } }
//!     redirect_uri: http://127.0.0.1:3000/callback
//!     form: "form#kc-form-login"          # CSS selector of the login form (default: form)
//! ```
//!
//! The `login` request is then the token exchange, with the variables `code` and
//! `code_verifier`; a profile that starts from a preset and gives no `login` gets one from the
//! preset's token endpoint.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::request::RequestSpec;

/// The default CSS selector of the login form.
pub const DEFAULT_FORM: &str = "form";
/// The default number of HTTP redirects followed in one authorization-code login.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// The grant of the first token pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantSpec {
    /// Resource owner password credentials (RFC 6749 §4.3): `login` sends user and password.
    #[default]
    Password,
    /// Client credentials (RFC 6749 §4.4): each `users:` row is a client id (`{{user}}`) and
    /// secret (`{{password}}`); no refresh token is expected — the client asks again.
    ClientCredentials,
    /// Authorization code with PKCE S256 (RFC 6749 §4.1, RFC 7636), the login form filled
    /// headlessly.
    AuthorizationCode(Box<AuthCodeSpec>),
}

impl GrantSpec {
    /// `password`, `client_credentials` or `authorization_code`.
    pub fn name(&self) -> &'static str {
        match self {
            GrantSpec::Password => "password",
            GrantSpec::ClientCredentials => "client_credentials",
            GrantSpec::AuthorizationCode(_) => "authorization_code",
        }
    }
}

/// The browser part of the authorization-code grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthCodeSpec {
    /// The authorization endpoint, fetched with GET. authbench adds `response_type=code`,
    /// `redirect_uri`, `state`, `code_challenge` and `code_challenge_method=S256`; give
    /// `client_id` and `scope` in its `query`.
    pub authorize: RequestSpec,
    /// The registered redirect URI; the flow ends when a redirect points below it.
    pub redirect_uri: String,
    /// CSS selector of the login form on the authorize page (default `form`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// Name of the form's username input (default `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_field: Option<String>,
    /// Name of the form's password input (default `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_field: Option<String>,
    /// HTTP redirects followed in one login before giving up (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
}

impl AuthCodeSpec {
    /// The form selector.
    pub fn form_selector(&self) -> &str {
        self.form.as_deref().unwrap_or(DEFAULT_FORM)
    }

    /// The username input name.
    pub fn username_field(&self) -> &str {
        self.username_field.as_deref().unwrap_or("username")
    }

    /// The password input name.
    pub fn password_field(&self) -> &str {
        self.password_field.as_deref().unwrap_or("password")
    }

    /// The redirect bound.
    pub fn max_redirects(&self) -> u32 {
        self.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS)
    }

    /// Checks what serde cannot: the selector parses, the redirect URI is an absolute http(s)
    /// URL, the bound is sensible. Returns the sub-key, message and fix of the first problem.
    pub fn check(&self) -> Result<(), (String, String, String)> {
        self.authorize.check().map_err(|(k, m)| {
            (
                format!("authorize.{k}"),
                m,
                "see the request keys in the README".into(),
            )
        })?;
        if let Err(e) = scraper::Selector::parse(self.form_selector()) {
            return Err((
                "form".into(),
                format!("{:?} is not a CSS selector: {e}", self.form_selector()),
                "write a selector such as form, form#login or form[action*=login]".into(),
            ));
        }
        let ok = url::Url::parse(&self.redirect_uri)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err((
                "redirect_uri".into(),
                format!("redirect_uri {:?} is not an absolute http(s) URL", self.redirect_uri),
                "write the redirect URI registered for the client, e.g. http://127.0.0.1:3000/callback".into(),
            ));
        }
        if !(1..=50).contains(&self.max_redirects()) {
            return Err((
                "max_redirects".into(),
                format!("max_redirects {} is outside 1..=50", self.max_redirects()),
                "a login takes a few redirects; 10 is plenty".into(),
            ));
        }
        Ok(())
    }
}

/// The `login` request a grant implies when the file gives none: the token endpoint of `preset`
/// (its path and client authentication) with the grant's form.
pub fn default_login(grant: &GrantSpec, preset: &RequestSpec) -> Option<RequestSpec> {
    let base = RequestSpec {
        form: None,
        json: None,
        ..preset.clone()
    };
    match grant {
        GrantSpec::Password => None,
        GrantSpec::ClientCredentials => Some(
            base.form_field("grant_type", "client_credentials")
                .form_field("client_id", "{{user}}")
                .form_field("client_secret", "{{password}}"),
        ),
        GrantSpec::AuthorizationCode(a) => {
            let mut spec = base
                .form_field("grant_type", "authorization_code")
                .form_field("code", "{{code}}")
                .form_field("code_verifier", "{{code_verifier}}")
                .form_field("redirect_uri", &a.redirect_uri);
            if let Some(id) = a.authorize.query.get("client_id") {
                spec.form
                    .get_or_insert_with(Default::default)
                    .insert("client_id".into(), id.clone());
            }
            Some(spec)
        }
    }
}
