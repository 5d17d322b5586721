//! The wall clock, in one place below every other module: the processor,
//! authentication, identities and administration all read it, and none of
//! them should depend on another just for the time.
//!
//! The processor reads it through a [`Clock`] it is given: the
//! [`SystemClock`] in service (whose day a test may shorten, so rotation
//! periods pass in milliseconds), or a [`ManualClock`] a test moves by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Epoch seconds now.
pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// One day, as every clock in service counts it.
pub const DAY: Duration = Duration::from_secs(86_400);

/// What time it is, and how long a day of a rotation period lasts.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Epoch seconds now.
    fn now(&self) -> i64;

    /// How long one day of a rotation period lasts.
    fn day(&self) -> Duration {
        DAY
    }

    /// When a period of `days` days starting at `from` ends (epoch
    /// seconds, rounded up).
    fn days_after(&self, from: i64, days: u32) -> i64 {
        let ms = u64::from(days).saturating_mul(self.day().as_millis() as u64);
        from.saturating_add(ms.div_ceil(1000) as i64)
    }
}

/// The wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    day: Duration,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self { day: DAY }
    }
}

impl SystemClock {
    /// The wall clock, with rotation-period days of length `day` (one
    /// day, except in tests of the rotation scheduler).
    pub fn with_day(day: Duration) -> Self {
        Self { day }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        now_epoch()
    }

    fn day(&self) -> Duration {
        self.day
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `now` (epoch seconds).
    pub fn at(now: i64) -> Self {
        Self {
            now: AtomicI64::new(now),
        }
    }

    /// Moves the clock `by` forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(Duration::from_secs(90 * 86_400));
        assert_eq!(c.now(), 1_000 + 90 * 86_400);
        assert_eq!(c.days_after(c.now(), 1), c.now() + 86_400);
    }

    #[test]
    fn a_shortened_day_shortens_periods_and_rounds_up() {
        let c = SystemClock::with_day(Duration::from_millis(20));
        assert_eq!(c.days_after(100, 90), 102);
        assert_eq!(c.days_after(100, 1), 101);
        assert_eq!(SystemClock::default().days_after(0, 2), 2 * 86_400);
        assert_eq!(c.days_after(i64::MAX - 1, 2560), i64::MAX);
    }
}
