//! A client of the XKS proxy API that signs as AWS KMS does (SigV4, service
//! `kms-xks-proxy`, signed headers `host;x-amz-date`), for `strongroom
//! bench --xks` and the tests. Tests may sign at another time, for another
//! service or with another secret to attack the endpoint.

use reqwest::header::{HeaderMap, HeaderValue};
use strongroom_server::sigv4::{self, RequestParts};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The service name AWS KMS signs XKS requests for.
pub const SERVICE: &str = "kms-xks-proxy";

/// A signing client for one key store's URI prefix.
pub struct XksHttpClient {
    http: reqwest::Client,
    base: String,
    host: String,
    /// The region in the credential scope.
    pub region: String,
    /// The key store's URI prefix (`/keystores/a`).
    pub prefix: String,
    access_key_id: String,
    secret: Zeroizing<String>,
}

/// How one request is signed (the defaults are AWS KMS's).
#[derive(Debug, Clone)]
pub struct Signing<'a> {
    /// The time in `X-Amz-Date`.
    pub at: OffsetDateTime,
    /// The service in the scope.
    pub service: &'a str,
    /// The secret signed with (`None`: the client's own).
    pub secret: Option<&'a str>,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Self {
            at: OffsetDateTime::now_utc(),
            service: SERVICE,
            secret: None,
        }
    }
}

impl XksHttpClient {
    /// A client for `endpoint` (scheme, host, port) and key store `prefix`.
    pub fn new(
        endpoint: &str,
        prefix: &str,
        region: &str,
        access_key_id: &str,
        secret: Zeroizing<String>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()?;
        Self::with_http_client(http, endpoint, prefix, region, access_key_id, secret)
    }

    /// Like [`Self::new`], over a given HTTP client (a TLS client
    /// certificate, another CA to trust).
    pub fn with_http_client(
        http: reqwest::Client,
        endpoint: &str,
        prefix: &str,
        region: &str,
        access_key_id: &str,
        secret: Zeroizing<String>,
    ) -> anyhow::Result<Self> {
        let (_, host) = crate::client::endpoint_host(endpoint)?;
        Ok(Self {
            http,
            base: endpoint.trim_end_matches('/').to_owned(),
            host,
            region: region.to_owned(),
            prefix: prefix.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret,
        })
    }

    /// The path of an API under this prefix (`health`, `keys/K/encrypt`).
    pub fn path(&self, api: &str) -> String {
        format!("{}/kms/xks/v1/{api}", self.prefix)
    }

    /// POSTs `body` to API `api`, signed as AWS KMS signs; returns status
    /// and JSON body.
    pub async fn call(
        &self,
        api: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let path = self.path(api);
        self.send(
            "POST",
            &path,
            serde_json::to_vec(body)?,
            &Signing::default(),
        )
        .await
    }

    /// Sends `body` with `method` to `path`, signed as `signing` says;
    /// returns status and JSON body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        signing: &Signing<'_>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, bytes) = self.send_raw(method, path, body, signing).await?;
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }

    /// [`Self::send`], answering the raw body.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        signing: &Signing<'_>,
    ) -> anyhow::Result<(u16, bytes::Bytes)> {
        let amz_date = sigv4::format_amz_date(signing.at);
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(&self.host)?);
        headers.insert("x-amz-date", HeaderValue::from_str(&amz_date)?);
        let payload = hex::encode(strongroom_crypto::sha256(&body));
        let signed = ["host", "x-amz-date"].map(String::from).to_vec();
        let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
        let parts = RequestParts {
            method,
            path: path_only,
            query,
            headers: &headers,
            authority: None,
            payload_sha256_hex: &payload,
        };
        let secret = signing.secret.unwrap_or(&self.secret);
        let key = sigv4::derive_signing_key(secret, &amz_date[..8], &self.region, signing.service);
        let auth = sigv4::authorization_header(
            &parts,
            &signed,
            &self.access_key_id,
            &key,
            &amz_date,
            &self.region,
            signing.service,
        )?;
        headers.insert("authorization", HeaderValue::from_str(&auth)?);
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .headers(headers)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?))
    }
}
