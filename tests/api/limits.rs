//! Hostile traffic (SPEC §7.2): concurrent guesses never pass the failure limits, argon2 work
//! is bounded in number and memory, the limiter's keys are bounded, admin bearer tokens are
//! limited, a flood of refusals cannot fill the audit log, old audit events are deleted, and
//! a Vault failure says nothing and counts. Every flood is bounded and goes to 127.0.0.x.

use crate::binary::Server;
use crate::helpers::*;
use crate::login_helpers::{authorize_url, create_user, login_client, submit_login, Browser};
use futures::StreamExt;
use serde_json::{json, Value};
use std::net::IpAddr;

/// An HTTP client whose requests come from `ip` (any 127.0.0.0/8 address works on Linux).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// How many of `statuses` are `status`.
fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// `n` concurrent `client_credentials` requests to `url` with `id` and a wrong secret each;
/// their statuses.
async fn wrong_secrets(http: &reqwest::Client, url: &str, id: &str, n: usize) -> Vec<u16> {
    futures::future::join_all((0..n).map(|i| async move {
        http.post(url)
            .basic_auth(id, Some(format!("wrong-{i}")))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }))
    .await
}

/// A client whose imported low-entropy secret is held as an argon2id hash.
async fn argon2_client(app: &TestApp, id: &str) -> TestClient {
    let c = app
        .create_client_in(
            "default",
            json!({"client_id": id, "name": id, "grant_types": ["client_credentials"],
                   "scopes": [], "client_secret": "legacy-pass-1"}),
        )
        .await;
    TestClient {
        secret: "legacy-pass-1".into(),
        ..c
    }
}

async fn concurrent_wrong_client_secrets_evaluate_at_most_the_limit(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    let c = app.create_client("guessed").await;

    let statuses = wrong_secrets(&app.http, &app.url("/oauth/token"), &c.id, 200).await;

    let evaluated = count(&statuses, 401);
    eprintln!(
        "200 concurrent wrong secrets: {evaluated} evaluated (401), {} limited (429), {} busy (503)",
        count(&statuses, 429),
        count(&statuses, 503)
    );
    assert!(evaluated <= 20, "{evaluated} guesses evaluated, limit 20");
    assert!(count(&statuses, 429) > 0);
    assert_eq!(
        evaluated + count(&statuses, 429) + count(&statuses, 503),
        200
    );
    // The right secret from another address is served at once.
    let r = client_from("127.0.0.2")
        .post(app.url("/oauth/token"))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_client_secrets_evaluate_at_most_the_limit_on_sqlite() {
    concurrent_wrong_client_secrets_evaluate_at_most_the_limit(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_client_secrets_evaluate_at_most_the_limit_on_postgres() {
    concurrent_wrong_client_secrets_evaluate_at_most_the_limit(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_on_the_login_page_evaluate_at_most_the_limit() {
    // Permits for every request: here the failure limit alone bounds the argon2 checks.
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.limits.failed_auth_per_minute = 5;
        s.limits.max_concurrent_hashes = 40;
    })
    .await
    .unwrap();
    create_user(&app, "default", "ann@example.com", json!({})).await;
    login_client(
        &app,
        "default",
        "web",
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await;
    let url = authorize_url(&app, "web", &[]);

    let statuses = futures::future::join_all((0..40).map(|i| {
        let (app, url) = (&app, &url);
        async move {
            let mut b = Browser::new();
            let r = submit_login(app, &mut b, url, "ann@example.com", &format!("guess-{i}")).await;
            r.status().as_u16()
        }
    }))
    .await;

    // A wrong password shows the login page again (200); past the limit, 429.
    let evaluated = count(&statuses, 200);
    eprintln!(
        "40 concurrent wrong passwords: {evaluated} evaluated, {} limited, {} busy",
        count(&statuses, 429),
        count(&statuses, 503)
    );
    assert!(evaluated <= 5, "{evaluated} passwords checked, limit 5");
    assert_eq!(
        evaluated + count(&statuses, 429) + count(&statuses, 503),
        40,
        "{statuses:?}"
    );
    // Guessing on one by one: at most 5 in all are checked before the 429.
    let mut checked = evaluated;
    let mut b = Browser::new();
    loop {
        match submit_login(&app, &mut b, &url, "ann@example.com", "again")
            .await
            .status()
            .as_u16()
        {
            429 => break,
            200 => checked += 1,
            503 => {}
            other => panic!("unexpected {other}"),
        }
        assert!(checked <= 5, "{checked} passwords checked, limit 5");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_checks_beyond_the_permits_wait_at_most_a_second_then_get_503_with_retry_after() {
    // No failure limit here: only the argon2 permits stand between the flood and the hashes.
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.limits.failed_auth_per_minute = 0;
        s.limits.max_concurrent_hashes = 1;
    })
    .await
    .unwrap();
    let c = argon2_client(&app, "legacy").await;
    let started = std::time::Instant::now();

    let answers = futures::future::join_all((0..30).map(|i| {
        let (app, c) = (&app, &c);
        async move {
            app.http
                .post(app.url("/oauth/token"))
                .basic_auth(&c.id, Some(format!("wrong-{i}")))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        }
    }))
    .await;

    let mut busy = 0;
    for r in answers {
        match r.status().as_u16() {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(r.headers()["retry-after"], "1");
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["error"], "temporarily_unavailable");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        busy > 0,
        "30 argon2 checks on one permit cannot all finish in time"
    );
    assert_eq!(app.tessera.hashes.available(), 1, "every permit came back");
    // Nothing waited much longer than a second for a permit.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(
        app.token_basic(&c, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
}

/// Peak resident memory of process `pid` in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_wrong_argon2_secrets_leave_the_process_under_300_mb() {
    let dir = tempfile::tempdir().unwrap();
    // No failure limit: every request reaches the argon2 check, bounded only by its permits.
    let server = Server::start(
        dir.path(),
        &[
            ("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
            ("TESSERA_LIMITS_FAILED_AUTH_PER_MINUTE", "0".to_string()),
            ("TESSERA_LOG", "warn,tessera=info".to_string()),
        ],
    );
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/admin/v1/tenants/default/clients", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"client_id": "legacy", "name": "x", "grant_types": ["client_credentials"],
                      "scopes": [], "client_secret": "legacy-pass-1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let before = peak_rss_mib(server.pid());

    let url = format!("{}/oauth/token", server.base);
    let statuses = wrong_secrets(&http, &url, "legacy", 200).await;

    let peak = peak_rss_mib(server.pid());
    eprintln!(
        "200 concurrent wrong argon2 secrets: peak RSS {before} MiB -> {peak} MiB; {} checked (401), {} busy (503)",
        count(&statuses, 401),
        count(&statuses, 503)
    );
    assert!(peak < 300, "peak resident memory {peak} MiB");
    assert_eq!(count(&statuses, 401) + count(&statuses, 503), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_kilobyte_client_ids_from_many_addresses_keep_the_limiter_within_max_tracked() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.limits.max_tracked = 64)
        .await
        .unwrap();
    let url = app.url("/oauth/token");

    for host in 2..=101 {
        let http = client_from(&format!("127.0.0.{host}"));
        let id = format!("{host}{}", "x".repeat(60_000));
        let r = http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ])
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 400 | 401), "{}", r.status());
    }

    let tracked = app.tessera.limiter.tracked();
    assert!(tracked <= 64, "{tracked} keys held");
    // The audit log holds at most 255 characters of each id.
    for e in app.audit_events("limit=1000").await {
        for k in ["client_id", "subject", "outcome"] {
            assert!(e[k].as_str().unwrap_or("").chars().count() <= 255, "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_bearer_failures_past_the_limit_get_429_and_other_addresses_are_served() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let guess = |n: usize| {
        app.http
            .get(app.url("/admin/v1/tenants"))
            .bearer_auth(format!("guess-{n}"))
            .send()
    };
    for n in 0..20 {
        assert_eq!(guess(n).await.unwrap().status(), 401);
    }

    let r = guess(20).await.unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let v = problem(r, 429).await;
    assert_eq!(v["karmoCode"], "42900801");
    // The address is limited, even for the right token; another address is not.
    assert_eq!(app.admin_get("/admin/v1/tenants").await.status(), 429);
    let r = client_from("127.0.0.2")
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.clock.advance(60);
    assert_eq!(app.admin_get("/admin/v1/tenants").await.status(), 200);
}

/// Bytes of the SQLite database with its WAL.
fn sqlite_bytes(app: &TestApp) -> u64 {
    let path = app.settings.database_url.trim_start_matches("sqlite://");
    [path.to_string(), format!("{path}-wal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

async fn ten_thousand_refused_requests_write_a_few_audit_rows(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    let c = app.create_client("partner-x").await;
    let long_id = "p".repeat(10_000);
    app.tessera.audit.flush().await;
    let before = sqlite_bytes(&app);
    let url = app.url("/v1/oauth/token");

    let statuses: Vec<u16> = futures::stream::iter(0..10_000)
        .map(|i| {
            let (app, url, c, long_id) = (&app, &url, &c, &long_id);
            async move {
                // Half name the real client, half a 10 KB id of their own.
                let id = if i % 2 == 0 { c.id.as_str() } else { long_id };
                app.http
                    .post(url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", id),
                        ("client_secret", "wrong"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    assert!(count(&statuses, 401) <= 20);
    // The 10 KB ids are refused as over-long (400) before any limit or audit.
    assert_eq!(count(&statuses, 400), 5_000);
    assert!(count(&statuses, 429) >= 4_900, "{}", count(&statuses, 429));
    // Read from another address: this one is limited.
    let reader = client_from("127.0.0.2");
    let events: Value = reader
        .get(app.url("/admin/v1/audit?limit=1000"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flood: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["remote"] == "127.0.0.1" && e["event"] != "admin.client.created")
        .collect();
    eprintln!("10,000 refused requests -> {} audit rows", flood.len());
    // At most 20 failures (each `auth.failed` and `token.refused`), then one row a minute
    // (room for refusals that are no failure, made before the address was limited).
    assert!(flood.len() <= 100, "{} rows", flood.len());
    assert!(
        flood
            .iter()
            .filter(|e| e["event"] == "auth.limited")
            .count()
            <= 1
    );
    let metrics = reader
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let limited: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tessera_limited_refusals_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(limited >= 9_900.0, "{limited}");
    if engine == Engine::Sqlite {
        let grown = sqlite_bytes(&app).saturating_sub(before);
        eprintln!("SQLite grew by {grown} bytes");
        assert!(grown < 1024 * 1024, "the database grew by {grown} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_refused_requests_write_a_few_audit_rows_on_sqlite() {
    ten_thousand_refused_requests_write_a_few_audit_rows(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_refused_requests_write_a_few_audit_rows_on_postgres() {
    ten_thousand_refused_requests_write_a_few_audit_rows(Engine::Postgres).await;
}

async fn audit_events_older_than_the_retention_are_deleted(engine: Engine) {
    let Some(app) = spawn_app(engine).await else {
        return;
    };
    const DAY: i64 = 86_400;
    app.create_tenant("old").await;
    app.clock.advance(89 * DAY);
    app.create_tenant("recent").await;
    app.clock.advance(2 * DAY);
    assert_eq!(app.audit_events("limit=1000").await.len(), 2);

    let deleted = app.tessera.purge_old_audit().await.unwrap();

    assert_eq!(deleted, 1);
    let left = app.audit_events("limit=1000").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["subject"], "recent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_older_than_the_retention_are_deleted_on_sqlite() {
    audit_events_older_than_the_retention_are_deleted(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_older_than_the_retention_are_deleted_on_postgres() {
    audit_events_older_than_the_retention_are_deleted(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_of_zero_days_keeps_every_audit_event() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.audit.retention_days = 0)
        .await
        .unwrap();
    app.create_tenant("old").await;
    app.clock.advance(10_000 * 86_400);
    assert_eq!(app.audit_events("limit=1000").await.len(), 1);

    assert_eq!(app.tessera.purge_old_audit().await.unwrap(), 0);

    assert_eq!(app.audit_events("limit=1000").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_failure_is_a_503_with_a_generic_detail_and_counts_as_a_failure() {
    // Nothing listens on port 1: every Vault read fails.
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.vault.addr = "http://127.0.0.1:1".into();
        s.vault.token = tessera::secret::Secret::new("vault-token");
    })
    .await
    .unwrap();
    app.create_client_in(
        "default",
        json!({"client_id": "held", "name": "v", "grant_types": ["client_credentials"],
               "scopes": [], "secret": {"vault": {"mount": "secret", "path": "tessera/held", "field": "s"}}}),
    )
    .await;
    let ask = |secret: &'static str| {
        app.http
            .post(app.url("/oauth/token"))
            .basic_auth("held", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };

    for _ in 0..20 {
        let r = ask("anything").await.unwrap();
        assert_eq!(r.status(), 503);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "temporarily_unavailable");
        let detail = v["error_description"].as_str().unwrap();
        for leak in ["unreachable", "answered", "127.0.0.1", "Vault", "secret/"] {
            assert!(!detail.contains(leak), "{detail}");
        }
    }

    // Each failed read counted: the 21st attempt is refused before Vault is asked.
    assert_eq!(ask("anything").await.unwrap().status(), 429);
}
