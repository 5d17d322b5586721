//! Query strings of the console's read calls: `a=b&c=d`, percent-decoded,
//! bounded. Bad input is a `ValidationException`, never a panic.

use std::collections::HashMap;

use crate::error::KmsError;

/// Longest query string read.
const MAX_QUERY: usize = 4096;

/// The decoded parameters of `query` (a repeated name keeps its last value).
pub fn parse(query: Option<&str>) -> Result<HashMap<String, String>, KmsError> {
    let q = query.unwrap_or("");
    if q.len() > MAX_QUERY {
        return Err(KmsError::Validation("The query string is too long.".into()));
    }
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k)?, decode(v)?);
    }
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-decoding (`+` is a space), to UTF-8.
pub fn decode(s: &str) -> Result<String, KmsError> {
    let bad = || KmsError::Validation("The query string is not well-formed.".into());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex).ok_or_else(bad)?;
                let lo = b.get(i + 2).copied().and_then(hex).ok_or_else(bad)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// An optional RFC 3339 time parameter, as epoch milliseconds.
pub fn time_ms(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, KmsError> {
    let Some(v) = params.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            KmsError::Validation(format!(
                "{name} must be an RFC 3339 time like 2026-12-01T10:00:00Z."
            ))
        })?;
    Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// An optional number parameter within `1..=max` (default `default`).
pub fn number(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, KmsError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                KmsError::Validation(format!("{name} must be a number from 1 to {max}."))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_broken_escapes() {
        let p = parse(Some("operation=Create%4Bey&key=a+b&x")).unwrap();
        assert_eq!(p["operation"], "CreateKey");
        assert_eq!(p["key"], "a b");
        assert_eq!(p["x"], "");
        assert!(parse(Some("a=%4")).is_err());
        assert!(parse(Some("a=%zz")).is_err());
        assert!(parse(Some("a=%ff")).is_err());
        assert!(parse(Some(&"a".repeat(5000))).is_err());
    }

    #[test]
    fn numbers_and_times_are_bounded() {
        let p = parse(Some(
            "limit=0&big=99999&since=yesterday&ok=2026-12-01T00:00:00Z",
        ))
        .unwrap();
        assert!(number(&p, "limit", 5, 100).is_err());
        assert!(number(&p, "big", 5, 100).is_err());
        assert_eq!(number(&p, "none", 5, 100).unwrap(), 5);
        assert!(time_ms(&p, "since").is_err());
        assert_eq!(time_ms(&p, "ok").unwrap(), Some(1_796_083_200_000));
    }
}
