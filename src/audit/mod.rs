//! Audit events off the request path: handlers push into a bounded queue; one task writes
//! batches. When the queue is full, handlers wait (back-pressure) rather than drop events, and
//! the wait is counted in `tessera_audit_queue_full_total`. Shutdown flushes everything queued.

use crate::store::{AuditRecord, Store};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Event(Box<AuditRecord>),
    Flush(oneshot::Sender<()>),
}

/// Handle for recording audit events; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditSink {
    /// Queue to the writer task.
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

/// Largest batch written in one transaction.
const BATCH: usize = 512;

impl AuditSink {
    /// Starts the writer task on `store` with a queue of `capacity` events.
    pub fn start(store: Store, capacity: usize) -> AuditSink {
        let (tx, mut rx) = mpsc::channel::<Msg>(capacity.max(16));
        tokio::spawn(async move {
            let mut batch: Vec<AuditRecord> = Vec::with_capacity(BATCH);
            let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(msg) = next.take() {
                    match msg {
                        Msg::Event(e) => batch.push(*e),
                        Msg::Flush(w) => waiters.push(w),
                    }
                    if batch.len() >= BATCH {
                        break;
                    }
                    next = rx.try_recv().ok();
                }
                if !batch.is_empty() {
                    write_with_retry(&store, &batch).await;
                    batch.clear();
                }
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        AuditSink { tx }
    }

    /// Queues an event; waits if the queue is full.
    pub async fn record(&self, event: AuditRecord) {
        let msg = Msg::Event(Box::new(event));
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                metrics::counter!("tessera_audit_queue_full_total").increment(1);
                tracing::warn!("audit queue full: request waits for the audit writer");
                let _ = self.tx.send(msg).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("audit writer stopped; event lost");
            }
        }
    }

    /// Waits until every event queued before this call is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write_with_retry(store: &Store, batch: &[AuditRecord]) {
    for attempt in 0..5u64 {
        match store.insert_audit(batch).await {
            Ok(()) => {
                metrics::counter!("tessera_audit_events_written_total")
                    .increment(batch.len() as u64);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, attempt, "audit batch write failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
            }
        }
    }
    metrics::counter!("tessera_audit_events_lost_total").increment(batch.len() as u64);
    tracing::error!(count = batch.len(), "audit events lost after retries");
}
