//! Histogram shape and its portable encoding: HdrHistogram V2+DEFLATE, base64 (the format the Java,
//! Go and Rust HdrHistogram libraries exchange), used inside `report.json` so that reports can be
//! merged and compared without losing a single sample.
//!
//! Decoding is defensive: a report file is input, and the upstream decoder trusts the lengths in
//! the header (a crafted length would allocate gigabytes) and negates a varint that can overflow.
//! [`decode`] inflates with a size cap, checks the header and the payload first, then hands the
//! plain V2 bytes to `hdrhistogram`'s deserializer.

use std::io::Read;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::{Counter, Histogram};

/// Lowest discernible value: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest trackable value: 1 hour in µs. Larger values saturate to it.
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant decimal digits kept (0.1% value precision).
pub const SIGFIG: u8 = 3;

/// Largest accepted base64 text of one histogram.
const MAX_ENCODED: usize = 4 << 20;
/// Largest accepted inflated (plain V2) size of one histogram.
const MAX_INFLATED: u64 = 8 << 20;
/// Largest accepted `highest trackable value` (2^40 µs ≈ 12.7 days) — bounds the allocation.
const MAX_HIGH: u64 = 1 << 40;
/// Largest accepted total count (beyond this, sums could overflow later arithmetic).
const MAX_TOTAL: u64 = 1 << 53;

const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
const V2_HEADER: usize = 40;

/// A fresh latency histogram: 1 µs..1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG)
        .expect("static histogram bounds are valid")
}

/// A latency histogram of the same shape that covers only the values it has seen: it starts at
/// 1 µs..[`GROWING_START_US`] and grows as larger samples arrive. Callers clamp samples to
/// [`HIGHEST_US`] and record with `record` (`saturating_record` clamps to the current top instead
/// of growing). A recorder keeps one per name per shard: a full-range one writes about 190 KB
/// of zeroes when it is created (16 shards × 6 names: 18 MB, a quarter of a 5 000-client storm's
/// heap); one that has seen 2 s holds about half of that, one that has seen 10 ms a seventh.
/// The recorder's shards count in 32 bits (`T = u32`), which halves that again.
pub fn growing_histogram<T: Counter>() -> Histogram<T> {
    let mut h = Histogram::new_with_bounds(LOWEST_US, GROWING_START_US, SIGFIG)
        .expect("static histogram bounds are valid");
    h.auto(true);
    h
}

/// Highest value a [`growing_histogram`] covers before its first growth: 4.096 ms.
pub const GROWING_START_US: u64 = 4_096;

/// Why an encoded histogram was refused.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("encoded histogram is {0} bytes, above the {MAX_ENCODED}-byte limit")]
    TooLarge(usize),
    #[error("not an HdrHistogram V2 or V2+DEFLATE encoding (bad cookie {0:#010x})")]
    Cookie(u32),
    #[error("truncated or corrupt histogram data: {0}")]
    Corrupt(String),
    #[error("cannot encode histogram: {0}")]
    Encode(String),
    #[error(
        "unsupported histogram shape: {0} (authbench writes 1 µs..1 h at 3 significant digits)"
    )]
    Shape(String),
}

/// Encodes a histogram as V2+DEFLATE, base64 (standard alphabet, padded).
///
/// Fails only for counts above `i64::MAX`, which the format cannot carry.
pub fn encode<T: Counter>(h: &Histogram<T>) -> Result<String, CodecError> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| CodecError::Encode(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(&buf))
}

/// Decodes the output of [`encode`] (or any V2 / V2+DEFLATE base64 histogram within the limits).
pub fn decode(text: &str) -> Result<Histogram<u64>, CodecError> {
    decode_as(text)
}

/// [`decode`] into a histogram with `T` counters (the timeline's interval histograms use `u32`).
pub fn decode_as<T: Counter>(text: &str) -> Result<Histogram<T>, CodecError> {
    let text = text.trim();
    if text.len() > MAX_ENCODED {
        return Err(CodecError::TooLarge(text.len()));
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(text)?;
    let plain = match read_u32(&raw, 0)? {
        V2_COOKIE => raw,
        V2_COMPRESSED_COOKIE => inflate(&raw)?,
        other => return Err(CodecError::Cookie(other)),
    };
    check_v2(&plain)?;
    Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| CodecError::Corrupt(format!("{e:?}")))
}

fn inflate(raw: &[u8]) -> Result<Vec<u8>, CodecError> {
    let len = read_u32(raw, 4)? as usize;
    let body = raw
        .get(8..8 + len)
        .ok_or_else(|| CodecError::Corrupt(format!("compressed length {len} exceeds the data")))?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(body)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| CodecError::Corrupt(format!("inflate: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(CodecError::TooLarge(out.len()));
    }
    Ok(out)
}

/// Validates a plain V2 encoding: header fields within bounds, payload length exact, every varint
/// decodable, counts non-negative and their sum bounded.
fn check_v2(b: &[u8]) -> Result<(), CodecError> {
    if read_u32(b, 0)? != V2_COOKIE {
        return Err(CodecError::Cookie(read_u32(b, 0)?));
    }
    let payload = read_u32(b, 4)? as usize;
    let digits = read_u32(b, 12)?;
    let low = read_u64(b, 16)?;
    let high = read_u64(b, 24)?;
    if b.len() != V2_HEADER + payload {
        return Err(CodecError::Corrupt(format!(
            "payload length {payload} does not match the {} bytes present",
            b.len().saturating_sub(V2_HEADER)
        )));
    }
    if digits > 3 || low == 0 || high > MAX_HIGH || high < low.saturating_mul(2) {
        return Err(CodecError::Shape(format!(
            "{digits} digits, range {low}..{high}"
        )));
    }
    let mut rest = &b[V2_HEADER..];
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (v, used) = read_varint(rest)?;
        rest = &rest[used..];
        if v == u64::MAX {
            return Err(CodecError::Corrupt("zero-run length overflows".into()));
        }
        let n = ((v >> 1) as i64) ^ -((v & 1) as i64);
        if n > 0 {
            total = total
                .checked_add(n as u64)
                .filter(|t| *t <= MAX_TOTAL)
                .ok_or_else(|| CodecError::Corrupt("total count is implausibly large".into()))?;
        }
    }
    Ok(())
}

/// HdrHistogram's LEB128 variant: at most 9 bytes, the 9th contributes all 8 bits.
fn read_varint(b: &[u8]) -> Result<(u64, usize), CodecError> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b
            .get(i)
            .ok_or_else(|| CodecError::Corrupt("varint runs past the end".into()))?;
        if i == 8 {
            return Ok((v | (u64::from(byte) << 56), 9));
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    unreachable!("the loop returns by the 9th byte")
}

fn read_u32(b: &[u8], at: usize) -> Result<u32, CodecError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| CodecError::Corrupt("header is truncated".into()))
}

fn read_u64(b: &[u8], at: usize) -> Result<u64, CodecError> {
    b.get(at..at + 8)
        .map(|s| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_be_bytes(a)
        })
        .ok_or_else(|| CodecError::Corrupt("header is truncated".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let mut h = new_histogram();
        for v in [
            1,
            7,
            250,
            999,
            1_000,
            12_345,
            250_000,
            3_600_000_000,
            9_999_999_999,
        ] {
            h.saturating_record(v);
        }
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), 9);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }

    #[test]
    fn empty_round_trips() {
        let h = new_histogram();
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back.len(), 0);
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(decode("%%%"), Err(CodecError::Base64(_))));
        let junk =
            base64::engine::general_purpose::STANDARD.encode(b"hello world, not a histogram");
        assert!(matches!(decode(&junk), Err(CodecError::Cookie(_))));
        assert!(matches!(decode(""), Err(CodecError::Corrupt(_))));
    }

    #[test]
    fn refuses_huge_declared_lengths() {
        // A plain V2 header claiming a 4 GiB payload must not allocate it.
        let mut b = Vec::new();
        b.extend_from_slice(&V2_COOKIE.to_be_bytes());
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(&1u64.to_be_bytes());
        b.extend_from_slice(&HIGHEST_US.to_be_bytes());
        b.extend_from_slice(&1.0f64.to_be_bytes());
        let text = base64::engine::general_purpose::STANDARD.encode(&b);
        assert!(matches!(decode(&text), Err(CodecError::Corrupt(_))));
    }

    #[test]
    fn refuses_overflowing_varint() {
        let mut b = Vec::new();
        b.extend_from_slice(&V2_COOKIE.to_be_bytes());
        b.extend_from_slice(&9u32.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(&1u64.to_be_bytes());
        b.extend_from_slice(&HIGHEST_US.to_be_bytes());
        b.extend_from_slice(&1.0f64.to_be_bytes());
        b.extend_from_slice(&[0xff; 9]);
        let text = base64::engine::general_purpose::STANDARD.encode(&b);
        assert!(matches!(decode(&text), Err(CodecError::Corrupt(_))));
    }
}
