//! The store conformance suite: every test runs unchanged against SQLite
//! and PostgreSQL (`sqlite::tests`, `postgres::tests`), each on a fresh
//! store holding account 111122223333. One module per aggregate.

use uuid::Uuid;

use crate::*;

mod aliases;
mod concurrency;
mod deletion;
mod grants;
mod identities;
mod keys;
mod multi_region;
mod proofs;
mod regions;
mod sealed;
mod service_state;
mod usage;

pub(crate) use aliases::*;
pub(crate) use concurrency::*;
pub(crate) use deletion::*;
pub(crate) use grants::*;
pub(crate) use identities::*;
pub(crate) use keys::*;
pub(crate) use multi_region::*;
pub(crate) use proofs::*;
pub(crate) use regions::*;
pub(crate) use sealed::*;
pub(crate) use service_state::*;
pub(crate) use usage::*;

/// Every conformance test, for the backends' test modules: `$make` gives
/// a fresh store with account 111122223333, or `None` when the backend is
/// not available here (the PostgreSQL tests, without PostgreSQL: `$make`
/// has said why, once).
#[macro_export]
#[doc(hidden)]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            key_round_trip_update_and_paging, delete_removes_versions_and_aliases,
            aliases_update_list_delete, accounts_and_access_keys,
            sealed_material_pages_in_order_and_swaps_only_if_unchanged,
            rotation_adds_versions_atomically_and_lists_history,
            keys_without_material_and_expiring_imports, every_mutable_field_survives_update,
            grants_round_trip_and_go_with_their_key, principals_round_trip,
            alias_race_has_exactly_one_winner, concurrent_writers_lose_nothing,
            paging_is_stable_while_keys_are_added, rotation_race_has_one_winner,
            retries_are_idempotent_or_refused, audit_chain_refuses_forks_and_counts_usage,
            a_usage_flush_from_a_stale_position_is_refused_and_adds_nothing,
            service_state_round_trip, leases_have_one_holder_until_they_lapse,
            concurrent_updates_never_lose_a_change,
            a_signed_request_mints_one_proof_and_uses_are_counted,
            concurrent_proof_uses_and_mints_have_exact_winners,
            delete_key_leaves_its_ekts_in_no_table, deleted_versions_leave_their_ekts_in_no_table,
            replaced_ekts_and_secrets_leave_no_copy_in_any_table,
            keys_are_listed_only_in_their_region,
            alias_names_are_unique_per_region_and_invisible_elsewhere,
            retirable_grants_follow_their_keys_region,
            multi_region_copies_are_rows_of_their_own,
            a_replica_created_after_a_rotation_read_makes_it_conflict,
            rotation_of_every_copy_is_all_or_nothing,
            update_keys_is_all_or_nothing);
    };
    (@each $make:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(store) = $make().await {
                    $crate::conformance::$name(store).await;
                }
            }
        )*
    };
}

pub(crate) const ACCOUNT: &str = "111122223333";
/// The region of the keys and aliases [`key`] and the tests make.
pub(crate) const REGION: &str = "us-east-1";

pub(crate) fn key(account: &str) -> (KeyRecord, KeyVersionRecord) {
    let id = Uuid::new_v4();
    (
        KeyRecord {
            description: "d".into(),
            current_version: 1,
            tags: vec![Tag {
                key: "team".into(),
                value: "a".into(),
            }],
            module_group: Some("region=eu".into()),
            ..KeyRecord::symmetric(id, account, REGION, 1)
        },
        KeyVersionRecord {
            key_id: id,
            version: 1,
            ekt: vec![7; 90],
            created_at: 1,
        },
    )
}

/// `n` keys of the test account (each with version 1), by UUID.
pub(crate) async fn sorted_keys(s: &dyn Store, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let (k, v) = key(ACCOUNT);
        s.create_key(&k, Some(&v)).await.unwrap();
        ids.push(k.id);
    }
    ids.sort();
    ids
}

/// A long-term access key of the account's root with this sealed secret.
pub(crate) fn access_key(id: &str, sealed_secret: Vec<u8>) -> AccessKeyRecord {
    AccessKeyRecord {
        access_key_id: id.into(),
        account_id: ACCOUNT.into(),
        sealed_secret,
        created_at: 0,
        active: true,
        principal_arn: None,
        expires_at: None,
        session_token_hash: None,
    }
}
