//! Every codec against its column list.

use super::*;
use crate::conformance::key;
use crate::{Tag, UsageIncrement};

/// Encoding then decoding gives the record back, and binds exactly one
/// value per listed column.
fn round_trips<T: Codec + PartialEq + std::fmt::Debug>(record: T) {
    let values = record.values().unwrap();
    assert_eq!(values.len(), T::COLUMNS.len(), "{}", T::TABLE);
    assert_eq!(T::decode(&Row(values)).unwrap(), record);
}

#[test]
fn every_codec_binds_one_value_per_column_and_reads_it_back() {
    let (mut k, v) = key("111122223333");
    k.import_fingerprint = Some(vec![1, 2]);
    k.pending_window_days = Some(7);
    k.exposed = true;
    k.revision = 9;
    round_trips(k.clone());
    round_trips(v);
    round_trips(AccountRecord {
        id: "111122223333".into(),
        created_at: 3,
    });
    round_trips(AliasRecord {
        account_id: "111122223333".into(),
        region: "cn-north-1".into(),
        name: "alias/a".into(),
        key_id: k.id,
        created_at: 1,
        updated_at: 2,
    });
    round_trips(GrantRecord {
        grant_id: "g".into(),
        key_id: k.id,
        key_account_id: "111122223333".into(),
        name: None,
        grantee: "arn:aws:iam::111122223333:role/r".into(),
        retiring: Some("arn:aws:iam::111122223333:root".into()),
        operations: vec!["Encrypt".into()],
        context_equals: Some(vec![("a".into(), "b".into())]),
        context_subset: None,
        issuing_account: "111122223333".into(),
        created_at: 5,
        token: "t".into(),
    });
    round_trips(PrincipalRecord {
        arn: "arn:aws:iam::111122223333:user/u".into(),
        account_id: "111122223333".into(),
        kind: PrincipalKind::User,
        name: "u".into(),
        policy: Some("{}".into()),
        tags: vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }],
        service_name: None,
        created_at: 4,
    });
    round_trips(UsageIncrement {
        account_id: "111122223333".into(),
        operation: "Encrypt".into(),
        key_id: "-".into(),
        hour: 3600,
        count: 2,
    });
    round_trips(ProofMint {
        request_digest: "d".into(),
        proof_id: "p".into(),
        uses: 3,
        expires_at: 10,
    });
}

#[test]
fn a_key_update_sets_only_mutable_columns_then_names_id_and_revision() {
    let (k, _) = key("111122223333");
    let values = key_update_values(&k).unwrap();
    let mutable = KEY_COLUMNS
        .iter()
        .filter(|c| c.1 == KeyColumn::Mutable)
        .count();
    assert_eq!(values.len(), mutable + 2);
    assert!(values[mutable] == k.id.to_value());
    assert!(values[mutable + 1] == Value::Int(0));
}

#[test]
fn a_key_row_with_a_name_aws_does_not_have_is_corrupt_not_a_panic() {
    let (k, _) = key("111122223333");
    for (column, bad) in [
        ("key_spec", "RSA_1024"),
        ("key_usage", "encrypt_decrypt"),
        ("origin", ""),
        ("key_spec", "SYMMETRIC_DEFAULT\u{0}"),
    ] {
        let at = KeyRecord::COLUMNS
            .iter()
            .position(|c| *c == column)
            .unwrap();
        let mut values = k.values().unwrap();
        values[at] = Value::Text(bad.into());
        match KeyRecord::decode(&Row(values)) {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("is not one of AWS's values"), "{m}"),
            other => panic!("{column}={bad:?} decoded as {other:?}"),
        }
        // Not text at all is corrupt too.
        let mut values = k.values().unwrap();
        values[at] = Value::Int(7);
        assert!(matches!(
            KeyRecord::decode(&Row(values)),
            Err(StoreError::Corrupt(_))
        ));
    }
}
