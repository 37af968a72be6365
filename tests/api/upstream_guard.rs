//! The address guard on upstream provider requests (SPEC §7.1): an issuer on a non-public
//! address is refused at registration (400, pointer `/issuer`, nothing stored); discovery,
//! JWKS and token-endpoint requests never connect to a non-public address outside
//! `upstream.allowed_networks` — checked on the address connected, so a registration that
//! passed, a discovery document naming another address, or a redirect all still stop there.
//! A `Target` listener counts connections to prove that nothing reached it.

use crate::helpers::*;
use crate::idp::{key, Idp, IDP_CLIENT_ID};
use crate::login_helpers::*;
use crate::per_engine;
use crate::tenant_api::acme;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tessera::clock::Clock;
use tessera::keys::signer::Alg;

/// A listener that counts the connections it accepts and closes them unanswered.
struct Target {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    async fn on(ip: &str) -> Target {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let c = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Target {
            addr,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn register(app: &TestApp, tenant: &str, issuer: &str) -> reqwest::Response {
    app.admin_post(
        &format!("/admin/v1/tenants/{tenant}/upstreams"),
        json!({"issuer": issuer, "client_id": IDP_CLIENT_ID}),
    )
    .await
}

async fn upstream_count(app: &TestApp, tenant: &str) -> usize {
    let v: Value = app
        .admin_get(&format!("/admin/v1/tenants/{tenant}/upstreams"))
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().len()
}

/// Registration is refused for `issuer`: 400, pointer `/issuer`, nothing stored.
async fn assert_refused(app: &TestApp, issuer: &str) {
    let v = problem(register(app, "default", issuer).await, 400).await;
    assert_eq!(pointers(&v), ["/issuer"], "{issuer}: {v}");
    assert_eq!(v["karmoCode"], "40000103", "{v}");
    assert_eq!(upstream_count(app, "default").await, 0, "{issuer}");
}

/// Spawns a server with `allowed` as `upstream.allowed_networks`.
async fn spawn_allowing(engine: Engine, allowed: &[&str]) -> Option<TestApp> {
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    spawn_app_with(engine, move |s| s.upstream.allowed_networks = allowed).await
}

async fn a_loopback_issuer_is_refused_at_registration_without_an_allowance(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &[]).await else {
        return;
    };
    let target = Target::on("127.0.0.1").await;
    let port = target.addr.port();
    for issuer in [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("https://0x7f.1:{port}"),
        "https://169.254.169.254".to_string(),
        "https://10.1.2.3".to_string(),
        "https://[fd00::1]".to_string(),
        // Plain http is for allowed networks only, even to a public address.
        "http://8.8.8.8".to_string(),
    ] {
        assert_refused(&app, &issuer).await;
    }
    assert_eq!(target.connections(), 0, "registration fetched nothing");
    let events = app.audit_events("limit=1000").await;
    assert!(!events
        .iter()
        .any(|e| e["event"] == "admin.upstream.created"));
}

async fn an_issuer_whose_name_resolves_to_loopback_is_refused_at_registration(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &[]).await else {
        return;
    };
    let target = Target::on("127.0.0.1").await;
    let port = target.addr.port();
    assert_refused(&app, &format!("https://localhost:{port}")).await;
    assert_refused(&app, &format!("http://localhost:{port}")).await;
    assert_eq!(target.connections(), 0);
    // A public https issuer (a name that does not resolve here is checked again at connect).
    let r = register(&app, "default", "https://idp.example").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn the_allowed_networks_admit_only_what_they_contain(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &["127.0.0.1/32"]).await else {
        return;
    };
    let r = register(&app, "default", "http://127.0.0.1:9").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let v = problem(register(&app, "default", "http://127.0.0.2:9").await, 400).await;
    assert_eq!(pointers(&v), ["/issuer"]);
    assert_eq!(upstream_count(&app, "default").await, 1);
}

/// The acme tenant (user bob) trusts `idp`: a bearer of the calling client and an ID token
/// for bob.
async fn trusted_by_acme(app: &TestApp, idp: &Idp) -> (String, String) {
    let (_, plain) = acme(app).await;
    let k = key("k1", Alg::ES256);
    idp.publish(&k);
    let r = register(app, "acme", &idp.issuer).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let bearer = app.access_token(&plain, None).await;
    let id_token = idp.sign(&k, &idp.claims("bob@acme.example", app.clock.now()));
    (bearer, id_token)
}

/// `POST {base}/auth/user/oidcToken`: (status, body).
async fn oidc_token(
    app: &TestApp,
    base: &str,
    (bearer, id_token): &(String, String),
) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{base}/auth/user/oidcToken"))
        .bearer_auth(bearer)
        .json(&json!({ "oidc_token": id_token }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// An oidcToken request for bob at `app`: (status, body).
async fn oidc_token_for_bob(app: &TestApp, idp: &Idp) -> (u16, Value) {
    let call = trusted_by_acme(app, idp).await;
    oidc_token(app, &app.base, &call).await
}

async fn a_redirect_from_an_allowed_upstream_to_a_refused_address_is_not_followed(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &["127.0.0.1/32"]).await else {
        return;
    };
    let target = Target::on("127.0.0.2").await;
    let idp = Idp::start().await;
    // The JWKS "moved" to an address outside the allowed networks.
    idp.name_in_discovery("jwks_uri", &format!("{}/moved", idp.issuer));
    idp.move_to(&format!("http://{}/jwks", target.addr));
    let (status, v) = oidc_token_for_bob(&app, &idp).await;
    assert_eq!(
        (status, v["karmoCode"].as_str()),
        (503, Some("50300901")),
        "{v}"
    );
    assert!(idp.requests() >= 2, "discovery and /moved were asked");
    assert_eq!(target.connections(), 0, "the redirect was not followed");
}

async fn a_jwks_uri_on_a_refused_address_is_refused_without_connecting(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &["127.0.0.1/32"]).await else {
        return;
    };
    let target = Target::on("127.0.0.2").await;
    let idp = Idp::start().await;
    idp.name_in_discovery("jwks_uri", &format!("http://{}/jwks", target.addr));
    let (status, v) = oidc_token_for_bob(&app, &idp).await;
    assert_eq!(
        (status, v["karmoCode"].as_str()),
        (503, Some("50300901")),
        "{v}"
    );
    assert_eq!(idp.jwks_fetches(), 0);
    assert_eq!(target.connections(), 0);
}

async fn an_upstream_registered_while_allowed_is_refused_at_connect_time_once_the_allowance_is_gone(
    engine: Engine,
) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    // Registered by name while loopback was allowed; then a node starts without the allowance.
    let idp = Idp::start_named("localhost").await;
    let call = trusted_by_acme(&app, &idp).await;
    let restarted = app
        .spawn_peer_with(|s| s.upstream.allowed_networks.clear())
        .await;
    let (status, v) = oidc_token(&app, &restarted.base, &call).await;
    assert_eq!(
        (status, v["karmoCode"].as_str()),
        (503, Some("50300901")),
        "{v}"
    );
    assert_eq!(idp.requests(), 0, "no request reached the provider");
    // The node that still allows loopback reaches it with the same token.
    let (status, v) = oidc_token(&app, &app.base, &call).await;
    assert_eq!(status, 200, "{v}");
    assert!(idp.requests() >= 2);
}

async fn a_token_endpoint_on_a_refused_address_is_never_posted_to(engine: Engine) {
    let Some(app) = spawn_allowing(engine, &["127.0.0.1/32"]).await else {
        return;
    };
    let target = Target::on("127.0.0.2").await;
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "ann@example.com", T0);
    idp.name_in_discovery("token_endpoint", &format!("http://{}/token", target.addr));
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"id": "corp", "issuer": idp.issuer, "client_id": IDP_CLIENT_ID, "name": "Corp SSO"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    login_client(&app, "default", "spa", json!({})).await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &app,
        "spa",
        &[
            ("scope", "openid email"),
            ("state", "s-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let mut b = Browser::new();
    let page = b.get(&url).await.text().await.unwrap();
    let form = &page[page.find("action=\"/login/upstream\"").unwrap()..];
    let out = b
        .post(
            &app.url("/login/upstream"),
            &[
                ("csrf", &hidden(form, "csrf").unwrap()),
                ("request", &hidden(form, "request").unwrap()),
                ("upstream", "corp"),
            ],
        )
        .await;
    assert_eq!(out.status(), 303);
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    assert_eq!(back.status(), 303, "the provider sends the browser back");
    let callback = back.headers()["location"]
        .to_str()
        .unwrap()
        .replacen(ISSUER, &app.url(""), 1);
    let done = b.get(&callback).await;
    assert_eq!(done.status(), 503);
    assert_eq!(target.connections(), 0, "the code was not posted there");
    assert_eq!(idp.redeemed(), 0);
    assert!(!b.cookies.contains_key("tessera_session"));
}

per_engine!(
    a_loopback_issuer_is_refused_at_registration_without_an_allowance,
    an_issuer_whose_name_resolves_to_loopback_is_refused_at_registration,
    the_allowed_networks_admit_only_what_they_contain,
    a_redirect_from_an_allowed_upstream_to_a_refused_address_is_not_followed,
    a_jwks_uri_on_a_refused_address_is_refused_without_connecting,
    an_upstream_registered_while_allowed_is_refused_at_connect_time_once_the_allowance_is_gone,
    a_token_endpoint_on_a_refused_address_is_never_posted_to,
);
