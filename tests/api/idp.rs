//! A real upstream OpenID provider inside the test process: axum on 127.0.0.1:0 serving
//! discovery and a JWKS (keys can be published later, as a rotation does), counting JWKS
//! fetches, and signing ID tokens with real keys (`tessera::keys::signer::SigningKey`).

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tessera::crypto::b64url;
use tessera::keys::signer::{Alg, SigningKey, Typ};

/// The `aud` our test tenants register for this provider.
pub const IDP_CLIENT_ID: &str = "tessera-at-idp";

#[derive(Default)]
struct State {
    issuer: Mutex<String>,
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
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
        let state = Arc::new(State::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        *state.issuer.lock().unwrap() = issuer.clone();
        let s1 = state.clone();
        let s2 = state.clone();
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let iss = s1.issuer.lock().unwrap().clone();
                    async move {
                        axum::Json(json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks"),
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
                    }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    s2.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = s2.keys.lock().unwrap().clone();
                    async move { axum::Json(json!({ "keys": keys })) }
                }),
            );
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
