//! Swagger UI and the API documents (feature `swagger-ui`).
//!
//! - `/docs/`: Swagger UI, served from the vendored bundle (no network),
//!   showing the source spec;
//! - `/openapi.yaml`: the source spec, byte for byte (OpenAPI 3.0.3);
//! - `/openapi.json`: the document [`ApiDoc`] builds (OpenAPI 3.1), which a
//!   contract test holds equal to the spec;
//! - `/reference/`: a reference page (Redoc, vendored) of the spec with a
//!   code sample per operation in curl and in the Rust SDK
//!   (`/reference/openapi.json`: the spec and its samples, written by
//!   `cargo xtask codegen`, which writes the same Rust samples into the
//!   SDK as doctests).
//!
//! Swagger UI shows the source spec rather than [`ApiDoc`]: utoipa's
//! annotations carry no named request examples, no example per response
//! status, no `links` and no parameter `default`s, so a page built on them
//! pre-fills requests with generated filler and shows one error example for
//! every status. The page's top bar offers both documents.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
/// A document in Swagger UI's list, for [`docs_router_with`].
pub use utoipa_swagger_ui::Url;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{ApiDoc, SPEC_YAML};

/// Where Swagger UI is served.
pub const SWAGGER_UI_PATH: &str = "/docs";
/// Where the source spec is served.
pub const SPEC_YAML_PATH: &str = "/openapi.yaml";
/// Where the generated document is served.
pub const SPEC_JSON_PATH: &str = "/openapi.json";
/// Where the reference page is served.
pub const REFERENCE_PATH: &str = "/reference";

/// The reference page's document: the spec with a code sample per
/// operation, written by `cargo xtask codegen`.
pub const REFERENCE_JSON: &str = include_str!("generated_reference.json");

/// Redoc's standalone bundle, vendored (`assets/redoc/README.md`).
const REDOC_JS: &str = include_str!("../assets/redoc/redoc.standalone.js");

/// Starts Redoc on the reference document; a file of its own, since the
/// pages' content security policy allows no inline script.
const REFERENCE_JS: &str = "Redoc.init('/reference/openapi.json', {\n  \
    expandResponses: '200,201,204',\n  jsonSampleExpandLevel: 3,\n  hideHostname: true,\n  \
    pathInMiddlePanel: true,\n  requiredPropsFirst: true\n}, document.getElementById('redoc'));\n";

/// Whether `path` is one of the documentation pages' (Swagger UI's or the
/// reference page's files), which are the same for everyone.
pub fn is_page_path(path: &str) -> bool {
    path.starts_with(SWAGGER_UI_PATH) || path.starts_with(REFERENCE_PATH)
}

/// Swagger UI's settings: the source spec first; no outside validator (by
/// default the page sends the spec to validator.swagger.io from any host but
/// a loopback one); the token kept across reloads; a filter box; links to
/// each operation; "Try it out" on; the schema list left out (every schema
/// is shown where an operation uses it, and the list would show the helper
/// schemas that exist for the generators); schemas shown one level deep, so
/// long enums stay folded until asked for.
pub fn swagger_ui_config() -> Config<'static> {
    swagger_ui_config_with(Vec::new())
}

/// [`swagger_ui_config`], with more documents in the page's list (another
/// API the same server serves).
pub fn swagger_ui_config_with(more: Vec<Url<'static>>) -> Config<'static> {
    let mut urls = vec![
        Url::with_primary("The source spec (OpenAPI 3.0.3)", SPEC_YAML_PATH, true),
        Url::new("The generated document (OpenAPI 3.1)", SPEC_JSON_PATH),
    ];
    urls.extend(more);
    Config::new(urls)
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
    docs_router_with(Vec::new())
}

/// [`docs_router`], Swagger UI listing `more` documents too (served by the
/// caller's own routes).
pub fn docs_router_with(more: Vec<Url<'static>>) -> axum::Router {
    let title = ApiDoc::openapi().info.title;
    axum::Router::new()
        .merge(SwaggerUi::new(SWAGGER_UI_PATH).config(swagger_ui_config_with(more)))
        .layer(axum::middleware::map_response(move |response: Response| {
            titled(response, title.clone())
        }))
        .route(SPEC_YAML_PATH, axum::routing::get(source_spec))
        .route(SPEC_JSON_PATH, axum::routing::get(generated_document))
        .route("/reference", axum::routing::get(reference_page))
        .route("/reference/", axum::routing::get(reference_page))
        .route(
            "/reference/openapi.json",
            axum::routing::get(|| async {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    REFERENCE_JSON,
                )
            }),
        )
        .route(
            "/reference/redoc.standalone.js",
            axum::routing::get(|| async {
                ([(http::header::CONTENT_TYPE, "text/javascript")], REDOC_JS)
            }),
        )
        .route(
            "/reference/reference.js",
            axum::routing::get(|| async {
                (
                    [(http::header::CONTENT_TYPE, "text/javascript")],
                    REFERENCE_JS,
                )
            }),
        )
}

/// The reference page: Redoc over the reference document.
async fn reference_page() -> axum::response::Html<String> {
    let title = escape_html(&ApiDoc::openapi().info.title);
    axum::response::Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}: reference</title>\n</head>\n<body>\n<div id=\"redoc\"></div>\n\
         <script src=\"/reference/redoc.standalone.js\"></script>\n\
         <script src=\"/reference/reference.js\"></script>\n</body>\n</html>\n"
    ))
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
