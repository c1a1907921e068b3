//! The Audit screen: the log, newest first, with filters run off the UI thread (the first page
//! shows at once; more pages load as you scroll), a details pane, verification, checkpoints and
//! exports.

use super::audit_export::{export_window_ui, pass_ids};
use super::secret_field::clear_new_passphrase;
use super::{Banner, banner_ui, labelled_edit};
use crate::audit::export::{Format, utc};
use crate::engine::{AuditCommand, Command, Engine, HsmCommand, Task};
use crate::secret::SecretBuffer;
use crate::store::{AuditFilter, AuditRow};
use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What a banner of the Audit screen reports, so it goes once its cause is fixed: a filter that
/// could not be read goes when one is applied, a failed query when a page arrives, a failed
/// verification when one succeeds, a failed export when an export is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BannerCause {
    Filter,
    Query,
    Verify,
    Export,
    SaveDialog,
}

const PAGE: usize = 200;
const OUTCOMES: &[&str] = &["", "started", "success", "failure", "cancelled"];

pub struct AuditState {
    pub since: String,
    pub until: String,
    pub action: String,
    pub user: String,
    pub outcome: String,
    pub text: String,
    pub(super) applied: AuditFilter,
    generation: u64,
    pub rows: Vec<AuditRow>,
    pub count: Option<u64>,
    exhausted: bool,
    /// A query to send when the running one ends.
    queued: Option<Option<i64>>,
    started: bool,
    pub selected: Option<usize>,
    pub banner: Option<Banner>,
    /// What the banner reports (none: a message that stays until dismissed).
    pub banner_cause: Option<BannerCause>,
    /// When the first page of what is shown was read (UTC, HH:MM:SS).
    pub as_of: Option<String>,
    /// The newest entry in the log when the first page was read, and now (read every few
    /// seconds while the screen is shown): the difference is what the list does not show yet.
    pub head_shown: Option<i64>,
    pub head_now: Option<i64>,
    /// How far each SIEM destination has been sent the log (read with the head).
    pub forward: Option<Vec<crate::store::ForwardPosition>>,
    /// When the newest entry was last asked for (egui's clock, seconds).
    head_asked: f64,
    /// The entry selected before a refresh, selected again when it is loaded.
    reselect: Option<i64>,
    pub verify: Option<(bool, String)>,
    pub export_open: bool,
    pub export_path: String,
    pub export_format: Format,
    pub export_all: bool,
    pub export_encrypt: bool,
    pub(super) pass1: SecretBuffer,
    pub(super) pass2: SecretBuffer,
    pub progress: Option<(u64, u64)>,
    pub(super) cancel: Option<Arc<AtomicBool>>,
    /// The export stopped because this file exists: the dialog asks whether to replace it.
    pub replace_ask: Option<PathBuf>,
    /// A sentence shown in the export dialog (a file kept rather than replaced).
    pub export_note: Option<String>,
    /// Set after a successful export: (entries, path, sha256).
    pub last_export: Option<(u64, PathBuf, String)>,
    /// The table's resizable column widths, remembered between runs.
    pub columns: super::prefs::ColumnWidths,
    /// The HSM user logged in in the window (recorded with the reading of the log).
    pub hsm_user: Option<String>,
}

impl Default for AuditState {
    fn default() -> Self {
        Self {
            since: String::new(),
            until: String::new(),
            action: String::new(),
            user: String::new(),
            outcome: String::new(),
            text: String::new(),
            applied: AuditFilter::default(),
            generation: 0,
            rows: Vec::new(),
            count: None,
            exhausted: false,
            queued: None,
            started: false,
            selected: None,
            banner: None,
            banner_cause: None,
            as_of: None,
            head_shown: None,
            head_now: None,
            forward: None,
            head_asked: f64::NEG_INFINITY,
            reselect: None,
            verify: None,
            export_open: false,
            export_path: String::new(),
            export_format: Format::Csv,
            export_all: false,
            export_encrypt: false,
            pass1: SecretBuffer::new(),
            pass2: SecretBuffer::new(),
            progress: None,
            cancel: None,
            replace_ask: None,
            export_note: None,
            last_export: None,
            columns: Default::default(),
            hsm_user: None,
        }
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl AuditState {
    fn filter_from_inputs(&self) -> Result<AuditFilter, String> {
        Ok(AuditFilter {
            since_ms: some(&self.since)
                .map(|s| crate::audit::parse_time(&s))
                .transpose()?,
            until_ms: some(&self.until)
                .map(|s| crate::audit::parse_time(&s))
                .transpose()?,
            action: some(&self.action),
            user: some(&self.user),
            outcome: some(&self.outcome),
            text: some(&self.text),
        })
    }

    /// Applies the filter fields: a new generation, the first page.
    fn apply(&mut self, engine: &Engine, queue: &mut Vec<Command>) {
        match self.filter_from_inputs() {
            Ok(f) => {
                self.clear_banner(BannerCause::Filter);
                self.applied = f;
                self.generation += 1;
                self.rows.clear();
                self.count = None;
                self.exhausted = false;
                self.selected = None;
                self.request(None, engine, queue);
            }
            Err(e) => self.show_banner(e, true, Some(BannerCause::Filter)),
        }
    }

    fn show_banner(&mut self, text: String, error: bool, cause: Option<BannerCause>) {
        self.banner = Some(Banner {
            text,
            error,
            reconnect: false,
        });
        self.banner_cause = cause;
    }

    /// Takes the banner down if `cause` is what it reports.
    fn clear_banner(&mut self, cause: BannerCause) {
        if self.banner.is_some() && self.banner_cause == Some(cause) {
            self.banner = None;
            self.banner_cause = None;
        }
    }

    /// A task of the Audit screen failed: its sentence, until its cause is fixed.
    pub fn on_failed(&mut self, task: Task, message: String) {
        let cause = match task {
            Task::AuditQuery => BannerCause::Query,
            Task::AuditVerify => BannerCause::Verify,
            Task::SaveDialog => BannerCause::SaveDialog,
            _ => BannerCause::Export,
        };
        self.show_banner(message, true, Some(cause));
    }

    /// The save dialog answered.
    pub fn on_save_path(&mut self, path: Option<PathBuf>) {
        self.clear_banner(BannerCause::SaveDialog);
        match path {
            Some(p) => self.export_path = p.display().to_string(),
            None => self.show_banner(
                "No file was chosen. If no dialog appeared, this desktop has no file-chooser portal: type the path into the Export file field instead.".into(),
                false,
                Some(BannerCause::SaveDialog),
            ),
        }
    }

    /// A verification ended: a failed one's banner goes when one succeeds.
    pub fn on_verified(&mut self, ok: bool, text: String) {
        if ok {
            self.clear_banner(BannerCause::Verify);
        }
        self.verify = Some((ok, text));
    }

    /// How many entries the log holds that were written after the list was read.
    pub fn newer(&self) -> i64 {
        match (self.head_shown, self.head_now) {
            (Some(shown), Some(now)) => (now - shown).max(0),
            (None, Some(now)) => now.max(0),
            _ => 0,
        }
    }

    /// While the screen is shown: asks every few seconds for the newest entry, so the screen
    /// can say how many it does not show yet.
    fn poll_head(&mut self, ui: &egui::Ui, engine: &Engine, queue: &mut Vec<Command>) {
        const EVERY: f64 = 3.0;
        let now = ui.input(|i| i.time);
        if self.as_of.is_some()
            && !engine.is_pending(Task::AuditHead)
            && !engine.is_pending(Task::AuditQuery)
            && now - self.head_asked >= EVERY
        {
            self.head_asked = now;
            queue.push(Command::Audit(AuditCommand::Head));
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(EVERY));
    }

    /// The export stopped before writing anything: `path` exists. The dialog asks.
    pub fn on_export_exists(&mut self, path: PathBuf) {
        self.progress = None;
        self.cancel = None;
        self.replace_ask = Some(path);
    }

    fn request(&mut self, before_seq: Option<i64>, engine: &Engine, queue: &mut Vec<Command>) {
        if engine.is_pending(Task::AuditQuery) {
            self.queued = Some(before_seq);
            return;
        }
        queue.push(Command::Audit(AuditCommand::Query {
            filter: self.applied.clone(),
            before_seq,
            limit: PAGE,
            generation: self.generation,
            hsm_user: self.hsm_user.clone(),
        }));
    }

    pub fn on_page(
        &mut self,
        generation: u64,
        rows: Vec<AuditRow>,
        exhausted: bool,
        count: Option<u64>,
        head: Option<i64>,
    ) {
        if generation != self.generation {
            return;
        }
        self.clear_banner(BannerCause::Query);
        if self.rows.is_empty() && count.is_none() {
            let now = utc(crate::model::now_ms());
            self.as_of = Some(now.get(11..19).unwrap_or(&now).to_owned());
            self.head_shown = head;
            self.head_now = head;
        }
        if let Some(seq) = self.reselect
            && let Some(i) = rows.iter().position(|r| r.seq == seq)
        {
            self.selected = Some(self.rows.len() + i);
            self.reselect = None;
        }
        self.rows.extend(rows);
        self.exhausted = exhausted;
        if count.is_some() {
            self.count = count;
        }
    }

    /// After the log changed (an export, a verification) or when the screen is shown again:
    /// the newest entries again, the selected one still selected once it is loaded.
    pub fn refresh(&mut self, engine: &Engine, queue: &mut Vec<Command>) {
        if self.started {
            self.reselect = self.selected.and_then(|i| self.rows.get(i)).map(|r| r.seq);
            self.generation += 1;
            self.rows.clear();
            self.count = None;
            self.exhausted = false;
            self.selected = None;
            self.request(None, engine, queue);
        }
    }

    pub fn on_exported(&mut self, ctx: &egui::Context, entries: u64, path: PathBuf, sha: String) {
        self.progress = None;
        self.cancel = None;
        self.export_open = false;
        self.export_note = None;
        self.clear_passphrases(ctx);
        self.show_banner(
            format!(
                "Exported {entries} entries to {} (manifest beside it, SHA-256 {sha}).",
                path.display()
            ),
            false,
            None,
        );
        self.last_export = Some((entries, path, sha));
    }

    pub fn on_export_failed(&mut self, ctx: &egui::Context, message: String) {
        self.progress = None;
        self.cancel = None;
        self.clear_passphrases(ctx);
        self.show_banner(message, true, Some(BannerCause::Export));
    }

    pub(super) fn clear_passphrases(&mut self, ctx: &egui::Context) {
        clear_new_passphrase(ctx, pass_ids(), &mut self.pass1, &mut self.pass2);
    }
}

fn choice(ui: &mut egui::Ui, label: &str, value: &mut String, options: &[&str]) -> bool {
    let mut changed = false;
    let l = ui.label(label);
    egui::ComboBox::from_id_salt(label)
        .selected_text(if value.is_empty() {
            "any"
        } else {
            value.as_str()
        })
        .show_ui(ui, |ui| {
            for o in options {
                let text = if o.is_empty() { "any" } else { o };
                if ui.selectable_label(value == o, text).clicked() {
                    *value = (*o).to_owned();
                    changed = true;
                }
            }
        })
        .response
        .labelled_by(l.id);
    changed
}

pub fn audit_ui(
    ui: &mut egui::Ui,
    st: &mut AuditState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    logged_in: bool,
) {
    if !st.started {
        st.started = true;
        st.apply(engine, queue);
    }
    if let Some(before) = st.queued
        && !engine.is_pending(Task::AuditQuery)
    {
        st.queued = None;
        st.request(before, engine, queue);
    }
    banner_ui(ui, &mut st.banner);
    st.poll_head(ui, engine, queue);

    let mut apply = false;
    ui.horizontal_wrapped(|ui| {
        for (label, field, hint, w) in [
            ("From", &mut st.since, "earliest · YYYY-MM-DD", 150.0),
            ("To", &mut st.until, "now · YYYY-MM-DD", 150.0),
            ("User", &mut st.user, "any OS or HSM user", 130.0),
            ("Search", &mut st.text, "target or details", 170.0),
        ] {
            let r = labelled_edit(ui, label, field, hint, w);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                apply = true;
            }
        }
        let mut actions = vec![""];
        actions.extend(crate::audit::Action::filter_choices());
        apply |= choice(ui, "Action", &mut st.action, &actions);
        apply |= choice(ui, "Outcome", &mut st.outcome, OUTCOMES);
        if ui.button("Apply").clicked() {
            apply = true;
        }
        if ui.button("Clear").clicked() {
            for f in [
                &mut st.since,
                &mut st.until,
                &mut st.action,
                &mut st.user,
                &mut st.outcome,
                &mut st.text,
            ] {
                f.clear();
            }
            apply = true;
        }
    });
    if apply {
        st.apply(engine, queue);
    }
    ui.horizontal(|ui| {
        let busy = engine.is_pending(Task::AuditVerify);
        if ui
            .add_enabled(!busy, egui::Button::new("Verify"))
            .on_hover_text("Recompute the hash chain and check the checkpoints (their HMACs too, when logged in to the HSM)")
            .clicked()
        {
            queue.push(Command::Hsm(HsmCommand::AuditVerify));
        }
        if ui
            .add_enabled(!busy && logged_in, egui::Button::new("Checkpoint"))
            .on_hover_text("Anchor the chain head with an HMAC computed inside the HSM")
            .on_disabled_hover_text("Log in to the HSM first")
            .clicked()
        {
            queue.push(Command::Hsm(HsmCommand::AuditCheckpoint));
        }
        if busy {
            ui.spinner();
        }
        if ui
            .add_enabled(!engine.is_pending(Task::AuditExport), egui::Button::new("Export…"))
            .clicked()
        {
            st.export_open = true;
        }
        ui.separator();
        match st.count {
            Some(n) => ui.label(format!("{n} entries match · {} loaded", st.rows.len())),
            None => {
                ui.spinner();
                ui.label(format!("{} loaded, counting…", st.rows.len()))
            }
        };
        let newer = st.newer();
        if let Some(t) = &st.as_of {
            if newer > 0 {
                ui.label(
                    RichText::new(format!(
                        "as of {t} UTC, {newer} newer {} in the log:",
                        if newer == 1 { "entry" } else { "entries" }
                    ))
                    .color(Color32::from_rgb(230, 180, 60)),
                );
            } else {
                ui.label(format!("as of {t} UTC"));
            }
        }
        if ui
            .add_enabled(!engine.is_pending(Task::AuditQuery), egui::Button::new("Refresh"))
            .on_hover_text("Read the newest entries again")
            .clicked()
        {
            st.refresh(engine, queue);
        }
    });
    // The line is always there, so the table does not move down when a verification ends.
    match &st.verify {
        Some((ok, text)) => {
            let color = if *ok {
                Color32::from_rgb(90, 190, 110)
            } else {
                Color32::from_rgb(235, 90, 80)
            };
            ui.label(RichText::new(text).color(color));
        }
        None => {
            ui.weak("Not verified in this window yet: Verify recomputes the hash chain.");
        }
    }
    forward_ui(ui, st);
    export_window_ui(ui.ctx(), st, engine, queue, logged_in);

    egui::Panel::right("audit_details")
        .resizable(true)
        .default_size(380.0)
        .show(ui, |ui| details_ui(ui, st));
    egui::CentralPanel::default().show(ui, |ui| {
        let more = table_ui(ui, st);
        if more && !st.exhausted && !engine.is_pending(Task::AuditQuery) && st.queued.is_none() {
            let before = st.rows.last().map(|r| r.seq);
            st.request(before, engine, queue);
        }
    });
}

/// One line: each SIEM destination and how far it has been sent the log, against the head.
fn forward_ui(ui: &mut egui::Ui, st: &AuditState) {
    let Some(dests) = &st.forward else {
        return;
    };
    let head = st.head_now.or(st.head_shown).unwrap_or(0);
    ui.horizontal_wrapped(|ui| {
        ui.label("Sent to a SIEM:");
        if dests.is_empty() {
            ui.weak("no destination yet (README: Forwarding the audit log to a SIEM).");
            return;
        }
        for d in dests {
            let behind = (head - d.seq).max(0);
            let text = if behind == 0 {
                format!("{} up to seq {} (all)", d.destination, d.seq)
            } else {
                format!(
                    "{} up to seq {} of {head} ({behind} behind)",
                    d.destination, d.seq
                )
            };
            let color = if behind == 0 {
                Color32::from_rgb(90, 190, 110)
            } else {
                Color32::from_rgb(230, 180, 60)
            };
            ui.label(RichText::new(text).color(color))
                .on_hover_text(format!(
                    "Last acknowledged {} UTC",
                    crate::audit::export::utc(d.updated_ms)
                ));
        }
    });
}

/// Draws the table; returns true when the user scrolled near the end of what is loaded.
fn table_ui(ui: &mut egui::Ui, st: &mut AuditState) -> bool {
    let mut clicked = None;
    let mut max_visible = 0usize;
    egui::ScrollArea::horizontal()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.style_mut().interaction.selectable_labels = false;
            // The columns start at the widths they were left at last time.
            let w = &st.columns;
            let defaults = [190.0, 72.0, 160.0, 90.0, 90.0, 80.0];
            let initial: [f32; 6] = std::array::from_fn(|i| w.get(i + 1, defaults[i]));
            st.columns.begin_header();
            let widths = &mut st.columns;
            TableBuilder::new(ui)
                .id_salt("audit_table")
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::exact(64.0))
                .column(Column::initial(initial[0]))
                .column(Column::initial(initial[1]))
                .column(Column::initial(initial[2]))
                .column(Column::initial(initial[3]))
                .column(Column::initial(initial[4]))
                .column(Column::initial(initial[5]))
                .column(Column::remainder().at_least(200.0).clip(true))
                .header(22.0, |mut h| {
                    for t in [
                        "Seq",
                        "Time (UTC)",
                        "Outcome",
                        "Action",
                        "OS user",
                        "HSM user",
                        "Host",
                        "Target",
                    ] {
                        h.col(|ui| {
                            widths.header_cell(ui);
                            ui.strong(t);
                        });
                    }
                })
                .body(|body| {
                    body.rows(20.0, st.rows.len(), |mut row| {
                        let i = row.index();
                        max_visible = max_visible.max(i);
                        let r = &st.rows[i];
                        row.set_selected(st.selected == Some(i));
                        row.col(|ui| {
                            ui.monospace(r.seq.to_string());
                        });
                        row.col(|ui| {
                            ui.label(utc(r.ts_ms));
                        });
                        row.col(|ui| {
                            let c = match r.outcome.as_str() {
                                "failure" => Color32::from_rgb(235, 90, 80),
                                "success" => Color32::from_rgb(90, 190, 110),
                                "cancelled" => Color32::from_rgb(230, 180, 60),
                                _ => ui.visuals().text_color(),
                            };
                            ui.label(RichText::new(&r.outcome).color(c));
                        });
                        row.col(|ui| {
                            ui.label(&r.action);
                        });
                        row.col(|ui| {
                            ui.label(&r.os_user);
                        });
                        row.col(|ui| {
                            ui.label(r.hsm_user.as_deref().unwrap_or("—"));
                        });
                        row.col(|ui| {
                            ui.label(&r.host);
                        });
                        row.col(|ui| {
                            ui.add(egui::Label::new(&r.target).truncate());
                        });
                        if row.response().clicked() {
                            clicked = Some(i);
                        }
                    });
                });
        });
    if let Some(i) = clicked {
        st.selected = Some(i);
    }
    !st.rows.is_empty() && max_visible + 40 >= st.rows.len()
}

fn details_ui(ui: &mut egui::Ui, st: &AuditState) {
    ui.heading("Entry");
    let Some(r) = st.selected.and_then(|i| st.rows.get(i)) else {
        ui.label("Select an entry to see its details and hashes.");
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("audit_entry")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (k, v) in [
                    ("Seq", r.seq.to_string()),
                    ("Time (UTC)", utc(r.ts_ms)),
                    ("Action", r.action.clone()),
                    ("Target", r.target.clone()),
                    ("Outcome", r.outcome.clone()),
                    ("OS user", r.os_user.clone()),
                    ("HSM user", r.hsm_user.clone().unwrap_or_else(|| "—".into())),
                    ("Host", r.host.clone()),
                ] {
                    ui.strong(k);
                    ui.add(egui::Label::new(v).wrap());
                    ui.end_row();
                }
            });
        ui.add_space(6.0);
        ui.strong("Details");
        let pretty = serde_json::from_str::<serde_json::Value>(&r.details)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| r.details.clone());
        ui.add(egui::Label::new(RichText::new(pretty).monospace()).wrap());
        ui.add_space(6.0);
        ui.strong("Hash");
        ui.add(egui::Label::new(RichText::new(hex::encode(r.hash)).monospace()).wrap());
        ui.strong("Previous hash");
        ui.add(egui::Label::new(RichText::new(hex::encode(r.prev_hash)).monospace()).wrap());
    });
}
