use crate::both_engines;
use crate::helpers::*;
use crate::login_helpers::*;
use serde_json::{json, Value};

async fn authorization_code_with_pkce_issues_access_id_and_refresh_tokens(app: TestApp) {
    app.create_tenant("acme").await;
    let user = create_user(&app, "acme", "ann@example.com", json!({})).await;
    login_client(&app, "acme", "spa", json!({})).await;

    let v = tokens_for(
        &app,
        "spa",
        "ann@example.com",
        "openid profile email offline_access",
    )
    .await;

    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "openid profile email offline_access");
    let refresh = v["refresh_token"].as_str().unwrap();
    assert!(tessera::crypto::b64url_decode(refresh).unwrap().len() >= 32);
    let access = v["access_token"].as_str().unwrap();
    let (_, at) = decode_jwt(access);
    assert_eq!(at["sub"], user.as_str());
    assert_eq!(at["token_use"], "user");
    assert_eq!(at["tenant_id"], "acme");
    assert_eq!(at["client_id"], "spa");
    assert_eq!(
        at["exp"].as_i64().unwrap() - at["iat"].as_i64().unwrap(),
        v["expires_in"].as_i64().unwrap()
    );
    let (h, id) = decode_jwt(v["id_token"].as_str().unwrap());
    assert_eq!(h["typ"], "JWT");
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], user.as_str());
    assert_eq!(id["aud"], "spa");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["auth_time"], T0);
    assert_eq!(id["email"], "ann@example.com");
    assert_eq!(id["email_verified"], false);
    assert_eq!(id["name"], "Ann Example");
    assert!(id["exp"].as_i64().unwrap() > T0);
    assert_eq!(
        id["at_hash"].as_str().unwrap(),
        tessera::tokens::id_token::at_hash(tessera::keys::signer::Alg::RS256, access)
    );
    // Both tokens verify against the published keys.
    for tok in [access, v["id_token"].as_str().unwrap()] {
        assert!(app.tessera.keys.verify(tok).is_ok());
    }
    let events = app.audit_events("tenant=acme").await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "login.succeeded",
        "token.issued",
        "id_token.issued",
        "refresh_token.issued",
    ] {
        assert!(names.contains(&e), "{names:?}");
    }
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(refresh) && !dump.contains(PASSWORD));
}

async fn without_openid_or_offline_access_there_is_no_id_or_refresh_token(app: TestApp) {
    create_user(
        &app,
        "default",
        "bob@example.com",
        json!({"scopes": ["read"]}),
    )
    .await;
    create_user(&app, "default", "eve@example.com", json!({})).await;
    login_client(&app, "default", "plain", json!({})).await;
    let v = tokens_for(&app, "plain", "bob@example.com", "read").await;
    assert_eq!(v["scope"], "read");
    assert!(v.get("id_token").is_none() && v.get("refresh_token").is_none());
    // A scope the user does not hold is not granted (openid is).
    let v = tokens_for(&app, "plain", "eve@example.com", "openid read").await;
    assert_eq!(v["scope"], "openid");
}

async fn authorize_errors_redirect_only_to_a_registered_redirect_uri(app: TestApp) {
    login_client(&app, "default", "spa", json!({})).await;
    let mut b = Browser::new();
    for (case, url) in [
        ("unregistered", app.url("/oauth/authorize?response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fevil.test%2Fcb")),
        ("missing", app.url("/oauth/authorize?response_type=code&client_id=spa")),
        ("unknown client", app.url("/oauth/authorize?response_type=code&client_id=nope&redirect_uri=http%3A%2F%2Fapp.test%2Fcb")),
    ] {
        let r = b.get(&url).await;
        assert_eq!(r.status(), 400, "{case}");
        assert!(r.headers().get("location").is_none(), "{case}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    let (_, challenge) = pkce();
    for (extra, error) in [
        (vec![], "invalid_request"),
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("scope", "admin:everything"),
            ],
            "invalid_scope",
        ),
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("prompt", "none"),
            ],
            "login_required",
        ),
    ] {
        let mut params = vec![("state", "xyz")];
        params.extend(extra);
        let r = b.get(&authorize_url(&app, "spa", &params)).await;
        assert_eq!(r.status(), 302, "{params:?}");
        let q = location_params(&r);
        assert_eq!(q["error"], error, "{params:?}");
        assert_eq!(q["state"], "xyz");
        assert_eq!(q["iss"], ISSUER);
    }
    let r = b.get(&app.url("/oauth/authorize?response_type=token&client_id=spa&redirect_uri=http%3A%2F%2Fapp.test%2Fcb")).await;
    assert_eq!(location_params(&r)["error"], "unsupported_response_type");
}

async fn the_login_form_needs_its_csrf_token(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let mut b = Browser::new();
    let page = b.get(&authorize_url(&app, "web", &[])).await;
    let set: Vec<String> = b.set_cookies.clone();
    assert!(set.iter().any(|c| c.starts_with("tessera_csrf=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Lax")));
    let html = page.text().await.unwrap();
    let request = hidden(&html, "request").unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    for form in [
        vec![
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("request", request.as_str()),
        ],
        vec![
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("request", request.as_str()),
            ("csrf", "forged"),
        ],
    ] {
        let r = b.post(&app.url("/login"), &form).await;
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("location").is_none());
    }
    // The right token from another browser (no binding cookie) fails too.
    let r = Browser::new()
        .post(
            &app.url("/login"),
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("request", &request),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
}

async fn wrong_password_unknown_email_and_disabled_user_get_one_generic_message(app: TestApp) {
    let id = create_user(&app, "default", "ann@example.com", json!({})).await;
    create_user(
        &app,
        "default",
        "dis@example.com",
        json!({"status": "disabled"}),
    )
    .await;
    login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let url = authorize_url(&app, "web", &[]);
    let mut pages = Vec::new();
    for (email, password) in [
        ("ann@example.com", "wrong"),
        ("nobody@example.com", PASSWORD),
        ("dis@example.com", PASSWORD),
    ] {
        let mut b = Browser::new();
        let r = submit_login(&app, &mut b, &url, email, password).await;
        assert_eq!(r.status(), 200, "{email}");
        assert!(r.headers().get("location").is_none());
        assert!(!b.cookies.contains_key("tessera_session"));
        let html = r.text().await.unwrap();
        assert!(html.contains("Incorrect e-mail or password."), "{html}");
        pages.push(html.replace(email, "EMAIL"));
    }
    let csrf_free = |p: &String| p.split("name=\"csrf\"").next().unwrap().to_string();
    assert_eq!(csrf_free(&pages[0]), csrf_free(&pages[1]));
    assert_eq!(csrf_free(&pages[1]), csrf_free(&pages[2]));
    let failed: Vec<Value> = app
        .audit_events("")
        .await
        .into_iter()
        .filter(|e| e["event"] == "login.failed")
        .collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().any(|e| e["subject"] == id.as_str()));
    assert!(!serde_json::to_string(&failed).unwrap().contains(PASSWORD));
}

async fn a_session_skips_the_login_page_until_prompt_login(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let mut b = Browser::new();
    login_for_code(&app, &mut b, "web", "ann@example.com", &[]).await;
    let session = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("tessera_session="))
        .unwrap()
        .clone();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && !session.contains("Secure")
    );
    let r = b.get(&authorize_url(&app, "web", &[])).await;
    assert_eq!(r.status(), 302);
    assert!(location_params(&r).contains_key("code"));
    let r = b
        .get(&authorize_url(&app, "web", &[("prompt", "login")]))
        .await;
    assert_eq!(r.status(), 200, "prompt=login shows the page again");
    app.clock.advance(8 * 3600 + 1);
    let r = b.get(&authorize_url(&app, "web", &[])).await;
    assert_eq!(r.status(), 200, "an expired session shows the page");
}

async fn a_consent_required_client_asks_and_a_denial_is_access_denied(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let c = login_client(
        &app,
        "default",
        "third",
        json!({"token_endpoint_auth_method": "client_secret_basic", "consent_required": true}),
    )
    .await;
    let got: Value = app
        .admin_get("/admin/v1/tenants/default/clients/third")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["consent_required"], true);
    let mut b = Browser::new();
    let url = authorize_url(&app, "third", &[("scope", "openid email"), ("state", "s")]);
    let r = submit_login(&app, &mut b, &url, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Allow access?") && html.contains("<li>email</li>"));
    let (csrf, request) = (
        hidden(&html, "csrf").unwrap(),
        hidden(&html, "request").unwrap(),
    );
    let r = b
        .post(
            &app.url("/login/consent"),
            &[("decision", "deny"), ("csrf", &csrf), ("request", &request)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location_params(&r)["error"], "access_denied");
    let r = b
        .post(
            &app.url("/login/consent"),
            &[
                ("decision", "allow"),
                ("csrf", &csrf),
                ("request", &request),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let code = location_params(&r)["code"].clone();
    let r = app
        .token_basic(
            &c,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
}

async fn discovery_lists_the_login_flow(app: TestApp) {
    let m: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        m["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(m["userinfo_endpoint"], format!("{ISSUER}/userinfo"));
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["subject_types_supported"], json!(["public"]));
    assert!(m["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));
    for s in ["openid", "profile", "email", "offline_access"] {
        assert!(m["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(s)));
    }
    for g in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(g)));
    }
}

both_engines!(
    authorization_code_with_pkce_issues_access_id_and_refresh_tokens,
    without_openid_or_offline_access_there_is_no_id_or_refresh_token,
    authorize_errors_redirect_only_to_a_registered_redirect_uri,
    the_login_form_needs_its_csrf_token,
    wrong_password_unknown_email_and_disabled_user_get_one_generic_message,
    a_session_skips_the_login_page_until_prompt_login,
    a_consent_required_client_asks_and_a_denial_is_access_denied,
    discovery_lists_the_login_flow,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_email_and_address() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.limits.failed_auth_per_minute = 3)
        .await
        .unwrap();
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let url = authorize_url(&app, "web", &[]);
    let mut b = Browser::new();
    for _ in 0..3 {
        assert_eq!(
            submit_login(&app, &mut b, &url, "ann@example.com", "wrong")
                .await
                .status(),
            200
        );
    }
    let r = submit_login(&app, &mut b, &url, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 60
    );
    app.clock.advance(60);
    let r = submit_login(&app, &mut b, &url, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
}
