//! What a migration report checks before it states anything: that the audit chain it cites is
//! intact, and that the new key it names is the one the audit log recorded for the database.

use super::MigrationError;
use super::state::MigrationState;
use crate::audit::Verification;
use crate::store::{AuditFilter, Store};
use serde::Serialize;

/// The audit chain as the report found it.
#[derive(Clone, Debug, Serialize)]
pub struct ChainCheck {
    pub intact: bool,
    /// Entries whose hashes and links were recomputed (all of them, when intact).
    pub entries: u64,
    /// The sentence the report prints.
    pub statement: String,
}

/// Walks the whole chain (and its checkpoints) once.
pub fn chain(store: &Store) -> Result<ChainCheck, MigrationError> {
    Ok(match crate::audit::verify(store)? {
        Verification::Intact { entries } => ChainCheck {
            intact: true,
            entries,
            statement: format!(
                "The audit log's chain was verified when this report was written: {entries} entries, every hash, link and checkpoint intact."
            ),
        },
        Verification::Broken { seq, reason } => ChainCheck {
            intact: false,
            entries: 0,
            statement: format!(
                "WARNING: the audit log's chain is broken at seq {seq} ({reason}). The entries this report cites cannot be trusted: run `tdekey audit verify` and find out what changed the log before using this report."
            ),
        },
    })
}

/// The labels the audit log recorded as this database's key through the migration: the
/// `key.owner` entries from the migration's first seq on whose `started` entry names the
/// database and the migration as the source, and whose outcome is `success`.
fn audited_keys(
    store: &Store,
    database: &str,
    first_seq: Option<i64>,
) -> Result<Vec<String>, MigrationError> {
    let filter = AuditFilter {
        action: Some("key.owner".into()),
        ..AuditFilter::default()
    };
    let mut started: std::collections::HashMap<i64, String> = Default::default();
    let mut labels = Vec::new();
    store.for_each_audit_filtered(&filter, |row| {
        if row.seq < first_seq.unwrap_or(1) {
            return true;
        }
        let details: serde_json::Value = serde_json::from_str(&row.details).unwrap_or_default();
        match row.outcome.as_str() {
            "started" if details["database"] == database && details["source"] == "migration" => {
                started.insert(row.seq, row.target);
            }
            "success" => {
                if let Some(label) = details["started_seq"]
                    .as_i64()
                    .and_then(|s| started.get(&s))
                    && !labels.contains(label)
                {
                    labels.push(label.clone());
                }
            }
            _ => {}
        }
        true
    })?;
    Ok(labels)
}

/// Warnings where what the migration's state says about the new key differs from the audit log.
pub fn key_warnings(
    store: &Store,
    database: &str,
    m: &MigrationState,
) -> Result<Vec<String>, MigrationError> {
    let audited = audited_keys(store, database, m.first_seq)?;
    let mut warnings = Vec::new();
    match &m.new_key {
        Some(k) if !audited.contains(k) => warnings.push(format!(
            "WARNING: the migration's record names {k} as the new master key, but the audit log has no key.owner entry recording it for {database} since the migration began (seq {}). Compare the token and V$ENCRYPTION_KEYS before relying on this report.",
            m.first_seq.map_or("?".into(), |s| s.to_string())
        )),
        None if !audited.is_empty() => warnings.push(format!(
            "WARNING: the audit log recorded {} as {database}'s key during this migration, but the migration's record names no new key. Compare the token and V$ENCRYPTION_KEYS before relying on this report.",
            audited.join(", ")
        )),
        _ => {}
    }
    if audited.len() > 1 {
        warnings.push(format!(
            "WARNING: the audit log recorded {} keys for {database} during this migration ({}); a migration makes one. Find out where the others came from.",
            audited.len(),
            audited.join(", ")
        ));
    }
    Ok(warnings)
}
