//! The Users API's behavioural contract as named, runnable checks.
//!
//! The spec's schemas say what a request and an answer look like; they
//! cannot say that a merge patch keeps what it leaves out, that a stale
//! `If-Match` changes nothing, that an idempotency key replays, that one
//! account never sees another's users, that a page never skips a row. Each
//! of those promises is a [`Check`] here, grouped by what it covers; a team
//! that implements `users_api::UsersApi` on its own storage runs them to
//! prove it keeps them.
//!
//! Two ways to run the kit:
//! - in process: [`run_router`] serves any `axum::Router` (the one
//!   `users_api::router` makes from an implementation, or a whole server) on
//!   a loopback port and runs every check against it;
//! - against a running server: [`run`] with its URL, or the
//!   `users-conformance --url URL` binary.
//!
//! The checks act as several callers of two accounts; their tokens come from
//! a [`TokenIssuer`]: an HS256 secret (the claims the spec's security scheme
//! documents: `sub`, `account`, `scope`, `switchableAccounts`, `iss`, `aud`,
//! `exp`) or a command that mints one.
//!
//! Every check creates the users it needs, with unique emails, so the kit
//! can run against a server that holds other data.

mod checks;
pub mod coverage;
pub mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};

pub use coverage::{Cover, Coverage, Semantic};
pub use report::{Outcome, Report};

/// Who the checks act as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The caller (`sub`).
    pub sub: String,
    /// The account the token belongs to.
    pub account: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Accounts the token may act on through `accountSwitchKey`.
    pub switchable: Vec<String>,
    /// Organizations of the account the caller may give a user as its
    /// `ownerOrganization` without `users:admin`.
    pub organizations: Vec<String>,
}

/// Where the kit's tokens come from.
#[derive(Debug, Clone)]
pub enum TokenIssuer {
    /// Tokens signed with HS256, as the reference server verifies them.
    Hs256 {
        /// The shared secret.
        secret: Vec<u8>,
        /// `iss`.
        issuer: String,
        /// `aud`.
        audience: String,
    },
    /// A command run with the identity in its environment
    /// (`CONFORMANCE_SUB`, `CONFORMANCE_ACCOUNT`, `CONFORMANCE_SCOPE`,
    /// `CONFORMANCE_SWITCHABLE`, `CONFORMANCE_ORGANIZATIONS`, comma-separated)
    /// that prints a token.
    Command(String),
}

impl TokenIssuer {
    /// A token for `who`, valid for ten minutes.
    pub fn mint(&self, who: &Identity) -> anyhow::Result<String> {
        match self {
            TokenIssuer::Hs256 {
                secret,
                issuer,
                audience,
            } => {
                let claims = json!({
                    "sub": who.sub,
                    "account": who.account,
                    "scope": who.scope,
                    "switchableAccounts": who.switchable,
                    "organizations": who.organizations,
                    "iss": issuer,
                    "aud": audience,
                    "exp": chrono::Utc::now().timestamp() + 600,
                });
                Ok(jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(secret),
                )?)
            }
            TokenIssuer::Command(command) => {
                let output = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(command)
                    .env("CONFORMANCE_SUB", &who.sub)
                    .env("CONFORMANCE_ACCOUNT", &who.account)
                    .env("CONFORMANCE_SCOPE", &who.scope)
                    .env("CONFORMANCE_SWITCHABLE", who.switchable.join(","))
                    .env("CONFORMANCE_ORGANIZATIONS", who.organizations.join(","))
                    .output()
                    .with_context(|| format!("running the token command {command:?}"))?;
                anyhow::ensure!(
                    output.status.success(),
                    "the token command failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                Ok(String::from_utf8(output.stdout)?.trim().to_owned())
            }
        }
    }
}

/// What the kit runs against.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Where tokens come from.
    pub tokens: TokenIssuer,
    /// The account the checks work in.
    pub account: String,
    /// A second account: tenancy checks, and `accountSwitchKey` from the
    /// first.
    pub other_account: String,
    /// How to move the server's clock forward, for the promises that take
    /// time to keep (a key kept for 24 hours); the checks that need it are
    /// not run without it.
    pub clock: Option<ClockControl>,
}

/// Moves the server's clock forward: a server with a test clock offers
/// one, and the checks of promises that take time ([`Need::Clock`]) use it
/// rather than wait.
#[derive(Clone)]
pub enum ClockControl {
    /// A function moving the clock of a server in this process.
    Hook(Arc<dyn Fn(Duration) + Send + Sync>),
    /// A command run with `CONFORMANCE_ADVANCE_SECONDS` in its environment
    /// (whole seconds), exiting 0 once the server's clock has moved.
    Command(String),
}

impl std::fmt::Debug for ClockControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hook(_) => f.write_str("Hook(..)"),
            Self::Command(command) => f.debug_tuple("Command").field(command).finish(),
        }
    }
}

impl ClockControl {
    /// Moves the server's clock forward by `by`.
    pub async fn advance(&self, by: Duration) -> anyhow::Result<()> {
        match self {
            Self::Hook(hook) => {
                hook(by);
                Ok(())
            }
            Self::Command(command) => {
                let mut run = std::process::Command::new("sh");
                run.arg("-c")
                    .arg(command)
                    .env("CONFORMANCE_ADVANCE_SECONDS", by.as_secs().to_string());
                let output = tokio::task::spawn_blocking(move || run.output())
                    .await?
                    .with_context(|| format!("running the clock command {command:?}"))?;
                anyhow::ensure!(
                    output.status.success(),
                    "the clock command failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                Ok(())
            }
        }
    }
}

/// What a check needs of the target beyond its URL and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// [`Target::clock`].
    Clock,
}

impl Need {
    /// Why a check that needs this is not run without it.
    fn missing(self, target: &Target) -> Option<&'static str> {
        match self {
            Need::Clock if target.clock.is_none() => {
                Some("needs a way to move the server's clock (`Target::clock`, `--clock-command`)")
            }
            Need::Clock => None,
        }
    }
}

impl Target {
    /// A target with the default accounts (`conformance-a`, `conformance-b`).
    pub fn new(base_url: impl Into<String>, tokens: TokenIssuer) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            tokens,
            account: "conformance-a".into(),
            other_account: "conformance-b".into(),
            clock: None,
        }
    }
}

/// One promise of the API, as a runnable check.
#[derive(Clone, Copy)]
pub struct Check {
    /// A stable id, `group.name`.
    pub id: &'static str,
    /// What part of the contract it covers.
    pub group: &'static str,
    /// The promise, in one sentence.
    pub promise: &'static str,
    /// The spec's elements it exercises (see [`coverage`]).
    pub covers: &'static [Cover],
    /// What it needs of the target; it is not run (and says why) without.
    pub needs: &'static [Need],
    run: fn(Ctx) -> BoxFuture<'static, Result<(), String>>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Every check of the kit, in report order.
pub fn checks() -> Vec<Check> {
    checks::all()
}

/// Runs every check whose id starts with `filter` (all when empty) against
/// `target`, one after another.
pub async fn run(target: &Target, filter: &str) -> anyhow::Result<Report> {
    let ctx = Ctx::new(target)?;
    let mut outcomes = Vec::new();
    for check in checks().into_iter().filter(|c| c.id.starts_with(filter)) {
        let started = Instant::now();
        let not_run = check.needs.iter().find_map(|need| need.missing(target));
        let result = match not_run {
            Some(_) => Ok(()),
            None => {
                match tokio::time::timeout(Duration::from_secs(60), (check.run)(ctx.clone())).await
                {
                    Ok(result) => result,
                    Err(_) => Err("did not finish within 60 s".to_owned()),
                }
            }
        };
        outcomes.push(Outcome {
            id: check.id.to_owned(),
            group: check.group.to_owned(),
            promise: check.promise.to_owned(),
            seconds: started.elapsed().as_secs_f64(),
            failure: result.err(),
            not_run: not_run.map(str::to_owned),
        });
    }
    Ok(Report { outcomes })
}

/// Serves `router` on a loopback port and runs the kit against it: the way
/// to run it in a test, against an implementation of `users_api::UsersApi`
/// (`users_api::router(Arc::new(implementation))`) or a whole app.
pub async fn run_router(
    router: axum::Router,
    tokens: TokenIssuer,
    filter: &str,
) -> anyhow::Result<Report> {
    serve_and_run(router, tokens, None, filter).await
}

/// [`run_router`] against an implementation whose clock `clock` moves, so
/// that the checks of promises that take time run too.
pub async fn run_router_with_clock(
    router: axum::Router,
    tokens: TokenIssuer,
    clock: ClockControl,
    filter: &str,
) -> anyhow::Result<Report> {
    serve_and_run(router, tokens, Some(clock), filter).await
}

async fn serve_and_run(
    router: axum::Router,
    tokens: TokenIssuer,
    clock: Option<ClockControl>,
    filter: &str,
) -> anyhow::Result<Report> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let mut target = Target::new(format!("http://{address}"), tokens);
    target.clock = clock;
    let report = run(&target, filter).await;
    server.abort();
    report
}

/// What a check has to hand: HTTP, tokens for each role, and helpers that
/// state the contract's expectations.
#[derive(Clone)]
pub(crate) struct Ctx {
    inner: Arc<CtxInner>,
}

struct CtxInner {
    http: reqwest::Client,
    base: String,
    tokens: TokenIssuer,
    clock: Option<ClockControl>,
    account: String,
    other_account: String,
    no_scope: String,
    admin: String,
    writer: String,
    reader: String,
    other_admin: String,
    second_admin: String,
}

/// An answer: status, headers and body as JSON (`Null` when empty).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn etag(&self) -> Result<String, String> {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("a {} answer without an ETag", self.status))
    }

    /// Whether the answer is a problem whose `errors` name `field`.
    pub(crate) fn names_field(&self, field: &str) -> bool {
        self.body["errors"]
            .as_array()
            .is_some_and(|errors| errors.iter().any(|e| e["field"] == field))
    }

    pub(crate) fn expect(self, status: u16, what: &str) -> Result<Self, String> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!(
                "{what}: expected {status}, got {} {}",
                self.status, self.body
            ))
        }
    }

    /// The answer is a refusal with `status`, as `application/problem+json`
    /// whose `status` member agrees.
    pub(crate) fn problem(self, status: u16, what: &str) -> Result<Self, String> {
        let this = self.expect(status, what)?;
        let media = this
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !media.starts_with("application/problem+json") {
            return Err(format!(
                "{what}: a {status} refusal as {media:?}, not application/problem+json"
            ));
        }
        if this.body["status"] != json!(status) {
            return Err(format!(
                "{what}: the problem's status is {}, the answer's {status}",
                this.body["status"]
            ));
        }
        Ok(this)
    }
}

/// The roles the checks act as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    /// `users:admin` in the account, may switch to the other.
    Admin,
    /// `users:write` in the account.
    Writer,
    /// `users:read` in the account.
    Reader,
    /// `users:admin` in the other account.
    OtherAdmin,
    /// Another caller with `users:admin` in the account.
    SecondAdmin,
    /// A caller of the account whose token holds none of the API's scopes.
    NoScope,
}

impl Ctx {
    fn new(target: &Target) -> anyhow::Result<Self> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let who = |sub: &str, account: &str, scope: &str, switchable: &[&str]| Identity {
            sub: format!("{sub}-{run}"),
            account: account.to_owned(),
            scope: scope.to_owned(),
            switchable: switchable.iter().map(|s| (*s).to_owned()).collect(),
            organizations: Vec::new(),
        };
        let (a, b) = (target.account.as_str(), target.other_account.as_str());
        let writer = who("writer", a, "users:write", &[]);
        Ok(Self {
            inner: Arc::new(CtxInner {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()?,
                base: target.base_url.clone(),
                tokens: target.tokens.clone(),
                clock: target.clock.clone(),
                account: a.to_owned(),
                other_account: b.to_owned(),
                no_scope: target.tokens.mint(&who("outsider", a, "profile", &[]))?,
                admin: target.tokens.mint(&who("admin", a, "users:admin", &[b]))?,
                writer: target.tokens.mint(&writer)?,
                reader: target.tokens.mint(&who("reader", a, "users:read", &[]))?,
                other_admin: target.tokens.mint(&who("admin", b, "users:admin", &[]))?,
                second_admin: target.tokens.mint(&who("admin-2", a, "users:admin", &[]))?,
            }),
        })
    }

    /// Moves the server's clock forward by `by` (only checks that
    /// [`Need::Clock`] call it).
    pub(crate) async fn advance_clock(&self, by: Duration) -> Result<(), String> {
        let clock = self
            .inner
            .clock
            .as_ref()
            .ok_or("the target has no clock to move")?;
        clock
            .advance(by)
            .await
            .map_err(|e| format!("moving the clock: {e:#}"))
    }

    pub(crate) fn other_account(&self) -> &str {
        &self.inner.other_account
    }

    pub(crate) fn raw_token(&self, role: Role) -> &str {
        self.token(role)
    }

    fn token(&self, role: Role) -> &str {
        match role {
            Role::Admin => &self.inner.admin,
            Role::Writer => &self.inner.writer,
            Role::Reader => &self.inner.reader,
            Role::OtherAdmin => &self.inner.other_admin,
            Role::SecondAdmin => &self.inner.second_admin,
            Role::NoScope => &self.inner.no_scope,
        }
    }

    /// A token of the account for the caller `sub` holding `scope`: a user
    /// acting as themself has their id as `sub`.
    pub(crate) fn token_for(&self, sub: &str, scope: &str) -> Result<String, String> {
        self.token_with_organizations(sub, scope, &[])
    }

    /// [`Ctx::token_for`], the token listing `organizations`.
    pub(crate) fn token_with_organizations(
        &self,
        sub: &str,
        scope: &str,
        organizations: &[&str],
    ) -> Result<String, String> {
        let who = Identity {
            sub: sub.to_owned(),
            account: self.inner.account.clone(),
            scope: scope.to_owned(),
            switchable: Vec::new(),
            organizations: organizations.iter().map(|o| (*o).to_owned()).collect(),
        };
        self.inner
            .tokens
            .mint(&who)
            .map_err(|e| format!("minting a token: {e:#}"))
    }

    /// Sends a request as `role`: `path` is relative to the base URL, the
    /// body is sent as `media` when given.
    pub(crate) async fn send(
        &self,
        role: Role,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Value)>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        self.send_as(Some(self.token(role)), method, path, body, headers)
            .await
    }

    /// [`Ctx::send`] with `token` as the bearer token, or none.
    pub(crate) async fn send_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Value)>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let body = match body {
            Some((media, body)) => {
                Some((media, serde_json::to_vec(&body).map_err(|e| e.to_string())?))
            }
            None => None,
        };
        let (answer, bytes) = self
            .exchange(token, method.clone(), path, body, headers)
            .await?;
        if answer.body.is_null() && !bytes.is_empty() {
            return Err(format!(
                "{method} {path}: a {} body that is not JSON: {}",
                answer.status,
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(answer)
    }

    /// Sends `body` (its media type and bytes) with `token`, or none: the
    /// answer, its body as JSON when it is JSON (`null` otherwise), and
    /// its bytes.
    pub(crate) async fn exchange(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Result<(Answer, bytes::Bytes), String> {
        let response = self
            .with_patience(|| {
                let mut request = self
                    .inner
                    .http
                    .request(method.clone(), format!("{}{path}", self.inner.base));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                if let Some((media, body)) = &body {
                    request = request.header("content-type", *media).body(body.clone());
                }
                request.send()
            })
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {path}: reading the body: {e}"))?;
        let media = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let json = media.is_empty() || media == "application/json" || media.ends_with("+json");
        let body = if bytes.is_empty() || !json {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{method} {path}: a {status} body that is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })?
        };
        Ok((
            Answer {
                status,
                headers,
                body,
            },
            bytes,
        ))
    }

    /// Sends a request, and sends it again while the server answers `429`,
    /// after the wait its `Retry-After` asks (a second when it names none),
    /// for up to two minutes: a rate limit is the server's right, not a
    /// broken promise.
    async fn with_patience<F, Fut>(&self, send: F) -> Result<reqwest::Response, reqwest::Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
    {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let response = send().await?;
            if response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS
                || Instant::now() > deadline
            {
                return Ok(response);
            }
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 10))).await;
        }
    }

    /// Sends `body` as it is, in `media`, with `token`: for what JSON
    /// cannot carry (a truncated body, another media type). Answers the
    /// status and the answer's media type; a connection the server closed
    /// on a refused body is `None`.
    pub(crate) async fn send_raw(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        media: &str,
        body: String,
    ) -> Result<Option<(u16, String)>, String> {
        let sent = self
            .with_patience(|| {
                self.inner
                    .http
                    .request(method.clone(), format!("{}{path}", self.inner.base))
                    .bearer_auth(token)
                    .header("content-type", media)
                    .body(body.clone())
                    .send()
            })
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) if err.is_request() || err.is_body() => return Ok(None),
            Err(err) => return Err(format!("{method} {path}: {err}")),
        };
        let answered = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Some((response.status().as_u16(), answered)))
    }

    /// A new user in the account, created by `role`, with `extra` members
    /// beside a unique name and email.
    pub(crate) async fn create(&self, role: Role, extra: Value) -> Result<Answer, String> {
        let mut body = json!({
            "name": { "firstName": "Conformance", "lastName": "Check" },
            "email": format!("c-{}@example.com", uuid::Uuid::new_v4().simple()),
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        self.send(
            role,
            reqwest::Method::POST,
            "/v1/users",
            Some(("application/json", body)),
            &[],
        )
        .await?
        .expect(201, "creating a user")
    }

    pub(crate) async fn get(&self, role: Role, id: &str) -> Result<Answer, String> {
        self.send(
            role,
            reqwest::Method::GET,
            &format!("/v1/users/{id}"),
            None,
            &[],
        )
        .await
    }

    /// A new group in the account, created by `role`, with `extra`
    /// members beside a unique name.
    pub(crate) async fn create_group(&self, role: Role, extra: Value) -> Result<Answer, String> {
        let mut body = json!({ "name": format!("Group {}", uuid::Uuid::new_v4().simple()) });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        self.send(
            role,
            reqwest::Method::POST,
            "/v1/groups",
            Some(("application/json", body)),
            &[],
        )
        .await?
        .expect(201, "creating a group")
    }

    pub(crate) async fn get_group(&self, role: Role, id: &str) -> Result<Answer, String> {
        self.send(
            role,
            reqwest::Method::GET,
            &format!("/v1/groups/{id}"),
            None,
            &[],
        )
        .await
    }

    /// A merge patch of a group, with `If-Match` when given.
    pub(crate) async fn patch_group(
        &self,
        role: Role,
        id: &str,
        patch: Value,
        if_match: Option<&str>,
    ) -> Result<Answer, String> {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send(
            role,
            reqwest::Method::PATCH,
            &format!("/v1/groups/{id}"),
            Some(("application/merge-patch+json", patch)),
            &headers,
        )
        .await
    }

    /// A merge patch, with `If-Match` when given.
    pub(crate) async fn patch(
        &self,
        role: Role,
        id: &str,
        patch: Value,
        if_match: Option<&str>,
    ) -> Result<Answer, String> {
        let headers: Vec<(&str, &str)> =
            if_match.map(|tag| ("if-match", tag)).into_iter().collect();
        self.send(
            role,
            reqwest::Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(("application/merge-patch+json", patch)),
            &headers,
        )
        .await
    }
}

/// `Err(message)` unless `condition`.
pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}

/// The email of a user answer.
pub(crate) fn email_of(answer: &Answer) -> Result<String, String> {
    answer.body["email"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("an answer without an email: {}", answer.body))
}

/// The id of a user answer.
pub(crate) fn id_of(answer: &Answer) -> Result<String, String> {
    answer.body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("an answer without an id: {}", answer.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_clock_command_is_told_how_far_to_move() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("moved");
        let clock = ClockControl::Command(format!(
            "echo $CONFORMANCE_ADVANCE_SECONDS >> {}",
            file.display()
        ));
        clock.advance(Duration::from_secs(86_340)).await.unwrap();
        clock.advance(Duration::from_secs(120)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "86340\n120\n");
        let failing = ClockControl::Command("echo no clock here >&2; exit 3".into());
        let err = failing.advance(Duration::from_secs(1)).await.unwrap_err();
        assert!(format!("{err:#}").contains("no clock here"), "{err:#}");
    }
}
