//! Tenant and privilege boundaries (SPEC §7.1): each test replays an attack an independent
//! review made against the release binary and shows it refused.

use crate::both_engines;
use crate::compat::service_with_secret;
use crate::helpers::*;
use crate::login_helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use tessera::keys::signer::{Alg, SigningKey, Typ};

/// A tenant with an admin client (`admin_tokens`); returns the client and a `tessera:admin`
/// token of it.
async fn tenant_admin(app: &TestApp, tenant: &str) -> (TestClient, String) {
    app.create_tenant(tenant).await;
    let c = app
        .create_client_in(
            tenant,
            json!({"client_id": format!("{tenant}-admin"), "name": "admin",
                   "grant_types": ["client_credentials"], "scopes": [], "admin_tokens": true}),
        )
        .await;
    let token = app.access_token(&c, Some("tessera:admin")).await;
    (c, token)
}

async fn bearer(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn revoke(app: &TestApp, asker: &TestClient, token: &str) -> u16 {
    app.http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&asker.id, Some(&asker.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_client_may_not_take_the_service_profile(app: TestApp) {
    service_with_secret(&app, "orders", json!({})).await;
    let (_, token) = tenant_admin(&app, "acme").await;
    let r = bearer(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/clients",
        &token,
        Some(
            json!({"client_id": "orders", "name": "fake", "profile": "service",
                    "grant_types": ["client_credentials"], "scopes": []}),
        ),
    )
    .await;
    let v = problem(r, 400).await;
    assert_eq!(pointers(&v), ["/profile"]);
    let r = app.admin_get("/admin/v1/tenants/acme/clients/orders").await;
    assert_eq!(r.status(), 404, "a refused request creates nothing");
    // Nor by a later PATCH, nor for the bootstrap token.
    app.create_client_in(
        "acme",
        json!({"client_id": "orders", "name": "x", "grant_types": ["client_credentials"], "scopes": []}),
    )
    .await;
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme/clients/orders",
            Some(json!({"profile": "service"})),
        )
        .await;
    assert_eq!(pointers(&problem(r, 400).await), ["/profile"]);
}

async fn a_client_revokes_only_the_tokens_issued_to_itself(app: TestApp) {
    let secret = service_with_secret(&app, "orders", json!({})).await;
    let r = app
        .http
        .post(app.url("/v1/auth/token"))
        .basic_auth("orders", Some(&secret))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let service_token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (acme_admin, _) = tenant_admin(&app, "acme").await;
    let acme_app = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-app", "name": "x", "grant_types": ["client_credentials"], "scopes": []}),
        )
        .await;
    let app_token = app.access_token(&acme_app, None).await;
    let root = app.create_client("root-app").await;
    let root_token = app.access_token(&root, None).await;
    // A tenant client, even one with admin rights, cannot revoke a service's token, another
    // client's token in its tenant, or another tenant's token: 200, and they stay valid.
    for token in [&service_token, &app_token, &root_token] {
        assert_eq!(revoke(&app, &acme_admin, token).await, 200);
        assert_eq!(introspect(&app, &root, token).await["active"], true);
    }
    // Its own token it can.
    let own = app.access_token(&acme_admin, None).await;
    assert_eq!(revoke(&app, &acme_admin, &own).await, 200);
    assert_eq!(introspect(&app, &root, &own).await["active"], false);
}

async fn a_disabled_tenants_admin_token_is_refused_and_cannot_enable_it_again(app: TestApp) {
    let (_, token) = tenant_admin(&app, "acme").await;
    // While active, a tenant admin still may not change its tenant's status.
    let r = bearer(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        &token,
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(problem(r, 403).await["karmoCode"], "40300206");
    let r = bearer(
        &app,
        Method::GET,
        "/admin/v1/tenants/acme/users",
        &token,
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    for (method, path, body) in [
        (Method::GET, "/admin/v1/tenants/acme/users", None),
        (
            Method::POST,
            "/admin/v1/tenants/acme/users",
            Some(json!({"email": "eve@acme.example", "roles": ["admin"]})),
        ),
        (
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(json!({"status": "active"})),
        ),
    ] {
        let r = bearer(&app, method, path, &token, body).await;
        assert_eq!(problem(r, 403).await["karmoCode"], "40300401", "{path}");
    }
    let tenant: Value = app
        .admin_get("/admin/v1/tenants/acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tenant["status"], "disabled");
    let users: Value = app
        .admin_get("/admin/v1/tenants/acme/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 0);
}

/// Tenant `acme` with an admin user (ann) and a public login client that may ask for
/// `tessera:admin`; returns ann's id and the token response of a full login.
async fn admin_user_login(app: &TestApp) -> (String, Value) {
    app.create_tenant("acme").await;
    let ann = create_user(app, "acme", "ann@acme.example", json!({"roles": ["admin"]})).await;
    login_client(
        app,
        "acme",
        "console",
        json!({"admin_tokens": true,
               "scopes": ["openid", "offline_access", "tessera:admin", "read"]}),
    )
    .await;
    let v = tokens_for(
        app,
        "console",
        "ann@acme.example",
        "openid offline_access tessera:admin",
    )
    .await;
    assert!(
        v["scope"].as_str().unwrap().contains("tessera:admin"),
        "{v}"
    );
    (ann, v)
}

async fn a_demoted_user_loses_admin_rights_on_its_tokens_and_their_refreshes(app: TestApp) {
    let (ann, v) = admin_user_login(&app).await;
    let access = v["access_token"].as_str().unwrap();
    let users = "/admin/v1/tenants/acme/users";
    assert_eq!(
        bearer(&app, Method::GET, users, access, None)
            .await
            .status(),
        200
    );
    let r = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/tenants/acme/users/{ann}"),
            Some(json!({"roles": []})),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The access token still in hand no longer administers anything.
    let r = bearer(
        &app,
        Method::POST,
        users,
        access,
        Some(json!({"email": "eve@acme.example", "roles": ["admin"]})),
    )
    .await;
    assert_eq!(problem(r, 403).await["karmoCode"], "40300207");
    // A refresh grants only what the user still holds.
    let (status, refreshed) = refresh(&app, "console", v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let scope = refreshed["scope"].as_str().unwrap();
    assert!(!scope.contains("tessera:admin"), "{scope}");
    assert!(scope.contains("openid"), "{scope}");
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        bearer(&app, Method::GET, users, new_access, None)
            .await
            .status(),
        401
    );
    // Asking for it by name does not bring it back and costs nothing: the refresh token
    // still works afterwards (a narrowed or refused refresh is no reuse).
    let rt = refreshed["refresh_token"].as_str().unwrap();
    let ask = |rt: String, scope: &'static str| {
        let app = &app;
        async move {
            token(
                app,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", "console"),
                    ("refresh_token", rt.as_str()),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let (status, e) = ask(rt.to_string(), "never-granted").await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")));
    let (status, e) = ask(rt.to_string(), "openid tessera:admin").await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["scope"], "openid");
}

async fn disabling_a_user_or_setting_its_password_ends_its_tokens_and_sessions(app: TestApp) {
    app.create_tenant("acme").await;
    let ann = create_user(&app, "acme", "ann@acme.example", json!({})).await;
    login_client(&app, "acme", "web", json!({})).await;
    let root = app.create_client("root-app").await;
    for change in [
        json!({"password": "a-new-password-1"}),
        json!({"status": "disabled"}),
    ] {
        app.admin(
            Method::PATCH,
            &format!("/admin/v1/tenants/acme/users/{ann}"),
            Some(json!({"status": "active", "password": PASSWORD})),
        )
        .await;
        let mut b = Browser::new();
        let (verifier, challenge) = pkce();
        let pk = [
            ("scope", "openid offline_access"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let code = login_for_code(&app, &mut b, "web", "ann@acme.example", &pk).await;
        let (status, v) = exchange(&app, "web", &code, &verifier).await;
        assert_eq!(status, 200, "{v}");
        let access = v["access_token"].as_str().unwrap();
        assert_eq!(introspect(&app, &root, access).await["active"], true);
        // A code issued before the change and kept for later.
        let pending = silent_code(&app, &mut b, "web", &pk).await;
        let r = app
            .admin(
                Method::PATCH,
                &format!("/admin/v1/tenants/acme/users/{ann}"),
                Some(change.clone()),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (status, e) = exchange(&app, "web", &pending, &verifier).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{change}"
        );
        assert_eq!(
            introspect(&app, &root, access).await["active"],
            false,
            "{change}"
        );
        let (status, e) = refresh(&app, "web", v["refresh_token"].as_str().unwrap()).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
        // The browser's session is gone: authorize shows the login page again.
        let r = b.get(&authorize_url(&app, "web", &pk)).await;
        assert_eq!(r.status(), 200, "{change}");
        assert!(r.text().await.unwrap().contains("password"));
    }
}

async fn login_flow_access_tokens_carry_the_users_email(app: TestApp) {
    app.create_tenant("acme").await;
    create_user(
        &app,
        "acme",
        "ann@acme.example",
        json!({"groups": ["g:ops"]}),
    )
    .await;
    login_client(&app, "acme", "web", json!({})).await;
    let v = tokens_for(&app, "web", "ann@acme.example", "openid offline_access").await;
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["email"], "ann@acme.example");
    assert_eq!(claims["groups"], json!(["g:ops"]));
    let (_, refreshed) = refresh(&app, "web", v["refresh_token"].as_str().unwrap()).await;
    let claims = verify_with_jwks(&app, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["email"], "ann@acme.example");
}

async fn a_client_switched_to_a_method_without_a_secret_accepts_its_old_secret_nowhere(
    app: TestApp,
) {
    let (adm, _) = crate::tenant_api::acme(&app).await;
    let generate = |auth: Option<String>, secret: Option<&str>| {
        let mut body = json!({"tenant_id": "acme", "project_id": "p1", "client_id": "acme-admin",
                              "email_id": "ann@acme.example"});
        if let Some(s) = secret {
            body["secret_id"] = json!(s);
        }
        let mut r = app
            .http
            .post(app.url("/auth/admin/generateToken"))
            .json(&body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let basic = format!(
        "Basic {}",
        tessera::crypto::b64(format!("{}:{}", adm.id, adm.secret).as_bytes())
    );
    assert_eq!(
        generate(None, Some(&adm.secret)).await.unwrap().status(),
        200
    );
    let (key, _) = SigningKey::generate("k1".into(), Alg::ES256).unwrap();
    for change in [
        json!({"token_endpoint_auth_method": "none"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk()]}}),
    ] {
        let r = app
            .admin(
                Method::PATCH,
                "/admin/v1/tenants/acme/clients/acme-admin",
                Some(change),
            )
            .await;
        assert_eq!(r.status(), 200);
        for r in [
            generate(None, Some(&adm.secret)).await.unwrap(),
            generate(Some(basic.clone()), None).await.unwrap(),
        ] {
            assert_eq!(problem(r, 401).await["karmoCode"], "40100201");
        }
        assert_eq!(
            app.token_basic(&adm, &[("grant_type", "client_credentials")])
                .await
                .status(),
            401
        );
    }
    // Switching back does not bring the old secret back: it was deleted.
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme/clients/acme-admin",
            Some(json!({"token_endpoint_auth_method": "client_secret_basic"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = generate(None, Some(&adm.secret)).await.unwrap();
    assert_eq!(problem(r, 401).await["karmoCode"], "40100201");
}

async fn a_tenant_admin_may_point_clients_only_at_its_own_vault_paths(app: TestApp) {
    let (_, token) = tenant_admin(&app, "acme").await;
    let create = |path: &str, id: &str| {
        json!({"client_id": id, "name": "v", "grant_types": ["client_credentials"], "scopes": [],
               "secret": {"vault": {"mount": "secret", "path": path, "field": "value"}}})
    };
    for (i, path) in [
        "tessera",
        "tessera/tenants/other/app",
        "tessera/tenants/acme",
        "tessera/tenants/acme/../other/app",
        "tessera/tenants/acme//app",
        "tessera/tenants/acmex/app",
    ]
    .iter()
    .enumerate()
    {
        let r = bearer(
            &app,
            Method::POST,
            "/admin/v1/tenants/acme/clients",
            &token,
            Some(create(path, &format!("v{i}"))),
        )
        .await;
        let v = problem(r, 400).await;
        assert_eq!(pointers(&v), ["/secret/vault/path"], "{path}");
    }
    let ok = bearer(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/clients",
        &token,
        Some(create("tessera/tenants/acme/app", "ok")),
    )
    .await;
    assert_eq!(ok.status(), 201);
    // The same path rule holds for a PATCH; a global admin may name any path.
    let r = bearer(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme/clients/ok",
        &token,
        Some(json!({"secret": {"vault": {"mount": "secret", "path": "tessera", "field": "master_key"}}})),
    )
    .await;
    assert_eq!(
        problem(r, 400).await["karmoErrors"][0]["pointer"],
        "/secret/vault/path"
    );
    let r = app
        .admin_post(
            "/admin/v1/tenants/acme/clients",
            create("anywhere/else", "g"),
        )
        .await;
    assert_eq!(r.status(), 201);
    // The mount is one segment: a `/` would move the read into another tenant's tree.
    for mount in ["secret/data/tessera/tenants/beta", "..", "a b"] {
        let r = bearer(
            &app,
            Method::POST,
            "/admin/v1/tenants/acme/clients",
            &token,
            Some(json!({"client_id": "m", "name": "v", "grant_types": ["client_credentials"], "scopes": [],
                   "secret": {"vault": {"mount": mount, "path": "tessera/tenants/acme/x", "field": "value"}}})),
        )
        .await;
        let v = problem(r, 400).await;
        assert_eq!(pointers(&v), ["/secret/vault/mount"], "{mount}");
    }
}

async fn a_client_may_not_take_the_audience_of_service_tokens(app: TestApp) {
    let (_, token) = tenant_admin(&app, "acme").await;
    let r = bearer(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/clients",
        &token,
        Some(
            json!({"client_id": "orders", "name": "x", "grant_types": ["client_credentials"],
                    "scopes": [], "audiences": ["pouch-services"]}),
        ),
    )
    .await;
    assert_eq!(pointers(&problem(r, 400).await), ["/audiences"]);
}

async fn a_public_clients_token_mints_nothing_on_the_tenant_api(app: TestApp) {
    app.create_tenant("acme").await;
    let r = app
        .admin_post(
            "/admin/v1/tenants/acme/projects",
            json!({"id": "p1", "name": "p1"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    create_user(
        &app,
        "acme",
        "ann@acme.example",
        json!({"roles": ["admin"], "scopes": ["tessera:generate"]}),
    )
    .await;
    login_client(
        &app,
        "acme",
        "spa",
        json!({"admin_tokens": true, "project_id": "p1", "scopes": ["openid", "tessera:generate"]}),
    )
    .await;
    let v = tokens_for(&app, "spa", "ann@acme.example", "openid tessera:generate").await;
    let user_token = v["access_token"].as_str().unwrap();
    for (path, body) in [
        ("/auth/user/oidcToken", json!({"oidc_token": "a.b.c"})),
        ("/auth/admin/oidcToken", json!({"oidc_token": "a.b.c"})),
        (
            "/auth/user/generateToken",
            json!({"tenant_id": "acme", "project_id": "p1", "client_id": "spa",
                   "email_id": "ann@acme.example"}),
        ),
    ] {
        let r = app
            .http
            .post(app.url(path))
            .bearer_auth(user_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r, 400).await["karmoCode"], "40000203", "{path}");
    }
}

async fn jwks_count(app: &TestApp) -> Vec<(String, String)> {
    let v = app.get_json("/.well-known/jwks.json").await;
    let mut keys: Vec<(String, String)> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_string(),
                k["alg"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

async fn keys_of_every_algorithm_are_published_before_they_sign_and_a_refused_request_creates_none(
    app: TestApp,
) {
    let before = jwks_count(&app).await;
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let n = before.iter().filter(|(_, a)| a == alg).count();
        assert_eq!(n, 2, "an active and a next {alg} key from the first start");
    }
    // A refused PATCH naming an algorithm leaves the key set as it was.
    let es = app.create_client("es").await;
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/default/clients/es",
            Some(json!({"signing_alg": "ES256", "token_ttl": -1})),
        )
        .await;
    problem(r, 400).await;
    assert_eq!(jwks_count(&app).await, before);
    // Choosing an algorithm signs at once with a key a verifier fetched before.
    for alg in ["ES256", "EdDSA", "PS256"] {
        let r = app
            .admin(
                Method::PATCH,
                "/admin/v1/tenants/default/clients/es",
                Some(json!({"signing_alg": alg})),
            )
            .await;
        assert_eq!(r.status(), 200);
        let (header, _) = decode_jwt(&app.access_token(&es, None).await);
        assert_eq!(header["alg"], alg);
        let kid = header["kid"].as_str().unwrap().to_string();
        assert!(before.contains(&(kid, alg.to_string())), "{header}");
    }
    assert_eq!(jwks_count(&app).await, before);
}

async fn authorize_answers_unknown_disabled_and_codeless_clients_alike(app: TestApp) {
    app.create_tenant("acme").await;
    login_client(&app, "acme", "off", json!({"status": "disabled"})).await;
    app.create_client_in(
        "acme",
        json!({"client_id": "m2m", "name": "x", "grant_types": ["client_credentials"],
               "scopes": [], "redirect_uris": [REDIRECT]}),
    )
    .await;
    app.create_tenant("gone").await;
    login_client(&app, "gone", "in-disabled-tenant", json!({})).await;
    app.admin(
        Method::PATCH,
        "/admin/v1/tenants/gone",
        Some(json!({"status": "disabled"})),
    )
    .await;
    let mut answers = Vec::new();
    for id in ["nobody", "off", "m2m", "in-disabled-tenant"] {
        let r = app
            .http
            .get(authorize_url(&app, id, &[("scope", "openid")]))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("location").is_none(),
            "{id}: never a redirect"
        );
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

async fn a_public_client_may_not_exchange_tokens(app: TestApp) {
    app.create_tenant("acme").await;
    login_client(
        &app,
        "acme",
        "spa",
        json!({"grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"]}),
    )
    .await;
    let (status, v) = token(
        &app,
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", "spa"),
            ("subject_token", "x.y.z"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
}

async fn a_client_assertion_valid_for_more_than_five_minutes_is_refused(app: TestApp) {
    let (key, _) = SigningKey::generate("ck1".into(), Alg::ES256).unwrap();
    app.create_client_in(
        "default",
        json!({"client_id": "pkj", "name": "x", "grant_types": ["client_credentials"], "scopes": [],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk()]}}),
    )
    .await;
    let send = |jti: &str, iat: Option<i64>, exp: i64| {
        let mut claims = json!({"iss": "pkj", "sub": "pkj", "aud": ISSUER, "jti": jti, "exp": exp});
        if let Some(iat) = iat {
            claims["iat"] = json!(iat);
        }
        let a = key
            .sign_jwt(Typ::Jwt, claims.to_string().as_bytes())
            .unwrap();
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials".to_string()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ),
                ("client_assertion", a),
            ])
            .send()
    };
    let ten_years = 10 * 365 * 86400;
    for (jti, iat, exp) in [
        ("a", Some(T0), T0 + ten_years),
        ("o", Some(i64::MIN), T0 + ten_years),
        ("p", Some(T0), i64::MAX),
        ("b", None, T0 + 301),
        ("c", Some(T0 - 10), T0 + 300),
    ] {
        let r = send(jti, iat, exp).await.unwrap();
        assert_eq!(r.status(), 401, "{jti}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    }
    let r = send("d", Some(T0), T0 + 300).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// A browser signed in to `web` (which registers a post-logout return address); returns it
/// with the ID token of its sign-in.
async fn signed_in_browser(app: &TestApp) -> (Browser, String) {
    app.create_tenant("acme").await;
    create_user(app, "acme", "ann@acme.example", json!({})).await;
    login_client(
        app,
        "acme",
        "web",
        json!({"post_logout_redirect_uris": ["http://app.test/bye"]}),
    )
    .await;
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        app,
        &mut b,
        "web",
        "ann@acme.example",
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, v) = exchange(app, "web", &code, &verifier).await;
    assert_eq!(status, 200, "{v}");
    (b, v["id_token"].as_str().unwrap().to_string())
}

/// True when the browser still has a login session (authorize answers with a code).
async fn still_signed_in(app: &TestApp, b: &mut Browser) -> bool {
    let (_, challenge) = pkce();
    let url = authorize_url(
        app,
        "web",
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    b.get(&url).await.status() == 302
}

async fn rp_initiated_logout_with_an_id_token_hint_ends_the_session_and_returns(app: TestApp) {
    let (mut b, id_token) = signed_in_browser(&app).await;
    assert!(still_signed_in(&app, &mut b).await);
    let mut url = reqwest::Url::parse(&app.url("/oauth/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "http://app.test/evil")
        .append_pair("state", "s-1");
    let r = b.get(url.as_str()).await;
    assert_eq!(r.status(), 400, "an unregistered return address");
    assert!(r.headers().get("location").is_none());
    assert!(still_signed_in(&app, &mut b).await);
    let mut url = reqwest::Url::parse(&app.url("/oauth/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "http://app.test/bye")
        .append_pair("state", "s-1");
    let r = b.get(url.as_str()).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "http://app.test/bye?state=s-1");
    assert!(!still_signed_in(&app, &mut b).await);
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{ISSUER}/oauth/logout")
    );
}

async fn logout_without_a_hint_needs_the_users_confirmation_through_a_csrf_protected_form(
    app: TestApp,
) {
    let (mut b, _) = signed_in_browser(&app).await;
    // A cross-site link alone signs nobody out: it shows a confirmation form.
    let r = b.get(&app.url("/oauth/logout?client_id=web")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let csrf = hidden(&html, "csrf").expect("a csrf field");
    assert!(still_signed_in(&app, &mut b).await);
    // A forged post without the token is refused.
    let r = b.post(&app.url("/logout"), &[("csrf", "forged")]).await;
    assert_eq!(r.status(), 403);
    assert!(still_signed_in(&app, &mut b).await);
    let r = b
        .post(
            &app.url("/logout"),
            &[
                ("csrf", &csrf),
                ("client_id", "web"),
                ("post_logout_redirect_uri", "http://app.test/bye"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "http://app.test/bye");
    assert!(!still_signed_in(&app, &mut b).await);
    let r = b.post(&app.url("/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200, "signing out twice is harmless");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_https_issuer_the_login_cookies_carry_the_host_prefix() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.issuer = "https://login.example.test".into();
    })
    .await
    .unwrap();
    app.create_tenant("acme").await;
    create_user(&app, "acme", "ann@acme.example", json!({})).await;
    login_client(&app, "acme", "web", json!({})).await;
    let mut b = Browser::new();
    let (_, challenge) = pkce();
    let pk = [
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = submit_login(
        &app,
        &mut b,
        &authorize_url(&app, "web", &pk),
        "ann@acme.example",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status(), 303);
    let names: Vec<&str> = b.cookies.keys().map(String::as_str).collect();
    assert_eq!(names, ["__Host-tessera_csrf", "__Host-tessera_session"]);
    for c in &b.set_cookies {
        assert!(
            c.contains("; Secure") && c.contains("Path=/") && !c.contains("Domain"),
            "{c}"
        );
    }
    // The prefixed session signs the browser in on the next request.
    let r = b.get(&authorize_url(&app, "web", &pk)).await;
    assert_eq!(r.status(), 302);
    assert!(r.headers()["location"].to_str().unwrap().contains("code="));
}

both_engines!(
    a_client_may_not_take_the_service_profile,
    a_client_revokes_only_the_tokens_issued_to_itself,
    a_disabled_tenants_admin_token_is_refused_and_cannot_enable_it_again,
    a_demoted_user_loses_admin_rights_on_its_tokens_and_their_refreshes,
    disabling_a_user_or_setting_its_password_ends_its_tokens_and_sessions,
    login_flow_access_tokens_carry_the_users_email,
    a_client_switched_to_a_method_without_a_secret_accepts_its_old_secret_nowhere,
    a_tenant_admin_may_point_clients_only_at_its_own_vault_paths,
    keys_of_every_algorithm_are_published_before_they_sign_and_a_refused_request_creates_none,
    authorize_answers_unknown_disabled_and_codeless_clients_alike,
    a_public_client_may_not_exchange_tokens,
    a_client_assertion_valid_for_more_than_five_minutes_is_refused,
    a_client_may_not_take_the_audience_of_service_tokens,
    a_public_clients_token_mints_nothing_on_the_tenant_api,
    rp_initiated_logout_with_an_id_token_hint_ends_the_session_and_returns,
    logout_without_a_hint_needs_the_users_confirmation_through_a_csrf_protected_form,
);
