//! The generated stack: `users_api::router` over a trivial in-memory store.

use std::sync::{Arc, Mutex};

use users_api::runtime::Refused;
use users_api::types::{CustomAttributeValue, User, UserPatchCustomAttributesValue};
use users_api::*;

use crate::{TOKEN, seed_user};

/// The stored user, lent to responses (`Arc`), as a cache would.
struct InMemory {
    user: Mutex<Arc<User>>,
}

fn unimplemented_problem() -> Refused<500> {
    Refused::new(
        "internal",
        "Not part of the benchmark",
        "the benchmark serves getUser and updateUser only",
    )
}

/// What the bench token proves: everything, like the baseline's check. The
/// claims type is the implementation's own; this one allocates nothing.
#[derive(Debug, Clone, Copy)]
struct BenchClaims;

impl Claims for BenchClaims {
    fn has_scope(&self, _: &str) -> bool {
        true
    }
    fn account(&self) -> &str {
        "bench"
    }
    fn may_switch_to(&self, _: &str) -> bool {
        false
    }
}

impl Authenticator for InMemory {
    type Claims = BenchClaims;

    async fn authenticate(&self, token: &str) -> Result<BenchClaims, AuthError> {
        if token != TOKEN {
            return Err(AuthError("unknown token".into()));
        }
        Ok(BenchClaims)
    }
}

impl UsersApi for InMemory {
    async fn get_user(
        &self,
        _: RequestContext<BenchClaims>,
        _: GetUserRequest,
    ) -> Result<GetUserResponse, GetUserRefusal> {
        let user = Arc::clone(&self.user.lock().unwrap());
        Ok(GetUserResponse::Ok {
            e_tag: format!("\"{}\"", user.resource_version)
                .parse()
                .expect("an entity tag"),
            body: user.into(),
        })
    }

    async fn update_user(
        &self,
        _: RequestContext<BenchClaims>,
        req: UpdateUserRequest,
    ) -> Result<UpdateUserResponse, UpdateUserRefusal> {
        let mut stored = self.user.lock().unwrap();
        // Copies only while a response still holds the previous version.
        let user = Arc::make_mut(&mut stored);
        let patch = req.body;
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
                country_code: a
                    .country_code
                    .map(|c| runtime::decode::FromText::as_text(&c).to_owned())
                    .unwrap_or_default(),
            });
        }
        if let Some(Some(attributes)) = patch.custom_attributes {
            for (key, value) in attributes {
                match value {
                    Some(value) => {
                        user.custom_attributes
                            .get_or_insert_with(Default::default)
                            .insert(
                                key,
                                match value {
                                    UserPatchCustomAttributesValue::String(s) => {
                                        CustomAttributeValue::String(s)
                                    }
                                    UserPatchCustomAttributesValue::Number(n) => {
                                        CustomAttributeValue::Number(n)
                                    }
                                    UserPatchCustomAttributesValue::Boolean(b) => {
                                        CustomAttributeValue::Boolean(b)
                                    }
                                },
                            );
                    }
                    None => {
                        if let Some(map) = user.custom_attributes.as_mut() {
                            map.remove(&key);
                        }
                    }
                }
            }
        }
        user.resource_version += 1;
        Ok(UpdateUserResponse::Ok {
            e_tag: format!("\"{}\"", user.resource_version)
                .parse()
                .expect("an entity tag"),
            body: Arc::clone(&stored).into(),
        })
    }

    async fn list_countries(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListCountriesRequest,
    ) -> Result<ListCountriesResponse, ListCountriesRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_languages(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListLanguagesRequest,
    ) -> Result<ListLanguagesResponse, ListLanguagesRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_locales(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListLocalesRequest,
    ) -> Result<ListLocalesResponse, ListLocalesRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_time_zones(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListTimeZonesRequest,
    ) -> Result<ListTimeZonesResponse, ListTimeZonesRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn create_user(
        &self,
        _: RequestContext<BenchClaims>,
        _: CreateUserRequest,
    ) -> Result<CreateUserResponse, CreateUserRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_users(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListUsersRequest,
    ) -> Result<ListUsersResponse, ListUsersRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn replace_user(
        &self,
        _: RequestContext<BenchClaims>,
        _: ReplaceUserRequest,
    ) -> Result<ReplaceUserResponse, ReplaceUserRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn delete_user(
        &self,
        _: RequestContext<BenchClaims>,
        _: DeleteUserRequest,
    ) -> Result<DeleteUserResponse, DeleteUserRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_groups(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListGroupsRequest,
    ) -> Result<ListGroupsResponse, ListGroupsRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn list_user_groups(
        &self,
        _: RequestContext<BenchClaims>,
        _: ListUserGroupsRequest,
    ) -> Result<ListUserGroupsResponse, ListUserGroupsRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn create_group(
        &self,
        _: RequestContext<BenchClaims>,
        _: CreateGroupRequest,
    ) -> Result<CreateGroupResponse, CreateGroupRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn get_group(
        &self,
        _: RequestContext<BenchClaims>,
        _: GetGroupRequest,
    ) -> Result<GetGroupResponse, GetGroupRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn update_group(
        &self,
        _: RequestContext<BenchClaims>,
        _: UpdateGroupRequest,
    ) -> Result<UpdateGroupResponse, UpdateGroupRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn delete_group(
        &self,
        _: RequestContext<BenchClaims>,
        _: DeleteGroupRequest,
    ) -> Result<DeleteGroupResponse, DeleteGroupRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn set_user_password(
        &self,
        _: RequestContext<BenchClaims>,
        _: SetUserPasswordRequest,
    ) -> Result<SetUserPasswordResponse, SetUserPasswordRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn get_user_avatar(
        &self,
        _: RequestContext<BenchClaims>,
        _: GetUserAvatarRequest,
    ) -> Result<GetUserAvatarResponse, GetUserAvatarRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn set_user_avatar(
        &self,
        _: RequestContext<BenchClaims>,
        _: SetUserAvatarRequest,
    ) -> Result<SetUserAvatarResponse, SetUserAvatarRefusal> {
        Err(unimplemented_problem().into())
    }
    async fn delete_user_avatar(
        &self,
        _: RequestContext<BenchClaims>,
        _: DeleteUserAvatarRequest,
    ) -> Result<DeleteUserAvatarResponse, DeleteUserAvatarRefusal> {
        Err(unimplemented_problem().into())
    }
}

/// The generated router over the store.
pub(crate) fn app() -> axum::Router {
    router(Arc::new(InMemory {
        user: Mutex::new(Arc::new(seed_user())),
    }))
}
