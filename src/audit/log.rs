//! The auditor's use cases on the log itself: reading it (recorded, PCI DSS 10.2.1.3),
//! exporting and decrypting exports. Verification and checkpoints are in `checkpoint.rs`.

use super::export::{self, ExportError, Format, Manifest};
use super::{Action, AuditError, Auditor, Entry, Outcome};
use crate::hsm::HsmError;
use crate::model::Retry;
use crate::secret::Secret;
use crate::store::{AuditFilter, AuditRow, StoreError};
use serde_json::json;
use std::path::Path;

/// Why an audit-log use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("Log in to the HSM first: a checkpoint is computed inside the HSM.")]
    NotLoggedIn,
    #[error("The audit log is empty: there is nothing to anchor yet.")]
    Empty,
    #[error(
        "The audit key TDEKEY.AUDIT.HMAC vanished from the token while the checkpoint was computed. Check who removes objects from this token."
    )]
    AuditKeyVanished,
    #[error("{0}")]
    BadFilter(String),
}

impl LogError {
    pub fn retry(&self) -> Retry {
        match self {
            LogError::Audit(e) => e.retry(),
            LogError::Store(e) => e.retry(),
            LogError::Hsm(e) => e.retry(),
            LogError::Export(e) => e.retry(),
            LogError::NotLoggedIn
            | LogError::Empty
            | LogError::AuditKeyVanished
            | LogError::BadFilter(_) => Retry::AfterFix,
        }
    }
}

/// Reads a time for a filter: RFC 3339, or a date (YYYY-MM-DD, its start in UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Some(t) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(format!(
        "Cannot read the time {s:?}: use RFC 3339 (2026-11-24T09:30:00Z) or a date (2026-11-24)."
    ))
}

/// The outcomes an entry can have, as a filter names them.
pub const OUTCOMES: &[&str] = &["started", "success", "failure", "cancelled"];

/// Checks a filter's outcome name.
pub fn check_outcome(o: &str) -> Result<(), LogError> {
    if OUTCOMES.contains(&o) {
        Ok(())
    } else {
        Err(LogError::BadFilter(format!(
            "Unknown outcome {o:?}: use started, success, failure or cancelled."
        )))
    }
}

/// Records that the log is being read (`audit.read`) before the window shows any of it: no
/// entry, no view.
pub fn begin_reading(a: &mut Auditor, via: &str, hsm_user: Option<&str>) -> Result<(), LogError> {
    let entry = Entry::new(Action::AuditRead, "audit_log")
        .user(hsm_user)
        .details(json!({ "via": via }));
    a.attempt(entry, |_| Ok::<_, LogError>(()))
        .into_result::<LogError>("The log was opened")
        .map_err(|e| match e {
            LogError::Audit(AuditError::Unrecorded { source, .. }) => {
                LogError::Audit(AuditError::NotStarted(source))
            }
            other => other,
        })
}

/// One page of entries, newest first, older than `before_seq` (reading was recorded by
/// [`begin_reading`]).
pub fn page(
    a: &Auditor,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditRow>, LogError> {
    Ok(a.store().audit_page(filter, before_seq, limit)?)
}

/// The sequence number of the newest entry in the log (none while it is empty).
pub fn head_seq(a: &Auditor) -> Result<Option<i64>, LogError> {
    Ok(a.store().audit_head()?.map(|(seq, _)| seq))
}

/// How many entries match the filter.
pub fn count(a: &Auditor, filter: &AuditFilter) -> Result<u64, LogError> {
    Ok(a.store().audit_count(filter)?)
}

/// The newest `limit` entries matching the filter, for the command line; the reading is
/// recorded after the page is read, so the listing does not contain its own entry.
pub fn list(
    a: &mut Auditor,
    filter: &AuditFilter,
    limit: usize,
    via: &str,
) -> Result<Vec<AuditRow>, LogError> {
    let entry =
        Entry::new(Action::AuditRead, "audit_log").details(json!({ "via": via, "filter": filter }));
    a.attempt(entry, |step| {
        let rows = step.store().audit_page(filter, None, limit)?;
        step.note("entries", rows.len());
        Ok::<_, LogError>(rows)
    })
    .into_result("The entries were read")
}

/// Exports the entries matching `filter` (see [`export::export`]), audited before it starts.
/// `progress(done, total)` returns false to cancel; a cancelled export is recorded as such.
#[allow(clippy::too_many_arguments)]
pub fn export(
    a: &mut Auditor,
    filter: &AuditFilter,
    format: Format,
    passphrase: Option<Secret>,
    path: &Path,
    force: bool,
    via: &str,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Manifest, LogError> {
    let entry = Entry::new(Action::AuditExport, path.display().to_string()).details(json!({
        "format": format.as_str(),
        "filter": filter,
        "encrypted": passphrase.is_some(),
        "force": force,
        "via": via,
    }));
    a.act(entry, |step| {
        let result = export::export(
            step.store(),
            filter,
            format,
            passphrase.as_ref(),
            path,
            force,
            progress,
        );
        drop(passphrase);
        match &result {
            Ok(m) => {
                step.note("entries", m.entries);
                step.note("first_seq", m.first_seq);
                step.note("last_seq", m.last_seq);
                step.note("sha256", m.sha256.as_str());
            }
            Err(ExportError::Cancelled) => step.outcome(Outcome::Cancelled),
            Err(_) => {}
        }
        result
    })?
    .into_result("The export was written")
}

/// Decrypts an encrypted export to `out` and records it (`audit.decrypt`). Returns the number
/// of plaintext bytes.
pub fn decrypt(
    a: &mut Auditor,
    input: &Path,
    passphrase: Secret,
    out: &Path,
    force: bool,
) -> Result<u64, LogError> {
    let entry = Entry::new(Action::AuditDecrypt, input.display().to_string())
        .details(json!({ "out": out.display().to_string(), "force": force }));
    a.attempt(entry, |step| {
        let n = export::decrypt(input, &passphrase, out, force)?;
        drop(passphrase);
        step.note("bytes", n);
        step.note("out", out.display().to_string());
        Ok::<_, LogError>(n)
    })
    .into_result("The export was decrypted")
}
