//! The tip form: fill in → check (preview, with the identity-number guard) → send → receipt.
//! Works without JavaScript; every step validates on the server with the same rules as the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::forms::{self, FormError, TipForm};
use super::i18n::{Lang, Page, Texts};
use super::views::{
    Choice, ChoiceGroup, Chrome, Field, PreviewPage, ReceiptPage, ReportPage, Summary,
};
use super::{csrf, html, unavailable};
use crate::domain::personnummer::contains_identity_number;
use crate::domain::{Channel, FieldError, Language, Taxonomy, TipSubmission};
use crate::intake::{IntakeError, PreparedTip, Submitter};
use crate::ratelimit::Action;
use crate::state::{AppState, today_in_sweden};

fn language(lang: Lang) -> Language {
    match lang {
        Lang::Sv => Language::Sv,
        Lang::En => Language::En,
    }
}

/// GET: an empty form (anonymous by default).
pub async fn form(request: HttpRequest, state: web::Data<AppState>, lang: Lang) -> HttpResponse {
    render_form(
        &request,
        &state,
        lang,
        &TipForm::default(),
        &[],
        false,
        StatusCode::OK,
    )
}

/// POST from the preview's "change" button: the form again, with the values kept.
pub async fn edit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TipForm>,
    lang: Lang,
) -> HttpResponse {
    render_form(&request, &state, lang, &form, &[], false, StatusCode::OK)
}

/// What a posted form turns into: a valid submission or the form again.
enum Checked {
    Valid(Box<TipSubmission>),
    Invalid(HttpResponse),
}

fn check(request: &HttpRequest, state: &AppState, form: &TipForm, lang: Lang) -> Checked {
    if !csrf::verify(request, form.csrf_token.as_deref()) {
        // Not a field's fault: the summary points at the form as a whole.
        let errors = [FormError {
            id: "tip-form".into(),
            message: state.translations.texts(lang).get("error.csrf").to_owned(),
        }];
        return Checked::Invalid(render_form_with(
            request,
            state,
            lang,
            form,
            &errors,
            false,
            StatusCode::FORBIDDEN,
        ));
    }
    let draft = form.to_draft(language(lang));
    match TipSubmission::parse(draft, &state.taxonomy, today_in_sweden()) {
        Err(errors) => Checked::Invalid(render_form(
            request,
            state,
            lang,
            form,
            &errors,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Ok(_)
            if !form.identity_number_confirmed()
                && form
                    .free_texts()
                    .iter()
                    .any(|t| contains_identity_number(t)) =>
        {
            Checked::Invalid(render_form(
                request,
                state,
                lang,
                form,
                &[],
                true,
                StatusCode::OK,
            ))
        }
        Ok(submission) => Checked::Valid(Box::new(submission)),
    }
}

/// POST: validate, then show the tip for a last look.
pub async fn preview(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TipForm>,
    lang: Lang,
) -> HttpResponse {
    let submission = match check(&request, &state, &form, lang) {
        Checked::Valid(submission) => submission,
        Checked::Invalid(response) => return response,
    };
    let t = state.translations.texts(lang);
    let (csrf_token, cookie) = csrf::token(&request);
    let page = PreviewPage {
        chrome: Chrome::new(t, lang, Page::ReportPreview),
        t,
        title: t.get("preview.title").to_owned(),
        submit_action: lang.path(Page::ReportSubmit),
        edit_action: lang.path(Page::Report),
        csrf_token,
        rows: summary_rows(&submission, &state.taxonomy, t, lang),
        anonymous: submission.is_anonymous(),
        hidden: hidden_fields(&form),
    };
    html(StatusCode::OK, &page, cookie)
}

/// POST: validate again, store, and show the receipt (in this response, never in a URL).
pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<TipForm>,
    lang: Lang,
) -> HttpResponse {
    let submission = match check(&request, &state, &form, lang) {
        Checked::Valid(submission) => submission,
        Checked::Invalid(response) => return response,
    };
    let t = state.translations.texts(lang);
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
            &form,
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
    let accepted = match PreparedTip::new(&state.crypto, *submission, submitter) {
        Ok(prepared) => state.intake.submit(prepared).await,
        Err(error) => Err(error),
    };
    match accepted {
        Ok(accepted) => {
            if accepted.enqueued_due_jobs {
                state.worker_waker.wake();
            }
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
        Err(IntakeError::Unavailable(reason)) => {
            tracing::warn!(reason = %reason, "no database connection for a web submission");
            unavailable()
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "storing a web submission failed");
            unavailable()
        }
    }
}

fn render_form(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    form: &TipForm,
    errors: &[FieldError],
    identity_number_warning: bool,
    status: StatusCode,
) -> HttpResponse {
    let translated = forms::translate(errors, state.translations.texts(lang));
    render_form_with(
        request,
        state,
        lang,
        form,
        &translated,
        identity_number_warning,
        status,
    )
}

fn render_form_with(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    form: &TipForm,
    errors: &[FormError],
    identity_number_warning: bool,
    status: StatusCode,
) -> HttpResponse {
    let t = state.translations.texts(lang);
    let taxonomy = &state.taxonomy;
    let (csrf_token, cookie) = csrf::token(request);
    let error_for = |id: &str| {
        errors
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.message.clone())
    };
    let field = |id: &'static str, value: &str, hint: bool| Field {
        id,
        label: t.get(&format!("report.{id}")).to_owned(),
        hint: hint.then(|| t.get(&format!("report.{id}_hint")).to_owned()),
        value: value.to_owned(),
        error: error_for(id),
    };
    let labels = |list: &[crate::domain::taxonomy::Label], selected: &str| -> Vec<Choice> {
        list.iter()
            .map(|l| Choice {
                code: l.code.clone(),
                label: match lang {
                    Lang::Sv => l.label_sv.clone(),
                    Lang::En => l.label_en.clone(),
                },
                selected: l.code == selected,
            })
            .collect()
    };
    let page = ReportPage {
        chrome: Chrome::new(t, lang, Page::Report),
        t,
        title: t.get("report.title").to_owned(),
        action: lang.path(Page::ReportPreview),
        csrf_token,
        errors: errors.to_vec(),
        identity_number_warning,
        category: field("category", &form.category, false),
        categories: labels(&taxonomy.categories, &form.category),
        care_sector: field("care_sector", &form.care_sector, false),
        care_sectors: labels(&taxonomy.care_sectors, &form.care_sector),
        region_code: field("region_code", &form.region_code, false),
        regions: taxonomy
            .regions
            .iter()
            .map(|r| Choice {
                code: r.code.clone(),
                label: r.name.clone(),
                selected: r.code == form.region_code,
            })
            .collect(),
        municipality_code: field("municipality_code", &form.municipality_code, true),
        municipality_groups: municipality_groups(taxonomy, &form.municipality_code),
        place_fields: vec![
            field("facility_name", &form.facility_name, true),
            field("care_provider", &form.care_provider, true),
        ],
        occurred_on: field("occurred_on", &form.occurred_on, true),
        ongoing: form.ongoing(),
        description: field("description", &form.description, true),
        reporter_role: field("reporter_role", &form.reporter_role, false),
        reporter_roles: labels(&taxonomy.reporter_roles, &form.reporter_role),
        outbreak: field("outbreak", &form.outbreak, false),
        outbreaks: labels(&taxonomy.outbreaks, &form.outbreak),
        contact_fields: vec![
            field("reporter_name", &form.reporter_name, false),
            field("reporter_email", &form.reporter_email, false),
            field("reporter_phone", &form.reporter_phone, false),
        ],
    };
    html(status, &page, cookie)
}

fn municipality_groups(taxonomy: &Taxonomy, selected: &str) -> Vec<ChoiceGroup> {
    taxonomy
        .regions
        .iter()
        .map(|region| ChoiceGroup {
            region_code: region.code.clone(),
            label: region.name.clone(),
            choices: taxonomy
                .municipalities
                .iter()
                .filter(|m| m.region_code == region.code)
                .map(|m| Choice {
                    code: m.code.clone(),
                    label: m.name.clone(),
                    selected: m.code == selected,
                })
                .collect(),
        })
        .collect()
}

/// The preview's rows, in the page's language.
fn summary_rows(tip: &TipSubmission, taxonomy: &Taxonomy, t: &Texts, lang: Lang) -> Vec<Summary> {
    let label_of = |list: &[crate::domain::taxonomy::Label], code: &str| {
        list.iter()
            .find(|l| l.code == code)
            .map(|l| match lang {
                Lang::Sv => l.label_sv.clone(),
                Lang::En => l.label_en.clone(),
            })
            .unwrap_or_else(|| code.to_owned())
    };
    let not_given = || t.get("preview.not_given").to_owned();
    let row = |key: &str, value: String| Summary {
        label: t.get(key).to_owned(),
        value,
    };
    let region = taxonomy
        .regions
        .iter()
        .find(|r| r.code == tip.region_code)
        .map_or_else(|| tip.region_code.clone(), |r| r.name.clone());
    let municipality = tip
        .municipality_code
        .as_deref()
        .map_or_else(not_given, |code| {
            taxonomy
                .municipalities
                .iter()
                .find(|m| m.code == code)
                .map_or_else(|| code.to_owned(), |m| m.name.clone())
        });
    let mut rows = vec![
        row(
            "report.category",
            label_of(&taxonomy.categories, &tip.category),
        ),
        row(
            "report.care_sector",
            label_of(&taxonomy.care_sectors, &tip.care_sector),
        ),
        row("report.region_code", region),
        row("report.municipality_code", municipality),
        row(
            "report.facility_name",
            tip.facility_name.clone().unwrap_or_else(not_given),
        ),
        row(
            "report.care_provider",
            tip.care_provider.clone().unwrap_or_else(not_given),
        ),
        row(
            "report.occurred_on",
            tip.occurred_on
                .map_or_else(not_given, |d| d.format("%Y-%m-%d").to_string()),
        ),
        row(
            "report.ongoing",
            t.get(if tip.ongoing {
                "preview.yes"
            } else {
                "preview.no"
            })
            .to_owned(),
        ),
        row("report.description", tip.description.clone()),
        row(
            "report.reporter_role",
            label_of(&taxonomy.reporter_roles, &tip.reporter_role),
        ),
        row(
            "report.outbreak",
            tip.outbreak.as_deref().map_or_else(
                || t.get("report.outbreak_none").to_owned(),
                |o| label_of(&taxonomy.outbreaks, o),
            ),
        ),
    ];
    if let Some(contact) = &tip.reporter {
        for (key, value) in [
            ("report.reporter_name", &contact.name),
            ("report.reporter_email", &contact.email),
            ("report.reporter_phone", &contact.phone),
        ] {
            rows.push(row(key, value.clone().unwrap_or_else(not_given)));
        }
    }
    rows
}

/// The form's values as hidden fields for the next step.
fn hidden_fields(form: &TipForm) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("category", form.category.clone()),
        ("care_sector", form.care_sector.clone()),
        ("region_code", form.region_code.clone()),
        ("municipality_code", form.municipality_code.clone()),
        ("facility_name", form.facility_name.clone()),
        ("care_provider", form.care_provider.clone()),
        ("occurred_on", form.occurred_on.clone()),
        ("description", form.description.clone()),
        ("reporter_role", form.reporter_role.clone()),
        ("outbreak", form.outbreak.clone()),
        ("reporter_name", form.reporter_name.clone()),
        ("reporter_email", form.reporter_email.clone()),
        ("reporter_phone", form.reporter_phone.clone()),
    ];
    if form.ongoing() {
        fields.push(("ongoing", "on".to_owned()));
    }
    if form.identity_number_confirmed() {
        fields.push(("confirm_no_identity_number", "on".to_owned()));
    }
    fields
}
