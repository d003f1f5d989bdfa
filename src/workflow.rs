//! Working a tip: status transitions, closing with an outcome, marking duplicates, overriding
//! the priority, assigning, and re-triage — each under optimistic concurrency (the tip's
//! version) and each recorded as an event with actor, before, after and reason. Shared by the
//! REST API and (later) the inspector pages.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::db;
use crate::db::schema::tips;
use crate::domain::{FieldError, Outcome, Priority, TipStatus};
use crate::triage::calendar::{self, Span};
use crate::triage::{self, TriageInput, TriageRules};

/// What to change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct TipChange {
    pub status: Option<TipStatus>,
    pub outcome: Option<Outcome>,
    pub duplicate_of: Option<Uuid>,
    pub priority: Option<Priority>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    /// Why; required for a priority override.
    pub reason: Option<String>,
}

impl TipChange {
    /// What was asked, for the audit log (field names and codes; no free text but the reason).
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "status": self.status.map(|s| s.as_str()),
            "outcome": self.outcome.map(|o| o.as_str()),
            "duplicate_of": self.duplicate_of,
            "priority": self.priority.map(|p| p.as_str()),
            "assignee_changed": self.assignee.is_some(),
            "reason": self.reason,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no such tip")]
    NotFound,
    #[error("the tip has changed since it was read")]
    Stale { current_version: i32 },
    #[error("invalid change")]
    Invalid(Vec<FieldError>),
    /// Disposed of under the records rules: the skeleton record is frozen.
    #[error("the tip has been disposed of")]
    Disposed,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

#[derive(Queryable)]
struct Current {
    status: String,
    outcome: Option<String>,
    priority: String,
    assignee: Option<String>,
    version: i32,
    submitted_at: chrono::DateTime<Utc>,
    disposed_at: Option<chrono::DateTime<Utc>>,
}

fn event_data(
    before: serde_json::Value,
    after: serde_json::Value,
    reason: Option<&str>,
) -> serde_json::Value {
    json!({ "before": before, "after": after, "reason": reason })
}

/// Applies `change` if the tip is still at `expected_version`; returns the new version.
pub async fn change_tip(
    conn: &mut AsyncPgConnection,
    rules: &TriageRules,
    id: Uuid,
    expected_version: i32,
    change: &TipChange,
    actor: &str,
) -> Result<i32, ChangeError> {
    conn.transaction::<_, ChangeError, _>(async |conn| {
        let current: Current = tips::table
            .find(id)
            .select((
                tips::status,
                tips::outcome,
                tips::priority,
                tips::assignee,
                tips::version,
                tips::submitted_at,
                tips::disposed_at,
            ))
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(ChangeError::NotFound)?;
        if current.disposed_at.is_some() {
            return Err(ChangeError::Disposed);
        }
        if current.version != expected_version {
            return Err(ChangeError::Stale {
                current_version: current.version,
            });
        }
        let status = TipStatus::parse(&current.status).ok_or(ChangeError::NotFound)?;
        let mut errors = Vec::new();
        let reason = change.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());

        // Status and outcome.
        let new_status = match change.status {
            Some(next) if next != status => {
                if status.allowed_next().contains(&next) {
                    Some(next)
                } else {
                    let allowed: Vec<&str> = status.allowed_next().iter().map(|s| s.as_str()).collect();
                    errors.push(FieldError::new(
                        "status",
                        "illegal_transition",
                        if allowed.is_empty() {
                            format!("a {} tip cannot change status", status.as_str())
                        } else {
                            format!("from {} the status can change to: {}", status.as_str(), allowed.join(", "))
                        },
                    ));
                    None
                }
            }
            _ => None,
        };
        let closing = new_status == Some(TipStatus::Closed);
        // Judged on what was asked, so an illegal move to closed reports only the move.
        let asked_to_close = change.status == Some(TipStatus::Closed);
        if asked_to_close && change.outcome.is_none() {
            errors.push(FieldError::new("outcome", "required", "is required to close a tip"));
        }
        if change.outcome.is_some() && !asked_to_close {
            errors.push(FieldError::new("outcome", "not_closing", "is given only when closing (status: closed)"));
        }
        match (change.outcome, change.duplicate_of) {
            (Some(Outcome::Duplicate), None) => errors.push(FieldError::new(
                "duplicate_of",
                "required",
                "name the tip this one duplicates",
            )),
            (Some(outcome), Some(_)) if outcome != Outcome::Duplicate => errors.push(FieldError::new(
                "duplicate_of",
                "not_duplicate",
                "is given only with outcome duplicate",
            )),
            (None, Some(_)) => errors.push(FieldError::new(
                "duplicate_of",
                "not_duplicate",
                "is given only with outcome duplicate",
            )),
            _ => {}
        }
        if let Some(original) = change.duplicate_of {
            let exists = original != id && db::tips::exists(conn, original).await?;
            if !exists {
                errors.push(FieldError::new("duplicate_of", "unknown_tip", "must be another existing tip"));
            }
        }
        if change.priority.is_some() && reason.is_none() {
            errors.push(FieldError::new("reason", "required", "is required to override the priority"));
        }
        if let Some(Some(assignee)) = &change.assignee
            && (assignee.trim().is_empty() || assignee.chars().count() > 200)
        {
            errors.push(FieldError::new("assignee", "invalid", "must be 1 to 200 characters, or null to unassign"));
        }
        if !errors.is_empty() {
            return Err(ChangeError::Invalid(errors));
        }

        let mut events: Vec<(&str, serde_json::Value)> = Vec::new();
        let version = current.version + 1;
        diesel::update(tips::table.find(id))
            .set((tips::version.eq(version), tips::updated_at.eq(diesel::dsl::now)))
            .execute(conn)
            .await?;
        if let Some(next) = new_status {
            let outcome = change.outcome.map(Outcome::as_str);
            diesel::update(tips::table.find(id))
                .set((
                    tips::status.eq(next.as_str()),
                    tips::outcome.eq(outcome),
                    tips::duplicate_of.eq(change.duplicate_of),
                ))
                .execute(conn)
                .await?;
            events.push((
                if closing { "closed" } else { "status_changed" },
                event_data(
                    json!({"status": status.as_str(), "outcome": current.outcome}),
                    json!({"status": next.as_str(), "outcome": outcome, "duplicate_of": change.duplicate_of}),
                    reason,
                ),
            ));
        }
        if let Some(priority) = change.priority
            && priority.as_str() != current.priority
        {
            let span = rules.first_review.get(&priority).copied().unwrap_or(Span::WorkingDays(5));
            diesel::update(tips::table.find(id))
                .set((
                    tips::priority.eq(priority.as_str()),
                    tips::priority_rank.eq(priority.rank()),
                    tips::due_at.eq(calendar::due(current.submitted_at, span)),
                ))
                .execute(conn)
                .await?;
            events.push((
                "priority_overridden",
                event_data(json!({"priority": current.priority}), json!({"priority": priority.as_str()}), reason),
            ));
        }
        if let Some(assignee) = &change.assignee {
            let assignee = assignee.as_deref().map(str::trim);
            if assignee != current.assignee.as_deref() {
                diesel::update(tips::table.find(id))
                    .set(tips::assignee.eq(assignee))
                    .execute(conn)
                    .await?;
                events.push((
                    "assigned",
                    event_data(json!({"assignee": current.assignee}), json!({"assignee": assignee}), reason),
                ));
            }
        }
        for (kind, data) in events {
            db::tips::insert_event(conn, &db::tips::NewTipEvent { tip_id: id, kind, actor, data }).await?;
        }
        Ok(version)
    })
    .await
}

/// Triages a stored tip again with the current rules; records a `retriaged` event with the
/// old and new results. Returns the new version.
pub async fn retriage(
    conn: &mut AsyncPgConnection,
    rules: &TriageRules,
    id: Uuid,
    actor: &str,
) -> Result<i32, ChangeError> {
    conn.transaction::<_, ChangeError, _>(async |conn| {
        let tip = db::tips::find(conn, id).await?.ok_or(ChangeError::NotFound)?;
        if is_disposed(conn, id).await? {
            return Err(ChangeError::Disposed);
        }
        let facility_key =
            triage::rules::facility_key(tip.facility_name.as_deref(), tip.municipality_code.as_deref());
        let since = triage::apply::window_start(tip.submitted_at, rules.repeat.window_days);
        let earlier = match &facility_key {
            Some(key) => {
                triage::apply::lock_facility(conn, key).await?;
                tips::table
                    .filter(tips::facility_key.eq(key))
                    .filter(tips::submitted_at.ge(since))
                    .filter(tips::submitted_at.lt(tip.submitted_at))
                    .count()
                    .get_result::<i64>(conn)
                    .await?
            }
            None => 0,
        };
        let result = triage::rules::evaluate(
            rules,
            &TriageInput {
                category: &tip.category,
                care_sector: &tip.care_sector,
                region_code: &tip.region_code,
                description: &tip.description,
                facility_name: tip.facility_name.as_deref(),
                ongoing: tip.ongoing,
                identified: !tip.anonymous,
                submitted_at: tip.submitted_at,
                earlier_tips_at_facility: u32::try_from(earlier).unwrap_or(u32::MAX),
            },
        );
        let hits = serde_json::to_value(&result.hits).unwrap_or_default();
        let version = tip.version + 1;
        diesel::update(tips::table.find(id))
            .set((
                tips::priority.eq(result.priority.as_str()),
                tips::priority_rank.eq(result.priority.rank()),
                tips::triage_score.eq(i32::try_from(result.score).unwrap_or(i32::MAX)),
                tips::team.eq(&result.team),
                tips::due_at.eq(result.due_at),
                tips::acknowledgement_due_at.eq(result.acknowledgement_due_at),
                tips::feedback_due_at.eq(result.feedback_due_at),
                tips::triage.eq(&hits),
                tips::triage_config_version.eq(&result.config_version),
                tips::facility_key.eq(&facility_key),
                tips::version.eq(version),
                tips::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        if result.forms_cluster
            && let Some(key) = &facility_key
        {
            triage::apply::link_cluster(conn, key, since).await?;
        }
        db::tips::insert_event(
            conn,
            &db::tips::NewTipEvent {
                tip_id: id,
                kind: "retriaged",
                actor,
                data: event_data(
                    json!({"priority": tip.priority, "team": tip.team, "config_version": tip.triage_config_version}),
                    json!({"priority": result.priority.as_str(), "team": result.team, "config_version": result.config_version}),
                    None,
                ),
            },
        )
        .await?;
        Ok(version)
    })
    .await
}

/// Whether the tip was disposed of (locked for update, so a disposal run cannot interleave).
pub async fn is_disposed(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    let disposed_at: Option<Option<chrono::DateTime<Utc>>> = tips::table
        .find(id)
        .select(tips::disposed_at)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(matches!(disposed_at, Some(Some(_))))
}
