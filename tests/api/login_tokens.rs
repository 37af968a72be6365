use crate::both_engines;
use crate::helpers::*;
use crate::login_helpers::*;
use serde_json::{json, Value};

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

async fn offline_access_alone_earns_a_refresh_token_for_an_authorization_code_client(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "spa",
        json!({"grant_types": ["authorization_code"]}),
    )
    .await;
    let v = tokens_for(&app, "spa", "ann@example.com", "openid offline_access").await;
    let r1 = v["refresh_token"].as_str().unwrap().to_string();
    let (status, v2) = refresh(&app, "spa", &r1).await;
    assert_eq!(status, 200, "{v2}");
    assert!(v2["refresh_token"].is_string());
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

async fn the_identity_api_redeems_a_code_with_basic_and_answers_id_and_refresh_tokens(
    app: TestApp,
) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let c = login_client(
        &app,
        "default",
        "id-web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        &app,
        &mut b,
        "id-web",
        "ann@example.com",
        &[
            ("scope", "openid email offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-1"),
        ],
    )
    .await;
    let send = |form: Vec<(&'static str, String)>| {
        app.http
            .post(app.url("/api/id/v1/auth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&form)
            .send()
    };
    let r = send(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.clone()),
        ("scope", "openid email".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "openid email", "a scope sent here only narrows");
    assert_eq!(v["token_type"], "Bearer");
    let (_, claims) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(claims["scp"], "openid email");
    let (_, id) = decode_jwt(v["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], "id-web");
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "ann@example.com");
    assert!(
        v.get("refresh_token").is_none(),
        "offline_access was narrowed away"
    );
    // Replaying the code on the identity API: id-api dialect invalid_grant.
    let r = send(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(v["errorDescription"].is_string());
}

both_engines!(
    the_identity_api_redeems_a_code_with_basic_and_answers_id_and_refresh_tokens,
    a_replayed_code_is_refused_and_revokes_what_its_first_use_issued,
    a_wrong_verifier_a_missing_verifier_or_another_redirect_uri_is_invalid_grant,
    a_code_lives_sixty_seconds,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    offline_access_alone_earns_a_refresh_token_for_an_authorization_code_client,
    refresh_tokens_expire_per_client_and_narrow_scope,
    revoking_a_refresh_token_revokes_its_family,
    a_confidential_client_authenticates_and_pkce_is_optional,
    userinfo_returns_claims_by_scope,
);
