//! Small previews of cleaned pictures for the case handlers' view.

use std::io::Cursor;

use image::ImageReader;
use image::imageops::FilterType;

use super::image::{check_pixels, decode, encode, image_format};
use super::{CleanLimits, FileKind, Refusal};

/// Previews are for looking at, not for evidence; a lower JPEG quality keeps them small.
const PREVIEW_JPEG_QUALITY: u8 = 80;

/// A preview of a cleaned image (Jpeg/Png): decoded with limits, scaled so the longer side is
/// at most `max_side`, re-encoded without metadata in the same format as the picture: JPEG
/// (quality 80) for [`FileKind::Jpeg`], PNG for [`FileKind::Png`] (so transparency stays).
/// Its media type is therefore `kind.media_type()`. A picture already small enough is only
/// re-encoded, never enlarged.
pub fn render_preview(
    kind: FileKind,
    cleaned: &[u8],
    max_side: u32,
    limits: &CleanLimits,
) -> Result<Vec<u8>, Refusal> {
    let format = image_format(kind)?;
    if max_side == 0 {
        return Err(Refusal::cannot_clean(
            "a preview must be at least one pixel",
        ));
    }
    let (width, height) = ImageReader::with_format(Cursor::new(cleaned), format)
        .into_dimensions()
        .map_err(|_| Refusal::damaged("the picture header cannot be read"))?;
    check_pixels(width, height, limits)?;
    let picture = decode(cleaned, format, limits)?;
    let picture = if width.max(height) > max_side {
        // `resize` keeps the aspect ratio and fits inside the box.
        picture.resize(max_side, max_side, FilterType::Triangle)
    } else {
        picture
    };
    encode(&picture, format, PREVIEW_JPEG_QUALITY)
}
