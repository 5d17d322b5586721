//! Which key locks a request's KeyId takes before the request is
//! authorized: only the lock of a key that name can name for the caller.
//! Another account's key named by bare id, or a `mrk-…` id that names no
//! key, must take none: the request is refused anyway, and its lock would
//! only make the caller wait behind (and so time) another account's
//! writes, or take a table entry for a key that does not exist.

use std::sync::Arc;

use strongroom_hsm_proto::{HsmError, ModuleHandler, Request, Response, spawn_module_task};
use strongroom_store::{KeyRecord, SqliteStore};
use uuid::Uuid;

use crate::auth::Caller;
use crate::authz::{RequestCtx, RequestMeta, operations};
use crate::identity::{Identity, IdentityKind};
use crate::ops::OPERATIONS;
use crate::processor::{Change, Processor};
use crate::region::Region;

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";

/// No module request is made while taking locks.
struct NoModule;

impl ModuleHandler for NoModule {
    fn handle(
        &mut self,
        _: &strongroom_hsm_proto::Caller,
        _: Request,
    ) -> Result<Response, HsmError> {
        Err(HsmError::Internal("no module request expected".into()))
    }
}

fn user(account: &str) -> Caller {
    let arn = format!("arn:aws:iam::{account}:user/someone");
    Caller {
        account_id: account.into(),
        access_key_id: "AKIDTEST".into(),
        identity: Arc::new(Identity {
            kind: IdentityKind::User,
            session_arn: arn.clone(),
            arn,
            tags: Vec::new(),
            policy: None,
            service_name: None,
        }),
        via_service: None,
        region: Region::aws_default(),
    }
}

fn record(id: Uuid, shared: Option<Uuid>) -> KeyRecord {
    KeyRecord {
        multi_region_id: shared,
        multi_region_primary: shared.is_some(),
        ..KeyRecord::symmetric(id, OWNER, &Region::aws_default().to_string(), 1)
    }
}

/// A processor on a fresh SQLite file holding OWNER's key and OWNER's
/// multi-Region key (row id, shared id).
async fn processor(dir: &tempfile::TempDir) -> (Processor, Uuid, Uuid) {
    let store = Arc::new(SqliteStore::open(&dir.path().join("store.db")).expect("store"));
    for account in [OWNER, OTHER] {
        crate::admin::create_account(&*store, Some(account.into()))
            .await
            .expect("account");
    }
    let p = Processor::new(store, spawn_module_task(NoModule, 4));
    let key = Uuid::new_v4();
    let shared = crate::multi_region::new_id();
    let row = crate::multi_region::row_id(shared, Region::aws_default().as_str());
    for (id, shared) in [(key, None), (row, Some(shared))] {
        let change = Change::for_test(&[id]);
        p.repo
            .create(&change, record(id, shared), None)
            .await
            .expect("create");
    }
    (p, key, shared)
}

/// Whether the lock `name` takes for `caller` (as DisableKey) is that of
/// key material `material`.
async fn locks(p: &Processor, caller: &Caller, name: String, material: Uuid) -> bool {
    let row = operations::find(OPERATIONS, "DisableKey").expect("row");
    let rq = RequestCtx::new(caller, RequestMeta::default(), row);
    let guard = p.lock_named(&rq, &[&Some(name)], &[]).await.expect("lock");
    guard.holds_key(material)
}

#[tokio::test]
async fn a_name_locks_only_a_key_it_names_for_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (p, key, shared) = processor(&dir).await;
    let (owner, other) = (user(OWNER), user(OTHER));
    let region = Region::aws_default().to_string();
    let arn = |id: &str| format!("arn:aws:kms:{region}:{OWNER}:key/{id}");
    let mrk = crate::multi_region::display(shared);
    // The owner's names lock the owner's keys.
    assert!(locks(&p, &owner, key.to_string(), key).await);
    assert!(locks(&p, &owner, mrk.clone(), shared).await);
    // Another account's caller, by full ARN: a key it may be allowed to
    // change (by the key's policy), so it is locked before authorization.
    assert!(locks(&p, &other, arn(&key.to_string()), key).await);
    // A bare id always means one of the caller's own keys: another
    // account's key named so is never the request's, nor locked.
    assert!(
        !locks(&p, &other, key.to_string(), key).await,
        "a bare id locked another account's key"
    );
    assert!(
        !locks(&p, &other, mrk.clone(), shared).await,
        "a bare mrk- id locked another account's key"
    );
    // A mrk- id that names no key locks nothing.
    let none = crate::multi_region::new_id();
    let shown = crate::multi_region::display(none);
    assert!(
        !locks(&p, &owner, shown, none).await,
        "a mrk- id that names no key took a lock"
    );
    // An ARN naming the key under the wrong account locks nothing either.
    let wrong = format!("arn:aws:kms:{region}:{OTHER}:key/{key}");
    assert!(
        !locks(&p, &owner, wrong, key).await,
        "an ARN of the wrong account locked the key"
    );
}
