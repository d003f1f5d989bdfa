//! `tipsa records …`: records management from the command line — `dispose` runs disposal
//! (gallring) by the rules in records.toml now or previews it with `--dry-run`; the archive
//! export and the check of an archive package are in `records_archive`.

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::Subcommand;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::records_archive::{self, ArchiveCommand};
use crate::config::Settings;
use crate::records::RecordsRules;
use crate::records::disposal::{self, Options, Progress, RunReport};

/// Who the audit log names for a run from the command line.
const ACTOR: &str = "cli:records-dispose";
/// Tips per page of a dry run's listing.
const LISTING_PAGE: i64 = 1000;

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Dispose of (gallra) the closed tips whose retention period under records.toml has run
    /// out: their content, or the whole tip, as the rule says. Held tips and tips in an
    /// undecided public-records request are skipped. Batched and resumable; one run at a time.
    Dispose {
        /// List what would be disposed of (reference, rule, closure, what goes) and change
        /// nothing.
        #[arg(long)]
        dry_run: bool,
        /// Measure the periods at this instant instead of now: RFC 3339
        /// (2026-12-03T12:00:00+01:00) or a date (2026-12-03, the start of that day in
        /// Sweden). Later than now only with --dry-run.
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<DateTime<Utc>>,
        /// Tips per transaction (default: disposal.batch_tips in records.toml).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=10000))]
        batch: Option<i64>,
        /// Milliseconds to wait between batches (default: disposal.pause_ms in records.toml).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60000))]
        pause_ms: Option<u64>,
    },
    #[command(flatten)]
    Archive(ArchiveCommand),
}

/// `--as-of`: RFC 3339, or a date meaning its first instant in Swedish time.
fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!("{text:?} is neither an RFC 3339 time (2026-12-03T12:00:00+01:00) nor a date (2026-12-03)")
    })?;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| format!("{text:?} has no midnight"))?;
    chrono_tz::Europe::Stockholm
        .from_local_datetime(&midnight)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| format!("{text:?} has no midnight in Swedish time"))
}

pub async fn run(action: RecordsCommand, settings: &Settings) -> anyhow::Result<()> {
    match action {
        RecordsCommand::Dispose {
            dry_run,
            as_of,
            batch,
            pause_ms,
        } => dispose(settings, dry_run, as_of, (batch, pause_ms)).await,
        RecordsCommand::Archive(command) => records_archive::run(command, settings).await,
    }
}

async fn dispose(
    settings: &Settings,
    dry_run: bool,
    as_of: Option<DateTime<Utc>>,
    (batch, pause_ms): (Option<i64>, Option<u64>),
) -> anyhow::Result<()> {
    let now = Utc::now();
    let as_of = as_of.unwrap_or(now);
    // A real run as of a later instant would dispose of tips before their time.
    if as_of > now && !dry_run {
        anyhow::bail!(
            "--as-of {} is in the future: a disposal run may only dispose of what is due now; \
             add --dry-run to preview what will be due then",
            as_of.to_rfc3339()
        );
    }
    let rules = RecordsRules::load(&settings.config_dir).context("loading records.toml")?;
    // The audit chain's key; a dry run writes nothing, so it needs none.
    let crypto = if dry_run {
        None
    } else {
        Some(crate::crypto::Crypto::load(
            &settings.secrets,
            &settings.var_dir,
        )?)
    };
    let options = Options {
        as_of,
        batch_tips: batch.unwrap_or(rules.disposal.batch_tips),
        pause: std::time::Duration::from_millis(pause_ms.unwrap_or(rules.disposal.pause_ms)),
        actor: ACTOR.to_owned(),
    };
    super::with_database(settings, |url| async move {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let Some(crypto) = crypto else {
            return preview(&mut conn, &rules, as_of).await;
        };
        let mut lock_conn = AsyncPgConnection::establish(&url)
            .await
            .context("connecting to PostgreSQL")?;
        let mut bar = Bar::new(options.batch_tips);
        let report = disposal::run(
            &mut lock_conn,
            &mut conn,
            &crypto,
            &rules,
            &options,
            &mut bar,
        )
        .await?;
        bar.finish();
        match report {
            Some(report) => {
                print_report(&report, as_of);
                Ok(())
            }
            None => anyhow::bail!(
                "another disposal run is in progress (on this or another node); nothing was done"
            ),
        }
    })
    .await
}

/// `--dry-run`: every tip that would go, then the counts per rule.
async fn preview(
    conn: &mut AsyncPgConnection,
    rules: &RecordsRules,
    as_of: DateTime<Utc>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let started = std::time::Instant::now();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16} {:<24} {:<26} REMOVES",
        "REFERENCE", "RULE", "CLOSED"
    )?;
    let mut written: std::io::Result<()> = Ok(());
    disposal::list_due(conn, rules, as_of, LISTING_PAGE, |tips| {
        for tip in tips {
            if written.is_ok() {
                written = writeln!(
                    out,
                    "{:<16} {:<24} {:<26} {}",
                    tip.reference,
                    tip.rule,
                    tip.closed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    tip.removes.as_str()
                );
            }
        }
    })
    .await
    .context("listing the tips due")?;
    written?;
    let plan = disposal::plan(conn, rules, as_of)
        .await
        .context("counting the tips due")?;
    writeln!(
        out,
        "\nDry run as of {}: nothing was changed.",
        as_of.to_rfc3339()
    )?;
    for rule in &plan {
        writeln!(
            out,
            "  {:<24} would dispose of {} tip(s); skipped: {} held, {} in undecided records requests",
            rule.rule, rule.due, rule.held, rule.requested
        )?;
    }
    let due: i64 = plan.iter().map(|r| r.due).sum();
    let held: i64 = plan.iter().map(|r| r.held).sum();
    let requested: i64 = plan.iter().map(|r| r.requested).sum();
    writeln!(
        out,
        "would dispose of {due} tip(s); skipped: {held} held, {requested} in undecided records requests ({:.1} s)",
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

fn print_report(report: &RunReport, as_of: DateTime<Utc>) {
    println!(
        "Disposal run {} as of {}:",
        report.run_id,
        as_of.to_rfc3339()
    );
    for (rule, tips) in &report.per_rule {
        println!("  {rule:<24} disposed of {tips} tip(s)");
    }
    println!(
        "disposed of {} tip(s) ({} whole) in {:.1} s, {:.0} tips/s",
        report.disposed,
        report.whole,
        report.elapsed.as_secs_f64(),
        report.rate()
    );
    println!(
        "skipped: {} held, {} in undecided records requests",
        report.skipped_held, report.skipped_requested
    );
    if report.left_busy > 0 {
        println!(
            "left for the next run: {} tip(s) in use by another transaction",
            report.left_busy
        );
    }
}

/// The progress bar of a long run: on stderr, only when it is a terminal and the run takes
/// more than one batch.
struct Bar {
    batch: i64,
    bar: Option<ProgressBar>,
}

impl Bar {
    fn new(batch: i64) -> Self {
        Bar { batch, bar: None }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&mut self, due: u64) {
        if !std::io::stderr().is_terminal() || due <= self.batch.max(0) as u64 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(due), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} tips ({per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        self.bar = Some(bar);
    }

    fn advance(&mut self, disposed: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(disposed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_rfc3339_or_a_swedish_date() {
        assert_eq!(
            parse_as_of("2026-06-01").unwrap(),
            "2026-05-31T22:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            parse_as_of("2026-01-15T10:00:00+01:00").unwrap(),
            "2026-01-15T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let error = parse_as_of("yesterday").unwrap_err();
        assert!(error.contains("RFC 3339"), "{error}");
        assert!(parse_as_of("2026-02-30").is_err());
    }
}
