//! Reading response bodies with a cap, so a misbehaving server cannot make a client buffer
//! unbounded data (DESIGN §8: all memory bounded).

/// Default cap for login/refresh/API response bodies (256 KiB; token responses are ~1 KiB).
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the cap.
    #[error("response body larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The connection failed while reading.
    #[error("reading the response body failed: {0}")]
    Read(#[from] reqwest::Error),
}

/// Reads the whole body of `resp`, failing as soon as it exceeds `limit` bytes (checked against
/// `Content-Length` first, then while streaming).
pub async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
