//! Cross-node change notices: PostgreSQL `NOTIFY` on a shared channel, and a dedicated
//! `LISTEN` connection per node. SQLite serves a single node, so there both are no-ops.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::{Engine, Store, StoreError};

/// The channel every node listens on; payloads are `cache::Invalidation` texts.
pub const INVALIDATE_CHANNEL: &str = "tessera_invalidate";

/// `application_name` of the listening connection, so operators (and tests) can find it in
/// `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "tessera-listener";

/// How long (re)connecting the listener may wait for PostgreSQL before it reports an error.
const LISTENER_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a [`Listener`] hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerEvent {
    /// A notice published by some node (this one included).
    Message(String),
    /// The connection was lost: notices sent from now on are missed until a new listener
    /// listens. (sqlx would reconnect on the next call, but only a fresh [`Store::listen`]
    /// tells when listening has resumed — and the database may be down meanwhile.)
    Lost,
}

/// A dedicated `LISTEN` connection (PostgreSQL only).
pub struct Listener {
    /// sqlx's listener; it re-connects and re-`LISTEN`s by itself after a lost connection.
    inner: PgListener,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Store {
    /// Publishes `payload` to every node listening (PostgreSQL `pg_notify`, delivered when
    /// the statement commits); nothing on SQLite.
    pub async fn notify(&self, payload: &str) -> Result<(), StoreError> {
        if self.engine != Engine::Postgres {
            return Ok(());
        }
        // `pg_notify` returns `void`, which the Any driver cannot decode: select a constant.
        sqlx::query("SELECT 1 FROM (SELECT pg_notify($1, $2)) AS sent")
            .bind(INVALIDATE_CHANNEL)
            .bind(payload)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Opens a dedicated connection listening on [`INVALIDATE_CHANNEL`]; `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<Listener>, StoreError> {
        if self.engine != Engine::Postgres {
            return Ok(None);
        }
        let options: PgConnectOptions = self.url.expose().parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(LISTENER_CONNECT_TIMEOUT)
            .connect_with(options.application_name(LISTENER_APPLICATION_NAME))
            .await?;
        let mut inner = PgListener::connect_with(&pool).await?;
        inner.ignore_pool_close_event(true);
        inner.listen(INVALIDATE_CHANNEL).await?;
        Ok(Some(Listener { inner }))
    }
}

impl Listener {
    /// Waits for the next notice; [`ListenerEvent::Lost`] when the connection drops.
    pub async fn next(&mut self) -> Result<ListenerEvent, StoreError> {
        Ok(match self.inner.try_recv().await? {
            Some(n) => ListenerEvent::Message(n.payload().to_owned()),
            None => ListenerEvent::Lost,
        })
    }
}
