//! [`GroupStore`] on SQLite: writes on the one writer connection, reads on
//! the readers; documents are text.

use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{
    GroupFilter, GroupRef, GroupRow, GroupStore, LockedGroup, StoredGroup, by_member,
    member_changes, sql,
};
use crate::store::sqlite::why_not_written;
use crate::store::{
    IdempotencyScope, SqliteStore, StoreError, is_unique_violation, like_pattern, sql as user_sql,
};

/// A group held in the writer's transaction.
#[derive(Debug)]
pub struct SqliteLockedGroup {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    current: StoredGroup,
}

fn group_from_row(row: &SqliteRow, members: Vec<String>) -> Result<StoredGroup, StoreError> {
    let doc: String = row.try_get("doc")?;
    Ok(StoredGroup {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        resource_version: row.try_get("resource_version")?,
        doc: serde_json::from_str(&doc).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        members,
    })
}

async fn members_of(
    conn: &mut sqlx::SqliteConnection,
    group_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(sql::MEMBERS)
        .bind(group_id.to_owned())
        .fetch_all(conn)
        .await?)
}

/// Adds and removes members in `tx`; a member that is no user of the
/// account is [`StoreError::UnknownMember`].
async fn change_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    row: &GroupRow,
    current: &[String],
) -> Result<(), StoreError> {
    let (added, removed) = member_changes(current, row);
    for member in removed {
        sqlx::query(sql::REMOVE_MEMBER)
            .bind(row.id.clone())
            .bind(member.to_owned())
            .execute(&mut **tx)
            .await?;
    }
    for member in added {
        let inserted = sqlx::query(sql::ADD_MEMBER)
            .bind(row.id.clone())
            .bind(row.account_id.clone())
            .bind(member.to_owned())
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

impl LockedGroup for SqliteLockedGroup {
    fn current(&self) -> &StoredGroup {
        &self.current
    }

    async fn write(mut self, row: GroupRow) -> Result<StoredGroup, StoreError> {
        let updated = sqlx::query(sql::UPDATE_GROUP)
            .bind(row.name_key())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(row.doc.to_string())
            .bind(row.account_id.clone())
            .bind(row.id.clone())
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
                        &row.id,
                    )
                    .await);
                }
            },
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken),
            Err(err) => return Err(err.into()),
        };
        change_members(&mut self.tx, &row, &self.current.members).await?;
        let stored = group_from_row(&found, sorted(row.members))?;
        self.tx.commit().await?;
        Ok(stored)
    }
}

impl GroupStore for SqliteStore {
    type LockedGroup = SqliteLockedGroup;

    async fn insert_group(
        &self,
        row: GroupRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredGroup, StoreError> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(sql::INSERT_GROUP)
            .bind(row.account_id.clone())
            .bind(row.id.clone())
            .bind(row.name_key())
            .bind(row.search_text())
            .bind(row.resource_version)
            .bind(row.doc.to_string())
            .fetch_one(&mut *tx)
            .await;
        let found = match inserted {
            Ok(found) => found,
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken),
            Err(err) => return Err(err.into()),
        };
        change_members(&mut tx, &row, &[]).await?;
        if let Some((scope, response)) = idempotency {
            sqlx::query(user_sql::MARK_KEY_DONE)
                .bind(response.to_string())
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
        // One read transaction, so the group and its members agree; read to
        // the end, as `SqliteStore::get` explains.
        let mut tx = self.reader.begin().await?;
        let found = sqlx::query(sql::SELECT_GROUP)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *tx)
            .await?;
        let Some(row) = found.first() else {
            return Ok(None);
        };
        let members = members_of(&mut tx, id).await?;
        let stored = group_from_row(row, members)?;
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
        let mut tx = self.reader.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, id, resource_version, doc FROM user_groups \
             WHERE account_id = $1 AND seq > $2 \
             AND ($3 IS NULL OR id IN (SELECT group_id FROM group_members WHERE user_id = $3)) \
             AND ($4 IS NULL OR search_text LIKE $4 ESCAPE '\\') \
             ORDER BY seq LIMIT $5",
        )
        .bind(account_id.to_owned())
        .bind(after_seq)
        .bind(filter.member.clone())
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            let members = members_of(&mut tx, &id).await?;
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
        let dialect = query::Dialect::Sqlite;
        let rendered = query::render(&query.condition, dialect, "user_groups");
        let filter = format!(
            "FROM user_groups WHERE account_id = $1 AND ({})",
            rendered.sql
        );
        // The count, the page and its members from one snapshot.
        let mut tx = self.reader.begin().await?;
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
            let id: String = row.try_get("id")?;
            let members = members_of(&mut tx, &id).await?;
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
        if user_ids.is_empty() {
            return Ok(Default::default());
        }
        // The ids as one JSON array: one statement whatever the page size.
        let ids = serde_json::to_string(user_ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut tx = self.reader.begin().await?;
        let rows = sqlx::query(
            "SELECT m.user_id, g.id, g.doc FROM group_members m \
             JOIN user_groups g ON g.id = m.group_id \
             WHERE g.account_id = $1 AND m.user_id IN (SELECT value FROM json_each($2)) \
             ORDER BY g.seq",
        )
        .bind(account_id.to_owned())
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let doc: String = row.try_get("doc")?;
            let doc: Value =
                serde_json::from_str(&doc).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            found.push((
                row.try_get("user_id")?,
                GroupRef::of(row.try_get("id")?, &doc),
            ));
        }
        tx.commit().await?;
        Ok(by_member(found, limit))
    }

    async fn lock_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<SqliteLockedGroup>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(sql::SELECT_GROUP)
            .bind(account_id.to_owned())
            .bind(id.to_owned())
            .fetch_all(&mut *tx)
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let members = members_of(&mut tx, id).await?;
        let current = group_from_row(row, members)?;
        Ok(Some(SqliteLockedGroup { tx, current }))
    }

    async fn delete_group(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} AND ($3 IS NULL OR resource_version = $3)",
            sql::DELETE_GROUP
        )))
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
}
