//! The attachment housekeeping that runs beside the notification worker: every file waiting
//! for the virus scanner is scanned (claimed with a lease, so any number of workers can run,
//! and retried while the scanner is down — never released unscanned), uploads that never
//! became part of a tip are removed, and the objects of deleted files in a bucket (queued in
//! `attachment_object_deletions` by the database) are deleted.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::watch;

use super::blob::BlobStore;
use super::scan::{Clamd, ScanError, ScannerAddress, Verdict};
use super::store::{self, StoreError};
use super::{AttachmentInfo, ScanStatus};
use crate::audit::{self, AuditAction};
use crate::config::AttachmentSettings;
use crate::crypto::Crypto;
use crate::db::DbPool;
use crate::db::schema::{attachment_object_deletions, attachments};

/// How long a claimed scan is reserved for its worker.
const SCAN_LEASE_SECONDS: i64 = 300;
/// Who the audit log names for the scanner's verdicts.
const SCANNER_ACTOR: &str = "system:virus_scanner";
/// Deleted files whose objects one round deletes at most.
const OBJECT_DELETIONS_PER_ROUND: i64 = 50;

pub struct Housekeeper {
    pool: DbPool,
    crypto: Arc<Crypto>,
    scanner: Option<Clamd>,
    blobs: BlobStore,
    settings: AttachmentSettings,
}

/// A running housekeeper.
pub struct HousekeeperHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl HousekeeperHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(error = %error, "the attachment housekeeper panicked");
        }
    }
}

/// What one scanning round did (counts only).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanRound {
    pub clean: usize,
    pub infected: usize,
    pub failed: usize,
}

impl Housekeeper {
    pub fn new(
        pool: DbPool,
        crypto: Arc<Crypto>,
        settings: &AttachmentSettings,
    ) -> anyhow::Result<Self> {
        let scanner = match &settings.scanner.address {
            Some(address) => {
                let address: ScannerAddress = address
                    .parse()
                    .map_err(|e| anyhow::anyhow!("attachments.scanner.address: {e}"))?;
                Some(Clamd::new(
                    address,
                    Duration::from_secs(settings.scanner.timeout_seconds),
                ))
            }
            None => None,
        };
        let blobs = BlobStore::from_settings(&settings.storage)
            .context("opening the attachment storage")?;
        Ok(Housekeeper {
            pool,
            crypto,
            scanner,
            blobs,
            settings: settings.clone(),
        })
    }

    pub fn spawn(self) -> HousekeeperHandle {
        let (stop, mut stopped) = watch::channel(false);
        let every = Duration::from_secs(self.settings.scanner.interval_seconds);
        let task = tokio::spawn(async move {
            loop {
                if let Err(error) = self.round().await {
                    tracing::warn!(error = %format!("{error:#}"), "attachment housekeeping failed; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        HousekeeperHandle { stop, task }
    }

    /// One pass: remove abandoned uploads, delete queued objects, scan what waits.
    pub async fn round(&self) -> anyhow::Result<ScanRound> {
        let mut conn = self.pool.get().await.context("getting a connection")?;
        let removed = remove_abandoned(&mut conn, self.settings.pending_hours).await?;
        if removed > 0 {
            tracing::info!(removed, "removed abandoned uploads");
        }
        drop(conn);
        self.delete_queued_objects()
            .await
            .context("deleting the objects of deleted files")?;
        let mut round = ScanRound::default();
        if let Some(scanner) = &self.scanner {
            while let Some(info) = self.claim_next().await? {
                match self.scan(scanner, &info).await {
                    Ok(Verdict::Clean) => {
                        self.record_verdict(&info, ScanStatus::Clean, None).await?;
                        round.clean += 1;
                        crate::monitoring::attachment_scanned("clean");
                    }
                    Ok(Verdict::Infected { signature }) => {
                        self.record_verdict(&info, ScanStatus::Infected, Some(&signature))
                            .await?;
                        round.infected += 1;
                        crate::monitoring::attachment_scanned("infected");
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, attachment = %info.id, "scanning an attachment failed; it stays closed and is tried again");
                        self.postpone(&info).await?;
                        round.failed += 1;
                        crate::monitoring::attachment_scanned("error");
                        // The scanner is likely down: leave the rest for the next round.
                        break;
                    }
                }
            }
        }
        if round != ScanRound::default() {
            tracing::info!(
                clean = round.clean,
                infected = round.infected,
                failed = round.failed,
                "scanned attachments"
            );
        }
        Ok(round)
    }

    /// Deletes the objects of up to a batch of deleted files, and their queue rows once done;
    /// a failed deletion stays queued for the next round. Returns (deleted, failed).
    pub async fn delete_queued_objects(&self) -> anyhow::Result<(usize, usize)> {
        let mut conn = self.pool.get().await.context("getting a connection")?;
        if !self.blobs.has_bucket() {
            let waiting: i64 = attachment_object_deletions::table
                .count()
                .get_result(&mut conn)
                .await?;
            if waiting > 0 {
                tracing::warn!(
                    waiting,
                    "deleted files' objects wait for deletion, but attachments.storage.s3 has no bucket"
                );
            }
            return Ok((0, 0));
        }
        let blobs = &self.blobs;
        let (deleted, failed) = conn
            .transaction::<_, anyhow::Error, _>(async |conn| {
                let queued: Vec<(uuid::Uuid, i32)> = attachment_object_deletions::table
                    .order(attachment_object_deletions::queued_at.asc())
                    .select((
                        attachment_object_deletions::attachment_id,
                        attachment_object_deletions::chunk_count,
                    ))
                    .limit(OBJECT_DELETIONS_PER_ROUND)
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                let mut done = Vec::with_capacity(queued.len());
                let mut failed = 0;
                for (id, chunk_count) in queued {
                    match blobs.delete_file(id, chunk_count).await {
                        Ok(()) => done.push(id),
                        Err(_) => failed += 1,
                    }
                }
                diesel::delete(
                    attachment_object_deletions::table
                        .filter(attachment_object_deletions::attachment_id.eq_any(&done)),
                )
                .execute(conn)
                .await?;
                Ok((done.len(), failed))
            })
            .await?;
        if deleted > 0 || failed > 0 {
            tracing::info!(
                deleted,
                failed,
                "deleted the objects of deleted attachments"
            );
        }
        Ok((deleted, failed))
    }

    /// Claims the next file due for scanning by moving its next attempt past a lease.
    async fn claim_next(&self) -> anyhow::Result<Option<AttachmentInfo>> {
        let mut conn = self.pool.get().await.context("getting a connection")?;
        let claimed = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let id: Option<uuid::Uuid> = attachments::table
                    .filter(attachments::scan_status.eq(ScanStatus::Pending.as_str()))
                    .filter(attachments::next_scan_at.le(diesel::dsl::now))
                    .order(attachments::next_scan_at.asc())
                    .select(attachments::id)
                    .for_update()
                    .skip_locked()
                    .first(conn)
                    .await
                    .optional()?;
                let Some(id) = id else { return Ok(None) };
                diesel::update(attachments::table.find(id))
                    .set((
                        attachments::next_scan_at
                            .eq(Utc::now() + chrono::Duration::seconds(SCAN_LEASE_SECONDS)),
                        attachments::scan_attempts.eq(attachments::scan_attempts + 1),
                    ))
                    .execute(conn)
                    .await?;
                Ok(Some(id))
            })
            .await?;
        let Some(id) = claimed else { return Ok(None) };
        Ok(store::find(&mut conn, id).await?)
    }

    /// Streams the file's chunks to the scanner, one chunk in memory at a time.
    async fn scan(&self, scanner: &Clamd, info: &AttachmentInfo) -> Result<Verdict, ScanError> {
        let pool = self.pool.clone();
        let crypto = self.crypto.clone();
        let blobs = self.blobs.clone();
        let info = info.clone();
        let chunks = futures_util::stream::iter(0..info.chunk_count)
            .then(move |seq| {
                let (pool, crypto, info) = (pool.clone(), crypto.clone(), info.clone());
                let blobs = blobs.clone();
                async move {
                    let mut conn = pool
                        .get()
                        .await
                        .map_err(|e| ScanError::Unavailable(format!("database: {e}")))?;
                    store::read_chunk(&mut conn, &crypto, &blobs, &info, seq)
                        .await
                        .map_err(|e: StoreError| ScanError::Unavailable(e.to_string()))
                }
            })
            .boxed();
        scanner.scan_chunks(chunks).await
    }

    async fn record_verdict(
        &self,
        info: &AttachmentInfo,
        status: ScanStatus,
        signature: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("getting a connection")?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::update(attachments::table.find(info.id))
                .set((
                    attachments::scan_status.eq(status.as_str()),
                    attachments::scan_signature.eq(signature),
                    attachments::scanned_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            if status == ScanStatus::Infected {
                // Flagged on the tip and in the audit log; the file is never served.
                audit::record(
                    conn,
                    &self.crypto,
                    &audit::Entry {
                        actor: SCANNER_ACTOR,
                        action: AuditAction::QuarantineAttachment,
                        tip_id: info.tip_id,
                        detail: json!({ "attachment": info.id, "signature": signature }),
                        request_id: None,
                    },
                )
                .await?;
            }
            Ok(())
        })
        .await
        .context("recording a scan verdict")
    }

    async fn postpone(&self, info: &AttachmentInfo) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("getting a connection")?;
        let retry = i64::try_from(self.settings.scanner.retry_seconds).unwrap_or(i64::MAX);
        diesel::update(attachments::table.find(info.id))
            .set(
                attachments::next_scan_at
                    .eq(Utc::now() + chrono::Duration::seconds(retry.min(86_400))),
            )
            .execute(&mut conn)
            .await
            .context("postponing a scan")?;
        Ok(())
    }
}

/// Deletes uploads that stayed pending longer than `pending_hours` (their chunks go with them).
pub async fn remove_abandoned(
    conn: &mut AsyncPgConnection,
    pending_hours: u32,
) -> QueryResult<usize> {
    let cutoff = Utc::now() - chrono::Duration::hours(i64::from(pending_hours));
    diesel::delete(
        attachments::table
            .filter(attachments::tip_id.is_null())
            .filter(attachments::created_at.lt(cutoff)),
    )
    .execute(conn)
    .await
}
