//! AWS Signature Version 4: the canonical request, and verification of a
//! request's `Authorization` header. Signing (for the bench and tests) uses
//! the same canonical request, so the two cannot drift apart.

use axum::http::HeaderMap;
use strongroom_crypto::{HmacSha256Key, sha256};
use time::{
    OffsetDateTime, PrimitiveDateTime, format_description::FormatItem, macros::format_description,
};
use zeroize::Zeroizing;

/// The only algorithm SigV4 defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Why an Authorization header could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The header is malformed or lacks a part.
    #[error("{0}")]
    Incomplete(String),
    /// A signed header is absent from the request.
    #[error("signed header {0} is missing from the request")]
    MissingSignedHeader(String),
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// `YYYYMMDD` from the scope.
    pub date: String,
    /// Region from the scope.
    pub region: String,
    /// Service from the scope.
    pub service: String,
    /// Lowercase names, in the order signed.
    pub signed_headers: Vec<String>,
    /// The signature bytes.
    pub signature: [u8; 32],
}

impl Authorization {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Parses an Authorization header value.
pub fn parse_authorization(value: &str) -> Result<Authorization, SigV4Error> {
    let incomplete = |m: &str| SigV4Error::Incomplete(m.to_owned());
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| incomplete("Authorization header is malformed."))?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential
        .ok_or_else(|| incomplete("Authorization header requires 'Credential' parameter."))?;
    let signed = signed
        .ok_or_else(|| incomplete("Authorization header requires 'SignedHeaders' parameter."))?;
    let signature = signature
        .ok_or_else(|| incomplete("Authorization header requires 'Signature' parameter."))?;
    let c: Vec<&str> = credential.split('/').collect();
    if c.len() != 5 || c[4] != "aws4_request" || c.iter().any(|p| p.is_empty()) {
        return Err(incomplete(
            "Credential must have the form <key>/<date>/<region>/<service>/aws4_request.",
        ));
    }
    let mut sig = [0u8; 32];
    hex::decode_to_slice(signature, &mut sig)
        .map_err(|_| incomplete("Signature must be 64 hex digits."))?;
    let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
    if signed_headers
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(
            "SignedHeaders must be lowercase header names separated by ';'.",
        ));
    }
    Ok(Authorization {
        access_key_id: c[0].to_owned(),
        date: c[1].to_owned(),
        region: c[2].to_owned(),
        service: c[3].to_owned(),
        signed_headers,
        signature: sig,
    })
}

/// Headers every signature must cover, whatever the request.
pub const ALWAYS_SIGNED: &[&str] = &["host", "x-amz-date"];

/// Whether a header must be signed whenever a request carries it:
/// `x-amz-*` (the operation in `x-amz-target`, `x-amz-security-token`,
/// `x-amz-content-sha256`, ...) and our own `x-strongroom-*` (the
/// authentication proof). Real SDKs sign every header they send but
/// `user-agent`, `x-amzn-trace-id`, `expect` and `transfer-encoding`, so
/// they already do; an unsigned one can only have been added or changed
/// by someone who does not hold the secret.
pub fn must_be_signed(name: &str) -> bool {
    name.starts_with("x-amz-") || name.starts_with("x-strongroom-")
}

/// The headers present in `headers` that must be signed (by
/// [`must_be_signed`], or named in `also`) but are not in `signed`, in
/// the order the request carries them.
pub fn unsigned_protected_headers<'h>(
    headers: &'h HeaderMap,
    signed: &[String],
    also: &[&str],
) -> Vec<&'h str> {
    headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| must_be_signed(name) || also.contains(name))
        .filter(|name| !signed.iter().any(|s| s == name))
        .collect()
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(s, AMZ_DATE)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Formats `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: OffsetDateTime) -> String {
    t.format(AMZ_DATE).expect("amz date formats")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    fn hex_val(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push((h << 4) | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The canonical URI: dot segments removed and slashes collapsed (when
/// `normalize`), then every byte but unreserved ones and `/` encoded, which
/// double-encodes an already encoded path as non-S3 services require.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let mut out = String::with_capacity(path.len() + 8);
    if !normalize {
        uri_encode(path.as_bytes(), true, &mut out);
        return out;
    }
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    for s in &segs {
        out.push('/');
        uri_encode(s.as_bytes(), false, &mut out);
    }
    if out.is_empty() || (path.ends_with('/') && !segs.is_empty()) {
        out.push('/');
    }
    out
}

/// The canonical query string: parameters decoded, strictly re-encoded,
/// sorted by name then value.
pub fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), false, &mut ek);
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(raw: &[u8], out: &mut String) {
    let text = String::from_utf8_lossy(raw);
    let mut first = true;
    for word in text.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// What a canonical request is built from.
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw path as sent.
    pub path: &'a str,
    /// Raw query (without `?`).
    pub query: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// `:authority` for HTTP/2, used when there is no Host header.
    pub authority: Option<&'a str>,
    /// Hex SHA-256 of the body.
    pub payload_sha256_hex: &'a str,
}

/// Builds the canonical request for `signed_headers`.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    normalize: bool,
) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(&canonical_uri(parts.path, normalize));
    out.push('\n');
    out.push_str(&canonical_query(parts.query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut values = parts.headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            match (name.as_str(), parts.authority) {
                ("host", Some(a)) => out.push_str(a),
                _ => return Err(SigV4Error::MissingSignedHeader(name.clone())),
            }
        }
        let mut first = true;
        for v in values {
            if !first {
                out.push(',');
            }
            canonical_header_value(v.as_bytes(), &mut out);
            first = false;
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(parts.payload_sha256_hex);
    Ok(out)
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(sha256(canonical_request.as_bytes()))
    )
}

/// HMAC of the string to sign under the signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    HmacSha256Key::new(signing_key).sign(string_to_sign.as_bytes())
}

/// Client side: `kSigning` from a secret access key. The server never
/// calls this: its module derives signing keys from sealed secrets.
pub fn derive_signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Zeroizing<[u8; 32]> {
    strongroom_crypto::sigv4_signing_key(secret.as_bytes(), date, region, service)
}

/// Client side: the Authorization header value for a request whose
/// `host` and `x-amz-date` (and any other signed) headers are already set.
#[allow(clippy::too_many_arguments)]
pub fn authorization_header(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    access_key_id: &str,
    signing_key: &[u8; 32],
    amz_date: &str,
    region: &str,
    service: &str,
) -> Result<String, SigV4Error> {
    let scope = format!("{}/{region}/{service}/aws4_request", &amz_date[..8]);
    let creq = canonical_request(parts, signed_headers, true)?;
    let sig = signature(signing_key, &string_to_sign(amz_date, &scope, &creq));
    Ok(format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={}",
        signed_headers.join(";"),
        hex::encode(sig)
    ))
}

#[cfg(test)]
mod tests;
