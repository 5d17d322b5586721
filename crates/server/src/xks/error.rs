//! The errors of the XKS proxy API, as the specification lists them:
//! `{"errorName", "errorMessage"}` with its HTTP status. Every refusal an
//! XKS request meets is mapped here, once.

use axum::http::StatusCode;

use crate::error::KmsError;

/// An XKS proxy API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XksError {
    /// 400: an input parameter is invalid.
    #[error("{0}")]
    Validation(String),
    /// 400: the key is disabled, deactivated or blocked.
    #[error("{0}")]
    InvalidState(String),
    /// 400: ciphertext, IV, AAD or tag is corrupted, missing or invalid.
    #[error(
        "The request was rejected because the specified ciphertext, initialization vector, additional authenticated data or authentication tag is corrupted, missing, or otherwise invalid."
    )]
    InvalidCiphertext,
    /// 400: the key does not support the operation.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// 401: the SigV4 signature is invalid (or not this key store's).
    #[error("{0}")]
    AuthenticationFailed(String),
    /// 403: not authorized for this key store.
    #[error("{0}")]
    AccessDenied(String),
    /// 404: no such external key.
    #[error("{0}")]
    KeyNotFound(String),
    /// 404: the URI path is not valid.
    #[error("{0}")]
    InvalidUriPath(String),
    /// 429: too many requests.
    #[error("{0}")]
    Throttling(String),
    /// 501: not implemented, or over a size Strongroom supports.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// 503: a dependency (the security modules) timed out.
    #[error("{0}")]
    DependencyTimeout(String),
    /// 500: anything else.
    #[error("{0}")]
    Internal(String),
    /// 405: the API is POST only (the specification names no errorName).
    #[error("The XKS proxy API accepts POST requests only.")]
    MethodNotAllowed,
}

/// Longest `errorMessage` (the specification: under 512 characters).
const MAX_MESSAGE: usize = 511;

impl XksError {
    /// The specification's `errorName`.
    pub fn name(&self) -> &'static str {
        match self {
            XksError::Validation(_) | XksError::MethodNotAllowed => "ValidationException",
            XksError::InvalidState(_) => "InvalidStateException",
            XksError::InvalidCiphertext => "InvalidCiphertextException",
            XksError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            XksError::AuthenticationFailed(_) => "AuthenticationFailedException",
            XksError::AccessDenied(_) => "AccessDeniedException",
            XksError::KeyNotFound(_) => "KeyNotFoundException",
            XksError::InvalidUriPath(_) => "InvalidUriPathException",
            XksError::Throttling(_) => "ThrottlingException",
            XksError::UnsupportedOperation(_) => "UnsupportedOperationException",
            XksError::DependencyTimeout(_) => "DependencyTimeoutException",
            XksError::Internal(_) => "InternalException",
        }
    }

    /// The specification's HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            XksError::Validation(_)
            | XksError::InvalidState(_)
            | XksError::InvalidCiphertext
            | XksError::InvalidKeyUsage(_) => StatusCode::BAD_REQUEST,
            XksError::AuthenticationFailed(_) => StatusCode::UNAUTHORIZED,
            XksError::AccessDenied(_) => StatusCode::FORBIDDEN,
            XksError::KeyNotFound(_) | XksError::InvalidUriPath(_) => StatusCode::NOT_FOUND,
            XksError::Throttling(_) => StatusCode::TOO_MANY_REQUESTS,
            XksError::UnsupportedOperation(_) => StatusCode::NOT_IMPLEMENTED,
            XksError::DependencyTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            XksError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            XksError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The `errorMessage`: printable ASCII, under 512 characters.
    pub fn message(&self) -> String {
        self.to_string()
            .chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .take(MAX_MESSAGE)
            .collect()
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "errorName": self.name(),
            "errorMessage": self.message(),
        }))
        .expect("error body serializes")
    }
}

impl From<KmsError> for XksError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::NotFound(m) => XksError::KeyNotFound(m),
            KmsError::Disabled(m) | KmsError::InvalidState(m) => XksError::InvalidState(m),
            KmsError::InvalidCiphertext(_) | KmsError::IncorrectKey(_) => {
                XksError::InvalidCiphertext
            }
            KmsError::InvalidKeyUsage(m) => XksError::InvalidKeyUsage(m),
            KmsError::AccessDenied(m) => XksError::AccessDenied(m),
            KmsError::Validation(m) | KmsError::Serialization(m) => XksError::Validation(m),
            KmsError::UnrecognizedClient
            | KmsError::ExpiredToken
            | KmsError::MissingAuthenticationToken => XksError::AuthenticationFailed(e.to_string()),
            KmsError::InvalidSignature(m) | KmsError::IncompleteSignature(m) => {
                XksError::AuthenticationFailed(m)
            }
            KmsError::Throttling(m) => XksError::Throttling(m),
            KmsError::UnsupportedOperation(m) => XksError::UnsupportedOperation(m),
            KmsError::DependencyTimeout(m) => XksError::DependencyTimeout(m),
            other => XksError::Internal(other.to_string()),
        }
    }
}

impl From<crate::http::intake::BodyError> for XksError {
    fn from(e: crate::http::intake::BodyError) -> Self {
        use crate::http::intake::BodyError;
        match e {
            // Over what Strongroom supports (the specification's sizes fit).
            BodyError::TooLarge(_) => XksError::UnsupportedOperation(e.to_string()),
            BodyError::TooSlow(_) | BodyError::Unreadable => XksError::Validation(e.to_string()),
        }
    }
}

impl From<strongroom_hsm_proto::HsmError> for XksError {
    fn from(e: strongroom_hsm_proto::HsmError) -> Self {
        KmsError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_statuses_are_the_specifications() {
        let cases = [
            (
                XksError::Validation(String::new()),
                "ValidationException",
                400,
            ),
            (
                XksError::InvalidState(String::new()),
                "InvalidStateException",
                400,
            ),
            (
                XksError::InvalidCiphertext,
                "InvalidCiphertextException",
                400,
            ),
            (
                XksError::InvalidKeyUsage(String::new()),
                "InvalidKeyUsageException",
                400,
            ),
            (
                XksError::AuthenticationFailed(String::new()),
                "AuthenticationFailedException",
                401,
            ),
            (
                XksError::AccessDenied(String::new()),
                "AccessDeniedException",
                403,
            ),
            (
                XksError::KeyNotFound(String::new()),
                "KeyNotFoundException",
                404,
            ),
            (
                XksError::InvalidUriPath(String::new()),
                "InvalidUriPathException",
                404,
            ),
            (
                XksError::Throttling(String::new()),
                "ThrottlingException",
                429,
            ),
            (
                XksError::UnsupportedOperation(String::new()),
                "UnsupportedOperationException",
                501,
            ),
            (
                XksError::DependencyTimeout(String::new()),
                "DependencyTimeoutException",
                503,
            ),
            (XksError::Internal(String::new()), "InternalException", 500),
        ];
        for (e, name, status) in cases {
            assert_eq!(e.name(), name);
            assert_eq!(e.status().as_u16(), status, "{name}");
        }
    }

    #[test]
    fn messages_are_short_printable_ascii() {
        let e = XksError::Validation(format!("é\n{}", "x".repeat(2000)));
        let m = e.message();
        assert!(m.len() < 512);
        assert!(m.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        let body: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(body["errorName"], "ValidationException");
    }
}
