//! Footers: what a closed segment holds, sealed so that it can be checked
//! without trusting the disk (the role of CloudTrail's digest files).
//!
//! File `<chain>.<number:016x>.footer` = magic `SRAUDFTR` ‖ one frame of
//! version byte `0x01` ‖ postcard([`SealedFooter`]). The seal is over
//! `"strongroom audit footer v1\0" ‖ postcard(FooterBody)` (an Ed25519
//! seal signs that with the module's prefix, see [`crate::seal`]).

use serde::{Deserialize, Serialize};

use crate::chain::SegmentId;
use crate::error::AuditError;
use crate::frame::{Tail, push_frame, scan_frames};
use crate::seal::{FooterSealer, SealCheck, TrustedKeys};

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
            sealer: seal.sealer,
            seal: seal.seal,
        })
    }

    /// Checks the seal against the `trusted` keys.
    pub fn verify(&self, trusted: &TrustedKeys) -> SealCheck {
        trusted.check(&self.sealer, &self.body.sealed_message(), &self.seal)
    }

    /// Checks that this is segment `id`'s footer, validly sealed by a
    /// `trusted` key; returns how it was sealed.
    pub fn check_for(
        &self,
        id: &SegmentId,
        trusted: &TrustedKeys,
    ) -> Result<SealCheck, AuditError> {
        match self.verify(trusted) {
            SealCheck::UntrustedKey => Err(AuditError::UntrustedSeal {
                segment: id.to_string(),
                sealer: self.sealer.clone(),
            }),
            SealCheck::Invalid => Err(AuditError::BadSeal(id.to_string())),
            how if self.body.chain == id.chain.as_str() && self.body.number == id.number => Ok(how),
            _ => Err(AuditError::BadSeal(id.to_string())),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::InProcessSealer;

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
        let sealer = InProcessSealer::generate().expect("key");
        let f = SealedFooter::seal(body(), &sealer).expect("seal");
        let back = SealedFooter::decode(&f.encode()).expect("decode");
        assert_eq!(back, f);
        assert_eq!(back.verify(&sealer.trusted()), SealCheck::Ed25519);
    }

    #[test]
    fn a_forged_footer_does_not_verify() {
        let sealer = InProcessSealer::generate().expect("key");
        let trusted = sealer.trusted();
        let mut f = SealedFooter::seal(body(), &sealer).expect("seal");
        f.body.count = 9;
        assert_eq!(f.verify(&trusted), SealCheck::Invalid);
        let other = InProcessSealer::generate().expect("key");
        let g = SealedFooter::seal(body(), &other).expect("seal");
        assert_eq!(g.verify(&trusted), SealCheck::UntrustedKey);
        let mut renamed = g.clone();
        renamed.sealer = f.sealer.clone();
        assert_eq!(renamed.verify(&trusted), SealCheck::Invalid);
    }
}
