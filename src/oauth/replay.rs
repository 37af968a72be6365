//! One-time values: DPoP proof and client assertion `jti`s, each recorded under a scope in
//! the store and refused once recorded, on any node (RFC 9449 §11.1, RFC 7523 §3).
//!
//! Recording is the one database write of a DPoP token request, so concurrent requests share
//! it (group commit): one task takes every claim waiting in its queue and writes them with one
//! multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`. A lone request waits for nobody (no
//! linger); under load, the claims that arrive while one batch is written form the next.
//!
//! A `jti` is stored as its SHA-256 (base64url, 43 characters): whatever a caller puts in it
//! (255 four-byte characters, a NUL that PostgreSQL's `text` refuses), the row is small and
//! the batch it shares with other callers' values cannot fail because of it.

use crate::crypto::{b64url, sha256};
use crate::failure::Failure;
use crate::store::{DbHealth, Store, JTI_ROWS_PER_INSERT};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Claims waiting for the writer; past this, requests wait for room.
const QUEUE: usize = 4096;

/// One value to record, with the request waiting for the answer.
struct Claim {
    scope: String,
    /// The hash of the value (see the module comment).
    jti: String,
    /// When the value may be forgotten (unix seconds).
    exp: i64,
    /// True when the value was new.
    fresh: oneshot::Sender<Result<bool, Failure>>,
}

/// Handle on the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Replay {
    tx: mpsc::Sender<Claim>,
    /// For reads.
    store: Store,
}

impl Replay {
    /// Starts the writer on `store`, each batch bounded by `db` (fails at once while the
    /// database is known to be down).
    pub fn start(store: Store, db: Arc<DbHealth>) -> Replay {
        let (tx, mut rx) = mpsc::channel::<Claim>(QUEUE);
        let reader = store.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(JTI_ROWS_PER_INSERT);
            while rx.recv_many(&mut batch, JTI_ROWS_PER_INSERT).await > 0 {
                let claims: Vec<(&str, &str, i64)> = batch
                    .iter()
                    .map(|c| (c.scope.as_str(), c.jti.as_str(), c.exp))
                    .collect();
                let answer = db.guard(store.record_jtis(&claims)).await;
                drop(claims);
                match answer {
                    Ok(fresh) => {
                        for (c, f) in batch.drain(..).zip(fresh) {
                            let _ = c.fresh.send(Ok(f));
                        }
                    }
                    Err(e) => {
                        let failure = Failure::from(e);
                        for c in batch.drain(..) {
                            let _ = c.fresh.send(Err(failure.clone()));
                        }
                    }
                }
            }
        });
        Replay { tx, store: reader }
    }

    /// Records `jti` under `scope` until `exp`: true when it was not recorded before.
    pub async fn record(&self, scope: &str, jti: &str, exp: i64) -> Result<bool, Failure> {
        let (fresh, answer) = oneshot::channel();
        let claim = Claim {
            scope: scope.to_string(),
            jti: stored(jti),
            exp,
            fresh,
        };
        if self.tx.send(claim).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

impl Replay {
    /// Whether `jti` is recorded under `scope` (a read, off the batches; records nothing).
    pub async fn seen(&self, scope: &str, jti: &str) -> Result<bool, Failure> {
        Ok(self.store.jti_recorded(scope, &stored(jti)).await?)
    }
}

/// How a value is stored (see the module comment).
fn stored(jti: &str) -> String {
    b64url(&sha256(jti.as_bytes()))
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("one-time value claim")
    }
}

/// The writer task is gone (shutdown): nothing can be recorded, so nothing is accepted.
fn stopped() -> Failure {
    Failure::unavailable("one-time values cannot be recorded right now; retry later")
}
