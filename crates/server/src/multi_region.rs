//! Multi-Region key ids (docs/keys.md, "Multi-Region keys").
//!
//! A multi-Region key has one id in every region, `mrk-` and 32 lowercase
//! hex digits: the 128 bits of a random UUIDv8. Its ciphertexts and EKTs
//! carry those 128 bits where a single-Region key's carry its UUID, so any
//! region's copy opens them. Each region's copy is a row of its own in the
//! store, keyed by a UUID derived from the shared id and the region
//! ([`row_id`]), so a lookup by id and region is one primary-key read.

use uuid::Uuid;

/// The prefix of every multi-Region key id.
pub const PREFIX: &str = "mrk-";

/// Domain separation of [`row_id`]'s hash.
const ROW_ID_LABEL: &[u8] = b"strongroom multi-region key row v1\0";

/// A fresh shared id: 122 random bits, marked as UUIDv8, so a ciphertext
/// naming one is recognised without a store lookup ([`is_shared_id`]).
pub fn new_id() -> Uuid {
    Uuid::new_v8(Uuid::new_v4().into_bytes())
}

/// Whether a ciphertext's key id looks like a shared id (a UUIDv8): the
/// region's copy is then looked up first.
pub fn is_shared_id(id: Uuid) -> bool {
    id.get_version_num() == 8
}

/// The store row of `shared`'s copy in `region`: the first 16 bytes of
/// SHA-256(label, shared id, region), marked as UUIDv8 (RFC 9562's
/// name-based use of v8).
pub fn row_id(shared: Uuid, region: &str) -> Uuid {
    let mut input = Vec::with_capacity(ROW_ID_LABEL.len() + 16 + region.len());
    input.extend_from_slice(ROW_ID_LABEL);
    input.extend_from_slice(shared.as_bytes());
    input.extend_from_slice(region.as_bytes());
    let digest = strongroom_crypto::sha256(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}

/// `mrk-` and the shared id's 32 lowercase hex digits.
pub fn display(shared: Uuid) -> String {
    format!("{PREFIX}{}", shared.simple())
}

/// The shared id of `mrk-<32 lowercase hex digits>`, or `None`.
pub fn parse(s: &str) -> Option<Uuid> {
    let hex = s.strip_prefix(PREFIX)?;
    if hex.len() != 32
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    Uuid::try_parse(hex).ok()
}

/// The key id a response shows for `key`: `mrk-…` for a multi-Region
/// key's copy, the UUID otherwise.
pub fn key_id(key: &strongroom_store::KeyRecord) -> String {
    match key.multi_region_id {
        Some(shared) => display(shared),
        None => key.id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_recognised() {
        let id = new_id();
        let shown = display(id);
        assert_eq!(shown.len(), 36);
        assert!(shown.starts_with("mrk-"));
        assert_eq!(parse(&shown), Some(id));
        assert!(is_shared_id(id));
        assert!(!is_shared_id(Uuid::new_v4()));
        assert_ne!(new_id(), id);
    }

    #[test]
    fn malformed_ids_are_refused() {
        let id = display(new_id());
        for bad in [
            "mrk-".to_owned(),
            id.to_uppercase(),
            id.replace("mrk-", "MRK-"),
            format!("{id}0"),
            id[..35].to_owned(),
            id.replace("mrk-", "mrk_"),
            format!("mrk-{}", "g".repeat(32)),
            format!("mrk-{}", Uuid::new_v4()),
            Uuid::new_v4().to_string(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn row_ids_differ_per_region_and_are_stable() {
        let id = new_id();
        let a = row_id(id, "us-east-1");
        assert_eq!(a, row_id(id, "us-east-1"));
        assert_ne!(a, row_id(id, "eu-west-1"));
        assert_ne!(a, row_id(new_id(), "us-east-1"));
        assert_ne!(a, id);
        assert_eq!(a.get_version_num(), 8);
    }
}
