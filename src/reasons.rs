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
    /// Human title (the problem's `title`).
    pub title: &'static str,
}

macro_rules! reasons {
    ($($name:ident = $code:literal, $status:literal, $title:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: Reason = Reason { code: $code, status: $status, title: $title };
        )*
        /// Every reason, in code order.
        pub const REASONS: &[Reason] = &[$($name),*];
    };
}

reasons! {
    MALFORMED_BODY = 101, 400, "malformed body";
    FIELD_MISSING = 102, 400, "field missing";
    FIELD_INVALID = 103, 400, "field invalid";
    UNSUPPORTED_GRANT_TYPE = 104, 400, "unsupported grant_type";
    INVALID_SCOPE = 105, 400, "invalid scope";
    INVALID_TARGET = 106, 400, "audience or resource not allowed";
    UNSUPPORTED_MEDIA_TYPE = 107, 400, "unsupported content type";
    DUPLICATE_PARAMETER = 108, 400, "parameter given twice";
    INVALID_GRANT = 120, 400, "invalid, expired or replayed code or refresh token";
    CSRF_FAILED = 121, 403, "form token missing or invalid";
    BAD_CLIENT_CREDENTIALS = 201, 401, "bad client credentials";
    MISSING_CLIENT_AUTH = 202, 401, "missing client authentication";
    CLIENT_NOT_ALLOWED_GRANT = 203, 400, "client not allowed this grant";
    MULTIPLE_CLIENT_AUTH = 204, 400, "more than one client authentication method";
    BAD_ADMIN_CREDENTIALS = 205, 401, "missing or invalid admin credentials";
    FORBIDDEN = 206, 403, "outside the caller's reach";
    USER_NOT_ADMIN = 207, 403, "user is not an administrator";
    BAD_BEARER_TOKEN = 208, 401, "missing or invalid bearer token";
    BAD_SERVICE_CREDENTIALS = 209, 401, "missing or invalid service credentials";
    BAD_USER_CREDENTIALS = 220, 401, "bad user credentials";
    INVALID_TOKEN = 221, 401, "invalid or expired bearer token";
    INSUFFICIENT_SCOPE = 222, 403, "token lacks the required scope";
    TENANT_NOT_FOUND = 301, 404, "tenant not found";
    PROJECT_NOT_FOUND = 302, 404, "project not found";
    CLIENT_NOT_FOUND = 303, 404, "client not found";
    USER_NOT_FOUND = 304, 404, "user not found";
    NOT_FOUND = 305, 404, "resource not found";
    TENANT_DISABLED = 401, 403, "tenant disabled";
    USER_DISABLED = 402, 403, "user disabled";
    ALREADY_EXISTS = 501, 409, "already exists";
    UPSTREAM_TOKEN_INVALID = 601, 401, "upstream token invalid";
    BODY_TOO_LARGE = 701, 413, "body too large";
    METHOD_NOT_ALLOWED = 702, 405, "method not allowed";
    REQUEST_TIMEOUT = 703, 408, "request took too long";
    RATE_LIMITED = 801, 429, "rate limited";
    UPSTREAM_UNAVAILABLE = 901, 503, "upstream or Vault unavailable";
    DATABASE_UNAVAILABLE = 902, 503, "the database is unavailable";
    BUSY = 910, 503, "too many credential checks at once";
    INTERNAL = 999, 500, "internal error";
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
    let mut out = String::from("| karmoCode | status | reason |\n| --- | --- | --- |\n");
    for r in REASONS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            r.karmo_code(r.status),
            r.status,
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
