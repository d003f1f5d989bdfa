//! Checks a package as the receiving archive would: re-reads `METS.xml`, and for every file it
//! lists (the file section and the metadata references) checks that the file is there with the
//! stated size and SHA-256; that PREMIS states the same fixity for every content file; and that
//! the package holds no file METS does not list. Reads only the files — no database, no keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path};

use anyhow::Context;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use sha2::{Digest, Sha256};

use super::xml::{METS_NS, PREMIS_NS, XLINK_NS};

/// A file as METS describes it.
#[derive(Debug, Clone, Default)]
struct Listed {
    href: String,
    size: Option<String>,
    checksum: Option<String>,
    checksum_type: Option<String>,
    /// From the file section (content) rather than a metadata reference.
    content: bool,
    metadata_type: Option<String>,
}

/// One file that failed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub problem: String,
}

/// What was checked, and what failed.
#[derive(Debug, Default)]
pub struct Report {
    pub package_id: String,
    /// Files listed in METS.xml (content and metadata).
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<Problem>,
}

impl Report {
    fn problem(&mut self, path: &str, problem: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            problem: problem.into(),
        });
    }
}

/// Verifies the package in `root`. Errors only when METS.xml cannot be read or parsed; every
/// other finding is a problem in the report.
pub fn verify(root: &Path) -> anyhow::Result<Report> {
    let mets_path = root.join("METS.xml");
    let mets = std::fs::read_to_string(&mets_path)
        .with_context(|| format!("reading {}", mets_path.display()))?;
    let (package_id, listed) =
        read_mets(&mets).context("METS.xml is not a readable METS document")?;
    let mut report = Report {
        package_id,
        ..Report::default()
    };
    let folder = root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if report.package_id != folder {
        report.problem(
            "METS.xml",
            format!(
                "OBJID {:?} is not the package folder's name",
                report.package_id
            ),
        );
    }
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for file in &listed {
        if !seen.insert(file.href.clone()) {
            report.problem(&file.href, "listed twice in METS.xml");
            continue;
        }
        if let Some(digest) = check_listed(root, file, &mut report) {
            actual.insert(file.href.clone(), digest);
        }
    }
    report.files = listed.len();
    check_premis(root, &listed, &actual, &mut report);
    let mut present = Vec::new();
    walk(root, root, &mut present, &mut report)?;
    for path in present {
        if path != "METS.xml" && !seen.contains(&path) {
            report.problem(&path, "in the package but not listed in METS.xml");
        }
    }
    Ok(report)
}

/// The package id and every file METS lists.
fn read_mets(text: &str) -> anyhow::Result<(String, Vec<Listed>)> {
    let mut reader = NsReader::from_str(text);
    let mut package_id = None;
    let mut listed = Vec::new();
    let mut current_file: Option<Listed> = None;
    loop {
        let (ns, event) = reader.read_resolved_event()?;
        let in_mets = matches!(ns, ResolveResult::Bound(ns) if ns.as_ref() == METS_NS);
        match event {
            Event::Start(e) | Event::Empty(e) if in_mets => {
                let attrs = attributes(&reader, &e)?;
                match e.local_name().as_ref() {
                    "mets" => package_id = attrs.get("OBJID").cloned(),
                    "file" => {
                        current_file = Some(Listed {
                            size: attrs.get("SIZE").cloned(),
                            checksum: attrs.get("CHECKSUM").cloned(),
                            checksum_type: attrs.get("CHECKSUMTYPE").cloned(),
                            content: true,
                            ..Listed::default()
                        });
                    }
                    "FLocat" => {
                        let href = attrs.get("xlink:href").cloned();
                        match (current_file.as_mut(), href) {
                            (Some(file), Some(href)) => file.href = href,
                            _ => anyhow::bail!("an FLocat outside a file, or without xlink:href"),
                        }
                    }
                    "mdRef" => listed.push(Listed {
                        href: attrs
                            .get("xlink:href")
                            .cloned()
                            .context("an mdRef without xlink:href")?,
                        size: attrs.get("SIZE").cloned(),
                        checksum: attrs.get("CHECKSUM").cloned(),
                        checksum_type: attrs.get("CHECKSUMTYPE").cloned(),
                        content: false,
                        metadata_type: attrs.get("MDTYPE").cloned(),
                    }),
                    _ => {}
                }
            }
            Event::End(e) if in_mets && e.local_name().as_ref() == "file" => {
                let file = current_file.take().context("unbalanced file element")?;
                anyhow::ensure!(!file.href.is_empty(), "a file without an FLocat");
                listed.push(file);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let package_id = package_id.context("no mets element with an OBJID")?;
    Ok((package_id, listed))
}

/// An element's attributes by name; xlink attributes as `xlink:<name>` whatever their prefix.
fn attributes(
    reader: &NsReader<&[u8]>,
    element: &BytesStart<'_>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for attr in element.attributes() {
        let attr = attr?;
        let (ns, local) = reader.resolver().resolve_attribute(attr.key);
        let local = local.as_ref().to_owned();
        let name = match ns {
            ResolveResult::Bound(ns) if ns.as_ref() == XLINK_NS => format!("xlink:{local}"),
            ResolveResult::Unbound => local,
            _ => continue,
        };
        out.insert(
            name,
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)?
                .into_owned(),
        );
    }
    Ok(out)
}

/// A relative, `/`-separated path inside the package; `None` for anything that could leave it.
fn inside(root: &Path, href: &str) -> Option<std::path::PathBuf> {
    if href.is_empty() || href.contains('\\') || href.contains(':') {
        return None;
    }
    let relative = Path::new(href);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(relative))
}

/// Size and checksum of one listed file; its SHA-256 when it could be read.
fn check_listed(root: &Path, file: &Listed, report: &mut Report) -> Option<String> {
    let href = &file.href;
    let Some(path) = inside(root, href) else {
        report.problem(href, "not a relative path inside the package");
        return None;
    };
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) if metadata.is_file() => metadata,
        Ok(_) => {
            report.problem(href, "not a regular file");
            return None;
        }
        Err(_) => {
            report.problem(href, "missing");
            return None;
        }
    };
    if file.checksum_type.as_deref() != Some("SHA-256") {
        report.problem(href, "CHECKSUMTYPE is not SHA-256");
    }
    match file.size.as_deref().map(str::parse::<u64>) {
        Some(Ok(size)) if size == metadata.len() => {}
        Some(Ok(size)) => report.problem(
            href,
            format!("SIZE says {size} bytes, the file has {}", metadata.len()),
        ),
        _ => report.problem(href, "no valid SIZE"),
    }
    report.bytes += metadata.len();
    let digest = match sha256_of(&path) {
        Ok(digest) => digest,
        Err(error) => {
            report.problem(href, format!("cannot be read: {error}"));
            return None;
        }
    };
    if file.checksum.as_deref().map(str::to_ascii_lowercase) != Some(digest.clone()) {
        report.problem(href, "SHA-256 differs from METS.xml's CHECKSUM");
    }
    Some(digest)
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = BufReader::new(File::open(path)?);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every content file has a PREMIS object whose SHA-256 agrees, and PREMIS names no other.
fn check_premis(
    root: &Path,
    listed: &[Listed],
    actual: &BTreeMap<String, String>,
    report: &mut Report,
) {
    let premis_files: Vec<&Listed> = listed
        .iter()
        .filter(|f| f.metadata_type.as_deref() == Some("PREMIS"))
        .collect();
    let [premis] = premis_files.as_slice() else {
        report.problem("METS.xml", "does not reference exactly one PREMIS file");
        return;
    };
    let Some(path) = inside(root, &premis.href) else {
        return;
    };
    let objects = match std::fs::read_to_string(&path)
        .map_err(anyhow::Error::from)
        .and_then(|text| read_premis(&text))
    {
        Ok(objects) => objects,
        Err(error) => {
            report.problem(&premis.href, format!("not readable PREMIS: {error:#}"));
            return;
        }
    };
    for file in listed.iter().filter(|f| f.content) {
        match objects.get(&file.href) {
            None => report.problem(&file.href, "no PREMIS object"),
            Some((algorithm, _)) if algorithm != "SHA-256" => {
                report.problem(&file.href, "PREMIS fixity is not SHA-256")
            }
            Some((_, digest)) => {
                if actual.get(&file.href) != Some(&digest.to_ascii_lowercase()) {
                    report.problem(&file.href, "SHA-256 differs from PREMIS fixity");
                }
            }
        }
    }
    let content: BTreeSet<&str> = listed
        .iter()
        .filter(|f| f.content)
        .map(|f| f.href.as_str())
        .collect();
    for path in objects.keys() {
        if !content.contains(path.as_str()) {
            report.problem(path, "a PREMIS object for a file METS.xml does not list");
        }
    }
}

/// PREMIS objects: identifier value → (digest algorithm, digest).
fn read_premis(text: &str) -> anyhow::Result<BTreeMap<String, (String, String)>> {
    let mut reader = NsReader::from_str(text);
    let mut objects = BTreeMap::new();
    let mut in_object = false;
    let mut current: (Option<String>, Option<String>, Option<String>) = (None, None, None);
    let mut text_buffer = String::new();
    loop {
        let (ns, event) = reader.read_resolved_event()?;
        let in_premis = matches!(ns, ResolveResult::Bound(ns) if ns.as_ref() == PREMIS_NS);
        match event {
            Event::Start(e) if in_premis => {
                text_buffer.clear();
                if e.local_name().as_ref() == "object" {
                    in_object = true;
                    current = (None, None, None);
                }
            }
            Event::Text(t) => text_buffer.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref()? {
                Some(c) => text_buffer.push(c),
                None => text_buffer.push_str(
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .context("an unknown entity")?,
                ),
            },
            Event::End(e) if in_premis && in_object => {
                let value = std::mem::take(&mut text_buffer).trim().to_owned();
                match e.local_name().as_ref() {
                    "objectIdentifierValue" => current.0 = Some(value),
                    "messageDigestAlgorithm" => current.1 = Some(value),
                    "messageDigest" => current.2 = Some(value),
                    "object" => {
                        in_object = false;
                        let (Some(id), Some(algorithm), Some(digest)) =
                            std::mem::take(&mut current)
                        else {
                            anyhow::bail!("a PREMIS object without identifier or fixity");
                        };
                        objects.insert(id, (algorithm, digest));
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(objects)
}

/// Every regular file under `dir`, relative to `root`; anything else is a problem.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>, report: &mut Report) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"))
            .unwrap_or_default();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out, report)?;
        } else if kind.is_file() {
            out.push(relative);
        } else {
            report.problem(&relative, "not a regular file or directory");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_paths_inside_the_package_are_followed() {
        let root = Path::new("/pkg");
        assert!(inside(root, "representations/rep1/data/x.xml").is_some());
        for outside in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            "a\\b",
            "file:///x",
            "",
            "./a",
        ] {
            assert!(inside(root, outside).is_none(), "{outside}");
        }
    }

    /// A hand-written package: one content file whose METS checksum is right but whose PREMIS
    /// fixity is not.
    #[test]
    fn premis_fixity_that_disagrees_is_named() {
        let root = std::env::temp_dir().join(format!("tipsa-verify-{}", uuid::Uuid::new_v4()));
        let root = root.join("pkg");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(root.join("metadata")).unwrap();
        let content = b"hello";
        std::fs::write(root.join("data/a.txt"), content).unwrap();
        let digest = hex::encode(Sha256::digest(content));
        let premis = format!(
            "<premis xmlns=\"{PREMIS_NS}\"><object><objectIdentifier>\
             <objectIdentifierValue>data/a.txt</objectIdentifierValue></objectIdentifier>\
             <objectCharacteristics><fixity><messageDigestAlgorithm>SHA-256</messageDigestAlgorithm>\
             <messageDigest>{}</messageDigest></fixity></objectCharacteristics></object></premis>",
            "0".repeat(64)
        );
        std::fs::write(root.join("metadata/premis.xml"), &premis).unwrap();
        let premis_digest = hex::encode(Sha256::digest(premis.as_bytes()));
        let mets = format!(
            "<m:mets xmlns:m=\"{METS_NS}\" xmlns:x=\"{XLINK_NS}\" OBJID=\"pkg\">\
             <m:amdSec><m:digiprovMD ID=\"p\"><m:mdRef x:href=\"metadata/premis.xml\" MDTYPE=\"PREMIS\" \
             SIZE=\"{}\" CHECKSUM=\"{premis_digest}\" CHECKSUMTYPE=\"SHA-256\"/></m:digiprovMD></m:amdSec>\
             <m:fileSec><m:fileGrp><m:file ID=\"f\" SIZE=\"5\" CHECKSUM=\"{digest}\" CHECKSUMTYPE=\"SHA-256\">\
             <m:FLocat x:href=\"data/a.txt\"/></m:file></m:fileGrp></m:fileSec></m:mets>",
            premis.len()
        );
        std::fs::write(root.join("METS.xml"), mets).unwrap();
        let report = verify(&root).unwrap();
        assert_eq!(report.package_id, "pkg");
        assert_eq!(report.files, 2);
        assert_eq!(
            report.problems,
            vec![Problem {
                path: "data/a.txt".into(),
                problem: "SHA-256 differs from PREMIS fixity".into()
            }]
        );
        std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
    }
}
