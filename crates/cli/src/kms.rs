//! `strongroom kms`: everyday key operations from the shell, for operators
//! without the `aws` CLI. Ciphertexts are written as raw bytes (the same
//! blob the API returns), so files interoperate with any AWS SDK.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::KmsHttpClient;

/// Parses `key=value` pairs into an encryption context.
pub fn parse_context(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut ctx = BTreeMap::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("encryption context '{p}' is not key=value"))?;
        if ctx.insert(k.to_owned(), v.to_owned()).is_some() {
            bail!("encryption context key '{k}' given twice");
        }
    }
    Ok(ctx)
}

/// Reads a whole file, or standard input for `-`.
pub fn read_input(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(buf)
}

/// Writes bytes to a file, or standard output for `-`.
pub fn write_output(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(data)?;
        out.flush()?;
        return Ok(());
    }
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

fn blob(v: &Value, field: &str) -> anyhow::Result<Vec<u8>> {
    let s = v[field]
        .as_str()
        .ok_or_else(|| anyhow!("response has no {field}"))?;
    STANDARD
        .decode(s)
        .with_context(|| format!("{field} is not base64"))
}

/// Creates a symmetric key; returns its ARN.
pub async fn create_key(
    c: &KmsHttpClient,
    description: Option<&str>,
    policy: Option<&str>,
) -> anyhow::Result<String> {
    let mut req = json!({"Description": description.unwrap_or("")});
    if let Some(p) = policy {
        req["Policy"] = json!(p);
    }
    let r = c.call_json("CreateKey", req).await?;
    r["KeyMetadata"]["Arn"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("CreateKey returned no Arn"))
}

/// Every key ARN of the caller's account, following pages.
pub async fn list_keys(c: &KmsHttpClient) -> anyhow::Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = json!({"Limit": 1000});
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let page = c.call_json("ListKeys", req).await?;
        for k in page["Keys"].as_array().into_iter().flatten() {
            arns.extend(k["KeyArn"].as_str().map(str::to_owned));
        }
        if page["Truncated"] != json!(true) {
            return Ok(arns);
        }
        marker = page["NextMarker"].as_str().map(str::to_owned);
    }
}

/// DescribeKey's `KeyMetadata`.
pub async fn describe_key(c: &KmsHttpClient, key_id: &str) -> anyhow::Result<Value> {
    Ok(c.call_json("DescribeKey", json!({"KeyId": key_id})).await?["KeyMetadata"].take())
}

/// Encrypts `plaintext` (1–4096 bytes) under `key_id`; returns the blob.
pub async fn encrypt(
    c: &KmsHttpClient,
    key_id: &str,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let encoded = Zeroizing::new(STANDARD.encode(plaintext));
    let req = json!({"KeyId": key_id, "Plaintext": encoded.as_str(), "EncryptionContext": context});
    blob(&c.call_json("Encrypt", req).await?, "CiphertextBlob")
}

/// Decrypts a blob; `key_id`, if given, must be the blob's key.
pub async fn decrypt(
    c: &KmsHttpClient,
    key_id: Option<&str>,
    context: &BTreeMap<String, String>,
    ciphertext: &[u8],
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut req =
        json!({"CiphertextBlob": STANDARD.encode(ciphertext), "EncryptionContext": context});
    if let Some(k) = key_id {
        req["KeyId"] = json!(k);
    }
    let mut r = c.call_json("Decrypt", req).await?;
    let plain = Zeroizing::new(blob(&r, "Plaintext")?);
    if let Some(Value::String(s)) = r.get_mut("Plaintext") {
        zeroize::Zeroize::zeroize(s);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        let c = parse_context(&["a=1".into(), "b=x=y".into()]).unwrap();
        assert_eq!(c["a"], "1");
        assert_eq!(c["b"], "x=y");
        assert!(parse_context(&["novalue".into()]).is_err());
        assert!(parse_context(&["a=1".into(), "a=2".into()]).is_err());
    }
}

/// ShredKey (extension): destroys the key's material now; returns the
/// shred certificate as the service sent it.
pub async fn shred(c: &KmsHttpClient, key_id: &str) -> anyhow::Result<Value> {
    c.call_json("ShredKey", json!({"KeyId": key_id})).await
}

/// RevokeKey (extension): makes the key unusable for ever.
pub async fn revoke(c: &KmsHttpClient, key_id: &str) -> anyhow::Result<()> {
    c.call_json("RevokeKey", json!({"KeyId": key_id})).await?;
    Ok(())
}

/// What a verified shred certificate says.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShredReport {
    /// The key (ARN).
    pub key_id: String,
    /// Module ids whose signed statements verified.
    pub confirmed_by: Vec<String>,
    /// Modules the service could not reach.
    pub unconfirmed_modules: Vec<String>,
}

/// Checks every module statement in a shred certificate: decodes, names
/// this key, and carries a valid signature of its module (and, given the
/// domain token, that module is a member).
pub fn verify_shred(
    cert: &Value,
    members: Option<&[strongroom_hsm_proto::admin::MemberIdentity]>,
) -> anyhow::Result<ShredReport> {
    use strongroom_hsm_proto::admin::{SHRED_SIGNING_PREFIX, ShredStatementBody, decode, prefixed};
    let arn = cert["KeyId"]
        .as_str()
        .ok_or_else(|| anyhow!("the certificate names no KeyId"))?;
    let key_id: uuid::Uuid = arn
        .rsplit('/')
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| anyhow!("the certificate's KeyId is not a key ARN"))?;
    let statements = cert["Statements"]
        .as_array()
        .ok_or_else(|| anyhow!("no Statements"))?;
    if statements.is_empty() {
        bail!("no module confirmed the shred");
    }
    let mut confirmed = Vec::new();
    for s in statements {
        let field = |k: &str| -> anyhow::Result<Vec<u8>> {
            Ok(STANDARD.decode(s[k].as_str().ok_or_else(|| anyhow!("missing {k}"))?)?)
        };
        let (body, sig) = (field("Statement")?, field("Signature")?);
        let st: ShredStatementBody = decode(&body).map_err(|e| anyhow!("{e}"))?;
        if st.key_id != key_id {
            bail!("a statement is about key {}, not {key_id}", st.key_id);
        }
        if !strongroom_crypto::verify_p384(
            &st.signing_key,
            &prefixed(SHRED_SIGNING_PREFIX, &body),
            &sig,
        ) {
            bail!("the statement of module {} does not verify", st.module_id);
        }
        if let Some(m) = members
            && !m
                .iter()
                .any(|m| m.module_id == st.module_id && m.signing_key == st.signing_key)
        {
            bail!("module {} is not a member of the domain", st.module_id);
        }
        confirmed.push(st.module_id.to_string());
    }
    Ok(ShredReport {
        key_id: arn.to_string(),
        confirmed_by: confirmed,
        unconfirmed_modules: cert["UnconfirmedModules"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}
