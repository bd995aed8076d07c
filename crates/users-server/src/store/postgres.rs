//! [`PgStore`]: PostgreSQL, for several servers on one database. One pool;
//! documents are `jsonb`, ids `uuid`, idempotency times `timestamptz`; a
//! change locks its row (`SELECT ... FOR UPDATE`); inserts of one account
//! take a transaction-scoped advisory lock so that cursor numbers become
//! visible in order; text search has a trigram index.

use std::str::FromStr;

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;

use super::{
    ACQUIRE_TIMEOUT, Avatar, AvatarChange, IdempotencyScope, IdempotencyState, ListFilter,
    LockedUser, Pool, PoolStats, Store, StoreError, StoredUser, UserRow, is_unique_violation,
    like_pattern, reclaimable, recorded_state, sql,
};

/// [`Store`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: Pool<sqlx::Postgres>,
}

const COLUMNS: &str = "seq, id, resource_version, doc, password_hash";

/// The namespace of the advisory locks that order an account's inserts.
pub(super) const INSERT_LOCK: i32 = 7301;

impl PgStore {
    /// Connects to the database `url` names and migrates it.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // While the database is unreachable, fail requests in seconds
            // rather than queue them; the pool reconnects by itself once it
            // is back.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        super::rekey_emails(&pool).await?;
        Ok(Self {
            pool: Pool::new("main", pool),
        })
    }

    /// The pool writes go through.
    pub(super) fn write_pool(&self) -> &sqlx::Pool<sqlx::Postgres> {
        &self.pool.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.pool.close().await;
    }
}

/// A user whose row this transaction locked (`FOR UPDATE`).
#[derive(Debug)]
pub struct PgLocked {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    current: StoredUser,
}

/// An id as PostgreSQL stores it; a string that is no UUID names no user.
fn uuid(id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id).ok()
}

impl LockedUser for PgLocked {
    fn current(&self) -> &StoredUser {
        &self.current
    }

    async fn write(mut self, row: UserRow) -> Result<StoredUser, StoreError> {
        let id = uuid(&row.id).ok_or(StoreError::NotFound)?;
        let updated = sqlx::query(sql::UPDATE_USER)
            .bind(row.email_key())
            .bind(row.status())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(Json(&row.doc))
            .bind(row.password_hash.clone())
            .bind(row.account_id.clone())
            .bind(id)
            .bind(self.current.resource_version)
            .fetch_all(&mut *self.tx)
            .await;
        let stored = match updated {
            Ok(rows) => match rows.first() {
                Some(found) => user_from_row(found)?,
                None => {
                    return Err(why_not_written(
                        &mut self.tx,
                        sql::VERSION_OF,
                        &row.account_id,
                        id,
                    )
                    .await);
                }
            },
            Err(err) if is_unique_violation(&err) => return Err(StoreError::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        match row.avatar {
            AvatarChange::Keep => {}
            AvatarChange::Set(avatar) => {
                sqlx::query(sql::PUT_AVATAR)
                    .bind(id)
                    .bind(avatar.media_type)
                    .bind(avatar.image.as_ref())
                    .execute(&mut *self.tx)
                    .await?;
            }
            AvatarChange::Remove => {
                sqlx::query(sql::DELETE_AVATAR)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        Ok(stored)
    }
}

fn user_from_row(row: &PgRow) -> Result<StoredUser, StoreError> {
    let id: uuid::Uuid = row.try_get("id")?;
    let Json(doc): Json<Value> = row.try_get("doc")?;
    Ok(StoredUser {
        seq: row.try_get("seq")?,
        id: id.to_string(),
        resource_version: row.try_get("resource_version")?,
        doc,
        password_hash: row.try_get("password_hash")?,
    })
}

/// Why a conditional write touched no row: the user is at another version,
/// or it is not there.
pub(super) async fn why_not_written(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    version_of: &'static str,
    account_id: &str,
    id: uuid::Uuid,
) -> StoreError {
    let current: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(version_of)
        .bind(account_id.to_owned())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await;
    match current {
        Ok(Some(current)) => StoreError::VersionMismatch { current },
        Ok(None) => StoreError::NotFound,
        Err(err) => StoreError::Database(err),
    }
}

impl Store for PgStore {
    type Locked = PgLocked;

    async fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredUser, StoreError> {
        let id = uuid(&row.id).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Protocol(format!("{} is not a UUID", row.id)))
        })?;
        let mut tx = self.pool.begin().await?;
        // Cursors follow `seq`. A sequence hands out numbers in call order,
        // but transactions commit in any order, so a page could pass a
        // number whose row commits later. Inserts of one account (the scope
        // of a list) take this lock first: the next number is drawn only
        // after the previous insert committed, so rows become visible in
        // `seq` order.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(INSERT_LOCK)
            .bind(row.account_id.clone())
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(sql::INSERT_USER)
            .bind(row.account_id.clone())
            .bind(id)
            .bind(row.email_key())
            .bind(row.status())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(Json(&row.doc))
            .bind(row.password_hash.clone())
            .fetch_one(&mut *tx)
            .await;
        let stored = match inserted {
            Ok(found) => user_from_row(&found)?,
            Err(err) if is_unique_violation(&err) => return Err(StoreError::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        if let Some((scope, response)) = idempotency {
            sqlx::query(sql::MARK_KEY_DONE)
                .bind(Json(&response))
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
        let Some(id) = uuid(id) else {
            return Ok(None);
        };
        let found = sqlx::query(sql::SELECT_USER)
            .bind(account_id.to_owned())
            .bind(id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        found.as_ref().map(user_from_row).transpose()
    }

    async fn avatar(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<(i64, Avatar)>, StoreError> {
        let Some(id) = uuid(id) else {
            return Ok(None);
        };
        let found = sqlx::query(sql::SELECT_AVATAR)
            .bind(account_id.to_owned())
            .bind(id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let image: Vec<u8> = row.try_get("image")?;
        Ok(Some((
            row.try_get("resource_version")?,
            Avatar {
                media_type: row.try_get("media_type")?,
                image: image.into(),
            },
        )))
    }

    async fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> Result<Vec<StoredUser>, StoreError> {
        // Absent filters are NULL and match everything. Text is lowercased
        // here, as on SQLite, so both compare alike; the LIKE uses the
        // trigram index.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE account_id = $1 AND seq > $2 \
             AND ($3::text IS NULL OR email_key = $3) AND ($4::text IS NULL OR status = $4) \
             AND ($5::text IS NULL OR search_text LIKE $5 ESCAPE '\\') \
             ORDER BY seq LIMIT $6"
        )))
        .bind(account_id.to_owned())
        .bind(after_seq)
        .bind(filter.email.as_deref().map(super::email_key))
        .bind(filter.status.clone())
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(limit)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn query_users(
        &self,
        account_id: &str,
        query: &super::query::Query,
    ) -> Result<(i64, Vec<StoredUser>), StoreError> {
        let dialect = super::query::Dialect::Postgres;
        let rendered = super::query::render(&query.condition, dialect, "users");
        let filter = format!("FROM users WHERE account_id = $1 AND ({})", rendered.sql);
        let mut conn = self.pool.acquire().await?;
        let next = rendered.binds.len() + 2;
        let mut page = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} {filter} ORDER BY {} LIMIT ${next} OFFSET ${}",
            super::query::order_by(query.sort, dialect),
            next + 1
        )))
        .bind(account_id.to_owned());
        for value in &rendered.binds {
            page = page.bind(value.clone());
        }
        let rows = page
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&mut *conn)
            .await?;
        // The count, unless the page shows it: a first page shorter than
        // its limit holds every match (an identity provider's lookups).
        let total = if query.offset == 0 && (rows.len() as i64) < query.limit {
            rows.len() as i64
        } else {
            let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) {filter}"
            )))
            .bind(account_id.to_owned());
            for value in &rendered.binds {
                count = count.bind(value.clone());
            }
            count.fetch_one(&mut *conn).await?
        };
        Ok((
            total,
            rows.iter().map(user_from_row).collect::<Result<_, _>>()?,
        ))
    }

    async fn lock(&self, account_id: &str, id: &str) -> Result<Option<PgLocked>, StoreError> {
        let Some(id) = uuid(id) else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE account_id = $1 AND id = $2 FOR UPDATE"
        )))
        .bind(account_id.to_owned())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let current = user_from_row(&row)?;
        Ok(Some(PgLocked { tx, current }))
    }

    async fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let id = uuid(id).ok_or(StoreError::NotFound)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(super::groups::BUMP_GROUPS_OF_USER)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query(
            "DELETE FROM users WHERE account_id = $1 AND id = $2 \
             AND ($3::bigint IS NULL OR resource_version = $3)",
        )
        .bind(account_id.to_owned())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(why_not_written(&mut tx, sql::VERSION_OF, account_id, id).await);
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
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(sql::CLAIM_KEY)
            .bind(scope.caller.clone())
            .bind(scope.account_id.clone())
            .bind(scope.operation.clone())
            .bind(scope.key.clone())
            .bind(request_hash.to_owned())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let state = if claimed.rows_affected() == 1 {
            IdempotencyState::Claimed
        } else {
            // FOR UPDATE: concurrent claims of one key take turns here.
            let row = sqlx::query(
                "SELECT request_hash, state, response, created_at FROM idempotency_keys \
                 WHERE caller = $1 AND account_id = $2 AND operation = $3 AND key = $4 FOR UPDATE",
            )
            .bind(scope.caller.clone())
            .bind(scope.account_id.clone())
            .bind(scope.operation.clone())
            .bind(scope.key.clone())
            .fetch_one(&mut *tx)
            .await?;
            let stored_hash: String = row.try_get("request_hash")?;
            let state: String = row.try_get("state")?;
            let response: Option<Json<Value>> = row.try_get("response")?;
            let created_at: chrono::DateTime<chrono::Utc> = row.try_get("created_at")?;
            if reclaimable(state == "pending", now.signed_duration_since(created_at)) {
                sqlx::query(
                    "UPDATE idempotency_keys SET request_hash = $1, state = 'pending', response = NULL, \
                     created_at = $2 WHERE caller = $3 AND account_id = $4 AND operation = $5 AND key = $6",
                )
                .bind(request_hash.to_owned())
                .bind(now)
                .bind(scope.caller.clone())
                .bind(scope.account_id.clone())
                .bind(scope.operation.clone())
                .bind(scope.key.clone())
                .execute(&mut *tx)
                .await?;
                IdempotencyState::Claimed
            } else {
                recorded_state(&state, stored_hash, response.map(|Json(value)| value))
            }
        };
        tx.commit().await?;
        Ok(state)
    }

    async fn purge_idempotency_keys(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let purged = sqlx::query(sql::PURGE_KEYS)
            .bind(before)
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        Ok(purged.rows_affected())
    }

    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        sqlx::query(sql::RELEASE_KEY)
            .bind(scope.caller.clone())
            .bind(scope.account_id.clone())
            .bind(scope.operation.clone())
            .bind(scope.key.clone())
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        vec![self.pool.stats()]
    }
}
