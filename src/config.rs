//! Typed settings: built-in defaults, then a TOML file (`--config FILE`), then `TESSERA_*`
//! environment variables (env wins). Every setting is one row of [`SETTINGS`]; the README's
//! configuration table is checked against that table by a test.

use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The type of a setting, which tells how an environment variable is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A secret string (never printed).
    SecretStr,
    /// An integer.
    Int,
    /// `true` / `false`.
    Bool,
    /// A list; in the environment, comma-separated.
    List,
}

/// One row of the settings table.
#[derive(Debug)]
pub struct SettingDoc {
    /// Dotted TOML key.
    pub key: &'static str,
    /// Type of the value.
    pub kind: Kind,
    /// Default, as written in TOML (empty = unset).
    pub default: &'static str,
    /// What it is for.
    pub doc: &'static str,
}

/// Every setting: the single source for loading, `TESSERA_*` names and the README table.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc { key: "listen", kind: Kind::Str, default: "127.0.0.1:8080", doc: "Address and port to listen on (port 0 picks a free port)." },
    SettingDoc { key: "issuer", kind: Kind::Str, default: "http://127.0.0.1:8080", doc: "The `iss` of every token and the base of discovery URLs." },
    SettingDoc { key: "database_url", kind: Kind::Str, default: "sqlite://tessera.db", doc: "`sqlite://PATH` (created if missing, WAL) or `postgres://…`." },
    SettingDoc { key: "admin_token", kind: Kind::SecretStr, default: "", doc: "Bootstrap admin bearer token. Unset: generated on first start and written once to `admin_token_file`." },
    SettingDoc { key: "admin_token_file", kind: Kind::Str, default: "", doc: "Where a generated bootstrap token is written (0600). Default: `tessera.admin-token` beside the SQLite database, else the working directory." },
    SettingDoc { key: "master_key", kind: Kind::SecretStr, default: "", doc: "32-byte key (base64 or hex) encrypting private keys at rest and keying secret hashes. Unset: read or generated in `master_key_file`." },
    SettingDoc { key: "master_key_vault", kind: Kind::Str, default: "", doc: "Where OpenBao/Vault holds the master key instead: KV v2 `MOUNT/PATH#FIELD` (e.g. `secret/tessera#master_key`), read once at start with the `vault.*` credentials; Vault unreachable stops the start." },
    SettingDoc { key: "master_key_file", kind: Kind::Str, default: "", doc: "Master key file (0600). Default: `tessera.master.key` beside the SQLite database, else the working directory." },
    SettingDoc { key: "migrate_on_start", kind: Kind::Bool, default: "true", doc: "Apply schema migrations when `serve` starts." },
    SettingDoc { key: "log", kind: Kind::Str, default: "info", doc: "Log filter (tracing `EnvFilter` syntax)." },
    SettingDoc { key: "server.header_timeout", kind: Kind::Int, default: "10", doc: "Seconds a client has to send a request's head (request line and headers), from the connection's start or the first byte of a request on a kept-alive connection; then the connection is closed." },
    SettingDoc { key: "server.request_timeout", kind: Kind::Int, default: "30", doc: "Seconds a request may take once its head is read (body included) before it is answered 408 in the route's dialect and the connection closed." },
    SettingDoc { key: "server.idle_timeout", kind: Kind::Int, default: "60", doc: "Seconds a kept-alive connection may stay idle between requests before it is closed." },
    SettingDoc { key: "server.max_connections", kind: Kind::Int, default: "10000", doc: "Most connections open at once; more wait to be accepted. Lowered at start to stay below the open-file limit (the soft limit is raised to the hard one) with room for the database pool and files." },
    SettingDoc { key: "server.shutdown_grace", kind: Kind::Int, default: "30", doc: "Seconds SIGTERM waits for in-flight requests before closing the connections left; then the audit queue is flushed and the process exits 0." },
    SettingDoc { key: "keys.alg", kind: Kind::Str, default: "RS256", doc: "Default signing algorithm: RS256, PS256, ES256 or EdDSA." },
    SettingDoc { key: "keys.rotate_every", kind: Kind::Int, default: "0", doc: "Rotate signing keys automatically every N seconds (0 = only by hand)." },
    SettingDoc { key: "keys.jwks_max_age", kind: Kind::Int, default: "300", doc: "`Cache-Control: max-age` of the JWKS, seconds." },
    SettingDoc { key: "keys.reload_every", kind: Kind::Int, default: "60", doc: "How often a node re-reads the key set from the database, seconds: a safety net, since on PostgreSQL key changes reach every node at once by `LISTEN/NOTIFY`." },
    SettingDoc { key: "tokens.max_ttl", kind: Kind::Int, default: "86400", doc: "Upper bound of any access-token lifetime, seconds (bounds how long retired keys stay published)." },
    SettingDoc { key: "database.timeout", kind: Kind::Int, default: "2", doc: "Seconds a database lookup may take (a pooled connection included) before it counts as failed: cached clients, services and tenants are then served from memory, the rest answer 503 `50300902`. A probe checks the database every second; while it is down nothing waits on it." },
    SettingDoc { key: "cache.ttl", kind: Kind::Int, default: "300", doc: "Seconds a client read from the database is kept in memory. Changes are applied at once on every node (PostgreSQL `LISTEN/NOTIFY`), so this only bounds the life of an entry." },
    SettingDoc { key: "cache.capacity", kind: Kind::Int, default: "100000", doc: "Most clients kept in memory per node (least recently used leave first)." },
    SettingDoc { key: "audit.sync", kind: Kind::Bool, default: "false", doc: "Answer a token only once its audit event is stored (database or spool; concurrent tokens are committed together): SIGKILL then loses no token event, at the cost of a write per batch on the request path." },
    SettingDoc { key: "audit.spool_dir", kind: Kind::Str, default: "", doc: "Where audit events the database cannot take are spooled (file `tessera-audit.spool`, 0600) until it returns, in order and once, also after a restart. Default: beside the SQLite database, else the working directory." },
    SettingDoc { key: "audit.spool_max_mb", kind: Kind::Int, default: "1024", doc: "Most megabytes the audit spool may hold; past it events wait in the queue and, when that is full, token requests answer 503 (never a token without its event)." },
    SettingDoc { key: "audit.queue_size", kind: Kind::Int, default: "10000", doc: "Bounded queue of audit events awaiting a batched write; when full, requests wait (no silent loss)." },
    SettingDoc { key: "audit.retention_days", kind: Kind::Int, default: "90", doc: "Audit events older than this many days are deleted (swept with the other upkeep, every `keys.reload_every` seconds); 0 keeps them forever." },
    SettingDoc { key: "vault.addr", kind: Kind::Str, default: "", doc: "OpenBao/Vault address; falls back to `VAULT_ADDR`." },
    SettingDoc { key: "vault.token", kind: Kind::SecretStr, default: "", doc: "OpenBao/Vault token; falls back to `VAULT_TOKEN`." },
    SettingDoc { key: "vault.cache_ttl", kind: Kind::Int, default: "30", doc: "Seconds a secret read from Vault is cached." },
    SettingDoc { key: "vault.role_id", kind: Kind::Str, default: "", doc: "AppRole role id: with `vault.secret_id`, Tessera logs in at `/v1/auth/approle/login` and uses that token until its lease ends (instead of `vault.token`)." },
    SettingDoc { key: "vault.secret_id", kind: Kind::SecretStr, default: "", doc: "AppRole secret id (never logged)." },
    SettingDoc { key: "vault.ca_cert", kind: Kind::Str, default: "", doc: "PEM CA bundle trusted for Vault's TLS certificate, added to the system roots; falls back to `VAULT_CACERT`." },
    SettingDoc { key: "vault.timeout", kind: Kind::Int, default: "5", doc: "Seconds a Vault request may take before Vault counts as unreachable (503)." },
    SettingDoc { key: "vault.tenant_prefix", kind: Kind::Str, default: "tessera/tenants/", doc: "A tenant admin may point its clients only at Vault paths under `{prefix}{tenant}/` (else 400, pointer `/secret/vault/path`); global admins may name any path." },
    SettingDoc { key: "upstream.jwks_cache_ttl", kind: Kind::Int, default: "3600", doc: "Seconds an upstream provider's discovery document and JWKS are cached." },
    SettingDoc { key: "upstream.jwks_min_refresh", kind: Kind::Int, default: "10", doc: "At most one JWKS refetch per provider in this many seconds when a token names an unknown `kid`." },
    SettingDoc { key: "upstream.timeout", kind: Kind::Int, default: "5", doc: "Seconds an upstream discovery or JWKS request may take before the provider counts as unreachable (503)." },
    SettingDoc { key: "upstream.allowed_networks", kind: Kind::List, default: "[]", doc: "CIDRs (TOML array or comma-separated string; comma-separated in the env) that upstream provider requests may reach although not public (loopback, private, link-local…), over `http` too; elsewhere only `https` to public addresses. Default: none." },
    SettingDoc { key: "limits.failed_auth_per_minute", kind: Kind::Int, default: "20", doc: "Failed authentications per minute per client+address, or per address (an IPv6 /64), before 429; an attempt counts before it is verified, so concurrent guesses never pass it (0 = no limit)." },
    SettingDoc { key: "limits.max_tracked", kind: Kind::Int, default: "100000", doc: "Most keys (address, or subject+address, stored as 64-bit keyed hashes) the failure limits remember per node; the least recently used is forgotten first." },
    SettingDoc { key: "limits.max_concurrent_hashes", kind: Kind::Int, default: "0", doc: "Most argon2id verifications or hashes running at once (each ~19 MiB); a request waits at most 1 s for one, then 503 `temporarily_unavailable` with `Retry-After`. 0 = the number of cores." },
    SettingDoc { key: "login.code_ttl", kind: Kind::Int, default: "60", doc: "Lifetime of an authorization code, seconds (single use)." },
    SettingDoc { key: "login.session_ttl", kind: Kind::Int, default: "28800", doc: "Lifetime of a login-page session (cookie `tessera_session`), seconds." },
    SettingDoc { key: "login.refresh_token_ttl", kind: Kind::Int, default: "2592000", doc: "Default refresh-token lifetime, seconds (each rotation starts a new one); a client's `refresh_token_ttl` overrides it." },
    SettingDoc { key: "dpop.require_nonce", kind: Kind::Bool, default: "false", doc: "Every DPoP proof must carry a server nonce (RFC 9449 §8): a proof without a current one is answered `use_dpop_nonce` with the nonce in `DPoP-Nonce`. Nonces are stateless (the minute, MACed with the master key), good on every node for one to two minutes." },
    SettingDoc { key: "s2s.gateway_header", kind: Kind::Str, default: "X-Amzn-Caller-Arn", doc: "Header carrying the caller ARN from a trusted gateway." },
    SettingDoc { key: "s2s.trusted_proxies", kind: Kind::List, default: "[]", doc: "CIDRs of proxies (comma-separated in the env): their gateway and client-certificate headers are believed, and behind them the client address for limits and audit is the right-most `Forwarded: for=` / `X-Forwarded-For` address that is not itself a trusted proxy." },
    SettingDoc { key: "s2s.mtls_header", kind: Kind::Str, default: "X-Forwarded-Client-Cert", doc: "Header in which a TLS-terminating proxy (in `s2s.trusted_proxies`) forwards the verified client certificate's SAN URI: Envoy's XFCC `URI=` values, or the bare URI; matched against `mtls` bindings." },
    SettingDoc { key: "s2s.sts_endpoint", kind: Kind::Str, default: "https://sts.amazonaws.com/", doc: "Where `aws_iam` proofs (presigned `sts:GetCallerIdentity` requests, as for Vault's AWS auth) are sent; a regional or VPC endpoint, or a local STS for tests." },
    SettingDoc { key: "s2s.sts_timeout", kind: Kind::Int, default: "5", doc: "Seconds an STS request may take before STS counts as unreachable (503)." },
    SettingDoc { key: "s2s.aws_iam_server_id", kind: Kind::Str, default: "", doc: "When set, an `aws_iam` proof must sign the header `X-Tessera-AWS-IAM-Server-ID` with this value (Vault's `iam_server_id_header_value`), so a proof made for another service cannot be replayed here." },
    SettingDoc { key: "par.required", kind: Kind::Bool, default: "false", doc: "Every client must push its authorization requests first (RFC 9126 `POST /oauth/par`): `/oauth/authorize` without a `request_uri` is refused (the console's built-in clients excepted). A client's `require_pushed_authorization_requests` asks the same of that client alone." },
    SettingDoc { key: "tls.cert", kind: Kind::Str, default: "", doc: "PEM file of the server certificate chain (leaf first). With `tls.key`, `listen` speaks TLS (rustls) and, unless `issuer` is set, the issuer is `https://` + `listen` (a wildcard address shown as 127.0.0.1). Unreadable or bad files stop the start." },
    SettingDoc { key: "tls.key", kind: Kind::Str, default: "", doc: "PEM file of the server certificate's private key (PKCS#8, PKCS#1 RSA or SEC1 EC)." },
    SettingDoc { key: "tls.client_ca", kind: Kind::Str, default: "", doc: "PEM bundle of the CAs whose client certificates serve `tls_client_auth` and service `mtls` bindings. Client certificates are requested (by `listen`, or only by `tls.listen` when set) and optional; any certificate, self-signed included, serves `self_signed_tls_client_auth` and certificate-bound tokens." },
    SettingDoc { key: "tls.listen", kind: Kind::Str, default: "", doc: "A second TLS listener for mutual TLS (RFC 8705 §5): when set, only it requests client certificates, `listen` speaks TLS without asking for one (no certificate prompt in browsers), and discovery names this listener in `mtls_endpoint_aliases`." },
    SettingDoc { key: "tls.url", kind: Kind::Str, default: "", doc: "Public base URL of `tls.listen` for `mtls_endpoint_aliases` (no trailing slash). Default: `https://` + the bound `tls.listen` address." },
];

/// Errors while loading settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The TOML or a value is invalid.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Vault (OpenBao) connection settings.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct VaultSettings {
    /// Base address, e.g. `http://127.0.0.1:8200`.
    #[serde(default)]
    pub addr: String,
    /// Token for the KV v2 reads.
    #[serde(default)]
    pub token: Secret,
    /// Cache lifetime of a read secret, seconds.
    pub cache_ttl: i64,
    /// AppRole role id (AppRole login replaces `token` when set).
    #[serde(default)]
    pub role_id: String,
    /// AppRole secret id.
    #[serde(default)]
    pub secret_id: Secret,
    /// PEM CA bundle for Vault's TLS certificate.
    #[serde(default)]
    pub ca_cert: String,
    /// Request timeout, seconds.
    pub timeout: i64,
    /// The path prefix, followed by the tenant id and `/`, that a tenant admin's Vault
    /// references must lie under (SPEC §7.1).
    pub tenant_prefix: String,
}

/// Upstream OpenID provider settings (ID tokens for oidcToken and token exchange).
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamSettings {
    /// How long discovery and JWKS are cached, seconds.
    pub jwks_cache_ttl: i64,
    /// Minimum seconds between JWKS refetches caused by an unknown `kid`.
    pub jwks_min_refresh: i64,
    /// Request timeout, seconds.
    pub timeout: i64,
    /// Non-public networks upstream requests may reach anyway (SPEC §7.1), CIDRs.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub allowed_networks: Vec<String>,
}

/// A list given as a TOML array, or as one comma-separated string.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::Commas(s) => s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// Connection limits (SPEC §7.2), all in seconds but `max_connections`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Time to send a request head.
    pub header_timeout: i64,
    /// Time for a whole request once its head is read.
    pub request_timeout: i64,
    /// Idle time between kept-alive requests.
    pub idle_timeout: i64,
    /// Most connections open at once.
    pub max_connections: i64,
    /// Drain time on SIGTERM.
    pub shutdown_grace: i64,
}

/// Signing key settings.
#[derive(Debug, Clone, Deserialize)]
pub struct KeySettings {
    /// Default algorithm.
    pub alg: String,
    /// Automatic rotation period, seconds; 0 = off.
    pub rotate_every: i64,
    /// JWKS cache max-age, seconds.
    pub jwks_max_age: i64,
    /// Key-set reload period, seconds.
    pub reload_every: i64,
}

/// Token settings.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    /// Upper bound of any access-token lifetime.
    pub max_ttl: i64,
}

/// Database settings besides its URL.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// How long a lookup may take before the database counts as unavailable, seconds.
    pub timeout: i64,
}

/// In-memory cache settings.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    /// Lifetime of a cached entry, seconds.
    pub ttl: i64,
    /// Most entries per cache.
    pub capacity: i64,
}

/// Audit settings.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    /// Queue bound.
    pub queue_size: i64,
    /// Answer tokens only once their event is stored.
    pub sync: bool,
    /// Spool directory ("" = the data directory).
    #[serde(default)]
    pub spool_dir: String,
    /// Spool size bound, MB.
    pub spool_max_mb: i64,
    /// Days audit events are kept (0 = forever).
    pub retention_days: i64,
}

/// Limits.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    /// Failed authentications per minute before 429.
    pub failed_auth_per_minute: i64,
    /// Most keys the limiter remembers.
    pub max_tracked: i64,
    /// Most argon2 computations at once (0 = the number of cores).
    pub max_concurrent_hashes: i64,
}

/// Interactive login (authorization code flow).
#[derive(Debug, Clone, Deserialize)]
pub struct LoginSettings {
    /// Authorization-code lifetime, seconds.
    pub code_ttl: i64,
    /// Browser session lifetime, seconds.
    pub session_ttl: i64,
    /// Default refresh-token lifetime, seconds.
    pub refresh_token_ttl: i64,
}

/// DPoP (RFC 9449).
#[derive(Debug, Clone, Deserialize)]
pub struct DpopSettings {
    /// Proofs must carry a server nonce.
    pub require_nonce: bool,
}

/// Service-to-service settings.
#[derive(Debug, Clone, Deserialize)]
pub struct S2sSettings {
    /// Header with the caller ARN.
    pub gateway_header: String,
    /// Proxies whose gateway, certificate and forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Header with the verified client certificate's SAN (from a trusted proxy).
    pub mtls_header: String,
    /// STS endpoint for `aws_iam` proofs.
    pub sts_endpoint: String,
    /// STS request timeout, seconds.
    pub sts_timeout: i64,
    /// Required value of `X-Tessera-AWS-IAM-Server-ID` in a proof; empty = not required.
    #[serde(default)]
    pub aws_iam_server_id: String,
}

/// Pushed authorization requests (RFC 9126).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ParSettings {
    /// RFC 9126 §5: every client must push its authorization requests (discovery's
    /// `require_pushed_authorization_requests`).
    pub required: bool,
}

/// Tessera's own TLS listener (SPEC §9 mutual TLS); every path empty = plain HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// PEM server certificate chain.
    pub cert: String,
    /// PEM private key of the server certificate.
    pub key: String,
    /// PEM bundle of the CAs client certificates may chain to.
    pub client_ca: String,
    /// Address of a second, mutual-TLS-only listener; empty = `listen` asks for certificates.
    pub listen: String,
    /// Public base URL of that listener (`mtls_endpoint_aliases`).
    pub url: String,
}

impl TlsSettings {
    /// True when `listen` speaks TLS.
    pub fn enabled(&self) -> bool {
        !self.cert.is_empty() && !self.key.is_empty()
    }
}

/// A token profile: an audience and a lifetime (`[profiles.NAME]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Profile {
    /// Fixed audience; `None` = the client's audiences, else the issuer.
    #[serde(default)]
    pub audience: Option<String>,
    /// Lifetime in seconds.
    pub ttl: i64,
}

/// All settings of a server.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Listen address.
    pub listen: String,
    /// Issuer URL.
    pub issuer: String,
    /// Database URL.
    pub database_url: String,
    /// Bootstrap admin token, if configured.
    #[serde(default)]
    pub admin_token: Secret,
    /// File for a generated bootstrap token.
    #[serde(default)]
    pub admin_token_file: String,
    /// Master key, if configured.
    #[serde(default)]
    pub master_key: Secret,
    /// KV v2 location of the master key in OpenBao/Vault (`MOUNT/PATH#FIELD`); empty = none.
    #[serde(default)]
    pub master_key_vault: String,
    /// Master key file.
    #[serde(default)]
    pub master_key_file: String,
    /// Migrate at start.
    pub migrate_on_start: bool,
    /// Log filter.
    pub log: String,
    /// Connections.
    pub server: ServerSettings,
    /// Keys.
    pub keys: KeySettings,
    /// Tokens.
    pub tokens: TokenSettings,
    /// Database timeouts.
    pub database: DatabaseSettings,
    /// Caches.
    pub cache: CacheSettings,
    /// Audit.
    pub audit: AuditSettings,
    /// Vault.
    pub vault: VaultSettings,
    /// Upstream OpenID providers.
    pub upstream: UpstreamSettings,
    /// Limits.
    pub limits: LimitSettings,
    /// Interactive login.
    pub login: LoginSettings,
    /// DPoP.
    pub dpop: DpopSettings,
    /// Service-to-service.
    pub s2s: S2sSettings,
    /// Pushed authorization requests.
    #[serde(default)]
    pub par: ParSettings,
    /// TLS listener and client certificates.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Token profiles, built-in ones included.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// `TESSERA_` + key in upper case with dots as `_`.
pub fn env_name(key: &str) -> String {
    format!("TESSERA_{}", key.replace('.', "_").to_uppercase())
}

fn parse_default(s: &SettingDoc) -> Option<toml::Value> {
    match s.kind {
        Kind::Str | Kind::SecretStr => Some(toml::Value::String(s.default.to_string())),
        Kind::Int => s.default.parse::<i64>().ok().map(toml::Value::Integer),
        Kind::Bool => Some(toml::Value::Boolean(s.default == "true")),
        Kind::List => Some(toml::Value::Array(vec![])),
    }
}

fn parse_env(s: &SettingDoc, raw: &str) -> Result<toml::Value, ConfigError> {
    let bad = || ConfigError::Invalid(format!("{} has an invalid value", env_name(s.key)));
    Ok(match s.kind {
        Kind::Str | Kind::SecretStr => toml::Value::String(raw.to_string()),
        Kind::Int => toml::Value::Integer(raw.trim().parse().map_err(|_| bad())?),
        Kind::Bool => match raw.trim() {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => return Err(bad()),
        },
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| toml::Value::String(x.to_string()))
                .collect(),
        ),
    })
}

fn set_path(root: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = root;
    for p in parts {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => table = t,
            _ => return,
        }
    }
    table.insert(last.to_string(), value);
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Settings {
    /// Loads settings: defaults, then `file` if given, then the environment `env`.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut root = toml::Table::new();
        // Whether the operator named the issuer (else TLS makes the default `https://`).
        let mut issuer_given = env(&env_name("issuer")).is_some();
        for s in SETTINGS {
            if let Some(v) = parse_default(s) {
                set_path(&mut root, s.key, v);
            }
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
            issuer_given |= table.contains_key("issuer");
            merge(&mut root, table);
        }
        for s in SETTINGS {
            if let Some(raw) = env(&env_name(s.key)) {
                set_path(&mut root, s.key, parse_env(s, &raw)?);
            }
        }
        let mut settings: Settings = toml::Value::Table(root)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        // The standard Vault variables are the fallback (SPEC §1).
        if settings.vault.addr.is_empty() {
            settings.vault.addr = env("VAULT_ADDR").unwrap_or_default();
        }
        if settings.vault.token.is_empty() {
            settings.vault.token = Secret::new(env("VAULT_TOKEN").unwrap_or_default());
        }
        if settings.vault.ca_cert.is_empty() {
            settings.vault.ca_cert = env("VAULT_CACERT").unwrap_or_default();
        }
        for (name, profile) in builtin_profiles() {
            settings.profiles.entry(name).or_insert(profile);
        }
        for (name, profile) in settings.profiles.iter_mut() {
            profile_from_env(name, profile, env)?;
        }
        if !issuer_given && settings.tls.enabled() {
            settings.issuer = format!("https://{}", public_authority(&settings.listen));
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Loads from the process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load(file, &|k| std::env::var(k).ok())
    }

    /// Defaults only (tests start from these).
    pub fn defaults() -> Result<Settings, ConfigError> {
        Settings::load(None, &|_| None)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(
            self.keys.alg.as_str(),
            "RS256" | "PS256" | "ES256" | "EdDSA"
        ) {
            return Err(ConfigError::Invalid(
                "keys.alg must be RS256, PS256, ES256 or EdDSA".into(),
            ));
        }
        if self.issuer.is_empty() || self.issuer.ends_with('/') {
            return Err(ConfigError::Invalid(
                "issuer must be a URL without a trailing slash".into(),
            ));
        }
        crate::outbound::parse_networks(&self.upstream.allowed_networks)
            .map_err(ConfigError::Invalid)?;
        let server = [
            ("server.header_timeout", self.server.header_timeout),
            ("server.request_timeout", self.server.request_timeout),
            ("server.idle_timeout", self.server.idle_timeout),
            ("server.max_connections", self.server.max_connections),
        ];
        for (key, value) in server {
            if value <= 0 {
                return Err(ConfigError::Invalid(format!("{key} must be positive")));
            }
        }
        if self.server.shutdown_grace < 0 {
            return Err(ConfigError::Invalid(
                "server.shutdown_grace must not be negative".into(),
            ));
        }
        let tls = &self.tls;
        if tls.cert.is_empty() != tls.key.is_empty() {
            return Err(ConfigError::Invalid(
                "tls.cert and tls.key go together: set both or neither".into(),
            ));
        }
        for (key, value) in [
            ("tls.client_ca", &tls.client_ca),
            ("tls.listen", &tls.listen),
            ("tls.url", &tls.url),
        ] {
            if !value.is_empty() && !tls.enabled() {
                return Err(ConfigError::Invalid(format!(
                    "{key} needs tls.cert and tls.key"
                )));
            }
        }
        if !tls.url.is_empty() && (!tls.url.starts_with("https://") || tls.url.ends_with('/')) {
            return Err(ConfigError::Invalid(
                "tls.url must be an https URL without a trailing slash".into(),
            ));
        }
        for (name, p) in &self.profiles {
            if p.ttl <= 0 {
                return Err(ConfigError::Invalid(format!(
                    "profiles.{name}.ttl must be positive"
                )));
            }
        }
        Ok(())
    }

    /// Directory holding the SQLite database, for files kept "beside the database".
    pub fn data_dir(&self) -> PathBuf {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"));
        match path {
            Some(p) => {
                let p = p.split('?').next().unwrap_or(p);
                Path::new(p)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            }
            None => PathBuf::from("."),
        }
    }

    /// Path of the master key file.
    pub fn master_key_path(&self) -> PathBuf {
        if self.master_key_file.is_empty() {
            self.data_dir().join("tessera.master.key")
        } else {
            PathBuf::from(&self.master_key_file)
        }
    }

    /// Path of the generated bootstrap admin token file.
    pub fn admin_token_path(&self) -> PathBuf {
        if self.admin_token_file.is_empty() {
            self.data_dir().join("tessera.admin-token")
        } else {
            PathBuf::from(&self.admin_token_file)
        }
    }
}

/// `host:port` of a listen address as clients reach it: a wildcard address (`0.0.0.0`, `::`)
/// is shown as loopback, since no better name is known without `issuer` / `tls.url`.
pub fn public_authority(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(mut addr) => {
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            addr.to_string()
        }
        // A host name (`localhost:8443`) is already what clients use.
        Err(_) => listen.to_string(),
    }
}

/// `TESSERA_PROFILES_<NAME>_TTL` and `…_AUDIENCE` for a profile the defaults or the file
/// define (SPEC §1: every setting has a variable).
fn profile_from_env(
    name: &str,
    profile: &mut Profile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let base = format!(
        "TESSERA_PROFILES_{}",
        name.to_uppercase().replace(['.', '-'], "_")
    );
    if let Some(raw) = env(&format!("{base}_TTL")) {
        profile.ttl = raw.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!("{base}_TTL must be a whole number of seconds"))
        })?;
    }
    if let Some(raw) = env(&format!("{base}_AUDIENCE")) {
        let raw = raw.trim();
        profile.audience = (!raw.is_empty()).then(|| raw.to_string());
    }
    Ok(())
}

/// The built-in token profiles (SPEC terms).
pub fn builtin_profiles() -> Vec<(String, Profile)> {
    vec![
        (
            "service".into(),
            Profile {
                audience: Some("pouch-services".into()),
                ttl: 900,
            },
        ),
        (
            "partner".into(),
            Profile {
                audience: Some("partners-api".into()),
                ttl: 3600,
            },
        ),
        (
            "default".into(),
            Profile {
                audience: None,
                ttl: 3600,
            },
        ),
    ]
}

/// The README configuration table, rendered from [`SETTINGS`].
pub fn settings_markdown() -> String {
    let mut out =
        String::from("| key | environment | default | meaning |\n| --- | --- | --- | --- |\n");
    for s in SETTINGS {
        let default = if s.default.is_empty() {
            "(unset)".to_string()
        } else {
            format!("`{}`", s.default)
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            s.key,
            env_name(s.key),
            default,
            s.doc
        ));
    }
    out
}

/// `s2s.trusted_proxies`, parsed once when the settings are read: CIDRs, or bare addresses
/// meaning one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// True if `peer` (IPv4-mapped IPv6 counts as IPv4) is inside one of the proxies.
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        let peer = match peer {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&peer))
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many networks are trusted.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(list: Vec<String>) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("s2s.trusted_proxies: {s:?} is not a CIDR or an IP address")
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TryFrom<&[&str]> for TrustedProxies {
    type Error = String;

    fn try_from(list: &[&str]) -> Result<TrustedProxies, String> {
        TrustedProxies::try_from(list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn proxies_are_cidrs_or_hosts_and_ipv4_mapped_peers_count_as_ipv4() {
        let p = super::TrustedProxies::try_from(&["127.0.0.1/32", " 10.1.2.3 "][..]).unwrap();
        assert!(p.trusts("127.0.0.1".parse().unwrap()));
        assert!(p.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(p.trusts("10.1.2.3".parse().unwrap()));
        assert!(!p.trusts("127.0.0.2".parse().unwrap()));
        assert!(super::TrustedProxies::try_from(&["10.0.0.0/33"][..]).is_err());
        assert!(super::TrustedProxies::try_from(&["example.com"][..]).is_err());
    }

    use super::*;

    #[test]
    fn env_names_follow_the_dotted_key() {
        assert_eq!(
            env_name("limits.failed_auth_per_minute"),
            "TESSERA_LIMITS_FAILED_AUTH_PER_MINUTE"
        );
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://tessera.db");
        assert_eq!(s.vault.cache_ttl, 30);
        assert_eq!(s.limits.failed_auth_per_minute, 20);
        assert_eq!(s.server.header_timeout, 10);
        assert_eq!(s.server.request_timeout, 30);
        assert_eq!(s.server.idle_timeout, 60);
        assert_eq!(s.server.max_connections, 10_000);
        assert_eq!(s.server.shutdown_grace, 30);
        assert_eq!(s.limits.max_tracked, 100_000);
        assert_eq!(s.audit.retention_days, 90);
        assert_eq!(s.profiles["partner"].ttl, 3600);
        assert_eq!(s.data_dir(), PathBuf::from("."));
    }

    #[test]
    fn env_wins_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(&f, "listen = \"0.0.0.0:1\"\nissuer = \"https://file\"\n[limits]\nfailed_auth_per_minute = 5\n[profiles.fast]\nttl = 60\n").unwrap();
        let env = |k: &str| match k {
            "TESSERA_ISSUER" => Some("https://env".to_string()),
            "TESSERA_S2S_TRUSTED_PROXIES" => Some("127.0.0.1/32, 10.0.0.0/8".to_string()),
            "VAULT_ADDR" => Some("http://vault".to_string()),
            _ => None,
        };
        let s = Settings::load(Some(&f), &env).unwrap();
        assert_eq!(s.listen, "0.0.0.0:1");
        assert_eq!(s.issuer, "https://env");
        assert_eq!(s.limits.failed_auth_per_minute, 5);
        assert_eq!(s.s2s.trusted_proxies.len(), 2);
        assert_eq!(s.vault.addr, "http://vault");
        assert_eq!(s.profiles["fast"].ttl, 60);
        let env = |k: &str| match k {
            "TESSERA_PROFILES_PARTNER_TTL" => Some("600".to_string()),
            "TESSERA_PROFILES_FAST_AUDIENCE" => Some("fast-api".to_string()),
            _ => None,
        };
        let s = Settings::load(Some(&f), &env).unwrap();
        assert_eq!(
            s.profiles["partner"].ttl, 600,
            "built-in profiles have variables"
        );
        assert_eq!(s.profiles["fast"].audience.as_deref(), Some("fast-api"));
        let bad = |k: &str| (k == "TESSERA_PROFILES_SERVICE_TTL").then(|| "soon".to_string());
        let err = Settings::load(None, &bad).unwrap_err().to_string();
        assert!(err.contains("TESSERA_PROFILES_SERVICE_TTL"), "{err}");
        assert!(s.profiles.contains_key("service"));
    }

    #[test]
    fn a_trusted_proxy_that_is_not_a_cidr_is_a_clear_error() {
        let env =
            |k: &str| (k == "TESSERA_S2S_TRUSTED_PROXIES").then(|| "10.0.0.0/8,nope".to_string());
        let err = Settings::load(None, &env).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn upstream_allowed_networks_come_as_an_array_a_string_or_the_env() {
        assert!(Settings::defaults()
            .unwrap()
            .upstream
            .allowed_networks
            .is_empty());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.toml");
        std::fs::write(
            &f,
            "[upstream]\nallowed_networks = \"127.0.0.0/8, ::1/128\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&f), &|_| None).unwrap();
        assert_eq!(s.upstream.allowed_networks, ["127.0.0.0/8", "::1/128"]);
        std::fs::write(&f, "[upstream]\nallowed_networks = [\"10.0.0.0/8\"]\n").unwrap();
        let s = Settings::load(Some(&f), &|_| None).unwrap();
        assert_eq!(s.upstream.allowed_networks, ["10.0.0.0/8"]);
        let env = |k: &str| {
            (k == "TESSERA_UPSTREAM_ALLOWED_NETWORKS").then(|| "127.0.0.0/8,fd00::/8".to_string())
        };
        let s = Settings::load(Some(&f), &env).unwrap();
        assert_eq!(s.upstream.allowed_networks, ["127.0.0.0/8", "fd00::/8"]);
        let bad =
            |k: &str| (k == "TESSERA_UPSTREAM_ALLOWED_NETWORKS").then(|| "intranet".to_string());
        let err = Settings::load(None, &bad).unwrap_err().to_string();
        assert!(err.contains("intranet"), "{err}");
    }

    #[test]
    fn tls_makes_the_default_issuer_https_on_the_listen_address_unless_one_is_set() {
        let tls = |k: &str| match k {
            "TESSERA_TLS_CERT" => Some("/etc/tessera/cert.pem".to_string()),
            "TESSERA_TLS_KEY" => Some("/etc/tessera/key.pem".to_string()),
            "TESSERA_LISTEN" => Some("0.0.0.0:8443".to_string()),
            _ => None,
        };
        let s = Settings::load(None, &tls).unwrap();
        assert!(s.tls.enabled());
        assert_eq!(s.issuer, "https://127.0.0.1:8443");
        let named = |k: &str| match k {
            "TESSERA_ISSUER" => Some("https://auth.example.com".to_string()),
            other => tls(other),
        };
        let s = Settings::load(None, &named).unwrap();
        assert_eq!(s.issuer, "https://auth.example.com");
        assert_eq!(
            Settings::defaults().unwrap().issuer,
            "http://127.0.0.1:8080",
            "without TLS the default is unchanged"
        );
        assert_eq!(public_authority("[::]:443"), "[::1]:443");
        assert_eq!(public_authority("localhost:8443"), "localhost:8443");
    }

    #[test]
    fn tls_settings_that_cannot_work_are_clear_errors() {
        let half = |k: &str| (k == "TESSERA_TLS_CERT").then(|| "/c.pem".to_string());
        let err = Settings::load(None, &half).unwrap_err().to_string();
        assert!(err.contains("tls.key"), "{err}");
        let ca_only = |k: &str| (k == "TESSERA_TLS_CLIENT_CA").then(|| "/ca.pem".to_string());
        let err = Settings::load(None, &ca_only).unwrap_err().to_string();
        assert!(err.contains("tls.client_ca needs"), "{err}");
    }

    #[test]
    fn a_bad_integer_in_the_env_is_a_clear_error() {
        let env = |k: &str| (k == "TESSERA_VAULT_CACHE_TTL").then(|| "abc".to_string());
        let err = Settings::load(None, &env).unwrap_err();
        assert!(err.to_string().contains("TESSERA_VAULT_CACHE_TTL"));
    }

    #[test]
    fn the_data_dir_is_the_sqlite_file_parent() {
        let env = |k: &str| {
            (k == "TESSERA_DATABASE_URL").then(|| "sqlite:///var/lib/t/t.db?mode=rwc".to_string())
        };
        let s = Settings::load(None, &env).unwrap();
        assert_eq!(s.data_dir(), PathBuf::from("/var/lib/t"));
    }
}
