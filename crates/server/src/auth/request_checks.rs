//! The checks of a SigV4-signed request that need no key: the
//! `Authorization` header and which headers it signs, the signing time
//! against the clock, the credential scope's service and region, and a
//! temporary credential's session token. [`super::Authenticator`] runs them
//! in this order, before and around the one check that needs the secret
//! (the signature itself).

use axum::http::HeaderMap;
use strongroom_crypto::{constant_time_eq, sha256};
use strongroom_store::AccessKeyRecord;
use time::OffsetDateTime;

use super::{MAX_SKEW, Regions, invalid_region, sig_error, well_formed_region};
use crate::error::KmsError;
use crate::region::Region;
use crate::sigv4::{self, Authorization};

/// The request's parsed `Authorization` header, once every header that
/// must be signed (AWS's, and `also_signed` when present) is.
pub(super) fn signed_authorization(
    headers: &HeaderMap,
    also_signed: &[&str],
) -> Result<Authorization, KmsError> {
    let Some(value) = headers.get("authorization") else {
        return Err(KmsError::MissingAuthenticationToken);
    };
    let value = value
        .to_str()
        .map_err(|_| KmsError::IncompleteSignature("Authorization header is not ASCII.".into()))?;
    let auth = sigv4::parse_authorization(value)
        .map_err(|e| KmsError::IncompleteSignature(e.to_string()))?;
    for required in sigv4::ALWAYS_SIGNED {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(KmsError::IncompleteSignature(format!(
                "Signed headers must include '{required}'."
            )));
        }
    }
    // A header outside the signature could have been added or changed
    // on the way (X-Amz-Target turning an Encrypt into a DisableKey):
    // refuse before anything is looked up.
    let unsigned = sigv4::unsigned_protected_headers(headers, &auth.signed_headers, also_signed);
    if !unsigned.is_empty() {
        return Err(sig_error(format!(
            "There were headers present in the request which were not signed: {}.",
            unsigned.join(", ")
        )));
    }
    Ok(auth)
}

/// The request's `X-Amz-Date`, once it matches the scope's date and lies
/// within [`MAX_SKEW`] of `now`.
pub(super) fn signed_date<'h>(
    headers: &'h HeaderMap,
    auth: &Authorization,
    now: OffsetDateTime,
) -> Result<&'h str, KmsError> {
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| KmsError::IncompleteSignature("X-Amz-Date header is required.".into()))?;
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or_else(|| {
        KmsError::IncompleteSignature(format!("X-Amz-Date '{amz_date}' is not YYYYMMDDTHHMMSSZ."))
    })?;
    if amz_date[..8] != auth.date {
        return Err(sig_error(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.",
        ));
    }
    if signed_at < now - MAX_SKEW {
        return Err(sig_error(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            sigv4::format_amz_date(now - MAX_SKEW),
            sigv4::format_amz_date(now)
        )));
    }
    if signed_at > now + MAX_SKEW {
        return Err(sig_error(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            sigv4::format_amz_date(now + MAX_SKEW),
            sigv4::format_amz_date(now)
        )));
    }
    Ok(amz_date)
}

/// The scope's region, once the scope names `service` and a region of
/// `regions` (`None` for any well-formed region: XKS, whose region is
/// AWS's).
pub(super) fn scope_region(
    auth: &Authorization,
    service: &str,
    regions: Regions<'_>,
) -> Result<Option<Region>, KmsError> {
    if auth.service != service {
        return Err(sig_error(format!(
            "Credential should be scoped to correct service: '{service}', not '{}'.",
            auth.service
        )));
    }
    match regions {
        Regions::Only(ours) if auth.region == ours.as_str() => Ok(Some(ours.clone())),
        Regions::Only(_) => Err(invalid_region(&auth.region)),
        Regions::Served(set) => Ok(Some(
            set.serves(&auth.region)
                .ok_or_else(|| invalid_region(&auth.region))?,
        )),
        Regions::AnyWellFormed if well_formed_region(&auth.region) => Ok(None),
        Regions::AnyWellFormed => Err(invalid_region(&auth.region)),
    }
}

/// Refuses an inactive key, and a temporary one whose session token is
/// missing, wrong (compared in constant time) or expired.
pub(super) fn check_credential(
    key: &AccessKeyRecord,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Result<(), KmsError> {
    if !key.active {
        return Err(KmsError::UnrecognizedClient);
    }
    let Some(expires) = key.expires_at else {
        return Ok(());
    };
    let token = headers
        .get("x-amz-security-token")
        .map(|v| v.as_bytes())
        .ok_or(KmsError::UnrecognizedClient)?;
    let ok = key
        .session_token_hash
        .as_deref()
        .is_some_and(|h| constant_time_eq(h, &sha256(token)));
    if !ok {
        return Err(KmsError::UnrecognizedClient);
    }
    if now.unix_timestamp() >= expires {
        return Err(KmsError::ExpiredToken);
    }
    Ok(())
}
