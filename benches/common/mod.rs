//! What the benchmarks share: reading their size settings, milliseconds, where OpenSC's
//! pkcs11-spy is, and the machine facts they print.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Where Debian and other distributions install OpenSC's pkcs11-spy.
pub const SPY_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11-spy.so",
    "/usr/lib64/pkcs11-spy.so",
    "/usr/lib/pkcs11-spy.so",
];

/// A size setting from the environment, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// pkcs11-spy: `TDEKEY_BENCH_SPY=PATH` uses another, `none` skips the count.
pub fn find_spy() -> Option<PathBuf> {
    match std::env::var_os("TDEKEY_BENCH_SPY") {
        Some(v) if v == "none" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => SPY_PATHS.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn softhsm_version() -> String {
    Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
