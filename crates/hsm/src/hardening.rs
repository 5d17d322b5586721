//! Process hardening for the module daemon: no core dumps, not ptrace-able
//! by other users (PR_SET_DUMPABLE=0), and all memory locked (mlockall)
//! when the process may lock that much, so no key reaches swap.

use rustix::mm::{MlockAllFlags, mlockall};
use rustix::process::{
    DumpableBehavior, Resource, Rlimit, getrlimit, set_dumpable_behavior, setrlimit,
};

/// What hardening took effect, for the start-up line and the log.
#[derive(Debug, Default, serde::Serialize)]
pub struct Hardening {
    /// PR_SET_DUMPABLE=0 applied.
    pub non_dumpable: bool,
    /// RLIMIT_CORE set to 0.
    pub core_dumps_disabled: bool,
    /// mlockall(MCL_CURRENT | MCL_FUTURE) applied.
    pub all_memory_locked: bool,
}

/// Applies what the OS allows; never fails, reports instead.
pub fn harden() -> Hardening {
    let mut h = Hardening {
        non_dumpable: set_dumpable_behavior(DumpableBehavior::NotDumpable).is_ok(),
        core_dumps_disabled: setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        )
        .is_ok(),
        all_memory_locked: false,
    };
    // MCL_FUTURE under a small RLIMIT_MEMLOCK would make later allocations
    // fail, so lock everything only when the limit can be lifted (root, or
    // an unlimited hard limit); otherwise only the key vault is locked.
    let limit = getrlimit(Resource::Memlock);
    let lifted = limit.maximum.is_none()
        && setrlimit(
            Resource::Memlock,
            Rlimit {
                current: None,
                maximum: None,
            },
        )
        .is_ok();
    if lifted || rustix::process::geteuid().is_root() {
        h.all_memory_locked = mlockall(MlockAllFlags::CURRENT | MlockAllFlags::FUTURE).is_ok();
    }
    if !h.all_memory_locked {
        tracing::warn!("cannot lock all memory (RLIMIT_MEMLOCK); only the key vault is locked");
    }
    h
}
