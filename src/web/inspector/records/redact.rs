//! Marking a tip's passages to withhold, without JavaScript: each text (the description, each
//! message) split into sentences, each with a "withhold" checkbox and a legal ground; the
//! identity numbers the guard found (and any other stored part-of-sentence range) as checked
//! boxes inside their sentence; a character range field for the rest; and a preview of the
//! text as the copy will show it. Saving carries the request's version and re-renders with
//! the errors on the rows when something does not hold.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use uuid::Uuid;

use super::redact_form::{self, Entry, Submitted, key, parse_key};
use super::{context, handler, not_found, posting};
use crate::records::disclosure_copy::{SegmentView, marker};
use crate::records::redaction::{self, Checked, Part, Redaction, Segment};
use crate::records::request::{self, Actor, Loaded, MessageFacts, RequestError, Status};
use crate::records::review;
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::Texts;
use crate::web::inspector::queue::local_time;
use crate::web::inspector::{Chrome, Section, SignedIn};
use crate::web::views::Choice;
use crate::web::{csrf, html, see_other, unavailable};

pub struct ItemView {
    pub key: String,
    pub html_id: String,
    pub text: String,
    pub offsets: String,
    pub checked: bool,
    pub pre_marked: bool,
    pub grounds: Vec<Choice>,
    pub error: Option<String>,
    pub nested: Vec<ItemView>,
}

pub struct PartView {
    pub index: usize,
    pub heading: String,
    pub length: usize,
    pub items: Vec<ItemView>,
    pub range_value: String,
    pub range_error: Option<String>,
    pub range_grounds: Vec<Choice>,
    pub preview: Vec<SegmentView>,
}

#[derive(Template)]
#[template(path = "inspector/records_redact.html")]
pub struct RedactPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub request_href: String,
    pub action: String,
    pub version: i32,
    pub editable: bool,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub parts: Vec<PartView>,
}

fn heading(t: &Texts, part: Part, messages: &[MessageFacts]) -> String {
    match part {
        Part::Description => t.get("requests.copy_description").to_owned(),
        Part::Message(id) => match messages.iter().find(|m| m.id == id) {
            Some(m) if m.direction == "to_reporter" => format!(
                "{} {}",
                t.get("requests.message_to_reporter"),
                local_time(m.created_at)
            ),
            Some(m) => format!(
                "{} {}",
                t.get("requests.message_from_reporter"),
                local_time(m.created_at)
            ),
            None => part.code(),
        },
    }
}

fn ground_choices(state: &AppState, selected: &str) -> Vec<Choice> {
    state
        .records
        .disclosure
        .grounds
        .iter()
        .map(|g| Choice {
            code: g.code.clone(),
            label: g.code.clone(),
            selected: g.code == selected,
        })
        .collect()
}

/// Builds the parts of one tip: `submitted` is what to show checked after a refused save
/// (otherwise the stored redactions are); `row_errors` are keyed like the form.
fn part_views(
    state: &AppState,
    t: &Texts,
    loaded: &Loaded,
    tip_index: usize,
    submitted: Option<&Submitted>,
    row_errors: &HashMap<String, String>,
) -> Vec<PartView> {
    let tip = &loaded.tips[tip_index];
    let texts = tip.texts();
    let pre_marks = texts.pre_marks();
    let default_ground = state.records.disclosure.reporter_ground.as_str();
    texts
        .parts
        .iter()
        .enumerate()
        .map(|(index, (part, text))| {
            let stored: Vec<&Checked> = tip.redactions.iter().filter(|r| r.part == *part).collect();
            let marks: Vec<Range<usize>> = pre_marks
                .iter()
                .filter(|(p, _)| p == part)
                .map(|(_, r)| r.clone())
                .collect();
            let sentences = redaction::sentences(text);
            // Every other range offered: stored, pre-marked, or ticked before.
            let mut extra: BTreeSet<(usize, usize)> = stored
                .iter()
                .map(|r| (r.range.start, r.range.end))
                .chain(marks.iter().map(|r| (r.start, r.end)))
                .collect();
            if let Some(submitted) = submitted {
                extra.extend(
                    submitted
                        .checked
                        .iter()
                        .filter_map(|k| parse_key(k))
                        .filter(|(i, _)| *i == index)
                        .map(|(_, r)| (r.start, r.end)),
                );
            }
            let item = |range: Range<usize>| {
                let key = key(index, &range);
                let stored_one = stored.iter().find(|r| r.range == range);
                let checked = match submitted {
                    Some(s) => s.checked.contains(&key),
                    None => stored_one.is_some(),
                };
                let ground = submitted
                    .and_then(|s| s.grounds.get(&key).cloned())
                    .or_else(|| stored_one.map(|r| r.ground.clone()))
                    .unwrap_or_else(|| default_ground.to_owned());
                ItemView {
                    html_id: format!("w-{index}-{}-{}", range.start, range.end),
                    text: redaction::slice(text, &range),
                    offsets: format!("{}–{}", range.start, range.end),
                    checked,
                    pre_marked: marks.contains(&range),
                    grounds: ground_choices(state, &ground),
                    error: row_errors.get(&key).cloned(),
                    nested: Vec::new(),
                    key,
                }
            };
            let mut items: Vec<ItemView> = sentences.iter().map(|s| item(s.clone())).collect();
            for (start, end) in extra {
                if sentences.iter().any(|s| s.start == start && s.end == end) {
                    continue;
                }
                let holder = sentences
                    .iter()
                    .position(|s| s.start <= start && start < s.end);
                let view = item(start..end);
                match holder {
                    Some(i) => items[i].nested.push(view),
                    None => items.push(view),
                }
            }
            let range_ground = submitted
                .and_then(|s| s.range_grounds.get(&index).cloned())
                .unwrap_or_else(|| default_ground.to_owned());
            PartView {
                index,
                heading: heading(t, *part, &tip.messages),
                length: text.chars().count(),
                items,
                range_value: submitted
                    .and_then(|s| s.ranges.get(&index).cloned())
                    .unwrap_or_default(),
                range_error: row_errors.get(&format!("range:{index}")).cloned(),
                range_grounds: ground_choices(state, &range_ground),
                preview: redaction::segments(text, &stored)
                    .into_iter()
                    .map(|s| match s {
                        Segment::Kept(text) => SegmentView {
                            withheld: false,
                            text,
                        },
                        Segment::Withheld { ground } => SegmentView {
                            withheld: true,
                            text: marker(t, &ground),
                        },
                    })
                    .collect(),
            }
        })
        .collect()
}

struct Extras {
    notice_key: Option<&'static str>,
    submitted: Option<Submitted>,
    errors: Vec<String>,
    row_errors: HashMap<String, String>,
}

async fn render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    (id, tip_id): (Uuid, Uuid),
    extras: Extras,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let loaded = match request::load(&mut conn, &who.principal, id, false).await {
        Ok(loaded) => loaded,
        Err(RequestError::NotFound) => return not_found(state, request, who),
        Err(error) => {
            tracing::warn!(error = %error, "loading a records request failed");
            return unavailable();
        }
    };
    drop(conn);
    let Some(tip_index) = loaded.tips.iter().position(|t| t.facts.id == tip_id) else {
        return not_found(state, request, who);
    };
    let t = state.translations.texts(who.lang);
    let parts = part_views(
        state,
        t,
        &loaded,
        tip_index,
        extras.submitted.as_ref(),
        &extras.row_errors,
    );
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Records, csrf_token);
    let page = RedactPage {
        title: format!(
            "{} {} ({})",
            t.get("requests.redact_title"),
            loaded.tips[tip_index].facts.reference,
            loaded.request.reference
        ),
        request_href: super::request_path(id),
        action: super::redact_path(id, tip_id),
        version: loaded.request.version,
        editable: loaded.request.status() == Status::Open,
        notice: extras.notice_key.map(|k| t.get(k).to_owned()),
        errors: extras.errors,
        parts,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

fn ids(path: &(String, String)) -> Option<(Uuid, Uuid)> {
    Some((path.0.parse().ok()?, path.1.parse().ok()?))
}

/// GET: the redaction view of one tip.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let who = match handler(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(ids) = ids(&path) else {
        return not_found(&state, &request, &who);
    };
    let notice_key = request
        .query_string()
        .contains("saved=1")
        .then_some("requests.saved");
    let extras = Extras {
        notice_key,
        submitted: None,
        errors: Vec::new(),
        row_errors: HashMap::new(),
    };
    render(&request, &state, &who, ids, extras, StatusCode::OK).await
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// POST: saves the tip's redactions as ticked.
pub async fn save(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let pairs = form.into_inner();
    let who = match posting(&request, &state, value(&pairs, "csrf_token")).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some((id, tip_id)) = ids(&path) else {
        return not_found(&state, &request, &who);
    };
    let t = state.translations.texts(who.lang);
    let default_ground = state.records.disclosure.reporter_ground.clone();
    let invalid = t.get("requests.error_invalid_range");
    let (submitted, entries, row_errors) = redact_form::read(&pairs, &default_ground, invalid);
    let again = async |notice_key, errors: Vec<String>, row_errors, submitted, status| {
        let extras = Extras {
            notice_key,
            submitted: Some(submitted),
            errors,
            row_errors,
        };
        render(&request, &state, &who, (id, tip_id), extras, status).await
    };
    if !row_errors.is_empty() {
        let errors = row_errors.values().cloned().collect();
        return again(
            None,
            errors,
            row_errors,
            submitted,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some(expected) = value(&pairs, "version").and_then(|v| v.parse::<i32>().ok()) else {
        return again(
            Some("requests.stale"),
            Vec::new(),
            row_errors,
            submitted,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let parts = match request::load(&mut conn, &who.principal, id, false).await {
        Ok(loaded) => loaded
            .tips
            .iter()
            .find(|tip| tip.facts.id == tip_id)
            .map(|tip| {
                tip.texts()
                    .parts
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
            }),
        Err(RequestError::NotFound) => None,
        Err(error) => {
            tracing::warn!(error = %error, "loading a records request failed");
            return unavailable();
        }
    };
    let Some(parts) = parts else {
        return not_found(&state, &request, &who);
    };
    let proposed: Vec<Redaction> = entries
        .iter()
        .map(
            |Entry {
                 index,
                 range,
                 ground,
                 ..
             }| Redaction {
                part: parts
                    .get(*index)
                    .map_or_else(|| "unknown".to_owned(), |p| p.code()),
                start: i64::try_from(range.start).unwrap_or(i64::MAX),
                end: i64::try_from(range.end).unwrap_or(i64::MAX),
                ground: ground.clone(),
            },
        )
        .collect();
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &who.principal,
        request_id: request_id.as_deref(),
    };
    let result = review::set_redactions(
        &mut conn,
        context(&state, actor),
        id,
        tip_id,
        expected,
        &proposed,
    )
    .await;
    drop(conn);
    match result {
        Ok(()) => see_other(&format!("{}?saved=1", super::redact_path(id, tip_id)), []),
        Err(RequestError::Invalid(errors)) => {
            let (summary, rows) = redact_form::describe(t, &errors, &entries);
            again(
                None,
                summary,
                rows,
                submitted,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(RequestError::Stale) => {
            again(
                Some("requests.stale"),
                Vec::new(),
                HashMap::new(),
                submitted,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(RequestError::Conflict(_)) => {
            again(
                Some("requests.not_open"),
                Vec::new(),
                HashMap::new(),
                submitted,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(RequestError::NotFound) => not_found(&state, &request, &who),
        Err(error) => {
            tracing::warn!(error = %error, "saving redactions failed");
            unavailable()
        }
    }
}
