//! The triage queue query: open tips by priority, due date and age, with filters and keyset
//! pagination (stable under concurrent inserts: a page continues strictly after the last row
//! seen, whatever arrives meanwhile).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
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

/// A condition on `tips`, built up filter by filter.
type Predicate = Box<dyn BoxableExpression<tips::table, Pg, SqlType = Bool>>;

/// How many rows, in queue order, a text search reads before it turns to the full-text index.
/// A frequent word or phrase (in, say, every fifth tip) fills a page within this prefix, and
/// reading the prefix in order beats collecting and sorting every match; a rare one does not,
/// and the index finds its few matches directly.
const TEXT_WALK_ROWS: i64 = 1000;

/// The tip's description and facility match a Swedish web-search style query.
fn text_match(text: &str) -> Predicate {
    Box::new(
        sql::<Bool>("tips.search @@ websearch_to_tsquery('swedish', ")
            .bind::<Text, _>(text.to_owned())
            .sql(")"),
    )
}

/// Every filter but the text, and the position after the cursor.
fn predicate(filter: &QueueFilter, after: Option<&Cursor>, now: DateTime<Utc>) -> Predicate {
    let mut condition: Predicate = Box::new(tips::status.eq_any(filter.statuses.clone()));
    if filter
        .statuses
        .iter()
        .all(|s| OPEN_STATUSES.contains(&s.as_str()))
    {
        // Spelled as in the partial indexes' predicate, so the planner can use them.
        condition = Box::new(condition.and(sql::<Bool>(OPEN_PREDICATE)));
    }
    if let Some(team) = &filter.team {
        condition = Box::new(condition.and(tips::team.eq(team.clone())));
    }
    if let Some(teams) = &filter.teams {
        condition = Box::new(condition.and(tips::team.eq_any(teams.clone())));
    }
    if let Some(region) = &filter.region_code {
        condition = Box::new(condition.and(tips::region_code.eq(region.clone())));
    }
    if let Some(category) = &filter.category {
        condition = Box::new(condition.and(tips::category.eq(category.clone())));
    }
    if let Some(sector) = &filter.care_sector {
        condition = Box::new(condition.and(tips::care_sector.eq(sector.clone())));
    }
    if let Some(priority) = &filter.priority {
        condition = Box::new(condition.and(tips::priority.eq(priority.clone())));
    }
    match filter.overdue {
        // Overdue: the first review is late (nobody has started on the tip).
        Some(true) => {
            condition = Box::new(condition.and(tips::status.eq("new").and(tips::due_at.lt(now))))
        }
        Some(false) => {
            condition = Box::new(condition.and(tips::status.ne("new").or(tips::due_at.ge(now))))
        }
        None => {}
    }
    if let Some(cluster) = filter.cluster {
        condition = Box::new(condition.and(tips::cluster_id.eq(cluster).assume_not_null()));
    }
    if let Some(from) = filter.submitted_from {
        condition = Box::new(condition.and(tips::submitted_at.ge(from)));
    }
    if let Some(before) = filter.submitted_before {
        condition = Box::new(condition.and(tips::submitted_at.lt(before)));
    }
    if let Some(cursor) = after {
        condition = Box::new(
            condition.and(
                sql::<Bool>("(tips.priority_rank, tips.due_at, tips.submitted_at, tips.id) > (")
                    .bind::<Int2, _>(cursor.priority_rank)
                    .sql(", ")
                    .bind::<Timestamptz, _>(cursor.due_at)
                    .sql(", ")
                    .bind::<Timestamptz, _>(cursor.submitted_at)
                    .sql(", ")
                    .bind::<SqlUuid, _>(cursor.id)
                    .sql(")"),
            ),
        );
    }
    condition
}

/// Priority, then due date, then age; the id makes the order total (for the cursor).
fn queue_order() -> (
    diesel::helper_types::Asc<tips::priority_rank>,
    diesel::helper_types::Asc<tips::due_at>,
    diesel::helper_types::Asc<tips::submitted_at>,
    diesel::helper_types::Asc<tips::id>,
) {
    (
        tips::priority_rank.asc(),
        tips::due_at.asc(),
        tips::submitted_at.asc(),
        tips::id.asc(),
    )
}

/// One page: up to `limit` rows after `after`, plus whether more follow.
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<QueueRow>, bool)> {
    page_walking(conn, filter, after, limit, now, TEXT_WALK_ROWS).await
}

/// `page` with a given walk length for text searches (tests use short ones to reach both
/// strategies; the answer must not depend on it).
pub async fn page_walking(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    now: DateTime<Utc>,
    walk_rows: i64,
) -> QueryResult<(Vec<QueueRow>, bool)> {
    let mut rows = match &filter.text {
        None => {
            tips::table
                .select(QueueRow::as_select())
                .filter(predicate(filter, after, now))
                .order(queue_order())
                .limit(limit + 1)
                .load(conn)
                .await?
        }
        Some(text) => {
            match walk_for_text(conn, filter, after, limit, now, (text, walk_rows)).await? {
                Some(rows) => rows,
                None => {
                    tips::table
                        .select(QueueRow::as_select())
                        .filter(predicate(filter, after, now))
                        .filter(text_match(text))
                        .order(queue_order())
                        .limit(limit + 1)
                        .load(conn)
                        .await?
                }
            }
        }
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// Reads the queue in order, up to `TEXT_WALK_ROWS` rows, testing each against the text; the
/// page if that settles it (enough matches, or the queue ended), `None` if the index must
/// search the rest.
async fn walk_for_text(
    conn: &mut AsyncPgConnection,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    limit: i64,
    now: DateTime<Utc>,
    (text, walk_rows): (&str, i64),
) -> QueryResult<Option<Vec<QueueRow>>> {
    let walked: Vec<(Uuid, bool)> = tips::table
        .select((tips::id, text_match(text)))
        .filter(predicate(filter, after, now))
        .order(queue_order())
        .limit(walk_rows)
        .load(conn)
        .await?;
    let wanted = usize::try_from(limit + 1).unwrap_or(usize::MAX);
    let hits: Vec<Uuid> = walked
        .iter()
        .filter(|(_, hit)| *hit)
        .map(|(id, _)| *id)
        .take(wanted)
        .collect();
    let queue_ended = (walked.len() as i64) < walk_rows;
    if hits.len() < wanted && !queue_ended {
        return Ok(None);
    }
    let mut rows: Vec<QueueRow> = tips::table
        .select(QueueRow::as_select())
        .filter(tips::id.eq_any(&hits))
        .load(conn)
        .await?;
    rows.sort_by_key(|row| hits.iter().position(|id| *id == row.id));
    Ok(Some(rows))
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
