//! The database console: choose a statement, see exactly what will run (secrets hidden), run it
//! through the profile's connector, and read what the database answered. With the Manual
//! connector the DBA runs the statement elsewhere and pastes the output here.

use super::secret_field::{clear_password, password_ui};
use crate::engine::{Command, Engine, ManualAsk, ManualReply, OracleAnswer, Task};
use crate::model::PinFormat;
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth};
use crate::secret::SecretBuffer;
use crate::tde::request::{CredentialChoice, Draft, DraftError, Reply, Request, RequestKind};
use crate::tde::sql::KEYSTORE_CONFIGURATIONS;
use egui::{Color32, RichText};

#[derive(Default)]
pub struct ConsoleState {
    /// The form's plain fields. Its secrets stay empty here: the passwords are typed into the
    /// buffers below and put into a copy of the draft only when the request is built.
    pub draft: Draft,
    pub hsm_password: SecretBuffer,
    pub wallet_password: SecretBuffer,
    pub db_password: SecretBuffer,
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

impl ConsoleState {
    /// The form's fields as a [`Draft`].
    fn draft(&self) -> Draft {
        Draft {
            hsm_password: self.hsm_password.to_secret(),
            wallet_password: self.wallet_password.to_secret(),
            ..self.draft.clone()
        }
    }

    /// The request the form describes, or a sentence saying what is missing.
    pub fn request(&self, db: &DatabaseProfile) -> Result<Request, DraftError> {
        self.draft().build(db)
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
    if st.draft.hsm_user.is_empty()
        && let Some(u) = hsm_user.or(hsm_profile.map(|p| p.user_name.as_str()))
    {
        u.clone_into(&mut st.draft.hsm_user);
    }
    let pin_format = hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format);
    let token = hsm_profile.map(crate::model::HsmProfile::selector);
    let busy = engine.is_pending(Task::Oracle);
    ui.horizontal(|ui| {
        ui.heading(format!("Run against {}", db.name));
        match db.connector {
            ConnectorKind::Rehearsal => {
                super::console::rehearsal_badge_ui(ui);
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
                .selected_text(st.draft.kind.title())
                .show_ui(ui, |ui| {
                    for k in RequestKind::ALL {
                        ui.selectable_value(&mut st.draft.kind, *k, k.title());
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            form_rows_ui(ui, st, db, pin_format);
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
            ui.colored_label(Color32::from_rgb(220, 90, 90), e.to_string());
        }
    }
    let ready = matches!(statement, Ok(Ok(_)));
    // tdekey sends it (SQL*Plus) or acts it out on the token (Rehearsal): a statement that
    // changes the database asks first. A Manual statement is run by the DBA.
    let needs_confirm =
        db.connector != ConnectorKind::Manual && request.as_ref().is_ok_and(|r| r.changes_state());
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

fn form_rows_ui(
    ui: &mut egui::Ui,
    st: &mut ConsoleState,
    db: &DatabaseProfile,
    pin_format: PinFormat,
) {
    let needs = st.draft.needs();
    if needs.credential_choice {
        ui.label("Authenticate with");
        ui.horizontal(|ui| {
            ui.radio_value(
                &mut st.draft.credential,
                CredentialChoice::Hsm,
                "HSM user:password",
            );
            ui.radio_value(
                &mut st.draft.credential,
                CredentialChoice::Wallet,
                "wallet password",
            );
            ui.radio_value(
                &mut st.draft.credential,
                CredentialChoice::ExternalStore,
                "EXTERNAL STORE",
            );
        });
        ui.end_row();
    }
    if needs.hsm_login {
        super::labelled_edit(ui, "HSM user", &mut st.draft.hsm_user, "crypto user", 220.0);
        ui.end_row();
        let l = ui.label("HSM password");
        password_ui(
            ui,
            l.id,
            egui::Id::unique("console_hsm_pw"),
            &mut st.hsm_password,
        );
        ui.end_row();
        ui.label("");
        ui.small(super::secret_field::hsm_password_hint(
            pin_format,
            &st.draft.hsm_user,
        ));
        ui.end_row();
    }
    if needs.wallet_password {
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
    if needs.configuration {
        let l = ui.label("KEYSTORE_CONFIGURATION");
        egui::ComboBox::from_id_salt("console_config")
            .selected_text(st.draft.configuration.as_str())
            .show_ui(ui, |ui| {
                for c in KEYSTORE_CONFIGURATIONS {
                    ui.selectable_value(&mut st.draft.configuration, (*c).to_owned(), *c);
                }
            })
            .response
            .labelled_by(l.id);
        ui.end_row();
    }
    if needs.key_id {
        super::labelled_edit(
            ui,
            "Key id (34 hex digits)",
            &mut st.draft.key_id,
            "06… as in ORACLE.TDE.HSM.MK.06…",
            320.0,
        );
        ui.end_row();
    }
    if let Some(field) = needs.directory {
        let hint = field.default_for(db);
        super::labelled_edit(ui, "Directory", &mut st.draft.dir, &hint, 320.0);
        ui.end_row();
    }
    if needs.local {
        ui.label("Auto-login");
        ui.checkbox(&mut st.draft.local, "LOCAL (this host only)");
        ui.end_row();
    }
    if needs.with_backup {
        ui.label("Backup");
        ui.checkbox(&mut st.draft.with_backup, "WITH BACKUP");
        ui.end_row();
    }
    if needs.tag {
        super::labelled_edit(ui, "Tag", &mut st.draft.tag, "optional", 220.0);
        ui.end_row();
    }
    if needs.all_containers && db.multitenant != crate::model::Multitenant::NonCdb {
        ui.label("Containers");
        ui.checkbox(&mut st.draft.all_containers, "CONTAINER = ALL");
        ui.end_row();
    }
}

pub(super) fn manual_ui(
    ui: &mut egui::Ui,
    st: &mut ConsoleState,
    ask: &ManualAsk,
    engine: &Engine,
) {
    ui.heading(format!(
        "Run this statement on {}: {}",
        ask.database, ask.title
    ));
    ui.label("Run it in SQL*Plus (or SQL Developer) connected as the database profile says (AS SYSDBA for ALTER SYSTEM and SHOW PARAMETER; AS SYSKM is enough for ADMINISTER KEY MANAGEMENT and the encryption views), then paste everything it printed below.");
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
    // Esc cancels the pending paste, as Cancel does.
    if ui.ctx().input(|i| i.key_pressed(egui::Key::Escape)) {
        engine.manual_reply(ManualReply::Cancel);
        st.ask = None;
        return;
    }
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

/// The orange REHEARSAL badge beside a heading: what follows runs against a simulation.
pub(super) fn rehearsal_badge_ui(ui: &mut egui::Ui) {
    ui.label(
        RichText::new(" REHEARSAL ")
            .strong()
            .color(Color32::BLACK)
            .background_color(REHEARSAL_BADGE),
    );
}
