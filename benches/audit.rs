//! Benchmark: the audit log at 1,000,000 entries, on each store engine: this computer's SQLite
//! file and a PostgreSQL database (a local cluster over TCP on 127.0.0.1, fsync and
//! synchronous_commit on).
//!
//! - append rate: one transaction per entry (`Auditor::record`), and batches of 10,000
//!   (`Auditor::record_batch`: one COPY per batch on PostgreSQL);
//! - `verify` against `sha256sum` over a file of exactly the bytes verify hashes
//!   (prev_hash ‖ canonical(row) for every row): the physical floor. Goal ≤ 2×;
//! - CSV export against `sqlite3 -csv` (SQLite) or psql's `\copy … TO … CSV` (PostgreSQL) of
//!   the same table. Goal ≤ 1.0× on SQLite;
//! - time to the first page (200 rows) of filtered views. Goal < 100 ms.
//!
//! `make bench`, or `cargo bench --bench audit`. TDEKEY_BENCH_ENTRIES changes the size,
//! TDEKEY_BENCH_SINGLE the number of single appends, TDEKEY_BENCH_ENGINES=sqlite|postgresql
//! measures one engine only.

mod common;

use common::pg::Cluster;
use common::{Engine, bench_entry, engines, env_usize, pg_facts};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use tdekey::audit::export::{Format, export};
use tdekey::audit::{Action, Auditor, Outcome, canonical, verify};
use tdekey::store::{AuditFilter, Location, Store};

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// What one engine measured.
struct Figures {
    engine: Engine,
    size_mb: f64,
    single_rate: f64,
    batch_rate: f64,
    verify_s: f64,
    floor_mb: f64,
    sha_s: f64,
    export_s: f64,
    /// The engine's own CSV dump: (what it was, seconds).
    dump: (&'static str, f64),
    pages: Vec<(&'static str, f64, usize)>,
}

const BATCH: usize = 10_000;

fn filters() -> Vec<(&'static str, AuditFilter)> {
    vec![
        ("no filter", AuditFilter::default()),
        (
            "outcome = failure",
            AuditFilter {
                outcome: Some("failure".into()),
                ..Default::default()
            },
        ),
        (
            "action = hsm.login, user = cu_3",
            AuditFilter {
                action: Some("hsm.login".into()),
                user: Some("cu_3".into()),
                ..Default::default()
            },
        ),
        (
            "text \"token-42\"",
            AuditFilter {
                text: Some("token-42".into()),
                ..Default::default()
            },
        ),
        (
            "text matching nothing (full scan)",
            AuditFilter {
                text: Some("no-such-target".into()),
                ..Default::default()
            },
        ),
    ]
}

fn measure(engine: Engine, total: usize, singles: usize, dir: &Path) -> Figures {
    let db = dir.join("tdekey.sqlite3");
    let cluster = (engine == Engine::PostgreSql).then(Cluster::start_durable);
    let (location, pg_db) = match &cluster {
        None => (Location::Sqlite(db.clone()), None),
        Some(c) => {
            let name = c.create_db();
            let l = Location::shared(&c.url(&name), Some(&c.password_file())).expect("location");
            (l, Some(name))
        }
    };
    if let Some(c) = &cluster {
        eprintln!("{}: {}", engine.name(), pg_facts(c));
    }
    let mut a = Auditor::new(Store::connect(&location).expect("open the store"));

    let t = Instant::now();
    for i in 0..singles {
        a.record(
            Action::HsmInventory,
            "tdekey-demo",
            Outcome::Success,
            Some("cu_oracle"),
            json!({ "objects": i % 5000, "master_keys": 2, "critical": 0, "warnings": 0 }),
        )
        .expect("append");
    }
    let single_rate = singles as f64 / secs(t);

    let t = Instant::now();
    let mut written = singles;
    while written < total {
        let n = BATCH.min(total - written);
        let entries: Vec<_> = (written..written + n).map(bench_entry).collect();
        a.record_batch(&entries).expect("batch");
        written += n;
    }
    let batch_rate = (total - singles) as f64 / secs(t);
    eprintln!(
        "{}: {total} entries written ({single_rate:.0}/s single, {batch_rate:.0}/s in batches)",
        engine.name()
    );
    drop(a);
    let store = Store::connect(&location).expect("reopen");

    // verify vs sha256sum over the same bytes.
    let t = Instant::now();
    let v = verify(&store).expect("verify");
    let verify_s = secs(t);
    assert!(
        matches!(v, tdekey::audit::Verification::Intact { entries } if entries as usize == total),
        "{v:?}"
    );
    let floor = dir.join("canonical.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&floor).unwrap());
        store
            .for_each_audit_row(|r| {
                f.write_all(&r.prev_hash).unwrap();
                f.write_all(&canonical(&r)).unwrap();
                true
            })
            .unwrap();
        f.flush().unwrap();
    }
    let floor_mb = std::fs::metadata(&floor).unwrap().len() as f64 / 1e6;
    let t = Instant::now();
    let st = Command::new("sha256sum")
        .arg(&floor)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let sha_s = secs(t);
    std::fs::remove_file(&floor).unwrap();

    // CSV export vs the engine's own client.
    let out = dir.join("export.csv");
    let t = Instant::now();
    let m = export(
        &store,
        &AuditFilter::default(),
        Format::Csv,
        None,
        &out,
        false,
        &mut |_, _| true,
    )
    .expect("export");
    let export_s = secs(t);
    assert_eq!(m.entries as usize, total);
    std::fs::remove_file(&out).unwrap();
    let theirs = dir.join("theirs.csv");
    let t = Instant::now();
    let dump = match (&cluster, &pg_db) {
        (Some(c), Some(name)) => {
            c.psql(
                name,
                &format!(
                    "\\copy (SELECT * FROM audit_log ORDER BY seq) TO '{}' WITH (FORMAT csv)",
                    theirs.display()
                ),
            );
            ("psql \\copy … CSV (over its socket)", secs(t))
        }
        _ => {
            let st = Command::new("sqlite3")
                .arg("-csv")
                .arg(&db)
                .arg("SELECT * FROM audit_log;")
                .stdout(std::fs::File::create(&theirs).unwrap())
                .status()
                .expect("sqlite3 is installed (make bench installs it)");
            assert!(st.success());
            ("sqlite3 -csv", secs(t))
        }
    };
    std::fs::remove_file(&theirs).unwrap();

    // First page of filtered views. PostgreSQL's statistics are brought up to date first (as
    // autovacuum would have done by then on a team's server).
    if let (Some(c), Some(name)) = (&cluster, &pg_db) {
        c.psql(name, "ANALYZE audit_log");
    }
    let mut pages = Vec::new();
    for (name, f) in filters() {
        let t = Instant::now();
        let rows = store.audit_page(&f, None, 200).expect("page");
        pages.push((name, secs(t) * 1e3, rows.len()));
    }

    // How PostgreSQL answers a text search that matches nothing (the statement audit_page
    // sends, with its values written in).
    if let (Some(c), Some(name)) = (&cluster, &pg_db) {
        let plan = c.psql(
            name,
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT * FROM audit_log \
             WHERE (target ILIKE '%no-such-target%' ESCAPE '\\' \
             OR details ILIKE '%no-such-target%' ESCAPE '\\') ORDER BY seq DESC LIMIT 200",
        );
        println!("PostgreSQL's plan for the text that matches nothing:");
        for line in plan.lines() {
            println!("    {line}");
        }
    }
    let size_mb = match (&cluster, &pg_db) {
        (Some(c), Some(name)) => {
            c.psql(name, "SELECT pg_database_size(current_database())")
                .parse::<f64>()
                .expect("a size")
                / 1e6
        }
        _ => std::fs::metadata(&db).unwrap().len() as f64 / 1e6,
    };
    // TDEKEY_BENCH_KEEP=DIR keeps the SQLite database, to open the window on it:
    // tdekey --data-dir DIR
    if let (Engine::Sqlite, Some(keep)) = (engine, std::env::var_os("TDEKEY_BENCH_KEEP")) {
        drop(store);
        let keep = std::path::PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("keep dir");
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute(
            "VACUUM INTO ?1",
            [keep.join("tdekey.sqlite3").display().to_string()],
        )
        .expect("copy");
        println!("kept the database in {}", keep.display());
    }
    Figures {
        engine,
        size_mb,
        single_rate,
        batch_rate,
        verify_s,
        floor_mb,
        sha_s,
        export_s,
        dump,
        pages,
    }
}

fn report(f: &Figures, total: usize, singles: usize) {
    let what = match f.engine {
        Engine::Sqlite => "SQLite file (WAL, synchronous=FULL)",
        Engine::PostgreSql => "PostgreSQL over TCP on 127.0.0.1 (fsync on, synchronous_commit on)",
    };
    println!(
        "audit log on {what}: {total} entries, database {:.0} MB",
        f.size_mb
    );
    println!(
        "append, one transaction per entry: {:>10.0} entries/s ({singles} entries)",
        f.single_rate
    );
    println!(
        "append, batches of {BATCH}:         {:>10.0} entries/s",
        f.batch_rate
    );
    println!("verify (in-process):      {:>8.2} s", f.verify_s);
    println!(
        "sha256sum of the same {:.0} MB: {:>8.2} s",
        f.floor_mb, f.sha_s
    );
    println!(
        "  ratio verify / sha256sum {:>7.2}x  (goal <= 2x)",
        f.verify_s / f.sha_s
    );
    println!("CSV export:               {:>8.2} s", f.export_s);
    println!("{}: {:>8.2} s", f.dump.0, f.dump.1);
    println!(
        "  ratio export / {}   {:>7.2}x  (goal <= 1.0x)",
        f.dump.0,
        f.export_s / f.dump.1
    );
    for (name, ms, n) in &f.pages {
        println!("first page, {name}: {ms:>7.1} ms ({n} rows)  (goal < 100 ms)");
    }
}

fn main() {
    let total = env_usize("TDEKEY_BENCH_ENTRIES", 1_000_000);
    let singles = env_usize("TDEKEY_BENCH_SINGLE", 2_000).min(total);
    println!(
        "Machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        common::cpu_model()
    );
    let mut all = Vec::new();
    for engine in engines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = measure(engine, total, singles, dir.path());
        report(&f, total, singles);
        all.push(f);
    }
    if let [lite, shared] = &all[..] {
        println!("PostgreSQL / SQLite:");
        println!(
            "  single appends {:.2}x the rate, batches {:.2}x, verify {:.2}x the time, export {:.2}x",
            shared.single_rate / lite.single_rate,
            shared.batch_rate / lite.batch_rate,
            shared.verify_s / lite.verify_s,
            shared.export_s / lite.export_s
        );
        for ((name, a, _), (_, b, _)) in lite.pages.iter().zip(&shared.pages) {
            println!("  first page, {name}: {a:.1} ms / {b:.1} ms");
        }
    }
}
