//! Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.

use super::Shared;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once (several servers in one test process
/// share it).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            // Exported from the start, so that "none lost" can be read (SPEC §7.3).
            metrics::counter!("tessera_audit_events_lost_total").increment(0);
            metrics::counter!("tessera_audit_events_spooled_total").increment(0);
            Some(handle)
        })
        .as_ref()
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// `GET /readyz`: the database answers and signing keys are loaded.
pub async fn readyz(State(t): State<Shared>) -> Response {
    // SPEC §7.3: an answer within a second, whatever the database does.
    let db = !t.db.is_down()
        && matches!(
            tokio::time::timeout(std::time::Duration::from_millis(800), t.store.ping()).await,
            Ok(Ok(()))
        );
    let keys = t.keys.signer(None).is_ok();
    // SPEC §7.3: not ready while audit events can go neither to the database nor the spool.
    let audit = t.audit.healthy();
    let status = if db && keys && audit {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if db && keys && audit { "ready" } else { "not ready" },
        "audit": if audit { "ok" } else { "cannot be written (database and spool refuse)" },
        "database": if db { "ok" } else { "unreachable" },
        "keys": if keys { "ok" } else { "missing" },
        // Not a readiness condition: without the change listener (PostgreSQL) lookups read
        // through to the database, slower but correct.
        "cache": if t.caches.trusted() { "listening for changes" } else { "reading through" },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics() -> Response {
    let text = prometheus().map(|h| h.render()).unwrap_or_default();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}

/// `GET /openapi.json`.
pub async fn openapi(State(t): State<Shared>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::document(&t.settings.issuer).to_string(),
    )
        .into_response()
}
