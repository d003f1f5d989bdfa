//! The situation report (lägesbild) as a capability shared by `GET /api/v1/stats`, its export
//! and the dashboard page: counts by any combination of dimensions and period, trends,
//! facility signals and deadline compliance — always with the disclosure control the asking
//! principal gets (`auth::policy::stats_disclosure`). Never reads a tip's text or reporter.

pub mod charts;
pub mod deadlines;
pub mod export;
pub mod facilities;
pub mod query;
pub mod suppression;
pub mod trends;

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;

pub use query::{Dimension, Period, Selection};

/// One group of a counted selection, after disclosure control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub period_start: Option<NaiveDate>,
    /// One value per `group_by` dimension.
    pub keys: Vec<Option<String>>,
    pub tips: i64,
    /// Shown as `<threshold`, never as the number.
    pub hidden: bool,
}

/// A counted selection.
#[derive(Debug, Clone)]
pub struct Table {
    pub selection: Selection,
    pub cells: Vec<Cell>,
    pub total: i64,
    pub total_hidden: bool,
    /// Whether disclosure control was applied (everyone but triage leads).
    pub suppressed: bool,
    pub threshold: i64,
}

impl Table {
    /// The count as it may be shown: the number, or `None` when hidden.
    pub fn shown(cell: &Cell) -> Option<i64> {
        (!cell.hidden).then_some(cell.tips)
    }

    /// How a cell reads: `12` or `<5`.
    pub fn display(&self, cell: &Cell) -> String {
        suppression::display(cell.tips, cell.hidden, self.threshold)
    }
}

/// Applies disclosure control to counted rows (pure). The period, when there is one, is an
/// axis like the dimensions.
pub fn protect(
    selection: &Selection,
    rows: Vec<query::CountRow>,
    suppress: bool,
    threshold: i64,
) -> Table {
    let coordinates: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|row| {
            let mut key = Vec::with_capacity(row.keys.len() + 1);
            if selection.period.is_some() {
                key.push(row.period_start.map(|d| d.to_string()));
            }
            key.extend(row.keys.iter().cloned());
            key
        })
        .collect();
    let counts: Vec<i64> = rows.iter().map(|r| r.tips).collect();
    let hidden = if suppress {
        suppression::suppress(&coordinates, &counts, threshold)
    } else {
        vec![false; rows.len()]
    };
    let total: i64 = counts.iter().sum();
    let cells = rows
        .into_iter()
        .zip(hidden)
        .map(|(row, hidden)| Cell {
            period_start: row.period_start,
            keys: row.keys,
            tips: row.tips,
            hidden,
        })
        .collect();
    Table {
        selection: selection.clone(),
        cells,
        total,
        total_hidden: suppress && total > 0 && total < threshold,
        suppressed: suppress,
        threshold,
    }
}

/// Counts a selection and applies disclosure control.
pub async fn table(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    suppress: bool,
    threshold: i64,
) -> diesel::QueryResult<Table> {
    let rows = query::counts(conn, selection).await?;
    Ok(protect(selection, rows, suppress, threshold))
}
