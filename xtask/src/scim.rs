//! `cargo xtask scim`: an outside SCIM tester against the reference server.
//!
//! Installs `scim2-tester` (PyPI, pinned) in the tools cache, then for
//! SQLite and for PostgreSQL in turn starts `users-server` on a fresh
//! database, mints a token holding only the `scim` scope and runs every
//! check of the tester through `xtask/scim/check.py` (discovery, then
//! create, read, list, attribute selection, replace, delete and PATCH
//! add/remove/replace of each resource type the service publishes). It
//! fails on any check that ends in ERROR or CRITICAL, or when fewer checks
//! succeed than [`MIN_SUCCESSES`] (a tester that stopped early passes
//! nothing). Reports: `target/scim/<backend>.json`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::contract::Database;
use crate::tools;

/// Fewer successful checks than this on a backend fails the run: the
/// tester ran 68 on this service when it was first run whole.
const MIN_SUCCESSES: u64 = 60;

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let python = tools::SCIM2_TESTER.ensure()?;
    let server = tools::build_users_server(root)?;
    let out_dir = root.join("target/scim");
    std::fs::create_dir_all(&out_dir)?;
    let secret = format!("{:032x}", rand::random::<u128>());
    let admin_url = std::env::var("USERS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut failed = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let database = Database::fresh(backend, &admin_url, "users_scim")?;
        let guard = tools::RunningServer::start(&server, &database.url(), &secret)?;
        let token = tools::mint_scoped_token(&server, &secret, "idp", "acme", "scim")?;
        let report = out_dir.join(format!("{backend}.json"));
        eprintln!("scim2-tester against {backend}");
        let status = Command::new(&python)
            .arg(root.join("xtask/scim/check.py"))
            .args([&guard.url, &token])
            .arg(&report)
            .status()
            .context("running scim2-tester")?;
        drop(guard);
        let text = std::fs::read_to_string(&report)
            .with_context(|| format!("scim2-tester wrote no report {}", report.display()))?;
        let written: serde_json::Value = serde_json::from_str(&text)?;
        let successes = written["counts"]["SUCCESS"].as_u64().unwrap_or(0);
        if !status.success() {
            failed.push(format!(
                "{backend}: checks failed (see {})",
                report.display()
            ));
        } else if successes < MIN_SUCCESSES {
            failed.push(format!(
                "{backend}: only {successes} checks succeeded; at least {MIN_SUCCESSES} must"
            ));
        }
    }
    if !failed.is_empty() {
        bail!("scim2-tester: {}", failed.join("; "));
    }
    eprintln!("scim2-tester: every check passed on SQLite and PostgreSQL");
    Ok(())
}
