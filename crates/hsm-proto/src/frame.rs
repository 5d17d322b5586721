//! Frames of the host↔module protocol, inside TLS:
//!
//! ```text
//! version u8 (= WIRE_VERSION) ‖ class u8 ‖ id u64 BE ‖ length u32 BE ‖ payload
//! ```
//!
//! The payload is `postcard(Request)` from a host and
//! `postcard(Result<Response, HsmError>)` from a module. Every message
//! type belongs to a [`FrameClass`] with its own size bound, and the reader
//! decides from the 14-byte header alone, before reading or allocating the
//! body, whether the frame is acceptable: an unknown version or class, a
//! class the peer may not send, or a length over the bound ends the
//! connection. The body buffer then grows only as bytes actually arrive, so
//! a peer that claims a large frame and sends little costs little.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::{HsmError, Request, Response};

/// The wire version in every frame header. 1 was a bare length prefix
/// followed by bincode; 2 is this header followed by postcard; 3 adds
/// `Request::RevealDerivedKey` (derived-key tokens no Decrypt opens); 4
/// adds `Request::SignAuditSeal` and `Request::AuditSealKeys`; 5 adds
/// `Request::XksEncrypt` / `Request::XksDecrypt`.
pub const WIRE_VERSION: u8 = 5;

/// Header bytes before the payload.
pub const HEADER_LEN: usize = 14;

/// Largest control frame (every request a KMS call makes; KMS requests are
/// far smaller than this).
pub const CONTROL_MAX: usize = 1 << 20;
/// Largest bulk frame (rewrap batches, suspended keys, log ranges).
pub const BULK_MAX: usize = 32 << 20;
/// Largest frame a module reads from a peer whose host key no domain it
/// holds lists: enough for an operator command carrying a domain token.
pub const UNLISTED_MAX: usize = 256 << 10;

/// The size class of a message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameClass {
    /// Single operations, status, operator commands.
    Control = 1,
    /// Batches and log ranges; only from hosts a domain lists.
    Bulk = 2,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the payload: it may carry plaintexts.
        write!(
            f,
            "Frame({:?}, id {}, {} bytes)",
            self.class,
            self.id,
            self.payload.len()
        )
    }
}

impl FrameClass {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Control),
            2 => Some(Self::Bulk),
            _ => None,
        }
    }

    /// The largest frame of this class any reader accepts.
    pub fn max_len(self) -> usize {
        match self {
            Self::Control => CONTROL_MAX,
            Self::Bulk => BULK_MAX,
        }
    }

    /// The class a request is sent in.
    pub fn of_request(r: &Request) -> Self {
        match r {
            Request::InDomain { request, .. } => Self::of_request(request),
            Request::RewrapKeys { .. }
            | Request::RewrapCredentials { .. }
            | Request::SuspendKey { .. }
            | Request::ReinstateKey { .. } => Self::Bulk,
            _ => Self::Control,
        }
    }

    /// The class an answer is sent in.
    pub fn of_result(r: &Result<Response, HsmError>) -> Self {
        match r {
            Ok(Response::LogBytes(_))
            | Ok(Response::Ekts(_))
            | Ok(Response::SealedCredentials(_))
            | Ok(Response::Suspended { .. })
            | Ok(Response::Reinstated(_)) => Self::Bulk,
            _ => Self::Control,
        }
    }
}

/// Why a frame was refused (the connection then ends).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed or closed mid-frame.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer speaks another wire version.
    #[error("unsupported wire version {0} (this build speaks version {WIRE_VERSION})")]
    UnsupportedVersion(u8),
    /// No such frame class.
    #[error("unknown frame class {0}")]
    UnknownClass(u8),
    /// The peer may not send frames of this class.
    #[error("{0:?} frames are not accepted from this peer")]
    ClassRefused(FrameClass),
    /// Longer than the class (or peer) allows.
    #[error("{class:?} frame of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The declared class.
        class: FrameClass,
        /// The declared length.
        len: usize,
        /// The limit that applied.
        limit: usize,
    },
}

/// One frame as read.
pub struct Frame {
    /// Its declared class.
    pub class: FrameClass,
    /// The request id (chosen by the host, echoed by the module).
    pub id: u64,
    /// The payload; zeroized when dropped, since frames carry plaintexts.
    pub payload: Zeroizing<Vec<u8>>,
}

/// Builds a frame: header and payload in one zeroizing buffer.
pub fn encode_frame(class: FrameClass, id: u64, payload: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + payload.len()));
    out.push(WIRE_VERSION);
    out.push(class as u8);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Writes an encoded frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &[u8]) -> std::io::Result<()> {
    w.write_all(frame).await
}

/// Reads one frame whose first byte was already read; `limit` says how long
/// a frame of each class may be from this peer (`None`: not at all).
pub async fn read_frame_after<R: AsyncRead + Unpin>(
    first: u8,
    r: &mut R,
    limit: impl Fn(FrameClass) -> Option<usize>,
) -> Result<Frame, FrameError> {
    if first != WIRE_VERSION {
        return Err(FrameError::UnsupportedVersion(first));
    }
    let mut header = [0u8; HEADER_LEN - 1];
    r.read_exact(&mut header).await?;
    let class = FrameClass::from_u8(header[0]).ok_or(FrameError::UnknownClass(header[0]))?;
    let id = u64::from_be_bytes(header[1..9].try_into().expect("8 bytes"));
    let len = u32::from_be_bytes(header[9..13].try_into().expect("4 bytes")) as usize;
    let limit = limit(class)
        .ok_or(FrameError::ClassRefused(class))?
        .min(class.max_len());
    if len > limit {
        return Err(FrameError::TooLarge { class, len, limit });
    }
    let payload = read_growing(r, len).await?;
    Ok(Frame { class, id, payload })
}

/// Reads one frame; `None` at a clean end of stream before a frame.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: impl Fn(FrameClass) -> Option<usize>,
) -> Result<Option<Frame>, FrameError> {
    let first = match r.read_u8().await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    read_frame_after(first, r, limit).await.map(Some)
}

/// First allocation for a frame body; it doubles as bytes arrive.
const FIRST_CHUNK: usize = 16 << 10;

/// Reads exactly `len` bytes into a buffer that grows with what arrived
/// (never sized from the declared length alone). Each outgrown buffer is
/// zeroized as it is replaced.
async fn read_growing<R: AsyncRead + Unpin>(
    r: &mut R,
    len: usize,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; len.min(FIRST_CHUNK)]);
    let mut filled = 0;
    while filled < len {
        if filled == buf.len() {
            let mut bigger = Zeroizing::new(vec![0u8; (buf.len() * 2).min(len)]);
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
        }
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, class: u8, len: u32) -> Vec<u8> {
        let mut h = vec![version, class];
        h.extend_from_slice(&9u64.to_be_bytes());
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    fn any(c: FrameClass) -> Option<usize> {
        Some(c.max_len())
    }

    #[tokio::test]
    async fn frames_round_trip_with_their_class_and_id() {
        let f = encode_frame(FrameClass::Bulk, 42, b"payload");
        let got = read_frame(&mut &f[..], any).await.unwrap().unwrap();
        assert_eq!(
            (got.class, got.id, &got.payload[..]),
            (FrameClass::Bulk, 42, &b"payload"[..])
        );
        assert!(read_frame(&mut &[][..], any).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_frame_with_an_unknown_wire_version_is_refused() {
        for v in [0u8, 1, 2, 3, 4, 6, 0xff] {
            let h = header(v, 1, 4);
            let e = read_frame(&mut &h[..], any).await.unwrap_err();
            assert!(
                matches!(e, FrameError::UnsupportedVersion(x) if x == v),
                "{e}"
            );
            assert!(e.to_string().contains("unsupported wire version"));
        }
        let e = read_frame(&mut &header(WIRE_VERSION, 9, 4)[..], any)
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::UnknownClass(9)), "{e}");
    }

    /// A 4 GiB or 64 MiB length is refused from the header alone: the
    /// stream holds nothing after it, so reading the body would fail with
    /// EOF rather than `TooLarge`.
    #[tokio::test]
    async fn oversized_lengths_are_refused_before_the_body_is_read() {
        for len in [u32::MAX, 64 << 20, (BULK_MAX + 1) as u32] {
            let e = read_frame(&mut &header(WIRE_VERSION, 2, len)[..], any)
                .await
                .unwrap_err();
            assert!(matches!(e, FrameError::TooLarge { .. }), "{e}");
        }
        let unlisted = |c| (c == FrameClass::Control).then_some(UNLISTED_MAX);
        let e = read_frame(&mut &header(WIRE_VERSION, 1, 1 << 20)[..], unlisted)
            .await
            .unwrap_err();
        assert!(matches!(e, FrameError::TooLarge { limit, .. } if limit == UNLISTED_MAX));
        let e = read_frame(&mut &header(WIRE_VERSION, 2, 10)[..], unlisted)
            .await
            .unwrap_err();
        assert!(
            matches!(e, FrameError::ClassRefused(FrameClass::Bulk)),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_body_shorter_than_declared_is_an_error_not_a_hang() {
        let mut f = header(WIRE_VERSION, 1, 100_000).clone();
        f.extend([7u8; 50_000]);
        let e = read_frame(&mut &f[..], any).await.unwrap_err();
        assert!(matches!(e, FrameError::Io(_)), "{e}");
        // A body longer than the first chunk is read whole.
        let big = vec![5u8; 3 * FIRST_CHUNK + 17];
        let f = encode_frame(FrameClass::Control, 1, &big);
        let got = read_frame(&mut &f[..], any).await.unwrap().unwrap();
        assert_eq!(&got.payload[..], &big[..]);
    }

    #[test]
    fn batches_are_bulk_and_single_operations_control() {
        use crate::Ekt;
        assert_eq!(
            FrameClass::of_request(&Request::RewrapKeys { ekts: vec![] }),
            FrameClass::Bulk
        );
        assert_eq!(
            FrameClass::of_request(&Request::Status),
            FrameClass::Control
        );
        // Sent for a domain, a batch is still a batch.
        assert_eq!(
            FrameClass::of_request(&Request::InDomain {
                domain: uuid::Uuid::nil(),
                request: Box::new(Request::RewrapKeys { ekts: vec![] }),
            }),
            FrameClass::Bulk
        );
        assert_eq!(
            FrameClass::of_result(&Ok(Response::Ekts(vec![Ekt(vec![])]))),
            FrameClass::Bulk
        );
        assert_eq!(
            FrameClass::of_result(&Err(HsmError::InvalidKeyToken)),
            FrameClass::Control
        );
    }
}
