//! The tip form: fill in (with files, if any) → check (preview, with the identity-number
//! guard, where files can be removed) → send → receipt. Works without JavaScript; every step
//! validates on the server with the same rules as the API. The pages themselves are built in
//! `report_page`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;

use super::form_files::{self, Posted};
use super::forms::{FormError, TipForm};
use super::i18n::{Lang, Page};
use super::report_page::{Attached, render_form_with, render_preview};
use super::views::{Chrome, ReceiptPage};
use super::{csrf, html, unavailable};
use crate::attachments::link::{self, LinkError, Selection};
use crate::domain::personnummer::contains_identity_number;
use crate::domain::{Channel, Language, TipSubmission};
use crate::intake::{self, AcceptedTip, IntakeError, PreparedTip, Submitter};
use crate::ratelimit::Action;
use crate::state::{AppState, today_in_sweden};

pub(super) fn language(lang: Lang) -> Language {
    match lang {
        Lang::Sv => Language::Sv,
        Lang::En => Language::En,
    }
}

/// GET: an empty form (anonymous by default).
pub async fn form(request: HttpRequest, state: web::Data<AppState>, lang: Lang) -> HttpResponse {
    render_form_with(
        &request,
        &state,
        lang,
        &TipForm::default(),
        &Attached::default(),
        &[],
        false,
        StatusCode::OK,
    )
}

/// POST from the preview's "change" button or a file's "remove" button on the form: the form
/// again, with the values and the remaining files kept.
pub async fn edit(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    lang: Lang,
) -> HttpResponse {
    let posted = match form_files::read::<TipForm>(&request, payload, &state, lang).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let attached = Attached::of(&posted);
    let status = if posted.file_errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_form_with(
        &request,
        &state,
        lang,
        &posted.form,
        &attached,
        &posted.file_errors,
        false,
        status,
    )
}

/// The fields the script's upload sends besides the file.
#[derive(Default, serde::Deserialize)]
pub struct UploadFields {
    #[serde(default)]
    pub csrf_token: Option<String>,
}

/// A file as the script lists it.
#[derive(serde::Serialize)]
struct UploadedFile {
    id: uuid::Uuid,
    name: String,
    kind: String,
    size: String,
    remove_label: String,
}

/// POST (with JavaScript): one file at a time into the form's draft; answers JSON with the
/// draft token, every file of the draft and any refusal, translated.
pub async fn upload(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    lang: Lang,
) -> HttpResponse {
    let posted = match form_files::read::<UploadFields>(&request, payload, &state, lang).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    if !csrf::verify(&request, posted.form.csrf_token.as_deref()) {
        let t = state.translations.texts(lang);
        return HttpResponse::Forbidden()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "errors": [t.get("error.csrf")] }));
    }
    let t = state.translations.texts(lang);
    let files: Vec<UploadedFile> = form_files::rows(&posted.files, t, lang)
        .into_iter()
        .map(|row| UploadedFile {
            id: row.id,
            name: row.name,
            kind: row.kind,
            size: row.size,
            remove_label: row.remove_label,
        })
        .collect();
    let errors: Vec<&str> = posted
        .file_errors
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "draft": posted.draft.token(),
            "files": files,
            "errors": errors,
        }))
}

/// What a posted form turns into: a valid submission or the form again.
enum Checked {
    Valid(Box<TipSubmission>),
    Invalid(HttpResponse),
}

fn check(request: &HttpRequest, state: &AppState, posted: &Posted<TipForm>, lang: Lang) -> Checked {
    let form = &posted.form;
    let attached = Attached::of(posted);
    let t = state.translations.texts(lang);
    let again = |errors: &[FormError], identity_number_warning: bool, status: StatusCode| {
        Checked::Invalid(render_form_with(
            request,
            state,
            lang,
            form,
            &attached,
            errors,
            identity_number_warning,
            status,
        ))
    };
    if !csrf::verify(request, form.csrf_token.as_deref()) {
        // Not a field's fault: the summary points at the form as a whole.
        let errors = [FormError {
            id: "tip-form".into(),
            message: t.get("error.csrf").to_owned(),
        }];
        return again(&errors, false, StatusCode::FORBIDDEN);
    }
    let draft = form.to_draft(language(lang));
    let parsed = TipSubmission::parse(draft, &state.taxonomy, today_in_sweden());
    // Field problems and refused files are shown together.
    let mut errors =
        super::forms::translate(parsed.as_ref().err().map_or(&[][..], Vec::as_slice), t);
    errors.extend(posted.file_errors.iter().cloned());
    let submission = match parsed {
        Ok(submission) if errors.is_empty() => submission,
        _ => return again(&errors, false, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let unconfirmed_identity_number = !form.identity_number_confirmed()
        && form
            .free_texts()
            .iter()
            .any(|t| contains_identity_number(t));
    if unconfirmed_identity_number {
        return again(&[], true, StatusCode::OK);
    }
    Checked::Valid(Box::new(submission))
}

/// POST: take the files, validate, then show the tip and its files for a last look (a file's
/// "remove" button on the preview posts here too).
pub async fn preview(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    lang: Lang,
) -> HttpResponse {
    let posted = match form_files::read::<TipForm>(&request, payload, &state, lang).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let submission = match check(&request, &state, &posted, lang) {
        Checked::Valid(submission) => submission,
        Checked::Invalid(response) => return response,
    };
    render_preview(&request, &state, lang, &posted, &submission)
}

/// POST: validate again, store the tip with its files, and show the receipt (in this
/// response, never in a URL).
pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    lang: Lang,
) -> HttpResponse {
    let posted = match form_files::read::<TipForm>(&request, payload, &state, lang).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let submission = match check(&request, &state, &posted, lang) {
        Checked::Valid(submission) => submission,
        Checked::Invalid(response) => return response,
    };
    let t = state.translations.texts(lang);
    let form = &posted.form;
    let attached = Attached::of(&posted);
    let address = crate::client_address::of(&request, state.settings.public.trust_forwarded_for);
    if state
        .rate_limiter
        .check(Action::SubmitTip, address)
        .is_err()
    {
        let errors = [FormError {
            id: "description".into(),
            message: t.get("error.too_many").to_owned(),
        }];
        return render_form_with(
            &request,
            &state,
            lang,
            form,
            &attached,
            &errors,
            false,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let submitter = Submitter {
        channel: Channel::Web,
        api_key_id: None,
        actor: "web_form".to_owned(),
    };
    let prepared = match PreparedTip::new(&state.crypto, *submission, submitter) {
        Ok(prepared) => prepared,
        Err(error) => return storing_failed(&error),
    };
    let stored = match posted
        .draft
        .hash(&state)
        .filter(|_| !posted.files.is_empty())
    {
        None => state.intake.submit(prepared).await.map_err(Stored::Intake),
        Some(hash) => store_with_files(&state, prepared, &hash).await,
    };
    match stored {
        Ok(accepted) => {
            if accepted.enqueued_due_jobs {
                state.worker_waker.wake();
            }
            crate::monitoring::tip_stored(Channel::Web.as_str(), &accepted.triage);
            html(
                StatusCode::OK,
                &ReceiptPage {
                    chrome: Chrome::new(t, lang, Page::ReportSubmit),
                    t,
                    title: t.get("receipt.title").to_owned(),
                    reference: accepted.reference,
                    receipt_code: accepted.receipt_code.display_form(),
                    follow_up_href: lang.path(Page::FollowUp),
                },
                [],
            )
        }
        Err(Stored::Files(errors)) => {
            // The files changed under the form (expired, or over a limit): show it again.
            let errors: Vec<FormError> = errors
                .iter()
                .map(|e| FormError {
                    id: form_files::FILE_FIELD.to_owned(),
                    message: form_files::link_error_message(t, &state, &e.code),
                })
                .collect();
            render_form_with(
                &request,
                &state,
                lang,
                form,
                &attached,
                &errors,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(Stored::Intake(error)) => storing_failed(&error),
    }
}

enum Stored {
    Intake(IntakeError),
    Files(Vec<crate::domain::FieldError>),
}

/// The tip and the draft's files in one transaction: the receipt means both are committed.
async fn store_with_files(
    state: &AppState,
    prepared: PreparedTip,
    draft_hash: &[u8],
) -> Result<AcceptedTip, Stored> {
    let mut conn = state
        .connection()
        .await
        .map_err(|e| Stored::Intake(IntakeError::Unavailable(e.to_string())))?;
    let limits = link::Limits::of(&state.settings.attachments);
    conn.transaction::<_, Stored, _>(async |conn| {
        let accepted = intake::record_tip(conn, &state.triage, prepared)
            .await
            .map_err(Stored::Intake)?;
        link::attach(
            conn,
            accepted.id,
            None,
            &Selection::Draft(draft_hash),
            limits,
        )
        .await
        .map_err(|error| match error {
            LinkError::Rejected(errors) => Stored::Files(errors),
            LinkError::Database(e) => Stored::Intake(IntakeError::Database(e)),
        })?;
        Ok(accepted)
    })
    .await
}

impl From<diesel::result::Error> for Stored {
    fn from(error: diesel::result::Error) -> Self {
        Stored::Intake(IntakeError::Database(error))
    }
}

fn storing_failed(error: &IntakeError) -> HttpResponse {
    match error {
        IntakeError::Unavailable(reason) => {
            tracing::warn!(reason = %reason, "no database connection for a web submission");
        }
        other => {
            tracing::error!(error = %format!("{other:#}"), "storing a web submission failed");
        }
    }
    unavailable()
}
