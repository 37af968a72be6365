//! One failure type for every protocol path. It knows its catalogue reason, HTTP status and
//! RFC 6749 error code, so each dialect (oauth, problem, id-api; SPEC §3) renders the same
//! failure the same way. `http::errors` turns it into a response.

use crate::reasons::{self, Reason};

/// Longest identifier (client id, tenant, project, service name, e-mail, `kid`) accepted, in
/// characters (SPEC §7.2): anything longer is refused before any lookup, cache, limit or audit.
pub const MAX_IDENTIFIER: usize = 255;

/// Most parameters (form fields, JSON members, query parameters) a request may carry.
pub const MAX_PARAMS: usize = 100;

/// True when `value` is longer than [`MAX_IDENTIFIER`] characters (bytes are counted first,
/// so the common short value costs nothing).
pub fn identifier_too_long(value: &str) -> bool {
    value.len() > MAX_IDENTIFIER && value.chars().count() > MAX_IDENTIFIER
}

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
    /// Add `WWW-Authenticate: DPoP error="…"` instead of `Bearer` (RFC 9449 §7.1: a
    /// resource refusing a DPoP-bound token or a DPoP request).
    pub dpop_challenge: bool,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
    /// Refused before any audit (SPEC §7.2: an over-long identifier is turned away before
    /// lookup, cache, limit or audit, so a flood of them writes nothing).
    pub unaudited: bool,
    /// For a 500: the internal cause chain, logged once when the failure is rendered and
    /// never shown to the caller.
    pub cause: Option<Box<String>>,
}

impl Failure {
    /// A failure for `reason` with its usual status and RFC error code.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure {
            reason,
            status: reason.status,
            oauth_error: reason.error.as_str(),
            detail: detail.into(),
            errors: Vec::new(),
            basic_challenge: false,
            bearer_challenge: false,
            dpop_challenge: false,
            retry_after: None,
            unaudited: false,
            cause: None,
        }
    }

    /// Overrides the RFC error code (a route that answers a reason with another code).
    pub fn with_error(mut self, oauth_error: &'static str) -> Failure {
        self.oauth_error = oauth_error;
        self
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
        Failure::new(reasons::MALFORMED_BODY, detail)
    }

    /// `invalid_request`: a required field is absent.
    pub fn missing(field: &str) -> Failure {
        Failure::new(reasons::FIELD_MISSING, format!("{field} is required"))
            .with_field(&format!("/{field}"), format!("{field} is required"))
    }

    /// `invalid_request`: a field has a bad value.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Failure {
        let detail = detail.into();
        Failure::new(reasons::FIELD_INVALID, detail.clone())
            .with_field(&format!("/{field}"), detail)
    }

    /// `invalid_request`: an identifier over [`MAX_IDENTIFIER`] characters, with its pointer.
    pub fn identifier_too_long(field: &str) -> Failure {
        let mut f = Failure::invalid(
            field,
            format!("{field} is longer than {MAX_IDENTIFIER} characters"),
        );
        f.unaudited = true;
        f
    }

    /// `invalid_request`: `value` of `field` if it is an over-long identifier.
    pub fn check_identifier(field: &str, value: &str) -> Result<(), Failure> {
        if identifier_too_long(value) {
            Err(Failure::identifier_too_long(field))
        } else {
            Ok(())
        }
    }

    /// `invalid_request`: more than [`MAX_PARAMS`] parameters.
    pub fn too_many_params() -> Failure {
        Failure::malformed(format!("more than {MAX_PARAMS} parameters"))
    }

    /// `unsupported_grant_type` (400) with a pointer to `/grant_type`.
    pub fn unsupported_grant(grant: &str) -> Failure {
        Failure::new(
            reasons::UNSUPPORTED_GRANT_TYPE,
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
            "client authentication failed",
        )
    }

    /// 413 on any route.
    pub fn too_large() -> Failure {
        Failure::new(
            reasons::BODY_TOO_LARGE,
            "request body is larger than 64 KiB",
        )
    }

    /// 408: the request was not complete within `server.request_timeout`.
    pub fn request_timeout() -> Failure {
        Failure::new(
            reasons::REQUEST_TIMEOUT,
            "the request took too long to arrive",
        )
    }

    /// 405.
    pub fn method_not_allowed() -> Failure {
        Failure::new(
            reasons::METHOD_NOT_ALLOWED,
            "method not allowed on this route",
        )
    }

    /// 404 for an unknown thing named in the path.
    pub fn not_found(reason: Reason, detail: impl Into<String>) -> Failure {
        Failure::new(reason, detail)
    }

    /// 500 with no detail; the cause chain is logged once, when the failure is rendered.
    pub fn internal(err: &dyn std::error::Error) -> Failure {
        let mut chain = err.to_string();
        let mut src = err.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        let mut f = Failure::new(reasons::INTERNAL, "internal error");
        f.cause = Some(Box::new(chain));
        f
    }

    /// Logs the internal cause of a 500 (once: called where the failure is answered).
    pub fn log_cause(&self, path: &str) {
        if let Some(cause) = &self.cause {
            tracing::error!(error = %cause, path, "internal error");
        }
    }

    /// 429 with `Retry-After` (SPEC §6 failed-authentication limits).
    pub fn rate_limited(retry_after: u64) -> Failure {
        let mut f = Failure::new(
            reasons::RATE_LIMITED,
            "too many failed authentications; retry later",
        );
        f.retry_after = Some(retry_after);
        f
    }

    /// 503 `DATABASE_UNAVAILABLE` (SPEC §7.3): the database is away, hung or out of room. The
    /// cause goes to the log at debug level (an outage would log it once per request; the
    /// health probe reports the outage itself).
    pub fn database_unavailable(e: &crate::store::StoreError) -> Failure {
        let detail = if e.is_storage_full() {
            "the database is unavailable: its storage is full"
        } else {
            "the database is unavailable"
        };
        let mut chain = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::debug!(error = %chain, "database unavailable");
        let mut f = Failure::new(reasons::DATABASE_UNAVAILABLE, detail);
        f.retry_after = Some(1);
        f
    }

    /// 503 with `Retry-After: 1`: too many credential checks at once (SPEC §7.2: argon2
    /// permits, or more attempts in flight on one address than its failure limit).
    pub fn busy() -> Failure {
        let mut f = Failure::new(
            reasons::BUSY,
            "too many credential checks at once; retry shortly",
        );
        f.retry_after = Some(1);
        f
    }

    /// 503: a dependency (Vault, upstream provider, database) is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Failure {
        Failure::new(reasons::UPSTREAM_UNAVAILABLE, detail)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        match e {
            crate::store::StoreError::Conflict => {
                Failure::new(reasons::ALREADY_EXISTS, "already exists")
            }
            crate::store::StoreError::NotFound => {
                Failure::not_found(reasons::NOT_FOUND, "not found")
            }
            e if e.is_unavailable() => Failure::database_unavailable(&e),
            other => Failure::internal(&other),
        }
    }
}
