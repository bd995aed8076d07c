//! [`GroupStore`] on PostgreSQL: a change locks its group's row (`SELECT
//! ... FOR UPDATE`); inserts of one account's groups take an advisory lock
//! so that cursor numbers become visible in order, as users' do; documents
//! are `jsonb`, ids `uuid`.

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

use super::{
    GroupFilter, GroupRef, GroupRow, GroupStore, LockedGroup, StoredGroup, by_member,
    member_changes, sql,
};
use crate::store::postgres::why_not_written;
use crate::store::{
    IdempotencyScope, PgStore, StoreError, is_unique_violation, like_pattern, sql as user_sql,
};

/// A group whose row this transaction locked (`FOR UPDATE`).
#[derive(Debug)]
pub struct PgLockedGroup {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    current: StoredGroup,
}

/// An id as PostgreSQL stores it; a string that is no UUID names nothing.
fn uuid(id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(id).ok()
}

fn group_from_row(row: &PgRow, members: Vec<String>) -> Result<StoredGroup, StoreError> {
    let id: uuid::Uuid = row.try_get("id")?;
    let Json(doc): Json<Value> = row.try_get("doc")?;
    Ok(StoredGroup {
        seq: row.try_get("seq")?,
        id: id.to_string(),
        resource_version: row.try_get("resource_version")?,
        doc,
        members,
    })
}

async fn members_of(
    conn: &mut sqlx::PgConnection,
    group_id: uuid::Uuid,
) -> Result<Vec<String>, StoreError> {
    let members: Vec<uuid::Uuid> = sqlx::query_scalar(sql::MEMBERS)
        .bind(group_id)
        .fetch_all(conn)
        .await?;
    Ok(members.iter().map(uuid::Uuid::to_string).collect())
}

/// Adds and removes members in `tx`; a member that is no user of the
/// account is [`StoreError::UnknownMember`].
async fn change_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    group_id: uuid::Uuid,
    row: &GroupRow,
    current: &[String],
) -> Result<(), StoreError> {
    let (added, removed) = member_changes(current, row);
    for member in removed {
        let Some(user) = uuid(member) else { continue };
        sqlx::query(sql::REMOVE_MEMBER)
            .bind(group_id)
            .bind(user)
            .execute(&mut **tx)
            .await?;
    }
    for member in added {
        let user = uuid(member).ok_or_else(|| StoreError::UnknownMember(member.to_owned()))?;
        let inserted = sqlx::query(sql::ADD_MEMBER)
            .bind(group_id)
            .bind(row.account_id.clone())
            .bind(user)
            .execute(&mut **tx)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::UnknownMember(member.to_owned()));
        }
    }
    Ok(())
}

fn sorted(mut members: Vec<String>) -> Vec<String> {
    members.sort();
    members
}

impl LockedGroup for PgLockedGroup {
    fn current(&self) -> &StoredGroup {
        &self.current
    }

    async fn write(mut self, row: GroupRow) -> Result<StoredGroup, StoreError> {
        let id = uuid(&row.id).ok_or(StoreError::NotFound)?;
        let updated = sqlx::query(sql::UPDATE_GROUP)
            .bind(row.name_key())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(Json(&row.doc))
            .bind(row.account_id.clone())
            .bind(id)
            .bind(self.current.resource_version)
            .fetch_all(&mut *self.tx)
            .await;
        let found = match updated {
            Ok(rows) => match rows.into_iter().next() {
                Some(found) => found,
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
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken),
            Err(err) => return Err(err.into()),
        };
        change_members(&mut self.tx, id, &row, &self.current.members).await?;
        let stored = group_from_row(&found, sorted(row.members))?;
        self.tx.commit().await?;
        Ok(stored)
    }
}

impl GroupStore for PgStore {
    type LockedGroup = PgLockedGroup;

    async fn insert_group(
        &self,
        row: GroupRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredGroup, StoreError> {
        let id = uuid(&row.id).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Protocol(format!("{} is not a UUID", row.id)))
        })?;
        let mut tx = self.pool.begin().await?;
        // Cursor numbers become visible in order, as `PgStore::insert`
        // explains: one account's group inserts take turns.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(crate::store::postgres::INSERT_LOCK)
            .bind(format!("{}\ngroups", row.account_id))
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(sql::INSERT_GROUP)
            .bind(row.account_id.clone())
            .bind(id)
            .bind(row.name_key())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(Json(&row.doc))
            .fetch_one(&mut *tx)
            .await;
        let found = match inserted {
            Ok(found) => found,
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken),
            Err(err) => return Err(err.into()),
        };
        change_members(&mut tx, id, &row, &[]).await?;
        if let Some((scope, response)) = idempotency {
            sqlx::query(user_sql::MARK_KEY_DONE)
                .bind(Json(&response))
                .bind(scope.caller)
                .bind(scope.account_id)
                .bind(scope.operation)
                .bind(scope.key)
                .execute(&mut *tx)
                .await?;
        }
        let stored = group_from_row(&found, sorted(row.members))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        let Some(id) = uuid(id) else {
            return Ok(None);
        };
        // One snapshot for the group and its members.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let found = sqlx::query(sql::SELECT_GROUP)
            .bind(account_id.to_owned())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let members = members_of(&mut tx, id).await?;
        let stored = group_from_row(&row, members)?;
        tx.commit().await?;
        Ok(Some(stored))
    }

    async fn list_groups(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &GroupFilter,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        let member = match &filter.member {
            Some(member) => match uuid(member) {
                Some(member) => Some(member),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT seq, id, resource_version, doc FROM user_groups \
             WHERE account_id = $1 AND seq > $2 \
             AND ($3::uuid IS NULL OR id IN (SELECT group_id FROM group_members WHERE user_id = $3)) \
             AND ($4::text IS NULL OR search_text LIKE $4 ESCAPE '\\') \
             ORDER BY seq LIMIT $5",
        )
        .bind(account_id.to_owned())
        .bind(after_seq)
        .bind(member)
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: uuid::Uuid = row.try_get("id")?;
            let members = members_of(&mut tx, id).await?;
            groups.push(group_from_row(row, members)?);
        }
        tx.commit().await?;
        Ok(groups)
    }

    async fn query_groups(
        &self,
        account_id: &str,
        query: &crate::store::query::Query,
    ) -> Result<(i64, Vec<StoredGroup>), StoreError> {
        use crate::store::query;
        let dialect = query::Dialect::Postgres;
        let rendered = query::render(&query.condition, dialect, "user_groups");
        let filter = format!(
            "FROM user_groups WHERE account_id = $1 AND ({})",
            rendered.sql
        );
        // The count, the page and its members from one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let next = rendered.binds.len() + 2;
        let mut page = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, id, resource_version, doc {filter} ORDER BY {} LIMIT ${next} OFFSET ${}",
            query::order_by(query.sort, dialect),
            next + 1
        )))
        .bind(account_id.to_owned());
        for value in &rendered.binds {
            page = page.bind(value.clone());
        }
        let rows = page
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&mut *tx)
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
            count.fetch_one(&mut *tx).await?
        };
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: uuid::Uuid = row.try_get("id")?;
            let members = members_of(&mut tx, id).await?;
            groups.push(group_from_row(row, members)?);
        }
        tx.commit().await?;
        Ok((total, groups))
    }

    async fn groups_of_users(
        &self,
        account_id: &str,
        user_ids: &[String],
        limit: usize,
    ) -> Result<std::collections::HashMap<String, Vec<GroupRef>>, StoreError> {
        let ids: Vec<uuid::Uuid> = user_ids.iter().filter_map(|id| uuid(id)).collect();
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT m.user_id, g.id, g.doc FROM group_members m \
             JOIN user_groups g ON g.id = m.group_id \
             WHERE g.account_id = $1 AND m.user_id = ANY($2) ORDER BY g.seq",
        )
        .bind(account_id.to_owned())
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let user: uuid::Uuid = row.try_get("user_id")?;
            let id: uuid::Uuid = row.try_get("id")?;
            let Json(doc): Json<Value> = row.try_get("doc")?;
            found.push((user.to_string(), GroupRef::of(id.to_string(), &doc)));
        }
        tx.commit().await?;
        Ok(by_member(found, limit))
    }

    async fn lock_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<PgLockedGroup>, StoreError> {
        let Some(id) = uuid(id) else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} FOR UPDATE",
            sql::SELECT_GROUP
        )))
        .bind(account_id.to_owned())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let members = members_of(&mut tx, id).await?;
        let current = group_from_row(&row, members)?;
        Ok(Some(PgLockedGroup { tx, current }))
    }

    async fn delete_group(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let id = uuid(id).ok_or(StoreError::NotFound)?;
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} AND ($3::bigint IS NULL OR resource_version = $3)",
            sql::DELETE_GROUP
        )))
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
}
