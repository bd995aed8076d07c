//! Queries beyond a page of a list: a condition over a user's or a group's
//! columns and document members, a sort and an offset, rendered as SQL for
//! either database (SCIM's filters are translated into these). Every value
//! is bound, never spliced into the text; the members a condition names are
//! fixed paths of the program's own.

/// What a condition can test: a column, or a text member of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The resource's id.
    Id,
    /// A user's email as [`super::email_key`] normalizes it.
    EmailKey,
    /// A user's status.
    Status,
    /// A group's name as [`super::name_key`] folds it.
    NameKey,
    /// A text member of the document, by its path (`["name", "firstName"]`).
    Doc(&'static [&'static str]),
}

/// How a field compares with a text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A condition a row must meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    True,
    False,
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    /// The field has a value other than the empty string.
    Present(Field),
    /// The field compares so with `value`; with `fold`, both sides
    /// lowercased first.
    Compare {
        field: Field,
        op: Compare,
        value: String,
        fold: bool,
    },
    /// A group has this user (an id) as a member.
    HasMember(String),
}

/// A query: the rows meeting `condition`, sorted by `sort` (then by
/// insertion), `limit` of them after skipping `offset`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub condition: Condition,
    /// The field to sort by, and whether descending.
    pub sort: Option<(Field, bool)>,
    pub offset: i64,
    pub limit: i64,
}

/// The two SQL dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A condition as SQL, and the values it binds in order (`$2` on: `$1`
/// is the account).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered {
    pub(crate) sql: String,
    pub(crate) binds: Vec<String>,
}

impl Dialect {
    fn field(self, field: Field) -> String {
        match (self, field) {
            (Dialect::Sqlite, Field::Id) => "id".into(),
            (Dialect::Postgres, Field::Id) => "id::text".into(),
            (_, Field::EmailKey) => "email_key".into(),
            (_, Field::Status) => "status".into(),
            (_, Field::NameKey) => "name_key".into(),
            (Dialect::Sqlite, Field::Doc(path)) => {
                format!("json_extract(doc, '$.{}')", path.join("."))
            }
            (Dialect::Postgres, Field::Doc(path)) => {
                let (last, init) = path.split_last().expect("a member path is not empty");
                let mut out = String::from("doc");
                for part in init {
                    out.push_str(&format!("->'{part}'"));
                }
                out.push_str(&format!("->>'{last}'"));
                out
            }
        }
    }
}

/// Renders `condition` for `dialect`; `table` is the table whose rows are
/// tested (for [`Condition::HasMember`]).
pub(crate) fn render(condition: &Condition, dialect: Dialect, table: &str) -> Rendered {
    let mut binds = Vec::new();
    let sql = walk(condition, dialect, table, &mut binds);
    Rendered { sql, binds }
}

fn walk(condition: &Condition, dialect: Dialect, table: &str, binds: &mut Vec<String>) -> String {
    let bind = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        format!("${}", binds.len() + 1)
    };
    match condition {
        Condition::True => "1 = 1".into(),
        Condition::False => "1 = 0".into(),
        Condition::All(parts) if parts.is_empty() => "1 = 1".into(),
        Condition::Any(parts) if parts.is_empty() => "1 = 0".into(),
        Condition::All(parts) => parts
            .iter()
            .map(|p| format!("({})", walk(p, dialect, table, binds)))
            .collect::<Vec<_>>()
            .join(" AND "),
        Condition::Any(parts) => parts
            .iter()
            .map(|p| format!("({})", walk(p, dialect, table, binds)))
            .collect::<Vec<_>>()
            .join(" OR "),
        // A missing field compares as neither true nor false in SQL; `not`
        // over it is true, as SCIM reads a filter on an absent attribute.
        Condition::Not(inner) => format!(
            "NOT COALESCE(({}), FALSE)",
            walk(inner, dialect, table, binds)
        ),
        Condition::Present(field) => {
            let e = dialect.field(*field);
            format!("({e} IS NOT NULL AND {e} <> '')")
        }
        Condition::HasMember(user) => {
            let user = bind(user.clone(), binds);
            let user = match dialect {
                Dialect::Sqlite => user,
                Dialect::Postgres => format!("{user}::uuid"),
            };
            format!(
                "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = {table}.id \
                 AND m.user_id = {user})"
            )
        }
        Condition::Compare {
            field,
            op,
            value,
            fold,
        } => {
            let mut e = dialect.field(*field);
            let value = if *fold {
                e = format!("lower({e})");
                value.to_lowercase()
            } else {
                value.clone()
            };
            let v = bind(value, binds);
            match (op, dialect) {
                (Compare::Eq, _) => format!("{e} = {v}"),
                (Compare::Ne, _) => format!("({e} IS NULL OR {e} <> {v})"),
                (Compare::Gt, _) => format!("{e} > {v}"),
                (Compare::Ge, _) => format!("{e} >= {v}"),
                (Compare::Lt, _) => format!("{e} < {v}"),
                (Compare::Le, _) => format!("{e} <= {v}"),
                (Compare::Contains, Dialect::Sqlite) => format!("instr({e}, {v}) > 0"),
                (Compare::Contains, Dialect::Postgres) => format!("strpos({e}, {v}) > 0"),
                (Compare::StartsWith, Dialect::Sqlite) => {
                    format!("substr({e}, 1, length({v})) = {v}")
                }
                (Compare::StartsWith, Dialect::Postgres) => format!("left({e}, length({v})) = {v}"),
                (Compare::EndsWith, Dialect::Sqlite) => {
                    format!("(length({v}) = 0 OR substr({e}, -length({v})) = {v})")
                }
                (Compare::EndsWith, Dialect::Postgres) => {
                    format!("right({e}, length({v})) = {v}")
                }
            }
        }
    }
}

/// The `ORDER BY` of a query: its sort, then insertion order.
pub(crate) fn order_by(sort: Option<(Field, bool)>, dialect: Dialect) -> String {
    match sort {
        Some((field, descending)) => {
            let direction = if descending { "DESC" } else { "ASC" };
            // Rows without the field sort last either way.
            let e = dialect.field(field);
            format!("({e} IS NULL), {e} {direction}, seq")
        }
        None => "seq".into(),
    }
}

impl Condition {
    /// Whether a row meets the condition, read in memory as the SQL reads
    /// it: `field` gives a field's value (`None`: absent), `members` a
    /// group's members. An absent field meets no comparison but `ne`;
    /// `not` over one that does not hold holds.
    pub fn matches(&self, field: &dyn Fn(Field) -> Option<String>, members: &[String]) -> bool {
        match self {
            Condition::True => true,
            Condition::False => false,
            Condition::All(parts) => parts.iter().all(|p| p.matches(field, members)),
            Condition::Any(parts) => parts.iter().any(|p| p.matches(field, members)),
            Condition::Not(inner) => !inner.matches(field, members),
            Condition::Present(f) => field(*f).is_some_and(|v| !v.is_empty()),
            Condition::HasMember(user) => members.contains(user),
            Condition::Compare {
                field: f,
                op,
                value,
                fold,
            } => {
                let Some(mut have) = field(*f) else {
                    return *op == Compare::Ne;
                };
                let mut value = value.clone();
                if *fold {
                    have = have.to_lowercase();
                    value = value.to_lowercase();
                }
                match op {
                    Compare::Eq => have == value,
                    Compare::Ne => have != value,
                    Compare::Contains => have.contains(&value),
                    Compare::StartsWith => have.starts_with(&value),
                    Compare::EndsWith => have.ends_with(&value),
                    Compare::Gt => have > value,
                    Compare::Ge => have >= value,
                    Compare::Lt => have < value,
                    Compare::Le => have <= value,
                }
            }
        }
    }
}

/// A text member of a document at `path`, as `json_extract` and `->>`
/// read it (a string as it is, another scalar as its JSON text).
pub fn doc_text(doc: &serde_json::Value, path: &[&str]) -> Option<String> {
    let value = path.iter().try_fold(doc, |at, key| at.get(key))?;
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIVEN: Field = Field::Doc(&["name", "firstName"]);

    #[test]
    fn members_are_read_from_the_document_in_each_dialect() {
        assert_eq!(
            Dialect::Sqlite.field(GIVEN),
            "json_extract(doc, '$.name.firstName')"
        );
        assert_eq!(Dialect::Postgres.field(GIVEN), "doc->'name'->>'firstName'");
        assert_eq!(
            Dialect::Postgres.field(Field::Doc(&["externalId"])),
            "doc->>'externalId'"
        );
    }

    #[test]
    fn values_are_bound_in_order_after_the_account() {
        let condition = Condition::All(vec![
            Condition::Compare {
                field: Field::EmailKey,
                op: Compare::Eq,
                value: "a@b.c".into(),
                fold: false,
            },
            Condition::Not(Box::new(Condition::Compare {
                field: GIVEN,
                op: Compare::StartsWith,
                value: "AN".into(),
                fold: true,
            })),
            Condition::HasMember("u1".into()),
        ]);
        let rendered = render(&condition, Dialect::Postgres, "user_groups");
        assert_eq!(
            rendered.sql,
            "(email_key = $2) AND (NOT COALESCE((left(lower(doc->'name'->>'firstName'), length($3)) = $3), FALSE)) \
             AND (EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = user_groups.id AND m.user_id = $4::uuid))"
        );
        assert_eq!(rendered.binds, ["a@b.c", "an", "u1"]);
        assert_eq!(
            render(&Condition::Any(vec![]), Dialect::Sqlite, "users").sql,
            "1 = 0"
        );
    }

    #[test]
    fn a_sort_puts_missing_values_last_then_insertion_order() {
        assert_eq!(order_by(None, Dialect::Sqlite), "seq");
        assert_eq!(
            order_by(Some((Field::EmailKey, true)), Dialect::Sqlite),
            "(email_key IS NULL), email_key DESC, seq"
        );
    }
}
