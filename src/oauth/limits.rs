//! Failed-authentication limits (SPEC §6, §7.2): after `limits.failed_auth_per_minute`
//! failures within the last 60 seconds (a sliding window: failures on both sides of a minute
//! boundary count together) for one subject (a client, an e-mail, a service) from one address,
//! or for one address over all subjects, requests answer 429 with `Retry-After`.
//!
//! **Atomic.** An attempt holds a slot *before* its credential is verified ([`Attempt`]), so
//! concurrent guesses never exceed the limit: a slot is granted only while the failures
//! already counted plus the attempts still in flight stay under it; an attempt beyond that
//! waits (at most [`MAX_WAIT`]) for one in flight to settle. A success gives its slot back,
//! a failure turns it into a counted failure, and an attempt dropped half-way (the client went
//! away) gives it back. Attempts in flight are counted in a fixed array of atomic counters
//! indexed by key hash, so a success costs a few atomic operations and no lock while nothing
//! failed in the last minute; two keys sharing a counter can only make each other wait
//! (never refuse), and with [`BUCKETS`] counters and a keyed hash nobody can aim for that.
//!
//! **Bounded.** Keys are 64-bit keyed hashes (a 60 KB client id costs 8 bytes), at most
//! `limits.max_tracked` of them are held (least recently used evicted), and IPv6 addresses
//! are grouped by /64 (one host usually holds a whole /64).
//!
//! A client is never locked out from an address that has not failed: its slots there are
//! its own.

use crate::clock::SharedClock;
use hashlink::LruCache;
use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// The window failures are counted in, seconds.
const WINDOW: i64 = 60;

/// Counters of attempts in flight (by key hash). 64 KiB; see the module comment.
const BUCKETS: usize = 16_384;

/// Longest an attempt waits for attempts in flight on its key to settle before it is
/// answered 503 (only under more concurrent attempts from one address than the limit).
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// How often a waiting attempt looks again without being woken.
const POLL: Duration = Duration::from_millis(20);

/// What the limiter remembers of one key.
#[derive(Debug, Default)]
struct Entry {
    /// Failure times within the window (unix seconds, oldest first; at most `limit`).
    failures: VecDeque<i64>,
    /// When a refusal of this address was last audited (address keys only).
    audited_at: Option<i64>,
}

impl Entry {
    /// Drops failures that left the window; the count of those left.
    fn recent(&mut self, now: i64) -> usize {
        while self.failures.front().is_some_and(|t| now - t >= WINDOW) {
            self.failures.pop_front();
        }
        self.failures.len()
    }
}

/// Why an attempt may not go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Past the limit: 429, retry after this many seconds.
    Limited(u64),
    /// More attempts in flight on this key than the limit, and none settled within
    /// [`MAX_WAIT`]: 503.
    Busy,
}

/// The keys of one attempt: the address, and the subject from that address.
#[derive(Debug, Clone, Copy)]
struct Keys {
    /// Key hashes; the second is only used when `len` is 2.
    hashes: [u64; 2],
    /// 1 (address only) or 2 (0 when limits are off).
    len: usize,
}

impl Keys {
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.hashes.iter().copied().take(self.len)
    }
}

/// Failure times in a sliding minute and the attempts in flight, per node.
pub struct FailureLimiter {
    /// Failures allowed per minute (0 = no limit).
    limit: u32,
    /// Time source.
    clock: SharedClock,
    /// Keys the subjects and addresses (randomly per process, so nobody can pick colliding
    /// names).
    hasher: RandomState,
    /// Attempts begun and not settled, by `key % BUCKETS`.
    in_flight: Box<[AtomicU32]>,
    /// Recent failures by key hash; at most `limits.max_tracked` keys.
    entries: Mutex<LruCache<u64, Entry>>,
    /// When the latest failure happened: a minute later there is nothing to look up, and
    /// [`FailureLimiter::begin`] answers without taking the lock (the success path).
    last_failure: AtomicI64,
    /// Attempts waiting for a slot (settling notifies only when there are some).
    waiting: AtomicUsize,
    /// Signalled when an attempt settles while some wait.
    settled: Notify,
}

impl std::fmt::Debug for FailureLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureLimiter")
            .field("limit", &self.limit)
            .field("tracked", &self.tracked())
            .finish_non_exhaustive()
    }
}

/// The part of an address failures are counted on: an IPv4 address, or the /64 of an IPv6
/// one (anything that is no address, as written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group<'a> {
    /// An IPv4 address or an IPv6 /64 (host bits cleared).
    Ip(IpAddr),
    /// Not an IP address.
    Other(&'a str),
}

fn address_group(addr: &str) -> Group<'_> {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            Group::Ip(IpAddr::V6(prefix.into()))
        }
        Ok(ip) => Group::Ip(ip),
        Err(_) => Group::Other(addr),
    }
}

/// An address as the limiter counts it, as text: an IPv4 address, or the /64 of an IPv6 one
/// written `2001:db8:0:1::/64` (anything that is no address, as written). Requests capped per
/// address (device authorizations, pushed requests) are stored under it, so that a host
/// holding a whole /64 counts as one address there as it does here.
pub fn counted_address(addr: &str) -> String {
    match address_group(addr) {
        Group::Ip(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("{v6}/64"),
        },
        Group::Ip(ip) => ip.to_string(),
        Group::Other(other) => other.to_string(),
    }
}

impl FailureLimiter {
    /// A limiter allowing `per_minute` failures, tracking at most `max_tracked` keys.
    pub fn new(per_minute: i64, max_tracked: i64, clock: SharedClock) -> FailureLimiter {
        FailureLimiter {
            limit: u32::try_from(per_minute.max(0)).unwrap_or(u32::MAX),
            clock,
            hasher: RandomState::new(),
            in_flight: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            entries: Mutex::new(LruCache::new(
                usize::try_from(max_tracked.max(1)).unwrap_or(100_000),
            )),
            last_failure: AtomicI64::new(i64::MIN / 2),
            waiting: AtomicUsize::new(0),
            settled: Notify::new(),
        }
    }

    /// Keys currently held (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<u64, Entry>> {
        // The map holds counts only; one poisoned by a panic elsewhere is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keys(&self, addr: &str, subject: Option<&str>) -> Keys {
        let group = address_group(addr);
        let a = self.hasher.hash_one(("a", group));
        match subject {
            Some(s) => Keys {
                hashes: [a, self.hasher.hash_one(("s", s, group))],
                len: 2,
            },
            None => Keys {
                hashes: [a, 0],
                len: 1,
            },
        }
    }

    // `in_flight` holds BUCKETS counters and `i` is a remainder of BUCKETS.
    #[allow(clippy::indexing_slicing)]
    fn bucket(&self, key: u64) -> &AtomicU32 {
        let i = usize::try_from(key % BUCKETS as u64).unwrap_or(0);
        &self.in_flight[i]
    }

    /// True when no failure was counted in the last minute (nothing to look up).
    fn quiet(&self, now: i64) -> bool {
        now - self.last_failure.load(SeqCst) >= WINDOW
    }

    /// Takes a slot for one attempt by `subject` from `addr` before its credential is
    /// verified. Waits (at most [`MAX_WAIT`]) while more attempts than the limit are in flight
    /// on the same keys.
    pub async fn begin(&self, addr: &str, subject: Option<&str>) -> Result<Attempt<'_>, Refusal> {
        if self.limit == 0 {
            return Ok(Attempt {
                limiter: None,
                keys: Keys {
                    hashes: [0, 0],
                    len: 0,
                },
            });
        }
        let keys = self.keys(addr, subject);
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            match self.try_begin(keys) {
                Step::Go => return Ok(self.attempt(keys)),
                Step::Refuse(r) => return Err(r),
                Step::Wait => {}
            }
            // Registered, then tried again: a settle after the first try wakes this one.
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let _waiting = Waiting::new(&self.waiting);
            match self.try_begin(keys) {
                Step::Go => return Ok(self.attempt(keys)),
                Step::Refuse(r) => return Err(r),
                Step::Wait => {}
            }
            // Only settled attempts notify (a try that gives its count back does not, or
            // waiters would wake each other in turn); a wait caused by another try's count
            // alone ends at the next poll.
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Refusal::Busy);
            }
            let _ = tokio::time::timeout_at(deadline.min(now + POLL), notified).await;
        }
    }

    fn attempt(&self, keys: Keys) -> Attempt<'_> {
        Attempt {
            limiter: Some(self),
            keys,
        }
    }

    /// One try for a slot: counts the attempt in flight, then looks at the failures (only
    /// when there were some in the last minute).
    fn try_begin(&self, keys: Keys) -> Step {
        let mut before = [0u32; 2];
        for (slot, k) in before.iter_mut().zip(keys.iter()) {
            *slot = self.bucket(k).fetch_add(1, SeqCst);
        }
        let now = self.clock.now();
        // `last_failure` is read after the counters were raised and a failure is stored
        // before its slot is given back, so an attempt that sees a quiet minute here also
        // counted every failing attempt still in flight.
        if self.quiet(now) && before.iter().take(keys.len).all(|b| *b < self.limit) {
            return Step::Go;
        }
        let step = {
            let mut map = self.lock();
            let mut retry: Option<u64> = None;
            let mut wait = false;
            for (k, in_flight) in keys.iter().zip(before) {
                let failed = map.get_mut(&k).map_or(0, |e| e.recent(now));
                let failed = u32::try_from(failed).unwrap_or(u32::MAX);
                if failed >= self.limit {
                    let oldest = map
                        .peek(&k)
                        .and_then(|e| e.failures.front().copied())
                        .unwrap_or(now);
                    let secs = u64::try_from(oldest + WINDOW - now).unwrap_or(1).max(1);
                    retry = Some(retry.map_or(secs, |r| r.max(secs)));
                } else if failed.saturating_add(in_flight) >= self.limit {
                    wait = true;
                }
            }
            match (retry, wait) {
                (Some(secs), _) => Step::Refuse(Refusal::Limited(secs)),
                (None, true) => Step::Wait,
                (None, false) => Step::Go,
            }
        };
        if !matches!(step, Step::Go) {
            // Given back without waking anyone: see `begin`.
            for k in keys.iter() {
                self.bucket(k).fetch_sub(1, SeqCst);
            }
        }
        step
    }

    /// Gives the slots of a settled attempt back and wakes waiters, if any.
    fn release(&self, keys: Keys) {
        for k in keys.iter() {
            self.bucket(k).fetch_sub(1, SeqCst);
        }
        if self.waiting.load(SeqCst) > 0 {
            self.settled.notify_waiters();
        }
    }

    /// Counts one failure on `keys` (its slot is given back by the caller).
    fn record_failure(&self, keys: Keys) {
        let now = self.clock.now();
        {
            let mut map = self.lock();
            for k in keys.iter() {
                if map.get_mut(&k).is_none() {
                    // At `limits.max_tracked` keys this evicts the least recently used.
                    map.insert(k, Entry::default());
                }
                if let Some(e) = map.get_mut(&k) {
                    e.failures.push_back(now);
                    while e.failures.len() > self.limit as usize {
                        e.failures.pop_front();
                    }
                    e.recent(now);
                }
            }
        }
        self.last_failure.fetch_max(now, SeqCst);
    }

    /// Whether a refusal of a request from `addr` should be written to the audit log: always,
    /// unless the address is past its limit and one of its refusals was already audited in
    /// the last minute. Refusals of a limited address are counted in
    /// `tessera_limited_refusals_total` either way.
    pub fn should_audit_refusal(&self, addr: &str) -> bool {
        if self.limit == 0 {
            return true;
        }
        let now = self.clock.now();
        if self.quiet(now) {
            return true;
        }
        let key = self.keys(addr, None).hashes[0];
        let mut map = self.lock();
        let Some(e) = map.get_mut(&key) else {
            return true;
        };
        if u32::try_from(e.recent(now)).unwrap_or(u32::MAX) < self.limit {
            return true;
        }
        metrics::counter!("tessera_limited_refusals_total").increment(1);
        if e.audited_at.is_some_and(|at| now - at < WINDOW) {
            return false;
        }
        e.audited_at = Some(now);
        true
    }
}

/// The outcome of one try for a slot.
enum Step {
    /// Slot taken.
    Go,
    /// No slot: answer now.
    Refuse(Refusal),
    /// No slot yet: wait for an attempt in flight to settle.
    Wait,
}

/// Counts a waiting attempt while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Waiting<'a> {
        n.fetch_add(1, SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A slot taken for one authentication attempt. Say how it ended with
/// [`Attempt::failed`] or [`Attempt::succeeded`]; dropped unsettled (a request abandoned
/// half-way, or an error that is no guess such as a database fault), the slot is just given
/// back.
#[must_use = "an attempt must be settled: failed() or succeeded()"]
pub struct Attempt<'a> {
    /// The limiter, or `None` when limits are off.
    limiter: Option<&'a FailureLimiter>,
    /// Its keys.
    keys: Keys,
}

impl std::fmt::Debug for Attempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attempt")
    }
}

impl Attempt<'_> {
    /// The credential was wrong (or could not be checked, e.g. Vault down): counts a failure.
    pub fn failed(self) {
        if let Some(l) = self.limiter {
            l.record_failure(self.keys);
        }
    }

    /// The credential was right: the slot is given back and nothing is counted.
    pub fn succeeded(self) {}
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.limiter {
            l.release(self.keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn limiter(limit: i64, clock: &ManualClock) -> FailureLimiter {
        FailureLimiter::new(limit, 100_000, Arc::new(clock.clone()))
    }

    async fn fail(l: &FailureLimiter, addr: &str, subject: Option<&str>) {
        l.begin(addr, subject).await.unwrap().failed();
    }

    async fn check(l: &FailureLimiter, addr: &str, subject: Option<&str>) -> Option<u64> {
        match l.begin(addr, subject).await {
            Ok(a) => {
                a.succeeded();
                None
            }
            Err(Refusal::Limited(s)) => Some(s),
            Err(Refusal::Busy) => panic!("busy"),
        }
    }

    #[tokio::test]
    async fn failures_over_the_limit_are_refused_until_the_minute_ends() {
        let clock = ManualClock::new(600);
        let l = limiter(2, &clock);
        fail(&l, "1.1.1.1", Some("c")).await;
        assert!(check(&l, "1.1.1.1", Some("c")).await.is_none());
        fail(&l, "1.1.1.1", Some("c")).await;
        assert_eq!(check(&l, "1.1.1.1", Some("c")).await, Some(60));
        assert!(
            check(&l, "2.2.2.2", Some("c")).await.is_none(),
            "other addresses still served"
        );
        clock.advance(60);
        assert!(check(&l, "1.1.1.1", Some("c")).await.is_none());
    }

    #[tokio::test]
    async fn failures_on_both_sides_of_a_minute_boundary_count_together() {
        let clock = ManualClock::new(659);
        let l = limiter(2, &clock);
        fail(&l, "1.1.1.1", Some("c")).await;
        clock.advance(1);
        fail(&l, "1.1.1.1", Some("c")).await;
        assert_eq!(
            check(&l, "1.1.1.1", Some("c")).await,
            Some(59),
            "until the first failure is a minute old"
        );
        clock.advance(59);
        assert!(check(&l, "1.1.1.1", Some("c")).await.is_none());
    }

    #[tokio::test]
    async fn attempts_in_flight_hold_slots_so_concurrent_guesses_never_pass_the_limit() {
        let clock = ManualClock::new(600);
        let l = limiter(3, &clock);
        let held: Vec<Attempt<'_>> = futures::future::join_all(
            (0..3).map(|_| async { l.begin("1.1.1.1", Some("c")).await.unwrap() }),
        )
        .await;
        // A fourth waits for one of the three; none settles, so it gives up (503).
        assert_eq!(
            l.begin("1.1.1.1", Some("c")).await.err(),
            Some(Refusal::Busy)
        );
        let mut held = held.into_iter();
        // One succeeds: its slot goes to the next attempt.
        held.next().unwrap().succeeded();
        let fourth = l.begin("1.1.1.1", Some("c")).await.unwrap();
        for a in held.chain(std::iter::once(fourth)) {
            a.failed();
        }
        assert_eq!(check(&l, "1.1.1.1", Some("c")).await, Some(60));
    }

    #[tokio::test]
    async fn a_waiting_attempt_goes_ahead_as_soon_as_one_in_flight_settles() {
        let clock = ManualClock::new(600);
        let l = limiter(1, &clock);
        let first = l.begin("1.1.1.1", None).await.unwrap();
        let (second, ()) = tokio::join!(l.begin("1.1.1.1", None), async {
            tokio::task::yield_now().await;
            first.succeeded();
        });
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn an_abandoned_attempt_gives_its_slot_back_without_counting() {
        let clock = ManualClock::new(600);
        let l = limiter(1, &clock);
        drop(l.begin("1.1.1.1", Some("c")).await.unwrap());
        assert!(check(&l, "1.1.1.1", Some("c")).await.is_none());
    }

    #[tokio::test]
    async fn at_most_max_tracked_keys_are_held_and_long_subjects_cost_a_hash() {
        let clock = ManualClock::new(600);
        let l = FailureLimiter::new(5, 100, Arc::new(clock.clone()));
        let long = "x".repeat(60_000);
        for i in 0..1_000 {
            fail(&l, &format!("10.0.{}.{}", i / 256, i % 256), Some(&long)).await;
        }
        assert_eq!(l.tracked(), 100);
    }

    #[tokio::test]
    async fn ipv6_addresses_of_one_64_share_their_failures() {
        let clock = ManualClock::new(600);
        let l = limiter(2, &clock);
        fail(&l, "2001:db8:1:2::1", None).await;
        fail(&l, "2001:db8:1:2:ffff::9", None).await;
        assert_eq!(check(&l, "2001:db8:1:2::abcd", None).await, Some(60));
        assert!(check(&l, "2001:db8:1:3::1", None).await.is_none());
    }

    #[tokio::test]
    async fn refusals_of_a_limited_address_are_audited_once_a_minute() {
        let clock = ManualClock::new(600);
        let l = limiter(1, &clock);
        assert!(l.should_audit_refusal("1.1.1.1"));
        fail(&l, "1.1.1.1", None).await;
        assert!(l.should_audit_refusal("1.1.1.1"), "the first is audited");
        assert!(!l.should_audit_refusal("1.1.1.1"));
        assert!(l.should_audit_refusal("2.2.2.2"), "other addresses are");
        clock.advance(59);
        assert!(
            !l.should_audit_refusal("1.1.1.1"),
            "not again within the minute"
        );
        clock.advance(1);
        assert!(l.should_audit_refusal("1.1.1.1"), "no longer limited");
    }

    #[test]
    fn address_groups_are_ipv4_addresses_and_ipv6_64s() {
        let g = address_group;
        assert_eq!(g("2001:db8::1"), g("2001:db8:0:0:ffff:ffff:ffff:ffff"));
        assert_ne!(g("2001:db8::1"), g("2001:db8:0:1::1"));
        assert_ne!(g("1.2.3.4"), g("1.2.3.5"));
        assert_eq!(g("unknown"), Group::Other("unknown"));
    }

    #[test]
    fn counted_addresses_are_written_as_their_group() {
        assert_eq!(counted_address("203.0.113.9"), "203.0.113.9");
        assert_eq!(counted_address("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(
            counted_address("2001:db8:0:1:aaaa:bbbb:cccc:dddd"),
            "2001:db8:0:1::/64"
        );
        assert_eq!(
            counted_address("2001:db8:0:1::7"),
            counted_address("2001:db8:0:1::8")
        );
        assert_ne!(
            counted_address("2001:db8:0:1::7"),
            counted_address("2001:db8:0:2::7")
        );
        assert_eq!(counted_address("unknown"), "unknown");
    }
}
