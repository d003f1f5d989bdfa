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

/// Why a selection could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    TooManyCells(#[from] query::TooManyCells),
}

/// A cell's coordinate on one axis of the suppression grid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Coordinate {
    Period(Option<NaiveDate>),
    Code(Option<String>),
}

/// Applies disclosure control to counted rows (pure). The period, when there is one, is an
/// axis like the dimensions. Zero cells (the filled-in periods) are shown as 0 unless one is
/// needed as a partner (see `suppression`); so are zero combinations the database did not
/// return, which are then added at the end, hidden.
pub fn protect(
    selection: &Selection,
    rows: Vec<query::CountRow>,
    suppress: bool,
    threshold: i64,
) -> Table {
    let with_period = selection.period.is_some();
    let coordinates: Vec<Vec<Coordinate>> = rows
        .iter()
        .map(|row| {
            let mut key = Vec::with_capacity(row.keys.len() + 1);
            if with_period {
                key.push(Coordinate::Period(row.period_start));
            }
            key.extend(row.keys.iter().cloned().map(Coordinate::Code));
            key
        })
        .collect();
    let counts: Vec<i64> = rows.iter().map(|row| row.tips).collect();
    let (hidden, hidden_zeros) = if suppress {
        let decided = suppression::suppress(&coordinates, &counts, threshold);
        (decided.hidden, decided.hidden_zeros)
    } else {
        (vec![false; rows.len()], Vec::new())
    };
    let total: i64 = counts.iter().sum();
    let mut cells: Vec<Cell> = rows
        .into_iter()
        .zip(hidden)
        .map(|(row, hidden)| Cell {
            period_start: row.period_start,
            keys: row.keys,
            tips: row.tips,
            hidden,
        })
        .collect();
    cells.extend(hidden_zeros.into_iter().map(|key| {
        let mut period_start = None;
        let mut keys = Vec::with_capacity(key.len());
        for coordinate in key {
            match coordinate {
                Coordinate::Period(start) => period_start = start,
                Coordinate::Code(code) => keys.push(code),
            }
        }
        Cell {
            period_start,
            keys,
            tips: 0,
            hidden: true,
        }
    }));
    Table {
        selection: selection.clone(),
        cells,
        total,
        total_hidden: suppress && total > 0 && total < threshold,
        suppressed: suppress,
        threshold,
    }
}

/// Counts a selection (with a period: every period of the range, zeros included, see
/// `query::fill_periods`) and applies disclosure control.
pub async fn table(
    conn: &mut AsyncPgConnection,
    selection: &Selection,
    suppress: bool,
    threshold: i64,
) -> Result<Table, TableError> {
    let rows = query::fill_periods(selection, query::counts(conn, selection).await?)?;
    Ok(protect(selection, rows, suppress, threshold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use query::CountRow;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn row(start: &str, category: &str, tips: i64) -> CountRow {
        CountRow {
            period_start: Some(day(start)),
            keys: vec![Some(category.to_owned())],
            tips,
        }
    }

    #[test]
    fn filled_zero_periods_are_shown_and_hide_nothing_more() {
        let selection = Selection::default_for(day("2026-11-25"))
            .grouped(&[Dimension::Category], Some(Period::Week))
            .between(day("2026-10-05"), day("2026-10-25"));
        // Week 41: 6 medication, 3 staffing; week 42: nothing; week 43: 8 and 7.
        let rows = vec![
            row("2026-10-05", "medication", 6),
            row("2026-10-05", "staffing", 3),
            row("2026-10-19", "medication", 8),
            row("2026-10-19", "staffing", 7),
        ];
        let before = protect(&selection, rows.clone(), true, 5);
        let filled = query::fill_periods(&selection, rows).unwrap();
        let after = protect(&selection, filled, true, 5);
        assert_eq!(after.cells.len(), 6);
        for cell in &after.cells {
            match before
                .cells
                .iter()
                .find(|c| c.period_start == cell.period_start && c.keys == cell.keys)
            {
                Some(same) => assert_eq!(cell, same),
                None => {
                    assert_eq!((cell.tips, cell.hidden), (0, false));
                    assert_eq!(after.display(cell), "0");
                }
            }
        }
        // The 3, its partner in week 41 (6) and in staffing (7), and the 8 that closes the
        // square; the empty week takes no part.
        let hidden: Vec<i64> = after
            .cells
            .iter()
            .filter(|c| c.hidden)
            .map(|c| c.tips)
            .collect();
        assert_eq!(hidden, vec![6, 3, 8, 7]);
        assert_eq!((after.total, after.total_hidden), (24, false));
    }
}
