//! The public-records hub (`/inspektor/allmanna-handlingar`): requests still open or awaiting
//! approval first, the decided ones below (paged), the form to register a new request (with
//! the tip prefilled when coming from a tip's page), and the way to the legal holds.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::{HOLDS, RECORDS, decision_label, error_text, posting};
use crate::access;
use crate::auth::policy::{Action, Decision, Role, TipVerb};
use crate::domain::FieldError;
use crate::records::request::{self, Actor, Cursor, ListRow, Registration, RequestError, Status};
use crate::state::{AppState, today_in_sweden};
use crate::telemetry;
use crate::web::i18n::Texts;
use crate::web::inspector::queue::local_time;
use crate::web::inspector::{Chrome, Section, SignedIn, forbidden, signed_in};
use crate::web::{csrf, html, see_other, unavailable};

/// Decided requests per page.
const DECIDED_PAGE: i64 = 25;
/// Pending requests shown (a registrar's open work; more is a backlog to page through the API).
const PENDING_LIMIT: i64 = 200;

pub struct RowView {
    pub href: String,
    pub reference: String,
    pub received_on: String,
    pub status: String,
    pub tips: String,
    pub registered: String,
}

pub struct FormView {
    pub received_on: String,
    pub requester: String,
    pub tips: String,
    pub received_on_error: Option<String>,
    pub requester_error: Option<String>,
    pub tips_errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "inspector/records_hub.html")]
pub struct HubPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub handles_requests: bool,
    pub holds_href: &'static str,
    pub pending: Vec<RowView>,
    pub decided: Vec<RowView>,
    pub older_href: Option<String>,
    pub newer_href: Option<String>,
    pub form: FormView,
    pub errors: Vec<(String, String)>,
    pub today: String,
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf_token: Option<String>,
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    requester: String,
    #[serde(default)]
    tips: String,
}

fn row_view(t: &Texts, row: ListRow) -> RowView {
    let r = row.request;
    let status = match (&r.decision, r.status()) {
        (Some(decision), Status::Decided) => decision_label(t, decision),
        _ => super::status_label(t, &r.status),
    };
    RowView {
        href: super::request_path(r.id),
        reference: r.reference,
        received_on: r.received_on.to_string(),
        status,
        tips: row.tip_references.join(", "),
        registered: local_time(r.registered_at),
    }
}

/// Loads the lists and renders the hub.
async fn render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    form: FormView,
    errors: Vec<(String, String)>,
    status: StatusCode,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    let handles_requests = who.may(Action::ReadRecordsRequests) == Decision::Allow;
    let before = query_value(request, "before").and_then(|c| Cursor::decode(&c));
    let (mut pending, mut decided, mut older_href) = (Vec::new(), Vec::new(), None);
    if handles_requests {
        let Ok(mut conn) = state.connection().await else {
            return unavailable();
        };
        let principal = &who.principal;
        let open = [Status::Open, Status::AwaitingApproval];
        let loaded = async {
            let (open_rows, _) =
                request::list(&mut conn, principal, &open, None, PENDING_LIMIT).await?;
            let (done, next) = request::list(
                &mut conn,
                principal,
                &[Status::Decided],
                before,
                DECIDED_PAGE,
            )
            .await?;
            Ok::<_, diesel::result::Error>((open_rows, done, next))
        }
        .await;
        match loaded {
            Ok((open_rows, done, next)) => {
                pending = open_rows.into_iter().map(|r| row_view(t, r)).collect();
                decided = done.into_iter().map(|r| row_view(t, r)).collect();
                older_href = next.map(|c| format!("{RECORDS}?before={}#decided", c.encode()));
            }
            Err(error) => {
                tracing::warn!(error = %error, "listing records requests failed");
                return unavailable();
            }
        }
    }
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Records, csrf_token);
    let page = HubPage {
        title: t.get("requests.hub_title").to_owned(),
        handles_requests,
        holds_href: HOLDS,
        pending,
        decided,
        older_href,
        newer_href: before.map(|_| format!("{RECORDS}#decided")),
        form,
        errors,
        today: today_in_sweden().to_string(),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

fn query_value(request: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .ok()?
        .into_inner()
        .into_iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v)
}

/// GET: the hub; `?tip=<id>` prefills the form with that tip's reference.
pub async fn show(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if who.may(Action::ReadRecordsRequests) != Decision::Allow && !who.account.has(Role::Admin) {
        return forbidden(&state, &request, &who);
    }
    let mut tips = String::new();
    if let Some(tip_id) = query_value(&request, "tip").and_then(|id| id.parse::<Uuid>().ok()) {
        let Ok(mut conn) = state.connection().await else {
            return unavailable();
        };
        // Only a tip the person may read is named (the form checks again when posted).
        if let Ok(Ok(_)) = access::tip(&mut conn, &who.principal, tip_id, TipVerb::Read).await
            && let Ok(Some(tip)) = crate::db::tips::find(&mut conn, tip_id).await
        {
            tips = tip.reference;
        }
    }
    let form = FormView {
        received_on: today_in_sweden().to_string(),
        requester: String::new(),
        tips,
        received_on_error: None,
        requester_error: None,
        tips_errors: Vec::new(),
    };
    render(&request, &state, &who, form, Vec::new(), StatusCode::OK).await
}

/// POST: registers a request; to its page, or the form again with what is wrong.
pub async fn register(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RegisterForm>,
) -> HttpResponse {
    let who = match posting(&request, &state, form.csrf_token.as_deref()).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let names: Vec<String> = form
        .tips
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let date = form.received_on.trim();
    let received_on = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok();
    let mut date_error = (!date.is_empty() && received_on.is_none())
        .then(|| t.get("requests.error_invalid_date").to_owned());
    let registration = Registration {
        received_on,
        requester: Some(form.requester.clone()),
        tips: names.clone(),
    };
    let errors = if date_error.is_some() {
        Vec::new()
    } else {
        let request_id = telemetry::request_id(&request);
        let actor = Actor {
            principal: &who.principal,
            request_id: request_id.as_deref(),
        };
        let Ok(mut conn) = state.connection().await else {
            return unavailable();
        };
        let today = today_in_sweden();
        match request::register(
            &mut conn,
            &state.crypto,
            &state.records,
            actor,
            &registration,
            today,
        )
        .await
        {
            Ok(id) => return see_other(&format!("{}?registered=1", super::request_path(id)), []),
            Err(RequestError::Invalid(errors)) => errors,
            Err(error) => {
                tracing::warn!(error = %error, "registering a records request failed");
                return unavailable();
            }
        }
    };
    let mut view = FormView {
        received_on: form.received_on.clone(),
        requester: form.requester.clone(),
        tips: form.tips.clone(),
        received_on_error: None,
        requester_error: None,
        tips_errors: Vec::new(),
    };
    let mut summary = Vec::new();
    if let Some(message) = date_error.take() {
        summary.push(("received-on".to_owned(), message.clone()));
        view.received_on_error = Some(message);
    }
    for error in &errors {
        let text = field_message(t, error, &names);
        match error.field.as_str() {
            "received_on" => {
                view.received_on_error = Some(text.clone());
                summary.push(("received-on".to_owned(), text));
            }
            "requester" => {
                view.requester_error = Some(text.clone());
                summary.push(("requester".to_owned(), text));
            }
            _ => {
                view.tips_errors.push(text.clone());
                summary.push(("tips".to_owned(), text));
            }
        }
    }
    render(
        &request,
        &state,
        &who,
        view,
        summary,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// An error of the register form; a tip's names the line it is on.
fn field_message(t: &Texts, error: &FieldError, names: &[String]) -> String {
    let text = error_text(t, error);
    let line = error
        .field
        .strip_prefix("tips[")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|n| n.parse::<usize>().ok());
    match line {
        Some(index) => format!(
            "{} {} ({}): {text}",
            t.get("requests.tips_line"),
            index + 1,
            names.get(index).map(String::as_str).unwrap_or_default()
        ),
        None => text,
    }
}
