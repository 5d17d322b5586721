/// What can go wrong in a primitive. Deliberately coarse: callers must not
/// learn *why* an authentication check failed.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The AEAD tag did not verify (wrong key, context, or tampered data).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The system random generator failed.
    #[error("random generator failure")]
    Random,
    /// A key could not be parsed or is not of the expected type.
    #[error("invalid key")]
    InvalidKey,
    /// A length was outside what the primitive accepts.
    #[error("invalid length")]
    InvalidLength,
}
