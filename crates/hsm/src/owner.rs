//! Suspension owners (extension): the RSA public key a key's SuspendKey
//! wraps to, bound (as its SHA-256) into every version's EKT by the module,
//! so a frontend can neither choose it at suspension nor swap it later.
//!
//! - GenerateOwnedBackingKey binds it when the key is made.
//! - RotateBackingKey copies it (and the spec) from an earlier version.
//! - UpdateSuspensionOwner re-binds every version to a new owner, only with
//!   the current owner's RSASSA-PSS-SHA-256 signature over
//!   [`owner_change_statement`]: the module itself checks who asked. The
//!   statement names the current owner, so it is void once the key has
//!   moved on, and the module carries each one out at most once.

use strongroom_crypto::{
    AsymmetricKey, AsymmetricSpec, OaepHash, SecretKey256, SignInput, SigningAlgorithm,
    rsa_oaep_encrypt, verify_signature,
};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Response};
use uuid::Uuid;

use crate::ekt::{self, SuspensionOwner};
use crate::module::{Module, now_secs};
use crate::scope::Requester;
use crate::suspend::not_the_owner;

/// How far ahead an owner-change statement may expire.
const MAX_STATEMENT_LIFETIME_SECS: u64 = 3600;
/// Most owner changes one key may have within a statement lifetime (an
/// hour): only that key's own owner can reach it.
const MAX_CHANGES_PER_KEY: usize = 64;
/// Most used statements a module remembers in all; past it the one that
/// expires soonest is forgotten (never refusing another key's change: a
/// forgotten statement can only be replayed for a key handed back to the
/// owner who signed it, which the EKTs kept from then allow anyway).
const MAX_REMEMBERED_STATEMENTS: usize = 65_536;

/// What the current owner signs to hand a key to `new_owner` (DER SPKI):
/// `"strongroom suspension owner change v2\0" ‖ key UUID (16) ‖
/// SHA-256(current owner SPKI) (32) ‖ SHA-256(new owner SPKI) (32) ‖
/// valid_to (u64 BE, Unix seconds)`. Naming the current owner means a
/// statement is void once the key has moved on to anyone else.
pub fn owner_change_statement(
    key_id: Uuid,
    current_owner: &[u8],
    new_owner: &[u8],
    valid_to: u64,
) -> Vec<u8> {
    let mut m = b"strongroom suspension owner change v2\0".to_vec();
    m.extend_from_slice(key_id.as_bytes());
    m.extend_from_slice(&strongroom_crypto::sha256(current_owner));
    m.extend_from_slice(&strongroom_crypto::sha256(new_owner));
    m.extend_from_slice(&valid_to.to_be_bytes());
    m
}

/// Owner-change statements this module has carried out, per key, until
/// they expire: a statement is used once, even if its current owner is
/// current again (the key was handed back within the statement's hour).
/// Kept per key so that one tenant's changes never crowd out another's.
#[derive(Default)]
pub(crate) struct UsedStatements {
    by_key: std::collections::HashMap<Uuid, Vec<([u8; 32], u64)>>,
    total: usize,
}

impl UsedStatements {
    /// Forgets expired statements.
    fn expire(&mut self, now: u64) {
        let mut total = 0;
        self.by_key.retain(|_, used| {
            used.retain(|(_, valid_to)| *valid_to >= now);
            total += used.len();
            !used.is_empty()
        });
        self.total = total;
    }

    /// Whether the statement with this signature was used for `key`.
    fn seen(&mut self, key: Uuid, signature: &[u8], now: u64) -> bool {
        self.expire(now);
        let digest = strongroom_crypto::sha256(signature);
        self.by_key
            .get(&key)
            .is_some_and(|used| used.iter().any(|(d, _)| *d == digest))
    }

    /// Remembers a used statement for `key`. Refuses only a key that has
    /// changed owner too often this hour; past the module-wide bound the
    /// statement expiring soonest is forgotten instead.
    fn remember(&mut self, key: Uuid, signature: &[u8], valid_to: u64) -> Result<(), HsmError> {
        if self.by_key.get(&key).map_or(0, Vec::len) >= MAX_CHANGES_PER_KEY {
            return Err(HsmError::InvalidRequest(
                "too many owner changes of this key this hour; retry later".into(),
            ));
        }
        if self.total >= MAX_REMEMBERED_STATEMENTS {
            self.forget_soonest_expiring();
        }
        self.by_key
            .entry(key)
            .or_default()
            .push((strongroom_crypto::sha256(signature), valid_to));
        self.total += 1;
        Ok(())
    }

    fn forget_soonest_expiring(&mut self) {
        let soonest = self
            .by_key
            .iter()
            .flat_map(|(k, used)| used.iter().enumerate().map(move |(i, (_, t))| (*t, *k, i)))
            .min();
        if let Some((_, key, i)) = soonest
            && let Some(used) = self.by_key.get_mut(&key)
        {
            used.swap_remove(i);
            self.total -= 1;
            if used.is_empty() {
                self.by_key.remove(&key);
            }
        }
    }

    /// How many statements are remembered (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.total
    }
}

/// Checks `spki` is an RSA public key SuspendKey can wrap to.
fn owner_of(spki: &[u8]) -> Result<SuspensionOwner, HsmError> {
    rsa_oaep_encrypt(spki, OaepHash::Sha256, &[0; 32]).map_err(|_| {
        HsmError::InvalidRequest(
            "the suspension owner must be an RSA public key (DER SubjectPublicKeyInfo)".into(),
        )
    })?;
    Ok(SuspensionOwner::of_public_key(spki))
}

impl Module {
    /// A fresh version of `key`, bound to `owner`.
    fn generate_bound(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
        owner: Option<SuspensionOwner>,
    ) -> Result<Ekt, HsmError> {
        let internal = |e: strongroom_crypto::CryptoError| HsmError::Internal(e.to_string());
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        if let Some(asym) = spec.asymmetric() {
            let pair = AsymmetricKey::generate(asym).map_err(internal)?;
            return ekt::seal_key(dk, key, spec, pair.expose_pkcs8(), owner);
        }
        let secret = SecretKey256::generate().map_err(internal)?;
        let token = ekt::seal_key(dk, key, spec, secret.expose(), owner)?;
        self.vault.insert(
            key,
            domain,
            spec,
            &secret,
            strongroom_crypto::sha256(&token.0),
        );
        Ok(token)
    }

    /// GenerateOwnedBackingKey: a new key's first version, bound to the
    /// owner whose RSA public key is `owner_spki`.
    pub(crate) fn generate_owned_backing_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
        owner_spki: &[u8],
    ) -> Result<Response, HsmError> {
        let owner = owner_of(owner_spki)?;
        self.require_use()?;
        self.generate_bound(caller, key, spec, Some(owner))
            .map(Response::Ekt)
    }

    /// RotateBackingKey: the next version of `key`, with the spec and owner
    /// of `previous` (an earlier version of the same key).
    pub(crate) fn rotate_backing_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        previous: &Ekt,
    ) -> Result<Response, HsmError> {
        self.require_use()?;
        let (domain, generation) = ekt::domain_of(previous)?;
        let dk = self.domain_key(caller, domain, generation)?;
        let prev = ekt::open_key(dk, previous)?;
        if prev.key.key_id != key.key_id || prev.key.version >= key.version {
            return Err(HsmError::InvalidKeyToken);
        }
        self.generate_bound(caller, key, prev.spec, prev.owner)
            .map(Response::Ekt)
    }

    /// UpdateSuspensionOwner: re-binds every version to `new_owner`, if
    /// `current_owner` is the owner bound to each of them and signed the
    /// change. Answers the re-sealed versions.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update_suspension_owner(
        &mut self,
        caller: &Requester,
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        current_owner: &[u8],
        new_owner: &[u8],
        valid_to: u64,
        signature: &[u8],
    ) -> Result<Response, HsmError> {
        self.require_use()?;
        if versions.is_empty() {
            return Err(HsmError::InvalidRequest("no versions to re-bind".into()));
        }
        let now = now_secs();
        if valid_to < now || valid_to > now + MAX_STATEMENT_LIFETIME_SECS {
            return Err(HsmError::InvalidRequest(format!(
                "the owner's statement must be valid for at most {MAX_STATEMENT_LIFETIME_SECS} \
                 seconds from now, and not expired"
            )));
        }
        let new = owner_of(new_owner)?;
        let current = SuspensionOwner::of_public_key(current_owner);
        if new == current {
            return Err(HsmError::InvalidRequest(
                "the new suspension owner is the current one".into(),
            ));
        }
        if self.used_owner_statements.seen(key_id, signature, now) {
            return Err(HsmError::InvalidRequest(
                "this owner change statement was already used".into(),
            ));
        }
        // Cheap checks first: the bound owner, then the signature.
        let mut opened = Vec::with_capacity(versions.len());
        for (key, token) in &versions {
            let (domain, generation) = ekt::domain_of(token)?;
            let dk = self.domain_key(caller, domain, generation)?;
            let o = ekt::open_key(dk, token)?;
            if key.key_id != key_id || o.key != *key {
                return Err(HsmError::InvalidKeyToken);
            }
            if o.owner != Some(current) {
                return Err(not_the_owner());
            }
            opened.push(o);
        }
        let statement = owner_change_statement(key_id, current_owner, new_owner, valid_to);
        // Any RSA size: the spec only selects the RSA verifier family.
        if !verify_signature(
            AsymmetricSpec::Rsa2048,
            current_owner,
            SigningAlgorithm::RsaPssSha256,
            SignInput::Raw(&statement),
            signature,
        ) {
            return Err(HsmError::InvalidRequest(
                "the owner change is not signed (RSASSA_PSS_SHA_256) by the current owner".into(),
            ));
        }
        self.used_owner_statements
            .remember(key_id, signature, valid_to)?;
        let dk = self.current_domain(caller)?;
        let mut out = Vec::with_capacity(opened.len());
        for o in opened {
            out.push((
                o.key,
                ekt::seal_key(dk, o.key, o.spec, &o.material, Some(new))?,
            ));
        }
        self.record(
            "suspension_owner_changed",
            serde_json::json!({
                "key_id": key_id,
                "versions": out.len(),
                "new_owner_sha256": hex::encode(new.0),
            }),
        );
        Ok(Response::Reinstated(out))
    }
}
