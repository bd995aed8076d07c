//! The profile image operations of [`Service`]: a user's uploaded image,
//! stored beside the user and part of it (one version, one `ETag`).

use serde_json::json;
use users_api::names::user;
use users_api::runtime::{RawBody, Refused};
use users_api::*;

use super::{Service, etag, internal, now};
use crate::store::{Avatar, AvatarChange, Store};

/// The image types the API stores, as read from an image's first bytes.
const IMAGE_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

fn no_avatar(id: &uuid::Uuid) -> Refused<404> {
    Refused::new(
        "avatar-not-found",
        "No profile image",
        format!("user {id} has no uploaded image"),
    )
}

/// The image in `body`, its media type read from its bytes: a `415` when
/// they are no PNG, JPEG or WebP image, or another of them than the
/// `Content-Type` says.
fn sniffed(body: RawBody) -> Result<Avatar, Refused<415>> {
    let declared = body
        .media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let found = infer::get(&body.bytes)
        .map(|kind| kind.mime_type())
        .filter(|found| IMAGE_TYPES.contains(found));
    match found {
        Some(found) if found == declared => Ok(Avatar {
            media_type: found.to_owned(),
            image: body.bytes,
        }),
        Some(found) => Err(Refused::new(
            "unsupported-media-type",
            "The image is not what its Content-Type says",
            format!("the body is an {found} image, not {declared}"),
        )),
        None => Err(Refused::new(
            "unsupported-media-type",
            "The body is not an image the API stores",
            format!("the body is not a PNG, JPEG or WebP image (sent as {declared})"),
        )),
    }
}

impl<S: Store> Service<S> {
    pub(super) async fn get_avatar(
        &self,
        ctx: RequestContext,
        req: GetUserAvatarRequest,
    ) -> Result<GetUserAvatarResponse, GetUserAvatarRefusal> {
        let id = req.path.user_id;
        let found = self
            .store
            .avatar(ctx.account(), &id.to_string())
            .await
            .map_err(internal)?;
        let Some((version, avatar)) = found else {
            // The user without an image, or no user at all.
            self.load::<GetUserAvatarRefusal>(&ctx, &id).await?;
            return Err(no_avatar(&id).into());
        };
        let tag = etag(version);
        // If-None-Match compares weakly: it fails when a tag matches.
        if let Some(if_none_match) = &req.header.if_none_match
            && !if_none_match.precondition_passes(&tag)
        {
            return Ok(GetUserAvatarResponse::NotModified { e_tag: tag });
        }
        let content_type = GetUserAvatarOkMedia::from_essence(&avatar.media_type)
            .ok_or_else(|| internal(format!("a stored image of type {}", avatar.media_type)))?;
        Ok(GetUserAvatarResponse::Ok {
            body: avatar.image,
            content_type,
            e_tag: tag,
        })
    }

    pub(super) async fn set_avatar(
        &self,
        ctx: RequestContext,
        req: SetUserAvatarRequest,
    ) -> Result<SetUserAvatarResponse, SetUserAvatarRefusal> {
        let avatar = sniffed(req.body)?;
        let stored = self
            .modify::<SetUserAvatarRefusal>(
                &ctx,
                &req.path.user_id,
                req.header.if_match.as_ref(),
                None,
                AvatarChange::Set(avatar),
                |current| {
                    self.may_change(&ctx, &current.doc)?;
                    let mut doc = current.doc.clone();
                    doc[user::AVATAR_UPDATED_AT] = json!(now());
                    Ok(doc)
                },
            )
            .await?;
        Ok(SetUserAvatarResponse::NoContent {
            e_tag: etag(stored.resource_version),
        })
    }

    pub(super) async fn delete_avatar(
        &self,
        ctx: RequestContext,
        req: DeleteUserAvatarRequest,
    ) -> Result<DeleteUserAvatarResponse, DeleteUserAvatarRefusal> {
        let id = req.path.user_id;
        let stored = self
            .modify::<DeleteUserAvatarRefusal>(
                &ctx,
                &id,
                req.header.if_match.as_ref(),
                None,
                AvatarChange::Remove,
                |current| {
                    self.may_change(&ctx, &current.doc)?;
                    let mut doc = current.doc.clone();
                    let removed = doc
                        .as_object_mut()
                        .and_then(|doc| doc.remove(user::AVATAR_UPDATED_AT));
                    if removed.is_none() {
                        return Err(no_avatar(&id).into());
                    }
                    Ok(doc)
                },
            )
            .await?;
        Ok(DeleteUserAvatarResponse::NoContent {
            e_tag: etag(stored.resource_version),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(media_type: &str, bytes: &'static [u8]) -> RawBody {
        RawBody {
            media_type: media_type.into(),
            bytes: bytes::Bytes::from_static(bytes),
        }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

    #[test]
    fn an_image_is_taken_as_its_bytes_say() {
        let avatar = sniffed(body("image/PNG; charset=x", PNG)).unwrap();
        assert_eq!(avatar.media_type, "image/png");
        assert_eq!(&avatar.image[..], PNG);
    }

    #[test]
    fn an_image_of_another_type_than_declared_is_refused() {
        let refused = sniffed(body("image/png", JPEG)).unwrap_err();
        let text = format!("{refused:?}");
        assert!(text.contains("image/jpeg image, not image/png"), "{text}");
    }

    #[test]
    fn bytes_that_are_no_image_are_refused() {
        for bytes in [&b""[..], b"GIF89a\x01\0\x01\0", b"<svg/>"] {
            let refused = sniffed(RawBody {
                media_type: "image/png".into(),
                bytes: bytes::Bytes::copy_from_slice(bytes),
            })
            .unwrap_err();
            assert!(format!("{refused:?}").contains("not a PNG, JPEG or WebP"));
        }
    }
}
