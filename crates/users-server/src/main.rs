//! `users-server`: the reference server of the Users API.
//!
//! It needs JWT settings: an HS256 secret of at least 32 bytes from the
//! environment (`USERS_JWT_SECRET`) or a file (`USERS_JWT_SECRET_FILE`), never
//! a flag (`ps` would show it), or a public key. Without them it refuses to
//! start, unless `--dev` asks for dev mode: on a loopback address only, it
//! makes up a secret and prints an admin token to paste into Swagger UI's
//! Authorize dialog.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use users_server::app::{self, AppOptions, DocsAccess};
use users_server::auth::{self, JwtVerifier};
use users_server::serve::{self, ServeOptions};
use users_server::service::{CursorKey, Settings};
use users_server::store::DatabaseUrl;

/// The reference server of the Users API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "USERS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sqlite://FILE` (created and migrated on first start) or
    /// `postgres://...`. Printed only with its password hidden.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://users.db",
        hide_env_values = true
    )]
    database_url: DatabaseUrl,
    /// Dev mode: no JWT settings; a made-up HS256 secret and an admin token
    /// printed at start. Only on a loopback address.
    #[arg(long)]
    dev: bool,
    /// A file holding the HS256 secret (at least 32 bytes; one trailing
    /// newline is ignored). The secret may also come from `USERS_JWT_SECRET`;
    /// it is never a flag, where `ps` would show it.
    #[arg(long, env = "USERS_JWT_SECRET_FILE")]
    jwt_secret_file: Option<PathBuf>,
    /// PEM public key file for RS256 or ES256 tokens.
    #[arg(long, env = "USERS_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// The algorithm of `--jwt-public-key`: RS256 or ES256.
    #[arg(long, env = "USERS_JWT_ALGORITHM", default_value = "RS256")]
    jwt_algorithm: String,
    /// The `iss` tokens must carry.
    #[arg(long, env = "USERS_JWT_ISSUER", default_value = "users-api")]
    jwt_issuer: String,
    /// The `aud` tokens must carry.
    #[arg(long, env = "USERS_JWT_AUDIENCE", default_value = "users-api")]
    jwt_audience: String,
    /// The largest request body, in bytes.
    #[arg(long, env = "USERS_BODY_LIMIT", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Requests per second allowed per client address (0 turns the limit off).
    #[arg(long, env = "USERS_RATE_LIMIT", default_value_t = 50)]
    rate_limit: u32,
    /// Requests a client may send at once above the rate.
    #[arg(long, env = "USERS_RATE_BURST", default_value_t = 100)]
    rate_burst: u32,
    /// Refuse PATCH, PUT, DELETE and password changes without If-Match (428).
    #[arg(long, env = "USERS_REQUIRE_IF_MATCH")]
    require_if_match: bool,
    /// Requests served at once; past it the server answers 503 with
    /// `Retry-After` instead of queueing (0 turns the limit off).
    #[arg(long, env = "USERS_MAX_CONCURRENT_REQUESTS", default_value_t = app::DEFAULT_MAX_CONCURRENT_REQUESTS)]
    max_concurrent_requests: usize,
    /// Where the admin listener serves `/metrics`, `/healthz` and `/readyz`:
    /// an address (loopback by default, so metrics are not exposed where the
    /// API is), or `off` for no metrics and no admin listener.
    #[arg(long, env = "USERS_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: MetricsListen,
    /// Seconds a connection may take to send a request's start line and
    /// headers (from its first byte); past it the connection is closed.
    #[arg(long, env = "USERS_HEADER_READ_TIMEOUT", default_value_t = serve::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    header_read_timeout: u64,
    /// Seconds a request's whole body may take to arrive; past it the answer
    /// is 408. Bodies are read before a request takes a slot of
    /// --max-concurrent-requests, so slow senders hold none.
    #[arg(long, env = "USERS_BODY_READ_TIMEOUT", default_value_t = app::DEFAULT_BODY_READ_TIMEOUT.as_secs())]
    body_read_timeout: u64,
    /// Who may read Swagger UI (/docs/), the reference page (/reference/)
    /// and the API documents (/openapi.json, /openapi.yaml): `public`,
    /// `token` (any valid bearer token) or `off`.
    #[arg(long, env = "USERS_DOCS", default_value = "public")]
    docs: DocsAccess,
    /// Seconds between SIGTERM and closing the listeners: `/readyz` answers
    /// 503 meanwhile, so load balancers stop sending traffic before the
    /// server stops accepting it. In-flight requests are drained after that.
    #[arg(long, env = "USERS_SHUTDOWN_DELAY", default_value_t = 0)]
    shutdown_delay: u64,
}

/// `--metrics-listen`: an address or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricsListen {
    Off,
    At(SocketAddr),
}

impl std::str::FromStr for MetricsListen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        text.parse()
            .map(Self::At)
            .map_err(|err| format!("{err}: give an address such as 127.0.0.1:9464, or off"))
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print an HS256 access token signed with the server's secret
    /// (`USERS_JWT_SECRET` or `--jwt-secret-file`), for scripts and tests.
    Token {
        /// The token's subject.
        #[arg(long)]
        sub: String,
        /// The account it belongs to.
        #[arg(long)]
        account: String,
        /// Space-separated scopes (`users:read`, `users:write`,
        /// `users:admin`); there is no default, so an admin token is never
        /// minted by accident.
        #[arg(long)]
        scope: String,
        /// Other accounts it may act on.
        #[arg(long)]
        switchable: Vec<String>,
        /// Organizations of the account its caller belongs to.
        #[arg(long)]
        organization: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Token {
        sub,
        account,
        scope,
        switchable,
        organization,
        ttl,
    }) = &args.command
    {
        let secret = hs256_secret(
            std::env::var("USERS_JWT_SECRET").ok(),
            args.jwt_secret_file.as_deref(),
        )?
        .context(
            "`token` signs with the HS256 secret: set USERS_JWT_SECRET or USERS_JWT_SECRET_FILE",
        )?;
        let claims = auth::Claims {
            sub: sub.clone(),
            account: account.clone(),
            scope: scope.clone(),
            switchable_accounts: switchable.clone(),
            organizations: organization.clone(),
            iss: args.jwt_issuer.clone(),
            aud: args.jwt_audience.clone(),
            exp: chrono::Utc::now().timestamp() + ttl,
            nbf: None,
        };
        println!("{}", auth::mint_hs256(&secret, &claims));
        return Ok(());
    }
    // Logs go to stderr; stdout carries what the server says to its user.
    let telemetry = users_server::telemetry::init()?;

    let secret = hs256_secret(
        std::env::var("USERS_JWT_SECRET").ok(),
        args.jwt_secret_file.as_deref(),
    )?;
    let mode = auth_mode(
        args.dev,
        args.listen,
        secret,
        args.jwt_public_key.as_deref(),
    )?;
    let mut dev_token = None;
    let verifier = match mode {
        AuthMode::Hs256(secret) => {
            JwtVerifier::hs256(&secret, &args.jwt_issuer, &args.jwt_audience)
        }
        AuthMode::PublicKey(path) => {
            let pem =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let algorithm = args.jwt_algorithm.parse().context("--jwt-algorithm")?;
            JwtVerifier::public_key(algorithm, &pem, &args.jwt_issuer, &args.jwt_audience)?
        }
        AuthMode::Dev => {
            let secret: [u8; 32] = rand::random();
            dev_token = Some(auth::mint_hs256(
                &secret,
                &auth::Claims {
                    sub: "dev-admin".into(),
                    account: "dev".into(),
                    scope: "users:read users:write users:admin scim".into(),
                    switchable_accounts: Vec::new(),
                    organizations: Vec::new(),
                    iss: args.jwt_issuer.clone(),
                    aud: args.jwt_audience.clone(),
                    exp: chrono::Utc::now().timestamp() + 12 * 3600,
                    nbf: None,
                },
            ));
            JwtVerifier::hs256(&secret, &args.jwt_issuer, &args.jwt_audience)
        }
    };

    let store = users_server::store::SqlStore::connect(args.database_url.expose())
        .await
        .with_context(|| format!("opening {}", args.database_url))?;
    let cursor_key = store
        .server_key("cursor")
        .await
        .with_context(|| format!("reading the cursor key from {}", args.database_url))?;
    let options = AppOptions {
        body_limit: args.body_limit,
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        metrics: args.metrics_listen != MetricsListen::Off,
        max_concurrent_requests: args.max_concurrent_requests,
        body_read_timeout: Duration::from_secs(args.body_read_timeout),
        docs: args.docs,
        settings: Settings {
            require_if_match: args.require_if_match,
            cursor_key: CursorKey::new(cursor_key),
            ..Settings::default()
        },
    };
    let purged_store = store.clone();
    let app = app::build(store, verifier, options);
    // Expired idempotency keys are claimed afresh when reused; the rest are
    // deleted hourly so the table holds about a day of keys.
    tokio::spawn(async move {
        use users_server::store::Store;
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        loop {
            hourly.tick().await;
            let cutoff = chrono::Utc::now()
                - chrono::Duration::from_std(users_server::store::IDEMPOTENCY_TTL)
                    .expect("a day fits");
            match purged_store.purge_idempotency_keys(cutoff).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys deleted"),
                Err(err) => tracing::warn!(%err, "deleting expired idempotency keys failed"),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let admin_listener = match args.metrics_listen {
        MetricsListen::Off => None,
        MetricsListen::At(at) => {
            let admin = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("listening on {at} (--metrics-listen)"))?;
            if !at.ip().is_loopback() {
                tracing::warn!(address = %at, "metrics are served on a non-loopback address");
            }
            Some(admin)
        }
    };
    tracing::info!(%address, database = %args.database_url, "users-server listening");
    // What the server says to its user goes to stdout; a reader that went
    // away (a script that read the address and closed the pipe) must not
    // take the server down, so write errors are ignored.
    let mut said = String::new();
    if let Some(admin) = &admin_listener {
        let at = admin.local_addr()?;
        tracing::info!(address = %at, "admin listener (metrics, probes)");
        said.push_str(&format!("Metrics on http://{at}/metrics\n"));
    }
    if args.docs == DocsAccess::Off {
        said.push_str(&format!("Users API on http://{address}\n"));
    } else {
        said.push_str(&format!(
            "Users API on http://{address}  (Swagger UI: http://{address}/docs/, reference: http://{address}/reference/)\n"
        ));
    }
    if let Some(token) = dev_token {
        said.push_str(&format!(
            "\nDEV MODE (--dev): this server made up a JWT secret that\n\
             dies with it. Paste this admin token (account \"dev\") into Swagger UI's Authorize:\n\n\
             {token}\n\n"
        ));
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(said.as_bytes());
        let _ = stdout.flush();
    }
    // SIGINT or SIGTERM: readiness turns 503 at once, the listeners close
    // after --shutdown-delay, and in-flight requests are drained.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let readiness = app.readiness.clone();
    let delay = Duration::from_secs(args.shutdown_delay);
    tokio::spawn(async move {
        shutdown().await;
        readiness.start_draining();
        if !delay.is_zero() {
            tracing::info!(seconds = delay.as_secs(), "draining: /readyz answers 503");
            tokio::time::sleep(delay).await;
        }
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let serve_options = ServeOptions {
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
    };
    let admin = admin_listener.map(|admin_listener| {
        let stopped = stopped.clone();
        tokio::spawn(serve::serve(
            admin_listener,
            app.admin,
            serve_options,
            until_stopped(stopped),
        ))
    });
    serve::serve(listener, app.router, serve_options, until_stopped(stopped)).await?;
    if let Some(admin) = admin {
        admin.await??;
    }
    tracing::info!("users-server stopped");
    telemetry.shutdown();
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The shortest HS256 secret accepted: 256 bits, the hash's size (RFC 7518
/// section 3.2).
const MIN_SECRET_BYTES: usize = 32;

/// The HS256 secret from `USERS_JWT_SECRET` (`from_env`) or a file, if any;
/// both at once, or one shorter than [`MIN_SECRET_BYTES`], is an error.
fn hs256_secret(
    from_env: Option<String>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let (secret, source) = match (from_env, file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "USERS_JWT_SECRET and USERS_JWT_SECRET_FILE are both set: give the secret once"
        ),
        (Some(secret), None) => (secret.into_bytes(), "USERS_JWT_SECRET".to_owned()),
        (None, Some(path)) => {
            let mut bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            if bytes.ends_with(b"\n") {
                bytes.pop();
                if bytes.ends_with(b"\r") {
                    bytes.pop();
                }
            }
            (bytes, path.display().to_string())
        }
        (None, None) => return Ok(None),
    };
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "the HS256 secret in {source} is {} bytes; it must be at least {MIN_SECRET_BYTES} \
         (for example `openssl rand -base64 48`)",
        secret.len()
    );
    Ok(Some(secret))
}

/// How bearer tokens are verified.
#[derive(Debug, PartialEq, Eq)]
enum AuthMode {
    /// HS256 with this secret.
    Hs256(Vec<u8>),
    /// RS256 or ES256 with the public key in this file.
    PublicKey(PathBuf),
    /// A made-up secret and a printed admin token.
    Dev,
}

/// Chooses how tokens are verified: dev mode only when asked for and only
/// on loopback; otherwise exactly one of a secret and a public key.
fn auth_mode(
    dev: bool,
    listen: SocketAddr,
    secret: Option<Vec<u8>>,
    public_key: Option<&std::path::Path>,
) -> anyhow::Result<AuthMode> {
    match (dev, secret, public_key) {
        (true, None, None) => {
            anyhow::ensure!(
                listen.ip().is_loopback(),
                "--dev listens on loopback only (it prints an admin token); {listen} is not"
            );
            Ok(AuthMode::Dev)
        }
        (true, ..) => anyhow::bail!(
            "--dev makes up its own secret: drop --dev, or the JWT settings (USERS_JWT_SECRET, \
             USERS_JWT_SECRET_FILE, USERS_JWT_PUBLIC_KEY)"
        ),
        (false, Some(_), Some(_)) => {
            anyhow::bail!("both an HS256 secret and USERS_JWT_PUBLIC_KEY are set: choose one")
        }
        (false, Some(secret), None) => Ok(AuthMode::Hs256(secret)),
        (false, None, Some(path)) => Ok(AuthMode::PublicKey(path.to_owned())),
        (false, None, None) => anyhow::bail!(
            "no JWT settings: set USERS_JWT_SECRET or USERS_JWT_SECRET_FILE (HS256, at least \
             {MIN_SECRET_BYTES} bytes), or USERS_JWT_PUBLIC_KEY with USERS_JWT_ALGORITHM \
             (RS256, ES256); or pass --dev for a local server with a made-up secret"
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Metrics are not reachable from the network by default: the admin
    /// listener binds loopback unless configured.
    #[test]
    fn the_admin_listener_is_loopback_by_default() {
        let args = Args::try_parse_from(["users-server"]).unwrap();
        match args.metrics_listen {
            MetricsListen::At(at) => assert!(at.ip().is_loopback(), "{at}"),
            MetricsListen::Off => panic!("metrics are on by default"),
        }
        assert_ne!(
            args.metrics_listen,
            MetricsListen::At(args.listen),
            "metrics have a listener of their own"
        );
    }

    #[test]
    fn metrics_can_be_turned_off_or_moved() {
        let off = Args::try_parse_from(["users-server", "--metrics-listen", "off"]).unwrap();
        assert_eq!(off.metrics_listen, MetricsListen::Off);
        let moved =
            Args::try_parse_from(["users-server", "--metrics-listen", "0.0.0.0:9100"]).unwrap();
        assert_eq!(
            moved.metrics_listen,
            MetricsListen::At("0.0.0.0:9100".parse().unwrap())
        );
        assert!(Args::try_parse_from(["users-server", "--metrics-listen", "nowhere"]).is_err());
    }

    fn loopback() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    /// Missing configuration is a refusal with what to set, never dev mode.
    #[test]
    fn no_settings_and_no_dev_refuses_to_start() {
        let err = auth_mode(false, loopback(), None, None).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("USERS_JWT_SECRET"), "{message}");
        assert!(message.contains("--dev"), "{message}");
    }

    #[test]
    fn dev_mode_only_when_asked_and_only_on_loopback() {
        assert_eq!(
            auth_mode(true, loopback(), None, None).unwrap(),
            AuthMode::Dev
        );
        assert!(auth_mode(true, "[::1]:8080".parse().unwrap(), None, None).is_ok());
        let err = auth_mode(true, "0.0.0.0:8080".parse().unwrap(), None, None).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(auth_mode(true, loopback(), Some(vec![b'k'; 32]), None).is_err());
    }

    #[test]
    fn a_secret_or_a_key_but_not_both() {
        assert_eq!(
            auth_mode(false, loopback(), Some(vec![b'k'; 32]), None).unwrap(),
            AuthMode::Hs256(vec![b'k'; 32])
        );
        let key = std::path::Path::new("/keys/jwt.pem");
        assert_eq!(
            auth_mode(false, loopback(), None, Some(key)).unwrap(),
            AuthMode::PublicKey(key.to_owned())
        );
        assert!(auth_mode(false, loopback(), Some(vec![b'k'; 32]), Some(key)).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = hs256_secret(Some("x".repeat(31)), None).unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert_eq!(
            hs256_secret(Some("x".repeat(32)), None).unwrap(),
            Some(vec![b'x'; 32])
        );
        assert_eq!(hs256_secret(None, None).unwrap(), None);
    }

    #[test]
    fn the_secret_comes_from_a_file_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, format!("{}\n", "s".repeat(32))).unwrap();
        assert_eq!(
            hs256_secret(None, Some(&path)).unwrap(),
            Some(vec![b's'; 32])
        );
        std::fs::write(&path, "short\n").unwrap();
        assert!(hs256_secret(None, Some(&path)).is_err());
        assert!(hs256_secret(Some("x".repeat(32)), Some(&path)).is_err());
    }

    /// The secret is never a flag, and `token` has no default scopes.
    #[test]
    fn no_secret_flag_and_explicit_token_scopes() {
        assert!(
            Args::try_parse_from(["users-server", "--jwt-secret", "x".repeat(40).as_str()])
                .is_err()
        );
        assert!(
            Args::try_parse_from(["users-server", "token", "--sub", "a", "--account", "b"])
                .is_err()
        );
        let args = Args::try_parse_from([
            "users-server",
            "token",
            "--sub",
            "a",
            "--account",
            "b",
            "--scope",
            "users:read",
        ])
        .unwrap();
        assert!(
            matches!(args.command, Some(Command::Token { scope, .. }) if scope == "users:read")
        );
    }
}
