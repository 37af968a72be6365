//! argon2id work, bounded (SPEC §7.2): each verification or hash takes ~19 MiB and tens of
//! milliseconds of one core, so at most `limits.max_concurrent_hashes` run at once (default:
//! the number of cores). A request waits at most [`MAX_WAIT`] for a permit, then is answered
//! 503 `temporarily_unavailable` with `Retry-After`. The permit travels into the blocking task
//! and is given back when the hash is done, not when the request is: a caller that hangs up
//! cannot start more hashes than the bound.

use crate::crypto::{argon2_hash, argon2_verify};
use crate::failure::Failure;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Longest a request waits for an argon2 permit.
pub const MAX_WAIT: Duration = Duration::from_secs(1);

/// Permits for argon2 work.
#[derive(Debug)]
pub struct HashPool {
    /// One permit per argon2 computation allowed at once.
    permits: Arc<Semaphore>,
}

impl HashPool {
    /// A pool of `max` permits (0 or less: the number of cores).
    pub fn new(max: i64) -> HashPool {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let n = usize::try_from(max)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(cores);
        HashPool {
            permits: Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let permit = tokio::time::timeout(MAX_WAIT, self.permits.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                metrics::counter!("tessera_hash_permit_timeouts_total").increment(1);
                Failure::busy()
            })?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| Failure::internal(&e))
    }

    /// Whether `secret` matches the argon2 PHC string `phc` (503 when no permit came).
    pub async fn verify(&self, secret: &[u8], phc: &str) -> Result<bool, Failure> {
        let secret = secret.to_vec();
        let phc = phc.to_string();
        self.run(move || argon2_verify(&secret, &phc)).await
    }

    /// The argon2id PHC string of `secret` (503 when no permit came).
    pub async fn hash(&self, secret: &[u8]) -> Result<String, Failure> {
        let secret = secret.to_vec();
        self.run(move || argon2_hash(&secret))
            .await?
            .map_err(|e| Failure::internal(&e))
    }

    /// Permits free right now (tests).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_that_gets_no_permit_within_a_second_is_503_with_retry_after() {
        let pool = HashPool::new(1);
        let held = pool.permits.clone().acquire_owned().await.unwrap();
        let f = pool.verify(b"x", "$argon2id$x").await.unwrap_err();
        assert_eq!((f.status, f.oauth_error), (503, "temporarily_unavailable"));
        assert!(f.retry_after.is_some());
        drop(held);
        assert!(!pool.verify(b"x", "$argon2id$x").await.unwrap());
        assert_eq!(
            pool.available(),
            1,
            "the permit is back once the hash is done"
        );
    }
}
