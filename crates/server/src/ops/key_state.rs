//! AWS's key-state table: what each operation answers for a key in each
//! state, from "Key states of AWS KMS keys"
//! (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html,
//! table and footnotes [1]–[10]). One row per operation that uses an
//! existing key; handlers ask [`Processor::check_key_state`] and nothing
//! else decides on state.
//!
//! The table governs state only. Conditions AWS's footnotes put on the key's
//! kind ([6], [7], [9]: imported material, custom key stores, rotation of
//! asymmetric keys) stay with the handlers, which check them first and
//! answer UnsupportedOperationException. `Unavailable` and the multi-Region
//! states (`Creating`, `Updating`, `PendingReplicaDeletion`) do not occur
//! here: no custom key stores, replication is synchronous, and a primary
//! with replicas is not scheduled for deletion (docs/keys.md). Strongroom's
//! extension states (Shredded, Revoked, Suspended: docs/extensions.md)
//! have a column of their own.

use strongroom_store::{KeyRecord, KeyState};

use crate::error::KmsError;
use crate::processor::Processor;

/// An operation's answer for a key in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The operation goes ahead.
    Allowed,
    /// DisabledException: `<key ARN> is disabled.` (footnote [1]).
    Disabled,
    /// KMSInvalidStateException: `<key ARN> is pending deletion.` and the
    /// like ([3], [5]).
    InvalidState,
    /// KMSInvalidStateException: `<key ARN> is not pending deletion.` ([4]).
    NotPendingDeletion,
    /// UnsupportedOperationException: `<key ARN> origin is EXTERNAL which
    /// is not valid for this operation.` ([6]).
    ExternalOrigin,
}

use Answer::{
    Allowed as A, Disabled as D, ExternalOrigin as X, InvalidState as I, NotPendingDeletion as N,
};

/// One operation's answers, by key state.
#[derive(Debug)]
pub struct Row {
    /// The operation (`X-Amz-Target` name).
    pub operation: &'static str,
    /// Enabled keys.
    pub enabled: Answer,
    /// Disabled keys.
    pub disabled: Answer,
    /// PendingImport keys (imported material not yet imported, or deleted).
    pub pending_import: Answer,
    /// PendingDeletion keys.
    pub pending_deletion: Answer,
    /// Strongroom's extension states: Shredded, Revoked, Suspended.
    pub extension: Answer,
}

const fn row(
    operation: &'static str,
    [
        enabled,
        disabled,
        pending_import,
        pending_deletion,
        extension,
    ]: [Answer; 5],
) -> Row {
    Row {
        operation,
        enabled,
        disabled,
        pending_import,
        pending_deletion,
        extension,
    }
}

/// Cryptographic operations: [1] when disabled, [5] pending import, [3]
/// pending deletion (AWS documents "[2] or [3]"; it answers
/// KMSInvalidStateException today).
const CRYPTO: [Answer; 5] = [A, D, I, I, I];
/// Reads and grant/policy management: every state.
const ANY: [Answer; 5] = [A, A, A, A, A];
/// Key management that a deletion in progress freezes ([3]).
const NOT_PENDING_DELETION: [Answer; 5] = [A, A, A, I, A];
/// Rotation: [1] disabled, [6] pending import, [3] pending deletion.
const ROTATION: [Answer; 5] = [A, D, X, I, I];

/// The table: every AWS operation that uses an existing key, and
/// Strongroom's DeriveKey (a cryptographic operation).
pub const TABLE: &[Row] = &[
    row("CancelKeyDeletion", [N, N, N, A, N]),
    row("CreateAlias", NOT_PENDING_DELETION),
    row("CreateGrant", [A, D, I, I, A]),
    row("Decrypt", CRYPTO),
    row("DeleteAlias", ANY),
    // [9]: no effect on a key already pending import.
    row("DeleteImportedKeyMaterial", [A, A, A, I, I]),
    row("DeriveSharedSecret", CRYPTO),
    row("DescribeKey", ANY),
    row("DisableKey", [A, A, I, I, I]),
    row("DisableKeyRotation", ROTATION),
    row("EnableKey", [A, A, I, I, I]),
    row("EnableKeyRotation", ROTATION),
    row("Encrypt", CRYPTO),
    row("GenerateDataKey", CRYPTO),
    row("GenerateDataKeyPair", CRYPTO),
    row("GenerateDataKeyPairWithoutPlaintext", CRYPTO),
    row("GenerateDataKeyWithoutPlaintext", CRYPTO),
    row("GenerateMac", CRYPTO),
    row("GetKeyPolicy", ANY),
    // [7]: succeeds for keys of AWS_KMS origin in any state but [6].
    row("GetKeyRotationStatus", [A, A, X, A, A]),
    // [8]: refused pending deletion. ReinstateKey of a Suspended key
    // (docs/extensions.md) comes through GetParametersForImport.
    row("GetParametersForImport", [A, A, A, I, A]),
    row("GetPublicKey", CRYPTO),
    row("ImportKeyMaterial", [A, A, A, I, I]),
    row("ListGrants", ANY),
    row("ListKeyPolicies", ANY),
    row("ListKeyRotations", [A, A, X, I, I]),
    row("ListResourceTags", ANY),
    row("PutKeyPolicy", ANY),
    row("ReEncrypt", CRYPTO),
    // [3]: a primary pending deletion is neither replicated nor moved.
    row("ReplicateKey", [A, A, A, I, I]),
    row("RetireGrant", ANY),
    row("RevokeGrant", ANY),
    row("RotateKeyOnDemand", ROTATION),
    row("ScheduleKeyDeletion", [A, A, A, I, I]),
    row("Sign", CRYPTO),
    row("TagResource", NOT_PENDING_DELETION),
    row("UntagResource", NOT_PENDING_DELETION),
    // [10]: the alias's current key may be pending deletion; the new target may not.
    row("UpdateAlias", NOT_PENDING_DELETION),
    row("UpdateKeyDescription", [A, A, A, I, I]),
    row("UpdatePrimaryRegion", [A, A, A, I, I]),
    row("Verify", CRYPTO),
    row("VerifyMac", CRYPTO),
    // Extension (docs/extensions.md): used like GenerateDataKey.
    row("DeriveKey", CRYPTO),
];

/// The row of `operation`, if it uses an existing key.
pub fn row_of(operation: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.operation == operation)
}

/// What `operation` answers for a key in `state` (`Allowed` for an
/// operation without a row: it decides for itself).
pub fn answer(operation: &str, state: KeyState) -> Answer {
    let Some(r) = row_of(operation) else {
        return A;
    };
    match state {
        KeyState::Enabled => r.enabled,
        KeyState::Disabled => r.disabled,
        KeyState::PendingImport => r.pending_import,
        KeyState::PendingDeletion => r.pending_deletion,
        KeyState::Shredded | KeyState::Revoked | KeyState::Suspended => r.extension,
    }
}

impl Processor {
    /// Fails as AWS does unless `operation` may use `key` in its state.
    pub(crate) fn check_key_state(&self, operation: &str, key: &KeyRecord) -> Result<(), KmsError> {
        let arn = self.key_arn(key);
        match answer(operation, key.state) {
            Answer::Allowed => Ok(()),
            Answer::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
            Answer::NotPendingDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is not pending deletion."
            ))),
            Answer::ExternalOrigin => Err(KmsError::UnsupportedOperation(format!(
                "{arn} origin is EXTERNAL which is not valid for this operation."
            ))),
            Answer::InvalidState => Err(KmsError::InvalidState(match key.state {
                KeyState::Enabled => format!("{arn} is enabled."),
                KeyState::Disabled => format!("{arn} is disabled."),
                KeyState::PendingImport => format!("{arn} is pending import."),
                KeyState::PendingDeletion => format!("{arn} is pending deletion."),
                KeyState::Shredded => {
                    format!("{arn} was shredded: its key material no longer exists.")
                }
                KeyState::Revoked => format!("{arn} was revoked and can no longer be used."),
                KeyState::Suspended => format!(
                    "{arn} is suspended: its material is with its owner until ReinstateKey."
                ),
            })),
        }
    }

    /// Fails unless `key` may be used for `operation`'s cryptography now:
    /// the key-state table, and imported material not past its ValidTo
    /// (unusable even before the sweeper deletes it).
    pub(crate) fn require_usable(&self, operation: &str, key: &KeyRecord) -> Result<(), KmsError> {
        self.check_key_state(operation, key)?;
        if key.import_valid_to.is_some_and(|t| t <= self.now()) {
            return Err(KmsError::InvalidState(format!(
                "The imported key material of {} has expired.",
                self.key_arn(key)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_an_operation_of_the_table_once() {
        for r in TABLE {
            assert!(
                crate::ops::OPERATIONS.iter().any(|o| o.name == r.operation),
                "{} is not an operation",
                r.operation
            );
            assert_eq!(
                TABLE.iter().filter(|x| x.operation == r.operation).count(),
                1
            );
        }
    }

    #[test]
    fn every_served_operation_on_a_key_has_a_row_or_is_an_extension() {
        const EXTENSIONS: &[&str] = &[
            "ShredKey",
            "RevokeKey",
            "SuspendKey",
            "UpdateSuspensionOwner",
            "ReinstateKey",
        ];
        for o in crate::ops::OPERATIONS {
            if o.route == crate::authz::operations::Route::Served
                && !o.is_keyless()
                && !EXTENSIONS.contains(&o.name)
            {
                assert!(row_of(o.name).is_some(), "{} has no key-state row", o.name);
            }
        }
    }
}
