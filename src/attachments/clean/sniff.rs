//! Decides a file's type from its bytes alone (the `infer` crate), against Tipsa's allow-list.

use super::{FileKind, Refusal, office};

/// ISO-BMFF major brands of HEIF pictures, for the variants `infer` does not name.
const HEIF_BRANDS: [&[u8; 4]; 9] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
];

/// The kind of an accepted file, or why the type is refused.
pub(super) fn sniff(bytes: &[u8]) -> Result<FileKind, Refusal> {
    let Some(found) = infer::get(bytes) else {
        return sniff_undetected(bytes);
    };
    let mime = found.mime_type();
    match mime {
        "image/jpeg" => Ok(FileKind::Jpeg),
        "image/png" => Ok(FileKind::Png),
        "application/pdf" => Ok(FileKind::Pdf),
        "image/heif" => Err(Refusal::Heic),
        "audio/mpeg" => Ok(FileKind::Mp3),
        "audio/ogg" | "audio/opus" => Ok(FileKind::Ogg),
        "audio/m4a" => Ok(FileKind::M4a),
        // `infer` calls every mp42/isom file video; audio-only ones are ordinary M4A files.
        "video/mp4" if !has_video_track(bytes) => Ok(FileKind::M4a),
        _ if is_zip_family(mime) => office::classify(bytes, mime),
        _ => Err(unsupported(Some(mime))),
    }
}

pub(super) fn unsupported(mime: Option<&str>) -> Refusal {
    Refusal::Unsupported {
        detected: mime.map(str::to_owned),
    }
}

/// `infer` only looks at the first entries of a zip to name Office files, so every zip-based
/// answer is settled by the entries themselves.
fn is_zip_family(mime: &str) -> bool {
    mime == "application/zip"
        || mime.starts_with("application/vnd.openxmlformats-officedocument.")
        || mime.starts_with("application/vnd.oasis.opendocument.")
        || mime.starts_with("application/vnd.ms-")
}

/// Files `infer` has no signature for: a HEIF variant it does not know, plain text, or refused.
fn sniff_undetected(bytes: &[u8]) -> Result<FileKind, Refusal> {
    if is_heif_brand(bytes) {
        return Err(Refusal::Heic);
    }
    if is_plain_text(bytes) {
        return Ok(FileKind::Text);
    }
    Err(unsupported(None))
}

fn is_heif_brand(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"ftyp")
        && bytes
            .get(8..12)
            .is_some_and(|brand| HEIF_BRANDS.iter().any(|heif| heif.as_slice() == brand))
}

/// Valid UTF-8 (a BOM is fine) without NUL or other control characters except tab, line
/// feed, carriage return and form feed.
pub(super) fn is_plain_text(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

/// Whether an MP4 declares a video track: a `hdlr` box whose handler type is `vide`. This is a
/// byte search, not a parse; a chance match in the media data refuses an audio file, which
/// errs on the safe side.
fn has_video_track(bytes: &[u8]) -> bool {
    bytes
        .windows(16)
        .any(|w| &w[0..4] == b"hdlr" && &w[12..16] == b"vide")
}
