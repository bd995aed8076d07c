//! A Users API backend on storage of its own, proven by the conformance kit.
//!
//! The storage is in memory: `MemoryStore` implements the reference
//! service's `Store` and `GroupStore` traits (users, their uploaded images,
//! groups and their members, the optimistic-concurrency locks, idempotency
//! records), the reference `Service` runs on it, and
//! `users_api::router` serves it. The kit then runs every check in process.
//!
//! ```sh
//! cargo run -p users-conformance --example in_memory
//! ```
//!
//! `cargo test -p users-conformance` runs the same as a test.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};
use users_api::names::group;
use users_api::names::{self, user};
use users_conformance::{ClockControl, TokenIssuer};
use users_server::auth::JwtVerifier;
use users_server::service::{Service, Settings};
use users_server::store::query::{Field, Query, doc_text};
use users_server::store::{
    Avatar, AvatarChange, GroupFilter, GroupRef, GroupRow, GroupStore, IdempotencyScope,
    IdempotencyState, ListFilter, LockedGroup, LockedUser, Store, StoreError, StoredGroup,
    StoredUser, UserRow, email_key, name_key, reclaimable,
};

/// A user's field as the SQL stores read it.
fn user_field(user: &StoredUser, field: Field) -> Option<String> {
    match field {
        Field::Id => Some(user.id.clone()),
        Field::EmailKey => doc_text(&user.doc, &[user::EMAIL]).map(|e| email_key(&e)),
        Field::Status => doc_text(&user.doc, &[user::STATUS]),
        Field::NameKey => None,
        Field::Doc(path) => doc_text(&user.doc, path),
    }
}

/// A group's field as the SQL stores read it.
fn group_field(group: &StoredGroup, field: Field) -> Option<String> {
    match field {
        Field::Id => Some(group.id.clone()),
        Field::NameKey => doc_text(&group.doc, &[group::NAME]).map(|n| name_key(&n)),
        Field::EmailKey | Field::Status => None,
        Field::Doc(path) => doc_text(&group.doc, path),
    }
}

/// The total and the page of `found` a query asks for: sorted by its field
/// (absent values last) then insertion order, skipped and cut.
fn page<T: Clone>(
    mut found: Vec<&T>,
    query: &Query,
    field: impl Fn(&T, Field) -> Option<String>,
    seq: impl Fn(&T) -> i64,
) -> (i64, Vec<T>) {
    let total = found.len() as i64;
    found.sort_by(|a, b| {
        let by_field = match query.sort {
            Some((f, descending)) => {
                let (x, y) = (field(a, f), field(b, f));
                match (x, y) {
                    (Some(x), Some(y)) if descending => y.cmp(&x),
                    (Some(x), Some(y)) => x.cmp(&y),
                    (x, y) => x.is_none().cmp(&y.is_none()),
                }
            }
            None => std::cmp::Ordering::Equal,
        };
        by_field.then(seq(a).cmp(&seq(b)))
    });
    let page = found
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap_or(0))
        .take(usize::try_from(query.limit).unwrap_or(0))
        .cloned()
        .collect();
    (total, page)
}

const SECRET: &[u8] = b"in-memory-example-secret-32-byte";
const ISSUER: &str = "in-memory-example";
const AUDIENCE: &str = "users-api";

/// An idempotency record.
#[derive(Debug, Clone)]
struct KeyRecord {
    request_hash: String,
    response: Option<Value>,
    claimed_at: chrono::DateTime<chrono::Utc>,
}

type KeyId = (String, String, String, String);

#[derive(Debug, Default)]
struct Data {
    /// The last insertion number handed out.
    seq: i64,
    /// Users by account, then id.
    users: BTreeMap<String, BTreeMap<String, StoredUser>>,
    /// Uploaded images by user id.
    avatars: HashMap<String, Avatar>,
    /// The last group insertion number handed out.
    group_seq: i64,
    /// Groups by account, then id.
    groups: BTreeMap<String, BTreeMap<String, StoredGroup>>,
    keys: HashMap<KeyId, KeyRecord>,
}

impl Data {
    /// Whether another group of the account than `id` has the name.
    fn name_taken(&self, account: &str, id: &str, doc: &Value) -> bool {
        let wanted = name_key(doc[group::NAME].as_str().unwrap_or_default());
        self.groups.get(account).is_some_and(|groups| {
            groups.values().any(|other| {
                other.id != id
                    && name_key(other.doc[group::NAME].as_str().unwrap_or_default()) == wanted
            })
        })
    }

    /// The group `row` describes, checked: its name free, its members
    /// users of the account.
    fn group(&self, row: GroupRow, seq: i64) -> Result<StoredGroup, StoreError> {
        if self.name_taken(&row.account_id, &row.id, &row.doc) {
            return Err(StoreError::NameTaken);
        }
        let users = self.users.get(&row.account_id);
        if let Some(unknown) = row
            .members
            .iter()
            .find(|m| !users.is_some_and(|u| u.contains_key(*m)))
        {
            return Err(StoreError::UnknownMember(unknown.clone()));
        }
        let mut members = row.members;
        members.sort();
        Ok(StoredGroup {
            seq,
            id: row.id,
            resource_version: row.resource_version,
            doc: row.doc,
            members,
        })
    }

    /// Whether another user of the account than `id` has the email.
    fn email_taken(&self, account: &str, id: &str, doc: &Value) -> bool {
        let wanted = email_key(doc[user::EMAIL].as_str().unwrap_or_default());
        self.users.get(account).is_some_and(|users| {
            users.values().any(|other| {
                other.id != id
                    && email_key(other.doc[user::EMAIL].as_str().unwrap_or_default()) == wanted
            })
        })
    }
}

fn key_id(scope: &IdempotencyScope) -> KeyId {
    (
        scope.caller.clone(),
        scope.account_id.clone(),
        scope.operation.clone(),
        scope.key.clone(),
    )
}

/// Whether a stored user passes a list's filters.
fn matches(stored: &StoredUser, filter: &ListFilter) -> bool {
    let doc = &stored.doc;
    let email = doc[user::EMAIL].as_str().unwrap_or_default();
    if let Some(wanted) = &filter.email
        && email_key(wanted) != email_key(email)
    {
        return false;
    }
    if let Some(status) = &filter.status
        && doc[user::STATUS].as_str().unwrap_or("active") != status
    {
        return false;
    }
    if let Some(text) = &filter.text {
        let name = &doc[user::NAME];
        let haystack = format!(
            "{} {} {email}",
            name[names::name::FIRST_NAME].as_str().unwrap_or_default(),
            name[names::name::LAST_NAME].as_str().unwrap_or_default(),
        )
        .to_lowercase();
        if !haystack.contains(&text.to_lowercase()) {
            return false;
        }
    }
    true
}

/// Users and idempotency records in memory, behind one lock: a write holds
/// it from its read to its write, so writers of a user never interleave.
#[derive(Debug, Clone, Default)]
struct MemoryStore {
    data: Arc<Mutex<Data>>,
}

/// A user held for a read-modify-write: the whole store stays locked until
/// it is written or dropped.
struct MemoryLocked {
    data: OwnedMutexGuard<Data>,
    account: String,
    current: StoredUser,
}

impl LockedUser for MemoryLocked {
    fn current(&self) -> &StoredUser {
        &self.current
    }

    async fn write(mut self, row: UserRow) -> Result<StoredUser, StoreError> {
        if self.data.email_taken(&self.account, &row.id, &row.doc) {
            return Err(StoreError::EmailTaken);
        }
        let stored = StoredUser {
            seq: self.current.seq,
            id: row.id.clone(),
            resource_version: row.resource_version,
            doc: row.doc,
            password_hash: row.password_hash.or(self.current.password_hash.clone()),
        };
        match row.avatar {
            AvatarChange::Keep => {}
            AvatarChange::Set(avatar) => {
                self.data.avatars.insert(row.id.clone(), avatar);
            }
            AvatarChange::Remove => {
                self.data.avatars.remove(&row.id);
            }
        }
        self.data
            .users
            .entry(self.account.clone())
            .or_default()
            .insert(row.id, stored.clone());
        Ok(stored)
    }
}

impl Store for MemoryStore {
    type Locked = MemoryLocked;

    async fn insert(
        &self,
        row: UserRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredUser, StoreError> {
        let mut data = self.data.lock().await;
        if data.email_taken(&row.account_id, &row.id, &row.doc) {
            return Err(StoreError::EmailTaken);
        }
        data.seq += 1;
        let stored = StoredUser {
            seq: data.seq,
            id: row.id.clone(),
            resource_version: row.resource_version,
            doc: row.doc,
            password_hash: row.password_hash,
        };
        data.users
            .entry(row.account_id)
            .or_default()
            .insert(row.id, stored.clone());
        if let Some((scope, response)) = idempotency
            && let Some(record) = data.keys.get_mut(&key_id(&scope))
        {
            record.response = Some(response);
        }
        Ok(stored)
    }

    async fn get(&self, account_id: &str, id: &str) -> Result<Option<StoredUser>, StoreError> {
        let data = self.data.lock().await;
        Ok(data.users.get(account_id).and_then(|u| u.get(id)).cloned())
    }

    async fn avatar(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<(i64, Avatar)>, StoreError> {
        let data = self.data.lock().await;
        let Some(user) = data.users.get(account_id).and_then(|u| u.get(id)) else {
            return Ok(None);
        };
        Ok(data
            .avatars
            .get(id)
            .map(|avatar| (user.resource_version, avatar.clone())))
    }

    async fn list(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &ListFilter,
    ) -> Result<Vec<StoredUser>, StoreError> {
        let data = self.data.lock().await;
        let mut found: Vec<StoredUser> = data
            .users
            .get(account_id)
            .into_iter()
            .flat_map(|users| users.values())
            .filter(|u| u.seq > after_seq && matches(u, filter))
            .cloned()
            .collect();
        found.sort_by_key(|u| u.seq);
        found.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(found)
    }

    async fn query_users(
        &self,
        account_id: &str,
        query: &Query,
    ) -> Result<(i64, Vec<StoredUser>), StoreError> {
        let data = self.data.lock().await;
        let found: Vec<&StoredUser> = data
            .users
            .get(account_id)
            .into_iter()
            .flat_map(|users| users.values())
            .filter(|u| query.condition.matches(&|f| user_field(u, f), &[]))
            .collect();
        Ok(page(found, query, user_field, |u| u.seq))
    }

    async fn lock(&self, account_id: &str, id: &str) -> Result<Option<MemoryLocked>, StoreError> {
        let data = self.data.clone().lock_owned().await;
        let Some(current) = data.users.get(account_id).and_then(|u| u.get(id)).cloned() else {
            return Ok(None);
        };
        Ok(Some(MemoryLocked {
            data,
            account: account_id.to_owned(),
            current,
        }))
    }

    async fn delete(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut data = self.data.lock().await;
        let users = data.users.entry(account_id.to_owned()).or_default();
        let current = users.get(id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version
            && current.resource_version != expected
        {
            return Err(StoreError::VersionMismatch {
                current: current.resource_version,
            });
        }
        users.remove(id);
        data.avatars.remove(id);
        // The user leaves its groups; each moves to a new version.
        for stored in data
            .groups
            .entry(account_id.to_owned())
            .or_default()
            .values_mut()
        {
            if stored.members.iter().any(|m| m == id) {
                stored.members.retain(|m| m != id);
                stored.resource_version += 1;
            }
        }
        Ok(())
    }

    async fn claim_idempotency_key(
        &self,
        scope: &IdempotencyScope,
        request_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IdempotencyState, StoreError> {
        let mut data = self.data.lock().await;
        let id = key_id(scope);
        if let Some(record) = data.keys.get(&id) {
            let age = now.signed_duration_since(record.claimed_at);
            if !reclaimable(record.response.is_none(), age) {
                return Ok(match &record.response {
                    Some(response) => IdempotencyState::Done {
                        request_hash: record.request_hash.clone(),
                        response: response.clone(),
                    },
                    None => IdempotencyState::InProgress {
                        request_hash: record.request_hash.clone(),
                    },
                });
            }
        }
        data.keys.insert(
            id,
            KeyRecord {
                request_hash: request_hash.to_owned(),
                response: None,
                claimed_at: now,
            },
        );
        Ok(IdempotencyState::Claimed)
    }

    async fn purge_idempotency_keys(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let mut data = self.data.lock().await;
        let count = data.keys.len();
        data.keys.retain(|_, record| record.claimed_at >= before);
        Ok((count - data.keys.len()) as u64)
    }

    async fn release_idempotency_key(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        let mut data = self.data.lock().await;
        let id = key_id(scope);
        if data.keys.get(&id).is_some_and(|r| r.response.is_none()) {
            data.keys.remove(&id);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A group held for a read-modify-write, the whole store locked.
struct MemoryLockedGroup {
    data: OwnedMutexGuard<Data>,
    current: StoredGroup,
}

impl LockedGroup for MemoryLockedGroup {
    fn current(&self) -> &StoredGroup {
        &self.current
    }

    async fn write(mut self, row: GroupRow) -> Result<StoredGroup, StoreError> {
        let account = row.account_id.clone();
        let stored = self.data.group(row, self.current.seq)?;
        self.data
            .groups
            .entry(account)
            .or_default()
            .insert(stored.id.clone(), stored.clone());
        Ok(stored)
    }
}

impl GroupStore for MemoryStore {
    type LockedGroup = MemoryLockedGroup;

    async fn insert_group(
        &self,
        row: GroupRow,
        idempotency: Option<(IdempotencyScope, Value)>,
    ) -> Result<StoredGroup, StoreError> {
        let mut data = self.data.lock().await;
        let account = row.account_id.clone();
        let stored = data.group(row, data.group_seq + 1)?;
        data.group_seq += 1;
        data.groups
            .entry(account)
            .or_default()
            .insert(stored.id.clone(), stored.clone());
        if let Some((scope, response)) = idempotency
            && let Some(record) = data.keys.get_mut(&key_id(&scope))
        {
            record.response = Some(response);
        }
        Ok(stored)
    }

    async fn get_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        let data = self.data.lock().await;
        Ok(data.groups.get(account_id).and_then(|g| g.get(id)).cloned())
    }

    async fn list_groups(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: i64,
        filter: &GroupFilter,
    ) -> Result<Vec<StoredGroup>, StoreError> {
        let data = self.data.lock().await;
        let text = filter.text.as_deref().map(str::to_lowercase);
        let mut found: Vec<StoredGroup> = data
            .groups
            .get(account_id)
            .into_iter()
            .flat_map(|groups| groups.values())
            .filter(|g| g.seq > after_seq)
            .filter(|g| filter.member.as_ref().is_none_or(|m| g.members.contains(m)))
            .filter(|g| {
                text.as_ref().is_none_or(|text| {
                    format!(
                        "{} {}",
                        g.doc[group::NAME].as_str().unwrap_or_default(),
                        g.doc[group::DESCRIPTION].as_str().unwrap_or_default()
                    )
                    .to_lowercase()
                    .contains(text.as_str())
                })
            })
            .cloned()
            .collect();
        found.sort_by_key(|g| g.seq);
        found.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(found)
    }

    async fn query_groups(
        &self,
        account_id: &str,
        query: &Query,
    ) -> Result<(i64, Vec<StoredGroup>), StoreError> {
        let data = self.data.lock().await;
        let found: Vec<&StoredGroup> = data
            .groups
            .get(account_id)
            .into_iter()
            .flat_map(|groups| groups.values())
            .filter(|g| query.condition.matches(&|f| group_field(g, f), &g.members))
            .collect();
        Ok(page(found, query, group_field, |g| g.seq))
    }

    async fn groups_of_users(
        &self,
        account_id: &str,
        user_ids: &[String],
        limit: usize,
    ) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
        let data = self.data.lock().await;
        let mut groups: Vec<&StoredGroup> = data
            .groups
            .get(account_id)
            .into_iter()
            .flat_map(|groups| groups.values())
            .collect();
        groups.sort_by_key(|g| g.seq);
        let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
        for user in user_ids {
            let of: Vec<GroupRef> = groups
                .iter()
                .filter(|g| g.members.contains(user))
                .take(limit)
                .map(|g| GroupRef {
                    id: g.id.clone(),
                    name: g.doc[group::NAME].as_str().map(str::to_owned),
                })
                .collect();
            if !of.is_empty() {
                out.insert(user.clone(), of);
            }
        }
        Ok(out)
    }

    async fn lock_group(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<MemoryLockedGroup>, StoreError> {
        let data = self.data.clone().lock_owned().await;
        let Some(current) = data.groups.get(account_id).and_then(|g| g.get(id)).cloned() else {
            return Ok(None);
        };
        Ok(Some(MemoryLockedGroup { data, current }))
    }

    async fn delete_group(
        &self,
        account_id: &str,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut data = self.data.lock().await;
        let groups = data.groups.entry(account_id.to_owned()).or_default();
        let current = groups.get(id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version
            && current.resource_version != expected
        {
            return Err(StoreError::VersionMismatch {
                current: current.resource_version,
            });
        }
        groups.remove(id);
        Ok(())
    }
}

/// The kit's verdict on the in-memory backend, its clock moved by the kit.
async fn check() -> anyhow::Result<users_conformance::Report> {
    let settings = Settings::default();
    let clock = settings.clock.clone();
    let service = Service::new(
        MemoryStore::default(),
        JwtVerifier::hs256(SECRET, ISSUER, AUDIENCE),
        settings,
    );
    let tokens = TokenIssuer::Hs256 {
        secret: SECRET.to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    };
    users_conformance::run_router_with_clock(
        users_api::router(Arc::new(service)),
        tokens,
        ClockControl::Hook(Arc::new(move |by| clock.advance(by))),
        "",
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = check().await?;
    print!("{}", report.text());
    if !report.passed() {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_in_memory_backend_keeps_every_promise() {
        let report = super::check().await.unwrap();
        assert_eq!(report.outcomes.len(), users_conformance::checks().len());
        assert!(report.passed(), "{}", report.text());
        assert_eq!(report.not_run().count(), 0, "{}", report.text());
    }
}
