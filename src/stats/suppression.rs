//! Disclosure control for counts (pure). Primary suppression hides every cell counting 1 to
//! `threshold - 1` tips. Secondary suppression then makes sure no hidden cell can be worked
//! out from totals: a table's cells lie on lines (for each axis, the cells that share every
//! other coordinate — rows and columns in two dimensions), and a line's total can be computed
//! by anyone from the answer to a coarser question. A line with exactly one hidden cell would
//! give it away (total minus the visible cells), so the smallest other non-zero cell on that
//! line is hidden too, and this repeats until no line has exactly one hidden cell.

use std::collections::HashMap;
use std::hash::Hash;

/// Which cells to hide. `keys[i]` are cell `i`'s coordinates (one per axis, the same number
/// for every cell); `counts[i]` its count. Cells not listed count zero, and zero is never
/// hidden (an empty cell discloses nobody).
pub fn suppress<K: Eq + Hash + Clone>(
    keys: &[Vec<K>],
    counts: &[i64],
    threshold: i64,
) -> Vec<bool> {
    let mut hidden: Vec<bool> = counts.iter().map(|&n| n > 0 && n < threshold).collect();
    if !hidden.iter().any(|h| *h) {
        return hidden;
    }
    let axes = keys.first().map_or(0, Vec::len);
    // Lines along each axis: the cells with equal coordinates on every other axis. With no
    // axis at all (a single total) there is one line holding everything.
    let mut lines: Vec<Vec<usize>> = Vec::new();
    for axis in 0..axes.max(1) {
        let mut by_rest: HashMap<Vec<K>, Vec<usize>> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            let rest: Vec<K> = key
                .iter()
                .enumerate()
                .filter(|(a, _)| *a != axis)
                .map(|(_, k)| k.clone())
                .collect();
            by_rest.entry(rest).or_default().push(i);
        }
        let mut grouped: Vec<Vec<usize>> = by_rest.into_values().collect();
        grouped.sort();
        lines.extend(grouped);
    }
    loop {
        let mut changed = false;
        for line in &lines {
            let hidden_here = line.iter().filter(|&&i| hidden[i]).count();
            if hidden_here != 1 {
                continue;
            }
            let partner = line
                .iter()
                .copied()
                .filter(|&i| !hidden[i] && counts[i] > 0)
                .min_by_key(|&i| (counts[i], i));
            if let Some(i) = partner {
                hidden[i] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
        }
    }
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

    fn table(rows: &[&[i64]]) -> (Vec<Vec<usize>>, Vec<i64>) {
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            for (c, &n) in row.iter().enumerate() {
                if n > 0 {
                    keys.push(vec![r, c]);
                    counts.push(n);
                }
            }
        }
        (keys, counts)
    }

    /// The hidden cells as a grid of 'x' (hidden) and '.' (shown or empty).
    fn pattern(rows: &[&[i64]], threshold: i64) -> Vec<String> {
        let (keys, counts) = table(rows);
        let hidden = suppress(&keys, &counts, threshold);
        rows.iter()
            .enumerate()
            .map(|(r, row)| {
                (0..row.len())
                    .map(|c| {
                        let i = keys.iter().position(|k| k == &vec![r, c]);
                        if i.is_some_and(|i| hidden[i]) {
                            'x'
                        } else {
                            '.'
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// True when some hidden cell is the only hidden one of a row or column that has other
    /// non-zero cells (its total minus the shown cells would give it away).
    fn recoverable(rows: &[&[i64]], threshold: i64) -> bool {
        let grid = pattern(rows, threshold);
        let cols = rows.first().map_or(0, |r| r.len());
        let row_leak = grid.iter().zip(rows).any(|(r, counts)| {
            r.matches('x').count() == 1 && counts.iter().filter(|n| **n > 0).count() > 1
        });
        let col_leak = (0..cols).any(|c| {
            let hidden = grid.iter().filter(|r| r.as_bytes()[c] == b'x').count();
            let nonzero = rows.iter().filter(|r| r[c] > 0).count();
            hidden == 1 && nonzero > 1
        });
        row_leak || col_leak
    }

    #[test]
    fn the_table_of_cases() {
        // (table, threshold, expected hidden pattern)
        type Case<'a> = (Vec<&'a [i64]>, i64, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            // nothing small: nothing hidden
            (vec![&[10, 20], &[30, 40]], 5, vec!["..", ".."]),
            // zero is not hidden, and 5 is not below the threshold
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
        ];
        for (rows, threshold, expected) in cases {
            assert_eq!(pattern(&rows, threshold), expected, "{rows:?}");
            assert!(!recoverable(&rows, threshold), "{rows:?}");
        }
    }

    #[test]
    fn a_lone_small_cell_with_nothing_to_pair_stays_alone() {
        // Its row and column have no other non-zero cell: the totals equal the cell, and are
        // themselves small, so they are suppressed wherever they are shown.
        let (keys, counts) = table(&[&[3, 0], &[0, 40]]);
        assert_eq!(suppress(&keys, &counts, 5), vec![true, false]);
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
        let hidden = suppress(&keys, &counts, 5);
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
    fn listed_zero_cells_change_nothing_and_are_never_hidden() {
        // The filled-in periods list zeros that used to be left out. With them listed, every
        // non-zero cell is hidden exactly as before and no zero is chosen as a partner.
        let cases: Vec<Vec<&[i64]>> = vec![
            vec![&[0, 2, 0, 9], &[0, 8, 0, 30]],
            vec![&[3, 0, 20, 30], &[40, 0, 50, 2], &[0, 0, 0, 0]],
            vec![&[2, 8, 0, 30], &[9, 12, 0, 40], &[50, 60, 0, 70]],
            vec![&[4, 0, 0, 7, 100]],
            vec![&[0, 1, 0], &[0, 0, 0]],
        ];
        for rows in cases {
            let (keys, counts) = table(&rows);
            let without = suppress(&keys, &counts, 5);
            let mut all_keys = Vec::new();
            let mut all_counts = Vec::new();
            for (r, row) in rows.iter().enumerate() {
                for (c, &n) in row.iter().enumerate() {
                    all_keys.push(vec![r, c]);
                    all_counts.push(n);
                }
            }
            let with = suppress(&all_keys, &all_counts, 5);
            for (i, key) in all_keys.iter().enumerate() {
                match keys.iter().position(|k| k == key) {
                    Some(j) => assert_eq!(with[i], without[j], "{rows:?} at {key:?}"),
                    None => assert!(!with[i], "a zero is hidden: {rows:?} at {key:?}"),
                }
            }
            assert!(!recoverable(&rows, 5), "{rows:?}");
        }
    }

    #[test]
    fn small_counts_display_as_below_the_threshold() {
        assert_eq!(display(3, true, 5), "<5");
        assert_eq!(display(12, false, 5), "12");
    }
}
