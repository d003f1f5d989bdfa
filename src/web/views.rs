//! The pages' view models: askama templates (in `templates/`) with the values they show,
//! already translated and escaped by askama on output.

use askama::Template;

use super::forms::FormError;
use super::i18n::{Lang, Page, Texts};

/// What every page's layout needs.
pub struct Chrome<'a> {
    pub t: &'a Texts,
    pub lang: &'static str,
    pub home_href: &'static str,
    /// The same page in the other language.
    pub switch_href: String,
    pub switch_lang: &'static str,
}

impl<'a> Chrome<'a> {
    pub fn new(t: &'a Texts, lang: Lang, page: Page) -> Self {
        let other = lang.other();
        // Forms posted to a step fall back to the form page in the other language.
        let switch_page = match page {
            Page::ReportPreview | Page::ReportSubmit => Page::Report,
            Page::FollowUpReply | Page::FollowUpEnd => Page::FollowUp,
            other_page => other_page,
        };
        let switch_href = match (other, switch_page) {
            // "/" would follow Accept-Language; the explicit choice wins.
            (Lang::Sv, Page::Home) => "/?lang=sv".to_owned(),
            (other, page) => other.path(page).to_owned(),
        };
        Chrome {
            t,
            lang: lang.code(),
            home_href: lang.path(Page::Home),
            switch_href,
            switch_lang: other.code(),
        }
    }
}

/// A choice in a select or radio group.
pub struct Choice {
    pub code: String,
    pub label: String,
    pub selected: bool,
}

/// Municipalities of one län, for the grouped select.
pub struct ChoiceGroup {
    pub region_code: String,
    pub label: String,
    pub choices: Vec<Choice>,
}

/// One labelled input: its id, current value, hint and error.
pub struct Field {
    pub id: &'static str,
    pub label: String,
    pub hint: Option<String>,
    pub value: String,
    pub error: Option<String>,
}

impl Field {
    /// `aria-describedby` for the input: hint then error.
    pub fn describedby(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub report_href: &'static str,
    pub follow_up_href: &'static str,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub action: &'static str,
    pub csrf_token: String,
    pub errors: Vec<FormError>,
    pub identity_number_warning: bool,
    pub category: Field,
    pub categories: Vec<Choice>,
    pub care_sector: Field,
    pub care_sectors: Vec<Choice>,
    pub region_code: Field,
    pub regions: Vec<Choice>,
    pub municipality_code: Field,
    pub municipality_groups: Vec<ChoiceGroup>,
    /// Facility name and care provider.
    pub place_fields: Vec<Field>,
    pub occurred_on: Field,
    pub ongoing: bool,
    pub description: Field,
    pub reporter_role: Field,
    pub reporter_roles: Vec<Choice>,
    pub outbreak: Field,
    pub outbreaks: Vec<Choice>,
    /// Name, email, phone.
    pub contact_fields: Vec<Field>,
    pub files: super::report_page::FilesView,
}

/// One row of the preview.
pub struct Summary {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "preview.html")]
pub struct PreviewPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub submit_action: &'static str,
    pub edit_action: &'static str,
    pub csrf_token: String,
    pub rows: Vec<Summary>,
    pub anonymous: bool,
    /// The form's values, carried as hidden fields to the next step.
    pub hidden: Vec<(&'static str, String)>,
    pub files: super::report_page::FilesView,
}

#[derive(Template)]
#[template(path = "receipt.html")]
pub struct ReceiptPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub reference: String,
    pub receipt_code: String,
    pub follow_up_href: &'static str,
}

#[derive(Template)]
#[template(path = "follow_up.html")]
pub struct FollowUpPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub action: &'static str,
    pub csrf_token: String,
    pub code: Field,
    pub notice: Option<String>,
}

/// A message on the follow-up page.
pub struct MessageView {
    pub from: String,
    pub from_inspectorate: bool,
    pub body: String,
    pub time: String,
}

#[derive(Template)]
#[template(path = "follow_up_tip.html")]
pub struct FollowUpTipPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub reference: String,
    pub status: String,
    pub messages: Vec<MessageView>,
    pub closed: bool,
    pub csrf_token: String,
    pub reply_action: &'static str,
    pub end_action: &'static str,
    pub reply: Field,
    pub notice: Option<String>,
    pub files: ReplyFiles,
}

/// The file field of the follow-up reply.
pub struct ReplyFiles {
    pub error: Option<String>,
    pub limits: String,
}

#[derive(Template)]
#[template(path = "not_found.html")]
pub struct NotFoundPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
}
