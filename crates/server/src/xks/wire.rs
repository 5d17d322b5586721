//! The JSON of the XKS proxy API: requests parsed and checked against the
//! specification's rules (Base64 per RFC 4648 section 4, lengths), and
//! responses. Unknown fields are accepted: AWS KMS may add some (appendix B).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::xks::{IV_LEN, MAX_AAD, MAX_METADATA, MAX_PLAINTEXT, TAG_LEN, XksSealed};
use zeroize::Zeroizing;

use super::error::XksError;

/// Longest string in `requestMetadata` (ARNs: 2,048 as the specification says).
pub const MAX_METADATA_FIELD: usize = 2048;
/// Largest request body read.
pub const MAX_BODY: usize = 64 * 1024;

/// `requestMetadata`, as sent; checked by [`RequestMetadata::check`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestMetadata {
    /// The AWS principal behind the KMS call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_principal_arn: Option<String>,
    /// The VPC the KMS call came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_source_vpc: Option<String>,
    /// The VPC endpoint the KMS call came through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_source_vpce: Option<String>,
    /// The KMS key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The KMS operation (any value accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_operation: Option<String>,
    /// The KMS request id (opaque).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_request_id: Option<String>,
    /// The AWS service that called KMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_via_service: Option<String>,
}

fn missing(field: &str) -> XksError {
    XksError::Validation(format!("requestMetadata.{field} is required."))
}

impl RequestMetadata {
    /// Checks lengths and the fields the API requires: `kmsRequestId` and
    /// `kmsOperation` always; `awsPrincipalArn` for the key APIs;
    /// `kmsKeyArn` for Encrypt and Decrypt.
    pub fn check(&self, principal: bool, key_arn: bool) -> Result<(), XksError> {
        for (name, v) in [
            ("awsPrincipalArn", &self.aws_principal_arn),
            ("awsSourceVpc", &self.aws_source_vpc),
            ("awsSourceVpce", &self.aws_source_vpce),
            ("kmsKeyArn", &self.kms_key_arn),
            ("kmsOperation", &self.kms_operation),
            ("kmsRequestId", &self.kms_request_id),
            ("kmsViaService", &self.kms_via_service),
        ] {
            if v.as_ref().is_some_and(|s| s.len() > MAX_METADATA_FIELD) {
                return Err(XksError::Validation(format!(
                    "requestMetadata.{name} exceeds {MAX_METADATA_FIELD} characters."
                )));
            }
        }
        let present = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.is_empty());
        if !present(&self.kms_request_id) {
            return Err(missing("kmsRequestId"));
        }
        if !present(&self.kms_operation) {
            return Err(missing("kmsOperation"));
        }
        if principal && !present(&self.aws_principal_arn) {
            return Err(missing("awsPrincipalArn"));
        }
        if key_arn && !present(&self.kms_key_arn) {
            return Err(missing("kmsKeyArn"));
        }
        Ok(())
    }
}

/// The body of GetKeyMetadata and GetHealthStatus.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataOnlyRequest {
    /// Request metadata.
    pub request_metadata: Option<RequestMetadata>,
}

/// The body of Encrypt.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptRequest {
    /// Request metadata.
    pub request_metadata: Option<RequestMetadata>,
    /// Base64 plaintext (zeroized when dropped).
    pub plaintext: Option<Zeroizing<String>>,
    /// `AES_GCM`.
    pub encryption_algorithm: Option<String>,
    /// Base64 AAD.
    pub additional_authenticated_data: Option<String>,
    /// `SHA_256`, when a CDIV is wanted.
    pub ciphertext_data_integrity_value_algorithm: Option<String>,
}

/// The body of Decrypt.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptRequest {
    /// Request metadata.
    pub request_metadata: Option<RequestMetadata>,
    /// Base64 ciphertext.
    pub ciphertext: Option<String>,
    /// Base64 ciphertext metadata.
    pub ciphertext_metadata: Option<String>,
    /// `AES_GCM`.
    pub encryption_algorithm: Option<String>,
    /// Base64 AAD.
    pub additional_authenticated_data: Option<String>,
    /// Base64 IV.
    pub initialization_vector: Option<String>,
    /// Base64 tag.
    pub authentication_tag: Option<String>,
}

/// A checked Encrypt request.
pub struct EncryptInput {
    /// Request metadata.
    pub meta: RequestMetadata,
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The AAD (empty when absent).
    pub aad: Vec<u8>,
    /// Whether a CDIV is wanted.
    pub with_cdiv: bool,
}

/// A checked Decrypt request.
pub struct DecryptInput {
    /// Request metadata.
    pub meta: RequestMetadata,
    /// The sealed parts.
    pub sealed: XksSealed,
    /// The AAD (empty when absent).
    pub aad: Vec<u8>,
}

/// Parses a JSON object body (an array or anything else is refused).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, XksError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(XksError::Validation(
            "The request body must be a JSON object.".into(),
        ));
    }
    // serde's message names the field and problem without echoing data.
    serde_json::from_slice(body)
        .map_err(|e| XksError::Validation(format!("The request body is malformed: {e}")))
}

/// Decodes a standard Base64 field of at most `max` bytes; longer is
/// beyond what Strongroom supports (UnsupportedOperationException).
fn base64_field(name: &str, v: &str, max: usize) -> Result<Vec<u8>, XksError> {
    // Each 4 characters carry 3 bytes: refuse before decoding anything big.
    if v.len() > max.div_ceil(3) * 4 {
        return Err(XksError::UnsupportedOperation(format!(
            "{name} exceeds {max} bytes."
        )));
    }
    // Zeroized if refused: the field may be a plaintext.
    let mut b = Zeroizing::new(
        STANDARD
            .decode(v)
            .map_err(|_| XksError::Validation(format!("{name} is not valid Base64.")))?,
    );
    if b.len() > max {
        return Err(XksError::UnsupportedOperation(format!(
            "{name} exceeds {max} bytes."
        )));
    }
    Ok(std::mem::take(&mut *b))
}

fn require_aes_gcm(alg: &Option<String>) -> Result<(), XksError> {
    match alg.as_deref() {
        Some("AES_GCM") => Ok(()),
        None => Err(XksError::Validation(
            "encryptionAlgorithm is required.".into(),
        )),
        Some(_) => Err(XksError::Validation(
            "encryptionAlgorithm must be AES_GCM.".into(),
        )),
    }
}

fn aad_field(v: &Option<String>) -> Result<Vec<u8>, XksError> {
    v.as_deref()
        .map(|s| base64_field("additionalAuthenticatedData", s, MAX_AAD))
        .transpose()
        .map(Option::unwrap_or_default)
}

fn metadata(m: Option<RequestMetadata>) -> Result<RequestMetadata, XksError> {
    m.ok_or_else(|| XksError::Validation("requestMetadata is required.".into()))
}

/// Parses and checks a GetKeyMetadata (`principal`) or GetHealthStatus body.
pub fn parse_metadata_only(body: &[u8], principal: bool) -> Result<RequestMetadata, XksError> {
    let req: MetadataOnlyRequest = parse_json(body)?;
    let meta = metadata(req.request_metadata)?;
    meta.check(principal, false)?;
    Ok(meta)
}

/// Parses and checks an Encrypt body.
pub fn parse_encrypt(body: &[u8]) -> Result<EncryptInput, XksError> {
    let req: EncryptRequest = parse_json(body)?;
    let meta = metadata(req.request_metadata)?;
    meta.check(true, true)?;
    require_aes_gcm(&req.encryption_algorithm)?;
    let with_cdiv = match req.ciphertext_data_integrity_value_algorithm.as_deref() {
        None => false,
        Some("SHA_256") => true,
        Some(_) => {
            return Err(XksError::Validation(
                "ciphertextDataIntegrityValueAlgorithm must be SHA_256.".into(),
            ));
        }
    };
    let plaintext = req
        .plaintext
        .ok_or_else(|| XksError::Validation("plaintext is required.".into()))?;
    let plaintext = Zeroizing::new(base64_field("plaintext", &plaintext, MAX_PLAINTEXT)?);
    Ok(EncryptInput {
        meta,
        plaintext,
        aad: aad_field(&req.additional_authenticated_data)?,
        with_cdiv,
    })
}

/// Parses and checks a Decrypt body.
pub fn parse_decrypt(body: &[u8]) -> Result<DecryptInput, XksError> {
    let req: DecryptRequest = parse_json(body)?;
    let meta = metadata(req.request_metadata)?;
    meta.check(true, true)?;
    require_aes_gcm(&req.encryption_algorithm)?;
    let required = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| XksError::Validation(format!("{name} is required.")))
    };
    let ciphertext = base64_field(
        "ciphertext",
        &required(&req.ciphertext, "ciphertext")?,
        MAX_PLAINTEXT,
    )?;
    let iv = base64_field(
        "initializationVector",
        &required(&req.initialization_vector, "initializationVector")?,
        16,
    )?;
    if iv.len() != IV_LEN && iv.len() != 16 {
        return Err(XksError::Validation(
            "initializationVector must be 12 or 16 bytes.".into(),
        ));
    }
    let tag = base64_field(
        "authenticationTag",
        &required(&req.authentication_tag, "authenticationTag")?,
        TAG_LEN,
    )
    .map_err(|_| XksError::Validation("authenticationTag must be 16 bytes.".into()))?;
    if tag.len() != TAG_LEN {
        return Err(XksError::Validation(
            "authenticationTag must be 16 bytes.".into(),
        ));
    }
    let metadata = match req.ciphertext_metadata.as_deref() {
        None => Vec::new(),
        Some(m) => base64_field("ciphertextMetadata", m, MAX_METADATA).map_err(|_| {
            XksError::Validation("ciphertextMetadata must be Base64 of at most 20 bytes.".into())
        })?,
    };
    Ok(DecryptInput {
        meta,
        sealed: XksSealed {
            metadata,
            iv,
            ciphertext,
            tag,
        },
        aad: aad_field(&req.additional_authenticated_data)?,
    })
}

/// Base64 of bytes, as the responses carry them.
pub fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// The GetKeyMetadata answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataResponse {
    /// `AES_256` for a symmetric key.
    pub key_spec: String,
    /// `ENCRYPT` and/or `DECRYPT`, as far as the key store may.
    pub key_usage: Vec<&'static str>,
    /// `ENABLED` or `DISABLED`.
    pub key_status: &'static str,
}

/// The Encrypt answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptResponse {
    /// Base64 ciphertext.
    pub ciphertext: String,
    /// Base64 ciphertext metadata.
    pub ciphertext_metadata: String,
    /// Base64 IV.
    pub initialization_vector: String,
    /// Base64 tag.
    pub authentication_tag: String,
    /// Base64 SHA-256 CDIV, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ciphertext_data_integrity_value: Option<String>,
}

/// One module in the GetHealthStatus answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetMember {
    /// The module's name.
    pub id: String,
    /// What it is.
    pub model: String,
    /// `ACTIVE`, `DEGRADED` or `UNAVAILABLE`.
    pub health_status: &'static str,
}

/// The GetHealthStatus answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    /// XKS proxies behind this endpoint (at least 1).
    pub xks_proxy_fleet_size: u32,
    /// `Strongroom`.
    pub xks_proxy_vendor: &'static str,
    /// Product and version.
    pub xks_proxy_model: String,
    /// `Strongroom`.
    pub ekm_vendor: &'static str,
    /// 1 to 10 modules.
    pub ekm_fleet_details: Vec<FleetMember>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> &'static str {
        r#""requestMetadata":{"awsPrincipalArn":"arn:aws:iam::1:user/a","kmsKeyArn":"k","kmsOperation":"Encrypt","kmsRequestId":"r","futureField":1}"#
    }

    #[test]
    fn the_specification_example_parses() {
        let body = format!(
            r#"{{{},"additionalAuthenticatedData":"cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n","plaintext":"SGVsbG8gV29ybGQh","encryptionAlgorithm":"AES_GCM","ciphertextDataIntegrityValueAlgorithm":"SHA_256"}}"#,
            meta()
        );
        let e = parse_encrypt(body.as_bytes()).unwrap();
        assert_eq!(&e.plaintext[..], b"Hello World!");
        assert_eq!(e.aad, b"project=nile,department=marketing");
        assert!(e.with_cdiv);
    }

    #[test]
    fn bad_inputs_get_the_specified_errors() {
        let enc = |rest: &str| parse_encrypt(format!("{{{},{rest}}}", meta()).as_bytes());
        let name = |r: Result<EncryptInput, XksError>| r.err().map(|e| e.name());
        assert_eq!(
            name(enc(r#""plaintext":"!!","encryptionAlgorithm":"AES_GCM""#)),
            Some("ValidationException")
        );
        assert_eq!(
            name(enc(r#""plaintext":"AA==","encryptionAlgorithm":"RSA""#)),
            Some("ValidationException")
        );
        let big = b64(&vec![0; MAX_PLAINTEXT + 1]);
        assert_eq!(
            name(enc(&format!(
                r#""plaintext":"{big}","encryptionAlgorithm":"AES_GCM""#
            ))),
            Some("UnsupportedOperationException")
        );
        assert_eq!(
            name(enc(
                r#""plaintext":"AA==","encryptionAlgorithm":"AES_GCM","ciphertextDataIntegrityValueAlgorithm":"MD5""#
            )),
            Some("ValidationException")
        );
        assert!(parse_encrypt(b"[]").is_err());
        assert!(parse_encrypt(b"{").is_err());
        assert!(
            parse_metadata_only(br#"{"requestMetadata":{"kmsOperation":"x"}}"#, false).is_err()
        );
        assert!(
            parse_metadata_only(
                br#"{"requestMetadata":{"kmsOperation":"x","kmsRequestId":"y"}}"#,
                false
            )
            .is_ok()
        );
        assert!(
            parse_metadata_only(
                br#"{"requestMetadata":{"kmsOperation":"x","kmsRequestId":"y"}}"#,
                true
            )
            .is_err()
        );
        let long = "a".repeat(MAX_METADATA_FIELD + 1);
        let body =
            format!(r#"{{"requestMetadata":{{"kmsOperation":"x","kmsRequestId":"{long}"}}}}"#);
        assert!(parse_metadata_only(body.as_bytes(), false).is_err());
    }

    #[test]
    fn decrypt_checks_iv_tag_and_metadata_lengths() {
        let dec = |iv: &str, tag: &str, md: &str| {
            parse_decrypt(
                format!(
                    r#"{{{},"ciphertext":"AA==","encryptionAlgorithm":"AES_GCM","initializationVector":"{iv}","authenticationTag":"{tag}","ciphertextMetadata":"{md}"}}"#,
                    meta()
                )
                .as_bytes(),
            )
        };
        let iv12 = b64(&[1; 12]);
        let tag16 = b64(&[2; 16]);
        assert!(dec(&iv12, &tag16, &b64(&[3; 20])).is_ok());
        assert!(dec(&b64(&[1; 16]), &tag16, "").is_ok());
        assert!(dec(&b64(&[1; 13]), &tag16, "").is_err());
        assert!(dec(&iv12, &b64(&[2; 15]), "").is_err());
        assert!(dec(&iv12, &b64(&[2; 17]), "").is_err());
        assert!(dec(&iv12, &tag16, &b64(&[3; 21])).is_err());
    }
}
