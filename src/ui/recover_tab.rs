//! Databases › Recoverability (issue #23): can everything the database's data and backups need
//! still be decrypted? The check reads the database's views, tdekey's records, the wallets on
//! this machine and tdekey's backups, and looks each master key up on the HSM; the window shows
//! which key is missing and what depends on it, and writes the report for a change ticket.
//!
//! The last report of each database is kept while the window runs (never on disk): the
//! Migration tab's "Before you retire the file wallet" box and the Keys screen's verdict on an
//! HSM key read it.

use super::secret_field::{clear_password, password_ui};
use crate::engine::{Checked, Command, Engine, RecoverCommand, RecoverInputs, Task};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, HsmProfile, PinFormat};
use crate::recover::{KeyFinding, Recoverability, Retiring};
use crate::secret::SecretBuffer;
use egui::{Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

const BAD: Color32 = Color32::from_rgb(235, 90, 80);
const OK: Color32 = Color32::from_rgb(90, 180, 90);
const WAIT: Color32 = Color32::from_rgb(230, 170, 60);

#[derive(Default)]
pub struct RecoverTabState {
    /// The profile the fields below were filled for.
    pub for_profile: Option<String>,
    /// Typed for one check: emptied when the check is sent.
    pub wallet_password: SecretBuffer,
    pub backup_passphrase: SecretBuffer,
    /// SQL*Plus with a named user: that user's password (emptied when the check is sent).
    pub db_password: SecretBuffer,
    /// A WALLET_ROOT to read instead of the profile's.
    pub wallet_root: String,
    /// The field's hint: where the profile's WALLET_ROOT is on this machine, found once per
    /// profile (it looks at the disk: not on every frame).
    root_hint: String,
    /// tdekey wallet backups to open besides the ones the store records.
    pub backups: Vec<PathBuf>,
    /// The last report of each database, while the window runs.
    pub reports: HashMap<String, Checked>,
    /// Why the last check or write failed.
    pub error: Option<String>,
    /// Where the last report was written.
    pub written: Option<String>,
    /// The file the next "Write HTML…" or "Write JSON…" writes without asking (an existing
    /// file is then left as it was): what a save dialog would answer, for tests.
    pub save_to: Option<PathBuf>,
}

fn id(name: &str) -> egui::Id {
    egui::Id::unique(("recoverability", name))
}

impl RecoverTabState {
    pub fn on_checked(&mut self, checked: Checked) {
        self.error = None;
        self.written = None;
        self.reports
            .insert(checked.report.database.clone(), checked);
    }

    pub fn on_failed(&mut self, message: String) {
        self.error = Some(message);
    }

    pub fn on_backup_picked(&mut self, path: Option<PathBuf>) {
        if let Some(p) = path
            && !self.backups.contains(&p)
        {
            self.backups.push(p);
        }
    }

    pub fn on_written(&mut self, path: Option<PathBuf>) {
        if let Some(p) = path {
            self.error = None;
            self.written = Some(p.display().to_string());
        }
    }

    /// The check as the fields stand; the secrets typed leave the fields now.
    fn check(
        &mut self,
        ctx: &egui::Context,
        db: &DatabaseProfile,
        hsm_profile: Option<&HsmProfile>,
    ) -> Command {
        let secret = |b: &SecretBuffer| (!b.is_empty()).then(|| b.to_secret());
        let inputs = RecoverInputs {
            database: db.name.clone(),
            wallet_password: secret(&self.wallet_password),
            backups: self.backups.clone(),
            backup_passphrase: secret(&self.backup_passphrase),
            wallet_root: Some(PathBuf::from(self.wallet_root.trim()))
                .filter(|p| !p.as_os_str().is_empty()),
            db_password: match (&db.connector, &db.auth) {
                (ConnectorKind::Sqlplus, DbAuth::User(_)) => secret(&self.db_password),
                _ => None,
            },
            pin_format: hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format),
            token: hsm_profile.map(HsmProfile::selector),
        };
        clear_password(ctx, id("wallet_pw"), &mut self.wallet_password);
        clear_password(ctx, id("backup_pw"), &mut self.backup_passphrase);
        clear_password(ctx, id("db_pw"), &mut self.db_password);
        self.error = None;
        self.written = None;
        Command::Recover(RecoverCommand::Check(Box::new(inputs)))
    }
}

/// The check with nothing typed (the hooks' button): the profile's WALLET_ROOT, the backups
/// tdekey recorded, an auto-login `cwallet.sso` where there is one.
pub(super) fn check_without_secrets(
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
) -> Command {
    Command::Recover(RecoverCommand::Check(Box::new(RecoverInputs {
        database: db.name.clone(),
        wallet_password: None,
        backups: Vec::new(),
        backup_passphrase: None,
        wallet_root: None,
        db_password: None,
        pin_format: hsm_profile.map_or(PinFormat::Plain, |p| p.pin_format),
        token: hsm_profile.map(HsmProfile::selector),
    })))
}

/// Where a profile's WALLET_ROOT is on this machine, for the field's hint.
fn local_root(db: &DatabaseProfile, data_root: &std::path::Path) -> String {
    crate::recover::local_wallet_root(db, &crate::paths::DataDir::at(data_root))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "a copy of its WALLET_ROOT on this machine".to_owned())
}

#[allow(clippy::too_many_arguments)]
pub fn recover_ui(
    ui: &mut egui::Ui,
    st: &mut RecoverTabState,
    db: &DatabaseProfile,
    hsm_profile: Option<&HsmProfile>,
    logged_in: bool,
    data_root: &std::path::Path,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    if st.for_profile.as_deref() != Some(db.name.as_str()) {
        st.for_profile = Some(db.name.clone());
        st.root_hint = local_root(db, data_root);
        // What was typed for another database is not for this one.
        clear_password(ui.ctx(), id("wallet_pw"), &mut st.wallet_password);
        clear_password(ui.ctx(), id("backup_pw"), &mut st.backup_passphrase);
        clear_password(ui.ctx(), id("db_pw"), &mut st.db_password);
        st.wallet_root.clear();
        st.backups.clear();
        st.error = None;
        st.written = None;
    }
    let busy = engine.is_pending(Task::Recoverability);
    ui.horizontal(|ui| {
        ui.heading(format!("Recoverability of {}", db.name));
        if db.connector == ConnectorKind::Rehearsal {
            super::console::rehearsal_badge_ui(ui);
        }
        if busy {
            ui.spinner();
        }
    });
    ui.label("Checks that every master key the database's data, backups and archived redo may need can still be found: on the HSM by its label, in the file keystore and Oracle's backups of it, and in tdekey's wallet backups. Nothing is changed; the check is recorded in the audit log, and the passwords typed are not kept.");
    if db.name == crate::hsm::demo::DEMO_DATABASE_NAME {
        ui.small(format!(
            "Demo values (not secrets): wallet password {}; the backup passphrase is the one typed at the migration's step 6.",
            crate::hsm::demo::DEMO_WALLET_PASSWORD
        ));
    }
    if !logged_in {
        ui.colored_label(
            WAIT,
            "Log in to the HSM first (HSM screen): keys are looked up with that session, as Oracle's crypto user sees them.",
        );
    }
    form_ui(ui, st, db, data_root, engine, queue);
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                logged_in && !busy,
                egui::Button::new("Check recoverability"),
            )
            .clicked()
        {
            let cmd = st.check(ui.ctx(), db, hsm_profile);
            queue.push(cmd);
        }
        if busy {
            ui.label("Checking: reading the views, the wallets, the backups and the HSM…");
        }
    });
    if let Some(e) = &st.error {
        ui.colored_label(BAD, e);
    }
    let Some(checked) = st.reports.get(&db.name).cloned() else {
        return;
    };
    ui.separator();
    let writing = engine.is_pending(Task::RecoverabilityWrite);
    // The files for a change ticket, above the table (which may be long).
    ui.horizontal(|ui| {
        for (label, json) in [("Write HTML…", false), ("Write JSON…", true)] {
            if ui
                .add_enabled(!writing, egui::Button::new(label))
                .on_hover_text("Asks where to save it; the file and its SHA-256 are recorded in the audit log.")
                .clicked()
            {
                queue.push(Command::Recover(RecoverCommand::Write {
                    report: checked.report.clone(),
                    json,
                    path: st.save_to.take(),
                }));
            }
        }
        if writing {
            ui.spinner();
        }
        if let Some(p) = &st.written {
            ui.colored_label(OK, format!("Report written to {p}."));
        }
    });
    report_ui(ui, &checked.report);
}

fn form_ui(
    ui: &mut egui::Ui,
    st: &mut RecoverTabState,
    db: &DatabaseProfile,
    data_root: &std::path::Path,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    let width = (ui.available_width() - 260.0).clamp(320.0, 760.0);
    egui::Grid::new("recover_form")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            let l = ui.label("Wallet password (optional)");
            password_ui(ui, l.id, id("wallet_pw"), &mut st.wallet_password)
                .on_hover_text("Opens ewallet.p12, Oracle's backups of it and the keystores inside tdekey's backups. Without it only an auto-login cwallet.sso is read.");
            ui.end_row();
            let l = ui.label("Backup passphrase (optional)");
            password_ui(ui, l.id, id("backup_pw"), &mut st.backup_passphrase)
                .on_hover_text("Opens tdekey's sealed wallet backups (the migration's, and the files listed below).");
            ui.end_row();
            if let (ConnectorKind::Sqlplus, DbAuth::User(u)) = (&db.connector, &db.auth) {
                let l = ui.label(format!("Password of {u}"));
                password_ui(ui, l.id, id("db_pw"), &mut st.db_password);
                ui.end_row();
            }
            super::labelled_edit(
                ui,
                "WALLET_ROOT to read instead",
                &mut st.wallet_root,
                &st.root_hint,
                width,
            )
            .on_hover_text("Empty: the profile's WALLET_ROOT on this machine. A copy, or a standby's, may be read instead.");
            ui.end_row();
            ui.label("Backup files");
            ui.vertical(|ui| {
                let mut remove = None;
                for (i, b) in st.backups.iter().enumerate() {
                    ui.horizontal(|ui| {
                        if ui
                            .small_button("Remove")
                            .on_hover_text("Leave this file out of the next check.")
                            .clicked()
                        {
                            remove = Some(i);
                        }
                        ui.label(RichText::new(b.display().to_string()).monospace());
                    });
                }
                if let Some(i) = remove {
                    st.backups.remove(i);
                }
                ui.horizontal(|ui| {
                    let picking = engine.is_pending(Task::RecoverabilityPick);
                    if ui
                        .add_enabled(!picking, egui::Button::new("Add backup file…"))
                        .clicked()
                    {
                        queue.push(Command::Recover(RecoverCommand::PickBackup {
                            start_dir: Some(data_root.to_path_buf()),
                        }));
                    }
                    ui.weak("tdekey's own backups are read anyway (the ones its store records).");
                });
            });
            ui.end_row();
        });
}

/// What a key's row says first.
fn state_of(k: &KeyFinding) -> (&'static str, Color32) {
    if k.missing() {
        ("MISSING", BAD)
    } else if k.unusable() {
        ("UNUSABLE", BAD)
    } else if k.places.is_empty() && k.unchecked {
        ("UNCHECKED", WAIT)
    } else if k.needs.is_empty() {
        ("kept", Color32::GRAY)
    } else {
        ("found", OK)
    }
}

/// The report: its sentence, the keys (missing ones first, in red), what was not read.
pub(super) fn report_ui(ui: &mut egui::Ui, r: &Recoverability) {
    let color = if r.exit_code() == 0 { OK } else { BAD };
    ui.add(egui::Label::new(RichText::new(r.summary()).strong().color(color)).wrap());
    ui.small(format!(
        "Made {}; {} PKCS#11 calls for the HSM lookups; recorded in the audit log{}.",
        r.generated_utc,
        r.hsm_calls,
        r.audit_seq
            .map(|s| format!(" as seq {s}"))
            .unwrap_or_else(|| " (its sequence number was not returned)".to_owned())
    ));
    ui.add_space(4.0);
    keys_table_ui(ui, r);
    if !r.unread.is_empty() {
        ui.add_space(6.0);
        ui.label(RichText::new("Not read").strong());
        egui::Grid::new("recover_unread")
            .num_columns(2)
            .striped(true)
            .spacing([14.0, 4.0])
            .show(ui, |ui| {
                for u in &r.unread {
                    let source = RichText::new(&u.source).monospace();
                    if u.needed {
                        ui.label(source.color(BAD))
                            .on_hover_text("Needed: without it the answer is incomplete.");
                    } else {
                        ui.label(source);
                    }
                    ui.add(egui::Label::new(&u.why).wrap());
                    ui.end_row();
                }
            });
    }
}

fn keys_table_ui(ui: &mut egui::Ui, r: &Recoverability) {
    let avail = ui.available_width().max(900.0);
    let (w_state, w_key) = (76.0, 290.0);
    let w_text = ((avail - w_state - w_key - 40.0) / 2.0).max(240.0);
    let pad = 8.0;
    // Each cell laid out at its column's width first, so that a row is as tall as its
    // tallest cell.
    let lines = |items: Vec<String>, none: &str| -> String {
        if items.is_empty() {
            none.to_owned()
        } else {
            items
                .iter()
                .map(|i| format!("• {i}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let rows: Vec<_> = r
        .keys
        .iter()
        .map(|k| {
            let needs = egui::WidgetText::from(lines(
                k.needs.iter().map(|n| n.describe()).collect(),
                "nothing tdekey can see",
            ))
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Wrap),
                w_text - pad,
                egui::TextStyle::Body,
            );
            let places_text = lines(
                k.places.iter().map(|p| p.describe()).collect(),
                "NOWHERE tdekey looked",
            );
            let places = egui::WidgetText::from(if k.places.is_empty() {
                RichText::new(places_text).color(BAD)
            } else {
                RichText::new(places_text)
            })
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Wrap),
                w_text - pad,
                egui::TextStyle::Body,
            );
            // A file key's base64 KEY_ID (52 characters) may take two lines in its column.
            let id_height = egui::WidgetText::from(RichText::new(&k.id).monospace())
                .into_galley(
                    ui,
                    Some(egui::TextWrapMode::Wrap),
                    w_key - pad,
                    egui::TextStyle::Monospace,
                )
                .size()
                .y
                + 16.0;
            let height = needs.size().y.max(places.size().y).max(id_height).max(40.0) + pad;
            (k, needs, places, height)
        })
        .collect();
    TableBuilder::new(ui)
        .id_salt("recover_keys")
        .striped(true)
        .vscroll(false)
        .cell_layout(egui::Layout::top_down(egui::Align::Min))
        .column(Column::exact(w_state))
        .column(Column::exact(w_key))
        .column(Column::exact(w_text))
        .column(Column::exact(w_text))
        .header(22.0, |mut h| {
            for t in [
                "State",
                "Master key (MASTERKEYID under it)",
                "What depends on it",
                "Where it is",
            ] {
                h.col(|ui| {
                    ui.label(RichText::new(t).strong());
                });
            }
        })
        .body(|mut body| {
            // Row by row: a handful of keys, each drawn whatever the scroll position.
            for (k, needs, places, height) in &rows {
                body.row(*height, |mut row| {
                let (state, color) = state_of(k);
                row.col(|ui| {
                    ui.label(RichText::new(state).strong().color(color));
                });
                row.col(|ui| {
                    ui.add(
                        egui::Label::new(RichText::new(&k.id).monospace())
                            .wrap()
                            .selectable(true),
                    );
                    ui.add(
                        egui::Label::new(
                            RichText::new(&k.forms.masterkeyid)
                                .monospace()
                                .small()
                                .weak(),
                        )
                        .selectable(true),
                    )
                    .on_hover_text("RAWTOHEX(MASTERKEYID), as V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES show it");
                });
                row.col(|ui| {
                    ui.label(needs.clone());
                });
                row.col(|ui| {
                    ui.label(places.clone());
                });
                });
            }
        });
}

/// Migration tab, once the migration is finished: what the last report says about retiring the
/// file wallet (path B: and about the keys only the other HSM holds). `open_tab`: the person
/// asked for the Recoverability tab.
pub(super) fn retire_wallet_ui(
    ui: &mut egui::Ui,
    st: &RecoverTabState,
    (db, hsm_profile): (&DatabaseProfile, Option<&HsmProfile>),
    (path_b, can_check): (bool, bool),
    queue: &mut Vec<Command>,
    open_tab: &mut bool,
) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new("Before you retire the file wallet").strong());
        // The buttons first: the verdicts below can be long.
        ui.horizontal(|ui| {
            let label = if st.reports.contains_key(&db.name) {
                "Check recoverability again"
            } else {
                "Check recoverability"
            };
            if ui
                .add_enabled(can_check, egui::Button::new(label))
                .on_hover_text("With nothing typed: an auto-login cwallet.sso and unsealed backups only. On the Recoverability tab, the wallet password and the backup passphrase open the rest.")
                .clicked()
            {
                queue.push(check_without_secrets(db, hsm_profile));
            }
            if ui.button("Recoverability tab…").clicked() {
                *open_tab = true;
            }
        });
        match st.reports.get(&db.name) {
            None => {
                ui.label("No recoverability report of this database yet: it says whether the file keystore is the only place of a key something still needs.");
            }
            Some(c) => wallet_verdict_ui(ui, c, path_b),
        }
        if let Some(e) = &st.error {
            ui.add(egui::Label::new(RichText::new(e).color(BAD)).wrap());
        }
    });
}

fn wallet_verdict_ui(ui: &mut egui::Ui, c: &Checked, path_b: bool) {
    let r = &c.report;
    let Some(dir) = &c.wallet_dir else {
        ui.colored_label(
            WAIT,
            format!(
                "The report of {} read no WALLET_ROOT on this machine: it cannot say what retiring the file wallet loses. Give a copy of it on the Recoverability tab.",
                r.generated_utc
            ),
        );
        return;
    };
    let verdict = r.before_retiring(&Retiring::FileWallet { dir: dir.clone() });
    if !verdict.blocking.is_empty() {
        ui.add(egui::Label::new(RichText::new(&verdict.sentence).color(BAD).strong()).wrap());
    } else if verdict.unknown {
        ui.add(egui::Label::new(RichText::new(&verdict.sentence).color(WAIT)).wrap());
    } else {
        ui.add(egui::Label::new(RichText::new(&verdict.sentence).color(OK)).wrap());
    }
    if r.exit_code() != 0 {
        ui.add(egui::Label::new(RichText::new(r.summary()).color(BAD)).wrap());
    }
    if path_b {
        // The keys a path B migration left on the other HSM, which tdekey cannot check.
        let other = r.before_retiring(&Retiring::OtherHsm);
        if !other.blocking.is_empty() {
            ui.add(
                egui::Label::new(RichText::new(format!("Path B: {}", other.sentence)).color(BAD))
                    .wrap(),
            );
        }
    }
}

/// Keys screen, a master key's detail: what the last report of the database that owns it says
/// about deleting it; and that tdekey never deletes one.
pub(super) fn hsm_key_verdict_ui(
    ui: &mut egui::Ui,
    reports: &HashMap<String, Checked>,
    database: Option<&str>,
    label: &str,
) {
    // The owner's report; for a key no database claims, any report that lists it.
    let report: Option<&Arc<Recoverability>> = match database {
        Some(d) => reports.get(d).map(|c| &c.report),
        None => reports
            .values()
            .map(|c| &c.report)
            .find(|r| r.keys.iter().any(|k| k.forms.hsm_label == label)),
    };
    match (report, database) {
        (Some(r), _) => {
            let v = r.before_retiring(&Retiring::HsmKey {
                label: label.to_owned(),
            });
            let color = if v.safe() { OK } else { BAD };
            ui.add(egui::Label::new(RichText::new(&v.sentence).color(color)).wrap());
        }
        (None, Some(d)) => {
            ui.label(format!(
                "No recoverability report yet: Databases › {d} › Recoverability."
            ));
        }
        (None, None) => {
            ui.label("No recoverability report lists this key.");
        }
    }
    ui.small("tdekey never deletes a key. Before anyone deletes one with other tools (pkcs11-tool, the HSM vendor's tools), check the recoverability report of the database that used it: backups and archived redo may still need it.");
}
