//! Applying a checked seed file: first every read that can show a
//! conflict (an access key or key id that exists with other contents),
//! then the writes, each only if its object is missing. Keys, material,
//! aliases and grants go through the processor's own operations, as the
//! account's root, audited like any request; key material goes through
//! GetParametersForImport and ImportKeyMaterial, wrapped here to the
//! module's import key, so the module alone ever unwraps it.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};
use strongroom_hsm_proto::HsmClient;
use strongroom_store::{KeyRecord, KeySpec, KeyState, Origin, Store};
use uuid::Uuid;

use super::SeedError;
use super::file::{SeedFile, SeedGrant, SeedKey};
use super::validate::{SeedDefaults, key_home, key_uuid, material_bytes, policy_text, tags_of};
use crate::admin;
use crate::audit::AuditEvent;
use crate::auth::Caller;
use crate::authz::operations;
use crate::authz::{RequestCtx, RequestMeta};
use crate::ops::OPERATIONS;
use crate::ops::key_policy::validated;
use crate::processor::Processor;
use crate::region::Region;

/// The access key id the seed's own requests are recorded under.
const SEED_ACCESS_KEY_ID: &str = "strongroom-dev-seed";
/// The import wrapping this side uses (any the module offers would do).
const WRAPPING_ALGORITHM: &str = "RSAES_OAEP_SHA_256";

/// What one application of a seed file did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    /// Objects created (accounts, access keys, keys, imports, aliases, grants).
    pub created: usize,
    /// Objects the seed names that were there already.
    pub present: usize,
}

struct Seeder<'a> {
    processor: &'a Processor,
    store: &'a dyn Store,
    hsm: &'a HsmClient,
    defaults: &'a SeedDefaults,
    summary: SeedSummary,
}

fn failed(path: &str, message: impl std::fmt::Display) -> SeedError {
    SeedError::Apply {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn b64(v: &Value, field: &str, path: &str) -> Result<Vec<u8>, SeedError> {
    v.get(field)
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| failed(path, format!("the answer has no {field}")))
}

impl Seeder<'_> {
    /// Runs operation `op` as `account`'s root and records its outcome in
    /// the audit trail (the processor records the intent of a change).
    async fn call(
        &self,
        path: &str,
        (account, region): (&str, &str),
        op: &'static str,
        body: Value,
        key_id: Option<Uuid>,
    ) -> Result<Value, SeedError> {
        let region = Region::parse(region).map_err(|e| failed(path, e))?;
        let caller = Caller::root(account, SEED_ACCESS_KEY_ID, region);
        let bytes = serde_json::to_vec(&body).map_err(|e| failed(path, e))?;
        let (result, facts) = self
            .processor
            .dispatch_with_key_id(&caller, op, &bytes, None, key_id)
            .await;
        if let Some(audit) = self.processor.audit_log() {
            let mut event = AuditEvent::for_caller(&caller, op);
            event.user_agent = Some(SEED_ACCESS_KEY_ID.into());
            event.key_arns = facts.key_arns;
            event.grant_id = facts.grant_id;
            event.error = result
                .as_ref()
                .err()
                .map(|e| (e.type_name().to_owned(), e.to_string()));
            audit.record(event).await.map_err(|e| failed(path, e))?;
        }
        let out = result.map_err(|e| failed(path, format!("{op}: {}: {e}", e.type_name())))?;
        serde_json::from_slice(&out).map_err(|e| failed(path, e))
    }

    /// Reads that can refuse the seed, before anything is written.
    async fn preflight(&self, file: &SeedFile) -> Result<HashMap<Uuid, KeyRecord>, SeedError> {
        for (i, a) in file.accounts.iter().enumerate() {
            for (j, c) in a.credentials.iter().enumerate() {
                let path = format!("accounts[{i}].credentials[{j}]");
                let Some(rec) = self
                    .store
                    .get_access_key(&c.access_key_id)
                    .await
                    .map_err(|e| failed(&path, e))?
                else {
                    continue;
                };
                if rec.account_id != a.id {
                    return Err(failed(
                        &path,
                        format!(
                            "access key {} belongs to account {}",
                            c.access_key_id, rec.account_id
                        ),
                    ));
                }
                let same = admin::secret_matches(self.hsm, &rec, &c.secret_access_key.0)
                    .await
                    .map_err(|e| failed(&path, e))?;
                if !same {
                    return Err(failed(
                        &path,
                        format!("access key {} exists with another secret", c.access_key_id),
                    ));
                }
            }
        }
        let mut existing = HashMap::new();
        for (i, key) in file.keys.iter().enumerate() {
            let path = format!("keys[{i}]");
            let id = key_uuid(&key.id).ok_or_else(|| failed(&path, "not a key id"))?;
            let Some(rec) = self.store.get_key(id).await.map_err(|e| failed(&path, e))? else {
                continue;
            };
            let (account, region) = key_home(key, self.defaults);
            if rec.region != region {
                return Err(failed(
                    &path,
                    format!("key {id} exists in region {}, not {region}", rec.region),
                ));
            }
            let spec = key
                .key_spec
                .as_deref()
                .unwrap_or(KeySpec::SymmetricDefault.as_str());
            if rec.account_id != account {
                return Err(failed(
                    &path,
                    format!("key {id} exists in account {}", rec.account_id),
                ));
            }
            if rec.key_spec.as_str() != spec
                || (rec.origin == Origin::External) != key.material.is_some()
            {
                return Err(failed(
                    &path,
                    format!(
                        "key {id} exists as a {} key of origin {}",
                        rec.key_spec, rec.origin
                    ),
                ));
            }
            existing.insert(id, rec);
        }
        // A new key's policy must pass CreateKey's lockout check (its
        // owner's root can still change it), or CreateKey would refuse it
        // after the accounts before it were made.
        let create_key = operations::find(OPERATIONS, "CreateKey")
            .ok_or_else(|| failed("keys", "CreateKey is not in the operation table"))?;
        for (i, key) in file.keys.iter().enumerate() {
            let (Some(policy), Some(id)) = (&key.policy, key_uuid(&key.id)) else {
                continue;
            };
            if existing.contains_key(&id) {
                continue;
            }
            let (account, region) = key_home(key, self.defaults);
            let served =
                Region::parse(region).map_err(|e| failed(&format!("keys[{i}].region"), e))?;
            let caller = Caller::root(account, SEED_ACCESS_KEY_ID, served);
            let rq = RequestCtx::new(&caller, RequestMeta::default(), create_key);
            let arn = crate::arn::key_arn(region, account, id);
            validated(&caller, &rq.conditions(), &arn, &policy_text(policy), false).map_err(
                |e| {
                    failed(
                        &format!("keys[{i}].policy"),
                        format!("{}: {e}", e.type_name()),
                    )
                },
            )?;
        }
        Ok(existing)
    }

    async fn accounts(&mut self, file: &SeedFile) -> Result<(), SeedError> {
        for (i, a) in file.accounts.iter().enumerate() {
            let path = format!("accounts[{i}]");
            if self
                .store
                .get_account(&a.id)
                .await
                .map_err(|e| failed(&path, e))?
                .is_some()
            {
                self.summary.present += 1;
            } else {
                admin::create_account(self.store, Some(a.id.clone()))
                    .await
                    .map_err(|e| failed(&path, e))?;
                self.summary.created += 1;
            }
            for (j, c) in a.credentials.iter().enumerate() {
                let path = format!("{path}.credentials[{j}]");
                let known = self
                    .store
                    .get_access_key(&c.access_key_id)
                    .await
                    .map_err(|e| failed(&path, e))?;
                if known.is_some() {
                    self.summary.present += 1;
                    continue;
                }
                let pair = Some((c.access_key_id.clone(), c.secret_access_key.0.clone()));
                admin::create_access_key(self.store, self.hsm, &a.id, pair)
                    .await
                    .map_err(|e| failed(&path, e))?;
                self.summary.created += 1;
            }
        }
        Ok(())
    }

    async fn key(
        &mut self,
        path: &str,
        key: &SeedKey,
        existing: Option<&KeyRecord>,
    ) -> Result<(), SeedError> {
        let id = key_uuid(&key.id).ok_or_else(|| failed(path, "not a key id"))?;
        let home = key_home(key, self.defaults);
        let awaits_import = match existing {
            Some(rec) => {
                self.summary.present += 1;
                rec.state == KeyState::PendingImport
            }
            None => {
                let mut body = json!({
                    "KeySpec": key.key_spec.as_deref().unwrap_or(KeySpec::SymmetricDefault.as_str()),
                    "Description": key.description.as_deref().unwrap_or(""),
                    "Tags": tags_of(&key.tags),
                });
                if let Some(usage) = &key.key_usage {
                    body["KeyUsage"] = json!(usage);
                }
                if let Some(policy) = &key.policy {
                    body["Policy"] = json!(policy_text(policy));
                }
                if key.material.is_some() {
                    body["Origin"] = json!(Origin::External);
                }
                self.call(path, home, "CreateKey", body, Some(id)).await?;
                self.summary.created += 1;
                if let Some(days) = key.rotation_period_days {
                    let body = json!({"KeyId": id, "RotationPeriodInDays": days});
                    self.call(path, home, "EnableKeyRotation", body, None)
                        .await?;
                }
                key.material.is_some()
            }
        };
        if let (true, Some(material)) = (awaits_import, &key.material) {
            let params = self
                .call(
                    path,
                    home,
                    "GetParametersForImport",
                    json!({"KeyId": id, "WrappingAlgorithm": WRAPPING_ALGORITHM, "WrappingKeySpec": "RSA_2048"}),
                    None,
                )
                .await?;
            let public_key = b64(&params, "PublicKey", path)?;
            let token = b64(&params, "ImportToken", path)?;
            let clear = material_bytes(&material.0)
                .ok_or_else(|| failed(path, "material is not base64"))?;
            let wrapped = strongroom_crypto::rsa_oaep_encrypt(
                &public_key,
                strongroom_crypto::OaepHash::Sha256,
                &clear,
            )
            .map_err(|e| failed(path, e))?;
            drop(clear);
            let engine = base64::engine::general_purpose::STANDARD;
            let body = json!({
                "KeyId": id,
                "ImportToken": engine.encode(token),
                "EncryptedKeyMaterial": engine.encode(wrapped),
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
            });
            self.call(path, home, "ImportKeyMaterial", body, None)
                .await?;
            self.summary.created += 1;
        }
        if existing.is_none() && key.enabled == Some(false) {
            self.call(path, home, "DisableKey", json!({"KeyId": id}), None)
                .await?;
        }
        Ok(())
    }

    async fn alias(&mut self, path: &str, name: &str, key: &SeedKey) -> Result<(), SeedError> {
        let home = key_home(key, self.defaults);
        let id = key_uuid(&key.id).ok_or_else(|| failed(path, "not a key id"))?;
        match self
            .call(path, home, "DescribeKey", json!({"KeyId": name}), None)
            .await
        {
            Ok(found) => {
                self.summary.present += 1;
                let target = found["KeyMetadata"]["KeyId"].as_str().unwrap_or_default();
                if target != id.to_string() {
                    // Someone moved it since: a seed never changes what exists.
                    tracing::warn!(alias = name, target, seed = %id, "seeded alias points elsewhere; left as it is");
                }
                Ok(())
            }
            Err(SeedError::Apply { message, .. }) if message.contains("NotFoundException") => {
                let body = json!({"AliasName": name, "TargetKeyId": id});
                self.call(path, home, "CreateAlias", body, None).await?;
                self.summary.created += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn grant(
        &mut self,
        path: &str,
        grant: &SeedGrant,
        key: &SeedKey,
    ) -> Result<(), SeedError> {
        let home = key_home(key, self.defaults);
        let id = key_uuid(&key.id).ok_or_else(|| failed(path, "not a key id"))?;
        let mut marker: Option<String> = None;
        loop {
            let mut body = json!({"KeyId": id, "Limit": 100});
            if let Some(m) = &marker {
                body["Marker"] = json!(m);
            }
            let page = self.call(path, home, "ListGrants", body, None).await?;
            let grants = page["Grants"].as_array().cloned().unwrap_or_default();
            if grants
                .iter()
                .any(|g| g["Name"].as_str() == Some(grant.name.as_str()))
            {
                self.summary.present += 1;
                return Ok(());
            }
            marker = page["NextMarker"].as_str().map(str::to_owned);
            if page["Truncated"] != json!(true) || marker.is_none() {
                break;
            }
        }
        let mut body = json!({
            "KeyId": id,
            "Name": grant.name,
            "GranteePrincipal": grant.grantee_principal,
            "Operations": grant.operations,
        });
        if let Some(r) = &grant.retiring_principal {
            body["RetiringPrincipal"] = json!(r);
        }
        if let Some(c) = &grant.constraints {
            let mut constraints = json!({});
            if let Some(eq) = &c.encryption_context_equals {
                constraints["EncryptionContextEquals"] = json!(eq);
            }
            if let Some(sub) = &c.encryption_context_subset {
                constraints["EncryptionContextSubset"] = json!(sub);
            }
            body["Constraints"] = constraints;
        }
        self.call(path, home, "CreateGrant", body, None).await?;
        self.summary.created += 1;
        Ok(())
    }
}

impl SeedFile {
    /// Creates whatever of this (validated) file is missing. Objects that
    /// exist are left as they are, so applying it again changes nothing.
    pub async fn apply(
        &self,
        defaults: &SeedDefaults,
        processor: &Processor,
        store: &dyn Store,
        hsm: &HsmClient,
    ) -> Result<SeedSummary, SeedError> {
        self.validate(defaults)?;
        let mut seeder = Seeder {
            processor,
            store,
            hsm,
            defaults,
            summary: SeedSummary::default(),
        };
        let existing = seeder.preflight(self).await?;
        seeder.accounts(self).await?;
        for (i, key) in self.keys.iter().enumerate() {
            let id = key_uuid(&key.id);
            let known = id.and_then(|id| existing.get(&id));
            seeder.key(&format!("keys[{i}]"), key, known).await?;
        }
        for (i, alias) in self.aliases.iter().enumerate() {
            let key = self.key_named(&alias.key)?;
            seeder
                .alias(&format!("aliases[{i}]"), &alias.name, key)
                .await?;
        }
        for (i, grant) in self.grants.iter().enumerate() {
            let key = self.key_named(&grant.key)?;
            seeder.grant(&format!("grants[{i}]"), grant, key).await?;
        }
        Ok(seeder.summary)
    }

    /// The seeded key with id `id` (validation has checked it exists).
    fn key_named(&self, id: &str) -> Result<&SeedKey, SeedError> {
        self.keys
            .iter()
            .find(|k| k.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| failed(id, "not a key of this seed file"))
    }
}
