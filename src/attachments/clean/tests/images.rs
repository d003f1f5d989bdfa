//! JPEG and PNG cleaning, orientation, bad pictures and previews.

use image::ImageFormat;
use img_parts::png::{Png, PngChunk};

use super::super::{CleanLimits, FileKind, Refusal, clean, render_preview};
use super::*;

fn decode(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes)
        .expect("cleaned picture decodes")
        .to_rgb8()
}

#[test]
fn jpeg_loses_every_identifying_tag_and_its_orientation_is_applied() {
    let scratch = Scratch::new("jpeg-rotated");
    let original = identifying_jpeg(&scratch, "6");
    let before = exif_json(&scratch, "before.jpg", &original);
    assert!(before.contains("Anna Andersson") && before.contains(":ThumbnailImage\""));

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_eq!(cleaned.kind, FileKind::Jpeg);
    assert_nothing_identifying(&exif_json(&scratch, "after.jpg", &cleaned.bytes));
    assert_eq!((cleaned.width, cleaned.height), (Some(48), Some(64)));
    let picture = decode(&cleaned.bytes);
    assert_eq!(picture.dimensions(), (48, 64));
    // Orientation 6 turns the picture 90° clockwise: the red top-left corner goes top right.
    assert!(is_red(picture.get_pixel(47 - 4, 4)), "rotation not applied");
    assert!(!is_red(picture.get_pixel(4, 4)));
}

#[test]
fn upright_jpeg_is_stripped_without_touching_the_picture() {
    let scratch = Scratch::new("jpeg-upright");
    let original = identifying_jpeg(&scratch, "1");

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_nothing_identifying(&exif_json(&scratch, "after.jpg", &cleaned.bytes));
    assert_eq!((cleaned.width, cleaned.height), (Some(64), Some(48)));
    // A lossless strip decodes to exactly the same pixels.
    assert_eq!(decode(&cleaned.bytes), decode(&original));
    assert!(
        cleaned.bytes.len() < original.len() / 2,
        "thumbnail or EXIF kept"
    );
}

#[test]
fn png_loses_text_xmp_and_exif() {
    let scratch = Scratch::new("png");
    let path = scratch.write(
        "shot.png",
        &encoded(&marked_gradient(64, 48), ImageFormat::Png),
    );
    add_identifying_metadata(
        &path,
        &["-PNG:Author=Anna Andersson", "-PNG:Comment=SN-778899"],
    );
    let original = scratch.read("shot.png");
    let before = exif_json(&scratch, "before.png", &original);
    assert!(before.contains("Anna Andersson") && before.contains("TipsaPhoneMaker"));

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_eq!(cleaned.kind, FileKind::Png);
    assert_nothing_identifying(&exif_json(&scratch, "after.png", &cleaned.bytes));
    assert_eq!(decode(&cleaned.bytes), decode(&original));
}

#[test]
fn png_exif_orientation_is_applied() {
    let scratch = Scratch::new("png-rotated");
    let path = scratch.write(
        "shot.png",
        &encoded(&marked_gradient(64, 48), ImageFormat::Png),
    );
    add_identifying_metadata(&path, &["-Orientation#=6"]);

    let cleaned = clean(&scratch.read("shot.png"), &CleanLimits::default()).expect("cleaned");

    assert_nothing_identifying(&exif_json(&scratch, "after.png", &cleaned.bytes));
    let picture = decode(&cleaned.bytes);
    assert_eq!(picture.dimensions(), (48, 64));
    assert!(is_red(picture.get_pixel(47 - 4, 4)), "rotation not applied");
}

#[test]
fn jpeg_with_a_zip_appended_is_a_polyglot() {
    let mut bytes = encoded(&marked_gradient(64, 48), ImageFormat::Jpeg);
    bytes.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00hidden payload");
    assert!(matches!(
        clean(&bytes, &CleanLimits::default()),
        Err(Refusal::Polyglot)
    ));
}

#[test]
fn truncated_jpeg_is_damaged() {
    let bytes = encoded(&marked_gradient(64, 48), ImageFormat::Jpeg);
    let cut = &bytes[..bytes.len() * 2 / 3];
    assert!(matches!(
        clean(cut, &CleanLimits::default()),
        Err(Refusal::Damaged(_))
    ));
}

#[test]
fn truncated_png_is_damaged() {
    let bytes = encoded(&marked_gradient(64, 48), ImageFormat::Png);
    let cut = &bytes[..bytes.len() - 12]; // without the IEND chunk
    assert!(matches!(
        clean(cut, &CleanLimits::default()),
        Err(Refusal::Damaged(_))
    ));
    let cut = &bytes[..bytes.len() / 2];
    assert!(matches!(
        clean(cut, &CleanLimits::default()),
        Err(Refusal::Damaged(_))
    ));
}

#[test]
fn png_with_data_after_the_end_is_a_polyglot() {
    let mut bytes = encoded(&marked_gradient(64, 48), ImageFormat::Png);
    bytes.extend_from_slice(b"%PDF-1.4 trailing");
    assert!(matches!(
        clean(&bytes, &CleanLimits::default()),
        Err(Refusal::Polyglot)
    ));
}

#[test]
fn png_claiming_huge_dimensions_is_a_bomb() {
    let bytes = encoded(&marked_gradient(64, 48), ImageFormat::Png);
    let mut png = Png::from_bytes(bytes.into()).expect("png");
    let mut header = png.chunks()[0].contents().to_vec();
    header[0..4].copy_from_slice(&100_000u32.to_be_bytes());
    header[4..8].copy_from_slice(&100_000u32.to_be_bytes());
    png.chunks_mut()[0] = PngChunk::new(*b"IHDR", header.into());
    let bomb = png.encoder().bytes().to_vec();
    assert!(matches!(
        clean(&bomb, &CleanLimits::default()),
        Err(Refusal::TooLargeUnpacked)
    ));
}

#[test]
fn jpeg_claiming_huge_dimensions_is_a_bomb() {
    let mut bytes = encoded(&marked_gradient(64, 48), ImageFormat::Jpeg);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline frame header");
    // Marker (2), length (2), precision (1), then height and width.
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(matches!(
        clean(&bytes, &CleanLimits::default()),
        Err(Refusal::TooLargeUnpacked)
    ));
}

#[test]
fn preview_fits_the_longer_side() {
    let bytes = encoded(&marked_gradient(2000, 1000), ImageFormat::Png);
    let cleaned = clean(&bytes, &CleanLimits::default()).expect("cleaned");

    let preview = render_preview(FileKind::Png, &cleaned.bytes, 800, &CleanLimits::default())
        .expect("preview");

    let format = image::guess_format(&preview).expect("known format");
    assert_eq!(format, ImageFormat::Png);
    assert_eq!(decode(&preview).dimensions(), (800, 400));
}

#[test]
fn jpeg_preview_is_jpeg() {
    let bytes = encoded(&marked_gradient(300, 600), ImageFormat::Jpeg);
    let preview =
        render_preview(FileKind::Jpeg, &bytes, 100, &CleanLimits::default()).expect("preview");
    assert_eq!(
        image::guess_format(&preview).expect("format"),
        ImageFormat::Jpeg
    );
    assert_eq!(decode(&preview).dimensions(), (50, 100));
}

#[test]
fn preview_of_a_document_is_refused() {
    let refused = render_preview(FileKind::Pdf, b"%PDF-1.4", 800, &CleanLimits::default());
    assert!(matches!(refused, Err(Refusal::Unsupported { .. })));
}
