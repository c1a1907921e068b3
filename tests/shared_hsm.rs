//! On a shared HSM: the migration and the Oracle-way rotation find their new key by the id
//! V$ENCRYPTION_KEYS gives, so a key another database makes meanwhile changes nothing; a
//! migrate statement interrupted before Oracle answered is settled from both sides (no dead
//! end); an object whose attributes cannot be read is listed as such; key generation and the
//! checkpoint HMAC are proved with session keys; the dry run logs in and reads each database.

mod common;

use common::{Env, demo, run};
use tdekey::audit::Auditor;
use tdekey::hsm::Hsm;
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::rotation::{self, RotateRequest, Way};
use tdekey::secret::Secret;

const PASSPHRASE: &str = "a long backup passphrase 7";

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    })
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A key "another database" makes on the shared token (`tdekey key generate`): its label.
fn other_database_key(env: &Env) -> String {
    let (code, out, err) = tdekey(env, &["key", "generate", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    json(&out)["label"]
        .as_str()
        .unwrap_or_else(|| panic!("a label in {out}"))
        .to_owned()
}

fn labels(env: &Env) -> Vec<String> {
    common::demo_master_key_labels(env)
}

/// Runs `migrate next` until the current step is `step`.
fn next_until(env: &Env, step: &str) {
    for _ in 0..20 {
        let v = common::migration_status(env, DEMO_DATABASE_NAME);
        let current = v["steps"].as_array().and_then(|steps| {
            steps
                .iter()
                .find(|s| !matches!(s["status"].as_str(), Some("done" | "skipped")))
                .map(|s| s["step"].as_str().unwrap_or("").to_owned())
        });
        if current.as_deref() == Some(step) {
            return;
        }
        let (code, out, err) = tdekey(env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    panic!("never reached {step}");
}

/// Marks the migrate step as sent but never answered, as a kill between sending the
/// statement and recording its answer leaves it.
fn leave_migrate_in_flight(env: &Env) {
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    let (id, state): (i64, String) = c
        .query_row(
            "SELECT id, state FROM migrations WHERE status = 'active'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&state).unwrap();
    for s in v["steps"].as_array_mut().unwrap() {
        if s["step"] == "migrate" {
            s["status"] = "not-started".into();
            s["sent"] = serde_json::json!([{
                "title": "Migrate the master key to the HSM",
                "statement": "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"<hidden>\" MIGRATE USING \"<hidden>\" WITH BACKUP USING 'tdekey_pre_hsm';",
                "connector": "Rehearsal (simulated Oracle 19c)",
                "answer": null,
                "at_ms": 1
            }]);
        }
    }
    c.execute(
        "UPDATE migrations SET state = ?2, lock_owner = NULL WHERE id = ?1",
        rusqlite::params![id, v.to_string()],
    )
    .unwrap();
}

fn audit(env: &Env, action: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = tdekey(env, &["audit", "list", "--action", action, "--json"]);
    assert_eq!(code, 0, "{err}");
    // Each entry's details, parsed from the JSON text the list gives.
    json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(d) = e["details"].as_str() {
                e["details"] = json(d);
            }
            e
        })
        .collect()
}

#[test]
fn a_key_another_database_makes_during_a_migration_does_not_fail_its_verification() {
    let env = demo();
    next_until(&env, "migrate");
    let before = labels(&env);
    // Between step 1 and step 10, another database on the shared HSM gets a master key.
    let other = other_database_key(&env);
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(common::step_status(&v, "verify"), "done", "{v}");
    let after = labels(&env);
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    let new_key = v["new_key"].as_str().unwrap();
    assert_ne!(
        new_key, other,
        "the other database's key is not taken for this one"
    );
    assert!(after.contains(&other) && after.contains(&new_key.to_owned()));
    assert!(!before.contains(&new_key.to_owned()));
    // The steps looked up labels, never listed the whole token.
    let listed: Vec<_> = audit(&env, "hsm.inventory")
        .into_iter()
        .filter(|e| e["details"].get("labels").is_none())
        .collect();
    assert!(
        listed.is_empty(),
        "a full inventory during the migration: {listed:?}"
    );
    common::audit_intact(&env);
}

/// Answers as a DBA for a non-CDB on the demo token whose SET KEY makes a new key (`new`) and,
/// while it runs, another database's key appears on the shared token (`other`, made through
/// the real binary).
struct SetKeyDba<'e> {
    env: &'e Env,
    old: String,
    new: String,
    other: Option<String>,
    rekeyed: bool,
}

impl SetKeyDba<'_> {
    fn key_row(id: &str, activated: &str) -> String {
        format!(
            "\"{id}\",\"\",\"{activated}\",\"{activated}\",\"SYS\",\"HSM\",\"LOCAL\",\"NO\",\"\",\"0\",\"TDE IN PDB\",\"0\"\n"
        )
    }
}

impl tdekey::oracle::Operator for SetKeyDba<'_> {
    fn ask(
        &mut self,
        request: &tdekey::tde::request::Request,
        _statement: &tdekey::tde::sql::Statement,
        _problem: Option<&str>,
    ) -> Result<String, tdekey::oracle::OracleError> {
        use tdekey::tde::request::Request;
        let t1 = "02-JAN-26 10.00.00.000000 AM +00:00";
        let t2 = "03-JAN-26 10.00.00.000000 AM +00:00";
        Ok(match request {
            Request::QueryWallet => "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"HSM\",\"\",\"OPEN\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",0\n\"FILE\",\"/u01/wr/tde/\",\"OPEN\",\"PASSWORD\",\"SECONDARY\",\"NONE\",\"NO\",0\n".to_owned(),
            Request::QueryKeys => {
                let mut s = "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"CREATOR\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CREATOR_PDBNAME\",\"CREATOR_PDBID\",\"KEY_USE\",\"CON_ID\"\n".to_owned();
                s.push_str(&Self::key_row(&self.old, t1));
                if self.rekeyed {
                    s.push_str(&Self::key_row(&self.new, t2));
                }
                s
            }
            Request::SetKey { .. } => {
                self.rekeyed = true;
                self.other = Some(other_database_key(self.env));
                "keystore altered.\n".to_owned()
            }
            other => panic!("not expected here: {}", other.title()),
        })
    }
}

#[test]
fn an_oracle_way_rotation_verifies_its_key_while_another_database_adds_one() {
    let env = demo();
    let (code, out, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "SHARED",
            "--connector",
            "manual",
            "--hsm-profile",
            tdekey::hsm::demo::DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    // The database's current key, and the one its SET KEY will make.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (code, out, err) = tdekey(&env, &["key", "generate", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        ids.push(json(&out)["use_key_id"].as_str().unwrap().to_owned());
    }
    let mut a = Auditor::open(&env.data).unwrap();
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let mut dba = SetKeyDba {
        env: &env,
        old: ids[0].clone(),
        new: ids[1].clone(),
        other: None,
        rekeyed: false,
    };
    let mut ctx = rotation::Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        hsm_password: Secret::from(DEMO_USER_PIN),
    };
    let req = RotateRequest::manual(Some(Way::Oracle), None);
    let r = rotation::rotate(&mut a, &mut ctx, "SHARED", &req).unwrap();
    assert!(r.succeeded(), "{} {:?}", r.message, r.failed_step);
    let other = dba
        .other
        .clone()
        .expect("another key was made during SET KEY");
    let new_label = format!("ORACLE.TDE.HSM.MK.{}", ids[1]);
    assert_eq!(r.new_keys, std::slice::from_ref(&new_label), "{r:?}");
    assert!(!r.new_keys.contains(&other));
    hsm.close().unwrap();
    assert!(labels(&env).contains(&other), "the other key is untouched");
    common::audit_intact(&env);
}

#[test]
fn a_migrate_killed_before_oracle_answered_is_settled_from_both_sides() {
    // Oracle made a key on the token, then the statement stopped before it took effect: the
    // file keystore is still primary and V$ENCRYPTION_KEYS knows no new key. Today's answer
    // is "send it again" with the stray key named, not a dead end.
    let env = demo();
    next_until(&env, "migrate");
    let before = labels(&env);
    let stray = other_database_key(&env);
    leave_migrate_in_flight(&env);
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("did not take effect: it is sent again"),
        "{out}"
    );
    assert!(out.contains(&stray), "the stray key is named: {out}");
    assert!(out.contains("is finished"), "{out}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(common::step_status(&v, "verify"), "done", "{v}");
    assert_ne!(v["new_key"].as_str(), Some(stray.as_str()));
    let after = labels(&env);
    assert_eq!(
        after.len(),
        before.len() + 2,
        "the stray key stays: {after:?}"
    );
    let orphans = audit(&env, "key.orphan");
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert!(
        orphans[0]["details"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == stray.as_str()),
        "{orphans:?}"
    );

    // Killed after Oracle's answer but before tdekey recorded it: V$ENCRYPTION_KEYS has the
    // new key, the token holds it, the HSM keystore is open and primary: step 9 is done and
    // nothing is sent again.
    let env = demo();
    next_until(&env, "migrate");
    let (code, out, err) = tdekey(&env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let before = labels(&env);
    leave_migrate_in_flight(&env);
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("had run: it is not sent again"), "{out}");
    assert_eq!(labels(&env), before, "no second key");
    common::audit_intact(&env);
}

#[test]
fn hsm_info_probe_proves_key_generation_and_the_hmac_with_session_keys() {
    let env = demo();
    let before = labels(&env);
    let (code, out, err) = tdekey(&env, &["hsm", "info", "--probe", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert!(v["probe"]["aes_key_gen"].is_null(), "{v}");
    assert!(v["probe"]["hmac"].is_null(), "{v}");
    assert_eq!(labels(&env), before, "session keys only: nothing stays");
    let probes = audit(&env, "hsm.probe");
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0]["outcome"], "success");

    // A token whose HMAC mechanism is turned off (SoftHSM2's slots.mechanisms): the probe
    // fails, says which, exits 1.
    let conf = std::fs::read_to_string(&env.conf).unwrap();
    std::fs::write(
        &env.conf,
        format!("{conf}slots.mechanisms = CKM_AES_KEY_GEN,CKM_GENERIC_SECRET_KEY_GEN\n"),
    )
    .unwrap();
    let (code, out, err) = tdekey(&env, &["hsm", "info", "--probe"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAILED") && out.contains("HMAC"), "{out}");
    let probes = audit(&env, "hsm.probe");
    assert_eq!(probes[0]["outcome"], "failure", "{probes:?}");
}

#[test]
fn step_1_stops_before_the_database_changes_when_a_probe_fails() {
    // The token offers CKM_AES_KEY_GEN, so the mechanism list passes; the checkpoint HMAC
    // fails only when used.
    let env = demo();
    let conf = std::fs::read_to_string(&env.conf).unwrap();
    std::fs::write(
        &env.conf,
        format!("{conf}slots.mechanisms = CKM_AES_KEY_GEN,CKM_GENERIC_SECRET_KEY_GEN\n"),
    )
    .unwrap();
    // The demo's own set-up statements come before this seq.
    let seeded = audit(&env, "oracle.statement")
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .max()
        .unwrap_or(0);
    let (code, out, err) = tdekey(&env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
    assert_ne!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(common::step_status(&v, "choose"), "failed", "{v}");
    assert!(
        format!("{out}{err}").contains("Nothing was changed on the database"),
        "{out}{err}"
    );
    let statements = audit(&env, "oracle.statement");
    assert!(
        statements
            .iter()
            .filter(|e| e["seq"].as_i64() > Some(seeded))
            .all(|e| {
                let s = e["details"].to_string();
                !s.contains("ALTER SYSTEM") && !s.contains("ADMINISTER KEY MANAGEMENT")
            }),
        "nothing was sent that changes the database: {statements:?}"
    );
}

fn credentials(env: &Env, pin: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.dir.path().join(format!("creds-{pin}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let f = dir.join("hsm-pin");
    std::fs::write(&f, format!("{pin}\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

#[test]
fn the_dry_run_logs_in_reads_each_database_and_says_what_would_fail() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["READY"]);
    // NOTYET was never migrated: its keystore is not on the HSM.
    let (code, _, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "NOTYET",
            "--connector",
            "rehearsal",
            "--hsm-profile",
            tdekey::hsm::demo::DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{err}");
    for db in ["READY", "NOTYET"] {
        let (code, out, err) = tdekey(
            &env,
            &[
                "policy",
                "set",
                db,
                "--every",
                "90d",
                "--next-due",
                "2020-01-01",
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let dry = |pin: &str| {
        let creds = credentials(&env, pin);
        let (code, out, err) = run({
            let mut c = env.tdekey();
            c.args(["rotate", "--due", "--dry-run", "--json", "--credentials"])
                .arg(&creds);
            c
        });
        assert!(!out.is_empty(), "{err}");
        (code, json(&out))
    };
    let outcome = |v: &serde_json::Value, db: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["database"] == db)
            .map(|i| {
                (
                    i["outcome"].as_str().unwrap().to_owned(),
                    i["message"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap()
    };
    // A wrong PIN fails the dry run for both, as it would fail the rotation; the login is
    // audited like any.
    let (code, v) = dry("wrong-pin-000");
    assert_eq!(code, 1, "{v}");
    for db in ["READY", "NOTYET"] {
        let (o, m) = outcome(&v, db);
        assert_eq!(o, "would-fail", "{db}: {m}");
        assert!(m.contains("PIN"), "{db}: {m}");
    }
    let failed_logins: Vec<_> = audit(&env, "hsm.login")
        .into_iter()
        .filter(|e| e["outcome"] == "failure")
        .collect();
    assert_eq!(failed_logins.len(), 1, "{failed_logins:?}");

    // The right PIN: READY would rotate, NOTYET would fail with the reason.
    let (code, v) = dry(DEMO_USER_PIN);
    assert_eq!(code, 1, "{v}");
    let (o, m) = outcome(&v, "READY");
    assert_eq!(o, "would-rotate", "{m}");
    assert!(m.contains("key generation proved"), "{m}");
    let (o, m) = outcome(&v, "NOTYET");
    assert_eq!(o, "would-fail", "{m}");
    assert!(m.contains("migrate"), "{m}");
    assert_eq!(audit(&env, "hsm.probe").len(), 1);

    // One database: `rotate NAME --dry-run`, with the PIN from the environment.
    let one = |db: &str, pin: &str| {
        run({
            let mut c = env.tdekey();
            c.args(["rotate", db, "--dry-run", "--json"])
                .env("TDEKEY_PIN", pin);
            c
        })
    };
    let (code, out, err) = one("READY", DEMO_USER_PIN);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["would_rotate"], true, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("on the token"),
        "{v}"
    );
    let (code, out, err) = one("NOTYET", DEMO_USER_PIN);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(json(&out)["would_rotate"], false, "{out}");
    let (code, out, err) = one("READY", "wrong-pin-000");
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("PIN"), "{err}");
    let failed_logins = audit(&env, "hsm.login")
        .into_iter()
        .filter(|e| e["outcome"] == "failure")
        .count();
    assert_eq!(failed_logins, 2, "the wrong PIN was tried and audited");
    assert_eq!(audit(&env, "hsm.probe").len(), 3);

    // Nothing was rotated or recorded as a run.
    let (_, out, _) = tdekey(&env, &["policy", "show", "READY", "--json"]);
    assert!(json(&out)["runs"].as_array().unwrap().is_empty(), "{out}");
    common::audit_intact(&env);
}

/// The object files of SoftHSM2's token store.
fn object_files(env: &Env) -> Vec<std::path::PathBuf> {
    let tokens = env.data.softhsm_dir().join("tokens");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&tokens).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "object")
                && p.file_name().is_some_and(|n| n != "token.object")
            {
                out.push(p);
            }
        }
    }
    out
}

/// Makes a key on the token and leaves it as a kill inside `C_GenerateKey` can: its file (the
/// one object file the key added; its label is encrypted there) cut after SoftHSM2's 8-byte
/// generation counter, so the token lists the object and refuses its attributes
/// (CKR_ATTRIBUTE_VALUE_INVALID).
fn half_written_key(env: &Env) {
    let before = object_files(env);
    other_database_key(env);
    let added: Vec<_> = object_files(env)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(added.len(), 1, "one object file added: {added:?}");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&added[0])
        .unwrap();
    f.set_len(8).unwrap();
}

#[test]
fn an_unreadable_object_is_listed_and_migration_and_rotation_go_on() {
    let env = demo();
    half_written_key(&env);
    let (code, out, err) = tdekey(&env, &["hsm", "keys", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    let objects = v["objects"].as_array().unwrap();
    let bad: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == "unreadable")
        .collect();
    assert_eq!(bad.len(), 1, "{v}");
    assert!(
        bad[0]["unreadable"]
            .as_str()
            .unwrap()
            .contains("CKR_ATTRIBUTE_VALUE_INVALID"),
        "{}",
        bad[0]
    );
    let reason = bad[0]["health"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("handle {}", bad[0]["handle"]))
            && reason.contains("never deletes it"),
        "{reason}"
    );
    assert!(
        objects.iter().any(|o| o["kind"] == "tde-master-key"),
        "the other objects are listed: {v}"
    );
    let (code, out, _) = tdekey(&env, &["hsm", "keys"]);
    assert_eq!(code, 0);
    assert!(out.contains("(unreadable: handle"), "{out}");

    // The migration and an Oracle-way rotation go on beside it.
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    let (code, out, err) = tdekey(
        &env,
        &["rotate", DEMO_DATABASE_NAME, "--way", "oracle", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    common::audit_intact(&env);
}

/// Sends `requests` straight to the demo's Rehearsal database, as a DBA at a SQL prompt would
/// (a test's move, not recorded).
fn at_the_sql_prompt(env: &Env, requests: &[tdekey::tde::request::Request]) {
    use tdekey::model::Multitenant;
    use tdekey::oracle::Connector;
    use tdekey::oracle::rehearsal::{self, Rehearsal};
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let path = rehearsal::state_path(env.data.root(), DEMO_DATABASE_NAME);
    let mut r = Rehearsal::open(
        &path,
        DEMO_DATABASE_NAME,
        Multitenant::NonCdb,
        &mut hsm,
        PinFormat::Plain,
    )
    .unwrap();
    for q in requests {
        let a = r.run(q).unwrap();
        assert!(
            tdekey::tde::ora::refusal(&a.reply).is_none(),
            "{}: {}",
            q.title(),
            a.reply.summary()
        );
    }
    drop(r);
    hsm.close().unwrap();
}

#[test]
fn a_migrate_that_ran_before_a_restart_is_not_sent_again_and_resumes_once_the_keystore_opens() {
    use tdekey::tde::request::Request;
    use tdekey::tde::sql::Credential;
    let env = demo();
    next_until(&env, "migrate");
    let (code, out, err) = tdekey(&env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let after_migrate = labels(&env);
    leave_migrate_in_flight(&env);
    // The database restarts before tdekey comes back: every keystore is closed.
    at_the_sql_prompt(&env, &[Request::Restart]);
    let (_, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert!(
        out.contains("cannot tell whether the migrate statement") && out.contains("not sent again"),
        "{out}{err}"
    );
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(common::step_status(&v, "migrate"), "needs-attention", "{v}");
    assert_eq!(labels(&env), after_migrate, "no second key");
    // The DBA opens the HSM keystore: the wizard sees the migration ran and goes on.
    at_the_sql_prompt(
        &env,
        &[Request::OpenKeystore {
            credential: Credential::Hsm {
                user: DEMO_USER.into(),
                password: Secret::from(DEMO_USER_PIN),
            },
            all_containers: false,
        }],
    );
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("had run: it is not sent again"), "{out}");
    assert!(out.contains("is finished"), "{out}");
    assert_eq!(labels(&env), after_migrate, "no second key");
    common::audit_intact(&env);
}
