//! RFC 7644 §3.5.2 PATCH over a resource's SCIM representation: each
//! operation (`add`, `remove`, `replace`, in any case) changes the JSON
//! object the resource reads as; the caller then writes the result as a
//! replacement would. Paths are those `filter::parse_path` reads: an
//! attribute, a sub-attribute, an extension's attribute (URN-prefixed), or
//! the values of a multi-valued attribute a filter selects, and then one of
//! their sub-attributes.

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, Filter, Literal, Op, PatchPath};

/// Why an operation could not be applied, as RFC 7644 §3.12 names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatchError {
    /// `invalidPath`: the path does not parse or names no attribute.
    InvalidPath(String),
    /// `noTarget`: the path's filter selects nothing, or `remove` has no path.
    NoTarget(String),
    /// `invalidValue`: the value is not what the operation needs.
    InvalidValue(String),
    /// `mutability`: the attribute cannot be changed.
    Mutability(String),
    /// `invalidSyntax`: the operation is not `add`, `remove` or `replace`.
    InvalidSyntax(String),
}

impl PatchError {
    /// The `scimType` of the refusal.
    pub(crate) fn scim_type(&self) -> &'static str {
        match self {
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::InvalidValue(_) => "invalidValue",
            Self::Mutability(_) => "mutability",
            Self::InvalidSyntax(_) => "invalidSyntax",
        }
    }

    /// What went wrong.
    pub(crate) fn detail(&self) -> &str {
        match self {
            Self::InvalidPath(d)
            | Self::NoTarget(d)
            | Self::InvalidValue(d)
            | Self::Mutability(d)
            | Self::InvalidSyntax(d) => d,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Add,
    Remove,
    Replace,
}

/// What a resource's patch may not touch: attributes a client cannot set,
/// and the URN of the resource's core schema (a path prefixed with it names
/// a core attribute).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Changing one of these is refused (`mutability`).
    pub(crate) read_only: &'static [&'static str],
    /// An operation on one of these is skipped.
    pub(crate) ignored: &'static [&'static str],
    pub(crate) core_schema: &'static str,
    /// The URNs of the resource's schema extensions: each is an attribute
    /// of the resource holding the extension's attributes.
    pub(crate) extensions: &'static [&'static str],
}

/// Applies one operation to `resource`.
pub(crate) fn apply(
    resource: &mut Map<String, Value>,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
    rules: Rules,
) -> Result<(), PatchError> {
    let kind = match op.to_ascii_lowercase().as_str() {
        "add" => Kind::Add,
        "remove" => Kind::Remove,
        "replace" => Kind::Replace,
        other => {
            return Err(PatchError::InvalidSyntax(format!(
                "{other} is not add, remove or replace"
            )));
        }
    };
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        if kind == Kind::Remove {
            return Err(PatchError::NoTarget("remove needs a path".into()));
        }
        // No path: the value is an object of attributes, each applied as if
        // it were the path (an extension's URN holds an object of its own).
        let Some(Value::Object(members)) = value else {
            return Err(PatchError::InvalidValue(
                "an operation without a path takes an object of attributes".into(),
            ));
        };
        for (key, member) in members {
            match member {
                Value::Object(inner) if is_urn(key) && !is_core(key, rules) => {
                    for (name, v) in inner {
                        let path = PatchPath {
                            attr: AttrPath {
                                urn: Some(key.clone()),
                                name: name.clone(),
                                sub: None,
                            },
                            filter: None,
                            sub: None,
                        };
                        apply_path(resource, &path, kind, Some(v), rules)?;
                    }
                }
                _ => {
                    let path = filter::parse_path(key)
                        .map_err(|e| PatchError::InvalidPath(format!("{key}: {e}")))?;
                    apply_path(resource, &path, kind, Some(member), rules)?;
                }
            }
        }
        return Ok(());
    };
    // A whole extension (`urn:...:enterprise:2.0:User`) is an attribute.
    if let Some(urn) = rules
        .extensions
        .iter()
        .find(|u| u.eq_ignore_ascii_case(path.trim()))
    {
        if kind != Kind::Remove && value.is_none() {
            return Err(PatchError::InvalidValue(format!(
                "{op} of {path} needs a value"
            )));
        }
        let key = key_of(resource, urn);
        return set(resource, &key, kind, value);
    }
    let parsed =
        filter::parse_path(path).map_err(|e| PatchError::InvalidPath(format!("{path}: {e}")))?;
    if kind != Kind::Remove && value.is_none() {
        return Err(PatchError::InvalidValue(format!(
            "{op} of {path} needs a value"
        )));
    }
    apply_path(resource, &parsed, kind, value, rules)
}

fn is_urn(key: &str) -> bool {
    key.len() > 4 && key[..4].eq_ignore_ascii_case("urn:")
}

fn is_core(urn: &str, rules: Rules) -> bool {
    urn.eq_ignore_ascii_case(rules.core_schema)
}

/// The key of `object` that is `name` without regard to case, or `name`.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn apply_path(
    resource: &mut Map<String, Value>,
    path: &PatchPath,
    kind: Kind,
    value: Option<&Value>,
    rules: Rules,
) -> Result<(), PatchError> {
    let attr = &path.attr;
    let core = attr.urn.is_none() || attr.urn.as_deref().is_some_and(|u| is_core(u, rules));
    if core
        && rules
            .ignored
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&attr.name))
    {
        return Ok(());
    }
    if core
        && rules
            .read_only
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&attr.name))
    {
        return Err(PatchError::Mutability(format!(
            "{} cannot be changed",
            attr.name
        )));
    }
    // The object the attribute lives in: the resource, or an extension's.
    let container = match attr.urn.as_deref() {
        Some(urn) if !is_core(urn, rules) => {
            let key = key_of(resource, urn);
            if kind == Kind::Remove && !resource.contains_key(&key) {
                return Ok(());
            }
            let slot = resource
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().expect("made an object")
        }
        _ => resource,
    };
    let key = key_of(container, &attr.name);
    match (&path.filter, &attr.sub) {
        (None, None) => set(container, &key, kind, value),
        (None, Some(sub)) => {
            if kind == Kind::Remove {
                if let Some(Value::Object(inner)) = container.get_mut(&key) {
                    let sub = key_of(inner, sub);
                    inner.remove(&sub);
                }
                return Ok(());
            }
            let slot = container
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = slot else {
                return Err(PatchError::InvalidPath(format!(
                    "{key} has no sub-attribute {sub}"
                )));
            };
            let sub = key_of(inner, sub);
            set(inner, &sub, kind, value)
        }
        (Some(selector), _) => {
            let sub = path.sub.as_deref();
            let list = container.get_mut(&key);
            let items = match list {
                Some(Value::Array(items)) => Some(items),
                _ => None,
            };
            let matched: Vec<usize> = items
                .as_ref()
                .map(|items| {
                    items
                        .iter()
                        .enumerate()
                        .filter(|(_, item)| matches(selector, item))
                        .map(|(i, _)| i)
                        .collect()
                })
                .unwrap_or_default();
            if matched.is_empty() {
                if kind == Kind::Remove {
                    return Err(PatchError::NoTarget(format!(
                        "no value of {key} matches the filter"
                    )));
                }
                // A value the filter describes exactly (`type eq "work"`) is
                // made, as identity providers expect of `add` and `replace`.
                let Some(mut made) = described(selector) else {
                    return Err(PatchError::NoTarget(format!(
                        "no value of {key} matches the filter"
                    )));
                };
                merge_into(&mut made, sub, value)?;
                let list = container
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                list.as_array_mut()
                    .expect("made an array")
                    .push(Value::Object(made));
                return Ok(());
            }
            let items = items.expect("matched values exist");
            if kind == Kind::Remove {
                match sub {
                    Some(sub) => {
                        for i in matched {
                            if let Value::Object(item) = &mut items[i] {
                                let sub = key_of(item, sub);
                                item.remove(&sub);
                            }
                        }
                    }
                    None => {
                        let mut i = 0;
                        items.retain(|_| {
                            i += 1;
                            !matched.contains(&(i - 1))
                        });
                    }
                }
                return Ok(());
            }
            for i in matched {
                if let Value::Object(item) = &mut items[i] {
                    merge_into(item, sub, value)?;
                }
            }
            Ok(())
        }
    }
}

/// Sets a member: `add` appends to a list and merges into an object;
/// `replace` replaces a list and merges into an object; `remove` removes
/// (only the listed values, when a value names them).
fn set(
    object: &mut Map<String, Value>,
    key: &str,
    kind: Kind,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    match kind {
        Kind::Remove => {
            match (object.get_mut(key), value) {
                // `{"op":"remove","path":"members","value":[{"value":"…"}]}`:
                // only those values.
                (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                    items.retain(|item| !gone.iter().any(|g| same_value(item, g)));
                }
                _ => {
                    object.remove(key);
                }
            }
            Ok(())
        }
        Kind::Add | Kind::Replace => {
            let value = value.expect("checked by the caller").clone();
            match (object.get_mut(key), value) {
                (Some(Value::Array(items)), value) if kind == Kind::Add => {
                    let added = match value {
                        Value::Array(added) => added,
                        one => vec![one],
                    };
                    for item in added {
                        if !items.iter().any(|i| same_value(i, &item)) {
                            items.push(item);
                        }
                    }
                }
                (Some(Value::Object(current)), Value::Object(members)) => {
                    for (k, v) in members {
                        let k = key_of(current, &k);
                        current.insert(k, v);
                    }
                }
                (_, value) => {
                    object.insert(key.to_owned(), value);
                }
            }
            Ok(())
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value`
/// members are (or, without one, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn merge_into(
    item: &mut Map<String, Value>,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let value = value.expect("checked by the caller");
    match sub {
        Some(sub) => {
            let sub = key_of(item, sub);
            item.insert(sub, value.clone());
        }
        None => {
            let Value::Object(members) = value else {
                return Err(PatchError::InvalidValue(
                    "a value of a multi-valued attribute is an object".into(),
                ));
            };
            for (k, v) in members {
                let k = key_of(item, k);
                item.insert(k, v.clone());
            }
        }
    }
    Ok(())
}

/// The value a filter of `eq` comparisons joined by `and` describes.
fn described(selector: &Filter) -> Option<Map<String, Value>> {
    match selector {
        Filter::Compare(path, Op::Eq, literal) if path.sub.is_none() => {
            let mut out = Map::new();
            out.insert(path.name.clone(), literal_value(literal));
            Some(out)
        }
        Filter::And(a, b) => {
            let mut out = described(a)?;
            out.extend(described(b)?);
            Some(out)
        }
        _ => None,
    }
}

fn literal_value(literal: &Literal) -> Value {
    match literal {
        Literal::Str(s) => Value::String(s.clone()),
        Literal::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Null => Value::Null,
    }
}

/// Whether a value of a multi-valued attribute matches a filter over its
/// sub-attributes (strings compared without regard to case).
pub(crate) fn matches(selector: &Filter, item: &Value) -> bool {
    match selector {
        Filter::And(a, b) => matches(a, item) && matches(b, item),
        Filter::Or(a, b) => matches(a, item) || matches(b, item),
        Filter::Not(inner) => !matches(inner, item),
        Filter::ValuePath(..) => false,
        Filter::Present(path) => {
            member(item, path).is_some_and(|v| !v.is_null() && v != &Value::String(String::new()))
        }
        Filter::Compare(path, op, literal) => {
            let Some(have) = member(item, path) else {
                return *op == Op::Ne;
            };
            compare(have, *op, literal)
        }
    }
}

fn member<'a>(item: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let object = item.as_object()?;
    let found = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&path.name))
        .map(|(_, v)| v)?;
    match &path.sub {
        Some(sub) => found
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sub))
            .map(|(_, v)| v),
        None => Some(found),
    }
}

fn compare(have: &Value, op: Op, literal: &Literal) -> bool {
    use std::cmp::Ordering;
    let ordering = match (have, literal) {
        (Value::String(a), Literal::Str(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Literal::Bool(b)) => a.cmp(b),
        (Value::Number(a), Literal::Number(b)) => match a.as_f64().and_then(|a| a.partial_cmp(b)) {
            Some(ordering) => ordering,
            None => return false,
        },
        (Value::Null, Literal::Null) => Ordering::Equal,
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: Rules = Rules {
        read_only: &["id", "meta", "groups"],
        ignored: &["schemas"],
        core_schema: "urn:ietf:params:scim:schemas:core:2.0:User",
        extensions: &["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    };

    fn user() -> Map<String, Value> {
        json!({
            "userName": "ann@example.com",
            "name": { "givenName": "Ann", "familyName": "Lee" },
            "emails": [
                { "value": "ann@example.com", "type": "work", "primary": true },
                { "value": "ann@home.example", "type": "home" }
            ],
            "active": true
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn run(
        resource: &mut Map<String, Value>,
        op: &str,
        path: Option<&str>,
        value: Value,
    ) -> Result<(), PatchError> {
        let value = (!value.is_null()).then_some(value);
        apply(resource, op, path, value.as_ref(), RULES)
    }

    #[test]
    fn replace_add_and_remove_simple_and_sub_attributes() {
        let mut u = user();
        run(&mut u, "Replace", Some("active"), json!(false)).unwrap();
        assert_eq!(u["active"], false);
        run(&mut u, "replace", Some("name.givenName"), json!("Anne")).unwrap();
        assert_eq!(
            u["name"],
            json!({ "givenName": "Anne", "familyName": "Lee" })
        );
        run(&mut u, "add", Some("title"), json!("Engineer")).unwrap();
        assert_eq!(u["title"], "Engineer");
        run(&mut u, "remove", Some("title"), Value::Null).unwrap();
        assert!(!u.contains_key("title"));
        // Attribute names without regard to case.
        run(&mut u, "replace", Some("USERNAME"), json!("a@b.example")).unwrap();
        assert_eq!(u["userName"], "a@b.example");
    }

    #[test]
    fn a_value_filter_selects_the_values_it_changes_or_removes() {
        let mut u = user();
        run(
            &mut u,
            "replace",
            Some(r#"emails[type eq "work"].value"#),
            json!("new@example.com"),
        )
        .unwrap();
        assert_eq!(u["emails"][0]["value"], "new@example.com");
        assert_eq!(u["emails"][1]["value"], "ann@home.example");
        run(
            &mut u,
            "remove",
            Some(r#"emails[type eq "home"]"#),
            Value::Null,
        )
        .unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 1);
        // Nothing matches: remove is noTarget; add makes the value described.
        assert_eq!(
            run(
                &mut u,
                "remove",
                Some(r#"emails[type eq "home"]"#),
                Value::Null
            )
            .unwrap_err()
            .scim_type(),
            "noTarget"
        );
        run(
            &mut u,
            "add",
            Some(r#"phoneNumbers[type eq "mobile"].value"#),
            json!("+15551234567"),
        )
        .unwrap();
        assert_eq!(
            u["phoneNumbers"],
            json!([{ "type": "mobile", "value": "+15551234567" }])
        );
    }

    #[test]
    fn without_a_path_each_member_of_the_value_is_applied() {
        let mut u = user();
        run(
            &mut u,
            "replace",
            None,
            json!({
                "name.familyName": "Smith",
                "active": false,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "7" }
            }),
        )
        .unwrap();
        assert_eq!(u["name"]["familyName"], "Smith");
        assert_eq!(u["active"], false);
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "7"
        );
        run(
            &mut u,
            "remove",
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            Value::Null,
        )
        .unwrap();
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({})
        );
        // The whole extension as the path.
        run(
            &mut u,
            "replace",
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            json!({ "employeeNumber": "8" }),
        )
        .unwrap();
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "8"
        );
        run(
            &mut u,
            "remove",
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            Value::Null,
        )
        .unwrap();
        assert!(!u.contains_key("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    }

    #[test]
    fn members_are_added_and_removed_by_value() {
        let mut g = json!({ "displayName": "Ops", "members": [{ "value": "a" }] })
            .as_object()
            .unwrap()
            .clone();
        let rules = Rules {
            read_only: &["id", "meta"],
            ignored: &[],
            core_schema: "urn:ietf:params:scim:schemas:core:2.0:Group",
            extensions: &[],
        };
        apply(
            &mut g,
            "add",
            Some("members"),
            Some(&json!([{ "value": "b" }, { "value": "a" }])),
            rules,
        )
        .unwrap();
        assert_eq!(g["members"], json!([{ "value": "a" }, { "value": "b" }]));
        apply(
            &mut g,
            "remove",
            Some(r#"members[value eq "a"]"#),
            None,
            rules,
        )
        .unwrap();
        assert_eq!(g["members"], json!([{ "value": "b" }]));
        apply(
            &mut g,
            "remove",
            Some("members"),
            Some(&json!([{ "value": "b" }])),
            rules,
        )
        .unwrap();
        assert_eq!(g["members"], json!([]));
        apply(&mut g, "remove", Some("members"), None, rules).unwrap();
        assert!(!g.contains_key("members"));
    }

    #[test]
    fn bad_operations_are_refused_with_their_scim_type() {
        let mut u = user();
        let cases = [
            ("move", Some("title"), json!("x"), "invalidSyntax"),
            ("remove", None, Value::Null, "noTarget"),
            ("add", None, json!("x"), "invalidValue"),
            ("replace", Some("id"), json!("x"), "mutability"),
            ("replace", Some("emails[type eq"), json!("x"), "invalidPath"),
            ("replace", Some("title"), Value::Null, "invalidValue"),
        ];
        for (op, path, value, scim_type) in cases {
            let err = run(&mut u, op, path, value).unwrap_err();
            assert_eq!(err.scim_type(), scim_type, "{op} {path:?}: {err:?}");
        }
        assert_eq!(u, user(), "a refused operation changes nothing");
    }
}
