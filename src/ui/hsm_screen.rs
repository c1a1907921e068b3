//! The HSM screen: connection profiles, the module's slots and tokens, and the crypto-user login.

use super::secret_field::{clear_password, password_ui};
use super::{Banner, Screen, banner_ui, labelled_edit};
use crate::engine::{Command, ConnectReport, Engine, HsmCommand, StoreCommand, Task};
use crate::hsm::ModuleCandidate;
use crate::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER_PIN};
use crate::model::{HsmProfile, OpenToken, PinFormat, TokenSelector};
use crate::secret::SecretBuffer;
use egui::{Color32, RichText};
use std::path::PathBuf;
use std::sync::Arc;

/// The profile being edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileForm {
    pub id: Option<i64>,
    pub name: String,
    pub module_path: String,
    pub token_label: String,
    pub user_name: String,
    pub pin_format: PinFormat,
}

impl Default for ProfileForm {
    fn default() -> Self {
        Self {
            id: None,
            name: String::new(),
            module_path: String::new(),
            token_label: String::new(),
            user_name: String::new(),
            pin_format: PinFormat::CloudHsm,
        }
    }
}

impl From<&HsmProfile> for ProfileForm {
    fn from(p: &HsmProfile) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            module_path: p.module_path.display().to_string(),
            token_label: p.token_label.clone().unwrap_or_default(),
            user_name: p.user_name.clone(),
            pin_format: p.pin_format,
        }
    }
}

impl ProfileForm {
    fn to_profile(&self) -> HsmProfile {
        HsmProfile {
            id: self.id,
            name: self.name.trim().to_owned(),
            module_path: PathBuf::from(self.module_path.trim()),
            token_label: Some(self.token_label.trim().to_owned()).filter(|s| !s.is_empty()),
            slot_id: None,
            user_name: self.user_name.trim().to_owned(),
            pin_format: self.pin_format,
        }
    }
}

#[derive(Default)]
pub struct HsmState {
    pub profiles: Vec<HsmProfile>,
    pub default_id: Option<i64>,
    profiles_loaded: bool,
    pub form: ProfileForm,
    pub make_default: bool,
    pub detected: Vec<ModuleCandidate>,
    pub connection: Option<Arc<ConnectReport>>,
    pub connected_module: Option<PathBuf>,
    /// The open token and the logged-in user.
    pub login: Option<(OpenToken, String)>,
    /// Slot chosen for the login.
    pub token_choice: Option<u64>,
    pub password: SecretBuffer,
    pub banner: Option<Banner>,
    /// "Delete the HSM profile NAME?" is open: (id, name).
    pub confirm_delete: Option<(i64, String)>,
    /// The login form puts the focus on its first empty field when it next shows (after a
    /// connection, a logout or a refused password).
    focus_login: bool,
}

const PASSWORD_ID: &str = "login_password";

fn password_id() -> egui::Id {
    egui::Id::unique(PASSWORD_ID)
}

impl HsmState {
    pub fn on_connected(&mut self, report: Arc<ConnectReport>) {
        let tokens: Vec<(u64, &str)> = initialized_tokens(&report);
        self.token_choice = tokens
            .iter()
            .find(|(_, l)| *l == self.form.token_label.trim())
            .or(tokens.first())
            .map(|(s, _)| *s);
        self.connected_module = Some(PathBuf::from(self.form.module_path.trim()));
        self.connection = Some(report);
        self.login = None;
        self.banner = None;
        self.focus_login = true;
    }

    pub fn on_logged_out(&mut self) {
        self.login = None;
        self.focus_login = true;
    }

    pub fn on_disconnected(&mut self) {
        self.connection = None;
        self.connected_module = None;
        self.login = None;
    }

    pub fn on_logged_in(
        &mut self,
        ctx: &egui::Context,
        token: OpenToken,
        user: String,
        note: Option<String>,
    ) {
        clear_password(ctx, password_id(), &mut self.password);
        self.login = Some((token, user));
        self.banner = note.map(|text| Banner {
            text,
            error: false,
            reconnect: false,
        });
    }

    /// A refused login: the password field is emptied and has the focus again.
    pub fn on_login_failed(&mut self, ctx: &egui::Context) {
        clear_password(ctx, password_id(), &mut self.password);
        self.focus_login = true;
    }

    /// Takes a fresh profile list. On the first load, opens the default profile and returns the
    /// command that connects to it.
    pub fn on_profiles(
        &mut self,
        profiles: Vec<HsmProfile>,
        default_id: Option<i64>,
        saved: Option<i64>,
    ) -> Option<Command> {
        self.profiles = profiles;
        self.default_id = default_id;
        let first = !self.profiles_loaded;
        self.profiles_loaded = true;
        if let Some(id) = saved {
            self.form.id = Some(id);
            self.banner = Some(Banner {
                text: format!("Profile {:?} saved.", self.form.name.trim()),
                error: false,
                reconnect: false,
            });
        } else if self.form.id.is_some() && !self.profiles.iter().any(|p| p.id == self.form.id) {
            self.form = ProfileForm::default();
        }
        if first
            && let Some(p) = self
                .profiles
                .iter()
                .find(|p| p.id == default_id && default_id.is_some())
        {
            self.form = ProfileForm::from(p);
            self.make_default = true;
            return Some(Command::Hsm(HsmCommand::Connect {
                module: p.module_path.clone(),
            }));
        }
        None
    }

    pub fn on_module_picked(&mut self, path: Option<PathBuf>) {
        match path {
            Some(p) => {
                self.form.pin_format = PinFormat::guess(&p);
                self.form.module_path = p.display().to_string();
            }
            None => {
                self.banner = Some(Banner {
                    text: "No file was chosen. If no dialog appeared, this desktop has no file-chooser portal: type the library's path into the PKCS#11 module field instead.".into(),
                    error: false,
                    reconnect: false,
                })
            }
        }
    }

    pub fn status_line(&self) -> String {
        match (&self.connection, &self.login) {
            (_, Some((token, user))) => format!(
                "Logged in as {} on token {:?} (slot {})",
                if user.is_empty() {
                    "the crypto user"
                } else {
                    user
                },
                token.label,
                token.slot_id
            ),
            (Some(c), None) => format!(
                "Connected to {} — not logged in",
                if c.library.manufacturer.is_empty() {
                    c.library.path.display().to_string()
                } else {
                    c.library.manufacturer.clone()
                }
            ),
            (None, None) => "Not connected".to_owned(),
        }
    }
}

fn initialized_tokens(report: &ConnectReport) -> Vec<(u64, &str)> {
    report
        .slots
        .iter()
        .filter_map(|s| {
            s.token
                .as_ref()
                .filter(|t| t.flags.contains(&"TOKEN_INITIALIZED"))
                .map(|t| (s.slot_id, t.label.as_str()))
        })
        .collect()
}

pub fn hsm_ui(
    ui: &mut egui::Ui,
    st: &mut HsmState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    screen: &mut Screen,
) {
    if banner_ui(ui, &mut st.banner)
        && let Some(m) = st.connected_module.clone()
    {
        queue.push(Command::Hsm(HsmCommand::Connect { module: m }));
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.columns(2, |cols| {
            profile_ui(&mut cols[0], st, engine, queue);
            connection_ui(&mut cols[1], st, engine, queue, screen);
        });
    });
}

fn profile_ui(ui: &mut egui::Ui, st: &mut HsmState, engine: &Engine, queue: &mut Vec<Command>) {
    if let Some((id, name)) = st.confirm_delete.clone() {
        match super::confirm::confirm_ui(
            ui.ctx(),
            &format!("Delete the HSM profile {name}?"),
            "tdekey forgets this module path, token, crypto user and PIN format. Nothing on the HSM changes; database profiles that name it keep their other settings. This cannot be undone: to use it again, save the profile again.",
            &format!("Delete {name}"),
        ) {
            Some(super::confirm::Answer::Yes) => {
                st.confirm_delete = None;
                queue.push(Command::Store(StoreCommand::DeleteProfile { id, name }));
            }
            Some(super::confirm::Answer::No) => st.confirm_delete = None,
            None => {}
        }
    }
    ui.heading("Connection profile");
    ui.add_space(4.0);
    let current = if st.form.id.is_some() {
        st.form.name.clone()
    } else {
        "New profile".to_owned()
    };
    egui::ComboBox::from_label("Saved profiles")
        .selected_text(current)
        .width(260.0)
        .show_ui(ui, |ui| {
            if ui
                .selectable_label(st.form.id.is_none(), "New profile")
                .clicked()
            {
                st.form = ProfileForm::default();
                st.make_default = false;
            }
            for p in &st.profiles {
                let label = if Some(p.id) == Some(st.default_id) && p.id.is_some() {
                    format!("{} (opens at start)", p.name)
                } else {
                    p.name.clone()
                };
                if ui.selectable_label(st.form.id == p.id, label).clicked() {
                    st.form = ProfileForm::from(p);
                    st.make_default = st.default_id.is_some() && st.default_id == p.id;
                }
            }
        });
    ui.add_space(6.0);
    egui::Grid::new("profile_form")
        .num_columns(2)
        .spacing([10.0, 8.0])
        .show(ui, |ui| {
            labelled_edit(
                ui,
                "Profile name",
                &mut st.form.name,
                "CloudHSM production",
                320.0,
            );
            ui.end_row();
            labelled_edit(
                ui,
                "PKCS#11 module",
                &mut st.form.module_path,
                crate::hsm::module::CLOUDHSM_MODULE,
                320.0,
            );
            ui.end_row();
            ui.label("");
            ui.horizontal(|ui| {
                let busy = engine.is_pending(Task::FileDialog);
                if ui
                    .add_enabled(!busy, egui::Button::new("Browse…"))
                    .on_hover_text("Choose the library file in a dialog")
                    .clicked()
                {
                    let start_dir = PathBuf::from(st.form.module_path.trim())
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .map(|p| p.to_path_buf());
                    queue.push(Command::PickModuleFile { start_dir });
                }
                if busy {
                    ui.spinner();
                }
                let mut picked = None;
                egui::ComboBox::from_label("Detected modules")
                    .selected_text(if st.detected.is_empty() {
                        "none found"
                    } else {
                        "choose…"
                    })
                    .width(120.0)
                    .show_ui(ui, |ui| {
                        for m in &st.detected {
                            if ui
                                .selectable_label(
                                    false,
                                    format!("{} — {}", m.source, m.path.display()),
                                )
                                .clicked()
                            {
                                picked = Some(m.path.clone());
                            }
                        }
                    });
                if let Some(p) = picked {
                    st.form.pin_format = PinFormat::guess(&p);
                    st.form.module_path = p.display().to_string();
                }
            });
            ui.end_row();
            labelled_edit(
                ui,
                "Token label",
                &mut st.form.token_label,
                "empty: the only token",
                320.0,
            );
            ui.end_row();
            labelled_edit(
                ui,
                "Crypto user",
                &mut st.form.user_name,
                "e.g. cu_oracle",
                320.0,
            );
            ui.end_row();
            ui.label("PIN format");
            ui.horizontal(|ui| {
                ui.radio_value(
                    &mut st.form.pin_format,
                    PinFormat::CloudHsm,
                    PinFormat::CloudHsm.describe(),
                )
                .on_hover_text("AWS CloudHSM: C_Login gets <crypto user>:<password>");
                ui.radio_value(
                    &mut st.form.pin_format,
                    PinFormat::Plain,
                    PinFormat::Plain.describe(),
                )
                .on_hover_text("SoftHSM2 and most HSMs: C_Login gets the password alone");
            });
            ui.end_row();
        });
    ui.checkbox(&mut st.make_default, "Open this profile when tdekey starts");
    ui.small("Passwords are never saved: tdekey asks for them at each login.");
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let busy = engine.is_pending(Task::Profiles);
        if ui
            .add_enabled(!busy, egui::Button::new("Save profile"))
            .clicked()
        {
            queue.push(Command::Store(StoreCommand::SaveProfile {
                profile: st.form.to_profile(),
                make_default: st.make_default,
            }));
        }
        if let Some(id) = st.form.id
            && ui
                .add_enabled(!busy, egui::Button::new("Delete profile"))
                .on_hover_text(
                    "Deletes the saved connection settings only; nothing on the HSM changes.",
                )
                .clicked()
        {
            st.confirm_delete = Some((id, st.form.name.clone()));
        }
        if busy {
            ui.spinner();
        }
        ui.separator();
        let connecting = engine.is_pending(Task::Connect);
        let has_module = !st.form.module_path.trim().is_empty();
        if ui
            .add_enabled(!connecting && has_module, egui::Button::new("Connect"))
            .on_disabled_hover_text("Type or choose a PKCS#11 module first")
            .clicked()
        {
            queue.push(Command::Hsm(HsmCommand::Connect {
                module: PathBuf::from(st.form.module_path.trim()),
            }));
        }
        if connecting {
            ui.spinner();
            ui.label("Loading the module…");
        }
        if st.connection.is_some()
            && ui
                .add_enabled(!connecting, egui::Button::new("Disconnect"))
                .clicked()
        {
            queue.push(Command::Hsm(HsmCommand::Disconnect));
        }
    });
}

fn connection_ui(
    ui: &mut egui::Ui,
    st: &mut HsmState,
    engine: &Engine,
    queue: &mut Vec<Command>,
    screen: &mut Screen,
) {
    let Some(report) = st.connection.clone() else {
        ui.heading("Module");
        ui.label("Not connected. Choose a PKCS#11 module on the left and press Connect.");
        return;
    };
    ui.heading("Module");
    egui::Grid::new("library_info")
        .num_columns(2)
        .show(ui, |ui| {
            for (k, v) in [
                ("Path", report.library.path.display().to_string()),
                ("Manufacturer", report.library.manufacturer.clone()),
                ("Library", report.library.description.clone()),
                ("Library version", report.library.library_version.clone()),
                ("Cryptoki version", report.library.cryptoki_version.clone()),
            ] {
                ui.label(RichText::new(k).strong());
                ui.label(v);
                ui.end_row();
            }
        });
    ui.add_space(8.0);
    ui.heading("Slots and tokens");
    for s in &report.slots {
        let title = match &s.token {
            Some(t) if !t.label.is_empty() => format!("Slot {} — token {:?}", s.slot_id, t.label),
            Some(_) => format!("Slot {} — uninitialized token", s.slot_id),
            None => format!("Slot {} — no token", s.slot_id),
        };
        egui::CollapsingHeader::new(title)
            .id_salt(("slot", s.slot_id))
            .default_open(st.token_choice == Some(s.slot_id))
            .show(ui, |ui| {
                ui.label(format!("Slot: {} {}", s.description, s.manufacturer));
                if let Some(t) = &s.token {
                    egui::Grid::new(("token", s.slot_id))
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (k, v) in [
                                ("Manufacturer", t.manufacturer.clone()),
                                ("Model", t.model.clone()),
                                ("Serial", t.serial.clone()),
                                ("Flags", t.flags.join(" ")),
                            ] {
                                ui.label(RichText::new(k).strong());
                                ui.label(v);
                                ui.end_row();
                            }
                        });
                    ui.label(RichText::new("Mechanisms tdekey needs").strong());
                    for m in &t.mechanisms {
                        let (mark, color) = if m.present {
                            ("present", Color32::from_rgb(90, 190, 110))
                        } else {
                            ("MISSING", Color32::from_rgb(230, 90, 80))
                        };
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(mark).color(color).strong());
                            ui.monospace(m.name);
                            ui.label(format!("— {}", m.purpose));
                        });
                    }
                    if let Some(e) = &t.mechanisms_error {
                        ui.colored_label(Color32::from_rgb(230, 90, 80), e);
                    }
                    if let Some(n) = &t.unreadable {
                        ui.colored_label(Color32::from_rgb(230, 180, 60), n);
                    }
                }
            });
    }
    ui.add_space(8.0);
    ui.heading("Crypto-user login");
    if let Some((token, user)) = st.login.clone() {
        ui.label(format!(
            "Logged in as {} on token {:?} (slot {}).",
            if user.is_empty() {
                "the crypto user"
            } else {
                &user
            },
            token.label,
            token.slot_id
        ));
        ui.horizontal(|ui| {
            if ui.button("Show keys").clicked() {
                *screen = Screen::Keys;
            }
            let busy = engine.is_pending(Task::Login);
            if ui
                .add_enabled(!busy, egui::Button::new("Log out"))
                .clicked()
            {
                queue.push(Command::Hsm(HsmCommand::Logout));
            }
        });
        return;
    }
    let tokens = initialized_tokens(&report);
    if tokens.is_empty() {
        ui.label("No initialized token in any slot: there is nothing to log in to.");
        return;
    }
    let chosen_label = tokens
        .iter()
        .find(|(s, _)| Some(*s) == st.token_choice)
        .map(|(s, l)| format!("{l} (slot {s})"))
        .unwrap_or_else(|| "choose…".to_owned());
    egui::ComboBox::from_label("Token")
        .selected_text(chosen_label)
        .show_ui(ui, |ui| {
            for (s, l) in &tokens {
                ui.selectable_value(&mut st.token_choice, Some(*s), format!("{l} (slot {s})"));
            }
        });
    let mut submit = false;
    // Not while a dialog is open (it keeps the focus): the form takes it when it next shows
    // with no dialog above it.
    let behind_dialog = ui.ctx().memory(|m| m.top_modal_layer().is_some());
    let focus = !behind_dialog && std::mem::take(&mut st.focus_login);
    egui::Grid::new("login_form").num_columns(2).show(ui, |ui| {
        let user = labelled_edit(
            ui,
            "User name",
            &mut st.form.user_name,
            "crypto user",
            220.0,
        );
        ui.end_row();
        let l = ui.label("Password");
        let r = password_ui(ui, l.id, password_id(), &mut st.password);
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            submit = true;
        }
        ui.end_row();
        ui.label("");
        ui.small(super::secret_field::hsm_password_hint(
            st.form.pin_format,
            &st.form.user_name,
        ));
        ui.end_row();
        // The first empty field takes the focus (the user name matters for CloudHSM only).
        if focus {
            let user_first =
                st.form.pin_format == PinFormat::CloudHsm && st.form.user_name.trim().is_empty();
            if user_first {
                user.request_focus();
            } else {
                r.request_focus();
            }
        }
    });
    let chosen_is_demo = tokens
        .iter()
        .any(|(s, l)| Some(*s) == st.token_choice && *l == DEMO_TOKEN_LABEL);
    if chosen_is_demo {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "Demo token: its PIN is the demo value {DEMO_USER_PIN} (not a secret; never use a demo token for real keys)."
                ))
                .italics(),
            );
            if ui.small_button("Use the demo PIN").clicked() {
                st.password.clear();
                st.password.insert(DEMO_USER_PIN, 0);
            }
        });
    }
    if st.form.pin_format == PinFormat::CloudHsm {
        ui.small("CloudHSM locks the crypto user after 5 failed logins.");
    }
    let busy = engine.is_pending(Task::Login);
    ui.horizontal(|ui| {
        let can = !busy && st.token_choice.is_some() && !st.password.is_empty();
        if (ui.add_enabled(can, egui::Button::new("Log in")).clicked() || (submit && can))
            && let Some(slot) = st.token_choice
        {
            queue.push(Command::Hsm(HsmCommand::Login {
                selector: TokenSelector::Slot(slot),
                user: st.form.user_name.trim().to_owned(),
                password: st.password.to_secret(),
                format: st.form.pin_format,
            }));
        }
        if busy {
            ui.spinner();
            ui.label("Logging in…");
        }
    });
}
