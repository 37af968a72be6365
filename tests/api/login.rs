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

async fn a_replayed_code_is_refused_and_revokes_what_its_first_use_issued(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        &app,
        &mut b,
        "spa",
        "ann@example.com",
        &[
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, first) = exchange(&app, "spa", &code, &verifier).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.0, 200);

    let (status, v) = exchange(&app, "spa", &code, &verifier).await;

    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        userinfo(&app, access).await.0,
        401,
        "the first access token is revoked"
    );
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    let events = app.audit_events("").await;
    assert!(events.iter().any(|e| e["event"] == "code.replayed"));
}

async fn a_wrong_verifier_a_missing_verifier_or_another_redirect_uri_is_invalid_grant(
    app: TestApp,
) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "spa",
        json!({"redirect_uris": [REDIRECT, "http://app.test/other"]}),
    )
    .await;
    let (_, challenge) = pkce();
    let mut b = Browser::new();
    let pk = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = login_for_code(&app, &mut b, "spa", "ann@example.com", &pk).await;
    let (status, v) = exchange(&app, "spa", &code, &pkce().0).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );

    // The browser is logged in now: the next codes come without the login page.
    let code = silent_code(&app, &mut b, "spa", &pk).await;
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "no verifier"
    );
    let code = silent_code(&app, &mut b, "spa", &pk).await;
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", "http://app.test/other"),
            ("code_verifier", &pkce().0),
        ],
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "redirect_uri mismatch"
    );
}

async fn a_code_lives_sixty_seconds(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let (verifier, challenge) = pkce();
    let mut b = Browser::new();
    let code = login_for_code(
        &app,
        &mut b,
        "spa",
        "ann@example.com",
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    app.clock.advance(61);
    let (status, v) = exchange(&app, "spa", &code, &verifier).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let v = tokens_for(&app, "spa", "ann@example.com", "openid offline_access").await;
    let r1 = v["refresh_token"].as_str().unwrap().to_string();
    let (status, v2) = refresh(&app, "spa", &r1).await;
    assert_eq!(status, 200, "{v2}");
    let r2 = v2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert!(v2["id_token"].is_string());
    let a2 = v2["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&app, &a2).await.0, 200);

    let (status, v) = refresh(&app, "spa", &r1).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse"
    );
    let (status, _) = refresh(&app, "spa", &r2).await;
    assert_eq!(status, 400, "the rotated token dies with its family");
    assert_eq!(
        userinfo(&app, &a2).await.0,
        401,
        "and so do its access tokens"
    );
    assert!(app
        .audit_events("")
        .await
        .iter()
        .any(|e| e["event"] == "refresh_token.reused"));
}

async fn refresh_tokens_expire_per_client_and_narrow_scope(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({"refresh_token_ttl": 600})).await;
    let v = tokens_for(
        &app,
        "spa",
        "ann@example.com",
        "openid email offline_access",
    )
    .await;
    let rt = v["refresh_token"].as_str().unwrap();
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", rt),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    assert_eq!(
        (status, v["scope"].as_str()),
        (200, Some("openid offline_access"))
    );
    let (status, v2) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", v["refresh_token"].as_str().unwrap()),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(
        (status, v2["error"].as_str()),
        (400, Some("invalid_scope")),
        "never granted"
    );
    let v = tokens_for(&app, "spa", "ann@example.com", "openid offline_access").await;
    app.clock.advance(601);
    let (status, v) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", v["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
}

async fn revoking_a_refresh_token_revokes_its_family(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let v = tokens_for(&app, "spa", "ann@example.com", "openid offline_access").await;
    let r = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("client_id", "spa"),
            ("token", v["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        userinfo(&app, v["access_token"].as_str().unwrap()).await.0,
        401
    );
    let (status, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", v["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);
}

async fn a_confidential_client_authenticates_and_pkce_is_optional(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let c = login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let mut b = Browser::new();
    let code = login_for_code(
        &app,
        &mut b,
        "web",
        "ann@example.com",
        &[("scope", "openid")],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, v) = token(&app, &[("client_id", "web"), form[0], form[1], form[2]]).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (401, Some("invalid_client")),
        "no secret"
    );
    let code = login_for_code(
        &app,
        &mut Browser::new(),
        "web",
        "ann@example.com",
        &[("scope", "openid")],
    )
    .await;
    let r = app
        .token_basic(&c, &[form[0], ("code", &code), form[2]])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["id_token"].is_string());
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

async fn userinfo_returns_claims_by_scope(app: TestApp) {
    let id = create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let v = tokens_for(&app, "spa", "ann@example.com", "openid profile").await;
    let (status, info) = userinfo(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(info, json!({"sub": id, "name": "Ann Example"}));
    let v = tokens_for(&app, "spa", "ann@example.com", "openid email").await;
    let (_, info) = userinfo(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(
        info,
        json!({"sub": id, "email": "ann@example.com", "email_verified": false})
    );
    let r = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let cc = app.create_client("svc").await;
    let (status, v) = userinfo(&app, &app.access_token(&cc, None).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
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
    a_replayed_code_is_refused_and_revokes_what_its_first_use_issued,
    a_wrong_verifier_a_missing_verifier_or_another_redirect_uri_is_invalid_grant,
    a_code_lives_sixty_seconds,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    refresh_tokens_expire_per_client_and_narrow_scope,
    revoking_a_refresh_token_revokes_its_family,
    a_confidential_client_authenticates_and_pkce_is_optional,
    authorize_errors_redirect_only_to_a_registered_redirect_uri,
    the_login_form_needs_its_csrf_token,
    wrong_password_unknown_email_and_disabled_user_get_one_generic_message,
    a_session_skips_the_login_page_until_prompt_login,
    a_consent_required_client_asks_and_a_denial_is_access_denied,
    userinfo_returns_claims_by_scope,
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
