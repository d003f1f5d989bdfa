//! The tipster's follow-up pages: enter the receipt code (rate limited), then, in a
//! short-lived session, see the coarse status and messages and answer the inspectorate.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use serde::Deserialize;

use super::i18n::{Lang, Page};
use super::views::{Chrome, Field, FollowUpPage, FollowUpTipPage, MessageView, ReplyFiles};
use super::{csrf, followup_session, form_files, html, see_other, unavailable};
use crate::attachments::link::{self, LinkError, Selection};
use crate::conversation::{self, ConversationError, MessageBody, ReporterView};
use crate::domain::{ReceiptCode, ReporterStatus};
use crate::ratelimit::Action;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    receipt_code: String,
}

#[derive(Deserialize, Default)]
pub struct ReplyForm {
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    reply: String,
}

#[derive(Deserialize)]
pub struct EndForm {
    csrf_token: Option<String>,
}

/// GET: the code form (or straight to the tip while a session is open).
pub async fn form(request: HttpRequest, state: web::Data<AppState>, lang: Lang) -> HttpResponse {
    if followup_session::tip(&state.crypto, &request).is_some() {
        return see_other(lang.path(Page::FollowUpTip), []);
    }
    code_page(&request, &state, lang, None, None, StatusCode::OK)
}

fn code_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    error_key: Option<&str>,
    notice_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let t = state.translations.texts(lang);
    let (csrf_token, cookie) = csrf::token(request);
    let page = FollowUpPage {
        chrome: Chrome::new(t, lang, Page::FollowUp),
        t,
        title: t.get("follow_up.title").to_owned(),
        action: lang.path(Page::FollowUp),
        csrf_token,
        code: Field {
            id: "receipt_code",
            label: t.get("follow_up.code").to_owned(),
            hint: Some(t.get("follow_up.code_hint").to_owned()),
            value: String::new(),
            error: error_key.map(|k| t.get(k).to_owned()),
        },
        notice: notice_key.map(|k| t.get(k).to_owned()),
    };
    html(status, &page, cookie)
}

/// POST: check the code; a match opens the session and shows the tip.
pub async fn open(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
    lang: Lang,
) -> HttpResponse {
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return code_page(
            &request,
            &state,
            lang,
            Some("error.csrf"),
            None,
            StatusCode::FORBIDDEN,
        );
    }
    let address = crate::client_address::of(&request, state.settings.public.trust_forwarded_for);
    if state
        .rate_limiter
        .check(Action::ReceiptCodeAttempt, address)
        .is_err()
    {
        return code_page(
            &request,
            &state,
            lang,
            Some("follow_up.too_many"),
            None,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let Some(code) = ReceiptCode::parse(&form.receipt_code) else {
        return code_page(
            &request,
            &state,
            lang,
            Some("follow_up.bad_code"),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let crypto = &state.crypto;
    let found = match state.connection().await {
        Ok(mut conn) => conversation::tip_for_receipt_code(&mut conn, crypto, &code).await,
        Err(_) => return unavailable(),
    };
    match found {
        Ok(Some(tip_id)) => {
            let lifetime = Duration::from_secs(state.settings.public.followup_session_minutes * 60);
            match followup_session::start(crypto, &request, tip_id, lifetime) {
                Ok(cookie) => see_other(lang.path(Page::FollowUpTip), [cookie]),
                Err(_) => unavailable(),
            }
        }
        Ok(None) => code_page(
            &request,
            &state,
            lang,
            Some("follow_up.wrong_code"),
            None,
            StatusCode::NOT_FOUND,
        ),
        Err(error) => {
            tracing::warn!(error = %error, "looking up a receipt code failed");
            unavailable()
        }
    }
}

/// GET: the tip's coarse status and messages, while the session lasts.
pub async fn show(request: HttpRequest, state: web::Data<AppState>, lang: Lang) -> HttpResponse {
    let notice = request
        .query_string()
        .contains("sent=1")
        .then_some("follow_up.sent");
    tip_page(&request, &state, lang, None, notice, StatusCode::OK, None).await
}

async fn tip_page(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    reply_error: Option<(&str, String)>,
    notice_key: Option<&str>,
    status: StatusCode,
    file_error: Option<String>,
) -> HttpResponse {
    let Some(tip_id) = followup_session::tip(&state.crypto, request) else {
        return code_page(
            request,
            state,
            lang,
            None,
            Some("follow_up.expired"),
            StatusCode::OK,
        );
    };
    let view = match state.connection().await {
        Ok(mut conn) => {
            conn.transaction::<_, ConversationError, _>(async |conn| {
                conversation::reporter_view(conn, tip_id).await
            })
            .await
        }
        Err(_) => return unavailable(),
    };
    let view: ReporterView = match view {
        Ok(view) => view,
        Err(ConversationError::NotFound) => {
            return code_page(
                request,
                state,
                lang,
                None,
                Some("follow_up.expired"),
                StatusCode::OK,
            );
        }
        Err(error) => {
            tracing::warn!(error = %error, "loading a follow-up view failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(lang);
    let (csrf_token, cookie) = csrf::token(request);
    let (reply_error_key, reply_value) = match reply_error {
        // An empty key keeps the text without an error on it (a refused file).
        Some((key, value)) => (Some(key).filter(|k| !k.is_empty()), value),
        None => (None, String::new()),
    };
    let page = FollowUpTipPage {
        chrome: Chrome::new(t, lang, Page::FollowUpTip),
        t,
        title: t.get("follow_up.tip_title").to_owned(),
        reference: view.reference,
        status: t
            .get(&format!("status.{}", view.status.as_str()))
            .to_owned(),
        messages: view
            .messages
            .into_iter()
            .map(|m| MessageView {
                from: t
                    .get(if m.from_inspectorate {
                        "follow_up.from_inspectorate"
                    } else {
                        "follow_up.from_you"
                    })
                    .to_owned(),
                from_inspectorate: m.from_inspectorate,
                body: m.body,
                time: m
                    .created_at
                    .with_timezone(&chrono_tz::Europe::Stockholm)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            })
            .collect(),
        closed: view.status == ReporterStatus::Closed,
        csrf_token,
        reply_action: lang.path(Page::FollowUpReply),
        end_action: lang.path(Page::FollowUpEnd),
        reply: Field {
            id: "reply",
            label: t.get("follow_up.reply").to_owned(),
            hint: Some(t.get("follow_up.reply_hint").to_owned()),
            value: reply_value,
            error: reply_error_key.map(|k| t.get(k).to_owned()),
        },
        notice: notice_key.map(|k| t.get(k).to_owned()),
        files: ReplyFiles {
            error: file_error,
            limits: t
                .get("attachments.limits")
                .replace(
                    "{files}",
                    &state.settings.attachments.max_files_per_tip.to_string(),
                )
                .replace(
                    "{file_mb}",
                    &(state.settings.attachments.max_file_bytes / 1_000_000).to_string(),
                )
                .replace(
                    "{total_mb}",
                    &(state.settings.attachments.max_tip_bytes / 1_000_000).to_string(),
                ),
        },
    };
    html(status, &page, cookie)
}

/// Why a reply with files was not stored.
enum ReplyError {
    Conversation(ConversationError),
    Files(Vec<crate::domain::FieldError>),
}

impl From<ConversationError> for ReplyError {
    fn from(error: ConversationError) -> Self {
        ReplyError::Conversation(error)
    }
}

impl From<diesel::result::Error> for ReplyError {
    fn from(error: diesel::result::Error) -> Self {
        ReplyError::Conversation(ConversationError::Database(error))
    }
}

impl From<LinkError> for ReplyError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Database(e) => e.into(),
            LinkError::Rejected(errors) => ReplyError::Files(errors),
        }
    }
}

/// Removes a reply's uploads that will not be used (best effort; the clean-up catches the rest).
async fn forget_files(state: &AppState, files: &[crate::attachments::AttachmentInfo]) {
    let ids: Vec<uuid::Uuid> = files.iter().map(|f| f.id).collect();
    if let Ok(mut conn) = state.connection().await {
        let _ = crate::attachments::store::delete_pending(&mut conn, &ids).await;
    }
}

/// POST: the tipster's answer, with files if any.
pub async fn reply(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    lang: Lang,
) -> HttpResponse {
    let posted = match form_files::read::<ReplyForm>(&request, payload, &state, lang).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let form = &posted.form;
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return tip_page(
            &request,
            &state,
            lang,
            Some(("error.csrf", form.reply.clone())),
            None,
            StatusCode::FORBIDDEN,
            None,
        )
        .await;
    }
    let Some(tip_id) = followup_session::tip(&state.crypto, &request) else {
        return code_page(
            &request,
            &state,
            lang,
            None,
            Some("follow_up.expired"),
            StatusCode::OK,
        );
    };
    let message = match MessageBody::parse("reply", Some(&form.reply)) {
        Ok(message) => message,
        Err(error) => {
            let key = match error.code.as_str() {
                "too_long" => "error.too_long",
                "invalid_characters" => "error.invalid_characters",
                _ => "error.required",
            };
            return tip_page(
                &request,
                &state,
                lang,
                Some((key, form.reply.clone())),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await;
        }
    };
    if !posted.file_errors.is_empty() {
        // A refused file: nothing of this reply is kept, the text is shown again.
        forget_files(&state, &posted.files).await;
        let message = posted
            .file_errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        return tip_page(
            &request,
            &state,
            lang,
            Some(("", form.reply.clone())),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        )
        .await;
    }
    let draft_hash = posted
        .draft
        .hash(&state)
        .filter(|_| !posted.files.is_empty());
    let limits = link::Limits::of(&state.settings.attachments);
    let result = match state.connection().await {
        Ok(mut conn) => {
            conn.transaction::<_, ReplyError, _>(async |conn| {
                let stored = conversation::reply_from_reporter(conn, tip_id, &message).await?;
                if let Some(hash) = &draft_hash {
                    let selection = Selection::Draft(hash);
                    link::attach(conn, tip_id, Some(stored.id), &selection, limits).await?;
                }
                Ok(())
            })
            .await
        }
        Err(_) => return unavailable(),
    };
    let result = match result {
        Ok(()) => Ok(()),
        Err(ReplyError::Conversation(error)) => Err(error),
        Err(ReplyError::Files(errors)) => {
            forget_files(&state, &posted.files).await;
            let t = state.translations.texts(lang);
            let code = errors
                .first()
                .map_or("unknown_attachment", |e| e.code.as_str());
            let message = form_files::link_error_message(t, &state, code);
            return tip_page(
                &request,
                &state,
                lang,
                Some(("", form.reply.clone())),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
            )
            .await;
        }
    };
    match result {
        Ok(()) => {
            // The reply enqueued a notification job, due now.
            state.worker_waker.wake();
            see_other(&format!("{}?sent=1", lang.path(Page::FollowUpTip)), [])
        }
        Err(ConversationError::Closed | ConversationError::Disposed) => {
            tip_page(
                &request,
                &state,
                lang,
                None,
                Some("follow_up.closed_note"),
                StatusCode::CONFLICT,
                None,
            )
            .await
        }
        Err(ConversationError::NotFound) => code_page(
            &request,
            &state,
            lang,
            None,
            Some("follow_up.expired"),
            StatusCode::OK,
        ),
        Err(error) => {
            tracing::warn!(error = %error, "storing a tipster's reply failed");
            unavailable()
        }
    }
}

/// POST: close the session.
pub async fn end(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<EndForm>,
    lang: Lang,
) -> HttpResponse {
    if !csrf::verify(&request, form.csrf_token.as_deref()) {
        return code_page(
            &request,
            &state,
            lang,
            Some("error.csrf"),
            None,
            StatusCode::FORBIDDEN,
        );
    }
    see_other(lang.path(Page::FollowUp), [followup_session::end()])
}
