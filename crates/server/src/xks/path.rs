//! XKS proxy URIs: `/{uri-prefix}/kms/xks/v1/keys/{externalKeyId}/{op}`
//! and `/{uri-prefix}/kms/xks/v1/health`, and the rules for a key
//! store's URI prefix.

/// The fixed part every XKS proxy URI path has after its prefix.
pub const API_ROOT: &str = "/kms/xks/v1";
/// Longest `XksProxyUriPath` (prefix plus [`API_ROOT`]) AWS KMS accepts.
pub const MAX_URI_PATH: usize = 128;
/// Longest external key id.
pub const MAX_EXTERNAL_KEY_ID: usize = 128;

/// Which API a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// GetHealthStatus.
    Health,
    /// GetKeyMetadata of a key.
    Metadata(String),
    /// Encrypt under a key.
    Encrypt(String),
    /// Decrypt under a key.
    Decrypt(String),
}

impl Endpoint {
    /// The operation name the audit trail records.
    pub fn audit_name(&self) -> &'static str {
        match self {
            Endpoint::Health => "XksGetHealthStatus",
            Endpoint::Metadata(_) => "XksGetKeyMetadata",
            Endpoint::Encrypt(_) => "XksEncrypt",
            Endpoint::Decrypt(_) => "XksDecrypt",
        }
    }

    /// The external key id, for the key endpoints.
    pub fn external_key_id(&self) -> Option<&str> {
        match self {
            Endpoint::Health => None,
            Endpoint::Metadata(k) | Endpoint::Encrypt(k) | Endpoint::Decrypt(k) => Some(k),
        }
    }
}

/// Why a URI path names no XKS API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not of the form the specification defines.
    #[error("The URI path is not a valid XKS proxy API path.")]
    Invalid,
    /// The external key id breaks the specification's rules.
    #[error("The externalKeyId must be 1-128 characters of letters, digits, '-', '.' and '_'.")]
    BadExternalKeyId,
}

/// Whether a request path is meant for the XKS proxy API (contains its
/// fixed root as whole segments); everything else is the KMS API.
pub fn is_xks_path(path: &str) -> bool {
    path.match_indices(API_ROOT).any(|(i, _)| {
        let after = &path[i + API_ROOT.len()..];
        after.is_empty() || after.starts_with('/')
    })
}

/// Whether `s` is a valid key store URI prefix: `/segment[/segment...]` of
/// letters, digits, `-` and `_`, short enough that the whole
/// `XksProxyUriPath` fits in 128 characters, and not containing the API
/// root itself.
pub fn valid_prefix(s: &str) -> bool {
    s.len() + API_ROOT.len() <= MAX_URI_PATH
        && s.starts_with('/')
        && s[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && !is_xks_path(s)
}

/// A prefix as an administrator may type it (`keystores/a` or
/// `/keystores/a/`), normalized to `/keystores/a`; `None` if invalid.
pub fn normalize_prefix(s: &str) -> Option<String> {
    let trimmed = s.trim_matches('/');
    let p = format!("/{trimmed}");
    valid_prefix(&p).then_some(p)
}

fn valid_external_key_id(id: &str) -> bool {
    (1..=MAX_EXTERNAL_KEY_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Splits a path into its key store prefix and the API it names.
pub fn parse(path: &str) -> Result<(&str, Endpoint), PathError> {
    let i = path.rfind(API_ROOT).ok_or(PathError::Invalid)?;
    let (prefix, rest) = (&path[..i], &path[i + API_ROOT.len()..]);
    if !valid_prefix(prefix) {
        return Err(PathError::Invalid);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let endpoint = match parts.as_slice() {
        ["", "health"] => Endpoint::Health,
        ["", "keys", id, op] => {
            if !valid_external_key_id(id) {
                return Err(PathError::BadExternalKeyId);
            }
            let id = (*id).to_owned();
            match *op {
                "metadata" => Endpoint::Metadata(id),
                "encrypt" => Endpoint::Encrypt(id),
                "decrypt" => Endpoint::Decrypt(id),
                _ => return Err(PathError::Invalid),
            }
        }
        _ => return Err(PathError::Invalid),
    };
    Ok((prefix, endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_parses_with_its_prefix() {
        assert_eq!(
            parse("/ks/a/kms/xks/v1/health").unwrap(),
            ("/ks/a", Endpoint::Health)
        );
        assert_eq!(
            parse("/p/kms/xks/v1/keys/k-1.x_y/encrypt").unwrap(),
            ("/p", Endpoint::Encrypt("k-1.x_y".into()))
        );
        assert_eq!(
            parse("/p/kms/xks/v1/keys/k/decrypt").unwrap().1,
            Endpoint::Decrypt("k".into())
        );
        assert_eq!(
            parse("/p/kms/xks/v1/keys/k/metadata").unwrap().1,
            Endpoint::Metadata("k".into())
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        for p in [
            "/kms/xks/v1/health",
            "/p/kms/xks/v1/",
            "/p/kms/xks/v1",
            "/p/kms/xks/v1/health/",
            "/p/kms/xks/v1/keys/k/sign",
            "/p/kms/xks/v1/keys/k",
            "/p/kms/xks/v1/keys//encrypt",
            "/p/kms/xks/v1/keys/a/b/encrypt",
            "/p//q/kms/xks/v1/health",
            "/p/../kms/xks/v1/health",
            "/p%2F/kms/xks/v1/health",
            "/p/kms/xks/v2/health",
        ] {
            assert!(parse(p).is_err(), "{p} accepted");
        }
        assert_eq!(
            parse("/p/kms/xks/v1/keys/k%20/encrypt"),
            Err(PathError::BadExternalKeyId)
        );
        let long = format!("/p/kms/xks/v1/keys/{}/encrypt", "k".repeat(129));
        assert_eq!(parse(&long), Err(PathError::BadExternalKeyId));
    }

    #[test]
    fn prefixes_follow_the_xks_proxy_uri_path_rules() {
        assert_eq!(normalize_prefix("ks/a/").as_deref(), Some("/ks/a"));
        assert_eq!(normalize_prefix("/ks-1_b").as_deref(), Some("/ks-1_b"));
        for bad in ["", "/", "a//b", "a.b", "a b", "ks/kms/xks/v1", "é"] {
            assert_eq!(normalize_prefix(bad), None, "{bad:?} accepted");
        }
        let fits = format!("/{}", "a".repeat(MAX_URI_PATH - API_ROOT.len() - 1));
        assert!(valid_prefix(&fits));
        assert!(!valid_prefix(&format!("{fits}a")));
    }

    #[test]
    fn only_paths_with_the_api_root_as_segments_are_xks() {
        assert!(is_xks_path("/x/kms/xks/v1/health"));
        assert!(is_xks_path("/kms/xks/v1"));
        assert!(!is_xks_path("/"));
        assert!(!is_xks_path("/x/kms/xks/v10/health"));
    }
}
