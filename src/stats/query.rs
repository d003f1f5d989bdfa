//! The selection behind every situation-report output: which dimensions to group by, which
//! period (day, ISO week, month), which filters and dates. Parsed from query pairs with
//! field-level errors (shared by `GET /api/v1/stats`, its export and the dashboard page), and
//! turned into SQL over the daily rollup when it covers the selection, over `tips` otherwise.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::{FieldError, Outcome, Priority};
use crate::state::AppState;

/// Most dimensions one selection may group by.
pub const MAX_GROUP_BY: usize = 4;
/// Longest date range, in days (three years and a leap day).
pub const MAX_RANGE_DAYS: i64 = 1096;
/// Most zero cells filling in the periods may add to one answer (see `fill_periods`).
pub const MAX_ZERO_CELLS: usize = 200_000;
/// Default range: this ISO week and the twelve before it.
pub const DEFAULT_WEEKS: i64 = 13;

/// A dimension tips are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Region,
    Municipality,
    Category,
    CareSector,
    Priority,
    Outcome,
    Outbreak,
    Channel,
    ReporterRole,
}

impl Dimension {
    pub const ALL: [Dimension; 9] = [
        Dimension::Region,
        Dimension::Municipality,
        Dimension::Category,
        Dimension::CareSector,
        Dimension::Priority,
        Dimension::Outcome,
        Dimension::Outbreak,
        Dimension::Channel,
        Dimension::ReporterRole,
    ];

    /// The parameter name, which is also the column of `tips`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Region => "region_code",
            Dimension::Municipality => "municipality_code",
            Dimension::Category => "category",
            Dimension::CareSector => "care_sector",
            Dimension::Priority => "priority",
            Dimension::Outcome => "outcome",
            Dimension::Outbreak => "outbreak",
            Dimension::Channel => "channel",
            Dimension::ReporterRole => "reporter_role",
        }
    }

    pub fn parse(text: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Kept in the daily rollup `tip_daily_counts`.
    pub fn in_rollup(self) -> bool {
        matches!(
            self,
            Dimension::Region | Dimension::Category | Dimension::Outbreak
        )
    }

    fn index(self) -> usize {
        Dimension::ALL
            .iter()
            .position(|d| *d == self)
            .unwrap_or_default()
    }
}

/// The time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO week (Monday to Sunday).
    Week,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Option<Period> {
        [Period::Day, Period::Week, Period::Month]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// The period's label for its first day: `2026-11-23`, `2026-W48`, `2026-11`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Day => start.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
        }
    }

    /// The first day of the period `day` falls in (`None` only at the calendar's edge).
    pub fn start_of(self, day: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => Some(day),
            Period::Week => day.checked_sub_signed(Duration::days(i64::from(
                day.weekday().num_days_from_monday(),
            ))),
            Period::Month => day.with_day(1),
        }
    }

    /// The first day of the period after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => start.succ_opt(),
            Period::Week => start.checked_add_signed(Duration::weeks(1)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }

    /// The first days of every period touching `from`..=`to`, in order.
    pub fn starts(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut starts = Vec::new();
        let mut next = self.start_of(from);
        while let Some(start) = next.filter(|s| *s <= to) {
            starts.push(start);
            next = self.next(start);
        }
        starts
    }

    fn sql(self) -> &'static str {
        match self {
            Period::Day => "s.day",
            Period::Week => "date_trunc('week', s.day)::date",
            Period::Month => "date_trunc('month', s.day)::date",
        }
    }
}

/// A parsed selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub group_by: Vec<Dimension>,
    pub period: Option<Period>,
    /// Allowed codes per dimension (any of them).
    pub filters: BTreeMap<Dimension, Vec<String>>,
    /// First day, inclusive (Swedish calendar).
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

impl Selection {
    /// The default range ending `today`, no grouping, no filters.
    pub fn default_for(today: NaiveDate) -> Selection {
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        Selection {
            group_by: Vec::new(),
            period: None,
            filters: BTreeMap::new(),
            from: monday - Duration::weeks(DEFAULT_WEEKS - 1),
            to: today,
        }
    }

    /// The same selection with other grouping.
    pub fn grouped(&self, group_by: &[Dimension], period: Option<Period>) -> Selection {
        Selection {
            group_by: group_by.to_vec(),
            period,
            ..self.clone()
        }
    }

    /// The same selection over other dates.
    pub fn between(&self, from: NaiveDate, to: NaiveDate) -> Selection {
        Selection {
            from,
            to,
            ..self.clone()
        }
    }

    /// Days in the range.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether the daily rollup answers this selection.
    pub fn uses_rollup(&self) -> bool {
        self.group_by.iter().all(|d| d.in_rollup()) && self.filters.keys().all(|d| d.in_rollup())
    }

    /// The selection as query pairs (for links, exports and the audit log).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("from".to_owned(), self.from.format("%Y-%m-%d").to_string()),
            ("to".to_owned(), self.to.format("%Y-%m-%d").to_string()),
        ];
        if !self.group_by.is_empty() {
            pairs.push((
                "group_by".to_owned(),
                self.group_by
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ));
        }
        if let Some(period) = self.period {
            pairs.push(("period".to_owned(), period.as_str().to_owned()));
        }
        for (dimension, codes) in &self.filters {
            pairs.push((dimension.as_str().to_owned(), codes.join(",")));
        }
        pairs
    }
}

/// Start of a Swedish calendar day, in UTC.
pub fn swedish_midnight(date: NaiveDate) -> Option<DateTime<Utc>> {
    chrono_tz::Europe::Stockholm
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether `code` is a known value of `dimension`.
fn known(state: &AppState, dimension: Dimension, code: &str) -> bool {
    let taxonomy = &state.taxonomy;
    match dimension {
        Dimension::Region => taxonomy.has_region(code),
        Dimension::Municipality => taxonomy.region_of_municipality(code).is_some(),
        Dimension::Category => taxonomy.has_category(code),
        Dimension::CareSector => taxonomy.has_care_sector(code),
        Dimension::Priority => Priority::parse(code).is_some(),
        Dimension::Outcome => Outcome::parse(code).is_some(),
        Dimension::Outbreak => taxonomy.has_outbreak(code),
        Dimension::Channel => code == "web" || code == "api",
        Dimension::ReporterRole => taxonomy.has_reporter_role(code),
    }
}

/// Parses a selection; `today` is the Swedish date (the default end). Parameters the caller
/// handles itself (`extra`) are skipped; anything else unknown is an error.
pub fn parse(
    state: &AppState,
    pairs: &[(String, String)],
    today: NaiveDate,
    extra: &[&str],
) -> Result<Selection, Vec<FieldError>> {
    let mut selection = Selection::default_for(today);
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut from = None;
    let mut to = None;
    for (key, value) in pairs {
        if extra.contains(&key.as_str()) {
            continue;
        }
        if !seen.insert(key.as_str()) {
            errors.push(FieldError::new(
                key.clone(),
                "repeated",
                "give each parameter once",
            ));
            continue;
        }
        match key.as_str() {
            "group_by" => {
                let mut dimensions = Vec::new();
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match Dimension::parse(part) {
                        Some(d) if dimensions.contains(&d) => errors.push(FieldError::new(
                            key.clone(),
                            "repeated",
                            format!("names {part} twice"),
                        )),
                        Some(d) => dimensions.push(d),
                        None => errors.push(FieldError::new(
                            key.clone(),
                            "unknown_dimension",
                            format!(
                                "{part:?} is not a dimension (one of {})",
                                Dimension::ALL.map(|d| d.as_str()).join(", ")
                            ),
                        )),
                    }
                }
                if dimensions.len() > MAX_GROUP_BY {
                    errors.push(FieldError::new(
                        key.clone(),
                        "too_many",
                        format!("may name at most {MAX_GROUP_BY} dimensions"),
                    ));
                }
                selection.group_by = dimensions;
            }
            "period" => match Period::parse(value) {
                Some(period) => selection.period = Some(period),
                None => errors.push(FieldError::new(
                    key.clone(),
                    "unknown_period",
                    "must be day, week or month",
                )),
            },
            "from" | "to" => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                Ok(date) if swedish_midnight(date).is_some() => {
                    if key == "from" {
                        from = Some(date);
                    } else {
                        to = Some(date);
                    }
                }
                _ => errors.push(FieldError::new(
                    key.clone(),
                    "invalid_date",
                    "must be a date written YYYY-MM-DD",
                )),
            },
            name => match Dimension::parse(name) {
                Some(dimension) => {
                    let mut codes = Vec::new();
                    for code in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                        if known(state, dimension, code) {
                            if !codes.iter().any(|c| c == code) {
                                codes.push(code.to_owned());
                            }
                        } else {
                            errors.push(FieldError::new(
                                key.clone(),
                                "unknown_code",
                                format!("{code:?} is not a known {}", name.replace('_', " ")),
                            ));
                        }
                    }
                    if codes.is_empty() {
                        errors.push(FieldError::new(
                            key.clone(),
                            "empty",
                            "must list at least one code",
                        ));
                    } else {
                        selection.filters.insert(dimension, codes);
                    }
                }
                None => errors.push(FieldError::new(
                    key.clone(),
                    "unknown_field",
                    "is not a parameter of this request",
                )),
            },
        }
    }
    match (from, to) {
        (Some(from), Some(to)) => {
            selection.from = from;
            selection.to = to;
        }
        (Some(from), None) => {
            selection.from = from;
            selection.to = today.max(from);
        }
        (None, Some(to)) => {
            selection.to = to;
            selection.from = Selection::default_for(to).from;
        }
        (None, None) => {}
    }
    if selection.to < selection.from {
        errors.push(FieldError::new(
            "to",
            "before_from",
            "must not be before from",
        ));
    } else if selection.days() > MAX_RANGE_DAYS {
        errors.push(FieldError::new(
            "to",
            "range_too_long",
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        ));
    }
    if errors.is_empty() {
        Ok(selection)
    } else {
        Err(errors)
    }
}

/// One group's count, as the database returns it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CountRow {
    /// First day of the period; `None` without a period.
    #[diesel(sql_type = Nullable<Date>)]
    pub period_start: Option<NaiveDate>,
    /// One value per `group_by` dimension, in order (`None`: the tip has no value, e.g. no
    /// outbreak tag or no municipality).
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub keys: Vec<Option<String>>,
    #[diesel(sql_type = BigInt)]
    pub tips: i64,
}

/// The `tips` columns each selection reads, one row per tip, with its Swedish day.
const TIPS_SOURCE: &str = "(SELECT (t.submitted_at AT TIME ZONE 'Europe/Stockholm')::date AS day, \
     t.region_code, t.municipality_code, t.category, t.care_sector, t.priority, t.outcome, \
     t.outbreak, t.channel, t.reporter_role, 1 AS n \
     FROM tips t WHERE t.submitted_at >= $3 AND t.submitted_at < $4) s";
/// The rollup, day by day.
const ROLLUP_SOURCE: &str = "(SELECT r.day, r.region_code, r.category, \
     NULLIF(r.outbreak, '') AS outbreak, r.tips AS n \
     FROM tip_daily_counts r WHERE r.day BETWEEN $1 AND $2) s";

/// The `WHERE` conditions of the filters; `$5`… are the filters' code arrays, one per
/// dimension in `Dimension::ALL` order.
pub(crate) fn filter_sql(selection: &Selection, alias: &str) -> String {
    let mut conditions = vec!["true".to_owned()];
    for dimension in selection.filters.keys() {
        conditions.push(format!(
            "{alias}.{} = ANY(${})",
            dimension.as_str(),
            5 + dimension.index()
        ));
    }
    conditions.join(" AND ")
}

/// The SQL of a count selection (exposed for the benchmark's EXPLAIN and for tests).
pub fn count_sql(selection: &Selection) -> String {
    let period = selection.period.map_or("NULL::date", Period::sql);
    let columns: Vec<String> = selection
        .group_by
        .iter()
        .map(|d| format!("s.{}", d.as_str()))
        .collect();
    let keys = if columns.is_empty() {
        "ARRAY[]::text[]".to_owned()
    } else {
        format!("ARRAY[{}]::text[]", columns.join(", "))
    };
    let mut group = vec!["1".to_owned()];
    group.extend(columns.iter().cloned());
    let source = if selection.uses_rollup() {
        ROLLUP_SOURCE
    } else {
        TIPS_SOURCE
    };
    format!(
        "SELECT {period} AS period_start, {keys} AS keys, sum(s.n)::bigint AS tips \
         FROM {source} WHERE {} GROUP BY {} HAVING sum(s.n) > 0 ORDER BY 1, 2",
        filter_sql(selection, "s"),
        group.join(", ")
    )
}

/// The bounds `$1`–`$4`: first and last day, and the same as instants.
pub(crate) fn bounds(
    selection: &Selection,
) -> (NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>) {
    let start = swedish_midnight(selection.from).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = selection
        .to
        .succ_opt()
        .and_then(swedish_midnight)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (selection.from, selection.to, start, end)
}

/// Binds `$1`–`$13` (dates, instants, one code array per dimension) onto a raw query.
macro_rules! bind_selection {
    ($query:expr, $selection:expr) => {{
        let selection = $selection;
        let (from, to, start, end) = $crate::stats::query::bounds(selection);
        let codes = |d: $crate::stats::query::Dimension| -> Vec<String> {
            selection.filters.get(&d).cloned().unwrap_or_default()
        };
        use $crate::stats::query::Dimension as D;
        $query
            .bind::<diesel::sql_types::Date, _>(from)
            .bind::<diesel::sql_types::Date, _>(to)
            .bind::<diesel::sql_types::Timestamptz, _>(start)
            .bind::<diesel::sql_types::Timestamptz, _>(end)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Region))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Municipality))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Category))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::CareSector))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Priority))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Outcome))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Outbreak))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::Channel))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(codes(D::ReporterRole))
    }};
}
pub(crate) use bind_selection;

/// Filling in the periods without tips would make the answer too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("listing every period for every group would add {zeros} empty cells (at most {max})")]
pub struct TooManyCells {
    pub zeros: usize,
    pub max: usize,
}

/// The groups of `rows` in the order the count SQL gives them. Rows come sorted by period and
/// then group, so each period's rows order the groups they hold; the orders of all periods are
/// merged (a topological sort) rather than re-sorted in Rust, whose string order may differ
/// from the database's collation. Groups no period orders against each other go as PostgreSQL
/// would put them in the C collation (NULL last).
fn group_order(rows: &[CountRow]) -> Vec<Vec<Option<String>>> {
    let mut groups: Vec<Vec<Option<String>>> = Vec::new();
    let mut ids: HashMap<&[Option<String>], usize> = HashMap::new();
    let mut after: Vec<BTreeSet<usize>> = Vec::new();
    let mut before_count: Vec<usize> = Vec::new();
    let mut previous: Option<(Option<NaiveDate>, usize)> = None;
    for row in rows {
        let id = *ids.entry(row.keys.as_slice()).or_insert_with(|| {
            groups.push(row.keys.clone());
            after.push(BTreeSet::new());
            before_count.push(0);
            groups.len() - 1
        });
        if let Some((period, earlier)) = previous
            && period == row.period_start
            && earlier != id
            && after[earlier].insert(id)
        {
            before_count[id] += 1;
        }
        previous = Some((row.period_start, id));
    }
    let tie = |id: usize| -> (Vec<(bool, Option<&str>)>, usize) {
        let key = groups[id]
            .iter()
            .map(|k| (k.is_none(), k.as_deref()))
            .collect();
        (key, id)
    };
    let mut ready: BinaryHeap<Reverse<_>> = (0..groups.len())
        .filter(|&id| before_count[id] == 0)
        .map(|id| Reverse(tie(id)))
        .collect();
    let mut order = Vec::with_capacity(groups.len());
    let mut placed = vec![false; groups.len()];
    while let Some(Reverse((_, id))) = ready.pop() {
        order.push(id);
        placed[id] = true;
        for &next in &after[id] {
            before_count[next] -= 1;
            if before_count[next] == 0 {
                ready.push(Reverse(tie(next)));
            }
        }
    }
    // Only rows out of order could leave some unplaced; keep them rather than lose them.
    order.extend((0..groups.len()).filter(|&id| !placed[id]));
    order.into_iter().map(|id| groups[id].clone()).collect()
}

/// With a period, lists every period touching the range for every group that has tips in it,
/// with 0 where none fell (pure). Without a period the rows are returned as they are. Groups
/// without any tip in the range stay out. Errs when that would add more than `MAX_ZERO_CELLS`
/// zeros.
pub fn fill_periods(
    selection: &Selection,
    rows: Vec<CountRow>,
) -> Result<Vec<CountRow>, TooManyCells> {
    let Some(period) = selection.period else {
        return Ok(rows);
    };
    if rows.is_empty() {
        return Ok(rows);
    }
    let groups = group_order(&rows);
    let mut starts: Vec<Option<NaiveDate>> = period
        .starts(selection.from, selection.to)
        .into_iter()
        .map(Some)
        .collect();
    // A row outside the computed periods (never expected) is kept, in order.
    starts.extend(rows.iter().map(|r| r.period_start));
    starts.sort();
    starts.dedup();
    let cells = starts.len().saturating_mul(groups.len());
    let zeros = cells.saturating_sub(rows.len());
    if zeros > MAX_ZERO_CELLS {
        return Err(TooManyCells {
            zeros,
            max: MAX_ZERO_CELLS,
        });
    }
    let mut counts: HashMap<(Option<NaiveDate>, Vec<Option<String>>), i64> = rows
        .into_iter()
        .map(|row| ((row.period_start, row.keys), row.tips))
        .collect();
    let mut filled = Vec::with_capacity(cells);
    for start in &starts {
        for keys in &groups {
            let tips = counts.remove(&(*start, keys.clone())).unwrap_or(0);
            filled.push(CountRow {
                period_start: *start,
                keys: keys.clone(),
                tips,
            });
        }
    }
    Ok(filled)
}

/// Counts tips for a selection: one row per non-empty group.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
) -> diesel::QueryResult<Vec<CountRow>> {
    bind_selection!(diesel::sql_query(count_sql(selection)), selection)
        .load(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_labelled_as_swedish_statistics_write_them() {
        assert_eq!(Period::Week.label(day("2026-11-23")), "2026-W48");
        assert_eq!(Period::Week.label(day("2026-12-28")), "2026-W53");
        assert_eq!(Period::Week.label(day("2027-01-04")), "2027-W01");
        assert_eq!(Period::Month.label(day("2026-11-01")), "2026-11");
        assert_eq!(Period::Day.label(day("2026-11-05")), "2026-11-05");
    }

    #[test]
    fn the_default_range_is_thirteen_iso_weeks() {
        let selection = Selection::default_for(day("2026-11-25"));
        assert_eq!(selection.from, day("2026-08-31"));
        assert_eq!(selection.from.weekday(), chrono::Weekday::Mon);
        assert_eq!(selection.to, day("2026-11-25"));
    }

    fn row(start: &str, keys: &[Option<&str>], tips: i64) -> CountRow {
        CountRow {
            period_start: Some(day(start)),
            keys: keys.iter().map(|k| k.map(str::to_owned)).collect(),
            tips,
        }
    }

    #[test]
    fn periods_touching_a_range_start_before_it_when_it_starts_mid_period() {
        assert_eq!(
            Period::Week.starts(day("2026-10-01"), day("2026-10-20")),
            vec![
                day("2026-09-28"),
                day("2026-10-05"),
                day("2026-10-12"),
                day("2026-10-19")
            ]
        );
        assert_eq!(
            Period::Month.starts(day("2026-11-30"), day("2027-02-01")),
            vec![
                day("2026-11-01"),
                day("2026-12-01"),
                day("2027-01-01"),
                day("2027-02-01")
            ]
        );
        assert_eq!(
            Period::Day.starts(day("2026-12-31"), day("2027-01-01")),
            vec![day("2026-12-31"), day("2027-01-01")]
        );
        assert!(Period::Day.starts(NaiveDate::MAX, NaiveDate::MAX).len() == 1);
    }

    #[test]
    fn every_period_is_listed_for_every_group_with_tips_and_zero_where_none_fell() {
        let selection = Selection::default_for(day("2026-11-25"))
            .grouped(&[Dimension::Category], Some(Period::Week))
            .between(day("2026-10-05"), day("2026-10-25"));
        // As the database answers: weeks 41 and 43, the middle week empty, and "hygiene"
        // only in week 43.
        let rows = vec![
            row("2026-10-05", &[Some("staffing")], 3),
            row("2026-10-19", &[Some("hygiene")], 1),
            row("2026-10-19", &[Some("staffing")], 7),
        ];
        let filled = fill_periods(&selection, rows).unwrap();
        let got: Vec<(String, Option<String>, i64)> = filled
            .iter()
            .map(|r| {
                (
                    r.period_start.unwrap().to_string(),
                    r.keys[0].clone(),
                    r.tips,
                )
            })
            .collect();
        let want: Vec<(String, Option<String>, i64)> = [
            ("2026-10-05", "hygiene", 0),
            ("2026-10-05", "staffing", 3),
            ("2026-10-12", "hygiene", 0),
            ("2026-10-12", "staffing", 0),
            ("2026-10-19", "hygiene", 1),
            ("2026-10-19", "staffing", 7),
        ]
        .iter()
        .map(|(d, k, n)| (d.to_string(), Some(k.to_string()), *n))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn groups_keep_the_database_order_across_periods() {
        let selection = Selection::default_for(day("2026-11-25"))
            .grouped(&[Dimension::Outbreak], Some(Period::Day))
            .between(day("2026-10-05"), day("2026-10-07"));
        // The database put "b" before "a" (a collation Rust does not share); no period holds
        // "a" and the group without a value (NULL, which PostgreSQL sorts last) together.
        let rows = vec![
            row("2026-10-05", &[Some("b")], 1),
            row("2026-10-05", &[None], 2),
            row("2026-10-07", &[Some("b")], 3),
            row("2026-10-07", &[Some("a")], 4),
        ];
        let filled = fill_periods(&selection, rows).unwrap();
        let keys: Vec<Option<&str>> = filled.iter().map(|r| r.keys[0].as_deref()).collect();
        assert_eq!(filled.len(), 9);
        for period in keys.chunks(3) {
            assert_eq!(period, [Some("b"), Some("a"), None]);
        }
        assert_eq!(
            filled.iter().map(|r| r.tips).collect::<Vec<_>>(),
            vec![1, 0, 2, 0, 0, 0, 3, 4, 0]
        );
    }

    #[test]
    fn without_a_period_or_without_tips_nothing_is_filled() {
        let base = Selection::default_for(day("2026-11-25"));
        let rows = vec![CountRow {
            period_start: None,
            keys: vec![Some("staffing".into())],
            tips: 2,
        }];
        let grouped = base.grouped(&[Dimension::Category], None);
        assert_eq!(fill_periods(&grouped, rows.clone()).unwrap(), rows);
        let weekly = base.grouped(&[Dimension::Category], Some(Period::Week));
        assert!(fill_periods(&weekly, Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn filling_may_not_grow_an_answer_past_the_limit() {
        let selection = Selection::default_for(day("2026-11-25"))
            .grouped(&[Dimension::Municipality], Some(Period::Day))
            .between(day("2024-01-01"), day("2026-12-31"));
        // 1 096 days × 200 groups, each with one tip on one day.
        let rows: Vec<CountRow> = (0..200)
            .map(|i| {
                let code = format!("{i:04}");
                row("2024-01-01", &[Some(code.as_str())], 1)
            })
            .collect();
        let error = fill_periods(&selection, rows).unwrap_err();
        assert_eq!(error.zeros, 1096 * 200 - 200);
        assert_eq!(error.max, MAX_ZERO_CELLS);
        // Fewer groups stay within the limit.
        let rows: Vec<CountRow> = (0..150)
            .map(|i| {
                let code = format!("{i:04}");
                row("2024-01-01", &[Some(code.as_str())], 1)
            })
            .collect();
        assert_eq!(fill_periods(&selection, rows).unwrap().len(), 1096 * 150);
    }

    #[test]
    fn the_rollup_answers_only_its_own_dimensions() {
        let base = Selection::default_for(day("2026-11-25"));
        assert!(
            base.grouped(
                &[Dimension::Region, Dimension::Category],
                Some(Period::Week)
            )
            .uses_rollup()
        );
        assert!(!base.grouped(&[Dimension::Priority], None).uses_rollup());
        let mut filtered = base.grouped(&[Dimension::Category], Some(Period::Week));
        filtered
            .filters
            .insert(Dimension::CareSector, vec!["psychiatry".into()]);
        assert!(!filtered.uses_rollup());
        let sql = count_sql(&filtered);
        assert!(sql.contains("FROM (SELECT (t.submitted_at"), "{sql}");
        assert!(sql.contains("s.care_sector = ANY($8)"), "{sql}");
    }
}
