//! Reading tokens out of login and refresh responses: extractors (`json:/pointer`, `header:Name`,
//! `cookie:name`), the [`Tokens`] they produce, the `exp` of a JWT read without verification, and
//! the "was this refresh rejected?" policy ([`RejectPolicy`]).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::redact::redact;

/// The longest token lifetime taken from a response (`1e10` s, about 317 years).
const MAX_LIFETIME_S: f64 = 1e10;

/// Where one value comes from in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extractor {
    /// A JSON pointer into the body (`json:/access_token`, `json:/data/token`).
    Json(String),
    /// A response header (`header:X-Access-Token`); a `Bearer ` prefix is removed.
    Header(http::HeaderName),
    /// A `Set-Cookie` of that name (`cookie:refresh_token`).
    Cookie(String),
}

impl Extractor {
    /// Reads the value from a response; `None` when absent or empty.
    pub fn extract(
        &self,
        headers: &http::HeaderMap,
        body: Option<&serde_json::Value>,
    ) -> Option<String> {
        let v = match self {
            Extractor::Json(ptr) => match body?.pointer(ptr)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            },
            Extractor::Header(name) => {
                let v = headers.get(name)?.to_str().ok()?.trim();
                match v.get(..7) {
                    Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim().to_string(),
                    _ => v.to_string(),
                }
            }
            Extractor::Cookie(name) => set_cookie_value(headers, name)?,
        };
        (!v.is_empty()).then_some(v)
    }

    /// Whether this reads the JSON body.
    pub fn needs_json(&self) -> bool {
        matches!(self, Extractor::Json(_))
    }
}

/// One `Set-Cookie` header as a client keeps it: name, value (surrounding quotes removed), when
/// it expires and whether it deletes the cookie (an empty value, `Max-Age` zero or negative, an
/// `Expires` in the past). Parsed by the `cookie` crate; `Max-Age` wins over `Expires` (RFC 6265
/// §5.3 step 3); the other attributes do not matter to a client that talks to one origin, except
/// `HttpOnly`, kept for what it says about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The server clears the cookie.
    pub deleted: bool,
    /// When the cookie expires (`Max-Age` from now, else `Expires`); `None`: at the end of the
    /// browser session, i.e. never for a simulated client.
    pub expires: Option<std::time::SystemTime>,
    /// The `HttpOnly` attribute.
    pub http_only: bool,
}

impl SetCookie {
    /// Parses one `Set-Cookie` header value; `None` when it has no `name=value` pair.
    pub fn parse(header: &str) -> Option<SetCookie> {
        SetCookie::parse_at(header, std::time::SystemTime::now())
    }

    /// [`SetCookie::parse`] with `now` as the instant `Max-Age` counts from.
    pub fn parse_at(header: &str, now: std::time::SystemTime) -> Option<SetCookie> {
        let c = cookie::Cookie::parse(header).ok()?;
        let value = c.value_trimmed().to_string();
        let expires = match c.max_age() {
            Some(d) if d.is_zero() || d.is_negative() => Some(now),
            // The server's number: one past what the clock can hold never expires.
            Some(d) => now.checked_add(std::time::Duration::from_secs(d.whole_seconds() as u64)),
            None => c.expires_datetime().map(std::time::SystemTime::from),
        };
        Some(SetCookie {
            name: c.name().to_string(),
            deleted: value.is_empty() || expires.is_some_and(|e| e <= now),
            value,
            expires,
            http_only: c.http_only().unwrap_or(false),
        })
    }

    /// Every parsable `Set-Cookie` of a response, in order.
    pub fn all(headers: &http::HeaderMap) -> impl Iterator<Item = SetCookie> + '_ {
        headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(SetCookie::parse)
    }
}

/// The value of the last `Set-Cookie: name=value; ...` for `name` (`None` if absent or cleared).
pub fn set_cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    SetCookie::all(headers)
        .filter(|c| c.name == name)
        .last()
        .filter(|c| !c.deleted)
        .map(|c| c.value)
}

impl fmt::Display for Extractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extractor::Json(p) => write!(f, "json:{p}"),
            Extractor::Header(h) => write!(f, "header:{h}"),
            Extractor::Cookie(c) => write!(f, "cookie:{c}"),
        }
    }
}

impl FromStr for Extractor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let examples = "examples: json:/access_token, header:X-Access-Token, cookie:refresh_token";
        let (kind, arg) = s.trim().split_once(':').ok_or_else(|| {
            format!("invalid extractor {s:?}: expected KIND:ARGUMENT ({examples})")
        })?;
        let arg = arg.trim();
        match kind.trim() {
            "json" => {
                if arg.is_empty() || arg.starts_with('/') {
                    Ok(Extractor::Json(arg.to_string()))
                } else {
                    Err(format!(
                        "invalid extractor {s:?}: a JSON pointer starts with /, e.g. json:/{arg}"
                    ))
                }
            }
            "header" => http::HeaderName::from_bytes(arg.as_bytes())
                .map(Extractor::Header)
                .map_err(|_| format!("invalid extractor {s:?}: {arg:?} is not a header name")),
            "cookie" if !arg.is_empty() && !arg.contains([';', '=', ' ']) => {
                Ok(Extractor::Cookie(arg.to_string()))
            }
            "cookie" => Err(format!(
                "invalid extractor {s:?}: {arg:?} is not a cookie name"
            )),
            other => Err(format!(
                "invalid extractor {s:?}: unknown kind {other:?}, use json, header or cookie ({examples})"
            )),
        }
    }
}

impl Serialize for Extractor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Extractor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Extractor {
    fn schema_name() -> Cow<'static, str> {
        "Extractor".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(json:(/.*)?|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^;= ]+)$",
            "description": "json:/pointer into the body, header:Name, or cookie:name (a Set-Cookie).",
            "examples": ["json:/access_token", "header:X-Access-Token", "cookie:refresh_token"]
        })
    }
}

/// The extractors of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extractors {
    /// Access token (required in every login/refresh response).
    pub access_token: Extractor,
    /// Refresh token (optional: absent = keep the previous one).
    pub refresh_token: Extractor,
    /// `expires_in` seconds, for opaque access tokens.
    pub expires_in: Extractor,
    /// Session id (optional).
    pub session_id: Extractor,
    /// `refresh_expires_in` seconds: how long the refresh token stays valid (optional).
    pub refresh_expires_in: Extractor,
}

impl Default for Extractors {
    fn default() -> Self {
        Extractors {
            access_token: Extractor::Json("/access_token".into()),
            refresh_token: Extractor::Json("/refresh_token".into()),
            expires_in: Extractor::Json("/expires_in".into()),
            session_id: Extractor::Json("/session_id".into()),
            refresh_expires_in: Extractor::Json("/refresh_expires_in".into()),
        }
    }
}

/// The tokens of one session. `Debug` redacts them.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token; `None` when the response carried none (keep the previous one, or it
    /// lives in the client's cookie jar).
    pub refresh_token: Option<String>,
    /// When the access token expires: the JWT `exp` (read without verifying), else now + `expires_in`.
    pub expires_at: Option<SystemTime>,
    /// The session id, if the server tells it.
    pub session_id: Option<String>,
    /// When the refresh token stops working, as the server announced it: now +
    /// `refresh_expires_in` (0 means "not said", as Keycloak's offline tokens), or the refresh
    /// token's JWT `exp`, whichever is earlier.
    pub refresh_expires_at: Option<SystemTime>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &redact(&self.access_token))
            .field("refresh_token", &self.refresh_token.as_deref().map(redact))
            .field("expires_at", &self.expires_at)
            .field("session_id", &self.session_id)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// Why a login or refresh response gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The status was not 2xx.
    #[error("status {status}: {excerpt}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body (no tokens in error bodies; still capped).
        excerpt: String,
    },
    /// The body should be JSON but is not.
    #[error("status {status}: the body is not JSON ({excerpt})")]
    NotJson {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },
    /// A required value is missing.
    #[error("no {field} in the response (extractor {extractor})")]
    Missing {
        /// `access_token`.
        field: &'static str,
        /// The extractor that found nothing.
        extractor: String,
    },
}

/// At most this many characters of a body appear in messages.
const EXCERPT: usize = 200;

/// The start of `body` as text, for messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT * 4)]);
    let mut s: String = text.chars().take(EXCERPT).collect();
    if text.chars().count() > EXCERPT {
        s.push('…');
    }
    s
}

impl Extractors {
    /// Reads tokens from a login or refresh response.
    pub fn parse(
        &self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Tokens, ExtractError> {
        if !(200..300).contains(&status) {
            return Err(ExtractError::Status {
                status,
                excerpt: excerpt(body),
            });
        }
        let all = [
            &self.access_token,
            &self.refresh_token,
            &self.expires_in,
            &self.session_id,
            &self.refresh_expires_in,
        ];
        let json = if all.iter().any(|e| e.needs_json()) && !body.is_empty() {
            match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) => Some(v),
                Err(_) if self.access_token.needs_json() => {
                    return Err(ExtractError::NotJson {
                        status,
                        excerpt: excerpt(body),
                    });
                }
                Err(_) => None,
            }
        } else {
            None
        };
        let access_token = self
            .access_token
            .extract(headers, json.as_ref())
            .ok_or_else(|| ExtractError::Missing {
                field: "access_token",
                extractor: self.access_token.to_string(),
            })?;
        let refresh_token = self.refresh_token.extract(headers, json.as_ref());
        // A lifetime past ~317 years is taken as that long (it is there, and it is far away:
        // `sync_expiry` then says the expiry is too far, not that there is none).
        let seconds = |e: &Extractor| {
            e.extract(headers, json.as_ref())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| s.min(MAX_LIFETIME_S))
        };
        let now = SystemTime::now();
        let expires_at = jwt_exp(&access_token)
            .or_else(|| seconds(&self.expires_in).map(|s| now + Duration::from_secs_f64(s)));
        let announced = seconds(&self.refresh_expires_in)
            .filter(|s| *s > 0.0)
            .map(|s| now + Duration::from_secs_f64(s));
        let refresh_expires_at = match (announced, refresh_token.as_deref().and_then(jwt_exp)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(Tokens {
            session_id: self.session_id.extract(headers, json.as_ref()),
            access_token,
            refresh_token,
            expires_at,
            refresh_expires_at,
        })
    }
}

/// The `exp` claim of a JWT, read WITHOUT verifying the signature (the client only schedules by
/// it). `None` for opaque tokens or a missing/invalid `exp`.
pub fn jwt_exp(token: &str) -> Option<SystemTime> {
    if token.len() > 16 * 1024 {
        return None;
    }
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    // Only `exp` is read: the other claims are skipped, not built into a `Value` (one allocation
    // per claim, 14 per token of the mock, paid at every refresh). A payload that is not an
    // object has no `exp` (serde would take an array for a struct).
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: Option<f64>,
    }
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let exp = serde_json::from_slice::<Exp>(&bytes).ok()?.exp?;
    if !(0.0..1e12).contains(&exp) {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs_f64(exp))
}

/// What counts as "refresh rejected" (the client then logs in again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectPolicy {
    /// RFC 6749 §5.2: only 400 with `"error": "invalid_grant"`.
    Strict,
    /// 400, 401 or 403, whatever the body.
    #[default]
    Lenient,
}

impl RejectPolicy {
    /// Whether a refresh response with `status` and `body` is a rejection of the refresh token.
    pub fn rejected(self, status: u16, body: &[u8]) -> bool {
        match self {
            RejectPolicy::Strict => {
                status == 400
                    && serde_json::from_slice::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| v.get("error")?.as_str().map(|e| e == "invalid_grant"))
                        .unwrap_or(false)
            }
            RejectPolicy::Lenient => matches!(status, 400 | 401 | 403),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn jwt(claims: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(claims))
    }

    #[test]
    fn jwt_exp_without_verification() {
        let t = jwt(r#"{"sub":"u","exp":1700000000}"#);
        assert_eq!(
            jwt_exp(&t),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(jwt_exp(&jwt(r#"{"sub":"u"}"#)), None);
        assert_eq!(jwt_exp(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(jwt_exp("opaque-token"), None);
        assert_eq!(jwt_exp("a.%%%.c"), None);
        assert_eq!(jwt_exp("a.b"), None);
        // Nested objects and arrays among the other claims are skipped; a fractional `exp` is
        // kept; a payload that is an array is not claims.
        let rich = jwt(r#"{"aud":["a","b"],"ctx":{"exp":1},"exp":1700000000.5,"n":null}"#);
        assert_eq!(
            jwt_exp(&rich),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_500))
        );
        assert_eq!(jwt_exp(&jwt("[1700000000]")), None);
        assert_eq!(jwt_exp(&jwt(r#"{"exp":-5}"#)), None);
    }

    #[test]
    fn extractors_parse_and_display() {
        for s in [
            "json:/access_token",
            "header:x-token",
            "cookie:rt",
            "json:/a/0",
        ] {
            assert_eq!(s.parse::<Extractor>().unwrap().to_string(), s);
        }
        assert!(
            "json:access_token"
                .parse::<Extractor>()
                .unwrap_err()
                .contains("json:/access_token")
        );
        assert!(
            "body:/x"
                .parse::<Extractor>()
                .unwrap_err()
                .contains("unknown kind")
        );
        assert!("cookie:a=b".parse::<Extractor>().is_err());
        assert!("header:bad name".parse::<Extractor>().is_err());
        assert!("nothing".parse::<Extractor>().is_err());
    }

    #[test]
    fn extract_from_json_header_and_cookie() {
        let mut h = HeaderMap::new();
        h.insert("x-token", HeaderValue::from_static("Bearer hdr-tok"));
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("other=1; Path=/"),
        );
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("refresh_token=cookie-rt; HttpOnly; Path=/"),
        );
        let body = serde_json::json!({"data": {"token": "j", "n": 5}});
        let get = |s: &str| s.parse::<Extractor>().unwrap().extract(&h, Some(&body));
        assert_eq!(get("json:/data/token").as_deref(), Some("j"));
        assert_eq!(get("json:/data/n").as_deref(), Some("5"));
        assert_eq!(get("json:/nope"), None);
        assert_eq!(get("header:X-Token").as_deref(), Some("hdr-tok"));
        assert_eq!(get("cookie:refresh_token").as_deref(), Some("cookie-rt"));
        assert_eq!(get("cookie:absent"), None);
    }

    #[test]
    fn parse_tokens_prefers_jwt_exp() {
        let at = jwt(r#"{"exp":4000000000}"#);
        let body = serde_json::json!({"access_token": at, "refresh_token": "rt", "expires_in": 30, "session_id": "s1"});
        let t = Extractors::default()
            .parse(200, &HeaderMap::new(), body.to_string().as_bytes())
            .unwrap();
        assert_eq!(
            t.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(4_000_000_000))
        );
        assert_eq!(t.refresh_token.as_deref(), Some("rt"));
        assert_eq!(t.session_id.as_deref(), Some("s1"));
        assert_eq!(t.refresh_expires_at, None, "nothing announced");
        assert!(!format!("{t:?}").contains(&at), "Debug must redact");
    }

    #[test]
    fn a_huge_expires_in_is_far_away_not_absent() {
        let t = Extractors::default()
            .parse(
                200,
                &HeaderMap::new(),
                br#"{"access_token":"opaque","expires_in":1000000000000}"#,
            )
            .unwrap();
        let at = t.expires_at.expect("an expiry, far away");
        assert!(at > SystemTime::now() + Duration::from_secs(300 * 365 * 86_400));
    }

    #[test]
    fn parse_tokens_opaque_uses_expires_in() {
        let before = SystemTime::now();
        let t = Extractors::default()
            .parse(
                200,
                &HeaderMap::new(),
                br#"{"access_token":"opaque","expires_in":"60"}"#,
            )
            .unwrap();
        let at = t.expires_at.unwrap();
        assert!(
            at >= before + Duration::from_secs(60)
                && at <= SystemTime::now() + Duration::from_secs(60)
        );
        assert_eq!(t.refresh_token, None);
    }

    #[test]
    fn parse_tokens_reads_the_announced_refresh_expiry() {
        let before = SystemTime::now();
        let parse = |body: serde_json::Value| {
            Extractors::default()
                .parse(200, &HeaderMap::new(), body.to_string().as_bytes())
                .unwrap()
                .refresh_expires_at
        };
        let at = parse(serde_json::json!({"access_token": "a", "refresh_expires_in": 30}))
            .expect("announced");
        assert!(at >= before + Duration::from_secs(30));
        assert!(at <= SystemTime::now() + Duration::from_secs(30));
        // 0 means "not said" (Keycloak's offline tokens).
        assert_eq!(
            parse(serde_json::json!({"access_token": "a", "refresh_expires_in": 0})),
            None
        );
        // A JWT refresh token's exp, and the earlier of the two.
        let rt = jwt(r#"{"exp":1700000000}"#);
        let exp = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse(serde_json::json!({"access_token": "a", "refresh_token": rt})),
            Some(exp)
        );
        assert_eq!(
            parse(
                serde_json::json!({"access_token": "a", "refresh_token": rt, "refresh_expires_in": 60})
            ),
            Some(exp)
        );
    }

    #[test]
    fn parse_tokens_errors() {
        let e =
            Extractors::default().parse(400, &HeaderMap::new(), br#"{"error":"invalid_grant"}"#);
        assert!(matches!(e, Err(ExtractError::Status { status: 400, .. })));
        let e = Extractors::default().parse(200, &HeaderMap::new(), b"<html>");
        assert!(matches!(e, Err(ExtractError::NotJson { .. })));
        let e = Extractors::default().parse(200, &HeaderMap::new(), b"{}");
        assert!(matches!(
            e,
            Err(ExtractError::Missing {
                field: "access_token",
                ..
            })
        ));
        let e = Extractors::default().parse(200, &HeaderMap::new(), b"");
        assert!(matches!(e, Err(ExtractError::Missing { .. })));
    }

    #[test]
    fn reject_policies() {
        let grant = br#"{"error":"invalid_grant"}"#;
        assert!(RejectPolicy::Strict.rejected(400, grant));
        assert!(!RejectPolicy::Strict.rejected(400, br#"{"error":"invalid_request"}"#));
        assert!(!RejectPolicy::Strict.rejected(401, grant));
        assert!(!RejectPolicy::Strict.rejected(400, b"garbage"));
        for s in [400, 401, 403] {
            assert!(RejectPolicy::Lenient.rejected(s, b""), "{s}");
        }
        assert!(!RejectPolicy::Lenient.rejected(500, grant));
        assert!(!RejectPolicy::Lenient.rejected(429, b""));
    }
}
