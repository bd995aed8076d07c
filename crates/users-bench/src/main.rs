//! Programs `cargo xtask bench` measures. Not a library: each subcommand is
//! one side of a comparison.
//!
//! - `stub`: the generated router (parsing, validation, problem answers) over
//!   a trivial in-memory `UsersApi`;
//! - `baseline`: the same two operations written by hand in axum, with typed
//!   serde structs (`deny_unknown_fields`), the same checks written directly,
//!   the same request ids and the same in-memory store, so the difference is
//!   what the generated stack costs;
//! - `drive`: sends N requests one after the other (for instruction counts);
//! - `sdk`: N getUser calls through `users-client` or through raw reqwest;
//! - `sqlite-ceiling`: the raw `UPDATE ... WHERE id AND version` rate through sqlx;
//! - `slow-load`: well-behaved reads at a fixed rate, their latency, while
//!   other connections send request bodies one byte a second.

mod baseline;
mod stub;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Parser, Subcommand};

/// The bearer token both servers accept.
pub const TOKEN: &str = "bench-token";
/// The one user both servers hold.
pub const USER_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The generated stubs over an in-memory store.
    Stub {
        #[arg(long)]
        listen: String,
        /// Exit after serving this many requests (for instruction counts).
        #[arg(long)]
        requests: Option<u64>,
    },
    /// The hand-written axum baseline.
    Baseline {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        requests: Option<u64>,
    },
    /// Send requests one after the other.
    Drive {
        #[arg(long)]
        url: String,
        #[arg(long)]
        method: String,
        #[arg(long)]
        requests: u64,
        /// The bearer token (the benchmark servers' own by default).
        #[arg(long, default_value = TOKEN)]
        token: String,
    },
    /// getUser calls through the SDK or raw reqwest.
    Sdk {
        #[arg(long)]
        url: String,
        #[arg(long)]
        raw: bool,
        #[arg(long)]
        requests: u64,
    },
    /// GETs of `url` at `rate` a second for `seconds`, while `slow`
    /// connections each send a POST body one byte a second; prints the
    /// GETs' latency percentiles as JSON.
    SlowLoad {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        slow: usize,
        #[arg(long)]
        rate: u64,
        #[arg(long)]
        seconds: u64,
    },
    /// The raw single-row UPDATE rate of SQLite through sqlx.
    SqliteCeiling {
        #[arg(long)]
        seconds: u64,
        #[arg(long)]
        concurrency: usize,
    },
}

/// The PATCH body every benchmark sends.
pub fn patch_body(n: u64) -> String {
    format!(
        r#"{{"jobTitle":"Head of Operations {n}","phone":null,"address":{{"countryCode":"US","state":"MA","zipCode":"02101","city":"Boston"}},"customAttributes":{{"costCenter":"CC-{n}"}}}}"#
    )
}

/// The user both stores start with.
pub fn seed_user() -> users_api::types::User {
    serde_json::from_value(serde_json::json!({
        "id": USER_ID, "accountId": "bench",
        "name": { "firstName": "John", "lastName": "Smith" },
        "email": "john.smith@example.com", "phone": "+12345678901",
        "status": "active", "roles": [], "teams": [], "tags": [],
        "isAdmin": false, "apiAccess": false, "mustResetPassword": false,
        "emailVerified": false, "hasAvatar": false, "hasPassword": false, "isExternal": false,
        "invalidLoginAttempts": 0, "createdAt": "2026-01-01T00:00:00Z", "createdBy": "bench",
        "updatedAt": "2026-01-01T00:00:00Z", "updatedBy": "bench", "resourceVersion": 1
    }))
    .expect("the seed user fits the type")
}

/// Serves `app` until `requests` have been answered (forever when `None`).
async fn serve(app: axum::Router, listen: &str, requests: Option<u64>) -> anyhow::Result<()> {
    let served = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let counter = served.clone();
    let app = app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            let done_tx = done_tx.clone();
            async move {
                let response = next.run(request).await;
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                if requests.is_some_and(|limit| n >= limit) {
                    let _ = done_tx.send(true);
                }
                response
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let mut done = done_rx;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = done.wait_for(|d| *d).await;
        })
        .await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // The raw reqwest client of `drive` and `sdk --raw` needs a TLS crypto
    // provider chosen (the workspace's reqwest has none of its own): ring,
    // the SDK's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match Cli::parse().command {
            Cmd::Stub { listen, requests } => serve(stub::app(), &listen, requests).await,
            Cmd::Baseline { listen, requests } => serve(baseline::app(), &listen, requests).await,
            Cmd::Drive {
                url,
                method,
                requests,
                token,
            } => drive(&url, &method, requests, &token).await,
            Cmd::Sdk { url, raw, requests } => sdk(&url, raw, requests).await,
            Cmd::SqliteCeiling {
                seconds,
                concurrency,
            } => sqlite_ceiling(seconds, concurrency).await,
            Cmd::SlowLoad {
                url,
                token,
                slow,
                rate,
                seconds,
            } => slow_load(&url, &token, slow, rate, seconds).await,
        }
    })
}

async fn drive(url: &str, method: &str, requests: u64, token: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for n in 0..requests {
        let request = match method {
            "GET" => client.get(url),
            _ => client
                .patch(url)
                .header("content-type", "application/merge-patch+json")
                .body(patch_body(n)),
        };
        let response = request.bearer_auth(token).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{} answered {}",
            url,
            response.status()
        );
        response.bytes().await?;
    }
    Ok(())
}

async fn sdk(url: &str, raw: bool, requests: u64) -> anyhow::Result<()> {
    let id: uuid::Uuid = USER_ID.parse()?;
    if raw {
        let client = reqwest::Client::new();
        for _ in 0..requests {
            let response = client
                .get(format!("{url}/v1/users/{id}"))
                .bearer_auth(TOKEN)
                .header("accept", "application/json")
                .send()
                .await?;
            anyhow::ensure!(response.status().is_success());
            let _user: users_api::types::User = response.json().await?;
        }
    } else {
        let client = users_client::Client::builder(url)
            .bearer_token(TOKEN)
            .build()?;
        for _ in 0..requests {
            client.get_user(id).await?;
        }
    }
    Ok(())
}

async fn sqlite_ceiling(seconds: u64, concurrency: usize) -> anyhow::Result<()> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let dir = std::env::temp_dir().join(format!("users-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let options = SqliteConnectOptions::new()
        .filename(dir.join("ceiling.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT OR REPLACE INTO t VALUES ('u', 1, '{}')")
        .execute(&pool)
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (pool, done) = (pool.clone(), done.clone());
            tokio::spawn(async move {
                // The same read-modify-write the server does: read the
                // version and write the next one, in one transaction.
                while std::time::Instant::now() < deadline {
                    let mut tx = pool.begin().await.unwrap();
                    let version: i64 = sqlx::query_scalar("SELECT version FROM t WHERE id = 'u'")
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                    let updated = sqlx::query(
                        "UPDATE t SET version = $1, doc = $2 WHERE id = 'u' AND version = $3",
                    )
                    .bind(version + 1)
                    .bind(patch_body(version as u64))
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                    tx.commit().await.unwrap();
                    if updated.rows_affected() == 1 {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    println!(
        "{:.1}",
        done.load(Ordering::Relaxed) as f64 / seconds as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// See `Cmd::SlowLoad`. Latency is counted from when a request was due, not
/// from when it was sent, so a stalled client shows as latency too.
async fn slow_load(
    url: &str,
    token: &str,
    slow: usize,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let parsed = reqwest::Url::parse(url)?;
    let address = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port_or_known_default().unwrap_or(80)
    );
    let duration = std::time::Duration::from_secs(seconds);
    let warm_up = std::time::Duration::from_secs(2);
    let end = tokio::time::Instant::now() + warm_up + duration;
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 4096\r\n\r\n"
    );
    let mut tricklers = Vec::new();
    for _ in 0..slow {
        let (address, head) = (address.clone(), head.clone());
        tricklers.push(tokio::spawn(async move {
            // Reconnects whenever the server closes the connection.
            while tokio::time::Instant::now() < end {
                let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await else {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                };
                if stream.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                while tokio::time::Instant::now() < end {
                    if stream.write_all(b" ").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }));
    }
    tokio::time::sleep(warm_up).await;
    let client = reqwest::Client::new();
    let started = tokio::time::Instant::now();
    let total = rate * seconds;
    let period = std::time::Duration::from_secs_f64(1.0 / rate as f64);
    let mut requests = Vec::new();
    for n in 0..total {
        let due = started + period * u32::try_from(n)?;
        tokio::time::sleep_until(due).await;
        let request = client.get(url).bearer_auth(token).send();
        requests.push(tokio::spawn(async move {
            let ok = match request.await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    ok && response.bytes().await.is_ok()
                }
                Err(_) => false,
            };
            (due.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for request in requests {
        let (latency, ok) = request.await?;
        latencies.push(latency.as_secs_f64());
        if !ok {
            errors += 1;
        }
    }
    for trickler in tricklers {
        trickler.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "requests": latencies.len(), "errors": errors,
            "p50": at(0.5), "p99": at(0.99),
        })
    );
    Ok(())
}
