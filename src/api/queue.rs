//! `GET /api/v1/tips`: the triage queue, as inspectors will see it.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::authorize;
use super::contract;
use super::problem::{ApiError, Problem};
use crate::auth::{Action, Principal, Scope};
use crate::db::queue::QueueRow;
use crate::queue;
use crate::state::AppState;

/// Filters of the queue (all optional). Without `status`, open tips are listed. The codes each
/// parameter takes are the enums of the served document (`api::contract`); an empty value is
/// the same as leaving the parameter out.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string; parsing is by hand for field-level errors
pub struct QueueParams {
    /// Team code from the routing configuration.
    team: Option<String>,
    region_code: Option<String>,
    category: Option<String>,
    care_sector: Option<String>,
    /// critical, high, normal or low.
    priority: Option<String>,
    /// new, in_review, awaiting_reporter, closed, open (default) or all; comma-separated.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    status: Option<String>,
    /// true: first review is late; false: not late.
    overdue: Option<bool>,
    /// A cluster id: the tips linked by a repeat signal.
    cluster: Option<Uuid>,
    /// YYYY-MM-DD (Swedish date), inclusive.
    #[param(value_type = Option<String>, format = Date)]
    submitted_from: Option<String>,
    /// YYYY-MM-DD (Swedish date), inclusive; not before `submitted_from`.
    #[param(value_type = Option<String>, format = Date)]
    submitted_to: Option<String>,
    /// Swedish full-text search in the description and facility name: 1 to 200 characters
    /// after trimming, not only whitespace, no NUL.
    #[param(min_length = 1, max_length = 200)]
    q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; no other value is accepted).
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct QueueItem {
    pub id: Uuid,
    pub reference: String,
    pub priority: String,
    pub team: String,
    pub status: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    /// First review is due.
    pub due_at: DateTime<Utc>,
    /// The first review is late.
    pub overdue: bool,
    pub submitted_at: DateTime<Utc>,
    pub cluster_id: Option<Uuid>,
    pub assignee: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn item(row: QueueRow, now: DateTime<Utc>) -> QueueItem {
    QueueItem {
        overdue: row.status == "new" && row.due_at < now,
        id: row.id,
        reference: row.reference,
        priority: row.priority,
        team: row.team,
        status: row.status,
        category: row.category,
        care_sector: row.care_sector,
        region_code: row.region_code,
        municipality_code: row.municipality_code,
        facility_name: row.facility_name,
        due_at: row.due_at,
        submitted_at: row.submitted_at,
        cluster_id: row.cluster_id,
        assignee: row.assignee,
    }
}

/// The triage queue: open tips by priority, then due date, then age.
#[utoipa::path(
    get,
    path = "/api/v1/tips",
    tag = "queue",
    params(QueueParams),
    responses(
        (status = 200, description = "One page of the queue", body = QueuePage),
        (status = 401, description = "Missing or invalid API key or session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn list_tips(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::ReadQueue, Scope::TipsRead)?;
    let request = queue::parse(&state, &contract::given(&query)).map_err(ApiError::Validation)?;
    let now = Utc::now();
    let mut conn = state.connection().await?;
    let page = queue::page_for(&mut conn, &principal, &request, now).await?;
    let items = page.rows.into_iter().map(|r| item(r, now)).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(QueuePage {
            items,
            next_cursor: page.next_cursor,
        }))
}
