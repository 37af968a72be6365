//! A scripted browser for the login flow: no redirects followed, cookies kept by hand, the
//! CSRF token read from the login page's HTML, the code read from the redirect.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const REDIRECT: &str = "http://app.test/cb";
pub const PASSWORD: &str = "correct horse battery staple";

/// A browser: a cookie jar and an HTTP client that never follows redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Raw `Set-Cookie` values seen, for attribute checks.
    pub set_cookies: Vec<String>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap().to_string();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_string(), val.to_string());
            self.set_cookies.push(v);
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let r = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }
}

/// The value of hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(r: &reqwest::Response) -> BTreeMap<String, String> {
    let loc = r.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(loc).unwrap();
    url.query_pairs().into_owned().collect()
}

pub fn pkce() -> (String, String) {
    let verifier = tessera::crypto::random_token(32).unwrap();
    let challenge = tessera::crypto::b64url(&tessera::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// A tenant user with a password; returns its id.
pub async fn create_user(app: &TestApp, tenant: &str, email: &str, extra: Value) -> String {
    let mut body = json!({"email": email, "name": "Ann Example", "password": PASSWORD});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = app
        .admin_post(&format!("/admin/v1/tenants/{tenant}/users"), body)
        .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// A login client in `tenant`: public (PKCE) unless `extra` says otherwise.
pub async fn login_client(app: &TestApp, tenant: &str, id: &str, extra: Value) -> TestClient {
    let mut body = json!({"client_id": id, "name": format!("App {id}"),
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "offline_access", "read"],
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    app.create_client_in(tenant, body).await
}

/// The authorize URL for `client` with `extra` parameters.
pub fn authorize_url(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse(&app.url("/oauth/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", REDIRECT);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Opens the login page and posts the form; returns the response to the post.
pub async fn submit_login(
    app: &TestApp,
    b: &mut Browser,
    url: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let page = b.get(url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf").expect("csrf field");
    let request = hidden(&html, "request").expect("request field");
    post_login(app, b, email, password, &csrf, &request).await
}

/// Posts the login form with the page's `csrf` and `request` fields.
pub async fn post_login(
    app: &TestApp,
    b: &mut Browser,
    email: &str,
    password: &str,
    csrf: &str,
    request: &str,
) -> reqwest::Response {
    b.post(
        &app.url("/login"),
        &[
            ("email", email),
            ("password", password),
            ("csrf", csrf),
            ("request", request),
        ],
    )
    .await
}

/// Logs in through the page and returns the code (asserting the state is echoed).
pub async fn login_for_code(
    app: &TestApp,
    b: &mut Browser,
    client: &str,
    email: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![("state", "st-1")];
    params.extend_from_slice(extra);
    let r = submit_login(
        app,
        b,
        &authorize_url(app, client, &params),
        email,
        PASSWORD,
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let q = location_params(&r);
    assert_eq!(q["state"], "st-1");
    q["code"].clone()
}

/// POSTs to the token endpoint as a public client (client_id in the body).
pub async fn token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Exchanges a code as public client `client` with `verifier`.
pub async fn exchange(app: &TestApp, client: &str, code: &str, verifier: &str) -> (u16, Value) {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The full flow for a public client: returns the token response.
pub async fn tokens_for(app: &TestApp, client: &str, email: &str, scope: &str) -> Value {
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        app,
        &mut b,
        client,
        email,
        &[
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-0S6_WzA2Mj"),
        ],
    )
    .await;
    let (status, v) = exchange(app, client, &code, &verifier).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// `GET /userinfo` with a bearer token.
pub async fn userinfo(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// Uses a refresh token as public client `client`.
pub async fn refresh(app: &TestApp, client: &str, rt: &str) -> (u16, Value) {
    token(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", rt),
        ],
    )
    .await
}

/// A code for a browser that already has a session (no page shown).
pub async fn silent_code(
    app: &TestApp,
    b: &mut Browser,
    client: &str,
    extra: &[(&str, &str)],
) -> String {
    let r = b.get(&authorize_url(app, client, extra)).await;
    assert_eq!(r.status(), 302);
    location_params(&r)["code"].clone()
}
