//! The recoverability report: every master key a database's data and backups need, and where
//! each can still be found (the HSM, the file keystore, Oracle's keystore backups, tdekey's
//! wallet backups). A key something depends on and found nowhere is missing (exit 4).
//!
//! `model` is plain data (pure); `gather` reads the database, tdekey's store, the HSM and the
//! wallets; `report` writes the HTML and JSON pages for a change ticket.

mod gather;
pub mod model;
pub mod report;
mod wallets;

pub use gather::{Sources, check, local_wallet_root};
pub use model::{
    Blocking, KeyFinding, KeyKind, Need, Place, Recoverability, RetireVerdict, Retiring, Shared,
    Unread,
};
pub use report::write_report;

/// Why a report could not be made at all (a source that could not be read is part of the
/// report, not an error).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] crate::databases::DatabaseError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}
