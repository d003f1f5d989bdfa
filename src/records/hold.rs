//! Legal holds (gallringsspärr): a hold keeps one tip, or every tip of a cluster (also tips that
//! join it later), from disposal until it is lifted. Placing and lifting each commit in one
//! transaction with their audit row; a lifted hold stays, with who lifted it, when and why.
//! Shared by the REST API and the inspector pages, which authorise first (`authorize_*`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, AuditAction};
use crate::crypto::Crypto;
use crate::db::schema::{legal_holds, tips};
use crate::domain::FieldError;
use crate::domain::text::is_blank;

pub use super::hold_access::{HeldTip, ListedHold, active, authorize_hold, authorize_tip};

/// The longest reason (placing or lifting), in characters.
pub const REASON_MAX_CHARS: usize = 1000;

/// What a hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Covers {
    /// The one tip.
    #[default]
    Tip,
    /// Every tip of the tip's cluster, including tips that join it later.
    Cluster,
}

impl Covers {
    pub fn as_str(self) -> &'static str {
        match self {
            Covers::Tip => "tip",
            Covers::Cluster => "cluster",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Covers::Tip, Covers::Cluster]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// A stored hold, active or lifted.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = legal_holds)]
pub struct HoldRow {
    pub id: Uuid,
    /// Set for a hold on one tip.
    pub tip_id: Option<Uuid>,
    /// Set for a hold on a cluster.
    pub cluster_id: Option<Uuid>,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lift_reason: Option<String>,
}

impl HoldRow {
    pub fn covers(&self) -> Covers {
        if self.cluster_id.is_some() {
            Covers::Cluster
        } else {
            Covers::Tip
        }
    }

    pub fn is_active(&self) -> bool {
        self.lifted_at.is_none()
    }
}

/// The hold that keeps a tip from disposal now: its own, else its cluster's.
#[derive(Debug, Clone)]
pub struct ActiveHold {
    pub id: Uuid,
    pub covers: Covers,
    pub cluster_id: Option<Uuid>,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
}

impl From<HoldRow> for ActiveHold {
    fn from(row: HoldRow) -> Self {
        ActiveHold {
            id: row.id,
            covers: row.covers(),
            cluster_id: row.cluster_id,
            reason: row.reason,
            placed_by: row.placed_by,
            placed_at: row.placed_at,
        }
    }
}

/// A checked reason: trimmed, 1 to 1000 characters, something a reader can see, no NUL.
#[derive(Debug, Clone)]
pub struct HoldReason(String);

impl HoldReason {
    pub fn parse(field: &str, text: Option<&str>) -> Result<Self, FieldError> {
        let text = text.map(str::trim).unwrap_or_default();
        if is_blank(text) {
            return Err(FieldError::new(field, "required", "give a reason"));
        }
        if text.chars().count() > REASON_MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("must be at most {REASON_MAX_CHARS} characters"),
            ));
        }
        if text.contains('\0') {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "must not contain NUL characters",
            ));
        }
        Ok(HoldReason(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a hold was not placed or lifted. Nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("no such tip")]
    TipNotFound,
    #[error("no such legal hold")]
    HoldNotFound,
    #[error("the tip's content has been disposed of; there is nothing left to hold")]
    Disposed,
    #[error("the {} is already held by legal hold {existing}", covers.as_str())]
    AlreadyHeld { existing: Uuid, covers: Covers },
    /// A field-level refusal (`covers` = cluster on a tip without a cluster).
    #[error("invalid request")]
    Invalid(FieldError),
    #[error("the legal hold {0} was already lifted")]
    AlreadyLifted(Uuid),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Who acts and in which request, for the audit row.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub actor: &'a str,
    pub request_id: Option<&'a str>,
}

/// Places a hold on `tip_id` (or on its cluster). The tip's row (and the cluster's) is locked
/// for the transaction, so two holds, or a hold and a disposal, cannot interleave.
pub async fn place(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    by: Actor<'_>,
    tip_id: Uuid,
    covers: Covers,
    reason: &HoldReason,
) -> Result<HoldRow, HoldError> {
    conn.transaction::<_, HoldError, _>(async |conn| {
        let (disposed_at, cluster_id): (Option<DateTime<Utc>>, Option<Uuid>) = tips::table
            .find(tip_id)
            .select((tips::disposed_at, tips::cluster_id))
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(HoldError::TipNotFound)?;
        if disposed_at.is_some() {
            return Err(HoldError::Disposed);
        }
        let existing = match covers {
            Covers::Tip => active_on_tip(conn, tip_id).await?,
            Covers::Cluster => {
                let cluster_id = cluster_id.ok_or_else(|| {
                    HoldError::Invalid(FieldError::new(
                        "covers",
                        "no_cluster",
                        "the tip is not in a cluster; hold the tip itself",
                    ))
                })?;
                diesel::sql_query("SELECT 1 FROM tip_clusters WHERE id = $1 FOR UPDATE")
                    .bind::<diesel::sql_types::Uuid, _>(cluster_id)
                    .execute(conn)
                    .await?;
                active_on_cluster(conn, cluster_id).await?
            }
        };
        if let Some(existing) = existing {
            return Err(HoldError::AlreadyHeld {
                existing: existing.id,
                covers,
            });
        }
        let (held_tip, held_cluster) = match covers {
            Covers::Tip => (Some(tip_id), None),
            Covers::Cluster => (None, cluster_id),
        };
        let row: HoldRow = diesel::insert_into(legal_holds::table)
            .values((
                legal_holds::id.eq(Uuid::now_v7()),
                legal_holds::tip_id.eq(held_tip),
                legal_holds::cluster_id.eq(held_cluster),
                legal_holds::reason.eq(reason.as_str()),
                legal_holds::placed_by.eq(by.actor),
            ))
            .returning(HoldRow::as_returning())
            .get_result(conn)
            .await?;
        record(
            conn,
            crypto,
            by,
            AuditAction::PlaceLegalHold,
            Some(tip_id),
            &row,
            reason,
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Lifts an active hold. `via_tip` is the tip the person was looking at, if any (the audit
/// row names it; a tip hold names its own tip either way).
pub async fn lift(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    by: Actor<'_>,
    hold_id: Uuid,
    via_tip: Option<Uuid>,
    reason: &HoldReason,
) -> Result<HoldRow, HoldError> {
    conn.transaction::<_, HoldError, _>(async |conn| {
        let hold: HoldRow = legal_holds::table
            .find(hold_id)
            .select(HoldRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(HoldError::HoldNotFound)?;
        if !hold.is_active() {
            return Err(HoldError::AlreadyLifted(hold.id));
        }
        let row: HoldRow = diesel::update(legal_holds::table.find(hold_id))
            .set((
                legal_holds::lifted_by.eq(by.actor),
                legal_holds::lifted_at.eq(Some(Utc::now())),
                legal_holds::lift_reason.eq(reason.as_str()),
            ))
            .returning(HoldRow::as_returning())
            .get_result(conn)
            .await?;
        let tip = row.tip_id.or(via_tip);
        record(
            conn,
            crypto,
            by,
            AuditAction::LiftLegalHold,
            tip,
            &row,
            reason,
        )
        .await?;
        Ok(row)
    })
    .await
}

/// The audit row of a placement or a lift: the hold, what it covers and the reason typed by
/// staff — never anything of the tip's content.
async fn record(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    by: Actor<'_>,
    action: AuditAction,
    tip_id: Option<Uuid>,
    hold: &HoldRow,
    reason: &HoldReason,
) -> Result<(), diesel::result::Error> {
    audit::record(
        conn,
        crypto,
        &audit::Entry {
            actor: by.actor,
            action,
            tip_id,
            detail: json!({
                "hold_id": hold.id,
                "covers": hold.covers().as_str(),
                "cluster_id": hold.cluster_id,
                "reason": reason.as_str(),
            }),
            request_id: by.request_id,
        },
    )
    .await
    .map(|_| ())
}

/// The tip's own active hold.
pub async fn active_on_tip(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> QueryResult<Option<HoldRow>> {
    legal_holds::table
        .filter(legal_holds::tip_id.eq(tip_id))
        .filter(legal_holds::lifted_at.is_null())
        .select(HoldRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The cluster's active hold.
pub async fn active_on_cluster(
    conn: &mut AsyncPgConnection,
    cluster_id: Uuid,
) -> QueryResult<Option<HoldRow>> {
    legal_holds::table
        .filter(legal_holds::cluster_id.eq(cluster_id))
        .filter(legal_holds::lifted_at.is_null())
        .select(HoldRow::as_select())
        .first(conn)
        .await
        .optional()
}

async fn cluster_of(conn: &mut AsyncPgConnection, tip_id: Uuid) -> QueryResult<Option<Uuid>> {
    Ok(tips::table
        .find(tip_id)
        .select(tips::cluster_id)
        .first::<Option<Uuid>>(conn)
        .await
        .optional()?
        .flatten())
}

/// The hold that keeps the tip from disposal: the tip's own active hold, else its cluster's.
pub async fn active_for_tip(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> QueryResult<Option<ActiveHold>> {
    if let Some(own) = active_on_tip(conn, tip_id).await? {
        return Ok(Some(own.into()));
    }
    match cluster_of(conn, tip_id).await? {
        Some(cluster_id) => Ok(active_on_cluster(conn, cluster_id).await?.map(Into::into)),
        None => Ok(None),
    }
}

/// Every hold that covers or covered the tip (its own and its cluster's), newest first.
pub async fn for_tip(conn: &mut AsyncPgConnection, tip_id: Uuid) -> QueryResult<Vec<HoldRow>> {
    let cluster = cluster_of(conn, tip_id).await?;
    let mut query = legal_holds::table.select(HoldRow::as_select()).into_boxed();
    query = match cluster {
        Some(cluster_id) => query.filter(
            legal_holds::tip_id
                .eq(tip_id)
                .or(legal_holds::cluster_id.eq(cluster_id)),
        ),
        None => query.filter(legal_holds::tip_id.eq(tip_id)),
    };
    query
        .order((legal_holds::placed_at.desc(), legal_holds::id.desc()))
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, hold_id: Uuid) -> QueryResult<Option<HoldRow>> {
    legal_holds::table
        .find(hold_id)
        .select(HoldRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether and by which rule the tip's content was disposed of.
pub async fn disposal_of(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> QueryResult<Option<(DateTime<Utc>, String)>> {
    let marks: Option<(Option<DateTime<Utc>>, Option<String>)> = tips::table
        .find(tip_id)
        .select((tips::disposed_at, tips::disposal_rule))
        .first(conn)
        .await
        .optional()?;
    Ok(match marks {
        Some((Some(at), Some(rule))) => Some((at, rule)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_visible_and_at_most_a_thousand_characters() {
        let code = |text: &str| HoldReason::parse("reason", Some(text)).map_err(|e| e.code);
        assert_eq!(
            code("  Tillsynsärende 2026-1234 pågår.  ").map(|r| r.0),
            Ok("Tillsynsärende 2026-1234 pågår.".to_owned())
        );
        assert_eq!(code("").map(|r| r.0), Err("required".to_owned()));
        assert_eq!(code(" \u{200B}\n").map(|r| r.0), Err("required".to_owned()));
        assert_eq!(
            code(&"å".repeat(1000)).map(|r| r.0.chars().count()),
            Ok(1000)
        );
        assert_eq!(
            code(&"å".repeat(1001)).map(|_| ()),
            Err("too_long".to_owned())
        );
        assert_eq!(
            code("a\0b").map(|_| ()),
            Err("invalid_characters".to_owned())
        );
        assert!(HoldReason::parse("reason", None).is_err());
    }

    #[test]
    fn covers_reads_and_writes_its_codes() {
        for covers in [Covers::Tip, Covers::Cluster] {
            assert_eq!(Covers::parse(covers.as_str()), Some(covers));
        }
        assert_eq!(Covers::parse("facility"), None);
        assert_eq!(Covers::default(), Covers::Tip);
    }
}
