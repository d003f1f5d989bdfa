//! Passwords: argon2id hashes with OWASP's recommended parameters, and the rules a new
//! password must meet.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::FieldError;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 256;

/// argon2id, 19 MiB, 2 passes, 1 lane (OWASP Password Storage Cheat Sheet).
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .unwrap_or_else(|_| unreachable!("the OWASP parameters are valid"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password: long enough, not absurdly long, and not the email address.
pub fn check_new(field: &str, password: &str, email: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(FieldError::new(
            field,
            "too_short",
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if chars > MAX_CHARS {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(FieldError::new(
            field,
            "same_as_email",
            "must not be the email address",
        ));
    }
    Ok(())
}

/// The PHC string of a new hash.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("encoding a password salt: {e}"))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches `phc`. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, so a login for an unknown account takes as long as
/// one for a known account.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("a password nobody has").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn new_passwords_are_checked() {
        assert_eq!(
            check_new("p", "short", "a@b.se").unwrap_err().code,
            "too_short"
        );
        assert_eq!(
            check_new("p", "anna@example.se", "anna@example.se")
                .unwrap_err()
                .code,
            "same_as_email"
        );
        assert!(check_new("p", "lång lösenfras för test", "a@b.se").is_ok());
        assert_eq!(
            check_new("p", &"x".repeat(300), "a@b.se").unwrap_err().code,
            "too_long"
        );
    }
}
