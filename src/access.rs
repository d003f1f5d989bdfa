//! Authorising work on one tip: find the tip's team, then ask the policy. Shared by the REST
//! API and the inspector pages so both answer "not found" for a tip outside the caller's scope.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::policy::{self, Decision, Principal, TipVerb};
use crate::db::schema::tips;

/// Why the answer is no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No such tip, or one the caller may not know of.
    NotFound,
    /// The caller may see the tip but not do this.
    Forbidden,
}

/// The tip's team if `principal` may do `verb` to it.
pub async fn tip(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    tip_id: Uuid,
    verb: TipVerb,
) -> Result<Result<String, Denied>, diesel::result::Error> {
    let team: Option<String> = tips::table
        .find(tip_id)
        .select(tips::team)
        .first(conn)
        .await
        .optional()?;
    let Some(team) = team else {
        return Ok(Err(Denied::NotFound));
    };
    Ok(match policy::decide(principal, verb.on(&team)) {
        Decision::Allow => Ok(team),
        Decision::NotFound => Err(Denied::NotFound),
        Decision::Forbidden => Err(Denied::Forbidden),
    })
}
