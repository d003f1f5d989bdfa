//! A tip's files in the workspace: the list on the tip page, image previews that Tipsa renders
//! itself from the cleaned file (PDFs and Office files are never shown in the page), and
//! downloads. Every preview and download is in the audit log; files waiting for the virus
//! scanner or quarantined by it are never served.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use serde_json::json;
use uuid::Uuid;

use super::{SignedIn, not_found, signed_in};
use crate::access;
use crate::api::attachments::{DOWNLOAD_CSP, file_response};
use crate::attachments::clean;
use crate::attachments::store;
use crate::attachments::{AttachmentInfo, ScanStatus, human_size};
use crate::audit::{self, AuditAction};
use crate::auth::policy::TipVerb;
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::{Lang, Texts};
use crate::web::unavailable;

/// One file as the tip page lists it.
pub struct FileView {
    pub name: String,
    pub kind: String,
    pub size: String,
    pub status: String,
    /// `clean`, `pending`, `infected`, `unscanned`: for styling.
    pub status_code: &'static str,
    pub from_reply: bool,
    pub download_href: Option<String>,
    pub preview_src: Option<String>,
}

pub fn views(files: &[AttachmentInfo], tip_id: Uuid, t: &Texts, lang: Lang) -> Vec<FileView> {
    files
        .iter()
        .map(|info| {
            let base = format!("/inspektor/tips/{tip_id}/bilagor/{}", info.id);
            let open = info.scan_status.may_open();
            FileView {
                name: info.neutral_name(),
                kind: t
                    .get(&format!("attachments.kind_{}", info.kind.code()))
                    .to_owned(),
                size: human_size(info.size_bytes, lang == Lang::Sv),
                status: t
                    .get(&format!("tip.file_scan_{}", info.scan_status.as_str()))
                    .to_owned(),
                status_code: info.scan_status.as_str(),
                from_reply: info.message_id.is_some(),
                preview_src: (open && info.kind.is_image())
                    .then(|| format!("{base}/forhandsvisning")),
                download_href: open.then_some(base),
            }
        })
        .collect()
}

/// The file a request names, once the person may read its tip and the file may be opened;
/// the read is audited with `action` in the same transaction.
async fn open_file(
    request: &HttpRequest,
    state: &AppState,
    path: &(String, String),
    action: AuditAction,
) -> Result<(SignedIn, AttachmentInfo), HttpResponse> {
    let who = signed_in(request, state).await?;
    let (Ok(tip_id), Ok(file_id)) = (path.0.parse::<Uuid>(), path.1.parse::<Uuid>()) else {
        return Err(not_found(state, request, &who));
    };
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    let request_id = telemetry::request_id(request);
    let actor = who.principal.actor();
    let found = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // Outside the person's scope the file does not exist for them (404, as the tip).
            if access::tip(conn, &who.principal, tip_id, TipVerb::Read)
                .await?
                .is_err()
            {
                return Ok(None);
            }
            let Some(info) = store::find_in_tip(conn, tip_id, file_id).await? else {
                return Ok(None);
            };
            if info.scan_status.may_open() {
                audit::record(
                    conn,
                    &state.crypto,
                    &audit::Entry {
                        actor: &actor,
                        action,
                        tip_id: Some(tip_id),
                        detail: json!({ "attachment": info.id, "name": info.neutral_name() }),
                        request_id: request_id.as_deref(),
                    },
                )
                .await?;
            }
            Ok(Some(info))
        })
        .await;
    match found {
        Ok(Some(info)) if info.scan_status.may_open() => Ok((who, info)),
        Ok(Some(info)) => Err(closed_file(state, &who, info.scan_status)),
        Ok(None) => Err(not_found(state, request, &who)),
        Err(error) => {
            tracing::warn!(error = %error, "loading an attachment failed");
            Err(unavailable())
        }
    }
}

/// A plain answer for a file nobody may open yet (or ever).
fn closed_file(state: &AppState, who: &SignedIn, status: ScanStatus) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    HttpResponse::Conflict()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(
            t.get(&format!("tip.file_closed_{}", status.as_str()))
                .to_owned(),
        )
}

/// GET: the cleaned file as a download.
pub async fn download(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (_, info) = match open_file(&request, &state, &path, AuditAction::DownloadAttachment).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let first = match state.connection().await {
        Ok(mut conn) => store::read_chunk(&mut conn, &state.crypto, &state.blobs, &info, 0).await,
        Err(_) => return unavailable(),
    };
    match first {
        Ok(first) => file_response(&state, info, first),
        Err(error) => {
            tracing::error!(error = %error, "reading an attachment failed");
            unavailable()
        }
    }
}

/// GET: a picture's preview, rendered by Tipsa from the cleaned file (scaled, re-encoded,
/// without metadata); anything but a JPEG or PNG has none.
pub async fn preview(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (who, info) = match open_file(&request, &state, &path, AuditAction::PreviewAttachment).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !info.kind.is_image() {
        return not_found(&state, &request, &who);
    }
    // Decoding takes memory: previews share the upload permits.
    let Ok(permit) = state.uploads.permit().await else {
        return unavailable();
    };
    let bytes = match state.connection().await {
        Ok(mut conn) => store::read_all(&mut conn, &state.crypto, &state.blobs, &info).await,
        Err(_) => return unavailable(),
    };
    let Ok(bytes) = bytes else {
        return unavailable();
    };
    let limits = state.uploads.limits().clone();
    let max_side = state.settings.attachments.preview_max_side;
    let kind = info.kind;
    let rendered =
        tokio::task::spawn_blocking(move || clean::render_preview(kind, &bytes, max_side, &limits))
            .await;
    drop(permit);
    match rendered {
        Ok(Ok(image)) => {
            let media_type = if image.starts_with(b"\x89PNG") {
                "image/png"
            } else {
                "image/jpeg"
            };
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, media_type))
                .insert_header((header::CACHE_CONTROL, "private, no-store"))
                .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
                .insert_header((header::CONTENT_DISPOSITION, "inline"))
                .body(image)
        }
        Ok(Err(refusal)) => {
            tracing::info!(refusal = %refusal, "an attachment could not be previewed");
            let t = state.translations.texts(who.lang);
            HttpResponse::UnprocessableEntity()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .content_type("text/plain; charset=utf-8")
                .body(t.get("tip.file_no_preview").to_owned())
        }
        Err(error) => {
            tracing::error!(error = %error, "rendering a preview failed");
            unavailable()
        }
    }
}
