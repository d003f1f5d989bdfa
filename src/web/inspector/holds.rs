//! The legal holds page (`/inspektor/gallringssparrar`): every active hold within the person's
//! scope (admins: all), each with the tips it covers (linked where the person may read them),
//! its reason and who placed it when; a form to lift it for those who may manage it; and for
//! admins and triage leads a form to place a hold by tip reference (admins cannot open tip
//! pages without another role, so this is their way in).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use super::queue::local_time;
use super::tip::actor_name;
use super::tip_records::{CoversChoice, covers_label, error_text, refusal_text};
use super::{Chrome, RECORDS, Section, SignedIn, csrf_failed, forbidden, not_found, signed_in};
use crate::access::Denied;
use crate::auth::accounts;
use crate::auth::policy::{self, Action, Decision, Role, TipScope};
use crate::db;
use crate::domain::FieldError;
use crate::records::hold::{self, Actor, Covers, HoldError, HoldReason};
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::Texts;
use crate::web::{csrf, html, see_other, unavailable};

pub const PATH: &str = "/inspektor/gallringssparrar";

/// Registers the holds page and its forms.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(show))
            .route(web::post().to(place)),
    )
    .route(
        "/inspektor/gallringssparrar/{hold}/hav",
        web::post().to(lift),
    );
}

pub struct TipLink {
    pub reference: String,
    /// Set when the person may read the tip.
    pub href: Option<String>,
}

pub struct HoldRowView {
    pub id: String,
    pub tips: Vec<TipLink>,
    pub teams: String,
    pub covers: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
    pub may_lift: bool,
    pub lift_field: String,
    pub lift_reason: String,
    pub lift_error: Option<String>,
    /// The lift form is shown open (it was sent and refused).
    pub open: bool,
}

#[derive(Template)]
#[template(path = "inspector/holds.html")]
pub struct HoldsPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub notice: Option<String>,
    pub refusal: Option<String>,
    pub summary: Vec<(String, String)>,
    pub rows: Vec<HoldRowView>,
    pub may_place: bool,
    pub reference: String,
    pub reference_error: Option<String>,
    pub covers: Vec<CoversChoice>,
    pub covers_error: Option<String>,
    pub reason: String,
    pub reason_error: Option<String>,
    pub records_href: &'static str,
}

/// What was sent and what was wrong, for a render after a refused POST.
#[derive(Default)]
struct Input {
    reference: String,
    covers: Option<Covers>,
    reason: String,
    lifting: Option<Uuid>,
    lift_reason: String,
    errors: Vec<FieldError>,
    refusal: Option<String>,
}

/// Whoever works tips (their scope's holds) and admins (all holds) see the page.
fn may_see(who: &SignedIn) -> bool {
    who.may(Action::ReadRecordsRequests) == Decision::Allow || who.account.has(Role::Admin)
}

/// Admins and triage leads place holds by reference.
fn may_place(who: &SignedIn) -> bool {
    who.account.has(Role::Admin) || who.account.has(Role::TriageLead)
}

fn scope(who: &SignedIn) -> TipScope {
    if who.account.has(Role::Admin) {
        TipScope::All
    } else {
        policy::tip_scope(&who.principal)
    }
}

async fn render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    input: Input,
    notice_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let loaded = match hold::active(&mut conn, &scope(who)).await {
        Ok(holds) => accounts::list(&mut conn)
            .await
            .map(|people| (holds, people)),
        Err(error) => Err(error),
    };
    drop(conn);
    let (holds, people) = match loaded {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(error = %error, "listing legal holds failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let error_of = |field: &str| {
        input
            .errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| error_text(t, e))
    };
    let rows: Vec<HoldRowView> = holds
        .into_iter()
        .enumerate()
        .map(|(n, listed)| {
            let lifting = input.lifting == Some(listed.hold.id);
            let mut teams: Vec<String> = listed
                .tips
                .iter()
                .map(|tip| {
                    state
                        .triage
                        .team(&tip.team)
                        .map_or_else(|| tip.team.clone(), |team| team.name.clone())
                })
                .collect();
            teams.sort();
            teams.dedup();
            HoldRowView {
                may_lift: listed.tips.iter().any(|tip| {
                    who.may(Action::ManageLegalHold { team: &tip.team }) == Decision::Allow
                }),
                tips: listed
                    .tips
                    .iter()
                    .map(|tip| TipLink {
                        reference: tip.reference.clone(),
                        href: (who.may(Action::ReadTip { team: &tip.team }) == Decision::Allow)
                            .then(|| format!("/inspektor/tips/{}", tip.id)),
                    })
                    .collect(),
                teams: teams.join(", "),
                covers: covers_label(t, listed.hold.covers()),
                placed_by: actor_name(&listed.hold.placed_by, &people, t),
                placed_at: local_time(listed.hold.placed_at),
                lift_field: format!("lift-reason-{n}"),
                lift_reason: if lifting {
                    input.lift_reason.clone()
                } else {
                    String::new()
                },
                lift_error: error_of("lift_reason").filter(|_| lifting),
                open: lifting,
                id: listed.hold.id.to_string(),
                reason: listed.hold.reason,
            }
        })
        .collect();
    let chosen = input.covers.unwrap_or_default();
    let covers = [Covers::Tip, Covers::Cluster]
        .into_iter()
        .map(|c| CoversChoice {
            id: if c == Covers::Tip {
                "covers-tip"
            } else {
                "covers-cluster"
            },
            value: c.as_str(),
            label: t
                .get(&format!("holds.by_reference_covers_{}", c.as_str()))
                .to_owned(),
            checked: c == chosen,
        })
        .collect();
    let summary = input
        .errors
        .iter()
        .map(|e| {
            let anchor = match e.field.as_str() {
                "reference" => "hold-reference".to_owned(),
                "covers" => "covers-tip".to_owned(),
                "lift_reason" => rows
                    .iter()
                    .find(|r| r.open)
                    .map_or_else(|| "holds-title".to_owned(), |r| r.lift_field.clone()),
                _ => "hold-reason".to_owned(),
            };
            (anchor, error_text(t, e))
        })
        .collect();
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Records, csrf_token);
    let page = HoldsPage {
        title: t.get("holds.title").to_owned(),
        notice: notice_key.map(|k| t.get(k).to_owned()),
        refusal: input.refusal,
        summary,
        rows,
        may_place: may_place(who),
        reference: input.reference,
        reference_error: error_of("reference"),
        covers,
        covers_error: error_of("covers"),
        reason: input.reason,
        reason_error: error_of("reason"),
        records_href: RECORDS,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: the active holds.
pub async fn show(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match signed_in(&request, &state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if !may_see(&who) {
        return forbidden(&state, &request, &who);
    }
    let notice = match request.query_string() {
        q if q.contains("placed=1") => Some("holds.placed_notice"),
        q if q.contains("lifted=1") => Some("holds.lifted_notice"),
        _ => None,
    };
    render(
        &request,
        &state,
        &who,
        Input::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct PlaceForm {
    csrf_token: Option<String>,
    reference: Option<String>,
    covers: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct LiftForm {
    csrf_token: Option<String>,
    reason: Option<String>,
}

/// The person once the CSRF token checks out and `allowed` says yes; else why not.
async fn guard(
    request: &HttpRequest,
    state: &AppState,
    csrf_token: Option<&str>,
    allowed: fn(&SignedIn) -> bool,
) -> Result<SignedIn, HttpResponse> {
    let who = signed_in(request, state).await?;
    if !csrf::verify(request, csrf_token) {
        return Err(csrf_failed(state, request, &who));
    }
    if !allowed(&who) {
        return Err(forbidden(state, request, &who));
    }
    Ok(who)
}

/// The page again after a refusal, with the status it deserves; nothing was written.
async fn refused(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    mut input: Input,
    error: HoldError,
) -> HttpResponse {
    let status = match error {
        HoldError::Invalid(field) => {
            input.errors.push(field);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        HoldError::TipNotFound | HoldError::HoldNotFound => {
            return not_found(state, request, who);
        }
        HoldError::Database(error) => {
            tracing::warn!(error = %error, "a legal hold change failed");
            return unavailable();
        }
        refusal => {
            input.refusal = refusal_text(state.translations.texts(who.lang), &refusal);
            StatusCode::CONFLICT
        }
    };
    render(request, state, who, input, None, status).await
}

/// POST: places a hold on the tip with this reference (or on its cluster).
pub async fn place(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<PlaceForm>,
) -> HttpResponse {
    let who = match guard(&request, &state, form.csrf_token.as_deref(), may_place).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let mut input = Input {
        reference: form.reference.clone().unwrap_or_default(),
        covers: form.covers.as_deref().and_then(Covers::parse),
        reason: form.reason.clone().unwrap_or_default(),
        ..Input::default()
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    // A tip the person may not know of is as unknown as a reference that names none.
    let tip = match db::tips::id_by_reference(&mut conn, &input.reference).await {
        Ok(Some(tip)) => match hold::authorize_tip(&mut conn, &who.principal, tip).await {
            Ok(Ok(_)) => Some(tip),
            Ok(Err(Denied::NotFound)) => None,
            Ok(Err(Denied::Forbidden)) => return forbidden(&state, &request, &who),
            Err(_) => return unavailable(),
        },
        Ok(None) => None,
        Err(_) => return unavailable(),
    };
    if tip.is_none() {
        input.errors.push(FieldError::new(
            "reference",
            "unknown",
            "no tip has this reference",
        ));
    }
    if input.covers.is_none() {
        input.errors.push(FieldError::new(
            "covers",
            "required",
            "choose what the hold covers",
        ));
    }
    let reason = HoldReason::parse("reason", form.reason.as_deref())
        .map_err(|e| input.errors.push(e))
        .ok();
    let (Some(tip), Some(covers), Some(reason)) = (tip, input.covers, reason) else {
        drop(conn);
        return render(
            &request,
            &state,
            &who,
            input,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let result = hold::place(&mut conn, &state.crypto, by, tip, covers, &reason).await;
    drop(conn);
    match result {
        Ok(_) => see_other(&format!("{PATH}?placed=1"), []),
        Err(error) => refused(&request, &state, &who, input, error).await,
    }
}

/// POST: lifts a hold from the list.
pub async fn lift(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LiftForm>,
) -> HttpResponse {
    let who = match guard(&request, &state, form.csrf_token.as_deref(), may_see).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Ok(hold_id) = path.parse::<Uuid>() else {
        return not_found(&state, &request, &who);
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let found = match hold::find(&mut conn, hold_id).await {
        Ok(Some(row)) => hold::authorize_hold(&mut conn, &who.principal, &row).await,
        Ok(None) => Ok(Err(Denied::NotFound)),
        Err(error) => Err(error),
    };
    match found {
        Ok(Ok(())) => {}
        Ok(Err(Denied::NotFound)) => return not_found(&state, &request, &who),
        Ok(Err(Denied::Forbidden)) => return forbidden(&state, &request, &who),
        Err(_) => return unavailable(),
    }
    let mut input = Input {
        lifting: Some(hold_id),
        lift_reason: form.reason.clone().unwrap_or_default(),
        ..Input::default()
    };
    let reason = match HoldReason::parse("lift_reason", form.reason.as_deref()) {
        Ok(reason) => reason,
        Err(error) => {
            drop(conn);
            input.errors.push(error);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&request, &state, &who, input, None, status).await;
        }
    };
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let result = hold::lift(&mut conn, &state.crypto, by, hold_id, None, &reason).await;
    drop(conn);
    match result {
        Ok(_) => see_other(&format!("{PATH}?lifted=1"), []),
        Err(error) => refused(&request, &state, &who, input, error).await,
    }
}
