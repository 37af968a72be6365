//! The web admin console (SPEC §8) over HTTP: sign-in through Tessera's own login page, reach,
//! CSRF, security headers, field errors, and the audit actor of console changes.

use crate::both_engines;
use crate::helpers::*;
use crate::idp::{key, Idp, IDP_CLIENT_ID};
use crate::login_helpers::*;
use serde_json::{json, Value};
use tessera::keys::signer::Alg;

/// Signs `email` (password [`PASSWORD`]) in to the console of `tenant` the way a browser does:
/// the sign-in form, the authorization endpoint, the login page, the callback. Returns the
/// callback's response.
pub async fn console_sign_in(
    app: &TestApp,
    b: &mut Browser,
    tenant: &str,
    email: &str,
) -> reqwest::Response {
    let r = b
        .get(&app.url(&format!("/console/signin?tenant={tenant}")))
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    assert!(authorize.starts_with("/oauth/authorize?"), "{authorize}");
    let login = submit_login(app, b, &app.url(&authorize), email, PASSWORD).await;
    assert_eq!(login.status(), 303, "{}", login.text().await.unwrap());
    // The issuer's callback (the test server's issuer is not its address).
    let callback = reqwest::Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(callback.path(), "/console/callback");
    b.get(&app.url(&format!("/console/callback?{}", callback.query().unwrap())))
        .await
}

/// An administrator of `tenant`, signed in; returns the browser.
pub(crate) async fn signed_in_admin(app: &TestApp, tenant: &str, email: &str) -> Browser {
    create_user(app, tenant, email, json!({"roles": ["admin"]})).await;
    let mut b = Browser::new();
    let r = console_sign_in(app, &mut b, tenant, email).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Signed in as"), "{html}");
    b
}

pub(crate) async fn page(b: &mut Browser, url: &str) -> (u16, String) {
    let r = b.get(url).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The CSRF token of a console page's forms.
pub(crate) fn csrf_of(html: &str) -> String {
    hidden(html, "csrf").expect("a csrf field")
}

async fn an_admin_signs_in_through_the_login_page_and_gets_a_strict_session(app: TestApp) {
    create_user(
        &app,
        "default",
        "root@example.com",
        json!({"roles": ["admin"]}),
    )
    .await;
    let mut b = Browser::new();
    let r = console_sign_in(&app, &mut b, "default", "root@example.com").await;
    assert_eq!(r.status(), 200);
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("tessera_console="))
        .expect("a console session cookie")
        .clone();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (status, html) = page(&mut b, &app.url("/console")).await;
    assert_eq!(status, 303, "{html}");
    let r = b.get(&app.url("/console/t/default")).await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("root@example.com"));
    assert!(html.contains("id=\"count-clients\""));
    assert!(!html.contains("<script>"), "no inline script");
}

async fn pages_without_a_session_send_the_browser_to_sign_in(app: TestApp) {
    let mut b = Browser::new();
    for path in [
        "/console/t/default",
        "/console/t/default/clients",
        "/console/keys",
    ] {
        let r = b.get(&app.url(path)).await;
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/console", "{path}");
    }
    let r = b
        .post(&app.url("/console/t/default/clients"), &[("name", "x")])
        .await;
    assert_eq!(r.status(), 303);
    assert!(app
        .admin_get("/admin/v1/tenants/default/clients")
        .await
        .json::<Value>()
        .await
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // The root goes to the console; the sign-in page says how to make the first admin.
    let r = b.get(&app.url("/")).await;
    assert_eq!(r.headers()["location"], "/console");
    let (status, html) = page(&mut b, &app.url("/console")).await;
    assert_eq!(status, 200);
    assert!(html.contains("No administrator exists yet"), "{html}");
    assert!(html.contains("tessera user add --tenant default"));
}

async fn a_user_without_the_admin_role_gets_a_403_page(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    let mut b = Browser::new();
    let r = console_sign_in(&app, &mut b, "default", "ann@example.com").await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("does not hold"), "{html}");
    assert!(!b.cookies.contains_key("tessera_console"));
    let r = b.get(&app.url("/console/t/default")).await;
    assert_eq!(r.status(), 303);
}

async fn a_client_created_in_the_console_shows_its_secret_once_and_that_secret_gets_a_token(
    app: TestApp,
) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let (_, form) = page(&mut b, &app.url("/console/t/default/clients/new")).await;
    let csrf = csrf_of(&form);
    let r = b
        .post(
            &app.url("/console/t/default/clients"),
            &[
                ("csrf", &csrf),
                ("client_id", "billing"),
                ("name", "Billing"),
                ("grant_types", "client_credentials"),
                ("scopes", "read write"),
                ("audiences", "https://api.example"),
                ("token_endpoint_auth_method", "client_secret_basic"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.unwrap();
    let start =
        html.find("<code id=\"secret\">").expect("the secret") + "<code id=\"secret\">".len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_string();
    assert!(secret.len() >= 40, "{secret}");
    let client = TestClient {
        id: "billing".into(),
        secret: secret.clone(),
        tenant: "default".into(),
    };
    let r = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    // Never shown again.
    let (status, html) = page(&mut b, &app.url("/console/t/default/clients/billing")).await;
    assert_eq!(status, 200);
    assert!(!html.contains(&secret));
    let (_, list) = page(&mut b, &app.url("/console/t/default/clients?q=bill")).await;
    assert!(list.contains("billing") && !list.contains(&secret));
    // The change is audited with the signed-in user as actor.
    let events = app.audit_events("tenant=default&client=billing").await;
    let created = events
        .iter()
        .find(|e| e["event"] == "admin.client.created")
        .expect("created event");
    assert_eq!(created["actor"], "default/root@example.com");
}

async fn a_form_without_its_csrf_token_changes_nothing(app: TestApp) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    for csrf in ["", "forged"] {
        let r = b
            .post(
                &app.url("/console/t/default/clients"),
                &[
                    ("csrf", csrf),
                    ("client_id", "evil"),
                    ("grant_types", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403);
    }
    let r = app
        .admin_get("/admin/v1/tenants/default/clients/evil")
        .await;
    assert_eq!(r.status(), 404);
}

async fn the_apis_field_errors_are_shown_next_to_their_field(app: TestApp) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let (_, form) = page(&mut b, &app.url("/console/t/default/clients/new")).await;
    let r = b
        .post(
            &app.url("/console/t/default/clients"),
            &[
                ("csrf", &csrf_of(&form)),
                ("client_id", "web"),
                ("grant_types", "authorization_code"),
                ("redirect_uris", "ftp://nope"),
                ("token_ttl", "soon"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"redirect_uris-error\""), "{html}");
    assert!(html.contains("ftp://nope is not an absolute http(s) URI"));
    assert!(html.contains("id=\"token_ttl-error\""));
    // What was typed is kept.
    assert!(html.contains("ftp://nope</textarea>"));
    let r = app.admin_get("/admin/v1/tenants/default/clients/web").await;
    assert_eq!(r.status(), 404);
}

async fn a_tenant_admin_cannot_reach_another_tenant_by_editing_urls(app: TestApp) {
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    app.create_client_in(
        "other",
        json!({"client_id": "theirs", "name": "Theirs", "scopes": ["read"],
               "grant_types": ["client_credentials"]}),
    )
    .await;
    let mut b = signed_in_admin(&app, "acme", "boss@acme.example").await;
    let (status, html) = page(&mut b, &app.url("/console/t/acme/clients")).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("Signing keys"), "no global navigation");
    let csrf = csrf_of(&html);
    for path in [
        "/console/t/other",
        "/console/t/other/clients",
        "/console/t/other/clients/theirs",
        "/console/t/other/audit",
        "/console/keys",
    ] {
        let (status, _) = page(&mut b, &app.url(path)).await;
        assert_eq!(status, 403, "{path}");
    }
    for (path, form) in [
        (
            "/console/t/other/clients",
            vec![("client_id", "mine"), ("grant_types", "client_credentials")],
        ),
        (
            "/console/t/other/clients/theirs/status",
            vec![("status", "disabled")],
        ),
        (
            "/console/t/other/clients/theirs/delete",
            vec![("confirm", "theirs")],
        ),
        ("/console/keys/rotate", vec![]),
    ] {
        let mut f = form.clone();
        f.push(("csrf", &csrf));
        let r = b.post(&app.url(path), &f).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let v: Value = app
        .admin_get("/admin/v1/tenants/other/clients/theirs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "active");
}

async fn rotating_disabling_and_deleting_a_client_work_and_are_audited(app: TestApp) {
    let c = app.create_client("partner").await;
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let (_, html) = page(&mut b, &app.url("/console/t/default/clients/partner")).await;
    let csrf = csrf_of(&html);
    let r = b
        .post(
            &app.url("/console/t/default/clients/partner/rotate"),
            &[("csrf", &csrf), ("grace_seconds", "600")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"secret\""));
    // The old secret works during the grace period.
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let r = b
        .post(
            &app.url("/console/t/default/clients/partner/status"),
            &[("csrf", &csrf), ("status", "disabled")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 401);
    // Deleting needs the client's id typed.
    let r = b
        .post(
            &app.url("/console/t/default/clients/partner/delete"),
            &[("csrf", &csrf), ("confirm", "partne")],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.admin_get("/admin/v1/tenants/default/clients/partner")
            .await
            .status(),
        200
    );
    let r = b
        .post(
            &app.url("/console/t/default/clients/partner/delete"),
            &[("csrf", &csrf), ("confirm", "partner")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.admin_get("/admin/v1/tenants/default/clients/partner")
            .await
            .status(),
        404
    );
    let (_, audit) = page(
        &mut b,
        &app.url("/console/t/default/audit?client=partner&event=admin.client.secret_rotated"),
    )
    .await;
    assert!(audit.contains("admin.client.secret_rotated"), "{audit}");
    assert!(!audit.contains("admin.client.deleted"));
    let events = app.audit_events("tenant=default&client=partner").await;
    for name in [
        "admin.client.secret_rotated",
        "admin.client.updated",
        "admin.client.deleted",
    ] {
        let e = events.iter().find(|e| e["event"] == name).expect(name);
        assert_eq!(e["actor"], "default/root@example.com", "{name}");
    }
}

async fn signing_out_ends_the_session(app: TestApp) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let (_, html) = page(&mut b, &app.url("/console/t/default")).await;
    let old = b.cookies.clone();
    let r = b
        .post(&app.url("/console/signout"), &[("csrf", &csrf_of(&html))])
        .await;
    assert_eq!(r.status(), 200);
    // The old cookie no longer opens a page, and the login page asks for the password again.
    b.cookies = old;
    let r = b.get(&app.url("/console/t/default")).await;
    assert_eq!(r.status(), 303);
    let r = b.get(&app.url("/console/signin?tenant=default")).await;
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    let r = b.get(&app.url(&authorize)).await;
    assert_eq!(r.status(), 200, "the login page, not a silent sign-in");
}

async fn the_console_client_id_is_reserved(app: TestApp) {
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/clients",
            json!({"client_id": "tessera-console:default", "name": "Console?", "scopes": ["openid"],
                   "grant_types": ["authorization_code"],
                   "redirect_uris": ["https://evil.example/cb"], "token_endpoint_auth_method": "none"}),
        )
        .await;
    let p = problem(r, 400).await;
    assert_eq!(pointers(&p), vec!["/client_id"]);
    // Nor can a client take the bootstrap token's name in the audit.
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/clients",
            json!({"client_id": "Bootstrap", "name": "B", "scopes": ["x"],
                   "grant_types": ["client_credentials"]}),
        )
        .await;
    assert_eq!(pointers(&problem(r, 400).await), vec!["/client_id"]);
    // The console client only redirects to the console.
    let url = format!(
        "{}?response_type=code&client_id=tessera-console:default&redirect_uri=https://evil.example/cb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        app.url("/oauth/authorize")
    );
    let r = app.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn an_admin_signs_in_to_the_console_with_an_upstream_provider(app: TestApp) {
    let idp = Idp::start().await;
    let k = key("corp-1", Alg::RS256);
    idp.publish(&k);
    idp.login_as(k, "root@example.com", T0);
    let r = app
        .admin_post(
            "/admin/v1/tenants/default/upstreams",
            json!({"id": "corp", "issuer": idp.issuer, "client_id": IDP_CLIENT_ID, "name": "Corp SSO"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    create_user(
        &app,
        "default",
        "root@example.com",
        json!({"roles": ["admin"]}),
    )
    .await;
    let mut b = Browser::new();
    let r = b.get(&app.url("/console/signin?tenant=default")).await;
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    let login = b.get(&app.url(&authorize)).await.text().await.unwrap();
    let form = &login[login
        .find("action=\"/login/upstream\"")
        .expect("Sign in with Corp SSO")..];
    let out = b
        .post(
            &app.url("/login/upstream"),
            &[
                ("csrf", &hidden(form, "csrf").unwrap()),
                ("request", &hidden(form, "request").unwrap()),
                ("upstream", "corp"),
            ],
        )
        .await;
    assert_eq!(out.status(), 303);
    let back = b.get(out.headers()["location"].to_str().unwrap()).await;
    let to_tessera = back.headers()["location"]
        .to_str()
        .unwrap()
        .replacen(ISSUER, &app.url(""), 1);
    let done = b.get(&to_tessera).await;
    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    let callback = reqwest::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(callback.path(), "/console/callback");
    let r = b
        .get(&app.url(&format!("/console/callback?{}", callback.query().unwrap())))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Signed in as"));
    let (status, html) = page(&mut b, &app.url("/console/t/default")).await;
    assert_eq!(status, 200, "{html}");
}

async fn saving_a_client_unchanged_keeps_commas_inside_its_values(app: TestApp) {
    let weird = "https://app.example.com/cb?next=a,https://evil.example.net/cb";
    app.create_client_in(
        "default",
        json!({"client_id": "comma", "name": "Comma", "scopes": ["files:read,files:write", "x"],
               "grant_types": ["authorization_code"], "redirect_uris": [weird]}),
    )
    .await;
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let (_, html) = page(&mut b, &app.url("/console/t/default/clients/comma")).await;
    assert!(
        html.contains(&format!("{}</textarea>", weird.replace('&', "&amp;"))),
        "{html}"
    );
    let r = b
        .post(
            &app.url("/console/t/default/clients/comma"),
            &[
                ("csrf", &csrf_of(&html)),
                ("name", "Renamed"),
                ("grant_types", "authorization_code"),
                ("scopes", "files:read,files:write\nx"),
                ("redirect_uris", weird),
                ("token_endpoint_auth_method", "client_secret_basic"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let v: Value = app
        .admin_get("/admin/v1/tenants/default/clients/comma")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["name"], "Renamed");
    assert_eq!(v["redirect_uris"], json!([weird]));
    assert_eq!(v["scopes"], json!(["files:read,files:write", "x"]));
}

async fn console_and_login_sessions_do_not_open_each_other(app: TestApp) {
    login_client(&app, "default", "spa", json!({})).await;
    let b = signed_in_admin(&app, "default", "root@example.com").await;
    let console = b.cookies["tessera_console"].clone();
    let login = b.cookies["tessera_session"].clone();
    // The console cookie as a login session: the login page, not a code.
    let (_, challenge) = pkce();
    let url = authorize_url(
        &app,
        "spa",
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let mut other = Browser::new();
    other.cookies.insert("tessera_session".into(), console);
    let r = other.get(&url).await;
    assert_eq!(r.status(), 200, "asks for the password");
    // The login session as a console session: the sign-in page.
    let mut other = Browser::new();
    other.cookies.insert("tessera_console".into(), login);
    let r = other.get(&app.url("/console/t/default")).await;
    assert_eq!(r.status(), 303);
}

async fn signing_out_needs_the_forms_token(app: TestApp) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    let r = b
        .post(&app.url("/console/signout"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status(), 403);
    let (status, _) = page(&mut b, &app.url("/console/t/default")).await;
    assert_eq!(status, 200, "still signed in");
    // Without a console session, the login page's token is needed to end the sign-in.
    let mut stranger = Browser::new();
    stranger.cookies.insert(
        "tessera_session".into(),
        b.cookies["tessera_session"].clone(),
    );
    let r = stranger.post(&app.url("/console/signout"), &[]).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
}

async fn every_console_refusal_is_a_page_with_the_consoles_headers(app: TestApp) {
    let mut b = signed_in_admin(&app, "default", "root@example.com").await;
    for (method, path, status) in [
        ("GET", "/console/no-such-page", 404),
        ("GET", "/console/signout", 405),
        ("GET", "/console/t/default/clients?page=abc", 400),
        ("GET", "/console/signin?tenant=a&tenant=b", 400),
    ] {
        let r = match method {
            "GET" => b.get(&app.url(path)).await,
            _ => unreachable!(),
        };
        assert_eq!(r.status(), status, "{path}");
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
    // A form of another content type is no console form.
    let (_, html) = page(&mut b, &app.url("/console/t/default/clients/new")).await;
    let r = b
        .http
        .post(app.url("/console/t/default/clients"))
        .header(
            "cookie",
            format!("tessera_console={}", b.cookies["tessera_console"]),
        )
        .header("content-type", "text/plain")
        .body(format!("csrf={}&client_id=plain", csrf_of(&html)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.admin_get("/admin/v1/tenants/default/clients/plain")
            .await
            .status(),
        404
    );
}

both_engines!(
    saving_a_client_unchanged_keeps_commas_inside_its_values,
    console_and_login_sessions_do_not_open_each_other,
    signing_out_needs_the_forms_token,
    every_console_refusal_is_a_page_with_the_consoles_headers,
    an_admin_signs_in_to_the_console_with_an_upstream_provider,
    an_admin_signs_in_through_the_login_page_and_gets_a_strict_session,
    pages_without_a_session_send_the_browser_to_sign_in,
    a_user_without_the_admin_role_gets_a_403_page,
    a_client_created_in_the_console_shows_its_secret_once_and_that_secret_gets_a_token,
    a_form_without_its_csrf_token_changes_nothing,
    the_apis_field_errors_are_shown_next_to_their_field,
    a_tenant_admin_cannot_reach_another_tenant_by_editing_urls,
    rotating_disabling_and_deleting_a_client_work_and_are_audited,
    signing_out_ends_the_session,
    the_console_client_id_is_reserved,
);
