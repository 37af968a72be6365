//! The shared core every route works on: settings, storage, keys, caches, audit and limits.
//! Built once by `app::App::build`; protocol code takes `&Tessera`.

use crate::audit::AuditSink;
use crate::clock::SharedClock;
use crate::config::{Profile, Settings};
use crate::crypto::MasterKey;
use crate::failure::Failure;
use crate::keys::Keys;
use crate::oauth::limits::FailureLimiter;
use crate::s2s::{self, Service};
use crate::store::{AuditRecord, Store};
use crate::tenants::Client;
use crate::tokens::TokenIssuer;
use std::sync::Arc;
use std::time::Duration;

/// How long a client or service read from the database is trusted before it is read again.
/// Short, so a change made on another node is honoured within a second without any
/// notification.
const CLIENT_CACHE_TTL: Duration = Duration::from_secs(1);

/// Services with a gateway binding, in name order (what an ARN is matched against).
type GatewayServices = Arc<Vec<Arc<Service>>>;

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
    /// Keyed hash of the bootstrap admin token.
    pub admin_token_hash: Option<Vec<u8>>,
    /// Client secrets held in OpenBao/Vault.
    pub vault: crate::vault::Vault,
    /// JWKS caches of upstream OpenID providers.
    pub upstreams: crate::oauth::upstream::Providers,
    /// Parsed `s2s.trusted_proxies`: peers whose gateway header is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Recently read clients by client_id (`None` = known not to exist).
    clients: moka::future::Cache<String, Option<Arc<Client>>>,
    /// Recently read services by name (`None` = known not to exist).
    services: moka::future::Cache<String, Option<Arc<Service>>>,
    /// The services with a gateway binding (one entry, same lifetime as the others).
    gateway_services: moka::future::Cache<(), GatewayServices>,
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
        let limiter = FailureLimiter::new(settings.limits.failed_auth_per_minute, clock.clone());
        let vault = crate::vault::Vault::new(&settings.vault, clock.clone());
        let upstreams = crate::oauth::upstream::Providers::new(settings.upstream.timeout);
        // Settings are validated at load; should a bad CIDR slip through, trust nobody.
        let trusted_proxies =
            s2s::parse_proxies(&settings.s2s.trusted_proxies).unwrap_or_else(|e| {
                tracing::error!(error = %e, "no gateway header will be trusted");
                Vec::new()
            });
        Tessera {
            issuer,
            limiter,
            vault,
            upstreams,
            trusted_proxies,
            clients: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CLIENT_CACHE_TTL)
                .build(),
            services: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CLIENT_CACHE_TTL)
                .build(),
            gateway_services: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(CLIENT_CACHE_TTL)
                .build(),
            settings,
            store,
            keys,
            clock,
            master,
            audit,
            admin_token_hash,
        }
    }

    /// A client by id, from the cache or the database.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, Failure> {
        if let Some(hit) = self.clients.get(client_id).await {
            return Ok(hit);
        }
        let found = self.store.find_client(client_id).await?.map(Arc::new);
        self.clients
            .insert(client_id.to_string(), found.clone())
            .await;
        Ok(found)
    }

    /// Drops a client from this node's cache after a change.
    pub async fn forget_client(&self, client_id: &str) {
        self.clients.invalidate(client_id).await;
    }

    /// A service by name, from the cache or the database.
    pub async fn service(&self, name: &str) -> Result<Option<Arc<Service>>, Failure> {
        if let Some(hit) = self.services.get(name).await {
            return Ok(hit);
        }
        let found = self.store.get_service(name).await?.map(Arc::new);
        self.services.insert(name.to_string(), found.clone()).await;
        Ok(found)
    }

    /// The services with a gateway binding, in name order, from the cache or the database.
    pub async fn gateway_services(&self) -> Result<GatewayServices, Failure> {
        if let Some(hit) = self.gateway_services.get(&()).await {
            return Ok(hit);
        }
        let all: Vec<Arc<Service>> = self
            .store
            .list_services()
            .await?
            .into_iter()
            .filter(|s| {
                s.bindings
                    .iter()
                    .any(|b| matches!(b, s2s::Binding::Gateway { .. }))
            })
            .map(Arc::new)
            .collect();
        let all = Arc::new(all);
        self.gateway_services.insert((), all.clone()).await;
        Ok(all)
    }

    /// Drops a service from this node's caches after a change.
    pub async fn forget_service(&self, name: &str) {
        self.services.invalidate(name).await;
        self.gateway_services.invalidate(&()).await;
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
