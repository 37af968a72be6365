use crate::both_engines;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn users_are_created_with_roles_and_never_show_their_password(app: TestApp) {
    app.create_tenant("acme").await;
    let r = app
        .admin_post(
            "/admin/v1/tenants/acme/roles",
            json!({"name": "reader", "scopes": ["docs:read"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let roles: Value = app
        .admin_get("/admin/v1/tenants/acme/roles")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["admin", "reader"],
        "role admin exists in every tenant"
    );
    let r = app.admin_post("/admin/v1/tenants/acme/users", json!({"email": "Ann@Example.com", "name": "Ann",
        "password": "correct horse battery", "roles": ["reader", "admin"], "scopes": ["x"], "resources": ["r1"], "groups": ["g1"]})).await;
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("correct horse") && !text.contains("argon2"),
        "{text}"
    );
    let u: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(u["email"], "ann@example.com");
    assert_eq!(u["has_password"], true);
    let id = u["id"].as_str().unwrap();
    let dup = app
        .admin_post(
            "/admin/v1/tenants/acme/users",
            json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(dup.status(), 409);
    let bad = app
        .admin_post(
            "/admin/v1/tenants/acme/users",
            json!({"email": "bob@example.com", "roles": ["nope"]}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["karmoErrors"][0]["pointer"], "/roles");
    let r = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/tenants/acme/users/{id}"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "disabled");
    let list: Value = app
        .admin_get("/admin/v1/tenants/acme/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let stored = app
        .tessera
        .store
        .get_user("acme", id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    assert_eq!(
        app.admin_get("/admin/v1/tenants/acme/users/ghost")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.admin_post("/admin/v1/tenants/ghost/users", json!({"email": "a@b.co"}))
            .await
            .status(),
        404
    );
}

async fn upstream_providers_are_registered_listed_and_removed(app: TestApp) {
    let r = app.admin_post("/admin/v1/tenants/default/upstreams",
        json!({"id": "idp", "issuer": "https://idp.example", "client_id": "tessera-at-idp", "name": "IdP"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"id": "idp", "issuer": "https://idp.example", "client_id": "tessera-at-idp"})
        )
        .await
        .status(),
        409
    );
    let bad = app
        .admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"issuer": "ftp://x/", "client_id": 3}),
        )
        .await;
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["status"], 400);
    let list: Value = app
        .admin_get("/admin/v1/tenants/default/upstreams")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["issuer"], "https://idp.example");
    assert_eq!(
        app.admin(
            Method::DELETE,
            "/admin/v1/tenants/default/upstreams/idp",
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.admin(
            Method::DELETE,
            "/admin/v1/tenants/default/upstreams/idp",
            None
        )
        .await
        .status(),
        404
    );
}

both_engines!(
    users_are_created_with_roles_and_never_show_their_password,
    upstream_providers_are_registered_listed_and_removed,
);
