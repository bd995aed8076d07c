//! Checks that walk the operations the contract's generated
//! `operation_specs` lists, so an operation the spec gains is checked
//! without a line here (a body schema the kit has no sample for fails,
//! naming it), and checks of what one operation's description promises.

use reqwest::Method;
use serde_json::{Value, json};
use users_api::operation_specs as ops;
use users_api::runtime::OperationSpec;

use super::{count_by_email, new_user, refused_as_problem, unique, urlencode};
use crate::{Answer, Ctx, Role, email_of, ensure, id_of};

/// What an operation's path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// A user (`{userId}`).
    User,
    /// A group (`{groupId}`).
    Group,
    /// Nothing: a collection or a lookup.
    Nothing,
}

fn subject(op: &OperationSpec) -> Subject {
    let takes = |name: &str| op.parameters.iter().any(|p| p.name == name);
    if takes("groupId") {
        Subject::Group
    } else if takes("userId") {
        Subject::User
    } else {
        Subject::Nothing
    }
}

/// The path parameter naming an operation's subject.
fn subject_parameter(op: &OperationSpec) -> Option<&'static str> {
    match subject(op) {
        Subject::User => Some("userId"),
        Subject::Group => Some("groupId"),
        Subject::Nothing => None,
    }
}

/// The operations whose path names a user or a group.
fn on_a_subject() -> impl Iterator<Item = &'static OperationSpec> {
    ops::ALL
        .iter()
        .copied()
        .filter(|op| subject(op) != Subject::Nothing)
}

/// The operations that take a parameter named so.
fn taking(name: &'static str) -> impl Iterator<Item = &'static OperationSpec> {
    ops::ALL
        .iter()
        .copied()
        .filter(move |op| op.parameters.iter().any(|p| p.name == name))
}

fn method(op: &OperationSpec) -> Method {
    Method::from_bytes(op.method.as_bytes()).expect("the spec's methods are HTTP methods")
}

/// The operation's path with `id` as whatever it names.
fn path(op: &OperationSpec, id: &str) -> String {
    op.path.replace("{userId}", id).replace("{groupId}", id)
}

/// What the walkers act on: a user, and a group holding it.
struct Targets {
    user: String,
    group: String,
}

impl Targets {
    /// A new user with a profile image, and a new group with it as
    /// member, made by `role`.
    async fn new(ctx: &Ctx, role: Role) -> Result<Self, String> {
        let user = id_of(&ctx.create(role, json!({})).await?)?;
        super::avatars::upload(ctx, role, &user, super::avatars::PNG, "image/png")
            .await?
            .expect(204, "uploading a profile image")?;
        let group = id_of(&ctx.create_group(role, json!({ "members": [user] })).await?)?;
        Ok(Self { user, group })
    }

    /// The operation's path, naming the user or the group.
    fn path(&self, op: &OperationSpec) -> String {
        op.path
            .replace("{userId}", &self.user)
            .replace("{groupId}", &self.group)
    }

    /// The id of what `op` acts on: the group for a group's operation,
    /// else the user.
    fn of(&self, op: &OperationSpec) -> &str {
        match subject(op) {
            Subject::Group => &self.group,
            _ => &self.user,
        }
    }

    /// Both as read by `role` (each `None` once gone).
    async fn read(&self, ctx: &Ctx, role: Role) -> Result<Vec<Option<(Value, String)>>, String> {
        Ok(vec![
            snapshot(ctx, role, &self.user).await?,
            group_snapshot(ctx, role, &self.group).await?,
        ])
    }
}

/// The status an operation answers when it does what it is for: the
/// first 2xx it documents.
fn success(op: &OperationSpec) -> u16 {
    op.statuses
        .iter()
        .copied()
        .find(|s| (200..300).contains(s))
        .unwrap_or(200)
}

/// A valid body for the operation: JSON by its schema's name, or an image
/// for an operation that takes one.
fn body(op: &OperationSpec) -> Result<Option<(&'static str, Vec<u8>)>, String> {
    match json_body(op)? {
        Some((media, value)) => Ok(Some((media, value.to_string().into_bytes()))),
        None => raw_body(op),
    }
}

/// A valid body for an operation that takes no JSON: a sample of its
/// first media type.
fn raw_body(op: &OperationSpec) -> Result<Option<(&'static str, Vec<u8>)>, String> {
    let Some(spec) = &op.body else {
        return Ok(None);
    };
    let media = spec.raw_media_types.first().copied().unwrap_or_default();
    match super::avatars::sample(media) {
        Some(image) => Ok(Some((media, image.to_vec()))),
        None => Err(format!(
            "{}: the kit has no sample {media:?} body",
            op.operation_id
        )),
    }
}

/// Sends `op` with its sample body to `path`, as `token` (or with none).
async fn send_sample(
    ctx: &Ctx,
    token: Option<&str>,
    op: &OperationSpec,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    Ok(ctx
        .exchange(token, method(op), path, body(op)?, headers)
        .await?
        .0)
}

/// A valid JSON body for the operation, by its schema's name; `None` for
/// one that takes no JSON.
fn json_body(op: &OperationSpec) -> Result<Option<(&'static str, Value)>, String> {
    let Some(spec) = &op.body else {
        return Ok(None);
    };
    if spec.media_types.is_empty() {
        return Ok(None);
    }
    let value = match spec.schema {
        Some("UserCreate" | "UserReplace") => new_user(&format!("{}@example.com", unique("op-"))),
        Some("UserPatch") => json!({ "jobTitle": "Checked" }),
        Some("PasswordChange") => json!({ "newPassword": "a long enough passphrase" }),
        Some("GroupCreate") => json!({ "name": unique("Group "), "description": "Checked" }),
        Some("GroupPatch") => json!({ "description": "Checked" }),
        other => {
            return Err(format!(
                "{}: the kit has no sample {other:?}",
                op.operation_id
            ));
        }
    };
    Ok(Some(("application/json", value)))
}

/// `what` of the operation, for messages.
fn on(op: &OperationSpec, what: &str) -> String {
    format!("{} {} ({}): {what}", op.method, op.path, op.operation_id)
}

/// The user as read, with its ETag; `None` once it is gone.
async fn snapshot(ctx: &Ctx, role: Role, id: &str) -> Result<Option<(Value, String)>, String> {
    let read = ctx.get(role, id).await?;
    match read.status {
        404 => Ok(None),
        _ => {
            let read = read.expect(200, "reading the user")?;
            Ok(Some((read.body.clone(), read.etag()?)))
        }
    }
}

/// The group as read, with its ETag; `None` once it is gone.
pub(super) async fn group_snapshot(
    ctx: &Ctx,
    role: Role,
    id: &str,
) -> Result<Option<(Value, String)>, String> {
    let read = ctx.get_group(role, id).await?;
    match read.status {
        404 => Ok(None),
        _ => {
            let read = read.expect(200, "reading the group")?;
            Ok(Some((read.body.clone(), read.etag()?)))
        }
    }
}

/// What `op` acts on as read by `role`.
async fn subject_snapshot(
    ctx: &Ctx,
    op: &OperationSpec,
    role: Role,
    id: &str,
) -> Result<Option<(Value, String)>, String> {
    match subject(op) {
        Subject::Group => group_snapshot(ctx, role, id).await,
        _ => snapshot(ctx, role, id).await,
    }
}

pub(super) async fn every_operation_needs_a_token(ctx: Ctx) -> Result<(), String> {
    let someone = uuid::Uuid::new_v4().to_string();
    for op in ops::ALL {
        for token in [None, Some("not-a-token")] {
            send_sample(&ctx, token, op, &path(op, &someone), &[])
                .await?
                .problem(401, &on(op, &format!("token {token:?}")))?;
        }
    }
    Ok(())
}

pub(super) async fn every_operation_needs_its_scope(ctx: Ctx) -> Result<(), String> {
    let targets = Targets::new(&ctx, Role::Admin).await?;
    let before = targets.read(&ctx, Role::Admin).await?;
    for op in ops::ALL.iter().filter(|op| !op.security.is_empty()) {
        send_sample(
            &ctx,
            Some(ctx.raw_token(Role::NoScope)),
            op,
            &targets.path(op),
            &[],
        )
        .await?
        .problem(403, &on(op, "a token without the API's scopes"))?;
    }
    let after = targets.read(&ctx, Role::Admin).await?;
    ensure(after == before, || {
        format!("refused calls changed the user or the group: {after:?}")
    })
}

pub(super) async fn malformed_ids(ctx: Ctx) -> Result<(), String> {
    for op in on_a_subject() {
        let parameter = subject_parameter(op).unwrap_or_default();
        let refused = send_sample(
            &ctx,
            Some(ctx.raw_token(Role::Admin)),
            op,
            &path(op, "not-a-uuid"),
            &[],
        )
        .await?
        .problem(400, &on(op, &format!("a {parameter} that is not a UUID")))?;
        let named = refused.names_field(parameter);
        ensure(named, || {
            on(
                op,
                &format!("the problem does not name {parameter}: {}", refused.body),
            )
        })?;
    }
    Ok(())
}

pub(super) async fn unknown_subject_everywhere(ctx: Ctx) -> Result<(), String> {
    let missing = uuid::Uuid::new_v4().to_string();
    for op in on_a_subject() {
        send_sample(
            &ctx,
            Some(ctx.raw_token(Role::Admin)),
            op,
            &path(op, &missing),
            &[],
        )
        .await?
        .problem(404, &on(op, "an unknown user or group"))?;
    }
    Ok(())
}

/// `body` sent as `media` to every operation that takes a body, on a user
/// and a group of their own: each a `status` problem, both unchanged.
async fn raw_body_refused_everywhere(
    ctx: &Ctx,
    media: &str,
    body: &str,
    status: u16,
    what: &str,
) -> Result<(), String> {
    let targets = Targets::new(ctx, Role::Admin).await?;
    let before = targets.read(ctx, Role::Admin).await?;
    // A JSON body goes to the operations that take JSON; any other to all.
    let json = media == "application/json";
    let takes = |op: &&&OperationSpec| {
        op.body
            .as_ref()
            .is_some_and(|body| !json || !body.media_types.is_empty())
    };
    for op in ops::ALL.iter().filter(takes) {
        let answer = ctx
            .send_raw(
                ctx.raw_token(Role::Admin),
                method(op),
                &targets.path(op),
                media,
                body.to_owned(),
            )
            .await?;
        refused_as_problem(answer, status, &on(op, what))?;
    }
    let after = targets.read(ctx, Role::Admin).await?;
    ensure(after == before, || {
        format!("{what}s changed the user or the group: {after:?}")
    })
}

pub(super) async fn unsupported_media_type_everywhere(ctx: Ctx) -> Result<(), String> {
    raw_body_refused_everywhere(&ctx, "text/plain", "title=Dr.", 415, "a text/plain body").await
}

pub(super) async fn payload_too_large_everywhere(ctx: Ctx) -> Result<(), String> {
    let targets = Targets::new(&ctx, Role::Admin).await?;
    let before = targets.read(&ctx, Role::Admin).await?;
    for op in ops::ALL.iter().filter(|op| op.body.is_some()) {
        let Some((media, mut value)) = json_body(op)? else {
            // Bytes: 4 MiB past an image's first bytes.
            let Some((media, mut image)) = raw_body(op)? else {
                continue;
            };
            image.resize(4 << 20, 0);
            let answer = ctx
                .exchange(
                    Some(ctx.raw_token(Role::Admin)),
                    method(op),
                    &targets.path(op),
                    Some((media, image)),
                    &[],
                )
                .await;
            // A server may close the connection once it has refused the body.
            if let Ok((answer, _)) = answer {
                answer.problem(413, &on(op, "a 4 MiB image"))?;
            }
            continue;
        };
        // Far over any limit a user directory would set (the reference
        // server's is 64 KiB): 4 MiB in a member the body takes.
        let member = if value.get("newPassword").is_some() {
            "newPassword"
        } else if value.get("description").is_some() {
            "description"
        } else {
            "jobTitle"
        };
        value[member] = json!("x".repeat(4 << 20));
        let answer = ctx
            .send_raw(
                ctx.raw_token(Role::Admin),
                method(op),
                &targets.path(op),
                media,
                value.to_string(),
            )
            .await?;
        // A server may close the connection once it has refused the body.
        if answer.is_some() {
            refused_as_problem(answer, 413, &on(op, "a 4 MiB body"))?;
        }
        if let Some(email) = value["email"].as_str() {
            let count = count_by_email(&ctx, email).await?;
            ensure(count == 0, || on(op, "the oversized body made a user"))?;
        }
        if op.method == "POST"
            && let Some(name) = value["name"].as_str()
        {
            let listed = ctx
                .send(
                    Role::Admin,
                    Method::GET,
                    &format!("/v1/groups?q={}", urlencode(name)),
                    None,
                    &[],
                )
                .await?
                .expect(200, "listing groups by name")?;
            ensure(listed.body["items"] == json!([]), || {
                on(op, "the oversized body made a group")
            })?;
        }
    }
    let after = targets.read(&ctx, Role::Admin).await?;
    ensure(after == before, || {
        format!("oversized bodies changed the user or the group: {after:?}")
    })
}

pub(super) async fn malformed_json_everywhere(ctx: Ctx) -> Result<(), String> {
    raw_body_refused_everywhere(
        &ctx,
        "application/json",
        "{\"name\":",
        400,
        "a truncated body",
    )
    .await
}

pub(super) async fn stale_if_match_everywhere(ctx: Ctx) -> Result<(), String> {
    for op in taking("If-Match") {
        let targets = Targets::new(&ctx, Role::Admin).await?;
        let id = targets.of(op).to_owned();
        // A first change makes the tag it had stale.
        let stale = match subject(op) {
            Subject::Group => {
                let read = ctx
                    .get_group(Role::Admin, &id)
                    .await?
                    .expect(200, "reading")?;
                let stale = read.etag()?;
                ctx.patch_group(
                    Role::Admin,
                    &id,
                    json!({ "description": "First" }),
                    Some(&stale),
                )
                .await?
                .expect(200, "a first change")?;
                stale
            }
            _ => {
                let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
                let stale = read.etag()?;
                ctx.patch(Role::Admin, &id, json!({ "title": "Dr." }), Some(&stale))
                    .await?
                    .expect(200, "a first change")?;
                stale
            }
        };
        let before = subject_snapshot(&ctx, op, Role::Admin, &id).await?;
        send_sample(
            &ctx,
            Some(ctx.raw_token(Role::Admin)),
            op,
            &targets.path(op),
            &[("if-match", &stale)],
        )
        .await?
        .problem(412, &on(op, "a stale If-Match"))?;
        let after = subject_snapshot(&ctx, op, Role::Admin, &id).await?;
        ensure(after == before, || {
            on(op, &format!("a refused change changed it: {after:?}"))
        })?;
        let current = before.map(|(_, tag)| tag).unwrap_or_default();
        send_sample(
            &ctx,
            Some(ctx.raw_token(Role::Admin)),
            op,
            &targets.path(op),
            &[("if-match", &current)],
        )
        .await?
        .expect(success(op), &on(op, "the current If-Match"))?;
    }
    Ok(())
}

pub(super) async fn switch_key_everywhere(ctx: Ctx) -> Result<(), String> {
    let other = ctx.other_account().to_owned();
    for op in taking("accountSwitchKey") {
        let targets = Targets::new(&ctx, Role::OtherAdmin).await?;
        let id = targets.of(op).to_owned();
        let created = ctx
            .get(Role::OtherAdmin, &targets.user)
            .await?
            .expect(200, "reading")?;
        let email = email_of(&created)?;
        let mut target = format!("{}?accountSwitchKey={other}", targets.path(op));
        if op.operation_id == ops::LIST_USERS.operation_id {
            target.push_str(&format!("&email={}", urlencode(&email)));
        }
        if op.operation_id == ops::LIST_GROUPS.operation_id {
            target.push_str(&format!("&member={}", targets.user));
        }
        let answer = send_sample(&ctx, Some(ctx.raw_token(Role::Admin)), op, &target, &[])
            .await?
            .expect(success(op), &on(op, "with accountSwitchKey"))?;
        let seen = match &answer.body {
            Value::Null => true,
            body if body["items"].is_array() => body["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|i| i["id"] == json!(targets.user) || i["id"] == json!(targets.group))
            }),
            body => body["accountId"] == json!(other),
        };
        ensure(seen, || {
            on(
                op,
                &format!("did not act on the named account: {}", answer.body),
            )
        })?;
        let theirs = subject_snapshot(&ctx, op, Role::OtherAdmin, &id).await?;
        let mine = subject_snapshot(&ctx, op, Role::Admin, &id).await?;
        ensure(mine.is_none(), || {
            on(op, "it is visible in the caller's own account")
        })?;
        // A DELETE of the user or group itself, not of a part of it.
        if op.method == "DELETE" && op.path.ends_with('}') {
            ensure(theirs.is_none(), || {
                on(op, "the named account still has it")
            })?;
        }
    }
    Ok(())
}

/// The member each lookup's values are for, and a value no lookup lists.
fn lookup_member(op: &OperationSpec) -> Result<(&'static str, &'static str), String> {
    Ok(match op.path.rsplit('/').next().unwrap_or_default() {
        "countries" => ("address.countryCode", "ZZ"),
        "languages" => ("preferredLanguage", "zz"),
        "locales" => ("locale", "zz-zz"),
        "time-zones" => ("timeZone", "Mars/Olympus_Mons"),
        other => {
            return Err(format!(
                "the kit does not know what the lookup {other} is for"
            ));
        }
    })
}

fn with_member(member: &str, value: &str) -> Value {
    match member.split_once('.') {
        Some(("address", inner)) => {
            json!({ "address": { "address1": "1 Main St", "city": "Town", inner: value } })
        }
        _ => json!({ member: value }),
    }
}

pub(super) async fn lookups_list_what_members_accept(ctx: Ctx) -> Result<(), String> {
    let lookups = ops::ALL
        .iter()
        .filter(|op| op.path.starts_with("/v1/lookups/"));
    for op in lookups {
        let (member, unlisted) = lookup_member(op)?;
        let answer = ctx
            .send(Role::Reader, Method::GET, op.path, None, &[])
            .await?
            .expect(200, &on(op, "listing"))?;
        let codes: Vec<&str> = answer.body["items"]
            .as_array()
            .or(answer.body.as_array())
            .into_iter()
            .flatten()
            .filter_map(|e| e["code"].as_str())
            .collect();
        ensure(!codes.is_empty(), || {
            on(op, &format!("no entries: {}", answer.body))
        })?;
        ensure(codes.windows(2).all(|w| w[0] < w[1]), || {
            on(op, "entries not in order, or repeated")
        })?;
        ensure(!codes.contains(&unlisted), || {
            on(op, &format!("lists {unlisted}"))
        })?;
        // A listed value the member takes with no other rule in the way (a
        // US or Canadian address needs a state).
        let listed = codes
            .iter()
            .find(|c| !["US", "CA"].contains(c))
            .copied()
            .unwrap_or(codes[0]);
        ctx.create(Role::Admin, with_member(member, listed))
            .await
            .map_err(|e| on(op, &format!("{member} = {listed}, listed: {e}")))?;
        let mut body = new_user(&format!("{}@example.com", unique("lookup-")));
        if let (Value::Object(body), Value::Object(extra)) =
            (&mut body, with_member(member, unlisted))
        {
            body.extend(extra);
        }
        let refused = ctx
            .send(
                Role::Admin,
                Method::POST,
                "/v1/users",
                Some(("application/json", body)),
                &[],
            )
            .await?
            .problem(400, &on(op, &format!("{member} = {unlisted}, not listed")))?;
        let named = refused.names_field(member);
        ensure(named, || {
            on(
                op,
                &format!("the refusal does not name {member}: {}", refused.body),
            )
        })?;
    }
    Ok(())
}

/// The ids of the users whose name or email holds `marker`, page by page.
async fn listed(ctx: &Ctx, query: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let target = match &cursor {
            Some(cursor) => format!("/v1/users?{query}&cursor={}", urlencode(cursor)),
            None => format!("/v1/users?{query}"),
        };
        let page = ctx
            .send(Role::Reader, Method::GET, &target, None, &[])
            .await?
            .expect(200, "listing")?;
        for user in page.body["items"].as_array().into_iter().flatten() {
            let id = user["id"]
                .as_str()
                .ok_or_else(|| format!("a listed user without an id: {user}"))?;
            ids.push(id.to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(ids),
        }
    }
}

pub(super) async fn list_in_creation_order_by_status(ctx: Ctx) -> Result<(), String> {
    let marker = unique("order");
    let mut made = Vec::new();
    for i in 0..3 {
        let created = ctx
            .create(
                Role::Admin,
                json!({ "name": { "firstName": marker, "lastName": format!("N{i}") } }),
            )
            .await?;
        made.push(id_of(&created)?);
    }
    let ids = listed(&ctx, &format!("q={marker}&limit=1")).await?;
    ensure(ids == made, || {
        format!("listed {ids:?}, created in the order {made:?}")
    })?;
    // A page that holds the last user is the last page: no nextCursor.
    let whole = ctx
        .send(
            Role::Reader,
            Method::GET,
            &format!("/v1/users?q={marker}&limit=3"),
            None,
            &[],
        )
        .await?
        .expect(200, "listing a page exactly as long as the list")?;
    ensure(
        whole.body["items"].as_array().map(Vec::len) == Some(3)
            && whole.body.get("nextCursor").is_none_or(Value::is_null),
        || {
            format!(
                "a page holding the last user has a nextCursor: {}",
                whole.body
            )
        },
    )?;
    ctx.patch(
        Role::Admin,
        &made[1],
        json!({ "status": "deactivated" }),
        None,
    )
    .await?
    .expect(200, "deactivating")?;
    let deactivated = listed(&ctx, &format!("q={marker}&status=deactivated")).await?;
    ensure(deactivated == [made[1].clone()], || {
        format!(
            "status=deactivated listed {deactivated:?}, expected [{}]",
            made[1]
        )
    })?;
    let active = listed(&ctx, &format!("q={marker}&status=active")).await?;
    ensure(active == [made[0].clone(), made[2].clone()], || {
        format!("status=active listed {active:?}")
    })
}

pub(super) async fn list_refuses_bad_limits_and_cursors(ctx: Ctx) -> Result<(), String> {
    for limit in ["0", "101", "ten"] {
        let refused = ctx
            .send(
                Role::Reader,
                Method::GET,
                &format!("/v1/users?limit={limit}"),
                None,
                &[],
            )
            .await?
            .problem(400, &format!("limit={limit}"))?;
        ensure(refused.body.to_string().contains("limit"), || {
            format!(
                "the refusal of limit={limit} does not name limit: {}",
                refused.body
            )
        })?;
    }
    for _ in 0..2 {
        ctx.create(Role::Admin, json!({})).await?;
    }
    let page = ctx
        .send(Role::Admin, Method::GET, "/v1/users?limit=1", None, &[])
        .await?
        .expect(200, "a first page")?;
    let cursor = page.body["nextCursor"]
        .as_str()
        .ok_or_else(|| {
            format!(
                "a page of 1 of several users has no nextCursor: {}",
                page.body
            )
        })?
        .to_owned();
    ctx.send(
        Role::OtherAdmin,
        Method::GET,
        &format!("/v1/users?cursor={}", urlencode(&cursor)),
        None,
        &[],
    )
    .await?
    .problem(400, "another account's cursor")?;
    // One character changed in the middle, where every bit counts.
    let middle = cursor.len() / 2;
    let mut forged = cursor.clone();
    let changed = if cursor[middle..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    forged.replace_range(middle..=middle, changed);
    for bad in [forged.as_str(), "not-a-cursor"] {
        ctx.send(
            Role::Admin,
            Method::GET,
            &format!("/v1/users?cursor={}", urlencode(bad)),
            None,
            &[],
        )
        .await?
        .problem(400, &format!("the cursor {bad:?}, not issued"))?;
    }
    Ok(())
}

pub(super) async fn create_answers_location(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(Role::Writer, json!({ "jobTitle": "New" }))
        .await?;
    let id = id_of(&created)?;
    let location = created
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("a 201 without Location")?
        .to_owned();
    let relative = location
        .find("/v1/users/")
        .map(|at| location[at..].to_owned())
        .ok_or_else(|| format!("Location {location:?} does not name a user"))?;
    ensure(relative == format!("/v1/users/{id}"), || {
        format!("Location {location:?} is not the new user {id}")
    })?;
    let read = ctx
        .send(Role::Writer, Method::GET, &relative, None, &[])
        .await?
        .expect(200, "reading Location")?;
    ensure(read.body == created.body, || {
        format!(
            "Location reads {}, the create answered {}",
            read.body, created.body
        )
    })
}

pub(super) async fn create_privileged_needs_admin(ctx: Ctx) -> Result<(), String> {
    for member in users_api::types::UserCreate::PRIVILEGED_MEMBERS {
        let Some(value) = super::sample(member) else {
            return Err(format!("{member}: the kit has no sample value"));
        };
        let email = format!("{}@example.com", unique("priv-"));
        let mut body = new_user(&email);
        body[*member] = value;
        let refused = ctx
            .send(
                Role::Writer,
                Method::POST,
                "/v1/users",
                Some(("application/json", body)),
                &[],
            )
            .await?
            .problem(403, &format!("a writer creating with {member}"))?;
        ensure(refused.body.to_string().contains(member), || {
            format!("the refusal of {member} does not name it: {}", refused.body)
        })?;
        ensure(count_by_email(&ctx, &email).await? == 0, || {
            format!("a refused create with {member} made a user")
        })?;
    }
    Ok(())
}

pub(super) async fn email_unique_on_every_write(ctx: Ctx) -> Result<(), String> {
    let first = ctx.create(Role::Admin, json!({})).await?;
    let taken = email_of(&first)?.to_uppercase();
    let second = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&second)?;
    let before = snapshot(&ctx, Role::Admin, &id).await?;
    let mut replace = new_user(&taken);
    replace["jobTitle"] = json!("Replaced");
    for (op, body) in [
        (&ops::UPDATE_USER, json!({ "email": taken })),
        (&ops::REPLACE_USER, replace),
    ] {
        let refused = ctx
            .send(
                Role::Admin,
                method(op),
                &path(op, &id),
                Some(("application/json", body)),
                &[],
            )
            .await?
            .problem(409, &on(op, "another user's email"))?;
        ensure(refused.body.to_string().contains("email"), || {
            on(
                op,
                &format!("the conflict does not name email: {}", refused.body),
            )
        })?;
    }
    let after = snapshot(&ctx, Role::Admin, &id).await?;
    ensure(after == before, || {
        format!("refused writes changed the user: {after:?}")
    })
}

pub(super) async fn replace_clears_omitted_keeps_the_rest(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "jobTitle": "Engineer", "phone": "+14155550100", "roles": ["editor"] }),
        )
        .await?;
    let id = id_of(&created)?;
    ctx.patch(Role::Admin, &id, json!({ "status": "deactivated" }), None)
        .await?
        .expect(200, "deactivating")?;
    let body = new_user(&email_of(&created)?);
    let replaced = ctx
        .send(
            Role::Admin,
            Method::PUT,
            &format!("/v1/users/{id}"),
            Some(("application/json", body)),
            &[],
        )
        .await?
        .expect(200, "a replace with name and email only")?;
    for member in ["jobTitle", "phone"] {
        ensure(super::cleared(&replaced.body[member]), || {
            format!("PUT without {member} kept {}", replaced.body[member])
        })?;
    }
    ensure(replaced.body["status"] == "deactivated", || {
        format!("PUT changed the status to {}", replaced.body["status"])
    })?;
    ensure(replaced.body["roles"] == created.body["roles"], || {
        format!("PUT changed the roles to {}", replaced.body["roles"])
    })?;
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(read.body == replaced.body, || {
        "the read differs from the PUT's answer".into()
    })
}

pub(super) async fn only_admin_creator_or_self_change(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Writer, json!({})).await?;
    let id = id_of(&created)?;
    let email = email_of(&created)?;
    let stranger = ctx.token_for(&unique("stranger-"), "users:write")?;
    let before = snapshot(&ctx, Role::Admin, &id).await?;
    for (op, body) in [
        (&ops::UPDATE_USER, json!({ "jobTitle": "Stranger" })),
        (&ops::REPLACE_USER, new_user(&email)),
    ] {
        ctx.send_as(
            Some(&stranger),
            method(op),
            &path(op, &id),
            Some(("application/json", body)),
            &[],
        )
        .await?
        .problem(403, &on(op, "another writer's user"))?;
    }
    ensure(snapshot(&ctx, Role::Admin, &id).await? == before, || {
        "refused changes changed the user".into()
    })?;
    let own = ctx.token_for(&id, "users:write")?;
    for (who, token) in [
        ("its creator", ctx.raw_token(Role::Writer)),
        ("the user", own.as_str()),
    ] {
        for (op, body) in [
            (&ops::UPDATE_USER, json!({ "jobTitle": who })),
            (&ops::REPLACE_USER, new_user(&email)),
        ] {
            ctx.send_as(
                Some(token),
                method(op),
                &path(op, &id),
                Some(("application/json", body)),
                &[],
            )
            .await?
            .expect(200, &on(op, who))?;
        }
    }
    Ok(())
}

pub(super) async fn delete_is_for_good(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let email = email_of(&created)?;
    let deleted = ctx
        .send(
            Role::Admin,
            Method::DELETE,
            &format!("/v1/users/{id}"),
            None,
            &[],
        )
        .await?
        .expect(204, "deleting")?;
    ensure(deleted.body.is_null(), || {
        format!("a 204 with a body: {}", deleted.body)
    })?;
    ctx.get(Role::Admin, &id)
        .await?
        .problem(404, "reading a deleted user")?;
    ensure(count_by_email(&ctx, &email).await? == 0, || {
        "a deleted user is listed".into()
    })?;
    ctx.send(
        Role::Admin,
        Method::DELETE,
        &format!("/v1/users/{id}"),
        None,
        &[],
    )
    .await?
    .problem(404, "deleting it again")?;
    // The email is free again.
    ctx.send(
        Role::Admin,
        Method::POST,
        "/v1/users",
        Some(("application/json", new_user(&email))),
        &[],
    )
    .await?
    .expect(201, "a new user with the deleted user's email")?;
    Ok(())
}

async fn set_password(ctx: &Ctx, token: &str, id: &str, body: Value) -> Result<Answer, String> {
    ctx.send_as(
        Some(token),
        Method::PUT,
        &format!("/v1/users/{id}/password"),
        Some(("application/json", body)),
        &[],
    )
    .await
}

/// The names a password could be shown under.
const PASSWORD_MEMBERS: &[&str] = &["password", "newPassword", "currentPassword", "passwordHash"];

/// Whether any member anywhere in `value` is named as a password is, or
/// holds `secret`.
fn leaks(value: &Value, secret: &str) -> bool {
    match value {
        Value::Object(members) => members.iter().any(|(name, member)| {
            PASSWORD_MEMBERS.contains(&name.as_str()) || leaks(member, secret)
        }),
        Value::Array(items) => items.iter().any(|item| leaks(item, secret)),
        Value::String(text) => text.contains(secret),
        _ => false,
    }
}

pub(super) async fn password_is_never_returned(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let secret = format!("secret {}", unique(""));
    let set = set_password(
        &ctx,
        ctx.raw_token(Role::Admin),
        &id,
        json!({ "newPassword": secret }),
    )
    .await?
    .expect(204, "an admin setting a password")?;
    ensure(set.body.is_null(), || {
        format!("a 204 with a body: {}", set.body)
    })?;
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(
        read.body["hasPassword"] == true && read.body["passwordUpdatedAt"].is_string(),
        || format!("after setting a password the user reads {}", read.body),
    )?;
    let email = email_of(&read)?;
    let list = ctx
        .send(
            Role::Admin,
            Method::GET,
            &format!("/v1/users?email={}", urlencode(&email)),
            None,
            &[],
        )
        .await?
        .expect(200, "listing")?;
    for (what, value) in [("the read", &read.body), ("the list", &list.body)] {
        ensure(!leaks(value, &secret), || {
            format!("{what} shows the password: {value}")
        })?;
    }
    let other = ctx.token_for(&unique("someone-"), "users:write")?;
    set_password(
        &ctx,
        &other,
        &id,
        json!({ "newPassword": "another long passphrase" }),
    )
    .await?
    .problem(403, "a writer setting another user's password")?;
    Ok(())
}

pub(super) async fn own_password_needs_the_current(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let first = "the first passphrase";
    set_password(
        &ctx,
        ctx.raw_token(Role::Admin),
        &id,
        json!({ "newPassword": first }),
    )
    .await?
    .expect(204, "an admin setting a password")?;
    let own = ctx.token_for(&id, "users:write")?;
    for (what, body) in [
        (
            "without currentPassword",
            json!({ "newPassword": "the second passphrase" }),
        ),
        (
            "with a wrong currentPassword",
            json!({ "newPassword": "the second passphrase", "currentPassword": "not it at all" }),
        ),
    ] {
        let refused = set_password(&ctx, &own, &id, body)
            .await?
            .problem(400, what)?;
        ensure(refused.body.to_string().contains("currentPassword"), || {
            format!(
                "{what}: the refusal does not name currentPassword: {}",
                refused.body
            )
        })?;
    }
    let unchanged = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    set_password(
        &ctx,
        &own,
        &id,
        json!({ "newPassword": "the second passphrase", "currentPassword": first }),
    )
    .await?
    .expect(204, "the user with the current password")?;
    let changed = ctx
        .get(Role::Admin, &id)
        .await?
        .expect(200, "reading again")?;
    ensure(changed.etag()? != unchanged.etag()?, || {
        "a password change kept the ETag".into()
    })
}

pub(super) async fn json_is_a_merge_patch(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "jobTitle": "Engineer", "title": "Dr." }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .send(
            Role::Admin,
            Method::PATCH,
            &format!("/v1/users/{id}"),
            Some((
                "application/json",
                json!({ "jobTitle": null, "position": "Lead" }),
            )),
            &[],
        )
        .await?
        .expect(200, "a patch sent as application/json")?;
    ensure(
        super::cleared(&patched.body["jobTitle"])
            && patched.body["title"] == "Dr."
            && patched.body["position"] == "Lead",
        || {
            format!(
                "application/json was not merged as a merge patch: {}",
                patched.body
            )
        },
    )
}

pub(super) async fn rules_judge_the_merged_user(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "address": { "address1": "1 Main St", "city": "Austin", "state": "TX", "countryCode": "US" } }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "address": { "city": "Dallas" } }),
            None,
        )
        .await?
        .expect(200, "a patch of address.city alone, the stored state kept")?;
    ensure(patched.body["address"]["state"] == "TX", || {
        format!(
            "the merged address lost its state: {}",
            patched.body["address"]
        )
    })?;
    let refused = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "address": { "state": null } }),
            None,
        )
        .await?
        .problem(400, "clearing the state of a US address")?;
    let named = refused.names_field("address.state");
    ensure(named, || {
        format!("the refusal does not name address.state: {}", refused.body)
    })?;
    let after = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(after.body == patched.body, || {
        "a refused patch changed the user".into()
    })
}

pub(super) async fn versions_increase_by_one(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let email = email_of(&created)?;
    let mut expected = 1;
    let agrees = |answer: &Answer, version: i64, what: &str| -> Result<(), String> {
        ensure(answer.body["resourceVersion"] == json!(version), || {
            format!(
                "{what}: resourceVersion {}, expected {version}",
                answer.body["resourceVersion"]
            )
        })?;
        let tag = answer.etag()?;
        ensure(tag == format!("\"{version}\""), || {
            format!("{what}: the ETag {tag} is not the version {version} quoted")
        })
    };
    agrees(&created, expected, "a new user")?;
    let changes: [(&OperationSpec, Option<Value>); 4] = [
        (&ops::UPDATE_USER, Some(json!({ "jobTitle": "First" }))),
        (&ops::UPDATE_USER, Some(json!({ "jobTitle": "First" }))),
        (&ops::REPLACE_USER, Some(new_user(&email))),
        (
            &ops::SET_USER_PASSWORD,
            Some(json!({ "newPassword": "a long enough passphrase" })),
        ),
    ];
    let mut last_tag = created.etag()?;
    for (i, (op, body)) in changes.into_iter().enumerate() {
        let answer = ctx
            .send(
                Role::Admin,
                method(op),
                &path(op, &id),
                body.map(|b| ("application/json", b)),
                &[],
            )
            .await?
            .expect(success(op), &on(op, "a change"))?;
        // The second patch repeats the first: it changes nothing.
        if i != 1 {
            expected += 1;
        }
        let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
        agrees(&read, expected, &on(op, &format!("change {}", i + 1)))?;
        if answer.status != 204 {
            agrees(&answer, expected, &on(op, "its answer"))?;
        }
        ensure(i == 1 || read.etag()? != last_tag, || {
            on(op, "a change kept the ETag")
        })?;
        last_tag = read.etag()?;
    }
    Ok(())
}

pub(super) async fn owner_organization_from_the_token(ctx: Ctx) -> Result<(), String> {
    let (mine, other) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let writer = ctx.token_with_organizations(&unique("member-"), "users:write", &[&mine])?;
    let body = |organization: &str| {
        let mut body = new_user(&format!("{}@example.com", unique("org-")));
        body["ownerOrganization"] = json!({ "id": organization });
        body
    };
    let named = |answer: &Answer| answer.names_field("ownerOrganization.id");
    let refused = body(&other);
    let email = refused["email"].as_str().unwrap_or_default().to_owned();
    let answer = ctx
        .send_as(
            Some(&writer),
            Method::POST,
            "/v1/users",
            Some(("application/json", refused)),
            &[],
        )
        .await?
        .problem(
            403,
            "a create naming an organization the token does not list",
        )?;
    ensure(named(&answer), || {
        format!(
            "the refusal does not name ownerOrganization.id: {}",
            answer.body
        )
    })?;
    ensure(count_by_email(&ctx, &email).await? == 0, || {
        "a refused create made a user".into()
    })?;
    let created = ctx
        .send_as(
            Some(&writer),
            Method::POST,
            "/v1/users",
            Some(("application/json", body(&mine))),
            &[],
        )
        .await?
        .expect(201, "a create naming the token's organization")?;
    ensure(
        created.body["ownerOrganization"]["id"] == json!(mine),
        || {
            format!(
                "the user's organization is {}",
                created.body["ownerOrganization"]
            )
        },
    )?;
    let id = id_of(&created)?;
    let answer = ctx
        .send_as(
            Some(&writer),
            Method::PATCH,
            &format!("/v1/users/{id}"),
            Some((
                "application/merge-patch+json",
                json!({ "ownerOrganization": { "id": other } }),
            )),
            &[],
        )
        .await?
        .problem(
            403,
            "moving the user into an organization the token does not list",
        )?;
    ensure(named(&answer), || {
        format!(
            "the refusal does not name ownerOrganization.id: {}",
            answer.body
        )
    })?;
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(read.body == created.body, || {
        "a refused move changed the user".into()
    })?;
    // An admin moves it anywhere; out of an organization the writer's token
    // does not list, the writer cannot move it back.
    ctx.patch(
        Role::Admin,
        &id,
        json!({ "ownerOrganization": { "id": other } }),
        None,
    )
    .await?
    .expect(200, "an admin moving the user")?;
    ctx.send_as(
        Some(&writer),
        Method::PATCH,
        &format!("/v1/users/{id}"),
        Some((
            "application/merge-patch+json",
            json!({ "ownerOrganization": { "id": mine } }),
        )),
        &[],
    )
    .await?
    .problem(
        403,
        "moving the user out of an organization the token does not list",
    )?;
    ctx.send(
        Role::Admin,
        Method::POST,
        "/v1/users",
        Some(("application/json", body(&other))),
        &[],
    )
    .await?
    .expect(201, "an admin naming any organization")?;
    Ok(())
}
