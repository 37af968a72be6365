//! Two real `tessera serve` processes on one PostgreSQL database (SPEC §6): a change made
//! through node A is honoured by node B within a second — by `LISTEN/NOTIFY`, not by expiry —
//! and still after B's listening connection was cut (B then flushes what it cached).
//!
//! Polling with a bounded deadline is deliberate here: the test measures propagation between
//! processes, not the timing of our own clock.

use crate::binary::Server;
use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long a change may take to reach the other node before the test fails (the target is
/// one second; the margin absorbs a loaded CI machine).
const DEADLINE: Duration = Duration::from_secs(2);

struct Node {
    server: Server,
    http: reqwest::Client,
}

impl Node {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Status and body of a client_credentials request.
    async fn token(&self, id: &str, secret: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn store_queries(&self) -> f64 {
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
            .find_map(|l| l.strip_prefix("tessera_store_queries_total "))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }
}

/// Polls `check` every 50 ms until it holds; panics with `what` after [`DEADLINE`].
async fn within_deadline<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < DEADLINE,
            "not honoured within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let bytes = tessera::crypto::b64url_decode(header).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn changes_on_node_a_reach_node_b_within_a_second_also_after_b_lost_its_listener() {
    // Arrange: two nodes on one database, one client, warm in B's cache.
    let Some(db) = fresh_pg_database().await else {
        return;
    };
    let url = pg_url_for(&db);
    let env = [
        ("TESSERA_DATABASE_URL", url.clone()),
        ("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        (
            "TESSERA_MASTER_KEY",
            tessera::crypto::MasterKey::generate().unwrap().1,
        ),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let http = reqwest::Client::new();
    let a = Node {
        server: Server::start(dir_a.path(), &env),
        http: http.clone(),
    };
    let b = Node {
        server: Server::start(dir_b.path(), &env),
        http,
    };
    let clients = "/admin/v1/tenants/default/clients";
    let created = a
        .admin(
            reqwest::Method::POST,
            clients,
            json!({"client_id": "mover", "name": "mover", "grant_types": ["client_credentials"],
                   "scopes": ["read"]}),
        )
        .await;
    let secret = created["client_secret"].as_str().unwrap().to_string();
    within_deadline("B serves the new client", || async {
        b.token("mover", &secret).await.0 == 200
    })
    .await;
    // A's notice of the new client may reach B after B first read it from the database, and
    // then drops it from B's cache once: settle until a token costs B no query.
    within_deadline("B's cache settles", || async {
        let q = b.store_queries().await;
        b.token("mover", &secret).await.0 == 200 && b.store_queries().await == q
    })
    .await;
    let before = b.store_queries().await;
    for _ in 0..20 {
        assert_eq!(b.token("mover", &secret).await.0, 200);
    }
    assert_eq!(
        b.store_queries().await,
        before,
        "warm tokens on B make no database round trip"
    );

    // Act + assert: disabling on A is honoured by B.
    let mover = format!("{clients}/mover");
    a.admin(
        reqwest::Method::PATCH,
        &mover,
        json!({"status": "disabled"}),
    )
    .await;
    within_deadline("disable", || async {
        b.token("mover", &secret).await.0 == 401
    })
    .await;
    a.admin(reqwest::Method::PATCH, &mover, json!({"status": "active"}))
        .await;
    within_deadline("enable", || async {
        b.token("mover", &secret).await.0 == 200
    })
    .await;

    // Rotating the secret (no grace) on A: B refuses the old one, accepts the new one.
    let rotated = a
        .admin(
            reqwest::Method::POST,
            &format!("{mover}/secret/rotate"),
            json!({"grace_seconds": 0}),
        )
        .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    within_deadline("secret rotation", || async {
        b.token("mover", &secret).await.0 == 401 && b.token("mover", &new_secret).await.0 == 200
    })
    .await;

    // Rotating the keys on A: B signs with the new active key.
    let keys = a
        .admin(reqwest::Method::POST, "/admin/v1/keys/rotate", json!({}))
        .await;
    let active = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "active" && k["alg"] == "RS256")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    within_deadline("key rotation", || async {
        let (status, body) = b.token("mover", &new_secret).await;
        status == 200 && kid_of(body["access_token"].as_str().unwrap()) == active
    })
    .await;

    // A change no node announces (made in the database directly) stays unseen by B's cache…
    use sqlx::Connection;
    let mut sql = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE clients SET status = 'disabled' WHERE client_id = 'mover'")
        .execute(&mut sql)
        .await
        .unwrap();
    assert_eq!(
        b.token("mover", &new_secret).await.0,
        200,
        "B still serves it from its cache"
    );
    // …until B's listening connection is cut: B reconnects and flushes its caches, because
    // notices sent while it was away would have been missed.
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'tessera-listener' AND datname = current_database()",
    )
    .fetch_one(&mut sql)
    .await
    .unwrap();
    assert!(cut >= 2, "both nodes' listeners were cut ({cut})");
    within_deadline("flush after reconnect", || async {
        b.token("mover", &new_secret).await.0 == 401
    })
    .await;
    // And notices flow again over the new connection.
    a.admin(reqwest::Method::PATCH, &mover, json!({"status": "active"}))
        .await;
    within_deadline("enable after reconnect", || async {
        b.token("mover", &new_secret).await.0 == 200
    })
    .await;
    let relistening: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = 'tessera-listener' AND datname = current_database()",
    )
    .fetch_one(&mut sql)
    .await
    .unwrap();
    assert_eq!(relistening, 2, "each node listens again");
    drop(sql);
    drop((a, b));
    drop_pg_database(&db);
}
