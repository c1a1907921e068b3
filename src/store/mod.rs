//! SQLite storage: the only module that names rusqlite. One `Store` per thread that needs one.
//!
//! The file is created with mode 0600 inside a 0700 directory; WAL, `synchronous=FULL`, a 5 s
//! busy timeout; the schema is versioned with `PRAGMA user_version`, each migration in one
//! transaction, tables STRICT. A file that is not a tdekey database is never written to.

mod audit_query;
mod databases;
mod profiles;

pub use audit_query::{AuditFilter, AuditRowRef};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not a tdekey database ({detail}). tdekey has not changed it. Move the file aside, or start tdekey with another data directory (--data-dir DIR)."
    )]
    NotADatabase { path: PathBuf, detail: String },

    #[error(
        "The database {path} was written by a newer tdekey (schema version {found}; this build knows up to {known}). Use the newer tdekey; this one will not change the file."
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "The database {path} cannot be written (read-only file, directory or file system). Make it writable by this user, or use another data directory (--data-dir DIR)."
    )]
    ReadOnly { path: PathBuf },

    #[error(
        "The database {path} stayed locked by another process for more than 5 seconds. Close the other tdekey window or command and try again."
    )]
    Busy { path: PathBuf },

    #[error("The disk holding {path} is full. Free some space and try again; nothing was written.")]
    DiskFull { path: PathBuf },

    #[error(
        "Reading or writing the database {path} failed (SQLite: {detail}). Check the disk and the file system; tdekey did not act."
    )]
    DiskError { path: PathBuf, detail: String },

    #[error("Cannot open the database {path}: {detail}.")]
    CannotOpen { path: PathBuf, detail: String },

    #[error("A profile named {name:?} already exists. Choose another name.")]
    DuplicateName { name: String },

    #[error("Database error on {path}: {detail}.")]
    Other { path: PathBuf, detail: String },
}

impl StoreError {
    /// Whether trying again can help.
    pub fn retry(&self) -> crate::model::Retry {
        use crate::model::Retry;
        match self {
            StoreError::Busy { .. } => Retry::Yes,
            StoreError::DiskError { .. } => Retry::CheckFirst,
            _ => Retry::AfterFix,
        }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// One row of `audit_log`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub ts_ms: i64,
    pub os_user: String,
    pub hsm_user: Option<String>,
    pub host: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub details: String,
    #[serde(serialize_with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    #[serde(serialize_with = "hex_bytes")]
    pub hash: [u8; 32],
}

/// A checkpoint: the chain head at `seq`, with an HMAC computed inside the HSM.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointRow {
    pub id: Option<i64>,
    pub seq: i64,
    #[serde(serialize_with = "hex_bytes")]
    pub head_hash: [u8; 32],
    #[serde(serialize_with = "hex_vec")]
    pub mac: Vec<u8>,
    pub key_label: String,
    pub token_label: String,
    pub created_ms: i64,
}

fn hex_vec<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

fn hex_bytes<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

impl Store {
    /// Opens (creating if missing) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            crate::paths::create_private_dir(dir).map_err(|e| io_error(path, &e))?;
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                // Another tdekey process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(path, &e)),
            }
        }
        retry_busy(|| {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| map_err(path, e))?;
            let mut store = Store {
                conn,
                path: path.to_path_buf(),
            };
            store.configure()?;
            store.migrate()?;
            Ok(store)
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        // Reading the schema version first proves the file is SQLite before anything is written.
        // Both reads come from one read transaction: another process may be migrating the file.
        let (version, tables, ours) = {
            let tx = self
                .conn
                .transaction()
                .map_err(|e| map_err(&self.path, e))?;
            let read = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
            let version = read("PRAGMA user_version");
            let tables = read("SELECT count(*) FROM sqlite_master");
            let ours = read(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'",
            );
            // On an error SQLite may already have ended the transaction: report the error
            // itself (dropping `tx` rolls back whatever is left), and commit only on success.
            let r = (|| Ok::<_, rusqlite::Error>((version?, tables?, ours? == 1)))()
                .map_err(|e| map_err(&self.path, e))?;
            tx.commit().map_err(|e| map_err(&self.path, e))?;
            r
        };
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version > 0 && !ours {
            return Err(StoreError::NotADatabase {
                path: self.path.clone(),
                detail: "it is an SQLite file without tdekey's tables".to_owned(),
            });
        }
        if version == 0 && tables > 0 {
            return Err(StoreError::NotADatabase {
                path: self.path.clone(),
                detail: "it is an SQLite file that belongs to another program".to_owned(),
            });
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Other {
                path: self.path.clone(),
                detail: format!(
                    "the file system refused write-ahead logging (journal mode {mode})"
                ),
            });
        }
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        loop {
            let version: i64 = self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            let Some(sql) = usize::try_from(version)
                .ok()
                .and_then(|v| MIGRATIONS.get(v))
            else {
                return Ok(());
            };
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| map_err(&path, e))?;
            // Another process may have migrated while we waited for the lock.
            let now: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| map_err(&path, e))?;
            if now == version {
                tx.execute_batch(sql).map_err(|e| map_err(&path, e))?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
                    .map_err(|e| map_err(&path, e))?;
            }
            tx.commit().map_err(|e| map_err(&path, e))?;
        }
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Appends one audit row: reads the chain head and writes the row in one IMMEDIATE
    /// transaction, so appends from several processes keep one unbroken chain. `build` gets the
    /// next seq and the previous hash (32 zero bytes for the first row) and returns the row.
    pub fn append_audit(
        &mut self,
        build: impl Fn(i64, [u8; 32]) -> AuditRow,
    ) -> Result<AuditRow, StoreError> {
        self.append_audit_batch(1, |_, seq, prev| build(seq, prev))?
            .ok_or_else(|| StoreError::Other {
                path: self.path.clone(),
                detail: "an append of one entry wrote none".to_owned(),
            })
    }

    /// Appends `n` rows in one IMMEDIATE transaction (all or none); `build(i, seq, prev)` makes
    /// the i-th row. Returns the last row.
    pub fn append_audit_batch(
        &mut self,
        n: usize,
        build: impl Fn(usize, i64, [u8; 32]) -> AuditRow,
    ) -> Result<Option<AuditRow>, StoreError> {
        retry_busy(|| {
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| map_err(&path, e))?;
            let (mut next, mut prev) = {
                use rusqlite::OptionalExtension;
                let head: Option<(i64, Vec<u8>)> = tx
                    .query_row(
                        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(|e| map_err(&path, e))?;
                match head {
                    Some((seq, h)) => (seq + 1, h.try_into().unwrap_or([0u8; 32])),
                    None => (1, [0u8; 32]),
                }
            };
            let mut last = None;
            {
                let mut stmt = tx
                    .prepare(
                        "INSERT INTO audit_log (seq, ts_ms, os_user, hsm_user, host, action, target, outcome, details, prev_hash, hash)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )
                    .map_err(|e| map_err(&path, e))?;
                for i in 0..n {
                    let row = build(i, next, prev);
                    stmt.execute(params![
                        row.seq,
                        row.ts_ms,
                        row.os_user,
                        row.hsm_user,
                        row.host,
                        row.action,
                        row.target,
                        row.outcome,
                        row.details,
                        row.prev_hash.as_slice(),
                        row.hash.as_slice()
                    ])
                    .map_err(|e| map_err(&path, e))?;
                    next += 1;
                    prev = row.hash;
                    last = Some(row);
                }
            }
            tx.commit().map_err(|e| map_err(&path, e))?;
            Ok(last)
        })
    }

    /// Calls `f` for each audit row in seq order; stops early when `f` returns false.
    pub fn for_each_audit_row(&self, f: impl FnMut(AuditRow) -> bool) -> Result<(), StoreError> {
        self.for_each_audit_filtered(&AuditFilter::default(), f)
    }

    /// The chain head: the last seq and its hash.
    pub fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, StoreError> {
        use rusqlite::OptionalExtension;
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.map(|(seq, h)| (seq, h.try_into().unwrap_or([0u8; 32]))))
    }

    pub fn insert_checkpoint(&self, c: &CheckpointRow) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO audit_checkpoints (seq, head_hash, mac, key_label, token_label, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    c.seq,
                    c.head_hash.as_slice(),
                    c.mac,
                    c.key_label,
                    c.token_label,
                    c.created_ms
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, seq, head_hash, mac, key_label, token_label, created_ms
                 FROM audit_checkpoints ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let h: Vec<u8> = r.get(2)?;
                Ok(CheckpointRow {
                    id: Some(r.get(0)?),
                    seq: r.get(1)?,
                    head_hash: h.try_into().unwrap_or([0u8; 32]),
                    mac: r.get(3)?,
                    key_label: r.get(4)?,
                    token_label: r.get(5)?,
                    created_ms: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| map_err(&self.path, e))
    }

    /// The newest `limit` audit rows, newest first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_page(&AuditFilter::default(), None, limit)
    }
}

/// Runs `f` again while SQLite reports the database busy, for at most the busy timeout.
/// SQLite's own busy handler covers most waits, but some (a database being switched to WAL or
/// migrated by another process, a WAL recovery) return SQLITE_BUSY at once.
fn retry_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(StoreError::Busy { .. }) if start.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Bytes available to this user on the file system that holds `path`.
// The statvfs field types differ between platforms (u32 on some 32-bit ones).
#[allow(clippy::useless_conversion)]
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.parent().unwrap_or(path);
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable memory of the
    // right type; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    Some(u64::from(st.f_bavail) * u64::from(st.f_frsize))
}

fn io_error(path: &Path, e: &std::io::Error) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly {
                path: path.to_path_buf(),
            }
        }
        std::io::ErrorKind::StorageFull => StoreError::DiskFull {
            path: path.to_path_buf(),
        },
        _ => StoreError::CannotOpen {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
    }
}

fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        return match f.code {
            ErrorCode::NotADatabase => StoreError::NotADatabase {
                path,
                detail: "SQLite says the file is not a database".to_owned(),
            },
            ErrorCode::DatabaseCorrupt => StoreError::NotADatabase {
                path,
                detail: "SQLite says the file is corrupt".to_owned(),
            },
            ErrorCode::ReadOnly => StoreError::ReadOnly { path },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy { path },
            ErrorCode::DiskFull => StoreError::DiskFull { path },
            // A full disk often surfaces as an I/O error (growing the WAL index fails).
            ErrorCode::SystemIoFailure if free_bytes(&path).is_some_and(|b| b < 64 * 1024) => {
                StoreError::DiskFull { path }
            }
            ErrorCode::SystemIoFailure => StoreError::DiskError {
                path,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
            ErrorCode::CannotOpen | ErrorCode::PermissionDenied => StoreError::CannotOpen {
                path,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
            ErrorCode::ConstraintViolation
                if msg
                    .as_deref()
                    .is_some_and(|m| m.contains("hsm_profiles.name")) =>
            {
                StoreError::DuplicateName {
                    name: String::new(),
                }
            }
            _ => StoreError::Other {
                path,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
        };
    }
    StoreError::Other {
        path,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_a_private_versioned_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/tdekey.sqlite3");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        drop(s);
        // Reopening does not migrate twice.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tdekey.sqlite3");
        let junk = b"this is not a database, it is someone's notes\n".repeat(200);
        std::fs::write(&path, &junk).unwrap();
        let e = Store::open(&path).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
        assert!(e.to_string().contains("has not changed it"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), junk);
    }

    #[test]
    fn another_programs_sqlite_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite3");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(c);
        let e = Store::open(&path).unwrap_err();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        assert!(matches!(
            Store::open(&path).unwrap_err(),
            StoreError::TooNew { found: 99, .. }
        ));
    }

    #[test]
    fn audit_rows_cannot_be_changed_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let mut s = Store::open(&path).unwrap();
        s.append_audit(|seq, prev| AuditRow {
            seq,
            ts_ms: 1,
            os_user: "u".into(),
            hsm_user: None,
            host: "h".into(),
            action: "test".into(),
            target: "t".into(),
            outcome: "success".into(),
            details: "{}".into(),
            prev_hash: prev,
            hash: [1; 32],
        })
        .unwrap();
        let e = s
            .conn
            .execute("UPDATE audit_log SET target = 'x'", [])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let e = s.conn.execute("DELETE FROM audit_log", []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
}
