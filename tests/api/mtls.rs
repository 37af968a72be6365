//! Mutual TLS (RFC 8705, SPEC §9) against the real server on its own TLS listener: client
//! authentication by certificate (`tls_client_auth`, `self_signed_tls_client_auth`),
//! certificate-bound tokens at `/oauth/token` and `/userinfo`, service `mtls` bindings, and
//! discovery. Every key and certificate is made in the test (rcgen); none is checked in.

use crate::helpers::*;
use crate::login_helpers::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{json, Value};
use tessera::config::Settings;

/// A client certificate and its key.
struct Identity {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
    key: KeyPair,
}

impl Identity {
    /// RFC 8705 §3.1 thumbprint.
    fn x5t(&self) -> String {
        tessera::crypto::b64url(&tessera::crypto::sha256(&self.der))
    }

    /// The public key as a JWK (rcgen's default keys are ECDSA P-256).
    fn jwk(&self) -> Value {
        let raw = self.key.public_key_raw();
        let (x, y) = raw[1..].split_at(32);
        json!({"kty": "EC", "crv": "P-256", "x": tessera::crypto::b64url(x),
               "y": tessera::crypto::b64url(y)})
    }
}

/// A certificate authority made for one test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = CertificateParams::default();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        p.distinguished_name = dn;
        Ca(CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    fn issue(&self, p: CertificateParams) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.0).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
            key,
        }
    }
}

/// Client certificate parameters: subject `CN=cn,O=Acme`, the given SANs, `clientAuth`.
fn client_params(cn: &str, sans: Vec<SanType>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Acme");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = sans;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}

fn dns(d: &str) -> SanType {
    SanType::DnsName(d.try_into().unwrap())
}

/// A self-signed client certificate.
fn self_signed(cn: &str) -> Identity {
    let key = KeyPair::generate().unwrap();
    let cert = client_params(cn, vec![]).self_signed(&key).unwrap();
    Identity {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        key,
    }
}

/// The server's CA, its certificate files and the configured client CA, in a temp dir.
struct Pki {
    ca: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let ca = Ca::new("Tessera Test CA");
        let mut p = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = ca.issue(p);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.key_pem).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Pki { ca, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `tls.*` for this PKI: the CA signs both the server and the trusted client certificates.
    fn configure(&self, s: &mut Settings) {
        s.tls.cert = self.path("server.pem");
        s.tls.key = self.path("server.key");
        s.tls.client_ca = self.path("ca.pem");
    }

    /// An HTTPS client trusting the server's CA, presenting `id` if given.
    fn client(&self, id: Option<&Identity>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.pem().as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(id) = id {
            let pem = format!("{}{}", id.cert_pem, id.key_pem);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }
}

/// A server on `engine` whose `listen` speaks TLS with `pki`; its `http` trusts the CA.
async fn tls_app(engine: Engine, pki: &Pki, adjust: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let mut app = spawn_app_with(engine, |s| {
        pki.configure(s);
        adjust(s);
    })
    .await?;
    assert!(app.base.starts_with("https://"), "{}", app.base);
    app.http = pki.client(None);
    Some(app)
}

/// [`tls_app`] with user ann and public login client `spa`, whose tokens are bound to the
/// certificate it presents.
async fn bound_spa_app(engine: Engine, pki: &Pki) -> Option<TestApp> {
    let app = tls_app(engine, pki, |_| {}).await?;
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "spa",
        json!({"tls_client_certificate_bound_access_tokens": true}),
    )
    .await;
    Some(app)
}

/// `POST /oauth/token` client_credentials naming `client_id` only, over `http`.
async fn cc_token(app: &TestApp, http: &reqwest::Client, client_id: &str) -> (u16, Value) {
    let r = http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A client_credentials client authenticated by certificate.
async fn cert_client(app: &TestApp, id: &str, extra: Value) -> TestClient {
    let mut body = json!({"client_id": id, "name": id, "grant_types": ["client_credentials"],
                          "scopes": ["read"], "token_endpoint_auth_method": "tls_client_auth"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.create_client_in("default", body).await
}

async fn tls_client_auth_accepts_a_ca_certificate_by_subject_dn_san_uri_or_san_dns(engine: Engine) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    cert_client(
        &app,
        "by-dn",
        json!({"tls_client_auth_subject_dn": "CN=orders-client,O=Acme"}),
    )
    .await;
    cert_client(
        &app,
        "by-uri",
        json!({"tls_client_auth_san_uri": "spiffe://example.org/ns/prod/sa/orders"}),
    )
    .await;
    cert_client(
        &app,
        "by-dns",
        json!({"tls_client_auth_san_dns": "orders.example.com"}),
    )
    .await;
    let by_dn = pki.ca.issue(client_params("orders-client", vec![]));
    let by_uri = pki.ca.issue(client_params(
        "x",
        vec![uri("spiffe://example.org/ns/prod/sa/orders")],
    ));
    let by_dns = pki
        .ca
        .issue(client_params("y", vec![dns("orders.example.com")]));
    // RFC 4514 order only: the certificate's own order (O=Acme, then CN) names another DN.
    cert_client(
        &app,
        "by-dn-reversed",
        json!({"tls_client_auth_subject_dn": "O=Acme,CN=orders-client"}),
    )
    .await;
    let (status, v) = cc_token(&app, &pki.client(Some(&by_dn)), "by-dn-reversed").await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));

    for (client, id) in [("by-dn", &by_dn), ("by-uri", &by_uri), ("by-dns", &by_dns)] {
        let (status, v) = cc_token(&app, &pki.client(Some(id)), client).await;
        assert_eq!(status, 200, "{client}: {v}");
        let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
        assert_eq!(claims["client_id"], client);
        assert!(claims.get("cnf").is_none(), "not a bound client");
    }
    // Another CA certificate, or none, is not the registered one.
    let (status, v) = cc_token(&app, &pki.client(Some(&by_uri)), "by-dn").await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    let (status, v) = cc_token(&app, &pki.client(None), "by-dns").await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    // The same method at introspection.
    let token = cc_token(&app, &pki.client(Some(&by_dn)), "by-dn").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = pki
        .client(Some(&by_dn))
        .post(app.url("/oauth/introspect"))
        .form(&[("client_id", "by-dn"), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
}

async fn a_certificate_from_an_unknown_ca_is_refused_for_tls_client_auth(engine: Engine) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    cert_client(
        &app,
        "by-dn",
        json!({"tls_client_auth_subject_dn": "CN=orders-client,O=Acme"}),
    )
    .await;
    let rogue = Ca::new("Rogue CA").issue(client_params("orders-client", vec![]));
    let (status, v) = cc_token(&app, &pki.client(Some(&rogue)), "by-dn").await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    // A self-signed certificate with the same subject neither.
    let forged = self_signed("orders-client");
    let (status, _) = cc_token(&app, &pki.client(Some(&forged)), "by-dn").await;
    assert_eq!(status, 401);
    // Refusals are failed authentications: audited like any other.
    let events = app.audit_events("client=by-dn").await;
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "auth.failed")
            .count()
            >= 2,
        "{events:?}"
    );
}

async fn self_signed_tls_client_auth_accepts_the_certificate_whose_key_is_registered(
    engine: Engine,
) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    let mine = self_signed("device-42");
    cert_client(
        &app,
        "device",
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth",
               "jwks": {"keys": [mine.jwk()]}}),
    )
    .await;
    let (status, v) = cc_token(&app, &pki.client(Some(&mine)), "device").await;
    assert_eq!(status, 200, "{v}");
    let other = self_signed("device-42");
    let (status, v) = cc_token(&app, &pki.client(Some(&other)), "device").await;
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    // A CA certificate is fine too, as long as its key is registered; it is not here.
    let ca_issued = pki.ca.issue(client_params("device-42", vec![]));
    assert_eq!(
        cc_token(&app, &pki.client(Some(&ca_issued)), "device")
            .await
            .0,
        401
    );
}

async fn a_certificate_bound_token_carries_its_thumbprint_and_userinfo_needs_that_certificate(
    engine: Engine,
) {
    let pki = Pki::new();
    let Some(mut app) = bound_spa_app(engine, &pki).await else {
        return;
    };
    let holder = self_signed("spa-instance");
    // The browser needs no certificate; the client exchanging the code presents its own.
    let mut b = Browser {
        http: pki.client(None),
        cookies: Default::default(),
        set_cookies: vec![],
    };
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        &app,
        &mut b,
        "spa",
        "ann@example.com",
        &[
            ("scope", "openid email"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    // Without a certificate a bound client gets nothing (and the code is not spent).
    let (status, v) = exchange(&app, "spa", &code, &verifier).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    app.http = pki.client(Some(&holder));
    let (status, v) = exchange(&app, "spa", &code, &verifier).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let access = v["access_token"].as_str().unwrap().to_string();
    let claims = verify_with_jwks(&app, &access).await;
    assert_eq!(claims["cnf"]["x5t#S256"], holder.x5t());

    // Over the certificate it is bound to: accepted.
    let (status, info) = userinfo(&app, &access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["email"], "ann@example.com");
    // Over another certificate, or none: 401 invalid_token with a Bearer challenge.
    for presenting in [Some(self_signed("thief")), None] {
        let r = pki
            .client(presenting.as_ref())
            .get(app.url("/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_token");
    }
}

/// Signs ann@example.com in to public client `client` and exchanges the code over `holder`'s
/// certificate (`openid offline_access`): the token response.
async fn code_tokens_over(app: &TestApp, pki: &Pki, client: &str, holder: &Identity) -> Value {
    let mut b = Browser {
        http: pki.client(None),
        cookies: Default::default(),
        set_cookies: vec![],
    };
    let (verifier, challenge) = pkce();
    let code = login_for_code(
        app,
        &mut b,
        client,
        "ann@example.com",
        &[
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let r = pki
        .client(Some(holder))
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Uses refresh token `rt` of public client `client` over `presenting`'s certificate (or
/// none): status and body.
async fn refresh_over(
    app: &TestApp,
    pki: &Pki,
    presenting: Option<&Identity>,
    client: &str,
    rt: &str,
) -> (u16, Value) {
    let r = pki
        .client(presenting)
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", rt),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn a_public_clients_refresh_token_is_bound_to_the_certificate_its_access_token_is(
    engine: Engine,
) {
    let pki = Pki::new();
    let Some(app) = bound_spa_app(engine, &pki).await else {
        return;
    };
    let holder = self_signed("spa-instance");
    let thief = self_signed("thief");
    let v = code_tokens_over(&app, &pki, "spa", &holder).await;
    let rt = v["refresh_token"].as_str().unwrap().to_string();

    // Over another certificate: invalid_grant, and the token is not spent.
    let (status, v) = refresh_over(&app, &pki, Some(&thief), "spa", &rt).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    // Over none: this client's tokens need a certificate at all.
    let (status, v) = refresh_over(&app, &pki, None, "spa", &rt).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    // Over the certificate: new tokens, bound to it again.
    let (status, v) = refresh_over(&app, &pki, Some(&holder), "spa", &rt).await;
    assert_eq!(status, 200, "{v}");
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["cnf"]["x5t#S256"], holder.x5t());
    let rt = v["refresh_token"].as_str().unwrap().to_string();

    // The refresh token's binding holds on its own, after the client stops asking for bound
    // access tokens: without the certificate, or over another, invalid_grant.
    let r = app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/tenants/default/clients/spa",
            Some(json!({"tls_client_certificate_bound_access_tokens": false})),
        )
        .await;
    assert_eq!(r.status(), 200);
    for presenting in [None, Some(&thief)] {
        let (status, v) = refresh_over(&app, &pki, presenting, "spa", &rt).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("invalid_grant")),
            "{v}"
        );
    }
    let (status, v) = refresh_over(&app, &pki, Some(&holder), "spa", &rt).await;
    assert_eq!(status, 200, "{v}");
}

async fn a_public_clients_refresh_token_is_unbound_when_its_access_token_is(engine: Engine) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(&app, "default", "spa", json!({})).await;
    let holder = self_signed("spa-instance");
    // A certificate that binds nothing: the access token is a bearer token.
    let v = code_tokens_over(&app, &pki, "spa", &holder).await;
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert!(claims.get("cnf").is_none(), "{claims}");

    let rt = v["refresh_token"].as_str().unwrap();
    let (status, v) = refresh_over(&app, &pki, None, "spa", rt).await;

    assert_eq!(status, 200, "{v}");
}

async fn a_bound_client_credentials_client_needs_a_certificate_and_introspection_shows_cnf(
    engine: Engine,
) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    // A secret-authenticated client may still have its tokens bound (RFC 8705 §3).
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": "bound", "name": "bound", "grant_types": ["client_credentials"],
                   "scopes": ["read"], "tls_client_certificate_bound_access_tokens": true}),
        )
        .await;
    let r = app
        .token_basic(&c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("certificate"),
        "{v}"
    );

    let cert = self_signed("bound-instance");
    let r = pki
        .client(Some(&cert))
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let v = introspect(&app, &c, &token).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["cnf"]["x5t#S256"], cert.x5t());
}

async fn a_service_mtls_binding_matches_the_spiffe_id_of_a_certificate_tessera_verified(
    engine: Engine,
) {
    let pki = Pki::new();
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    let spiffe = "spiffe://example.org/ns/prod/sa/orders";
    let body = json!({"name": "orders", "bindings": [{"type": "mtls", "san": spiffe}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let post = |id: Option<&Identity>| {
        pki.client(id)
            .post(app.url("/v1/auth/token"))
            .json(&json!({}))
            .send()
    };
    let verified = pki.ca.issue(client_params("orders", vec![uri(spiffe)]));
    let r = post(Some(&verified)).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "orders");
    assert_eq!(claims["token_use"], "service");
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        verified.x5t(),
        "bound to the certificate it proved itself with"
    );
    // The same SAN in a certificate Tessera did not verify (self-signed, another CA): 401.
    let mut p = client_params("orders", vec![uri(spiffe)]);
    let key = KeyPair::generate().unwrap();
    p.is_ca = IsCa::NoCa;
    let cert = p.self_signed(&key).unwrap();
    let forged = Identity {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        key,
    };
    problem(post(Some(&forged)).await.unwrap(), 401).await;
    let rogue = Ca::new("Rogue CA").issue(client_params("orders", vec![uri(spiffe)]));
    problem(post(Some(&rogue)).await.unwrap(), 401).await;
    problem(post(None).await.unwrap(), 401).await;
}

async fn discovery_names_the_certificate_methods_and_the_aliases_of_tls_listen(engine: Engine) {
    let pki = Pki::new();
    // One TLS listener: no aliases, the methods and bound tokens announced.
    let Some(app) = tls_app(engine, &pki, |_| {}).await else {
        return;
    };
    let m = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(m["tls_client_certificate_bound_access_tokens"], true);
    let methods = m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("tls_client_auth")));
    assert!(methods.contains(&json!("self_signed_tls_client_auth")));
    assert!(m.get("mtls_endpoint_aliases").is_none());
    drop(app);

    // With tls.listen, a second listener asks for certificates and discovery names it.
    let Some(app) = tls_app(engine, &pki, |s| s.tls.listen = "127.0.0.1:0".into()).await else {
        return;
    };
    let m = app.get_json("/.well-known/openid-configuration").await;
    let alias = m["mtls_endpoint_aliases"]["token_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let base = app.tessera.settings.tls.url.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    assert_ne!(format!("{base}/oauth/token"), app.url("/oauth/token"));
    assert_eq!(alias, format!("{base}/oauth/token"));
    cert_client(
        &app,
        "by-dn",
        json!({"tls_client_auth_subject_dn": "CN=orders-client,O=Acme"}),
    )
    .await;
    let id = pki.ca.issue(client_params("orders-client", vec![]));
    let r = pki
        .client(Some(&id))
        .post(&alias)
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // A DPoP proof may name the alias as its htu (RFC 9449 §4.3: the URL the request went to).
    let k = crate::dpop::DpopKey::new(tessera::keys::signer::Alg::ES256);
    let proof = k.proof_with("POST", &alias, app.tessera.clock.now(), json!({}));
    let r = pki
        .client(Some(&id))
        .post(&alias)
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "DPoP", "{v}");
    // `listen` does not ask for a certificate: the same request there is refused.
    let (status, _) = cc_token(&app, &pki.client(Some(&id)), "by-dn").await;
    assert_eq!(status, 401);
}

crate::per_engine!(
    tls_client_auth_accepts_a_ca_certificate_by_subject_dn_san_uri_or_san_dns,
    a_certificate_from_an_unknown_ca_is_refused_for_tls_client_auth,
    self_signed_tls_client_auth_accepts_the_certificate_whose_key_is_registered,
    a_certificate_bound_token_carries_its_thumbprint_and_userinfo_needs_that_certificate,
    a_public_clients_refresh_token_is_bound_to_the_certificate_its_access_token_is,
    a_public_clients_refresh_token_is_unbound_when_its_access_token_is,
    a_bound_client_credentials_client_needs_a_certificate_and_introspection_shows_cnf,
    a_service_mtls_binding_matches_the_spiffe_id_of_a_certificate_tessera_verified,
    discovery_names_the_certificate_methods_and_the_aliases_of_tls_listen,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tls_settings_the_plain_listener_serves_http_and_announces_no_certificates() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    assert!(app.base.starts_with("http://"));
    let m = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(m["tls_client_certificate_bound_access_tokens"], false);
    let methods = m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(!methods.contains(&json!("tls_client_auth")));
    // A certificate client cannot authenticate without a certificate.
    cert_client(
        &app,
        "by-dn",
        json!({"tls_client_auth_subject_dn": "CN=orders-client,O=Acme"}),
    )
    .await;
    let (status, _) = cc_token(&app, &app.http, "by-dn").await;
    assert_eq!(status, 401);
    let c = app.create_client("plain").await;
    assert!(!app.access_token(&c, None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_header_carrying_the_certificate_gives_a_bound_service_token() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.s2s.trusted_proxies = (&["127.0.0.1/32"][..]).try_into().unwrap();
    })
    .await
    .unwrap();
    let spiffe = "spiffe://example.org/ns/prod/sa/orders";
    let body = json!({"name": "orders", "bindings": [{"type": "mtls", "san": spiffe}]});
    assert_eq!(
        app.admin_post("/admin/v1/services", body).await.status(),
        201
    );
    let cert = self_signed("orders");
    let hash: String = tessera::crypto::sha256(&cert.der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let call = |xfcc: String| {
        app.http
            .post(app.url("/v1/auth/token"))
            .header("X-Forwarded-Client-Cert", xfcc)
            .send()
    };
    let r = call(format!("Hash={hash};URI={spiffe}")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["cnf"]["x5t#S256"], cert.x5t());
    // Without the certificate in the header the token is not bound.
    let r = call(format!("URI={spiffe}")).await.unwrap();
    let v: Value = r.json().await.unwrap();
    let claims = verify_with_jwks(&app, v["access_token"].as_str().unwrap()).await;
    assert!(claims.get("cnf").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_settings_stop_the_start_with_a_message_naming_the_setting() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let build = |adjust: &dyn Fn(&mut Settings)| {
        let mut s = test_settings(
            dir.path(),
            &format!("sqlite://{}", dir.path().join("t.db").display()),
        );
        pki.configure(&mut s);
        adjust(&mut s);
        async move {
            tessera::app::App::build_default(s)
                .await
                .map(|_| ())
                .unwrap_err()
                .to_string()
        }
    };
    let missing = build(&|s| s.tls.cert = "/nonexistent/cert.pem".into()).await;
    assert!(
        missing.contains("tls.cert /nonexistent/cert.pem"),
        "{missing}"
    );
    std::fs::write(dir.path().join("junk.pem"), "not pem at all").unwrap();
    let junk = dir.path().join("junk.pem").display().to_string();
    let bad = build(&|s| s.tls.key = junk.clone()).await;
    assert!(bad.contains("tls.key"), "{bad}");
    let bad = build(&|s| s.tls.client_ca = junk.clone()).await;
    assert!(bad.contains("tls.client_ca"), "{bad}");
    // A key that is not the certificate's.
    let other = dir.path().join("other.key");
    std::fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let other = other.display().to_string();
    let bad = build(&|s| s.tls.key = other.clone()).await;
    assert!(bad.contains("tls.cert / tls.key"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_comes_is_closed_after_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let pki = Pki::new();
    let app = tls_app(Engine::Sqlite, &pki, |s| s.server.header_timeout = 1)
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(app.base.trim_start_matches("https://"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("still open after 5 s");
    assert!(matches!(closed, Ok(0) | Err(_)));
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // Others are served over TLS as before.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
