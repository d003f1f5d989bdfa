//! The package directory while it is written: every file goes through here, so its size and
//! SHA-256 are taken from the very bytes written, and the package appears under its final name
//! only once it is complete (a failed export leaves nothing behind).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::attachments::clean::FileKind;

/// What a file in the package is, for METS' MIMETYPE and PREMIS' format designation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Attachment(FileKind),
}

impl Format {
    /// The IANA media type (without parameters).
    pub fn mime(self) -> &'static str {
        match self {
            Format::Xml => "text/xml",
            Format::Attachment(FileKind::Text) => "text/plain",
            Format::Attachment(kind) => kind.media_type(),
        }
    }

    /// The format's name as PREMIS records it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xml => "Extensible Markup Language",
            Format::Attachment(kind) => match kind {
                FileKind::Jpeg => "JPEG File Interchange Format",
                FileKind::Png => "Portable Network Graphics",
                FileKind::Pdf => "Portable Document Format",
                FileKind::Docx => "Microsoft Word for Windows (Office Open XML)",
                FileKind::Xlsx => "Microsoft Excel for Windows (Office Open XML)",
                FileKind::Odt => "OpenDocument Text",
                FileKind::Text => "Plain Text File (UTF-8)",
                FileKind::Mp3 => "MPEG 1/2 Audio Layer 3",
                FileKind::M4a => "MPEG-4 Audio",
                FileKind::Ogg => "Ogg Vorbis Codec Compressed Multimedia File",
            },
        }
    }

    /// The PRONOM identifier where one fits every file of the kind.
    pub fn pronom(self) -> Option<&'static str> {
        match self {
            Format::Xml => Some("fmt/101"),
            Format::Attachment(FileKind::Text) => Some("x-fmt/111"),
            Format::Attachment(_) => None,
        }
    }
}

/// One written file: where it is in the package and what it is.
#[derive(Debug, Clone)]
pub struct PackageFile {
    /// Relative to the package root, `/`-separated, e.g. `representations/rep1/data/…`.
    pub path: String,
    pub format: Format,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub created: DateTime<Utc>,
}

/// The package being written, in `<out>/<id>.partial` until `finish` renames it.
pub struct Staging {
    staging: PathBuf,
    done: PathBuf,
    finished: bool,
}

impl Staging {
    /// Creates `<out>/<id>.partial`; refuses if either it or `<out>/<id>` exists.
    pub fn create(out_dir: &Path, package_id: &str) -> anyhow::Result<Self> {
        let done = out_dir.join(package_id);
        let staging = out_dir.join(format!("{package_id}.partial"));
        anyhow::ensure!(!done.exists(), "{} exists already", done.display());
        fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
        fs::create_dir(&staging).with_context(|| format!("creating {}", staging.display()))?;
        Ok(Staging {
            staging,
            done,
            finished: false,
        })
    }

    fn full_path(&self, relative: &str) -> anyhow::Result<PathBuf> {
        let path = self.staging.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        Ok(path)
    }

    /// Writes a whole file.
    pub fn write(
        &self,
        relative: &str,
        format: Format,
        bytes: &[u8],
    ) -> anyhow::Result<PackageFile> {
        let mut file = self.open(relative, format)?;
        file.write(bytes)?;
        file.finish()
    }

    /// A file to write piece by piece (attachments, chunk by chunk).
    pub fn open(&self, relative: &str, format: Format) -> anyhow::Result<FileWriter> {
        let path = self.full_path(relative)?;
        let file = File::create_new(&path).with_context(|| format!("creating {relative}"))?;
        Ok(FileWriter {
            file,
            hasher: Sha256::new(),
            size: 0,
            relative: relative.to_owned(),
            format,
        })
    }

    /// The directory the package will have once finished.
    pub fn final_path(&self) -> &Path {
        &self.done
    }

    /// Renames the complete package to its final name.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        fs::rename(&self.staging, &self.done)
            .with_context(|| format!("renaming the package to {}", self.done.display()))?;
        self.finished = true;
        Ok(self.done.clone())
    }
}

impl Drop for Staging {
    /// An export that failed or was abandoned removes what it had written.
    fn drop(&mut self) {
        if !self.finished && fs::remove_dir_all(&self.staging).is_err() {
            tracing::warn!(
                path = %self.staging.display(),
                "removing an unfinished archive package failed"
            );
        }
    }
}

/// A file being written, hashed as it goes.
pub struct FileWriter {
    file: File,
    hasher: Sha256,
    size: u64,
    relative: String,
    format: Format,
}

impl FileWriter {
    pub fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.file
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.relative))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Flushes the file to disk and describes it.
    pub fn finish(self) -> anyhow::Result<PackageFile> {
        self.file
            .sync_all()
            .with_context(|| format!("writing {}", self.relative))?;
        Ok(PackageFile {
            path: self.relative,
            format: self.format,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
            created: Utc::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_package_is_renamed_and_an_abandoned_one_removed() {
        let out = std::env::temp_dir().join(format!("tipsa-staging-{}", uuid::Uuid::new_v4()));
        let staging = Staging::create(&out, "pkg").unwrap();
        let file = staging.write("a/b.xml", Format::Xml, b"<a/>").unwrap();
        assert_eq!(file.size, 4);
        assert_eq!(file.sha256, hex::encode(Sha256::digest(b"<a/>")));
        let done = staging.finish().unwrap();
        assert_eq!(fs::read(done.join("a/b.xml")).unwrap(), b"<a/>");
        assert!(!out.join("pkg.partial").exists());
        assert!(
            Staging::create(&out, "pkg").is_err(),
            "never overwrites a package"
        );

        let abandoned = Staging::create(&out, "other").unwrap();
        abandoned.write("x.xml", Format::Xml, b"<x/>").unwrap();
        drop(abandoned);
        assert!(!out.join("other.partial").exists() && !out.join("other").exists());
        fs::remove_dir_all(out).unwrap();
    }
}
