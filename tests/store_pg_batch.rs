//! Batches of audit entries on PostgreSQL go in one `COPY … FROM STDIN (FORMAT binary)` (one or
//! two rows as INSERTs); `store copy` writes its rows the same way. What is read back must be
//! what SQLite reads back, byte for byte, the chain intact, and a batch that fails must leave
//! nothing behind and the connection usable.

mod common;

use common::pg::Cluster;
use tdekey::audit::{Verification, row_hash, verify};
use tdekey::store::{AuditFilter, AuditRow, Location, Store};

/// The i-th test row: NULL and non-NULL hsm_user, tabs, quotes, backslashes, newlines and
/// non-ASCII text, hashed into the chain.
fn row(i: usize, seq: i64, prev: [u8; 32]) -> AuditRow {
    let mut r = AuditRow {
        seq,
        ts_ms: 1_700_000_000_000 + i as i64,
        os_user: "oracle".into(),
        hsm_user: (!i.is_multiple_of(3)).then(|| format!("cu_{}", i % 7)),
        host: "db\thost".into(),
        action: if i.is_multiple_of(50) {
            "hsm.login"
        } else {
            "hsm.inventory"
        }
        .into(),
        target: format!("token-{i} 'q' \"d\" \\ ünïcødé"),
        outcome: if i.is_multiple_of(50) {
            "failure"
        } else {
            "success"
        }
        .into(),
        details: format!("{{\"i\":{i},\"s\":\"a\\nb\"}}"),
        prev_hash: prev,
        hash: [0; 32],
    };
    r.hash = row_hash(&prev, &r);
    r
}

/// Appends batches of 1, 2 and `big` rows (the INSERT paths, then COPY).
fn fill(s: &mut Store, big: usize) {
    let mut done = 0;
    for n in [1, 2, big] {
        let last = s
            .append_audit_batch(n, |i, seq, prev| row(done + i, seq, prev))
            .unwrap()
            .unwrap();
        done += n;
        assert_eq!(last.seq, done as i64);
    }
}

fn rows(s: &Store) -> Vec<AuditRow> {
    let mut out = Vec::new();
    s.for_each_audit_row(|r| {
        out.push(r);
        true
    })
    .unwrap();
    out
}

fn shared(pg: &Cluster) -> Store {
    let db = pg.create_db();
    let location = Location::shared(&pg.url(&db), Some(&pg.password_file())).unwrap();
    Store::connect(&location).unwrap()
}

#[test]
fn a_batch_on_postgresql_reads_back_as_on_sqlite_and_verifies() {
    let pg = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Store::open(&dir.path().join("t.sqlite3")).unwrap();
    let mut shared = shared(&pg);
    fill(&mut lite, 1_500);
    fill(&mut shared, 1_500);
    let (a, b) = (rows(&lite), rows(&shared));
    assert_eq!(a.len(), 1_503);
    assert_eq!(a, b);
    assert_eq!(b.iter().filter(|r| r.hsm_user.is_none()).count(), 501);
    for s in [&lite, &shared] {
        assert_eq!(verify(s).unwrap(), Verification::Intact { entries: 1_503 });
    }
    // The text index sees the copied rows.
    let f = AuditFilter {
        text: Some("TOKEN-1234 'q'".into()),
        ..Default::default()
    };
    let found = shared.audit_page(&f, None, 10).unwrap();
    assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), [1_235]);
}

#[test]
fn a_batch_that_fails_on_postgresql_writes_nothing_and_the_store_goes_on() {
    let pg = Cluster::start();
    let mut s = shared(&pg);
    fill(&mut s, 10);
    // The 300th row takes a seq that is already there: the COPY fails as a whole.
    let e = s
        .append_audit_batch(500, |i, seq, prev| {
            row(i, if i == 299 { 5 } else { seq }, prev)
        })
        .unwrap_err();
    assert!(e.to_string().contains("23505"), "{e}");
    assert_eq!(rows(&s).len(), 13, "nothing of the failed batch is kept");
    s.append_audit_batch(100, row).unwrap();
    assert_eq!(verify(&s).unwrap(), Verification::Intact { entries: 113 });
}

#[test]
fn store_copy_writes_more_rows_than_one_copy_batch_holds() {
    let pg = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut lite = Store::open(&dir.path().join("t.sqlite3")).unwrap();
    // More than one COPY's worth (5,000), with a part batch at the end.
    fill(&mut lite, 12_345);
    let target = shared(&pg);
    let counts = lite.copy_into(&target).unwrap();
    let audit = counts.iter().find(|(t, _)| *t == "audit_log").unwrap();
    assert_eq!(audit.1, 12_348);
    assert_eq!(rows(&lite), rows(&target));
    assert_eq!(
        verify(&target).unwrap(),
        Verification::Intact { entries: 12_348 }
    );
}
