//! The Rotation screen in egui_kittest over the real app: a key generated beforehand on the
//! Keys screen (with its tag) is chosen in "Rotate now" and is the key the run activates.

mod common;
mod ui_common;

use ui_common::{type_into, wait_until};

use common::demo;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tdekey::hsm::demo::DEMO_USER_PIN;
use tdekey::rotation::{local_minute, local_zone};
use tdekey::ui::App;

#[test]
fn a_key_generated_on_the_keys_screen_is_chosen_and_activated_by_rotate_now() {
    let env = demo();
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

    // Keys › Generate master key…, with a tag.
    h.get_by_label("Keys").click();
    h.step();
    h.get_by_label("Generate master key…").click();
    h.step();
    h.step();
    type_into(&mut h, "Tag for USE KEY", "q4-2026");
    h.get_by_label("Generate").click();
    wait_until(&mut h, "the generated key", |h| {
        h.state().keys.generated.is_some()
    });
    let key = h.state().keys.generated.clone().unwrap();
    wait_until(&mut h, "the inventory with the generated key", |h| {
        h.state().keys.rows_contain(&key.label)
    });

    h.get_by_label("Rotation").click();
    wait_until(&mut h, "the rotation overview", |h| {
        h.state().rotation.overview.is_some() && !h.state().databases.databases.is_empty()
    });
    h.step();
    assert_eq!(h.state().rotation.selected.as_deref(), Some("FIN"));
    // The policy form shows the date the policy has; saved untouched with a new schedule, the
    // date follows the schedule.
    assert_eq!(h.state().rotation.next_due, "", "no policy yet");
    h.get_by_label("90 days").click();
    h.step();
    h.get_by_label("Save policy").click();
    wait_until(&mut h, "the saved policy", |h| {
        h.state().rotation.overview.as_ref().is_some_and(|o| {
            o.rows
                .iter()
                .any(|r| r.database == "FIN" && r.policy.is_some())
        })
    });
    h.step();
    let due = |h: &Harness<'_, App>| {
        let o = h.state().rotation.overview.clone().unwrap();
        let p = o.rows.iter().find(|r| r.database == "FIN").unwrap();
        local_minute(p.policy.as_ref().unwrap().next_due_ms, &local_zone())
    };
    let first = due(&h);
    assert_eq!(h.state().rotation.next_due, first, "shown in the form");
    assert_eq!(
        h.get_by_label("Next due date").accesskit_node().value(),
        Some(first.clone()),
        "the field shows it"
    );
    h.get_by_label("180 days").click();
    h.step();
    h.get_by_label("Save policy").click();
    wait_until(&mut h, "the new schedule", |h| {
        h.state().rotation.overview.as_ref().is_some_and(|o| {
            o.rows.iter().any(|r| {
                r.database == "FIN"
                    && r.policy
                        .as_ref()
                        .is_some_and(|p| p.schedule == "every:180d")
            })
        })
    });
    h.step();
    let second = due(&h);
    assert_ne!(second, first, "the date follows the new schedule");
    assert_eq!(h.state().rotation.next_due, second);

    // FIN is a non-CDB: the policy's way is hsm, so the key can be chosen.
    h.get_by_label("Key to activate").click();
    h.step();
    h.step();
    h.get_by_label(&format!("{} (tag q4-2026)", key.label))
        .click();
    h.step();
    h.step();
    assert_eq!(
        h.state().rotation.key_choice.as_deref(),
        Some(key.label.as_str())
    );
    assert_eq!(h.state().rotation.tag, "q4-2026", "its tag came with it");

    type_into(&mut h, "HSM password (for IDENTIFIED BY)", DEMO_USER_PIN);
    h.get_by_label("Rotate now…").click();
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("(generated beforehand) is healthy and claimed by no database")
            .is_some(),
        "the confirmation says which key it activates"
    );
    h.get_by_label("Rotate FIN").click();
    wait_until(&mut h, "the rotation run", |h| {
        h.state().rotation.last_run.is_some()
    });
    let report = h.state().rotation.last_run.clone().unwrap();
    assert!(report.succeeded(), "{}", report.message);
    assert_eq!(
        report.new_keys,
        std::slice::from_ref(&key.label),
        "the chosen key"
    );
    assert_eq!(h.state().rotation.key_choice, None, "the choice was used");
    wait_until(&mut h, "the claims after the run", |h| {
        h.state()
            .keys
            .claims
            .get(&key.label)
            .is_some_and(|c| c.database == "FIN" && c.current)
    });
    // Claimed now: no longer offered.
    h.step();
    assert!(
        !h.state()
            .rotation
            .spare_keys
            .iter()
            .any(|(l, _)| l == &key.label)
    );
}
