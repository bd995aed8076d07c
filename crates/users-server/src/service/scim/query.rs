//! SCIM filters and sorts as store queries: each SCIM attribute the
//! service keeps is a column or a document member of a stored user or
//! group (the same members `/v1/users` and `/v1/groups` answer), so a filter
//! runs in the database. A multi-valued attribute (`emails`,
//! `phoneNumbers`) is a fixed set of slots, each a member with a known
//! `type`: `emails[type eq "work" and value co "@x"]` is the slots whose
//! type is `work` and whose member contains `@x`.

use users_api::names::{name, user};

use super::filter::{AttrPath, Filter, Literal, Op};
use crate::store::email_key;
use crate::store::query::{Compare, Condition, Field};

/// Why a filter cannot be run: the attribute is unknown here, or the value
/// is not one it compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unfilterable(pub(crate) String);

/// A value of a multi-valued attribute as it is stored: its member, and the
/// `type` and `primary` it reads with.
struct Slot {
    field: Field,
    kind: &'static str,
    primary: bool,
    fold: bool,
}

const EMAIL_SLOTS: [Slot; 2] = [
    Slot {
        field: Field::EmailKey,
        kind: "work",
        primary: true,
        fold: false,
    },
    Slot {
        field: Field::Doc(&[user::SECONDARY_EMAIL]),
        kind: "home",
        primary: false,
        fold: true,
    },
];

const PHONE_SLOTS: [Slot; 2] = [
    Slot {
        field: Field::Doc(&[user::PHONE]),
        kind: "work",
        primary: true,
        fold: false,
    },
    Slot {
        field: Field::Doc(&[user::MOBILE_PHONE]),
        kind: "mobile",
        primary: false,
        fold: false,
    },
];

/// Which kind of resource a filter is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    User,
    Group,
}

/// The enterprise extension's URN.
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A single-valued attribute's field, and whether it compares without
/// regard to case (`caseExact: false`).
fn scalar(resource: Resource, path: &AttrPath) -> Option<(Field, bool)> {
    let enterprise = path
        .urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE));
    if enterprise {
        return (resource == Resource::User && path.is("employeeNumber", None))
            .then_some((Field::Doc(&[user::EMPLOYEE_ID]), false));
    }
    let found = match resource {
        Resource::User => {
            if path.is("userName", None) {
                (Field::EmailKey, false)
            } else if path.is("name", Some("givenName")) {
                (Field::Doc(&[user::NAME, name::FIRST_NAME]), true)
            } else if path.is("name", Some("familyName")) {
                (Field::Doc(&[user::NAME, name::LAST_NAME]), true)
            } else if path.is("title", None) {
                (Field::Doc(&[user::JOB_TITLE]), true)
            } else if path.is("externalId", None) {
                (Field::Doc(&[user::EXTERNAL_ID]), false)
            } else if path.is("id", None) {
                (Field::Id, false)
            } else if path.is("meta", Some("created")) {
                (Field::Doc(&[user::CREATED_AT]), false)
            } else if path.is("meta", Some("lastModified")) {
                (Field::Doc(&[user::UPDATED_AT]), false)
            } else {
                return None;
            }
        }
        Resource::Group => {
            use users_api::names::group;
            if path.is("displayName", None) {
                (Field::NameKey, false)
            } else if path.is("externalId", None) {
                (Field::Doc(&[group::EXTERNAL_ID]), false)
            } else if path.is("id", None) {
                (Field::Id, false)
            } else if path.is("meta", Some("created")) {
                (Field::Doc(&[group::CREATED_AT]), false)
            } else if path.is("meta", Some("lastModified")) {
                (Field::Doc(&[group::UPDATED_AT]), false)
            } else {
                return None;
            }
        }
    };
    Some(found)
}

fn compare_op(op: Op) -> Compare {
    match op {
        Op::Eq => Compare::Eq,
        Op::Ne => Compare::Ne,
        Op::Co => Compare::Contains,
        Op::Sw => Compare::StartsWith,
        Op::Ew => Compare::EndsWith,
        Op::Gt => Compare::Gt,
        Op::Ge => Compare::Ge,
        Op::Lt => Compare::Lt,
        Op::Le => Compare::Le,
    }
}

fn text(path: &AttrPath, literal: &Literal) -> Result<String, Unfilterable> {
    match literal {
        Literal::Str(text) => Ok(text.clone()),
        other => Err(Unfilterable(format!(
            "{path} compares with a string, not {other:?}"
        ))),
    }
}

/// A comparison of `field` with a string, the value normalized as the
/// column is (an email key, a folded group name).
fn compare_text(field: Field, fold: bool, op: Op, value: String) -> Condition {
    let value = match field {
        Field::EmailKey if op == Op::Eq || op == Op::Ne => email_key(&value),
        Field::EmailKey | Field::NameKey => value.to_lowercase(),
        _ => value,
    };
    Condition::Compare {
        field,
        op: compare_op(op),
        value,
        fold,
    }
}

/// The condition a filter is, for `resource`.
pub(crate) fn condition(resource: Resource, filter: &Filter) -> Result<Condition, Unfilterable> {
    Ok(match filter {
        Filter::And(a, b) => Condition::All(vec![condition(resource, a)?, condition(resource, b)?]),
        Filter::Or(a, b) => Condition::Any(vec![condition(resource, a)?, condition(resource, b)?]),
        Filter::Not(inner) => Condition::Not(Box::new(condition(resource, inner)?)),
        Filter::Present(path) => {
            if let Some((field, _)) = scalar(resource, path) {
                Condition::Present(field)
            } else if resource == Resource::User && path.is("active", None) {
                Condition::True
            } else if let Some(slots) = slots(resource, path) {
                Condition::Any(slots.iter().map(|s| Condition::Present(s.field)).collect())
            } else if resource == Resource::Group && path.is("members", None) {
                return Err(Unfilterable(
                    "members pr is not supported; filter members[value eq \"id\"]".into(),
                ));
            } else {
                return Err(unknown(path));
            }
        }
        Filter::Compare(path, op, literal) => {
            if let Some((field, fold)) = scalar(resource, path) {
                compare_text(field, fold, *op, text(path, literal)?)
            } else if resource == Resource::User && path.is("active", None) {
                let Literal::Bool(active) = literal else {
                    return Err(Unfilterable("active compares with true or false".into()));
                };
                let is_active = Condition::Compare {
                    field: Field::Status,
                    op: Compare::Eq,
                    value: "active".into(),
                    fold: false,
                };
                match op {
                    Op::Eq if *active => is_active,
                    Op::Ne if !*active => is_active,
                    Op::Eq | Op::Ne => Condition::Not(Box::new(is_active)),
                    _ => return Err(Unfilterable("active compares with eq or ne".into())),
                }
            } else if let Some(slots) = slots(resource, path) {
                // `emails eq "x"`, `emails.value co "x"`, `emails.type eq "work"`.
                let sub = path.sub.as_deref().unwrap_or("value");
                let inner = Filter::Compare(
                    AttrPath {
                        urn: None,
                        name: sub.to_owned(),
                        sub: None,
                    },
                    *op,
                    literal.clone(),
                );
                any_slot(slots, &inner)?
            } else if resource == Resource::Group
                && (path.is("members", None) || path.is("members", Some("value")))
                && *op == Op::Eq
            {
                member(&text(path, literal)?)
            } else {
                return Err(unknown(path));
            }
        }
        Filter::ValuePath(path, inner) => {
            if let Some(slots) = slots(resource, path) {
                any_slot(slots, inner)?
            } else if resource == Resource::Group && path.is("members", None) {
                match inner.as_ref() {
                    Filter::Compare(sub, Op::Eq, Literal::Str(id)) if sub.is("value", None) => {
                        member(id)
                    }
                    _ => {
                        return Err(Unfilterable("members[...] takes value eq \"id\"".into()));
                    }
                }
            } else {
                return Err(unknown(path));
            }
        }
    })
}

fn member(id: &str) -> Condition {
    // An id that is no UUID is no member (and must not reach a uuid cast).
    if uuid::Uuid::parse_str(id).is_ok() {
        Condition::HasMember(id.to_lowercase())
    } else {
        Condition::False
    }
}

fn unknown(path: &AttrPath) -> Unfilterable {
    Unfilterable(format!(
        "{path} is not an attribute this service filters on"
    ))
}

fn slots(resource: Resource, path: &AttrPath) -> Option<&'static [Slot]> {
    if resource != Resource::User || path.urn.is_some() {
        return None;
    }
    if path.name.eq_ignore_ascii_case("emails") {
        Some(&EMAIL_SLOTS)
    } else if path.name.eq_ignore_ascii_case("phoneNumbers") {
        Some(&PHONE_SLOTS)
    } else {
        None
    }
}

/// Any slot that holds a value and meets `inner`, a filter over the
/// sub-attributes `value`, `type` and `primary`.
fn any_slot(slots: &[Slot], inner: &Filter) -> Result<Condition, Unfilterable> {
    let mut any = Vec::new();
    for slot in slots {
        any.push(Condition::All(vec![
            Condition::Present(slot.field),
            in_slot(slot, inner)?,
        ]));
    }
    Ok(Condition::Any(any))
}

fn in_slot(slot: &Slot, filter: &Filter) -> Result<Condition, Unfilterable> {
    Ok(match filter {
        Filter::And(a, b) => Condition::All(vec![in_slot(slot, a)?, in_slot(slot, b)?]),
        Filter::Or(a, b) => Condition::Any(vec![in_slot(slot, a)?, in_slot(slot, b)?]),
        Filter::Not(inner) => Condition::Not(Box::new(in_slot(slot, inner)?)),
        Filter::ValuePath(path, _) => return Err(unknown(path)),
        Filter::Present(path) if path.is("value", None) => Condition::Present(slot.field),
        Filter::Present(path) if path.is("type", None) || path.is("primary", None) => {
            Condition::True
        }
        Filter::Compare(path, op, literal) if path.is("value", None) => {
            compare_text(slot.field, slot.fold, *op, text(path, literal)?)
        }
        // The slot's type and primary flag are constants: the comparison
        // is decided here.
        Filter::Compare(path, op, Literal::Str(kind)) if path.is("type", None) => {
            let have = slot.kind;
            let want = kind.to_lowercase();
            let holds = match op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Co => have.contains(&want),
                Op::Sw => have.starts_with(&want),
                Op::Ew => have.ends_with(&want),
                Op::Gt => have > want.as_str(),
                Op::Ge => have >= want.as_str(),
                Op::Lt => have < want.as_str(),
                Op::Le => have <= want.as_str(),
            };
            if holds {
                Condition::True
            } else {
                Condition::False
            }
        }
        Filter::Compare(path, op, Literal::Bool(primary)) if path.is("primary", None) => {
            let holds = match op {
                Op::Eq => slot.primary == *primary,
                Op::Ne => slot.primary != *primary,
                _ => return Err(Unfilterable("primary compares with eq or ne".into())),
            };
            if holds {
                Condition::True
            } else {
                Condition::False
            }
        }
        Filter::Present(path) | Filter::Compare(path, ..) => return Err(unknown(path)),
    })
}

/// The field `sortBy` names.
pub(crate) fn sort_field(resource: Resource, sort_by: &str) -> Result<Field, Unfilterable> {
    let path = super::filter::parse_path(sort_by)
        .map_err(|e| Unfilterable(format!("sortBy: {e}")))?
        .attr;
    if let Some((field, _)) = scalar(resource, &path) {
        return Ok(field);
    }
    if let Some(slots) = slots(resource, &path) {
        return Ok(slots[0].field);
    }
    Err(Unfilterable(format!(
        "sortBy: {path} is not an attribute this service sorts on"
    )))
}

#[cfg(test)]
mod tests {
    use super::super::filter::parse;
    use super::*;

    fn user(filter: &str) -> Condition {
        condition(Resource::User, &parse(filter).unwrap()).unwrap()
    }

    #[test]
    fn user_name_and_external_id_are_their_indexed_fields() {
        assert_eq!(
            user(r#"userName eq "Ann@Example.COM""#),
            Condition::Compare {
                field: Field::EmailKey,
                op: Compare::Eq,
                value: email_key("Ann@Example.COM"),
                fold: false
            }
        );
        assert_eq!(
            user(r#"externalId eq "AbC""#),
            Condition::Compare {
                field: Field::Doc(&["externalId"]),
                op: Compare::Eq,
                value: "AbC".into(),
                fold: false
            }
        );
    }

    #[test]
    fn a_value_path_is_decided_per_slot() {
        let c = user(r#"emails[type eq "work" and value co "@example.com"]"#);
        let Condition::Any(slots) = c else {
            panic!("{c:?}")
        };
        // The work slot keeps its comparison; the home slot's type fails.
        assert_eq!(
            slots[0],
            Condition::All(vec![
                Condition::Present(Field::EmailKey),
                Condition::All(vec![
                    Condition::True,
                    Condition::Compare {
                        field: Field::EmailKey,
                        op: Compare::Contains,
                        value: "@example.com".into(),
                        fold: false
                    }
                ])
            ])
        );
        assert!(
            matches!(&slots[1], Condition::All(parts) if matches!(&parts[1], Condition::All(inner) if inner[0] == Condition::False))
        );
    }

    #[test]
    fn active_is_the_status() {
        let active = Condition::Compare {
            field: Field::Status,
            op: Compare::Eq,
            value: "active".into(),
            fold: false,
        };
        assert_eq!(user("active eq true"), active);
        assert_eq!(user("active eq false"), Condition::Not(Box::new(active)));
    }

    #[test]
    fn what_is_not_kept_is_refused_by_name() {
        for filter in [
            r#"nickName eq "x""#,
            r#"active eq "yes""#,
            "userName eq 3",
            r#"groups.value eq "x""#,
        ] {
            let err = condition(Resource::User, &parse(filter).unwrap()).unwrap_err();
            assert!(!err.0.is_empty(), "{filter}");
        }
        assert_eq!(
            condition(
                Resource::Group,
                &parse(r#"members[value eq "not-a-uuid"]"#).unwrap()
            )
            .unwrap(),
            Condition::False
        );
    }
}
