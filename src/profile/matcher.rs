//! Rejection matchers (DESIGN §10): which answers of a server mean one particular rejection, as
//! status + body field rules. A profile has three: `refresh_rejected` ("this refresh token is
//! dead": log in again; also `strict` / `lenient`, see [`Rejection`]), `access_rejected` ("this
//! access token is rejected": renew and retry; default 401) and `reuse_rejected` (the answers that
//! say "this refresh token was already used", `reuse_detected`, told apart from any other refused
//! refresh).
//!
//! ```yaml
//! reuse_rejected:                       # one rule, or a list: any rule that matches
//!   - status: [400, 401]                # any of these (omitted: any status)
//!     body:                             # every field must match (omitted: any body)
//!       error: invalid_grant            # the exact value
//!       error_description: ["~reuse detected", "~already used"]   # ~: contains, any case; a list: any
//!   - { status: 400, body: { /error/code: refresh_token_already_used } }   # a JSON pointer
//! ```
//!
//! A body field is a top-level member of a JSON body, or a JSON pointer (`/a/b`); a string, number
//! or boolean value is compared as text; `"*"` matches any value that is there (an object or a
//! list too); a body that is not JSON matches no field rule.
//!
//! `prefix` is for answers that put text before their JSON: the answer must start with it, and
//! the `body` fields are read from what follows (an XSSI guard such as `)]}'`, or a WebSocket
//! message's packet type: Socket.IO's `40{"sid":"..."}`). A WebSocket message without a `prefix`
//! rule has its leading packet-type digits skipped.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::RejectPolicy;

/// `refresh_rejected` as written: a named policy (`strict`, `lenient`) or matcher rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Rejection {
    /// `strict` (400 `invalid_grant`) or `lenient` (400, 401 or 403).
    Policy(RejectPolicy),
    /// Status + body field rules (one rule or a list).
    Rules(Matcher),
}

/// What serde reads before [`Rejection`] names the policy (a clear message for a misspelt one).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRejection {
    Name(String),
    Rules(Matcher),
}

impl<'de> Deserialize<'de> for Rejection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match RawRejection::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected strict, lenient, or rules like { status: 401, body: { code: token_not_valid } }",
            )
        })? {
            RawRejection::Name(n) => match n.as_str() {
                "strict" => Ok(Rejection::Policy(RejectPolicy::Strict)),
                "lenient" => Ok(Rejection::Policy(RejectPolicy::Lenient)),
                other => Err(serde::de::Error::custom(format!(
                    "unknown policy {other:?}: use strict, lenient, or rules like {{ status: 401, body: {{ code: token_not_valid }} }}"
                ))),
            },
            RawRejection::Rules(m) => Ok(Rejection::Rules(m)),
        }
    }
}

impl Rejection {
    /// The matcher this stands for (a policy is a fixed rule).
    pub fn matcher(&self) -> Matcher {
        match self {
            Rejection::Policy(p) => p.matcher(),
            Rejection::Rules(m) => m.clone(),
        }
    }

    /// The named policy, if it is one.
    pub fn policy(&self) -> Option<RejectPolicy> {
        match self {
            Rejection::Policy(p) => Some(*p),
            Rejection::Rules(_) => None,
        }
    }
}

impl RejectPolicy {
    /// The policy as a matcher: `strict` is `{ status: 400, body: { error: invalid_grant } }`,
    /// `lenient` is `{ status: [400, 401, 403] }`.
    pub fn matcher(self) -> Matcher {
        match self {
            RejectPolicy::Strict => Matcher(OneOrMany::One(MatchRule {
                status: Some(OneOrMany::One(400)),
                prefix: None,
                body: BTreeMap::from([(
                    "error".to_string(),
                    OneOrMany::One("invalid_grant".to_string()),
                )]),
            })),
            RejectPolicy::Lenient => Matcher(OneOrMany::One(MatchRule {
                status: Some(OneOrMany::Many(vec![400, 401, 403])),
                prefix: None,
                body: BTreeMap::new(),
            })),
        }
    }
}

/// One value or a list of them, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrMany_{T}")]
pub enum OneOrMany<T> {
    /// A list; any of them.
    Many(Vec<T>),
    /// A single value.
    One(T),
}

/// A list is read as a list and anything else as one value, so that a mistake inside the value
/// is told as itself (`unknown field \`stauts\`, did you mean \`status\`?`), not as "matched no
/// variant". A number or boolean where text is expected is taken as its text (`error: 400`).
impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer, value};

        struct Either<T>(std::marker::PhantomData<T>);

        impl<T> Either<T> {
            /// `T` from a scalar, or from the scalar's text when `T` takes no such scalar.
            fn scalar<'de, E: de::Error>(
                direct: Result<T, E>,
                text: impl FnOnce() -> String,
            ) -> Result<OneOrMany<T>, E>
            where
                T: Deserialize<'de>,
            {
                match direct {
                    Ok(v) => Ok(OneOrMany::One(v)),
                    Err(e) => T::deserialize(value::StringDeserializer::<E>::new(text()))
                        .map(OneOrMany::One)
                        .map_err(|_| e),
                }
            }
        }

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Either<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one value or a list of them")
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(value::SeqAccessDeserializer::new(seq)).map(OneOrMany::Many)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Self::scalar(T::deserialize(v.into_deserializer()), || v.to_string())
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Self::scalar(T::deserialize(v.into_deserializer()), || v.to_string())
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Self::scalar(T::deserialize(v.into_deserializer()), || v.to_string())
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Self::scalar(T::deserialize(v.into_deserializer()), || v.to_string())
            }
        }

        d.deserialize_any(Either(std::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// One rule: statuses and body fields (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// The answer's status is one of these (omitted: any status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OneOrMany<u16>>,
    /// The answer starts with this text, and its JSON follows it (Socket.IO's packet type
    /// `40`, an XSSI guard `)]}'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Every one of these body fields matches: `name` or `/json/pointer` → `value`, `~contained
    /// text` (any case), or a list of those (any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body: BTreeMap<String, OneOrMany<String>>,
}

/// A rejection matcher: one rule or a list of rules, any of which matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Matcher(OneOrMany<MatchRule>);

/// A problem in a matcher: the key path below the matcher's own key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherProblem {
    /// Dotted path below the matcher's key (`0.status`, `body.error_description`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for MatcherProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Matcher {
    /// A matcher of these rules (any of them).
    pub fn any(rules: Vec<MatchRule>) -> Matcher {
        Matcher(OneOrMany::Many(rules))
    }

    /// The rules.
    pub fn rules(&self) -> &[MatchRule] {
        self.0.as_slice()
    }

    /// A matcher of one status, any body (the default `access_rejected` is `status(401)`).
    pub fn status(code: u16) -> Matcher {
        Matcher(OneOrMany::One(MatchRule {
            status: Some(OneOrMany::One(code)),
            prefix: None,
            body: BTreeMap::new(),
        }))
    }

    /// The default `reuse_rejected`: the RFC 6749 `invalid_grant` answer (400, or 401 from JSON
    /// APIs) whose description says the token was already used — the mock's "refresh token reuse
    /// detected" and "already used (rotated out)", Keycloak's "refresh token reuse exceeded",
    /// Supabase's "Already Used" — or Supabase Auth's `error_code: refresh_token_already_used`.
    pub fn default_reuse() -> Matcher {
        let text = |v: &[&str]| OneOrMany::Many(v.iter().map(|s| s.to_string()).collect());
        Matcher::any(vec![
            MatchRule {
                status: Some(OneOrMany::Many(vec![400, 401])),
                prefix: None,
                body: BTreeMap::from([(
                    "error_description".to_string(),
                    text(&["~reuse detected", "~already used", "~reuse exceeded"]),
                )]),
            },
            MatchRule {
                status: Some(OneOrMany::Many(vec![400, 401])),
                prefix: None,
                body: BTreeMap::from([(
                    "error_code".to_string(),
                    OneOrMany::One("refresh_token_already_used".to_string()),
                )]),
            },
        ])
    }

    /// Checks what serde cannot: statuses are HTTP statuses, fields and texts are not empty,
    /// pointers are pointers, a list is not empty.
    pub fn validate(&self) -> Result<(), MatcherProblem> {
        let listed = matches!(self.0, OneOrMany::Many(_));
        let rules = self.rules();
        let bad = |key: String, message: String| MatcherProblem { key, message };
        if rules.is_empty() {
            return Err(bad(String::new(), "an empty list matches nothing".into()));
        }
        for (i, rule) in rules.iter().enumerate() {
            let at = |sub: &str| match (listed, sub.is_empty()) {
                (true, true) => i.to_string(),
                (true, false) => format!("{i}.{sub}"),
                (false, _) => sub.to_string(),
            };
            if rule.status.is_none() && rule.body.is_empty() && rule.prefix.is_none() {
                return Err(bad(
                    at(""),
                    "a rule without `status`, `prefix` or `body` matches every answer".into(),
                ));
            }
            if rule.prefix.as_deref() == Some("") {
                return Err(bad(
                    at("prefix"),
                    "an empty prefix matches every answer; leave it out or give the text, e.g. \"40\"".into(),
                ));
            }
            if let Some(status) = &rule.status {
                if status.as_slice().is_empty() {
                    return Err(bad(
                        at("status"),
                        "an empty status list matches nothing".into(),
                    ));
                }
                if let Some(s) = status.as_slice().iter().find(|s| !(100..=599).contains(*s)) {
                    return Err(bad(
                        at("status"),
                        format!("{s} is not an HTTP status (100-599)"),
                    ));
                }
            }
            for (field, values) in &rule.body {
                let key = at(&format!("body.{field}"));
                if field.trim().is_empty() {
                    return Err(bad(at("body"), "a body field name is empty".into()));
                }
                if values.as_slice().is_empty() {
                    return Err(bad(key, "an empty list matches nothing".into()));
                }
                if values.as_slice().iter().any(|v| v == "~") {
                    return Err(bad(
                        key,
                        "`~` needs the text to look for, e.g. \"~reuse\"".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether an answer with `status` and `body` matches any rule.
    pub fn matches(&self, status: u16, body: &[u8]) -> bool {
        self.matches_at(Some(status), body, 0)
    }

    /// Whether a WebSocket text message matches any rule (no status; without a `prefix`, the
    /// JSON is read after the message's leading packet-type digits).
    pub fn matches_message(&self, text: &str) -> bool {
        let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        self.matches_at(None, text.as_bytes(), digits)
    }

    /// `status` `None`: a message, which no status rule matches. `bare` is where the JSON of a
    /// rule without `prefix` starts.
    fn matches_at(&self, status: Option<u16>, body: &[u8], bare: usize) -> bool {
        // The JSON after offset `.0`, parsed once per offset.
        let mut json: Option<(usize, Option<serde_json::Value>)> = None;
        self.rules().iter().any(|rule| {
            if let Some(s) = &rule.status
                && !status.is_some_and(|st| s.as_slice().contains(&st))
            {
                return false;
            }
            let at = match &rule.prefix {
                Some(p) if body.starts_with(p.as_bytes()) => p.len(),
                Some(_) => return false,
                None => bare,
            };
            if rule.body.is_empty() {
                return true;
            }
            if json.as_ref().is_none_or(|(off, _)| *off != at) {
                json = Some((at, serde_json::from_slice(&body[at..]).ok()));
            }
            let Some((_, Some(doc))) = json.as_ref() else {
                return false;
            };
            rule.body
                .iter()
                .all(|(field, values)| field_matches(doc, field, values.as_slice()))
        })
    }
}

/// Whether the body's `field` (a member name or a JSON pointer) matches one of `values`.
fn field_matches(doc: &serde_json::Value, field: &str, values: &[String]) -> bool {
    let found = if field.starts_with('/') {
        doc.pointer(field)
    } else {
        doc.get(field)
    };
    if found.is_some_and(|v| !v.is_null()) && values.iter().any(|v| v == "*") {
        return true;
    }
    let text = match found {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
        _ => return false,
    };
    values.iter().any(|want| match want.strip_prefix('~') {
        Some(part) => text.to_lowercase().contains(&part.to_lowercase()),
        None => text == *want,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Matcher {
        serde_saphyr::from_str(yaml).expect("matcher")
    }

    #[test]
    fn the_default_tells_reuse_from_other_refusals() {
        let m = Matcher::default_reuse();
        m.validate().unwrap();
        let grant = |d: &str| {
            serde_json::json!({"error": "invalid_grant", "error_description": d}).to_string()
        };
        for reuse in [
            "refresh token reuse detected; the session has been revoked",
            "the refresh token was already used (rotated out)",
            "Maximum allowed refresh token reuse exceeded",
            "Invalid Refresh Token: Already Used",
        ] {
            assert!(m.matches(400, grant(reuse).as_bytes()), "{reuse}");
            assert!(m.matches(401, grant(reuse).as_bytes()), "{reuse}");
        }
        for other in [
            "the session was revoked after refresh token reuse",
            "the refresh token has expired",
            "the session has reached its maximum lifetime",
        ] {
            assert!(!m.matches(400, grant(other).as_bytes()), "{other}");
        }
        assert!(!m.matches(500, grant("reuse detected").as_bytes()));
        assert!(!m.matches(400, b"reuse detected"), "not JSON");
        assert!(m.matches(
            400,
            br#"{"code":400,"error_code":"refresh_token_already_used","msg":"x"}"#
        ));
    }

    #[test]
    fn rules_match_status_exact_contained_and_pointer_values() {
        let m = parse(
            "{ status: 401, body: { error: invalid_grant, /detail/code: [\"~STALE\", \"7\"] } }",
        );
        m.validate().unwrap();
        let ok = br#"{"error":"invalid_grant","detail":{"code":"token stale"}}"#;
        assert!(m.matches(401, ok));
        assert!(!m.matches(400, ok), "status");
        assert!(m.matches(401, br#"{"error":"invalid_grant","detail":{"code":7}}"#));
        assert!(!m.matches(401, br#"{"error":"invalid_grant2","detail":{"code":7}}"#));
        assert!(
            !m.matches(401, br#"{"error":"invalid_grant"}"#),
            "missing field"
        );
        let any_status = parse("body: { error: x }");
        assert!(any_status.matches(418, br#"{"error":"x"}"#));
        let status_only = parse("[ { status: [409] } ]");
        assert!(status_only.matches(409, b"not json"));
    }

    #[test]
    fn prefixes_presence_and_messages() {
        // Socket.IO: the ack is `40{"sid"}`, not the Engine.IO open packet `0{"sid",...}`.
        let ack = parse("{ prefix: \"40\", body: { sid: \"*\" } }");
        ack.validate().unwrap();
        assert!(ack.matches_message(r#"40{"sid":"abc"}"#));
        assert!(!ack.matches_message(r#"0{"sid":"abc","pingInterval":25000}"#));
        assert!(!ack.matches_message(r#"44{"message":"unauthorized"}"#));
        assert!(
            !ack.matches_message(r#"40{"sid":null}"#),
            "null is not a value"
        );
        let ping = parse("prefix: \"2\"");
        ping.validate().unwrap();
        assert!(ping.matches_message("2"));
        assert!(!ping.matches_message("3"));
        // Centrifugo: presence of an object member; digits are skipped without a prefix.
        let connect = parse("body: { id: \"1\", connect: \"*\" }");
        assert!(connect.matches_message(r#"{"id":1,"connect":{"client":"c","ping":25}}"#));
        assert!(!connect.matches_message(r#"{"id":1,"error":{"code":109}}"#));
        assert!(connect.matches_message(r#"42{"id":1,"connect":{}}"#));
        // A status rule never matches a message; HTTP answers with a guard prefix.
        assert!(!Matcher::status(401).matches_message("401"));
        let guarded = parse("{ status: 400, prefix: \")]}'\", body: { error: invalid_grant } }");
        assert!(guarded.matches(400, br#")]}'{"error":"invalid_grant"}"#));
        assert!(!guarded.matches(400, br#"{"error":"invalid_grant"}"#));
        assert_eq!(parse("prefix: \"\"").validate().unwrap_err().key, "prefix");
    }

    #[test]
    fn policies_are_matchers() {
        let grant = br#"{"error":"invalid_grant"}"#;
        for (status, body) in [(400, &grant[..]), (401, grant), (403, b"x"), (400, b"{}")] {
            assert_eq!(
                RejectPolicy::Strict.matcher().matches(status, body),
                RejectPolicy::Strict.rejected(status, body),
                "{status}"
            );
            assert_eq!(
                RejectPolicy::Lenient.matcher().matches(status, body),
                RejectPolicy::Lenient.rejected(status, body),
                "{status}"
            );
        }
        let r: Rejection = serde_saphyr::from_str("strict").unwrap();
        assert_eq!(r.policy(), Some(RejectPolicy::Strict));
        let e = serde_saphyr::from_str::<Rejection>("strikt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown policy \"strikt\""), "{e}");
        let r: Rejection =
            serde_saphyr::from_str("{ status: 401, body: { code: token_not_valid } }").unwrap();
        assert_eq!(r.policy(), None);
        assert!(r.matcher().matches(401, br#"{"code":"token_not_valid"}"#));
        assert!(!r.matcher().matches(401, br#"{"code":"user_inactive"}"#));
    }

    #[test]
    fn bad_rules_name_the_key() {
        let problem = |yaml: &str| parse(yaml).validate().unwrap_err();
        assert_eq!(problem("{ status: 99 }").key, "status");
        assert_eq!(
            problem("[ { status: 400 }, { status: [600] } ]").key,
            "1.status"
        );
        assert_eq!(problem("[ { status: 400 }, {} ]").key, "1");
        assert!(problem("{}").message.contains("every answer"));
        assert_eq!(problem("{ body: { error: [] } }").key, "body.error");
        let p = problem("{ body: { error: \"~\" } }");
        assert!(p.message.contains("~reuse"), "{p}");
        assert_eq!(problem("[]").key, "");
        assert!(serde_saphyr::from_str::<Matcher>("{ stat: 400 }").is_err());
    }
}
