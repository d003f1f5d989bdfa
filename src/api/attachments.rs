//! `/api/v1/attachments` (upload a file, then name it in `POST /api/v1/tips`) and
//! `/api/v1/tips/{id}/attachments` (list and download a tip's cleaned files).

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{authorize, authorize_tip};
use super::problem::{ApiError, Problem};
use super::tips::audit_tip;
use crate::attachments::receive::ReceiveError;
use crate::attachments::store::{self, Owner};
use crate::attachments::{AttachmentInfo, ScanStatus};
use crate::audit::AuditAction;
use crate::auth::policy::TipVerb;
use crate::auth::{Action, Principal, Scope};
use crate::domain::FieldError;
use crate::multipart::{self, Part, Parts};
use crate::state::AppState;
use crate::telemetry;

/// The policy for a download response: nothing in it may run, load or be framed.
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";

/// A stored upload, waiting to be named in a tip.
#[derive(Serialize, ToSchema)]
pub struct UploadResponse {
    pub id: Uuid,
    /// The type decided from the content (the file name plays no part).
    #[schema(example = "image/jpeg")]
    pub media_type: &'static str,
    /// Size after cleaning.
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// `pending` (waiting for the virus scanner) or `unscanned` (no scanner configured).
    #[schema(value_type = String, example = "pending")]
    pub scan_status: ScanStatus,
    /// Name it in a tip before then, or it is removed.
    pub expires_at: DateTime<Utc>,
}

/// One file of a tip, as an integrating system sees it: never its original name.
#[derive(Serialize, ToSchema)]
pub struct AttachmentResponse {
    pub id: Uuid,
    /// The neutral name, `bilaga-<n>.<ext>`.
    #[schema(example = "bilaga-1.jpg")]
    pub name: String,
    #[schema(example = "image/jpeg")]
    pub media_type: &'static str,
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// `pending`, `clean`, `infected` (quarantined, never served) or `unscanned`.
    #[schema(value_type = String, example = "clean")]
    pub scan_status: ScanStatus,
    /// Set when the file came with the tipster's reply to this message.
    pub message_id: Option<Uuid>,
    pub uploaded_at: DateTime<Utc>,
    /// Where to download it, once it may be opened.
    pub download_url: Option<String>,
}

impl AttachmentResponse {
    fn new(tip_id: Uuid, info: &AttachmentInfo) -> Self {
        AttachmentResponse {
            id: info.id,
            name: info.neutral_name(),
            media_type: info.kind.media_type(),
            size_bytes: info.size_bytes,
            width: info.width,
            height: info.height,
            scan_status: info.scan_status,
            message_id: info.message_id,
            uploaded_at: info.created_at,
            download_url: info
                .scan_status
                .may_open()
                .then(|| format!("/api/v1/tips/{tip_id}/attachments/{}", info.id)),
        }
    }
}

/// The body of an upload (for the OpenAPI document).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file: JPEG, PNG, PDF, DOCX, XLSX, ODT, plain text (UTF-8), MP3, M4A or OGG, decided
    /// from its content. Identifying metadata is removed before it is stored.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a file for a tip.
///
/// The file is typed by its content, cleaned of identifying metadata (EXIF, XMP, IPTC, document
/// properties, authors, revision ids, audio tags) and stored sealed. Name the returned `id` in
/// the `attachments` list of `POST /api/v1/tips` with the same key within
/// `attachments.pending_hours` (24 by default); the tip's 201 comes only once tip and files are
/// committed together.
#[utoipa::path(
    post,
    path = "/api/v1/attachments",
    tag = "tips",
    request_body(content = UploadForm, content_type = "multipart/form-data",
        description = "Exactly one part, named `file`, sent with a file name"),
    responses(
        (status = 201, description = "Stored, pending until named in a tip", body = UploadResponse),
        (status = 400, description = "Malformed or cut-off multipart body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:submit", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is over the per-file limit (25 MB by default)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No file, several files, an unnamed part, a bad file name, or a file of a type not accepted or that cannot be cleaned", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:submit"]))
)]
pub async fn upload(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    authorize(&principal, Action::SubmitTip, Scope::TipsSubmit)?;
    let Principal::System(caller) = principal else {
        return Err(ApiError::Forbidden);
    };
    let mut parts = Parts::new(&request, payload)?;
    let limit = state.settings.attachments.max_file_bytes;
    // One permit before any bytes are held: uploads beyond the bound wait unread.
    let permit = state
        .uploads
        .permit()
        .await
        .map_err(|e| receive_error(e, "file", ""))?;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(part) = parts.next().await {
        match part? {
            Part::File(part) if part.name == "file" => {
                if file.is_some() {
                    return Err(field_error(
                        "file",
                        "duplicate_part",
                        "send one file per upload",
                    ));
                }
                multipart::check_file_name(&part.file_name)?;
                let name = part.file_name.clone();
                // Over the limit the answer is 413 at once; the rest of the body is not read.
                file = Some((name, part.read(limit, 0).await?));
            }
            Part::File(part) => {
                let name = part.name.clone();
                return Err(field_error(
                    &name,
                    "unknown_part",
                    "only a part named file is read",
                ));
            }
            Part::Text { name, .. } => {
                return Err(field_error(
                    &name,
                    "unknown_part",
                    "only a part named file is read",
                ));
            }
        }
    }
    let Some((file_name, bytes)) = file else {
        return Err(field_error(
            "file",
            "required",
            "send the file in a part named file",
        ));
    };
    let owner = Owner::ApiKey(caller.key_id);
    let info = state
        .uploads
        .accept(&state.pool, &state.crypto, bytes, &owner, &permit)
        .await
        .map_err(|error| receive_error(error, "file", &file_name))?;
    let expires_at = info.created_at
        + chrono::Duration::hours(i64::from(state.settings.attachments.pending_hours));
    let body = UploadResponse {
        id: info.id,
        media_type: info.kind.media_type(),
        size_bytes: info.size_bytes,
        width: info.width,
        height: info.height,
        scan_status: info.scan_status,
        expires_at,
    };
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

fn field_error(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, code, message)])
}

/// A refused file is the client's fault (422 naming the file); anything else is ours.
pub fn receive_error(error: ReceiveError, field: &str, file_name: &str) -> ApiError {
    match error {
        ReceiveError::Refused(refusal) => ApiError::Validation(vec![FieldError::new(
            field,
            refusal.code(),
            format!("{file_name}: {refusal}"),
        )]),
        ReceiveError::Unavailable(reason) => ApiError::Unavailable(reason),
        ReceiveError::Store(error) => error.into(),
        ReceiveError::Cleaner(error) => {
            ApiError::Internal(anyhow::Error::new(error).context("cleaning a file"))
        }
    }
}

/// List a tip's files.
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}/attachments",
    tag = "tips",
    params(("id" = Uuid, Path, description = "The tip's id")),
    responses(
        (status = 200, description = "The tip's files in order", body = [AttachmentResponse]),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tip_id = id.into_inner();
    let mut conn = state.connection().await?;
    authorize_tip(
        &mut conn,
        &principal,
        tip_id,
        TipVerb::Read,
        Scope::TipsRead,
    )
    .await?;
    let files = store::list_for_tip(&mut conn, tip_id).await?;
    let body: Vec<AttachmentResponse> = files
        .iter()
        .map(|info| AttachmentResponse::new(tip_id, info))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// Download a tip's file (the cleaned copy).
#[utoipa::path(
    get,
    path = "/api/v1/tips/{id}/attachments/{attachment_id}",
    tag = "tips",
    params(
        ("id" = Uuid, Path, description = "The tip's id"),
        ("attachment_id" = Uuid, Path, description = "The file's id"),
    ),
    responses(
        (status = 200, description = "The cleaned file, as an attachment, with its content type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "Missing or invalid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks tips:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tip or file", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not yet scanned, or quarantined by the virus scanner", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tips:read"]))
)]
pub async fn download(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (tip_id, attachment_id) = path.into_inner();
    let request_id = telemetry::request_id(&request);
    let mut conn = state.connection().await?;
    let info = conn
        .transaction::<_, ApiError, _>(async |conn| {
            authorize_tip(conn, &principal, tip_id, TipVerb::Read, Scope::TipsRead).await?;
            let info = store::find_in_tip(conn, tip_id, attachment_id)
                .await?
                .ok_or(ApiError::NotFound)?;
            refuse_unopenable(&info)?;
            let audit = (&principal, request_id.as_deref());
            let detail = json!({ "attachment": info.id, "name": info.neutral_name() });
            audit_tip(
                conn,
                &state,
                audit,
                AuditAction::DownloadAttachment,
                tip_id,
                detail,
            )
            .await?;
            Ok(info)
        })
        .await?;
    // The first chunk is read before the answer starts, so a failure is still a clean 503.
    let first = store::read_chunk(&mut conn, &state.crypto, &state.blobs, &info, 0).await?;
    drop(conn);
    Ok(file_response(&state, info, first))
}

/// Files still waiting for the scanner, or quarantined, are never served.
pub fn refuse_unopenable(info: &AttachmentInfo) -> Result<(), ApiError> {
    match info.scan_status {
        ScanStatus::Pending => Err(ApiError::Conflict(
            "the file has not been scanned for viruses yet; try again shortly",
        )),
        ScanStatus::Infected => Err(ApiError::Conflict(
            "the virus scanner found something in this file; it is quarantined and cannot be opened",
        )),
        ScanStatus::Clean | ScanStatus::Unscanned => Ok(()),
    }
}

/// A download: the sniffed type, `attachment` with the neutral name, no sniffing, no script,
/// no caching; the rest of the chunks are read one at a time while the body is sent.
pub fn file_response(
    state: &web::Data<AppState>,
    info: AttachmentInfo,
    first: Vec<u8>,
) -> HttpResponse {
    let name = info.neutral_name();
    let media_type = info.kind.media_type();
    let length = u64::try_from(info.size_bytes).unwrap_or(0);
    let state = state.clone();
    let rest = futures_util::stream::unfold(1, move |seq| {
        let (state, info) = (state.clone(), info.clone());
        async move {
            if seq >= info.chunk_count {
                return None;
            }
            let chunk = async {
                let mut conn = state.connection().await?;
                let bytes =
                    store::read_chunk(&mut conn, &state.crypto, &state.blobs, &info, seq).await?;
                Ok::<_, ApiError>(Bytes::from(bytes))
            }
            .await
            .map_err(|error| {
                tracing::warn!(error = %error, "reading an attachment chunk failed mid-download");
                actix_web::error::ErrorServiceUnavailable("attachment unavailable")
            });
            Some((chunk, seq + 1))
        }
    });
    let body = futures_util::stream::once(async move { Ok(Bytes::from(first)) });
    let body = futures_util::StreamExt::chain(body, rest);
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, media_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .no_chunking(length)
        .streaming(body)
}
