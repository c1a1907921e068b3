//! The database console: choose a statement, see exactly what will run (secrets hidden), run it
//! through the profile's connector, and read what the database answered. With the Manual
//! connector the DBA runs the statement elsewhere and pastes the output here.

use super::secret_field::{clear_password, password_ui};
use crate::engine::{Command, Engine, ManualAsk, ManualReply, OracleAnswer, Task};
use crate::model::PinFormat;
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth};
use crate::secret::{Secret, SecretBuffer};
use crate::tde::labels::parse_use_key_id;
use crate::tde::request::{ParameterName, Reply, Request};
use crate::tde::sql::{Credential, KEYSTORE_CONFIGURATIONS, Options};
use egui::{Color32, RichText};

/// Every request the console offers, in the order a migration uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    QueryWallet,
    QueryKeys,
    ShowWalletRoot,
    ShowTdeConfiguration,
    SetWalletRoot,
    SetTdeConfiguration,
    Restart,
    CreateKeystore,
    Open,
    Close,
    Migrate,
    SetKey,
    UseKey,
    AddHsmSecret,
    CreateAutoLogin,
    Backup,
    ReverseMigrate,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::QueryWallet,
        Kind::QueryKeys,
        Kind::ShowWalletRoot,
        Kind::ShowTdeConfiguration,
        Kind::SetWalletRoot,
        Kind::SetTdeConfiguration,
        Kind::Restart,
        Kind::CreateKeystore,
        Kind::Open,
        Kind::Close,
        Kind::Migrate,
        Kind::SetKey,
        Kind::UseKey,
        Kind::AddHsmSecret,
        Kind::CreateAutoLogin,
        Kind::Backup,
        Kind::ReverseMigrate,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Kind::QueryWallet => "Query V$ENCRYPTION_WALLET",
            Kind::QueryKeys => "Query V$ENCRYPTION_KEYS",
            Kind::ShowWalletRoot => "Show WALLET_ROOT",
            Kind::ShowTdeConfiguration => "Show TDE_CONFIGURATION",
            Kind::SetWalletRoot => "Set WALLET_ROOT",
            Kind::SetTdeConfiguration => "Set TDE_CONFIGURATION",
            Kind::Restart => "Restart the database",
            Kind::CreateKeystore => "Create a software keystore",
            Kind::Open => "Open the keystore",
            Kind::Close => "Close the keystore",
            Kind::Migrate => "Migrate the master key to the HSM",
            Kind::SetKey => "Rotate: Oracle sets a new master key",
            Kind::UseKey => "Rotate: use a master key made on the HSM",
            Kind::AddHsmSecret => "Store the HSM password for auto-login",
            Kind::CreateAutoLogin => "Create an auto-login keystore",
            Kind::Backup => "Back up the keystore",
            Kind::ReverseMigrate => "Reverse-migrate the master key to the file wallet",
        }
    }
}

/// Which secret authenticates a keystore operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Hsm,
    Wallet,
    ExternalStore,
}

pub struct ConsoleState {
    pub kind: Kind,
    pub auth: Auth,
    pub hsm_user: String,
    pub hsm_password: SecretBuffer,
    pub wallet_password: SecretBuffer,
    pub db_password: SecretBuffer,
    pub tag: String,
    pub key_id: String,
    pub dir: String,
    pub configuration: String,
    pub all_containers: bool,
    pub with_backup: bool,
    pub local: bool,
    /// The Manual connector's open question, the paste box and the reveal toggle.
    pub ask: Option<ManualAsk>,
    pub paste: String,
    pub reveal: bool,
    pub answer: Option<OracleAnswer>,
    pub error: Option<String>,
    /// A state-changing statement for a real database waits for "Run it on …".
    pub confirm: bool,
    /// The database the last request went to.
    pub database: Option<String>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        Self {
            kind: Kind::QueryWallet,
            auth: Auth::Hsm,
            hsm_user: String::new(),
            hsm_password: SecretBuffer::new(),
            wallet_password: SecretBuffer::new(),
            db_password: SecretBuffer::new(),
            tag: String::new(),
            key_id: String::new(),
            dir: String::new(),
            configuration: "HSM|FILE".into(),
            all_containers: false,
            with_backup: true,
            local: false,
            ask: None,
            paste: String::new(),
            reveal: false,
            answer: None,
            error: None,
            confirm: false,
            database: None,
        }
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn root_dir(db: &DatabaseProfile, sub: &str) -> String {
    db.wallet_root
        .as_deref()
        .map(|r| format!("{}/{sub}", r.trim_end_matches('/')))
        .unwrap_or_default()
}

impl ConsoleState {
    fn hsm(&self) -> (String, Secret) {
        (
            self.hsm_user.trim().to_owned(),
            self.hsm_password.to_secret(),
        )
    }

    fn credential(&self) -> Credential {
        match self.auth {
            Auth::Hsm => {
                let (user, password) = self.hsm();
                Credential::Hsm { user, password }
            }
            Auth::Wallet => Credential::Password(self.wallet_password.to_secret()),
            Auth::ExternalStore => Credential::ExternalStore,
        }
    }

    fn options(&self) -> Options {
        Options {
            backup: self.with_backup.then(|| opt(&self.tag)),
            all_containers: self.all_containers,
        }
    }

    /// The request the form describes, or a sentence saying what is missing.
    pub fn request(&self, db: &DatabaseProfile) -> Result<Request, String> {
        let dir = |sub: &str| opt(&self.dir).unwrap_or_else(|| root_dir(db, sub));
        Ok(match self.kind {
            Kind::QueryWallet => Request::QueryWallet,
            Kind::QueryKeys => Request::QueryKeys,
            Kind::ShowWalletRoot => Request::ShowParameter(ParameterName::WalletRoot),
            Kind::ShowTdeConfiguration => Request::ShowParameter(ParameterName::TdeConfiguration),
            Kind::SetWalletRoot => {
                let d = opt(&self.dir)
                    .or_else(|| db.wallet_root.clone())
                    .ok_or("Type the WALLET_ROOT directory.")?;
                Request::SetWalletRoot {
                    dir: d,
                    all_instances: db.rac,
                }
            }
            Kind::SetTdeConfiguration => Request::SetTdeConfiguration {
                value: self.configuration.clone(),
                all_instances: db.rac,
            },
            Kind::Restart => Request::Restart,
            Kind::CreateKeystore => Request::CreateKeystore {
                password: self.wallet_password.to_secret(),
            },
            Kind::Open => Request::OpenKeystore {
                credential: self.credential(),
                all_containers: self.all_containers,
            },
            Kind::Close => Request::CloseKeystore {
                credential: match self.auth {
                    Auth::ExternalStore => None,
                    _ => Some(self.credential()),
                },
                all_containers: self.all_containers,
            },
            Kind::Migrate => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::Migrate {
                    hsm_user,
                    hsm_password,
                    wallet_password: self.wallet_password.to_secret(),
                    options: self.options(),
                }
            }
            Kind::SetKey => Request::SetKey {
                tag: None,
                credential: self.credential(),
                options: self.options(),
            },
            Kind::UseKey => Request::UseKey {
                id: parse_use_key_id(self.key_id.trim())
                    .map_err(|e| format!("The key id is not one Oracle's USE KEY takes: {e}"))?,
                tag: opt(&self.tag),
                credential: self.credential(),
            },
            Kind::AddHsmSecret => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::AddHsmSecret {
                    hsm_user,
                    hsm_password,
                    seps_dir: dir("tde_seps"),
                    local: self.local,
                }
            }
            Kind::CreateAutoLogin => Request::CreateAutoLogin {
                dir: dir("tde"),
                password: self.wallet_password.to_secret(),
                local: self.local,
            },
            Kind::Backup => Request::Backup {
                tag: opt(&self.tag),
                credential: Credential::Password(self.wallet_password.to_secret()),
            },
            Kind::ReverseMigrate => {
                let (hsm_user, hsm_password) = self.hsm();
                Request::ReverseMigrate {
                    wallet_password: self.wallet_password.to_secret(),
                    hsm_user,
                    hsm_password,
                }
            }
        })
    }

    pub fn on_answer(&mut self, ctx: &egui::Context, answer: OracleAnswer) {
        self.ask = None;
        self.error = None;
        self.answer = Some(answer);
        self.clear_secrets(ctx);
    }

    pub fn on_failed(&mut self, ctx: &egui::Context, message: String) {
        self.ask = None;
        self.answer = None;
        self.error = Some(message);
        self.clear_secrets(ctx);
    }

    fn clear_secrets(&mut self, ctx: &egui::Context) {
        clear_password(
            ctx,
            egui::Id::unique("console_hsm_pw"),
            &mut self.hsm_password,
        );
        clear_password(
            ctx,
            egui::Id::unique("console_wallet_pw"),
            &mut self.wallet_password,
        );
        clear_password(
            ctx,
            egui::Id::unique("console_db_pw"),
            &mut self.db_password,
        );
        self.paste.clear();
        self.reveal = false;
    }

    fn needs(&self) -> (bool, bool, bool) {
        // (HSM user+password, wallet password, choice of credential)
        match self.kind {
            Kind::Migrate | Kind::ReverseMigrate => (true, true, false),
            Kind::AddHsmSecret => (true, false, false),
            Kind::CreateKeystore | Kind::CreateAutoLogin | Kind::Backup => (false, true, false),
            Kind::Open | Kind::Close | Kind::SetKey | Kind::UseKey => {
                (self.auth == Auth::Hsm, self.auth == Auth::Wallet, true)
            }
            _ => (false, false, false),
        }
    }
}

const REHEARSAL_BADGE: Color32 = Color32::from_rgb(214, 160, 40);

/// The console for one saved database profile.
pub fn console_ui(
    ui: &mut egui::Ui,
    st: &mut ConsoleState,
    db: &DatabaseProfile,
    hsm_user: Option<&str>,
    hsm_profile: Option<&crate::model::HsmProfile>,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    if st.hsm_user.is_empty()
        && let Some(u) = hsm_user.or(hsm_profile.map(|p| p.user_name.as_str()))
    {
        u.clone_into(&mut st.hsm_user);
    }
    let pin_format = hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format);
    let token = hsm_profile.map(|p| match (&p.token_label, p.slot_id) {
        (Some(l), _) => crate::model::TokenSelector::Label(l.clone()),
        (None, Some(s)) => crate::model::TokenSelector::Slot(s),
        (None, None) => crate::model::TokenSelector::Only,
    });
    let busy = engine.is_pending(Task::Oracle);
    ui.horizontal(|ui| {
        ui.heading(format!("Run against {}", db.name));
        match db.connector {
            ConnectorKind::Rehearsal => {
                ui.label(
                    RichText::new(" REHEARSAL ")
                        .strong()
                        .color(Color32::BLACK)
                        .background_color(REHEARSAL_BADGE),
                );
                ui.label(
                    "a simulated Oracle 19c keystore; its HSM keys are real keys on the token",
                );
            }
            ConnectorKind::Sqlplus => {
                ui.label(format!(
                    "tdekey runs {}/bin/sqlplus",
                    db.oracle_home.as_deref().unwrap_or("ORACLE_HOME")
                ));
            }
            ConnectorKind::Manual => {
                ui.label("You run each statement in SQL*Plus and paste its output here.");
            }
        }
    });
    if db.name == crate::hsm::demo::DEMO_DATABASE_NAME {
        ui.small(format!(
            "Demo values (not secrets): wallet password {}, HSM user {} with password {}.",
            crate::hsm::demo::DEMO_WALLET_PASSWORD,
            crate::hsm::demo::DEMO_USER,
            crate::hsm::demo::DEMO_USER_PIN
        ));
    }
    ui.add_space(4.0);
    egui::Grid::new("console_form")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            let l = ui.label("Statement");
            egui::ComboBox::from_id_salt("console_kind")
                .width(360.0)
                .height(600.0)
                .selected_text(st.kind.title())
                .show_ui(ui, |ui| {
                    for k in Kind::ALL {
                        ui.selectable_value(&mut st.kind, *k, k.title());
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            form_rows_ui(ui, st, db);
        });
    let request = st.request(db);
    ui.add_space(4.0);
    ui.label("What will run (secrets hidden):");
    // Built once a frame: the preview and the Run button's state come from the same result.
    let statement = request.as_ref().map(|r| r.statement());
    match &statement {
        Ok(Ok(s)) => {
            ui.label(RichText::new(&s.display).monospace());
        }
        Ok(Err(e @ crate::tde::sql::SqlError::Empty { .. })) => {
            ui.weak(format!("{e} Type it to see the statement."));
        }
        Ok(Err(e)) => {
            ui.colored_label(Color32::from_rgb(220, 90, 90), e.to_string());
        }
        Err(e) => {
            ui.colored_label(Color32::from_rgb(220, 90, 90), e.as_str());
        }
    }
    let ready = matches!(statement, Ok(Ok(_)));
    let needs_confirm =
        db.connector == ConnectorKind::Sqlplus && request.as_ref().is_ok_and(|r| r.changes_state());
    ui.horizontal(|ui| {
        let label = match db.connector {
            ConnectorKind::Manual => "Show the statement to run",
            _ => "Run",
        };
        let mut go = false;
        if st.confirm && needs_confirm {
            ui.label(
                RichText::new(format!("This changes the database {}. Run it?", db.name)).strong(),
            );
            go = ui
                .add_enabled(
                    !busy && ready,
                    egui::Button::new(format!("Run it on {}", db.name)),
                )
                .clicked();
            if ui.button("Do not run").clicked() {
                st.confirm = false;
            }
        } else if ui
            .add_enabled(!busy && ready, egui::Button::new(label))
            .clicked()
        {
            if needs_confirm {
                st.confirm = true;
            } else {
                go = true;
            }
        }
        if go && let Ok(request) = request {
            st.confirm = false;
            st.error = None;
            st.answer = None;
            st.database = Some(db.name.clone());
            queue.push(Command::OracleRun {
                database: db.clone(),
                request,
                db_password: match (&db.connector, &db.auth) {
                    (ConnectorKind::Sqlplus, DbAuth::User(_)) => Some(st.db_password.to_secret()),
                    _ => None,
                },
                pin_format,
                token,
            });
        }
        if busy {
            ui.spinner();
        }
    });
    ui.separator();
    if let Some(ask) = st.ask.clone() {
        manual_ui(ui, st, &ask, engine);
    }
    if let Some(e) = &st.error {
        ui.colored_label(Color32::from_rgb(220, 90, 90), e);
    }
    if let Some(a) = &st.answer {
        answer_ui(ui, a);
    }
}

fn form_rows_ui(ui: &mut egui::Ui, st: &mut ConsoleState, db: &DatabaseProfile) {
    let (hsm, wallet, choose) = st.needs();
    if choose {
        ui.label("Authenticate with");
        ui.horizontal(|ui| {
            ui.radio_value(&mut st.auth, Auth::Hsm, "HSM user:password");
            ui.radio_value(&mut st.auth, Auth::Wallet, "wallet password");
            ui.radio_value(&mut st.auth, Auth::ExternalStore, "EXTERNAL STORE");
        });
        ui.end_row();
    }
    if hsm {
        super::labelled_edit(ui, "HSM user", &mut st.hsm_user, "crypto user", 220.0);
        ui.end_row();
        let l = ui.label("HSM password");
        password_ui(
            ui,
            l.id,
            egui::Id::unique("console_hsm_pw"),
            &mut st.hsm_password,
        );
        ui.end_row();
    }
    if wallet {
        let l = ui.label("Wallet password");
        password_ui(
            ui,
            l.id,
            egui::Id::unique("console_wallet_pw"),
            &mut st.wallet_password,
        );
        ui.end_row();
    }
    if db.connector == ConnectorKind::Sqlplus
        && let DbAuth::User(u) = &db.auth
    {
        let l = ui.label(format!("Password of {u}"));
        password_ui(
            ui,
            l.id,
            egui::Id::unique("console_db_pw"),
            &mut st.db_password,
        );
        ui.end_row();
    }
    match st.kind {
        Kind::SetTdeConfiguration => {
            let l = ui.label("KEYSTORE_CONFIGURATION");
            egui::ComboBox::from_id_salt("console_config")
                .selected_text(st.configuration.as_str())
                .show_ui(ui, |ui| {
                    for c in KEYSTORE_CONFIGURATIONS {
                        ui.selectable_value(&mut st.configuration, (*c).to_owned(), *c);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
        }
        Kind::UseKey => {
            super::labelled_edit(
                ui,
                "Key id (34 hex digits)",
                &mut st.key_id,
                "06… as in ORACLE.TDE.HSM.MK.06…",
                320.0,
            );
            ui.end_row();
        }
        Kind::SetWalletRoot | Kind::AddHsmSecret | Kind::CreateAutoLogin => {
            let hint = match st.kind {
                Kind::SetWalletRoot => db.wallet_root.clone().unwrap_or_default(),
                Kind::AddHsmSecret => root_dir(db, "tde_seps"),
                _ => root_dir(db, "tde"),
            };
            super::labelled_edit(ui, "Directory", &mut st.dir, &hint, 320.0);
            ui.end_row();
        }
        _ => {}
    }
    if matches!(st.kind, Kind::AddHsmSecret | Kind::CreateAutoLogin) {
        ui.label("Auto-login");
        ui.checkbox(&mut st.local, "LOCAL (this host only)");
        ui.end_row();
    }
    if matches!(st.kind, Kind::Migrate | Kind::SetKey) {
        ui.label("Backup");
        ui.checkbox(&mut st.with_backup, "WITH BACKUP");
        ui.end_row();
    }
    if matches!(st.kind, Kind::UseKey | Kind::Backup)
        || (matches!(st.kind, Kind::Migrate | Kind::SetKey) && st.with_backup)
    {
        super::labelled_edit(ui, "Tag", &mut st.tag, "optional", 220.0);
        ui.end_row();
    }
    if db.multitenant != crate::model::Multitenant::NonCdb
        && matches!(
            st.kind,
            Kind::Open | Kind::Close | Kind::Migrate | Kind::SetKey
        )
    {
        ui.label("Containers");
        ui.checkbox(&mut st.all_containers, "CONTAINER = ALL");
        ui.end_row();
    }
}

fn manual_ui(ui: &mut egui::Ui, st: &mut ConsoleState, ask: &ManualAsk, engine: &Engine) {
    ui.heading(format!(
        "Run this statement on {}: {}",
        st.database.as_deref().unwrap_or("the database"),
        ask.title
    ));
    ui.label("Run it in SQL*Plus (or SQL Developer) connected AS SYSKM, then paste everything it printed below.");
    let text = if st.reveal {
        ask.sql.expose().to_owned()
    } else {
        ask.display.clone()
    };
    egui::Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .inner_margin(6.0)
        .show(ui, |ui| {
            ui.label(RichText::new(text).monospace());
        });
    ui.horizontal(|ui| {
        ui.checkbox(&mut st.reveal, "Reveal secrets");
        if ui
            .button("Copy statement")
            .on_hover_text("Copies the statement with its secrets, ready to paste into SQL*Plus")
            .clicked()
        {
            ui.ctx().copy_text(ask.sql.expose().to_owned());
        }
    });
    if let Some(p) = &ask.problem {
        ui.colored_label(Color32::from_rgb(220, 90, 90), p);
    }
    let l = ui.label("Pasted output");
    ui.add(
        egui::TextEdit::multiline(&mut st.paste)
            .code_editor()
            .desired_rows(6)
            .desired_width(f32::INFINITY)
            .hint_text("keystore altered.   or the rows of the query   or the ORA- error"),
    )
    .labelled_by(l.id);
    ui.horizontal(|ui| {
        if ui.button("Check the output").clicked() {
            engine.manual_reply(ManualReply::Pasted(std::mem::take(&mut st.paste)));
            st.ask = None;
        }
        if ui.button("Cancel").clicked() {
            engine.manual_reply(ManualReply::Cancel);
            st.ask = None;
        }
    });
}

fn answer_ui(ui: &mut egui::Ui, a: &OracleAnswer) {
    let reply = &a.answer.reply;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("{} — {}", a.database, a.title)).strong());
        ui.label(format!("via {}", a.connector));
    });
    match reply {
        Reply::Error { error, more } => {
            ui.colored_label(
                Color32::from_rgb(220, 90, 90),
                format!("Oracle refused: {}: {}", error.code, error.text),
            );
            for m in more {
                ui.colored_label(
                    Color32::from_rgb(220, 90, 90),
                    format!("{}: {}", m.code, m.text),
                );
            }
        }
        Reply::Done { feedback } => {
            ui.colored_label(Color32::from_rgb(90, 180, 90), feedback);
        }
        Reply::Parameter { parameter } => {
            ui.label(
                RichText::new(format!("{} = {}", parameter.name, parameter.value)).monospace(),
            );
        }
        Reply::Rows { rows } => {
            if rows.is_empty() {
                ui.label("no rows selected");
            } else {
                egui::ScrollArea::horizontal()
                    .id_salt("answer_rows")
                    .show(ui, |ui| {
                        egui::Grid::new("answer_grid")
                            .striped(true)
                            .spacing([12.0, 4.0])
                            .show(ui, |ui| {
                                for (c, _) in &rows[0].0 {
                                    ui.label(RichText::new(c).strong());
                                }
                                ui.end_row();
                                for r in rows {
                                    for (_, v) in &r.0 {
                                        ui.label(RichText::new(v).monospace());
                                    }
                                    ui.end_row();
                                }
                            });
                    });
                ui.small(match rows.len() {
                    1 => "1 row".to_owned(),
                    n => format!("{n} rows"),
                });
            }
        }
    }
    for n in &a.answer.notes {
        ui.label(format!("Note: {n}"));
    }
    if !a.answer.hsm_created.is_empty() {
        ui.label("Created on the HSM:");
        for l in &a.answer.hsm_created {
            ui.label(RichText::new(l).monospace());
        }
    }
}
