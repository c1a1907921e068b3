//! The Audit screen: the log, newest first, with filters run off the UI thread (the first page
//! shows at once; more pages load as you scroll), a details pane, verification, checkpoints and
//! exports.

use super::secret_field::{clear_password, password_ui};
use super::{Banner, banner_ui, labelled_edit};
use crate::audit::export::{Format, MIN_PASSPHRASE_CHARS, utc};
use crate::engine::{AuditCommand, Command, Engine, HsmCommand, Task};
use crate::secret::SecretBuffer;
use crate::store::{AuditFilter, AuditRow};
use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const PAGE: usize = 200;
const OUTCOMES: &[&str] = &["", "started", "success", "failure", "cancelled"];

pub struct AuditState {
    pub since: String,
    pub until: String,
    pub action: String,
    pub user: String,
    pub outcome: String,
    pub text: String,
    applied: AuditFilter,
    generation: u64,
    pub rows: Vec<AuditRow>,
    pub count: Option<u64>,
    exhausted: bool,
    /// A query to send when the running one ends.
    queued: Option<Option<i64>>,
    started: bool,
    pub selected: Option<usize>,
    pub banner: Option<Banner>,
    pub verify: Option<(bool, String)>,
    pub export_open: bool,
    pub export_path: String,
    pub export_format: Format,
    pub export_all: bool,
    pub export_encrypt: bool,
    pass1: SecretBuffer,
    pass2: SecretBuffer,
    pub progress: Option<(u64, u64)>,
    cancel: Option<Arc<AtomicBool>>,
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
                self.applied = f;
                self.generation += 1;
                self.rows.clear();
                self.count = None;
                self.exhausted = false;
                self.selected = None;
                self.request(None, engine, queue);
            }
            Err(e) => {
                self.banner = Some(Banner {
                    text: e,
                    error: true,
                    reconnect: false,
                })
            }
        }
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
    ) {
        if generation != self.generation {
            return;
        }
        self.rows.extend(rows);
        self.exhausted = exhausted;
        if count.is_some() {
            self.count = count;
        }
    }

    /// After the log changed (an export, a verification): show the newest entries again.
    pub fn refresh(&mut self, engine: &Engine, queue: &mut Vec<Command>) {
        if self.started {
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
        self.clear_passphrases(ctx);
        self.banner = Some(Banner {
            text: format!(
                "Exported {entries} entries to {} (manifest beside it, SHA-256 {sha}).",
                path.display()
            ),
            error: false,
            reconnect: false,
        });
        self.last_export = Some((entries, path, sha));
    }

    pub fn on_export_failed(&mut self, ctx: &egui::Context, message: String) {
        self.progress = None;
        self.cancel = None;
        self.clear_passphrases(ctx);
        self.banner = Some(Banner {
            text: message,
            error: true,
            reconnect: false,
        });
    }

    fn clear_passphrases(&mut self, ctx: &egui::Context) {
        clear_password(ctx, egui::Id::unique("export_pass1"), &mut self.pass1);
        clear_password(ctx, egui::Id::unique("export_pass2"), &mut self.pass2);
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

    let mut apply = false;
    ui.horizontal_wrapped(|ui| {
        for (label, field, hint, w) in [
            ("From", &mut st.since, "2026-11-01", 150.0),
            ("To", &mut st.until, "2026-12-01", 150.0),
            ("User", &mut st.user, "OS or HSM user", 110.0),
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
    });
    if let Some((ok, text)) = &st.verify {
        let color = if *ok {
            Color32::from_rgb(90, 190, 110)
        } else {
            Color32::from_rgb(235, 90, 80)
        };
        ui.label(RichText::new(text).color(color));
    }
    export_window_ui(ui, st, engine, queue, logged_in);

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

fn export_window_ui(
    ui: &mut egui::Ui,
    st: &mut AuditState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    logged_in: bool,
) {
    if !st.export_open {
        return;
    }
    let mut open = true;
    let running = engine.is_pending(Task::AuditExport);
    egui::Window::new("Export the audit log")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(520.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ui.ctx(), |ui| {
            ui.add_enabled_ui(!running, |ui| {
                ui.horizontal(|ui| {
                    ui.label("Format");
                    ui.radio_value(&mut st.export_format, Format::Csv, "CSV (RFC 4180)");
                    ui.radio_value(&mut st.export_format, Format::Jsonl, "JSON Lines");
                });
                ui.horizontal(|ui| {
                    ui.label("Entries");
                    let n = st.count.map(|n| n.to_string()).unwrap_or_else(|| "…".into());
                    ui.radio_value(&mut st.export_all, false, format!("the current filter ({n})"));
                    ui.radio_value(&mut st.export_all, true, "the whole log");
                });
                ui.horizontal(|ui| {
                    labelled_edit(ui, "Export file", &mut st.export_path, "/path/to/audit.csv", 300.0);
                    if ui
                        .add_enabled(!engine.is_pending(Task::SaveDialog), egui::Button::new("Browse…"))
                        .clicked()
                    {
                        let ext = match st.export_format {
                            Format::Csv => "csv",
                            Format::Jsonl => "jsonl",
                        };
                        queue.push(Command::PickSavePath {
                            suggested: format!("tdekey-audit.{ext}"),
                        });
                    }
                });
                ui.checkbox(&mut st.export_encrypt, "Encrypt for transport (Argon2id + AES-256-GCM)");
                if st.export_encrypt {
                    egui::Grid::new("export_pass").num_columns(2).show(ui, |ui| {
                        let l = ui.label("Passphrase");
                        password_ui(ui, l.id, egui::Id::unique("export_pass1"), &mut st.pass1);
                        ui.end_row();
                        let l = ui.label("Repeat passphrase");
                        password_ui(ui, l.id, egui::Id::unique("export_pass2"), &mut st.pass2);
                        ui.end_row();
                    });
                    ui.small(format!(
                        "At least {MIN_PASSPHRASE_CHARS} characters. tdekey cannot recover an export whose passphrase is lost. Decrypt with: tdekey audit decrypt --in FILE --out FILE"
                    ));
                }
            });
            let pass_ok = !st.export_encrypt
                || (st.pass1.as_str().chars().count() >= MIN_PASSPHRASE_CHARS
                    && st.pass1.as_str() == st.pass2.as_str());
            if st.export_encrypt && !st.pass1.is_empty() && st.pass1.as_str() != st.pass2.as_str() {
                ui.colored_label(Color32::from_rgb(235, 90, 80), "The two passphrases differ.");
            }
            if !logged_in {
                ui.small("Not logged in to the HSM: no checkpoint will be written after the export.");
            }
            ui.horizontal(|ui| {
                let can = !running && !st.export_path.trim().is_empty() && pass_ok;
                if ui.add_enabled(can, egui::Button::new("Export")).clicked() {
                    let cancel = Arc::new(AtomicBool::new(false));
                    st.cancel = Some(cancel.clone());
                    st.progress = Some((0, st.count.unwrap_or(0)));
                    queue.push(Command::Audit(AuditCommand::Export {
                        filter: if st.export_all { AuditFilter::default() } else { st.applied.clone() },
                        format: st.export_format,
                        path: PathBuf::from(st.export_path.trim()),
                        passphrase: st.export_encrypt.then(|| st.pass1.to_secret()),
                        cancel,
                    }));
                }
                if running {
                    if ui.button("Cancel").clicked()
                        && let Some(c) = &st.cancel
                    {
                        c.store(true, Ordering::Relaxed);
                    }
                    ui.spinner();
                }
            });
            if let Some((done, total)) = st.progress.filter(|_| running) {
                let f = if total == 0 { 0.0 } else { done as f32 / total as f32 };
                ui.add(egui::ProgressBar::new(f.min(1.0)).text(format!("{done} of {total} entries")));
            }
        });
    if !open && !running {
        st.export_open = false;
        st.clear_passphrases(ui.ctx());
    }
}
