//! The migration wizard, as a workflow: a database's TDE master key from its software keystore
//! to the HSM, step by step, each step checked on the database side (V$ views, parameters) and
//! on the HSM side (PKCS#11 inventory) before it is marked done. The window and the command
//! line are two front ends of it.
//!
//! The state of a migration lives in the `migrations` table, saved before and after every
//! statement, so closing the window or a crash resumes at the same place; a statement whose
//! answer was never seen makes its step *unknown*, and the step reads the database and the HSM
//! again before anything is sent. A lease keeps two processes from driving one migration.
//! Every step's run, every override and the migration's start and end are audited.

mod begin;
mod host;
mod host_output;
mod hosts;
mod lease;
mod plan;
mod preview;
mod relocate;
mod report;
mod report_check;
mod state;
mod steps;
mod wizard;
pub use lease::{
    Holder, LEASE_SETTING, holder_gone, parse_holder, process_start_time, stat_start_time,
};
pub(crate) use lease::{lease_ms, owner as lease_owner};

pub use plan::{BackStep, StepId};
pub use preview::{auto_login_statements, back_statements, statements};
pub use report::{Report, report, write_report};
pub use report_check::ChainCheck;
pub use state::{Check, HostResult, MigrationState, Path, Rollback, StepRecord, StepStatus};

use crate::audit::AuditError;
use crate::databases::DatabaseError;
use crate::hsm::{Hsm, HsmError};
use crate::model::{PinFormat, Retry};
use crate::oracle::{Operator, OracleError};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session::SessionError;
use crate::store::StoreError;
use serde::Serialize;

/// Why the wizard could not go on.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Oracle(#[from] OracleError),
    #[error(
        "Another tdekey ({owner}) is driving the migration of {database} until {until}. Wait for it to finish, or close it; a lease that is not renewed ends by itself."
    )]
    Busy {
        database: String,
        owner: String,
        until: String,
    },
    #[error("No migration of {0} has been started: run its first step.")]
    NotStarted(String),
    #[error(
        "The migration of {database} (number {id}) is finished{key}: status, report and rollback speak of it, and running the wizard again does not start another. To start a new migration of {database}, run `tdekey migrate start {database:?} --new` (or \"Start a new migration\" in the window)."
    )]
    Finished {
        database: String,
        id: i64,
        /// ", with master key …" when it made one.
        key: String,
    },
    #[error(
        "You confirmed {confirmed} of {database}, but the migration now stands at {now} (another tdekey, or another window, moved it on): nothing was run. Look at the migration again and confirm what it shows now."
    )]
    Moved {
        database: String,
        confirmed: String,
        now: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl MigrationError {
    pub fn retry(&self) -> Retry {
        match self {
            MigrationError::Audit(e) => e.retry(),
            MigrationError::Store(e) => e.retry(),
            MigrationError::Database(e) => e.retry(),
            MigrationError::Session(e) => e.retry(),
            MigrationError::Hsm(e) => e.retry(),
            MigrationError::Oracle(e) => e.retry(),
            MigrationError::Busy { .. } => Retry::Yes,
            MigrationError::NotStarted(_)
            | MigrationError::Invalid(_)
            | MigrationError::Finished { .. } => Retry::AfterFix,
            MigrationError::Moved { .. } => Retry::CheckFirst,
        }
    }
}

/// What the person gives the current step. Passwords are asked by the step that needs them,
/// used once and dropped.
#[derive(Default)]
pub struct Inputs {
    pub hsm_password: Option<Secret>,
    pub wallet_password: Option<Secret>,
    pub backup_passphrase: Option<Secret>,
    /// The person says that what the step asked is done (a restart, a backup on the host).
    pub confirmed: bool,
    /// Apply the step's fix where tdekey can (the Rehearsal's simulated host).
    pub apply_fix: bool,
    /// Back up the wallet without encryption: an explicit choice.
    pub unencrypted_backup: bool,
    /// Set up HSM auto-login at the optional step 11 (the HSM_PASSWORD secret in the software
    /// keystore, made auto-login).
    pub auto_login: bool,
    /// Also keep the HSM password in the external store (WALLET_ROOT/tde_seps) at step 11, so
    /// statements can say IDENTIFIED BY EXTERNAL STORE. It opens nothing at start-up by itself.
    pub external_store: bool,
    /// The tag of the wallet backup Oracle makes while migrating.
    pub tag: Option<String>,
    /// Path B: the user of the HSM the database uses now (not this one).
    pub old_hsm_user: Option<String>,
    /// Path B: that user's password.
    pub old_hsm_password: Option<Secret>,
    /// Path B: the HSM the database uses now takes a password only, no user name (some
    /// vendors' Oracle guides write `IDENTIFIED BY "<password>"`): `old_hsm_user` is not asked.
    pub old_hsm_password_only: bool,
    /// What the person pasted from the database host (the output of the command a step shows
    /// when tdekey does not run there).
    pub host_output: Option<String>,
    /// The migration and step the person confirmed (the window's "Run step N?", `--step N`):
    /// the run goes ahead only while they are still the current ones.
    pub expect: Option<Expected>,
}

/// What a person confirmed: a run goes ahead only while the migration and its current step are
/// still these, so a confirmation answers one step and never the one after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The migration the person saw (its number); none when none had been started.
    pub migration: Option<i64>,
    pub step: ExpectedStep,
}

/// The step a person confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedStep {
    /// A step of the plan.
    Plan(StepId),
    /// A step of the rollback.
    Back(BackStep),
    /// The start of the rollback (none is under way yet).
    StartRollback,
}

impl ExpectedStep {
    /// "step 8 (…)", "rollback step R2 (…)", "the start of the rollback".
    pub fn describe(self) -> String {
        match self {
            ExpectedStep::Plan(s) => format!("step {} ({})", s.number(), s.title()),
            ExpectedStep::Back(b) => format!("rollback step R{} ({})", b.number(), b.title()),
            ExpectedStep::StartRollback => "the start of the rollback".into(),
        }
    }
}

/// What a step needs before it can go on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    HsmPassword,
    WalletPassword,
    BackupPassphrase,
    /// Path B: the user and password of the HSM the database uses now.
    OldHsmCredential,
    /// The output of the command in `todo`, run on the database host and pasted back.
    HostOutput,
    /// A person must do something (shown in `todo`) and then confirm.
    Confirmation,
    /// tdekey can apply the fix itself (the Rehearsal's simulated host) when asked.
    Fix,
}

/// How a database and its HSM are reached for the wizard.
pub struct Context<'a> {
    pub data: &'a DataDir,
    /// The HSM session the migration uses (logged in as Oracle's crypto user).
    pub hsm: &'a mut Hsm,
    /// Manual: the DBA who runs statements and pastes their output.
    pub operator: Option<&'a mut dyn Operator>,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    pub pin_format: PinFormat,
    pub inputs: Inputs,
}

/// Where the wizard stands after running a step.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub database: String,
    /// The plan's step (during a rollback: where the rollback began).
    pub step: StepId,
    /// During a rollback: its step.
    pub back: Option<BackStep>,
    pub status: StepStatus,
    /// What happened, or why it stopped, in a sentence or two.
    pub message: String,
    /// What a person must do, with the exact commands.
    pub todo: Vec<String>,
    pub needs: Vec<Need>,
    /// The step's checks, passed or not.
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// Oracle refused a statement of this step (an ORA- answer).
    pub refused: bool,
    pub finished: bool,
}

impl MigrationState {
    /// What the last run of the current step (of the rollback while there is one) found, as
    /// it was saved: what a window opened later shows and offers, without running it again.
    pub fn last_progress(&self) -> Option<Progress> {
        fn of<S>(r: &StepRecord<S>, title: &str) -> Option<Progress> {
            (r.attempts > 0).then(|| Progress {
                database: String::new(),
                step: StepId::Done,
                back: None,
                status: r.status,
                message: r
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("{title}: {}.", r.status.as_str())),
                todo: r.todo.clone(),
                needs: r.needs.clone(),
                checks: r.checks.clone(),
                notes: r.notes.clone(),
                refused: false,
                finished: false,
            })
        }
        let mut p = match &self.rollback {
            Some(rb) => {
                let b = rb.current()?;
                let mut p = of(rb.step(b)?, b.title())?;
                p.step = rb.from.unwrap_or(StepId::Done);
                p.back = Some(b);
                p
            }
            None => {
                let s = self.current()?;
                let mut p = of(self.step(s)?, s.title())?;
                p.step = s;
                p
            }
        };
        p.database = self.database.clone();
        Some(p)
    }
}

/// Where a database stands with tdekey's migrations, as its list in the window shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// tdekey never migrated it (where its master key is, only the database says).
    NotMigrated,
    /// A migration is under way, at this step.
    Migrating(StepId),
    /// A rollback is under way, at this step.
    RollingBack(BackStep),
    /// Its last migration finished: the master key is on the HSM.
    OnHsm,
    /// Its last migration was rolled back: the master key is in the file wallet.
    RolledBack,
}

impl Standing {
    /// From the database's latest migration.
    pub fn of(state: Option<&MigrationState>) -> Self {
        let Some(s) = state else {
            return Standing::NotMigrated;
        };
        match (&s.rollback, s.current()) {
            (Some(r), _) => r
                .current()
                .map_or(Standing::RolledBack, Standing::RollingBack),
            (None, Some(step)) => Standing::Migrating(step),
            (None, None) => Standing::OnHsm,
        }
    }

    /// Whether a migration or its rollback is under way.
    pub fn in_progress(self) -> bool {
        matches!(self, Standing::Migrating(_) | Standing::RollingBack(_))
    }

    /// "migrating: step 7", "on the HSM", "file wallet (rolled back)".
    pub fn describe(self) -> String {
        match self {
            Standing::NotMigrated => "not migrated yet".into(),
            Standing::Migrating(s) => format!("migrating: step {}", s.number()),
            Standing::RollingBack(b) => format!("rolling back: R{}", b.number()),
            Standing::OnHsm => "on the HSM".into(),
            Standing::RolledBack => "file wallet (rolled back)".into(),
        }
    }
}

/// Where each of these databases stands (read from their latest migrations).
pub fn standings(
    a: &crate::audit::Auditor,
    databases: &[String],
) -> Result<std::collections::BTreeMap<String, Standing>, MigrationError> {
    databases
        .iter()
        .map(|d| Ok((d.clone(), Standing::of(status(a, d)?.as_ref()))))
        .collect()
}

/// The plan of a database's migration and each step's state (none when never started).
pub fn status(
    a: &crate::audit::Auditor,
    database: &str,
) -> Result<Option<MigrationState>, MigrationError> {
    wizard::load(a, database)
}

/// Runs the next step of a database's migration (starting one if none is under way).
pub fn next(
    a: &mut crate::audit::Auditor,
    ctx: &mut Context<'_>,
    database: &str,
) -> Result<Progress, MigrationError> {
    wizard::Wizard::open(a, database, ctx.inputs.expect)?.next(a, ctx)
}

/// The earlier migrations of a database (finished, rolled back or abandoned; every one but
/// the latest), newest first, as they were left: the window shows them read-only.
pub fn past(
    a: &crate::audit::Auditor,
    database: &str,
) -> Result<Vec<MigrationState>, MigrationError> {
    a.store()
        .migrations_of(database)?
        .iter()
        .skip(1)
        .map(wizard::parse)
        .collect()
}

/// Starts a new migration of a database without running a step (audited). Refused while one is
/// under way. After a finished migration only with `replacing` naming it (the person saw it and
/// chose to leave it behind: status, report and rollback then speak of the new one); after a
/// rolled-back migration, or none, it simply starts.
pub fn start(
    a: &mut crate::audit::Auditor,
    database: &str,
    replacing: Option<i64>,
) -> Result<MigrationState, MigrationError> {
    begin::start(a, database, replacing)?;
    wizard::load(a, database)?.ok_or_else(|| MigrationError::NotStarted(database.to_owned()))
}

/// Runs the current step (the one the person confirmed), then goes on through the steps after
/// it only while they do not apply and are skipped without sending anything (path A's step 2,
/// step 3 with an HSM other than CloudHSM): a click answers one step, and a step that may send a
/// statement waits for its own. Stops where a step waits for a person, fails, or at the end.
pub fn run(
    a: &mut crate::audit::Auditor,
    ctx: &mut Context<'_>,
    database: &str,
) -> Result<Vec<Progress>, MigrationError> {
    let mut done = Vec::new();
    loop {
        let p = next(a, ctx, database)?;
        // A confirmation answers the step it was given for, not the ones after it.
        if p.status.settled() {
            ctx.inputs.expect = None;
            ctx.inputs.confirmed = false;
        }
        let mut go_on = p.status.settled() && !p.finished;
        done.push(p);
        if go_on {
            let state = status(a, database)?;
            go_on = state.as_ref().is_some_and(|s| {
                s.current()
                    .is_some_and(|n| preview::skipped_alone(s, n, ctx.hsm.module_path()).is_some())
            });
        }
        if !go_on {
            return Ok(done);
        }
    }
}

/// Starts (with the person's reason) or goes on with the rollback of a database's migration:
/// runs its current step, then the steps after it only while they do not apply and settle
/// without sending or changing anything (nothing to reverse when the migrate statement never
/// ran). Stops where a step waits for a person, fails, may send a statement, or at the end.
pub fn rollback(
    a: &mut crate::audit::Auditor,
    ctx: &mut Context<'_>,
    database: &str,
    reason: Option<&str>,
) -> Result<Vec<Progress>, MigrationError> {
    let mut done = Vec::new();
    let mut reason = reason;
    loop {
        let p = rollback_next(a, ctx, database, reason.take())?;
        // A confirmation answers the step it was given for, not the ones after it.
        if p.status.settled() {
            ctx.inputs.expect = None;
            ctx.inputs.confirmed = false;
        }
        let mut go_on = p.status.settled() && !p.finished;
        done.push(p);
        if go_on {
            let state = status(a, database)?;
            go_on = state.as_ref().is_some_and(|s| {
                s.rollback
                    .as_ref()
                    .and_then(Rollback::current)
                    .is_some_and(|b| preview::back_settles_alone(s, b))
            });
        }
        if !go_on {
            return Ok(done);
        }
    }
}

/// Starts the rollback (with the person's reason) or runs its current step, once.
pub fn rollback_next(
    a: &mut crate::audit::Auditor,
    ctx: &mut Context<'_>,
    database: &str,
    reason: Option<&str>,
) -> Result<Progress, MigrationError> {
    wizard::Wizard::resume_for_rollback(a, database, ctx.inputs.expect)?.back(a, ctx, reason)
}

/// Accepts the failed checks of the current step with a reason (audited, and in the report),
/// and marks the step done.
pub fn override_step(
    a: &mut crate::audit::Auditor,
    database: &str,
    reason: &str,
) -> Result<Progress, MigrationError> {
    wizard::Wizard::resume(a, database)?.override_current(a, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_opened_later_sees_what_the_current_step_waits_for() {
        let mut m = MigrationState::new("ORCL", 1);
        assert!(m.last_progress().is_none(), "nothing ran yet");
        for s in &mut m.steps {
            if s.step.number() < StepId::HsmFile.number() {
                s.status = StepStatus::Done;
            }
        }
        let rec = m.step_mut(StepId::HsmFile).unwrap();
        rec.status = StepStatus::NeedsAttention;
        rec.attempts = 1;
        rec.reason = Some("Restart the database".into());
        rec.needs = vec![Need::Confirmation];
        rec.todo = vec!["SHUTDOWN IMMEDIATE".into()];
        let p = m.last_progress().unwrap();
        assert_eq!((p.step, p.back), (StepId::HsmFile, None));
        assert_eq!(p.needs, [Need::Confirmation]);
        assert_eq!(p.message, "Restart the database");
        assert_eq!(p.database, "ORCL");

        m.rollback = Some(Rollback::new("a reason", Some(StepId::HsmFile), 2));
        assert!(
            m.last_progress().is_none(),
            "the rollback's first step never ran"
        );
        let r = m.rollback.as_mut().unwrap();
        r.steps[0].attempts = 1;
        r.steps[0].status = StepStatus::NeedsAttention;
        r.steps[0].needs = vec![Need::Confirmation];
        let p = m.last_progress().unwrap();
        assert_eq!(p.back, Some(BackStep::FileFirst));
        assert_eq!(p.needs, [Need::Confirmation]);
    }
}
