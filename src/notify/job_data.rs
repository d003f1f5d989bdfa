//! What a notification's mail is made of, read when it is sent (never copied into the job):
//! the tip's columns an email may use and what decides its recipients, a digest's tips, and
//! team names.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::messages::TipFacts;
use crate::triage::config::Team;

/// The tip columns an email may use, plus what decides recipients.
pub(super) struct TipForMail {
    pub(super) facts: TipFacts,
    pub(super) team: String,
    pub(super) status: String,
    pub(super) assignee: Option<String>,
    pub(super) language: String,
    pub(super) contact_key_id: Option<String>,
    pub(super) contact_ciphertext: Option<Vec<u8>>,
}

type TipColumns = (
    Uuid,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<i64>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<Vec<u8>>,
);

/// The number of a tip's files, as a subquery of a `tips` select.
#[diesel::dsl::auto_type]
fn attachment_count() -> _ {
    crate::db::schema::attachments::table
        .filter(crate::db::schema::attachments::tip_id.eq(crate::db::schema::tips::id.nullable()))
        .count()
        .single_value()
}

pub(super) async fn load_tip(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<TipForMail>> {
    use crate::db::schema::tips;
    let row: Option<TipColumns> = tips::table
        .find(id)
        .select((
            tips::id,
            tips::reference,
            tips::region_code,
            tips::category,
            tips::priority,
            tips::due_at,
            attachment_count(),
            tips::team,
            tips::status,
            tips::assignee,
            tips::language,
            tips::contact_key_id,
            tips::contact_ciphertext,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(
        |(
            id,
            reference,
            region_code,
            category,
            priority,
            due_at,
            attachments,
            team,
            status,
            assignee,
            language,
            contact_key_id,
            contact_ciphertext,
        )| TipForMail {
            facts: TipFacts {
                id,
                reference,
                region_code,
                category,
                priority,
                due_at,
                attachments: attachments.unwrap_or(0),
            },
            team,
            status,
            assignee,
            language,
            contact_key_id,
            contact_ciphertext,
        },
    ))
}

/// A digest entry's tip: id, reference, region, category, priority, due, number of files.
type DigestColumns = (
    Uuid,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<i64>,
);

pub(super) async fn load_digest(
    conn: &mut AsyncPgConnection,
    job_id: Uuid,
) -> QueryResult<Vec<TipFacts>> {
    use crate::db::schema::{notification_digest_entries as entries, tips};
    let rows: Vec<DigestColumns> = entries::table
        .inner_join(tips::table.on(tips::id.eq(entries::tip_id)))
        .filter(entries::job_id.eq(job_id))
        .order((tips::priority_rank.asc(), tips::submitted_at.asc()))
        .select((
            tips::id,
            tips::reference,
            tips::region_code,
            tips::category,
            tips::priority,
            tips::due_at,
            attachment_count(),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, reference, region_code, category, priority, due_at, attachments)| TipFacts {
                id,
                reference,
                region_code,
                category,
                priority,
                due_at,
                attachments: attachments.unwrap_or(0),
            },
        )
        .collect())
}

pub(super) fn team_name<'a>(teams: &'a [Team], code: &'a str) -> &'a str {
    teams
        .iter()
        .find(|t| t.code == code)
        .map_or(code, |t| t.name.as_str())
}
