//! The `tipsa` binary: parses the command line, loads settings, starts logging, runs.

use clap::Parser;

use tipsa::cli::{self, Cli};
use tipsa::config::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tipsa: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tipsa::telemetry::init(&settings.log);
    match cli::run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("tipsa: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
