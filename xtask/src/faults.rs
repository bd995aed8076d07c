//! `cargo xtask faults`: the server under crashes and database restarts.
//!
//! PostgreSQL runs as a private cluster made for the purpose (`initdb` in a
//! temporary folder, its own port, as the `postgres` user when run as root),
//! never the machine's shared server, and is removed afterwards.
//!
//! 1. `kill -9` the server during a write load, restart it on the same
//!    database, and check that every acknowledged write is there and every
//!    stored user is whole (SQLite and PostgreSQL).
//! 2. Stop and start PostgreSQL under load: `/readyz` turns 503 while the
//!    database is down (`/healthz` stays 200) and 200 once it is back, and
//!    the server recovers without a restart within 30 s; the window is
//!    measured and printed.
//! 3. Two server processes on one PostgreSQL, 1,000 rounds of concurrent
//!    `If-Match` PATCHes (one through each): exactly one wins each round and
//!    no update is lost.
//! 4. SIGTERM with a create in flight: `/readyz` answers 503 during the
//!    shutdown delay, the listener closes, the in-flight create still gets
//!    its 201, and the server exits 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::tools::{self, RunningServer};

const SECRET: &str = "faults-secret-faults-secret-0001";

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let binary = tools::build_users_server(root)?;

    let sqlite_dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", sqlite_dir.path().join("users.db").display());
    crash_during_writes(&binary, "SQLite", &sqlite_url)?;

    let cluster = Cluster::start()?;
    let database = cluster.create_database("users_faults")?;
    crash_during_writes(&binary, "PostgreSQL", &database)?;
    let window = database_restart(&binary, &cluster, &database)?;
    two_servers_no_lost_update(&binary, &database)?;
    drain_on_shutdown(&binary, &database)?;
    eprintln!(
        "faults: all passed; the server answered writes again {window:.2?} after PostgreSQL came back"
    );
    Ok(())
}

/// A private PostgreSQL cluster.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .context("no initdb under /usr/lib/postgresql")?;
        let dir = tempfile::Builder::new()
            .prefix("users-faults-pg")
            .tempdir()?;
        // initdb refuses to run as root: the cluster belongs to `postgres`.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()?
            .stdout
            .starts_with(b"0");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            ensure!(status.success(), "chown of the cluster folder failed");
        }
        let port = free_port()?;
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        )?;
        cluster.ctl_start()?;
        Ok(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let program = self.bin.join(tool);
        let output = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()?
        } else {
            Command::new(&program).args(args).output()?
        };
        ensure!(
            output.status.success(),
            "{tool} {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    fn ctl_start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    fn ctl_stop(&self) -> anyhow::Result<()> {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }

    fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let status = Command::new("psql")
            .args([
                &admin,
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .status()?;
        ensure!(status.success(), "creating {name}");
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running `users-server` on `port`.
fn start_server(
    binary: &Path,
    database: &str,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<RunningServer> {
    RunningServer::start_with(
        binary,
        database,
        SECRET,
        &format!("127.0.0.1:{port}"),
        extra,
    )
}

/// SIGKILL: no shutdown, no flush.
fn kill9(mut server: RunningServer) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args(["-9", &server.child.id().to_string()])
        .status()?;
    ensure!(status.success(), "kill -9 failed");
    server.child.wait()?;
    Ok(())
}

fn token(binary: &Path, sub: &str) -> anyhow::Result<String> {
    tools::mint_token(binary, SECRET, sub, "faults")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One HTTP exchange: the status and the JSON body (Null when none).
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, Value)>,
) -> Result<(u16, Value, Option<String>), ureq::Error> {
    let bearer = format!("Bearer {token}");
    let mut response = match body {
        Some((media, body)) => {
            let mut request = match method {
                "POST" => agent.post(url),
                "PUT" => agent.put(url),
                _ => agent.patch(url),
            }
            .header("Authorization", &bearer)
            .content_type(media);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.send(body.to_string())?
        }
        None => {
            let mut request = agent.get(url).header("Authorization", &bearer);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.call()?
        }
    };
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        etag,
    ))
}

fn new_user(email: &str) -> Value {
    json!({ "name": { "firstName": "Load", "lastName": "Test" }, "email": email })
}

fn crash_during_writes(binary: &Path, label: &str, database: &str) -> anyhow::Result<()> {
    let token = token(binary, "loader")?;
    let port = free_port()?;
    let server = start_server(binary, database, port, &[])?;
    let base = server.url.clone();
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tag = label.to_lowercase();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (acknowledged, stop, base, token, tag) = (
                acknowledged.clone(),
                stop.clone(),
                base.clone(),
                token.clone(),
                tag.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let email = format!("w{worker}-{n}-{tag}@example.com");
                    n += 1;
                    if let Ok((201, user, _)) = call(
                        &agent,
                        "POST",
                        &format!("{base}/v1/users"),
                        &token,
                        &[],
                        Some(("application/json", new_user(&email))),
                    ) {
                        let id = user["id"].as_str().unwrap_or_default().to_owned();
                        acknowledged.lock().unwrap().push((id, email));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    kill9(server)?;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    ensure!(
        acknowledged.len() > 20,
        "{label}: only {} writes before the crash",
        acknowledged.len()
    );

    let server = start_server(binary, database, port, &[])?;
    let agent = agent();
    let mut stored = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}/v1/users?limit=100&cursor={c}", server.url),
            None => format!("{}/v1/users?limit=100", server.url),
        };
        let (status, page, _) = call(&agent, "GET", &url, &token, &[], None)?;
        ensure!(
            status == 200,
            "{label}: listing after the restart: {status} {page}"
        );
        for user in page["items"].as_array().into_iter().flatten() {
            stored.insert(
                user["id"].as_str().unwrap_or_default().to_owned(),
                user.clone(),
            );
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    for (id, email) in &acknowledged {
        let user = stored
            .get(id)
            .with_context(|| format!("{label}: acknowledged user {id} is lost"))?;
        ensure!(
            user["email"] == email.as_str(),
            "{label}: user {id} is not what was written"
        );
    }
    for (id, user) in &stored {
        ensure!(
            user["resourceVersion"] == 1
                && user["name"]["lastName"] == "Test"
                && user["createdAt"].is_string(),
            "{label}: user {id} is not whole: {user}"
        );
    }
    eprintln!(
        "faults: {label}: kill -9 under load: {} acknowledged creates, all present; {} stored, all whole",
        acknowledged.len(),
        stored.len()
    );
    drop(server);
    Ok(())
}

fn database_restart(binary: &Path, cluster: &Cluster, database: &str) -> anyhow::Result<Duration> {
    let token = token(binary, "restarter")?;
    let server = start_server(binary, database, free_port()?, &[])?;
    let agent = agent();
    let write = |n: usize| {
        call(
            &agent,
            "POST",
            &format!("{}/v1/users", server.url),
            &token,
            &[],
            Some((
                "application/json",
                new_user(&format!("restart-{n}@example.com")),
            )),
        )
    };
    let probe = |path: &str| -> anyhow::Result<(u16, Value)> {
        let mut response = agent.get(format!("{}{path}", server.url)).call()?;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    };
    let (status, ..) = write(0)?;
    ensure!(status == 201, "a write before the restart failed: {status}");
    let (status, body) = probe("/readyz")?;
    ensure!(status == 200, "/readyz before the outage: {status} {body}");
    cluster.ctl_stop()?;
    let (status, body) = probe("/readyz")?;
    ensure!(
        status == 503 && body["code"] == "not-ready",
        "/readyz while PostgreSQL is down: {status} {body}"
    );
    let (status, _) = probe("/healthz")?;
    ensure!(status == 200, "/healthz while PostgreSQL is down: {status}");
    eprintln!(
        "faults: PostgreSQL down: /readyz 503 ({}), /healthz 200",
        body["detail"]
    );
    let (status, problem, _) = write(1)?;
    ensure!(
        status >= 500,
        "a write while PostgreSQL is down answered {status}"
    );
    ensure!(
        problem["code"].is_string(),
        "the outage answer is a problem: {problem}"
    );
    std::thread::sleep(Duration::from_secs(2));
    cluster.ctl_start()?;
    let back = Instant::now();
    let mut n = 2;
    loop {
        if let Ok((201, ..)) = write(n) {
            break;
        }
        n += 1;
        ensure!(
            back.elapsed() < Duration::from_secs(30),
            "the server did not recover within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let window = back.elapsed();
    eprintln!(
        "faults: PostgreSQL restart: the server wrote again {window:.2?} after the database came back (no server restart)"
    );
    let (status, body) = probe("/readyz")?;
    ensure!(status == 200, "/readyz after the restart: {status} {body}");
    eprintln!("faults: PostgreSQL back: /readyz 200");
    Ok(window)
}

fn two_servers_no_lost_update(binary: &Path, database: &str) -> anyhow::Result<()> {
    let token = token(binary, "racer")?;
    let one = start_server(binary, database, free_port()?, &[])?;
    let two = start_server(binary, database, free_port()?, &[])?;
    let agent = agent();
    let (status, user, etag) = call(
        &agent,
        "POST",
        &format!("{}/v1/users", one.url),
        &token,
        &[],
        Some(("application/json", new_user("race@example.com"))),
    )?;
    ensure!(status == 201, "creating the raced user: {status}");
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    let mut etag = etag.context("an ETag")?;
    let mut expected = serde_json::Map::new();
    for round in 0..1000 {
        let attempts: Vec<_> = [&one.url, &two.url]
            .into_iter()
            .enumerate()
            .map(|(server, base)| {
                let (url, token, etag) =
                    (format!("{base}/v1/users/{id}"), token.clone(), etag.clone());
                std::thread::spawn(move || {
                    let body = json!({ "customAttributes": { format!("s{server}"): round } });
                    call(
                        &self::agent(),
                        "PATCH",
                        &url,
                        &token,
                        &[("If-Match", &etag)],
                        Some(("application/merge-patch+json", body)),
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (server, attempt) in attempts.into_iter().enumerate() {
            match attempt
                .join()
                .map_err(|_| anyhow::anyhow!("a PATCH thread panicked"))??
            {
                (200, user, tag) => winners.push((server, user, tag)),
                (412, ..) => {}
                (status, body, _) => bail!("round {round}: PATCH answered {status}: {body}"),
            }
        }
        ensure!(
            winners.len() == 1,
            "round {round}: {} PATCHes won",
            winners.len()
        );
        let (server, user, tag) = winners.pop().unwrap();
        expected.insert(format!("s{server}"), json!(round));
        ensure!(
            user["customAttributes"] == Value::Object(expected.clone()),
            "round {round}: an update was lost: {user}"
        );
        ensure!(
            user["resourceVersion"] == round + 2,
            "round {round}: version {}",
            user["resourceVersion"]
        );
        etag = tag.context("an ETag")?;
    }
    let (_, stored, _) = call(
        &agent,
        "GET",
        &format!("{}/v1/users/{id}", two.url),
        &token,
        &[],
        None,
    )?;
    ensure!(
        stored["customAttributes"] == Value::Object(expected),
        "the stored user lost an update: {stored}"
    );
    eprintln!(
        "faults: two servers, 1000 rounds of If-Match PATCHes: one winner each round, no lost update"
    );
    Ok(())
}

/// SIGTERM while a create's body is still arriving: readiness turns 503 at
/// once, the listener closes after the shutdown delay, the create (its body
/// finished after the listener closed) still gets its 201, and the process
/// exits 0 on its own.
fn drain_on_shutdown(binary: &Path, database: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};

    let token = token(binary, "drainer")?;
    let mut server = start_server(binary, database, free_port()?, &["--shutdown-delay", "2"])?;
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = new_user("drain@example.com").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut in_flight = std::net::TcpStream::connect(&address)?;
    write!(
        in_flight,
        "POST /v1/users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )?;
    in_flight.flush()?;
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()?;
    ensure!(status.success(), "kill -TERM failed");
    std::thread::sleep(Duration::from_millis(300));
    let mut response = agent().get(format!("{}/readyz", server.url)).call()?;
    let ready = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    ensure!(
        ready == 503 && text.contains("shutting down"),
        "/readyz while draining: {ready} {text}"
    );
    // Past the delay the listener is closed; the create is still in flight.
    std::thread::sleep(Duration::from_millis(2500));
    ensure!(
        std::net::TcpStream::connect(&address).is_err(),
        "the listener still accepts after the shutdown delay"
    );
    in_flight.write_all(tail.as_bytes())?;
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer)?;
    ensure!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight create was not drained: {answer}"
    );
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait()? {
            break exit;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ensure!(exit.success(), "the server exited with {exit}");
    eprintln!(
        "faults: SIGTERM with a create in flight: /readyz 503 while draining, the create answered 201 after the listener closed, exit 0"
    );
    Ok(())
}
