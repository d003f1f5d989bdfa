//! The audit log: every read of a tip's detail, every reveal of contact details, every change
//! and export, and account administration — who, what, which tip, when, which request.
//! Append-only in the database, and chained: each row's hash is a keyed MAC over the previous
//! row's hash and this row's fields, so `verify` finds an edited, removed or inserted row.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::crypto::Crypto;
use crate::db::schema::audit_log;

/// The chain's lock: audit rows are numbered and linked one at a time.
pub const CHAIN_LOCK: i64 = 0x7469_7073_6100_0a01;
const GENESIS: [u8; 32] = [0; 32];

/// What happened. Stored as text; new actions only add variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    ViewTip,
    RevealContact,
    ChangeTip,
    MessageTipster,
    RetriageTip,
    Export,
    Login,
    LoginFailed,
    Logout,
    LogoutEverywhere,
    CreateUser,
    ChangeUser,
    CreateApiKey,
    RevokeApiKey,
    RetryNotification,
    DownloadAttachment,
    PreviewAttachment,
    QuarantineAttachment,
    PlaceLegalHold,
    LiftLegalHold,
    DisposeTip,
    RegisterRecordsRequest,
    ChangeRecordsRequest,
    DecideRecordsRequest,
    ReadDisclosureCopy,
    ArchiveExport,
    /// A sign-in through an OpenID provider.
    SsoLogin,
    /// A sign-in changed the person's roles or teams to what the provider's groups map to.
    SsoMappingChanged,
    /// A sign-in through a provider was refused (no role mapped, account disabled, no MFA).
    SsoLoginRefused,
}

impl AuditAction {
    pub const ALL: [AuditAction; 29] = [
        AuditAction::ViewTip,
        AuditAction::RevealContact,
        AuditAction::ChangeTip,
        AuditAction::MessageTipster,
        AuditAction::RetriageTip,
        AuditAction::Export,
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::LogoutEverywhere,
        AuditAction::CreateUser,
        AuditAction::ChangeUser,
        AuditAction::CreateApiKey,
        AuditAction::RevokeApiKey,
        AuditAction::RetryNotification,
        AuditAction::DownloadAttachment,
        AuditAction::PreviewAttachment,
        AuditAction::QuarantineAttachment,
        AuditAction::PlaceLegalHold,
        AuditAction::LiftLegalHold,
        AuditAction::DisposeTip,
        AuditAction::RegisterRecordsRequest,
        AuditAction::ChangeRecordsRequest,
        AuditAction::DecideRecordsRequest,
        AuditAction::ReadDisclosureCopy,
        AuditAction::ArchiveExport,
        AuditAction::SsoLogin,
        AuditAction::SsoMappingChanged,
        AuditAction::SsoLoginRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ViewTip => "view_tip",
            AuditAction::RevealContact => "reveal_contact",
            AuditAction::ChangeTip => "change_tip",
            AuditAction::MessageTipster => "message_tipster",
            AuditAction::RetriageTip => "retriage_tip",
            AuditAction::Export => "export",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::LogoutEverywhere => "logout_everywhere",
            AuditAction::CreateUser => "create_user",
            AuditAction::ChangeUser => "change_user",
            AuditAction::CreateApiKey => "create_api_key",
            AuditAction::RevokeApiKey => "revoke_api_key",
            AuditAction::RetryNotification => "retry_notification",
            AuditAction::DownloadAttachment => "download_attachment",
            AuditAction::PreviewAttachment => "preview_attachment",
            AuditAction::QuarantineAttachment => "quarantine_attachment",
            AuditAction::PlaceLegalHold => "place_legal_hold",
            AuditAction::LiftLegalHold => "lift_legal_hold",
            AuditAction::DisposeTip => "dispose_tip",
            AuditAction::RegisterRecordsRequest => "register_records_request",
            AuditAction::ChangeRecordsRequest => "change_records_request",
            AuditAction::DecideRecordsRequest => "decide_records_request",
            AuditAction::ReadDisclosureCopy => "read_disclosure_copy",
            AuditAction::ArchiveExport => "archive_export",
            AuditAction::SsoLogin => "sso_login",
            AuditAction::SsoMappingChanged => "sso_mapping_changed",
            AuditAction::SsoLoginRefused => "sso_login_refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// `user:<uuid>`, `api_key:<uuid>` or `cli:<command>`.
    pub actor: &'a str,
    pub action: AuditAction,
    pub tip_id: Option<Uuid>,
    /// Reasons, changed fields, filters — never tip text or contact details.
    pub detail: Value,
    pub request_id: Option<&'a str>,
}

/// A stored row.
#[derive(Debug, Clone, Queryable)]
pub struct Row {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub tip_id: Option<Uuid>,
    pub detail: String,
    pub request_id: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn row_hash(
    crypto: &Crypto,
    prev_hash: &[u8],
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    tip_id: Option<Uuid>,
    detail: &str,
    request_id: Option<&str>,
) -> Vec<u8> {
    let tip = tip_id.map(|id| id.to_string()).unwrap_or_default();
    crypto.keyed_hash(
        "audit chain v1",
        &[
            prev_hash,
            &seq.to_be_bytes(),
            &at.timestamp_micros().to_be_bytes(),
            actor.as_bytes(),
            action.as_bytes(),
            tip.as_bytes(),
            detail.as_bytes(),
            request_id.unwrap_or_default().as_bytes(),
        ],
    )
}

/// Appends an entry. Runs in the caller's transaction when there is one (so a change and its
/// audit row commit together), in its own otherwise.
pub async fn record(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    entry: &Entry<'_>,
) -> Result<i64, diesel::result::Error> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK})"))
            .execute(conn)
            .await?;
        let last: Option<(i64, Vec<u8>)> = audit_log::table
            .select((audit_log::seq, audit_log::hash))
            .order(audit_log::seq.desc())
            .first(conn)
            .await
            .optional()?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_vec()),
        };
        // PostgreSQL keeps microseconds; hash exactly what is stored.
        let at = Utc::now().trunc_subsecs(6);
        let detail = entry.detail.to_string();
        let action = entry.action.as_str();
        let hash = row_hash(
            crypto,
            &prev_hash,
            seq,
            at,
            entry.actor,
            action,
            entry.tip_id,
            &detail,
            entry.request_id,
        );
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::seq.eq(seq),
                audit_log::at.eq(at),
                audit_log::actor.eq(entry.actor),
                audit_log::action.eq(action),
                audit_log::tip_id.eq(entry.tip_id),
                audit_log::detail.eq(&detail),
                audit_log::request_id.eq(entry.request_id),
                audit_log::prev_hash.eq(&prev_hash),
                audit_log::hash.eq(&hash),
            ))
            .execute(conn)
            .await?;
        Ok(seq)
    })
    .await
}

/// Rows one multi-row INSERT carries: 9 parameters each, under PostgreSQL's 65 535.
const ROWS_PER_INSERT: usize = 5000;

/// Appends several entries, in order, under one take of the chain's lock: one read of the
/// chain's end and one INSERT per 5 000 rows instead of two statements per row (a disposal
/// batch writes one row per tip). The same chain as `record`; in the caller's transaction.
pub async fn record_many(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    entries: &[Entry<'_>],
) -> Result<(), diesel::result::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK})"))
            .execute(conn)
            .await?;
        let last: Option<(i64, Vec<u8>)> = audit_log::table
            .select((audit_log::seq, audit_log::hash))
            .order(audit_log::seq.desc())
            .first(conn)
            .await
            .optional()?;
        let (mut seq, mut prev_hash) = match last {
            Some((seq, hash)) => (seq, hash),
            None => (0, GENESIS.to_vec()),
        };
        let at = Utc::now().trunc_subsecs(6);
        let mut rows = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let detail = entry.detail.to_string();
            let action = entry.action.as_str();
            let hash = row_hash(
                crypto,
                &prev_hash,
                seq,
                at,
                entry.actor,
                action,
                entry.tip_id,
                &detail,
                entry.request_id,
            );
            rows.push((
                audit_log::seq.eq(seq),
                audit_log::at.eq(at),
                audit_log::actor.eq(entry.actor),
                audit_log::action.eq(action),
                audit_log::tip_id.eq(entry.tip_id),
                audit_log::detail.eq(detail),
                audit_log::request_id.eq(entry.request_id),
                audit_log::prev_hash.eq(prev_hash),
                audit_log::hash.eq(hash.clone()),
            ));
            prev_hash = hash;
        }
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        rows: i64,
    },
    /// The first row whose hash or link does not hold, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}

/// Walks the whole chain in order, in batches.
pub async fn verify(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
) -> Result<Verification, diesel::result::Error> {
    let mut expected_prev = GENESIS.to_vec();
    let mut expected_seq = 1;
    loop {
        let batch: Vec<Row> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq)
            .limit(5000)
            .load(conn)
            .await?;
        if batch.is_empty() {
            return Ok(Verification::Intact {
                rows: expected_seq - 1,
            });
        }
        for row in batch {
            let broken = |reason: &str| {
                Ok(Verification::Broken {
                    seq: row.seq,
                    reason: reason.to_owned(),
                })
            };
            if row.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: "row missing".to_owned(),
                });
            }
            if row.prev_hash != expected_prev {
                return broken("does not link to the previous row");
            }
            let recomputed = row_hash(
                crypto,
                &row.prev_hash,
                row.seq,
                row.at,
                &row.actor,
                &row.action,
                row.tip_id,
                &row.detail,
                row.request_id.as_deref(),
            );
            if recomputed != row.hash {
                return broken("contents do not match the hash");
            }
            expected_prev = row.hash;
            expected_seq += 1;
        }
    }
}

/// Filters for browsing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub tip_id: Option<Uuid>,
    /// Rows before this sequence number (pagination, newest first).
    pub before_seq: Option<i64>,
}

/// Newest first, at most `limit` rows.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Row>, diesel::result::Error> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action.as_str()));
    }
    if let Some(tip_id) = filter.tip_id {
        query = query.filter(audit_log::tip_id.eq(tip_id));
    }
    if let Some(before) = filter.before_seq {
        query = query.filter(audit_log::seq.lt(before));
    }
    query
        .order(audit_log::seq.desc())
        .limit(limit)
        .load(conn)
        .await
}
