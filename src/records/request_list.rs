//! Listing public-records requests: those a principal may see (every tip of the request one
//! they may handle, decided in SQL as `request::load` decides for one), newest registration
//! first, by status, a page at a time after a cursor.

use chrono::{DateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::request::{RequestRow, Status};
use crate::auth::policy::{self, Principal, TipScope};
use crate::db::schema::{records_request_tips, records_requests, tips};

/// The teams whose tips a principal may handle (`None`: all), for filtering lists in SQL the
/// way `may_handle` decides one tip.
fn team_filter(principal: &Principal) -> Option<Vec<String>> {
    match principal {
        Principal::System(_) => None,
        Principal::Person(_) => match policy::tip_scope(principal) {
            TipScope::All => None,
            TipScope::Teams(teams) => Some(teams),
            TipScope::None => Some(Vec::new()),
        },
    }
}

/// One line of a list of requests.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub request: RequestRow,
    pub tip_references: Vec<String>,
}

/// Where the next page of a list starts: after this registration time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub registered_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// `<microseconds>_<id as 32 hex digits>`: only characters a URL keeps as they are.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.registered_at.timestamp_micros(),
            self.id.simple()
        )
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (micros, id) = text.split_once('_')?;
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if !(1..=16).contains(&micros.len())
            || !micros.chars().all(|c| c.is_ascii_digit())
            || id.len() != 32
            || !id.chars().all(hex)
        {
            return None;
        }
        Some(Cursor {
            registered_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

/// Requests the principal may see, newest registration first, in the given statuses (all
/// when empty); `limit` rows and the cursor of the next page if there is one.
pub async fn list(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    statuses: &[Status],
    after: Option<Cursor>,
    limit: i64,
) -> Result<(Vec<ListRow>, Option<Cursor>), diesel::result::Error> {
    let mut query = records_requests::table
        .select(RequestRow::as_select())
        .into_boxed();
    if !statuses.is_empty() {
        let codes: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(records_requests::status.eq_any(codes));
    }
    if let Some(teams) = team_filter(principal) {
        // No tip of the request is outside the teams.
        query = query.filter(not(exists(
            records_request_tips::table
                .inner_join(tips::table)
                .filter(records_request_tips::request_id.eq(records_requests::id))
                .filter(tips::team.ne_all(teams)),
        )));
    }
    if let Some(cursor) = after {
        query = query.filter(
            records_requests::registered_at.lt(cursor.registered_at).or(
                records_requests::registered_at
                    .eq(cursor.registered_at)
                    .and(records_requests::id.lt(cursor.id)),
            ),
        );
    }
    let mut rows: Vec<RequestRow> = query
        .order((
            records_requests::registered_at.desc(),
            records_requests::id.desc(),
        ))
        .limit(limit + 1)
        .load(conn)
        .await?;
    let next = if rows.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        rows.pop();
        rows.last().map(|r| Cursor {
            registered_at: r.registered_at,
            id: r.id,
        })
    } else {
        None
    };
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let references: Vec<(Uuid, String)> = records_request_tips::table
        .inner_join(tips::table)
        .filter(records_request_tips::request_id.eq_any(&ids))
        .order(tips::reference.asc())
        .select((records_request_tips::request_id, tips::reference))
        .load(conn)
        .await?;
    let list = rows
        .into_iter()
        .map(|request| ListRow {
            tip_references: references
                .iter()
                .filter(|(id, _)| *id == request.id)
                .map(|(_, r)| r.clone())
                .collect(),
            request,
        })
        .collect();
    Ok((list, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let cursor = Cursor {
            registered_at: DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "_",
            "12_",
            "x_00000000000000000000000000000000",
            "12_abc",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
