//! `{{var}}` templates in target profiles: request paths, headers, query and body fields.
//!
//! Variables: `user`, `password`, `access_token`, `refresh_token`, `session_id`, `admin_key`,
//! `token` and `token_type_hint` (revoke/introspect), `duration_ms` (admin outage), `code` and
//! `code_verifier` (authorization-code exchange), `user_id` (two-step admin logout), and `env.NAME`
//! (an environment variable — secrets stay out of files). Anything else between `{{` and `}}` is an
//! expression ([`super::functions`]): `{{env.NAME | default("x")}}`, `{{sha256(user)}}`. Templates
//! are parsed once when a profile loads; rendering a plain template is a concatenation. A variable with no value renders as an empty string, and a body, query or form
//! field whose template uses variables and renders empty is left out of the request (so
//! `client_secret: "{{env.CLIENT_SECRET}}"` disappears for public clients).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::functions::{self, Compiled, Evaluated};
use crate::config::did_you_mean;

/// Every template variable with a stand-in value (load-time checks of expressions).
fn stand_in_context() -> minijinja::Value {
    functions::context(VAR_NAMES.iter().map(|n| (*n, "x")))
}

/// A template variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// The username.
    User,
    /// The password.
    Password,
    /// The current access token.
    AccessToken,
    /// The current refresh token.
    RefreshToken,
    /// The session id from the login response.
    SessionId,
    /// The admin key (builtin mock, or `admin_key:` in the profile).
    AdminKey,
    /// The token being revoked or introspected.
    Token,
    /// `access_token` or `refresh_token`, for revoke/introspect.
    TokenTypeHint,
    /// The length of an admin outage in milliseconds.
    DurationMs,
    /// The device registration token of the push channel.
    PushToken,
    /// The authorization code (authorization-code grant).
    Code,
    /// The PKCE code verifier (authorization-code grant).
    CodeVerifier,
    /// The user's id at the server, looked up by a two-step admin logout.
    UserId,
    /// An environment variable.
    Env(String),
}

/// Every variable name (without `env.NAME`), for messages.
pub const VAR_NAMES: &[&str] = &[
    "user",
    "password",
    "access_token",
    "refresh_token",
    "session_id",
    "admin_key",
    "token",
    "token_type_hint",
    "duration_ms",
    "push_token",
    "code",
    "code_verifier",
    "user_id",
];

impl Var {
    fn parse(name: &str) -> Result<Var, String> {
        let n = name.trim();
        Ok(match n {
            "user" => Var::User,
            "password" => Var::Password,
            "access_token" => Var::AccessToken,
            "refresh_token" => Var::RefreshToken,
            "session_id" => Var::SessionId,
            "admin_key" => Var::AdminKey,
            "token" => Var::Token,
            "token_type_hint" => Var::TokenTypeHint,
            "duration_ms" => Var::DurationMs,
            "push_token" => Var::PushToken,
            "code" => Var::Code,
            "code_verifier" => Var::CodeVerifier,
            "user_id" => Var::UserId,
            _ => {
                if let Some(env) = n.strip_prefix("env.") {
                    let valid = !env.is_empty()
                        && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if valid {
                        return Ok(Var::Env(env.to_string()));
                    }
                    return Err(format!(
                        "invalid environment variable name {env:?} in {{{{{n}}}}} (letters, digits and _ only)"
                    ));
                }
                let hint = match did_you_mean(n, VAR_NAMES.iter().copied()) {
                    Some(s) => format!(", did you mean {{{{{s}}}}}?"),
                    None => String::new(),
                };
                return Err(format!(
                    "unknown variable {{{{{n}}}}}{hint} (variables: {}, env.NAME)",
                    VAR_NAMES.join(", ")
                ));
            }
        })
    }
}

/// The values available when rendering. Missing values render empty.
#[derive(Default, Clone, Copy)]
pub struct Vars<'a> {
    /// `{{user}}`.
    pub user: Option<&'a str>,
    /// `{{password}}`.
    pub password: Option<&'a str>,
    /// `{{access_token}}`.
    pub access_token: Option<&'a str>,
    /// `{{refresh_token}}`.
    pub refresh_token: Option<&'a str>,
    /// `{{session_id}}`.
    pub session_id: Option<&'a str>,
    /// `{{admin_key}}`.
    pub admin_key: Option<&'a str>,
    /// `{{token}}`.
    pub token: Option<&'a str>,
    /// `{{token_type_hint}}`.
    pub token_type_hint: Option<&'a str>,
    /// `{{duration_ms}}`.
    pub duration_ms: Option<&'a str>,
    /// `{{push_token}}`.
    pub push_token: Option<&'a str>,
    /// `{{code}}`.
    pub code: Option<&'a str>,
    /// `{{code_verifier}}`.
    pub code_verifier: Option<&'a str>,
    /// `{{user_id}}`.
    pub user_id: Option<&'a str>,
}

impl<'a> Vars<'a> {
    /// The value of `var` (`None` for environment variables and missing values).
    fn get(&self, var: &Var) -> Option<&'a str> {
        match var {
            Var::User => self.user,
            Var::Password => self.password,
            Var::AccessToken => self.access_token,
            Var::RefreshToken => self.refresh_token,
            Var::SessionId => self.session_id,
            Var::AdminKey => self.admin_key,
            Var::Token => self.token,
            Var::TokenTypeHint => self.token_type_hint,
            Var::DurationMs => self.duration_ms,
            Var::Code => self.code,
            Var::CodeVerifier => self.code_verifier,
            Var::UserId => self.user_id,
            Var::PushToken => self.push_token,
            Var::Env(_) => None,
        }
    }

    /// The variables that have a value, as an expression context.
    fn context(&self) -> minijinja::Value {
        functions::context(VAR_NAMES.iter().filter_map(|n| {
            Var::parse(n)
                .ok()
                .and_then(|v| self.get(&v))
                .map(|x| (*n, x))
        }))
    }
}

#[derive(Clone)]
enum Part {
    Lit(String),
    Var(Var),
    /// Anything but a plain variable (compared by the template's source).
    Expr(Arc<Compiled>),
}

/// A parsed `{{var}}` template; keeps its source text for serialization and messages (the source
/// never holds a secret: secrets come from variables).
#[derive(Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Template {}

impl Default for Template {
    /// The empty template.
    fn default() -> Self {
        Template::literal("")
    }
}

/// Whether the text between `{{` and `}}` is a plain variable name (`user`, `env.NAME`).
fn is_plain(inner: &str) -> bool {
    let t = inner.trim();
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Parses `text`; `{{` starts a variable, `}}` ends it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in template {text:?}"))?;
            let inner = &after[..end];
            if is_plain(inner) {
                parts.push(Part::Var(Var::parse(inner)?));
            } else {
                parts.push(Part::Expr(functions::compile(inner, VAR_NAMES)?));
            }
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// A template of a scalar that is not a string (a number or boolean: no `{{` possible).
    fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Lit(text.to_string())],
        }
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template uses any variable or expression.
    pub fn has_vars(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Lit(_)))
    }

    /// Whether the template uses `var` (a plain `{{var}}`, or inside an expression).
    pub fn uses(&self, var: &Var) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Var(v) => v == var,
            Part::Expr(e) => {
                let name = match var {
                    Var::Env(n) => format!("env.{n}"),
                    other => VAR_NAMES
                        .iter()
                        .find(|n| Var::parse(n).ok().as_ref() == Some(other))
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                };
                e.undeclared_variables(true).contains(&name)
                    || e.undeclared_variables(false).contains(&name)
            }
            Part::Lit(_) => false,
        })
    }

    /// The environment variables this template needs that are unset now: a plain `{{env.NAME}}`,
    /// or one an expression looked up without a `default` covering it.
    pub fn unset_env(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Var(Var::Env(n)) if std::env::var_os(n).is_none() => out.push(n.clone()),
                Part::Expr(e) => {
                    let mut seen = Vec::new();
                    let ctx = stand_in_context();
                    let result = functions::evaluate(e, ctx, Some(&mut seen));
                    // An expression that handles a missing value itself (`| default`, `if`,
                    // `is defined`) may meet an unset variable; any other may not.
                    let guarded = ["default", " if ", "is defined", "is undefined", "is none"]
                        .iter()
                        .any(|g| self.source.contains(g));
                    if matches!(result, Evaluated::Failed(_)) || !guarded {
                        out.append(&mut seen);
                    }
                }
                _ => {}
            }
        }
        out.dedup();
        out
    }

    /// Renders with `vars`; environment variables are read now. An expression that cannot be
    /// evaluated renders empty (load-time checks make that rare) and is logged without values.
    pub fn render(&self, vars: &Vars<'_>) -> String {
        let mut out = String::with_capacity(self.known_len(vars));
        self.render_into(vars, &mut out);
        out
    }

    /// The length of what the literal parts and plain variables render to (expressions and
    /// environment variables add to it): enough to render most templates in one allocation.
    pub(crate) fn known_len(&self, vars: &Vars<'_>) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.len(),
                Part::Var(Var::Env(_)) | Part::Expr(_) => 0,
                Part::Var(v) => vars.get(v).map_or(0, str::len),
            })
            .sum()
    }

    /// [`Template::render`], appending to `out`; the caller sizes `out` (see
    /// [`Template::known_len`]).
    pub fn render_into(&self, vars: &Vars<'_>, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Var(Var::Env(n)) => {
                    if let Ok(v) = std::env::var(n) {
                        out.push_str(&v);
                    }
                }
                Part::Var(v) => {
                    if let Some(val) = vars.get(v) {
                        out.push_str(val);
                    }
                }
                Part::Expr(e) => match functions::evaluate(e, vars.context(), None) {
                    Evaluated::Text(t) => out.push_str(&t),
                    Evaluated::Nothing => {}
                    Evaluated::Failed(why) => {
                        tracing::debug!(template = %self.source, "template expression failed: {why}");
                    }
                },
            }
        }
    }

    /// Renders, or `None` when the template uses variables and the result is empty (an optional
    /// field whose value is missing).
    pub fn render_field(&self, vars: &Vars<'_>) -> Option<String> {
        let s = self.render(vars);
        (!s.is_empty() || !self.has_vars()).then_some(s)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, optionally with {{variables}}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Template, E> {
                Template::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Template, E> {
                Ok(Template::literal(&v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Template, E> {
                Ok(Template::literal(&v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Template, E> {
                Ok(Template::literal(&v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Template, E> {
                Ok(Template::literal(&v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> Cow<'static, str> {
        "Template".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number", "boolean"],
            "description": "Text with {{variables}}: user, password, access_token, refresh_token, session_id, admin_key, token, token_type_hint, duration_ms, code, code_verifier, user_id, env.NAME; or {{expressions}}: env.NAME | default(\"x\"), a ~ b, hmac_sha256_b64(key, part, ...), base64(text), sha256(text), now(), uuid()."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables() {
        let t = Template::parse("Bearer {{access_token}}").unwrap();
        let vars = Vars {
            access_token: Some("abc"),
            ..Vars::default()
        };
        assert_eq!(t.render(&vars), "Bearer abc");
        let t = Template::parse("/admin/users/{{ user }}/logout").unwrap();
        let vars = Vars {
            user: Some("user7"),
            ..Vars::default()
        };
        assert_eq!(t.render(&vars), "/admin/users/user7/logout");
        assert_eq!(Template::parse("plain").unwrap().render(&vars), "plain");
    }

    #[test]
    fn optional_fields_disappear() {
        let t = Template::parse("{{refresh_token}}").unwrap();
        assert_eq!(t.render_field(&Vars::default()), None);
        assert_eq!(
            Template::parse("").unwrap().render_field(&Vars::default()),
            Some(String::new())
        );
    }

    #[test]
    fn env_variables() {
        let t = Template::parse("{{env.AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET}}").unwrap();
        assert_eq!(t.unset_env(), ["AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET"]);
        let defaulted = Template::parse(
            "{{ env.AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET | default(\"http://h\") }}/x",
        )
        .unwrap();
        assert!(defaulted.unset_env().is_empty());
        assert_eq!(defaulted.render(&Vars::default()), "http://h/x");
        let empty =
            Template::parse("{{env.AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET | default}}").unwrap();
        assert!(empty.unset_env().is_empty());
        assert_eq!(empty.render_field(&Vars::default()), None);
        let inside =
            Template::parse("{{ sha256(env.AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET) }}").unwrap();
        assert_eq!(inside.unset_env(), ["AUTHBENCH_TEST_TEMPLATE_SURELY_UNSET"]);
        assert_eq!(t.render_field(&Vars::default()), None);
        let path = Template::parse("{{env.PATH}}").unwrap();
        assert_eq!(
            path.render(&Vars::default()),
            std::env::var("PATH").unwrap_or_default()
        );
    }

    #[test]
    fn errors_are_specific() {
        let e = Template::parse("{{usr}}").unwrap_err();
        assert!(e.contains("did you mean {{user}}"), "{e}");
        assert!(Template::parse("{{user").unwrap_err().contains("unclosed"));
        assert!(
            Template::parse("{{env.}}")
                .unwrap_err()
                .contains("environment")
        );
        assert!(Template::parse("{{env.A-B}}").is_err());
    }
}
