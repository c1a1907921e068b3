//! The Rotation screen: per database the current master key, its age, the last rotation, the
//! next due date and a status; the timeline; and, for the selected database, its policy and
//! "Rotate now" (with the confirmation that names it, and "suspected compromise" with a
//! reason).

use super::hsm_screen::HsmState;
use super::rotation_timeline::{GREEN, ORANGE, RED, timeline_text, timeline_ui, tone};
use super::secret_field::{clear_password, password_ui};
use super::{Banner, banner_ui};
use crate::engine::{Command, Engine, RotationOverview, StoreCommand, Task};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, PinFormat};
use crate::rotation::{
    DatabaseRotation, DueStatus, PolicyChange, RunReport, Schedule, Way, local_date, local_minute,
    local_zone,
};
use crate::secret::SecretBuffer;
use egui::RichText;
use egui_extras::{Column, TableBuilder};
use std::collections::HashSet;

/// How the policy editor's schedule is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Preset(usize),
    Interval,
    Cron,
}

pub struct RotationState {
    pub overview: Option<Box<RotationOverview>>,
    pub selected: Option<String>,
    pub banner: Option<Banner>,
    pub period: Period,
    pub every: String,
    pub cron: String,
    pub next_due: String,
    /// The policy's next due date as the editor was filled with it: saved unchanged, the
    /// policy keeps its date (or, with a new schedule, the date follows from the last key).
    next_due_filled: String,
    pub policy_way: Way,
    /// None: the policy's way (else the database's default).
    pub rotate_way: Option<Way>,
    pub tag: String,
    pub hsm_password: SecretBuffer,
    pub db_password: SecretBuffer,
    pub compromise: bool,
    pub reason: String,
    /// "Rotate … now?" is open.
    pub confirming: bool,
    pub last_run: Option<RunReport>,
    /// Way hsm: the key generated beforehand that "Rotate now" activates (None: a new one).
    pub key_choice: Option<String>,
    /// The unclaimed master keys on the token, with their tags when known (from the Keys
    /// screen).
    pub spare_keys: Vec<(String, Option<String>)>,
    /// "Open its Migration tab" was clicked for this database (the app goes there).
    pub open_migration: Option<String>,
    /// The database the editor was last filled from.
    edited: Option<String>,
}

impl Default for RotationState {
    fn default() -> Self {
        Self {
            overview: None,
            selected: None,
            banner: None,
            period: Period::Preset(0),
            every: "90d".into(),
            cron: "0 2 1 */3 *".into(),
            next_due: String::new(),
            next_due_filled: String::new(),
            policy_way: Way::Hsm,
            rotate_way: None,
            tag: String::new(),
            hsm_password: SecretBuffer::new(),
            db_password: SecretBuffer::new(),
            compromise: false,
            reason: String::new(),
            confirming: false,
            last_run: None,
            key_choice: None,
            spare_keys: Vec::new(),
            open_migration: None,
            edited: None,
        }
    }
}

pub(super) fn id(s: &str) -> egui::Id {
    egui::Id::unique(("rotation", s))
}

/// The connected token's label and the labels on it, when an inventory was read.
pub fn on_token(
    hsm: &HsmState,
    labels: Option<HashSet<String>>,
) -> Option<(String, HashSet<String>)> {
    Some((hsm.login.as_ref()?.0.label.clone(), labels?))
}

impl RotationState {
    pub fn on_overview(&mut self, o: Box<RotationOverview>) {
        if let Some(m) = &o.message {
            self.banner = Some(Banner {
                text: m.clone(),
                error: false,
                reconnect: false,
            });
        }
        if self.selected.is_none() {
            self.selected = o.rows.first().map(|r| r.database.clone());
        }
        self.overview = Some(o);
        self.edited = None;
    }

    pub fn on_rotated(&mut self, ctx: &egui::Context, r: RunReport) {
        clear_password(ctx, id("hsm_pw"), &mut self.hsm_password);
        clear_password(ctx, id("db_pw"), &mut self.db_password);
        self.banner = Some(Banner {
            text: r.message.clone(),
            error: !r.succeeded(),
            reconnect: false,
        });
        self.compromise = false;
        self.reason.clear();
        self.key_choice = None;
        self.last_run = Some(r);
    }

    pub fn on_failed(&mut self, ctx: &egui::Context, message: String) {
        clear_password(ctx, id("hsm_pw"), &mut self.hsm_password);
        clear_password(ctx, id("db_pw"), &mut self.db_password);
        self.banner = Some(Banner {
            text: message,
            error: true,
            reconnect: false,
        });
    }

    /// Fills the policy editor from the selected database's policy.
    fn fill_editor(&mut self, row: &DatabaseRotation, db: Option<&DatabaseProfile>) {
        if self.edited.as_deref() == Some(row.database.as_str()) {
            return;
        }
        self.edited = Some(row.database.clone());
        self.next_due.clear();
        self.next_due_filled.clear();
        self.rotate_way = None;
        self.key_choice = None;
        self.policy_way = db.map_or(Way::Hsm, |d| Way::default_for(d.multitenant));
        let Some(p) = &row.policy else {
            self.period = Period::Preset(0);
            return;
        };
        self.policy_way = p.way;
        self.next_due = local_minute(p.next_due_ms, &local_zone());
        self.next_due_filled = self.next_due.clone();
        let schedule = p.parsed_schedule().ok();
        let preset = Schedule::presets()
            .iter()
            .position(|(_, s)| Some(s) == schedule.as_ref());
        match (preset, schedule) {
            (Some(i), _) => self.period = Period::Preset(i),
            (None, Some(Schedule::Cron(c))) => {
                self.period = Period::Cron;
                self.cron = c;
            }
            (None, _) => {
                self.period = Period::Interval;
                self.every = p.schedule.trim_start_matches("every:").to_owned();
            }
        }
    }
}

pub fn status_text(ui: &egui::Ui, s: DueStatus) -> RichText {
    let color = match s {
        DueStatus::Ok => GREEN,
        DueStatus::DueSoon => ORANGE,
        DueStatus::Overdue | DueStatus::LastRunFailed => RED,
        DueStatus::NotOnHsm => ORANGE,
        DueStatus::NoPolicy => ui.visuals().weak_text_color(),
    };
    RichText::new(s.label()).color(tone(ui, color)).strong()
}

fn age(ms: Option<i64>, now: i64) -> String {
    match ms {
        Some(s) => {
            let days = (now - s) / 86_400_000;
            format!("{days} day{}", if days == 1 { "" } else { "s" })
        }
        None => "unknown".into(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn rotation_ui(
    ui: &mut egui::Ui,
    st: &mut RotationState,
    hsm: &HsmState,
    databases: &[DatabaseProfile],
    labels: Option<HashSet<String>>,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    banner_ui(ui, &mut st.banner);
    let loading = engine.is_pending(Task::RotationOverview);
    let running = engine.is_pending(Task::Rotation);
    ui.horizontal(|ui| {
        ui.heading("Rotation");
        if ui
            .add_enabled(!loading, egui::Button::new("Refresh"))
            .clicked()
        {
            queue.push(Command::Store(StoreCommand::RotationOverview {
                on_token: on_token(hsm, labels.clone()),
            }));
        }
        if loading || running {
            ui.spinner();
        }
    });
    ui.label("Rotating re-encrypts only the tablespace and column keys under a new master key: it takes seconds and the database stays open. Retired master keys stay on the HSM (backups and archived redo need them); tdekey never deletes one.");
    let Some(o) = st.overview.clone() else {
        ui.label("Reading the databases…");
        if !loading {
            queue.push(Command::Store(StoreCommand::RotationOverview {
                on_token: on_token(hsm, labels),
            }));
        }
        return;
    };
    // The whole page scrolls: with many databases (or a small window) the selected database's
    // policy and "Rotate now" stay reachable below the table and the timeline.
    egui::ScrollArea::vertical()
        .id_salt("rotation_page")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            page_ui(
                ui,
                st,
                &o,
                hsm,
                databases,
                labels,
                (loading, running),
                queue,
            )
        });
}

#[expect(clippy::too_many_arguments)]
fn page_ui(
    ui: &mut egui::Ui,
    st: &mut RotationState,
    o: &RotationOverview,
    hsm: &HsmState,
    databases: &[DatabaseProfile],
    labels: Option<HashSet<String>>,
    (loading, running): (bool, bool),
    queue: &mut Vec<Command>,
) {
    ui.add_space(4.0);
    table_ui(ui, st, o);
    ui.add_space(8.0);
    ui.label(RichText::new("Timeline").strong());
    timeline_ui(ui, &o.timeline, o.now_ms, &mut st.selected);
    egui::CollapsingHeader::new("The timeline as text")
        .id_salt("rotation_timeline_text")
        .show(ui, |ui| {
            for line in timeline_text(&o.timeline, o.now_ms) {
                ui.label(line);
            }
        });
    ui.separator();
    let Some(row) = st
        .selected
        .as_ref()
        .and_then(|s| o.rows.iter().find(|r| &r.database == s))
        .cloned()
    else {
        return;
    };
    let db = databases.iter().find(|d| d.name == row.database).cloned();
    st.fill_editor(&row, db.as_ref());
    if let Some(why) = &row.not_on_hsm {
        super::rotation_dialogs::not_on_hsm_ui(ui, st, &row.database, why);
    }
    ui.columns(2, |cols| {
        let top_down = egui::Layout::top_down(egui::Align::Min);
        cols[0].with_layout(top_down, |ui| {
            policy_ui(ui, st, &row, hsm, labels.clone(), loading, queue)
        });
        cols[1].with_layout(top_down, |ui| {
            rotate_ui(ui, st, &row, db.as_ref(), hsm, running, queue)
        });
    });
}

fn table_ui(ui: &mut egui::Ui, st: &mut RotationState, o: &RotationOverview) {
    let tz = local_zone();
    let mut clicked = None;
    ui.push_id("rotation_table", |ui| {
        ui.style_mut().interaction.selectable_labels = false;
        TableBuilder::new(ui)
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .max_scroll_height(200.0)
            .column(Column::initial(150.0).clip(true))
            .column(Column::initial(330.0).clip(true))
            .column(Column::initial(80.0))
            .column(Column::initial(150.0).clip(true))
            .column(Column::initial(130.0))
            .column(Column::remainder())
            .header(22.0, |mut h| {
                for t in [
                    "Database",
                    "Current master key",
                    "Key age",
                    "Last rotation",
                    "Next due",
                    "Status",
                ] {
                    h.col(|ui| {
                        ui.label(RichText::new(t).strong());
                    });
                }
            })
            .body(|body| {
                body.rows(22.0, o.rows.len(), |mut row| {
                    let r = &o.rows[row.index()];
                    row.set_selected(st.selected.as_deref() == Some(r.database.as_str()));
                    row.col(|ui| {
                        ui.label(&r.database);
                    });
                    row.col(|ui| {
                        let text = match r.current_keys.as_slice() {
                            [] if r.not_on_hsm.is_some() => "none on the HSM (rolled back)".into(),
                            [] => "not known yet".to_owned(),
                            [(_, l)] => l.clone(),
                            many => format!("{} (+{} containers)", many[0].1, many.len() - 1),
                        };
                        let t = RichText::new(text).monospace();
                        let t = if r.missing_keys.is_empty() {
                            t
                        } else {
                            t.color(tone(ui, RED))
                        };
                        let resp = ui.add(egui::Label::new(t).truncate());
                        if !r.missing_keys.is_empty() {
                            resp.on_hover_text(format!(
                                "Not on the connected token: {}",
                                r.missing_keys.join(", ")
                            ));
                        }
                    });
                    row.col(|ui| {
                        ui.label(age(r.key_since_ms, o.now_ms));
                    });
                    row.col(|ui| {
                        ui.label(match &r.last_run {
                            Some(run) => format!(
                                "{} {}",
                                local_date(run.started_ms, &tz),
                                if run.outcome == "success" {
                                    "verified"
                                } else {
                                    "failed"
                                }
                            ),
                            None => "never".into(),
                        });
                    });
                    row.col(|ui| {
                        if r.not_on_hsm.is_some() {
                            ui.weak("on hold").on_hover_text(
                                "The policy's date waits until the database is on the HSM again",
                            );
                        } else {
                            ui.label(r.next_due_ms.map_or("—".into(), |d| local_date(d, &tz)));
                        }
                    });
                    row.col(|ui| {
                        if r.missing_keys.is_empty() {
                            ui.label(status_text(ui, r.status));
                        } else {
                            ui.label(
                                RichText::new("Active key missing from the token")
                                    .color(tone(ui, RED))
                                    .strong(),
                            );
                        }
                    });
                    if row.response().clicked() {
                        clicked = Some(r.database.clone());
                    }
                });
            });
    });
    if let Some(c) = clicked {
        st.selected = Some(c);
    }
}

fn policy_ui(
    ui: &mut egui::Ui,
    st: &mut RotationState,
    row: &DatabaseRotation,
    hsm: &HsmState,
    labels: Option<HashSet<String>>,
    busy: bool,
    queue: &mut Vec<Command>,
) {
    let tz = local_zone();
    ui.label(RichText::new(format!("Policy of {}", row.database)).strong());
    match &row.policy {
        Some(p) => ui.label(format!(
            "Now: {}, {}; next due {}.",
            p.describe,
            p.way.describe(),
            local_minute(p.next_due_ms, &tz)
        )),
        None => ui.label("No policy: nothing reminds anyone to rotate this key."),
    };
    let presets = Schedule::presets();
    ui.horizontal_wrapped(|ui| {
        ui.label("Every");
        for (i, (name, _)) in presets.iter().enumerate() {
            ui.radio_value(&mut st.period, Period::Preset(i), *name);
        }
        ui.radio_value(&mut st.period, Period::Interval, "Other interval");
        ui.radio_value(&mut st.period, Period::Cron, "Cron");
    });
    match st.period {
        Period::Interval => {
            ui.horizontal(|ui| {
                super::labelled_edit(ui, "Interval", &mut st.every, "90d, 6m, 1y", 120.0);
            });
        }
        Period::Cron => {
            ui.horizontal(|ui| {
                super::labelled_edit(ui, "Cron expression", &mut st.cron, "0 2 1 */3 *", 160.0);
            });
            ui.small("Minute hour day-of-month month day-of-week, local time.");
        }
        Period::Preset(_) => {}
    }
    ui.horizontal(|ui| {
        super::labelled_edit(
            ui,
            "Next due date",
            &mut st.next_due,
            "YYYY-MM-DD (optional)",
            150.0,
        );
        ui.small(if row.policy.is_some() {
            "the policy's date; change it to line up with a maintenance window"
        } else {
            "empty: one period after the current key was made"
        });
    });
    ui.horizontal(|ui| {
        ui.label("Way");
        ui.radio_value(
            &mut st.policy_way,
            Way::Hsm,
            "hsm: tdekey generates, USE KEY",
        );
        ui.radio_value(&mut st.policy_way, Way::Oracle, "oracle: SET KEY");
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                !busy && row.not_on_hsm.is_none(),
                egui::Button::new("Save policy"),
            )
            .on_disabled_hover_text("Its master key is not on the HSM: migrate it first")
            .clicked()
        {
            let schedule = match st.period {
                Period::Preset(i) => Ok(presets[i].1.clone()),
                Period::Interval => Schedule::parse_every(&st.every),
                Period::Cron => Schedule::parse_cron(&st.cron),
            };
            let untouched =
                !st.next_due_filled.is_empty() && st.next_due.trim() == st.next_due_filled;
            let next_due = if st.next_due.trim().is_empty() || untouched {
                Ok(None)
            } else {
                crate::rotation::parse_due_date(&st.next_due, &tz).map(Some)
            };
            match (schedule, next_due) {
                (Ok(schedule), Ok(next_due_ms)) => {
                    queue.push(Command::Store(StoreCommand::SetPolicy {
                        change: PolicyChange {
                            database: row.database.clone(),
                            schedule,
                            way: Some(st.policy_way),
                            next_due_ms,
                        },
                        on_token: on_token(hsm, labels.clone()),
                    }));
                }
                (Err(e), _) | (_, Err(e)) => {
                    st.banner = Some(Banner {
                        text: e.to_string(),
                        error: true,
                        reconnect: false,
                    })
                }
            }
        }
        if row.policy.is_some()
            && ui
                .add_enabled(!busy, egui::Button::new("Remove policy"))
                .clicked()
        {
            queue.push(Command::Store(StoreCommand::RemovePolicy {
                database: row.database.clone(),
                on_token: on_token(hsm, labels),
            }));
        }
    });
    if let Some(run) = &row.last_run {
        ui.add_space(6.0);
        ui.label(RichText::new(format!("Last run (#{})", run.id)).strong());
        ui.label(format!(
            "{} · {} · {} · by {}",
            local_minute(run.started_ms, &tz),
            run.outcome,
            run.way,
            run.who
        ));
        if run.trigger == "compromise" {
            ui.label(
                RichText::new(format!(
                    "Suspected compromise: {}",
                    run.reason.as_deref().unwrap_or("")
                ))
                .color(tone(ui, ORANGE)),
            );
        }
        if let Some(s) = &run.failed_step {
            ui.label(RichText::new(format!("Failed at {s}.")).color(tone(ui, RED)));
        }
        if let Some(s) = &run.state_left {
            ui.label(s);
        }
        if let Some(k) = &run.pending_key {
            ui.label(
                RichText::new(format!("Generated and not activated: {k}")).color(tone(ui, ORANGE)),
            );
        }
    }
}

fn rotate_ui(
    ui: &mut egui::Ui,
    st: &mut RotationState,
    row: &DatabaseRotation,
    db: Option<&DatabaseProfile>,
    hsm: &HsmState,
    running: bool,
    queue: &mut Vec<Command>,
) {
    ui.label(RichText::new(format!("Rotate {} now", row.database)).strong());
    let Some(db) = db else {
        ui.label("This database profile is gone.");
        return;
    };
    let default_way = row
        .policy
        .as_ref()
        .map_or_else(|| Way::default_for(db.multitenant), |p| p.way);
    ui.horizontal(|ui| {
        ui.label("Way");
        ui.radio_value(
            &mut st.rotate_way,
            None,
            format!("the policy's ({})", default_way.as_str()),
        );
        ui.radio_value(&mut st.rotate_way, Some(Way::Hsm), "hsm");
        ui.radio_value(&mut st.rotate_way, Some(Way::Oracle), "oracle");
    });
    let way = st.rotate_way.unwrap_or(default_way);
    ui.small(way.describe());
    if way == Way::Hsm {
        super::rotation_dialogs::key_choice_ui(ui, st, &row.database);
    }
    ui.horizontal(|ui| {
        super::labelled_edit(ui, "Tag", &mut st.tag, "optional, e.g. q4-2026", 160.0);
    });
    let logged_in = hsm.login.is_some();
    egui::Grid::new("rotation_inputs")
        .num_columns(2)
        .show(ui, |ui| {
            let l = ui.label("HSM password (for IDENTIFIED BY)");
            password_ui(ui, l.id, id("hsm_pw"), &mut st.hsm_password);
            ui.end_row();
            if let Some(p) = db
                .hsm_profile
                .as_ref()
                .and_then(|n| hsm.profiles.iter().find(|p| &p.name == n))
            {
                ui.label("");
                ui.small(super::secret_field::hsm_password_hint(
                    p.pin_format,
                    &p.user_name,
                ));
                ui.end_row();
            }
            if let (ConnectorKind::Sqlplus, DbAuth::User(u)) = (&db.connector, &db.auth) {
                let l = ui.label(format!("Password of database user {u}"));
                password_ui(ui, l.id, id("db_pw"), &mut st.db_password);
                ui.end_row();
            }
        });
    if let Some((token, _)) = &hsm.login
        && token.label == crate::hsm::demo::DEMO_TOKEN_LABEL
        && ui
            .horizontal(|ui| ui.small_button("Use the demo PIN").clicked())
            .inner
    {
        st.hsm_password.clear();
        st.hsm_password.insert(crate::hsm::demo::DEMO_USER_PIN, 0);
    }
    ui.checkbox(&mut st.compromise, "Rotate now: suspected compromise");
    if st.compromise {
        let l = ui.label("Why (recorded with the run and in the audit log)");
        ui.add(
            egui::TextEdit::multiline(&mut st.reason)
                .desired_rows(2)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(l.id);
    }
    let refusal = way.refusal(&db.name, db.multitenant);
    if let Some(r) = &refusal {
        ui.label(RichText::new(r).color(tone(ui, RED)));
    }
    let ready = logged_in
        && !running
        && row.not_on_hsm.is_none()
        && refusal.is_none()
        && !st.hsm_password.is_empty()
        && (!st.compromise || st.reason.trim().len() >= 10);
    let hint = if row.not_on_hsm.is_some() {
        "Its master key is not on the HSM: migrate it first"
    } else if !logged_in {
        "Log in as Oracle's crypto user on the HSM screen first"
    } else if st.hsm_password.is_empty() {
        "Type the HSM password: the statement needs it"
    } else {
        "Write why (at least a sentence)"
    };
    if ui
        .horizontal(|ui| {
            ui.add_enabled(ready, egui::Button::new("Rotate now…"))
                .on_disabled_hover_text(hint)
                .clicked()
        })
        .inner
    {
        st.confirming = true;
    }
    if running {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Rotating…");
        });
    }
    if st.confirming {
        let pin_format = db
            .hsm_profile
            .as_ref()
            .and_then(|n| hsm.profiles.iter().find(|p| &p.name == n))
            .map_or(PinFormat::Plain, |p| p.pin_format);
        super::rotation_dialogs::confirm_ui(ui, st, db, way, pin_format, queue);
    }
    if let Some(r) = st.last_run.as_ref().filter(|r| r.database == row.database) {
        ui.add_space(6.0);
        super::rotation_dialogs::run_report_ui(ui, r);
    }
}
