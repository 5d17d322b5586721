//! The operation table and the dispatcher generated from it. One row per
//! `X-Amz-Target` operation says how it is answered, what it is authorized
//! on, whether it takes an encryption context and which grant operations
//! allow it; the same row names its handler. Nothing else lists operations.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::audit::AuditEvent;
use crate::auth::Caller;
use crate::authz::operations::{self, Effect, Operation, Resources, Route};
use crate::authz::{AuditFacts, RequestCtx, RequestMeta};
use crate::error::KmsError;
use crate::processor::Processor;

pub(crate) fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, KmsError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        // serde would also accept a JSON array as a struct, positionally.
        Some(b'{') => {}
        Some(_) => {
            return Err(KmsError::Serialization(
                "The request body must be a JSON object.".into(),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and problem without echoing data.
        KmsError::Serialization(format!("Could not parse the request body: {e}"))
    })
}

/// A parsed request whose members satisfy AWS's model (every broken
/// constraint reported at once, as AWS does, before the operation runs).
fn valid<T: crate::validate::Validate>(operation: &'static str, request: T) -> Result<T, KmsError> {
    crate::validate::check(operation, &request)?;
    Ok(request)
}

fn json<T: Serialize>(value: T) -> Result<Vec<u8>, KmsError> {
    crate::protocol::to_json_exact(&value)
        .map_err(|e| KmsError::Internal(format!("response encoding failed: {e}")))
}

/// Whether a row carries a mark (at most one a row): `#[via_proof]` lets a
/// service run it for a customer with an authentication proof; `#[random]`
/// lets a keyless row draw random bytes from the module. An unknown mark
/// does not compile.
macro_rules! marked {
    ($want:ident;) => {
        false
    };
    (via_proof; via_proof) => {
        true
    };
    (via_proof; random) => {
        false
    };
    (random; random) => {
        true
    };
    (random; via_proof) => {
        false
    };
}

/// Generates `OPERATIONS` and `Processor::serve` from one list of rows:
/// `Name => handler(extra args) { resources, context, grants [..], halves [..] }`
/// for served operations (optionally marked `#[via_proof]` or `#[random]`), `Name =>
/// unsupported` for known unsupported ones.
macro_rules! operation_table {
    (
        served { $(
            $(#[$mark:ident])?
            $name:ident => $handler:ident ( $($arg:expr),* ) {
                $res:ident, context: $ctx:literal,
                grants: [$($grant:literal),*], halves: [$($half:literal),*],
                effect: $effect:ident
            }
        )* }
        unsupported { $($unsupported:ident)* }
    ) => {
        /// Every operation the endpoint knows, one row each.
        pub const OPERATIONS: &[Operation] = &[
            $(Operation {
                name: stringify!($name),
                action: concat!("kms:", stringify!($name)),
                route: Route::Served,
                resources: Resources::$res,
                context: $ctx,
                grant_operations: &[$($grant),*],
                halves: &[$($half),*],
                effect: Effect::$effect,
                via_proof: marked!(via_proof; $($mark)?),
                random: marked!(random; $($mark)?),
            },)*
            $(Operation {
                name: stringify!($unsupported),
                action: concat!("kms:", stringify!($unsupported)),
                route: Route::Unsupported,
                resources: Resources::Keyless,
                context: false,
                grant_operations: &[],
                halves: &[],
                effect: Effect::Reads,
                via_proof: false,
                random: false,
            },)*
        ];

        impl Processor {
            /// Runs the handler of a served row.
            async fn serve(
                &self,
                rq: &mut RequestCtx<'_>,
                body: &[u8],
            ) -> Result<Vec<u8>, KmsError> {
                let name = rq.operation().name;
                match name {
                    // Boxed: this future would otherwise be as large as
                    // the largest handler's, and be copied as a whole.
                    $(stringify!($name) => json(Box::pin(self.$handler(rq, valid(name, parse(body)?)? $(, $arg)*)).await?),)*
                    other => Err(KmsError::Internal(format!("{other} has no handler"))),
                }
            }
        }
    };
}

operation_table! {
    served {
        CreateKey => create_key() {
            Keyless, context: false, grants: [], halves: ["kms:ExposeKeyMaterial"], effect: Writes
        }
        #[via_proof]
        DescribeKey => describe_key() { Key, context: false, grants: ["DescribeKey"], halves: [], effect: Reads }
        ListKeys => list_keys() { Keyless, context: false, grants: [], halves: [], effect: Reads }
        UpdateKeyDescription => update_key_description() { Key, context: false, grants: [], halves: [], effect: Writes }
        EnableKey => set_enabled(true) { Key, context: false, grants: [], halves: [], effect: Writes }
        DisableKey => set_enabled(false) { Key, context: false, grants: [], halves: [], effect: Writes }
        ScheduleKeyDeletion => schedule_key_deletion() { Key, context: false, grants: [], halves: [], effect: Writes }
        CancelKeyDeletion => cancel_key_deletion() { Key, context: false, grants: [], halves: [], effect: Writes }
        CreateAlias => create_alias() { AliasAndKeys, context: false, grants: [], halves: [], effect: Writes }
        UpdateAlias => update_alias() { AliasAndKeys, context: false, grants: [], halves: [], effect: Writes }
        DeleteAlias => delete_alias() { AliasAndKeys, context: false, grants: [], halves: [], effect: Writes }
        ListAliases => list_aliases() { Keyless, context: false, grants: [], halves: [], effect: Reads }
        #[via_proof]
        Encrypt => encrypt() { Key, context: true, grants: ["Encrypt"], halves: [], effect: Reads }
        #[via_proof]
        Decrypt => decrypt() { Key, context: true, grants: ["Decrypt"], halves: [], effect: Reads }
        #[via_proof]
        ReEncrypt => re_encrypt() {
            KeyPair, context: true, grants: ["ReEncryptFrom", "ReEncryptTo"],
            halves: ["kms:ReEncryptFrom", "kms:ReEncryptTo"], effect: Reads
        }
        #[via_proof]
        GenerateDataKey => generate_data_key(true) {
            Key, context: true, grants: ["GenerateDataKey"], halves: [], effect: Reads
        }
        #[via_proof]
        GenerateDataKeyWithoutPlaintext => generate_data_key(false) {
            Key, context: true, grants: ["GenerateDataKeyWithoutPlaintext"], halves: [], effect: Reads
        }
        #[random]
        GenerateRandom => generate_random() { Keyless, context: false, grants: [], halves: [], effect: Reads }
        EnableKeyRotation => enable_key_rotation() { Key, context: false, grants: [], halves: [], effect: Writes }
        DisableKeyRotation => disable_key_rotation() { Key, context: false, grants: [], halves: [], effect: Writes }
        GetKeyRotationStatus => get_key_rotation_status() { Key, context: false, grants: [], halves: [], effect: Reads }
        RotateKeyOnDemand => rotate_key_on_demand() { Key, context: false, grants: [], halves: [], effect: Writes }
        ListKeyRotations => list_key_rotations() { Key, context: false, grants: [], halves: [], effect: Reads }
        #[via_proof]
        GenerateDataKeyPair => generate_data_key_pair(true) {
            Key, context: true, grants: ["GenerateDataKeyPair"], halves: [], effect: Reads
        }
        #[via_proof]
        GenerateDataKeyPairWithoutPlaintext => generate_data_key_pair(false) {
            Key, context: true, grants: ["GenerateDataKeyPairWithoutPlaintext"], halves: [], effect: Reads
        }
        GetParametersForImport => get_parameters_for_import() { Key, context: false, grants: [], halves: [], effect: Writes }
        ImportKeyMaterial => import_key_material() { Key, context: false, grants: [], halves: [], effect: Writes }
        DeleteImportedKeyMaterial => delete_imported_key_material() { Key, context: false, grants: [], halves: [], effect: Writes }
        DeriveSharedSecret => derive_shared_secret() {
            Key, context: false, grants: ["DeriveSharedSecret"], halves: [], effect: Reads
        }
        // Extensions (docs/extensions.md).
        ShredKey => shred_key() { Key, context: false, grants: [], halves: [], effect: Writes }
        RevokeKey => revoke_key() { Key, context: false, grants: [], halves: [], effect: Writes }
        SuspendKey => suspend_key() { Key, context: false, grants: [], halves: [], effect: Writes }
        UpdateSuspensionOwner => update_suspension_owner() { Key, context: false, grants: [], halves: [], effect: Writes }
        // Writes: with ReturnDerivedKey it marks the key exposed for ever.
        DeriveKey => derive_key() {
            Key, context: true, grants: [], halves: ["kms:RevealDerivedKey"], effect: Writes
        }
        ReinstateKey => reinstate_key() { Key, context: false, grants: [], halves: [], effect: Writes }
        #[via_proof]
        Sign => sign() { Key, context: false, grants: ["Sign"], halves: [], effect: Reads }
        #[via_proof]
        Verify => verify() { Key, context: false, grants: ["Verify"], halves: [], effect: Reads }
        #[via_proof]
        GetPublicKey => get_public_key() { Key, context: false, grants: ["GetPublicKey"], halves: [], effect: Reads }
        #[via_proof]
        GenerateMac => generate_mac() { Key, context: false, grants: ["GenerateMac"], halves: [], effect: Reads }
        #[via_proof]
        VerifyMac => verify_mac() { Key, context: false, grants: ["VerifyMac"], halves: [], effect: Reads }
        PutKeyPolicy => put_key_policy() { Key, context: false, grants: [], halves: [], effect: Writes }
        GetKeyPolicy => get_key_policy() { Key, context: false, grants: [], halves: [], effect: Reads }
        ListKeyPolicies => list_key_policies() { Key, context: false, grants: [], halves: [], effect: Reads }
        CreateGrant => create_grant() { Key, context: false, grants: ["CreateGrant"], halves: [], effect: Writes }
        ListGrants => list_grants() { Key, context: false, grants: [], halves: [], effect: Reads }
        ListRetirableGrants => list_retirable_grants() { Keyless, context: false, grants: [], halves: [], effect: Reads }
        RetireGrant => retire_grant() { Grant, context: false, grants: ["RetireGrant"], halves: [], effect: Writes }
        RevokeGrant => revoke_grant() { Key, context: false, grants: [], halves: [], effect: Writes }
        TagResource => tag_resource() { Key, context: false, grants: [], halves: [], effect: Writes }
        UntagResource => untag_resource() { Key, context: false, grants: [], halves: [], effect: Writes }
        ListResourceTags => list_resource_tags() { Key, context: false, grants: [], halves: [], effect: Reads }
        // Multi-Region keys: kms:CreateKey in the replica's Region (identity
        // policy), kms:UpdatePrimaryRegion on the new primary too.
        ReplicateKey => replicate_key() {
            Key, context: false, grants: [], halves: ["kms:CreateKey"], effect: Writes
        }
        UpdatePrimaryRegion => update_primary_region() {
            Key, context: false, grants: [], halves: ["kms:UpdatePrimaryRegion"], effect: Writes
        }
    }
    unsupported {
        ConnectCustomKeyStore
        CreateCustomKeyStore
        Decapsulate
        DeleteCustomKeyStore
        DescribeCustomKeyStores
        DisconnectCustomKeyStore
        Encapsulate
        GetKeyLastUsage
        UpdateCustomKeyStore
    }
}

/// The `GrantOperation` names a grant may list, from the table.
pub fn grant_operations() -> Vec<&'static str> {
    operations::grant_operations(OPERATIONS)
}

impl Processor {
    /// Runs operation `op` for `caller` with JSON `body`; also returns
    /// what the audit trail should record. A state-changing operation
    /// records `intent` (with the keys it resolved) before it changes
    /// anything; `AuditFacts::intent_recorded` says whether it did.
    pub async fn dispatch(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        op: &str,
        body: &[u8],
        intent: Option<AuditEvent>,
    ) -> (Result<Vec<u8>, KmsError>, AuditFacts) {
        let Some(operation) = operations::find(OPERATIONS, op) else {
            let unknown = KmsError::UnknownOperation(format!("Unknown operation {op}"));
            return (Err(unknown), AuditFacts::default());
        };
        self.dispatch_row(caller, meta, operation, body, intent)
            .await
    }

    /// Like [`Processor::dispatch`], for in-process callers only (seed
    /// files): a CreateKey gives its new key `key_id` rather than a random
    /// id. Nothing that parses a request reaches this.
    pub(crate) async fn dispatch_with_key_id(
        &self,
        caller: &Caller,
        op: &str,
        body: &[u8],
        intent: Option<AuditEvent>,
        key_id: Option<uuid::Uuid>,
    ) -> (Result<Vec<u8>, KmsError>, AuditFacts) {
        let Some(row) = operations::find(OPERATIONS, op) else {
            let unknown = KmsError::UnknownOperation(format!("Unknown operation {op}"));
            return (Err(unknown), AuditFacts::default());
        };
        let mut rq = RequestCtx::new(caller, RequestMeta::default(), row).with_fixed_key_id(key_id);
        if let Some(intent) = intent {
            rq = rq.with_intent(intent);
        }
        let result = strongroom_hsm_proto::routing::with_pins(self.route(&mut rq, body)).await;
        (result, rq.into_audit())
    }

    /// Runs the handler named by `row` under what `row` says it must
    /// authorize. `dispatch` passes the table's own row; tests pass an
    /// altered copy to prove that a handler whose row is not satisfied
    /// refuses before it changes anything.
    #[doc(hidden)]
    pub async fn dispatch_row(
        &self,
        caller: &Caller,
        meta: RequestMeta,
        row: &'static Operation,
        body: &[u8],
        intent: Option<AuditEvent>,
    ) -> (Result<Vec<u8>, KmsError>, AuditFacts) {
        let mut rq = RequestCtx::new(caller, meta, row);
        if let Some(intent) = intent {
            rq = rq.with_intent(intent);
        }
        let result = strongroom_hsm_proto::routing::with_pins(self.route(&mut rq, body)).await;
        (result, rq.into_audit())
    }

    async fn route(&self, rq: &mut RequestCtx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        let operation = rq.operation();
        if operation.is_keyless() {
            crate::authz::authorize_keyless(rq)?;
        }
        if operation.route == Route::Unsupported {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is not supported by this Strongroom version.",
                operation.name
            )));
        }
        let out = self.serve(rq, body).await?;
        // A handler that changes state cannot do so before its row is
        // satisfied (`Processor::begin_change`); one that only reads and
        // answered without deciding on every resource its row names is a
        // bug too: refuse to hand out its answer.
        if !rq.decisions().cover(operation.resources) {
            tracing::error!(
                operation = operation.name,
                "operation finished without authorizing its resources"
            );
            return Err(KmsError::Internal(format!(
                "{} finished without authorizing its resources",
                operation.name
            )));
        }
        Ok(out)
    }
}
