//! What the window remembers between runs (eframe storage): the screen, the theme and the
//! Keys/Audit column widths come back, and nothing typed in the window reaches the storage —
//! neither a PIN (right or wrong) nor an export passphrase.

mod common;
mod ui_common;

use ui_common::{TestStorage, type_into, wait_until};

use common::{Env, run};
use eframe::App as _;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::hsm::demo::DEMO_USER_PIN;
use tdekey::ui::{App, Prefs, Screen};

/// The real app, started with `storage` as eframe would hand it over at start.
fn app(env: &Env, storage: Option<&'static TestStorage>) -> Harness<'static, App> {
    let data = env.data.clone();
    Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(move |cc| {
            cc.storage = storage.map(|s| s as &dyn eframe::Storage);
            App::new(cc, data)
        })
}

#[test]
fn the_window_remembers_its_screen_theme_and_columns_and_nothing_typed() {
    const WRONG_PIN: &str = "Wr0ng-Pin-for-storage-4417";
    const PASSPHRASE: &str = "export-passphrase-that-must-not-persist-9931";
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");

    let mut h = app(&env, None);
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    type_into(&mut h, "Password", WRONG_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the wrong-PIN message", |h| {
        h.query_by_label_contains("CKR_PIN_INCORRECT").is_some()
    });
    h.get_by_label("Dismiss").click();
    h.step();
    type_into(&mut h, "Password", DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());

    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory", |h| h.state().keys.loaded);
    // Light, since egui_kittest starts in dark mode.
    h.get_by_label("Light").click();
    h.get_by_label("Audit").click();
    wait_until(&mut h, "the first page", |h| {
        h.state().audit.count.is_some()
    });
    h.get_by_label("Export…").click();
    wait_until(&mut h, "the export window", |h| {
        h.query_by_label("Export file").is_some()
    });
    // A window's first frame only sizes it: a click there is lost.
    h.run_steps(2);
    h.get_by_label("Encrypt for transport (Argon2id + AES-256-GCM)")
        .click();
    h.step();
    type_into(&mut h, "Passphrase", PASSPHRASE);
    type_into(&mut h, "Repeat passphrase", PASSPHRASE);
    h.step();

    // eframe writes egui's own memory (where text fields keep their state) only when the app
    // asks; tdekey does not.
    assert!(!h.state().persist_egui_memory());
    let mut storage = TestStorage::default();
    h.state_mut().save(&mut storage);
    drop(h);

    let written: String = storage
        .values
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    assert!(
        written.len() > 40,
        "the storage holds the window's preferences: {written}"
    );
    for secret in [WRONG_PIN, DEMO_USER_PIN, PASSPHRASE] {
        assert!(
            !written.contains(secret),
            "a typed secret reached eframe's storage: {written}"
        );
    }
    let prefs: Prefs = eframe::get_value(&storage, "tdekey.window").expect("stored preferences");
    assert_eq!(prefs.screen, Screen::Audit);
    assert_eq!(prefs.theme, egui::ThemePreference::Light);
    assert!(
        prefs.keys_columns.len() > 7 && prefs.audit_columns.len() == 8,
        "every header cell's width is recorded: {prefs:?}"
    );

    // Next run: a wider Label column and a narrower Audit "Action" column, as if dragged.
    let mut next = prefs.clone();
    next.keys_columns[1] = 421.0;
    next.audit_columns[3] = 133.0;
    next.screen = Screen::Keys;
    let mut storage = TestStorage::default();
    eframe::set_value(&mut storage, "tdekey.window", &next);
    let storage: &'static TestStorage = Box::leak(Box::new(storage));
    let mut h = app(&env, Some(storage));
    h.step();
    assert_eq!(h.state().screen, Screen::Keys, "the last screen comes back");
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::Light
    );
    h.step();
    let restored = h.state().prefs();
    assert!(
        (restored.keys_columns[1] - 421.0).abs() < 0.5,
        "the Label column starts at its remembered width: {restored:?}"
    );
    h.get_by_label("Audit").click();
    h.step();
    h.step();
    let restored = h.state().prefs();
    assert!(
        (restored.audit_columns[3] - 133.0).abs() < 0.5,
        "the Action column starts at its remembered width: {restored:?}"
    );
}

#[test]
fn a_damaged_storage_entry_starts_with_the_defaults() {
    let env = Env::new();
    let mut storage = TestStorage::default();
    storage.values.insert(
        "tdekey.window".into(),
        "(screen: Nonsense, keys_columns: [".into(),
    );
    let storage: &'static TestStorage = Box::leak(Box::new(storage));
    let mut h = app(&env, Some(storage));
    h.step();
    let prefs = h.state().prefs();
    assert_eq!(prefs.screen, Screen::Hsm, "a damaged entry is ignored");
    assert!(prefs.keys_columns.is_empty() && prefs.audit_columns.is_empty());
}
