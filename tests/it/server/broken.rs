//! The conformance kit must catch a broken promise. Each fault below wraps
//! the reference service and breaks exactly one promise; the kit, run
//! against it in process, must fail the check named for that promise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use users_api::runtime::Refused;
use users_api::*;
use users_conformance::TokenIssuer;
use users_server::auth::JwtVerifier;
use users_server::service::{Service, Settings};
use users_server::store::SqlStore;

use super::{AUDIENCE, ISSUER, SECRET};

/// One broken promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    IgnoresIfMatch,
    IgnoresIfNoneMatch,
    AnswersAStaleETag,
    TreatsNullAsAbsent,
    ClearsWhatThePatchLeftOut,
    LeaksAnotherAccountsUser,
    LetsAnyoneSetPrivilegedMembers,
    ReplaysAKeyWithAnotherBody,
    SkipsARowBetweenPages,
    IgnoresRemoveLists,
    IgnoresTheSwitchKey,
    AnswersAMissingUserAs403,
    RefusesAsTextPlain,
    LabelsEveryImageAsPng,
    TrustsTheContentType,
}

impl Fault {
    /// The check that must fail.
    fn check(self) -> &'static str {
        match self {
            Fault::IgnoresIfMatch => "conditional.stale-if-match-changes-nothing",
            Fault::IgnoresIfNoneMatch => "conditional.if-none-match-current-is-304",
            Fault::AnswersAStaleETag => "conditional.etag-on-reads-and-writes",
            Fault::TreatsNullAsAbsent => "merge-patch.null-clears",
            Fault::ClearsWhatThePatchLeftOut => "merge-patch.absent-members-are-kept",
            Fault::LeaksAnotherAccountsUser => "tenancy.other-accounts-are-invisible",
            Fault::LetsAnyoneSetPrivilegedMembers => "privileges.privileged-members-need-admin",
            Fault::ReplaysAKeyWithAnotherBody => "idempotency.key-reused-with-another-body",
            Fault::SkipsARowBetweenPages => "pagination.stable-under-inserts",
            Fault::IgnoresRemoveLists => "relations.add-and-remove-lists",
            Fault::IgnoresTheSwitchKey => "tenancy.switch-key-acts-on-the-named-account",
            Fault::AnswersAMissingUserAs403 => "problems.unknown-user",
            Fault::RefusesAsTextPlain => "problems.unknown-user",
            Fault::LabelsEveryImageAsPng => "avatars.round-trip",
            Fault::TrustsTheContentType => "avatars.type-from-the-bytes",
        }
    }
}

/// The reference service with one fault.
struct Faulty {
    inner: Service<SqlStore>,
    fault: Fault,
    /// The first answer to each idempotency key (for the replay fault).
    answered: Mutex<HashMap<String, CreateUserResponse>>,
}

/// `ctx` acting on `account` instead.
fn acting_on(ctx: &RequestContext, account: Option<String>) -> RequestContext {
    RequestContext::new(
        ctx.caller.clone(),
        account,
        HeaderValue::from_str(ctx.request_id()).unwrap(),
    )
}

impl Authenticator for Faulty {
    type Claims = Caller;

    async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        self.inner.authenticate(token).await
    }
}

impl UsersApi for Faulty {
    async fn list_groups(
        &self,
        ctx: RequestContext,
        req: ListGroupsRequest,
    ) -> Result<ListGroupsResponse, ListGroupsRefusal> {
        self.inner.list_groups(ctx, req).await
    }

    async fn list_user_groups(
        &self,
        ctx: RequestContext,
        req: ListUserGroupsRequest,
    ) -> Result<ListUserGroupsResponse, ListUserGroupsRefusal> {
        self.inner.list_user_groups(ctx, req).await
    }

    async fn create_group(
        &self,
        ctx: RequestContext,
        req: CreateGroupRequest,
    ) -> Result<CreateGroupResponse, CreateGroupRefusal> {
        self.inner.create_group(ctx, req).await
    }

    async fn get_group(
        &self,
        ctx: RequestContext,
        req: GetGroupRequest,
    ) -> Result<GetGroupResponse, GetGroupRefusal> {
        self.inner.get_group(ctx, req).await
    }

    async fn update_group(
        &self,
        ctx: RequestContext,
        req: UpdateGroupRequest,
    ) -> Result<UpdateGroupResponse, UpdateGroupRefusal> {
        self.inner.update_group(ctx, req).await
    }

    async fn delete_group(
        &self,
        ctx: RequestContext,
        req: DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, DeleteGroupRefusal> {
        self.inner.delete_group(ctx, req).await
    }

    async fn list_countries(
        &self,
        ctx: RequestContext,
        req: ListCountriesRequest,
    ) -> Result<ListCountriesResponse, ListCountriesRefusal> {
        self.inner.list_countries(ctx, req).await
    }

    async fn list_languages(
        &self,
        ctx: RequestContext,
        req: ListLanguagesRequest,
    ) -> Result<ListLanguagesResponse, ListLanguagesRefusal> {
        self.inner.list_languages(ctx, req).await
    }

    async fn list_locales(
        &self,
        ctx: RequestContext,
        req: ListLocalesRequest,
    ) -> Result<ListLocalesResponse, ListLocalesRefusal> {
        self.inner.list_locales(ctx, req).await
    }

    async fn list_time_zones(
        &self,
        ctx: RequestContext,
        req: ListTimeZonesRequest,
    ) -> Result<ListTimeZonesResponse, ListTimeZonesRefusal> {
        self.inner.list_time_zones(ctx, req).await
    }

    async fn list_users(
        &self,
        ctx: RequestContext,
        req: ListUsersRequest,
    ) -> Result<ListUsersResponse, ListUsersRefusal> {
        let later_page = req.query.cursor.is_some();
        let answer = self.inner.list_users(ctx, req).await?;
        match (self.fault, answer) {
            (Fault::SkipsARowBetweenPages, ListUsersResponse::Ok { body }) if later_page => {
                let mut page = (*body).clone();
                if !page.items.is_empty() {
                    page.items.remove(0);
                }
                Ok(ListUsersResponse::Ok { body: page.into() })
            }
            (_, answer) => Ok(answer),
        }
    }

    async fn create_user(
        &self,
        ctx: RequestContext,
        req: CreateUserRequest,
    ) -> Result<CreateUserResponse, CreateUserRefusal> {
        match self.fault {
            Fault::IgnoresTheSwitchKey => {
                let own = acting_on(&ctx, None);
                self.inner.create_user(own, req).await
            }
            Fault::ReplaysAKeyWithAnotherBody => {
                let key = req.header.idempotency_key.clone();
                if let Some(first) = key
                    .as_ref()
                    .and_then(|k| self.answered.lock().unwrap().get(k).cloned())
                {
                    return Ok(first);
                }
                let answer = self.inner.create_user(ctx, req).await?;
                if let Some(key) = key {
                    self.answered.lock().unwrap().insert(key, answer.clone());
                }
                Ok(answer)
            }
            _ => self.inner.create_user(ctx, req).await,
        }
    }

    async fn get_user(
        &self,
        ctx: RequestContext,
        mut req: GetUserRequest,
    ) -> Result<GetUserResponse, GetUserRefusal> {
        if self.fault == Fault::IgnoresIfNoneMatch {
            req.header.if_none_match = None;
        }
        let retry = (self.fault == Fault::LeaksAnotherAccountsUser).then(|| req.clone());
        let answer = match self.inner.get_user(copy(&ctx), req).await {
            Err(GetUserRefusal::NotFound(refused)) => match self.fault {
                Fault::AnswersAMissingUserAs403 => {
                    let problem = refused.rejection();
                    return Err(Refused::<403>::new(
                        problem.code,
                        problem.title,
                        problem.detail.clone(),
                    )
                    .into());
                }
                Fault::LeaksAnotherAccountsUser => {
                    let elsewhere = acting_on(&ctx, Some("conformance-b".into()));
                    return self.inner.get_user(elsewhere, retry.unwrap()).await;
                }
                _ => return Err(refused.into()),
            },
            other => other?,
        };
        match (self.fault, answer) {
            (Fault::AnswersAStaleETag, GetUserResponse::Ok { body, .. }) => {
                Ok(GetUserResponse::Ok {
                    body,
                    e_tag: "\"0\"".parse().unwrap(),
                })
            }
            (_, answer) => Ok(answer),
        }
    }

    async fn replace_user(
        &self,
        ctx: RequestContext,
        req: ReplaceUserRequest,
    ) -> Result<ReplaceUserResponse, ReplaceUserRefusal> {
        self.inner.replace_user(ctx, req).await
    }

    async fn update_user(
        &self,
        mut ctx: RequestContext,
        mut req: UpdateUserRequest,
    ) -> Result<UpdateUserResponse, UpdateUserRefusal> {
        let patch = &mut req.body;
        match self.fault {
            Fault::IgnoresIfMatch => req.header.if_match = None,
            Fault::TreatsNullAsAbsent => {
                if patch.phone == Some(None) {
                    patch.phone = None;
                }
                if patch.job_title == Some(None) {
                    patch.job_title = None;
                }
            }
            Fault::ClearsWhatThePatchLeftOut => {
                patch.phone.get_or_insert(None);
                patch.job_title.get_or_insert(None);
            }
            Fault::IgnoresRemoveLists => {
                patch.remove_teams = None;
                patch.remove_tags = None;
                patch.remove_roles = None;
            }
            Fault::LetsAnyoneSetPrivilegedMembers => {
                ctx.caller.scopes.insert("users:admin".into());
            }
            _ => {}
        }
        self.inner.update_user(ctx, req).await
    }

    async fn delete_user(
        &self,
        ctx: RequestContext,
        req: DeleteUserRequest,
    ) -> Result<DeleteUserResponse, DeleteUserRefusal> {
        self.inner.delete_user(ctx, req).await
    }

    async fn set_user_password(
        &self,
        ctx: RequestContext,
        req: SetUserPasswordRequest,
    ) -> Result<SetUserPasswordResponse, SetUserPasswordRefusal> {
        self.inner.set_user_password(ctx, req).await
    }

    async fn get_user_avatar(
        &self,
        ctx: RequestContext,
        req: GetUserAvatarRequest,
    ) -> Result<GetUserAvatarResponse, GetUserAvatarRefusal> {
        match self.inner.get_user_avatar(ctx, req).await {
            Ok(GetUserAvatarResponse::Ok { body, e_tag, .. })
                if self.fault == Fault::LabelsEveryImageAsPng =>
            {
                Ok(GetUserAvatarResponse::Ok {
                    body,
                    content_type: GetUserAvatarOkMedia::ImagePng,
                    e_tag,
                })
            }
            answer => answer,
        }
    }

    async fn set_user_avatar(
        &self,
        ctx: RequestContext,
        mut req: SetUserAvatarRequest,
    ) -> Result<SetUserAvatarResponse, SetUserAvatarRefusal> {
        if self.fault == Fault::TrustsTheContentType {
            // Whatever type the image is, it is taken: each label is tried
            // until one fits its bytes.
            for media in GetUserAvatarOkMedia::ALL {
                req.body.media_type = media.as_str().to_owned();
                let answer = self.inner.set_user_avatar(copy(&ctx), req.clone()).await;
                if !matches!(answer, Err(SetUserAvatarRefusal::UnsupportedMediaType(_))) {
                    return answer;
                }
            }
        }
        self.inner.set_user_avatar(ctx, req).await
    }

    async fn delete_user_avatar(
        &self,
        ctx: RequestContext,
        req: DeleteUserAvatarRequest,
    ) -> Result<DeleteUserAvatarResponse, DeleteUserAvatarRefusal> {
        self.inner.delete_user_avatar(ctx, req).await
    }
}

/// A copy of `ctx`, keeping the tenant switch the router applied.
fn copy(ctx: &RequestContext) -> RequestContext {
    let switched = (ctx.account() != ctx.caller.account).then(|| ctx.account().to_owned());
    acting_on(ctx, switched)
}

/// The reference service on a SQLite file of its own.
async fn service() -> (Service<SqlStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let service = Service::new(
        store,
        JwtVerifier::hs256(SECRET, ISSUER, AUDIENCE),
        Settings::default(),
    );
    (service, dir)
}

async fn router(fault: Fault) -> (axum::Router, tempfile::TempDir) {
    let (service, dir) = service().await;
    let faulty = Faulty {
        inner: service,
        fault,
        answered: Mutex::new(HashMap::new()),
    };
    let mut router = users_api::router(Arc::new(faulty));
    if fault == Fault::RefusesAsTextPlain {
        router = router.layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                if response.status().as_u16() >= 400 {
                    response.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain"),
                    );
                }
                response
            },
        ));
    }
    (router, dir)
}

fn tokens() -> TokenIssuer {
    TokenIssuer::Hs256 {
        secret: SECRET.to_vec(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_passes_the_reference_service_in_process() {
    let (service, _dir) = service().await;
    let report = users_conformance::run_router(users_api::router(Arc::new(service)), tokens(), "")
        .await
        .unwrap();
    assert!(report.passed(), "{}", report.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_implementation_fails_the_check_for_its_promise() {
    let faults = [
        Fault::IgnoresIfMatch,
        Fault::IgnoresIfNoneMatch,
        Fault::AnswersAStaleETag,
        Fault::TreatsNullAsAbsent,
        Fault::ClearsWhatThePatchLeftOut,
        Fault::LeaksAnotherAccountsUser,
        Fault::LetsAnyoneSetPrivilegedMembers,
        Fault::ReplaysAKeyWithAnotherBody,
        Fault::SkipsARowBetweenPages,
        Fault::IgnoresRemoveLists,
        Fault::IgnoresTheSwitchKey,
        Fault::AnswersAMissingUserAs403,
        Fault::RefusesAsTextPlain,
        Fault::LabelsEveryImageAsPng,
        Fault::TrustsTheContentType,
    ];
    assert!(faults.len() >= 12);
    let mut missed = Vec::new();
    for fault in faults {
        let (router, _dir) = router(fault).await;
        let report = users_conformance::run_router(router, tokens(), "")
            .await
            .unwrap();
        let failed: Vec<&str> = report.failures().map(|o| o.id.as_str()).collect();
        if !failed.contains(&fault.check()) {
            missed.push(format!(
                "{fault:?}: expected {} to fail, failed {failed:?}",
                fault.check()
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
