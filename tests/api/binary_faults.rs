//! The real binary under hostile conditions (SPEC §7.2): SIGTERM while a client trickles a
//! body, private files, and a bootstrap token file that cannot be written.

use crate::binary::{Server, BIN};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn sigterm_with_a_client_trickling_its_body_exits_0_within_the_shutdown_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        dir.path(),
        &[("TESSERA_SERVER_SHUTDOWN_GRACE", "1".to_string())],
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // One byte every 100 ms of a 10,000-byte body: far longer than the grace.
    let trickle = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: t\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 10000\r\n\r\n").unwrap();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            if c.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    s.send_sigterm();
    let code = s.exit_within(Duration::from_secs(6));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(code, Some(0), "{}", s.log.lock().unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for the grace"
    );
    let _ = trickle.join();
    let log = s.log.lock().unwrap().clone();
    assert!(log.contains("audit events flushed"), "{log}");
}

#[tokio::test]
async fn the_sqlite_files_master_key_and_admin_token_file_are_created_0600() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let http = reqwest::Client::new();
    // A write, so the WAL and shared-memory files exist.
    let token = std::fs::read_to_string(dir.path().join("tessera.admin-token")).unwrap();
    let r = http
        .post(format!("{}/admin/v1/tenants", s.base))
        .bearer_auth(token.trim())
        .json(&serde_json::json!({"id": "files", "name": "files"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for f in [
        "tessera.db",
        "tessera.db-wal",
        "tessera.db-shm",
        "tessera.master.key",
        "tessera.admin-token",
    ] {
        assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pending"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn a_bootstrap_token_file_that_cannot_be_written_leaves_no_hash_stored() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("admin-token");
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_ADMIN_TOKEN_FILE", &missing)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin token file"), "{err}");
    // With a writable path the next start generates a token, and it works.
    let s = Server::start(dir.path(), &[]);
    let token = std::fs::read_to_string(dir.path().join("tessera.admin-token"))
        .expect("a token was generated on the second start");
    let r = reqwest::Client::new()
        .get(format!("{}/admin/v1/tenants", s.base))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
