//! A tip's detail page and its actions: every field, the triage result with the rules that
//! fired, cluster members, history, the conversation with the tipster, and the forms to claim,
//! change status or priority, assign, close, mark as duplicate, ask, and reveal contact
//! details. Every render writes one audit row; every change carries the version the person saw.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::queue::local_time;
use super::{Chrome, Section, SignedIn, csrf_failed, forbidden, not_found, signed_in};
use crate::access::{self, Denied};
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{self, Account};
use crate::auth::policy::{Action, Decision, Role, TipVerb};
use crate::conversation::{self, ConversationError, MessageBody};
use crate::db::{self, PooledConnection};
use crate::domain::{FieldError, Outcome, Priority, ReporterContact, TipStatus};
use crate::state::AppState;
use crate::telemetry;
use crate::triage::RuleHit;
use crate::web::i18n::Texts;
use crate::web::views::Choice;
use crate::web::{csrf, html, see_other, unavailable};
use crate::workflow::{self, ChangeError, TipChange};

pub struct Row {
    pub label: String,
    pub value: String,
}

pub struct HitView {
    pub kind: String,
    pub rule: String,
    pub raise: u32,
    pub detail: String,
}

pub struct EventView {
    pub time: String,
    pub what: String,
    pub who: String,
    pub detail: String,
}

pub struct MessageView {
    pub from_inspectorate: bool,
    pub who: String,
    pub time: String,
    pub body: String,
}

pub struct LinkView {
    pub href: String,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "inspector/tip.html")]
pub struct TipPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub id: String,
    pub version: i32,
    pub notice: Option<String>,
    pub errors: Vec<String>,
    pub priority: String,
    pub priority_label: String,
    pub status_label: String,
    pub overdue: bool,
    pub facts: Vec<Row>,
    pub description: String,
    pub deadlines: Vec<Row>,
    pub hits: Vec<HitView>,
    pub triage_version: String,
    pub score: i32,
    pub cluster: Vec<LinkView>,
    pub events: Vec<EventView>,
    pub messages: Vec<MessageView>,
    pub files: Vec<super::tip_files::FileView>,
    pub identified: bool,
    pub contact: Option<Vec<Row>>,
    pub closed: bool,
    pub may_change: bool,
    pub may_reassign: bool,
    pub next_statuses: Vec<Choice>,
    pub outcomes: Vec<Choice>,
    pub priorities: Vec<Choice>,
    pub assignees: Vec<Choice>,
    pub claimed_by_me: bool,
    pub question: String,
    /// Disposal banner and legal holds (`tip_records`).
    pub records: super::tip_records::RecordsBlock,
}

/// The fields of every action form; each form sends the ones it needs.
#[derive(Deserialize)]
pub struct ChangeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    action: String,
    status: Option<String>,
    outcome: Option<String>,
    priority: Option<String>,
    assignee: Option<String>,
    duplicate_of: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct AskForm {
    csrf_token: Option<String>,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
pub struct RevealForm {
    csrf_token: Option<String>,
    #[serde(default)]
    reason: String,
}

/// What a render adds to the plain page.
#[derive(Default)]
struct Extras {
    notice_key: Option<&'static str>,
    errors: Vec<FieldError>,
    contact: Option<ReporterContact>,
    question: String,
    holds: super::tip_records::HoldInput,
}

pub(super) fn actor_name(actor: &str, people: &[Account], t: &Texts) -> String {
    if let Some(id) = actor
        .strip_prefix("user:")
        .and_then(|id| id.parse::<Uuid>().ok())
    {
        return people.iter().find(|p| p.id == id).map_or_else(
            || t.get("tip.someone").to_owned(),
            |p| p.display_name.clone(),
        );
    }
    if actor.starts_with("api_key:") {
        return t.get("tip.actor_system").to_owned();
    }
    match actor {
        "public_web" | "web" | "tipster" | "reporter" => t.get("tip.actor_tipster").to_owned(),
        _ => actor.to_owned(),
    }
}

fn event_detail(data: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let (Some(before), Some(after)) = (data.get("before"), data.get("after"))
        && let (Some(before), Some(after)) = (before.as_object(), after.as_object())
    {
        for (key, new) in after {
            let old = before.get(key).cloned().unwrap_or(serde_json::Value::Null);
            let show = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "–".to_owned(),
                other => other.to_string(),
            };
            parts.push(format!("{key}: {} → {}", show(&old), show(new)));
        }
    }
    if let Some(reason) = data.get("reason").and_then(|r| r.as_str()) {
        parts.push(format!("“{reason}”"));
    }
    parts.join("; ")
}

/// Loads, audits (one row) and renders the page.
async fn render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    tip_id: Uuid,
    extras: Extras,
    status: StatusCode,
    (audit_action, audit_detail): (AuditAction, serde_json::Value),
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let request_id = telemetry::request_id(request);
    let actor = who.principal.actor();
    let loaded = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            match access::tip(conn, &who.principal, tip_id, TipVerb::Read).await? {
                Ok(_) => {}
                Err(_) => return Ok(None),
            }
            let Some(tip) = db::tips::find(conn, tip_id).await? else {
                return Ok(None);
            };
            audit::record(
                conn,
                &state.crypto,
                &audit::Entry {
                    actor: &actor,
                    action: audit_action,
                    tip_id: Some(tip_id),
                    detail: audit_detail,
                    request_id: request_id.as_deref(),
                },
            )
            .await?;
            let events = db::tips::events(conn, tip_id).await?;
            let messages = db::messages::for_tip(conn, tip_id).await?;
            let cluster = match tip.cluster_id {
                Some(cluster_id) => db::tips::cluster_members(conn, cluster_id).await?,
                None => Vec::new(),
            };
            let people = accounts::list(conn).await?;
            let files = crate::attachments::store::list_for_tip(conn, tip_id).await?;
            let records = super::tip_records::load(conn, &tip).await?;
            Ok(Some((
                tip, events, messages, cluster, people, files, records,
            )))
        })
        .await;
    let (tip, events, messages, cluster, people, files, records) = match loaded {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(state, request, who),
        Err(error) => {
            tracing::warn!(error = %error, "loading a tip page failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let english = who.lang.code() == "en";
    let taxonomy = &state.taxonomy;
    let now = Utc::now();
    let current = TipStatus::parse(&tip.status);
    let yes_no = |b: bool| t.get(if b { "tip.yes" } else { "tip.no" }).to_owned();
    let mut facts = vec![
        Row {
            label: t.get("tip.team").to_owned(),
            value: state
                .triage
                .team(&tip.team)
                .map_or(tip.team.clone(), |team| team.name.clone()),
        },
        Row {
            label: t.get("tip.category").to_owned(),
            value: taxonomy.category_label(&tip.category, english),
        },
        Row {
            label: t.get("tip.care_sector").to_owned(),
            value: taxonomy.care_sector_label(&tip.care_sector, english),
        },
        Row {
            label: t.get("tip.region").to_owned(),
            value: taxonomy.region_name(&tip.region_code),
        },
    ];
    if let Some(code) = &tip.municipality_code {
        facts.push(Row {
            label: t.get("tip.municipality").to_owned(),
            value: taxonomy.municipality_name(code),
        });
    }
    for (key, value) in [
        ("tip.facility", &tip.facility_name),
        ("tip.care_provider", &tip.care_provider),
    ] {
        if let Some(value) = value {
            facts.push(Row {
                label: t.get(key).to_owned(),
                value: value.clone(),
            });
        }
    }
    if let Some(date) = tip.occurred_on {
        facts.push(Row {
            label: t.get("tip.occurred_on").to_owned(),
            value: date.to_string(),
        });
    }
    facts.push(Row {
        label: t.get("tip.ongoing").to_owned(),
        value: yes_no(tip.ongoing),
    });
    facts.push(Row {
        label: t.get("tip.reporter_role").to_owned(),
        value: taxonomy.reporter_role_label(&tip.reporter_role, english),
    });
    if let Some(outbreak) = &tip.outbreak {
        facts.push(Row {
            label: t.get("tip.outbreak").to_owned(),
            value: taxonomy.outbreak_label(outbreak, english),
        });
    }
    facts.push(Row {
        label: t.get("tip.channel").to_owned(),
        value: t.get(&format!("tip.channel_{}", tip.channel)).to_owned(),
    });
    facts.push(Row {
        label: t.get("tip.anonymous").to_owned(),
        value: yes_no(tip.anonymous),
    });
    facts.push(Row {
        label: t.get("tip.submitted").to_owned(),
        value: local_time(tip.submitted_at),
    });
    if let Some(outcome) = &tip.outcome {
        facts.push(Row {
            label: t.get("tip.outcome").to_owned(),
            value: t.get(&format!("outcome.{outcome}")).to_owned(),
        });
    }
    if let Some(assignee) = &tip.assignee {
        facts.push(Row {
            label: t.get("tip.assignee").to_owned(),
            value: assignee.clone(),
        });
    }
    let mut deadlines = vec![Row {
        label: t.get("tip.due_first_review").to_owned(),
        value: local_time(tip.due_at),
    }];
    if let Some(at) = tip.acknowledgement_due_at {
        deadlines.push(Row {
            label: t.get("tip.due_acknowledgement").to_owned(),
            value: local_time(at),
        });
    }
    if let Some(at) = tip.feedback_due_at {
        deadlines.push(Row {
            label: t.get("tip.due_feedback").to_owned(),
            value: local_time(at),
        });
    }
    let hits: Vec<RuleHit> = serde_json::from_value(tip.triage.clone()).unwrap_or_default();
    let may_change = who.may(Action::ChangeTip { team: &tip.team }) == Decision::Allow;
    let may_reassign = who.may(Action::Reassign { team: &tip.team }) == Decision::Allow;
    let next_statuses = current
        .map(|s| s.allowed_next().to_vec())
        .unwrap_or_default()
        .into_iter()
        .map(|s| Choice {
            code: s.as_str().to_owned(),
            label: t.get(&format!("tip_status.{}", s.as_str())).to_owned(),
            selected: false,
        })
        .collect();
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| Choice {
            code: o.as_str().to_owned(),
            label: t.get(&format!("outcome.{}", o.as_str())).to_owned(),
            selected: false,
        })
        .collect();
    let priorities = Priority::ALL
        .iter()
        .map(|p| Choice {
            code: p.as_str().to_owned(),
            label: t.get(&format!("priority.{}", p.as_str())).to_owned(),
            selected: p.as_str() == tip.priority,
        })
        .collect();
    let mut assignees = vec![Choice {
        code: String::new(),
        label: t.get("tip.unassigned").to_owned(),
        selected: tip.assignee.is_none(),
    }];
    assignees.extend(
        people
            .iter()
            .filter(|p| {
                p.active
                    && (p.has(Role::TriageLead)
                        || (p.has(Role::Inspector) && p.teams.contains(&tip.team)))
            })
            .map(|p| Choice {
                selected: tip.assignee.as_deref() == Some(p.email.as_str()),
                code: p.email.clone(),
                label: format!("{} ({})", p.display_name, p.email),
            }),
    );
    let contact = extras.contact.map(|c| {
        [
            ("tip.contact_name", c.name),
            ("tip.contact_email", c.email),
            ("tip.contact_phone", c.phone),
        ]
        .into_iter()
        .filter_map(|(key, value)| {
            value.map(|value| Row {
                label: t.get(key).to_owned(),
                value,
            })
        })
        .collect()
    });
    let records = super::tip_records::block(who, t, &tip, records, extras.holds, &people);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Queue, csrf_token);
    let page = TipPage {
        records,
        files: super::tip_files::views(&files, tip.id, t, who.lang),
        title: format!("{} {}", t.get("tip.title"), tip.reference),
        id: tip.id.to_string(),
        version: tip.version,
        notice: extras.notice_key.map(|k| t.get(k).to_owned()),
        errors: extras
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    t.get(&format!("tip.field_{}", e.field)),
                    e.message
                )
            })
            .collect(),
        priority_label: t.get(&format!("priority.{}", tip.priority)).to_owned(),
        status_label: current
            .map(|s| t.get(&format!("tip_status.{}", s.as_str())).to_owned())
            .unwrap_or_default(),
        overdue: tip.status == "new" && tip.due_at < now,
        facts,
        description: tip.description.clone(),
        deadlines,
        hits: hits
            .into_iter()
            .map(|h| HitView {
                kind: t.get(&format!("hit.{}", h.kind)).to_owned(),
                rule: h.rule,
                raise: h.raise,
                detail: h.detail,
            })
            .collect(),
        triage_version: tip.triage_config_version.clone(),
        score: tip.triage_score,
        cluster: cluster
            .into_iter()
            .map(|(id, reference, submitted_at)| LinkView {
                current: id == tip.id,
                href: format!("/inspektor/tips/{id}"),
                label: format!("{reference} ({})", local_time(submitted_at)),
            })
            .collect(),
        events: events
            .iter()
            .map(|e| EventView {
                time: local_time(e.created_at),
                what: t.get(&format!("event.{}", e.kind)).to_owned(),
                who: actor_name(&e.actor, &people, t),
                detail: event_detail(&e.data),
            })
            .collect(),
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                from_inspectorate: m.direction == "to_reporter",
                who: m.author.as_deref().map_or_else(
                    || t.get("tip.actor_tipster").to_owned(),
                    |a| actor_name(a, &people, t),
                ),
                time: local_time(m.created_at),
                body: m.body,
            })
            .collect(),
        identified: !tip.anonymous,
        contact,
        closed: current == Some(TipStatus::Closed),
        may_change,
        may_reassign,
        next_statuses,
        outcomes,
        priorities,
        assignees,
        claimed_by_me: tip.assignee.as_deref() == Some(who.account.email.as_str()),
        question: extras.question,
        priority: tip.priority.clone(),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

fn tip_id(path: &str) -> Option<Uuid> {
    path.parse().ok()
}

/// GET: the tip (one `view_tip` audit row).
pub async fn show(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = tip_id(&path) else {
        return not_found(&state, &request, &who);
    };
    let notice_key = match request.query_string() {
        q if q.contains("saved=1") => Some("tip.saved"),
        q if q.contains("asked=1") => Some("tip.asked"),
        q if q.contains("hold=placed") => Some("holds.placed_notice"),
        q if q.contains("hold=lifted") => Some("holds.lifted_notice"),
        _ => None,
    };
    let extras = Extras {
        notice_key,
        ..Extras::default()
    };
    render(
        &request,
        &state,
        &who,
        id,
        extras,
        StatusCode::OK,
        (AuditAction::ViewTip, json!({})),
    )
    .await
}

/// The page again after a hold form, with what was typed and what was wrong (`tip_records`).
pub(super) async fn render_with_holds(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    tip_id: Uuid,
    holds: super::tip_records::HoldInput,
    status: StatusCode,
) -> HttpResponse {
    let extras = Extras {
        holds,
        ..Extras::default()
    };
    let audit = (AuditAction::ViewTip, json!({}));
    render(request, state, who, tip_id, extras, status, audit).await
}

/// The signed-in person, the tip and a connection, once the CSRF token checks out and the
/// person may do `verb` to the tip; otherwise the page that says why not.
async fn guard(
    request: &HttpRequest,
    state: &AppState,
    csrf_token: Option<&str>,
    path: &str,
    verb: TipVerb,
) -> Result<(SignedIn, Uuid, PooledConnection), HttpResponse> {
    let who = signed_in(request, state).await?;
    if !csrf::verify(request, csrf_token) {
        return Err(csrf_failed(state, request, &who));
    }
    let Some(id) = tip_id(path) else {
        return Err(not_found(state, request, &who));
    };
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    match access::tip(&mut conn, &who.principal, id, verb).await {
        Ok(Ok(_)) => Ok((who, id, conn)),
        Ok(Err(Denied::NotFound)) => Err(not_found(state, request, &who)),
        Ok(Err(Denied::Forbidden)) => Err(forbidden(state, request, &who)),
        Err(_) => Err(unavailable()),
    }
}

fn parse_change(form: &ChangeForm, me: &Account) -> Result<TipChange, Vec<FieldError>> {
    let reason = form.reason.clone().filter(|r| !r.trim().is_empty());
    let mut errors = Vec::new();
    let mut change = TipChange {
        reason,
        ..TipChange::default()
    };
    match form.action.as_str() {
        "claim" => {
            change.assignee = Some(Some(me.email.clone()));
        }
        "status" => {
            change.status = form.status.as_deref().and_then(TipStatus::parse);
            if change.status.is_none() {
                errors.push(FieldError::new("status", "required", "choose a status"));
            }
            change.outcome = form
                .outcome
                .as_deref()
                .filter(|o| !o.is_empty())
                .and_then(Outcome::parse);
        }
        "priority" => {
            change.priority = form.priority.as_deref().and_then(Priority::parse);
            if change.priority.is_none() {
                errors.push(FieldError::new("priority", "required", "choose a priority"));
            }
        }
        "assign" => {
            change.assignee = Some(form.assignee.clone().filter(|a| !a.is_empty()));
        }
        _ => errors.push(FieldError::new("action", "unknown", "is not an action")),
    }
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(errors)
    }
}

/// POST: one action on the tip, under the version the person saw.
pub async fn change(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ChangeForm>,
) -> HttpResponse {
    let verb = if form.action == "assign" {
        TipVerb::Reassign
    } else {
        TipVerb::Change
    };
    let (who, id, mut conn) =
        match guard(&request, &state, form.csrf_token.as_deref(), &path, verb).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let again = async |errors: Vec<FieldError>, notice_key, status| {
        let extras = Extras {
            errors,
            notice_key,
            ..Extras::default()
        };
        render(
            &request,
            &state,
            &who,
            id,
            extras,
            status,
            (AuditAction::ViewTip, json!({})),
        )
        .await
    };
    let Ok(expected) = form.version.parse::<i32>() else {
        return again(
            vec![FieldError::new("version", "required", "reload the page")],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let mut change = match parse_change(&form, &who.account) {
        Ok(change) => change,
        Err(errors) => return again(errors, None, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    // Claiming a new tip starts its review.
    if form.action == "claim"
        && let Ok(Some(tip)) = db::tips::find(&mut conn, id).await
        && tip.status == "new"
    {
        change.status = Some(TipStatus::InReview);
    }
    if change.outcome == Some(Outcome::Duplicate) {
        let reference = form.duplicate_of.as_deref().unwrap_or_default();
        match db::tips::id_by_reference(&mut conn, reference).await {
            Ok(Some(original)) => change.duplicate_of = Some(original),
            Ok(None) => {
                return again(
                    vec![FieldError::new(
                        "duplicate_of",
                        "unknown",
                        "no tip has this reference",
                    )],
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Err(_) => return unavailable(),
        }
    }
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let result = conn
        .transaction::<_, ChangeError, _>(async |conn| {
            workflow::change_tip(conn, &state.triage, id, expected, &change, &actor).await?;
            record(
                conn,
                &state,
                &actor,
                request_id.as_deref(),
                AuditAction::ChangeTip,
                id,
                change.summary(),
            )
            .await?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => see_other(&format!("/inspektor/tips/{id}?saved=1"), []),
        Err(ChangeError::Stale { .. }) => {
            again(Vec::new(), Some("tip.stale"), StatusCode::CONFLICT).await
        }
        Err(ChangeError::Invalid(errors)) => {
            again(errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ChangeError::NotFound) => not_found(&state, &request, &who),
        Err(ChangeError::Disposed) => {
            again(
                Vec::new(),
                Some("disposal.tip_frozen"),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ChangeError::Database(error)) => {
            tracing::warn!(error = %error, "changing a tip failed");
            unavailable()
        }
    }
}

async fn record(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    actor: &str,
    request_id: Option<&str>,
    action: AuditAction,
    tip_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), diesel::result::Error> {
    audit::record(
        conn,
        &state.crypto,
        &audit::Entry {
            actor,
            action,
            tip_id: Some(tip_id),
            detail,
            request_id,
        },
    )
    .await
    .map(|_| ())
}

/// POST: a question to the tipster (they read it on the follow-up page).
pub async fn ask(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<AskForm>,
) -> HttpResponse {
    let (who, id, mut conn) = match guard(
        &request,
        &state,
        form.csrf_token.as_deref(),
        &path,
        TipVerb::Message,
    )
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let again = async |errors: Vec<FieldError>, notice_key, status| {
        let extras = Extras {
            errors,
            notice_key,
            question: form.body.clone(),
            ..Extras::default()
        };
        render(
            &request,
            &state,
            &who,
            id,
            extras,
            status,
            (AuditAction::ViewTip, json!({})),
        )
        .await
    };
    let message = match MessageBody::parse("body", Some(&form.body)) {
        Ok(message) => message,
        Err(error) => return again(vec![error], None, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let result = conn
        .transaction::<_, ConversationError, _>(async |conn| {
            let row = conversation::ask_reporter(conn, id, &actor, &message).await?;
            record(
                conn,
                &state,
                &actor,
                request_id.as_deref(),
                AuditAction::MessageTipster,
                id,
                json!({ "message_id": row.id }),
            )
            .await?;
            Ok(())
        })
        .await;
    match result {
        Ok(()) => see_other(&format!("/inspektor/tips/{id}?asked=1#messages"), []),
        Err(ConversationError::Closed) => {
            again(
                Vec::new(),
                Some("tip.closed_no_questions"),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ConversationError::Disposed) => {
            again(
                Vec::new(),
                Some("disposal.tip_frozen"),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ConversationError::NotFound) => not_found(&state, &request, &who),
        Err(error) => {
            tracing::warn!(error = %error, "asking a tipster failed");
            unavailable()
        }
    }
}

/// POST: show an identified reporter's contact details, with a reason (audited).
pub async fn reveal_contact(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<RevealForm>,
) -> HttpResponse {
    let (who, id, mut conn) = match guard(
        &request,
        &state,
        form.csrf_token.as_deref(),
        &path,
        TipVerb::RevealContact,
    )
    .await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        let extras = Extras {
            errors: vec![FieldError::new(
                "reason",
                "required",
                "say why you need the contact details (at most 500 characters)",
            )],
            ..Extras::default()
        };
        return render(
            &request,
            &state,
            &who,
            id,
            extras,
            StatusCode::UNPROCESSABLE_ENTITY,
            (AuditAction::ViewTip, json!({})),
        )
        .await;
    }
    let contact = match db::tips::sealed_contact(&mut conn, id).await {
        Ok(Some((key_id, sealed))) => match state.crypto.open(&key_id, &sealed, id.as_bytes()) {
            Ok(plain) => serde_json::from_slice::<ReporterContact>(&plain).ok(),
            Err(_) => None,
        },
        Ok(None) => None,
        Err(_) => return unavailable(),
    };
    drop(conn);
    let extras = Extras {
        contact,
        notice_key: Some("tip.contact_logged"),
        ..Extras::default()
    };
    // This response is the reveal: its audit row carries the reason.
    render(
        &request,
        &state,
        &who,
        id,
        extras,
        StatusCode::OK,
        (AuditAction::RevealContact, json!({ "reason": reason })),
    )
    .await
}
