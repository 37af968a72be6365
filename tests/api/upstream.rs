//! Upstream ID tokens from a real in-process OpenID provider: `/auth/{user,admin}/oidcToken`
//! and RFC 8693 token exchange; key rotation, the refetch limit, and every kind of bad token
//! (expired, wrong audience, `alg: none`, HMAC key confusion, foreign issuer) refused.

use crate::helpers::*;
use crate::idp::{hmac_with_public_key, key, unsigned, Idp, IDP_CLIENT_ID};
use crate::per_engine;
use crate::tenant_api::{acme, post_json};
use serde_json::{json, Value};
use tessera::clock::Clock;
use tessera::keys::signer::Alg;

const TX: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

async fn trust(app: &TestApp, idp: &Idp) {
    let r = app
        .admin_post(
            "/admin/v1/tenants/acme/upstreams",
            json!({"id": "idp", "issuer": idp.issuer, "client_id": IDP_CLIENT_ID}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn oidc(app: &TestApp, route: &str, bearer: &str, id_token: &str) -> (u16, Value) {
    post_json(
        app,
        route,
        json!({ "oidc_token": id_token }),
        Some(&format!("Bearer {bearer}")),
    )
    .await
}

async fn oidc_tokens_from_a_trusted_provider_become_user_and_admin_tokens(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    let (adm, plain) = acme(&app).await;
    let idp = Idp::start().await;
    let (rsa, ec) = (key("rsa-1", Alg::RS256), key("ec-1", Alg::ES256));
    idp.publish(&rsa);
    idp.publish(&ec);
    trust(&app, &idp).await;
    let now = app.clock.now();
    let app_bearer = app.access_token(&plain, None).await;
    let admin_bearer = app.access_token(&adm, None).await;
    let user = "/auth/user/oidcToken";
    let admin = "/auth/admin/oidcToken";
    for k in [&rsa, &ec] {
        let id = idp.sign(k, &idp.claims("bob@acme.example", now));
        let (st, v) = oidc(&app, user, &app_bearer, &id).await;
        assert_eq!(st, 200, "{:?}: {v}", k.alg);
        let (_, c) = decode_jwt(v["access_token"].as_str().unwrap());
        assert_eq!(c["token_use"], "user");
        assert_eq!(c["email"], "bob@acme.example");
        assert_eq!(c["client_id"], "acme-app");
        assert_eq!(c["tenant_id"], "acme");
        assert_eq!(c["scope"], "x profile docs:read docs:write");
    }
    let ann = idp.sign(&rsa, &idp.claims("ann@acme.example", now));
    let (st, v) = oidc(&app, admin, &admin_bearer, &ann).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        decode_jwt(v["access_token"].as_str().unwrap()).1["token_use"],
        "admin"
    );
    // Admin route: a client without admin_tokens, a user without the admin role.
    let (st, v) = oidc(&app, admin, &app_bearer, &ann).await;
    assert_eq!((st, v["karmoCode"].as_str()), (403, Some("40300203")));
    let bob = idp.sign(&rsa, &idp.claims("bob@acme.example", now));
    let (st, v) = oidc(&app, admin, &admin_bearer, &bob).await;
    assert_eq!((st, v["karmoCode"].as_str()), (403, Some("40300207")));
    // Unknown and disabled users, unverified e-mail.
    let ghost = idp.sign(&rsa, &idp.claims("ghost@acme.example", now));
    assert_eq!(
        oidc(&app, user, &app_bearer, &ghost).await.1["karmoCode"],
        "40400304"
    );
    let carl = idp.sign(&rsa, &idp.claims("carl@acme.example", now));
    assert_eq!(
        oidc(&app, user, &app_bearer, &carl).await.1["karmoCode"],
        "40300402"
    );
    let mut c = idp.claims("bob@acme.example", now);
    c["email_verified"] = json!(false);
    let (st, v) = oidc(&app, user, &app_bearer, &idp.sign(&rsa, &c)).await;
    assert_eq!((st, v["karmoCode"].as_str()), (401, Some("40100601")));
    // The bearer: required, must be ours and unexpired.
    let (st, v) = post_json(&app, user, json!({"oidc_token": bob}), None).await;
    assert_eq!((st, v["karmoCode"].as_str()), (401, Some("40100208")));
    let (st, _) = oidc(&app, user, "a.b.c", &bob).await;
    assert_eq!(st, 401);
    let (st, v) = post_json(&app, user, json!({}), Some(&format!("Bearer {app_bearer}"))).await;
    assert_eq!(
        (st, v["karmoErrors"][0]["pointer"].as_str()),
        (400, Some("/oidc_token"))
    );
    let events = app.audit_events("tenant=acme&limit=200").await;
    assert!(events
        .iter()
        .any(|e| e["event"] == "token.refused" && e["outcome"] == "failure:40100601"));
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&bob) && !all.contains(&app_bearer));
}

async fn bad_upstream_tokens_are_refused_with_401(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    let (_, plain) = acme(&app).await;
    let idp = Idp::start().await;
    let rsa = key("rsa-1", Alg::RS256);
    let ec = key("ec-1", Alg::ES256);
    idp.publish(&rsa);
    idp.publish(&ec);
    trust(&app, &idp).await;
    let stranger = Idp::start().await;
    let foreign_key = key("rsa-x", Alg::RS256);
    stranger.publish(&foreign_key);
    let now = app.clock.now();
    let bearer = app.access_token(&plain, None).await;
    let good = idp.claims("bob@acme.example", now);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let tampered = {
        let t = idp.sign(&rsa, &good);
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = tessera::crypto::b64url(
            with("email", json!("ann@acme.example"))
                .to_string()
                .as_bytes(),
        );
        parts.join(".")
    };
    // An ES256 token claiming the RSA key's kid: a key only verifies its own algorithm.
    let confused_kid = {
        let other = key("rsa-1", Alg::ES256);
        idp.sign(&other, &good)
    };
    let cases: Vec<(&str, String)> = vec![
        ("expired", idp.sign(&rsa, &with("exp", json!(now - 61)))),
        (
            "issued in the future",
            idp.sign(&rsa, &with("iat", json!(now + 120))),
        ),
        (
            "not yet valid",
            idp.sign(&rsa, &with("nbf", json!(now + 120))),
        ),
        (
            "no exp",
            idp.sign(&rsa, &{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "wrong audience",
            idp.sign(&rsa, &with("aud", json!("someone-else"))),
        ),
        ("alg none", unsigned(&good)),
        (
            "HS256 keyed with the public key",
            hmac_with_public_key(&rsa, &good),
        ),
        ("ES256 under an RS256 kid", confused_kid),
        ("tampered payload", tampered),
        (
            "foreign issuer",
            stranger.sign(&foreign_key, &stranger.claims("bob@acme.example", now)),
        ),
        (
            "foreign key claiming our issuer",
            idp.sign(&foreign_key, &good),
        ),
        ("no email", idp.sign(&rsa, &with("email", Value::Null))),
        ("garbage", "not-a-jwt".to_string()),
    ];
    for (what, token) in cases {
        let (st, v) = oidc(&app, "/auth/user/oidcToken", &bearer, &token).await;
        assert_eq!(
            (st, v["karmoCode"].as_str()),
            (401, Some("40100601")),
            "{what}: {v}"
        );
    }
    // Within the 60 s leeway an expired token is still accepted.
    let (st, v) = oidc(
        &app,
        "/auth/user/oidcToken",
        &bearer,
        &idp.sign(&ec, &with("exp", json!(now - 30))),
    )
    .await;
    assert_eq!(st, 200, "{v}");
}

async fn rotated_keys_are_refetched_but_unknown_kids_cannot_hammer_the_provider(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    let (_, plain) = acme(&app).await;
    let mut idp = Idp::start().await;
    let k1 = key("k1", Alg::RS256);
    idp.publish(&k1);
    trust(&app, &idp).await;
    let bearer = app.access_token(&plain, None).await;
    let route = "/auth/user/oidcToken";
    let now = app.clock.now();
    let (st, _) = oidc(
        &app,
        route,
        &bearer,
        &idp.sign(&k1, &idp.claims("bob@acme.example", now)),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(idp.jwks_fetches(), 1);
    // A flood of tokens naming unknown kids right after: no refetch within the limit.
    for i in 0..20 {
        let k = key(&format!("bogus-{i}"), Alg::ES256);
        let (st, _) = oidc(
            &app,
            route,
            &bearer,
            &idp.sign(&k, &idp.claims("bob@acme.example", now)),
        )
        .await;
        assert_eq!(st, 401);
    }
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "unknown kids must not hammer the provider"
    );
    // The provider rotates: k2 appears in its JWKS after ours was cached.
    let k2 = key("k2", Alg::ES256);
    idp.publish(&k2);
    app.clock.advance(11);
    let now = app.clock.now();
    let (st, v) = oidc(
        &app,
        route,
        &bearer,
        &idp.sign(&k2, &idp.claims("bob@acme.example", now)),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(idp.jwks_fetches(), 2);
    for i in 0..10 {
        let k = key(&format!("again-{i}"), Alg::RS256);
        oidc(
            &app,
            route,
            &bearer,
            &idp.sign(&k, &idp.claims("bob@acme.example", now)),
        )
        .await;
    }
    assert_eq!(idp.jwks_fetches(), 2);
    // Cached keys keep working while the provider is down; an unknown provider is a 503.
    idp.stop();
    let (st, _) = oidc(
        &app,
        route,
        &bearer,
        &idp.sign(&k1, &idp.claims("bob@acme.example", now)),
    )
    .await;
    assert_eq!(st, 200);
    let r = app
        .admin_post(
            "/admin/v1/tenants/acme/upstreams",
            json!({"id": "down", "issuer": "http://127.0.0.1:9", "client_id": IDP_CLIENT_ID}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mut c = idp.claims("bob@acme.example", now);
    c["iss"] = json!("http://127.0.0.1:9");
    let (st, v) = oidc(&app, route, &bearer, &idp.sign(&k1, &c)).await;
    assert_eq!(
        (st, v["karmoCode"].as_str()),
        (503, Some("50300901")),
        "{v}"
    );
}

async fn token_exchange_trades_a_trusted_id_token_for_a_user_token(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    acme(&app).await;
    let idp = Idp::start().await;
    let k = key("k1", Alg::ES256);
    idp.publish(&k);
    trust(&app, &idp).await;
    let tx = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-tx", "name": "tx", "project_id": "p1", "grant_types": [TX], "scopes": []}),
        )
        .await;
    let cc = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-cc", "name": "cc", "grant_types": ["client_credentials"], "scopes": []}),
        )
        .await;
    let now = app.clock.now();
    let id = idp.sign(&k, &idp.claims("bob@acme.example", now));
    let exchange = |c: &TestClient, extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", TX.to_string()),
            ("subject_token", id.clone()),
            ("subject_token_type", ID_TOKEN.to_string()),
        ];
        for (k, v) in extra {
            form.retain(|(fk, _)| *fk != k);
            form.push((k, v));
        }
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&form)
    };
    let r = exchange(&tx, vec![]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "x profile docs:read docs:write");
    let (_, c) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(c["token_use"], "user");
    assert_eq!(c["client_id"], "acme-tx");
    assert_eq!(c["email"], "bob@acme.example");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        v["expires_in"].as_i64().unwrap()
    );
    // scope narrows to what the user holds.
    let v: Value = exchange(&tx, vec![("scope", "docs:read".into())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["scope"], "docs:read");
    let r = exchange(&tx, vec![("scope", "docs:admin".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    // Refusals: a client without the grant, a wrong token type, a bad subject token.
    let r = exchange(&cc, vec![]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let r = exchange(
        &tx,
        vec![(
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token".into(),
        )],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let mut expired = idp.claims("bob@acme.example", now);
    expired["exp"] = json!(now - 100);
    for bad in [
        idp.sign(&k, &expired),
        unsigned(&idp.claims("bob@acme.example", now)),
    ] {
        let r = exchange(&tx, vec![("subject_token", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
    let r = exchange(
        &tx,
        vec![(
            "subject_token",
            idp.sign(&k, &idp.claims("ghost@acme.example", now)),
        )],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // Unauthenticated: invalid_client.
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", TX),
            ("subject_token", id.as_str()),
            ("subject_token_type", ID_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

per_engine!(
    oidc_tokens_from_a_trusted_provider_become_user_and_admin_tokens,
    bad_upstream_tokens_are_refused_with_401,
    rotated_keys_are_refetched_but_unknown_kids_cannot_hammer_the_provider,
    token_exchange_trades_a_trusted_id_token_for_a_user_token,
);
