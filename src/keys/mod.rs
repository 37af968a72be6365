//! Signing keys: generation, encryption at rest, the in-memory key set (ready-to-use signing
//! handles), rotation, and the JWKS (RFC 7517). SPEC §2.3.
//!
//! States: a `next` key is published before it signs anything; rotation makes it `active`,
//! retires the old active key (still published until every token it signed has expired,
//! i.e. `tokens.max_ttl` after retirement) and creates a new `next`.

pub mod jws;
pub mod signer;

use crate::clock::SharedClock;
use crate::crypto::{random_token, MasterKey};
use crate::store::{KeyRecord, Store, StoreError};
use serde_json::{json, Value};
use signer::{Alg, SigningKey, VerifyingKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use signer::Typ;

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// Storage failed.
    #[error("key storage failed")]
    Store(#[from] StoreError),
    /// A key could not be generated, decrypted or parsed.
    #[error("key material error: {0}")]
    Key(#[from] signer::KeyError),
    /// Decryption under the master key failed (wrong master key?).
    #[error("cannot decrypt signing key {0}: is the master key the one that encrypted it?")]
    Decrypt(String),
    /// No active key for the algorithm.
    #[error("no active signing key for {0}")]
    NoActiveKey(&'static str),
}

/// What the admin API shows of a key: public parts only.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// `next`, `active` or `retired`.
    pub status: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when it became active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    /// RFC 3339, when it was retired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// The public JWK.
    pub public_jwk: Value,
}

/// An immutable snapshot of the key set; replaced whole on reload.
#[derive(Debug, Default)]
struct KeySet {
    /// The signing key per algorithm (the newest active one).
    active: HashMap<Alg, Arc<SigningKey>>,
    /// When the signing key per algorithm became active (unix seconds).
    active_since: HashMap<Alg, i64>,
    /// Every published key (next, active, retired) for verification.
    verifiers: Vec<VerifyingKey>,
    /// The JWKS document, pre-rendered.
    jwks: Arc<String>,
    /// Admin view.
    infos: Vec<KeyInfo>,
    /// Parsed handles by kid, so reloads do not re-parse unchanged keys.
    parsed: HashMap<String, Arc<SigningKey>>,
}

/// The key manager shared by all request handlers.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Database.
    store: Store,
    /// Encrypts private keys at rest.
    master: MasterKey,
    /// Time source.
    clock: SharedClock,
    /// The deployment's default algorithm.
    default_alg: Alg,
    /// How long a retired key stays published.
    max_ttl: i64,
    /// Current snapshot.
    set: Arc<RwLock<Arc<KeySet>>>,
}

impl Keys {
    /// Loads the key set, creating an active and a next key for every algorithm the database
    /// has none for: a client may select any algorithm, and SPEC §2.3 wants its keys published
    /// before they sign (verifiers that cache the JWKS never meet an unknown `kid`), so no key
    /// is ever created on first use.
    pub async fn init(
        store: Store,
        master: MasterKey,
        clock: SharedClock,
        default_alg: Alg,
        max_ttl: i64,
    ) -> Result<Keys, KeysError> {
        let keys = Keys {
            store,
            master,
            clock,
            default_alg,
            max_ttl,
            set: Arc::new(RwLock::new(Arc::new(KeySet::default()))),
        };
        for alg in Alg::ALL {
            keys.ensure_alg(alg).await?;
        }
        Ok(keys)
    }

    /// The deployment default algorithm.
    pub fn default_alg(&self) -> Alg {
        self.default_alg
    }

    /// Makes sure `alg` has an active and a next key (creating them if needed), then reloads.
    /// True when keys were created (other nodes should then reload theirs).
    pub async fn ensure_alg(&self, alg: Alg) -> Result<bool, KeysError> {
        let snapshot = self.snapshot();
        if snapshot.active.contains_key(&alg)
            && snapshot
                .infos
                .iter()
                .any(|i| i.alg == alg.as_str() && i.status == "next")
        {
            return Ok(false);
        }
        let records = self.store.list_keys().await?;
        let has = |status: &str| {
            records
                .iter()
                .any(|r| r.alg == alg.as_str() && r.status == status)
        };
        let mut created = false;
        if !has("active") {
            created |= self.create_key(alg, "active").await?;
        }
        if !has("next") {
            created |= self.create_key(alg, "next").await?;
        }
        self.reload().await?;
        Ok(created)
    }

    async fn new_record(&self, alg: Alg, status: &str) -> Result<KeyRecord, KeysError> {
        let kid = random_token(12).map_err(|_| signer::KeyError::Generate)?;
        let (key, der) = SigningKey::generate(kid.clone(), alg)?;
        let private_enc = self
            .master
            .encrypt(&der, kid.as_bytes())
            .map_err(|_| signer::KeyError::Generate)?;
        let now = self.clock.now();
        Ok(KeyRecord {
            kid,
            alg: alg.as_str().to_string(),
            status: status.to_string(),
            private_enc,
            public_jwk: key.public_jwk().to_string(),
            created_at: now,
            activated_at: (status == "active").then_some(now),
            retired_at: None,
            expires_at: None,
        })
    }

    async fn create_key(&self, alg: Alg, status: &str) -> Result<bool, KeysError> {
        let rec = self.new_record(alg, status).await?;
        match self.store.insert_key(&rec).await {
            Ok(()) => {}
            // Another node starting at the same moment created it first (one active key
            // per algorithm is a database constraint).
            Err(StoreError::Conflict) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(kid = %rec.kid, alg = alg.as_str(), status, "created signing key");
        Ok(true)
    }

    /// Re-reads keys from the database (other nodes may have rotated) and drops expired ones.
    pub async fn reload(&self) -> Result<(), KeysError> {
        let now = self.clock.now();
        let records = self.store.list_keys().await?;
        let previous = self.snapshot();
        let mut set = KeySet::default();
        let mut jwks = Vec::new();
        for r in records {
            if r.status == "retired" && r.expires_at.is_some_and(|e| e < now) {
                continue;
            }
            let Some(alg) = Alg::parse(&r.alg) else {
                continue;
            };
            let key = match previous.parsed.get(&r.kid) {
                Some(k) => k.clone(),
                None => {
                    let der = self
                        .master
                        .decrypt(&r.private_enc, r.kid.as_bytes())
                        .map_err(|_| KeysError::Decrypt(r.kid.clone()))?;
                    Arc::new(SigningKey::from_pkcs8(r.kid.clone(), alg, &der)?)
                }
            };
            if r.status == "active" {
                // Records come oldest first: the newest active key wins.
                set.active.insert(alg, key.clone());
                set.active_since
                    .insert(alg, r.activated_at.unwrap_or(r.created_at));
            }
            if let Some(vk) = VerifyingKey::from_jwk(key.public_jwk()) {
                set.verifiers.push(vk);
            }
            jwks.push(key.public_jwk().clone());
            set.infos.push(KeyInfo {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                status: r.status.clone(),
                created_at: crate::clock::rfc3339(r.created_at),
                activated_at: r.activated_at.map(crate::clock::rfc3339),
                retired_at: r.retired_at.map(crate::clock::rfc3339),
                public_jwk: key.public_jwk().clone(),
            });
            set.parsed.insert(r.kid, key);
        }
        set.jwks = Arc::new(json!({ "keys": jwks }).to_string());
        if let Ok(mut guard) = self.set.write() {
            *guard = Arc::new(set);
        }
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.set.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The signing key for `alg` (None: the deployment default).
    pub fn signer(&self, alg: Option<Alg>) -> Result<Arc<SigningKey>, KeysError> {
        let alg = alg.unwrap_or(self.default_alg);
        self.snapshot()
            .active
            .get(&alg)
            .cloned()
            .ok_or(KeysError::NoActiveKey(alg.as_str()))
    }

    /// Every published public key, for verifying our own tokens.
    pub fn verifiers(&self) -> Vec<VerifyingKey> {
        self.snapshot().verifiers.clone()
    }

    /// Verifies a token signed by one of our keys.
    pub fn verify(&self, token: &str) -> Result<jws::Verified, jws::JwsError> {
        let set = self.snapshot();
        jws::verify(token, &set.verifiers)
    }

    /// The JWKS JSON text.
    pub fn jwks(&self) -> Arc<String> {
        self.snapshot().jwks.clone()
    }

    /// Public information on every published key.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.snapshot().infos.clone()
    }

    /// Algorithms with an active key.
    pub fn active_algs(&self) -> Vec<Alg> {
        let set = self.snapshot();
        Alg::ALL
            .into_iter()
            .filter(|a| set.active.contains_key(a))
            .collect()
    }

    /// Rotates every algorithm that has an active key: next → active, active → retired,
    /// a new next. Tokens signed before stay verifiable until `tokens.max_ttl` later.
    pub async fn rotate(&self) -> Result<(), KeysError> {
        self.rotate_on(&self.store).await
    }

    /// [`Keys::rotate`] through `store`: a handle from [`Store::recording`] commits the
    /// rotation's audit event with the first algorithm's rotation.
    pub async fn rotate_on(&self, store: &Store) -> Result<(), KeysError> {
        let now = self.clock.now();
        let records = self.store.list_keys().await?;
        for alg in Alg::ALL {
            let name = alg.as_str();
            if !records
                .iter()
                .any(|r| r.alg == name && r.status == "active")
            {
                continue;
            }
            let next = match records.iter().find(|r| r.alg == name && r.status == "next") {
                Some(r) => r.kid.clone(),
                None => {
                    let rec = self.new_record(alg, "next").await?;
                    self.store.insert_key(&rec).await?;
                    rec.kid
                }
            };
            let new_next = self.new_record(alg, "next").await?;
            store
                .rotate_keys(name, &next, &new_next, now, now + self.max_ttl)
                .await?;
            tracing::info!(alg = name, active = %next, "rotated signing keys");
        }
        self.store.purge_expired_keys(now).await?;
        self.reload().await
    }

    /// Rotates when the active default-algorithm key is older than `every` seconds.
    pub async fn rotate_if_due(&self, every: i64) -> Result<bool, KeysError> {
        if every <= 0 {
            return Ok(false);
        }
        let now = self.clock.now();
        // Ask the database only when the loaded key set says a rotation is due (it may be
        // stale: another node may have rotated already, which the query below sees).
        let loaded_active = self.snapshot().active_since.get(&self.default_alg).copied();
        if loaded_active.is_some_and(|at| now - at < every) {
            return Ok(false);
        }
        let records = self.store.list_keys().await?;
        let newest_active = records
            .iter()
            .filter(|r| r.alg == self.default_alg.as_str() && r.status == "active")
            .filter_map(|r| r.activated_at.or(Some(r.created_at)))
            .max();
        match newest_active {
            Some(at) if now - at >= every => {
                self.rotate().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
