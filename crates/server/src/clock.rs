//! The wall clock, in one place below every other module: the processor,
//! authentication, identities and administration all read it, and none of
//! them should depend on another just for the time.

/// Epoch seconds now.
pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
