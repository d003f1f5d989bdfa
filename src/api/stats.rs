//! `GET /api/v1/stats`, `GET /api/v1/stats/export`, `GET /api/v1/stats/facilities` and
//! `GET /api/v1/stats/deadlines`: the situation report's aggregates, facility signals and
//! deadline compliance for other systems (scope `stats:read`) and for signed-in people who may
//! read statistics, with the disclosure control of the caller's role. Exports are audited.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::authorize;
use super::contract;
use super::problem::{ApiError, Problem};
use crate::audit::{self, AuditAction, Entry};
use crate::auth::Scope;
use crate::auth::policy::{self, Action, Principal};
use crate::domain::FieldError;
use crate::state::{AppState, today_in_sweden};
use crate::stats::export::{self, Headers, StatsResponse};
use crate::stats::facilities::{self, FacilitySignal};
use crate::stats::{self, Selection, deadlines, query, suppression, trends};
use crate::telemetry;

/// The selection (all optional). Every dimension is also a filter: `category=staffing,hygiene`.
/// Lists are comma-separated (`style: form, explode: false`); the codes each list and filter
/// takes are the enums of the served document (`api::contract`). An empty value is the same as
/// leaving the parameter out.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string; parsing is by hand for field-level errors
pub struct StatsParams {
    /// Up to four of region_code, municipality_code, category, care_sector, priority, outcome,
    /// outbreak, channel, reporter_role, each once.
    #[param(value_type = Option<Vec<String>>, min_items = 1, max_items = 4)]
    group_by: Option<String>,
    /// day, week (ISO) or month. Without it, the whole range is one period.
    period: Option<String>,
    /// First day, YYYY-MM-DD (Swedish calendar), inclusive. Default: the Monday twelve weeks
    /// before this week (or before `to`'s week).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD, inclusive (default today, or `from` if that is later). Not before
    /// `from`, and at most 1096 days from it.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// Filter: län codes.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    region_code: Option<String>,
    /// Filter: kommun codes.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    municipality_code: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    category: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    care_sector: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    priority: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    outcome: Option<String>,
    /// Filter: outbreak tags.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    outbreak: Option<String>,
    /// Filter: web or api.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    channel: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    reporter_role: Option<String>,
}

/// `GET /api/v1/stats` only (the export has no trend).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TrendParams {
    /// true: also the same groups in the range before and a year earlier.
    trend: Option<bool>,
}

/// The selection of the facility list and deadline compliance (all optional): the filters and
/// dates of `GET /api/v1/stats`, without `group_by`, `period` or `trend`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string; parsing is by hand for field-level errors
pub struct FilterParams {
    /// First day, YYYY-MM-DD (Swedish calendar), inclusive. Default: the Monday twelve weeks
    /// before this week (or before `to`'s week).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD, inclusive (default today, or `from` if that is later). Not before
    /// `from`, and at most 1096 days from it.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// Filter: län codes.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    region_code: Option<String>,
    /// Filter: kommun codes.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    municipality_code: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    category: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    care_sector: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    priority: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    outcome: Option<String>,
    /// Filter: outbreak tags.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    outbreak: Option<String>,
    /// Filter: web or api.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    channel: Option<String>,
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    reporter_role: Option<String>,
}

/// The export's own parameters, besides the selection.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportParams {
    /// csv (default) or json.
    format: Option<String>,
    /// CSV headers: sv (default; `;`-separated as Swedish Excel expects) or en (`,`).
    headers: Option<String>,
}

fn flag(pairs: &[(String, String)], key: &str, errors: &mut Vec<FieldError>) -> bool {
    match pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new(
                key,
                "invalid_type",
                "must be true or false",
            ));
            false
        }
    }
}

fn selection(
    state: &AppState,
    pairs: &[(String, String)],
    extra: &[&str],
    mut errors: Vec<FieldError>,
) -> Result<Selection, ApiError> {
    match query::parse(state, pairs, today_in_sweden(), extra) {
        Ok(selection) if errors.is_empty() => Ok(selection),
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(more) => {
            errors.extend(more);
            Err(ApiError::Validation(errors))
        }
    }
}

/// The selection of an ungrouped answer: `group_by` and `period` are refused like any other
/// parameter the request does not have.
fn ungrouped_selection(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<Selection, ApiError> {
    let mut errors = Vec::new();
    let mut reported = Vec::new();
    for (key, _) in pairs {
        let key = key.as_str();
        if matches!(key, "group_by" | "period") && !reported.contains(&key) {
            reported.push(key);
            errors.push(FieldError::new(
                key,
                "unknown_field",
                "is not a parameter of this request",
            ));
        }
    }
    selection(state, pairs, &["group_by", "period"], errors)
}

/// Tip counts by any combination of dimensions and period, suppressed for the caller's role.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "stats",
    params(StatsParams, TrendParams),
    responses(
        (status = 200, description = "The counts; cells of 1–4 tips (the configured threshold) are suppressed except for triage leads, and so are cells that would reveal them", body = StatsResponse),
        (status = 401, description = "Missing or invalid API key or session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks stats:read, or the person's role may not read statistics", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["stats:read"]))
)]
pub async fn get_stats(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::ReadStats, Scope::StatsRead)?;
    let query = contract::given(&query);
    let mut errors = Vec::new();
    let with_trend = flag(&query, "trend", &mut errors);
    let selection = selection(&state, &query, &["trend"], errors)?;
    let disclosure = policy::stats_disclosure(&principal);
    let threshold = state.settings.stats.suppression_threshold;
    let mut conn = state.connection().await?;
    let table = stats::table(&mut conn, &selection, disclosure.suppress, threshold).await?;
    let trend = if with_trend {
        Some(trends::trends(&mut conn, &selection, disclosure.suppress, threshold).await?)
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(export::json(&table, trend.as_deref())))
}

/// The same selection as a download (CSV with a byte-order mark, or JSON); audited.
#[utoipa::path(
    get,
    path = "/api/v1/stats/export",
    tag = "stats",
    params(StatsParams, ExportParams),
    responses(
        (status = 200, description = "A CSV file (text/csv, UTF-8 with BOM; format=csv) or the JSON of GET /api/v1/stats (format=json), as an attachment",
            content((String = "text/csv"), (StatsResponse = "application/json"))),
        (status = 401, description = "Missing or invalid API key or session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks stats:read, or the person's role may not read statistics", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["stats:read"]))
)]
pub async fn export_stats(
    request: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::ReadStats, Scope::StatsRead)?;
    let query = contract::given(&query);
    let mut errors = Vec::new();
    let value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let csv = match value("format") {
        None | Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            errors.push(FieldError::new(
                "format",
                "unknown_format",
                "must be csv or json",
            ));
            true
        }
    };
    let headers = match value("headers").map(Headers::parse) {
        None => Headers::Swedish,
        Some(Some(headers)) => headers,
        Some(None) => {
            errors.push(FieldError::new(
                "headers",
                "unknown_language",
                "must be sv or en",
            ));
            Headers::Swedish
        }
    };
    let selection = selection(&state, &query, &["format", "headers"], errors)?;
    let disclosure = policy::stats_disclosure(&principal);
    let threshold = state.settings.stats.suppression_threshold;
    let mut conn = state.connection().await?;
    let table = stats::table(&mut conn, &selection, disclosure.suppress, threshold).await?;
    let request_id = telemetry::request_id(&request);
    let actor = principal.actor();
    let parameters: serde_json::Map<String, serde_json::Value> = selection
        .to_pairs()
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    audit::record(
        &mut conn,
        &state.crypto,
        &Entry {
            actor: &actor,
            action: AuditAction::Export,
            tip_id: None,
            detail: json!({
                "export": "stats",
                "format": if csv { "csv" } else { "json" },
                "selection": parameters,
                "cells": table.cells.len(),
                "suppressed": table.suppressed,
            }),
            request_id: request_id.as_deref(),
        },
    )
    .await?;
    let stem = format!("lagesbild-{}-{}", selection.from, selection.to);
    let (body, content_type, extension) = if csv {
        (
            export::csv(&table, &state.taxonomy, headers),
            "text/csv; charset=utf-8",
            "csv",
        )
    } else {
        let body = serde_json::to_string_pretty(&export::json(&table, None))
            .map_err(|e| ApiError::Internal(e.into()))?;
        (body, "application/json", "json")
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.{extension}\""),
        ))
        .body(body))
}

/// Tips per priority in a facility's row (null: suppressed).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriorityCounts {
    #[schema(required = true)]
    pub critical: Option<i64>,
    #[schema(required = true)]
    pub high: Option<i64>,
    #[schema(required = true)]
    pub normal: Option<i64>,
    #[schema(required = true)]
    pub low: Option<i64>,
}

/// One facility in the ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacilityEntry {
    /// 1 for the facility with most tips.
    pub rank: usize,
    /// The facility's name; null when the caller's role may not see it.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Kommun code (SCB); null when the tips gave none.
    #[schema(required = true)]
    pub municipality_code: Option<String>,
    /// Län code (SCB).
    pub region_code: String,
    /// Tips in the range; null when suppressed.
    #[schema(required = true)]
    pub tips: Option<i64>,
    /// Whether `tips` is suppressed.
    pub suppressed: bool,
    /// The count as shown: `12`, or `<5` when suppressed.
    pub display: String,
    pub priorities: PriorityCounts,
    /// Repeat-signal clusters the facility's tips belong to.
    pub clusters: i64,
}

/// The facility signals of a selection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacilitiesResponse {
    /// First day (inclusive, Swedish calendar).
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Counts of 1 to threshold-1 are suppressed (unless `suppression_applied` is false).
    pub threshold: i64,
    /// False only for triage leads.
    pub suppression_applied: bool,
    /// At most 20 facilities, most tips first.
    pub facilities: Vec<FacilityEntry>,
}

/// One team's deadline compliance (null: suppressed, or not defined).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamDeadlinesEntry {
    /// The team's code.
    pub team: String,
    /// Tips submitted in the range; null when suppressed.
    #[schema(required = true)]
    pub tips: Option<i64>,
    /// Median hours from submission to first review, of the tips reviewed so far.
    #[schema(required = true)]
    pub median_hours_to_first_review: Option<f64>,
    /// Per cent of decided tips first reviewed by their deadline.
    #[schema(required = true)]
    pub share_reviewed_in_time_percent: Option<f64>,
    /// Decided tips: reviewed, or not reviewed and past their deadline.
    #[schema(required = true)]
    pub decided: Option<i64>,
}

/// Deadline compliance per team for a selection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlinesResponse {
    /// First day (inclusive, Swedish calendar).
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Figures drawn from fewer tips than this are hidden (unless `suppression_applied` is false).
    pub threshold: i64,
    /// False only for triage leads.
    pub suppression_applied: bool,
    /// Teams with tips in the range, by code.
    pub teams: Vec<TeamDeadlinesEntry>,
}

fn facility_entry(signal: FacilitySignal, threshold: i64) -> FacilityEntry {
    let [critical, high, normal, low] = signal.priorities;
    FacilityEntry {
        rank: signal.rank,
        name: signal.name,
        municipality_code: signal.municipality_code,
        region_code: signal.region_code,
        tips: signal.tips,
        suppressed: signal.tips.is_none(),
        display: suppression::display(
            signal.tips.unwrap_or_default(),
            signal.tips.is_none(),
            threshold,
        ),
        priorities: PriorityCounts {
            critical,
            high,
            normal,
            low,
        },
        clusters: signal.clusters,
    }
}

/// The facilities with most tips in the selection, named only as the caller's role allows.
#[utoipa::path(
    get,
    path = "/api/v1/stats/facilities",
    tag = "stats",
    params(FilterParams),
    responses(
        (status = 200, description = "The facility signals; names only where the caller's role allows them (triage leads: all; inspectors: facilities with a tip in their teams; analysts and API keys: facilities with at least the threshold of tips), counts suppressed except for triage leads", body = FacilitiesResponse),
        (status = 401, description = "Missing or invalid API key or session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks stats:read, or the person's role may not read statistics", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["stats:read"]))
)]
pub async fn get_facilities(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::ReadStats, Scope::StatsRead)?;
    let selection = ungrouped_selection(&state, &contract::given(&query))?;
    let disclosure = policy::stats_disclosure(&principal);
    let threshold = state.settings.stats.suppression_threshold;
    let mut conn = state.connection().await?;
    let signals = facilities::signals(&mut conn, &selection, &disclosure, threshold).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(FacilitiesResponse {
            from: selection.from.to_string(),
            to: selection.to.to_string(),
            threshold,
            suppression_applied: disclosure.suppress,
            facilities: signals
                .into_iter()
                .map(|signal| facility_entry(signal, threshold))
                .collect(),
        }))
}

/// Per team: median time to first review and the share reviewed by the deadline.
#[utoipa::path(
    get,
    path = "/api/v1/stats/deadlines",
    tag = "stats",
    params(FilterParams),
    responses(
        (status = 200, description = "Deadline compliance per team for the tips submitted in the range; figures drawn from fewer tips than the threshold are null except for triage leads", body = DeadlinesResponse),
        (status = 401, description = "Missing or invalid API key or session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks stats:read, or the person's role may not read statistics", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["stats:read"]))
)]
pub async fn get_deadlines(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::ReadStats, Scope::StatsRead)?;
    let selection = ungrouped_selection(&state, &contract::given(&query))?;
    let suppress = policy::stats_disclosure(&principal).suppress;
    let threshold = state.settings.stats.suppression_threshold;
    let mut conn = state.connection().await?;
    let teams = deadlines::per_team(&mut conn, &selection, Utc::now(), suppress, threshold).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DeadlinesResponse {
            from: selection.from.to_string(),
            to: selection.to.to_string(),
            threshold,
            suppression_applied: suppress,
            teams: teams
                .into_iter()
                .map(|team| TeamDeadlinesEntry {
                    team: team.team,
                    tips: team.tips,
                    median_hours_to_first_review: team.median_hours,
                    share_reviewed_in_time_percent: team.share_in_time,
                    decided: team.decided,
                })
                .collect(),
        }))
}
