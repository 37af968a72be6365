//! The HTTP client of the admin API, and the error a non-2xx answer becomes.

use std::fmt;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::args::AdminOpts;
use crate::cli::table;
use crate::secret::Secret;

/// How long one admin call may take, connection included, before the CLI gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Prefix of every admin API path.
const API_PREFIX: &str = "/admin/v1";

/// The error when neither `--token` nor `TESSERA_ADMIN_TOKEN` gives a token.
const NO_TOKEN: &str = "no admin token: pass --token or set TESSERA_ADMIN_TOKEN";

/// A connection to one server's admin API, built once per CLI invocation.
pub struct AdminClient {
    /// Reused for every call of this invocation (one connection pool).
    http: reqwest::Client,
    /// Base URL without a trailing slash, as the user gave it (for error messages too).
    base: String,
    /// Sent as `Authorization: Bearer`; never printed.
    token: Secret,
}

impl AdminClient {
    /// Checks the options (a token is present, the URL is http(s)) and builds the client.
    pub fn new(opts: &AdminOpts) -> anyhow::Result<Self> {
        let token = opts
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!(NO_TOKEN))?;
        let url = Url::parse(opts.url.trim())
            .with_context(|| format!("--url {:?} is not a valid URL", opts.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            bail!("--url {:?} must be an http:// or https:// URL", opts.url);
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tessera-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT);
        if let Some(path) = &opts.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("--ca-cert {}: cannot read", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--ca-cert {}: not a PEM bundle", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base: url.as_str().trim_end_matches('/').to_owned(),
            token: Secret::new(token),
        })
    }

    /// `GET` a path built by [`admin_path`].
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, &[], None).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// `PATCH` a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PATCH, path, &[], Some(body)).await
    }

    /// `DELETE` a path.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, &[], None).await
    }

    /// One admin call. Answers the JSON body of a 2xx (`Null` when empty); any other status
    /// becomes an [`AdminApiError`] (reachable with `downcast_ref`), a transport failure an
    /// error naming the server's URL.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .with_context(|| format!("cannot build a URL from {:?} and {path:?}", self.base))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            return Err(
                anyhow::Error::new(AdminApiError::from_answer(status, &bytes))
                    .context(format!("{method} {path}")),
            );
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{method} {path}: the server at {} answered {status} with a body that is not JSON",
                self.base
            )
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> anyhow::Error {
        let what = if e.is_connect() {
            format!(
                "cannot connect to the Tessera server at {} (is `tessera serve` running there? set --url or TESSERA_URL)",
                self.base
            )
        } else if e.is_timeout() {
            format!(
                "the Tessera server at {} did not answer within {} s",
                self.base,
                REQUEST_TIMEOUT.as_secs()
            )
        } else {
            format!("the request to the Tessera server at {} failed", self.base)
        };
        anyhow::Error::new(e).context(what)
    }
}

/// `/admin/v1/` followed by the segments, each percent-encoded (RFC 3986 §3.3: everything
/// but unreserved characters), so an id can never add a path segment or a query.
/// Empty, `.` and `..` are refused: URL parsers fold them (even as `%2E`) into another path.
pub fn admin_path(segments: &[&str]) -> anyhow::Result<String> {
    let mut path = API_PREFIX.to_owned();
    for segment in segments {
        if matches!(*segment, "" | "." | "..") {
            bail!("{segment:?} cannot be used as an id");
        }
        path.push('/');
        path.push_str(&encode_segment(segment));
    }
    Ok(path)
}

/// Percent-encodes every byte outside RFC 3986 unreserved (`A-Z a-z 0-9 - . _ ~`).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A non-2xx answer of the admin API, read from its RFC 9457 problem body
/// (`{"type","title","status","detail","karmoCode","karmoErrors":[{"detail","pointer"}]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminApiError {
    /// HTTP status code.
    pub status: u16,
    /// The problem's `title`, else the status's reason phrase.
    pub title: String,
    /// The problem's `detail`, or the start of a body that was not a problem.
    pub detail: Option<String>,
    /// The problem's `karmoCode` (status + reason, SPEC §3.5).
    pub code: Option<String>,
    /// `karmoErrors` as (JSON pointer into the request body, what is wrong there).
    pub field_errors: Vec<(String, String)>,
}

impl AdminApiError {
    /// Longest piece of a non-problem body quoted in the error.
    const MAX_QUOTED: usize = 200;

    fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        let reason = status.canonical_reason().unwrap_or("error").to_owned();
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(problem @ Value::Object(_)) => AdminApiError {
                status: status.as_u16(),
                title: text(problem.get("title")).unwrap_or(reason),
                detail: text(problem.get("detail")),
                code: text(problem.get("karmoCode")),
                field_errors: problem
                    .get("karmoErrors")
                    .and_then(Value::as_array)
                    .map(|errors| {
                        errors
                            .iter()
                            .map(|e| {
                                (
                                    text(e.get("pointer")).unwrap_or_default(),
                                    text(e.get("detail")).unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            _ => {
                let body = String::from_utf8_lossy(body);
                let quoted: String = body.trim().chars().take(Self::MAX_QUOTED).collect();
                AdminApiError {
                    status: status.as_u16(),
                    title: reason,
                    detail: (!quoted.is_empty()).then_some(quoted),
                    code: None,
                    field_errors: Vec::new(),
                }
            }
        }
    }
}

impl fmt::Display for AdminApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, table::sanitize(&self.title))?;
        if let Some(detail) = self.detail.as_deref().filter(|d| *d != self.title) {
            write!(f, ": {}", table::sanitize(detail))?;
        }
        if let Some(code) = &self.code {
            write!(f, " (karmoCode {})", table::sanitize(code))?;
        }
        for (pointer, detail) in &self.field_errors {
            let pointer = if pointer.is_empty() {
                "(body)"
            } else {
                pointer
            };
            write!(
                f,
                "\n  {}: {}",
                table::sanitize(pointer),
                table::sanitize(detail)
            )?;
        }
        if self.status == 401 {
            write!(
                f,
                "\n  hint: the admin token was not accepted; check --token or TESSERA_ADMIN_TOKEN"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for AdminApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(token: Option<&str>, url: &str) -> AdminOpts {
        AdminOpts {
            url: url.to_owned(),
            token: token.map(str::to_owned),
            json: false,
            ca_cert: None,
        }
    }

    #[test]
    fn path_segments_are_percent_encoded_outside_unreserved_characters() {
        let path = admin_path(&["tenants", "a b/c?d#e%f", "clients", "Zü-._~"]).unwrap();
        assert_eq!(
            path,
            "/admin/v1/tenants/a%20b%2Fc%3Fd%23e%25f/clients/Z%C3%BC-._~"
        );
    }

    #[test]
    fn empty_and_dot_ids_are_refused_because_urls_would_fold_them() {
        for bad in ["", ".", ".."] {
            assert!(admin_path(&["tenants", bad]).is_err(), "{bad:?}");
        }
        assert!(admin_path(&["tenants", "..."]).is_ok());
    }

    #[test]
    fn a_missing_or_blank_token_is_a_clear_error_before_any_request() {
        for token in [None, Some("  ")] {
            let err = AdminClient::new(&opts(token, "http://127.0.0.1:8080"))
                .err()
                .unwrap();
            assert_eq!(err.to_string(), NO_TOKEN);
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_in_the_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let api = AdminClient::new(&opts(Some("tok-123"), &url)).unwrap();

        let err = api.get("/admin/v1/tenants").await.unwrap_err();

        let text = format!("{err:#}");
        assert!(text.contains(&url), "{text}");
        assert!(text.contains("cannot connect"), "{text}");
        assert!(!text.contains("tok-123"), "{text}");
    }

    #[test]
    fn a_problem_answer_reads_as_status_title_detail_and_each_pointer() {
        let body = br#"{"type":"about:blank","title":"Bad Request","status":400,
            "detail":"the body is invalid","karmoCode":"40000103",
            "karmoErrors":[{"detail":"longer than the profile's 900 s","pointer":"/token_ttl"}]}"#;

        let err = AdminApiError::from_answer(StatusCode::BAD_REQUEST, body);

        assert_eq!(
            err.to_string(),
            "400 Bad Request: the body is invalid (karmoCode 40000103)\n  \
             /token_ttl: longer than the profile's 900 s"
        );
    }

    #[test]
    fn a_non_problem_error_answer_still_shows_its_status_and_body() {
        let err =
            AdminApiError::from_answer(StatusCode::BAD_GATEWAY, b"<html>upstream down</html>");
        assert_eq!(
            err.to_string(),
            "502 Bad Gateway: <html>upstream down</html>"
        );
    }
}
