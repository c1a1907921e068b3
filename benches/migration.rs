//! Benchmark: the migration wizard end to end, as `tdekey migrate run "Rehearsal demo" --yes`
//! on the built-in Rehearsal demo database and a SoftHSM2 demo token: a whole process (start-up,
//! C_Initialize, login, every step, the sealed wallet backup, the audit entries). Goal:
//! under 2 s, most of it the Argon2id (64 MiB, 3 passes) of the sealed wallet backup.
//!
//! Each run gets a fresh data directory with its own SoftHSM2 configuration (as the tests do)
//! and `tdekey hsm demo-token` (not timed); then the wizard is timed by the wall clock, and its
//! peak RSS read with wait4. A run counts only if it exits 0 and `migrate status --json` shows
//! every step done or skipped. Also measured:
//!
//! - the Argon2id alone: `tdekey wallet backup` of the migrated WALLET_ROOT sealed against
//!   `--unencrypted` (the wizard's backup step derives the key twice: sealing, reading back),
//!   and `tdekey wallet check-backup` of both (one derivation);
//! - the PKCS#11 calls of one more run, through OpenSC's pkcs11-spy (every call is a network
//!   round trip on AWS CloudHSM), on the demo token alone and with 5,000 more objects (other
//!   databases' keys on a shared HSM; TDEKEY_BENCH_EXTRA_OBJECTS changes it). Goal: at most
//!   120 calls either way: the steps look up the labels they know, never list the token.
//!
//! `make bench`, or `cargo bench --bench migration`. TDEKEY_BENCH_MIGRATIONS changes the number
//! of runs (5); TDEKEY_BENCH_SPY=PATH uses another pkcs11-spy.so, TDEKEY_BENCH_SPY=none skips
//! the count.

mod common;

use common::{env_usize, find_spy, ms};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tdekey::hsm::demo::{self, DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::paths::DataDir;

const WALLET_PASSWORD: &str = demo::DEMO_WALLET_PASSWORD;
const PASSPHRASE: &str = "a long backup passphrase 7";
const GOAL: Duration = Duration::from_secs(2);
/// PKCS#11 calls for a whole migration, whatever else the token holds (issue 19).
const CALLS_GOAL: usize = 120;

fn median<T: Ord + Copy>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

/// One finished process: wall time, peak RSS (KiB), output.
struct Ran {
    wall: Duration,
    max_rss_kib: i64,
    status: ExitStatus,
    out: String,
    err: String,
}

/// Runs `cmd` to the end, its output in files (no pipe to drain), and reaps it with wait4 for
/// its own peak RSS (getrusage(RUSAGE_CHILDREN) would mix in every earlier child).
fn run(mut cmd: Command, scratch: &Path) -> Ran {
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"));
    let start = Instant::now();
    let child = cmd.spawn().expect("start tdekey");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data; the child is reaped here and never through `child`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
    let wall = start.elapsed();
    drop(child);
    Ran {
        wall,
        max_rss_kib: usage.ru_maxrss,
        status: ExitStatus::from_raw(status),
        out: std::fs::read_to_string(&out_path).unwrap_or_default(),
        err: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Runs `cmd` and insists that it succeeded.
fn run_ok(cmd: Command, scratch: &Path) -> Ran {
    let what = format!("{cmd:?}");
    let r = run(cmd, scratch);
    assert!(
        r.status.success(),
        "{what} failed ({}):\n{}{}",
        r.status,
        r.out,
        r.err
    );
    r
}

/// A data directory with its own SoftHSM2 configuration, the demo token and the Rehearsal demo
/// database on it.
struct Demo {
    dir: tempfile::TempDir,
    data: DataDir,
    conf: PathBuf,
}

impl Demo {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = DataDir::at(dir.path().join("data"));
        data.ensure().expect("data dir");
        let conf = demo::write_softhsm_conf(&data.softhsm_dir()).expect("softhsm conf");
        let d = Demo { dir, data, conf };
        let mut c = d.tdekey();
        c.args(["hsm", "demo-token"]);
        run_ok(c, d.dir.path());
        d
    }

    /// The `tdekey` binary with this data directory and SoftHSM2 configuration, and no
    /// secret or spy from the caller's environment.
    fn tdekey(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tdekey"));
        c.arg("--data-dir")
            .arg(self.data.root())
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("TDEKEY_DATA_DIR")
            .env_remove("TDEKEY_PIN")
            .env_remove("TDEKEY_WALLET_PASSWORD")
            .env_remove("TDEKEY_BACKUP_PASSPHRASE")
            .env_remove("PKCS11SPY")
            .env_remove("PKCS11SPY_OUTPUT");
        c
    }

    /// `tdekey migrate run "Rehearsal demo" --yes` with the demo secrets in the environment.
    fn migrate_run(&self) -> Command {
        let mut c = self.tdekey();
        c.args(["migrate", "run", DEMO_DATABASE_NAME, "--yes"])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    }

    /// Checks that the run did the whole migration; returns `migrate status --json`.
    fn check_finished(&self, r: &Ran) -> serde_json::Value {
        assert!(
            r.status.success(),
            "migrate run failed ({}):\n{}{}",
            r.status,
            r.out,
            r.err
        );
        assert!(r.out.contains("is finished"), "{}", r.out);
        let mut c = self.tdekey();
        c.args(["migrate", "status", DEMO_DATABASE_NAME, "--json"]);
        let s = run_ok(c, self.dir.path());
        let v: serde_json::Value = serde_json::from_str(&s.out).expect("status JSON");
        let steps = v["steps"].as_array().expect("steps");
        assert!(!steps.is_empty(), "{v}");
        for s in steps {
            assert!(
                matches!(s["status"].as_str(), Some("done" | "skipped")),
                "step {} is {}: {v}",
                s["step"],
                s["status"]
            );
        }
        assert!(v["finished_ms"].is_number(), "{v}");
        assert!(v["new_key"].is_string(), "{v}");
        v
    }
}

/// The simulated host's WALLET_ROOT: the parent of the `tde` directory of the backed-up files.
fn wallet_root(status: &serde_json::Value) -> PathBuf {
    let file = status["backup"]["files"][0][0]
        .as_str()
        .expect("the backup lists its files");
    let tde = Path::new(file).parent().expect("tde directory");
    assert_eq!(
        tde.file_name().and_then(|n| n.to_str()),
        Some("tde"),
        "{file}"
    );
    tde.parent().expect("WALLET_ROOT").to_path_buf()
}

/// Each step's own time (finished_ms − started_ms), from `migrate status --json`.
fn step_times(status: &serde_json::Value) -> Vec<(String, i64)> {
    status["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let t = |k: &str| s[k].as_i64().unwrap_or(0);
            (
                s["step"].as_str().unwrap_or("?").to_owned(),
                t("finished_ms") - t("started_ms"),
            )
        })
        .collect()
}

/// Adds `extra` objects to the demo token of `d` (other databases' keys and metadata on a
/// shared HSM), in this process.
fn add_objects(d: &Demo, extra: usize) {
    use tdekey::model::{PinFormat, TokenSelector};
    if extra == 0 {
        return;
    }
    let module = demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");
    // SAFETY: the benchmark runs on one thread; SoftHSM2 reads this at C_Initialize.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &d.conf) };
    let mut hsm = tdekey::hsm::Hsm::load(&module).expect("load SoftHSM2");
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .expect("open the demo token");
    hsm.login(
        DEMO_USER,
        &tdekey::secret::Secret::from(DEMO_USER_PIN),
        PinFormat::Plain,
    )
    .expect("log in");
    common::add_objects(&hsm, extra);
    let held = hsm.inventory(&mut |_, _| {}).expect("list the token").len();
    assert!(
        held >= extra,
        "the token holds {held} objects, not {extra} more"
    );
    hsm.close().expect("close");
}

/// One more run through pkcs11-spy on a demo token holding `extra` more objects; the number
/// of calls of each PKCS#11 function.
fn count_pkcs11_calls(spy: &Path, extra: usize) -> (Duration, BTreeMap<String, usize>) {
    let module = demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");
    let d = Demo::new();
    add_objects(&d, extra);
    // The Oracle-library step copies the module onto the simulated host and accepts only a
    // `lib*.so` there.
    let lib = d.dir.path().join("libpkcs11-spy.so");
    std::fs::copy(spy, &lib).expect("copy pkcs11-spy");
    let log = d.dir.path().join("pkcs11-spy.log");
    let mut c = d.migrate_run();
    // --module alone leaves the profile aside: name the token, user and PIN format too.
    c.arg("--module")
        .arg(&lib)
        .args(["--token", DEMO_TOKEN_LABEL, "--user", DEMO_USER])
        .args(["--pin-format", "plain"])
        .env("PKCS11SPY", &module)
        .env("PKCS11SPY_OUTPUT", &log);
    let r = run(c, d.dir.path());
    d.check_finished(&r);
    let text = std::fs::read_to_string(&log).expect("pkcs11-spy wrote its log");
    let mut calls = BTreeMap::new();
    for line in text.lines() {
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
    (r.wall, calls)
}

fn main() {
    let runs = env_usize("TDEKEY_BENCH_MIGRATIONS", 5).max(1);
    demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");

    let mut walls = Vec::new();
    let mut rss = Vec::new();
    let mut steps: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let (mut sealed, mut plain, mut check_sealed, mut check_plain) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let d = Demo::new();
        let r = run(d.migrate_run(), d.dir.path());
        let status = d.check_finished(&r);
        walls.push(r.wall);
        rss.push(r.max_rss_kib);
        for (step, t) in step_times(&status) {
            if !order.contains(&step) {
                order.push(step.clone());
            }
            steps.entry(step).or_default().push(t);
        }

        // The KDF alone: the same backup of the same WALLET_ROOT, sealed and not.
        let root = wallet_root(&status);
        let backup = |out: &Path, seal: bool| {
            let mut c = d.tdekey();
            c.args(["wallet", "backup", "--wallet-root"])
                .arg(&root)
                .arg("--out")
                .arg(out);
            if seal {
                c.env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
            } else {
                c.arg("--unencrypted");
            }
            run_ok(c, d.dir.path()).wall
        };
        let check = |file: &Path| {
            let mut c = d.tdekey();
            c.args(["wallet", "check-backup"])
                .arg(file)
                .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
            run_ok(c, d.dir.path()).wall
        };
        let (s, p) = (
            d.dir.path().join("sealed.tdkb"),
            d.dir.path().join("plain.tdkb"),
        );
        sealed.push(backup(&s, true));
        plain.push(backup(&p, false));
        check_sealed.push(check(&s));
        check_plain.push(check(&p));
    }

    let (min, med, max) = (
        *walls.iter().min().unwrap(),
        median(&walls),
        *walls.iter().max().unwrap(),
    );
    let mib = |kib: i64| kib as f64 / 1024.0;
    println!(
        "tdekey migrate run \"{DEMO_DATABASE_NAME}\" --yes, {runs} runs, each on a fresh demo token:"
    );
    println!(
        "  wall time   min {:.0} ms   median {:.0} ms   max {:.0} ms",
        ms(min),
        ms(med),
        ms(max)
    );
    println!(
        "  goal: every run under {} s: {}",
        GOAL.as_secs(),
        if max < GOAL {
            "goal met"
        } else {
            "GOAL MISSED"
        }
    );
    println!(
        "  peak RSS    max {:.1} MiB   median {:.1} MiB",
        mib(*rss.iter().max().unwrap()),
        mib(median(&rss))
    );
    println!("  each step's own time (median, ms, from migrate status --json):");
    let mut in_steps = 0;
    for step in &order {
        let t = median(&steps[step]);
        in_steps += t;
        println!("    {step:<16} {t:>6}");
    }
    println!(
        "    (sum {in_steps} ms; the rest of the median run, {:.0} ms, is start-up, C_Initialize, login, loading state, the end)",
        ms(med) - in_steps as f64
    );

    let (bs, bp, cs, cp) = (
        median(&sealed),
        median(&plain),
        median(&check_sealed),
        median(&check_plain),
    );
    let one_kdf = (bs.saturating_sub(bp)) / 2;
    println!("Argon2id (64 MiB, 3 passes, 1 lane), medians of {runs}:");
    println!(
        "  tdekey wallet backup, sealed           {:>7.0} ms",
        ms(bs)
    );
    println!(
        "  tdekey wallet backup --unencrypted     {:>7.0} ms",
        ms(bp)
    );
    println!(
        "  tdekey wallet check-backup, sealed     {:>7.0} ms",
        ms(cs)
    );
    println!(
        "  tdekey wallet check-backup, plain      {:>7.0} ms",
        ms(cp)
    );
    println!(
        "  one derivation: {:.0} ms (backup sealed - plain, / 2: it seals, then reads back); {:.0} ms (check-backup sealed - plain)",
        ms(one_kdf),
        ms(cs.saturating_sub(cp))
    );
    println!(
        "  the wizard's backup step derives twice: {:.0} ms = {:.0}% of the median run",
        ms(one_kdf * 2),
        100.0 * (one_kdf * 2).as_secs_f64() / med.as_secs_f64()
    );

    // The same derivations in this process (no start-up, no disk): the sealed backup's, and
    // the Rehearsal's wallet-password verifier (argon2's defaults), which the file-open and
    // migrate steps check.
    let kdf = |params: argon2::Params| {
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                let mut key = [0u8; 32];
                let t = Instant::now();
                a.hash_password_into(PASSPHRASE.as_bytes(), b"sixteen byte slt", &mut key)
                    .expect("argon2");
                t.elapsed()
            })
            .collect();
        median(&times)
    };
    let sealed_params = argon2::Params::new(64 * 1024, 3, 1, Some(32)).expect("params");
    let verifier = argon2::Params::default();
    let (m, t) = (verifier.m_cost(), verifier.t_cost());
    println!(
        "  in this process: 64 MiB, 3 passes: {:.0} ms; the Rehearsal's password verifier ({m} KiB, {t} passes): {:.0} ms",
        ms(kdf(sealed_params)),
        ms(kdf(verifier))
    );

    match find_spy() {
        None => println!(
            "PKCS#11 calls: not counted (no pkcs11-spy.so; make deps-bench installs opensc)"
        ),
        Some(spy) => {
            let extra = env_usize("TDEKEY_BENCH_EXTRA_OBJECTS", 5000);
            let mut totals = Vec::new();
            for objects in [0, extra] {
                let (wall, calls) = count_pkcs11_calls(&spy, objects);
                let total: usize = calls.values().sum();
                totals.push((objects, total));
                println!(
                    "PKCS#11 calls of one migrate run on the demo token + {objects} other objects (through {}, {:.0} ms with its logging): {total}",
                    spy.display(),
                    ms(wall)
                );
                let mut by_count: Vec<_> = calls.into_iter().collect();
                by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                for (f, n) in by_count {
                    println!("  {n:>4} {f}");
                }
            }
            let worst = totals.iter().map(|t| t.1).max().unwrap_or(0);
            println!(
                "  goal: at most {CALLS_GOAL} calls for a whole migration on a token of {extra} objects: {}",
                if worst <= CALLS_GOAL {
                    "goal met"
                } else {
                    "GOAL MISSED"
                }
            );
        }
    }
}
