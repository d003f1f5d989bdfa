//! Receiving one file: a permit bounds how many files are held and cleaned at once (each may
//! take about twice its size in memory), the file is typed and cleaned off the async threads,
//! and stored sealed as a pending upload. What cannot be cleaned is refused, never stored.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::blob::BlobStore;
use super::clean::{self, CleanLimits, Refusal};
use super::store::{self, NewFile, Owner, StoreError};
use super::{AttachmentInfo, ScanStatus};
use crate::config::AttachmentSettings;
use crate::crypto::Crypto;
use crate::db::DbPool;

/// The node's file intake: limits and the permits that bound memory.
pub struct Receiver {
    permits: Arc<Semaphore>,
    limits: CleanLimits,
    chunk_bytes: usize,
    /// Where the sealed chunks go (and are read back from).
    blobs: BlobStore,
    /// New files wait for the scanner when one is configured.
    initial_status: ScanStatus,
}

/// Held while one file is read, cleaned and stored.
pub struct Permit {
    _held: OwnedSemaphorePermit,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the file was refused: {0}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no database connection: {0}")]
    Unavailable(String),
    #[error("cleaning the file did not finish")]
    Cleaner(#[from] tokio::task::JoinError),
}

impl Receiver {
    pub fn new(settings: &AttachmentSettings, blobs: BlobStore) -> Self {
        Receiver {
            permits: Arc::new(Semaphore::new(settings.concurrent_uploads)),
            limits: CleanLimits {
                max_pixels: settings.max_image_pixels,
                max_unpacked_bytes: settings.max_unpacked_bytes,
                ..CleanLimits::default()
            },
            chunk_bytes: settings.chunk_bytes,
            blobs,
            initial_status: if settings.scanner.address.is_some() {
                ScanStatus::Pending
            } else {
                ScanStatus::Unscanned
            },
        }
    }

    /// Waits for a turn; take it before reading the file's bytes into memory, so requests
    /// beyond the bound wait with their bodies unread (back-pressure, not buffering).
    pub async fn permit(&self) -> Result<Permit, ReceiveError> {
        // The semaphore is never closed; if it were, no upload could proceed.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ReceiveError::Unavailable("uploads are closed".into()))?;
        Ok(Permit { _held: permit })
    }

    /// Where files are stored: needed to read them back.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The limits files are cleaned under (also for previews).
    pub fn limits(&self) -> &CleanLimits {
        &self.limits
    }

    /// Types, cleans and stores `bytes` as a pending upload of `owner`.
    pub async fn accept(
        &self,
        pool: &DbPool,
        crypto: &Crypto,
        bytes: Vec<u8>,
        owner: &Owner,
        _permit: &Permit,
    ) -> Result<AttachmentInfo, ReceiveError> {
        let limits = self.limits.clone();
        let cleaned = tokio::task::spawn_blocking(move || clean::clean_owned(bytes, &limits))
            .await?
            .map_err(ReceiveError::Refused)?;
        let mut conn = pool
            .get()
            .await
            .map_err(|e| ReceiveError::Unavailable(e.to_string()))?;
        let file = NewFile {
            kind: cleaned.kind,
            bytes: &cleaned.bytes,
            width: cleaned.width,
            height: cleaned.height,
            scan_status: self.initial_status,
        };
        let stored = store::insert_pending(
            &mut conn,
            crypto,
            &self.blobs,
            &file,
            owner,
            self.chunk_bytes,
        );
        Ok(stored.await?)
    }
}
