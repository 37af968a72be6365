//! The admin commands (`tessera tenant|project|client|keys|audit …`).
//!
//! They are thin clients of the admin REST API under `/admin/v1` (SPEC §5, Appendix A) and
//! never open the database, so the same binary administers a local SQLite server or a
//! PostgreSQL cluster behind a load balancer, with the server doing every check.
//!
//! Output: a human table by default, the server's JSON answer with `--json`. A client
//! secret is printed in both modes, exactly once, because the server returns it only once.

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Map, Value};

use super::table;
use crate::secret::Secret;

/// How long one admin call may take, connection included, before the CLI gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Prefix of every admin API path.
const API_PREFIX: &str = "/admin/v1";

const NO_TOKEN: &str = "no admin token: pass --token or set TESSERA_ADMIN_TOKEN";

pub(super) const SHOWN_ONCE: &str =
    "This secret is shown only once: store it now. Tessera keeps only a hash and cannot show it again.";

const TENANT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
];
const PROJECT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("TENANT", "tenant_id"),
    ("NAME", "name"),
    ("CREATED", "created_at"),
];
const CLIENT_COLUMNS: &[(&str, &str)] = &[
    ("CLIENT_ID", "client_id"),
    ("NAME", "name"),
    ("PROFILE", "profile"),
    ("GRANTS", "grant_types"),
    ("STATUS", "status"),
];
const KEY_COLUMNS: &[(&str, &str)] = &[
    ("KID", "kid"),
    ("ALG", "alg"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
];
const AUDIT_COLUMNS: &[(&str, &str)] = &[
    ("AT", "at"),
    ("EVENT", "event"),
    ("OUTCOME", "outcome"),
    ("TENANT", "tenant_id"),
    ("CLIENT", "client_id"),
    ("SUBJECT", "subject"),
    ("JTI", "jti"),
    ("REMOTE", "remote"),
];

/// Fields of a client shown first, in this order, by `client get` and `client create`;
/// any other field the server returns follows.
const CLIENT_FIELD_ORDER: &[&str] = &[
    "client_id",
    "name",
    "tenant_id",
    "project_id",
    "profile",
    "status",
    "grant_types",
    "scopes",
    "default_scopes",
    "audiences",
    "token_ttl",
    "redirect_uris",
    "token_endpoint_auth_method",
    "signing_alg",
    "admin_tokens",
];

// ---------------------------------------------------------------------------------------
// Options and commands
// ---------------------------------------------------------------------------------------

/// Options shared by every admin command.
#[derive(clap::Args, Clone)]
pub struct AdminOpts {
    /// Base URL of a running server.
    #[arg(
        long,
        env = "TESSERA_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Admin bearer token (bootstrap token or a tessera:admin access token).
    #[arg(
        long,
        env = "TESSERA_ADMIN_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Written by hand so the admin token never reaches `{:?}` output.
impl fmt::Debug for AdminOpts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminOpts")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("json", &self.json)
            .finish()
    }
}

/// `tessera tenant …`
#[derive(clap::Subcommand, Debug)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Tenant id (appears in URLs and as `tenant_id` in tokens).
        id: String,
        /// Display name [default: the id].
        #[arg(long)]
        name: Option<String>,
    },
    /// List all tenants.
    List,
    /// Show one tenant.
    Get {
        /// Tenant id.
        id: String,
    },
    /// Disable a tenant: its clients and users get no more tokens.
    Disable {
        /// Tenant id.
        id: String,
    },
    /// Enable a disabled tenant again.
    Enable {
        /// Tenant id.
        id: String,
    },
}

/// `tessera project …`
#[derive(clap::Subcommand, Debug)]
pub enum ProjectCmd {
    /// Create a project inside a tenant.
    Create {
        /// Tenant the project belongs to.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Project id.
        id: String,
        /// Display name [default: the id].
        #[arg(long)]
        name: Option<String>,
    },
    /// List the projects of a tenant.
    List {
        /// Tenant whose projects to list.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

/// `tessera client …`
#[derive(clap::Subcommand, Debug)]
pub enum ClientCmd {
    /// Register a client; prints its generated secret once.
    // Boxed: the create arguments are ten times larger than any other variant.
    Create(Box<ClientCreate>),
    /// List the clients of a tenant.
    List {
        /// Tenant whose clients to list.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// Show one client.
    Get(ClientRef),
    /// Delete a client; it gets no more tokens.
    Delete(ClientRef),
    /// Disable a client: it gets no more tokens until enabled.
    Disable(ClientRef),
    /// Enable a disabled client again.
    Enable(ClientRef),
    /// Generate a new secret; the old one keeps working for the grace period.
    RotateSecret {
        #[command(flatten)]
        client: ClientRef,
        /// How long the previous secret keeps working [default: the server's].
        #[arg(long, value_name = "SECONDS")]
        grace_seconds: Option<u64>,
    },
}

/// Which client a command acts on.
#[derive(clap::Args, Debug)]
pub struct ClientRef {
    /// Tenant the client belongs to.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Client id.
    pub client_id: String,
}

impl ClientRef {
    /// `/admin/v1/tenants/{t}/clients/{id}` followed by `more`.
    fn path(&self, more: &[&str]) -> anyhow::Result<String> {
        let mut segments = vec!["tenants", &self.tenant, "clients", &self.client_id];
        segments.extend_from_slice(more);
        admin_path(&segments)
    }
}

/// Arguments of `tessera client create` (SPEC Appendix A, `POST /admin/v1/tenants/{t}/clients`).
/// Only what the user gives is sent; the server fills in every other default.
#[derive(clap::Args, Debug)]
pub struct ClientCreate {
    /// Tenant the client belongs to.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Client id [default: generated by the server].
    #[arg(long)]
    pub client_id: Option<String>,
    /// Project inside the tenant.
    #[arg(long)]
    pub project: Option<String>,
    /// Token profile (service, partner, default or one from the config).
    #[arg(long)]
    pub profile: Option<String>,
    /// A grant type the client may use; repeat for several.
    #[arg(
        long = "grant",
        value_name = "GRANT_TYPE",
        default_value = "client_credentials"
    )]
    pub grants: Vec<String>,
    /// A scope the client may ask for; repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// A scope granted when the client asks for none; repeat for several.
    #[arg(long = "default-scope", value_name = "SCOPE")]
    pub default_scopes: Vec<String>,
    /// An audience the client may ask for; repeat for several.
    #[arg(long = "audience", value_name = "AUDIENCE")]
    pub audiences: Vec<String>,
    /// Access token lifetime in seconds (at most the profile's).
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// A redirect URI for the authorization code grant (exact match); repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// How the client authenticates at the token endpoint (`none`: public client, PKCE only).
    #[arg(
        long,
        value_name = "METHOD",
        value_parser = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    )]
    pub auth_method: Option<String>,
    /// File holding the client's public JWKS (for private_key_jwt): a `{"keys":[…]}` set or one JWK.
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Signing algorithm of this client's tokens (RS256, ES256, EdDSA, PS256).
    #[arg(long, value_name = "ALG")]
    pub signing_alg: Option<String>,
    /// Allow this client to get admin tokens (tenant admin tokens and scope tessera:admin).
    #[arg(long)]
    pub admin_tokens: bool,
    /// Import an existing secret instead of having one generated.
    #[arg(
        long,
        value_name = "SECRET",
        value_parser = parse_secret,
        conflicts_with_all = ["vault_mount", "vault_path", "vault_field"]
    )]
    pub secret: Option<Secret>,
    /// KV v2 mount holding the client's secret in OpenBao/Vault.
    #[arg(long, value_name = "MOUNT", requires_all = ["vault_path", "vault_field"])]
    pub vault_mount: Option<String>,
    /// Path of the client's secret inside the Vault mount.
    #[arg(long, value_name = "PATH", requires_all = ["vault_mount", "vault_field"])]
    pub vault_path: Option<String>,
    /// Field of the Vault secret that holds the client secret.
    #[arg(long, value_name = "FIELD", requires_all = ["vault_mount", "vault_path"])]
    pub vault_field: Option<String>,
}

/// `tessera keys …`
#[derive(clap::Subcommand, Debug)]
pub enum KeysCmd {
    /// List signing keys (next, active, retired); public parts only.
    List,
    /// Rotate: the next key becomes active and a new next key is published.
    Rotate,
}

/// `tessera audit …`
#[derive(clap::Subcommand, Debug)]
pub enum AuditCmd {
    /// List audit events, newest first as the server orders them.
    List {
        /// Only events of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Only events of this client.
        #[arg(long)]
        client: Option<String>,
        /// Only events at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u32>,
    },
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

impl ClientCreate {
    /// The JSON body of `POST /admin/v1/tenants/{t}/clients`: `name`, `grant_types` and
    /// `scopes` always (Appendix A requires them), every other field only when given.
    /// `jwks` is the parsed content of `--jwks-file`.
    pub fn body(&self, jwks: Option<Value>) -> Value {
        let mut body = Map::new();
        let mut put = |key: &str, value: Value| {
            body.insert(key.to_owned(), value);
        };
        if let Some(id) = &self.client_id {
            put("client_id", json!(id));
        }
        put("name", json!(self.name));
        if let Some(project) = &self.project {
            put("project_id", json!(project));
        }
        if let Some(profile) = &self.profile {
            put("profile", json!(profile));
        }
        put("grant_types", json!(self.grants));
        put("scopes", json!(self.scopes));
        for (key, list) in [
            ("default_scopes", &self.default_scopes),
            ("audiences", &self.audiences),
            ("redirect_uris", &self.redirect_uris),
        ] {
            if !list.is_empty() {
                put(key, json!(list));
            }
        }
        if let Some(ttl) = self.ttl {
            put("token_ttl", json!(ttl));
        }
        if let Some(method) = &self.auth_method {
            put("token_endpoint_auth_method", json!(method));
        }
        if let Some(jwks) = jwks {
            put("jwks", jwks);
        }
        if let Some(alg) = &self.signing_alg {
            put("signing_alg", json!(alg));
        }
        if self.admin_tokens {
            put("admin_tokens", json!(true));
        }
        if let Some(secret) = &self.secret {
            put("client_secret", json!(secret.expose()));
        }
        if let (Some(mount), Some(path), Some(field)) =
            (&self.vault_mount, &self.vault_path, &self.vault_field)
        {
            put(
                "secret",
                json!({"vault": {"mount": mount, "path": path, "field": field}}),
            );
        }
        Value::Object(body)
    }
}

/// Reads a JWKS for `private_key_jwt`: a `{"keys":[…]}` set, or one JWK which is wrapped
/// into a set. Refuses private or symmetric key material: the server needs only public
/// keys, and a private key sent to it would be a key leaked.
fn parse_jwks(text: &str) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_str(text).context("the JWKS file is not valid JSON")?;
    let set = if value.get("keys").is_some() {
        value
    } else if value.get("kty").is_some() {
        json!({ "keys": [value] })
    } else {
        bail!("the JWKS file holds neither a JWK set {{\"keys\":[…]}} nor a single JWK");
    };
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("\"keys\" in the JWKS file is not an array"))?;
    if keys.is_empty() {
        bail!("the JWKS file has no keys");
    }
    // RFC 7518 §6.2.2, §6.3.2, §6.4: members that exist only in private or secret keys.
    const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if keys
        .iter()
        .any(|k| PRIVATE_MEMBERS.iter().any(|m| k.get(*m).is_some()))
    {
        bail!(
            "the JWKS file holds private or symmetric key material; register only the client's public keys"
        );
    }
    Ok(set)
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

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
        let http = reqwest::Client::builder()
            .user_agent(concat!("tessera-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
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
    /// becomes an [`ApiError`] (reachable with `downcast_ref`), a transport failure an
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
            return Err(anyhow::Error::new(ApiError::from_answer(status, &bytes))
                .context(format!("{method} {path}")));
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
pub struct ApiError {
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

impl ApiError {
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
            Ok(problem @ Value::Object(_)) => ApiError {
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
                ApiError {
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

impl fmt::Display for ApiError {
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

impl std::error::Error for ApiError {}

// ---------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------

/// Runs `tessera tenant …`.
pub async fn run_tenant(opts: &AdminOpts, cmd: TenantCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let (answer, done) = match cmd {
        TenantCmd::Create { id, name } => {
            let name = name.unwrap_or_else(|| id.clone());
            let body = json!({ "id": id, "name": name });
            (api.post(&admin_path(&["tenants"])?, &body).await?, None)
        }
        TenantCmd::List => (api.get(&admin_path(&["tenants"])?).await?, None),
        TenantCmd::Get { id } => (api.get(&admin_path(&["tenants", &id])?).await?, None),
        TenantCmd::Disable { id } => {
            let path = admin_path(&["tenants", &id])?;
            let answer = api.patch(&path, &json!({ "status": "disabled" })).await?;
            (answer, Some(format!("tenant {id} disabled")))
        }
        TenantCmd::Enable { id } => {
            let path = admin_path(&["tenants", &id])?;
            let answer = api.patch(&path, &json!({ "status": "active" })).await?;
            (answer, Some(format!("tenant {id} enabled")))
        }
    };
    show(opts, &answer, |v| rows(v, TENANT_COLUMNS, done.as_deref()))
}

/// Runs `tessera project …`.
pub async fn run_project(opts: &AdminOpts, cmd: ProjectCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let answer = match cmd {
        ProjectCmd::Create { tenant, id, name } => {
            let name = name.unwrap_or_else(|| id.clone());
            let path = admin_path(&["tenants", &tenant, "projects"])?;
            api.post(&path, &json!({ "id": id, "name": name })).await?
        }
        ProjectCmd::List { tenant } => {
            api.get(&admin_path(&["tenants", &tenant, "projects"])?)
                .await?
        }
    };
    show(opts, &answer, |v| rows(v, PROJECT_COLUMNS, None))
}

/// Runs `tessera client …`.
pub async fn run_client(opts: &AdminOpts, cmd: ClientCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    match cmd {
        ClientCmd::Create(args) => {
            let jwks = match &args.jwks_file {
                Some(file) => {
                    let text = tokio::fs::read_to_string(file)
                        .await
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    Some(parse_jwks(&text).with_context(|| file.display().to_string())?)
                }
                None => None,
            };
            let path = admin_path(&["tenants", &args.tenant, "clients"])?;
            let answer = api.post(&path, &args.body(jwks)).await?;
            show_secret(opts, &answer, client_created)
        }
        ClientCmd::List { tenant } => {
            let answer = api
                .get(&admin_path(&["tenants", &tenant, "clients"])?)
                .await?;
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, None))
        }
        ClientCmd::Get(client) => {
            let answer = api.get(&client.path(&[])?).await?;
            show(opts, &answer, client_detail)
        }
        ClientCmd::Delete(client) => {
            let answer = api.delete(&client.path(&[])?).await?;
            let done = format!("client {} deleted", client.client_id);
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, Some(&done)))
        }
        ClientCmd::Disable(client) => {
            let body = json!({ "status": "disabled" });
            let answer = api.patch(&client.path(&[])?, &body).await?;
            let done = format!("client {} disabled", client.client_id);
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, Some(&done)))
        }
        ClientCmd::Enable(client) => {
            let body = json!({ "status": "active" });
            let answer = api.patch(&client.path(&[])?, &body).await?;
            let done = format!("client {} enabled", client.client_id);
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, Some(&done)))
        }
        ClientCmd::RotateSecret {
            client,
            grace_seconds,
        } => {
            let body = match grace_seconds {
                Some(s) => json!({ "grace_seconds": s }),
                None => json!({}),
            };
            let answer = api
                .post(&client.path(&["secret", "rotate"])?, &body)
                .await?;
            show_secret(opts, &answer, secret_rotated)
        }
    }
}

/// Runs `tessera keys …`.
pub async fn run_keys(opts: &AdminOpts, cmd: KeysCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let answer = match cmd {
        KeysCmd::List => api.get(&admin_path(&["keys"])?).await?,
        KeysCmd::Rotate => {
            api.post(&admin_path(&["keys", "rotate"])?, &json!({}))
                .await?
        }
    };
    show(opts, &answer, |v| rows(v, KEY_COLUMNS, None))
}

/// Runs `tessera audit …`.
pub async fn run_audit(opts: &AdminOpts, cmd: AuditCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let AuditCmd::List {
        tenant,
        client,
        since,
        limit,
    } = cmd;
    let query: Vec<(&str, String)> = [
        ("tenant", tenant),
        ("client", client),
        ("since", since),
        ("limit", limit.map(|l| l.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let answer = api
        .send(Method::GET, &admin_path(&["audit"])?, &query, None)
        .await?;
    show(opts, &answer, |v| rows(v, AUDIT_COLUMNS, None))
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Prints the answer: pretty JSON with `--json` (nothing for an empty answer), else `human`.
pub(crate) fn show(
    opts: &AdminOpts,
    answer: &Value,
    human: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    if opts.json {
        emit(&json_text(answer)?)
    } else {
        emit(&human(answer))
    }
}

/// Like [`show`] for answers carrying a `client_secret` (or a service's `secret`); with
/// `--json` the "shown only once"
/// warning goes to stderr so stdout stays parseable.
pub(super) fn show_secret(
    opts: &AdminOpts,
    answer: &Value,
    human: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    if opts.json && (answer.get("client_secret").is_some() || answer.get("secret").is_some()) {
        // Best effort: a closed stderr must not hide the secret on stdout.
        let _ = writeln!(std::io::stderr(), "{SHOWN_ONCE}");
    }
    show(opts, answer, human)
}

fn json_text(answer: &Value) -> anyhow::Result<String> {
    if answer.is_null() {
        return Ok(String::new());
    }
    let mut text = serde_json::to_string_pretty(answer).context("cannot print the answer")?;
    text.push('\n');
    Ok(text)
}

/// Writes to stdout. A closed pipe (`tessera client list | head -1`) is not an error;
/// `println!` would panic there.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// A table of `{"items":[…]}`, or a one-row table of a single object. An empty answer
/// (204) prints `done` when given.
pub(crate) fn rows(answer: &Value, columns: &[(&str, &str)], done: Option<&str>) -> String {
    match answer {
        Value::Null => done.map(|d| format!("{d}\n")).unwrap_or_default(),
        Value::Object(map) => match map.get("items").and_then(Value::as_array) {
            Some(items) => table::from_objects(items, columns).render(),
            None => table::from_objects([answer], columns).render(),
        },
        Value::Array(items) => table::from_objects(items, columns).render(),
        other => format!("{other}\n"),
    }
}

/// One client as `key: value` lines, the usual fields first; never its secret.
fn client_detail(client: &Value) -> String {
    let Some(map) = client.as_object() else {
        return rows(client, CLIENT_COLUMNS, None);
    };
    let known = CLIENT_FIELD_ORDER
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (*k, v)));
    let others = map
        .iter()
        .filter(|(k, _)| !CLIENT_FIELD_ORDER.contains(&k.as_str()) && *k != "client_secret")
        .map(|(k, v)| (k.as_str(), v));
    let pairs: Vec<(String, String)> = known
        .chain(others)
        .map(|(k, v)| (k.to_owned(), table::cell(Some(v))))
        .collect();
    table::key_values(&pairs)
}

/// `client create`: the client, then its generated secret and the shown-once warning.
fn client_created(client: &Value) -> String {
    let mut out = client_detail(client);
    if let Some(secret) = client.get("client_secret").and_then(Value::as_str) {
        out.push_str(&format!(
            "\nclient_secret: {}\n{SHOWN_ONCE}\n",
            table::sanitize(secret)
        ));
    }
    out
}

/// `client rotate-secret`: the new secret, until when the old one works, the warning.
fn secret_rotated(answer: &Value) -> String {
    let Some(secret) = answer.get("client_secret").and_then(Value::as_str) else {
        return format!("{}\n", table::sanitize(&answer.to_string()));
    };
    let previous = match answer.get("previous_expires_at").and_then(Value::as_str) {
        Some(at) => format!(
            "the previous secret keeps working until {}",
            table::sanitize(at)
        ),
        None => "the previous secret no longer works".to_owned(),
    };
    format!(
        "client_secret: {}\n{previous}\n{SHOWN_ONCE}\n",
        table::sanitize(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        opts: AdminOpts,
        #[command(subcommand)]
        cmd: ClientCmd,
    }

    /// Parses `tessera <line>` (words split on whitespace).
    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tessera").chain(line.split_whitespace()))
    }

    fn create_args(line: &str) -> ClientCreate {
        match parse(&format!("create {line}")).unwrap().cmd {
            ClientCmd::Create(c) => *c,
            other => panic!("parsed {other:?}"),
        }
    }

    fn opts(token: Option<&str>, url: &str) -> AdminOpts {
        AdminOpts {
            url: url.to_owned(),
            token: token.map(str::to_owned),
            json: false,
        }
    }

    #[test]
    fn the_client_commands_are_a_consistent_clap_definition() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
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
    fn a_minimal_client_create_sends_name_default_grant_and_empty_scopes_only() {
        let body = create_args("--name billing").body(None);
        assert_eq!(
            body,
            json!({"name": "billing", "grant_types": ["client_credentials"], "scopes": []})
        );
    }

    #[test]
    fn a_full_client_create_maps_every_flag_to_its_appendix_a_field() {
        let args = create_args(
            "--tenant acme --name web --client-id web-1 --project shop --profile partner \
             --grant authorization_code --grant refresh_token --scope openid --scope orders:read \
             --default-scope openid --audience orders --ttl 600 --redirect-uri https://a/cb \
             --auth-method private_key_jwt --signing-alg ES256 --admin-tokens",
        );
        let jwks = json!({"keys": [{"kty": "EC"}]});

        let body = args.body(Some(jwks.clone()));

        assert_eq!(args.tenant, "acme");
        assert_eq!(
            body,
            json!({
                "client_id": "web-1", "name": "web", "project_id": "shop", "profile": "partner",
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid", "orders:read"], "default_scopes": ["openid"],
                "audiences": ["orders"], "token_ttl": 600, "redirect_uris": ["https://a/cb"],
                "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
                "signing_alg": "ES256", "admin_tokens": true,
            })
        );
    }

    #[test]
    fn an_imported_secret_is_sent_but_never_shown_by_debug() {
        let args = create_args("--name x --secret s3cr3t-value");
        assert_eq!(args.body(None)["client_secret"], "s3cr3t-value");
        assert!(!format!("{args:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn a_vault_held_secret_is_sent_as_mount_path_and_field() {
        let args = create_args(
            "--name x --vault-mount secret --vault-path clients/x --vault-field client_secret",
        );
        assert_eq!(
            args.body(None)["secret"],
            json!({"vault": {"mount": "secret", "path": "clients/x", "field": "client_secret"}})
        );
    }

    #[test]
    fn a_partial_vault_location_or_a_secret_with_vault_is_a_usage_error() {
        assert!(parse("create --name x --vault-path p").is_err());
        assert!(
            parse("create --name x --secret s --vault-mount m --vault-path p --vault-field f")
                .is_err()
        );
    }

    #[test]
    fn client_commands_default_to_the_default_tenant() {
        match parse("rotate-secret c1 --grace-seconds 60").unwrap().cmd {
            ClientCmd::RotateSecret {
                client,
                grace_seconds,
            } => {
                assert_eq!(
                    (client.tenant.as_str(), client.client_id.as_str()),
                    ("default", "c1")
                );
                assert_eq!(grace_seconds, Some(60));
            }
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn client_paths_encode_the_tenant_and_the_client_id() {
        let client = ClientRef {
            tenant: "a/b".into(),
            client_id: "c d".into(),
        };
        assert_eq!(
            client.path(&["secret", "rotate"]).unwrap(),
            "/admin/v1/tenants/a%2Fb/clients/c%20d/secret/rotate"
        );
    }

    #[test]
    fn a_single_public_jwk_is_wrapped_into_a_set_and_private_keys_are_refused() {
        let set = parse_jwks(r#"{"kty":"OKP","crv":"Ed25519","x":"abc"}"#).unwrap();
        assert_eq!(set["keys"][0]["kty"], "OKP");
        assert!(parse_jwks(r#"{"keys":[{"kty":"RSA","n":"a","e":"AQAB","d":"x"}]}"#).is_err());
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
        assert!(parse_jwks("not json").is_err());
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

    #[test]
    fn debug_output_of_the_options_never_shows_the_token() {
        let shown = format!("{:?}", opts(Some("tok-123"), "http://h"));
        assert!(!shown.contains("tok-123"));
        assert!(shown.contains("[redacted]"));
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

        let err = ApiError::from_answer(StatusCode::BAD_REQUEST, body);

        assert_eq!(
            err.to_string(),
            "400 Bad Request: the body is invalid (karmoCode 40000103)\n  \
             /token_ttl: longer than the profile's 900 s"
        );
    }

    #[test]
    fn a_non_problem_error_answer_still_shows_its_status_and_body() {
        let err = ApiError::from_answer(StatusCode::BAD_GATEWAY, b"<html>upstream down</html>");
        assert_eq!(
            err.to_string(),
            "502 Bad Gateway: <html>upstream down</html>"
        );
    }

    #[test]
    fn client_lists_render_as_a_table_with_grants_joined() {
        let answer = json!({"items": [
            {"client_id": "c1", "name": "Billing", "profile": "service",
             "grant_types": ["client_credentials"], "status": "active"},
            {"client_id": "web", "name": "Web", "profile": "default",
             "grant_types": ["authorization_code", "refresh_token"], "status": "disabled"},
        ]});
        assert_eq!(
            rows(&answer, CLIENT_COLUMNS, None),
            "CLIENT_ID  NAME     PROFILE  GRANTS                            STATUS\n\
             c1         Billing  service  client_credentials                active\n\
             web        Web      default  authorization_code,refresh_token  disabled\n"
        );
    }

    #[test]
    fn a_created_client_shows_its_secret_once_with_the_warning() {
        let answer = json!({"client_id": "c1", "name": "Billing", "client_secret": "S3CRET"});

        let out = client_created(&answer);

        assert_eq!(out.matches("S3CRET").count(), 1);
        assert!(out.contains("client_secret: S3CRET\n"));
        assert!(out.contains("shown only once"));
        assert!(out.starts_with("client_id:"));
    }

    #[test]
    fn a_rotated_secret_shows_until_when_the_previous_one_works() {
        let answer = json!({"client_secret": "NEW", "previous_expires_at": "2030-01-01T00:00:00Z"});
        assert_eq!(
            secret_rotated(&answer),
            format!(
                "client_secret: NEW\nthe previous secret keeps working until 2030-01-01T00:00:00Z\n{SHOWN_ONCE}\n"
            )
        );
    }

    #[test]
    fn an_empty_answer_prints_the_done_message_in_tables_and_nothing_in_json() {
        assert_eq!(
            rows(&Value::Null, CLIENT_COLUMNS, Some("client c1 deleted")),
            "client c1 deleted\n"
        );
        assert_eq!(json_text(&Value::Null).unwrap(), "");
    }
}
