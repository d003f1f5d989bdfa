//! Types an uploaded file by its bytes and strips the metadata that could identify the sender.
//!
//! The file's name is never consulted: [`sniff`] decides the type from the content, and each
//! type has its own cleaner. A file that cannot be cleaned is refused; the raw bytes are never
//! handed back as if they were clean.

mod audio;
mod image;
mod office;
mod office_xml;
mod pdf;
mod preview;
mod sniff;
#[cfg(test)]
mod tests;

pub use preview::render_preview;

/// The file types Tipsa accepts as attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Jpeg,
    Png,
    Pdf,
    Docx,
    Xlsx,
    Odt,
    Text,
    Mp3,
    M4a,
    Ogg,
}

impl FileKind {
    const ALL: [FileKind; 10] = [
        FileKind::Jpeg,
        FileKind::Png,
        FileKind::Pdf,
        FileKind::Docx,
        FileKind::Xlsx,
        FileKind::Odt,
        FileKind::Text,
        FileKind::Mp3,
        FileKind::M4a,
        FileKind::Ogg,
    ];

    /// The stable code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpeg",
            FileKind::Png => "png",
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
            FileKind::Odt => "odt",
            FileKind::Text => "text",
            FileKind::Mp3 => "mp3",
            FileKind::M4a => "m4a",
            FileKind::Ogg => "ogg",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// The media type to serve the cleaned file with.
    pub fn media_type(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Pdf => "application/pdf",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Odt => "application/vnd.oasis.opendocument.text",
            FileKind::Text => "text/plain; charset=utf-8",
            FileKind::Mp3 => "audio/mpeg",
            FileKind::M4a => "audio/mp4",
            FileKind::Ogg => "audio/ogg",
        }
    }

    /// The file name extension to offer on download (the uploaded name is not kept).
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
            FileKind::Pdf => "pdf",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
            FileKind::Odt => "odt",
            FileKind::Text => "txt",
            FileKind::Mp3 => "mp3",
            FileKind::M4a => "m4a",
            FileKind::Ogg => "ogg",
        }
    }

    /// Whether [`render_preview`] can show it.
    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Jpeg | FileKind::Png)
    }
}

/// Bounds on the work a single file may cause, against decompression bombs.
#[derive(Debug, Clone)]
pub struct CleanLimits {
    /// Largest width × height of a picture (also of pictures inside documents).
    pub max_pixels: u64,
    /// Largest total of decompressed bytes (all entries of an Office file together, one PDF
    /// stream).
    pub max_unpacked_bytes: u64,
    /// Most entries an Office file may have.
    pub max_archive_entries: usize,
}

impl Default for CleanLimits {
    fn default() -> Self {
        CleanLimits {
            max_pixels: 100_000_000,
            max_unpacked_bytes: 200 * 1024 * 1024,
            max_archive_entries: 2_000,
        }
    }
}

/// A file that passed the checks, with its metadata removed.
pub struct Cleaned {
    pub kind: FileKind,
    pub bytes: Vec<u8>,
    /// Pixel size of a picture (after applying its orientation); `None` for other kinds.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Cleaned {
    fn document(kind: FileKind, bytes: Vec<u8>) -> Self {
        Cleaned {
            kind,
            bytes,
            width: None,
            height: None,
        }
    }
}

/// Why a file is refused. The texts are English and never quote the file's content or name.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the file is empty")]
    Empty,
    #[error("this type of file is not accepted{}", detected_suffix(.detected))]
    Unsupported { detected: Option<String> },
    #[error(
        "HEIC/HEIF pictures are not accepted; please save the picture as JPEG and attach it again"
    )]
    Heic,
    #[error("the file holds data after its end, which makes it more than one type of file")]
    Polyglot,
    #[error("the file is damaged: {0}")]
    Damaged(String),
    #[error("the file unpacks to more than the allowed size")]
    TooLargeUnpacked,
    #[error("the file contains active content (macros, scripts, embedded files or actions)")]
    ActiveContent,
    #[error("the file is encrypted or password protected")]
    Encrypted,
    #[error("the file's metadata could not be removed: {0}")]
    CannotClean(String),
}

fn detected_suffix(detected: &Option<String>) -> String {
    detected
        .as_ref()
        .map(|mime| format!(" (detected {mime})"))
        .unwrap_or_default()
}

impl Refusal {
    /// The stable code for the database and the API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Empty => "empty",
            Refusal::Unsupported { .. } => "unsupported_type",
            Refusal::Heic => "heic_unsupported",
            Refusal::Polyglot => "polyglot",
            Refusal::Damaged(_) => "damaged",
            Refusal::TooLargeUnpacked => "decompression_bomb",
            Refusal::ActiveContent => "active_content",
            Refusal::Encrypted => "encrypted",
            Refusal::CannotClean(_) => "cannot_clean",
        }
    }

    fn damaged(detail: &str) -> Self {
        Refusal::Damaged(detail.to_owned())
    }

    fn cannot_clean(detail: &str) -> Self {
        Refusal::CannotClean(detail.to_owned())
    }
}

/// Types the bytes and returns the cleaned file, or why it is refused. Pure and synchronous
/// (called inside spawn_blocking).
pub fn clean(bytes: &[u8], limits: &CleanLimits) -> Result<Cleaned, Refusal> {
    clean_owned(bytes.to_vec(), limits)
}

/// As `clean`, taking the upload itself: pictures are then cleaned without first copying the
/// whole file (at most two copies of it exist at once).
pub fn clean_owned(bytes: Vec<u8>, limits: &CleanLimits) -> Result<Cleaned, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    let kind = sniff::sniff(&bytes)?;
    match kind {
        FileKind::Jpeg => image::clean_jpeg(bytes.into(), limits),
        FileKind::Png => image::clean_png(bytes.into(), limits),
        FileKind::Pdf => pdf::clean(&bytes, limits).map(|out| Cleaned::document(kind, out)),
        FileKind::Docx | FileKind::Xlsx | FileKind::Odt => {
            office::clean(kind, &bytes, limits).map(|out| Cleaned::document(kind, out))
        }
        // Plain text carries no metadata; sniff has checked it is UTF-8 without controls.
        FileKind::Text => Ok(Cleaned::document(kind, bytes)),
        FileKind::Mp3 | FileKind::M4a | FileKind::Ogg => {
            audio::clean(kind, &bytes).map(|out| Cleaned::document(kind, out))
        }
    }
}
