//! A Users API backend written against the contract alone: `users_api`'s
//! generated trait, types, names and router, with users kept in memory.
//! Nothing of the reference server is used; this is the file a backend
//! team copies and puts its own storage under.
//!
//! The router has already authenticated the caller (through
//! [`Authenticator`]), checked the operation's scope, applied
//! `accountSwitchKey`, and decoded and validated every parameter and body
//! (read-only members, `add*` lists beside their whole set, formats and
//! lookups) before a method here runs. What is left is what the schemas
//! cannot say: who may change whom, privileged members, entity tags,
//! idempotency keys, merge patches, cursors, uniqueness, and that a group's
//! members are users of its account. Groups are kept as the contract's own
//! `Group` type.
//!
//! ```sh
//! cargo run -p users-conformance --example contract_only
//! ```
//!
//! `cargo test -p users-conformance` runs the conformance kit against it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use users_api::names::{
    group_create, group_patch, list_groups_query, list_user_groups_query, list_users_query,
    organization_ref, password_change, user,
};
use users_api::runtime::decode::{self, FromText};
use users_api::runtime::merge::{self, Merge};
use users_api::runtime::{self, InvalidField, Refused};
use users_api::types::{
    CountryCode, Group, GroupCreate, GroupPage, GroupPatch, LanguageCode, Locale, LookupEntry,
    LookupList, TimeZone, User, UserPage, UserPatch, UserReplace, UserStatus,
};
use users_api::*;

/// What a bearer token says, as the spec's security scheme documents it.
#[derive(Debug, Deserialize)]
struct TokenClaims {
    sub: String,
    account: String,
    #[serde(default)]
    scope: String,
    #[serde(default, rename = "switchableAccounts")]
    switchable_accounts: Vec<String>,
    #[serde(default)]
    organizations: Vec<String>,
}

/// HS256 bearer tokens with a fixed issuer and audience.
struct Tokens {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl Tokens {
    fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            key: jsonwebtoken::DecodingKey::from_secret(secret),
            validation,
        }
    }

    fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &self.key, &self.validation)
            .map_err(|e| AuthError(format!("the token is not valid: {e}")))?
            .claims;
        Ok(Caller {
            subject: claims.sub,
            account: claims.account,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
            switchable_accounts: claims.switchable_accounts.into_iter().collect(),
            organizations: claims.organizations.into_iter().collect(),
        })
    }
}

/// One user as kept: its document (the members `User` has that are stored,
/// by their JSON names), its version, its password's hash and its uploaded
/// image (of the media type its bytes are).
#[derive(Debug, Clone)]
struct Record {
    seq: u64,
    version: i64,
    doc: Map<String, Value>,
    password_hash: Option<String>,
    avatar: Option<(GetUserAvatarOkMedia, axum::body::Bytes)>,
}

/// A create answered under an idempotency key, kept to answer its repeats.
#[derive(Debug, Clone)]
struct Replay {
    body_hash: String,
    user: User,
    version: i64,
    at: chrono::DateTime<chrono::Utc>,
}

/// Where a cursor resumes: the account it was issued for and the last
/// insertion number its page showed.
#[derive(Debug, Clone)]
struct Resume {
    account: String,
    after: u64,
}

/// The cursors one list handed out, by their random names, so one reveals
/// nothing. (Kept for the life of the process; a store of its own would
/// expire them, or seal the position into the cursor with a key.)
#[derive(Debug, Default)]
struct Cursors(HashMap<String, Resume>);

impl Cursors {
    /// The insertion number after which the page `cursor` names starts: 0
    /// for the first page; a cursor this list did not issue for `account`
    /// is a 400 naming `field`.
    fn resume(
        &self,
        account: &str,
        cursor: Option<&str>,
        field: &str,
    ) -> Result<u64, Refused<400>> {
        let Some(cursor) = cursor else {
            return Ok(0);
        };
        match self.0.get(cursor) {
            Some(resume) if resume.account == account => Ok(resume.after),
            _ => Err(Refused::<400>::invalid(vec![InvalidField {
                field: field.into(),
                message: "is not a cursor this server issued".into(),
                code: "invalid".into(),
            }])),
        }
    }

    /// A new cursor of `account`'s list, resuming after `after`.
    fn issue(&mut self, account: &str, after: u64) -> String {
        let name = uuid::Uuid::new_v4().simple().to_string();
        self.0.insert(
            name.clone(),
            Resume {
                account: account.to_owned(),
                after,
            },
        );
        name
    }
}

#[derive(Debug, Default)]
struct Data {
    /// The last insertion number handed out.
    seq: u64,
    /// Users by account, then insertion number: a list is a range scan.
    users: HashMap<String, BTreeMap<u64, Record>>,
    /// Insertion numbers by account and id.
    ids: HashMap<(String, uuid::Uuid), u64>,
    /// Idempotent creates by caller, account and key.
    replays: HashMap<(String, String, String), Replay>,
    /// Cursors of user lists.
    cursors: Cursors,
    /// The last group insertion number handed out.
    group_seq: u64,
    /// Groups by account, then insertion number.
    groups: HashMap<String, BTreeMap<u64, Group>>,
    /// Group insertion numbers by account and id.
    group_ids: HashMap<(String, uuid::Uuid), u64>,
    /// Idempotent group creates by caller, account and key.
    group_replays: HashMap<(String, String, String), GroupReplay>,
    /// Cursors of group lists, apart from those of users.
    group_cursors: Cursors,
}

/// A group create answered under an idempotency key.
#[derive(Debug, Clone)]
struct GroupReplay {
    body_hash: String,
    group: Group,
    at: chrono::DateTime<chrono::Utc>,
}

impl Data {
    fn find_group(&self, account: &str, id: &uuid::Uuid) -> Option<&Group> {
        let seq = self.group_ids.get(&(account.to_owned(), *id))?;
        self.groups.get(account)?.get(seq)
    }

    fn find_group_mut(&mut self, account: &str, id: &uuid::Uuid) -> Option<&mut Group> {
        let seq = self.group_ids.get(&(account.to_owned(), *id))?;
        self.groups.get_mut(account)?.get_mut(seq)
    }

    /// Whether a group of the account other than `id` has the name,
    /// compared without regard to case.
    fn name_taken(&self, account: &str, name: &str, id: Option<&uuid::Uuid>) -> bool {
        let wanted = name.to_lowercase();
        self.groups.get(account).is_some_and(|groups| {
            groups
                .values()
                .any(|g| Some(&g.id) != id && g.name.to_lowercase() == wanted)
        })
    }

    /// 400 naming `field` unless every member is a user of the account.
    fn members_known<'a>(
        &self,
        account: &str,
        field: &str,
        members: impl IntoIterator<Item = &'a uuid::Uuid>,
    ) -> Result<(), Refused<400>> {
        match members
            .into_iter()
            .find(|m| self.find(account, m).is_none())
        {
            Some(unknown) => Err(Refused::<400>::invalid(vec![InvalidField {
                field: field.into(),
                message: format!("{unknown} is not a user of this account"),
                code: "unknown-user".into(),
            }])),
            None => Ok(()),
        }
    }

    /// A page of the account's groups that `keep` keeps, after `cursor`.
    fn group_page(
        &mut self,
        account: &str,
        cursor: Option<&str>,
        cursor_field: &str,
        limit: Option<i32>,
        keep: impl Fn(&Group) -> bool,
    ) -> Result<GroupPage, Refused<400>> {
        let after = self.group_cursors.resume(account, cursor, cursor_field)?;
        let limit = usize::try_from(limit.unwrap_or(20)).unwrap_or(20);
        let mut page: Vec<(u64, Group)> = self
            .groups
            .get(account)
            .into_iter()
            .flat_map(|groups| groups.range(after + 1..))
            .filter(|(_, g)| keep(g))
            .take(limit + 1)
            .map(|(seq, g)| (*seq, g.clone()))
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let last = page.last().map_or(after, |(seq, _)| *seq);
        let next_cursor = more.then(|| self.group_cursors.issue(account, last));
        Ok(GroupPage {
            items: page.into_iter().map(|(_, g)| g).collect(),
            next_cursor,
        })
    }

    fn find(&self, account: &str, id: &uuid::Uuid) -> Option<&Record> {
        let seq = self.ids.get(&(account.to_owned(), *id))?;
        self.users.get(account)?.get(seq)
    }

    fn find_mut(&mut self, account: &str, id: &uuid::Uuid) -> Option<&mut Record> {
        let seq = self.ids.get(&(account.to_owned(), *id))?;
        self.users.get_mut(account)?.get_mut(seq)
    }

    /// Whether a user of the account other than `id` has the email,
    /// compared without regard to case.
    fn email_taken(&self, account: &str, email: &str, id: Option<&uuid::Uuid>) -> bool {
        let wanted = email_key(email);
        self.users.get(account).is_some_and(|users| {
            users.values().any(|r| {
                r.doc[user::ID] != json!(id) && email_key(text(&r.doc, user::EMAIL)) == wanted
            })
        })
    }
}

/// An email as compared: normalized (NFKC) and lowercased.
fn email_key(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    email.trim().nfkc().collect::<String>().to_lowercase()
}

fn text<'a>(doc: &'a Map<String, Value>, member: &str) -> &'a str {
    doc.get(member).and_then(Value::as_str).unwrap_or_default()
}

fn now() -> Value {
    json!(chrono::Utc::now())
}

fn etag(version: i64) -> headers::ETag {
    format!("\"{version}\"")
        .parse()
        .expect("a quoted number is an entity tag")
}

fn internal(err: impl std::fmt::Display) -> Refused<500> {
    eprintln!("internal error: {err}");
    Refused::<500>::new("internal", "Internal error", "the request failed")
}

fn not_found(id: &uuid::Uuid) -> Refused<404> {
    Refused::<404>::new(
        "not-found",
        "Not found",
        format!("no user {id} in this account"),
    )
}

fn group_not_found(id: &uuid::Uuid) -> Refused<404> {
    Refused::<404>::new(
        "not-found",
        "Not found",
        format!("no group {id} in this account"),
    )
}

fn name_taken() -> Refused<409> {
    Refused::<409>::fields(
        "duplication-violation",
        "The name is taken",
        vec![InvalidField {
            field: group_create::NAME.into(),
            message: "another group of the account has this name".into(),
            code: "duplication-violation".into(),
        }],
    )
}

fn email_taken() -> Refused<409> {
    Refused::<409>::fields(
        "duplication-violation",
        "The email address is taken",
        vec![InvalidField {
            field: user::EMAIL.into(),
            message: "another user of the account has this email address".into(),
            code: "duplication-violation".into(),
        }],
    )
}

fn forbidden(detail: &str) -> Refused<403> {
    Refused::<403>::new("forbidden", "The caller may not do this", detail)
}

/// 412 unless `If-Match`, when sent, names the current version.
fn precondition(if_match: Option<&headers::IfMatch>, version: i64) -> Result<(), Refused<412>> {
    match if_match {
        Some(if_match) if !if_match.precondition_passes(&etag(version)) => {
            Err(Refused::<412>::new(
                "precondition-failed",
                "The user has changed",
                format!("the user's current ETag is \"{version}\""),
            ))
        }
        _ => Ok(()),
    }
}

/// 403 `privileged-field` naming each privileged member a non-admin sent.
fn privileged(caller: &Caller, sent: &Value, members: &[&str]) -> Result<(), Refused<403>> {
    if caller.is_admin() {
        return Ok(());
    }
    let named: Vec<InvalidField> = members
        .iter()
        .filter(|m| sent.get(**m).is_some())
        .map(|m| InvalidField {
            field: (*m).to_owned(),
            message: "needs the users:admin scope".into(),
            code: "privileged-field".into(),
        })
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    Err(Refused::<403>::fields(
        "privileged-field",
        "The request sets a privileged field",
        named,
    ))
}

/// 403 unless the caller may name `organization` as a user's owner: an
/// admin names any, anyone else only those its token lists.
fn organization(caller: &Caller, organization: Option<&str>) -> Result<(), Refused<403>> {
    match organization {
        Some(id) if !caller.is_admin() && !caller.organizations.contains(id) => {
            Err(Refused::<403>::fields(
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

/// Admins change anyone; others the users they created, or themselves.
fn may_change(caller: &Caller, doc: &Map<String, Value>) -> Result<(), Refused<403>> {
    let subject = caller.subject.as_str();
    if caller.is_admin() || text(doc, user::CREATED_BY) == subject || text(doc, user::ID) == subject
    {
        return Ok(());
    }
    Err(forbidden(
        "only an admin, the user's creator or the user themself may change it",
    ))
}

/// The members of `doc` named in `names`.
fn members(doc: &Map<String, Value>, names: &[&str]) -> Map<String, Value> {
    doc.iter()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The user as the API answers it: the document plus what is computed.
fn render(record: &Record) -> Result<User, Refused<500>> {
    let mut doc = record.doc.clone();
    doc.insert(user::RESOURCE_VERSION.into(), json!(record.version));
    doc.insert(
        user::HAS_AVATAR.into(),
        json!(record.avatar.is_some() || doc.contains_key(user::AVATAR_URL)),
    );
    doc.insert(
        user::IS_EXTERNAL.into(),
        json!(doc.contains_key(user::EXTERNAL_ID)),
    );
    doc.insert(
        user::HAS_PASSWORD.into(),
        json!(record.password_hash.is_some()),
    );
    serde_json::from_value(Value::Object(doc)).map_err(internal)
}

/// The media type of an uploaded image, read from its bytes: `415` when
/// they are no PNG, JPEG or WebP image, or not the one the `Content-Type`
/// names.
fn image_type(body: &runtime::RawBody) -> Result<GetUserAvatarOkMedia, Refused<415>> {
    let declared = GetUserAvatarOkMedia::from_essence(&body.media_type);
    let found = infer::get(&body.bytes)
        .and_then(|kind| GetUserAvatarOkMedia::from_essence(kind.mime_type()));
    match (found, declared) {
        (Some(found), Some(declared)) if found == declared => Ok(found),
        (Some(found), _) => Err(Refused::new(
            "unsupported-media-type",
            "The image is not what its Content-Type says",
            format!(
                "the body is an {} image, not {}",
                found.as_str(),
                body.media_type
            ),
        )),
        (None, _) => Err(Refused::new(
            "unsupported-media-type",
            "The body is not an image the API stores",
            "the body is not a PNG, JPEG or WebP image",
        )),
    }
}

fn no_avatar(id: &uuid::Uuid) -> Refused<404> {
    Refused::new(
        "avatar-not-found",
        "No profile image",
        format!("user {id} has no uploaded image"),
    )
}

/// A document without its `null` members: a cleared member is absent.
fn without_nulls(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Map::new(),
    }
}

/// The merged profile must satisfy what every whole profile satisfies
/// (`UserReplace`): the contract's generated validation judges it.
fn validate_profile(doc: &Map<String, Value>) -> Result<(), UpdateUserRefusal> {
    let profile = Value::Object(members(doc, UserReplace::MEMBERS)).to_string();
    match decode::text::<UserReplace>(&profile) {
        Ok(_) => Ok(()),
        Err(decode::BodyError::Invalid(errors)) => Err(Refused::<400>::invalid(errors).into()),
        Err(decode::BodyError::Syntax(e)) => Err(internal(e).into()),
    }
}

fn hash_password(password: &str) -> Result<String, Refused<500>> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(internal)
}

fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A lookup list from the values the contract's enum lists.
fn lookup<T: FromText + Copy + 'static>(values: &[T], name: impl Fn(&str) -> String) -> LookupList {
    let mut items: Vec<LookupEntry> = values
        .iter()
        .map(|v| {
            let code = v.as_text();
            LookupEntry {
                code: code.to_owned(),
                name: name(code),
            }
        })
        .collect();
    items.sort_by(|a, b| a.code.cmp(&b.code));
    LookupList { items }
}

fn country_name(code: &str) -> String {
    isocountry::CountryCode::for_alpha2(code)
        .map_or_else(|_| code.to_owned(), |c| c.name().to_owned())
}

fn language_name(code: &str) -> String {
    isolang::Language::from_639_1(code).map_or_else(|| code.to_owned(), |l| l.to_name().to_owned())
}

/// The Users API in memory, behind one lock: a write holds it from its read
/// to its write, so writers of a user never interleave.
struct Directory {
    tokens: Tokens,
    data: Mutex<Data>,
    clock: Clock,
}

/// The time as the directory sees it: the system's, moved forward by what
/// [`Clock::advance`] added, so that the kit can check that idempotency
/// keys are kept 24 hours without waiting them out.
#[derive(Clone, Default)]
struct Clock(Arc<std::sync::atomic::AtomicI64>);

impl Clock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::TimeDelta::microseconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }

    fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }

    /// The kit's handle on it.
    fn control(&self) -> users_conformance::ClockControl {
        let clock = self.clone();
        users_conformance::ClockControl::Hook(Arc::new(move |by| clock.advance(by)))
    }
}

impl Authenticator for Directory {
    type Claims = Caller;

    async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        self.tokens.verify(token)
    }
}

/// Idempotency keys are kept this long.
const KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(24);

impl UsersApi for Directory {
    async fn list_countries(
        &self,
        _ctx: RequestContext,
        _req: ListCountriesRequest,
    ) -> Result<ListCountriesResponse, ListCountriesRefusal> {
        Ok(ListCountriesResponse::Ok {
            body: lookup(CountryCode::VALUES, country_name).into(),
        })
    }

    async fn list_languages(
        &self,
        _ctx: RequestContext,
        _req: ListLanguagesRequest,
    ) -> Result<ListLanguagesResponse, ListLanguagesRefusal> {
        Ok(ListLanguagesResponse::Ok {
            body: lookup(LanguageCode::VALUES, language_name).into(),
        })
    }

    async fn list_locales(
        &self,
        _ctx: RequestContext,
        _req: ListLocalesRequest,
    ) -> Result<ListLocalesResponse, ListLocalesRefusal> {
        let name = |code: &str| match code.split_once('-') {
            Some((language, country)) => format!(
                "{} ({})",
                language_name(language),
                country_name(&country.to_uppercase())
            ),
            None => code.to_owned(),
        };
        Ok(ListLocalesResponse::Ok {
            body: lookup(Locale::VALUES, name).into(),
        })
    }

    async fn list_time_zones(
        &self,
        _ctx: RequestContext,
        _req: ListTimeZonesRequest,
    ) -> Result<ListTimeZonesResponse, ListTimeZonesRefusal> {
        Ok(ListTimeZonesResponse::Ok {
            body: lookup(TimeZone::VALUES, str::to_owned).into(),
        })
    }

    async fn list_users(
        &self,
        ctx: RequestContext,
        req: ListUsersRequest,
    ) -> Result<ListUsersResponse, ListUsersRefusal> {
        let query = req.query;
        let mut data = self.data.lock().await;
        let after = data.cursors.resume(
            ctx.account(),
            query.cursor.as_deref(),
            list_users_query::CURSOR,
        )?;
        let limit = usize::try_from(query.limit.unwrap_or(20)).unwrap_or(20);
        let email = query.email.as_deref().map(email_key);
        let status = query.status.map(|s| s.as_text());
        let needle = query.q.as_deref().map(str::to_lowercase);
        let matching = data
            .users
            .get(ctx.account())
            .into_iter()
            .flat_map(|users| users.range(after + 1..))
            .map(|(_, record)| record)
            .filter(|r| {
                let doc = &r.doc;
                email
                    .as_ref()
                    .is_none_or(|e| email_key(text(doc, user::EMAIL)) == *e)
                    && status.is_none_or(|s| text(doc, user::STATUS) == s)
                    && needle.as_ref().is_none_or(|needle| {
                        let name = &doc[user::NAME];
                        format!(
                            "{} {} {}",
                            name["firstName"].as_str().unwrap_or_default(),
                            name["lastName"].as_str().unwrap_or_default(),
                            text(doc, user::EMAIL)
                        )
                        .to_lowercase()
                        .contains(needle.as_str())
                    })
            });
        let mut page: Vec<&Record> = matching.take(limit + 1).collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let items = page
            .iter()
            .map(|r| render(r))
            .collect::<Result<Vec<_>, _>>()?;
        let last = page.last().map_or(after, |r| r.seq);
        let next_cursor = more.then(|| data.cursors.issue(ctx.account(), last));
        Ok(ListUsersResponse::Ok {
            body: UserPage { items, next_cursor }.into(),
        })
    }

    async fn create_user(
        &self,
        ctx: RequestContext,
        req: CreateUserRequest,
    ) -> Result<CreateUserResponse, CreateUserRefusal> {
        let sent = serde_json::to_value(&req.body).map_err(internal)?;
        privileged(&ctx.caller, &sent, types::UserCreate::PRIVILEGED_MEMBERS)?;
        if let Some(owner) = &req.body.owner_organization {
            organization(&ctx.caller, Some(&owner.id.to_string()))?;
        }
        let mut data = self.data.lock().await;
        let key = req
            .header
            .idempotency_key
            .map(|key| (ctx.caller.subject.clone(), ctx.account().to_owned(), key));
        // The body as its type serializes it: the same body, the same text.
        let body_hash = sent.to_string();
        let now_at = self.clock.now();
        if let Some(key) = &key
            && let Some(replay) = data.replays.get(key)
            && now_at - replay.at < KEY_LIFETIME
        {
            if replay.body_hash != body_hash {
                return Err(Refused::<422>::new(
                    "idempotency-key-reused",
                    "The idempotency key was used with another request",
                    "the Idempotency-Key was first used with another body",
                )
                .into());
            }
            return Ok(CreateUserResponse::Created {
                e_tag: etag(replay.version),
                location: format!("/v1/users/{}", replay.user.id),
                body: replay.user.clone().into(),
            });
        }
        if data.email_taken(ctx.account(), &req.body.email, None) {
            return Err(email_taken().into());
        }
        let id = uuid::Uuid::new_v4();
        let at = now();
        let mut doc = without_nulls(sent);
        for relation in [user::ROLES, user::TEAMS, user::TAGS] {
            doc.entry(relation).or_insert_with(|| json!([]));
        }
        for flag in [user::IS_ADMIN, user::API_ACCESS, user::MUST_RESET_PASSWORD] {
            doc.entry(flag).or_insert(json!(false));
        }
        for (member, value) in [
            (user::ID, json!(id)),
            (user::ACCOUNT_ID, json!(ctx.account())),
            (user::STATUS, json!(UserStatus::Active.as_text())),
            (user::ACTIVATED_AT, at.clone()),
            (user::EMAIL_VERIFIED, json!(false)),
            (user::INVALID_LOGIN_ATTEMPTS, json!(0)),
            (user::CREATED_AT, at.clone()),
            (user::CREATED_BY, json!(ctx.caller.subject)),
            (user::UPDATED_AT, at.clone()),
            (user::UPDATED_BY, json!(ctx.caller.subject)),
        ] {
            doc.insert(member.into(), value);
        }
        data.seq += 1;
        let record = Record {
            seq: data.seq,
            version: 1,
            doc,
            password_hash: None,
            avatar: None,
        };
        let user = render(&record)?;
        if let Some(key) = key {
            data.replays.insert(
                key,
                Replay {
                    body_hash,
                    user: user.clone(),
                    version: 1,
                    at: now_at,
                },
            );
        }
        data.ids.insert((ctx.account().to_owned(), id), record.seq);
        data.users
            .entry(ctx.account().to_owned())
            .or_default()
            .insert(record.seq, record);
        Ok(CreateUserResponse::Created {
            e_tag: etag(1),
            location: format!("/v1/users/{id}"),
            body: user.into(),
        })
    }

    async fn get_user(
        &self,
        ctx: RequestContext,
        req: GetUserRequest,
    ) -> Result<GetUserResponse, GetUserRefusal> {
        let data = self.data.lock().await;
        let id = req.path.user_id;
        let record = data
            .find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        let tag = etag(record.version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetUserResponse::NotModified { e_tag: tag });
        }
        Ok(GetUserResponse::Ok {
            body: render(record)?.into(),
            e_tag: tag,
        })
    }

    async fn replace_user(
        &self,
        ctx: RequestContext,
        req: ReplaceUserRequest,
    ) -> Result<ReplaceUserResponse, ReplaceUserRefusal> {
        let sent = without_nulls(serde_json::to_value(&req.body).map_err(internal)?);
        let id = req.path.user_id;
        let mut data = self.data.lock().await;
        let record = data
            .find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        may_change(&ctx.caller, &record.doc)?;
        if data.email_taken(ctx.account(), &req.body.email, Some(&id)) {
            return Err(email_taken().into());
        }
        let record = data
            .find_mut(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        // The profile is replaced whole; what is not profile is kept.
        let mut doc: Map<String, Value> = record
            .doc
            .iter()
            .filter(|(k, _)| !UserReplace::MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        doc.extend(sent);
        for relation in [user::TEAMS, user::TAGS] {
            doc.entry(relation).or_insert_with(|| json!([]));
        }
        write(record, doc, &ctx.caller.subject);
        Ok(ReplaceUserResponse::Ok {
            body: render(record)?.into(),
            e_tag: etag(record.version),
        })
    }

    async fn update_user(
        &self,
        ctx: RequestContext,
        req: UpdateUserRequest,
    ) -> Result<UpdateUserResponse, UpdateUserRefusal> {
        let sent = serde_json::to_value(&req.body).map_err(internal)?;
        privileged(&ctx.caller, &sent, UserPatch::PRIVILEGED_MEMBERS)?;
        let id = req.path.user_id;
        let mut data = self.data.lock().await;
        let record = data
            .find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        may_change(&ctx.caller, &record.doc)?;
        if let Some(owner) = &req.body.owner_organization {
            // Out of the organization it is in, into the one named.
            let current = record.doc.get(user::OWNER_ORGANIZATION);
            let current = current.and_then(|o| o[organization_ref::ID].as_str());
            organization(&ctx.caller, current)?;
            let moved_to = owner.as_ref().map(|o| o.id.to_string());
            organization(&ctx.caller, moved_to.as_deref())?;
        }
        // The stored user as a document of the patch's own type, merged
        // member by member as RFC 7396 says (generated `Merge`).
        let mut profile: UserPatch =
            serde_json::from_value(Value::Object(members(&record.doc, UserPatch::MEMBERS)))
                .map_err(internal)?;
        let mut patch = req.body;
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
        let status_before = profile.status;
        profile.merge(patch);
        let mut doc: Map<String, Value> = record
            .doc
            .iter()
            .filter(|(k, _)| !UserPatch::MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        doc.extend(without_nulls(
            serde_json::to_value(&profile).map_err(internal)?,
        ));
        if profile.status != status_before {
            let stamp = match profile.status {
                Some(UserStatus::Active) => user::ACTIVATED_AT,
                Some(UserStatus::Deactivated) => user::DEACTIVATED_AT,
                _ => user::ARCHIVED_AT,
            };
            doc.insert(stamp.into(), now());
        }
        validate_profile(&doc)?;
        let email = text(&doc, user::EMAIL).to_owned();
        if data.email_taken(ctx.account(), &email, Some(&id)) {
            return Err(email_taken().into());
        }
        let record = data
            .find_mut(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        write(record, doc, &ctx.caller.subject);
        Ok(UpdateUserResponse::Ok {
            body: render(record)?.into(),
            e_tag: etag(record.version),
        })
    }

    async fn delete_user(
        &self,
        ctx: RequestContext,
        req: DeleteUserRequest,
    ) -> Result<DeleteUserResponse, DeleteUserRefusal> {
        let id = req.path.user_id;
        let mut data = self.data.lock().await;
        let record = data
            .find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        let seq = record.seq;
        data.ids.remove(&(ctx.account().to_owned(), id));
        if let Some(users) = data.users.get_mut(ctx.account()) {
            users.remove(&seq);
        }
        // The user leaves its groups; each is changed by it.
        for group in data
            .groups
            .entry(ctx.account().to_owned())
            .or_default()
            .values_mut()
        {
            if group.members.contains(&id) {
                group.members.retain(|m| *m != id);
                group.resource_version += 1;
            }
        }
        Ok(DeleteUserResponse::NoContent {})
    }

    async fn set_user_password(
        &self,
        ctx: RequestContext,
        req: SetUserPasswordRequest,
    ) -> Result<SetUserPasswordResponse, SetUserPasswordRefusal> {
        let id = req.path.user_id;
        // Hashing takes a while: before the lock, not under it.
        let new_hash = hash_password(&req.body.new_password)?;
        let mut data = self.data.lock().await;
        let record = data
            .find_mut(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        let own = id.to_string() == ctx.caller.subject;
        if !own && !ctx.caller.is_admin() {
            return Err(forbidden("only an admin or the user themself may set a password").into());
        }
        if own
            && !ctx.caller.is_admin()
            && let Some(hash) = &record.password_hash
        {
            let given = req.body.current_password.as_deref().unwrap_or_default();
            if !password_matches(given, hash) {
                return Err(Refused::<400>::invalid(vec![InvalidField {
                    field: password_change::CURRENT_PASSWORD.into(),
                    message: "does not match the current password".into(),
                    code: "mismatch".into(),
                }])
                .into());
            }
        }
        record.password_hash = Some(new_hash);
        let mut doc = record.doc.clone();
        doc.insert(user::PASSWORD_UPDATED_AT.into(), now());
        write(record, doc, &ctx.caller.subject);
        Ok(SetUserPasswordResponse::NoContent {
            e_tag: etag(record.version),
        })
    }

    async fn get_user_avatar(
        &self,
        ctx: RequestContext,
        req: GetUserAvatarRequest,
    ) -> Result<GetUserAvatarResponse, GetUserAvatarRefusal> {
        let data = self.data.lock().await;
        let id = req.path.user_id;
        let record = data
            .find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        let (content_type, image) = record.avatar.clone().ok_or_else(|| no_avatar(&id))?;
        // The image is part of the user: one version, one entity tag.
        let tag = etag(record.version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetUserAvatarResponse::NotModified { e_tag: tag });
        }
        Ok(GetUserAvatarResponse::Ok {
            body: image,
            content_type,
            e_tag: tag,
        })
    }

    async fn set_user_avatar(
        &self,
        ctx: RequestContext,
        req: SetUserAvatarRequest,
    ) -> Result<SetUserAvatarResponse, SetUserAvatarRefusal> {
        let id = req.path.user_id;
        let media = image_type(&req.body)?;
        let mut data = self.data.lock().await;
        let record = data
            .find_mut(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        may_change(&ctx.caller, &record.doc)?;
        record.avatar = Some((media, req.body.bytes));
        let mut doc = record.doc.clone();
        doc.insert(user::AVATAR_UPDATED_AT.into(), now());
        bump(record, doc, &ctx.caller.subject);
        Ok(SetUserAvatarResponse::NoContent {
            e_tag: etag(record.version),
        })
    }

    async fn delete_user_avatar(
        &self,
        ctx: RequestContext,
        req: DeleteUserAvatarRequest,
    ) -> Result<DeleteUserAvatarResponse, DeleteUserAvatarRefusal> {
        let id = req.path.user_id;
        let mut data = self.data.lock().await;
        let record = data
            .find_mut(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        precondition(req.header.if_match.as_ref(), record.version)?;
        may_change(&ctx.caller, &record.doc)?;
        if record.avatar.take().is_none() {
            return Err(no_avatar(&id).into());
        }
        let mut doc = record.doc.clone();
        doc.remove(user::AVATAR_UPDATED_AT);
        bump(record, doc, &ctx.caller.subject);
        Ok(DeleteUserAvatarResponse::NoContent {
            e_tag: etag(record.version),
        })
    }

    async fn list_groups(
        &self,
        ctx: RequestContext,
        req: ListGroupsRequest,
    ) -> Result<ListGroupsResponse, ListGroupsRefusal> {
        let query = req.query;
        let needle = query.q.as_deref().map(str::to_lowercase);
        let mut data = self.data.lock().await;
        let page = data.group_page(
            ctx.account(),
            query.cursor.as_deref(),
            list_groups_query::CURSOR,
            query.limit,
            |g| {
                query.member.is_none_or(|m| g.members.contains(&m))
                    && needle.as_ref().is_none_or(|needle| {
                        format!(
                            "{} {}",
                            g.name,
                            g.description.as_deref().unwrap_or_default()
                        )
                        .to_lowercase()
                        .contains(needle.as_str())
                    })
            },
        )?;
        Ok(ListGroupsResponse::Ok { body: page.into() })
    }

    async fn list_user_groups(
        &self,
        ctx: RequestContext,
        req: ListUserGroupsRequest,
    ) -> Result<ListUserGroupsResponse, ListUserGroupsRefusal> {
        let id = req.path.user_id;
        let mut data = self.data.lock().await;
        data.find(ctx.account(), &id)
            .ok_or_else(|| not_found(&id))?;
        let page = data.group_page(
            ctx.account(),
            req.query.cursor.as_deref(),
            list_user_groups_query::CURSOR,
            req.query.limit,
            |g| g.members.contains(&id),
        )?;
        Ok(ListUserGroupsResponse::Ok { body: page.into() })
    }

    async fn create_group(
        &self,
        ctx: RequestContext,
        req: CreateGroupRequest,
    ) -> Result<CreateGroupResponse, CreateGroupRefusal> {
        let body = req.body;
        let body_hash = serde_json::to_string(&body).map_err(internal)?;
        let mut data = self.data.lock().await;
        let key = req
            .header
            .idempotency_key
            .map(|key| (ctx.caller.subject.clone(), ctx.account().to_owned(), key));
        let now_at = self.clock.now();
        if let Some(key) = &key
            && let Some(replay) = data.group_replays.get(key)
            && now_at - replay.at < KEY_LIFETIME
        {
            if replay.body_hash != body_hash {
                return Err(Refused::<422>::new(
                    "idempotency-key-reused",
                    "The idempotency key was used with another request",
                    "the Idempotency-Key was first used with another body",
                )
                .into());
            }
            return Ok(CreateGroupResponse::Created {
                e_tag: etag(replay.group.resource_version),
                location: format!("/v1/groups/{}", replay.group.id),
                body: replay.group.clone().into(),
            });
        }
        if data.name_taken(ctx.account(), &body.name, None) {
            return Err(name_taken().into());
        }
        let members = body.members.unwrap_or_default();
        data.members_known(ctx.account(), group_create::MEMBERS, &members)?;
        let group = Group {
            id: uuid::Uuid::new_v4(),
            account_id: ctx.account().to_owned(),
            name: body.name,
            description: body.description,
            external_id: body.external_id,
            members: members.into_iter().collect(),
            created_at: now_at,
            created_by: ctx.caller.subject.clone(),
            updated_at: now_at,
            updated_by: ctx.caller.subject.clone(),
            resource_version: 1,
        };
        if let Some(key) = key {
            data.group_replays.insert(
                key,
                GroupReplay {
                    body_hash,
                    group: group.clone(),
                    at: now_at,
                },
            );
        }
        data.group_seq += 1;
        let seq = data.group_seq;
        data.group_ids
            .insert((ctx.account().to_owned(), group.id), seq);
        data.groups
            .entry(ctx.account().to_owned())
            .or_default()
            .insert(seq, group.clone());
        Ok(CreateGroupResponse::Created {
            e_tag: etag(1),
            location: format!("/v1/groups/{}", group.id),
            body: group.into(),
        })
    }

    async fn get_group(
        &self,
        ctx: RequestContext,
        req: GetGroupRequest,
    ) -> Result<GetGroupResponse, GetGroupRefusal> {
        let data = self.data.lock().await;
        let id = req.path.group_id;
        let group = data
            .find_group(ctx.account(), &id)
            .ok_or_else(|| group_not_found(&id))?;
        let tag = etag(group.resource_version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetGroupResponse::NotModified { e_tag: tag });
        }
        Ok(GetGroupResponse::Ok {
            body: group.clone().into(),
            e_tag: tag,
        })
    }

    async fn update_group(
        &self,
        ctx: RequestContext,
        req: UpdateGroupRequest,
    ) -> Result<UpdateGroupResponse, UpdateGroupRefusal> {
        let id = req.path.group_id;
        let mut data = self.data.lock().await;
        let group = data
            .find_group(ctx.account(), &id)
            .ok_or_else(|| group_not_found(&id))?
            .clone();
        precondition(req.header.if_match.as_ref(), group.resource_version)?;
        if !ctx.caller.is_admin() && group.created_by != ctx.caller.subject {
            return Err(forbidden("only an admin or the group's creator may change it").into());
        }
        let mut patch = req.body;
        let field = if patch.add_members.is_some() {
            group_patch::ADD_MEMBERS
        } else {
            group_patch::MEMBERS
        };
        // The group as a patch of every member, merged as RFC 7396 says.
        let mut profile = GroupPatch {
            name: Some(group.name.clone()),
            description: Some(group.description.clone()),
            external_id: Some(group.external_id.clone()),
            members: Some(group.members.iter().copied().collect()),
            ..GroupPatch::default()
        };
        merge::fold_lists(
            &mut patch.members,
            patch.add_members.take(),
            patch.remove_members.take(),
            profile.members.as_ref(),
        );
        profile.merge(patch);
        let merged = GroupCreate {
            name: profile.name.unwrap_or(group.name.clone()),
            description: profile.description.flatten(),
            external_id: profile.external_id.flatten(),
            members: profile.members,
        };
        // What a new group may be, the merged one must be (the contract's
        // generated validation judges it).
        let text = serde_json::to_string(&merged).map_err(internal)?;
        match decode::text::<GroupCreate>(&text) {
            Ok(_) => {}
            Err(decode::BodyError::Invalid(errors)) => {
                return Err(Refused::<400>::invalid(errors).into());
            }
            Err(decode::BodyError::Syntax(e)) => return Err(internal(e).into()),
        }
        let members: Vec<uuid::Uuid> = merged.members.unwrap_or_default().into_iter().collect();
        data.members_known(ctx.account(), field, &members)?;
        if data.name_taken(ctx.account(), &merged.name, Some(&id)) {
            return Err(name_taken().into());
        }
        let stored = data
            .find_group_mut(ctx.account(), &id)
            .ok_or_else(|| group_not_found(&id))?;
        let changed = Group {
            name: merged.name,
            description: merged.description,
            external_id: merged.external_id,
            members,
            ..stored.clone()
        };
        if changed != *stored {
            *stored = Group {
                updated_at: self.clock.now(),
                updated_by: ctx.caller.subject.clone(),
                resource_version: stored.resource_version + 1,
                ..changed
            };
        }
        Ok(UpdateGroupResponse::Ok {
            body: stored.clone().into(),
            e_tag: etag(stored.resource_version),
        })
    }

    async fn delete_group(
        &self,
        ctx: RequestContext,
        req: DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, DeleteGroupRefusal> {
        let id = req.path.group_id;
        let mut data = self.data.lock().await;
        let group = data
            .find_group(ctx.account(), &id)
            .ok_or_else(|| group_not_found(&id))?;
        precondition(req.header.if_match.as_ref(), group.resource_version)?;
        if let Some(seq) = data.group_ids.remove(&(ctx.account().to_owned(), id))
            && let Some(groups) = data.groups.get_mut(ctx.account())
        {
            groups.remove(&seq);
        }
        Ok(DeleteGroupResponse::NoContent {})
    }
}

/// Writes `doc` as the user's new version, unless it changes nothing.
fn write(record: &mut Record, doc: Map<String, Value>, by: &str) {
    if doc != record.doc {
        bump(record, doc, by);
    }
}

/// Stores `doc` as the user's next version, whatever changed (an image
/// beside the document is a change too).
fn bump(record: &mut Record, mut doc: Map<String, Value>, by: &str) {
    doc.insert(user::UPDATED_AT.into(), now());
    doc.insert(user::UPDATED_BY.into(), json!(by));
    record.doc = doc;
    record.version += 1;
}

const SECRET: &[u8] = b"contract-only-example-secret-32b";
const ISSUER: &str = "contract-only-example";
const AUDIENCE: &str = "users-api";

fn directory() -> Directory {
    Directory {
        tokens: Tokens::hs256(SECRET, ISSUER, AUDIENCE),
        data: Mutex::new(Data::default()),
        clock: Clock::default(),
    }
}

fn tokens() -> users_conformance::TokenIssuer {
    users_conformance::TokenIssuer::Hs256 {
        secret: SECRET.to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    }
}

/// The kit's verdict on the directory, its clock moved by the kit.
async fn check() -> anyhow::Result<users_conformance::Report> {
    let directory = directory();
    let clock = directory.clock.control();
    users_conformance::run_router_with_clock(
        users_api::router(Arc::new(directory)),
        tokens(),
        clock,
        "",
    )
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = check().await?;
    print!("{}", report.text());
    anyhow::ensure!(report.passed(), "a promise is broken");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_contract_only_backend_keeps_every_promise() {
        let report = super::check().await.unwrap();
        assert_eq!(report.outcomes.len(), users_conformance::checks().len());
        assert!(report.passed(), "{}", report.text());
        assert_eq!(report.not_run().count(), 0, "{}", report.text());
    }
}
