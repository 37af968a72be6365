//! The `tessera` command line: `serve`, `migrate`, and admin commands that call a running
//! server's admin API (never SQL).

pub mod admin;
pub mod services;
pub mod table;
pub mod users;

use crate::config::Settings;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Tessera: a multi-tenant OAuth 2.0 / OpenID Connect token service.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// TOML configuration file (environment variables TESSERA_* override it).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    Tenant {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: admin::TenantCmd,
    },
    /// Manage projects.
    Project {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: admin::ProjectCmd,
    },
    /// Manage clients.
    Client {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: admin::ClientCmd,
    },
    /// Manage registered services (service-to-service callers).
    Service {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: services::ServiceCmd,
    },
    /// Manage signing keys.
    Keys {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: admin::KeysCmd,
    },
    /// Manage tenant users.
    User {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: users::UserCmd,
    },
    /// Manage tenant roles.
    Role {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: users::RoleCmd,
    },
    /// Manage trusted upstream OpenID providers.
    Upstream {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: users::UpstreamCmd,
    },
    /// Read audit events.
    Audit {
        #[command(flatten)]
        opts: admin::AdminOpts,
        #[command(subcommand)]
        cmd: admin::AuditCmd,
    },
    /// Print the configuration table (Markdown) or the reason catalogue.
    Docs {
        /// `config` or `reasons`.
        what: String,
    },
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let settings = Settings::from_env(cli.config.as_deref())?;
            init_logging(&settings.log);
            let app = crate::app::App::build_default(settings).await?;
            if let Some(addr) = app.local_addr() {
                // `listening addr=…` ends the line: scripts and tests read the address there.
                if app.speaks_tls() {
                    tracing::info!("the listener speaks TLS (tls.cert, tls.key)");
                }
                tracing::info!(%addr, "listening");
            }
            if let Some(addr) = app.mtls_local_addr() {
                tracing::info!(%addr, "listening for mutual TLS (tls.listen)");
            }
            app.run_until_stopped(crate::app::shutdown_signal()).await?;
            Ok(())
        }
        Command::Migrate => {
            let mut settings = Settings::from_env(cli.config.as_deref())?;
            init_logging(&settings.log);
            settings.migrate_on_start = true;
            crate::app::open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Tenant { opts, cmd } => admin::run_tenant(&opts, cmd).await,
        Command::Project { opts, cmd } => admin::run_project(&opts, cmd).await,
        Command::Client { opts, cmd } => admin::run_client(&opts, cmd).await,
        Command::Service { opts, cmd } => services::run_service(&opts, cmd).await,
        Command::Keys { opts, cmd } => admin::run_keys(&opts, cmd).await,
        Command::User { opts, cmd } => users::run_user(&opts, cmd).await,
        Command::Role { opts, cmd } => users::run_role(&opts, cmd).await,
        Command::Upstream { opts, cmd } => users::run_upstream(&opts, cmd).await,
        Command::Audit { opts, cmd } => admin::run_audit(&opts, cmd).await,
        Command::Docs { what } => {
            match what.as_str() {
                "config" => print!("{}", crate::config::settings_markdown()),
                "reasons" => print!("{}", crate::reasons::reasons_markdown()),
                other => anyhow::bail!("unknown docs topic {other}: use config or reasons"),
            }
            Ok(())
        }
    }
}
