//! Benchmark: list a SoftHSM2 token of 5,000 objects with every attribute the Keys table shows,
//! as `tdekey hsm keys --json`, against `pkcs11-tool --list-objects` on the same token. Both are
//! whole processes (start-up, C_Initialize, login, listing), run alternately, median of N runs.
//!
//! Also measured:
//!
//! - in this process, tdekey's `Hsm::inventory` against the floor of finding the handles alone
//!   (no attribute read): each one load + C_Initialize + open + login, then the listing (or the
//!   C_FindObjects alone, FIND_BATCH handles per call), then C_Finalize, fully closed before the
//!   next; no process start-up. The floor is taken twice: through `Hsm` (the same load, open
//!   and login as the inventory, so the ratio is like for like) and through bare cryptoki;
//! - the PKCS#11 calls of one more `tdekey hsm keys --json`, through OpenSC's pkcs11-spy:
//!   C_GetAttributeValue + C_FindObjects per object (every call is a network round trip on AWS
//!   CloudHSM).
//!
//! `make bench` (or `cargo bench --bench inventory`). Set TDEKEY_BENCH_OBJECTS and
//! TDEKEY_BENCH_RUNS to change the size and the number of runs; TDEKEY_BENCH_SPY=PATH uses
//! another pkcs11-spy.so, TDEKEY_BENCH_SPY=none skips the count.

mod common;

use common::{env_usize, fill_token, find_spy, ms};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tdekey::hsm::demo;
use tdekey::hsm::{FIND_BATCH, Hsm};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::secret::Secret;

const PIN: &str = "bench-user-pin";
const LABEL: &str = "bench";
/// Calls (C_GetAttributeValue + C_FindObjects) per object the listing may make.
const CALLS_GOAL: f64 = 1.01;

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

/// Every run, in the order taken.
fn runs_ms(v: &[Duration]) -> String {
    v.iter()
        .map(|d| format!("{:.1}", ms(*d)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn time(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("start the command");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// `tdekey hsm keys --json` on the bench token through `module`.
fn tdekey_keys(data: &Path, conf: &Path, module: &Path) -> Command {
    let mut t = Command::new(env!("CARGO_BIN_EXE_tdekey"));
    t.arg("--data-dir")
        .arg(data)
        .args([
            "hsm",
            "keys",
            "--json",
            "--token",
            LABEL,
            "--pin-format",
            "plain",
            "--module",
        ])
        .arg(module)
        .env("TDEKEY_PIN", PIN)
        .env("SOFTHSM2_CONF", conf)
        .env_remove("PKCS11SPY")
        .env_remove("PKCS11SPY_OUTPUT");
    t
}

/// Load, open, login through `Hsm`: what tdekey does before it lists.
fn hsm_logged_in(module: &Path) -> Hsm {
    let mut hsm = Hsm::load(module).expect("load");
    hsm.open(&TokenSelector::Label(LABEL.into())).expect("open");
    hsm.login("", &Secret::from(PIN), PinFormat::Plain)
        .expect("login");
    hsm
}

fn find_batch() -> NonZeroUsize {
    NonZeroUsize::new(FIND_BATCH).expect("FIND_BATCH is not 0")
}

/// tdekey's inventory: load + open + login + every object's attributes + C_Finalize.
fn inventory_once(module: &Path, objects: usize) -> Duration {
    let start = Instant::now();
    let hsm = hsm_logged_in(module);
    let n = hsm.inventory(&mut |_, _| {}).expect("inventory").len();
    hsm.close().expect("close");
    let took = start.elapsed();
    assert_eq!(n, objects);
    took
}

/// The floor through `Hsm`: the same load + open + login, then the handles alone (FIND_BATCH
/// per C_FindObjects, as the inventory finds them) + C_Finalize.
fn floor_hsm_once(module: &Path, objects: usize) -> Duration {
    let start = Instant::now();
    let hsm = hsm_logged_in(module);
    let n = hsm
        .session()
        .expect("session")
        .iter_objects_with_cache_size(&[], find_batch())
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .expect("find the handles")
        .len();
    hsm.close().expect("close");
    let took = start.elapsed();
    assert_eq!(n, objects);
    took
}

/// The floor through bare cryptoki: load + C_Initialize + the slot whose token is the bench's +
/// open + login + the handles alone + C_Finalize.
fn floor_cryptoki_once(module: &Path, objects: usize) -> Duration {
    let start = Instant::now();
    let pkcs11 = Pkcs11::new(module).expect("load the module");
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let slot = pkcs11
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|s| {
            pkcs11
                .get_token_info(*s)
                .is_ok_and(|t| t.label().trim_end() == LABEL)
        })
        .expect("the bench token");
    let n = {
        let session = pkcs11.open_rw_session(slot).expect("open a session");
        session
            .login(UserType::User, Some(&AuthPin::from(PIN)))
            .expect("login");
        let handles = session
            .iter_objects_with_cache_size(&[], find_batch())
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .expect("find the handles");
        handles.len()
    };
    pkcs11.finalize().expect("C_Finalize");
    let took = start.elapsed();
    assert_eq!(n, objects);
    took
}

/// One more `tdekey hsm keys --json` through pkcs11-spy: its wall time (with the spy's
/// logging), and the number of calls of each PKCS#11 function.
fn count_pkcs11_calls(
    spy: &Path,
    dir: &Path,
    data: &Path,
    conf: &Path,
    module: &Path,
    objects: usize,
) -> (Duration, BTreeMap<String, usize>) {
    let log = dir.join("pkcs11-spy.log");
    let mut c = tdekey_keys(data, conf, spy);
    c.env("PKCS11SPY", module).env("PKCS11SPY_OUTPUT", &log);
    let start = Instant::now();
    let out = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("start tdekey");
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "tdekey through pkcs11-spy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("tdekey hsm keys --json prints JSON");
    assert_eq!(
        listed["objects"].as_array().map(Vec::len),
        Some(objects),
        "objects listed through pkcs11-spy"
    );
    let file = std::fs::File::open(&log).expect("pkcs11-spy wrote its log");
    let mut calls = BTreeMap::new();
    // The log holds the attribute values too: read it line by line, as bytes.
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.expect("read the pkcs11-spy log");
        let line = String::from_utf8_lossy(&line);
        // "12: C_GetAttributeValue"
        let Some((n, f)) = line.split_once(": ") else {
            continue;
        };
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && f.starts_with("C_") {
            let name = f.split_whitespace().next().unwrap_or(f);
            *calls.entry(name.to_owned()).or_insert(0) += 1;
        }
    }
    assert!(!calls.is_empty(), "no call in {}", log.display());
    std::fs::remove_file(&log).ok();
    (wall, calls)
}

fn main() {
    let objects = env_usize("TDEKEY_BENCH_OBJECTS", 5000);
    let runs = env_usize("TDEKEY_BENCH_RUNS", 5).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let conf = demo::write_softhsm_conf(&dir.path().join("softhsm2")).expect("softhsm conf");
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let module = demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");

    let fill = Instant::now();
    fill_token(LABEL, PIN, objects);
    println!(
        "token: {objects} objects ({} AES-256 keys, {} data objects), filled in {:.1} s",
        objects.div_ceil(2),
        objects / 2,
        fill.elapsed().as_secs_f64()
    );

    // In-process, one PKCS#11 context at a time (each closed with C_Finalize before the
    // next), the three taken in turn, the first of each run rotating.
    let mut inventory = Vec::new();
    let mut floor_hsm = Vec::new();
    let mut floor_ck = Vec::new();
    for r in 0..runs {
        for k in 0..3 {
            match (r + k) % 3 {
                0 => inventory.push(inventory_once(&module, objects)),
                1 => floor_hsm.push(floor_hsm_once(&module, objects)),
                _ => floor_ck.push(floor_cryptoki_once(&module, objects)),
            }
        }
    }

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..runs {
        ours.push(time(tdekey_keys(&data, &conf, &module)));
        let mut p = Command::new("pkcs11-tool");
        p.arg("--module")
            .arg(&module)
            .args([
                "--token-label",
                LABEL,
                "--login",
                "--pin",
                PIN,
                "--list-objects",
            ])
            .env("SOFTHSM2_CONF", &conf);
        theirs.push(time(p));
    }

    let (o, t) = (median(&ours), median(&theirs));
    let (i, fh, fc) = (median(&inventory), median(&floor_hsm), median(&floor_ck));
    println!("runs: {runs} each, alternating; medians (every run, ms, in order):");
    println!(
        "  tdekey hsm keys --json      {:>8.1} ms  [{}]",
        ms(o),
        runs_ms(&ours)
    );
    println!(
        "  pkcs11-tool --list-objects  {:>8.1} ms  [{}]",
        ms(t),
        runs_ms(&theirs)
    );
    println!(
        "  ratio tdekey / pkcs11-tool  {:>8.2}x  (goal: <= 1.00x)",
        o.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "in-process, each load + C_Initialize + open + login + listing + C_Finalize (no process start-up):"
    );
    println!(
        "  Hsm::inventory              {:>8.1} ms  [{}]  ({objects} objects, {} attributes each, as the GUI does)",
        ms(i),
        runs_ms(&inventory),
        tdekey::hsm::objects::INVENTORY_ATTRIBUTES.len()
    );
    println!(
        "  floor: handles alone, Hsm   {:>8.1} ms  [{}]  (same load/open/login, {FIND_BATCH} per C_FindObjects)",
        ms(fh),
        runs_ms(&floor_hsm)
    );
    println!(
        "  floor: handles alone, bare  {:>8.1} ms  [{}]  (cryptoki only, {FIND_BATCH} per C_FindObjects)",
        ms(fc),
        runs_ms(&floor_ck)
    );
    println!(
        "  ratio inventory / floor     {:>8.2}x  (against the Hsm floor; {:.1} ms for the attributes)",
        i.as_secs_f64() / fh.as_secs_f64(),
        ms(i.saturating_sub(fh))
    );

    match find_spy() {
        None => println!(
            "PKCS#11 calls: not counted (no pkcs11-spy.so; make deps-bench installs opensc)"
        ),
        Some(spy) => {
            let (wall, calls) =
                count_pkcs11_calls(&spy, dir.path(), &data, &conf, &module, objects);
            let total: usize = calls.values().sum();
            let of = |f: &str| calls.get(f).copied().unwrap_or(0);
            let (get, find) = (of("C_GetAttributeValue"), of("C_FindObjects"));
            println!(
                "PKCS#11 calls of one tdekey hsm keys --json (through {}, {:.0} ms with its logging): {total}",
                spy.display(),
                ms(wall)
            );
            println!("  C_GetAttributeValue         {get:>8}");
            println!("  C_FindObjects               {find:>8}");
            println!(
                "  calls per object            {:>8.3}  ((C_GetAttributeValue + C_FindObjects) / {objects}; goal: <= {CALLS_GOAL:.2})",
                (get + find) as f64 / objects.max(1) as f64
            );
            let mut others: Vec<_> = calls
                .into_iter()
                .filter(|(f, _)| f != "C_GetAttributeValue" && f != "C_FindObjects")
                .collect();
            others.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let others: Vec<String> = others.iter().map(|(f, n)| format!("{n} {f}")).collect();
            println!("  other calls: {}", others.join(", "));
        }
    }
}
