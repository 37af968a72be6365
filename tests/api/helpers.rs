//! Spawns a real server per test: port 0, a fresh database (a SQLite file in a temp dir, or a
//! fresh PostgreSQL database dropped afterwards), a manual clock, and typed request helpers.

use serde_json::{json, Value};
use std::sync::Arc;
use tessera::app::App;
use tessera::clock::ManualClock;
use tessera::config::Settings;
use tessera::service::Tessera;

/// Which storage engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The bootstrap admin token every test server accepts.
pub const ADMIN_TOKEN: &str = "test-bootstrap-admin-token-0123456789abcdef";
/// The issuer of every test server.
pub const ISSUER: &str = "http://tessera.test";
/// Start time of the manual clock.
pub const T0: i64 = 1_800_000_000;

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub tessera: Arc<Tessera>,
    #[allow(dead_code)]
    pub engine: Engine,
    /// The settings this server runs with (a peer node reuses them).
    pub settings: Settings,
    _dir: tempfile::TempDir,
    pg_db: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn pg_admin_url() -> String {
    std::env::var("TESSERA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn pg_url_for(db: &str) -> String {
    let base = pg_admin_url();
    let base = base.split('?').next().unwrap_or(&base).to_string();
    match base.rsplit_once('/') {
        Some((head, _)) if head.len() > "postgres://".len() => format!("{head}/{db}"),
        _ => format!("{base}/{db}"),
    }
}

/// Creates a fresh PostgreSQL database; `None` (skip) when unreachable outside CI.
pub async fn fresh_pg_database() -> Option<String> {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let conn = sqlx::PgConnection::connect(&admin).await;
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL at {admin} is unreachable and CI=true: {e}");
            }
            eprintln!("skipping: PostgreSQL at {admin} unreachable: {e}");
            return None;
        }
    };
    let name = format!("tessera_t_{}", hex(&rand_bytes(8)));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    Some(name)
}

pub fn drop_pg_database(name: &str) {
    let name = name.to_string();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        });
    })
    .join();
}

pub fn rand_bytes(n: usize) -> Vec<u8> {
    tessera::crypto::random_bytes(n).unwrap()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Settings for a test server on `engine` in `dir`.
pub fn test_settings(dir: &std::path::Path, database_url: &str) -> Settings {
    let mut s = Settings::defaults().unwrap();
    s.listen = "127.0.0.1:0".into();
    s.issuer = ISSUER.into();
    s.database_url = database_url.into();
    s.admin_token = tessera::secret::Secret::new(ADMIN_TOKEN);
    s.master_key_file = dir.join("master.key").display().to_string();
    s.admin_token_file = dir.join("admin-token").display().to_string();
    // Each server spools to its own directory (on PostgreSQL the default is the working
    // directory, which every test shares).
    s.audit.spool_dir = dir.display().to_string();
    s.log = "warn".into();
    // The in-process upstream OpenID providers (`idp`) listen on loopback; a test of the
    // address guard itself clears this.
    s.upstream.allowed_networks = vec!["127.0.0.0/8".into(), "::1/128".into()];
    s
}

/// Spawns a server; `None` when the engine is unavailable (PostgreSQL outside CI).
pub async fn spawn_app(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |_| {}).await
}

/// Spawns a server after letting the test adjust its settings.
pub async fn spawn_app_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg_db) = match engine {
        Engine::Sqlite => (
            format!("sqlite://{}", dir.path().join("t.db").display()),
            None,
        ),
        Engine::Postgres => {
            let db = fresh_pg_database().await?;
            (pg_url_for(&db), Some(db))
        }
    };
    let mut settings = test_settings(dir.path(), &url);
    adjust(&mut settings);
    let clock = ManualClock::new(T0);
    let app = App::build(settings.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let addr = app.local_addr().unwrap();
    let tessera = app.tessera();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async move {
                let _ = rx.await;
            })
            .await;
    });
    // With `tls.*` set the listener speaks TLS; the test brings a client that trusts its CA.
    let scheme = if settings.tls.enabled() {
        "https"
    } else {
        "http"
    };
    Some(TestApp {
        base: format!("{scheme}://{addr}"),
        http: reqwest::Client::builder().build().unwrap(),
        clock,
        tessera,
        engine,
        settings,
        _dir: dir,
        pg_db,
        shutdown: Some(tx),
        server: Some(server),
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.abort();
        }
        if let Some(db) = self.pg_db.take() {
            drop_pg_database(&db);
        }
    }
}

/// A client as created through the admin API, with its secret.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: String,
    #[allow(dead_code)]
    pub tenant: String,
}

impl TestApp {
    /// A second node on the same database, master key and clock (several `serve` processes
    /// on one PostgreSQL database). It stops when the returned handle is dropped.
    pub async fn spawn_peer(&self) -> Peer {
        self.spawn_peer_with(|_| {}).await
    }

    /// A peer node whose settings the test adjusts first (a node restarted with another
    /// configuration).
    pub async fn spawn_peer_with(&self, adjust: impl FnOnce(&mut Settings)) -> Peer {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        let app = App::build(settings, Arc::new(self.clock.clone()))
            .await
            .unwrap();
        let addr = app.local_addr().unwrap();
        let tessera = app.tessera();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = app
                .run_until_stopped(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Peer {
            base: format!("http://{addr}"),
            tessera,
            _stop: tx,
            _server: server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` without credentials; its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// An admin API call with the bootstrap token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.admin(reqwest::Method::GET, path, None).await
    }

    pub async fn create_tenant(&self, id: &str) {
        let r = self
            .admin_post("/admin/v1/tenants", json!({"id": id, "name": id}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// Creates a client in `tenant` from a create body; returns it with its secret.
    pub async fn create_client_in(&self, tenant: &str, body: Value) -> TestClient {
        let r = self
            .admin_post(&format!("/admin/v1/tenants/{tenant}/clients"), body)
            .await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        TestClient {
            id: v["client_id"].as_str().unwrap().to_string(),
            secret: v["client_secret"].as_str().unwrap_or("").to_string(),
            tenant: tenant.to_string(),
        }
    }

    /// A client_credentials client in tenant default with scopes read/write (default read).
    pub async fn create_client(&self, id: &str) -> TestClient {
        self.create_client_in(
            "default",
            json!({"client_id": id, "name": id, "grant_types": ["client_credentials"],
                   "scopes": ["read", "write"], "default_scopes": ["read"]}),
        )
        .await
    }

    /// POST a form to the token endpoint with HTTP Basic.
    pub async fn token_basic(&self, c: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A client_credentials token for `c` (asserts success).
    pub async fn access_token(&self, c: &TestClient, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let r = self.token_basic(c, &form).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{v}");
        v["access_token"].as_str().unwrap().to_string()
    }

    /// The audit events visible through the admin API.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let r = self.admin_get(&format!("/admin/v1/audit?{query}")).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["items"].as_array().unwrap().clone()
    }
}

/// An answer's status, JSON body and `Retry-After` header.
pub async fn status_json_retry_after(r: reqwest::Response) -> (u16, Value, Option<String>) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), retry)
}

/// Asserts a problem answer (RFC 9457 + karmoCode/karmoErrors) with `status`; returns its body.
pub async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.unwrap();
    let code = v["karmoCode"].as_str().unwrap();
    assert!(
        code.len() == 8 && code.starts_with(&status.to_string()),
        "{code}"
    );
    assert_eq!(v["status"], status);
    for k in ["type", "title", "detail", "instance"] {
        assert!(v[k].is_string(), "{k} in {v}");
    }
    assert!(v["karmoErrors"].is_array());
    v
}

/// The `karmoErrors` pointers of a problem body.
pub fn pointers(problem: &Value) -> Vec<String> {
    problem["karmoErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts an id-api error (`{"error","errorDescription"}`) with `status`; returns `error`.
pub async fn id_api_error(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert!(v["errorDescription"].is_string(), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
    v["error"].as_str().unwrap().to_string()
}

/// `POST /oauth/introspect` by `asker` (200, no-store); the answer.
pub async fn introspect(app: &TestApp, asker: &TestClient, token: &str) -> Value {
    let r = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&asker.id, Some(&asker.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

/// Verifies a token against the server's JWKS and returns its claims.
pub async fn verify_with_jwks(app: &TestApp, token: &str) -> Value {
    let v = app.get_json("/.well-known/jwks.json").await;
    let keys: Vec<_> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(tessera::keys::signer::VerifyingKey::from_jwk)
        .collect();
    tessera::keys::jws::verify(token, &keys).expect("verifies against the JWKS");
    decode_jwt(token).1
}

/// Decodes a JWT's header and claims without verifying (assertions only).
pub fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let h = parts.next().unwrap();
    let p = parts.next().unwrap();
    let dec = |s: &str| -> Value {
        serde_json::from_slice(&tessera::crypto::b64url_decode(s).unwrap()).unwrap()
    };
    (dec(h), dec(p))
}

/// Generates `#[tokio::test]`s running each named `async fn(TestApp)` on SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Engine::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Engine::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// A peer node started by [`TestApp::spawn_peer`].
pub struct Peer {
    pub base: String,
    pub tessera: Arc<Tessera>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _server: tokio::task::JoinHandle<()>,
}

/// Like [`both_engines!`] for tests that spawn their own server: each named
/// `async fn(Engine)` runs once per engine.
#[macro_export]
macro_rules! per_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Engine::Postgres).await;
                }
            )*
        }
    };
}
