//! The triage queue query: open tips by priority, due date and age, with filters and keyset
//! pagination (stable under concurrent inserts: a page continues strictly after the last row
//! seen, whatever arrives meanwhile).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int2, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::tips;

/// The statuses of tips still being worked; matches the queue indexes' predicate.
pub const OPEN_STATUSES: [&str; 3] = ["new", "in_review", "awaiting_reporter"];
/// The same predicate as SQL text, so the planner can use the partial indexes.
const OPEN_PREDICATE: &str = "tips.status IN ('new', 'in_review', 'awaiting_reporter')";

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub priority_rank: i16,
    pub due_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Filters; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct QueueFilter {
    /// Only these teams (the principal's scope); an empty list matches nothing.
    pub teams: Option<Vec<String>>,
    pub team: Option<String>,
    pub region_code: Option<String>,
    pub category: Option<String>,
    pub care_sector: Option<String>,
    pub priority: Option<String>,
    /// The statuses to list (never empty).
    pub statuses: Vec<String>,
    pub overdue: Option<bool>,
    pub cluster: Option<Uuid>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_before: Option<DateTime<Utc>>,
    pub text: Option<String>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tips)]
pub struct QueueRow {
    pub id: Uuid,
    pub reference: String,
    pub priority: String,
    pub priority_rank: i16,
    pub team: String,
    pub status: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub due_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub cluster_id: Option<Uuid>,
    pub assignee: Option<String>,
}

impl QueueRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            priority_rank: self.priority_rank,
            due_at: self.due_at,
            submitted_at: self.submitted_at,
            id: self.id,
        }
    }
}

/// One page: up to `limit` rows after `after`, plus whether more follow.
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<QueueRow>, bool)> {
    let mut query = tips::table.select(QueueRow::as_select()).into_boxed();
    if filter
        .statuses
        .iter()
        .all(|s| OPEN_STATUSES.contains(&s.as_str()))
    {
        query = query.filter(sql::<Bool>(OPEN_PREDICATE));
    }
    query = query.filter(tips::status.eq_any(filter.statuses.clone()));
    if let Some(team) = &filter.team {
        query = query.filter(tips::team.eq(team.clone()));
    }
    if let Some(teams) = &filter.teams {
        query = query.filter(tips::team.eq_any(teams.clone()));
    }
    if let Some(region) = &filter.region_code {
        query = query.filter(tips::region_code.eq(region.clone()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(tips::category.eq(category.clone()));
    }
    if let Some(sector) = &filter.care_sector {
        query = query.filter(tips::care_sector.eq(sector.clone()));
    }
    if let Some(priority) = &filter.priority {
        query = query.filter(tips::priority.eq(priority.clone()));
    }
    match filter.overdue {
        // Overdue: the first review is late (nobody has started on the tip).
        Some(true) => query = query.filter(tips::status.eq("new").and(tips::due_at.lt(now))),
        Some(false) => query = query.filter(tips::status.ne("new").or(tips::due_at.ge(now))),
        None => {}
    }
    if let Some(cluster) = filter.cluster {
        query = query.filter(tips::cluster_id.eq(cluster));
    }
    if let Some(from) = filter.submitted_from {
        query = query.filter(tips::submitted_at.ge(from));
    }
    if let Some(before) = filter.submitted_before {
        query = query.filter(tips::submitted_at.lt(before));
    }
    if let Some(text) = &filter.text {
        query = query.filter(
            sql::<Bool>("tips.search @@ websearch_to_tsquery('swedish', ")
                .bind::<Text, _>(text.clone())
                .sql(")"),
        );
    }
    if let Some(cursor) = after {
        query = query.filter(
            sql::<Bool>("(tips.priority_rank, tips.due_at, tips.submitted_at, tips.id) > (")
                .bind::<Int2, _>(cursor.priority_rank)
                .sql(", ")
                .bind::<Timestamptz, _>(cursor.due_at)
                .sql(", ")
                .bind::<Timestamptz, _>(cursor.submitted_at)
                .sql(", ")
                .bind::<SqlUuid, _>(cursor.id)
                .sql(")"),
        );
    }
    let mut rows = query
        .order((
            tips::priority_rank.asc(),
            tips::due_at.asc(),
            tips::submitted_at.asc(),
            tips::id.asc(),
        ))
        .limit(limit + 1)
        .load(conn)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// Open tips per status (and how many are overdue), limited to `teams` when given.
pub async fn open_counts(
    conn: &mut AsyncPgConnection,
    teams: Option<&[String]>,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<(String, i64)>, i64)> {
    let mut by_status = tips::table
        .filter(sql::<Bool>(OPEN_PREDICATE))
        .group_by(tips::status)
        .select((tips::status, diesel::dsl::count_star()))
        .into_boxed();
    let mut overdue = tips::table
        .filter(sql::<Bool>(OPEN_PREDICATE))
        .filter(tips::status.eq("new").and(tips::due_at.lt(now)))
        .count()
        .into_boxed();
    if let Some(teams) = teams {
        by_status = by_status.filter(tips::team.eq_any(teams.to_vec()));
        overdue = overdue.filter(tips::team.eq_any(teams.to_vec()));
    }
    let counts = by_status.load::<(String, i64)>(conn).await?;
    let overdue = overdue.get_result::<i64>(conn).await?;
    Ok((counts, overdue))
}
