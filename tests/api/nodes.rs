//! Several nodes on one database: no in-process state breaks horizontal scaling.

use crate::helpers::*;
use serde_json::Value;

async fn introspect(http: &reqwest::Client, base: &str, c: &TestClient, token: &str) -> Value {
    http.post(format!("{base}/oauth/introspect"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn two_nodes_share_clients_tokens_revocations_and_keys(engine: Engine) {
    let Some(a) = spawn_app(engine).await else {
        return;
    };
    let b = a.spawn_peer().await;
    let c = a.create_client("shared").await;
    // A client created through node A is served by node B.
    let r = a
        .http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let token_b = v["access_token"].as_str().unwrap().to_string();
    // A token from B verifies on A; revoked on A, it is inactive on B.
    assert_eq!(
        introspect(&a.http, &a.base, &c, &token_b).await["active"],
        true
    );
    let r = a
        .http
        .post(a.url("/oauth/revoke"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", &token_b)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(&a.http, &b.base, &c, &token_b).await["active"],
        false
    );
    // A key rotation on A: B picks it up on its next reload and keeps verifying old tokens.
    let before = a.access_token(&c, None).await;
    assert_eq!(
        a.admin_post("/admin/v1/keys/rotate", serde_json::json!({}))
            .await
            .status(),
        200
    );
    b.tessera.keys.reload().await.unwrap();
    let (h_new, _) = decode_jwt(&a.access_token(&c, None).await);
    let jwks_b: Value = a
        .http
        .get(format!("{}/.well-known/jwks.json", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks_b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&h_new["kid"].as_str().unwrap()));
    assert_eq!(
        introspect(&a.http, &b.base, &c, &before).await["active"],
        true
    );
    // B signs with the new active key after reloading too.
    let r = a
        .http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let (h_b, _) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(h_b["kid"], h_new["kid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_database_share_clients_tokens_revocations_and_keys() {
    two_nodes_share_clients_tokens_revocations_and_keys(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_sqlite_file_share_clients_tokens_revocations_and_keys() {
    two_nodes_share_clients_tokens_revocations_and_keys(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_on_schedule_when_keys_rotate_every_has_passed() {
    let Some(app) = spawn_app_with(Engine::Sqlite, |s| s.keys.rotate_every = 3600).await else {
        return;
    };
    let k = &app.tessera.keys;
    assert!(!k.rotate_if_due(3600).await.unwrap(), "not due yet");
    let (h1, _) = decode_jwt(
        &app.access_token(&app.create_client("sched").await, None)
            .await,
    );
    app.clock.advance(3600);
    assert!(k.rotate_if_due(3600).await.unwrap());
    let list: Value = app.admin_get("/admin/v1/keys").await.json().await.unwrap();
    let retired: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "retired")
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    // Every algorithm rotates; the default one's retired key is the one that signed.
    assert_eq!(retired.len(), 4, "{retired:?}");
    assert!(retired.contains(&h1["kid"].as_str().unwrap()));
}
