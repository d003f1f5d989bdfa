//! The redaction form as posted (`redact`): the ticked sentences and ranges (`withhold` =
//! `<part>:<start>-<end>`, each with `ground:<key>`) and the typed character ranges
//! (`range:<part>`, `range_ground:<part>`), read into redactions to check; and the check's
//! errors put back on the rows they came from.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use super::error_text;
use crate::domain::FieldError;
use crate::web::i18n::Texts;

/// What the person ticked and typed, to show again after a refused save.
#[derive(Default)]
pub struct Submitted {
    pub checked: BTreeSet<String>,
    pub grounds: HashMap<String, String>,
    pub ranges: HashMap<usize, String>,
    pub range_grounds: HashMap<usize, String>,
}

/// The form's key of a range in part `index`.
pub fn key(index: usize, range: &Range<usize>) -> String {
    format!("{index}:{}-{}", range.start, range.end)
}

pub fn parse_key(text: &str) -> Option<(usize, Range<usize>)> {
    let (index, range) = text.split_once(':')?;
    let range = parse_range(range)?;
    Some((index.parse().ok()?, range))
}

/// "12-30" or "12–30" (an en dash, as the page writes ranges).
pub fn parse_range(text: &str) -> Option<Range<usize>> {
    let (start, end) = text.trim().split_once(['-', '–'])?;
    Some(start.trim().parse().ok()?..end.trim().parse().ok()?)
}

/// One redaction read from the form, with the form key it came from.
pub struct Entry {
    pub key: String,
    pub index: usize,
    pub range: Range<usize>,
    pub ground: String,
}

/// Reads the posted pairs: what was submitted (to show again), the redactions it asks for,
/// and the rows that could not be read (by form key, with `invalid` as their message).
pub fn read(
    pairs: &[(String, String)],
    default_ground: &str,
    invalid: &str,
) -> (Submitted, Vec<Entry>, HashMap<String, String>) {
    let mut submitted = Submitted::default();
    for (name, text) in pairs {
        if name == "withhold" {
            submitted.checked.insert(text.clone());
        } else if let Some(key) = name.strip_prefix("ground:") {
            submitted.grounds.insert(key.to_owned(), text.clone());
        } else if let Some(index) = name.strip_prefix("range:").and_then(|i| i.parse().ok()) {
            submitted.ranges.insert(index, text.clone());
        } else if let Some(index) = name
            .strip_prefix("range_ground:")
            .and_then(|i| i.parse().ok())
        {
            submitted.range_grounds.insert(index, text.clone());
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut row_errors = HashMap::new();
    for checked in &submitted.checked {
        match parse_key(checked) {
            Some((index, range)) => {
                let ground = submitted
                    .grounds
                    .get(checked)
                    .cloned()
                    .unwrap_or_else(|| default_ground.to_owned());
                entries.push(Entry {
                    key: checked.clone(),
                    index,
                    range,
                    ground,
                });
            }
            None => {
                row_errors.insert(checked.clone(), invalid.to_owned());
            }
        }
    }
    // A ticked sentence takes in the ticked ranges inside it (its ground wins).
    let covering: Vec<(usize, Range<usize>)> =
        entries.iter().map(|e| (e.index, e.range.clone())).collect();
    entries.retain(|e| {
        !covering.iter().any(|(i, outer)| {
            *i == e.index
                && *outer != e.range
                && outer.start <= e.range.start
                && e.range.end <= outer.end
        })
    });
    for (index, text) in &submitted.ranges {
        if text.trim().is_empty() {
            continue;
        }
        let field = format!("range:{index}");
        match parse_range(text) {
            Some(range) => {
                let ground = submitted
                    .range_grounds
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| default_ground.to_owned());
                entries.push(Entry {
                    key: field,
                    index: *index,
                    range,
                    ground,
                });
            }
            None => {
                row_errors.insert(field, invalid.to_owned());
            }
        }
    }
    (submitted, entries, row_errors)
}

/// The check's errors (`redactions[i].field`) on the rows they came from.
pub fn describe(
    t: &Texts,
    errors: &[FieldError],
    entries: &[Entry],
) -> (Vec<String>, HashMap<String, String>) {
    let mut summary = Vec::new();
    let mut rows = HashMap::new();
    for error in errors {
        let index = error
            .field
            .strip_prefix("redactions[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|n| n.parse::<usize>().ok());
        let text = error_text(t, error);
        match index.and_then(|i| entries.get(i)) {
            Some(Entry { key, range, .. }) => {
                summary.push(format!(
                    "{} {}–{}: {text}",
                    t.get("requests.characters"),
                    range.start,
                    range.end
                ));
                rows.insert(key.clone(), text);
            }
            None => summary.push(text),
        }
    }
    (summary, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ticks_and_typed_ranges_become_redactions() {
        let (_, entries, errors) = read(
            &pairs(&[
                ("withhold", "0:10-40"),
                ("ground:0:10-40", "B"),
                ("withhold", "0:12-20"),
                ("withhold", "1:0-4"),
                ("range:2", "3–9"),
                ("range_ground:2", "C"),
                ("range:0", " "),
            ]),
            "A",
            "bad",
        );
        assert!(errors.is_empty());
        let found: Vec<(usize, Range<usize>, &str)> = entries
            .iter()
            .map(|e| (e.index, e.range.clone(), e.ground.as_str()))
            .collect();
        // The range inside the ticked sentence is taken in by it.
        assert_eq!(found, [(0, 10..40, "B"), (1, 0..4, "A"), (2, 3..9, "C")]);
    }

    #[test]
    fn unreadable_rows_are_named_by_their_key() {
        let (submitted, entries, errors) = read(
            &pairs(&[("withhold", "x:1-2"), ("range:1", "twelve")]),
            "A",
            "bad",
        );
        assert!(entries.is_empty());
        assert_eq!(errors.get("x:1-2").map(String::as_str), Some("bad"));
        assert_eq!(errors.get("range:1").map(String::as_str), Some("bad"));
        assert_eq!(submitted.ranges.get(&1).map(String::as_str), Some("twelve"));
        assert_eq!(key(2, &(3..9)), "2:3-9");
        assert_eq!(parse_key("2:3-9"), Some((2, 3..9)));
    }
}
