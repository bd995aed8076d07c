//! Checks of what the group operations' descriptions promise.

use futures::FutureExt;
use reqwest::Method;
use serde_json::{Value, json};
use users_api::operation_specs as ops;

use super::operations::group_snapshot;
use super::{unique, urlencode};
use crate::coverage::semantics as s;
use crate::{Answer, Check, Cover, Ctx, Role, ensure, id_of};

pub(super) fn all() -> Vec<Check> {
    vec![
        check!(
            "groups.create-and-read",
            "groups",
            "A create answers 201 with Location naming the new group, which reads as the create answered, members ascending.",
            create_and_read,
            [
                Cover::Status(&ops::CREATE_GROUP, 201),
                Cover::Status(&ops::GET_GROUP, 200),
                Cover::Semantic(&s::GROUP_LOCATION)
            ]
        ),
        check!(
            "groups.name-unique",
            "groups",
            "A name another group of the account has, in any case, is a 409 problem naming name, on create and on patch.",
            name_unique,
            [
                Cover::Status(&ops::CREATE_GROUP, 409),
                Cover::Status(&ops::UPDATE_GROUP, 409),
                Cover::Semantic(&s::GROUP_NAME_UNIQUE)
            ]
        ),
        check!(
            "groups.members-are-users",
            "groups",
            "A member that is no user of the account (unknown, or another account's) is a 400 problem naming the list, and nothing is written.",
            members_are_users,
            [
                Cover::Status(&ops::CREATE_GROUP, 400),
                Cover::Semantic(&s::GROUP_MEMBERS_USERS)
            ]
        ),
        check!(
            "groups.idempotent-create",
            "groups",
            "A repeated create with the same Idempotency-Key and body answers the first create; with another body it is a 422 problem.",
            idempotent_create,
            [
                Cover::Status(&ops::CREATE_GROUP, 422),
                Cover::Parameter(&ops::CREATE_GROUP, "Idempotency-Key"),
                Cover::Semantic(&s::GROUP_REPLAY)
            ]
        ),
        check!(
            "groups.list-pages-and-filters",
            "groups",
            "Groups are listed in creation order across pages, filtered by q and member; a bad limit and a cursor the list did not issue are 400 problems.",
            list_pages_and_filters,
            [
                Cover::Status(&ops::LIST_GROUPS, 200),
                Cover::Status(&ops::LIST_GROUPS, 400),
                Cover::Parameter(&ops::LIST_GROUPS, "limit"),
                Cover::Parameter(&ops::LIST_GROUPS, "cursor"),
                Cover::Parameter(&ops::LIST_GROUPS, "member"),
                Cover::Parameter(&ops::LIST_GROUPS, "q"),
                Cover::Semantic(&s::GROUPS_ORDER)
            ]
        ),
        check!(
            "groups.a-user's-groups",
            "groups",
            "A user's groups are listed, page by page, as the member filter lists them.",
            user_groups,
            [
                Cover::Status(&ops::LIST_USER_GROUPS, 200),
                Cover::Parameter(&ops::LIST_USER_GROUPS, "limit"),
                Cover::Parameter(&ops::LIST_USER_GROUPS, "cursor"),
                Cover::Semantic(&s::USER_GROUPS)
            ]
        ),
        check!(
            "groups.not-modified",
            "groups",
            "A read of a group with its current ETag in If-None-Match is 304 with no body; with an old one, 200.",
            not_modified,
            [
                Cover::Status(&ops::GET_GROUP, 304),
                Cover::Parameter(&ops::GET_GROUP, "If-None-Match"),
                Cover::Semantic(&s::GROUP_NOT_MODIFIED)
            ]
        ),
        check!(
            "groups.member-lists",
            "groups",
            "addMembers and removeMembers change the members, members replaces them; members with either list, or one user in both lists, is a 400 problem naming the list.",
            member_lists,
            [
                Cover::Status(&ops::UPDATE_GROUP, 200),
                Cover::Status(&ops::UPDATE_GROUP, 400),
                Cover::Semantic(&s::GROUP_MEMBER_LISTS)
            ]
        ),
        check!(
            "groups.merge-patch",
            "groups",
            "A patch leaves absent members alone, clears description and externalId with null, refuses a null name, and {} changes nothing, the version included.",
            merge_patch,
            [Cover::Semantic(&s::GROUP_PATCH_MERGE)]
        ),
        check!(
            "groups.admin-or-creator",
            "groups",
            "A writer changes the groups it created, not another's (403).",
            admin_or_creator,
            [Cover::Semantic(&s::GROUP_PATCH_WHO)]
        ),
        check!(
            "groups.delete-keeps-members",
            "groups",
            "A deleted group is no longer read; its members are still users.",
            delete_keeps_members,
            [
                Cover::Status(&ops::DELETE_GROUP, 204),
                Cover::Semantic(&s::GROUP_DELETE_KEEPS_USERS)
            ]
        ),
        check!(
            "groups.deleted-user-leaves",
            "groups",
            "A deleted user is no longer a member of its groups, and each of them has a new ETag.",
            deleted_user_leaves,
            [Cover::Semantic(&s::USER_DELETE_LEAVES_GROUPS)]
        ),
    ]
}

/// A new user's id.
async fn user(ctx: &Ctx, role: Role) -> Result<String, String> {
    id_of(&ctx.create(role, json!({})).await?)
}

async fn post_group(
    ctx: &Ctx,
    role: Role,
    body: Value,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    ctx.send(
        role,
        Method::POST,
        "/v1/groups",
        Some(("application/json", body)),
        headers,
    )
    .await
}

/// The ids of the groups a list gives, page by page, from `path` (which
/// has a query already).
async fn listed(ctx: &Ctx, path: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let target = match &cursor {
            Some(cursor) => format!("{path}&cursor={}", urlencode(cursor)),
            None => path.to_owned(),
        };
        let page = ctx
            .send(Role::Reader, Method::GET, &target, None, &[])
            .await?
            .expect(200, &format!("listing {target}"))?;
        let items = page.body["items"]
            .as_array()
            .ok_or_else(|| format!("{target}: a page without items: {}", page.body))?;
        for group in items {
            ids.push(id_of(&Answer {
                status: 200,
                headers: page.headers.clone(),
                body: group.clone(),
            })?);
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(ids),
        }
    }
}

fn members_of(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect()
}

async fn create_and_read(ctx: Ctx) -> Result<(), String> {
    let (a, b) = (
        user(&ctx, Role::Admin).await?,
        user(&ctx, Role::Admin).await?,
    );
    let name = unique("Readers ");
    let created = post_group(
        &ctx,
        Role::Writer,
        json!({ "name": name, "description": "Read it back", "externalId": "ext-1", "members": [b, a] }),
        &[],
    )
    .await?
    .expect(201, "creating a group")?;
    let id = id_of(&created)?;
    let location = created
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    ensure(location.ends_with(&format!("/v1/groups/{id}")), || {
        format!("Location {location:?} does not name group {id}")
    })?;
    let mut sorted = vec![a, b];
    sorted.sort();
    ensure(members_of(&created.body) == sorted, || {
        format!("members not as sent, ascending: {}", created.body)
    })?;
    ensure(
        created.body["name"] == json!(name)
            && created.body["description"] == "Read it back"
            && created.body["externalId"] == "ext-1"
            && created.body["resourceVersion"] == 1,
        || format!("the group is not as created: {}", created.body),
    )?;
    let read = ctx
        .send(Role::Reader, Method::GET, &location, None, &[])
        .await?
        .expect(200, "reading the Location")?;
    ensure(read.body == created.body, || {
        format!("read {} but created {}", read.body, created.body)
    })?;
    ensure(read.etag()? == created.etag()?, || {
        "the read's ETag is not the create's".to_owned()
    })
}

async fn name_unique(ctx: Ctx) -> Result<(), String> {
    let name = unique("Unique Name ");
    ctx.create_group(Role::Admin, json!({ "name": name }))
        .await?;
    let refused = post_group(
        &ctx,
        Role::Admin,
        json!({ "name": name.to_uppercase() }),
        &[],
    )
    .await?
    .problem(409, "a group named as another, in upper case")?;
    ensure(refused.names_field("name"), || {
        format!("the 409 does not name `name`: {}", refused.body)
    })?;
    let other = ctx.create_group(Role::Admin, json!({})).await?;
    let before = group_snapshot(&ctx, Role::Admin, &id_of(&other)?).await?;
    let refused = ctx
        .patch_group(
            Role::Admin,
            &id_of(&other)?,
            json!({ "name": name.to_lowercase() }),
            None,
        )
        .await?
        .problem(409, "renaming a group to another's name")?;
    ensure(refused.names_field("name"), || {
        format!("the 409 does not name `name`: {}", refused.body)
    })?;
    let after = group_snapshot(&ctx, Role::Admin, &id_of(&other)?).await?;
    ensure(after == before, || {
        format!("the refused rename changed it: {after:?}")
    })?;
    // The same name in another account is another group's.
    ctx.create_group(Role::OtherAdmin, json!({ "name": name }))
        .await
        .map(|_| ())
}

async fn members_are_users(ctx: Ctx) -> Result<(), String> {
    let theirs = user(&ctx, Role::OtherAdmin).await?;
    let nobody = uuid::Uuid::new_v4().to_string();
    for stranger in [&theirs, &nobody] {
        let name = unique("Strangers ");
        let refused = post_group(
            &ctx,
            Role::Admin,
            json!({ "name": name, "members": [stranger] }),
            &[],
        )
        .await?
        .problem(400, "a group with a member that is no user of the account")?;
        ensure(refused.names_field("members"), || {
            format!("the 400 does not name members: {}", refused.body)
        })?;
        let found = listed(&ctx, &format!("/v1/groups?q={}", urlencode(&name))).await?;
        ensure(found.is_empty(), || {
            format!("the refused create made a group: {found:?}")
        })?;
        let group = ctx.create_group(Role::Admin, json!({})).await?;
        let id = id_of(&group)?;
        let before = group_snapshot(&ctx, Role::Admin, &id).await?;
        let refused = ctx
            .patch_group(Role::Admin, &id, json!({ "addMembers": [stranger] }), None)
            .await?
            .problem(400, "adding a member that is no user of the account")?;
        ensure(refused.names_field("addMembers"), || {
            format!("the 400 does not name addMembers: {}", refused.body)
        })?;
        let after = group_snapshot(&ctx, Role::Admin, &id).await?;
        ensure(after == before, || {
            format!("the refused patch changed it: {after:?}")
        })?;
    }
    Ok(())
}

async fn idempotent_create(ctx: Ctx) -> Result<(), String> {
    let key = unique("group-key-");
    let body = json!({ "name": unique("Once ") });
    let first = post_group(
        &ctx,
        Role::Writer,
        body.clone(),
        &[("idempotency-key", &key)],
    )
    .await?
    .expect(201, "a create with a key")?;
    let again = post_group(
        &ctx,
        Role::Writer,
        body.clone(),
        &[("idempotency-key", &key)],
    )
    .await?
    .expect(201, "the same create repeated")?;
    ensure(again.body == first.body, || {
        format!("the repeat answered {} after {}", again.body, first.body)
    })?;
    let name = body["name"].as_str().unwrap_or_default();
    let found = listed(&ctx, &format!("/v1/groups?q={}", urlencode(name))).await?;
    ensure(found.len() == 1, || format!("the repeat made {found:?}"))?;
    post_group(
        &ctx,
        Role::Writer,
        json!({ "name": unique("Other ") }),
        &[("idempotency-key", &key)],
    )
    .await?
    .problem(422, "the key again with another body")
    .map(|_| ())
}

async fn list_pages_and_filters(ctx: Ctx) -> Result<(), String> {
    let marker = unique("marker");
    let member = user(&ctx, Role::Admin).await?;
    let mut made = Vec::new();
    for i in 0..3 {
        let members = if i == 1 { json!([]) } else { json!([member]) };
        let created = ctx
            .create_group(
                Role::Writer,
                json!({ "name": format!("{marker} {i}"), "members": members }),
            )
            .await?;
        made.push(id_of(&created)?);
    }
    let by_text = listed(
        &ctx,
        &format!("/v1/groups?q={}&limit=2", marker.to_uppercase()),
    )
    .await?;
    ensure(by_text == made, || {
        format!("q={marker} by pages of 2 listed {by_text:?}, not {made:?} in creation order")
    })?;
    let first = ctx
        .send(
            Role::Reader,
            Method::GET,
            &format!("/v1/groups?q={marker}&limit=2"),
            None,
            &[],
        )
        .await?
        .expect(200, "a first page")?;
    ensure(
        first.body["items"].as_array().map(Vec::len) == Some(2)
            && first.body["nextCursor"].is_string(),
        || format!("limit=2 of 3 answered {}", first.body),
    )?;
    // A page holding the last group, full or not, has no nextCursor.
    let whole = ctx
        .send(
            Role::Reader,
            Method::GET,
            &format!("/v1/groups?q={marker}&limit=3"),
            None,
            &[],
        )
        .await?
        .expect(200, "a page holding every match")?;
    ensure(
        whole.body["items"].as_array().map(Vec::len) == Some(3)
            && whole.body.get("nextCursor").is_none(),
        || format!("limit=3 of 3 answered {}", whole.body),
    )?;
    let by_member = listed(&ctx, &format!("/v1/groups?member={member}")).await?;
    ensure(by_member == [made[0].clone(), made[2].clone()], || {
        format!("member={member} listed {by_member:?}")
    })?;
    for query in ["limit=0", "limit=101", "cursor=made-up"] {
        let refused = ctx
            .send(
                Role::Reader,
                Method::GET,
                &format!("/v1/groups?{query}"),
                None,
                &[],
            )
            .await?
            .problem(400, &format!("GET /v1/groups?{query}"))?;
        let field = query.split('=').next().unwrap_or_default();
        ensure(refused.names_field(field), || {
            format!("the 400 does not name {field}: {}", refused.body)
        })?;
    }
    // Another account's cursor does not page this account's groups.
    for _ in 0..2 {
        ctx.create_group(Role::OtherAdmin, json!({})).await?;
    }
    let theirs = ctx
        .send(
            Role::OtherAdmin,
            Method::GET,
            "/v1/groups?limit=1",
            None,
            &[],
        )
        .await?
        .expect(200, "a page of another account's groups")?;
    let cursor = theirs.body["nextCursor"].as_str().ok_or_else(|| {
        format!(
            "a page of 1 of 2 groups without nextCursor: {}",
            theirs.body
        )
    })?;
    ctx.send(
        Role::Reader,
        Method::GET,
        &format!("/v1/groups?cursor={}", urlencode(cursor)),
        None,
        &[],
    )
    .await?
    .problem(400, "another account's cursor on this account's groups")?;
    // A cursor of the users' list does not page groups.
    ctx.create(Role::Admin, json!({})).await?;
    ctx.create(Role::Admin, json!({})).await?;
    let users = ctx
        .send(Role::Reader, Method::GET, "/v1/users?limit=1", None, &[])
        .await?
        .expect(200, "a page of users")?;
    let cursor = users.body["nextCursor"]
        .as_str()
        .ok_or_else(|| format!("a page of 1 of 2 users without nextCursor: {}", users.body))?;
    ctx.send(
        Role::Reader,
        Method::GET,
        &format!("/v1/groups?cursor={}", urlencode(cursor)),
        None,
        &[],
    )
    .await?
    .problem(400, "a users' cursor on the groups' list")
    .map(|_| ())
}

async fn user_groups(ctx: Ctx) -> Result<(), String> {
    let member = user(&ctx, Role::Admin).await?;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(id_of(
            &ctx.create_group(Role::Admin, json!({ "members": [member] }))
                .await?,
        )?);
    }
    ctx.create_group(Role::Admin, json!({})).await?;
    let theirs = listed(&ctx, &format!("/v1/users/{member}/groups?limit=1")).await?;
    ensure(theirs == made, || {
        format!("the user's groups by pages of 1 are {theirs:?}, not {made:?}")
    })?;
    let filtered = listed(&ctx, &format!("/v1/groups?member={member}&limit=2")).await?;
    ensure(filtered == theirs, || {
        format!("member= lists {filtered:?}, the user's groups {theirs:?}")
    })?;
    ctx.send(
        Role::Reader,
        Method::GET,
        &format!("/v1/users/{member}/groups?cursor=made-up"),
        None,
        &[],
    )
    .await?
    .problem(400, "a cursor the list did not issue")
    .map(|_| ())
}

async fn not_modified(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create_group(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let first = created.etag()?;
    let unchanged = ctx
        .send(
            Role::Reader,
            Method::GET,
            &format!("/v1/groups/{id}"),
            None,
            &[("if-none-match", &first)],
        )
        .await?
        .expect(304, "a read with the current ETag")?;
    ensure(unchanged.body.is_null(), || {
        format!("a 304 with a body: {}", unchanged.body)
    })?;
    ctx.patch_group(Role::Admin, &id, json!({ "description": "Changed" }), None)
        .await?
        .expect(200, "a change")?;
    let changed = ctx
        .send(
            Role::Reader,
            Method::GET,
            &format!("/v1/groups/{id}"),
            None,
            &[("if-none-match", &first)],
        )
        .await?
        .expect(200, "a read with an old ETag")?;
    ensure(changed.body["description"] == "Changed", || {
        format!("the read after the change: {}", changed.body)
    })
}

async fn member_lists(ctx: Ctx) -> Result<(), String> {
    let (a, b, c) = (
        user(&ctx, Role::Admin).await?,
        user(&ctx, Role::Admin).await?,
        user(&ctx, Role::Admin).await?,
    );
    let group = ctx
        .create_group(Role::Admin, json!({ "members": [a, b] }))
        .await?;
    let id = id_of(&group)?;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let changed = ctx
        .patch_group(
            Role::Admin,
            &id,
            json!({ "addMembers": [c], "removeMembers": [a] }),
            None,
        )
        .await?
        .expect(200, "adding and removing")?;
    ensure(
        members_of(&changed.body) == sorted(vec![b.clone(), c.clone()]),
        || format!("after +c -a: {}", changed.body),
    )?;
    // Adding a member already in, removing one not in: nothing changes.
    let same = ctx
        .patch_group(
            Role::Admin,
            &id,
            json!({ "addMembers": [b], "removeMembers": [a] }),
            None,
        )
        .await?
        .expect(200, "adding a member and removing a stranger")?;
    ensure(
        same.body["resourceVersion"] == changed.body["resourceVersion"],
        || {
            format!(
                "a patch that changes nothing made a new version: {}",
                same.body
            )
        },
    )?;
    let replaced = ctx
        .patch_group(Role::Admin, &id, json!({ "members": [a] }), None)
        .await?
        .expect(200, "replacing the members")?;
    ensure(members_of(&replaced.body) == [a.clone()], || {
        format!("after members=[a]: {}", replaced.body)
    })?;
    for (patch, field) in [
        (json!({ "members": [a], "addMembers": [b] }), "members"),
        (json!({ "members": [a], "removeMembers": [b] }), "members"),
        (
            json!({ "addMembers": [b], "removeMembers": [b] }),
            "removeMembers",
        ),
    ] {
        let refused = ctx
            .patch_group(Role::Admin, &id, patch.clone(), None)
            .await?
            .problem(400, &format!("the patch {patch}"))?;
        ensure(refused.names_field(field), || {
            format!("{patch}: the 400 does not name {field}: {}", refused.body)
        })?;
    }
    let after = group_snapshot(&ctx, Role::Admin, &id).await?;
    ensure(
        after.as_ref().map(|(body, _)| members_of(body)) == Some(vec![a.clone()]),
        || format!("refused patches changed the members: {after:?}"),
    )
}

async fn merge_patch(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create_group(
            Role::Admin,
            json!({ "description": "Kept", "externalId": "ext-kept" }),
        )
        .await?;
    let id = id_of(&created)?;
    let renamed_to = unique("Renamed ");
    let renamed = ctx
        .patch_group(Role::Admin, &id, json!({ "name": renamed_to }), None)
        .await?
        .expect(200, "renaming")?;
    ensure(
        renamed.body["description"] == "Kept"
            && renamed.body["externalId"] == "ext-kept"
            && renamed.body["name"] == json!(renamed_to)
            && renamed.body["resourceVersion"] == 2,
        || format!("a rename changed what it left out: {}", renamed.body),
    )?;
    let cleared = ctx
        .patch_group(
            Role::Admin,
            &id,
            json!({ "description": null, "externalId": null }),
            None,
        )
        .await?
        .expect(200, "clearing")?;
    ensure(
        cleared.body.get("description").is_none() && cleared.body.get("externalId").is_none(),
        || format!("null did not clear: {}", cleared.body),
    )?;
    let empty = ctx
        .patch_group(Role::Admin, &id, json!({}), None)
        .await?
        .expect(200, "an empty patch")?;
    ensure(
        empty.body == cleared.body && empty.etag()? == cleared.etag()?,
        || format!("{{}} changed the group: {}", empty.body),
    )?;
    let refused = ctx
        .patch_group(Role::Admin, &id, json!({ "name": null }), None)
        .await?
        .problem(400, "clearing the name")?;
    ensure(refused.names_field("name"), || {
        format!("the 400 does not name `name`: {}", refused.body)
    })
}

async fn admin_or_creator(ctx: Ctx) -> Result<(), String> {
    let admins = ctx.create_group(Role::Admin, json!({})).await?;
    let id = id_of(&admins)?;
    ctx.patch_group(
        Role::Writer,
        &id,
        json!({ "description": "Mine now" }),
        None,
    )
    .await?
    .problem(403, "a writer changing an admin's group")?;
    let after = group_snapshot(&ctx, Role::Admin, &id).await?;
    ensure(
        after.as_ref().map(|(body, _)| body) == Some(&admins.body),
        || format!("the refused change changed it: {after:?}"),
    )?;
    let own = ctx.create_group(Role::Writer, json!({})).await?;
    ctx.patch_group(
        Role::Writer,
        &id_of(&own)?,
        json!({ "description": "Mine" }),
        None,
    )
    .await?
    .expect(200, "a writer changing its own group")
    .map(|_| ())
}

async fn delete_keeps_members(ctx: Ctx) -> Result<(), String> {
    let member = user(&ctx, Role::Admin).await?;
    let group = ctx
        .create_group(Role::Admin, json!({ "members": [member] }))
        .await?;
    let id = id_of(&group)?;
    ctx.send(
        Role::Admin,
        Method::DELETE,
        &format!("/v1/groups/{id}"),
        None,
        &[],
    )
    .await?
    .expect(204, "deleting the group")?;
    ctx.get_group(Role::Admin, &id)
        .await?
        .problem(404, "reading a deleted group")?;
    ctx.get(Role::Admin, &member)
        .await?
        .expect(200, "reading a deleted group's member")?;
    let theirs = listed(&ctx, &format!("/v1/users/{member}/groups?limit=5")).await?;
    ensure(theirs.is_empty(), || {
        format!("the member still lists the deleted group: {theirs:?}")
    })
}

async fn deleted_user_leaves(ctx: Ctx) -> Result<(), String> {
    let (stays, goes) = (
        user(&ctx, Role::Admin).await?,
        user(&ctx, Role::Admin).await?,
    );
    let group = ctx
        .create_group(Role::Admin, json!({ "members": [stays, goes] }))
        .await?;
    let id = id_of(&group)?;
    ctx.send(
        Role::Admin,
        Method::DELETE,
        &format!("/v1/users/{goes}"),
        None,
        &[],
    )
    .await?
    .expect(204, "deleting a member")?;
    let read = ctx
        .get_group(Role::Admin, &id)
        .await?
        .expect(200, "reading the group")?;
    ensure(members_of(&read.body) == [stays.clone()], || {
        format!("the deleted user is still a member: {}", read.body)
    })?;
    ensure(read.etag()? != group.etag()?, || {
        format!(
            "the group lost a member and kept its ETag {}",
            read.etag().unwrap_or_default()
        )
    })?;
    ensure(read.body["resourceVersion"] == 2, || {
        format!("the group's version after losing a member: {}", read.body)
    })
}
