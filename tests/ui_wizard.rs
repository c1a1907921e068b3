//! The wizard's steps in the window, as a person clicks them on the Rehearsal demo: each click
//! sends only statements its step listed before it ran (counted in the step records' `sent`),
//! never a statement of another step; steps that do not apply are skipped without a click and
//! say why; step 11 unticked is skipped with "Skip", not a confirmation; step 12 writes the
//! report under the data directory; a step clicked in the plan shows its record; the rollback
//! asks step by step too.

mod common;
mod ui_common;

use egui_kittest::Harness;
use egui_kittest::kittest::NodeT;
use egui_kittest::kittest::Queryable;
use std::collections::BTreeMap;
use tdekey::engine::Task;
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN};
use tdekey::migration::{BackStep, MigrationState, Need, StepId, StepStatus};
use tdekey::model::DatabaseProfile;
use tdekey::ui::App;
use ui_common::{type_into, wait_until};

const WALLET: &str = "demo-wallet-1234";

/// The window on the demo, logged in, showing the Rehearsal demo's Migration tab.
fn migration_tab(env: &common::Env) -> Harness<'static, App> {
    let mut h = ui_common::logged_in_on_demo(env.data.clone());
    h.get_by_label("Databases").click();
    wait_until(&mut h, "the Rehearsal demo", |h| {
        h.query_by_label_contains("Run against Rehearsal demo")
            .is_some()
    });
    h.get_by_label("Migration").click();
    wait_until(&mut h, "the plan", |h| {
        !h.state().is_pending(Task::Migration) && h.query_by_label("Run step 1").is_some()
    });
    h.run_steps(2);
    h
}

/// Every statement each step has sent so far ("7", "R2", …), as its record keeps it.
fn sent(state: Option<&MigrationState>) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    let Some(s) = state else { return m };
    for r in &s.steps {
        m.insert(
            r.step.number().to_string(),
            r.sent.iter().map(|x| x.statement.clone()).collect(),
        );
    }
    for r in s.rollback.iter().flat_map(|r| &r.steps) {
        m.insert(
            format!("R{}", r.step.number()),
            r.sent.iter().map(|x| x.statement.clone()).collect(),
        );
    }
    m
}

/// What a click sent: the statements new since `before`, by step.
fn new_since(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let had = before.get(k).map_or(0, Vec::len);
            (v.len() > had).then(|| (k.clone(), v[had..].to_vec()))
        })
        .collect()
}

fn demo_profile(h: &Harness<'_, App>) -> DatabaseProfile {
    h.state()
        .databases
        .databases
        .iter()
        .find(|d| d.name == DEMO_DATABASE_NAME)
        .cloned()
        .expect("the demo's profile")
}

fn migration(h: &Harness<'_, App>) -> Option<MigrationState> {
    h.state().databases.migration.state.clone()
}

/// Clicks `button`, answers the confirmation if one opens (returning what it listed: `None`
/// when none opened), and waits for the step to end.
fn click(h: &mut Harness<'_, App>, button: &str, confirm: &str) -> bool {
    h.get_by_label(button).click();
    h.step();
    h.run_steps(3);
    let asked = h.query_by_label(confirm).is_some();
    if asked {
        h.get_by_label(confirm).click();
        h.step();
    }
    wait_until(h, "the step", |h| !h.state().is_pending(Task::Migration));
    h.run_steps(2);
    let m = &h.state().databases.migration;
    assert!(m.error.is_none(), "{:?}", m.error);
    asked
}

#[test]
fn each_click_sends_only_what_its_step_listed_and_the_past_stays_visible() {
    let env = common::demo();
    let mut h = migration_tab(&env);
    let db = demo_profile(&h);
    let mut clicked: Vec<StepId> = Vec::new();
    let mut asked = 0;
    for _ in 0..30 {
        let state = migration(&h);
        let Some(step) = state.as_ref().map_or(Some(StepId::Choose), |s| s.current()) else {
            break;
        };
        let n = step.number();
        match step {
            StepId::Backup => {
                type_into(&mut h, "Backup passphrase", "a long backup passphrase 9");
                type_into(
                    &mut h,
                    "Repeat backup passphrase",
                    "a long backup passphrase 9",
                );
            }
            StepId::FileOpen => type_into(&mut h, "Wallet password", WALLET),
            StepId::Migrate => {
                type_into(&mut h, "HSM password", DEMO_USER_PIN);
                type_into(&mut h, "Wallet password", WALLET);
            }
            _ => {}
        }
        // What the step lists before it runs, as the window shows it (nothing ticked at 11).
        let listed = match step {
            StepId::AutoLogin => {
                tdekey::migration::auto_login_statements(state.as_ref(), &db, false, false)
            }
            _ => tdekey::migration::statements(state.as_ref(), &db, step, Some("")),
        };
        let needs = h
            .state()
            .databases
            .migration
            .progress
            .as_ref()
            .filter(|p| p.step == step)
            .map(|p| p.needs.clone())
            .unwrap_or_default();
        let button = if needs.contains(&Need::Fix) {
            "Apply the fix on the simulated host".to_owned()
        } else if needs.contains(&Need::Confirmation) {
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
            .unwrap_or_else(|| panic!("no button for step {n}"))
        };
        if step == StepId::AutoLogin {
            assert_eq!(button, "Skip step 11", "nothing ticked: a Skip button");
            assert!(listed.is_empty());
        }
        if step == StepId::Done {
            let path = h.state().databases.migration.report_path.clone();
            assert!(
                std::path::Path::new(&path).starts_with(env.data.root())
                    && path.ends_with("Rehearsal-demo-migration-1-report.html"),
                "the report's default file is under the data directory: {path}"
            );
        }
        let before = sent(state.as_ref());
        let question = click(
            &mut h,
            &button,
            &format!("Run step {n} on {DEMO_DATABASE_NAME}"),
        );
        asked += usize::from(question);
        assert!(
            question == (!listed.is_empty() && button.starts_with("Run step")),
            "step {n}: a click that may send statements asks first, and only then ({button})"
        );
        let after = sent(migration(&h).as_ref());
        let new = new_since(&before, &after);
        for (at, statements) in &new {
            assert_eq!(
                at,
                &n.to_string(),
                "a click on step {n} sent {statements:?} at step {at}"
            );
            for s in statements {
                assert!(
                    listed.contains(s),
                    "step {n} sent {s:?}, which it did not list: {listed:?}"
                );
            }
        }
        clicked.push(step);
        if step == StepId::Choose {
            // Path A on a SoftHSM token: steps 2 and 3 do not apply and were skipped without a
            // click, each saying why.
            let s = migration(&h).unwrap();
            for skipped in [StepId::FromOtherHsm, StepId::HsmClient] {
                assert_eq!(s.step(skipped).unwrap().status, StepStatus::Skipped);
            }
            assert_eq!(s.current(), Some(StepId::OracleLibrary));
            assert!(
                h.query_by_label_contains("step 2 (From the other HSM to the file wallet): The master key is not in another HSM")
                    .is_some()
            );
            assert!(h.query_by_label_contains("step 3 (HSM client):").is_some());
        }
    }
    assert!(!clicked.contains(&StepId::FromOtherHsm) && !clicked.contains(&StepId::HsmClient));
    assert!(asked >= 3, "steps 7, 8 and 9 asked first ({asked})");
    let s = migration(&h).unwrap();
    assert_eq!(
        s.step(StepId::AutoLogin).unwrap().status,
        StepStatus::Skipped
    );
    assert!(s.step(StepId::AutoLogin).unwrap().sent.is_empty());

    // Step 12 wrote the report where its box said; the finished migration shows every step.
    wait_until(&mut h, "the report", |h| {
        h.state().databases.migration.report_written.is_some()
    });
    let report = h.state().databases.migration.report_path.clone();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(s.new_key.as_deref().unwrap()));
    assert!(h.query_by_label("The migration is finished.").is_some());
    assert!(h.query_by_label("Every step's result").is_some());
    assert!(h.query_by_label_contains("Report written to").is_some());

    // A step clicked in the plan shows its record: what it sent, what Oracle answered, who.
    h.get_by_label("7. TDE_CONFIGURATION HSM|FILE").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("Record of step 7. TDE_CONFIGURATION HSM|FILE")
            .is_some()
    );
    let seven = s.step(StepId::HsmFile).unwrap();
    assert!(h.query_by_label(&seven.sent[0].statement).is_some());
    assert!(
        h.query_all_by_label_contains("Oracle answered: ")
            .next()
            .is_some()
    );
    assert!(seven.by.is_some(), "who ran it");
    h.get_by_label("2. From the other HSM to the file wallet")
        .click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("Skipped because The master key is not in another HSM")
            .is_some()
    );
    assert!(
        h.query_by_label("Nothing: this step sent no statement.")
            .is_some()
    );
    h.get_by_label("Back to the current step").click();
    h.run_steps(2);
    assert!(h.query_by_label("The migration is finished.").is_some());

    // The rollback: one confirmation per step, each listing what the click may send.
    h.get_by_label("Roll back this migration").click();
    h.step();
    type_into(
        &mut h,
        "Reason to roll back",
        "The application owners asked to stay on the wallet.",
    );
    h.get_by_label("Roll back the migration").click();
    h.run_steps(3);
    let listed = tdekey::migration::back_statements(&s, &db, BackStep::FileFirst);
    assert!(
        h.query_by_label_contains(&listed[0]).is_some(),
        "the start names what R1 may send"
    );
    let before = sent(Some(&s));
    h.get_by_label(&format!("Roll back {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    wait_until(&mut h, "the rollback's start", |h| {
        !h.state().is_pending(Task::Migration)
    });
    h.run_steps(2);
    let new = new_since(&before, &sent(migration(&h).as_ref()));
    assert_eq!(new.keys().collect::<Vec<_>>(), ["R1"], "{new:?}");
    assert!(new["R1"].iter().all(|x| listed.contains(x)));
    let mut rollback_clicks = 0;
    for _ in 0..12 {
        let state = migration(&h).unwrap();
        let Some(back) = state.rollback.as_ref().and_then(|r| r.current()) else {
            break;
        };
        let needs = h
            .state()
            .databases
            .migration
            .progress
            .as_ref()
            .filter(|p| p.back == Some(back))
            .map(|p| p.needs.clone())
            .unwrap_or_default();
        if back == BackStep::Reverse {
            type_into(&mut h, "HSM password", DEMO_USER_PIN);
        }
        if h.query_by_label("Wallet password").is_some() {
            type_into(&mut h, "Wallet password", WALLET);
        }
        let listed = tdekey::migration::back_statements(&state, &db, back);
        let button = if needs.contains(&Need::Confirmation) {
            "Done: continue".to_owned()
        } else {
            format!("Run rollback step R{}", back.number())
        };
        let before = sent(Some(&state));
        let question = click(
            &mut h,
            &button,
            &format!(
                "Run rollback step R{} on {DEMO_DATABASE_NAME}",
                back.number()
            ),
        );
        rollback_clicks += 1;
        assert!(
            question == (!listed.is_empty() && button.starts_with("Run")),
            "R{}: asks first exactly when it may send ({button})",
            back.number()
        );
        let new = new_since(&before, &sent(migration(&h).as_ref()));
        for (at, statements) in &new {
            assert_eq!(
                at,
                &format!("R{}", back.number()),
                "a click on R{} sent {statements:?} at {at}",
                back.number()
            );
            for x in statements {
                assert!(
                    listed.contains(x),
                    "R{} sent {x:?}, not listed: {listed:?}",
                    back.number()
                );
            }
        }
    }
    assert!(
        rollback_clicks >= 5,
        "R1's restart, R2, R3 and its restart, R4, R5: {rollback_clicks}"
    );
    assert!(h.query_by_label("The migration is rolled back.").is_some());
    assert!(h.query_by_label_contains("Report written to").is_some());

    // A new migration: the last one's report message does not linger.
    h.get_by_label("Start a new migration…").click();
    h.run_steps(3);
    h.get_by_label(&format!("Start a new migration of {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    wait_until(&mut h, "the new migration", |h| {
        !h.state().is_pending(Task::Migration)
            && h.state()
                .databases
                .migration
                .state
                .as_ref()
                .is_some_and(|s| s.id != 1)
    });
    h.run_steps(2);
    assert!(h.query_by_label("Run step 1").is_some());
    assert!(h.query_by_label_contains("Report written to").is_none());
    assert!(h.state().databases.migration.report_written.is_none());

    // The rolled-back migration opens read-only: its plan, its rollback and every record.
    h.get_by_label_contains("Migration number 1: rolled back")
        .click();
    h.run_steps(2);
    assert!(
        h.query_by_label("Migration number 1 (rolled back), read-only")
            .is_some()
    );
    assert!(h.query_by_label_contains("Run step").is_none(), "read-only");
    assert!(h.query_by_label("Every step's result").is_some());
    h.get_by_label("9. Migrate the master key").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("Record of step 9. Migrate the master key")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("MIGRATE USING \"<hidden>\"")
            .is_some()
    );
    h.get_by_label("R2. Reverse migration").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("Record of rollback step R2. Reverse migration")
            .is_some()
    );
    assert!(h.query_by_label_contains("REVERSE MIGRATE USING").is_some());
    h.get_by_label("Back to the current migration").click();
    h.run_steps(2);
    assert!(h.query_by_label("Run step 1").is_some());
}

fn migrate(env: &common::Env, verb: &str, args: &[&str]) -> (i32, String, String) {
    common::run({
        let mut c = env.tdekey();
        c.args(["migrate", verb, DEMO_DATABASE_NAME])
            .args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", WALLET)
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long passphrase for tests");
        c
    })
}

#[test]
fn a_migration_under_way_reopens_on_its_step_and_a_login_comes_back_to_it() {
    let env = common::demo();
    // The command line takes the migration to step 7, which waits for its confirmation.
    for _ in 0..12 {
        let v = common::migration_status(&env, DEMO_DATABASE_NAME);
        let at = v["steps"].as_array().and_then(|steps| {
            steps
                .iter()
                .find(|s| !matches!(s["status"].as_str(), Some("done" | "skipped")))
                .map(|s| s["step"].as_str().unwrap().to_owned())
        });
        if at.as_deref() == Some(StepId::HsmFile.as_str()) {
            break;
        }
        let (code, out, err) = migrate(&env, "next", &["--yes"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let data = env.data.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| App::new(cc, data));
    wait_until(&mut h, "the automatic connection", |h| {
        h.state().hsm.connection.is_some() && !h.state().hsm.profiles.is_empty()
    });
    h.get_by_label("Databases").click();
    // Opened on the database whose migration is under way, on its Migration tab, at its step.
    wait_until(&mut h, "the plan", |h| {
        !h.state().is_pending(Task::Migration) && h.state().databases.migration.state.is_some()
    });
    h.run_steps(2);
    assert_eq!(h.state().databases.tab, tdekey::ui::DbTab::Migration);
    assert!(
        h.query_by_label("Step 7. TDE_CONFIGURATION HSM|FILE")
            .is_some()
    );
    // The list says where each database stands.
    assert!(
        h.query_by_label_contains("migrating: step 7").is_some(),
        "the database list names the migration's step"
    );
    // Not logged in: the step offers the login and the window comes back to it after.
    assert!(
        h.get_by_label("Run step 7").accesskit_node().is_disabled(),
        "nothing runs without the HSM session"
    );
    h.get_by_label("Log in on the HSM screen").click();
    h.run_steps(2);
    assert_eq!(h.state().screen, tdekey::ui::Screen::Hsm);
    type_into(&mut h, "Password", DEMO_USER_PIN);
    h.get_by_label("Log in").click();
    wait_until(&mut h, "the login", |h| h.state().hsm.login.is_some());
    h.run_steps(2);
    assert_eq!(h.state().screen, tdekey::ui::Screen::Databases);
    // Shown again, the Migration tab reads its plan again (another host may have moved it on).
    wait_until(&mut h, "the plan read again", |h| {
        !h.state().is_pending(Task::Migration)
    });
    h.run_steps(2);
    assert!(
        h.query_by_label("Step 7. TDE_CONFIGURATION HSM|FILE")
            .is_some()
    );
    assert!(!h.get_by_label("Run step 7").accesskit_node().is_disabled());
    // The list follows the wizard: a step run in the window moves it on.
    h.get_by_label("Run step 7").click();
    h.run_steps(3);
    h.get_by_label(&format!("Run step 7 on {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    wait_until(&mut h, "step 7", |h| !h.state().is_pending(Task::Migration));
    h.get_by_label("Done: continue").click();
    h.step();
    wait_until(&mut h, "step 7's restart", |h| {
        !h.state().is_pending(Task::Migration)
            && h.state()
                .databases
                .migration
                .state
                .as_ref()
                .and_then(|s| s.current())
                == Some(StepId::FileOpen)
    });
    h.run_steps(2);
    assert!(h.query_by_label_contains("migrating: step 8").is_some());
}
