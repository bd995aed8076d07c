//! Storage: the small [`Store`] trait the service uses, and its two native
//! implementations over sqlx: [`SqliteStore`] (the embedded default: WAL,
//! `synchronous=NORMAL`, one writer connection and a pool of readers) and
//! [`PgStore`] (one pool; `jsonb` documents, `uuid` ids, a trigram index for
//! text search). Each has its own `sqlx::migrate!` migrations and its own
//! SQL. [`SqlStore`] picks one from a database URL.
//!
//! A user is stored as its JSON document beside the columns queries need:
//! the account, the case-normalized email (unique per account), the status,
//! a lowercase search text, and the `resource_version` that optimistic
//! concurrency compares in SQL.

mod groups;
mod postgres;
pub mod query;
mod sqlite;
mod url;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::Value;
use users_api::names::{self, user};
use users_api::runtime::decode::FromText;
use users_api::types::UserStatus;

pub use groups::{
    GroupFilter, GroupRef, GroupRow, GroupStore, LockedGroup, PgLockedGroup, SqlLockedGroup,
    SqliteLockedGroup, StoredGroup, name_key,
};
pub use postgres::{PgLocked, PgStore};
pub use sqlite::{SqliteLocked, SqliteStore};
pub use url::DatabaseUrl;

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
    /// What this write does to the user's uploaded image.
    pub avatar: AvatarChange,
}

/// A user's uploaded profile image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    /// Its media type, as read from its bytes (`image/png`).
    pub media_type: String,
    /// The image.
    pub image: bytes::Bytes,
}

/// What a write does to the user's uploaded image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AvatarChange {
    /// Leaves it as it is.
    #[default]
    Keep,
    /// Stores this one in place of any before it.
    Set(Avatar),
    /// Removes it.
    Remove,
}

impl UserRow {
    fn email_key(&self) -> String {
        email_key(self.doc[user::EMAIL].as_str().unwrap_or_default())
    }

    fn status(&self) -> String {
        self.doc[user::STATUS]
            .as_str()
            .unwrap_or(UserStatus::Active.as_text())
            .to_owned()
    }

    fn search_text(&self) -> String {
        let name = &self.doc[user::NAME];
        format!(
            "{} {} {}",
            name[names::name::FIRST_NAME].as_str().unwrap_or_default(),
            name[names::name::LAST_NAME].as_str().unwrap_or_default(),
            self.doc[user::EMAIL].as_str().unwrap_or_default()
        )
        .to_lowercase()
    }
}

/// An email address as uniqueness compares it: as people read it. NFKC
/// folds compatibility forms (a fullwidth `ｋ` is `k`), Unicode lowercase
/// folds case (here, so that SQLite's ASCII-only folding and PostgreSQL's
/// agree), and each character outside ASCII is replaced by its confusable
/// skeleton (UTS #39: a Cyrillic `а` is `a`; default-ignorable characters
/// such as zero-width spaces go). ASCII is left as it is: two ASCII
/// addresses (`modern@`, `modem@`) are never taken for one another.
pub fn email_key(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded = email.trim().nfkc().collect::<String>().to_lowercase();
    if folded.is_ascii() {
        return folded;
    }
    let mut skeleton = String::with_capacity(folded.len());
    let mut buffer = [0; 4];
    for c in folded.chars() {
        if c.is_ascii() {
            skeleton.push(c);
        } else {
            skeleton.extend(unicode_security::skeleton(c.encode_utf8(&mut buffer)));
        }
    }
    skeleton.nfkc().collect::<String>().to_lowercase()
}

/// Recomputes, in one transaction, the email keys that [`email_key`] now
/// computes otherwise (keys stored before it folded look-alikes); either
/// store calls it when it connects.
async fn rekey_emails<DB>(pool: &sqlx::Pool<DB>) -> anyhow::Result<()>
where
    DB: sqlx::Database,
    (i64, String): for<'r> sqlx::FromRow<'r, DB::Row>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let rows: Vec<(i64, String)> = sqlx::query_as(sql::EMAIL_KEYS).fetch_all(pool).await?;
    let stale: Vec<(i64, String)> = rows
        .into_iter()
        .filter_map(|(seq, key)| {
            let now = email_key(&key);
            (now != key).then_some((seq, now))
        })
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for (seq, key) in stale.iter().cloned() {
        sqlx::query(sql::SET_EMAIL_KEY)
            .bind(key)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(|err| rekey_clash(seq, err))?;
    }
    tx.commit().await?;
    tracing::info!(users = stale.len(), "email keys recomputed");
    Ok(())
}

/// The key named `name` in `server_keys`: `offered` when none is stored
/// yet, else the one stored first (the insert is a no-op on a conflict, so
/// every replica agrees on one key); either store calls it.
async fn server_key_in<DB>(
    pool: &sqlx::Pool<DB>,
    name: &str,
    offered: &[u8],
) -> Result<Vec<u8>, sqlx::Error>
where
    DB: sqlx::Database,
    (Vec<u8>,): for<'r> sqlx::FromRow<'r, DB::Row>,
    Vec<u8>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let mut tx = pool.begin().await?;
    sqlx::query(sql::OFFER_SERVER_KEY)
        .bind(name.to_owned())
        .bind(offered.to_vec())
        .execute(&mut *tx)
        .await?;
    let (key,): (Vec<u8>,) = sqlx::query_as(sql::SERVER_KEY)
        .bind(name.to_owned())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(key)
}

/// The error of a re-keying that found two users of an account whose
/// addresses now compare equal: the server does not start, and says which.
fn rekey_clash(seq: i64, err: sqlx::Error) -> anyhow::Error {
    if is_unique_violation(&err) {
        anyhow::anyhow!(
            "the user at seq {seq} has an email address that another user of its account \
             shares once look-alike characters are folded; change one of the two and start again"
        )
    } else {
        err.into()
    }
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
    /// Another group of the account has the name.
    #[error("the group name is taken")]
    NameTaken,
    /// A member named for a group is no user of its account.
    #[error("{0} is no user of the account")]
    UnknownMember(String),
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

/// A time as SQLite's idempotency records store it: RFC 3339 in UTC with
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

/// The storage the service needs: users here, groups in [`GroupStore`].
pub trait Store: GroupStore + Send + Sync + 'static {
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
    /// The uploaded image of a user of the account, with the user's version
    /// read in the same statement; `None` when there is no such user or it
    /// has no image.
    fn avatar(
        &self,
        account_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<(i64, Avatar)>, StoreError>> + Send;
    /// Users of the account after `after_seq`, in insertion order.
    fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> impl Future<Output = Result<Vec<StoredUser>, StoreError>> + Send;
    /// The users of the account meeting `query` (a page of them, as it
    /// sorts and skips), and how many meet it in all.
    fn query_users(
        &self,
        account_id: &str,
        query: &query::Query,
    ) -> impl Future<Output = Result<(i64, Vec<StoredUser>), StoreError>> + Send;
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

/// The SQL both stores run as written (each binds its own types: text or
/// `uuid` ids, text or `jsonb` documents).
mod sql {
    pub(super) const INSERT_USER: &str = "INSERT INTO users (account_id, id, email_key, status, search_text, \
         resource_version, doc, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING seq, id, resource_version, doc, password_hash";
    pub(super) const SELECT_USER: &str = "SELECT seq, id, resource_version, doc, password_hash \
         FROM users WHERE account_id = $1 AND id = $2";
    pub(super) const UPDATE_USER: &str = "UPDATE users SET email_key = $1, status = $2, search_text = $3, \
         resource_version = $4, doc = $5, password_hash = COALESCE($6, password_hash) \
         WHERE account_id = $7 AND id = $8 AND resource_version = $9 \
         RETURNING seq, id, resource_version, doc, password_hash";
    pub(super) const SELECT_AVATAR: &str = "SELECT u.resource_version, a.media_type, a.image \
         FROM users u JOIN avatars a ON a.user_id = u.id WHERE u.account_id = $1 AND u.id = $2";
    pub(super) const PUT_AVATAR: &str = "INSERT INTO avatars (user_id, media_type, image) \
         VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
         SET media_type = excluded.media_type, image = excluded.image";
    pub(super) const DELETE_AVATAR: &str = "DELETE FROM avatars WHERE user_id = $1";
    pub(super) const VERSION_OF: &str =
        "SELECT resource_version FROM users WHERE account_id = $1 AND id = $2";
    pub(super) const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (caller, account_id, operation, key, \
         request_hash, state, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT DO NOTHING";
    pub(super) const MARK_KEY_DONE: &str = "UPDATE idempotency_keys SET state = 'done', response = $1 \
         WHERE caller = $2 AND account_id = $3 AND operation = $4 AND key = $5";
    pub(super) const RELEASE_KEY: &str = "DELETE FROM idempotency_keys WHERE caller = $1 AND account_id = $2 \
         AND operation = $3 AND key = $4 AND state = 'pending'";
    pub(super) const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE created_at < $1";
    pub(super) const EMAIL_KEYS: &str = "SELECT seq, email_key FROM users";
    pub(super) const SET_EMAIL_KEY: &str = "UPDATE users SET email_key = $1 WHERE seq = $2";
    pub(super) const OFFER_SERVER_KEY: &str =
        "INSERT INTO server_keys (name, key) VALUES ($1, $2) ON CONFLICT DO NOTHING";
    pub(super) const SERVER_KEY: &str = "SELECT key FROM server_keys WHERE name = $1";
}

/// How long a request waits for a database connection before it fails.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether an error is a unique-constraint violation.
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The LIKE pattern of a text search: lowercased, wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Whether an idempotency record claimed `age` ago, still `pending` or
/// not, may be claimed afresh: it expired, or its request died while it was
/// pending. Every [`Store`] judges keys by this rule.
pub fn reclaimable(pending: bool, age: chrono::TimeDelta) -> bool {
    let age = age.to_std().unwrap_or_default();
    age >= IDEMPOTENCY_TTL || (pending && age >= PENDING_TAKEOVER)
}

/// The state of a record that is not [`reclaimable`].
fn recorded_state(state: &str, request_hash: String, response: Option<Value>) -> IdempotencyState {
    match (state, response) {
        ("done", Some(response)) => IdempotencyState::Done {
            request_hash,
            response,
        },
        _ => IdempotencyState::InProgress { request_hash },
    }
}

/// A sqlx pool that counts how often, and how long, acquiring a connection
/// waited.
#[derive(Debug)]
struct Pool<DB: sqlx::Database> {
    name: &'static str,
    pool: sqlx::Pool<DB>,
    counters: Arc<PoolCounters>,
}

impl<DB: sqlx::Database> Clone for Pool<DB> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            pool: self.pool.clone(),
            counters: self.counters.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct PoolCounters {
    acquires: AtomicU64,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
}

impl<DB: sqlx::Database> Pool<DB> {
    fn new(name: &'static str, pool: sqlx::Pool<DB>) -> Self {
        Self {
            name,
            pool,
            counters: Arc::default(),
        }
    }

    /// A connection: an idle one at once, else one waited for (and counted).
    async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
        self.counters.acquires.fetch_add(1, Ordering::Relaxed);
        match self.pool.try_acquire() {
            Some(conn) => Ok(conn),
            None => self.waited(self.pool.acquire()).await,
        }
    }

    /// A transaction on a connection acquired as [`Pool::acquire`] does.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
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

/// The store a database URL names: `sqlite:...` or `postgres://...`.
#[derive(Debug, Clone)]
pub enum SqlStore {
    /// An embedded SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL server.
    Postgres(PgStore),
}

impl SqlStore {
    /// Connects to `url` (`sqlite:...` or `postgres://...`) and migrates.
    /// An error names the database by its [`DatabaseUrl`], which never
    /// prints a password.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let named = DatabaseUrl::new(url);
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgStore::connect(url).await.map(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            SqliteStore::connect(url).await.map(Self::Sqlite)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://, not {named}")
        };
        // sqlx's errors do not quote the URL, but an error from anywhere
        // below is checked all the same: it is printed at start-up.
        store.map_err(|err| named.scrub(err))
    }

    /// The 256-bit key the server keeps under `name` in the database,
    /// made at random the first time it is asked for: every server on the
    /// database shares it, and it outlives restarts.
    pub async fn server_key(&self, name: &str) -> anyhow::Result<[u8; 32]> {
        let offered: [u8; 32] = rand::random();
        let key: Vec<u8> = match self {
            Self::Sqlite(store) => server_key_in(store.write_pool(), name, &offered).await?,
            Self::Postgres(store) => server_key_in(store.write_pool(), name, &offered).await?,
        };
        key.try_into()
            .map_err(|_| anyhow::anyhow!("the server key {name} is not 32 bytes"))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(store) => store.close().await,
            Self::Postgres(store) => store.close().await,
        }
    }
}

/// A user held by a [`SqlStore`]'s write transaction.
#[derive(Debug)]
pub enum SqlLocked {
    /// On SQLite.
    Sqlite(SqliteLocked),
    /// On PostgreSQL.
    Postgres(PgLocked),
}

impl LockedUser for SqlLocked {
    fn current(&self) -> &StoredUser {
        match self {
            Self::Sqlite(locked) => locked.current(),
            Self::Postgres(locked) => locked.current(),
        }
    }

    async fn write(self, row: UserRow) -> Result<StoredUser, StoreError> {
        match self {
            Self::Sqlite(locked) => locked.write(row).await,
            Self::Postgres(locked) => locked.write(row).await,
        }
    }
}

/// Calls the same method on whichever store it is.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            SqlStore::Sqlite($store) => $call,
            SqlStore::Postgres($store) => $call,
        }
    };
}

impl Store for SqlStore {
    type Locked = SqlLocked;

    async fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredUser, StoreError> {
        delegate!(self, store => store.insert(row, idempotency).await)
    }

    async fn avatar(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<(i64, Avatar)>, StoreError> {
        delegate!(self, store => store.avatar(account_id, id).await)
    }

    async fn get(&self, account_id: &str, id: &str) -> Result<Option<StoredUser>, StoreError> {
        delegate!(self, store => store.get(account_id, id).await)
    }

    async fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> Result<Vec<StoredUser>, StoreError> {
        delegate!(self, store => store.list(account_id, after_seq, limit, filter).await)
    }

    async fn query_users(
        &self,
        account_id: &str,
        query: &query::Query,
    ) -> Result<(i64, Vec<StoredUser>), StoreError> {
        delegate!(self, store => store.query_users(account_id, query).await)
    }

    async fn lock(&self, account_id: &str, id: &str) -> Result<Option<SqlLocked>, StoreError> {
        match self {
            Self::Sqlite(store) => Ok(store.lock(account_id, id).await?.map(SqlLocked::Sqlite)),
            Self::Postgres(store) => Ok(store.lock(account_id, id).await?.map(SqlLocked::Postgres)),
        }
    }

    async fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.delete(account_id, id, expected_version).await)
    }

    async fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        request_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IdempotencyState, StoreError> {
        delegate!(self, store => store.claim_idempotency_key(scope, request_hash, now).await)
    }

    async fn purge_idempotency_keys(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        delegate!(self, store => store.purge_idempotency_keys(before).await)
    }

    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        delegate!(self, store => store.release_idempotency_key(scope).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, store => store.ping().await)
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        delegate!(self, store => store.pool_stats())
    }
}
