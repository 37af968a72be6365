//! Caps on the short-lived requests an anonymous caller can make a client hold (device
//! authorizations, pushed authorization requests; SPEC §7.2): at most so many unexpired per
//! client, and for a public client (named by `client_id` alone) at most so many of those from
//! one address (IPv4, or an IPv6 /64, as the failure limiter counts it), so nobody can use up
//! the client's share from one place and lock its real users out. Past either: 429 until some
//! expire. A confidential client proves its credential and may make all of its requests from
//! one server, so only the per-client cap holds it.
//!
//! The count and the insert are two statements: a request holds its client's lock on this
//! node from the count until its row is stored ([`CapPermit`]), so concurrent requests never
//! pass a cap through one node; across nodes (PostgreSQL) each node may pass it by the one
//! request it has in flight.

use crate::failure::Failure;
use crate::reasons;
use crate::service::Tessera;
use crate::store::Pending;
use crate::tenants::{AuthMethod, Client};
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use tokio::sync::{Mutex, MutexGuard};

/// Locks shared by clients whose ids hash alike (two such clients only wait for each other).
const STRIPES: usize = 64;

/// The per-client locks (see the module comment).
static LOCKS: LazyLock<Vec<Mutex<()>>> =
    LazyLock::new(|| (0..STRIPES).map(|_| Mutex::new(())).collect());

/// A request's place under the caps: hold it until the request's row is stored.
#[derive(Debug)]
pub struct CapPermit {
    _held: Option<MutexGuard<'static, ()>>,
}

/// The caps of one kind of request.
#[derive(Debug, Clone, Copy)]
pub struct PendingCaps {
    /// Which requests.
    pub kind: Pending,
    /// Unexpired requests one client may hold.
    pub per_client: i64,
    /// Unexpired requests of one public client that one address may hold.
    pub per_address: i64,
    /// What the refusal calls them ("device authorizations").
    pub what: &'static str,
    /// `Retry-After` of a refusal, seconds.
    pub retry_after: u64,
}

impl PendingCaps {
    /// 429 (`RATE_LIMITED`) while `address` (as [`super::limits::counted_address`] writes it)
    /// holds [`PendingCaps::per_address`] live requests of `client` (a public one), or the
    /// client [`PendingCaps::per_client`]. The address is counted first: it is the cap one
    /// caller can reach, and its count reads a narrower index. The permit must be held until
    /// the request's row is stored.
    pub async fn check(
        &self,
        t: &Tessera,
        client: &Client,
        address: &str,
    ) -> Result<CapPermit, Failure> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        client.client_id.hash(&mut h);
        let stripe = usize::try_from(h.finish() % STRIPES as u64).unwrap_or(0);
        let permit = match LOCKS.get(stripe) {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let now = t.clock.now();
        let count = |remote| {
            t.store
                .count_pending(self.kind, &client.client_id, remote, now)
        };
        let from_here = client.auth_method == AuthMethod::None
            && count(Some(address)).await? >= self.per_address;
        let detail = if from_here {
            format!(
                "too many {} of this client are pending from this address; retry later",
                self.what
            )
        } else if count(None).await? >= self.per_client {
            format!(
                "too many {} of this client are pending; retry later",
                self.what
            )
        } else {
            return Ok(CapPermit { _held: permit });
        };
        let mut f = Failure::new(reasons::RATE_LIMITED, detail);
        f.retry_after = Some(self.retry_after);
        Err(f)
    }
}
