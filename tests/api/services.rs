//! Registered services (SPEC §4, Appendix A): the admin API, the service secret, the trusted
//! gateway header, the client-certificate SAN from a trusted TLS proxy, and the AWS IAM
//! proof's refusals (its success path runs against moto's STS in `tests/interop/test_aws_iam.py`).

use crate::both_engines;
use crate::compat::service_with_secret;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

const INTERNAL: &str = "/v1/auth/token";

async fn service_token_status(app: &TestApp, name: &str, secret: &str) -> u16 {
    app.http
        .post(app.url(INTERNAL))
        .basic_auth(name, Some(secret))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn services_are_registered_listed_read_rotated_and_removed(app: TestApp) {
    let bindings = json!([
        {"type": "secret"},
        {"type": "gateway", "arn": "arn:aws:sts::123456789012:assumed-role/orders/*"},
        {"type": "aws_iam", "arn": "arn:aws:iam::123456789012:role/orders"},
        {"type": "mtls", "san": "spiffe://example.org/orders"}
    ]);
    let r = app
        .admin_post(
            "/admin/v1/services",
            json!({"name": "orders", "ttl": 600, "bindings": bindings}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let first = created["secret"].as_str().unwrap().to_string();
    assert!(tessera::crypto::b64url_decode(&first).unwrap().len() >= 32);
    assert_eq!(created["bindings"], bindings);
    assert_eq!(created["ttl"], 600);

    let listed: Value = app
        .admin_get("/admin/v1/services")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "orders");
    let one: Value = app
        .admin_get("/admin/v1/services/orders")
        .await
        .json()
        .await
        .unwrap();
    assert!(one.get("secret").is_none(), "{one}");
    let shown = serde_json::to_string(&listed).unwrap() + &one.to_string();
    assert!(!shown.contains(&first));

    assert_eq!(service_token_status(&app, "orders", &first).await, 200);
    let r = app
        .admin_post(
            "/admin/v1/services/orders/secret/rotate",
            json!({"grace_seconds": 60}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let second = r.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(service_token_status(&app, "orders", &first).await, 200);
    assert_eq!(service_token_status(&app, "orders", &second).await, 200);
    app.clock.advance(61);
    assert_eq!(service_token_status(&app, "orders", &first).await, 401);
    assert_eq!(service_token_status(&app, "orders", &second).await, 200);

    let r = app
        .admin(Method::DELETE, "/admin/v1/services/orders", None)
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(service_token_status(&app, "orders", &second).await, 401);
    problem(app.admin_get("/admin/v1/services/orders").await, 404).await;
    let events = app.audit_events("limit=1000").await;
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for n in [
        "admin.service.created",
        "admin.service.secret_rotated",
        "admin.service.deleted",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&first) && !all.contains(&second));
}

async fn a_bad_service_body_is_a_400_with_a_pointer_per_field(app: TestApp) {
    let r = app
        .admin_post(
            "/admin/v1/services",
            json!({"name": "a/b", "ttl": -1, "colour": "red", "bindings": [
                {"type": "gateway"},
                {"type": "nope"},
                {"type": "mtls", "san": "spiffe://x y"},
                "secret",
                {"type": "secret", "arn": "arn:x"},
                {"type": "aws_iam", "arn": "not-an-arn"}
            ]}),
        )
        .await;
    let v = problem(r, 400).await;
    let mut got = pointers(&v);
    got.sort();
    let mut want = vec![
        "/name",
        "/ttl",
        "/colour",
        "/bindings/0/arn",
        "/bindings/1/type",
        "/bindings/2/san",
        "/bindings/3",
        "/bindings/4/arn",
        "/bindings/5/arn",
    ];
    want.sort();
    assert_eq!(got, want, "{v}");

    let v = problem(
        app.admin_post("/admin/v1/services", json!({"name": "x"}))
            .await,
        400,
    )
    .await;
    assert_eq!(
        (v["karmoCode"].as_str(), pointers(&v)),
        (Some("40000102"), vec!["/bindings".to_string()])
    );
    let v = problem(
        app.admin_post("/admin/v1/services", json!({"name": "x", "bindings": []}))
            .await,
        400,
    )
    .await;
    assert_eq!(pointers(&v), ["/bindings"]);
    let body = json!({"name": "x", "bindings": [{"type": "secret"}, {"type": "secret"}]});
    assert_eq!(
        pointers(&problem(app.admin_post("/admin/v1/services", body).await, 400).await),
        ["/bindings"]
    );

    service_with_secret(&app, "dup", json!({})).await;
    let body = json!({"name": "dup", "bindings": [{"type": "secret"}]});
    assert_eq!(
        problem(app.admin_post("/admin/v1/services", body).await, 409).await["karmoCode"],
        "40900501"
    );
    let r = app
        .admin_post("/admin/v1/services/ghost/secret/rotate", json!({}))
        .await;
    problem(r, 404).await;
    let body = json!({"name": "gw-only", "bindings": [{"type": "gateway", "arn": "arn:aws:iam::1:role/x"}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let r = app
        .admin_post("/admin/v1/services/gw-only/secret/rotate", json!({}))
        .await;
    problem(r, 400).await;
}

async fn only_a_caller_reaching_every_tenant_manages_services(app: TestApp) {
    app.create_tenant("acme").await;
    let admin = app
        .create_client_in(
            "acme",
            json!({"client_id": "acme-admin", "name": "x", "grant_types": ["client_credentials"],
                   "scopes": [], "admin_tokens": true}),
        )
        .await;
    let token = app.access_token(&admin, Some("tessera:admin")).await;
    let body = json!({"name": "x", "bindings": [{"type": "secret"}]});
    let r = app
        .http
        .post(app.url("/admin/v1/services"))
        .bearer_auth(&token)
        .json(&body)
        .send();
    problem(r.await.unwrap(), 403).await;
    let r = app
        .http
        .get(app.url("/admin/v1/services"))
        .bearer_auth(&token)
        .send();
    problem(r.await.unwrap(), 403).await;
    let r = app.http.get(app.url("/admin/v1/services")).send();
    problem(r.await.unwrap(), 401).await;
}

/// The gateway header is believed only from `s2s.trusted_proxies` (here 127.0.0.1/32); the
/// same header from 127.0.0.2 is ignored and audited.
async fn the_gateway_header_is_believed_only_from_trusted_proxies(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
    })
    .await
    else {
        return;
    };
    let role = "arn:aws:sts::123456789012:assumed-role";
    for (name, arn) in [
        ("orders", format!("{role}/orders/*")),
        ("orders-admin", format!("{role}/orders/admin")),
    ] {
        let body = json!({"name": name, "bindings": [{"type": "gateway", "arn": arn}]});
        assert_eq!(
            app.admin_post("/admin/v1/services", body).await.status(),
            201
        );
    }
    let untrusted = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let call = |client: &reqwest::Client, arn: String| {
        client
            .post(app.url(INTERNAL))
            .header("X-Amzn-Caller-Arn", arn)
            .json(&json!({}))
            .send()
    };

    // Trusted peer: a pattern maps, and an exact binding beats a pattern.
    let r = call(&app.http, format!("{role}/orders/i-0abc"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["sub"].as_str(), claims["token_use"].as_str()),
        (Some("orders"), Some("service"))
    );
    let v: Value = call(&app.http, format!("{role}/orders/admin"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        decode_jwt(v["access_token"].as_str().unwrap()).1["sub"],
        "orders-admin"
    );
    // Trusted peer, unknown ARN.
    let r = call(&app.http, format!("{role}/billing/i-1"))
        .await
        .unwrap();
    assert_eq!(problem(r, 401).await["karmoCode"], "40100209");

    // Untrusted peer: the header is ignored, never believed.
    let r = call(&untrusted, format!("{role}/orders/i-0abc"))
        .await
        .unwrap();
    assert_eq!(problem(r, 401).await["karmoCode"], "40100209");
    let events = app.audit_events("limit=1000").await;
    let ignored = events
        .iter()
        .find(|e| e["event"] == "s2s.gateway_untrusted")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(ignored["remote"], "127.0.0.2");
    assert_eq!(ignored["outcome"], "ignored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_header_is_believed_only_from_trusted_proxies_on_sqlite() {
    the_gateway_header_is_believed_only_from_trusted_proxies(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_header_is_believed_only_from_trusted_proxies_on_postgres() {
    the_gateway_header_is_believed_only_from_trusted_proxies(Engine::Postgres).await;
}

/// Without any trusted proxy configured (the default), no gateway header is believed.
async fn with_no_trusted_proxy_the_gateway_header_is_never_believed(app: TestApp) {
    let body = json!({"name": "orders", "bindings": [{"type": "gateway", "arn": "arn:aws:iam::1:role/orders"}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let r = app
        .http
        .post(app.url(INTERNAL))
        .header("X-Amzn-Caller-Arn", "arn:aws:iam::1:role/orders")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

async fn a_service_asks_for_its_token_with_no_body_at_all(app: TestApp) {
    let secret = service_with_secret(&app, "orders", json!({})).await;
    let r = app
        .http
        .post(app.url(INTERNAL))
        .basic_auth("orders", Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["sub"].as_str(), claims["token_use"].as_str()),
        (Some("orders"), Some("service"))
    );

    let anonymous = app.http.post(app.url(INTERNAL)).send().await.unwrap();
    problem(anonymous, 401).await;
}

both_engines!(
    a_service_asks_for_its_token_with_no_body_at_all,
    services_are_registered_listed_read_rotated_and_removed,
    a_bad_service_body_is_a_400_with_a_pointer_per_field,
    only_a_caller_reaching_every_tenant_manages_services,
    with_no_trusted_proxy_the_gateway_header_is_never_believed,
);

/// Vault-style login fields for a (never really signed) `GetCallerIdentity` request.
fn iam_fields(body: &str) -> Value {
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": b64("https://sts.amazonaws.com/"),
        "iam_request_body": b64(body),
        "iam_request_headers": b64(r#"{"Content-Type":["application/x-www-form-urlencoded"],"Authorization":["AWS4-HMAC-SHA256 Credential=AKIA/20261123/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=00"]}"#),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_iam_proof_with_sts_unreachable_is_a_503_and_a_bad_one_a_400() {
    // Nothing listens on a port the OS just handed out and took back.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.s2s.sts_endpoint = format!("http://{closed}/");
        s.s2s.sts_timeout = 2;
    })
    .await
    .unwrap();
    let post = |body: Value| app.http.post(app.url(INTERNAL)).json(&body).send();
    // With no aws_iam binding anywhere a proof is not even sent: a plain 401.
    let r = post(iam_fields("Action=GetCallerIdentity&Version=2011-06-15"))
        .await
        .unwrap();
    problem(r, 401).await;
    let body = json!({"name": "orders",
                      "bindings": [{"type": "aws_iam", "arn": "arn:aws:iam::123456789012:role/orders"}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );

    let r = post(iam_fields("Action=GetCallerIdentity&Version=2011-06-15"))
        .await
        .unwrap();
    let v = problem(r, 503).await;
    assert_eq!(v["karmoCode"], "50300901");

    let r = post(iam_fields("Action=AssumeRole&Version=2011-06-15"))
        .await
        .unwrap();
    let v = problem(r, 400).await;
    assert_eq!(v["karmoErrors"][0]["pointer"], "/iam_request_body");

    let mut fields = iam_fields("Action=GetCallerIdentity&Version=2011-06-15");
    fields["iam_request_headers"] = json!("%%% not base64");
    let v = problem(post(fields).await.unwrap(), 400).await;
    assert_eq!(v["karmoErrors"][0]["pointer"], "/iam_request_headers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_san_forwarded_by_a_trusted_proxy_maps_to_its_service() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
    })
    .await
    .unwrap();
    let body = json!({"name": "orders",
                      "bindings": [{"type": "mtls", "san": "spiffe://example.org/ns/prod/sa/orders"}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let call = |client: reqwest::Client, cert: &'static str| {
        let url = app.url(INTERNAL);
        async move {
            client
                .post(url)
                .header("X-Forwarded-Client-Cert", cert)
                .send()
                .await
                .unwrap()
        }
    };
    // Envoy's XFCC: `By=` is the proxy's own identity, `URI=` the client's.
    let xfcc = "By=spiffe://example.org/ns/mesh/sa/gateway;Hash=3f;URI=spiffe://example.org/ns/prod/sa/orders";
    let r = call(app.http.clone(), xfcc).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "orders");
    // A bare SAN works too; an unknown SAN is a 401.
    let bare = call(app.http.clone(), "spiffe://example.org/ns/prod/sa/orders").await;
    assert_eq!(bare.status(), 200);
    let stranger = call(
        app.http.clone(),
        "URI=spiffe://example.org/ns/prod/sa/billing",
    )
    .await;
    problem(stranger, 401).await;
    // From an address outside s2s.trusted_proxies the header is never believed.
    let untrusted = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    problem(call(untrusted, xfcc).await, 401).await;
}
