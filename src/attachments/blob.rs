//! Object storage for sealed chunks (`attachments.storage.kind = "s3"`): every chunk, sealed
//! exactly as it would be in `attachment_chunks`, is the object `{prefix}{attachment_id}/{seq}`
//! in an S3-compatible bucket. PostgreSQL keeps the file's row, which says where its chunks are.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{StorageKind, StorageSettings};

/// Attempts of one request to the bucket before it fails (the upload or download fails with
/// it; the housekeeper's deletions are retried in its next round).
const MAX_RETRIES: usize = 3;
/// How long one request may keep retrying.
const RETRY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where new chunks go, and the bucket (when one is configured) for reading and deleting.
#[derive(Debug, Clone)]
pub struct BlobStore {
    writes_to: StorageKind,
    bucket: Option<Bucket>,
}

#[derive(Debug, Clone)]
struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The request failed; the error is not shown, as it names the bucket's objects.
    #[error("the object storage request failed")]
    Request(#[from] object_store::Error),
    #[error("the file is in object storage, but attachments.storage.s3 has no bucket")]
    NotConfigured,
}

impl BlobStore {
    /// PostgreSQL only (the embedded default).
    pub fn postgres() -> Self {
        BlobStore {
            writes_to: StorageKind::Postgres,
            bucket: None,
        }
    }

    /// From `attachments.storage`: the bucket is opened whenever one is named, so files
    /// written there stay readable after `kind` went back to `postgres`. Nothing is contacted
    /// here; a wrong endpoint or credential shows at the first upload.
    pub fn from_settings(settings: &StorageSettings) -> anyhow::Result<Self> {
        let s3 = &settings.s3;
        let bucket = match s3.bucket.as_deref().filter(|b| !b.trim().is_empty()) {
            None => None,
            Some(name) => {
                // The AWS_* environment fills in what the settings leave unset (credentials).
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(name)
                    .with_allow_http(s3.allow_http)
                    .with_retry(RetryConfig {
                        max_retries: MAX_RETRIES,
                        retry_timeout: RETRY_TIMEOUT,
                        ..RetryConfig::default()
                    });
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some(endpoint) = &s3.endpoint {
                    // MinIO, Ceph and the like address buckets by path, not by host name.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose_secret());
                }
                let store = builder
                    .build()
                    .context("configuring attachments.storage.s3")?;
                let prefix = Path::parse(&s3.prefix).context("attachments.storage.s3.prefix")?;
                Some(Bucket {
                    store: Arc::new(store),
                    prefix,
                })
            }
        };
        if settings.kind == StorageKind::S3 && bucket.is_none() {
            anyhow::bail!("attachments.storage.kind = \"s3\" needs attachments.storage.s3.bucket");
        }
        Ok(BlobStore {
            writes_to: settings.kind,
            bucket,
        })
    }

    /// Where new files' chunks are written.
    pub fn writes_to(&self) -> StorageKind {
        self.writes_to
    }

    /// Whether a bucket is configured (reads and deletions of `s3` files need one).
    pub fn has_bucket(&self) -> bool {
        self.bucket.is_some()
    }

    fn bucket(&self) -> Result<&Bucket, BlobError> {
        self.bucket.as_ref().ok_or(BlobError::NotConfigured)
    }

    /// `{prefix}{attachment_id}/{seq}`.
    pub fn object_name(&self, id: Uuid, seq: i32) -> Result<String, BlobError> {
        Ok(self.bucket()?.path(id, seq).to_string())
    }

    /// Writes one sealed chunk.
    pub async fn put_chunk(&self, id: Uuid, seq: i32, sealed: Vec<u8>) -> Result<(), BlobError> {
        let bucket = self.bucket()?;
        bucket
            .store
            .put(&bucket.path(id, seq), PutPayload::from(sealed))
            .await?;
        Ok(())
    }

    /// Reads one sealed chunk; None when the object is missing.
    pub async fn get_chunk(&self, id: Uuid, seq: i32) -> Result<Option<Vec<u8>>, BlobError> {
        let bucket = self.bucket()?;
        match bucket.store.get(&bucket.path(id, seq)).await {
            Ok(found) => Ok(Some(found.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the objects of a file with `chunk_count` chunks (missing ones count as gone).
    pub async fn delete_file(&self, id: Uuid, chunk_count: i32) -> Result<(), BlobError> {
        let bucket = self.bucket()?;
        for seq in 0..chunk_count.max(0) {
            match bucket.store.delete(&bucket.path(id, seq)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

impl Bucket {
    fn path(&self, id: Uuid, seq: i32) -> Path {
        self.prefix
            .clone()
            .join(id.to_string().as_str())
            .join(seq.to_string().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::S3Settings;

    fn s3(prefix: &str) -> StorageSettings {
        StorageSettings {
            kind: StorageKind::S3,
            s3: S3Settings {
                bucket: Some("tipsa".into()),
                endpoint: Some("http://127.0.0.1:9".into()),
                region: Some("us-east-1".into()),
                access_key_id: Some("id".into()),
                secret_access_key: Some("secret".to_owned().into()),
                allow_http: true,
                prefix: prefix.into(),
            },
        }
    }

    #[test]
    fn attachments_objects_are_named_prefix_id_seq() {
        let id = Uuid::now_v7();
        let store = BlobStore::from_settings(&s3("attachments/")).unwrap();
        assert_eq!(store.writes_to(), StorageKind::S3);
        assert_eq!(
            store.object_name(id, 3).unwrap(),
            format!("attachments/{id}/3")
        );
        let store = BlobStore::from_settings(&s3("")).unwrap();
        assert_eq!(store.object_name(id, 0).unwrap(), format!("{id}/0"));
    }

    #[test]
    fn attachments_in_postgres_need_no_bucket_but_s3_files_do() {
        let store = BlobStore::from_settings(&StorageSettings::default()).unwrap();
        assert_eq!(store.writes_to(), StorageKind::Postgres);
        assert!(!store.has_bucket());
        assert!(matches!(
            store.object_name(Uuid::now_v7(), 0),
            Err(BlobError::NotConfigured)
        ));
        let mut settings = s3("attachments/");
        settings.s3.bucket = None;
        assert!(BlobStore::from_settings(&settings).is_err());
    }
}
