use crate::both_engines;
use crate::helpers::*;
use serde_json::{json, Value};

async fn an_active_token_introspects_with_its_claims_until_it_expires(app: TestApp) {
    let c = app.create_client("intro").await;
    let token = app.access_token(&c, Some("read write")).await;
    let v = introspect(&app, &c, &token).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "intro");
    assert_eq!(v["scope"], "read write");
    assert_eq!(v["iss"], ISSUER);
    app.clock.advance(3600);
    assert_eq!(introspect(&app, &c, &token).await, json!({"active": false}));
}

async fn garbage_and_foreign_tokens_are_inactive(app: TestApp) {
    let c = app.create_client("intro2").await;
    for t in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "",
    ] {
        if t.is_empty() {
            continue;
        }
        assert_eq!(
            introspect(&app, &c, t).await,
            json!({"active": false}),
            "{t}"
        );
    }
    // A token signed by a key that is not ours.
    let (key, _) =
        tessera::keys::signer::SigningKey::generate("x".into(), tessera::keys::signer::Alg::RS256)
            .unwrap();
    let forged = key
        .sign_jwt(
            tessera::keys::signer::Typ::AccessToken,
            json!({"iss": ISSUER, "sub": "intro2", "exp": T0 + 100, "jti": "f"})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        introspect(&app, &c, &forged).await,
        json!({"active": false})
    );
}

async fn a_client_outside_default_sees_other_tenants_tokens_as_inactive(app: TestApp) {
    app.create_tenant("acme").await;
    let acme = app.create_client_in("acme", json!({"client_id": "acme-c", "name": "x", "grant_types": ["client_credentials"], "scopes": []})).await;
    let dflt = app.create_client("dflt-c").await;
    let default_token = app.access_token(&dflt, None).await;
    let acme_token = app.access_token(&acme, None).await;
    assert_eq!(
        introspect(&app, &acme, &default_token).await["active"],
        false
    );
    assert_eq!(introspect(&app, &acme, &acme_token).await["active"], true);
    assert_eq!(
        introspect(&app, &dflt, &acme_token).await["active"],
        true,
        "default sees every tenant"
    );
}

async fn a_revoked_token_is_inactive_and_unknown_tokens_revoke_with_200(app: TestApp) {
    let c = app.create_client("rev").await;
    let token = app.access_token(&c, None).await;
    let revoke = |t: String| {
        app.http
            .post(app.url("/oauth/revoke"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", t)])
            .send()
    };
    assert_eq!(revoke(token.clone()).await.unwrap().status(), 200);
    assert_eq!(introspect(&app, &c, &token).await["active"], false);
    assert_eq!(revoke("unknown-token".into()).await.unwrap().status(), 200);
    // Remembered in the database, so every node sees it.
    let (_, claims) = decode_jwt(&token);
    assert!(app
        .tessera
        .store
        .is_jti_revoked(claims["jti"].as_str().unwrap())
        .await
        .unwrap());
}

async fn introspection_and_revocation_need_client_authentication(app: TestApp) {
    let c = app.create_client("needauth").await;
    let token = app.access_token(&c, None).await;
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let r = app
            .http
            .post(app.url(path))
            .form(&[("token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client");
        let r = app
            .http
            .post(app.url(path))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("nottoken", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
}

both_engines!(
    an_active_token_introspects_with_its_claims_until_it_expires,
    garbage_and_foreign_tokens_are_inactive,
    a_client_outside_default_sees_other_tenants_tokens_as_inactive,
    a_revoked_token_is_inactive_and_unknown_tokens_revoke_with_200,
    introspection_and_revocation_need_client_authentication,
);
