//! Connecting to the engine a URL names, pool settings, migrations and transactions.

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, Connection, Executor, Transaction};

use super::{Engine, Store, StoreError};

/// Schema migrations of each engine, embedded at build time.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
/// See `SQLITE_MIGRATIONS`.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Run on every new SQLite connection. `busy_timeout` comes first so that the switch to WAL
/// waits for, rather than fails on, a concurrent connection doing the same.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
];

/// Pool sizes: SQLite has a single writer anyway; PostgreSQL is shared by several nodes.
const SQLITE_POOL_SIZE: u32 = 8;
/// See `SQLITE_POOL_SIZE`.
const POSTGRES_POOL_SIZE: u32 = 16;
/// How long a caller waits for a pooled connection before the store reports an error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects to `url` (`sqlite://PATH` — file created if missing, WAL mode, foreign keys on —
    /// or `postgres://…`). Does not migrate.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, ACQUIRE_TIMEOUT).await
    }

    /// Like [`Store::connect`], waiting at most `acquire_timeout` for a pooled connection
    /// (`database.timeout`: an outage then fails a lookup quickly instead of holding it).
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = engine_url(url)?;
        if engine == Engine::Sqlite {
            create_private(&url);
        }
        let options: AnyConnectOptions = url.parse()?;
        let listen_url = crate::secret::Secret::new(url.clone());
        let pool = match engine {
            Engine::Sqlite => AnyPoolOptions::new()
                .max_connections(SQLITE_POOL_SIZE)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        for pragma in SQLITE_PRAGMAS {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
                .before_acquire(|conn, _meta| Box::pin(async move { Ok(settled(conn)) })),
            Engine::Postgres => AnyPoolOptions::new().max_connections(POSTGRES_POOL_SIZE),
        }
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await?;
        Ok(Store {
            pool,
            engine,
            url: listen_url,
            queries: Default::default(),
            pending: None,
        })
    }

    /// Applies pending migrations of this engine (embedded with `sqlx::migrate!`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `SELECT 1`: used by `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.db()).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`IMMEDIATE`):
    /// a deferred transaction that later upgrades can fail with `SQLITE_BUSY` without waiting.
    pub(super) async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }
}

/// Whether a pooled SQLite connection may be handed out again: not if sqlx still counts a
/// transaction as open on it. SQLite rolls a transaction back by itself on some errors
/// (`SQLITE_FULL`, `SQLITE_IOERR`: SPEC §7.3, the disk fills); sqlx's own `ROLLBACK` then
/// fails and it keeps counting the transaction, so it would refuse every later
/// `BEGIN IMMEDIATE` on that connection (`InvalidSavePointStatement`) long after space
/// returned. Such a connection is closed instead, and the pool opens a fresh one. The pool
/// pings an idle connection before this check, which settles a rollback still queued on it.
fn settled(conn: &mut sqlx::AnyConnection) -> bool {
    let open = conn.is_in_transaction();
    if open {
        tracing::warn!(
            "closing a pooled SQLite connection whose transaction SQLite ended by itself (disk full or I/O error)"
        );
    }
    !open
}

/// Creates the SQLite file of `url` readable only by the owner (0600) if it does not exist
/// yet; SQLite gives its `-wal` and `-shm` files the database file's permissions. Best
/// effort: if this fails, opening the database reports the real problem.
fn create_private(url: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let rest = url.strip_prefix("sqlite:").unwrap_or(url);
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split('?').next().unwrap_or(rest);
        if file.is_empty() || file.starts_with("file:") || url.contains("mode=ro") {
            return;
        }
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file);
    }
    #[cfg(not(unix))]
    let _ = url;
}

/// Recognises the engine of `url` and returns the URL to hand to sqlx: a SQLite URL gets
/// `mode=rwc` (create the file if missing) unless it names a mode.
fn engine_url(url: &str) -> Result<(Engine, String), StoreError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, query) = match rest.split_once('?') {
            Some((file, query)) => (file, Some(query)),
            None => (rest, None),
        };
        let has = |prefix: &str| query.is_some_and(|q| q.split('&').any(|p| p.starts_with(prefix)));
        if file.is_empty() || file == ":memory:" || has("mode=memory") {
            // With the Any driver each pooled connection would open its own empty database.
            return Err(StoreError::BadUrl(
                "in-memory SQLite is not supported; use a file".into(),
            ));
        }
        let url = match query {
            None => format!("{url}?mode=rwc"),
            Some(_) if has("mode=") => url.to_owned(),
            Some(_) => format!("{url}&mode=rwc"),
        };
        Ok((Engine::Sqlite, url))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Engine::Postgres, url.to_owned()))
    } else {
        // Name the scheme only if it looks like one: the rest of a URL may hold a password.
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s)
            .filter(|s| s.len() <= 16 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'))
            .unwrap_or("?");
        Err(StoreError::BadUrl(format!(
            "scheme `{scheme}`: expected sqlite: or postgres:"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_creates_the_file_unless_it_names_a_mode() {
        let url = |u: &str| engine_url(u).unwrap();
        assert_eq!(
            url("sqlite://./tessera.db"),
            (Engine::Sqlite, "sqlite://./tessera.db?mode=rwc".to_owned())
        );
        assert_eq!(
            url("sqlite:/var/lib/t.db"),
            (Engine::Sqlite, "sqlite:/var/lib/t.db?mode=rwc".to_owned())
        );
        assert_eq!(
            url("sqlite:t.db?cache=shared").1,
            "sqlite:t.db?cache=shared&mode=rwc"
        );
        assert_eq!(url("sqlite:t.db?mode=ro").1, "sqlite:t.db?mode=ro");
    }

    #[tokio::test]
    async fn a_connection_whose_transaction_sqlite_ended_by_itself_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        // As after `SQLITE_FULL`: SQLite ends the transaction itself, so the `ROLLBACK` sqlx
        // sends when it is dropped fails, and sqlx still counts it as open.
        let mut tx = store.begin().await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        drop(tx);
        for _ in 0..2 * SQLITE_POOL_SIZE {
            let tx = store.begin().await.unwrap();
            tx.commit().await.unwrap();
        }
    }

    #[test]
    fn a_postgres_url_is_kept_as_is() {
        for u in ["postgres://u:p@h/db", "postgresql://h/db?sslmode=require"] {
            assert_eq!(engine_url(u).unwrap(), (Engine::Postgres, u.to_owned()));
        }
    }

    #[test]
    fn in_memory_sqlite_is_a_bad_url() {
        for u in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:",
        ] {
            assert!(matches!(engine_url(u), Err(StoreError::BadUrl(_))), "{u}");
        }
    }

    #[test]
    fn an_unknown_scheme_is_a_bad_url_that_does_not_echo_the_url() {
        let Err(StoreError::BadUrl(why)) = engine_url("mysql://root:hunter2@db/x") else {
            panic!("expected BadUrl");
        };
        assert!(why.contains("mysql") && !why.contains("hunter2"), "{why}");
        let Err(StoreError::BadUrl(why)) = engine_url("root:hunter2@db/x") else {
            panic!("expected BadUrl");
        };
        assert!(!why.contains("root") && !why.contains("hunter2"), "{why}");
    }
}
