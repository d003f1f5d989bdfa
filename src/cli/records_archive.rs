//! `tipsa records archive` and `tipsa records verify-package`: writes the archive package of
//! the tips to be kept that were closed in a period (audited as `cli:records-archive`), and
//! checks a package's manifest, checksums and completeness without the database.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::attachments::blob::BlobStore;
use crate::config::Settings;
use crate::crypto::Crypto;
use crate::db;
use crate::records::RecordsRules;
use crate::records::archive::{self, verify};
use crate::web::i18n::{Lang, Translations};

const ACTOR: &str = "cli:records-archive";

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Write an archive package (FGS Paketstruktur / E-ARK CSIP SIP) of the tips to be kept
    /// (bevaras) that were closed in a period; prints the package's path and what it holds.
    Archive {
        /// First day of the period (YYYY-MM-DD, Swedish time).
        #[arg(long)]
        from: NaiveDate,
        /// The day after the period (YYYY-MM-DD): for the year 2026, --from 2026-01-01
        /// --to 2027-01-01.
        #[arg(long)]
        to: NaiveDate,
        /// Directory to create the package directory in.
        #[arg(long)]
        out: PathBuf,
        /// Deliver the package as one uncompressed tar file (`<package id>.tar`) instead of
        /// a directory.
        #[arg(long)]
        tar: bool,
    },
    /// Check an archive package: every file METS.xml lists is there with its size and SHA-256,
    /// PREMIS agrees, and nothing is unlisted. Exit status 1 naming each bad file.
    VerifyPackage {
        /// The package directory (the one holding METS.xml), or its `.tar` file.
        path: PathBuf,
    },
}

pub async fn run(command: ArchiveCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ArchiveCommand::Archive { from, to, out, tar } => {
            export(settings, from, to, &out, tar).await
        }
        ArchiveCommand::VerifyPackage { path } => verify_package(&path),
    }
}

async fn export(
    settings: &Settings,
    from: NaiveDate,
    to: NaiveDate,
    out: &Path,
    as_tar: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        from < to,
        "--from must be before --to (the period runs from --from up to, not including, --to)"
    );
    let crypto = Crypto::load(&settings.secrets, &settings.var_dir)?;
    let rules = RecordsRules::load(&settings.config_dir)?;
    let blobs = BlobStore::from_settings(&settings.attachments.storage)?;
    let translations = Translations::load().context("loading the Swedish labels")?;
    let outbreaks = super::outbreak_labels(settings);
    super::with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let taxonomy = db::taxonomy::load(&mut conn, outbreaks).await?;
        let sources = archive::Sources {
            crypto: &crypto,
            blobs: &blobs,
            rules: &rules,
            taxonomy: &taxonomy,
            texts: translations.texts(Lang::Sv),
        };
        let summary = archive::export(
            &mut conn,
            &sources,
            &archive::Request {
                from,
                to,
                out_dir: out,
                actor: ACTOR,
            },
        )
        .await?;
        let delivered = if as_tar {
            archive::tarball::pack(&summary.path)?
        } else {
            summary.path.clone()
        };
        println!("{}", delivered.display());
        println!(
            "Package {}: {} tip(s), {} file(s), {} bytes.",
            summary.package_id, summary.tips, summary.files, summary.bytes
        );
        Ok(())
    })
    .await
}

fn verify_package(path: &Path) -> anyhow::Result<()> {
    let report = if path.is_file() {
        let scratch = std::env::temp_dir().join(format!("tipsa-verify-{}", uuid::Uuid::new_v4()));
        let report = archive::tarball::unpack(path, &scratch).and_then(|dir| verify::verify(&dir));
        if std::fs::remove_dir_all(&scratch).is_err() {
            eprintln!(
                "Could not remove the scratch directory {}.",
                scratch.display()
            );
        }
        report?
    } else {
        verify::verify(path)?
    };
    if report.problems.is_empty() {
        println!(
            "Package {} is intact: {} file(s) listed in METS.xml, {} bytes; every size and SHA-256 \
             agrees with METS.xml and PREMIS, and no file is unlisted.",
            report.package_id, report.files, report.bytes
        );
        return Ok(());
    }
    for problem in &report.problems {
        println!("{}: {}", problem.path, problem.problem);
    }
    anyhow::bail!(
        "package {} failed verification: {} problem(s)",
        report.package_id,
        report.problems.len()
    )
}
