//! The tip form's pages: the form (with its file field and the files already attached) and the
//! preview (with the files, each removable), built from the posted values.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::form_files::{self, FileRow, Posted};
use super::forms::{FormError, TipForm};
use super::i18n::{Lang, Page, Texts};
use super::views::{Choice, ChoiceGroup, Chrome, Field, PreviewPage, ReportPage, Summary};
use super::{csrf, html};
use crate::attachments::AttachmentInfo;
use crate::domain::{Taxonomy, TipSubmission};
use crate::state::AppState;

/// The files a form carries: its draft token and the pending uploads under it.
#[derive(Default)]
pub struct Attached {
    pub draft: String,
    pub files: Vec<AttachmentInfo>,
}

impl Attached {
    pub fn of(posted: &Posted<TipForm>) -> Self {
        Attached {
            draft: posted.draft.token().to_owned(),
            files: posted.files.clone(),
        }
    }
}

/// The file field and list, as a page shows them.
pub struct FilesView {
    pub draft: String,
    pub rows: Vec<FileRow>,
    pub error: Option<String>,
    /// The field's hint with the configured limits filled in.
    pub limits: String,
    /// Where a "remove" button posts (the page it is on).
    pub remove_action: &'static str,
    /// Where the script uploads files one by one (with JavaScript).
    pub upload_action: &'static str,
    pub accept: &'static str,
}

/// What the file input offers in the picker (the server decides by content anyway).
const ACCEPT: &str = ".jpg,.jpeg,.png,.pdf,.docx,.xlsx,.odt,.txt,.mp3,.m4a,.ogg,image/jpeg,image/png,application/pdf,text/plain,audio/mpeg,audio/mp4,audio/ogg";

impl FilesView {
    fn new(
        state: &AppState,
        attached: &Attached,
        t: &Texts,
        lang: Lang,
        errors: &[FormError],
    ) -> Self {
        Self::for_page(state, attached, t, lang, errors, lang.path(Page::Report))
    }

    fn for_page(
        state: &AppState,
        attached: &Attached,
        t: &Texts,
        lang: Lang,
        errors: &[FormError],
        remove_action: &'static str,
    ) -> Self {
        let settings = &state.settings.attachments;
        let messages: Vec<&str> = errors
            .iter()
            .filter(|e| e.id == form_files::FILE_FIELD)
            .map(|e| e.message.as_str())
            .collect();
        FilesView {
            draft: attached.draft.clone(),
            rows: form_files::rows(&attached.files, t, lang),
            error: (!messages.is_empty()).then(|| messages.join(" ")),
            limits: t
                .get("attachments.limits")
                .replace("{files}", &settings.max_files_per_tip.to_string())
                .replace(
                    "{file_mb}",
                    &(settings.max_file_bytes / 1_000_000).to_string(),
                )
                .replace(
                    "{total_mb}",
                    &(settings.max_tip_bytes / 1_000_000).to_string(),
                ),
            remove_action,
            upload_action: lang.path(Page::ReportUpload),
            accept: ACCEPT,
        }
    }
}

/// The preview: the tip's values, its files (each removable) and the send button.
pub(super) fn render_preview(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    posted: &Posted<TipForm>,
    submission: &TipSubmission,
) -> HttpResponse {
    let t = state.translations.texts(lang);
    let (csrf_token, cookie) = csrf::token(request);
    let attached = Attached::of(posted);
    let page = PreviewPage {
        chrome: Chrome::new(t, lang, Page::ReportPreview),
        t,
        title: t.get("preview.title").to_owned(),
        submit_action: lang.path(Page::ReportSubmit),
        edit_action: lang.path(Page::Report),
        csrf_token,
        rows: summary_rows(submission, &state.taxonomy, t, lang),
        anonymous: submission.is_anonymous(),
        hidden: hidden_fields(&posted.form),
        files: FilesView::for_page(
            state,
            &attached,
            t,
            lang,
            &[],
            lang.path(Page::ReportPreview),
        ),
    };
    html(StatusCode::OK, &page, cookie)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn render_form_with(
    request: &HttpRequest,
    state: &AppState,
    lang: Lang,
    form: &TipForm,
    attached: &Attached,
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
        files: FilesView::new(state, attached, t, lang, errors),
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
pub(super) fn summary_rows(
    tip: &TipSubmission,
    taxonomy: &Taxonomy,
    t: &Texts,
    lang: Lang,
) -> Vec<Summary> {
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
