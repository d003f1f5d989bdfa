//! The triage queue page: the person's teams' open tips, most urgent first, with filters,
//! counts per status, overdue and cluster badges, and cursor pagination — the same queue and
//! parameters as `GET /api/v1/tips`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::{
    ADMIN, Chrome, Filter, Section, SignedIn, code_labels, forbidden, query_string, region_labels,
    signed_in, text_labels,
};
use crate::auth::policy::{self, Action, Decision, Role, TipScope};
use crate::db;
use crate::domain::{Priority, TipStatus};
use crate::queue;
use crate::state::AppState;
use crate::web::i18n::Texts;
use crate::web::{csrf, html, see_other, unavailable};

/// One row of the queue table.
pub struct QueueRowView {
    pub id: String,
    pub reference: String,
    pub priority: String,
    pub priority_label: String,
    pub status_label: String,
    pub category: String,
    pub care_sector: String,
    pub place: String,
    pub facility: String,
    pub due: String,
    pub overdue: bool,
    pub submitted: String,
    pub in_cluster: bool,
    pub assignee: String,
}

pub struct Count {
    pub label: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "inspector/queue.html")]
pub struct QueuePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub filters: Vec<Filter>,
    pub overdue_checked: bool,
    pub search: String,
    pub errors: Vec<String>,
    pub counts: Vec<Count>,
    pub overdue_count: i64,
    pub rows: Vec<QueueRowView>,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
}

/// Stockholm local time, as inspectors read it.
pub fn local_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The query string as the queue parser wants it: empty fields dropped, the checkbox as a bool.
fn normalised_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(key, value)| match key.as_str() {
            "overdue" if value == "on" => (key.clone(), "true".to_owned()),
            _ => (key.clone(), value.clone()),
        })
        .collect()
}

/// GET /inspektor: the queue.
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who: SignedIn = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if who.may(Action::ReadQueue) != Decision::Allow {
        // Admins without a tip role start at the admin pages.
        if who.account.has(Role::Admin) {
            return see_other(ADMIN, []);
        }
        return forbidden(&state, &request, &who);
    }
    let pairs = normalised_pairs(&query);
    let t = state.translations.texts(who.lang);
    let english = who.lang.code() == "en";
    let (request_parsed, errors) = match queue::parse(&state, &pairs) {
        Ok(parsed) => (Some(parsed), Vec::new()),
        Err(errors) => (
            None,
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        t.get(&format!("queue.filter_{}", e.field)),
                        e.message
                    )
                })
                .collect(),
        ),
    };
    let now = Utc::now();
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let scope = policy::tip_scope(&who.principal);
    let scope_teams = match &scope {
        TipScope::All => None,
        TipScope::Teams(teams) => Some(teams.clone()),
        TipScope::None => Some(Vec::new()),
    };
    let page = match &request_parsed {
        Some(parsed) => match queue::page_for(&mut conn, &who.principal, parsed, now).await {
            Ok(page) => Some(page),
            Err(error) => {
                tracing::warn!(error = %error, "reading the queue failed");
                return unavailable();
            }
        },
        None => None,
    };
    let (counts, overdue_count) =
        match db::queue::open_counts(&mut conn, scope_teams.as_deref(), now).await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(error = %error, "counting the queue failed");
                return unavailable();
            }
        };

    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let taxonomy = &state.taxonomy;
    let team_options = state
        .triage
        .teams
        .iter()
        .filter(|team| scope.includes(&team.code))
        .map(|team| (team.code.clone(), team.name.clone()));
    let any = t.get("queue.any");
    let filters = vec![
        Filter::select(
            "team",
            t.get("queue.filter_team"),
            t.get("queue.any_team"),
            value("team"),
            team_options,
        ),
        Filter::select(
            "region_code",
            t.get("queue.filter_region_code"),
            any,
            value("region_code"),
            region_labels(taxonomy),
        ),
        Filter::select(
            "category",
            t.get("queue.filter_category"),
            any,
            value("category"),
            code_labels(&taxonomy.categories, english),
        ),
        Filter::select(
            "care_sector",
            t.get("queue.filter_care_sector"),
            any,
            value("care_sector"),
            code_labels(&taxonomy.care_sectors, english),
        ),
        Filter::select(
            "priority",
            t.get("queue.filter_priority"),
            any,
            value("priority"),
            text_labels(t, "priority", Priority::ALL.iter().map(|p| p.as_str())),
        ),
        Filter::select(
            "status",
            t.get("queue.filter_status"),
            t.get("queue.open_statuses"),
            value("status"),
            text_labels(
                t,
                "tip_status",
                ["new", "in_review", "awaiting_reporter", "closed", "all"],
            ),
        ),
    ];

    let mut status_counts = Vec::new();
    for status in ["new", "in_review", "awaiting_reporter"] {
        status_counts.push(Count {
            label: t.get(&format!("tip_status.{status}")).to_owned(),
            count: counts
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n),
        });
    }

    let (rows, next_cursor) = match page {
        Some(page) => (page.rows, page.next_cursor),
        None => (Vec::new(), None),
    };
    let rows = rows
        .into_iter()
        .map(|row| QueueRowView {
            id: row.id.to_string(),
            overdue: row.status == "new" && row.due_at < now,
            priority_label: t.get(&format!("priority.{}", row.priority)).to_owned(),
            status_label: TipStatus::parse(&row.status)
                .map(|s| t.get(&format!("tip_status.{}", s.as_str())).to_owned())
                .unwrap_or_default(),
            category: taxonomy.category_label(&row.category, english),
            care_sector: taxonomy.care_sector_label(&row.care_sector, english),
            place: match &row.municipality_code {
                Some(code) => format!(
                    "{}, {}",
                    taxonomy.municipality_name(code),
                    taxonomy.region_name(&row.region_code)
                ),
                None => taxonomy.region_name(&row.region_code),
            },
            facility: row.facility_name.clone().unwrap_or_default(),
            due: local_time(row.due_at),
            submitted: local_time(row.submitted_at),
            in_cluster: row.cluster_id.is_some(),
            assignee: row.assignee.clone().unwrap_or_default(),
            reference: row.reference,
            priority: row.priority,
        })
        .collect();
    let without_cursor: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "cursor")
        .cloned()
        .collect();
    let next_href = next_cursor.map(|cursor| {
        let mut next = without_cursor.clone();
        next.push(("cursor".to_owned(), cursor));
        format!("{}?{}", super::HOME, query_string(&next))
    });
    let first_href = pairs
        .iter()
        .any(|(k, _)| k == "cursor")
        .then(|| format!("{}?{}", super::HOME, query_string(&without_cursor)));
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Queue, csrf_token);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = QueuePage {
        title: t.get("queue.title").to_owned(),
        filters,
        overdue_checked: value("overdue") == Some("true"),
        search: value("q").unwrap_or_default().to_owned(),
        errors,
        counts: status_counts,
        overdue_count,
        rows,
        next_href,
        first_href,
        t,
        chrome,
    };
    html(status, &page, cookie)
}
