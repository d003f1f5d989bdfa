//! The tip form as posted by a browser (`application/x-www-form-urlencoded`), its conversion
//! into the same `TipDraft` the API uses, and field errors in the page's language.

use serde::{Deserialize, Serialize};

use super::i18n::Texts;
use crate::domain::tip::ReporterDraft;
use crate::domain::{FieldError, Language, TipDraft};

/// Every field of the form, as text (checkboxes send "on" when ticked).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TipForm {
    pub csrf_token: Option<String>,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: String,
    pub facility_name: String,
    pub care_provider: String,
    pub occurred_on: String,
    pub ongoing: Option<String>,
    pub description: String,
    pub reporter_role: String,
    pub outbreak: String,
    pub reporter_name: String,
    pub reporter_email: String,
    pub reporter_phone: String,
    /// The tipster confirmed the identity-number warning.
    pub confirm_no_identity_number: Option<String>,
}

fn text(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl TipForm {
    pub fn ongoing(&self) -> bool {
        self.ongoing.as_deref() == Some("on")
    }

    pub fn identity_number_confirmed(&self) -> bool {
        self.confirm_no_identity_number.as_deref() == Some("on")
    }

    /// True when any contact field is filled in (the tipster chose to be identified).
    pub fn has_contact(&self) -> bool {
        [
            &self.reporter_name,
            &self.reporter_email,
            &self.reporter_phone,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    /// The free-text fields the confidentiality guard looks at.
    pub fn free_texts(&self) -> [&str; 3] {
        [&self.description, &self.facility_name, &self.care_provider]
    }

    pub fn to_draft(&self, language: Language) -> TipDraft {
        TipDraft {
            category: text(&self.category),
            care_sector: text(&self.care_sector),
            region_code: text(&self.region_code),
            municipality_code: text(&self.municipality_code),
            facility_name: text(&self.facility_name),
            care_provider: text(&self.care_provider),
            occurred_on: text(&self.occurred_on),
            ongoing: Some(self.ongoing()),
            description: text(&self.description),
            reporter_role: text(&self.reporter_role),
            outbreak: text(&self.outbreak),
            reporter: self.has_contact().then(|| ReporterDraft {
                name: text(&self.reporter_name),
                email: text(&self.reporter_email),
                phone: text(&self.reporter_phone),
            }),
            language: Some(language),
            // The form's files travel with its draft token, not in the draft.
            attachments: None,
        }
    }
}

/// A field error ready for the page: the input's id and a translated message.
#[derive(Debug, Clone)]
pub struct FormError {
    pub id: String,
    pub message: String,
}

/// The form input id a domain field path belongs to (`reporter.email` → `reporter_email`;
/// a missing contact points at the email field).
pub fn input_id(field: &str) -> String {
    match field {
        "reporter" => "reporter_email".to_owned(),
        other => other.replace('.', "_"),
    }
}

pub fn translate(errors: &[FieldError], texts: &Texts) -> Vec<FormError> {
    errors
        .iter()
        .map(|e| FormError {
            id: input_id(&e.field),
            message: texts.get(&format!("error.{}", e.code)).to_owned(),
        })
        .collect()
}
