//! The `tipsa` binary: parses the command line, loads settings, starts logging, runs.

use clap::Parser;

use tipsa::cli::{self, Cli};
use tipsa::config::Settings;

/// Large buffers (uploaded files, up to 25 MB each) are mapped and unmapped on their own
/// rather than kept in glibc's heap after they are freed: otherwise glibc raises its mmap
/// threshold after the first big free and keeps every later file's memory, and a node's
/// resident size grows by hundreds of MB under uploads without ever shrinking.
fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread
    // allocates (the runtime starts after it) and has no memory-safety preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn main() -> std::process::ExitCode {
    return_large_buffers_to_the_system();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("tipsa: starting the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> std::process::ExitCode {
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
