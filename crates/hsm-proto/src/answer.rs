//! Typed answers: each module request has one answer shape, and
//! `Response::into_*` takes it out of a [`Response`]. Any other answer is
//! a wrong answer, turned into one error here ([`unexpected`]) and nowhere
//! else.

use zeroize::Zeroizing;

use crate::admin::{
    AttestationReport, DomainSummary, DomainToken, LogInfo, ModuleStatus, ShredStatement,
};
use crate::xks::XksSealed;
use crate::{AuditSealKey, DataKey, Ekt, HsmError, KeyRef, Response, SigningKey, TransientEkt};

/// The one error for a module answer of the wrong shape for its request (a
/// module bug or a protocol mismatch, never the caller's doing).
pub(crate) fn unexpected(r: &Response) -> HsmError {
    HsmError::Internal(format!("unexpected module response {}", variant(r)))
}

/// GenerateDataKeyPair's answer.
pub struct GeneratedKeyPair {
    /// The private key as PKCS#8, in clear, when asked for.
    pub private_plaintext: Option<Zeroizing<Vec<u8>>>,
    /// The private key sealed under the key (a ciphertext blob).
    pub private_ciphertext: Vec<u8>,
    /// The public key, DER SPKI.
    pub public_key: Vec<u8>,
}

/// `Response::$name` returns the answer `$pat` binds as `$out`, and
/// [`unexpected`] for anything else.
macro_rules! answers {
    ($($(#[$doc:meta])* $name:ident -> $ty:ty { $pat:pat => $out:expr })*) => {
        impl Response {
            $(
                $(#[$doc])*
                pub fn $name(self) -> Result<$ty, HsmError> {
                    match self {
                        $pat => Ok($out),
                        other => Err(unexpected(&other)),
                    }
                }
            )*
        }
    };
}

answers! {
    /// The EKT of GenerateBackingKey, GenerateOwnedBackingKey, RotateBackingKey.
    into_ekt -> Ekt { Response::Ekt(e) => e }
    /// The ciphertext of Encrypt, ReEncrypt, AsymmetricEncrypt.
    into_ciphertext -> Vec<u8> { Response::Ciphertext(c) => c }
    /// The opened version and plaintext of Decrypt, AsymmetricDecrypt,
    /// DeriveSharedSecret, XksDecrypt.
    into_plaintext -> (KeyRef, Zeroizing<Vec<u8>>) {
        Response::Plaintext { key, plaintext } => (key, plaintext)
    }
    /// The data key of GenerateDataKey, DeriveKey, RevealDerivedKey.
    into_data_key -> DataKey { Response::DataKey(d) => d }
    /// GenerateRandom's bytes.
    into_random -> Vec<u8> { Response::Random(b) => b }
    /// SealCredential's sealed secret.
    into_sealed_credential -> Vec<u8> { Response::SealedCredential(s) => s }
    /// DeriveSigV4Key's signing key.
    into_signing_key -> SigningKey { Response::SigningKey(k) => k }
    /// The answer of a request that returns nothing (ForgetKey, IngestDomain, ...).
    into_done -> () { Response::Done => () }
    /// Status's report.
    into_status -> Box<ModuleStatus> { Response::Status(s) => s }
    /// A domain token (GetDomainToken, domain commands).
    into_domain_token -> DomainToken { Response::DomainToken(t) => t }
    /// ListDomains's summaries.
    into_domains -> Vec<DomainSummary> { Response::Domains(d) => d }
    /// Attest's report.
    into_attestation -> AttestationReport { Response::Attestation(r) => r }
    /// ListLogs's (and DescribeLog's) log descriptions.
    into_logs -> Vec<LogInfo> { Response::Logs(l) => l }
    /// GetLog's bytes.
    into_log_bytes -> Vec<u8> { Response::LogBytes(b) => b }
    /// RewrapKeys's EKTs.
    into_ekts -> Vec<Ekt> { Response::Ekts(e) => e }
    /// RewrapCredentials's sealed credentials.
    into_sealed_credentials -> Vec<Vec<u8>> { Response::SealedCredentials(s) => s }
    /// GenerateMac's MAC.
    into_mac -> Vec<u8> { Response::Mac(m) => m }
    /// Whether VerifyMac's MAC or Verify's signature is valid.
    into_valid -> bool { Response::Valid(v) => v }
    /// Sign's signature.
    into_signature -> Vec<u8> { Response::Signature(s) => s }
    /// GetPublicKey's DER SPKI.
    into_public_key -> Vec<u8> { Response::PublicKey(k) => k }
    /// GenerateExposedKey's EKT and material in clear.
    into_exposed_key -> (Ekt, Zeroizing<Vec<u8>>) {
        Response::ExposedKey { ekt, material } => (ekt, material)
    }
    /// ShredKey's signed statement.
    into_shredded -> ShredStatement { Response::Shredded(s) => s }
    /// SuspendKey's owner blob and its fingerprint.
    into_suspended -> (Vec<u8>, Vec<u8>) {
        Response::Suspended { blob, fingerprint } => (blob, fingerprint)
    }
    /// Every version sealed again (ReinstateKey, UpdateSuspensionOwner).
    into_reinstated -> Vec<(KeyRef, Ekt)> { Response::Reinstated(v) => v }
    /// PrepareImport's wrapping public key and import token.
    into_import_parameters -> (Vec<u8>, Vec<u8>) {
        Response::ImportParameters { public_key, import_token } => (public_key, import_token)
    }
    /// ImportKeyMaterial's EKT and material fingerprint.
    into_imported -> (Ekt, Vec<u8>) {
        Response::Imported { ekt, fingerprint } => (ekt, fingerprint)
    }
    /// GenerateDataKeyPair's pair.
    into_data_key_pair -> GeneratedKeyPair {
        Response::DataKeyPair { private_plaintext, private_ciphertext, public_key } =>
            GeneratedKeyPair { private_plaintext, private_ciphertext, public_key }
    }
    /// GenerateVolatileKey's transient EKT.
    into_transient_ekt -> TransientEkt { Response::TransientEkt(e) => e }
    /// SignAuditSeal's key and signature.
    into_audit_seal -> (AuditSealKey, Vec<u8>) {
        Response::AuditSeal { key, signature } => (key, signature)
    }
    /// AuditSealKeys's public keys.
    into_audit_seal_keys -> Vec<AuditSealKey> { Response::AuditSealKeys(k) => k }
    /// XksEncrypt's sealed text and its integrity value, if asked for.
    into_xks_sealed -> (XksSealed, Option<[u8; 32]>) {
        Response::XksSealed { sealed, cdiv } => (sealed, cdiv)
    }
}

/// The name of `r`'s variant, for the error (never its contents).
fn variant(r: &Response) -> &'static str {
    match r {
        Response::Ekt(_) => "Ekt",
        Response::Ciphertext(_) => "Ciphertext",
        Response::Plaintext { .. } => "Plaintext",
        Response::DataKey(_) => "DataKey",
        Response::Random(_) => "Random",
        Response::SealedCredential(_) => "SealedCredential",
        Response::SigningKey(_) => "SigningKey",
        Response::Done => "Done",
        Response::Status(_) => "Status",
        Response::DomainToken(_) => "DomainToken",
        Response::Domains(_) => "Domains",
        Response::Attestation(_) => "Attestation",
        Response::Logs(_) => "Logs",
        Response::LogBytes(_) => "LogBytes",
        Response::Ekts(_) => "Ekts",
        Response::SealedCredentials(_) => "SealedCredentials",
        Response::Mac(_) => "Mac",
        Response::Valid(_) => "Valid",
        Response::Signature(_) => "Signature",
        Response::PublicKey(_) => "PublicKey",
        Response::DataKeyPair { .. } => "DataKeyPair",
        Response::ImportParameters { .. } => "ImportParameters",
        Response::Imported { .. } => "Imported",
        Response::Shredded(_) => "Shredded",
        Response::ExposedKey { .. } => "ExposedKey",
        Response::Suspended { .. } => "Suspended",
        Response::Reinstated(_) => "Reinstated",
        Response::TransientEkt(_) => "TransientEkt",
        Response::AuditSeal { .. } => "AuditSeal",
        Response::AuditSealKeys(_) => "AuditSealKeys",
        Response::XksSealed { .. } => "XksSealed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_answer_comes_out_typed() {
        let sig = Response::Signature(vec![1, 2]).into_signature();
        assert_eq!(sig.ok(), Some(vec![1, 2]));
        assert!(matches!(Response::Done.into_done(), Ok(())));
    }

    #[test]
    fn a_wrong_answer_is_one_internal_error_naming_only_the_variant() {
        let key = KeyRef {
            key_id: uuid::Uuid::nil(),
            version: 1,
        };
        let wrong = Response::Plaintext {
            key,
            plaintext: Zeroizing::new(b"top secret".to_vec()),
        };
        let Err(e) = wrong.into_ciphertext() else {
            panic!("a plaintext taken for a ciphertext");
        };
        assert!(
            matches!(&e, HsmError::Internal(m) if m == "unexpected module response Plaintext"),
            "{e}"
        );
        assert!(!e.to_string().contains("top secret"));
        assert!(matches!(
            Response::Done.into_data_key_pair(),
            Err(HsmError::Internal(_))
        ));
    }
}
