//! Queries on `tip_messages`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::tip_messages;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tip_messages)]
pub struct MessageRow {
    pub id: Uuid,
    pub tip_id: Uuid,
    pub direction: String,
    pub body: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = tip_messages)]
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub tip_id: Uuid,
    pub direction: &'a str,
    pub body: &'a str,
    pub author: Option<&'a str>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    message: &NewMessage<'_>,
) -> QueryResult<MessageRow> {
    diesel::insert_into(tip_messages::table)
        .values(message)
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await
}

/// A tip's messages, oldest first.
pub async fn for_tip(conn: &mut AsyncPgConnection, tip_id: Uuid) -> QueryResult<Vec<MessageRow>> {
    tip_messages::table
        .filter(tip_messages::tip_id.eq(tip_id))
        .order((tip_messages::created_at.asc(), tip_messages::id.asc()))
        .select(MessageRow::as_select())
        .load(conn)
        .await
}

/// Marks the messages in one direction as read now (those not read before).
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    direction: &str,
) -> QueryResult<usize> {
    diesel::update(
        tip_messages::table
            .filter(tip_messages::tip_id.eq(tip_id))
            .filter(tip_messages::direction.eq(direction))
            .filter(tip_messages::read_at.is_null()),
    )
    .set(tip_messages::read_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
}
