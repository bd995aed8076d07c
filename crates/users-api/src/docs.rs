//! Swagger UI and the API documents (feature `swagger-ui`).
//!
//! - `/docs/`: Swagger UI, served from the vendored bundle (no network),
//!   showing the source spec;
//! - `/openapi.yaml`: the source spec, byte for byte (OpenAPI 3.0.3);
//! - `/openapi.json`: the document [`ApiDoc`] builds (OpenAPI 3.1), which a
//!   contract test holds equal to the spec.
//!
//! Swagger UI shows the source spec rather than [`ApiDoc`]: utoipa's
//! annotations carry no named request examples, no example per response
//! status, no `links` and no parameter `default`s, so a page built on them
//! pre-fills requests with generated filler and shows one error example for
//! every status. The page's top bar offers both documents.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi, Url};

use crate::{ApiDoc, SPEC_YAML};

/// Where Swagger UI is served.
pub const SWAGGER_UI_PATH: &str = "/docs";
/// Where the source spec is served.
pub const SPEC_YAML_PATH: &str = "/openapi.yaml";
/// Where the generated document is served.
pub const SPEC_JSON_PATH: &str = "/openapi.json";

/// Swagger UI's settings: the source spec first; no outside validator (by
/// default the page sends the spec to validator.swagger.io from any host but
/// a loopback one); the token kept across reloads; a filter box; links to
/// each operation; "Try it out" on; the schema list left out (every schema
/// is shown where an operation uses it, and the list would show the helper
/// schemas that exist for the generators); schemas shown one level deep, so
/// long enums stay folded until asked for.
pub fn swagger_ui_config() -> Config<'static> {
    Config::new([
        Url::with_primary("The source spec (OpenAPI 3.0.3)", SPEC_YAML_PATH, true),
        Url::new("The generated document (OpenAPI 3.1)", SPEC_JSON_PATH),
    ])
    .validator_url("none")
    .persist_authorization(true)
    .filter(true)
    .deep_linking(true)
    .try_it_out_enabled(true)
    .display_request_duration(true)
    .default_models_expand_depth(-1)
    .default_model_expand_depth(1)
}

/// The documentation routes, to merge with [`router`](crate::router).
pub fn docs_router() -> axum::Router {
    let title = ApiDoc::openapi().info.title;
    axum::Router::new()
        .merge(SwaggerUi::new(SWAGGER_UI_PATH).config(swagger_ui_config()))
        .layer(axum::middleware::map_response(move |response: Response| {
            titled(response, title.clone())
        }))
        .route(SPEC_YAML_PATH, axum::routing::get(source_spec))
        .route(SPEC_JSON_PATH, axum::routing::get(generated_document))
}

/// Swagger UI's page, titled with the API's title rather than "Swagger UI".
async fn titled(response: Response, title: String) -> Response {
    let is_html = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let page = String::from_utf8_lossy(&bytes).replace(
        "<title>Swagger UI</title>",
        &format!("<title>{}</title>", escape_html(&title)),
    );
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn source_spec() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/yaml")],
        SPEC_YAML,
    )
}

async fn generated_document() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
