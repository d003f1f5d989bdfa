//! The served OpenAPI document (`GET /api/openapi.json`): the annotations' document with the
//! rules only the running service knows filled in, so that a client generated from it cannot
//! send what the handlers refuse.
//!
//! - The code lists as enums: taxonomy codes and teams (loaded at start from the database and
//!   configuration, the same lists the handlers check against), and the fixed lists (periods,
//!   dimensions, priorities, statuses…) from the very constants the parsers use, so the two
//!   cannot drift apart.
//! - Comma-separated lists are arrays with `style: form, explode: false`.
//! - Every query parameter has `allowEmptyValue: true`: an empty value is the same as leaving
//!   the parameter out (`given`).
//! - Text patterns derived from `domain::text` (visible characters, no NUL).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::openapi::ApiDoc;
use super::problem::ApiError;
use crate::domain::text::{NO_NUL_PATTERN, WHITESPACE_CLASS, visible_text_pattern};
use crate::domain::tip::DESCRIPTION_MIN_CHARS;
use crate::domain::{Channel, Outcome, Priority, TipStatus};
use crate::state::AppState;
use crate::stats::{Dimension, Period};

/// The query pairs a handler reads: an empty value (`?period=&from=`) is the same as leaving
/// the parameter out.
///
/// Why the handler changed rather than the schema: an empty value is what an HTML form sends
/// for a field left blank and what URL templates produce for an unset variable, and it has
/// no other meaning an API user could intend (an empty period, an empty date). Refusing it was
/// a trap (a new user's first `?from=&to=&period=week` got 422), and the situation page, which
/// reads the same selection, already treated empty fields as "any". The document says so with
/// `allowEmptyValue`, so a generated client keeps clean types (`format: date`, the period enum).
pub fn given(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect()
}

/// `GET /api/openapi.json`.
pub async fn openapi_json(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let document = document(&state).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(document))
}

/// The document with every rule filled in.
pub fn document(state: &AppState) -> Result<Value, serde_json::Error> {
    let mut document = serde_json::to_value(ApiDoc::openapi())?;
    let lists = CodeLists::of(state);
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, operation) in paths.iter_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            let records = path.starts_with(RECORDS_REQUESTS);
            for parameters in operation
                .values_mut()
                .filter_map(|op| op.get_mut("parameters"))
                .filter_map(Value::as_array_mut)
            {
                for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
                    if parameter.get("in").and_then(Value::as_str) == Some("query") {
                        query_parameter(parameter, &lists, records);
                    }
                }
            }
        }
    }
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        body_properties(schemas, &lists);
    }
    Ok(document)
}

/// Every code list a parameter or body field is checked against.
struct CodeLists {
    regions: Vec<String>,
    municipalities: Vec<String>,
    categories: Vec<String>,
    care_sectors: Vec<String>,
    reporter_roles: Vec<String>,
    outbreaks: Vec<String>,
    teams: Vec<String>,
}

impl CodeLists {
    fn of(state: &AppState) -> Self {
        let taxonomy = &state.taxonomy;
        let codes = |labels: &[crate::domain::taxonomy::Label]| {
            labels.iter().map(|l| l.code.clone()).collect::<Vec<_>>()
        };
        CodeLists {
            regions: taxonomy.regions.iter().map(|r| r.code.clone()).collect(),
            municipalities: taxonomy
                .municipalities
                .iter()
                .map(|m| m.code.clone())
                .collect(),
            categories: codes(&taxonomy.categories),
            care_sectors: codes(&taxonomy.care_sectors),
            reporter_roles: codes(&taxonomy.reporter_roles),
            outbreaks: codes(&taxonomy.outbreaks),
            teams: state.triage.teams.iter().map(|t| t.code.clone()).collect(),
        }
    }

    /// The taxonomy list of a field named after it (the same names in queries and bodies).
    fn taxonomy(&self, name: &str) -> Option<Vec<String>> {
        Some(
            match name {
                "region_code" => &self.regions,
                "municipality_code" => &self.municipalities,
                "category" => &self.categories,
                "care_sector" => &self.care_sectors,
                "reporter_role" => &self.reporter_roles,
                "outbreak" => &self.outbreaks,
                _ => return None,
            }
            .clone(),
        )
    }

    /// The values a query parameter takes, by its name.
    fn query(&self, name: &str) -> Option<Vec<String>> {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let statuses = TIP_STATUSES.map(TipStatus::as_str);
        Some(match name {
            "team" => self.teams.clone(),
            "priority" => owned(&Priority::ALL.map(Priority::as_str)),
            "outcome" => owned(&Outcome::ALL.map(Outcome::as_str)),
            "channel" => owned(&[Channel::Web, Channel::Api].map(Channel::as_str)),
            "period" => owned(&[Period::Day, Period::Week, Period::Month].map(Period::as_str)),
            "group_by" => owned(&Dimension::ALL.map(Dimension::as_str)),
            // The queue's status list takes the two shorthands besides the statuses.
            "status" => owned(&[&statuses[..], &["open", "all"]].concat()),
            "format" => owned(&["csv", "json"]),
            "headers" => owned(&["sv", "en"]),
            other => return self.taxonomy(other),
        })
    }
}

const TIP_STATUSES: [TipStatus; 4] = [
    TipStatus::New,
    TipStatus::InReview,
    TipStatus::AwaitingReporter,
    TipStatus::Closed,
];

/// The public-records requests' paths: their `status` is a request's, not a tip's.
const RECORDS_REQUESTS: &str = "/api/v1/records-requests";

fn query_parameter(parameter: &mut Map<String, Value>, lists: &CodeLists, records: bool) {
    parameter.insert("allowEmptyValue".into(), Value::Bool(true));
    let name = parameter
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else {
        return;
    };
    let is_array = schema.get("type").is_some_and(|t| has_type(t, "array"));
    let values = if records && name == "status" {
        Some(
            crate::records::request::Status::ALL
                .map(|s| s.as_str().to_owned())
                .to_vec(),
        )
    } else {
        lists.query(&name)
    };
    if let Some(values) = values {
        if is_array {
            if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
                set_enum(items, &values);
            }
            if values.is_empty() {
                // No code to list: only leaving it out (or empty) is accepted.
                schema.remove("minItems");
                schema.insert("maxItems".into(), json!(0));
            }
        } else {
            set_enum(schema, &values);
        }
    }
    if name == "group_by" {
        schema.insert("uniqueItems".into(), Value::Bool(true));
    }
    if name == "q" {
        // Not only whitespace (it is trimmed), no NUL.
        schema.insert(
            "pattern".into(),
            json!(format!(
                r"^[^\u0000]*[^\u0000{WHITESPACE_CLASS}][^\u0000]*$"
            )),
        );
    }
    if is_array {
        parameter.insert("style".into(), json!("form"));
        parameter.insert("explode".into(), Value::Bool(false));
    }
}

fn body_properties(schemas: &mut Map<String, Value>, lists: &CodeLists) {
    let mut edits: Vec<(&str, &str, Edit)> = Vec::new();
    for name in [
        "category",
        "care_sector",
        "region_code",
        "municipality_code",
        "reporter_role",
        "outbreak",
    ] {
        if let Some(values) = lists.taxonomy(name) {
            edits.push(("TipDraft", name, Edit::Enum(values)));
        }
    }
    let visible_description = visible_text_pattern(DESCRIPTION_MIN_CHARS);
    let visible_message = visible_text_pattern(1);
    edits.extend([
        (
            "TipDraft",
            "description",
            Edit::Pattern(visible_description),
        ),
        (
            "TipDraft",
            "facility_name",
            Edit::Pattern(NO_NUL_PATTERN.into()),
        ),
        (
            "TipDraft",
            "care_provider",
            Edit::Pattern(NO_NUL_PATTERN.into()),
        ),
        (
            "ReporterDraft",
            "name",
            Edit::Pattern(NO_NUL_PATTERN.into()),
        ),
        (
            "PostMessageRequest",
            "body",
            Edit::Pattern(visible_message.clone()),
        ),
        (
            "FollowUpReplyRequest",
            "body",
            Edit::Pattern(visible_message.clone()),
        ),
        (
            "PlaceLegalHoldRequest",
            "reason",
            Edit::Pattern(visible_message.clone()),
        ),
        (
            "LiftLegalHoldRequest",
            "reason",
            Edit::Pattern(visible_message),
        ),
        (
            "PatchTipRequest",
            "status",
            Edit::Enum(TIP_STATUSES.map(|s| s.as_str().to_owned()).to_vec()),
        ),
        (
            "PatchTipRequest",
            "outcome",
            Edit::Enum(Outcome::ALL.map(|o| o.as_str().to_owned()).to_vec()),
        ),
    ]);
    for (schema, name, edit) in edits {
        let Some(target) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{name}")))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        match edit {
            Edit::Enum(values) => set_enum(target, &values),
            Edit::Pattern(pattern) => {
                target.insert("pattern".into(), json!(pattern));
            }
        }
    }
}

enum Edit {
    Enum(Vec<String>),
    Pattern(String),
}

/// Whether a `type` (a name or a list of names) includes `name`.
fn has_type(value: &Value, name: &str) -> bool {
    match value {
        Value::String(s) => s == name,
        Value::Array(list) => list.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// Sets `enum`; a nullable schema keeps null among its values.
fn set_enum(schema: &mut Map<String, Value>, values: &[String]) {
    let mut list: Vec<Value> = values.iter().map(|v| json!(v)).collect();
    if schema.get("type").is_some_and(|t| has_type(t, "null")) {
        list.push(Value::Null);
    }
    schema.insert("enum".into(), Value::Array(list));
}
