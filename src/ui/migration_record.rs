//! The wizard's past in the migration tab: the plan, each step clickable to see its record
//! (its checks, what it sent and what Oracle answered, who ran it and when), skipped steps
//! shown apart from done ones with why, and the report.

use super::migration_tab::{MigrationTabState, OK, WAIT};
use crate::engine::{Command, StoreCommand};
use crate::migration::{BackStep, Check, MigrationState, Standing, StepId, StepRecord, StepStatus};
use crate::model::DatabaseProfile;
use egui::{Color32, RichText};

pub(super) const BAD: Color32 = Color32::from_rgb(220, 90, 90);
/// Skipped: set apart from done (it did nothing), but not a problem.
const SKIPPED: Color32 = Color32::from_rgb(130, 160, 210);

/// A step of the plan or of the rollback whose record is shown instead of the current step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewing {
    Plan(StepId),
    Back(BackStep),
}

pub(super) fn status_color(s: StepStatus) -> Color32 {
    match s {
        StepStatus::Done => OK,
        StepStatus::Skipped => SKIPPED,
        StepStatus::Failed | StepStatus::Unknown => BAD,
        StepStatus::NeedsAttention => WAIT,
        StepStatus::NotStarted => Color32::GRAY,
    }
}

fn status_text(s: StepStatus) -> RichText {
    let t = RichText::new(s.as_str()).color(status_color(s));
    if s == StepStatus::Skipped {
        t.italics()
    } else {
        t
    }
}

/// The plan (and the rollback's), each step a button that shows its record.
pub(super) fn plan_ui(
    ui: &mut egui::Ui,
    state: Option<&MigrationState>,
    viewing: &mut Option<Viewing>,
    current: Option<StepId>,
    back: Option<BackStep>,
) {
    ui.label(RichText::new("Plan").strong());
    ui.label(RichText::new("Click a step to see its record.").weak());
    let mut clicked = None;
    egui::Grid::new("migration_plan")
        .striped(true)
        .spacing([10.0, 4.0])
        .show(ui, |ui| {
            for step in StepId::ALL {
                let rec = state.and_then(|s| s.step(*step));
                let status = rec.map_or(StepStatus::NotStarted, |r| r.status);
                let title = format!("{}. {}", step.number(), step.title());
                let title = if Some(*step) == current {
                    RichText::new(title).strong()
                } else {
                    RichText::new(title)
                };
                let selected = *viewing == Some(Viewing::Plan(*step));
                if ui.selectable_label(selected, title).clicked() {
                    clicked = Some(Viewing::Plan(*step));
                }
                let r = ui.label(status_text(status));
                if let Some(why) = rec.and_then(|r| r.reason.as_deref()) {
                    r.on_hover_text(why);
                }
                ui.end_row();
            }
        });
    if let Some(r) = state.and_then(|s| s.rollback.as_ref()) {
        ui.add_space(6.0);
        ui.label(RichText::new("Rollback").strong());
        egui::Grid::new("migration_rollback_plan")
            .striped(true)
            .spacing([10.0, 4.0])
            .show(ui, |ui| {
                for rec in &r.steps {
                    let title = format!("R{}. {}", rec.step.number(), rec.step.title());
                    let title = if Some(rec.step) == back {
                        RichText::new(title).strong()
                    } else {
                        RichText::new(title)
                    };
                    let selected = *viewing == Some(Viewing::Back(rec.step));
                    if ui.selectable_label(selected, title).clicked() {
                        clicked = Some(Viewing::Back(rec.step));
                    }
                    let l = ui.label(status_text(rec.status));
                    if let Some(why) = rec.reason.as_deref() {
                        l.on_hover_text(why);
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(k) = state.and_then(|s| s.new_key.as_deref()) {
        ui.add_space(6.0);
        ui.label("New master key:");
        ui.label(RichText::new(k).monospace());
    }
    if let Some(v) = clicked {
        // A second click on the step shown goes back to the current step.
        *viewing = (*viewing != Some(v)).then_some(v);
    }
}

/// The record of the step a person clicked in the plan, read-only.
pub(super) fn record_ui(
    ui: &mut egui::Ui,
    state: Option<&MigrationState>,
    viewing: &mut Option<Viewing>,
    v: Viewing,
    back: &str,
) {
    let Some(state) = state else {
        *viewing = None;
        return;
    };
    if ui.button(back).clicked() {
        *viewing = None;
        return;
    }
    match v {
        Viewing::Plan(step) => {
            ui.label(
                RichText::new(format!(
                    "Record of step {}. {}",
                    step.number(),
                    step.title()
                ))
                .strong(),
            );
            match state.step(step) {
                Some(rec) => one_record(ui, rec),
                None => {
                    ui.label("This step is not in the migration's record.");
                }
            }
        }
        Viewing::Back(b) => {
            ui.label(
                RichText::new(format!(
                    "Record of rollback step R{}. {}",
                    b.number(),
                    b.title()
                ))
                .strong(),
            );
            match state.rollback.as_ref().and_then(|r| r.step(b)) {
                Some(rec) => one_record(ui, rec),
                None => {
                    ui.label("This step is not in the rollback's record.");
                }
            }
        }
    }
}

fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".to_owned(), crate::audit::export::utc)
}

fn one_record<S>(ui: &mut egui::Ui, rec: &StepRecord<S>) {
    ui.horizontal(|ui| {
        ui.label("Result:");
        ui.label(status_text(rec.status));
    });
    if rec.attempts == 0 && rec.status == StepStatus::NotStarted {
        ui.label("It has not run yet.");
        return;
    }
    if let Some(why) = &rec.reason {
        let prefix = match rec.status {
            StepStatus::Skipped => "Skipped because",
            StepStatus::Failed => "Failed:",
            StepStatus::NeedsAttention => "Waiting:",
            _ => "Said:",
        };
        ui.label(format!("{prefix} {why}"));
    }
    egui::Grid::new("migration_record_facts")
        .num_columns(2)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            ui.label("Run by");
            ui.label(rec.by.as_deref().unwrap_or("not recorded"));
            ui.end_row();
            ui.label("Started");
            ui.label(when(rec.started_ms));
            ui.end_row();
            ui.label("Finished");
            ui.label(when(rec.finished_ms));
            ui.end_row();
            ui.label("Runs");
            ui.label(rec.attempts.to_string());
            ui.end_row();
        });
    if !rec.checks.is_empty() {
        ui.label(RichText::new("Checks").strong());
        checks_ui(ui, &rec.checks, rec.status == StepStatus::NeedsAttention);
    }
    ui.label(RichText::new("What it sent").strong());
    if rec.sent.is_empty() {
        ui.label("Nothing: this step sent no statement.");
    }
    for s in &rec.sent {
        ui.label(
            RichText::new(format!(
                "{} — {}, through {}",
                when(Some(s.at_ms)),
                s.title,
                s.connector
            ))
            .weak(),
        );
        ui.label(RichText::new(&s.statement).monospace());
        ui.label(format!(
            "Oracle answered: {}",
            s.answer
                .as_deref()
                .unwrap_or("nothing seen (the answer is unknown)")
        ));
    }
    for h in &rec.hosts {
        ui.label(format!(
            "{} {}: {}",
            h.role,
            h.host,
            if h.passed { "passed" } else { "not passed" }
        ));
    }
    for n in &rec.notes {
        ui.label(format!("Note: {n}"));
    }
    if !rec.todo.is_empty() {
        ui.label(RichText::new("It asked:").strong());
        for t in &rec.todo {
            ui.label(RichText::new(t).monospace());
        }
    }
}

/// The steps skipped without a click, each with why: set apart from the ones that did something.
pub(super) fn skipped_ui(ui: &mut egui::Ui, st: &MigrationTabState) {
    let Some(state) = st.state.as_ref() else {
        return;
    };
    let skipped: Vec<&StepRecord> = state
        .steps
        .iter()
        .filter(|r| r.status == StepStatus::Skipped)
        .collect();
    if skipped.is_empty() {
        return;
    }
    for r in skipped {
        ui.horizontal_wrapped(|ui| {
            ui.label(status_text(StepStatus::Skipped));
            ui.label(format!(
                "step {} ({}): {}",
                r.step.number(),
                r.step.title(),
                r.reason.as_deref().unwrap_or("it does not apply.")
            ));
        });
    }
}

/// Every step's result, once the migration is over.
pub(super) fn results_ui(ui: &mut egui::Ui, state: &MigrationState) {
    ui.label(RichText::new("Every step's result").strong());
    for r in &state.steps {
        // Wrapped, so that a skipped step's reason stays inside the panel.
        ui.horizontal_wrapped(|ui| {
            ui.label(status_text(r.status));
            ui.label(format!(
                "Step {} ({}){}",
                r.step.number(),
                r.step.title(),
                match (r.status, r.reason.as_deref()) {
                    (StepStatus::Skipped, Some(why)) => format!(": {why}"),
                    _ => String::new(),
                }
            ));
        });
    }
}

/// The checks of a step; while the step waits for a person, a check that has not passed yet
/// says "not yet" rather than "FAILED".
pub(super) fn checks_ui(ui: &mut egui::Ui, checks: &[Check], waiting: bool) {
    for c in checks {
        let (mark, color) = match (c.ok, &c.overridden) {
            (true, _) => ("passed", OK),
            (false, Some(_)) => ("accepted", WAIT),
            (false, None) if waiting => ("not yet", WAIT),
            (false, None) => ("FAILED", BAD),
        };
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(color, mark);
            ui.label(format!("{} — {}", c.what, c.detail));
        });
    }
}

/// The report's default file: under the data directory, named by the database and the
/// migration's number.
pub(super) fn default_report(st: &MigrationTabState, db: &DatabaseProfile) -> String {
    let id = st.state.as_ref().map_or(0, |s| s.id);
    let name = crate::paths::out::file_stem(&db.name);
    st.data_root
        .join(format!("{name}-migration-{id}-report.html"))
        .display()
        .to_string()
}

pub(super) fn report_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    queue: &mut Vec<Command>,
    can_run: bool,
) {
    // Once the migration is finished (and not rolled back): its key is the one to rotate.
    if st
        .state
        .as_ref()
        .is_some_and(|s| s.rollback.is_none() && s.finished())
    {
        ui.horizontal(|ui| {
            let button = match &st.policy {
                Some(p) => {
                    ui.label(format!("Rotation policy: {p}."));
                    "Open its rotation…"
                }
                None => {
                    ui.label("Next: rotate this master key on a schedule.");
                    "Set a rotation policy…"
                }
            };
            if ui.button(button).clicked() {
                st.go_to_rotation = Some(db.name.clone());
            }
        });
    }
    report_file_ui(ui, st, db, queue, can_run, true);
}

/// The report's file box (with its default name) and, with `button`, "Write the report".
pub(super) fn report_file_ui(
    ui: &mut egui::Ui,
    st: &mut MigrationTabState,
    db: &DatabaseProfile,
    queue: &mut Vec<Command>,
    can_run: bool,
    button: bool,
) {
    if st.report_path.is_empty() {
        st.report_path = default_report(st, db);
    }
    ui.horizontal(|ui| {
        // Room for the label and the button on the same line, inside the panel.
        let width = (ui.available_width() - if button { 230.0 } else { 100.0 }).clamp(160.0, 420.0);
        super::labelled_edit(
            ui,
            "Report file",
            &mut st.report_path,
            "a file name ending in .html (or .json)",
            width,
        );
        if button
            && ui
                .add_enabled(
                    can_run && !st.report_path.trim().is_empty(),
                    egui::Button::new("Write the report"),
                )
                .clicked()
        {
            write_report(st, db, queue);
        }
    });
    if let Some(p) = &st.report_written {
        ui.colored_label(OK, format!("Report written to {p}."));
    }
}

pub(super) fn write_report(st: &MigrationTabState, db: &DatabaseProfile, queue: &mut Vec<Command>) {
    queue.push(Command::Store(StoreCommand::MigrationReport {
        database: db.name.clone(),
        path: st.report_path.trim().into(),
    }));
}

/// "finished", "rolled back", "left unfinished": how an earlier migration ended.
fn ended(m: &MigrationState) -> &'static str {
    match Standing::of(Some(m)) {
        Standing::OnHsm => "finished",
        Standing::RolledBack => "rolled back",
        _ => "left unfinished",
    }
}

/// The database's earlier migrations, each opened read-only by a click.
pub(super) fn past_list_ui(ui: &mut egui::Ui, st: &mut MigrationTabState) {
    if st.past.is_empty() {
        return;
    }
    ui.add_space(6.0);
    ui.label(RichText::new("Earlier migrations").strong());
    for m in &st.past {
        let label = format!(
            "Migration number {}: {}, {}",
            m.id,
            ended(m),
            when(m.finished_ms)
        );
        if ui
            .button(label)
            .on_hover_text("Opens its plan and records, read-only.")
            .clicked()
        {
            st.viewing_past = Some(m.id);
            st.viewing = None;
        }
    }
}

/// An earlier migration, read-only: its plan, each step's record, every step's result.
pub(super) fn past_ui(ui: &mut egui::Ui, st: &mut MigrationTabState, past: &MigrationState) {
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "Migration number {} ({}), read-only",
                past.id,
                ended(past)
            ))
            .strong(),
        );
        if ui.button("Back to the current migration").clicked() {
            st.viewing_past = None;
            st.viewing = None;
        }
    });
    if let Some(r) = &past.rollback {
        ui.label(format!("Rolled back because: {}", r.reason));
    }
    ui.columns(2, |cols| {
        let left = egui::Layout::top_down(egui::Align::Min);
        cols[0].with_layout(left, |ui| {
            plan_ui(ui, Some(past), &mut st.viewing, None, None)
        });
        cols[1].with_layout(left, |ui| match st.viewing {
            Some(v) => record_ui(ui, Some(past), &mut st.viewing, v, "Back to its results"),
            None => results_ui(ui, past),
        });
    });
}
