//! The attachment settings (`[attachments]`: limits, the virus scanner, where sealed chunks
//! are stored) and their invariants.

use anyhow::bail;
use secrecy::SecretString;
use serde::Deserialize;

use super::SecretSettings;

/// Files sent with tips and replies (`attachments`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// The largest file accepted, in bytes (as uploaded, before cleaning).
    pub max_file_bytes: u64,
    /// The most files one tip (or one reply) may carry.
    pub max_files_per_tip: usize,
    /// The most bytes all of one tip's files may add up to.
    pub max_tip_bytes: u64,
    /// Files read, cleaned and stored at the same time per node; each holds at most about
    /// twice its size in memory, so this bounds the memory uploads can take.
    pub concurrent_uploads: usize,
    /// Plaintext bytes per sealed chunk in storage.
    pub chunk_bytes: usize,
    /// A pending upload (not yet part of a stored tip or reply) is removed after this long.
    pub pending_hours: u32,
    /// Pictures larger than this many pixels are refused (decompression bombs).
    pub max_image_pixels: u64,
    /// Office files that unpack to more than this are refused (zip bombs).
    pub max_unpacked_bytes: u64,
    /// The longer side of an image preview on the tip page.
    pub preview_max_side: u32,
    pub scanner: ScannerSettings,
    /// Where sealed chunks are written (reads follow each file's own row).
    #[serde(default)]
    pub storage: StorageSettings,
}

/// `attachments.storage`: PostgreSQL (the embedded default) or S3-compatible object storage.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Where new files' chunks go.
    #[serde(default)]
    pub kind: StorageKind,
    #[serde(default)]
    pub s3: S3Settings,
}

/// Where a file's sealed chunks are stored.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Rows of `attachment_chunks`: no extra service.
    #[default]
    Postgres,
    /// One object per chunk in `attachments.storage.s3`.
    S3,
}

impl StorageKind {
    /// The value of `attachments.storage`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Postgres => "postgres",
            StorageKind::S3 => "s3",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "postgres" => Some(StorageKind::Postgres),
            "s3" => Some(StorageKind::S3),
            _ => None,
        }
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, …). Also read when `kind` is `postgres` but a
/// bucket is set, so files written there earlier still open and are still deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: Option<String>,
    /// The service's URL (MinIO, Ceph, …); unset: AWS for `region`. Path-style requests.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Unset: the AWS defaults (environment, instance metadata).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Allow plain-HTTP endpoints (local test servers only).
    #[serde(default)]
    pub allow_http: bool,
    /// Object names are `{prefix}{attachment_id}/{seq}`.
    #[serde(default = "default_s3_prefix")]
    pub prefix: String,
}

fn default_s3_prefix() -> String {
    "attachments/".to_owned()
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            bucket: None,
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            prefix: default_s3_prefix(),
        }
    }
}

/// The virus scanner (ClamAV's clamd). Without an address files are stored as `unscanned`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerSettings {
    /// `tcp:HOST:PORT` or `unix:/path/to/clamd.ctl`; unset: no scanning.
    pub address: Option<String>,
    /// The longest one scan may take.
    pub timeout_seconds: u64,
    /// Waiting time before a file whose scan failed (scanner down) is tried again.
    pub retry_seconds: u64,
    /// How often the worker looks for files to scan and pending uploads to remove.
    pub interval_seconds: u64,
}

impl AttachmentSettings {
    /// Invariants of the attachment settings (and of the attachment keys they use).
    pub(super) fn check(&self, secrets: &SecretSettings) -> anyhow::Result<()> {
        let a = self;
        if a.max_file_bytes == 0 || a.max_files_per_tip == 0 || a.max_tip_bytes < a.max_file_bytes {
            bail!(
                "attachments: max_file_bytes and max_files_per_tip must be at least 1, and max_tip_bytes at least max_file_bytes"
            );
        }
        if a.concurrent_uploads == 0 {
            bail!("attachments.concurrent_uploads must be at least 1");
        }
        if !(64 * 1024..=16 * 1024 * 1024).contains(&a.chunk_bytes) {
            bail!("attachments.chunk_bytes must be 64 KiB to 16 MiB");
        }
        if a.pending_hours == 0 || a.scanner.interval_seconds == 0 || a.scanner.timeout_seconds == 0
        {
            bail!(
                "attachments.pending_hours, scanner.interval_seconds and scanner.timeout_seconds must be at least 1"
            );
        }
        if let Some(address) = &a.scanner.address
            && address
                .parse::<crate::attachments::scan::ScannerAddress>()
                .is_err()
        {
            bail!("attachments.scanner.address {address:?} must be tcp:HOST:PORT or unix:/path");
        }
        if let Some(active) = &secrets.active_attachment_key
            && !secrets.attachment_keys.contains_key(active)
        {
            bail!("secrets.active_attachment_key {active:?} is not among secrets.attachment_keys");
        }
        self.check_storage()
    }

    fn check_storage(&self) -> anyhow::Result<()> {
        let storage = &self.storage;
        let s3 = &storage.s3;
        let blank = |value: &Option<String>| value.as_deref().is_none_or(|v| v.trim().is_empty());
        if storage.kind == StorageKind::S3 && blank(&s3.bucket) {
            bail!("attachments.storage.kind = \"s3\" needs attachments.storage.s3.bucket");
        }
        if !blank(&s3.bucket) && blank(&s3.region) {
            bail!("attachments.storage.s3 needs region (any name, e.g. \"us-east-1\", for MinIO)");
        }
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            bail!(
                "attachments.storage.s3: set both access_key_id and secret_access_key, or neither"
            );
        }
        if let Some(endpoint) = &s3.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            bail!("attachments.storage.s3.endpoint must be an http:// or https:// URL");
        }
        let prefix_ok = s3.prefix.is_empty()
            || (s3.prefix.ends_with('/')
                && !s3.prefix.starts_with('/')
                && !s3.prefix.contains("//")
                && object_store::path::Path::parse(&s3.prefix).is_ok());
        if !prefix_ok {
            bail!(
                "attachments.storage.s3.prefix {:?} must be empty or end in / (like \"attachments/\")",
                s3.prefix
            );
        }
        Ok(())
    }
}
