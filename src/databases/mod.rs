//! Databases, as use cases: save and remove a database profile, run a statement through the
//! profile's connector, read a wallet, and the Rehearsal demo database. Each is recorded in
//! the audit log, the same way for the window (through the engine) and the command line.

mod backup;
mod demo;
mod keystore;
mod restore;
mod statement;
mod wallet;

pub use backup::{
    BackedUpFile, Backup, backup_is_sealed, backup_wallet, check_backup, keystore_backup_files,
    read_backup, sha256_hex,
};
pub use demo::{ensure_demo_database, seed_file_wallet, start_on_other_hsm};
pub use restore::{RESTORE_MODES, Restored, plan_restore, restore_wallet};
pub use statement::{Ran, Reach, connector_for, run_statement};
pub use wallet::{
    WalletReport, auto_login_file, inspect_wallet_root, is_auto_login_file, keystore_file,
    open_auto_login, read_auto_login_file, read_wallet_file, wallet_file, wallet_files,
};

use crate::audit::{Action, AuditError, Auditor, Entry};
use crate::hsm::HsmError;
use crate::model::{ConnectorKind, DatabaseProfile, Retry};
use crate::oracle::OracleError;
use crate::session::SessionError;
use crate::store::StoreError;
use crate::wallet::WalletError;
use serde_json::json;

/// Why a database use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{0}")]
    Invalid(String),
    #[error("No database profile is named {0:?}.")]
    NoSuchDatabase(String),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Oracle(#[from] OracleError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error("Cannot read {path}: {detail}. Check the path.")]
    Unreadable { path: String, detail: String },
    /// The statement ran; what followed it failed.
    #[error("The statement answered \"{answer}\". {source}")]
    AfterStatement {
        answer: String,
        source: SessionError,
    },
}

impl DatabaseError {
    /// Whether the statement surely never reached the database (it could not be built, the
    /// connector could not start, the profile is wrong). Any other failure (a paste that does
    /// not answer it, a timeout, a cancel after it was shown, a fault mid-way) leaves it unknown:
    /// it may have run.
    pub fn never_sent(&self) -> bool {
        matches!(
            self,
            DatabaseError::NoSuchDatabase(_)
                | DatabaseError::Oracle(
                    OracleError::Statement(_)
                        | OracleError::NoOracleHome { .. }
                        | OracleError::SqlplusMissing { .. }
                        | OracleError::SqlplusStart { .. }
                        | OracleError::BadUser { .. }
                        | OracleError::BadConnectString(_)
                        | OracleError::Unsupported { .. }
                )
        )
    }

    pub fn retry(&self) -> Retry {
        match self {
            DatabaseError::Invalid(_)
            | DatabaseError::NoSuchDatabase(_)
            | DatabaseError::Wallet(_)
            | DatabaseError::Unreadable { .. } => Retry::AfterFix,
            DatabaseError::Audit(e) => e.retry(),
            DatabaseError::Store(e) => e.retry(),
            DatabaseError::Oracle(e) => e.retry(),
            DatabaseError::Session(e) => e.retry(),
            DatabaseError::Hsm(e) => e.retry(),
            DatabaseError::AfterStatement { .. } => Retry::CheckFirst,
        }
    }
}

pub fn list(a: &Auditor) -> Result<Vec<DatabaseProfile>, DatabaseError> {
    Ok(a.store().databases()?)
}

/// The profile named `name`.
pub fn get(a: &Auditor, name: &str) -> Result<DatabaseProfile, DatabaseError> {
    a.store()
        .database(name)?
        .ok_or_else(|| DatabaseError::NoSuchDatabase(name.to_owned()))
}

/// Saves a database profile (by name: a new one, or the one with that name), audited before
/// it is made.
pub fn save(a: &mut Auditor, d: &DatabaseProfile) -> Result<i64, DatabaseError> {
    // Printable, at most 64 characters, trimmed: refused before anything is saved.
    let name = crate::model::check_name("database", &d.name)
        .map_err(|e| DatabaseError::Invalid(e.to_string()))?;
    let trimmed;
    let d = if name == d.name {
        d
    } else {
        trimmed = DatabaseProfile { name, ..d.clone() };
        &trimmed
    };
    if d.connector == ConnectorKind::Sqlplus
        && d.oracle_home.as_deref().is_none_or(|h| h.trim().is_empty())
    {
        return Err(DatabaseError::Invalid(
            "A sqlplus profile needs its ORACLE_HOME (where bin/sqlplus is).".into(),
        ));
    }
    d.check_hosts().map_err(DatabaseError::Invalid)?;
    let entry = Entry::new(Action::DatabaseChange, &d.name)
        .details(json!({ "operation": "save", "profile": d }));
    a.act(entry, |step| {
        let id = step.store().save_database(d)?;
        step.note("id", id);
        Ok::<_, StoreError>(id)
    })?
    .into_result("The profile was saved")
}

/// Removes a database profile (nothing in the database or on the HSM changes), audited
/// before it is removed.
pub fn remove(a: &mut Auditor, name: &str) -> Result<(), DatabaseError> {
    get(a, name)?;
    let entry = Entry::new(Action::DatabaseChange, name).details(json!({ "operation": "remove" }));
    a.act(entry, |step| step.store().remove_database(name).map(|_| ()))?
        .into_result("The profile was removed")
}
