//! Starting a migration, and what a person's confirmation must still match: a finished
//! migration stays the database's migration until a person starts a new one by its number, and
//! a confirmation given for one step (of one migration) never runs another.

use super::wizard::{parse, to_json};
use super::{Expected, ExpectedStep, MigrationError, MigrationState};
use crate::audit::{Action, Auditor, Entry};
use crate::databases;
use crate::model::now_ms;
use serde_json::json;

/// The refusal to start again over a finished migration, naming it.
pub(super) fn finished(r: &crate::store::MigrationRow) -> Result<MigrationError, MigrationError> {
    Ok(MigrationError::Finished {
        database: r.database.clone(),
        id: r.id,
        key: parse(r)?
            .new_key
            .map(|k| format!(", with master key {k}"))
            .unwrap_or_default(),
    })
}

/// Refuses a confirmation given for another migration than `id`.
pub(super) fn same_migration(
    database: &str,
    expect: Option<Expected>,
    id: Option<i64>,
) -> Result<(), MigrationError> {
    match expect {
        Some(Expected {
            migration: Some(seen),
            step,
        }) if Some(seen) != id => Err(MigrationError::Moved {
            database: database.to_owned(),
            confirmed: format!("{} of migration number {seen}", step.describe()),
            now: id.map_or_else(
                || "no migration under way".to_owned(),
                |id| format!("migration number {id}"),
            ),
        }),
        _ => Ok(()),
    }
}

/// Starts a new migration of `database` (see [`super::start`]).
pub(super) fn start(
    a: &mut Auditor,
    database: &str,
    replacing: Option<i64>,
) -> Result<i64, MigrationError> {
    if let Some(r) = a.store().active_migration(database)? {
        let at = parse(&r)?
            .current()
            .map_or("its end".to_owned(), |s| format!("step {}", s.number()));
        return Err(MigrationError::Invalid(format!(
            "Migration number {} of {database} is under way (at {at}): go on with it (`tdekey migrate next {database:?}`) or roll it back; a second one cannot start beside it.",
            r.id
        )));
    }
    let latest = a.store().latest_migration(database)?;
    if let Some(seen) = replacing
        && latest.as_ref().map(|r| r.id) != Some(seen)
    {
        return Err(MigrationError::Moved {
            database: database.to_owned(),
            confirmed: format!("a new migration in place of migration number {seen}"),
            now: latest.map_or_else(
                || "no migration".to_owned(),
                |r| format!("migration number {} ({})", r.id, r.status),
            ),
        });
    }
    if let Some(r) = latest.as_ref().filter(|r| r.status == "done")
        && replacing.is_none()
    {
        return Err(finished(r)?);
    }
    insert(a, database, latest.as_ref())
}

/// Inserts a new migration (audited), after `previous` when there was one.
pub(super) fn insert(
    a: &mut Auditor,
    database: &str,
    previous: Option<&crate::store::MigrationRow>,
) -> Result<i64, MigrationError> {
    let db = databases::get(a, database)?;
    let mut state = MigrationState::new(&db.name, now_ms());
    state.first_seq = a.store().audit_head()?.map(|(seq, _)| seq + 1);
    let json = to_json(&state)?;
    let after = previous.map(|r| json!({ "migration": r.id, "status": r.status }));
    let entry = Entry::new(Action::MigrationStart, format!("database {}", db.name))
        .details(json!({ "connector": db.connector.label(), "multitenant": db.multitenant.as_str(), "rac": db.rac, "rac_nodes": db.rac_nodes, "standbys": db.standbys, "after": after }));
    a.act(entry, |step| {
        let id = step.store().insert_migration(&db.name, &json)?;
        step.note("migration", id);
        Ok::<_, crate::store::StoreError>(id)
    })?
    .into_result::<MigrationError>("The migration was started")
}

/// Refuses to run when the person confirmed another migration or another step than the
/// one this migration stands at now.
pub(super) fn check_expected(
    state: &MigrationState,
    database: &str,
    expect: Option<Expected>,
) -> Result<(), MigrationError> {
    let Some(e) = expect else {
        return Ok(());
    };
    same_migration(database, expect, Some(state.id))?;
    let now = match &state.rollback {
        Some(r) => r.current().map(ExpectedStep::Back),
        None => state.current().map(ExpectedStep::Plan),
    };
    let ok = match e.step {
        ExpectedStep::StartRollback => state.rollback.is_none(),
        step => now == Some(step),
    };
    if ok {
        return Ok(());
    }
    Err(MigrationError::Moved {
        database: database.to_owned(),
        confirmed: e.step.describe(),
        now: match (now, &state.rollback) {
            (Some(s), _) => s.describe(),
            (None, Some(_)) => "the end of its rollback".into(),
            (None, None) => "its end (finished)".into(),
        },
    })
}
