//! Footers: what a closed segment holds, sealed so that it can be checked
//! without trusting the disk (the role of CloudTrail's digest files).
//!
//! File `<chain>.<number:016x>.footer` = magic `SRAUDFTR` ‖ one frame of
//! version byte `0x01` ‖ postcard([`SealedFooter`]). The seal is over
//! `"strongroom audit footer v1\0" ‖ postcard(FooterBody)`.

use serde::{Deserialize, Serialize};
use strongroom_crypto::HmacSha256Key;

use crate::error::AuditError;
use crate::frame::{Tail, push_frame, scan_frames};

/// The first bytes of every footer file.
pub const FOOTER_MAGIC: &[u8; 8] = b"SRAUDFTR";
/// The format version byte of a footer.
pub const FOOTER_VERSION: u8 = 1;
/// What every seal starts with, so a seal over a footer is never a seal
/// over anything else.
const SEAL_CONTEXT: &[u8] = b"strongroom audit footer v1\0";

/// What a closed segment contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FooterBody {
    /// The chain.
    pub chain: String,
    /// Segment number.
    pub number: u64,
    /// Sequence of its first record.
    pub first_seq: u64,
    /// Sequence of its last record (`first_seq - 1` when empty).
    pub last_seq: u64,
    /// How many records.
    pub count: u64,
    /// Time of its first record (epoch ms; 0 when empty).
    pub first_time_ms: i64,
    /// Time of its last record.
    pub last_time_ms: i64,
    /// Chain hash after its last record.
    pub head: [u8; 32],
    /// Chain hash before its first record: the previous segment's head.
    pub prev_head: [u8; 32],
    /// Length of the segment file.
    pub segment_len: u64,
}

impl FooterBody {
    /// The bytes a seal covers.
    pub fn sealed_message(&self) -> Vec<u8> {
        let mut m = SEAL_CONTEXT.to_vec();
        m.extend_from_slice(&postcard::to_stdvec(self).unwrap_or_default());
        m
    }
}

/// A footer with its seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedFooter {
    /// The facts.
    pub body: FooterBody,
    /// Which sealer (key) sealed it.
    pub sealer: String,
    /// The seal over [`FooterBody::sealed_message`].
    pub seal: Vec<u8>,
}

impl SealedFooter {
    /// Seals `body` with `sealer`.
    pub fn seal(body: FooterBody, sealer: &dyn FooterSealer) -> Result<Self, AuditError> {
        let seal = sealer.seal(&body.sealed_message())?;
        Ok(Self {
            body,
            sealer: sealer.sealer_id().to_string(),
            seal,
        })
    }

    /// Whether `sealer` made this seal.
    pub fn verify(&self, sealer: &dyn FooterSealer) -> bool {
        self.sealer == sealer.sealer_id() && sealer.verify(&self.body.sealed_message(), &self.seal)
    }

    /// The footer file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = vec![FOOTER_VERSION];
        body.extend_from_slice(&postcard::to_stdvec(self).unwrap_or_default());
        let mut out = FOOTER_MAGIC.to_vec();
        push_frame(&mut out, &body);
        out
    }

    /// Reads a footer file's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, AuditError> {
        let bad = |why: &str| AuditError::Malformed(format!("footer: {why}"));
        let rest = bytes
            .strip_prefix(FOOTER_MAGIC)
            .ok_or_else(|| bad("magic"))?;
        let (frames, tail) = scan_frames(rest);
        if frames.len() != 1 || tail != Tail::Clean {
            return Err(bad("not one whole frame"));
        }
        match rest[frames[0].clone()].split_first() {
            Some((&FOOTER_VERSION, body)) => {
                postcard::from_bytes(body).map_err(|e| bad(&e.to_string()))
            }
            _ => Err(bad("unsupported version")),
        }
    }
}

/// Produces and checks footer seals. The real sealer will be a key held
/// by the security module; [`HmacSealer`] serves tests and the first
/// wiring.
pub trait FooterSealer: Send + Sync {
    /// Names the key, so a footer says which key sealed it.
    fn sealer_id(&self) -> &str;
    /// The seal over `message`.
    fn seal(&self, message: &[u8]) -> Result<Vec<u8>, AuditError>;
    /// Whether `seal` is this sealer's seal over `message` (constant time).
    fn verify(&self, message: &[u8], seal: &[u8]) -> bool;
}

/// HMAC-SHA256 seals under a caller-supplied key.
pub struct HmacSealer {
    id: String,
    key: HmacSha256Key,
}

impl std::fmt::Debug for HmacSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacSealer({}, <redacted>)", self.id)
    }
}

impl HmacSealer {
    /// A sealer named `id` over `key`.
    pub fn new(id: &str, key: &[u8]) -> Self {
        Self {
            id: id.to_string(),
            key: HmacSha256Key::new(key),
        }
    }
}

impl FooterSealer for HmacSealer {
    fn sealer_id(&self) -> &str {
        &self.id
    }

    fn seal(&self, message: &[u8]) -> Result<Vec<u8>, AuditError> {
        Ok(self.key.sign(message).to_vec())
    }

    fn verify(&self, message: &[u8], seal: &[u8]) -> bool {
        self.key.verify(message, seal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> FooterBody {
        FooterBody {
            chain: "fe".into(),
            number: 3,
            first_seq: 10,
            last_seq: 19,
            count: 10,
            first_time_ms: 1,
            last_time_ms: 2,
            head: [7; 32],
            prev_head: [6; 32],
            segment_len: 1000,
        }
    }

    #[test]
    fn a_sealed_footer_round_trips_and_verifies() {
        let sealer = HmacSealer::new("k1", b"key");
        let f = SealedFooter::seal(body(), &sealer).expect("seal");
        let back = SealedFooter::decode(&f.encode()).expect("decode");
        assert_eq!(back, f);
        assert!(back.verify(&sealer));
    }

    #[test]
    fn a_forged_footer_does_not_verify() {
        let sealer = HmacSealer::new("k1", b"key");
        let mut f = SealedFooter::seal(body(), &sealer).expect("seal");
        f.body.count = 9;
        assert!(!f.verify(&sealer));
        let other = HmacSealer::new("k1", b"another key");
        let g = SealedFooter::seal(body(), &other).expect("seal");
        assert!(!g.verify(&sealer));
        let renamed = HmacSealer::new("k2", b"key");
        assert!(
            !SealedFooter::seal(body(), &renamed)
                .expect("seal")
                .verify(&sealer)
        );
    }
}
