//! Trends: a selection's counts (by its `group_by` dimensions, without the period) in its date
//! range, in the range of the same length just before, and in the same dates a year earlier.

use chrono::{Duration, Months, NaiveDate};
use diesel_async::AsyncPgConnection;

use super::{Selection, Table, query};

/// One group's counts in the three ranges (`None`: hidden by disclosure control).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendRow {
    pub keys: Vec<Option<String>>,
    pub current: Option<i64>,
    pub previous: Option<i64>,
    pub year_ago: Option<i64>,
}

/// The three date ranges: current, previous (same length, just before), a year earlier.
pub fn ranges(selection: &Selection) -> [(NaiveDate, NaiveDate); 3] {
    let days = selection.days();
    let previous_to = selection.from - Duration::days(1);
    let previous_from = previous_to - Duration::days(days - 1);
    let year = |d: NaiveDate| d.checked_sub_months(Months::new(12)).unwrap_or(d);
    [
        (selection.from, selection.to),
        (previous_from, previous_to),
        (year(selection.from), year(selection.to)),
    ]
}

/// Change in per cent from `before` to `now`, when both are shown and `before` is not zero.
pub fn change_percent(now: Option<i64>, before: Option<i64>) -> Option<f64> {
    match (now, before) {
        (Some(now), Some(before)) if before > 0 => {
            Some((now - before) as f64 * 100.0 / before as f64)
        }
        _ => None,
    }
}

/// Merges three protected tables (same grouping) into trend rows (pure).
pub fn merge(tables: [&Table; 3]) -> Vec<TrendRow> {
    let mut keys: Vec<Vec<Option<String>>> = tables
        .iter()
        .flat_map(|t| t.cells.iter().map(|c| c.keys.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let value = |table: &Table, key: &Vec<Option<String>>| match table
        .cells
        .iter()
        .find(|c| &c.keys == key)
    {
        Some(cell) => Table::shown(cell),
        None => Some(0),
    };
    keys.into_iter()
        .map(|key| TrendRow {
            current: value(tables[0], &key),
            previous: value(tables[1], &key),
            year_ago: value(tables[2], &key),
            keys: key,
        })
        .collect()
}

/// The trend of a selection's `group_by` groups.
pub async fn trends(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    suppress: bool,
    threshold: i64,
) -> diesel::QueryResult<Vec<TrendRow>> {
    let base = selection.grouped(&selection.group_by, None);
    let [current, previous, year_ago] = ranges(&base);
    let mut tables = Vec::with_capacity(3);
    for (from, to) in [current, previous, year_ago] {
        let part = base.between(from, to);
        let rows = query::counts(conn, &part).await?;
        tables.push(super::protect(&part, rows, suppress, threshold));
    }
    Ok(merge([&tables[0], &tables[1], &tables[2]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_previous_range_has_the_same_length_and_the_year_ago_the_same_dates() {
        let selection =
            Selection::default_for(day("2026-11-25")).between(day("2026-11-01"), day("2026-11-30"));
        let [current, previous, year_ago] = ranges(&selection);
        assert_eq!(current, (day("2026-11-01"), day("2026-11-30")));
        assert_eq!(previous, (day("2026-10-02"), day("2026-10-31")));
        assert_eq!(year_ago, (day("2025-11-01"), day("2025-11-30")));
    }

    #[test]
    fn changes_need_two_shown_counts() {
        assert_eq!(change_percent(Some(15), Some(10)), Some(50.0));
        assert_eq!(change_percent(None, Some(10)), None);
        assert_eq!(change_percent(Some(3), Some(0)), None);
    }
}
