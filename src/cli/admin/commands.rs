//! Running `tessera tenant|project|client|keys|audit …`: one admin call, then its output.

use anyhow::Context;
use reqwest::Method;
use serde_json::json;

use super::args::{
    parse_jwks, AdminOpts, AuditCmd, ClientCmd, ClientRef, KeysCmd, ProjectCmd, TenantCmd,
};
use super::client::{admin_path, AdminClient};
use super::render::{
    client_created, client_detail, rows, secret_rotated, show, show_secret, AUDIT_COLUMNS,
    CLIENT_COLUMNS, KEY_COLUMNS, PROJECT_COLUMNS, TENANT_COLUMNS,
};

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
            let answer = api.get(&client_path(&client, &[])?).await?;
            show(opts, &answer, client_detail)
        }
        ClientCmd::Delete(client) => {
            let answer = api.delete(&client_path(&client, &[])?).await?;
            let done = format!("client {} deleted", client.client_id);
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, Some(&done)))
        }
        ClientCmd::Disable(client) => {
            let body = json!({ "status": "disabled" });
            let answer = api.patch(&client_path(&client, &[])?, &body).await?;
            let done = format!("client {} disabled", client.client_id);
            show(opts, &answer, |v| rows(v, CLIENT_COLUMNS, Some(&done)))
        }
        ClientCmd::Enable(client) => {
            let body = json!({ "status": "active" });
            let answer = api.patch(&client_path(&client, &[])?, &body).await?;
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
                .post(&client_path(&client, &["secret", "rotate"])?, &body)
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

/// `/admin/v1/tenants/{t}/clients/{id}` followed by `more`.
fn client_path(client: &ClientRef, more: &[&str]) -> anyhow::Result<String> {
    let mut segments = vec!["tenants", &client.tenant, "clients", &client.client_id];
    segments.extend_from_slice(more);
    admin_path(&segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_paths_encode_the_tenant_and_the_client_id() {
        let client = ClientRef {
            tenant: "a/b".into(),
            client_id: "c d".into(),
        };
        assert_eq!(
            client_path(&client, &["secret", "rotate"]).unwrap(),
            "/admin/v1/tenants/a%2Fb/clients/c%20d/secret/rotate"
        );
    }
}
