//! `tipsa records …`: records management from the command line — the archive export and the
//! check of an archive package (`records_archive`).

use clap::Subcommand;

use super::records_archive::{self, ArchiveCommand};
use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    #[command(flatten)]
    Archive(ArchiveCommand),
}

/// Runs one `records` command.
pub async fn run(command: RecordsCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        RecordsCommand::Archive(command) => records_archive::run(command, settings).await,
    }
}
