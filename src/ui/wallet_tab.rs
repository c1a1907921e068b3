//! The wallet inspector in the window: a WALLET_ROOT's keystore files on this machine (owners,
//! modes, backups, isolated PDB keystores, warnings), the entries of an auto-login
//! cwallet.sso (no password needed: it holds its own) and, with the wallet password, the TDE
//! master key entries of ewallet.p12. Key values are never read into the window.

use super::secret_field::{clear_password, password_ui};
use crate::engine::{Command, Engine, StoreCommand, Task, WalletReport};
use crate::model::{ConnectorKind, DatabaseProfile};
use crate::secret::SecretBuffer;
use crate::wallet::{EntryKind, FileInfo, WalletContents};
use egui::{Color32, RichText};
use std::path::Path;

#[derive(Default)]
pub struct WalletTabState {
    pub root: String,
    /// The profile whose WALLET_ROOT filled `root`.
    pub for_profile: Option<String>,
    pub password: SecretBuffer,
    pub report: Option<WalletReport>,
}

fn password_id() -> egui::Id {
    egui::Id::unique("wallet_tab_password")
}

impl WalletTabState {
    pub fn on_report(&mut self, ctx: &egui::Context, report: WalletReport) {
        self.report = Some(report);
        clear_password(ctx, password_id(), &mut self.password);
    }
}

/// A path under the WALLET_ROOT shown relative to it (the root is named above the list).
fn under<'a>(root: &str, path: &'a str) -> &'a str {
    path.strip_prefix(root)
        .map(|p| p.trim_start_matches('/'))
        .filter(|p| !p.is_empty())
        .unwrap_or(path)
}

fn files_ui(ui: &mut egui::Ui, id: &str, root: &str, files: &[FileInfo]) {
    egui::Grid::new(id)
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            for f in files {
                ui.label(RichText::new(under(root, &f.path)).monospace())
                    .on_hover_text(&f.path);
                match (&f.mode, &f.owner) {
                    (Some(m), o) => {
                        ui.label(RichText::new(m).monospace());
                        ui.label(o.as_deref().unwrap_or("?"));
                        ui.label(
                            f.size
                                .map_or_else(|| "directory".to_owned(), |s| format!("{s} bytes")),
                        );
                    }
                    (None, _) => {
                        ui.weak("absent");
                        ui.label("");
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
}

/// Where a profile's WALLET_ROOT is on this machine: a Rehearsal database's files are under its
/// simulated host in the data directory.
fn local_wallet_root(db: &DatabaseProfile, data_root: &Path) -> String {
    let root = db.wallet_root.clone().unwrap_or_default();
    if db.connector != ConnectorKind::Rehearsal || root.is_empty() {
        return root;
    }
    crate::oracle::rehearsal::host_root(data_root, &db.name)
        .join(root.trim_start_matches('/'))
        .display()
        .to_string()
}

pub fn wallet_ui(
    ui: &mut egui::Ui,
    st: &mut WalletTabState,
    db: &DatabaseProfile,
    data_root: &Path,
    engine: &Engine,
    queue: &mut Vec<Command>,
) {
    if st.for_profile.as_deref() != Some(db.name.as_str()) {
        st.root = local_wallet_root(db, data_root);
        st.for_profile = Some(db.name.clone());
        st.report = None;
    }
    ui.heading("Wallet inspector");
    ui.label("Reads the keystore files under a WALLET_ROOT (or a wallet directory holding ewallet.p12) on this machine. It lists the entries of an auto-login cwallet.sso without a password, and with the wallet password those of ewallet.p12 (never their values); the password is not kept. Enter in the password field inspects.");
    if db.connector == ConnectorKind::Rehearsal {
        ui.label(
            RichText::new(format!(
                "This is a Rehearsal profile: its WALLET_ROOT {} is on its simulated host, in tdekey's data directory; the inspector starts there.",
                db.wallet_root.as_deref().unwrap_or("(not set)")
            ))
            .italics(),
        );
    }
    let busy = engine.is_pending(Task::Wallet);
    let mut enter = false;
    // Wide enough for a Rehearsal's simulated host path (the label column takes about 180).
    let width = (ui.available_width() - 200.0).clamp(420.0, 900.0);
    egui::Grid::new("wallet_form")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            super::labelled_edit(
                ui,
                "WALLET_ROOT to inspect",
                &mut st.root,
                "/u01/app/oracle/admin/ORCL/wallet",
                width,
            );
            ui.end_row();
            let l = ui.label("Wallet password (optional)");
            let field = password_ui(ui, l.id, password_id(), &mut st.password);
            enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.end_row();
        });
    ui.horizontal(|ui| {
        let ready = !busy && !st.root.trim().is_empty();
        let clicked = ui
            .add_enabled(ready, egui::Button::new("Inspect"))
            .clicked();
        if clicked || (enter && ready) {
            queue.push(Command::Store(StoreCommand::WalletInspect {
                root: st.root.trim().into(),
                password: (!st.password.is_empty()).then(|| st.password.to_secret()),
            }));
        }
        if busy {
            ui.spinner();
        }
    });
    let Some(r) = &st.report else {
        return;
    };
    ui.separator();
    // Long paths and key ids scroll rather than being cut at the window's edge.
    egui::ScrollArea::both()
        .id_salt("wallet_report")
        .auto_shrink([false, false])
        .show(ui, |ui| report_ui(ui, r));
}

fn report_ui(ui: &mut egui::Ui, r: &WalletReport) {
    let rep = &r.report;
    ui.label(RichText::new(rep.layout.heading(&rep.root)).strong());
    files_ui(ui, "wallet_files", &rep.root, &rep.files);
    for b in &rep.backups {
        ui.label(format!("Backup: {b}"));
    }
    let warn = Color32::from_rgb(230, 170, 60);
    let error = Color32::from_rgb(220, 90, 90);
    let sso_line = |ui: &mut egui::Ui, a: &crate::wallet::AutoLoginFile| {
        // A problem is a sentence that names the file itself.
        match &a.problem {
            Some(p) => ui.colored_label(warn, p),
            None => ui.label(format!("{}: {}", under(&rep.root, &a.path), a.describe())),
        };
    };
    for k in &rep.pdb_keystores {
        ui.label(RichText::new(format!("Isolated PDB keystore {}", k.guid)).strong());
        files_ui(ui, &format!("pdb_files_{}", k.guid), &rep.root, &k.files);
        for b in &k.backups {
            ui.label(format!("Backup: {b}"));
        }
        if let Some(a) = &k.auto_login {
            sso_line(ui, a);
        }
    }
    for a in &rep.auto_login {
        sso_line(ui, a);
    }
    for w in &rep.warnings {
        ui.colored_label(warn, format!("Warning: {w}"));
    }
    match &r.auto_login {
        None => {}
        Some(Err(e)) => {
            ui.colored_label(error, e);
        }
        Some(Ok(c)) => {
            let kind = c.auto_login.map_or("auto-login", |h| h.kind.describe());
            ui.separator();
            ui.label(format!(
                "cwallet.sso ({kind}), opened without a password: {}; {}; integrity {}.",
                c.summary(),
                c.encryption,
                c.mac
            ));
            entries_ui(ui, "sso_entries", c);
        }
    }
    ui.separator();
    match &r.contents {
        None if rep.files.first().is_some_and(|f| f.exists) => {
            ui.weak("Entries of ewallet.p12 not listed: type the wallet password to list them.");
        }
        None => {}
        Some(Err(e)) => {
            ui.colored_label(error, e);
        }
        Some(Ok(c)) => {
            ui.label(format!(
                "ewallet.p12: {}; {} entries; {}; integrity {}.",
                c.summary(),
                c.entries.len(),
                c.encryption,
                c.mac
            ));
            entries_ui(ui, "wallet_entries", c);
        }
    }
}

/// The entries of an opened wallet: names and what they are, never values.
fn entries_ui(ui: &mut egui::Ui, id: &str, c: &WalletContents) {
    if c.entries.is_empty() {
        return;
    }
    egui::Grid::new(id)
        .striped(true)
        .spacing([14.0, 4.0])
        .show(ui, |ui| {
            // The key id before the long entry name, so it is seen without scrolling.
            for h in ["Kind", "Current", "Master key id", "Entry"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for e in &c.entries {
                ui.label(match e.kind {
                    EntryKind::MasterKey => "master key",
                    EntryKind::CurrentKeyPointer => "current-key pointer",
                    EntryKind::KeyMetadata => "key metadata",
                    EntryKind::Identity => "identity",
                    EntryKind::KeyBag => "key bag",
                    EntryKind::Tablespace => "tablespace key",
                    EntryKind::Other => "other",
                });
                ui.label(if e.current { "current" } else { "" });
                ui.label(RichText::new(e.master_key_id.as_deref().unwrap_or("")).monospace());
                ui.label(RichText::new(&e.name).monospace());
                ui.end_row();
            }
        });
}
