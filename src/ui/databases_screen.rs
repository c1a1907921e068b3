//! The Databases screen: database profiles (how tdekey reaches each Oracle database). No
//! passwords are kept; a named user's password is asked when it is needed.

use super::{Banner, banner_ui, labelled_edit};
use crate::engine::{Command, Engine, StoreCommand, Task};
use crate::model::{ConnectAs, ConnectorKind, DatabaseProfile, DbAuth, HsmProfile, Multitenant};
use egui::RichText;

/// The profile being edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbForm {
    pub name: String,
    pub connector: ConnectorKind,
    pub oracle_home: String,
    pub sid: String,
    pub connect: String,
    pub use_connect_string: bool,
    pub os_auth: bool,
    pub db_user: String,
    pub wallet_root: String,
    pub multitenant: Multitenant,
    pub rac: bool,
    /// The RAC nodes' host names, separated by commas or spaces.
    pub rac_nodes: String,
    /// The standbys as NAME@HOST, separated by commas or spaces.
    pub standbys: String,
    pub connect_as: ConnectAs,
    pub hsm_profile: String,
    /// Set when the form shows a saved profile.
    pub saved_name: Option<String>,
}

impl Default for DbForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            connector: ConnectorKind::Manual,
            oracle_home: String::new(),
            sid: String::new(),
            connect: String::new(),
            use_connect_string: false,
            os_auth: true,
            db_user: String::new(),
            wallet_root: String::new(),
            multitenant: Multitenant::NonCdb,
            rac: false,
            rac_nodes: String::new(),
            standbys: String::new(),
            connect_as: ConnectAs::Sysdba,
            hsm_profile: String::new(),
            saved_name: None,
        }
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The words of a list typed with commas, spaces or line breaks between them.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ' ', '\n', '\t', ';'])
        .filter(|w| !w.is_empty())
}

impl DbForm {
    fn from_profile(d: &DatabaseProfile) -> Self {
        Self {
            name: d.name.clone(),
            connector: d.connector,
            oracle_home: d.oracle_home.clone().unwrap_or_default(),
            sid: d.oracle_sid.clone().unwrap_or_default(),
            connect: d.connect_string.clone().unwrap_or_default(),
            use_connect_string: d.connect_string.is_some(),
            os_auth: d.auth == DbAuth::Os,
            db_user: match &d.auth {
                DbAuth::User(u) => u.clone(),
                DbAuth::Os => String::new(),
            },
            wallet_root: d.wallet_root.clone().unwrap_or_default(),
            multitenant: d.multitenant,
            rac: d.rac,
            rac_nodes: d.rac_nodes.join(", "),
            standbys: d
                .standbys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            connect_as: d.connect_as,
            hsm_profile: d.hsm_profile.clone().unwrap_or_default(),
            saved_name: Some(d.name.clone()),
        }
    }

    fn to_profile(&self) -> DatabaseProfile {
        DatabaseProfile {
            id: None,
            name: self.name.trim().to_owned(),
            connector: self.connector,
            oracle_home: opt(&self.oracle_home),
            oracle_sid: opt(&self.sid).filter(|_| !self.use_connect_string),
            connect_string: opt(&self.connect).filter(|_| self.use_connect_string),
            auth: if self.os_auth {
                DbAuth::Os
            } else {
                DbAuth::User(self.db_user.trim().to_owned())
            },
            connect_as: self.connect_as,
            wallet_root: opt(&self.wallet_root),
            multitenant: self.multitenant,
            rac: self.rac || words(&self.rac_nodes).next().is_some(),
            rac_nodes: words(&self.rac_nodes).map(str::to_owned).collect(),
            standbys: words(&self.standbys)
                .map(crate::model::Standby::parse)
                .collect(),
            hsm_profile: opt(&self.hsm_profile),
        }
    }
}

/// The views of a saved database profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DbTab {
    #[default]
    Profile,
    Console,
    Wallet,
    Migration,
    Recoverability,
}

#[derive(Default)]
pub struct DatabasesState {
    pub databases: Vec<DatabaseProfile>,
    pub form: DbForm,
    pub banner: Option<Banner>,
    pub console: super::console::ConsoleState,
    pub wallet: super::wallet_tab::WalletTabState,
    pub migration: super::migration_tab::MigrationTabState,
    /// The Recoverability tab, and the last report of each database (not kept on disk).
    pub recover: super::recover_tab::RecoverTabState,
    /// Which view of a saved profile is shown.
    pub tab: DbTab,
    pub loaded: bool,
    /// "Delete the profile of NAME?" is open.
    pub confirm_delete: Option<String>,
    /// Databases whose active master key is missing from the connected token (shown in red).
    pub missing_keys: std::collections::HashSet<String>,
    /// tdekey's data directory (where Rehearsal databases keep their simulated hosts).
    pub data_root: std::path::PathBuf,
    /// Where each database stands with its migrations (shown in the list).
    pub standings: std::collections::BTreeMap<String, crate::migration::Standing>,
}

impl DatabasesState {
    pub fn on_databases(
        &mut self,
        databases: Vec<DatabaseProfile>,
        saved: Option<String>,
        standings: std::collections::BTreeMap<String, crate::migration::Standing>,
    ) {
        let first_load = self.databases.is_empty() && saved.is_none();
        self.databases = databases;
        self.standings = standings;
        // A database with a migration under way reopens on its Migration tab, where it stands.
        if first_load
            && self.form == DbForm::default()
            && let Some(d) = self
                .databases
                .iter()
                .find(|d| self.standings.get(&d.name).is_some_and(|s| s.in_progress()))
        {
            self.form = DbForm::from_profile(d);
            self.tab = DbTab::Migration;
            return;
        }
        // A new user's first look: the first profile (the Rehearsal demo after `make run`),
        // on its console, rather than an empty form.
        if first_load
            && self.form == DbForm::default()
            && let Some(d) = self
                .databases
                .iter()
                .find(|d| d.connector == ConnectorKind::Rehearsal)
                .or(self.databases.first())
        {
            self.form = DbForm::from_profile(d);
            self.tab = DbTab::Console;
            return;
        }
        if let Some(name) = saved {
            self.form.saved_name = Some(name.clone());
            self.banner = Some(Banner {
                text: format!("Database profile {name:?} saved."),
                error: false,
                reconnect: false,
            });
        } else if let Some(n) = &self.form.saved_name
            && !self.databases.iter().any(|d| &d.name == n)
        {
            self.form = DbForm::default();
        }
    }

    /// Shows a saved database's Migration tab (from another screen's link).
    pub fn open_migration(&mut self, name: &str) {
        if let Some(d) = self.databases.iter().find(|d| d.name == name) {
            self.form = DbForm::from_profile(d);
            self.tab = DbTab::Migration;
        }
    }
}

pub fn databases_ui(
    ui: &mut egui::Ui,
    st: &mut DatabasesState,
    hsm: &super::hsm_screen::HsmState,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    let hsm_profiles = &hsm.profiles;
    if !st.loaded {
        st.loaded = true;
        queue.push(Command::Store(StoreCommand::LoadDatabases));
    }
    banner_ui(ui, &mut st.banner);
    let busy = engine.is_pending(Task::Databases);
    egui::Panel::left("database_list")
        .resizable(true)
        .default_size(260.0)
        .show(ui, |ui| {
            ui.heading("Databases");
            if ui
                .selectable_label(st.form.saved_name.is_none(), "New database profile")
                .clicked()
            {
                st.form = DbForm::default();
            }
            ui.separator();
            for d in &st.databases {
                let missing = st.missing_keys.contains(&d.name);
                let standing = st
                    .standings
                    .get(&d.name)
                    .map(|s| format!("\n{}", s.describe()))
                    .unwrap_or_default();
                let label = egui::RichText::new(format!(
                    "{} — {}{standing}",
                    d.name,
                    d.connector.as_str()
                ));
                let label = if missing {
                    label.color(egui::Color32::from_rgb(235, 90, 80))
                } else {
                    label
                };
                let r = ui.selectable_label(
                    st.form.saved_name.as_deref() == Some(d.name.as_str()),
                    label,
                );
                let r = if missing {
                    r.on_hover_text("Its active master key is not on the connected token: see the Rotation screen.")
                } else {
                    r
                };
                if r.clicked() {
                    st.form = DbForm::from_profile(d);
                    if d.connector == ConnectorKind::Rehearsal && st.tab == DbTab::Profile {
                        st.tab = DbTab::Console;
                    }
                }
            }
            if st.databases.is_empty() {
                ui.label("No database profiles yet.");
            }
        });
    egui::CentralPanel::default().show(ui, |ui| {
        let saved = st
            .form
            .saved_name
            .as_ref()
            .and_then(|n| st.databases.iter().find(|d| &d.name == n))
            .cloned();
        if saved.is_some() {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut st.tab, DbTab::Profile, "Profile");
                ui.selectable_value(&mut st.tab, DbTab::Console, "Console");
                ui.selectable_value(&mut st.tab, DbTab::Wallet, "Wallet");
                ui.selectable_value(&mut st.tab, DbTab::Migration, "Migration");
                ui.selectable_value(&mut st.tab, DbTab::Recoverability, "Recoverability");
            });
            ui.separator();
        }
        egui::ScrollArea::both().show(ui, |ui| match &saved {
            Some(db) if st.tab == DbTab::Migration => {
                let profile = db
                    .hsm_profile
                    .as_ref()
                    .and_then(|n| hsm_profiles.iter().find(|p| &p.name == n));
                super::migration_tab::migration_ui(
                    ui,
                    &mut st.migration,
                    db,
                    profile,
                    hsm.login.is_some(),
                    (engine, &st.data_root),
                    queue,
                );
                // Once it is finished: what the recoverability report says about retiring the
                // file wallet.
                let m = &st.migration;
                if m.viewing_past.is_none()
                    && let Some(s) = m
                        .state
                        .as_ref()
                        .filter(|s| s.rollback.is_none() && s.finished())
                {
                    let path_b = s.path == Some(crate::migration::Path::OtherHsm);
                    let can_check = hsm.login.is_some() && !engine.is_pending(Task::Recoverability);
                    let mut open = false;
                    ui.add_space(8.0);
                    super::recover_tab::retire_wallet_ui(
                        ui,
                        &st.recover,
                        (db, profile),
                        (path_b, can_check),
                        queue,
                        &mut open,
                    );
                    if open {
                        st.tab = DbTab::Recoverability;
                    }
                }
            }
            Some(db) if st.tab == DbTab::Recoverability => {
                let profile = db
                    .hsm_profile
                    .as_ref()
                    .and_then(|n| hsm_profiles.iter().find(|p| &p.name == n));
                super::recover_tab::recover_ui(
                    ui,
                    &mut st.recover,
                    db,
                    profile,
                    hsm.login.is_some(),
                    &st.data_root,
                    engine,
                    queue,
                )
            }
            Some(db) if st.tab == DbTab::Wallet => {
                super::wallet_tab::wallet_ui(ui, &mut st.wallet, db, &st.data_root, engine, queue)
            }
            Some(db) if st.tab == DbTab::Console => {
                let profile = db
                    .hsm_profile
                    .as_ref()
                    .and_then(|n| hsm_profiles.iter().find(|p| &p.name == n));
                super::console::console_ui(
                    ui,
                    &mut st.console,
                    db,
                    hsm.login.as_ref().map(|(_, u)| u.as_str()),
                    profile,
                    engine,
                    queue,
                );
            }
            _ => form_ui(ui, st, hsm_profiles, busy, queue),
        });
    });
}

fn form_ui(
    ui: &mut egui::Ui,
    st: &mut DatabasesState,
    hsm_profiles: &[HsmProfile],
    busy: bool,
    queue: &mut Vec<Command>,
) {
    if let Some(name) = st.confirm_delete.clone() {
        match super::confirm::confirm_ui(
            ui.ctx(),
            &format!("Delete the database profile {name}?"),
            "tdekey forgets how to reach this database: its connector, ORACLE_HOME, SID, WALLET_ROOT and HSM profile. Nothing in the database or on the HSM changes, and its migration and rotation records and audit entries stay. This cannot be undone: to use it again, add the profile again.",
            &format!("Delete {name}"),
        ) {
            Some(super::confirm::Answer::Yes) => {
                st.confirm_delete = None;
                queue.push(Command::Store(StoreCommand::DeleteDatabase { name }));
            }
            Some(super::confirm::Answer::No) => st.confirm_delete = None,
            None => {}
        }
    }
    let f = &mut st.form;
    ui.heading(if f.saved_name.is_some() {
        "Database profile"
    } else {
        "New database profile"
    });
    egui::Grid::new("db_form")
        .num_columns(2)
        .spacing([10.0, 8.0])
        .show(ui, |ui| {
            labelled_edit(ui, "Name", &mut f.name, "ORCL production", 320.0);
            ui.end_row();
            ui.label("Connector");
            ui.horizontal(|ui| {
                ui.radio_value(&mut f.connector, ConnectorKind::Manual, "Manual")
                    .on_hover_text("tdekey shows each statement; you run it and paste the output");
                ui.radio_value(&mut f.connector, ConnectorKind::Sqlplus, "SQL*Plus")
                    .on_hover_text("tdekey runs sqlplus from ORACLE_HOME");
                ui.radio_value(&mut f.connector, ConnectorKind::Rehearsal, "Rehearsal")
                    .on_hover_text("a simulated keystore on the HSM connection, to try things out");
            });
            ui.end_row();
            labelled_edit(
                ui,
                "ORACLE_HOME",
                &mut f.oracle_home,
                "/u01/app/oracle/product/19.0.0/dbhome_1",
                320.0,
            );
            ui.end_row();
            ui.label("Reach it by");
            ui.horizontal(|ui| {
                ui.radio_value(
                    &mut f.use_connect_string,
                    false,
                    "a local instance (ORACLE_SID)",
                );
                ui.radio_value(
                    &mut f.use_connect_string,
                    true,
                    "a connect string (TNS alias or EZConnect)",
                );
            });
            ui.end_row();
            if f.use_connect_string {
                labelled_edit(
                    ui,
                    "Connect string",
                    &mut f.connect,
                    "dbhost:1521/ORCL",
                    320.0,
                );
            } else {
                labelled_edit(ui, "ORACLE_SID", &mut f.sid, "ORCL", 320.0);
            }
            ui.end_row();
            ui.label("Log in");
            ui.horizontal(|ui| {
                ui.radio_value(&mut f.os_auth, true, "OS authentication (/)");
                ui.radio_value(&mut f.os_auth, false, "A named user");
            });
            ui.end_row();
            ui.label("Connect as");
            ui.horizontal(|ui| {
                ui.radio_value(&mut f.connect_as, ConnectAs::Sysdba, "SYSDBA")
                    .on_hover_text("Every step of a migration: ALTER SYSTEM, SHOW PARAMETER and ADMINISTER KEY MANAGEMENT.");
                ui.radio_value(&mut f.connect_as, ConnectAs::Syskm, "SYSKM")
                    .on_hover_text("ADMINISTER KEY MANAGEMENT and the encryption views only: not ALTER SYSTEM nor SHOW PARAMETER. The wizard says at step 1 which steps then need a DBA.");
                ui.radio_value(&mut f.connect_as, ConnectAs::Normal, "No administrative privilege")
                    .on_hover_text("A named user with the privileges granted to it (ADMINISTER KEY MANAGEMENT, ALTER SYSTEM, SELECT on V$PARAMETER); step 1 reads them.");
            });
            ui.end_row();
            if !f.os_auth {
                labelled_edit(ui, "Database user", &mut f.db_user, "c##tde_admin", 320.0);
                ui.end_row();
            }
            labelled_edit(
                ui,
                "WALLET_ROOT",
                &mut f.wallet_root,
                "/u01/app/oracle/admin/ORCL/wallet",
                320.0,
            );
            ui.end_row();
            ui.label("Multitenant");
            ui.horizontal(|ui| {
                ui.radio_value(&mut f.multitenant, Multitenant::NonCdb, "Non-CDB");
                ui.radio_value(&mut f.multitenant, Multitenant::CdbUnited, "CDB, united");
                ui.radio_value(
                    &mut f.multitenant,
                    Multitenant::CdbIsolated,
                    "CDB, isolated PDBs",
                );
            });
            ui.end_row();
            ui.label("RAC");
            ui.checkbox(
                &mut f.rac,
                "Real Application Clusters (parameters set with SID='*')",
            );
            ui.end_row();
            labelled_edit(ui, "RAC nodes", &mut f.rac_nodes, "rac1, rac2", 320.0)
                .on_hover_text("Each node's host name as `hostname` prints it there: the migration wizard checks the HSM client, Oracle's PKCS#11 library and the wallet files on each.");
            ui.end_row();
            labelled_edit(
                ui,
                "Data Guard standbys",
                &mut f.standbys,
                "FINSBY@sby1.example.com",
                320.0,
            )
            .on_hover_text("Each standby as DB_UNIQUE_NAME@HOST (a RAC standby once per host): the wizard checks each host and says what each standby needs before the migration.");
            ui.end_row();
            let l = ui.label("HSM connection");
            egui::ComboBox::from_id_salt("db_hsm_profile")
                .selected_text(if f.hsm_profile.is_empty() {
                    "none"
                } else {
                    f.hsm_profile.as_str()
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut f.hsm_profile, String::new(), "none");
                    for p in hsm_profiles {
                        ui.selectable_value(&mut f.hsm_profile, p.name.clone(), &p.name);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
        });
    if f.connector == ConnectorKind::Rehearsal {
        ui.label(RichText::new("Rehearsal is a simulation: it is labelled as such everywhere and never touches a real database.").italics());
    }
    ui.small("No password is kept: a named user's password is asked when it is needed.");
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        if ui.add_enabled(!busy, egui::Button::new("Save database profile")).clicked() {
            queue.push(Command::Store(StoreCommand::SaveDatabase {
                profile: f.to_profile(),
            }));
        }
        if let Some(name) = f.saved_name.clone()
            && ui
                .add_enabled(!busy, egui::Button::new("Delete database profile"))
                .on_hover_text("Deletes tdekey's settings only; nothing in the database or on the HSM changes.")
                .clicked()
        {
            st.confirm_delete = Some(name);
        }
        if busy {
            ui.spinner();
        }
    });
}
