//! One failure type for every protocol path. It knows its catalogue reason, HTTP status and
//! RFC 6749 error code, so each dialect (oauth, problem, id-api; SPEC §3) renders the same
//! failure the same way. `http::errors` turns it into a response.

use crate::reasons::{self, Reason};

/// A problem with one field of the request body (`karmoErrors` entry).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// What is wrong.
    pub detail: String,
    /// JSON pointer into the body (`/client_id`).
    pub pointer: String,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Catalogue reason.
    pub reason: Reason,
    /// HTTP status (usually the reason's).
    pub status: u16,
    /// RFC 6749 §5.2 error code for the oauth and id-api dialects.
    pub oauth_error: &'static str,
    /// Human explanation, safe to show (never internal detail, never a secret).
    pub detail: String,
    /// Field errors with pointers.
    pub errors: Vec<FieldError>,
    /// Add `WWW-Authenticate: Basic realm="tessera"` (client used HTTP Basic).
    pub basic_challenge: bool,
    /// Add `WWW-Authenticate: Bearer` (bearer-protected route).
    pub bearer_challenge: bool,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// A failure for `reason` with its usual status.
    pub fn new(reason: Reason, oauth_error: &'static str, detail: impl Into<String>) -> Failure {
        Failure {
            reason,
            status: reason.status,
            oauth_error,
            detail: detail.into(),
            errors: Vec::new(),
            basic_challenge: false,
            bearer_challenge: false,
            retry_after: None,
        }
    }

    /// Overrides the status (same reason answered differently by a route, e.g. 403).
    pub fn with_status(mut self, status: u16) -> Failure {
        self.status = status;
        self
    }

    /// Adds a field error.
    pub fn with_field(mut self, pointer: &str, detail: impl Into<String>) -> Failure {
        self.errors.push(FieldError {
            detail: detail.into(),
            pointer: pointer.to_string(),
        });
        self
    }

    /// `invalid_request`: the body could not be read as the route expects.
    pub fn malformed(detail: impl Into<String>) -> Failure {
        Failure::new(reasons::MALFORMED_BODY, "invalid_request", detail)
    }

    /// `invalid_request`: a required field is absent.
    pub fn missing(field: &str) -> Failure {
        Failure::new(
            reasons::FIELD_MISSING,
            "invalid_request",
            format!("{field} is required"),
        )
        .with_field(&format!("/{field}"), format!("{field} is required"))
    }

    /// `invalid_request`: a field has a bad value.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Failure {
        let detail = detail.into();
        Failure::new(reasons::FIELD_INVALID, "invalid_request", detail.clone())
            .with_field(&format!("/{field}"), detail)
    }

    /// `unsupported_grant_type` (400) with a pointer to `/grant_type`.
    pub fn unsupported_grant(grant: &str) -> Failure {
        Failure::new(
            reasons::UNSUPPORTED_GRANT_TYPE,
            "unsupported_grant_type",
            format!("grant_type {grant} is not supported"),
        )
        .with_field("/grant_type", "unsupported")
    }

    /// `invalid_request`: every field of `fields` that `present` says is absent, each with
    /// its pointer, in one failure.
    pub fn require(fields: &[&str], present: impl Fn(&str) -> bool) -> Result<(), Failure> {
        let absent: Vec<&str> = fields.iter().copied().filter(|f| !present(f)).collect();
        let Some(first) = absent.first() else {
            return Ok(());
        };
        let mut f = Failure::missing(first);
        for more in absent.iter().skip(1) {
            f = f.with_field(&format!("/{more}"), format!("{more} is required"));
            f.detail = format!("{}; {more} is required", f.detail);
        }
        Err(f)
    }

    /// `invalid_client` (401): nothing about why.
    pub fn bad_client() -> Failure {
        Failure::new(
            reasons::BAD_CLIENT_CREDENTIALS,
            "invalid_client",
            "client authentication failed",
        )
    }

    /// 413 on any route.
    pub fn too_large() -> Failure {
        Failure::new(
            reasons::BODY_TOO_LARGE,
            "invalid_request",
            "request body is larger than 64 KiB",
        )
    }

    /// 405.
    pub fn method_not_allowed() -> Failure {
        Failure::new(
            reasons::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method not allowed on this route",
        )
    }

    /// 404 for an unknown thing named in the path.
    pub fn not_found(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure::new(reason, "invalid_request", detail)
    }

    /// 500: logs the cause chain once, answers with no detail.
    pub fn internal(err: &dyn std::error::Error) -> Failure {
        let mut chain = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Failure::new(reasons::INTERNAL, "server_error", "internal error")
    }

    /// 429 with `Retry-After` (SPEC §6 failed-authentication limits).
    pub fn rate_limited(retry_after: u64) -> Failure {
        let mut f = Failure::new(
            reasons::RATE_LIMITED,
            "temporarily_unavailable",
            "too many failed authentications; retry later",
        );
        f.retry_after = Some(retry_after);
        f
    }

    /// 503 with `Retry-After: 1`: too many credential checks at once (SPEC §7.2: argon2
    /// permits, or more attempts in flight on one address than its failure limit).
    pub fn busy() -> Failure {
        let mut f = Failure::new(
            reasons::BUSY,
            "temporarily_unavailable",
            "too many credential checks at once; retry shortly",
        );
        f.retry_after = Some(1);
        f
    }

    /// 503: a dependency (Vault, upstream provider, database) is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Failure {
        Failure::new(
            reasons::UPSTREAM_UNAVAILABLE,
            "temporarily_unavailable",
            detail,
        )
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        match e {
            crate::store::StoreError::Conflict => {
                Failure::new(reasons::ALREADY_EXISTS, "invalid_request", "already exists")
            }
            crate::store::StoreError::NotFound => {
                Failure::not_found(reasons::NOT_FOUND, "not found")
            }
            other => Failure::internal(&other),
        }
    }
}
