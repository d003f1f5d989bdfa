//! The conversation between the inspectorate and a tipster: questions to the tipster, the
//! tipster's replies, and what the tipster may see (coarse status and messages). Shared by the
//! REST API and the follow-up pages. Call these inside a transaction.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::crypto::Crypto;
use crate::db;
use crate::domain::{FieldError, ReceiptCode, ReporterStatus, TipStatus};

pub const MESSAGE_MAX_CHARS: usize = 5000;

/// A message text: trimmed, 1 to 5 000 characters with at least one visible, no NUL.
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(field: &str, text: Option<&str>) -> Result<Self, FieldError> {
        let text = text.map(str::trim).unwrap_or_default();
        // Zero-width and other invisible characters alone are no message either.
        if crate::domain::text::is_blank(text) {
            return Err(FieldError::new(field, "required", "is required"));
        }
        if text.chars().count() > MESSAGE_MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("must be at most {MESSAGE_MAX_CHARS} characters"),
            ));
        }
        if text.contains('\0') {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "must not contain NUL characters",
            ));
        }
        Ok(MessageBody(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("no such tip")]
    NotFound,
    #[error("the tip is closed")]
    Closed,
    /// Disposed of under the records rules: no more messages either way.
    #[error("the tip has been disposed of")]
    Disposed,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// One message as the tipster sees it: no author, no internal ids.
pub struct ReporterMessage {
    /// True for questions from the inspectorate, false for the tipster's own replies.
    pub from_inspectorate: bool,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Everything the tipster may see about their tip.
pub struct ReporterView {
    pub tip_id: Uuid,
    pub reference: String,
    pub status: ReporterStatus,
    pub messages: Vec<ReporterMessage>,
}

/// The tip a receipt code opens, if any.
pub async fn tip_for_receipt_code(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    code: &ReceiptCode,
) -> Result<Option<Uuid>, diesel::result::Error> {
    let hash = crypto.receipt_code_hash(code);
    Ok(db::tips::find_by_receipt_hash_for_update(conn, &hash)
        .await?
        .map(|(id, _, _)| id))
}

/// The tipster's view of a tip; marks the inspectorate's messages as read.
pub async fn reporter_view(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> Result<ReporterView, ConversationError> {
    let tip = db::tips::find(conn, tip_id)
        .await?
        .ok_or(ConversationError::NotFound)?;
    let status = TipStatus::parse(&tip.status).ok_or(ConversationError::NotFound)?;
    db::messages::mark_read(conn, tip_id, "to_reporter").await?;
    let messages = db::messages::for_tip(conn, tip_id)
        .await?
        .into_iter()
        .map(|m| ReporterMessage {
            from_inspectorate: m.direction == "to_reporter",
            body: m.body,
            created_at: m.created_at,
        })
        .collect();
    Ok(ReporterView {
        tip_id,
        reference: tip.reference,
        status: status.for_reporter(),
        messages,
    })
}

/// The inspectorate asks the tipster a question; the tip then awaits the tipster.
pub async fn ask_reporter(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    actor: &str,
    body: &MessageBody,
) -> Result<db::messages::MessageRow, ConversationError> {
    let current = current_status(conn, tip_id).await?;
    let next = current.after_question().ok_or(ConversationError::Closed)?;
    let message = db::messages::insert(
        conn,
        &db::messages::NewMessage {
            id: Uuid::now_v7(),
            tip_id,
            direction: "to_reporter",
            body: body.as_str(),
            author: Some(actor),
        },
    )
    .await?;
    change_status(
        conn,
        tip_id,
        actor,
        "question_asked",
        current,
        next,
        message.id,
    )
    .await?;
    Ok(message)
}

/// The tipster answers; an awaited answer puts the tip back in review. The notification to the
/// inspectorate is enqueued in the same transaction.
pub async fn reply_from_reporter(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    body: &MessageBody,
) -> Result<db::messages::MessageRow, ConversationError> {
    let current = current_status(conn, tip_id).await?;
    let next = current.after_reply().ok_or(ConversationError::Closed)?;
    let message = db::messages::insert(
        conn,
        &db::messages::NewMessage {
            id: Uuid::now_v7(),
            tip_id,
            direction: "from_reporter",
            body: body.as_str(),
            author: None,
        },
    )
    .await?;
    change_status(
        conn,
        tip_id,
        "reporter",
        "reporter_replied",
        current,
        next,
        message.id,
    )
    .await?;
    crate::notify::outbox::enqueue_reply(conn, tip_id).await?;
    Ok(message)
}

async fn current_status(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
) -> Result<TipStatus, ConversationError> {
    let status = db::tips::status_for_update(conn, tip_id)
        .await?
        .ok_or(ConversationError::NotFound)?;
    if crate::workflow::is_disposed(conn, tip_id).await? {
        return Err(ConversationError::Disposed);
    }
    TipStatus::parse(&status).ok_or(ConversationError::NotFound)
}

async fn change_status(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    actor: &str,
    kind: &str,
    before: TipStatus,
    after: TipStatus,
    message_id: Uuid,
) -> Result<(), diesel::result::Error> {
    if before != after {
        db::tips::set_status(conn, tip_id, after.as_str()).await?;
    }
    db::tips::insert_event(
        conn,
        &db::tips::NewTipEvent {
            tip_id,
            kind,
            actor,
            data: serde_json::json!({
                "message_id": message_id,
                "status": { "before": before.as_str(), "after": after.as_str() },
            }),
        },
    )
    .await
}
