//! Section 7: the command line against curl, and its memory over a listing
//! of every page.
//!
//! - The same `GET /v1/users/{id}` through `users users get ID -o json` and
//!   through `curl`, each a new process (start-up included), interleaved,
//!   [`CALLS`] times each; the ratio of the medians (goal ≤ 1.10×).
//! - `users users list --all -o json` over 1,000 and 10,000 users: the
//!   peak resident memory of the process (GNU time's `%M`); flat in the
//!   number of users is the goal (10,000 within 1.25× of 1,000).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, ensure};

use super::{bench_token, create_user, median, start_server, which};

/// Calls of each kind in the latency comparison.
const CALLS: usize = 20;

/// What section 7 runs besides the project's programs.
pub(super) fn ensure_tools() -> anyhow::Result<()> {
    for tool in ["curl", "/usr/bin/time"] {
        ensure!(which(tool), "{tool} is needed (apt-get install curl time)");
    }
    Ok(())
}

/// Runs section 7 and puts it in place of the same section of
/// `docs/benchmarks.md` (before its closing section when it has none yet).
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    ensure_tools()?;
    let (server, _) = super::release_build(root)?;
    let mut missed = Vec::new();
    let mut section = section(root, &server, &mut missed)?;
    section.push_str(&super::measured_at(root, "Section 7", "cli", &missed)?);
    super::put_section(root, 7, &section)
}

/// Section 7's text: builds `users` in release and measures it against
/// `server`.
pub(super) fn section(
    root: &Path,
    server: &Path,
    missed: &mut Vec<String>,
) -> anyhow::Result<String> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "users-cli"])
        .current_dir(root)
        .status()?;
    ensure!(status.success(), "the release build of users-cli failed");
    measure(server, &root.join("target/release/users"), missed)
}

fn measure(server: &Path, users: &Path, missed: &mut Vec<String>) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let database = format!("sqlite://{}", dir.path().join("cli.db").display());
    let process = start_server(server, &database, "off")?;
    let address = process.address.clone();
    let token = bench_token(server)?;
    let url = format!("http://{address}");
    let id = create_user(&address, &token, "cli-0@example.com")?;
    let config = dir.path().join("config");

    // Latency: interleaved, each a new process.
    let cli = || {
        let mut command = Command::new(users);
        command
            .args(["users", "get", &id, "-o", "json"])
            .env("USERS_URL", &url)
            .env("USERS_TOKEN", &token)
            .env("USERS_CONFIG_DIR", &config);
        command
    };
    let curl = || {
        let mut command = Command::new("curl");
        command
            .args(["-s", "-f", "-o", "/dev/null"])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{url}/v1/users/{id}"));
        command
    };
    let mut cli_ms = Vec::new();
    let mut curl_ms = Vec::new();
    for _ in 0..CALLS {
        cli_ms.push(timed(cli())?);
        curl_ms.push(timed(curl())?);
    }
    let (cli_median, curl_median) = (median(&cli_ms), median(&curl_ms));
    let ratio = cli_median / curl_median;
    if ratio > 1.10 {
        missed.push(format!(
            "a CLI call costs {ratio:.2}× the wall time of the same curl call (goal ≤ 1.10×)"
        ));
    }

    // Memory over every page: 1,000 users, then 10,000.
    let agent = ureq::Agent::new_with_defaults();
    let mut created = 1;
    let mut rows = Vec::new();
    for total in [1_000usize, 10_000] {
        while created < total {
            let body = serde_json::json!({
                "name": { "firstName": "Cli", "lastName": "Bench" },
                "email": format!("cli-{created}@example.com"),
            });
            let response = agent
                .post(format!("{url}/v1/users"))
                .header("Authorization", &format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .with_context(|| format!("creating user {created}"))?;
            ensure!(
                response.status().as_u16() == 201,
                "creating user {created}: {}",
                response.status()
            );
            created += 1;
        }
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(users)
            .args(["users", "list", "--all", "--limit", "100", "-o", "json"])
            .env("USERS_URL", &url)
            .env("USERS_TOKEN", &token)
            .env("USERS_CONFIG_DIR", &config)
            .stdout(Stdio::piped())
            .output()?;
        ensure!(output.status.success(), "users users list --all failed");
        let listed: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("the listing is one JSON array")?;
        let count = listed.as_array().map_or(0, Vec::len);
        ensure!(count == total, "listed {count} users of {total}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let kib: f64 = stderr
            .lines()
            .last()
            .and_then(|line| line.trim().parse().ok())
            .context("GNU time's peak resident size")?;
        rows.push((total, kib / 1024.0));
    }
    let growth = rows[1].1 / rows[0].1;
    if growth > 1.25 {
        missed.push(format!(
            "listing 10,000 users takes {growth:.2}× the peak memory of listing 1,000 (goal: flat, ≤ 1.25×)"
        ));
    }
    drop(process);
    Ok(format!(
        "## 7. The command line\n\n\
         The same `GET /v1/users/{{id}}` through `users users get ID -o json` and through `curl -s`, each a new \
         process (start-up included), {CALLS} of each, interleaved, against one release `users-server` on SQLite:\n\n\
         | | median wall time (ms) | ratio | goal |\n|---|---|---|---|\n\
         | `users` | {cli_median:.2} | {ratio:.2}× | ≤ 1.10× |\n\
         | `curl` | {curl_median:.2} | 1.00× | |\n\n\
         `users users list --all --limit 100 -o json` (every page, written item by item), peak resident memory \
         of the process (GNU time `%M`):\n\n\
         | users listed | peak RSS (MiB) | against 1,000 | goal |\n|---|---|---|---|\n\
         | 1,000 | {:.1} | 1.00× | |\n\
         | 10,000 | {:.1} | {growth:.2}× | ≤ 1.25× (flat) |\n\n",
        rows[0].1, rows[1].1
    ))
}

/// The wall time of running `command` to its end, in milliseconds.
fn timed(mut command: Command) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running a timed call")?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    ensure!(status.success(), "a timed call failed: {command:?}");
    Ok(elapsed)
}
