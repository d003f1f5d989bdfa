//! Who may manage which legal holds, and the list of active holds within a principal's scope
//! (the holds page). Re-exported by `records::hold`.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::hold::HoldRow;
use crate::access::Denied;
use crate::auth::policy::{self, Action, Decision, Principal, TipScope};
use crate::db::schema::{legal_holds, tips};

/// A tip as the holds list names it.
#[derive(Debug, Clone, Queryable)]
pub struct HeldTip {
    pub id: Uuid,
    pub reference: String,
    pub team: String,
    pub cluster_id: Option<Uuid>,
}

/// An active hold with the tips it covers (one, or the cluster's members).
#[derive(Debug, Clone)]
pub struct ListedHold {
    pub hold: HoldRow,
    pub tips: Vec<HeldTip>,
}

/// Every active hold on a tip or cluster within `scope` (a cluster is within it when one of its
/// tips is), newest first. Admins pass `TipScope::All`: a hold names a tip, not its content.
pub async fn active(
    conn: &mut AsyncPgConnection,
    scope: &TipScope,
) -> QueryResult<Vec<ListedHold>> {
    if *scope == TipScope::None {
        return Ok(Vec::new());
    }
    let holds: Vec<HoldRow> = legal_holds::table
        .filter(legal_holds::lifted_at.is_null())
        .select(HoldRow::as_select())
        .order((legal_holds::placed_at.desc(), legal_holds::id.desc()))
        .load(conn)
        .await?;
    let tip_ids: Vec<Uuid> = holds.iter().filter_map(|h| h.tip_id).collect();
    let cluster_ids: Vec<Uuid> = holds.iter().filter_map(|h| h.cluster_id).collect();
    let covered: Vec<HeldTip> = tips::table
        .filter(
            tips::id
                .eq_any(&tip_ids)
                .or(tips::cluster_id.eq_any(&cluster_ids)),
        )
        .select((tips::id, tips::reference, tips::team, tips::cluster_id))
        .order(tips::reference)
        .load(conn)
        .await?;
    Ok(holds
        .into_iter()
        .map(|hold| {
            let tips = covered
                .iter()
                .filter(|t| match (hold.tip_id, hold.cluster_id) {
                    (Some(tip), _) => t.id == tip,
                    (None, cluster) => t.cluster_id == cluster,
                })
                .cloned()
                .collect();
            ListedHold { hold, tips }
        })
        .filter(|listed| listed.tips.iter().any(|t| scope.includes(&t.team)))
        .collect())
}

/// May `principal` manage the holds of this tip? The tip's team on yes; 404 for a tip the
/// principal may not know of.
pub async fn authorize_tip(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    tip_id: Uuid,
) -> QueryResult<Result<String, Denied>> {
    let team: Option<String> = tips::table
        .find(tip_id)
        .select(tips::team)
        .first(conn)
        .await
        .optional()?;
    let Some(team) = team else {
        return Ok(Err(Denied::NotFound));
    };
    Ok(
        match policy::decide(principal, Action::ManageLegalHold { team: &team }) {
            Decision::Allow => Ok(team),
            Decision::NotFound => Err(Denied::NotFound),
            Decision::Forbidden => Err(Denied::Forbidden),
        },
    )
}

/// May `principal` manage this hold? A tip hold follows its tip; a cluster hold is allowed if
/// the principal may manage a hold on any of the cluster's tips, forbidden if it may see one of
/// them, and not found otherwise.
pub async fn authorize_hold(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    hold: &HoldRow,
) -> QueryResult<Result<(), Denied>> {
    let teams: Vec<String> = match (hold.tip_id, hold.cluster_id) {
        (Some(tip_id), _) => {
            tips::table
                .find(tip_id)
                .select(tips::team)
                .load(conn)
                .await?
        }
        (None, Some(cluster_id)) => {
            tips::table
                .filter(tips::cluster_id.eq(cluster_id))
                .select(tips::team)
                .distinct()
                .load(conn)
                .await?
        }
        (None, None) => Vec::new(),
    };
    let decisions: Vec<Decision> = teams
        .iter()
        .map(|team| policy::decide(principal, Action::ManageLegalHold { team }))
        .collect();
    Ok(if decisions.contains(&Decision::Allow) {
        Ok(())
    } else if decisions.contains(&Decision::Forbidden) {
        Err(Denied::Forbidden)
    } else {
        Err(Denied::NotFound)
    })
}
