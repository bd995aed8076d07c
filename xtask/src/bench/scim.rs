//! Section 8: SCIM's `userName eq` lookup against the Users API's email
//! filter, on the same 100,000 users, on SQLite and on PostgreSQL.
//!
//! An identity provider finds each user it syncs by `GET
//! /scim/v2/Users?filter=userName eq "..."`; the Users API's own lookup is
//! `GET /v1/users?email=...`. Both run on the same server and data, one
//! request at a time, interleaved in rounds of [`CALLS`] lookups of
//! different users; the ratio of the median round times is the figure
//! (goal ≤ 2×: the filter is translated into the same indexed query, and
//! SCIM's representation and paging envelope are the difference).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::{median, start_server};
use crate::contract::Database;
use crate::tools;

/// Users in the account.
const USERS: usize = 100_000;
/// Lookups per round and kind.
const CALLS: usize = 200;
const ROUNDS: usize = 7;
/// Threads that create the users.
const WRITERS: usize = 8;

/// Runs section 8 and puts it in place of the same section of
/// `docs/benchmarks.md`.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let (server, _) = super::release_build(root)?;
    let mut missed = Vec::new();
    let mut section = section(&server, &mut missed)?;
    section.push_str(&super::measured_at(root, "Section 8", "scim", &missed)?);
    super::put_section(root, 8, &section)
}

pub(super) fn section(server: &Path, missed: &mut Vec<String>) -> anyhow::Result<String> {
    let admin = std::env::var("USERS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut rows = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let database = Database::fresh(backend, &admin, "users_bench_scim")?;
        let process = start_server(server, &database.url(), "off")?;
        let url = format!("http://{}", process.address);
        let writer =
            tools::mint_scoped_token(server, super::SECRET, "bench", "bench", "users:write")?;
        let scim = tools::mint_scoped_token(server, super::SECRET, "idp", "bench", "scim")?;
        let seeded = Instant::now();
        seed(&url, &writer)?;
        let seed_secs = seeded.elapsed().as_secs_f64();
        let agent = ureq::Agent::new_with_defaults();
        let (mut scim_rounds, mut v1_rounds) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let users: Vec<usize> = (0..CALLS)
                .map(|i| (round * 7919 + i * 104_729) % USERS)
                .collect();
            let started = Instant::now();
            for n in &users {
                let filter = format!("userName eq \"{}\"", email(*n));
                let response = agent
                    .get(format!("{url}/scim/v2/Users"))
                    .query("filter", &filter)
                    .header("Authorization", &format!("Bearer {scim}"))
                    .call()?;
                let body: serde_json::Value =
                    serde_json::from_str(&response.into_body().read_to_string()?)?;
                ensure!(body["totalResults"] == 1, "SCIM found {body} for user {n}");
            }
            scim_rounds.push(started.elapsed().as_secs_f64());
            let started = Instant::now();
            for n in &users {
                let response = agent
                    .get(format!("{url}/v1/users"))
                    .query("email", email(*n))
                    .header("Authorization", &format!("Bearer {writer}"))
                    .call()?;
                let body: serde_json::Value =
                    serde_json::from_str(&response.into_body().read_to_string()?)?;
                ensure!(
                    body["items"].as_array().map(Vec::len) == Some(1),
                    "the Users API found {body} for user {n}"
                );
            }
            v1_rounds.push(started.elapsed().as_secs_f64());
        }
        drop(process);
        let (scim_ms, v1_ms) = (
            median(&scim_rounds) * 1000.0 / CALLS as f64,
            median(&v1_rounds) * 1000.0 / CALLS as f64,
        );
        let ratio = scim_ms / v1_ms;
        if ratio > 2.0 {
            missed.push(format!(
                "SCIM userName lookup on {backend}: {ratio:.2}× the Users API's (goal ≤ 2×)"
            ));
        }
        rows.push(format!(
            "| {backend} | {v1_ms:.3} ms | {scim_ms:.3} ms | **{ratio:.2}×** | {} | {seed_secs:.0} s |",
            if ratio <= 2.0 { "met" } else { "missed" }
        ));
    }
    Ok(format!(
        "## 8. SCIM lookups\n\n\
         `GET /scim/v2/Users?filter=userName eq \"...\"` against `GET /v1/users?email=...` on the \
         same release server and the same {USERS} users of one account, one request at a \
         time, interleaved in {ROUNDS} rounds of {CALLS} lookups of different users each; \
         the median round's time per lookup. Goal: SCIM ≤ 2× the Users API.\n\n\
         | store | `/v1/users?email=` | SCIM `userName eq` | ratio | goal | seeding ({WRITERS} writers) |\n\
         |---|---|---|---|---|---|\n{}\n\n",
        rows.join("\n")
    ))
}

fn email(n: usize) -> String {
    format!("scim-bench-{n:06}@example.com")
}

/// Creates the users through the API, [`WRITERS`] at a time.
fn seed(url: &str, token: &str) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WRITERS)
            .map(|w| {
                scope.spawn(move || -> anyhow::Result<()> {
                    let agent = ureq::Agent::new_with_defaults();
                    for n in (w..USERS).step_by(WRITERS) {
                        let body = serde_json::json!({
                            "name": { "firstName": "Scim", "lastName": format!("Bench{n}") },
                            "email": email(n),
                        });
                        let response = agent
                            .post(format!("{url}/v1/users"))
                            .header("Authorization", &format!("Bearer {token}"))
                            .header("Content-Type", "application/json")
                            .send(body.to_string())
                            .with_context(|| format!("creating user {n}"))?;
                        ensure!(response.status().as_u16() == 201, "creating user {n}");
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a seeding thread panicked")?;
        }
        Ok(())
    })
}
