//! What the benchmarks share: reading their size settings, milliseconds, where OpenSC's
//! pkcs11-spy is, the machine facts they print, and the token and log they fill.
#![allow(dead_code)]

/// A throwaway PostgreSQL cluster (the tests' harness): the benches run it with
/// [`pg::Cluster::start_durable`].
#[path = "../../tests/common/pg.rs"]
pub mod pg;

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

/// The store engines to measure: `TDEKEY_BENCH_ENGINES=sqlite,postgresql` (the default), or
/// either alone.
pub fn engines() -> Vec<Engine> {
    let list = std::env::var("TDEKEY_BENCH_ENGINES").unwrap_or_default();
    let all = [Engine::Sqlite, Engine::PostgreSql];
    if list.trim().is_empty() {
        return all.to_vec();
    }
    let picked: Vec<Engine> = all
        .into_iter()
        .filter(|e| list.split(',').any(|w| w.trim() == e.name()))
        .collect();
    assert!(
        !picked.is_empty(),
        "TDEKEY_BENCH_ENGINES={list} names no engine: use sqlite, postgresql or both"
    );
    picked
}

/// Where a bench's store lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The data directory's SQLite file (WAL, synchronous=FULL).
    Sqlite,
    /// A database on a local PostgreSQL cluster, over TCP on 127.0.0.1 (fsync on).
    PostgreSql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::PostgreSql => "postgresql",
        }
    }
}

/// What the PostgreSQL figures were measured on: the server's version and its durability
/// settings, as the server reports them.
pub fn pg_facts(c: &pg::Cluster) -> String {
    c.psql(
        "postgres",
        "SELECT 'PostgreSQL ' || current_setting('server_version') || ', ' || \
         string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings \
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', \
         'shared_buffers')",
    )
}

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

/// Fills a new SoftHSM2 token labelled `label` (user PIN `pin`) with `objects` objects: half
/// AES-256 master keys, half Oracle key-metadata data objects.
pub fn fill_token(label: &str, pin: &str, objects: usize) {
    use tdekey::hsm::demo::{self, TokenSpec};
    use tdekey::secret::Secret;
    let hsm = demo::create_softhsm_token(&TokenSpec {
        label,
        so_pin: Secret::from("bench-so-pin"),
        user_pin: Secret::from(pin),
    })
    .expect("create the token");
    add_objects(&hsm, objects);
    hsm.close().expect("close");
}

/// Adds `objects` objects to a logged-in token: half AES-256 master keys, half Oracle
/// key-metadata data objects, as other databases leave on a shared HSM.
pub fn add_objects(hsm: &tdekey::hsm::Hsm, objects: usize) {
    use tdekey::hsm::KeyTemplate;
    use tdekey::tde::labels::{hsm_key_id, key_metadata_label};
    for i in 0..objects {
        let id = hsm.random_master_key_id().expect("random id");
        if i % 2 == 0 {
            hsm.generate_aes_key(&id.hsm_label(), KeyTemplate::ORACLE_MASTER_KEY)
                .expect("generate");
        } else {
            hsm.create_data_object(&key_metadata_label(&hsm_key_id(&id)), "ORACLE", b"metadata")
                .expect("data object");
        }
    }
}

/// The `i`-th audit entry the benchmarks append: mostly inventories, a fifth logins, one in
/// fifty a failed login, spread over 97 tokens and 7 users.
pub fn bench_entry(
    i: usize,
) -> (
    tdekey::audit::Action,
    String,
    tdekey::audit::Outcome,
    Option<String>,
    serde_json::Value,
) {
    use tdekey::audit::{Action, Outcome};
    let (action, outcome) = match i % 50 {
        0 => (Action::HsmLogin, Outcome::Failure),
        1..=9 => (Action::HsmLogin, Outcome::Success),
        _ => (Action::HsmInventory, Outcome::Success),
    };
    (
        action,
        format!("token-{}", i % 97),
        outcome,
        Some(format!("cu_{}", i % 7)),
        serde_json::json!({ "objects": i % 5000, "slot_id": 1684852491u64, "pin_format": "cloudhsm" }),
    )
}
