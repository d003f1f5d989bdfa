//! MP3, M4A and Ogg (Vorbis, Opus): removes every tag with lofty, in memory, and checks that
//! none with any item is left.
//!
//! Left as they are: the creation and modification times in an M4A's `mvhd`/`tkhd`/`mdhd`
//! boxes (lofty does not write them, and hand-writing an MP4 editor is out of scope), the
//! encoder's vendor string in Ogg headers and MP3 encoder (LAME/Xing) frames, which name
//! software, not people.

use std::io::Cursor;

use lofty::config::WriteOptions;
use lofty::file::{FileType, TaggedFile, TaggedFileExt};
use lofty::probe::Probe;
use lofty::tag::{ItemKey, TagType};

use super::{FileKind, Refusal};

pub(super) fn clean(kind: FileKind, bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
    let file_type = read(bytes)?.file_type();
    let tag_types = tag_types(kind, file_type).ok_or_else(|| Refusal::Unsupported {
        detected: Some(kind.media_type().to_owned()),
    })?;
    let mut file = Cursor::new(bytes.to_vec());
    for tag_type in tag_types {
        file.set_position(0);
        tag_type
            .remove_from(&mut file, WriteOptions::default())
            .map_err(|_| Refusal::cannot_clean("the audio file's tags could not be removed"))?;
    }
    let cleaned = file.into_inner();
    if has_tag_items(&read(&cleaned)?) {
        return Err(Refusal::cannot_clean("tags remained in the audio file"));
    }
    Ok(cleaned)
}

/// The tag types to remove, if lofty's reading of the file agrees with the sniffed kind (an
/// Ogg file must be Vorbis or Opus, not FLAC, Speex or video).
fn tag_types(kind: FileKind, file_type: FileType) -> Option<&'static [TagType]> {
    match (kind, file_type) {
        (FileKind::Mp3, FileType::Mpeg) => Some(&[TagType::Id3v2, TagType::Id3v1, TagType::Ape]),
        (FileKind::M4a, FileType::Mp4) => Some(&[TagType::Mp4Ilst]),
        (FileKind::Ogg, FileType::Vorbis | FileType::Opus) => Some(&[TagType::VorbisComments]),
        _ => None,
    }
}

fn read(bytes: &[u8]) -> Result<TaggedFile, Refusal> {
    Probe::new(Cursor::new(bytes))
        .guess_file_type()
        .map_err(|_| damaged())?
        .read()
        .map_err(|_| damaged())
}

/// Ogg files always keep a comment header, whose vendor string (the encoder library) lofty
/// shows as an `EncoderSoftware` item; software names are not the sender's, anything else is.
fn has_tag_items(file: &TaggedFile) -> bool {
    file.tags().iter().any(|tag| {
        tag.picture_count() > 0
            || tag
                .items()
                .any(|item| item.key() != ItemKey::EncoderSoftware)
    })
}

fn damaged() -> Refusal {
    Refusal::damaged("the audio data cannot be read")
}
