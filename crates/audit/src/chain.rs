//! Chain ids, segment ids and the hash chain.

use std::fmt;
use std::str::FromStr;

use crate::error::AuditError;

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(prev ‖ record)`: the hash of `record` (its encoded bytes) after
/// the record whose hash is `prev`. Hashes are not stored per record (32
/// bytes each, more than a tenth of a record): a reader recomputes them,
/// as it must anyway to trust them, and footers and exported heads pin
/// them.
pub fn chain_hash(prev: &[u8; 32], record: &[u8], scratch: &mut Vec<u8>) -> [u8; 32] {
    scratch.clear();
    scratch.extend_from_slice(prev);
    scratch.extend_from_slice(record);
    strongroom_crypto::sha256(scratch)
}

/// The name of one writer's chain (a frontend's host-key id): 1-64 ASCII
/// letters, digits, `-` or `_`, so it can start a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(String);

impl ChainId {
    /// Checks `id`.
    pub fn new(id: &str) -> Result<Self, AuditError> {
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(AuditError::InvalidChainId(id.to_string()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ChainId {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// One segment of one chain, written `<chain>.<number>` (decimal).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId {
    /// The chain.
    pub chain: ChainId,
    /// Its number in the chain, from 0.
    pub number: u64,
}

impl SegmentId {
    /// The file name of this segment with `extension`: the number in 16
    /// hex digits, so names sort in chain order.
    pub fn file_name(&self, extension: &str) -> String {
        format!("{}.{:016x}.{extension}", self.chain, self.number)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.chain, self.number)
    }
}

impl FromStr for SegmentId {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AuditError::InvalidSegmentId(s.to_string());
        let (chain, number) = s.rsplit_once('.').ok_or_else(bad)?;
        Ok(Self {
            chain: ChainId::new(chain).map_err(|_| bad())?,
            number: number.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_that_could_escape_the_directory_are_refused() {
        for bad in ["", "../x", "a/b", "a.b", "a b", &"x".repeat(65)] {
            assert!(ChainId::new(bad).is_err(), "{bad:?}");
        }
        assert!(ChainId::new("host-1_A").is_ok());
    }

    #[test]
    fn segment_ids_round_trip_through_text() {
        let id: SegmentId = "fe-1.42".parse().expect("parse");
        assert_eq!(id.number, 42);
        assert_eq!(id.to_string(), "fe-1.42");
        assert_eq!(id.file_name("seg"), "fe-1.000000000000002a.seg");
        assert!("fe-1".parse::<SegmentId>().is_err());
        assert!("fe-1.x".parse::<SegmentId>().is_err());
    }
}
