//! Building and running a server: bootstrap (master key, database, default tenant, keys,
//! bootstrap admin token), background upkeep, and graceful shutdown.

use crate::audit::AuditSink;
use crate::cache::Invalidation;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::crypto::{random_token, MasterKey};
use crate::keys::{signer::Alg, Keys};
use crate::service::Tessera;
use crate::store::{ListenerEvent, Store};
use crate::tenants::{Status, Tenant, DEFAULT_TENANT};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration problem.
    #[error("{0}")]
    Config(String),
    /// Database problem.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Keys problem.
    #[error("signing keys: {0}")]
    Keys(#[from] crate::keys::KeysError),
    /// File or socket problem.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// Writes `content` to a new file readable only by the owner.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// The master key: configured, read from OpenBao/Vault, read from its file, or generated into
/// that file.
pub async fn master_key(settings: &Settings, clock: &SharedClock) -> Result<MasterKey, StartError> {
    if !settings.master_key.is_empty() {
        return MasterKey::parse(settings.master_key.expose())
            .map_err(|e| StartError::Config(format!("master_key: {e}")));
    }
    if !settings.master_key_vault.is_empty() {
        let at = crate::vault::parse_location(&settings.master_key_vault).ok_or_else(|| {
            StartError::Config("master_key_vault must be MOUNT/PATH#FIELD".to_string())
        })?;
        let vault = crate::vault::Vault::new(&settings.vault, clock.clone());
        let text = vault.secret(&at).await.map_err(|e| {
            StartError::Config(format!(
                "master_key_vault {}: {e}",
                settings.master_key_vault
            ))
        })?;
        return MasterKey::parse(text.expose()).map_err(|e| {
            StartError::Config(format!(
                "master_key_vault {}: {e}",
                settings.master_key_vault
            ))
        });
    }
    let path = settings.master_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::parse(&text)
            .map_err(|e| StartError::Config(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, text) =
                MasterKey::generate().map_err(|e| StartError::Config(e.to_string()))?;
            write_private(&path, &text).map_err(io(format!(
                "cannot write master key file {}",
                path.display()
            )))?;
            tracing::warn!(
                path = %path.display(),
                "no master key configured: generated one into this file (0600). Back it up; set TESSERA_MASTER_KEY when running several nodes"
            );
            Ok(key)
        }
        Err(e) => Err(io(format!(
            "cannot read master key file {}",
            path.display()
        ))(e)),
    }
}

/// Connects and (optionally) migrates.
pub async fn open_store(settings: &Settings) -> Result<Store, StartError> {
    let store = Store::connect_with(
        &settings.database_url,
        std::time::Duration::from_secs(
            u64::try_from(settings.database.timeout.max(1)).unwrap_or(2),
        ),
    )
    .await?;
    if settings.migrate_on_start {
        store.migrate().await?;
    }
    Ok(store)
}

/// The bootstrap admin token's keyed hash: the configured token, or one generated on first
/// start whose hash is stored and whose value is written once to a 0600 file.
async fn admin_token_hash(
    settings: &Settings,
    store: &Store,
    master: &MasterKey,
) -> Result<Option<Vec<u8>>, StartError> {
    if !settings.admin_token.is_empty() {
        return Ok(Some(
            master.hash_secret(settings.admin_token.expose().as_bytes()),
        ));
    }
    const KEY: &str = "bootstrap_admin_token_hash";
    if let Some(h) = store.meta_get(KEY).await? {
        tracing::info!(path = %settings.admin_token_path().display(), "bootstrap admin token was generated on first start; see this file");
        return Ok(Some(h));
    }
    let token = random_token(32).map_err(|e| StartError::Config(e.to_string()))?;
    let hash = master.hash_secret(token.as_bytes());
    // The token is on disk before its hash is stored: a file that cannot be written stops
    // the start with nothing stored, and the next start generates a token again. It goes to
    // a file of this process first and takes its final name only if this node's hash won.
    let path = settings.admin_token_path();
    let pending = pending_path(&path);
    write_private(&pending, &token).map_err(io(format!(
        "cannot write admin token file {}",
        pending.display()
    )))?;
    let won = match store.meta_insert_if_absent(KEY, &hash).await {
        Ok(won) => won,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e.into());
        }
    };
    if !won {
        // Another node won the race; use its hash.
        let _ = std::fs::remove_file(&pending);
        return Ok(store.meta_get(KEY).await?);
    }
    match std::fs::rename(&pending, &path) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "generated the bootstrap admin token and wrote it to this file (0600); use it as TESSERA_ADMIN_TOKEN");
        }
        Err(e) => {
            tracing::error!(path = %pending.display(), error = %e, "generated the bootstrap admin token but could not rename its file: the token is in this file (0600)");
        }
    }
    Ok(Some(hash))
}

/// Where a generated token is written before it takes `path`'s name (unique per process).
fn pending_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.pending", std::process::id()));
    path.with_file_name(name)
}

/// A server bound to its listener, ready to run.
#[derive(Debug)]
pub struct App {
    /// The bound socket of `listen`.
    listener: TcpListener,
    /// The TLS handshakes (`tls.*`), if `listen` speaks TLS.
    tls: Option<crate::tls::server::TlsServer>,
    /// The bound socket of `tls.listen`, the mutual-TLS listener, if configured.
    mtls_listener: Option<TcpListener>,
    /// The core shared by handlers.
    tessera: Arc<Tessera>,
    /// Connection limits (`server.*`, with `max_connections` fitted to the open-file limit).
    limits: crate::http::serve::Limits,
}

/// Seconds from a setting (validated positive or zero) as a duration.
fn seconds(n: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(n).unwrap_or(0))
}

/// The connection limits of `settings`, after raising the open-file limit (SPEC §7.3
/// "Descriptors": a flood of connections must never leave the server without a descriptor
/// for the database or a new client).
fn connection_limits(settings: &Settings) -> crate::http::serve::Limits {
    use crate::http::serve;
    let nofile = serve::raise_open_file_limit();
    let configured = u64::try_from(settings.server.max_connections).unwrap_or(1);
    let max_connections = serve::effective_max_connections(configured, nofile);
    if u64::from(max_connections) < configured {
        tracing::warn!(
            configured,
            effective = max_connections,
            open_file_limit = nofile,
            "server.max_connections lowered to stay below the open-file limit"
        );
    } else {
        tracing::info!(
            max_connections,
            open_file_limit = nofile,
            "connection limit"
        );
    }
    serve::Limits {
        header_timeout: seconds(settings.server.header_timeout),
        request_timeout: seconds(settings.server.request_timeout),
        idle_timeout: seconds(settings.server.idle_timeout),
        max_connections,
        shutdown_grace: seconds(settings.server.shutdown_grace),
    }
}

impl App {
    /// Bootstraps everything and binds `settings.listen` (port 0 picks a free port).
    pub async fn build(mut settings: Settings, clock: SharedClock) -> Result<App, StartError> {
        // A Vault CA bundle that cannot be read stops the start, rather than every read later.
        crate::vault::http_client(&settings.vault).map_err(StartError::Config)?;
        // So do TLS files that cannot be read, before anything is created.
        let tls = crate::tls::server::TlsServer::from_settings(&settings.tls)
            .map_err(StartError::Config)?;
        let master = master_key(&settings, &clock).await?;
        let store = open_store(&settings).await?;
        store
            .ensure_tenant(&Tenant {
                id: DEFAULT_TENANT.into(),
                name: "Default".into(),
                status: Status::Active,
                created_at: clock.now(),
            })
            .await?;
        let alg = Alg::parse(&settings.keys.alg).unwrap_or(Alg::RS256);
        let keys = Keys::init(
            store.clone(),
            master.clone(),
            clock.clone(),
            alg,
            settings.tokens.max_ttl,
        )
        .await?;
        let admin_hash = admin_token_hash(&settings, &store, &master).await?;
        let spool_dir = if settings.audit.spool_dir.is_empty() {
            settings.data_dir()
        } else {
            std::path::PathBuf::from(&settings.audit.spool_dir)
        };
        let spool = crate::audit::spool::Spool::open(
            spool_dir,
            u64::try_from(settings.audit.spool_max_mb.max(1))
                .unwrap_or(1024)
                .saturating_mul(1 << 20),
        );
        let audit = AuditSink::start(
            store.clone(),
            usize::try_from(settings.audit.queue_size).unwrap_or(10_000),
            spool,
            std::time::Duration::from_secs(
                u64::try_from(settings.database.timeout.max(1)).unwrap_or(2),
            ),
            settings.audit.sync,
        );
        let listener = TcpListener::bind(&settings.listen)
            .await
            .map_err(io(format!("cannot listen on {}", settings.listen)))?;
        let mtls_listener = if settings.tls.listen.is_empty() {
            None
        } else {
            let l = TcpListener::bind(&settings.tls.listen)
                .await
                .map_err(io(format!("cannot listen on {}", settings.tls.listen)))?;
            if settings.tls.url.is_empty() {
                // The bound address (port 0 resolved) is what discovery can name.
                let addr = l
                    .local_addr()
                    .map_err(io(format!("cannot listen on {}", settings.tls.listen)))?;
                settings.tls.url = format!(
                    "https://{}",
                    crate::config::public_authority(&addr.to_string())
                );
            }
            Some(l)
        };
        crate::http::ops::prometheus();
        let limits = connection_limits(&settings);
        let tessera = Arc::new(Tessera::new(
            settings, store, keys, clock, master, audit, admin_hash,
        ));
        Ok(App {
            listener,
            tls,
            mtls_listener,
            tessera,
            limits,
        })
    }

    /// Builds with the wall clock.
    pub async fn build_default(settings: Settings) -> Result<App, StartError> {
        App::build(settings, Arc::new(SystemClock)).await
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// True when `listen` speaks TLS.
    pub fn speaks_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The bound address of `tls.listen`, if configured.
    pub fn mtls_local_addr(&self) -> Option<SocketAddr> {
        self.mtls_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The core (tests use it to reach the store or keys).
    pub fn tessera(&self) -> Arc<Tessera> {
        self.tessera.clone()
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests (at most
    /// `server.shutdown_grace`, then what is left is closed) and flushes audit.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let t = self.tessera.clone();
        let upkeep = tokio::spawn(upkeep(t.clone()));
        let follow = tokio::spawn(follow_changes(t.clone()));
        let probe = {
            let t = t.clone();
            tokio::spawn(async move { t.db.run(t.store.clone()).await })
        };
        let router = crate::http::router(t.clone());
        let mut listeners = vec![crate::http::serve::Listener {
            tcp: self.listener,
            tls: self.tls.as_ref().map(|s| s.main.clone()),
        }];
        if let Some(tcp) = self.mtls_listener {
            listeners.push(crate::http::serve::Listener {
                tcp,
                tls: self.tls.as_ref().and_then(|s| s.mtls.clone()),
            });
        }
        crate::http::serve::serve(listeners, router, self.limits, shutdown).await;
        upkeep.abort();
        follow.abort();
        probe.abort();
        t.audit.flush().await;
        tracing::info!("stopped; audit events flushed");
        Ok(())
    }
}

/// Periodic work: reload keys (rotations by other nodes), scheduled rotation, purges
/// (expired jtis and login state, audit events past their retention).
async fn upkeep(t: Arc<Tessera>) {
    let every = std::time::Duration::from_secs(
        u64::try_from(t.settings.keys.reload_every.max(1)).unwrap_or(5),
    );
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match t.keys.rotate_if_due(t.settings.keys.rotate_every).await {
            Ok(true) => t.keys_changed().await,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "scheduled key rotation failed"),
        }
        if let Err(e) = t.keys.reload().await {
            tracing::error!(error = %e, "key reload failed");
        }
        if let Err(e) = t.store.purge_expired_jtis(t.clock.now()).await {
            tracing::error!(error = %e, "purging expired jtis failed");
        }
        if let Err(e) = t.store.purge_expired_login(t.clock.now()).await {
            tracing::error!(error = %e, "purging expired sessions, codes and refresh tokens failed");
        }
        match t.purge_old_audit().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "audit events past audit.retention_days deleted"
            ),
            Err(e) => tracing::error!(error = %e, "purging old audit events failed"),
        }
    }
}

/// Longest wait between attempts to re-open the listening connection.
const MAX_LISTEN_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies other nodes' change notices (PostgreSQL `LISTEN`; returns at once on SQLite).
/// The caches are trusted only while listening; each time listening (re)starts, everything
/// cached is flushed, since notices sent in between were missed (see `cache`).
async fn follow_changes(t: Arc<Tessera>) {
    let first = std::time::Duration::from_millis(100);
    let mut backoff = first;
    loop {
        let mut listener = match t.store.listen().await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                t.caches.distrust();
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot listen for changes from other nodes; reading clients from the database meanwhile");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
                continue;
            }
        };
        t.resync().await;
        backoff = first;
        loop {
            match listener.next().await {
                Ok(ListenerEvent::Message(payload)) => {
                    t.apply(&Invalidation::parse(&payload)).await;
                }
                // SPEC §7.3: a lost listener makes the caches untrusted (lookups read through,
                // falling back to what is held when the database cannot answer); they are
                // flushed only once a new listener listens, i.e. the database is back. Flushing
                // now would throw away the entries that carry the node through an outage.
                Ok(ListenerEvent::Lost) => {
                    t.caches.distrust();
                    metrics::counter!("tessera_cache_listener_reconnects_total").increment(1);
                    tracing::warn!(
                        "change listener lost; reading clients from the database until it is back"
                    );
                    break;
                }
                Err(e) => {
                    t.caches.distrust();
                    metrics::counter!("tessera_cache_listener_reconnects_total").increment(1);
                    tracing::warn!(error = %e, "change listener lost; reading clients from the database until it is back");
                    break;
                }
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: draining in-flight requests");
}
