//! PDF: refuses encrypted files and active content, removes the document information, XMP
//! metadata, application data and file identifiers, and writes the file anew with lopdf (so
//! earlier incremental revisions do not survive).

use lopdf::{DecompressError, Dictionary, Document, Error as PdfError, LoadOptions, Object};

use super::{CleanLimits, Refusal};

/// Keys whose presence anywhere means scripts, embedded files or actions the reader runs.
/// (`/OpenAction` and `/AA` are only refused through what they point to.)
const ACTIVE_KEYS: [&[u8]; 6] = [
    b"JavaScript",
    b"JS",
    b"EmbeddedFiles",
    b"EF",
    b"XFA",
    b"RichMedia",
];

/// Action types (`/S`) that start programs, run scripts or send data away.
const ACTIVE_ACTIONS: [&[u8]; 6] = [
    b"JavaScript",
    b"Launch",
    b"ImportData",
    b"SubmitForm",
    b"RichMediaExecute",
    b"Rendition",
];

/// Keys on any dictionary that carry metadata: XMP streams, application private data, page
/// modification times.
const METADATA_KEYS: [&[u8]; 3] = [b"Metadata", b"PieceInfo", b"LastModified"];

/// Keys of a markup annotation (a comment) that name or date its author.
const ANNOTATION_AUTHOR_KEYS: [&[u8]; 3] = [b"T", b"M", b"CreationDate"];

pub(super) fn clean(bytes: &[u8], limits: &CleanLimits) -> Result<Vec<u8>, Refusal> {
    let mut document = load(bytes, limits)?;
    // lopdf opens files with an empty user password by itself; they are refused all the same.
    if document.was_encrypted() || document.is_encrypted() {
        return Err(Refusal::Encrypted);
    }
    refuse_active_content(&document)?;
    strip_metadata(&mut document);
    // Objects only the removed entries referred to (the Info dictionary, XMP streams) go.
    document.prune_objects();
    let mut out = Vec::new();
    document
        .save_to(&mut out)
        .map_err(|_| Refusal::cannot_clean("the PDF could not be written again"))?;
    Ok(out)
}

fn load(bytes: &[u8], limits: &CleanLimits) -> Result<Document, Refusal> {
    let options = LoadOptions {
        max_decompressed_size: Some(
            usize::try_from(limits.max_unpacked_bytes).unwrap_or(usize::MAX),
        ),
        ..LoadOptions::default()
    };
    Document::load_mem_with_options(bytes, options).map_err(|error| match error {
        PdfError::Decryption(_) | PdfError::InvalidPassword | PdfError::AlreadyEncrypted => {
            Refusal::Encrypted
        }
        PdfError::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            Refusal::TooLargeUnpacked
        }
        _ => Refusal::damaged("the PDF structure cannot be read"),
    })
}

fn refuse_active_content(document: &Document) -> Result<(), Refusal> {
    if document.trailer.has(b"Encrypt") {
        return Err(Refusal::Encrypted);
    }
    if document.objects.values().any(is_active) {
        return Err(Refusal::ActiveContent);
    }
    Ok(())
}

/// Whether an object, or any dictionary nested in it, is active content.
fn is_active(object: &Object) -> bool {
    match object {
        Object::Dictionary(dictionary) => dictionary_is_active(dictionary),
        Object::Stream(stream) => dictionary_is_active(&stream.dict),
        Object::Array(items) => items.iter().any(is_active),
        _ => false,
    }
}

fn dictionary_is_active(dictionary: &Dictionary) -> bool {
    let has_active_key = ACTIVE_KEYS.iter().any(|key| dictionary.has(key));
    let active_action = dictionary
        .get(b"S")
        .and_then(Object::as_name)
        .is_ok_and(|name| ACTIVE_ACTIONS.contains(&name));
    has_active_key || active_action || dictionary.iter().any(|(_, value)| is_active(value))
}

fn strip_metadata(document: &mut Document) {
    if let Some(Object::Reference(info)) = document.trailer.remove(b"Info") {
        document.delete_object(info);
    }
    // The file identifier links copies of one file, and so its sender's other copies.
    document.trailer.remove(b"ID");
    for object in document.objects.values_mut() {
        strip_object(object);
    }
    // XMP streams are normally only reached through /Metadata, but drop any stray one too.
    let xmp: Vec<_> = document
        .objects
        .iter()
        .filter(|(_, object)| is_xmp_stream(object))
        .map(|(id, _)| *id)
        .collect();
    for id in xmp {
        document.delete_object(id);
    }
}

fn is_xmp_stream(object: &Object) -> bool {
    let Object::Stream(stream) = object else {
        return false;
    };
    stream
        .dict
        .get(b"Type")
        .and_then(Object::as_name)
        .is_ok_and(|name| name == b"Metadata")
}

fn strip_object(object: &mut Object) {
    match object {
        Object::Dictionary(dictionary) => strip_dictionary(dictionary),
        Object::Stream(stream) => strip_dictionary(&mut stream.dict),
        Object::Array(items) => items.iter_mut().for_each(strip_object),
        _ => {}
    }
}

fn strip_dictionary(dictionary: &mut Dictionary) {
    for key in METADATA_KEYS {
        dictionary.remove(key);
    }
    if is_markup_annotation(dictionary) {
        for key in ANNOTATION_AUTHOR_KEYS {
            dictionary.remove(key);
        }
    }
    for (_, value) in dictionary.iter_mut() {
        strip_object(value);
    }
}

/// An annotation other than a form field widget: its /T is the author's name (on a widget
/// /T is the field's name, which the form needs).
fn is_markup_annotation(dictionary: &Dictionary) -> bool {
    let is_annotation = dictionary
        .get(b"Type")
        .and_then(Object::as_name)
        .is_ok_and(|name| name == b"Annot");
    let subtype = dictionary.get(b"Subtype").and_then(Object::as_name);
    is_annotation && subtype.is_ok_and(|name| name != b"Widget" && name != b"Link")
}
