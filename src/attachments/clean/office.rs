//! DOCX, XLSX and ODT containers: tells real Office files from other zips, reads every entry
//! within the limits (never trusting declared sizes), and writes a new zip with the metadata
//! parts replaced, thumbnails dropped, XML parts rewritten and pictures cleaned.

use std::io::{Cursor, Read, Write};

use img_parts::Bytes;

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::{CleanLimits, FileKind, Refusal, image, office_xml, sniff};

const ODT_MIMETYPE: &str = "application/vnd.oasis.opendocument.text";

/// One decompressed entry of the archive.
struct Entry {
    name: String,
    data: Vec<u8>,
}

/// Which Office kind a zip is, from its entries: OOXML needs `[Content_Types].xml` and the main
/// part, ODT its `mimetype` entry. Macros and ActiveX controls are refused here already.
pub(super) fn classify(bytes: &[u8], mime: &str) -> Result<FileKind, Refusal> {
    let mut archive = open(bytes)?;
    let names = archive
        .file_names()
        .map(|name| name.map(|name| name.into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(zip_refusal)?;
    let has = |wanted: &str| names.iter().any(|name| name == wanted);
    if names.iter().any(|name| is_active_part(name)) {
        return Err(Refusal::ActiveContent);
    }
    if has("[Content_Types].xml") && has("word/document.xml") {
        return Ok(FileKind::Docx);
    }
    if has("[Content_Types].xml") && has("xl/workbook.xml") {
        return Ok(FileKind::Xlsx);
    }
    if has("mimetype") && read_mimetype(&mut archive)? == ODT_MIMETYPE.as_bytes() {
        return Ok(FileKind::Odt);
    }
    Err(sniff::unsupported(Some(mime)))
}

/// VBA projects (docm/xlsm renamed to docx/xlsx), ActiveX controls, OpenDocument Basic and
/// scripts.
fn is_active_part(name: &str) -> bool {
    name.ends_with("vbaProject.bin")
        || name.contains("activeX/")
        || name.starts_with("Basic/")
        || name.starts_with("Scripts/")
}

fn read_mimetype(archive: &mut ZipArchive<Cursor<&[u8]>>) -> Result<Vec<u8>, Refusal> {
    let file = archive.by_name("mimetype").map_err(zip_refusal)?;
    let mut content = Vec::new();
    // The real value is 39 bytes; anything longer is not it.
    file.take(64)
        .read_to_end(&mut content)
        .map_err(|_| damaged())?;
    Ok(content)
}

pub(super) fn clean(
    kind: FileKind,
    bytes: &[u8],
    limits: &CleanLimits,
) -> Result<Vec<u8>, Refusal> {
    let entries = read_entries(bytes, limits)?;
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    if kind == FileKind::Odt {
        // ODF requires `mimetype` first and stored, so that the type can be read at offset 38.
        add(
            &mut writer,
            "mimetype",
            ODT_MIMETYPE.as_bytes(),
            CompressionMethod::Stored,
        )?;
    }
    for entry in &entries {
        if kind == FileKind::Odt && entry.name == "mimetype" {
            continue;
        }
        if let Some(data) = clean_part(&entry.name, &entry.data, limits)? {
            add(&mut writer, &entry.name, &data, CompressionMethod::Deflated)?;
        }
    }
    let written = writer.finish().map_err(|_| write_failed())?;
    Ok(written.into_inner())
}

/// The cleaned content of one part, or `None` when the part is dropped.
fn clean_part(name: &str, data: &[u8], limits: &CleanLimits) -> Result<Option<Vec<u8>>, Refusal> {
    if is_thumbnail(name) {
        return Ok(None);
    }
    if let Some(replacement) = office_xml::replacement(name) {
        return Ok(Some(replacement.as_bytes().to_vec()));
    }
    if is_embedded_file(name) {
        return Err(Refusal::cannot_clean(
            "the document embeds other files, whose metadata cannot be removed",
        ));
    }
    if name.ends_with(".xml") || name.ends_with(".rels") {
        return office_xml::rewrite(name, data).map(Some);
    }
    clean_binary_part(data, limits).map(Some)
}

/// Pictures go through the same cleaner as uploaded pictures; fonts and vector pictures
/// (EMF, WMF, SVG is XML) are kept; pictures of types that carry metadata we cannot remove
/// refuse the document.
fn clean_binary_part(data: &[u8], limits: &CleanLimits) -> Result<Vec<u8>, Refusal> {
    match infer::get(data).map(|found| found.mime_type()) {
        Some("image/jpeg") => {
            image::clean_jpeg(Bytes::copy_from_slice(data), limits).map(|cleaned| cleaned.bytes)
        }
        Some("image/png") => {
            image::clean_png(Bytes::copy_from_slice(data), limits).map(|cleaned| cleaned.bytes)
        }
        Some("image/tiff" | "image/heif" | "image/webp" | "image/avif") => Err(
            Refusal::cannot_clean("the document contains a picture type that cannot be cleaned"),
        ),
        _ => Ok(data.to_vec()),
    }
}

/// OOXML `docProps/thumbnail.*` and ODF `Thumbnails/*`: a rendering of the first page as
/// last saved, possibly showing content that was later removed.
pub(super) fn is_thumbnail(name: &str) -> bool {
    name.starts_with("docProps/thumbnail") || name.starts_with("Thumbnails/")
}

/// OLE objects and packages embedded in OOXML (spreadsheets in charts, attached files): each
/// is a document of its own with its own metadata.
fn is_embedded_file(name: &str) -> bool {
    name.starts_with("word/embeddings/") || name.starts_with("xl/embeddings/")
}

fn read_entries(bytes: &[u8], limits: &CleanLimits) -> Result<Vec<Entry>, Refusal> {
    let mut archive = open(bytes)?;
    if archive.len() > limits.max_archive_entries {
        return Err(Refusal::TooLargeUnpacked);
    }
    let mut budget = limits.max_unpacked_bytes;
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        if let Some(entry) = read_entry(&mut archive, index, &mut budget)? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Reads one entry, at most what is left of the budget: declared sizes are not trusted.
fn read_entry(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    index: usize,
    budget: &mut u64,
) -> Result<Option<Entry>, Refusal> {
    let mut file = archive.by_index(index).map_err(zip_refusal)?;
    if file.encrypted() {
        return Err(Refusal::Encrypted);
    }
    if file.is_dir() {
        return Ok(None);
    }
    let name = file.name().map_err(zip_refusal)?.into_owned();
    let mut data = Vec::new();
    file.by_ref()
        .take(budget.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|_| damaged())?;
    *budget = budget
        .checked_sub(data.len() as u64)
        .ok_or(Refusal::TooLargeUnpacked)?;
    Ok(Some(Entry { name, data }))
}

fn open(bytes: &[u8]) -> Result<ZipArchive<Cursor<&[u8]>>, Refusal> {
    ZipArchive::new(Cursor::new(bytes)).map_err(zip_refusal)
}

fn add(
    writer: &mut ZipWriter<Cursor<Vec<u8>>>,
    name: &str,
    data: &[u8],
    method: CompressionMethod,
) -> Result<(), Refusal> {
    // A fixed time: the entries' times would tell when the sender last saved the file.
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default());
    writer
        .start_file(name, options)
        .map_err(|_| write_failed())?;
    writer.write_all(data).map_err(|_| write_failed())
}

fn zip_refusal(error: ZipError) -> Refusal {
    match error {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) | ZipError::InvalidPassword => {
            Refusal::Encrypted
        }
        _ => damaged(),
    }
}

fn damaged() -> Refusal {
    Refusal::damaged("the document's zip structure cannot be read")
}

fn write_failed() -> Refusal {
    Refusal::cannot_clean("the cleaned document could not be written")
}
