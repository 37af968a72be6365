//! Whether the database answers right now (SPEC §7.3). A probe pings it every second with
//! `database.timeout`; while it is known to be down, lookups fail at once (callers then serve
//! what their caches hold, or answer 503) and admin calls in flight are answered 503 instead
//! of waiting on a connection that may never come back (a hung server keeps its sockets open).

use super::{Store, StoreError};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// How often the probe pings the database.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The database's health as this node sees it.
#[derive(Debug)]
pub struct DbHealth {
    /// `true` while the database is known to be down.
    down: watch::Sender<bool>,
    /// How long one lookup (or the probe's ping) may take.
    timeout: Duration,
}

impl DbHealth {
    /// Up, with lookups bounded by `timeout`.
    pub fn new(timeout: Duration) -> DbHealth {
        DbHealth {
            down: watch::Sender::new(false),
            timeout,
        }
    }

    /// True while the database is known to be down.
    pub fn is_down(&self) -> bool {
        *self.down.borrow()
    }

    /// How long a lookup may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Resolves as soon as the database is known to be down (at once if it is).
    pub async fn went_down(&self) {
        let mut rx = self.down.subscribe();
        let _ = rx.wait_for(|down| *down).await;
    }

    /// Runs `lookup` unless the database is known to be down, for at most the timeout, and
    /// gives up as soon as the probe declares the database down.
    pub async fn guard<T>(
        &self,
        lookup: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.is_down() {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        tokio::select! {
            r = tokio::time::timeout(self.timeout, lookup) => {
                r.unwrap_or(Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)))
            }
            () = self.went_down() => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Records one probe's outcome, logging changes.
    fn set(&self, down: bool) {
        let was = self.down.send_replace(down);
        match (was, down) {
            (false, true) => tracing::warn!(
                "the database does not answer: serving cached clients, answering the rest 503"
            ),
            (true, false) => tracing::info!("the database answers again"),
            _ => {}
        }
    }

    /// Probes `store` every second until the task is dropped.
    pub async fn run(&self, store: Store) {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ok = matches!(
                tokio::time::timeout(self.timeout, store.ping()).await,
                Ok(Ok(()))
            );
            self.set(!ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_known_down_database_is_not_waited_on() {
        let h = DbHealth::new(Duration::from_secs(60));
        h.set(true);
        let never = std::future::pending::<Result<(), StoreError>>();
        assert!(h.guard(never).await.is_err_and(|e| e.is_unavailable()));
    }

    #[tokio::test]
    async fn a_lookup_in_flight_gives_up_when_the_database_goes_down() {
        let h = std::sync::Arc::new(DbHealth::new(Duration::from_secs(60)));
        let h2 = h.clone();
        let waiting = tokio::spawn(async move {
            h2.guard(std::future::pending::<Result<(), StoreError>>())
                .await
        });
        tokio::task::yield_now().await;
        h.set(true);
        assert!(waiting.await.unwrap().is_err_and(|e| e.is_unavailable()));
    }

    #[tokio::test]
    async fn a_lookup_slower_than_the_timeout_fails() {
        let h = DbHealth::new(Duration::from_millis(10));
        let slow = std::future::pending::<Result<(), StoreError>>();
        assert!(h.guard(slow).await.is_err_and(|e| e.is_unavailable()));
    }
}
