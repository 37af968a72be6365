//! DPoP (RFC 9449, SPEC §9): proofs at the token endpoint, DPoP-bound access and refresh
//! tokens, `/userinfo` with the DPoP scheme, introspection, server nonces, and the refusals.

use crate::both_engines;
use crate::helpers::*;
use crate::login_helpers::*;
use serde_json::{json, Value};
use tessera::crypto::{b64url, sha256};
use tessera::keys::signer::{Alg, SigningKey};

/// A client's DPoP key, making proofs as a client library would.
pub(crate) struct DpopKey {
    key: SigningKey,
    alg: Alg,
}

impl DpopKey {
    pub(crate) fn new(alg: Alg) -> DpopKey {
        let (key, _) = SigningKey::generate("dpop".into(), alg).unwrap();
        DpopKey { key, alg }
    }

    /// The public JWK as a proof header carries it (no `kid`, `use` or `alg`).
    fn jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk().clone();
        for m in ["kid", "use", "alg"] {
            jwk.as_object_mut().unwrap().remove(m);
        }
        jwk
    }

    /// RFC 7638 thumbprint of the key.
    pub(crate) fn jkt(&self) -> String {
        let Value::Object(m) = self.jwk() else {
            unreachable!()
        };
        tessera::oauth::dpop::thumbprint(&m).unwrap()
    }

    /// A proof with `header` and `claims` exactly as given.
    fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64url(&sig))
    }

    /// A fresh proof for `method url` at `iat`, with extra claims.
    pub(crate) fn proof_with(&self, method: &str, url: &str, iat: i64, extra: Value) -> String {
        let mut claims = json!({
            "jti": hex(&rand_bytes(12)),
            "htm": method,
            "htu": url,
            "iat": iat,
        });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let header = json!({"typ": "dpop+jwt", "alg": self.alg.as_str(), "jwk": self.jwk()});
        self.sign(header, claims)
    }
}

fn now(app: &TestApp) -> i64 {
    app.tessera.clock.now()
}

fn token_url() -> String {
    format!("{ISSUER}/oauth/token")
}

/// A proof for the token endpoint, now.
fn token_proof(app: &TestApp, k: &DpopKey) -> String {
    k.proof_with("POST", &token_url(), now(app), json!({}))
}

/// A client-credentials request with a `DPoP` header.
async fn cc_with_proof(app: &TestApp, c: &TestClient, proof: &str) -> reqwest::Response {
    cc_with_proof_at(app, &app.base, c, proof).await
}

/// [`cc_with_proof`] sent to the node at `base`.
async fn cc_with_proof_at(
    app: &TestApp,
    base: &str,
    c: &TestClient,
    proof: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or_default())
}

/// `/userinfo` with `Authorization: DPoP` and the given proof.
async fn userinfo_dpop(app: &TestApp, token: &str, proof: Option<&str>) -> reqwest::Response {
    let mut r = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("DPoP {token}"));
    if let Some(p) = proof {
        r = r.header("DPoP", p);
    }
    r.send().await.unwrap()
}

fn ath(token: &str) -> String {
    b64url(&sha256(token.as_bytes()))
}

fn userinfo_proof(app: &TestApp, k: &DpopKey, token: &str) -> String {
    k.proof_with(
        "GET",
        &format!("{ISSUER}/userinfo"),
        now(app),
        json!({"ath": ath(token)}),
    )
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn a_token_request_with_a_proof_gets_a_dpop_bound_token(app: TestApp) {
    let c = app.create_client("dpop-cc").await;
    for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256, Alg::PS256] {
        let k = DpopKey::new(alg);
        let (status, v) = status_json(cc_with_proof(&app, &c, &token_proof(&app, &k)).await).await;
        assert_eq!(status, 200, "{alg:?}: {v}");
        assert_eq!(v["token_type"], "DPoP");
        let token = v["access_token"].as_str().unwrap();
        let (_, claims) = decode_jwt(token);
        assert_eq!(claims["cnf"], json!({"jkt": k.jkt()}), "{alg:?}");
        // Introspection names the binding (RFC 9449 §6.2).
        let i = introspect(&app, &c, token).await;
        assert_eq!(i["active"], true);
        assert_eq!(i["token_type"], "DPoP");
        assert_eq!(i["cnf"]["jkt"], k.jkt());
    }
    // Without a proof the same client still gets a bearer token.
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    let (_, v) = status_json(r).await;
    assert_eq!(v["token_type"], "Bearer");
    assert!(decode_jwt(v["access_token"].as_str().unwrap()).1["cnf"].is_null());
}

async fn a_replayed_proof_is_refused_on_every_node(app: TestApp) {
    let c = app.create_client("dpop-replay").await;
    let k = DpopKey::new(Alg::ES256);
    let proof = token_proof(&app, &k);
    assert_eq!(cc_with_proof(&app, &c, &proof).await.status(), 200);
    let (status, v) = status_json(cc_with_proof(&app, &c, &proof).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // A second node on the same database has seen it too.
    let peer = app.spawn_peer().await;
    let (status, v) = status_json(cc_with_proof_at(&app, &peer.base, &c, &proof).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // And a proof made on one node's nonce-free request works once on the other.
    let fresh = token_proof(&app, &k);
    let r = cc_with_proof_at(&app, &peer.base, &c, &fresh).await;
    assert_eq!(r.status(), 200);
}

async fn concurrent_proofs_are_each_accepted_once_however_their_writes_are_shared(app: TestApp) {
    let c = app.create_client("dpop-many").await;
    let k = DpopKey::new(Alg::EdDSA);
    let replayed = token_proof(&app, &k);
    let mut proofs: Vec<String> = (0..24).map(|_| token_proof(&app, &k)).collect();
    proofs.extend(std::iter::repeat_n(replayed, 6));
    let answers = futures::future::join_all(
        proofs
            .iter()
            .map(|p| async { cc_with_proof(&app, &c, p).await.status().as_u16() }),
    )
    .await;
    let ok = answers.iter().filter(|s| **s == 200).count();
    let refused = answers.iter().filter(|s| **s == 400).count();
    assert_eq!((ok, refused), (25, 5), "{answers:?}");
}

async fn a_jti_of_any_characters_is_accepted_once_and_fails_nobody_elses_request(app: TestApp) {
    let c = app.create_client("dpop-odd-jti").await;
    let k = DpopKey::new(Alg::ES256);
    // PostgreSQL text holds no NUL, and 4-byte characters make a 1 KB key: stored hashed.
    let odd = format!("\u{0}{}", "\u{1F600}".repeat(200));
    let proof = k.proof_with("POST", &token_url(), now(&app), json!({ "jti": odd }));
    let others: Vec<String> = (0..8).map(|_| token_proof(&app, &k)).collect();
    let (first, rest) = futures::join!(
        cc_with_proof(&app, &c, &proof),
        futures::future::join_all(others.iter().map(|p| cc_with_proof(&app, &c, p)))
    );
    assert_eq!(first.status(), 200);
    assert!(rest.iter().all(|r| r.status() == 200));
    let (status, v) = status_json(cc_with_proof(&app, &c, &proof).await).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

async fn a_proof_sent_with_a_refused_token_request_is_not_recorded(app: TestApp) {
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let k = DpopKey::new(Alg::ES256);
    let proof = token_proof(&app, &k);
    // Anyone may name a public client: its refused requests write nothing (SPEC §7.2).
    for (grant, param) in [
        ("refresh_token", "refresh_token"),
        ("authorization_code", "code"),
        (
            "urn:ietf:params:oauth:grant-type:device_code",
            "device_code",
        ),
    ] {
        let r = app
            .http
            .post(app.url("/oauth/token"))
            .header("DPoP", &proof)
            .form(&[
                ("grant_type", grant),
                ("client_id", "spa"),
                (param, "made-up"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{grant}");
    }
    // So the proof is still good, once, for a request that is accepted.
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let pkce_params = [
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = login_for_code(&app, &mut b, "spa", "ann@example.com", &pkce_params).await;
    let exchange = |code: String, proof: String| {
        let (app, verifier) = (&app, &verifier);
        async move {
            let r = app
                .http
                .post(app.url("/oauth/token"))
                .header("DPoP", proof)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", "spa"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap();
            status_json(r).await
        }
    };
    let (status, v) = exchange(code, proof.clone()).await;
    assert_eq!(
        (status, v["token_type"].as_str()),
        (200, Some("DPoP")),
        "{v}"
    );
    let code = silent_code_at(&app, &mut b, &authorize_url(&app, "spa", &pkce_params)).await;
    let (status, v) = exchange(code.clone(), proof).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // The used proof did not cost the code: with a fresh proof it is redeemed.
    let (status, v) = exchange(code, token_proof(&app, &k)).await;
    assert_eq!(status, 200, "{v}");
}

async fn proofs_that_do_not_match_the_request_are_refused(app: TestApp) {
    let c = app.create_client("dpop-bad").await;
    let k = DpopKey::new(Alg::ES256);
    let other = DpopKey::new(Alg::ES256);
    let t = now(&app);
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk()});
    let claims = |extra: Value| {
        let mut c =
            json!({"jti": hex(&rand_bytes(12)), "htm": "POST", "htu": token_url(), "iat": t});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let mut private_jwk = k.jwk();
    private_jwk["d"] = json!("AAAA");
    let cases: Vec<(&str, String)> = vec![
        (
            "another URL",
            k.proof_with("POST", &format!("{ISSUER}/oauth/introspect"), t, json!({})),
        ),
        (
            "another host",
            k.proof_with("POST", "https://evil.example/oauth/token", t, json!({})),
        ),
        (
            "another method",
            k.proof_with("GET", &token_url(), t, json!({})),
        ),
        (
            "too old",
            k.proof_with("POST", &token_url(), t - 61, json!({})),
        ),
        (
            "from the future",
            k.proof_with("POST", &token_url(), t + 6, json!({})),
        ),
        (
            "signed by another key",
            other.sign(header.clone(), claims(json!({}))),
        ),
        (
            "a private jwk",
            k.sign(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private_jwk}),
                claims(json!({})),
            ),
        ),
        (
            "the wrong typ",
            k.sign(
                json!({"typ": "JWT", "alg": "ES256", "jwk": k.jwk()}),
                claims(json!({})),
            ),
        ),
        (
            "an HMAC alg",
            k.sign(
                json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": k.jwk()}),
                claims(json!({})),
            ),
        ),
        (
            "no jwk",
            k.sign(
                json!({"typ": "dpop+jwt", "alg": "ES256"}),
                claims(json!({})),
            ),
        ),
        ("no jti", {
            let mut c = claims(json!({}));
            c.as_object_mut().unwrap().remove("jti");
            k.sign(header.clone(), c)
        }),
        ("garbage", "not-a-jws".to_string()),
    ];
    for (what, proof) in cases {
        let (status, v) = status_json(cc_with_proof(&app, &c, &proof).await).await;
        assert_eq!(status, 400, "{what}: {v}");
        assert_eq!(v["error"], "invalid_dpop_proof", "{what}");
    }
    // Two DPoP headers.
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("DPoP", token_proof(&app, &k))
        .header("DPoP", token_proof(&app, &k))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(r).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // The edge of the window is still accepted: 60 s old, 5 s ahead.
    for iat in [t - 60, t + 5] {
        let p = k.proof_with("POST", &token_url(), iat, json!({}));
        assert_eq!(cc_with_proof(&app, &c, &p).await.status(), 200, "iat {iat}");
    }
}

async fn a_client_with_dpop_bound_access_tokens_must_send_a_proof(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "dpop-only", "name": "x", "grant_types": ["client_credentials"],
                   "scopes": [], "dpop_bound_access_tokens": true}),
        )
        .await;
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    let (status, v) = status_json(r).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let k = DpopKey::new(Alg::ES256);
    let (status, v) = status_json(cc_with_proof(&app, &c, &token_proof(&app, &k)).await).await;
    assert_eq!((status, v["token_type"].as_str()), (200, Some("DPoP")));
    let got = app
        .admin_get("/admin/v1/tenants/default/clients/dpop-only")
        .await;
    let got: Value = got.json().await.unwrap();
    assert_eq!(got["dpop_bound_access_tokens"], true);
}

/// A public client's code redeemed with a proof: its tokens.
async fn dpop_login(app: &TestApp, k: &DpopKey, client: &str) -> Value {
    create_user(app, "default", "ann@example.com", json!({})).await;
    login_client(app, "default", client, json!({})).await;
    let mut b = Browser::new();
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        app,
        &mut b,
        client,
        "ann@example.com",
        &[
            ("scope", "openid email offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .header("DPoP", token_proof(app, k))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "DPoP");
    v
}

async fn userinfo_takes_a_dpop_bound_token_only_with_a_matching_proof(app: TestApp) {
    let k = DpopKey::new(Alg::ES256);
    let v = dpop_login(&app, &k, "dpop-spa").await;
    let token = v["access_token"].as_str().unwrap();
    let r = userinfo_dpop(&app, token, Some(&userinfo_proof(&app, &k, token))).await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "ann@example.com");
    // As a bearer token it is worth nothing.
    let (status, _) = userinfo(&app, token).await;
    assert_eq!(status, 401);
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(challenge(&r).starts_with("DPoP "), "{}", challenge(&r));
    // A proof by another key, a proof whose ath names another token, no proof at all, and a
    // proof replayed: all 401 invalid_token with a DPoP challenge.
    let other = DpopKey::new(Alg::ES256);
    let replayed = userinfo_proof(&app, &k, token);
    assert_eq!(
        userinfo_dpop(&app, token, Some(&replayed)).await.status(),
        200
    );
    let wrong_ath = k.proof_with(
        "GET",
        &format!("{ISSUER}/userinfo"),
        now(&app),
        json!({"ath": ath("another-token")}),
    );
    for (what, proof) in [
        ("another key", Some(userinfo_proof(&app, &other, token))),
        ("another ath", Some(wrong_ath)),
        ("no proof", None),
        ("a replayed proof", Some(replayed)),
    ] {
        let r = userinfo_dpop(&app, token, proof.as_deref()).await;
        assert_eq!(r.status(), 401, "{what}");
        let c = challenge(&r);
        assert!(
            c.starts_with("DPoP ") && c.contains("error=\"invalid_token\""),
            "{what}: {c}"
        );
    }
    // A bearer token presented with the DPoP scheme is refused too.
    let plain = app.create_client("plain").await;
    let bearer = app.access_token(&plain, None).await;
    let r = userinfo_dpop(&app, &bearer, Some(&userinfo_proof(&app, &k, &bearer))).await;
    assert_eq!(r.status(), 401);
}

async fn a_public_clients_refresh_token_is_bound_to_its_dpop_key(app: TestApp) {
    let k = DpopKey::new(Alg::EdDSA);
    let v = dpop_login(&app, &k, "dpop-rt").await;
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "dpop-rt"),
        ("refresh_token", rt.as_str()),
    ];
    let send = |proof: Option<String>| {
        let mut r = app.http.post(app.url("/oauth/token")).form(&form);
        if let Some(p) = proof {
            r = r.header("DPoP", p);
        }
        r.send()
    };
    // Without a proof, or with another key's: refused, and the token is not spent.
    let (status, body) = status_json(send(None).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let other = DpopKey::new(Alg::EdDSA);
    let (status, body) = status_json(send(Some(token_proof(&app, &other))).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // With the key: new tokens, bound to it again.
    let used = token_proof(&app, &k);
    let (status, body) = status_json(send(Some(used.clone())).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // That very request replayed (by someone without the key) is refused as a replayed proof,
    // and the family stays: its new refresh token still works below.
    let (status, again) = status_json(send(Some(used)).await.unwrap()).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let next = body["refresh_token"].as_str().unwrap().to_string();
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .header("DPoP", token_proof(&app, &k))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "dpop-rt"),
            ("refresh_token", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body["token_type"], "DPoP");
    let (_, claims) = decode_jwt(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], k.jkt());
    // The retired token again, with a fresh proof by the key: reuse, the family revoked and
    // audited once. The refused requests record no proof and audit nothing more.
    let proof = token_proof(&app, &k);
    for _ in 0..3 {
        let (status, body) = status_json(send(Some(proof.clone())).await.unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let reused = app.audit_events("event=refresh_token.reused").await;
    assert_eq!(reused.len(), 1, "{reused:?}");
    let c = app.create_client("dpop-rt-after").await;
    assert_eq!(cc_with_proof(&app, &c, &proof).await.status(), 200);
}

async fn a_code_exchanged_without_a_proof_gives_bearer_tokens(app: TestApp) {
    create_user(&app, "default", "bob@example.com", json!({})).await;
    login_client(&app, "default", "plain-spa", json!({})).await;
    let v = tokens_for(&app, "plain-spa", "bob@example.com", "openid").await;
    assert_eq!(v["token_type"], "Bearer");
    let (status, _) = userinfo(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

/// Redeems `code` as public client `client`, with a proof by `key` when given.
async fn redeem(
    app: &TestApp,
    client: &str,
    code: &str,
    verifier: &str,
    key: Option<&DpopKey>,
) -> (u16, Value) {
    let mut r = app.http.post(app.url("/oauth/token")).form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]);
    if let Some(k) = key {
        r = r.header("DPoP", token_proof(app, k));
    }
    status_json(r.send().await.unwrap()).await
}

async fn a_code_bound_by_dpop_jkt_is_redeemed_only_with_that_key(app: TestApp) {
    create_user(&app, "default", "cid@example.com", json!({})).await;
    login_client(&app, "default", "jkt-spa", json!({})).await;
    let k = DpopKey::new(Alg::ES256);
    let other = DpopKey::new(Alg::ES256);
    for (what, key, want) in [
        ("no proof", None, 400),
        ("another key", Some(&other), 400),
        ("the bound key", Some(&k), 200),
    ] {
        let mut b = Browser::new();
        let (verifier, challenge) = pkce();
        let jkt = k.jkt();
        let code = login_for_code(
            &app,
            &mut b,
            "jkt-spa",
            "cid@example.com",
            &[
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("dpop_jkt", &jkt),
            ],
        )
        .await;
        let (status, v) = redeem(&app, "jkt-spa", &code, &verifier, key).await;
        assert_eq!(status, want, "{what}: {v}");
        if want == 400 {
            assert_eq!(v["error"], "invalid_dpop_proof", "{what}");
        } else {
            assert_eq!(
                decode_jwt(v["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
                jkt
            );
        }
    }
    // A dpop_jkt that is no thumbprint is refused back to the client.
    let url = authorize_url(
        &app,
        "jkt-spa",
        &[
            ("scope", "openid"),
            ("dpop_jkt", "not-a-thumbprint"),
            ("state", "s"),
        ],
    );
    let r = Browser::new().get(&url).await;
    assert_eq!(location_params(&r)["error"], "invalid_request");
}

async fn a_proof_at_the_par_endpoint_binds_the_code_to_its_key(app: TestApp) {
    create_user(&app, "default", "par@example.com", json!({})).await;
    login_client(&app, "default", "par-dpop", json!({})).await;
    let k = DpopKey::new(Alg::EdDSA);
    let push = |proof: String, extra: Vec<(&'static str, String)>| {
        let (verifier, challenge) = pkce();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", "par-dpop".into()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "openid".into()),
            ("state", "st".into()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".into()),
        ];
        form.extend(extra);
        let req = app
            .http
            .post(app.url("/oauth/par"))
            .header("DPoP", proof)
            .form(&form);
        async move { (status_json(req.send().await.unwrap()).await, verifier) }
    };
    let par_proof = |key: &DpopKey| {
        key.proof_with("POST", &format!("{ISSUER}/oauth/par"), now(&app), json!({}))
    };
    // A dpop_jkt naming another key than the proof's is refused.
    let ((status, v), _) = push(
        par_proof(&k),
        vec![("dpop_jkt", DpopKey::new(Alg::ES256).jkt())],
    )
    .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // A proof for the token endpoint is not one for /oauth/par.
    let ((status, v), _) = push(token_proof(&app, &k), vec![]).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // A refused push writes nothing: its proof is still good for one valid push (SPEC §7.2).
    let proof = par_proof(&k);
    let ((status, _), _) = push(
        proof.clone(),
        vec![("request_uri", "urn:ietf:params:oauth:request_uri:x".into())],
    )
    .await;
    assert_eq!(status, 400);
    let ((status, v), verifier) = push(proof.clone(), vec![]).await;
    assert_eq!(status, 201, "{v}");
    let ((status, again), _) = push(proof, vec![]).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let mut url = reqwest::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "par-dpop")
        .append_pair("request_uri", v["request_uri"].as_str().unwrap());
    let mut b = Browser::new();
    let r = submit_login(&app, &mut b, url.as_str(), "par@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    let code = location_params(&r)["code"].clone();
    let (status, body) = redeem(&app, "par-dpop", &code, &verifier, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // The refused redemption spent the code (RFC 6749 §4.1.2: single use); a new push, with
    // the key this time, gives tokens bound to it.
    let ((status, v), verifier) = push(par_proof(&k), vec![]).await;
    assert_eq!(status, 201);
    let mut url = reqwest::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "par-dpop")
        .append_pair("request_uri", v["request_uri"].as_str().unwrap());
    let code = silent_code_at(&app, &mut b, url.as_str()).await;
    let (status, body) = redeem(&app, "par-dpop", &code, &verifier, Some(&k)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        decode_jwt(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        k.jkt()
    );
}

/// The code of an authorization request answered at once (the browser has a session).
async fn silent_code_at(app: &TestApp, b: &mut Browser, url: &str) -> String {
    let _ = app;
    let r = b.get(url).await;
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    location_params(&r)["code"].clone()
}

async fn a_dpop_bound_token_is_no_bearer_token_at_the_admin_and_tenant_apis(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "dpop-admin", "name": "x", "grant_types": ["client_credentials"],
                   "scopes": ["tessera:admin", "tessera:generate"], "admin_tokens": true}),
        )
        .await;
    let k = DpopKey::new(Alg::ES256);
    let r = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .header("DPoP", token_proof(&app, &k))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "tessera:admin tessera:generate"),
        ])
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(r).await;
    assert_eq!(status, 200, "{v}");
    let token = v["access_token"].as_str().unwrap();
    let r = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The same client's bearer token works: the refusal is the binding's.
    let bearer = app.access_token(&c, Some("tessera:admin")).await;
    let r = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .post(app.url("/auth/user/generateToken"))
        .bearer_auth(token)
        .json(&json!({"tenant_id": "default", "project_id": "p", "client_id": "dpop-admin", "email_id": "x@example.com"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 401 || r.status() == 404, "{}", r.status());
}

async fn the_compatible_routes_issue_no_bearer_token_to_a_dpop_bound_client(app: TestApp) {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "dpop-partner", "name": "x", "profile": "partner",
                   "grant_types": ["client_credentials"], "scopes": ["read"],
                   "dpop_bound_access_tokens": true}),
        )
        .await;
    for route in ["/v1/oauth/token", "/api/id/v1/auth/token"] {
        let r = app
            .http
            .post(app.url(route))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 400, "{route}: {body}");
        assert!(!body.contains("access_token"), "{route}: {body}");
    }
}

async fn a_proof_sent_with_a_token_that_is_not_ours_is_not_recorded(app: TestApp) {
    let k = DpopKey::new(Alg::ES256);
    let jti = "not-recorded-jti";
    let proof = k.proof_with(
        "GET",
        &format!("{ISSUER}/userinfo"),
        now(&app),
        json!({"jti": jti, "ath": ath("garbage-token")}),
    );
    let r = userinfo_dpop(&app, "garbage-token", Some(&proof)).await;
    assert_eq!(r.status(), 401);
    // The jti is still fresh: the refused request wrote nothing.
    let fresh = app
        .tessera
        .store
        .record_assertion_jti(&format!("#dpop:{}", k.jkt()), jti, now(&app) + 60)
        .await
        .unwrap();
    assert!(fresh);
}

async fn discovery_lists_the_dpop_algorithms(app: TestApp) {
    for doc in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let m = app.get_json(doc).await;
        assert_eq!(
            m["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA", "RS256", "PS256"]),
            "{doc}"
        );
    }
}

both_engines!(
    a_token_request_with_a_proof_gets_a_dpop_bound_token,
    a_replayed_proof_is_refused_on_every_node,
    concurrent_proofs_are_each_accepted_once_however_their_writes_are_shared,
    a_jti_of_any_characters_is_accepted_once_and_fails_nobody_elses_request,
    a_proof_sent_with_a_refused_token_request_is_not_recorded,
    proofs_that_do_not_match_the_request_are_refused,
    a_client_with_dpop_bound_access_tokens_must_send_a_proof,
    userinfo_takes_a_dpop_bound_token_only_with_a_matching_proof,
    a_public_clients_refresh_token_is_bound_to_its_dpop_key,
    a_code_exchanged_without_a_proof_gives_bearer_tokens,
    a_code_bound_by_dpop_jkt_is_redeemed_only_with_that_key,
    a_proof_at_the_par_endpoint_binds_the_code_to_its_key,
    a_dpop_bound_token_is_no_bearer_token_at_the_admin_and_tenant_apis,
    the_compatible_routes_issue_no_bearer_token_to_a_dpop_bound_client,
    a_proof_sent_with_a_token_that_is_not_ours_is_not_recorded,
    discovery_lists_the_dpop_algorithms,
);

/// Server nonces (`dpop.require_nonce`): a proof without the current nonce is answered
/// `use_dpop_nonce` with one; a proof carrying it passes; an old one is refused again.
mod nonces {
    use super::*;

    async fn with_nonces(engine: Engine) {
        let Some(app) = spawn_app_with(engine, |s| s.dpop.require_nonce = true).await else {
            return;
        };
        let c = app.create_client("dpop-nonce").await;
        let k = DpopKey::new(Alg::ES256);
        let r = cc_with_proof(&app, &c, &token_proof(&app, &k)).await;
        let nonce = r
            .headers()
            .get("dpop-nonce")
            .expect("DPoP-Nonce")
            .to_str()
            .unwrap()
            .to_string();
        let (status, v) = status_json(r).await;
        assert_eq!((status, v["error"].as_str()), (400, Some("use_dpop_nonce")));
        let with = |n: &str| k.proof_with("POST", &token_url(), now(&app), json!({"nonce": n}));
        let r = cc_with_proof(&app, &c, &with(&nonce)).await;
        assert!(r.headers().contains_key("dpop-nonce"));
        assert_eq!(r.status(), 200);
        // A forged nonce, and the same nonce three minutes later: refused with a new one.
        for (what, n) in [
            ("forged", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()),
            ("stale", nonce.clone()),
        ] {
            if what == "stale" {
                app.clock.advance(180);
            }
            let r = cc_with_proof(&app, &c, &with(&n)).await;
            let fresh = r
                .headers()
                .get("dpop-nonce")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let (status, v) = status_json(r).await;
            assert_eq!(
                (status, v["error"].as_str()),
                (400, Some("use_dpop_nonce")),
                "{what}"
            );
            assert_ne!(fresh, n);
        }
        // At /userinfo a missing nonce is a 401 with a DPoP challenge naming use_dpop_nonce.
        let n = cc_with_proof(&app, &c, &token_proof(&app, &k)).await;
        let n = n
            .headers()
            .get("dpop-nonce")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let token = {
            let r = cc_with_proof(&app, &c, &with(&n)).await;
            status_json(r).await.1["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let r = userinfo_dpop(&app, &token, Some(&userinfo_proof(&app, &k, &token))).await;
        assert_eq!(r.status(), 401);
        assert!(
            challenge(&r).contains("use_dpop_nonce"),
            "{}",
            challenge(&r)
        );
        assert!(r.headers().contains_key("dpop-nonce"));
    }

    crate::per_engine!(with_nonces);
}
