//! "Sign in with …" an upstream OpenID provider on the login page (SPEC §2.4), against the
//! in-process provider of `idp`: the page offers it, Tessera goes there with PKCE S256, a
//! nonce and a signed state, and on the way back verifies the ID token and signs in the
//! tenant user its e-mail names; the original authorization request then goes on to a code.

use crate::both_engines;
use crate::helpers::*;
use crate::idp::{key, Idp, IDP_CLIENT_ID};
use crate::login_helpers::*;
use serde_json::json;
use tessera::keys::signer::Alg;

/// Tenant `default` trusts `idp` and has a login client `spa`; returns the authorize URL.
async fn setup(app: &TestApp, idp: &Idp, challenge: &str) -> String {
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"id": "corp", "issuer": idp.issuer, "client_id": IDP_CLIENT_ID, "name": "Corp SSO"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    login_client(app, "default", "spa", json!({})).await;
    authorize_url(
        app,
        "spa",
        &[
            ("scope", "openid email"),
            ("state", "s-1"),
            ("nonce", "n-1"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
}

/// The provider's redirect back names the issuer (`ISSUER`); the test server is on `app.base`.
fn on_test_server(app: &TestApp, r: &reqwest::Response) -> String {
    let loc = r.headers()["location"].to_str().unwrap();
    loc.replacen(ISSUER, &app.url(""), 1)
}

/// Opens the login page and presses "Sign in with Corp SSO": the 303 to the provider.
async fn leave_for_the_provider(app: &TestApp, b: &mut Browser, url: &str) -> reqwest::Response {
    let page = b.get(url).await.text().await.unwrap();
    assert!(page.contains("Sign in with Corp SSO"), "{page}");
    let form = &page[page.find("action=\"/login/upstream\"").unwrap()..];
    let (csrf, request) = (
        hidden(form, "csrf").unwrap(),
        hidden(form, "request").unwrap(),
    );
    b.post(
        &app.url("/login/upstream"),
        &[("csrf", &csrf), ("request", &request), ("upstream", "corp")],
    )
    .await
}

async fn an_upstream_e_mail_not_stated_as_verified_signs_nobody_in(app: TestApp) {
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "ann@example.com", T0);
    idp.without_email_verified();
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let (_, challenge) = pkce();
    let url = setup(&app, &idp, &challenge).await;
    let mut b = Browser::new();
    let out = leave_for_the_provider(&app, &mut b, &url).await;
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    let refused = b.get(&on_test_server(&app, &back)).await;
    assert_eq!(refused.status(), 401);
    assert!(!b.cookies.contains_key("tessera_session"));
}

async fn a_user_signs_in_with_an_upstream_provider_and_the_flow_goes_on(app: TestApp) {
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "ann@example.com", T0);
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let (verifier, challenge) = pkce();
    let url = setup(&app, &idp, &challenge).await;
    let mut b = Browser::new();

    let out = leave_for_the_provider(&app, &mut b, &url).await;
    assert_eq!(out.status(), 303);
    let to_idp = location_params(&out);
    assert_eq!(to_idp["client_id"], IDP_CLIENT_ID);
    assert_eq!(to_idp["code_challenge_method"], "S256");
    assert_eq!(
        to_idp["redirect_uri"],
        format!("{ISSUER}/login/upstream/callback")
    );
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    assert_eq!(back.status(), 303, "the provider sends the browser back");
    let done = b.get(&on_test_server(&app, &back)).await;
    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    let to_client = location_params(&done);
    assert_eq!(to_client["state"], "s-1");
    assert_eq!(idp.redeemed(), 1);

    let (status, v) = exchange(&app, "spa", &to_client["code"], &verifier).await;
    assert_eq!(status, 200, "{v}");
    let (_, id) = decode_jwt(v["id_token"].as_str().unwrap());
    assert_eq!(
        (id["email"].as_str(), id["nonce"].as_str()),
        (Some("ann@example.com"), Some("n-1"))
    );
    assert!(
        b.cookies.contains_key("tessera_session"),
        "signed in for later requests too"
    );
    let events = app.audit_events("limit=1000").await;
    assert!(events
        .iter()
        .any(|e| e["event"] == "login.succeeded" && e["actor"] == "upstream:corp"));
}

async fn an_upstream_sign_in_is_refused_for_a_stranger_a_forged_state_or_another_browser(
    app: TestApp,
) {
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "mallory@example.com", T0);
    let (_, challenge) = pkce();
    let url = setup(&app, &idp, &challenge).await;

    // The provider vouches for an e-mail that is no user of the tenant: an error page.
    let mut b = Browser::new();
    let out = leave_for_the_provider(&app, &mut b, &url).await;
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    let callback = on_test_server(&app, &back);
    let refused = b.get(&callback).await;
    assert_eq!(refused.status(), 404);
    assert!(!b.cookies.contains_key("tessera_session"));

    // The same callback in another browser (no matching CSRF cookie): refused before any
    // code is redeemed.
    let redeemed = idp.redeemed();
    let mut other = Browser::new();
    assert_eq!(other.get(&callback).await.status(), 403);
    // A state altered by one character: refused.
    let mut u = reqwest::Url::parse(&callback).unwrap();
    let params: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    u.query_pairs_mut().clear();
    for (k, v) in params {
        let v = if k == "state" { format!("x{v}") } else { v };
        u.query_pairs_mut().append_pair(&k, &v);
    }
    assert_eq!(b.get(u.as_str()).await.status(), 400);
    assert_eq!(idp.redeemed(), redeemed);
    // The state hides what it carries (the PKCE verifier above all) and expires.
    let state = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let opened = tessera::crypto::b64url_decode(&state).unwrap();
    assert!(!String::from_utf8_lossy(&opened).contains("verifier"));
    app.clock.advance(601);
    assert_eq!(b.get(&callback).await.status(), 400, "an expired state");
    assert_eq!(idp.redeemed(), redeemed);
}

async fn a_pushed_request_survives_the_trip_to_the_upstream_provider(app: TestApp) {
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "ann@example.com", T0);
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let (verifier, challenge) = pkce();
    setup(&app, &idp, &challenge).await;
    let r = app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/tenants/default/clients/spa",
            Some(json!({"require_pushed_authorization_requests": true})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let pushed: serde_json::Value = app
        .http
        .post(app.url("/oauth/par"))
        .form(&[
            ("client_id", "spa"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "s-par"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "spa")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let mut b = Browser::new();

    let out = leave_for_the_provider(&app, &mut b, url.as_str()).await;
    assert_eq!(out.status(), 303);
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    let done = b.get(&on_test_server(&app, &back)).await;

    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    let to_client = location_params(&done);
    assert_eq!(to_client["state"], "s-par");
    let (status, v) = exchange(&app, "spa", &to_client["code"], &verifier).await;
    assert_eq!(status, 200, "{v}");
    // Used: the same browser cannot start over with it.
    assert_eq!(b.get(url.as_str()).await.status(), 400);
}

both_engines!(
    a_user_signs_in_with_an_upstream_provider_and_the_flow_goes_on,
    a_pushed_request_survives_the_trip_to_the_upstream_provider,
    an_upstream_e_mail_not_stated_as_verified_signs_nobody_in,
    an_upstream_sign_in_is_refused_for_a_stranger_a_forged_state_or_another_browser,
);
