//! The `veldwerk` binary: `serve`, and admin commands on the database.

use anyhow::Context;
use clap::{Parser, Subcommand};
use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_server::config::DatabaseArgs;
use veldwerk_server::store::{AuditVerdict, Store};
use veldwerk_server::{ServeArgs, admin};

#[derive(Parser)]
#[command(
    name = "veldwerk",
    version,
    about = "Offline-first case records for outreach workers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    Serve(ServeArgs),
    /// Manage organisations, people and devices directly in the database.
    Admin {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage people.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Create a one-time enrollment link for a new person; prints the URL.
    Invite {
        /// The organisation the person will belong to.
        #[arg(long)]
        org: String,
        /// field_worker, supervisor, case_director, admin or auditor.
        #[arg(long)]
        role: Role,
        /// The public URL of the server (as VELDWERK_ORIGIN).
        #[arg(long, env = "VELDWERK_ORIGIN", default_value = "http://localhost:8080")]
        origin: String,
        /// Hours until the link expires.
        #[arg(long, default_value_t = admin::INVITE_HOURS)]
        hours: u32,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Issue a bearer token for a person's device; printed once.
    Token {
        /// The person's handle.
        #[arg(long)]
        user: String,
        /// A name for the device, e.g. "tablet-3".
        #[arg(long)]
        device: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every link of the hash chain; names the first broken entry.
    Verify,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Register an organisation.
    Add {
        #[arg(long)]
        name: String,
        /// municipality, youth_care, police, prosecutor, child_protection,
        /// school, housing, social_work or other.
        #[arg(long)]
        kind: OrganisationKind,
        /// For a partner organisation: the municipality whose case directors
        /// take direction of the households its people register.
        #[arg(long)]
        municipality: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Register a person in an organisation.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        handle: String,
        /// field_worker, supervisor, case_director, admin or auditor.
        #[arg(long)]
        role: Role,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin { database, command } => {
            // Admin commands print their results; keep logs out of the way.
            init_logging("warn");
            let (store, _) =
                veldwerk_server::open_store(&database.url, database.signal_key_file.as_deref())
                    .await
                    .context("opening the database")?;
            let result = run_admin(&store, command).await;
            store.close().await;
            result
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    // automerge logs its change graph at info while loading a document; that
    // formatting cost a quarter of the CPU of a caseload fetch (BENCHMARKS.md).
    init_logging("info,automerge=warn");
    let config = args.validate()?;
    {
        let (store, _) =
            veldwerk_server::open_store(&config.database_url, config.signal_key_file.as_deref())
                .await
                .context("opening the database")?;
        if let Some(url) = admin::bootstrap_invite(&store, &config.origin)
            .await
            .context("bootstrapping")?
        {
            // The terminal of whoever installs the server is the one place this may go.
            println!(
                "No one has an account yet. Enroll the first admin with this one-time link (valid 24 hours):"
            );
            println!("{url}");
        }
        store.close().await;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    veldwerk_server::serve(listener, config, shutdown).await?;
    Ok(())
}

async fn run_admin(store: &Store, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Org {
            command:
                OrgCommand::Add {
                    name,
                    kind,
                    municipality,
                },
        } => {
            admin::add_organisation(store, &name, kind)
                .await
                .context("adding the organisation")?;
            eprintln!("organisation {name:?} ({kind}) added");
            if let Some(municipality) = municipality {
                admin::set_municipality(store, &name, &municipality)
                    .await
                    .context("naming the municipality it works for")?;
                eprintln!("{name:?} works for {municipality:?}");
            }
        }
        AdminCommand::User {
            command: UserCommand::Add { org, handle, role },
        } => {
            admin::add_user(store, &org, &handle, role)
                .await
                .context("adding the user")?;
            eprintln!("user {handle:?} ({role}) added to {org:?}");
        }
        AdminCommand::Invite {
            org,
            role,
            origin,
            hours,
        } => {
            let organisation = store
                .organisation_id(&org)
                .await
                .context("finding the organisation")?;
            let (url, _) = admin::create_invite(
                store,
                origin.trim_end_matches('/'),
                organisation,
                role,
                None,
                hours,
            )
            .await
            .context("creating the invite")?;
            eprintln!("one-time invite for a {role} of {org:?}, valid {hours} hours:");
            println!("{url}");
        }
        AdminCommand::Audit {
            command: AuditCommand::Verify,
        } => match store.verify_audit().await? {
            AuditVerdict::Intact {
                entries,
                unkeyed,
                last_hash,
            } => {
                println!("audit log intact: {entries} entries, the last hashed {last_hash}");
                if unkeyed > 0 {
                    println!(
                        "entries 1 to {unkeyed} were written before the chain was keyed; \
                         the keyed entry after them vouches for them"
                    );
                }
            }
            AuditVerdict::Unkeyed { entries } => {
                println!(
                    "audit log of {entries} entries, none of them keyed: nothing shows it was \
                     not rewritten. A server of this version keys every entry it writes."
                );
                anyhow::bail!("the audit log cannot be verified");
            }
            AuditVerdict::Broken { seq, reason } => {
                println!("audit log broken at entry {seq}: {reason}");
                anyhow::bail!("the audit log does not verify");
            }
        },
        AdminCommand::Token { user, device } => {
            let (token, principal) = admin::issue_token(store, &user, &device)
                .await
                .context("issuing the token")?;
            eprintln!(
                "token for {user:?} on device {device:?} (actor id {}); it is shown only this once:",
                principal.actor_id
            );
            println!("{token}");
        }
    }
    Ok(())
}

fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("VELDWERK_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("VELDWERK_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Registers for SIGTERM and ctrl-c now, so a signal that arrives while the
/// server is still starting is not lost, and returns the future that waits.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
    }
}
