//! Checks of what the profile image operations' descriptions promise:
//! the exact bytes back, in the type they are, as part of the user.

use futures::FutureExt;
use reqwest::Method;
use serde_json::json;
use users_api::operation_specs as ops;

use super::unique;
use crate::coverage::semantics as s;
use crate::{Answer, Check, Cover, Ctx, Role, ensure, id_of};

/// One 16×16 picture in each image type the upload takes
/// (`assets/README.md`).
pub(super) const PNG: &[u8] = include_bytes!("../../assets/avatar.png");
const JPEG: &[u8] = include_bytes!("../../assets/avatar.jpg");
const WEBP: &[u8] = include_bytes!("../../assets/avatar.webp");

/// The sample image of a media type.
pub(super) fn sample(media: &str) -> Option<&'static [u8]> {
    match media {
        "image/png" => Some(PNG),
        "image/jpeg" => Some(JPEG),
        "image/webp" => Some(WEBP),
        _ => None,
    }
}

/// The largest image the upload takes: 2 MiB.
const LIMIT: usize = 2 * 1024 * 1024;

pub(super) fn all() -> Vec<Check> {
    vec![
        check!(
            "avatars.round-trip",
            "profile images",
            "An uploaded PNG, JPEG or WebP image reads back byte for byte in its media type, with the user's new ETag; the user says hasAvatar and avatarUpdatedAt, one version on.",
            round_trip,
            [
                Cover::Status(&ops::SET_USER_AVATAR, 204),
                Cover::Status(&ops::GET_USER_AVATAR, 200),
                Cover::Semantic(&s::AVATAR_ROUND_TRIP),
                Cover::Semantic(&s::AVATAR_NEW_VERSION)
            ]
        ),
        check!(
            "avatars.none-is-404",
            "profile images",
            "A user without an uploaded image (one with only avatarUrl included) answers a read or a removal of it with a 404 problem, and is unchanged.",
            none_is_404,
            [
                Cover::Status(&ops::GET_USER_AVATAR, 404),
                Cover::Status(&ops::DELETE_USER_AVATAR, 404),
                Cover::Semantic(&s::AVATAR_NONE),
                Cover::Semantic(&s::AVATAR_DELETE_NONE)
            ]
        ),
        check!(
            "avatars.type-from-the-bytes",
            "profile images",
            "An image of another type than its Content-Type says, bytes that are no image, and a media type the upload does not take are 415 problems; the user and its image are unchanged.",
            type_from_the_bytes,
            [
                Cover::Status(&ops::SET_USER_AVATAR, 415),
                Cover::Semantic(&s::AVATAR_SNIFFED)
            ]
        ),
        check!(
            "avatars.two-mebibytes",
            "profile images",
            "An image of exactly 2 MiB is stored; one byte more is a 413 problem and changes nothing.",
            two_mebibytes,
            [
                Cover::Status(&ops::SET_USER_AVATAR, 413),
                Cover::Semantic(&s::AVATAR_SNIFFED)
            ]
        ),
        check!(
            "avatars.not-modified",
            "profile images",
            "A read of the image with the user's current ETag in If-None-Match is 304 with no body; once the user changes, the old one reads the image.",
            not_modified,
            [
                Cover::Status(&ops::GET_USER_AVATAR, 304),
                Cover::Parameter(&ops::GET_USER_AVATAR, "If-None-Match"),
                Cover::Semantic(&s::AVATAR_NOT_MODIFIED)
            ]
        ),
        check!(
            "avatars.removed",
            "profile images",
            "A removed image is no longer read; the user is one version on, without avatarUpdatedAt, and hasAvatar follows avatarUrl alone.",
            removed,
            [
                Cover::Status(&ops::DELETE_USER_AVATAR, 204),
                Cover::Semantic(&s::AVATAR_REMOVED)
            ]
        ),
        check!(
            "avatars.self-admin-or-creator",
            "profile images",
            "The user themself and its creator set and remove its image; another writer gets a 403 problem and changes nothing.",
            self_admin_or_creator,
            [Cover::Semantic(&s::AVATAR_WHO)]
        ),
    ]
}

fn avatar_path(user: &str) -> String {
    format!("/v1/users/{user}/avatar")
}

/// Uploads `image` as `media` for the user, as `role`.
pub(super) async fn upload(
    ctx: &Ctx,
    role: Role,
    user: &str,
    image: &[u8],
    media: &str,
) -> Result<Answer, String> {
    upload_as(ctx, ctx.raw_token(role), user, image, media, &[]).await
}

async fn upload_as(
    ctx: &Ctx,
    token: &str,
    user: &str,
    image: &[u8],
    media: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    Ok(ctx
        .exchange(
            Some(token),
            Method::PUT,
            &avatar_path(user),
            Some((media, image.to_vec())),
            headers,
        )
        .await?
        .0)
}

/// The user's image as read: its status, media type and bytes.
async fn download(
    ctx: &Ctx,
    user: &str,
    headers: &[(&str, &str)],
) -> Result<(Answer, String, bytes::Bytes), String> {
    let (answer, bytes) = ctx
        .exchange(
            Some(ctx.raw_token(Role::Reader)),
            Method::GET,
            &avatar_path(user),
            None,
            headers,
        )
        .await?;
    let media = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((answer, media, bytes))
}

/// What an upload may change: the user as read, with its ETag, and its
/// image (media type and bytes) if it has one.
type State = (serde_json::Value, String, Option<(String, bytes::Bytes)>);

async fn state(ctx: &Ctx, user: &str) -> Result<State, String> {
    let read = ctx
        .get(Role::Admin, user)
        .await?
        .expect(200, "reading the user")?;
    let (image, media, bytes) = download(ctx, user, &[]).await?;
    let image = match image.status {
        200 => Some((media, bytes)),
        _ => {
            image.problem(404, "reading the image of a user without one")?;
            None
        }
    };
    Ok((read.body.clone(), read.etag()?, image))
}

/// The `"n"` of a version.
fn tag(version: i64) -> String {
    format!("\"{version}\"")
}

async fn round_trip(ctx: Ctx) -> Result<(), String> {
    let id = id_of(&ctx.create(Role::Admin, json!({})).await?)?;
    for media in ["image/png", "image/jpeg", "image/webp"] {
        let image = sample(media).expect("a sample of each type");
        let before = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
        let version = before.body["resourceVersion"].as_i64().unwrap_or_default();
        let stored = upload_as(
            &ctx,
            ctx.raw_token(Role::Admin),
            &id,
            image,
            media,
            &[("if-match", &before.etag()?)],
        )
        .await?
        .expect(204, &format!("uploading a {media} image"))?;
        ensure(stored.etag()? == tag(version + 1), || {
            format!(
                "the upload answered ETag {}, not the user's next version {}",
                stored.etag().unwrap_or_default(),
                tag(version + 1)
            )
        })?;
        let user = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
        ensure(
            user.body["hasAvatar"] == true
                && user.body["resourceVersion"] == version + 1
                && user.body["avatarUpdatedAt"]
                    .as_str()
                    .is_some_and(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok()),
            || format!("after a {media} upload the user reads {}", user.body),
        )?;
        ensure(user.etag()? == stored.etag()?, || {
            "the user's ETag is not the upload's".to_owned()
        })?;
        let (read, answered, bytes) = download(&ctx, &id, &[]).await?;
        let read = read.expect(200, "reading the image")?;
        ensure(answered == media, || {
            format!("a {media} image reads back as {answered:?}")
        })?;
        ensure(bytes[..] == *image, || {
            format!(
                "a {media} image of {} bytes reads back as {} other bytes",
                image.len(),
                bytes.len()
            )
        })?;
        ensure(read.etag()? == stored.etag()?, || {
            "the image's ETag is not the user's".to_owned()
        })?;
    }
    Ok(())
}

async fn none_is_404(ctx: Ctx) -> Result<(), String> {
    let linked = ctx
        .create(
            Role::Admin,
            json!({ "avatarUrl": "https://cdn.example.com/elsewhere.png" }),
        )
        .await?;
    ensure(linked.body["hasAvatar"] == true, || {
        format!("a user with avatarUrl says {}", linked.body["hasAvatar"])
    })?;
    let id = id_of(&linked)?;
    let before = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    let (read, _, _) = download(&ctx, &id, &[]).await?;
    read.problem(404, "reading the image of a user with none uploaded")?;
    ctx.exchange(
        Some(ctx.raw_token(Role::Admin)),
        Method::DELETE,
        &avatar_path(&id),
        None,
        &[],
    )
    .await?
    .0
    .problem(404, "removing the image of a user with none uploaded")?;
    let after = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
    ensure(after.body == before.body, || {
        format!("a refused removal changed the user: {}", after.body)
    })
}

async fn type_from_the_bytes(ctx: Ctx) -> Result<(), String> {
    let id = id_of(&ctx.create(Role::Admin, json!({})).await?)?;
    upload(&ctx, Role::Admin, &id, PNG, "image/png")
        .await?
        .expect(204, "uploading a PNG image")?;
    let before = state(&ctx, &id).await?;
    for (image, media, what) in [
        (JPEG, "image/png", "a JPEG image sent as image/png"),
        (PNG, "image/webp", "a PNG image sent as image/webp"),
        (
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
            "image/png",
            "an SVG document sent as image/png",
        ),
        (
            &b"GIF89a\x01\x00\x01\x00"[..],
            "image/png",
            "a GIF image sent as image/png",
        ),
        (PNG, "image/gif", "a PNG image sent as image/gif"),
    ] {
        upload(&ctx, Role::Admin, &id, image, media)
            .await?
            .problem(415, what)?;
    }
    let after = state(&ctx, &id).await?;
    ensure(after == before, || {
        "refused uploads changed the user or its image".to_owned()
    })
}

async fn two_mebibytes(ctx: Ctx) -> Result<(), String> {
    let id = id_of(&ctx.create(Role::Admin, json!({})).await?)?;
    // A PNG's first bytes, then zeros up to the size.
    let mut image = PNG.to_vec();
    image.resize(LIMIT, 0);
    upload(&ctx, Role::Admin, &id, &image, "image/png")
        .await?
        .expect(204, "uploading an image of exactly 2 MiB")?;
    let before = state(&ctx, &id).await?;
    let held = before.2.as_ref().map_or(0, |(_, bytes)| bytes.len());
    ensure(held == LIMIT, || {
        format!("a 2 MiB image reads back as {held} bytes")
    })?;
    image.push(0);
    // A server may close the connection once it has refused the body.
    if let Ok(answer) = upload(&ctx, Role::Admin, &id, &image, "image/png").await {
        answer.problem(413, "uploading an image of 2 MiB and a byte")?;
    }
    let after = state(&ctx, &id).await?;
    ensure(after == before, || {
        "a refused upload changed the user or its image".to_owned()
    })
}

async fn not_modified(ctx: Ctx) -> Result<(), String> {
    let id = id_of(&ctx.create(Role::Admin, json!({})).await?)?;
    let stored = upload(&ctx, Role::Admin, &id, WEBP, "image/webp")
        .await?
        .expect(204, "uploading")?;
    let current = stored.etag()?;
    let (read, _, bytes) = download(&ctx, &id, &[("if-none-match", &current)]).await?;
    read.expect(304, "reading the image with its current ETag")?;
    ensure(bytes.is_empty(), || {
        format!("a 304 with a body of {} bytes", bytes.len())
    })?;
    ctx.patch(Role::Admin, &id, json!({ "jobTitle": "Changed" }), None)
        .await?
        .expect(200, "changing the user")?;
    let (read, _, bytes) = download(&ctx, &id, &[("if-none-match", &current)]).await?;
    let read = read.expect(200, "reading the image with the user's old ETag")?;
    ensure(bytes[..] == *WEBP && read.etag()? != current, || {
        "the image read with an old ETag is not the image at the user's new one".to_owned()
    })
}

async fn removed(ctx: Ctx) -> Result<(), String> {
    for linked in [false, true] {
        let extra = match linked {
            true => json!({ "avatarUrl": "https://cdn.example.com/linked.png" }),
            false => json!({}),
        };
        let id = id_of(&ctx.create(Role::Admin, extra).await?)?;
        let stored = upload(&ctx, Role::Admin, &id, JPEG, "image/jpeg")
            .await?
            .expect(204, "uploading")?;
        let version = ctx
            .get(Role::Admin, &id)
            .await?
            .expect(200, "reading")?
            .body["resourceVersion"]
            .as_i64()
            .unwrap_or_default();
        let gone = ctx
            .exchange(
                Some(ctx.raw_token(Role::Admin)),
                Method::DELETE,
                &avatar_path(&id),
                None,
                &[("if-match", &stored.etag()?)],
            )
            .await?
            .0
            .expect(204, "removing the image")?;
        ensure(gone.etag()? == tag(version + 1), || {
            format!("the removal answered ETag {:?}", gone.etag())
        })?;
        let (read, _, _) = download(&ctx, &id, &[]).await?;
        read.problem(404, "reading a removed image")?;
        let user = ctx.get(Role::Admin, &id).await?.expect(200, "reading")?;
        ensure(
            user.body["hasAvatar"] == linked
                && user.body.get("avatarUpdatedAt").is_none()
                && user.body["resourceVersion"] == version + 1,
            || format!("after the removal the user reads {}", user.body),
        )?;
    }
    Ok(())
}

async fn self_admin_or_creator(ctx: Ctx) -> Result<(), String> {
    let id = id_of(&ctx.create(Role::Writer, json!({})).await?)?;
    let stranger = ctx.token_for(&unique("stranger-"), "users:write")?;
    let own = ctx.token_for(&id, "users:write")?;
    let before = state(&ctx, &id).await?;
    upload_as(&ctx, &stranger, &id, PNG, "image/png", &[])
        .await?
        .problem(403, "another writer uploading a user's image")?;
    ensure(state(&ctx, &id).await? == before, || {
        "a refused upload changed the user or its image".to_owned()
    })?;
    for (who, token) in [
        ("its creator", ctx.raw_token(Role::Writer)),
        ("the user", own.as_str()),
        ("an admin", ctx.raw_token(Role::Admin)),
    ] {
        upload_as(&ctx, token, &id, PNG, "image/png", &[])
            .await?
            .expect(204, &format!("{who} uploading the user's image"))?;
        if who == "the user" {
            ctx.exchange(
                Some(&stranger),
                Method::DELETE,
                &avatar_path(&id),
                None,
                &[],
            )
            .await?
            .0
            .problem(403, "another writer removing a user's image")?;
        }
        ctx.exchange(Some(token), Method::DELETE, &avatar_path(&id), None, &[])
            .await?
            .0
            .expect(204, &format!("{who} removing the user's image"))?;
    }
    Ok(())
}
