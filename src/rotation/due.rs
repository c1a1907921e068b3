//! The unattended run (`tdekey rotate --due`): every database whose policy is due, rotated
//! with the secrets of a credentials directory. Due is decided again when each run is claimed,
//! so a second run in the same window does nothing and two runs at once never rotate one
//! database twice; a missed window is caught up once (the next due date follows from the
//! rotation, not from the missed date). A database that fails stays due.

use super::run::{Context, RotateRequest, RunReport, rotate};
use super::{Credentials, RotationError, Trigger, Way, local_minute, local_zone, policies};
use crate::audit::{Action, Auditor, Entry, Outcome};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, PinFormat};
use crate::paths::DataDir;
use crate::session::{self, Target, TargetSpec};
use serde::Serialize;
use serde_json::json;

/// A rotation held by another process for longer than this is reported as a failure by
/// `rotate --due`, not as busy.
pub const STUCK_AFTER_MS: i64 = 24 * 3_600_000;

/// What happened to one due database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DueOutcome {
    Rotated,
    Failed,
    /// Another run rotated it meanwhile: no longer due.
    NotDue,
    /// Another tdekey is rotating it now.
    Busy,
    /// Dry run: it would be rotated.
    WouldRotate,
    /// Dry run: it could not be rotated as things stand.
    WouldFail,
}

#[derive(Clone, Debug, Serialize)]
pub struct DueItem {
    pub database: String,
    pub way: Way,
    pub next_due_ms: i64,
    pub next_due: String,
    pub outcome: DueOutcome,
    pub message: String,
    pub run: Option<RunReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DueReport {
    pub now_ms: i64,
    pub dry_run: bool,
    pub items: Vec<DueItem>,
    pub rotated: usize,
    pub failed: usize,
}

impl DueReport {
    /// Every due database was rotated (or nothing was due).
    pub fn all_done(&self) -> bool {
        self.failed == 0
    }
}

/// One HSM login serves every due database on the same module, token and user.
struct Group {
    target: Target,
    profile: Option<String>,
    user: String,
    format: PinFormat,
    items: Vec<(DatabaseProfile, Way, i64)>,
}

fn item(db: &str, way: Way, due: i64, outcome: DueOutcome, message: impl Into<String>) -> DueItem {
    DueItem {
        database: db.to_owned(),
        way,
        next_due_ms: due,
        next_due: local_minute(due, &local_zone()),
        outcome,
        message: message.into(),
        run: None,
    }
}

/// Rotates every database due at `now_ms` (or, with `dry_run`, says what it would do and what
/// stands in the way, changing nothing). Audited as one `rotation.due` entry besides each run's
/// own entries; its outcome is a failure when any database failed.
pub fn rotate_due(
    a: &mut Auditor,
    data: &DataDir,
    credentials: Result<Credentials, super::CredentialError>,
    dry_run: bool,
    now_ms: i64,
) -> Result<DueReport, RotationError> {
    let due: Vec<_> = policies(a)?
        .into_iter()
        .filter(|p| p.next_due_ms <= now_ms)
        .collect();
    let mut items = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for p in &due {
        let db = match crate::databases::get(a, &p.database) {
            Ok(db) => db,
            Err(e) => {
                items.push(item(
                    &p.database,
                    p.way,
                    p.next_due_ms,
                    DueOutcome::Failed,
                    e.to_string(),
                ));
                continue;
            }
        };
        if db.connector == ConnectorKind::Manual {
            items.push(item(
                &db.name,
                p.way,
                p.next_due_ms,
                if dry_run { DueOutcome::WouldFail } else { DueOutcome::Failed },
                format!("{} uses the Manual connector: a person runs each statement, so it cannot be rotated unattended. Rotate it from the window or a terminal, or give it a SQL*Plus profile.", db.name),
            ));
            continue;
        }
        let spec = TargetSpec {
            profile: db.hsm_profile.clone(),
            ..Default::default()
        };
        let target = match Target::resolve(a.store(), &spec) {
            Ok(t) => t,
            Err(e) => {
                items.push(item(
                    &db.name,
                    p.way,
                    p.next_due_ms,
                    if dry_run {
                        DueOutcome::WouldFail
                    } else {
                        DueOutcome::Failed
                    },
                    e.to_string(),
                ));
                continue;
            }
        };
        let user = target
            .profile
            .as_ref()
            .map(|p| p.user_name.clone())
            .unwrap_or_default();
        let format = target
            .profile
            .as_ref()
            .map_or_else(|| PinFormat::guess(&target.module), |p| p.pin_format);
        let profile = target.profile.as_ref().map(|p| p.name.clone());
        let key = (target.module.clone(), target.selector.clone(), user.clone());
        let i = match groups.iter().position(|g| {
            (
                g.target.module.clone(),
                g.target.selector.clone(),
                g.user.clone(),
            ) == key
        }) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    target,
                    profile,
                    user,
                    format,
                    items: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        g.items.push((db, p.way, p.next_due_ms));
    }
    for g in groups {
        let creds = credentials.as_ref().map_err(ToString::to_string);
        if dry_run {
            items.extend(dry_run_group(a, data, &g, &credentials));
            continue;
        }
        let pin = creds.and_then(|c| c.hsm_pin(g.profile.as_deref()).map_err(|e| e.to_string()));
        let pin = match pin {
            Ok(p) => p,
            Err(e) => {
                for (db, way, due) in &g.items {
                    items.push(item(&db.name, *way, *due, DueOutcome::Failed, e.clone()));
                }
                continue;
            }
        };
        let login = session::Credentials {
            user: Some(g.user.clone()),
            format: Some(g.format),
            password: pin.clone(),
        };
        let mut done: Vec<DueItem> = Vec::new();
        let result = session::with_login(a, &g.target, login, "rotate --due", |a, hsm, _| {
            for (db, way, due) in &g.items {
                done.push(rotate_one(
                    a,
                    data,
                    hsm,
                    &credentials,
                    &pin,
                    g.format,
                    db,
                    *way,
                    *due,
                    now_ms,
                ));
            }
            Ok::<_, RotationError>(())
        });
        if let Err(e) = result {
            let seen: Vec<String> = done.iter().map(|d| d.database.clone()).collect();
            for (db, way, due) in &g.items {
                if !seen.contains(&db.name) {
                    done.push(item(
                        &db.name,
                        *way,
                        *due,
                        DueOutcome::Failed,
                        format!("{e} The database was not changed; it stays due."),
                    ));
                }
            }
        }
        items.extend(done);
    }
    let rotated = items
        .iter()
        .filter(|i| i.outcome == DueOutcome::Rotated)
        .count();
    let failed = items
        .iter()
        .filter(|i| matches!(i.outcome, DueOutcome::Failed | DueOutcome::WouldFail))
        .count();
    let report = DueReport {
        now_ms,
        dry_run,
        items,
        rotated,
        failed,
    };
    let summary: Vec<_> = report
        .items
        .iter()
        .map(|i| json!({ "database": i.database, "outcome": i.outcome, "message": i.message, "run": i.run.as_ref().map(|r| r.run_id) }))
        .collect();
    let entry = Entry::new(Action::RotationDue, "due databases").details(json!({
        "dry_run": dry_run,
        "due": due.len(),
        "rotated": rotated,
        "failed": failed,
        "credentials": credentials.as_ref().ok().map(|c| c.dir().display().to_string()),
        "items": summary,
    }));
    a.attempt(entry, |s| {
        if failed > 0 {
            s.outcome(Outcome::Failure);
        }
        Ok::<_, RotationError>(())
    })
    .into_result::<RotationError>("The due rotations ran")?;
    Ok(report)
}

/// A dry run over one HSM login's databases: the credentials read, the login made (and
/// audited like any), key generation probed with a session key, then each database's keystore
/// and active keys read. Says per database what would fail; changes nothing.
fn dry_run_group(
    a: &mut Auditor,
    data: &DataDir,
    g: &Group,
    credentials: &Result<Credentials, super::CredentialError>,
) -> Vec<DueItem> {
    let fail_all = |e: String| -> Vec<DueItem> {
        g.items
            .iter()
            .map(|(db, way, due)| item(&db.name, *way, *due, DueOutcome::WouldFail, e.clone()))
            .collect()
    };
    let pin = match credentials
        .as_ref()
        .map_err(ToString::to_string)
        .and_then(|c| c.hsm_pin(g.profile.as_deref()).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => return fail_all(e),
    };
    let login = session::Credentials {
        user: Some(g.user.clone()),
        format: Some(g.format),
        password: pin.clone(),
    };
    let mut out = Vec::new();
    let r = session::with_login(
        a,
        &g.target,
        login,
        "rotate --due --dry-run",
        |a, hsm, _| {
            let probe = session::probe(a, hsm)?;
            for (db, way, due) in &g.items {
                out.push(dry_run_one(
                    a,
                    data,
                    hsm,
                    credentials,
                    &pin,
                    g,
                    &probe,
                    db,
                    *way,
                    *due,
                ));
            }
            Ok::<_, RotationError>(())
        },
    );
    match r {
        Ok(()) => out,
        Err(e) => fail_all(format!("{e} Nothing was changed.")),
    }
}

#[allow(clippy::too_many_arguments)]
fn dry_run_one(
    a: &mut Auditor,
    data: &DataDir,
    hsm: &mut crate::hsm::Hsm,
    credentials: &Result<Credentials, super::CredentialError>,
    pin: &crate::secret::Secret,
    g: &Group,
    probe: &session::Probe,
    db: &DatabaseProfile,
    way: Way,
    due: i64,
) -> DueItem {
    let fail = |m: String| item(&db.name, way, due, DueOutcome::WouldFail, m);
    if let Some(e) = &probe.aes_key_gen {
        return fail(format!(
            "The token refuses to generate an AES-256 key ({e}): the new master key is generated there, by tdekey (way hsm) or by Oracle (SET KEY)."
        ));
    }
    let db_password = match db_password_of(db, credentials) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut ctx = Context {
        data,
        hsm,
        operator: None,
        db_password,
        pin_format: g.format,
        hsm_password: pin.clone(),
    };
    match super::preflight::preflight(a, &mut ctx, db) {
        Ok(found) => item(
            &db.name,
            way,
            due,
            DueOutcome::WouldRotate,
            format!(
                "would be rotated ({}), logged in to {} as {}: {found}; key generation proved with a session key",
                way.describe(),
                g.target.selector.describe(),
                g.user
            ),
        ),
        Err(e) => fail(e),
    }
}

fn needs_db_password(db: &DatabaseProfile) -> bool {
    db.connector == ConnectorKind::Sqlplus && matches!(db.auth, DbAuth::User(_))
}

/// The database password an unattended run needs (a SQL*Plus profile that connects as a named
/// user), from the credentials; or why it cannot be had.
fn db_password_of(
    db: &DatabaseProfile,
    credentials: &Result<Credentials, super::CredentialError>,
) -> Result<Option<crate::secret::Secret>, String> {
    if !needs_db_password(db) {
        return Ok(None);
    }
    match credentials.as_ref().map(|c| c.db_password(&db.name)) {
        Ok(Ok(p)) => Ok(Some(p)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
fn rotate_one(
    a: &mut Auditor,
    data: &DataDir,
    hsm: &mut crate::hsm::Hsm,
    credentials: &Result<Credentials, super::CredentialError>,
    pin: &crate::secret::Secret,
    format: PinFormat,
    db: &DatabaseProfile,
    way: Way,
    due: i64,
    now_ms: i64,
) -> DueItem {
    let db_password = match db_password_of(db, credentials) {
        Ok(p) => p,
        Err(e) => return item(&db.name, way, due, DueOutcome::Failed, e),
    };
    let mut ctx = Context {
        data,
        hsm,
        operator: None,
        db_password,
        pin_format: format,
        hsm_password: pin.clone(),
    };
    let req = RotateRequest {
        way: None,
        tag: None,
        trigger: Trigger::Scheduled,
        reason: None,
        only_if_due_at: Some(now_ms),
        key: None,
    };
    match rotate(a, &mut ctx, &db.name, &req) {
        Ok(r) => {
            let mut i = item(
                &db.name,
                r.way,
                due,
                if r.succeeded() {
                    DueOutcome::Rotated
                } else {
                    DueOutcome::Failed
                },
                r.message.clone(),
            );
            i.run = Some(r);
            i
        }
        Err(RotationError::NotDue(_)) => item(
            &db.name,
            way,
            due,
            DueOutcome::NotDue,
            "rotated meanwhile by another run: no longer due",
        ),
        // A run held for a day is not a rotation in progress (one takes seconds; an unattended
        // one never waits for a person): say it, and fail, so that the timer's unit shows it.
        Err(
            ref e @ RotationError::Busy {
                since_ms: Some(since),
                ref owner,
                ..
            },
        ) if now_ms - since > STUCK_AFTER_MS => item(
            &db.name,
            way,
            due,
            DueOutcome::Failed,
            format!(
                "{e} That run has held it since {} (more than {} hours): its process ({owner}) is stuck or waits for a person. Find it and end it; the database stays due.",
                crate::audit::export::utc(since),
                STUCK_AFTER_MS / 3_600_000
            ),
        ),
        Err(e @ RotationError::Busy { .. }) => {
            item(&db.name, way, due, DueOutcome::Busy, e.to_string())
        }
        Err(e) => item(
            &db.name,
            way,
            due,
            DueOutcome::Failed,
            format!("{e} It stays due."),
        ),
    }
}
