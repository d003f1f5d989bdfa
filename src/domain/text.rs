//! Which characters of free text a reader can see: the "required text" rules (a description
//! of at least 20 characters, a message that is not empty) count only those, so a text of
//! zero-width spaces, bidi controls or lone combining marks is as empty as a blank one.
//!
//! Std `char` classifies whitespace and control characters; the format characters (Unicode
//! category Cf) and the other characters that render as nothing are listed here explicitly.
//! The list is short and changes rarely (Unicode adds a Cf character every few years); a crate
//! with the full category tables would be exact but is not worth a dependency for this rule.

/// Ranges (inclusive) of characters that render as nothing on their own, besides whitespace
/// and control characters: format characters (Cf), combining marks that have no base to sit
/// on, variation selectors, fillers and the blank braille pattern often used to fake text.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),   // soft hyphen
    ('\u{0300}', '\u{036F}'),   // combining diacritical marks (incl. U+034F grapheme joiner)
    ('\u{061C}', '\u{061C}'),   // Arabic letter mark
    ('\u{115F}', '\u{1160}'),   // Hangul choseong/jungseong fillers
    ('\u{17B4}', '\u{17B5}'),   // Khmer inherent vowels
    ('\u{180B}', '\u{180F}'),   // Mongolian variation selectors and vowel separator
    ('\u{1AB0}', '\u{1AFF}'),   // combining diacritical marks extended
    ('\u{1DC0}', '\u{1DFF}'),   // combining diacritical marks supplement
    ('\u{200B}', '\u{200F}'),   // zero-width space, (non-)joiner, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // bidi embeddings and overrides
    ('\u{2060}', '\u{206F}'),   // word joiner, invisible operators, bidi isolates
    ('\u{20D0}', '\u{20FF}'),   // combining marks for symbols
    ('\u{2800}', '\u{2800}'),   // braille pattern blank
    ('\u{3164}', '\u{3164}'),   // Hangul filler
    ('\u{FE00}', '\u{FE0F}'),   // variation selectors
    ('\u{FE20}', '\u{FE2F}'),   // combining half marks
    ('\u{FEFF}', '\u{FEFF}'),   // zero-width no-break space (BOM)
    ('\u{FFA0}', '\u{FFA0}'),   // halfwidth Hangul filler
    ('\u{FFF9}', '\u{FFFB}'),   // interlinear annotation controls
    ('\u{110BD}', '\u{110BD}'), // Kaithi number sign
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol format controls
    ('\u{E0000}', '\u{E007F}'), // tag characters
    ('\u{E0100}', '\u{E01EF}'), // variation selectors supplement
];

/// Whether `c` shows nothing by itself.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || INVISIBLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
}

/// How many characters of `text` a reader sees.
pub fn visible_chars(text: &str) -> usize {
    text.chars().filter(|&c| !is_invisible(c)).count()
}

/// Whether `text` has nothing a reader could see (empty, blank or only invisible characters).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_invisible)
}

/// An ECMA-262 character class of the invisible characters but NUL, for the OpenAPI
/// document's patterns (`[…]`, without the brackets). Only the Basic Multilingual Plane is
/// listed: a pattern cannot name other planes in a way every engine (JavaScript without the
/// `u` flag, Python) reads the same, so the few invisible characters beyond it (tags, musical
/// format controls…) are refused by the service but not by the pattern.
fn invisible_class_bmp_but_nul() -> String {
    let mut class = format!(r"{WHITESPACE_CLASS}\u0001-\u001F\u007F-\u009F");
    for &(first, last) in INVISIBLE {
        let (first, last) = (u32::from(first), u32::from(last));
        if last > 0xFFFF {
            continue;
        }
        if first == last {
            class.push_str(&format!("\\u{first:04X}"));
        } else {
            class.push_str(&format!("\\u{first:04X}-\\u{last:04X}"));
        }
    }
    class
}

/// A pattern (ECMA-262) for text with at least `n` visible characters and no NUL (which
/// PostgreSQL text cannot hold): `n` times some invisible characters then a visible one,
/// then anything but NUL.
pub fn visible_text_pattern(n: usize) -> String {
    let invisible = invisible_class_bmp_but_nul();
    format!(r"^(?:[{invisible}]*[^\u0000{invisible}]){{{n}}}[^\u0000]*$")
}

/// Rust's whitespace (`char::is_whitespace`, Unicode White_Space) as the inside of an ECMA-262
/// character class; `\s` differs between engines (Python's includes U+001C–U+001F).
pub const WHITESPACE_CLASS: &str =
    r"\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A pattern (ECMA-262) for text without NUL.
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_not_counted() {
        for invisible in [
            "\u{200B}",
            "\u{200C}",
            "\u{200D}",
            "\u{2060}",
            "\u{FEFF}",
            "\u{00AD}",
            "\u{202E}",
            "\u{2066}",
            "\u{200E}",
            "\u{0301}",
            "\u{FE0F}",
            "\u{3000}",
            "\u{00A0}",
            "\u{2800}",
            "\u{E0041}",
            "\t",
            "\u{0007}",
        ] {
            assert_eq!(
                visible_chars(invisible),
                0,
                "{:?}",
                invisible.escape_unicode()
            );
            assert!(is_blank(&invisible.repeat(30)));
        }
    }

    #[test]
    fn ordinary_text_is_counted_by_character() {
        assert_eq!(visible_chars("Solgläntan äldreboende"), 21);
        // A decomposed å is one character a reader sees.
        assert_eq!(visible_chars("a\u{030A}"), 1);
        assert_eq!(
            visible_chars("👩‍⚕️"),
            2,
            "woman, health worker; the joiner and selector do not count"
        );
        assert!(!is_blank("\u{200B}x\u{200B}"));
        assert!(is_blank(""));
    }

    #[test]
    fn the_pattern_lists_the_basic_plane_and_counts() {
        let pattern = visible_text_pattern(20);
        assert!(pattern.contains(r"\u200B-\u200F"), "{pattern}");
        assert!(pattern.contains(r"\uFEFF"), "{pattern}");
        assert!(!pattern.contains("E0000"), "{pattern}");
        assert!(
            pattern.starts_with("^(?:[") && pattern.contains("]){20}[^"),
            "{pattern}"
        );
    }
}
