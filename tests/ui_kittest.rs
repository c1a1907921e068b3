//! The real app in egui_kittest: a user logs in by typing and clicking labelled widgets, finds a
//! known key in the Keys table, and filters it. Accessible names are checked by the harness.

mod common;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};
use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER_PIN, KeyTemplate};
use tdekey::hsm::{Hsm, PinFormat, TokenSelector};
use tdekey::secret::Secret;
use tdekey::ui::{App, Screen};

const KNOWN: &str = "ORACLE.TDE.HSM.MK.0642424242424242424242424242424242";

/// Steps the app until `pred` holds. The deadline only keeps a broken build from hanging CI;
/// nothing here measures speed.
fn wait_until(h: &mut Harness<'_, App>, what: &str, pred: impl Fn(&Harness<'_, App>) -> bool) {
    let start = Instant::now();
    loop {
        h.step();
        if pred(h) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));

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
}

#[test]
fn a_wrong_module_path_is_reported_and_nothing_stays_connected() {
    let env = demo_env_with_known_key();
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
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
