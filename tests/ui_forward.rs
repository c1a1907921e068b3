//! The Audit screen says how far each SIEM destination has been sent the log (issue #22): one
//! destination with everything, one behind by what was written since, and a line when none is
//! set up.

mod ui_common;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use tdekey::audit::{Action, Auditor, Outcome};
use tdekey::paths::DataDir;
use tdekey::store::Store;
use tdekey::ui::App;
use ui_common::wait_until;

fn window(data: &DataDir) -> Harness<'static, App> {
    let data = data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    h.step();
    h.get_by_label("Audit").click();
    h
}

#[test]
fn the_audit_screen_shows_each_destination_against_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path());
    {
        let mut a = Auditor::new(Store::open(&data.database()).unwrap());
        for i in 0..5 {
            a.record(
                Action::AuditRead,
                "audit_log",
                Outcome::Success,
                None,
                json!({ "n": i }),
            )
            .unwrap();
        }
        a.store()
            .set_forward_position("syslog+tcp://siem.example.com:601", 2)
            .unwrap();
        a.store().set_forward_position("journald", 5).unwrap();
    }
    let mut h = window(&data);
    // The window's own reading of the log is entry 6.
    wait_until(&mut h, "the forwarding line", |h| {
        h.query_by_label_contains("syslog+tcp://siem.example.com:601 up to seq 2 of 6 (4 behind)")
            .is_some()
    });
    assert!(
        h.query_by_label_contains("journald up to seq 5 of 6 (1 behind)")
            .is_some()
    );

    // Caught up: the line says so when the screen reads the head again.
    Store::open(&data.database())
        .unwrap()
        .set_forward_position("journald", 6)
        .unwrap();
    h.get_by_label("Refresh").click();
    wait_until(&mut h, "journald caught up", |h| {
        h.query_by_label_contains("journald up to seq 6 (all)")
            .is_some()
    });
}

#[test]
fn without_a_destination_the_screen_says_none_is_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path());
    let mut h = window(&data);
    wait_until(&mut h, "the forwarding line", |h| {
        h.query_by_label_contains("no destination yet").is_some()
    });
}
