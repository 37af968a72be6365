//! Audit events off the request path: handlers push into a bounded queue; one task writes
//! batches, waiting up to [`LINGER`] for a batch to fill. When the queue is full, handlers wait (back-pressure) rather than drop events:
//! an issued token is never left unaudited. Each wait is counted in
//! `tessera_audit_queue_full_total`, and logged at most once per [`FULL_LOG_EVERY`] with the
//! number of waits since the last line (a full queue under load would otherwise log a line
//! per request). Shutdown flushes everything queued.
//!
//! Values taken from a request (a client id, a subject, an outcome naming them) are stored at
//! most [`MAX_VALUE_CHARS`] characters long, so a caller cannot fill the disk through them
//! (SPEC §7.2); refusals of a limited address are audited once a minute (`service`), and
//! events older than `audit.retention_days` are deleted by the upkeep task.

pub mod spool;

use crate::store::{AuditRecord, Store};
use spool::Spool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Least time between two "audit queue full" log lines.
pub const FULL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Rate limit of the "queue full" warning.
#[derive(Debug, Default)]
struct FullLog {
    /// When the last line was logged.
    last: Option<Instant>,
    /// Waits since then.
    unlogged: u64,
}

impl FullLog {
    /// Counts one wait at `now`; `Some(waits)` when a line is due, with the waits it covers.
    fn wait(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        match self.last {
            Some(last) if now.duration_since(last) < FULL_LOG_EVERY => None,
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.unlogged))
            }
        }
    }
}

enum Msg {
    Event(Box<AuditRecord>),
    /// An event whose sender waits until it is stored (`audit.sync`).
    Synced(Box<AuditRecord>, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// Handle for recording audit events; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditSink {
    /// Queue to the writer task.
    tx: mpsc::Sender<Msg>,
    /// Rate limit of the queue-full warning (taken only when the queue is full).
    full_log: Arc<Mutex<FullLog>>,
    /// False while the writer can place events neither in the database nor in the spool.
    healthy: Arc<AtomicBool>,
    /// How long a token's event may wait for room in a full queue.
    wait: Duration,
    /// `audit.sync`: a token is answered only once its event is stored.
    sync: bool,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

/// Largest batch written in one transaction.
const BATCH: usize = 512;

/// How long the writer waits for a batch to fill before writing what it has. Under load this
/// turns hundreds of small transactions a second into a few full ones (each a prepared
/// statement); readers of the audit log call [`AuditSink::flush`] first, so they never see
/// the delay, and shutdown flushes.
const LINGER: Duration = Duration::from_millis(50);

impl AuditSink {
    /// Starts the writer task on `store` with a queue of `capacity` events; what the
    /// database cannot take within `timeout` goes to `spool`.
    pub fn start(
        store: Store,
        capacity: usize,
        spool: Spool,
        timeout: Duration,
        sync: bool,
    ) -> AuditSink {
        let (tx, mut rx) = mpsc::channel::<Msg>(capacity.max(16));
        let healthy = Arc::new(AtomicBool::new(true));
        let mut writer = Writer {
            store,
            spool,
            timeout,
            healthy: healthy.clone(),
            last_drain: Instant::now(),
        };
        tokio::spawn(async move {
            let mut batch: Vec<AuditRecord> = Vec::with_capacity(BATCH);
            let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
            let mut stored: Vec<oneshot::Sender<()>> = Vec::new();
            writer.drain().await;
            loop {
                // While events are spooled, look for the database's return every second.
                let first = if writer.spool.is_empty() {
                    rx.recv().await
                } else {
                    match tokio::time::timeout(SPOOL_RETRY, rx.recv()).await {
                        Ok(m) => m,
                        Err(_) => {
                            writer.drain().await;
                            continue;
                        }
                    }
                };
                let Some(first) = first else { break };
                let deadline = tokio::time::Instant::now() + LINGER;
                let mut next = Some(first);
                loop {
                    while let Some(msg) = next.take() {
                        match msg {
                            Msg::Event(e) => batch.push(*e),
                            Msg::Synced(e, ack) => {
                                batch.push(*e);
                                stored.push(ack);
                            }
                            Msg::Flush(w) => waiters.push(w),
                        }
                        if batch.len() >= BATCH {
                            break;
                        }
                        next = rx.try_recv().ok();
                    }
                    // Written now when full or when someone waits for it; otherwise wait
                    // for more until the batch's linger time is up.
                    // Someone waiting (a reader, shutdown, or a token under `audit.sync`: group
                    // commit of whatever is queued) writes the batch at once.
                    if batch.len() >= BATCH || !waiters.is_empty() || !stored.is_empty() {
                        break;
                    }
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(msg)) => next = Some(msg),
                        // Closed (shutdown) or the linger time is up.
                        Ok(None) | Err(_) => break,
                    }
                }
                if !batch.is_empty() {
                    writer.write(&batch).await;
                    batch.clear();
                    for ack in stored.drain(..) {
                        let _ = ack.send(());
                    }
                }
                if !waiters.is_empty() {
                    // A reader (the audit API) or shutdown wants everything in the database.
                    writer.drain().await;
                }
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        AuditSink {
            tx,
            full_log: Arc::default(),
            healthy,
            wait: timeout,
            sync,
        }
    }

    /// False while events can be placed neither in the database nor in the spool
    /// (`/readyz` then says so).
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Queues the event of an issued token, waiting at most `database.timeout` for room: false
    /// when the queue stayed full, and the token must then not be given out (SPEC §7.3: fail
    /// closed, never a token without its event).
    ///
    /// With `audit.sync` it also waits until the event is stored (database or spool; batches
    /// of concurrent tokens are committed together), at most `database.timeout` plus a second.
    pub async fn record_token(&self, event: AuditRecord) -> bool {
        let (msg, stored) = if self.sync {
            let (tx, rx) = oneshot::channel();
            (Msg::Synced(Box::new(bounded(event)), tx), Some(rx))
        } else {
            (Msg::Event(Box::new(bounded(event))), None)
        };
        let queued = match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(msg)) => {
                metrics::counter!("tessera_audit_queue_full_total").increment(1);
                matches!(
                    tokio::time::timeout(self.wait, self.tx.send(msg)).await,
                    Ok(Ok(()))
                )
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        };
        match stored {
            Some(rx) if queued => matches!(
                tokio::time::timeout(self.wait + Duration::from_secs(1), rx).await,
                Ok(Ok(()))
            ),
            _ => queued,
        }
    }

    /// Queues an event (values cut to [`MAX_VALUE_CHARS`]); waits if the queue is full.
    pub async fn record(&self, event: AuditRecord) {
        let msg = Msg::Event(Box::new(bounded(event)));
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                metrics::counter!("tessera_audit_queue_full_total").increment(1);
                let due = self
                    .full_log
                    .lock()
                    .ok()
                    .and_then(|mut l| l.wait(Instant::now()));
                if let Some(waits) = due {
                    tracing::warn!(
                        waits,
                        "audit queue full: requests wait for the audit writer (no event is dropped; logged at most every 10 s)"
                    );
                }
                let _ = self.tx.send(msg).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                metrics::counter!("tessera_audit_events_lost_total").increment(1);
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

/// Longest value stored in an audit column, in characters.
pub const MAX_VALUE_CHARS: usize = 255;

/// `value` cut to [`MAX_VALUE_CHARS`] characters.
fn cut(value: &mut String) {
    if let Some((end, _)) = value.char_indices().nth(MAX_VALUE_CHARS) {
        value.truncate(end);
    }
}

/// The event with every text value at most [`MAX_VALUE_CHARS`] characters.
fn bounded(mut e: AuditRecord) -> AuditRecord {
    cut(&mut e.event);
    cut(&mut e.outcome);
    for v in [
        &mut e.actor,
        &mut e.tenant_id,
        &mut e.client_id,
        &mut e.subject,
        &mut e.jti,
        &mut e.remote,
    ]
    .into_iter()
    .flatten()
    {
        cut(v);
    }
    e
}

/// How often the writer tries the database again while events are spooled or stuck.
const SPOOL_RETRY: Duration = Duration::from_secs(1);

/// The writer task's state: the database first, the spool when it cannot take a batch.
struct Writer {
    /// The database.
    store: Store,
    /// The local spool.
    spool: Spool,
    /// How long one batch may take in the database.
    timeout: Duration,
    /// Shared with [`AuditSink::healthy`].
    healthy: Arc<AtomicBool>,
    /// When the spool was last written back (or tried).
    last_drain: Instant,
}

impl Writer {
    /// Writes `batch` to the database, or (when the database cannot take it within the
    /// timeout, or events are already spooled ahead of it) to the spool. When neither takes
    /// it, tries again every second, never dropping it; meanwhile the queue fills and token
    /// requests are refused (SPEC §7.3).
    async fn write(&mut self, batch: &[AuditRecord]) {
        // Under steady traffic the queue is never idle: try to empty the spool first (at most
        // once a second), so the database catches up as soon as it is back.
        if !self.spool.is_empty() && self.last_drain.elapsed() >= SPOOL_RETRY {
            self.drain().await;
        }
        let mut logged = false;
        loop {
            if self.spool.is_empty() {
                match tokio::time::timeout(self.timeout, self.store.insert_audit(batch)).await {
                    Ok(Ok(())) => {
                        self.healthy.store(true, Ordering::Release);
                        metrics::counter!("tessera_audit_events_written_total")
                            .increment(batch.len() as u64);
                        return;
                    }
                    Ok(Err(e)) if !logged => {
                        tracing::warn!(error = %e, "audit batch not written to the database; spooling it");
                    }
                    Err(_) if !logged => {
                        tracing::warn!("audit batch write timed out; spooling it");
                    }
                    _ => {}
                }
            }
            match self.spool.append(batch) {
                Ok(()) => {
                    self.healthy.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    if !logged {
                        tracing::error!(error = %e, count = batch.len(), "audit events can be written neither to the database nor to the spool; holding them and retrying every second");
                    }
                    self.healthy.store(false, Ordering::Release);
                }
            }
            logged = true;
            tokio::time::sleep(SPOOL_RETRY).await;
            self.drain().await;
        }
    }

    /// Writes spooled events to the database, oldest first, until the spool is empty or the
    /// database refuses.
    async fn drain(&mut self) {
        if self.spool.is_empty() {
            return;
        }
        self.last_drain = Instant::now();
        while !self.spool.is_empty() {
            let (events, bytes) = match self.spool.peek(BATCH) {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the audit spool");
                    return;
                }
            };
            if events.is_empty() {
                if bytes > 0 {
                    // Only unreadable lines (counted as lost by the spool): step over them.
                    if self.spool.advance(bytes).is_err() {
                        return;
                    }
                    continue;
                }
                return;
            }
            match tokio::time::timeout(self.timeout, self.store.insert_audit(&events)).await {
                Ok(Ok(())) => {
                    metrics::counter!("tessera_audit_events_written_total")
                        .increment(events.len() as u64);
                    if let Err(e) = self.spool.advance(bytes) {
                        tracing::error!(error = %e, "cannot record the audit spool's progress");
                        return;
                    }
                }
                _ => return,
            }
        }
        tracing::info!("audit spool written to the database");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stored_at_most_255_characters() {
        let long = "é".repeat(60_000);
        let e = bounded(AuditRecord {
            at: 0,
            event: "auth.failed".into(),
            actor: None,
            tenant_id: Some("t".into()),
            client_id: Some(long.clone()),
            subject: Some(long.clone()),
            jti: None,
            outcome: long,
            remote: Some("1.2.3.4".into()),
        });
        assert_eq!(e.client_id.unwrap().chars().count(), 255);
        assert_eq!(e.subject.unwrap().chars().count(), 255);
        assert_eq!(e.outcome.chars().count(), 255);
        assert_eq!(e.tenant_id.as_deref(), Some("t"));
    }

    #[test]
    fn queue_full_warnings_are_logged_at_most_once_per_period_with_a_count() {
        let mut log = FullLog::default();
        let t0 = Instant::now();
        assert_eq!(log.wait(t0), Some(1), "the first wait is logged");
        for i in 1..=99 {
            assert_eq!(log.wait(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(
            log.wait(t0 + FULL_LOG_EVERY),
            Some(100),
            "then one line for 100 waits"
        );
    }
}
