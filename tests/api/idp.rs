//! A real upstream OpenID provider inside the test process: axum on 127.0.0.1:0 serving
//! discovery and a JWKS (keys can be published later, as a rotation does), counting JWKS
//! fetches, and signing ID tokens with real keys (`tessera::keys::signer::SigningKey`). For
//! "sign in with" it also has an authorization endpoint that signs in whoever `login_as`
//! names at once, and a token endpoint that checks PKCE S256 and answers an ID token with
//! the request's nonce. For the address guard (SPEC §7.1) it counts every request, can name
//! other URLs in its discovery document, and has a `/moved` route that redirects elsewhere.

use axum::extract::{Form, Query};
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tessera::crypto::b64url;
use tessera::keys::signer::{Alg, SigningKey, Typ};

/// The `aud` our test tenants register for this provider.
pub const IDP_CLIENT_ID: &str = "tessera-at-idp";

/// A code the authorization endpoint handed out, awaiting redemption.
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: String,
}

/// Who the authorization endpoint signs in: the key, e-mail and time of the ID token.
struct LoginAs {
    key: Arc<SigningKey>,
    email: String,
    now: i64,
}

#[derive(Default)]
struct State {
    issuer: Mutex<String>,
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    login_as: Mutex<Option<LoginAs>>,
    grants: Mutex<HashMap<String, Grant>>,
    redeemed: AtomicUsize,
    /// Leave `email_verified` out of the ID tokens of `/token`.
    no_email_verified: std::sync::atomic::AtomicBool,
    /// Every request received.
    requests: AtomicUsize,
    /// Discovery fields replaced (`jwks_uri`, `token_endpoint`).
    overrides: Mutex<HashMap<String, String>>,
    /// Where `/moved` redirects.
    moved_to: Mutex<String>,
}

fn authorize(state: &State, q: &HashMap<String, String>) -> Redirect {
    let code = tessera::crypto::random_token(16).unwrap();
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    assert_eq!(field("code_challenge_method"), "S256");
    state.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id: field("client_id"),
            redirect_uri: field("redirect_uri"),
            challenge: field("code_challenge"),
            nonce: field("nonce"),
        },
    );
    let mut back = reqwest::Url::parse(&field("redirect_uri")).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    Redirect::to(back.as_str())
}

fn token(
    state: &State,
    f: &HashMap<String, String>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Some(g) = state.grants.lock().unwrap().remove(&field("code")) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        );
    };
    let challenge = b64url(&tessera::crypto::sha256(field("code_verifier").as_bytes()));
    if challenge != g.challenge
        || field("client_id") != g.client_id
        || field("redirect_uri") != g.redirect_uri
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        );
    }
    state.redeemed.fetch_add(1, Ordering::SeqCst);
    let guard = state.login_as.lock().unwrap();
    let who = guard.as_ref().expect("login_as first");
    let iss = state.issuer.lock().unwrap().clone();
    let mut claims = json!({"iss": iss, "sub": format!("idp|{}", who.email), "aud": g.client_id,
        "iat": who.now, "exp": who.now + 300, "email": who.email, "email_verified": true,
        "nonce": g.nonce});
    if state.no_email_verified.load(Ordering::SeqCst) {
        claims.as_object_mut().unwrap().remove("email_verified");
    }
    let id_token = who
        .key
        .sign_jwt(Typ::Jwt, claims.to_string().as_bytes())
        .unwrap();
    (
        StatusCode::OK,
        axum::Json(
            json!({"access_token": "upstream-at", "token_type": "Bearer", "id_token": id_token}),
        ),
    )
}

pub struct Idp {
    pub issuer: String,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn key(kid: &str, alg: Alg) -> SigningKey {
    SigningKey::generate(kid.into(), alg).unwrap().0
}

impl Idp {
    pub async fn start() -> Idp {
        Idp::start_named("127.0.0.1").await
    }

    /// A provider on 127.0.0.1 whose issuer names it `host` (`localhost`).
    pub async fn start_named(host: &str) -> Idp {
        let state = Arc::new(State::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://{host}:{port}");
        *state.issuer.lock().unwrap() = issuer.clone();
        let s1 = state.clone();
        let s2 = state.clone();
        let s3 = state.clone();
        let s4 = state.clone();
        let (s5, s6, s7) = (state.clone(), state.clone(), state.clone());
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let iss = s1.issuer.lock().unwrap().clone();
                    let mut doc = json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks"),
                        "authorization_endpoint": format!("{iss}/authorize"),
                        "token_endpoint": format!("{iss}/token"),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"]});
                    for (k, v) in s1.overrides.lock().unwrap().iter() {
                        doc[k] = json!(v);
                    }
                    async move { axum::Json(doc) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    s2.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = s2.keys.lock().unwrap().clone();
                    async move { axum::Json(json!({ "keys": keys })) }
                }),
            )
            .route(
                "/authorize",
                get(move |Query(q): Query<HashMap<String, String>>| {
                    let r = authorize(&s3, &q);
                    async move { r }
                }),
            )
            .route(
                "/token",
                post(move |Form(f): Form<HashMap<String, String>>| {
                    let r = token(&s4, &f);
                    async move { r }
                }),
            )
            .route(
                "/moved",
                get(move || {
                    let to = s5.moved_to.lock().unwrap().clone();
                    async move { Redirect::temporary(&to) }
                })
                .post(move || {
                    let to = s6.moved_to.lock().unwrap().clone();
                    async move { Redirect::temporary(&to) }
                }),
            )
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    s7.requests.fetch_add(1, Ordering::SeqCst);
                    next.run(req)
                },
            ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Idp {
            issuer,
            state,
            shutdown: Some(tx),
        }
    }

    /// Publishes a key in the JWKS.
    pub fn publish(&self, k: &SigningKey) {
        self.state.keys.lock().unwrap().push(k.public_jwk().clone());
    }

    /// The authorization endpoint signs in `email` from now on, its ID tokens signed by `key`
    /// (publish it too) and issued at `now`.
    pub fn login_as(&self, key: SigningKey, email: &str, now: i64) {
        *self.state.login_as.lock().unwrap() = Some(LoginAs {
            key: Arc::new(key),
            email: email.to_string(),
            now,
        });
    }

    /// ID tokens from `/token` no longer state `email_verified`.
    pub fn without_email_verified(&self) {
        self.state.no_email_verified.store(true, Ordering::SeqCst);
    }

    /// Codes redeemed at the token endpoint.
    pub fn redeemed(&self) -> usize {
        self.state.redeemed.load(Ordering::SeqCst)
    }

    /// Requests of any kind received.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The discovery document names `url` as its `field` from now on.
    pub fn name_in_discovery(&self, field: &str, url: &str) {
        self.state
            .overrides
            .lock()
            .unwrap()
            .insert(field.to_string(), url.to_string());
    }

    /// `{issuer}/moved` redirects (307) to `url` from now on.
    pub fn move_to(&self, url: &str) {
        *self.state.moved_to.lock().unwrap() = url.to_string();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Standard claims for `email` at time `now`, for our tenant's registration.
    pub fn claims(&self, email: &str, now: i64) -> Value {
        json!({"iss": self.issuer, "sub": format!("idp|{email}"), "aud": IDP_CLIENT_ID,
               "iat": now, "exp": now + 300, "email": email, "email_verified": true})
    }

    /// An ID token signed by `k`.
    pub fn sign(&self, k: &SigningKey, claims: &Value) -> String {
        k.sign_jwt(Typ::Jwt, claims.to_string().as_bytes()).unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A token with `alg: none` and no signature.
pub fn unsigned(claims: &Value) -> String {
    let h = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{h}.{}.", b64url(claims.to_string().as_bytes()))
}

/// The key-confusion attempt: HS256 keyed with the public key's bytes, naming its kid.
pub fn hmac_with_public_key(k: &SigningKey, claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let h = b64url(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, k.kid).as_bytes());
    let input = format!("{h}.{}", b64url(claims.to_string().as_bytes()));
    let secret = k.public_jwk().to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let sig = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}
