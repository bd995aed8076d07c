//! Storage: the small [`Store`] trait the service uses, and [`SqlStore`], its
//! implementation over sqlx for SQLite (the embedded default: WAL,
//! `synchronous=NORMAL`, one writer connection and a pool of readers) and
//! PostgreSQL (one pool). Each backend has its own migration set. Queries are
//! written once, in SQL both understand (`$1` parameters in ascending order).
//!
//! A user is stored as its JSON document beside the columns queries need:
//! the account, the case-normalized email (unique per account), the status,
//! a lowercase search text, and the `resource_version` that optimistic
//! concurrency compares in SQL.

use std::borrow::Cow;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    /// Insertion order, the list cursor.
    pub seq: i64,
    /// The user's id.
    pub id: String,
    /// Its version.
    pub resource_version: i64,
    /// The user's JSON document (what the API returns, less computed fields).
    pub doc: Value,
    /// The Argon2id hash of its password.
    pub password_hash: Option<String>,
}

/// What a write stores: the document and the columns derived from it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The tenant.
    pub account_id: String,
    /// The user's id.
    pub id: String,
    /// The version this write creates.
    pub resource_version: i64,
    /// The document.
    pub doc: Value,
    /// The password hash, when this write sets one.
    pub password_hash: Option<String>,
}

impl UserRow {
    fn email_key(&self) -> String {
        email_key(self.doc["email"].as_str().unwrap_or_default())
    }

    fn status(&self) -> String {
        self.doc["status"].as_str().unwrap_or("active").to_owned()
    }

    fn search_text(&self) -> String {
        let name = &self.doc["name"];
        format!(
            "{} {} {}",
            name["firstName"].as_str().unwrap_or_default(),
            name["lastName"].as_str().unwrap_or_default(),
            self.doc["email"].as_str().unwrap_or_default()
        )
        .to_lowercase()
    }
}

/// An email address as uniqueness compares it: Unicode lowercase, done here
/// so that SQLite (ASCII-only folding) and PostgreSQL agree.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Filters of a list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this email (compared as [`email_key`]).
    pub email: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only users whose name or email contains this text, any case.
    pub text: Option<String>,
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such user in the account.
    #[error("not found")]
    NotFound,
    /// The user is not at the expected version.
    #[error("the user is at version {current}")]
    VersionMismatch {
        /// The version it is at.
        current: i64,
    },
    /// Another user of the account has the email.
    #[error("the email address is taken")]
    EmailTaken,
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The stored answer to a create with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyState {
    /// No request used the key yet; this one now holds it.
    Claimed,
    /// A request with the key is still running.
    InProgress {
        /// The hash of that request's body.
        request_hash: String,
    },
    /// A request with the key finished; its response is stored.
    Done {
        /// The hash of that request's body.
        request_hash: String,
        /// The stored response.
        response: Value,
    },
}

/// How long an idempotency key holds its response: the spec's 24 hours.
pub const IDEMPOTENCY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How long a key may stay `pending` before another request with it takes
/// it over: far longer than any request runs, so only a key whose request
/// died (a crash between claim and answer) is taken.
pub const PENDING_TAKEOVER: std::time::Duration = std::time::Duration::from_secs(60);

/// A time as idempotency records store it: RFC 3339 in UTC with
/// microseconds, so that text order is time order.
fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Who used an idempotency key, where.
#[derive(Debug, Clone)]
pub struct IdempotencyScope {
    /// The caller (token subject).
    pub caller: String,
    /// The account acted on.
    pub account_id: String,
    /// The operation.
    pub operation: String,
    /// The key.
    pub key: String,
}

/// The storage the service needs.
pub trait Store: Send + Sync + 'static {
    /// A user held for a read-modify-write; see [`Store::lock`].
    type Locked: LockedUser;

    /// Inserts a user, and when `idempotency` is given marks that key done
    /// with `response`, in one transaction.
    fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> impl Future<Output = Result<StoredUser, StoreError>> + Send;
    /// A user of the account.
    fn get(
        &self,
        account_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<StoredUser>, StoreError>> + Send;
    /// Users of the account after `after_seq`, in insertion order.
    fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> impl Future<Output = Result<Vec<StoredUser>, StoreError>> + Send;
    /// The user read inside a write transaction: other writers of it wait
    /// until the returned handle is written or dropped (dropping rolls back).
    fn lock(
        &self,
        account_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Locked>, StoreError>> + Send;
    /// Deletes the user if it is at `expected_version` (any version when `None`).
    fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Claims an idempotency key for a request whose body hashes to
    /// `request_hash`, at `now`. A key first used [`IDEMPOTENCY_TTL`] or more
    /// ago has expired and is claimed afresh; one still `pending`
    /// [`PENDING_TAKEOVER`] after it was claimed (its request died with its
    /// server) is taken over.
    fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        request_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<IdempotencyState, StoreError>> + Send;
    /// Deletes the idempotency keys first used before `before`.
    fn purge_idempotency_keys(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Gives up a claimed key (the request failed before it changed anything).
    fn release_idempotency_key(
        &self,
        scope: &IdempotencyScope,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Proves the database answers (a round trip on a pooled connection);
    /// readiness probes ask it.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The state of each connection pool, for metrics. A store without
    /// pools reports none.
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }
}

/// One connection pool's state: gauges read now, counters since start.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStats {
    /// The pool's name (`main`; SQLite's `writer` and `reader`).
    pub name: &'static str,
    /// The most connections it opens.
    pub max: u32,
    /// Connections open now, in use or idle.
    pub open: u32,
    /// Connections open and idle now.
    pub idle: u32,
    /// Connections handed out since start.
    pub acquires: u64,
    /// Acquires that found no idle connection and waited (for another
    /// request to return one, or for a new one to connect).
    pub waits: u64,
    /// The time those waits took, in seconds.
    pub wait_seconds: f64,
    /// Acquires that gave up after the acquire timeout.
    pub timeouts: u64,
}

/// A user read inside a write transaction, see [`Store::lock`].
pub trait LockedUser: Send {
    /// The user as it is now.
    fn current(&self) -> &StoredUser;
    /// Writes the new version and commits.
    fn write(self, row: UserRow) -> impl Future<Output = Result<StoredUser, StoreError>> + Send;
}

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// [`Store`] over sqlx.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    writer: Pool,
    reader: Pool,
}

/// A sqlx pool that counts how often, and how long, acquiring a connection
/// waited.
#[derive(Debug, Clone)]
struct Pool {
    name: &'static str,
    pool: AnyPool,
    counters: Arc<PoolCounters>,
}

#[derive(Debug, Default)]
struct PoolCounters {
    acquires: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
}

impl Pool {
    fn new(name: &'static str, pool: AnyPool) -> Self {
        Self {
            name,
            pool,
            counters: Arc::default(),
        }
    }

    /// A connection: an idle one at once, else one waited for (and counted).
    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.counters.acquires.fetch_add(1, Ordering::Relaxed);
        match self.pool.try_acquire() {
            Some(conn) => Ok(conn),
            None => self.waited(self.pool.acquire()).await,
        }
    }

    /// A transaction on a connection acquired as [`Pool::acquire`] does.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.counters.acquires.fetch_add(1, Ordering::Relaxed);
        match self.pool.try_begin().await? {
            Some(tx) => Ok(tx),
            None => self.waited(self.pool.begin()).await,
        }
    }

    async fn waited<T>(
        &self,
        acquire: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        let started = Instant::now();
        let result = acquire.await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counters.waits.fetch_add(1, Ordering::Relaxed);
        self.counters.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        if matches!(result, Err(sqlx::Error::PoolTimedOut)) {
            self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn stats(&self) -> PoolStats {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        PoolStats {
            name: self.name,
            max: self.pool.options().get_max_connections(),
            open: self.pool.size(),
            idle,
            acquires: self.counters.acquires.load(Ordering::Relaxed),
            waits: self.counters.waits.load(Ordering::Relaxed),
            wait_seconds: self.counters.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            timeouts: self.counters.timeouts.load(Ordering::Relaxed),
        }
    }
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "users",
    include_str!("../migrations/sqlite/0001_users.sql"),
)];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "users",
    include_str!("../migrations/postgres/0001_users.sql"),
)];

fn migrator(set: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        set.iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(*sql),
                    false,
                )
            })
            .collect(),
    )
}

/// SQLite settings every connection needs: write-ahead logging, which lets
/// readers run beside the writer, `synchronous=NORMAL` (durable at each
/// checkpoint, safe with WAL), and a wait instead of an error when busy.
fn sqlite_pragmas<'c>(
    conn: &'c mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        conn.execute("PRAGMA busy_timeout = 5000").await?;
        Ok(())
    })
}

impl SqlStore {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and migrates.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = AnyConnectOptions::from_str(url)?;
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                // While the database is unreachable, fail requests in
                // seconds rather than queue them; the pool reconnects by
                // itself once it is back.
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
            let pool = Pool::new("main", pool);
            Ok(Self {
                backend: Backend::Postgres,
                writer: pool.clone(),
                reader: pool,
            })
        } else if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            let options = AnyConnectOptions::from_str(&url)?;
            let writer = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(sqlite_pragmas)
                .connect_with(options.clone())
                .await?;
            migrator(SQLITE_MIGRATIONS).run(&writer).await?;
            let reader = AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(sqlite_pragmas)
                .connect_with(options)
                .await?;
            Ok(Self {
                backend: Backend::Sqlite,
                writer: Pool::new("writer", writer),
                reader: Pool::new("reader", reader),
            })
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://, not {url}")
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.writer.pool.close().await;
        self.reader.pool.close().await;
    }
}

/// A user held in a write transaction of a [`SqlStore`].
#[derive(Debug)]
pub struct SqlLocked {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    current: StoredUser,
}

impl LockedUser for SqlLocked {
    fn current(&self) -> &StoredUser {
        &self.current
    }

    async fn write(mut self, row: UserRow) -> Result<StoredUser, StoreError> {
        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET email_key = $1, status = $2, search_text = $3, resource_version = $4, doc = $5, \
             password_hash = COALESCE($6, password_hash) \
             WHERE account_id = $7 AND id = $8 AND resource_version = $9 RETURNING {COLUMNS}"
        )))
        .bind(row.email_key())
        .bind(row.status())
        .bind(row.search_text())
        .bind(row.resource_version)
        .bind(row.doc.to_string())
        .bind(row.password_hash.clone())
        .bind(row.account_id.clone())
        .bind(row.id.clone())
        .bind(self.current.resource_version)
        .fetch_all(&mut *self.tx)
        .await;
        let stored = match updated {
            Ok(rows) => match rows.first() {
                Some(found) => user_from_row(found)?,
                None => return Err(why_not_written(&mut self.tx, &row.account_id, &row.id).await),
            },
            Err(err) if is_unique_violation(&err) => return Err(StoreError::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        self.tx.commit().await?;
        Ok(stored)
    }
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<StoredUser, StoreError> {
    let doc: String = row.try_get("doc")?;
    Ok(StoredUser {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        resource_version: row.try_get("resource_version")?,
        doc: serde_json::from_str(&doc).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// How long a request waits for a database connection before it fails.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Why a conditional write touched no row: the user is at another version,
/// or it is not there.
async fn why_not_written(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: &str,
    id: &str,
) -> StoreError {
    let current: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT resource_version FROM users WHERE account_id = $1 AND id = $2")
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_optional(&mut **tx)
            .await;
    match current {
        Ok(Some(current)) => StoreError::VersionMismatch { current },
        Ok(None) => StoreError::NotFound,
        Err(err) => StoreError::Database(err),
    }
}

const COLUMNS: &str = "seq, id, resource_version, doc, password_hash";

impl Store for SqlStore {
    async fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredUser, StoreError> {
        let mut tx = self.writer.begin().await?;
        if self.backend == Backend::Postgres {
            // Cursors follow `seq`. A sequence hands out numbers in call
            // order, but transactions commit in any order, so a page could
            // pass a number whose row commits later. Inserts of one account
            // (the scope of a list) take a transaction lock first: the next
            // number is drawn only after the previous insert committed, so
            // rows become visible in `seq` order. SQLite's single writer
            // already orders them.
            sqlx::query("SELECT pg_advisory_xact_lock(7301, hashtext($1))")
                .bind(row.account_id.clone())
                .execute(&mut *tx)
                .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO users (account_id, id, email_key, status, search_text, resource_version, doc, password_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq, id, resource_version, doc, password_hash",
        )
        .bind(row.account_id.clone())
        .bind(row.id.clone())
        .bind(row.email_key())
        .bind(row.status())
        .bind(row.search_text())
        .bind(row.resource_version)
        .bind(row.doc.to_string())
        .bind(row.password_hash.clone())
        .fetch_one(&mut *tx)
        .await;
        let stored = match inserted {
            Ok(found) => user_from_row(&found)?,
            Err(err) if is_unique_violation(&err) => return Err(StoreError::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        if let Some((scope, response)) = idempotency {
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'done', response = $1 \
                 WHERE caller = $2 AND account_id = $3 AND operation = $4 AND key = $5",
            )
            .bind(response.to_string())
            .bind(scope.caller)
            .bind(scope.account_id)
            .bind(scope.operation)
            .bind(scope.key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn get(&self, account_id: &str, id: &str) -> Result<Option<StoredUser>, StoreError> {
        // Read to the end (`fetch_all`, not `fetch_optional`): a SQLite
        // statement left unfinished keeps its read snapshot open, and later
        // reads on the connection would not see newer writes.
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE account_id = $1 AND id = $2"
        )))
        .bind(account_id.to_owned())
        .bind(id.to_owned())
        .fetch_all(&mut *self.reader.acquire().await?)
        .await?;
        found.first().map(user_from_row).transpose()
    }

    async fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> Result<Vec<StoredUser>, StoreError> {
        // Absent filters are NULL and match everything; LIKE runs on text
        // lowercased here, with its wildcards escaped.
        let text = filter.text.as_ref().map(|t| {
            let escaped = t
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE account_id = $1 AND seq > $2 \
             AND ($3 IS NULL OR email_key = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR search_text LIKE $5 ESCAPE '\\') \
             ORDER BY seq LIMIT $6"
        )))
        .bind(account_id.to_owned())
        .bind(after_seq)
        .bind(filter.email.as_deref().map(email_key))
        .bind(filter.status.clone())
        .bind(text)
        .bind(limit)
        .fetch_all(&mut *self.reader.acquire().await?)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    type Locked = SqlLocked;

    async fn lock(&self, account_id: &str, id: &str) -> Result<Option<SqlLocked>, StoreError> {
        let mut tx = self.writer.begin().await?;
        // SQLite has one writer connection, so its transaction already
        // excludes other writers; PostgreSQL locks the row.
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT seq, id, resource_version, doc, password_hash FROM users WHERE account_id = $1 AND id = $2"
            }
            Backend::Postgres => {
                "SELECT seq, id, resource_version, doc, password_hash FROM users WHERE account_id = $1 AND id = $2 FOR UPDATE"
            }
        };
        let rows = sqlx::query(sql)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *tx)
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let current = user_from_row(row)?;
        Ok(Some(SqlLocked { tx, current }))
    }

    async fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM users WHERE account_id = $1 AND id = $2 AND ($3 IS NULL OR resource_version = $3)",
        )
        .bind(account_id.to_owned())
        .bind(id.to_owned())
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(why_not_written(&mut tx, account_id, id).await);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        request_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IdempotencyState, StoreError> {
        let mut tx = self.writer.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (caller, account_id, operation, key, request_hash, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT DO NOTHING",
        )
        .bind(scope.caller.clone())
        .bind(scope.account_id.clone())
        .bind(scope.operation.clone())
        .bind(scope.key.clone())
        .bind(request_hash.to_owned())
        .bind(stamp(now))
        .execute(&mut *tx)
        .await?;
        let state = if claimed.rows_affected() == 1 {
            IdempotencyState::Claimed
        } else {
            let row = sqlx::query(
                "SELECT request_hash, state, response, created_at FROM idempotency_keys \
                 WHERE caller = $1 AND account_id = $2 AND operation = $3 AND key = $4",
            )
            .bind(scope.caller.clone())
            .bind(scope.account_id.clone())
            .bind(scope.operation.clone())
            .bind(scope.key.clone())
            .fetch_one(&mut *tx)
            .await?;
            let stored_hash: String = row.try_get("request_hash")?;
            let state: String = row.try_get("state")?;
            let response: Option<String> = row.try_get("response")?;
            let created_at: String = row.try_get("created_at")?;
            let age = chrono::DateTime::parse_from_rfc3339(&created_at)
                .map(|at| now.signed_duration_since(at))
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?
                .to_std()
                .unwrap_or_default();
            let expired = age >= IDEMPOTENCY_TTL;
            let abandoned = state == "pending" && age >= PENDING_TAKEOVER;
            if expired || abandoned {
                // Claimed afresh, guarded by the row's old stamp so two
                // requests taking it over at once cannot both win.
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET request_hash = $1, state = 'pending', response = NULL, \
                     created_at = $2 WHERE caller = $3 AND account_id = $4 AND operation = $5 AND key = $6 \
                     AND created_at = $7",
                )
                .bind(request_hash.to_owned())
                .bind(stamp(now))
                .bind(scope.caller.clone())
                .bind(scope.account_id.clone())
                .bind(scope.operation.clone())
                .bind(scope.key.clone())
                .bind(created_at)
                .execute(&mut *tx)
                .await?;
                if taken.rows_affected() == 1 {
                    IdempotencyState::Claimed
                } else {
                    IdempotencyState::InProgress {
                        request_hash: request_hash.to_owned(),
                    }
                }
            } else {
                match (state.as_str(), response) {
                    ("done", Some(response)) => IdempotencyState::Done {
                        request_hash: stored_hash,
                        response: serde_json::from_str(&response)
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    },
                    _ => IdempotencyState::InProgress {
                        request_hash: stored_hash,
                    },
                }
            }
        };
        tx.commit().await?;
        Ok(state)
    }

    async fn purge_idempotency_keys(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let purged = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(stamp(before))
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(purged.rows_affected())
    }

    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE caller = $1 AND account_id = $2 AND operation = $3 AND key = $4 \
             AND state = 'pending'",
        )
        .bind(scope.caller.clone())
        .bind(scope.account_id.clone())
        .bind(scope.operation.clone())
        .bind(scope.key.clone())
        .execute(&mut *self.writer.acquire().await?)
        .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .fetch_all(&mut *self.reader.acquire().await?)
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        match self.backend {
            Backend::Postgres => vec![self.writer.stats()],
            Backend::Sqlite => vec![self.writer.stats(), self.reader.stats()],
        }
    }
}
