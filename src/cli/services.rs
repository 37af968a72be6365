//! `tessera service add|list|rotate-secret|remove`: registered services (SPEC §4) through the
//! admin API (`/admin/v1/services`). A generated service secret is printed exactly once.

use serde_json::{json, Map, Value};

use super::admin::{admin_path, rows, show, show_secret, AdminClient, AdminOpts, SHOWN_ONCE};
use super::table;

const SERVICE_COLUMNS: &[(&str, &str)] = &[
    ("NAME", "name"),
    ("AUDIENCES", "audiences"),
    ("TTL", "ttl"),
    ("BINDINGS", "bindings"),
    ("CREATED", "created_at"),
];

/// `tessera service …`
#[derive(clap::Subcommand, Debug)]
pub enum ServiceCmd {
    /// Register a service with one or more bindings; prints a generated secret once.
    Add(ServiceAdd),
    /// List registered services.
    List,
    /// Generate a new service secret; the old one keeps working for the grace period.
    RotateSecret {
        /// Service name.
        name: String,
        /// How long the previous secret keeps working [default: the server's].
        #[arg(long, value_name = "SECONDS")]
        grace_seconds: Option<u64>,
    },
    /// Remove a service; it gets no more tokens.
    Remove {
        /// Service name.
        name: String,
    },
}

/// Arguments of `tessera service add` (`POST /admin/v1/services`).
#[derive(clap::Args, Debug)]
pub struct ServiceAdd {
    /// Service name (the `sub` of its tokens and its HTTP Basic user name).
    pub name: String,
    /// Audience of its tokens (repeatable) [default: the service profile's].
    #[arg(long = "audience", value_name = "AUD")]
    pub audiences: Vec<String>,
    /// Token lifetime in seconds; at most the service profile's [default: the profile's].
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// Add a secret binding (HTTP Basic name:secret); the secret is printed once. Implied
    /// when no other binding is given.
    #[arg(long)]
    pub secret: bool,
    /// Add a gateway binding for this caller ARN (`*` matches any run; repeatable).
    #[arg(long = "gateway-arn", value_name = "ARN")]
    pub gateway_arns: Vec<String>,
    /// Add an AWS IAM binding for this ARN or `*` pattern (a presigned sts:GetCallerIdentity proof; repeatable).
    #[arg(long = "aws-iam-arn", value_name = "ARN")]
    pub aws_iam_arns: Vec<String>,
    /// Add an mTLS binding for this SAN URI or `*` pattern (as a trusted TLS proxy forwards it; repeatable).
    #[arg(long = "mtls-san", value_name = "URI")]
    pub mtls_sans: Vec<String>,
}

impl ServiceAdd {
    /// The JSON body: `name` and `bindings` always (a secret binding when none is named, as
    /// `tessera service add NAME --audience … --ttl …` in SPEC §4 names none), the rest only
    /// when given.
    pub fn body(&self) -> Value {
        let mut bindings = Vec::new();
        let others = self.gateway_arns.len() + self.aws_iam_arns.len() + self.mtls_sans.len();
        if self.secret || others == 0 {
            bindings.push(json!({"type": "secret"}));
        }
        bindings.extend(
            self.gateway_arns
                .iter()
                .map(|a| json!({"type": "gateway", "arn": a})),
        );
        bindings.extend(
            self.aws_iam_arns
                .iter()
                .map(|a| json!({"type": "aws_iam", "arn": a})),
        );
        bindings.extend(
            self.mtls_sans
                .iter()
                .map(|s| json!({"type": "mtls", "san": s})),
        );
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name));
        body.insert("bindings".into(), Value::Array(bindings));
        if !self.audiences.is_empty() {
            body.insert("audiences".into(), json!(self.audiences));
        }
        if let Some(ttl) = self.ttl {
            body.insert("ttl".into(), json!(ttl));
        }
        Value::Object(body)
    }
}

/// Runs `tessera service …`.
pub async fn run_service(opts: &AdminOpts, cmd: ServiceCmd) -> anyhow::Result<()> {
    let api = AdminClient::new(opts)?;
    match cmd {
        ServiceCmd::Add(args) => {
            let answer = api.post(&admin_path(&["services"])?, &args.body()).await?;
            show_secret(opts, &answer, service_added)
        }
        ServiceCmd::List => {
            let answer = api.get(&admin_path(&["services"])?).await?;
            show(opts, &answer, |v| rows(v, SERVICE_COLUMNS, None))
        }
        ServiceCmd::RotateSecret {
            name,
            grace_seconds,
        } => {
            let body = match grace_seconds {
                Some(s) => json!({ "grace_seconds": s }),
                None => json!({}),
            };
            let path = admin_path(&["services", &name, "secret", "rotate"])?;
            let answer = api.post(&path, &body).await?;
            show_secret(opts, &answer, secret_rotated)
        }
        ServiceCmd::Remove { name } => {
            let answer = api.delete(&admin_path(&["services", &name])?).await?;
            let done = format!("service {name} removed");
            show(opts, &answer, |v| rows(v, SERVICE_COLUMNS, Some(&done)))
        }
    }
}

/// `service add`: the service as a row, then its generated secret and the warning.
fn service_added(service: &Value) -> String {
    let mut out = rows(service, SERVICE_COLUMNS, None);
    if let Some(secret) = service.get("secret").and_then(Value::as_str) {
        out.push_str(&format!(
            "\nsecret: {}\n{SHOWN_ONCE}\n",
            table::sanitize(secret)
        ));
    }
    out
}

/// `service rotate-secret`: the new secret, until when the old one works, the warning.
fn secret_rotated(answer: &Value) -> String {
    let secret = answer.get("secret").and_then(Value::as_str).unwrap_or("");
    let until = answer
        .get("previous_expires_at")
        .and_then(Value::as_str)
        .unwrap_or("now");
    format!(
        "secret: {}\nthe previous secret keeps working until {}\n{SHOWN_ONCE}\n",
        table::sanitize(secret),
        table::sanitize(until)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The service commands alone, as `tessera service` sees them.
    #[derive(Parser)]
    struct ServiceCommandLine {
        #[command(subcommand)]
        cmd: ServiceCmd,
    }

    #[test]
    fn service_add_maps_every_flag_to_its_appendix_a_binding() {
        let cli = ServiceCommandLine::try_parse_from([
            "t",
            "add",
            "orders",
            "--audience",
            "pouch-services",
            "--ttl",
            "300",
            "--secret",
            "--gateway-arn",
            "arn:aws:iam::1:role/orders-*",
            "--mtls-san",
            "spiffe://x/orders",
        ])
        .unwrap();
        let ServiceCmd::Add(args) = cli.cmd else {
            panic!("not add")
        };
        assert_eq!(
            args.body(),
            json!({"name": "orders", "audiences": ["pouch-services"], "ttl": 300, "bindings": [
                {"type": "secret"},
                {"type": "gateway", "arn": "arn:aws:iam::1:role/orders-*"},
                {"type": "mtls", "san": "spiffe://x/orders"}]})
        );
    }

    #[test]
    fn an_added_service_shows_its_secret_once_with_the_warning() {
        let text = service_added(&json!({"name": "orders", "bindings": [], "secret": "s3cr3t"}));
        assert!(text.contains("secret: s3cr3t"), "{text}");
        assert!(text.contains(SHOWN_ONCE));
    }
}
