//! Storage: the only module that names rusqlite and postgres. One `Store` per thread that needs
//! one, on this computer's SQLite file (the default) or a team's PostgreSQL database.
//!
//! The file is created with mode 0600 inside a 0700 directory; WAL, `synchronous=FULL`, a 5 s
//! busy timeout; the schema is versioned with `PRAGMA user_version`, each migration in one
//! transaction, tables STRICT. A file that is not a tdekey database is never written to.
//! Every statement is written once and run by the executor in `db/` on either engine.

mod audit_query;
mod audit_rows;
mod copy;
mod databases;
pub(crate) mod db;
mod errors;
mod forward;
mod info;
mod lease;
mod migrations;
pub mod pg;
mod profiles;
mod rotation;
mod schema;

pub use audit_query::{AuditFilter, AuditRowRef};
pub use audit_rows::{AuditRow, CheckpointRow};
pub use copy::TABLES;
pub use db::{Location, StoreName};
pub use errors::StoreError;
pub use forward::ForwardPosition;
pub use info::StoreFacts;
pub use lease::{LeaseKeeper, LeaseKey, Leased};
pub use migrations::{Lease, MigrationRow};
pub use rotation::{Claim, KeyOwner, PolicyRow, RunRow};
pub use schema::SCHEMA_VERSION;

use db::{Conn, p};
use errors::{io_error, map_err, retry_busy};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Store {
    conn: Conn,
    at: StoreName,
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("at", &self.at).finish()
    }
}

impl Store {
    /// Opens (creating if missing) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            crate::paths::create_private_dir(dir).map_err(|e| io_error(path, &e))?;
        }
        if !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(_) => {}
                // Another tdekey process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(path, &e)),
            }
        }
        let at = StoreName::file(path);
        retry_busy(|| {
            let mut conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| map_err(&at, e))?;
            schema::configure(&mut conn, &at)?;
            schema::migrate(&mut conn, &at)?;
            Ok(Store {
                conn: Conn::Lite(conn),
                at: at.clone(),
                location: Location::Sqlite(path.to_path_buf()),
            })
        })
    }

    /// Opens the store at `location` (creating and migrating its schema if needed).
    pub fn connect(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::Sqlite(path) => Self::open(path),
            Location::Pg(target) => {
                let at = location.name();
                let thread = std::thread::current();
                let app = format!("tdekey/{}", thread.name().unwrap_or("main"));
                let mut client = target.connect(&app)?;
                pg::schema::migrate(&mut client, SCHEMA_VERSION).map_err(|source| {
                    StoreError::Schema {
                        at: at.clone(),
                        source,
                    }
                })?;
                Ok(Store {
                    conn: Conn::Pg(Box::new(std::cell::RefCell::new(db::PgConn::new(client)))),
                    at,
                    location: location.clone(),
                })
            }
        }
    }

    /// How to open this store again (a second connection for another thread).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Where this store is: its file, or its PostgreSQL location (never with a password).
    pub fn at(&self) -> &StoreName {
        &self.at
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = match &self.conn {
            Conn::Lite(_) => "PRAGMA user_version",
            Conn::Pg(_) => "SELECT version FROM tdekey_schema",
        };
        self.query_one(sql, p![], |r| r.int(0))
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query_opt("SELECT value FROM settings WHERE key = ?1", p![key], |r| {
            r.text(0)
        })
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            p![key, value],
        )
        .map(|_| ())
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
            .execute("UPDATE audit_log SET target = 'x'", p![])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let e = s.execute("DELETE FROM audit_log", p![]).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
}
