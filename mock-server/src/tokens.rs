//! Tokens: signing keys, JWT access tokens (mint + verify), opaque refresh tokens, the JWKS.
//!
//! Access tokens are JWS compact tokens built by hand: the header is encoded once at start and
//! every token is `header.payload` signed with a key pair parsed once (jsonwebtoken would re-parse
//! an RSA key on every encode). Verification uses a public key parsed once, and a bounded cache of
//! already-verified token strings so a resource server under load does not re-run ECDSA for every
//! call. The cache is keyed by the exact string: a tampered token is another string and goes
//! through the full verification.
//!
//! Refresh tokens are opaque to clients: 72 random-looking bytes, base64url (96 characters):
//! `nonce (32 random bytes) || (sid, generation) masked with HMAC(mask_key, nonce) || tag`, where
//! tag = HMAC(mac_key, nonce || sid || generation) truncated to 16 bytes. The server can tell the
//! family (session) and the generation of any refresh token it ever minted without storing
//! per-token state, so reuse of a token rotated out a thousand generations ago is still detected,
//! and memory stays one entry per session.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey};
use aws_lc_rs::{constant_time, digest, hmac, rsa};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use parking_lot::Mutex;
use serde::Deserialize;

use crate::MockError;
use crate::config::Signing;

/// Milliseconds since the Unix epoch (wall clock, as JWT times are).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `N` bytes from the system CSPRNG (keys and secrets).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // SystemRandom::fill only fails when the OS has no entropy source at all.
    if SystemRandom::new().fill(&mut b).is_err() {
        rand::fill(&mut b[..]);
    }
    b
}

/// `N` bytes for a per-token value (session and token ids, refresh-token nonces) from the
/// thread-local CSPRNG (ChaCha, seeded and periodically reseeded from the system). A call to the
/// system generator costs about a microsecond here (RDRAND plus a DRBG step), which showed in the
/// login and refresh throughput; keys still come from [`random_bytes`].
pub fn fresh_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::fill(&mut b[..]);
    b
}

/// A random 128-bit identifier (see [`fresh_bytes`]).
pub fn random_u128() -> u128 {
    u128::from_be_bytes(fresh_bytes::<16>())
}

/// Why an access token was rejected (the text is the `error_description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("unsigned tokens (alg none) are not accepted")]
    AlgNone,
    #[error("the token's alg does not match the server's signing algorithm")]
    AlgMismatch,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
}

/// The verified claims of one access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// Subject: `user{n}`.
    pub sub: Box<str>,
    /// Session (refresh-token family) id.
    pub sid: u128,
    /// Token id; the top 32 bits are the token's sequence number within its session.
    pub jti: u128,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
}

impl AccessClaims {
    /// The token's sequence number within its session (top 32 bits of the jti).
    pub fn seq(&self) -> u32 {
        (self.jti >> 96) as u32
    }

    /// Whether the token has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.exp.saturating_mul(1000)
    }
}

/// Formats a 128-bit id the way tokens carry it (32 lowercase hex digits).
pub fn id_string(id: u128) -> String {
    format!("{id:032x}")
}

/// Parses an id written by [`id_string`].
pub fn parse_id(s: &str) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

enum Signer {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Hs(Box<hmac::Key>),
    Rs(rsa::KeyPair),
}

enum Verifier {
    Public(ParsedPublicKey),
    Hs(Box<hmac::Key>),
}

/// The signing key of this server run, generated at start.
pub struct Keys {
    signing: Signing,
    signer: Signer,
    verifier: Verifier,
    kid: String,
    jwk: Option<serde_json::Value>,
    /// The RSA public key, DER (PKCS#1 RSAPublicKey), for RS256 (the `hs256-key-confusion` flaw).
    rsa_public_der: Option<Vec<u8>>,
}

fn key_err(signing: Signing) -> impl Fn(String) -> MockError {
    move |reason| MockError::Key {
        alg: signing.alg(),
        reason,
    }
}

impl Keys {
    /// Generates a fresh key for `signing`.
    pub fn generate(signing: Signing) -> Result<Keys, MockError> {
        let err = key_err(signing);
        let kid_of =
            |public: &[u8]| B64.encode(&digest::digest(&digest::SHA256, public).as_ref()[..12]);
        let mut rsa_public_der = None;
        let (signer, verifier, kid, jwk) = match signing {
            Signing::Es256 => {
                let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|e| err(e.to_string()))?;
                let point = kp.public_key().as_ref().to_vec();
                let kid = kid_of(&point);
                let vk = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                    .map_err(|e| err(e.to_string()))?;
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                let jwk = serde_json::json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                    "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
                });
                (Signer::Ec(kp), Verifier::Public(vk), kid, Some(jwk))
            }
            Signing::EdDsa => {
                let kp = Ed25519KeyPair::generate().map_err(|e| err(e.to_string()))?;
                let public = kp.public_key().as_ref().to_vec();
                let kid = kid_of(&public);
                let vk = ParsedPublicKey::new(&signature::ED25519, &public)
                    .map_err(|e| err(e.to_string()))?;
                let jwk = serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                    "x": B64.encode(&public),
                });
                (Signer::Ed(kp), Verifier::Public(vk), kid, Some(jwk))
            }
            Signing::Hs256 => {
                let secret = random_bytes::<32>();
                let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
                let kid = B64.encode(random_bytes::<9>());
                (
                    Signer::Hs(Box::new(key.clone())),
                    Verifier::Hs(Box::new(key)),
                    kid,
                    None,
                )
            }
            Signing::Rs256 => {
                let kp = rsa::KeyPair::generate(rsa::KeySize::Rsa2048)
                    .map_err(|e| err(e.to_string()))?;
                let public = kp.public_key();
                let der = public.as_ref().to_vec();
                let kid = kid_of(&der);
                let vk = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
                    .map_err(|e| err(e.to_string()))?;
                let jwk = serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                    "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
                });
                rsa_public_der = Some(der);
                (Signer::Rs(kp), Verifier::Public(vk), kid, Some(jwk))
            }
        };
        Ok(Keys {
            signing,
            signer,
            verifier,
            kid,
            jwk,
            rsa_public_der,
        })
    }

    /// The algorithm of this key.
    pub fn signing(&self) -> Signing {
        self.signing
    }

    /// The key id (`kid` header).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK Set with the public key (empty for HS256: a shared secret is never published).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.jwk.iter().collect::<Vec<_>>() })
    }

    /// Signs everything in `out` (`header.payload`) and appends `.signature`. If the system RNG
    /// fails the signature is left empty, and the token fails verification.
    fn append_signature(&self, out: &mut String) {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Ec(kp) => {
                let sig = kp.sign(&rng, out.as_bytes());
                out.push('.');
                if let Ok(sig) = sig {
                    B64.encode_string(sig.as_ref(), out);
                }
            }
            Signer::Ed(kp) => {
                let sig = kp.sign(out.as_bytes());
                out.push('.');
                B64.encode_string(sig.as_ref(), out);
            }
            Signer::Hs(key) => {
                let tag = hmac::sign(key, out.as_bytes());
                out.push('.');
                B64.encode_string(tag.as_ref(), out);
            }
            Signer::Rs(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                let ok = kp
                    .sign(&signature::RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                    .is_ok();
                out.push('.');
                if ok {
                    B64.encode_string(&sig, out);
                }
            }
        }
    }

    fn verify_sig(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Public(pk) => pk.verify_sig(msg, sig).is_ok(),
            Verifier::Hs(key) => hmac::verify(key, msg, sig).is_ok(),
        }
    }
}

/// How lenient verification is. The defaults are the correct behaviour; the resource server
/// turns each leniency on only for its flaw.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyPolicy {
    /// Accept `alg: none` tokens without a signature (`accept-alg-none`).
    pub allow_none: bool,
    /// Accept a signature that does not verify (`unverified-signature`).
    pub skip_signature: bool,
    /// Verify HS256 tokens with the RSA public key as HMAC secret (`hs256-key-confusion`).
    pub hs256_public_key: bool,
    /// Verify HS256 tokens with the contents of the file the `kid` names (`kid-file-path`).
    pub kid_file: bool,
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
}

/// Largest key file read for the `kid-file-path` flaw.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The `kid-file-path` flaw's key lookup: the file `kid` names, relative to the temporary
/// directory (so `../../dev/null` and `/dev/null` both name `/dev/null`), read up to
/// [`MAX_KEY_FILE`] bytes. FIFOs and sockets are not opened (reading one could block forever).
fn key_file(kid: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let path = std::env::temp_dir().join(kid);
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() || t.is_socket() {
            return None;
        }
    }
    if meta.is_dir() {
        return None;
    }
    let mut out = Vec::new();
    std::fs::File::open(&path)
        .ok()?
        .take(MAX_KEY_FILE)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: u64,
    iat: u64,
    jti: String,
    sid: String,
}

/// Longest token string the server looks at; anything longer is malformed.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Mints and verifies the JWT access tokens of one server run.
pub struct AccessTokens {
    keys: Keys,
    issuer: String,
    audience: String,
    header_b64: String,
    payload_prefix: String,
    cache: VerifiedCache,
    /// The `exp-millis` flaw: `exp` is written in milliseconds (and read back as such).
    exp_millis: bool,
}

impl AccessTokens {
    /// Access tokens signed by `keys`, with this issuer (the server's base URL) and audience.
    pub fn new(keys: Keys, issuer: String, audience: String) -> Self {
        let header =
            serde_json::json!({ "alg": keys.signing.alg(), "typ": "at+jwt", "kid": keys.kid });
        let header_b64 = B64.encode(header.to_string());
        let payload_prefix = format!(
            "{{\"iss\":{},\"aud\":{}",
            serde_json::Value::from(issuer.as_str()),
            serde_json::Value::from(audience.as_str())
        );
        AccessTokens {
            keys,
            issuer,
            audience,
            header_b64,
            payload_prefix,
            cache: VerifiedCache::new(),
            exp_millis: false,
        }
    }

    /// With `on` (the `exp-millis` flaw), tokens carry `exp` in milliseconds since the epoch
    /// instead of the NumericDate's seconds; the server reads it back as milliseconds, so its own
    /// expiry stays right — only a client or resource server reading the claim is misled.
    pub fn with_exp_millis(mut self, on: bool) -> Self {
        self.exp_millis = on;
        self
    }

    /// The signing key.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of every token.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Mints a signed access token. `sub` must be JSON-safe (it is `user{n}`).
    pub fn mint(&self, sub: &str, sid: u128, jti: u128, iat: u64, exp: u64) -> String {
        use std::fmt::Write;
        let mut payload = String::with_capacity(self.payload_prefix.len() + 160);
        payload.push_str(&self.payload_prefix);
        let exp = if self.exp_millis {
            exp.saturating_mul(1000)
        } else {
            exp
        };
        let _ = write!(
            payload,
            ",\"sub\":\"{sub}\",\"exp\":{exp},\"iat\":{iat},\"jti\":\"{jti:032x}\",\"sid\":\"{sid:032x}\"}}"
        );
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        B64.encode_string(payload.as_bytes(), &mut out);
        self.keys.append_signature(&mut out);
        out
    }

    /// Verifies structure, header (alg, typ), signature, issuer and audience — not expiry nor
    /// revocation, which depend on the caller.
    pub fn verify(
        &self,
        token: &str,
        policy: VerifyPolicy,
    ) -> Result<Arc<AccessClaims>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        if let Some(hit) = self.cache.get(token) {
            return Ok(hit);
        }
        let mut parts = token.splitn(3, '.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        if s.contains('.') {
            return Err(TokenError::Malformed);
        }
        let header_bytes = B64.decode(h).map_err(|_| TokenError::Malformed)?;
        let header: RawHeader<'_> =
            serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
        let unsigned = header.alg.eq_ignore_ascii_case("none");
        if unsigned && !policy.allow_none {
            return Err(TokenError::AlgNone);
        }
        // An HMAC secret the token chooses (flaws only): None = the server's own key.
        let mut chosen_secret = None;
        if !unsigned && header.alg != self.keys.signing.alg() {
            chosen_secret = self.chosen_secret(&header, policy);
            if chosen_secret.is_none() {
                return Err(TokenError::AlgMismatch);
            }
        }
        match header.typ.as_deref() {
            Some(t)
                if t.eq_ignore_ascii_case("at+jwt")
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            _ => return Err(TokenError::WrongType),
        }
        let mut verified = false;
        if !unsigned {
            let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
            let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
            verified = match &chosen_secret {
                None => self.keys.verify_sig(signed, &sig),
                Some(secret) => {
                    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret), signed, &sig).is_ok()
                }
            };
            if !verified && !policy.skip_signature {
                return Err(TokenError::BadSignature);
            }
        }
        let payload = B64.decode(p).map_err(|_| TokenError::Malformed)?;
        let raw: RawClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if raw.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        let aud_ok = match &raw.aud {
            Audience::One(a) => *a == self.audience,
            Audience::Many(v) => v.contains(&self.audience),
        };
        if !aud_ok {
            return Err(TokenError::WrongAudience);
        }
        let (Some(sid), Some(jti)) = (parse_id(&raw.sid), parse_id(&raw.jti)) else {
            return Err(TokenError::Malformed);
        };
        let claims = Arc::new(AccessClaims {
            sub: raw.sub.into_boxed_str(),
            sid,
            jti,
            exp: if self.exp_millis {
                raw.exp / 1000
            } else {
                raw.exp
            },
            iat: raw.iat,
        });
        // Only tokens signed with the server's own key are remembered as verified.
        if verified && chosen_secret.is_none() {
            self.cache.insert(token, claims.clone());
        }
        Ok(claims)
    }

    /// The HMAC secret an HS256 token of an asymmetric-key server is verified with under the
    /// key-confusion flaws; `None` (refused) for a correct server.
    fn chosen_secret(&self, header: &RawHeader<'_>, policy: VerifyPolicy) -> Option<Vec<u8>> {
        if header.alg != Signing::Hs256.alg() {
            return None;
        }
        if policy.hs256_public_key
            && let Some(der) = &self.keys.rsa_public_der
        {
            return Some(der.clone());
        }
        if policy.kid_file {
            return key_file(header.kid.as_deref()?);
        }
        None
    }
}

const CACHE_SHARDS: usize = 32;
const CACHE_PER_SHARD: usize = 4096;

/// A bounded map from verified token strings to their claims. A full shard is emptied (tokens
/// live seconds to minutes; the next verification refills it).
struct VerifiedCache {
    hasher: std::collections::hash_map::RandomState,
    shards: Box<[CacheShard]>,
}

type CacheShard = Mutex<HashMap<Box<str>, Arc<AccessClaims>>>;

impl VerifiedCache {
    fn new() -> Self {
        VerifiedCache {
            hasher: Default::default(),
            shards: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn shard(&self, token: &str) -> &CacheShard {
        let h = self.hasher.hash_one(token) as usize;
        &self.shards[h % CACHE_SHARDS]
    }

    fn get(&self, token: &str) -> Option<Arc<AccessClaims>> {
        self.shard(token).lock().get(token).cloned()
    }

    fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        let mut shard = self.shard(token).lock();
        if shard.len() >= CACHE_PER_SHARD {
            shard.clear();
        }
        shard.insert(token.into(), claims);
    }
}

const RT_NONCE: usize = 32;
const RT_BODY: usize = 24; // sid (16) + generation (8)
const RT_TAG: usize = 16;
const RT_LEN: usize = RT_NONCE + RT_BODY + RT_TAG;

/// What an authentic refresh token says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshId {
    /// The session (family) it belongs to.
    pub sid: u128,
    /// Its generation within the family (0 = minted at login).
    pub generation: u64,
}

/// Mints and opens refresh tokens (see the module docs for the format).
pub struct RefreshTokens {
    mask_key: hmac::Key,
    mac_key: hmac::Key,
}

impl Default for RefreshTokens {
    fn default() -> Self {
        Self::new()
    }
}

impl RefreshTokens {
    /// Fresh keys for this server run.
    pub fn new() -> Self {
        RefreshTokens {
            mask_key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
        }
    }

    fn body(id: RefreshId) -> [u8; RT_BODY] {
        let mut b = [0u8; RT_BODY];
        b[..16].copy_from_slice(&id.sid.to_be_bytes());
        b[16..].copy_from_slice(&id.generation.to_be_bytes());
        b
    }

    fn tag(&self, nonce: &[u8], body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(nonce);
        ctx.update(body);
        ctx.sign()
    }

    /// A new refresh token for generation `id.generation` of session `id.sid`.
    pub fn mint(&self, id: RefreshId) -> String {
        let nonce = fresh_bytes::<RT_NONCE>();
        let body = Self::body(id);
        let mask = hmac::sign(&self.mask_key, &nonce);
        let mut raw = [0u8; RT_LEN];
        raw[..RT_NONCE].copy_from_slice(&nonce);
        for (i, b) in body.iter().enumerate() {
            raw[RT_NONCE + i] = b ^ mask.as_ref()[i];
        }
        raw[RT_NONCE + RT_BODY..].copy_from_slice(&self.tag(&nonce, &body).as_ref()[..RT_TAG]);
        B64.encode(raw)
    }

    /// The session and generation of an authentic refresh token; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<RefreshId> {
        if token.len() != RT_LEN.div_ceil(3) * 4 {
            return None;
        }
        let mut raw = [0u8; RT_LEN];
        let n = B64.decode_slice(token, &mut raw).ok()?;
        if n != RT_LEN {
            return None;
        }
        let nonce = &raw[..RT_NONCE];
        let mask = hmac::sign(&self.mask_key, nonce);
        let mut body = [0u8; RT_BODY];
        for (i, b) in body.iter_mut().enumerate() {
            *b = raw[RT_NONCE + i] ^ mask.as_ref()[i];
        }
        let tag = self.tag(nonce, &body);
        constant_time::verify_slices_are_equal(&tag.as_ref()[..RT_TAG], &raw[RT_NONCE + RT_BODY..])
            .ok()?;
        let sid = u128::from_be_bytes(body[..16].try_into().ok()?);
        let generation = u64::from_be_bytes(body[16..].try_into().ok()?);
        Some(RefreshId { sid, generation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(signing: Signing) -> AccessTokens {
        AccessTokens::new(
            Keys::generate(signing).unwrap(),
            "http://127.0.0.1:1".into(),
            "authbench".into(),
        )
    }

    #[test]
    fn every_algorithm_round_trips_and_rejects_tampering() {
        for signing in [
            Signing::Es256,
            Signing::EdDsa,
            Signing::Hs256,
            Signing::Rs256,
        ] {
            let t = tokens(signing);
            let tok = t.mint("user7", 42, (3u128 << 96) | 9, 1000, 2000);
            let c = t.verify(&tok, VerifyPolicy::default()).unwrap();
            assert_eq!(&*c.sub, "user7");
            assert_eq!((c.sid, c.seq(), c.exp), (42, 3, 2000));
            // cached path gives the same answer
            assert_eq!(t.verify(&tok, VerifyPolicy::default()).unwrap(), c);
            // flip one character of the payload
            let (head, rest) = tok.split_once('.').unwrap();
            let mut p: Vec<u8> = rest.as_bytes().to_vec();
            p[5] = if p[5] == b'A' { b'B' } else { b'A' };
            let bad = format!("{head}.{}", String::from_utf8(p).unwrap());
            assert!(
                t.verify(&bad, VerifyPolicy::default()).is_err(),
                "{signing}"
            );
            // another server's key
            let other = tokens(signing);
            assert!(other.verify(&tok, VerifyPolicy::default()).is_err());
        }
    }

    #[test]
    fn alg_none_only_with_policy() {
        let t = tokens(Signing::Es256);
        let tok = t.mint("user1", 1, 1, 1, u64::MAX / 2000);
        let (_, rest) = tok.split_once('.').unwrap();
        let payload = rest.split('.').next().unwrap();
        let none = format!(
            "{}.{payload}.",
            B64.encode(r#"{"alg":"none","typ":"at+jwt"}"#)
        );
        assert_eq!(
            t.verify(&none, VerifyPolicy::default()),
            Err(TokenError::AlgNone)
        );
        assert!(
            t.verify(
                &none,
                VerifyPolicy {
                    allow_none: true,
                    ..Default::default()
                }
            )
            .is_ok()
        );
        let jwt = format!(
            "{}.{payload}.",
            B64.encode(r#"{"alg":"ES256","typ":"JWT"}"#)
        );
        assert_eq!(
            t.verify(&jwt, VerifyPolicy::default()),
            Err(TokenError::WrongType)
        );
    }

    /// `token`'s claims under a new header, HMAC-SHA256-signed with `secret`.
    fn resigned_hs256(token: &str, header: &str, secret: &[u8]) -> String {
        let payload = token.split('.').nth(1).unwrap();
        let signed = format!("{}.{payload}", B64.encode(header));
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            signed.as_bytes(),
        );
        format!("{signed}.{}", B64.encode(tag.as_ref()))
    }

    #[test]
    fn leniencies_only_with_their_policy() {
        let t = tokens(Signing::Rs256);
        let tok = t.mint("user1", 1, 1, 1, u64::MAX / 2000);
        let strict = VerifyPolicy::default();
        // a stripped signature
        let stripped = format!("{}.", tok.rsplit_once('.').unwrap().0);
        assert_eq!(t.verify(&stripped, strict), Err(TokenError::BadSignature));
        let skip = VerifyPolicy {
            skip_signature: true,
            ..strict
        };
        assert!(t.verify(&stripped, skip).is_ok());
        // HS256 with the RSA public key (DER) as secret
        let der = t.keys().rsa_public_der.clone().unwrap();
        let confused = resigned_hs256(&tok, r#"{"alg":"HS256","typ":"at+jwt"}"#, &der);
        assert_eq!(t.verify(&confused, strict), Err(TokenError::AlgMismatch));
        let confusion = VerifyPolicy {
            hs256_public_key: true,
            ..strict
        };
        assert!(t.verify(&confused, confusion).is_ok());
        // HS256 with the (empty) contents of the file the kid names
        let kid_file = VerifyPolicy {
            kid_file: true,
            ..strict
        };
        for kid in ["../../../../../../../dev/null", "/dev/null"] {
            let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#);
            let forged = resigned_hs256(&tok, &header, b"");
            assert_eq!(t.verify(&forged, strict), Err(TokenError::AlgMismatch));
            assert!(t.verify(&forged, kid_file).is_ok(), "{kid}");
            assert_eq!(
                t.verify(&forged, VerifyPolicy::default()),
                Err(TokenError::AlgMismatch),
                "never cached as verified"
            );
        }
        let missing = resigned_hs256(
            &tok,
            r#"{"alg":"HS256","typ":"at+jwt","kid":"no such key file"}"#,
            b"",
        );
        assert_eq!(t.verify(&missing, kid_file), Err(TokenError::AlgMismatch));
    }

    #[test]
    fn refresh_tokens_open_only_when_authentic() {
        let r = RefreshTokens::new();
        let id = RefreshId {
            sid: 0xdead_beef,
            generation: 7,
        };
        let a = r.mint(id);
        let b = r.mint(id);
        assert_ne!(a, b, "a fresh nonce per token");
        assert_eq!(a.len(), 96);
        assert_eq!(r.open(&a), Some(id));
        let mut t = a.into_bytes();
        t[50] = if t[50] == b'A' { b'B' } else { b'A' };
        assert_eq!(r.open(std::str::from_utf8(&t).unwrap()), None);
        assert_eq!(RefreshTokens::new().open(&b), None);
        assert_eq!(r.open("garbage"), None);
    }
}
