//! Tests of the cleaners and fixture helpers. Every fixture is built here; metadata is written
//! with exiftool (Debian package libimage-exiftool-perl), audio made with lame and oggenc
//! (packages lame, vorbis-tools). A missing tool fails the test, naming the package.

mod audio;
mod images;
mod office;
mod pdf;
mod refusals;

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// Values the fixtures carry that must not survive cleaning.
pub(super) const IDENTIFYING_VALUES: [&str; 5] = [
    "Anna Andersson",
    "TipsaPhoneMaker",
    "TipsaModel9",
    "SN-778899",
    "2026:01:02 03:04:05",
];

/// Tag names (as `exiftool -j -G1` prints them) that must not survive cleaning.
pub(super) const IDENTIFYING_TAGS: [&str; 11] = [
    ":GPSLatitude\"",
    ":GPSLongitude\"",
    ":Make\"",
    ":Model\"",
    ":SerialNumber\"",
    ":Artist\"",
    ":Creator\"",
    ":By-line\"",
    ":DateTimeOriginal\"",
    ":ThumbnailImage\"",
    ":Author\"",
];

/// A scratch directory removed when dropped.
pub(super) struct Scratch(PathBuf);

impl Scratch {
    pub(super) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tipsa-clean-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub(super) fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, bytes).expect("write scratch file");
        path
    }

    pub(super) fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.0.join(file)).expect("read scratch file")
    }

    pub(super) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a tool that must be installed; fails naming the Debian package when it is not.
pub(super) fn run(tool: &str, package: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("{tool} is needed for this test (apt-get install {package}): {error}")
        });
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(super) fn exiftool(args: &[&str]) -> String {
    run("exiftool", "libimage-exiftool-perl", args)
}

/// exiftool's JSON view of a file (all tags, with group names).
pub(super) fn exif_json(scratch: &Scratch, file: &str, bytes: &[u8]) -> String {
    let path = scratch.write(file, bytes);
    exiftool(&["-j", "-a", "-G1", path.to_str().expect("utf-8 path")])
}

/// Fails when any identifying value or tag name appears in exiftool's output.
pub(super) fn assert_nothing_identifying(json: &str) {
    for value in IDENTIFYING_VALUES.iter().chain(IDENTIFYING_TAGS.iter()) {
        assert!(!json.contains(value), "{value} survived cleaning:\n{json}");
    }
}

/// Writes the identifying metadata of the brief into a picture file with exiftool.
pub(super) fn add_identifying_metadata(path: &std::path::Path, extra: &[&str]) {
    let path = path.to_str().expect("utf-8 path");
    let mut args = vec![
        "-overwrite_original",
        "-GPSLatitude=59.3293",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=18.0686",
        "-GPSLongitudeRef=E",
        "-Make=TipsaPhoneMaker",
        "-Model=TipsaModel9",
        "-SerialNumber=SN-778899",
        "-Artist=Anna Andersson",
        "-XMP-dc:Creator=Anna Andersson",
        "-DateTimeOriginal=2026:01:02 03:04:05",
    ];
    args.extend_from_slice(extra);
    args.push(path);
    exiftool(&args);
}

/// A gradient with a red 16×16 block in the top left corner, to see rotations.
pub(super) fn marked_gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if x < 16 && y < 16 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, (x * 255 / width) as u8, (y * 255 / height) as u8])
        }
    })
}

pub(super) fn encoded(picture: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(picture.clone())
        .write_to(&mut out, format)
        .expect("encode fixture");
    out.into_inner()
}

/// A JPEG fixture carrying all the identifying metadata, `Orientation` as given.
pub(super) fn identifying_jpeg(scratch: &Scratch, orientation: &str) -> Vec<u8> {
    let thumb = scratch.write(
        "thumb.jpg",
        &encoded(&marked_gradient(16, 12), ImageFormat::Jpeg),
    );
    let path = scratch.write(
        "photo.jpg",
        &encoded(&marked_gradient(64, 48), ImageFormat::Jpeg),
    );
    let thumbnail = format!("-ThumbnailImage<={}", thumb.to_str().expect("utf-8 path"));
    let orientation = format!("-Orientation#={orientation}");
    add_identifying_metadata(
        &path,
        &["-IPTC:By-line=Anna Andersson", &orientation, &thumbnail],
    );
    scratch.read("photo.jpg")
}

pub(super) fn is_red(pixel: &image::Rgb<u8>) -> bool {
    pixel[0] > 200 && pixel[1] < 60 && pixel[2] < 60
}
