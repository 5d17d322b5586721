//! One codec per record: its table's column list, the values it binds (in
//! that order) and how a row of those columns reads back. Statements take
//! their column lists from here, so a new column is added in one place.

use super::value::{Row, ToValue, Value, json};
use crate::{
    AccessKeyRecord, AccountRecord, AliasRecord, AuditRow, GrantRecord, KeyRecord, KeyState,
    KeyVersionRecord, PrincipalKind, PrincipalRecord, ProofMint, RotationRecord, StoreError,
    StoreResult, UsageRecord,
};

/// A record type stored as one row of one table.
pub(crate) trait Codec: Sized {
    /// The table.
    const TABLE: &'static str;
    /// Its columns, in the order [`Codec::values`] binds and
    /// [`Codec::decode`] reads them.
    const COLUMNS: &'static [&'static str];
    /// The record's values, one per column.
    fn values(&self) -> StoreResult<Vec<Value>>;
    /// The record from a row of [`Codec::COLUMNS`].
    fn decode(row: &Row) -> StoreResult<Self>;
}

/// Reads a row's columns one after another.
struct Reader<'a> {
    row: &'a Row,
    next: usize,
}

impl<'a> Reader<'a> {
    fn new(row: &'a Row) -> Self {
        Self { row, next: 0 }
    }

    fn take<T>(&mut self, read: fn(&Row, usize) -> StoreResult<T>) -> StoreResult<T> {
        self.next += 1;
        read(self.row, self.next - 1)
    }
}

impl Codec for AccountRecord {
    const TABLE: &'static str = "accounts";
    const COLUMNS: &'static [&'static str] = &["id", "created_at"];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![self.id.to_value(), self.created_at.to_value()])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            id: r.take(Row::text)?,
            created_at: r.take(Row::int)?,
        })
    }
}

impl Codec for AccessKeyRecord {
    const TABLE: &'static str = "access_keys";
    const COLUMNS: &'static [&'static str] = &[
        "access_key_id",
        "account_id",
        "sealed_secret",
        "created_at",
        "active",
        "principal_arn",
        "expires_at",
        "session_token_hash",
    ];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.access_key_id.to_value(),
            self.account_id.to_value(),
            self.sealed_secret.to_value(),
            self.created_at.to_value(),
            self.active.to_value(),
            self.principal_arn.to_value(),
            self.expires_at.to_value(),
            self.session_token_hash.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            access_key_id: r.take(Row::text)?,
            account_id: r.take(Row::text)?,
            sealed_secret: r.take(Row::bytes)?,
            created_at: r.take(Row::int)?,
            active: r.take(Row::bool)?,
            principal_arn: r.take(Row::opt_text)?,
            expires_at: r.take(Row::opt_int)?,
            session_token_hash: r.take(Row::opt_bytes)?,
        })
    }
}

/// What `update_key` does with a column of `keys`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyColumn {
    /// The key's identity: names the row.
    Id,
    /// Set at creation, never rewritten.
    Fixed,
    /// Rewritten by every update.
    Mutable,
    /// The compare-and-swap revision: checked, then incremented.
    Revision,
}

/// Every column of `keys`, in row order, with what an update does to it.
pub(crate) const KEY_COLUMNS: &[(&str, KeyColumn)] = {
    use KeyColumn::*;
    &[
        ("id", Id),
        ("account_id", Fixed),
        ("region", Fixed),
        ("description", Mutable),
        ("state", Mutable),
        ("key_spec", Fixed),
        ("key_usage", Fixed),
        ("origin", Fixed),
        ("created_at", Fixed),
        ("deletion_date", Mutable),
        ("pending_window_days", Mutable),
        ("current_version", Mutable),
        ("tags", Mutable),
        ("rotation_period_days", Mutable),
        ("next_rotation_at", Mutable),
        ("on_demand_rotations", Mutable),
        ("import_valid_to", Mutable),
        ("import_fingerprint", Mutable),
        ("suspension_fingerprint", Mutable),
        ("exposed", Mutable),
        ("volatile", Fixed),
        ("policy", Mutable),
        ("module_group", Fixed),
        ("multi_region_id", Fixed),
        ("multi_region_primary", Mutable),
        ("revision", Revision),
    ]
};

const fn key_column_names() -> [&'static str; KEY_COLUMNS.len()] {
    let mut names = [""; KEY_COLUMNS.len()];
    let mut i = 0;
    while i < KEY_COLUMNS.len() {
        names[i] = KEY_COLUMNS[i].0;
        i += 1;
    }
    names
}

const KEY_COLUMN_NAMES: [&str; KEY_COLUMNS.len()] = key_column_names();

impl Codec for KeyRecord {
    const TABLE: &'static str = "keys";
    const COLUMNS: &'static [&'static str] = &KEY_COLUMN_NAMES;

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.id.to_value(),
            self.account_id.to_value(),
            self.region.to_value(),
            self.description.to_value(),
            self.state.as_str().to_value(),
            self.key_spec.as_str().to_value(),
            self.key_usage.as_str().to_value(),
            self.origin.as_str().to_value(),
            self.created_at.to_value(),
            self.deletion_date.to_value(),
            self.pending_window_days.to_value(),
            self.current_version.to_value(),
            json(&self.tags)?,
            self.rotation_period_days.to_value(),
            self.next_rotation_at.to_value(),
            self.on_demand_rotations.to_value(),
            self.import_valid_to.to_value(),
            self.import_fingerprint.to_value(),
            self.suspension_fingerprint.to_value(),
            self.exposed.to_value(),
            self.volatile.to_value(),
            self.policy.to_value(),
            self.module_group.to_value(),
            self.multi_region_id.to_value(),
            self.multi_region_primary.to_value(),
            revision(self.revision)?,
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            id: r.take(Row::uuid)?,
            account_id: r.take(Row::text)?,
            region: r.take(Row::text)?,
            description: r.take(Row::text)?,
            state: r.take(key_state)?,
            key_spec: r.take(aws_name)?,
            key_usage: r.take(aws_name)?,
            origin: r.take(aws_name)?,
            created_at: r.take(Row::int)?,
            deletion_date: r.take(Row::opt_int)?,
            pending_window_days: r.take(Row::opt_u32)?,
            current_version: r.take(Row::u32)?,
            tags: r.take(Row::json)?,
            rotation_period_days: r.take(Row::opt_u32)?,
            next_rotation_at: r.take(Row::opt_int)?,
            on_demand_rotations: r.take(Row::u32)?,
            import_valid_to: r.take(Row::opt_int)?,
            import_fingerprint: r.take(Row::opt_bytes)?,
            suspension_fingerprint: r.take(Row::opt_bytes)?,
            exposed: r.take(Row::bool)?,
            volatile: r.take(Row::bool)?,
            policy: r.take(Row::opt_text)?,
            module_group: r.take(Row::opt_text)?,
            multi_region_id: r.take(Row::opt_uuid)?,
            multi_region_primary: r.take(Row::bool)?,
            revision: r.take(Row::u64)?,
        })
    }
}

fn revision(v: u64) -> StoreResult<Value> {
    i64::try_from(v)
        .map(Value::Int)
        .map_err(|_| StoreError::Corrupt(format!("revision {v} out of range")))
}

fn key_state(row: &Row, i: usize) -> StoreResult<KeyState> {
    let s = row.text(i)?;
    KeyState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("key state {s}")))
}

/// A column holding an AWS name (`KeySpec`, `KeyUsage`, `Origin`): any
/// other text is a corrupt row, never a panic.
fn aws_name<T>(row: &Row, i: usize) -> StoreResult<T>
where
    T: std::str::FromStr<Err = crate::UnknownValue>,
{
    row.text(i)?
        .parse()
        .map_err(|e: crate::UnknownValue| StoreError::Corrupt(e.to_string()))
}

/// The parameters of the key UPDATE statement: the mutable columns in
/// order, then the id, then the revision the writer read.
pub(crate) fn key_update_values(k: &KeyRecord) -> StoreResult<Vec<Value>> {
    let mut set = Vec::new();
    let (mut id, mut read_revision) = (Value::Null, Value::Null);
    for ((_, role), v) in KEY_COLUMNS.iter().zip(k.values()?) {
        match role {
            KeyColumn::Id => id = v,
            KeyColumn::Revision => read_revision = v,
            KeyColumn::Mutable => set.push(v),
            KeyColumn::Fixed => {}
        }
    }
    set.extend([id, read_revision]);
    Ok(set)
}

impl Codec for KeyVersionRecord {
    const TABLE: &'static str = "key_versions";
    const COLUMNS: &'static [&'static str] = &["key_id", "version", "ekt", "created_at"];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.key_id.to_value(),
            self.version.to_value(),
            self.ekt.to_value(),
            self.created_at.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            key_id: r.take(Row::uuid)?,
            version: r.take(Row::u32)?,
            ekt: r.take(Row::bytes)?,
            created_at: r.take(Row::int)?,
        })
    }
}

/// Rotations are key versions read with their rotation type (versions
/// from before rotation types were recorded count as automatic).
pub(crate) const ROTATION_COLUMNS: &str =
    "version, created_at, COALESCE(rotation_type, 'AUTOMATIC')";

impl RotationRecord {
    pub(crate) fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            version: r.take(Row::u32)?,
            rotated_at: r.take(Row::int)?,
            rotation_type: r.take(Row::text)?,
        })
    }
}

impl Codec for AliasRecord {
    const TABLE: &'static str = "aliases";
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "region",
        "name",
        "key_id",
        "created_at",
        "updated_at",
    ];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.account_id.to_value(),
            self.region.to_value(),
            self.name.to_value(),
            self.key_id.to_value(),
            self.created_at.to_value(),
            self.updated_at.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            account_id: r.take(Row::text)?,
            region: r.take(Row::text)?,
            name: r.take(Row::text)?,
            key_id: r.take(Row::uuid)?,
            created_at: r.take(Row::int)?,
            updated_at: r.take(Row::int)?,
        })
    }
}

impl Codec for GrantRecord {
    const TABLE: &'static str = "grants";
    const COLUMNS: &'static [&'static str] = &[
        "grant_id",
        "key_id",
        "key_account_id",
        "name",
        "grantee",
        "retiring",
        "operations",
        "context_equals",
        "context_subset",
        "issuing_account",
        "created_at",
        "token",
    ];

    fn values(&self) -> StoreResult<Vec<Value>> {
        let opt_json = |v: &Option<Vec<(String, String)>>| v.as_ref().map_or(Ok(Value::Null), json);
        Ok(vec![
            self.grant_id.to_value(),
            self.key_id.to_value(),
            self.key_account_id.to_value(),
            self.name.to_value(),
            self.grantee.to_value(),
            self.retiring.to_value(),
            json(&self.operations)?,
            opt_json(&self.context_equals)?,
            opt_json(&self.context_subset)?,
            self.issuing_account.to_value(),
            self.created_at.to_value(),
            self.token.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            grant_id: r.take(Row::text)?,
            key_id: r.take(Row::uuid)?,
            key_account_id: r.take(Row::text)?,
            name: r.take(Row::opt_text)?,
            grantee: r.take(Row::text)?,
            retiring: r.take(Row::opt_text)?,
            operations: r.take(Row::json)?,
            context_equals: r.take(Row::opt_json)?,
            context_subset: r.take(Row::opt_json)?,
            issuing_account: r.take(Row::text)?,
            created_at: r.take(Row::int)?,
            token: r.take(Row::text)?,
        })
    }
}

impl Codec for PrincipalRecord {
    const TABLE: &'static str = "principals";
    const COLUMNS: &'static [&'static str] = &[
        "arn",
        "account_id",
        "kind",
        "name",
        "policy",
        "tags",
        "service_name",
        "created_at",
    ];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.arn.to_value(),
            self.account_id.to_value(),
            self.kind.as_str().to_value(),
            self.name.to_value(),
            self.policy.to_value(),
            json(&self.tags)?,
            self.service_name.to_value(),
            self.created_at.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            arn: r.take(Row::text)?,
            account_id: r.take(Row::text)?,
            kind: r.take(principal_kind)?,
            name: r.take(Row::text)?,
            policy: r.take(Row::opt_text)?,
            tags: r.take(Row::json)?,
            service_name: r.take(Row::opt_text)?,
            created_at: r.take(Row::int)?,
        })
    }
}

fn principal_kind(row: &Row, i: usize) -> StoreResult<PrincipalKind> {
    let s = row.text(i)?;
    PrincipalKind::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("kind {s}")))
}

impl Codec for AuditRow {
    const TABLE: &'static str = "audit_log";
    const COLUMNS: &'static [&'static str] = &[
        "seq",
        "time_ms",
        "principal",
        "account_id",
        "operation",
        "key_arn",
        "error_code",
        "record",
        "prev_hash",
        "hash",
    ];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.seq.to_value(),
            self.time_ms.to_value(),
            self.principal.to_value(),
            self.account_id.to_value(),
            self.operation.to_value(),
            self.key_arn.to_value(),
            self.error_code.to_value(),
            self.record.to_value(),
            self.prev_hash.to_value(),
            self.hash.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            seq: r.take(Row::int)?,
            time_ms: r.take(Row::int)?,
            principal: r.take(Row::text)?,
            account_id: r.take(Row::text)?,
            operation: r.take(Row::text)?,
            key_arn: r.take(Row::opt_text)?,
            error_code: r.take(Row::opt_text)?,
            record: r.take(Row::text)?,
            prev_hash: r.take(Row::text)?,
            hash: r.take(Row::text)?,
        })
    }
}

impl Codec for UsageRecord {
    const TABLE: &'static str = "usage";
    const COLUMNS: &'static [&'static str] =
        &["account_id", "operation", "key_id", "hour", "count"];

    fn values(&self) -> StoreResult<Vec<Value>> {
        let count = i64::try_from(self.count)
            .map_err(|_| StoreError::Corrupt(format!("usage count {}", self.count)))?;
        Ok(vec![
            self.account_id.to_value(),
            self.operation.to_value(),
            self.key_id.to_value(),
            self.hour.to_value(),
            count.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            account_id: r.take(Row::text)?,
            operation: r.take(Row::text)?,
            key_id: r.take(Row::text)?,
            hour: r.take(Row::int)?,
            count: r.take(Row::u64)?,
        })
    }
}

impl Codec for ProofMint {
    const TABLE: &'static str = "auth_proofs";
    const COLUMNS: &'static [&'static str] =
        &["request_digest", "proof_id", "uses_left", "expires_at"];

    fn values(&self) -> StoreResult<Vec<Value>> {
        Ok(vec![
            self.request_digest.to_value(),
            self.proof_id.to_value(),
            self.uses.to_value(),
            self.expires_at.to_value(),
        ])
    }

    fn decode(row: &Row) -> StoreResult<Self> {
        let mut r = Reader::new(row);
        Ok(Self {
            request_digest: r.take(Row::text)?,
            proof_id: r.take(Row::text)?,
            uses: r.take(Row::u32)?,
            expires_at: r.take(Row::int)?,
        })
    }
}

#[cfg(test)]
mod tests;
