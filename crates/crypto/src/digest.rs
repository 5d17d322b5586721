use aws_lc_rs::{digest, hmac};
use subtle::ConstantTimeEq;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> [u8; 48] {
    let d = digest::digest(&digest::SHA384, data);
    let mut out = [0u8; 48];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-384 computed as data arrives (a module log's hash, kept current on
/// every append instead of re-reading the file).
#[derive(Clone)]
pub struct Sha384Stream(digest::Context);

impl std::fmt::Debug for Sha384Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha384Stream")
    }
}

impl Default for Sha384Stream {
    fn default() -> Self {
        Self(digest::Context::new(&digest::SHA384))
    }
}

impl Sha384Stream {
    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The SHA-384 of everything added so far (the stream goes on).
    pub fn current(&self) -> [u8; 48] {
        let d = self.0.clone().finish();
        let mut out = [0u8; 48];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    let d = digest::digest(&digest::SHA512, data);
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// HMAC-SHA256 of `data` under raw key bytes.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    HmacSha256Key::new(key).sign(data)
}

/// A prepared HMAC-SHA256 key (cheap to reuse: the pads are precomputed).
pub struct HmacSha256Key(hmac::Key);

impl std::fmt::Debug for HmacSha256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256Key(<redacted>)")
    }
}

impl HmacSha256Key {
    /// Prepares `key`.
    pub fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// The tag over `data`.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let t = hmac::sign(&self.0, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(t.as_ref());
        out
    }

    /// Checks `tag` over `data` in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.0, data, tag).is_ok()
    }
}

/// SigV4's signing key chain: `kSigning` for a secret access key and a
/// credential scope (date `YYYYMMDD`, region, service). Intermediates are
/// zeroized.
pub fn sigv4_signing_key(
    secret: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> zeroize::Zeroizing<[u8; 32]> {
    use zeroize::Zeroizing;
    let mut k = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret);
    let k_date = Zeroizing::new(HmacSha256Key::new(&k).sign(date.as_bytes()));
    let k_region = Zeroizing::new(HmacSha256Key::new(&*k_date).sign(region.as_bytes()));
    let k_service = Zeroizing::new(HmacSha256Key::new(&*k_region).sign(service.as_bytes()));
    Zeroizing::new(HmacSha256Key::new(&*k_service).sign(b"aws4_request"))
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sha384_stream_matches_the_one_shot_hash_at_every_step() {
        let mut s = Sha384Stream::default();
        assert_eq!(s.current(), sha384(b""));
        s.update(b"abc");
        assert_eq!(s.current(), sha384(b"abc"));
        s.update(b"def");
        assert_eq!(s.current(), sha384(b"abcdef"));
    }

    #[test]
    fn rfc4231_case2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(tag[..8], [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]);
        assert!(HmacSha256Key::new(b"Jefe").verify(b"what do ya want for nothing?", &tag));
        assert!(!HmacSha256Key::new(b"Jefe").verify(b"what do ya want for nothing!", &tag));
    }

    #[test]
    fn sigv4_documented_signing_key() {
        // AWS's SigV4 documentation example (iam, us-east-1, 20150830).
        let k = sigv4_signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(k[..4], [0xc4, 0xaf, 0xb1, 0xcc]);
        assert_eq!(k[28..], [0xc1, 0x54, 0xa4, 0xb9]);
    }

    #[test]
    fn sha256_abc() {
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn ct_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
