//! The rollback in the migration tab: offered once the migration has changed the database,
//! then its steps like the plan's (what each does and may send, its checks, what it waits for);
//! and, under a finished or rolled-back migration, starting a new one.

use super::migration_record::report_ui;
use super::migration_tab::{
    MigrationTabState, OK, WAIT, host_output_ui, id, progress_ui, reason_ui, statements_ui,
};
use super::secret_field::password_ui;
use crate::engine::{Command, HsmCommand, StoreCommand};
use crate::migration::{BackStep, ExpectedStep, MigrationState, Need};
use crate::model::{DatabaseProfile, HsmProfile, PinFormat};
use egui::RichText;

fn run_rollback(
    st: &MigrationTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    reason: Option<String>,
    confirmed: bool,
    queue: &mut Vec<Command>,
) {
    // The click answers the rollback's current step (or its start) of this migration: if
    // another process moved it on, nothing runs.
    let step = match st.state.as_ref().and_then(|s| s.rollback.as_ref()) {
        Some(r) => r.current().map(ExpectedStep::Back),
        None => Some(ExpectedStep::StartRollback),
    };
    let mut inputs = st.inputs(confirmed, false);
    inputs.expect = step.and_then(|s| st.confirming(s));
    queue.push(Command::Hsm(HsmCommand::MigrationRollback {
        database: db.name.clone(),
        reason,
        inputs: Box::new(inputs),
        db_password: None,
        pin_format: hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format),
    }));
}

/// Offered once the migration has changed the database (from step 7 on: TDE_CONFIGURATION HSM|FILE), and after it ends.
pub(super) fn start_rollback_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    can_run: bool,
    queue: &mut Vec<Command>,
) {
    let Some(migrate_may_have_run) = st
        .state
        .as_ref()
        .filter(|s| s.changed_the_database())
        .map(MigrationState::migrate_may_have_run)
    else {
        return;
    };
    ui.add_space(8.0);
    egui::CollapsingHeader::new("Roll back this migration")
        .id_salt("migration_rollback")
        .show(ui, |ui| {
            ui.label(format!(
                "Brings the master key back to the file wallet: {}. Each step is checked like a forward step; no master key on the HSM is ever deleted.",
                if migrate_may_have_run {
                    "TDE_CONFIGURATION FILE|HSM and a restart, the reverse migration (the wallet and HSM passwords), TDE_CONFIGURATION back and a restart"
                } else {
                    "the master key never left the wallet, so TDE_CONFIGURATION goes back (with a restart) and the wallet is compared with the step-6 backup"
                }
            ));
            if let Some(reason) = reason_ui(
                ui,
                &mut st.rollback_reason,
                ("Reason to roll back", "why the migration is rolled back (audited, in the report)"),
                "Roll back the migration",
                can_run,
            ) {
                st.confirm_rollback = Some(Some(reason));
            }
        });
    if let Some(Some(reason)) = st.confirm_rollback.clone() {
        // The click runs R1 only (R1 and R2 are skipped by themselves when the migrate
        // statement never ran): what it may send is R1's.
        let first = st
            .state
            .as_ref()
            .filter(|s| s.migrate_may_have_run())
            .map(|s| crate::migration::back_statements(s, db, BackStep::FileFirst))
            .unwrap_or_default();
        let sends = if first.is_empty() {
            "It sends nothing to the database yet: the master key never left the file wallet, so R1 and R2 are skipped, and R3 asks before it sends anything.".to_owned()
        } else {
            format!(
                "Its first step (R1, {}) may send to {} through its {} connector:\n{}",
                BackStep::FileFirst.title(),
                db.name,
                db.connector.label(),
                first.join("\n")
            )
        };
        match super::confirm::confirm_ui(
            ui.ctx(),
            &format!("Roll back the migration of {}?", db.name),
            &format!(
                "Reason: {reason}\n\n{sends}\n\nEach later step asks before it sends anything; no master key on the HSM is deleted, and a rollback, once started, is finished by its own steps."
            ),
            &format!("Roll back {}", db.name),
        ) {
            Some(super::confirm::Answer::Yes) => {
                st.confirm_rollback = None;
                run_rollback(st, db, hsm_profile, Some(reason), false, queue);
            }
            Some(super::confirm::Answer::No) => {
                // The reason typed stays in its field for the next try.
                st.rollback_reason = reason;
                st.confirm_rollback = None;
            }
            None => {}
        }
    }
}

/// The rollback's current step (or its end), like the plan's.
pub(super) fn rollback_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    back: Option<BackStep>,
    (can_run, idle): (bool, bool),
    queue: &mut Vec<Command>,
) {
    if let Some(r) = st.state.as_ref().and_then(|s| s.rollback.as_ref()) {
        let (title, color) = match back {
            Some(_) => ("Rolling back", WAIT),
            None => ("Rolled back", OK),
        };
        ui.label(RichText::new(title).strong().color(color));
        ui.label(format!("Reason: {}", r.reason));
    }
    let Some(step) = back else {
        ui.label(
            RichText::new("The migration is rolled back.")
                .strong()
                .color(OK),
        );
        if let Some(p) = st.progress.as_ref().filter(|p| p.back.is_some()) {
            for n in &p.notes {
                ui.label(format!("Note: {n}"));
            }
        }
        report_ui(ui, st, db, queue, idle);
        new_migration_ui(ui, st, db, can_run, queue);
        return;
    };
    ui.label(RichText::new(format!("R{}. {}", step.number(), step.title())).strong());
    ui.label(step.about());
    let statements = st
        .state
        .as_ref()
        .map(|state| crate::migration::back_statements(state, db, step))
        .unwrap_or_default();
    statements_ui(ui, &statements);
    ui.add_space(4.0);
    let progress = st.progress.as_ref().filter(|p| p.back.is_some()).cloned();
    if let Some(last) = progress.as_ref().filter(|p| p.back != Some(step)) {
        ui.label(format!(
            "R{} ({}): {}",
            last.back.map_or(0, BackStep::number),
            last.back.map_or("", BackStep::title),
            last.status.as_str()
        ));
    }
    let progress = progress.filter(|p| p.back == Some(step));
    if let Some(p) = &progress {
        progress_ui(ui, p);
    }
    let needs: Vec<Need> = progress.map(|p| p.needs).unwrap_or_default();
    egui::Grid::new("rollback_inputs")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            let moved = st
                .state
                .as_ref()
                .is_some_and(MigrationState::migrate_may_have_run);
            if (step == BackStep::Reverse && moved) || needs.contains(&Need::HsmPassword) {
                let l = ui.label("HSM password");
                password_ui(ui, l.id, id("hsm_pw"), &mut st.hsm_password);
                ui.end_row();
            }
            if (step == BackStep::Reverse && moved)
                || step == BackStep::FileOnly
                || needs.contains(&Need::WalletPassword)
            {
                let l = ui.label("Wallet password");
                password_ui(ui, l.id, id("wallet_pw"), &mut st.wallet_password);
                ui.end_row();
            }
            if step == BackStep::Wallet || needs.contains(&Need::BackupPassphrase) {
                let l = ui.label("Backup passphrase");
                password_ui(ui, l.id, id("backup_pw"), &mut st.backup_passphrase);
                ui.end_row();
            }
        });
    if needs.contains(&Need::HostOutput) {
        host_output_ui(ui, st);
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                can_run,
                egui::Button::new(format!("Run rollback step R{}", step.number())),
            )
            .clicked()
        {
            // A step that may send statements that change the database asks first.
            if statements.is_empty() {
                run_rollback(st, db, hsm_profile, None, false, queue);
            } else {
                st.confirm_rollback = Some(None);
            }
        }
        if needs.contains(&Need::Confirmation)
            && ui
                .add_enabled(can_run, egui::Button::new("Done: continue"))
                .on_hover_text(
                    "You did what the step asks (a restart, a check on the database host). On a Rehearsal database this restarts its simulated database, as the step listed.",
                )
                .clicked()
        {
            run_rollback(st, db, hsm_profile, None, true, queue);
        }
    });
    if st.confirm_rollback == Some(None) {
        match super::confirm::confirm_ui(
            ui.ctx(),
            &format!("Run rollback step R{} on {}?", step.number(), db.name),
            &format!(
                "Rollback step R{} ({}) may send to {} through its {} connector:\n{}\n\nA statement that changes the database cannot be taken back by tdekey as such.",
                step.number(),
                step.title(),
                db.name,
                db.connector.label(),
                statements.join("\n")
            ),
            &format!("Run rollback step R{} on {}", step.number(), db.name),
        ) {
            Some(super::confirm::Answer::Yes) => {
                st.confirm_rollback = None;
                run_rollback(st, db, hsm_profile, None, false, queue);
            }
            Some(super::confirm::Answer::No) => st.confirm_rollback = None,
            None => {}
        }
    }
}

/// Under a finished (or rolled-back) migration: a new one starts only when a person asks, after
/// a confirmation naming the migration it leaves behind.
pub(super) fn new_migration_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    idle: bool,
    queue: &mut Vec<Command>,
) {
    let Some(old) = st.state.as_ref() else {
        return;
    };
    let (id, rolled_back, key) = (old.id, old.rollback.is_some(), old.new_key.clone());
    ui.add_space(6.0);
    if ui
        .add_enabled(idle, egui::Button::new("Start a new migration…"))
        .on_hover_text("A new plan from step 1; this one stays in the history and its report.")
        .clicked()
    {
        st.confirm_new = Some(id);
    }
    let Some(id) = st.confirm_new else {
        return;
    };
    let what = if rolled_back {
        format!(
            "Migration number {id} of {} was rolled back: the master key is in the file wallet again.",
            db.name
        )
    } else {
        format!(
            "Migration number {id} of {} is finished{}. Running the wizard again does not start another by itself.",
            db.name,
            key.map(|k| format!(": it moved the master key to the HSM ({k})"))
                .unwrap_or_default()
        )
    };
    match super::confirm::confirm_ui(
        ui.ctx(),
        &format!("Start a new migration of {}?", db.name),
        &format!(
            "{what}

A new migration opens a new plan from step 1 (recorded in the audit log, naming number {id}); from then on status, report and rollback speak of the new one. Write this one's report first if you need it."
        ),
        &format!("Start a new migration of {}", db.name),
    ) {
        Some(super::confirm::Answer::Yes) => {
            st.confirm_new = None;
            queue.push(Command::Store(StoreCommand::MigrationStart {
                database: db.name.clone(),
                replacing: Some(id),
            }));
        }
        Some(super::confirm::Answer::No) => st.confirm_new = None,
        None => {}
    }
}
