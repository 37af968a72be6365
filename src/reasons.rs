//! The reason catalogue (SPEC §3.5): one table. A problem's `karmoCode` is the HTTP status
//! followed by the 5-digit reason (`"40000101"`). The README's copy is rendered from
//! [`REASONS`] and a test keeps the two equal.

/// One reason: a stable code with its usual status and a short title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    /// 5-digit reason number.
    pub code: u32,
    /// The HTTP status it is normally answered with.
    pub status: u16,
    /// The RFC error code the oauth and id-api dialects answer.
    pub error: ErrorCode,
    /// Human title (the problem's `title`).
    pub title: &'static str,
}

/// The error codes of RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707, RFC 6749 §4.1.2.1 and RFC 8628
/// §3.5 a reason is answered with in the oauth and id-api dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_target`
    InvalidTarget,
    /// `access_denied`
    AccessDenied,
    /// `invalid_token`
    InvalidToken,
    /// `invalid_dpop_proof` (RFC 9449 §5.2)
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8)
    UseDpopNonce,
    /// `insufficient_scope`
    InsufficientScope,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `server_error`
    ServerError,
    /// `authorization_pending` (RFC 8628 §3.5)
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5)
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5)
    ExpiredToken,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::ServerError => "server_error",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
        }
    }
}

macro_rules! reasons {
    ($($name:ident = $code:literal, $status:literal, $error:ident, $title:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: Reason = Reason {
                code: $code,
                status: $status,
                error: ErrorCode::$error,
                title: $title,
            };
        )*
        /// Every reason, in code order.
        pub const REASONS: &[Reason] = &[$($name),*];
    };
}

reasons! {
    MALFORMED_BODY = 101, 400, InvalidRequest, "malformed body";
    FIELD_MISSING = 102, 400, InvalidRequest, "field missing";
    FIELD_INVALID = 103, 400, InvalidRequest, "field invalid";
    UNSUPPORTED_GRANT_TYPE = 104, 400, UnsupportedGrantType, "unsupported grant_type";
    INVALID_SCOPE = 105, 400, InvalidScope, "invalid scope";
    INVALID_TARGET = 106, 400, InvalidTarget, "audience or resource not allowed";
    UNSUPPORTED_MEDIA_TYPE = 107, 400, InvalidRequest, "unsupported content type";
    DUPLICATE_PARAMETER = 108, 400, InvalidRequest, "parameter given twice";
    INVALID_GRANT = 120, 400, InvalidGrant, "invalid, expired or replayed code or refresh token";
    CSRF_FAILED = 121, 403, InvalidRequest, "form token missing or invalid";
    AUTHORIZATION_PENDING = 130, 400, AuthorizationPending, "the user has not yet approved the device";
    SLOW_DOWN = 131, 400, SlowDown, "the device polls faster than its interval";
    DEVICE_ACCESS_DENIED = 132, 400, AccessDenied, "the user denied the device";
    EXPIRED_TOKEN = 133, 400, ExpiredToken, "the device code has expired";
    USER_CODE_INVALID = 134, 400, InvalidRequest, "unknown, expired or used user code";
    INVALID_DPOP_PROOF = 135, 400, InvalidDpopProof, "DPoP proof missing, invalid or replayed";
    USE_DPOP_NONCE = 136, 400, UseDpopNonce, "DPoP proof must carry the server's nonce";
    REQUEST_URI_INVALID = 140, 400, InvalidRequest, "request_uri unknown, expired, used or of another client";
    BAD_CLIENT_CREDENTIALS = 201, 401, InvalidClient, "bad client credentials";
    MISSING_CLIENT_AUTH = 202, 401, InvalidClient, "missing client authentication";
    CLIENT_NOT_ALLOWED_GRANT = 203, 400, UnauthorizedClient, "client not allowed this grant";
    MULTIPLE_CLIENT_AUTH = 204, 400, InvalidRequest, "more than one client authentication method";
    BAD_ADMIN_CREDENTIALS = 205, 401, InvalidToken, "missing or invalid admin credentials";
    FORBIDDEN = 206, 403, AccessDenied, "outside the caller's reach";
    USER_NOT_ADMIN = 207, 403, AccessDenied, "user is not an administrator";
    BAD_BEARER_TOKEN = 208, 401, InvalidToken, "missing or invalid bearer token";
    BAD_SERVICE_CREDENTIALS = 209, 401, InvalidClient, "missing or invalid service credentials";
    BAD_USER_CREDENTIALS = 220, 401, InvalidGrant, "bad user credentials";
    INVALID_TOKEN = 221, 401, InvalidToken, "invalid or expired bearer token";
    INSUFFICIENT_SCOPE = 222, 403, InsufficientScope, "token lacks the required scope";
    CLIENT_CERTIFICATE_REQUIRED = 241, 400, InvalidRequest, "client certificate required";
    TENANT_NOT_FOUND = 301, 404, InvalidRequest, "tenant not found";
    PROJECT_NOT_FOUND = 302, 404, InvalidRequest, "project not found";
    CLIENT_NOT_FOUND = 303, 404, InvalidRequest, "client not found";
    USER_NOT_FOUND = 304, 404, InvalidRequest, "user not found";
    NOT_FOUND = 305, 404, InvalidRequest, "resource not found";
    TENANT_DISABLED = 401, 403, AccessDenied, "tenant disabled";
    USER_DISABLED = 402, 403, AccessDenied, "user disabled";
    ALREADY_EXISTS = 501, 409, InvalidRequest, "already exists";
    UPSTREAM_TOKEN_INVALID = 601, 401, InvalidGrant, "upstream token invalid";
    BODY_TOO_LARGE = 701, 413, InvalidRequest, "body too large";
    METHOD_NOT_ALLOWED = 702, 405, InvalidRequest, "method not allowed";
    REQUEST_TIMEOUT = 703, 408, InvalidRequest, "request took too long";
    RATE_LIMITED = 801, 429, TemporarilyUnavailable, "rate limited";
    UPSTREAM_UNAVAILABLE = 901, 503, TemporarilyUnavailable, "upstream or Vault unavailable";
    DATABASE_UNAVAILABLE = 902, 503, TemporarilyUnavailable, "the database is unavailable";
    BUSY = 910, 503, TemporarilyUnavailable, "too many credential checks at once";
    INTERNAL = 999, 500, ServerError, "internal error";
}

impl Reason {
    /// `karmoCode` for this reason answered with `status`.
    pub fn karmo_code(&self, status: u16) -> String {
        format!("{status:03}{:05}", self.code)
    }

    /// The problem `type` URI.
    pub fn type_uri(&self) -> String {
        format!("urn:tessera:problem:{:05}", self.code)
    }
}

/// The README table of reasons.
pub fn reasons_markdown() -> String {
    let mut out =
        String::from("| karmoCode | status | error | reason |\n| --- | --- | --- | --- |\n");
    for r in REASONS {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            r.karmo_code(r.status),
            r.status,
            r.error.as_str(),
            r.title
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karmo_codes_are_eight_digits_of_status_and_reason() {
        assert_eq!(MALFORMED_BODY.karmo_code(400), "40000101");
        for r in REASONS {
            let k = r.karmo_code(r.status);
            assert_eq!(k.len(), 8);
            assert!(k.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn reason_codes_are_unique() {
        let mut codes: Vec<u32> = REASONS.iter().map(|r| r.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), REASONS.len());
    }
}
