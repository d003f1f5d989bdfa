//! Queries on `tips` and `tip_events`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
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

#[derive(Insertable)]
#[diesel(table_name = tips)]
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

/// Inserts a tip, numbering it from the per-year reference sequence in the same statement.
/// Returns the reference and the submission time.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    tip: &NewTip<'_>,
) -> QueryResult<(String, DateTime<Utc>)> {
    diesel::insert_into(tips::table)
        .values((
            tip,
            tips::reference.eq(diesel::dsl::sql::<Text>("next_tip_reference(now())")),
        ))
        .returning((tips::reference, tips::submitted_at))
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
