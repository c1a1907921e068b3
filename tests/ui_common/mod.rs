//! What the egui_kittest tests of the real app share: stepping until something holds, and
//! typing into a labelled field.
#![allow(dead_code)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::time::{Duration, Instant};
use tdekey::ui::App;

/// Steps the app until `pred` holds. The deadline only keeps a broken build from hanging CI;
/// nothing here measures speed.
pub fn wait_until(h: &mut Harness<'_, App>, what: &str, pred: impl Fn(&Harness<'_, App>) -> bool) {
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

/// Focuses the field named `label` and types `text` into it.
pub fn type_into(h: &mut Harness<'_, App>, label: &str, text: &str) {
    h.step();
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
}

/// The window on the data directory `data` (the demo token's), 1400×900, connected by its
/// default profile and logged in as the demo crypto user on the HSM screen.
pub fn logged_in_on_demo(data: tdekey::paths::DataDir) -> Harness<'static, App> {
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some() && !h.state().hsm.profiles.is_empty()
    });
    h.get_by_label("HSM").click();
    h.step();
    type_into(&mut h, "Password", tdekey::hsm::demo::DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    h
}

/// eframe's storage as the native window uses it (kittest has none): what the app's `save`
/// hands over, kept in memory and, when `file` is set, written there on `flush` as eframe
/// writes `window.ron`.
#[derive(Default)]
pub struct TestStorage {
    pub file: Option<std::path::PathBuf>,
    pub values: std::collections::BTreeMap<String, String>,
}

impl eframe::Storage for TestStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.values.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.values.remove(key);
    }
    fn flush(&mut self) {
        if let Some(file) = &self.file {
            let text: String = self
                .values
                .iter()
                .map(|(k, v)| format!("{k:?}: {v}\n"))
                .collect();
            std::fs::write(file, text).unwrap();
        }
    }
}
