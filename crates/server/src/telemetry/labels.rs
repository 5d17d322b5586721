//! The fixed label values of request metrics: operations from the
//! operation table, error types from [`KmsError`]. Anything else is
//! `other`, so no value a client sends can make a new series.

use crate::error::KmsError;

/// The label value of an operation or error type outside the fixed lists.
pub const OTHER: &str = "other";
/// The error label of a request that succeeded.
pub const NO_ERROR: &str = "none";

/// Every `__type` [`KmsError::type_name`] can return. A type missing here
/// is counted as `other` (the unit test below names every variant).
pub const ERROR_TYPES: &[&str] = &[
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "ValidationException",
    "SerializationException",
    "AlreadyExistsException",
    "InvalidAliasNameException",
    "InvalidMarkerException",
    "TagException",
    "InvalidKeyUsageException",
    "UnsupportedOperationException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "DryRunOperationException",
    "DependencyTimeoutException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSInvalidMacException",
    "AccessDeniedException",
    "MalformedPolicyDocumentException",
    "InvalidImportTokenException",
    "ExpiredImportTokenException",
    "IncorrectKeyMaterialException",
    "KMSInvalidSignatureException",
    "ExpiredTokenException",
    "InvalidGrantTokenException",
    "InvalidGrantIdException",
    "InvalidArnException",
    "KMSInternalException",
];

/// Operations served outside the operation table.
const EXTRA_OPERATIONS: &[&str] = &["CreateAuthenticationProof"];

/// Operation names and their label index, sorted for binary search.
#[derive(Debug)]
pub struct Operations {
    /// Label values by index; `other` last.
    names: Vec<&'static str>,
    /// `(name, index)` sorted by name.
    sorted: Vec<(&'static str, usize)>,
}

impl Operations {
    /// The operations of the operation table, CreateAuthenticationProof,
    /// and `other`.
    pub fn new() -> Self {
        let mut names: Vec<&'static str> = crate::ops::OPERATIONS.iter().map(|o| o.name).collect();
        names.extend_from_slice(EXTRA_OPERATIONS);
        names.push(OTHER);
        let mut sorted: Vec<(&'static str, usize)> = names
            .iter()
            .enumerate()
            .take(names.len() - 1)
            .map(|(i, n)| (*n, i))
            .collect();
        sorted.sort_unstable();
        Self { names, sorted }
    }

    /// How many label values (including `other`).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never empty (`other` is always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The label index of `op` (`other` for anything not served).
    pub fn index(&self, op: &str) -> usize {
        match self.sorted.binary_search_by(|(n, _)| (*n).cmp(op)) {
            Ok(i) => self.sorted[i].1,
            Err(_) => self.names.len() - 1,
        }
    }

    /// The label value of index `i`.
    pub fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or(OTHER)
    }
}

impl Default for Operations {
    fn default() -> Self {
        Self::new()
    }
}

/// How many error label values: `none`, each error type, `other`.
pub const ERROR_LABELS: usize = ERROR_TYPES.len() + 2;

/// The error label index of a request's outcome: 0 for success.
pub fn error_index(result: Option<&KmsError>) -> usize {
    match result {
        None => 0,
        Some(e) => type_index(e.type_name()),
    }
}

/// The error label index of an error type name (`other` if unknown).
pub fn type_index(type_name: &str) -> usize {
    ERROR_TYPES
        .iter()
        .position(|t| *t == type_name)
        .map_or(ERROR_LABELS - 1, |i| i + 1)
}

/// The label value of error index `i`.
pub fn error_name(i: usize) -> &'static str {
    match i {
        0 => NO_ERROR,
        i => ERROR_TYPES.get(i - 1).copied().unwrap_or(OTHER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_operation_name_becomes_other_and_known_ones_keep_their_name() {
        let ops = Operations::new();
        for hostile in [
            "",
            "-",
            "Encrypt2",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "AKIAIOSFODNN7EXAMPLE",
            "encrypt",
        ] {
            assert_eq!(ops.name(ops.index(hostile)), OTHER, "{hostile:?}");
        }
        for known in [
            "Encrypt",
            "Decrypt",
            "CreateKey",
            "CreateAuthenticationProof",
        ] {
            assert_eq!(ops.name(ops.index(known)), known);
        }
        assert_eq!(ops.len(), crate::ops::OPERATIONS.len() + 2);
        assert_eq!(ops.name(ops.len()), OTHER, "out of range is other too");
    }

    #[test]
    fn every_error_variant_has_its_own_label_and_success_is_none() {
        let every = [
            KmsError::NotFound(String::new()),
            KmsError::Disabled(String::new()),
            KmsError::InvalidState(String::new()),
            KmsError::InvalidCiphertext(String::new()),
            KmsError::IncorrectKey(String::new()),
            KmsError::Validation(String::new()),
            KmsError::Serialization(String::new()),
            KmsError::AlreadyExists(String::new()),
            KmsError::InvalidAliasName(String::new()),
            KmsError::InvalidMarker(String::new()),
            KmsError::Tag(String::new()),
            KmsError::InvalidKeyUsage(String::new()),
            KmsError::UnsupportedOperation(String::new()),
            KmsError::UnknownOperation(String::new()),
            KmsError::UnrecognizedClient,
            KmsError::InvalidSignature(String::new()),
            KmsError::IncompleteSignature(String::new()),
            KmsError::MissingAuthenticationToken,
            KmsError::DryRun,
            KmsError::InvalidImportToken(String::new()),
            KmsError::ExpiredImportToken(String::new()),
            KmsError::IncorrectKeyMaterial(String::new()),
            KmsError::KmsInvalidSignature(String::new()),
            KmsError::AccessDenied(String::new()),
            KmsError::MalformedPolicyDocument(String::new()),
            KmsError::InvalidMac(String::new()),
            KmsError::LimitExceeded(String::new()),
            KmsError::Throttling(String::new()),
            KmsError::DependencyTimeout(String::new()),
            KmsError::ExpiredToken,
            KmsError::InvalidGrantToken(String::new()),
            KmsError::InvalidGrantId(String::new()),
            KmsError::InvalidArn(String::new()),
            KmsError::Internal(String::new()),
        ];
        assert_eq!(every.len(), ERROR_TYPES.len());
        for e in &every {
            let i = error_index(Some(e));
            assert_eq!(error_name(i), e.type_name());
        }
        assert_eq!(error_name(error_index(None)), NO_ERROR);
        assert_eq!(error_name(type_index("SomethingNewException")), OTHER);
    }
}
