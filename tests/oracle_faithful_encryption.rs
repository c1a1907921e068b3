//! The Rehearsal's V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES through the real `tdekey`
//! binary on a SoftHSM2 token (issue 23): after a migration and a rotation each way, the demo
//! database's database key and its USERS tablespace are wrapped by the current master key —
//! the one V$ENCRYPTION_KEYS activated last, whose label is on the token — as Oracle re-wraps
//! them at each re-key; and the queries' JSON rows read back with the typed rows.

mod common;

use common::{Env, demo, run};
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};
use tdekey::tde::labels::{MasterKeyId, parse_key_id};
use tdekey::tde::output::Row;
use tdekey::tde::views::{DatabaseKeyRow, KeyRow, TablespaceRow};

const PASSPHRASE: &str = "a long backup passphrase 7";

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    })
}

/// A query's rows through `db query NAME WHAT --json`, as the parsers' `Row`s.
fn rows(env: &Env, what: &str) -> Vec<Row> {
    let (code, out, err) = tdekey(env, &["db", "query", DEMO_DATABASE_NAME, what, "--json"]);
    assert_eq!(code, 0, "{what}: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["reply"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {out}"))
        .iter()
        .map(|r| {
            Row(r
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect())
        })
        .collect()
}

/// The master key activated last, from V$ENCRYPTION_KEYS.
fn current(env: &Env) -> MasterKeyId {
    let keys: Vec<KeyRow> = rows(env, "keys")
        .iter()
        .map(|r| KeyRow::from_row(r).unwrap())
        .collect();
    let k = keys.iter().max_by_key(|k| k.activated_ms).unwrap();
    parse_key_id(&k.key_id).unwrap().1
}

/// The MASTERKEYID of each database key, and of each tablespace with its name.
type Wrapped = (Vec<Option<MasterKeyId>>, Vec<(String, Option<MasterKeyId>)>);

fn wrapped(env: &Env) -> Wrapped {
    let db: Vec<Option<MasterKeyId>> = rows(env, "database-key")
        .iter()
        .map(|r| DatabaseKeyRow::from_row(r).unwrap().master_key)
        .collect();
    let ts = rows(env, "tablespaces")
        .iter()
        .map(|r| {
            let t = TablespaceRow::from_row(r).unwrap();
            (t.name, t.master_key)
        })
        .collect();
    (db, ts)
}

#[test]
fn the_database_key_and_users_follow_the_migration_and_each_rotation() {
    let env = demo();
    let before = current(&env);
    assert_eq!(
        wrapped(&env),
        (vec![Some(before)], vec![("USERS".to_owned(), Some(before))]),
        "the demo's file wallet key wraps both before the migration"
    );
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut seen = vec![before];
    for way in [None, Some("oracle"), Some("hsm")] {
        if let Some(way) = way {
            let (code, out, err) = tdekey(
                &env,
                &["rotate", DEMO_DATABASE_NAME, "--way", way, "--json"],
            );
            assert_eq!(code, 0, "{way}: {out}{err}");
        }
        let now = current(&env);
        assert!(!seen.contains(&now), "a new key each time: {now:?}");
        seen.push(now);
        assert_eq!(
            wrapped(&env),
            (vec![Some(now)], vec![("USERS".to_owned(), Some(now))]),
            "{way:?}"
        );
        // The key that wraps them is on the token, under the label its MASTERKEYID gives.
        let (code, out, err) = tdekey(&env, &["hsm", "keys", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&now.hsm_label()), "{}", now.hsm_label());
    }
}
