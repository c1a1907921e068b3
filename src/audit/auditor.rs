//! The one way entries are written: [`Auditor::act`] for what changes state ("audit, then
//! act, then record the outcome") and [`Auditor::attempt`] for what is recorded once, after
//! the attempt (connecting, logging in, reading). Workflows use these; nothing else writes.

use super::{Action, Outcome, row_hash};
use crate::model::{Retry, now_ms};
use crate::paths::DataDir;
use crate::store::{AuditRow, Store, StoreError};
use serde_json::{Value, json};

/// Who and where: filled into every entry.
#[derive(Clone, Debug)]
pub struct Origin {
    pub os_user: String,
    pub host: String,
}

impl Origin {
    pub fn current() -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(crate::paths::process_user)
            .unwrap_or_else(|| "unknown".to_owned());
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        Self { os_user, host }
    }
}

/// The audit log could not do its part, so the action was not taken, or its outcome is not
/// on record.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log cannot be opened at all: tdekey does nothing it cannot record.
    #[error("The audit log is unavailable, so tdekey will not act: {0}")]
    Unavailable(StoreError),
    /// The `started` entry (or the entry that must come first) could not be written: nothing
    /// was done.
    #[error("The action was not performed because the audit log could not record it: {0}")]
    NotStarted(StoreError),
    /// The action happened, but the entry that records its outcome could not be written.
    #[error("{done}, but this could not be written to the audit log: {source}")]
    Unrecorded { done: String, source: StoreError },
    /// The action failed, and its failure could not be written either.
    #[error("{error} (This failure could not be written to the audit log: {source})")]
    FailureUnrecorded { error: String, source: StoreError },
}

impl AuditError {
    pub fn retry(&self) -> Retry {
        match self {
            AuditError::Unavailable(e) | AuditError::NotStarted(e) => e.retry(),
            AuditError::Unrecorded { .. } | AuditError::FailureUnrecorded { .. } => {
                Retry::CheckFirst
            }
        }
    }
}

/// What an entry is about: the action, its target, the HSM user, and the details known before
/// acting. The outcome entry repeats action, target and user.
#[derive(Clone, Debug)]
pub struct Entry {
    pub action: Action,
    pub target: String,
    pub hsm_user: Option<String>,
    pub details: Value,
}

impl Entry {
    pub fn new(action: Action, target: impl Into<String>) -> Self {
        Self {
            action,
            target: target.into(),
            hsm_user: None,
            details: json!({}),
        }
    }

    pub fn user(mut self, hsm_user: Option<&str>) -> Self {
        self.hsm_user = hsm_user.filter(|u| !u.is_empty()).map(str::to_owned);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// The outcome entry being prepared while an action runs: details to add, and the outcome
/// when it is not plain success or failure.
pub struct Step<'s> {
    store: &'s Store,
    notes: serde_json::Map<String, Value>,
    outcome: Option<Outcome>,
    target: Option<String>,
}

impl Step<'_> {
    /// The database, for an action that is itself a change to it.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// Adds a detail to the outcome entry.
    pub fn note(&mut self, key: &str, value: impl Into<Value>) {
        self.notes.insert(key.to_owned(), value.into());
    }

    /// Names the target more exactly in the outcome entry (the token found for a selector).
    pub fn retarget(&mut self, target: &str) {
        self.target = Some(target.to_owned());
    }

    /// Records this outcome instead of the one the result implies (`cancelled`, or `failure`
    /// for an answer that is a refusal).
    pub fn outcome(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
    }
}

/// The result of an audited action, with whether its outcome entry was written.
#[must_use = "an outcome that could not be recorded must be reported"]
#[derive(Debug)]
pub struct Acted<T, E> {
    pub result: Result<T, E>,
    /// The outcome entry, or why it could not be written.
    pub recorded: Result<AuditRow, StoreError>,
}

impl<T, E> Acted<T, E> {
    /// The result: the action's own error (with a note when even the failure could not be
    /// recorded); an outcome that could not be recorded turns a success into
    /// [`AuditError::Unrecorded`] (with `done` saying what did happen).
    pub fn into_result<F: From<E> + From<AuditError>>(self, done: &str) -> Result<T, F>
    where
        E: std::fmt::Display,
    {
        match (self.result, self.recorded) {
            (Err(e), Ok(_)) => Err(e.into()),
            (Err(e), Err(source)) => Err(AuditError::FailureUnrecorded {
                error: e.to_string(),
                source,
            }
            .into()),
            (Ok(v), Ok(_)) => Ok(v),
            (Ok(_), Err(source)) => Err(AuditError::Unrecorded {
                done: done.to_owned(),
                source,
            }
            .into()),
        }
    }
}

/// Writes entries for one thread (one database connection).
pub struct Auditor {
    store: Store,
    origin: Origin,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("store", &self.store)
            .finish()
    }
}

impl Auditor {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            origin: Origin::current(),
        }
    }

    /// Opens the audit log of a data directory (one per thread that writes).
    pub fn open(data: &DataDir) -> Result<Self, AuditError> {
        crate::store::Location::of(data)
            .and_then(|l| Store::connect(&l))
            .map(Self::new)
            .map_err(AuditError::Unavailable)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Appends one entry.
    pub fn record(
        &mut self,
        action: Action,
        target: &str,
        outcome: Outcome,
        hsm_user: Option<&str>,
        details: Value,
    ) -> Result<AuditRow, StoreError> {
        let last = self.record_batch(&[(
            action,
            target.to_owned(),
            outcome,
            hsm_user.map(str::to_owned),
            details,
        )])?;
        last.ok_or_else(|| StoreError::Other {
            at: self.store.at().clone(),
            detail: "an append of one entry wrote none".to_owned(),
        })
    }

    /// Appends several entries in one transaction: all are written, or none.
    pub fn record_batch(
        &mut self,
        entries: &[(Action, String, Outcome, Option<String>, Value)],
    ) -> Result<Option<AuditRow>, StoreError> {
        let origin = &self.origin;
        let details: Vec<String> = entries.iter().map(|e| e.4.to_string()).collect();
        self.store
            .append_audit_batch(entries.len(), |i, seq, prev| {
                let (action, target, outcome, hsm_user, _) = &entries[i];
                let mut row = AuditRow {
                    seq,
                    ts_ms: now_ms(),
                    os_user: origin.os_user.clone(),
                    hsm_user: hsm_user.clone(),
                    host: origin.host.clone(),
                    action: action.as_str().to_owned(),
                    target: target.clone(),
                    outcome: outcome.as_str().to_owned(),
                    details: details[i].clone(),
                    prev_hash: prev,
                    hash: [0; 32],
                };
                row.hash = row_hash(&prev, &row);
                row
            })
    }

    /// Audit before acting: writes the `started` entry; when it cannot be written, `act` is
    /// not called and the error says nothing was done. Then runs `act` and writes the outcome
    /// entry (linked to the started one by `started_seq`): `success` or `failure` (with the
    /// error's sentence), unless the step set another outcome, with the step's notes.
    pub fn act<T, E: std::fmt::Display>(
        &mut self,
        entry: Entry,
        act: impl FnOnce(&mut Step<'_>) -> Result<T, E>,
    ) -> Result<Acted<T, E>, AuditError> {
        let started = self
            .record(
                entry.action,
                &entry.target,
                Outcome::Started,
                entry.hsm_user.as_deref(),
                entry.details.clone(),
            )
            .map_err(AuditError::NotStarted)?;
        let mut notes = serde_json::Map::new();
        notes.insert("started_seq".into(), started.seq.into());
        Ok(self.run_and_record(entry, notes, act))
    }

    /// Records a security-relevant attempt once, after it: `act` runs, then one entry with the
    /// details known before, the step's notes and the outcome (and the error's sentence).
    pub fn attempt<T, E: std::fmt::Display>(
        &mut self,
        entry: Entry,
        act: impl FnOnce(&mut Step<'_>) -> Result<T, E>,
    ) -> Acted<T, E> {
        let notes = match &entry.details {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        self.run_and_record(entry, notes, act)
    }

    fn run_and_record<T, E: std::fmt::Display>(
        &mut self,
        entry: Entry,
        notes: serde_json::Map<String, Value>,
        act: impl FnOnce(&mut Step<'_>) -> Result<T, E>,
    ) -> Acted<T, E> {
        let mut step = Step {
            store: &self.store,
            notes,
            outcome: None,
            target: None,
        };
        let result = act(&mut step);
        let Step {
            mut notes,
            outcome,
            target,
            ..
        } = step;
        let outcome = outcome.unwrap_or(if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        });
        if let Err(e) = &result {
            notes.insert("error".into(), e.to_string().into());
        }
        let recorded = self.record(
            entry.action,
            target.as_deref().unwrap_or(&entry.target),
            outcome,
            entry.hsm_user.as_deref(),
            Value::Object(notes),
        );
        Acted { result, recorded }
    }
}
