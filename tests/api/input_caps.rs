//! Input caps (SPEC §7.2): over-long identifiers, too many parameters and JSON members of the
//! wrong type are refused with 400 `invalid_request` in each route's dialect, before any
//! lookup, cache or limit.

use crate::both_engines;
use crate::helpers::*;
use serde_json::{json, Value};

/// A 256-character identifier: one over the cap.
fn long_id() -> String {
    "c".repeat(256)
}

async fn oauth_error(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let v: Value = r.json().await.unwrap();
    assert!(v["error_description"].is_string(), "{v}");
    v
}

async fn a_256_character_client_id_is_400_invalid_request_in_every_dialect(app: TestApp) {
    let id = long_id();
    // oauth: in the body and as the HTTP Basic user.
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await["error"], "invalid_request");
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some("s"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await["error"], "invalid_request");
    // problem: a pointer to the field.
    let r = app
        .http
        .post(app.url("/v1/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": id, "client_secret": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(pointers(&problem(r, 400).await), vec!["/client_id"]);
    let r = app
        .http
        .post(app.url("/auth/user/generateToken"))
        .json(
            &json!({"tenant_id": "default", "project_id": "p", "client_id": id,
                      "email_id": "a@example.com", "secret_id": "s"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pointers(&problem(r, 400).await), vec!["/client_id"]);
    let r = app
        .http
        .post(app.url("/auth/user/generateToken"))
        .json(
            &json!({"tenant_id": long_id(), "project_id": "p", "client_id": "c",
                      "email_id": "a@example.com", "secret_id": "s"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pointers(&problem(r, 400).await), vec!["/tenant_id"]);
    // id-api: HTTP Basic only.
    let r = app
        .http
        .post(app.url("/api/id/v1/auth/token"))
        .basic_auth(&id, Some("s"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(id_api_error(r, 400).await, "invalid_request");
    // An over-long service name or path segment too.
    let r = app
        .http
        .post(app.url("/v1/auth/token"))
        .basic_auth(&id, Some("s"))
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    let r = app
        .admin_get(&format!("/admin/v1/tenants/{}/clients", long_id()))
        .await;
    problem(r, 400).await;
    // Nothing was cached for them.
    app.tessera.caches.clients.run_pending_tasks().await;
    assert_eq!(app.tessera.caches.clients.len(), 0);
}

async fn more_than_100_parameters_are_400_invalid_request(app: TestApp) {
    let mut form: Vec<(String, String)> = (0..100).map(|i| (format!("p{i}"), "v".into())).collect();
    form.push(("grant_type".into(), "client_credentials".into()));
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await["error"], "invalid_request");
    let mut body = serde_json::Map::new();
    for (k, v) in &form {
        body.insert(k.clone(), Value::String(v.clone()));
    }
    let r = app
        .http
        .post(app.url("/v1/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["karmoCode"], "40000101", "{p}");
    let query: Vec<String> = (0..101).map(|i| format!("p{i}=v")).collect();
    let r = app
        .http
        .get(app.url(&format!("/oauth/authorize?{}", query.join("&"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A 64 KiB body of 14,000 distinct short parameters is refused as such, not parsed whole.
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let name = |mut i: usize| {
        let mut s = String::new();
        loop {
            s.push(DIGITS[i % 62] as char);
            i /= 62;
            if i == 0 {
                return s;
            }
        }
    };
    let many: Vec<String> = (0..14_000).map(name).collect();
    let many = many.join("&");
    assert!(many.len() < 64 * 1024);
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(many)
        .send()
        .await
        .unwrap();
    let v = oauth_error(r, 400).await;
    assert_eq!(v["error"], "invalid_request");
    assert!(
        v["error_description"].as_str().unwrap().contains("100"),
        "{v}"
    );
    // Exactly 100 is still read (and then refused for what it says, not for its size).
    let mut ok: Vec<(String, String)> = (0..99).map(|i| (format!("p{i}"), "v".into())).collect();
    ok.push(("grant_type".into(), "nope".into()));
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await["error"], "unsupported_grant_type");
}

async fn a_json_member_that_is_not_a_string_is_400_invalid_request(app: TestApp) {
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r, 400).await["error"], "invalid_request");
    for bad in [
        json!(5),
        json!(["client_credentials"]),
        json!({"a": 1}),
        Value::Null,
    ] {
        let r = app
            .http
            .post(app.url("/v1/oauth/token"))
            .json(&json!({"grant_type": bad}))
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(pointers(&p), vec!["/grant_type"], "{bad}: {p}");
    }
}

async fn an_authorize_request_with_a_huge_client_id_is_not_cached(app: TestApp) {
    let huge = "x".repeat(60 * 1024);
    for i in 0..3 {
        let r = app
            .http
            .get(app.url(&format!("/oauth/authorize?client_id={huge}{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    app.tessera.caches.clients.run_pending_tasks().await;
    assert_eq!(app.tessera.caches.clients.len(), 0);
}

both_engines!(
    a_256_character_client_id_is_400_invalid_request_in_every_dialect,
    more_than_100_parameters_are_400_invalid_request,
    a_json_member_that_is_not_a_string_is_400_invalid_request,
    an_authorize_request_with_a_huge_client_id_is_not_cached,
);
