use crate::both_engines;
use crate::helpers::*;
use serde_json::Value;

async fn health_and_readiness_answer_200(app: TestApp) {
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["database"], "ok");
}

async fn metrics_count_requests_and_issued_tokens(app: TestApp) {
    let c = app.create_client("m").await;
    app.access_token(&c, None).await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("tessera_http_requests_total"), "{text}");
    assert!(
        text.contains("tessera_tokens_issued_total{grant=\"client_credentials\""),
        "{text}"
    );
    assert!(
        text.contains("tessera_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

async fn discovery_documents_list_what_is_implemented(app: TestApp) {
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let v: Value = app
            .http
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["issuer"], ISSUER);
        assert_eq!(v["token_endpoint"], format!("{ISSUER}/oauth/token"));
        assert_eq!(v["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
        assert_eq!(
            v["introspection_endpoint"],
            format!("{ISSUER}/oauth/introspect")
        );
        assert_eq!(v["revocation_endpoint"], format!("{ISSUER}/oauth/revoke"));
        assert_eq!(
            v["grant_types_supported"],
            serde_json::json!([
                "client_credentials",
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        let methods = v["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(methods.iter().any(|m| m == "private_key_jwt"));
    }
}

async fn the_openapi_document_is_3_1_and_covers_every_route(app: TestApp) {
    let v: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    for route in tessera::http::openapi::ROUTES {
        assert!(
            v["paths"][route.path][route.method].is_object(),
            "{} {}",
            route.method,
            route.path
        );
        // And the server really serves it (no 404 from the router).
        let path = route
            .path
            .replace("{tenant}", "default")
            .replace("{project}", "p")
            .replace("{client}", "c")
            .replace("{service}", "s");
        let r = app
            .http
            .request(route.method.to_uppercase().parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            let body: Value = r.json().await.unwrap_or_default();
            assert_ne!(
                body["detail"], "no such route",
                "{} {}",
                route.method, route.path
            );
        }
    }
}

async fn an_unknown_route_is_a_404_in_the_families_dialect(app: TestApp) {
    let r = app.http.get(app.url("/oauth/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].is_string());
    let r = app
        .http
        .get(app.url("/admin/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

both_engines!(
    health_and_readiness_answer_200,
    metrics_count_requests_and_issued_tokens,
    discovery_documents_list_what_is_implemented,
    the_openapi_document_is_3_1_and_covers_every_route,
    an_unknown_route_is_a_404_in_the_families_dialect,
);
