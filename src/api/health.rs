//! `GET /healthz` (the process answers) and `GET /readyz` (database reachable and migrated).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{ApiError, Problem};
use crate::db::migrate;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthResponse {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = HealthResponse)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse { status: "ok" })
}

/// Readiness: the database answers and every migration of this build has been applied.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = HealthResponse),
        (status = 503, description = "Database unreachable or not migrated", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.connection().await?;
    // Any failure here (even a missing migrations table) means "not ready", never a 500.
    let up_to_date = migrate::is_up_to_date(&mut conn, &state.expected_migrations)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    if up_to_date {
        Ok(HttpResponse::Ok().json(HealthResponse { status: "ok" }))
    } else {
        Err(ApiError::Unavailable(
            "database migrations are pending".to_owned(),
        ))
    }
}
