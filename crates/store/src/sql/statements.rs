//! Every statement the store runs, once, in `$N` form (rewritten for
//! SQLite on first use). Column lists come from the codecs. What differs
//! between the dialects is not here: the schema (`sqlite/migrations.rs`,
//! `postgres/schema.rs`), transactions and purging freed pages (the
//! backends' `Conn` implementations).

use std::sync::LazyLock;

use super::codec::{Codec, KEY_COLUMNS, KeyColumn, ROTATION_COLUMNS};
use super::{Sql, insert_statement, placeholders};
use crate::{
    AccessKeyRecord, AccountRecord, AliasRecord, AuditRow, GrantRecord, KeyRecord,
    KeyVersionRecord, PrincipalRecord, ProofMint, UsageRecord,
};

/// `SELECT <columns of T> FROM <table of T> <rest>`.
fn select<T: Codec>(rest: &str) -> Sql {
    Sql::built(format!(
        "SELECT {} FROM {} {rest}",
        T::COLUMNS.join(", "),
        T::TABLE
    ))
}

/// `INSERT INTO <table of T> (<columns of T>) VALUES ($1, ...)`.
fn insert<T: Codec>() -> Sql {
    Sql::built(insert_statement(T::TABLE, T::COLUMNS))
}

/// `INSERT ... VALUES (...), (...)` for `rows` records of `T` (one round
/// trip for a batch), followed by `tail`.
pub(crate) fn insert_rows<T: Codec>(rows: usize, tail: &str) -> Sql {
    let n = T::COLUMNS.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| format!("({})", placeholders(r * n + 1, n)))
        .collect();
    Sql::built(format!(
        "INSERT INTO {} ({}) VALUES {}{tail}",
        T::TABLE,
        T::COLUMNS.join(", "),
        tuples.join(", ")
    ))
}

/// Keys and their versions.
pub(crate) mod keys {
    use super::*;

    pub(crate) static INSERT: LazyLock<Sql> = LazyLock::new(insert::<KeyRecord>);
    pub(crate) static GET: LazyLock<Sql> = LazyLock::new(|| select::<KeyRecord>("WHERE id = $1"));
    pub(crate) static LIST: LazyLock<Sql> = LazyLock::new(|| {
        select::<KeyRecord>(
            "WHERE account_id = $1 AND region = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
    });
    /// Compare-and-swap on the revision; parameters from
    /// `codec::key_update_values`.
    pub(crate) static UPDATE: LazyLock<Sql> = LazyLock::new(|| {
        let set: Vec<&str> = KEY_COLUMNS
            .iter()
            .filter(|c| c.1 == KeyColumn::Mutable)
            .map(|c| c.0)
            .collect();
        let assignments: Vec<String> = set
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        Sql::built(format!(
            "UPDATE keys SET {}, revision = revision + 1 WHERE id = ${} AND revision = ${}",
            assignments.join(", "),
            set.len() + 1,
            set.len() + 2
        ))
    });
    /// Every region's copy of one multi-Region key of an account.
    pub(crate) static MULTI_REGION: LazyLock<Sql> = LazyLock::new(|| {
        select::<KeyRecord>("WHERE account_id = $1 AND multi_region_id = $2 ORDER BY region")
    });
    pub(crate) static EXISTS: Sql = Sql::new("SELECT 1 FROM keys WHERE id = $1");
    pub(crate) static DELETE: Sql = Sql::new("DELETE FROM keys WHERE id = $1");
    pub(crate) static DUE_FOR_DELETION: Sql = Sql::new(
        "SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= $1 ORDER BY id",
    );
    pub(crate) static WITH_EXPIRED_MATERIAL: Sql = Sql::new(
        "SELECT id FROM keys WHERE import_valid_to IS NOT NULL AND import_valid_to <= $1 \
         AND state != 'PendingImport' AND state != 'PendingDeletion' ORDER BY id",
    );
    pub(crate) static COUNT_BY_STATE_AND_SPEC: Sql = Sql::new(
        "SELECT state, key_spec, COUNT(*) FROM keys GROUP BY state, key_spec ORDER BY state, key_spec",
    );
    pub(crate) static DUE_FOR_ROTATION: Sql = Sql::new(
        "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= $1 \
         AND state = 'Enabled' ORDER BY next_rotation_at, id",
    );

    pub(crate) static VERSION_INSERT: LazyLock<Sql> = LazyLock::new(insert::<KeyVersionRecord>);
    /// A version made by a rotation: the version's columns, then its type.
    pub(crate) static VERSION_INSERT_ROTATED: LazyLock<Sql> = LazyLock::new(|| {
        let mut columns = KeyVersionRecord::COLUMNS.to_vec();
        columns.push("rotation_type");
        Sql::built(insert_statement(KeyVersionRecord::TABLE, &columns))
    });
    pub(crate) static VERSION_GET: LazyLock<Sql> =
        LazyLock::new(|| select::<KeyVersionRecord>("WHERE key_id = $1 AND version = $2"));
    pub(crate) static VERSIONS_OF: LazyLock<Sql> =
        LazyLock::new(|| select::<KeyVersionRecord>("WHERE key_id = $1 ORDER BY version"));
    pub(crate) static VERSIONS_DELETE: Sql = Sql::new("DELETE FROM key_versions WHERE key_id = $1");
    /// Versions after the first, after version `$2`.
    pub(crate) static ROTATIONS: LazyLock<Sql> = LazyLock::new(|| {
        Sql::built(format!(
            "SELECT {ROTATION_COLUMNS} FROM key_versions \
             WHERE key_id = $1 AND version > $2 AND version > 1 ORDER BY version LIMIT $3"
        ))
    });
}

/// Aliases.
pub(crate) mod aliases {
    use super::*;

    pub(crate) static INSERT: LazyLock<Sql> = LazyLock::new(insert::<AliasRecord>);
    pub(crate) static GET: LazyLock<Sql> = LazyLock::new(|| {
        select::<AliasRecord>("WHERE account_id = $1 AND region = $2 AND name = $3")
    });
    /// `$4`: only aliases of this key (NULL: any). The CAST gives
    /// PostgreSQL the parameter's type, and is a no-op on SQLite.
    pub(crate) static LIST: LazyLock<Sql> = LazyLock::new(|| {
        select::<AliasRecord>(
            "WHERE account_id = $1 AND region = $2 AND name > $3 \
             AND (CAST($4 AS TEXT) IS NULL OR key_id = $4) ORDER BY name LIMIT $5",
        )
    });
    pub(crate) static UPDATE: Sql = Sql::new(
        "UPDATE aliases SET key_id = $4, updated_at = $5 \
         WHERE account_id = $1 AND region = $2 AND name = $3",
    );
    pub(crate) static DELETE: Sql =
        Sql::new("DELETE FROM aliases WHERE account_id = $1 AND region = $2 AND name = $3");
    pub(crate) static DELETE_OF_KEY: Sql = Sql::new("DELETE FROM aliases WHERE key_id = $1");
}

/// Grants.
pub(crate) mod grants {
    use super::*;

    pub(crate) static INSERT: LazyLock<Sql> = LazyLock::new(insert::<GrantRecord>);
    pub(crate) static OF_KEY: LazyLock<Sql> =
        LazyLock::new(|| select::<GrantRecord>("WHERE key_id = $1 ORDER BY grant_id"));
    /// Grants follow their key's region (`$2`).
    pub(crate) static RETIRABLE_BY: LazyLock<Sql> = LazyLock::new(|| {
        select::<GrantRecord>(
            "WHERE retiring = $1 AND key_id IN (SELECT id FROM keys WHERE region = $2) \
             ORDER BY grant_id",
        )
    });
    pub(crate) static BY_TOKEN: LazyLock<Sql> =
        LazyLock::new(|| select::<GrantRecord>("WHERE token = $1"));
    pub(crate) static DELETE: Sql = Sql::new("DELETE FROM grants WHERE grant_id = $1");
    pub(crate) static DELETE_OF_KEY: Sql = Sql::new("DELETE FROM grants WHERE key_id = $1");
}

/// Accounts, access keys and principals.
pub(crate) mod identities {
    use super::*;

    pub(crate) static ACCOUNT_INSERT: LazyLock<Sql> = LazyLock::new(insert::<AccountRecord>);
    pub(crate) static ACCOUNT_GET: LazyLock<Sql> =
        LazyLock::new(|| select::<AccountRecord>("WHERE id = $1"));
    pub(crate) static ACCOUNTS: LazyLock<Sql> =
        LazyLock::new(|| select::<AccountRecord>("ORDER BY id"));

    pub(crate) static ACCESS_KEY_INSERT: LazyLock<Sql> = LazyLock::new(insert::<AccessKeyRecord>);
    pub(crate) static ACCESS_KEY_GET: LazyLock<Sql> =
        LazyLock::new(|| select::<AccessKeyRecord>("WHERE access_key_id = $1"));
    pub(crate) static ACCESS_KEYS_OF_ACCOUNT: LazyLock<Sql> =
        LazyLock::new(|| select::<AccessKeyRecord>("WHERE account_id = $1 ORDER BY access_key_id"));
    pub(crate) static ACCESS_KEY_DEACTIVATE: Sql =
        Sql::new("UPDATE access_keys SET active = FALSE WHERE access_key_id = $1");

    pub(crate) static PRINCIPAL_INSERT: LazyLock<Sql> = LazyLock::new(insert::<PrincipalRecord>);
    pub(crate) static PRINCIPAL_UPDATE: Sql =
        Sql::new("UPDATE principals SET policy = $2, tags = $3, service_name = $4 WHERE arn = $1");
    pub(crate) static PRINCIPAL_GET: LazyLock<Sql> =
        LazyLock::new(|| select::<PrincipalRecord>("WHERE arn = $1"));
    pub(crate) static PRINCIPALS_OF_ACCOUNT: LazyLock<Sql> =
        LazyLock::new(|| select::<PrincipalRecord>("WHERE account_id = $1 ORDER BY arn"));
}

/// Sealed material: EKTs, sealed access-key secrets, service secrets.
pub(crate) mod sealed {
    use super::*;

    pub(crate) static VERSIONS_PAGE: LazyLock<Sql> = LazyLock::new(|| {
        select::<KeyVersionRecord>(
            "WHERE key_id > $1 OR (key_id = $1 AND version > $2) ORDER BY key_id, version LIMIT $3",
        )
    });
    pub(crate) static EKT_REPLACE: Sql = Sql::new(
        "UPDATE key_versions SET ekt = $4 WHERE key_id = $1 AND version = $2 AND ekt = $3",
    );
    pub(crate) static ACCESS_KEYS_PAGE: LazyLock<Sql> = LazyLock::new(|| {
        select::<AccessKeyRecord>("WHERE access_key_id > $1 ORDER BY access_key_id LIMIT $2")
    });
    pub(crate) static SEALED_SECRET_REPLACE: Sql = Sql::new(
        "UPDATE access_keys SET sealed_secret = $3 WHERE access_key_id = $1 AND sealed_secret = $2",
    );
    pub(crate) static SERVICE_SECRET_GET: Sql =
        Sql::new("SELECT sealed FROM service_secrets WHERE name = $1");
    pub(crate) static SERVICE_SECRET_INSERT: Sql = Sql::new(
        "INSERT INTO service_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    );
    pub(crate) static SERVICE_SECRET_REPLACE: Sql =
        Sql::new("UPDATE service_secrets SET sealed = $3 WHERE name = $1 AND sealed = $2");
}

/// Module-log cursors, job leases and authentication proofs.
pub(crate) mod service_state {
    use super::*;

    /// `offset` is quoted: a reserved word on PostgreSQL.
    pub(crate) static CURSOR_GET: Sql =
        Sql::new("SELECT \"offset\" FROM module_log_cursors WHERE module_id = $1 AND log_id = $2");
    pub(crate) static CURSOR_SET: Sql = Sql::new(
        "INSERT INTO module_log_cursors (module_id, log_id, \"offset\") VALUES ($1, $2, $3) \
         ON CONFLICT (module_id, log_id) DO UPDATE SET \"offset\" = excluded.\"offset\"",
    );
    /// Takes the lease if it is free, lapsed (`until <= $3`) or already ours.
    pub(crate) static LEASE_TAKE: Sql = Sql::new(
        "INSERT INTO job_leases (job, holder, until) VALUES ($1, $2, $4) \
         ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until \
         WHERE job_leases.holder = $2 OR job_leases.until <= $3",
    );
    pub(crate) static PROOF_INSERT: LazyLock<Sql> = LazyLock::new(|| {
        Sql::built(format!(
            "{} ON CONFLICT DO NOTHING",
            insert_statement(ProofMint::TABLE, ProofMint::COLUMNS)
        ))
    });
    /// One statement, so concurrent users of one proof (on any frontend)
    /// never both get its last use.
    pub(crate) static PROOF_USE: Sql = Sql::new(
        "UPDATE auth_proofs SET uses_left = uses_left - 1 \
         WHERE proof_id = $1 AND request_digest = $2 AND uses_left > 0 AND expires_at > $3 \
         RETURNING uses_left",
    );
    pub(crate) static PROOF_KNOWN: Sql = Sql::new(
        "SELECT 1 FROM auth_proofs WHERE proof_id = $1 AND request_digest = $2 AND expires_at > $3",
    );
    pub(crate) static PROOFS_PURGE: Sql =
        Sql::new("DELETE FROM auth_proofs WHERE expires_at <= $1");
}

/// Usage counters and the legacy audit rows.
pub(crate) mod usage {
    use super::*;

    /// Added to a usage batch insert: counts of one counter add up.
    pub(crate) const USAGE_UPSERT_TAIL: &str = " ON CONFLICT (account_id, operation, key_id, hour) \
                                          DO UPDATE SET count = usage.count + excluded.count";
    pub(crate) static LIST: LazyLock<Sql> = LazyLock::new(|| {
        select::<UsageRecord>(
            "WHERE (CAST($1 AS TEXT) IS NULL OR account_id = $1) AND hour >= $2 \
             ORDER BY account_id, hour, operation, key_id",
        )
    });
    pub(crate) static FLUSHED_GET: Sql = Sql::new("SELECT seq FROM usage_flushed WHERE chain = $1");
    pub(crate) static FLUSHED_START: Sql = Sql::new(
        "INSERT INTO usage_flushed (chain, seq) VALUES ($1, 0) ON CONFLICT (chain) DO NOTHING",
    );
    /// Compare-and-swap: moves the counted position only from `$2`.
    pub(crate) static FLUSHED_MOVE: Sql =
        Sql::new("UPDATE usage_flushed SET seq = $3, head = $4 WHERE chain = $1 AND seq = $2");
    pub(crate) static FLUSHED_POSITION: Sql =
        Sql::new("SELECT seq, head FROM usage_flushed WHERE chain = $1");

    pub(crate) static AUDIT_TAIL: Sql =
        Sql::new("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    pub(crate) static AUDIT_DELETE_THROUGH: Sql = Sql::new("DELETE FROM audit_log WHERE seq <= $1");

    /// `SELECT` of audit rows with `conditions` (each with its `$N`), at
    /// most parameter `$limit` of them. (Parameters, not inlined values:
    /// the connections cache statements by text.)
    pub(crate) fn audit_query(conditions: &str, limit: usize) -> Sql {
        select::<AuditRow>(&format!(
            "WHERE TRUE{conditions} ORDER BY seq LIMIT ${limit}"
        ))
    }
}
