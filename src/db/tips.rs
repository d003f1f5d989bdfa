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
}

/// Inserts a tip and its `submitted` event in one statement, numbering the tip from the
/// per-year reference sequence. One statement is atomic on its own and costs one round trip
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
struct InsertSubmitted<'a> {
    tip: &'a NewTip<'a>,
    actor: &'a str,
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
        use diesel::sql_types::{Bool, Bytea, Date, Nullable, Uuid as SqlUuid};
        let tip = self.tip;
        out.push_sql(
            "WITH new_tip AS (INSERT INTO tips (id, reference, channel, category, care_sector, \
             region_code, municipality_code, facility_name, care_provider, occurred_on, ongoing, \
             description, reporter_role, outbreak, language, anonymous, contact_ciphertext, \
             contact_key_id, receipt_code_hash, submitted_by_api_key) VALUES (",
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
        out.push_sql(
            ") RETURNING id, reference, submitted_at, channel), \
             submitted_event AS (INSERT INTO tip_events (tip_id, kind, actor, data) \
             SELECT id, 'submitted', ",
        );
        out.push_bind_param::<Text, _>(&self.actor)?;
        out.push_sql(
            ", jsonb_build_object('channel', channel) FROM new_tip) \
             SELECT reference, submitted_at FROM new_tip",
        );
        Ok(())
    }
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
