//! A public-records request's page: what was asked and when, the tips it covers with how many
//! passages are marked in each, the decision form while open, the approval form for a second
//! person while a proposal awaits one, and once decided the decision and the copy (served as
//! handed out, audited).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use super::{actor_name, context, decision_label, error_text, handler, not_found, posting};
use crate::auth::accounts;
use crate::domain::FieldError;
use crate::records::disclosure_copy;
use crate::records::request::{self, Actor, Outcome, RequestError, Status};
use crate::records::review::{self, Approval, Proposal};
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::Texts;
use crate::web::inspector::queue::local_time;
use crate::web::inspector::tip::Row;
use crate::web::inspector::{Chrome, Section, SignedIn};
use crate::web::views::Choice;
use crate::web::{csrf, html, see_other, unavailable};

pub struct TipLine {
    pub reference: String,
    pub tip_href: String,
    pub redact_href: String,
    pub marked: usize,
    pub pre_marks: usize,
    pub messages: usize,
    pub attachments: usize,
}

#[derive(Template)]
#[template(path = "inspector/records_request.html")]
pub struct RequestPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub id: String,
    pub version: i32,
    pub notice: Option<String>,
    pub errors: Vec<(String, String)>,
    pub facts: Vec<Row>,
    pub tips: Vec<TipLine>,
    pub open: bool,
    pub awaiting: bool,
    pub proposed_by_me: bool,
    pub second_approval: bool,
    pub decisions: Vec<Choice>,
    pub note: String,
    pub note_error: Option<String>,
    pub decision_error: Option<String>,
    pub copy_href: Option<String>,
    pub copy_sha256: String,
}

#[derive(Deserialize)]
pub struct DecisionForm {
    csrf_token: Option<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
pub struct ApprovalForm {
    csrf_token: Option<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    note: String,
}

/// What a render adds to the plain page.
#[derive(Default)]
struct Extras {
    notice_key: Option<&'static str>,
    errors: Vec<FieldError>,
    decision: String,
    note: String,
}

fn request_id(path: &str) -> Option<Uuid> {
    path.parse().ok()
}

async fn render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    id: Uuid,
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
    let (copy, people) = match async {
        let copy = disclosure_copy::meta(&mut conn, id).await?;
        let people = accounts::list(&mut conn).await?;
        Ok::<_, diesel::result::Error>((copy, people))
    }
    .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %error, "loading a records request failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let r = &loaded.request;
    let yes_no = |b: bool| t.get(if b { "tip.yes" } else { "tip.no" }).to_owned();
    let mut facts = vec![
        Row {
            label: t.get("requests.col_status").to_owned(),
            value: super::status_label(t, &r.status),
        },
        Row {
            label: t.get("requests.received_on").to_owned(),
            value: r.received_on.to_string(),
        },
        Row {
            label: t.get("requests.requester_given").to_owned(),
            value: yes_no(r.requester_given()),
        },
        Row {
            label: t.get("requests.registered_by").to_owned(),
            value: format!(
                "{}, {}",
                actor_name(&r.registered_by, &people, t),
                local_time(r.registered_at)
            ),
        },
    ];
    if let Some(decision) = &r.decision {
        facts.push(Row {
            label: t
                .get(if r.status() == Status::Decided {
                    "requests.decision"
                } else {
                    "requests.proposed_decision"
                })
                .to_owned(),
            value: decision_label(t, decision),
        });
    }
    if let Some(note) = &r.decision_note {
        facts.push(Row {
            label: t.get("requests.note").to_owned(),
            value: note.clone(),
        });
    }
    if let (Some(by), Some(at)) = (&r.proposed_by, r.proposed_at) {
        facts.push(Row {
            label: t.get("requests.proposed_by").to_owned(),
            value: format!("{}, {}", actor_name(by, &people, t), local_time(at)),
        });
    }
    if let (Some(by), Some(at)) = (&r.decided_by, r.decided_at) {
        facts.push(Row {
            label: t.get("requests.decided_by").to_owned(),
            value: format!("{}, {}", actor_name(by, &people, t), local_time(at)),
        });
    }
    let tips = loaded
        .tips
        .iter()
        .map(|tip| TipLine {
            reference: tip.facts.reference.clone(),
            tip_href: format!("/inspektor/tips/{}", tip.facts.id),
            redact_href: super::redact_path(id, tip.facts.id),
            marked: tip.redactions.len(),
            pre_marks: tip.texts().pre_marks().len(),
            messages: tip.messages.len(),
            attachments: tip.attachments.len(),
        })
        .collect();
    let decisions = Outcome::ALL
        .iter()
        .map(|o| Choice {
            code: o.as_str().to_owned(),
            label: decision_label(t, o.as_str()),
            selected: extras.decision == o.as_str(),
        })
        .collect();
    let field_error = |name: &str| {
        extras
            .errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| error_text(t, e))
    };
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Records, csrf_token);
    let me = who.principal.actor();
    let page = RequestPage {
        title: format!("{} {}", t.get("requests.request_title"), r.reference),
        id: id.to_string(),
        version: r.version,
        notice: extras.notice_key.map(|k| t.get(k).to_owned()),
        errors: extras
            .errors
            .iter()
            .map(|e| (e.field.replace('_', "-"), error_text(t, e)))
            .collect(),
        facts,
        tips,
        open: r.status() == Status::Open,
        awaiting: r.status() == Status::AwaitingApproval,
        proposed_by_me: r.proposed_by.as_deref() == Some(me.as_str()),
        second_approval: state.records.disclosure.require_second_approval,
        decisions,
        note: extras.note.clone(),
        note_error: field_error("note"),
        decision_error: field_error("decision"),
        copy_href: copy
            .as_ref()
            .map(|_| format!("{}/kopia", super::request_path(id))),
        copy_sha256: copy.map(|c| hex::encode(c.sha256)).unwrap_or_default(),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: the request.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let who = match handler(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = request_id(&path) else {
        return not_found(&state, &request, &who);
    };
    let notice_key = match request.query_string() {
        q if q.contains("registered=1") => Some("requests.registered"),
        q if q.contains("proposed=1") => Some("requests.proposed"),
        q if q.contains("decided=1") => Some("requests.decided"),
        q if q.contains("sent_back=1") => Some("requests.sent_back"),
        _ => None,
    };
    let extras = Extras {
        notice_key,
        ..Extras::default()
    };
    render(&request, &state, &who, id, extras, StatusCode::OK).await
}

/// The page again after a refused change.
async fn refused(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    id: Uuid,
    error: RequestError,
    mut extras: Extras,
) -> HttpResponse {
    let status = match error {
        RequestError::NotFound => return not_found(state, request, who),
        RequestError::Invalid(errors) => {
            extras.errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RequestError::Stale => {
            extras.notice_key = Some("requests.stale");
            StatusCode::CONFLICT
        }
        RequestError::Conflict(message) => {
            extras.notice_key = Some(if message.starts_with("the decision must be approved") {
                "requests.same_approver"
            } else {
                "requests.not_open"
            });
            StatusCode::CONFLICT
        }
        other => {
            tracing::warn!(error = %other, "changing a records request failed");
            return unavailable();
        }
    };
    render(request, state, who, id, extras, status).await
}

fn version_of(text: &str) -> Result<i32, RequestError> {
    text.parse().map_err(|_| {
        RequestError::Invalid(vec![FieldError::new(
            "version",
            "required",
            "reload the page",
        )])
    })
}

/// POST: propose (or, without second approval, make) the decision.
pub async fn decide(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> HttpResponse {
    let who = match posting(&request, &state, form.csrf_token.as_deref()).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = request_id(&path) else {
        return super::not_found(&state, &request, &who);
    };
    let extras = Extras {
        decision: form.decision.clone(),
        note: form.note.clone(),
        ..Extras::default()
    };
    let proposal = Proposal {
        decision: Some(form.decision.clone()),
        note: Some(form.note.clone()),
    };
    let expected = match version_of(&form.version) {
        Ok(expected) => expected,
        Err(error) => return refused(&request, &state, &who, id, error, extras).await,
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &who.principal,
        request_id: request_id.as_deref(),
    };
    let result = review::propose(&mut conn, context(&state, actor), id, expected, &proposal).await;
    drop(conn);
    match result {
        Ok(Status::AwaitingApproval) => {
            see_other(&format!("{}?proposed=1", super::request_path(id)), [])
        }
        Ok(_) => see_other(&format!("{}?decided=1", super::request_path(id)), []),
        Err(error) => refused(&request, &state, &who, id, error, extras).await,
    }
}

/// POST: the second person approves, or sends the proposal back with a reason.
pub async fn approve(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ApprovalForm>,
) -> HttpResponse {
    let who = match posting(&request, &state, form.csrf_token.as_deref()).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = request_id(&path) else {
        return super::not_found(&state, &request, &who);
    };
    let extras = Extras {
        note: form.note.clone(),
        ..Extras::default()
    };
    let answer = match form.answer.as_str() {
        "approve" => Ok(true),
        "send_back" => Ok(false),
        _ => Err(RequestError::Invalid(vec![FieldError::new(
            "answer",
            "required",
            "approve or send back",
        )])),
    };
    let (approve, expected) = match (answer, version_of(&form.version)) {
        (Ok(approve), Ok(expected)) => (approve, expected),
        (Err(error), _) | (_, Err(error)) => {
            return refused(&request, &state, &who, id, error, extras).await;
        }
    };
    let approval = Approval {
        approve,
        note: Some(form.note.clone()),
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &who.principal,
        request_id: request_id.as_deref(),
    };
    let result = review::answer(&mut conn, context(&state, actor), id, expected, &approval).await;
    drop(conn);
    match result {
        Ok(Status::Open) => see_other(&format!("{}?sent_back=1", super::request_path(id)), []),
        Ok(_) => see_other(&format!("{}?decided=1", super::request_path(id)), []),
        Err(error) => refused(&request, &state, &who, id, error, extras).await,
    }
}

/// GET: the copy as handed out (one audit row).
pub async fn copy(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let who = match handler(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = request_id(&path) else {
        return not_found(&state, &request, &who);
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let request_id = telemetry::request_id(&request);
    let actor = Actor {
        principal: &who.principal,
        request_id: request_id.as_deref(),
    };
    match disclosure_copy::read(&mut conn, &state.crypto, actor, id).await {
        Ok(copy) => crate::api::records_requests::copy_response(&copy),
        Err(RequestError::Conflict(_)) => {
            drop(conn);
            let extras = Extras {
                notice_key: Some("requests.no_copy"),
                ..Extras::default()
            };
            render(&request, &state, &who, id, extras, StatusCode::CONFLICT).await
        }
        Err(RequestError::NotFound) => not_found(&state, &request, &who),
        Err(error) => {
            tracing::warn!(error = %error, "reading a disclosure copy failed");
            unavailable()
        }
    }
}
