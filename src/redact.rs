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
}
