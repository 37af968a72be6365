//! Failed-authentication limits (SPEC §6): after `limits.failed_auth_per_minute` failures
//! within the last 60 seconds (a sliding window: failures on both sides of a minute boundary
//! count together) for one client from one address, or for one address over all clients,
//! requests answer 429 with `Retry-After`. Successes cost one map lookup; a client is never
//! locked out from an address that has not failed.

use crate::clock::SharedClock;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// The window failures are counted in, seconds.
const WINDOW: i64 = 60;

/// Keys remembered before stale ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// Failure times in a sliding minute, per node.
#[derive(Debug)]
pub struct FailureLimiter {
    /// Failures allowed per minute (0 = no limit).
    limit: usize,
    /// Time source.
    clock: SharedClock,
    /// The latest `limit` failure times (unix seconds, oldest first) by key.
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
    /// When the latest failure happened: a minute later there is nothing to look up, and
    /// `check` answers without taking the lock (the success path).
    last_failure: AtomicI64,
    /// When stale keys were last swept out (at most once a second).
    last_sweep: AtomicI64,
}

impl FailureLimiter {
    /// A limiter allowing `per_minute` failures.
    pub fn new(per_minute: i64, clock: SharedClock) -> FailureLimiter {
        FailureLimiter {
            limit: usize::try_from(per_minute.max(0)).unwrap_or(usize::MAX),
            clock,
            failures: Mutex::new(HashMap::new()),
            last_failure: AtomicI64::new(i64::MIN / 2),
            last_sweep: AtomicI64::new(i64::MIN / 2),
        }
    }

    fn keys(addr: &str, subject: Option<&str>) -> (String, Option<String>) {
        (
            format!("a|{addr}"),
            subject.map(|s| format!("s|{s}|{addr}")),
        )
    }

    /// `Some(retry_after_seconds)` when `addr` (or `subject` from `addr`) failed `limit`
    /// times within the last minute: the wait is until the oldest of those leaves it.
    pub fn check(&self, addr: &str, subject: Option<&str>) -> Option<u64> {
        if self.limit == 0 {
            return None;
        }
        let now = self.clock.now();
        if now - self.last_failure.load(Ordering::Acquire) >= WINDOW {
            return None;
        }
        let guard = self.failures.lock().ok()?;
        let (a, s) = Self::keys(addr, subject);
        let retry = |k: &str| {
            let times = guard.get(k)?;
            let recent = times.iter().filter(|t| now - **t < WINDOW).count();
            let oldest = times.front()?;
            (recent >= self.limit).then(|| u64::try_from(oldest + WINDOW - now).unwrap_or(1).max(1))
        };
        match (retry(&a), s.as_deref().and_then(retry)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        }
    }

    /// Counts one failure for `addr` and for `subject` from `addr`.
    pub fn fail(&self, addr: &str, subject: Option<&str>) {
        if self.limit == 0 {
            return;
        }
        let now = self.clock.now();
        let Ok(mut guard) = self.failures.lock() else {
            return;
        };
        if guard.len() > SWEEP_ABOVE && self.last_sweep.swap(now, Ordering::AcqRel) != now {
            guard.retain(|_, times| times.back().is_some_and(|t| now - t < WINDOW));
        }
        self.last_failure.fetch_max(now, Ordering::AcqRel);
        let (a, s) = Self::keys(addr, subject);
        for key in std::iter::once(a).chain(s) {
            let times = guard.entry(key).or_default();
            times.push_back(now);
            while times.len() > self.limit || times.front().is_some_and(|t| now - t >= WINDOW) {
                times.pop_front();
            }
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

    #[test]
    fn failures_on_both_sides_of_a_minute_boundary_count_together() {
        let clock = ManualClock::new(659);
        let l = FailureLimiter::new(2, Arc::new(clock.clone()));
        l.fail("1.1.1.1", Some("c"));
        clock.advance(1);
        l.fail("1.1.1.1", Some("c"));
        assert_eq!(
            l.check("1.1.1.1", Some("c")),
            Some(59),
            "until the first failure is a minute old"
        );
        clock.advance(59);
        assert!(l.check("1.1.1.1", Some("c")).is_none());
    }
}
