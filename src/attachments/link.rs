//! Making pending uploads part of a stored tip or reply, inside the transaction that stores it:
//! the files are checked (theirs to reference, within the per-tip limits) and numbered, so the
//! tip and its files are committed together or not at all.

use diesel::dsl::max;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::attachments;
use crate::domain::FieldError;

/// Which pending uploads go with the tip or reply.
pub enum Selection<'a> {
    /// Uploads named by id, all sent by this API key (the API).
    Ids { ids: &'a [Uuid], api_key: Uuid },
    /// Every pending upload of a web form's draft (the form, the follow-up reply).
    Draft(&'a [u8]),
}

/// The limits one tip (or one reply) is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_files: usize,
    pub max_bytes: u64,
}

impl Limits {
    /// The configured per-tip (and per-reply) limits.
    pub fn of(settings: &crate::config::AttachmentSettings) -> Self {
        Limits {
            max_files: settings.max_files_per_tip,
            max_bytes: settings.max_tip_bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("attaching files failed")]
    Database(#[from] diesel::result::Error),
    #[error("the attachments cannot be used")]
    Rejected(Vec<FieldError>),
}

/// Attaches the selected pending uploads to `tip_id` (and `message_id` for a reply), numbered
/// after the tip's existing files. Returns how many were attached.
pub async fn attach(
    conn: &mut AsyncPgConnection,
    tip_id: Uuid,
    message_id: Option<Uuid>,
    selection: &Selection<'_>,
    limits: Limits,
) -> Result<usize, LinkError> {
    let chosen = pending_rows(conn, selection).await?;
    let ordered = match selection {
        Selection::Ids { ids, .. } => order_as_requested(ids, &chosen)?,
        Selection::Draft(_) => chosen,
    };
    check_limits(&ordered, limits)?;
    if ordered.is_empty() {
        return Ok(0);
    }
    let after: Option<i32> = attachments::table
        .filter(attachments::tip_id.eq(tip_id))
        .select(max(attachments::position))
        .first(conn)
        .await?;
    let first = after.unwrap_or(0) + 1;
    for (offset, (id, _)) in ordered.iter().enumerate() {
        let position = first + i32::try_from(offset).unwrap_or(i32::MAX - first);
        diesel::update(attachments::table.find(id))
            .set((
                attachments::tip_id.eq(tip_id),
                attachments::message_id.eq(message_id),
                attachments::position.eq(position),
                attachments::attached_at.eq(diesel::dsl::now),
                // The owner is no longer needed: keep no link between a draft and its tip.
                attachments::draft_hash.eq(None::<Vec<u8>>),
            ))
            .execute(conn)
            .await?;
    }
    Ok(ordered.len())
}

/// The selected pending uploads (id, size), locked for this transaction.
async fn pending_rows(
    conn: &mut AsyncPgConnection,
    selection: &Selection<'_>,
) -> QueryResult<Vec<(Uuid, i64)>> {
    let pending = attachments::table
        .filter(attachments::tip_id.is_null())
        .select((attachments::id, attachments::size_bytes))
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .for_update();
    match selection {
        Selection::Ids { ids, api_key } => {
            pending
                .filter(attachments::id.eq_any(*ids))
                .filter(attachments::uploaded_by_api_key.eq(api_key))
                .load(conn)
                .await
        }
        Selection::Draft(hash) => {
            pending
                .filter(attachments::draft_hash.eq(*hash))
                .load(conn)
                .await
        }
    }
}

/// The rows in the order the caller named them; every id must be a pending upload of theirs,
/// named once.
fn order_as_requested(ids: &[Uuid], found: &[(Uuid, i64)]) -> Result<Vec<(Uuid, i64)>, LinkError> {
    let mut errors = Vec::new();
    let mut ordered = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let field = format!("attachments[{index}]");
        if ids[..index].contains(id) {
            errors.push(FieldError::new(
                field,
                "duplicate_attachment",
                "this attachment is listed twice",
            ));
        } else if let Some(row) = found.iter().find(|(found_id, _)| found_id == id) {
            ordered.push(*row);
        } else {
            errors.push(FieldError::new(
                field,
                "unknown_attachment",
                "no pending upload with this id was sent with this API key (uploads expire, and each can be used once)",
            ));
        }
    }
    if errors.is_empty() {
        Ok(ordered)
    } else {
        Err(LinkError::Rejected(errors))
    }
}

fn check_limits(rows: &[(Uuid, i64)], limits: Limits) -> Result<(), LinkError> {
    if rows.len() > limits.max_files {
        return Err(LinkError::Rejected(vec![FieldError::new(
            "attachments",
            "too_many_files",
            format!("at most {} files may be attached", limits.max_files),
        )]));
    }
    let total: u64 = rows
        .iter()
        .map(|(_, size)| u64::try_from(*size).unwrap_or(0))
        .sum();
    if total > limits.max_bytes {
        return Err(LinkError::Rejected(vec![FieldError::new(
            "attachments",
            "attachments_too_large",
            format!(
                "the files add up to more than the limit of {} MB",
                limits.max_bytes / 1_000_000
            ),
        )]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_order_and_unknown_or_repeated_ones_are_named() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let found = [(a, 10), (b, 20)];
        let ordered = order_as_requested(&[b, a], &found).unwrap();
        assert_eq!(ordered, vec![(b, 20), (a, 10)]);
        let Err(LinkError::Rejected(errors)) = order_as_requested(&[a, c, a], &found) else {
            panic!("expected field errors");
        };
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("attachments[1]", "unknown_attachment"),
                ("attachments[2]", "duplicate_attachment")
            ]
        );
    }

    #[test]
    fn limits_count_files_and_bytes() {
        let limits = Limits {
            max_files: 2,
            max_bytes: 25,
        };
        let id = Uuid::now_v7;
        assert!(check_limits(&[(id(), 10), (id(), 15)], limits).is_ok());
        assert!(matches!(
            check_limits(&[(id(), 1), (id(), 1), (id(), 1)], limits),
            Err(LinkError::Rejected(e)) if e[0].code == "too_many_files"
        ));
        assert!(matches!(
            check_limits(&[(id(), 20), (id(), 6)], limits),
            Err(LinkError::Rejected(e)) if e[0].code == "attachments_too_large"
        ));
    }
}
