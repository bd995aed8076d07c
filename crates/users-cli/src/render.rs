//! Writing an [`Outcome`]: JSON, YAML or a table. A listing of every page
//! is written item by item as it arrives (JSON as one array, YAML as one
//! sequence), so its memory does not grow with the number of items; only a
//! table, which must know its columns' widths, holds them all.

use std::io::Write;

use futures::StreamExt;
use serde_json::Value;

use crate::runtime::{Failure, Outcome};

/// The output format (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pretty JSON; a listing of every page as one JSON array.
    Json,
    /// YAML.
    Yaml,
    /// A table of the items (or of a resource's members).
    Table,
}

/// A failure to write the output: a closed pipe is not an error to report.
pub(crate) fn write_err(err: std::io::Error) -> Failure {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::OutputClosed
    } else {
        Failure::Local(format!("writing the output: {err}"))
    }
}

/// Writes `outcome` to `out`; `progress` shows a count of items on
/// standard error while a listing streams.
pub async fn render(
    outcome: Outcome<'_>,
    format: Format,
    out: &mut dyn Write,
    progress: bool,
) -> Result<(), Failure> {
    match outcome {
        Outcome::Value {
            body: Value::Null, ..
        } => Ok(()),
        Outcome::Value { body, .. } => {
            let text = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&body)
                        .map_err(|e| Failure::Local(e.to_string()))?
                        + "\n"
                }
                Format::Yaml => {
                    yaml_serde::to_string(&body).map_err(|e| Failure::Local(e.to_string()))?
                }
                Format::Table => table(&body) + "\n",
            };
            out.write_all(text.as_bytes()).map_err(write_err)
        }
        Outcome::NotModified => {
            eprintln!("not modified (304)");
            Ok(())
        }
        Outcome::Bytes(mut chunks) => {
            while let Some(chunk) = chunks.next().await {
                out.write_all(&chunk?).map_err(write_err)?;
            }
            out.flush().map_err(write_err)
        }
        Outcome::Items(mut items) => {
            let bar = progress.then(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_message("items");
                bar
            });
            let mut held = Vec::new();
            let mut count = 0u64;
            let result = async {
                if format == Format::Json {
                    out.write_all(b"[").map_err(write_err)?;
                }
                while let Some(item) = items.next().await {
                    let item = item?;
                    match format {
                        Format::Json => {
                            let text = serde_json::to_string(&item)
                                .map_err(|e| Failure::Local(e.to_string()))?;
                            let sep = if count == 0 { "\n  " } else { ",\n  " };
                            out.write_all(sep.as_bytes()).map_err(write_err)?;
                            out.write_all(text.as_bytes()).map_err(write_err)?;
                        }
                        Format::Yaml => {
                            let text = yaml_serde::to_string(&item)
                                .map_err(|e| Failure::Local(e.to_string()))?;
                            out.write_all(sequence_entry(&text).as_bytes())
                                .map_err(write_err)?;
                        }
                        Format::Table => held.push(item),
                    }
                    count += 1;
                    if let Some(bar) = &bar {
                        bar.set_position(count);
                        bar.tick();
                    }
                }
                match format {
                    Format::Json if count == 0 => out.write_all(b"]\n").map_err(write_err),
                    Format::Json => out.write_all(b"\n]\n").map_err(write_err),
                    Format::Yaml if count == 0 => out.write_all(b"[]\n").map_err(write_err),
                    Format::Yaml => Ok(()),
                    Format::Table => out
                        .write_all(
                            (table(&Value::Array(std::mem::take(&mut held))) + "\n").as_bytes(),
                        )
                        .map_err(write_err),
                }
            }
            .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            result?;
            out.flush().map_err(write_err)
        }
    }
}

/// A YAML document as an entry of a top-level sequence.
fn sequence_entry(document: &str) -> String {
    let mut out = String::new();
    for (i, line) in document.trim_end().lines().enumerate() {
        out.push_str(if i == 0 { "- " } else { "  " });
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A cell's text: strings as they are, other values as compact JSON, cut
/// at 60 characters.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        text.chars().take(59).collect::<String>() + "…"
    } else {
        text
    }
}

/// The array a value lists: itself, or the one array member of a page
/// (`{"items": [...], "nextCursor": ...}`).
fn listed(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) => {
            let mut arrays = map.values().filter_map(Value::as_array);
            let first = arrays.next()?;
            arrays.next().is_none().then_some(first)
        }
        _ => None,
    }
}

/// `value` as a table: a list's items as rows with a column per member
/// (scalars first seen, in order), an object as its members and values,
/// anything else as its text.
pub fn table(value: &Value) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if let Some(items) = listed(value).filter(|items| items.iter().all(Value::is_object)) {
        let mut columns: Vec<&str> = Vec::new();
        for item in items {
            for (key, member) in item.as_object().into_iter().flatten() {
                let scalar = !member.is_object() && !member.is_array();
                if scalar && !columns.contains(&key.as_str()) {
                    columns.push(key);
                }
            }
        }
        table.set_header(columns.iter().copied());
        for item in items {
            table.add_row(columns.iter().map(|c| cell(&item[*c])));
        }
        return table.to_string();
    }
    match value {
        Value::Object(map) => {
            table.set_header(["member", "value"]);
            for (key, member) in map {
                table.add_row([key.clone(), cell(member)]);
            }
            table.to_string()
        }
        Value::Array(items) => {
            for item in items {
                table.add_row([cell(item)]);
            }
            table.to_string()
        }
        other => cell(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_a_table_of_its_items() {
        let page = serde_json::json!({
            "items": [
                {"id": "1", "email": "a@example.com", "name": {"first": "A"}},
                {"id": "2", "email": "b@example.com", "status": "active"}
            ],
            "nextCursor": null
        });
        let text = table(&page);
        let header = text.lines().nth(1).unwrap();
        assert!(header.contains("id") && header.contains("email") && header.contains("status"));
        assert!(!header.contains("name"), "{text}");
        assert!(text.contains("b@example.com"));
    }

    #[test]
    fn an_object_is_a_table_of_its_members() {
        let text = table(&serde_json::json!({"email": "a@example.com", "tags": ["x"]}));
        assert!(text.contains("email") && text.contains("[\"x\"]"), "{text}");
    }

    #[tokio::test]
    async fn a_listing_streams_as_one_json_array() {
        let items = futures::stream::iter(vec![
            Ok(serde_json::json!({"n": 1})),
            Ok(serde_json::json!({"n": 2})),
        ])
        .boxed();
        let mut out = Vec::new();
        render(Outcome::Items(items), Format::Json, &mut out, false)
            .await
            .unwrap();
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, serde_json::json!([{"n": 1}, {"n": 2}]));
        let mut out = Vec::new();
        let none = futures::stream::iter(Vec::new()).boxed();
        render(Outcome::Items(none), Format::Json, &mut out, false)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            serde_json::json!([])
        );
    }

    #[tokio::test]
    async fn a_listing_streams_as_one_yaml_sequence() {
        let items = futures::stream::iter(vec![
            Ok(serde_json::json!({"n": 1, "tags": ["a"]})),
            Ok(serde_json::json!({"n": 2})),
        ])
        .boxed();
        let mut out = Vec::new();
        render(Outcome::Items(items), Format::Yaml, &mut out, false)
            .await
            .unwrap();
        let parsed: Value = yaml_serde::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([{"n": 1, "tags": ["a"]}, {"n": 2}])
        );
    }
}
