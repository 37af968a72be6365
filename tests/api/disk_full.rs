//! The disk fills (SPEC §7.3) under the real binary on SQLite: the database, its WAL and the
//! audit spool share a small tmpfs, which a filler file takes to the last byte and then gives
//! back. Needs root (`mount -t tmpfs`); without it the test says so and returns.

use crate::binary::serve_on;
use crate::helpers::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Size of the tmpfs: room for the bootstrapped database and its WAL, little more.
const TMPFS_MB: u32 = 8;
/// Most token requests sent while the disk is full.
const MAX_TOKENS_WHILE_FULL: usize = 150;
/// `audit.queue_size` of the server: the smallest queue, so it fills in a few requests.
const QUEUE_SIZE: &str = "16";

/// A tmpfs mounted on a fresh temporary directory; lazily unmounted on drop, also when the
/// test fails.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a message) when mounting is not allowed here (not root).
    fn mount(size_mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_mb}m,mode=0700"))
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: the disk-full test needs to mount a tmpfs (run it as root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: the disk-full test cannot run `mount`: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes `path` until the file system refuses (ENOSPC); the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        // `write`, not `write_all`: a short write takes the last pages, the next one fails.
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
    written
}

/// The client of the test and the HTTP calls it makes to the server.
struct Caller {
    http: reqwest::Client,
    base: String,
    client_id: String,
    secret: String,
}

impl Caller {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client_credentials request: its status and JSON body.
    async fn token(&self) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(&self.client_id, Some(&self.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates client `id` with the bootstrap token: the status and body.
    async fn create_client(&self, id: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/admin/v1/tenants/default/clients"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"client_id": id, "name": id,
                          "grant_types": ["client_credentials"], "scopes": ["read"]}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Rotates the signing keys with the bootstrap token: the status and body.
    async fn rotate_keys(&self) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/admin/v1/keys/rotate"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `/readyz`: the status and body.
    async fn ready(&self) -> (u16, Value) {
        let r = self.http.get(self.url("/readyz")).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Audit events `event` of client `client_id` (the audit API writes out the queue and
    /// the spool first): how many, and how many distinct `jti`s or subjects they name.
    async fn events(&self, client_id: &str, event: &str) -> (usize, usize) {
        let r = self
            .http
            .get(self.url(&format!("/admin/v1/audit?client={client_id}&limit=1000")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let mut names: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| format!("{}{}", e["jti"], e["subject"]))
            .collect();
        let found = names.len();
        names.sort_unstable();
        names.dedup();
        (found, names.len())
    }

    /// `tessera_audit_events_lost_total` on `/metrics`.
    async fn events_lost(&self) -> String {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("tessera_audit_events_lost_total"))
            .unwrap_or("tessera_audit_events_lost_total (missing)")
            .to_string()
    }
}

/// Polls `ok` every 100 ms until it holds; the time it took. Fails past `limit`.
async fn wait_until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok().await {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_with_503_loses_no_event_and_recovers_without_restart() {
    let Some(tmpfs) = Tmpfs::mount(TMPFS_MB) else {
        return;
    };
    let spool: PathBuf = tmpfs.path().join("spool");
    let extra = [
        ("TESSERA_AUDIT_SPOOL_DIR", spool.display().to_string()),
        ("TESSERA_AUDIT_QUEUE_SIZE", QUEUE_SIZE.to_string()),
        // How long a token waits for room in the full queue before its 503.
        ("TESSERA_DATABASE_TIMEOUT", "1".to_string()),
    ];
    let (mut server, url, _) = serve_on(Engine::Sqlite, tmpfs.path(), &extra)
        .await
        .unwrap();
    let log = server.log.clone();
    let log = move || log.lock().unwrap().clone();
    let mut c = Caller {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base: server.base.clone(),
        client_id: "filler".into(),
        secret: String::new(),
    };
    let (status, created) = c.create_client("filler").await;
    assert_eq!(status, 201, "{created}");
    c.secret = created["client_secret"].as_str().unwrap().to_string();
    let mut answered = 0usize;
    for _ in 0..3 {
        let (status, body) = c.token().await;
        assert_eq!(status, 200, "{body}");
        answered += 1;
    }
    wait_until("ready", Duration::from_secs(5), async || {
        c.ready().await.0 == 200
    })
    .await;

    // The disk fills.
    let filler = tmpfs.path().join("filler");
    let filled = fill(&filler);
    eprintln!("filled the tmpfs with {filled} bytes");

    // Tokens: a 200 (its event waits in the queue) or a 503 once the queue is full; never 500.
    let (mut ok_while_full, mut refused) = (0usize, 0usize);
    let full_started = Instant::now();
    for _ in 0..MAX_TOKENS_WHILE_FULL {
        let (status, body) = c.token().await;
        match status {
            200 => {
                ok_while_full += 1;
                answered += 1;
            }
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                refused += 1;
                // A few refusals show the queue stays full; each waits `database.timeout`.
                if refused == 3 {
                    break;
                }
            }
            _ => panic!("token while the disk is full: {status} {body}\n{}", log()),
        }
    }
    eprintln!(
        "disk full: {ok_while_full} tokens answered 200, {refused} answered 503 in {:?}",
        full_started.elapsed()
    );
    assert_eq!(
        refused,
        3,
        "once the audit queue is full, tokens are refused\n{}",
        log()
    );
    // Readiness says why.
    let (status, ready) = c.ready().await;
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready["audit"]
            .as_str()
            .is_some_and(|a| a.contains("cannot be written")),
        "{ready}"
    );
    // Admin writes: 503 50300902 naming storage, never 500.
    for (what, (status, problem)) in [
        ("client", c.create_client("during").await),
        ("key rotation", c.rotate_keys().await),
    ] {
        assert_eq!(status, 503, "{what} on a full disk: {problem}\n{}", log());
        assert_eq!(problem["karmoCode"], "50300902", "{what}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("storage"),
            "{what}: {problem}"
        );
    }
    assert_eq!(c.events_lost().await, "tessera_audit_events_lost_total 0");

    // Space returns: everything recovers by itself, no restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let to_ready = wait_until("ready again", Duration::from_secs(5), async || {
        c.ready().await.0 == 200
    })
    .await;
    // Rounds enough to take every pooled database connection (8) several times, those whose
    // write failed on the full disk too: a token, an admin write every third round, and the
    // audit log (read after the queue and the spool are written out) holding every event.
    for round in 0..24 {
        let (status, body) = c.token().await;
        assert_eq!(status, 200, "{body}");
        answered += 1;
        let admin = (round % 3 == 0).then(|| format!("after-{round}"));
        if let Some(id) = &admin {
            let (status, body) = c.create_client(id).await;
            assert_eq!(
                status,
                201,
                "admin write after space returned: {body}\n{}",
                log()
            );
        }
        if round == 0 {
            eprintln!(
                "space returned: ready after {to_ready:?}, a token and an admin write after {:?}",
                freed.elapsed()
            );
            let (status, body) = c.rotate_keys().await;
            assert_eq!(status, 200, "key rotation after space returned: {body}");
        }
        let (found, unique) = c.events("filler", "token.issued").await;
        assert_eq!(
            found,
            answered,
            "round {round}: every token answered 200 has its event\n{}",
            log()
        );
        assert_eq!(unique, found, "each event once");
        if let Some(id) = &admin {
            assert_eq!(c.events(id, "admin.client.created").await.0, 1);
        }
        let spooled = std::fs::metadata(spool.join("tessera-audit.spool")).map_or(0, |m| m.len());
        assert_eq!(spooled, 0, "round {round}: nothing left in the spool");
    }
    eprintln!("in all: {answered} tokens answered 200, as many token.issued events found");
    assert_eq!(c.events_lost().await, "tessera_audit_events_lost_total 0");

    // A clean stop, and the database is intact.
    assert_eq!(server.sigterm(), 0, "{}", log());
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    db.close().await.unwrap();
}
