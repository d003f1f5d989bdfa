//! `/api/v1/records-requests`: public-records requests for registry systems (API keys with
//! `records:write`; people use the workspace pages, so a session is not accepted here). Register
//! a request against tips, read it with each tip's redactions and pre-marks (never the
//! requester), mark redactions under the request's ETag, propose the decision, approve it
//! (with a different key when a second approval is required), and fetch the produced copy.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::authorize;
use super::body::JsonBody;
use super::contract;
use super::problem::{ApiError, Problem};
use super::tips::{etag, expected_version};
use crate::auth::{Action, ApiCaller, Principal, Scope};
use crate::domain::FieldError;
use crate::records::disclosure_copy::{self, CopyMeta, Labels};
use crate::records::redaction::{Part, Redaction};
use crate::records::request::{self, Actor, Cursor, Loaded, Registration, RequestError, Status};
use crate::records::review::{self, Approval, Context, Proposal};
use crate::state::{AppState, today_in_sweden};
use crate::telemetry;
use crate::web::i18n::Lang;

/// A new request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRecordsRequest {
    /// The day the request came in (Swedish date), not later than today.
    pub received_on: NaiveDate,
    /// Who asked — name, address or email as given; leave out for an anonymous requester.
    /// Sealed at rest and never returned.
    #[schema(max_length = 500)]
    pub requester: Option<String>,
    /// The tips asked for, by id or reference (`T-2026-000123`): 1 to 50, each once, each one
    /// the key may handle.
    #[schema(min_items = 1, max_items = 50)]
    pub tips: Vec<String>,
}

/// One text of a tip that can be redacted.
#[derive(Serialize, ToSchema)]
pub struct PartResponse {
    /// `description` or `message:<uuid>`.
    pub part: String,
    /// `description`, `message_to_reporter` or `message_from_reporter`.
    pub kind: &'static str,
    /// Length in characters (Unicode scalar values): ranges end at most here.
    pub length: usize,
    /// When the message was written (messages only).
    pub created_at: Option<DateTime<Utc>>,
}

/// An identity number found in a text (suggested for withholding; stored as a redaction when
/// the request was registered).
#[derive(Serialize, ToSchema)]
pub struct PreMarkResponse {
    pub part: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Serialize, ToSchema)]
pub struct RequestTipResponse {
    pub tip_id: Uuid,
    pub reference: String,
    /// The texts and their lengths (the texts themselves: `GET /api/v1/tips/{id}` and its
    /// messages, with `tips:read`).
    pub parts: Vec<PartResponse>,
    /// The passages marked to withhold, by part and start.
    pub redactions: Vec<Redaction>,
    pub pre_marks: Vec<PreMarkResponse>,
    /// Attachments are not part of the copy (listed in it as omitted).
    pub attachments: usize,
}

#[derive(Serialize, ToSchema)]
pub struct CopyResponse {
    /// `text/html`.
    pub media_type: String,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    pub size: i32,
    pub produced_at: DateTime<Utc>,
    /// Where to fetch it.
    pub href: String,
}

/// A request as a registry system sees it.
#[derive(Serialize, ToSchema)]
pub struct RecordsRequestResponse {
    pub id: Uuid,
    #[schema(example = "R-2026-0001")]
    pub reference: String,
    pub received_on: NaiveDate,
    /// Whether a requester was recorded (who it is is never returned).
    pub requester_given: bool,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    /// `open`, `awaiting_approval` or `decided`.
    pub status: String,
    /// `disclosed`, `partly_disclosed` or `refused` once proposed.
    pub decision: Option<String>,
    pub decision_note: Option<String>,
    pub proposed_by: Option<String>,
    pub proposed_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Changes with every change; also the ETag.
    pub version: i32,
    /// The ground the reporter's identity and contact details are always withheld under.
    pub reporter_ground: String,
    pub tips: Vec<RequestTipResponse>,
    /// The produced copy (disclosed or partly disclosed requests).
    pub copy: Option<CopyResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordsRequestSummary {
    pub id: Uuid,
    pub reference: String,
    pub received_on: NaiveDate,
    pub status: String,
    pub decision: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// References of the tips it covers.
    pub tips: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordsRequestPage {
    pub items: Vec<RecordsRequestSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One tip's redactions, replacing those stored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionsRequest {
    /// Non-overlapping ranges per part; an empty list withholds nothing but the reporter's data.
    pub redactions: Vec<Redaction>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum DecisionCode {
    Disclosed,
    PartlyDisclosed,
    Refused,
}

impl DecisionCode {
    fn as_str(self) -> &'static str {
        match self {
            DecisionCode::Disclosed => "disclosed",
            DecisionCode::PartlyDisclosed => "partly_disclosed",
            DecisionCode::Refused => "refused",
        }
    }
}

/// The decision on a request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `disclosed` only when no passage is marked (the reporter's data is always withheld and
    /// does not count).
    pub decision: DecisionCode,
    /// The reasoning; required for `partly_disclosed` and `refused`.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// The second person's answer to a proposed decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// true: decided as proposed (the copy is produced); false: back to open.
    pub approve: bool,
    /// Required when sending back: why.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Filters of the list (all optional).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string; parsing is by hand for field-level errors
pub struct ListParams {
    /// open, awaiting_approval or decided; comma-separated; all when left out.
    #[param(value_type = Option<Vec<String>>, min_items = 1)]
    status: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (no other value is accepted).
    #[param(min_length = 1, pattern = r"^[0-9]+_[0-9a-f]{32}$")]
    cursor: Option<String>,
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::NotFound => ApiError::NotFound,
            RequestError::Invalid(errors) => ApiError::Validation(errors),
            RequestError::Conflict(message) => ApiError::Conflict(message),
            RequestError::Stale => ApiError::PreconditionFailed,
            RequestError::Database(e) => e.into(),
            RequestError::Crypto(e) => e.into(),
            RequestError::Render(message) => {
                ApiError::Internal(anyhow::anyhow!(message).context("rendering a disclosure copy"))
            }
        }
    }
}

fn part_kind(
    part: Part,
    loaded_tip: &request::RequestTip,
) -> (&'static str, Option<DateTime<Utc>>) {
    match part {
        Part::Description => ("description", None),
        Part::Message(id) => {
            let message = loaded_tip.messages.iter().find(|m| m.id == id);
            let kind = match message.map(|m| m.direction.as_str()) {
                Some("to_reporter") => "message_to_reporter",
                _ => "message_from_reporter",
            };
            (kind, message.map(|m| m.created_at))
        }
    }
}

/// The JSON of a loaded request.
pub fn response(
    state: &AppState,
    loaded: &Loaded,
    copy: Option<CopyMeta>,
) -> RecordsRequestResponse {
    let r = &loaded.request;
    RecordsRequestResponse {
        id: r.id,
        reference: r.reference.clone(),
        received_on: r.received_on,
        requester_given: r.requester_given(),
        registered_by: r.registered_by.clone(),
        registered_at: r.registered_at,
        status: r.status.clone(),
        decision: r.decision.clone(),
        decision_note: r.decision_note.clone(),
        proposed_by: r.proposed_by.clone(),
        proposed_at: r.proposed_at,
        decided_by: r.decided_by.clone(),
        decided_at: r.decided_at,
        version: r.version,
        reporter_ground: state.records.disclosure.reporter_ground.clone(),
        tips: loaded
            .tips
            .iter()
            .map(|tip| {
                let texts = tip.texts();
                RequestTipResponse {
                    tip_id: tip.facts.id,
                    reference: tip.facts.reference.clone(),
                    parts: texts
                        .parts
                        .iter()
                        .map(|(part, text)| {
                            let (kind, created_at) = part_kind(*part, tip);
                            PartResponse {
                                part: part.code(),
                                kind,
                                length: text.chars().count(),
                                created_at,
                            }
                        })
                        .collect(),
                    redactions: tip.redactions.iter().map(|c| c.to_redaction()).collect(),
                    pre_marks: texts
                        .pre_marks()
                        .into_iter()
                        .map(|(part, range)| PreMarkResponse {
                            part: part.code(),
                            start: range.start,
                            end: range.end,
                        })
                        .collect(),
                    attachments: tip.attachments.len(),
                }
            })
            .collect(),
        copy: copy.map(|c| CopyResponse {
            media_type: c.media_type,
            sha256: hex::encode(c.sha256),
            size: c.size,
            produced_at: c.produced_at,
            href: format!("/api/v1/records-requests/{}/copy", r.id),
        }),
    }
}

/// The key as a principal, once it may work with records requests at all.
fn registry(caller: ApiCaller) -> Result<Principal, ApiError> {
    let principal = Principal::System(caller);
    authorize(&principal, Action::ReadRecordsRequests, Scope::RecordsWrite)?;
    Ok(principal)
}

fn context<'a>(state: &'a AppState, actor: Actor<'a>) -> Context<'a> {
    Context {
        crypto: &state.crypto,
        rules: &state.records,
        labels: Labels {
            taxonomy: &state.taxonomy,
            texts: state.translations.texts(Lang::Sv),
        },
        actor,
    }
}

/// Reads the request again and answers it with its ETag.
async fn answer_with(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.connection().await?;
    let loaded = request::load(&mut conn, principal, id, false).await?;
    let copy = disclosure_copy::meta(&mut conn, id).await?;
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(header::ETag(etag(loaded.request.version)));
    if status == actix_web::http::StatusCode::CREATED {
        builder.insert_header((header::LOCATION, format!("/api/v1/records-requests/{id}")));
    }
    Ok(builder.json(response(state, &loaded, copy)))
}

/// Register a public-records request.
#[utoipa::path(
    post,
    path = "/api/v1/records-requests",
    tag = "records",
    request_body(content = RegisterRecordsRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered, with identity numbers pre-marked", body = RecordsRequestResponse,
            headers(("Location" = String, description = "/api/v1/records-requests/{id}"), ("ETag" = String, description = "The version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a date in the future, a tip that is unknown or named twice…", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn register(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    body: JsonBody<RegisterRecordsRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let body = body.value;
    let registration = Registration {
        received_on: Some(body.received_on),
        requester: body.requester,
        tips: body.tips,
    };
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &principal,
        request_id: request_id.as_deref(),
    };
    let mut conn = state.connection().await?;
    let id = request::register(
        &mut conn,
        &state.crypto,
        &state.records,
        actor,
        &registration,
        today_in_sweden(),
    )
    .await?;
    drop(conn);
    answer_with(&state, &principal, id, actix_web::http::StatusCode::CREATED).await
}

/// Parses the list's query string.
fn list_query(
    pairs: &[(String, String)],
) -> Result<(Vec<Status>, Option<Cursor>, i64), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut statuses = Vec::new();
    let mut cursor = None;
    let mut limit = 50;
    for (name, value) in pairs {
        match name.as_str() {
            "status" => {
                for code in value.split(',') {
                    match Status::parse(code.trim()) {
                        Some(status) if !statuses.contains(&status) => statuses.push(status),
                        Some(_) => {}
                        None => errors.push(FieldError::new(
                            "status",
                            "unknown_code",
                            "must be open, awaiting_approval or decided",
                        )),
                    }
                }
            }
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=200).contains(&n) => limit = n,
                _ => errors.push(FieldError::new("limit", "out_of_range", "must be 1 to 200")),
            },
            "cursor" => match Cursor::decode(value) {
                Some(c) => cursor = Some(c),
                None => errors.push(FieldError::new(
                    "cursor",
                    "invalid",
                    "pass next_cursor of the previous page",
                )),
            },
            _ => errors.push(FieldError::new(
                name.clone(),
                "unknown_parameter",
                "is not a parameter of this list",
            )),
        }
    }
    if errors.is_empty() {
        Ok((statuses, cursor, limit))
    } else {
        Err(errors)
    }
}

/// List the public-records requests, newest registration first.
#[utoipa::path(
    get,
    path = "/api/v1/records-requests",
    tag = "records",
    params(ListParams),
    responses(
        (status = 200, description = "One page", body = RecordsRequestPage),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let (statuses, cursor, limit) =
        list_query(&contract::given(&query)).map_err(ApiError::Validation)?;
    let mut conn = state.connection().await?;
    let (rows, next) = request::list(&mut conn, &principal, &statuses, cursor, limit).await?;
    let items = rows
        .into_iter()
        .map(|row| RecordsRequestSummary {
            id: row.request.id,
            reference: row.request.reference,
            received_on: row.request.received_on,
            status: row.request.status,
            decision: row.request.decision,
            registered_at: row.request.registered_at,
            decided_at: row.request.decided_at,
            tips: row.tip_references,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RecordsRequestPage {
            items,
            next_cursor: next.map(|c| c.encode()),
        }))
}

/// Read a request with its tips, redactions and pre-marks (never the requester).
#[utoipa::path(
    get,
    path = "/api/v1/records-requests/{id}",
    tag = "records",
    params(("id" = Uuid, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request", body = RecordsRequestResponse,
            headers(("ETag" = String, description = "The version"))),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    answer_with(
        &state,
        &principal,
        id.into_inner(),
        actix_web::http::StatusCode::OK,
    )
    .await
}

/// Replace one tip's redactions (while the request is open). Needs `If-Match`.
#[utoipa::path(
    put,
    path = "/api/v1/records-requests/{id}/tips/{tip_id}/redactions",
    tag = "records",
    params(
        ("id" = Uuid, Path, description = "The request's id"),
        ("tip_id" = Uuid, Path, description = "A tip of the request"),
        ("If-Match" = String, Header, description = "The ETag of the version being changed",
            pattern = r#"^(W/)?"v[0-9]{1,9}"$"#),
    ),
    request_body(content = RedactionsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; the new version", body = RecordsRequestResponse,
            headers(("ETag" = String, description = "The version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request, or the tip is not in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is no longer open", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The request changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A range out of the text, overlapping another, in an unknown part or under an unknown ground (each named: redactions[i].field); or an If-Match that is not an ETag", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn put_redactions(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
    body: JsonBody<RedactionsRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let expected = expected_version(&request)?;
    let (id, tip_id) = path.into_inner();
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &principal,
        request_id: request_id.as_deref(),
    };
    let mut conn = state.connection().await?;
    review::set_redactions(
        &mut conn,
        context(&state, actor),
        id,
        tip_id,
        expected,
        &body.value.redactions,
    )
    .await?;
    drop(conn);
    answer_with(&state, &principal, id, actix_web::http::StatusCode::OK).await
}

/// Propose the decision: decided at once (the copy produced unless refused), or awaiting a
/// second approval when the configuration requires one. Needs `If-Match`.
#[utoipa::path(
    post,
    path = "/api/v1/records-requests/{id}/decision",
    tag = "records",
    params(
        ("id" = Uuid, Path, description = "The request's id"),
        ("If-Match" = String, Header, description = "The ETag of the version decided on",
            pattern = r#"^(W/)?"v[0-9]{1,9}"$"#),
    ),
    request_body(content = DecisionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Decided or awaiting approval; the new version", body = RecordsRequestResponse,
            headers(("ETag" = String, description = "The version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is not open", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The request changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: disclosed with passages marked, a refusal without reasoning…", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn decide(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<DecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let expected = expected_version(&request)?;
    let id = id.into_inner();
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &principal,
        request_id: request_id.as_deref(),
    };
    let proposal = Proposal {
        decision: Some(body.value.decision.as_str().to_owned()),
        note: body.value.note,
    };
    let mut conn = state.connection().await?;
    review::propose(&mut conn, context(&state, actor), id, expected, &proposal).await?;
    drop(conn);
    answer_with(&state, &principal, id, actix_web::http::StatusCode::OK).await
}

/// Approve the proposed decision, or send it back to open with a reason. Only someone other
/// than the proposer — for API keys, another key. Needs `If-Match`.
#[utoipa::path(
    post,
    path = "/api/v1/records-requests/{id}/approval",
    tag = "records",
    params(
        ("id" = Uuid, Path, description = "The request's id"),
        ("If-Match" = String, Header, description = "The ETag of the version approved",
            pattern = r#"^(W/)?"v[0-9]{1,9}"$"#),
    ),
    request_body(content = ApprovalRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Decided (copy produced unless refused) or sent back; the new version", body = RecordsRequestResponse,
            headers(("ETag" = String, description = "The version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing awaits approval, or the proposer tries to approve their own decision", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The request changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: sending back without a reason…", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn approve(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<ApprovalRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let expected = expected_version(&request)?;
    let id = id.into_inner();
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &principal,
        request_id: request_id.as_deref(),
    };
    let approval = Approval {
        approve: body.value.approve,
        note: body.value.note,
    };
    let mut conn = state.connection().await?;
    review::answer(&mut conn, context(&state, actor), id, expected, &approval).await?;
    drop(conn);
    answer_with(&state, &principal, id, actix_web::http::StatusCode::OK).await
}

/// The policy a served copy runs under: it is a file handed out, with its styling inline and
/// nothing else — no script, no request to anywhere, not framed.
pub const COPY_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The stored copy as an HTTP response (shared with the workspace page).
pub fn copy_response(copy: &disclosure_copy::StoredCopy) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, COPY_CSP))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.html\"", copy.reference),
        ))
        .insert_header((
            "Repr-Digest",
            format!("sha-256=:{}:", base64_of(&copy.sha256)),
        ))
        .content_type(format!("{}; charset=utf-8", copy.media_type))
        .body(copy.content.clone())
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The produced copy, as handed out (HTML; audited).
#[utoipa::path(
    get,
    path = "/api/v1/records-requests/{id}/copy",
    tag = "records",
    params(("id" = Uuid, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The copy (self-contained HTML)", body = String, content_type = "text/html"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks records:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not decided yet, or refused (no copy)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["records:write"]))
)]
pub async fn copy(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let principal = registry(caller)?;
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &principal,
        request_id: request_id.as_deref(),
    };
    let mut conn = state.connection().await?;
    let copy = disclosure_copy::read(&mut conn, &state.crypto, actor, id.into_inner()).await?;
    Ok(copy_response(&copy))
}
