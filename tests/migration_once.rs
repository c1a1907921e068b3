//! A migration answers one person at a time and stays what it was: a finished migration is not
//! hidden by a second one started by running the wizard again, a confirmation given for one step
//! runs that step or nothing, and a lease is neither kept by a pid the system gave to another
//! process nor lost while a person is still pasting an answer. Through the real binary on the
//! Rehearsal demo, and the workflow with a scripted DBA who takes their time.

mod common;

use common::{Env, run};
use std::process::{Child, Stdio};
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN};
use tdekey::model::now_ms;

const WALLET_PW: &str = "demo-wallet-1234";
const PASSPHRASE: &str = "a long passphrase for tests";

/// `tdekey migrate <verb> "Rehearsal demo" <args>` with the demo secrets in the environment.
fn migrate(env: &Env, verb: &str, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(["migrate", verb, DEMO_DATABASE_NAME])
            .args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PW)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    })
}

fn step(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .cloned()
        .unwrap()
}

fn migration_starts(env: &Env) -> Vec<serde_json::Value> {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "migration.start", "--json"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_finished_migration_stays_finished_until_a_person_starts_a_new_one() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "run", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let done = common::migration_status(&env, DEMO_DATABASE_NAME);
    let id = done["id"].as_i64().unwrap();
    assert!(id > 0, "{done}");
    let key = done["new_key"].as_str().unwrap().to_owned();
    assert!(done["finished_ms"].is_i64());
    let starts = migration_starts(&env).len();

    // Running the wizard again starts nothing and names the finished migration.
    for verb in ["next", "run"] {
        let (code, out, err) = migrate(&env, verb, &["--yes"]);
        assert_eq!(code, 0, "{verb}: {out}{err}");
        assert!(
            out.contains(&format!(
                "(number {id}) is finished, with master key {key}: nothing to run"
            )) && out.contains("tdekey migrate start"),
            "{out}"
        );
        assert_eq!(
            common::migration_status(&env, DEMO_DATABASE_NAME),
            done,
            "status still speaks of the finished migration"
        );
    }
    // A confirmation given for a step of it runs nothing either.
    let (code, _, err) = migrate(&env, "next", &["--confirm", "--step", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("The step you confirmed was not run."), "{err}");
    // `start` alone refuses too; only --new leaves it behind.
    let (code, _, err) = migrate(&env, "start", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is finished"), "{err}");
    assert_eq!(migration_starts(&env).len(), starts, "nothing was started");

    let (code, out, err) = migrate(&env, "start", &["--new"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("migration number {id} (finished) stays")),
        "{out}"
    );
    let fresh = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_ne!(fresh["id"].as_i64().unwrap(), id);
    assert_eq!(step(&fresh, "choose")["status"], "not-started");
    assert!(fresh["new_key"].is_null());
    let starts_now = migration_starts(&env);
    assert!(
        starts_now.iter().any(|e| {
            let d: serde_json::Value =
                serde_json::from_str(e["details"].as_str().unwrap_or("{}")).unwrap();
            d["after"]["migration"] == id && d["after"]["status"] == "done"
        }),
        "the new start names the finished one: {starts_now:?}"
    );
    // A second `start` while that one is under way is refused.
    let (code, _, err) = migrate(&env, "start", &["--new"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is under way"), "{err}");
    common::audit_intact(&env);
}

#[test]
fn a_confirmation_for_one_step_runs_that_step_or_nothing() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "next", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let before = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(step(&before, "choose")["status"], "done", "{before}");
    let id = before["id"].as_i64().unwrap();
    // Where the migration stands now (the first step neither done nor skipped).
    let second = before["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| !matches!(s["status"].as_str(), Some("done" | "skipped")))
        .and_then(|s| tdekey::migration::StepId::parse(s["step"].as_str().unwrap()))
        .unwrap();
    let second_name = second.as_str();
    let n = second.number().to_string();
    assert_eq!(step(&before, second_name)["attempts"], 0);

    // Confirmed for step 1, which another run already finished: nothing runs.
    let (code, out, err) = migrate(&env, "next", &["--yes", "--step", "1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("You confirmed step 1 (")
            && err.contains(&format!("now stands at step {n} ({})", second.title()))
            && err.contains("nothing was run"),
        "{err}"
    );
    // Confirmed for another migration: nothing runs.
    let (code, _, err) = migrate(
        &env,
        "next",
        &["--yes", "--step", &n, "--migration", &(id + 7).to_string()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("of migration number {}", id + 7))
            && err.contains(&format!("stands at migration number {id}")),
        "{err}"
    );
    // A step that does not exist is named.
    let (code, _, err) = migrate(&env, "next", &["--yes", "--step", "R2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not a step of the plan"), "{err}");
    assert_eq!(
        common::migration_status(&env, DEMO_DATABASE_NAME),
        before,
        "the refusals changed nothing"
    );

    // The step the migration stands at runs.
    let (code, out, err) = migrate(
        &env,
        "next",
        &["--yes", "--step", &n, "--migration", &id.to_string()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let after = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(step(&after, second_name)["attempts"], 1, "{after}");
    // A rollback step confirmed while none is under way runs nothing.
    let (code, _, err) = migrate(&env, "rollback", &["--confirm", "--step", "R1"]);
    assert_ne!(code, 0, "{err}");
    assert!(after["rollback"].is_null());
    common::audit_intact(&env);
}

/// A process that runs until its stdin closes.
fn child() -> Child {
    std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Gives the active migration's lease to `owner` for an hour.
fn hand_lease_to(env: &Env, owner: &str) {
    let mut store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let row = store.active_migration(DEMO_DATABASE_NAME).unwrap().unwrap();
    assert_eq!(
        store
            .lease_migration(row.id, owner, now_ms() + 3_600_000, true)
            .unwrap(),
        None
    );
}

#[test]
fn a_lease_is_kept_by_its_living_holder_only() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "next", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let mut holder = child();
    let pid = holder.id();
    let start = tdekey::migration::process_start_time(pid).expect("/proc/<pid>/stat");

    // The holder runs: its lease holds, whether its owner names the start time or not (an owner
    // an older tdekey wrote).
    for owner in [
        format!("{host}:{pid}:{start}:0badf00d"),
        format!("{host}:{pid}:0badf00d"),
    ] {
        hand_lease_to(&env, &owner);
        let (code, out, err) = migrate(&env, "next", &["--yes"]);
        assert_eq!(code, 1, "{owner}: {out}{err}");
        assert!(
            err.contains(&format!(
                "Another tdekey ({owner}) is driving the migration"
            )),
            "{err}"
        );
    }
    let before = common::migration_status(&env, DEMO_DATABASE_NAME);

    // The same pid with another start time is another process: the holder is gone.
    hand_lease_to(&env, &format!("{host}:{pid}:{}:0badf00d", start + 1));
    let (code, out, err) = migrate(&env, "next", &["--yes"]);
    assert_eq!(code, 0, "a reused pid does not keep the lease: {out}{err}");
    assert_ne!(common::migration_status(&env, DEMO_DATABASE_NAME), before);

    // A holder that ended is gone too.
    drop(holder.stdin.take());
    holder.wait().unwrap();
    hand_lease_to(&env, &format!("{host}:{pid}:{start}:0badf00d"));
    let (code, out, err) = migrate(&env, "next", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    common::audit_intact(&env);
}

const ROOT: &str = "/u01/app/oracle/admin/FIN/wallet";

/// A DBA who answers step 1's queries as a non-CDB on a file wallet would, but only once told
/// to: the first question says it was asked and waits (a person still pasting).
struct SlowDba {
    asked: Option<std::sync::mpsc::Sender<()>>,
    go: std::sync::mpsc::Receiver<()>,
}

impl tdekey::oracle::Operator for SlowDba {
    fn ask(
        &mut self,
        request: &tdekey::tde::request::Request,
        _statement: &tdekey::tde::sql::Statement,
        _problem: Option<&str>,
    ) -> Result<String, tdekey::oracle::OracleError> {
        use tdekey::tde::request::{ParameterName, Request};
        if let Some(asked) = self.asked.take() {
            asked.send(()).unwrap();
            // Dropped without a word when the test fails first: go on.
            let _ = self.go.recv();
        }
        Ok(match request {
            Request::QueryPrivileges => "\"KIND\",\"NAME\"\n\"PRIVILEGE\",\"ALTER SYSTEM\"\n\"PRIVILEGE\",\"ADMINISTER KEY MANAGEMENT\"\n\"PRIVILEGE\",\"SELECT ANY DICTIONARY\"\n\n3 rows selected.\n".to_owned(),
            Request::QueryWallet => format!(
                "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"FILE\",\"{ROOT}/tde/\",\"OPEN\",\"PASSWORD\",\"SINGLE\",\"NONE\",\"YES\",0\n"
            ),
            Request::QueryKeys => "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CON_ID\"\n\"AQhcvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"initial\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"12-MAR-24 10.02.11.482113 AM +00:00\",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"YES\",0\n".to_owned(),
            Request::ShowParameter(ParameterName::WalletRoot) => format!(
                "\"NAME\",\"TYPE\",\"VALUE\"\n\"wallet_root\",\"string\",\"{ROOT}\"\n"
            ),
            Request::ShowParameter(ParameterName::TdeConfiguration) => "\"NAME\",\"TYPE\",\"VALUE\"\n\"tde_configuration\",\"string\",\"KEYSTORE_CONFIGURATION=FILE\"\n".to_owned(),
            _ => {
                return Err(tdekey::oracle::OracleError::Cancelled {
                    title: request.title(),
                });
            }
        })
    }
}

#[test]
fn a_lease_is_renewed_while_a_person_pastes_and_no_one_takes_it_over() {
    use tdekey::audit::Auditor;
    use tdekey::migration::{self, Context, Inputs, MigrationError};
    let env = Env::new();
    let mut hsm = env.token("fin-token", "fin-pin-1234");
    let mut a = Auditor::open(&env.data).unwrap();
    tdekey::databases::save(&mut a, &common::manual_profile("FIN", ROOT)).unwrap();
    // A lease of 1.5 s instead of ten minutes: the person below takes longer than that.
    let lease_ms = 1_500;
    a.store()
        .set_setting(migration::LEASE_SETTING, &lease_ms.to_string())
        .unwrap();
    let (asked_tx, asked) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let data = env.data.clone();
    std::thread::scope(|s| {
        // Owned here, so that a failing assertion below releases the DBA as it unwinds.
        let go = go;
        let worker = s.spawn(move || {
            let mut dba = SlowDba {
                asked: Some(asked_tx),
                go: go_rx,
            };
            let mut ctx = Context {
                data: &data,
                hsm: &mut hsm,
                operator: Some(&mut dba),
                db_password: None,
                pin_format: tdekey::model::PinFormat::Plain,
                inputs: Inputs::default(),
            };
            migration::next(&mut a, &mut ctx, "FIN")
        });
        // The barrier: the step now waits for the person's paste.
        asked.recv().unwrap();
        let store = tdekey::store::Store::open(&env.data.database()).unwrap();
        let lease = || {
            let row = store.active_migration("FIN").unwrap().unwrap();
            (row.lock_owner.unwrap(), row.lock_until_ms.unwrap())
        };
        let (owner, first_end) = lease();
        // The person is still pasting when the lease, unrenewed, would have ended.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while now_ms() <= first_end || lease().1 <= first_end {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease was never renewed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (still, end) = lease();
        assert_eq!(still, owner);
        assert!(end > first_end, "renewed past its first end");
        // Another tdekey is refused: the holder runs and its lease did not run out.
        let mut b = Auditor::open(&env.data).unwrap();
        match migration::override_step(&mut b, "FIN", "another process tries to take over") {
            Err(MigrationError::Busy { owner: held, .. }) => assert_eq!(held, owner),
            other => panic!("expected Busy, got {other:?}"),
        }
        // The person pastes: the step ends in the process that held the lease all along.
        go.send(()).unwrap();
        let p = worker.join().unwrap().expect("not taken over");
        assert_eq!(p.step, migration::StepId::Choose);
        let row = store.active_migration("FIN").unwrap().unwrap();
        assert_eq!(row.lock_owner, None, "given back at the end of the step");
    });
}

/// A DBA answering as a united CDB whose PDB keystore is closed (so a rotation stops at its
/// check, sending nothing), who takes their time over the first question.
struct SlowCdb {
    root: String,
    pdb: String,
    asked: Option<std::sync::mpsc::Sender<()>>,
    go: std::sync::mpsc::Receiver<()>,
}

impl tdekey::oracle::Operator for SlowCdb {
    fn ask(
        &mut self,
        request: &tdekey::tde::request::Request,
        _statement: &tdekey::tde::sql::Statement,
        _problem: Option<&str>,
    ) -> Result<String, tdekey::oracle::OracleError> {
        use tdekey::tde::request::Request;
        if let Some(asked) = self.asked.take() {
            asked.send(()).unwrap();
            // Dropped without a word when the test fails first: go on.
            let _ = self.go.recv();
        }
        let t = "02-JAN-26 10.00.00.000000 AM +00:00";
        let row = |id: &str, con: u32, pdb: &str| {
            format!(
                "\"{id}\",\"\",\"{t}\",\"{t}\",\"SYS\",\"HSM\",\"LOCAL\",\"NO\",\"{pdb}\",\"{con}\",\"TDE IN PDB\",\"{con}\"\n"
            )
        };
        Ok(match request {
            Request::QueryWallet => "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"HSM\",\"\",\"OPEN\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",1\n\"FILE\",\"/u01/wr/tde/\",\"OPEN\",\"PASSWORD\",\"SECONDARY\",\"NONE\",\"NO\",1\n\"HSM\",\"\",\"CLOSED\",\"HSM\",\"PRIMARY\",\"UNITED\",\"UNDEFINED\",3\n".to_owned(),
            Request::QueryKeys => format!(
                "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"CREATOR\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CREATOR_PDBNAME\",\"CREATOR_PDBID\",\"KEY_USE\",\"CON_ID\"\n{}{}",
                row(&self.root, 1, "CDB$ROOT"),
                row(&self.pdb, 3, "PDB1")
            ),
            _ => {
                return Err(tdekey::oracle::OracleError::Cancelled {
                    title: request.title(),
                });
            }
        })
    }
}

#[test]
fn a_rotation_runs_lease_is_renewed_while_a_person_pastes() {
    use tdekey::audit::Auditor;
    use tdekey::hsm::demo::{DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER};
    use tdekey::model::{PinFormat, TokenSelector};
    use tdekey::rotation::{self, RotateRequest, Way};
    use tdekey::store::{Claim, Store};
    let env = common::demo();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (code, out, err) = run({
            let mut c = env.tdekey();
            c.args(["key", "generate", "--json"])
                .env("TDEKEY_PIN", DEMO_USER_PIN);
            c
        });
        assert_eq!(code, 0, "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        ids.push(v["use_key_id"].as_str().unwrap().to_owned());
    }
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", "CDBM", "--connector", "manual"])
            .args([
                "--multitenant",
                "cdb-united",
                "--hsm-profile",
                DEMO_PROFILE_NAME,
            ]);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    let mut a = Auditor::open(&env.data).unwrap();
    let lease_ms = 1_500;
    a.store()
        .set_setting(tdekey::migration::LEASE_SETTING, &lease_ms.to_string())
        .unwrap();
    let mut hsm = tdekey::hsm::Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login(
        DEMO_USER,
        &tdekey::secret::Secret::from(DEMO_USER_PIN),
        PinFormat::Plain,
    )
    .unwrap();
    let (asked_tx, asked) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let data = env.data.clone();
    std::thread::scope(|s| {
        // Owned here, so that a failing assertion below releases the DBA as it unwinds.
        let go = go;
        let worker = s.spawn(move || {
            let mut dba = SlowCdb {
                root: ids[0].clone(),
                pdb: ids[1].clone(),
                asked: Some(asked_tx),
                go: go_rx,
            };
            let mut ctx = rotation::Context {
                data: &data,
                hsm: &mut hsm,
                operator: Some(&mut dba),
                db_password: None,
                pin_format: PinFormat::Plain,
                hsm_password: tdekey::secret::Secret::from(DEMO_USER_PIN),
            };
            let req = RotateRequest::manual(Some(Way::Oracle), None);
            rotation::rotate(&mut a, &mut ctx, "CDBM", &req)
        });
        // The barrier: the run now waits for the person's paste.
        asked.recv().unwrap();
        let mut store = Store::open(&env.data.database()).unwrap();
        let running = |store: &Store| {
            let runs = store.rotation_runs(Some("CDBM"), 0).unwrap();
            assert_eq!(runs.len(), 1, "{runs:?}");
            runs[0].clone()
        };
        let first = running(&store);
        assert_eq!(first.outcome, "running");
        let owner = first.lock_owner.clone().unwrap();
        let first_end = first.lock_until_ms.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while now_ms() <= first_end || running(&store).lock_until_ms.unwrap() <= first_end {
            assert!(
                std::time::Instant::now() < deadline,
                "the lease was never renewed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Another process claiming a run of CDBM now is refused: the holder runs, its lease
        // did not run out.
        let mut other = first.clone();
        other.lock_owner = None;
        other.lock_until_ms = None;
        match store
            .claim_rotation(
                &other,
                "another:1:1:00000000",
                now_ms() + lease_ms,
                None,
                &tdekey::migration::holder_gone,
            )
            .unwrap()
        {
            Claim::Busy { owner: held, .. } => assert_eq!(held, owner),
            other => panic!("expected Busy, got {other:?}"),
        }
        go.send(()).unwrap();
        let report = worker
            .join()
            .unwrap()
            .expect("the run was not closed by another");
        assert_eq!(
            report.failed_step.as_deref(),
            Some("check"),
            "{}",
            report.message
        );
        assert_ne!(running(&store).outcome, "running");
    });
}

fn rollback_step(v: &serde_json::Value, name: &str) -> String {
    v["rollback"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
fn a_rollback_confirmation_answers_its_step_and_after_a_rollback_the_wizard_starts_again() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "run", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let id = common::migration_status(&env, DEMO_DATABASE_NAME)["id"]
        .as_i64()
        .unwrap();
    let (code, out, err) = migrate(
        &env,
        "rollback",
        &["--reason", "Stepping back by hand, one restart at a time."],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "tdekey migrate rollback {DEMO_DATABASE_NAME:?} --confirm --step R1"
        )),
        "the line that waits names the step: {out}"
    );
    let (code, out, err) = migrate(&env, "rollback", &["--confirm", "--step", "R1"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(rollback_step(&v, "file-first"), "done");
    assert_eq!(rollback_step(&v, "file-only"), "needs-attention", "{out}");

    // The same confirmation again (a second terminal, a repeated command): the restart it
    // answered is behind, and the one now waiting is not confirmed by it.
    let (code, out, err) = migrate(&env, "rollback", &["--confirm", "--step", "R1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("You confirmed rollback step R1 (")
            && err.contains("now stands at rollback step R3 (")
            && err.contains("nothing was run"),
        "{err}"
    );
    assert_eq!(common::migration_status(&env, DEMO_DATABASE_NAME), v);

    let (code, out, err) = migrate(
        &env,
        "rollback",
        &["--confirm", "--step", "R3", "--migration", &id.to_string()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is rolled back"), "{out}");
    let rolled_back = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(rolled_back["id"], id);

    // After a rollback, running the wizard again is the normal path: a new migration starts,
    // recorded with the one before it.
    let (code, out, err) = migrate(&env, "next", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let fresh = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_ne!(fresh["id"], id);
    assert!(fresh["rollback"].is_null());
    assert_eq!(step(&fresh, "choose")["attempts"], 1);
    assert!(migration_starts(&env).iter().any(|e| {
        let d: serde_json::Value =
            serde_json::from_str(e["details"].as_str().unwrap_or("{}")).unwrap();
        d["after"]["migration"] == id && d["after"]["status"] == "rolled-back"
    }));
    common::audit_intact(&env);
}
