//! A tip as submitted: the raw draft (from JSON or a form) and the validated `TipSubmission`,
//! which can only be built by `TipSubmission::parse` and so never holds invalid data.
//!
//! Neither type implements `Debug` with content: tip text and contact details never reach logs.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::text::{is_blank, visible_chars};
use super::{FieldError, Taxonomy};

/// Fewest characters a reader can see in a description (`text::visible_chars`).
pub const DESCRIPTION_MIN_CHARS: usize = 20;
/// Most characters of a description, visible or not (what is stored).
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
/// The earliest `occurred_on` accepted: 1900-01-01. A fixed floor rather than "N years back":
/// it refuses the typed-wrong years that reach us (`0000-01-01` was stored as 1 BC, `0026` for
/// 2026) while accepting tips about events in care decades ago, which are real (people report
/// what happened to them in children's homes in the 1950s); and a fixed date can be declared
/// in the OpenAPI document, where a sliding window would change the contract every day.
pub const OCCURRED_ON_EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// Where a tip came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Web,
    Api,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Web, Channel::Api];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Api => "api",
        }
    }
}

/// The language the tipster wrote in and wants answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Sv,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Sv => "sv",
            Language::En => "en",
        }
    }
}

/// A tip as received, before validation. Every field is optional here so that a missing field
/// is reported together with all other problems, not as the first parse error.
#[derive(Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TipDraft {
    /// Category code from the taxonomy.
    #[schema(required = true, value_type = String, example = "patient_safety")]
    pub category: Option<String>,
    /// Care sector code from the taxonomy.
    #[schema(required = true, value_type = String, example = "elderly_residential")]
    pub care_sector: Option<String>,
    /// Two-digit län code.
    #[schema(required = true, value_type = String, example = "01")]
    pub region_code: Option<String>,
    /// Four-digit kommun code; must lie in `region_code`.
    #[schema(example = "0180")]
    pub municipality_code: Option<String>,
    #[validate(length(
        max = 200,
        code = "too_long",
        message = "must be at most 200 characters"
    ))]
    #[schema(max_length = 200, example = "Solgläntans äldreboende")]
    pub facility_name: Option<String>,
    #[validate(length(
        max = 200,
        code = "too_long",
        message = "must be at most 200 characters"
    ))]
    #[schema(max_length = 200)]
    pub care_provider: Option<String>,
    /// ISO date (YYYY-MM-DD), from 1900-01-01 up to today (Swedish date), not in the future.
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-20",
        pattern = r"^(19[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub occurred_on: Option<String>,
    /// The situation is still going on.
    #[serde(default)]
    pub ongoing: Option<bool>,
    /// What happened: at least 20 visible characters (zero-width and other invisible characters
    /// do not count) and at most 10 000 characters after trimming. Do not name patients.
    #[schema(required = true, value_type = String, min_length = 20, max_length = 10000)]
    pub description: Option<String>,
    /// Reporter role code from the taxonomy.
    #[schema(required = true, value_type = String, example = "staff")]
    pub reporter_role: Option<String>,
    /// Outbreak code from the taxonomy's configured list.
    #[schema(example = "covid-19")]
    pub outbreak: Option<String>,
    /// Contact details; leave out to stay anonymous.
    #[validate(nested)]
    pub reporter: Option<ReporterDraft>,
    /// `sv` (default) or `en`.
    pub language: Option<Language>,
    /// Ids of files uploaded first with `POST /api/v1/attachments` by the same API key, in
    /// the order they should be numbered (at most 10, 60 MB together by default).
    pub attachments: Option<Vec<uuid::Uuid>>,
}

/// Contact details of an identified reporter, before validation.
#[derive(Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReporterDraft {
    #[validate(length(
        max = 200,
        code = "too_long",
        message = "must be at most 200 characters"
    ))]
    pub name: Option<String>,
    #[validate(
        email(code = "invalid_email", message = "must be an email address"),
        length(
            max = 254,
            code = "too_long",
            message = "must be at most 254 characters"
        )
    )]
    pub email: Option<String>,
    /// Digits with optional +, spaces, dashes and parentheses; 7 to 15 digits.
    #[validate(custom(function = "validate_phone"))]
    pub phone: Option<String>,
}

/// Contact details of an identified reporter; encrypted before they are stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterContact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for ReporterContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReporterContact(<redacted>)")
    }
}

/// A validated tip, ready to be stored.
#[derive(Clone)]
pub struct TipSubmission {
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub care_provider: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    pub ongoing: bool,
    pub description: String,
    pub reporter_role: String,
    pub outbreak: Option<String>,
    pub reporter: Option<ReporterContact>,
    pub language: Language,
}

impl fmt::Debug for TipSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TipSubmission")
            .field("category", &self.category)
            .field("care_sector", &self.care_sector)
            .field("region_code", &self.region_code)
            .field("anonymous", &self.reporter.is_none())
            .finish_non_exhaustive()
    }
}

impl TipSubmission {
    pub fn is_anonymous(&self) -> bool {
        self.reporter.is_none()
    }

    /// Validates a draft against the taxonomy; `today` is the current date in Sweden.
    /// Returns every failing field, in the order the fields are declared.
    pub fn parse(
        draft: TipDraft,
        taxonomy: &Taxonomy,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldError>> {
        let draft = draft.trimmed();
        let mut errors = match draft.validate() {
            Ok(()) => Vec::new(),
            Err(e) => flatten_validation_errors(&e),
        };
        // PostgreSQL text cannot hold NUL, and no person types one.
        for (field, value) in draft.text_fields() {
            if value.is_some_and(|v| v.contains('\0')) {
                errors.push(FieldError::new(
                    field,
                    "invalid_characters",
                    "must not contain NUL characters",
                ));
            }
        }

        let category = required_code(&draft.category, "category", &mut errors, |c| {
            taxonomy.has_category(c)
        });
        let care_sector = required_code(&draft.care_sector, "care_sector", &mut errors, |c| {
            taxonomy.has_care_sector(c)
        });
        let region_code = required_code(&draft.region_code, "region_code", &mut errors, |c| {
            taxonomy.has_region(c)
        });
        let reporter_role =
            required_code(&draft.reporter_role, "reporter_role", &mut errors, |c| {
                taxonomy.has_reporter_role(c)
            });

        if let Some(municipality) = &draft.municipality_code {
            match taxonomy.region_of_municipality(municipality) {
                None => errors.push(FieldError::new(
                    "municipality_code",
                    "unknown_code",
                    "is not a known municipality code",
                )),
                Some(region) if Some(region) != region_code.as_deref() => {
                    // Only meaningful when the region itself was valid.
                    if region_code.is_some() {
                        errors.push(FieldError::new(
                            "municipality_code",
                            "not_in_region",
                            format!("municipality {municipality} does not lie in the given region"),
                        ));
                    }
                }
                Some(_) => {}
            }
        }

        let occurred_on = draft.occurred_on.as_deref().and_then(|text| {
            match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) if date < OCCURRED_ON_EARLIEST => {
                    errors.push(FieldError::new(
                        "occurred_on",
                        "too_early",
                        format!("must not be before {OCCURRED_ON_EARLIEST}"),
                    ));
                    None
                }
                Ok(date) if date > today => {
                    errors.push(FieldError::new(
                        "occurred_on",
                        "in_future",
                        "must not be in the future",
                    ));
                    None
                }
                Ok(date) => Some(date),
                Err(_) => {
                    errors.push(FieldError::new(
                        "occurred_on",
                        "invalid_date",
                        "must be a date written YYYY-MM-DD",
                    ));
                    None
                }
            }
        });

        match draft.description.as_deref() {
            None => errors.push(required("description")),
            Some(text) => {
                // The minimum counts what a reader sees; the maximum what is stored.
                if visible_chars(text) < DESCRIPTION_MIN_CHARS {
                    errors.push(FieldError::new(
                        "description",
                        "too_short",
                        format!("must have at least {DESCRIPTION_MIN_CHARS} visible characters"),
                    ));
                } else if text.chars().count() > DESCRIPTION_MAX_CHARS {
                    errors.push(FieldError::new(
                        "description",
                        "too_long",
                        format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
                    ));
                }
            }
        }

        if let Some(outbreak) = &draft.outbreak
            && !taxonomy.has_outbreak(outbreak)
        {
            errors.push(FieldError::new(
                "outbreak",
                "unknown_code",
                "is not a configured outbreak code",
            ));
        }

        let reporter = draft.reporter.as_ref().and_then(|r| {
            if r.email.is_none() && r.phone.is_none() {
                errors.push(FieldError::new(
                    "reporter",
                    "contact_required",
                    "give an email address or a phone number, or leave reporter out to stay anonymous",
                ));
                return None;
            }
            Some(ReporterContact {
                name: r.name.clone(),
                email: r.email.clone(),
                phone: r.phone.clone(),
            })
        });

        if !errors.is_empty() {
            errors.sort_by_key(|e| field_position(&e.field));
            errors.dedup_by(|a, b| a.field == b.field && a.code == b.code);
            return Err(errors);
        }

        // All `None`s above were recorded as errors, so these are present.
        match (
            category,
            care_sector,
            region_code,
            reporter_role,
            draft.description,
        ) {
            (
                Some(category),
                Some(care_sector),
                Some(region_code),
                Some(reporter_role),
                Some(description),
            ) => Ok(TipSubmission {
                category,
                care_sector,
                region_code,
                municipality_code: draft.municipality_code,
                facility_name: draft.facility_name,
                care_provider: draft.care_provider,
                occurred_on,
                ongoing: draft.ongoing.unwrap_or(false),
                description,
                reporter_role,
                outbreak: draft.outbreak,
                reporter,
                language: draft.language.unwrap_or_default(),
            }),
            _ => Err(vec![FieldError::new(
                "",
                "invalid",
                "the tip is incomplete",
            )]),
        }
    }
}

impl TipDraft {
    /// Every free-text field with its name, for checks that apply to all of them.
    fn text_fields(&self) -> [(&'static str, Option<&str>); 13] {
        let reporter = self.reporter.as_ref();
        [
            ("category", self.category.as_deref()),
            ("care_sector", self.care_sector.as_deref()),
            ("region_code", self.region_code.as_deref()),
            ("municipality_code", self.municipality_code.as_deref()),
            ("facility_name", self.facility_name.as_deref()),
            ("care_provider", self.care_provider.as_deref()),
            ("occurred_on", self.occurred_on.as_deref()),
            ("description", self.description.as_deref()),
            ("reporter_role", self.reporter_role.as_deref()),
            ("outbreak", self.outbreak.as_deref()),
            ("reporter.name", reporter.and_then(|r| r.name.as_deref())),
            ("reporter.email", reporter.and_then(|r| r.email.as_deref())),
            ("reporter.phone", reporter.and_then(|r| r.phone.as_deref())),
        ]
    }

    /// Trims every text field; blank becomes absent (a form sends empty strings), and so does
    /// text of invisible characters only: a reader could not tell it from no text.
    fn trimmed(self) -> Self {
        TipDraft {
            category: trim(self.category),
            care_sector: trim(self.care_sector),
            region_code: trim(self.region_code),
            municipality_code: trim(self.municipality_code),
            facility_name: trim(self.facility_name),
            care_provider: trim(self.care_provider),
            occurred_on: trim(self.occurred_on),
            ongoing: self.ongoing,
            description: trim(self.description),
            reporter_role: trim(self.reporter_role),
            outbreak: trim(self.outbreak),
            reporter: self.reporter.map(|r| ReporterDraft {
                name: trim(r.name),
                email: trim(r.email),
                phone: trim(r.phone),
            }),
            language: self.language,
            attachments: self.attachments,
        }
    }
}

fn trim(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !is_blank(v))
}

fn required(field: &str) -> FieldError {
    FieldError::new(field, "required", "is required")
}

/// A required taxonomy code: present and known, or an error is recorded.
fn required_code(
    value: &Option<String>,
    field: &str,
    errors: &mut Vec<FieldError>,
    known: impl Fn(&str) -> bool,
) -> Option<String> {
    match value {
        None => {
            errors.push(required(field));
            None
        }
        Some(code) if !known(code) => {
            errors.push(FieldError::new(
                field,
                "unknown_code",
                format!("is not a known {} code", field.trim_end_matches("_code")),
            ));
            None
        }
        Some(code) => Some(code.clone()),
    }
}

fn validate_phone(phone: &str) -> Result<(), validator::ValidationError> {
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let plus_ok = phone.rfind('+').is_none_or(|i| i == 0);
    if allowed && plus_ok && (7..=15).contains(&digits) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("invalid_phone")
            .with_message("must be a phone number of 7 to 15 digits".into()))
    }
}

/// Position of a field in the submission, so errors come out in form order.
fn field_position(field: &str) -> usize {
    const ORDER: &[&str] = &[
        "category",
        "care_sector",
        "region_code",
        "municipality_code",
        "facility_name",
        "care_provider",
        "occurred_on",
        "ongoing",
        "description",
        "reporter_role",
        "outbreak",
        "reporter",
        "reporter.name",
        "reporter.email",
        "reporter.phone",
        "language",
    ];
    ORDER
        .iter()
        .position(|f| *f == field)
        .unwrap_or(ORDER.len())
}

/// Turns validator's nested error map into dotted-path field errors.
pub fn flatten_validation_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    flatten_into(errors, "", &mut out);
    out
}

fn flatten_into(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error
                        .message
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "is invalid".to_owned());
                    out.push(FieldError::new(path.clone(), &error.code, message));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_into(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten_into(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "tip_tests.rs"]
mod tests;
