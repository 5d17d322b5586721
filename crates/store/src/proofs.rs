//! Bookkeeping of authentication proofs: which signed customer requests
//! have minted a proof (each may mint one), and how many uses each proof
//! has left. Kept in the store so every frontend, before and after a
//! restart, sees the same counts.

/// A proof just minted, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofMint {
    /// Hex SHA-256 naming the customer's signed request (its access key id
    /// and SigV4 signature): a request mints at most one proof.
    pub request_digest: String,
    /// The proof's random id (hex), as in its claims.
    pub proof_id: String,
    /// How many uses the proof allows.
    pub uses: u32,
    /// Epoch seconds after which the record may be purged: the later of
    /// the proof's expiry and the end of the signed request's validity.
    pub expires_at: i64,
}

/// The outcome of taking one use of a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofUse {
    /// One use taken; this many are left.
    Used {
        /// Uses left after this one.
        left: u32,
    },
    /// The proof is known but has no use left.
    Exhausted,
    /// No live record of that proof minted from that request: never
    /// minted here, minted from another request, or expired and purged.
    Unknown,
}
