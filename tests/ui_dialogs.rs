//! The window's dialogs and forms from the keyboard, the export's question before it replaces a
//! file, and an Audit screen that is never stale: egui_kittest over the real app.

mod common;
mod ui_common;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::NodeT;
use egui_kittest::kittest::Queryable;
use tdekey::hsm::demo::{DEMO_PROFILE_NAME, DEMO_USER_PIN};
use tdekey::ui::{App, Screen};
use ui_common::{type_into, wait_until};

fn app(env: &Env) -> Harness<'static, App> {
    let data = env.data.clone();
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data))
}

fn demo_env() -> Env {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    env
}

#[test]
fn the_login_form_has_the_focus_at_start_and_again_after_a_wrong_pin() {
    let env = demo_env();
    let mut h = app(&env);
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    h.run_steps(2);
    // The demo profile names its user: the password is the first empty field.
    assert!(h.get_by_label("Password").is_focused());
    assert!(
        h.query_by_label_contains("Type the token's PIN: the password alone")
            .is_some(),
        "the field says what to type for a plain PIN"
    );
    // Typed without a click: the keys go to the field that has the focus.
    h.get_by_label("Password").type_text("not-the-pin");
    h.step();
    h.key_press(egui::Key::Enter);
    wait_until(&mut h, "the wrong-PIN message", |h| {
        h.query_by_label_contains("CKR_PIN_INCORRECT").is_some()
    });
    h.run_steps(2);
    assert!(h.state().hsm.password.is_empty());
    assert!(
        h.get_by_label("Password").is_focused(),
        "after a wrong PIN the password field has the focus again"
    );
    h.get_by_label("Password").type_text(DEMO_USER_PIN);
    h.step();
    h.key_press(egui::Key::Enter);
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
}

#[test]
fn a_confirmation_takes_the_focus_keeps_tab_inside_and_answers_esc_and_enter() {
    let env = demo_env();
    let mut h = app(&env);
    wait_until(&mut h, "the demo profile and its connection", |h| {
        h.state().hsm.form.id.is_some() && h.state().hsm.connection.is_some()
    });
    let yes = format!("Delete {DEMO_PROFILE_NAME}");
    let question = format!("Delete the HSM profile {DEMO_PROFILE_NAME}?");

    h.get_by_label("Delete profile").click();
    h.run_steps(3);
    assert!(h.query_by_label(&question).is_some());
    assert!(
        h.get_by_label(&yes).is_focused(),
        "focus starts on the default button"
    );
    // The login form behind the dialog asks for the focus (as when a connection or a logout
    // ends while the dialog is open): the dialog keeps it.
    h.state_mut().hsm.on_logged_out();
    h.run_steps(3);
    assert!(
        h.get_by_label(&yes).is_focused(),
        "the login form behind the dialog does not take the focus"
    );
    h.key_press(egui::Key::Tab);
    h.step();
    assert!(h.get_by_label("Cancel").is_focused());
    h.key_press(egui::Key::Tab);
    h.run_steps(2);
    assert!(
        h.get_by_label(&yes).is_focused(),
        "Tab goes round the dialog, not to the window behind it"
    );
    // The window behind takes no click while the dialog is open.
    h.get_by_label("Save profile").click();
    h.run_steps(2);
    assert!(!h.state().is_pending(tdekey::engine::Task::Profiles));

    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label(&question).is_none(), "Esc cancels");
    assert_eq!(h.state().hsm.profiles.len(), 1, "nothing was deleted");

    h.get_by_label("Delete profile").click();
    h.run_steps(3);
    h.key_press(egui::Key::Enter);
    wait_until(&mut h, "the deletion", |h| {
        h.state().hsm.profiles.is_empty()
    });
}

#[test]
fn the_export_asks_before_replacing_a_file_and_its_name_follows_the_format() {
    let env = Env::new();
    let mut h = app(&env);
    h.step();
    h.get_by_label("Audit").click();
    wait_until(&mut h, "the first page", |h| {
        h.state().audit.count.is_some()
    });

    h.get_by_label("Export…").click();
    h.run_steps(3);
    // The focus starts in the empty file field: typing needs no click.
    let csv = env.dir.path().join("log.csv");
    h.get_by_label("Export file")
        .type_text(csv.to_str().unwrap());
    h.step();
    assert_eq!(h.state().audit.export_path, csv.display().to_string());

    h.get_by_label("JSON Lines").click();
    h.step();
    let jsonl = env.dir.path().join("log.jsonl");
    assert_eq!(h.state().audit.export_path, jsonl.display().to_string());
    h.get_by_label("Encrypt for transport (Argon2id + AES-256-GCM)")
        .click();
    h.step();
    assert_eq!(
        h.state().audit.export_path,
        format!("{}.enc", jsonl.display())
    );
    h.step();
    assert!(
        h.query_by_label("At least 12 characters, typed twice.")
            .is_some(),
        "the minimum length shows before anything is typed"
    );
    h.step();
    assert!(
        h.get_by_label("Passphrase").is_focused(),
        "the first empty field has the focus"
    );
    h.get_by_label("Passphrase").type_text("short");
    h.step();
    h.step();
    assert!(
        h.query_by_label("At least 12 characters: 5 so far.")
            .is_some()
    );
    h.get_by_label("Passphrase").type_text(" and long enough");
    h.get_by_label("Repeat passphrase").focus();
    h.step();
    h.get_by_label("Repeat passphrase").type_text("short and");
    h.run_steps(2);
    assert!(
        h.query_by_label("The two passphrases differ.").is_some(),
        "{:?}",
        h.state().audit.export_path
    );
    assert!(h.get_by_label("Export").accesskit_node().is_disabled());
    h.get_by_label("Encrypt for transport (Argon2id + AES-256-GCM)")
        .click();
    h.step();
    h.get_by_label("CSV (RFC 4180)").click();
    h.step();
    assert_eq!(h.state().audit.export_path, csv.display().to_string());

    // The file exists: nothing is written until the person says so.
    std::fs::write(&csv, "keep me\n").unwrap();
    h.get_by_label("Export").click();
    wait_until(&mut h, "the question", |h| {
        h.state().audit.replace_ask.is_some()
    });
    h.run_steps(2);
    let question = format!("{} exists: replace it?", csv.display());
    assert!(h.query_by_label(&question).is_some());
    assert!(h.get_by_label("Replace it").is_focused());
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "keep me\n");
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().audit.replace_ask.is_none());
    assert!(h.state().audit.export_open, "back to the export dialog");
    assert!(h.query_by_label_contains("was kept").is_some());
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "keep me\n");

    h.get_by_label("Export").click();
    wait_until(&mut h, "the question again", |h| {
        h.state().audit.replace_ask.is_some()
    });
    h.run_steps(2);
    h.get_by_label("Replace it").click();
    wait_until(&mut h, "the export", |h| {
        h.state().audit.last_export.is_some()
            || h.state().audit.banner.as_ref().is_some_and(|b| b.error)
    });
    let (entries, path, _) = h.state().audit.last_export.clone().expect("exported");
    assert_eq!(path, csv);
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    assert_eq!(reader.records().count() as u64, entries);

    // Two refusals and the replacement are on record.
    wait_until(&mut h, "the refreshed log", |h| {
        h.state()
            .audit
            .rows
            .iter()
            .any(|r| r.action == "audit.export" && r.outcome == "success")
    });
    let rows: Vec<_> = h
        .state()
        .audit
        .rows
        .iter()
        .filter(|r| r.action == "audit.export")
        .collect();
    let outcomes: Vec<&str> = rows
        .iter()
        .filter(|r| r.outcome != "started")
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["success", "failure", "failure"], "newest first");
    let forced: Vec<bool> = rows
        .iter()
        .filter(|r| r.outcome == "started")
        .map(|r| r.details.contains("\"force\":true"))
        .collect();
    assert_eq!(
        forced,
        [true, false, false],
        "only the answered one replaces"
    );
}

#[test]
fn the_audit_list_is_fresh_when_shown_and_a_fixed_filter_clears_its_banner() {
    let env = Env::new();
    let mut h = app(&env);
    h.step();
    h.get_by_label("Audit").click();
    wait_until(&mut h, "the first page", |h| {
        h.state().audit.count.is_some()
    });
    let before = h.state().audit.count.unwrap();
    h.step();
    assert!(h.query_by_label_contains("as of ").is_some());

    type_into(&mut h, "From", "yesterday");
    h.get_by_label("Apply").click();
    h.step();
    let banner = h.state().audit.banner.clone().expect("a banner");
    assert!(
        banner.error && banner.text.contains("Cannot read the time"),
        "{banner:?}"
    );
    h.get_by_label("From").click();
    h.run_steps(2);
    assert!(h.get_by_label("From").is_focused());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label("From").type_text("2020-01-01");
    h.step();
    assert_eq!(h.state().audit.since, "2020-01-01");
    h.get_by_label("Apply").click();
    wait_until(&mut h, "the filtered page", |h| {
        h.state().audit.count.is_some()
    });
    assert!(
        h.state().audit.banner.is_none(),
        "the banner went once its cause was fixed: {:?}",
        h.state().audit.banner
    );

    // Another process writes to the log while the screen is shown: it says how many entries
    // it does not show yet, and Refresh shows them.
    let shown = h.state().audit.count.unwrap();
    let (_, _, _) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", "/nonexistent/other.so"]);
        c
    });
    wait_until(&mut h, "the newer entries' count", |h| {
        h.state().audit.newer() == 1
    });
    h.step();
    assert!(
        h.query_by_label_contains("1 newer entry in the log")
            .is_some()
    );
    assert_eq!(
        h.state().audit.count,
        Some(shown),
        "nothing moved under the reader"
    );
    h.get_by_label("Refresh").click();
    wait_until(&mut h, "the refreshed list", |h| {
        h.state().audit.count.is_some_and(|n| n > shown)
    });
    assert_eq!(h.state().audit.newer(), 0);

    // Another process writes to the log while another screen is shown.
    h.get_by_label("HSM").click();
    h.step();
    let (_, _, _) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", "/nonexistent/vendor.so"]);
        c
    });
    h.get_by_label("Audit").click();
    wait_until(&mut h, "the newer entries", |h| {
        h.state().screen == Screen::Audit && h.state().audit.count.is_some_and(|n| n > before)
    });
    assert!(
        h.state()
            .audit
            .rows
            .iter()
            .any(|r| r.action == "hsm.connect" && r.outcome == "failure")
    );
}
