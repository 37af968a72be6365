//! The device authorization grant (RFC 8628, SPEC §9): `/oauth/device_authorization`, the
//! `/device` pages driven by a scripted browser, and polling the token endpoint on the
//! injected clock.

use crate::helpers::*;
use crate::idp::{key, Idp, IDP_CLIENT_ID};
use crate::login_helpers::*;
use crate::{both_engines, per_engine};
use serde_json::{json, Value};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public device client `id` in `tenant` (the grant, refresh tokens, OIDC scopes and `read`).
async fn device_client(app: &TestApp, tenant: &str, id: &str) -> TestClient {
    app.create_client_in(
        tenant,
        json!({"client_id": id, "name": format!("TV {id}"), "grant_types": [DEVICE_GRANT],
               "scopes": ["openid", "profile", "email", "offline_access", "read"],
               "token_endpoint_auth_method": "none"}),
    )
    .await
}

/// `POST /oauth/device_authorization` as public client `client`.
async fn start(app: &TestApp, client: &str, scope: &str) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/oauth/device_authorization"))
        .form(&[("client_id", client), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    (status, r.json().await.unwrap())
}

/// `POST /oauth/device_authorization` as public client `client` from `address`, forwarded
/// by the trusted proxy of [`behind_a_proxy`]: status, body and `Retry-After`.
async fn start_from(app: &TestApp, client: &str, address: &str) -> (u16, Value, Option<String>) {
    let r = app
        .http
        .post(app.url("/oauth/device_authorization"))
        .header("x-forwarded-for", address)
        .form(&[("client_id", client), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    status_json_retry_after(r).await
}

/// A server that believes `X-Forwarded-For` from 127.0.0.1 (the test itself), so a test can
/// ask from any address.
async fn behind_a_proxy(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
    })
    .await
}

/// A device authorization that must succeed: its `device_code` and `user_code`.
async fn started(app: &TestApp, client: &str, scope: &str) -> (String, String) {
    let (status, v) = start(app, client, scope).await;
    assert_eq!(status, 200, "{v}");
    (
        v["device_code"].as_str().unwrap().to_string(),
        v["user_code"].as_str().unwrap().to_string(),
    )
}

/// One poll of the token endpoint by public client `client`.
async fn poll(app: &TestApp, client: &str, device_code: &str) -> (u16, Value) {
    token(
        app,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client),
            ("device_code", device_code),
        ],
    )
    .await
}

/// The `error` of a poll that must fail with 400.
async fn poll_error(app: &TestApp, client: &str, device_code: &str) -> String {
    let (status, v) = poll(app, client, device_code).await;
    assert_eq!(status, 400, "{v}");
    v["error"].as_str().unwrap().to_string()
}

/// Opens `/device` (prefilled with `prefill`) and posts `typed`; returns the answer.
async fn enter_code(
    app: &TestApp,
    b: &mut Browser,
    prefill: Option<&str>,
    typed: &str,
) -> reqwest::Response {
    let url = match prefill {
        Some(c) => format!("{}?user_code={c}", app.url("/device")),
        None => app.url("/device"),
    };
    let page = b.get(&url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    if let Some(c) = prefill {
        assert!(html.contains(&format!("value=\"{c}\"")), "{html}");
    }
    let csrf = hidden(&html, "csrf").expect("csrf field");
    b.post(
        &app.url("/device"),
        &[("csrf", csrf.as_str()), ("user_code", typed)],
    )
    .await
}

/// Posts the login form of a login page to `/login` as `email`.
async fn sign_in(
    app: &TestApp,
    b: &mut Browser,
    login_page: &str,
    email: &str,
) -> reqwest::Response {
    let csrf = hidden(login_page, "csrf").expect("csrf field");
    let request = hidden(login_page, "request").expect("request field");
    post_login(app, b, email, PASSWORD, &csrf, &request).await
}

/// Posts the consent screen's decision; returns the closing page.
async fn decide(app: &TestApp, b: &mut Browser, consent_page: &str, decision: &str) -> String {
    let csrf = hidden(consent_page, "csrf").expect("csrf field");
    let code = hidden(consent_page, "user_code").expect("user_code field");
    let r = b
        .post(
            &app.url("/device"),
            &[
                ("csrf", csrf.as_str()),
                ("user_code", code.as_str()),
                ("decision", decision),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The whole browser side for a browser without a session: code, sign-in, consent page.
async fn consent_page_after_sign_in(
    app: &TestApp,
    b: &mut Browser,
    user_code: &str,
    email: &str,
) -> String {
    let r = enter_code(app, b, Some(user_code), user_code).await;
    assert_eq!(r.status(), 200);
    let login = r.text().await.unwrap();
    assert!(login.contains("action=\"/login\""), "{login}");
    let r = sign_in(app, b, &login, email).await;
    assert_eq!(r.status(), 200);
    let consent = r.text().await.unwrap();
    assert!(consent.contains("id=\"device-consent\""), "{consent}");
    consent
}

async fn the_device_flow_issues_user_tokens_once_the_user_approves(app: TestApp) {
    app.create_tenant("acme").await;
    let user = create_user(&app, "acme", "ann@example.com", json!({"scopes": ["read"]})).await;
    device_client(&app, "acme", "tv").await;

    let (status, v) = start(&app, "tv", "openid offline_access read").await;
    assert_eq!(status, 200, "{v}");
    let device_code = v["device_code"].as_str().unwrap();
    let user_code = v["user_code"].as_str().unwrap();
    assert!(tessera::crypto::b64url_decode(device_code).unwrap().len() >= 16);
    assert_eq!(user_code.len(), 9);
    assert!(user_code.chars().enumerate().all(|(i, c)| if i == 4 {
        c == '-'
    } else {
        "BCDFGHJKLMNPQRSTVWXZ".contains(c)
    }));
    assert_eq!(v["verification_uri"], format!("{ISSUER}/device"));
    assert_eq!(
        v["verification_uri_complete"],
        format!("{ISSUER}/device?user_code={user_code}")
    );
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["interval"], 5);

    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, user_code, "ann@example.com").await;
    assert!(
        consent.contains("TV tv") && consent.contains(user_code),
        "{consent}"
    );
    for s in ["openid", "offline_access", "read"] {
        assert!(consent.contains(&format!("<li>{s}</li>")), "{consent}");
    }
    let done = decide(&app, &mut b, &consent, "allow").await;
    assert!(done.contains("Device connected"), "{done}");

    app.clock.advance(5);
    let (status, v) = poll(&app, "tv", device_code).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "openid offline_access read");
    let (_, at) = decode_jwt(v["access_token"].as_str().unwrap());
    assert_eq!(at["token_use"], "user");
    assert_eq!(at["sub"], user.as_str());
    assert_eq!(at["client_id"], "tv");
    assert_eq!(at["tenant_id"], "acme");
    assert!(app
        .tessera
        .keys
        .verify(v["access_token"].as_str().unwrap())
        .is_ok());
    let (_, id) = decode_jwt(v["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user.as_str());
    assert_eq!(id["aud"], "tv");
    assert_eq!(id["auth_time"], T0);
    // The refresh token works for the device client.
    let (status, r) = refresh(&app, "tv", v["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{r}");

    let events = app.audit_events("tenant=acme").await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for e in [
        "device_code.issued",
        "login.succeeded",
        "device.approved",
        "token.issued",
    ] {
        assert!(names.contains(&e), "{names:?}");
    }
    let dump = serde_json::to_string(&events).unwrap();
    assert!(!dump.contains(device_code) && !dump.contains(user_code));
}

async fn a_signed_in_browser_goes_straight_to_consent_and_codes_match_case_and_dash_blind(
    app: TestApp,
) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (first, code1) = started(&app, "tv", "openid").await;
    let (second, code2) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    consent_page_after_sign_in(&app, &mut b, &code1, "ann@example.com").await;

    // The session signs the second one in; typed lower-case, without the dash, with spaces.
    let typed = format!(" {} ", code2.replace('-', "").to_lowercase());
    let r = enter_code(&app, &mut b, None, &typed).await;
    assert_eq!(r.status(), 200);
    let consent = r.text().await.unwrap();
    assert!(consent.contains("id=\"device-consent\""), "{consent}");
    assert_eq!(hidden(&consent, "user_code").unwrap(), code2);
    assert!(decide(&app, &mut b, &consent, "allow")
        .await
        .contains("Device connected"));
    let (status, v) = poll(&app, "tv", &second).await;
    assert_eq!(status, 200, "{v}");
    // The first one was never decided.
    assert_eq!(
        poll_error(&app, "tv", &first).await,
        "authorization_pending"
    );
    // Other spellings find the same code.
    let (_, code3) = started(&app, "tv", "openid").await;
    for typed in [
        code3.to_lowercase(),
        code3.replace('-', " "),
        code3.replace('-', ""),
    ] {
        let r = enter_code(&app, &mut b, None, &typed).await;
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"device-consent\""), "{typed}: {html}");
    }
}

async fn an_approved_device_gets_only_the_scopes_the_user_still_holds(app: TestApp) {
    let user = create_user(
        &app,
        "default",
        "sam@example.com",
        json!({"scopes": ["read"]}),
    )
    .await;
    device_client(&app, "default", "tv2").await;
    let (status, v) = start(&app, "tv2", "openid read").await;
    assert_eq!(status, 200, "{v}");
    let device_code = v["device_code"].as_str().unwrap().to_string();
    let user_code = v["user_code"].as_str().unwrap().to_string();
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "sam@example.com").await;
    decide(&app, &mut b, &consent, "allow").await;
    // The administrator takes `read` away before the device polls.
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/tenants/default/users/{user}"),
            Some(json!({"scopes": []})),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.clock.advance(5);
    let (status, v) = poll(&app, "tv2", &device_code).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["scope"], "openid");
}

async fn polling_before_approval_is_authorization_pending(app: TestApp) {
    device_client(&app, "default", "tv").await;
    let (device_code, _) = started(&app, "tv", "openid").await;
    assert_eq!(
        poll_error(&app, "tv", &device_code).await,
        "authorization_pending"
    );
    app.clock.advance(5);
    let (status, v) = poll(&app, "tv", &device_code).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    assert!(v["error_description"].as_str().is_some());
}

async fn polling_faster_than_the_interval_is_slow_down_and_the_interval_grows(app: TestApp) {
    device_client(&app, "default", "tv").await;
    let (device_code, _) = started(&app, "tv", "openid").await;
    assert_eq!(
        poll_error(&app, "tv", &device_code).await,
        "authorization_pending"
    );
    // At once: too soon; the interval is now 10 s.
    assert_eq!(poll_error(&app, "tv", &device_code).await, "slow_down");
    // 5 s was enough before, not now; the interval is now 15 s.
    app.clock.advance(5);
    let (status, v) = poll(&app, "tv", &device_code).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("slow_down")));
    assert!(
        v["error_description"].as_str().unwrap().contains("15"),
        "{v}"
    );
    app.clock.advance(14);
    assert_eq!(poll_error(&app, "tv", &device_code).await, "slow_down");
    // Remembered for this device code: 20 s from here is on time, and so on.
    app.clock.advance(20);
    assert_eq!(
        poll_error(&app, "tv", &device_code).await,
        "authorization_pending"
    );
    app.clock.advance(20);
    assert_eq!(
        poll_error(&app, "tv", &device_code).await,
        "authorization_pending"
    );
    // Another device code of the same client keeps its own 5 s.
    let (other, _) = started(&app, "tv", "openid").await;
    assert_eq!(
        poll_error(&app, "tv", &other).await,
        "authorization_pending"
    );
    app.clock.advance(5);
    assert_eq!(
        poll_error(&app, "tv", &other).await,
        "authorization_pending"
    );
}

async fn a_device_the_user_denies_gets_access_denied(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "ann@example.com").await;
    let done = decide(&app, &mut b, &consent, "deny").await;
    assert!(done.contains("Access denied"), "{done}");
    assert_eq!(poll_error(&app, "tv", &device_code).await, "access_denied");
    // The code is decided: it cannot be approved afterwards.
    let r = enter_code(&app, &mut b, None, &user_code).await;
    assert!(r.text().await.unwrap().contains("not valid"));
    app.clock.advance(5);
    assert_eq!(poll_error(&app, "tv", &device_code).await, "access_denied");
    let names: Vec<String> = app
        .audit_events("tenant=default")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "device.denied"), "{names:?}");
}

async fn a_device_code_expires_after_600_seconds(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    app.clock.advance(599);
    assert_eq!(
        poll_error(&app, "tv", &device_code).await,
        "authorization_pending"
    );
    app.clock.advance(1);
    assert_eq!(poll_error(&app, "tv", &device_code).await, "expired_token");
    // Nor can the user approve it any more.
    let mut b = Browser::new();
    let r = enter_code(&app, &mut b, Some(&user_code), &user_code).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("not valid") && html.contains("id=\"device\""),
        "{html}"
    );
}

async fn an_approval_that_outlives_the_code_is_expired_token(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "ann@example.com").await;
    app.clock.advance(600);
    // Deciding after expiry: the page says the code is no longer valid.
    let csrf = hidden(&consent, "csrf").unwrap();
    let r = b
        .post(
            &app.url("/device"),
            &[
                ("csrf", csrf.as_str()),
                ("user_code", user_code.as_str()),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(r.text().await.unwrap().contains("not valid"));
    assert_eq!(poll_error(&app, "tv", &device_code).await, "expired_token");
}

async fn a_device_code_is_redeemed_once(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid offline_access").await;
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "ann@example.com").await;
    decide(&app, &mut b, &consent, "allow").await;
    let (status, v) = poll(&app, "tv", &device_code).await;
    assert_eq!(status, 200, "{v}");
    app.clock.advance(5);
    let (status, again) = poll(&app, "tv", &device_code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
    app.clock.advance(5);
    assert_eq!(poll_error(&app, "tv", &device_code).await, "invalid_grant");
    // Unknown device codes are invalid_grant too.
    assert_eq!(
        poll_error(&app, "tv", "no-such-device-code").await,
        "invalid_grant"
    );
}

async fn a_password_change_drops_the_device_codes_the_user_approved(app: TestApp) {
    let user = create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "ann@example.com").await;
    decide(&app, &mut b, &consent, "allow").await;
    let r = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/tenants/default/users/{user}"),
            Some(json!({"password": "another long password"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(poll_error(&app, "tv", &device_code).await, "invalid_grant");
}

async fn a_device_code_is_refused_to_another_client(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    device_client(&app, "default", "console").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let consent = consent_page_after_sign_in(&app, &mut b, &user_code, "ann@example.com").await;
    decide(&app, &mut b, &consent, "allow").await;
    assert_eq!(
        poll_error(&app, "console", &device_code).await,
        "invalid_grant"
    );
    assert_eq!(
        poll_error(&app, "console", &device_code).await,
        "invalid_grant"
    );
    // The other client's polls neither spent the code nor slowed the device down.
    let (status, v) = poll(&app, "tv", &device_code).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        decode_jwt(v["access_token"].as_str().unwrap()).1["client_id"],
        "tv"
    );
}

async fn a_client_not_registered_for_the_device_grant_is_unauthorized_client(app: TestApp) {
    login_client(&app, "default", "spa", json!({})).await;
    let (status, v) = start(&app, "spa", "openid").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{v}"
    );
    let (status, v) = poll(&app, "spa", "whatever").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{v}"
    );
    // A confidential client registered for the grant authenticates as at the token endpoint.
    let conf = app
        .create_client_in(
            "default",
            json!({"client_id": "box", "name": "Box", "grant_types": [DEVICE_GRANT],
                   "scopes": ["openid"]}),
        )
        .await;
    let form = [("scope", "openid")];
    let r = app
        .http
        .post(app.url("/oauth/device_authorization"))
        .basic_auth(&conf.id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .post(app.url("/oauth/device_authorization"))
        .form(&[("client_id", "box"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a confidential client must authenticate");
    let r = app
        .http
        .post(app.url("/oauth/device_authorization"))
        .basic_auth(&conf.id, Some(&conf.secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Scopes are checked as at the authorization endpoint.
    device_client(&app, "default", "tv").await;
    let (status, v) = start(&app, "tv", "openid write").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_scope")),
        "{v}"
    );
    let (status, v) = start(&app, "nobody", "openid").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
}

async fn the_device_page_needs_its_csrf_token_and_escapes_what_it_shows(app: TestApp) {
    device_client(&app, "default", "tv").await;
    let (_, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let r = b
        .get(&app.url("/device?user_code=%22%3E%3Cscript%3E"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(!html.contains("\"><script>"), "{html}");
    let r = b
        .post(&app.url("/device"), &[("user_code", user_code.as_str())])
        .await;
    assert_eq!(r.status(), 403);
    let r = b
        .post(
            &app.url("/device"),
            &[("csrf", "forged"), ("user_code", user_code.as_str())],
        )
        .await;
    assert_eq!(r.status(), 403);
    // A device request cannot be slipped into the authorization code's consent form.
    let page = b.get(&app.url("/device")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let request = format!("device:{}", user_code.replace('-', ""));
    let r = b
        .post(
            &app.url("/login/consent"),
            &[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
}

async fn a_user_approves_a_device_after_signing_in_with_an_upstream_provider(app: TestApp) {
    let idp = Idp::start().await;
    let k = key("corp-1", tessera::keys::signer::Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "ann@example.com", T0);
    let user = create_user(&app, "default", "ann@example.com", json!({})).await;
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"id": "corp", "issuer": idp.issuer, "client_id": IDP_CLIENT_ID, "name": "Corp SSO"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    device_client(&app, "default", "tv").await;
    let (device_code, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    let login = enter_code(&app, &mut b, None, &user_code)
        .await
        .text()
        .await
        .unwrap();
    assert!(login.contains("Sign in with Corp SSO"), "{login}");
    let form = &login[login.find("action=\"/login/upstream\"").unwrap()..];
    let (csrf, request) = (
        hidden(form, "csrf").unwrap(),
        hidden(form, "request").unwrap(),
    );
    let out = b
        .post(
            &app.url("/login/upstream"),
            &[("csrf", &csrf), ("request", &request), ("upstream", "corp")],
        )
        .await;
    assert_eq!(out.status(), 303);
    // The user code travels inside the encrypted state, not in the clear.
    let to_idp = out.headers()["location"].to_str().unwrap().to_string();
    assert!(!to_idp.contains(&user_code.replace('-', "")), "{to_idp}");
    let back = b.get(&to_idp).await;
    assert_eq!(back.status(), 303);
    let loc = back.headers()["location"].to_str().unwrap();
    let consent = b.get(&loc.replacen(ISSUER, &app.url(""), 1)).await;
    assert_eq!(consent.status(), 200);
    let consent = consent.text().await.unwrap();
    assert!(consent.contains("id=\"device-consent\""), "{consent}");
    assert!(decide(&app, &mut b, &consent, "allow")
        .await
        .contains("Device connected"));
    let (status, v) = poll(&app, "tv", &device_code).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        decode_jwt(v["access_token"].as_str().unwrap()).1["sub"],
        user.as_str()
    );
}

async fn discovery_lists_the_device_authorization_endpoint(app: TestApp) {
    for doc in ["openid-configuration", "oauth-authorization-server"] {
        let m = app.get_json(&format!("/.well-known/{doc}")).await;
        assert_eq!(
            m["device_authorization_endpoint"],
            format!("{ISSUER}/oauth/device_authorization")
        );
        assert!(m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(DEVICE_GRANT)));
    }
}

both_engines!(
    the_device_flow_issues_user_tokens_once_the_user_approves,
    an_approved_device_gets_only_the_scopes_the_user_still_holds,
    a_signed_in_browser_goes_straight_to_consent_and_codes_match_case_and_dash_blind,
    polling_before_approval_is_authorization_pending,
    polling_faster_than_the_interval_is_slow_down_and_the_interval_grows,
    a_device_the_user_denies_gets_access_denied,
    a_device_code_expires_after_600_seconds,
    an_approval_that_outlives_the_code_is_expired_token,
    a_device_code_is_redeemed_once,
    a_password_change_drops_the_device_codes_the_user_approved,
    a_device_code_is_refused_to_another_client,
    a_client_not_registered_for_the_device_grant_is_unauthorized_client,
    the_device_page_needs_its_csrf_token_and_escapes_what_it_shows,
    a_user_approves_a_device_after_signing_in_with_an_upstream_provider,
    discovery_lists_the_device_authorization_endpoint,
);

async fn wrong_user_codes_count_as_failed_authentications_and_are_limited(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |s| s.limits.failed_auth_per_minute = 3).await else {
        return;
    };
    create_user(&app, "default", "ann@example.com", json!({})).await;
    device_client(&app, "default", "tv").await;
    let (_, user_code) = started(&app, "tv", "openid").await;
    let mut b = Browser::new();
    for wrong in ["BCDF-GHJK", "not a code", ""] {
        let wrong = if wrong == "BCDF-GHJK" && user_code == wrong {
            "BCDF-GHJL"
        } else {
            wrong
        };
        let r = enter_code(&app, &mut b, None, wrong).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("not valid") && html.contains("id=\"device\""),
            "{html}"
        );
    }
    // Past the limit even the right code is refused, on /device and through /login alike.
    let r = enter_code(&app, &mut b, None, &user_code).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let page = b.get(&app.url("/device")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let request = format!("device:{}", user_code.replace('-', ""));
    let r = b
        .post(
            &app.url("/login"),
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 429);
    // A minute later the right code is served (and the address may read the audit again).
    app.clock.advance(60);
    let events = app.audit_events("event=device.user_code_failed").await;
    assert!(!events.is_empty());
    let r = enter_code(&app, &mut b, None, &user_code).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("action=\"/login\""));
}

async fn concurrent_user_code_guesses_never_pass_the_limit(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |s| s.limits.failed_auth_per_minute = 5).await else {
        return;
    };
    let mut b = Browser::new();
    let page = b.get(&app.url("/device")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let guesses = (0..40).map(|i| {
        let (http, url, csrf, cookie) = (
            b.http.clone(),
            app.url("/device"),
            csrf.clone(),
            cookie.clone(),
        );
        tokio::spawn(async move {
            let code = format!("BCDF-GH{}", ["JK", "JL", "JM", "JN"][i % 4]);
            http.post(url)
                .header("cookie", cookie)
                .form(&[("csrf", csrf.as_str()), ("user_code", code.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let answered = statuses.iter().filter(|s| **s == 200).count();
    assert!(answered <= 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
}

async fn one_address_holds_at_most_100_live_device_codes_of_a_public_client_even_when_sent_at_once(
    engine: Engine,
) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    device_client(&app, "default", "tv").await;
    device_client(&app, "default", "radio").await;
    let attacker = "2001:db8:0:1::7";
    // Sent all at once: the count and the insert are one step, so exactly 100 pass.
    let answers =
        futures::future::join_all((0..130).map(|_| start_from(&app, "tv", attacker))).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(passed, 100, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );

    let (status, v, retry) = start_from(&app, "tv", attacker).await;

    assert_eq!(
        (status, v["error"].as_str(), retry.as_deref()),
        (429, Some("temporarily_unavailable"), Some("60")),
        "{v}"
    );
    // Another host of the same IPv6 /64 is the same address to the cap.
    let (status, _, _) = start_from(&app, "tv", "2001:db8:0:1::8").await;
    assert_eq!(status, 429);
    // The client's real devices elsewhere, and another client from this address, get codes.
    for (client, address) in [
        ("tv", "2001:db8:0:2::7"),
        ("tv", "203.0.113.9"),
        ("radio", attacker),
    ] {
        let (status, v, _) = start_from(&app, client, address).await;
        assert_eq!(status, 200, "{client} from {address}: {v}");
    }
    // Once its codes expire, the address may ask again.
    app.clock.advance(601);
    let (status, _, _) = start_from(&app, "tv", attacker).await;
    assert_eq!(status, 200);
}

async fn a_confidential_device_client_is_held_by_the_client_cap_only(engine: Engine) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "kiosk-hub", "name": "Kiosk hub", "grant_types": [DEVICE_GRANT],
                   "scopes": ["openid"], "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    // A server asking for many devices from one address proves its secret each time.
    for i in 0..101 {
        let r = app
            .http
            .post(app.url("/oauth/device_authorization"))
            .basic_auth(&c.id, Some(&c.secret))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&[("scope", "openid")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {i}");
    }
}

mod limited {
    use super::*;
    per_engine!(
        wrong_user_codes_count_as_failed_authentications_and_are_limited,
        concurrent_user_code_guesses_never_pass_the_limit,
        one_address_holds_at_most_100_live_device_codes_of_a_public_client_even_when_sent_at_once,
        a_confidential_device_client_is_held_by_the_client_cap_only,
    );
}
