//! Rotation policies per database: a schedule (every N days, weeks, months or years, or a cron
//! expression), the way, and when the next rotation is due. Each change is audited with the
//! old and the new values.

use super::{RotationError, Schedule, Way, local_date, local_zone};
use crate::audit::{Action, Auditor, Entry};
use crate::databases;
use crate::model::now_ms;
use crate::store::{PolicyRow, StoreError};
use serde::Serialize;
use serde_json::json;

/// A database's policy, for people and for `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    pub database: String,
    /// The stored form: `every:90d`, `cron:0 2 * * 6`.
    pub schedule: String,
    /// For people: "every 90 days".
    pub describe: String,
    pub way: Way,
    pub next_due_ms: i64,
    /// The next due date, local.
    pub next_due: String,
    pub updated_ms: i64,
}

impl Policy {
    fn from_row(r: &PolicyRow) -> Result<Self, RotationError> {
        let schedule = Schedule::from_text(&r.schedule)?;
        Ok(Self {
            database: r.database.clone(),
            schedule: r.schedule.clone(),
            describe: schedule.describe(),
            way: Way::parse(&r.way).unwrap_or(Way::Oracle),
            next_due_ms: r.next_due_ms,
            next_due: local_date(r.next_due_ms, &local_zone()),
            updated_ms: r.updated_ms,
        })
    }

    pub fn parsed_schedule(&self) -> Result<Schedule, RotationError> {
        Ok(Schedule::from_text(&self.schedule)?)
    }
}

/// What the person sets.
#[derive(Clone, Debug)]
pub struct PolicyChange {
    pub database: String,
    pub schedule: Schedule,
    /// Else the policy's way as it was, else the database's default.
    pub way: Option<Way>,
    /// The first due date (to line rotations up with a maintenance window); else it follows
    /// from the last rotation.
    pub next_due_ms: Option<i64>,
}

pub fn policy(a: &Auditor, database: &str) -> Result<Option<Policy>, RotationError> {
    a.store()
        .rotation_policy(database)?
        .as_ref()
        .map(Policy::from_row)
        .transpose()
}

pub fn policies(a: &Auditor) -> Result<Vec<Policy>, RotationError> {
    a.store()
        .rotation_policies()?
        .iter()
        .map(Policy::from_row)
        .collect()
}

/// When the current key was made the database's: the later of its last successful rotation
/// and the newest key recorded as its own and in use (a migration after a rolled-back one is
/// newer than the rotations before it); `None` when it has no key on the HSM.
pub(super) fn key_since(a: &Auditor, database: &str) -> Result<Option<i64>, StoreError> {
    let owners = a.store().key_owners()?;
    if super::overview::not_on_hsm(&owners, database).is_some() {
        return Ok(None);
    }
    let runs = a.store().rotation_runs(Some(database), 0)?;
    let rotated = runs
        .iter()
        .rev()
        .find(|r| r.outcome == "success")
        .map(|r| r.finished_ms.unwrap_or(r.started_ms));
    let recorded = owners
        .iter()
        .filter(|k| k.database == database && k.retired_ms.is_none())
        .map(|k| k.since_ms)
        .max();
    Ok(rotated.max(recorded))
}

/// Sets (or replaces) a database's policy, audited (`rotation.policy`) with the old and new
/// values. Without a first due date, the next rotation is due one period after the current
/// key was made the database's (or one period from now when that is unknown); a policy whose
/// schedule does not change keeps its due date.
pub fn set_policy(a: &mut Auditor, change: &PolicyChange) -> Result<Policy, RotationError> {
    let db = databases::get(a, &change.database)?;
    let old = a.store().rotation_policy(&db.name)?;
    let way = change
        .way
        .or_else(|| old.as_ref().and_then(|p| Way::parse(&p.way)))
        .unwrap_or_else(|| Way::default_for(db.multitenant));
    if let Some(r) = way.refusal(&db.name, db.multitenant) {
        return Err(RotationError::Invalid(r));
    }
    if let Some(why) = super::overview::not_on_hsm(&a.store().key_owners()?, &db.name) {
        return Err(RotationError::Invalid(format!(
            "{name} has no master key on the HSM ({why}), so there is nothing to rotate: migrate it to the HSM first (the Migration tab of {name}, or tdekey migrate {name}), then set its policy. No policy was saved.",
            name = db.name
        )));
    }
    let text = change.schedule.to_text();
    let tz = local_zone();
    let next_due_ms = match (change.next_due_ms, &old) {
        (Some(d), _) => d,
        (None, Some(o)) if o.schedule == text => o.next_due_ms,
        (None, _) => {
            let base = key_since(a, &db.name)?.unwrap_or_else(now_ms);
            change.schedule.next_after(base, &tz)?
        }
    };
    let new = PolicyRow {
        database: db.name.clone(),
        schedule: text,
        way: way.as_str().into(),
        next_due_ms,
        created_ms: 0,
        updated_ms: 0,
    };
    let value = |p: &PolicyRow| {
        json!({
            "schedule": p.schedule,
            "way": p.way,
            "next_due_ms": p.next_due_ms,
            "next_due": local_date(p.next_due_ms, &tz),
        })
    };
    let entry = Entry::new(Action::RotationPolicy, format!("database {}", db.name))
        .details(json!({ "operation": "set", "old": old.as_ref().map(value), "new": value(&new) }));
    a.act(entry, |step| step.store().set_rotation_policy(&new))?
        .into_result::<RotationError>("The policy was saved")?;
    policy(a, &db.name)?
        .ok_or_else(|| RotationError::Invalid("The policy just saved is missing.".into()))
}

/// Removes a database's policy (nothing else changes), audited with the old value.
pub fn remove_policy(a: &mut Auditor, database: &str) -> Result<Policy, RotationError> {
    let old = policy(a, database)?.ok_or_else(|| {
        RotationError::Invalid(format!(
            "{database} has no rotation policy: nothing was removed."
        ))
    })?;
    let entry = Entry::new(Action::RotationPolicy, format!("database {database}")).details(
        json!({ "operation": "remove", "old": { "schedule": old.schedule, "way": old.way.as_str(), "next_due_ms": old.next_due_ms, "next_due": old.next_due }, "new": null }),
    );
    a.act(entry, |step| step.store().remove_rotation_policy(database))?
        .into_result::<RotationError>("The policy was removed")?;
    Ok(old)
}
