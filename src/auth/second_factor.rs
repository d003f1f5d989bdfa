//! The second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of clock
//! skew either way — what every authenticator app supports), its enrolment QR code rendered
//! as SVG by the service itself, and one-time recovery codes.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Secret, TOTP};

pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Tipsa";
/// Crockford base32 without the look-alikes, as for receipt codes.
const RECOVERY_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new random TOTP secret.
pub fn new_secret() -> Vec<u8> {
    rand::random::<[u8; SECRET_BYTES]>().to_vec()
}

fn totp(secret: &[u8], account: &str) -> anyhow::Result<TOTP> {
    // The label may not contain ':'; an email address never does.
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account.replace(':', " "),
    )
    .map_err(|e| anyhow::anyhow!("building a TOTP generator: {e:?}"))
}

/// The secret as base32 in groups of four, for typing into an app by hand.
pub fn secret_text(secret: &[u8]) -> String {
    let encoded = match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(text) => text,
        Secret::Raw(_) => String::new(),
    };
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The enrolment QR code (an `otpauth://` URL) as an SVG element with a text alternative.
pub fn qr_svg(secret: &[u8], account: &str, title: &str) -> anyhow::Result<String> {
    let url = totp(secret, account)?.get_url();
    let code = QrCode::new(url.as_bytes()).map_err(|e| anyhow::anyhow!("QR encoding: {e}"))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The renderer emits an XML declaration and a bare <svg>; inline it with a role and title.
    let body = image
        .split_once("<svg")
        .map(|(_, rest)| rest)
        .unwrap_or(&image);
    let title = askama_escape(title);
    Ok(format!(
        "<svg role=\"img\" aria-labelledby=\"qr-title\"{}",
        body.replacen('>', &format!("><title id=\"qr-title\">{title}</title>"), 1)
    ))
}

fn askama_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// True when `code` (spaces ignored) is valid for `secret` at `unix_time`.
pub fn verify(secret: &[u8], account: &str, code: &str, unix_time: u64) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    totp(secret, account).is_ok_and(|t| t.check(&code, unix_time))
}

/// The current code (for tests and the CLI's self-check).
pub fn current_code(secret: &[u8], account: &str, unix_time: u64) -> anyhow::Result<String> {
    Ok(totp(secret, account)?.generate(unix_time))
}

/// New recovery codes, `XXXXX-XXXXX` (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10)
                .map(|_| RECOVERY_ALPHABET[rand::random_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as typed, normalised for hashing: upper case, no separators, and the
/// look-alike letters read as digits.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let normalised: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (normalised.len() == 10 && normalised.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s → 94287082 (8 digits); 6 digits: 287082.
        let secret = b"12345678901234567890";
        assert!(verify(secret, "a@b.se", "287082", 59));
        assert!(verify(secret, "a@b.se", "287 082", 59));
        assert!(!verify(secret, "a@b.se", "287083", 59));
        assert!(!verify(secret, "a@b.se", "28708", 59));
    }

    #[test]
    fn codes_from_the_next_and_previous_step_are_accepted_but_not_older() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let previous = current_code(&secret, "a@b.se", now - 30).unwrap();
        let old = current_code(&secret, "a@b.se", now - 90).unwrap();
        assert!(verify(&secret, "a@b.se", &previous, now));
        assert!(!verify(&secret, "a@b.se", &old, now) || old == previous);
    }

    #[test]
    fn the_secret_text_is_grouped_base32() {
        assert_eq!(
            secret_text(b"12345678901234567890"),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn the_qr_code_is_an_accessible_svg() {
        let svg = qr_svg(&new_secret(), "anna@ivo.example", "QR-kod för <app>").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-labelledby=\"qr-title\""));
        assert!(svg.contains("<title id=\"qr-title\">QR-kod för &lt;app&gt;</title>"));
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalise() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(
                normalise_recovery_code(&code.to_lowercase()).unwrap(),
                code.replace('-', "")
            );
        }
        assert_eq!(normalise_recovery_code("uuuuu-uuuuu"), None); // U is not in the alphabet
        assert_eq!(normalise_recovery_code("short"), None);
    }
}
