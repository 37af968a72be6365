//! Criterion micro-benchmarks of the token hot path, piece by piece: what a
//! client_credentials request costs besides the signature (bench/run measures the whole).
//!
//! `cargo bench --bench hot_path` (HTML reports in target/criterion).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tessera::cache::EntityCache;
use tessera::clock::{SharedClock, SystemClock};
use tessera::crypto::{ct_eq, MasterKey};
use tessera::http::body::{parse_params, Accept};
use tessera::keys::signer::{Alg, SigningKey, Typ};
use tessera::keys::Keys;
use tessera::oauth::client_auth::decode_basic;
use tessera::oauth::limits::FailureLimiter;
use tessera::store::Store;
use tessera::tokens::{Audience, TokenIssuer, TokenRequest, TokenUse};

fn signatures(c: &mut Criterion) {
    let payload = vec![b'x'; 260];
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let (key, _) = SigningKey::generate("bench".into(), alg).unwrap();
        c.bench_function(&format!("sign_jwt/{}", alg.as_str()), |b| {
            b.iter(|| key.sign_jwt(Typ::AccessToken, black_box(&payload)).unwrap())
        });
    }
}

fn issuing(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let keys = rt.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let (master, _) = MasterKey::generate().unwrap();
        let keys = Keys::init(store, master, clock.clone(), Alg::RS256, 86400)
            .await
            .unwrap();
        keys.ensure_alg(Alg::EdDSA).await.unwrap();
        keys
    });
    let issuer = TokenIssuer::new("https://tessera.example", keys, clock);
    for alg in [Alg::RS256, Alg::EdDSA] {
        let req = TokenRequest {
            sub: "billing-service".into(),
            aud: Audience::One("https://tessera.example".into()),
            ttl: 3600,
            client_id: "billing-service".into(),
            scopes: vec!["invoices:read".into()],
            token_use: TokenUse::Client,
            tenant_id: Some("default".into()),
            project_id: None,
            with_scp: false,
            alg: Some(alg),
            cnf: None,
        };
        c.bench_function(&format!("issue_access_token/{}", alg.as_str()), |b| {
            b.iter(|| issuer.issue(black_box(&req)).unwrap())
        });
    }
}

fn request_handling(c: &mut Criterion) {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let body = b"grant_type=client_credentials&scope=invoices%3Aread";
    c.bench_function("parse_form_params", |b| {
        b.iter(|| parse_params(&headers, black_box(body), Accept::FormOrJson).unwrap())
    });
    let basic = tessera::crypto::b64(format!("billing-service:{}", "f".repeat(64)).as_bytes());
    c.bench_function("decode_basic", |b| {
        b.iter(|| decode_basic(black_box(&basic)).unwrap())
    });
    let (master, _) = MasterKey::generate().unwrap();
    let secret = "f".repeat(64);
    let stored = master.hash_secret(secret.as_bytes());
    c.bench_function("verify_generated_secret_hmac", |b| {
        b.iter(|| ct_eq(&master.hash_secret(black_box(secret.as_bytes())), &stored))
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let limiter = FailureLimiter::new(20, 100_000, Arc::new(SystemClock));
    c.bench_function("failure_limiter_attempt_no_failures", |b| {
        b.to_async(&rt).iter(|| async {
            limiter
                .begin(black_box("127.0.0.1"), Some("billing-service"))
                .await
                .unwrap()
                .succeeded()
        })
    });
    let cache: EntityCache<String> = EntityCache::new(100_000, Duration::from_secs(300));
    rt.block_on(cache.get_or_load("billing-service", true, async {
        Ok::<_, ()>(Some("client".to_string()))
    }))
    .unwrap();
    c.bench_function("client_cache_hit", |b| {
        b.to_async(&rt).iter(|| async {
            cache
                .get_or_load(black_box("billing-service"), true, async {
                    Ok::<_, ()>(None)
                })
                .await
                .unwrap()
        })
    });
}

criterion_group!(benches, signatures, issuing, request_handling);
criterion_main!(benches);
