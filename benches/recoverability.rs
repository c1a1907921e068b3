//! Benchmark: what the recoverability report costs the HSM — PKCS#11 calls per key id on a
//! SoftHSM2 token of 5,000 objects, counted through OpenSC's pkcs11-spy (issue #23, goal: at
//! most 3 calls for a key found healthy, whatever else the token holds).
//!
//! Built once per run, in a temp directory with its own SOFTHSM2_CONF: `tdekey hsm
//! demo-token`, the "Rehearsal demo" database migrated to the demo token (`migrate run --yes`)
//! and rotated 4 times (`rotate --way oracle`, `--way hsm`, alternately), then, in this
//! process, 20 TDE master keys made as Oracle makes them (AES-256, sensitive, not extractable,
//! encrypt/decrypt), one extractable key (as `cloudhsm-cli` makes by default: unhealthy) and
//! other databases' keys and metadata objects until the token holds 5,000 objects.
//!
//! 1. `Hsm::find_master_key` in this process through the spy, each lookup preceded by a
//!    `C_GetSessionInfo` as a marker so that the log splits into one part per lookup: the 20
//!    healthy keys (expected healthy: the goal, asserted), the same keys not expected on the
//!    HSM, 5 ids not on the token (not expected, then expected) and the unhealthy key (both).
//!    Each count is checked against the count the lookup reports (the figure the report prints
//!    as `hsm_calls`). The time of each kind of lookup is taken again without the spy (median
//!    over the ids).
//! 2. The whole `tdekey recoverability "Rehearsal demo" --json` through the spy: the lookups'
//!    calls per key id (each `C_FindObjects`, `C_FindObjectsFinal` and `C_GetAttributeValue`
//!    goes to the label of the `C_FindObjectsInit` before it), checked against the report's
//!    `hsm_calls`; the Rehearsal's own searches and the connection's calls apart; the command's
//!    wall time without the spy (median of the runs).
//!
//! `make bench`, or `cargo bench --bench recoverability`. TDEKEY_BENCH_OBJECTS changes the
//! token's size (5000), TDEKEY_BENCH_RUNS the number of timed runs of the command (5),
//! TDEKEY_BENCH_LOOKUP_PASSES the passes over the ids when timing the lookups (1: on SoftHSM2
//! each search reads the whole token, some 0.2 s at 5,000 objects);
//! TDEKEY_BENCH_SPY=PATH uses another pkcs11-spy.so (there is no run without it).

mod common;

use common::{add_objects, cpu_model, env_usize, find_spy, ms, softhsm_version};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tdekey::hsm::demo::{self, DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::hsm::{Hsm, KeyTemplate};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::paths::DataDir;
use tdekey::secret::Secret;

/// PKCS#11 calls per key id for a key found healthy (issue #23).
const GOAL: u64 = 3;
const HEALTHY_KEYS: usize = 20;
const MISSING_IDS: usize = 5;
const ROTATIONS: usize = 4;
const WALLET_PASSWORD: &str = demo::DEMO_WALLET_PASSWORD;
const BACKUP_PASSPHRASE: &str = "bench-backup-passphrase-23";

/// The calls a lookup may make: the searches and the attribute reads.
const LOOKUP_CALLS: &[&str] = &[
    "C_FindObjectsInit",
    "C_FindObjects",
    "C_FindObjectsFinal",
    "C_GetAttributeValue",
];

/// The column of calls per function: C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal/
/// C_GetAttributeValue.
const FUNCTIONS: &str = "I/F/Fi/G";

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The pkcs11-spy log
// ---------------------------------------------------------------------------------------------

/// One PKCS#11 call as pkcs11-spy logged it.
#[derive(Debug)]
struct Call {
    name: String,
    /// Time of day in ms (the spy's clock, ms resolution).
    at_ms: Option<f64>,
    /// C_FindObjectsInit: the template's number of attributes and its CKA_LABEL.
    template: usize,
    label: Option<String>,
}

/// Reads a pkcs11-spy log into its calls, in order. The log holds attribute values too: read
/// as bytes, line by line.
fn read_spy_log(path: &Path) -> Vec<Call> {
    let bytes = std::fs::read(path).expect("pkcs11-spy wrote its log");
    let text = String::from_utf8_lossy(&bytes);
    let mut calls: Vec<Call> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        // "12: C_FindObjectsInit"
        if let Some((n, f)) = line.split_once(": ")
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && f.starts_with("C_")
        {
            let name = f.split_whitespace().next().unwrap_or(f).to_owned();
            let at_ms = lines.peek().and_then(|l| time_of_day_ms(l));
            calls.push(Call {
                name,
                at_ms,
                template: 0,
                label: None,
            });
            continue;
        }
        let Some(call) = calls.last_mut() else {
            continue;
        };
        if call.name != "C_FindObjectsInit" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("[in] pTemplate[") {
            call.template = rest
                .split(']')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if line.trim_start().starts_with("CKA_LABEL ") {
            // "    CKA_LABEL             0000563a1c980ef0 / 52", then the value's rows.
            let len: usize = line
                .rsplit('/')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            let mut rows = Vec::new();
            while let Some(next) = lines.peek() {
                let t = next.trim_start();
                if t.starts_with("CKA_") || t.starts_with("Returned") || t.starts_with('[') {
                    break;
                }
                rows.push(*next);
                lines.next();
            }
            call.label = decode_label(&rows, len);
        }
    }
    calls
}

/// "2026-12-07 06:35:41.431" → ms since midnight.
fn time_of_day_ms(line: &str) -> Option<f64> {
    let (_, t) = line.trim().split_once(' ')?;
    let mut it = t.split(':');
    let (h, m, s) = (it.next()?, it.next()?, it.next()?);
    let h: f64 = h.parse().ok()?;
    let m: f64 = m.parse().ok()?;
    let s: f64 = s.parse().ok()?;
    Some(((h * 60.0 + m) * 60.0 + s) * 1e3)
}

/// A CKA_LABEL as pkcs11-spy prints it: rows of 32 bytes in hex groups of 8 digits, each row
/// followed by its characters one by one; the spy ends a characters row without a line break,
/// so the next hex row starts on it (`"... A 5 8 336444542 34433033"`: `3`, then `36444542`).
/// A single character is text, an odd-length token is a character glued to a hex group.
fn decode_label(rows: &[&str], len: usize) -> Option<String> {
    let mut hex = String::new();
    for (i, row) in rows.iter().enumerate() {
        for tok in row.split_whitespace() {
            let digits = if i == 0 || tok.len() % 2 == 0 {
                tok
            } else if tok.len() > 1 {
                &tok[1..]
            } else {
                continue;
            };
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            hex.push_str(digits);
        }
    }
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    let mut bytes = bytes?;
    if bytes.len() < len {
        return None;
    }
    bytes.truncate(len);
    String::from_utf8(bytes).ok()
}

/// Calls per function name.
fn by_function<'a>(calls: impl IntoIterator<Item = &'a Call>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for c in calls {
        *m.entry(c.name.as_str()).or_insert(0) += 1;
    }
    m
}

fn list(m: &BTreeMap<&str, usize>) -> String {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(f, n)| format!("{n} {f}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// The token and the Rehearsal
// ---------------------------------------------------------------------------------------------

struct Bench {
    dir: tempfile::TempDir,
    data: DataDir,
    conf: PathBuf,
    module: PathBuf,
    spy: PathBuf,
    /// The 20 keys made as Oracle makes them.
    healthy: Vec<String>,
    /// An extractable AES-256 key.
    unhealthy: String,
    /// Ids on no object of the token: for the lookups expected healthy, and for the others.
    missing_expected: Vec<String>,
    missing_unexpected: Vec<String>,
    objects: usize,
}

impl Bench {
    /// The `tdekey` binary on this data directory and token, with the demo PIN and the
    /// Rehearsal's wallet password and backup passphrase, and nothing from the caller's
    /// environment that would change it.
    fn tdekey(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tdekey"));
        c.arg("--data-dir")
            .arg(self.data.root())
            .env("SOFTHSM2_CONF", &self.conf)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", BACKUP_PASSPHRASE)
            .env_remove("TDEKEY_DATA_DIR")
            .env_remove("TDEKEY_STORE")
            .env_remove("PKCS11SPY")
            .env_remove("PKCS11SPY_OUTPUT");
        c
    }

    fn run_ok(&self, args: &[&str]) -> Output {
        let mut c = self.tdekey();
        c.args(args);
        let out = c.output().expect("start tdekey");
        assert!(
            out.status.success(),
            "tdekey {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The demo token through `module` (SoftHSM2 itself, or the spy), logged in.
    fn hsm(&self, module: &Path) -> Hsm {
        let mut hsm = Hsm::load(module).expect("load the PKCS#11 module");
        hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
            .expect("open the demo token");
        hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
            .expect("log in");
        hsm
    }

    fn new(objects: usize, spy: PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = DataDir::at(dir.path().join("data"));
        data.ensure().expect("data dir");
        let conf = demo::write_softhsm_conf(&data.softhsm_dir()).expect("softhsm conf");
        // SAFETY: this process runs no other thread; SoftHSM2 reads it at each C_Initialize.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let module =
            demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");
        let mut b = Bench {
            dir,
            data,
            conf,
            module,
            spy,
            healthy: Vec::new(),
            unhealthy: String::new(),
            missing_expected: Vec::new(),
            missing_unexpected: Vec::new(),
            objects,
        };
        let t = Instant::now();
        b.run_ok(&["hsm", "demo-token"]);
        b.run_ok(&["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
        for i in 0..ROTATIONS {
            let way = if i % 2 == 0 { "oracle" } else { "hsm" };
            b.run_ok(&["rotate", DEMO_DATABASE_NAME, "--way", way]);
        }
        println!(
            "set-up: demo token, {DEMO_DATABASE_NAME:?} migrated and rotated {ROTATIONS} times (oracle, hsm, …) in {:.1} s",
            t.elapsed().as_secs_f64()
        );

        let t = Instant::now();
        let hsm = b.hsm(&b.module.clone());
        let label = |hsm: &Hsm| hsm.random_master_key_id().expect("random id").hsm_label();
        for _ in 0..HEALTHY_KEYS {
            let l = label(&hsm);
            hsm.generate_aes_key(&l, KeyTemplate::ORACLE_MASTER_KEY)
                .expect("generate a master key");
            b.healthy.push(l);
        }
        b.unhealthy = label(&hsm);
        hsm.generate_aes_key(&b.unhealthy, KeyTemplate::CLOUDHSM_CLI_DEFAULT)
            .expect("generate an extractable key");
        for _ in 0..MISSING_IDS {
            b.missing_expected.push(label(&hsm));
            b.missing_unexpected.push(label(&hsm));
        }
        let before = hsm.inventory(&mut |_, _| {}).expect("inventory").len();
        add_objects(&hsm, objects.saturating_sub(before));
        let n = hsm.inventory(&mut |_, _| {}).expect("inventory").len();
        hsm.close().expect("close the module");
        assert_eq!(n, objects.max(before), "objects on the token");
        b.objects = n;
        println!(
            "token: {n} objects ({before} after the set-up and the {} keys looked up, {} added: AES-256 keys and Oracle metadata objects of other databases), filled in {:.1} s",
            HEALTHY_KEYS + 1,
            n - before,
            t.elapsed().as_secs_f64()
        );
        b
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Hsm::find_master_key
// ---------------------------------------------------------------------------------------------

/// One kind of lookup: its labels, whether the key is expected healthy, what the README says it
/// costs per id, and the PKCS#11 functions it is documented to use.
struct Kind {
    what: &'static str,
    labels: Vec<String>,
    expect_healthy: bool,
    found: bool,
    documented: u64,
    /// The goal applies: an HSM key found healthy.
    goal: bool,
}

fn kinds(b: &Bench) -> Vec<Kind> {
    vec![
        Kind {
            what: "HSM key, found healthy",
            labels: b.healthy.clone(),
            expect_healthy: true,
            found: true,
            documented: 3,
            goal: true,
        },
        Kind {
            what: "key not known as an HSM key, found healthy",
            labels: b.healthy.clone(),
            expect_healthy: false,
            found: true,
            documented: 4,
            goal: false,
        },
        Kind {
            what: "key not known as an HSM key, missing",
            labels: b.missing_unexpected.clone(),
            expect_healthy: false,
            found: false,
            documented: 3,
            goal: false,
        },
        Kind {
            what: "HSM key, missing",
            labels: b.missing_expected.clone(),
            expect_healthy: true,
            found: false,
            documented: 6,
            goal: false,
        },
        Kind {
            what: "HSM key, unhealthy (extractable)",
            labels: vec![b.unhealthy.clone()],
            expect_healthy: true,
            found: true,
            documented: 7,
            goal: false,
        },
        Kind {
            what: "key not known as an HSM key, unhealthy",
            labels: vec![b.unhealthy.clone()],
            expect_healthy: false,
            found: true,
            documented: 4,
            goal: false,
        },
    ]
}

/// What one kind of lookup measured: calls per id through the spy (with the functions), the
/// count the lookups reported, and the time per id without the spy.
struct KindResult {
    spy_calls: Vec<u64>,
    reported: Vec<u64>,
    functions: BTreeMap<String, usize>,
    times: Vec<Duration>,
}

fn lookups(b: &Bench, kinds: &[Kind], passes: usize) -> Vec<KindResult> {
    // Through the spy, each lookup after a C_GetSessionInfo marker.
    let log = b.dir.path().join("lookups-spy.log");
    // SAFETY: this process runs no other thread; the spy reads them when it is loaded.
    unsafe {
        std::env::set_var("PKCS11SPY", &b.module);
        std::env::set_var("PKCS11SPY_OUTPUT", &log);
    }
    let hsm = b.hsm(&b.spy);
    let mut reported: Vec<Vec<u64>> = Vec::new();
    for k in kinds {
        let mut r = Vec::new();
        for l in &k.labels {
            hsm.session()
                .expect("session")
                .get_session_info()
                .expect("C_GetSessionInfo (the marker)");
            let found = hsm
                .find_master_key(l, k.expect_healthy)
                .expect("find_master_key");
            assert_eq!(found.found(), k.found, "{}: {l}: {found:?}", k.what);
            r.push(found.calls);
        }
        reported.push(r);
    }
    hsm.close().expect("close the module");
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("PKCS11SPY");
        std::env::remove_var("PKCS11SPY_OUTPUT");
    }
    let calls = read_spy_log(&log);
    let mut parts: Vec<Vec<&Call>> = Vec::new();
    for c in &calls {
        match c.name.as_str() {
            "C_GetSessionInfo" => parts.push(Vec::new()),
            "C_Logout" | "C_CloseSession" | "C_CloseAllSessions" | "C_Finalize" => {
                if !parts.is_empty() {
                    break;
                }
            }
            _ => {
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    let ids: usize = kinds.iter().map(|k| k.labels.len()).sum();
    assert_eq!(
        parts.len(),
        ids,
        "one part of {} per lookup in the spy's log",
        log.display()
    );
    let mut parts = parts.into_iter();

    // Without the spy: the time of each lookup, `passes` times over.
    let hsm = b.hsm(&b.module);
    let mut out = Vec::new();
    for (k, reported) in kinds.iter().zip(reported) {
        let mut result = KindResult {
            spy_calls: Vec::new(),
            reported,
            functions: BTreeMap::new(),
            times: Vec::new(),
        };
        for (l, rep) in k.labels.iter().zip(&result.reported) {
            let part = parts.next().expect("a part per lookup");
            for c in &part {
                assert!(
                    LOOKUP_CALLS.contains(&c.name.as_str()),
                    "{}: {l}: a lookup called {}",
                    k.what,
                    c.name
                );
                if c.name == "C_FindObjectsInit" {
                    assert_eq!(c.label.as_deref(), Some(l.as_str()), "the label searched");
                }
                *result.functions.entry(c.name.clone()).or_insert(0) += 1;
            }
            let n = part.len() as u64;
            assert_eq!(
                n, *rep,
                "{}: {l}: the spy counted {n} calls, the lookup reported {rep}",
                k.what
            );
            result.spy_calls.push(n);
        }
        for _ in 0..passes {
            for l in &k.labels {
                let t = Instant::now();
                hsm.find_master_key(l, k.expect_healthy)
                    .expect("find_master_key");
                result.times.push(t.elapsed());
            }
        }
        out.push(result);
    }
    hsm.close().expect("close the module");
    std::fs::remove_file(&log).ok();
    out
}

fn print_lookups(kinds: &[Kind], results: &[KindResult], objects: usize, passes: usize) {
    println!(
        "\n1. Hsm::find_master_key on {objects} objects: PKCS#11 calls per key id through pkcs11-spy (each = the lookup's own count); time per id without the spy, median over the ids of {passes} pass(es)"
    );
    println!(
        "  {:<62} {:>4} {:>12} {:>12} {:>9}  {}",
        "lookup (first search)", "ids", "calls per id", "documented", "ms per id", FUNCTIONS
    );
    let mut failed = Vec::new();
    for (k, r) in kinds.iter().zip(results) {
        let (lo, hi) = (
            r.spy_calls.iter().min().copied().unwrap_or(0),
            r.spy_calls.iter().max().copied().unwrap_or(0),
        );
        let per = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}–{hi}")
        };
        let ids = r.spy_calls.len();
        let per_id = |f: &str| {
            let n = r.functions.get(f).copied().unwrap_or(0) as f64 / ids.max(1) as f64;
            format!("{n}")
        };
        let functions: Vec<String> = LOOKUP_CALLS.iter().map(|f| per_id(f)).collect();
        let documented = if lo == hi && hi == k.documented {
            format!("{} ok", k.documented)
        } else {
            format!("{} DIFFERS", k.documented)
        };
        println!(
            "  {:<62} {ids:>4} {per:>12} {documented:>12} {:>9.2}  {}",
            format!(
                "{} ({})",
                k.what,
                if k.expect_healthy {
                    "healthy template"
                } else {
                    "label"
                }
            ),
            ms(median(&r.times)),
            functions.join("/")
        );
        debug_assert_eq!(r.reported.len(), ids);
        if k.goal && hi > GOAL {
            failed.push(format!("{}: {hi} calls", k.what));
        }
    }
    assert!(
        failed.is_empty(),
        "GOAL MISSED: a key found healthy must cost at most {GOAL} PKCS#11 calls per id: {}",
        failed.join("; ")
    );
    println!(
        "  ({FUNCTIONS}: C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal/C_GetAttributeValue per id)"
    );
    println!("  goal: <= {GOAL} calls per id for an HSM key found healthy: met");
}

// ---------------------------------------------------------------------------------------------
// 2. tdekey recoverability
// ---------------------------------------------------------------------------------------------

/// `tdekey recoverability "Rehearsal demo" --json` through `module` as the demo user.
fn report_command(b: &Bench, module: &Path) -> Command {
    let mut c = b.tdekey();
    c.args(["recoverability", DEMO_DATABASE_NAME, "--json", "--module"])
        .arg(module)
        .args(["--user", DEMO_USER, "--pin-format", "plain"]);
    c
}

fn report_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "tdekey recoverability failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("tdekey recoverability --json prints JSON");
    assert!(
        v["unread"].as_array().is_some_and(|u| u.is_empty()),
        "every source read: {v:#}"
    );
    v
}

fn report(b: &Bench, runs: usize) {
    // Wall time, without the spy.
    let mut walls = Vec::new();
    for _ in 0..runs {
        let mut c = report_command(b, &b.module);
        let t = Instant::now();
        let out = c.output().expect("start tdekey");
        walls.push(t.elapsed());
        report_of(&out);
    }

    // Once more through the spy.
    let log = b.dir.path().join("report-spy.log");
    let mut c = report_command(b, &b.spy);
    c.env("PKCS11SPY", &b.module).env("PKCS11SPY_OUTPUT", &log);
    let t = Instant::now();
    let out = c.output().expect("start tdekey");
    let spy_wall = t.elapsed();
    let v = report_of(&out);
    let calls = read_spy_log(&log);
    std::fs::remove_file(&log).ok();

    let keys = v["keys"].as_array().expect("keys").clone();
    let hsm_calls = v["hsm_calls"].as_u64().expect("hsm_calls");
    // Each lookup call goes to the label of the search before it.
    let mut per_label: BTreeMap<String, Vec<&Call>> = BTreeMap::new();
    let mut current: Option<&str> = None;
    let mut others = Vec::new();
    for c in &calls {
        if c.name == "C_FindObjectsInit" {
            current = c.label.as_deref();
        }
        match current {
            Some(l) if LOOKUP_CALLS.contains(&c.name.as_str()) => {
                per_label.entry(l.to_owned()).or_default().push(c)
            }
            _ => others.push(c),
        }
    }
    println!(
        "\n2. tdekey recoverability {DEMO_DATABASE_NAME:?} --json on the same token ({} objects): {} keys, exit {}",
        b.objects,
        keys.len(),
        out.status.code().unwrap_or(-1)
    );
    println!(
        "  {:<36} {:<22} {:>5}  {:<9} found in",
        "key id", "lookup", "calls", FUNCTIONS
    );
    let (mut sum, mut first, mut last) = (0u64, None::<f64>, None::<f64>);
    let mut failed = Vec::new();
    for k in &keys {
        let id = k["forms"]["hsm_key_id"].as_str().unwrap_or("?");
        let label = k["forms"]["hsm_label"].as_str().unwrap_or("?");
        let mine = per_label.remove(label).unwrap_or_default();
        let n = mine.len() as u64;
        sum += n;
        for c in &mine {
            if let Some(t) = c.at_ms {
                first = Some(first.map_or(t, |f| f.min(t)));
                last = Some(last.map_or(t, |l| l.max(t)));
            }
        }
        let inits: Vec<usize> = mine
            .iter()
            .filter(|c| c.name == "C_FindObjectsInit")
            .map(|c| c.template)
            .collect();
        let how = match inits.as_slice() {
            [8] => "healthy template",
            [8, 1] => "healthy, then label",
            [1] => "label",
            _ => "other",
        };
        let places: Vec<&str> = k["places"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["kind"].as_str()).collect())
            .unwrap_or_default();
        let healthy_on_hsm = k["places"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["kind"] == "hsm" && p["health"].as_array().is_some_and(|h| h.is_empty()))
        });
        let f = by_function(mine.iter().copied());
        println!(
            "  {id:<36} {how:<22} {n:>5}  {:<9} {}",
            format!(
                "{}/{}/{}/{}",
                f.get("C_FindObjectsInit").unwrap_or(&0),
                f.get("C_FindObjects").unwrap_or(&0),
                f.get("C_FindObjectsFinal").unwrap_or(&0),
                f.get("C_GetAttributeValue").unwrap_or(&0)
            ),
            places.join(", ")
        );
        if how == "healthy template" && healthy_on_hsm && n > GOAL {
            failed.push(format!("{id}: {n} calls"));
        }
        assert!(n > 0, "{id}: no lookup of {label} in the spy's log");
    }
    println!(
        "  ({FUNCTIONS}: C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal/C_GetAttributeValue)"
    );
    assert_eq!(
        sum, hsm_calls,
        "the spy counted {sum} calls for the report's lookups, the report says hsm_calls = {hsm_calls}"
    );
    assert!(
        failed.is_empty(),
        "GOAL MISSED: a key found healthy must cost at most {GOAL} PKCS#11 calls per id: {}",
        failed.join("; ")
    );
    let rest: usize = per_label.values().map(Vec::len).sum();
    let searches_elsewhere = rest
        + others
            .iter()
            .filter(|c| LOOKUP_CALLS.contains(&c.name.as_str()))
            .count();
    println!(
        "  lookups: {sum} calls for {} key ids = {:.2} per id (the report's hsm_calls: {hsm_calls}, the same); {:.0} ms from the first search to the last call, with the spy's logging",
        keys.len(),
        sum as f64 / keys.len().max(1) as f64,
        match (first, last) {
            (Some(f), Some(l)) => l - f,
            _ => 0.0,
        }
    );
    println!(
        "  the Rehearsal's own searches and reads (V$ views, the keystore): {searches_elsewhere}"
    );
    let conn = by_function(
        others
            .iter()
            .copied()
            .filter(|c| !LOOKUP_CALLS.contains(&c.name.as_str())),
    );
    println!(
        "  the rest (loading, C_Initialize, finding the token, login, logout): {} calls: {}",
        conn.values().sum::<usize>(),
        list(&conn)
    );
    println!(
        "  wall time of the whole command, median of {runs}: {:.0} ms ({}); through the spy {:.0} ms",
        ms(median(&walls)),
        walls
            .iter()
            .map(|d| format!("{:.0}", ms(*d)))
            .collect::<Vec<_>>()
            .join(" / "),
        ms(spy_wall)
    );
    println!("  goal: <= {GOAL} calls per id for an HSM key found healthy: met");
}

fn main() {
    let objects = env_usize("TDEKEY_BENCH_OBJECTS", 5000);
    let runs = env_usize("TDEKEY_BENCH_RUNS", 5).max(1);
    let passes = env_usize("TDEKEY_BENCH_LOOKUP_PASSES", 1).max(1);
    let spy = find_spy().unwrap_or_else(|| {
        panic!(
            "This benchmark counts PKCS#11 calls with OpenSC's pkcs11-spy.so and found none in {:?}: install opensc-pkcs11 (make deps-bench) or set TDEKEY_BENCH_SPY=PATH.",
            common::SPY_PATHS
        )
    });
    println!(
        "machine: {} ({} cores), {}; pkcs11-spy {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        softhsm_version(),
        spy.display()
    );
    let b = Bench::new(objects, spy);
    let kinds = kinds(&b);
    let results = lookups(&b, &kinds, passes);
    print_lookups(&kinds, &results, b.objects, passes);
    report(&b, runs);
}
