//! The window's confirmations answer one step of one migration: a "Run step N?" confirmed after
//! another process moved the migration on runs nothing and says why; a finished migration is
//! shown as finished, and a new one starts only through its own confirmation, naming it.

mod common;
mod ui_common;

use common::{Env, run};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tdekey::engine::Task;
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN};
use tdekey::ui::App;
use ui_common::{type_into, wait_until};

fn migrate(env: &Env, verb: &str, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(["migrate", verb, DEMO_DATABASE_NAME])
            .args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", "demo-wallet-1234")
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long passphrase for tests");
        c
    })
}

/// The first step not done or skipped, as `migrate status` says.
fn current(env: &Env) -> Option<String> {
    let v = common::migration_status(env, DEMO_DATABASE_NAME);
    v["steps"].as_array().and_then(|steps| {
        steps
            .iter()
            .find(|s| !matches!(s["status"].as_str(), Some("done" | "skipped")))
            .map(|s| s["step"].as_str().unwrap().to_owned())
    })
}

/// Runs `migrate next --yes` from the command line until the migration stands at `step`.
fn next_until(env: &Env, step: &str) {
    for _ in 0..20 {
        if current(env).as_deref() == Some(step) {
            return;
        }
        let (code, out, err) = migrate(env, "next", &["--yes"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    panic!("never reached {step}");
}

/// The window on the demo, logged in, showing the Rehearsal demo's Migration tab.
fn migration_tab(env: &Env) -> Harness<'static, App> {
    let mut h = ui_common::logged_in_on_demo(env.data.clone());
    h.get_by_label("Databases").click();
    // The demo is opened on its console, or on its Migration tab when a migration is under way.
    wait_until(&mut h, "the Rehearsal demo", |h| {
        h.query_by_label("Migration").is_some()
    });
    h.get_by_label("Migration").click();
    wait_until(&mut h, "the plan", |h| {
        !h.state().is_pending(Task::Migration) && h.state().databases.migration.state.is_some()
    });
    h.run_steps(2);
    h
}

#[test]
fn a_run_step_confirmed_after_another_process_moved_on_runs_nothing() {
    use tdekey::migration::StepId;
    let env = common::demo();
    next_until(&env, StepId::HsmFile.as_str());
    let mut h = migration_tab(&env);
    let n = StepId::HsmFile.number();
    let question = format!("Run step {n} on {DEMO_DATABASE_NAME}?");
    let yes = format!("Run step {n} on {DEMO_DATABASE_NAME}");
    h.get_by_label(&format!("Run step {n}")).click();
    h.run_steps(3);
    assert!(h.query_by_label(&question).is_some(), "asks first");

    // While the question is open, the command line runs that step and the migration moves on.
    next_until(&env, StepId::FileOpen.as_str());
    let moved = common::migration_status(&env, DEMO_DATABASE_NAME);

    h.get_by_label(&yes).click();
    h.step();
    wait_until(&mut h, "the refusal", |h| {
        !h.state().is_pending(Task::Migration) && h.state().databases.migration.error.is_some()
    });
    let error = h.state().databases.migration.error.clone().unwrap();
    assert!(
        error.contains(&format!("You confirmed step {n} ("))
            && error.contains(&format!("now stands at step {} (", n + 1))
            && error.contains("nothing was run"),
        "{error}"
    );
    assert_eq!(
        common::migration_status(&env, DEMO_DATABASE_NAME),
        moved,
        "the confirmation ran neither step {n} again nor step {}",
        n + 1
    );
    // The plan is read again and shows where the migration stands; the refusal stays shown.
    wait_until(&mut h, "the plan read again", |h| {
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
    assert!(h.query_by_label_contains("You confirmed step").is_some());
    assert!(
        h.query_by_label(&format!("Run step {}", n + 1)).is_some()
            || h.query_by_label(&format!("Run step {} again", n + 1))
                .is_some()
    );
}

#[test]
fn a_finished_migration_is_left_behind_only_through_its_confirmation() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "run", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let finished = common::migration_status(&env, DEMO_DATABASE_NAME);
    let id = finished["id"].as_i64().unwrap();
    let mut h = migration_tab(&env);
    assert!(h.query_by_label("The migration is finished.").is_some());
    assert!(h.query_by_label_contains("Run step").is_none());

    h.get_by_label("Start a new migration…").click();
    h.run_steps(3);
    let question = format!("Start a new migration of {DEMO_DATABASE_NAME}?");
    assert!(h.query_by_label(&question).is_some());
    assert!(
        h.query_by_label_contains(&format!(
            "Migration number {id} of {DEMO_DATABASE_NAME} is finished"
        ))
        .is_some(),
        "the question names the migration it leaves behind"
    );
    // Cancel leaves everything as it was.
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert!(h.query_by_label(&question).is_none());
    assert_eq!(common::migration_status(&env, DEMO_DATABASE_NAME), finished);

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
                .is_some_and(|s| s.id != id)
    });
    h.run_steps(2);
    assert!(h.state().databases.migration.error.is_none());
    assert!(h.query_by_label("Run step 1").is_some());
    let fresh = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_ne!(fresh["id"].as_i64().unwrap(), id);
    assert!(fresh["new_key"].is_null());
}

#[test]
fn a_rollback_confirmed_after_another_process_started_it_runs_nothing() {
    let env = common::demo();
    let (code, out, err) = migrate(&env, "run", &["--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let mut h = migration_tab(&env);
    h.get_by_label("Roll back this migration").click();
    h.step();
    type_into(
        &mut h,
        "Reason to roll back",
        "The application owners asked to stay on the wallet.",
    );
    h.get_by_label("Roll back the migration").click();
    h.run_steps(3);
    assert!(
        h.query_by_label(&format!("Roll back the migration of {DEMO_DATABASE_NAME}?"))
            .is_some()
    );
    // While the question is open, the command line starts the rollback with its own reason.
    let (code, out, err) = migrate(
        &env,
        "rollback",
        &["--reason", "Started from a terminal at the same time."],
    );
    assert_eq!(code, 0, "{out}{err}");
    let started = common::migration_status(&env, DEMO_DATABASE_NAME);
    assert_eq!(
        started["rollback"]["reason"],
        "Started from a terminal at the same time."
    );

    h.get_by_label(&format!("Roll back {DEMO_DATABASE_NAME}"))
        .click();
    h.step();
    wait_until(&mut h, "the refusal", |h| {
        !h.state().is_pending(Task::Migration) && h.state().databases.migration.error.is_some()
    });
    let error = h.state().databases.migration.error.clone().unwrap();
    assert!(
        error.contains("You confirmed the start of the rollback of")
            && error.contains("now stands at rollback step R1 (")
            && error.contains("nothing was run"),
        "{error}"
    );
    assert_eq!(
        common::migration_status(&env, DEMO_DATABASE_NAME),
        started,
        "neither a second start nor the window's reason, nor step R1 run"
    );
    // The window reads the plan again and shows the rollback under way.
    wait_until(&mut h, "the rollback shown", |h| {
        !h.state().is_pending(Task::Migration)
            && h.state()
                .databases
                .migration
                .state
                .as_ref()
                .is_some_and(|s| s.rollback.is_some())
    });
    h.run_steps(2);
    assert!(h.query_by_label("Run rollback step R1").is_some());
}
