//! The real app in egui_kittest: a user logs in by typing and clicking labelled widgets, finds a
//! known key in the Keys table, and filters it. Accessible names are checked by the harness.

mod common;
mod ui_common;

use ui_common::{type_into, wait_until};

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::NodeT;
use egui_kittest::kittest::Queryable;
use tdekey::engine::Task;
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER_PIN};
use tdekey::hsm::{Hsm, KeyTemplate};
use tdekey::model::{PinFormat, TokenSelector};
use tdekey::secret::Secret;
use tdekey::ui::{App, Screen};

const KNOWN: &str = "ORACLE.TDE.HSM.MK.0642424242424242424242424242424242";

/// The real app on this test's data directory, in a 1400×900 window.
fn app(env: &Env) -> Harness<'static, App> {
    let data = env.data.clone();
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data))
}

fn demo_env_with_known_key() -> Env {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login("", &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    hsm.generate_aes_key(KNOWN, KeyTemplate::ORACLE_MASTER_KEY)
        .unwrap();
    hsm.close().unwrap();
    env
}

#[test]
fn log_in_through_the_ui_and_find_a_known_key() {
    let env = demo_env_with_known_key();
    let mut h = app(&env);

    // The default profile (made by demo-token) connects at start.
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    assert!(h.query_by_label_contains("CKM_AES_KEY_GEN").is_some());

    // A wrong password first: the message says so and the field is emptied.
    h.get_by_label("Password").focus();
    h.step();
    h.get_by_label("Password").type_text("not-the-pin");
    h.step();
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the wrong-PIN message", |h| {
        h.query_by_label_contains("CKR_PIN_INCORRECT").is_some()
    });
    assert!(
        h.state().hsm.password.is_empty(),
        "the password field is cleared"
    );
    h.get_by_label("Dismiss").click();
    h.step();

    h.get_by_label("Password").focus();
    h.step();
    h.get_by_label("Password").type_text(DEMO_USER_PIN);
    h.step();
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    assert!(
        h.query_all_by_label_contains("Logged in as demo_cu")
            .next()
            .is_some()
    );

    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory", |h| {
        h.state().screen == Screen::Keys && h.state().keys.loaded
    });
    h.step();
    assert!(
        h.query_by_label(KNOWN).is_some(),
        "the known key is in the Keys table"
    );
    assert!(h.query_by_label_contains("5 objects").is_some());

    // Select it: the details pane shows its USE KEY id.
    h.get_by_label(KNOWN).click();
    h.step();
    let selected = h.state().keys.selected.expect("a row is selected");
    assert_eq!(h.state().keys.rows[selected].object.label, KNOWN);
    h.step();
    assert!(
        h.query_by_label("Key id for USE KEY: 0642424242424242424242424242424242")
            .is_some()
    );

    // Filter down to the one extractable master key.
    h.get_by_label("Filter").focus();
    h.step();
    h.get_by_label("Filter").type_text("extractable");
    wait_until(&mut h, "the filter", |h| h.state().keys.visible_rows() == 1);
    assert!(h.query_by_label(KNOWN).is_none());
    assert!(h.query_by_label_contains("1 shown").is_some());

    // Reading the log is recorded first, with the HSM user logged in in the window.
    h.get_by_label("Audit").click();
    wait_until(&mut h, "the first page", |h| {
        h.state().audit.count.is_some()
    });
    let read = &h.state().audit.rows[0];
    assert_eq!(read.action, "audit.read");
    assert_eq!(read.hsm_user.as_deref(), Some("demo_cu"));

    // Neither PIN typed into the window (the wrong one, the right one) is in any file written:
    // the database, its WAL, eframe's storage as the window writes it on exit.
    save_window_state(&mut h, &env);
    let scan = env.assert_no_secrets_written(&[DEMO_USER_PIN, "not-the-pin"], &[]);
    assert!(scan.read("window.ron"), "{:?}", scan.files);
}

/// eframe's storage, written the way the native window writes it when it closes: the app's
/// `save`, flushed to `window.ron` in the data directory. egui's memory, which holds text
/// fields' state, is never added.
fn save_window_state(h: &mut Harness<'_, App>, env: &Env) {
    use eframe::App as _;
    let mut storage = ui_common::TestStorage {
        file: Some(env.data.root().join("window.ron")),
        ..Default::default()
    };
    assert!(
        !h.state().persist_egui_memory(),
        "egui's memory (text fields' state) is never stored"
    );
    h.state_mut().save(&mut storage);
    eframe::Storage::flush(&mut storage);
    assert!(
        !storage.values.is_empty(),
        "the window stores its preferences"
    );
}

/// A CloudHSM profile (`user:password` sent to C_Login): a wrong password and the right one
/// typed into the window, then the inventory. Neither the joined PIN nor the password alone is
/// in any file written.
#[test]
fn a_cloudhsm_login_typed_in_the_window_leaves_no_pin_on_disk() {
    const PIN: &str = "cu_user:S3cretPassw0rd";
    let env = Env::new();
    env.token("cloud-like", PIN).close().unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "profile", "add", "cloud", "--module"])
            .arg(&env.module)
            .args(["--token", "cloud-like", "--user", "cu_user"])
            .args(["--pin-format", "cloudhsm", "--default"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let mut h = app(&env);
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    assert_eq!(h.state().hsm.form.pin_format, PinFormat::CloudHsm);
    assert_eq!(h.state().hsm.form.user_name, "cu_user");
    type_into(&mut h, "Password", "Wr0ngPassw0rd-77");
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the wrong-PIN message", |h| {
        h.query_by_label_contains("CKR_PIN_INCORRECT").is_some()
    });
    h.get_by_label("Dismiss").click();
    type_into(&mut h, "Password", "S3cretPassw0rd");
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory", |h| {
        h.state().screen == Screen::Keys && h.state().keys.loaded
    });
    save_window_state(&mut h, &env);
    env.assert_no_secrets_written(&[PIN, "cu_user:Wr0ngPassw0rd-77"], &[]);
}

#[test]
fn a_wrong_module_path_is_reported_and_nothing_stays_connected() {
    let env = demo_env_with_known_key();
    let mut h = app(&env);
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    let bogus = env.dir.path().join("vendor/libpkcs11.so");
    h.state_mut().hsm.form.module_path = bogus.display().to_string();
    h.step();
    h.get_by_label("Connect").click();
    wait_until(&mut h, "the error", |h| h.state().hsm.banner.is_some());
    let text = h.state().hsm.banner.as_ref().unwrap().text.clone();
    assert!(text.starts_with("No file at"), "{text}");
    assert!(text.contains(&bogus.display().to_string()), "{text}");
    assert!(
        h.state().hsm.connection.is_none(),
        "the old module was closed"
    );
    h.step();
    assert!(h.query_by_label("Not connected").is_some());
    assert!(h.query_by_label_contains("No file at").is_some());
}

#[test]
fn five_thousand_objects_lay_out_only_the_visible_rows() {
    use tdekey::model::ObjectInfo;
    let env = Env::new();
    let mut h = app(&env);
    let objects: Vec<ObjectInfo> = (0..5000u32)
        .map(|i| ObjectInfo {
            handle: u64::from(i),
            class: "CKO_SECRET_KEY".into(),
            key_type: Some("CKK_AES".into()),
            label: format!("ORACLE.TDE.HSM.MK.06{:032X}", i),
            value_len: Some(32),
            ..Default::default()
        })
        .collect();
    let rows = tdekey::inventory::analyze(objects);
    h.state_mut().keys.set_rows(std::sync::Arc::new(rows));
    h.state_mut().screen = Screen::Keys;
    h.step();
    h.step();
    assert_eq!(h.state().keys.visible_rows(), 5000);
    let laid_out = h
        .query_all_by_label_contains("ORACLE.TDE.HSM.MK.06")
        .count();
    assert!(laid_out > 10, "rows are shown ({laid_out})");
    assert!(
        laid_out < 100,
        "only the rows on screen are laid out, not 5,000 ({laid_out})"
    );
    assert!(h.query_by_label_contains("5000 objects").is_some());
}

#[test]
fn a_profile_saved_in_the_form_is_listed_and_audited() {
    let env = Env::new();
    let mut h = app(&env);
    // The saved profiles load at start; the profile buttons wait for that, and so does a user.
    wait_until(&mut h, "the profile list", |h| {
        !h.state().is_pending(Task::Profiles)
    });
    for (label, text) in [
        ("Profile name", "CloudHSM production"),
        ("PKCS#11 module", "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"),
        ("Crypto user", "cu_oracle"),
    ] {
        h.get_by_label(label).focus();
        h.step();
        h.get_by_label(label).type_text(text);
        h.step();
    }
    h.get_by_label("CloudHSM (user:password)").click();
    h.step();
    h.get_by_label("Save profile").click();
    wait_until(&mut h, "the saved profile", |h| {
        h.state().hsm.profiles.len() == 1 || h.state().hsm.banner.as_ref().is_some_and(|b| b.error)
    });
    assert!(
        !h.state().hsm.banner.as_ref().is_some_and(|b| b.error),
        "{:?}",
        h.state().hsm.banner
    );
    let p = &h.state().hsm.profiles[0];
    assert_eq!(p.name, "CloudHSM production");
    assert_eq!(p.user_name, "cu_oracle");
    assert_eq!(p.pin_format, PinFormat::CloudHsm);
    assert!(
        h.query_by_label_contains("\"CloudHSM production\" saved")
            .is_some()
    );

    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let entries = store.recent_audit(10).unwrap();
    let outcomes: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("profile.change", "CloudHSM production", "started"),
            ("profile.change", "CloudHSM production", "success")
        ]
    );
    assert!(matches!(
        tdekey::audit::verify(&store).unwrap(),
        tdekey::audit::Verification::Intact { entries: 2 }
    ));
}

#[test]
fn filter_the_audit_log_and_export_it() {
    let env = Env::new();
    let module = env.module.display().to_string();
    for m in [module.as_str(), module.as_str(), "/nonexistent/vendor.so"] {
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", m]);
        run(c);
    }
    let mut h = app(&env);
    h.step();
    h.get_by_label("Audit").click();
    // Two connects with their disconnects (the CLI records both, as the window does), a failed
    // connect, and this reading of the log, recorded before the first page.
    wait_until(&mut h, "the first page", |h| {
        h.state().audit.count == Some(6)
    });
    assert_eq!(h.state().audit.rows.len(), 6);
    assert_eq!(h.state().audit.rows[0].seq, 6, "newest first");
    assert_eq!(h.state().audit.rows[0].action, "audit.read");

    h.get_by_label("Search").focus();
    h.step();
    h.get_by_label("Search").type_text("vendor.so");
    h.step();
    h.get_by_label("Apply").click();
    wait_until(&mut h, "the filtered view", |h| {
        h.state().audit.count == Some(1)
    });
    assert_eq!(h.state().audit.rows[0].outcome, "failure");
    h.step();
    assert!(h.query_by_label_contains("1 entries match").is_some());

    let out = env.dir.path().join("failures.csv");
    h.get_by_label("Export…").click();
    wait_until(&mut h, "the export window", |h| {
        h.query_by_label("Export file").is_some()
    });
    h.get_by_label("Export file").focus();
    h.step();
    h.get_by_label("Export file")
        .type_text(out.to_str().unwrap());
    h.step();
    h.get_by_label("Export").click();
    wait_until(&mut h, "the export", |h| {
        h.state().audit.last_export.is_some()
            || h.state().audit.banner.as_ref().is_some_and(|b| b.error)
    });
    let (entries, path, sha) = h.state().audit.last_export.clone().expect("exported");
    assert_eq!(path, out);
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len() as u64, entries);
    assert!(
        records
            .iter()
            .any(|r| &r[6] == "hsm.connect" && &r[8] == "failure")
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.dir.path().join("failures.csv.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["sha256"], sha);
    assert_eq!(manifest["filter"]["text"], "vendor.so");

    // Again, encrypted, as JSON Lines.
    let enc = env.dir.path().join("failures.jsonl.enc");
    let pass = "window typed passphrase 77";
    h.get_by_label("Export…").click();
    wait_until(&mut h, "the export window", |h| {
        h.query_by_label("Export file").is_some()
    });
    // A window's first frame only sizes it: a click there is lost.
    h.run_steps(2);
    h.get_by_label("JSON Lines").click();
    h.step();
    assert_eq!(
        h.state().audit.export_format,
        tdekey::audit::export::Format::Jsonl
    );
    h.get_by_label("Encrypt for transport (Argon2id + AES-256-GCM)")
        .click();
    wait_until(&mut h, "the passphrase fields", |h| {
        h.query_by_label("Repeat passphrase").is_some()
    });
    for label in ["Passphrase", "Repeat passphrase"] {
        h.get_by_label(label).focus();
        h.step();
        h.get_by_label(label).type_text(pass);
        h.step();
    }
    h.get_by_label("Export file").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label("Export file")
        .type_text(enc.to_str().unwrap());
    h.step();
    assert_eq!(h.state().audit.export_path, enc.display().to_string());
    h.get_by_label("Export").click();
    wait_until(&mut h, "the encrypted export", |h| {
        h.state()
            .audit
            .last_export
            .as_ref()
            .is_some_and(|(_, p, _)| *p == enc)
            || h.state().audit.banner.as_ref().is_some_and(|b| b.error)
    });
    assert_eq!(
        h.state().audit.last_export.as_ref().map(|(_, p, _)| p),
        Some(&enc),
        "{:?}",
        h.state().audit.banner
    );
    let plain = env.dir.path().join("failures.jsonl");
    tdekey::audit::export::decrypt(&enc, &tdekey::secret::Secret::from(pass), &plain, false)
        .unwrap();
    let text = std::fs::read_to_string(&plain).unwrap();
    let n = text.lines().count() as u64;
    assert_eq!(n, h.state().audit.last_export.as_ref().unwrap().0, "{text}");
    assert!(
        !common::contains(&env.all_bytes_except_tokens(), pass),
        "the passphrase reached a file"
    );

    // The export is in the log, and the chain verifies from the window.
    h.get_by_label("Clear").click();
    h.step();
    h.get_by_label("Verify").click();
    wait_until(&mut h, "the verification", |h| {
        h.state().audit.verify.is_some()
    });
    let (ok, text) = h.state().audit.verify.clone().unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("chain intact"), "{text}");
    wait_until(&mut h, "the refreshed view", |h| {
        h.state()
            .audit
            .rows
            .iter()
            .any(|r| r.action == "audit.export" && r.outcome == "success")
    });
}

#[test]
fn a_database_profile_is_added_edited_and_deleted_in_the_window() {
    let env = Env::new();
    let mut h = app(&env);
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the database list", |h| {
        !h.state().is_pending(Task::Databases)
            && h.query_by_label("No database profiles yet.").is_some()
    });
    for (label, text) in [
        ("Name", "ORCL production"),
        ("ORACLE_HOME", "/u01/app/oracle/product/19.0.0/dbhome_1"),
        ("ORACLE_SID", "ORCL"),
        ("WALLET_ROOT", "/u01/app/oracle/admin/ORCL/wallet"),
        ("RAC nodes", "orcl1, orcl2"),
        ("Data Guard standbys", "ORCLSBY@sby1.example.com"),
    ] {
        h.get_by_label(label).focus();
        h.step();
        h.get_by_label(label).type_text(text);
        h.step();
    }
    h.get_by_label("SQL*Plus").click();
    h.step();
    h.get_by_label("CDB, united").click();
    h.step();
    h.get_by_label("Save database profile").click();
    wait_until(&mut h, "the saved profile", |h| {
        h.state().databases.databases.len() == 1
            || h.state().databases.banner.as_ref().is_some_and(|b| b.error)
    });
    let d = h.state().databases.databases[0].clone();
    assert_eq!(d.name, "ORCL production");
    assert_eq!(d.connector, tdekey::model::ConnectorKind::Sqlplus);
    assert_eq!(d.oracle_sid.as_deref(), Some("ORCL"));
    assert_eq!(d.multitenant, tdekey::model::Multitenant::CdbUnited);
    assert_eq!(d.rac_nodes, ["orcl1", "orcl2"]);
    assert!(d.rac, "nodes listed: a RAC database");
    assert_eq!(
        d.standbys,
        [tdekey::model::Standby::parse("ORCLSBY@sby1.example.com")]
    );
    h.step();
    assert!(
        h.query_by_label_contains("\"ORCL production\" saved")
            .is_some()
    );

    // Asked first, by name; Cancel keeps it.
    h.get_by_label("Delete database profile").click();
    h.run_steps(3);
    h.get_by_label("Cancel").click();
    h.step();
    assert_eq!(h.state().databases.databases.len(), 1, "cancelled: kept");
    h.get_by_label("Delete database profile").click();
    h.run_steps(3);
    h.get_by_label("Delete ORCL production").click();
    wait_until(&mut h, "the deletion", |h| {
        h.state().databases.databases.is_empty()
    });
    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let actions: Vec<String> = store
        .recent_audit(10)
        .unwrap()
        .iter()
        .rev()
        .map(|e| format!("{} {}", e.action, e.outcome))
        .collect();
    assert_eq!(
        actions,
        [
            "database.change started",
            "database.change success",
            "database.change started",
            "database.change success"
        ]
    );
}

/// Adds the Manual profile FIN (with `extra` arguments to `db add`) and opens the window on
/// its console.
fn console_of_fin(env: &Env, extra: &[&std::ffi::OsStr]) -> Harness<'static, App> {
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", "FIN", "--connector", "manual"])
            .args(extra);
        c
    });
    assert_eq!(code, 0, "{err}");
    let mut h = app(env);
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the console of FIN", |h| {
        h.query_by_label_contains("Run against FIN").is_some()
    });
    h
}

fn choose_statement(h: &mut Harness<'_, App>, title: &str) {
    // A new egui Grid lays itself out invisibly on its first frame.
    h.step();
    h.step();
    h.get_by_label("Statement").click();
    h.step();
    h.step();
    h.get_by_label(title).click();
    h.step();
    h.step();
}

/// Runs the console's request and waits for its answer (or failure).
fn run_console(h: &mut Harness<'_, App>, button: &str) {
    h.get_by_label(button).click();
    h.step();
    // A statement that changes the database asks first, naming it.
    h.step();
    if let Some(confirm) = h.query_by_label_contains("Run it on ") {
        confirm.click();
        h.step();
    }
    wait_until(h, "the console's answer", |h| {
        // A Manual question keeps the task pending until the paste is checked.
        h.state().databases.console.ask.is_some()
            || (!h.state().is_pending(Task::Oracle)
                && (h.state().databases.console.answer.is_some()
                    || h.state().databases.console.error.is_some()))
    });
    h.step();
}

/// The window on the demo token (connected at start), showing the Rehearsal demo's console.
fn rehearsal_demo_console(env: &Env) -> Harness<'static, App> {
    let mut h = app(env);
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some() && !h.state().hsm.profiles.is_empty()
    });
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the Rehearsal demo's console", |h| {
        h.query_by_label_contains("Run against Rehearsal demo")
            .is_some()
    });
    h
}

#[test]
fn the_rehearsal_demo_migrates_through_the_console() {
    let env = demo_env_with_known_key();
    let mut h = rehearsal_demo_console(&env);
    assert!(h.query_by_label(" REHEARSAL ").is_some());

    // Migrating while TDE_CONFIGURATION is FILE: Oracle's error, shown as such.
    choose_statement(&mut h, "Migrate the master key to the HSM");
    assert_eq!(h.state().databases.console.draft.hsm_user, "demo_cu");
    type_into(&mut h, "HSM password", DEMO_USER_PIN);
    type_into(&mut h, "Wallet password", "demo-wallet-1234");
    assert!(
        h.query_by_label_contains("MIGRATE USING \"<hidden>\" WITH BACKUP")
            .is_some()
    );
    run_console(&mut h, "Run");
    assert!(
        h.query_by_label_contains("Oracle refused: ORA-28366")
            .is_some(),
        "{:?}",
        h.state().databases.console.error
    );
    assert!(
        h.state().databases.console.hsm_password.is_empty(),
        "secrets are cleared after each run"
    );

    // A statement that changes the Rehearsal's database asks first, naming it; "Do not run"
    // sends nothing.
    choose_statement(&mut h, "Set TDE_CONFIGURATION");
    h.get_by_label("Run").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("This changes the database Rehearsal demo. Run it?")
            .is_some()
    );
    h.get_by_label("Do not run").click();
    h.run_steps(2);
    assert!(!h.state().is_pending(Task::Oracle));
    assert!(h.query_by_label("System altered.").is_none());
    run_console(&mut h, "Run");
    assert!(h.query_by_label("System altered.").is_some());
    choose_statement(&mut h, "Restart the database");
    run_console(&mut h, "Run");
    assert!(h.query_by_label("Database opened.").is_some());

    choose_statement(&mut h, "Migrate the master key to the HSM");
    type_into(&mut h, "HSM password", DEMO_USER_PIN);
    type_into(&mut h, "Wallet password", "demo-wallet-1234");
    run_console(&mut h, "Run");
    assert!(
        h.query_by_label("keystore altered.").is_some(),
        "{:?}",
        h.state().databases.console.error
    );
    let created = h
        .state()
        .databases
        .console
        .answer
        .as_ref()
        .unwrap()
        .answer
        .hsm_created
        .iter()
        .find(|l| l.starts_with("ORACLE.TDE.HSM.MK.06"))
        .cloned()
        .expect("a master key on the token");
    // The statement's HSM password logged tdekey in; the Keys screen lists the new key.
    wait_until(&mut h, "the new key in the inventory", |h| {
        h.state().hsm.login.is_some() && h.state().keys.rows_contain(&created)
    });

    choose_statement(&mut h, "Query V$ENCRYPTION_WALLET");
    run_console(&mut h, "Run");
    assert!(h.query_by_label("PRIMARY").is_some());
    assert!(h.query_by_label("SECONDARY").is_some());
    assert!(h.query_by_label("2 rows").is_some());
}

#[test]
fn the_manual_connector_hides_reveals_and_checks_the_paste() {
    let env = Env::new();
    let mut h = console_of_fin(&env, &[]);
    choose_statement(&mut h, "Open the keystore");
    h.get_by_label("wallet password").click();
    h.step();
    type_into(&mut h, "Wallet password", "Manual-Wallet-Pw");
    run_console(&mut h, "Show the statement to run");
    assert!(h.state().databases.console.ask.is_some());
    // The preview and the statement to run both hide the password.
    assert_eq!(
        h.query_all_by_label_contains("IDENTIFIED BY \"<hidden>\"")
            .count(),
        2
    );
    assert!(h.query_by_label_contains("Manual-Wallet-Pw").is_none());
    h.get_by_label("Reveal secrets").click();
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("IDENTIFIED BY \"Manual-Wallet-Pw\"")
            .is_some()
    );

    // "Copy statement" copies the real text, ready for SQL*Plus.
    h.get_by_label("Copy statement").click();
    h.step();
    let copied = h.output().platform_output.commands.iter().any(|c| {
        matches!(c, egui::OutputCommand::CopyText(t)
            if t == "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"Manual-Wallet-Pw\";")
    });
    assert!(copied, "{:?}", h.output().platform_output.commands);

    // The answer to another statement is refused with a sentence, and asked again.
    type_into(&mut h, "Pasted output", "System altered.");
    h.get_by_label("Check the output").click();
    h.step();
    wait_until(&mut h, "the question again", |h| {
        h.state()
            .databases
            .console
            .ask
            .as_ref()
            .is_some_and(|a| a.problem.is_some())
    });
    h.step();
    assert!(h.query_by_label_contains("another statement").is_some());
    // The output of another ADMINISTER KEY MANAGEMENT statement says "keystore altered."
    // too: its echo shows it is a CLOSE, and the sentence names both statements.
    type_into(
        &mut h,
        "Pasted output",
        "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY \"Manual-Wallet-Pw\";\n\nkeystore altered.\n\nSQL> ",
    );
    h.get_by_label("Check the output").click();
    h.step();
    wait_until(&mut h, "the question again", |h| {
        h.state()
            .databases
            .console
            .ask
            .as_ref()
            .and_then(|a| a.problem.as_deref())
            .is_some_and(|p| p.contains("Close the keystore"))
    });
    h.step();
    assert!(
        h.query_by_label_contains("not of the statement asked, \"Open the keystore\"")
            .is_some()
    );
    assert!(
        h.state().databases.console.answer.is_none(),
        "not taken as success"
    );
    // A transcript of the statement asked, as SQL*Plus printed it, CRLF and all.
    type_into(
        &mut h,
        "Pasted output",
        "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"Manual-Wallet-Pw\";\r\n\r\nkeystore altered.\r\n\r\nSQL> ",
    );
    h.get_by_label("Check the output").click();
    h.step();
    wait_until(&mut h, "the answer", |h| {
        h.state().databases.console.answer.is_some()
    });
    h.step();
    assert!(h.query_by_label("keystore altered.").is_some());
    assert!(h.query_by_label_contains("via Manual").is_some());

    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let entries = store.recent_audit(2).unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.action == "oracle.statement" && e.details.contains("Manual"))
    );
    assert!(entries.iter().any(|e| e.outcome == "success"));
    drop(store);
    assert!(!common::contains(
        &env.all_bytes_except_tokens(),
        "Manual-Wallet-Pw"
    ));
}

#[test]
fn the_wallet_tab_lists_files_warnings_and_entries_without_values() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let root = env.dir.path().join("wallet_root");
    let tde = root.join("tde");
    std::fs::create_dir_all(&tde).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets/synthetic-tde-pbes2-aes256.p12");
    std::fs::copy(&fixture, tde.join("ewallet.p12")).unwrap();
    std::fs::set_permissions(
        tde.join("ewallet.p12"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(tde.join("cwallet.sso"), b"sso").unwrap();
    std::fs::set_permissions(
        tde.join("cwallet.sso"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut h = console_of_fin(&env, &["--wallet-root".as_ref(), root.as_os_str()]);
    h.get_by_label("Wallet").click();
    h.step();
    h.step();
    assert_eq!(
        h.state().databases.wallet.root,
        root.display().to_string(),
        "WALLET_ROOT comes from the profile"
    );

    // Without the password: files and the warning about a readable auto-login wallet.
    h.get_by_label("Inspect").click();
    wait_until(&mut h, "the report", |h| {
        h.state().databases.wallet.report.is_some()
    });
    h.step();
    assert!(
        h.query_by_label_contains("cwallet.sso (auto-login) is readable by other users")
            .is_some()
    );
    // Each cwallet.sso is named with what its header says (here: not one at all).
    assert!(
        h.query_by_label_contains("tde/cwallet.sso is not an auto-login wallet")
            .is_some(),
        "the auto-login file's kind or problem is shown"
    );
    assert!(
        h.query_by_label_contains("type the wallet password")
            .is_some()
    );

    // A wrong password is a sentence; the right one lists the entries, the current key marked.
    type_into(&mut h, "Wallet password (optional)", "not-the-password");
    h.get_by_label("Inspect").click();
    wait_until(&mut h, "the wrong-password report", |h| {
        !h.state().is_pending(Task::Wallet)
            && h.state()
                .databases
                .wallet
                .report
                .as_ref()
                .is_some_and(|r| r.contents.is_some())
    });
    h.step();
    assert!(h.query_by_label_contains("password is wrong").is_some());
    assert!(h.state().databases.wallet.password.is_empty());
    type_into(&mut h, "Wallet password (optional)", "Test123Wallet");
    h.get_by_label("Inspect").click();
    h.step();
    wait_until(&mut h, "the entries", |h| {
        !h.state().is_pending(Task::Wallet)
            && h.state()
                .databases
                .wallet
                .report
                .as_ref()
                .is_some_and(|r| matches!(r.contents, Some(Ok(_))))
    });
    h.step();
    assert!(
        h.query_by_label("ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY")
            .is_some()
    );
    assert!(h.query_by_label("current").is_some());
    assert!(h.query_by_label_contains("PBES2").is_some());

    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let outcomes: Vec<String> = store
        .recent_audit(2)
        .unwrap()
        .iter()
        .rev()
        .map(|e| format!("{} {}", e.action, e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        ["wallet.inspect failure", "wallet.inspect success"]
    );
    drop(store);
    let bytes = env.all_bytes_except_tokens();
    for s in ["Test123Wallet", "not-the-password"] {
        assert!(!common::contains(&bytes, s), "{s} written to disk");
    }
}

/// A data directory whose database cannot be opened: every task that needs it ends with the
/// reason, for its own screen. (The store thread used to report every failure as a Profiles
/// failure, so a pending Databases or Wallet task never ended and its spinner turned forever.)
#[test]
fn a_database_that_cannot_be_opened_ends_every_task_with_its_reason() {
    use tdekey::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant};
    use tdekey::ui::DbTab;
    let env = Env::new();
    std::fs::write(
        env.data.database(),
        b"these are someone's notes, not a database\n".repeat(100),
    )
    .unwrap();
    let mut h = app(&env);
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the end of the Databases task", |h| {
        !h.state().is_pending(Task::Databases) && h.state().databases.banner.is_some()
    });
    let text = h.state().databases.banner.as_ref().unwrap().text.clone();
    assert!(text.contains("is not a tdekey database"), "{text}");
    wait_until(&mut h, "the end of the Profiles task", |h| {
        !h.state().is_pending(Task::Profiles) && h.state().hsm.banner.is_some()
    });

    // The wallet inspector of a profile shown from before: its task ends too.
    h.state_mut().databases.banner = None;
    h.state_mut().databases.databases = vec![DatabaseProfile {
        id: Some(1),
        name: "FIN".into(),
        connector: ConnectorKind::Manual,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: tdekey::model::ConnectAs::Sysdba,
        wallet_root: Some(env.dir.path().display().to_string()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    }];
    h.state_mut().databases.form.saved_name = Some("FIN".into());
    h.state_mut().databases.tab = DbTab::Wallet;
    h.step();
    h.step();
    h.get_by_label("Inspect").click();
    h.step();
    wait_until(&mut h, "the end of the Wallet task", |h| {
        !h.state().is_pending(Task::Wallet) && h.state().databases.banner.is_some()
    });
    let text = h.state().databases.banner.as_ref().unwrap().text.clone();
    assert!(text.contains("is not a tdekey database"), "{text}");
    assert!(!h.state().is_pending(Task::Databases));
}

/// A Rehearsal statement whose HSM password logs tdekey in, while the audit log refuses the
/// login entry: the login does not stand, and the window says so once. (The HSM thread used to
/// send the failure and then the answer, which cleared it.)
#[test]
fn a_rehearsal_login_the_log_cannot_show_is_undone_and_reported() {
    let env = demo_env_with_known_key();
    // The log refuses hsm.login entries only: the statement itself is recorded.
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute_batch(
        "CREATE TRIGGER test_refuses_logins BEFORE INSERT ON audit_log
         WHEN new.action = 'hsm.login'
         BEGIN SELECT RAISE(ABORT, 'this test refuses hsm.login entries'); END;",
    )
    .unwrap();
    drop(c);
    let mut h = rehearsal_demo_console(&env);
    choose_statement(&mut h, "Set TDE_CONFIGURATION");
    run_console(&mut h, "Run");
    choose_statement(&mut h, "Restart the database");
    run_console(&mut h, "Run");
    choose_statement(&mut h, "Migrate the master key to the HSM");
    type_into(&mut h, "HSM password", DEMO_USER_PIN);
    type_into(&mut h, "Wallet password", "demo-wallet-1234");
    run_console(&mut h, "Run");
    for _ in 0..10 {
        h.step();
    }
    let console = &h.state().databases.console;
    let error = console.error.clone().expect("the failure is shown");
    assert!(error.contains("keystore altered."), "{error}");
    assert!(
        error.contains("could not be written to the audit log"),
        "{error}"
    );
    assert!(error.contains("logged out again"), "{error}");
    assert!(
        console.answer.is_none(),
        "no answer event cleared the error"
    );
    assert!(h.state().hsm.login.is_none(), "the login does not stand");
    assert!(!h.state().is_pending(Task::Oracle));

    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    let recent = store.recent_audit(20).unwrap();
    assert!(
        recent
            .iter()
            .any(|r| r.action == "oracle.statement" && r.details.contains("Migrate")),
        "the statement is on record"
    );
}

/// The migration wizard through the window, on the Rehearsal demo, clicked through to the end:
/// the simulated host's fix, a sealed backup, the restart confirmed, the passwords at their
/// steps; then the report, the token (one new master key), and no secret on disk.
#[test]
fn the_migration_wizard_runs_to_the_end_in_the_window() {
    use tdekey::migration::StepId;
    let env = demo_env_with_known_key();
    let mut h = rehearsal_demo_console(&env);
    // The wizard uses the window's HSM session.
    h.get_by_label("HSM").click();
    h.step();
    type_into(&mut h, "Password", DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    h.get_by_label("Databases").click();
    h.step();
    h.get_by_label("Migration").click();
    wait_until(&mut h, "the plan", |h| {
        !h.state().is_pending(Task::Migration) && h.query_by_label_contains("Run step 1").is_some()
    });
    assert!(
        h.query_by_label("Set a rotation policy…").is_none(),
        "no rotation offered before the migration is finished"
    );
    let passphrase = "a long backup passphrase 9";
    let mut asked = 0;
    for _ in 0..20 {
        let current = h
            .state()
            .databases
            .migration
            .state
            .as_ref()
            .map_or(Some(StepId::Choose), |s| s.current());
        let Some(step) = current else { break };
        let n = step.number();
        match step {
            StepId::Backup => {
                // Typed twice: the minimum length shows before the first try.
                assert!(
                    h.query_by_label("At least 12 characters, typed twice.")
                        .is_some()
                );
                type_into(&mut h, "Backup passphrase", passphrase);
                // Two different passphrases: the step does not run, and the row says why.
                type_into(&mut h, "Repeat backup passphrase", "not the same");
                h.step();
                assert!(h.query_by_label("The two passphrases differ.").is_some());
                assert!(
                    h.get_by_label(&format!("Run step {n}"))
                        .accesskit_node()
                        .is_disabled()
                );
                h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
                h.step();
                h.get_by_label("Repeat backup passphrase")
                    .type_text(passphrase);
                h.step();
            }
            StepId::FileOpen => type_into(&mut h, "Wallet password", "demo-wallet-1234"),
            StepId::Migrate => {
                assert!(
                    h.query_by_label_contains("MIGRATE USING \"<hidden>\"")
                        .is_some(),
                    "the statement is shown before it runs, secrets hidden"
                );
                type_into(&mut h, "HSM password", DEMO_USER_PIN);
                type_into(&mut h, "Wallet password", "demo-wallet-1234");
            }
            _ => {}
        }
        let waiting = h
            .state()
            .databases
            .migration
            .progress
            .as_ref()
            .filter(|p| p.step == step)
            .map(|p| p.needs.clone())
            .unwrap_or_default();
        let button = if waiting.contains(&tdekey::migration::Need::Fix) {
            "Apply the fix on the simulated host".to_owned()
        } else if waiting.contains(&tdekey::migration::Need::Confirmation) {
            "Done: continue".to_owned()
        } else {
            [
                format!("Run step {n}"),
                format!("Skip step {n}"),
                format!("Run step {n} and write the report"),
                format!("Run step {n} again"),
            ]
            .into_iter()
            .find(|b| h.query_by_label(b).is_some())
            .expect("a button for the step")
        };
        h.get_by_label(&button).click();
        h.step();
        // A step that may change the database asks first, naming it.
        let confirm = format!("Run step {n} on {DEMO_DATABASE_NAME}");
        h.run_steps(3);
        if h.query_by_label(&confirm).is_some() {
            assert!(
                h.query_by_label(&format!("Run step {n} on {DEMO_DATABASE_NAME}?"))
                    .is_some()
            );
            h.get_by_label(&confirm).click();
            h.step();
            asked += 1;
        }
        wait_until(&mut h, "the step", |h| {
            !h.state().is_pending(Task::Migration)
        });
        h.step();
        assert!(
            h.state().databases.migration.error.is_none(),
            "{:?}",
            h.state().databases.migration.error
        );
    }
    assert!(h.query_by_label("The migration is finished.").is_some());
    // Only now is the rotation of the new key offered (no policy yet).
    assert!(h.query_by_label("Set a rotation policy…").is_some());
    assert!(
        asked >= 3,
        "the steps that change the database asked first ({asked})"
    );
    let new_key = h
        .state()
        .databases
        .migration
        .state
        .as_ref()
        .and_then(|s| s.new_key.clone())
        .expect("a new key");
    assert!(h.query_by_label(&new_key).is_some(), "shown under the plan");
    assert!(
        h.state().databases.migration.backup_passphrase.is_empty(),
        "secrets are cleared after each step"
    );

    // Step 12 wrote the report, under the data directory by default.
    wait_until(&mut h, "the report", |h| {
        h.state().databases.migration.report_written.is_some()
    });
    let report = std::path::PathBuf::from(h.state().databases.migration.report_path.clone());
    assert!(report.starts_with(env.data.root()), "{}", report.display());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(&new_key));

    // Then rolled back in the window: a reason, each restart confirmed, the passwords at the
    // reverse migration.
    h.get_by_label("Roll back this migration").click();
    h.step();
    assert!(
        h.get_by_label("Roll back the migration")
            .accesskit_node()
            .is_disabled(),
        "no rollback without a reason"
    );
    type_into(
        &mut h,
        "Reason to roll back",
        "The application owners asked to stay on the wallet.",
    );
    h.get_by_label("Roll back the migration").click();
    h.step();
    // Starting it asks first, naming the database; nothing is sent until then.
    h.run_steps(3);
    assert!(
        h.query_by_label(&format!("Roll back the migration of {DEMO_DATABASE_NAME}?"))
            .is_some(),
        "the rollback asks first"
    );
    assert!(!h.state().is_pending(Task::Migration));
    h.get_by_label(&format!("Roll back {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    wait_until(&mut h, "the rollback's start", |h| {
        !h.state().is_pending(Task::Migration)
    });
    let mut rollback_asked = 0;
    for _ in 0..12 {
        h.step();
        let m = &h.state().databases.migration;
        assert!(m.error.is_none(), "{:?}", m.error);
        let Some(back) = m
            .state
            .as_ref()
            .and_then(|s| s.rollback.as_ref())
            .and_then(|r| r.current())
        else {
            break;
        };
        let needs = m
            .progress
            .as_ref()
            .filter(|p| p.back == Some(back))
            .map(|p| p.needs.clone())
            .unwrap_or_default();
        if back == tdekey::migration::BackStep::Reverse {
            type_into(&mut h, "HSM password", DEMO_USER_PIN);
        }
        if needs.contains(&tdekey::migration::Need::WalletPassword)
            || back == tdekey::migration::BackStep::Reverse
        {
            type_into(&mut h, "Wallet password", "demo-wallet-1234");
        }
        let button = if needs.contains(&tdekey::migration::Need::Confirmation) {
            "Done: continue".to_owned()
        } else {
            format!("Run rollback step R{}", back.number())
        };
        h.get_by_label(&button).click();
        h.step();
        // A rollback step that may send statements asks first, naming the step and database.
        let confirm = format!(
            "Run rollback step R{} on {DEMO_DATABASE_NAME}",
            back.number()
        );
        h.run_steps(3);
        if h.query_by_label(&confirm).is_some() {
            rollback_asked += 1;
            h.get_by_label(&confirm).click();
            h.step();
        }
        wait_until(&mut h, "the rollback step", |h| {
            !h.state().is_pending(Task::Migration)
        });
    }
    h.step();
    assert!(
        rollback_asked >= 2,
        "the reverse migration and TDE_CONFIGURATION asked first ({rollback_asked})"
    );
    assert!(
        h.query_by_label("The migration is rolled back.").is_some(),
        "{:?}",
        h.state().databases.migration.progress
    );
    assert!(
        h.state()
            .databases
            .migration
            .state
            .as_ref()
            .and_then(|s| s.rollback.as_ref())
            .is_some_and(|r| r.reversed),
        "the master key went back to the file wallet"
    );

    drop(h);
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login("", &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let keys: Vec<_> = hsm
        .inventory(&mut |_, _| {})
        .unwrap()
        .into_iter()
        .filter(|o| o.label.starts_with("ORACLE.TDE.HSM.MK."))
        .collect();
    assert_eq!(
        keys.len(),
        4,
        "the demo's two, the known one, and the new one"
    );
    let new = keys
        .iter()
        .find(|o| o.label == new_key)
        .expect("on the token");
    assert_eq!(new.flags.extractable, Some(false));
    let mut bytes = env.all_bytes_except_tokens();
    bytes.extend(html.as_bytes());
    for secret in [DEMO_USER_PIN, "demo-wallet-1234", passphrase] {
        assert!(!common::contains(&bytes, secret), "{secret} on disk");
    }
}

/// *Cancel* (and Esc) on a statement waiting for its paste records it as `cancelled`.
#[test]
fn a_statement_cancelled_before_its_paste_is_recorded_as_cancelled() {
    let env = Env::new();
    let mut h = console_of_fin(&env, &[]);
    let outcomes = |env: &Env| -> Vec<(String, String)> {
        let store = tdekey::store::Store::open(&env.data.database()).unwrap();
        let mut v: Vec<(String, String)> = store
            .recent_audit(10)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "oracle.statement")
            .map(|e| (e.outcome, e.details))
            .collect();
        v.reverse();
        v
    };
    for how in ["Cancel", "Esc"] {
        choose_statement(&mut h, "Open the keystore");
        h.get_by_label("wallet password").click();
        h.step();
        type_into(&mut h, "Wallet password", "Manual-Wallet-Pw");
        run_console(&mut h, "Show the statement to run");
        assert!(h.state().databases.console.ask.is_some(), "{how}");
        if how == "Cancel" {
            h.get_by_label("Cancel").click();
        } else {
            h.key_press(egui::Key::Escape);
        }
        h.step();
        wait_until(&mut h, "the end of the statement", |h| {
            !h.state().is_pending(Task::Oracle)
        });
        h.step();
        assert!(h.state().databases.console.ask.is_none(), "{how}");
        assert!(h.state().databases.console.answer.is_none(), "{how}");
    }
    let o = outcomes(&env);
    let names: Vec<&str> = o.iter().map(|(x, _)| x.as_str()).collect();
    assert_eq!(
        names,
        ["started", "cancelled", "started", "cancelled"],
        "{o:?}"
    );
    assert!(
        o.iter().all(|(x, d)| if x == "started" {
            d.contains("Manual")
        } else {
            d.contains("Cancelled: \\\"Open the keystore\\\"")
        }),
        "{o:?}"
    );
    assert!(!common::contains(
        &env.all_bytes_except_tokens(),
        "Manual-Wallet-Pw"
    ));
}

/// A SQL*Plus statement that changes the database asks "Run it on FIN" first, and nothing
/// reaches sqlplus until it is confirmed; a query runs at once.
#[test]
fn a_changing_sqlplus_statement_asks_to_run_it_on_the_database_first() {
    let env = Env::new();
    let log = env.dir.path().join("sqlplus-log");
    std::fs::create_dir_all(&log).unwrap();
    // SAFETY: set before the app (and its threads) start; the stand-in reads it.
    unsafe { std::env::set_var("SQLPLUS_STANDIN_LOG", &log) };
    let home =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/standin/oracle_home");
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", "FIN", "--connector", "sqlplus", "--sid", "FIN"])
            .arg("--oracle-home")
            .arg(&home);
        c
    });
    assert_eq!(code, 0, "{err}");
    let mut h = app(&env);
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the console of FIN", |h| {
        h.query_by_label_contains("Run against FIN").is_some()
    });
    let sent = || std::fs::read_to_string(log.join("stdin")).ok();
    let statements = |env: &Env| {
        let store = tdekey::store::Store::open(&env.data.database()).unwrap();
        store
            .recent_audit(20)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "oracle.statement")
            .count()
    };

    choose_statement(&mut h, "Set TDE_CONFIGURATION");
    h.get_by_label("Run").click();
    h.run_steps(3);
    assert!(
        h.query_by_label("This changes the database FIN. Run it?")
            .is_some()
    );
    assert!(h.query_by_label("Run it on FIN").is_some());
    assert!(!h.state().is_pending(Task::Oracle), "nothing runs yet");
    // Not confirmed: nothing is sent, nothing recorded.
    h.get_by_label("Do not run").click();
    h.run_steps(3);
    assert!(h.query_by_label("Run it on FIN").is_none());
    assert_eq!(sent(), None, "sqlplus was not started");
    assert_eq!(statements(&env), 0);

    h.get_by_label("Run").click();
    h.run_steps(3);
    run_console(&mut h, "Run it on FIN");
    assert!(
        h.query_by_label("System altered.").is_some(),
        "{:?}",
        h.state().databases.console.error
    );
    let stdin = sent().expect("sqlplus ran");
    assert!(
        stdin.contains("ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION="),
        "{stdin}"
    );
    assert_eq!(statements(&env), 2, "started and success");

    // A query changes nothing: it runs at once.
    std::fs::remove_file(log.join("stdin")).unwrap();
    choose_statement(&mut h, "Query V$ENCRYPTION_WALLET");
    run_console(&mut h, "Run");
    assert!(h.query_by_label("Run it on FIN").is_none());
    assert!(
        sent().is_some_and(|s| s.contains("V$ENCRYPTION_WALLET")),
        "the query ran without a question"
    );
}

#[test]
fn a_name_too_long_is_refused_in_the_window_with_its_sentence() {
    let env = Env::new();
    let mut h = app(&env);
    h.step();
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the database list", |h| {
        !h.state().is_pending(Task::Databases)
            && h.query_by_label("No database profiles yet.").is_some()
    });
    let long = "N".repeat(300);
    for (label, text) in [
        ("Name", long.as_str()),
        ("WALLET_ROOT", "/u01/app/oracle/admin/ORCL/wallet"),
    ] {
        h.get_by_label(label).focus();
        h.step();
        h.get_by_label(label).type_text(text);
        h.step();
    }
    h.get_by_label("Save database profile").click();
    wait_until(&mut h, "the refusal", |h| {
        h.state().databases.banner.as_ref().is_some_and(|b| b.error)
    });
    let sentence = "The database name has 300 characters; at most 64 are allowed.";
    assert!(
        h.state()
            .databases
            .banner
            .as_ref()
            .is_some_and(|b| b.text.contains(sentence)),
        "{:?}",
        h.state().databases.banner.as_ref().map(|b| &b.text)
    );
    h.step();
    assert!(h.query_by_label_contains(sentence).is_some(), "shown");
    assert!(h.state().databases.databases.is_empty());
    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    assert!(store.databases().unwrap().is_empty(), "nothing saved");
}
