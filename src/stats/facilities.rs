//! Facility signals: facilities (normalised name + municipality, the key repeat signals use)
//! ranked by their tips in the selection's range, with their clusters and priorities. Names
//! are shown only as `auth::policy::stats_disclosure` allows; the normalised key, which holds
//! the name, never leaves this module.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::query::{Selection, bind_selection, filter_sql};
use super::suppression;
use crate::auth::policy::StatsDisclosure;

/// How many facilities the list shows.
pub const LIMIT: i64 = 20;

#[derive(Debug, Clone, QueryableByName)]
struct FacilityRow {
    #[diesel(sql_type = Text)]
    facility_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    municipality_code: Option<String>,
    #[diesel(sql_type = Text)]
    region_code: String,
    #[diesel(sql_type = BigInt)]
    tips: i64,
    #[diesel(sql_type = BigInt)]
    critical: i64,
    #[diesel(sql_type = BigInt)]
    high: i64,
    #[diesel(sql_type = BigInt)]
    normal: i64,
    #[diesel(sql_type = BigInt)]
    low: i64,
    #[diesel(sql_type = BigInt)]
    clusters: i64,
    #[diesel(sql_type = Array<Text>)]
    teams: Vec<String>,
}

#[derive(Debug, Clone, QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    facility_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    facility_name: Option<String>,
}

/// One facility in the ranking, after disclosure control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacilitySignal {
    pub rank: usize,
    /// The facility's name, when the principal may see it.
    pub name: Option<String>,
    pub municipality_code: Option<String>,
    pub region_code: String,
    /// Tips in the range (`None`: hidden).
    pub tips: Option<i64>,
    /// Tips per priority, critical to low (`None`: hidden).
    pub priorities: [Option<i64>; 4],
    /// Repeat-signal clusters the facility's tips belong to.
    pub clusters: i64,
}

fn sql(selection: &Selection) -> String {
    format!(
        "SELECT s.facility_key, max(s.municipality_code) AS municipality_code, \
         max(s.region_code) AS region_code, count(*) AS tips, \
         count(*) FILTER (WHERE s.priority = 'critical') AS critical, \
         count(*) FILTER (WHERE s.priority = 'high') AS high, \
         count(*) FILTER (WHERE s.priority = 'normal') AS normal, \
         count(*) FILTER (WHERE s.priority = 'low') AS low, \
         count(DISTINCT s.cluster_id) AS clusters, \
         array_agg(DISTINCT s.team) AS teams \
         FROM (SELECT t.region_code, t.municipality_code, t.category, t.care_sector, t.priority, \
               t.outcome, t.outbreak, t.channel, t.reporter_role, t.team, t.facility_key, \
               t.cluster_id \
               FROM tips t WHERE t.submitted_at >= $3 AND t.submitted_at < $4 \
               AND t.facility_key IS NOT NULL) s \
         WHERE {} AND $1 <= $2 \
         GROUP BY s.facility_key ORDER BY count(*) DESC, s.facility_key LIMIT {LIMIT}",
        filter_sql(selection, "s")
    )
}

/// The facilities with most tips in the selection, as `disclosure` allows them to be shown.
pub async fn signals(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    disclosure: &StatsDisclosure,
    threshold: i64,
) -> diesel::QueryResult<Vec<FacilitySignal>> {
    let rows: Vec<FacilityRow> = bind_selection!(diesel::sql_query(sql(selection)), selection)
        .load(conn)
        .await?;
    let nameable: Vec<String> = rows
        .iter()
        .filter(|row| may_name(disclosure, row.tips, &row.teams, threshold))
        .map(|row| row.facility_key.clone())
        .collect();
    let names: Vec<NameRow> = if nameable.is_empty() {
        Vec::new()
    } else {
        // The most recent spelling of each name.
        diesel::sql_query(
            "SELECT k AS facility_key, (SELECT t.facility_name FROM tips t \
             WHERE t.facility_key = k AND t.facility_name IS NOT NULL \
             ORDER BY t.submitted_at DESC LIMIT 1) AS facility_name \
             FROM unnest($1::text[]) AS k",
        )
        .bind::<Array<Text>, _>(nameable)
        .load(conn)
        .await?
    };
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let name = names
                .iter()
                .find(|n| n.facility_key == row.facility_key)
                .and_then(|n| n.facility_name.clone());
            protect(i + 1, row, name, disclosure.suppress, threshold)
        })
        .collect())
}

/// Whether a facility's name may be shown (pure).
pub fn may_name(disclosure: &StatsDisclosure, tips: i64, teams: &[String], threshold: i64) -> bool {
    disclosure.all_facility_names
        || (disclosure.facility_names_above_threshold && tips >= threshold)
        || teams
            .iter()
            .any(|t| disclosure.facility_names_of_teams.contains(t))
}

fn protect(
    rank: usize,
    row: FacilityRow,
    name: Option<String>,
    suppress: bool,
    threshold: i64,
) -> FacilitySignal {
    let counts = [row.critical, row.high, row.normal, row.low];
    let hidden = if suppress {
        let keys: Vec<Vec<usize>> = (0..4).map(|p| vec![p]).collect();
        // All four priorities are listed, so no unlisted zero is ever needed.
        suppression::suppress(&keys, &counts, threshold).hidden
    } else {
        vec![false; 4]
    };
    let shown = |n: i64, hidden: bool| (!hidden).then_some(n);
    FacilitySignal {
        rank,
        name,
        municipality_code: row.municipality_code,
        region_code: row.region_code,
        tips: shown(row.tips, suppress && row.tips < threshold),
        priorities: [
            shown(counts[0], hidden[0]),
            shown(counts[1], hidden[1]),
            shown(counts[2], hidden[2]),
            shown(counts[3], hidden[3]),
        ],
        clusters: row.clusters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disclosure(all: bool, teams: &[&str], above: bool) -> StatsDisclosure {
        StatsDisclosure {
            suppress: !all,
            all_facility_names: all,
            facility_names_of_teams: teams.iter().map(|t| t.to_string()).collect(),
            facility_names_above_threshold: above,
        }
    }

    #[test]
    fn names_follow_the_role() {
        let syd = vec!["syd".to_owned()];
        assert!(may_name(&disclosure(true, &[], false), 1, &syd, 5));
        // an analyst: only facilities with at least the threshold of tips
        assert!(!may_name(&disclosure(false, &[], true), 4, &syd, 5));
        assert!(may_name(&disclosure(false, &[], true), 5, &syd, 5));
        // an inspector: only facilities with tips in their teams
        assert!(may_name(&disclosure(false, &["syd"], false), 1, &syd, 5));
        assert!(!may_name(&disclosure(false, &["nord"], false), 50, &syd, 5));
    }
}
