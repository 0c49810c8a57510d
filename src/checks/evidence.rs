//! Evidence: the requests and responses that decided a check, as a reader (and `report.json`) sees
//! them — method, path, status, the headers that matter, a body excerpt — with every secret redacted.
//!
//! Redaction is layered so that nothing slips through: values the check knows are secrets (every
//! token it received or forged), anything shaped like a JWT, the values of token-bearing JSON keys
//! and form/query fields, `Authorization`, `Cookie`/`Set-Cookie` values and `bearer.` subprotocols.

use serde::Serialize;

use crate::redact::redact;

/// Longest body excerpt kept per request or response (characters, after redaction).
pub const BODY_EXCERPT: usize = 400;

/// JSON keys and form fields whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "logout_token",
    "client_secret",
    "password",
];

/// One header of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Lower-case name.
    pub name: String,
    /// Value, redacted.
    pub value: String,
}

/// One request/response exchange (HTTP, or a WebSocket handshake with its transcript).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    /// What this exchange was for, e.g. "refresh with R1 after R2 was issued".
    pub label: String,
    /// Method and path with query, e.g. `POST /oauth/token` (redacted).
    pub request: String,
    /// The request headers that matter (Authorization, Content-Type, Cookie, subprotocol).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<Header>,
    /// Request body excerpt (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// Response status (101 for an accepted WebSocket upgrade), if a response arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response headers that matter (WWW-Authenticate, Cache-Control, Content-Type, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<Header>,
    /// Response body excerpt, or the WebSocket transcript (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    /// Transport error, if the exchange failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time from sending to the end of the response (or of the transcript), milliseconds.
    pub elapsed_ms: u64,
}

impl Exchange {
    /// An exchange labelled `label` for `request` (method and target), before anything is sent.
    pub fn new(label: &str, request: String) -> Exchange {
        Exchange {
            label: label.to_string(),
            request,
            request_headers: vec![],
            request_body: None,
            status: None,
            response_headers: vec![],
            response_body: None,
            error: None,
            elapsed_ms: 0,
        }
    }

    /// Re-applies redaction with the final list of secrets (tokens learnt after this exchange).
    pub fn scrub(&mut self, secrets: &[String]) {
        self.label = scrub(&self.label, secrets);
        self.request = scrub(&self.request, secrets);
        for h in self
            .request_headers
            .iter_mut()
            .chain(self.response_headers.iter_mut())
        {
            h.value = scrub(&h.value, secrets);
        }
        for b in [
            &mut self.request_body,
            &mut self.response_body,
            &mut self.error,
        ]
        .into_iter()
        .flatten()
        {
            *b = scrub(b, secrets);
        }
    }

    /// One line for terminals: `POST /oauth/token → 400 (12 ms)`.
    pub fn one_line(&self) -> String {
        let outcome = match (self.status, &self.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => "no response".to_string(),
        };
        format!(
            "{}: {} → {} ({} ms)",
            self.label, self.request, outcome, self.elapsed_ms
        )
    }
}

/// Whether a request header is kept as evidence.
pub fn keep_request_header(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "content-type" | "cookie" | "sec-websocket-protocol"
    )
}

/// Whether a response header is kept as evidence (`extra`: the profile's renewal header).
pub fn keep_response_header(name: &str, extra: Option<&str>) -> bool {
    matches!(
        name,
        "www-authenticate"
            | "cache-control"
            | "pragma"
            | "content-type"
            | "set-cookie"
            | "location"
            | "retry-after"
            | "sec-websocket-protocol"
    ) || extra.is_some_and(|e| e.eq_ignore_ascii_case(name))
}

/// A header value made safe to show: credentials in `Authorization`, cookies and subprotocols are
/// redacted, then the generic [`scrub`] applies.
pub fn header_value(name: &str, value: &str, secrets: &[String]) -> String {
    let v = match name {
        "authorization" => match value.split_once(' ') {
            Some((scheme, cred)) => format!("{scheme} {}", redact_credential(cred.trim())),
            None => redact_credential(value),
        },
        "cookie" => redact_pairs(value, "; "),
        "set-cookie" => {
            let (first, attrs) = value.split_once(';').unwrap_or((value, ""));
            let first = redact_pairs(first, "; ");
            if attrs.is_empty() {
                first
            } else {
                format!("{first};{attrs}")
            }
        }
        "sec-websocket-protocol" => value
            .split(',')
            .map(|p| {
                let p = p.trim();
                match p.split_once('.') {
                    Some((pre, tok)) if pre.eq_ignore_ascii_case("bearer") => {
                        format!("{pre}.{}", redact(tok))
                    }
                    _ => p.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => value.to_string(),
    };
    scrub(&v, secrets)
}

/// Tokens keep a short prefix; short credentials (admin keys, passwords) are masked entirely,
/// since a prefix would be most of the secret.
fn redact_credential(cred: &str) -> String {
    let len = cred.chars().count();
    if len < 24 {
        format!("…({len})")
    } else {
        redact(cred)
    }
}

fn redact_pairs(s: &str, sep: &str) -> String {
    s.split(';')
        .map(|kv| {
            let kv = kv.trim();
            match kv.split_once('=') {
                Some((k, v)) => format!("{k}={}", redact(v)),
                None => kv.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// A body made safe to show: lossy UTF-8, redacted, cut to [`BODY_EXCERPT`] characters.
pub fn body_excerpt(bytes: &[u8], secrets: &[String]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    // Redact before cutting so a cut can never leave part of a token behind.
    let head = &bytes[..bytes.len().min(16 * 1024)];
    let text = scrub(&String::from_utf8_lossy(head), secrets);
    Some(cut(&text, BODY_EXCERPT))
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Redacts every secret in `text`: the known ones, JWT-shaped strings, and the values of
/// token-bearing JSON keys and form fields.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    let mut known: Vec<&String> = secrets.iter().filter(|s| s.len() > 8).collect();
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in known {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &redact(s));
        }
    }
    let out = redact_jwts(&out);
    redact_keyed_values(&out)
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Replaces `eyJ…` strings of at least two dot-separated base64url segments by their redaction.
fn redact_jwts(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i + 3 <= bytes.len() {
        let boundary = i == 0 || !is_b64url(bytes[i - 1]);
        if boundary && &bytes[i..i + 3] == b"eyJ" {
            let mut j = i;
            let mut dots = 0;
            while j < bytes.len() && (is_b64url(bytes[j]) || bytes[j] == b'.') {
                if bytes[j] == b'.' {
                    dots += 1;
                }
                j += 1;
            }
            if dots >= 1 && j - i > 16 {
                out.push_str(&text[last..i]);
                out.push_str(&redact(&text[i..j]));
                last = j;
                i = j;
                continue;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

/// Redacts the values of `"key": "value"` (JSON) and `key=value` (form, query) for secret keys.
fn redact_keyed_values(text: &str) -> String {
    let mut out = text.to_string();
    for key in SECRET_KEYS {
        let mask = matches!(*key, "password" | "client_secret");
        out = redact_after(&out, &format!("\"{key}\""), true, mask);
        out = redact_after(&out, &format!("{key}="), false, mask);
    }
    out
}

fn redact_after(text: &str, needle: &str, json: bool, mask: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(needle) {
        let before = &rest[..pos];
        // `token=` must not match inside `access_token=` (handled by its own key) or `xtoken=`.
        let prev = before.as_bytes().last().copied();
        let standalone = json || !prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        let after_key = pos + needle.len();
        out.push_str(&rest[..after_key]);
        rest = &rest[after_key..];
        if !standalone {
            continue;
        }
        if json {
            // Skip `\s*:\s*"`, then the string up to the closing quote.
            let trimmed = rest.trim_start();
            let Some(after_colon) = trimmed.strip_prefix(':') else {
                continue;
            };
            let value_start = after_colon.trim_start();
            let Some(value) = value_start.strip_prefix('"') else {
                continue;
            };
            let end = value.find('"').unwrap_or(value.len());
            let consumed = rest.len() - value.len();
            out.push_str(&rest[..consumed]);
            out.push_str(&redact_value(&value[..end], mask));
            rest = &value[end..];
        } else {
            let end = rest
                .find(|c: char| c == '&' || c == '"' || c == ';' || c.is_whitespace())
                .unwrap_or(rest.len());
            out.push_str(&redact_value(&rest[..end], mask));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

fn redact_value(v: &str, mask: bool) -> String {
    if v.is_empty() || v.contains('…') {
        v.to_string()
    } else if mask {
        format!("…({})", v.chars().count())
    } else {
        redact(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";

    #[test]
    fn known_secrets_and_jwts_are_redacted() {
        let opaque = "rt_9f8e7d6c5b4a39281706".to_string();
        let text = format!("{{\"access_token\":\"{JWT}\",\"refresh_token\":\"{opaque}\"}}");
        let out = scrub(&text, std::slice::from_ref(&opaque));
        assert!(!out.contains(JWT) && !out.contains(&opaque), "{out}");
        assert!(out.contains("eyJhbGci…("), "{out}");
        assert!(out.contains("rt_9f8e7…("), "{out}");
        // Idempotent: scrubbing twice changes nothing.
        assert_eq!(scrub(&out, &[opaque]), out);
    }

    #[test]
    fn unknown_opaque_tokens_in_forms_and_json_are_redacted() {
        let out = scrub(
            "grant_type=refresh_token&refresh_token=abcdefghijklmnopq&x=1",
            &[],
        );
        assert_eq!(
            out,
            "grant_type=refresh_token&refresh_token=abcdefgh…(17)&x=1"
        );
        let out = scrub("{\"token\" : \"zyxwvutsrqponm\", \"active\":false}", &[]);
        assert!(
            out.contains("zyxwvuts…(14)") && !out.contains("zyxwvutsrqponm"),
            "{out}"
        );
        let out = scrub("grant_type=password&username=user1&password=pw-100000", &[]);
        assert!(out.ends_with("password=…(9)"), "{out}");
        let out = scrub("GET /api/me?access_token=qwertyuiopasdf HTTP", &[]);
        assert!(!out.contains("qwertyuiopasdf"), "{out}");
    }

    #[test]
    fn headers_are_redacted() {
        let auth = header_value("authorization", &format!("Bearer {JWT}"), &[]);
        assert!(
            auth.starts_with("Bearer eyJhbGci…") && !auth.contains("c2ln"),
            "{auth}"
        );
        let cookie = header_value(
            "set-cookie",
            "refresh_token=abcdefghijklmnop; HttpOnly; Path=/",
            &[],
        );
        assert_eq!(cookie, "refresh_token=abcdefgh…(16); HttpOnly; Path=/");
        let proto = header_value("sec-websocket-protocol", &format!("bearer.{JWT}"), &[]);
        assert!(
            proto.starts_with("bearer.eyJhbGci…") && !proto.contains("c2ln"),
            "{proto}"
        );
        assert_eq!(
            header_value("authorization", "Bearer dev-admin", &[]),
            "Bearer …(9)"
        );
        assert_eq!(
            header_value("www-authenticate", "Bearer realm=\"x\"", &[]),
            "Bearer realm=\"x\""
        );
    }

    #[test]
    fn excerpts_are_bounded_and_never_split_a_token() {
        let body = format!("{}{}", "x".repeat(395), JWT);
        let ex = body_excerpt(body.as_bytes(), &[]).unwrap();
        assert!(ex.chars().count() <= BODY_EXCERPT + 1);
        assert!(!ex.contains("eyJzdWIi"), "{ex}");
        assert_eq!(body_excerpt(b"", &[]), None);
        assert_eq!(body_excerpt(&[0xff, 0xfe], &[]).unwrap().chars().count(), 2);
    }
}
