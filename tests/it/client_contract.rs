//! The client's side of the contract, computed from the SDK itself and compared
//! with the same normalized form of the spec:
//!
//! - operations: what each SDK method puts on the wire (`client_wire`);
//! - schemas: the `schemars` schemas of the generated types and the
//!   generated three-state `UserPatch`, normalized (`users_tests::normalize_schema`);
//! - constraints: for every constraint of every request schema, whether the
//!   SDK refuses a body that breaks it, probed through its types.
//!
//! The whole client contract is an insta snapshot. Differences from the spec
//! are allowed only where listed below with their reason, so a change on
//! either side fails the test.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use users_client::{patch::UserPatch, types};
use users_tests::{
    CONSTRAINT_KEYWORDS, constraint_cases, normalize_schema, schema_differences, spec_value,
};

use crate::client_wire::{expected_operations, matches_template, record_every_method};

/// Request body schemas, and the SDK types that carry them.
const REQUEST_SCHEMAS: [&str; 4] = ["UserCreate", "UserReplace", "UserPatch", "PasswordChange"];

/// Where the SDK's schemas differ from the spec, and why that is accepted.
/// Each entry is a part of a `schema_differences` line (`path: spec | client`).
const KNOWN_SCHEMA_DIFFERENCES: &[(&str, &str)] = &[
    (
        "/properties/contactType/enum:",
        "an extensible enum is open in the SDK (the type responses read), so a value \
         it does not know yet goes to the server, which answers 400",
    ),
    (
        "/properties/gender/enum:",
        "an extensible enum is open in the SDK, as contactType",
    ),
    (
        "/properties/status/enum:",
        "an extensible enum is open in the SDK, as contactType",
    ),
    (
        "/format: \"email\" | absent",
        "typify gives email fields a String newtype without a format",
    ),
    (
        "/format: \"uri\" | absent",
        "typify gives URL fields a String newtype without a format",
    ),
    (
        "/format: \"uri-reference\" | absent",
        "typify gives URI references a plain String",
    ),
    (
        "/customAttributes/additionalProperties/anyOf/0/nullable: true | absent",
        "the patch type holds each attribute as an Option (`None` removes it), which schemars \
         writes as a `null` member of the value's anyOf rather than as `nullable`",
    ),
    (
        "/timeZone/enum: ",
        "IANA zone names do not make distinct Rust names (`Etc/GMT+1`, `Etc/GMT-1`): the \
         client view reads the enum as a string and the server checks the zone",
    ),
    (
        "/locale/nullable: true | absent",
        "in a create or replace `null` means the same as leaving the member out, which is what \
         the SDK's None does",
    ),
    (
        "/preferredLanguage/nullable: true | absent",
        "the same as for `locale`",
    ),
    (
        "/timeZone/nullable: true | absent",
        "the same as for `locale`",
    ),
    (
        "/allOf: ",
        "rules relating an object's members (`allOf`/`anyOf`/`not` beside its properties) \
         are the server's: the client view leaves them out, as typify cannot model them",
    ),
    ("/not: ", "the same, for `not`"),
    (
        "/sessionTimeout/format: absent | \"int64\"",
        "typify stores an integer without a format as i64; the enum fixes the values anyway",
    ),
];

/// Spec constraints the SDK does not check locally; the server does.
const KNOWN_UNCHECKED: &[(&str, &str)] = &[
    (
        "/contactType enum ",
        "an extensible enum: the SDK's open enum sends a value it does not know, and the server checks it",
    ),
    ("/gender enum ", "an extensible enum, as contactType"),
    ("/status enum ", "an extensible enum, as contactType"),
    (
        "/timeZone enum ",
        "IANA zone names do not make distinct Rust names: the SDK sends the zone as a string",
    ),
    (
        " format \"email\"",
        "typify does not validate format: email",
    ),
    (" format \"uri\"", "typify does not validate format: uri"),
    (" maxItems ", "typify does not validate maxItems"),
    (" uniqueItems ", "typify does not validate uniqueItems"),
    (" maxProperties ", "typify does not validate maxProperties"),
    (
        " minProperties ",
        "an empty patch is a valid Rust value; the server refuses it",
    ),
    (
        " maximum ",
        "typify checks an integer's lower bound through its type (NonZeroU32) but not its upper bound",
    ),
];

fn schemars_root() -> (Value, BTreeMap<&'static str, Value>) {
    let mut settings = schemars::r#gen::SchemaSettings::openapi3();
    settings.option_nullable = false;
    settings.option_add_null_type = false;
    let mut generator = settings.into_generator();
    let mut roots = BTreeMap::new();
    fn add<T: JsonSchema>(
        generator: &mut schemars::r#gen::SchemaGenerator,
        roots: &mut BTreeMap<&'static str, Value>,
        name: &'static str,
    ) {
        let schema = generator.subschema_for::<T>();
        roots.insert(name, serde_json::to_value(schema).unwrap());
    }
    add::<types::UserCreate>(&mut generator, &mut roots, "UserCreate");
    add::<types::UserReplace>(&mut generator, &mut roots, "UserReplace");
    add::<UserPatch>(&mut generator, &mut roots, "UserPatch");
    add::<types::PasswordChange>(&mut generator, &mut roots, "PasswordChange");
    add::<types::User>(&mut generator, &mut roots, "User");
    add::<types::UserPage>(&mut generator, &mut roots, "UserPage");
    add::<types::LookupList>(&mut generator, &mut roots, "LookupList");
    add::<types::Problem>(&mut generator, &mut roots, "Problem");
    let definitions = serde_json::to_value(generator.definitions()).unwrap();
    (json!({ "components": { "schemas": definitions } }), roots)
}

/// A normalized schema without its constraint keywords: the shape.
fn shape(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(k, _)| !CONSTRAINT_KEYWORDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        other => other.clone(),
    }
}

/// Whether the SDK's type for `schema` refuses `instance`.
fn refuses(schema: &str, instance: &Value) -> bool {
    let instance = instance.clone();
    match schema {
        "UserCreate" => serde_json::from_value::<types::UserCreate>(instance).is_err(),
        "UserReplace" => serde_json::from_value::<types::UserReplace>(instance).is_err(),
        "UserPatch" => serde_json::from_value::<UserPatch>(instance).is_err(),
        "PasswordChange" => serde_json::from_value::<types::PasswordChange>(instance).is_err(),
        other => panic!("no SDK type for {other}"),
    }
}

#[derive(Debug, Serialize)]
struct ClientContract {
    operations: BTreeMap<String, BTreeMap<&'static str, Value>>,
    schemas: BTreeMap<&'static str, Value>,
    constraints: Vec<String>,
}

#[tokio::test]
async fn the_client_contract_matches_the_spec() {
    let spec = spec_value();

    // Operations: the wire against the spec.
    let sent = record_every_method().await;
    let expected = expected_operations();
    let mut operations = BTreeMap::new();
    for (op, seen) in &sent {
        let want = &expected[op];
        assert!(matches_template(&want.template, &seen.path), "{op}");
        let headers: BTreeSet<&String> = want
            .headers
            .iter()
            .filter(|h| seen.headers.contains_key(*h))
            .collect();
        assert_eq!(
            headers.len(),
            want.headers.len(),
            "{op}: declared headers sent"
        );
        operations.insert(
            op.clone(),
            BTreeMap::from([
                ("method", json!(seen.method)),
                ("path", json!(want.template)),
                ("query", json!(seen.query)),
                ("headers", json!(headers)),
                ("contentType", json!(seen.headers.get("content-type"))),
            ]),
        );
        assert_eq!(seen.method, want.method, "{op}");
        assert_eq!(seen.query, want.query, "{op}");
        crate::client_wire::assert_sends_a_declared_media_type(
            op,
            seen.headers.get("content-type"),
            want,
        );
    }

    // Schemas: schemars against the spec, shape only (constraints below).
    let (client_root, client_schemas) = schemars_root();
    let mut schemas = BTreeMap::new();
    let mut differences = Vec::new();
    for (name, client_schema) in &client_schemas {
        let client = shape(&normalize_schema(&client_root, client_schema));
        let ours = shape(&normalize_schema(
            &spec,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
        ));
        schema_differences(&format!("/{name}"), &ours, &client, &mut differences);
        schemas.insert(*name, client);
    }
    let unexplained: Vec<&String> = differences
        .iter()
        .filter(|d| !KNOWN_SCHEMA_DIFFERENCES.iter().any(|(p, _)| d.contains(p)))
        .collect();
    assert!(unexplained.is_empty(), "spec | client:\n{unexplained:#?}");

    // Constraints: every one the spec states, probed through the SDK's types.
    let mut constraints = Vec::new();
    let mut unchecked = Vec::new();
    for schema in REQUEST_SCHEMAS {
        let base = users_tests::valid_instance(&spec, &spec["components"]["schemas"][schema]);
        assert!(
            !refuses(schema, &base),
            "the SDK refuses a valid {schema}: {base}"
        );
        // `x-rules` are the server's by design: JSON Schema cannot say them.
        for case in constraint_cases(&spec, schema)
            .into_iter()
            .filter(|c| !c.rule)
        {
            let checked = refuses(schema, &case.instance);
            if !checked {
                unchecked.push(case.id.clone());
            }
            constraints.push(format!(
                "{}: {}",
                case.id,
                if checked { "checked" } else { "server only" }
            ));
        }
    }
    let unexplained: Vec<&String> = unchecked
        .iter()
        .filter(|id| !KNOWN_UNCHECKED.iter().any(|(p, _)| id.contains(p)))
        .collect();
    assert!(
        unexplained.is_empty(),
        "constraints the SDK does not check:\n{unexplained:#?}"
    );
    assert!(
        constraints.len() > 100,
        "only {} constraints",
        constraints.len()
    );

    insta::assert_yaml_snapshot!(
        "client_contract",
        ClientContract {
            operations,
            schemas,
            constraints,
        }
    );
}
