//! `strongroom bench`: a SigV4-signing load generator for any endpoint that
//! speaks the AWS KMS JSON protocol, and for the XKS proxy API of an
//! external key store (`--op xks-encrypt` / `xks-decrypt`, signed as AWS
//! KMS signs them).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::client::KmsHttpClient;
use crate::xks_client::{Signing, XksHttpClient};

/// Operations the bench can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchOp {
    /// Encrypt `--payload-bytes` of random data.
    Encrypt,
    /// Decrypt one ciphertext of `--payload-bytes`.
    Decrypt,
    /// GenerateDataKey (AES_256).
    GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext (AES_256).
    GenerateDataKeyWithoutPlaintext,
    /// ReEncrypt one ciphertext under the same key.
    ReEncrypt,
    /// GenerateRandom of 32 bytes.
    GenerateRandom,
    /// DescribeKey (no cryptography: measures the HTTP and auth path).
    DescribeKey,
    /// Sign `--payload-bytes` (RAW) with a `--key-spec` signing key.
    Sign,
    /// Verify one signature with a `--key-spec` signing key.
    Verify,
    /// GenerateMac with an HMAC_256 key.
    GenerateMac,
    /// XKS proxy API Encrypt of `--payload-bytes` with `--aad-bytes` of AAD
    /// (needs `--xks-*`).
    XksEncrypt,
    /// XKS proxy API Decrypt of one such ciphertext.
    XksDecrypt,
}

/// The external key store an XKS bench signs for.
#[derive(Clone)]
pub struct XksTarget {
    /// Its URI prefix.
    pub uri_prefix: String,
    /// A credential's access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: Zeroizing<String>,
    /// AAD bytes per request.
    pub aad_bytes: usize,
}

/// The signing algorithm the bench uses for a key spec.
fn signing_algorithm(spec: &str) -> anyhow::Result<&'static str> {
    Ok(match spec {
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => "ECDSA_SHA_256",
        "ECC_NIST_P384" => "ECDSA_SHA_384",
        "ECC_NIST_P521" => "ECDSA_SHA_512",
        "RSA_2048" | "RSA_3072" | "RSA_4096" => "RSASSA_PSS_SHA_256",
        "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => "ML_DSA_SHAKE_256",
        other => bail!("--key-spec {other} cannot sign"),
    })
}

/// What to run. `Debug` redacts the secret.
#[derive(Clone)]
pub struct BenchOptions {
    /// Endpoint URL.
    pub endpoint: String,
    /// Region to sign for.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// Operation.
    pub op: BenchOp,
    /// Requests in flight.
    pub concurrency: usize,
    /// How long to run.
    pub duration: Duration,
    /// Plaintext size for encrypt/decrypt/re-encrypt.
    pub payload_bytes: usize,
    /// Key to use; a fresh one (scheduled for deletion afterwards) if absent.
    pub key_id: Option<String>,
    /// Extra CA certificate to trust (PEM).
    pub ca_bundle: Option<PathBuf>,
    /// Key spec of the key to create for sign/verify (default ECC_NIST_P256).
    pub key_spec: Option<String>,
    /// Signing algorithm for sign/verify (default: PSS for RSA, ECDSA with
    /// the curve's hash for ECC).
    pub signing_algorithm: Option<String>,
    /// The key store, for the XKS operations.
    pub xks: Option<XksTarget>,
}

impl std::fmt::Debug for BenchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchOptions")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("op", &self.op)
            .field("concurrency", &self.concurrency)
            .field("duration", &self.duration)
            .field("payload_bytes", &self.payload_bytes)
            .field("key_id", &self.key_id)
            .field("ca_bundle", &self.ca_bundle)
            .field("key_spec", &self.key_spec)
            .field("signing_algorithm", &self.signing_algorithm)
            .field(
                "xks",
                &self.xks.as_ref().map(|x| (&x.uri_prefix, &x.access_key_id)),
            )
            .finish()
    }
}

/// The result, as printed (`--json` prints this structure).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The operation driven.
    pub op: BenchOp,
    /// Spec of the key used (of the key created; the given key's otherwise).
    pub key_spec: String,
    /// The signing algorithm, for sign and verify only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<String>,
    /// Requests kept in flight at once.
    pub concurrency: usize,
    /// Plaintext or message size per request, in bytes.
    pub payload_bytes: usize,
    /// Wall-clock seconds the run took.
    pub duration_secs: f64,
    /// Requests answered HTTP 200 (only these are timed).
    pub requests: u64,
    /// Requests answered otherwise, or not at all.
    pub errors: u64,
    /// Successful requests per second of `duration_secs`.
    pub requests_per_sec: f64,
    /// Median latency of successful requests, in microseconds.
    pub p50_us: u64,
    /// 90th percentile latency, in microseconds.
    pub p90_us: u64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: u64,
    /// Slowest successful request, in microseconds.
    pub max_us: u64,
    /// The first failure seen (HTTP status and body, or the client error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "op            {:?}", self.op)?;
        writeln!(f, "key spec      {}", self.key_spec)?;
        if let Some(a) = &self.signing_algorithm {
            writeln!(f, "algorithm     {a}")?;
        }
        writeln!(f, "concurrency   {}", self.concurrency)?;
        writeln!(f, "duration      {:.1} s", self.duration_secs)?;
        writeln!(f, "requests      {}", self.requests)?;
        writeln!(f, "errors        {}", self.errors)?;
        writeln!(f, "throughput    {:.0} req/s", self.requests_per_sec)?;
        write!(
            f,
            "latency       p50 {} µs  p90 {} µs  p99 {} µs  max {} µs",
            self.p50_us, self.p90_us, self.p99_us, self.max_us
        )?;
        if let Some(e) = &self.first_error {
            write!(f, "\nfirst error   {e}")?;
        }
        Ok(())
    }
}

fn request_body(
    op: BenchOp,
    key_id: &str,
    payload_b64: &str,
    ciphertext_b64: &str,
    signing_alg: &str,
) -> (&'static str, Vec<u8>) {
    let (name, v) = match op {
        BenchOp::Encrypt => (
            "Encrypt",
            serde_json::json!({"KeyId": key_id, "Plaintext": payload_b64}),
        ),
        BenchOp::Decrypt => (
            "Decrypt",
            serde_json::json!({"CiphertextBlob": ciphertext_b64}),
        ),
        BenchOp::GenerateDataKey => (
            "GenerateDataKey",
            serde_json::json!({"KeyId": key_id, "KeySpec": "AES_256"}),
        ),
        BenchOp::GenerateDataKeyWithoutPlaintext => (
            "GenerateDataKeyWithoutPlaintext",
            serde_json::json!({"KeyId": key_id, "KeySpec": "AES_256"}),
        ),
        BenchOp::ReEncrypt => (
            "ReEncrypt",
            serde_json::json!({"CiphertextBlob": ciphertext_b64, "DestinationKeyId": key_id}),
        ),
        BenchOp::GenerateRandom => ("GenerateRandom", serde_json::json!({"NumberOfBytes": 32})),
        BenchOp::DescribeKey => ("DescribeKey", serde_json::json!({"KeyId": key_id})),
        BenchOp::Sign => (
            "Sign",
            serde_json::json!({"KeyId": key_id, "Message": payload_b64, "SigningAlgorithm": signing_alg}),
        ),
        BenchOp::Verify => (
            "Verify",
            serde_json::json!({"KeyId": key_id, "Message": payload_b64, "SigningAlgorithm": signing_alg, "Signature": ciphertext_b64}),
        ),
        BenchOp::GenerateMac => (
            "GenerateMac",
            serde_json::json!({"KeyId": key_id, "Message": payload_b64, "MacAlgorithm": "HMAC_SHA_256"}),
        ),
        BenchOp::XksEncrypt | BenchOp::XksDecrypt => ("", serde_json::json!({})),
    };
    (name, serde_json::to_vec(&v).expect("json"))
}

/// Where the workers send their one request body.
enum Target {
    Kms(Arc<KmsHttpClient>, &'static str),
    Xks(Arc<XksHttpClient>, String),
}

impl Target {
    async fn send(&self, body: &bytes::Bytes) -> anyhow::Result<(u16, bytes::Bytes)> {
        match self {
            Target::Kms(c, op) => c.call(op, body.to_vec()).await,
            Target::Xks(c, path) => {
                c.send_raw("POST", path, body.to_vec(), &Signing::default())
                    .await
            }
        }
    }
}

fn xks_meta(op: &str) -> serde_json::Value {
    serde_json::json!({
        "awsPrincipalArn": "arn:aws:iam::123456789012:user/bench",
        "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/bench",
        "kmsOperation": op,
        "kmsRequestId": "bench",
    })
}

/// The XKS client, API path and request body for an XKS op.
async fn xks_request(
    opts: &BenchOptions,
    key_id: &str,
    payload_b64: &str,
) -> anyhow::Result<(Arc<XksHttpClient>, String, Vec<u8>)> {
    let x = opts.xks.as_ref().ok_or_else(|| {
        anyhow!(
            "--op xks-* needs --xks-uri-prefix, --xks-access-key-id and --xks-secret-access-key"
        )
    })?;
    let client = Arc::new(XksHttpClient::new(
        &opts.endpoint,
        &x.uri_prefix,
        &opts.region,
        &x.access_key_id,
        x.secret_access_key.clone(),
    )?);
    let id = key_id.rsplit('/').next().unwrap_or(key_id);
    let mut aad = vec![0u8; x.aad_bytes];
    strongroom_crypto::fill_random(&mut aad).map_err(|e| anyhow!("{e}"))?;
    let encrypt = serde_json::json!({
        "requestMetadata": xks_meta("Encrypt"),
        "plaintext": payload_b64,
        "additionalAuthenticatedData": STANDARD.encode(&aad),
        "encryptionAlgorithm": "AES_GCM",
    });
    let encrypt_path = client.path(&format!("keys/{id}/encrypt"));
    if opts.op == BenchOp::XksEncrypt {
        return Ok((client, encrypt_path, serde_json::to_vec(&encrypt)?));
    }
    let (status, sealed) = client.call(&format!("keys/{id}/encrypt"), &encrypt).await?;
    if status != 200 {
        bail!("XKS Encrypt failed: HTTP {status}: {sealed}");
    }
    let decrypt = serde_json::json!({
        "requestMetadata": xks_meta("Decrypt"),
        "ciphertext": sealed["ciphertext"],
        "ciphertextMetadata": sealed["ciphertextMetadata"],
        "initializationVector": sealed["initializationVector"],
        "authenticationTag": sealed["authenticationTag"],
        "additionalAuthenticatedData": STANDARD.encode(&aad),
        "encryptionAlgorithm": "AES_GCM",
    });
    let path = client.path(&format!("keys/{id}/decrypt"));
    Ok((client, path, serde_json::to_vec(&decrypt)?))
}

/// Runs the benchmark.
pub async fn run(opts: BenchOptions) -> anyhow::Result<BenchReport> {
    if opts.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(1..=4096).contains(&opts.payload_bytes) {
        bail!("--payload-bytes must be 1-4096");
    }
    let client = Arc::new(KmsHttpClient::new(
        &opts.endpoint,
        &opts.region,
        &opts.access_key_id,
        opts.secret_access_key.clone(),
        opts.ca_bundle.as_ref(),
    )?);
    let signing = matches!(opts.op, BenchOp::Sign | BenchOp::Verify);
    let spec = opts.key_spec.clone().unwrap_or_else(|| {
        match opts.op {
            BenchOp::Sign | BenchOp::Verify => "ECC_NIST_P256",
            BenchOp::GenerateMac => "HMAC_256",
            _ => "SYMMETRIC_DEFAULT",
        }
        .to_owned()
    });
    let signing_alg = match (&opts.signing_algorithm, signing) {
        (Some(a), true) => a.as_str(),
        (None, true) => signing_algorithm(&spec)?,
        (Some(_), false) => bail!("--signing-algorithm applies to --op sign and verify only"),
        (None, false) => "",
    };
    let (key_id, created) = bench_key(&client, &opts, &spec).await?;
    let mut payload = vec![0u8; opts.payload_bytes];
    strongroom_crypto::fill_random(&mut payload).map_err(|e| anyhow!("{e}"))?;
    let payload_b64 = STANDARD.encode(&payload);
    let ciphertext_b64 = input_for(&client, opts.op, &key_id, &payload_b64, signing_alg).await?;
    let (target, body) = match opts.op {
        BenchOp::XksEncrypt | BenchOp::XksDecrypt => {
            let (c, path, body) = xks_request(&opts, &key_id, &payload_b64).await?;
            (Target::Xks(c, path), body)
        }
        op => {
            let (name, body) =
                request_body(op, &key_id, &payload_b64, &ciphertext_b64, signing_alg);
            (Target::Kms(client.clone(), name), body)
        }
    };
    let started = Instant::now();
    let load = drive(
        Arc::new(target),
        body.into(),
        &opts,
        started + opts.duration,
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    if created {
        let _ = client
            .call_json(
                "ScheduleKeyDeletion",
                serde_json::json!({"KeyId": key_id, "PendingWindowInDays": 7}),
            )
            .await;
    }
    let signing_algorithm = signing.then(|| signing_alg.to_owned());
    Ok(load.report(&opts, spec, signing_algorithm, elapsed))
}

/// The key to drive: `--key-id`, or a new one of `spec` (true: made here,
/// to be scheduled for deletion afterwards).
async fn bench_key(
    client: &KmsHttpClient,
    opts: &BenchOptions,
    spec: &str,
) -> anyhow::Result<(String, bool)> {
    if let Some(k) = &opts.key_id {
        return Ok((k.clone(), false));
    }
    let usage = match opts.op {
        BenchOp::Sign | BenchOp::Verify => "SIGN_VERIFY",
        BenchOp::GenerateMac => "GENERATE_VERIFY_MAC",
        _ => "ENCRYPT_DECRYPT",
    };
    let r = client
        .call_json(
            "CreateKey",
            serde_json::json!({"Description": "strongroom bench", "KeySpec": spec, "KeyUsage": usage}),
        )
        .await?;
    let arn = r["KeyMetadata"]["Arn"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateKey returned no Arn"))?;
    Ok((arn.to_owned(), true))
}

/// What Decrypt, ReEncrypt (a ciphertext) and Verify (a signature) take
/// besides the payload, made once before the run; empty for the others.
async fn input_for(
    client: &KmsHttpClient,
    op: BenchOp,
    key_id: &str,
    payload_b64: &str,
    signing_alg: &str,
) -> anyhow::Result<String> {
    let (operation, body, field) = match op {
        BenchOp::Decrypt | BenchOp::ReEncrypt => (
            "Encrypt",
            serde_json::json!({"KeyId": key_id, "Plaintext": payload_b64}),
            "CiphertextBlob",
        ),
        BenchOp::Verify => (
            "Sign",
            serde_json::json!({"KeyId": key_id, "Message": payload_b64, "SigningAlgorithm": signing_alg}),
            "Signature",
        ),
        _ => return Ok(String::new()),
    };
    let r = client.call_json(operation, body).await?;
    Ok(r[field]
        .as_str()
        .ok_or_else(|| anyhow!("{operation} returned no {field}"))?
        .to_owned())
}

/// Latencies of the successful requests, the failures, and the first
/// failure's text.
struct Load {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Load {
    fn new() -> Self {
        Self {
            hist: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            errors: 0,
            first_error: None,
        }
    }

    /// The report of a run of `elapsed` seconds.
    fn report(
        self,
        opts: &BenchOptions,
        key_spec: String,
        signing_algorithm: Option<String>,
        elapsed: f64,
    ) -> BenchReport {
        let hist = self.hist;
        BenchReport {
            op: opts.op,
            key_spec,
            signing_algorithm,
            concurrency: opts.concurrency,
            payload_bytes: opts.payload_bytes,
            duration_secs: elapsed,
            requests: hist.len(),
            errors: self.errors,
            requests_per_sec: hist.len() as f64 / elapsed,
            p50_us: hist.value_at_quantile(0.50),
            p90_us: hist.value_at_quantile(0.90),
            p99_us: hist.value_at_quantile(0.99),
            max_us: hist.max(),
            first_error: self.first_error,
        }
    }
}

/// Sends `body` to `target` from `--concurrency` workers until `deadline`.
async fn drive(
    target: Arc<Target>,
    body: bytes::Bytes,
    opts: &BenchOptions,
    deadline: Instant,
) -> anyhow::Result<Load> {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..opts.concurrency {
        workers.spawn(worker(target.clone(), body.clone(), deadline));
    }
    let mut all = Load::new();
    while let Some(r) = workers.join_next().await {
        let one = r?;
        all.hist.add(&one.hist).expect("same bounds");
        all.errors += one.errors;
        if all.first_error.is_none() {
            all.first_error = one.first_error;
        }
    }
    Ok(all)
}

/// One worker: a request at a time until `deadline`.
async fn worker(target: Arc<Target>, body: bytes::Bytes, deadline: Instant) -> Load {
    let mut load = Load::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        let r = target.send(&body).await;
        let us = t.elapsed().as_micros().clamp(1, 60_000_000) as u64;
        match r {
            Ok((200, _)) => load.hist.record(us).expect("in bounds"),
            Ok((status, b)) => {
                load.errors += 1;
                load.first_error.get_or_insert_with(|| {
                    format!("HTTP {status}: {}", String::from_utf8_lossy(&b))
                });
            }
            Err(e) => {
                load.errors += 1;
                load.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let o = BenchOptions {
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIA".into(),
            secret_access_key: Zeroizing::new("very-secret-value".into()),
            op: BenchOp::Encrypt,
            concurrency: 1,
            duration: Duration::from_secs(1),
            payload_bytes: 1,
            key_id: None,
            ca_bundle: None,
            key_spec: None,
            signing_algorithm: None,
            xks: None,
        };
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("very-secret-value") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
