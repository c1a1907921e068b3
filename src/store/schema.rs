//! The schema and its versions: each migration runs in one IMMEDIATE transaction and bumps
//! `PRAGMA user_version`; a file that is not a tdekey database is refused before anything is
//! written.

use super::db::StoreName;
use super::errors::map_err;
use super::{BUSY_TIMEOUT, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// Schema migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE hsm_connections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    module_path TEXT NOT NULL,
    token_label TEXT,
    slot_id INTEGER,
    user_name TEXT NOT NULL DEFAULT '',
    pin_format TEXT NOT NULL CHECK (pin_format IN ('cloudhsm', 'plain')),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    os_user TEXT NOT NULL,
    hsm_user TEXT,
    host TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('started', 'success', 'failure', 'cancelled')),
    details TEXT NOT NULL,
    prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an entry cannot be changed'); END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an entry cannot be deleted'); END;
"#,
    r#"
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    head_hash BLOB NOT NULL CHECK (length(head_hash) = 32),
    mac BLOB NOT NULL,
    key_label TEXT NOT NULL,
    token_label TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: a checkpoint cannot be changed'); END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: a checkpoint cannot be deleted'); END;

CREATE INDEX audit_log_ts ON audit_log (ts_ms);
CREATE INDEX audit_log_action ON audit_log (action, seq);
"#,
    r#"
CREATE VIRTUAL TABLE audit_text USING fts5(
    target, details, content = 'audit_log', content_rowid = 'seq', tokenize = 'trigram'
);
INSERT INTO audit_text (rowid, target, details) SELECT seq, target, details FROM audit_log;
CREATE TRIGGER audit_log_text AFTER INSERT ON audit_log
BEGIN INSERT INTO audit_text (rowid, target, details) VALUES (new.seq, new.target, new.details); END;
"#,
    r#"
CREATE TABLE databases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    connector TEXT NOT NULL CHECK (connector IN ('manual', 'sqlplus', 'rehearsal')),
    oracle_home TEXT,
    oracle_sid TEXT,
    connect_string TEXT,
    auth_user TEXT,
    wallet_root TEXT,
    multitenant TEXT NOT NULL CHECK (multitenant IN ('non-cdb', 'cdb-united', 'cdb-isolated')),
    rac INTEGER NOT NULL CHECK (rac IN (0, 1)),
    hsm_connection_id INTEGER REFERENCES hsm_connections (id) ON DELETE SET NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
"#,
    // One name for the HSM connection profile everywhere: HsmProfile, hsm_profiles.
    r#"
ALTER TABLE hsm_connections RENAME TO hsm_profiles;
ALTER TABLE databases RENAME COLUMN hsm_connection_id TO hsm_profile_id;
"#,
    // The migration wizard: one row per migration of a database, its state as JSON (each
    // step's status, what was sent, what came back, timestamps), at most one active per
    // database, and a lease so that two processes never drive one migration at once. Which
    // master key belongs to which database, once a migration (or a rotation) has made it.
    r#"
CREATE TABLE migrations (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'done', 'rolled-back', 'abandoned')),
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    lock_owner TEXT,
    lock_until_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX migrations_one_active ON migrations (database) WHERE status = 'active';

CREATE TABLE key_owners (
    label TEXT PRIMARY KEY,
    database TEXT NOT NULL,
    token_label TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    source TEXT NOT NULL
) STRICT;
"#,
    // Version 7: rotation. A policy per database (its schedule as text, the way, when it is
    // next due); every rotation run with its checks, the key it generated and did not
    // activate, and a lease so that two processes never rotate one database at once. Which
    // container a recorded key is the master key of.
    r#"
CREATE TABLE rotation_policies (
    database TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    way TEXT NOT NULL CHECK (way IN ('hsm', 'oracle')),
    next_due_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE rotation_runs (
    id INTEGER PRIMARY KEY,
    database TEXT NOT NULL,
    way TEXT NOT NULL CHECK (way IN ('hsm', 'oracle')),
    trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'scheduled', 'compromise')),
    reason TEXT,
    who TEXT NOT NULL,
    token_label TEXT,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failure')),
    old_keys TEXT NOT NULL DEFAULT '[]',
    new_keys TEXT NOT NULL DEFAULT '[]',
    pending_key TEXT,
    failed_step TEXT,
    state_left TEXT,
    checks TEXT NOT NULL DEFAULT '[]',
    lock_owner TEXT,
    lock_until_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX rotation_runs_one_running ON rotation_runs (database) WHERE outcome = 'running';
CREATE INDEX rotation_runs_by_time ON rotation_runs (database, started_ms);

ALTER TABLE key_owners ADD COLUMN container TEXT NOT NULL DEFAULT '';
"#,
    // v8: how a database profile connects (AS SYSDBA, AS SYSKM, or no administrative
    // privilege). Profiles saved before connected AS SYSKM, so they keep it.
    r#"
ALTER TABLE databases ADD COLUMN connect_as TEXT NOT NULL DEFAULT 'syskm';
"#,
    // v9: a database profile's RAC nodes (a JSON list of host names) and Data Guard standbys
    // (a JSON list of {"name": DB_UNIQUE_NAME, "host": …}): the migration wizard checks each
    // host. Profiles saved before list none.
    r#"
ALTER TABLE databases ADD COLUMN rac_nodes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE databases ADD COLUMN standbys TEXT NOT NULL DEFAULT '[]';
"#,
    // v10: what a rotation run was about to do, recorded before it did it (JSON: the id of the
    // key it draws before C_GenerateKey; the keys seen before SET KEY), so that the run after a
    // crash finds what the stopped one made.
    r#"
ALTER TABLE rotation_runs ADD COLUMN intent TEXT;
"#,
    // v11: a recorded key that stopped being its database's master key without another key of
    // that database on the HSM replacing it (a rolled-back migration's reverse migration): when
    // and why. The claim stays (backups taken while it was current need the key).
    r#"
ALTER TABLE key_owners ADD COLUMN retired_ms INTEGER;
ALTER TABLE key_owners ADD COLUMN retired_why TEXT;
"#,
    // v12: how far each SIEM destination has been sent the audit log (`tdekey audit forward`):
    // the last seq it acknowledged, keyed by the normalised destination.
    r#"
CREATE TABLE forward_positions (
    destination TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the connection up and checks that the file is SQLite and tdekey's (or empty).
pub(super) fn configure(conn: &mut Connection, at: &StoreName) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map_err(at, e))?;
    // Reading the schema version first proves the file is SQLite before anything is written.
    // Both reads come from one read transaction: another process may be migrating the file.
    let (version, tables, ours) = {
        let tx = conn.transaction().map_err(|e| map_err(at, e))?;
        let read = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
        let version = read("PRAGMA user_version");
        let tables = read("SELECT count(*) FROM sqlite_master");
        let ours =
            read("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'");
        // On an error SQLite may already have ended the transaction: report the error
        // itself (dropping `tx` rolls back whatever is left), and commit only on success.
        let r = (|| Ok::<_, rusqlite::Error>((version?, tables?, ours? == 1)))()
            .map_err(|e| map_err(at, e))?;
        tx.commit().map_err(|e| map_err(at, e))?;
        r
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            at: at.clone(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version > 0 && !ours {
        return Err(StoreError::NotADatabase {
            at: at.clone(),
            detail: "it is an SQLite file without tdekey's tables".to_owned(),
        });
    }
    if version == 0 && tables > 0 {
        return Err(StoreError::NotADatabase {
            at: at.clone(),
            detail: "it is an SQLite file that belongs to another program".to_owned(),
        });
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| map_err(at, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other {
            at: at.clone(),
            detail: format!("the file system refused write-ahead logging (journal mode {mode})"),
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| map_err(at, e))?;
    Ok(())
}

/// Brings the file to [`SCHEMA_VERSION`], one migration per transaction.
pub(super) fn migrate(conn: &mut Connection, at: &StoreName) -> Result<(), StoreError> {
    loop {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| map_err(at, e))?;
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_err(at, e))?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| map_err(at, e))?;
        if now == version {
            tx.execute_batch(sql).map_err(|e| map_err(at, e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
                .map_err(|e| map_err(at, e))?;
        }
        tx.commit().map_err(|e| map_err(at, e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn version_8_profiles_gain_no_hosts_and_keep_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.sqlite3");
        let c = rusqlite::Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..8] {
            c.execute_batch(m).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 8;
             INSERT INTO databases (name, connector, wallet_root, multitenant, rac, created_ms, updated_ms, connect_as)
               VALUES ('FIN', 'manual', '/u01/wallet', 'cdb-united', 1, 1, 1, 'sysdba');",
        )
        .unwrap();
        drop(c);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let d = s.database("FIN").unwrap().unwrap();
        assert!(d.rac && d.rac_nodes.is_empty() && d.standbys.is_empty());
        assert_eq!(d.connect_as, crate::model::ConnectAs::Sysdba);
        assert_eq!(d.wallet_root.as_deref(), Some("/u01/wallet"));
        let mut d = d;
        d.rac_nodes = vec!["rac1".into(), "rac2".into()];
        d.standbys = vec![crate::model::Standby::parse("FINSBY@sby1")];
        s.save_database(&d).unwrap();
        let back = s.database("FIN").unwrap().unwrap();
        assert_eq!((back.rac_nodes, back.standbys), (d.rac_nodes, d.standbys));
    }

    #[test]
    fn version_4_files_keep_their_profiles_when_the_table_is_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.sqlite3");
        let c = rusqlite::Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..4] {
            c.execute_batch(m).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 4;
             INSERT INTO hsm_connections (id, name, module_path, user_name, pin_format, created_ms, updated_ms)
               VALUES (7, 'CloudHSM', '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so', 'cu', 'cloudhsm', 1, 1);
             INSERT INTO settings (key, value) VALUES ('default_hsm_profile', '7');
             INSERT INTO databases (name, connector, multitenant, rac, hsm_connection_id, created_ms, updated_ms)
               VALUES ('ORCL', 'manual', 'non-cdb', 0, 7, 1, 1);",
        )
        .unwrap();
        drop(c);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.hsm_profiles().unwrap()[0].name, "CloudHSM");
        assert_eq!(s.default_hsm_profile().unwrap().unwrap().id, Some(7));
        assert_eq!(
            s.database("ORCL").unwrap().unwrap().hsm_profile.as_deref(),
            Some("CloudHSM")
        );
        s.delete_hsm_profile(7).unwrap();
        assert_eq!(s.database("ORCL").unwrap().unwrap().hsm_profile, None);
    }
}
