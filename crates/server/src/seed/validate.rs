//! Everything a seed file can get wrong on its own, checked for the whole
//! file before anything is created, each problem named by its path
//! (`keys[2].key_spec`). The key checks are the processor's own
//! (`ops::keys`), so a key that passes here is one CreateKey takes.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use strongroom_hsm_proto::KeySpecCode;
use strongroom_policy::PolicyDocument;
use strongroom_store::{KeySpec, Tag};
use uuid::Uuid;

use super::SeedError;
use super::file::{SeedFile, SeedKey};
use crate::admin::valid_account_id;
use crate::ops::key_specs::spec_and_usage;
use crate::ops::keys::check_tags;
use crate::validate::{self, Presence, Validator, shapes};

/// What a seed file is checked and applied against.
#[derive(Debug, Clone)]
pub struct SeedDefaults {
    /// The account a key without `account` belongs to.
    pub account_id: String,
    /// The region of an object without `region`.
    pub region: String,
    /// The regions this server serves; a seed may name only these.
    pub served_regions: crate::region::RegionSet,
}

/// Shortest and longest rotation period AWS accepts.
const ROTATION_DAYS: std::ops::RangeInclusive<u32> = 90..=2560;
/// Bytes of imported symmetric material (the module imports AES-256 keys).
const SYMMETRIC_MATERIAL_BYTES: usize = 32;

fn at(path: impl Into<String>, message: impl Into<String>) -> SeedError {
    SeedError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// A key's id as a UUID (canonical, hyphenated form only).
pub(crate) fn key_uuid(id: &str) -> Option<Uuid> {
    Uuid::try_parse(id)
        .ok()
        .filter(|u| u.hyphenated().to_string() == id.to_ascii_lowercase())
}

/// The key's account and region, defaults applied.
pub(crate) fn key_home<'a>(key: &'a SeedKey, d: &'a SeedDefaults) -> (&'a str, &'a str) {
    (
        key.account.as_deref().unwrap_or(&d.account_id),
        key.region.as_deref().unwrap_or(&d.region),
    )
}

/// The policy text to send: a string as given, a mapping as JSON.
pub(crate) fn policy_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tags as the processor takes them.
pub(crate) fn tags_of(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// Decoded key material of a key (base64 in the file).
pub(crate) fn material_bytes(b64: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .map(zeroize::Zeroizing::new)
}

fn check_region(path: &str, region: &Option<String>, d: &SeedDefaults) -> Result<(), SeedError> {
    match region {
        Some(r) if d.served_regions.serves(r).is_none() => Err(at(
            format!("{path}.region"),
            format!(
                "region {r} is not served by this dev server (it serves {}); start it with that region",
                d.served_regions
            ),
        )),
        _ => Ok(()),
    }
}

fn check_key(i: usize, key: &SeedKey, file: &SeedFile, d: &SeedDefaults) -> Result<(), SeedError> {
    let p = format!("keys[{i}]");
    key_uuid(&key.id).ok_or_else(|| {
        at(
            format!("{p}.id"),
            format!(
                "'{}' is not a key id (a UUID such as 0b5d8f3a-7a9e-4a5b-9bd7-1c1f4d2b8c9e)",
                key.id
            ),
        )
    })?;
    if let Some(a) = &key.account
        && *a != d.account_id
        && !file.accounts.iter().any(|x| x.id == *a)
    {
        return Err(at(
            format!("{p}.account"),
            format!("account {a} is neither in `accounts` nor this dev server's account"),
        ));
    }
    check_region(&p, &key.region, d)?;
    // CreateKey's own request checks, each named by the seed's field, then
    // its pairing rules.
    let shape = |field: &str, check: &dyn Fn(&mut Validator)| {
        let mut v = Validator::new("CreateKey");
        check(&mut v);
        v.finish()
            .map_err(|e| at(format!("{p}.{field}"), e.to_string()))
    };
    let spec: KeySpec = validate::enum_member(key.key_spec.as_deref(), "keySpec", shapes::KEY_SPEC)
        .map_err(|e| at(format!("{p}.key_spec"), e.to_string()))?
        .unwrap_or(KeySpec::SymmetricDefault);
    let usage = validate::enum_member(key.key_usage.as_deref(), "keyUsage", shapes::KEY_USAGE)
        .map_err(|e| at(format!("{p}.key_usage"), e.to_string()))?;
    shape("description", &|v| {
        v.string(
            "description",
            key.description.as_deref(),
            &shapes::DESCRIPTION,
            Presence::Optional,
        )
    })?;
    let (code, _) =
        spec_and_usage(spec, usage).map_err(|e| at(format!("{p}.key_spec"), e.to_string()))?;
    check_tags(&tags_of(&key.tags)).map_err(|e| at(format!("{p}.tags"), e.to_string()))?;
    if let Some(policy) = &key.policy {
        PolicyDocument::parse(&policy_text(policy)).map_err(|e| at(format!("{p}.policy"), e.0))?;
    }
    if let Some(days) = key.rotation_period_days {
        if !ROTATION_DAYS.contains(&days) {
            return Err(at(
                format!("{p}.rotation_period_days"),
                format!("{days} is not between 90 and 2560"),
            ));
        }
        if code != KeySpecCode::SymmetricDefault || key.material.is_some() {
            return Err(at(
                format!("{p}.rotation_period_days"),
                "automatic rotation is for SYMMETRIC_DEFAULT keys without imported material",
            ));
        }
    }
    if let Some(material) = &key.material {
        if code != KeySpecCode::SymmetricDefault {
            // The module's ImportKeyMaterial unwraps 256-bit symmetric
            // material only (crates/hsm/src/import.rs): HMAC and PKCS#8
            // private keys would need the spec in the request and a
            // per-spec check there first.
            return Err(at(
                format!("{p}.material"),
                format!(
                    "importing {spec} key material is not supported yet; only SYMMETRIC_DEFAULT"
                ),
            ));
        }
        match material_bytes(&material.0) {
            Some(m) if m.len() == SYMMETRIC_MATERIAL_BYTES => {}
            Some(m) => {
                return Err(at(
                    format!("{p}.material"),
                    format!(
                        "symmetric key material must be 256 bits (32 bytes), got {} bytes",
                        m.len()
                    ),
                ));
            }
            None => return Err(at(format!("{p}.material"), "not base64")),
        }
    }
    Ok(())
}

fn seeded_key<'a>(file: &'a SeedFile, path: &str, id: &str) -> Result<&'a SeedKey, SeedError> {
    file.keys
        .iter()
        .find(|k| k.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| at(path, format!("{id} is not a key of this seed file")))
}

fn check_same_region(
    path: &str,
    region: &Option<String>,
    key: &SeedKey,
    d: &SeedDefaults,
) -> Result<(), SeedError> {
    check_region(path, region, d)?;
    let mine = region.as_deref().unwrap_or(&d.region);
    let (_, theirs) = key_home(key, d);
    if mine != theirs {
        return Err(at(
            format!("{path}.region"),
            format!("{mine} is not the region of key {} ({theirs})", key.id),
        ));
    }
    Ok(())
}

fn check_alias_name(name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(format!("'{name}' does not start with alias/"));
    };
    if rest.is_empty()
        || name.len() > 256
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
    {
        return Err(format!(
            "'{name}' must be alias/ then 1 to 250 letters, digits, /, _ or -"
        ));
    }
    if rest.starts_with("aws/") {
        return Err(format!("'{name}' uses the reserved prefix alias/aws/"));
    }
    Ok(())
}

impl SeedFile {
    /// Checks the whole file; the first problem found is returned, named
    /// by its path. Nothing is created from a file that fails.
    pub fn validate(&self, d: &SeedDefaults) -> Result<(), SeedError> {
        self.check_accounts()?;
        let mut key_ids = HashSet::new();
        for (i, key) in self.keys.iter().enumerate() {
            check_key(i, key, self, d)?;
            if !key_ids.insert(key.id.to_ascii_lowercase()) {
                return Err(at(
                    format!("keys[{i}].id"),
                    format!("key {} is listed twice", key.id),
                ));
            }
        }
        self.check_aliases(d)?;
        self.check_grants(d)
    }

    /// Accounts: 12-digit ids, each once; credentials by
    /// `admin::create_access_key`'s rules, each access key id once.
    fn check_accounts(&self) -> Result<(), SeedError> {
        let mut accounts = HashSet::new();
        let mut access_keys = HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let p = format!("accounts[{i}]");
            if !valid_account_id(&a.id) {
                return Err(at(
                    format!("{p}.id"),
                    format!("'{}' is not 12 digits", a.id),
                ));
            }
            if !accounts.insert(a.id.as_str()) {
                return Err(at(
                    format!("{p}.id"),
                    format!("account {} is listed twice", a.id),
                ));
            }
            for (j, c) in a.credentials.iter().enumerate() {
                let p = format!("{p}.credentials[{j}]");
                check_credential(&p, c)?;
                if !access_keys.insert(c.access_key_id.as_str()) {
                    return Err(at(
                        format!("{p}.access_key_id"),
                        format!("{} is listed twice", c.access_key_id),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Aliases: valid names, of a seeded key in its region, each once per
    /// account and region.
    fn check_aliases(&self, d: &SeedDefaults) -> Result<(), SeedError> {
        let mut alias_names = HashSet::new();
        for (i, alias) in self.aliases.iter().enumerate() {
            let p = format!("aliases[{i}]");
            check_alias_name(&alias.name).map_err(|m| at(format!("{p}.name"), m))?;
            let key = seeded_key(self, &format!("{p}.key"), &alias.key)?;
            check_same_region(&p, &alias.region, key, d)?;
            let (account, region) = key_home(key, d);
            if !alias_names.insert((account, region, alias.name.as_str())) {
                return Err(at(
                    format!("{p}.name"),
                    format!(
                        "{} is listed twice for account {account} in {region}",
                        alias.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Grants: valid names, each once per key, of a seeded key in its
    /// region, to an ARN, for at least one grantable operation.
    fn check_grants(&self, d: &SeedDefaults) -> Result<(), SeedError> {
        let operations = crate::ops::grant_operations();
        let mut grant_names = HashSet::new();
        for (i, grant) in self.grants.iter().enumerate() {
            let p = format!("grants[{i}]");
            let n = &grant.name;
            if n.is_empty()
                || n.len() > 256
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
            {
                return Err(at(
                    format!("{p}.name"),
                    "a grant name is 1 to 256 letters, digits, :, /, _ or -",
                ));
            }
            let key = seeded_key(self, &format!("{p}.key"), &grant.key)?;
            check_same_region(&p, &grant.region, key, d)?;
            if !grant_names.insert((key.id.to_ascii_lowercase(), n.as_str())) {
                return Err(at(
                    format!("{p}.name"),
                    format!("{n} is listed twice for key {}", key.id),
                ));
            }
            if !grant.grantee_principal.starts_with("arn:") {
                return Err(at(format!("{p}.grantee_principal"), "must be an ARN"));
            }
            if grant.operations.is_empty() {
                return Err(at(format!("{p}.operations"), "name at least one operation"));
            }
            for (j, op) in grant.operations.iter().enumerate() {
                if !operations.contains(&op.as_str()) {
                    return Err(at(
                        format!("{p}.operations[{j}]"),
                        format!("'{op}' is not one of {}", operations.join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One seeded credential, by `admin::create_access_key`'s rules for ids
/// and secrets (`p` is its path in the file).
fn check_credential(p: &str, c: &crate::seed::SeedCredential) -> Result<(), SeedError> {
    let id = &c.access_key_id;
    if id.len() < 16 || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(at(
            format!("{p}.access_key_id"),
            "an access key id is 16 to 128 letters and digits",
        ));
    }
    let secret = &c.secret_access_key.0;
    if secret.len() < 16 || secret.len() > 128 || !secret.is_ascii() {
        return Err(at(
            format!("{p}.secret_access_key"),
            "a secret access key is 16 to 128 ASCII characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SeedDefaults {
        SeedDefaults {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            served_regions: crate::region::RegionSet::listed(vec![
                crate::region::Region::parse("us-east-1").unwrap(),
            ])
            .unwrap(),
        }
    }

    fn problem(yaml: &str) -> String {
        match SeedFile::parse(yaml.as_bytes()).and_then(|f| f.validate(&defaults())) {
            Ok(()) => panic!("accepted: {yaml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_bad_third_key_is_named_by_its_path() {
        let e = problem(
            "keys:\n  - id: 11111111-1111-4111-8111-111111111111\n  - id: 22222222-2222-4222-8222-222222222222\n  - id: 33333333-3333-4333-8333-333333333333\n    key_spec: RSA_1024\n",
        );
        assert!(e.starts_with("keys[2].key_spec:"), "{e}");
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = problem("keys:\n  - id: 11111111-1111-4111-8111-111111111111\n    colour: red\n");
        assert!(e.contains("colour") && e.contains('3'), "{e}");
    }

    #[test]
    fn other_regions_material_sizes_and_dangling_aliases_are_refused() {
        let id = "11111111-1111-4111-8111-111111111111";
        let e = problem(&format!("keys:\n  - id: {id}\n    region: eu-west-1\n"));
        assert!(
            e.starts_with("keys[0].region:") && e.contains("eu-west-1"),
            "{e}"
        );
        let e = problem(&format!("keys:\n  - id: {id}\n    material: AAAA\n"));
        assert!(
            e.starts_with("keys[0].material:") && e.contains("3 bytes"),
            "{e}"
        );
        let e = problem(&format!(
            "keys:\n  - id: {id}\n    key_spec: HMAC_256\n    key_usage: GENERATE_VERIFY_MAC\n    material: {}\n",
            "A".repeat(44)
        ));
        assert!(e.contains("HMAC_256") && e.contains("not supported"), "{e}");
        let e =
            problem("aliases:\n  - name: alias/x\n    key: 99999999-9999-4999-8999-999999999999\n");
        assert!(e.starts_with("aliases[0].key:"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let f = SeedFile::parse(
            b"accounts:\n  - id: '111122223333'\n    credentials:\n      - access_key_id: AKIAEXAMPLE000000001\n        secret_access_key: very-secret-value-123\n",
        )
        .unwrap();
        assert!(!format!("{f:?}").contains("very-secret-value"));
    }
}
