//! Every way the database can fail, each a sentence that says what to do, and the mapping of
//! SQLite's errors to them.

use super::BUSY_TIMEOUT;
use super::db::StoreName;
use rusqlite::ErrorCode;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{at} is not a tdekey database ({detail}). tdekey has not changed it. Move the file aside, or start tdekey with another data directory (--data-dir DIR)."
    )]
    NotADatabase { at: StoreName, detail: String },

    #[error(
        "The database {at} was written by a newer tdekey (schema version {found}; this build knows up to {known}). Use the newer tdekey; this one will not change the file."
    )]
    TooNew {
        at: StoreName,
        found: i64,
        known: i64,
    },

    #[error(
        "The database {at} cannot be written (read-only file, directory or file system). Make it writable by this user, or use another data directory (--data-dir DIR)."
    )]
    ReadOnly { at: StoreName },

    #[error(
        "The database {at} stayed locked by another process for more than 5 seconds. Close the other tdekey window or command and try again."
    )]
    Busy { at: StoreName },

    #[error("The disk holding {at} is full. Free some space and try again; nothing was written.")]
    DiskFull { at: StoreName },

    #[error(
        "Reading or writing the database {at} failed (SQLite: {detail}). Check the disk and the file system; tdekey did not act."
    )]
    DiskError { at: StoreName, detail: String },

    #[error("Cannot open the database {at}: {detail}.")]
    CannotOpen { at: StoreName, detail: String },

    #[error("A profile named {name:?} already exists. Choose another name.")]
    DuplicateName { name: String },

    #[error(
        "The connection to the store {at} was lost. Check the network and the PostgreSQL server, then try again; what was not confirmed was not written."
    )]
    ConnectionLost { at: StoreName },

    #[error(
        "The PostgreSQL server refused tdekey's request on {at} ({detail}). Grant tdekey's PostgreSQL user the rights the README lists, or use the user that owns tdekey's tables."
    )]
    Denied { at: StoreName, detail: String },

    #[error("{0}")]
    Connect(Box<super::pg::PgError>),

    #[error("The store {at} cannot be used. {source}")]
    Schema {
        at: StoreName,
        source: super::pg::schema::SchemaError,
    },

    #[error(
        "The store {at} cannot be used: {detail}. Leave out --store (and TDEKEY_STORE) to use this computer's store, or fix what the sentence names."
    )]
    NotHere { at: StoreName, detail: String },

    #[error("Database error on {at}: {detail}.")]
    Other { at: StoreName, detail: String },
}

impl From<super::pg::PgError> for StoreError {
    fn from(e: super::pg::PgError) -> Self {
        StoreError::Connect(Box::new(e))
    }
}

impl StoreError {
    /// Whether trying again can help.
    pub fn retry(&self) -> crate::model::Retry {
        use crate::model::Retry;
        match self {
            StoreError::Busy { .. } | StoreError::ConnectionLost { .. } => Retry::Yes,
            StoreError::DiskError { .. } => Retry::CheckFirst,
            StoreError::Connect(e) => e.retry(),
            _ => Retry::AfterFix,
        }
    }
}

/// migrated by another process, a WAL recovery) return SQLITE_BUSY at once.
/// Runs `f` again while SQLite reports the database busy, for at most the busy timeout.
/// SQLite's own busy handler covers most waits, but some (a database being switched to WAL or
pub(super) fn retry_busy<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
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
#[cfg(unix)]
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

/// Not measured on this platform: a full disk is then reported by the error alone.
#[cfg(not(unix))]
fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

pub(super) fn io_error(path: &Path, e: &std::io::Error) -> StoreError {
    let path = StoreName::file(path);
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly { at: path }
        }
        std::io::ErrorKind::StorageFull => StoreError::DiskFull { at: path },
        _ => StoreError::CannotOpen {
            at: path,
            detail: e.to_string(),
        },
    }
}

pub(super) fn map_err(at: &StoreName, e: rusqlite::Error) -> StoreError {
    let path = at.clone();
    let file = at.as_file();
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        return match f.code {
            ErrorCode::NotADatabase => StoreError::NotADatabase {
                at: path,
                detail: "SQLite says the file is not a database".to_owned(),
            },
            ErrorCode::DatabaseCorrupt => StoreError::NotADatabase {
                at: path,
                detail: "SQLite says the file is corrupt".to_owned(),
            },
            ErrorCode::ReadOnly => StoreError::ReadOnly { at: path },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy { at: path },
            ErrorCode::DiskFull => StoreError::DiskFull { at: path },
            // A full disk often surfaces as an I/O error (growing the WAL index fails).
            ErrorCode::SystemIoFailure
                if file.and_then(free_bytes).is_some_and(|b| b < 64 * 1024) =>
            {
                StoreError::DiskFull { at: path }
            }
            ErrorCode::SystemIoFailure => StoreError::DiskError {
                at: path,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
            ErrorCode::CannotOpen | ErrorCode::PermissionDenied => StoreError::CannotOpen {
                at: path,
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
                at: path,
                detail: msg.clone().unwrap_or_else(|| e.to_string()),
            },
        };
    }
    StoreError::Other {
        at: path,
        detail: e.to_string(),
    }
}
