//! Attachments: files sent with a tip or a tipster's reply. Each file is typed by its content
//! and cleaned of identifying metadata (`clean`), sealed in chunks into PostgreSQL (`store`) or
//! an S3-compatible bucket (`blob`), kept pending until the tip or reply it came with is stored
//! (`link`), scanned by ClamAV before anyone can open it (`scan`, `maintenance`), and never
//! shown under its original name.

pub mod blob;
pub mod clean;
pub mod link;
pub mod maintenance;
pub mod receive;
pub mod scan;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use clean::FileKind;

/// Where a file stands with the virus scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    /// Waiting for the scanner (also while it is down): nobody can open it yet.
    Pending,
    /// Scanned, nothing found.
    Clean,
    /// The scanner found something: quarantined, never served.
    Infected,
    /// No scanner is configured: served, and marked so.
    Unscanned,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pending => "pending",
            ScanStatus::Clean => "clean",
            ScanStatus::Infected => "infected",
            ScanStatus::Unscanned => "unscanned",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "pending" => ScanStatus::Pending,
            "clean" => ScanStatus::Clean,
            "infected" => ScanStatus::Infected,
            "unscanned" => ScanStatus::Unscanned,
            _ => return None,
        })
    }

    /// Whether the file may be opened (downloaded or previewed).
    pub fn may_open(self) -> bool {
        matches!(self, ScanStatus::Clean | ScanStatus::Unscanned)
    }
}

/// What may be said about a stored file: never its original name.
#[derive(Debug, Clone)]
pub struct AttachmentInfo {
    pub id: Uuid,
    pub tip_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub position: Option<i32>,
    pub kind: FileKind,
    pub size_bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub key_id: String,
    pub chunk_count: i32,
    /// Where the sealed chunks are.
    pub storage: crate::config::StorageKind,
    pub scan_status: ScanStatus,
    pub scan_signature: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl AttachmentInfo {
    /// The neutral name everyone sees: `bilaga-<position>.<ext>` once part of a tip,
    /// `bilaga.<ext>` while pending.
    pub fn neutral_name(&self) -> String {
        neutral_name(self.position, self.kind)
    }
}

/// `bilaga-3.jpg`: Swedish like the service, the same in both languages (it is a file name).
pub fn neutral_name(position: Option<i32>, kind: FileKind) -> String {
    match position {
        Some(position) => format!("bilaga-{position}.{}", kind.extension()),
        None => format!("bilaga.{}", kind.extension()),
    }
}

/// A size for people: "1,2 MB" / "1.2 MB", "830 kB", "12 B".
pub fn human_size(bytes: i64, swedish: bool) -> String {
    let (value, unit) = if bytes >= 1_000_000 {
        (bytes as f64 / 1_000_000.0, "MB")
    } else if bytes >= 1_000 {
        (bytes as f64 / 1_000.0, "kB")
    } else {
        return format!("{bytes} B");
    };
    let text = format!("{value:.1} {unit}");
    if swedish {
        text.replace('.', ",")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_names_say_position_and_type_only() {
        assert_eq!(neutral_name(Some(2), FileKind::Jpeg), "bilaga-2.jpg");
        assert_eq!(neutral_name(None, FileKind::Pdf), "bilaga.pdf");
    }

    #[test]
    fn sizes_read_naturally_in_both_languages() {
        assert_eq!(human_size(1_234_567, true), "1,2 MB");
        assert_eq!(human_size(1_234_567, false), "1.2 MB");
        assert_eq!(human_size(830_000, false), "830.0 kB");
        assert_eq!(human_size(12, true), "12 B");
    }

    #[test]
    fn only_scanned_or_unscannable_files_open() {
        assert!(ScanStatus::Clean.may_open());
        assert!(ScanStatus::Unscanned.may_open());
        assert!(!ScanStatus::Pending.may_open());
        assert!(!ScanStatus::Infected.may_open());
        for status in ["pending", "clean", "infected", "unscanned"] {
            assert_eq!(
                ScanStatus::parse(status).map(ScanStatus::as_str),
                Some(status)
            );
        }
    }
}
