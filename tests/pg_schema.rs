//! tdekey's schema on PostgreSQL (src/store/pg/schema.rs) against a real cluster: the baseline,
//! a second and a concurrent run, later migrations, the refusals that write nothing, the
//! append-only audit tables, the schema without pg_trgm. The comparison with SQLite's schema
//! is in pg_schema_guard.rs.

mod common;

use common::pg::Cluster;
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::sync::{Arc, Barrier};
use tdekey::store::SCHEMA_VERSION;
use tdekey::store::pg::schema::{self, PgSchema, SchemaError};

fn client(c: &Cluster, db: &str) -> Client {
    let mut cfg = Config::from_str(&c.url(db)).unwrap();
    cfg.password(c.password());
    cfg.connect(NoTls).unwrap()
}

/// Everything in the database's public schema, its extensions and tdekey's version row: what
/// a refusal must leave as it was.
fn snapshot(c: &Cluster, db: &str) -> String {
    let relations = c.psql(
        db,
        "SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
          WHERE relnamespace = 'public'::regnamespace",
    );
    let functions = c.psql(
        db,
        "SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc
          WHERE pronamespace = 'public'::regnamespace",
    );
    let extensions = c.psql(
        db,
        "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension",
    );
    let row = c
        .try_psql(db, "SELECT version || '@' || written_ms FROM tdekey_schema")
        .unwrap_or_else(|e| format!("no tdekey_schema: {}", e.lines().next().unwrap_or("")));
    format!("{relations}\n{functions}\n{extensions}\n{row}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn the_baseline_is_made_in_an_empty_database_at_this_builds_version() {
    assert_eq!(
        schema::LATEST,
        SCHEMA_VERSION,
        "SQLite's schema moved on: add the version to pg::schema::LATER"
    );
    let c = Cluster::start();
    let db = c.create_db();
    let mut pg = client(&c, &db);
    assert!(schema::trigram_available(&mut pg).unwrap());
    let before = now_ms();
    let made = schema::migrate(&mut pg, SCHEMA_VERSION).unwrap();
    let after = now_ms();
    assert_eq!(
        made,
        PgSchema {
            version: SCHEMA_VERSION,
            trigram: true
        }
    );
    let row = pg
        .query_one("SELECT version, written_ms FROM tdekey_schema", &[])
        .unwrap();
    let (version, written): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(version, SCHEMA_VERSION);
    assert!(
        (before - 1000..=after + 1000).contains(&written),
        "{written} not in {before}..{after}"
    );
    let tables = c.psql(
        &db,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables
          WHERE table_schema = 'public'",
    );
    assert_eq!(
        tables,
        "audit_checkpoints,audit_log,databases,forward_positions,hsm_profiles,key_owners,migrations,\
         rotation_policies,rotation_runs,settings,tdekey_schema"
    );
    // One version row, ever.
    let e = pg
        .execute(
            "INSERT INTO tdekey_schema (version, written_ms) VALUES (1, 1)",
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23505"), "{e}");
}

#[test]
fn a_second_run_and_a_concurrent_one_change_nothing() {
    let c = Cluster::start();
    let db = c.create_db();
    // Two processes opening one new store at once: the advisory lock makes one create the
    // schema and the other find it made.
    let gate = Arc::new(Barrier::new(2));
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (gate, mut pg) = (gate.clone(), client(&c, &db));
            std::thread::spawn(move || {
                gate.wait();
                schema::migrate(&mut pg, SCHEMA_VERSION)
            })
        })
        .collect();
    for r in runs {
        let got = r.join().unwrap().expect("both runs succeed");
        assert_eq!(got.version, SCHEMA_VERSION);
    }
    let first = snapshot(&c, &db);
    assert!(first.contains(&format!("\n{SCHEMA_VERSION}@")), "{first}");
    let again = schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap();
    assert_eq!(
        again,
        PgSchema {
            version: SCHEMA_VERSION,
            trigram: true
        }
    );
    assert_eq!(snapshot(&c, &db), first, "the second run wrote nothing");
}

#[test]
fn a_newer_schema_is_refused_and_left_as_it_was() {
    let c = Cluster::start();
    let db = c.create_db();
    schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap();
    c.psql(&db, "UPDATE tdekey_schema SET version = 99");
    let before = snapshot(&c, &db);
    let e = schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap_err();
    assert!(
        matches!(e, SchemaError::TooNew { found: 99, known } if known == SCHEMA_VERSION),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("99") && text.contains("use the newer tdekey"),
        "{text}"
    );
    assert_eq!(snapshot(&c, &db), before);
}

#[test]
fn a_version_this_build_cannot_migrate_from_is_refused_and_left_as_it_was() {
    let c = Cluster::start();
    let db = c.create_db();
    schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap();
    c.psql(&db, "UPDATE tdekey_schema SET version = 5");
    let before = snapshot(&c, &db);
    let e = schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap_err();
    assert!(
        matches!(e, SchemaError::NoMigration { from: 5, to } if to == SCHEMA_VERSION),
        "{e:?}"
    );
    assert_eq!(snapshot(&c, &db), before);
}

/// The migrations after the baseline (none yet in this build), tried with made-up versions:
/// each runs once, in order, all in one transaction with the version bump.
#[test]
fn later_migrations_run_in_order_and_all_or_nothing() {
    let c = Cluster::start();
    let l = schema::LATEST;
    let mut later = schema::LATER.to_vec();
    later.push((l + 1, "ALTER TABLE settings ADD COLUMN a TEXT"));
    later.push((l + 2, "ALTER TABLE settings ADD COLUMN b TEXT"));
    let columns = |db: &str| {
        c.psql(
            db,
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
               FROM information_schema.columns WHERE table_name = 'settings'",
        )
    };
    let version = |db: &str| c.psql(db, "SELECT version FROM tdekey_schema");

    // An empty database: the baseline and both steps at once.
    let fresh = c.create_db();
    let got = schema::migrate_through(&mut client(&c, &fresh), l + 2, &later).unwrap();
    assert_eq!(got.version, l + 2);
    assert_eq!(
        (version(&fresh), columns(&fresh)),
        ((l + 2).to_string(), "key,value,a,b".to_owned())
    );

    // A database at the baseline: one step when this build knows one more version.
    let db = c.create_db();
    schema::migrate(&mut client(&c, &db), l).unwrap();
    schema::migrate_through(&mut client(&c, &db), l + 1, &later).unwrap();
    assert_eq!(
        (version(&db), columns(&db)),
        ((l + 1).to_string(), "key,value,a".to_owned())
    );

    // A step that fails takes back the steps before it and the version bumps.
    let before = snapshot(&c, &db);
    let mut failing = later.clone();
    failing.push((l + 3, "ALTER TABLE nowhere ADD COLUMN c TEXT"));
    let e = schema::migrate_through(&mut client(&c, &db), l + 3, &failing).unwrap_err();
    assert!(matches!(e, SchemaError::Db(_)), "{e:?}");
    assert!(e.to_string().contains("nothing was changed"), "{e}");
    assert_eq!(snapshot(&c, &db), before);
    assert_eq!(columns(&db), "key,value,a", "step l+2 was rolled back");

    // A missing step is refused before anything is written.
    let gap = [
        later[later.len() - 2],
        (l + 3, "ALTER TABLE settings ADD COLUMN c TEXT"),
    ];
    let e = schema::migrate_through(&mut client(&c, &db), l + 3, &gap).unwrap_err();
    assert!(
        matches!(e, SchemaError::NoMigration { from, to } if from == l + 1 && to == l + 3),
        "{e:?}"
    );
    assert_eq!(snapshot(&c, &db), before);
}

#[test]
fn someone_elses_tables_are_refused_and_nothing_is_created() {
    let c = Cluster::start();
    let db = c.create_db();
    c.psql(
        &db,
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text); INSERT INTO customers VALUES (1, 'ACME')",
    );
    let before = snapshot(&c, &db);
    let e = schema::migrate(&mut client(&c, &db), SCHEMA_VERSION).unwrap_err();
    match &e {
        SchemaError::NotTdekeys { detail } => assert!(detail.contains("customers"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("empty database"), "{e}");
    let after = snapshot(&c, &db);
    assert_eq!(after, before);
    assert!(!after.contains("pg_trgm") && !after.contains("tdekey_append_only"));
    assert_eq!(c.psql(&db, "SELECT name FROM customers"), "ACME");
}

#[test]
fn the_audit_tables_refuse_update_delete_and_truncate() {
    let c = Cluster::start();
    let db = c.create_db();
    let mut pg = client(&c, &db);
    schema::migrate(&mut pg, SCHEMA_VERSION).unwrap();
    let h = vec![7u8; 32];
    pg.execute(
        "INSERT INTO audit_log (seq, ts_ms, os_user, host, action, target, outcome, details, prev_hash, hash)
         VALUES (1, 1, 'u', 'h', 'a', 't', 'success', '{}', $1, $1)",
        &[&h],
    )
    .unwrap();
    pg.execute(
        "INSERT INTO audit_checkpoints (seq, head_hash, mac, key_label, token_label, created_ms)
         VALUES (1, $1, $1, 'k', 't', 1)",
        &[&h],
    )
    .unwrap();
    let refused = |pg: &mut Client, sql: &str| {
        let e = pg.batch_execute(sql).unwrap_err();
        let db = e.as_db_error().unwrap_or_else(|| panic!("{e:?}"));
        assert_eq!(db.code().code(), "23000", "{sql}: {db:?}");
        db.message().to_owned()
    };
    for (table, noun) in [
        ("audit_log", "an entry"),
        ("audit_checkpoints", "a checkpoint"),
    ] {
        assert_eq!(
            refused(&mut pg, &format!("UPDATE {table} SET seq = 2")),
            format!("{table} is append-only: {noun} cannot be changed")
        );
        assert_eq!(
            refused(&mut pg, &format!("DELETE FROM {table}")),
            format!("{table} is append-only: {noun} cannot be deleted")
        );
        assert_eq!(
            refused(&mut pg, &format!("TRUNCATE {table}")),
            format!("{table} is append-only: it cannot be emptied")
        );
    }
    assert_eq!(c.psql(&db, "SELECT count(*) FROM audit_log"), "1");
    assert_eq!(c.psql(&db, "SELECT count(*) FROM audit_checkpoints"), "1");

    // seq has no sequence behind it (no gaps), and the hashes are 32 bytes.
    let e = pg
        .execute(
            "INSERT INTO audit_log (ts_ms, os_user, host, action, target, outcome, details, prev_hash, hash)
             VALUES (1, 'u', 'h', 'a', 't', 'success', '{}', $1, $1)",
            &[&h],
        )
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23502"), "{e}");
    let short = vec![7u8; 31];
    let e = pg
        .execute(
            "INSERT INTO audit_log (seq, ts_ms, os_user, host, action, target, outcome, details, prev_hash, hash)
             VALUES (2, 1, 'u', 'h', 'a', 't', 'success', '{}', $1, $2)",
            &[&h, &short],
        )
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23514"), "{e}");
}

#[test]
fn without_pg_trgm_the_schema_is_made_without_trigram_indexes() {
    // A managed server's usual application role: its own schema, no CREATE on the database,
    // so it may not install an extension.
    let c = Cluster::start();
    let db = c.create_db();
    c.psql(
        &db,
        "CREATE ROLE app LOGIN PASSWORD 'app-pw-2946'; CREATE SCHEMA app AUTHORIZATION app",
    );
    let mut cfg = Config::from_str(&c.url(&db)).unwrap();
    cfg.user("app").password("app-pw-2946");
    let mut pg = cfg.connect(NoTls).unwrap();
    let made = schema::migrate(&mut pg, SCHEMA_VERSION).unwrap();
    assert_eq!(
        made,
        PgSchema {
            version: SCHEMA_VERSION,
            trigram: false
        }
    );
    assert_eq!(
        c.psql(
            &db,
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"
        ),
        "0"
    );
    assert_eq!(
        c.psql(&db, "SELECT version FROM app.tdekey_schema"),
        SCHEMA_VERSION.to_string()
    );
    // The rest of the baseline is there, and the next run finds it.
    assert_eq!(
        c.psql(
            &db,
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'app' AND indexname = 'audit_log_action'"
        ),
        "1"
    );
    assert_eq!(schema::migrate(&mut pg, SCHEMA_VERSION).unwrap(), made);
}
