//! The accept loop (SPEC §7.2 "Connections"): HTTP/1.1 on hyper with every connection bounded
//! in time and number, and a graceful shutdown that is bounded too.
//!
//! hyper's own `header_read_timeout` also runs while a kept-alive connection waits for its
//! next request, so it cannot give idle connections longer than a slow head. Each connection
//! therefore has a watchdog that knows what the connection is doing:
//! - waiting for a head (from the accept, or from the first byte of a later request):
//!   closed after `header_timeout`;
//! - a request in flight (head read, body and handler running): answered 408 in the route's
//!   dialect after `request_timeout`, and the connection closed;
//! - idle between kept-alive requests: closed after `idle_timeout`.
//!
//! At most `max_connections` are open at once: the loop accepts only while it holds a permit,
//! so more connections wait in the listen backlog rather than being refused. On shutdown it
//! stops accepting, lets each connection finish its request (keep-alive off), and closes
//! whatever is still open after `shutdown_grace`.

use super::errors::render;
use axum::extract::ConnectInfo;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// Connection limits, from `server.*`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a request head.
    pub header_timeout: Duration,
    /// Time for a request once its head is read.
    pub request_timeout: Duration,
    /// Idle time between kept-alive requests.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// Where the server is in its life; every connection watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Serving.
    Serve,
    /// Finish the current request, then close.
    Drain,
    /// Close now.
    Close,
}

/// What one connection is doing, for its watchdog.
#[derive(Debug)]
struct Activity {
    /// The phase and its start.
    state: Mutex<Phase>,
    /// Woken when the deadline may have moved earlier (a head started, a request ended).
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request head since then.
    Head(Instant),
    /// This many requests in flight (HTTP/1: one).
    Busy(usize),
    /// Idle since then.
    Idle(Instant),
}

impl Activity {
    fn new() -> Activity {
        Activity {
            // A new connection must send its first head in time (no slowloris by silence).
            state: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        if let Ok(mut phase) = self.state.lock() {
            *phase = f(*phase);
        }
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection starts a head.
    fn read_some(&self) {
        let idle = matches!(self.state.lock().map(|p| *p), Ok(Phase::Idle(_)));
        if idle {
            self.update(|p| match p {
                Phase::Idle(_) => Phase::Head(Instant::now()),
                other => other,
            });
        }
    }

    /// A head was read: a request is in flight.
    fn begin(&self) {
        self.update(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
    }

    /// A request was answered (or abandoned).
    fn end(&self) {
        self.update(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }

    /// When the connection must be closed, unless something happens first; `None` while a
    /// request is in flight (the request's own timeout answers it).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        match self.state.lock().map(|p| *p) {
            Ok(Phase::Head(since)) => Some(since + limits.header_timeout),
            Ok(Phase::Idle(since)) => Some(since + limits.idle_timeout),
            Ok(Phase::Busy(_)) => None,
            Err(_) => Some(Instant::now()),
        }
    }

    /// Resolves when the connection has been waiting too long.
    async fn expired(&self, limits: &Limits) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.deadline(limits) {
                Some(at) if at <= Instant::now() => return,
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Marks a request in flight until dropped (answered, or the connection went away).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.begin();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A TCP stream that tells its [`Activity`] when bytes arrive.
struct Watched {
    /// The socket.
    inner: TcpStream,
    /// Its connection's activity.
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// One socket the server accepts on, and whether it speaks TLS (SPEC §9).
#[derive(Debug)]
pub struct Listener {
    /// The bound socket.
    pub tcp: TcpListener,
    /// The TLS handshake of its connections; `None` = plain HTTP.
    pub tls: Option<Arc<crate::tls::server::TlsEndpoint>>,
}

/// Accepts from whichever listener is ready, starting the scan at `start` so that a flood on
/// one listener cannot starve the other.
fn poll_accept_any(
    listeners: &[Listener],
    start: usize,
    cx: &mut Context<'_>,
) -> Poll<(usize, std::io::Result<(TcpStream, SocketAddr)>)> {
    let n = listeners.len();
    for (i, l) in listeners
        .iter()
        .enumerate()
        .cycle()
        .skip(start % n.max(1))
        .take(n)
    {
        if let Poll::Ready(accepted) = l.tcp.poll_accept(cx) {
            return Poll::Ready((i, accepted));
        }
    }
    Poll::Pending
}

/// Serves `router` on `listeners` until `shutdown` resolves, then drains for at most
/// `limits.shutdown_grace` and closes what is left. The listeners share one connection
/// limit.
pub async fn serve(
    listeners: Vec<Listener>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stage, _) = watch::channel(Stage::Serve);
    tokio::pin!(shutdown);
    let mut turn = 0usize;
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (index, accepted) = tokio::select! {
            a = std::future::poll_fn(|cx| poll_accept_any(&listeners, turn, cx)) => a,
            () = &mut shutdown => break,
        };
        turn = index.wrapping_add(1);
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: wait a little
                // rather than spin (the same as axum::serve).
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tls = listeners.get(index).and_then(|l| l.tls.clone());
        let stage = stage.subscribe();
        let router = router.clone();
        tokio::spawn(async move {
            connection(stream, peer, tls, router, limits, stage).await;
            drop(permit);
        });
    }
    drop(listeners);
    stage.send_replace(Stage::Drain);
    let all = limits.max_connections;
    if tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        let open = all as usize - permits.available_permits();
        tracing::warn!(
            open,
            "shutdown grace over: closing the connections still open"
        );
        stage.send_replace(Stage::Close);
        let _ = tokio::time::timeout(Duration::from_secs(1), permits.acquire_many(all)).await;
    }
}

/// Serves one connection until it ends, times out or the server closes it; on a TLS
/// listener, after a handshake that must end within `header_timeout` (it counts towards the
/// first request head: a client cannot stretch the two apart).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<crate::tls::server::TlsEndpoint>>,
    router: Router,
    limits: Limits,
    mut stage: watch::Receiver<Stage>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let watched = Watched {
        inner: stream,
        activity: activity.clone(),
    };
    let Some(endpoint) = tls else {
        return http(watched, None, peer, router, limits, stage, activity).await;
    };
    let handshake = tokio::time::timeout(limits.header_timeout, endpoint.accept(watched));
    tokio::pin!(handshake);
    let accepted = loop {
        tokio::select! {
            done = &mut handshake => break done,
            changed = stage.changed() => {
                if changed.is_err() || *stage.borrow_and_update() == Stage::Close {
                    return;
                }
            }
        }
    };
    match accepted {
        Ok(Ok((stream, cert))) => http(stream, cert, peer, router, limits, stage, activity).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "closing a connection whose TLS handshake took too long"),
    }
}

/// Serves HTTP/1.1 on an accepted (and, on a TLS listener, handshaken) connection. The
/// client certificate of a TLS connection goes to every request as an extension.
async fn http<IO>(
    io: IO,
    cert: Option<Arc<crate::tls::ClientCertificate>>,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stage: watch::Receiver<Stage>,
    activity: Arc<Activity>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(io);
    let watched = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
        let guard = InFlight::start(&watched);
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(cert) = &cert {
            req.extensions_mut().insert(cert.clone());
        }
        let uri = req.uri().clone();
        let call = router.clone().oneshot(req);
        async move {
            let _guard = guard;
            let response = match tokio::time::timeout(limits.request_timeout, call).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    let path = uri.path();
                    let mut r = render(
                        &crate::failure::Failure::request_timeout(),
                        super::dialect_of(path),
                        path,
                    );
                    r.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                    r
                }
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    // hyper's own head timer is off: the watchdog above times heads and idle waits apart.
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    if *stage.borrow_and_update() != Stage::Serve {
        conn.as_mut().graceful_shutdown();
        draining = true;
    }
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = activity.expired(&limits) => {
                tracing::debug!(%peer, "closing a connection that waited too long");
                return;
            }
            changed = stage.changed() => {
                let now = *stage.borrow_and_update();
                if changed.is_err() || now == Stage::Close {
                    return;
                }
                if now == Stage::Drain && !draining {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                }
            }
        }
    }
}

/// Raises the soft open-file limit to the hard one and returns the new soft limit (`None`
/// where it cannot be read). Every connection costs a descriptor; the default soft limit
/// (often 1024) would cap the server far below `server.max_connections`.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: setrlimit only reads the struct we pass.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim = raised;
            }
        }
        // `rlim_t` is u64 on Linux but not everywhere.
        #[allow(clippy::useless_conversion)]
        Some(u64::from(lim.rlim_cur))
    }
    #[cfg(not(unix))]
    None
}

/// Descriptors kept free of connections: the database pool (at most 16), the SQLite files,
/// the audit spool, the listener, outbound clients (Vault, upstream providers, STS) and logs.
pub const RESERVED_FILES: u64 = 128;

/// `configured`, lowered so that connections leave [`RESERVED_FILES`] descriptors free under
/// the open-file limit `nofile` (at least 1).
pub fn effective_max_connections(configured: u64, nofile: Option<u64>) -> u32 {
    let cap = nofile.map_or(configured, |n| n.saturating_sub(RESERVED_FILES));
    u32::try_from(configured.min(cap).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_connections_stays_below_the_open_file_limit_with_room() {
        assert_eq!(effective_max_connections(10_000, Some(1024)), 896);
        assert_eq!(effective_max_connections(10_000, Some(1_048_576)), 10_000);
        assert_eq!(effective_max_connections(10_000, None), 10_000);
        assert_eq!(effective_max_connections(10_000, Some(10)), 1);
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let soft = raise_open_file_limit();
        #[cfg(unix)]
        assert!(soft.is_some_and(|n| n > 0));
        let _ = soft;
    }
}
