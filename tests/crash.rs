//! Crashes and overlaps, through the real `tdekey` binary built with its fault points
//! (`--features failpoints`, as `make test` builds it): a rotation stopped at each named point
//! (the key id drawn, the id recorded, the key made, inside the Rehearsal's SET KEY and USE KEY,
//! before the run's state is saved) resumes to exactly one new key with the audit chain intact;
//! a key Oracle made inside a stopped SET KEY is named and audited as an orphan; two processes
//! held provably at once (a FIFO barrier at a fault point, never a sleep) never both rotate,
//! migrate or run `rotate --due` on one database, and the Rehearsal's file lock loses no
//! update; temporary files a killed write left are removed at the next write.
#![cfg(feature = "failpoints")]

mod common;

use common::held::Held;
use common::{Env, demo, run};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use tdekey::faults;
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};

const PASSPHRASE: &str = "a long backup passphrase 7";

fn with_secrets(mut c: Command) -> Command {
    c.env("TDEKEY_PIN", DEMO_USER_PIN)
        .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
        .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
    c
}

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = with_secrets(env.tdekey());
        c.args(args);
        c
    })
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `args` run with `FAILPOINTS=<point>=<action>`; the process must end by SIGABRT there.
fn killed_at(env: &Env, args: &[&str], failpoints: &str) {
    let out = with_secrets(env.tdekey())
        .args(args)
        .env("FAILPOINTS", failpoints)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{failpoints}: not stopped there ({:?}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn master_keys(env: &Env) -> Vec<String> {
    common::demo_master_key_labels(env)
}

fn audit_of(env: &Env, action: &str) -> String {
    let (code, out, err) = tdekey(env, &["audit", "list", "--action", action, "--json"]);
    assert_eq!(code, 0, "{err}");
    out
}

/// Rotates FIN the way asked after a stop and checks: success, exactly one key more than
/// `before`, the new key on the token and active, the audit chain intact.
fn resumes_to_one_key(env: &Env, way: &str, before: &[String], what: &str) -> serde_json::Value {
    let (code, out, err) = tdekey(env, &["rotate", "FIN", "--way", way, "--json"]);
    assert_eq!(code, 0, "{what}: {out}{err}");
    let r = json(&out);
    assert_eq!(r["outcome"], "success", "{what}: {out}");
    let after = master_keys(env);
    let new: Vec<&String> = after.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(new.len(), 1, "{what}: one new key, not {new:?}");
    assert_eq!(r["new_keys"][0].as_str(), Some(new[0].as_str()), "{what}");
    common::audit_intact(env);
    r
}

#[test]
fn a_way_hsm_rotation_stopped_at_each_point_resumes_to_exactly_one_key() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let rotate = ["rotate", "FIN", "--way", "hsm", "--json"];
    // (where, FAILPOINTS, what the resumed run says about the stopped one's key)
    let cases: [(&str, String, Option<&str>); 6] = [
        (
            "the id drawn",
            format!("{}=return(abort)", faults::AFTER_RANDOM),
            None,
        ),
        (
            "the id recorded, the key not made",
            format!("{}=return(abort)", faults::BEFORE_GENERATE),
            Some("stopped before the key was made: this run makes it under that id"),
        ),
        (
            "the key made, not recorded as made",
            format!("{}=return(abort)", faults::AFTER_GENERATE),
            Some("did not activate it: this run uses it instead of generating another"),
        ),
        (
            "the state not saved after the key was made",
            // Saves: check, the intent, after the key was made (the third).
            format!("{}=2*off->return(abort)", faults::ROTATION_BEFORE_SAVE),
            Some("did not activate it: this run uses it instead of generating another"),
        ),
        (
            "inside USE KEY, before the database saved it",
            // Statements: V$ENCRYPTION_WALLET, V$ENCRYPTION_KEYS, USE KEY (the third).
            format!("{}=2*off->return(abort)", faults::REHEARSAL_STATEMENT),
            Some("did not activate it: this run uses it instead of generating another"),
        ),
        (
            "after USE KEY took effect, before the run saved it",
            format!("{}=3*off->return(abort)", faults::ROTATION_BEFORE_SAVE),
            Some("its USE KEY did take effect: this run verifies it"),
        ),
    ];
    for (what, failpoints, said) in cases {
        let before = master_keys(&env);
        killed_at(&env, &rotate, &failpoints);
        let stopped_keys = master_keys(&env);
        assert!(
            stopped_keys.len() <= before.len() + 1,
            "{what}: {stopped_keys:?}"
        );
        let r = resumes_to_one_key(&env, "hsm", &before, what);
        let notes = r["notes"].to_string();
        match said {
            Some(s) => assert!(notes.contains(s), "{what}: {notes}"),
            None => assert!(r["reused_key"].is_null(), "{what}: {r}"),
        }
        // A key the stopped run made is the one used: nothing else was made.
        if let Some(k) = stopped_keys.iter().find(|k| !before.contains(k)) {
            assert_eq!(r["new_keys"][0].as_str(), Some(k.as_str()), "{what}");
        }
    }
    // Every stopped run is recorded, closed as interrupted, its key id with it.
    let (code, out, err) = tdekey(&env, &["policy", "show", "FIN", "--json"]);
    assert_eq!(code, 0, "{err}");
    let runs = json(&out)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 12, "{out}");
    assert_eq!(
        runs.iter().filter(|r| r["outcome"] == "success").count(),
        6,
        "{out}"
    );
}

#[test]
fn a_way_oracle_rotation_stopped_inside_set_key_names_and_audits_the_orphan() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let rotate = ["rotate", "FIN", "--way", "oracle", "--json"];

    // Stopped before SET KEY is sent: nothing was made, the next run makes one key.
    let before = master_keys(&env);
    killed_at(
        &env,
        &rotate,
        &format!("{}=return(abort)", faults::ROTATION_BEFORE_SET_KEY),
    );
    assert_eq!(master_keys(&env), before);
    resumes_to_one_key(&env, "oracle", &before, "before SET KEY");

    // Stopped after SET KEY took effect, before the run saved it: verified, not replaced.
    let before = master_keys(&env);
    killed_at(
        &env,
        &rotate,
        // Saves: check, the intent, after SET KEY answered (the third).
        &format!("{}=2*off->return(abort)", faults::ROTATION_BEFORE_SAVE),
    );
    let r = resumes_to_one_key(&env, "oracle", &before, "after SET KEY");
    assert!(
        r["notes"].to_string().contains("Oracle did activate") && r["reused_key"].is_string(),
        "{r}"
    );

    // Stopped inside SET KEY: Oracle made a key on the token and never recorded it.
    let before = master_keys(&env);
    killed_at(
        &env,
        &rotate,
        &format!("{}=return(abort)", faults::REHEARSAL_SET_KEY),
    );
    let stopped = master_keys(&env);
    let orphan: Vec<&String> = stopped.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(orphan.len(), 1, "{stopped:?}");
    let orphan = orphan[0].clone();
    assert!(!audit_of(&env, "key.orphan").contains(&orphan));
    let (code, out, err) = tdekey(&env, &rotate);
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["outcome"], "success", "{out}");
    let new = r["new_keys"][0].as_str().unwrap().to_owned();
    assert_ne!(new, orphan);
    let notes = r["notes"].to_string();
    assert!(
        notes.contains(&orphan) && notes.contains("stopped inside SET KEY"),
        "the orphan is named: {notes}"
    );
    let after = master_keys(&env);
    assert_eq!(after.len(), before.len() + 2, "the orphan and the new key");
    // Audited once, with what to do; the next runs do not name it again.
    let audited = audit_of(&env, "key.orphan");
    assert!(
        audited.contains(&orphan) && audited.contains("tdekey never deletes a key"),
        "{audited}"
    );
    let before = master_keys(&env);
    let r = resumes_to_one_key(&env, "oracle", &before, "the run after");
    assert!(!r["notes"].to_string().contains(&orphan), "{r}");
    let entries = json(&audit_of(&env, "key.orphan"));
    let about: Vec<&serde_json::Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == orphan.as_str())
        .collect();
    assert_eq!(about.len(), 1, "{entries}");
}

/// Runs `migrate next` until the current step is the migrate statement's.
fn next_until_migrate(env: &Env) {
    for _ in 0..20 {
        let v = common::migration_status(env, DEMO_DATABASE_NAME);
        let current = v["steps"].as_array().and_then(|steps| {
            steps
                .iter()
                .find(|s| !matches!(s["status"].as_str(), Some("done" | "skipped")))
                .map(|s| s["step"].as_str().unwrap_or("").to_owned())
        });
        if current.as_deref() == Some("migrate") {
            return;
        }
        let (code, out, err) = tdekey(env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    panic!("never reached the migrate step");
}

/// Walks the migration to its migrate step, then runs that step killed at `failpoints`; returns
/// the master keys that appeared on the token (beside `before`).
fn killed_migrating(env: &Env, before: &[String], failpoints: &str) -> Vec<String> {
    next_until_migrate(env);
    killed_at(
        env,
        &["migrate", "next", DEMO_DATABASE_NAME, "--yes"],
        failpoints,
    );
    master_keys(env)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect()
}

#[test]
fn a_migration_stopped_before_and_after_its_migrate_statement_ends_with_one_key() {
    for (what, failpoints) in [
        // The step's first save records the statement about to be sent.
        ("before MIGRATE is sent", "return(abort)"),
        // Its second save records Oracle's answer.
        ("after MIGRATE answered", "1*off->return(abort)"),
    ] {
        let env = demo();
        let before = master_keys(&env);
        next_until_migrate(&env);
        killed_at(
            &env,
            &["migrate", "next", DEMO_DATABASE_NAME, "--yes"],
            &format!("{}={failpoints}", faults::MIGRATION_BEFORE_SAVE),
        );
        let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
        assert_eq!(code, 0, "{what}: {out}{err}");
        let v = common::migration_status(&env, DEMO_DATABASE_NAME);
        assert!(v["finished_ms"].is_number(), "{what}: {v}");
        let after = master_keys(&env);
        assert_eq!(after.len(), before.len() + 1, "{what}: {after:?}");
        assert_eq!(
            v["new_key"].as_str(),
            after
                .iter()
                .find(|k| !before.contains(k))
                .map(String::as_str),
            "{what}"
        );
        common::audit_intact(&env);
    }
}

#[test]
fn two_rotations_held_at_once_rotate_once() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let before = master_keys(&env);
    let mut c = with_secrets(env.tdekey());
    c.args(["rotate", "FIN", "--way", "hsm", "--json"]);
    let a = Held::spawn(env.dir.path(), "a", c, faults::BEFORE_GENERATE);
    let gate = a.arrived();
    // A holds the run (its key id recorded, the key not made yet): B is refused.
    let (code, out, err) = tdekey(&env, &["rotate", "FIN", "--way", "hsm", "--json"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("Another tdekey") && err.contains("is rotating the master key of FIN"),
        "{err}"
    );
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["outcome"], "success");
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    common::audit_intact(&env);
}

#[test]
fn two_rotate_due_held_at_once_rotate_each_database_once() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let (code, _, err) = tdekey(
        &env,
        &[
            "policy",
            "set",
            "FIN",
            "--every",
            "90d",
            "--next-due",
            "2020-01-01",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let creds = env.dir.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("hsm-pin"), format!("{DEMO_USER_PIN}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |m| std::fs::Permissions::from_mode(m);
        std::fs::set_permissions(creds.join("hsm-pin"), mode(0o600)).unwrap();
        std::fs::set_permissions(&creds, mode(0o700)).unwrap();
    }
    let due = || {
        let mut c = env.tdekey();
        c.args(["rotate", "--due", "--json", "--credentials"])
            .arg(&creds);
        c
    };
    let before = master_keys(&env);
    let a = Held::spawn(env.dir.path(), "a", due(), faults::BEFORE_GENERATE);
    let gate = a.arrived();
    let (_, out, err) = run(due());
    let b = json(&out);
    assert_eq!(b["rotated"], 0, "{out}{err}");
    assert_eq!(b["items"][0]["outcome"], "busy", "{out}");
    // The same run seen as held for two days: not a rotation in progress but a stuck one, a
    // failure (exit 1) that says so; the database stays due.
    let db = rusqlite::Connection::open(env.data.database()).unwrap();
    let two_days_ago = tdekey::model::now_ms() - 48 * 3_600_000;
    assert_eq!(
        db.execute(
            "UPDATE rotation_runs SET started_ms = ?1 WHERE outcome = 'running'",
            [two_days_ago],
        )
        .unwrap(),
        1
    );
    drop(db);
    let (code, out, err) = run(due());
    assert_eq!(code, 1, "{out}{err}");
    let c = json(&out);
    assert_eq!(c["items"][0]["outcome"], "failed", "{out}");
    let said = c["items"][0]["message"].as_str().unwrap();
    assert!(
        said.contains("stuck") && said.contains("stays due"),
        "{said}"
    );
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["rotated"], 1, "{out}");
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    common::audit_intact(&env);
}

#[test]
fn two_migrations_held_at_once_never_drive_one_migration() {
    let env = demo();
    let before = master_keys(&env);
    let mut c = with_secrets(env.tdekey());
    c.args(["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    // Held inside the Rehearsal's MIGRATE: its key made, the answer not given.
    let a = Held::spawn(env.dir.path(), "a", c, faults::REHEARSAL_MIGRATE);
    let gate = a.arrived();
    let (code, out, err) = tdekey(&env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("Another tdekey"), "{err}");
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    common::audit_intact(&env);
}

#[test]
fn a_statement_waits_for_the_rehearsal_lock_and_sees_the_other_process_update() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let mut c = with_secrets(env.tdekey());
    c.args(["rotate", "FIN", "--way", "oracle", "--json"]);
    // A stands inside SET KEY: its key made, the simulated database locked and not saved.
    let a = Held::spawn(env.dir.path(), "a", c, faults::REHEARSAL_SET_KEY);
    let gate_a = a.arrived();
    let mut c = with_secrets(env.tdekey());
    c.args(["db", "query", "FIN", "keys", "--json"]);
    // B finds the database locked (it stands where it waits for the lock).
    let b = Held::spawn(env.dir.path(), "b", c, faults::REHEARSAL_LOCK_WAIT);
    let gate_b = b.arrived();
    drop(gate_b);
    drop(gate_a);
    let (code, out_a, err) = a.finish();
    assert_eq!(code, 0, "{out_a}{err}");
    let new = json(&out_a)["new_keys"][0].as_str().unwrap().to_owned();
    let (code, out_b, err) = b.finish();
    assert_eq!(code, 0, "{out_b}{err}");
    // B read the database after A's statement, not the state it loaded before.
    let id = new.trim_start_matches("ORACLE.TDE.HSM.MK.");
    assert!(out_b.contains(id), "{id} in {out_b}");
}

#[test]
fn temporary_files_a_killed_write_left_are_removed_at_the_next_write() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let rehearsal = env.data.root().join("rehearsal");
    let state_tmp = rehearsal.join(".FIN.json.k1LLed.tmp");
    let other_db_tmp = rehearsal.join(".HR.json.k1LLed.tmp");
    for f in [&state_tmp, &other_db_tmp] {
        std::fs::write(f, b"{\"half\":").unwrap();
    }
    // A state-changing statement of FIN (the rotation's SET KEY) writes FIN's state.
    let (code, out, err) = tdekey(&env, &["rotate", "FIN", "--way", "oracle", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!state_tmp.exists(), "FIN's leftover is removed");
    assert!(
        other_db_tmp.exists(),
        "another database's is not FIN's to remove"
    );

    // A wallet backup killed while written: removed once its process is gone, never one
    // whose writer still runs.
    let wallet_root = env.dir.path().join("wallet");
    std::fs::create_dir_all(wallet_root.join("tde")).unwrap();
    std::fs::write(wallet_root.join("tde/ewallet.p12"), b"not really a wallet").unwrap();
    let out_dir = env.dir.path().join("backups");
    std::fs::create_dir_all(&out_dir).unwrap();
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let dead_tmp = out_dir.join(format!(".tdekey-backup-{dead}-x1"));
    let live_tmp = out_dir.join(format!(".tdekey-backup-{}-x2", std::process::id()));
    for f in [&dead_tmp, &live_tmp] {
        std::fs::write(f, b"half a backup").unwrap();
    }
    let out = out_dir.join("w.tdkb");
    let (code, o, err) = tdekey(
        &env,
        &[
            "wallet",
            "backup",
            "--wallet-root",
            wallet_root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{o}{err}");
    assert!(out.is_file());
    assert!(
        !dead_tmp.exists(),
        "the killed backup's temporary file is removed"
    );
    assert!(live_tmp.exists(), "a running writer's is left");
    assert_eq!(
        leftovers(&out_dir),
        vec![live_tmp.file_name().unwrap().to_string_lossy().into_owned()]
    );

    // The same for an audit export and its manifest, and a migration report.
    let dead_export = out_dir.join(format!(".tdekey-export-{dead}-x3"));
    let dead_manifest = out_dir.join(format!(".tdekey-manifest-{dead}-x4"));
    let dead_report = out_dir.join(format!(".tdekey-report-{dead}-x5"));
    for f in [&dead_export, &dead_manifest, &dead_report] {
        std::fs::write(f, b"half").unwrap();
    }
    let export = out_dir.join("audit.csv");
    let (code, o, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{o}{err}");
    assert!(export.is_file() && !dead_export.exists() && !dead_manifest.exists());
    let (code, o, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{o}{err}");
    let report = out_dir.join("report.html");
    let (code, o, err) = tdekey(
        &env,
        &[
            "migrate",
            "report",
            DEMO_DATABASE_NAME,
            "--out",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{o}{err}");
    assert!(report.is_file() && !dead_report.exists());
    assert_eq!(
        leftovers(&out_dir),
        vec![live_tmp.file_name().unwrap().to_string_lossy().into_owned()]
    );
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// Every kill point of a rotation, both ways: each named point at each of its hits in turn
/// (until a run passes it by), then a resume. After each: the resumed run succeeds with one
/// new active key, and every master key that appeared on the token is recorded as a
/// database's or audited as an orphan. Prints how many kill points it went through.
#[test]
fn every_kill_point_of_a_rotation_ends_with_one_key_and_no_unrecorded_key() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let initial = master_keys(&env);
    let points = [
        faults::AFTER_RANDOM,
        faults::BEFORE_GENERATE,
        faults::GENERATE_STARTED,
        faults::AFTER_GENERATE,
        faults::REHEARSAL_STATEMENT,
        faults::REHEARSAL_SET_KEY,
        faults::ROTATION_BEFORE_SAVE,
        faults::ROTATION_BEFORE_SET_KEY,
    ];
    let mut kills = 0;
    let mut orphans_named = 0;
    for way in ["hsm", "oracle"] {
        let rotate = ["rotate", "FIN", "--way", way, "--json"];
        for point in points {
            for hit in 0.. {
                let action = if hit == 0 {
                    "return(abort)".to_owned()
                } else {
                    format!("{hit}*off->return(abort)")
                };
                let before = master_keys(&env);
                let out = with_secrets(env.tdekey())
                    .args(rotate)
                    .env("FAILPOINTS", format!("{point}={action}"))
                    .output()
                    .unwrap();
                if out.status.signal() != Some(libc::SIGABRT) {
                    // The run passed every hit of this point: it rotated by itself.
                    assert_eq!(out.status.code(), Some(0), "{way} {point}: {out:?}");
                    assert_eq!(master_keys(&env).len(), before.len() + 1);
                    break;
                }
                kills += 1;
                let what = format!("{way}, {point} hit {hit}");
                let (code, o, err) = tdekey(&env, &rotate);
                assert_eq!(code, 0, "{what}: {o}{err}");
                let r = json(&o);
                assert_eq!(r["outcome"], "success", "{what}: {o}");
                let active = r["new_keys"][0].as_str().unwrap().to_owned();
                let appeared: Vec<String> = master_keys(&env)
                    .into_iter()
                    .filter(|k| !before.contains(k))
                    .collect();
                assert!(appeared.contains(&active), "{what}: {appeared:?}");
                let orphans: Vec<&String> = appeared.iter().filter(|k| **k != active).collect();
                // At most the one key a stopped SET KEY made besides the active one.
                assert!(orphans.len() <= 1, "{what}: {appeared:?}");
                let audited = audit_of(&env, "key.orphan");
                for o in &orphans {
                    assert!(audited.contains(o.as_str()), "{what}: {o} not named");
                    orphans_named += 1;
                }
                common::audit_intact(&env);
            }
        }
    }
    // No key that appeared is unrecorded: each is a database's or audited as an orphan.
    let a = tdekey::audit::Auditor::open(&env.data).unwrap();
    let claims = tdekey::rotation::key_claims(&a).unwrap();
    let audited = audit_of(&env, "key.orphan");
    let unrecorded: Vec<String> = master_keys(&env)
        .into_iter()
        .filter(|k| !initial.contains(k) && !claims.contains_key(k) && !audited.contains(k))
        .collect();
    assert!(unrecorded.is_empty(), "{unrecorded:?}");
    eprintln!(
        "{kills} kill points, each resumed to one active key; {orphans_named} orphan(s) named and audited; 0 unrecorded keys"
    );
    assert!(kills >= 20, "{kills}");
}

/// Killed inside the migrate statement, after Oracle (the Rehearsal) made the new HSM key and
/// before it answered or recorded it: the next run reads both sides (V$ENCRYPTION_KEYS does not
/// know the key; the FILE keystore is still primary), names and audits the key Oracle left as
/// an orphan (it stays on the token), sends the statement again and finishes with the key that
/// statement made as the database's.
#[test]
fn a_migration_killed_inside_its_migrate_statement_names_the_orphan_and_finishes() {
    let env = demo();
    let before = master_keys(&env);
    let stray = killed_migrating(
        &env,
        &before,
        &format!("{}=return(abort)", faults::REHEARSAL_MIGRATE),
    );
    assert_eq!(stray.len(), 1, "the killed MIGRATE made its key: {stray:?}");
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert!(v["finished_ms"].is_number(), "{v}");
    let after = master_keys(&env);
    assert_eq!(after.len(), before.len() + 2, "{after:?}");
    let new_key = v["new_key"].as_str().expect("a new key").to_owned();
    assert!(
        !before.contains(&new_key) && new_key != stray[0],
        "{new_key}"
    );
    let orphans = json(&audit_of(&env, "key.orphan"));
    let named: Vec<&serde_json::Value> = orphans
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.to_string().contains(stray[0].as_str()))
        .collect();
    assert_eq!(named.len(), 1, "the orphan is audited once: {orphans}");
    assert!(
        !orphans.to_string().contains(new_key.as_str()),
        "the migrated key is not called an orphan: {orphans}"
    );
    common::audit_intact(&env);
}

/// A `key generate` killed after `C_GenerateKey` (its `started` entry names the label, no
/// outcome): the next `key generate` for the same database returns that key and records its
/// outcome, so one request never leaves two keys; one killed before the key was made is closed
/// as a failure and the next makes exactly one key. A different database's request makes its
/// own key.
#[test]
fn a_key_generate_killed_after_its_key_was_made_returns_that_key_next_time() {
    let env = demo();
    let before = master_keys(&env);
    let generate = [
        "key",
        "generate",
        "--json",
        "--database",
        DEMO_DATABASE_NAME,
    ];
    killed_at(
        &env,
        &generate,
        &format!("{}=return(abort)", faults::AFTER_GENERATE),
    );
    let made: Vec<String> = master_keys(&env)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    let (code, out, err) = tdekey(&env, &generate);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["label"].as_str(),
        Some(made[0].as_str()),
        "{out}"
    );
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    let entries = json(&audit_of(&env, "key.generate"));
    let about: Vec<&serde_json::Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == made[0].as_str())
        .collect();
    assert_eq!(
        about.len(),
        2,
        "started, then the outcome the next run wrote: {entries}"
    );
    // Another run of the same request now makes a new key: the interrupted one is answered.
    let (code, out, err) = tdekey(&env, &generate);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(json(&out)["label"].as_str(), Some(made[0].as_str()));
    assert_eq!(master_keys(&env).len(), before.len() + 2);

    // Killed after its entry named the key and before the key was made: closed as a failure,
    // the next run makes one key.
    let before = master_keys(&env);
    killed_at(
        &env,
        &generate,
        &format!("{}=return(abort)", faults::GENERATE_STARTED),
    );
    assert_eq!(master_keys(&env), before);
    let (code, out, err) = tdekey(&env, &generate);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    let failures = audit_of(&env, "key.generate");
    assert!(
        failures.contains("stopped before the key was made"),
        "{failures}"
    );
    common::audit_intact(&env);
}

/// Killed after Oracle answered the migrate statement and before the step was saved, with the
/// new key then missing from the token tdekey is logged in to (as when the database uses another
/// token or crypto user): the next run reads both sides, finds V$ENCRYPTION_KEYS naming a key
/// the token does not hold, says so, and sends nothing again.
#[test]
fn a_migrated_key_missing_from_the_token_stops_step_9_without_sending_again() {
    let env = demo();
    let before = master_keys(&env);
    let made = killed_migrating(
        &env,
        &before,
        &format!("{}=1*off->return(abort)", faults::MIGRATION_BEFORE_SAVE),
    );
    assert_eq!(made.len(), 1, "{made:?}");
    let o = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&env.module)
        .args([
            "--token-label",
            tdekey::hsm::demo::DEMO_TOKEN_LABEL,
            "--login",
            "--pin",
            DEMO_USER_PIN,
            "--delete-object",
            "--type",
            "secrkey",
            "--label",
        ])
        .arg(&made[0])
        .env("SOFTHSM2_CONF", &env.conf)
        .output()
        .expect("pkcs11-tool is installed with OpenSC (make test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(master_keys(&env), before);
    let sent = |env: &Env| audit_of(env, "oracle.statement").matches("MIGRATE").count();
    let sent_before = sent(&env);
    assert!(
        sent_before >= 1,
        "the killed run's MIGRATE is in the audit log"
    );
    let (_, out, err) = tdekey(&env, &["migrate", "next", DEMO_DATABASE_NAME, "--yes"]);
    assert!(
        format!("{out}{err}").contains(&format!("has no object labelled {}", made[0])),
        "{out}{err}"
    );
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_ne!(common::step_status(&v, "migrate"), "done", "{v}");
    assert!(v["finished_ms"].is_null(), "{v}");
    assert_eq!(
        sent(&env),
        sent_before,
        "the migrate statement is not sent again"
    );
    assert_eq!(master_keys(&env), before, "no key is made");
    common::audit_intact(&env);
}
