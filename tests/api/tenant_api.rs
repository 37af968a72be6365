//! `/auth/{admin,user}/generateToken` (SPEC §3.3): the checks in the SPEC's order, each with
//! its own status and karmoCode; the claims of admin and user tokens; the three ways a caller
//! is authorized.

use crate::both_engines;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A tenant `acme` with project `p1`, clients, roles and users; returns the admin-capable
/// client (in p1) and the plain one (in p1).
pub async fn acme(app: &TestApp) -> (TestClient, TestClient) {
    app.create_tenant("acme").await;
    for p in ["p1", "p2"] {
        let r = app
            .admin_post(
                "/admin/v1/tenants/acme/projects",
                json!({"id": p, "name": p}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let admin_client = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-admin", "name": "a", "project_id": "p1", "admin_tokens": true,
               "grant_types": ["client_credentials"], "scopes": ["tessera:generate"]}),
        )
        .await;
    let plain = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-app", "name": "b", "project_id": "p1",
               "grant_types": ["client_credentials"], "scopes": ["read"], "audiences": ["acme-api"]}),
        )
        .await;
    app.create_client_in(
        "acme",
        json!({"client_id": "acme-other", "name": "c", "project_id": "p2", "grant_types": ["client_credentials"], "scopes": []}),
    )
    .await;
    for (name, scopes) in [
        ("reader", json!(["docs:read", "x"])),
        ("writer", json!(["docs:write"])),
    ] {
        let r = app
            .admin_post(
                "/admin/v1/tenants/acme/roles",
                json!({"name": name, "scopes": scopes}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    for (email, roles, status) in [
        ("ann@acme.example", json!(["admin", "reader"]), "active"),
        ("bob@acme.example", json!(["reader", "writer"]), "active"),
        ("carl@acme.example", json!(["admin"]), "disabled"),
    ] {
        let r = app
            .admin_post(
                "/admin/v1/tenants/acme/users",
                json!({"email": email, "roles": roles, "scopes": ["x", "profile"],
                   "resources": ["res:1"], "groups": ["g:ops"], "status": status}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    (admin_client, plain)
}

pub async fn post_json(app: &TestApp, path: &str, body: Value, auth: Option<&str>) -> (u16, Value) {
    let mut r = app.http.post(app.url(path)).json(&body);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    if status >= 400 {
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn body(tenant: &str, project: &str, client: &str, email: &str, secret: Option<&str>) -> Value {
    let mut b =
        json!({"tenant_id": tenant, "project_id": project, "client_id": client, "email_id": email});
    if let Some(s) = secret {
        b["secret_id"] = json!(s);
    }
    b
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        tessera::crypto::b64(format!("{id}:{secret}").as_bytes())
    )
}

async fn generate_token_checks_run_in_the_spec_order_each_with_its_own_answer(app: TestApp) {
    let (adm, plain) = acme(&app).await;
    app.create_tenant("off").await;
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/tenants/off",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let route = "/auth/admin/generateToken";
    let s = Some(adm.secret.as_str());
    let ann = "ann@acme.example";
    // (body, authorization, expected status, expected karmoCode)
    let cases: Vec<(Value, Option<String>, u16, &str)> = vec![
        (json!({}), None, 400, "40000102"),
        (
            json!({"tenant_id": 1, "project_id": "p1", "client_id": "acme-admin", "email_id": ann}),
            None,
            400,
            "40000103",
        ),
        // A field the contract does not name is ignored: the checks go on (here to step 5).
        (
            json!({"tenant_id": "acme", "project_id": "p1", "client_id": "acme-admin", "email_id": ann, "extra": 1}),
            None,
            401,
            "40100202",
        ),
        // A missing tenant wins over everything after it (a wrong secret included).
        (
            body("ghost", "p1", "acme-admin", ann, Some("wrong")),
            None,
            404,
            "40400301",
        ),
        (
            body("off", "p1", "acme-admin", ann, s),
            None,
            403,
            "40300401",
        ),
        (
            body("acme", "ghost", "acme-admin", ann, Some("wrong")),
            None,
            404,
            "40400302",
        ),
        (body("acme", "p1", "ghost", ann, s), None, 404, "40400303"),
        // A client of another project is not found in this one.
        (
            body("acme", "p1", "acme-other", ann, s),
            None,
            404,
            "40400303",
        ),
        // The caller is checked before the user: an unknown user with a wrong secret is 401.
        (
            body(
                "acme",
                "p1",
                "acme-admin",
                "nobody@acme.example",
                Some("wrong"),
            ),
            None,
            401,
            "40100201",
        ),
        (
            body("acme", "p1", "acme-admin", ann, None),
            None,
            401,
            "40100202",
        ),
        (
            body("acme", "p1", "acme-app", ann, Some(&plain.secret)),
            None,
            403,
            "40300203",
        ),
        (
            body("acme", "p1", "acme-admin", "nobody@acme.example", s),
            None,
            404,
            "40400304",
        ),
        (
            body("acme", "p1", "acme-admin", "carl@acme.example", s),
            None,
            403,
            "40300402",
        ),
        (
            body("acme", "p1", "acme-admin", "bob@acme.example", s),
            None,
            403,
            "40300207",
        ),
        (body("acme", "p1", "acme-admin", ann, s), None, 200, ""),
    ];
    for (i, (b, auth, status, code)) in cases.into_iter().enumerate() {
        let (got, v) = post_json(&app, route, b.clone(), auth.as_deref()).await;
        assert_eq!(got, status, "case {i}: {b} -> {v}");
        if status >= 400 {
            assert_eq!(v["karmoCode"], code, "case {i}: {v}");
            assert_eq!(v["status"], status);
            assert_eq!(v["instance"], route);
        }
    }
    // Every missing field has its own pointer.
    let (_, v) = post_json(&app, route, json!({"tenant_id": "acme"}), None).await;
    let found = pointers(&v);
    assert_eq!(found, vec!["/project_id", "/client_id", "/email_id"]);
    // A field the contract does not name is ignored (callers keep their wire contract); a
    // named field of the wrong type is not.
    let (_, v) = post_json(
        &app,
        route,
        json!({"tenant_id": "acme", "project_id": 7, "client_id": "acme-app",
               "email_id": "x@acme.example", "trace_id": "t-1"}),
        None,
    )
    .await;
    let found = pointers(&v);
    assert_eq!(found, vec!["/project_id"]);
    // The user route: unknown user 404, disabled 403, a plain client is fine there.
    let user_route = "/auth/user/generateToken";
    let (st, v) = post_json(
        &app,
        user_route,
        body(
            "acme",
            "p1",
            "acme-app",
            "nobody@acme.example",
            Some(&plain.secret),
        ),
        None,
    )
    .await;
    assert_eq!((st, v["karmoCode"].as_str()), (404, Some("40400304")));
    let (st, v) = post_json(
        &app,
        user_route,
        body(
            "acme",
            "p1",
            "acme-app",
            "carl@acme.example",
            Some(&plain.secret),
        ),
        None,
    )
    .await;
    assert_eq!((st, v["karmoCode"].as_str()), (403, Some("40300402")));
    // Refusals are audited, with the reason and never the secret.
    let events = app.audit_events("tenant=acme&limit=100").await;
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "token.refused")
        .collect();
    assert!(refused
        .iter()
        .any(|e| e["outcome"] == "failure:40100201" && e["client_id"] == "acme-admin"));
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&adm.secret) && !all.contains(&plain.secret));
}

async fn user_tokens_carry_the_users_roles_scopes_resources_groups_and_email(app: TestApp) {
    let (_, plain) = acme(&app).await;
    let (st, v) = post_json(
        &app,
        "/auth/user/generateToken",
        body(
            "acme",
            "p1",
            "acme-app",
            "Bob@Acme.example",
            Some(&plain.secret),
        ),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let token = v["access_token"].as_str().unwrap();
    let (h, c) = decode_jwt(token);
    assert_eq!(h["typ"], "at+jwt");
    let bob = app
        .tessera
        .store
        .find_user_by_email("acme", "bob@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c["sub"], bob.id);
    assert_eq!(c["token_use"], "user");
    assert_eq!(c["tenant_id"], "acme");
    assert_eq!(c["project_id"], "p1");
    assert_eq!(c["client_id"], "acme-app");
    assert_eq!(c["email"], "bob@acme.example");
    assert_eq!(c["roles"], json!(["reader", "writer"]));
    assert_eq!(c["scope"], "x profile docs:read docs:write");
    assert_eq!(c["resources"], json!(["res:1"]));
    assert_eq!(c["groups"], json!(["g:ops"]));
    assert_eq!(c["aud"], "acme-api");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        v["expires_in"].as_i64().unwrap()
    );
    // The admin token: token_use admin, for a user holding the admin role.
    let adm = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-adm2", "name": "x", "project_id": "p1",
        "admin_tokens": true, "grant_types": ["client_credentials"], "scopes": []}),
        )
        .await;
    let (st, v) = post_json(
        &app,
        "/auth/admin/generateToken",
        body(
            "acme",
            "p1",
            "acme-adm2",
            "ann@acme.example",
            Some(&adm.secret),
        ),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (_, c) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(c["token_use"], "admin");
    assert_eq!(c["roles"], json!(["admin", "reader"]));
    // Our own introspection accepts the token; client tokens carry no user claims.
    let cc = app.access_token(&plain, None).await;
    let (_, cc) = decode_jwt(&cc);
    assert!(cc.get("email").is_none() && cc.get("roles").is_none());
    // Issued and counted.
    let events = app.audit_events("tenant=acme&limit=100").await;
    assert!(events.iter().any(|e| e["event"] == "token.issued"
        && e["subject"] == bob.id
        && e["client_id"] == "acme-app"));
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
        metrics
            .lines()
            .any(|l| l.starts_with("tessera_tokens_issued_total")
                && l.contains("grant=\"generate_token\"")
                && l.contains("route=\"/auth/user/generateToken\"")),
        "{metrics}"
    );
}

async fn callers_are_authorized_by_secret_basic_or_a_generate_bearer_token_never_by_nothing(
    app: TestApp,
) {
    let (adm, plain) = acme(&app).await;
    let route = "/auth/user/generateToken";
    let b = body("acme", "p1", "acme-app", "bob@acme.example", None);
    // HTTP Basic of that client.
    let (st, _) = post_json(
        &app,
        route,
        b.clone(),
        Some(&basic("acme-app", &plain.secret)),
    )
    .await;
    assert_eq!(st, 200);
    // HTTP Basic of another client, or a wrong secret: 401 with a Basic challenge.
    let resp = app
        .http
        .post(app.url(route))
        .header("authorization", basic("acme-admin", &adm.secret))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let (st, _) = post_json(&app, route, b.clone(), Some(&basic("acme-app", "wrong"))).await;
    assert_eq!(st, 401);
    // A bearer token of this issuer with scope tessera:generate for the tenant.
    let gen = app.access_token(&adm, Some("tessera:generate")).await;
    let (st, v) = post_json(&app, route, b.clone(), Some(&format!("Bearer {gen}"))).await;
    assert_eq!(st, 200, "{v}");
    // Without that scope, from another tenant, or garbage: 401.
    let noscope = app.access_token(&plain, None).await;
    let (st, v) = post_json(&app, route, b.clone(), Some(&format!("Bearer {noscope}"))).await;
    assert_eq!((st, v["karmoCode"].as_str()), (401, Some("40100208")));
    let other = app
        .create_client_in(
            "default",
            json!({"client_id": "dflt-gen", "name": "d", "grant_types": ["client_credentials"], "scopes": ["tessera:generate"]}),
        )
        .await;
    let foreign = app.access_token(&other, Some("tessera:generate")).await;
    let (st, _) = post_json(&app, route, b.clone(), Some(&format!("Bearer {foreign}"))).await;
    assert_eq!(st, 401);
    let (st, _) = post_json(&app, route, b.clone(), Some("Bearer a.b.c")).await;
    assert_eq!(st, 401);
    // A revoked generate token stops working.
    let r = app
        .http
        .post(app.url("/oauth/revoke"))
        .basic_auth(&adm.id, Some(&adm.secret))
        .form(&[("token", gen.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, _) = post_json(&app, route, b.clone(), Some(&format!("Bearer {gen}"))).await;
    assert_eq!(st, 401);
    // Nothing at all: 401, never a token.
    let (st, v) = post_json(&app, route, b, None).await;
    assert_eq!((st, v["karmoCode"].as_str()), (401, Some("40100202")));
}

both_engines!(
    generate_token_checks_run_in_the_spec_order_each_with_its_own_answer,
    user_tokens_carry_the_users_roles_scopes_resources_groups_and_email,
    callers_are_authorized_by_secret_basic_or_a_generate_bearer_token_never_by_nothing,
);
