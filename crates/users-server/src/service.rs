//! The reference implementation of [`UsersApi`]: the semantics the spec
//! describes, on a [`Store`]. By the time a method runs, the router has
//! authenticated the caller, checked the scope and validated the request.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use users_api::names::{list_users_query, organization_ref, password_change, user};
use users_api::runtime::decode::FromText;
use users_api::runtime::merge::{self, Merge};
use users_api::runtime::{InvalidField, Refused};
use users_api::types::{
    LookupEntry, LookupList, User, UserCreate, UserPage, UserPatch, UserReplace, UserStatus,
};
use users_api::*;

mod avatars;
mod groups;
mod scim;

use crate::auth::JwtVerifier;
use crate::lookups;
use prometheus_client::metrics::counter::Counter;

use crate::store::{
    AvatarChange, IdempotencyScope, IdempotencyState, ListFilter, LockedUser, Store, StoreError,
    StoredUser, UserRow,
};

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Refuse changes without `If-Match` (428).
    pub require_if_match: bool,
    /// The clock idempotency keys expire by.
    pub clock: Clock,
    /// The key that seals list cursors. Servers that share a database
    /// share it ([`crate::store::SqlStore::server_key`]), so a cursor one
    /// issued is read by the others and after a restart.
    pub cursor_key: CursorKey,
    /// How long a create waits for another request with its
    /// `Idempotency-Key` to finish before answering `409`.
    pub idempotency_wait: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            require_if_match: false,
            clock: Clock::default(),
            cursor_key: CursorKey::random(),
            idempotency_wait: DEFAULT_IDEMPOTENCY_WAIT,
        }
    }
}

/// The default of [`Settings::idempotency_wait`].
pub const DEFAULT_IDEMPOTENCY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The key that seals list cursors (XChaCha20-Poly1305): a cursor shows
/// nothing of the position it holds, and one altered, made up or issued for
/// another account does not open.
#[derive(Clone)]
pub struct CursorKey(chacha20poly1305::Key);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(***)")
    }
}

/// The nonce's length: XChaCha20's 192 bits, safe to choose at random.
const NONCE_BYTES: usize = 24;

impl CursorKey {
    /// A key from 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes.into())
    }

    /// A key made at random (one server, cursors that die with it).
    pub fn random() -> Self {
        Self::new(rand::random())
    }

    /// The cursor of the position `seq` in `account`'s list.
    fn seal(&self, account: &str, seq: i64) -> String {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0);
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &seq.to_be_bytes(),
                    aad: account.as_bytes(),
                },
            )
            .expect("eight bytes are sealed");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a cursor of `account`'s list holds; `None` for anything
    /// this key did not seal for this account.
    fn open(&self, account: &str, cursor: &str) -> Option<i64> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0);
        let opened = cipher
            .decrypt(
                chacha20poly1305::XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: account.as_bytes(),
                },
            )
            .ok()?;
        Some(i64::from_be_bytes(opened.try_into().ok()?))
    }
}

/// The time as the service sees it: the system's, moved forward by what
/// [`Clock::advance`] added (tests move time this way; a server never does).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::microseconds(
                self.offset_micros.load(std::sync::atomic::Ordering::SeqCst),
            )
    }

    /// Moves this clock (and its clones) forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The Users API over a store.
pub struct Service<S> {
    store: S,
    verifier: JwtVerifier,
    settings: Settings,
    /// Argon2id takes tens of MiB and many milliseconds per hash: a few at a
    /// time, off the async threads.
    hashing: Arc<Semaphore>,
    /// Creates answered from a stored idempotent response.
    replays: Counter,
}

impl<S> std::fmt::Debug for Service<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The relation sets every stored user has (empty until set).
const RELATIONS: [&str; 3] = [user::ROLES, user::TEAMS, user::TAGS];

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The text of a version's strong entity tag: `"7"`.
fn etag_text(version: i64) -> String {
    format!("\"{version}\"")
}

/// The strong entity tag of a version.
fn etag(version: i64) -> headers::ETag {
    etag_text(version)
        .parse()
        .expect("a quoted number is an entity tag")
}

fn internal(err: impl std::fmt::Display) -> Refused<500> {
    tracing::error!(error = %err, "request failed");
    Refused::new("internal", "Internal error", "the request failed")
}

fn not_found(id: &uuid::Uuid) -> Refused<404> {
    Refused::new(
        "not-found",
        "Not found",
        format!("no user {id} in this account"),
    )
}

fn stale(current: i64) -> Refused<412> {
    Refused::new(
        "concurrency-violation",
        "The user has changed",
        format!("the user is at version {current}"),
    )
}

fn email_taken() -> Refused<409> {
    Refused::fields(
        "duplication-violation",
        "The value is taken",
        vec![InvalidField {
            field: user::EMAIL.into(),
            message: "is already used by another user".into(),
            code: "duplication-violation".into(),
        }],
    )
}

/// The refusals of an operation that reads and writes a stored user: each
/// of them documents `404`, `412` and `500`; the email's `409` only those
/// that may change it.
trait StoreRefusal: From<Refused<404>> + From<Refused<412>> + From<Refused<500>> {
    /// The store found the email taken.
    fn email_taken() -> Self {
        internal("the store found an email taken on a write that sets none").into()
    }
}

impl StoreRefusal for UpdateUserRefusal {
    fn email_taken() -> Self {
        email_taken().into()
    }
}

impl StoreRefusal for ReplaceUserRefusal {
    fn email_taken() -> Self {
        email_taken().into()
    }
}

impl StoreRefusal for DeleteUserRefusal {}

impl StoreRefusal for SetUserPasswordRefusal {}

impl StoreRefusal for SetUserAvatarRefusal {}

impl StoreRefusal for DeleteUserAvatarRefusal {}

fn store_error<E: StoreRefusal>(err: StoreError, id: &uuid::Uuid) -> E {
    match err {
        StoreError::NotFound => not_found(id).into(),
        StoreError::VersionMismatch { current } => stale(current).into(),
        StoreError::EmailTaken => E::email_taken(),
        err @ (StoreError::NameTaken | StoreError::UnknownMember(_)) => internal(err).into(),
        StoreError::Database(err) => internal(err).into(),
    }
}

/// A new user's document from a create's (checked) body: the defaults the
/// API promises, a new id, the account, an active status and the stamps.
fn new_user_doc(ctx: &RequestContext, body: Value) -> (uuid::Uuid, Value) {
    let id = uuid::Uuid::new_v4();
    let at = now();
    let mut doc = match body {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    for relation in RELATIONS {
        doc.entry(relation).or_insert_with(|| json!([]));
    }
    for flag in [user::IS_ADMIN, user::API_ACCESS, user::MUST_RESET_PASSWORD] {
        doc.entry(flag).or_insert(json!(false));
    }
    for (member, value) in [
        (user::ID, json!(id)),
        (user::ACCOUNT_ID, json!(ctx.account())),
        (user::STATUS, json!(UserStatus::Active.as_text())),
        (user::ACTIVATED_AT, json!(at)),
        (user::EMAIL_VERIFIED, json!(false)),
        (user::INVALID_LOGIN_ATTEMPTS, json!(0)),
        (user::CREATED_AT, json!(at)),
        (user::CREATED_BY, json!(ctx.caller.subject)),
        (user::UPDATED_AT, json!(at)),
        (user::UPDATED_BY, json!(ctx.caller.subject)),
    ] {
        doc.insert(member.into(), value);
    }
    (id, Value::Object(doc))
}

/// A create's answer as its idempotency record keeps it, to answer repeats.
#[derive(serde::Serialize, serde::Deserialize)]
struct Replay<T> {
    etag: String,
    location: String,
    body: T,
}

impl<T> Replay<T> {
    /// The entity tag answered.
    fn e_tag(&self) -> Result<headers::ETag, Refused<500>> {
        self.etag.parse().map_err(internal)
    }
}

impl<'a, T: serde::Serialize> Replay<&'a T> {
    /// The record of a create that answered version `version` at
    /// `location` with `body`.
    fn record(version: i64, location: &str, body: &'a T) -> Result<Value, Refused<500>> {
        serde_json::to_value(Replay {
            etag: etag_text(version),
            location: location.to_owned(),
            body,
        })
        .map_err(internal)
    }
}

/// The hash an idempotency key's record keeps of its request's body: SHA-256
/// of the body with its members sorted, so equal bodies hash equally.
pub fn idempotency_hash(body: &Value) -> String {
    format!("{:x}", Sha256::digest(canonical(body)))
}

/// A JSON value with its object members sorted, so equal bodies hash equally.
fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let sorted: std::collections::BTreeMap<&String, Value> =
                    object.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

impl<S: Store> Service<S> {
    /// A service over `store`, verifying tokens with `verifier`.
    pub fn new(store: S, verifier: JwtVerifier, settings: Settings) -> Self {
        Self {
            store,
            verifier,
            settings,
            hashing: Arc::new(Semaphore::new(2)),
            replays: Counter::default(),
        }
    }

    /// The store it serves from.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The counter of creates answered from a stored idempotent response
    /// (a handle on the same count).
    pub fn idempotency_replays(&self) -> Counter {
        self.replays.clone()
    }

    /// The user as the API returns it: the document plus computed fields.
    fn render(&self, stored: &StoredUser) -> Result<User, Refused<500>> {
        let mut doc = stored.doc.clone();
        doc[user::RESOURCE_VERSION] = json!(stored.resource_version);
        // An uploaded image stamps `avatarUpdatedAt`; `avatarUrl` links one.
        doc[user::HAS_AVATAR] = json!(
            doc.get(user::AVATAR_UPDATED_AT).is_some() || doc.get(user::AVATAR_URL).is_some()
        );
        doc[user::IS_EXTERNAL] = json!(doc.get(user::EXTERNAL_ID).is_some());
        doc[user::HAS_PASSWORD] = json!(stored.password_hash.is_some());
        serde_json::from_value(doc).map_err(internal)
    }

    async fn load<E>(&self, ctx: &RequestContext, id: &uuid::Uuid) -> Result<StoredUser, E>
    where
        E: From<Refused<404>> + From<Refused<500>>,
    {
        match self.store.get(ctx.account(), &id.to_string()).await {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) | Err(StoreError::NotFound) => Err(not_found(id).into()),
            Err(err) => Err(internal(err).into()),
        }
    }

    /// `If-Match` against the stored version: 412 when stale, 428 when the
    /// server requires it and it is missing.
    fn precondition<E>(&self, if_match: Option<&headers::IfMatch>, current: i64) -> Result<(), E>
    where
        E: From<Refused<412>> + From<Refused<428>>,
    {
        match if_match {
            Some(tag) if tag.precondition_passes(&etag(current)) => Ok(()),
            Some(_) => Err(stale(current).into()),
            None if self.settings.require_if_match => Err(Refused::<428>::new(
                "precondition-required",
                "If-Match is required",
                "send the user's ETag in If-Match",
            )
            .into()),
            None => Ok(()),
        }
    }

    /// Admins change anyone; others only users they created, or themselves.
    fn may_change(&self, ctx: &RequestContext, doc: &Value) -> Result<(), Refused<403>> {
        let subject = ctx.caller.subject.as_str();
        if ctx.caller.is_admin() || doc[user::CREATED_BY] == subject || doc[user::ID] == subject {
            return Ok(());
        }
        Err(Refused::new(
            "forbidden",
            "The user cannot be changed by this caller",
            "only an admin, the user's creator or the user themself may change it",
        ))
    }

    /// 403 unless the caller may name `organization` as a user's owner: an
    /// admin names any, anyone else only those its token lists.
    fn organization(
        &self,
        ctx: &RequestContext,
        organization: Option<&str>,
    ) -> Result<(), Refused<403>> {
        match organization {
            Some(id) if !ctx.caller.is_admin() && !ctx.caller.organizations.contains(id) => {
                Err(Refused::fields(
                    "forbidden",
                    "The organization is not the caller's",
                    vec![InvalidField {
                        field: format!("{}.{}", user::OWNER_ORGANIZATION, organization_ref::ID),
                        message: format!("{id} is not an organization the token lists"),
                        code: "forbidden".into(),
                    }],
                ))
            }
            _ => Ok(()),
        }
    }

    /// 403 `privileged-field` naming every privileged member a non-admin sent.
    fn privileged(
        &self,
        ctx: &RequestContext,
        body: &Value,
        fields: &[&str],
    ) -> Result<(), Refused<403>> {
        if ctx.caller.is_admin() {
            return Ok(());
        }
        let sent: Vec<InvalidField> = body
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| fields.contains(&name.as_str()))
            .map(|(name, _)| InvalidField {
                field: name.clone(),
                message: "needs the users:admin scope".into(),
                code: "privileged-field".into(),
            })
            .collect();
        if sent.is_empty() {
            return Ok(());
        }
        Err(Refused::fields(
            "privileged-field",
            "The request sets a privileged field",
            sent,
        ))
    }

    /// Read, change, write, with the user locked in between: reads the user
    /// inside a write transaction, checks `If-Match`, computes the new
    /// document with `change` and writes it. Concurrent changes wait for each
    /// other instead of failing; only a stale `If-Match` is a 412. A document
    /// equal to the stored one is not written (no new version).
    async fn modify<E: StoreRefusal + From<Refused<428>>>(
        &self,
        ctx: &RequestContext,
        id: &uuid::Uuid,
        if_match: Option<&headers::IfMatch>,
        password_hash: Option<String>,
        avatar: AvatarChange,
        change: impl Fn(&StoredUser) -> Result<Value, E>,
    ) -> Result<StoredUser, E> {
        let locked = self
            .store
            .lock(ctx.account(), &id.to_string())
            .await
            .map_err(|e| store_error::<E>(e, id))?
            .ok_or_else(|| E::from(not_found(id)))?;
        let current = locked.current().clone();
        self.precondition::<E>(if_match, current.resource_version)?;
        let mut doc = change(&current)?;
        if doc == current.doc && password_hash.is_none() && avatar == AvatarChange::Keep {
            return Ok(current);
        }
        doc[user::UPDATED_AT] = json!(now());
        doc[user::UPDATED_BY] = json!(ctx.caller.subject);
        let row = UserRow {
            account_id: ctx.account().to_owned(),
            id: current.id.clone(),
            resource_version: current.resource_version + 1,
            doc,
            password_hash,
            avatar,
        };
        locked.write(row).await.map_err(|e| store_error(e, id))
    }

    /// Claims an idempotency key; a key whose first request, with the same
    /// body, is still running is asked again until that request finishes
    /// or [`Settings::idempotency_wait`] runs out, so that a retry racing
    /// its original gets the original's answer on every store.
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        hash: &str,
    ) -> Result<IdempotencyState, Refused<500>> {
        let deadline = tokio::time::Instant::now() + self.settings.idempotency_wait;
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            let state = self
                .store
                .claim_idempotency_key(scope, hash, self.settings.clock.now())
                .await
                .map_err(internal)?;
            match &state {
                IdempotencyState::InProgress { request_hash }
                    if request_hash == hash && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep_until((tokio::time::Instant::now() + pause).min(deadline))
                        .await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                _ => return Ok(state),
            }
        }
    }

    /// Begins a create under an `Idempotency-Key`: `None` when this request
    /// now holds the key and goes on; the stored response when a request
    /// with the same key and body finished (answered again, and counted);
    /// `422` for the key used with another body; `409` while a request with
    /// it still runs after [`Settings::idempotency_wait`].
    async fn begin_create<E, T>(
        &self,
        scope: &IdempotencyScope,
        hash: &str,
    ) -> Result<Option<Replay<T>>, E>
    where
        E: From<Refused<409>> + From<Refused<422>> + From<Refused<500>>,
        T: serde::de::DeserializeOwned,
    {
        match self.claim(scope, hash).await? {
            IdempotencyState::Claimed => Ok(None),
            IdempotencyState::InProgress { request_hash }
            | IdempotencyState::Done { request_hash, .. }
                if request_hash != hash =>
            {
                Err(Refused::<422>::new(
                    "idempotency-key-reused",
                    "The idempotency key was used with another request",
                    "the Idempotency-Key was first used with another body",
                )
                .into())
            }
            IdempotencyState::InProgress { .. } => Err(Refused::<409>::new(
                "idempotency-in-progress",
                "A request with this key is running",
                "a request with the same Idempotency-Key has not finished; retry later",
            )
            .into()),
            IdempotencyState::Done { response, .. } => {
                self.replays.inc();
                let replay = serde_json::from_value(response).map_err(|e| E::from(internal(e)))?;
                Ok(Some(replay))
            }
        }
    }

    async fn create(
        &self,
        ctx: RequestContext,
        req: CreateUserRequest,
    ) -> Result<CreateUserResponse, CreateUserRefusal> {
        let body = serde_json::to_value(&req.body).map_err(internal)?;
        self.privileged(&ctx, &body, UserCreate::PRIVILEGED_MEMBERS)?;
        if let Some(owner) = &req.body.owner_organization {
            self.organization(&ctx, Some(&owner.id.to_string()))?;
        }
        let scope = req.header.idempotency_key.map(|key| IdempotencyScope {
            caller: ctx.caller.subject.clone(),
            account_id: ctx.account().to_owned(),
            operation: operation_specs::CREATE_USER.operation_id.into(),
            key,
        });
        if let Some(scope) = &scope
            && let Some(replay) = self
                .begin_create::<CreateUserRefusal, User>(scope, &idempotency_hash(&body))
                .await?
        {
            return Ok(CreateUserResponse::Created {
                e_tag: replay.e_tag()?,
                location: replay.location,
                body: replay.body.into(),
            });
        }
        let (id, doc) = new_user_doc(&ctx, body);
        let row = UserRow {
            account_id: ctx.account().to_owned(),
            id: id.to_string(),
            resource_version: 1,
            doc,
            password_hash: None,
            avatar: AvatarChange::Keep,
        };
        let preview = StoredUser {
            seq: 0,
            id: row.id.clone(),
            resource_version: 1,
            doc: row.doc.clone(),
            password_hash: None,
        };
        let user = self.render(&preview)?;
        let location = format!("/v1/users/{id}");
        let response = Replay::record(1, &location, &user)?;
        match self
            .store
            .insert(row, scope.clone().map(|s| (s, response)))
            .await
        {
            Ok(_) => Ok(CreateUserResponse::Created {
                e_tag: etag(1),
                location,
                body: user.into(),
            }),
            Err(err) => {
                if let Some(scope) = &scope {
                    self.store
                        .release_idempotency_key(scope)
                        .await
                        .map_err(internal)?;
                }
                Err(match err {
                    StoreError::EmailTaken => email_taken().into(),
                    other => internal(other).into(),
                })
            }
        }
    }

    async fn list(
        &self,
        ctx: RequestContext,
        req: ListUsersRequest,
    ) -> Result<ListUsersResponse, ListUsersRefusal> {
        let query = req.query;
        let after = match &query.cursor {
            Some(cursor) => self
                .settings
                .cursor_key
                .open(ctx.account(), cursor)
                .ok_or_else(|| {
                    Refused::<400>::invalid(vec![InvalidField {
                        field: list_users_query::CURSOR.into(),
                        message: "is not a cursor this server issued".into(),
                        code: "invalid".into(),
                    }])
                })?,
            None => 0,
        };
        let limit = i64::from(query.limit.unwrap_or(20));
        let filter = ListFilter {
            email: query.email,
            status: query.status.map(|s| s.as_text().to_owned()),
            text: query.q,
        };
        let mut rows = self
            .store
            .list(ctx.account(), after, limit + 1, &filter)
            .await
            .map_err(internal)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more.then(|| {
            self.settings
                .cursor_key
                .seal(ctx.account(), rows.last().map_or(after, |r| r.seq))
        });
        let items = rows
            .iter()
            .map(|r| self.render(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListUsersResponse::Ok {
            body: UserPage { items, next_cursor }.into(),
        })
    }

    async fn get(
        &self,
        ctx: RequestContext,
        req: GetUserRequest,
    ) -> Result<GetUserResponse, GetUserRefusal> {
        let current = self.load::<GetUserRefusal>(&ctx, &req.path.user_id).await?;
        let tag = etag(current.resource_version);
        // If-None-Match compares weakly: it fails when a tag matches.
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetUserResponse::NotModified { e_tag: tag });
        }
        Ok(GetUserResponse::Ok {
            body: self.render(&current)?.into(),
            e_tag: tag,
        })
    }

    async fn update(
        &self,
        ctx: RequestContext,
        req: UpdateUserRequest,
    ) -> Result<UpdateUserResponse, UpdateUserRefusal> {
        let sent = serde_json::to_value(&req.body).map_err(internal)?;
        self.privileged(&ctx, &sent, UserPatch::PRIVILEGED_MEMBERS)?;
        let stored = self
            .modify::<UpdateUserRefusal>(
                &ctx,
                &req.path.user_id,
                req.header.if_match.as_ref(),
                None,
                AvatarChange::Keep,
                |current| {
                    self.may_change(&ctx, &current.doc)?;
                    if let Some(owner) = &req.body.owner_organization {
                        // Out of the organization it is in, into the one named.
                        self.organization(
                            &ctx,
                            current.doc[user::OWNER_ORGANIZATION][organization_ref::ID].as_str(),
                        )?;
                        let moved_to = owner.as_ref().map(|o| o.id.to_string());
                        self.organization(&ctx, moved_to.as_deref())?;
                    }
                    let mut patch = req.body.clone();
                    // The stored user as a document of the patch's own type:
                    // every member a patch can set, typed.
                    let mut profile: UserPatch = serde_json::from_value(Value::Object(members_of(
                        &current.doc,
                        UserPatch::MEMBERS,
                    )))
                    .map_err(internal)?;
                    merge::fold_lists(
                        &mut patch.roles,
                        patch.add_roles.take(),
                        patch.remove_roles.take(),
                        profile.roles.as_ref(),
                    );
                    merge::fold_lists(
                        &mut patch.teams,
                        patch.add_teams.take(),
                        patch.remove_teams.take(),
                        profile.teams.as_ref(),
                    );
                    merge::fold_lists(
                        &mut patch.tags,
                        patch.add_tags.take(),
                        patch.remove_tags.take(),
                        profile.tags.as_ref(),
                    );
                    let status = profile.status;
                    profile.merge(patch);
                    let mut doc = current.doc.clone();
                    if let (Some(doc), Value::Object(merged)) = (
                        doc.as_object_mut(),
                        serde_json::to_value(&profile).map_err(internal)?,
                    ) {
                        doc.retain(|k, _| !UserPatch::MEMBERS.contains(&k.as_str()));
                        doc.extend(merged);
                    }
                    if profile.status != status {
                        let stamp = match profile.status {
                            Some(UserStatus::Active) => user::ACTIVATED_AT,
                            Some(UserStatus::Deactivated) => user::DEACTIVATED_AT,
                            _ => user::ARCHIVED_AT,
                        };
                        doc[stamp] = json!(now());
                    }
                    // The merged user must satisfy what a whole profile must.
                    let profile = Value::Object(members_of(&doc, UserReplace::MEMBERS)).to_string();
                    match runtime::decode::text::<UserReplace>(&profile) {
                        Ok(_) => {}
                        Err(runtime::decode::BodyError::Invalid(errors)) => {
                            return Err(Refused::<400>::invalid(errors).into());
                        }
                        Err(runtime::decode::BodyError::Syntax(e)) => {
                            return Err(internal(e).into());
                        }
                    }
                    Ok(doc)
                },
            )
            .await?;
        Ok(UpdateUserResponse::Ok {
            body: self.render(&stored)?.into(),
            e_tag: etag(stored.resource_version),
        })
    }

    async fn replace(
        &self,
        ctx: RequestContext,
        req: ReplaceUserRequest,
    ) -> Result<ReplaceUserResponse, ReplaceUserRefusal> {
        let body = serde_json::to_value(&req.body).map_err(internal)?;
        let stored = self
            .modify::<ReplaceUserRefusal>(
                &ctx,
                &req.path.user_id,
                req.header.if_match.as_ref(),
                None,
                AvatarChange::Keep,
                |current| {
                    self.may_change(&ctx, &current.doc)?;
                    let mut doc: Map<String, Value> = current
                        .doc
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| !UserReplace::MEMBERS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    doc.extend(body.as_object().cloned().unwrap_or_default());
                    for relation in RELATIONS {
                        doc.entry(relation).or_insert_with(|| json!([]));
                    }
                    Ok(Value::Object(doc))
                },
            )
            .await?;
        Ok(ReplaceUserResponse::Ok {
            body: self.render(&stored)?.into(),
            e_tag: etag(stored.resource_version),
        })
    }

    async fn delete(
        &self,
        ctx: RequestContext,
        req: DeleteUserRequest,
    ) -> Result<DeleteUserResponse, DeleteUserRefusal> {
        let id = req.path.user_id;
        let current = self.load::<DeleteUserRefusal>(&ctx, &id).await?;
        self.precondition::<DeleteUserRefusal>(
            req.header.if_match.as_ref(),
            current.resource_version,
        )?;
        let expected = req
            .header
            .if_match
            .as_ref()
            .map(|_| current.resource_version);
        self.store
            .delete(ctx.account(), &current.id, expected)
            .await
            .map_err(|e| store_error::<DeleteUserRefusal>(e, &id))?;
        Ok(DeleteUserResponse::NoContent {})
    }

    async fn set_password(
        &self,
        ctx: RequestContext,
        req: SetUserPasswordRequest,
    ) -> Result<SetUserPasswordResponse, SetUserPasswordRefusal> {
        let current = self
            .load::<SetUserPasswordRefusal>(&ctx, &req.path.user_id)
            .await?;
        self.precondition::<SetUserPasswordRefusal>(
            req.header.if_match.as_ref(),
            current.resource_version,
        )?;
        let own = current.id == ctx.caller.subject;
        if !own && !ctx.caller.is_admin() {
            return Err(Refused::<403>::new(
                "forbidden",
                "The password cannot be set by this caller",
                "only an admin or the user themself may set a password",
            )
            .into());
        }
        if own
            && !ctx.caller.is_admin()
            && let Some(hash) = &current.password_hash
        {
            let given = req.body.current_password.clone().unwrap_or_default();
            if !self.verify_password(given, hash.clone()).await? {
                return Err(Refused::<400>::invalid(vec![InvalidField {
                    field: password_change::CURRENT_PASSWORD.into(),
                    message: "does not match the current password".into(),
                    code: "mismatch".into(),
                }])
                .into());
            }
        }
        let hash = self.hash_password(req.body.new_password.clone()).await?;
        let stored = self
            .modify::<SetUserPasswordRefusal>(
                &ctx,
                &req.path.user_id,
                req.header.if_match.as_ref(),
                Some(hash),
                AvatarChange::Keep,
                |current| {
                    let mut doc = current.doc.clone();
                    doc[user::PASSWORD_UPDATED_AT] = json!(now());
                    Ok(doc)
                },
            )
            .await?;
        Ok(SetUserPasswordResponse::NoContent {
            e_tag: etag(stored.resource_version),
        })
    }

    async fn hash_password(&self, password: String) -> Result<String, Refused<500>> {
        let _permit = self.hashing.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            use argon2::PasswordHasher;
            argon2::Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
        })
        .await
        .map_err(internal)?
        .map_err(internal)
    }

    async fn verify_password(&self, password: String, hash: String) -> Result<bool, Refused<500>> {
        let _permit = self.hashing.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || {
            use argon2::PasswordVerifier;
            let parsed = argon2::PasswordHash::new(&hash).map_err(|e| e.to_string())?;
            Ok::<bool, String>(
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
            )
        })
        .await
        .map_err(internal)?
        .map_err(internal)
    }
}

/// The members of `doc` named in `names`.
fn members_of(doc: &Value, names: &[&str]) -> Map<String, Value> {
    doc.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn lookup(lookup: lookups::Lookup) -> LookupList {
    LookupList {
        items: lookup
            .entries()
            .iter()
            .map(|e| LookupEntry {
                code: e.code.clone(),
                name: e.name.clone(),
            })
            .collect(),
    }
}

impl<S: Store> Authenticator for Service<S> {
    type Claims = Caller;

    async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        self.verifier.verify(token)
    }
}

impl<S: Store> UsersApi for Service<S> {
    async fn list_countries(
        &self,
        _: RequestContext,
        _: ListCountriesRequest,
    ) -> Result<ListCountriesResponse, ListCountriesRefusal> {
        Ok(ListCountriesResponse::Ok {
            body: lookup(lookups::Lookup::Countries).into(),
        })
    }

    async fn list_languages(
        &self,
        _: RequestContext,
        _: ListLanguagesRequest,
    ) -> Result<ListLanguagesResponse, ListLanguagesRefusal> {
        Ok(ListLanguagesResponse::Ok {
            body: lookup(lookups::Lookup::Languages).into(),
        })
    }

    async fn list_locales(
        &self,
        _: RequestContext,
        _: ListLocalesRequest,
    ) -> Result<ListLocalesResponse, ListLocalesRefusal> {
        Ok(ListLocalesResponse::Ok {
            body: lookup(lookups::Lookup::Locales).into(),
        })
    }

    async fn list_time_zones(
        &self,
        _: RequestContext,
        _: ListTimeZonesRequest,
    ) -> Result<ListTimeZonesResponse, ListTimeZonesRefusal> {
        Ok(ListTimeZonesResponse::Ok {
            body: lookup(lookups::Lookup::TimeZones).into(),
        })
    }

    async fn create_user(
        &self,
        ctx: RequestContext,
        req: CreateUserRequest,
    ) -> Result<CreateUserResponse, CreateUserRefusal> {
        self.create(ctx, req).await
    }

    async fn list_users(
        &self,
        ctx: RequestContext,
        req: ListUsersRequest,
    ) -> Result<ListUsersResponse, ListUsersRefusal> {
        self.list(ctx, req).await
    }

    async fn get_user(
        &self,
        ctx: RequestContext,
        req: GetUserRequest,
    ) -> Result<GetUserResponse, GetUserRefusal> {
        self.get(ctx, req).await
    }

    async fn update_user(
        &self,
        ctx: RequestContext,
        req: UpdateUserRequest,
    ) -> Result<UpdateUserResponse, UpdateUserRefusal> {
        self.update(ctx, req).await
    }

    async fn replace_user(
        &self,
        ctx: RequestContext,
        req: ReplaceUserRequest,
    ) -> Result<ReplaceUserResponse, ReplaceUserRefusal> {
        self.replace(ctx, req).await
    }

    async fn delete_user(
        &self,
        ctx: RequestContext,
        req: DeleteUserRequest,
    ) -> Result<DeleteUserResponse, DeleteUserRefusal> {
        self.delete(ctx, req).await
    }

    async fn set_user_password(
        &self,
        ctx: RequestContext,
        req: SetUserPasswordRequest,
    ) -> Result<SetUserPasswordResponse, SetUserPasswordRefusal> {
        self.set_password(ctx, req).await
    }

    async fn get_user_avatar(
        &self,
        ctx: RequestContext,
        req: GetUserAvatarRequest,
    ) -> Result<GetUserAvatarResponse, GetUserAvatarRefusal> {
        self.get_avatar(ctx, req).await
    }

    async fn set_user_avatar(
        &self,
        ctx: RequestContext,
        req: SetUserAvatarRequest,
    ) -> Result<SetUserAvatarResponse, SetUserAvatarRefusal> {
        self.set_avatar(ctx, req).await
    }

    async fn delete_user_avatar(
        &self,
        ctx: RequestContext,
        req: DeleteUserAvatarRequest,
    ) -> Result<DeleteUserAvatarResponse, DeleteUserAvatarRefusal> {
        self.delete_avatar(ctx, req).await
    }

    async fn list_groups(
        &self,
        ctx: RequestContext,
        req: ListGroupsRequest,
    ) -> Result<ListGroupsResponse, ListGroupsRefusal> {
        Service::list_groups(self, ctx, req).await
    }

    async fn list_user_groups(
        &self,
        ctx: RequestContext,
        req: ListUserGroupsRequest,
    ) -> Result<ListUserGroupsResponse, ListUserGroupsRefusal> {
        Service::list_user_groups(self, ctx, req).await
    }

    async fn create_group(
        &self,
        ctx: RequestContext,
        req: CreateGroupRequest,
    ) -> Result<CreateGroupResponse, CreateGroupRefusal> {
        Service::create_group(self, ctx, req).await
    }

    async fn get_group(
        &self,
        ctx: RequestContext,
        req: GetGroupRequest,
    ) -> Result<GetGroupResponse, GetGroupRefusal> {
        Service::get_group(self, ctx, req).await
    }

    async fn update_group(
        &self,
        ctx: RequestContext,
        req: UpdateGroupRequest,
    ) -> Result<UpdateGroupResponse, UpdateGroupRefusal> {
        Service::update_group(self, ctx, req).await
    }

    async fn delete_group(
        &self,
        ctx: RequestContext,
        req: DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, DeleteGroupRefusal> {
        Service::delete_group(self, ctx, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_compare_as_http_says() {
        use headers::{Header, IfMatch, IfNoneMatch};
        fn parse<H: Header>(text: &str) -> H {
            let value = http::HeaderValue::from_str(text).unwrap();
            H::decode(&mut std::iter::once(&value)).unwrap()
        }
        let seven = etag(7);
        // If-Match compares strongly.
        assert!(parse::<IfMatch>("\"7\"").precondition_passes(&seven));
        assert!(parse::<IfMatch>("*").precondition_passes(&seven));
        assert!(parse::<IfMatch>("\"6\", \"7\"").precondition_passes(&seven));
        assert!(!parse::<IfMatch>("W/\"7\"").precondition_passes(&seven));
        // If-None-Match compares weakly, and fails when a tag matches.
        assert!(!parse::<IfNoneMatch>("W/\"7\"").precondition_passes(&seven));
        assert!(parse::<IfNoneMatch>("\"8\"").precondition_passes(&seven));
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let key = CursorKey::random();
        let cursor = key.seal("acme", 42);
        assert_eq!(key.open("acme", &cursor), Some(42));
        // Another account, another key, an altered cursor: none opens.
        assert_eq!(key.open("acme-eu", &cursor), None);
        assert_eq!(CursorKey::random().open("acme", &cursor), None);
        let mut altered = cursor.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open("acme", &String::from_utf8(altered).unwrap()), None);
        assert_eq!(key.open("acme", "bm9wZQ"), None);
        assert_eq!(key.open("acme", "!!"), None);
        // Two cursors of one position differ, and neither shows it.
        let again = key.seal("acme", 42);
        assert_ne!(cursor, again);
        let shown = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&cursor)
            .unwrap();
        assert!(!shown.windows(8).any(|w| w == 42i64.to_be_bytes()));
        // The spec's cursor parameter takes it: at most 512 of [A-Za-z0-9_-].
        assert!(cursor.len() <= 512);
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn privileged_and_profile_fields_come_from_the_spec() {
        let privileged = UserPatch::PRIVILEGED_MEMBERS;
        assert!(privileged.contains(&"status") && privileged.contains(&"addRoles"));
        assert!(!privileged.contains(&"jobTitle"));
        let profile = UserReplace::MEMBERS;
        assert!(profile.contains(&"jobTitle") && !profile.contains(&"status"));
    }
}
