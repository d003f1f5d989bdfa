//! Inspector accounts: people with roles, team memberships and a language, their passwords,
//! and one-time links (the first admin, invitations, password resets). Shared by the CLI and
//! the admin pages.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::passwords;
use super::policy::{Person, Role};
use crate::db::schema::{account_tokens, recovery_codes, sessions, user_teams, users};
use crate::domain::FieldError;

/// How long links stay valid.
pub const FIRST_ADMIN_LINK_HOURS: i64 = 24;
pub const INVITATION_LINK_HOURS: i64 = 72;

/// A person's account as the admin pages and the CLI show it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub teams: Vec<String>,
    pub language: String,
    pub active: bool,
    pub has_password: bool,
    pub second_factor: bool,
    pub created_at: DateTime<Utc>,
}

impl Account {
    pub fn person(&self) -> Person {
        Person {
            id: self.id,
            roles: self.roles.clone(),
            teams: self.teams.clone(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid account details")]
    Invalid(Vec<FieldError>),
    #[error("no such account")]
    NotFound,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A new account's details, checked.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub teams: Vec<String>,
    pub language: String,
}

/// Lower-cased and trimmed; a plausible address (one `@`, a dot in the domain, no spaces).
pub fn parse_email(field: &str, email: &str) -> Result<String, FieldError> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if email.is_empty() {
        Err(FieldError::new(field, "required", "is required"))
    } else if plausible {
        Ok(email)
    } else {
        Err(FieldError::new(
            field,
            "invalid_email",
            "must be an email address",
        ))
    }
}

/// Parses role names; at least one.
pub fn parse_roles(field: &str, names: &[String]) -> Result<Vec<Role>, FieldError> {
    let mut roles = Vec::new();
    for name in names {
        let role = Role::parse(name.trim()).ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_role",
                format!("{name:?} is not one of inspector, triage_lead, analyst, admin"),
            )
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "at least one role is required",
        ));
    }
    roles.sort();
    Ok(roles)
}

/// Checks team codes against the routing configuration's teams.
pub fn parse_teams(
    field: &str,
    codes: &[String],
    known: &[&str],
) -> Result<Vec<String>, FieldError> {
    let mut teams: Vec<String> = Vec::new();
    for code in codes.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
        if !known.contains(&code) {
            return Err(FieldError::new(
                field,
                "unknown_team",
                format!("{code:?} is not a team; teams: {}", known.join(", ")),
            ));
        }
        if !teams.iter().any(|t| t == code) {
            teams.push(code.to_owned());
        }
    }
    teams.sort();
    Ok(teams)
}

impl NewAccount {
    pub fn parse(
        email: &str,
        display_name: &str,
        roles: &[String],
        teams: &[String],
        language: &str,
        known_teams: &[&str],
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = parse_email("email", email).map_err(|e| errors.push(e)).ok();
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 200 {
            errors.push(FieldError::new(
                "display_name",
                "invalid_length",
                "must be 1 to 200 characters",
            ));
        }
        let roles = parse_roles("roles", roles).map_err(|e| errors.push(e)).ok();
        let teams = parse_teams("teams", teams, known_teams)
            .map_err(|e| errors.push(e))
            .ok();
        if !matches!(language, "sv" | "en") {
            errors.push(FieldError::new(
                "language",
                "invalid_choice",
                "must be sv or en",
            ));
        }
        match (email, roles, teams) {
            (Some(email), Some(roles), Some(teams)) if errors.is_empty() => Ok(NewAccount {
                email,
                display_name: display_name.to_owned(),
                roles,
                teams,
                language: language.to_owned(),
            }),
            _ => Err(errors),
        }
    }
}

type AccountRow = (
    Uuid,
    String,
    String,
    Vec<String>,
    String,
    bool,
    bool,
    bool,
    DateTime<Utc>,
);

async fn with_teams(
    conn: &mut AsyncPgConnection,
    rows: Vec<AccountRow>,
) -> Result<Vec<Account>, diesel::result::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let memberships: Vec<(Uuid, String)> = user_teams::table
        .filter(user_teams::user_id.eq_any(&ids))
        .order(user_teams::team)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                email,
                display_name,
                roles,
                language,
                active,
                has_password,
                second_factor,
                created_at,
            )| {
                Account {
                    id,
                    email,
                    display_name,
                    roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
                    teams: memberships
                        .iter()
                        .filter(|(user, _)| *user == id)
                        .map(|(_, team)| team.clone())
                        .collect(),
                    language,
                    active,
                    has_password,
                    second_factor,
                    created_at,
                }
            },
        )
        .collect())
}

macro_rules! account_columns {
    () => {
        (
            users::id,
            users::email,
            users::display_name,
            users::roles,
            users::language,
            users::active,
            users::password_hash.is_not_null(),
            users::totp_enabled_at.is_not_null(),
            users::created_at,
        )
    };
}

/// Every account, by name.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<Account>, diesel::result::Error> {
    let rows = users::table
        .select(account_columns!())
        .order((users::display_name, users::email))
        .load(conn)
        .await?;
    with_teams(conn, rows).await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Account>, diesel::result::Error> {
    let rows = users::table
        .find(id)
        .select(account_columns!())
        .load(conn)
        .await?;
    Ok(with_teams(conn, rows).await?.pop())
}

pub async fn find_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<Account>, diesel::result::Error> {
    let rows = users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select(account_columns!())
        .load(conn)
        .await?;
    Ok(with_teams(conn, rows).await?.pop())
}

pub async fn count(conn: &mut AsyncPgConnection) -> Result<i64, diesel::result::Error> {
    users::table.count().get_result(conn).await
}

/// Creates an account (without a password unless one is given).
pub async fn create(
    conn: &mut AsyncPgConnection,
    account: &NewAccount,
    password_hash: Option<&str>,
) -> Result<Uuid, AccountError> {
    let id = Uuid::now_v7();
    let roles: Vec<&str> = account.roles.iter().map(|r| r.as_str()).collect();
    conn.transaction::<_, AccountError, _>(async |conn| {
        let inserted = diesel::insert_into(users::table)
            .values((
                users::id.eq(id),
                users::email.eq(&account.email),
                users::display_name.eq(&account.display_name),
                users::roles.eq(&roles),
                users::language.eq(&account.language),
                users::password_hash.eq(password_hash),
            ))
            .on_conflict(users::email)
            .do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            return Err(AccountError::Invalid(vec![FieldError::new(
                "email",
                "taken",
                "an account with this email address exists",
            )]));
        }
        set_teams_in(conn, id, &account.teams).await?;
        Ok(id)
    })
    .await
}

async fn set_teams_in(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    teams: &[String],
) -> Result<(), diesel::result::Error> {
    diesel::delete(user_teams::table.filter(user_teams::user_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = teams
        .iter()
        .map(|team| (user_teams::user_id.eq(id), user_teams::team.eq(team)))
        .collect();
    diesel::insert_into(user_teams::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}

fn found(updated: usize) -> Result<(), AccountError> {
    if updated == 0 {
        Err(AccountError::NotFound)
    } else {
        Ok(())
    }
}

/// Replaces roles and teams together.
pub async fn set_roles_and_teams(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    roles: &[Role],
    teams: &[String],
) -> Result<(), AccountError> {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    conn.transaction::<_, AccountError, _>(async |conn| {
        found(
            diesel::update(users::table.find(id))
                .set((users::roles.eq(&names), users::updated_at.eq(Utc::now())))
                .execute(conn)
                .await?,
        )?;
        set_teams_in(conn, id, teams).await?;
        Ok(())
    })
    .await
}

/// Disables (ending every session) or re-enables an account.
pub async fn set_active(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    active: bool,
) -> Result<(), AccountError> {
    found(
        diesel::update(users::table.find(id))
            .set((users::active.eq(active), users::updated_at.eq(Utc::now())))
            .execute(conn)
            .await?,
    )?;
    if !active {
        end_all_sessions(conn, id).await?;
    }
    Ok(())
}

/// Sets a new password (already checked and hashed), clears the lock-out, ends every session.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> Result<(), AccountError> {
    found(
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(password_hash),
                users::failed_logins.eq(0),
                users::locked_until.eq(None::<DateTime<Utc>>),
                users::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?,
    )?;
    end_all_sessions(conn, id).await?;
    Ok(())
}

/// Uses an invitation or reset link and sets the password in one transaction; false if the
/// link was used or expired meanwhile.
pub async fn set_password_from_link(
    conn: &mut AsyncPgConnection,
    purpose: LinkPurpose,
    token: &str,
    user_id: Uuid,
    password: &str,
) -> Result<bool, AccountError> {
    let phc = hash_password(password).await?;
    conn.transaction::<_, AccountError, _>(async |conn| {
        if !use_link(conn, purpose, token).await? {
            return Ok(false);
        }
        set_password(conn, user_id, &phc).await?;
        Ok(true)
    })
    .await
}

/// The language the workspace and emails use for this person.
pub async fn set_language(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    language: &str,
) -> Result<(), AccountError> {
    found(
        diesel::update(users::table.find(id))
            .set((
                users::language.eq(language),
                users::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?,
    )
}

/// Removes the second factor and recovery codes; the person enrols again at the next login.
pub async fn reset_second_factor(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<(), AccountError> {
    found(
        diesel::update(users::table.find(id))
            .set((
                users::totp_ciphertext.eq(None::<Vec<u8>>),
                users::totp_key_id.eq(None::<String>),
                users::totp_enabled_at.eq(None::<DateTime<Utc>>),
                users::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await?,
    )?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(id)))
        .execute(conn)
        .await?;
    end_all_sessions(conn, id).await?;
    Ok(())
}

/// Logs a person out everywhere.
pub async fn end_all_sessions(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<usize, diesel::result::Error> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id)))
        .execute(conn)
        .await
}

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    FirstAdmin,
    Invitation,
    PasswordReset,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::FirstAdmin => "first_admin",
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::PasswordReset => "password_reset",
        }
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random token (256 bits, URL-safe) and its stored hash.
pub fn new_token() -> (String, Vec<u8>) {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

/// Issues a one-time link token; only its hash is stored.
pub async fn issue_link(
    conn: &mut AsyncPgConnection,
    purpose: LinkPurpose,
    user_id: Option<Uuid>,
    valid_hours: i64,
) -> Result<String, diesel::result::Error> {
    let (token, hash) = new_token();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::token_hash.eq(hash),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::user_id.eq(user_id),
            account_tokens::expires_at.eq(Utc::now() + Duration::hours(valid_hours)),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

/// The account a valid, unused link is for (`Some(None)` for the first-admin link), without
/// using it up.
pub async fn check_link(
    conn: &mut AsyncPgConnection,
    purpose: LinkPurpose,
    token: &str,
) -> Result<Option<Option<Uuid>>, diesel::result::Error> {
    account_tokens::table
        .find(token_hash(token))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(Utc::now()))
        .select(account_tokens::user_id)
        .first(conn)
        .await
        .optional()
}

/// Uses a link up (inside the caller's transaction); false if it was not valid any more.
pub async fn use_link(
    conn: &mut AsyncPgConnection,
    purpose: LinkPurpose,
    token: &str,
) -> Result<bool, diesel::result::Error> {
    let used = diesel::update(
        account_tokens::table
            .find(token_hash(token))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(Utc::now())),
    )
    .set(account_tokens::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(used == 1)
}

/// On a database without accounts, a link to create the first admin (a new one each start,
/// valid for a day); `None` once anyone exists.
pub async fn first_admin_link(
    conn: &mut AsyncPgConnection,
) -> Result<Option<String>, diesel::result::Error> {
    if count(conn).await? > 0 {
        return Ok(None);
    }
    issue_link(conn, LinkPurpose::FirstAdmin, None, FIRST_ADMIN_LINK_HOURS)
        .await
        .map(Some)
}

/// Creates the first admin from the first-run link, with a password; false if the link was
/// used or expired, or someone already exists.
pub async fn create_first_admin(
    conn: &mut AsyncPgConnection,
    token: &str,
    account: &NewAccount,
    password: &str,
) -> Result<Option<Uuid>, AccountError> {
    let phc = hash_password(password).await?;
    conn.transaction::<_, AccountError, _>(async |conn| {
        // Serialises two first-run forms submitted at once.
        diesel::sql_query("LOCK TABLE users IN EXCLUSIVE MODE")
            .execute(conn)
            .await?;
        if count(conn).await? > 0 || !use_link(conn, LinkPurpose::FirstAdmin, token).await? {
            return Ok(None);
        }
        create(conn, account, Some(&phc)).await.map(Some)
    })
    .await
}

/// Hashes off the async threads (argon2 takes tens of milliseconds by design).
pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_accounts_are_checked_field_by_field() {
        let known = ["syd", "nord"];
        let ok = NewAccount::parse(
            " Anna@IVO.example ",
            "Anna Berg",
            &["inspector".into(), "admin".into(), "inspector".into()],
            &["syd".into()],
            "sv",
            &known,
        )
        .unwrap();
        assert_eq!(ok.email, "anna@ivo.example");
        assert_eq!(ok.roles, vec![Role::Inspector, Role::Admin]);
        let errors =
            NewAccount::parse("nope", "", &["boss".into()], &["väst".into()], "de", &known)
                .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["email", "display_name", "roles", "teams", "language"]
        );
    }
}
