//! Benchmark: `tdekey rotate --due` over 200 Rehearsal databases on one SoftHSM2 token, per
//! rotation, beside `pkcs11-tool --keygen --key-type AES:32` on the same token. Goal: a
//! rotation within 1.2× of the key generation alone (a rotation is one key generation plus
//! bookkeeping).
//!
//! Each run gets a fresh data directory with its own SoftHSM2 configuration, `tdekey hsm
//! demo-token`, 200 Rehearsal databases whose master key is already on the token (set up as
//! the tests' `rehearsal_on_hsm` does), a policy for each due yesterday and a credentials
//! directory (none of it timed). Then, on that token:
//!
//! - one `tdekey rotate --due --credentials DIR --json` process, timed by the wall clock, its
//!   CPU time read with wait4 and its peak RSS (VmHWM) from /proc; it counts only if it exits 0
//!   and its JSON says every database was rotated. Per rotation = wall / 200. Where the time went comes from the audit entries
//!   the run wrote (their timestamps split each rotation into its phases);
//! - 200 `pkcs11-tool --keygen --key-type AES:32 --sensitive --private --usage-decrypt`
//!   processes, one per key as a rotation makes one key (each a start-up, C_Initialize, login,
//!   C_GenerateKey); per key = wall / 200;
//! - the in-process floor: 200 `C_GenerateKey` with tdekey's master-key template in one
//!   logged-in session;
//! - one search by CKA_LABEL in this process, before and after the rotation (SoftHSM2's file
//!   store reads every object file for each search, so a search costs in proportion to the
//!   token, and a rotation makes several).
//!
//! The medians of the runs are reported. The PKCS#11 calls of a rotation are counted through
//! OpenSC's pkcs11-spy on two smaller runs (10 and 20 databases: the difference / 10 is what
//! one more database costs, the rest is fixed).
//!
//! Each run is made on each store engine: the data directory's SQLite file, then a PostgreSQL
//! database (a local cluster over TCP on 127.0.0.1, fsync and synchronous_commit on) named
//! with `--store` and `--store-password-file`; the SoftHSM2 token, the Rehearsal hosts and the
//! pkcs11-tool comparison are the same on both. The PKCS#11 calls are counted on SQLite only
//! (the store does not change them).
//!
//! `make bench`, or `cargo bench --bench rotation`. TDEKEY_BENCH_ROTATION_RUNS changes the
//! number of runs (3), TDEKEY_BENCH_ROTATION_DBS the number of databases (200),
//! TDEKEY_BENCH_ENGINES=sqlite|postgresql measures one engine only;
//! TDEKEY_BENCH_SPY=PATH uses another pkcs11-spy.so, TDEKEY_BENCH_SPY=none skips the count;
//! TDEKEY_BENCH_ROTATION_KEEP=1 only sets up one data directory, keeps it and prints the
//! `rotate --due` command to run on it (to profile it with perf or strace).

mod common;

use common::pg::Cluster;
use common::{Engine, cpu_model, engines, env_usize, find_spy, ms, pg_facts, softhsm_version};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tdekey::audit::Auditor;
use tdekey::hsm::demo::{self, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::hsm::{Hsm, KeyTemplate};
use tdekey::model::{
    ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat, TokenSelector, now_ms,
};
use tdekey::paths::{DataDir, SharedStore};
use tdekey::secret::Secret;

const GOAL_RATIO: f64 = 1.2;
const SPY_DBS: [usize; 2] = [10, 20];

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One finished process: wall time, peak RSS (KiB, when sampled), CPU time, output.
struct Ran {
    wall: Duration,
    max_rss_kib: i64,
    /// CPU time: user, system.
    cpu: (Duration, Duration),
    status: ExitStatus,
    out: String,
    err: String,
}

/// Runs `cmd` to the end, its output in files (no pipe to drain), and reaps it with wait4 for
/// its CPU time. With `peak`, a second thread reads the child's VmHWM from /proc every 10 ms:
/// wait4's ru_maxrss would not do here, since the kernel starts a child's count at the peak of
/// the process it was spawned from (this one holds the set-up's SoftHSM2 module and store).
fn run(mut cmd: Command, scratch: &Path, peak: bool) -> Ran {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"));
    let start = Instant::now();
    let child = cmd.spawn().expect("start the command");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data; the child is reaped here and never through `child`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let (done, hwm) = (AtomicBool::new(false), AtomicI64::new(0));
    std::thread::scope(|s| {
        if peak {
            s.spawn(|| {
                let file = format!("/proc/{pid}/status");
                while !done.load(Ordering::Relaxed) {
                    let kib = std::fs::read_to_string(&file).ok().and_then(|t| {
                        t.lines()
                            .find_map(|l| l.strip_prefix("VmHWM:"))
                            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                    });
                    if let Some(k) = kib {
                        hwm.fetch_max(k, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
        loop {
            // SAFETY: valid pointers to locals; `pid` is our own unreaped child.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
        }
        done.store(true, Ordering::Relaxed);
    });
    let wall = start.elapsed();
    drop(child);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ran {
        wall,
        max_rss_kib: hwm.load(Ordering::Relaxed),
        cpu: (tv(usage.ru_utime), tv(usage.ru_stime)),
        status: ExitStatus::from_raw(status),
        out: std::fs::read_to_string(&out_path).unwrap_or_default(),
        err: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Runs `cmd` and insists that it succeeded.
fn run_ok(cmd: Command, scratch: &Path) -> Ran {
    let what = format!("{cmd:?}");
    let r = run(cmd, scratch, false);
    assert!(
        r.status.success(),
        "{what} failed ({}):\n{}{}",
        r.status,
        r.out,
        r.err
    );
    r
}

/// A data directory with its own SoftHSM2 configuration (adopted by this process too), the
/// demo token, `dbs` Rehearsal databases on it whose master key is on the token, each with a
/// policy due yesterday, and a credentials directory.
struct Bench {
    dir: tempfile::TempDir,
    data: DataDir,
    conf: PathBuf,
    module: PathBuf,
    creds: PathBuf,
    dbs: usize,
    /// The PostgreSQL cluster the store is on (dropped last: it stops the server).
    cluster: Option<Cluster>,
}

impl Bench {
    fn new(dbs: usize, engine: Engine) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = (engine == Engine::PostgreSql).then(Cluster::start_durable);
        let store = cluster.as_ref().map(|c| SharedStore {
            url: c.url(&c.create_db()),
            password_file: Some(c.password_file()),
        });
        let data = DataDir::at(dir.path().join("data")).with_store(store);
        data.ensure().expect("data dir");
        let conf = demo::write_softhsm_conf(&data.softhsm_dir()).expect("softhsm conf");
        // SAFETY: this process runs no other thread; SoftHSM2 reads it at each C_Initialize.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let module =
            demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");
        let creds = dir.path().join("creds");
        let b = Bench {
            dir,
            data,
            conf,
            module,
            creds,
            dbs,
            cluster,
        };
        let mut c = b.tdekey();
        c.args(["hsm", "demo-token"]);
        run_ok(c, b.dir.path());
        b.rehearsal_on_hsm();
        b.policies_due_yesterday();
        b.credentials();
        b
    }

    fn names(&self) -> Vec<String> {
        (1..=self.dbs).map(|i| format!("ROT{i:04}")).collect()
    }

    /// The `tdekey` binary with this data directory, its store and SoftHSM2 configuration, and
    /// no secret, store or spy from the caller's environment.
    fn tdekey(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tdekey"));
        c.arg("--data-dir").arg(self.data.root());
        if let Some(s) = self.data.shared_store() {
            c.arg("--store").arg(&s.url);
            if let Some(f) = &s.password_file {
                c.arg("--store-password-file").arg(f);
            }
        }
        c.env("SOFTHSM2_CONF", &self.conf)
            .env_remove("TDEKEY_STORE")
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env_remove("TDEKEY_DATA_DIR")
            .env_remove("TDEKEY_PIN")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("PKCS11SPY")
            .env_remove("PKCS11SPY_OUTPUT");
        c
    }

    /// `tdekey rotate --due --credentials DIR --json`.
    fn rotate_due(&self) -> Command {
        let mut c = self.tdekey();
        c.args(["rotate", "--due", "--json", "--credentials"])
            .arg(&self.creds);
        c
    }

    /// The demo token, logged in as the demo crypto user, in this process.
    fn hsm(&self) -> Hsm {
        let mut hsm = Hsm::load(&self.module).expect("load SoftHSM2");
        hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
            .expect("open the demo token");
        hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
            .expect("log in");
        hsm
    }

    /// The tests' `rehearsal_on_hsm`: Rehearsal databases (non-CDB, on the demo token's
    /// profile) with a file wallet set up, TDE_CONFIGURATION=HSM|FILE, restarted, migrated.
    fn rehearsal_on_hsm(&self) {
        use tdekey::oracle::Connector;
        use tdekey::oracle::rehearsal::{self, Rehearsal};
        use tdekey::tde::request::{Reply, Request};
        let mut a = Auditor::open(&self.data).expect("open the store");
        let mut hsm = self.hsm();
        let pw = Secret::from("Wallet-Pw-Rot1");
        for name in self.names() {
            let root = format!("/u01/app/oracle/admin/{name}/wallet");
            tdekey::databases::save(
                &mut a,
                &DatabaseProfile {
                    id: None,
                    name: name.clone(),
                    connector: ConnectorKind::Rehearsal,
                    oracle_home: None,
                    oracle_sid: None,
                    connect_string: None,
                    auth: DbAuth::Os,
                    connect_as: tdekey::model::ConnectAs::Sysdba,
                    wallet_root: Some(root.clone()),
                    multitenant: Multitenant::NonCdb,
                    rac: false,
                    rac_nodes: Vec::new(),
                    standbys: Vec::new(),
                    hsm_profile: Some(DEMO_PROFILE_NAME.into()),
                },
            )
            .expect("save the database");
            let path = rehearsal::state_path(self.data.root(), &name);
            let mut r = Rehearsal::open(
                &path,
                &name,
                Multitenant::NonCdb,
                &mut hsm,
                PinFormat::Plain,
            )
            .expect("open the Rehearsal");
            let mut requests = rehearsal::seed_requests(&root, &pw);
            requests.extend([
                Request::SetTdeConfiguration {
                    value: "HSM|FILE".into(),
                    all_instances: false,
                },
                Request::Restart,
                Request::Migrate {
                    hsm_user: DEMO_USER.into(),
                    hsm_password: Secret::from(DEMO_USER_PIN),
                    wallet_password: pw.clone(),
                    backup: Some(Some("pre_hsm".into())),
                },
            ]);
            for req in &requests {
                let reply = r.run(req).expect("Rehearsal statement").reply;
                assert!(
                    !matches!(reply, Reply::Error { .. }),
                    "{name}: {}: {reply:?}",
                    req.title()
                );
            }
        }
        hsm.close().expect("close the module");
    }

    /// `tdekey policy set NAME --every 90d --next-due <yesterday>`, through the library.
    fn policies_due_yesterday(&self) {
        use tdekey::rotation::{PolicyChange, Schedule, local_date, local_zone, parse_due_date};
        let tz = local_zone();
        let yesterday = local_date(now_ms() - 86_400_000, &tz);
        let due = parse_due_date(&yesterday, &tz).expect("a due date");
        let schedule = Schedule::parse_every("90d").expect("a schedule");
        let mut a = Auditor::open(&self.data).expect("open the store");
        for name in self.names() {
            tdekey::rotation::set_policy(
                &mut a,
                &PolicyChange {
                    database: name,
                    schedule: schedule.clone(),
                    way: None,
                    next_due_ms: Some(due),
                },
            )
            .expect("set the policy");
        }
    }

    /// A credentials directory: `hsm-pin`, mode 0600.
    fn credentials(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.creds).expect("credentials dir");
        std::fs::set_permissions(&self.creds, std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let f = self.creds.join("hsm-pin");
        std::fs::write(&f, format!("{DEMO_USER_PIN}\n")).expect("hsm-pin");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    /// Checks that a `rotate --due` run rotated every database; returns its JSON.
    fn check_rotated(&self, r: &Ran) -> serde_json::Value {
        assert!(
            r.status.success(),
            "rotate --due failed ({}):\n{}{}",
            r.status,
            r.out,
            r.err
        );
        let v: serde_json::Value = serde_json::from_str(&r.out)
            .unwrap_or_else(|e| panic!("rotate --due JSON: {e}: {}", r.out));
        assert_eq!(v["rotated"], self.dbs, "{}", r.out);
        assert_eq!(v["failed"], 0, "{}", r.out);
        v
    }

    /// The audit entries written from `since_ms` on, oldest first: (time, "action outcome").
    fn entries_since(&self, since_ms: i64) -> Vec<(i64, String)> {
        let a = Auditor::open(&self.data).expect("open the store");
        let filter = tdekey::store::AuditFilter {
            since_ms: Some(since_ms),
            ..Default::default()
        };
        let mut rows = a
            .store()
            .audit_page(&filter, None, 100 * self.dbs + 1000)
            .expect("read the audit log");
        rows.sort_by_key(|r| r.seq);
        rows.into_iter()
            .map(|r| (r.ts_ms, format!("{} {}", r.action, r.outcome)))
            .collect()
    }
}

/// The wall clock in ms, as the audit log records it.
fn wall_ms() -> i64 {
    now_ms()
}

/// Splits a timed process's life by the audit entries it wrote: the time between each pair of
/// consecutive entries, summed per pair of entries ("A → B"), in order of first appearance;
/// with the process's start and end as the first and last.
fn segments(entries: &[(i64, String)], start_ms: i64, end_ms: i64) -> Vec<(String, usize, i64)> {
    let mut points = vec![(start_ms, "process start".to_owned())];
    points.extend(entries.iter().cloned());
    points.push((end_ms, "process end".to_owned()));
    let mut out: Vec<(String, usize, i64)> = Vec::new();
    for w in points.windows(2) {
        let key = format!("{} → {}", w[0].1, w[1].1);
        let d = w[1].0 - w[0].0;
        match out.iter_mut().find(|s| s.0 == key) {
            Some(s) => {
                s.1 += 1;
                s.2 += d;
            }
            None => out.push((key, 1, d)),
        }
    }
    out
}

/// The USE KEY statement: the Rehearsal's simulated Oracle at work (in production, Oracle's
/// own time on its own HSM session).
const USE_KEY_SEGMENT: &str = "oracle.statement started → oracle.statement success";

/// What happens between two audit entries of a rotation, as the code stood when this
/// benchmark was written (each search is one C_FindObjectsInit, C_FindObjects,
/// C_FindObjectsFinal: on SoftHSM2's file store, a pass over every object file of the token).
fn phase_note(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "rotation.run started → key.generate started" => {
            "check: V$ENCRYPTION_WALLET, V$ENCRYPTION_KEYS, 1 search (the active key), run saved; then C_GenerateRandom and 2 searches (new label, new CKA_ID)"
        }
        "key.generate started → key.generate success" => {
            "C_GenerateKey, the key's attributes read back"
        }
        "key.generate success → oracle.statement started" => "run saved",
        USE_KEY_SEGMENT => {
            "USE KEY in the Rehearsal: its Oracle makes 2 searches (key, metadata; the marker only when it opens a closed keystore), C_CreateObject (metadata), saves its state"
        }
        "oracle.statement success → hsm.data_object_create success" => {
            "the metadata object audited"
        }
        "hsm.data_object_create success → key.owner started" => {
            "verify: V$ENCRYPTION_KEYS, the previous key read again through its handle (no search), run saved"
        }
        "key.owner started → key.owner success" => "the new key recorded as the database's",
        "key.owner success → rotation.run success" => "run finished, next due date set",
        "rotation.run success → rotation.run started" => {
            "next database: its profile and policy read, run claimed"
        }
        _ => return None,
    })
}

/// What one run measured.
struct Measured {
    rotate_wall: Duration,
    rotate_rss_kib: i64,
    pkcs11_tool_total: Duration,
    floor_total: Duration,
    /// Audit entries written by the rotate process.
    entries: usize,
    segments: Vec<(String, usize, i64)>,
    /// (token objects before the rotation, after it, after pkcs11-tool).
    objects: (usize, usize, usize),
    /// The attributes of a pkcs11-tool key as read back (first run only).
    tool_key: Option<String>,
    /// One search by label in this process, before and after the rotation.
    find: (Duration, Duration),
    /// The rotate process's CPU time (user, system).
    rotate_cpu: (Duration, Duration),
}

/// The number of objects on the token, and the time of one search by CKA_LABEL
/// (`C_FindObjectsInit`, `C_FindObjects`, `C_FindObjectsFinal`) in this process.
fn token_probe(b: &Bench) -> (usize, Duration) {
    const SEARCHES: u32 = 20;
    let hsm = b.hsm();
    let n = hsm.inventory(&mut |_, _| {}).expect("inventory").len();
    let t = Instant::now();
    for _ in 0..SEARCHES {
        let found = hsm
            .count_label("ORACLE.TDE.HSM.MK.0600000000000000000000000000000000")
            .expect("search by label");
        assert_eq!(found, 0);
    }
    let per = t.elapsed() / SEARCHES;
    hsm.close().expect("close the module");
    (n, per)
}

fn one_run(dbs: usize, first: bool, engine: Engine) -> Measured {
    let b = Bench::new(dbs, engine);
    if first && let Some(c) = &b.cluster {
        println!("Store: {}", pg_facts(c));
    }
    let (before, find_before) = token_probe(&b);

    // The rotation: one process over every due database.
    let start_ms = wall_ms();
    let r = run(b.rotate_due(), b.dir.path(), true);
    let end_ms = wall_ms();
    b.check_rotated(&r);
    let entries = b.entries_since(start_ms);
    let segments = segments(&entries, start_ms, end_ms);
    let (after, find_after) = token_probe(&b);

    // pkcs11-tool: one process per key, on the same token.
    let pin = DEMO_USER_PIN;
    let mut tool = Duration::ZERO;
    for i in 0..dbs {
        let mut c = Command::new("pkcs11-tool");
        c.arg("--module")
            .arg(&b.module)
            .args(["--token-label", DEMO_TOKEN_LABEL, "--login", "--pin", pin])
            .args(["--keygen", "--key-type", "AES:32"])
            .args(["--sensitive", "--private", "--usage-decrypt"])
            .arg("--label")
            .arg(format!("bench-{i}"))
            .arg("--id")
            .arg(format!("b0{i:030x}"))
            .env("SOFTHSM2_CONF", &b.conf);
        tool += run_ok(c, b.dir.path()).wall;
    }

    // The floor: C_GenerateKey in one logged-in session of this process.
    let hsm = b.hsm();
    let t = Instant::now();
    for i in 0..dbs {
        hsm.generate_aes_key(&format!("floor-{i}"), KeyTemplate::ORACLE_MASTER_KEY)
            .expect("C_GenerateKey");
    }
    let floor = t.elapsed();
    let objs = hsm.inventory(&mut |_, _| {}).expect("inventory");
    let tool_key = first.then(|| {
        objs.iter()
            .find(|o| o.label == "bench-0")
            .map(|o| {
                let f = &o.flags;
                let b = |v: Option<bool>| v.map_or("?", |v| if v { "yes" } else { "no" });
                format!(
                    "token {}, private {}, sensitive {}, extractable {}, encrypt {}, decrypt {}",
                    b(f.token),
                    b(f.private),
                    b(f.sensitive),
                    b(f.extractable),
                    b(f.encrypt),
                    b(f.decrypt)
                )
            })
            .unwrap_or_else(|| "not found".into())
    });
    let after_tool = objs.len() - dbs;
    hsm.close().expect("close the module");

    Measured {
        rotate_wall: r.wall,
        rotate_rss_kib: r.max_rss_kib,
        pkcs11_tool_total: tool,
        floor_total: floor,
        entries: entries.len(),
        segments,
        objects: (before, after, after_tool),
        tool_key,
        find: (find_before, find_after),
        rotate_cpu: r.cpu,
    }
}

/// One `rotate --due` over `dbs` databases through pkcs11-spy (the demo profile's module
/// replaced by the spy): the number of calls of each PKCS#11 function.
fn count_pkcs11_calls(spy: &Path, dbs: usize) -> BTreeMap<String, usize> {
    let b = Bench::new(dbs, Engine::Sqlite);
    let mut a = Auditor::open(&b.data).expect("open the store");
    let mut profile = a
        .store()
        .hsm_profile_by_name(DEMO_PROFILE_NAME)
        .expect("read the profiles")
        .expect("the demo profile");
    profile.module_path = spy.to_path_buf();
    tdekey::session::save_hsm_profile(&mut a, &profile, false).expect("save the profile");
    drop(a);
    let log = b.dir.path().join("pkcs11-spy.log");
    let mut c = b.rotate_due();
    c.env("PKCS11SPY", &b.module).env("PKCS11SPY_OUTPUT", &log);
    let r = run(c, b.dir.path(), false);
    b.check_rotated(&r);
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
    calls
}

fn main() {
    let runs = env_usize("TDEKEY_BENCH_ROTATION_RUNS", 3).max(1);
    let dbs = env_usize("TDEKEY_BENCH_ROTATION_DBS", 200).max(1);
    demo::softhsm_module().expect("SoftHSM2 is installed (make bench installs it)");
    assert!(
        Command::new("pkcs11-tool")
            .arg("--show-info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok(),
        "pkcs11-tool is installed (make deps-bench installs opensc)"
    );

    if std::env::var_os("TDEKEY_BENCH_ROTATION_KEEP").is_some() {
        // For perf or strace: one set-up, kept, and the command to run on it.
        let b = Bench::new(dbs, Engine::Sqlite);
        let dir = b.dir.path().to_path_buf();
        let c = b.rotate_due();
        let _ = b.dir.keep();
        println!("Set up in {} (kept). Run:", dir.display());
        println!(
            "SOFTHSM2_CONF={} {} {}",
            b.conf.display(),
            c.get_program().display(),
            c.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        return;
    }
    println!(
        "Machine: {} cores, {}; SoftHSM2 {} (file object store)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        softhsm_version()
    );
    for engine in engines() {
        report(engine, runs, dbs);
    }
    count_calls();
}

/// Runs and reports `rotate --due` over `dbs` databases, `runs` times, with its store on
/// `engine`.
fn report(engine: Engine, runs: usize, dbs: usize) {
    let mut m = Vec::new();
    for i in 0..runs {
        let setup = Instant::now();
        let r = one_run(dbs, i == 0, engine);
        eprintln!(
            "{} run {}/{runs}: rotate --due {:.0} ms ({:.1} ms per rotation), pkcs11-tool {:.1} ms per key, C_GenerateKey {:.2} ms ({:.0} s in all)",
            engine.name(),
            i + 1,
            ms(r.rotate_wall),
            ms(r.rotate_wall) / dbs as f64,
            ms(r.pkcs11_tool_total) / dbs as f64,
            ms(r.floor_total) / dbs as f64,
            setup.elapsed().as_secs_f64()
        );
        m.push(r);
    }

    let per = |f: &dyn Fn(&Measured) -> Duration| -> Vec<f64> {
        m.iter().map(|r| ms(f(r)) / dbs as f64).collect()
    };
    let rot = per(&|r| r.rotate_wall);
    let tool = per(&|r| r.pkcs11_tool_total);
    let floor = per(&|r| r.floor_total);
    let ratios: Vec<f64> = rot.iter().zip(&tool).map(|(r, t)| r / t).collect();
    let walls: Vec<f64> = m.iter().map(|r| ms(r.rotate_wall)).collect();
    let rss: Vec<f64> = m.iter().map(|r| r.rotate_rss_kib as f64 / 1024.0).collect();
    let (rot_m, tool_m, floor_m, ratio_m) =
        (median(&rot), median(&tool), median(&floor), median(&ratios));
    let list = |v: &[f64], p: usize| {
        v.iter()
            .map(|x| format!("{x:.p$}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };

    let find_before: Vec<f64> = m.iter().map(|r| ms(r.find.0)).collect();
    let find_after: Vec<f64> = m.iter().map(|r| ms(r.find.1)).collect();
    let user: Vec<f64> = m.iter().map(|r| ms(r.rotate_cpu.0)).collect();
    let sys: Vec<f64> = m.iter().map(|r| ms(r.rotate_cpu.1)).collect();
    let row = |what: &str, value: String, runs: String| {
        println!("  {what:<44} {value:>10}   (runs: {runs})");
    };

    let store = match engine {
        Engine::Sqlite => "the data directory's SQLite file",
        Engine::PostgreSql => "PostgreSQL over TCP on 127.0.0.1 (fsync on)",
    };
    println!(
        "tdekey rotate --due over {dbs} Rehearsal databases on one SoftHSM2 token, store on {store}, {runs} runs, each on a fresh token; medians:"
    );
    row(
        "rotate --due, the whole process",
        format!("{:.0} ms", median(&walls)),
        list(&walls, 0),
    );
    row("per rotation", format!("{rot_m:.2} ms"), list(&rot, 2));
    row(
        "pkcs11-tool --keygen AES:32, per key",
        format!("{tool_m:.2} ms"),
        list(&tool, 2),
    );
    row(
        "ratio rotation / pkcs11-tool",
        format!("{ratio_m:.2}×"),
        list(&ratios, 2),
    );
    println!(
        "  goal ≤ {GOAL_RATIO}×: {}",
        if ratio_m <= GOAL_RATIO {
            "goal met"
        } else {
            "GOAL MISSED"
        }
    );
    row(
        "in-process C_GenerateKey, per key",
        format!("{floor_m:.2} ms"),
        list(&floor, 2),
    );
    let (o0, o1, o2) = m[0].objects;
    row(
        &format!("in-process search by CKA_LABEL, {o0} objects"),
        format!("{:.2} ms", median(&find_before)),
        list(&find_before, 2),
    );
    row(
        &format!("in-process search by CKA_LABEL, {o1} objects"),
        format!("{:.2} ms", median(&find_after)),
        list(&find_after, 2),
    );
    row(
        "rotate --due CPU, user",
        format!("{:.0} ms", median(&user)),
        list(&user, 0),
    );
    row(
        "rotate --due CPU, system",
        format!("{:.0} ms", median(&sys)),
        list(&sys, 0),
    );
    row(
        "rotate --due peak RSS (VmHWM)",
        format!("{:.1} MiB", median(&rss)),
        list(&rss, 1),
    );
    println!(
        "  token objects (first run): {o0} before the rotation, {o1} after it, {o2} after pkcs11-tool"
    );
    if let Some(k) = &m[0].tool_key {
        println!("  pkcs11-tool's keys as read back: {k}");
    }
    println!(
        "  audit entries written by rotate --due: {} ({:.1} per rotation)",
        m[0].entries,
        m[0].entries as f64 / dbs as f64
    );

    // Where a rotation's time goes: the gaps between consecutive audit entries, each summed
    // over the run, per rotation, median of the runs.
    println!(
        "Where rotate --due's time goes (gaps between consecutive audit entries, ms; median of the runs):"
    );
    println!(
        "  {:>6} {:>9} {:>9}  from → to",
        "times", "total", "per rot."
    );
    let mut per_db = 0.0;
    let mut fixed = 0.0;
    for (key, count, _) in &m[0].segments {
        let totals: Vec<f64> = m
            .iter()
            .map(|r| {
                r.segments
                    .iter()
                    .find(|s| &s.0 == key)
                    .map_or(0.0, |s| s.2 as f64)
            })
            .collect();
        let t = median(&totals);
        if *count >= dbs.saturating_sub(1).max(2) {
            per_db += t;
        } else {
            fixed += t;
        }
        println!("  {count:>6} {t:>9.0} {:>9.2}  {key}", t / dbs as f64);
        if let Some(n) = phase_note(key) {
            println!("  {:>26}  ({n})", "");
        }
    }
    println!(
        "  per-database part {per_db:.0} ms ({:.2} ms per rotation); once per process (start-up, C_Initialize, login, reading policies, the end) {fixed:.0} ms",
        per_db / dbs as f64
    );
    // Without the simulated Oracle's USE KEY: what tdekey itself adds to one key generation.
    let own: Vec<f64> = m
        .iter()
        .zip(&tool)
        .map(|(r, t)| {
            let use_key = r
                .segments
                .iter()
                .find(|s| s.0 == USE_KEY_SEGMENT)
                .map_or(0, |s| s.2);
            (ms(r.rotate_wall) - use_key as f64) / dbs as f64 / t
        })
        .collect();
    println!(
        "  without the USE KEY statement (the Rehearsal's Oracle), per rotation / pkcs11-tool: median {:.2}× (runs: {})",
        median(&own),
        list(&own, 2)
    );
}

/// The PKCS#11 calls of `rotate --due`, through pkcs11-spy (on SQLite: the store does not
/// change them).
fn count_calls() {
    match find_spy() {
        None => println!(
            "PKCS#11 calls: not counted (no pkcs11-spy.so; make deps-bench installs opensc)"
        ),
        Some(spy) => {
            let [n1, n2] = SPY_DBS;
            let c1 = count_pkcs11_calls(&spy, n1);
            let c2 = count_pkcs11_calls(&spy, n2);
            let t1: usize = c1.values().sum();
            let t2: usize = c2.values().sum();
            println!(
                "PKCS#11 calls of rotate --due (through {}): {t1} for {n1} databases, {t2} for {n2}",
                spy.display()
            );
            println!("  {:>13} {:>6}  function", "per rotation", "fixed");
            let mut rows: Vec<(String, f64, f64)> = c2
                .keys()
                .chain(c1.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|f| {
                    let a = *c1.get(f).unwrap_or(&0) as f64;
                    let b = *c2.get(f).unwrap_or(&0) as f64;
                    let per = (b - a) / (n2 - n1) as f64;
                    (f.clone(), per, a - per * n1 as f64)
                })
                .collect();
            rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)));
            for (f, per, fixed) in &rows {
                println!("  {per:>13.1} {fixed:>6.0}  {f}");
            }
            let per: f64 = rows.iter().map(|r| r.1).sum();
            let fixed: f64 = rows.iter().map(|r| r.2).sum();
            println!("  {per:>13.1} {fixed:>6.0}  in all");
            println!(
                "  (a rotation's 5 searches: tdekey's check 1 and new key 2 (label, CKA_ID), the Rehearsal's Oracle 2 in USE KEY)"
            );
        }
    }
}
