//! The shared core every route works on: settings, storage, keys, caches, audit and limits.
//! Built once by `app::App::build`; protocol code takes `&Tessera`.

use crate::audit::AuditSink;
use crate::cache::{Caches, Invalidation};
use crate::clock::SharedClock;
use crate::config::{Profile, Settings};
use crate::crypto::MasterKey;
use crate::failure::Failure;
use crate::keys::Keys;
use crate::oauth::hashing::HashPool;
use crate::oauth::limits::{Attempt, FailureLimiter, Refusal};
use crate::store::{AuditRecord, Engine, Store};
use crate::tenants::Client;
use crate::tenants::{BindingKind, Service};
use crate::tokens::TokenIssuer;
use std::sync::Arc;
use std::time::Duration;

/// Services with a gateway binding, in name order (what an ARN is matched against).
type ArnServices = Arc<Vec<Arc<Service>>>;

/// The server core.
#[derive(Debug)]
pub struct Tessera {
    /// Settings in force.
    pub settings: Settings,
    /// Database.
    pub store: Store,
    /// Signing keys.
    pub keys: Keys,
    /// Access-token issuer.
    pub issuer: TokenIssuer,
    /// Time source.
    pub clock: SharedClock,
    /// Master key (encryption at rest, secret hashing).
    pub master: MasterKey,
    /// Audit queue.
    pub audit: AuditSink,
    /// Failed-authentication limits.
    pub limiter: FailureLimiter,
    /// Permits for argon2 work (at most `limits.max_concurrent_hashes` at once).
    pub hashes: HashPool,
    /// Keyed hash of the bootstrap admin token.
    pub admin_token_hash: Option<Vec<u8>>,
    /// Client secrets held in OpenBao/Vault.
    pub vault: crate::vault::Vault,
    /// JWKS caches of upstream OpenID providers.
    pub upstreams: crate::oauth::upstream::Providers,
    /// HTTP client for STS (`aws_iam` service proofs).
    pub sts_http: reqwest::Client,
    /// Parsed `s2s.trusted_proxies`: peers whose gateway header is believed.
    pub trusted_proxies: crate::config::TrustedProxies,
    /// Whether the database answers (SPEC §7.3): lookups are bounded by it.
    pub db: Arc<crate::store::DbHealth>,
    /// Recently read clients and services (and whether the caches can be trusted right now).
    pub caches: Caches,
    /// One-time values (DPoP proof and client assertion `jti`s), written in shared batches.
    pub replay: crate::oauth::replay::Replay,
}

impl Tessera {
    /// Assembles the core.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Settings,
        store: Store,
        keys: Keys,
        clock: SharedClock,
        master: MasterKey,
        audit: AuditSink,
        admin_token_hash: Option<Vec<u8>>,
    ) -> Tessera {
        let issuer = TokenIssuer::new(&settings.issuer, keys.clone(), clock.clone());
        let limiter = FailureLimiter::new(
            settings.limits.failed_auth_per_minute,
            settings.limits.max_tracked,
            clock.clone(),
        );
        let hashes = HashPool::new(settings.limits.max_concurrent_hashes);
        let vault = crate::vault::Vault::new(&settings.vault, clock.clone());
        // Validated at load too; should a bad CIDR slip through, allow no non-public network.
        let allowed = crate::outbound::parse_networks(&settings.upstream.allowed_networks)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "no non-public network is open to upstream requests");
                Vec::new()
            });
        let upstreams = crate::oauth::upstream::Providers::new(
            &settings.upstream,
            allowed,
            store.clone(),
            clock.clone(),
        );
        let sts_http = crate::outbound::plain_client(settings.s2s.sts_timeout);
        let trusted_proxies = settings.s2s.trusted_proxies.clone();
        let db = Arc::new(crate::store::DbHealth::new(Duration::from_secs(
            u64::try_from(settings.database.timeout.max(1)).unwrap_or(2),
        )));
        let replay = crate::oauth::replay::Replay::start(store.clone(), db.clone());
        Tessera {
            issuer,
            limiter,
            hashes,
            vault,
            upstreams,
            sts_http,
            trusted_proxies,
            // On PostgreSQL other nodes may change clients: trust the caches only once this
            // node listens for their notices (see `cache`).
            caches: Caches::new(
                u64::try_from(settings.cache.capacity.max(1)).unwrap_or(100_000),
                Duration::from_secs(u64::try_from(settings.cache.ttl.max(1)).unwrap_or(300)),
                store.engine() != Engine::Postgres,
            ),
            db,
            replay,
            settings,
            store,
            keys,
            clock,
            master,
            audit,
            admin_token_hash,
        }
    }

    /// A client by id, from the cache or the database; `tessera-console:{tenant}` is the
    /// console's built-in client of each existing tenant.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, Failure> {
        if let Some(tenant) = client_id.strip_prefix(crate::tenants::CONSOLE_CLIENT_PREFIX) {
            let exists = crate::tenants::valid_id(tenant) && self.tenant(tenant).await?.is_some();
            return Ok(exists.then(|| {
                Arc::new(crate::tenants::console_client(
                    &self.settings.issuer,
                    tenant,
                ))
            }));
        }
        let found = self
            .caches
            .clients
            .get_or_load(
                client_id,
                self.caches.trusted(),
                self.db.guard(self.store.find_client(client_id)),
            )
            .await?;
        Ok(found)
    }

    /// A tenant by id, from the cache or the database.
    pub async fn tenant(&self, id: &str) -> Result<Option<Arc<crate::tenants::Tenant>>, Failure> {
        let found = self
            .caches
            .tenants
            .get_or_load(
                id,
                self.caches.trusted(),
                self.db.guard(self.store.get_tenant(id)),
            )
            .await?;
        Ok(found)
    }

    /// Whether the tenant `id` exists and is active: a disabled tenant's clients get no
    /// tokens on any route.
    pub async fn tenant_active(&self, id: &str) -> Result<bool, Failure> {
        Ok(self
            .tenant(id)
            .await?
            .is_some_and(|t| t.status == crate::tenants::Status::Active))
    }

    /// After a change to a tenant: drops it from this node's cache and tells the others.
    pub async fn forget_tenant(&self, id: &str) {
        self.caches.invalidate(crate::cache::Kind::Tenant, id).await;
        self.publish(&Invalidation::Entry {
            kind: crate::cache::Kind::Tenant,
            id: id.to_string(),
        })
        .await;
    }

    /// After a change to a client: drops it from this node's cache and tells the others.
    pub async fn forget_client(&self, client_id: &str) {
        self.caches
            .invalidate(crate::cache::Kind::Client, client_id)
            .await;
        self.publish(&Invalidation::client(client_id)).await;
    }

    /// After the signing keys changed here (already reloaded on this node): tells the others.
    pub async fn keys_changed(&self) {
        self.publish(&Invalidation::Keys).await;
    }

    /// Tells the other nodes (PostgreSQL `NOTIFY`). A failure is logged, not returned: the
    /// change itself is made, and other nodes still honour it when their entry expires
    /// (`cache.ttl`) or their keys are reloaded (`keys.reload_every`).
    async fn publish(&self, what: &Invalidation) {
        if let Err(e) = self.store.notify(&what.payload()).await {
            metrics::counter!("tessera_cache_notify_failures_total").increment(1);
            tracing::error!(error = %e, "could not notify other nodes of a change");
        }
    }

    /// Applies a notice from another node (or this one: harmless).
    pub async fn apply(&self, what: &Invalidation) {
        match what {
            Invalidation::Entry { kind, id } => self.caches.invalidate(*kind, id).await,
            Invalidation::Keys => self.reload_keys().await,
            Invalidation::All => {
                self.caches.flush();
                self.reload_keys().await;
            }
        }
    }

    /// After notices may have been missed (the listener reconnected): flushes every cache,
    /// reloads the keys, and trusts the caches again.
    pub async fn resync(&self) {
        self.caches.reset_and_trust();
        self.reload_keys().await;
    }

    async fn reload_keys(&self) {
        if let Err(e) = self.keys.reload().await {
            tracing::error!(error = %e, "key reload failed");
        }
    }

    /// A service by name, from the cache or the database.
    pub async fn service(&self, name: &str) -> Result<Option<Arc<Service>>, Failure> {
        let found = self
            .caches
            .services
            .get_or_load(
                name,
                self.caches.trusted(),
                self.db.guard(self.store.get_service(name)),
            )
            .await?;
        Ok(found)
    }

    /// The services with an ARN binding of `kind` (`gateway` or `aws_iam`), in name order,
    /// from the cache or the database.
    pub async fn arn_services(&self, kind: BindingKind) -> Result<ArnServices, Failure> {
        let load = async {
            let all: Vec<Arc<Service>> = self
                .store
                .list_services()
                .await?
                .into_iter()
                .filter(|s| s.bindings.iter().any(|b| b.arn(kind).is_some()))
                .map(Arc::new)
                .collect();
            Ok::<_, crate::store::StoreError>(Some(all))
        };
        let found = self
            .caches
            .arn_services
            .get_or_load(kind.as_str(), self.caches.trusted(), self.db.guard(load))
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// After a change to a service: drops it from this node's caches and tells the others.
    pub async fn forget_service(&self, name: &str) {
        self.caches
            .invalidate(crate::cache::Kind::Service, name)
            .await;
        self.publish(&Invalidation::Entry {
            kind: crate::cache::Kind::Service,
            id: name.to_string(),
        })
        .await;
    }

    /// A token profile by name.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.settings.profiles.get(name)
    }

    /// A profile a caller names; a missing one is a server misconfiguration (500).
    pub fn required_profile(&self, name: &str, whose: &str) -> Result<&Profile, Failure> {
        self.profile(name).ok_or_else(|| {
            Failure::internal(&std::io::Error::other(format!(
                "{whose} names unknown profile {name}"
            )))
        })
    }

    /// Records an audit event (queued, written in batches).
    pub async fn audit(&self, event: AuditRecord) {
        self.audit.record(event).await;
    }

    /// Records the event of an issued token, or refuses the token: 503
    /// `temporarily_unavailable` when the audit queue stays full (SPEC §7.3, fail closed).
    pub async fn audit_token(&self, event: AuditRecord) -> Result<(), Failure> {
        if self.audit.record_token(event).await {
            return Ok(());
        }
        metrics::counter!("tessera_tokens_refused_unaudited_total").increment(1);
        let mut f = Failure::unavailable("audit events cannot be written right now; retry later");
        f.retry_after = Some(1);
        Err(f)
    }

    /// Records the audit event of a refused request, unless its address is past the failure
    /// limits and one of its refusals was already audited this minute (SPEC §7.2: a flood
    /// from a limited address is counted in `/metrics`, not written row by row).
    pub async fn audit_refusal(&self, event: AuditRecord) {
        let remote = event.remote.as_deref().unwrap_or("");
        if self.limiter.should_audit_refusal(remote) {
            self.audit.record(event).await;
        }
    }

    /// Takes a failed-authentication slot for `subject` from `remote` before a credential is
    /// verified (SPEC §7.2). Past the limit: 429 with `Retry-After`, audited as
    /// `auth.limited` at most once per address and minute; too many attempts in flight: 503.
    pub async fn attempt(
        &self,
        remote: &str,
        subject: Option<&str>,
    ) -> Result<Attempt<'_>, Failure> {
        match self.limiter.begin(remote, subject).await {
            Ok(a) => Ok(a),
            Err(Refusal::Limited(retry)) => {
                let mut ev = event(self.clock.now(), "auth.limited", "failure:rate_limited");
                ev.remote = Some(remote.to_string());
                self.audit_refusal(ev).await;
                Err(Failure::rate_limited(retry))
            }
            Err(Refusal::Busy) => Err(Failure::busy()),
        }
    }

    /// Deletes audit events older than `audit.retention_days` by the server clock (0 keeps
    /// everything); returns how many went.
    pub async fn purge_old_audit(&self) -> Result<u64, crate::store::StoreError> {
        let days = self.settings.audit.retention_days;
        if days <= 0 {
            return Ok(0);
        }
        let cutoff = self.clock.now().saturating_sub(days.saturating_mul(86_400));
        self.store.purge_audit_before(cutoff).await
    }

    /// The token endpoint URL (accepted as a client-assertion audience).
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.settings.issuer)
    }
}

/// Builder for audit events.
pub fn event(now: i64, name: &str, outcome: &str) -> AuditRecord {
    AuditRecord {
        at: now,
        event: name.to_string(),
        actor: None,
        tenant_id: None,
        client_id: None,
        subject: None,
        jti: None,
        outcome: outcome.to_string(),
        remote: None,
    }
}
