//! Databases › Recoverability in egui_kittest over the real app and engine (issue #23): after
//! the Rehearsal demo's migration and two rotations every key is found and the file wallet may
//! be retired; with a key deleted behind tdekey's back (pkcs11-tool) its row says MISSING, and
//! the Migration tab's and the Keys screen's verdicts say what not to retire. The wallet
//! password typed is in no file afterwards.

mod common;
mod ui_common;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::engine::Task;
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};
use tdekey::recover::Retiring;
use tdekey::ui::App;
use ui_common::{TestStorage, type_into, wait_until};

const PASSPHRASE: &str = "a long passphrase for tests";

fn tdekey(env: &Env, args: &[&str]) {
    let (code, out, err) = run({
        let mut c = env.tdekey_with_secrets(PASSPHRASE);
        c.args(args);
        c
    });
    assert_eq!(code, 0, "tdekey {args:?}: {out}{err}");
}

/// The demo migrated (its file key backed up, sealed, and migrated to the HSM), then rotated
/// the Oracle way and the tdekey way: four master keys. Returns the migration's HSM key.
fn migrated_and_rotated(env: &Env) -> String {
    let labels = common::demo_master_key_labels;
    let before = labels(env);
    tdekey(env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    let made: Vec<String> = labels(env)
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    tdekey(env, &["rotate", DEMO_DATABASE_NAME, "--way", "oracle"]);
    tdekey(env, &["rotate", DEMO_DATABASE_NAME, "--way", "hsm"]);
    assert_eq!(labels(env).len(), before.len() + 3);
    made[0].clone()
}

/// Opens the Migration tab and waits for the finished migration it shows.
fn migration_tab_finished(h: &mut Harness<'static, App>) {
    h.get_by_label("Migration").click();
    wait_until(h, "the finished migration", |h| {
        !h.state().is_pending(Task::Migration)
            && h.state()
                .databases
                .migration
                .state
                .as_ref()
                .is_some_and(|s| s.finished())
    });
    h.run_steps(2);
}

/// The window logged in, on the demo's Recoverability tab.
fn recoverability_tab(env: &Env) -> Harness<'static, App> {
    let mut h = ui_common::logged_in_on_demo(env.data.clone());
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the Rehearsal demo", |h| {
        h.query_by_label("Recoverability").is_some()
    });
    h.get_by_label("Recoverability").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Checks that every master key")
            .is_some(),
        "it says what it checks"
    );
    h
}

/// Types what is given and clicks "Check recoverability"; waits for the report.
fn check(h: &mut Harness<'static, App>, wallet_password: Option<&str>, passphrase: Option<&str>) {
    let before = h
        .state()
        .databases
        .recover
        .reports
        .get(DEMO_DATABASE_NAME)
        .map(|c| c.report.audit_seq);
    if let Some(pw) = wallet_password {
        type_into(h, "Wallet password (optional)", pw);
    }
    if let Some(p) = passphrase {
        type_into(h, "Backup passphrase (optional)", p);
    }
    h.get_by_label("Check recoverability").click();
    h.step();
    wait_until(h, "the report", |h| {
        !h.state().is_pending(Task::Recoverability)
            && h.state()
                .databases
                .recover
                .reports
                .get(DEMO_DATABASE_NAME)
                .map(|c| c.report.audit_seq)
                != before
    });
    h.run_steps(2);
    let r = &h.state().databases.recover;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(
        r.wallet_password.is_empty() && r.backup_passphrase.is_empty(),
        "the secrets typed left the fields with the click"
    );
}

fn report(h: &Harness<'_, App>) -> std::sync::Arc<tdekey::recover::Recoverability> {
    h.state().databases.recover.reports[DEMO_DATABASE_NAME]
        .report
        .clone()
}

#[test]
fn after_the_migration_and_two_rotations_every_key_is_found_and_nothing_typed_is_written() {
    let env = common::demo();
    migrated_and_rotated(&env);
    let mut h = recoverability_tab(&env);
    check(&mut h, Some(DEMO_WALLET_PASSWORD), Some(PASSPHRASE));

    let r = report(&h);
    assert_eq!(r.exit_code(), 0, "{}", r.summary());
    assert_eq!(r.keys.len(), 4, "{}", r.summary());
    assert!(r.audit_seq.is_some());
    assert!(
        h.query_by_label(&r.summary()).is_some(),
        "the summary is shown: {}",
        r.summary()
    );
    assert!(
        r.summary().contains("4 master keys, 4 found"),
        "{}",
        r.summary()
    );
    assert_eq!(h.query_all_by_label("found").count(), 4, "a found row each");
    assert!(h.query_by_label("MISSING").is_none());
    for k in &r.keys {
        assert!(h.query_by_label(&k.id).is_some(), "{} is shown", k.id);
        assert!(h.query_by_label(&k.forms.masterkeyid).is_some());
    }
    // The file key is in ewallet.p12, in Oracle's backup beside it and in the migration's
    // sealed backup.
    let file_key = r
        .keys
        .iter()
        .find(|k| {
            k.places
                .iter()
                .all(|p| !matches!(p, tdekey::recover::Place::Hsm { .. }))
        })
        .expect("the file wallet's key");
    assert_eq!(file_key.places.len(), 3, "{:?}", file_key.places);
    assert!(
        h.query_by_label_contains(
            "PKCS#11 calls for the HSM lookups; recorded in the audit log as seq"
        )
        .is_some()
    );

    // Written as HTML and as JSON (the files a save dialog would have named).
    for (name, button, json) in [
        ("recoverability.html", "Write HTML…", false),
        ("recoverability.json", "Write JSON…", true),
    ] {
        let path = env.dir.path().join(name);
        h.state_mut().databases.recover.save_to = Some(path.clone());
        h.get_by_label(button).click();
        h.step();
        wait_until(&mut h, "the written report", |h| {
            !h.state().is_pending(Task::RecoverabilityWrite)
                && (h.state().databases.recover.written.is_some()
                    || h.state().databases.recover.error.is_some())
        });
        let st = &h.state().databases.recover;
        assert_eq!(
            st.written.as_deref(),
            Some(path.display().to_string().as_str()),
            "{:?}",
            st.error
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&file_key.id));
        if json {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["keys"].as_array().unwrap().len(), 4);
        } else {
            assert!(text.contains("TDE recoverability: Rehearsal demo"));
        }
    }
    // A file that exists is left as it was when no dialog asked.
    let html = env.dir.path().join("recoverability.html");
    h.state_mut().databases.recover.save_to = Some(html.clone());
    h.get_by_label("Write HTML…").click();
    h.step();
    wait_until(&mut h, "the refusal", |h| {
        !h.state().is_pending(Task::RecoverabilityWrite)
            && h.state().databases.recover.error.is_some()
    });
    let e = h.state().databases.recover.error.clone().unwrap();
    assert!(e.contains("exists already and was left as it was"), "{e}");

    // The Migration tab: the migration is finished, and retiring the file wallet loses nothing.
    migration_tab_finished(&mut h);
    assert!(
        h.query_by_label("Before you retire the file wallet")
            .is_some()
    );
    let unnamed = h.unnamed_widgets();
    assert!(
        unnamed.is_empty(),
        "unnamed widgets:\n{}",
        unnamed.join("\n")
    );
    assert!(
        h.query_by_label_contains("loses no key").is_some(),
        "the safe verdict is shown"
    );
    // Checked again from there, with nothing typed: ewallet.p12 stays closed, so the box says
    // the answer is not known yet rather than that retiring it is safe.
    let seq = report(&h).audit_seq;
    h.get_by_label("Check recoverability again").click();
    h.step();
    wait_until(&mut h, "the check without secrets", |h| {
        !h.state().is_pending(Task::Recoverability) && report(h).audit_seq != seq
    });
    h.run_steps(2);
    let r = report(&h);
    assert!(
        r.unread
            .iter()
            .any(|u| u.source.ends_with("tde/ewallet.p12") && u.why.contains("no wallet password")),
        "{:?}",
        r.unread
    );
    assert!(
        h.query_by_label_contains("Not known yet: the report could not open")
            .is_some(),
        "the box says what it could not open"
    );

    // Nothing typed is in any file: the store, the audit log, the reports, the window's
    // storage.
    let mut storage = TestStorage {
        file: Some(env.data.root().join("window.ron")),
        ..Default::default()
    };
    eframe::App::save(h.state_mut(), &mut storage);
    eframe::Storage::flush(&mut storage);
    drop(h);
    let scan = env.assert_no_secrets_written(&[DEMO_WALLET_PASSWORD, PASSPHRASE], &[]);
    assert!(scan.read("recoverability.html") && scan.read("recoverability.json"));
    assert!(scan.read("window.ron"));
}

#[test]
fn a_key_deleted_behind_tdekeys_back_is_missing_and_the_verdicts_say_what_not_to_retire() {
    let env = common::demo();
    let migrated = migrated_and_rotated(&env);
    let o = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&env.module)
        .args([
            "--token-label",
            DEMO_TOKEN_LABEL,
            "--login",
            "--pin",
            DEMO_USER_PIN,
            "--delete-object",
            "--type",
            "secrkey",
            "--label",
        ])
        .arg(&migrated)
        .env("SOFTHSM2_CONF", &env.conf)
        .output()
        .expect("pkcs11-tool is installed with OpenSC (make test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !common::demo_master_keys(&env)
            .iter()
            .any(|k| k.0 == migrated)
    );

    let mut h = recoverability_tab(&env);
    // A backup file listed (as "Add backup file…" would) is read too; "Remove" leaves it out.
    let gone = env.dir.path().join("elsewhere.tdkb");
    let kept = env.dir.path().join("not-there.tdkb");
    h.state_mut().databases.recover.backups = vec![gone.clone(), kept.clone()];
    h.run_steps(2);
    let unnamed = h.unnamed_widgets();
    assert!(
        unnamed.is_empty(),
        "unnamed widgets:\n{}",
        unnamed.join("\n")
    );
    h.get_all_by_label("Remove").next().unwrap().click();
    h.run_steps(2);
    assert_eq!(h.state().databases.recover.backups, vec![kept.clone()]);
    // The wallet password only: the sealed backup stays closed.
    check(&mut h, Some(DEMO_WALLET_PASSWORD), None);
    let r = report(&h);
    let listed = |p: &std::path::Path| r.unread.iter().any(|u| u.source == p.display().to_string());
    assert!(listed(&kept), "{:?}", r.unread);
    assert!(!listed(&gone), "{:?}", r.unread);
    assert_eq!(r.exit_code(), 4, "{}", r.summary());
    let missing = r.missing();
    assert_eq!(missing.len(), 1, "{}", r.summary());
    assert_eq!(missing[0].forms.hsm_label, migrated);
    assert!(
        h.query_by_label("MISSING").is_some(),
        "the deleted key's row says MISSING"
    );
    assert!(h.query_by_label("NOWHERE tdekey looked").is_some());
    assert!(
        h.query_by_label_contains(&format!("1 MISSING ({})", missing[0].id))
            .is_some(),
        "the summary names it"
    );
    assert!(
        r.unread
            .iter()
            .any(|u| u.source.ends_with(".tdkb") && u.why.contains("passphrase")),
        "{:?}",
        r.unread
    );

    // The Migration tab: with the sealed backup unread, the file wallet is the only place of
    // the database's first key.
    migration_tab_finished(&mut h);
    let file_key = r
        .keys
        .iter()
        .find(|k| {
            !k.places.is_empty()
                && k.places
                    .iter()
                    .all(|p| !matches!(p, tdekey::recover::Place::Hsm { .. }))
        })
        .expect("the file wallet's key");
    let checked = h.state().databases.recover.reports[DEMO_DATABASE_NAME].clone();
    let dir = checked
        .wallet_dir
        .clone()
        .expect("the demo's WALLET_ROOT is read");
    assert!(dir.ends_with("wallet/tde"), "{}", dir.display());
    let verdict = r.before_retiring(&Retiring::FileWallet { dir });
    assert!(!verdict.safe(), "{}", verdict.sentence);
    assert_eq!(verdict.blocking.len(), 1, "{}", verdict.sentence);
    assert_eq!(verdict.blocking[0].key, file_key.id);
    assert!(
        verdict
            .sentence
            .starts_with("Do not retire the file keystore in")
    );
    assert!(
        h.query_by_label(&verdict.sentence).is_some(),
        "the not-safe verdict is shown: {}",
        verdict.sentence
    );

    // The Keys screen: a key still on the HSM, and only there, must not be deleted.
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory", |h| h.state().keys.loaded);
    // A key of the database's, still on the HSM (the rotations' keys).
    let on_hsm: Vec<String> = r
        .keys
        .iter()
        .filter(|k| !k.places.is_empty() && k.forms.hsm_label != migrated)
        .filter(|k| {
            k.places
                .iter()
                .any(|p| matches!(p, tdekey::recover::Place::Hsm { .. }))
        })
        .map(|k| k.forms.hsm_label.clone())
        .collect();
    assert_eq!(on_hsm.len(), 2, "{}", r.summary());
    let (i, label) = h
        .state()
        .keys
        .rows
        .iter()
        .enumerate()
        .find(|(_, row)| row.object.label == on_hsm[0])
        .map(|(i, row)| (i, row.object.label.clone()))
        .expect("the key on the token");
    h.state_mut().keys.selected = Some(i);
    h.run_steps(2);
    let verdict = r.before_retiring(&Retiring::HsmKey {
        label: label.clone(),
    });
    assert!(!verdict.safe(), "{}", verdict.sentence);
    assert!(
        verdict
            .sentence
            .starts_with(&format!("Do not retire the HSM key {label}"))
    );
    assert!(
        h.query_by_label(&verdict.sentence).is_some(),
        "the detail shows the not-safe verdict for {label}: {}",
        verdict.sentence
    );
    assert!(
        h.query_by_label_contains("Before anyone deletes one with other tools")
            .is_some()
    );
}

#[test]
fn the_keys_screen_says_where_the_report_is_until_one_is_made() {
    let env = common::demo();
    migrated_and_rotated(&env);
    let mut h = ui_common::logged_in_on_demo(env.data.clone());
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory and the claims", |h| {
        h.state().keys.loaded && !h.state().keys.claims.is_empty()
    });
    let claims = h.state().keys.claims.clone();
    let i = h
        .state()
        .keys
        .rows
        .iter()
        .position(|row| {
            claims
                .get(&row.object.label)
                .is_some_and(|c| c.database == DEMO_DATABASE_NAME)
        })
        .expect("a master key of the demo on the token");
    h.state_mut().keys.selected = Some(i);
    h.run_steps(2);
    assert!(
        h.query_by_label(&format!(
            "No recoverability report yet: Databases › {DEMO_DATABASE_NAME} › Recoverability."
        ))
        .is_some()
    );
}

#[test]
fn path_b_the_migration_tab_names_the_keys_only_the_other_hsm_holds() {
    const NAME: &str = "Path B";
    const OLD_PW: &str = "Old-Vendor-Pw-42";
    const WALLET_PW: &str = "Path-B-Wallet-Pw-7";
    let env = common::demo();
    for args in [
        &[
            "db",
            "add",
            NAME,
            "--connector",
            "rehearsal",
            "--start-on-other-hsm",
            "--old-hsm-user",
            "ov_oracle",
        ][..],
        &[
            "migrate",
            "run",
            NAME,
            "--yes",
            "--old-hsm-user",
            "ov_oracle",
        ][..],
    ] {
        let (code, out, err) = run({
            let mut c = env.tdekey();
            c.args(args)
                .env("TDEKEY_PIN", DEMO_USER_PIN)
                .env("TDEKEY_OLD_HSM_PASSWORD", OLD_PW)
                .env("TDEKEY_WALLET_PASSWORD", WALLET_PW)
                .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
            c
        });
        assert_eq!(code, 0, "tdekey {args:?}: {out}{err}");
    }
    let old_keys = common::migration_status(&env, NAME)["old_hsm_keys"].clone();
    let old_key = old_keys[0]
        .as_str()
        .expect("path B names the old key")
        .to_owned();

    let mut h = ui_common::logged_in_on_demo(env.data.clone());
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the database list", |h| {
        h.state().databases.databases.len() == 2
    });
    h.get_by_label_contains("Path B — ").click();
    h.run_steps(2);
    migration_tab_finished(&mut h);
    assert!(
        h.query_by_label_contains("No recoverability report of this database yet")
            .is_some()
    );
    // Checked from the box, with nothing typed: the file wallet and the sealed backup that hold
    // the old key stay closed, and the other HSM is not reachable from here.
    h.get_by_label("Check recoverability").click();
    h.step();
    wait_until(&mut h, "the report", |h| {
        !h.state().is_pending(Task::Recoverability)
            && h.state().databases.recover.reports.contains_key(NAME)
    });
    h.run_steps(2);
    let r = h.state().databases.recover.reports[NAME].report.clone();
    // The old key is recorded on the other HSM, which tdekey cannot check: not missing, and the
    // report is incomplete (exit 1), not "all found".
    let on_other: Vec<String> = r
        .keys
        .iter()
        .filter(|k| {
            k.places
                .iter()
                .any(|p| matches!(p, tdekey::recover::Place::OtherHsm { .. }))
        })
        .map(|k| k.forms.hsm_label.clone())
        .collect();
    assert_eq!(on_other, vec![old_key.clone()], "{}", r.summary());
    assert!(
        r.missing().iter().all(|k| k.forms.hsm_label != old_key),
        "{}",
        r.summary()
    );
    assert!(
        !r.complete(),
        "the other HSM is not checked: {}",
        r.summary()
    );
    let other = r.before_retiring(&tdekey::recover::Retiring::OtherHsm);
    assert!(!other.safe(), "{}", other.sentence);
    let said = format!("Path B: {}", other.sentence);
    assert!(
        h.query_by_label(&said).is_some(),
        "the box says to keep the other HSM: {said}"
    );
    // With the wallet password typed on the Recoverability tab the file wallet is read too:
    // the old key is still found nowhere (the reverse migration made a new key in the file
    // wallet; the old one stays on the other HSM alone).
    h.get_by_label("Recoverability tab…").click();
    h.run_steps(2);
    type_into(&mut h, "Wallet password (optional)", WALLET_PW);
    let seq = r.audit_seq;
    h.get_by_label("Check recoverability").click();
    h.step();
    wait_until(&mut h, "the second report", |h| {
        !h.state().is_pending(Task::Recoverability)
            && h.state().databases.recover.reports[NAME].report.audit_seq != seq
    });
    let r = h.state().databases.recover.reports[NAME].report.clone();
    assert!(
        r.unread
            .iter()
            .all(|u| !u.source.ends_with("tde/ewallet.p12")),
        "{:?}",
        r.unread
    );
    assert!(
        r.keys.iter().any(|k| k
            .places
            .iter()
            .any(|p| matches!(p, tdekey::recover::Place::CurrentWallet { .. }))),
        "{}",
        r.summary()
    );
    assert!(r.missing().is_empty(), "{}", r.summary());
    assert!(
        !r.before_retiring(&tdekey::recover::Retiring::OtherHsm)
            .safe()
    );
}
