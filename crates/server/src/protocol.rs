//! Request and response shapes of the AWS KMS JSON 1.1 protocol (the
//! operations Strongroom serves), with base64 blobs and epoch timestamps.
//! Field names are the AWS API's (PascalCase on the wire); see the AWS KMS
//! API reference for each field's meaning.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use strongroom_store::{EncryptionAlgorithm, KeySpec, KeyUsage, MacAlgorithm, Origin, Tag};
use zeroize::Zeroizing;

/// A base64 blob in JSON (ciphertexts: not secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

/// A base64 blob holding a secret (plaintexts, data keys): zeroized on drop.
pub struct SecretBlob(pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBlob(<{} bytes redacted>)", self.0.len())
    }
}

/// Decodes a base64 string straight from the request buffer (or the
/// parser's scratch space): no intermediate `String` copy of a secret is
/// made, and one the deserializer hands over owned is zeroized.
struct Base64Visitor;

impl<'de> serde::de::Visitor<'de> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        STANDARD
            .decode(v.as_bytes())
            .map_err(|_| E::custom("blob is not valid base64"))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Vec<u8>, E> {
        let v = Zeroizing::new(v);
        self.visit_str(&v)
    }
}

fn decode_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_str(Base64Visitor)
}

/// Counts bytes written, to size a buffer before serializing into it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// JSON of a response that may hold secrets, in a buffer sized exactly
/// first, so no reallocation leaves a copy of them behind in freed memory
/// (the caller zeroizes the buffer itself once it is sent).
pub fn to_json_exact<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value)?;
    let mut out = Vec::with_capacity(counter.0);
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decode_b64(d).map(Blob)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        decode_b64(d).map(|v| SecretBlob(Zeroizing::new(v)))
    }
}

impl Serialize for SecretBlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let encoded = Zeroizing::new(STANDARD.encode(&*self.0));
        s.serialize_str(&encoded)
    }
}

/// An encryption context as sent.
pub type EncryptionContext = BTreeMap<String, String>;

/// `KeyMetadata` as AWS returns it (field names as in the AWS API).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: f64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: KeyUsage,
    pub key_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    pub origin: Origin,
    pub key_manager: &'static str,
    pub customer_master_key_spec: KeySpec,
    pub key_spec: KeySpec,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption_algorithms: Vec<EncryptionAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mac_algorithms: Vec<MacAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_agreement_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    /// Extension: the key's material was returned in clear once.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exposed: bool,
    /// Extension: `VOLATILE` for keys kept only in module memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<&'static str>,
    /// Extension: the module group (`KEY=VALUE`) the key is pinned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_group: Option<String>,
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
}

/// `MultiRegionConfiguration` of a multi-Region key's metadata.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionConfiguration {
    /// `PRIMARY` or `REPLICA`.
    pub multi_region_key_type: &'static str,
    pub primary_key: MultiRegionKey,
    pub replica_keys: Vec<MultiRegionKey>,
}

/// One region's copy of a multi-Region key.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionKey {
    pub arn: String,
    pub region: String,
}

/// CreateKey input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateKeyRequest {
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub origin: Option<String>,
    pub policy: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub multi_region: Option<bool>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub xks_key_id: Option<String>,
    /// Extension: return the key material once, in clear (an exposed key).
    pub expose_key_material: Option<bool>,
    /// Extension: `DURABLE` (default) or `VOLATILE` (module memory only).
    pub storage_class: Option<String>,
    /// Extension: serve the key only on modules tagged `KEY=VALUE`.
    pub module_group: Option<String>,
    /// Extension: the RSA public key (DER SPKI) SuspendKey will wrap this
    /// key to, bound into its material by the module for good (changed
    /// only by UpdateSuspensionOwner, signed by this key's holder).
    pub suspension_owner_public_key: Option<Blob>,
}

/// CreateKey and DescribeKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataResponse {
    pub key_metadata: KeyMetadata,
    /// Extension: an exposed key's material, in the CreateKey answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material: Option<SecretBlob>,
}

/// Input of operations that take only a KeyId (DescribeKey, EnableKey, DisableKey, CancelKeyDeletion).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyIdRequest {
    pub key_id: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
}

/// ListKeys and ListAliases input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListRequest {
    pub limit: Option<i64>,
    pub marker: Option<String>,
    pub key_id: Option<String>,
}

/// One ListKeys entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}

/// ListKeys output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    pub keys: Vec<KeyListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

/// UpdateKeyDescription input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateKeyDescriptionRequest {
    pub key_id: Option<String>,
    pub description: Option<String>,
}

/// ScheduleKeyDeletion input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScheduleKeyDeletionRequest {
    pub key_id: Option<String>,
    pub pending_window_in_days: Option<i64>,
}

/// ScheduleKeyDeletion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    pub key_id: String,
    pub deletion_date: f64,
    pub key_state: &'static str,
    pub pending_window_in_days: u32,
}

/// CancelKeyDeletion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdResponse {
    pub key_id: String,
}

/// CreateAlias, UpdateAlias and DeleteAlias input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct AliasRequest {
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
}

/// One ListAliases entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date: f64,
    pub last_updated_date: f64,
}

/// ListAliases output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    pub aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

/// Encrypt input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EncryptRequest {
    pub key_id: Option<String>,
    pub plaintext: Option<SecretBlob>,
    pub encryption_context: Option<EncryptionContext>,
    pub grant_tokens: Option<Vec<String>>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

/// Encrypt output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    pub ciphertext_blob: Blob,
    pub key_id: String,
    pub encryption_algorithm: EncryptionAlgorithm,
}

/// Decrypt input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct DecryptRequest {
    pub ciphertext_blob: Option<Blob>,
    pub encryption_context: Option<EncryptionContext>,
    pub grant_tokens: Option<Vec<String>>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// Decrypt output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    pub key_id: String,
    pub plaintext: SecretBlob,
    pub encryption_algorithm: EncryptionAlgorithm,
}

/// ReEncrypt input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReEncryptRequest {
    pub ciphertext_blob: Option<Blob>,
    pub source_encryption_context: Option<EncryptionContext>,
    pub source_key_id: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: Option<EncryptionContext>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

/// ReEncrypt output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    pub ciphertext_blob: Blob,
    pub source_key_id: String,
    pub key_id: String,
    pub source_encryption_algorithm: EncryptionAlgorithm,
    pub destination_encryption_algorithm: EncryptionAlgorithm,
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyRequest {
    pub key_id: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// GenerateDataKey output (no plaintext for ...WithoutPlaintext).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    pub ciphertext_blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<SecretBlob>,
    pub key_id: String,
}

/// GenerateRandom input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateRandomRequest {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
    pub recipient: Option<serde_json::Value>,
}

/// GenerateRandom output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomResponse {
    pub plaintext: SecretBlob,
}

/// An empty JSON object, for operations that return nothing.
#[derive(Debug, Serialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_decode_and_reject_bad_base64() {
        let r: EncryptRequest =
            serde_json::from_str(r#"{"KeyId":"k","Plaintext":"aGk="}"#).unwrap();
        assert_eq!(&r.plaintext.unwrap().0[..], b"hi");
        assert!(serde_json::from_str::<EncryptRequest>(r#"{"Plaintext":"!!!"}"#).is_err());
        assert!(serde_json::from_str::<EncryptRequest>(r#"{"Plaintext":5}"#).is_err());
        let e = serde_json::to_string(&GenerateRandomResponse {
            plaintext: SecretBlob(Zeroizing::new(vec![1, 2])),
        })
        .unwrap();
        assert_eq!(e, r#"{"Plaintext":"AQI="}"#);
        assert_eq!(
            format!("{:?}", SecretBlob(Zeroizing::new(vec![9; 3]))),
            "SecretBlob(<3 bytes redacted>)"
        );
        // Escaped JSON strings (owned by the parser) decode too.
        let r: EncryptRequest = serde_json::from_str(r#"{"Plaintext":"aGk\u003d"}"#).unwrap();
        assert_eq!(&r.plaintext.unwrap().0[..], b"hi");
    }

    #[test]
    fn secret_responses_are_encoded_without_reallocation() {
        let r = GenerateRandomResponse {
            plaintext: SecretBlob(Zeroizing::new(vec![7; 1000])),
        };
        let out = to_json_exact(&r).unwrap();
        assert_eq!(out.len(), out.capacity());
        assert_eq!(out, serde_json::to_vec(&r).unwrap());
    }
}
