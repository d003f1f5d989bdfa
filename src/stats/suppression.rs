//! Disclosure control for counts (pure). Primary suppression hides every cell counting 1 to
//! `threshold - 1` tips. Secondary suppression then makes sure no hidden cell can be worked
//! out from totals: a table's cells lie on lines (for each axis, the cells that share every
//! other coordinate — rows and columns in two dimensions), and a line's total can be computed
//! by anyone from the answer to a coarser question. A line with exactly one hidden cell would
//! give it away (total minus the visible cells), so another cell on that line is hidden too,
//! and this repeats until every line has none or at least two hidden cells.
//!
//! Two refinements make that hold in every table, not only in full ones:
//! - A line whose total is itself small (1 to `threshold - 1`) needs no partner: that total
//!   is hidden wherever it is shown, so it gives nothing away.
//! - When a line has no visible non-zero cell left to pair with (say a week whose only tips
//!   are one hidden partner cell), a zero on that line is hidden instead — a listed one, or a
//!   combination of known values that the table does not list because it counted nothing
//!   (returned in `Suppressed::hidden_zeros`). A zero is only useful as a partner if every
//!   other line through it has tips; a zero on an empty line is known to be zero anyway.
//!
//! A line with no possible partner at all (e.g. along a dimension with a single value, where
//! the line is the one cell and its total is a cell of the coarser table) is left to the
//! coarser table's own suppression.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// The outcome of `suppress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed<K> {
    /// Per listed cell: hide it.
    pub hidden: Vec<bool>,
    /// Cells the table did not list (they count zero) that must be shown as hidden too.
    pub hidden_zeros: Vec<Vec<K>>,
}

/// Which cells to hide. `keys[i]` are cell `i`'s coordinates (one per axis, the same number
/// for every cell); `counts[i]` its count. Cells not listed count zero.
pub fn suppress<K: Eq + Hash + Clone + Ord>(
    keys: &[Vec<K>],
    counts: &[i64],
    threshold: i64,
) -> Suppressed<K> {
    let listed = keys.len();
    let primary: Vec<bool> = counts.iter().map(|&n| n > 0 && n < threshold).collect();
    if !primary.iter().any(|h| *h) {
        return Suppressed {
            hidden: primary,
            hidden_zeros: Vec::new(),
        };
    }
    let mut grid = Grid::new(keys, counts, primary);
    grid.pair_every_line(threshold);
    let hidden_zeros = grid.keys[listed..].to_vec();
    grid.hidden.truncate(listed);
    Suppressed {
        hidden: grid.hidden,
        hidden_zeros,
    }
}

/// The cells (listed ones first, then added zeros) and the lines through them.
struct Grid<K> {
    keys: Vec<Vec<K>>,
    counts: Vec<i64>,
    hidden: Vec<bool>,
    axes: usize,
    /// Line id → its cells. A line is (axis, the coordinates on every other axis).
    lines: Vec<Vec<usize>>,
    /// Line id → the axis it runs along.
    line_axis: Vec<usize>,
    line_ids: HashMap<(usize, Vec<K>), usize>,
    /// Per axis, every value seen on it.
    values: Vec<BTreeSet<K>>,
}

impl<K: Eq + Hash + Clone + Ord> Grid<K> {
    fn new(keys: &[Vec<K>], counts: &[i64], hidden: Vec<bool>) -> Self {
        let axes = keys.first().map_or(0, Vec::len);
        let mut grid = Grid {
            keys: Vec::with_capacity(keys.len()),
            counts: Vec::with_capacity(counts.len()),
            hidden: Vec::with_capacity(hidden.len()),
            axes,
            lines: Vec::new(),
            line_axis: Vec::new(),
            line_ids: HashMap::new(),
            values: vec![BTreeSet::new(); axes],
        };
        for ((key, &count), hide) in keys.iter().zip(counts).zip(hidden) {
            grid.add(key.clone(), count, hide);
        }
        grid
    }

    /// The key of the line along `axis` through a cell at `key`.
    fn line_key(&self, axis: usize, key: &[K]) -> (usize, Vec<K>) {
        let rest = key
            .iter()
            .enumerate()
            .filter(|(a, _)| *a != axis)
            .map(|(_, k)| k.clone())
            .collect();
        (axis, rest)
    }

    fn add(&mut self, key: Vec<K>, count: i64, hidden: bool) -> usize {
        let index = self.keys.len();
        // With no axis at all (a single total) there is one line holding everything.
        for axis in 0..self.axes.max(1) {
            let line = self.line_key(axis, &key);
            let next = self.lines.len();
            let id = *self.line_ids.entry(line).or_insert(next);
            if id == next {
                self.lines.push(Vec::new());
                self.line_axis.push(axis);
            }
            self.lines[id].push(index);
        }
        for (axis, value) in key.iter().enumerate() {
            self.values[axis].insert(value.clone());
        }
        self.keys.push(key);
        self.counts.push(count);
        self.hidden.push(hidden);
        index
    }

    fn total(&self, line: usize) -> i64 {
        self.lines[line].iter().map(|&i| self.counts[i]).sum()
    }

    /// Whether the line along `axis` through `key` has tips (a zero there is not public).
    fn line_has_tips(&self, axis: usize, key: &[K]) -> bool {
        self.line_ids
            .get(&self.line_key(axis, key))
            .is_some_and(|&id| self.total(id) > 0)
    }

    /// Hides partners until no line has exactly one hidden cell that its total would give
    /// away (or no partner is possible). Lines are visited axis by axis, in the order of their
    /// first cell, so the outcome does not depend on hashing.
    fn pair_every_line(&mut self, threshold: i64) {
        let mut order: Vec<usize> = (0..self.lines.len()).collect();
        order.sort_by_key(|&line| (self.line_axis[line], self.lines[line].first().copied()));
        loop {
            let mut changed = false;
            for &line in &order {
                let hidden_here = self.lines[line].iter().filter(|&&i| self.hidden[i]).count();
                if hidden_here != 1 {
                    continue;
                }
                let total = self.total(line);
                if total > 0 && total < threshold {
                    continue; // the total is hidden wherever it is shown
                }
                match self.partner(line) {
                    Some(Partner::Listed(i)) => self.hidden[i] = true,
                    Some(Partner::Unlisted(key)) => {
                        self.add(key, 0, true);
                    }
                    None => continue,
                }
                changed = true;
            }
            if !changed {
                return;
            }
        }
    }

    /// The cell to hide with a line's one hidden cell: the smallest visible non-zero cell,
    /// else a zero whose other lines have tips (listed first, then an unlisted combination).
    fn partner(&self, line: usize) -> Option<Partner<K>> {
        let cells = &self.lines[line];
        if let Some(i) = cells
            .iter()
            .copied()
            .filter(|&i| !self.hidden[i] && self.counts[i] > 0)
            .min_by_key(|&i| (self.counts[i], i))
        {
            return Some(Partner::Listed(i));
        }
        let axis = self.line_axis[line];
        let useful = |key: &[K]| {
            (0..self.axes)
                .filter(|a| *a != axis)
                .all(|a| self.line_has_tips(a, key))
        };
        if let Some(i) = cells
            .iter()
            .copied()
            .find(|&i| !self.hidden[i] && self.counts[i] == 0 && useful(&self.keys[i]))
        {
            return Some(Partner::Listed(i));
        }
        let template = self.keys[*cells.first()?].clone();
        let on_line: BTreeSet<&K> = cells
            .iter()
            .filter_map(|&i| self.keys[i].get(axis))
            .collect();
        self.values
            .get(axis)?
            .iter()
            .filter(|value| !on_line.contains(value))
            .map(|value| {
                let mut key = template.clone();
                key[axis] = value.clone();
                key
            })
            .find(|key| useful(key))
            .map(Partner::Unlisted)
    }
}

enum Partner<K> {
    Listed(usize),
    Unlisted(Vec<K>),
}

/// How a count is shown: the number, or `<threshold` when hidden.
pub fn display(count: i64, hidden: bool, threshold: i64) -> String {
    if hidden {
        format!("<{threshold}")
    } else {
        count.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid's cells as keys and counts; `listed_zeros`: list the zero cells too (as the
    /// filled-in periods do) or leave them out (as the database does for other axes).
    fn table(rows: &[&[i64]], listed_zeros: bool) -> (Vec<Vec<usize>>, Vec<i64>) {
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            for (c, &n) in row.iter().enumerate() {
                if n > 0 || listed_zeros {
                    keys.push(vec![r, c]);
                    counts.push(n);
                }
            }
        }
        (keys, counts)
    }

    /// The hidden cells (listed or added zeros) as a grid of 'x' (hidden) and '.'.
    fn hidden_grid(rows: &[&[i64]], threshold: i64, listed_zeros: bool) -> Vec<Vec<bool>> {
        let (keys, counts) = table(rows, listed_zeros);
        let outcome = suppress(&keys, &counts, threshold);
        let mut grid: Vec<Vec<bool>> = rows.iter().map(|r| vec![false; r.len()]).collect();
        for (key, hide) in keys.iter().zip(&outcome.hidden) {
            grid[key[0]][key[1]] = *hide;
        }
        for key in &outcome.hidden_zeros {
            assert_eq!(rows[key[0]][key[1]], 0, "an added cell must count zero");
            grid[key[0]][key[1]] = true;
        }
        grid
    }

    fn pattern(rows: &[&[i64]], threshold: i64) -> Vec<String> {
        hidden_grid(rows, threshold, true)
            .iter()
            .map(|r| r.iter().map(|&h| if h { 'x' } else { '.' }).collect())
            .collect()
    }

    /// What an attacker can work out: the shown cells, and every row and column total that
    /// the coarser tables show (they are protected on their own, by the same rules); then,
    /// repeatedly, a line's one unknown cell as its total minus the known ones. Returns the
    /// small cells found so.
    fn derivable_small_cells(
        rows: &[&[i64]],
        hidden: &[Vec<bool>],
        threshold: i64,
    ) -> Vec<(usize, usize)> {
        let height = rows.len();
        let width = rows.first().map_or(0, |r| r.len());
        let mut known: Vec<Vec<bool>> = hidden
            .iter()
            .map(|r| r.iter().map(|h| !h).collect())
            .collect();
        let marginal_shown = |totals: &[i64]| -> Vec<bool> {
            let keys: Vec<Vec<usize>> = (0..totals.len()).map(|i| vec![i]).collect();
            suppress(&keys, totals, threshold)
                .hidden
                .iter()
                .map(|h| !h)
                .collect()
        };
        let row_totals: Vec<i64> = rows.iter().map(|r| r.iter().sum()).collect();
        let column_totals: Vec<i64> = (0..width)
            .map(|c| rows.iter().map(|r| r[c]).sum())
            .collect();
        let mut lines: Vec<(bool, Vec<(usize, usize)>)> = Vec::new();
        for (r, shown) in marginal_shown(&row_totals).into_iter().enumerate() {
            lines.push((shown, (0..width).map(|c| (r, c)).collect()));
        }
        for (c, shown) in marginal_shown(&column_totals).into_iter().enumerate() {
            lines.push((shown, (0..height).map(|r| (r, c)).collect()));
        }
        loop {
            let mut learned = false;
            for (public, line) in &lines {
                let unknown: Vec<&(usize, usize)> =
                    line.iter().filter(|&&(r, c)| !known[r][c]).collect();
                if *public && unknown.len() == 1 {
                    let (r, c) = *unknown[0];
                    known[r][c] = true;
                    learned = true;
                }
            }
            if !learned {
                break;
            }
        }
        let mut found = Vec::new();
        for r in 0..height {
            for c in 0..width {
                let n = rows[r][c];
                if hidden[r][c] && known[r][c] && n > 0 && n < threshold {
                    found.push((r, c));
                }
            }
        }
        found
    }

    #[test]
    fn the_table_of_cases() {
        // (table, threshold, expected hidden pattern)
        type Case<'a> = (Vec<&'a [i64]>, i64, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            // nothing small: nothing hidden
            (vec![&[10, 20], &[30, 40]], 5, vec!["..", ".."]),
            // zero is not hidden when nothing needs it, and 5 is not below the threshold
            (vec![&[0, 5], &[5, 9]], 5, vec!["..", ".."]),
            // two small cells in one row and one column each: a 2x2 block is needed
            (vec![&[3, 20, 30], &[40, 50, 2]], 5, vec!["x.x", "x.x"]),
            // the secondary case: one small cell; its row partner (the smallest, 8) and its
            // column partner (9) go too, and then the 2x2 block is closed by the 12
            (
                vec![&[2, 8, 30], &[9, 12, 40], &[50, 60, 70]],
                5,
                vec!["xx.", "xx.", "..."],
            ),
            // a single row (one axis): one small cell takes the smallest other one with it
            (vec![&[4, 7, 100]], 5, vec!["xx."]),
            // a higher threshold from configuration
            (vec![&[7, 30], &[40, 50]], 10, vec!["xx", "xx"]),
            // weeks x categories: week 2's only tips (7) are the small cell's column partner;
            // week 2's total (7) would give the 7 away and the 3 with it, so week 2's zero
            // is hidden too
            (vec![&[3, 6], &[7, 0]], 5, vec!["xx", "xx"]),
        ];
        for (rows, threshold, expected) in cases {
            assert_eq!(pattern(&rows, threshold), expected, "{rows:?}");
            let hidden = hidden_grid(&rows, threshold, true);
            assert_eq!(
                derivable_small_cells(&rows, &hidden, threshold),
                vec![],
                "{rows:?}"
            );
        }
    }

    #[test]
    fn a_zero_the_database_did_not_return_is_added_hidden_when_it_is_needed() {
        let (keys, counts) = table(&[&[3, 6], &[7, 0]], false);
        let outcome = suppress(&keys, &counts, 5);
        assert_eq!(outcome.hidden, vec![true, true, true]);
        assert_eq!(outcome.hidden_zeros, vec![vec![1, 1]]);
    }

    #[test]
    fn a_lone_small_cell_with_nothing_to_pair_stays_alone() {
        // Its row and column have no other non-zero cell: the totals equal the cell, and are
        // themselves small, so they are suppressed wherever they are shown.
        let (keys, counts) = table(&[&[3, 0], &[0, 40]], true);
        let outcome = suppress(&keys, &counts, 5);
        assert_eq!(outcome.hidden, vec![true, false, false, false]);
        assert!(outcome.hidden_zeros.is_empty());
    }

    #[test]
    fn no_small_cell_can_be_worked_out_from_totals_in_thousands_of_tables() {
        // Deterministic pseudo-random tables, many zeros and small counts, zeros listed or not.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let values = [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 30];
        let mut checked = 0;
        for _ in 0..5000 {
            let height = 1 + next(5) as usize;
            let width = 1 + next(5) as usize;
            let data: Vec<Vec<i64>> = (0..height)
                .map(|_| {
                    (0..width)
                        .map(|_| values[next(values.len() as u64) as usize])
                        .collect()
                })
                .collect();
            let rows: Vec<&[i64]> = data.iter().map(Vec::as_slice).collect();
            for listed_zeros in [true, false] {
                let hidden = hidden_grid(&rows, 5, listed_zeros);
                assert_eq!(
                    derivable_small_cells(&rows, &hidden, 5),
                    vec![],
                    "{rows:?} (zeros listed: {listed_zeros}): {hidden:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 10_000);
    }

    #[test]
    fn three_axes_are_protected_along_every_line() {
        let keys = vec![
            vec!["w1", "01", "a"],
            vec!["w1", "01", "b"],
            vec!["w1", "03", "a"],
            vec!["w1", "03", "b"],
            vec!["w2", "01", "a"],
            vec!["w2", "01", "b"],
            vec!["w2", "03", "a"],
            vec!["w2", "03", "b"],
        ];
        let counts = vec![1, 10, 11, 12, 13, 14, 15, 16];
        let hidden = suppress(&keys, &counts, 5).hidden;
        // every line through a hidden cell holds at least two hidden cells
        for axis in 0..3 {
            for i in 0..keys.len() {
                if !hidden[i] {
                    continue;
                }
                let on_line = (0..keys.len())
                    .filter(|&j| hidden[j] && (0..3).all(|a| a == axis || keys[j][a] == keys[i][a]))
                    .count();
                assert!(on_line >= 2, "axis {axis}, cell {i}: {hidden:?}");
            }
        }
    }

    #[test]
    fn small_counts_display_as_below_the_threshold() {
        assert_eq!(display(3, true, 5), "<5");
        assert_eq!(display(12, false, 5), "12");
    }
}
