//! Swagger UI and the API documents (feature `swagger-ui`).
//!
//! - `/docs/`: Swagger UI, served from the vendored bundle (no network);
//! - `/openapi.json`: the document [`ApiDoc`] builds (OpenAPI 3.1);
//! - `/openapi.yaml`: the source spec, byte for byte (OpenAPI 3.0.3), for
//!   generators that read 3.0 only.

use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::{ApiDoc, SPEC_YAML};

/// Where Swagger UI is served.
pub const SWAGGER_UI_PATH: &str = "/docs";

/// The documentation routes, to merge with [`router`](crate::router).
pub fn docs_router() -> axum::Router {
    axum::Router::new()
        .merge(SwaggerUi::new(SWAGGER_UI_PATH).url("/openapi.json", ApiDoc::openapi()))
        .route("/openapi.yaml", axum::routing::get(source_spec))
}

async fn source_spec() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/yaml")],
        SPEC_YAML,
    )
}
