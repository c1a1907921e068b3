//! One rotation of a database's master key, either way, with the same verification on both
//! sides at the end, recorded in `rotation_runs` and audited.
//!
//! Phases: `check` (the HSM keystore open and primary, the active keys read from
//! V$ENCRYPTION_KEYS and found on the token), `generate` (way hsm: a new key, or the key a
//! failed run left unused), `activate` (USE KEY or SET KEY), `verify` (the new key active for
//! every container concerned, its label on the token, healthy, the previous key still there).

use super::{RotationError, Schedule, Trigger, Way, who};
use crate::audit::{Action, Auditor, Outcome};
use crate::databases;
use crate::hsm::Hsm;
use crate::inventory::InventoryRow;
use crate::model::{DatabaseProfile, PinFormat, now_ms};
use crate::oracle::Operator;
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::store::{Claim, RunRow};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// How a database and its HSM are reached for a rotation.
pub struct Context<'a> {
    pub data: &'a DataDir,
    /// The HSM session, logged in as Oracle's crypto user.
    pub hsm: &'a mut Hsm,
    /// Manual: the DBA who runs statements and pastes their output.
    pub operator: Option<&'a mut dyn Operator>,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    pub pin_format: PinFormat,
    /// The crypto user's password, for the statement's `IDENTIFIED BY "<user>:<password>"`.
    pub hsm_password: Secret,
}

/// What the person (or the schedule) asks for.
#[derive(Clone, Debug)]
pub struct RotateRequest {
    /// Else the policy's way, else [`Way::default_for`] the database.
    pub way: Option<Way>,
    pub tag: Option<String>,
    pub trigger: Trigger,
    /// Why (required for a suspected compromise).
    pub reason: Option<String>,
    /// Only if the database's policy is due at this instant (decided with the claim).
    pub only_if_due_at: Option<i64>,
    /// Way hsm: a key generated beforehand (Keys › Generate, `tdekey key generate`), by its
    /// label, activated instead of a new one; it must be healthy and claimed by no database.
    pub key: Option<String>,
}

impl RotateRequest {
    pub fn manual(way: Option<Way>, tag: Option<String>) -> Self {
        Self {
            way,
            tag,
            trigger: Trigger::Manual,
            reason: None,
            only_if_due_at: None,
            key: None,
        }
    }
}

/// One check of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub(super) fn new(what: impl Into<String>, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub database: String,
    pub way: Way,
    pub trigger: Trigger,
    /// `success` or `failure`.
    pub outcome: String,
    pub old_keys: Vec<String>,
    pub new_keys: Vec<String>,
    /// The key a failed run generated and this run used instead of making another.
    pub reused_key: Option<String>,
    /// A key generated and not activated, left for the next run.
    pub pending_key: Option<String>,
    pub checks: Vec<Check>,
    pub failed_step: Option<String>,
    /// In what state a failed run left the database and the HSM.
    pub state_left: Option<String>,
    pub message: String,
    pub notes: Vec<String>,
    /// Oracle refused a statement (an ORA- answer).
    pub refused: bool,
    /// The policy's new due date, after a successful run.
    pub next_due_ms: Option<i64>,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        self.outcome == "success"
    }
}

/// Why a run stopped: the phase, what happened, and the state it left.
pub(super) struct Stop {
    pub step: &'static str,
    pub message: String,
    pub state_left: String,
    pub refused: bool,
}

pub(super) const UNCHANGED: &str =
    "Nothing was changed: the database and the HSM are as they were.";

pub(super) fn stop(
    step: &'static str,
    message: impl Into<String>,
    state: impl Into<String>,
) -> Stop {
    Stop {
        step,
        message: message.into(),
        state_left: state.into(),
        refused: false,
    }
}

/// A run under way.
pub(super) struct Run<'d> {
    pub db: &'d DatabaseProfile,
    pub way: Way,
    pub tag: Option<String>,
    pub row: RunRow,
    pub owner: String,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    /// Active key label per container (name), before.
    pub old: BTreeMap<String, String>,
    pub new_keys: Vec<String>,
    pub reused: Option<String>,
    /// The generated key as read back (way hsm).
    pub generated: Option<InventoryRow>,
    /// The token's master keys before SET KEY (way oracle).
    pub before: Vec<String>,
    /// The objects found under each previous key's label in `check`.
    pub old_refs: BTreeMap<String, Vec<crate::hsm::ObjectRef>>,
    /// The HSM keys V$ENCRYPTION_KEYS showed in `check` (labels, every container, active or
    /// not).
    pub seen: Vec<String>,
}

/// What a run was about to do, stored in its row before it did it, so that the run after a
/// crash finds what the stopped one made instead of making another.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(super) struct Intent {
    /// Way hsm: the label of the key about to be generated (its id drawn from
    /// C_GenerateRandom), recorded before C_GenerateKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<String>,
    /// Way oracle: SET KEY is about to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_key: Option<SetKeyIntent>,
}

/// The keys seen before SET KEY.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(super) struct SetKeyIntent {
    /// The HSM keys V$ENCRYPTION_KEYS showed (labels).
    pub keys_before: Vec<String>,
    /// The TDE master keys on the token, where they were listed.
    #[serde(default)]
    pub token_before: Vec<String>,
}

impl Intent {
    pub(super) fn parse(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// Rotates the master key of `database` (see the module's phases). A run that starts always
/// ends in a [`RunReport`], success or failure; errors are for runs that could not start
/// (another process rotating it, not due, a profile tdekey cannot rotate, the audit log).
pub fn rotate(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    database: &str,
    req: &RotateRequest,
) -> Result<RunReport, RotationError> {
    let db = databases::get(a, database)?;
    let policy = a.store().rotation_policy(&db.name)?;
    let schedule = match &policy {
        Some(p) => Some(Schedule::from_text(&p.schedule)?),
        None => None,
    };
    let way = req
        .way
        .or_else(|| policy.as_ref().and_then(|p| Way::parse(&p.way)))
        .unwrap_or_else(|| Way::default_for(db.multitenant));
    if let Some(r) = way.refusal(&db.name, db.multitenant) {
        return Err(RotationError::Invalid(r));
    }
    if req.key.is_some() && way != Way::Hsm {
        return Err(RotationError::Invalid(
            "A key generated beforehand is activated with USE KEY, the hsm way; with the oracle way Oracle makes the key itself. Choose the hsm way, or no key.".into(),
        ));
    }
    let reason = req.reason.as_deref().map(str::trim).unwrap_or("");
    if req.trigger == Trigger::Compromise && reason.len() < 10 {
        return Err(RotationError::Invalid(
            "Write why the key may be compromised (at least a sentence): it goes in the audit log and the run's record.".into(),
        ));
    }
    if db.connector == crate::model::ConnectorKind::Manual && ctx.operator.is_none() {
        return Err(RotationError::Invalid(format!(
            "{} uses the Manual connector: a person runs each statement and pastes its output, so it cannot be rotated unattended. Rotate it from the window or a terminal.",
            db.name
        )));
    }
    if !ctx.hsm.logged_in() {
        return Err(RotationError::Invalid(
            "Log in to the HSM as Oracle's crypto user first.".into(),
        ));
    }
    let owner = crate::migration::lease_owner();
    // How long the run's lease lasts without renewal: every save renews it, and a thread does
    // while the run waits (a person pasting an answer may take longer).
    let lease_ms = crate::migration::lease_ms(a.store());
    let token = ctx.hsm.token().map(|t| t.label.clone());
    let row = RunRow {
        reason: (!reason.is_empty()).then(|| reason.to_owned()),
        token_label: token,
        ..RunRow::new(
            &db.name,
            way.as_str(),
            req.trigger.as_str(),
            &who(ctx.hsm.user()),
        )
    };
    // On a shared store, the database lock first: held, it proves that whoever holds a running
    // run's lease has gone (wherever it ran); refused, another live process is rotating.
    let Some(mut keeper) =
        crate::store::LeaseKeeper::lock(a.store(), crate::store::LeaseKey::Rotation(&db.name))?
    else {
        let running = a.store().running_rotation(&db.name)?;
        return Err(RotationError::Busy {
            database: db.name.clone(),
            owner: running
                .as_ref()
                .and_then(|r| r.lock_owner.clone())
                .unwrap_or_else(|| "another tdekey using the shared store".to_owned()),
            until: crate::audit::export::utc(
                running
                    .as_ref()
                    .and_then(|r| r.lock_until_ms)
                    .unwrap_or_else(now_ms),
            ),
            since_ms: running.map(|r| r.started_ms),
        });
    };
    let locked = keeper.holds_lock();
    let id = match a.store_mut().claim_rotation(
        &row,
        &owner,
        now_ms() + lease_ms,
        req.only_if_due_at,
        &|holder| locked || crate::migration::holder_gone(holder),
    )? {
        Claim::Started(id) => id,
        Claim::NotDue => return Err(RotationError::NotDue(db.name.clone())),
        Claim::Busy { owner, until_ms } => {
            return Err(RotationError::Busy {
                database: db.name.clone(),
                owner,
                until: crate::audit::export::utc(until_ms),
                since_ms: a.store().running_rotation(&db.name)?.map(|r| r.started_ms),
            });
        }
    };
    keeper.renew(
        a.store(),
        crate::store::Leased::RotationRun(id),
        &owner,
        lease_ms,
    );
    let row = a
        .store()
        .rotation_run(id)?
        .ok_or_else(|| RotationError::Invalid("The run just started is missing.".into()))?;
    let target = format!("database {}", db.name);
    let user = ctx.hsm.user().map(str::to_owned);
    let mut run = Run {
        db: &db,
        way,
        tag: req.tag.clone().filter(|t| !t.trim().is_empty()),
        row,
        owner,
        checks: Vec::new(),
        notes: Vec::new(),
        old: BTreeMap::new(),
        new_keys: Vec::new(),
        reused: None,
        generated: None,
        before: Vec::new(),
        old_refs: BTreeMap::new(),
        seen: Vec::new(),
    };
    let started = a.record(
        Action::RotationRun,
        &target,
        Outcome::Started,
        user.as_deref(),
        json!({ "run": id, "way": way.as_str(), "trigger": req.trigger.as_str(), "reason": run.row.reason, "tag": run.tag, "token": run.row.token_label }),
    );
    let result = match &started {
        Ok(_) => phases(&mut run, a, ctx, req.key.as_deref()),
        Err(e) => Err(stop(
            "start",
            format!("The audit log could not record the start ({e}), so nothing was done."),
            UNCHANGED,
        )),
    };
    let (outcome, stopped) = match result {
        Ok(()) => ("success", None),
        Err(s) => ("failure", Some(s)),
    };
    // A schedule that cannot give a next date (validated when it was set, so only in theory)
    // leaves the due date as it was, said in a note, rather than the run unfinished.
    let next_due = match (&schedule, outcome) {
        (Some(s), "success") => match s.next_after(now_ms(), &super::local_zone()) {
            Ok(d) => Some(d),
            Err(e) => {
                run.notes
                    .push(format!("The next due date could not be computed: {e}"));
                None
            }
        },
        _ => None,
    };
    run.row.outcome = outcome.into();
    run.row.checks = serde_json::to_string(&run.checks).unwrap_or_else(|_| "[]".into());
    run.row.new_keys = serde_json::to_string(&run.new_keys).unwrap_or_else(|_| "[]".into());
    if let Some(s) = &stopped {
        run.row.failed_step = Some(s.step.into());
        run.row.state_left = Some(s.state_left.clone());
    }
    let finished = a
        .store_mut()
        .finish_rotation_run(&run.row, &run.owner, next_due)?;
    drop(keeper);
    if !finished {
        return Err(RotationError::Invalid(format!(
            "Run {id} of {} was closed by another tdekey while this one ran (its lease ran out); read the runs and V$ENCRYPTION_KEYS before rotating again.",
            db.name
        )));
    }
    let message = match &stopped {
        None => format!(
            "The master key of {} was rotated and verified: {}.",
            db.name,
            run.new_keys.join(", ")
        ),
        Some(s) => format!("Step {} failed: {}", s.step, s.message),
    };
    let report = RunReport {
        run_id: id,
        database: db.name.clone(),
        way,
        trigger: req.trigger,
        outcome: outcome.into(),
        old_keys: run.old.values().cloned().collect(),
        new_keys: run.new_keys.clone(),
        reused_key: run.reused.clone(),
        pending_key: run.row.pending_key.clone(),
        checks: run.checks.clone(),
        failed_step: stopped.as_ref().map(|s| s.step.to_owned()),
        state_left: stopped.as_ref().map(|s| s.state_left.clone()),
        message,
        notes: run.notes.clone(),
        refused: stopped.as_ref().is_some_and(|s| s.refused),
        next_due_ms: next_due,
    };
    if let Ok(started) = started {
        let o = if report.succeeded() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        a.record(
            Action::RotationRun,
            &target,
            o,
            user.as_deref(),
            json!({
                "started_seq": started.seq,
                "run": id,
                "way": way.as_str(),
                "trigger": req.trigger.as_str(),
                "reason": run.row.reason,
                "old_keys": report.old_keys,
                "new_keys": report.new_keys,
                "reused_key": report.reused_key,
                "pending_key": report.pending_key,
                "failed_step": report.failed_step,
                "state_left": report.state_left,
                "checks": report.checks,
                "message": report.message,
                "next_due_ms": next_due,
            }),
        )
        .map_err(|source| crate::audit::AuditError::Unrecorded {
            done: report.message.clone(),
            source,
        })?;
    }
    Ok(report)
}

fn phases(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    chosen: Option<&str>,
) -> Result<(), Stop> {
    use super::generate::{generate, use_chosen};
    use super::phases::{activate, check, verify};
    use super::recover::{Next, after_stop};
    check(run, a, ctx)?;
    let prev = a
        .store()
        .last_rotation_run(&run.db.name)
        .map_err(|e| stop("check", e.to_string(), UNCHANGED))?;
    match after_stop(run, a, ctx, prev)? {
        Next::Verify => return verify(run, a, ctx),
        Next::Generate(id) => {
            if let (Some(c), Some(k)) = (chosen, run.new_keys.first())
                && c != k
            {
                run.notes.push(format!(
                    "{c} was chosen and not used: a failed run left {k} generated and not active, and this run activates it first (one spare key less on the HSM). {c} stays unclaimed for a later rotation."
                ));
            }
            if run.way == Way::Hsm && run.new_keys.is_empty() {
                match chosen {
                    Some(label) => use_chosen(run, a, ctx, label)?,
                    None => generate(run, a, ctx, id)?,
                }
            }
        }
    }
    activate(run, a, ctx)?;
    verify(run, a, ctx)
}

/// Saves what the run found so far (an unsaved step is only lost detail: the outcome is
/// written when the run ends).
pub(super) fn save(run: &mut Run<'_>, a: &mut Auditor) {
    let _ = save_row(run, a);
}

fn save_row(run: &mut Run<'_>, a: &mut Auditor) -> Result<bool, crate::store::StoreError> {
    crate::faults::point(crate::faults::ROTATION_BEFORE_SAVE);
    run.row.old_keys =
        serde_json::to_string(&run.old.values().collect::<Vec<_>>()).unwrap_or_default();
    run.row.new_keys = serde_json::to_string(&run.new_keys).unwrap_or_default();
    run.row.checks = serde_json::to_string(&run.checks).unwrap_or_default();
    let lease = crate::migration::lease_ms(a.store());
    a.store()
        .save_rotation_run(&run.row, &run.owner, now_ms() + lease)
}

/// Records what the run is about to do (`intent`, audited as part of the run) before it does
/// it; when it cannot be recorded, nothing is done.
pub(super) fn save_intent(
    run: &mut Run<'_>,
    a: &mut Auditor,
    step: &'static str,
    intent: Intent,
) -> Result<(), Stop> {
    run.row.intent = serde_json::to_string(&intent).ok();
    match save_row(run, a) {
        Ok(true) => Ok(()),
        Ok(false) => Err(stop(
            step,
            format!(
                "Run {} of {} no longer holds its lease (another tdekey took it over): nothing more was done.",
                run.row.id, run.db.name
            ),
            UNCHANGED,
        )),
        Err(e) => Err(stop(
            step,
            format!(
                "What this run is about to do could not be recorded ({e}), so it was not done."
            ),
            UNCHANGED,
        )),
    }
}
