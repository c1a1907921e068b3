//! The Rotation screen in egui_kittest, as a person uses it: log in, open Rotation, set a
//! 90-day policy for a Rehearsal database, rotate it (confirming by name), and find the run in
//! the timeline and the new key claimed on the Keys screen.

mod common;
mod ui_common;

use ui_common::{type_into, wait_until};

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::hsm::demo::DEMO_USER_PIN;
use tdekey::model::now_ms;
use tdekey::rotation::{local_date, local_zone};
use tdekey::ui::App;

#[test]
fn set_a_policy_and_rotate_a_database_from_the_rotation_screen() {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some()
    });
    type_into(&mut h, "Password", DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login and the inventory", |h| {
        h.state().hsm.login.is_some() && h.state().keys.loaded
    });

    // Ctrl+4 opens the fourth screen, Rotation (the tab's tooltip says so).
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num4);
    h.step();
    assert_eq!(h.state().screen, tdekey::ui::Screen::Rotation);
    // The theme can be chosen over the system's.
    h.get_by_label("Light").click();
    h.step();
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::Light
    );
    h.get_by_label("System theme").click();
    h.step();
    wait_until(&mut h, "the rotation overview", |h| {
        h.state().rotation.overview.is_some() && !h.state().databases.databases.is_empty()
    });
    assert_eq!(h.state().rotation.selected.as_deref(), Some("FIN"));
    assert_eq!(
        h.query_all_by_label("No policy").count(),
        2,
        "FIN's and the demo database's status"
    );

    // A 90-day policy (the first preset, chosen by default).
    h.get_by_label("90 days").click();
    h.step();
    h.get_by_label("Save policy").click();
    wait_until(&mut h, "the saved policy", |h| {
        h.query_by_label_contains("FIN: rotated every 90 days")
            .is_some()
    });
    let due = local_date(now_ms() + 90 * 86_400_000, &local_zone());
    assert!(
        h.query_by_label(&due).is_some(),
        "next due {due} in the table"
    );

    // Rotate now: the button waits for the HSM password, then asks by name.
    type_into(&mut h, "HSM password (for IDENTIFIED BY)", DEMO_USER_PIN);
    h.get_by_label("Rotate now…").click();
    h.step();
    h.step();
    assert!(
        h.state().rotation.confirming,
        "the confirmation opens (password typed: {})",
        !h.state().rotation.hsm_password.is_empty()
    );
    h.get_by_label("Rotate FIN").click();
    wait_until(&mut h, "the rotation run", |h| {
        h.state().rotation.last_run.is_some()
    });
    let report = h.state().rotation.last_run.clone().unwrap();
    assert!(report.succeeded(), "{}", report.message);
    assert!(h.query_by_label("Run #1: verified").is_some());
    assert!(
        h.state().rotation.hsm_password.is_empty(),
        "the password field is cleared after the run"
    );

    // The timeline shows the run (its text form, for screen readers).
    wait_until(&mut h, "the overview after the run", |h| {
        h.state()
            .rotation
            .overview
            .as_ref()
            .is_some_and(|o| o.timeline.iter().any(|t| !t.runs.is_empty()))
    });
    h.get_by_label("The timeline as text").click();
    h.step();
    let today = local_date(now_ms(), &local_zone());
    assert!(
        h.query_by_label_contains(&format!("FIN: rotated {today}"))
            .is_some(),
        "the run in the timeline"
    );

    // The Keys screen names the new key's database.
    let new_key = report.new_keys[0].clone();
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the inventory with the new key", |h| {
        h.state().keys.rows_contain(&new_key) && h.state().keys.claims.contains_key(&new_key)
    });
    assert!(h.state().keys.claims[&new_key].current);
    assert!(h.query_by_label("Database").is_some(), "the column");

    // Generate a master key from the Keys screen: asked first, then shown with its USE KEY.
    // Esc closes the dialog without generating anything.
    h.get_by_label("Generate master key…").click();
    h.step();
    h.step();
    assert!(h.state().keys.generating, "the dialog opens");
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(!h.state().keys.generating, "Esc closed it");
    assert!(h.state().keys.generated.is_none());
    h.get_by_label("Generate master key…").click();
    h.step();
    h.step();
    assert!(h.state().keys.generating, "the dialog opens");
    type_into(&mut h, "Oracle's crypto user", "_oracle");
    h.get_by_label("Generate").click();
    wait_until(&mut h, "the generated key", |h| {
        h.state().keys.generated.is_some()
    });
    let key = h.state().keys.generated.clone().unwrap();
    assert!(key.label.starts_with("ORACLE.TDE.HSM.MK.06"));
    assert_eq!(key.row.object.value_len, Some(32));
    assert!(
        key.share_command
            .as_deref()
            .is_some_and(|c| c.contains("--username demo_cu_oracle")),
        "{:?}",
        key.share_command
    );
    wait_until(&mut h, "the inventory with the generated key", |h| {
        h.state().keys.rows_contain(&key.label)
    });
    h.step();
    assert!(h.query_by_label("Copy the USE KEY statement").is_some());
    assert!(h.query_by_label(&key.use_key_statement).is_some());
    // The share command as it runs (single-command mode), and the interactive form.
    assert!(
        h.query_by_label(key.share_command.as_deref().unwrap())
            .is_some()
    );
    assert!(
        h.query_by_label(&key.share_interactive.join("\n"))
            .is_some()
    );
}
