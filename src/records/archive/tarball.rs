//! The package as one uncompressed tar file (`tipsa records archive --tar`), for archives that
//! take a delivery as a single file: the package directory as its only top-level entry,
//! `METS.xml` first. `verify-package` unpacks such a file into a scratch directory to check it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `<package>.tar` beside the package directory and removes the directory.
pub fn pack(package: &Path) -> anyhow::Result<PathBuf> {
    let name = package
        .file_name()
        .and_then(|n| n.to_str())
        .context("the package directory has no name")?;
    let parent = package
        .parent()
        .context("the package directory has no parent")?;
    let target = parent.join(format!("{name}.tar"));
    let partial = parent.join(format!("{name}.tar.partial"));
    let written = write_tar(package, name, &partial);
    if let Err(error) = written {
        let _ = fs::remove_file(&partial);
        return Err(error.context(format!(
            "writing {} (the package directory {} is complete and kept)",
            target.display(),
            package.display()
        )));
    }
    fs::rename(&partial, &target).with_context(|| format!("renaming to {}", target.display()))?;
    fs::remove_dir_all(package).with_context(|| format!("removing {}", package.display()))?;
    Ok(target)
}

fn write_tar(package: &Path, name: &str, partial: &Path) -> anyhow::Result<()> {
    let file =
        File::create_new(partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    builder.follow_symlinks(false);
    builder.append_dir(name, package)?;
    let mut entries = Vec::new();
    collect(package, package, &mut entries)?;
    // METS.xml first, so a reader streaming the file meets the manifest before the content.
    entries.sort_by_key(|relative| (relative != "METS.xml", relative.clone()));
    for relative in entries {
        let path = package.join(&relative);
        let inside = format!("{name}/{relative}");
        if path.is_dir() {
            builder.append_dir(&inside, &path)?;
        } else {
            builder.append_path_with_name(&path, &inside)?;
        }
    }
    let mut writer = builder.into_inner()?;
    writer.flush()?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// Every directory and file under `dir`, relative to `root`, `/`-separated.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let relative = path
            .strip_prefix(root)?
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/");
        out.push(relative);
        if path.is_dir() {
            collect(root, &path, out)?;
        }
    }
    Ok(())
}

/// Unpacks a package tar into `scratch` (which must not exist) and returns the package
/// directory inside it: the tar's only top-level entry.
pub fn unpack(tar_path: &Path, scratch: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let file = File::open(tar_path).with_context(|| format!("opening {}", tar_path.display()))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(false);
    // The tar crate refuses entries that would land outside `scratch` (`..`, absolute paths).
    archive
        .unpack(scratch)
        .with_context(|| format!("unpacking {}", tar_path.display()))?;
    let top: Vec<PathBuf> = fs::read_dir(scratch)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    match top.as_slice() {
        [package] if package.is_dir() => Ok(package.clone()),
        _ => anyhow::bail!(
            "{} does not hold exactly one package directory at its top",
            tar_path.display()
        ),
    }
}
