//! A small SigV4-signing client for the AWS KMS JSON protocol, used by
//! `strongroom bench` and `strongroom kms`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use reqwest::header::{HeaderMap, HeaderValue};
use strongroom_server::sigv4::{self, RequestParts};
use zeroize::Zeroizing;

/// An AWS-shaped error answer from the endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {error_type}: {message} (HTTP {status})")]
pub struct KmsCallError {
    /// The operation called.
    pub operation: String,
    /// HTTP status.
    pub status: u16,
    /// The `__type` (e.g. `NotFoundException`).
    pub error_type: String,
    /// The `message`.
    pub message: String,
}

impl KmsCallError {
    fn from_response(op: &str, status: u16, body: &[u8]) -> Self {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        Self {
            operation: op.to_owned(),
            status,
            error_type: text("__type").unwrap_or_else(|| "UnknownError".into()),
            message: text("message")
                .or_else(|| text("Message"))
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
        }
    }
}

/// A SigV4 signing key and the `YYYYMMDD` it is valid for.
type DatedSigningKey = (String, Arc<Zeroizing<[u8; 32]>>);

/// `endpoint` parsed, and the `Host` header a request to it signs
/// (`host[:port]`).
pub(crate) fn endpoint_host(endpoint: &str) -> anyhow::Result<(reqwest::Url, String)> {
    let url = reqwest::Url::parse(endpoint).with_context(|| format!("endpoint {endpoint}"))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => bail!("endpoint {endpoint} has no host"),
    };
    Ok((url, host))
}

/// A minimal signing client for the KMS JSON protocol.
pub struct KmsHttpClient {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    region: String,
    access_key_id: String,
    secret: Zeroizing<String>,
    signing_key: std::sync::Mutex<Option<DatedSigningKey>>,
}

impl KmsHttpClient {
    /// A client for `endpoint`.
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret: Zeroizing<String>,
        ca_bundle: Option<&PathBuf>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true);
        if let Some(ca) = ca_bundle {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
        }
        Self::with_http_client(builder.build()?, endpoint, region, access_key_id, secret)
    }

    /// A client for `endpoint` over a given HTTP client (e.g. HTTP/2 only).
    pub fn with_http_client(
        http: reqwest::Client,
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret: Zeroizing<String>,
    ) -> anyhow::Result<Self> {
        let (url, host) = endpoint_host(endpoint)?;
        Ok(Self {
            http,
            url,
            host,
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret,
            signing_key: std::sync::Mutex::new(None),
        })
    }

    fn key_for(&self, date: &str) -> Arc<Zeroizing<[u8; 32]>> {
        let mut slot = self.signing_key.lock().expect("signing key lock");
        match &*slot {
            Some((d, k)) if d == date => k.clone(),
            _ => {
                let k = Arc::new(sigv4::derive_signing_key(
                    &self.secret,
                    date,
                    &self.region,
                    "kms",
                ));
                *slot = Some((date.to_owned(), k.clone()));
                k
            }
        }
    }

    /// Sends operation `op` with JSON `body`; returns status and body.
    pub async fn call(&self, op: &str, body: Vec<u8>) -> anyhow::Result<(u16, bytes::Bytes)> {
        self.call_with_headers(op, body, &[]).await
    }

    /// Like [`Self::call`], with extra (signed) headers, e.g. an
    /// authentication proof.
    pub async fn call_with_headers(
        &self,
        op: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<(u16, bytes::Bytes)> {
        let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert("host", HeaderValue::from_str(&self.host)?);
        headers.insert("x-amz-date", HeaderValue::from_str(&amz_date)?);
        headers.insert(
            "x-amz-target",
            HeaderValue::from_str(&format!("TrentService.{op}"))?,
        );
        let payload = hex::encode(strongroom_crypto::sha256(&body));
        let mut signed: Vec<String> = ["content-type", "host", "x-amz-date", "x-amz-target"]
            .map(String::from)
            .to_vec();
        for (name, value) in extra {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
            signed.push(name.to_ascii_lowercase());
        }
        signed.sort();
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            authority: None,
            payload_sha256_hex: &payload,
        };
        let key = self.key_for(&amz_date[..8]);
        let auth = sigv4::authorization_header(
            &parts,
            &signed,
            &self.access_key_id,
            &key,
            &amz_date,
            &self.region,
            "kms",
        )?;
        headers.insert("authorization", HeaderValue::from_str(&auth)?);
        let resp = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?))
    }

    /// Calls `op` and parses a 200 answer as JSON, else fails with the body.
    pub async fn call_json(
        &self,
        op: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        self.call_json_with_headers(op, body, &[]).await
    }

    /// Like [`Self::call_json`], with extra (signed) headers.
    pub async fn call_json_with_headers(
        &self,
        op: &str,
        body: serde_json::Value,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<serde_json::Value> {
        let (status, bytes) = self
            .call_with_headers(op, serde_json::to_vec(&body)?, extra)
            .await?;
        if status != 200 {
            return Err(KmsCallError::from_response(op, status, &bytes).into());
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}
