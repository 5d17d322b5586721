//! Canonical encoding of an encryption context, used as AEAD associated
//! data so the same pairs in any order give the same bytes.
//!
//! Encoding: pairs sorted by key (bytewise UTF-8); a big-endian u32 pair
//! count; then per pair a u32 key length, key bytes, u32 value length,
//! value bytes.

/// Canonical bytes of `pairs` (any order, keys distinct).
pub fn canonical<'a, I>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut v: Vec<(&str, &str)> = pairs.into_iter().collect();
    v.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out =
        Vec::with_capacity(4 + v.iter().map(|(k, x)| 8 + k.len() + x.len()).sum::<usize>());
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    for (k, x) in v {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(x.len() as u32).to_be_bytes());
        out.extend_from_slice(x.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_unambiguous() {
        let a = canonical([("b", "2"), ("a", "1")]);
        let b = canonical([("a", "1"), ("b", "2")]);
        assert_eq!(a, b);
        // Moving a byte between key and value changes the encoding.
        assert_ne!(canonical([("ab", "c")]), canonical([("a", "bc")]));
        assert_eq!(canonical(std::iter::empty()), vec![0, 0, 0, 0]);
    }
}
