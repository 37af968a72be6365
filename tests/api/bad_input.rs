//! Throws malformed bodies, invalid UTF-8, huge fields, wrong types, duplicate parameters and
//! odd headers at every documented route: each answer is a 4xx (or the route's normal 2xx for
//! GETs that ignore bodies) in the route's dialect, never a 5xx.

use crate::both_engines;
use crate::helpers::*;
use serde_json::Value;

fn dialect_ok(path: &str, status: u16, ct: &str, body: &str) -> Result<(), String> {
    if status < 400 {
        return Ok(());
    }
    // Browser routes answer bad input with an HTML error page (oversized bodies are refused
    // before routing, in the path family's JSON dialect).
    let html_route = path == "/oauth/authorize"
        || path.starts_with("/login")
        || path == "/logout"
        || path == "/device"
        || path == "/oauth/logout";
    if html_route && ct.starts_with("text/html") {
        return if body.contains("<h1>") {
            Ok(())
        } else {
            Err(format!("not an HTML error page: {body}"))
        };
    }
    if path.starts_with("/api/id/") {
        if ct != "application/json" {
            return Err(format!("not application/json: {ct}"));
        }
        let v: Value = serde_json::from_str(body).map_err(|_| format!("not JSON: {body}"))?;
        if !v["error"].is_string() || !v["errorDescription"].is_string() {
            return Err(format!("not id-api dialect: {body}"));
        }
    } else if path.starts_with("/oauth/") || path == "/userinfo" {
        let v: Value = serde_json::from_str(body).map_err(|_| format!("not JSON: {body}"))?;
        if !v["error"].is_string() || !v["error_description"].is_string() {
            return Err(format!("not oauth dialect: {body}"));
        }
    } else {
        if ct != "application/problem+json" {
            return Err(format!("not problem+json: {ct}"));
        }
        let v: Value = serde_json::from_str(body).map_err(|_| format!("not JSON: {body}"))?;
        if v["karmoCode"].as_str().is_none_or(|k| k.len() != 8) {
            return Err(format!("no karmoCode: {body}"));
        }
    }
    Ok(())
}

async fn every_route_answers_bad_input_with_a_4xx_in_its_dialect(app: TestApp) {
    let c = app.create_client("bad-in").await;
    let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(70 * 1024));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{not json".to_vec()),
        ("application/json", b"[1,2,3]".to_vec()),
        ("application/json", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
        ("application/x-www-form-urlencoded", b"a=%ff%fe&b=%zz".to_vec()),
        ("application/x-www-form-urlencoded", b"token=a&token=b&grant_type=x&grant_type=y".to_vec()),
        ("application/json", br#"{"id":{"deep":[1,2,{"x":null}]},"name":12345678901234567890123,"grant_types":"nope","scopes":{"a":1}}"#.to_vec()),
        ("application/json", br#"{"id":"a","id":"b"}"#.to_vec()),
        ("application/json", huge.into_bytes()),
        ("text/plain", b"hello".to_vec()),
        ("application/json", Vec::new()),
    ];
    let auths: Vec<Option<String>> = vec![
        None,
        Some(format!("Bearer {ADMIN_TOKEN}")),
        Some(format!(
            "Basic {}",
            tessera::crypto::b64(format!("{}:{}", c.id, c.secret).as_bytes())
        )),
        Some("Basic !!!not-base64".to_string()),
        Some("Bearer a.b.c".to_string()),
    ];
    let mut failures = Vec::new();
    for route in tessera::http::openapi::ROUTES {
        let path = route
            .path
            .replace("{tenant}", "default")
            .replace("{project}", "p")
            .replace("{client}", "bad-in")
            .replace("{service}", "bad-svc");
        for auth in &auths {
            for (ct, body) in &bodies {
                if route.method == "get" && body.len() > 1024 {
                    continue; // a GET body is ignored; only small ones are worth sending
                }
                let mut r = app
                    .http
                    .request(route.method.to_uppercase().parse().unwrap(), app.url(&path))
                    .header("content-type", *ct)
                    .body(body.clone());
                if let Some(a) = auth {
                    r = r.header("authorization", a);
                }
                let resp = r.send().await.unwrap();
                let status = resp.status().as_u16();
                let rct = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                let text = resp.text().await.unwrap();
                if status >= 500 {
                    failures.push(format!("{} {path} -> {status}: {text}", route.method));
                } else if let Err(e) = dialect_ok(&path, status, &rct, &text) {
                    failures.push(format!("{} {path} -> {status}: {e}", route.method));
                }
            }
        }
    }
    // The bad credentials above put this address past the failure limits (admin calls
    // included); a minute later it is served again.
    app.clock.advance(60);
    // Odd query strings on the audit route.
    for q in [
        "limit=abc",
        "since=yesterday",
        "limit=1&limit=2",
        "tenant=%ff",
    ] {
        let r = app.admin_get(&format!("/admin/v1/audit?{q}")).await;
        let status = r.status().as_u16();
        if status != 400 {
            failures.push(format!("audit?{q} -> {status}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The server is still healthy.
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

both_engines!(every_route_answers_bad_input_with_a_4xx_in_its_dialect);
