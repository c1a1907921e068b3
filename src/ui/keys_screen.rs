//! The Keys screen: every key and data object on the token, sortable and filterable, with a
//! details pane. Only the visible rows are laid out, so 5,000 objects scroll at full speed.

use super::hsm_screen::HsmState;
use super::{Banner, Screen, banner_ui};
use crate::engine::{Command, Engine, HsmCommand, Task};
use crate::inventory::{self, InventoryRow, Severity, SortColumn, Summary};
use crate::model::bool_text;
use crate::rotation::{GeneratedKey, KeyClaim, KeyRequest};
use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::collections::HashMap;
use std::sync::Arc;

pub struct KeysState {
    pub rows: Arc<Vec<InventoryRow>>,
    summary: Summary,
    /// Indices into `rows` in display order.
    view: Vec<usize>,
    pub filter: String,
    sort: SortColumn,
    ascending: bool,
    dirty: bool,
    /// Index into `rows` of the selected object.
    pub selected: Option<usize>,
    pub progress: Option<(usize, usize)>,
    pub banner: Option<Banner>,
    pub loaded: bool,
    /// Which database claims each master key (from migrations, rotations, V$ENCRYPTION_KEYS).
    pub claims: HashMap<String, KeyClaim>,
    /// The last key generated from this screen.
    pub generated: Option<GeneratedKey>,
    /// "Generate a master key" is open, with its fields.
    pub generating: bool,
    pub gen_tag: String,
    pub gen_oracle_user: String,
    /// The table's resizable column widths, remembered between runs.
    pub columns: super::prefs::ColumnWidths,
}

impl Default for KeysState {
    fn default() -> Self {
        Self {
            rows: Arc::new(Vec::new()),
            summary: Summary::default(),
            view: Vec::new(),
            filter: String::new(),
            sort: SortColumn::Health,
            ascending: true,
            dirty: false,
            selected: None,
            progress: None,
            banner: None,
            loaded: false,
            claims: HashMap::new(),
            generated: None,
            generating: false,
            gen_tag: String::new(),
            gen_oracle_user: String::new(),
            columns: Default::default(),
        }
    }
}

impl KeysState {
    pub fn clear(&mut self) {
        let filter = std::mem::take(&mut self.filter);
        let claims = std::mem::take(&mut self.claims);
        let columns = std::mem::take(&mut self.columns);
        *self = Self {
            filter,
            claims,
            columns,
            ..Self::default()
        };
    }

    pub fn on_generated(&mut self, key: GeneratedKey) {
        self.banner = Some(Banner {
            text: format!(
                "Generated {} on {}: read back, no health finding. Its USE KEY statement is in the details pane.",
                key.label, key.token
            ),
            error: false,
            reconnect: false,
        });
        self.generated = Some(key);
        self.selected = None;
    }

    /// Who claims a row's key, for the Database column.
    fn claim_text(&self, r: &InventoryRow) -> (String, bool) {
        let key = match (r.kind, &r.master_key_id) {
            ("tde-master-key", _) => r.object.label.clone(),
            // Oracle's metadata object of a master key belongs where the key does.
            ("oracle-key-metadata", Some(id)) => {
                let label = format!("{}{id}", crate::tde::labels::MASTER_KEY_PREFIX);
                return match self.claims.get(&label) {
                    Some(c) if c.current => (format!("{} (metadata)", c.database), false),
                    Some(c) => (format!("{} (metadata, retired)", c.database), false),
                    None => (String::new(), false),
                };
            }
            _ => return (String::new(), false),
        };
        match self.claims.get(&key) {
            Some(c) if c.current => (c.database.clone(), false),
            Some(c) => (format!("{} (retired)", c.database), false),
            None => ("unclaimed".to_owned(), true),
        }
    }

    /// Which database claims each master key, as read with the rotation overview; the filter
    /// matches the database names, so the view is worked out again.
    pub fn set_claims(&mut self, claims: HashMap<String, KeyClaim>) {
        self.claims = claims;
        self.dirty = true;
    }

    /// Whether the inventory lists an object with this label.
    pub fn rows_contain(&self, label: &str) -> bool {
        self.rows.iter().any(|r| r.object.label == label)
    }

    pub fn set_rows(&mut self, rows: Arc<Vec<InventoryRow>>) {
        self.summary = inventory::summarize(&rows);
        self.rows = rows;
        self.selected = None;
        self.progress = None;
        self.dirty = true;
        self.loaded = true;
    }

    fn refresh_view(&mut self) {
        if self.dirty {
            // The filter matches what the table shows: the Database column too.
            let shown = |r: &InventoryRow| self.claim_text(r).0;
            let view =
                inventory::view_with(&self.rows, &self.filter, &shown, self.sort, self.ascending);
            self.view = view;
            self.dirty = false;
            // A selection the filter hides is dropped, so the details pane matches the table.
            if self.selected.is_some_and(|i| !self.view.contains(&i)) {
                self.selected = None;
            }
        }
    }

    /// Whether the table shows the row at index `i` of `rows` (after the filter).
    pub fn filter_shows(&self, i: usize) -> bool {
        self.view.contains(&i)
    }

    /// Number of rows the table shows (after the filter).
    pub fn visible_rows(&self) -> usize {
        self.view.len()
    }
}

/// Flag columns, the ones the health check weighs most first.
const FLAG_COLUMNS: &[(&str, &str)] = &[
    ("EXT", "CKA_EXTRACTABLE"),
    ("SEN", "CKA_SENSITIVE"),
    ("NEXT", "CKA_NEVER_EXTRACTABLE"),
    ("ASEN", "CKA_ALWAYS_SENSITIVE"),
    ("ENC", "CKA_ENCRYPT"),
    ("DEC", "CKA_DECRYPT"),
    ("WRP", "CKA_WRAP"),
    ("UNW", "CKA_UNWRAP"),
    ("TOK", "CKA_TOKEN"),
    ("PRV", "CKA_PRIVATE"),
    ("LOC", "CKA_LOCAL"),
];

fn flag_value(r: &InventoryRow, name: &str) -> Option<bool> {
    r.object
        .flags
        .named()
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| *v)
}

fn severity_text(s: Option<Severity>) -> RichText {
    match s {
        Some(Severity::Critical) => RichText::new("CRITICAL")
            .color(Color32::from_rgb(235, 90, 80))
            .strong(),
        Some(Severity::Warning) => RichText::new("warning").color(Color32::from_rgb(230, 180, 60)),
        None => RichText::new("ok").color(Color32::from_rgb(90, 190, 110)),
    }
}

pub fn keys_ui(
    ui: &mut egui::Ui,
    st: &mut KeysState,
    hsm: &HsmState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    (screen, reports): (&mut Screen, &HashMap<String, crate::engine::Checked>),
) {
    if banner_ui(ui, &mut st.banner)
        && let Some(m) = hsm.connected_module.clone()
    {
        queue.push(Command::Hsm(HsmCommand::Connect { module: m }));
        *screen = Screen::Hsm;
    }
    let logged_in = hsm.login.is_some();
    let busy = engine.is_pending(Task::Inventory);
    ui.horizontal(|ui| {
        let l = ui.label("Filter");
        let r = ui
            .add(
                egui::TextEdit::singleline(&mut st.filter)
                    .hint_text("label, key id, database, unclaimed, retired, ok, warning…")
                    .desired_width(330.0),
            )
            .labelled_by(l.id);
        if r.changed() {
            st.dirty = true;
        }
        st.refresh_view();
        if ui
            .add_enabled(logged_in && !busy, egui::Button::new("Refresh"))
            .on_disabled_hover_text("Log in on the HSM screen first")
            .clicked()
        {
            queue.push(Command::Hsm(HsmCommand::Inventory));
        }
        let generating = engine.is_pending(Task::Rotation);
        if ui
            .add_enabled(
                logged_in && !generating,
                egui::Button::new("Generate master key…"),
            )
            .on_hover_text("A new AES-256 TDE master key on this token, for USE KEY")
            .on_disabled_hover_text("Log in on the HSM screen first")
            .clicked()
        {
            st.generating = true;
            if st.gen_oracle_user.is_empty() {
                st.gen_oracle_user = hsm.login.as_ref().map(|l| l.1.clone()).unwrap_or_default();
            }
        }
        if busy || generating {
            ui.spinner();
        }
        if st.loaded {
            let s = &st.summary;
            ui.label(format!(
                "{} objects · {} TDE master keys · {} critical · {} warnings · {} shown",
                s.objects,
                s.master_keys,
                s.critical,
                s.warnings,
                st.view.len()
            ));
        }
    });
    if let Some((done, total)) = st.progress {
        let f = if total == 0 {
            1.0
        } else {
            done as f32 / total as f32
        };
        ui.add(egui::ProgressBar::new(f).text(format!("Reading objects: {done} of {total}")));
    }
    if !logged_in && !st.loaded {
        ui.add_space(20.0);
        ui.label("Log in as the crypto user on the HSM screen to list the token's keys.");
        if ui.button("Go to the HSM screen").clicked() {
            *screen = Screen::Hsm;
        }
        return;
    }

    if st.generating {
        generate_ui(ui, st, hsm, queue);
    }
    // A database's active key that is not on this token: said in red, above everything.
    if st.loaded
        && let Some((token, _)) = &hsm.login
    {
        let mut missing: Vec<(&String, &KeyClaim)> = st
            .claims
            .iter()
            .filter(|(l, c)| c.current && c.token_label == token.label && !st.rows_contain(l))
            .collect();
        missing.sort();
        for (label, c) in missing {
            ui.label(
                RichText::new(format!(
                    "The active master key of {} is not on this token: {label}",
                    c.database
                ))
                .color(Color32::from_rgb(235, 90, 80))
                .strong(),
            );
        }
    }
    egui::Panel::right("key_details")
        .resizable(true)
        // Wide enough for a master key's label and its USE KEY id on one line each.
        .default_size(470.0)
        .min_size(470.0)
        .show(ui, |ui| details_ui(ui, st, reports));

    egui::CentralPanel::default().show(ui, |ui| table_ui(ui, st));
}

fn table_ui(ui: &mut egui::Ui, st: &mut KeysState) {
    let row_h = 20.0;
    let mut clicked: Option<usize> = None;
    let mut sort_by: Option<SortColumn> = None;
    // Filling the panel keeps the horizontal scroll bar at the panel's bottom edge, not floating
    // over the last row (where it would take that row's clicks).
    egui::ScrollArea::horizontal()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            // Selectable text would take the click that selects the row.
            ui.style_mut().interaction.selectable_labels = false;
            let mut table = TableBuilder::new(ui)
                .id_salt("keys_table")
                .striped(true)
                .resizable(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(Column::exact(72.0));
            // The resizable columns start at the widths they were left at last time.
            let w = &st.columns;
            table = table
                .column(Column::initial(w.get(1, 300.0)).clip(true))
                .column(Column::initial(w.get(2, 170.0)).clip(true))
                .column(Column::initial(w.get(3, 170.0)).clip(true))
                .column(Column::initial(w.get(4, 90.0)))
                .column(Column::initial(w.get(5, 50.0)))
                .column(Column::exact(44.0));
            for _ in FLAG_COLUMNS {
                table = table.column(Column::exact(38.0));
            }
            let id_column = 7 + FLAG_COLUMNS.len();
            table = table.column(Column::initial(w.get(id_column, 90.0)).clip(true));
            st.columns.begin_header();
            let widths = &mut st.columns;
            let sort = st.sort;
            let asc = st.ascending;
            table
                .header(row_h + 4.0, |mut h| {
                    for (col, title) in [
                        (SortColumn::Health, "Health"),
                        (SortColumn::Label, "Label"),
                        (SortColumn::Kind, "Meaning"),
                    ] {
                        h.col(|ui| {
                            widths.header_cell(ui);
                            let arrow = if sort == col {
                                if asc { " ^" } else { " v" }
                            } else {
                                ""
                            };
                            if ui
                                .selectable_label(
                                    sort == col,
                                    RichText::new(format!("{title}{arrow}")).strong(),
                                )
                                .on_hover_text(format!("Sort by {title}"))
                                .clicked()
                            {
                                sort_by = Some(col);
                            }
                        });
                    }
                    h.col(|ui| {
                            widths.header_cell(ui);
                        ui.label(RichText::new("Database").strong()).on_hover_text(
                            "The database whose master key it is (from migrations, rotations and V$ENCRYPTION_KEYS)",
                        );
                    });
                    for (col, title) in [
                        (SortColumn::Class, "Class"),
                        (SortColumn::KeyType, "Type"),
                        (SortColumn::Length, "Bits"),
                    ] {
                        h.col(|ui| {
                            widths.header_cell(ui);
                            let arrow = if sort == col {
                                if asc { " ^" } else { " v" }
                            } else {
                                ""
                            };
                            if ui
                                .selectable_label(
                                    sort == col,
                                    RichText::new(format!("{title}{arrow}")).strong(),
                                )
                                .on_hover_text(format!("Sort by {title}"))
                                .clicked()
                            {
                                sort_by = Some(col);
                            }
                        });
                    }
                    for (short, full) in FLAG_COLUMNS {
                        h.col(|ui| {
                            widths.header_cell(ui);
                            ui.label(RichText::new(*short).strong())
                                .on_hover_text(*full);
                        });
                    }
                    h.col(|ui| {
                            widths.header_cell(ui);
                        let arrow = if sort == SortColumn::Id {
                            if asc { " ^" } else { " v" }
                        } else {
                            ""
                        };
                        if ui
                            .selectable_label(
                                sort == SortColumn::Id,
                                RichText::new(format!("CKA_ID{arrow}")).strong(),
                            )
                            .on_hover_text("Sort by CKA_ID")
                            .clicked()
                        {
                            sort_by = Some(SortColumn::Id);
                        }
                    });
                })
                .body(|body| {
                    body.rows(row_h, st.view.len(), |mut row| {
                        let i = st.view[row.index()];
                        let r = &st.rows[i];
                        row.set_selected(st.selected == Some(i));
                        row.col(|ui| {
                            ui.label(severity_text(r.worst()));
                        });
                        row.col(|ui| {
                            let label = match &r.object.unreadable {
                                Some(_) => format!("(unreadable: handle {})", r.object.handle),
                                None => r.object.label.clone(),
                            };
                            ui.add(
                                egui::Label::new(RichText::new(label).monospace()).truncate(),
                            );
                        });
                        row.col(|ui| {
                            ui.add(egui::Label::new(&r.meaning).truncate());
                        });
                        row.col(|ui| {
                            let (text, unclaimed) = st.claim_text(r);
                            let retired = text.ends_with("(retired)");
                            if unclaimed {
                                ui.weak(text);
                            } else if retired {
                                // "(retired)" is what matters: a long name is cut, never it.
                                let name = text.trim_end_matches(" (retired)").to_owned();
                                ui.with_layout(
                                    egui::Layout::right_to_left(egui::Align::Center),
                                    |ui| {
                                        ui.label(
                                            RichText::new("(retired)")
                                                .color(Color32::from_rgb(230, 180, 60)),
                                        );
                                        ui.with_layout(
                                            egui::Layout::left_to_right(egui::Align::Center),
                                            |ui| ui.add(egui::Label::new(name).truncate()),
                                        );
                                    },
                                );
                            } else {
                                ui.add(egui::Label::new(text).truncate());
                            }
                        });
                        row.col(|ui| {
                            ui.label(r.object.class.trim_start_matches("CKO_"));
                        });
                        row.col(|ui| {
                            ui.label(
                                r.object
                                    .key_type
                                    .as_deref()
                                    .unwrap_or("")
                                    .trim_start_matches("CKK_"),
                            );
                        });
                        row.col(|ui| {
                            ui.label(
                                r.object
                                    .value_len
                                    .map(|n| (n * 8).to_string())
                                    .unwrap_or_default(),
                            );
                        });
                        for (_, full) in FLAG_COLUMNS {
                            row.col(|ui| {
                                match flag_value(r, full) {
                                    Some(true) => ui.label("yes"),
                                    Some(false) => ui.weak("no"),
                                    None => ui.weak("—"),
                                };
                            });
                        }
                        row.col(|ui| {
                            ui.add(
                                egui::Label::new(RichText::new(&r.object.id_hex).monospace())
                                    .truncate(),
                            );
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
    if let Some(col) = sort_by {
        if st.sort == col {
            st.ascending = !st.ascending;
        } else {
            st.sort = col;
            st.ascending = true;
        }
        st.dirty = true;
    }
}

fn details_ui(
    ui: &mut egui::Ui,
    st: &KeysState,
    reports: &HashMap<String, crate::engine::Checked>,
) {
    ui.heading("Details");
    let Some(r) = st.selected.and_then(|i| st.rows.get(i)) else {
        if let Some(k) = &st.generated {
            generated_ui(ui, k);
        } else {
            ui.label("Select an object in the table to see all its attributes.");
        }
        return;
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.label(RichText::new(&r.meaning).strong());
        ui.label(RichText::new(&r.object.label).monospace());
        if let Some(id) = &r.master_key_id {
            ui.label(RichText::new(format!("Key id for USE KEY: {id}")).monospace());
        }
        ui.horizontal(|ui| {
            if ui.small_button("Copy label").clicked() {
                ui.ctx().copy_text(r.object.label.clone());
            }
        });
        if r.kind == "tde-master-key" {
            ui.label(match st.claims.get(&r.object.label) {
                Some(c) => format!(
                    "{} master key of {}{} (recorded from {}).",
                    if c.current { "The active" } else { "A retired" },
                    c.database,
                    if c.container.is_empty() {
                        String::new()
                    } else {
                        format!(", container {}", c.container)
                    },
                    c.source
                ),
                None => "No database claims this key: no migration, rotation or V$ENCRYPTION_KEYS tdekey has seen names it.".to_owned(),
            });
            if let Some(why) = st.claims.get(&r.object.label).and_then(|c| c.retired_why.as_ref()) {
                ui.label(
                    RichText::new(format!("Not in use: {why}. It stays on the HSM (backups taken while it was current need it)."))
                        .color(Color32::from_rgb(230, 180, 60)),
                );
            }
            let owner = st.claims.get(&r.object.label).map(|c| c.database.as_str());
            super::recover_tab::hsm_key_verdict_ui(ui, reports, owner, &r.object.label);
        }
        ui.add_space(6.0);
        if r.health.is_empty() {
            ui.label(severity_text(None));
        }
        for h in &r.health {
            ui.horizontal_wrapped(|ui| {
                ui.label(severity_text(Some(h.severity)));
                ui.label(&h.reason);
            });
        }
        ui.add_space(6.0);
        egui::Grid::new("attribute_grid")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (k, v) in r.object.attribute_rows() {
                    ui.monospace(k);
                    ui.add(egui::Label::new(v).wrap());
                    ui.end_row();
                }
            });
        ui.small(format!(
            "Flags read from the token; {} means the token does not report the attribute for this object. Key values are never read.",
            bool_text(None)
        ));
    });
}

fn generate_ui(ui: &mut egui::Ui, st: &mut KeysState, hsm: &HsmState, queue: &mut Vec<Command>) {
    let token = hsm
        .login
        .as_ref()
        .map(|l| l.0.label.clone())
        .unwrap_or_default();
    let (answer, cancelled) = super::confirm::dialog_ui(
        ui.ctx(),
        egui::Id::unique("generate_master_key"),
        &format!("Generate a TDE master key on {token}?"),
        520.0,
        |ui, focus| {
            ui.label("tdekey draws a 16-byte id from the HSM's random generator and generates an AES-256 key labelled ORACLE.TDE.HSM.MK.06<id>: token, private, sensitive, never extractable, encrypt and decrypt. It reads the key back and checks it before reporting it. A key on an HSM is never deleted by tdekey; before anyone deletes one with other tools, check its database's recoverability report (Databases › NAME › Recoverability).");
            egui::Grid::new("generate_fields")
                .num_columns(2)
                .show(ui, |ui| {
                    super::labelled_edit(ui, "Tag for USE KEY", &mut st.gen_tag, "optional", 200.0);
                    ui.end_row();
                    super::labelled_edit(
                        ui,
                        "Oracle's crypto user",
                        &mut st.gen_oracle_user,
                        "who must use the key",
                        200.0,
                    );
                    ui.end_row();
                });
            ui.add_space(4.0);
            super::confirm::buttons_ui(ui, focus, "Generate", true)
        },
    );
    let go = answer == Some(super::confirm::Answer::Yes) && !cancelled;
    let cancel = cancelled || answer == Some(super::confirm::Answer::No);
    if go {
        queue.push(Command::Hsm(HsmCommand::GenerateKey {
            request: KeyRequest {
                tag: Some(st.gen_tag.trim().to_owned()).filter(|t| !t.is_empty()),
                oracle_user: Some(st.gen_oracle_user.trim().to_owned()).filter(|t| !t.is_empty()),
                database: None,
            },
        }));
    }
    if go || cancel {
        st.generating = false;
    }
}

fn generated_ui(ui: &mut egui::Ui, k: &GeneratedKey) {
    ui.label(RichText::new("Generated").strong());
    ui.label(RichText::new(&k.label).monospace());
    ui.label(format!(
        "On {}, owned by {}; CKA_ID {}. Read back: AES-256, sensitive, never extractable.",
        k.token, k.owner, k.cka_id
    ));
    if let Some(share) = &k.share_command {
        ui.add_space(4.0);
        ui.label(format!(
            "Oracle's crypto user must be given the key first (CloudHSM, by its owner {}). In a shell where the CloudHSM CLI is installed; it asks for the owner's password without echo and gives the login to this command only:",
            k.owner
        ));
        ui.label(RichText::new(share).monospace());
        if ui.small_button("Copy the share command").clicked() {
            ui.ctx().copy_text(share.clone());
        }
        if !k.share_interactive.is_empty() {
            ui.label("Or in the CLI's interactive mode:");
            ui.label(RichText::new(k.share_interactive.join("\n")).monospace());
        }
    }
    ui.add_space(4.0);
    ui.label("To make it a database's master key:");
    ui.label(RichText::new(&k.use_key_statement).monospace());
    if ui.small_button("Copy the USE KEY statement").clicked() {
        ui.ctx().copy_text(k.use_key_statement.clone());
    }
    ui.small("The password is shown as <hidden>: type it in place of that when you run it.");
}
