//! Receipt codes: 80 random bits a tipster uses to follow up on an anonymous tip, written as
//! four groups of four Crockford base32 characters (`7XQ4-M2KD-9RTB-0HCZ`).
//!
//! The code is shown once and stored only as a keyed hash (see `crypto`), so this type never
//! implements `Debug` or `Display` in a way that could leak it into logs by accident.

use std::fmt;

/// Crockford's base32 alphabet: no I, L, O or U, so codes read aloud or copied by hand survive.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of random bytes behind a code (80 bits).
pub const RECEIPT_CODE_BYTES: usize = 10;

/// A receipt code in canonical form (16 characters of the alphabet, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiptCode([u8; 16]);

impl ReceiptCode {
    /// Builds a code from 80 random bits (the caller supplies the randomness).
    pub fn from_random_bytes(bytes: [u8; RECEIPT_CODE_BYTES]) -> Self {
        let mut value: u128 = 0;
        for byte in bytes {
            value = (value << 8) | u128::from(byte);
        }
        let mut chars = [0u8; 16];
        for (i, slot) in chars.iter_mut().enumerate() {
            let shift = 5 * (15 - i);
            *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
        }
        ReceiptCode(chars)
    }

    /// Parses what a person typed: case-insensitive, dashes and spaces ignored, and the
    /// look-alikes Crockford allows (O→0, I/L→1). `None` unless exactly 16 valid characters.
    pub fn parse(input: &str) -> Option<Self> {
        let mut chars = [0u8; 16];
        let mut count = 0;
        for c in input.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let normalised = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !normalised.is_ascii() || !ALPHABET.contains(&(normalised as u8)) {
                return None;
            }
            if count == 16 {
                return None;
            }
            chars[count] = normalised as u8;
            count += 1;
        }
        (count == 16).then_some(ReceiptCode(chars))
    }

    /// The canonical 16 characters (what the HMAC is computed over).
    pub fn canonical(&self) -> &[u8; 16] {
        &self.0
    }

    /// The form shown to people: `XXXX-XXXX-XXXX-XXXX`.
    pub fn display_form(&self) -> String {
        let text: String = self.0.iter().map(|&b| b as char).collect();
        format!(
            "{}-{}-{}-{}",
            &text[0..4],
            &text[4..8],
            &text[8..12],
            &text[12..16]
        )
    }
}

impl fmt::Debug for ReceiptCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptCode(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_80_bits_as_four_groups() {
        let code = ReceiptCode::from_random_bytes([0; 10]);
        assert_eq!(code.display_form(), "0000-0000-0000-0000");
        let code = ReceiptCode::from_random_bytes([0xff; 10]);
        assert_eq!(code.display_form(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        // 0x01 in the last byte is the lowest bit of the last character.
        let mut bytes = [0; 10];
        bytes[9] = 1;
        assert_eq!(
            ReceiptCode::from_random_bytes(bytes).display_form(),
            "0000-0000-0000-0001"
        );
        // the highest bit of the first byte is the top bit of the first character
        let mut bytes = [0; 10];
        bytes[0] = 0x80;
        assert_eq!(
            ReceiptCode::from_random_bytes(bytes).display_form(),
            "G000-0000-0000-0000"
        );
    }

    #[test]
    fn parse_accepts_what_people_type() {
        let code = ReceiptCode::from_random_bytes([0x5a; 10]);
        let shown = code.display_form();
        assert_eq!(ReceiptCode::parse(&shown), Some(code.clone()));
        assert_eq!(
            ReceiptCode::parse(&shown.to_lowercase()),
            Some(code.clone())
        );
        assert_eq!(
            ReceiptCode::parse(&shown.replace('-', " ")),
            Some(code.clone())
        );
        assert_eq!(
            ReceiptCode::parse("oooo-iiii-llll-0000").map(|c| c.display_form()),
            Some("0000-1111-1111-0000".to_owned())
        );
    }

    #[test]
    fn parse_rejects_wrong_lengths_and_letters() {
        for bad in [
            "",
            "0000-0000-0000-000",
            "0000-0000-0000-00000",
            "UUUU-0000-0000-0000",
            "ÅÄÖ0-0000-0000-0000",
            "0000_0000_0000_0000",
        ] {
            assert_eq!(ReceiptCode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_code() {
        let code = ReceiptCode::from_random_bytes([7; 10]);
        let debug = format!("{code:?}");
        assert!(!debug.contains(&code.display_form()[..4]));
    }

    #[test]
    fn every_random_code_round_trips() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut bytes = [0u8; 10];
            for b in &mut bytes {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let code = ReceiptCode::from_random_bytes(bytes);
            let shown = code.display_form();
            assert_eq!(shown.len(), 19);
            assert_eq!(ReceiptCode::parse(&shown), Some(code));
        }
    }
}
