//! Logging in: the password step with per-account lock-out, the second-factor step (a TOTP
//! code or a one-time recovery code), and enrolling the second factor on first login.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::passwords;
use super::second_factor;
use crate::crypto::Crypto;
use crate::db::schema::{recovery_codes, users};

/// Lock-out policy from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub failures: i32,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong email, password or code — deliberately not saying which.
    #[error("the credentials were not accepted")]
    Rejected,
    /// Too many failures in a row; try again later.
    #[error("the account is locked for a while")]
    Locked { until: DateTime<Utc> },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// After a correct password.
#[derive(Debug, Clone, Copy)]
pub struct PasswordAccepted {
    pub user_id: Uuid,
    /// False: the person must enrol a second factor before anything else.
    pub second_factor_enrolled: bool,
}

#[derive(Queryable)]
struct Credentials {
    id: Uuid,
    active: bool,
    password_hash: Option<String>,
    totp_enabled: bool,
    locked_until: Option<DateTime<Utc>>,
}

async fn verify_off_thread(password: &str, phc: Option<String>) -> anyhow::Result<bool> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => passwords::verify(&password, &phc),
        None => {
            passwords::verify_dummy(&password);
            false
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("password verification task: {e}"))
}

/// Counts a failure; locks the account once the budget is spent.
async fn record_failure(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    lockout: Lockout,
) -> Result<(), diesel::result::Error> {
    let failures: i32 = diesel::update(users::table.find(user_id))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .returning(users::failed_logins)
        .get_result(conn)
        .await?;
    let locks = failures >= lockout.failures;
    crate::monitoring::login_failed(locks);
    if locks {
        diesel::update(users::table.find(user_id))
            .set((
                users::failed_logins.eq(0),
                users::locked_until.eq(Utc::now() + lockout.duration),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

async fn record_success(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<(), diesel::result::Error> {
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

async fn check_not_locked(conn: &mut AsyncPgConnection, user_id: Uuid) -> Result<(), LoginError> {
    let locked_until: Option<DateTime<Utc>> = users::table
        .find(user_id)
        .select(users::locked_until)
        .first(conn)
        .await?;
    match locked_until {
        Some(until) if until > Utc::now() => Err(LoginError::Locked { until }),
        _ => Ok(()),
    }
}

/// The password step. Unknown accounts cost the same time as known ones.
pub async fn check_password(
    conn: &mut AsyncPgConnection,
    email: &str,
    password: &str,
    lockout: Lockout,
) -> Result<PasswordAccepted, LoginError> {
    let credentials: Option<Credentials> = users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select((
            users::id,
            users::active,
            users::password_hash,
            users::totp_enabled_at.is_not_null(),
            users::locked_until,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some(credentials) = credentials else {
        verify_off_thread(password, None).await?;
        crate::monitoring::login_failed(false);
        return Err(LoginError::Rejected);
    };
    if let Some(until) = credentials.locked_until.filter(|until| *until > Utc::now()) {
        return Err(LoginError::Locked { until });
    }
    let matches = verify_off_thread(password, credentials.password_hash).await?;
    if !matches || !credentials.active {
        record_failure(conn, credentials.id, lockout).await?;
        return Err(LoginError::Rejected);
    }
    Ok(PasswordAccepted {
        user_id: credentials.id,
        second_factor_enrolled: credentials.totp_enabled,
    })
}

/// The TOTP secret of an account: enabled, or pending enrolment.
async fn secret(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    user_id: Uuid,
) -> Result<Option<(Vec<u8>, String)>, LoginError> {
    let row: (Option<Vec<u8>>, Option<String>, String) = users::table
        .find(user_id)
        .select((users::totp_ciphertext, users::totp_key_id, users::email))
        .first(conn)
        .await?;
    match row {
        (Some(sealed), Some(key_id), email) => {
            let secret = crypto
                .open(&key_id, &sealed, user_id.as_bytes())
                .map_err(|e| anyhow::anyhow!("opening a TOTP secret: {e}"))?;
            Ok(Some((secret, email)))
        }
        _ => Ok(None),
    }
}

fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

/// The second-factor step: a current TOTP code, or an unused recovery code (then used up).
pub async fn check_second_factor(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    user_id: Uuid,
    code: &str,
    lockout: Lockout,
) -> Result<(), LoginError> {
    check_not_locked(conn, user_id).await?;
    let accepted = match secret(conn, crypto, user_id).await? {
        Some((secret, email)) if second_factor::verify(&secret, &email, code, unix_now()) => true,
        _ => match second_factor::normalise_recovery_code(code) {
            Some(normalised) => {
                let used = diesel::update(
                    recovery_codes::table
                        .find((user_id, recovery_hash(crypto, user_id, &normalised)))
                        .filter(recovery_codes::used_at.is_null()),
                )
                .set(recovery_codes::used_at.eq(Utc::now()))
                .execute(conn)
                .await?;
                used == 1
            }
            None => false,
        },
    };
    if accepted {
        record_success(conn, user_id).await?;
        Ok(())
    } else {
        record_failure(conn, user_id, lockout).await?;
        Err(LoginError::Rejected)
    }
}

fn recovery_hash(crypto: &Crypto, user_id: Uuid, normalised: &str) -> Vec<u8> {
    crypto.keyed_hash(
        "recovery code v1",
        &[user_id.as_bytes(), normalised.as_bytes()],
    )
}

/// A pending enrolment: the secret to show (QR code and text).
pub struct Enrolment {
    pub secret: Vec<u8>,
    pub account: String,
}

/// Starts (or shows again) enrolment: a pending secret is kept until it is confirmed.
pub async fn begin_enrolment(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    user_id: Uuid,
) -> Result<Enrolment, LoginError> {
    if let Some((secret, account)) = secret(conn, crypto, user_id).await? {
        return Ok(Enrolment { secret, account });
    }
    let secret = second_factor::new_secret();
    let (key_id, sealed) = crypto
        .seal(&secret, user_id.as_bytes())
        .map_err(|e| anyhow::anyhow!("sealing a TOTP secret: {e}"))?;
    let account: String = diesel::update(users::table.find(user_id))
        .set((
            users::totp_ciphertext.eq(sealed),
            users::totp_key_id.eq(key_id),
            users::updated_at.eq(Utc::now()),
        ))
        .returning(users::email)
        .get_result(conn)
        .await?;
    Ok(Enrolment { secret, account })
}

/// Confirms enrolment with a code from the app; returns the recovery codes to show once.
pub async fn confirm_enrolment(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    user_id: Uuid,
    code: &str,
    lockout: Lockout,
) -> Result<Vec<String>, LoginError> {
    check_not_locked(conn, user_id).await?;
    let Some((secret, email)) = secret(conn, crypto, user_id).await? else {
        return Err(LoginError::Rejected);
    };
    if !second_factor::verify(&secret, &email, code, unix_now()) {
        record_failure(conn, user_id, lockout).await?;
        return Err(LoginError::Rejected);
    }
    let codes = second_factor::new_recovery_codes();
    conn.transaction::<_, LoginError, _>(async |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::totp_enabled_at.eq(Utc::now()),
                users::failed_logins.eq(0),
                users::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        let rows: Vec<_> = codes
            .iter()
            .filter_map(|code| second_factor::normalise_recovery_code(code))
            .map(|normalised| {
                (
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::code_hash.eq(recovery_hash(crypto, user_id, &normalised)),
                )
            })
            .collect();
        diesel::insert_into(recovery_codes::table)
            .values(&rows)
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(codes)
}
