//! After a rolled-back migration, in egui_kittest over the real app: the Rotation screen calls
//! the database "Not on the HSM: migrate first", will not save a policy or rotate, and its link
//! opens the database's Migration tab; the Keys screen shows the key as retired and why.

mod common;
mod ui_common;

use ui_common::{type_into, wait_until};

use common::{Env, demo, run};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};
use tdekey::ui::{App, DbTab, Screen};

fn tdekey(env: &Env, args: &[&str]) {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long backup passphrase 7");
        c
    });
    assert_eq!(code, 0, "{args:?}: {out}{err}");
}

#[test]
fn a_rolled_back_database_is_not_on_the_hsm_and_its_key_is_retired() {
    let env = demo();
    tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    let key = common::migration_status(&env, DEMO_DATABASE_NAME)["new_key"]
        .as_str()
        .unwrap()
        .to_owned();
    tdekey(
        &env,
        &["policy", "set", DEMO_DATABASE_NAME, "--every", "90d"],
    );
    tdekey(
        &env,
        &[
            "migrate",
            "rollback",
            DEMO_DATABASE_NAME,
            "--yes",
            "--reason",
            "The application team did not sign off the change.",
        ],
    );

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

    h.get_by_label("Rotation").click();
    wait_until(&mut h, "the rotation overview", |h| {
        h.state().rotation.overview.is_some() && !h.state().databases.databases.is_empty()
    });
    h.step();
    assert_eq!(
        h.state().rotation.selected.as_deref(),
        Some(DEMO_DATABASE_NAME)
    );
    assert!(
        h.query_by_label("Not on the HSM: migrate first").is_some(),
        "the status, though it has a policy"
    );
    assert!(h.query_by_label("none on the HSM (rolled back)").is_some());
    assert!(
        h.query_by_label("on hold").is_some(),
        "no next due date while nothing is on the HSM"
    );
    let o = h.state().rotation.overview.clone().unwrap();
    assert!(
        o.timeline
            .iter()
            .all(|t| t.database != DEMO_DATABASE_NAME || t.due.is_empty()),
        "no due dates in the timeline"
    );
    assert!(
        h.query_by_label_contains(&format!(
            "{DEMO_DATABASE_NAME} is not on the HSM: its migration was rolled back"
        ))
        .is_some()
    );
    assert!(h.get_by_label("Save policy").accesskit_node().is_disabled());
    type_into(&mut h, "HSM password (for IDENTIFIED BY)", DEMO_USER_PIN);
    assert!(
        h.get_by_label("Rotate now…").accesskit_node().is_disabled(),
        "nothing on the HSM to rotate"
    );

    // The Keys screen: the key is retired, in the table and in its details.
    h.get_by_label("Keys").click();
    wait_until(&mut h, "the claims", |h| {
        h.state().keys.claims.contains_key(&key)
    });
    let claim = h.state().keys.claims[&key].clone();
    assert!(!claim.current, "{claim:?}");
    assert!(h.query_by_label("(retired)").is_some(), "said in the table");

    // The filter matches what the table shows: "retired", the database's name, "unclaimed",
    // the health words.
    let shown = |h: &mut Harness<'_, App>, filter: &str| {
        h.get_by_label("Filter").focus();
        h.step();
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        h.key_press(egui::Key::Backspace);
        h.step();
        h.get_by_label("Filter").type_text(filter);
        h.step();
        h.step();
        let st = &h.state().keys;
        let mut labels: Vec<String> = (0..st.rows.len())
            .filter(|i| st.filter_shows(*i))
            .map(|i| st.rows[i].object.label.clone())
            .collect();
        labels.sort();
        labels
    };
    // The key and Oracle's metadata object of it, both said retired.
    let retired = shown(&mut h, "retired");
    assert!(
        retired.contains(&key) && retired.len() == 2,
        "the key and its metadata: {retired:?}"
    );
    assert!(
        h.query_by_label("Rehearsal demo (metadata, retired)")
            .is_some(),
        "the metadata object is said retired too"
    );
    let by_name = shown(&mut h, "rehearsal demo");
    assert!(
        by_name.contains(&key) && by_name.len() == 2,
        "the key and its metadata: {by_name:?}"
    );
    let unclaimed = shown(&mut h, "unclaimed");
    assert!(
        !unclaimed.is_empty() && !unclaimed.contains(&key),
        "{unclaimed:?}"
    );
    let ok = shown(&mut h, "ok");
    assert!(ok.contains(&key), "its health word: {ok:?}");
    let mut critical: Vec<String> = h
        .state()
        .keys
        .rows
        .iter()
        .filter(|r| r.worst() == Some(tdekey::inventory::Severity::Critical))
        .map(|r| r.object.label.clone())
        .collect();
    critical.sort();
    assert!(
        !critical.is_empty(),
        "the demo token has a critical finding"
    );
    assert_eq!(shown(&mut h, "critical"), critical);
    shown(&mut h, "");
    h.get_by_label(&key).click();
    h.step();
    h.step();
    assert!(
        h.query_by_label_contains("Not in use: its migration was rolled back")
            .is_some()
    );
    assert!(
        h.query_by_label_contains(&format!("The active master key of {DEMO_DATABASE_NAME}"))
            .is_none(),
        "never called active"
    );

    // The link goes to the database's Migration tab.
    h.get_by_label("Rotation").click();
    h.step();
    h.get_by_label(&format!("Open the Migration tab of {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    h.step();
    assert_eq!(h.state().screen, Screen::Databases);
    assert_eq!(h.state().databases.tab, DbTab::Migration);
    assert_eq!(
        h.state().databases.form.saved_name.as_deref(),
        Some(DEMO_DATABASE_NAME)
    );
}
