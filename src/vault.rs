//! Client secrets held in OpenBao/Vault KV v2 (SPEC §3.3): read at
//! `GET {addr}/v1/{mount}/data/{path}` (value at `.data.data.{field}`) with a static token or an
//! AppRole login, over TLS with an optional CA bundle, and cached for `vault.cache_ttl`
//! seconds. Any failure to read is an error the caller answers with 503: a secret that cannot
//! be read is never treated as matching, and a check is never skipped.

use crate::clock::SharedClock;
use crate::config::VaultSettings;
use crate::secret::Secret;
use crate::tenants::VaultRef;
use serde_json::Value;
use std::time::Duration;

/// The most of a Vault answer read (a KV secret or a login answer is a few hundred bytes).
const MAX_ANSWER: usize = 256 * 1024;

/// Seconds before an AppRole token's lease ends at which it is replaced by a new login.
const LOGIN_MARGIN: i64 = 5;

/// Why a secret could not be read. Never carries a token or a secret value.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No `vault.addr`, or neither a token nor AppRole credentials.
    #[error("Vault is not configured (vault.addr and vault.token or vault.role_id/secret_id)")]
    NotConfigured,
    /// The HTTP client could not be built (e.g. an unreadable `vault.ca_cert`).
    #[error("Vault client setup failed: {0}")]
    Setup(String),
    /// Connection refused, TLS failure, timeout.
    #[error("Vault is unreachable")]
    Unreachable(#[source] reqwest::Error),
    /// Vault answered with an unexpected status (403: the token may not read the path).
    #[error("Vault answered {0}")]
    Status(u16),
    /// The path or the field does not exist, or the value is not a string.
    #[error("no secret at the configured Vault path and field")]
    Missing,
    /// The answer was not the JSON Vault sends.
    #[error("Vault sent an unreadable answer")]
    BadAnswer,
}

/// A value read from Vault and when (by the server clock).
#[derive(Clone)]
struct Cached {
    /// The secret.
    value: Secret,
    /// Unix seconds of the read.
    fetched_at: i64,
}

/// An AppRole login's token and when its lease ends.
#[derive(Clone)]
struct Login {
    /// The client token.
    token: Secret,
    /// Unix seconds at which the lease ends (`None`: no lease end given).
    expires_at: Option<i64>,
}

/// Reads KV v2 secrets, with a cache and an AppRole token cache.
pub struct Vault {
    /// Connection settings (the token and secret id are [`Secret`]s).
    settings: VaultSettings,
    /// HTTP client with the CA bundle; the error when it could not be built.
    http: Result<reqwest::Client, String>,
    /// Time source: cache age and lease ends are measured with it (tests move it).
    clock: SharedClock,
    /// Secrets by `mount\0path\0field`. moka bounds the size and drops entries after the
    /// TTL in real time; the clock check in [`Vault::secret`] makes the TTL exact.
    cache: moka::future::Cache<String, Cached>,
    /// The current AppRole login, if any.
    login: tokio::sync::Mutex<Option<Login>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("addr", &self.settings.addr)
            .field("approle", &!self.settings.role_id.is_empty())
            .finish_non_exhaustive()
    }
}

/// Parses `MOUNT/PATH#FIELD` (the path may hold further `/`).
pub fn parse_location(text: &str) -> Option<VaultRef> {
    let (location, field) = text.trim().rsplit_once('#')?;
    let (mount, path) = location.trim_matches('/').split_once('/')?;
    (!mount.is_empty() && !path.is_empty() && !field.is_empty()).then(|| VaultRef {
        mount: mount.to_string(),
        path: path.to_string(),
        field: field.to_string(),
    })
}

/// Builds the HTTP client for Vault: rustls, the optional CA bundle added to the roots.
pub fn http_client(settings: &VaultSettings) -> Result<reqwest::Client, String> {
    let secs = u64::try_from(settings.timeout.max(1)).unwrap_or(5);
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(secs))
        .connect_timeout(Duration::from_secs(secs))
        .redirect(reqwest::redirect::Policy::none());
    if !settings.ca_cert.is_empty() {
        let pem = std::fs::read(&settings.ca_cert)
            .map_err(|e| format!("cannot read vault.ca_cert {}: {e}", settings.ca_cert))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| format!("vault.ca_cert {} is not a PEM bundle", settings.ca_cert))?;
        if certs.is_empty() {
            return Err(format!(
                "vault.ca_cert {} holds no certificate",
                settings.ca_cert
            ));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("cannot build the Vault HTTP client: {e}"))
}

impl Vault {
    /// A reader for `settings`; a bad CA bundle makes every read fail with
    /// [`VaultError::Setup`] (`App::build` refuses to start with one first).
    pub fn new(settings: &VaultSettings, clock: SharedClock) -> Vault {
        let ttl = u64::try_from(settings.cache_ttl.max(0)).unwrap_or(30);
        Vault {
            http: http_client(settings),
            settings: settings.clone(),
            clock,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(ttl.max(1)))
                .build(),
            login: tokio::sync::Mutex::new(None),
        }
    }

    fn configured(&self) -> bool {
        !self.settings.addr.is_empty()
            && (!self.settings.token.is_empty() || !self.settings.role_id.is_empty())
    }

    fn http(&self) -> Result<&reqwest::Client, VaultError> {
        self.http.as_ref().map_err(|e| VaultError::Setup(e.clone()))
    }

    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, VaultError> {
        let mut url = reqwest::Url::parse(self.settings.addr.trim_end_matches('/'))
            .map_err(|_| VaultError::Setup("vault.addr is not a URL".into()))?;
        {
            let mut p = url
                .path_segments_mut()
                .map_err(|_| VaultError::Setup("vault.addr is not a base URL".into()))?;
            p.pop_if_empty();
            for s in segments.iter().flat_map(|s| s.split('/')) {
                if s.is_empty() || s == "." || s == ".." {
                    return Err(VaultError::Missing);
                }
                p.push(s);
            }
        }
        Ok(url)
    }

    /// The secret at `r`, from the cache when read less than `vault.cache_ttl` seconds ago.
    pub async fn secret(&self, r: &VaultRef) -> Result<Secret, VaultError> {
        if !self.configured() {
            return Err(VaultError::NotConfigured);
        }
        let key = format!("{}\0{}\0{}", r.mount, r.path, r.field);
        let now = self.clock.now();
        if let Some(hit) = self.cache.get(&key).await {
            if now - hit.fetched_at < self.settings.cache_ttl {
                return Ok(hit.value);
            }
        }
        let value = match self.read(r).await {
            // A 403 with an AppRole token: the token may have been revoked; log in again once.
            Err(VaultError::Status(403)) if !self.settings.role_id.is_empty() => {
                *self.login.lock().await = None;
                self.read(r).await?
            }
            other => other?,
        };
        self.cache
            .insert(
                key,
                Cached {
                    value: value.clone(),
                    fetched_at: now,
                },
            )
            .await;
        Ok(value)
    }

    async fn read(&self, r: &VaultRef) -> Result<Secret, VaultError> {
        let token = self.token().await?;
        let url = self.url(&["v1", &r.mount, "data", &r.path])?;
        let resp = self
            .http()?
            .get(url)
            .header("X-Vault-Token", token.expose())
            .send()
            .await
            .map_err(VaultError::Unreachable)?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(VaultError::Missing);
        }
        if status != 200 {
            return Err(VaultError::Status(status));
        }
        let body = read_json(resp).await?;
        body.pointer("/data/data")
            .and_then(|d| d.get(&r.field))
            .and_then(Value::as_str)
            .map(Secret::new)
            .ok_or(VaultError::Missing)
    }

    /// The token for reads: the AppRole login's (renewed when its lease ends) or the static one.
    async fn token(&self) -> Result<Secret, VaultError> {
        if self.settings.role_id.is_empty() {
            return Ok(self.settings.token.clone());
        }
        let mut login = self.login.lock().await;
        let now = self.clock.now();
        if let Some(l) = login.as_ref() {
            if l.expires_at.is_none_or(|end| now + LOGIN_MARGIN < end) {
                return Ok(l.token.clone());
            }
        }
        let url = self.url(&["v1", "auth", "approle", "login"])?;
        let body = serde_json::json!({
            "role_id": self.settings.role_id,
            "secret_id": self.settings.secret_id.expose(),
        });
        let resp = self
            .http()?
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(VaultError::Unreachable)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(VaultError::Status(status));
        }
        let answer = read_json(resp).await?;
        let token = answer
            .pointer("/auth/client_token")
            .and_then(Value::as_str)
            .ok_or(VaultError::BadAnswer)?;
        let lease = answer
            .pointer("/auth/lease_duration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let fresh = Login {
            token: Secret::new(token),
            expires_at: (lease > 0).then_some(now + lease),
        };
        *login = Some(fresh.clone());
        Ok(fresh.token)
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, VaultError> {
    let mut resp = resp;
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(VaultError::Unreachable)? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_ANSWER {
            return Err(VaultError::BadAnswer);
        }
    }
    serde_json::from_slice(&buf).map_err(|_| VaultError::BadAnswer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn settings(addr: &str) -> VaultSettings {
        VaultSettings {
            addr: addr.into(),
            token: Secret::new("root-token-value"),
            cache_ttl: 30,
            role_id: String::new(),
            secret_id: Secret::default(),
            ca_cert: String::new(),
            timeout: 1,
            tenant_prefix: "tessera/tenants/".into(),
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let v = Vault::new(
            &settings("http://127.0.0.1:1"),
            Arc::new(ManualClock::new(0)),
        );
        assert!(!format!("{v:?}").contains("root-token-value"));
    }

    #[test]
    fn paths_are_percent_encoded_and_dot_segments_refused() {
        let v = Vault::new(&settings("http://v:8200/"), Arc::new(ManualClock::new(0)));
        let u = v.url(&["v1", "secret", "data", "a b/c"]).unwrap();
        assert_eq!(u.as_str(), "http://v:8200/v1/secret/data/a%20b/c");
        assert!(matches!(
            v.url(&["v1", "secret", "data", "../sys"]),
            Err(VaultError::Missing)
        ));
    }

    #[tokio::test]
    async fn an_unreachable_vault_is_an_error_not_a_match() {
        let v = Vault::new(
            &settings("http://127.0.0.1:1"),
            Arc::new(ManualClock::new(0)),
        );
        let r = VaultRef {
            mount: "secret".into(),
            path: "c".into(),
            field: "s".into(),
        };
        assert!(matches!(
            v.secret(&r).await,
            Err(VaultError::Unreachable(_))
        ));
    }

    #[test]
    fn a_missing_ca_bundle_is_a_setup_error() {
        let mut s = settings("https://v");
        s.ca_cert = "/nonexistent/ca.pem".into();
        assert!(http_client(&s).unwrap_err().contains("vault.ca_cert"));
    }
}
