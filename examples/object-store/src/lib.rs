//! An example data service on Strongroom: an object store whose customers
//! sign their PUT and GET requests with SigV4 (service
//! `objectstore.example.com`, this service's exact service name). The
//! store never sees customers' secrets: it forwards each signed request to
//! Strongroom, which answers an authentication proof, then calls
//! GenerateDataKey (PUT) or Decrypt (GET) *with that proof*, so Strongroom
//! decides as the customer, via this service. Each object is sealed with
//! AES-256-GCM under its own data key; the encrypted object and the
//! encrypted data key lie side by side on disk; the plaintext data key is
//! dropped (zeroized) as soon as the object is sealed or opened.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use strongroom_cli::client::{KmsCallError, KmsHttpClient};
use strongroom_crypto::{Aes256GcmKey, IV_LEN, Iv, SecretKey256, sha256};
use zeroize::Zeroizing;

/// The SigV4 service name customers sign for: exactly the `--service-name`
/// of this service's principal (Strongroom mints proofs only from requests
/// signed for the presenting service's exact name).
pub const SERVICE_NAME: &str = "objectstore.example.com";

/// Largest object accepted.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// How the object store runs.
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where objects and their encrypted data keys are kept.
    pub data_dir: PathBuf,
    /// Strongroom's endpoint.
    pub kms_endpoint: String,
    /// Region (SigV4 scope, for customers and for Strongroom).
    pub region: String,
    /// This service's own access key id (a service principal).
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: Zeroizing<String>,
    /// The KMS key objects are encrypted under unless a request names one
    /// (`x-objectstore-kms-key-id`).
    pub default_key_id: String,
}

struct App {
    kms: KmsHttpClient,
    data_dir: PathBuf,
    default_key_id: String,
}

/// A running object store.
pub struct RunningObjectStore {
    /// The bound address.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningObjectStore {
    /// Stops serving.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningObjectStore> {
    std::fs::create_dir_all(&config.data_dir)?;
    let kms = KmsHttpClient::new(
        &config.kms_endpoint,
        &config.region,
        &config.access_key_id,
        config.secret_access_key,
        None,
    )?;
    let app = Arc::new(App {
        kms,
        data_dir: config.data_dir,
        default_key_id: config.default_key_id,
    });
    let router = axum::Router::new().fallback(handle).with_state(app);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(RunningObjectStore { addr, stop, task })
}

fn reply(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r
}

/// An error answer: Strongroom's refusals become 403 with its reason.
fn refused(e: anyhow::Error) -> Response {
    match e.downcast_ref::<KmsCallError>() {
        Some(k) if k.status < 500 => reply(
            StatusCode::FORBIDDEN,
            format!("{}: {}\n", k.error_type, k.message),
        ),
        _ => {
            tracing::error!(error = %e, "key service failure");
            reply(StatusCode::BAD_GATEWAY, "key service unavailable\n")
        }
    }
}

/// `/bucket/key` → (bucket, key).
fn object_name(path: &str) -> Option<(String, String)> {
    let (bucket, key) = path.strip_prefix('/')?.split_once('/')?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 255 && !s.contains("..");
    (ok(bucket)
        && ok(key)
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then(|| (bucket.to_string(), key.to_string()))
}

async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some((bucket, key)) = object_name(parts.uri.path()) else {
        return reply(StatusCode::BAD_REQUEST, "paths are /BUCKET/KEY\n");
    };
    let body: Bytes = match axum::body::to_bytes(body, MAX_OBJECT_BYTES).await {
        Ok(b) => b,
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "object too large\n"),
    };
    // 1. Who is this? Strongroom verifies the customer's signature.
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers
                .entry(name.as_str().to_string())
                .and_modify(|e: &mut String| {
                    e.push(',');
                    e.push_str(v)
                })
                .or_insert_with(|| v.to_string());
        }
    }
    let proof = match app
        .kms
        .call_json(
            "CreateAuthenticationProof",
            json!({
                "Method": parts.method.as_str(),
                "Path": parts.uri.path(),
                "Query": parts.uri.query().unwrap_or(""),
                "Headers": headers,
                "PayloadSha256": hex::encode(sha256(&body)),
                "SigningService": SERVICE_NAME,
                "MaxUses": 1,
            }),
        )
        .await
    {
        Ok(v) => v["Proof"].as_str().unwrap_or_default().to_string(),
        Err(e) => return refused(e),
    };
    let context = json!({"objectstore:bucket": bucket, "objectstore:key": key});
    let dir = app.data_dir.join(&bucket);
    let stem = hex::encode(key.as_bytes());
    let (data_path, key_path) = (
        dir.join(format!("{stem}.object")),
        dir.join(format!("{stem}.datakey")),
    );
    let aad = format!("{bucket}/{key}");
    let result = match parts.method {
        Method::PUT => {
            let key_id = parts
                .headers
                .get("x-objectstore-kms-key-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(&app.default_key_id)
                .to_string();
            put(
                &app, &proof, &key_id, &context, &aad, &body, &dir, &data_path, &key_path,
            )
            .await
        }
        Method::GET => get(&app, &proof, &context, &aad, &data_path, &key_path).await,
        _ => return reply(StatusCode::METHOD_NOT_ALLOWED, "PUT or GET\n"),
    };
    result.unwrap_or_else(refused)
}

#[allow(clippy::too_many_arguments)]
async fn put(
    app: &App,
    proof: &str,
    key_id: &str,
    context: &serde_json::Value,
    aad: &str,
    body: &[u8],
    dir: &std::path::Path,
    data_path: &std::path::Path,
    key_path: &std::path::Path,
) -> anyhow::Result<Response> {
    // 2. A data key, asked for as the customer, via this service.
    let dk = app
        .kms
        .call_json_with_headers(
            "GenerateDataKey",
            json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": context}),
            &[(strongroom_server::proof::PROOF_HEADER, proof)],
        )
        .await?;
    let plaintext = Zeroizing::new(B64.decode(dk["Plaintext"].as_str().unwrap_or_default())?);
    let wrapped = B64.decode(dk["CiphertextBlob"].as_str().unwrap_or_default())?;
    let data_key = SecretKey256::from_slice(&plaintext)?;
    drop(plaintext);
    // 3. Seal the object; keep IV || ciphertext || tag and the wrapped key.
    let iv = Iv::random()?;
    let mut out = iv.bytes().to_vec();
    Aes256GcmKey::new(&data_key).seal_append(iv, aad.as_bytes(), body, &mut out)?;
    drop(data_key);
    std::fs::create_dir_all(dir)?;
    write_atomic(key_path, &wrapped)?;
    write_atomic(data_path, &out)?;
    Ok(reply(StatusCode::OK, ""))
}

async fn get(
    app: &App,
    proof: &str,
    context: &serde_json::Value,
    aad: &str,
    data_path: &std::path::Path,
    key_path: &std::path::Path,
) -> anyhow::Result<Response> {
    let (Ok(wrapped), Ok(mut sealed)) = (std::fs::read(key_path), std::fs::read(data_path)) else {
        return Ok(reply(StatusCode::NOT_FOUND, "no such object\n"));
    };
    let out = app
        .kms
        .call_json_with_headers(
            "Decrypt",
            json!({"CiphertextBlob": B64.encode(&wrapped), "EncryptionContext": context}),
            &[(strongroom_server::proof::PROOF_HEADER, proof)],
        )
        .await?;
    let plaintext = Zeroizing::new(B64.decode(out["Plaintext"].as_str().unwrap_or_default())?);
    let data_key = SecretKey256::from_slice(&plaintext)?;
    anyhow::ensure!(sealed.len() >= IV_LEN, "stored object is truncated");
    let (iv, rest) = sealed.split_at_mut(IV_LEN);
    let iv: [u8; IV_LEN] = iv.try_into()?;
    let object = Aes256GcmKey::new(&data_key).open_in_place(iv, aad.as_bytes(), rest)?;
    Ok(reply(StatusCode::OK, object.to_vec()))
}

fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    Ok(())
}
