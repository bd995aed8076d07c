//! `docs/seed-mapping.md`: every row of every seed's table points into the
//! spec or says why the field is not copied.

use std::collections::BTreeSet;

use users_tests::{project_root, spec_value};

#[derive(Debug)]
struct Row {
    field: String,
    place: String,
}

/// The tables of the document, by heading.
fn tables() -> Vec<(String, Vec<Row>)> {
    let text = std::fs::read_to_string(project_root().join("docs/seed-mapping.md")).unwrap();
    let mut out: Vec<(String, Vec<Row>)> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            out.push((heading.to_owned(), Vec::new()));
            continue;
        }
        let Some(inner) = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')) else {
            continue;
        };
        let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        if cells[0] == "seed field or behaviour" || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(cells.len(), 3, "three cells in {line}");
        let (_, rows) = out.last_mut().expect("a table under a heading");
        rows.push(Row {
            field: cells[0].to_owned(),
            place: cells[1].to_owned(),
        });
    }
    out
}

fn rows_of<'a>(tables: &'a [(String, Vec<Row>)], seed: &str) -> &'a [Row] {
    &tables
        .iter()
        .find(|(heading, _)| heading.contains(seed))
        .unwrap_or_else(|| panic!("no table for {seed}"))
        .1
}

#[test]
fn every_row_resolves_in_the_spec_or_says_why_not() {
    let spec = spec_value();
    let tables = tables();
    assert_eq!(tables.len(), 4, "one table per seed");
    let mut pointers = 0;
    for (heading, rows) in &tables {
        let mut seen = BTreeSet::new();
        for row in rows {
            assert!(seen.insert(&row.field), "{heading}: {} twice", row.field);
            if let Some(reason) = row.place.strip_prefix("not copied:") {
                assert!(
                    reason.trim().len() > 10,
                    "{heading}: {} needs a reason",
                    row.field
                );
                continue;
            }
            let pointer = row
                .place
                .strip_prefix("`#")
                .and_then(|p| p.strip_suffix('`'))
                .unwrap_or_else(|| {
                    panic!(
                        "{heading}: {} is neither a pointer nor not copied",
                        row.field
                    )
                });
            assert!(
                spec.pointer(pointer).is_some(),
                "{heading}: {} points at {pointer}, which is not in the spec",
                row.field
            );
            pointers += 1;
        }
    }
    assert!(pointers > 100, "only {pointers} pointers");
}

/// The first `code` span of a cell: the seed's field name on field rows.
fn first_code(cell: &str) -> Option<&str> {
    let rest = cell.strip_prefix('`')?;
    rest.split('`').next()
}

#[test]
fn every_seed_field_has_a_row() {
    let tables = tables();
    let count = |seed: &str, pred: &dyn Fn(&Row) -> bool| {
        rows_of(&tables, seed).iter().filter(|r| pred(r)).count()
    };
    let biot_fields = [
        "<customAttribute1>",
        "<customAttributeN>",
        "_address",
        "_address.address1",
        "_address.address2",
        "_address.city",
        "_address.countryCode",
        "_address.state",
        "_address.zipCode",
        "_dateOfBirth",
        "_description",
        "_email",
        "_employeeId",
        "_gender",
        "_locale",
        "_mfa",
        "_mfa.enabled",
        "_mfa.expirationInMinutes",
        "_name",
        "_name.firstName",
        "_name.lastName",
        "_ownerOrganization",
        "_ownerOrganization.id",
        "_phone",
    ];
    assert_eq!(biot_fields.len(), 24);
    for field in biot_fields {
        assert_eq!(
            count("BioT", &|r| first_code(&r.field) == Some(field)),
            1,
            "BioT {field}"
        );
    }
    assert_eq!(count("BioT", &|r| r.field == "path `id`"), 1);
    assert_eq!(count("BioT", &|r| r.field.contains("PROTECTED_API")), 1);

    let akamai_fields = [
        "address",
        "city",
        "contactType",
        "country",
        "email",
        "firstName",
        "jobTitle",
        "lastName",
        "mobilePhone",
        "phone",
        "preferredLanguage",
        "secondaryEmail",
        "sessionTimeOut",
        "state",
        "tfaEnabled",
        "timeZone",
        "zipCode",
    ];
    for field in akamai_fields {
        assert_eq!(
            count("Akamai", &|r| first_code(&r.field) == Some(field)),
            1,
            "Akamai {field}"
        );
    }
    assert_eq!(count("Akamai", &|r| r.field == "path `uiIdentityId`"), 1);
    assert_eq!(
        count("Akamai", &|r| r.field == "query `accountSwitchKey`"),
        1
    );

    assert_eq!(count("awork", &|r| r.field.starts_with("request ")), 7);
    assert_eq!(count("awork", &|r| r.field.starts_with("response ")), 23);
    assert_eq!(count("awork", &|r| r.field == "path `userId`"), 1);
    assert_eq!(count("awork", &|r| r.field.starts_with("permission")), 1);

    // Field rows start with the field's name; behaviour rows with words.
    let nexudus_fields = count("Nexudus", &|r| r.field.starts_with('`'));
    assert!(
        nexudus_fields >= 58,
        "Nexudus has {nexudus_fields} field rows"
    );
    assert_eq!(count("Nexudus", &|r| r.field.starts_with("permission")), 1);
}
