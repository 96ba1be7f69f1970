//! Reading an HTTP answer from an identity provider with a ceiling: the body is taken
//! chunk by chunk and refused as soon as it passes the limit, so an IdP (or whoever
//! answers at its URL) that sends 50 MiB or never stops cannot grow dcr's memory. The
//! HTTP client's own timeout bounds how long a slow body may take.

/// What every IdP answer may weigh at most: token, introspection, discovery, JWKS and
/// management responses are all far smaller.
pub const MAX_IDP_RESPONSE_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CappedReadError {
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the answer broke off: {0}")]
    Transport(#[from] reqwest::Error),
}

/// The whole body of `response`, or `TooLarge` once more than `limit` bytes arrived (or
/// were announced by Content-Length).
pub async fn read(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, CappedReadError> {
    if response
        .content_length()
        .is_some_and(|announced| announced > limit as u64)
    {
        return Err(CappedReadError::TooLarge { limit });
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(CappedReadError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
