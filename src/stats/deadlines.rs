//! Deadline compliance per team: the median time from submission to first review (the first
//! time the tip left 'new', `tips.first_reviewed_at`) and the share of tips first reviewed by
//! their deadline, for the tips submitted in the selection's range.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::query::{Selection, bind_selection, filter_sql};

#[derive(Debug, Clone, QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    team: String,
    #[diesel(sql_type = BigInt)]
    tips: i64,
    #[diesel(sql_type = BigInt)]
    reviewed: i64,
    #[diesel(sql_type = Nullable<Double>)]
    median_seconds: Option<f64>,
    #[diesel(sql_type = BigInt)]
    in_time: i64,
    #[diesel(sql_type = BigInt)]
    late: i64,
}

/// One team's compliance, after disclosure control (`None`: hidden or not defined).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamDeadlines {
    pub team: String,
    pub tips: Option<i64>,
    /// Median hours from submission to first review, of the reviewed tips.
    pub median_hours: Option<f64>,
    /// Per cent of decided tips (reviewed, or past their deadline) reviewed in time.
    pub share_in_time: Option<f64>,
    /// Decided tips: reviewed, or not reviewed and past the deadline.
    pub decided: Option<i64>,
}

fn sql(selection: &Selection) -> String {
    format!(
        "SELECT s.team, count(*) AS tips, count(s.first_reviewed_at) AS reviewed, \
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.first_reviewed_at - s.submitted_at)) \
             AS median_seconds, \
         count(*) FILTER (WHERE s.first_reviewed_at <= s.due_at) AS in_time, \
         count(*) FILTER (WHERE s.first_reviewed_at > s.due_at \
             OR (s.first_reviewed_at IS NULL AND s.due_at < $14)) AS late \
         FROM (SELECT t.region_code, t.municipality_code, t.category, t.care_sector, t.priority, \
               t.outcome, t.outbreak, t.channel, t.reporter_role, t.team, t.submitted_at, \
               t.due_at, t.first_reviewed_at \
               FROM tips t WHERE t.submitted_at >= $3 AND t.submitted_at < $4) s \
         WHERE {} AND $1 <= $2 GROUP BY s.team ORDER BY s.team",
        filter_sql(selection, "s")
    )
}

/// Compliance per team (teams without tips in the range are left out).
pub async fn per_team(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    now: DateTime<Utc>,
    suppress: bool,
    threshold: i64,
) -> diesel::QueryResult<Vec<TeamDeadlines>> {
    let rows: Vec<Row> = bind_selection!(diesel::sql_query(sql(selection)), selection)
        .bind::<Timestamptz, _>(now)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| protect(row, suppress, threshold))
        .collect())
}

/// Numbers drawn from fewer than `threshold` tips are hidden (pure).
fn protect(row: Row, suppress: bool, threshold: i64) -> TeamDeadlines {
    let small = |n: i64| suppress && n < threshold;
    let decided = row.in_time + row.late;
    TeamDeadlines {
        team: row.team,
        tips: (!small(row.tips)).then_some(row.tips),
        median_hours: row
            .median_seconds
            .filter(|_| !small(row.reviewed))
            .map(|s| s / 3600.0),
        share_in_time: (decided > 0 && !small(decided))
            .then(|| row.in_time as f64 * 100.0 / decided as f64),
        decided: (!small(decided)).then_some(decided),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tips: i64, reviewed: i64, in_time: i64, late: i64) -> Row {
        Row {
            team: "syd".into(),
            tips,
            reviewed,
            median_seconds: Some(7200.0),
            in_time,
            late,
        }
    }

    #[test]
    fn few_tips_hide_the_rates() {
        let shown = protect(row(20, 10, 8, 2), true, 5);
        assert_eq!(shown.share_in_time, Some(80.0));
        assert_eq!(shown.median_hours, Some(2.0));
        let hidden = protect(row(4, 4, 3, 1), true, 5);
        assert_eq!(
            (hidden.tips, hidden.median_hours, hidden.share_in_time),
            (None, None, None)
        );
        let lead = protect(row(4, 4, 3, 1), false, 5);
        assert_eq!(lead.share_in_time, Some(75.0));
    }
}
