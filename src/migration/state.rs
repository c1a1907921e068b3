//! A migration's state, as stored in `migrations.state` (JSON, no secret): each step's status,
//! what was sent (secrets hidden), what came back, the checks, overrides and timestamps.

use super::{BackStep, StepId};
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

/// One step's record: a step of the plan (`StepId`) or of a rollback (`BackStep`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord<S = StepId> {
    pub step: S,
    pub status: StepStatus,
    /// Why it is skipped, failed or waiting, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a person must do, with the exact commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todo: Vec<String>,
    /// What the step waits for (a confirmation, a password, a paste).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<super::Need>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub sent: Vec<Sent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub attempts: u32,
    /// Who ran it last: the HSM user of the session that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// A step that checks every host (RAC nodes, standbys): what each host's check found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostResult>,
}

/// One host's check at a step that checks every host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostResult {
    /// The host as the profile lists it ("" for the database host of a profile without RAC
    /// nodes).
    pub host: String,
    /// "RAC node", "standby FINSBY", "database host".
    pub role: String,
    /// Every check passed.
    pub passed: bool,
    pub checks: Vec<Check>,
    /// The name the host's output said it was printed on (`hostname`), when it was pasted;
    /// none when tdekey read the host itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printed_on: Option<String>,
    pub at_ms: i64,
}

impl<S> StepRecord<S> {
    pub fn new(step: S) -> Self {
        Self {
            step,
            status: StepStatus::NotStarted,
            reason: None,
            todo: Vec::new(),
            needs: Vec::new(),
            checks: Vec::new(),
            sent: Vec::new(),
            notes: Vec::new(),
            attempts: 0,
            by: None,
            started_ms: None,
            finished_ms: None,
            hosts: Vec::new(),
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

/// The backup of the wallet made at step 6 (sealed by tdekey, or copies on the database host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub file: String,
    pub sha256: String,
    pub encrypted: bool,
    /// Each file sealed in it: (path, size, SHA-256).
    pub files: Vec<(String, u64, String)>,
}

/// A rollback of the migration: its own steps, recorded like the plan's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// Why the person rolled back, in their words.
    pub reason: String,
    /// The plan's step where the rollback began.
    pub from: Option<StepId>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub steps: Vec<StepRecord<BackStep>>,
    /// The reverse migration is done (seen in V$ENCRYPTION_KEYS).
    #[serde(default)]
    pub reversed: bool,
}

impl Rollback {
    pub fn new(reason: &str, from: Option<StepId>, now_ms: i64) -> Self {
        Self {
            reason: reason.to_owned(),
            from,
            started_ms: now_ms,
            finished_ms: None,
            steps: BackStep::ALL.iter().map(|s| StepRecord::new(*s)).collect(),
            reversed: false,
        }
    }

    pub fn step(&self, id: BackStep) -> Option<&StepRecord<BackStep>> {
        self.steps.iter().find(|s| s.step == id)
    }

    /// The first rollback step that is not done or skipped.
    pub fn current(&self) -> Option<BackStep> {
        self.steps
            .iter()
            .find(|s| !s.status.settled())
            .map(|s| s.step)
    }
}

/// Everything the wizard knows about one migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationState {
    /// The migration's number in the store (0 until it is first saved): what a confirmation
    /// names, so that it never answers another migration.
    #[serde(default)]
    pub id: i64,
    pub database: String,
    pub path: Option<Path>,
    pub hsm_module: Option<String>,
    pub token: Option<String>,
    pub hsm_user: Option<String>,
    /// WALLET_ROOT as the database reported it.
    #[serde(default)]
    pub wallet_root: Option<String>,
    /// TDE_CONFIGURATION's KEYSTORE_CONFIGURATION at the first step ("" when not set): what a
    /// rollback sets back.
    #[serde(default)]
    pub configuration_before: Option<String>,
    /// Labels of the master keys on the token at the first step, as earlier versions
    /// recorded them; no longer written (other databases' keys on a shared HSM made a
    /// comparison with it wrong). Read only to leave those keys out of orphan notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot: Vec<String>,
    /// The key ids V$ENCRYPTION_KEYS listed at the first step: the migration's key is the
    /// active HSM key not among them, looked up on the token by the label its id gives.
    #[serde(default)]
    pub keys_before: Vec<String>,
    /// The master key the migration made, once verified.
    pub new_key: Option<String>,
    pub backup: Option<BackupRecord>,
    /// The audit log's seq when the migration began.
    pub first_seq: Option<i64>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub steps: Vec<StepRecord>,
    /// Path B: the master key was brought back from the other HSM to the file wallet.
    #[serde(default)]
    pub other_hsm_reversed: bool,
    /// Path B: the master keys on the other HSM (the current one and the older ones
    /// V$ENCRYPTION_KEYS showed there at steps 1 and 2). Backups and archived redo made before
    /// the migration need them: that HSM must stay reachable for the recovery window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub old_hsm_keys: Vec<String>,
    /// Present once a person chose to roll the migration back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
}

impl MigrationState {
    pub fn new(database: &str, now_ms: i64) -> Self {
        Self {
            id: 0,
            database: database.to_owned(),
            path: None,
            hsm_module: None,
            token: None,
            hsm_user: None,
            wallet_root: None,
            configuration_before: None,
            snapshot: Vec::new(),
            keys_before: Vec::new(),
            new_key: None,
            backup: None,
            first_seq: None,
            started_ms: now_ms,
            finished_ms: None,
            steps: StepId::ALL.iter().map(|s| StepRecord::new(*s)).collect(),
            other_hsm_reversed: false,
            old_hsm_keys: Vec::new(),
            rollback: None,
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

    /// Whether anything was sent to the database that changes it (from step 7 on: TDE_CONFIGURATION HSM|FILE): before
    /// that, nothing needs rolling back.
    pub fn changed_the_database(&self) -> bool {
        self.steps
            .iter()
            .filter(|s| s.step.number() >= StepId::HsmFile.number())
            .any(|s| !s.sent.is_empty())
    }

    /// Whether a migrate statement may have run: one was sent and Oracle did not refuse it (or
    /// its answer was never seen).
    pub fn migrate_may_have_run(&self) -> bool {
        self.step(StepId::Migrate).is_some_and(|s| {
            s.sent.iter().any(|x| {
                x.answer
                    .as_deref()
                    .is_none_or(|a| !(a.starts_with("ORA-") || a.starts_with("not run")))
            })
        })
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
        for id in [StepId::FromOtherHsm, StepId::HsmClient] {
            if let Some(s) = m.step_mut(id) {
                s.status = StepStatus::Skipped;
                s.reason = Some("not this path".into());
            }
        }
        assert_eq!(m.current(), Some(StepId::OracleLibrary));
        let json = serde_json::to_string(&m).unwrap();
        let back: MigrationState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(!m.finished());
    }
}
