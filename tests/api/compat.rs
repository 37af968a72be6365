//! The compatible token APIs (SPEC §3.1, §3.2, §3.4): wire shapes, dialects, karmoCodes and
//! pointers, JSON/form and Basic/body equivalence, tokens verified against the JWKS.

use crate::both_engines;
use crate::helpers::*;
use serde_json::{json, Value};

const INTERNAL: &str = "/v1/auth/token";
const PARTNER: &str = "/v1/oauth/token";
const IDENTITY: &str = "/api/id/v1/auth/token";

/// Registers a service with a secret binding; returns its secret.
pub async fn service_with_secret(app: &TestApp, name: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "bindings": [{"type": "secret"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.admin_post("/admin/v1/services", body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    v["secret"].as_str().unwrap().to_string()
}

/// A client of the partner profile.
async fn partner_client(app: &TestApp, id: &str) -> TestClient {
    app.create_client_in(
        "default",
        json!({"client_id": id, "name": id, "profile": "partner",
               "grant_types": ["client_credentials"], "scopes": []}),
    )
    .await
}

/// How a request body is encoded.
#[derive(Clone, Copy)]
enum Body {
    Form,
    Json,
}

/// `grant_type=client_credentials` with `client_id` and `client_secret` in the body.
async fn client_credentials_in_body(
    app: &TestApp,
    route: &str,
    c: &TestClient,
    body: Body,
) -> reqwest::Response {
    let req = app.http.post(app.url(route));
    let req = match body {
        Body::Form => req.form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ]),
        Body::Json => req.json(
            &json!({"grant_type": "client_credentials", "client_id": c.id, "client_secret": c.secret}),
        ),
    };
    req.send().await.unwrap()
}

/// Asserts a 200 token answer of exactly `{"access_token","token_type","expires_in"}`.
async fn compat_token(r: reqwest::Response) -> Value {
    let status = r.status();
    let cache = r.headers().get("cache-control").cloned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(cache.unwrap(), "no-store");
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"], "{v}");
    assert_eq!(v["token_type"], "Bearer");
    v
}

async fn a_service_gets_a_service_token_by_basic_with_json_or_form_bodies(app: TestApp) {
    let secret = service_with_secret(&app, "orders", json!({})).await;
    let post = || {
        app.http
            .post(app.url(INTERNAL))
            .basic_auth("orders", Some(&secret))
    };
    let from_json = compat_token(post().json(&json!({})).send().await.unwrap()).await;
    let from_form = compat_token(post().form(&[("x", "y")]).send().await.unwrap()).await;
    for v in [&from_json, &from_form] {
        assert_eq!(v["expires_in"], 900);
        let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["sub"], "orders");
        assert_eq!(claims["client_id"], "orders");
        assert_eq!(claims["token_use"], "service");
        assert_eq!(claims["aud"], "pouch-services");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );
        assert!(claims.get("tenant_id").is_none());
    }
}

async fn a_service_ttl_narrows_the_service_profile_but_never_widens_it(app: TestApp) {
    let secret = service_with_secret(&app, "quick", json!({"ttl": 300})).await;
    let r = app
        .http
        .post(app.url(INTERNAL))
        .basic_auth("quick", Some(&secret))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(compat_token(r).await["expires_in"], 300);

    let r = app
        .admin_post(
            "/admin/v1/services",
            json!({"name": "slow", "ttl": 901, "audiences": ["elsewhere"], "bindings": [{"type": "secret"}]}),
        )
        .await;
    let v = problem(r, 400).await;
    assert_eq!(v["karmoCode"], "40000103");
    assert_eq!(pointers(&v), ["/ttl", "/audiences"]);
}

async fn an_unauthenticated_service_call_is_a_401_problem_that_reveals_nothing(app: TestApp) {
    let secret = service_with_secret(&app, "orders", json!({})).await;
    let r = app
        .http
        .post(app.url(INTERNAL))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let v = problem(r, 401).await;
    assert_eq!(v["karmoCode"], "40100209");
    assert_eq!(v["instance"], INTERNAL);

    let mut answers = Vec::new();
    for (name, pw) in [("orders", "wrong-secret"), ("ghost", secret.as_str())] {
        let r = app
            .http
            .post(app.url(INTERNAL))
            .basic_auth(name, Some(pw))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"tessera\"");
        answers.push(problem(r, 401).await);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["karmoCode"], "40100209");
}

async fn client_credentials_on_the_internal_api_gives_the_same_partner_token_from_json_or_form(
    app: TestApp,
) {
    let c = partner_client(&app, "acme-partner").await;
    let json_r = client_credentials_in_body(&app, INTERNAL, &c, Body::Json).await;
    let form_r = client_credentials_in_body(&app, INTERNAL, &c, Body::Form).await;
    for v in [compat_token(json_r).await, compat_token(form_r).await] {
        assert_eq!(v["expires_in"], 3600);
        let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["sub"], "acme-partner");
        assert_eq!(claims["token_use"], "partner");
        assert_eq!(claims["aud"], "partners-api");
    }
}

async fn the_internal_api_answers_field_and_grant_errors_with_pointers(app: TestApp) {
    let c = partner_client(&app, "p1").await;
    let send = |body: Value| app.http.post(app.url(INTERNAL)).json(&body).send();

    let v = problem(send(json!({"grant_type": "password"})).await.unwrap(), 400).await;
    assert_eq!(
        (v["karmoCode"].as_str(), pointers(&v)),
        (Some("40000104"), vec!["/grant_type".to_string()])
    );

    let body = json!({"grant_type": "client_credentials", "client_secret": c.secret});
    let v = problem(send(body).await.unwrap(), 400).await;
    assert_eq!(
        (v["karmoCode"].as_str(), pointers(&v)),
        (Some("40000102"), vec!["/client_id".to_string()])
    );

    let v = problem(
        send(json!({"grant_type": "client_credentials"}))
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(pointers(&v), ["/client_id", "/client_secret"]);

    let body =
        json!({"grant_type": "client_credentials", "client_id": c.id, "client_secret": "nope"});
    let v = problem(send(body).await.unwrap(), 401).await;
    assert_eq!(v["karmoCode"], "40100201");

    let v = problem(
        send(json!({"grant_type": 5, "x": {"y": 1}})).await.unwrap(),
        400,
    )
    .await;
    assert_eq!(v["karmoCode"], "40000103");
}

async fn a_client_outside_the_partner_profile_is_not_allowed_this_grant(app: TestApp) {
    let c = app.create_client("plain").await;
    let r = client_credentials_in_body(&app, INTERNAL, &c, Body::Form).await;
    assert_eq!(problem(r, 400).await["karmoCode"], "40000203");
    let r = app
        .http
        .post(app.url(PARTNER))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v = problem(r, 400).await;
    assert_eq!(v["karmoCode"], "40000203");
    assert_eq!(v["title"], "client not allowed this grant");
}

async fn the_partner_api_gives_the_same_token_for_basic_or_body_credentials(app: TestApp) {
    let c = partner_client(&app, "acme").await;
    let basic = app
        .http
        .post(app.url(PARTNER))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body_form = client_credentials_in_body(&app, PARTNER, &c, Body::Form).await;
    let body_json = client_credentials_in_body(&app, PARTNER, &c, Body::Json).await;
    for r in [basic, body_form, body_json] {
        let v = compat_token(r).await;
        assert_eq!(v["expires_in"], 3600);
        let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
        assert_eq!(
            (&claims["sub"], &claims["token_use"], &claims["aud"]),
            (&json!("acme"), &json!("partner"), &json!("partners-api"))
        );
    }
}

async fn the_partner_api_requires_the_client_credentials_grant(app: TestApp) {
    let c = partner_client(&app, "acme").await;
    let send = |form: Vec<(&'static str, &'static str)>| {
        app.http
            .post(app.url(PARTNER))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&form)
            .send()
    };
    let v = problem(send(vec![]).await.unwrap(), 400).await;
    assert_eq!(
        (v["karmoCode"].as_str(), pointers(&v)),
        (Some("40000102"), vec!["/grant_type".to_string()])
    );
    let v = problem(
        send(vec![("grant_type", "authorization_code")])
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(
        (v["karmoCode"].as_str(), pointers(&v)),
        (Some("40000104"), vec!["/grant_type".to_string()])
    );
    let r = app
        .http
        .post(app.url(PARTNER))
        .basic_auth(&c.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"tessera\"");
    assert_eq!(problem(r, 401).await["karmoCode"], "40100201");
}

async fn the_same_failure_has_the_same_karmo_code_on_every_problem_route(app: TestApp) {
    let huge = "x".repeat(70 * 1024);
    for route in [INTERNAL, PARTNER] {
        let post = || app.http.post(app.url(route));
        let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
            (
                post().json(&json!({"grant_type": "password"})),
                400,
                "40000104",
            ),
            (
                post()
                    .header("content-type", "application/json")
                    .body("{oops"),
                400,
                "40000101",
            ),
            (
                post().header("content-type", "text/plain").body("hi"),
                400,
                "40000107",
            ),
            (
                post()
                    .body("grant_type=a&grant_type=b")
                    .header("content-type", "application/x-www-form-urlencoded"),
                400,
                "40000108",
            ),
            (
                post().form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "ghost"),
                    ("client_secret", "x"),
                ]),
                401,
                "40100201",
            ),
            (
                post().form(&[("grant_type", huge.as_str())]),
                413,
                "41300701",
            ),
        ];
        for (req, status, code) in cases {
            let v = problem(req.send().await.unwrap(), status).await;
            assert_eq!(v["karmoCode"], code, "{route}: {v}");
            assert_eq!(v["instance"], route);
        }
    }
}

async fn the_identity_api_echoes_the_scope_and_puts_it_in_scp(app: TestApp) {
    let c = app.create_client("id-client").await;
    let r = app
        .http
        .post(app.url(IDENTITY))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "write read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("{\"scope\":\"write read\",\"token_type\":\"Bearer\",\"access_token\":"),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["expires_in"], 3600);
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["scp"], "write read");
    assert_eq!(claims["scope"], "write read");
    assert_eq!(claims["sub"], "id-client");

    // Without a scope: the client's defaults, echoed the same way.
    let r = app
        .http
        .post(app.url(IDENTITY))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "read");
    assert_eq!(
        decode_jwt(v["access_token"].as_str().unwrap()).1["scp"],
        "read"
    );
}

async fn the_identity_api_answers_every_error_in_its_own_dialect(app: TestApp) {
    let c = app.create_client("id-err").await;
    let with_basic = |form: Vec<(&'static str, &'static str)>| {
        app.http
            .post(app.url(IDENTITY))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&form)
            .send()
    };
    // Credentials in the body instead of Basic.
    let r = app
        .http
        .post(app.url(IDENTITY))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"tessera\"");
    assert_eq!(id_api_error(r, 401).await, "invalid_client");
    // No credentials at all.
    let r = app
        .http
        .post(app.url(IDENTITY))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(id_api_error(r, 401).await, "invalid_client");
    // A wrong secret.
    let r = app
        .http
        .post(app.url(IDENTITY))
        .basic_auth(&c.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(id_api_error(r, 401).await, "invalid_client");
    // JSON is not accepted here.
    let r = app
        .http
        .post(app.url(IDENTITY))
        .basic_auth(&c.id, Some(&c.secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(id_api_error(r, 400).await, "invalid_request");
    let cases = [
        (vec![], "invalid_request"),
        (
            // A client not registered for the code grant.
            vec![("grant_type", "authorization_code"), ("code", "abc")],
            "unauthorized_client",
        ),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (
            vec![("grant_type", "client_credentials"), ("scope", "admin")],
            "invalid_scope",
        ),
    ];
    for (form, error) in cases {
        assert_eq!(
            id_api_error(with_basic(form).await.unwrap(), 400).await,
            error
        );
    }
}

async fn issued_tokens_and_refusals_are_audited_and_counted_by_route(app: TestApp) {
    let secret = service_with_secret(&app, "orders", json!({})).await;
    let partner = partner_client(&app, "acme").await;
    let r = app
        .http
        .post(app.url(INTERNAL))
        .basic_auth("orders", Some(&secret))
        .json(&json!({}))
        .send();
    compat_token(r.await.unwrap()).await;
    let r = app
        .http
        .post(app.url(PARTNER))
        .basic_auth(&partner.id, Some(&partner.secret));
    compat_token(
        r.form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let r = app
        .http
        .post(app.url(PARTNER))
        .form(&[("grant_type", "password"), ("client_id", "acme")]);
    problem(r.send().await.unwrap(), 400).await;

    let events = app.audit_events("limit=1000").await;
    let issued_to_orders = events
        .iter()
        .any(|e| e["event"] == "token.issued" && e["subject"] == "orders" && e["jti"].is_string());
    let refused = events
        .iter()
        .find(|e| e["event"] == "token.refused")
        .unwrap();
    assert!(issued_to_orders, "{events:?}");
    assert_eq!(refused["outcome"], "failure:unsupported_grant_type");
    assert_eq!(refused["client_id"], "acme");
    assert_eq!(refused["subject"], PARTNER);
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&secret) && !all.contains(&partner.secret));

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"tessera_tokens_issued_total{grant="service",route="/v1/auth/token"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/v1/oauth/token"}"#), "{metrics}");
}

both_engines!(
    a_service_gets_a_service_token_by_basic_with_json_or_form_bodies,
    a_service_ttl_narrows_the_service_profile_but_never_widens_it,
    an_unauthenticated_service_call_is_a_401_problem_that_reveals_nothing,
    client_credentials_on_the_internal_api_gives_the_same_partner_token_from_json_or_form,
    the_internal_api_answers_field_and_grant_errors_with_pointers,
    a_client_outside_the_partner_profile_is_not_allowed_this_grant,
    the_partner_api_gives_the_same_token_for_basic_or_body_credentials,
    the_partner_api_requires_the_client_credentials_grant,
    the_same_failure_has_the_same_karmo_code_on_every_problem_route,
    the_identity_api_echoes_the_scope_and_puts_it_in_scp,
    the_identity_api_answers_every_error_in_its_own_dialect,
    issued_tokens_and_refusals_are_audited_and_counted_by_route,
);
