//! Client secrets held in a real OpenBao (KV v2): generateToken's `secret_id` and `/oauth/token`
//! client authentication read them, a changed secret is picked up once the cache period has
//! passed, AppRole login over TLS with a CA bundle, and an unreachable OpenBao is a 503.

use crate::helpers::*;
use crate::openbao::{Bao, ROOT_TOKEN};
use crate::per_engine;
use crate::tenant_api::{acme, post_json};
use serde_json::{json, Value};
use tessera::secret::Secret;

const ROUTE: &str = "/auth/user/generateToken";

async fn vault_client(app: &TestApp) {
    app.create_client_in(
        "acme",
        json!({"client_id": "acme-vault", "name": "v", "project_id": "p1",
               "grant_types": ["client_credentials"], "scopes": ["read"],
               "secret": {"vault": {"mount": "secret", "path": "tessera/acme-vault", "field": "client_secret"}}}),
    )
    .await;
}

fn ask(secret: &str) -> Value {
    json!({"tenant_id": "acme", "project_id": "p1", "client_id": "acme-vault",
           "email_id": "bob@acme.example", "secret_id": secret})
}

async fn token_endpoint(app: &TestApp, secret: &str) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth("acme-vault", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn vault_held_secrets_are_read_cached_refreshed_and_never_skipped(engine: Engine) {
    let Some(mut bao) = Bao::start(false).await else {
        return;
    };
    bao.put_secret(
        "tessera/acme-vault",
        json!({"client_secret": "vault-secret-one", "other": "x"}),
    )
    .await;
    let addr = bao.addr.clone();
    let Some(app) = spawn_app_with(engine, |s| {
        s.vault.addr = addr;
        s.vault.token = Secret::new(ROOT_TOKEN);
        s.vault.cache_ttl = 30;
    })
    .await
    else {
        return;
    };
    acme(&app).await;
    vault_client(&app).await;
    // The tenant API and the token endpoint both accept the Vault value, and only it.
    let (st, v) = post_json(&app, ROUTE, ask("vault-secret-one"), None).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = post_json(&app, ROUTE, ask("vault-secret-two"), None).await;
    assert_eq!((st, v["karmoCode"].as_str()), (401, Some("40100201")));
    assert_eq!(token_endpoint(&app, "vault-secret-one").await.0, 200);
    assert_eq!(token_endpoint(&app, "wrong").await.0, 401);
    // The secret changes in OpenBao: the cached value holds until vault.cache_ttl has passed.
    bao.put_secret(
        "tessera/acme-vault",
        json!({"client_secret": "vault-secret-two"}),
    )
    .await;
    assert_eq!(
        post_json(&app, ROUTE, ask("vault-secret-one"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        post_json(&app, ROUTE, ask("vault-secret-two"), None)
            .await
            .0,
        401
    );
    app.clock.advance(31);
    assert_eq!(
        post_json(&app, ROUTE, ask("vault-secret-two"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        post_json(&app, ROUTE, ask("vault-secret-one"), None)
            .await
            .0,
        401
    );
    assert_eq!(token_endpoint(&app, "vault-secret-two").await.0, 200);
    // OpenBao stops: once the cache has expired, 503 (never 500, never a token).
    bao.stop();
    app.clock.advance(31);
    let resp = app
        .http
        .post(app.url(ROUTE))
        .json(&ask("vault-secret-two"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let v: Value = resp.json().await.unwrap();
    eprintln!("OpenBao stopped -> {v}");
    assert_eq!(v["karmoCode"], "50300901");
    // Nothing about why the read failed (SPEC §7.2).
    let detail = v["detail"].as_str().unwrap();
    for leak in [ROOT_TOKEN, "unreachable", "answered", "Vault"] {
        assert!(!detail.contains(leak), "{detail}");
    }
    let (st, v) = token_endpoint(&app, "vault-secret-two").await;
    assert_eq!(
        (st, v["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    // A wrong secret is not "accepted because Vault is down" either.
    assert_eq!(post_json(&app, ROUTE, ask("anything"), None).await.0, 503);
}

async fn approle_login_over_tls_with_a_ca_bundle_reads_the_secret(engine: Engine) {
    let Some(bao) = Bao::start(true).await else {
        return;
    };
    let (role_id, secret_id) = bao.approle().await;
    bao.put_secret(
        "tessera/acme-vault",
        json!({"client_secret": "vault-over-tls"}),
    )
    .await;
    let addr = bao.addr.clone();
    let ca = bao.ca_cert.clone().unwrap().display().to_string();
    let Some(app) = spawn_app_with(engine, |s| {
        s.vault.addr = addr;
        s.vault.token = Secret::default();
        s.vault.role_id = role_id;
        s.vault.secret_id = Secret::new(secret_id);
        s.vault.ca_cert = ca;
    })
    .await
    else {
        return;
    };
    acme(&app).await;
    vault_client(&app).await;
    let (st, v) = post_json(&app, ROUTE, ask("vault-over-tls"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(post_json(&app, ROUTE, ask("nope"), None).await.0, 401);
    // Past the login's lease (60 s) and the cache, Tessera logs in again and reads again.
    app.clock.advance(120);
    assert_eq!(
        post_json(&app, ROUTE, ask("vault-over-tls"), None).await.0,
        200
    );
}

#[tokio::test]
async fn a_server_whose_vault_ca_bundle_is_unreadable_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(
        dir.path(),
        &format!("sqlite://{}", dir.path().join("t.db").display()),
    );
    s.vault.ca_cert = dir.path().join("missing.pem").display().to_string();
    let err =
        tessera::app::App::build(s, std::sync::Arc::new(tessera::clock::ManualClock::new(T0)))
            .await
            .unwrap_err();
    assert!(err.to_string().contains("vault.ca_cert"), "{err}");
}

per_engine!(
    vault_held_secrets_are_read_cached_refreshed_and_never_skipped,
    approle_login_over_tls_with_a_ca_bundle_reads_the_secret,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_can_live_in_openbao_and_a_start_without_it_fails() {
    let Some(mut bao) = Bao::start(false).await else {
        return;
    };
    let (_, key) = tessera::crypto::MasterKey::generate().unwrap();
    bao.put_secret("tessera/node", json!({ "master_key": key }))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let settings = |bao_addr: &str| {
        let mut s = test_settings(
            dir.path(),
            &format!("sqlite://{}", dir.path().join("t.db").display()),
        );
        s.master_key_vault = "secret/tessera/node#master_key".into();
        s.vault.addr = bao_addr.to_string();
        s.vault.token = Secret::new(ROOT_TOKEN);
        s
    };
    let clock = || std::sync::Arc::new(tessera::clock::ManualClock::new(T0));

    // Two starts on one database: the second decrypts the keys the first created, so both
    // read the same key from OpenBao, and no key file was written.
    for _ in 0..2 {
        let app = tessera::app::App::build(settings(&bao.addr), clock())
            .await
            .unwrap();
        drop(app);
    }
    assert!(
        !std::path::Path::new(&settings(&bao.addr).master_key_file).exists(),
        "no master key file is generated when OpenBao holds the key"
    );

    // A wrong field, then OpenBao gone: the start stops with a clear error, never a new key.
    let mut wrong = settings(&bao.addr);
    wrong.master_key_vault = "secret/tessera/node#nope".into();
    let err = tessera::app::App::build(wrong, clock()).await.unwrap_err();
    assert!(err.to_string().contains("master_key_vault"), "{err}");
    let addr = bao.addr.clone();
    bao.stop();
    let err = tessera::app::App::build(settings(&addr), clock())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unreachable"), "{text}");
    assert!(!text.contains(&key), "the key is never in an error");
}
