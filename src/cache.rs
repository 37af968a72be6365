//! Node-local caches of what the hot path reads (clients, services, tenants), and how
//! they are invalidated across nodes (SPEC §6).
//!
//! An entry lives `cache.ttl` seconds at most, but changes do not wait for that: the node
//! that makes a change drops its own entry and publishes an [`Invalidation`]; on PostgreSQL
//! every other node receives it by `LISTEN/NOTIFY` within milliseconds. Notices can be
//! missed while a node's listening connection is down, so:
//! - while it is down the caches are bypassed (every read goes to the database), and
//! - once it listens again every cache is flushed and the keys reloaded.
//!
//! SQLite serves a single node, so its caches are always trusted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The kinds of cached entities, named in invalidation notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client, by `client_id`.
    Client,
    /// A registered service, by name (also drops the lists of ARN-bound services).
    Service,
    /// A tenant, by id (its status gates every token of its clients).
    Tenant,
}

impl Kind {
    /// Name in a notice (`client:<id>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Service => "service",
            Kind::Tenant => "tenant",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "client" => Some(Kind::Client),
            "service" => Some(Kind::Service),
            "tenant" => Some(Kind::Tenant),
            _ => None,
        }
    }
}

/// What changed, as published to other nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// One entity (`<kind>:<id>`).
    Entry {
        /// Which cache.
        kind: Kind,
        /// Its id.
        id: String,
    },
    /// The signing keys (`keys`): reload them.
    Keys,
    /// Everything (`all`): flush every cache and reload the keys.
    All,
}

impl Invalidation {
    /// One client.
    pub fn client(id: &str) -> Invalidation {
        Invalidation::Entry {
            kind: Kind::Client,
            id: id.to_owned(),
        }
    }

    /// The notice text.
    pub fn payload(&self) -> String {
        match self {
            Invalidation::Entry { kind, id } => format!("{}:{id}", kind.as_str()),
            Invalidation::Keys => "keys".to_owned(),
            Invalidation::All => "all".to_owned(),
        }
    }

    /// Reads a notice. Anything not understood (say, from a newer node) is `All`: flushing
    /// too much is safe, keeping a stale entry is not.
    pub fn parse(payload: &str) -> Invalidation {
        match payload {
            "keys" => Invalidation::Keys,
            "all" => Invalidation::All,
            other => match other.split_once(':') {
                Some((kind, id)) => match Kind::parse(kind) {
                    Some(kind) => Invalidation::Entry {
                        kind,
                        id: id.to_owned(),
                    },
                    None => Invalidation::All,
                },
                None => Invalidation::All,
            },
        }
    }
}

/// A bounded cache of one kind of entity by id; `None` values remember that an id does not
/// exist (so unknown ids do not cost a query each either).
pub struct EntityCache<V> {
    /// The entries.
    entries: moka::future::Cache<String, Option<Arc<V>>>,
    /// Bumped by every invalidation, so that a load racing with one never caches what it read
    /// before the change.
    generation: AtomicU64,
}

impl<V> std::fmt::Debug for EntityCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl<V: Send + Sync + 'static> EntityCache<V> {
    /// A cache of at most `capacity` entries, each living at most `ttl`.
    pub fn new(capacity: u64, ttl: Duration) -> EntityCache<V> {
        EntityCache {
            entries: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached value of `id` when `trusted`, else (or on a miss) what `load` reads.
    ///
    /// SPEC §7.3: when `load` fails (the database is down, hung or slow) an entry still held
    /// is served even when untrusted: a client seen recently keeps getting tokens through an
    /// outage. SPEC §7.1: an id that does not exist is never remembered, so refused requests
    /// leave no entry behind (nor can a flood of made-up ids push real clients out).
    pub async fn get_or_load<E, F>(
        &self,
        id: &str,
        trusted: bool,
        load: F,
    ) -> Result<Option<Arc<V>>, E>
    where
        F: std::future::Future<Output = Result<Option<V>, E>>,
    {
        let held = self.entries.get(id).await.flatten();
        if trusted {
            if let Some(hit) = held {
                return Ok(Some(hit));
            }
        }
        // Callers refuse over-long identifiers first (SPEC §7.2); should one slip through, it
        // is never kept, so misses cannot fill memory with huge keys.
        let keep = !crate::failure::identifier_too_long(id);
        let before = self.generation.load(Ordering::Acquire);
        let found = match load.await {
            Ok(found) => found.map(Arc::new),
            Err(e) => return held.map(|h| Ok(Some(h))).unwrap_or(Err(e)),
        };
        if let (Some(v), true) = (&found, keep) {
            self.entries.insert(id.to_owned(), Some(v.clone())).await;
            // An invalidation that ran while we read may have come before our insert: drop
            // what we just cached rather than keep a value read before the change.
            if self.generation.load(Ordering::Acquire) != before {
                self.entries.invalidate(id).await;
            }
        } else if found.is_none() {
            // Gone from the database: whatever was held is stale.
            self.entries.invalidate(id).await;
        }
        Ok(found)
    }

    /// Drops one entry.
    pub async fn invalidate(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(id).await;
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Entries held (approximate; for tests and metrics).
    pub fn len(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Finishes pending inserts and evictions, so [`EntityCache::len`] is exact (tests).
    pub async fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks().await;
    }

    /// True when no entry is held (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every cache of a node, and whether they can be trusted right now.
#[derive(Debug)]
pub struct Caches {
    /// Clients by `client_id`.
    pub clients: EntityCache<crate::tenants::Client>,
    /// Services by name.
    pub services: EntityCache<crate::tenants::Service>,
    /// The services with a name binding of one kind, in name order (keys `gateway`,
    /// `aws_iam`, `mtls`).
    pub arn_services: EntityCache<Vec<Arc<crate::tenants::Service>>>,
    /// Tenants by id.
    pub tenants: EntityCache<crate::tenants::Tenant>,
    /// False while notices from other nodes could be missed (PostgreSQL listener down):
    /// reads then go to the database.
    trusted: AtomicBool,
}

impl Caches {
    /// Caches of `capacity` entries living `ttl`; `trusted` from the start unless notices
    /// must first be listened for (PostgreSQL).
    pub fn new(capacity: u64, ttl: Duration, trusted: bool) -> Caches {
        Caches {
            clients: EntityCache::new(capacity, ttl),
            services: EntityCache::new(capacity, ttl),
            arn_services: EntityCache::new(3, ttl),
            tenants: EntityCache::new(capacity, ttl),
            trusted: AtomicBool::new(trusted),
        }
    }

    /// Whether cached entries may be used.
    pub fn trusted(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }

    /// Stops using cached entries (the listener is down).
    pub fn distrust(&self) {
        self.trusted.store(false, Ordering::Release);
    }

    /// Flushes everything, then trusts the caches again (the listener is up).
    pub fn reset_and_trust(&self) {
        self.flush();
        self.trusted.store(true, Ordering::Release);
    }

    /// Drops every entry of every cache.
    pub fn flush(&self) {
        self.clients.invalidate_all();
        self.services.invalidate_all();
        self.arn_services.invalidate_all();
        self.tenants.invalidate_all();
    }

    /// Drops one entry.
    pub async fn invalidate(&self, kind: Kind, id: &str) {
        match kind {
            Kind::Client => self.clients.invalidate(id).await,
            Kind::Service => {
                self.services.invalidate(id).await;
                self.arn_services.invalidate_all();
            }
            Kind::Tenant => self.tenants.invalidate(id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_unknown_ones_flush_everything() {
        for inv in [
            Invalidation::client("a:b"),
            Invalidation::Keys,
            Invalidation::All,
        ] {
            assert_eq!(Invalidation::parse(&inv.payload()), inv);
        }
        assert_eq!(Invalidation::client("c1").payload(), "client:c1");
        assert_eq!(
            Invalidation::parse("service:s1"),
            Invalidation::Entry {
                kind: Kind::Service,
                id: "s1".into()
            }
        );
        assert_eq!(Invalidation::parse("widget:w1"), Invalidation::All);
        assert_eq!(Invalidation::parse("nonsense"), Invalidation::All);
    }

    #[tokio::test]
    async fn a_cached_value_is_served_until_invalidated() {
        let c: EntityCache<u32> = EntityCache::new(10, Duration::from_secs(60));
        let load = |v: u32| async move { Ok::<_, ()>(Some(v)) };
        assert_eq!(
            c.get_or_load("a", true, load(1)).await,
            Ok(Some(Arc::new(1)))
        );
        assert_eq!(
            c.get_or_load("a", true, load(2)).await,
            Ok(Some(Arc::new(1)))
        );
        assert_eq!(
            c.get_or_load("a", false, load(3)).await,
            Ok(Some(Arc::new(3))),
            "untrusted: read through"
        );
        c.invalidate("a").await;
        assert_eq!(
            c.get_or_load("a", true, load(4)).await,
            Ok(Some(Arc::new(4)))
        );
        c.invalidate_all();
        assert_eq!(
            c.get_or_load("a", true, load(5)).await,
            Ok(Some(Arc::new(5)))
        );
    }

    #[tokio::test]
    async fn a_failed_load_falls_back_to_the_entry_held_even_when_untrusted() {
        let c: EntityCache<u32> = EntityCache::new(10, Duration::from_secs(60));
        let ok = |v: u32| async move { Ok::<_, ()>(Some(v)) };
        let down = async { Err::<Option<u32>, ()>(()) };
        assert_eq!(c.get_or_load("a", true, ok(1)).await, Ok(Some(Arc::new(1))));
        assert_eq!(c.get_or_load("a", false, down).await, Ok(Some(Arc::new(1))));
        let down = async { Err::<Option<u32>, ()>(()) };
        assert_eq!(
            c.get_or_load("b", false, down).await,
            Err(()),
            "nothing held"
        );
    }

    #[tokio::test]
    async fn unknown_ids_are_never_remembered() {
        let c: EntityCache<u32> = EntityCache::new(10, Duration::from_secs(60));
        let none = async { Ok::<Option<u32>, ()>(None) };
        assert_eq!(c.get_or_load("ghost", true, none).await, Ok(None));
        c.run_pending_tasks().await;
        assert!(c.is_empty());
        let created = async { Ok::<_, ()>(Some(7)) };
        assert_eq!(
            c.get_or_load("ghost", true, created).await,
            Ok(Some(Arc::new(7))),
            "a client created later is found at once"
        );
    }

    #[tokio::test]
    async fn a_load_racing_with_an_invalidation_is_not_kept() {
        let c: EntityCache<u32> = EntityCache::new(10, Duration::from_secs(60));
        let load = async {
            // The change lands while the (old) value is being read.
            c.invalidate("a").await;
            Ok::<_, ()>(Some(1))
        };
        assert_eq!(c.get_or_load("a", true, load).await, Ok(Some(Arc::new(1))));
        let fresh = async { Ok::<_, ()>(Some(2)) };
        assert_eq!(c.get_or_load("a", true, fresh).await, Ok(Some(Arc::new(2))));
    }
}
