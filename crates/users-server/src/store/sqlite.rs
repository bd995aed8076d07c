//! [`SqliteStore`]: the embedded default. WAL with `synchronous=NORMAL`
//! (durable at each checkpoint, safe with WAL), one writer connection (so
//! writes, and the read-modify-write of a change, are serialized) and a pool
//! of readers beside it. Documents and times are text.

use std::str::FromStr;

use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use super::{
    ACQUIRE_TIMEOUT, Avatar, AvatarChange, IdempotencyScope, IdempotencyState, ListFilter,
    LockedUser, Pool, PoolStats, Store, StoreError, StoredUser, UserRow, is_unique_violation,
    like_pattern, reclaimable, recorded_state, sql, stamp,
};

/// [`Store`] on an SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) writer: Pool<sqlx::Sqlite>,
    pub(super) reader: Pool<sqlx::Sqlite>,
}

const COLUMNS: &str = "seq, id, resource_version, doc, password_hash";

impl SqliteStore {
    /// Opens (creating it if need be) the file `url` names and migrates it.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        super::rekey_emails(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer: Pool::new("writer", writer),
            reader: Pool::new("reader", reader),
        })
    }

    /// The pool writes go through.
    pub(super) fn write_pool(&self) -> &sqlx::Pool<sqlx::Sqlite> {
        &self.writer.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.writer.pool.close().await;
        self.reader.pool.close().await;
    }
}

/// A user held in the writer's transaction.
#[derive(Debug)]
pub struct SqliteLocked {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    current: StoredUser,
}

impl LockedUser for SqliteLocked {
    fn current(&self) -> &StoredUser {
        &self.current
    }

    async fn write(mut self, row: UserRow) -> Result<StoredUser, StoreError> {
        let updated = sqlx::query(sql::UPDATE_USER)
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
                None => {
                    return Err(why_not_written(
                        &mut self.tx,
                        sql::VERSION_OF,
                        &row.account_id,
                        &row.id,
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
                    .bind(row.id)
                    .bind(avatar.media_type)
                    .bind(avatar.image.as_ref())
                    .execute(&mut *self.tx)
                    .await?;
            }
            AvatarChange::Remove => {
                sqlx::query(sql::DELETE_AVATAR)
                    .bind(row.id)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        Ok(stored)
    }
}

fn user_from_row(row: &SqliteRow) -> Result<StoredUser, StoreError> {
    let doc: String = row.try_get("doc")?;
    Ok(StoredUser {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        resource_version: row.try_get("resource_version")?,
        doc: serde_json::from_str(&doc).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        password_hash: row.try_get("password_hash")?,
    })
}

/// Why a conditional write touched no row: the row is at another version
/// (which `version_of` reads: a user's, a group's), or it is not there.
pub(super) async fn why_not_written(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    version_of: &'static str,
    account_id: &str,
    id: &str,
) -> StoreError {
    let current: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(version_of)
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

impl Store for SqliteStore {
    type Locked = SqliteLocked;

    async fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredUser, StoreError> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(sql::INSERT_USER)
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
            sqlx::query(sql::MARK_KEY_DONE)
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
        // Read to the end (`fetch_all`, not `fetch_optional`): a statement
        // left unfinished keeps its read snapshot open, and later reads on
        // the connection would not see newer writes.
        let found = sqlx::query(sql::SELECT_USER)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *self.reader.acquire().await?)
            .await?;
        found.first().map(user_from_row).transpose()
    }

    async fn avatar(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<(i64, Avatar)>, StoreError> {
        let found = sqlx::query(sql::SELECT_AVATAR)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *self.reader.acquire().await?)
            .await?;
        let Some(row) = found.first() else {
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
        // Absent filters are NULL and match everything; LIKE runs on text
        // lowercased here (SQLite folds ASCII only), wildcards escaped. An
        // email is compared on its own, so that SQLite looks it up in the
        // (account_id, email_key) index rather than scanning the account
        // (`$3 IS NULL OR ...` hides the index from its planner).
        let email = if filter.email.is_some() {
            "email_key = $3"
        } else {
            "$3 IS NULL"
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE account_id = $1 AND seq > $2 \
             AND {email} AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR search_text LIKE $5 ESCAPE '\\') \
             ORDER BY seq LIMIT $6"
        )))
        .bind(account_id.to_owned())
        .bind(after_seq)
        .bind(filter.email.as_deref().map(super::email_key))
        .bind(filter.status.clone())
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(limit)
        .fetch_all(&mut *self.reader.acquire().await?)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn query_users(
        &self,
        account_id: &str,
        query: &super::query::Query,
    ) -> Result<(i64, Vec<StoredUser>), StoreError> {
        let dialect = super::query::Dialect::Sqlite;
        let rendered = super::query::render(&query.condition, dialect, "users");
        let filter = format!("FROM users WHERE account_id = $1 AND ({})", rendered.sql);
        let mut conn = self.reader.acquire().await?;
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

    async fn lock(&self, account_id: &str, id: &str) -> Result<Option<SqliteLocked>, StoreError> {
        // The one writer connection's transaction already excludes other
        // writers.
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(sql::SELECT_USER)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *tx)
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let current = user_from_row(row)?;
        Ok(Some(SqliteLocked { tx, current }))
    }

    async fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(super::groups::BUMP_GROUPS_OF_USER)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query(
            "DELETE FROM users WHERE account_id = $1 AND id = $2 AND ($3 IS NULL OR resource_version = $3)",
        )
        .bind(account_id.to_owned())
        .bind(id.to_owned())
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
        let mut tx = self.writer.begin().await?;
        let claimed = sqlx::query(sql::CLAIM_KEY)
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
            let claimed_at = chrono::DateTime::parse_from_rfc3339(&created_at)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            if reclaimable(state == "pending", now.signed_duration_since(claimed_at)) {
                // Claimed afresh, guarded by the record's old stamp so two
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
                let response = response
                    .map(|text| serde_json::from_str(&text))
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                recorded_state(&state, stored_hash, response)
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
            .bind(stamp(before))
            .execute(&mut *self.writer.acquire().await?)
            .await?;
        Ok(purged.rows_affected())
    }

    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        sqlx::query(sql::RELEASE_KEY)
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
        vec![self.writer.stats(), self.reader.stats()]
    }
}
