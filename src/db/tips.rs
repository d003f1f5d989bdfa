//! Queries on `tips` and `tip_events`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{tip_events, tips};

/// A stored tip, without the receipt-code hash and the sealed contact details.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tips)]
pub struct TipRow {
    pub id: Uuid,
    pub reference: String,
    pub channel: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub care_provider: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    pub ongoing: bool,
    pub description: String,
    pub reporter_role: String,
    pub outbreak: Option<String>,
    pub language: String,
    pub anonymous: bool,
    pub status: String,
    pub outcome: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub priority: String,
    pub triage_score: i32,
    pub team: String,
    pub due_at: DateTime<Utc>,
    pub acknowledgement_due_at: Option<DateTime<Utc>>,
    pub feedback_due_at: Option<DateTime<Utc>>,
    pub triage: serde_json::Value,
    pub triage_config_version: String,
    pub cluster_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub version: i32,
}

/// The columns of a new tip (the reference and times come from the database).
pub struct NewTip<'a> {
    pub id: Uuid,
    pub channel: &'a str,
    pub category: &'a str,
    pub care_sector: &'a str,
    pub region_code: &'a str,
    pub municipality_code: Option<&'a str>,
    pub facility_name: Option<&'a str>,
    pub care_provider: Option<&'a str>,
    pub occurred_on: Option<NaiveDate>,
    pub ongoing: bool,
    pub description: &'a str,
    pub reporter_role: &'a str,
    pub outbreak: Option<&'a str>,
    pub language: &'a str,
    pub anonymous: bool,
    pub contact_ciphertext: Option<&'a [u8]>,
    pub contact_key_id: Option<&'a str>,
    pub receipt_code_hash: &'a [u8],
    pub submitted_by_api_key: Option<Uuid>,
    pub submitted_at: DateTime<Utc>,
    pub triage: NewTriage<'a>,
    /// The outbox rows written with the tip (principle 2: in the same statement).
    pub notifications: TipNotifications,
}

/// Which notification jobs a new tip enqueues (decided by `notify::outbox::plan_for_tip`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TipNotifications {
    /// Id of the job telling the team at once (critical and high tips).
    pub urgent_job: Option<Uuid>,
    /// Id of the receipt to an identified reporter who gave an email address.
    pub acknowledgement_job: Option<Uuid>,
    /// Record the tip for its team's next digest (normal and low tips).
    pub digest: bool,
}

/// The triage result columns of a new or re-triaged tip.
pub struct NewTriage<'a> {
    pub priority: &'a str,
    pub priority_rank: i16,
    pub triage_score: i32,
    pub team: &'a str,
    pub due_at: DateTime<Utc>,
    pub acknowledgement_due_at: Option<DateTime<Utc>>,
    pub feedback_due_at: DateTime<Utc>,
    pub hits: serde_json::Value,
    pub config_version: &'a str,
    pub facility_key: Option<&'a str>,
    pub cluster_id: Option<Uuid>,
}

/// Inserts a tip, its `submitted` event and its notification jobs (or digest entry) in one
/// statement, numbering the tip from the per-year reference sequence. One statement is atomic on its own and costs one round trip
/// (it is a prepared statement, cached per connection), which keeps the write path close to
/// raw insert speed; inside a transaction it composes like any other query. Returns the
/// reference and the submission time.
pub async fn insert_submitted(
    conn: &mut AsyncPgConnection,
    tip: &NewTip<'_>,
    actor: &str,
) -> QueryResult<(String, DateTime<Utc>)> {
    InsertSubmitted { tip, actor }.get_result(conn).await
}

/// The statement behind `insert_submitted`. Written as a query type rather than `sql_query`
/// because diesel never caches `sql_query` statements, which would cost a second round trip.
/// Public so a caller can pipeline it with other statements.
pub struct InsertSubmitted<'a> {
    pub tip: &'a NewTip<'a>,
    pub actor: &'a str,
}

impl QueryId for InsertSubmitted<'_> {
    type QueryId = InsertSubmitted<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertSubmitted<'_> {
    type SqlType = (Text, diesel::sql_types::Timestamptz);
}

impl QueryFragment<Pg> for InsertSubmitted<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{
            Bool, Bytea, Date, Integer, Jsonb, Nullable, SmallInt, Timestamptz, Uuid as SqlUuid,
        };
        let tip = self.tip;
        out.push_sql(
            "WITH new_tip AS (INSERT INTO tips (id, reference, channel, category, care_sector, \
             region_code, municipality_code, facility_name, care_provider, occurred_on, ongoing, \
             description, reporter_role, outbreak, language, anonymous, contact_ciphertext, \
             contact_key_id, receipt_code_hash, submitted_by_api_key, submitted_at, priority, \
             priority_rank, triage_score, team, due_at, acknowledgement_due_at, feedback_due_at, \
             triage, triage_config_version, facility_key, cluster_id) VALUES (",
        );
        out.push_bind_param::<SqlUuid, _>(&tip.id)?;
        out.push_sql(", next_tip_reference(now()), ");
        out.push_bind_param::<Text, _>(&tip.channel)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.category)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.care_sector)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.region_code)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&tip.municipality_code)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&tip.facility_name)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&tip.care_provider)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Date>, _>(&tip.occurred_on)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&tip.ongoing)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.description)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.reporter_role)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&tip.outbreak)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&tip.language)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&tip.anonymous)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Bytea>, _>(&tip.contact_ciphertext)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&tip.contact_key_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Bytea, _>(&tip.receipt_code_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&tip.submitted_by_api_key)?;
        let triage = &tip.triage;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&tip.submitted_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&triage.priority)?;
        out.push_sql(", ");
        out.push_bind_param::<SmallInt, _>(&triage.priority_rank)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&triage.triage_score)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&triage.team)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&triage.due_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&triage.acknowledgement_due_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&triage.feedback_due_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&triage.hits)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&triage.config_version)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&triage.facility_key)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&triage.cluster_id)?;
        out.push_sql(
            ") RETURNING id, reference, submitted_at, channel, priority, team), \
             submitted_event AS (INSERT INTO tip_events (tip_id, kind, actor, data) \
             SELECT id, 'submitted', ",
        );
        out.push_bind_param::<Text, _>(&self.actor)?;
        out.push_sql(
            ", jsonb_build_object('channel', channel, 'priority', priority, 'team', team) \
             FROM new_tip), \
             jobs AS (INSERT INTO notification_jobs (id, kind, tip_id, team) \
             SELECT job.id, job.kind, new_tip.id, new_tip.team FROM new_tip \
             CROSS JOIN (VALUES (",
        );
        let notifications = &tip.notifications;
        out.push_bind_param::<Nullable<SqlUuid>, _>(&notifications.urgent_job)?;
        out.push_sql(", 'urgent_tip'), (");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&notifications.acknowledgement_job)?;
        out.push_sql(
            ", 'reporter_ack')) AS job (id, kind) WHERE job.id IS NOT NULL), \
             digest_entry AS (INSERT INTO notification_digest_entries (tip_id, team) \
             SELECT id, team FROM new_tip WHERE ",
        );
        out.push_bind_param::<Bool, _>(&notifications.digest)?;
        out.push_sql(
            ") \
             SELECT reference, submitted_at FROM new_tip",
        );
        Ok(())
    }
}

/// Whether a tip exists (without loading it).
pub async fn exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(tips::table.find(id)))
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TipRow>> {
    tips::table
        .find(id)
        .select(TipRow::as_select())
        .first(conn)
        .await
        .optional()
}

#[derive(Insertable)]
#[diesel(table_name = tip_events)]
pub struct NewTipEvent<'a> {
    pub tip_id: Uuid,
    pub kind: &'a str,
    pub actor: &'a str,
    pub data: serde_json::Value,
}

pub async fn insert_event(
    conn: &mut AsyncPgConnection,
    event: &NewTipEvent<'_>,
) -> QueryResult<()> {
    diesel::insert_into(tip_events::table)
        .values(event)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The tip a receipt-code hash belongs to (id and status), locked for update so a reply and a
/// status change cannot interleave.
pub async fn find_by_receipt_hash_for_update(
    conn: &mut AsyncPgConnection,
    receipt_code_hash: &[u8],
) -> QueryResult<Option<(Uuid, String, String)>> {
    tips::table
        .filter(tips::receipt_code_hash.eq(receipt_code_hash))
        .select((tips::id, tips::reference, tips::status))
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The status of a tip, locked for update.
pub async fn status_for_update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<String>> {
    tips::table
        .find(id)
        .select(tips::status)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, status: &str) -> QueryResult<()> {
    diesel::update(tips::table.find(id))
        .set((
            tips::status.eq(status),
            tips::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tip_events)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub actor: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A tip's history, oldest first.
pub async fn events(conn: &mut AsyncPgConnection, tip_id: Uuid) -> QueryResult<Vec<EventRow>> {
    tip_events::table
        .filter(tip_events::tip_id.eq(tip_id))
        .order(tip_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// The members of a cluster: id, reference, submission time, oldest first.
pub async fn cluster_members(
    conn: &mut AsyncPgConnection,
    cluster_id: Uuid,
) -> QueryResult<Vec<(Uuid, String, DateTime<Utc>)>> {
    tips::table
        .filter(tips::cluster_id.eq(cluster_id))
        .order(tips::submitted_at.asc())
        .select((tips::id, tips::reference, tips::submitted_at))
        .load(conn)
        .await
}

/// The sealed contact details of an identified tip: (key id, ciphertext).
pub async fn sealed_contact(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<(String, Vec<u8>)>> {
    let row: Option<(Option<String>, Option<Vec<u8>>)> = tips::table
        .find(id)
        .select((tips::contact_key_id, tips::contact_ciphertext))
        .first(conn)
        .await
        .optional()?;
    Ok(match row {
        Some((Some(key_id), Some(sealed))) => Some((key_id, sealed)),
        _ => None,
    })
}

/// The id of the tip with this reference (e.g. `T-2026-000123`).
pub async fn id_by_reference(
    conn: &mut AsyncPgConnection,
    reference: &str,
) -> QueryResult<Option<Uuid>> {
    tips::table
        .filter(tips::reference.eq(reference.trim().to_uppercase()))
        .select(tips::id)
        .first(conn)
        .await
        .optional()
}
