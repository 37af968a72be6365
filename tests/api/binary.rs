//! The real binary, as an operator runs it.

use crate::helpers::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

pub struct Server {
    child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `tessera serve` in `dir` with `env`, waiting for its listening line.
    pub fn start(dir: &std::path::Path, env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, _) in
            std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_") || k.starts_with("VAULT_"))
        {
            cmd.env_remove(k);
        }
        cmd.env("TESSERA_LISTEN", "127.0.0.1:0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening addr=") {
                    let _ = tx.send(line[i + "listening addr=".len()..].trim().to_string());
                }
                log2.lock().unwrap().push_str(&line);
                log2.lock().unwrap().push('\n');
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap()));
        Server {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn sigterm(&mut self) -> i32 {
        self.send_sigterm();
        self.child.wait().unwrap().code().unwrap_or(-1)
    }

    /// Sends SIGTERM without waiting.
    pub fn send_sigterm(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    }

    /// The exit code once the process exits within `within` (`None`: still running).
    pub fn exit_within(&mut self, within: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn serve_with_no_config_bootstraps_sqlite_keys_and_a_private_admin_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let token_file = dir.path().join("tessera.admin-token");
    assert!(dir.path().join("tessera.db").exists());
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&dir.path().join("tessera.master.key")), 0o600);
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    let log = s.log.lock().unwrap().clone();
    assert!(
        log.contains("tessera.admin-token"),
        "the log names the token file: {log}"
    );
    assert!(!log.contains(&token), "the log never shows the token");
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/admin/v1/tenants", s.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["items"][0]["id"], "default");
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: std::collections::BTreeSet<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(
        algs.into_iter().collect::<Vec<_>>(),
        ["ES256", "EdDSA", "PS256", "RS256"],
        "keys of every algorithm from the first start"
    );
    assert_eq!(s.sigterm(), 0);
    // A second start keeps the same token, keys and database.
    let s2 = Server::start(dir.path(), &[]);
    let r = http
        .get(format!("{}/admin/v1/tenants", s2.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwks2: Value = http
        .get(format!("{}/.well-known/jwks.json", s2.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"], jwks2["keys"]);
}

/// `tessera serve` in `dir` on `engine` (SQLite in `dir`, or a fresh PostgreSQL database) with
/// the bootstrap token, a fresh master key and `extra` variables; `None` when PostgreSQL is
/// unavailable. Returns the server, its database URL and the PostgreSQL database to drop.
pub async fn serve_on(
    engine: Engine,
    dir: &std::path::Path,
    extra: &[(&str, String)],
) -> Option<(Server, String, Option<String>)> {
    let (url, db) = match engine {
        Engine::Sqlite => (format!("sqlite://{}", dir.join("t.db").display()), None),
        Engine::Postgres => {
            let db = fresh_pg_database().await?;
            (pg_url_for(&db), Some(db))
        }
    };
    let mut env = vec![
        ("TESSERA_DATABASE_URL", url.clone()),
        ("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        (
            "TESSERA_MASTER_KEY",
            tessera::crypto::MasterKey::generate().unwrap().1,
        ),
    ];
    env.extend(extra.iter().cloned());
    Some((Server::start(dir, &env), url, db))
}

async fn issue_tokens_then_sigterm_keeps_every_audit_event(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut s, url, db)) = serve_on(engine, dir.path(), &[]).await else {
        return;
    };
    let http = reqwest::Client::new();
    let out = Command::new(BIN)
        .args([
            "client",
            "create",
            "--name",
            "load",
            "--client-id",
            "load",
            "--scope",
            "read",
            "--json",
        ])
        .env("TESSERA_URL", &s.base)
        .env("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    const N: usize = 200;
    let mut tasks = Vec::new();
    for _ in 0..N {
        let http = http.clone();
        let url = format!("{}/oauth/token", s.base);
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .basic_auth("load", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(s.sigterm(), 0, "SIGTERM drains and exits 0");
    let log = s.log.lock().unwrap().clone();
    assert!(
        !log.contains(&secret) && !log.contains(ADMIN_TOKEN),
        "no secret in the log"
    );
    let store = tessera::store::Store::connect(&url).await.unwrap();
    let events = store
        .list_audit(&tessera::store::AuditFilter {
            client_id: Some("load".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let issued = events.iter().filter(|e| e.event == "token.issued").count();
    assert_eq!(issued, N, "every issuance is audited after a graceful stop");
    drop(store);
    if let Some(db) = db {
        drop_pg_database(&db);
    }
}

/// SPEC §7.3: SIGKILL right after admin changes were acknowledged loses none of them and
/// none of their audit events.
async fn sigkill_loses_no_acknowledged_admin_change_nor_its_event(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut s, url, db)) = serve_on(engine, dir.path(), &[]).await else {
        return;
    };
    let http = reqwest::Client::new();
    const N: usize = 30;
    for i in 0..N {
        let r = http
            .post(format!("{}/admin/v1/tenants/default/clients", s.base))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"client_id": format!("k{i}"), "name": "k",
                          "grant_types": ["client_credentials"], "scopes": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let store = tessera::store::Store::connect(&url).await.unwrap();
    assert_eq!(store.list_clients("default").await.unwrap().len(), N);
    let events = store
        .list_audit(&tessera::store::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let created = events
        .iter()
        .filter(|e| e.event == "admin.client.created")
        .count();
    assert_eq!(created, N, "every acknowledged change kept its event");
    drop(store);
    if let Some(db) = db {
        drop_pg_database(&db);
    }
}

/// SPEC §7.3: with `audit.sync = true` a token is answered only once its event is stored, so
/// SIGKILL right after the answers loses none.
#[tokio::test]
async fn with_audit_sync_sigkill_loses_no_token_event() {
    let dir = tempfile::tempdir().unwrap();
    let sync = [("TESSERA_AUDIT_SYNC", "true".to_string())];
    let (mut s, url, _) = serve_on(Engine::Sqlite, dir.path(), &sync).await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/admin/v1/tenants/default/clients", s.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"client_id": "sync", "name": "s",
                      "grant_types": ["client_credentials"], "scopes": []}))
        .send()
        .await
        .unwrap();
    let secret = r.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    const N: usize = 100;
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (http, base, secret) = (http.clone(), s.base.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/oauth/token"))
                .basic_auth("sync", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let store = tessera::store::Store::connect(&url).await.unwrap();
    let events = store
        .list_audit(&tessera::store::AuditFilter {
            client_id: Some("sync".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let issued = events.iter().filter(|e| e.event == "token.issued").count();
    assert_eq!(issued, N, "every answered token's event survived SIGKILL");
}

#[tokio::test]
async fn sigkill_after_admin_changes_keeps_them_and_their_events_on_sqlite() {
    sigkill_loses_no_acknowledged_admin_change_nor_its_event(Engine::Sqlite).await;
}

#[tokio::test]
async fn sigkill_after_admin_changes_keeps_them_and_their_events_on_postgres() {
    sigkill_loses_no_acknowledged_admin_change_nor_its_event(Engine::Postgres).await;
}

#[tokio::test]
async fn sigterm_after_a_burst_of_tokens_flushes_every_audit_event_on_sqlite() {
    issue_tokens_then_sigterm_keeps_every_audit_event(Engine::Sqlite).await;
}

#[tokio::test]
async fn sigterm_after_a_burst_of_tokens_flushes_every_audit_event_on_postgres() {
    issue_tokens_then_sigterm_keeps_every_audit_event(Engine::Postgres).await;
}

#[tokio::test]
async fn migrate_applies_the_schema_and_config_files_are_overridden_by_env() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let cfg = dir.path().join("tessera.toml");
    std::fs::write(
        &cfg,
        format!(
            "database_url = \"sqlite://{}\"\nissuer = \"https://from-file.example\"\n",
            db.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["migrate", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    let s = Server::start(
        dir.path(),
        &[
            ("TESSERA_CONFIG", cfg.display().to_string()),
            ("TESSERA_ISSUER", "https://from-env.example".to_string()),
        ],
    );
    let v: Value = reqwest::get(format!("{}/.well-known/openid-configuration", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuer"], "https://from-env.example");
}

#[tokio::test]
async fn the_cli_prints_tables_by_default_and_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN.to_string())],
    );
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("TESSERA_URL", &s.base)
            .env("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = cli(&["tenant", "create", "acme", "--name", "Acme"]);
    assert!(ok, "{err}");
    assert!(out.contains("acme"));
    let (ok, out, _) = cli(&["tenant", "list"]);
    assert!(ok && out.lines().next().unwrap().contains("ID"), "{out}");
    let (ok, out, _) = cli(&["tenant", "list", "--json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let (ok, _, err) = cli(&["tenant", "create", "acme"]);
    assert!(!ok && err.contains("409"), "{err}");
    let (ok, out, _) = cli(&["keys", "rotate", "--json"]);
    assert!(ok && out.contains("retired"), "{out}");
    let (ok, out, _) = cli(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "c",
        "--client-id",
        "cli-c",
        "--scope",
        "read",
        "--json",
    ]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    let secret = v["client_secret"].as_str().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", s.base))
        .basic_auth("cli-c", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ok, out, _) = cli(&[
        "client",
        "rotate-secret",
        "--tenant",
        "acme",
        "cli-c",
        "--json",
    ]);
    assert!(ok && out.contains("client_secret"), "{out}");
    let (ok, out, err) = cli(&[
        "role",
        "add",
        "--tenant",
        "acme",
        "reader",
        "--scope",
        "docs:read",
    ]);
    assert!(ok && out.contains("reader"), "{err}");
    let (ok, out, err) = cli(&[
        "user",
        "add",
        "--tenant",
        "acme",
        "ann@example.com",
        "--role",
        "reader",
        "--password",
        "long-enough-pw",
    ]);
    assert!(ok && out.contains("ann@example.com"), "{err}");
    let (ok, out, _) = cli(&["user", "list", "--tenant", "acme", "--json"]);
    assert!(ok && !out.contains("long-enough-pw"), "{out}");
    let (ok, out, err) = cli(&[
        "upstream",
        "add",
        "--tenant",
        "acme",
        "--issuer",
        "https://idp.example",
        "--client-id",
        "x",
        "--id",
        "idp",
    ]);
    assert!(ok && out.contains("https://idp.example"), "{err}");
    let _ = json!({});
}

#[tokio::test]
async fn the_service_cli_adds_lists_rotates_and_removes_services() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN.to_string())],
    );
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("TESSERA_URL", &s.base)
            .env("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let token = |secret: String| {
        let base = s.base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/auth/token"))
                .basic_auth("orders", Some(secret))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (ok, out, err) = cli(&[
        "service",
        "add",
        "orders",
        "--secret",
        "--ttl",
        "300",
        "--gateway-arn",
        "arn:aws:iam::1:role/orders-*",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("shown only once"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(token(v["secret"].as_str().unwrap().to_string()).await, 200);

    let (ok, out, _) = cli(&["service", "list"]);
    assert!(
        ok && out.lines().next().unwrap().contains("NAME") && out.contains("orders"),
        "{out}"
    );
    let (ok, out, _) = cli(&["service", "rotate-secret", "orders", "--json"]);
    assert!(ok, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(token(v["secret"].as_str().unwrap().to_string()).await, 200);
    let (ok, out, _) = cli(&["service", "remove", "orders"]);
    assert!(ok && out.contains("service orders removed"), "{out}");
    // As SPEC §4 writes it, with no binding named: a secret binding, printed once.
    let (ok, out, err) = cli(&[
        "service",
        "add",
        "orders",
        "--audience",
        "pouch-services",
        "--ttl",
        "600",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bindings"], json!([{"type": "secret"}]));
    assert_eq!(token(v["secret"].as_str().unwrap().to_string()).await, 200);
}
