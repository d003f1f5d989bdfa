//! JPEG and PNG: keeps only the segments/chunks the picture needs (a lossless strip), and
//! decodes, rotates and re-encodes only when the picture carries an EXIF orientation.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageError, ImageFormat, ImageReader};
use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::{Png, PngChunk};
use img_parts::{Bytes, ImageEXIF};

use super::{CleanLimits, Cleaned, FileKind, Refusal};

/// PNG chunks a picture needs or that only affect rendering; everything else (tEXt, zTXt,
/// iTXt with XMP, eXIf, tIME, private chunks) is dropped.
const PNG_KEEP: [&[u8; 4]; 12] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"bKGD",
];

/// Quality of a JPEG that must be re-encoded because its orientation was applied.
const JPEG_QUALITY: u8 = 90;

pub(super) fn clean_jpeg(bytes: Bytes, limits: &CleanLimits) -> Result<Cleaned, Refusal> {
    // img-parts' segments share the upload's buffer: no copy until the encoder.
    let mut jpeg = Jpeg::from_bytes(bytes)
        .map_err(|_| Refusal::damaged("the JPEG structure cannot be read"))?;
    let (width, height) = jpeg
        .dimensions()
        .ok_or_else(|| Refusal::damaged("the JPEG has no readable frame header"))?;
    let (width, height) = (u32::from(width), u32::from(height));
    check_pixels(width, height, limits)?;
    // Read before the strip: the orientation lives in the EXIF segment that goes.
    let orientation = jpeg
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(&exif));
    let has_mpf = jpeg.segments().iter().any(is_mpf);
    jpeg.segments_mut().retain(keep_jpeg_segment);
    let head_len = 2 + jpeg.segments().iter().map(JpegSegment::len).sum::<usize>();
    // The encoder takes the segments (and with them the upload's buffer) and frees them.
    let encoded = jpeg.encoder().bytes();
    let stripped = strip_after_first_scan(&encoded, head_len, has_mpf)?;
    drop(encoded);
    finish(stripped, FileKind::Jpeg, width, height, orientation, limits)
}

pub(super) fn clean_png(bytes: Bytes, limits: &CleanLimits) -> Result<Cleaned, Refusal> {
    let input_len = bytes.len();
    let mut png =
        Png::from_bytes(bytes).map_err(|_| Refusal::damaged("the PNG structure cannot be read"))?;
    if png.chunks().last().map(PngChunk::kind) != Some(*b"IEND") {
        return Err(Refusal::damaged("the PNG is truncated (no end chunk)"));
    }
    // img-parts stops reading at IEND and ignores what follows.
    if png.len() != input_len {
        return Err(Refusal::Polyglot);
    }
    let (width, height) = png
        .dimensions()
        .ok_or_else(|| Refusal::damaged("the PNG has no readable header"))?;
    check_pixels(width, height, limits)?;
    let orientation = png
        .chunk_by_type(*b"eXIf")
        .and_then(|chunk| Orientation::from_exif_chunk(chunk.contents()));
    png.chunks_mut()
        .retain(|chunk| PNG_KEEP.iter().any(|keep| **keep == chunk.kind()));
    let stripped = png.encoder().bytes().to_vec();
    finish(stripped, FileKind::Png, width, height, orientation, limits)
}

/// A picture larger than the limit is refused before anything is decoded.
pub(super) fn check_pixels(width: u32, height: u32, limits: &CleanLimits) -> Result<(), Refusal> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Refusal::TooLargeUnpacked);
    }
    Ok(())
}

/// The stripped picture as is, or rotated as its orientation said (the orientation tag went
/// with the EXIF data, so viewers would otherwise show it sideways).
fn finish(
    stripped: Vec<u8>,
    kind: FileKind,
    width: u32,
    height: u32,
    orientation: Option<Orientation>,
    limits: &CleanLimits,
) -> Result<Cleaned, Refusal> {
    let (bytes, width, height) = match orientation {
        None | Some(Orientation::NoTransforms) => (stripped, width, height),
        Some(orientation) => reorient(&stripped, kind, orientation, limits)?,
    };
    Ok(Cleaned {
        kind,
        bytes,
        width: Some(width),
        height: Some(height),
    })
}

fn reorient(
    stripped: &[u8],
    kind: FileKind,
    orientation: Orientation,
    limits: &CleanLimits,
) -> Result<(Vec<u8>, u32, u32), Refusal> {
    let format = image_format(kind)?;
    let mut picture = decode(stripped, format, limits)?;
    picture.apply_orientation(orientation);
    let (width, height) = (picture.width(), picture.height());
    let bytes = encode(&picture, format, JPEG_QUALITY)?;
    Ok((bytes, width, height))
}

pub(super) fn image_format(kind: FileKind) -> Result<ImageFormat, Refusal> {
    match kind {
        FileKind::Jpeg => Ok(ImageFormat::Jpeg),
        FileKind::Png => Ok(ImageFormat::Png),
        other => Err(Refusal::Unsupported {
            detected: Some(other.media_type().to_owned()),
        }),
    }
}

/// Decodes with the image crate's allocation limit derived from `max_pixels` (8 bytes a
/// pixel covers 16-bit RGBA), after checking the declared size.
pub(super) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &CleanLimits,
) -> Result<DynamicImage, Refusal> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(image_limits);
    reader.decode().map_err(|error| match error {
        ImageError::Limits(_) => Refusal::TooLargeUnpacked,
        _ => Refusal::damaged("the picture data cannot be decoded"),
    })
}

/// Encodes without any metadata (the image crate writes none unless asked).
pub(super) fn encode(
    picture: &DynamicImage,
    format: ImageFormat,
    jpeg_quality: u8,
) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Jpeg => {
            // JPEG has no alpha channel and no 16-bit samples.
            let rgb = DynamicImage::ImageRgb8(picture.to_rgb8());
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, jpeg_quality);
            rgb.write_with_encoder(encoder)
        }
        _ => picture.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out)),
    };
    written.map_err(|_| Refusal::cannot_clean("the picture could not be encoded again"))?;
    Ok(out)
}

/// Segments before the first scan that a decoder needs: frame, tables, restart interval, the
/// JFIF header without a thumbnail, Adobe's colour transform, the ICC colour profile. EXIF,
/// XMP, IPTC/Photoshop, MPF, other APPn and comments go.
fn keep_jpeg_segment(segment: &JpegSegment) -> bool {
    let contents = segment.contents();
    match segment.marker() {
        markers::APP0 => contents.starts_with(b"JFIF\0") && contents.len() <= 14,
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::APP1..=markers::APP15 | markers::COM => false,
        _ => true,
    }
}

/// The Multi-Picture Format segment: secondary pictures (gain maps, depth maps, previews)
/// follow the main picture's end.
fn is_mpf(segment: &JpegSegment) -> bool {
    segment.marker() == markers::APP2 && segment.contents().starts_with(b"MPF\0")
}

/// img-parts keeps everything after the first scan header as one opaque blob: the other scans
/// of a progressive JPEG, the segments between them, the end marker and whatever follows. So
/// this walks that blob: it drops APPn and comment segments between scans, stops at the end
/// marker, and refuses what follows it (a ZIP appended to a picture is a polyglot). Secondary
/// pictures announced by MPF are dropped; zero padding is dropped.
fn strip_after_first_scan(
    encoded: &[u8],
    head_len: usize,
    has_mpf: bool,
) -> Result<Vec<u8>, Refusal> {
    let truncated = || Refusal::damaged("the JPEG is truncated (no end of image)");
    let tail = encoded.get(head_len..).ok_or_else(truncated)?;
    let mut out = Vec::with_capacity(encoded.len());
    out.extend_from_slice(&encoded[..head_len]);
    let mut at = 0;
    loop {
        let marker_at = next_marker(tail, at).ok_or_else(truncated)?;
        out.extend_from_slice(&tail[at..marker_at]);
        let marker = tail[marker_at + 1];
        if marker == markers::EOI {
            out.extend_from_slice(&[markers::P, markers::EOI]);
            let rest = &tail[marker_at + 2..];
            if !has_mpf && rest.iter().any(|b| *b != 0) {
                return Err(Refusal::Polyglot);
            }
            return Ok(out);
        }
        let length = tail
            .get(marker_at + 2..marker_at + 4)
            .map(|len| usize::from(u16::from_be_bytes([len[0], len[1]])))
            .ok_or_else(truncated)?;
        let end = marker_at + 2 + length;
        let segment = tail.get(marker_at..end).ok_or_else(truncated)?;
        if length < 2 {
            return Err(Refusal::damaged("the JPEG has a malformed segment"));
        }
        let metadata = matches!(marker, markers::APP0..=markers::APP15 | markers::COM);
        if !metadata {
            out.extend_from_slice(segment);
        }
        at = end;
    }
}

/// The position of the next marker at or after `from` in entropy-coded data, skipping byte
/// stuffing (FF 00), restart markers (FF D0–D7) and fill bytes (FF FF).
fn next_marker(data: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at += data.get(at..)?.iter().position(|b| *b == markers::P)?;
        match *data.get(at + 1)? {
            0x00 | markers::RST0..=markers::RST7 => at += 2,
            markers::P => at += 1,
            _ => return Some(at),
        }
    }
}
