//! ARNs and the forms a `KeyId` parameter may take.

use uuid::Uuid;

use crate::region::{Partition, Region};

/// `arn:<partition>:kms:<region>:<account>:key/<uuid>`.
pub fn key_arn(region: &str, account: &str, id: Uuid) -> String {
    key_arn_named(region, account, &id.to_string())
}

/// `arn:<partition>:kms:<region>:<account>:key/<key id>` for a key id
/// already spelled (a UUID or `mrk-…`).
pub fn key_arn_named(region: &str, account: &str, key_id: &str) -> String {
    let partition = Partition::of(region);
    format!("arn:{partition}:kms:{region}:{account}:key/{key_id}")
}

/// `arn:<partition>:kms:<region>:<account>:<alias/name>`.
pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    let partition = Partition::of(region);
    format!("arn:{partition}:kms:{region}:{account}:{alias_name}")
}

/// What a `KeyId` parameter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyIdentifier {
    /// A key by UUID, optionally qualified by an ARN's region and account.
    Key {
        /// The key's UUID.
        id: Uuid,
        /// The ARN's region, if an ARN named it.
        region: Option<String>,
        /// The ARN's account, if an ARN named it.
        account: Option<String>,
    },
    /// A multi-Region key by its shared id (`mrk-…`), optionally qualified
    /// by an ARN's region and account.
    MultiRegion {
        /// The key's UUID.
        id: Uuid,
        /// The ARN's region, if an ARN named it.
        region: Option<String>,
        /// The ARN's account, if an ARN named it.
        account: Option<String>,
    },
    /// An alias (`alias/...`), optionally qualified by an ARN.
    Alias {
        /// The alias name (`alias/...`).
        name: String,
        /// The ARN's region, if an ARN named it.
        region: Option<String>,
        /// The ARN's account, if an ARN named it.
        account: Option<String>,
    },
}

/// The region of an ARN, `arn:<partition>:kms:<region>:...`, and the rest;
/// `None` unless the partition is the one the region belongs to.
fn arn_region(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("kms:")?;
    let (region, rest) = rest.split_once(':')?;
    let parsed = Region::parse(region).ok()?;
    (Partition::parse(partition)? == parsed.partition()).then(|| (region.to_owned(), rest))
}

/// Parses a KeyId: UUID, key ARN, `alias/name` or alias ARN.
pub fn parse_key_id(s: &str) -> Option<KeyIdentifier> {
    if s.starts_with("arn:") {
        let (region, rest) = arn_region(s)?;
        let mut parts = rest.splitn(2, ':');
        let account = parts.next()?.to_owned();
        let resource = parts.next()?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return if let Some(id) = resource.strip_prefix("key/") {
            if let Some(id) = crate::multi_region::parse(id) {
                return Some(KeyIdentifier::MultiRegion {
                    id,
                    region: Some(region),
                    account: Some(account),
                });
            }
            Some(KeyIdentifier::Key {
                id: parse_uuid(id)?,
                region: Some(region),
                account: Some(account),
            })
        } else if resource.starts_with("alias/") && resource.len() > 6 {
            Some(KeyIdentifier::Alias {
                name: resource.to_owned(),
                region: Some(region),
                account: Some(account),
            })
        } else {
            None
        };
    }
    if s.starts_with("alias/") && s.len() > 6 {
        return Some(KeyIdentifier::Alias {
            name: s.to_owned(),
            region: None,
            account: None,
        });
    }
    if let Some(id) = crate::multi_region::parse(s) {
        return Some(KeyIdentifier::MultiRegion {
            id,
            region: None,
            account: None,
        });
    }
    Some(KeyIdentifier::Key {
        id: parse_uuid(s)?,
        region: None,
        account: None,
    })
}

/// Only the canonical hyphenated form, as AWS prints it.
fn parse_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_the_partition_of_their_region() {
        let id = Uuid::nil();
        assert_eq!(
            key_arn("cn-north-1", "111122223333", id),
            format!("arn:aws-cn:kms:cn-north-1:111122223333:key/{id}")
        );
        assert_eq!(
            alias_arn("us-gov-west-1", "111122223333", "alias/a"),
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/a"
        );
        for r in ["cn-north-1", "us-gov-east-1", "eu-west-1"] {
            let arn = key_arn(r, "111122223333", id);
            assert!(
                matches!(parse_key_id(&arn), Some(KeyIdentifier::Key { region: Some(got), .. }) if got == r),
                "{arn}"
            );
        }
    }

    #[test]
    fn arns_whose_partition_is_not_their_regions_are_refused() {
        let id = Uuid::nil();
        for bad in [
            format!("arn:aws:kms:cn-north-1:111122223333:key/{id}"),
            format!("arn:aws-cn:kms:us-east-1:111122223333:key/{id}"),
            format!("arn:aws:kms:us-gov-west-1:111122223333:key/{id}"),
            format!("arn:aws-iso:kms:us-iso-east-1:111122223333:key/{id}"),
            format!("arn:aws:kms:nowhere:111122223333:key/{id}"),
            format!("arn:aws:s3:us-east-1:111122223333:key/{id}"),
        ] {
            assert_eq!(parse_key_id(&bad), None, "{bad}");
        }
    }

    #[test]
    fn multi_region_ids_and_arns() {
        let id = crate::multi_region::new_id();
        let shown = crate::multi_region::display(id);
        assert_eq!(
            parse_key_id(&shown),
            Some(KeyIdentifier::MultiRegion {
                id,
                region: None,
                account: None
            })
        );
        let arn = key_arn_named("eu-west-1", "111122223333", &shown);
        assert_eq!(
            parse_key_id(&arn),
            Some(KeyIdentifier::MultiRegion {
                id,
                region: Some("eu-west-1".into()),
                account: Some("111122223333".into())
            })
        );
        for bad in ["mrk-", "mrk-123", "mrk-ABCDEF0123456789ABCDEF0123456789"] {
            assert_eq!(parse_key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn all_forms() {
        let id = Uuid::new_v4();
        let arn = key_arn("eu-west-1", "111122223333", id);
        assert_eq!(
            parse_key_id(&arn),
            Some(KeyIdentifier::Key {
                id,
                region: Some("eu-west-1".into()),
                account: Some("111122223333".into())
            })
        );
        assert_eq!(
            parse_key_id(&id.to_string()),
            Some(KeyIdentifier::Key {
                id,
                region: None,
                account: None
            })
        );
        assert_eq!(
            parse_key_id("alias/app"),
            Some(KeyIdentifier::Alias {
                name: "alias/app".into(),
                region: None,
                account: None
            })
        );
        assert!(matches!(
            parse_key_id(&alias_arn("us-east-1", "111122223333", "alias/app")),
            Some(KeyIdentifier::Alias { .. })
        ));
        for bad in [
            "",
            "alias/",
            "nope",
            "arn:aws:kms:r:1:key/x",
            &format!("arn:aws:kms:r:111122223333:grant/{id}"),
        ] {
            assert_eq!(parse_key_id(bad), None, "{bad}");
        }
    }
}
