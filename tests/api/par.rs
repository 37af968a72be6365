//! Pushed authorization requests (RFC 9126, SPEC §9): `POST /oauth/par`, then
//! `/oauth/authorize?client_id=…&request_uri=…`, used once, by the pushing client, in time.

use crate::helpers::*;
use crate::login_helpers::*;
use crate::{both_engines, per_engine};
use serde_json::{json, Value};

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Pushes `form` as public client `client` (client_id in the body): status and body.
async fn push_public(app: &TestApp, client: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut body = vec![("client_id", client)];
    body.extend_from_slice(form);
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .form(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A server that believes `X-Forwarded-For` from 127.0.0.1 (the test itself), so a test can
/// push from any address.
async fn behind_a_proxy(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
    })
    .await
}

/// Pushes `form` as public client `client` from `address` (through the trusted proxy):
/// status, body and `Retry-After`.
async fn push_from(
    app: &TestApp,
    client: &str,
    address: &str,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut body = vec![("client_id", client)];
    body.extend_from_slice(form);
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .header("x-forwarded-for", address)
        .form(&body)
        .send()
        .await
        .unwrap();
    status_json_retry_after(r).await
}

/// Pushes `form` with HTTP Basic as `c`: status and body.
async fn push_basic(app: &TestApp, c: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The parameters of a good authorization request, with `challenge` and state `st-par`.
fn request(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid profile offline_access".into()),
        ("state", "st-par".into()),
        ("nonce", "n-par".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn borrowed<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Pushes a good request for public client `client`; returns (request_uri, verifier).
async fn pushed(app: &TestApp, client: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, v) = push_public(app, client, &borrowed(&request(&challenge))).await;
    assert_eq!(status, 201, "{v}");
    (v["request_uri"].as_str().unwrap().to_string(), verifier)
}

/// `/oauth/authorize` naming only `client_id` and `request_uri`.
fn par_url(app: &TestApp, client: &str, request_uri: &str) -> String {
    let mut url = reqwest::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("request_uri", request_uri);
    url.to_string()
}

/// An error page: 400 HTML, never a redirect.
async fn assert_error_page(r: reqwest::Response, case: &str) {
    assert_eq!(r.status(), 400, "{case}");
    assert!(r.headers().get("location").is_none(), "{case}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{case}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("start again"), "{case}: {html}");
}

/// Logs in on the page `url` shows and returns the redirect's parameters.
async fn code_via(
    app: &TestApp,
    b: &mut Browser,
    url: &str,
) -> std::collections::BTreeMap<String, String> {
    let r = submit_login(app, b, url, "ann@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(REDIRECT));
    location_params(&r)
}

async fn a_pushed_request_goes_through_the_login_page_to_tokens(app: TestApp) {
    let user = create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let (verifier, challenge) = pkce();

    let r = app
        .http
        .post(app.url("/oauth/par"))
        .form(
            &[vec![("client_id", "spa")], borrowed(&request(&challenge))]
                .concat()
                .to_vec(),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 60);
    let request_uri = v["request_uri"].as_str().unwrap();
    let random = request_uri.strip_prefix(PREFIX).unwrap();
    assert!(tessera::crypto::b64url_decode(random).unwrap().len() >= 32);
    // RFC 9126 §4: other query parameters are ignored (the pushed ones count).
    let url = format!(
        "{}&redirect_uri=https%3A%2F%2Fevil.test%2Fcb&state=forged&scope=openid",
        par_url(&app, "spa", request_uri)
    );
    let mut b = Browser::new();
    let page = b.get(&url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // The page carries the reference, never the pushed parameters.
    let posted = hidden(&html, "request").unwrap();
    assert!(posted.contains("request_uri=") && !posted.contains("st-par"));
    let q = code_via(&app, &mut b, &url).await;
    assert_eq!(q["state"], "st-par");
    assert_eq!(q["iss"], ISSUER);
    let (status, t) = exchange(&app, "spa", &q["code"], &verifier).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "openid profile offline_access");
    let (_, id) = decode_jwt(t["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user.as_str());
    assert_eq!(id["nonce"], "n-par");
    assert!(t["refresh_token"].is_string());
    // Only the hash of the random part is stored.
    let dump = serde_json::to_string(&app.audit_events("").await).unwrap();
    assert!(!dump.contains(random));
}

async fn a_request_uri_serves_one_browser_until_its_code_is_issued(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let (request_uri, verifier) = pushed(&app, "spa").await;
    let url = par_url(&app, "spa", &request_uri);
    let mut b = Browser::new();
    assert_eq!(b.get(&url).await.status(), 200);

    // Another browser (or a second call without the first one's cookies) is refused.
    assert_error_page(Browser::new().get(&url).await, "second browser").await;
    // The same browser may reload the page and get a password wrong.
    let page = b.get(&url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let (csrf, request) = (
        hidden(&html, "csrf").unwrap(),
        hidden(&html, "request").unwrap(),
    );
    let wrong = post_login(&app, &mut b, "ann@example.com", "wrong", &csrf, &request).await;
    assert_eq!(wrong.status(), 200);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Incorrect e-mail or password."));
    let q = code_via(&app, &mut b, &url).await;
    assert_eq!(q["state"], "st-par");
    assert_eq!(exchange(&app, "spa", &q["code"], &verifier).await.0, 200);

    // Used: refused even to the browser that used it, even with a live session.
    assert_error_page(b.get(&url).await, "used").await;
    let again = post_login(&app, &mut b, "ann@example.com", PASSWORD, &csrf, &request).await;
    assert_error_page(again, "posted again").await;
}

async fn a_request_uri_is_refused_to_another_client_and_when_unknown(app: TestApp) {
    login_client(&app, "default", "spa", json!({})).await;
    login_client(&app, "default", "other", json!({})).await;
    let (request_uri, _) = pushed(&app, "spa").await;
    let mut b = Browser::new();

    for (case, url) in [
        ("other client", par_url(&app, "other", &request_uri)),
        ("unknown client", par_url(&app, "nope", &request_uri)),
        (
            "unknown request_uri",
            par_url(
                &app,
                "spa",
                &format!("{PREFIX}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
        ),
        (
            "not ours",
            par_url(&app, "spa", "https://evil.test/request.jwt"),
        ),
        ("empty", par_url(&app, "spa", PREFIX)),
    ] {
        assert_error_page(b.get(&url).await, case).await;
    }
    let no_client = app.url(&format!(
        "/oauth/authorize?request_uri={}",
        request_uri.replace(':', "%3A")
    ));
    let r = b.get(&no_client).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Refusals did not open it: the pushing client's browser still can.
    assert_eq!(
        b.get(&par_url(&app, "spa", &request_uri)).await.status(),
        200
    );
}

async fn a_request_uri_expires_60_seconds_after_the_push_but_not_while_signing_in(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let (late, _) = pushed(&app, "spa").await;
    let (in_time, verifier) = pushed(&app, "spa").await;

    app.clock.advance(59);
    let mut b = Browser::new();
    let url = par_url(&app, "spa", &in_time);
    let page = b.get(&url).await;
    assert_eq!(page.status(), 200);
    app.clock.advance(1);
    assert_error_page(
        Browser::new().get(&par_url(&app, "spa", &late)).await,
        "expired",
    )
    .await;

    // Opened in time, it lives while the user signs in (here five minutes at the page).
    app.clock.advance(300);
    let q = code_via(&app, &mut b, &url).await;
    assert_eq!(exchange(&app, "spa", &q["code"], &verifier).await.0, 200);
    // The purge job drops expired rows.
    let purged = app
        .tessera
        .store
        .purge_expired_login(T0 + 361)
        .await
        .unwrap();
    assert!(purged >= 1);
}

async fn a_client_that_requires_par_is_refused_without_it_and_served_with_it(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let web = login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic",
               "require_pushed_authorization_requests": true, "consent_required": true}),
    )
    .await;
    let (verifier, challenge) = pkce();
    let plain = request(&challenge);
    let mut b = Browser::new();

    let r = b
        .get(&authorize_url(&app, "web", &borrowed(&plain)[2..]))
        .await;
    assert_eq!(r.status(), 302);
    let q = location_params(&r);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(
        q["error_description"],
        "pushed authorization request required"
    );
    assert_eq!(q["state"], "st-par");

    let (status, v) = push_basic(&app, &web, &borrowed(&plain)).await;
    assert_eq!(status, 201, "{v}");
    let url = par_url(&app, "web", v["request_uri"].as_str().unwrap());
    let page = b.get(&url).await;
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let request = hidden(&html, "request").unwrap();
    // A forged hidden request (the parameters themselves) does not count as pushed.
    let plain_query = authorize_url(&app, "web", &borrowed(&plain)[2..]);
    let forged_query = plain_query.split_once('?').unwrap().1;
    let forged = b
        .post(
            &app.url("/login"),
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("request", forged_query),
            ],
        )
        .await;
    assert_eq!(forged.status(), 303);
    assert_eq!(location_params(&forged)["error"], "invalid_request");
    // The pushed one passes the login post and the consent post.
    let consent = post_login(&app, &mut b, "ann@example.com", PASSWORD, &csrf, &request).await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(html.contains("allow"), "{html}");
    let r = b
        .post(
            &app.url("/login/consent"),
            &[
                ("decision", "allow"),
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("request", &hidden(&html, "request").unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let q = location_params(&r);
    assert_eq!(q["state"], "st-par");
    let t = app
        .token_basic(
            &web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(t.status(), 200);
}

async fn par_required_refuses_every_request_that_was_not_pushed(engine: Engine) {
    let Some(app) = spawn_app_with(engine, |s| s.par.required = true).await else {
        return;
    };
    login_client(&app, "default", "spa", json!({})).await;
    let (_, challenge) = pkce();
    let mut b = Browser::new();
    let r = b
        .get(&authorize_url(
            &app,
            "spa",
            &borrowed(&request(&challenge))[2..],
        ))
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(location_params(&r)["error"], "invalid_request");
    let m = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(m["require_pushed_authorization_requests"], true);

    let (request_uri, _) = pushed(&app, "spa").await;
    assert_eq!(
        b.get(&par_url(&app, "spa", &request_uri)).await.status(),
        200
    );
    // The console's built-in client is exempt: an operator can still sign in to it.
    let r = b.get(&app.url("/console/signin?tenant=default")).await;
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let page = b.get(&app.url(&to)).await;
    assert_eq!(page.status(), 200, "{to}");
    assert!(page.text().await.unwrap().contains("name=\"password\""));
}

async fn bad_pushed_requests_are_400_json(app: TestApp) {
    login_client(&app, "default", "spa", json!({})).await;
    let (_, challenge) = pkce();
    let good = request(&challenge);
    let with = |name: &'static str, value: &'static str| {
        let mut v: Vec<(&str, String)> = good.iter().filter(|(k, _)| *k != name).cloned().collect();
        if !value.is_empty() {
            v.push((name, value.to_string()));
        }
        v
    };
    for (case, form, error) in [
        (
            "unknown redirect_uri",
            with("redirect_uri", "https://evil.test/cb"),
            "invalid_request",
        ),
        (
            "no redirect_uri",
            with("redirect_uri", ""),
            "invalid_request",
        ),
        (
            "no code_challenge",
            {
                let mut v = with("code_challenge", "");
                v.retain(|(k, _)| *k != "code_challenge_method");
                v
            },
            "invalid_request",
        ),
        (
            "plain PKCE",
            with("code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            "request_uri inside",
            with("request_uri", "urn:ietf:params:oauth:request_uri:abc"),
            "invalid_request",
        ),
        (
            "token response",
            with("response_type", "token"),
            "unsupported_response_type",
        ),
        ("scope", with("scope", "admin:everything"), "invalid_scope"),
        (
            "request object",
            with("request", "eyJ.e30."),
            "request_not_supported",
        ),
    ] {
        let (status, v) = push_public(&app, "spa", &borrowed(&form)).await;
        assert_eq!(status, 400, "{case}: {v}");
        assert_eq!(v["error"], error, "{case}: {v}");
        assert!(v["error_description"].is_string(), "{case}");
    }
    // A client without the code grant, a JSON body, a client_id given twice.
    let machine = app.create_client("cc-only").await;
    let (status, v) = push_basic(&app, &machine, &borrowed(&good)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .json(&json!({"client_id": "spa", "response_type": "code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=spa&client_id=spa&response_type=code")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A pushed request too long to store.
    let long_scope = "openid ".repeat(2000);
    let mut long = with("scope", "");
    long.push(("scope", long_scope));
    let (status, v) = push_public(&app, "spa", &borrowed(&long)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

async fn an_unauthenticated_or_wrong_secret_push_is_401_invalid_client(app: TestApp) {
    let web = login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let (_, challenge) = pkce();
    let form = request(&challenge);
    let wrong = TestClient {
        secret: "wrong".into(),
        ..web.clone()
    };
    let (status, v) = push_basic(&app, &wrong, &borrowed(&form)).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    // A confidential client cannot pass as public, and no credentials at all is refused.
    let (status, v) = push_public(&app, "web", &borrowed(&form)).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .form(&borrowed(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // Basic with a wrong secret carries the Basic challenge.
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .basic_auth("web", Some("wrong"))
        .form(&borrowed(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // The right secret in the body (client_secret_post) is accepted.
    let mut body = vec![("client_id", "web"), ("client_secret", web.secret.as_str())];
    body.extend(borrowed(&form));
    let r = app
        .http
        .post(app.url("/oauth/par"))
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn a_client_holds_at_most_a_thousand_live_pushed_requests(engine: Engine) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    login_client(&app, "default", "spa", json!({})).await;
    let (_, challenge) = pkce();
    let form = request(&challenge);
    let form = borrowed(&form);
    // From ten addresses, each within its own cap of 100.
    for i in 0..1_000 {
        let address = format!("203.0.113.{}", i / 100 + 1);
        let (status, v, _) = push_from(&app, "spa", &address, &form).await;
        assert_eq!(status, 201, "push {i}: {v}");
    }
    let (status, v, retry) = push_from(&app, "spa", "198.51.100.1", &form).await;
    assert_eq!(
        (status, v["error"].as_str(), retry.as_deref()),
        (429, Some("temporarily_unavailable"), Some("60")),
        "{v}"
    );
    // Once they expire, pushing works again.
    app.clock.advance(61);
    let (status, _, _) = push_from(&app, "spa", "198.51.100.1", &form).await;
    assert_eq!(status, 201);
}

async fn one_address_holds_at_most_100_live_pushed_requests_of_a_public_client(engine: Engine) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    login_client(&app, "default", "spa", json!({})).await;
    login_client(&app, "default", "spa2", json!({})).await;
    let (_, challenge) = pkce();
    let form = request(&challenge);
    let form = borrowed(&form);
    let attacker = "2001:db8:0:1::7";
    for i in 0..100 {
        let (status, v, _) = push_from(&app, "spa", attacker, &form).await;
        assert_eq!(status, 201, "push {i}: {v}");
    }

    let (status, v, retry) = push_from(&app, "spa", attacker, &form).await;

    assert_eq!(
        (status, v["error"].as_str(), retry.as_deref()),
        (429, Some("temporarily_unavailable"), Some("60")),
        "{v}"
    );
    // Another host of the same IPv6 /64 is the same address to the cap.
    let (status, _, _) = push_from(&app, "spa", "2001:db8:0:1::8", &form).await;
    assert_eq!(status, 429);
    // Other addresses, and another client from this one, are still served.
    for (client, address) in [
        ("spa", "2001:db8:0:2::7"),
        ("spa", "203.0.113.9"),
        ("spa2", attacker),
    ] {
        let (status, v, _) = push_from(&app, client, address, &form).await;
        assert_eq!(status, 201, "{client} from {address}: {v}");
    }
    // Once its pushes expire, the address may push again.
    app.clock.advance(61);
    let (status, _, _) = push_from(&app, "spa", attacker, &form).await;
    assert_eq!(status, 201);
}

async fn a_confidential_client_pushing_from_one_server_is_held_by_the_client_cap_only(
    engine: Engine,
) {
    let Some(app) = behind_a_proxy(engine).await else {
        return;
    };
    let web = login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let (_, challenge) = pkce();
    let form = request(&challenge);
    let form = borrowed(&form);
    // Its backend pushes every user's sign-in from one address: 101 live ones are fine.
    for i in 0..101 {
        let r = app
            .http
            .post(app.url("/oauth/par"))
            .basic_auth(&web.id, Some(&web.secret))
            .header("x-forwarded-for", "203.0.113.9")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "push {i}");
    }
}

async fn discovery_lists_the_par_endpoint(app: TestApp) {
    for doc in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let m = app.get_json(doc).await;
        assert_eq!(
            m["pushed_authorization_request_endpoint"],
            format!("{ISSUER}/oauth/par"),
            "{doc}"
        );
        assert_eq!(m["require_pushed_authorization_requests"], false, "{doc}");
    }
}

async fn racing_uses_of_one_request_uri_get_one_code(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    // Signed in already, so every use issues a code at once (no page).
    let (first, _) = pushed(&app, "spa").await;
    let mut b = Browser::new();
    code_via(&app, &mut b, &par_url(&app, "spa", &first)).await;
    let (request_uri, _) = pushed(&app, "spa").await;
    let url = par_url(&app, "spa", &request_uri);
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");

    let uses = (0..8).map(|_| b.http.get(&url).header("cookie", cookie.clone()).send());
    let answers = futures::future::join_all(uses).await;

    let statuses: Vec<u16> = answers
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        7,
        "{statuses:?}"
    );
}

both_engines!(
    a_pushed_request_goes_through_the_login_page_to_tokens,
    a_request_uri_serves_one_browser_until_its_code_is_issued,
    a_request_uri_is_refused_to_another_client_and_when_unknown,
    a_request_uri_expires_60_seconds_after_the_push_but_not_while_signing_in,
    a_client_that_requires_par_is_refused_without_it_and_served_with_it,
    bad_pushed_requests_are_400_json,
    an_unauthenticated_or_wrong_secret_push_is_401_invalid_client,
    discovery_lists_the_par_endpoint,
    racing_uses_of_one_request_uri_get_one_code,
);

/// The caps on live pushes, from addresses a trusted proxy forwards.
mod caps {
    use super::*;
    per_engine!(
        a_client_holds_at_most_a_thousand_live_pushed_requests,
        one_address_holds_at_most_100_live_pushed_requests_of_a_public_client,
        a_confidential_client_pushing_from_one_server_is_held_by_the_client_cap_only,
    );
}

mod required {
    use super::*;
    per_engine!(par_required_refuses_every_request_that_was_not_pushed);
}
