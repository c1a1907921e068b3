//! The window (egui/eframe). Drawing functions take `&mut egui::Ui` and end in `_ui`; they
//! never touch the HSM, SQLite or the disk: they queue [`Command`]s, which the app hands to
//! the engine at the end of the frame, and the engine's [`Event`]s update the state.

mod audit_export;
mod audit_screen;
mod confirm;
mod console;
mod databases_screen;
mod hsm_screen;
mod keys_screen;
mod migration_record;
mod migration_rollback;
mod migration_tab;
mod prefs;
mod recover_tab;
mod rotation_dialogs;
mod rotation_screen;
mod rotation_timeline;
mod secret_field;
mod store_status;
mod wallet_tab;

use crate::engine::{Command, Engine, Event, HsmCommand, StoreCommand, Task};
use crate::paths::DataDir;
use egui::RichText;
use std::process::ExitCode;
use std::sync::Arc;

pub use audit_screen::AuditState;
pub use databases_screen::{DatabasesState, DbTab};
pub use hsm_screen::HsmState;
pub use keys_screen::KeysState;
pub use prefs::{Prefs, STORAGE_FILE};
pub use rotation_screen::RotationState;
pub use store_status::StoreState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Screen {
    Hsm,
    Keys,
    Databases,
    Rotation,
    Audit,
}

/// The screens in the top bar's order; Ctrl+1… opens them.
const SCREENS: [(Screen, &str); 5] = [
    (Screen::Hsm, "HSM"),
    (Screen::Keys, "Keys"),
    (Screen::Databases, "Databases"),
    (Screen::Rotation, "Rotation"),
    (Screen::Audit, "Audit"),
];

/// A message shown to the user until dismissed.
#[derive(Clone, Debug)]
pub struct Banner {
    pub text: String,
    pub error: bool,
    /// Offer a Reconnect button (the HSM session went away).
    pub reconnect: bool,
}

pub struct App {
    engine: Engine,
    /// For [`eframe::App::save`], which is not handed one.
    ctx: egui::Context,
    /// The remembered theme, applied at the first frame.
    restore_theme: Option<egui::ThemePreference>,
    data: DataDir,
    pub screen: Screen,
    pub hsm: HsmState,
    pub keys: KeysState,
    pub audit: AuditState,
    pub databases: DatabasesState,
    pub rotation: RotationState,
    /// Which store the window uses, and whether it answers.
    pub store: StoreState,
    queue: Vec<Command>,
    /// The screen (and the Databases screen's tab) drawn last frame: a screen shown again reads
    /// its data again (the command line or another host may have changed it meanwhile).
    shown: Option<(Screen, DbTab)>,
}

/// The window's application id: the desktop entry is `<APP_ID>.desktop` and the AppStream
/// component has this id (packaging/linux/).
pub const APP_ID: &str = "io.github.tdekey.Tdekey";

/// Starts the window.
pub fn run(data: DataDir) -> Result<ExitCode, String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("tdekey")
            .with_app_id(APP_ID)
            .with_inner_size([1320.0, 820.0])
            .with_min_inner_size([900.0, 560.0])
            .with_icon(icon()),
        // The window's size, position, screen, theme and column widths (see prefs.rs).
        persistence_path: Some(data.root().join(STORAGE_FILE)),
        ..Default::default()
    };
    eframe::run_native(
        "tdekey",
        options,
        Box::new(move |cc| Ok(Box::new(App::new(cc, data)))),
    )
    .map(|()| ExitCode::SUCCESS)
    .map_err(|e| format!("The window could not be opened: {e}. On a server without a display, use the command line (tdekey --help)."))
}

/// The window's icon: assets/icons/icon-64.png as raw RGBA (`make icons` writes both from
/// assets/icon.svg), so no image decoder is linked in.
fn icon() -> egui::IconData {
    egui::IconData {
        rgba: include_bytes!("../../assets/icons/icon-64.rgba").to_vec(),
        width: 64,
        height: 64,
    }
}

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, data: DataDir) -> Self {
        let prefs = Prefs::load(cc.storage);
        let ctx = cc.egui_ctx.clone();
        let engine = Engine::start(data.clone(), Arc::new(move || ctx.request_repaint()));
        let mut keys = KeysState::default();
        keys.columns = prefs::ColumnWidths::restored(prefs.keys_columns);
        let mut audit = AuditState::default();
        audit.columns = prefs::ColumnWidths::restored(prefs.audit_columns);
        let databases = DatabasesState {
            data_root: data.root().to_path_buf(),
            ..Default::default()
        };
        Self {
            engine,
            ctx: cc.egui_ctx.clone(),
            restore_theme: Some(prefs.theme),
            data,
            screen: prefs.screen,
            hsm: HsmState::default(),
            keys,
            audit,
            databases,
            shown: None,
            rotation: RotationState::default(),
            store: StoreState::default(),
            queue: vec![
                Command::Store(StoreCommand::Info),
                Command::Store(StoreCommand::LoadProfiles),
                Command::DetectModules,
                Command::Store(StoreCommand::RotationOverview { on_token: None }),
            ],
        }
    }

    /// What the window remembers between runs (nothing typed, nothing secret).
    pub fn prefs(&self) -> Prefs {
        Prefs {
            screen: self.screen,
            theme: self.ctx.options(|o| o.theme_preference),
            keys_columns: self.keys.columns.to_vec(),
            audit_columns: self.audit.columns.to_vec(),
        }
    }

    /// Whether a background task is running (its button is disabled meanwhile).
    pub fn is_pending(&self, task: Task) -> bool {
        self.engine.is_pending(task)
    }

    fn apply_events(&mut self, ctx: &egui::Context) {
        for event in self.engine.poll() {
            match event {
                Event::Connected(report) => {
                    self.hsm.on_connected(report);
                    self.keys.clear();
                }
                Event::Disconnected => {
                    self.hsm.on_disconnected();
                    self.keys.clear();
                }
                Event::LoggedIn { token, user, note } => {
                    self.hsm.on_logged_in(ctx, token, user, note);
                    if std::mem::take(&mut self.databases.migration.return_after_login) {
                        self.screen = Screen::Databases;
                    }
                    self.keys.clear();
                    self.queue.push(Command::Hsm(HsmCommand::Inventory));
                }
                Event::LoggedOut => {
                    self.hsm.on_logged_out();
                    self.keys.clear();
                }
                Event::InventoryProgress { done, total } => {
                    self.keys.progress = Some((done, total))
                }
                Event::Inventory(rows) => {
                    self.keys.set_rows(rows);
                    self.refresh_rotation();
                }
                Event::RotationOverview(o) => {
                    self.keys.set_claims(o.claims.clone());
                    self.databases.missing_keys = o
                        .rows
                        .iter()
                        .filter(|r| !r.missing_keys.is_empty())
                        .map(|r| r.database.clone())
                        .collect();
                    self.rotation.on_overview(o);
                }
                Event::Rotated(report) => {
                    self.rotation.on_rotated(ctx, *report);
                    if self.hsm.login.is_some() {
                        // The inventory's event refreshes the rotation overview.
                        self.queue.push(Command::Hsm(HsmCommand::Inventory));
                    } else {
                        self.refresh_rotation();
                    }
                }
                Event::KeyGenerated(key) => {
                    self.keys.on_generated(*key);
                    self.queue.push(Command::Hsm(HsmCommand::Inventory));
                }
                Event::Profiles {
                    profiles,
                    default_id,
                    saved,
                } => {
                    if let Some(cmd) = self.hsm.on_profiles(profiles, default_id, saved) {
                        self.queue.push(cmd);
                    }
                }
                Event::ModulePicked(path) => self.hsm.on_module_picked(path),
                Event::Modules(found) => self.hsm.detected = found,
                Event::AuditPage {
                    generation,
                    rows,
                    exhausted,
                    count,
                    head,
                } => self.audit.on_page(generation, rows, exhausted, count, head),
                Event::AuditHead(head) => self.audit.head_now = head,
                Event::ForwardPositions(p) => self.audit.forward = Some(p),
                Event::AuditExportProgress { done, total } => {
                    self.audit.progress = Some((done, total))
                }
                Event::AuditExported(manifest, path) => {
                    self.audit
                        .on_exported(ctx, manifest.entries, path, manifest.sha256.clone());
                    // Anchor what was exported, when the HSM session allows it.
                    if self.hsm.login.is_some() {
                        self.queue.push(Command::Hsm(HsmCommand::AuditCheckpoint));
                    }
                    self.audit.refresh(&self.engine, &mut self.queue);
                }
                Event::AuditExportExists(path) => self.audit.on_export_exists(path),
                Event::AuditVerified { ok, text } => {
                    // The count checked stops before the audit.verify entry that records it.
                    let text = format!(
                        "{text} This verification is recorded after them, as the next entry."
                    );
                    self.audit.on_verified(ok, text);
                    self.audit.refresh(&self.engine, &mut self.queue);
                }
                Event::OracleAsk(ask) => self.databases.console.ask = Some(*ask),
                Event::OracleAnswered(answer) => {
                    if let Some((token, user)) = answer.logged_in.clone() {
                        // A statement's HSM password logged tdekey in, as Oracle logs itself in.
                        let note = "The Rehearsal statement's HSM password logged tdekey in.";
                        self.hsm.on_logged_in(ctx, token, user, Some(note.into()));
                        self.keys.clear();
                        self.queue.push(Command::Hsm(HsmCommand::Inventory));
                    } else if !answer.answer.hsm_created.is_empty() && self.hsm.login.is_some() {
                        self.queue.push(Command::Hsm(HsmCommand::Inventory));
                    }
                    self.databases.console.on_answer(ctx, *answer);
                }
                Event::Migration {
                    database,
                    state,
                    progress,
                    past,
                } => {
                    let created = progress
                        .as_ref()
                        .is_some_and(|p| p.step == crate::migration::StepId::Verify);
                    self.databases.standings.insert(
                        database.clone(),
                        crate::migration::Standing::of(state.as_deref()),
                    );
                    self.databases.migration.on_past(&database, past);
                    self.databases.migration.on_migration(
                        ctx,
                        database,
                        state.map(|s| *s),
                        progress.map(|p| *p),
                    );
                    if created && self.hsm.login.is_some() {
                        self.queue.push(Command::Hsm(HsmCommand::Inventory));
                    }
                }
                Event::MigrationReport(path) => {
                    self.databases.migration.report_written = Some(path.display().to_string())
                }
                Event::WalletInspected(report) => self.databases.wallet.on_report(ctx, *report),
                Event::Databases {
                    databases,
                    saved,
                    standings,
                } => self.databases.on_databases(databases, saved, standings),
                Event::SavePathPicked(p) => self.audit.on_save_path(p),
                Event::StoreShown(shown) => {
                    if self.store.on_shown(*shown) {
                        // Back after it went away: what this screen shows may be stale.
                        self.refresh_shown();
                    }
                }
                Event::StoreLost { message } => self.store.on_lost(message),
                Event::Recoverability(checked) => self.databases.recover.on_checked(*checked),
                Event::RecoverBackupPicked(path) => self.databases.recover.on_backup_picked(path),
                Event::RecoverabilityWritten { path, .. } => {
                    self.databases.recover.on_written(path)
                }
                // The store's banner says why a read failed on a lost store: the screen does
                // not say it again (nor read again, which would fail the same way).
                Event::Failed {
                    store_lost: true, ..
                } => {}
                Event::Failed {
                    task,
                    message,
                    reconnect,
                    store_lost: false,
                } => {
                    let banner = Banner {
                        text: message,
                        error: true,
                        reconnect,
                    };
                    match task {
                        Task::Inventory => {
                            self.keys.progress = None;
                            self.keys.banner = Some(banner);
                        }
                        Task::AuditExport => self.audit.on_export_failed(ctx, banner.text),
                        Task::Databases => self.databases.banner = Some(banner),
                        Task::Oracle => self.databases.console.on_failed(ctx, banner.text),
                        Task::Wallet => self.databases.banner = Some(banner),
                        Task::Migration => self.databases.migration.on_failed(ctx, banner.text),
                        Task::Rotation => {
                            if self.screen == Screen::Keys {
                                self.keys.banner = Some(banner);
                            } else {
                                self.rotation.on_failed(ctx, banner.text);
                            }
                        }
                        Task::RotationOverview => self.rotation.banner = Some(banner),
                        Task::AuditQuery
                        | Task::AuditHead
                        | Task::AuditVerify
                        | Task::SaveDialog => self.audit.on_failed(task, banner.text),
                        Task::StoreInfo => self.store.on_lost(banner.text),
                        Task::Recoverability
                        | Task::RecoverabilityPick
                        | Task::RecoverabilityWrite => {
                            self.databases.recover.on_failed(banner.text)
                        }
                        Task::Login => {
                            self.hsm.on_login_failed(ctx);
                            self.hsm.banner = Some(banner);
                        }
                        Task::Connect => {
                            // The worker closes the previous module before loading another
                            // (one PKCS#11 context per process): nothing is connected now.
                            self.hsm.on_disconnected();
                            self.keys.clear();
                            self.hsm.banner = Some(banner);
                        }
                        _ => self.hsm.banner = Some(banner),
                    }
                }
            }
        }
    }

    /// Asks for the Rotation screen's data again (and who claims which key on the token).
    fn refresh_rotation(&mut self) {
        let labels = self.keys.loaded.then(|| {
            self.keys
                .rows
                .iter()
                .map(|r| r.object.label.clone())
                .collect()
        });
        self.queue
            .push(Command::Store(StoreCommand::RotationOverview {
                on_token: rotation_screen::on_token(&self.hsm, labels),
            }));
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("tdekey");
            ui.separator();
            for (i, (screen, name)) in SCREENS.iter().enumerate() {
                ui.selectable_value(&mut self.screen, *screen, *name)
                    .on_hover_text(format!("{name} (Ctrl+{})", i + 1));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let mut pref = ui.options(|o| o.theme_preference);
                let before = pref;
                for (p, name) in [
                    (egui::ThemePreference::Dark, "Dark"),
                    (egui::ThemePreference::Light, "Light"),
                    (egui::ThemePreference::System, "System theme"),
                ] {
                    ui.selectable_value(&mut pref, p, RichText::new(name).small());
                }
                if pref != before {
                    ui.ctx().set_theme(pref);
                }
                ui.separator();
                ui.label(self.hsm.status_line());
                ui.separator();
                store_status::store_label_ui(ui, &self.store);
            });
        });
    }

    fn status_bar_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if self.engine.any_pending() {
                ui.spinner();
            }
            ui.small(format!("Data: {}", self.data.root().display()));
        });
    }
}

impl eframe::App for App {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, prefs::STORAGE_KEY, &self.prefs());
    }

    /// egui's memory holds text fields' state (cursor and, in some versions, undo history): it
    /// is never written to disk, so nothing typed in the window can end up there.
    fn persist_egui_memory(&self) -> bool {
        false
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if let Some(theme) = self.restore_theme.take() {
            ctx.set_theme(theme);
        }
        self.apply_events(&ctx);
        // Ctrl+1… (Cmd on macOS) opens the screens.
        let keys = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
        ];
        for (key, (screen, _)) in keys.iter().zip(SCREENS.iter()) {
            if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, *key)) {
                self.screen = *screen;
            }
        }
        self.refresh_when_shown();
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui));
        store_status::store_banner_ui(ui, &self.store, &self.engine, &mut self.queue);
        egui::CentralPanel::default().show(ui, |ui| match self.screen {
            Screen::Hsm => hsm_screen::hsm_ui(
                ui,
                &mut self.hsm,
                &self.engine,
                &mut self.queue,
                &mut self.screen,
            ),
            Screen::Keys => keys_screen::keys_ui(
                ui,
                &mut self.keys,
                &self.hsm,
                &self.engine,
                &mut self.queue,
                (&mut self.screen, &self.databases.recover.reports),
            ),
            Screen::Databases => {
                // The wizard names the policy a finished migration's database already has.
                let m = &mut self.databases.migration;
                m.policy = m.database.as_ref().and_then(|name| {
                    let o = self.rotation.overview.as_ref()?;
                    let p = o
                        .rows
                        .iter()
                        .find(|r| &r.database == name)?
                        .policy
                        .as_ref()?;
                    Some(format!("{}; next due {}", p.describe, p.next_due))
                });
                databases_screen::databases_ui(
                    ui,
                    &mut self.databases,
                    &self.hsm,
                    &self.engine,
                    &mut self.queue,
                )
            }
            Screen::Rotation => {
                if !self.databases.loaded {
                    self.databases.loaded = true;
                    self.queue.push(Command::Store(StoreCommand::LoadDatabases));
                }
                let labels = self.keys.loaded.then(|| {
                    self.keys
                        .rows
                        .iter()
                        .map(|r| r.object.label.clone())
                        .collect()
                });
                self.rotation.spare_keys = rotation_dialogs::spare_keys(&self.keys);
                rotation_screen::rotation_ui(
                    ui,
                    &mut self.rotation,
                    &self.hsm,
                    &self.databases.databases,
                    labels,
                    &self.engine,
                    &mut self.queue,
                );
                if let Some(name) = self.rotation.open_migration.take() {
                    self.databases.open_migration(&name);
                    self.screen = Screen::Databases;
                }
            }
            Screen::Audit => {
                self.audit.hsm_user = self.hsm.login.as_ref().map(|(_, user)| user.clone());
                audit_screen::audit_ui(
                    ui,
                    &mut self.audit,
                    &self.engine,
                    &mut self.queue,
                    self.hsm.login.is_some(),
                )
            }
        });
        // A Manual statement waiting for the DBA's paste is shown wherever the person is (the
        // wizard and a rotation send them from other screens than the console).
        let in_console = self.screen == Screen::Databases && self.databases.tab == DbTab::Console;
        if !in_console && let Some(ask) = self.databases.console.ask.clone() {
            egui::Window::new("A statement waits for you")
                .id(egui::Id::unique("manual_ask_window"))
                .collapsible(false)
                .default_width(640.0)
                .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
                .show(&ctx, |ui| {
                    console::manual_ui(ui, &mut self.databases.console, &ask, &self.engine)
                });
        }
        // The wizard asked for a login: the HSM screen, and back to the step after it.
        if std::mem::take(&mut self.databases.migration.go_to_login) {
            self.screen = Screen::Hsm;
        }
        if let Some(db) = self.databases.migration.go_to_rotation.take() {
            self.rotation.selected = Some(db);
            self.screen = Screen::Rotation;
        }
        for cmd in self.queue.drain(..) {
            // A refused command means the same task is already running; its button is disabled.
            self.engine.send(cmd);
        }
    }
}

/// A one-line text field with a label before it that names it for screen readers.
pub(crate) fn labelled_edit(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    hint: &str,
    width: f32,
) -> egui::Response {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(width),
    )
    .labelled_by(l.id)
}

/// Draws a banner with Dismiss (and Reconnect when offered) along the bottom of the screen's
/// area, above the status bar: a banner that appears or goes never moves the controls above it
/// (a click aimed at one never lands on another). Returns true when Reconnect was clicked.
pub(crate) fn banner_ui(ui: &mut egui::Ui, banner: &mut Option<Banner>) -> bool {
    let mut reconnect = false;
    let mut dismiss = false;
    let Some(b) = banner.as_ref() else {
        return false;
    };
    let (fill, stroke) = if b.error {
        (
            egui::Color32::from_rgb(80, 24, 24),
            egui::Color32::from_rgb(200, 80, 80),
        )
    } else {
        (
            egui::Color32::from_rgb(24, 48, 72),
            egui::Color32::from_rgb(90, 140, 200),
        )
    };
    egui::Panel::bottom(ui.scope_id().with("banner"))
        .resizable(false)
        .show_separator_line(false)
        .frame(egui::Frame::new().inner_margin(egui::Margin::symmetric(0, 6)))
        .show(ui, |ui| {
            egui::Frame::new()
                .fill(fill)
                .stroke(egui::Stroke::new(1.0, stroke))
                .inner_margin(8.0)
                .corner_radius(4.0)
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        // The buttons first, at the left edge: where they are does not depend on
                        // the sentence's length.
                        if ui.button("Dismiss").clicked() {
                            dismiss = true;
                        }
                        if b.reconnect && ui.button("Reconnect").clicked() {
                            reconnect = true;
                        }
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(&b.text).color(egui::Color32::WHITE),
                            )
                            .wrap(),
                        );
                    });
                });
        });
    if dismiss || reconnect {
        *banner = None;
    }
    reconnect
}
