//! The migration wizard in the window (Databases › Migration): the plan on the left with each
//! step's state, the current step on the right with what it does, its checks turning green or
//! red, what a person must do, and the passwords it needs (asked at that step only).

use super::migration_record::{
    BAD, Viewing, checks_ui, plan_ui, record_ui, report_file_ui, report_ui, results_ui, skipped_ui,
    status_color,
};
use super::secret_field::{clear_password, password_ui};
use crate::engine::{Command, Engine, HsmCommand, StoreCommand, Task};
use crate::migration::{
    Expected, ExpectedStep, Inputs, MigrationState, Need, Progress, StepId, StepStatus,
};
use crate::model::{ConnectorKind, DatabaseProfile, HsmProfile, PinFormat};
use crate::secret::SecretBuffer;
use egui::{Color32, RichText};

pub(super) const OK: Color32 = Color32::from_rgb(90, 180, 90);
pub(super) const WAIT: Color32 = Color32::from_rgb(230, 170, 60);

#[derive(Default)]
pub struct MigrationTabState {
    /// The database shown; its plan is loaded when it changes.
    pub database: Option<String>,
    /// "Set a rotation policy" was clicked for this database: the window opens the Rotation
    /// screen on it.
    pub go_to_rotation: Option<String>,
    /// "Log in on the HSM screen" was clicked: the window opens it ...
    pub go_to_login: bool,
    /// ... and comes back to this step once the login succeeds.
    pub return_after_login: bool,
    /// "Run step N on NAME?" is open for the step it names.
    pub confirm_run: Option<StepId>,
    /// "Start a new migration of NAME?" is open, for the migration it names (the finished or
    /// rolled-back one it leaves behind).
    pub confirm_new: Option<i64>,
    /// A task failed: the plan is read again (another process may have moved it on).
    pub reload: bool,
    /// The shown database's rotation policy in words ("every 90 days; next due …"), if any.
    pub policy: Option<String>,
    /// "Roll back … on NAME?" is open: `Some(reason)` to start the rollback, `None` for its
    /// current step.
    pub confirm_rollback: Option<Option<String>>,
    pub state: Option<MigrationState>,
    /// What the last step run said.
    pub progress: Option<Progress>,
    pub error: Option<String>,
    pub hsm_password: SecretBuffer,
    pub wallet_password: SecretBuffer,
    pub backup_passphrase: SecretBuffer,
    /// The backup passphrase typed a second time.
    pub backup_passphrase2: SecretBuffer,
    pub unencrypted_backup: bool,
    pub auto_login: bool,
    pub external_store: bool,
    pub tag: String,
    pub override_reason: String,
    /// Path B: the user of the HSM the database uses now, and its password.
    pub old_hsm_user: String,
    pub old_hsm_password: SecretBuffer,
    /// Path B: the old HSM takes a password only (no user name).
    pub old_hsm_password_only: bool,
    pub rollback_reason: String,
    /// What the person pasted from the database host for the current step.
    pub host_output: String,
    pub report_path: String,
    pub report_written: Option<String>,
    /// A step clicked in the plan: its record is shown instead of the current step.
    pub viewing: Option<Viewing>,
    /// The database's earlier migrations, newest first.
    pub past: Vec<MigrationState>,
    /// The earlier migration shown read-only (its number).
    pub viewing_past: Option<i64>,
    /// Step 12 was run: the report is written once it is done.
    pub report_after: bool,
    /// tdekey's data directory (where the report goes by default).
    pub data_root: std::path::PathBuf,
}

pub(super) fn id(name: &str) -> egui::Id {
    egui::Id::unique(("migration", name))
}

impl MigrationTabState {
    pub fn on_migration(
        &mut self,
        ctx: &egui::Context,
        database: String,
        state: Option<MigrationState>,
        progress: Option<Progress>,
    ) {
        if self.database.as_deref() != Some(database.as_str()) {
            return;
        }
        // Another migration than the one shown (a new one started): what its predecessor's
        // last step said is not this one's.
        let other = self.state.as_ref().map(|s| s.id) != state.as_ref().map(|s| s.id);
        if other {
            self.progress = None;
            // The report and the record shown were the other migration's.
            self.report_written = None;
            self.report_path.clear();
            self.report_after = false;
            self.viewing = None;
        }
        // A plan read again after a refusal keeps the refusal shown.
        if progress.is_some() || other {
            self.error = None;
        }
        self.state = state;
        // Opened on a migration run elsewhere (or before the window closed): show what its
        // current step found and offer what it waits for.
        let progress = progress.or_else(|| {
            self.progress
                .is_none()
                .then(|| self.state.as_ref().and_then(MigrationState::last_progress))
                .flatten()
        });
        if progress.is_some() {
            let moved = |p: &Option<Progress>| p.as_ref().map(|p| (p.step, p.back));
            if moved(&self.progress) != moved(&progress) {
                self.host_output.clear();
            }
            self.progress = progress;
            self.clear_secrets(ctx);
        }
    }

    pub fn on_past(&mut self, database: &str, past: Vec<MigrationState>) {
        if self.database.as_deref() != Some(database) {
            return;
        }
        if !past.iter().any(|m| Some(m.id) == self.viewing_past) {
            self.viewing_past = None;
        }
        self.past = past;
    }

    pub fn on_failed(&mut self, ctx: &egui::Context, message: String) {
        self.error = Some(message);
        self.report_after = false;
        self.reload = true;
        self.clear_secrets(ctx);
    }

    fn clear_secrets(&mut self, ctx: &egui::Context) {
        clear_password(ctx, id("hsm_pw"), &mut self.hsm_password);
        clear_password(ctx, id("wallet_pw"), &mut self.wallet_password);
        let ids = (id("backup_pw"), id("backup_pw2"));
        super::secret_field::clear_new_passphrase(
            ctx,
            ids,
            &mut self.backup_passphrase,
            &mut self.backup_passphrase2,
        );
        clear_password(ctx, id("old_hsm_pw"), &mut self.old_hsm_password);
    }

    /// What the person confirms by a click: this step of the migration shown, and no other.
    pub(super) fn confirming(&self, step: ExpectedStep) -> Option<Expected> {
        Some(Expected {
            migration: self.state.as_ref().map(|s| s.id),
            step,
        })
    }

    pub(super) fn inputs(&self, confirmed: bool, apply_fix: bool) -> Inputs {
        let secret = |b: &SecretBuffer| (!b.is_empty()).then(|| b.to_secret());
        Inputs {
            hsm_password: secret(&self.hsm_password),
            wallet_password: secret(&self.wallet_password),
            // Typed twice, the same both times: else none is given, and the step asks again.
            backup_passphrase: secret(&self.backup_passphrase)
                .filter(|_| self.backup_passphrase.as_str() == self.backup_passphrase2.as_str()),
            confirmed,
            apply_fix,
            unencrypted_backup: self.unencrypted_backup,
            auto_login: self.auto_login,
            external_store: self.external_store,
            tag: Some(self.tag.trim().to_owned()).filter(|t| !t.is_empty()),
            old_hsm_user: Some(self.old_hsm_user.trim().to_owned())
                .filter(|u| !u.is_empty() && !self.old_hsm_password_only),
            old_hsm_password: secret(&self.old_hsm_password),
            old_hsm_password_only: self.old_hsm_password_only,
            host_output: Some(self.host_output.clone()).filter(|t| !t.trim().is_empty()),
            expect: None,
        }
    }
}

pub fn migration_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    logged_in: bool,
    (engine, data_root): (&Engine, &std::path::Path),
    queue: &mut Vec<Command>,
) {
    if st.database.as_deref() != Some(db.name.as_str()) {
        *st = MigrationTabState {
            database: Some(db.name.clone()),
            data_root: data_root.to_path_buf(),
            ..MigrationTabState::default()
        };
        queue.push(Command::Store(StoreCommand::MigrationStatus {
            database: db.name.clone(),
        }));
    }
    let busy = engine.is_pending(Task::Migration);
    // Step 12 ran: its report is written once the step is done.
    if st.report_after && !busy {
        st.report_after = false;
        if st.state.as_ref().is_some_and(MigrationState::finished) {
            super::migration_record::write_report(st, db, queue);
        }
    }
    if st.reload && !busy {
        st.reload = false;
        queue.push(Command::Store(StoreCommand::MigrationStatus {
            database: db.name.clone(),
        }));
    }
    ui.horizontal(|ui| {
        ui.heading(format!("Migrate {} to the HSM", db.name));
        if db.connector == ConnectorKind::Rehearsal {
            super::console::rehearsal_badge_ui(ui);
        }
        if busy {
            ui.spinner();
        }
    });
    if !logged_in {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(
                WAIT,
                "Log in to the HSM first: the wizard uses that session as the crypto user Oracle will use.",
            );
            if ui
                .button("Log in on the HSM screen")
                .on_hover_text("After the login the window comes back to this step.")
                .clicked()
            {
                st.go_to_login = true;
                st.return_after_login = true;
            }
        });
    }
    if let Some(e) = &st.error {
        ui.colored_label(BAD, e);
    }
    if let Some(past) = st
        .viewing_past
        .and_then(|id| st.past.iter().find(|m| m.id == id))
        .cloned()
    {
        super::migration_record::past_ui(ui, st, &past);
        return;
    }
    let current = st
        .state
        .as_ref()
        .map_or(Some(StepId::Choose), MigrationState::current);
    let rollback = st.state.as_ref().and_then(|s| s.rollback.as_ref());
    let back = rollback.map(|r| r.current());
    ui.columns(2, |cols| {
        let left = egui::Layout::top_down(egui::Align::Min);
        cols[0].with_layout(left, |ui| {
            plan_ui(
                ui,
                st.state.as_ref(),
                &mut st.viewing,
                current,
                back.flatten(),
            );
            super::migration_record::past_list_ui(ui, st);
        });
        cols[1].with_layout(left, |ui| match (st.viewing, back) {
            (Some(v), _) => record_ui(
                ui,
                st.state.as_ref(),
                &mut st.viewing,
                v,
                "Back to the current step",
            ),
            (None, back) => match back {
                Some(back) => super::migration_rollback::rollback_ui(
                    ui,
                    st,
                    db,
                    hsm_profile,
                    back,
                    (logged_in && !busy, !busy),
                    queue,
                ),
                None => {
                    step_ui(
                        ui,
                        st,
                        db,
                        hsm_profile,
                        current,
                        (logged_in && !busy, !busy),
                        queue,
                    );
                    super::migration_rollback::start_rollback_ui(
                        ui,
                        st,
                        db,
                        hsm_profile,
                        logged_in && !busy,
                        queue,
                    );
                    if let Some(s) = st.state.as_ref().filter(|_| current.is_none()) {
                        ui.add_space(6.0);
                        results_ui(ui, s);
                    }
                }
            },
        });
    });
}

#[allow(clippy::too_many_arguments)]
fn step_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    current: Option<StepId>,
    (can_run, idle): (bool, bool),
    queue: &mut Vec<Command>,
) {
    let Some(step) = current else {
        ui.label(
            RichText::new("The migration is finished.")
                .strong()
                .color(OK),
        );
        report_ui(ui, st, db, queue, idle);
        super::migration_rollback::new_migration_ui(ui, st, db, idle, queue);
        return;
    };
    ui.label(RichText::new(format!("Step {}. {}", step.number(), step.title())).strong());
    ui.label(step.about());
    let statements = step_statements(st, db, step);
    statements_ui(ui, &statements);
    ui.add_space(4.0);
    skipped_ui(ui, st);
    // What the step run last found, when the wizard has moved on from it.
    if let Some(last) = st.progress.as_ref().filter(|p| p.step != step) {
        egui::CollapsingHeader::new(format!(
            "Step {} ({}): {}",
            last.step.number(),
            last.step.title(),
            last.status.as_str()
        ))
        .id_salt("migration_last_step")
        .show(ui, |ui| {
            ui.label(&last.message);
            checks_ui(ui, &last.checks, false);
            for n in &last.notes {
                ui.label(format!("Note: {n}"));
            }
        });
        ui.add_space(4.0);
    }
    let progress = st.progress.as_ref().filter(|p| p.step == step).cloned();
    if let Some(p) = &progress {
        progress_ui(ui, p);
    }
    let needs: Vec<Need> = progress
        .as_ref()
        .map(|p| p.needs.clone())
        .unwrap_or_default();
    ui.add_space(4.0);
    egui::Grid::new("migration_inputs")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            if matches!(step, StepId::Migrate | StepId::AutoLogin)
                || needs.contains(&Need::HsmPassword)
            {
                let l = ui.label("HSM password");
                password_ui(ui, l.id, id("hsm_pw"), &mut st.hsm_password);
                ui.end_row();
                ui.label("");
                ui.small(super::secret_field::hsm_password_hint(
                    hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format),
                    hsm_profile.map_or("", |p| p.user_name.as_str()),
                ));
                ui.end_row();
            }
            let path_b = step == StepId::FromOtherHsm
                && st
                    .state
                    .as_ref()
                    .is_some_and(|s| s.path == Some(crate::migration::Path::OtherHsm));
            if matches!(step, StepId::FileOpen | StepId::Migrate)
                || path_b
                || needs.contains(&Need::WalletPassword)
            {
                let l = ui.label("Wallet password");
                password_ui(ui, l.id, id("wallet_pw"), &mut st.wallet_password);
                ui.end_row();
            }
            if path_b || needs.contains(&Need::OldHsmCredential) {
                ui.label("");
                ui.checkbox(
                    &mut st.old_hsm_password_only,
                    "The other HSM takes a password only (no user name)",
                )
                .on_hover_text("Some vendors' Oracle guides write IDENTIFIED BY \"<password>\" without \"user:\".");
                ui.end_row();
                if !st.old_hsm_password_only {
                    super::labelled_edit(
                        ui,
                        "Other HSM's user",
                        &mut st.old_hsm_user,
                        "the user Oracle logs in to the old HSM as",
                        200.0,
                    );
                    ui.end_row();
                }
                let l = ui.label("Other HSM's password");
                password_ui(ui, l.id, id("old_hsm_pw"), &mut st.old_hsm_password);
                ui.end_row();
            }
            if step == StepId::Backup {
                super::secret_field::new_passphrase_ui(
                    ui,
                    (id("backup_pw"), id("backup_pw2")),
                    ("Backup passphrase", "Repeat backup passphrase"),
                    &mut st.backup_passphrase,
                    &mut st.backup_passphrase2,
                );
                ui.label("");
                ui.checkbox(&mut st.unencrypted_backup, "Back up without encryption");
                ui.end_row();
            }
            if step == StepId::Migrate {
                super::labelled_edit(ui, "Backup tag", &mut st.tag, "tdekey_pre_hsm", 200.0);
                ui.end_row();
            }
            if step == StepId::AutoLogin {
                ui.label("Auto-login");
                ui.checkbox(&mut st.auto_login, "Set up HSM auto-login")
                    .on_hover_text("The HSM password as the secret HSM_PASSWORD in the software keystore under WALLET_ROOT/tde, made auto-login: after a restart the HSM keystore opens by itself.");
                ui.end_row();
                ui.label("External store");
                ui.checkbox(
                    &mut st.external_store,
                    "Also keep the HSM password in the external store",
                )
                .on_hover_text("WALLET_ROOT/tde_seps: statements may then say IDENTIFIED BY EXTERNAL STORE instead of the password. It does not open the keystore at start-up.");
                ui.end_row();
            }
        });
    if needs.contains(&Need::HostOutput) {
        host_output_ui(ui, st);
    }
    if step == StepId::Done {
        // Step 12 writes the report: its file, with a default name under the data directory.
        report_file_ui(ui, st, db, queue, idle, false);
    }
    let pin_format = hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format);
    // Two different backup passphrases: nothing runs until they are the same (the row under
    // them says so).
    let can_run = can_run
        && !(step == StepId::Backup
            && st.backup_passphrase.as_str() != st.backup_passphrase2.as_str());
    // Every click answers this step of this migration: if another process moved it on, nothing
    // runs.
    let mut run = |st: &MigrationTabState, confirmed: bool, fix: bool| {
        let mut inputs = st.inputs(confirmed, fix);
        inputs.expect = st.confirming(ExpectedStep::Plan(step));
        queue.push(Command::Hsm(HsmCommand::MigrationStep {
            database: db.name.clone(),
            inputs: Box::new(inputs),
            db_password: None,
            pin_format,
        }));
    };
    ui.horizontal(|ui| {
        let first = matches!(
            st.state
                .as_ref()
                .and_then(|s| s.step(step))
                .map(|r| r.status),
            None | Some(StepStatus::NotStarted)
        );
        let label = match step {
            // Optional and nothing chosen: it sends nothing, so nothing is confirmed.
            StepId::AutoLogin if statements.is_empty() => format!("Skip step {}", step.number()),
            StepId::Done => format!("Run step {} and write the report", step.number()),
            _ if first => format!("Run step {}", step.number()),
            _ => format!("Run step {} again", step.number()),
        };
        let enabled = can_run && (step != StepId::Done || !st.report_path.trim().is_empty());
        if ui.add_enabled(enabled, egui::Button::new(label)).clicked() {
            // A step that may send statements that change the database asks first.
            if statements.is_empty() {
                run(st, false, false);
                st.report_after = step == StepId::Done;
                st.report_written = None;
            } else {
                st.confirm_run = Some(step);
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
            run(st, true, false);
        }
        if needs.contains(&Need::Fix)
            && ui
                .add_enabled(
                    can_run,
                    egui::Button::new("Apply the fix on the simulated host"),
                )
                .clicked()
        {
            run(st, false, true);
        }
        if needs.contains(&Need::HostOutput)
            && ui
                .add_enabled(
                    can_run && !st.host_output.trim().is_empty(),
                    egui::Button::new("Check the pasted output"),
                )
                .clicked()
        {
            run(st, false, false);
        }
    });
    if st.confirm_run == Some(step) {
        match super::confirm::confirm_ui(
            ui.ctx(),
            &format!("Run step {} on {}?", step.number(), db.name),
            &format!(
                "Step {} ({}) may send to {} through its {} connector:\n{}\n\nA statement that changes the database cannot be taken back by tdekey as such; from step 7 on, \"Roll back this migration\" reverses the migration step by step.",
                step.number(),
                step.title(),
                db.name,
                db.connector.label(),
                statements.join("\n")
            ),
            &format!("Run step {} on {}", step.number(), db.name),
        ) {
            Some(super::confirm::Answer::Yes) => {
                st.confirm_run = None;
                // The step confirmed, or nothing.
                run(st, false, false);
            }
            Some(super::confirm::Answer::No) => st.confirm_run = None,
            None => {}
        }
    }
    let failed = progress
        .as_ref()
        .is_some_and(|p| p.status == StepStatus::Failed && p.checks.iter().any(|c| !c.ok));
    if failed {
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if let Some(reason) = reason_ui(
                ui,
                &mut st.override_reason,
                (
                    "Reason to accept",
                    "why the failed check may be accepted (audited)",
                ),
                "Accept with this reason",
                idle,
            ) {
                queue.push(Command::Store(StoreCommand::MigrationOverride {
                    database: db.name.clone(),
                    reason,
                }));
            }
        });
    }
}

/// What the step may send, for what is chosen on it (step 11: nothing when neither auto-login
/// nor the external store is ticked).
fn step_statements(st: &MigrationTabState, db: &DatabaseProfile, step: StepId) -> Vec<String> {
    match step {
        StepId::AutoLogin => crate::migration::auto_login_statements(
            st.state.as_ref(),
            db,
            st.auto_login,
            st.external_store,
        ),
        _ => crate::migration::statements(st.state.as_ref(), db, step, Some(st.tag.as_str())),
    }
}

/// A reason a person writes (at least a sentence) and the button that gives it; the reason,
/// once given (and the box emptied).
pub(super) fn reason_ui(
    ui: &mut egui::Ui,
    text: &mut String,
    (label, hint): (&str, &str),
    button: &str,
    enabled: bool,
) -> Option<String> {
    super::labelled_edit(ui, label, text, hint, 360.0);
    let clicked = ui
        .add_enabled(
            enabled && text.trim().len() >= 10,
            egui::Button::new(button),
        )
        .clicked();
    clicked.then(|| {
        let reason = text.trim().to_owned();
        text.clear();
        reason
    })
}

/// What the last run of a step found: its message, checks, notes and what a person must do.
pub(super) fn progress_ui(ui: &mut egui::Ui, p: &Progress) {
    ui.colored_label(status_color(p.status), &p.message);
    checks_ui(ui, &p.checks, p.status == StepStatus::NeedsAttention);
    for n in &p.notes {
        ui.label(format!("Note: {n}"));
    }
    if !p.todo.is_empty() {
        ui.label(RichText::new("To do:").strong());
        for t in &p.todo {
            ui.label(RichText::new(t).monospace());
        }
    }
}

/// What a step may send, secrets hidden.
pub(super) fn statements_ui(ui: &mut egui::Ui, statements: &[String]) {
    if statements.is_empty() {
        return;
    }
    ui.label("What it may send (secrets hidden):");
    for s in statements {
        ui.label(RichText::new(s).monospace());
    }
}

/// The box for what the command shown printed on the database host.
pub(super) fn host_output_ui(ui: &mut egui::Ui, st: &mut MigrationTabState) {
    let l = ui.label("Output from the database host");
    ui.add(
        egui::TextEdit::multiline(&mut st.host_output)
            .font(egui::TextStyle::Monospace)
            .desired_rows(6)
            .desired_width(f32::INFINITY)
            .hint_text("paste everything the command printed, down to END (several hosts' outputs at once if you like: each begins with its HOST line)"),
    )
    .labelled_by(l.id);
}
