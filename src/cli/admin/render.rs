//! The admin commands' output: tables and `key: value` listings by default, the server's
//! JSON with `--json`, and a generated secret with its shown-once warning.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

use super::args::AdminOpts;
use crate::cli::table;

/// Printed beside every generated secret, which the server returns only once.
pub(in crate::cli) const SHOWN_ONCE: &str =
    "This secret is shown only once: store it now. Tessera keeps only a hash and cannot show it again.";

// Table columns of each resource: (header, field of the server's JSON).
pub(super) const TENANT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("NAME", "name"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
];
pub(super) const PROJECT_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("TENANT", "tenant_id"),
    ("NAME", "name"),
    ("CREATED", "created_at"),
];
pub(super) const CLIENT_COLUMNS: &[(&str, &str)] = &[
    ("CLIENT_ID", "client_id"),
    ("NAME", "name"),
    ("PROFILE", "profile"),
    ("GRANTS", "grant_types"),
    ("STATUS", "status"),
];
pub(super) const KEY_COLUMNS: &[(&str, &str)] = &[
    ("KID", "kid"),
    ("ALG", "alg"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
];
pub(super) const AUDIT_COLUMNS: &[(&str, &str)] = &[
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
pub(in crate::cli) fn show_secret(
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
pub(super) fn client_detail(client: &Value) -> String {
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
pub(super) fn client_created(client: &Value) -> String {
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
pub(super) fn secret_rotated(answer: &Value) -> String {
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
    use serde_json::json;

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
