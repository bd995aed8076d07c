//! Groups: [`GroupStore`], the storage the service's group operations
//! need, on both databases. A group is stored as its JSON document (less
//! its members) beside the columns queries need: the account, the
//! case-folded name (unique per account), a lowercase search text and the
//! `resource_version`. Its members are rows of `group_members`, each naming
//! a user of the group's account; deleting a user removes those rows and
//! moves each group it leaves to a new version, in the same transaction.

mod postgres;
mod sqlite;

use std::future::Future;

use serde_json::Value;
use users_api::names::group;

pub use postgres::PgLockedGroup;
pub use sqlite::SqliteLockedGroup;

use super::{IdempotencyScope, SqlStore, StoreError};

/// A stored group.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    /// Insertion order, the list cursor.
    pub seq: i64,
    /// The group's id.
    pub id: String,
    /// Its version.
    pub resource_version: i64,
    /// The group's JSON document, members and version left out.
    pub doc: Value,
    /// The ids of its members, ascending.
    pub members: Vec<String>,
}

/// What a write of a group stores.
#[derive(Debug, Clone)]
pub struct GroupRow {
    /// The tenant.
    pub account_id: String,
    /// The group's id.
    pub id: String,
    /// The version this write creates.
    pub resource_version: i64,
    /// The document, members left out.
    pub doc: Value,
    /// The ids of its members.
    pub members: Vec<String>,
}

impl GroupRow {
    fn name(&self) -> &str {
        self.doc[group::NAME].as_str().unwrap_or_default()
    }

    fn name_key(&self) -> String {
        name_key(self.name())
    }

    fn search_text(&self) -> String {
        format!(
            "{} {}",
            self.name(),
            self.doc[group::DESCRIPTION].as_str().unwrap_or_default()
        )
        .to_lowercase()
    }
}

/// A group name as uniqueness compares it: without regard to case (Unicode
/// lowercase, so that both databases agree).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A group as a member's `groups` names it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRef {
    /// The group's id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
}

impl GroupRef {
    fn of(id: String, doc: &Value) -> Self {
        Self {
            id,
            name: doc[group::NAME].as_str().map(str::to_owned),
        }
    }
}

/// Each member's groups from `(user id, group)` rows in insertion order,
/// at most `limit` each.
fn by_member(
    rows: impl IntoIterator<Item = (String, GroupRef)>,
    limit: usize,
) -> std::collections::HashMap<String, Vec<GroupRef>> {
    let mut out: std::collections::HashMap<String, Vec<GroupRef>> =
        std::collections::HashMap::new();
    for (user, group) in rows {
        let groups = out.entry(user).or_default();
        if groups.len() < limit {
            groups.push(group);
        }
    }
    out
}

/// Filters of a list of groups.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Only groups this user is a member of.
    pub member: Option<String>,
    /// Only groups whose name or description contains this text, any case.
    pub text: Option<String>,
}

/// The storage the service's group operations need.
pub trait GroupStore: Send + Sync + 'static {
    /// A group held for a read-modify-write; see [`GroupStore::lock_group`].
    type LockedGroup: LockedGroup;

    /// Inserts a group with its members, and when `idempotency` is given
    /// marks that key done with `response`, in one transaction. A member
    /// that is no user of the account is [`StoreError::UnknownMember`] and
    /// nothing is written.
    fn insert_group(
        &self,
        row: GroupRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> impl Future<Output = Result<StoredGroup, StoreError>> + Send;
    /// A group of the account, with its members.
    fn get_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<StoredGroup>, StoreError>> + Send;
    /// Groups of the account after `after_seq`, in insertion order.
    fn list_groups(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &GroupFilter,
    ) -> impl Future<Output = Result<Vec<StoredGroup>, StoreError>> + Send;
    /// The groups of the account meeting `query` (a page of them, as it
    /// sorts and skips), with their members, and how many meet it in all.
    fn query_groups(
        &self,
        account_id: &str,
        query: &super::query::Query,
    ) -> impl Future<Output = Result<(i64, Vec<StoredGroup>), StoreError>> + Send;
    /// The groups each of `user_ids` is a member of, in insertion order,
    /// at most `limit` each: a page of users' `groups` in one query. A user
    /// in no group has no entry.
    fn groups_of_users(
        &self,
        account_id: &str,
        user_ids: &[String],
        limit: usize,
    ) -> impl Future<Output = Result<std::collections::HashMap<String, Vec<GroupRef>>, StoreError>> + Send;
    /// The group read inside a write transaction: other writers of it wait
    /// until the handle is written or dropped (dropping rolls back).
    fn lock_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::LockedGroup>, StoreError>> + Send;
    /// Deletes the group if it is at `expected_version` (any version when
    /// `None`); its members stay.
    fn delete_group(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A group read inside a write transaction, see [`GroupStore::lock_group`].
pub trait LockedGroup: Send {
    /// The group as it is now.
    fn current(&self) -> &StoredGroup;
    /// Writes the new version (the document, and the members added and
    /// removed) and commits.
    fn write(self, row: GroupRow) -> impl Future<Output = Result<StoredGroup, StoreError>> + Send;
}

/// The members `row` has that `current` has not, and those it has not.
fn member_changes<'a>(current: &'a [String], row: &'a GroupRow) -> (Vec<&'a str>, Vec<&'a str>) {
    let added = row
        .members
        .iter()
        .filter(|m| !current.contains(m))
        .map(String::as_str)
        .collect();
    let removed = current
        .iter()
        .filter(|m| !row.members.contains(m))
        .map(String::as_str)
        .collect();
    (added, removed)
}

/// The SQL both stores run as written.
mod sql {
    pub(super) const INSERT_GROUP: &str = "INSERT INTO user_groups (account_id, id, name_key, \
         search_text, resource_version, doc) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING seq, id, resource_version, doc";
    pub(super) const SELECT_GROUP: &str = "SELECT seq, id, resource_version, doc \
         FROM user_groups WHERE account_id = $1 AND id = $2";
    pub(super) const UPDATE_GROUP: &str = "UPDATE user_groups SET name_key = $1, search_text = $2, \
         resource_version = $3, doc = $4 WHERE account_id = $5 AND id = $6 AND resource_version = $7 \
         RETURNING seq, id, resource_version, doc";
    pub(super) const VERSION_OF: &str =
        "SELECT resource_version FROM user_groups WHERE account_id = $1 AND id = $2";
    /// A member is added only when it is a user of the group's account.
    pub(super) const ADD_MEMBER: &str = "INSERT INTO group_members (group_id, user_id) \
         SELECT $1, id FROM users WHERE account_id = $2 AND id = $3";
    pub(super) const REMOVE_MEMBER: &str =
        "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2";
    pub(super) const MEMBERS: &str =
        "SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id";
    pub(super) const DELETE_GROUP: &str =
        "DELETE FROM user_groups WHERE account_id = $1 AND id = $2";
}

/// What a user's deletion does to its groups, run in the deletion's
/// transaction before the user's row goes (and with it, by cascade, its
/// memberships): each group it leaves moves to a new version.
pub(super) const BUMP_GROUPS_OF_USER: &str = "UPDATE user_groups SET resource_version = resource_version + 1 \
     WHERE id IN (SELECT group_id FROM group_members WHERE user_id = $1)";

/// A group held by a [`SqlStore`]'s write transaction.
#[derive(Debug)]
pub enum SqlLockedGroup {
    /// On SQLite.
    Sqlite(SqliteLockedGroup),
    /// On PostgreSQL.
    Postgres(PgLockedGroup),
}

impl LockedGroup for SqlLockedGroup {
    fn current(&self) -> &StoredGroup {
        match self {
            Self::Sqlite(locked) => locked.current(),
            Self::Postgres(locked) => locked.current(),
        }
    }

    async fn write(self, row: GroupRow) -> Result<StoredGroup, StoreError> {
        match self {
            Self::Sqlite(locked) => locked.write(row).await,
            Self::Postgres(locked) => locked.write(row).await,
        }
    }
}

impl GroupStore for SqlStore {
    type LockedGroup = SqlLockedGroup;

    async fn insert_group(
        &self,
        row: GroupRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredGroup, StoreError> {
        match self {
            Self::Sqlite(store) => store.insert_group(row, idempotency).await,
            Self::Postgres(store) => store.insert_group(row, idempotency).await,
        }
    }

    async fn get_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        match self {
            Self::Sqlite(store) => store.get_group(account_id, id).await,
            Self::Postgres(store) => store.get_group(account_id, id).await,
        }
    }

    async fn list_groups(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &GroupFilter,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        match self {
            Self::Sqlite(store) => {
                store
                    .list_groups(account_id, after_seq, limit, filter)
                    .await
            }
            Self::Postgres(store) => {
                store
                    .list_groups(account_id, after_seq, limit, filter)
                    .await
            }
        }
    }

    async fn query_groups(
        &self,
        account_id: &str,
        query: &super::query::Query,
    ) -> Result<(i64, Vec<StoredGroup>), StoreError> {
        match self {
            Self::Sqlite(store) => store.query_groups(account_id, query).await,
            Self::Postgres(store) => store.query_groups(account_id, query).await,
        }
    }

    async fn groups_of_users(
        &self,
        account_id: &str,
        user_ids: &[String],
        limit: usize,
    ) -> Result<std::collections::HashMap<String, Vec<GroupRef>>, StoreError> {
        match self {
            Self::Sqlite(store) => store.groups_of_users(account_id, user_ids, limit).await,
            Self::Postgres(store) => store.groups_of_users(account_id, user_ids, limit).await,
        }
    }

    async fn lock_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<SqlLockedGroup>, StoreError> {
        Ok(match self {
            Self::Sqlite(store) => store
                .lock_group(account_id, id)
                .await?
                .map(SqlLockedGroup::Sqlite),
            Self::Postgres(store) => store
                .lock_group(account_id, id)
                .await?
                .map(SqlLockedGroup::Postgres),
        })
    }

    async fn delete_group(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(store) => store.delete_group(account_id, id, expected_version).await,
            Self::Postgres(store) => store.delete_group(account_id, id, expected_version).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_changes_are_the_two_differences() {
        let row = GroupRow {
            account_id: "a".into(),
            id: "g".into(),
            resource_version: 2,
            doc: Value::Null,
            members: vec!["b".into(), "c".into()],
        };
        let current = ["a".to_owned(), "b".to_owned()];
        assert_eq!(member_changes(&current, &row), (vec!["c"], vec!["a"]));
        assert_eq!(name_key("Ops TEAM"), "ops team");
    }
}
