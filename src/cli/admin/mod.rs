//! The admin commands (`tessera tenant|project|client|keys|audit …`).
//!
//! They are thin clients of the admin REST API under `/admin/v1` (SPEC §5, Appendix A) and
//! never open the database, so the same binary administers a local SQLite server or a
//! PostgreSQL cluster behind a load balancer, with the server doing every check.
//!
//! Output: a human table by default, the server's JSON answer with `--json`. A client
//! secret is printed in both modes, exactly once, because the server returns it only once.
//!
//! Layout: `args` (clap types and the request bodies built from them), `client` (the HTTP
//! client and [`AdminApiError`]), `commands` (one function per command group), `render`
//! (what is printed). The service, user, role and upstream commands beside this module
//! reuse the client and the output helpers.

mod args;
mod client;
mod commands;
mod render;

pub use args::{
    AdminOpts, AuditCmd, ClientCmd, ClientCreate, ClientRef, KeysCmd, ProjectCmd, TenantCmd,
};
pub use client::{admin_path, AdminApiError, AdminClient};
pub use commands::{run_audit, run_client, run_keys, run_project, run_tenant};
pub(crate) use render::{rows, show};
pub(super) use render::{show_secret, SHOWN_ONCE};
