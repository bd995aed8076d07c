//! What the kit checks, against what the spec promises.
//!
//! The elements come from the spec: every operation's documented statuses
//! and parameters from the contract's generated `operation_specs`, and the
//! semantics its prose documents (what PUT does to omitted members, what
//! DELETE leaves behind, ...) as the [`semantics`] below, each quoting the
//! operation's description. Every [`Check`](crate::Check) names the elements
//! it exercises; [`Coverage::of`] lays the two side by side, and an element
//! no check exercises is either listed in [`UNCHECKABLE`] with the reason a
//! black-box kit cannot reach it, or is a gap the coverage test fails on.

use std::fmt::Write as _;

use users_api::operation_specs::{self as ops};
use users_api::runtime::OperationSpec;

use crate::Check;

/// A behaviour the spec's prose promises for an operation.
#[derive(Debug, Clone, Copy)]
pub struct Semantic {
    /// A stable id, `operationId.promise`.
    pub id: &'static str,
    /// The operation whose description makes the promise.
    pub operation: &'static OperationSpec,
    /// The promise, as the description states it.
    pub promise: &'static str,
}

impl PartialEq for Semantic {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// The semantics the spec's operation descriptions document.
pub mod semantics {
    use super::{Semantic, ops};

    macro_rules! semantics {
        ($($name:ident: $op:ident, $id:literal, $promise:literal;)*) => {
            $(
                #[doc = $promise]
                pub const $name: Semantic = Semantic {
                    id: $id,
                    operation: &ops::$op,
                    promise: $promise,
                };
            )*
            /// Every documented semantic, in spec order.
            pub const ALL: &[Semantic] = &[$($name),*];
        };
    }

    semantics! {
        CREATE_LOCATION: CREATE_USER, "createUser.location-names-the-user",
            "A create answers 201 with `Location` naming the new user, readable there.";
        CREATE_PRIVILEGED: CREATE_USER, "createUser.privileged-fields-need-admin",
            "Privileged fields (`roles`, `isAdmin`, `apiAccess`, `mustResetPassword`) need `users:admin`.";
        CREATE_REPLAY: CREATE_USER, "createUser.idempotent-replay",
            "A repeat with the same key and the same body returns the stored response.";
        CREATE_KEY_OTHER_BODY: CREATE_USER, "createUser.key-with-another-body",
            "The same key with another body is `422`.";
        CREATE_KEY_CONCURRENT: CREATE_USER, "createUser.concurrent-repeat",
            "A repeat while the first is still running waits for it, then returns its stored response (or `409`).";
        CREATE_KEY_SCOPE: CREATE_USER, "createUser.keys-per-caller",
            "Keys are scoped to the caller and this operation.";
        CREATE_KEY_KEPT: CREATE_USER, "createUser.keys-kept-24-hours",
            "Keys are kept for 24 hours.";
        CREATE_ORGANIZATION: CREATE_USER, "createUser.owner-organization-from-the-token",
            "A caller without `users:admin` may name only an organization its token lists in `organizations` (else `403`, naming `ownerOrganization.id`).";
        EMAIL_UNIQUE: CREATE_USER, "createUser.email-unique",
            "An email address belongs to one user of the account, compared without regard to case (`409`).";
        LIST_ORDER: LIST_USERS, "listUsers.creation-order",
            "Lists the account's users in creation order, a page at a time.";
        LIST_LAST_PAGE: LIST_USERS, "listUsers.last-page-has-no-cursor",
            "The last page has no `nextCursor`.";
        LIST_STABLE: LIST_USERS, "listUsers.no-skip-no-repeat",
            "A cursor neither skips nor repeats users created while paging.";
        LIST_SEALED: LIST_USERS, "listUsers.sealed-cursors",
            "A cursor that this server did not issue for this account is `400`.";
        LIST_TENANCY: LIST_USERS, "listUsers.own-account-only",
            "Only the account's users are listed.";
        GET_NOT_MODIFIED: GET_USER, "getUser.not-modified",
            "With `If-None-Match` holding the current `ETag` the answer is `304` with no body.";
        GET_OTHER_ACCOUNT: GET_USER, "getUser.other-account-is-404",
            "A user of another account is `404`.";
        PATCH_ABSENT: UPDATE_USER, "updateUser.absent-left-alone",
            "A member that is absent is left alone.";
        PATCH_NULL: UPDATE_USER, "updateUser.null-clears",
            "`null` clears a member.";
        PATCH_OBJECTS: UPDATE_USER, "updateUser.objects-merge",
            "`address`, `mfa`, `customAttributes` and `notifications` merge member by member.";
        PATCH_WHOLE: UPDATE_USER, "updateUser.name-replaced-whole",
            "`name` and `ownerOrganization` are replaced whole.";
        PATCH_EMPTY: UPDATE_USER, "updateUser.empty-patch",
            "`{}` is a valid patch that changes nothing, `resourceVersion` included.";
        PATCH_JSON: UPDATE_USER, "updateUser.json-is-a-merge-patch",
            "`application/json` is read as the same merge patch.";
        PATCH_RELATIONS: UPDATE_USER, "updateUser.relation-lists",
            "Relations are replaced whole or changed with the `add*` / `remove*` lists.";
        PATCH_RELATIONS_BOTH: UPDATE_USER, "updateUser.relation-set-and-list-is-400",
            "The whole set together with an add or remove list of the same relation is `400`, and so is the same member in both lists.";
        PATCH_MERGED_RULES: UPDATE_USER, "updateUser.rules-on-the-merged-user",
            "Rules that relate members are judged on the merged result; errors are reported by dotted path.";
        PATCH_WHO: UPDATE_USER, "updateUser.admin-creator-or-self",
            "The caller must be an admin, the user's creator or the user themself.";
        PATCH_PRIVILEGED: UPDATE_USER, "updateUser.privileged-fields-need-admin",
            "Privileged fields need `users:admin`.";
        PATCH_READ_ONLY: UPDATE_USER, "updateUser.read-only-members",
            "Read-only members are not written by a patch.";
        PATCH_STATUS_STAMPS: UPDATE_USER, "updateUser.status-stamps",
            "Deactivating and archiving stamp `deactivatedAt` and `archivedAt`.";
        PATCH_ORGANIZATION: UPDATE_USER, "updateUser.owner-organization-from-the-token",
            "A caller without `users:admin` may move a user only out of and into organizations its token lists.";
        PATCH_VERSION: UPDATE_USER, "updateUser.version-increases-by-one",
            "`resourceVersion` increases by one on every change; the `ETag` is this number quoted.";
        PATCH_CONCURRENT: UPDATE_USER, "updateUser.one-winner",
            "Of writes sent with the same `If-Match`, one wins and no change is lost.";
        PUT_CLEARS: REPLACE_USER, "replaceUser.omitted-cleared",
            "Every optional field of `UserReplace` that the body omits is cleared.";
        PUT_KEEPS: REPLACE_USER, "replaceUser.non-profile-kept",
            "The password, status, roles, rights and owner organization never change here.";
        PUT_VERSION: REPLACE_USER, "replaceUser.version-increases-by-one",
            "`resourceVersion` increases by one on every change; the `ETag` is this number quoted.";
        PUT_WHO: REPLACE_USER, "replaceUser.admin-creator-or-self",
            "The caller must be an admin, the user's creator or the user themself.";
        DELETE_GONE: DELETE_USER, "deleteUser.gone-for-good",
            "Deletes the user for good: it is no longer read or listed.";
        PASSWORD_HIDDEN: SET_USER_PASSWORD, "setUserPassword.never-returned",
            "The password is never returned; a user says only `hasPassword` and `passwordUpdatedAt`.";
        PASSWORD_SELF: SET_USER_PASSWORD, "setUserPassword.own-needs-current",
            "A user changing their own password must send `currentPassword`; an admin need not.";
        PASSWORD_VERSION: SET_USER_PASSWORD, "setUserPassword.version-increases-by-one",
            "`resourceVersion` increases by one on every change; the `ETag` is this number quoted.";
        AVATAR_ROUND_TRIP: GET_USER_AVATAR, "getUserAvatar.the-image-byte-for-byte",
            "Answers the image uploaded for the user, byte for byte, in its media type.";
        AVATAR_NOT_MODIFIED: GET_USER_AVATAR, "getUserAvatar.not-modified",
            "The image is part of the user: its `ETag` is the user's, so with `If-None-Match` holding it the answer is `304` with no body.";
        AVATAR_NONE: GET_USER_AVATAR, "getUserAvatar.none-is-404",
            "`404` when the user has no uploaded image (a user whose `avatarUrl` links one elsewhere has none here).";
        AVATAR_SNIFFED: SET_USER_AVATAR, "setUserAvatar.type-from-the-bytes",
            "The image's type is read from its bytes: a body that is not one of the three, or is another of them than its `Content-Type` says, is `415`; a larger one is `413`.";
        AVATAR_NEW_VERSION: SET_USER_AVATAR, "setUserAvatar.new-version",
            "The user gets a new version (`hasAvatar` true, `avatarUpdatedAt` now) and the answer carries its `ETag`.";
        AVATAR_WHO: SET_USER_AVATAR, "setUserAvatar.self-admin-or-creator",
            "Users may set their own image; others need to be an admin or the user's creator.";
        AVATAR_REMOVED: DELETE_USER_AVATAR, "deleteUserAvatar.removed",
            "Removes the uploaded image. The user gets a new version (`hasAvatar` follows `avatarUrl` alone, `avatarUpdatedAt` is gone).";
        AVATAR_DELETE_NONE: DELETE_USER_AVATAR, "deleteUserAvatar.none-is-404",
            "`404` when there is no uploaded image.";
        COUNTRIES: LIST_COUNTRIES, "listCountries.what-countryCode-accepts",
            "The countries `address.countryCode` accepts, ordered by code.";
        LANGUAGES: LIST_LANGUAGES, "listLanguages.what-preferredLanguage-accepts",
            "The languages `preferredLanguage` accepts, ordered by code.";
        LOCALES: LIST_LOCALES, "listLocales.what-locale-accepts",
            "The locales `locale` accepts, ordered by code.";
        TIME_ZONES: LIST_TIME_ZONES, "listTimeZones.what-timeZone-accepts",
            "The time zones `timeZone` accepts, ordered by name.";
        GROUP_LOCATION: CREATE_GROUP, "createGroup.location-names-the-group",
            "A create answers 201 with `Location` naming the new group, readable there, its members included.";
        GROUP_NAME_UNIQUE: CREATE_GROUP, "createGroup.name-unique",
            "A name belongs to one group of the account, compared without regard to case (`409`).";
        GROUP_MEMBERS_USERS: CREATE_GROUP, "createGroup.members-are-users",
            "Each member is the id of a user of the account (`400` naming the member otherwise).";
        GROUP_REPLAY: CREATE_GROUP, "createGroup.idempotent-replay",
            "`Idempotency-Key` works as it does for `POST /v1/users`: a repeat returns the stored response; another body is `422`.";
        GROUPS_ORDER: LIST_GROUPS, "listGroups.creation-order",
            "Lists the account's groups in creation order, a page at a time.";
        USER_GROUPS: LIST_USER_GROUPS, "listUserGroups.the-user's-groups",
            "Lists the groups the user is a member of, as `GET /v1/groups?member=` does.";
        GROUP_NOT_MODIFIED: GET_GROUP, "getGroup.not-modified",
            "`If-None-Match` works as it does for users: `304` while the group is unchanged.";
        GROUP_MEMBER_LISTS: UPDATE_GROUP, "updateGroup.member-lists",
            "Members are replaced whole or changed with `addMembers` and `removeMembers`; the whole list with either is `400`, and so is one user in both.";
        GROUP_PATCH_MERGE: UPDATE_GROUP, "updateGroup.merge-patch",
            "A member that is absent is left alone and `null` clears `description` or `externalId`; a patch that changes nothing leaves `resourceVersion` alone.";
        GROUP_PATCH_WHO: UPDATE_GROUP, "updateGroup.admin-or-creator",
            "The caller must be an admin or the group's creator.";
        GROUP_DELETE_KEEPS_USERS: DELETE_GROUP, "deleteGroup.members-stay",
            "Deletes the group; its members stay users of the account.";
        USER_DELETE_LEAVES_GROUPS: DELETE_USER, "deleteUser.leaves-its-groups",
            "Deleting a user takes it out of its groups; each moves to a new `resourceVersion`.";
    }
}

/// What a check exercises.
#[derive(Debug, Clone, Copy)]
pub enum Cover {
    /// An operation answering a documented status.
    Status(&'static OperationSpec, u16),
    /// Every operation that documents the status.
    StatusOfEvery(u16),
    /// An operation's parameter doing what the spec says of it.
    Parameter(&'static OperationSpec, &'static str),
    /// The parameter on every operation that takes it.
    ParameterOfEvery(&'static str),
    /// A documented semantic.
    Semantic(&'static Semantic),
}

/// One promise of the spec.
#[derive(Debug, Clone, Copy)]
pub enum Element {
    /// An operation answering a documented status.
    Status(&'static OperationSpec, u16),
    /// An operation's parameter.
    Parameter(&'static OperationSpec, &'static str),
    /// A semantic its description documents.
    Semantic(&'static Semantic),
}

impl Element {
    /// Every element of the spec: statuses and parameters per operation,
    /// then its semantics.
    pub fn all() -> Vec<Element> {
        let mut elements = Vec::new();
        for op in ops::ALL {
            elements.extend(
                op.statuses
                    .iter()
                    .map(|status| Element::Status(op, *status)),
            );
            elements.extend(op.parameters.iter().map(|p| Element::Parameter(op, p.name)));
            elements.extend(
                semantics::ALL
                    .iter()
                    .filter(|s| s.operation.operation_id == op.operation_id)
                    .map(Element::Semantic),
            );
        }
        elements
    }

    fn operation(&self) -> &'static OperationSpec {
        match self {
            Element::Status(op, _) | Element::Parameter(op, _) => op,
            Element::Semantic(semantic) => semantic.operation,
        }
    }

    /// The element's label within its operation: `412`, `If-Match`,
    /// `updateUser.null-clears`.
    pub fn label(&self) -> String {
        match self {
            Element::Status(_, status) => status.to_string(),
            Element::Parameter(op, name) => {
                let location = op
                    .parameters
                    .iter()
                    .find(|p| p.name == *name)
                    .map_or("", |p| p.location);
                format!("{location} {name}")
            }
            Element::Semantic(semantic) => semantic.id.to_owned(),
        }
    }
}

impl Cover {
    /// Whether the cover exercises `element`.
    pub fn covers(&self, element: &Element) -> bool {
        let same = |a: &OperationSpec, b: &OperationSpec| a.operation_id == b.operation_id;
        match (self, element) {
            (Cover::Status(op, status), Element::Status(eop, estatus)) => {
                same(op, eop) && status == estatus
            }
            (Cover::StatusOfEvery(status), Element::Status(_, estatus)) => status == estatus,
            (Cover::Parameter(op, name), Element::Parameter(eop, ename)) => {
                same(op, eop) && name == ename
            }
            (Cover::ParameterOfEvery(name), Element::Parameter(_, ename)) => name == ename,
            (Cover::Semantic(semantic), Element::Semantic(esemantic)) => semantic == esemantic,
            _ => false,
        }
    }
}

/// The elements a black-box kit cannot exercise, with the reason.
pub const UNCHECKABLE: &[(Cover, &str)] = &[
    (
        Cover::StatusOfEvery(500),
        "an internal failure cannot be caused from outside a correct server",
    ),
    (
        Cover::StatusOfEvery(429),
        "the spec documents a rate limit but not its threshold; the kit waits out every 429 it meets (Retry-After)",
    ),
    (
        Cover::StatusOfEvery(428),
        "answered only by a server configured to require If-Match; the spec lets a server accept changes without it, and the kit checks that they apply",
    ),
];

/// One row of the matrix.
#[derive(Debug, Clone)]
pub struct Row {
    /// The spec element.
    pub element: Element,
    /// The checks that exercise it.
    pub checks: Vec<&'static str>,
    /// Why no check can, when none does.
    pub uncheckable: Option<&'static str>,
}

/// The spec's elements with the checks that exercise each.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// One row per element, in spec order.
    pub rows: Vec<Row>,
    /// Covers of the checks that match no element of the spec: a check
    /// naming a status or parameter the spec no longer documents.
    pub stale: Vec<(&'static str, Cover)>,
}

impl Coverage {
    /// The matrix of `checks` against the spec.
    pub fn of(checks: &[Check]) -> Self {
        let elements = Element::all();
        let rows = elements
            .iter()
            .map(|element| Row {
                element: *element,
                checks: checks
                    .iter()
                    .filter(|check| check.covers.iter().any(|cover| cover.covers(element)))
                    .map(|check| check.id)
                    .collect(),
                uncheckable: UNCHECKABLE
                    .iter()
                    .find(|(cover, _)| cover.covers(element))
                    .map(|(_, reason)| *reason),
            })
            .collect();
        let stale = checks
            .iter()
            .flat_map(|check| check.covers.iter().map(move |cover| (check.id, *cover)))
            .chain(
                UNCHECKABLE
                    .iter()
                    .map(|(cover, _)| ("(uncheckable)", *cover)),
            )
            .filter(|(_, cover)| !elements.iter().any(|element| cover.covers(element)))
            .collect();
        Self { rows, stale }
    }

    /// The elements neither checked nor explained.
    pub fn unchecked(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|row| row.checks.is_empty() && row.uncheckable.is_none())
            .collect()
    }

    /// The matrix as text: one block per operation, one line per element.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut current = "";
        for row in &self.rows {
            let op = row.element.operation();
            if op.operation_id != current {
                current = op.operation_id;
                let _ = writeln!(out, "\n{} ({} {})", op.operation_id, op.method, op.path);
            }
            let what = if !row.checks.is_empty() {
                row.checks.join(", ")
            } else if let Some(reason) = row.uncheckable {
                format!("not checkable: {reason}")
            } else {
                "NO CHECK".to_owned()
            };
            let _ = writeln!(out, "  {:<52} {what}", row.element.label());
        }
        let checked = self.rows.iter().filter(|r| !r.checks.is_empty()).count();
        let explained = self
            .rows
            .iter()
            .filter(|r| r.checks.is_empty() && r.uncheckable.is_some())
            .count();
        let _ = writeln!(
            out,
            "\n{} elements: {checked} checked, {explained} not checkable, {} with no check",
            self.rows.len(),
            self.unchecked().len()
        );
        for (check, cover) in &self.stale {
            let _ = writeln!(
                out,
                "stale: {check} covers {cover:?}, which the spec does not have"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_element_has_a_check() {
        let coverage = Coverage::of(&crate::checks());
        let unchecked: Vec<String> = coverage
            .unchecked()
            .iter()
            .map(|row| {
                format!(
                    "{} {}",
                    row.element.operation().operation_id,
                    row.element.label()
                )
            })
            .collect();
        assert!(unchecked.is_empty(), "no check for {unchecked:#?}");
        assert!(coverage.stale.is_empty(), "{:#?}", coverage.stale);
    }

    #[test]
    fn elements_come_from_the_spec() {
        let elements = Element::all();
        let statuses = elements
            .iter()
            .filter(|e| matches!(e, Element::Status(..)))
            .count();
        let documented: usize = ops::ALL.iter().map(|op| op.statuses.len()).sum();
        assert_eq!(statuses, documented);
        assert!(
            documented > ops::ALL.len(),
            "every operation documents statuses"
        );
        let semantic_count = elements
            .iter()
            .filter(|e| matches!(e, Element::Semantic(..)))
            .count();
        assert_eq!(
            semantic_count,
            semantics::ALL.len(),
            "each semantic names an operation of the spec"
        );
        let labels: Vec<String> = elements
            .iter()
            .filter(|e| e.operation().operation_id == "updateUser")
            .map(Element::label)
            .collect();
        assert!(labels.contains(&"header If-Match".to_owned()), "{labels:?}");
        assert!(labels.contains(&"412".to_owned()), "{labels:?}");
    }

    #[test]
    fn a_cover_names_only_its_element() {
        let element = Element::Status(&ops::UPDATE_USER, 412);
        assert!(Cover::Status(&ops::UPDATE_USER, 412).covers(&element));
        assert!(Cover::StatusOfEvery(412).covers(&element));
        assert!(!Cover::Status(&ops::REPLACE_USER, 412).covers(&element));
        assert!(!Cover::Status(&ops::UPDATE_USER, 409).covers(&element));
        assert!(!Cover::ParameterOfEvery("If-Match").covers(&element));
        // A check naming a status the spec does not document is stale.
        let check = Check {
            id: "t.stale",
            group: "t",
            promise: "t",
            covers: &[Cover::Status(&ops::LIST_COUNTRIES, 404)],
            needs: &[],
            run: |_| Box::pin(async { Ok(()) }),
        };
        assert_eq!(Coverage::of(&[check]).stale.len(), 1);
    }
}
