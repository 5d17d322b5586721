//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom. The work itself happens
//! in the security module; this layer checks parameters, resolves keys and
//! key state, and picks the EKT.

use strongroom_hsm_proto::ciphertext::CiphertextHeader;
use strongroom_hsm_proto::{Ekt, KeyRef, Request};
use strongroom_store::{EncryptionAlgorithm, KeyRecord, KeyUsage};
use zeroize::Zeroizing;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::{AuthorizedKey, Processor, context_bytes};
use crate::protocol::*;
use crate::validate::{self, Constraint, shapes};

const SYMMETRIC_DEFAULT: EncryptionAlgorithm = EncryptionAlgorithm::SymmetricDefault;

/// Parses an `EncryptionAlgorithm` (default SYMMETRIC_DEFAULT), refusing
/// the ones Strongroom does not serve. Whether it fits the key is checked
/// once the key is known.
pub(crate) fn check_algorithm(alg: &Option<String>) -> Result<EncryptionAlgorithm, KmsError> {
    let parsed = validate::enum_member(
        alg.as_deref(),
        "encryptionAlgorithm",
        shapes::ENCRYPTION_ALGORITHM,
    )?;
    match parsed.unwrap_or(SYMMETRIC_DEFAULT) {
        EncryptionAlgorithm::Sm2Pke => Err(KmsError::UnsupportedOperation(
            "EncryptionAlgorithm SM2PKE is not supported; supported: SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256.".into(),
        )),
        served => Ok(served),
    }
}

/// A symmetric key is used with SYMMETRIC_DEFAULT only.
fn require_symmetric_algorithm(
    p: &Processor,
    key: &KeyRecord,
    alg: EncryptionAlgorithm,
) -> Result<(), KmsError> {
    if alg != SYMMETRIC_DEFAULT {
        return Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {alg} is not compatible with the key spec {} of {}.",
            key.key_spec,
            p.key_arn(key)
        )));
    }
    Ok(())
}

/// The key encrypts and decrypts (not an HMAC or signing key).
pub(crate) fn require_encryption_key(p: &Processor, key: &KeyRecord) -> Result<(), KmsError> {
    if key.key_usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for this operation.",
            p.key_arn(key),
            key.key_usage
        )));
    }
    Ok(())
}

fn no_recipient(r: &Option<serde_json::Value>) -> Result<(), KmsError> {
    match r {
        Some(v) if !v.is_null() => Err(KmsError::UnsupportedOperation(
            "Recipient (attested enclaves) is not supported.".into(),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn dry_run(flag: Option<bool>) -> Result<(), KmsError> {
    if flag == Some(true) {
        Err(KmsError::DryRun)
    } else {
        Ok(())
    }
}

/// The CiphertextBlob Decrypt and ReEncrypt need (its length is checked
/// with the request, `validate`).
fn ciphertext_param(blob: &Option<Blob>) -> Result<&[u8], KmsError> {
    Ok(&blob
        .as_ref()
        .ok_or_else(|| validate::null("ciphertextBlob"))?
        .0)
}

fn data_key_length(
    number_of_bytes: Option<i64>,
    key_spec: &Option<String>,
) -> Result<u16, KmsError> {
    match (number_of_bytes, key_spec.as_deref()) {
        // AWS's words for both (as moto, which copies them, has them).
        (Some(_), Some(_)) | (None, None) => Err(KmsError::Validation(
            "Please specify either number of bytes or key spec.".into(),
        )),
        (Some(n), None) => bytes_in_range(n),
        (None, Some("AES_256")) => Ok(32),
        (None, Some("AES_128")) => Ok(16),
        (None, Some(s)) => Err(validate::error(
            "keySpec",
            Some(s.to_owned()),
            Constraint::Enum(shapes::DATA_KEY_SPEC),
        )),
    }
}

/// A `NumberOfBytes` in the model's range.
fn bytes_in_range(n: i64) -> Result<u16, KmsError> {
    let range = &shapes::NUMBER_OF_BYTES;
    if n < range.min {
        return Err(validate::error(
            "numberOfBytes",
            Some(n.to_string()),
            Constraint::MinValue(range.min),
        ));
    }
    if n > range.max {
        return Err(validate::error(
            "numberOfBytes",
            Some(n.to_string()),
            Constraint::MaxValue(range.max),
        ));
    }
    Ok(n as u16)
}

/// A ciphertext's key, checked against the caller and an optional KeyId.
struct SourceKey {
    key: AuthorizedKey,
    version: KeyRef,
    ekt: Ekt,
}

impl Processor {
    async fn source_key(
        &self,
        rq: &mut RequestCtx<'_>,
        blob: &[u8],
        named: &Option<String>,
    ) -> Result<SourceKey, KmsError> {
        let header = CiphertextHeader::parse(blob)
            .map_err(|_| KmsError::InvalidCiphertext(String::new()))?;
        if let Some(name) = named.as_deref().filter(|s| !s.is_empty()) {
            let wanted = self.resolve(rq, &Some(name.to_owned()), true).await?;
            if wanted.material_id() != header.key.key_id {
                return Err(KmsError::IncorrectKey(
                    "The key ID in the request does not identify a KMS key that can perform this operation.".into(),
                ));
            }
        }
        let key = self.resolve_ciphertext_key(rq, header.key.key_id).await?;
        require_encryption_key(self, &key)?;
        self.require_usable(rq.operation().name, &key)?;
        let ekt = if key.volatile {
            Ekt(Vec::new())
        } else {
            self.ekt(&key, header.key)
                .await?
                .ok_or_else(|| KmsError::InvalidCiphertext(String::new()))?
        };
        Ok(SourceKey {
            key,
            version: header.key,
            ekt,
        })
    }

    pub(crate) async fn encrypt(
        &self,
        rq: &mut RequestCtx<'_>,
        req: EncryptRequest,
    ) -> Result<EncryptResponse, KmsError> {
        let plaintext = req.plaintext.ok_or_else(|| validate::null("plaintext"))?;
        let algorithm = check_algorithm(&req.encryption_algorithm)?;
        let context = context_bytes(&req.encryption_context)?;
        rq.note_context(&req.encryption_context)?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        require_encryption_key(self, &key)?;
        if crate::ops::asymmetric::is_asymmetric(&key) {
            return self
                .asymmetric_encrypt(
                    &key,
                    plaintext,
                    algorithm,
                    &req.encryption_context,
                    req.dry_run,
                )
                .await;
        }
        require_symmetric_algorithm(self, &key, algorithm)?;
        self.require_usable(rq.operation().name, &key)?;
        dry_run(req.dry_run)?;
        let (version, ekt) = self.current_ekt(&key).await?;
        let blob = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .encrypt(version, ekt, plaintext.0.clone(), context.clone())
            })
            .await?;
        Ok(EncryptResponse {
            ciphertext_blob: Blob(blob),
            key_id: self.key_arn(&key),
            encryption_algorithm: SYMMETRIC_DEFAULT,
        })
    }

    pub(crate) async fn decrypt(
        &self,
        rq: &mut RequestCtx<'_>,
        req: DecryptRequest,
    ) -> Result<DecryptResponse, KmsError> {
        let blob = ciphertext_param(&req.ciphertext_blob)?;
        let algorithm = check_algorithm(&req.encryption_algorithm)?;
        no_recipient(&req.recipient)?;
        let context = context_bytes(&req.encryption_context)?;
        rq.note_context(&req.encryption_context)?;
        if let Some(key) = self.named_asymmetric_key(rq, &req.key_id).await? {
            return self
                .asymmetric_decrypt(&key, blob, algorithm, &req.encryption_context, req.dry_run)
                .await;
        }
        if algorithm != SYMMETRIC_DEFAULT {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{algorithm} needs the KeyId of an RSA key with ENCRYPT_DECRYPT usage."
            )));
        }
        let src = self.source_key(rq, blob, &req.key_id).await?;
        dry_run(req.dry_run)?;
        let (opened, plaintext) = self
            .with_ekt(&src.key, src.version, src.ekt.clone(), |ekt| {
                self.module(&src.key)
                    .decrypt(ekt, blob.to_vec(), context.clone())
            })
            .await?;
        if opened != src.version {
            return Err(KmsError::Internal(
                "module opened a different key version".into(),
            ));
        }
        Ok(DecryptResponse {
            key_id: self.key_arn(&src.key),
            plaintext: SecretBlob(plaintext),
            encryption_algorithm: SYMMETRIC_DEFAULT,
        })
    }

    pub(crate) async fn re_encrypt(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ReEncryptRequest,
    ) -> Result<ReEncryptResponse, KmsError> {
        let blob = ciphertext_param(&req.ciphertext_blob)?;
        for alg in [
            &req.source_encryption_algorithm,
            &req.destination_encryption_algorithm,
        ] {
            if check_algorithm(alg)? != SYMMETRIC_DEFAULT {
                return Err(KmsError::UnsupportedOperation(
                    "ReEncrypt with asymmetric keys is not supported yet.".into(),
                ));
            }
        }
        let source_context = context_bytes(&req.source_encryption_context)?;
        let destination_context = context_bytes(&req.destination_encryption_context)?;
        // Each half is authorized with its own action, its own context and
        // its own key's grants: neither sees the other's context keys.
        let mut from = rq.half("kms:ReEncryptFrom", &req.source_encryption_context)?;
        let src = self.source_key(&mut from, blob, &req.source_key_id).await;
        rq.absorb(from);
        let src = src?;
        let mut to = rq.half("kms:ReEncryptTo", &req.destination_encryption_context)?;
        let dest = self.resolve(&mut to, &req.destination_key_id, true).await;
        rq.absorb(to);
        let dest = dest?;
        require_encryption_key(self, &dest)?;
        if crate::ops::asymmetric::is_asymmetric(&dest)
            || crate::ops::asymmetric::is_asymmetric(&src.key)
        {
            return Err(KmsError::UnsupportedOperation(
                "ReEncrypt with asymmetric keys is not supported yet.".into(),
            ));
        }
        self.require_usable(rq.operation().name, &dest)?;
        dry_run(req.dry_run)?;
        let contexts = (source_context, destination_context);
        let out = self
            .re_encrypt_in_module(&src, &dest, blob, contexts)
            .await?;
        Ok(ReEncryptResponse {
            ciphertext_blob: Blob(out),
            source_key_id: self.key_arn(&src.key),
            key_id: self.key_arn(&dest),
            source_encryption_algorithm: SYMMETRIC_DEFAULT,
            destination_encryption_algorithm: SYMMETRIC_DEFAULT,
        })
    }

    /// The module's ReEncrypt from `src` to `dest`'s current version,
    /// retried once with fresh EKTs if a domain-key generation they were
    /// sealed under is gone.
    async fn re_encrypt_in_module(
        &self,
        src: &SourceKey,
        dest: &AuthorizedKey,
        blob: &[u8],
        (source_context, destination_context): (Vec<u8>, Vec<u8>),
    ) -> Result<Vec<u8>, KmsError> {
        let (dest_version, dest_ekt) = self.current_ekt(dest).await?;
        let request = |source_ekt, destination_ekt| Request::ReEncrypt {
            source_ekt,
            ciphertext: blob.to_vec(),
            source_context: source_context.clone(),
            destination: dest_version,
            destination_ekt,
            destination_context: destination_context.clone(),
        };
        let module = self.module(dest);
        match module.re_encrypt(request(src.ekt.clone(), dest_ekt)).await {
            Err(strongroom_hsm_proto::HsmError::NoDomainKey(_)) => {
                self.forget_ekts(&[(&src.key, src.version), (dest, dest_version)]);
                let missing = || KmsError::Internal("key material disappeared".into());
                let s = self.ekt(&src.key, src.version).await?.ok_or_else(missing)?;
                let d = self.ekt(dest, dest_version).await?.ok_or_else(missing)?;
                Ok(module.re_encrypt(request(s, d)).await?)
            }
            r => Ok(r?),
        }
    }

    pub(crate) async fn generate_data_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GenerateDataKeyRequest,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        let length = data_key_length(req.number_of_bytes, &req.key_spec)?;
        no_recipient(&req.recipient)?;
        let context = context_bytes(&req.encryption_context)?;
        rq.note_context(&req.encryption_context)?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        require_encryption_key(self, &key)?;
        if crate::ops::asymmetric::is_asymmetric(&key) {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} is asymmetric: data keys need a symmetric key.",
                self.key_arn(&key)
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        dry_run(req.dry_run)?;
        let (version, ekt) = self.current_ekt(&key).await?;
        let dk = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key).generate_data_key(
                    version,
                    ekt,
                    context.clone(),
                    length,
                    with_plaintext,
                )
            })
            .await?;
        Ok(GenerateDataKeyResponse {
            ciphertext_blob: Blob(dk.ciphertext),
            plaintext: dk.plaintext.map(SecretBlob),
            key_id: self.key_arn(&key),
        })
    }

    pub(crate) async fn generate_random(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GenerateRandomRequest,
    ) -> Result<GenerateRandomResponse, KmsError> {
        no_recipient(&req.recipient)?;
        if req.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported.".into(),
            ));
        }
        let n = bytes_in_range(
            req.number_of_bytes
                .ok_or_else(|| validate::null("numberOfBytes"))?,
        )?;
        let bytes = self.keyless_module(rq)?.generate_random(n).await?;
        Ok(GenerateRandomResponse {
            plaintext: SecretBlob(Zeroizing::new(bytes)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_key_lengths() {
        assert_eq!(data_key_length(None, &Some("AES_256".into())).unwrap(), 32);
        assert_eq!(data_key_length(None, &Some("AES_128".into())).unwrap(), 16);
        assert_eq!(data_key_length(Some(1024), &None).unwrap(), 1024);
        for (n, s) in [
            (Some(0), None),
            (Some(1025), None),
            (None, None),
            (Some(16), Some("AES_128")),
            (None, Some("AES_512")),
        ] {
            assert!(data_key_length(n, &s.map(str::to_owned)).is_err());
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!(check_algorithm(&None).unwrap(), SYMMETRIC_DEFAULT);
        assert_eq!(
            check_algorithm(&Some("RSAES_OAEP_SHA_256".into())).unwrap(),
            EncryptionAlgorithm::RsaesOaepSha256
        );
        assert!(matches!(
            check_algorithm(&Some("SM2PKE".into())),
            Err(KmsError::UnsupportedOperation(_))
        ));
        assert!(matches!(
            check_algorithm(&Some("ROT13".into())),
            Err(KmsError::Validation(_))
        ));
    }
}
