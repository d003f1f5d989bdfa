//! Who receives a notification: a team's addresses, its leads, the inspector a tip is assigned
//! to, or an identified reporter (whose sealed address is opened only at send time, never
//! stored in a job, never logged).

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::auth::accounts;
use crate::crypto::Crypto;
use crate::domain::ReporterContact;
use crate::triage::config::Team;

/// The team's notification addresses (empty when the team is unknown or has none).
pub fn for_team(teams: &[Team], team: &str) -> Vec<String> {
    teams
        .iter()
        .find(|t| t.code == team)
        .map(|t| t.notify.clone())
        .unwrap_or_default()
}

/// The team leads' addresses (`lead_notify`, which defaults to `notify`).
pub fn for_leads(teams: &[Team], team: &str) -> Vec<String> {
    teams
        .iter()
        .find(|t| t.code == team)
        .map(|t| t.lead_notify.clone())
        .unwrap_or_default()
}

/// Who hears that the tipster replied: the assigned inspector (when `tips.assignee` is the
/// email address of an active account, as the workspace sets it) in their own language, or
/// else the team in the configured language.
pub async fn for_reply(
    conn: &mut AsyncPgConnection,
    teams: &[Team],
    team: &str,
    assignee: Option<&str>,
) -> diesel::QueryResult<(Vec<String>, Option<String>)> {
    if let Some(assignee) = assignee
        && let Some(account) = accounts::find_by_email(conn, assignee).await?
        && account.active
    {
        return Ok((vec![account.email], Some(account.language)));
    }
    Ok((for_team(teams, team), None))
}

/// The reporter's email address, opened from the tip's sealed contact details (the tip id is
/// the sealing context). `None` for anonymous tips or when no email was given.
pub fn reporter_email(
    crypto: &Crypto,
    tip_id: Uuid,
    sealed: Option<(&str, &[u8])>,
) -> Result<Option<String>, crate::crypto::CryptoError> {
    let Some((key_id, ciphertext)) = sealed else {
        return Ok(None);
    };
    let plaintext = crypto.open(key_id, ciphertext, tip_id.as_bytes())?;
    let contact: ReporterContact =
        serde_json::from_slice(&plaintext).map_err(|_| crate::crypto::CryptoError::Damaged)?;
    Ok(contact.email)
}
