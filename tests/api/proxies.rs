//! Behind proxies (SPEC §7.2): the address limited and audited is the one a trusted proxy
//! forwarded, never one an untrusted peer claims; a caller-identity header given twice is
//! refused.

use crate::helpers::*;
use serde_json::{json, Value};

/// A server trusting 127.0.0.1 as a proxy, with a small failure limit.
async fn behind_a_proxy(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
        s.limits.failed_auth_per_minute = 3;
    })
    .await
}

fn from_127_0_0_2() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn wrong_secret(
    app: &TestApp,
    http: &reqwest::Client,
    c: &TestClient,
    xff: &str,
) -> reqwest::Response {
    http.post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some("wrong"))
        .header("x-forwarded-for", xff)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn the_forwarded_address_from_a_trusted_proxy_is_limited_and_audited(engine: Engine) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    let c = app.create_client("xff").await;
    // Through the trusted proxy (127.0.0.1): the right-most address it did not add itself.
    for _ in 0..3 {
        let r = wrong_secret(&app, &app.http, &c, "198.51.100.7, 203.0.113.9").await;
        assert_eq!(r.status(), 401);
    }
    let r = wrong_secret(&app, &app.http, &c, "203.0.113.9").await;
    assert_eq!(r.status(), 429, "203.0.113.9 is limited");
    // Another forwarded client of the same proxy is not locked out.
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("x-forwarded-for", "203.0.113.10")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // RFC 7239 works the same way.
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some("wrong"))
        .header("forwarded", "for=203.0.113.9;proto=https")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    // From an untrusted peer the header is ignored: the peer itself is counted.
    let r = wrong_secret(&app, &from_127_0_0_2(), &c, "192.0.2.55").await;
    assert_eq!(r.status(), 401);
    let events = app.audit_events("limit=1000").await;
    let remotes: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "auth.failed")
        .filter_map(|e| e["remote"].as_str())
        .collect();
    assert!(remotes.contains(&"203.0.113.9"), "{events:?}");
    assert!(remotes.contains(&"127.0.0.2"), "{events:?}");
    assert!(!remotes.contains(&"192.0.2.55"), "{events:?}");
    assert!(!remotes.contains(&"198.51.100.7"), "{events:?}");
    assert!(!remotes.contains(&"127.0.0.1"), "{events:?}");
}

async fn a_gateway_or_certificate_header_given_twice_is_401(engine: Engine) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    let arn = "arn:aws:iam::1:role/orders";
    let san = "spiffe://example.org/orders";
    let body = json!({"name": "orders", "bindings": [{"type": "gateway", "arn": arn}, {"type": "mtls", "san": san}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let call = |headers: Vec<(&'static str, &'static str)>| {
        let mut r = app.http.post(app.url("/v1/auth/token")).json(&json!({}));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let r = call(vec![("X-Amzn-Caller-Arn", arn)]).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = call(vec![("X-Amzn-Caller-Arn", arn), ("X-Amzn-Caller-Arn", arn)])
        .await
        .unwrap();
    let p: Value = problem(r, 401).await;
    assert_eq!(p["karmoCode"], "40100209");
    let r = call(vec![("X-Forwarded-Client-Cert", san)]).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = call(vec![
        ("X-Forwarded-Client-Cert", "URI=spiffe://example.org/evil"),
        ("X-Forwarded-Client-Cert", san),
    ])
    .await
    .unwrap();
    assert_eq!(problem(r, 401).await["karmoCode"], "40100209");
}

crate::per_engine!(
    the_forwarded_address_from_a_trusted_proxy_is_limited_and_audited,
    a_gateway_or_certificate_header_given_twice_is_401,
);
