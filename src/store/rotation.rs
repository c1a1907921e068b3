//! Rows of `rotation_policies`, `rotation_runs` (with the lease that keeps two processes from
//! rotating one database at once) and `key_owners`.

use super::db::{Domain, Fault, Row, p};
use super::{Store, StoreError};
use crate::model::now_ms;

/// A database's rotation policy as stored; the schedule is the rotation workflow's text form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    pub database: String,
    pub schedule: String,
    /// `hsm` or `oracle`.
    pub way: String,
    pub next_due_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One rotation run as stored. Keys are HSM labels; lists are JSON arrays, checks the
/// workflow's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub database: String,
    pub way: String,
    /// `manual`, `scheduled` or `compromise`.
    pub trigger: String,
    pub reason: Option<String>,
    pub who: String,
    pub token_label: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// `running`, `success` or `failure`.
    pub outcome: String,
    pub old_keys: String,
    pub new_keys: String,
    /// A key this run generated on the HSM and has not (yet) seen activated.
    pub pending_key: Option<String>,
    pub failed_step: Option<String>,
    /// In what state a failed run left the database and the HSM.
    pub state_left: Option<String>,
    pub checks: String,
    pub lock_owner: Option<String>,
    pub lock_until_ms: Option<i64>,
    /// What the run was about to do, recorded before it did it (JSON; see
    /// `rotation::run::Intent`); kept when the run ends.
    pub intent: Option<String>,
}

impl RunRow {
    /// A run about to be claimed: `running`, no keys yet, nothing recorded but who asks for
    /// what (the store gives it its id and start).
    pub fn new(database: &str, way: &str, trigger: &str, who: &str) -> Self {
        Self {
            id: 0,
            database: database.to_owned(),
            way: way.to_owned(),
            trigger: trigger.to_owned(),
            reason: None,
            who: who.to_owned(),
            token_label: None,
            started_ms: 0,
            finished_ms: None,
            outcome: "running".into(),
            old_keys: "[]".into(),
            new_keys: "[]".into(),
            pending_key: None,
            failed_step: None,
            state_left: None,
            checks: "[]".into(),
            lock_owner: None,
            lock_until_ms: None,
            intent: None,
        }
    }
}

/// What a process asked for when it tried to start a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The run was started, with this id.
    Started(i64),
    /// Only a due database was asked for, and this one is not due (any more).
    NotDue,
    /// Another process is rotating it.
    Busy { owner: String, until_ms: i64 },
}

/// A master key recorded as a database's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    pub label: String,
    pub database: String,
    pub token_label: String,
    pub since_ms: i64,
    /// `migration`, `rotation`, `V$ENCRYPTION_KEYS`.
    pub source: String,
    /// The container whose key it is ("" for a non-CDB or unknown).
    pub container: String,
    /// When the key stopped being the database's master key with no key of that database on
    /// the HSM after it (its migration was rolled back); `None` while it is in use, or
    /// retired the ordinary way (a newer key of the database replaced it).
    pub retired_ms: Option<i64>,
    /// Why, for people.
    pub retired_why: Option<String>,
}

const POLICY_COLUMNS: &str = "database, schedule, way, next_due_ms, created_ms, updated_ms";
const RUN_COLUMNS: &str = "id, database, way, trigger, reason, who, token_label, started_ms, \
     finished_ms, outcome, old_keys, new_keys, pending_key, failed_step, state_left, checks, \
     lock_owner, lock_until_ms, intent";

fn policy(r: &Row<'_>) -> Result<PolicyRow, Fault> {
    Ok(PolicyRow {
        database: r.text(0)?,
        schedule: r.text(1)?,
        way: r.text(2)?,
        next_due_ms: r.int(3)?,
        created_ms: r.int(4)?,
        updated_ms: r.int(5)?,
    })
}

fn run(r: &Row<'_>) -> Result<RunRow, Fault> {
    Ok(RunRow {
        id: r.int(0)?,
        database: r.text(1)?,
        way: r.text(2)?,
        trigger: r.text(3)?,
        reason: r.opt_text(4)?,
        who: r.text(5)?,
        token_label: r.opt_text(6)?,
        started_ms: r.int(7)?,
        finished_ms: r.opt_int(8)?,
        outcome: r.text(9)?,
        old_keys: r.text(10)?,
        new_keys: r.text(11)?,
        pending_key: r.opt_text(12)?,
        failed_step: r.opt_text(13)?,
        state_left: r.opt_text(14)?,
        checks: r.text(15)?,
        lock_owner: r.opt_text(16)?,
        lock_until_ms: r.opt_int(17)?,
        intent: r.opt_text(18)?,
    })
}

impl Store {
    pub fn rotation_policy(&self, database: &str) -> Result<Option<PolicyRow>, StoreError> {
        self.query_opt(
            &format!("SELECT {POLICY_COLUMNS} FROM rotation_policies WHERE database = ?1"),
            p![database],
            policy,
        )
    }

    /// Every policy, by database name.
    pub fn rotation_policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        self.query_map(
            &format!("SELECT {POLICY_COLUMNS} FROM rotation_policies ORDER BY database"),
            p![],
            policy,
        )
    }

    /// Writes a database's policy (a new one, or over the old one).
    pub fn set_rotation_policy(&self, p: &PolicyRow) -> Result<(), StoreError> {
        let now = now_ms();
        self.execute(
            "INSERT INTO rotation_policies (database, schedule, way, next_due_ms, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (database) DO UPDATE SET schedule = excluded.schedule,
               way = excluded.way, next_due_ms = excluded.next_due_ms,
               updated_ms = excluded.updated_ms",
            p![p.database, p.schedule, p.way, p.next_due_ms, now],
        )
        .map(|_| ())
    }

    /// Removes a database's policy; whether there was one.
    pub fn remove_rotation_policy(&self, database: &str) -> Result<bool, StoreError> {
        self.execute(
            "DELETE FROM rotation_policies WHERE database = ?1",
            p![database],
        )
        .map(|n| n > 0)
    }

    /// Starts a rotation run of `row.database` for `owner` (lease until `until_ms`), in one
    /// transaction with the checks that decide it: with `due_at` set, only when the database's
    /// policy is due at that instant; never while another process holds an unexpired lease on a
    /// running one (`gone` says whether a holder's process is known to have ended: its run is
    /// then closed as interrupted first).
    pub fn claim_rotation(
        &mut self,
        row: &RunRow,
        owner: &str,
        until_ms: i64,
        due_at: Option<i64>,
        gone: &dyn Fn(&str) -> bool,
    ) -> Result<Claim, StoreError> {
        self.write_tx(Domain::Rotation, |tx| {
            if let Some(at) = due_at {
                let next = tx.query_opt(
                    "SELECT next_due_ms FROM rotation_policies WHERE database = ?1",
                    p![row.database],
                    |r| r.int(0),
                )?;
                if next.is_none_or(|n| n > at) {
                    return Ok(Claim::NotDue);
                }
            }
            let running = tx.query_opt(
                "SELECT id, lock_owner, lock_until_ms FROM rotation_runs
                 WHERE database = ?1 AND outcome = 'running'",
                p![row.database],
                |r| Ok((r.int(0)?, r.opt_text(1)?, r.opt_int(2)?)),
            )?;
            let now = now_ms();
            if let Some((id, holder, until)) = running {
                let holder = holder.unwrap_or_default();
                let alive = until.is_some_and(|u| u > now) && !gone(&holder);
                if alive {
                    return Ok(Claim::Busy {
                        owner: holder,
                        until_ms: until.unwrap_or(0),
                    });
                }
                tx.execute(
                    "UPDATE rotation_runs SET outcome = 'failure', finished_ms = ?2,
                       failed_step = coalesce(failed_step, 'interrupted'),
                       state_left = coalesce(state_left || ' ', '') || ?3,
                       lock_owner = NULL, lock_until_ms = NULL
                     WHERE id = ?1",
                    p![
                        id,
                        now,
                        "The run was interrupted (its process ended before it finished): the next run reads the database and the HSM before it does anything."
                    ],
                )?;
            }
            let id = tx
                .query_opt(
                    "INSERT INTO rotation_runs (database, way, trigger, reason, who, token_label,
                       started_ms, outcome, lock_owner, lock_until_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?8, ?9)
                     RETURNING id",
                    p![
                        row.database,
                        row.way,
                        row.trigger,
                        row.reason,
                        row.who,
                        row.token_label,
                        now,
                        owner,
                        until_ms
                    ],
                    |r| r.int(0),
                )?
                .ok_or_else(|| Fault::Decode("the new run was given no id".to_owned()))?;
            Ok(Claim::Started(id))
        })
    }

    /// Writes what a running run found so far (keys, checks, the failed step), renewing the
    /// lease; false when `owner` no longer holds it.
    pub fn save_rotation_run(
        &self,
        row: &RunRow,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE rotation_runs SET old_keys = ?3, new_keys = ?4, pending_key = ?5,
               failed_step = ?6, state_left = ?7, checks = ?8, token_label = ?9,
               lock_until_ms = ?10, intent = ?11
             WHERE id = ?1 AND lock_owner = ?2 AND outcome = 'running'",
            p![
                row.id,
                owner,
                row.old_keys,
                row.new_keys,
                row.pending_key,
                row.failed_step,
                row.state_left,
                row.checks,
                row.token_label,
                until_ms,
                row.intent
            ],
        )?;
        Ok(n == 1)
    }

    /// Ends a run with its outcome (`success` or `failure`) and gives the lease back; on
    /// success with `next_due_ms`, the database's policy is moved to it in the same
    /// transaction, so that no other process sees the run finished and the policy still due.
    pub fn finish_rotation_run(
        &mut self,
        row: &RunRow,
        owner: &str,
        next_due_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.write_tx(Domain::Rotation, |tx| {
            let n = tx.execute(
                "UPDATE rotation_runs SET outcome = ?3, finished_ms = ?4, old_keys = ?5,
                   new_keys = ?6, pending_key = ?7, failed_step = ?8, state_left = ?9,
                   checks = ?10, token_label = ?11, lock_owner = NULL, lock_until_ms = NULL,
                   intent = ?12
                 WHERE id = ?1 AND lock_owner = ?2 AND outcome = 'running'",
                p![
                    row.id,
                    owner,
                    row.outcome,
                    now_ms(),
                    row.old_keys,
                    row.new_keys,
                    row.pending_key,
                    row.failed_step,
                    row.state_left,
                    row.checks,
                    row.token_label,
                    row.intent
                ],
            )?;
            if n != 1 {
                return Ok(false);
            }
            if let Some(next) = next_due_ms {
                tx.execute(
                    "UPDATE rotation_policies SET next_due_ms = ?2, updated_ms = ?3
                     WHERE database = ?1",
                    p![row.database, next, now_ms()],
                )?;
            }
            Ok(true)
        })
    }

    pub fn rotation_run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        self.query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM rotation_runs WHERE id = ?1"),
            p![id],
            run,
        )
    }

    /// Runs started at or after `since_ms`, of one database or of all, oldest first.
    pub fn rotation_runs(
        &self,
        database: Option<&str>,
        since_ms: i64,
    ) -> Result<Vec<RunRow>, StoreError> {
        // The CAST types the parameter for PostgreSQL, which cannot infer it from IS NULL.
        self.query_map(
            &format!(
                "SELECT {RUN_COLUMNS} FROM rotation_runs
                 WHERE (CAST(?1 AS TEXT) IS NULL OR database = ?1) AND started_ms >= ?2
                 ORDER BY started_ms, id"
            ),
            p![database, since_ms],
            run,
        )
    }

    /// The run of a database that is running, if any.
    pub fn running_rotation(&self, database: &str) -> Result<Option<RunRow>, StoreError> {
        self.query_opt(
            &format!(
                "SELECT {RUN_COLUMNS} FROM rotation_runs WHERE database = ?1 AND outcome = 'running'"
            ),
            p![database],
            run,
        )
    }

    /// The newest finished run of a database.
    pub fn last_rotation_run(&self, database: &str) -> Result<Option<RunRow>, StoreError> {
        self.query_opt(
            &format!(
                "SELECT {RUN_COLUMNS} FROM rotation_runs
                 WHERE database = ?1 AND outcome <> 'running'
                 ORDER BY started_ms DESC, id DESC LIMIT 1"
            ),
            p![database],
            run,
        )
    }

    /// Records that a master key (by its HSM label) belongs to a database, from now on (a
    /// migration or a rotation made it the active one).
    pub fn set_key_owner(
        &self,
        label: &str,
        database: &str,
        token_label: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        self.record_key_owner(&KeyOwner {
            label: label.to_owned(),
            database: database.to_owned(),
            token_label: token_label.to_owned(),
            since_ms: now_ms(),
            source: source.to_owned(),
            container: String::new(),
            retired_ms: None,
            retired_why: None,
        })
    }

    /// Records a key as a database's, in use; a label recorded already is given the new owner
    /// (and is no longer retired).
    pub fn record_key_owner(&self, k: &KeyOwner) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO key_owners (label, database, token_label, since_ms, source, container)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (label) DO UPDATE SET database = excluded.database,
               token_label = excluded.token_label, since_ms = excluded.since_ms,
               source = excluded.source, container = excluded.container,
               retired_ms = NULL, retired_why = NULL",
            p![
                k.label,
                k.database,
                k.token_label,
                k.since_ms,
                k.source,
                k.container
            ],
        )
        .map(|_| ())
    }

    /// Records keys seen in a database's V$ENCRYPTION_KEYS that no database claims yet; a key
    /// recorded already keeps its owner. How many were new.
    pub fn claim_seen_keys(&mut self, keys: &[KeyOwner]) -> Result<usize, StoreError> {
        self.write_tx(Domain::KeyOwners, |tx| {
            let mut n = 0;
            for k in keys {
                n += tx.execute(
                    "INSERT INTO key_owners (label, database, token_label, since_ms, source, container)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (label) DO NOTHING",
                    p![k.label, k.database, k.token_label, k.since_ms, k.source, k.container],
                )? as usize;
            }
            Ok(n)
        })
    }

    /// Retires every key of `database` still in use (a rolled-back migration: the database
    /// reads its keys from the file wallet again, and none on the HSM is its master key); the
    /// claims stay, with when and why. The labels retired.
    pub fn retire_key_owners(&self, database: &str, why: &str) -> Result<Vec<String>, StoreError> {
        let mut labels = self.query_map(
            "UPDATE key_owners SET retired_ms = ?2, retired_why = ?3
             WHERE database = ?1 AND retired_ms IS NULL RETURNING label",
            p![database, now_ms(), why],
            |r| r.text(0),
        )?;
        labels.sort();
        Ok(labels)
    }

    /// Every recorded key, by database then age.
    pub fn key_owners(&self) -> Result<Vec<KeyOwner>, StoreError> {
        self.query_map(
            "SELECT label, database, token_label, since_ms, source, container, retired_ms,
               retired_why FROM key_owners ORDER BY database, since_ms, label",
            p![],
            |r| {
                Ok(KeyOwner {
                    label: r.text(0)?,
                    database: r.text(1)?,
                    token_label: r.text(2)?,
                    since_ms: r.int(3)?,
                    source: r.text(4)?,
                    container: r.text(5)?,
                    retired_ms: r.opt_int(6)?,
                    retired_why: r.opt_text(7)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_row(db: &str) -> RunRow {
        RunRow::new(db, "hsm", "scheduled", "tester")
    }

    #[test]
    fn one_running_rotation_per_database_and_due_decided_in_the_claim() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let later = now_ms() + 60_000;
        let alive = |_: &str| false;
        assert_eq!(
            s.claim_rotation(&run_row("ORCL"), "a", later, Some(now_ms()), &alive)
                .unwrap(),
            Claim::NotDue,
            "no policy: never due"
        );
        s.set_rotation_policy(&PolicyRow {
            database: "ORCL".into(),
            schedule: "every:90d".into(),
            way: "hsm".into(),
            next_due_ms: now_ms() - 1000,
            created_ms: 0,
            updated_ms: 0,
        })
        .unwrap();
        let Claim::Started(id) = s
            .claim_rotation(&run_row("ORCL"), "a", later, Some(now_ms()), &alive)
            .unwrap()
        else {
            panic!("due and free")
        };
        assert!(matches!(
            s.claim_rotation(&run_row("ORCL"), "b", later, Some(now_ms()), &alive)
                .unwrap(),
            Claim::Busy { owner, .. } if owner == "a"
        ));
        let mut r = s.rotation_run(id).unwrap().unwrap();
        r.pending_key = Some("ORACLE.TDE.HSM.MK.06AA".into());
        assert!(!s.save_rotation_run(&r, "b", later).unwrap(), "not b's");
        assert!(s.save_rotation_run(&r, "a", later).unwrap());
        r.outcome = "success".into();
        let next = now_ms() + 90 * 86_400_000;
        assert!(s.finish_rotation_run(&r, "a", Some(next)).unwrap());
        assert_eq!(
            s.rotation_policy("ORCL").unwrap().unwrap().next_due_ms,
            next
        );
        assert_eq!(
            s.claim_rotation(&run_row("ORCL"), "b", later, Some(now_ms()), &alive)
                .unwrap(),
            Claim::NotDue,
            "rotated: no longer due"
        );
        let last = s.last_rotation_run("ORCL").unwrap().unwrap();
        assert_eq!(last.outcome, "success");
        assert_eq!(last.pending_key.as_deref(), Some("ORACLE.TDE.HSM.MK.06AA"));

        // A run whose process is gone is closed as interrupted and a new one starts.
        let Claim::Started(stale) = s
            .claim_rotation(&run_row("ORCL"), "dead", later, None, &alive)
            .unwrap()
        else {
            panic!("free")
        };
        let gone = |h: &str| h == "dead";
        assert!(matches!(
            s.claim_rotation(&run_row("ORCL"), "c", later, None, &gone)
                .unwrap(),
            Claim::Started(_)
        ));
        let old = s.rotation_run(stale).unwrap().unwrap();
        assert_eq!(old.outcome, "failure");
        assert_eq!(old.failed_step.as_deref(), Some("interrupted"));
        assert_eq!(s.rotation_runs(Some("ORCL"), 0).unwrap().len(), 3);
    }

    #[test]
    fn seen_keys_never_take_a_recorded_key_from_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        s.set_key_owner("ORACLE.TDE.HSM.MK.06AA", "ORCL", "tok", "migration")
            .unwrap();
        let seen = |label: &str| KeyOwner {
            label: label.into(),
            database: "OTHER".into(),
            token_label: "tok".into(),
            since_ms: 5,
            source: "V$ENCRYPTION_KEYS".into(),
            container: "CDB$ROOT".into(),
            retired_ms: None,
            retired_why: None,
        };
        let n = s
            .claim_seen_keys(&[
                seen("ORACLE.TDE.HSM.MK.06AA"),
                seen("ORACLE.TDE.HSM.MK.06BB"),
            ])
            .unwrap();
        assert_eq!(n, 1);
        let owners = s.key_owners().unwrap();
        let owner = |l: &str| {
            owners
                .iter()
                .find(|k| k.label == l)
                .unwrap()
                .database
                .clone()
        };
        assert_eq!(owner("ORACLE.TDE.HSM.MK.06AA"), "ORCL");
        assert_eq!(owner("ORACLE.TDE.HSM.MK.06BB"), "OTHER");
    }

    #[test]
    fn a_retired_key_stays_retired_until_it_is_recorded_in_use_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        s.set_key_owner("MK.A", "ORCL", "tok", "migration").unwrap();
        s.set_key_owner("MK.B", "OTHER", "tok", "migration")
            .unwrap();
        assert_eq!(
            s.retire_key_owners("ORCL", "rolled back").unwrap(),
            ["MK.A"]
        );
        assert!(s.retire_key_owners("ORCL", "again").unwrap().is_empty());
        let get = |s: &Store, l: &str| {
            s.key_owners()
                .unwrap()
                .into_iter()
                .find(|k| k.label == l)
                .unwrap()
        };
        assert_eq!(get(&s, "MK.A").retired_why.as_deref(), Some("rolled back"));
        assert_eq!(get(&s, "MK.B").retired_ms, None, "another database's key");
        // Seen in V$ENCRYPTION_KEYS again: the claim keeps its retirement.
        let mut seen = get(&s, "MK.A");
        seen.retired_ms = None;
        seen.source = "V$ENCRYPTION_KEYS".into();
        s.claim_seen_keys(&[seen]).unwrap();
        assert!(get(&s, "MK.A").retired_ms.is_some());
        s.set_key_owner("MK.A", "ORCL", "tok", "rotation").unwrap();
        assert_eq!(get(&s, "MK.A").retired_ms, None, "in use again");
    }
}
