//! Benchmark: the audit log at 1,000,000 entries.
//!
//! - append rate: one transaction per entry (synchronous=FULL), and batched;
//! - `verify` against `sha256sum` over a file of exactly the bytes verify hashes
//!   (prev_hash ‖ canonical(row) for every row): the physical floor. Goal ≤ 2×;
//! - CSV export against `sqlite3 -csv` of the same table. Goal ≤ 1.0×;
//! - time to the first page (200 rows) of filtered views. Goal < 100 ms.
//!
//! `make bench`, or `cargo bench --bench audit`. TDEKEY_BENCH_ENTRIES changes the size.

mod common;

use common::{bench_entry, env_usize};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;
use tdekey::audit::export::{Format, export};
use tdekey::audit::{Action, Auditor, Outcome, canonical, verify};
use tdekey::store::{AuditFilter, Store};

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn main() {
    let total = env_usize("TDEKEY_BENCH_ENTRIES", 1_000_000);
    let singles = env_usize("TDEKEY_BENCH_SINGLE", 2_000).min(total);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tdekey.sqlite3");
    let mut a = Auditor::new(Store::open(&db).expect("open"));

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

    let batch = 10_000;
    let t = Instant::now();
    let mut written = singles;
    while written < total {
        let n = batch.min(total - written);
        let entries: Vec<_> = (written..written + n).map(bench_entry).collect();
        a.record_batch(&entries).expect("batch");
        written += n;
    }
    let batch_rate = (total - singles) as f64 / secs(t);
    let store = Store::open(&db).expect("reopen");

    // verify vs sha256sum over the same bytes.
    let t = Instant::now();
    let v = verify(&store).expect("verify");
    let verify_s = secs(t);
    assert!(
        matches!(v, tdekey::audit::Verification::Intact { .. }),
        "{v:?}"
    );
    let floor = dir.path().join("canonical.bin");
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

    // CSV export vs sqlite3 -csv.
    let out = dir.path().join("export.csv");
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
    let t = Instant::now();
    let st = Command::new("sqlite3")
        .arg("-csv")
        .arg(&db)
        .arg("SELECT * FROM audit_log;")
        .stdout(std::fs::File::create(dir.path().join("sqlite.csv")).unwrap())
        .status()
        .expect("sqlite3 is installed (make bench installs it)");
    assert!(st.success());
    let sqlite_s = secs(t);

    // First page of filtered views.
    let filters: Vec<(&str, AuditFilter)> = vec![
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
    ];
    let mut pages = Vec::new();
    for (name, f) in &filters {
        let t = Instant::now();
        let rows = store.audit_page(f, None, 200).expect("page");
        pages.push((name, secs(t) * 1e3, rows.len()));
    }

    println!(
        "audit log: {total} entries, database {:.0} MB",
        std::fs::metadata(&db).unwrap().len() as f64 / 1e6
    );
    println!(
        "append, one transaction per entry (synchronous=FULL): {single_rate:>10.0} entries/s ({singles} entries)"
    );
    println!("append, batches of {batch}:                        {batch_rate:>10.0} entries/s");
    println!("verify (in-process):      {:>8.2} s", verify_s);
    println!("sha256sum of the same {floor_mb:.0} MB: {:>8.2} s", sha_s);
    println!(
        "  ratio verify / sha256sum {:>7.2}x  (goal <= 2x)",
        verify_s / sha_s
    );
    println!("CSV export:               {:>8.2} s", export_s);
    println!("sqlite3 -csv:             {:>8.2} s", sqlite_s);
    println!(
        "  ratio export / sqlite3   {:>7.2}x  (goal <= 1.0x)",
        export_s / sqlite_s
    );
    for (name, ms, n) in pages {
        println!("first page, {name}: {ms:>7.1} ms ({n} rows)  (goal < 100 ms)");
    }
    // TDEKEY_BENCH_KEEP=DIR keeps the database, to open the window on it:
    // tdekey --data-dir DIR
    if let Some(keep) = std::env::var_os("TDEKEY_BENCH_KEEP") {
        drop(store);
        drop(a);
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
}
