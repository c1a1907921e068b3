//! Driving one migration: its row and lease, saving the state around every statement, running
//! the current step and recording what it did.

use super::begin::{self, same_migration};
use super::state::{MigrationState, Rollback, Sent, StepRecord, StepStatus};
use super::steps::{self, StepResult};
use super::{BackStep, Context, Expected, MigrationError, Need, Progress, StepId, lease};
use crate::audit::{Action, Auditor, Entry, Outcome};
use crate::databases::{self, Ran, Reach};
use crate::model::{DatabaseProfile, now_ms};
use crate::oracle::Operator;
use crate::tde::request::{Reply, Request};
use serde_json::json;

/// Where a statement is recorded: a step of the plan or of the rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum At {
    Step(StepId),
    Back(BackStep),
}

impl From<StepId> for At {
    fn from(s: StepId) -> Self {
        At::Step(s)
    }
}

impl From<BackStep> for At {
    fn from(s: BackStep) -> Self {
        At::Back(s)
    }
}

/// Writes what a step's run found into its record.
fn settle<S>(rec: &mut StepRecord<S>, r: &StepResult) {
    rec.status = r.status;
    rec.reason = r.reason.clone();
    rec.todo = r.todo.clone();
    rec.needs = r.needs.clone();
    if !r.checks.is_empty() {
        rec.checks = r.checks.clone();
    }
    rec.notes.extend(r.notes.iter().cloned());
    if r.status.settled() {
        rec.finished_ms = Some(now_ms());
    }
}

pub(super) fn load(a: &Auditor, database: &str) -> Result<Option<MigrationState>, MigrationError> {
    let Some(row) = a.store().latest_migration(database)? else {
        return Ok(None);
    };
    parse(&row).map(Some)
}

pub(super) fn parse(row: &crate::store::MigrationRow) -> Result<MigrationState, MigrationError> {
    let mut state: MigrationState = serde_json::from_str(&row.state).map_err(|e| {
        MigrationError::Invalid(format!(
            "The stored state of this migration cannot be read ({e}); it was written by another version of tdekey."
        ))
    })?;
    state.id = row.id;
    Ok(state)
}

pub(super) struct Wizard {
    id: i64,
    owner: String,
    /// How long the lease lasts without renewal.
    lease_ms: i64,
    /// Renews the lease while this process works on the migration (a person pasting an answer
    /// may take longer than the lease).
    _keeper: crate::store::LeaseKeeper,
    pub(super) db: DatabaseProfile,
    pub(super) state: MigrationState,
}

impl Wizard {
    /// The active migration of `database`, or a new one when none was started or the last
    /// was rolled back; with its lease. A finished migration stays the database's migration:
    /// only [`super::start`] with its number leaves it behind.
    pub(super) fn open(
        a: &mut Auditor,
        database: &str,
        expect: Option<Expected>,
    ) -> Result<Self, MigrationError> {
        if a.store().active_migration(database)?.is_none() {
            let latest = a.store().latest_migration(database)?;
            if let Some(r) = latest.as_ref().filter(|r| r.status == "done") {
                same_migration(database, expect, Some(r.id))?;
                return Err(begin::finished(r)?);
            }
            // A confirmation given for a migration that ended: nothing new starts.
            if let Err(e) = same_migration(database, expect, None) {
                return Err(match (e, &latest) {
                    (MigrationError::Moved { confirmed, .. }, Some(r)) => MigrationError::Moved {
                        database: database.to_owned(),
                        confirmed,
                        now: format!("migration number {} ({})", r.id, r.status),
                    },
                    (e, _) => e,
                });
            }
            begin::insert(a, database, latest.as_ref())?;
        }
        Self::resume(a, database)
    }

    /// The active migration of `database`, with its lease.
    pub(super) fn resume(a: &mut Auditor, database: &str) -> Result<Self, MigrationError> {
        let row = a
            .store()
            .active_migration(database)?
            .ok_or_else(|| MigrationError::NotStarted(database.to_owned()))?;
        Self::lease(a, database, row)
    }

    /// Takes `row`'s lease for this process (a lease held by a process of this host that is
    /// gone is taken over) and loads its state.
    fn lease(
        a: &mut Auditor,
        database: &str,
        row: crate::store::MigrationRow,
    ) -> Result<Self, MigrationError> {
        let owner = lease::owner();
        let lease_ms = lease::lease_ms(a.store());
        // On a shared store, the database lock first: held, it proves that the lease's holder
        // (wherever it ran) is gone; refused, another live process drives this migration.
        let Some(mut keeper) = crate::store::LeaseKeeper::lock(
            a.store(),
            crate::store::LeaseKey::Migration(database),
        )?
        else {
            return Err(MigrationError::Busy {
                database: database.to_owned(),
                owner: row
                    .lock_owner
                    .clone()
                    .unwrap_or_else(|| "another tdekey using the shared store".to_owned()),
                until: crate::audit::export::utc(row.lock_until_ms.unwrap_or_else(now_ms)),
            });
        };
        let steal =
            keeper.holds_lock() || row.lock_owner.as_deref().is_some_and(lease::holder_gone);
        if let Some(held) =
            a.store_mut()
                .lease_migration(row.id, &owner, now_ms() + lease_ms, steal)?
        {
            return Err(MigrationError::Busy {
                database: database.to_owned(),
                owner: held.owner,
                until: crate::audit::export::utc(held.until_ms),
            });
        }
        keeper.renew(
            a.store(),
            crate::store::Leased::Migration(row.id),
            &owner,
            lease_ms,
        );
        let wizard = Self {
            id: row.id,
            owner,
            lease_ms,
            _keeper: keeper,
            db: databases::get(a, database)?,
            state: parse(&row)?,
        };
        Ok(wizard)
    }

    /// The migration to roll back: the active one, or else the newest if it finished (a
    /// finished migration can be rolled back too); with its lease.
    pub(super) fn resume_for_rollback(
        a: &mut Auditor,
        database: &str,
        expect: Option<Expected>,
    ) -> Result<Self, MigrationError> {
        if a.store().active_migration(database)?.is_some() {
            return Self::resume(a, database);
        }
        let row = match a.store().latest_migration(database)? {
            Some(r) if r.status == "done" => r,
            Some(r) => {
                same_migration(database, expect, Some(r.id))?;
                return Err(MigrationError::Invalid(format!(
                    "The last migration of {database} is {}: there is nothing to roll back.",
                    r.status
                )));
            }
            None => return Err(MigrationError::NotStarted(database.to_owned())),
        };
        Self::lease(a, database, row)
    }

    /// Saves the state (renewing the lease), `done` when the migration is over.
    pub(super) fn save(&self, a: &mut Auditor, status: &str) -> Result<(), MigrationError> {
        crate::faults::point(crate::faults::MIGRATION_BEFORE_SAVE);
        let json = to_json(&self.state)?;
        a.store_mut()
            .lease_migration(self.id, &self.owner, now_ms() + self.lease_ms, false)?;
        if !a
            .store()
            .save_migration(self.id, &self.owner, status, &json)?
        {
            return Err(MigrationError::Invalid(format!(
                "The migration of {} was taken over by another tdekey; this one stops here.",
                self.db.name
            )));
        }
        Ok(())
    }

    fn release(&self, a: &Auditor) {
        // A lease not given back ends by itself.
        let _ = a.store().release_migration(self.id, &self.owner);
    }

    pub(super) fn next(
        mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
    ) -> Result<Progress, MigrationError> {
        let result = self.run_current(a, ctx);
        self.release(a);
        result
    }

    fn run_current(
        &mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
    ) -> Result<Progress, MigrationError> {
        begin::check_expected(&self.state, &self.db.name, ctx.inputs.expect)?;
        if self.state.rollback.is_some() {
            return Err(MigrationError::Invalid(format!(
                "The migration of {} is being rolled back: go on with the rollback (tdekey migrate rollback, or Roll back in the window).",
                self.db.name
            )));
        }
        let Some(step) = self.state.current() else {
            return Ok(self.progress(
                StepId::Done,
                "The migration is finished.".into(),
                Vec::new(),
            ));
        };
        {
            let rec = self.record(step);
            // A statement sent whose answer was never seen: find out before anything else.
            if rec.in_flight().is_some() {
                rec.status = StepStatus::Unknown;
            }
            rec.attempts += 1;
            rec.started_ms.get_or_insert_with(now_ms);
        }
        self.record(step).by = ctx.hsm.user().map(str::to_owned);
        let unknown = self.record(step).status == StepStatus::Unknown;
        let waiting = self.record(step).status == StepStatus::NeedsAttention;
        let result = steps::run(self, a, ctx, step, unknown, waiting);
        let (result, error) = match result {
            Ok(r) => (r, None),
            Err(e) => (StepResult::failed(e.to_string()), Some(e)),
        };
        settle(self.record(step), &result);
        let StepResult {
            status,
            reason,
            todo,
            needs,
            ..
        } = result;
        if step == StepId::Done && status == StepStatus::Done {
            self.state.finished_ms = Some(now_ms());
        }
        let finished = self.state.finished();
        self.save(a, if finished { "done" } else { "active" })?;
        let rec = self.record(step).clone();
        let entry = Entry::new(Action::MigrationStep, format!("database {}", self.db.name))
            .user(ctx.hsm.user())
            .details(json!({
                "migration_step": step.as_str(),
                "number": step.number(),
                "status": status.as_str(),
                "reason": reason,
                "checks": rec.checks.iter().map(|c| json!({ "what": c.what, "ok": c.ok, "detail": c.detail })).collect::<Vec<_>>(),
                "attempt": rec.attempts,
            }));
        a.attempt(entry, |s| {
            if status == StepStatus::Failed {
                s.outcome(Outcome::Failure);
            }
            Ok::<_, MigrationError>(())
        })
        .into_result::<MigrationError>("The step ran")?;
        if finished {
            let entry = Entry::new(Action::MigrationEnd, format!("database {}", self.db.name))
                .details(json!({ "status": "done", "new_key": self.state.new_key }));
            a.attempt(entry, |_| Ok::<_, MigrationError>(()))
                .into_result::<MigrationError>("The migration ended")?;
        }
        if let Some(e) = error
            && !status.settled()
            && matches!(e, MigrationError::Audit(_) | MigrationError::Store(_))
        {
            return Err(e);
        }
        let message = reason.unwrap_or_else(|| match status {
            StepStatus::Done => format!("{}: done.", step.title()),
            other => format!("{}: {}.", step.title(), other.as_str()),
        });
        let mut p = self.progress(step, message, needs);
        p.todo = todo;
        p.status = status;
        p.refused = status == StepStatus::Failed
            && rec
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("Oracle answered"));
        p.notes = rec.notes.clone();
        Ok(p)
    }

    fn progress(&self, step: StepId, message: String, needs: Vec<Need>) -> Progress {
        Progress {
            database: self.db.name.clone(),
            step,
            back: None,
            status: self
                .state
                .step(step)
                .map_or(StepStatus::NotStarted, |s| s.status),
            message,
            todo: Vec::new(),
            needs,
            checks: self
                .state
                .step(step)
                .map(|s| s.checks.clone())
                .unwrap_or_default(),
            notes: Vec::new(),
            refused: false,
            finished: self.state.finished(),
        }
    }

    pub(super) fn record(&mut self, step: StepId) -> &mut super::StepRecord {
        let i = self
            .state
            .steps
            .iter()
            .position(|s| s.step == step)
            .unwrap_or(0);
        &mut self.state.steps[i]
    }

    /// The statements recorded at a step of the plan or of the rollback.
    fn sent(&mut self, at: At) -> &mut Vec<Sent> {
        match at {
            At::Step(s) => &mut self.record(s).sent,
            At::Back(b) => &mut self.back_record(b).sent,
        }
    }

    pub(super) fn back_record(&mut self, step: BackStep) -> &mut StepRecord<BackStep> {
        let r = self
            .state
            .rollback
            .get_or_insert_with(|| Rollback::new("", None, now_ms()));
        let i = r.steps.iter().position(|s| s.step == step).unwrap_or(0);
        &mut r.steps[i]
    }

    /// Starts the rollback (with the person's reason) or runs its current step.
    pub(super) fn back(
        mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
        reason: Option<&str>,
    ) -> Result<Progress, MigrationError> {
        let result = self.run_back(a, ctx, reason);
        self.release(a);
        result
    }

    fn run_back(
        &mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
        reason: Option<&str>,
    ) -> Result<Progress, MigrationError> {
        begin::check_expected(&self.state, &self.db.name, ctx.inputs.expect)?;
        if self.state.rollback.is_none() {
            let reason = reason.map(str::trim).unwrap_or("");
            if reason.len() < 10 {
                return Err(MigrationError::Invalid(
                    "Write why the migration is rolled back (at least a sentence): it goes in the audit log and the report.".into(),
                ));
            }
            let from = self.state.current();
            let entry = Entry::new(
                Action::MigrationRollback,
                format!("database {}", self.db.name),
            )
            .user(ctx.hsm.user())
            .details(json!({
                "reason": reason,
                "from_step": from.map(StepId::as_str),
                "changed_the_database": self.state.changed_the_database(),
                "migrate_may_have_run": self.state.migrate_may_have_run(),
            }));
            a.attempt(entry, |_| Ok::<_, MigrationError>(()))
                .into_result::<MigrationError>("The rollback was started")?;
            self.state.rollback = Some(Rollback::new(reason, from, now_ms()));
            self.save(a, "active")?;
        }
        let Some(step) = self.state.rollback.as_ref().and_then(Rollback::current) else {
            let mut p = self.progress(
                self.state.current().unwrap_or(StepId::Done),
                "The migration is rolled back.".into(),
                Vec::new(),
            );
            p.back = Some(BackStep::Closed);
            p.status = StepStatus::Done;
            p.finished = true;
            return Ok(p);
        };
        let waiting = {
            let rec = self.back_record(step);
            if rec.in_flight().is_some() {
                rec.status = StepStatus::Unknown;
            }
            rec.attempts += 1;
            rec.started_ms.get_or_insert_with(now_ms);
            rec.status == StepStatus::NeedsAttention
        };
        self.back_record(step).by = ctx.hsm.user().map(str::to_owned);
        let (result, error) = match steps::run_back(self, a, ctx, step, waiting) {
            Ok(r) => (r, None),
            Err(e) => (StepResult::failed(e.to_string()), Some(e)),
        };
        settle(self.back_record(step), &result);
        let finished = self
            .state
            .rollback
            .as_ref()
            .is_some_and(|r| r.current().is_none());
        if finished {
            let now = now_ms();
            if let Some(r) = self.state.rollback.as_mut() {
                r.finished_ms = Some(now);
            }
            self.state.finished_ms = Some(now);
        }
        self.save(a, if finished { "rolled-back" } else { "active" })?;
        let rec = self.back_record(step).clone();
        let entry = Entry::new(Action::MigrationStep, format!("database {}", self.db.name))
            .user(ctx.hsm.user())
            .details(json!({
                "rollback_step": step.as_str(),
                "number": format!("R{}", step.number()),
                "status": result.status.as_str(),
                "reason": result.reason,
                "checks": rec.checks.iter().map(|c| json!({ "what": c.what, "ok": c.ok, "detail": c.detail })).collect::<Vec<_>>(),
                "attempt": rec.attempts,
            }));
        let failed = result.status == StepStatus::Failed;
        a.attempt(entry, |s| {
            if failed {
                s.outcome(Outcome::Failure);
            }
            Ok::<_, MigrationError>(())
        })
        .into_result::<MigrationError>("The rollback step ran")?;
        if finished {
            let entry = Entry::new(Action::MigrationEnd, format!("database {}", self.db.name))
                .details(json!({ "status": "rolled-back", "new_key": self.state.new_key }));
            a.attempt(entry, |_| Ok::<_, MigrationError>(()))
                .into_result::<MigrationError>("The migration ended")?;
        }
        if let Some(e) = error
            && matches!(e, MigrationError::Audit(_) | MigrationError::Store(_))
        {
            return Err(e);
        }
        let message = result
            .reason
            .clone()
            .unwrap_or_else(|| match result.status {
                StepStatus::Done => format!("R{} {}: done.", step.number(), step.title()),
                other => format!("R{} {}: {}.", step.number(), step.title(), other.as_str()),
            });
        let mut p = self.progress(
            self.state
                .rollback
                .as_ref()
                .and_then(|r| r.from)
                .unwrap_or(StepId::Done),
            message,
            result.needs.clone(),
        );
        p.back = Some(step);
        p.status = result.status;
        p.todo = result.todo.clone();
        p.checks = rec.checks.clone();
        p.notes = rec.notes.clone();
        p.finished = finished;
        p.refused = failed
            && rec
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("Oracle answered"));
        Ok(p)
    }

    /// Accepts the current step's failed checks with a reason.
    pub(super) fn override_current(
        mut self,
        a: &mut Auditor,
        reason: &str,
    ) -> Result<Progress, MigrationError> {
        let result = (|| {
            let reason = reason.trim();
            if reason.len() < 10 {
                return Err(MigrationError::Invalid(
                    "Write why the failed check may be accepted (at least a sentence): it goes in the audit log and the report.".into(),
                ));
            }
            let step = self
                .state
                .current()
                .ok_or_else(|| MigrationError::Invalid("The migration is finished.".into()))?;
            let rec = self.record(step);
            if rec.status != StepStatus::Failed || rec.checks.iter().all(|c| c.ok) {
                return Err(MigrationError::Invalid(format!(
                    "Step {} ({}) has no failed check to override: it is {}.",
                    step.number(),
                    step.title(),
                    rec.status.as_str()
                )));
            }
            let failed: Vec<String> = rec
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.what.clone())
                .collect();
            let entry = Entry::new(
                Action::MigrationOverride,
                format!("database {}", self.db.name),
            )
            .details(
                json!({ "migration_step": step.as_str(), "checks": failed, "reason": reason }),
            );
            a.attempt(entry, |_| Ok::<_, MigrationError>(()))
                .into_result::<MigrationError>("The override was accepted")?;
            let rec = self.record(step);
            for c in rec.checks.iter_mut().filter(|c| !c.ok) {
                c.overridden = Some(reason.to_owned());
            }
            rec.status = StepStatus::Done;
            rec.finished_ms = Some(now_ms());
            rec.notes
                .push(format!("Failed checks accepted by a person: {reason}"));
            self.save(a, "active")?;
            Ok(self.progress(
                step,
                format!("{}: accepted with a reason.", step.title()),
                Vec::new(),
            ))
        })();
        self.release(a);
        result
    }

    /// Runs a query (not recorded as a change; nothing is saved around it).
    pub(super) fn query(
        &mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<Reply, MigrationError> {
        Ok(run(a, ctx, &self.db, request)?.answer.reply)
    }

    /// Sends a statement that changes the database: recorded in the step as sent before it
    /// goes (so a crash leaves it *unknown*), and with its answer after.
    pub(super) fn send(
        &mut self,
        a: &mut Auditor,
        ctx: &mut Context<'_>,
        at: impl Into<At>,
        request: &Request,
    ) -> Result<Ran, MigrationError> {
        let at = at.into();
        let statement = request
            .statement()
            .map_err(crate::oracle::OracleError::from)?;
        let connector = self.db.connector.label().to_owned();
        self.sent(at).push(Sent {
            title: request.title().to_owned(),
            statement: statement.display.clone(),
            connector,
            answer: None,
            at_ms: now_ms(),
        });
        self.save(a, "active")?;
        let result = run(a, ctx, &self.db, request);
        // An answer that was never seen (a paste that does not answer the statement, a
        // timeout, a cancel after it was shown) stays unknown: the next run reads the
        // database before anything is sent again.
        let answer = match &result {
            Ok(r) => Some(r.answer.reply.summary()),
            Err(databases::DatabaseError::AfterStatement { answer, .. }) => Some(answer.clone()),
            Err(e) if e.never_sent() => Some(format!("not run: {e}")),
            Err(_) => None,
        };
        if let Some(s) = self.sent(at).last_mut() {
            s.answer = answer;
            if let Ok(r) = &result {
                s.connector = r.connector.clone();
            }
        }
        self.save(a, "active")?;
        Ok(result?)
    }
}

fn run(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
    request: &Request,
) -> Result<Ran, crate::databases::DatabaseError> {
    let reach = Reach {
        data: ctx.data,
        operator: ctx.operator.as_deref_mut().map(|o| o as &mut dyn Operator),
        db_password: ctx.db_password.clone(),
        hsm: Some(&mut *ctx.hsm),
        pin_format: ctx.pin_format,
        token: None,
    };
    databases::run_statement(a, db, request, reach)
}

pub(super) fn to_json(state: &MigrationState) -> Result<String, MigrationError> {
    serde_json::to_string(state).map_err(|e| {
        MigrationError::Invalid(format!("The migration state could not be written: {e}"))
    })
}
