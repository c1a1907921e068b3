//! The guard of issue #21: SQLite's schema (what `Store::open` makes) and PostgreSQL's (what
//! `pg::schema::migrate` makes) have the same tables, columns (names, order, mapped types,
//! NOT NULL, defaults), keys, named and partial indexes, foreign keys, CHECK counts and
//! identity columns; and the comparison is shown to catch each kind of drift.

mod common;

use common::pg::Cluster;
use postgres::{Client, Config, NoTls};
use std::collections::BTreeSet;
use std::str::FromStr;
use tdekey::store::SCHEMA_VERSION;
use tdekey::store::pg::schema;

fn client(c: &Cluster, db: &str) -> Client {
    let mut cfg = Config::from_str(&c.url(db)).unwrap();
    cfg.password(c.password());
    cfg.connect(NoTls).unwrap()
}

/// One column: name, mapped type, NOT NULL, default.
type Column = (String, String, bool, Option<String>);
/// One index: name (None for a primary key or UNIQUE constraint's), unique, columns, WHERE.
type Index = (Option<String>, bool, Vec<String>, Option<String>);
/// One foreign key: column, referenced table, referenced column, ON DELETE.
type ForeignKey = (String, String, String, String);

/// SQLite's and PostgreSQL's ways of writing one default or predicate, made comparable:
/// `'active'::text` is `'active'`, parentheses and blanks do not count.
fn norm(sql: &str) -> String {
    sql.replace("::text", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect::<String>()
        .to_lowercase()
}

struct Table {
    columns: Vec<Column>,
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
    checks: usize,
    identity: BTreeSet<String>,
}

fn sqlite_tables(path: &std::path::Path) -> Vec<(String, Table)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut names = c
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'
              AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'audit_text%' ORDER BY name",
        )
        .unwrap();
    let tables: Vec<(String, String)> = names
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for (name, sql) in tables {
        let mut q = c
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
            )
            .unwrap();
        let cols: Vec<(String, String, bool, Option<String>, i64)> = q
            .query_map([&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut indexes = BTreeSet::new();
        let mut identity = BTreeSet::new();
        let pk: Vec<String> = cols
            .iter()
            .filter(|c| c.4 > 0)
            .map(|c| c.0.clone())
            .collect();
        if let [only] = &pk[..]
            && cols.iter().any(|c| &c.0 == only && c.1 == "INTEGER")
        {
            // A rowid alias, in no index list; PostgreSQL makes it an identity column, except
            // for audit_log.seq.
            indexes.insert((None, true, pk.clone(), None));
            if name != "audit_log" {
                identity.insert(only.clone());
            }
        }
        let columns = cols
            .iter()
            .map(|(n, t, notnull, dflt, pk)| {
                let ty = match t.as_str() {
                    "INTEGER" => "bigint",
                    "TEXT" => "text",
                    "BLOB" => "bytea",
                    other => panic!("{name}.{n}: SQLite type {other} has no mapping"),
                };
                (
                    n.clone(),
                    ty.to_owned(),
                    *notnull || *pk > 0,
                    dflt.as_deref().map(norm),
                )
            })
            .collect();
        let mut q = c
            .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
            .unwrap();
        let list: Vec<(String, bool, String)> = q
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (index, unique, origin) in list {
            let mut q = c
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap();
            let cols: Vec<String> = q
                .query_map([&index], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let sql: Option<String> = c
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    [&index],
                    |r| r.get(0),
                )
                .unwrap();
            let predicate = sql.as_deref().and_then(|s| {
                let at = s.to_uppercase().find(" WHERE ")?;
                Some(norm(&s[at + 7..]))
            });
            let named = (origin == "c").then_some(index);
            indexes.insert((named, unique, cols, predicate));
        }
        let mut q = c
            .prepare(
                "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)",
            )
            .unwrap();
        let foreign_keys = q
            .query_map([&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let checks = sql.to_uppercase().matches("CHECK (").count();
        out.push((
            name,
            Table {
                columns,
                indexes,
                foreign_keys,
                checks,
                identity,
            },
        ));
    }
    out
}

fn pg_tables(pg: &mut Client) -> Vec<(String, Table)> {
    let names: Vec<String> = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_name <> 'tdekey_schema'
              ORDER BY table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let mut identity = BTreeSet::new();
        let columns = pg
            .query(
                "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text,
                        is_identity::text
                   FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = $1
                  ORDER BY ordinal_position",
                &[&name],
            )
            .unwrap()
            .iter()
            .map(|r| {
                let column: String = r.get(0);
                if r.get::<_, String>(4) == "YES" {
                    identity.insert(column.clone());
                }
                let dflt: Option<String> = r.get(3);
                (
                    column,
                    r.get(1),
                    r.get::<_, String>(2) == "NO",
                    dflt.as_deref().map(norm),
                )
            })
            .collect();
        let indexes = pg
            .query(
                "SELECT i.relname::text, x.indisunique,
                        ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, o)
                                JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                               ORDER BY k.o),
                        pg_get_expr(x.indpred, x.indrelid),
                        EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                  WHERE x.indrelid = $1::text::regclass",
                &[&name],
            )
            .unwrap()
            .iter()
            .filter(|r| !schema::TRIGRAM_INDEXES.contains(&r.get::<_, String>(0).as_str()))
            .map(|r| {
                let constraint: bool = r.get(4);
                let predicate: Option<String> = r.get(3);
                (
                    (!constraint).then(|| r.get(0)),
                    r.get(1),
                    r.get(2),
                    predicate.as_deref().map(norm),
                )
            })
            .collect();
        let foreign_keys = pg
            .query(
                "SELECT a.attname::text, c.confrelid::regclass::text, f.attname::text,
                        CASE c.confdeltype WHEN 'n' THEN 'SET NULL' WHEN 'c' THEN 'CASCADE'
                          WHEN 'r' THEN 'RESTRICT' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END
                   FROM pg_constraint c
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                   JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = c.confkey[1]
                  WHERE c.contype = 'f' AND c.conrelid = $1::text::regclass",
                &[&name],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let checks: i64 = pg
            .query_one(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid = $1::text::regclass",
                &[&name],
            )
            .unwrap()
            .get(0);
        out.push((
            name,
            Table {
                columns,
                indexes,
                foreign_keys,
                checks: checks as usize,
                identity,
            },
        ));
    }
    out
}

/// Where the two engines' schemas differ, one line per difference.
fn differences(lite: &[(String, Table)], post: &[(String, Table)]) -> Vec<String> {
    let names = |t: &[(String, Table)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(lite) != names(post) {
        return vec![format!(
            "tables: SQLite {:?}, PostgreSQL {:?}",
            names(lite),
            names(post)
        )];
    }
    let mut out = Vec::new();
    for ((name, l), (_, p)) in lite.iter().zip(post) {
        let mut differ = |what: &str, l: String, p: String| {
            if l != p {
                out.push(format!(
                    "{name}: {what}:\n  SQLite     {l}\n  PostgreSQL {p}"
                ));
            }
        };
        differ(
            "columns (name, type, NOT NULL, default)",
            format!("{:?}", l.columns),
            format!("{:?}", p.columns),
        );
        differ(
            "keys and indexes (name, unique, columns, WHERE)",
            format!("{:?}", l.indexes),
            format!("{:?}", p.indexes),
        );
        differ(
            "foreign keys",
            format!("{:?}", l.foreign_keys),
            format!("{:?}", p.foreign_keys),
        );
        differ(
            "CHECK constraints",
            l.checks.to_string(),
            p.checks.to_string(),
        );
        differ(
            "identity columns",
            format!("{:?}", l.identity),
            format!("{:?}", p.identity),
        );
    }
    out
}

fn both_engines() -> (tempfile::TempDir, Vec<(String, Table)>, Cluster, Client) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tdekey.sqlite3");
    drop(tdekey::store::Store::open(&file).unwrap());
    let lite = sqlite_tables(&file);
    let c = Cluster::start();
    let db = c.create_db();
    let mut pg = client(&c, &db);
    schema::migrate(&mut pg, SCHEMA_VERSION).unwrap();
    (dir, lite, c, pg)
}

#[test]
fn schema_is_the_same_on_both_engines() {
    let (_dir, lite, _c, mut pg) = both_engines();
    let post = pg_tables(&mut pg);
    assert!(lite.len() >= 9, "the SQLite side read its tables");
    let diff = differences(&lite, &post);
    assert!(
        diff.is_empty(),
        "the engines' schemas differ:\n{}",
        diff.join("\n")
    );
    // What the comparison reads is there to compare: a named partial unique index, a default,
    // a foreign key.
    let runs = &lite.iter().find(|(n, _)| n == "rotation_runs").unwrap().1;
    assert!(runs.indexes.iter().any(|i| {
        i.0.as_deref() == Some("rotation_runs_one_running")
            && i.1
            && i.3.as_deref() == Some("outcome='running'")
    }));
    assert!(runs.columns.iter().any(|c| c.3.as_deref() == Some("'[]'")));
    let dbs = &lite.iter().find(|(n, _)| n == "databases").unwrap().1;
    assert_eq!(
        dbs.foreign_keys
            .iter()
            .next()
            .map(|f| (f.1.as_str(), f.3.as_str())),
        Some(("hsm_profiles", "SET NULL"))
    );
}

/// The guard fails when the PostgreSQL schema drifts: each change below, made in a transaction
/// rolled back afterwards, is one difference in the table it touches.
#[test]
fn the_schema_guard_sees_each_kind_of_drift() {
    let (_dir, lite, _c, mut pg) = both_engines();
    for (table, change) in [
        (
            "databases",
            "ALTER TABLE databases ALTER COLUMN connect_as SET DEFAULT 'sysdba'",
        ),
        (
            "key_owners",
            "ALTER TABLE key_owners ALTER COLUMN retired_ms TYPE integer",
        ),
        (
            "rotation_runs",
            "ALTER TABLE rotation_runs ALTER COLUMN intent SET NOT NULL",
        ),
        ("settings", "ALTER TABLE settings ADD COLUMN extra TEXT"),
        (
            "databases",
            "ALTER TABLE databases DROP CONSTRAINT databases_name_key",
        ),
        (
            "migrations",
            "ALTER INDEX migrations_one_active RENAME TO migrations_active",
        ),
        (
            "rotation_runs",
            "DROP INDEX rotation_runs_one_running;
             CREATE UNIQUE INDEX rotation_runs_one_running ON rotation_runs (database)
              WHERE outcome = 'failure'",
        ),
        (
            "databases",
            "ALTER TABLE databases DROP CONSTRAINT databases_hsm_profile_id_fkey;
             ALTER TABLE databases ADD FOREIGN KEY (hsm_profile_id) REFERENCES hsm_profiles (id)
              ON DELETE CASCADE",
        ),
        (
            "hsm_profiles",
            "ALTER TABLE hsm_profiles DROP CONSTRAINT hsm_profiles_pin_format_check",
        ),
        (
            "audit_log",
            "ALTER TABLE audit_log ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY",
        ),
    ] {
        pg.batch_execute(&format!("BEGIN; {change}")).unwrap();
        let diff = differences(&lite, &pg_tables(&mut pg));
        pg.batch_execute("ROLLBACK").unwrap();
        assert!(
            diff.len() == 1 && diff[0].starts_with(&format!("{table}: ")),
            "{change}: {diff:#?}"
        );
    }
    assert!(differences(&lite, &pg_tables(&mut pg)).is_empty());
}
