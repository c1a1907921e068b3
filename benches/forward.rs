//! Benchmark: forwarding 1,000,000 audit entries to a real rsyslogd over TCP on loopback
//! (`tdekey audit forward --once`'s code path, in process), rsyslog parsing every message and
//! writing it to /dev/null.
//!
//! Prints entries per second (goal ≥ 50,000/s) and memory: the resident set before, and its
//! peak while forwarding (VmHWM, reset just before through /proc/self/clear_refs), at a tenth
//! of the entries and at all of them: rows are streamed, so the peak must not grow with the
//! log (goal: flat).
//!
//! `make bench`, or `cargo bench --bench forward`. TDEKEY_BENCH_ENTRIES changes the size.

mod common;
#[path = "../tests/common/rsyslog.rs"]
mod rsyslog;

use common::{bench_entry, env_usize};
use std::time::Instant;
use tdekey::audit::Auditor;
use tdekey::audit::forward::{Options, TlsOptions, forward_once};
use tdekey::store::Store;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets VmHWM to the current resident set (Linux ≥ 4.0).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

/// Forwards every entry the destination lacks; returns (entries, seconds, peak RSS KiB).
fn run(a: &mut Auditor, url: &str) -> (u64, f64, u64) {
    let opts = Options::new(url, TlsOptions::default(), None).expect("options");
    reset_peak();
    let t = Instant::now();
    let sent = forward_once(a, &opts).expect("forward");
    (
        sent.entries,
        t.elapsed().as_secs_f64(),
        status_kib("VmHWM:"),
    )
}

fn main() {
    let total = env_usize("TDEKEY_BENCH_ENTRIES", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tdekey.sqlite3");
    let mut a = Auditor::new(Store::open(&db).expect("open"));
    let batch = 10_000;
    let fill = |a: &mut Auditor, from: usize, to: usize| {
        let mut written = from;
        while written < to {
            let n = batch.min(to - written);
            let entries: Vec<_> = (written..written + n).map(bench_entry).collect();
            a.record_batch(&entries).expect("batch");
            written += n;
        }
    };
    let tenth = (total / 10).max(1);
    fill(&mut a, 0, tenth);
    let syslog = rsyslog::Rsyslog::tcp(&dir.path().join("rsyslog"), true);
    let rss_before = status_kib("VmRSS:");

    // A tenth of the log to one destination, then the whole log to another.
    let small = run(&mut a, &format!("syslog+tcp://127.0.0.1:{}", syslog.port));
    fill(&mut a, tenth, total);
    let url = format!("syslog+tcp://localhost:{}", syslog.port);
    let rss_full_before = status_kib("VmRSS:");
    let (entries, secs, peak) = run(&mut a, &url);
    drop(syslog);

    println!("machine: {}", common::cpu_model());
    println!(
        "forward {tenth} entries to rsyslog (TCP, loopback): {:>8.2} s, {:>8.0} entries/s, peak RSS {} KiB (before: {rss_before} KiB)",
        small.1,
        small.0 as f64 / small.1,
        small.2
    );
    println!(
        "forward {entries} entries to rsyslog (TCP, loopback): {secs:>8.2} s, {:>8.0} entries/s (goal ≥ 50,000), peak RSS {peak} KiB (before: {rss_full_before} KiB)",
        entries as f64 / secs
    );
    println!(
        "peak RSS growth while forwarding: {} KiB for {} entries, {} KiB for {entries} (goal: flat)",
        small.2.saturating_sub(rss_before),
        small.0,
        peak.saturating_sub(rss_full_before)
    );
}
