//! Rust names for what a spec names: types, fields, functions and response
//! variants. One helper for every generator, so a name means the same thing
//! wherever it is used.

use proc_macro2::{Ident, Span};

/// `camelCase`, `kebab-case`, `snake_case` or `Header-Name` to
/// `PascalCase`; a name that would start with a digit gets a leading `V`.
pub(crate) fn pascal(name: &str) -> String {
    let mut out = String::new();
    // A letter or digit that no identifier may hold (`²`) separates words.
    let in_word = |c: char| c.is_alphanumeric() && unicode_ident::is_xid_continue(c);
    for word in name.split(|c: char| !in_word(c)) {
        // A word in capitals (`GET-API-CLIENTS`) is a word, not an acronym
        // run: `GetApiClients`. Mixed case (`HTTPServer`, `ETag`) is kept.
        let shouting = word.chars().count() > 1
            && word.chars().any(char::is_alphabetic)
            && !word.chars().any(char::is_lowercase);
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            if shouting {
                out.extend(chars.flat_map(char::to_lowercase));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    // The one keyword a capitalized word can be (`self`).
    if out == "Self" {
        out.push('_');
    }
    out
}

/// `camelCase`, `kebab-case` or `Header-Name` to `snake_case`; anything
/// that is not a letter or digit becomes `_`, and a leading digit gets a
/// leading `_`.
pub(crate) fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else if c.is_uppercase() {
            // A word starts at `aB`, and at the last capital of `ABc`.
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let starts_word = previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
                || (previous.is_some_and(char::is_uppercase)
                    && next.is_some_and(|n| n.is_lowercase()));
            if starts_word && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The identifier for a field, parameter or function named `name` in the
/// spec: its snake case, with `_` appended when that is a Rust keyword
/// (`type_`, `move_`).
pub(crate) fn field_ident(name: &str) -> Ident {
    ident(&snake(name))
}

/// The identifier of a constant named after `name`: `getPetById` is
/// `GET_PET_BY_ID`.
pub(crate) fn const_ident(name: &str) -> Ident {
    ident(&snake(name).to_uppercase())
}

/// `name` as an identifier, with `_` appended when it is a Rust keyword.
pub(crate) fn ident(name: &str) -> Ident {
    match syn::parse_str::<Ident>(name) {
        Ok(ident) => ident,
        Err(_) => Ident::new(&format!("{name}_"), Span::call_site()),
    }
}

/// The name progenitor gives what an operation id names: its method
/// (`pascal == false`, snake case) or, from that method name, its builder
/// (`pascal == true`). This repeats progenitor's `sanitize` (heck's cases,
/// `_` before a leading non-letter, `_` after a keyword) so the SDK's own
/// surface names exactly what progenitor wrote: `putECU` is the method
/// `put_ecu` and the builder `PutEcu`, not `PutECU`.
pub(crate) fn progenitor(input: &str, pascal: bool) -> String {
    use heck::{ToPascalCase, ToSnakeCase};
    let to_case = |text: &str| {
        if pascal {
            text.to_pascal_case()
        } else {
            text.to_snake_case()
        }
    };
    let out = match input {
        "+1" => "plus1".to_owned(),
        "-1" => "minus1".to_owned(),
        _ => to_case(
            &input
                .replace('\'', "")
                .replace(|c: char| !unicode_ident::is_xid_continue(c), "-"),
        ),
    };
    let out = match out.chars().next() {
        None => to_case("x"),
        Some(c) if unicode_ident::is_xid_start(c) => out,
        Some(_) => format!("_{out}"),
    };
    if typify::accept_as_ident(&out) {
        out
    } else {
        format!("{out}_")
    }
}

/// A JSON Pointer token (RFC 6901) for `name`.
pub(crate) fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A JSON Pointer token read back: the inverse of [`escape`].
pub(crate) fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The variant name of a response status: its reason phrase in Pascal case
/// (`404` is `NotFound`, `200` is `Ok`), `Status{code}` for a code without
/// one.
pub(crate) fn status_name(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => reason
            .replace('\'', "")
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase());
                first
                    .into_iter()
                    .chain(chars.map(|c| c.to_ascii_lowercase()))
                    .collect::<String>()
            })
            .collect(),
        None => format!("Status{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal("getPetById"), "GetPetById");
        assert_eq!(pascal("If-None-Match"), "IfNoneMatch");
        assert_eq!(pascal("time-zones"), "TimeZones");
        assert_eq!(pascal("GET-API-CLIENTS-SELF"), "GetApiClientsSelf");
        assert_eq!(pascal("ETag"), "ETag");
        // A digit no identifier may hold separates words (a title `IoE² IoT`).
        assert_eq!(pascal("IoE²IoT API"), "IoEIoTApi");
        assert_eq!(pascal("x-request-id"), "XRequestId");
        assert_eq!(pascal("2fa"), "V2fa");
        assert_eq!(pascal("self"), "Self_");
        assert_eq!(snake("getPetById"), "get_pet_by_id");
        assert_eq!(snake("If-Match"), "if_match");
        assert_eq!(snake("accountSwitchKey"), "account_switch_key");
        assert_eq!(snake("x.y z"), "x_y_z");
        assert_eq!(snake("2fa"), "_2fa");
        assert_eq!(field_ident("type").to_string(), "type_");
        assert_eq!(field_ident("move").to_string(), "move_");
        assert_eq!(field_ident("self").to_string(), "self_");
        assert_eq!(field_ident("user").to_string(), "user");
        assert_eq!(const_ident("getPetById").to_string(), "GET_PET_BY_ID");
        assert_eq!(
            const_ident("GET-API-CLIENTS-SELF").to_string(),
            "GET_API_CLIENTS_SELF"
        );
        assert_eq!(snake("HTTPServer"), "http_server");
        // progenitor's names, method then builder.
        for (id, method, builder) in [
            (
                "aftermarketServicesPutECU",
                "aftermarket_services_put_ecu",
                "AftermarketServicesPutEcu",
            ),
            ("getPetById", "get_pet_by_id", "GetPetById"),
            ("move", "move_", "Move"),
            ("Self", "self_", "Self_"),
            ("2fa.check", "_2fa_check", "_2faCheck"),
            ("seasons[]", "seasons", "Seasons"),
        ] {
            let snake = progenitor(id, false);
            assert_eq!(snake, method, "{id}");
            assert_eq!(progenitor(&snake, true), builder, "{id}");
        }
        assert_eq!(snake("ETag"), "e_tag");
    }

    #[test]
    fn statuses_by_their_reason() {
        for (status, name) in [
            (200, "Ok"),
            (201, "Created"),
            (204, "NoContent"),
            (304, "NotModified"),
            (404, "NotFound"),
            (413, "PayloadTooLarge"),
            (418, "ImATeapot"),
            (429, "TooManyRequests"),
            (500, "InternalServerError"),
            (599, "Status599"),
        ] {
            assert_eq!(status_name(status), name, "{status}");
        }
    }
}
