//! The cluster benchmark's output: one line per round while it runs, and at the end one table
//! per phase (instrumentation cost, one node vs two, half-peak variants) with the means,
//! ratios, per-tip CPU costs and PASS/FAIL against the targets. Every figure says what it is
//! per (tip, node, second), so the output reads without the source. Included by
//! `benches/cluster.rs` through `#[path]`.

use hdrhistogram::Histogram;

use crate::Params;
use crate::common::pass;
use crate::load::PhaseResult;
use crate::observe::{Scrapes, Usage};

/// Instrumentation may cost at most 3 % of tips/s.
const INSTRUMENTATION_TARGET: f64 = 0.97;
const P99_TARGET_MS: f64 = 25.0;
/// Two nodes count as faster than one only beyond this ratio (rounds differ by a few % anyway).
const FASTER_BEYOND: f64 = 1.05;

/// One closed-loop round (phases a and b).
pub struct ClosedRound {
    pub label: String,
    pub phase: PhaseResult,
    /// Tips stored (201s) per node during the round.
    pub stored: Vec<u64>,
    pub usage: Usage,
    pub scrapes: Option<Scrapes>,
}

/// One open-loop round of a variant (phase c).
pub struct OpenRound {
    pub variant: &'static str,
    /// The variant's parameters as a new session on the bench database saw them.
    pub checked: String,
    pub phase: PhaseResult,
    /// Latency from the actual send rather than the scheduled time (diagnostic).
    pub from_send: Histogram<u64>,
    pub usage: Usage,
    pub scrapes: Option<Scrapes>,
}

#[derive(Default)]
pub struct Summary {
    pub postgres: String,
    pub instrumentation: Vec<ClosedRound>,
    pub nodes: Vec<ClosedRound>,
    /// The one-node closed-loop peak (mean of the default-configuration rounds).
    pub peak_for_open: f64,
    pub variants: Vec<OpenRound>,
}

/// CPU milliseconds per tip, if both are known.
fn ms_per_tip(cpu_seconds: Option<f64>, tips: u64) -> Option<f64> {
    let cpu = cpu_seconds?;
    (tips > 0).then(|| cpu * 1000.0 / tips as f64)
}

fn show(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

impl ClosedRound {
    fn tips(&self) -> u64 {
        self.stored.iter().sum()
    }

    /// Each node's CPU-ms per tip it stored, e.g. "0.81" or "0.80 / 0.83".
    fn serve_ms_per_tip(&self) -> String {
        self.usage
            .node_cpu
            .iter()
            .zip(&self.stored)
            .map(|(cpu, tips)| show(ms_per_tip(Some(*cpu), *tips), 2))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    fn serve_cores(&self) -> String {
        self.usage
            .node_cpu
            .iter()
            .map(|cpu| format!("{:.2}", cpu / self.usage.wall_seconds))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    fn scrapes(&self) -> String {
        self.scrapes.as_ref().map_or_else(
            || "-".to_owned(),
            |s| {
                if s.failed == 0 {
                    s.ok.to_string()
                } else {
                    format!("{} ({} failed)", s.ok, s.failed)
                }
            },
        )
    }

    pub fn print_progress(&self) {
        let r = &self.phase.recorder;
        println!(
            "  {:<14} {:>6.0} tips/s  p50 {:.1} ms  p99 {:.1} ms  errors {}  serve CPU {} ms/tip  other cores {}",
            self.label,
            self.phase.rate,
            r.ms(0.5),
            r.ms(0.99),
            r.errors,
            self.serve_ms_per_tip(),
            show(self.usage.other_cores(), 2)
        );
    }
}

impl OpenRound {
    fn mean_batch(&self) -> Option<f64> {
        self.scrapes.as_ref()?.mean_batch(0)
    }

    pub fn print_progress(&self) {
        let r = &self.phase.recorder;
        println!(
            "  {:<40} achieved {:.0}/s  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  errors {}  ({})",
            self.variant,
            self.phase.rate,
            r.ms(0.5),
            r.ms(0.99),
            r.max_ms(),
            r.errors,
            self.checked
        );
    }
}

pub fn print_summary(params: &Params, summary: &Summary) {
    println!();
    println!("== Tipsa cluster and instrumentation (release build, one run, one database) ==");
    println!(
        "{} cores; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        summary.postgres
    );
    println!(
        "{} s per round, {} connections in total, pool {} per node, notification worker off",
        params.seconds, params.connections, params.pool_size
    );
    println!(
        "\"other cores\": cores the machine was busy (/proc/stat) beyond the CPU time of this bench, \
         its nodes and PostgreSQL's processes:\n other builds or tests, and kernel work charged to no \
         process — the noise of that row; rows are comparable when it is low and alike."
    );
    if !summary.instrumentation.is_empty() {
        print_instrumentation(&summary.instrumentation);
    }
    if !summary.nodes.is_empty() {
        print_nodes(&summary.nodes);
    }
    if !summary.variants.is_empty() {
        print_variants(summary);
    }
}

fn closed_header(extra: &str) {
    println!(
        "{:<14} {:>7} {:>7} {:>7} {:>6}  {extra}",
        "round", "tips/s", "p50 ms", "p99 ms", "errors"
    );
}

fn closed_columns(round: &ClosedRound) -> String {
    let r = &round.phase.recorder;
    format!(
        "{:<14} {:>7.0} {:>7.1} {:>7.1} {:>6}",
        round.label,
        round.phase.rate,
        r.ms(0.5),
        r.ms(0.99),
        r.errors
    )
}

fn print_instrumentation(rounds: &[ClosedRound]) {
    println!("\n-- a. instrumentation cost: closed loop against one node, metrics on vs off --");
    println!("   (while on, /metrics is scraped every second, as Prometheus would)");
    closed_header("serve CPU ms/tip  PG backends ms/tip  scrapes  other cores");
    for round in rounds {
        println!(
            "{}  {:>16}  {:>18}  {:>7}  {:>11}",
            closed_columns(round),
            round.serve_ms_per_tip(),
            show(ms_per_tip(round.usage.pg_backends_cpu, round.tips()), 2),
            round.scrapes(),
            show(round.usage.other_cores(), 2)
        );
    }
    let rates = |prefix: &str| -> Vec<f64> {
        rounds
            .iter()
            .filter(|r| r.label.starts_with(prefix))
            .map(|r| r.phase.rate)
            .collect()
    };
    let (on, off) = (rates("metrics on"), rates("metrics off"));
    let (Some(mean_on), Some(mean_off)) = (mean(&on), mean(&off)) else {
        return;
    };
    let ratio = mean_on / mean_off;
    // Rounds are paired in the order they ran: on #k with off #k.
    let paired: Vec<f64> = on.iter().zip(&off).map(|(a, b)| a / b).collect();
    let (low, high) = paired
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "mean tips/s: metrics on {mean_on:.0}, off {mean_off:.0}; on/off = {ratio:.3} \
         (per round {low:.3}..{high:.3})   target on >= {INSTRUMENTATION_TARGET} x off: {}",
        pass(ratio >= INSTRUMENTATION_TARGET)
    );
    // The scrapes read real counters: what the node says it stored against the 201s counted.
    let scraped: Vec<&ClosedRound> = rounds.iter().filter(|r| r.scrapes.is_some()).collect();
    let counted: u64 = scraped.iter().map(|r| r.tips()).sum();
    let reported: Option<f64> = scraped
        .iter()
        .map(|r| r.scrapes.as_ref()?.delta(0, "tipsa_tips_stored_total"))
        .sum();
    println!(
        "metrics check: tipsa_tips_stored_total rose by {} over the metrics-on rounds; the bench counted {counted} 201s",
        show(reported, 0)
    );
}

fn print_nodes(rounds: &[ClosedRound]) {
    println!("\n-- b. one node vs two nodes on one database: closed loop, load round-robin --");
    println!("   (CPU-ms per tip = utime+stime of the process during the round / tips stored;");
    println!(
        "    per node: first / second; PG shared = WAL writer, checkpointer, bgwriter, server-wide)"
    );
    closed_header(
        "tips per node     serve CPU ms/tip  serve cores  PG backends ms/tip  PG shared ms/tip  bench ms/tip  other cores",
    );
    for round in rounds {
        let tips: Vec<String> = round.stored.iter().map(u64::to_string).collect();
        println!(
            "{}  {:<16}  {:>16}  {:>11}  {:>18}  {:>16}  {:>12}  {:>11}",
            closed_columns(round),
            tips.join(" / "),
            round.serve_ms_per_tip(),
            round.serve_cores(),
            show(ms_per_tip(round.usage.pg_backends_cpu, round.tips()), 2),
            show(ms_per_tip(round.usage.pg_shared_cpu, round.tips()), 2),
            show(ms_per_tip(Some(round.usage.bench_cpu), round.tips()), 2),
            show(round.usage.other_cores(), 2)
        );
    }
    let of =
        |label: &str| -> Vec<&ClosedRound> { rounds.iter().filter(|r| r.label == label).collect() };
    let (one, two) = (of("1 node"), of("2 nodes"));
    let rate = |rs: &[&ClosedRound]| mean(&rs.iter().map(|r| r.phase.rate).collect::<Vec<_>>());
    let (Some(one_rate), Some(two_rate)) = (rate(&one), rate(&two)) else {
        return;
    };
    let ratio = two_rate / one_rate;
    println!("mean tips/s: one node {one_rate:.0}, two nodes {two_rate:.0}; two/one = {ratio:.2}");
    if ratio < FASTER_BEYOND {
        println!(
            "=> two nodes on this {}-core machine are not faster than one (two/one = {ratio:.2})",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    } else {
        println!(
            "=> two nodes were {:.0} % faster than one on this machine",
            (ratio - 1.0) * 100.0
        );
    }
    // CPU per tip over all rounds: serve (all nodes together) and PostgreSQL backends.
    let all: Vec<&ClosedRound> = one.iter().chain(&two).copied().collect();
    let tips: u64 = all.iter().map(|r| r.tips()).sum();
    let serve_cpu: f64 = all
        .iter()
        .map(|r| r.usage.node_cpu.iter().sum::<f64>())
        .sum();
    let pg_cpu: Option<f64> = all.iter().map(|r| r.usage.pg_backends_cpu).sum();
    let serve_ms = ms_per_tip(Some(serve_cpu), tips);
    let pg_ms = ms_per_tip(pg_cpu, tips);
    println!(
        "sizing: a tip costs {} CPU-ms in tipsa serve and {} CPU-ms in PostgreSQL backends \
         (plus WAL writing and checkpoints, shown above as PG shared)",
        show(serve_ms, 2),
        show(pg_ms, 2)
    );
    if let Some(ms) = serve_ms.filter(|ms| *ms > 0.0) {
        let pg = pg_ms.filter(|ms| *ms > 0.0).map(|ms| 1000.0 / ms);
        println!(
            "        => one core of tipsa serve stores about {:.0} tips/s; one core of PostgreSQL \
             backends about {} tips/s",
            1000.0 / ms,
            show(pg, 0)
        );
    }
}

fn print_variants(summary: &Summary) {
    let rate = summary.peak_for_open / 2.0;
    println!(
        "\n-- c. half-peak latency: open loop at {rate:.0} tips/s (half the one-node peak of {:.0}), \
         one fresh node per variant --",
        summary.peak_for_open
    );
    println!(
        "   (latency from each request's scheduled send time; \"from send\" excludes queueing \
         in the load generator; WAL figures are server-wide)"
    );
    println!(
        "{:<40} {:>10} {:>7} {:>7} {:>10} {:>8} {:>6} {:>10} {:>9} {:>11} {:>12} {:>11}",
        "variant",
        "achieved/s",
        "p50 ms",
        "p99 ms",
        "p99 send",
        "max ms",
        "errors",
        "mean batch",
        "WAL B/tip",
        "WAL syncs/s",
        "serve ms/tip",
        "other cores"
    );
    for row in &summary.variants {
        let r = &row.phase.recorder;
        let tips = r.ok;
        let per_tip = |v: Option<f64>| v.filter(|_| tips > 0).map(|v| v / tips as f64);
        println!(
            "{:<40} {:>10.0} {:>7.1} {:>7.1} {:>10.1} {:>8.1} {:>6} {:>10} {:>9} {:>11} {:>12} {:>11}",
            row.variant,
            row.phase.rate,
            r.ms(0.5),
            r.ms(0.99),
            row.from_send.value_at_quantile(0.99) as f64 / 1000.0,
            r.max_ms(),
            r.errors,
            show(row.mean_batch(), 1),
            show(per_tip(row.usage.wal_bytes), 0),
            show(row.usage.wal_syncs.map(|s| s / row.usage.wall_seconds), 0),
            show(ms_per_tip(row.usage.node_cpu.first().copied(), tips), 2),
            show(row.usage.other_cores(), 2)
        );
    }
    for row in &summary.variants {
        println!("  {:<40} session saw: {}", row.variant, row.checked);
    }
    let defaults: Vec<f64> = summary
        .variants
        .iter()
        .filter(|row| row.variant == "default")
        .map(|row| row.phase.recorder.ms(0.99))
        .collect();
    if let Some(worst) = defaults.iter().copied().reduce(f64::max) {
        let each: Vec<String> = defaults.iter().map(|p| format!("{p:.1} ms")).collect();
        println!(
            "p99 at half peak, default configuration: {} (worst {worst:.1} ms)   target < {P99_TARGET_MS} ms: {}",
            each.join(", "),
            pass(worst < P99_TARGET_MS)
        );
    }
}
