//! The steps: each reads the database and the HSM, acts when it must, and checks again.

mod auto_login;
mod host_steps;
mod in_flight;
mod keystore;
mod per_host;
mod privileges;
mod reverse;
mod rollback;
mod standbys;
mod start;
mod wallet;

pub(crate) use auto_login::auto_login_requests;
pub(crate) use reverse::keep_old_hsm;
pub(super) use rollback::run_back;
pub(crate) use standbys::todo as standby_todo;

use super::state::{Check, StepStatus};
use super::wizard::Wizard;
use super::{Context, MigrationError, Need, StepId};
use crate::audit::Auditor;
use crate::model::ConnectorKind;
use crate::tde::ora;
use crate::tde::request::{ParameterName, Reply, Request};
use crate::tde::views::{KeyRow, WalletRow, WrlType};

/// What one run of a step found.
pub(super) struct StepResult {
    pub status: StepStatus,
    pub reason: Option<String>,
    pub todo: Vec<String>,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    pub needs: Vec<Need>,
}

impl StepResult {
    pub fn done(checks: Vec<Check>) -> Self {
        Self::with(StepStatus::Done, None, checks)
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::with(StepStatus::Skipped, Some(reason.into()), Vec::new())
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Self::with(StepStatus::Failed, Some(reason.into()), Vec::new())
    }

    /// A person must act; `todo` says how, `needs` what to give back.
    pub fn attention(reason: impl Into<String>, todo: Vec<String>, needs: Vec<Need>) -> Self {
        let mut r = Self::with(StepStatus::NeedsAttention, Some(reason.into()), Vec::new());
        r.todo = todo;
        r.needs = needs;
        r
    }

    /// Waits for inputs (passwords) the person has not given yet.
    pub fn needs(reason: impl Into<String>, needs: Vec<Need>) -> Self {
        Self::attention(reason, Vec::new(), needs)
    }

    fn with(status: StepStatus, reason: Option<String>, checks: Vec<Check>) -> Self {
        Self {
            status,
            reason,
            todo: Vec::new(),
            checks,
            notes: Vec::new(),
            needs: Vec::new(),
        }
    }

    /// Done when every check passes, else failed with the first failure as the reason.
    pub fn from_checks(checks: Vec<Check>) -> Self {
        match checks.iter().find(|c| !c.passes()) {
            None => Self::done(checks),
            Some(c) => {
                let reason = format!("{}: {}", c.what, c.detail);
                Self::with(StepStatus::Failed, Some(reason), checks)
            }
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

pub(super) fn run(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    step: StepId,
    unknown: bool,
    waiting: bool,
) -> Result<StepResult, MigrationError> {
    match step {
        StepId::Choose => start::choose(w, a, ctx),
        StepId::FromOtherHsm => reverse::from_other_hsm(w, a, ctx, waiting),
        StepId::HsmClient => host_steps::hsm_client(w, ctx),
        StepId::OracleLibrary => host_steps::oracle_library(w, ctx),
        StepId::WalletConfig => wallet::wallet_config(w, a, ctx),
        StepId::Backup => wallet::backup(w, a, ctx),
        StepId::HsmFile => keystore::hsm_file(w, a, ctx, unknown),
        StepId::FileOpen => keystore::file_open(w, a, ctx),
        StepId::Migrate => keystore::migrate(w, a, ctx, unknown),
        StepId::Verify => keystore::verify(w, a, ctx),
        StepId::AutoLogin => auto_login::auto_login(w, a, ctx),
        StepId::Done => keystore::done(w, a),
    }
}

/// Oracle's refusal as a sentence, with what it usually means.
pub(super) fn refusal(reply: &Reply) -> Option<String> {
    ora::refusal(reply)
}

fn refused(reply: &Reply) -> MigrationError {
    MigrationError::Invalid(refusal(reply).unwrap_or_else(|| {
        format!(
            "The database answered {} where rows were expected.",
            reply.summary()
        )
    }))
}

/// V$ENCRYPTION_WALLET, typed.
pub(super) fn wallet_rows(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<Vec<WalletRow>, MigrationError> {
    match w.query(a, ctx, &Request::QueryWallet)? {
        Reply::Rows { rows } => rows
            .iter()
            .map(|r| WalletRow::from_row(r).map_err(|e| MigrationError::Invalid(e.to_string())))
            .collect(),
        other => Err(refused(&other)),
    }
}

/// V$ENCRYPTION_KEYS, typed.
pub(super) fn key_rows(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<Vec<KeyRow>, MigrationError> {
    match w.query(a, ctx, &Request::QueryKeys)? {
        Reply::Rows { rows } => rows
            .iter()
            .map(|r| KeyRow::from_row(r).map_err(|e| MigrationError::Invalid(e.to_string())))
            .collect(),
        other => Err(refused(&other)),
    }
}

/// A parameter's value ("" when not set).
pub(super) fn parameter(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    p: ParameterName,
) -> Result<String, MigrationError> {
    match w.query(a, ctx, &Request::ShowParameter(p))? {
        Reply::Parameter { parameter } => Ok(parameter.value.trim().to_owned()),
        other => Err(refused(&other)),
    }
}

/// The KEYSTORE_CONFIGURATION of TDE_CONFIGURATION, upper case ("" when not set).
pub(super) fn keystore_configuration(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<String, MigrationError> {
    let v = parameter(w, a, ctx, ParameterName::TdeConfiguration)?;
    Ok(v.to_ascii_uppercase()
        .trim_start_matches("KEYSTORE_CONFIGURATION=")
        .trim()
        .to_owned())
}

/// Which keystore is primary in the root (or the non-CDB). Oracle's reference says
/// WALLET_ORDER is PRIMARY and SECONDARY when two keystores are configured; the only published
/// HSM+FILE outputs (hand-edited by their authors, tests/fixtures/oracle/wallet/) show SINGLE on
/// both rows. Both are read: a row that says PRIMARY wins, else the first row, since the rows
/// follow KEYSTORE_CONFIGURATION's order.
pub(super) fn primary_of(rows: &[WalletRow]) -> Option<WrlType> {
    let root = || rows.iter().filter(|r| r.con_id <= 1);
    root()
        .find(|r| r.wallet_order == crate::tde::views::WalletOrder::Primary)
        .or_else(|| root().next())
        .map(|r| r.wrl_type)
}

pub(super) fn row_of(rows: &[WalletRow], kind: WrlType) -> Option<&WalletRow> {
    rows.iter().find(|r| r.con_id <= 1 && r.wrl_type == kind)
}

/// Whether the profile is a CDB (statements then name CONTAINER = ALL).
pub(super) fn cdb(w: &Wizard) -> bool {
    w.db.multitenant != crate::model::Multitenant::NonCdb
}

pub(super) fn is_rehearsal(w: &Wizard) -> bool {
    w.db.connector == ConnectorKind::Rehearsal
}

/// How the person restarts the database: srvctl on RAC, SQL*Plus otherwise; a Rehearsal's
/// simulated database is restarted when the person confirms.
pub(super) fn restart_commands(w: &Wizard) -> Vec<String> {
    if is_rehearsal(w) {
        vec!["Rehearsal: confirming that the restart is done restarts its simulated database, as you would restart a real one with SHUTDOWN IMMEDIATE and STARTUP.".into()]
    } else if w.db.rac {
        vec![
            "srvctl stop database -d <db_unique_name>".into(),
            "srvctl start database -d <db_unique_name>".into(),
        ]
    } else {
        vec!["sqlplus / as sysdba  then  SHUTDOWN IMMEDIATE  and  STARTUP".into()]
    }
}
