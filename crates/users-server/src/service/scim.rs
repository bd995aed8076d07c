//! SCIM 2.0 provisioning ([`scim_api::ScimApi`]) over the same store as
//! `/v1/users` and `/v1/groups`: a SCIM user is a stored user read through
//! another mapping, a SCIM group a stored group, and both APIs share one
//! version sequence (SCIM shows it as a weak ETag, `W/"3"`).
//!
//! | SCIM | stored user |
//! |---|---|
//! | `userName` | `email` |
//! | `name.givenName`, `name.familyName` | `name.firstName`, `name.lastName` |
//! | `active` | `status` is `active` (`false` deactivates) |
//! | `title` | `jobTitle` |
//! | `emails` (read-only) | `email` (`work`, primary) and `secondaryEmail` (`home`) |
//! | `phoneNumbers` | `phone` (`work`) and `mobilePhone` (`mobile`) |
//! | `externalId` | `externalId` |
//! | enterprise `employeeNumber` | `employeeId` |
//!
//! Every write is checked by the Users API's own generated decoders (a SCIM
//! user must be what a user may be), its field errors named in SCIM's
//! terms. Filters run in the database (`query`), PATCH applies to the SCIM
//! representation and writes the result as a replacement does (`patch`).

mod discovery;
mod filter;
mod patch;
mod query;

use scim_api::types::{
    EnterpriseUser, GroupListResponse, MemberRef, Meta, MultiValue, PatchOp, ResourceType,
    ResourceTypeList, Schema, SchemaList, ScimGroup, ScimName, ScimUser, ServiceProviderConfig,
    UserListResponse,
};
use scim_api::*;
use serde_json::{Map, Value, json};
use users_api::names::{group, name, user};
use users_api::runtime::decode::FromText;
use users_api::runtime::{self, InvalidField, Refused};
use users_api::types::{GroupCreate, UserCreate, UserReplace, UserStatus};

use super::groups::new_group_doc;
use super::{Service, internal, members_of, new_user_doc, now};
use crate::store::query::{Condition, Query};
use crate::store::{
    AvatarChange, GroupRef, GroupRow, LockedGroup, LockedUser, Store, StoreError, StoredGroup,
    StoredUser, UserRow,
};

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The most results a page holds (and the default `count`).
pub(crate) const MAX_COUNT: i64 = 200;
const DEFAULT_COUNT: i64 = 100;
/// The most groups a user's `groups` lists.
const MAX_GROUPS_SHOWN: usize = 1000;

/// The members of a stored user SCIM reads and writes; a replacement
/// leaves every other member as it is.
const SCIM_MEMBERS: [&str; 7] = [
    user::EMAIL,
    user::NAME,
    user::EXTERNAL_ID,
    user::JOB_TITLE,
    user::PHONE,
    user::MOBILE_PHONE,
    user::EMPLOYEE_ID,
];

const USER_RULES: patch::Rules = patch::Rules {
    read_only: &["id", "meta", "groups", "displayName"],
    // Sent by identity providers with every change, and set here from
    // userName: left alone, as a replacement leaves them.
    ignored: &["emails", "schemas"],
    core_schema: USER_SCHEMA,
    extensions: &[query::ENTERPRISE],
};

const GROUP_RULES: patch::Rules = patch::Rules {
    read_only: &["id", "meta"],
    ignored: &["schemas"],
    core_schema: GROUP_SCHEMA,
    extensions: &[],
};

/// A version as SCIM shows it: a weak entity tag.
fn version_tag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn weak_etag(version: i64) -> headers::ETag {
    version_tag(version)
        .parse()
        .expect("a quoted number is an entity tag")
}

/// `If-Match` compared weakly, as RFC 7644 §3.14 uses weak tags: absent,
/// `*`, or a tag of `version` (with or without `W/`).
fn if_match_passes(if_match: Option<&headers::IfMatch>, version: i64) -> bool {
    let Some(if_match) = if_match else {
        return true;
    };
    if if_match.is_any() {
        return true;
    }
    let mut values = Vec::new();
    headers::Header::encode(if_match, &mut values);
    let want = format!("\"{version}\"");
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag.strip_prefix("W/").unwrap_or(tag) == want)
}

fn stale(version: i64) -> Refused<412> {
    Refused::new(
        "precondition-failed",
        "The resource has changed",
        format!("the resource is at version {}", version_tag(version)),
    )
}

fn not_found(kind: &str, id: &str) -> Refused<404> {
    Refused::new(
        "not-found",
        "Not found",
        format!("no {kind} {id} in this account"),
    )
}

fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Refused<400> {
    Refused::new(scim_type, "The request is invalid", detail)
}

fn taken(what: &str) -> Refused<409> {
    Refused::new(
        "uniqueness",
        "The value is taken",
        format!("{what} is already used in this account"),
    )
}

/// The Users API's field errors, named as SCIM names the attributes.
fn scim_errors(errors: Vec<InvalidField>, names: &[(&str, &str)]) -> Refused<400> {
    let errors = errors
        .into_iter()
        .map(|mut error| {
            if let Some((from, to)) = names.iter().find(|(from, _)| {
                error.field == *from || error.field.starts_with(&format!("{from}."))
            }) {
                error.field = format!("{to}{}", &error.field[from.len()..]);
            }
            error
        })
        .collect();
    Refused::fields("invalidValue", "The request is invalid", errors)
}

const USER_NAMES: [(&str, &str); 9] = [
    ("name.firstName", "name.givenName"),
    ("name.lastName", "name.familyName"),
    (user::NAME, "name"),
    (user::EMAIL, "userName"),
    (user::JOB_TITLE, "title"),
    (user::SECONDARY_EMAIL, "emails"),
    (user::MOBILE_PHONE, "phoneNumbers"),
    (user::PHONE, "phoneNumbers"),
    (
        user::EMPLOYEE_ID,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ),
];

const GROUP_NAMES: [(&str, &str); 1] = [(group::NAME, "displayName")];

/// Checks `body` with the Users API's decoder for `T`.
fn check<T: runtime::decode::Decode>(
    body: &Value,
    names: &[(&str, &str)],
) -> Result<(), Refused<400>> {
    match runtime::decode::text::<T>(&body.to_string()) {
        Ok(_) => Ok(()),
        Err(runtime::decode::BodyError::Invalid(errors)) => Err(scim_errors(errors, names)),
        Err(runtime::decode::BodyError::Syntax(e)) => {
            Err(bad_request("invalidSyntax", e.to_string()))
        }
    }
}

/// A phone number as E.164 (`+15551234567`), from the forms SCIM clients
/// send (`tel:+1-555-123-4567`, `+1 (555) 123 4567`).
fn e164(value: &str) -> String {
    let value = value.trim();
    let value = value.strip_prefix("tel:").unwrap_or(value);
    value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

/// The members of a stored user a SCIM user sets, and what it says of
/// `active`.
fn user_profile(scim: &ScimUser) -> Result<(Map<String, Value>, Option<bool>), Refused<400>> {
    let mut profile = Map::new();
    let mut errors = Vec::new();
    let user_name = scim.user_name.clone().unwrap_or_default();
    if scim.user_name.is_some() {
        profile.insert(user::EMAIL.into(), json!(user_name));
    }
    if let Some(scim_name) = &scim.name {
        let mut name = Map::new();
        if let Some(given) = &scim_name.given_name {
            name.insert(name::FIRST_NAME.into(), json!(given));
        }
        if let Some(family) = &scim_name.family_name {
            name.insert(name::LAST_NAME.into(), json!(family));
        }
        profile.insert(user::NAME.into(), Value::Object(name));
    }
    for (member, value) in [
        (user::EXTERNAL_ID, scim.external_id.as_ref()),
        (user::JOB_TITLE, scim.title.as_ref()),
        (
            user::EMPLOYEE_ID,
            scim.urn_ietf_params_scim_schemas_extension_enterprise_2_0_user
                .as_ref()
                .and_then(|e| e.employee_number.as_ref()),
        ),
    ] {
        if let Some(value) = value {
            profile.insert(member.into(), json!(value));
        }
    }
    for phone in scim.phone_numbers.iter().flatten() {
        let Some(value) = phone.value.as_deref() else {
            continue;
        };
        let member = if phone
            .type_
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("mobile"))
        {
            user::MOBILE_PHONE
        } else {
            user::PHONE
        };
        if profile.insert(member.into(), json!(e164(value))).is_some() {
            errors.push(InvalidField {
                code: "invalidValue".into(),
                field: "phoneNumbers".into(),
                message: "holds at most one work and one mobile number".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(Refused::fields(
            "invalidValue",
            "The request is invalid",
            errors,
        ));
    }
    Ok((profile, scim.active))
}

/// Sets the status `active` asks for, stamping the change.
fn set_active(doc: &mut Value, active: Option<bool>) {
    let status = doc[user::STATUS].as_str().unwrap_or_default().to_owned();
    let (to, stamp) = match active {
        Some(true) if status != UserStatus::Active.as_text() => {
            (UserStatus::Active, user::ACTIVATED_AT)
        }
        Some(false) if status == UserStatus::Active.as_text() => {
            (UserStatus::Deactivated, user::DEACTIVATED_AT)
        }
        _ => return,
    };
    doc[user::STATUS] = json!(to.as_text());
    doc[stamp] = json!(now());
}

fn text(doc: &Value, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn time(doc: &Value, key: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    doc.get(key)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A stored user as SCIM shows it, with its groups.
fn scim_user(stored: &StoredUser, groups: &[GroupRef]) -> ScimUser {
    let doc = &stored.doc;
    let given = doc[user::NAME][name::FIRST_NAME]
        .as_str()
        .map(str::to_owned);
    let family = doc[user::NAME][name::LAST_NAME].as_str().map(str::to_owned);
    let whole = [given.as_deref(), family.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut emails = Vec::new();
    if let Some(email) = text(doc, user::EMAIL) {
        emails.push(MultiValue {
            value: Some(email),
            type_: Some("work".into()),
            primary: Some(true),
            display: None,
        });
    }
    if let Some(email) = text(doc, user::SECONDARY_EMAIL) {
        emails.push(MultiValue {
            value: Some(email),
            type_: Some("home".into()),
            primary: None,
            display: None,
        });
    }
    let phones: Vec<MultiValue> = [(user::PHONE, "work"), (user::MOBILE_PHONE, "mobile")]
        .into_iter()
        .filter_map(|(member, kind)| {
            text(doc, member).map(|value| MultiValue {
                value: Some(value),
                type_: Some(kind.into()),
                primary: None,
                display: None,
            })
        })
        .collect();
    let employee = text(doc, user::EMPLOYEE_ID);
    let mut schemas = vec![USER_SCHEMA.to_owned()];
    if employee.is_some() {
        schemas.push(query::ENTERPRISE.to_owned());
    }
    ScimUser {
        schemas: Some(schemas),
        id: Some(stored.id.clone()),
        external_id: text(doc, user::EXTERNAL_ID),
        user_name: text(doc, user::EMAIL),
        name: Some(ScimName {
            formatted: None,
            given_name: given,
            family_name: family,
        }),
        display_name: Some(whole),
        title: text(doc, user::JOB_TITLE),
        active: Some(doc[user::STATUS] == UserStatus::Active.as_text()),
        emails: (!emails.is_empty()).then_some(emails),
        phone_numbers: (!phones.is_empty()).then_some(phones),
        groups: (!groups.is_empty()).then(|| {
            groups
                .iter()
                .map(|g| MemberRef {
                    value: g.id.clone(),
                    ref_: Some(format!("/scim/v2/Groups/{}", g.id)),
                    display: g.name.clone(),
                    type_: Some("direct".into()),
                })
                .collect()
        }),
        urn_ietf_params_scim_schemas_extension_enterprise_2_0_user: employee.map(|e| {
            EnterpriseUser {
                employee_number: Some(e),
            }
        }),
        meta: Some(Meta {
            resource_type: Some("User".into()),
            created: time(doc, user::CREATED_AT),
            last_modified: time(doc, user::UPDATED_AT),
            location: Some(format!("/scim/v2/Users/{}", stored.id)),
            version: Some(version_tag(stored.resource_version)),
        }),
    }
}

/// A stored group as SCIM shows it.
fn scim_group(stored: &StoredGroup) -> ScimGroup {
    let doc = &stored.doc;
    ScimGroup {
        schemas: Some(vec![GROUP_SCHEMA.to_owned()]),
        id: Some(stored.id.clone()),
        external_id: text(doc, group::EXTERNAL_ID),
        display_name: text(doc, group::NAME),
        members: (!stored.members.is_empty()).then(|| {
            stored
                .members
                .iter()
                .map(|id| MemberRef {
                    value: id.clone(),
                    ref_: Some(format!("/scim/v2/Users/{id}")),
                    display: None,
                    type_: Some("User".into()),
                })
                .collect()
        }),
        meta: Some(Meta {
            resource_type: Some("Group".into()),
            created: time(doc, group::CREATED_AT),
            last_modified: time(doc, group::UPDATED_AT),
            location: Some(format!("/scim/v2/Groups/{}", stored.id)),
            version: Some(version_tag(stored.resource_version)),
        }),
    }
}

/// The members of a stored group a SCIM group sets (members apart), and
/// its members.
fn group_profile(scim: &ScimGroup) -> (Value, Vec<String>) {
    let mut profile = Map::new();
    if let Some(name) = &scim.display_name {
        profile.insert(group::NAME.into(), json!(name));
    }
    if let Some(external) = &scim.external_id {
        profile.insert(group::EXTERNAL_ID.into(), json!(external));
    }
    let mut members: Vec<String> = scim
        .members
        .iter()
        .flatten()
        .map(|m| m.value.to_lowercase())
        .collect();
    members.sort();
    members.dedup();
    (Value::Object(profile), members)
}

/// `attributes` and `excludedAttributes`: which members a response keeps.
#[derive(Debug, Default)]
struct Projection {
    only: Vec<filter::AttrPath>,
    without: Vec<filter::AttrPath>,
}

impl Projection {
    fn new(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, Refused<400>> {
        let parse = |list: Option<&str>| -> Result<Vec<filter::AttrPath>, Refused<400>> {
            list.into_iter()
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| {
                    filter::parse_path(a)
                        .map(|p| p.attr)
                        .map_err(|e| bad_request("invalidValue", format!("{a}: {e}")))
                })
                .collect()
        };
        Ok(Self {
            only: parse(attributes)?,
            without: parse(excluded)?,
        })
    }

    /// Keeps what the projection asks for; `id` and `schemas` always stay.
    fn apply(&self, resource: Value, core: &str) -> Value {
        let Value::Object(mut object) = resource else {
            return resource;
        };
        let names = |path: &filter::AttrPath| -> (Option<String>, String, Option<String>) {
            match path.urn.as_deref() {
                Some(urn) if !urn.eq_ignore_ascii_case(core) => {
                    (Some(urn.to_owned()), path.name.clone(), path.sub.clone())
                }
                _ => (None, path.name.clone(), path.sub.clone()),
            }
        };
        let always = |key: &str| key == "id" || key == "schemas";
        if !self.only.is_empty() {
            let wanted: Vec<_> = self.only.iter().map(names).collect();
            object.retain(|key, value| {
                if always(key) {
                    return true;
                }
                let here: Vec<_> = wanted
                    .iter()
                    .filter(|(urn, name, _)| match urn {
                        Some(urn) => urn.eq_ignore_ascii_case(key),
                        None => name.eq_ignore_ascii_case(key),
                    })
                    .collect();
                if here.is_empty() {
                    return false;
                }
                // Whole, unless only some of its sub-attributes are asked.
                let subs: Vec<&str> = here
                    .iter()
                    .filter_map(|(urn, name, sub)| match urn {
                        Some(_) => Some(name.as_str()),
                        None => sub.as_deref(),
                    })
                    .collect();
                let whole = here
                    .iter()
                    .any(|(urn, _, sub)| urn.is_none() && sub.is_none());
                if !whole && !subs.is_empty() {
                    match value {
                        Value::Object(inner) => {
                            inner.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)));
                        }
                        Value::Array(items) => {
                            for item in items {
                                if let Value::Object(inner) = item {
                                    inner.retain(|k, _| {
                                        subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                                    });
                                }
                            }
                        }
                        _ => {}
                    }
                }
                true
            });
        }
        for (urn, name, sub) in self.without.iter().map(names) {
            let (container_key, inner_key) = match &urn {
                Some(urn) => (urn.clone(), Some(name)),
                None => (name, sub),
            };
            if always(&container_key) {
                continue;
            }
            let Some(key) = object
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&container_key))
                .cloned()
            else {
                continue;
            };
            match inner_key {
                None => {
                    object.remove(&key);
                }
                Some(inner) => match object.get_mut(&key) {
                    Some(Value::Object(members)) => {
                        members.retain(|k, _| !k.eq_ignore_ascii_case(&inner));
                    }
                    Some(Value::Array(items)) => {
                        for item in items {
                            if let Value::Object(members) = item {
                                members.retain(|k, _| !k.eq_ignore_ascii_case(&inner));
                            }
                        }
                    }
                    _ => {}
                },
            }
        }
        Value::Object(object)
    }

    fn user(&self, user: ScimUser) -> Result<ScimUser, Refused<500>> {
        if self.only.is_empty() && self.without.is_empty() {
            return Ok(user);
        }
        let value = serde_json::to_value(user).map_err(internal)?;
        serde_json::from_value(self.apply(value, USER_SCHEMA)).map_err(internal)
    }

    fn group(&self, group: ScimGroup) -> Result<ScimGroup, Refused<500>> {
        if self.only.is_empty() && self.without.is_empty() {
            return Ok(group);
        }
        let value = serde_json::to_value(group).map_err(internal)?;
        serde_json::from_value(self.apply(value, GROUP_SCHEMA)).map_err(internal)
    }
}

/// A page's place: the offset and limit of a 1-based `startIndex` and a
/// `count` (each clamped as RFC 7644 §3.4.2.4 says).
fn page(start_index: Option<i32>, count: Option<i32>) -> (i64, i64, i64) {
    let start = i64::from(start_index.unwrap_or(1)).max(1);
    let count = i64::from(count.unwrap_or(DEFAULT_COUNT as i32)).clamp(0, MAX_COUNT);
    (start - 1, count, start)
}

fn list_query(
    resource: query::Resource,
    filter_text: Option<&str>,
    sort_by: Option<&str>,
    descending: bool,
    offset: i64,
    limit: i64,
) -> Result<Query, Refused<400>> {
    let condition = match filter_text.map(str::trim).filter(|f| !f.is_empty()) {
        Some(text) => {
            let parsed = filter::parse(text)
                .map_err(|e| bad_request("invalidFilter", format!("filter: {e}")))?;
            query::condition(resource, &parsed)
                .map_err(|e| bad_request("invalidFilter", format!("filter: {}", e.0)))?
        }
        None => Condition::True,
    };
    let sort = match sort_by {
        Some(sort_by) => Some((
            query::sort_field(resource, sort_by).map_err(|e| bad_request("invalidValue", e.0))?,
            descending,
        )),
        None => None,
    };
    Ok(Query {
        condition,
        sort,
        offset,
        limit,
    })
}

/// What a user write can be refused with.
trait UserWriteRefusal:
    From<Refused<400>>
    + From<Refused<404>>
    + From<Refused<409>>
    + From<Refused<412>>
    + From<Refused<500>>
{
}

impl<T> UserWriteRefusal for T where
    T: From<Refused<400>>
        + From<Refused<404>>
        + From<Refused<409>>
        + From<Refused<412>>
        + From<Refused<500>>
{
}

impl<S: Store> Service<S> {
    /// Users as SCIM shows them, their groups read in one query.
    async fn scim_users_of(
        &self,
        account: &str,
        stored: &[StoredUser],
    ) -> Result<Vec<ScimUser>, Refused<500>> {
        let ids: Vec<String> = stored.iter().map(|u| u.id.clone()).collect();
        let mut groups = self
            .store
            .groups_of_users(account, &ids, MAX_GROUPS_SHOWN)
            .await
            .map_err(internal)?;
        Ok(stored
            .iter()
            .map(|u| scim_user(u, &groups.remove(&u.id).unwrap_or_default()))
            .collect())
    }

    async fn scim_user_of(
        &self,
        account: &str,
        stored: &StoredUser,
    ) -> Result<ScimUser, Refused<500>> {
        let mut users = self
            .scim_users_of(account, std::slice::from_ref(stored))
            .await?;
        Ok(users.remove(0))
    }

    /// Creates a user from its SCIM representation.
    async fn scim_create_user<E>(
        &self,
        ctx: &RequestContext,
        scim: &ScimUser,
    ) -> Result<StoredUser, E>
    where
        E: From<Refused<400>> + From<Refused<409>> + From<Refused<500>>,
    {
        let (profile, active) = user_profile(scim)?;
        let body = Value::Object(profile);
        check::<UserCreate>(&body, &USER_NAMES)?;
        let (id, mut doc) = new_user_doc(ctx, body);
        set_active(&mut doc, active);
        let row = UserRow {
            account_id: ctx.account().to_owned(),
            id: id.to_string(),
            resource_version: 1,
            doc,
            password_hash: None,
            avatar: AvatarChange::Keep,
        };
        match self.store.insert(row, None).await {
            Ok(stored) => Ok(stored),
            Err(StoreError::EmailTaken) => Err(taken("userName").into()),
            Err(err) => Err(internal(err).into()),
        }
    }

    /// Reads, changes and writes a user with it locked in between, as
    /// `Service::modify` does, comparing `If-Match` weakly; `change` gives
    /// the new SCIM representation from the current one.
    async fn scim_write_user<E: UserWriteRefusal>(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<&headers::IfMatch>,
        change: impl FnOnce(ScimUser) -> Result<ScimUser, E>,
    ) -> Result<StoredUser, E> {
        let locked = match self.store.lock(ctx.account(), id).await {
            Ok(Some(locked)) => locked,
            Ok(None) | Err(StoreError::NotFound) => return Err(not_found("user", id).into()),
            Err(err) => return Err(internal(err).into()),
        };
        let current = locked.current().clone();
        if !if_match_passes(if_match, current.resource_version) {
            return Err(stale(current.resource_version).into());
        }
        let scim = change(scim_user(&current, &[]))?;
        let (profile, active) = user_profile(&scim)?;
        let mut doc = current.doc.clone();
        if let Some(object) = doc.as_object_mut() {
            object.retain(|k, _| !SCIM_MEMBERS.contains(&k.as_str()));
            object.extend(profile);
        }
        set_active(&mut doc, active);
        // The changed user must be what a whole profile may be.
        check::<UserReplace>(
            &Value::Object(members_of(&doc, UserReplace::MEMBERS)),
            &USER_NAMES,
        )?;
        if doc == current.doc {
            return Ok(current);
        }
        doc[user::UPDATED_AT] = json!(now());
        doc[user::UPDATED_BY] = json!(ctx.caller.subject);
        let row = UserRow {
            account_id: ctx.account().to_owned(),
            id: current.id.clone(),
            resource_version: current.resource_version + 1,
            doc,
            password_hash: None,
            avatar: AvatarChange::Keep,
        };
        match locked.write(row).await {
            Ok(stored) => Ok(stored),
            Err(StoreError::EmailTaken) => Err(taken("userName").into()),
            Err(StoreError::VersionMismatch { current }) => Err(stale(current).into()),
            Err(StoreError::NotFound) => Err(not_found("user", id).into()),
            Err(err) => Err(internal(err).into()),
        }
    }

    /// Creates a group from its SCIM representation.
    async fn scim_create_group<E>(
        &self,
        ctx: &RequestContext,
        scim: &ScimGroup,
    ) -> Result<StoredGroup, E>
    where
        E: From<Refused<400>> + From<Refused<409>> + From<Refused<500>>,
    {
        let (profile, members) = group_profile(scim);
        let mut checked = profile.clone();
        checked[group::MEMBERS] = json!(members);
        check::<GroupCreate>(&checked, &GROUP_NAMES)?;
        let (id, doc) = new_group_doc(ctx, profile);
        let row = GroupRow {
            account_id: ctx.account().to_owned(),
            id: id.to_string(),
            resource_version: 1,
            doc,
            members,
        };
        self.store
            .insert_group(row, None)
            .await
            .map_err(|err| group_store_error::<E>(err))
    }

    async fn scim_write_group<E: UserWriteRefusal>(
        &self,
        ctx: &RequestContext,
        id: &str,
        if_match: Option<&headers::IfMatch>,
        change: impl FnOnce(ScimGroup) -> Result<ScimGroup, E>,
    ) -> Result<StoredGroup, E> {
        let locked = match self.store.lock_group(ctx.account(), id).await {
            Ok(Some(locked)) => locked,
            Ok(None) | Err(StoreError::NotFound) => return Err(not_found("group", id).into()),
            Err(err) => return Err(internal(err).into()),
        };
        let current = locked.current().clone();
        if !if_match_passes(if_match, current.resource_version) {
            return Err(stale(current.resource_version).into());
        }
        let scim = change(scim_group(&current))?;
        let (profile, members) = group_profile(&scim);
        let mut checked = profile.clone();
        checked[group::MEMBERS] = json!(members);
        check::<GroupCreate>(&checked, &GROUP_NAMES)?;
        let mut doc = current.doc.clone();
        if let (Some(object), Value::Object(profile)) = (doc.as_object_mut(), profile) {
            object.retain(|k, _| k != group::NAME && k != group::EXTERNAL_ID);
            object.extend(profile);
        }
        if doc == current.doc && members == current.members {
            return Ok(current);
        }
        doc[group::UPDATED_AT] = json!(now());
        doc[group::UPDATED_BY] = json!(ctx.caller.subject);
        let row = GroupRow {
            account_id: ctx.account().to_owned(),
            id: current.id.clone(),
            resource_version: current.resource_version + 1,
            doc,
            members,
        };
        locked.write(row).await.map_err(|err| match err {
            StoreError::VersionMismatch { current } => stale(current).into(),
            StoreError::NotFound => not_found("group", id).into(),
            other => group_store_error::<E>(other),
        })
    }
}

fn group_store_error<E>(err: StoreError) -> E
where
    E: From<Refused<400>> + From<Refused<409>> + From<Refused<500>>,
{
    match err {
        StoreError::NameTaken => taken("displayName").into(),
        StoreError::UnknownMember(member) => bad_request(
            "invalidValue",
            format!("members: {member} is no user of this account"),
        )
        .into(),
        other => internal(other).into(),
    }
}

/// A PATCH applied to a resource's representation: all operations, or
/// none.
fn patched<T: serde::Serialize + serde::de::DeserializeOwned>(
    resource: T,
    body: &PatchOp,
    rules: patch::Rules,
) -> Result<T, Refused<400>> {
    let Value::Object(mut object) =
        serde_json::to_value(resource).map_err(|e| bad_request("invalidValue", e.to_string()))?
    else {
        return Err(bad_request("invalidValue", "the resource is no object"));
    };
    for (index, operation) in body.operations.iter().enumerate() {
        patch::apply(
            &mut object,
            &operation.op,
            operation.path.as_deref(),
            operation.value.as_ref(),
            rules,
        )
        .map_err(|e| bad_request(e.scim_type(), format!("Operations.{index}: {}", e.detail())))?;
    }
    // Entra ID sends `active` as the string "False".
    if let Some(active) = object.get_mut("active")
        && let Some(text) = active.as_str()
    {
        match text.to_ascii_lowercase().as_str() {
            "true" => *active = Value::Bool(true),
            "false" => *active = Value::Bool(false),
            _ => {}
        }
    }
    serde_json::from_value(Value::Object(object))
        .map_err(|e| bad_request("invalidValue", format!("the patched resource: {e}")))
}

/// A request body of the input type as the representation it sets.
fn as_resource<I: serde::Serialize, T: serde::de::DeserializeOwned>(
    input: &I,
) -> Result<T, Refused<500>> {
    serde_json::from_value(serde_json::to_value(input).map_err(internal)?).map_err(internal)
}

impl<S: Store> ScimApi for Service<S> {
    async fn get_service_provider_config(
        &self,
        _ctx: RequestContext,
        _req: GetServiceProviderConfigRequest,
    ) -> Result<GetServiceProviderConfigResponse, GetServiceProviderConfigRefusal> {
        let body: ServiceProviderConfig =
            serde_json::from_value(discovery::service_provider_config()).map_err(internal)?;
        Ok(GetServiceProviderConfigResponse::Ok { body: body.into() })
    }

    async fn list_resource_types(
        &self,
        _ctx: RequestContext,
        _req: ListResourceTypesRequest,
    ) -> Result<ListResourceTypesResponse, ListResourceTypesRefusal> {
        let resources: Vec<ResourceType> =
            serde_json::from_value(Value::Array(discovery::resource_types())).map_err(internal)?;
        Ok(ListResourceTypesResponse::Ok {
            body: ResourceTypeList {
                schemas: vec![LIST_SCHEMA.into()],
                total_results: resources.len() as i64,
                resources,
            }
            .into(),
        })
    }

    async fn get_resource_type(
        &self,
        _ctx: RequestContext,
        req: GetResourceTypeRequest,
    ) -> Result<GetResourceTypeResponse, GetResourceTypeRefusal> {
        let found = discovery::resource_types()
            .into_iter()
            .find(|t| t["id"] == req.path.name.as_str())
            .ok_or_else(|| not_found("resource type", &req.path.name))?;
        let body: ResourceType = serde_json::from_value(found).map_err(internal)?;
        Ok(GetResourceTypeResponse::Ok { body: body.into() })
    }

    async fn list_schemas(
        &self,
        _ctx: RequestContext,
        _req: ListSchemasRequest,
    ) -> Result<ListSchemasResponse, ListSchemasRefusal> {
        let resources: Vec<Schema> =
            serde_json::from_value(Value::Array(discovery::schemas())).map_err(internal)?;
        Ok(ListSchemasResponse::Ok {
            body: SchemaList {
                schemas: vec![LIST_SCHEMA.into()],
                total_results: resources.len() as i64,
                resources,
            }
            .into(),
        })
    }

    async fn get_schema(
        &self,
        _ctx: RequestContext,
        req: GetSchemaRequest,
    ) -> Result<GetSchemaResponse, GetSchemaRefusal> {
        let found = discovery::schemas()
            .into_iter()
            .find(|s| s["id"] == req.path.schema_id.as_str())
            .ok_or_else(|| not_found("schema", &req.path.schema_id))?;
        let body: Schema = serde_json::from_value(found).map_err(internal)?;
        Ok(GetSchemaResponse::Ok { body: body.into() })
    }

    async fn search_all(
        &self,
        _ctx: RequestContext,
        _req: SearchAllRequest,
    ) -> Result<SearchAllResponse, SearchAllRefusal> {
        Err(Refused::<501>::new(
            "not-implemented",
            "Not implemented",
            "searching every resource type at once is not supported; search /Users or /Groups",
        )
        .into())
    }

    async fn list_scim_users(
        &self,
        ctx: RequestContext,
        req: ListScimUsersRequest,
    ) -> Result<ListScimUsersResponse, ListScimUsersRefusal> {
        let q = req.query;
        let projection =
            Projection::new(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
        let (offset, limit, start) = page(q.start_index, q.count);
        let descending = matches!(
            q.sort_order,
            Some(scim_api::types::ListScimUsersSortOrder::Descending)
        );
        let query = list_query(
            query::Resource::User,
            q.filter.as_deref(),
            q.sort_by.as_deref(),
            descending,
            offset,
            limit,
        )?;
        let (total, rows) = self
            .store
            .query_users(ctx.account(), &query)
            .await
            .map_err(internal)?;
        let resources = self
            .scim_users_of(ctx.account(), &rows)
            .await?
            .into_iter()
            .map(|user| projection.user(user))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListScimUsersResponse::Ok {
            body: UserListResponse {
                schemas: vec![LIST_SCHEMA.into()],
                total_results: total,
                start_index: Some(start),
                items_per_page: Some(resources.len() as i64),
                resources,
            }
            .into(),
        })
    }

    async fn create_scim_user(
        &self,
        ctx: RequestContext,
        req: CreateScimUserRequest,
    ) -> Result<CreateScimUserResponse, CreateScimUserRefusal> {
        let scim: ScimUser = as_resource(&req.body)?;
        let stored = self
            .scim_create_user::<CreateScimUserRefusal>(&ctx, &scim)
            .await?;
        Ok(CreateScimUserResponse::Created {
            e_tag: weak_etag(stored.resource_version),
            location: format!("/scim/v2/Users/{}", stored.id),
            body: scim_user(&stored, &[]).into(),
        })
    }

    async fn get_scim_user(
        &self,
        ctx: RequestContext,
        req: GetScimUserRequest,
    ) -> Result<GetScimUserResponse, GetScimUserRefusal> {
        let projection = Projection::new(
            req.query.attributes.as_deref(),
            req.query.excluded_attributes.as_deref(),
        )?;
        let stored = match self.store.get(ctx.account(), &req.path.id).await {
            Ok(Some(stored)) => stored,
            Ok(None) | Err(StoreError::NotFound) => {
                return Err(not_found("user", &req.path.id).into());
            }
            Err(err) => return Err(internal(err).into()),
        };
        let tag = weak_etag(stored.resource_version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetScimUserResponse::NotModified { e_tag: tag });
        }
        let body = projection.user(self.scim_user_of(ctx.account(), &stored).await?)?;
        Ok(GetScimUserResponse::Ok {
            body: body.into(),
            e_tag: tag,
        })
    }

    async fn replace_scim_user(
        &self,
        ctx: RequestContext,
        req: ReplaceScimUserRequest,
    ) -> Result<ReplaceScimUserResponse, ReplaceScimUserRefusal> {
        let mut sent: ScimUser = as_resource(&req.body)?;
        let stored = self
            .scim_write_user::<ReplaceScimUserRefusal>(
                &ctx,
                &req.path.id,
                req.header.if_match.as_ref(),
                |current| {
                    // `active` left out is left as it is.
                    sent.active = sent.active.or(current.active);
                    Ok(sent)
                },
            )
            .await?;
        Ok(ReplaceScimUserResponse::Ok {
            e_tag: weak_etag(stored.resource_version),
            body: self.scim_user_of(ctx.account(), &stored).await?.into(),
        })
    }

    async fn patch_scim_user(
        &self,
        ctx: RequestContext,
        req: PatchScimUserRequest,
    ) -> Result<PatchScimUserResponse, PatchScimUserRefusal> {
        let stored = self
            .scim_write_user::<PatchScimUserRefusal>(
                &ctx,
                &req.path.id,
                req.header.if_match.as_ref(),
                |current| Ok(patched(current, &req.body, USER_RULES)?),
            )
            .await?;
        Ok(PatchScimUserResponse::Ok {
            e_tag: weak_etag(stored.resource_version),
            body: self.scim_user_of(ctx.account(), &stored).await?.into(),
        })
    }

    async fn delete_scim_user(
        &self,
        ctx: RequestContext,
        req: DeleteScimUserRequest,
    ) -> Result<DeleteScimUserResponse, DeleteScimUserRefusal> {
        let id = req.path.id;
        let current = match self.store.get(ctx.account(), &id).await {
            Ok(Some(stored)) => stored,
            Ok(None) | Err(StoreError::NotFound) => return Err(not_found("user", &id).into()),
            Err(err) => return Err(internal(err).into()),
        };
        if !if_match_passes(req.header.if_match.as_ref(), current.resource_version) {
            return Err(stale(current.resource_version).into());
        }
        let expected = req
            .header
            .if_match
            .as_ref()
            .filter(|m| !m.is_any())
            .map(|_| current.resource_version);
        match self
            .store
            .delete(ctx.account(), &current.id, expected)
            .await
        {
            Ok(()) => Ok(DeleteScimUserResponse::NoContent {}),
            Err(StoreError::NotFound) => Err(not_found("user", &id).into()),
            Err(StoreError::VersionMismatch { current }) => Err(stale(current).into()),
            Err(err) => Err(internal(err).into()),
        }
    }

    async fn list_scim_groups(
        &self,
        ctx: RequestContext,
        req: ListScimGroupsRequest,
    ) -> Result<ListScimGroupsResponse, ListScimGroupsRefusal> {
        let q = req.query;
        let projection =
            Projection::new(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
        let (offset, limit, start) = page(q.start_index, q.count);
        let descending = matches!(
            q.sort_order,
            Some(scim_api::types::ListScimGroupsSortOrder::Descending)
        );
        let query = list_query(
            query::Resource::Group,
            q.filter.as_deref(),
            q.sort_by.as_deref(),
            descending,
            offset,
            limit,
        )?;
        let (total, rows) = self
            .store
            .query_groups(ctx.account(), &query)
            .await
            .map_err(internal)?;
        let resources = rows
            .iter()
            .map(|row| projection.group(scim_group(row)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListScimGroupsResponse::Ok {
            body: GroupListResponse {
                schemas: vec![LIST_SCHEMA.into()],
                total_results: total,
                start_index: Some(start),
                items_per_page: Some(resources.len() as i64),
                resources,
            }
            .into(),
        })
    }

    async fn create_scim_group(
        &self,
        ctx: RequestContext,
        req: CreateScimGroupRequest,
    ) -> Result<CreateScimGroupResponse, CreateScimGroupRefusal> {
        let scim: ScimGroup = as_resource(&req.body)?;
        let stored = self
            .scim_create_group::<CreateScimGroupRefusal>(&ctx, &scim)
            .await?;
        Ok(CreateScimGroupResponse::Created {
            e_tag: weak_etag(stored.resource_version),
            location: format!("/scim/v2/Groups/{}", stored.id),
            body: scim_group(&stored).into(),
        })
    }

    async fn get_scim_group(
        &self,
        ctx: RequestContext,
        req: GetScimGroupRequest,
    ) -> Result<GetScimGroupResponse, GetScimGroupRefusal> {
        let projection = Projection::new(
            req.query.attributes.as_deref(),
            req.query.excluded_attributes.as_deref(),
        )?;
        let stored = match self.store.get_group(ctx.account(), &req.path.id).await {
            Ok(Some(stored)) => stored,
            Ok(None) | Err(StoreError::NotFound) => {
                return Err(not_found("group", &req.path.id).into());
            }
            Err(err) => return Err(internal(err).into()),
        };
        let tag = weak_etag(stored.resource_version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetScimGroupResponse::NotModified { e_tag: tag });
        }
        Ok(GetScimGroupResponse::Ok {
            body: projection.group(scim_group(&stored))?.into(),
            e_tag: tag,
        })
    }

    async fn replace_scim_group(
        &self,
        ctx: RequestContext,
        req: ReplaceScimGroupRequest,
    ) -> Result<ReplaceScimGroupResponse, ReplaceScimGroupRefusal> {
        let sent: ScimGroup = as_resource(&req.body)?;
        let stored = self
            .scim_write_group::<ReplaceScimGroupRefusal>(
                &ctx,
                &req.path.id,
                req.header.if_match.as_ref(),
                |_| Ok(sent),
            )
            .await?;
        Ok(ReplaceScimGroupResponse::Ok {
            e_tag: weak_etag(stored.resource_version),
            body: scim_group(&stored).into(),
        })
    }

    async fn patch_scim_group(
        &self,
        ctx: RequestContext,
        req: PatchScimGroupRequest,
    ) -> Result<PatchScimGroupResponse, PatchScimGroupRefusal> {
        let stored = self
            .scim_write_group::<PatchScimGroupRefusal>(
                &ctx,
                &req.path.id,
                req.header.if_match.as_ref(),
                |current| Ok(patched(current, &req.body, GROUP_RULES)?),
            )
            .await?;
        Ok(PatchScimGroupResponse::Ok {
            e_tag: weak_etag(stored.resource_version),
            body: scim_group(&stored).into(),
        })
    }

    async fn delete_scim_group(
        &self,
        ctx: RequestContext,
        req: DeleteScimGroupRequest,
    ) -> Result<DeleteScimGroupResponse, DeleteScimGroupRefusal> {
        let id = req.path.id;
        let current = match self.store.get_group(ctx.account(), &id).await {
            Ok(Some(stored)) => stored,
            Ok(None) | Err(StoreError::NotFound) => return Err(not_found("group", &id).into()),
            Err(err) => return Err(internal(err).into()),
        };
        if !if_match_passes(req.header.if_match.as_ref(), current.resource_version) {
            return Err(stale(current.resource_version).into());
        }
        let expected = req
            .header
            .if_match
            .as_ref()
            .filter(|m| !m.is_any())
            .map(|_| current.resource_version);
        match self
            .store
            .delete_group(ctx.account(), &current.id, expected)
            .await
        {
            Ok(()) => Ok(DeleteScimGroupResponse::NoContent {}),
            Err(StoreError::NotFound) => Err(not_found("group", &id).into()),
            Err(StoreError::VersionMismatch { current }) => Err(stale(current).into()),
            Err(err) => Err(internal(err).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_weakly() {
        let tag = |text: &str| -> headers::IfMatch {
            let value = http::HeaderValue::from_str(text).unwrap();
            headers::Header::decode(&mut std::iter::once(&value)).unwrap()
        };
        assert!(if_match_passes(None, 3));
        assert!(if_match_passes(Some(&tag("*")), 3));
        assert!(if_match_passes(Some(&tag("W/\"3\"")), 3));
        assert!(if_match_passes(Some(&tag("\"3\"")), 3));
        assert!(if_match_passes(Some(&tag("W/\"2\", W/\"3\"")), 3));
        assert!(!if_match_passes(Some(&tag("W/\"2\"")), 3));
        assert!(!if_match_passes(Some(&tag("W/\"33\"")), 3));
    }

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page(None, None), (0, DEFAULT_COUNT, 1));
        assert_eq!(page(Some(0), Some(-5)), (0, 0, 1));
        assert_eq!(page(Some(11), Some(5000)), (10, MAX_COUNT, 11));
    }

    #[test]
    fn phone_numbers_are_read_as_e164() {
        assert_eq!(e164("tel:+1-201-555-0123"), "+12015550123");
        assert_eq!(e164(" +44 (20) 7946.0958 "), "+442079460958");
    }

    #[test]
    fn a_projection_keeps_what_is_asked_and_always_the_id() {
        let user = json!({
            "id": "1", "schemas": ["s"], "userName": "a@b.c",
            "name": { "givenName": "A", "familyName": "B" },
            "emails": [{ "value": "a@b.c", "type": "work" }],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "7" }
        });
        let only = Projection::new(Some("userName,name.givenName"), None).unwrap();
        assert_eq!(
            only.apply(user.clone(), USER_SCHEMA),
            json!({ "id": "1", "schemas": ["s"], "userName": "a@b.c", "name": { "givenName": "A" } })
        );
        let without = Projection::new(
            None,
            Some("emails.type,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber,id"),
        )
        .unwrap();
        let out = without.apply(user, USER_SCHEMA);
        assert_eq!(out["emails"], json!([{ "value": "a@b.c" }]));
        assert_eq!(
            out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({})
        );
        assert_eq!(out["id"], "1");
    }

    #[test]
    fn field_errors_are_named_as_scim_names_them() {
        let refused = scim_errors(
            vec![InvalidField {
                code: "max-length".into(),
                field: "name.firstName".into(),
                message: "too long".into(),
            }],
            &USER_NAMES,
        );
        assert_eq!(refused.rejection().errors[0].field, "name.givenName");
        assert_eq!(refused.rejection().code, "invalidValue");
    }
}
