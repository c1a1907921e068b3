//! A migration's state, as stored in `migrations.state` (JSON, no secret): each step's status,
//! what was sent (secrets hidden), what came back, the checks, overrides and timestamps.

use super::StepId;
use serde::{Deserialize, Serialize};

/// Where a step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    NotStarted,
    Done,
    Failed,
    Skipped,
    /// A person must act (a restart, a fix on the host, a choice) before it can go on.
    NeedsAttention,
    /// A statement was sent and its answer never seen (tdekey stopped): the state of the
    /// database and the HSM must be read again before anything is sent.
    Unknown,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::NotStarted => "not started",
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::NeedsAttention => "needs attention",
            StepStatus::Unknown => "unknown",
        }
    }

    /// Done or skipped: the wizard moves past it.
    pub fn settled(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Skipped)
    }
}

/// One check of a step, before or after its action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
    /// A person accepted it although it failed; the reason is here (and in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<String>,
}

impl Check {
    pub fn new(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            ok,
            detail: detail.into(),
            overridden: None,
        }
    }

    /// Passed, or accepted by a person with a reason.
    pub fn passes(&self) -> bool {
        self.ok || self.overridden.is_some()
    }
}

/// A statement the step sent and what came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub title: String,
    /// Secrets `<hidden>`.
    pub statement: String,
    pub connector: String,
    /// What came back (a feedback line, rows, an ORA- error), or `None` while in flight.
    pub answer: Option<String>,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: StepId,
    pub status: StepStatus,
    /// Why it is skipped, failed or waiting, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a person must do, with the exact commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todo: Vec<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub sent: Vec<Sent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub attempts: u32,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

impl StepRecord {
    pub fn new(step: StepId) -> Self {
        Self {
            step,
            status: StepStatus::NotStarted,
            reason: None,
            todo: Vec::new(),
            checks: Vec::new(),
            sent: Vec::new(),
            notes: Vec::new(),
            attempts: 0,
            started_ms: None,
            finished_ms: None,
        }
    }

    /// A statement sent whose answer was never recorded.
    pub fn in_flight(&self) -> Option<&Sent> {
        self.sent.last().filter(|s| s.answer.is_none())
    }
}

/// Which way the migration goes, as the first step found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Path {
    /// The master key is in a software keystore (file wallet): migrate it to the HSM.
    FileToHsm,
    /// The master key is already on this HSM: nothing to migrate.
    AlreadyOnHsm,
    /// The master key is in another HSM: reverse-migrate to a file wallet first.
    OtherHsm,
}

/// The sealed backup of the wallet made at step 5.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub file: String,
    pub sha256: String,
    pub encrypted: bool,
    /// Each file sealed in it: (path, size, SHA-256).
    pub files: Vec<(String, u64, String)>,
}

/// Everything the wizard knows about one migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationState {
    pub database: String,
    pub path: Option<Path>,
    pub hsm_module: Option<String>,
    pub token: Option<String>,
    pub hsm_user: Option<String>,
    /// WALLET_ROOT as the database reported it.
    #[serde(default)]
    pub wallet_root: Option<String>,
    /// Labels of the master keys on the token at the first step.
    pub snapshot: Vec<String>,
    /// The master key the migration made, once verified.
    pub new_key: Option<String>,
    pub backup: Option<BackupRecord>,
    /// The audit log's seq when the migration began.
    pub first_seq: Option<i64>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub steps: Vec<StepRecord>,
}

impl MigrationState {
    pub fn new(database: &str, now_ms: i64) -> Self {
        Self {
            database: database.to_owned(),
            path: None,
            hsm_module: None,
            token: None,
            hsm_user: None,
            wallet_root: None,
            snapshot: Vec::new(),
            new_key: None,
            backup: None,
            first_seq: None,
            started_ms: now_ms,
            finished_ms: None,
            steps: StepId::ALL.iter().map(|s| StepRecord::new(*s)).collect(),
        }
    }

    pub fn step(&self, id: StepId) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.step == id)
    }

    pub fn step_mut(&mut self, id: StepId) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| s.step == id)
    }

    /// The first step that is not done or skipped.
    pub fn current(&self) -> Option<StepId> {
        self.steps
            .iter()
            .find(|s| !s.status.settled())
            .map(|s| s.step)
    }

    pub fn finished(&self) -> bool {
        self.current().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_migration_starts_at_the_first_step_and_round_trips_as_json() {
        let mut m = MigrationState::new("ORCL", 1);
        assert_eq!(m.current(), Some(StepId::Choose));
        if let Some(s) = m.step_mut(StepId::Choose) {
            s.status = StepStatus::Done;
        }
        if let Some(s) = m.step_mut(StepId::HsmClient) {
            s.status = StepStatus::Skipped;
            s.reason = Some("not CloudHSM".into());
        }
        assert_eq!(m.current(), Some(StepId::OracleLibrary));
        let json = serde_json::to_string(&m).unwrap();
        let back: MigrationState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(!m.finished());
    }
}
