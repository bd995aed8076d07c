//! The second spec's contract: the document `scim_api::ApiDoc` builds from
//! its annotations says exactly what `openapi/scim.yaml` says (normalized as
//! the Users API's is), and its router answers every problem the runtime
//! writes as a SCIM error document.

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use users_tests::{normalize_document, project_root, schema_differences};
use utoipa::OpenApi;

fn scim_spec() -> Value {
    yaml_serde::from_str(
        &std::fs::read_to_string(project_root().join("openapi/scim.yaml")).unwrap(),
    )
    .unwrap()
}

#[test]
fn the_served_scim_document_says_what_the_spec_says() {
    let doc = serde_json::to_value(scim_api::ApiDoc::openapi()).unwrap();
    let mut diff = Vec::new();
    schema_differences(
        "",
        &normalize_document(&scim_spec()),
        &normalize_document(&doc),
        &mut diff,
    );
    assert!(diff.is_empty(), "scim.yaml | ApiDoc:\n{diff:#?}");
    assert_eq!(
        scim_api::SPEC_YAML,
        std::fs::read_to_string(project_root().join("openapi/scim.yaml")).unwrap()
    );
}

/// An implementation that is never reached: every request below is refused
/// by the router before a method is called.
struct Unreached;

impl scim_api::Authenticator for Unreached {
    type Claims = scim_api::Caller;
    async fn authenticate(&self, _token: &str) -> Result<scim_api::Caller, scim_api::AuthError> {
        Err(scim_api::AuthError("no token is valid here".into()))
    }
}

macro_rules! unreached {
    ($($name:ident($req:ident) -> $resp:ident, $refusal:ident;)*) => {
        impl scim_api::ScimApi for Unreached {
            $(async fn $name(
                &self,
                _ctx: scim_api::RequestContext,
                _req: scim_api::$req,
            ) -> Result<scim_api::$resp, scim_api::$refusal> {
                unreachable!("the router refuses first")
            })*
        }
    };
}

unreached! {
    list_scim_groups(ListScimGroupsRequest) -> ListScimGroupsResponse, ListScimGroupsRefusal;
    create_scim_group(CreateScimGroupRequest) -> CreateScimGroupResponse, CreateScimGroupRefusal;
    get_scim_group(GetScimGroupRequest) -> GetScimGroupResponse, GetScimGroupRefusal;
    replace_scim_group(ReplaceScimGroupRequest) -> ReplaceScimGroupResponse, ReplaceScimGroupRefusal;
    patch_scim_group(PatchScimGroupRequest) -> PatchScimGroupResponse, PatchScimGroupRefusal;
    delete_scim_group(DeleteScimGroupRequest) -> DeleteScimGroupResponse, DeleteScimGroupRefusal;
    list_resource_types(ListResourceTypesRequest) -> ListResourceTypesResponse, ListResourceTypesRefusal;
    get_resource_type(GetResourceTypeRequest) -> GetResourceTypeResponse, GetResourceTypeRefusal;
    list_schemas(ListSchemasRequest) -> ListSchemasResponse, ListSchemasRefusal;
    get_schema(GetSchemaRequest) -> GetSchemaResponse, GetSchemaRefusal;
    get_service_provider_config(GetServiceProviderConfigRequest) -> GetServiceProviderConfigResponse, GetServiceProviderConfigRefusal;
    list_scim_users(ListScimUsersRequest) -> ListScimUsersResponse, ListScimUsersRefusal;
    create_scim_user(CreateScimUserRequest) -> CreateScimUserResponse, CreateScimUserRefusal;
    get_scim_user(GetScimUserRequest) -> GetScimUserResponse, GetScimUserRefusal;
    replace_scim_user(ReplaceScimUserRequest) -> ReplaceScimUserResponse, ReplaceScimUserRefusal;
    patch_scim_user(PatchScimUserRequest) -> PatchScimUserResponse, PatchScimUserRefusal;
    delete_scim_user(DeleteScimUserRequest) -> DeleteScimUserResponse, DeleteScimUserRefusal;
    search_all(SearchAllRequest) -> SearchAllResponse, SearchAllRefusal;
}

async fn send(request: Request<Body>) -> (StatusCode, String, Value) {
    let response = scim_api::router(std::sync::Arc::new(Unreached))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let media = response.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, media, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_runtimes_problems_are_scim_errors() {
    // No token: 401.
    let (status, media, body) =
        send(Request::get("/scim/v2/Users").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(media, "application/scim+json");
    assert_eq!(body["schemas"][0], scim_api::ERROR_SCHEMA);
    assert_eq!(body["status"], "401");
    assert!(
        body.get("code").is_none(),
        "no problem member is left: {body}"
    );

    // An unknown route: 404, no scimType.
    let (status, media, body) =
        send(Request::get("/scim/v2/Nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(media, "application/scim+json");
    assert_eq!(body["status"], "404");
    assert!(
        body["detail"].as_str().unwrap().contains("/scim/v2/Nope"),
        "{body}"
    );
}
