//! The migration wizard on the Rehearsal demo, through the real `tdekey` binary: the whole
//! path, a migrate statement whose answer was never seen (ran, or did not), processes killed
//! mid-run, a wrong wallet password, a new key missing from the token, a busy lease. After
//! each, the token is read through PKCS#11 and the audit chain verified.

mod common;

use common::{Env, contains, demo, run};
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};
use tdekey::secret::Secret;

const PASSPHRASE: &str = "a long backup passphrase 7";

/// `tdekey migrate <args> "Rehearsal demo"` with the demo secrets in the environment.
fn migrate(env: &Env, args: &[&str], wallet_pw: &str) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.arg("migrate")
            .arg(args[0])
            .arg(DEMO_DATABASE_NAME)
            .args(&args[1..])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", wallet_pw)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    })
}

/// Runs `migrate next` until the current step is `step` (or the run stops elsewhere).
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
        let (code, out, err) = migrate(env, &["next", "--yes"], DEMO_WALLET_PASSWORD);
        assert_eq!(code, 0, "{out}{err}");
    }
    panic!("never reached {step}");
}

#[test]
fn the_rehearsal_demo_migrates_end_to_end_and_reports_without_secrets() {
    let env = demo();
    let before = common::demo_master_keys(&env);
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    for n in 1..=12 {
        assert!(out.contains(&format!("Step {n}/12")), "step {n} in {out}");
    }

    // Exactly one new master key, sensitive and never extractable.
    let after = common::demo_master_keys(&env);
    let new: Vec<_> = after.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(new.len(), 1, "{after:?}");
    assert_eq!((new[0].1, new[0].2), (Some(true), Some(false)));
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(v["new_key"], new[0].0.as_str());
    assert!(v["finished_ms"].is_number());
    assert_eq!(common::step_status(&v, "hsm-client"), "skipped");
    assert_eq!(common::step_status(&v, "verify"), "done");
    assert_eq!(v["backup"]["files"].as_array().unwrap().len(), 2);

    // The report: every step, the statements with secrets hidden.
    let html = env.dir.path().join("report.html");
    let json = env.dir.path().join("report.json");
    for (f, format) in [(&html, "html"), (&json, "json")] {
        let (code, _, err) = run({
            let mut c = env.tdekey();
            c.args(["migrate", "report", DEMO_DATABASE_NAME, "--out"])
                .arg(f)
                .args(["--format", format]);
            c
        });
        assert_eq!(code, 0, "{err}");
    }
    let report = std::fs::read_to_string(&html).unwrap();
    assert!(report.contains("REHEARSAL"));
    assert!(
        report.contains("MIGRATE USING &quot;&lt;hidden&gt;&quot;"),
        "the statement, hidden"
    );
    assert!(report.contains(&new[0].0));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["migration"]["steps"].as_array().unwrap().len(), 12);
    assert!(r["audit_first_seq"].as_i64().unwrap() < r["audit_last_seq"].as_i64().unwrap());

    common::audit_intact(&env);
    // No secret in any file tdekey wrote: the database, the rehearsal, the backup, the reports.
    let mut bytes = env.all_bytes_except_tokens();
    bytes.extend(std::fs::read(&html).unwrap());
    bytes.extend(std::fs::read(&json).unwrap());
    for secret in [DEMO_USER_PIN, DEMO_WALLET_PASSWORD, PASSPHRASE] {
        assert!(!contains(&bytes, secret), "{secret} written to disk");
    }
    // A second run has nothing left to do and makes no key.
    let (code, out, _) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}");
    assert_eq!(common::demo_master_keys(&env).len(), after.len());
}

/// Marks the migrate step as sent but never answered, as a crash between sending the
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

#[test]
fn a_migrate_whose_answer_was_never_seen_is_read_again_before_anything_is_sent() {
    // It did not run: the database and the token show no migration, so it is sent now.
    let env = demo();
    next_until(&env, "migrate");
    let before = common::demo_master_keys(&env);
    leave_migrate_in_flight(&env);
    assert_eq!(
        common::step_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "migrate"
        ),
        "not-started"
    );
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(common::demo_master_keys(&env).len(), before.len() + 1);

    // It did run (the statement went through the console while the wizard was gone): the
    // wizard sees it on both sides and does not send it again.
    let env = demo();
    next_until(&env, "migrate");
    let before = common::demo_master_keys(&env);
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "next", DEMO_DATABASE_NAME, "--yes"])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Step 9/12"), "{out}");
    assert_eq!(common::demo_master_keys(&env).len(), before.len() + 1);
    leave_migrate_in_flight(&env);
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute_batch(
        "UPDATE migrations SET state = json_replace(state, '$.steps[8].status', 'not-started') WHERE status = 'active'",
    )
    .unwrap();
    drop(c);
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("had run: it is not sent again"), "{out}");
    assert_eq!(
        common::demo_master_keys(&env).len(),
        before.len() + 1,
        "no second key"
    );
    common::audit_intact(&env);
}

#[test]
fn runs_killed_at_any_moment_resume_to_exactly_one_new_key() {
    let env = demo();
    let before = common::demo_master_keys(&env);
    let mut killed = 0;
    // SoftHSM2's file store is not crash-safe: a SIGKILL while it rewrites its token.object
    // (it truncates, then writes) leaves the file empty and the token gone from its slot, which
    // no HSM tdekey targets does. The test keeps the last good copy of that one file of
    // SoftHSM's bookkeeping and puts it back; tdekey's own state is never touched.
    let token_dir = std::fs::read_dir(env.data.softhsm_dir().join("tokens"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap();
    let token_object = token_dir.join("token.object");
    for i in 0..12u64 {
        let good = std::fs::read(&token_object).unwrap();
        let mut c = env.tdekey();
        c.args(["migrate", "run", DEMO_DATABASE_NAME, "--yes"])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20 + (i * 37) % 200));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
        if std::fs::read(&token_object).map_or(true, |b| b.len() < good.len() / 2) {
            std::fs::write(&token_object, &good).unwrap();
        }
    }
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert!(v["finished_ms"].is_number(), "{v}");
    let after = common::demo_master_keys(&env);
    assert_eq!(
        after.len(),
        before.len() + 1,
        "killed {killed} times: {after:?}"
    );
    common::audit_intact(&env);
}

#[test]
fn a_wrong_wallet_password_at_the_migration_creates_nothing_and_a_retry_works() {
    let env = demo();
    next_until(&env, "migrate");
    let before = common::demo_master_keys(&env);
    let (code, out, _) = migrate(&env, &["next"], "not-the-wallet-password");
    assert_eq!(code, 3, "Oracle refused: {out}");
    assert!(out.contains("ORA-28353"), "{out}");
    assert!(out.contains("The statement did not take effect"), "{out}");
    assert_eq!(common::demo_master_keys(&env), before);
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(common::demo_master_keys(&env).len(), before.len() + 1);
}

#[test]
fn a_failed_verification_stops_until_a_person_accepts_it_with_a_reason() {
    let env = demo();
    next_until(&env, "verify");
    // As if the new key were not new: the key ids recorded at step 1 already list every
    // key on the token (a master key's id is its label's tail).
    let ids: Vec<String> = common::demo_master_keys(&env)
        .into_iter()
        .map(|k| k.0.trim_start_matches("ORACLE.TDE.HSM.MK.").to_owned())
        .collect();
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute(
        "UPDATE migrations SET state = json_set(state, '$.keys_before', json(?1)) WHERE status = 'active'",
        [serde_json::to_string(&ids).unwrap()],
    )
    .unwrap();
    drop(c);
    let (code, out, _) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL V$ENCRYPTION_KEYS: the active key is new since step 1, in the HSM"),
        "{out}"
    );
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args([
            "migrate",
            "override",
            DEMO_DATABASE_NAME,
            "--reason",
            "short",
        ]);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("at least a sentence"), "{err}");
    let reason = "The key id was recorded at step 1 by mistake; checked by hand on the HSM.";
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args([
            "migrate",
            "override",
            DEMO_DATABASE_NAME,
            "--reason",
            reason,
        ]);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        common::step_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "verify"
        ),
        "done"
    );
    let (_, out, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "migration.override", "--json"]);
        c
    });
    assert!(out.contains("checked by hand"), "{out}");
}

#[test]
fn two_processes_never_drive_one_migration() {
    let env = demo();
    let (code, _, err) = migrate(&env, &["next", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{err}");
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute_batch(
        "UPDATE migrations SET lock_owner = 'another-host:4242:0000abcd', lock_until_ms = 9999999999999 WHERE status = 'active'",
    )
    .unwrap();
    drop(c);
    let (code, out, err) = migrate(&env, &["next", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("Another tdekey (another-host:4242:0000abcd)"),
        "{err}"
    );
    // A holder on this host whose process is gone is taken over at once.
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute(
        "UPDATE migrations SET lock_owner = ?1 WHERE status = 'active'",
        [format!("{host}:999999999:0000abcd")],
    )
    .unwrap();
    drop(c);
    let (code, out, err) = migrate(&env, &["next", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
}

fn rollback_status(v: &serde_json::Value, step: &str) -> String {
    v["rollback"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == step)
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap()
}

fn audit_actions(env: &Env, action: &str) -> String {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", action]);
        c
    });
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn a_finished_migration_rolls_back_to_the_file_wallet_and_keeps_the_hsm_key() {
    let env = demo();
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    let keys = common::demo_master_keys(&env);
    let new_key = common::migration_status(&env, DEMO_DATABASE_NAME)["new_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without a reason it does not start.
    let (code, _, err) = migrate(&env, &["rollback", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1);
    assert!(err.contains("Write why"), "{err}");
    assert!(common::migration_status(&env, DEMO_DATABASE_NAME)["rollback"].is_null());

    let reason = "The application team did not sign off the change.";
    let (code, out, err) = migrate(
        &env,
        &["rollback", "--yes", "--reason", reason],
        DEMO_WALLET_PASSWORD,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is rolled back"), "{out}");
    assert!(
        out.contains("Oracle reverse-migrated the master key"),
        "{out}"
    );
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    for s in ["file-first", "reverse", "file-only", "wallet", "closed"] {
        assert_eq!(rollback_status(&v, s), "done", "{s}: {v}");
    }
    assert_eq!(v["rollback"]["reason"], reason);
    assert_eq!(v["rollback"]["reversed"], true);
    let wallet = v["rollback"]["steps"][3]["checks"].to_string();
    assert!(
        wallet.contains("ewallet.p12 holds the current master key")
            && wallet.contains("\"ok\":true"),
        "{wallet}"
    );

    // The HSM key is still there: tdekey never deletes a master key.
    assert_eq!(common::demo_master_keys(&env), keys);
    assert!(keys.iter().any(|(l, _, _)| *l == new_key));

    // The database shows the file keystore only, and its current key in the software keystore.
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "query", DEMO_DATABASE_NAME, "wallet", "--json"])
            .env("TDEKEY_PIN", DEMO_USER_PIN);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("FILE") && !out.contains("\"HSM\""), "{out}");

    let started = audit_actions(&env, "migration.rollback");
    assert!(started.contains("success"), "{started}");
    let ended = audit_actions(&env, "migration.end");
    assert_eq!(
        ended.lines().filter(|l| l.contains("success")).count(),
        2,
        "{ended}"
    );

    // A second rollback has nothing to do.
    let (code, _, err) = migrate(
        &env,
        &["rollback", "--yes", "--reason", reason],
        DEMO_WALLET_PASSWORD,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("rolled-back: there is nothing to roll back"),
        "{err}"
    );

    // The report tells the rollback.
    let html = env.dir.path().join("r.html");
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "report", DEMO_DATABASE_NAME, "--out"])
            .arg(&html);
        c
    });
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("rolled back") && text.contains("R2. Reverse migration"));
    let written = audit_actions(&env, "migration.report");
    assert!(
        written.contains("success"),
        "writing the report is audited: {written}"
    );
    assert!(
        text.contains("REVERSE MIGRATE USING &quot;&lt;hidden&gt;&quot;")
            || text.contains("REVERSE MIGRATE"),
        "{text}"
    );
    let all = env.all_bytes_except_tokens();
    for secret in [DEMO_USER_PIN, DEMO_WALLET_PASSWORD, PASSPHRASE] {
        assert!(!contains(&all, secret), "{secret} reached a file");
    }
    common::audit_intact(&env);

    // A new migration can start after it.
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    assert_eq!(common::demo_master_keys(&env).len(), keys.len() + 1);
}

#[test]
fn a_rollback_before_the_migrate_restores_a_changed_wallet_byte_for_byte() {
    let env = demo();
    next_until(&env, "migrate");
    let before = common::demo_master_keys(&env);
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    let files: Vec<(String, String)> = v["backup"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f[0].as_str().unwrap().to_owned(),
                f[2].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let ewallet = files
        .iter()
        .find(|(p, _)| p.ends_with("/tde/ewallet.p12"))
        .unwrap()
        .0
        .clone();
    let original = std::fs::read(&ewallet).unwrap();
    std::fs::write(&ewallet, b"damaged after the backup").unwrap();

    let (code, out, err) = migrate(
        &env,
        &[
            "rollback",
            "--yes",
            "--reason",
            "Rehearsing the way back before the migrate.",
        ],
        DEMO_WALLET_PASSWORD,
    );
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(rollback_status(&v, "file-first"), "skipped");
    assert_eq!(rollback_status(&v, "reverse"), "skipped");
    assert_eq!(rollback_status(&v, "file-only"), "done");
    assert_eq!(rollback_status(&v, "wallet"), "done");
    assert!(out.contains("restored from the step-6 backup"), "{out}");
    assert_eq!(std::fs::read(&ewallet).unwrap(), original, "byte for byte");
    assert_eq!(
        common::demo_master_keys(&env),
        before,
        "no key made, none deleted"
    );
    let restored = audit_actions(&env, "wallet.restore");
    assert!(restored.contains("success"), "{restored}");
    common::audit_intact(&env);
}

#[test]
fn a_rollback_waits_for_each_restart_on_a_real_database_flow() {
    // Without --yes, each restart is a person's: the rollback stops, and --confirm answers
    // the restart it asked for (not the next one).
    let env = demo();
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = migrate(
        &env,
        &[
            "rollback",
            "--reason",
            "Stepping back by hand, one restart at a time.",
        ],
        DEMO_WALLET_PASSWORD,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Restart the database so that FILE|HSM takes effect"),
        "{out}"
    );
    assert!(out.contains("tdekey migrate rollback"), "{out}");
    assert_eq!(
        rollback_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "file-first"
        ),
        "needs-attention"
    );
    let (code, out, err) = migrate(&env, &["rollback", "--confirm"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(rollback_status(&v, "file-first"), "done", "{out}");
    assert_eq!(rollback_status(&v, "reverse"), "done", "{out}");
    assert_eq!(rollback_status(&v, "file-only"), "needs-attention", "{out}");
    let (code, out, err) = migrate(&env, &["rollback", "--confirm"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is rolled back"), "{out}");
}

#[test]
fn a_stale_auto_login_wallet_fails_the_wallet_check_until_it_matches_again() {
    use tdekey::wallet::{SsoKind, write_sso};
    let env = demo();
    next_until(&env, "wallet-config");
    let root = tdekey::oracle::rehearsal::host_root(env.data.root(), DEMO_DATABASE_NAME)
        .join("u01/app/oracle/admin/REHEARSAL/wallet/tde");
    let ewallet = std::fs::read(root.join("ewallet.p12")).unwrap();
    // An auto-login wallet made from another wallet: its keys are not the database's.
    let other = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wallets/synthetic-tde-pbes2-aes256.p12"),
    )
    .unwrap();
    let stale = write_sso(
        &other,
        &Secret::from("Test123Wallet"),
        SsoKind::AutoLogin,
        None,
    )
    .unwrap();
    std::fs::write(root.join("cwallet.sso"), &stale).unwrap();
    let (code, out, err) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("cwallet.sso holds the same keys as ewallet.p12"),
        "{out}"
    );
    assert!(out.contains("FAIL"), "{out}");
    assert!(out.contains("auto-login"), "its kind is named: {out}");
    assert_eq!(
        common::step_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "wallet-config"
        ),
        "failed"
    );

    let fresh = write_sso(
        &ewallet,
        &Secret::from(DEMO_WALLET_PASSWORD),
        SsoKind::AutoLogin,
        None,
    )
    .unwrap();
    std::fs::write(root.join("cwallet.sso"), &fresh).unwrap();
    let (code, out, err) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        common::step_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "wallet-config"
        ),
        "done",
        "{out}"
    );
}

#[test]
fn isolated_pdb_keystores_are_refused_with_a_sentence_before_anything_is_sent() {
    let env = demo();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args([
            "db",
            "add",
            "ISO",
            "--connector",
            "rehearsal",
            "--multitenant",
            "cdb-isolated",
            "--hsm-profile",
            tdekey::hsm::demo::DEMO_PROFILE_NAME,
        ]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "next", "ISO"])
            .env("TDEKEY_PIN", DEMO_USER_PIN);
        c
    });
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("isolated PDB keystores"), "{out}");
    assert!(out.contains("UNITE KEYSTORE"), "{out}");
    let v: serde_json::Value = {
        let (_, out, _) = run({
            let mut c = env.tdekey();
            c.args(["migrate", "status", "ISO", "--json"]);
            c
        });
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(common::step_status(&v, "choose"), "failed");
    assert!(
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["sent"].as_array().is_none_or(|x| x.is_empty())),
        "nothing sent: {v}"
    );
}

#[test]
fn hsm_file_not_in_effect_after_the_restart_fails_the_step_until_it_is() {
    let env = demo();
    next_until(&env, "hsm-file");
    // Without --yes the step sets the parameter and waits for the person's restart.
    let (code, out, err) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Restart the database so that HSM|FILE takes effect"),
        "{out}"
    );
    // A Rehearsal's to-do says how its simulated database is restarted, not SQL*Plus's way.
    assert!(out.contains("Rehearsal: confirming"), "{out}");
    assert!(!out.contains("sqlplus / as sysdba"), "{out}");
    // Someone sets it back before the restart (or restarts another instance): after the
    // person's "restarted", the database still runs on FILE.
    let path = tdekey::oracle::rehearsal::state_path(env.data.root(), DEMO_DATABASE_NAME);
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["spfile"]["tde_configuration"] = serde_json::json!("FILE");
    std::fs::write(&path, state.to_string()).unwrap();
    let (code, out, err) = migrate(&env, &["next", "--confirm"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("HSM|FILE is not in effect after the restart"),
        "{out}"
    );
    assert_eq!(
        common::step_status(
            &common::migration_status(&env, DEMO_DATABASE_NAME),
            "hsm-file"
        ),
        "failed"
    );
    // Run again: the parameter is set again, and the next restart puts it in effect.
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
}

#[test]
fn a_backup_that_cannot_be_written_stops_the_step_and_changes_nothing() {
    let env = demo();
    next_until(&env, "backup");
    // Where the backups go is taken by a file: the backup cannot be written there (as on a
    // full or read-only disk, the same path through the code).
    let backups = env.data.root().join("backups");
    let _ = std::fs::remove_dir_all(&backups);
    std::fs::write(&backups, b"in the way").unwrap();
    let (code, out, err) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("could not be written"), "{out}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(common::step_status(&v, "backup"), "failed");
    assert!(v["backup"].is_null());
    let failed = audit_actions(&env, "wallet.backup");
    assert!(failed.contains("failure"), "{failed}");
    std::fs::remove_file(&backups).unwrap();
    let (code, out, err) = migrate(&env, &["run", "--yes"], DEMO_WALLET_PASSWORD);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
}

#[test]
fn a_manual_paste_that_answers_another_statement_is_refused_and_nothing_is_taken_from_it() {
    let env = demo();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args([
            "db",
            "add",
            "FIN",
            "--connector",
            "manual",
            "--hsm-profile",
            tdekey::hsm::demo::DEMO_PROFILE_NAME,
        ]);
        c
    });
    assert_eq!(code, 0, "{err}");
    // Step 1 first asks for the session's privileges (SESSION_PRIVS and SESSION_ROLES); the
    // DBA pastes V$ENCRYPTION_KEYS' output.
    let keys = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/replies/keys.csv"),
    )
    .unwrap();
    let (code, out, err) = common::run_with_stdin(
        {
            let mut c = env.tdekey();
            c.args(["migrate", "next", "FIN"])
                .env("TDEKEY_PIN", DEMO_USER_PIN);
            c
        },
        &keys,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("is not an answer to")
            && out.contains("Query the session's privileges and roles")
            && out.contains("SESSION_PRIVS"),
        "{out}{err}"
    );
    let (_, status, _) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "status", "FIN", "--json"]);
        c
    });
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(common::step_status(&v, "choose"), "failed");
    assert!(
        v["path"].is_null(),
        "nothing was concluded from the paste: {v}"
    );
}

/// Step 5 names a `cwallet.sso` tdekey cannot read (a header version other than 6, a header
/// cut short) by its problem, never as a kind without it (the wallet inspector says the same).
#[test]
fn step_5_names_an_unreadable_auto_login_header_by_its_problem() {
    use tdekey::wallet::{SsoKind, write_sso};
    for (what, expected) in [
        ("version 5", "header version 5"),
        ("cut short", "the file is truncated"),
    ] {
        let env = demo();
        next_until(&env, "wallet-config");
        let root = tdekey::oracle::rehearsal::host_root(env.data.root(), DEMO_DATABASE_NAME)
            .join("u01/app/oracle/admin/REHEARSAL/wallet/tde");
        let ewallet = std::fs::read(root.join("ewallet.p12")).unwrap();
        let mut sso = write_sso(
            &ewallet,
            &Secret::from(DEMO_WALLET_PASSWORD),
            SsoKind::AutoLogin,
            None,
        )
        .unwrap();
        if what == "version 5" {
            // Header version 5 (bytes 4..8, big-endian), as a 10g wallet has.
            sso[4..8].copy_from_slice(&5u32.to_be_bytes());
        } else {
            // The type byte says auto-login; the rest of the header is missing.
            sso.truncate(8);
        }
        std::fs::write(root.join("cwallet.sso"), &sso).unwrap();
        let (_, out, err) = migrate(&env, &["next"], DEMO_WALLET_PASSWORD);
        assert!(out.contains(expected), "{what}: {out}{err}");
        assert!(
            !out.contains("cwallet.sso: auto-login"),
            "{what}: not shown as a kind without its problem: {out}"
        );
    }
}
