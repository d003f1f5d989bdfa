//! Who receives a notification: a team's addresses, its leads, the inspector a tip is assigned
//! to, or an identified reporter (whose sealed address is opened only at send time, never
//! stored in a job, never logged).

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

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

/// Who hears that the tipster replied: the assigned inspector if the tip's `assignee` resolves
/// to an email address, otherwise the team.
///
/// HOOK for the accounts work (issue #5): users do not exist on this branch, so the assignee is
/// never resolved yet. Once a `users` table exists, look the assignee up here (e.g. by user id
/// or login in `tips.assignee`, active users only) and return `vec![user.email]` — and the
/// user's preferred language from the caller's side. Keep the team as the fallback.
pub async fn for_reply(
    _conn: &mut AsyncPgConnection,
    teams: &[Team],
    team: &str,
    assignee: Option<&str>,
) -> diesel::QueryResult<Vec<String>> {
    let _ = assignee;
    Ok(for_team(teams, team))
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
