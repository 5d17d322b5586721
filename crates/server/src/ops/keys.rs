//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use strongroom_hsm_proto::{KeyRef, KeySpecCode};
use strongroom_store::{KeyRecord, KeyState, KeyVersionRecord, Tag};
use uuid::Uuid;

use crate::authz::RequestCtx;
use crate::clock::now_epoch;
use crate::error::KmsError;
use crate::ops::asymmetric;
use crate::processor::Processor;
use crate::protocol::*;
use crate::validate::shapes;

/// AWS's tagging rules.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), KmsError> {
    if tags.len() > 50 {
        return Err(KmsError::Tag("A key can have at most 50 tags.".into()));
    }
    // Lengths are the model's (`validate`); these are the service's rules.
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        if t.key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tag keys beginning with 'aws:' are reserved.".into(),
            ));
        }
        if !seen.insert(t.key.as_str()) {
            return Err(KmsError::Tag(format!("Duplicate tag key '{}'.", t.key)));
        }
    }
    Ok(())
}

/// The module's spec code and the key usage for a CreateKey request: AWS's
/// pairing rules, and UnsupportedOperation for specs not served yet.
pub(crate) fn spec_and_usage(
    spec: &str,
    usage: Option<&str>,
) -> Result<(KeySpecCode, String), KmsError> {
    // Values AWS does not know were refused with the request (`validate`);
    // these AWS has and Strongroom does not serve.
    if usage == Some("ENCAPSULATE_DECAPSULATE") {
        return Err(KmsError::UnsupportedOperation(
            "KeyUsage ENCAPSULATE_DECAPSULATE is not supported; supported: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT.".into(),
        ));
    }
    let Some(code) = KeySpecCode::from_aws(spec) else {
        let served: Vec<&str> = shapes::KEY_SPEC
            .iter()
            .copied()
            .filter(|s| KeySpecCode::from_aws(s).is_some())
            .collect();
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec} is not supported; supported: {}.",
            served.join(", ")
        )));
    };
    if let Some(asym) = code.asymmetric() {
        return match usage {
            None => Err(KmsError::Validation(format!(
                "KeyUsage is required for KeySpec {spec}."
            ))),
            Some("SIGN_VERIFY") => Ok((code, "SIGN_VERIFY".into())),
            Some("ENCRYPT_DECRYPT") if asym.is_rsa() => Ok((code, "ENCRYPT_DECRYPT".into())),
            Some("KEY_AGREEMENT") if asym.agrees_keys() => Ok((code, "KEY_AGREEMENT".into())),
            Some(u) => Err(KmsError::Validation(format!(
                "KeyUsage {u} is not compatible with KeySpec {spec}."
            ))),
        };
    }
    let expected = if code.hmac().is_some() {
        "GENERATE_VERIFY_MAC"
    } else {
        "ENCRYPT_DECRYPT"
    };
    match usage {
        None if code.hmac().is_some() => Err(KmsError::Validation(format!(
            "KeyUsage GENERATE_VERIFY_MAC is required for KeySpec {spec}."
        ))),
        Some(u) if u != expected => Err(KmsError::Validation(format!(
            "KeyUsage {u} is not compatible with KeySpec {spec}."
        ))),
        _ => Ok((code, expected.to_string())),
    }
}

fn epoch_f64(t: i64) -> f64 {
    t as f64
}

impl Processor {
    /// `KeyMetadata` for `key`.
    pub(crate) fn metadata(&self, key: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: key.account_id.clone(),
            key_id: crate::multi_region::key_id(key),
            arn: self.key_arn(key),
            creation_date: epoch_f64(key.created_at),
            enabled: key.state == KeyState::Enabled,
            description: key.description.clone(),
            key_usage: key.key_usage.clone(),
            key_state: key.state.as_str().to_owned(),
            deletion_date: key.deletion_date.map(epoch_f64),
            pending_deletion_window_in_days: key.pending_window_days,
            origin: key.origin.clone(),
            key_manager: "CUSTOMER",
            customer_master_key_spec: key.key_spec.clone(),
            key_spec: key.key_spec.clone(),
            encryption_algorithms: match (key.key_usage.as_str(), asymmetric::is_asymmetric(key)) {
                ("ENCRYPT_DECRYPT", false) => vec!["SYMMETRIC_DEFAULT"],
                _ => asymmetric::algorithms(key).1,
            },
            signing_algorithms: asymmetric::algorithms(key).0,
            key_agreement_algorithms: asymmetric::key_agreement_algorithms(key),
            expiration_model: (key.origin == "EXTERNAL" && key.state != KeyState::PendingImport)
                .then(|| {
                    if key.import_valid_to.is_some() {
                        "KEY_MATERIAL_EXPIRES"
                    } else {
                        "KEY_MATERIAL_DOES_NOT_EXPIRE"
                    }
                }),
            valid_to: key.import_valid_to.map(epoch_f64),
            exposed: key.exposed,
            storage_class: key.volatile.then_some("VOLATILE"),
            module_group: key.module_group.clone(),
            mac_algorithms: crate::ops::mac::mac_algorithm(&key.key_spec)
                .into_iter()
                .collect(),
            multi_region: key.multi_region_id.is_some(),
            multi_region_configuration: None,
        }
    }

    /// `metadata`, with a multi-Region key's `MultiRegionConfiguration`
    /// (every region's copy, read from the store).
    pub(crate) async fn full_metadata(&self, key: &KeyRecord) -> Result<KeyMetadata, KmsError> {
        let mut m = self.metadata(key);
        m.multi_region_configuration = self.multi_region_configuration(key).await?;
        Ok(m)
    }

    pub(crate) async fn create_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: CreateKeyRequest,
    ) -> Result<KeyMetadataResponse, KmsError> {
        let caller = rq.caller();
        let multi_region = req.multi_region == Some(true);
        if multi_region {
            let origin = req.origin.as_deref().unwrap_or("AWS_KMS");
            crate::ops::multi_region::check_creatable(&req, origin, rq.fixed_key_id())?;
        }
        let description = req.description.unwrap_or_default();
        if let (Some(a), Some(b)) = (&req.key_spec, &req.customer_master_key_spec)
            && a != b
        {
            return Err(KmsError::Validation(
                "KeySpec and CustomerMasterKeySpec disagree.".into(),
            ));
        }
        let spec = req
            .key_spec
            .or(req.customer_master_key_spec)
            .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
        let (code, usage) = spec_and_usage(&spec, req.key_usage.as_deref())?;
        let origin = req.origin.unwrap_or_else(|| "AWS_KMS".into());
        match origin.as_str() {
            "AWS_KMS" => {}
            "EXTERNAL" if spec == "SYMMETRIC_DEFAULT" => {}
            "EXTERNAL" => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "Importing {spec} key material is not supported yet; only SYMMETRIC_DEFAULT."
                )));
            }
            // AWS_CLOUDHSM, EXTERNAL_KEY_STORE; values AWS does not know
            // were refused with the request (`validate`).
            other => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "Origin {other} (custom key stores) is not supported; supported: AWS_KMS, EXTERNAL."
                )));
            }
        }
        // A multi-Region key: its shared id, and this region's row of it.
        let shared = multi_region.then(crate::multi_region::new_id);
        let new_id = match (shared, rq.fixed_key_id()) {
            (Some(shared), _) => crate::multi_region::row_id(shared, caller.region.as_str()),
            // A seed file's fixed id: refused if any account has it.
            (None, Some(id)) if self.load_key(id).await?.is_some() => {
                return Err(KmsError::AlreadyExists(format!("Key {id} already exists.")));
            }
            (None, Some(id)) => id,
            (None, None) => Uuid::new_v4(),
        };
        let policy = match &req.policy {
            None => None,
            Some(text) => Some(crate::ops::key_policy::validated(
                caller,
                &rq.conditions(),
                &crate::arn::key_arn_named(
                    caller.region.as_str(),
                    &caller.account_id,
                    &shared.map_or_else(|| new_id.to_string(), crate::multi_region::display),
                ),
                text,
                req.bypass_policy_lockout_safety_check == Some(true),
            )?),
        };
        if req.custom_key_store_id.is_some() || req.xks_key_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported.".into(),
            ));
        }
        let tags = req.tags.unwrap_or_default();
        check_tags(&tags)?;

        let id = new_id;
        let version = KeyRef {
            key_id: shared.unwrap_or(id),
            version: 1,
        };
        let now = now_epoch();
        let external = origin == "EXTERNAL";
        let key = KeyRecord {
            id,
            account_id: caller.account_id.clone(),
            region: caller.region.to_string(),
            description,
            state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            key_spec: spec,
            key_usage: usage,
            origin,
            created_at: now,
            deletion_date: None,
            pending_window_days: None,
            current_version: if external { 0 } else { 1 },
            tags,
            rotation_period_days: None,
            next_rotation_at: None,
            on_demand_rotations: 0,
            import_valid_to: None,
            import_fingerprint: None,
            suspension_fingerprint: None,
            exposed: req.expose_key_material == Some(true),
            volatile: req.storage_class.as_deref() == Some("VOLATILE"),
            policy,
            module_group: req.module_group.clone(),
            multi_region_id: shared,
            multi_region_primary: shared.is_some(),
            revision: 0,
        };
        if let Some(group) = &key.module_group {
            let valid = group.len() <= 256
                && group.split_once('=').is_some_and(|(k, v)| {
                    !k.is_empty()
                        && !v.is_empty()
                        && group
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"=_-.:/".contains(&b))
                });
            if !valid {
                return Err(KmsError::Validation(format!(
                    "ModuleGroup '{group}' must be KEY=VALUE (letters, digits, _-.:/)."
                )));
            }
            if key.volatile {
                return Err(KmsError::Validation(
                    "VOLATILE keys live in every member; they cannot be pinned to a ModuleGroup."
                        .into(),
                ));
            }
            // Every module call for this key from here on stays in the group.
            strongroom_hsm_proto::routing::pin(group);
        }
        match req.storage_class.as_deref() {
            None | Some("DURABLE") | Some("VOLATILE") => {}
            Some(other) => {
                return Err(KmsError::Validation(format!(
                    "StorageClass {other} is not DURABLE or VOLATILE."
                )));
            }
        }
        if key.volatile && (external || key.exposed || code.asymmetric().is_some()) {
            return Err(KmsError::Validation(
                "VOLATILE keys are symmetric or HMAC keys of Origin AWS_KMS, never exposed.".into(),
            ));
        }
        let owner = req.suspension_owner_public_key.as_ref();
        if owner.is_some() && (external || key.exposed || key.volatile) {
            return Err(KmsError::Validation(
                "SuspensionOwnerPublicKey is for keys of Origin AWS_KMS that are neither exposed nor VOLATILE."
                    .into(),
            ));
        }
        if key.exposed {
            // Material in clear needs a key policy that names
            // kms:ExposeKeyMaterial: kms:* (the default policy) never does.
            self.authorize_also(rq, "kms:ExposeKeyMaterial", &None, &key)
                .await?;
        }
        // Everything is checked: the intent record names the new key, and
        // only now may anything change.
        rq.creating_key(id, &self.key_arn(&key));
        rq.also_covers(key.material_id());
        let change = self.begin_change(rq).await?;
        if key.volatile {
            let ekt = self
                .module_for_change(&change)
                .generate_volatile_key(version, code)
                .await?;
            // Into every member's memory; the transient EKT is dropped here.
            let mut installed = 0;
            for (module, answer) in self
                .module_for_change(&change)
                .call_all(strongroom_hsm_proto::Request::InstallVolatileKey { key: version, ekt })
                .await?
            {
                match answer {
                    Ok(_) => installed += 1,
                    Err(e) => {
                        tracing::warn!(%module, error = %e, "a module did not take a volatile key")
                    }
                }
            }
            change.store().create_key(&key, None).await?;
            let key = self.cache_key(key);
            tracing::info!(key_id = %id, modules = installed, "volatile key created");
            return Ok(KeyMetadataResponse {
                key_metadata: self.metadata(&key),
                key_material: None,
            });
        }
        if key.exposed && external {
            return Err(KmsError::Validation(
                "ExposeKeyMaterial does not apply to Origin EXTERNAL: you hold the material."
                    .into(),
            ));
        }
        if external {
            // No material until ImportKeyMaterial.
            change.store().create_key(&key, None).await?;
            let key = self.cache_key(key);
            tracing::info!(key_id = %id, account = %caller.account_id, "key created, awaiting import");
            return Ok(KeyMetadataResponse {
                key_metadata: self.metadata(&key),
                key_material: None,
            });
        }
        let (ekt, material) = self
            .first_version(&change, version, code, key.exposed, owner)
            .await?;
        let v = KeyVersionRecord {
            key_id: id,
            version: 1,
            ekt: ekt.0.clone(),
            created_at: now,
        };
        change.store().create_key(&key, Some(&v)).await?;
        let key = self.cache_new_key(key, version, ekt);
        tracing::info!(key_id = %id, account = %caller.account_id, exposed = key.exposed, "key created");
        Ok(KeyMetadataResponse {
            key_metadata: self.full_metadata(&key).await?,
            key_material: material.map(SecretBlob),
        })
    }

    pub(crate) async fn describe_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<KeyMetadataResponse, KmsError> {
        let key = self.resolve(rq, &req.key_id, true).await?;
        Ok(KeyMetadataResponse {
            key_metadata: self.full_metadata(&key).await?,
            key_material: None,
        })
    }

    pub(crate) async fn list_keys(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ListRequest,
    ) -> Result<ListKeysResponse, KmsError> {
        let caller = rq.caller();
        let limit = page_limit(req.limit, 1000, 100);
        let after = match req.marker.as_deref() {
            None => None,
            Some(m) => Some(
                Uuid::parse_str(m).map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
            ),
        };
        let mut rows = self
            .reads()
            .list_keys(&caller.account_id, caller.region.as_str(), after, limit + 1)
            .await?;
        let truncated = rows.len() > limit;
        rows.truncate(limit);
        let next_marker = truncated
            .then(|| rows.last().map(|k| k.id.to_string()))
            .flatten();
        Ok(ListKeysResponse {
            keys: rows
                .iter()
                .map(|k| KeyListEntry {
                    key_id: crate::multi_region::key_id(k),
                    key_arn: self.key_arn(k),
                })
                .collect(),
            next_marker,
            truncated,
        })
    }

    /// Applies `apply` to the caller's key under the write lock, once the
    /// request may change it (`begin_change`).
    pub(crate) async fn modify_key<F>(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
        apply: F,
    ) -> Result<std::sync::Arc<KeyRecord>, KmsError>
    where
        F: FnOnce(&Processor, &mut KeyRecord) -> Result<(), KmsError>,
    {
        let _guard = self.write_lock.lock().await;
        let (change, mut key) = self.key_for_change(rq, key_id).await?;
        apply(self, &mut key)?;
        self.save_key(&change, key).await
    }

    /// For a change under the write lock (the caller holds it): the key
    /// `key_id` names, authorized, read from the store and its state
    /// checked, with the permission to change it. Saving it fails if
    /// anything changed the key since this read.
    async fn key_for_change(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
    ) -> Result<(crate::processor::Change, KeyRecord), KmsError> {
        // As AWS: these take a key id or key ARN, never an alias, so a
        // moved alias cannot redirect a deletion or disablement.
        let current = self.resolve(rq, key_id, false).await?;
        let change = self.begin_change(rq).await?;
        // Read what we change from the store, not the cache: another
        // frontend may have changed it.
        let key =
            self.reads().get_key(current.id).await?.ok_or_else(|| {
                KmsError::NotFound(format!("Key '{}' does not exist", current.id))
            })?;
        self.check_key_state(rq.operation().name, &key)?;
        Ok((change, key))
    }

    pub(crate) async fn update_key_description(
        &self,
        rq: &mut RequestCtx<'_>,
        req: UpdateKeyDescriptionRequest,
    ) -> Result<Empty, KmsError> {
        let description = req
            .description
            .ok_or_else(|| crate::validate::null("description"))?;
        self.modify_key(rq, &req.key_id, |_, k| {
            k.description = description;
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn set_enabled(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
        enabled: bool,
    ) -> Result<Empty, KmsError> {
        self.modify_key(rq, &req.key_id, |_, k| {
            k.state = if enabled {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn schedule_key_deletion(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        // In 7..=30 (`validate`).
        let days = req.pending_window_in_days.unwrap_or(30);
        let days = days as u32;
        let when = now_epoch() + i64::from(days) * 86_400;
        let _guard = self.write_lock.lock().await;
        let (change, mut k) = self.key_for_change(rq, &req.key_id).await?;
        // Counted after the key was read, under the lock: a replica made
        // since (by another frontend) changed the primary's revision, so
        // the save below fails rather than orphan it.
        let replicas = self.replica_count(&k).await?;
        crate::ops::multi_region::check_deletable(self, &k, replicas)?;
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(when);
        k.pending_window_days = Some(days);
        let key = self.save_key(&change, k).await?;
        tracing::info!(key_id = %key.id, deletion_date = when, "key deletion scheduled");
        Ok(ScheduleKeyDeletionResponse {
            key_id: self.key_arn(&key),
            deletion_date: epoch_f64(when),
            key_state: "PendingDeletion",
            pending_window_in_days: days,
        })
    }

    pub(crate) async fn cancel_key_deletion(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        let key = self
            .modify_key(rq, &req.key_id, |_, k| {
                // A key whose imported material is gone goes back to waiting for it.
                k.state = if k.current_version == 0 && k.origin == "EXTERNAL" {
                    KeyState::PendingImport
                } else {
                    KeyState::Disabled
                };
                k.deletion_date = None;
                k.pending_window_days = None;
                Ok(())
            })
            .await?;
        Ok(KeyIdResponse {
            key_id: self.key_arn(&key),
        })
    }
}

/// The page size for a `Limit` (in the model's 1..=1000, `validate`):
/// at most `max`, as AWS's list operations return.
pub(crate) fn page_limit(limit: Option<i64>, max: usize, default: usize) -> usize {
    limit.map_or(default, |l| {
        usize::try_from(l).unwrap_or(default).clamp(1, max)
    })
}
