//! The AWS-shaped errors of the public API: mapped once, here.

use axum::http::StatusCode;

/// An error as the AWS KMS JSON protocol reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The named key or alias does not exist (for this caller).
    #[error("{0}")]
    NotFound(String),
    /// The key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// The key's state does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    /// The ciphertext is invalid or its context does not match.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// The KeyId given to Decrypt/ReEncrypt is not the ciphertext's key.
    #[error("{0}")]
    IncorrectKey(String),
    /// A parameter is out of range or malformed.
    #[error("{0}")]
    Validation(String),
    /// The request body is not valid JSON of the expected shape.
    #[error("{0}")]
    Serialization(String),
    /// Something with that name exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The alias name breaks the naming rules.
    #[error("{0}")]
    InvalidAliasName(String),
    /// A paging marker we did not issue.
    #[error("{0}")]
    InvalidMarker(String),
    /// A tag breaks the tagging rules.
    #[error("{0}")]
    Tag(String),
    /// The operation does not fit the key's usage or algorithm.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// A feature Strongroom does not offer (yet).
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The `X-Amz-Target` names no operation.
    #[error("{0}")]
    UnknownOperation(String),
    /// The access key is unknown or inactive.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The signature did not verify, or is expired or mis-scoped.
    #[error("{0}")]
    InvalidSignature(String),
    /// The Authorization header is malformed.
    #[error("{0}")]
    IncompleteSignature(String),
    /// No credentials at all.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// A DryRun request that would have succeeded.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// ImportKeyMaterial: the import token is not for this key.
    #[error("{0}")]
    InvalidImportToken(String),
    /// ImportKeyMaterial: the import token has expired.
    #[error("{0}")]
    ExpiredImportToken(String),
    /// ImportKeyMaterial: not the material this key had, or unusable.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// Verify: the signature does not verify.
    #[error("{0}")]
    KmsInvalidSignature(String),
    /// The key policy does not allow the request.
    #[error("{0}")]
    AccessDenied(String),
    /// A key policy document is malformed or would lock its author out.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// VerifyMac: the MAC does not verify.
    #[error("{0}")]
    InvalidMac(String),
    /// A quota (tags per key, on-demand rotations) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// Too many requests of a kind from one source (unknown access keys).
    #[error("{0}")]
    Throttling(String),
    /// No security module could serve the request now; retryable.
    #[error("{0}")]
    DependencyTimeout(String),
    /// Temporary credentials past their expiration.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A grant token that names no grant or is malformed.
    #[error("{0}")]
    InvalidGrantToken(String),
    /// A grant id that is malformed.
    #[error("{0}")]
    InvalidGrantId(String),
    /// A principal ARN that is malformed.
    #[error("{0}")]
    InvalidArn(String),
    /// A name AWS reserves for itself (aliases under `alias/aws/`).
    #[error("{0}")]
    NotAuthorized(String),
    /// A genuine internal fault.
    #[error("{0}")]
    Internal(String),
}

impl KmsError {
    /// AWS's NotFoundException for a key named `name` (as the caller
    /// named it, or its ARN): the one place that words it.
    pub fn key_not_found(name: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("Key '{name}' does not exist"))
    }

    /// AWS's NotFoundException for a grant id that names no grant of the key.
    pub fn grant_not_found(id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("Grant ID {id} not found"))
    }

    /// The `__type` AWS uses.
    pub fn type_name(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::Serialization(_) => "SerializationException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::Tag(_) => "TagException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::UnknownOperation(_) => "UnknownOperationException",
            KmsError::UnrecognizedClient => "UnrecognizedClientException",
            KmsError::InvalidSignature(_) => "InvalidSignatureException",
            KmsError::IncompleteSignature(_) => "IncompleteSignatureException",
            KmsError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            KmsError::DryRun => "DryRunOperationException",
            KmsError::DependencyTimeout(_) => "DependencyTimeoutException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::Throttling(_) => "ThrottlingException",
            KmsError::InvalidMac(_) => "KMSInvalidMacException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::InvalidImportToken(_) => "InvalidImportTokenException",
            KmsError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::KmsInvalidSignature(_) => "KMSInvalidSignatureException",
            KmsError::ExpiredToken => "ExpiredTokenException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::NotAuthorized(_) => "NotAuthorizedException",
            KmsError::Internal(_) => "KMSInternalException",
        }
    }

    /// The HTTP status AWS uses.
    pub fn status(&self) -> StatusCode {
        match self {
            KmsError::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            KmsError::DryRun => StatusCode::PRECONDITION_FAILED,
            KmsError::Internal(_) | KmsError::DependencyTimeout(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body: `{"__type": ..., "message": ...}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.type_name(),
            "message": self.to_string(),
        }))
        .expect("error body serializes")
    }
}

impl From<crate::processor::key_repository::WriteError> for KmsError {
    fn from(e: crate::processor::key_repository::WriteError) -> Self {
        use crate::processor::key_repository::WriteError as W;
        match e {
            W::NotCovered(_) => {
                tracing::error!(error = %e, "a write outside the request's authorization");
                KmsError::Internal(e.to_string())
            }
            W::Store(e) => e.into(),
        }
    }
}

impl From<strongroom_store::StoreError> for KmsError {
    fn from(e: strongroom_store::StoreError) -> Self {
        match e {
            strongroom_store::StoreError::NotFound(what) => {
                KmsError::NotFound(format!("{what} does not exist"))
            }
            strongroom_store::StoreError::AlreadyExists(what) => {
                KmsError::AlreadyExists(format!("{what} already exists"))
            }
            // A 500: SDKs retry it, and the retry reads the new state.
            strongroom_store::StoreError::Conflict(what) => KmsError::Internal(format!(
                "The key changed concurrently ({what}); retry the request."
            )),
            other => {
                tracing::error!(error = %other, "store failure");
                KmsError::Internal("The store is unavailable.".into())
            }
        }
    }
}

impl From<strongroom_hsm_proto::HsmError> for KmsError {
    fn from(e: strongroom_hsm_proto::HsmError) -> Self {
        use strongroom_hsm_proto::HsmError as H;
        match e {
            H::InvalidCiphertext => KmsError::InvalidCiphertext(String::new()),
            H::InvalidRequest(m) => KmsError::Validation(m),
            H::WrongKeyUsage(m) => KmsError::InvalidKeyUsage(m),
            H::InvalidImportToken => KmsError::InvalidImportToken(
                "The import token is not valid for this KMS key.".into(),
            ),
            H::ExpiredImportToken => KmsError::ExpiredImportToken(
                "The import token has expired; get new parameters.".into(),
            ),
            H::UndecryptableMaterial => KmsError::InvalidCiphertext(
                "The encrypted key material could not be decrypted with the import parameters."
                    .into(),
            ),
            H::IncorrectKeyMaterial(m) => KmsError::IncorrectKeyMaterial(m),
            H::VolatileKeyGone => KmsError::InvalidState(
                "The key's volatile material no longer exists: every security module restarted since it was made.".into(),
            ),
            // Every member was tried: none reachable, in use mode, holding
            // the key, and serving this host. Clients may retry (AWS SDKs
            // do so for this exception).
            e if e.retry_elsewhere() => {
                tracing::error!(error = %e, "no security module could serve the request");
                KmsError::DependencyTimeout(
                    "No security module is available to complete the request. Retry later.".into(),
                )
            }
            other => {
                tracing::error!(error = %other, "security module failure");
                KmsError::Internal("The security module could not complete the request.".into())
            }
        }
    }
}
