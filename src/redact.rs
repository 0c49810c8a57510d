//! Redaction of secrets for anything a person or a file will see: tokens are never printed whole.

/// How many leading characters of a secret are kept.
pub const KEEP: usize = 8;

/// Redacts a token to a short prefix followed by an ellipsis and its length, e.g. `eyJhbGci…(412)`.
/// Short values (at most [`KEEP`] characters) are fully masked, since a prefix would be the whole secret.
pub fn redact(secret: &str) -> String {
    let len = secret.chars().count();
    if len <= KEEP {
        return format!("…({len})");
    }
    let prefix: String = secret.chars().take(KEEP).collect();
    format!("{prefix}…({len})")
}

/// Replaces every occurrence of each secret in `text` by its redacted form.
pub fn redact_all(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() > KEEP) {
        out = out.replace(s, &redact(s));
    }
    out
}

/// Runs of token characters this long or longer are taken for secrets by [`excerpt`].
pub const TOKEN_RUN: usize = 20;

/// Whether a run of base64url/JWT/hex characters may be a secret: at least [`TOKEN_RUN`] long and
/// holding a digit or both cases (random token alphabets do, almost surely), or long enough that
/// nothing else is plausible. Protocol words such as `temporarily_unavailable` or
/// `unsupported_grant_type` stay readable.
fn token_like(run: &str) -> bool {
    let n = run.chars().count();
    let digit = run.chars().any(|c| c.is_ascii_digit());
    let mixed =
        run.chars().any(|c| c.is_ascii_uppercase()) && run.chars().any(|c| c.is_ascii_lowercase());
    n >= 2 * TOKEN_RUN || (n >= TOKEN_RUN && (digit || mixed))
}

/// The first `max` characters of a response body or message for people (a sample failure), with
/// every token-like run redacted (see [`token_like`]): the text may come from a server that echoes
/// credentials back.
pub fn excerpt(text: &str, max: usize) -> String {
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=');
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if token_like(run) {
            out.push_str(&redact(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        if out.chars().count() >= max {
            break;
        }
        if c.is_whitespace() || c.is_control() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    let trimmed = out.trim();
    if trimmed.chars().count() > max {
        let cut: String = trimmed.chars().take(max).collect();
        format!("{cut}…")
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_a_prefix() {
        let t = "eyJhbGciOiJFUzI1NiJ9.payload.signature";
        let r = redact(t);
        assert!(r.starts_with("eyJhbGci…"));
        assert!(!r.contains("payload"));
        assert_eq!(redact("short"), "…(5)");
    }

    #[test]
    fn redacts_inside_text() {
        let tok = "abcdefghijklmnopqrstuvwxyz";
        let text = format!("refresh_token={tok}&x=1");
        let out = redact_all(&text, &[tok]);
        assert!(!out.contains(tok));
        assert!(out.contains("abcdefgh…(26)"));
    }

    #[test]
    fn excerpts_redact_token_like_runs() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.c2lnbmF0dXJl";
        let body = format!("{{\"error\":\"invalid_grant\",\"token\":\"{jwt}\"}}\n");
        let out = excerpt(&body, 200);
        assert!(!out.contains(jwt), "{out}");
        assert!(out.contains("invalid_grant"));
        assert!(out.contains("eyJhbGci…"));
        assert_eq!(excerpt("a\n  b", 10), "a b");
        let words = r#"{"error":"temporarily_unavailable","error_description":"x"}"#;
        assert_eq!(excerpt(words, 200), words, "protocol words are not tokens");
        let opaque = "rt_Zm9vYmFyYmF6cXV4cXV1eA";
        assert!(!excerpt(opaque, 200).contains(opaque));
        assert_eq!(excerpt(&"x ".repeat(100), 10).chars().count(), 11);
    }
}
