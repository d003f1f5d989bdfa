//! The confidentiality guard's detector: does a text appear to hold a Swedish personal
//! identity number (personnummer) or co-ordination number (samordningsnummer)?
//!
//! Accepted shapes: `YYMMDD-NNNN`, `YYMMDD+NNNN`, `YYMMDDNNNN`, `YYYYMMDD-NNNN`,
//! `YYYYMMDDNNNN`, not glued to other digits. The date must be plausible (a samordningsnummer
//! adds 60 to the day) and the last digit must satisfy the Luhn check over the ten digits
//! `YYMMDDNNN`+check, so ordinary numbers (phone numbers, dates, amounts) rarely trip it.

/// True when `text` seems to contain at least one identity number.
pub fn contains_identity_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit());
        if starts_run && candidate_at(&chars, i).is_some() {
            return true;
        }
        i += 1;
    }
    false
}

/// Where `text` holds identity numbers: the character range (Unicode scalar values, end
/// exclusive) of each, in order, as the guard finds them. A public-records copy pre-marks
/// these for withholding.
pub fn identity_number_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit());
        if starts_run && let Some(len) = candidate_at(&chars, i) {
            found.push(i..i + len);
            i += len;
            continue;
        }
        i += 1;
    }
    found
}

/// Tries every accepted shape starting at `start`; the length of the first that fits.
fn candidate_at(chars: &[char], start: usize) -> Option<usize> {
    for date_len in [6, 8] {
        let Some(date) = digits(chars, start, date_len) else {
            continue;
        };
        let mut pos = start + date_len;
        if matches!(chars.get(pos), Some('-') | Some('+')) {
            pos += 1;
        }
        let Some(tail) = digits(chars, pos, 4) else {
            continue;
        };
        // Not followed by more digits.
        if chars.get(pos + 4).is_some_and(char::is_ascii_digit) {
            continue;
        }
        let short_date = &date[date_len - 6..];
        if plausible_date(short_date) && luhn_valid(short_date, &tail) {
            return Some(pos + 4 - start);
        }
    }
    None
}

fn digits(chars: &[char], start: usize, len: usize) -> Option<Vec<u32>> {
    let slice = chars.get(start..start + len)?;
    slice.iter().map(|c| c.to_digit(10)).collect()
}

/// YYMMDD with a real month and a day of 1–31 (or 61–91 for a samordningsnummer).
fn plausible_date(date: &[u32]) -> bool {
    let month = date[2] * 10 + date[3];
    let day = date[4] * 10 + date[5];
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day))
}

/// The Luhn check over YYMMDD + the four last digits.
fn luhn_valid(date: &[u32], tail: &[u32]) -> bool {
    let sum: u32 = date
        .iter()
        .chain(tail.iter())
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_identity_numbers_in_every_written_form() {
        // Skatteverket's published test numbers.
        for text in [
            "Patienten 811218-9876 föll i natt.",
            "pnr 8112189876",
            "19811218-9876",
            "198112189876 vårdas på avd 4",
            "Född 811218+9876 (över hundra år)",
            "Samordningsnummer 701063-2391 gäller",
            "(811218-9876)",
        ] {
            assert!(contains_identity_number(text), "{text}");
        }
    }

    #[test]
    fn ranges_cover_each_number_exactly_in_characters() {
        let text = "Åsa (811218-9876) och 198112189876, inte 070-123 45 67; 701063-2391.";
        let ranges = identity_number_ranges(text);
        let chars: Vec<char> = text.chars().collect();
        let found: Vec<String> = ranges
            .iter()
            .map(|r| chars[r.clone()].iter().collect())
            .collect();
        assert_eq!(found, ["811218-9876", "198112189876", "701063-2391"]);
        // Character offsets, not bytes: "Å" is two bytes but one character.
        assert_eq!(ranges[0], 5..16);
        assert!(identity_number_ranges("Ring 070-123 45 67.").is_empty());
        assert!(identity_number_ranges("").is_empty());
        // Every text the guard flags has a range, and every range is one the guard flags.
        for text in ["pnr 8112189876", "Född 811218+9876", "811218-9875"] {
            assert_eq!(
                contains_identity_number(text),
                !identity_number_ranges(text).is_empty(),
                "{text}"
            );
        }
    }

    #[test]
    fn ordinary_numbers_do_not_trigger_it() {
        for text in [
            "Ring 070-123 45 67 eller 08-123 456 78.",
            "Det hände 2026-11-20 kl 03.15.",
            "811218-9875 (fel kontrollsiffra)",
            "811318-9876 (månad 13)",
            "811200-9876 (dag 0)",
            "98112189876123 är ett ordernummer",
            "Ärende 1234567890",
            "",
        ] {
            assert!(!contains_identity_number(text), "{text}");
        }
    }
}
