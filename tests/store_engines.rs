//! The two engines hold the same store: a SQLite store filled through the library is copied
//! into a real PostgreSQL database (`tdekey store copy`'s workflow), then every read of the
//! store API answers the same on both — profiles, databases, migrations, runs, key owners, the
//! audit log through every filter, exports byte for byte — and writes after the copy go on
//! (ids, the chain). The copy's refusals leave both sides as they were.

mod common;

use common::pg::Cluster;
use serde_json::json;
use tdekey::audit::copy::{CopyError, copy_store};
use tdekey::audit::export::{Format, export};
use tdekey::audit::{Action, Auditor, Outcome, Verification, verify};
use tdekey::model::{
    ConnectAs, ConnectorKind, DatabaseProfile, DbAuth, HsmProfile, Multitenant, PinFormat,
};
use tdekey::store::{AuditFilter, KeyOwner, Location, PolicyRow, RunRow, Store};

const T0: i64 = 1_795_000_000_000;

/// A SQLite store with a little of everything, its chain written by the audit workflow.
fn filled(dir: &std::path::Path) -> Auditor {
    let mut a = Auditor::new(Store::open(&dir.join("tdekey.sqlite3")).unwrap());
    let s = a.store();
    s.save_hsm_profile(&HsmProfile {
        id: None,
        name: "CloudHSM prod".into(),
        module_path: "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so".into(),
        token_label: Some("hsm1".into()),
        slot_id: Some(3),
        user_name: "cu_oracle".into(),
        pin_format: PinFormat::CloudHsm,
    })
    .unwrap();
    s.save_database(&DatabaseProfile {
        id: None,
        name: "ORCL prod".into(),
        connector: ConnectorKind::Sqlplus,
        oracle_home: Some("/u01/app/oracle/product/19.0.0/dbhome_1".into()),
        oracle_sid: Some("ORCL".into()),
        connect_string: None,
        auth: DbAuth::User("c##tde_admin".into()),
        connect_as: ConnectAs::Syskm,
        wallet_root: Some("/u01/app/oracle/admin/ORCL/wallet".into()),
        multitenant: Multitenant::CdbUnited,
        rac: true,
        rac_nodes: vec!["rac1".into(), "rac2".into()],
        standbys: vec![],
        hsm_profile: Some("CloudHSM prod".into()),
    })
    .unwrap();
    s.set_setting("lease_ms", "60000").unwrap();
    let m = s.insert_migration("ORCL prod", "{\"step\":3}").unwrap();
    s.save_migration(m, "nobody", "active", "{}").unwrap();
    s.set_rotation_policy(&PolicyRow {
        database: "ORCL prod".into(),
        schedule: "every 90d".into(),
        way: "hsm".into(),
        next_due_ms: T0,
        created_ms: 0,
        updated_ms: 0,
    })
    .unwrap();
    s.record_key_owner(&KeyOwner {
        label: "ORACLE.TDE.HSM.MK.06AA".into(),
        database: "ORCL prod".into(),
        token_label: "hsm1".into(),
        since_ms: T0,
        source: "migration".into(),
        container: "CDB$ROOT".into(),
        retired_ms: None,
        retired_why: None,
    })
    .unwrap();
    let row = RunRow {
        reason: Some("quarterly".into()),
        token_label: Some("hsm1".into()),
        ..RunRow::new("ORCL prod", "hsm", "manual", "cu_oracle")
    };
    let tdekey::store::Claim::Started(id) = a
        .store_mut()
        .claim_rotation(&row, "me", 1, None, &|_| false)
        .unwrap()
    else {
        panic!("no run");
    };
    let mut done = a.store().rotation_run(id).unwrap().unwrap();
    done.outcome = "success".into();
    done.new_keys = "[\"ORACLE.TDE.HSM.MK.06BB\"]".into();
    a.store_mut()
        .finish_rotation_run(&done, "me", Some(T0 + 1))
        .unwrap();
    for i in 0..30i64 {
        let action = [
            Action::HsmLogin,
            Action::AuditExport,
            Action::HsmInventory,
            Action::RotationRun,
            Action::HsmLogout,
        ][(i % 5) as usize];
        let outcome = [
            Outcome::Started,
            Outcome::Success,
            Outcome::Failure,
            Outcome::Cancelled,
        ][(i % 4) as usize];
        let target = if i % 2 == 0 {
            format!("token-{i}")
        } else {
            format!("Key_{i} ÉTÉ")
        };
        let note = if i % 3 == 0 { "50%_off" } else { "50a_off" };
        let user = [Some("cu_a"), Some("cu_b"), None][(i % 3) as usize];
        a.record(
            action,
            &target,
            outcome,
            user,
            json!({ "n": i, "note": note }),
        )
        .unwrap();
    }
    a
}

fn pg_location(cluster: &Cluster, db: &str) -> Location {
    let url = format!("{}?sslmode=disable", cluster.url(db));
    Location::shared(&url, Some(&cluster.password_file())).unwrap()
}

/// Everything the store API reads, as text, with the audit entries after `upto` left out.
fn snapshot(s: &Store, upto: i64) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", s.hsm_profiles().unwrap()),
        format!("{:?}", s.databases().unwrap()),
        format!("{:?}", s.migrations_of("ORCL prod").unwrap()),
        format!("{:?}", s.rotation_policies().unwrap()),
        format!("{:?}", s.rotation_runs(None, 0).unwrap()),
        format!("{:?}", s.rotation_runs(Some("ORCL prod"), 0).unwrap()),
        format!("{:?}", s.key_owners().unwrap()),
        format!("{:?}", s.setting("lease_ms").unwrap()),
        format!("{:?}", s.checkpoints().unwrap()),
    ];
    s.for_each_audit_row(|r| {
        if r.seq <= upto {
            out.push(format!("{r:?}"));
        }
        true
    })
    .unwrap();
    out
}

/// Filters that each keep some of the 30 sample entries and drop others.
fn filters() -> Vec<AuditFilter> {
    let f = AuditFilter::default;
    vec![
        AuditFilter {
            action: Some("hsm.".into()),
            ..f()
        },
        AuditFilter {
            action: Some("hsm.login".into()),
            ..f()
        },
        AuditFilter {
            user: Some("cu_b".into()),
            ..f()
        },
        AuditFilter {
            outcome: Some("failure".into()),
            ..f()
        },
        // Three characters and more: SQLite's FTS5 trigrams, PostgreSQL's ILIKE (pg_trgm).
        AuditFilter {
            text: Some("key_1".into()),
            ..f()
        },
        AuditFilter {
            text: Some("été".into()),
            ..f()
        },
        AuditFilter {
            text: Some("50%_".into()),
            ..f()
        },
        // Fewer than three: LIKE and ILIKE.
        AuditFilter {
            text: Some("_2".into()),
            ..f()
        },
        AuditFilter {
            text: Some("%".into()),
            ..f()
        },
        AuditFilter {
            text: Some("n\"".into()),
            outcome: Some("success".into()),
            ..f()
        },
    ]
}

#[test]
fn a_copied_store_reads_the_same_on_postgresql_and_goes_on_from_there() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = filled(dir.path());
    let db = cluster.create_db();
    let to = pg_location(&cluster, &db);
    let head = a.store().audit_head().unwrap().unwrap();
    let copied = copy_store(&mut a, &to).unwrap();
    assert_eq!(copied.head, Some(head));
    assert_eq!(copied.recorded_seq, head.0 + 1);
    let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
    assert_eq!(rows, 1 + 1 + 1 + 1 + 1 + 1 + 1 + head.0 as u64);

    let pg = Store::connect(&to).unwrap();
    assert!(pg.is_shared());
    assert_eq!(snapshot(a.store(), head.0), snapshot(&pg, head.0));
    // The copy is the first entry of the shared chain after the copied ones, and it verifies.
    let recorded = pg.recent_audit(1).unwrap().remove(0);
    assert_eq!(
        (recorded.seq, recorded.action.as_str()),
        (head.0 + 1, "store.copy")
    );
    assert!(
        matches!(verify(&pg).unwrap(), Verification::Intact { entries } if entries as i64 == head.0 + 1)
    );
    // The source recorded it too (success), as its own next entry.
    let here = a.store().recent_audit(1).unwrap().remove(0);
    assert_eq!(
        (here.action.as_str(), here.outcome.as_str()),
        ("store.copy", "success")
    );

    for filter in filters() {
        let count = a.store().audit_count(&filter).unwrap();
        assert!(count > 0 && count < 30, "{filter:?} keeps {count}");
        let walk = |s: &Store| {
            let mut seqs = Vec::new();
            s.for_each_audit_filtered(&filter, |r| {
                seqs.push(r.seq);
                true
            })
            .unwrap();
            seqs
        };
        let page = |s: &Store| {
            s.audit_page(&filter, Some(head.0 + 1), 4)
                .unwrap()
                .into_iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(walk(a.store()), walk(&pg), "{filter:?}");
        assert_eq!(page(a.store()), page(&pg), "{filter:?}");
        assert_eq!(count, pg.audit_count(&filter).unwrap(), "{filter:?}");
    }

    // An export of the same entries is the same file, byte for byte, from either engine.
    let filter = AuditFilter {
        action: Some("hsm.".into()),
        ..AuditFilter::default()
    };
    for format in [Format::Csv, Format::Jsonl] {
        let lite = dir.path().join("lite.out");
        let shared = dir.path().join("pg.out");
        export(
            a.store(),
            &filter,
            format,
            None,
            &lite,
            true,
            &mut |_, _| true,
        )
        .unwrap();
        export(&pg, &filter, format, None, &shared, true, &mut |_, _| true).unwrap();
        assert_eq!(
            std::fs::read(&lite).unwrap(),
            std::fs::read(&shared).unwrap()
        );
    }

    // Writes go on after the copied ids, and the chain grows on PostgreSQL.
    let next = pg
        .save_hsm_profile(&HsmProfile {
            id: None,
            name: "Second".into(),
            module_path: "/usr/lib/softhsm/libsofthsm2.so".into(),
            token_label: None,
            slot_id: None,
            user_name: "cu".into(),
            pin_format: PinFormat::Plain,
        })
        .unwrap();
    assert_eq!(next, 2, "after the copied profile's id");
    let m = pg.insert_migration("FIN", "{}").unwrap();
    assert_eq!(m, 2);
    let mut shared = Auditor::new(pg);
    let e = shared
        .record(
            Action::AuditRead,
            "audit_log",
            Outcome::Success,
            None,
            json!({}),
        )
        .unwrap();
    assert_eq!(e.seq, head.0 + 2);
    assert!(matches!(
        verify(shared.store()).unwrap(),
        Verification::Intact { .. }
    ));
}

#[test]
fn a_copy_is_refused_into_a_store_in_use_from_a_broken_chain_and_from_a_shared_one() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = filled(dir.path());
    let db = cluster.create_db();
    let to = pg_location(&cluster, &db);
    copy_store(&mut a, &to).unwrap();
    let before = Store::connect(&to).unwrap().row_counts().unwrap();

    // Into a store that holds data: refused, nothing written there.
    let e = copy_store(&mut a, &to).unwrap_err();
    assert!(matches!(e, CopyError::NotEmpty { .. }), "{e}");
    assert!(e.to_string().contains("nothing was copied"), "{e}");
    assert_eq!(Store::connect(&to).unwrap().row_counts().unwrap(), before);
    let last = a.store().recent_audit(1).unwrap().remove(0);
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("store.copy", "failure")
    );

    // From a shared store: refused.
    let mut shared = Auditor::new(Store::connect(&to).unwrap());
    let other = pg_location(&cluster, &cluster.create_db());
    let e = copy_store(&mut shared, &other).unwrap_err();
    assert!(matches!(e, CopyError::Usage(_)), "{e}");

    // From a chain someone changed behind tdekey's back: refused, and the target stays empty.
    let path = dir.path().join("tdekey.sqlite3");
    drop(a);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET target = 'changed' WHERE seq = 5;",
    )
    .unwrap();
    drop(c);
    let mut a = Auditor::new(Store::open(&path).unwrap());
    let empty = cluster.create_db();
    let e = copy_store(&mut a, &pg_location(&cluster, &empty)).unwrap_err();
    assert!(matches!(e, CopyError::SourceBroken { seq: 5, .. }), "{e}");
    assert_eq!(
        cluster
            .psql(
                &empty,
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            )
            .trim(),
        "0",
        "nothing was created in the target"
    );
}

#[test]
fn a_migration_under_way_here_is_not_copied() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let mut a = filled(dir.path());
    let id = a.store().migrations_of("ORCL prod").unwrap()[0].id;
    let until = tdekey::model::now_ms() + 600_000;
    assert_eq!(
        a.store_mut()
            .lease_migration(id, "host:1:2:3", until, false)
            .unwrap(),
        None
    );
    let db = cluster.create_db();
    let e = copy_store(&mut a, &pg_location(&cluster, &db)).unwrap_err();
    assert!(matches!(e, CopyError::Leased(_)), "{e}");
    assert!(e.to_string().contains("ORCL prod"), "{e}");
}
