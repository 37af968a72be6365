use crate::both_engines;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn the_admin_api_refuses_missing_and_wrong_bearer_tokens(app: TestApp) {
    let r = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    problem(r, 401).await;
    let r = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

async fn tenants_are_created_listed_read_and_disabled(app: TestApp) {
    let r = app
        .admin_post("/admin/v1/tenants", json!({"id": "acme", "name": "Acme"}))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], "acme");
    assert_eq!(v["status"], "active");
    assert!(tessera::clock::parse_time(v["created_at"].as_str().unwrap()).is_some());
    let dup = app
        .admin_post("/admin/v1/tenants", json!({"id": "acme", "name": "Again"}))
        .await;
    problem(dup, 409).await;
    let list: Value = app
        .admin_get("/admin/v1/tenants")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["acme", "default"]);
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(json!({"status": "disabled"})),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "disabled");
    problem(app.admin_get("/admin/v1/tenants/nope").await, 404).await;
}

async fn a_disabled_tenants_clients_get_no_tokens_and_its_tokens_are_inactive_until_it_is_enabled_again(
    app: TestApp,
) {
    app.create_tenant("acme").await;
    let c = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-app", "name": "a", "grant_types": ["client_credentials"],
                   "scopes": ["read"]}),
        )
        .await;
    let token = || async {
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    };
    let issued: Value = token().await.json().await.unwrap();
    let issued = issued["access_token"].as_str().unwrap().to_string();
    let watcher = app
        .create_client_in(
            "default",
            json!({"client_id": "watcher", "name": "w", "grant_types": ["client_credentials"],
                   "scopes": []}),
        )
        .await;
    let active = || async {
        introspect(&app, &watcher, &issued).await["active"]
            .as_bool()
            .unwrap()
    };
    assert!(active().await);
    let status = |s: &'static str| {
        app.admin(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            Some(json!({ "status": s })),
        )
    };
    assert_eq!(status("disabled").await.status(), 200);
    let refused = token().await;
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(!active().await, "its tokens are no longer active");
    assert_eq!(status("active").await.status(), 200);
    assert_eq!(token().await.status(), 200);
    assert!(active().await);
}

async fn a_bad_admin_body_is_a_400_with_a_pointer_per_field(app: TestApp) {
    let v = problem(
        app.admin_post("/admin/v1/tenants", json!({"name": 5, "extra": true}))
            .await,
        400,
    )
    .await;
    let found = pointers(&v);
    let has = |p: &str| found.iter().any(|x| x == p);
    assert!(has("/id") && has("/name") && has("/extra"), "{found:?}");
    let v = problem(
        app.admin_post(
            "/admin/v1/tenants/default/clients",
            json!({"name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "profile": "partner", "token_ttl": 3601, "audiences": ["other"]}),
        )
        .await,
        400,
    )
    .await;
    let found = pointers(&v);
    let has = |p: &str| found.iter().any(|x| x == p);
    assert!(has("/token_ttl") && has("/audiences"), "{found:?}");
    let r = app
        .http
        .post(app.url("/admin/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
}

async fn clients_register_for_the_grants_discovery_lists_and_no_other(app: TestApp) {
    // Arrange
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let supported = meta["grant_types_supported"].clone();
    // Act
    let all = app
        .create_client_in(
            "default",
            json!({"client_id": "every-grant", "name": "x", "grant_types": supported,
            "scopes": [], "redirect_uris": ["https://app.example/cb"]}),
        )
        .await;
    let unknown = app
        .admin_post(
            "/admin/v1/tenants/default/clients",
            json!({"name": "x", "grant_types": ["client_credentials", "password"], "scopes": []}),
        )
        .await;
    // Assert
    let v: Value = app
        .admin_get(&format!("/admin/v1/tenants/default/clients/{}", all.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["grant_types"], supported);
    let v = problem(unknown, 400).await;
    assert_eq!(pointers(&v), ["/grant_types"]);
    assert!(v.to_string().contains("unknown grant type password"), "{v}");
}

async fn a_created_client_shows_its_secret_once_and_never_again(app: TestApp) {
    let c = app.create_client("once").await;
    assert!(c.secret.len() >= 43, "256 random bits");
    let r = app
        .admin_get("/admin/v1/tenants/default/clients/once")
        .await;
    let text = r.text().await.unwrap();
    assert!(!text.contains(&c.secret));
    assert!(!text.contains("\"client_secret\""));
    let list = app
        .admin_get("/admin/v1/tenants/default/clients")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("\"once\"") && !list.contains(&c.secret));
    problem(
        app.admin_get("/admin/v1/tenants/default/clients/ghost")
            .await,
        404,
    )
    .await;
    problem(
        app.admin_post(
            "/admin/v1/tenants/ghost/clients",
            json!({"name": "x", "grant_types": [], "scopes": []}),
        )
        .await,
        404,
    )
    .await;
    let r = app
        .admin(
            Method::DELETE,
            "/admin/v1/tenants/default/clients/once",
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401
    );
}

async fn projects_are_created_in_a_tenant_and_clients_can_name_them(app: TestApp) {
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/projects",
            json!({"id": "p1", "name": "P1"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tenant_id"], "default");
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "pc", "name": "x", "project_id": "p1",
        "grant_types": ["client_credentials"], "scopes": []}),
        )
        .await;
    let (_, claims) = decode_jwt(&app.access_token(&c, None).await);
    assert_eq!(claims["project_id"], "p1");
    let v = problem(
        app.admin_post(
            "/admin/v1/tenants/default/clients",
            json!({"name": "x", "project_id": "nope",
        "grant_types": [], "scopes": []}),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(v["karmoCode"], "40400302");
}

async fn an_admin_scoped_token_administers_only_its_own_tenant(app: TestApp) {
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let admin = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-admin", "name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "admin_tokens": true}),
        )
        .await;
    let token = app.access_token(&admin, Some("tessera:admin")).await;
    let get = |p: &str| app.http.get(app.url(p)).bearer_auth(&token).send();
    assert_eq!(
        get("/admin/v1/tenants/acme/clients")
            .await
            .unwrap()
            .status(),
        200
    );
    problem(get("/admin/v1/tenants/other/clients").await.unwrap(), 403).await;
    problem(get("/admin/v1/tenants").await.unwrap(), 403).await;
    problem(get("/admin/v1/keys").await.unwrap(), 403).await;
    // A client without admin_tokens cannot get the scope at all.
    let plain = app.create_client("plain").await;
    let r = app
        .token_basic(
            &plain,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "tessera:admin"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    // A default-tenant admin client reaches everything.
    let root = app
        .create_client_in(
            "default",
            json!({"client_id": "root-admin", "name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "admin_tokens": true}),
        )
        .await;
    let root_token = app.access_token(&root, Some("tessera:admin")).await;
    let r = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&root_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn audit_events_record_tokens_failures_and_changes_without_secrets(app: TestApp) {
    let c = app.create_client("aud-ev").await;
    let token = app.access_token(&c, None).await;
    let bad = TestClient {
        secret: "wrong-secret-value".into(),
        ..c.clone()
    };
    app.token_basic(&bad, &[("grant_type", "client_credentials")])
        .await;
    let events = app.audit_events("client=aud-ev").await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"token.issued")
            && names.contains(&"auth.failed")
            && names.contains(&"admin.client.created"),
        "{names:?}"
    );
    let issued = events
        .iter()
        .find(|e| e["event"] == "token.issued")
        .unwrap();
    let (_, claims) = decode_jwt(&token);
    assert_eq!(issued["jti"], claims["jti"]);
    assert_eq!(issued["remote"], "127.0.0.1");
    for k in ["at", "tenant_id", "client_id", "subject", "outcome"] {
        assert!(!issued[k].is_null(), "{k}");
    }
    let all = serde_json::to_string(&app.audit_events("limit=1000").await).unwrap();
    assert!(
        !all.contains(&c.secret)
            && !all.contains("wrong-secret-value")
            && !all.contains(ADMIN_TOKEN)
    );
    let since = app.audit_events(&format!("since={}", T0 + 10)).await;
    assert!(since.is_empty());
}

async fn paths_that_are_not_utf8_missing_clients_and_wrong_methods_answer_problems(app: TestApp) {
    let send = |method: Method, path: &str, body: &'static str| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // A path value that is not UTF-8 names nothing: 400 in the problem dialect, never a 500
    // or axum's plain text.
    for path in [
        "/admin/v1/tenants/%FF/clients",
        "/admin/v1/tenants/default/clients/%FF",
        "/admin/v1/tenants/default/users/%C3",
        "/admin/v1/services/%FF",
    ] {
        let v = problem(send(Method::GET, path, "").await.unwrap(), 400).await;
        assert_eq!(v["instance"], path);
    }
    // The client is looked up before its body is read: a missing one is 404 whatever is sent.
    let missing = "/admin/v1/tenants/default/clients/nope";
    problem(send(Method::PATCH, missing, "{").await.unwrap(), 404).await;
    let rotate = "/admin/v1/tenants/default/clients/nope/secret/rotate";
    problem(send(Method::POST, rotate, "{").await.unwrap(), 404).await;
    // A 405 names the path asked for, not the route's pattern.
    let v = problem(
        send(Method::DELETE, "/admin/v1/tenants/default", "")
            .await
            .unwrap(),
        405,
    )
    .await;
    assert_eq!(v["instance"], "/admin/v1/tenants/default");
}

both_engines!(
    the_admin_api_refuses_missing_and_wrong_bearer_tokens,
    tenants_are_created_listed_read_and_disabled,
    a_disabled_tenants_clients_get_no_tokens_and_its_tokens_are_inactive_until_it_is_enabled_again,
    a_bad_admin_body_is_a_400_with_a_pointer_per_field,
    clients_register_for_the_grants_discovery_lists_and_no_other,
    a_created_client_shows_its_secret_once_and_never_again,
    projects_are_created_in_a_tenant_and_clients_can_name_them,
    an_admin_scoped_token_administers_only_its_own_tenant,
    audit_events_record_tokens_failures_and_changes_without_secrets,
    paths_that_are_not_utf8_missing_clients_and_wrong_methods_answer_problems,
);
