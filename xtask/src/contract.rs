//! `cargo xtask contract`: schemathesis against the reference server.
//!
//! For SQLite and for PostgreSQL in turn, it builds and starts `users-server`
//! on a free loopback port with a fresh database and no rate limit, mints
//! tokens for two admins of two accounts, and runs schemathesis (every check,
//! the examples, coverage, fuzzing and stateful phases, a fixed seed) with
//! the settings in `schemathesis.toml` and the hooks in
//! `xtask/contract/hooks.py` (image answers checked against their type and
//! schema). It fails on any failure or error in
//! the JUnit reports, or when fewer than 1,000 test cases ran in all.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::tools;

const SEED: &str = "20261123";
const MAX_EXAMPLES: &str = "40";
const MIN_CASES: u64 = 1_000;

/// A database for one run.
#[derive(Debug)]
pub(crate) enum Database {
    Sqlite(tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl Database {
    /// A fresh SQLite file, or a fresh database on the PostgreSQL server
    /// `admin` names (dropped with the value).
    pub(crate) fn fresh(backend: &str, admin: &str, prefix: &str) -> anyhow::Result<Self> {
        Ok(match backend {
            "sqlite" => Database::Sqlite(tempfile::tempdir()?),
            _ => {
                let name = format!("{prefix}_{:016x}", rand::random::<u64>());
                psql(admin, &format!("CREATE DATABASE {name}"))?;
                Database::Postgres {
                    admin: admin.to_owned(),
                    name,
                }
            }
        })
    }

    pub(crate) fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => format!("sqlite://{}", dir.path().join("users.db").display()),
            Database::Postgres { admin, name } => {
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin, name } = self {
            let _ = psql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .status()
        .context("running psql")?;
    if !status.success() {
        bail!("psql failed: {sql}");
    }
    Ok(())
}

/// What one schemathesis run reported.
#[derive(Debug)]
struct Outcome {
    backend: &'static str,
    cases: u64,
    failures: u64,
    errors: u64,
    summary: String,
}

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let python = tools::SCHEMATHESIS.ensure()?;
    let server = tools::build_users_server(root)?;
    let out_dir = root.join("target/contract");
    std::fs::create_dir_all(&out_dir)?;
    let secret = format!("{:032x}", rand::random::<u128>());
    let admin_url = std::env::var("USERS_CONTRACT_POSTGRES_URL")
        .or_else(|_| std::env::var("USERS_TEST_POSTGRES_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());

    let mut outcomes = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let database = Database::fresh(backend, &admin_url, "users_contract")?;
        outcomes.push(run_one(
            root, &python, &server, &database, &secret, backend, &out_dir,
        )?);
    }
    let mut cases = 0;
    let mut broken = false;
    for outcome in &outcomes {
        eprintln!(
            "{}: {} test cases, {} failures, {} errors ({})",
            outcome.backend, outcome.cases, outcome.failures, outcome.errors, outcome.summary
        );
        cases += outcome.cases;
        broken |= outcome.failures > 0 || outcome.errors > 0;
    }
    if broken {
        bail!(
            "schemathesis found failures; reports in {}",
            out_dir.display()
        );
    }
    if cases < MIN_CASES {
        bail!("only {cases} test cases ran; at least {MIN_CASES} are required");
    }
    eprintln!("schemathesis: {cases} test cases, no failures");
    Ok(())
}

fn run_one(
    root: &Path,
    python: &Path,
    server: &Path,
    database: &Database,
    secret: &str,
    backend: &'static str,
    out_dir: &Path,
) -> anyhow::Result<Outcome> {
    let guard = tools::RunningServer::start(server, &database.url(), secret)?;
    let url = guard.url.clone();
    let token = |sub: &str, account: &str| tools::mint_token(server, secret, sub, account);
    let auth = serde_json::json!({
        "auth": [
            { "name": "alice", "fixedHeaders": [{ "name": "Authorization", "value": format!("Bearer {}", token("alice", "acme")?) }] },
            { "name": "mallory", "fixedHeaders": [{ "name": "Authorization", "value": format!("Bearer {}", token("mallory", "globex")?) }] }
        ]
    });
    std::fs::write(out_dir.join("wfc-auth.json"), auth.to_string())?;

    let report_dir = out_dir.join(backend);
    let _ = std::fs::remove_dir_all(&report_dir);
    let output = Command::new(python)
        .args([
            "-m",
            "schemathesis.cli",
            "run",
            "openapi/users.yaml",
            "--url",
            &url,
        ])
        .args([
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
        ])
        .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES, "--no-color"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(report_dir.join("junit.xml"))
        .env("SCHEMATHESIS_HOOKS", root.join("xtask/contract/hooks.py"))
        .current_dir(root)
        .output()
        .context("running schemathesis")?;
    drop(guard);
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::write(out_dir.join(format!("{backend}.log")), stdout.as_bytes())?;
    let junit = std::fs::read_to_string(report_dir.join("junit.xml"))
        .with_context(|| format!("schemathesis wrote no JUnit report:\n{stdout}"))?;
    let attribute = |name: &str| -> u64 {
        junit
            .split("<testsuites")
            .nth(1)
            .and_then(|t| t.split(&format!(" {name}=\"")).nth(1))
            .and_then(|t| t.split('"').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let cases = stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" generated")
                .and_then(|(n, _)| n.trim().parse().ok())
        })
        .unwrap_or(0);
    // The phase lines of schemathesis' summary, e.g. "✅ Fuzzing".
    let summary = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Test Phases:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Outcome {
        backend,
        cases,
        failures: attribute("failures"),
        errors: attribute("errors"),
        summary,
    })
}
