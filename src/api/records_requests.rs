//! `/api/v1/records-requests`: public-records requests for registry systems (API keys with
//! `records:write`; people use the workspace pages, so a session is not accepted here). Register
//! a request against tips, read it with each tip's redactions and pre-marks (never the
//! requester), mark redactions under the request's ETag, propose the decision, approve it
//! (with a different key when a second approval is required), and fetch the produced copy.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::auth::authorize;
use super::body::JsonBody;
use super::contract;
use super::problem::{ApiError, Problem};
use super::records_schemas::{
    ApprovalRequest, DecisionRequest, ListParams, RecordsRequestPage, RecordsRequestResponse,
    RecordsRequestSummary, RedactionsRequest, RegisterRecordsRequest, list_query, response,
};
use super::tips::{etag, expected_version};
use crate::auth::{Action, ApiCaller, Principal, Scope};
use crate::records::disclosure_copy::{self, Labels};
use crate::records::request::{self, Actor, Registration};
use crate::records::review::{self, Approval, Context, Proposal};
use crate::state::{AppState, today_in_sweden};
use crate::telemetry;
use crate::web::i18n::Lang;

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
