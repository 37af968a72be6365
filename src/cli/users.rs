//! `tessera user|role|upstream …`: tenant users, roles and upstream providers, through the
//! admin API.

use super::admin::{admin_path, rows, show, AdminClient, AdminOpts};
use serde_json::{json, Value};

const USER_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("EMAIL", "email"),
    ("NAME", "name"),
    ("ROLES", "roles"),
    ("STATUS", "status"),
];
const ROLE_COLUMNS: &[(&str, &str)] = &[("NAME", "name"), ("SCOPES", "scopes")];
const UPSTREAM_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("ISSUER", "issuer"),
    ("CLIENT_ID", "client_id"),
    ("NAME", "name"),
];

/// `tessera user …`.
#[derive(Debug, clap::Subcommand)]
pub enum UserCmd {
    /// Add a user to a tenant.
    Add {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// E-mail address.
        #[arg(
            long,
            required_unless_present = "email_arg",
            conflicts_with = "email_arg"
        )]
        email: Option<String>,
        /// E-mail address, as the first argument (the older form of `--email`).
        #[arg(value_name = "EMAIL", hide = true)]
        email_arg: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Password (argon2id-hashed by the server; never shown again).
        #[arg(long, env = "TESSERA_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Directly held scope (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Resource (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// Group (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// User id (generated when absent).
        #[arg(long)]
        id: Option<String>,
    },
    /// List a tenant's users.
    List {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// Disable a user.
    Disable {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// User id.
        id: String,
    },
}

/// `tessera role …`.
#[derive(Debug, clap::Subcommand)]
pub enum RoleCmd {
    /// Add a role.
    Add {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Role name.
        name: String,
        /// Scope the role grants (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List roles.
    List {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

/// `tessera upstream …`.
#[derive(Debug, clap::Subcommand)]
pub enum UpstreamCmd {
    /// Trust an upstream OpenID provider.
    Add {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// The provider's issuer URL.
        #[arg(long)]
        issuer: String,
        /// Our client id at the provider (the `aud` of its ID tokens).
        #[arg(long)]
        client_id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Identifier (generated when absent).
        #[arg(long)]
        id: Option<String>,
    },
    /// List trusted providers.
    List {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// Stop trusting a provider.
    Remove {
        /// Tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Identifier.
        id: String,
    },
}

fn put(body: &mut Value, key: &str, v: Option<String>) {
    if let Some(v) = v {
        body[key] = Value::String(v);
    }
}

/// Runs `tessera user …`.
pub async fn run_user(opts: &AdminOpts, cmd: UserCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let answer = match cmd {
        UserCmd::Add {
            tenant,
            email,
            email_arg,
            name,
            password,
            roles,
            scopes,
            resources,
            groups,
            id,
        } => {
            let email = email
                .or(email_arg)
                .ok_or_else(|| anyhow::anyhow!("--email is required"))?;
            let mut body = json!({"email": email, "roles": roles, "scopes": scopes, "resources": resources, "groups": groups});
            put(&mut body, "name", name);
            put(&mut body, "password", password);
            put(&mut body, "id", id);
            api.post(&admin_path(&["tenants", &tenant, "users"])?, &body)
                .await?
        }
        UserCmd::List { tenant } => {
            api.get(&admin_path(&["tenants", &tenant, "users"])?)
                .await?
        }
        UserCmd::Disable { tenant, id } => {
            api.patch(
                &admin_path(&["tenants", &tenant, "users", &id])?,
                &json!({"status": "disabled"}),
            )
            .await?
        }
    };
    show(opts, &answer, |v| rows(v, USER_COLUMNS, None))
}

/// Runs `tessera role …`.
pub async fn run_role(opts: &AdminOpts, cmd: RoleCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let answer = match cmd {
        RoleCmd::Add {
            tenant,
            name,
            scopes,
        } => {
            api.post(
                &admin_path(&["tenants", &tenant, "roles"])?,
                &json!({"name": name, "scopes": scopes}),
            )
            .await?
        }
        RoleCmd::List { tenant } => {
            api.get(&admin_path(&["tenants", &tenant, "roles"])?)
                .await?
        }
    };
    show(opts, &answer, |v| rows(v, ROLE_COLUMNS, None))
}

/// Runs `tessera upstream …`.
pub async fn run_upstream(opts: &AdminOpts, cmd: UpstreamCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    let answer = match cmd {
        UpstreamCmd::Add {
            tenant,
            issuer,
            client_id,
            name,
            id,
        } => {
            let mut body = json!({"issuer": issuer, "client_id": client_id});
            put(&mut body, "name", name);
            put(&mut body, "id", id);
            api.post(&admin_path(&["tenants", &tenant, "upstreams"])?, &body)
                .await?
        }
        UpstreamCmd::List { tenant } => {
            api.get(&admin_path(&["tenants", &tenant, "upstreams"])?)
                .await?
        }
        UpstreamCmd::Remove { tenant, id } => {
            api.delete(&admin_path(&["tenants", &tenant, "upstreams", &id])?)
                .await?
        }
    };
    show(opts, &answer, |v| {
        rows(v, UPSTREAM_COLUMNS, Some("upstream removed"))
    })
}
