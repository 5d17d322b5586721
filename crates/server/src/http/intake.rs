//! Taking a request in without trusting it: what can be refused from the
//! headers alone is refused before a byte of body is read; the body is
//! read only once the access key is known, up to a cap, within a time
//! limit, into memory that is zeroized when dropped.

use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, header, request::Parts};
use hyper::body::Body as _;
use zeroize::Zeroizing;

use crate::auth::Authenticator;
use crate::error::KmsError;

/// Largest request body accepted, and only once the access key is known:
/// a request that names no known access key has no byte of its body read.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest access key id kept in records of unauthenticated requests.
const MAX_CLAIMED_KEY_LEN: usize = 32;
/// Longest `User-Agent` kept in the audit trail.
const MAX_USER_AGENT_LEN: usize = 256;

fn too_large() -> KmsError {
    KmsError::Validation(format!("The request body exceeds {MAX_BODY_BYTES} bytes."))
}

/// The access key id a request claims, if it is a plausible one: letters
/// and digits only, at most 32 of them. Nothing else a client sends before
/// it authenticates is ever recorded.
pub fn claimed_access_key(parts: &Parts) -> Option<String> {
    let auth = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let id = crate::sigv4::parse_authorization(auth).ok()?.access_key_id;
    (!id.is_empty()
        && id.len() <= MAX_CLAIMED_KEY_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(id)
}

/// Refusals that need only the request line and headers (and the cached
/// access-key table): wrong method or path, a declared body over the cap,
/// no parseable `Authorization`, or an unknown or inactive access key (an
/// uncached one looked up only within its source's budget).
/// The signature itself is checked once the body is in.
pub async fn check_headers(auth: &Authenticator, parts: &Parts) -> Result<(), KmsError> {
    if parts.method != Method::POST || parts.uri.path() != "/" {
        return Err(KmsError::UnknownOperation(
            "Strongroom serves the AWS KMS JSON protocol: POST / with X-Amz-Target.".into(),
        ));
    }
    if declared_length(parts).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(KmsError::MissingAuthenticationToken);
    };
    let value = value
        .to_str()
        .map_err(|_| KmsError::IncompleteSignature("Authorization header is not ASCII.".into()))?;
    let parsed = crate::sigv4::parse_authorization(value)
        .map_err(|e| KmsError::IncompleteSignature(e.to_string()))?;
    let source = parts
        .extensions
        .get::<crate::http::ConnInfo>()
        .map(|c| c.peer.ip());
    auth.active_key_from(&parsed.access_key_id, source).await?;
    Ok(())
}

/// The `Content-Length` a request declares, if any.
pub fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Why a request body could not be taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Longer than the cap.
    #[error("The request body exceeds {0} bytes.")]
    TooLarge(usize),
    /// Not received within the time allowed.
    #[error("The request body was not received within {} seconds.", .0.as_secs_f64())]
    TooSlow(Duration),
    /// The connection failed while it was read.
    #[error("The request body could not be read.")]
    Unreadable,
}

impl From<BodyError> for KmsError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Unreadable => KmsError::Serialization(e.to_string()),
            BodyError::TooLarge(_) | BodyError::TooSlow(_) => KmsError::Validation(e.to_string()),
        }
    }
}

/// Reads the body, at most [`MAX_BODY_BYTES`] within `timeout`, into a
/// buffer that is zeroized when dropped (and whose growth leaves no copy).
pub async fn read_body(
    parts: &Parts,
    body: Body,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, KmsError> {
    Ok(read_body_capped(parts, body, timeout, MAX_BODY_BYTES).await?)
}

/// [`read_body`] with a cap of `cap` bytes (at most [`MAX_BODY_BYTES`]).
pub async fn read_body_capped(
    parts: &Parts,
    mut body: Body,
    timeout: Duration,
    cap: usize,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    let cap = cap.min(MAX_BODY_BYTES);
    let hint = declared_length(parts).unwrap_or(0).min(cap as u64) as usize;
    let read = async move {
        let mut out = Zeroizing::new(Vec::with_capacity(hint));
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| BodyError::Unreadable)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if out.len() + data.len() > cap {
                return Err(BodyError::TooLarge(cap));
            }
            extend_zeroizing(&mut out, &data);
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| BodyError::TooSlow(timeout))?
}

/// Appends `data`, moving to a larger buffer by hand when needed so the
/// old one is zeroized rather than freed with its contents.
pub fn extend_zeroizing(out: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = out.len() + data.len();
    if needed > out.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(out.capacity() * 2)));
        bigger.extend_from_slice(out);
        *out = bigger;
    }
    out.extend_from_slice(data);
}

/// The `User-Agent` as the audit trail keeps it: printable ASCII only
/// (anything else becomes `?`), at most 256 characters.
pub fn sanitized_user_agent(v: Option<&HeaderValue>) -> Option<String> {
    let v = v?;
    Some(
        v.as_bytes()
            .iter()
            .take(MAX_USER_AGENT_LEN)
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '?'
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_user_agent_is_bounded_and_printable() {
        let raw = HeaderValue::from_bytes(&[b'a', 0x80, b'\t', 0xff, b'b']).unwrap();
        assert_eq!(sanitized_user_agent(Some(&raw)).unwrap(), "a???b");
        let huge = HeaderValue::from_str(&"x".repeat(10_000)).unwrap();
        assert_eq!(sanitized_user_agent(Some(&huge)).unwrap().len(), 256);
    }

    #[test]
    fn claimed_access_key_is_bounded_and_alphanumeric() {
        let parts = |auth: &str| {
            let (p, _) = axum::http::Request::builder()
                .header("authorization", auth)
                .body(())
                .unwrap()
                .into_parts();
            p
        };
        let ok = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/kms/aws4_request, \
                  SignedHeaders=host;x-amz-date, Signature=";
        let sig = "0".repeat(64);
        assert_eq!(
            claimed_access_key(&parts(&format!("{ok}{sig}"))).as_deref(),
            Some("AKIAEXAMPLE")
        );
        let long = ok.replace("AKIAEXAMPLE", &"A".repeat(40));
        assert_eq!(claimed_access_key(&parts(&format!("{long}{sig}"))), None);
        let odd = ok.replace("AKIAEXAMPLE", "AKIA<script>");
        assert_eq!(claimed_access_key(&parts(&format!("{odd}{sig}"))), None);
    }

    #[test]
    fn growing_a_zeroizing_buffer_keeps_its_contents() {
        let mut b = Zeroizing::new(Vec::with_capacity(1));
        for i in 0..100u8 {
            extend_zeroizing(&mut b, &[i, i]);
        }
        assert_eq!(b.len(), 200);
        assert_eq!(&b[198..], &[99, 99]);
    }
}
