//! GetKeyMetadata, Encrypt and Decrypt for an external key store. Each is
//! authorized as the KMS operation it stands for (kms:DescribeKey,
//! kms:Encrypt, kms:Decrypt) on behalf of the key store's principal, by the
//! key's policy and grants, through the processor's `resolve`: the only way
//! to an `AuthorizedKey`, and so to the key's EKT and the module.

use strongroom_hsm_proto::xks::XksMetadata;
use strongroom_hsm_proto::{Ekt, KeyRef};
use strongroom_store::{KeyRecord, KeySpec, KeyState, KeyUsage};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::error::XksError;
use super::wire::{
    DecryptInput, EncryptInput, EncryptResponse, MetadataResponse, RequestMetadata, b64,
};
use crate::auth::Caller;
use crate::authz::operations::{self, Operation};
use crate::authz::{AuditFacts, RequestCtx, RequestMeta};
use crate::processor::{AuthorizedKey, Processor};

/// The row of the operation table an XKS API is authorized as.
fn row(name: &str) -> &'static Operation {
    operations::find(crate::ops::OPERATIONS, name).expect("the operation table has this row")
}

/// The KeyId `resolve` takes for an external key id: a key id as it is, any
/// other name as an alias of the key store's account.
fn key_id_param(external: &str) -> Option<String> {
    Some(match Uuid::parse_str(external) {
        Ok(_) => external.to_owned(),
        Err(_) => format!("alias/{external}"),
    })
}

/// A request context for `operation` by the key store, with the AWS-side
/// request metadata as condition values (docs/xks.md) for key policies
/// that authorize on them.
fn request_ctx<'a>(
    caller: &'a Caller,
    meta: RequestMeta,
    operation: &str,
    xks: &RequestMetadata,
) -> RequestCtx<'a> {
    let mut rq = RequestCtx::new(caller, meta, row(operation));
    for (name, value) in [
        ("strongroom:XksAwsPrincipalArn", &xks.aws_principal_arn),
        ("strongroom:XksKmsKeyArn", &xks.kms_key_arn),
        ("strongroom:XksKmsOperation", &xks.kms_operation),
        ("strongroom:XksViaService", &xks.kms_via_service),
        ("strongroom:XksSourceVpc", &xks.aws_source_vpc),
        ("strongroom:XksSourceVpce", &xks.aws_source_vpce),
    ] {
        if let Some(v) = value {
            rq.note(name, vec![v.clone()]);
        }
    }
    rq
}

/// The key's spec as XKS names it.
fn key_spec(key: &KeyRecord) -> String {
    match key.key_spec {
        KeySpec::SymmetricDefault => "AES_256".into(),
        other => other.to_string(),
    }
}

fn is_xks_key(key: &KeyRecord) -> bool {
    key.key_spec == KeySpec::SymmetricDefault && key.key_usage == KeyUsage::EncryptDecrypt
}

fn require_xks_key(p: &Processor, key: &KeyRecord) -> Result<(), XksError> {
    if is_xks_key(key) {
        return Ok(());
    }
    Err(XksError::InvalidKeyUsage(format!(
        "{} is a {} key for {}: only symmetric ENCRYPT_DECRYPT keys serve an external key store.",
        p.key_arn(key),
        key.key_spec,
        key.key_usage
    )))
}

impl Processor {
    /// Resolves and authorizes the external key for `rq`'s operation.
    async fn xks_key(
        &self,
        rq: &mut RequestCtx<'_>,
        external: &str,
    ) -> Result<AuthorizedKey, XksError> {
        self.resolve(rq, &key_id_param(external), true)
            .await
            .map_err(|e| match XksError::from(e) {
                // A name that parses as no key id or alias is no key.
                XksError::Validation(m) => XksError::KeyNotFound(m),
                other => other,
            })
    }

    /// Whether the key store may do `operation` on `key` (for `keyUsage`).
    async fn xks_may(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        operation: &str,
        xks: &RequestMetadata,
        key: &KeyRecord,
        arn: &str,
    ) -> Result<bool, XksError> {
        let rq = request_ctx(caller, meta, operation, xks);
        let grants = self.grants_of(key.id).await?;
        Ok(crate::authz::authorize(&self.policies, &rq, key, arn, &grants).is_ok())
    }

    /// GetKeyMetadata: authorized as kms:DescribeKey; `keyUsage` lists what
    /// the key store may do with the key now.
    pub(crate) async fn xks_metadata(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        external: &str,
        xks: &RequestMetadata,
        facts: &mut AuditFacts,
    ) -> Result<MetadataResponse, XksError> {
        let mut rq = request_ctx(caller, meta, "DescribeKey", xks);
        let key = self.xks_key(&mut rq, external).await;
        *facts = rq.into_audit();
        let key = key?;
        let mut usage = Vec::with_capacity(2);
        if is_xks_key(&key) {
            for (op, name) in [("Encrypt", "ENCRYPT"), ("Decrypt", "DECRYPT")] {
                if self.xks_may(caller, meta, op, xks, &key, key.arn()).await? {
                    usage.push(name);
                }
            }
        }
        let usable = key.state == KeyState::Enabled && self.require_usable("Encrypt", &key).is_ok();
        Ok(MetadataResponse {
            key_spec: key_spec(&key),
            key_usage: usage,
            key_status: if usable { "ENABLED" } else { "DISABLED" },
        })
    }

    /// Encrypt: authorized as kms:Encrypt; sealed by the module under the
    /// key's current version.
    pub(crate) async fn xks_encrypt(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        external: &str,
        input: EncryptInput,
        facts: &mut AuditFacts,
    ) -> Result<EncryptResponse, XksError> {
        let mut rq = request_ctx(caller, meta, "Encrypt", &input.meta);
        let key = self.xks_key(&mut rq, external).await;
        *facts = rq.into_audit();
        let key = key?;
        require_xks_key(self, &key)?;
        self.require_usable("Encrypt", &key)?;
        let (version, ekt) = self.current_ekt(&key).await?;
        let (sealed, cdiv) = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key).xks_encrypt(
                    version,
                    ekt,
                    input.plaintext.clone(),
                    input.aad.clone(),
                    input.with_cdiv,
                )
            })
            .await?;
        if input.with_cdiv != cdiv.is_some() {
            return Err(XksError::Internal(
                "the module did not answer the integrity value asked for".into(),
            ));
        }
        Ok(EncryptResponse {
            ciphertext: b64(&sealed.ciphertext),
            ciphertext_metadata: b64(&sealed.metadata),
            initialization_vector: b64(&sealed.iv),
            authentication_tag: b64(&sealed.tag),
            ciphertext_data_integrity_value: cdiv.map(|c| b64(&c)),
        })
    }

    /// Decrypt: authorized as kms:Decrypt; opened by the module with the
    /// version the ciphertext metadata names.
    pub(crate) async fn xks_decrypt(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        external: &str,
        input: DecryptInput,
        facts: &mut AuditFacts,
    ) -> Result<Zeroizing<Vec<u8>>, XksError> {
        let mut rq = request_ctx(caller, meta, "Decrypt", &input.meta);
        let key = self.xks_key(&mut rq, external).await;
        *facts = rq.into_audit();
        let key = key?;
        require_xks_key(self, &key)?;
        self.require_usable("Decrypt", &key)?;
        // Not Strongroom's metadata, or a version the key never had: no
        // module could open it.
        let m = XksMetadata::parse(&input.sealed.metadata).ok_or(XksError::InvalidCiphertext)?;
        if m.version > key.current_version {
            return Err(XksError::InvalidCiphertext);
        }
        let version = KeyRef {
            key_id: key.id,
            version: m.version,
        };
        let ekt = if key.volatile {
            Ekt(Vec::new())
        } else {
            self.ekt(&key, version)
                .await?
                .ok_or(XksError::InvalidCiphertext)?
        };
        let (opened, plaintext) = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .xks_decrypt(version, ekt, input.sealed.clone(), input.aad.clone())
            })
            .await?;
        if opened != version {
            return Err(XksError::Internal(
                "the module opened another version than the metadata names".into(),
            ));
        }
        Ok(plaintext)
    }
}
