//! Accounts from a provider's identities: linked by (issuer, subject) and never by email,
//! created on the first sign-in, and at every sign-in given the roles and teams the groups map
//! to (each change in the audit log); the sealed ID token kept with an SSO session; and whether
//! an account may still use the local password sign-in.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::SsoError;
use super::claims::Identity;
use crate::audit::{self, AuditAction};
use crate::auth::accounts::{self, AccountError, NewAccount};
use crate::crypto::Crypto;
use crate::db::schema::{sso_sessions, user_identities, users};

/// Who is signing in, for the audit rows.
pub struct Context<'a> {
    pub provider: &'a str,
    pub request_id: Option<&'a str>,
}

async fn record(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    context: &Context<'_>,
    actor: &str,
    action: AuditAction,
    detail: serde_json::Value,
) -> Result<(), diesel::result::Error> {
    audit::record(
        conn,
        crypto,
        &audit::Entry {
            actor,
            action,
            tip_id: None,
            detail,
            request_id: context.request_id,
        },
    )
    .await
    .map(|_| ())
}

/// A refused sign-in, in the audit log (outside the refused transaction).
pub async fn record_refusal(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    context: &Context<'_>,
    user_id: Option<Uuid>,
    reason: &str,
) {
    let actor = user_id.map_or_else(
        || format!("sso:{}", context.provider),
        |id| format!("user:{id}"),
    );
    let detail = json!({ "provider": context.provider, "reason": reason, "user": user_id });
    if let Err(error) = record(
        conn,
        crypto,
        context,
        &actor,
        AuditAction::SsoLoginRefused,
        detail,
    )
    .await
    {
        tracing::warn!(error = %error, "writing a refused sign-in's audit row failed");
    }
}

fn names(roles: &[crate::auth::Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// The account the identity signs in as, created or updated to the mapping, in one
/// transaction. Refusals (no role, disabled, email taken) change nothing but end the
/// account's sessions when it has no role any more.
pub async fn sign_in(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    context: &Context<'_>,
    identity: &Identity,
) -> Result<Uuid, (SsoError, Option<Uuid>)> {
    let linked: Option<Uuid> = user_identities::table
        .find((&identity.issuer, &identity.subject))
        .select(user_identities::user_id)
        .first(conn)
        .await
        .optional()
        .map_err(|e| (e.into(), None))?;
    match linked {
        Some(user_id) => update_linked(conn, crypto, context, identity, user_id)
            .await
            .map(|()| user_id)
            .map_err(|e| (e, Some(user_id))),
        None => create_linked(conn, crypto, context, identity)
            .await
            .map_err(|e| (e, None)),
    }
}

async fn update_linked(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    context: &Context<'_>,
    identity: &Identity,
    user_id: Uuid,
) -> Result<(), SsoError> {
    let account = accounts::find(conn, user_id)
        .await?
        .ok_or(SsoError::Disabled)?;
    if !account.active {
        return Err(SsoError::Disabled);
    }
    if identity.roles.is_empty() {
        // The provider took every group away: no session here any more either.
        accounts::end_all_sessions(conn, user_id).await?;
        return Err(SsoError::NoAccess);
    }
    let actor = format!("user:{user_id}");
    conn.transaction::<_, SsoError, _>(async |conn| {
        if account.roles != identity.roles || account.teams != identity.teams {
            accounts::set_roles_and_teams(conn, user_id, &identity.roles, &identity.teams)
                .await
                .map_err(account_error)?;
            let detail = json!({
                "user": user_id,
                "provider": context.provider,
                "roles_before": names(&account.roles),
                "roles": names(&identity.roles),
                "teams_before": account.teams,
                "teams": identity.teams,
            });
            record(
                conn,
                crypto,
                context,
                &actor,
                AuditAction::SsoMappingChanged,
                detail,
            )
            .await?;
        }
        if account.display_name != identity.display_name {
            diesel::update(users::table.find(user_id))
                .set((
                    users::display_name.eq(&identity.display_name),
                    users::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
        }
        diesel::update(user_identities::table.find((&identity.issuer, &identity.subject)))
            .set(user_identities::last_sign_in_at.eq(Utc::now()))
            .execute(conn)
            .await?;
        let detail = json!({ "user": user_id, "provider": context.provider });
        record(conn, crypto, context, &actor, AuditAction::SsoLogin, detail).await?;
        Ok(())
    })
    .await
}

fn account_error(error: AccountError) -> SsoError {
    match error {
        AccountError::Database(e) => SsoError::Database(e),
        AccountError::Invalid(_) => SsoError::EmailTaken,
        AccountError::NotFound => SsoError::Disabled,
        AccountError::Other(e) => SsoError::Other(e),
    }
}

async fn create_linked(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    context: &Context<'_>,
    identity: &Identity,
) -> Result<Uuid, SsoError> {
    if identity.roles.is_empty() {
        return Err(SsoError::NoAccess);
    }
    let email = identity
        .email
        .clone()
        .ok_or(SsoError::MissingClaim("email"))?;
    let new = NewAccount {
        email,
        display_name: identity.display_name.clone(),
        roles: identity.roles.clone(),
        teams: identity.teams.clone(),
        language: "sv".to_owned(),
    };
    conn.transaction::<_, SsoError, _>(async |conn| {
        // `create` refuses an email that is taken: an existing account is never taken over
        // by a provider's identity that merely shares its address.
        let user_id = accounts::create(conn, &new, None)
            .await
            .map_err(account_error)?;
        // It has no password; the local sign-in stays shut unless an admin opens it.
        diesel::update(users::table.find(user_id))
            .set(users::local_login_allowed.eq(false))
            .execute(conn)
            .await?;
        diesel::insert_into(user_identities::table)
            .values((
                user_identities::issuer.eq(&identity.issuer),
                user_identities::subject.eq(&identity.subject),
                user_identities::user_id.eq(user_id),
                user_identities::provider.eq(context.provider),
            ))
            .execute(conn)
            .await?;
        let actor = format!("sso:{}", context.provider);
        let detail = json!({
            "user": user_id,
            "provider": context.provider,
            "roles": names(&identity.roles),
            "teams": identity.teams,
        });
        record(
            conn,
            crypto,
            context,
            &actor,
            AuditAction::CreateUser,
            detail,
        )
        .await?;
        let actor = format!("user:{user_id}");
        let detail = json!({ "user": user_id, "provider": context.provider, "created": true });
        record(conn, crypto, context, &actor, AuditAction::SsoLogin, detail).await?;
        Ok(user_id)
    })
    .await
}

fn token_hash(session_token: &str) -> Vec<u8> {
    Sha256::digest(session_token.as_bytes()).to_vec()
}

/// Keeps the ID token (sealed, bound to the session) for RP-initiated logout.
pub async fn remember_session(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    session_token: &str,
    provider: &str,
    id_token: &str,
) -> Result<(), SsoError> {
    let hash = token_hash(session_token);
    let (key_id, sealed) = crypto
        .seal(id_token.as_bytes(), &hash)
        .map_err(|e| anyhow::anyhow!("sealing an ID token: {e}"))?;
    diesel::insert_into(sso_sessions::table)
        .values((
            sso_sessions::session_hash.eq(&hash),
            sso_sessions::provider.eq(provider),
            sso_sessions::id_token_key_id.eq(key_id),
            sso_sessions::id_token_sealed.eq(sealed),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The provider and ID token of a session that began at a provider. A token sealed with a key
/// since retired opens as `None` (the logout then goes without the hint).
pub async fn session_provider(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    session_token: &str,
) -> Result<Option<(String, Option<String>)>, diesel::result::Error> {
    let hash = token_hash(session_token);
    let row: Option<(String, String, Vec<u8>)> = sso_sessions::table
        .find(&hash)
        .select((
            sso_sessions::provider,
            sso_sessions::id_token_key_id,
            sso_sessions::id_token_sealed,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(provider, key_id, sealed)| {
        let token = crypto
            .open(&key_id, &sealed, &hash)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        (provider, token)
    }))
}

/// The account's own "local password sign-in allowed" flag and its email.
pub async fn local_login_flag(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<(bool, String), diesel::result::Error> {
    users::table
        .find(user_id)
        .select((users::local_login_allowed, users::email))
        .first(conn)
        .await
}

/// Opens or shuts the local password sign-in of one account (`tipsa user set-local-login`).
pub async fn set_local_login(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    allowed: bool,
) -> Result<(), diesel::result::Error> {
    diesel::update(users::table.find(user_id))
        .set((
            users::local_login_allowed.eq(allowed),
            users::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Links an existing account to an identity (`tipsa user link-identity`); false if that
/// identity is linked already.
pub async fn link_identity(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    provider: &str,
    issuer: &str,
    subject: &str,
) -> Result<bool, diesel::result::Error> {
    let inserted = diesel::insert_into(user_identities::table)
        .values((
            user_identities::issuer.eq(issuer),
            user_identities::subject.eq(subject),
            user_identities::user_id.eq(user_id),
            user_identities::provider.eq(provider),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}
