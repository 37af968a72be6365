//! Failed-authentication limits (SPEC §6): more than `limits.failed_auth_per_minute` failures
//! in the current minute for one client from one address, or for one address over all
//! clients, answer 429 with `Retry-After`. Successes cost one map lookup; a client is never
//! locked out from an address that has not failed.

use crate::clock::SharedClock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// `failing_minute` before any failure.
const NO_FAILURE: i64 = i64::MIN;

/// Fixed one-minute windows of failure counts, per node.
#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed per minute (0 = no limit).
    limit: u32,
    /// Time source.
    clock: SharedClock,
    /// Current window: (minute, counts by key).
    window: Mutex<(i64, HashMap<String, u32>)>,
    /// The minute of the latest failure: when it is not the current one there is nothing to
    /// look up, and `check` answers without taking the lock (the success path).
    failing_minute: AtomicI64,
}

impl FailureLimiter {
    /// A limiter allowing `per_minute` failures.
    pub fn new(per_minute: i64, clock: SharedClock) -> FailureLimiter {
        FailureLimiter {
            limit: u32::try_from(per_minute.max(0)).unwrap_or(u32::MAX),
            clock,
            window: Mutex::new((0, HashMap::new())),
            failing_minute: AtomicI64::new(NO_FAILURE),
        }
    }

    fn keys(addr: &str, subject: Option<&str>) -> (String, Option<String>) {
        (
            format!("a|{addr}"),
            subject.map(|s| format!("s|{s}|{addr}")),
        )
    }

    /// `Some(retry_after_seconds)` when `addr` (or `subject` from `addr`) is over the limit.
    pub fn check(&self, addr: &str, subject: Option<&str>) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let now = self.clock.now();
        let minute = now.div_euclid(60);
        if self.failing_minute.load(Ordering::Acquire) != minute {
            return None;
        }
        let guard = self.window.lock().ok()?;
        if guard.0 != minute || guard.1.is_empty() {
            return None;
        }
        let (a, s) = Self::keys(addr, subject);
        let over = |k: &str| guard.1.get(k).is_some_and(|n| *n >= self.limit);
        if over(&a) || s.as_deref().is_some_and(over) {
            Some(u64::try_from(60 - now.rem_euclid(60)).unwrap_or(60))
        } else {
            None
        }
    }

    /// Counts one failure for `addr` and for `subject` from `addr`.
    pub fn fail(&self, addr: &str, subject: Option<&str>) {
        if self.limit == 0 {
            return;
        }
        let minute = self.clock.now().div_euclid(60);
        let Ok(mut guard) = self.window.lock() else {
            return;
        };
        if guard.0 != minute {
            *guard = (minute, HashMap::new());
        }
        self.failing_minute.store(minute, Ordering::Release);
        let (a, s) = Self::keys(addr, subject);
        *guard.1.entry(a).or_insert(0) += 1;
        if let Some(s) = s {
            *guard.1.entry(s).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn failures_over_the_limit_are_refused_until_the_minute_ends() {
        let clock = ManualClock::new(600);
        let l = FailureLimiter::new(2, Arc::new(clock.clone()));
        l.fail("1.1.1.1", Some("c"));
        assert!(l.check("1.1.1.1", Some("c")).is_none());
        l.fail("1.1.1.1", Some("c"));
        assert_eq!(l.check("1.1.1.1", Some("c")), Some(60));
        assert!(
            l.check("2.2.2.2", Some("c")).is_none(),
            "other addresses still served"
        );
        clock.advance(60);
        assert!(l.check("1.1.1.1", Some("c")).is_none());
    }
}
