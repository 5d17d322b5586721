//! `strongroom-bench-echo`: the ceiling for `scripts/bench-ceiling.sh`.
//!
//! A bare axum server that does the HTTP and JSON work of a KMS Encrypt and
//! nothing else: it parses the request JSON (KeyId, base64 Plaintext,
//! EncryptionContext), and answers an Encrypt-shaped JSON body of the same
//! size as Strongroom's (CiphertextBlob = plaintext plus
//! `--ciphertext-overhead` bytes, base64; KeyId; EncryptionAlgorithm). No
//! SigV4 check, no cryptography, no audit record: the same client driving
//! both shows what Strongroom's own work costs against the HTTP stack.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::Parser;
use serde::{Deserialize, Serialize};

// The same allocator as the `strongroom` binary, so the comparison is fair.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command line.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on; the bound address is printed as `listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Bytes the ciphertext blob has beyond the plaintext (Strongroom's
    /// Encrypt overhead, measured by the script).
    #[arg(long, default_value_t = 0)]
    ciphertext_overhead: usize,
    /// Worker threads (default: one per core, like `strongroom dev`).
    #[arg(long)]
    threads: Option<usize>,
}

/// The fields of an Encrypt request Strongroom reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest {
    key_id: String,
    plaintext: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
}

/// An Encrypt answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptResponse<'a> {
    ciphertext_blob: String,
    key_id: &'a str,
    encryption_algorithm: &'static str,
}

/// A client error in the AWS JSON shape (never expected from the bench).
fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({"__type": "ValidationException", "message": message});
    (StatusCode::BAD_REQUEST, body.to_string()).into_response()
}

/// Parses the request, builds a blob of the right size from the
/// plaintext, and answers.
fn encrypt(overhead: usize, body: &[u8]) -> Response {
    let req: EncryptRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_request(&e.to_string()),
    };
    let mut blob = match STANDARD.decode(&req.plaintext) {
        Ok(p) => p,
        Err(e) => return bad_request(&e.to_string()),
    };
    // Stand-in for the context's place in the ciphertext's AAD.
    let context_bytes: usize = req
        .encryption_context
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    blob.resize(blob.len() + overhead, (context_bytes & 0xff) as u8);
    let answer = EncryptResponse {
        ciphertext_blob: STANDARD.encode(&blob),
        key_id: &req.key_id,
        encryption_algorithm: "SYMMETRIC_DEFAULT",
    };
    let json = serde_json::to_vec(&answer).expect("serialisable");
    let mut resp = (StatusCode::OK, json).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    let id = uuid::Uuid::new_v4().to_string();
    h.insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&id).expect("uuid is a header value"),
    );
    resp
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n);
    }
    rt.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    let overhead = args.ciphertext_overhead;
    let app = Router::new().route(
        "/",
        post(move |body: Bytes| async move { encrypt(overhead, &body) }),
    );
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        // Like Strongroom's listener: small answers leave at once.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answer_is_encrypt_shaped_and_sized() {
        let plaintext = STANDARD.encode([7u8; 256]);
        let req = serde_json::json!({"KeyId": "arn:k", "Plaintext": plaintext, "EncryptionContext": {"a": "b"}});
        let resp = encrypt(100, req.to_string().as_bytes());
        assert_eq!(resp.status(), StatusCode::OK);
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let blob = STANDARD
            .decode(v["CiphertextBlob"].as_str().expect("blob"))
            .expect("base64");
        assert_eq!(blob.len(), 356);
        assert_eq!(v["KeyId"], "arn:k");
        assert_eq!(v["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    }

    #[test]
    fn malformed_request_is_a_validation_error() {
        assert_eq!(
            encrypt(0, b"{\"KeyId\": 1}").status(),
            StatusCode::BAD_REQUEST
        );
    }
}
