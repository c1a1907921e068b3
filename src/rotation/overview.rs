//! Where each database stands: its current master key and its age, the last run, the next due
//! date and a status; the timeline of the past and next twelve months; and which key on the
//! token belongs to which database (from migrations, rotation runs and V$ENCRYPTION_KEYS).

use super::policy::{Policy, key_since};
use super::{DueStatus, RotationError, local_zone, policies};
use crate::audit::Auditor;
use crate::store::{KeyOwner, RunRow};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

const DAY_MS: i64 = 86_400_000;
/// How far the timeline looks back and ahead.
pub const TIMELINE_DAYS: i64 = 365;

/// A run, for screens.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub outcome: String,
    pub way: String,
    pub trigger: String,
    pub reason: Option<String>,
    pub who: String,
    pub old_keys: Vec<String>,
    pub new_keys: Vec<String>,
    pub pending_key: Option<String>,
    pub failed_step: Option<String>,
    pub state_left: Option<String>,
}

impl RunSummary {
    fn of(r: &RunRow) -> Self {
        Self {
            id: r.id,
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
            outcome: r.outcome.clone(),
            way: r.way.clone(),
            trigger: r.trigger.clone(),
            reason: r.reason.clone(),
            who: r.who.clone(),
            old_keys: serde_json::from_str(&r.old_keys).unwrap_or_default(),
            new_keys: serde_json::from_str(&r.new_keys).unwrap_or_default(),
            pending_key: r.pending_key.clone(),
            failed_step: r.failed_step.clone(),
            state_left: r.state_left.clone(),
        }
    }
}

/// One database on the Rotation screen.
#[derive(Clone, Debug, Serialize)]
pub struct DatabaseRotation {
    pub database: String,
    pub policy: Option<Policy>,
    /// The current master key of each container: (container, label); "" for a non-CDB.
    pub current_keys: Vec<(String, String)>,
    /// Since when the current key is the database's.
    pub key_since_ms: Option<i64>,
    pub last_run: Option<RunSummary>,
    pub next_due_ms: Option<i64>,
    pub status: DueStatus,
    /// Current keys that are not on the token tdekey is connected to (checked only when an
    /// inventory of that token was given).
    pub missing_keys: Vec<String>,
    /// Why the database's master key is not on the HSM, when every key tdekey recorded for it
    /// was retired without a successor (its migration was rolled back).
    pub not_on_hsm: Option<String>,
}

/// One row of the timeline: rotations of the past twelve months and due dates of the next.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineRow {
    pub database: String,
    /// (when, succeeded, trigger)
    pub runs: Vec<(i64, bool, String)>,
    pub due: Vec<i64>,
}

/// Who claims a key on the token.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyClaim {
    pub database: String,
    pub container: String,
    /// The database's active key (else a retired one, kept for backups and redo).
    pub current: bool,
    /// Why the key was retired with no key of the database after it (a rolled-back
    /// migration); `None` for a key in use or replaced by a newer one.
    pub retired_why: Option<String>,
    pub source: String,
    pub since_ms: i64,
    pub token_label: String,
}

/// The current key of each container of each database, from the recorded owners: per
/// container the newest; a key recorded without a container (a migration) gives way to named
/// containers' newer keys. A retired key (a rolled-back migration's) is nobody's current key.
fn current_keys(owners: &[KeyOwner]) -> HashMap<String, Vec<(String, String, i64)>> {
    let mut per: BTreeMap<(String, String), &KeyOwner> = BTreeMap::new();
    for k in owners.iter().filter(|k| k.retired_ms.is_none()) {
        let key = (k.database.clone(), k.container.clone());
        if per.get(&key).is_none_or(|o| k.since_ms >= o.since_ms) {
            per.insert(key, k);
        }
    }
    let mut out: HashMap<String, Vec<(String, String, i64)>> = HashMap::new();
    for ((db, c), k) in per {
        out.entry(db)
            .or_default()
            .push((c, k.label.clone(), k.since_ms));
    }
    for keys in out.values_mut() {
        let newest_named = keys
            .iter()
            .filter(|(c, _, _)| !c.is_empty())
            .map(|(_, _, s)| *s)
            .max();
        if let Some(n) = newest_named {
            keys.retain(|(c, _, s)| !c.is_empty() || *s > n);
        }
    }
    out
}

/// Which database claims each key label.
pub fn key_claims(a: &Auditor) -> Result<HashMap<String, KeyClaim>, RotationError> {
    let owners = a.store().key_owners()?;
    let current = current_keys(&owners);
    Ok(owners
        .iter()
        .map(|k| {
            let is_current = current
                .get(&k.database)
                .is_some_and(|v| v.iter().any(|(_, l, _)| l == &k.label));
            (
                k.label.clone(),
                KeyClaim {
                    database: k.database.clone(),
                    container: k.container.clone(),
                    current: is_current,
                    retired_why: k.retired_why.clone(),
                    source: k.source.clone(),
                    since_ms: k.since_ms,
                    token_label: k.token_label.clone(),
                },
            )
        })
        .collect())
}

/// Why a database's master key is not on the HSM: it has recorded keys, every one retired
/// without a successor (the newest retirement's reason).
pub(super) fn not_on_hsm(owners: &[KeyOwner], database: &str) -> Option<String> {
    let mine: Vec<&KeyOwner> = owners.iter().filter(|k| k.database == database).collect();
    if mine.is_empty() || mine.iter().any(|k| k.retired_ms.is_none()) {
        return None;
    }
    mine.iter().max_by_key(|k| k.retired_ms).map(|k| {
        k.retired_why
            .clone()
            .unwrap_or_else(|| "its keys on the HSM were retired".into())
    })
}

/// Every database with where it stands, and the timeline. `on_token` is the label of the
/// token tdekey is connected to and the labels on it, when an inventory was read: current keys
/// recorded on that token and missing from it are named.
pub fn overview(
    a: &Auditor,
    on_token: Option<(&str, &HashSet<String>)>,
    now_ms: i64,
) -> Result<(Vec<DatabaseRotation>, Vec<TimelineRow>), RotationError> {
    let dbs = crate::databases::list(a)?;
    let pols: HashMap<String, Policy> = policies(a)?
        .into_iter()
        .map(|p| (p.database.clone(), p))
        .collect();
    let owners = a.store().key_owners()?;
    let current = current_keys(&owners);
    let runs = a
        .store()
        .rotation_runs(None, now_ms - TIMELINE_DAYS * DAY_MS)?;
    let tz = local_zone();
    let mut rows = Vec::new();
    let mut timeline = Vec::new();
    for db in dbs {
        let policy = pols.get(&db.name).cloned();
        let mine: Vec<&RunRow> = runs.iter().filter(|r| r.database == db.name).collect();
        let last_run = a.store().last_rotation_run(&db.name)?;
        let keys = current.get(&db.name).cloned().unwrap_or_default();
        let missing_keys = match on_token {
            Some((token, labels)) => keys
                .iter()
                .filter(|(_, l, _)| {
                    owners
                        .iter()
                        .any(|o| &o.label == l && o.token_label == token)
                        && !labels.contains(l)
                })
                .map(|(_, l, _)| l.clone())
                .collect(),
            None => Vec::new(),
        };
        // A failed run is history once a later migration or rotation made a key current.
        let newest_key = keys.iter().map(|(_, _, s)| *s).max();
        let failed = last_run.as_ref().is_some_and(|r| {
            r.outcome == "failure"
                && newest_key.is_none_or(|k| k <= r.finished_ms.unwrap_or(r.started_ms))
        });
        let next_due_ms = policy.as_ref().map(|p| p.next_due_ms);
        let not_on_hsm = not_on_hsm(&owners, &db.name);
        let status = if not_on_hsm.is_some() {
            DueStatus::NotOnHsm
        } else {
            super::schedule::status(next_due_ms, failed, now_ms)
        };
        // A database with nothing on the HSM has no rotation coming, whatever its policy says.
        let due = match policy.as_ref().filter(|_| not_on_hsm.is_none()) {
            Some(p) => p
                .parsed_schedule()
                .map(|s| s.due_dates(p.next_due_ms, now_ms + TIMELINE_DAYS * DAY_MS, &tz))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        timeline.push(TimelineRow {
            database: db.name.clone(),
            runs: mine
                .iter()
                .filter(|r| r.outcome != "running")
                .map(|r| {
                    (
                        r.finished_ms.unwrap_or(r.started_ms),
                        r.outcome == "success",
                        r.trigger.clone(),
                    )
                })
                .collect(),
            due,
        });
        rows.push(DatabaseRotation {
            key_since_ms: key_since(a, &db.name)?,
            database: db.name,
            policy,
            current_keys: keys.into_iter().map(|(c, l, _)| (c, l)).collect(),
            last_run: last_run.as_ref().map(RunSummary::of),
            next_due_ms,
            status,
            missing_keys,
            not_on_hsm,
        });
    }
    Ok((rows, timeline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(label: &str, db: &str, container: &str, since: i64) -> KeyOwner {
        KeyOwner {
            label: label.into(),
            database: db.into(),
            token_label: "tok".into(),
            since_ms: since,
            source: "rotation".into(),
            container: container.into(),
            retired_ms: None,
            retired_why: None,
        }
    }

    #[test]
    fn the_newest_key_of_each_container_is_current() {
        let owners = [
            owner("A1", "ORCL", "", 1),
            owner("A2", "ORCL", "", 5),
            owner("R1", "CDB", "", 1),
            owner("R2", "CDB", "CDB$ROOT", 3),
            owner("P2", "CDB", "PDB1", 3),
            owner("P1", "CDB", "PDB1", 2),
        ];
        let c = current_keys(&owners);
        let labels = |db: &str| {
            let mut v: Vec<String> = c[db].iter().map(|(_, l, _)| l.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(labels("ORCL"), ["A2"]);
        assert_eq!(
            labels("CDB"),
            ["P2", "R2"],
            "the migration's unnamed key gave way"
        );
    }

    #[test]
    fn a_retired_key_is_nobodys_current_key() {
        let mut rolled = owner("M1", "ORCL", "", 1);
        rolled.retired_ms = Some(2);
        rolled.retired_why = Some("its migration was rolled back".into());
        let owners = [rolled.clone(), owner("F1", "FIN", "", 1)];
        let c = current_keys(&owners);
        assert!(!c.contains_key("ORCL"), "{c:?}");
        assert_eq!(
            not_on_hsm(&owners, "ORCL").as_deref(),
            Some("its migration was rolled back")
        );
        assert_eq!(not_on_hsm(&owners, "FIN"), None, "in use");
        assert_eq!(
            not_on_hsm(&owners, "NEW"),
            None,
            "nothing recorded: not known"
        );
        // Migrated again: the new key is current, the database on the HSM.
        let again = [rolled, owner("M2", "ORCL", "", 3)];
        assert_eq!(current_keys(&again)["ORCL"][0].1, "M2");
        assert_eq!(not_on_hsm(&again, "ORCL"), None);
    }
}
