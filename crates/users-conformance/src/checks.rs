//! The checks, grouped by what they cover. Each states one promise of the
//! spec that its schemas cannot check, and fails with what it saw.

use std::collections::BTreeSet;

use futures::FutureExt;
use reqwest::Method;
use serde_json::{Value, json};

use users_api::operation_specs as ops;

use crate::coverage::semantics as s;
use crate::{Answer, Check, Cover, Ctx, Need, Role, email_of, ensure, id_of};

mod operations;

macro_rules! check {
    ($id:literal, $group:literal, $promise:literal, $f:path, [$($cover:expr),* $(,)?]) => {
        check!($id, $group, $promise, $f, [$($cover),*], needs [])
    };
    ($id:literal, $group:literal, $promise:literal, $f:path, [$($cover:expr),* $(,)?], needs [$($need:expr),*]) => {
        Check {
            id: $id,
            group: $group,
            promise: $promise,
            covers: {
                const COVERS: &[Cover] = &[$($cover),*];
                COVERS
            },
            needs: &[$($need),*],
            run: |ctx| $f(ctx).boxed(),
        }
    };
}

mod avatars;
mod groups;

pub(crate) fn all() -> Vec<Check> {
    let mut all = vec![
        check!(
            "merge-patch.absent-members-are-kept",
            "merge patch (RFC 7396)",
            "A member a merge patch leaves out keeps its value.",
            absent_members_are_kept,
            [
                Cover::Semantic(&s::PATCH_ABSENT),
                Cover::Status(&ops::UPDATE_USER, 200)
            ]
        ),
        check!(
            "merge-patch.null-clears",
            "merge patch (RFC 7396)",
            "A member a merge patch sets to null is cleared.",
            null_clears,
            [Cover::Semantic(&s::PATCH_NULL)]
        ),
        check!(
            "merge-patch.every-member",
            "merge patch (RFC 7396)",
            "Every member of UserPatch is kept when left out, merged as RFC 7396 says when sent, and cleared by null (or refused, naming it, where it may not be null).",
            every_member,
            [
                Cover::Semantic(&s::PATCH_ABSENT),
                Cover::Semantic(&s::PATCH_NULL),
                Cover::Semantic(&s::PATCH_OBJECTS),
                Cover::Semantic(&s::PATCH_WHOLE),
                Cover::Status(&ops::UPDATE_USER, 400)
            ]
        ),
        check!(
            "merge-patch.nested-objects-merge",
            "merge patch (RFC 7396)",
            "An object member is merged member by member, not replaced.",
            nested_objects_merge,
            [Cover::Semantic(&s::PATCH_OBJECTS)]
        ),
        check!(
            "merge-patch.maps-merge-by-key",
            "merge patch (RFC 7396)",
            "A map member is merged key by key; a null value removes its key.",
            maps_merge_by_key,
            [Cover::Semantic(&s::PATCH_OBJECTS)]
        ),
        check!(
            "merge-patch.empty-patch-changes-nothing",
            "merge patch (RFC 7396)",
            "The empty patch changes nothing, not even the version.",
            empty_patch_changes_nothing,
            [Cover::Semantic(&s::PATCH_EMPTY)]
        ),
        check!(
            "conditional.etag-on-reads-and-writes",
            "conditional requests",
            "Reads and writes answer the resource's current ETag.",
            etag_on_reads_and_writes,
            [
                Cover::Status(&ops::GET_USER, 200),
                Cover::Parameter(&ops::UPDATE_USER, "If-Match")
            ]
        ),
        check!(
            "conditional.if-none-match-current-is-304",
            "conditional requests",
            "A read with the current ETag in If-None-Match is 304 with no body.",
            if_none_match_current_is_304,
            [
                Cover::Status(&ops::GET_USER, 304),
                Cover::Parameter(&ops::GET_USER, "If-None-Match"),
                Cover::Semantic(&s::GET_NOT_MODIFIED)
            ]
        ),
        check!(
            "conditional.stale-if-match-changes-nothing",
            "conditional requests",
            "A write with a stale If-Match is a 412 problem and changes nothing.",
            stale_if_match_changes_nothing,
            [Cover::Status(&ops::UPDATE_USER, 412)]
        ),
        check!(
            "conditional.missing-user-is-404-before-412",
            "conditional requests",
            "A write to a user that does not exist is 404, whatever its If-Match.",
            missing_user_is_404_before_412,
            [
                Cover::Status(&ops::UPDATE_USER, 404),
                Cover::Status(&ops::DELETE_USER, 404)
            ]
        ),
        check!(
            "concurrency.one-winner",
            "concurrency",
            "Of concurrent writes with the same If-Match, exactly one succeeds, the rest are 412, and no winner's change is lost.",
            one_winner,
            [
                Cover::Semantic(&s::PATCH_CONCURRENT),
                Cover::Status(&ops::UPDATE_USER, 412)
            ]
        ),
        check!(
            "concurrency.unconditional-writes-all-apply",
            "concurrency",
            "Concurrent writes without If-Match to different members all apply.",
            unconditional_writes_all_apply,
            [Cover::Semantic(&s::PATCH_CONCURRENT)]
        ),
        check!(
            "idempotency.replay",
            "idempotency",
            "A create repeated with its Idempotency-Key and body answers the first response and creates nothing.",
            idempotency_replay,
            [
                Cover::Parameter(&ops::CREATE_USER, "Idempotency-Key"),
                Cover::Semantic(&s::CREATE_REPLAY)
            ]
        ),
        check!(
            "idempotency.key-reused-with-another-body",
            "idempotency",
            "An Idempotency-Key sent again with another body is a 422 problem.",
            idempotency_other_body,
            [
                Cover::Status(&ops::CREATE_USER, 422),
                Cover::Semantic(&s::CREATE_KEY_OTHER_BODY)
            ]
        ),
        check!(
            "idempotency.a-refusal-is-not-kept",
            "idempotency",
            "A create refused under an Idempotency-Key leaves no record behind: its repeat is judged afresh (the same refusal), not held as in progress.",
            idempotency_refusal_not_kept,
            [Cover::Semantic(&s::CREATE_REPLAY)]
        ),
        check!(
            "idempotency.concurrent-duplicates",
            "idempotency",
            "Concurrent creates with one Idempotency-Key make one user: each repeat waits for the first and answers its response (or 409 after waiting).",
            idempotency_concurrent,
            [Cover::Semantic(&s::CREATE_KEY_CONCURRENT)]
        ),
        check!(
            "idempotency.keys-are-per-caller",
            "idempotency",
            "Another caller's create with the same Idempotency-Key is a create of its own.",
            idempotency_per_caller,
            [Cover::Semantic(&s::CREATE_KEY_SCOPE)]
        ),
        check!(
            "idempotency.keys-kept-24-hours",
            "idempotency",
            "An Idempotency-Key is kept for 24 hours: a repeat a minute before answers the first response, and after them the key is free for another body.",
            idempotency_kept_a_day,
            [Cover::Semantic(&s::CREATE_KEY_KEPT)],
            needs[Need::Clock]
        ),
        check!(
            "tenancy.other-accounts-are-invisible",
            "tenancy",
            "A user of another account is 404 to read, patch, replace or delete, and is not listed.",
            other_accounts_are_invisible,
            [
                Cover::Semantic(&s::GET_OTHER_ACCOUNT),
                Cover::Semantic(&s::LIST_TENANCY),
                Cover::Status(&ops::GET_USER, 404),
                Cover::Status(&ops::REPLACE_USER, 404)
            ]
        ),
        check!(
            "tenancy.switch-key-acts-on-the-named-account",
            "tenancy",
            "accountSwitchKey naming an account the token lists acts on that account.",
            switch_key_acts,
            [Cover::Parameter(&ops::CREATE_USER, "accountSwitchKey")]
        ),
        check!(
            "tenancy.switch-key-not-listed-is-403",
            "tenancy",
            "accountSwitchKey naming an account the token does not list is a 403 problem.",
            switch_key_refused,
            [Cover::Status(&ops::LIST_USERS, 403)]
        ),
        check!(
            "privileges.privileged-members-need-admin",
            "privileged and read-only members",
            "A caller without users:admin cannot send any privileged member: a 403 problem naming it, nothing changed.",
            privileged_members_need_admin,
            [
                Cover::Semantic(&s::PATCH_PRIVILEGED),
                Cover::Status(&ops::UPDATE_USER, 403)
            ]
        ),
        check!(
            "privileges.read-only-members-are-refused",
            "privileged and read-only members",
            "A write naming a read-only member is a 400 problem naming it, and changes nothing.",
            read_only_members_are_refused,
            [Cover::Semantic(&s::PATCH_READ_ONLY)]
        ),
        check!(
            "privileges.readers-cannot-write",
            "privileged and read-only members",
            "A caller with users:read only cannot create or change users.",
            readers_cannot_write,
            [Cover::Status(&ops::CREATE_USER, 403)]
        ),
        check!(
            "status.changes-are-stamped",
            "status",
            "Deactivating, archiving and reactivating stamp deactivatedAt, archivedAt and activatedAt, and keep the other stamps.",
            status_changes_are_stamped,
            [Cover::Semantic(&s::PATCH_STATUS_STAMPS)]
        ),
        check!(
            "uniqueness.email-ignores-case",
            "uniqueness",
            "An email taken in any case is a 409 problem naming email; email filters and text search ignore case, beyond ASCII too.",
            email_ignores_case,
            [
                Cover::Semantic(&s::EMAIL_UNIQUE),
                Cover::Status(&ops::CREATE_USER, 409),
                Cover::Parameter(&ops::LIST_USERS, "email"),
                Cover::Parameter(&ops::LIST_USERS, "q")
            ]
        ),
        check!(
            "relations.add-and-remove-lists",
            "relations",
            "addX and removeX change a relation member by member.",
            relations_add_and_remove,
            [Cover::Semantic(&s::PATCH_RELATIONS)]
        ),
        check!(
            "relations.whole-set-with-a-list-is-400",
            "relations",
            "A whole relation set together with its add or remove list is a 400 problem.",
            relations_whole_set_with_list,
            [Cover::Semantic(&s::PATCH_RELATIONS_BOTH)]
        ),
        check!(
            "pagination.stable-under-inserts",
            "pagination",
            "Paging by cursor neither skips nor repeats a user while others are created, and skips none created before the last page was asked for.",
            pagination_stable_under_inserts,
            [
                Cover::Semantic(&s::LIST_STABLE),
                Cover::Semantic(&s::LIST_LAST_PAGE),
                Cover::Parameter(&ops::LIST_USERS, "cursor"),
                Cover::Parameter(&ops::LIST_USERS, "limit"),
                Cover::Status(&ops::LIST_USERS, 200)
            ]
        ),
        check!(
            "problems.malformed-json",
            "problem documents",
            "A body that is not JSON is a 400 problem on every operation that takes a body, and changes nothing.",
            operations::malformed_json_everywhere,
            [
                Cover::Status(&ops::CREATE_USER, 400),
                Cover::Status(&ops::SET_USER_PASSWORD, 400)
            ]
        ),
        check!(
            "problems.validation-names-every-field",
            "problem documents",
            "An invalid body is a 400 problem listing each bad field by its dotted path.",
            validation_names_every_field,
            [Cover::Status(&ops::CREATE_USER, 400)]
        ),
        check!(
            "problems.unknown-user",
            "problem documents",
            "An unknown user or group is a 404 problem on every operation that names one.",
            operations::unknown_subject_everywhere,
            [
                Cover::StatusOfEvery(404),
                Cover::ParameterOfEvery("userId"),
                Cover::ParameterOfEvery("groupId")
            ]
        ),
        check!(
            "problems.unauthenticated",
            "problem documents",
            "Every operation answers a request without a token, or with one that is not a token, with a 401 problem.",
            operations::every_operation_needs_a_token,
            [Cover::StatusOfEvery(401)]
        ),
        check!(
            "problems.unsupported-media-type",
            "problem documents",
            "A body in a media type the operation does not take is a 415 problem, on every operation that takes a body, and changes nothing.",
            operations::unsupported_media_type_everywhere,
            [Cover::StatusOfEvery(415)]
        ),
        check!(
            "problems.payload-too-large",
            "problem documents",
            "A body over the server's limit is a 413 problem on every operation that takes a body, and nothing is created or changed.",
            operations::payload_too_large_everywhere,
            [Cover::StatusOfEvery(413)]
        ),
        check!(
            "problems.malformed-user-id",
            "problem documents",
            "A userId or groupId that is not a UUID is a 400 problem naming it, on every operation that names a user or a group.",
            operations::malformed_ids,
            [
                Cover::Status(&ops::GET_USER, 400),
                Cover::Status(&ops::REPLACE_USER, 400),
                Cover::Status(&ops::UPDATE_USER, 400),
                Cover::Status(&ops::DELETE_USER, 400),
                Cover::Status(&ops::SET_USER_PASSWORD, 400),
                Cover::Status(&ops::GET_USER_AVATAR, 400),
                Cover::Status(&ops::SET_USER_AVATAR, 400),
                Cover::Status(&ops::DELETE_USER_AVATAR, 400),
                Cover::Status(&ops::LIST_USER_GROUPS, 400),
                Cover::Status(&ops::GET_GROUP, 400),
                Cover::Status(&ops::UPDATE_GROUP, 400),
                Cover::Status(&ops::DELETE_GROUP, 400),
                Cover::ParameterOfEvery("userId"),
                Cover::ParameterOfEvery("groupId"),
            ]
        ),
        check!(
            "auth.every-operation-needs-its-scope",
            "authorization",
            "Every operation answers a valid token without its scope with a 403 problem, and changes nothing.",
            operations::every_operation_needs_its_scope,
            [Cover::StatusOfEvery(403)]
        ),
        check!(
            "conditional.stale-if-match-on-every-change",
            "conditional requests",
            "Every operation that takes If-Match answers a stale one with a 412 problem and changes nothing, and applies under the current one.",
            operations::stale_if_match_everywhere,
            [
                Cover::StatusOfEvery(412),
                Cover::ParameterOfEvery("If-Match")
            ]
        ),
        check!(
            "tenancy.switch-key-on-every-operation",
            "tenancy",
            "Every operation that takes accountSwitchKey acts on the named account, not the caller's.",
            operations::switch_key_everywhere,
            [
                Cover::ParameterOfEvery("accountSwitchKey"),
                Cover::Status(&ops::DELETE_USER, 204),
                Cover::Status(&ops::SET_USER_PASSWORD, 204),
            ]
        ),
        check!(
            "lookups.list-what-members-accept",
            "lookups",
            "Each lookup lists its values in order, once each; the member it is for takes a listed value and refuses an unlisted one, naming the member.",
            operations::lookups_list_what_members_accept,
            [
                Cover::Status(&ops::LIST_COUNTRIES, 200),
                Cover::Status(&ops::LIST_LANGUAGES, 200),
                Cover::Status(&ops::LIST_LOCALES, 200),
                Cover::Status(&ops::LIST_TIME_ZONES, 200),
                Cover::Semantic(&s::COUNTRIES),
                Cover::Semantic(&s::LANGUAGES),
                Cover::Semantic(&s::LOCALES),
                Cover::Semantic(&s::TIME_ZONES),
            ]
        ),
        check!(
            "pagination.creation-order-and-status-filter",
            "pagination",
            "Users are listed in creation order across pages; the page holding the last user has no nextCursor; status= lists only users with that status.",
            operations::list_in_creation_order_by_status,
            [
                Cover::Semantic(&s::LIST_ORDER),
                Cover::Semantic(&s::LIST_LAST_PAGE),
                Cover::Parameter(&ops::LIST_USERS, "status")
            ]
        ),
        check!(
            "pagination.bad-limits-and-cursors-are-400",
            "pagination",
            "A limit out of its range, another account's cursor and a cursor the server did not issue are 400 problems.",
            operations::list_refuses_bad_limits_and_cursors,
            [
                Cover::Status(&ops::LIST_USERS, 400),
                Cover::Semantic(&s::LIST_SEALED),
                Cover::Parameter(&ops::LIST_USERS, "limit"),
                Cover::Parameter(&ops::LIST_USERS, "cursor"),
            ]
        ),
        check!(
            "create.location-names-the-user",
            "create",
            "A create answers 201 with Location naming the new user, which reads as the create answered.",
            operations::create_answers_location,
            [
                Cover::Status(&ops::CREATE_USER, 201),
                Cover::Semantic(&s::CREATE_LOCATION)
            ]
        ),
        check!(
            "privileges.create-with-privileged-members-needs-admin",
            "privileged and read-only members",
            "A create by a caller without users:admin naming any privileged member is a 403 problem naming it, and creates nothing.",
            operations::create_privileged_needs_admin,
            [Cover::Semantic(&s::CREATE_PRIVILEGED)]
        ),
        check!(
            "uniqueness.email-on-every-write",
            "uniqueness",
            "A patch or replace to another user's email, in any case, is a 409 problem naming email, and changes nothing.",
            operations::email_unique_on_every_write,
            [
                Cover::Status(&ops::UPDATE_USER, 409),
                Cover::Status(&ops::REPLACE_USER, 409)
            ]
        ),
        check!(
            "replace.omitted-cleared-the-rest-kept",
            "replace",
            "A PUT clears every optional profile member it omits and leaves status and roles alone.",
            operations::replace_clears_omitted_keeps_the_rest,
            [
                Cover::Status(&ops::REPLACE_USER, 200),
                Cover::Semantic(&s::PUT_CLEARS),
                Cover::Semantic(&s::PUT_KEEPS),
            ]
        ),
        check!(
            "privileges.admin-creator-or-self",
            "privileged and read-only members",
            "A writer may patch or replace only users it created or itself: another's is a 403 problem that changes nothing.",
            operations::only_admin_creator_or_self_change,
            [
                Cover::Semantic(&s::PATCH_WHO),
                Cover::Semantic(&s::PUT_WHO),
                Cover::Status(&ops::REPLACE_USER, 403),
            ]
        ),
        check!(
            "delete.gone-for-good",
            "delete",
            "A deleted user answers 204 with no body, is then 404 to read and delete, is not listed, and its email is free.",
            operations::delete_is_for_good,
            [
                Cover::Status(&ops::DELETE_USER, 204),
                Cover::Semantic(&s::DELETE_GONE)
            ]
        ),
        check!(
            "password.never-returned",
            "password",
            "A password set answers 204; the user then says hasPassword and passwordUpdatedAt and shows the password nowhere; a writer cannot set another's.",
            operations::password_is_never_returned,
            [
                Cover::Status(&ops::SET_USER_PASSWORD, 204),
                Cover::Status(&ops::SET_USER_PASSWORD, 403),
                Cover::Semantic(&s::PASSWORD_HIDDEN),
            ]
        ),
        check!(
            "password.own-change-needs-the-current",
            "password",
            "A user changing their own password without the current one, or with a wrong one, is a 400 problem naming currentPassword; with it, the change applies.",
            operations::own_password_needs_the_current,
            [Cover::Semantic(&s::PASSWORD_SELF)]
        ),
        check!(
            "merge-patch.json-is-a-merge-patch",
            "merge patch (RFC 7396)",
            "A patch sent as application/json is merged as the same merge patch.",
            operations::json_is_a_merge_patch,
            [Cover::Semantic(&s::PATCH_JSON)]
        ),
        check!(
            "merge-patch.rules-on-the-merged-user",
            "merge patch (RFC 7396)",
            "Rules that relate members judge the merged user: a partial address keeps its stored state; clearing a US state is a 400 problem naming address.state.",
            operations::rules_judge_the_merged_user,
            [Cover::Semantic(&s::PATCH_MERGED_RULES)]
        ),
        check!(
            "versions.increase-by-one",
            "conditional requests",
            "A new user is version 1; every patch, replace and password change adds one, a change that changes nothing adds none, and the ETag is the version quoted.",
            operations::versions_increase_by_one,
            [
                Cover::Semantic(&s::PATCH_VERSION),
                Cover::Semantic(&s::PUT_VERSION),
                Cover::Semantic(&s::PASSWORD_VERSION),
            ]
        ),
        check!(
            "privileges.owner-organization-from-the-token",
            "privileged and read-only members",
            "A caller without users:admin may give a user, or move it out of and into, only organizations its token lists: else a 403 problem naming ownerOrganization.id that changes nothing; an admin may name any.",
            operations::owner_organization_from_the_token,
            [
                Cover::Semantic(&s::CREATE_ORGANIZATION),
                Cover::Semantic(&s::PATCH_ORGANIZATION)
            ]
        ),
    ];
    all.extend(groups::all());
    all.extend(avatars::all());
    all
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A value that means "nothing": absent, null, empty, or an object whose
/// members are all nothing or `false` (flags reset to off).
fn cleared(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.values().all(cleared),
        _ => false,
    }
}

/// Whether `answered` shows what `sent` set: objects member by member,
/// arrays as sets, scalars equal.
fn shows(answered: &Value, sent: &Value) -> bool {
    match (answered, sent) {
        (Value::Object(a), Value::Object(s)) => s
            .iter()
            .all(|(k, v)| shows(a.get(k).unwrap_or(&Value::Null), v)),
        (Value::Array(a), Value::Array(s)) => {
            let a: BTreeSet<String> = a.iter().map(Value::to_string).collect();
            let s: BTreeSet<String> = s.iter().map(Value::to_string).collect();
            a == s
        }
        (a, s) => a == s,
    }
}

/// A sample value for each member of `UserPatch`, and how to see its
/// effect: most members show their value; `addX`/`removeX` change the
/// relation `X`.
fn sample(member: &str) -> Option<Value> {
    Some(match member {
        "externalId" => json!(unique("ext-")),
        "name" => json!({ "firstName": "Grace", "lastName": "Hopper" }),
        "email" => json!(format!("{}@example.com", unique("m-"))),
        "secondaryEmail" => json!(format!("{}@example.org", unique("s-"))),
        "phone" => json!("+12025550123"),
        "mobilePhone" => json!("+12025550124"),
        "jobTitle" => json!("Rear Admiral"),
        "title" => json!("Dr."),
        "position" => json!("Compiler lead"),
        "description" => json!("Wrote the first compiler."),
        "dateOfBirth" => json!("1906-12-09"),
        "gender" => json!("female"),
        "locale" => json!("en-us"),
        "preferredLanguage" => json!("en"),
        "timeZone" => json!("America/New_York"),
        "contactType" => json!("technical"),
        "sessionTimeout" => json!(3600),
        "address" => {
            json!({ "city": "Arlington", "state": "VA", "zipCode": "22201", "countryCode": "US" })
        }
        "mfa" => json!({ "enabled": true, "expirationInMinutes": 30 }),
        "ownerOrganization" => json!({ "id": uuid::Uuid::new_v4() }),
        "employeeId" => json!("E-1906"),
        "avatarUrl" => json!("https://example.com/grace.png"),
        "customAttributes" => json!({ "cobol": true }),
        "notifications" => json!({ "onNewEmail": true }),
        "teams" | "tags" | "roles" | "addTeams" | "addTags" | "addRoles" => json!(["navy"]),
        "removeTeams" | "removeTags" | "removeRoles" => json!(["navy"]),
        "status" => json!("deactivated"),
        "isAdmin" | "apiAccess" | "mustResetPassword" => json!(true),
        _ => return None,
    })
}

/// The relation an `addX` / `removeX` member changes.
fn relation_of(member: &str) -> Option<(&'static str, bool)> {
    Some(match member {
        "addTeams" => ("teams", true),
        "removeTeams" => ("teams", false),
        "addTags" => ("tags", true),
        "removeTags" => ("tags", false),
        "addRoles" => ("roles", true),
        "removeRoles" => ("roles", false),
        _ => return None,
    })
}

async fn absent_members_are_kept(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "jobTitle": "Engineer", "phone": "+12025550100" }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(Role::Admin, &id, json!({ "title": "Dr." }), None)
        .await?
        .expect(200, "a patch of title")?;
    ensure(
        patched.body["jobTitle"] == "Engineer" && patched.body["phone"] == "+12025550100",
        || format!("members the patch left out changed: {}", patched.body),
    )
}

async fn null_clears(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "jobTitle": "Engineer", "phone": "+12025550100" }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(Role::Admin, &id, json!({ "phone": null }), None)
        .await?
        .expect(200, "a patch clearing phone")?;
    ensure(cleared(&patched.body["phone"]), || {
        format!("phone is still {} after null", patched.body["phone"])
    })?;
    let read = ctx
        .get(Role::Admin, &id)
        .await?
        .expect(200, "reading the user")?;
    ensure(
        cleared(&read.body["phone"]) && read.body["jobTitle"] == "Engineer",
        || format!("the stored user does not show the patch: {}", read.body),
    )
}

/// RFC 7396's merge, the oracle of what a patch gives.
fn merge(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(patch) => {
            let mut merged = match target {
                Value::Object(target) => target.clone(),
                _ => serde_json::Map::new(),
            };
            for (key, value) in patch {
                if value.is_null() {
                    merged.remove(key);
                } else {
                    let current = merged.get(key).cloned().unwrap_or(Value::Null);
                    merged.insert(key.clone(), merge(&current, value));
                }
            }
            Value::Object(merged)
        }
        other => other.clone(),
    }
}

/// A user with every member set, so that leaving one out means something.
fn full_profile() -> Value {
    json!({
        "name": { "firstName": "John", "lastName": "Smith" },
        "email": format!("{}@example.com", unique("full-")),
        "externalId": unique("ext-"), "secondaryEmail": "j.smith@example.net", "phone": "+12345678901",
        "mobilePhone": "+12345678902", "jobTitle": "Head of Operations", "title": "Mr.",
        "position": "Operations", "description": "Runs the office.", "dateOfBirth": "1980-12-20",
        "gender": "male", "locale": "en-gb", "preferredLanguage": "de", "timeZone": "Europe/London",
        "contactType": "billing", "sessionTimeout": 900, "employeeId": "E-1",
        "avatarUrl": "https://cdn.example.com/a.png",
        "address": { "address1": "1 Main St.", "city": "Boston", "state": "MA", "zipCode": "02101", "countryCode": "US" },
        "mfa": { "enabled": false, "expirationInMinutes": 5 },
        "ownerOrganization": { "id": uuid::Uuid::new_v4() },
        "customAttributes": { "costCenter": "CC-12", "seniority": 3 },
        "notifications": { "onNewEmail": false, "onPurchases": true },
        "teams": ["ops"], "tags": ["boston"], "roles": ["viewer"]
    })
}

async fn every_member(ctx: Ctx) -> Result<(), String> {
    let nullable = users_api::types::UserPatch::NULLABLE_MEMBERS;
    let mut problems = Vec::new();
    let created = ctx.create(Role::Admin, full_profile()).await?;
    let id = id_of(&created)?;
    let mut before = created.body;
    for member in users_api::types::UserPatch::MEMBERS {
        let Some(value) = sample(member) else {
            problems.push(format!(
                "{member}: the kit has no sample value (a member the kit does not know)"
            ));
            continue;
        };
        let seen = |body: &Value| match relation_of(member) {
            Some((relation, _)) => body[relation].clone(),
            None => body[*member].clone(),
        };
        // Left out: a patch of another member keeps it.
        let other = if *member == "description" {
            json!({ "position": unique("p-") })
        } else {
            json!({ "description": unique("d-") })
        };
        let kept = ctx.patch(Role::Admin, &id, other, None).await?;
        if kept.status != 200 || seen(&kept.body) != seen(&before) {
            problems.push(format!(
                "{member}: a patch leaving it out changed it from {} to {}",
                seen(&before),
                seen(&kept.body)
            ));
            continue;
        }
        // Sent: merged into what is stored.
        let set = ctx
            .patch(Role::Admin, &id, json!({ *member: value }), None)
            .await?;
        if set.status != 200 {
            problems.push(format!(
                "{member}: sending {value} answered {} {}",
                set.status, set.body
            ));
            continue;
        }
        let merged = match relation_of(member) {
            Some((relation, adds)) => set.body[relation]
                .as_array()
                .is_some_and(|a| a.contains(&json!("navy")) == adds),
            None => shows(&set.body[*member], &merge(&kept.body[*member], &value)),
        };
        if !merged {
            problems.push(format!(
                "{member}: {value} merged into {} answered {}",
                kept.body[*member], set.body[*member]
            ));
            continue;
        }
        // Null: cleared, or refused naming the member.
        let nulled = ctx
            .patch(Role::Admin, &id, json!({ *member: null }), None)
            .await?;
        if nullable.contains(member) {
            if nulled.status != 200 || !cleared(&nulled.body[*member]) {
                problems.push(format!(
                    "{member}: null answered {} with {}",
                    nulled.status, nulled.body[*member]
                ));
                continue;
            }
            before = nulled.body;
        } else {
            let named = nulled.names_field(member);
            if nulled.status != 400 || !named {
                problems.push(format!(
                    "{member}: null for a member that cannot be null answered {} {}",
                    nulled.status, nulled.body
                ));
                continue;
            }
            before = set.body;
        }
        // Put the full profile back for the next member.
        let restore = full_profile();
        if let Some(original) = restore.get(*member) {
            let mut back = json!({ *member: original });
            if *member == "email" {
                back = json!({});
            }
            let restored = ctx.patch(Role::Admin, &id, back, None).await?;
            if restored.status == 200 {
                before = restored.body;
            }
        }
    }
    ensure(problems.is_empty(), || problems.join("; "))
}

async fn nested_objects_merge(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "address": { "city": "Berlin", "zipCode": "10115", "countryCode": "DE" } }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "address": { "city": "Hamburg" } }),
            None,
        )
        .await?
        .expect(200, "a patch of address.city")?;
    let address = &patched.body["address"];
    ensure(
        address["city"] == "Hamburg"
            && address["zipCode"] == "10115"
            && address["countryCode"] == "DE",
        || format!("address was not merged member by member: {address}"),
    )?;
    let cleared_member = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "address": { "zipCode": null } }),
            None,
        )
        .await?
        .expect(200, "a patch clearing address.zipCode")?;
    ensure(
        cleared(&cleared_member.body["address"]["zipCode"])
            && cleared_member.body["address"]["city"] == "Hamburg",
        || {
            format!(
                "null inside address did not clear only its member: {}",
                cleared_member.body["address"]
            )
        },
    )
}

async fn maps_merge_by_key(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(
            Role::Admin,
            json!({ "customAttributes": { "a": "1", "b": "2" } }),
        )
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "customAttributes": { "b": null, "c": 3 } }),
            None,
        )
        .await?
        .expect(200, "a patch of customAttributes")?;
    ensure(
        patched.body["customAttributes"] == json!({ "a": "1", "c": 3 }),
        || {
            format!(
                "customAttributes was not merged key by key: {}",
                patched.body["customAttributes"]
            )
        },
    )
}

async fn empty_patch_changes_nothing(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let tag = created.etag()?;
    let patched = ctx
        .patch(Role::Admin, &id, json!({}), Some(&tag))
        .await?
        .expect(200, "the empty patch")?;
    ensure(
        patched.body["resourceVersion"] == created.body["resourceVersion"]
            && patched.etag()? == tag,
        || {
            format!(
                "the empty patch changed the version: {} → {}",
                created.body["resourceVersion"], patched.body["resourceVersion"]
            )
        },
    )
}

async fn etag_on_reads_and_writes(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let created_tag = created.etag()?;
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(read.etag()? == created_tag, || {
        "the read's ETag is not the create's".into()
    })?;
    let patched = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "title": "Dr." }),
            Some(&created_tag),
        )
        .await?
        .expect(200, "a patch under If-Match")?;
    let patched_tag = patched.etag()?;
    ensure(patched_tag != created_tag, || {
        "a change kept the ETag".into()
    })?;
    let reread = ctx
        .get(Role::Admin, &id)
        .await?
        .expect(200, "reading again")?;
    ensure(reread.etag()? == patched_tag, || {
        "the read after a change does not answer the change's ETag".into()
    })
}

async fn if_none_match_current_is_304(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let tag = created.etag()?;
    let answer = ctx
        .send(
            Role::Admin,
            Method::GET,
            &format!("/v1/users/{id}"),
            None,
            &[("if-none-match", &tag)],
        )
        .await?
        .expect(304, "a read with the current ETag")?;
    ensure(answer.body.is_null(), || {
        format!("a 304 with a body: {}", answer.body)
    })?;
    ctx.patch(Role::Admin, &id, json!({ "title": "Dr." }), None)
        .await?
        .expect(200, "a change")?;
    ctx.send(
        Role::Admin,
        Method::GET,
        &format!("/v1/users/{id}"),
        None,
        &[("if-none-match", &tag)],
    )
    .await?
    .expect(200, "a read with a stale ETag")?;
    Ok(())
}

async fn stale_if_match_changes_nothing(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(Role::Admin, json!({ "jobTitle": "Engineer" }))
        .await?;
    let id = id_of(&created)?;
    let stale = created.etag()?;
    ctx.patch(Role::Admin, &id, json!({ "title": "Dr." }), Some(&stale))
        .await?
        .expect(200, "the first change")?;
    let before = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ctx.patch(
        Role::Admin,
        &id,
        json!({ "jobTitle": "Manager" }),
        Some(&stale),
    )
    .await?
    .problem(412, "a change under a stale If-Match")?;
    let after = ctx
        .get(Role::Admin, &id)
        .await?
        .expect(200, "reading again")?;
    ensure(
        after.body == before.body && after.etag()? == before.etag()?,
        || format!("a refused change changed the user: {}", after.body),
    )
}

async fn one_winner(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let mut tag = created.etag()?;
    let mut kept = serde_json::Map::new();
    for round in 0..10 {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (ctx, id, tag) = (ctx.clone(), id.clone(), tag.clone());
                tokio::spawn(async move {
                    let patch = json!({ "customAttributes": { format!("r{round}w{i}"): round } });
                    ctx.patch(Role::Admin, &id, patch, Some(&tag)).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut statuses = Vec::new();
        for writer in writers {
            let answer = writer.await.map_err(|e| e.to_string())??;
            statuses.push(answer.status);
            if answer.status == 200 {
                winners.push(answer);
            }
        }
        ensure(
            winners.len() == 1 && statuses.iter().all(|s| *s == 200 || *s == 412),
            || {
                format!(
                    "round {round}: 8 writers with one If-Match answered {statuses:?}: expected one 200 and seven 412"
                )
            },
        )?;
        let winner = winners.pop().unwrap();
        tag = winner.etag()?;
        let attributes = winner.body["customAttributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let (key, _) = attributes
            .iter()
            .find(|(k, _)| k.starts_with(&format!("r{round}w")))
            .ok_or_else(|| format!("round {round}: the winner's change is not in its answer"))?;
        kept.insert(key.clone(), json!(round));
        ensure(
            Value::Object(attributes.clone()) == Value::Object(kept.clone()),
            || format!("round {round}: an earlier winner's change was lost: {attributes:?}"),
        )?;
    }
    Ok(())
}

async fn unconditional_writes_all_apply(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (ctx, id) = (ctx.clone(), id.clone());
            tokio::spawn(async move {
                ctx.patch(
                    Role::Admin,
                    &id,
                    json!({ "customAttributes": { format!("w{i}"): true } }),
                    None,
                )
                .await
            })
        })
        .collect();
    for writer in writers {
        writer
            .await
            .map_err(|e| e.to_string())??
            .expect(200, "a write without If-Match")?;
    }
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    let count = read.body["customAttributes"]
        .as_object()
        .map_or(0, |a| a.len());
    ensure(count == 8, || {
        format!(
            "{count} of 8 concurrent writes are in the user: {}",
            read.body["customAttributes"]
        )
    })
}

async fn missing_user_is_404_before_412(ctx: Ctx) -> Result<(), String> {
    let missing = uuid::Uuid::new_v4().to_string();
    ctx.patch(
        Role::Admin,
        &missing,
        json!({ "title": "Dr." }),
        Some("\"1\""),
    )
    .await?
    .problem(404, "a patch of a missing user under If-Match")?;
    ctx.send(
        Role::Admin,
        Method::DELETE,
        &format!("/v1/users/{missing}"),
        None,
        &[("if-match", "\"1\"")],
    )
    .await?
    .problem(404, "a delete of a missing user under If-Match")?;
    Ok(())
}

async fn idempotency_per_caller(ctx: Ctx) -> Result<(), String> {
    let key = unique("key-");
    let first = create_with_key(
        &ctx,
        &key,
        new_user(&format!("{}@example.com", unique("mine-"))),
    )
    .await?
    .expect(201, "the first caller's create")?;
    let theirs = ctx
        .send(
            Role::SecondAdmin,
            Method::POST,
            "/v1/users",
            Some((
                "application/json",
                new_user(&format!("{}@example.com", unique("theirs-"))),
            )),
            &[("idempotency-key", &key)],
        )
        .await?
        .expect(201, "another caller's create with the same key")?;
    ensure(theirs.body["id"] != first.body["id"], || {
        "another caller got the first caller's user".into()
    })
}

async fn status_changes_are_stamped(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    ensure(
        created.body["activatedAt"].is_string() && created.body["deactivatedAt"].is_null(),
        || format!("a new user is not stamped active: {}", created.body),
    )?;
    let off = ctx
        .patch(Role::Admin, &id, json!({ "status": "deactivated" }), None)
        .await?
        .expect(200, "deactivating")?;
    ensure(
        off.body["status"] == "deactivated" && off.body["deactivatedAt"].is_string(),
        || format!("deactivating did not stamp deactivatedAt: {}", off.body),
    )?;
    let archived = ctx
        .patch(Role::Admin, &id, json!({ "status": "archived" }), None)
        .await?
        .expect(200, "archiving")?;
    ensure(
        archived.body["archivedAt"].is_string()
            && archived.body["deactivatedAt"] == off.body["deactivatedAt"],
        || {
            format!(
                "archiving did not stamp archivedAt, or lost deactivatedAt: {}",
                archived.body
            )
        },
    )?;
    // activatedAt is when the user last became active.
    let on = ctx
        .patch(Role::Admin, &id, json!({ "status": "active" }), None)
        .await?
        .expect(200, "reactivating")?;
    let stamp = |answer: &Answer, member: &str| {
        answer.body[member]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    ensure(
        stamp(&on, "activatedAt") > stamp(&created, "activatedAt")
            && on.body["archivedAt"] == archived.body["archivedAt"]
            && on.body["deactivatedAt"] == off.body["deactivatedAt"],
        || {
            format!(
                "reactivating did not stamp activatedAt anew, or changed the other stamps: {}",
                on.body
            )
        },
    )
}

async fn email_ignores_case(ctx: Ctx) -> Result<(), String> {
    let local = unique("ada.lovelace-");
    let marker = unique("Ängström");
    let first = ctx
        .create(Role::Admin, json!({ "email": format!("{local}@Example.com"), "name": { "firstName": marker, "lastName": "Øre" } }))
        .await?;
    let taken = ctx
        .send(
            Role::Admin,
            Method::POST,
            "/v1/users",
            Some((
                "application/json",
                new_user(&format!("{}@example.COM", local.to_uppercase())),
            )),
            &[],
        )
        .await?
        .problem(409, "the same email in another case")?;
    let named = taken.names_field("email");
    ensure(named, || {
        format!("the 409 does not name email: {}", taken.body)
    })?;
    let count = count_by_email(&ctx, &format!("{}@EXAMPLE.com", local.to_uppercase())).await?;
    ensure(count == 1, || {
        format!("the email filter in another case found {count} users")
    })?;
    for text in [marker.to_lowercase(), marker.to_uppercase()] {
        let found = ctx
            .send(
                Role::Admin,
                Method::GET,
                &format!("/v1/users?q={}", urlencode(&text)),
                None,
                &[],
            )
            .await?
            .expect(200, "a text search")?;
        let ids: Vec<&Value> = found.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| &u["id"])
            .collect();
        ensure(ids == [&first.body["id"]], || {
            format!("searching {text:?} found {ids:?}")
        })?;
    }
    Ok(())
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn create_with_key(ctx: &Ctx, key: &str, body: Value) -> Result<Answer, String> {
    ctx.send(
        Role::Admin,
        Method::POST,
        "/v1/users",
        Some(("application/json", body)),
        &[("idempotency-key", key)],
    )
    .await
}

fn new_user(email: &str) -> Value {
    json!({ "name": { "firstName": "Idem", "lastName": "Potent" }, "email": email })
}

async fn count_by_email(ctx: &Ctx, email: &str) -> Result<usize, String> {
    let page = ctx
        .send(
            Role::Admin,
            Method::GET,
            &format!("/v1/users?email={email}"),
            None,
            &[],
        )
        .await?
        .expect(200, "listing by email")?;
    Ok(page.body["items"].as_array().map_or(0, Vec::len))
}

async fn idempotency_replay(ctx: Ctx) -> Result<(), String> {
    let key = unique("key-");
    let email = format!("{}@example.com", unique("idem-"));
    let first = create_with_key(&ctx, &key, new_user(&email))
        .await?
        .expect(201, "the first create")?;
    let replay = create_with_key(&ctx, &key, new_user(&email)).await?;
    ensure(replay.status == 201 && replay.body == first.body, || {
        format!(
            "the replay answered {} {}, not the first response",
            replay.status, replay.body
        )
    })?;
    let count = count_by_email(&ctx, &email).await?;
    ensure(count == 1, || format!("{count} users for one key"))
}

async fn idempotency_kept_a_day(ctx: Ctx) -> Result<(), String> {
    let minute = std::time::Duration::from_secs(60);
    let key = unique("key-");
    let first_email = format!("{}@example.com", unique("day-a-"));
    let other_email = format!("{}@example.com", unique("day-b-"));
    let first = create_with_key(&ctx, &key, new_user(&first_email))
        .await?
        .expect(201, "the first create")?;
    ctx.advance_clock(24 * 60 * minute - minute).await?;
    let replay = create_with_key(&ctx, &key, new_user(&first_email)).await?;
    ensure(replay.status == 201 && replay.body == first.body, || {
        format!(
            "a minute before 24 hours the repeat answered {} {}, not the first response",
            replay.status, replay.body
        )
    })?;
    create_with_key(&ctx, &key, new_user(&other_email))
        .await?
        .problem(422, "a minute before 24 hours, the key with another body")?;
    ctx.advance_clock(2 * minute).await?;
    let fresh = create_with_key(&ctx, &key, new_user(&other_email))
        .await?
        .expect(201, "after 24 hours, the key with another body")?;
    ensure(fresh.body["id"] != first.body["id"], || {
        "after 24 hours the key still answered the first user".to_owned()
    })?;
    let again = create_with_key(&ctx, &key, new_user(&other_email)).await?;
    ensure(again.status == 201 && again.body == fresh.body, || {
        format!(
            "the key claimed afresh answered {} {} on a repeat, not its new response",
            again.status, again.body
        )
    })
}

async fn idempotency_other_body(ctx: Ctx) -> Result<(), String> {
    let key = unique("key-");
    create_with_key(
        &ctx,
        &key,
        new_user(&format!("{}@example.com", unique("a-"))),
    )
    .await?
    .expect(201, "the first create")?;
    create_with_key(
        &ctx,
        &key,
        new_user(&format!("{}@example.com", unique("b-"))),
    )
    .await?
    .problem(422, "the key with another body")?;
    Ok(())
}

async fn idempotency_refusal_not_kept(ctx: Ctx) -> Result<(), String> {
    let taken = ctx.create(Role::Admin, json!({})).await?;
    let email = email_of(&taken)?;
    let key = unique("key-");
    for attempt in ["the first", "a repeat of the"] {
        let refused = create_with_key(&ctx, &key, new_user(&email))
            .await?
            .problem(409, &format!("{attempt} create with a taken email"))?;
        ensure(refused.names_field("email"), || {
            format!(
                "{attempt} create with a taken email under an Idempotency-Key: not the email's conflict: {}",
                refused.body
            )
        })?;
    }
    Ok(())
}

async fn idempotency_concurrent(ctx: Ctx) -> Result<(), String> {
    let key = unique("key-");
    let email = format!("{}@example.com", unique("race-"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (ctx, key, email) = (ctx.clone(), key.clone(), email.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let answer = create_with_key(&ctx, &key, new_user(&email)).await?;
                Ok::<_, String>((answer, started.elapsed()))
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut seen = Vec::new();
    for task in tasks {
        let (answer, waited) = task.await.map_err(|e| e.to_string())??;
        seen.push(format!(
            "{} after {:.2} s",
            answer.status,
            waited.as_secs_f64()
        ));
        match answer.status {
            201 => created.push(answer.body),
            // A repeat waits for the first (the spec: "up to a few seconds")
            // and answers 409 only if it is still running after that.
            409 if waited >= std::time::Duration::from_secs(1) => {}
            _ => {
                return Err(format!(
                    "concurrent duplicates answered {seen:?}: each waits for the first and answers its response (201), or 409 after waiting"
                ));
            }
        }
    }
    ensure(created.windows(2).all(|w| w[0] == w[1]), || {
        format!("concurrent duplicates answered different users: {created:?}")
    })?;
    let count = count_by_email(&ctx, &email).await?;
    ensure(count == 1, || format!("{count} users for one key"))
}

async fn other_accounts_are_invisible(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::OtherAdmin, json!({})).await?;
    let id = id_of(&created)?;
    ctx.get(Role::Admin, &id)
        .await?
        .problem(404, "reading another account's user")?;
    ctx.patch(Role::Admin, &id, json!({ "title": "Dr." }), None)
        .await?
        .problem(404, "changing another account's user")?;
    ctx.send(
        Role::Admin,
        Method::PUT,
        &format!("/v1/users/{id}"),
        Some((
            "application/json",
            new_user(&format!("{}@example.com", unique("put-"))),
        )),
        &[],
    )
    .await?
    .problem(404, "replacing another account's user")?;
    ctx.send(
        Role::Admin,
        Method::DELETE,
        &format!("/v1/users/{id}"),
        None,
        &[],
    )
    .await?
    .problem(404, "deleting another account's user")?;
    let email = email_of(&created)?;
    let count = count_by_email(&ctx, &email).await?;
    ensure(count == 0, || "another account's user is listed".into())?;
    let theirs = ctx
        .get(Role::OtherAdmin, &id)
        .await?
        .expect(200, "its own account reading it")?;
    ensure(theirs.body == created.body, || {
        "the other account's user changed".into()
    })
}

async fn switch_key_acts(ctx: Ctx) -> Result<(), String> {
    let other = ctx.other_account().to_owned();
    let body = new_user(&format!("{}@example.com", unique("switch-")));
    let created = ctx
        .send(
            Role::Admin,
            Method::POST,
            &format!("/v1/users?accountSwitchKey={other}"),
            Some(("application/json", body)),
            &[],
        )
        .await?
        .expect(201, "a create with accountSwitchKey")?;
    ensure(created.body["accountId"] == json!(other), || {
        format!(
            "the user was created in {}, not {other}",
            created.body["accountId"]
        )
    })?;
    let id = id_of(&created)?;
    ctx.get(Role::OtherAdmin, &id)
        .await?
        .expect(200, "the named account reading it")?;
    ctx.get(Role::Admin, &id)
        .await?
        .problem(404, "the caller's own account reading it")?;
    Ok(())
}

async fn switch_key_refused(ctx: Ctx) -> Result<(), String> {
    let other = ctx.other_account().to_owned();
    ctx.send(
        Role::Writer,
        Method::GET,
        &format!("/v1/users?accountSwitchKey={other}"),
        None,
        &[],
    )
    .await?
    .problem(403, "accountSwitchKey the token does not list")?;
    Ok(())
}

async fn privileged_members_need_admin(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Writer, json!({})).await?;
    let id = id_of(&created)?;
    let mut problems = Vec::new();
    for member in users_api::types::UserPatch::PRIVILEGED_MEMBERS {
        let Some(value) = sample(member) else {
            problems.push(format!("{member}: the kit has no sample value"));
            continue;
        };
        let refused = ctx
            .patch(
                Role::Writer,
                &id,
                json!({ *member: value, "jobTitle": "Changed" }),
                None,
            )
            .await?;
        let named = refused.names_field(member);
        if let Err(why) = refused
            .clone()
            .problem(403, &format!("a writer sending {member}"))
        {
            problems.push(why);
        } else if !named {
            problems.push(format!(
                "{member}: the 403 does not name it: {}",
                refused.body
            ));
        }
    }
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    if read.body != created.body {
        problems.push(format!("a refused change left a trace: {}", read.body));
    }
    // What the writer may change, it changes.
    ctx.patch(Role::Writer, &id, json!({ "jobTitle": "Changed" }), None)
        .await?
        .expect(200, "the writer changing a member that is not privileged")?;
    ensure(problems.is_empty(), || problems.join("; "))
}

async fn read_only_members_are_refused(ctx: Ctx) -> Result<(), String> {
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    for (member, value) in [
        ("resourceVersion", json!(99)),
        ("createdAt", json!("2020-01-01T00:00:00Z")),
    ] {
        let refused = ctx
            .patch(Role::Admin, &id, json!({ member: value }), None)
            .await?
            .problem(400, &format!("a patch of the read-only {member}"))?;
        let named = refused.names_field(member);
        ensure(named, || {
            format!("the problem does not name {member}: {}", refused.body)
        })?;
    }
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(read.body == created.body, || {
        "a refused patch changed the user".into()
    })
}

async fn readers_cannot_write(ctx: Ctx) -> Result<(), String> {
    let body = new_user(&format!("{}@example.com", unique("reader-")));
    ctx.send(
        Role::Reader,
        Method::POST,
        "/v1/users",
        Some(("application/json", body)),
        &[],
    )
    .await?
    .problem(403, "a reader creating a user")?;
    let created = ctx.create(Role::Admin, json!({})).await?;
    let id = id_of(&created)?;
    ctx.patch(Role::Reader, &id, json!({ "title": "Dr." }), None)
        .await?
        .problem(403, "a reader changing a user")?;
    Ok(())
}

async fn relations_add_and_remove(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(Role::Admin, json!({ "teams": ["alpha", "beta"] }))
        .await?;
    let id = id_of(&created)?;
    let patched = ctx
        .patch(
            Role::Admin,
            &id,
            json!({ "addTeams": ["gamma"], "removeTeams": ["alpha"] }),
            None,
        )
        .await?
        .expect(200, "adding and removing teams")?;
    ensure(
        shows(&patched.body["teams"], &json!(["beta", "gamma"])),
        || {
            format!(
                "teams are {}, expected beta and gamma",
                patched.body["teams"]
            )
        },
    )
}

async fn relations_whole_set_with_list(ctx: Ctx) -> Result<(), String> {
    let created = ctx
        .create(Role::Admin, json!({ "teams": ["alpha"] }))
        .await?;
    let id = id_of(&created)?;
    ctx.patch(
        Role::Admin,
        &id,
        json!({ "teams": ["beta"], "addTeams": ["gamma"] }),
        None,
    )
    .await?
    .problem(400, "teams with addTeams")?;
    let read = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(read.body["teams"] == json!(["alpha"]), || {
        "a refused patch changed teams".into()
    })
}

async fn pagination_stable_under_inserts(ctx: Ctx) -> Result<(), String> {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    let marker = unique("page");
    let mut existing = BTreeSet::new();
    for i in 0..7 {
        let created = ctx
            .create(
                Role::Admin,
                json!({ "name": { "firstName": format!("P{i}"), "lastName": marker } }),
            )
            .await?;
        existing.insert(id_of(&created)?);
    }
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (ctx, marker, acknowledged) = (ctx.clone(), marker.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0..12 {
                    let body = json!({ "name": { "firstName": format!("Late{w}x{i}"), "lastName": marker } });
                    if let Ok(created) = ctx.create(Role::Admin, body).await
                        && let Ok(id) = id_of(&created)
                    {
                        acknowledged.lock().unwrap().push((id, Instant::now()));
                    }
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut last_request = Instant::now();
    for _ in 0..200 {
        last_request = Instant::now();
        let path = match &cursor {
            Some(cursor) => format!("/v1/users?q={marker}&limit=2&cursor={cursor}"),
            None => format!("/v1/users?q={marker}&limit=2"),
        };
        let page = ctx
            .send(Role::Admin, Method::GET, &path, None, &[])
            .await?
            .expect(200, "a page")?;
        for user in page.body["items"].as_array().into_iter().flatten() {
            seen.push(user["id"].as_str().unwrap_or_default().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    for writer in writers {
        writer.await.map_err(|e| e.to_string())?;
    }
    let unique_seen: BTreeSet<String> = seen.iter().cloned().collect();
    ensure(unique_seen.len() == seen.len(), || {
        "a user appeared on two pages".into()
    })?;
    ensure(existing.is_subset(&unique_seen), || {
        format!(
            "{} users that existed before paging were skipped",
            existing.difference(&unique_seen).count()
        )
    })?;
    let skipped = acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, at)| *at < last_request && !unique_seen.contains(id))
        .count();
    ensure(skipped == 0, || {
        format!("{skipped} users created before the last page was asked for were skipped")
    })
}

async fn validation_names_every_field(ctx: Ctx) -> Result<(), String> {
    let refused = ctx
        .send(
            Role::Admin,
            Method::POST,
            "/v1/users",
            Some((
                "application/json",
                json!({ "name": { "firstName": "A" }, "email": "not an email" }),
            )),
            &[],
        )
        .await?
        .problem(400, "an invalid create")?;
    let fields: BTreeSet<String> = refused.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect();
    ensure(
        fields.contains("name.lastName") && fields.contains("email"),
        || format!("the problem names {fields:?}, expected name.lastName and email"),
    )
}

/// A raw answer is a refusal with `status` as `application/problem+json`.
fn refused_as_problem(
    answer: Option<(u16, String)>,
    status: u16,
    what: &str,
) -> Result<(), String> {
    let (answered, media) =
        answer.ok_or_else(|| format!("{what}: the connection closed without an answer"))?;
    ensure(
        answered == status && media.starts_with("application/problem+json"),
        || {
            format!(
                "{what} answered {answered} as {media:?}, expected {status} as application/problem+json"
            )
        },
    )
}
