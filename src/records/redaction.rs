//! Redactions of a public-records copy: which characters of a tip's texts (its description and
//! each message) are withheld and under which legal ground; checking a proposed list, cutting
//! a text into what stays and what goes, the sentences the redaction page offers, and the
//! identity numbers pre-marked for withholding.
//!
//! Offsets count characters (Unicode scalar values, Rust's `char`), end exclusive — the same
//! unit in the API, the page and the stored `records_request_tips.redactions`.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::DisclosureSettings;
use crate::domain::FieldError;
use crate::domain::personnummer::identity_number_ranges;

/// More ranges than this in one tip is a mistake, not a redaction (each sentence is one).
pub const MAX_REDACTIONS_PER_TIP: usize = 2000;

/// One withheld passage, as the API and the database carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// `description`, or `message:<uuid>` for one of the tip's messages.
    #[schema(example = "description")]
    pub part: String,
    /// First withheld character (0-based, in Unicode scalar values).
    #[schema(minimum = 0, example = 12)]
    pub start: i64,
    /// One past the last withheld character.
    #[schema(minimum = 1, example = 40)]
    pub end: i64,
    /// A code of `records.toml`'s `disclosure.ground` list.
    #[schema(example = "OSL 25 kap. 1 §")]
    pub ground: String,
}

/// Which text of a tip a redaction is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Description,
    Message(Uuid),
}

impl Part {
    pub fn parse(text: &str) -> Option<Part> {
        if text == "description" {
            return Some(Part::Description);
        }
        text.strip_prefix("message:")
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(Part::Message)
    }

    pub fn code(self) -> String {
        match self {
            Part::Description => "description".to_owned(),
            Part::Message(id) => format!("message:{id}"),
        }
    }
}

/// A tip's texts that can be redacted, by part.
#[derive(Debug, Clone, Default)]
pub struct TipTexts {
    pub parts: Vec<(Part, String)>,
}

impl TipTexts {
    pub fn text(&self, part: Part) -> Option<&str> {
        self.parts
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, t)| t.as_str())
    }

    /// The identity numbers in every part: the suggested redactions of a new request.
    pub fn pre_marks(&self) -> Vec<(Part, Range<usize>)> {
        self.parts
            .iter()
            .flat_map(|(part, text)| {
                identity_number_ranges(text)
                    .into_iter()
                    .map(move |range| (*part, range))
            })
            .collect()
    }

    /// The pre-marks as redactions under `ground`.
    pub fn pre_mark_redactions(&self, ground: &str) -> Vec<Redaction> {
        self.pre_marks()
            .into_iter()
            .map(|(part, range)| Redaction {
                part: part.code(),
                start: to_i64(range.start),
                end: to_i64(range.end),
                ground: ground.to_owned(),
            })
            .collect()
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A checked redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub part: Part,
    pub range: Range<usize>,
    pub ground: String,
}

impl Checked {
    pub fn to_redaction(&self) -> Redaction {
        Redaction {
            part: self.part.code(),
            start: to_i64(self.range.start),
            end: to_i64(self.range.end),
            ground: self.ground.clone(),
        }
    }
}

/// Checks a proposed list for one tip; every problem is named by its field
/// (`redactions[3].end`). The accepted list comes back ordered by part and start.
pub fn check(
    proposed: &[Redaction],
    texts: &TipTexts,
    disclosure: &DisclosureSettings,
) -> Result<Vec<Checked>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if proposed.len() > MAX_REDACTIONS_PER_TIP {
        return Err(vec![FieldError::new(
            "redactions",
            "too_many",
            format!("at most {MAX_REDACTIONS_PER_TIP} ranges per tip"),
        )]);
    }
    let mut accepted: Vec<(usize, Checked)> = Vec::new();
    for (index, redaction) in proposed.iter().enumerate() {
        let field = |name: &str| format!("redactions[{index}].{name}");
        let mut ok = true;
        let length = match Part::parse(&redaction.part)
            .and_then(|part| texts.text(part).map(|t| (part, t)))
        {
            Some((part, text)) => Some((part, text.chars().count())),
            None => {
                errors.push(FieldError::new(
                    field("part"),
                    "unknown_part",
                    "is not \"description\" or \"message:<id>\" of a message of this tip",
                ));
                ok = false;
                None
            }
        };
        if disclosure.ground(&redaction.ground).is_none() {
            errors.push(FieldError::new(
                field("ground"),
                "unknown_ground",
                "is not one of the configured legal grounds",
            ));
            ok = false;
        }
        if redaction.start < 0 {
            errors.push(FieldError::new(
                field("start"),
                "out_of_range",
                "must be 0 or more",
            ));
            ok = false;
        } else if redaction.end <= redaction.start {
            errors.push(FieldError::new(
                field("end"),
                "out_of_range",
                "must be greater than start",
            ));
            ok = false;
        } else if let Some((_, length)) = length
            && redaction.end > to_i64(length)
        {
            errors.push(FieldError::new(
                field("end"),
                "out_of_range",
                format!("is past the end of the text ({length} characters)"),
            ));
            ok = false;
        }
        if let (true, Some((part, _))) = (ok, length) {
            // Both within the text's length, so they fit a usize.
            let start = usize::try_from(redaction.start).unwrap_or(usize::MAX);
            let end = usize::try_from(redaction.end).unwrap_or(usize::MAX);
            accepted.push((
                index,
                Checked {
                    part,
                    range: start..end,
                    ground: redaction.ground.clone(),
                },
            ));
        }
    }
    accepted.sort_by_key(|(index, c)| (c.part, c.range.start, *index));
    for pair in accepted.windows(2) {
        let ((earlier_index, earlier), (index, later)) = (&pair[0], &pair[1]);
        if earlier.part == later.part && later.range.start < earlier.range.end {
            errors.push(FieldError::new(
                format!("redactions[{index}].start"),
                "overlaps",
                format!("overlaps redactions[{earlier_index}] in the same part"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(accepted.into_iter().map(|(_, c)| c).collect())
    } else {
        errors.sort_by_key(|e| field_order(&e.field));
        Err(errors)
    }
}

/// Errors in the order of the list (then of the fields within an entry).
fn field_order(field: &str) -> (usize, String) {
    let index = field
        .strip_prefix("redactions[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (index, field.to_owned())
}

/// Stored redactions back as checked ones (anything unreadable is dropped: the database
/// only ever holds lists `check` accepted).
pub fn from_stored(value: &serde_json::Value) -> Vec<Checked> {
    let list: Vec<Redaction> = serde_json::from_value(value.clone()).unwrap_or_default();
    list.into_iter()
        .filter_map(|r| {
            let part = Part::parse(&r.part)?;
            let start = usize::try_from(r.start).ok()?;
            let end = usize::try_from(r.end).ok()?;
            Some(Checked {
                part,
                range: start..end,
                ground: r.ground,
            })
        })
        .collect()
}

/// A piece of a redacted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Kept(String),
    /// The characters are gone; only the ground remains.
    Withheld {
        ground: String,
    },
}

/// Cuts `text` into kept text and withheld markers. `redactions` are those of this part,
/// non-overlapping (as `check` guarantees); the withheld characters are not in the result.
pub fn segments(text: &str, redactions: &[&Checked]) -> Vec<Segment> {
    let mut ordered: Vec<&Checked> = redactions.to_vec();
    ordered.sort_by_key(|c| c.range.start);
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for redaction in ordered {
        let start = redaction.range.start.min(chars.len()).max(at);
        let end = redaction.range.end.min(chars.len());
        if start > at {
            out.push(Segment::Kept(chars[at..start].iter().collect()));
        }
        out.push(Segment::Withheld {
            ground: redaction.ground.clone(),
        });
        at = at.max(end);
    }
    if at < chars.len() {
        out.push(Segment::Kept(chars[at..].iter().collect()));
    }
    out
}

/// How many ranges use each ground (for the audit log: counts, never text).
pub fn ground_counts(redactions: &[Checked]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in redactions {
        *counts.entry(r.ground.clone()).or_insert(0) += 1;
    }
    counts
}

/// The sentences of a text as character ranges (without surrounding whitespace): a sentence
/// ends at `.`, `!`, `?` or `…` (with any closing quotes or brackets) followed by whitespace
/// and a capital letter or an opening quote — so "t.ex. att" and "kl. 03" stay in one
/// sentence — and at every line break.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, out: &mut Vec<Range<usize>>| {
        let mut from = from;
        let mut to = to;
        while from < to && chars[from].is_whitespace() {
            from += 1;
        }
        while to > from && chars[to - 1].is_whitespace() {
            to -= 1;
        }
        if from < to {
            out.push(from..to);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            push(start, i, &mut out);
            start = i + 1;
        } else if matches!(c, '.' | '!' | '?' | '…') {
            let mut end = i + 1;
            while end < chars.len()
                && matches!(chars[end], '.' | '!' | '?' | '"' | '”' | '’' | ')' | '»')
            {
                end += 1;
            }
            let mut next = end;
            while next < chars.len() && chars[next].is_whitespace() && chars[next] != '\n' {
                next += 1;
            }
            let spaced = next > end;
            let begins_sentence = next < chars.len()
                && (chars[next].is_uppercase()
                    || matches!(chars[next], '"' | '”' | '«' | '(' | '–' | '-'));
            if spaced && begins_sentence {
                push(start, end, &mut out);
                start = end;
                i = end;
                continue;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    push(start, chars.len(), &mut out);
    out
}

/// The characters of `range` in `text`.
pub fn slice(text: &str, range: &Range<usize>) -> String {
    text.chars()
        .skip(range.start)
        .take(range.end.saturating_sub(range.start))
        .collect()
}

#[cfg(test)]
#[path = "redaction_tests.rs"]
mod tests;
