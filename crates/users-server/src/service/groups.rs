//! The group operations of [`Service`]: groups of an account's users, on
//! the store's [`GroupStore`], with the tenancy, idempotency, cursors and
//! conditional requests users have.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use users_api::names::{group, group_create, list_groups_query, list_user_groups_query};
use users_api::runtime::merge::{self, Merge};
use users_api::runtime::{self, InvalidField, Refused};
use users_api::types::{Group, GroupCreate, GroupPage, GroupPatch};
use users_api::*;

use super::{Replay, Service, etag, idempotency_hash, internal, now};
use crate::store::{
    GroupFilter, GroupRow, IdempotencyScope, LockedGroup, Store, StoreError, StoredGroup,
};

fn not_found(id: &uuid::Uuid) -> Refused<404> {
    Refused::new(
        "not-found",
        "Not found",
        format!("no group {id} in this account"),
    )
}

fn stale(current: i64) -> Refused<412> {
    Refused::new(
        "concurrency-violation",
        "The group has changed",
        format!("the group is at version {current}"),
    )
}

fn name_taken() -> Refused<409> {
    Refused::fields(
        "duplication-violation",
        "The value is taken",
        vec![InvalidField {
            field: group::NAME.into(),
            message: "is already used by another group".into(),
            code: "duplication-violation".into(),
        }],
    )
}

fn unknown_member(field: &str, member: &str) -> Refused<400> {
    Refused::invalid(vec![InvalidField {
        field: field.into(),
        message: format!("{member} is not a user of this account"),
        code: "unknown-user".into(),
    }])
}

/// The refusals of an operation that writes a stored group.
trait GroupRefusal: From<Refused<404>> + From<Refused<412>> + From<Refused<500>> {
    /// Another group has the name.
    fn name_taken() -> Self {
        internal("the store found a group name taken on a write that sets none").into()
    }
    /// A member is no user of the account; `field` is the list naming it.
    fn unknown_member(_field: &str, member: &str) -> Self {
        internal(format!(
            "the store found {member} unknown on a write that adds none"
        ))
        .into()
    }
}

impl GroupRefusal for UpdateGroupRefusal {
    fn name_taken() -> Self {
        name_taken().into()
    }
    fn unknown_member(field: &str, member: &str) -> Self {
        unknown_member(field, member).into()
    }
}

impl GroupRefusal for DeleteGroupRefusal {}

fn store_error<E: GroupRefusal>(err: StoreError, id: &uuid::Uuid, members_field: &str) -> E {
    match err {
        StoreError::NotFound => not_found(id).into(),
        StoreError::VersionMismatch { current } => stale(current).into(),
        StoreError::NameTaken => E::name_taken(),
        StoreError::UnknownMember(member) => E::unknown_member(members_field, &member),
        err @ (StoreError::EmailTaken | StoreError::Database(_)) => internal(err).into(),
    }
}

fn ids(members: Option<&BTreeSet<uuid::Uuid>>) -> Vec<String> {
    members
        .into_iter()
        .flatten()
        .map(uuid::Uuid::to_string)
        .collect()
}

/// The associated data that seals a cursor of `account`'s groups: a
/// cursor of its users (or another account's groups) does not open.
fn cursor_scope(account: &str) -> String {
    format!("{account}\ngroups")
}

/// A new group's document from a create's (checked) body, members left
/// out: a new id, the account and the stamps.
pub(super) fn new_group_doc(ctx: &RequestContext, body: Value) -> (uuid::Uuid, Value) {
    let id = uuid::Uuid::new_v4();
    let at = now();
    let mut doc = match body {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    doc.remove(group_create::MEMBERS);
    for (member, value) in [
        (group::ID, json!(id)),
        (group::ACCOUNT_ID, json!(ctx.account())),
        (group::CREATED_AT, json!(at)),
        (group::CREATED_BY, json!(ctx.caller.subject)),
        (group::UPDATED_AT, json!(at)),
        (group::UPDATED_BY, json!(ctx.caller.subject)),
    ] {
        doc.insert(member.into(), value);
    }
    (id, Value::Object(doc))
}

impl<S: Store> Service<S> {
    /// The group as the API returns it: the document, its members and its
    /// version.
    fn render_group(&self, stored: &StoredGroup) -> Result<Group, Refused<500>> {
        let mut doc = stored.doc.clone();
        doc[group::MEMBERS] = json!(stored.members);
        doc[group::RESOURCE_VERSION] = json!(stored.resource_version);
        serde_json::from_value(doc).map_err(internal)
    }

    async fn load_group<E>(&self, ctx: &RequestContext, id: &uuid::Uuid) -> Result<StoredGroup, E>
    where
        E: From<Refused<404>> + From<Refused<500>>,
    {
        match self.store.get_group(ctx.account(), &id.to_string()).await {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) | Err(StoreError::NotFound) => Err(not_found(id).into()),
            Err(err) => Err(internal(err).into()),
        }
    }

    /// `If-Match` against the group's version, as for users.
    fn group_precondition<E>(
        &self,
        if_match: Option<&headers::IfMatch>,
        current: i64,
    ) -> Result<(), E>
    where
        E: From<Refused<412>> + From<Refused<428>>,
    {
        match if_match {
            Some(tag) if tag.precondition_passes(&etag(current)) => Ok(()),
            Some(_) => Err(stale(current).into()),
            None if self.settings.require_if_match => Err(Refused::<428>::new(
                "precondition-required",
                "If-Match is required",
                "send the group's ETag in If-Match",
            )
            .into()),
            None => Ok(()),
        }
    }

    /// A page of the account's groups after `cursor`; `cursor_field` names
    /// the parameter in a refusal.
    async fn group_page<E>(
        &self,
        ctx: &RequestContext,
        cursor: Option<&str>,
        cursor_field: &str,
        limit: Option<i32>,
        filter: GroupFilter,
    ) -> Result<GroupPage, E>
    where
        E: From<Refused<400>> + From<Refused<500>>,
    {
        let scope = cursor_scope(ctx.account());
        let after = match cursor {
            Some(cursor) => self
                .settings
                .cursor_key
                .open(&scope, cursor)
                .ok_or_else(|| {
                    Refused::<400>::invalid(vec![InvalidField {
                        field: cursor_field.into(),
                        message: "is not a cursor this server issued".into(),
                        code: "invalid".into(),
                    }])
                })?,
            None => 0,
        };
        let limit = i64::from(limit.unwrap_or(20));
        let mut rows = self
            .store
            .list_groups(ctx.account(), after, limit + 1, &filter)
            .await
            .map_err(internal)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more.then(|| {
            self.settings
                .cursor_key
                .seal(&scope, rows.last().map_or(after, |r| r.seq))
        });
        let items = rows
            .iter()
            .map(|r| self.render_group(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupPage { items, next_cursor })
    }

    pub(super) async fn create_group(
        &self,
        ctx: RequestContext,
        req: CreateGroupRequest,
    ) -> Result<CreateGroupResponse, CreateGroupRefusal> {
        let body = serde_json::to_value(&req.body).map_err(internal)?;
        let scope = req.header.idempotency_key.map(|key| IdempotencyScope {
            caller: ctx.caller.subject.clone(),
            account_id: ctx.account().to_owned(),
            operation: operation_specs::CREATE_GROUP.operation_id.into(),
            key,
        });
        if let Some(scope) = &scope
            && let Some(replay) = self
                .begin_create::<CreateGroupRefusal, Group>(scope, &idempotency_hash(&body))
                .await?
        {
            return Ok(CreateGroupResponse::Created {
                e_tag: replay.e_tag()?,
                location: replay.location,
                body: replay.body.into(),
            });
        }
        let (id, doc) = new_group_doc(&ctx, body);
        let row = GroupRow {
            account_id: ctx.account().to_owned(),
            id: id.to_string(),
            resource_version: 1,
            doc,
            members: ids(req.body.members.as_ref()),
        };
        let preview = StoredGroup {
            seq: 0,
            id: row.id.clone(),
            resource_version: 1,
            doc: row.doc.clone(),
            members: row.members.clone(),
        };
        let created = self.render_group(&preview)?;
        let location = format!("/v1/groups/{id}");
        let response = Replay::record(1, &location, &created)?;
        match self
            .store
            .insert_group(row, scope.clone().map(|s| (s, response)))
            .await
        {
            Ok(_) => Ok(CreateGroupResponse::Created {
                e_tag: etag(1),
                location,
                body: created.into(),
            }),
            Err(err) => {
                if let Some(scope) = &scope {
                    self.store
                        .release_idempotency_key(scope)
                        .await
                        .map_err(internal)?;
                }
                Err(match err {
                    StoreError::NameTaken => name_taken().into(),
                    StoreError::UnknownMember(member) => {
                        unknown_member(group_create::MEMBERS, &member).into()
                    }
                    other => internal(other).into(),
                })
            }
        }
    }

    pub(super) async fn list_groups(
        &self,
        ctx: RequestContext,
        req: ListGroupsRequest,
    ) -> Result<ListGroupsResponse, ListGroupsRefusal> {
        let query = req.query;
        let filter = GroupFilter {
            member: query.member.map(|m| m.to_string()),
            text: query.q,
        };
        let page = self
            .group_page::<ListGroupsRefusal>(
                &ctx,
                query.cursor.as_deref(),
                list_groups_query::CURSOR,
                query.limit,
                filter,
            )
            .await?;
        Ok(ListGroupsResponse::Ok { body: page.into() })
    }

    pub(super) async fn list_user_groups(
        &self,
        ctx: RequestContext,
        req: ListUserGroupsRequest,
    ) -> Result<ListUserGroupsResponse, ListUserGroupsRefusal> {
        let user = self
            .load::<ListUserGroupsRefusal>(&ctx, &req.path.user_id)
            .await?;
        let filter = GroupFilter {
            member: Some(user.id),
            text: None,
        };
        let page = self
            .group_page::<ListUserGroupsRefusal>(
                &ctx,
                req.query.cursor.as_deref(),
                list_user_groups_query::CURSOR,
                req.query.limit,
                filter,
            )
            .await?;
        Ok(ListUserGroupsResponse::Ok { body: page.into() })
    }

    pub(super) async fn get_group(
        &self,
        ctx: RequestContext,
        req: GetGroupRequest,
    ) -> Result<GetGroupResponse, GetGroupRefusal> {
        let current = self
            .load_group::<GetGroupRefusal>(&ctx, &req.path.group_id)
            .await?;
        let tag = etag(current.resource_version);
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetGroupResponse::NotModified { e_tag: tag });
        }
        Ok(GetGroupResponse::Ok {
            body: self.render_group(&current)?.into(),
            e_tag: tag,
        })
    }

    pub(super) async fn update_group(
        &self,
        ctx: RequestContext,
        req: UpdateGroupRequest,
    ) -> Result<UpdateGroupResponse, UpdateGroupRefusal> {
        let id = req.path.group_id;
        let mut patch = req.body;
        // The list an unknown member came from, for the refusal.
        let members_field = if patch.add_members.is_some() {
            users_api::names::group_patch::ADD_MEMBERS
        } else {
            users_api::names::group_patch::MEMBERS
        };
        let locked = self
            .store
            .lock_group(ctx.account(), &id.to_string())
            .await
            .map_err(|e| store_error::<UpdateGroupRefusal>(e, &id, members_field))?
            .ok_or_else(|| UpdateGroupRefusal::from(not_found(&id)))?;
        let current = locked.current().clone();
        self.group_precondition::<UpdateGroupRefusal>(
            req.header.if_match.as_ref(),
            current.resource_version,
        )?;
        let subject = ctx.caller.subject.as_str();
        if !ctx.caller.is_admin() && current.doc[group::CREATED_BY] != subject {
            return Err(Refused::<403>::new(
                "forbidden",
                "The group cannot be changed by this caller",
                "only an admin or the group's creator may change it",
            )
            .into());
        }
        // The stored group as a patch of every member: the merge is typed.
        let mut profile: GroupPatch = serde_json::from_value(json!({
            group::NAME: current.doc[group::NAME],
            group::DESCRIPTION: current.doc.get(group::DESCRIPTION),
            group::EXTERNAL_ID: current.doc.get(group::EXTERNAL_ID),
            group::MEMBERS: current.members,
        }))
        .map_err(internal)?;
        merge::fold_lists(
            &mut patch.members,
            patch.add_members.take(),
            patch.remove_members.take(),
            profile.members.as_ref(),
        );
        profile.merge(patch);
        // The merged group must be what a new one may be.
        let merged = GroupCreate {
            name: profile.name.clone().unwrap_or_default(),
            description: profile.description.clone().flatten(),
            external_id: profile.external_id.clone().flatten(),
            members: profile.members.clone(),
        };
        let text = serde_json::to_string(&merged).map_err(internal)?;
        match runtime::decode::text::<GroupCreate>(&text) {
            Ok(_) => {}
            Err(runtime::decode::BodyError::Invalid(errors)) => {
                return Err(Refused::<400>::invalid(errors).into());
            }
            Err(runtime::decode::BodyError::Syntax(e)) => return Err(internal(e).into()),
        }
        let mut doc = current.doc.clone();
        if let (Some(doc), Value::Object(fields)) = (
            doc.as_object_mut(),
            serde_json::to_value(&merged).map_err(internal)?,
        ) {
            doc.retain(|k, _| {
                ![group::NAME, group::DESCRIPTION, group::EXTERNAL_ID].contains(&k.as_str())
            });
            doc.extend(fields.into_iter().filter(|(k, _)| k != group::MEMBERS));
        }
        let members = ids(merged.members.as_ref());
        if doc == current.doc && members == current.members {
            return Ok(UpdateGroupResponse::Ok {
                body: self.render_group(&current)?.into(),
                e_tag: etag(current.resource_version),
            });
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
        let stored = locked
            .write(row)
            .await
            .map_err(|e| store_error::<UpdateGroupRefusal>(e, &id, members_field))?;
        Ok(UpdateGroupResponse::Ok {
            body: self.render_group(&stored)?.into(),
            e_tag: etag(stored.resource_version),
        })
    }

    pub(super) async fn delete_group(
        &self,
        ctx: RequestContext,
        req: DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, DeleteGroupRefusal> {
        let id = req.path.group_id;
        let current = self.load_group::<DeleteGroupRefusal>(&ctx, &id).await?;
        self.group_precondition::<DeleteGroupRefusal>(
            req.header.if_match.as_ref(),
            current.resource_version,
        )?;
        let expected = req
            .header
            .if_match
            .as_ref()
            .map(|_| current.resource_version);
        self.store
            .delete_group(ctx.account(), &current.id, expected)
            .await
            .map_err(|e| store_error::<DeleteGroupRefusal>(e, &id, group::MEMBERS))?;
        Ok(DeleteGroupResponse::NoContent {})
    }
}
