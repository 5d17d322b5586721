//! Sealed key tokens as the frontend holds them: opaque bytes only a
//! member of their domain opens (docs/formats.md, sealed key token v3).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An exported key token: a backing key sealed under a domain key. Opaque
/// and safe to store; only a member of the domain can open it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ekt(pub Vec<u8>);

impl Ekt {
    /// The domain and domain-key generation the token's header names
    /// (unverified: only a module opening it verifies). Formats v1/v2 keep
    /// them at bytes 1..21, v3 at 2..22 (docs/formats.md).
    pub fn sealed_under(&self) -> Option<(Uuid, u32)> {
        let base = match self.0.first()? {
            1 | 2 => 1,
            3 => 2,
            _ => return None,
        };
        let id = Uuid::from_slice(self.0.get(base..base + 16)?).ok()?;
        let generation = u32::from_be_bytes(self.0.get(base + 16..base + 20)?.try_into().ok()?);
        Some((id, generation))
    }
}

/// A VOLATILE key on its way from the member that made it to the others:
/// sealed as its own kind (docs/formats.md), so no key operation accepts
/// it as an [`Ekt`]. The frontend forwards it and never stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransientEkt(pub Vec<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_under_reads_every_ekt_version_and_refuses_unknown_ones() {
        let id = uuid::Uuid::new_v4();
        let header = |version: u8, base: usize| {
            let mut b = vec![version; base];
            b.extend_from_slice(id.as_bytes());
            b.extend_from_slice(&7u32.to_be_bytes());
            Ekt(b)
        };
        assert_eq!(header(1, 1).sealed_under(), Some((id, 7)));
        assert_eq!(header(2, 1).sealed_under(), Some((id, 7)));
        assert_eq!(header(3, 2).sealed_under(), Some((id, 7)));
        assert_eq!(header(4, 2).sealed_under(), None);
        assert_eq!(Ekt(vec![3, 1, 2]).sealed_under(), None);
    }
}
