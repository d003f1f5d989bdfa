//! Inspector sessions, kept in PostgreSQL so any web node serves any request: the cookie holds
//! 256 random bits, the table only their SHA-256. A session is `partial` after the password
//! and `full` after the second factor; each step issues a new token (no session fixation).

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::accounts::{self, Account};
use crate::db::schema::sessions;

pub const COOKIE: &str = "tipsa_session";

/// How far a session has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the second factor (or its enrolment) is still to come.
    Partial,
    Full,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Partial => "partial",
            Stage::Full => "full",
        }
    }
}

/// Timeouts from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle: Duration,
    pub absolute: Duration,
}

/// A live session and its (active) account.
#[derive(Debug, Clone)]
pub struct Session {
    pub stage: Stage,
    pub account: Account,
    pub expires_at: DateTime<Utc>,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Starts a session; returns the token for the cookie.
pub async fn start(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    stage: Stage,
    lifetimes: Lifetimes,
) -> Result<String, diesel::result::Error> {
    let (token, token_hash) = accounts::new_token();
    let now = Utc::now();
    // A partial session only has to last through typing a code.
    let expires_at = match stage {
        Stage::Partial => now + Duration::minutes(10).min(lifetimes.absolute),
        Stage::Full => now + lifetimes.absolute,
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash),
            sessions::user_id.eq(user_id),
            sessions::stage.eq(stage.as_str()),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

/// The live session for `token`, if any: not expired, not idle too long, account active.
/// Refreshes `last_seen_at` at most once a minute (not a write per request).
pub async fn load(
    conn: &mut AsyncPgConnection,
    token: &str,
    lifetimes: Lifetimes,
) -> Result<Option<Session>, diesel::result::Error> {
    let now = Utc::now();
    let row: Option<(Uuid, String, DateTime<Utc>, DateTime<Utc>)> = sessions::table
        .find(hash(token))
        .select((
            sessions::user_id,
            sessions::stage,
            sessions::last_seen_at,
            sessions::expires_at,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((user_id, stage, last_seen_at, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at <= now || last_seen_at + lifetimes.idle <= now {
        end(conn, token).await?;
        return Ok(None);
    }
    let Some(account) = accounts::find(conn, user_id).await? else {
        return Ok(None);
    };
    if !account.active {
        return Ok(None);
    }
    if now - last_seen_at > Duration::minutes(1) {
        diesel::update(sessions::table.find(hash(token)))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)
            .await?;
    }
    let stage = if stage == "full" {
        Stage::Full
    } else {
        Stage::Partial
    };
    Ok(Some(Session {
        stage,
        account,
        expires_at,
    }))
}

/// Ends one session (logout).
pub async fn end(conn: &mut AsyncPgConnection, token: &str) -> Result<(), diesel::result::Error> {
    diesel::delete(sessions::table.find(hash(token)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces a session with a new token at `stage` (after each login step).
pub async fn advance(
    conn: &mut AsyncPgConnection,
    old_token: &str,
    user_id: Uuid,
    stage: Stage,
    lifetimes: Lifetimes,
) -> Result<String, diesel::result::Error> {
    end(conn, old_token).await?;
    start(conn, user_id, stage, lifetimes).await
}
