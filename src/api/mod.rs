//! The REST API (`/api/v1`), its OpenAPI document, and the health endpoints.

pub mod attachments;
pub mod auth;
pub mod body;
pub mod contract;
pub mod follow_up;
pub mod health;
pub mod idempotency;
pub mod legal_holds;
pub mod messages;
pub mod openapi;
pub mod problem;
pub mod queue;
pub mod records_requests;
pub mod records_schemas;
pub mod stats;
pub mod taxonomy;
pub mod tips;

use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::SwaggerUi;

use problem::ApiError;

/// Registers every API route. Unknown `/api` paths and wrong methods answer problem+json.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(web::redirect("/api/docs", "/api/docs/"))
        // The document is built per request with the live code lists (`contract`); the docs
        // page only points at it.
        .service(resource("/api/openapi.json", "GET").route(web::get().to(contract::openapi_json)))
        .service(
            SwaggerUi::new("/api/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/api/openapi.json")),
        )
        .service(
            web::scope("/api/v1")
                .service(resource("/taxonomy", "GET").route(web::get().to(taxonomy::get_taxonomy)))
                .service(
                    resource("/tips", "GET, POST")
                        .route(web::get().to(queue::list_tips))
                        .route(web::post().to(tips::submit_tip)),
                )
                .service(
                    resource("/tips/{id}", "GET, PATCH")
                        .route(web::get().to(tips::get_tip))
                        .route(web::patch().to(tips::patch_tip)),
                )
                .service(
                    resource("/tips/{id}/events", "GET").route(web::get().to(tips::list_events)),
                )
                .service(
                    resource("/attachments", "POST").route(web::post().to(attachments::upload)),
                )
                .service(
                    resource("/tips/{id}/attachments", "GET")
                        .route(web::get().to(attachments::list)),
                )
                .service(
                    resource("/tips/{id}/attachments/{attachment_id}", "GET")
                        .route(web::get().to(attachments::download)),
                )
                .service(
                    resource("/tips/{id}/retriage", "POST")
                        .route(web::post().to(tips::retriage_tip)),
                )
                .service(
                    resource("/tips/{id}/messages", "GET, POST")
                        .route(web::get().to(messages::list_messages))
                        .route(web::post().to(messages::post_message)),
                )
                .service(
                    resource("/tips/{id}/legal-holds", "GET, POST")
                        .route(web::get().to(legal_holds::list_for_tip))
                        .route(web::post().to(legal_holds::place)),
                )
                .service(
                    resource("/legal-holds/{hold_id}", "GET")
                        .route(web::get().to(legal_holds::get_hold)),
                )
                .service(
                    resource("/legal-holds/{hold_id}/lift", "POST")
                        .route(web::post().to(legal_holds::lift)),
                )
                .service(resource("/stats", "GET").route(web::get().to(stats::get_stats)))
                .service(resource("/stats/export", "GET").route(web::get().to(stats::export_stats)))
                .service(
                    resource("/stats/facilities", "GET")
                        .route(web::get().to(stats::get_facilities)),
                )
                .service(
                    resource("/stats/deadlines", "GET").route(web::get().to(stats::get_deadlines)),
                )
                .service(
                    resource("/records-requests", "GET, POST")
                        .route(web::get().to(records_requests::list))
                        .route(web::post().to(records_requests::register)),
                )
                .service(
                    resource("/records-requests/{id}", "GET")
                        .route(web::get().to(records_requests::get)),
                )
                .service(
                    resource("/records-requests/{id}/tips/{tip_id}/redactions", "PUT")
                        .route(web::put().to(records_requests::put_redactions)),
                )
                .service(
                    resource("/records-requests/{id}/decision", "POST")
                        .route(web::post().to(records_requests::decide)),
                )
                .service(
                    resource("/records-requests/{id}/approval", "POST")
                        .route(web::post().to(records_requests::approve)),
                )
                .service(
                    resource("/records-requests/{id}/copy", "GET")
                        .route(web::get().to(records_requests::copy)),
                )
                .service(resource("/follow-up", "POST").route(web::post().to(follow_up::follow_up)))
                .service(
                    resource("/follow-up/messages", "POST").route(web::post().to(follow_up::reply)),
                )
                .default_service(web::to(not_found)),
        )
        .service(web::scope("/api").default_service(web::to(not_found)));
}

/// A resource whose other methods get 405 with an `Allow` header.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
