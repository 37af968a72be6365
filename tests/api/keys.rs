use crate::both_engines;
use crate::helpers::*;
use serde_json::Value;

async fn jwks(app: &TestApp) -> (Value, String) {
    let r = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let cc = r.headers()["cache-control"].to_str().unwrap().to_string();
    (r.json().await.unwrap(), cc)
}

async fn the_jwks_publishes_active_and_next_public_keys_with_caching(app: TestApp) {
    let (v, cc) = jwks(&app).await;
    assert!(cc.starts_with("public, max-age="), "{cc}");
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        8,
        "active and next of each of the four algorithms"
    );
    let rs256 = keys.iter().filter(|k| k["alg"] == "RS256").count();
    assert_eq!(rs256, 2, "active and next");
    for k in keys {
        assert!(
            k.get("d").is_none() && k.get("p").is_none() && k.get("priv").is_none(),
            "public parts only"
        );
    }
    let r = app.admin_get("/admin/v1/keys").await;
    let list: Value = r.json().await.unwrap();
    let statuses: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"active") && statuses.contains(&"next"));
    assert!(!list.to_string().contains("\"d\""));
}

async fn a_token_issued_before_rotation_still_verifies_until_it_expires(app: TestApp) {
    let c = app.create_client("rot-k").await;
    let before = app.access_token(&c, None).await;
    let (h_before, _) = decode_jwt(&before);
    let (v, _) = jwks(&app).await;
    let next_kid: Vec<String> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "RS256")
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .filter(|k| *k != h_before["kid"])
        .collect();
    let r = app
        .admin_post("/admin/v1/keys/rotate", serde_json::json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let after = app.access_token(&c, None).await;
    let (h_after, _) = decode_jwt(&after);
    assert_ne!(h_before["kid"], h_after["kid"]);
    assert_eq!(
        h_after["kid"].as_str().unwrap(),
        next_kid[0],
        "the published next key became active"
    );
    let (v, _) = jwks(&app).await;
    let kids: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "RS256")
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&h_before["kid"].as_str().unwrap()),
        "retired key still published"
    );
    assert_eq!(kids.len(), 3, "retired, active, next");
    let verifiers: Vec<_> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(tessera::keys::signer::VerifyingKey::from_jwk)
        .collect();
    tessera::keys::jws::verify(&before, &verifiers).expect("old token verifies");
    let r = app
        .http
        .post(app.url("/oauth/introspect"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("token", &before)])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["active"], true);
    // Once every token it signed has expired, the retired key leaves the JWKS.
    app.clock.advance(86_401);
    app.tessera.keys.reload().await.unwrap();
    let (v, _) = jwks(&app).await;
    assert_eq!(
        v["keys"].as_array().unwrap().len(),
        8,
        "active and next of four algorithms"
    );
}

async fn private_keys_are_encrypted_at_rest_under_the_master_key(app: TestApp) {
    let records = app.tessera.store.list_keys().await.unwrap();
    assert!(!records.is_empty());
    let (other, _) = tessera::crypto::MasterKey::generate().unwrap();
    for r in records {
        assert!(other.decrypt(&r.private_enc, r.kid.as_bytes()).is_err());
        let plain = app
            .tessera
            .master
            .decrypt(&r.private_enc, r.kid.as_bytes())
            .unwrap();
        assert_ne!(plain, r.private_enc);
        assert!(!r.public_jwk.contains("\"d\""));
    }
}

both_engines!(
    the_jwks_publishes_active_and_next_public_keys_with_caching,
    a_token_issued_before_rotation_still_verifies_until_it_expires,
    private_keys_are_encrypted_at_rest_under_the_master_key,
);
