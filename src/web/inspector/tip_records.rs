//! The tip page's records block: the banner of a tip whose content was disposed of (gallrad),
//! the legal holds that keep the tip from disposal (reason, who, when, the tip or its whole
//! cluster), and for those who may manage holds the forms to place and lift one
//! (`POST /inspektor/tips/{id}/gallringssparr` and `…/gallringssparr/hav`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use uuid::Uuid;

use super::queue::local_time;
use super::tip::{actor_name, render_with_holds};
use super::{RECORDS, SignedIn, csrf_failed, forbidden, not_found, signed_in};
use crate::access::{self, Denied};
use crate::auth::accounts::Account;
use crate::auth::policy::{Action, Decision, TipVerb};
use crate::db::PooledConnection;
use crate::db::tips::TipRow;
use crate::domain::FieldError;
use crate::records::hold::{self, Actor, Covers, HoldError, HoldReason, HoldRow};
use crate::state::AppState;
use crate::telemetry;
use crate::web::i18n::Texts;
use crate::web::{csrf, see_other, unavailable};

/// Registers the tip page's hold actions.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/inspektor/tips/{id}/gallringssparr", web::post().to(place))
        .route(
            "/inspektor/tips/{id}/gallringssparr/hav",
            web::post().to(lift),
        );
}

/// The records state of a tip, read in the page's transaction.
pub struct Loaded {
    disposal: Option<(DateTime<Utc>, String)>,
    own: Option<HoldRow>,
    cluster: Option<HoldRow>,
}

pub async fn load(
    conn: &mut AsyncPgConnection,
    tip: &TipRow,
) -> Result<Loaded, diesel::result::Error> {
    let cluster = match tip.cluster_id {
        Some(cluster_id) => hold::active_on_cluster(conn, cluster_id).await?,
        None => None,
    };
    Ok(Loaded {
        disposal: hold::disposal_of(conn, tip.id).await?,
        own: hold::active_on_tip(conn, tip.id).await?,
        cluster,
    })
}

/// What was typed into a hold form, and what was wrong with it.
#[derive(Default)]
pub struct HoldInput {
    pub reason: String,
    pub covers: Option<Covers>,
    /// The hold whose lift form was sent, and the reason typed there.
    pub lifting: Option<Uuid>,
    pub lift_reason: String,
    pub errors: Vec<FieldError>,
    /// A refusal that is no one field's fault (already held, already lifted, disposed).
    pub refusal: Option<String>,
}

pub struct HoldView {
    pub id: String,
    pub covers: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
    /// The id of this hold's lift-reason field.
    pub lift_field: String,
    pub lift_reason: String,
    pub lift_error: Option<String>,
}

/// A radio button of the covers group.
pub struct CoversChoice {
    pub id: &'static str,
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

/// What the partial `inspector/tip_records.html` shows.
pub struct RecordsBlock {
    /// "The content was disposed of on … under rule …".
    pub disposed: Option<String>,
    pub holds: Vec<HoldView>,
    pub may_manage: bool,
    /// The place form is offered (may manage, not disposed, something left to hold).
    pub may_place: bool,
    pub covers: Vec<CoversChoice>,
    pub reason: String,
    pub reason_error: Option<String>,
    pub covers_error: Option<String>,
    /// (anchor, message) for the block's error summary.
    pub summary: Vec<(String, String)>,
    pub refusal: Option<String>,
    pub holds_href: &'static str,
    pub records_href: &'static str,
}

/// A date in Swedish time.
pub fn local_date(time: DateTime<Utc>) -> String {
    time.with_timezone(&chrono_tz::Europe::Stockholm)
        .format("%Y-%m-%d")
        .to_string()
}

pub fn covers_label(t: &Texts, covers: Covers) -> String {
    t.get(&format!("holds.covers_{}", covers.as_str()))
        .to_owned()
}

/// A hold form's field error in the person's language.
pub fn error_text(t: &Texts, error: &FieldError) -> String {
    let key = match (error.field.as_str(), error.code.as_str()) {
        ("covers", "no_cluster") => "holds.error_no_cluster",
        ("covers", _) => "holds.error_covers",
        ("reference", _) => "holds.error_reference",
        (_, "too_long") => "holds.error_too_long",
        (_, "invalid_characters") => "holds.error_invalid_characters",
        _ => "holds.error_reason",
    };
    t.get(key).to_owned()
}

/// The message for a refused placement or lift; `None` for what is not a refusal.
pub fn refusal_text(t: &Texts, error: &HoldError) -> Option<String> {
    Some(match error {
        HoldError::AlreadyHeld { existing, covers } => t
            .get(&format!("holds.refused_held_{}", covers.as_str()))
            .replace("{id}", &existing.to_string()),
        HoldError::Disposed => t.get("holds.refused_disposed").to_owned(),
        HoldError::AlreadyLifted(_) => t.get("holds.refused_lifted").to_owned(),
        _ => return None,
    })
}

pub fn block(
    who: &SignedIn,
    t: &Texts,
    tip: &TipRow,
    loaded: Loaded,
    input: HoldInput,
    people: &[Account],
) -> RecordsBlock {
    let may_manage = who.may(Action::ManageLegalHold { team: &tip.team }) == Decision::Allow;
    let disposed = loaded.disposal.as_ref().map(|(at, rule)| {
        t.get("holds.disposed_banner")
            .replace("{date}", &local_date(*at))
            .replace("{rule}", rule)
    });
    let mut offered = Vec::new();
    if loaded.own.is_none() {
        offered.push(Covers::Tip);
    }
    if tip.cluster_id.is_some() && loaded.cluster.is_none() {
        offered.push(Covers::Cluster);
    }
    let chosen = input
        .covers
        .filter(|c| offered.contains(c))
        .or(offered.first().copied());
    let covers = offered
        .iter()
        .map(|&c| CoversChoice {
            id: if c == Covers::Tip {
                "covers-tip"
            } else {
                "covers-cluster"
            },
            value: c.as_str(),
            label: t
                .get(&format!("holds.place_covers_{}", c.as_str()))
                .to_owned(),
            checked: Some(c) == chosen,
        })
        .collect::<Vec<_>>();
    let error_of = |field: &str| {
        input
            .errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| error_text(t, e))
    };
    let holds: Vec<HoldView> = [loaded.own, loaded.cluster]
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(n, h)| {
            let lifting = input.lifting == Some(h.id);
            HoldView {
                lift_field: format!("lift-reason-{n}"),
                lift_reason: if lifting {
                    input.lift_reason.clone()
                } else {
                    String::new()
                },
                lift_error: error_of("lift_reason").filter(|_| lifting),
                covers: covers_label(t, h.covers()),
                placed_by: actor_name(&h.placed_by, people, t),
                placed_at: local_time(h.placed_at),
                id: h.id.to_string(),
                reason: h.reason,
            }
        })
        .collect();
    let summary = input
        .errors
        .iter()
        .map(|e| {
            let anchor = match e.field.as_str() {
                "covers" => covers.first().map_or("place-hold", |c| c.id).to_owned(),
                "lift_reason" => holds
                    .iter()
                    .find(|h| input.lifting.is_some_and(|id| id.to_string() == h.id))
                    .map_or_else(|| "legal-hold".to_owned(), |h| h.lift_field.clone()),
                _ => "hold-reason".to_owned(),
            };
            (anchor, error_text(t, e))
        })
        .collect();
    RecordsBlock {
        may_place: may_manage && disposed.is_none() && !covers.is_empty(),
        disposed,
        holds,
        may_manage,
        reason_error: error_of("reason"),
        covers_error: error_of("covers"),
        covers,
        reason: input.reason,
        summary,
        refusal: input.refusal,
        holds_href: super::holds::PATH,
        records_href: RECORDS,
    }
}

#[derive(Deserialize)]
pub struct PlaceForm {
    csrf_token: Option<String>,
    reason: Option<String>,
    covers: Option<String>,
}

#[derive(Deserialize)]
pub struct LiftForm {
    csrf_token: Option<String>,
    hold: Option<String>,
    reason: Option<String>,
}

/// The person, the tip and a connection once the CSRF token checks out, the person may read the
/// tip (these forms are on its page) and may manage its holds; else the page that says why not.
async fn guard(
    request: &HttpRequest,
    state: &AppState,
    csrf_token: Option<&str>,
    path: &str,
) -> Result<(SignedIn, Uuid, PooledConnection), HttpResponse> {
    let who = signed_in(request, state).await?;
    if !csrf::verify(request, csrf_token) {
        return Err(csrf_failed(state, request, &who));
    }
    let Ok(id) = path.parse::<Uuid>() else {
        return Err(not_found(state, request, &who));
    };
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    let answer = match access::tip(&mut conn, &who.principal, id, TipVerb::Read).await {
        Ok(Ok(_)) => hold::authorize_tip(&mut conn, &who.principal, id).await,
        Ok(Err(denied)) => Ok(Err(denied)),
        Err(error) => Err(error),
    };
    match answer {
        Ok(Ok(_)) => Ok((who, id, conn)),
        Ok(Err(Denied::NotFound)) => Err(not_found(state, request, &who)),
        Ok(Err(Denied::Forbidden)) => Err(forbidden(state, request, &who)),
        Err(error) => {
            tracing::warn!(error = %error, "authorising a legal hold failed");
            Err(unavailable())
        }
    }
}

/// The page again after a refused placement or lift (nothing was written).
async fn refused(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    tip_id: Uuid,
    mut input: HoldInput,
    error: HoldError,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
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
            input.refusal = refusal_text(t, &refusal);
            StatusCode::CONFLICT
        }
    };
    render_with_holds(request, state, who, tip_id, input, status).await
}

/// POST: places a hold on the tip or its cluster.
pub async fn place(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<PlaceForm>,
) -> HttpResponse {
    let (who, id, mut conn) = match guard(&request, &state, form.csrf_token.as_deref(), &path).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut input = HoldInput {
        reason: form.reason.clone().unwrap_or_default(),
        covers: form.covers.as_deref().and_then(Covers::parse),
        ..HoldInput::default()
    };
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
    let (Some(reason), Some(covers)) = (reason, input.covers) else {
        drop(conn);
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_with_holds(&request, &state, &who, id, input, status).await;
    };
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let result = hold::place(&mut conn, &state.crypto, by, id, covers, &reason).await;
    drop(conn);
    match result {
        Ok(_) => see_other(&format!("/inspektor/tips/{id}?hold=placed#legal-hold"), []),
        Err(error) => refused(&request, &state, &who, id, input, error).await,
    }
}

/// POST: lifts a hold that covers the tip (its own or its cluster's).
pub async fn lift(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LiftForm>,
) -> HttpResponse {
    let (who, id, mut conn) = match guard(&request, &state, form.csrf_token.as_deref(), &path).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let hold_id = form.hold.as_deref().and_then(|h| h.parse::<Uuid>().ok());
    let mut input = HoldInput {
        lifting: hold_id,
        lift_reason: form.reason.clone().unwrap_or_default(),
        ..HoldInput::default()
    };
    // Only a hold that covers this tip is lifted from its page.
    let covering = match hold::for_tip(&mut conn, id).await {
        Ok(holds) => holds.into_iter().find(|h| Some(h.id) == hold_id),
        Err(error) => {
            tracing::warn!(error = %error, "reading a tip's legal holds failed");
            return unavailable();
        }
    };
    let Some(covering) = covering else {
        drop(conn);
        let t = state.translations.texts(who.lang);
        input.refusal = Some(t.get("holds.refused_stale").to_owned());
        return render_with_holds(&request, &state, &who, id, input, StatusCode::CONFLICT).await;
    };
    let reason = match HoldReason::parse("lift_reason", form.reason.as_deref()) {
        Ok(reason) => reason,
        Err(error) => {
            drop(conn);
            input.errors.push(error);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_with_holds(&request, &state, &who, id, input, status).await;
        }
    };
    let actor = who.principal.actor();
    let request_id = telemetry::request_id(&request);
    let by = Actor {
        actor: &actor,
        request_id: request_id.as_deref(),
    };
    let result = hold::lift(&mut conn, &state.crypto, by, covering.id, Some(id), &reason).await;
    drop(conn);
    match result {
        Ok(_) => see_other(&format!("/inspektor/tips/{id}?hold=lifted#legal-hold"), []),
        Err(error) => refused(&request, &state, &who, id, input, error).await,
    }
}
