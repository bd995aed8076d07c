//! A user-sync program, as an integrator writes one: create a user with a
//! full profile, meet a duplicate, stream and filter, merge-patch under
//! `If-Match`, lose a race (`412`), let the read-modify-write helper win it,
//! read conditionally (`304`), and read the field errors of a `400`.
//!
//! ```sh
//! USERS_URL=http://127.0.0.1:8080 USERS_TOKEN=... cargo run -p users-client --example user_sync
//! ```
//! (`cargo run -p users-server -- --dev` prints a token with the scopes needed.)

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use users_client::errors;
use users_client::patch::UserPatch;
use users_client::types::{self, CustomAttributeValue, ProblemCode, UserStatus};
use users_client::{Client, Conditional, Error, RetryPolicy};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What one run did, a line a step.
pub async fn sync(client: &Client, email: &str) -> Result<Vec<String>, Failure> {
    let mut log = Vec::new();
    let attributes = HashMap::from([
        (
            "costCenter".to_owned(),
            CustomAttributeValue::try_from("CC-12")?,
        ),
        ("hours".to_owned(), CustomAttributeValue::from(37.5)),
    ]);
    let profile = || {
        types::UserCreate::new(types::NameInput::new("Ada", "Lovelace"), email)
            .job_title("Engineer")
            .phone("+12345678901")
            .gender(types::Gender::Female)
            .address(
                types::AddressInput::new("US")
                    .address1("1 Main St.")
                    .city("Boston")
                    .state("MA")
                    .zip_code("02101"),
            )
            .custom_attributes(attributes.clone())
    };
    // Create; the SDK sends an Idempotency-Key and retries safely.
    let user = client.create_user(profile()).await?;
    log.push(format!(
        "created {} at {}",
        user.id,
        user.headers().location
    ));

    // The same email again: a 409 with a typed code and the field named.
    match client.create_user(profile()).await {
        Err(err) if err.code() == Some(ProblemCode::DuplicationViolation) => {
            let fields: Vec<String> = err.field_errors().into_iter().map(|e| e.field).collect();
            log.push(format!("duplicate refused on {}", fields.join(", ")));
        }
        other => return Err(format!("a duplicate was not refused: {other:?}").into()),
    }

    // Stream every active user, page after page, filtered by the server.
    let mut active = client
        .list_users()
        .status(UserStatus::Active)
        .limit(50)
        .stream();
    let mut found = false;
    while let Some(each) = active.try_next().await? {
        found |= each.id == user.id;
    }
    log.push(format!("listed among the active users: {found}"));

    // A merge patch under If-Match; the tag can be saved between runs.
    let saved = serde_json::to_string(user.etag())?;
    let tag: users_client::ETag = serde_json::from_str(&saved)?;
    let patch = UserPatch::builder()
        .job_title("Head of Operations")
        .clear_phone();
    let updated = client.update_user(user.id, patch).if_match(&tag).await?;
    log.push(format!(
        "patched to version {}",
        updated.resource_version.get()
    ));

    // The old tag is stale now: 412, nothing changed.
    let stale = client
        .update_user(user.id, UserPatch::builder().job_title("CTO"))
        .if_match(&tag)
        .await;
    match stale.map_err(errors::UpdateUser::from) {
        Err(errors::UpdateUser::PreconditionFailed(problem)) => {
            log.push(format!("stale tag refused: {}", problem.code));
        }
        other => return Err(format!("a stale tag was not refused: {other:?}").into()),
    }

    // Read-modify-write: re-reads and retries on 412 by itself.
    let merged = client
        .update_user_with(user.id, 3, |current| {
            let title = current.job_title.as_deref().unwrap_or_default();
            UserPatch::builder().job_title(format!("{title} (Boston)"))
        })
        .await?;
    log.push(format!("job title now {:?}", merged.job_title.as_deref()));

    // A conditional read: 304 is an answer, not an error.
    match client
        .get_user(user.id)
        .if_none_match(merged.etag())
        .await?
    {
        Conditional::NotModified => log.push("unchanged since the last write".to_owned()),
        Conditional::Modified(fresh) => {
            log.push(format!("changed: v{}", fresh.resource_version.get()))
        }
    }
    // Read custom attributes back as the type they were written as.
    if let Some(CustomAttributeValue::Number(hours)) = merged.custom_attributes.get("hours") {
        log.push(format!("works {hours} hours"));
    }

    // A bad value: 400, each field named, typed.
    let bad = UserPatch::builder().custom_attributes(HashMap::from([(
        "1st".to_owned(),
        Some(CustomAttributeValue::from(true)),
    )]));
    match client
        .update_user(user.id, bad)
        .if_match(merged.etag())
        .await
    {
        Err(err) if err.is_bad_request() => {
            for field in err.field_errors() {
                log.push(format!(
                    "refused {}: {} ({})",
                    field.field, field.message, field.code
                ));
            }
        }
        other => return Err(format!("a bad attribute name was not refused: {other:?}").into()),
    }
    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let url = std::env::var("USERS_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("USERS_TOKEN")
        .map_err(|_| Error::InvalidRequest("set USERS_TOKEN".into()))?;
    // Production retries: five attempts within 30 s, honouring Retry-After.
    let retries = RetryPolicy {
        max_attempts: 5,
        max_elapsed: Duration::from_secs(30),
        ..RetryPolicy::default()
    };
    let client = Client::builder(url)
        .bearer_token(token)
        .retry_policy(retries)
        .build()?;
    let email = format!(
        "ada.{}@example.com",
        users_client::uuid::Uuid::new_v4().simple()
    );
    for line in sync(&client, &email).await? {
        println!("{line}");
    }
    Ok(())
}
