use crate::both_engines;
use crate::helpers::*;
use serde_json::{json, Value};
use tessera::keys::signer::{Alg, SigningKey, Typ, VerifyingKey};

async fn jwks(app: &TestApp) -> Vec<VerifyingKey> {
    let v: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(VerifyingKey::from_jwk)
        .collect()
}

async fn client_credentials_with_basic_returns_an_rfc9068_token(app: TestApp) {
    let c = app.create_client("svc-a").await;
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read");
    let token = body["access_token"].as_str().unwrap();
    let (h, claims) = decode_jwt(token);
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "RS256");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "svc-a");
    assert_eq!(claims["client_id"], "svc-a");
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["token_use"], "client");
    assert_eq!(claims["tenant_id"], "default");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["nbf"], T0);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let jti = claims["jti"].as_str().unwrap();
    assert!(tessera::crypto::b64url_decode(jti).unwrap().len() * 8 >= 122);
    tessera::keys::jws::verify(token, &jwks(&app).await).expect("verifies against the JWKS");
}

async fn json_body_with_client_secret_post_gives_the_same_token_as_a_form(app: TestApp) {
    let c = app.create_client("svc-json").await;
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": c.id, "client_secret": c.secret, "scope": "read write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "read write");
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
            ("scope", "read write"),
        ])
        .send()
        .await
        .unwrap();
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["scope"], v["scope"]);
    assert_eq!(f["expires_in"], v["expires_in"]);
}

async fn unknown_client_and_wrong_secret_answer_identically(app: TestApp) {
    let c = app.create_client("svc-b").await;
    let wrong = TestClient {
        secret: "nope".into(),
        ..c.clone()
    };
    let unknown = TestClient {
        id: "ghost".into(),
        ..c.clone()
    };
    let mut answers = Vec::new();
    for who in [&wrong, &unknown] {
        let r = app
            .token_basic(who, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"tessera\"");
        answers.push(r.text().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    let v: Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(v["error"], "invalid_client");
}

async fn basic_credentials_are_form_url_decoded(app: TestApp) {
    let secret = "p@ss:w0rd+%/ with spaces & symbols!-long-enough-secret";
    app.create_client_in(
        "default",
        json!({"client_id": "svc:one@x", "name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "client_secret": secret}),
    )
    .await;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let header = format!(
        "Basic {}",
        tessera::crypto::b64(format!("{}:{}", enc("svc:one@x"), enc(secret)).as_bytes())
    );
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn two_authentication_methods_at_once_are_invalid_request(app: TestApp) {
    let c = app.create_client("svc-c").await;
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.id),
            ("client_secret", &c.secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
}

async fn protocol_errors_follow_rfc6749_section_5_2(app: TestApp) {
    let c = app.create_client("svc-d").await;
    let post = |body: &'static str, ct: &'static str| {
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth(&c.id, Some(&c.secret))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "application/x-www-form-urlencoded",
            400,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials",
            "text/plain",
            400,
            "invalid_request",
        ),
        (
            "scope=read",
            "application/x-www-form-urlencoded",
            400,
            "invalid_request",
        ),
        (
            "grant_type=password",
            "application/x-www-form-urlencoded",
            400,
            "unsupported_grant_type",
        ),
        (
            "grant_type=client_credentials&scope=admin",
            "application/x-www-form-urlencoded",
            400,
            "invalid_scope",
        ),
        (
            "grant_type=client_credentials&audience=https://elsewhere",
            "application/x-www-form-urlencoded",
            400,
            "invalid_target",
        ),
        (
            "{\"grant_type\":\"client_credentials\",\"grant_type\":\"x\"}",
            "application/json",
            400,
            "invalid_request",
        ),
        (
            "{\"grant_type\":5}",
            "application/json",
            400,
            "invalid_request",
        ),
        (
            "{\"grant_type\":{}}",
            "application/json",
            400,
            "invalid_request",
        ),
    ];
    for (body, ct, status, error) in cases {
        let r = post(body, ct).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], error, "{body}");
        assert!(v["error_description"].is_string());
    }
    let big = format!(
        "grant_type=client_credentials&scope={}",
        "a".repeat(70 * 1024)
    );
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    let r = app.http.get(app.url("/oauth/token")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
}

async fn audiences_and_ttl_follow_the_client_and_its_profile(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "aud-c", "name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "audiences": ["https://api.one", "https://api.two"], "token_ttl": 120}),
        )
        .await;
    let r = app
        .token_basic(
            &c,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.two"),
            ],
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 120);
    assert_eq!(
        v["scope"], "",
        "scope is always in the answer (SPEC 2.1), empty when nothing is granted"
    );
    let (_, claims) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.two");
    let v: Value = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let (_, claims) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], json!(["https://api.one", "https://api.two"]));
    let p = app
        .create_client_in(
            "default",
            json!({"client_id": "partner-c", "name": "x", "profile": "partner",
        "grant_types": ["client_credentials"], "scopes": []}),
        )
        .await;
    let v: Value = app
        .token_basic(&p, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let (_, claims) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "partners-api");
    assert_eq!(claims["token_use"], "partner");
    assert_eq!(v["expires_in"], 3600);
}

async fn a_client_not_registered_for_the_grant_is_unauthorized_client(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "code-only", "name": "x", "grant_types": ["authorization_code"],
        "scopes": [], "redirect_uris": ["https://app.example/cb"]}),
        )
        .await;
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "unauthorized_client");
}

async fn a_public_client_passes_authentication_for_every_grant_but_client_credentials(
    app: TestApp,
) {
    // Arrange: a public client (client_id alone) registered for every grant.
    const TX: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    app.create_client_in(
        "default",
        json!({"client_id": "pub", "name": "pub", "scopes": [],
        "grant_types": ["client_credentials", "authorization_code", "refresh_token", TX],
        "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let cases = [
        // Client credentials need a confidential client: authentication fails.
        (
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
        // Codes and refresh tokens pass authentication and fail on the grant itself.
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "no-such-code"),
                ("redirect_uri", "https://app.example/cb"),
            ],
            400,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "no-such-token"),
            ],
            400,
            "invalid_grant",
        ),
        // Token exchange lets the public client through and refuses it itself.
        (
            vec![
                ("grant_type", TX),
                ("subject_token", "x.y.z"),
                ("subject_token_type", ID_TOKEN),
            ],
            400,
            "unauthorized_client",
        ),
    ];
    for (mut form, status, error) in cases {
        form.push(("client_id", "pub"));
        // Act
        let r = app
            .http
            .post(app.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        // Assert
        assert_eq!(r.status().as_u16(), status, "{form:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], error, "{form:?}");
    }
}

async fn every_signing_algorithm_can_be_chosen_per_client(app: TestApp) {
    for alg in ["ES256", "EdDSA", "PS256", "RS256"] {
        let id = format!("alg-{}", alg.to_lowercase());
        let c = app
            .create_client_in(
                "default",
                json!({"client_id": id, "name": "x", "grant_types": ["client_credentials"],
            "scopes": [], "signing_alg": alg}),
            )
            .await;
        let token = app.access_token(&c, None).await;
        let (h, _) = decode_jwt(&token);
        assert_eq!(h["alg"], alg);
        tessera::keys::jws::verify(&token, &jwks(&app).await).expect(alg);
    }
}

fn assertion(key: &SigningKey, client: &str, aud: &str, jti: &str, exp: i64) -> String {
    let claims =
        json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "exp": exp, "iat": T0});
    key.sign_jwt(Typ::Jwt, claims.to_string().as_bytes())
        .unwrap()
}

async fn private_key_jwt_authenticates_and_rejects_replay_and_wrong_audience(app: TestApp) {
    let (key, _) = SigningKey::generate("ck1".into(), Alg::ES256).unwrap();
    app.create_client_in(
        "default",
        json!({"client_id": "pkj", "name": "x", "grant_types": ["client_credentials"], "scopes": [],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk()]}}),
    )
    .await;
    let send = |a: String| {
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials".to_string()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ),
                ("client_assertion", a),
            ])
            .send()
    };
    let a = assertion(&key, "pkj", &format!("{ISSUER}/oauth/token"), "j1", T0 + 60);
    let r = send(a.clone()).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(send(a).await.unwrap().status(), 401, "replayed jti");
    let wrong_aud = assertion(&key, "pkj", "https://other", "j2", T0 + 60);
    assert_eq!(send(wrong_aud).await.unwrap().status(), 401);
    let expired = assertion(&key, "pkj", ISSUER, "j3", T0 - 3600);
    assert_eq!(send(expired).await.unwrap().status(), 401);
    let (other, _) = SigningKey::generate("ck1".into(), Alg::ES256).unwrap();
    let forged = assertion(&other, "pkj", ISSUER, "j4", T0 + 60);
    assert_eq!(send(forged).await.unwrap().status(), 401);
}

async fn a_rotated_secret_keeps_working_only_during_the_grace_period(app: TestApp) {
    let c = app.create_client("rot").await;
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/clients/rot/secret/rotate",
            json!({"grace_seconds": 300}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let new = TestClient {
        secret: v["client_secret"].as_str().unwrap().into(),
        ..c.clone()
    };
    assert!(v["previous_expires_at"].is_string());
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    assert_eq!(
        app.token_basic(&new, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    app.clock.advance(301);
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.token_basic(&new, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
}

async fn an_imported_low_entropy_secret_is_verified_with_argon2(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "legacy", "name": "x", "grant_types": ["client_credentials"],
        "scopes": [], "client_secret": "legacy-pass-1"}),
        )
        .await;
    assert_eq!(c.secret, "", "an imported secret is never echoed");
    let c = TestClient {
        secret: "legacy-pass-1".into(),
        ..c
    };
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    let stored = app
        .tessera
        .store
        .find_client("legacy")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        stored.secrets.current,
        Some(tessera::tenants::SecretHash::Argon2(_))
    ));
}

async fn a_disabled_client_gets_invalid_client(app: TestApp) {
    let c = app.create_client("dis").await;
    let r = app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/tenants/default/clients/dis",
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        401
    );
}

async fn repeated_failures_are_rate_limited_per_address_but_others_are_served(app: TestApp) {
    let c = app.create_client("limited").await;
    let bad = TestClient {
        secret: "wrong".into(),
        ..c.clone()
    };
    for _ in 0..20 {
        assert_eq!(
            app.token_basic(&bad, &[("grant_type", "client_credentials")])
                .await
                .status(),
            401
        );
    }
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 60
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
    // The same client from another address is still served.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = other
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.clock.advance(60);
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
}

both_engines!(
    client_credentials_with_basic_returns_an_rfc9068_token,
    json_body_with_client_secret_post_gives_the_same_token_as_a_form,
    unknown_client_and_wrong_secret_answer_identically,
    basic_credentials_are_form_url_decoded,
    two_authentication_methods_at_once_are_invalid_request,
    protocol_errors_follow_rfc6749_section_5_2,
    audiences_and_ttl_follow_the_client_and_its_profile,
    a_client_not_registered_for_the_grant_is_unauthorized_client,
    a_public_client_passes_authentication_for_every_grant_but_client_credentials,
    every_signing_algorithm_can_be_chosen_per_client,
    private_key_jwt_authenticates_and_rejects_replay_and_wrong_audience,
    a_rotated_secret_keeps_working_only_during_the_grace_period,
    an_imported_low_entropy_secret_is_verified_with_argon2,
    a_disabled_client_gets_invalid_client,
    repeated_failures_are_rate_limited_per_address_but_others_are_served,
);
