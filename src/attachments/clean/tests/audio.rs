//! MP3 and Ogg Vorbis tag removal (fixtures from lame and oggenc). M4A has no fixture: no
//! small Debian tool writes one (ffmpeg is too large to install for this).

use super::super::{CleanLimits, FileKind, clean};
use super::{Scratch, exif_json, run};

/// Half a second of 8 kHz mono 16-bit silence.
fn silence(scratch: &Scratch) -> String {
    let path = scratch.write("silence.raw", &vec![0u8; 8000]);
    path.to_str().expect("utf-8 path").to_owned()
}

fn assert_untagged(json: &str) {
    for tag in [
        "Anna Andersson",
        "Hemlig inspelning",
        ":Artist\"",
        ":Title\"",
    ] {
        assert!(!json.contains(tag), "{tag} survived:\n{json}");
    }
}

#[test]
fn mp3_loses_id3_tags() {
    let scratch = Scratch::new("mp3");
    let raw = silence(&scratch);
    let mp3 = scratch.path("tagged.mp3");
    let mp3 = mp3.to_str().expect("utf-8 path");
    let args = [
        "--quiet",
        "-r",
        "-s",
        "8",
        "--bitwidth",
        "16",
        "--signed",
        "--little-endian",
        "-m",
        "m",
        "--add-id3v2",
        "--ta",
        "Anna Andersson",
        "--tt",
        "Hemlig inspelning",
        &raw,
        mp3,
    ];
    run("lame", "lame", &args);
    let original = scratch.read("tagged.mp3");
    assert!(exif_json(&scratch, "before.mp3", &original).contains("Anna Andersson"));

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_eq!(cleaned.kind, FileKind::Mp3);
    assert_untagged(&exif_json(&scratch, "after.mp3", &cleaned.bytes));
}

#[test]
fn ogg_vorbis_loses_its_comments() {
    let scratch = Scratch::new("ogg");
    let raw = silence(&scratch);
    let ogg = scratch.path("tagged.ogg");
    let ogg = ogg.to_str().expect("utf-8 path");
    let args = [
        "--quiet",
        "-r",
        "-B",
        "16",
        "-C",
        "1",
        "-R",
        "8000",
        "-a",
        "Anna Andersson",
        "-t",
        "Hemlig inspelning",
        "-o",
        ogg,
        &raw,
    ];
    run("oggenc", "vorbis-tools", &args);
    let original = scratch.read("tagged.ogg");
    assert!(exif_json(&scratch, "before.ogg", &original).contains("Anna Andersson"));

    let cleaned = clean(&original, &CleanLimits::default()).expect("cleaned");

    assert_eq!(cleaned.kind, FileKind::Ogg);
    assert_untagged(&exif_json(&scratch, "after.ogg", &cleaned.bytes));
}
