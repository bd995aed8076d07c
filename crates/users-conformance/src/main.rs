//! `users-conformance --url URL`: the Users API's behavioural contract,
//! checked against a running server.

use std::path::PathBuf;

use clap::Parser;
use users_conformance::{ClockControl, Target, TokenIssuer};

/// Checks that a Users API server keeps the promises its spec makes but its
/// schemas cannot check. Exits 1 when a promise is broken.
#[derive(Debug, Parser)]
#[command(name = "users-conformance", version)]
struct Args {
    /// The server's base URL (required unless `--list` or `--coverage`).
    #[arg(long, required_unless_present_any = ["list", "coverage"])]
    url: Option<String>,
    /// The HS256 secret the server verifies tokens with.
    #[arg(long, env = "CONFORMANCE_JWT_SECRET", conflicts_with = "token_command")]
    jwt_secret: Option<String>,
    /// The `iss` of the minted tokens.
    #[arg(long, default_value = "users-api")]
    jwt_issuer: String,
    /// The `aud` of the minted tokens.
    #[arg(long, default_value = "users-api")]
    jwt_audience: String,
    /// A command that prints a token for the identity in its environment
    /// (`CONFORMANCE_SUB`, `CONFORMANCE_ACCOUNT`, `CONFORMANCE_SCOPE`,
    /// `CONFORMANCE_SWITCHABLE`, `CONFORMANCE_ORGANIZATIONS`), for servers
    /// with other issuers.
    #[arg(long)]
    token_command: Option<String>,
    /// A command that moves the server's clock forward by
    /// `CONFORMANCE_ADVANCE_SECONDS` seconds, for servers with a test clock:
    /// the checks of promises that take time (a key kept for 24 hours) run
    /// only with it, and are reported as not run without it.
    #[arg(long)]
    clock_command: Option<String>,
    /// The account the checks work in.
    #[arg(long, default_value = "conformance-a")]
    account: String,
    /// A second account, for the tenancy checks.
    #[arg(long, default_value = "conformance-b")]
    other_account: String,
    /// Only the checks whose id starts with this.
    #[arg(long, default_value = "")]
    only: String,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// List the checks and exit.
    #[arg(long)]
    list: bool,
    /// Print every element of the spec (each operation's statuses and
    /// parameters, and the semantics its descriptions document) with the
    /// checks that exercise it, and exit: 1 when one has no check.
    #[arg(long)]
    coverage: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.list {
        for check in users_conformance::checks() {
            println!("{:<52} {}", check.id, check.promise);
        }
        return Ok(());
    }
    if args.coverage {
        let coverage = users_conformance::Coverage::of(&users_conformance::checks());
        print!("{}", coverage.text());
        if !coverage.unchecked().is_empty() || !coverage.stale.is_empty() {
            std::process::exit(1);
        }
        return Ok(());
    }
    let tokens = match (args.jwt_secret, args.token_command) {
        (Some(secret), None) => TokenIssuer::Hs256 {
            secret: secret.into_bytes(),
            issuer: args.jwt_issuer,
            audience: args.jwt_audience,
        },
        (None, Some(command)) => TokenIssuer::Command(command),
        _ => anyhow::bail!("give --jwt-secret (or CONFORMANCE_JWT_SECRET) or --token-command"),
    };
    let Some(url) = args.url else {
        anyhow::bail!("give --url, the server's base URL");
    };
    let mut target = Target::new(url, tokens);
    target.account = args.account;
    target.other_account = args.other_account;
    target.clock = args.clock_command.map(ClockControl::Command);
    let report = users_conformance::run(&target, &args.only).await?;
    print!("{}", report.text());
    if let Some(path) = args.junit {
        std::fs::write(path, report.junit()?)?;
    }
    if let Some(path) = args.json {
        std::fs::write(path, report.json())?;
    }
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}
