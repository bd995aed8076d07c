//! The generated decoders against an independent oracle.
//!
//! The oracle is `jsonschema` over the spec's own schemas (OpenAPI 3.0's
//! `nullable` rewritten to JSON Schema's `type: [T, "null"]`), plus a
//! reference interpreter of the `x-rules` kinds and of the NUL rule the
//! spec's conventions state. A seeded property test feeds both the same
//! instances of every request body schema: valid ones, ones mutated at one
//! constraint, and random mutations of any member. The decoder must accept
//! exactly what the oracle accepts, and every field it names the oracle names
//! too (it names one error per field, the oracle all of them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use users_api::runtime::decode::{self, BodyError, Decode};
use users_api::types::{
    GroupCreate, GroupPatch, PasswordChange, UserCreate, UserPatch, UserReplace,
};
use users_tests::{
    constraint_cases, resolve, set_at, spec_as_json_schema, spec_value, valid_instance,
};

/// Cases per schema: valid instances, one-constraint mutations and random
/// ones, at least 10,000 in all.
const CASES: u32 = 10_000;
/// The seed: the same cases every run.
const SEED: [u8; 32] = *b"users-api decoders vs jsonschema";

/// The spec, nullability rewritten for `jsonschema`.
static ROOT: LazyLock<Value> = LazyLock::new(spec_as_json_schema);

/// The spec as written: what instances are built from.
static SPEC: LazyLock<Value> = LazyLock::new(spec_value);

/// Every `x-rules` message wording, by the keyword's pointer in the spec:
/// the field it names relative to the value the keyword applies to.
static WORDINGS: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| {
    fn walk(pointer: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(object) => {
                for rule in object
                    .get("x-rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|r| r["kind"] == "message")
                {
                    let keyword = rule["keyword"].as_str().unwrap_or_default();
                    let field = rule["field"].as_str().unwrap_or_default();
                    out.insert(format!("{pointer}/{keyword}"), field.to_owned());
                }
                for (key, child) in object {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    walk(&format!("{pointer}/{key}"), child, out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{pointer}/{i}"), item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk("", &ROOT, &mut out);
    out
});

struct Oracle {
    name: &'static str,
    validator: jsonschema::Validator,
}

impl Oracle {
    fn new(name: &'static str) -> Self {
        let mut root = ROOT.as_object().cloned().unwrap_or_default();
        root.insert("$ref".into(), json!(format!("#/components/schemas/{name}")));
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .expect("the spec's schemas compile");
        Self { name, validator }
    }

    /// The fields the oracle names for `instance`; empty when it accepts.
    fn fields(&self, instance: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for error in self.validator.iter_errors(instance) {
            let path = dotted(error.instance_path().as_str());
            let field = match WORDINGS.get(error.schema_path().as_str()) {
                Some(field) => join(&path, field),
                None => match error.kind() {
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        member(&path, property.as_str().unwrap_or_default())
                    }
                    jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                        for name in unexpected {
                            out.insert(member(&path, name));
                        }
                        continue;
                    }
                    _ => path,
                },
            };
            out.insert(field);
        }
        let schema = json!({ "$ref": format!("#/components/schemas/{}", self.name) });
        check_rules(&schema, instance, "", &mut out);
        nul_characters(instance, "", &mut out);
        out
    }
}

/// The fields the generated decoder names for `instance`; empty when it
/// accepts.
fn decoder_fields<T: Decode>(instance: &Value) -> BTreeSet<String> {
    match decode::text::<T>(&instance.to_string()) {
        Ok(_) => BTreeSet::new(),
        Err(BodyError::Invalid(errors)) => {
            let fields: Vec<String> = errors.into_iter().map(|e| e.field).collect();
            let set: BTreeSet<String> = fields.iter().cloned().collect();
            assert_eq!(set.len(), fields.len(), "one entry per field: {fields:?}");
            set
        }
        Err(BodyError::Syntax(e)) => panic!("serde_json wrote invalid JSON: {e}"),
    }
}

fn dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// The path of member `name` (which may be empty) under `prefix`.
fn member(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn join(prefix: &str, tail: &str) -> String {
    match (prefix.is_empty(), tail.is_empty()) {
        (true, _) => tail.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{tail}"),
    }
}

/// The reference interpreter of `x-rules`: the rules of every schema the
/// instance passes through.
fn check_rules(schema: &Value, instance: &Value, path: &str, out: &mut BTreeSet<String>) {
    let schema = resolve(&ROOT, schema);
    match instance {
        Value::Object(object) => {
            for rule in schema
                .get("x-rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                apply_rule(rule, object, path, out);
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, value) in object {
                let here = member(path, name);
                let sub = match properties.and_then(|p| p.get(name)) {
                    Some(sub) => Some(sub.clone()),
                    None => schema
                        .get("additionalProperties")
                        .filter(|s| s.is_object())
                        .cloned(),
                };
                if let Some(sub) = sub {
                    check_rules(&sub, value, &here, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_rules(sub, item, &join(path, &i.to_string()), out);
                }
            }
        }
        _ => {}
    }
}

fn apply_rule(rule: &Value, object: &Map<String, Value>, path: &str, out: &mut BTreeSet<String>) {
    let text = |key: &str| rule.get(key).and_then(Value::as_str).unwrap_or_default();
    let field = text("field");
    let value = object.get(field).filter(|v| !v.is_null());
    match text("kind") {
        "date-not-in-future" => {
            if let Some(Value::String(s)) = value
                && let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                && date > chrono::Utc::now().date_naive()
            {
                out.insert(join(path, field));
            }
        }
        "property-names" => {
            let pattern = regex::Regex::new(text("pattern")).expect("a pattern");
            for name in object.keys() {
                if !pattern.is_match(name) {
                    out.insert(member(path, name));
                }
            }
        }
        "disjoint" => {
            let mine = value.and_then(Value::as_array);
            for other in rule["others"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let theirs = object.get(other).and_then(Value::as_array);
                if let (Some(mine), Some(theirs)) = (mine, theirs)
                    && mine.iter().any(|m| theirs.contains(m))
                {
                    out.insert(join(path, field));
                }
            }
        }
        _ => {}
    }
}

/// The spec's convention: text never contains U+0000.
fn nul_characters(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if s.contains('\0') => {
            out.insert(path.to_owned());
        }
        Value::Object(object) => {
            for (key, child) in object {
                let here = member(path, key);
                if key.contains('\0') {
                    out.insert(here);
                } else {
                    nul_characters(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_characters(item, &join(path, &i.to_string()), out);
            }
        }
        _ => {}
    }
}

/// Every place a mutation can touch in instances of `schema`: member paths
/// (`*` a map key, `0` an item), with their schemas.
fn places(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    if path.len() > 4 {
        return;
    }
    let schema = resolve(&SPEC, schema);
    out.push((path.clone(), schema.clone()));
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            path.push(name.clone());
            places(sub, path, out);
            path.pop();
        }
    }
    if let Some(sub) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        path.push("*".into());
        places(sub, path, out);
        path.pop();
    }
    if let Some(sub) = schema.get("items") {
        path.push("0".into());
        places(sub, path, out);
        path.pop();
    }
}

/// Values a mutation may put anywhere: every JSON kind, the edges of the
/// spec's constraints, and the spec's own valid values.
fn pool(schema: &Value, random: &str) -> Vec<Value> {
    let mut out = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1),
        json!(1.5),
        json!(2.0),
        json!(900),
        json!(2_147_483_648_i64),
        json!(1e20),
        json!(""),
        json!(random),
        json!(format!("{random}\u{0}")),
        json!("x".repeat(51)),
        json!("x".repeat(101)),
        json!("é".repeat(1025)),
        json!("US"),
        json!("CA"),
        json!("FR"),
        json!("MA"),
        json!("02139"),
        json!("1234"),
        json!("2999-01-01"),
        json!("1980-12-20"),
        json!("2021-02-30"),
        json!("someone@example.com"),
        json!("someone@-bad-.example"),
        json!("https://cdn.example.com/a.png"),
        json!("http://cdn.example.com/a.png"),
        json!("+12345678901"),
        json!("America/New_York"),
        json!("en-us"),
        json!([]),
        json!(["billing-admin"]),
        json!(["a", "a"]),
        json!(["Bad Key"]),
        json!([random]),
        json!({}),
        json!({ "k": 1 }),
        json!({ "9x": true }),
        json!({ random: random }),
        json!({ "costCenter": null }),
    ];
    out.push(valid_instance(&SPEC, schema));
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        out.extend(values.iter().take(3).cloned());
    }
    if let Some(example) = schema.get("example") {
        out.push(example.clone());
    }
    out
}

/// `instance` without the member at `path`.
fn remove_at(instance: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut here = instance;
    for step in parents {
        let next = match here {
            Value::Object(object) => object.get_mut(if step == "*" { "k0" } else { step }),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(next) => here = next,
            None => return,
        }
    }
    match here {
        Value::Object(object) => {
            object.remove(if last == "*" { "k0" } else { last });
        }
        Value::Array(items) => {
            if let Ok(i) = last.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

type Mutation = (usize, u8, usize, String);

fn mutate(
    schema: &Value,
    base: &Value,
    places: &[(Vec<String>, Value)],
    mutations: &[Mutation],
) -> Value {
    let mut instance = base.clone();
    for (place, op, choice, random) in mutations {
        let (path, sub) = &places[place % places.len()];
        match op % 4 {
            // Remove the member (or item).
            0 => remove_at(&mut instance, path),
            // Add an unknown member to the object there.
            1 => {
                if let Some(Value::Object(object)) = pointer_mut(&mut instance, path) {
                    object.insert(format!("z{random}"), json!(1));
                }
            }
            // Put a value from the pool there.
            _ => {
                let values = pool(sub, random);
                let value = values[choice % values.len()].clone();
                instance = set_at(&SPEC, schema, &instance, path, value);
            }
        }
    }
    instance
}

fn pointer_mut<'a>(instance: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut here = instance;
    for step in path {
        here = match here {
            Value::Object(object) => object.get_mut(if step == "*" { "k0" } else { step })?,
            Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(here)
}

/// Runs the property for one request schema; returns how many cases the
/// oracle accepted and refused.
fn agree<T: Decode>(name: &'static str) -> (u32, u32) {
    let oracle = Oracle::new(name);
    let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
    let base = valid_instance(&SPEC, &schema);
    let mut all_places = Vec::new();
    places(&schema, &mut Vec::new(), &mut all_places);

    // Valid instances, and each constraint broken alone: the same one field.
    assert!(oracle.fields(&base).is_empty(), "{name}: base {base}");
    assert!(decoder_fields::<T>(&base).is_empty(), "{name}: base {base}");
    let cases = constraint_cases(&spec_value(), name);
    for case in &cases {
        let expected = BTreeSet::from([case.field.clone()]);
        assert_eq!(
            oracle.fields(&case.instance),
            expected,
            "oracle: {}",
            case.id
        );
        assert_eq!(
            decoder_fields::<T>(&case.instance),
            expected,
            "{}: {}",
            case.id,
            case.instance
        );
    }

    // Random mutations of any member.
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
    );
    let accepted = std::cell::Cell::new(0);
    let refused = std::cell::Cell::new(0);
    let strategy = proptest::collection::vec(
        (
            any::<usize>(),
            any::<u8>(),
            any::<usize>(),
            "[a-z0-9_.@-]{0,8}",
        ),
        0..4,
    );
    let result = runner.run(&strategy, |mutations| {
        let instance = mutate(&schema, &base, &all_places, &mutations);
        let expected = oracle.fields(&instance);
        let found = decoder_fields::<T>(&instance);
        prop_assert_eq!(
            expected.is_empty(),
            found.is_empty(),
            "{} accepts what the oracle does not, or the reverse: {}\noracle: {:?}\ndecoder: {:?}",
            name,
            instance,
            expected,
            found
        );
        prop_assert!(
            found.is_subset(&expected),
            "{}: the decoder names a field the oracle does not: {}\noracle: {:?}\ndecoder: {:?}",
            name,
            instance,
            expected,
            found
        );
        if expected.is_empty() {
            accepted.set(accepted.get() + 1);
        } else {
            refused.set(refused.get() + 1);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    (accepted.get(), refused.get())
}

fn check<T: Decode>(name: &'static str) {
    let (accepted, refused) = agree::<T>(name);
    assert!(
        accepted + refused >= CASES,
        "{name}: {accepted} + {refused} cases"
    );
    // Both sides of the boundary are exercised.
    assert!(
        accepted >= CASES / 20,
        "{name}: only {accepted} valid cases"
    );
    assert!(refused >= CASES / 4, "{name}: only {refused} invalid cases");
}

#[test]
fn user_create_decoder_agrees_with_the_oracle() {
    check::<UserCreate>("UserCreate");
}

#[test]
fn user_replace_decoder_agrees_with_the_oracle() {
    check::<UserReplace>("UserReplace");
}

#[test]
fn user_patch_decoder_agrees_with_the_oracle() {
    check::<UserPatch>("UserPatch");
}

#[test]
fn password_change_decoder_agrees_with_the_oracle() {
    check::<PasswordChange>("PasswordChange");
}

#[test]
fn group_create_decoder_agrees_with_the_oracle() {
    check::<GroupCreate>("GroupCreate");
}

#[test]
fn group_patch_decoder_agrees_with_the_oracle() {
    check::<GroupPatch>("GroupPatch");
}

#[test]
fn every_request_body_schema_is_covered() {
    let spec = spec_value();
    let mut bodies = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            // JSON bodies: the decoders' (an image is handed over as bytes).
            for media in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(media, _)| media.contains("json"))
            {
                let reference = media.1["schema"]["$ref"].as_str().unwrap();
                bodies.insert(reference.rsplit('/').next().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        bodies,
        BTreeSet::from(
            [
                "GroupCreate",
                "GroupPatch",
                "PasswordChange",
                "UserCreate",
                "UserPatch",
                "UserReplace"
            ]
            .map(String::from)
        )
    );
}

/// The errors of a body written as text, so its member order is the
/// text's.
fn errors<T: Decode>(body: &str) -> Vec<(String, String)> {
    match decode::text::<T>(body) {
        Ok(_) => Vec::new(),
        Err(BodyError::Invalid(errors)) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
        Err(BodyError::Syntax(e)) => panic!("{e}"),
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn every_error_comes_at_once_in_document_order_one_per_field() {
    let long = "x".repeat(300);
    let body = format!(
        r#"{{"name": {{"firstName": "A"}}, "address": {{"city": "Boston"}}, "email": "{long}",
            "resourceVersion": 3, "roles": ["ok", "ok"]}}"#
    );
    // Members as sent; what a member lacks right after it; the email's first
    // failing constraint only (its length, not also its format).
    assert_eq!(
        errors::<UserCreate>(&body),
        pairs(&[
            ("name.lastName", "required"),
            ("address.countryCode", "required"),
            ("email", "max-length"),
            ("resourceVersion", "read-only"),
            ("roles", "unique-items"),
        ])
    );
}

#[test]
fn rules_from_x_rules_and_compositions_are_checked() {
    let body = r#"{
        "name": { "firstName": "A", "lastName": "B" },
        "email": "a@example.com",
        "address": { "countryCode": "US", "zipCode": "1234" },
        "dateOfBirth": "2999-01-01",
        "timeZone": "Mars/Base",
        "customAttributes": { "9lives": true }
    }"#;
    assert_eq!(
        errors::<UserCreate>(body),
        pairs(&[
            ("address.state", "required"),
            ("address.zipCode", "pattern"),
            ("timeZone", "lookup"),
            ("customAttributes.9lives", "property-name"),
            ("dateOfBirth", "date-out-of-range"),
        ])
    );
    let patch = r#"{ "roles": ["a"], "addRoles": ["b"], "addTags": ["x"], "removeTags": ["x"] }"#;
    assert_eq!(
        errors::<UserPatch>(patch),
        pairs(&[("roles", "exclusive"), ("removeTags", "disjoint")])
    );
}

#[test]
fn duplicate_members_and_nul_characters_are_refused() {
    let text = r#"{"newPassword":"correct horse battery","newPassword":"again"}"#;
    match decode::text::<PasswordChange>(text) {
        Err(BodyError::Invalid(errors)) => {
            assert_eq!(errors[0].field, "newPassword");
            assert_eq!(errors[0].code, "duplicate-member");
        }
        other => panic!("{other:?}"),
    }
    let body = r#"{ "newPassword": "correct horse\u0000 battery" }"#;
    assert_eq!(
        errors::<PasswordChange>(body),
        pairs(&[("newPassword", "nul-character")])
    );
}
