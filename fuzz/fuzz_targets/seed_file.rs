//! Seed files (`strongroom dev --seed FILE`, strongroom_server::seed):
//! YAML or JSON a developer writes or copies from elsewhere.
//! Asserts: parsing and validation never panic, whatever the bytes (deep
//! nesting, anchors and aliases, odd scalars, huge numbers); validation
//! is a function of the parsed file (checking twice gives the same
//! answer); a refusal names a path or the parser's position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::region::RegionSet;
use strongroom_server::seed::{SeedDefaults, SeedError, SeedFile};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = SeedFile::parse(data) else {
        return;
    };
    let defaults = SeedDefaults {
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        served_regions: RegionSet::Any,
    };
    let first = file.validate(&defaults).map_err(|e| e.to_string());
    let second = file.validate(&defaults).map_err(|e| e.to_string());
    assert_eq!(first, second);
    if let Err(e) = file.validate(&defaults) {
        match e {
            SeedError::Invalid { path, .. } => assert!(!path.is_empty()),
            other => panic!("validation refused without a path: {other}"),
        }
    }
});
