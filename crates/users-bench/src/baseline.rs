//! The hand-written baseline: getUser and updateUser in plain axum, doing the
//! work the generated stack does (request ids included), written directly. The patch is a typed
//! struct (`deny_unknown_fields`, three-state members) checked field by field
//! with the spec's constraints, applied to the typed stored user; nothing goes
//! through `serde_json::Value`. Kept in step with `openapi/users.yaml` by hand,
//! which is the cost the generated stack removes.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use regex::Regex;
use serde::Deserialize;
use users_api::types::User;

use crate::{TOKEN, seed_user};

type Shared = Arc<Mutex<User>>;

fn double<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Name {
    #[serde(rename = "firstName")]
    first_name: String,
    #[serde(rename = "lastName")]
    last_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Address {
    #[serde(default, deserialize_with = "double")]
    address1: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    address2: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    state: Option<Option<String>>,
    #[serde(default, rename = "zipCode", deserialize_with = "double")]
    zip_code: Option<Option<String>>,
    #[serde(rename = "countryCode")]
    country_code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mfa {
    enabled: bool,
    #[serde(default, rename = "expirationInMinutes", deserialize_with = "double")]
    expiration_in_minutes: Option<Option<i64>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_json::Number),
    Flag(bool),
}

/// Every member of `UserPatch`, typed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Patch {
    #[serde(default, deserialize_with = "double")]
    external_id: Option<Option<String>>,
    name: Option<Name>,
    email: Option<String>,
    #[serde(default, deserialize_with = "double")]
    secondary_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    mobile_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    position: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    date_of_birth: Option<Option<chrono::NaiveDate>>,
    #[serde(default, deserialize_with = "double")]
    gender: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    preferred_language: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    time_zone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    contact_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    session_timeout: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double")]
    address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "double")]
    mfa: Option<Option<Mfa>>,
    #[serde(default, deserialize_with = "double")]
    owner_organization: Option<Option<BTreeMap<String, uuid::Uuid>>>,
    #[serde(default, deserialize_with = "double")]
    employee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    custom_attributes: Option<Option<BTreeMap<String, Option<Scalar>>>>,
    #[serde(default, deserialize_with = "double")]
    notifications: Option<Option<BTreeMap<String, Option<bool>>>>,
    teams: Option<Vec<String>>,
    add_teams: Option<Vec<String>>,
    remove_teams: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    add_tags: Option<Vec<String>>,
    remove_tags: Option<Vec<String>>,
    roles: Option<Vec<String>>,
    add_roles: Option<Vec<String>>,
    remove_roles: Option<Vec<String>>,
    status: Option<String>,
    is_admin: Option<bool>,
    api_access: Option<bool>,
    must_reset_password: Option<bool>,
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\+[1-9][0-9]{1,14}$").unwrap());
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$").unwrap());
static LOCALE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}-[a-z]{2}$").unwrap());
static LANGUAGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z]{2}$").unwrap());
static ZONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_+/-]*$").unwrap());
static COUNTRY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z]{2}$").unwrap());
static MEMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9_.-]*$").unwrap());
static KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_]{0,63}$").unwrap());

struct Checks(Vec<String>);

impl Checks {
    fn len(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min || n > max {
                self.0
                    .push(format!("{field}: must be {min} to {max} characters"));
            }
        }
    }
    fn re(&mut self, field: &str, value: Option<&str>, re: &Regex) {
        if let Some(v) = value
            && !re.is_match(v)
        {
            self.0
                .push(format!("{field}: does not match {}", re.as_str()));
        }
    }
    fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.0.push(format!("{field}: must be one of {allowed:?}"));
        }
    }
    fn email(&mut self, field: &str, value: Option<&str>) {
        if let Some(v) = value
            && (v.len() > 254
                || v.split_once('@')
                    .is_none_or(|(a, b)| a.is_empty() || !b.contains('.')))
        {
            self.0.push(format!("{field}: is not a valid email"));
        }
    }
    fn set(&mut self, field: &str, value: Option<&Vec<String>>) {
        if let Some(members) = value {
            if members.len() > 100 {
                self.0.push(format!("{field}: must have at most 100 items"));
            }
            for (i, m) in members.iter().enumerate() {
                self.len(&format!("{field}.{i}"), Some(m), 1, 64);
                self.re(&format!("{field}.{i}"), Some(m), &MEMBER);
            }
            let mut seen = std::collections::BTreeSet::new();
            if !members.iter().all(|m| seen.insert(m)) {
                self.0.push(format!("{field}: has duplicate items"));
            }
        }
    }
}

fn flat(v: &Option<Option<String>>) -> Option<&str> {
    v.as_ref().and_then(|v| v.as_deref())
}

fn check(p: &Patch) -> Vec<String> {
    let mut c = Checks(Vec::new());
    c.len("externalId", flat(&p.external_id), 1, 64);
    c.re("externalId", flat(&p.external_id), &ID);
    if let Some(name) = &p.name {
        c.len("name.firstName", Some(&name.first_name), 1, 50);
        c.len("name.lastName", Some(&name.last_name), 1, 50);
    }
    c.email("email", p.email.as_deref());
    c.email("secondaryEmail", flat(&p.secondary_email));
    c.re("phone", flat(&p.phone), &PHONE);
    c.re("mobilePhone", flat(&p.mobile_phone), &PHONE);
    c.len("jobTitle", flat(&p.job_title), 1, 75);
    c.len("title", flat(&p.title), 1, 50);
    c.len("position", flat(&p.position), 1, 100);
    c.len("description", flat(&p.description), 0, 5000);
    c.one_of(
        "gender",
        flat(&p.gender),
        &["male", "female", "undisclosed"],
    );
    c.re("locale", flat(&p.locale), &LOCALE);
    c.re("preferredLanguage", flat(&p.preferred_language), &LANGUAGE);
    c.len("timeZone", flat(&p.time_zone), 1, 64);
    c.re("timeZone", flat(&p.time_zone), &ZONE);
    c.one_of(
        "contactType",
        flat(&p.contact_type),
        &[
            "administrative",
            "billing",
            "technical",
            "security",
            "other",
        ],
    );
    if let Some(Some(t)) = p.session_timeout
        && ![900, 1800, 3600, 7200, 14400, 28800, 86400].contains(&t)
    {
        c.0.push("sessionTimeout: is not an allowed timeout".into());
    }
    if let Some(Some(a)) = &p.address {
        for (field, value) in [
            ("address.address1", &a.address1),
            ("address.address2", &a.address2),
            ("address.city", &a.city),
            ("address.state", &a.state),
        ] {
            c.len(field, flat(value), 1, 100);
        }
        c.len("address.zipCode", flat(&a.zip_code), 1, 16);
        c.re("address.countryCode", Some(&a.country_code), &COUNTRY);
    }
    if let Some(Some(m)) = &p.mfa
        && let Some(Some(e)) = m.expiration_in_minutes
        && !(1..=1440).contains(&e)
    {
        c.0.push("mfa.expirationInMinutes: must be 1 to 1440".into());
    }
    c.len("employeeId", flat(&p.employee_id), 1, 64);
    if let Some(url) = flat(&p.avatar_url)
        && (url.len() > 2048 || !url.starts_with("https://"))
    {
        c.0.push("avatarUrl: is not an https URL".into());
    }
    if let Some(Some(attributes)) = &p.custom_attributes {
        if attributes.len() > 50 {
            c.0.push("customAttributes: must have at most 50 members".into());
        }
        for (key, value) in attributes {
            c.re(&format!("customAttributes.{key}"), Some(key), &KEY);
            if let Some(Scalar::Text(t)) = value {
                c.len(&format!("customAttributes.{key}"), Some(t), 0, 1024);
            }
        }
    }
    for (field, value) in [
        ("teams", &p.teams),
        ("addTeams", &p.add_teams),
        ("removeTeams", &p.remove_teams),
        ("tags", &p.tags),
        ("addTags", &p.add_tags),
        ("removeTags", &p.remove_tags),
        ("roles", &p.roles),
        ("addRoles", &p.add_roles),
        ("removeRoles", &p.remove_roles),
    ] {
        c.set(field, value.as_ref());
    }
    c.one_of(
        "status",
        p.status.as_deref(),
        &["active", "deactivated", "archived"],
    );
    if let Some(Some(m)) = &p.mfa {
        let _ = m.enabled;
    }
    let _ = (
        &p.date_of_birth,
        &p.owner_organization,
        &p.notifications,
        p.is_admin,
        p.api_access,
        p.must_reset_password,
    );
    c.0
}

fn problem(status: StatusCode, detail: String) -> Response {
    let body = serde_json::json!({ "type": "about:blank", "title": "Refused", "status": status.as_u16(), "code": "validation-failed", "detail": detail });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(TOKEN)
}

fn answer(user: &User) -> Response {
    let body = serde_json::to_vec(user).expect("a user serializes");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::ETAG, format!("\"{}\"", user.resource_version)),
        ],
        body,
    )
        .into_response()
}

const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// The request's id: the caller's `x-request-id` when it is 1 to 128
/// characters of `A-Za-z0-9-_.:`, else a version 4 UUID from the thread's
/// CSPRNG.
fn request_id(headers: &HeaderMap) -> http::HeaderValue {
    match headers.get(X_REQUEST_ID) {
        Some(value)
            if !value.is_empty()
                && value.len() <= 128
                && value
                    .as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b)) =>
        {
            value.clone()
        }
        _ => {
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
            id.hyphenated().encode_lower(&mut text);
            http::HeaderValue::from_bytes(&text).expect("a UUID is a header value")
        }
    }
}

async fn get_user(
    State(store): State<Shared>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
) -> Response {
    let request_id = request_id(&headers);
    let mut response = get_user_answer(&store, id, &headers);
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
}

fn get_user_answer(store: &Shared, id: uuid::Uuid, headers: &HeaderMap) -> Response {
    if !authorized(headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized".into());
    }
    let user = store.lock().unwrap();
    if user.id != id {
        return problem(StatusCode::NOT_FOUND, "not found".into());
    }
    answer(&user)
}

async fn update_user(
    State(store): State<Shared>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers);
    let mut response = update_user_answer(&store, id, &headers, &body);
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
}

fn update_user_answer(
    store: &Shared,
    id: uuid::Uuid,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !authorized(headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized".into());
    }
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/merge-patch+json")
    {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/merge-patch+json".into(),
        );
    }
    let patch: Patch = match serde_json::from_slice(body) {
        Ok(patch) => patch,
        Err(err) => return problem(StatusCode::BAD_REQUEST, err.to_string()),
    };
    let errors = check(&patch);
    if !errors.is_empty() {
        return problem(StatusCode::BAD_REQUEST, errors.join("; "));
    }
    let mut user = store.lock().unwrap();
    if user.id != id {
        return problem(StatusCode::NOT_FOUND, "not found".into());
    }
    if let Some(title) = patch.job_title {
        user.job_title = title;
    }
    if let Some(phone) = patch.phone {
        user.phone = phone;
    }
    if let Some(address) = patch.address {
        user.address = address.map(|a| users_api::types::Address {
            address1: a.address1.flatten(),
            address2: a.address2.flatten(),
            city: a.city.flatten(),
            state: a.state.flatten(),
            zip_code: a.zip_code.flatten(),
            country_code: a.country_code,
        });
    }
    if let Some(Some(attributes)) = patch.custom_attributes {
        let map = user.custom_attributes.get_or_insert_with(Default::default);
        for (key, value) in attributes {
            match value {
                Some(Scalar::Text(t)) => {
                    map.insert(key, users_api::types::CustomAttributeValue::String(t));
                }
                Some(Scalar::Number(n)) => {
                    map.insert(key, users_api::types::CustomAttributeValue::Number(n));
                }
                Some(Scalar::Flag(b)) => {
                    map.insert(key, users_api::types::CustomAttributeValue::Boolean(b));
                }
                None => {
                    map.remove(&key);
                }
            }
        }
    }
    user.resource_version += 1;
    answer(&user)
}

/// The baseline router. Like the generated one (and any service whose
/// problems carry a `requestId`), every answer carries an `x-request-id`:
/// the caller's when it is sane, else a new one, made in the handlers.
pub(crate) fn app() -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/users/{id}",
            axum::routing::get(get_user).patch(update_user),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(Arc::new(Mutex::new(seed_user())))
}
