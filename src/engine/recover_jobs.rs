//! The recoverability report for the window (issue #23): the check runs on the HSM thread
//! (its logged-in session looks each key up; a Rehearsal's keystore is that session too), a
//! backup file is chosen and the report's file is named in a save dialog on a thread of its
//! own, and the report is written by the store thread (audited, like the command line's).

use super::worker::Msg;
use super::{Engine, Event, EventSink, Failure, StoreCommand, Task};
use crate::audit::Auditor;
use crate::hsm::Hsm;
use crate::model::{PinFormat, TokenSelector};
use crate::paths::DataDir;
use crate::recover::{self, RecoverError, Recoverability, Sources};
use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the person gave for one check. The secrets are dropped (zeroized) when the check ends.
pub struct RecoverInputs {
    pub database: String,
    /// Opens `ewallet.p12`, Oracle's backups of it and the keystores inside tdekey's backups.
    pub wallet_password: Option<Secret>,
    /// tdekey wallet backups to open besides the ones its store records.
    pub backups: Vec<PathBuf>,
    /// Opens sealed backups.
    pub backup_passphrase: Option<Secret>,
    /// A WALLET_ROOT to read instead of the profile's (a copy, a standby's).
    pub wallet_root: Option<PathBuf>,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    /// Rehearsal: how an HSM password becomes the token's PIN.
    pub pin_format: PinFormat,
    /// The token of the database's HSM profile.
    pub token: Option<TokenSelector>,
}

/// What the window asks about recoverability.
pub enum RecoverCommand {
    /// Make the report (the HSM thread, with its logged-in session).
    Check(Box<RecoverInputs>),
    /// Choose a tdekey wallet backup to open (a file dialog).
    PickBackup { start_dir: Option<PathBuf> },
    /// Write the report as HTML (or JSON): to `path`, else to a file named in a save dialog
    /// (which asks before replacing one).
    Write {
        report: Arc<Recoverability>,
        json: bool,
        path: Option<PathBuf>,
    },
}

impl RecoverCommand {
    pub fn task(&self) -> Task {
        match self {
            RecoverCommand::Check(_) => Task::Recoverability,
            RecoverCommand::PickBackup { .. } => Task::RecoverabilityPick,
            RecoverCommand::Write { .. } => Task::RecoverabilityWrite,
        }
    }
}

/// A report the window shows, with the keystore directory it read (the one a "retire the file
/// wallet" verdict is about).
#[derive(Clone, Debug)]
pub struct Checked {
    pub report: Arc<Recoverability>,
    /// WALLET_ROOT/tde of the WALLET_ROOT read (the directory itself when it holds
    /// `ewallet.p12` directly); `None` when no WALLET_ROOT was on this machine.
    pub wallet_dir: Option<PathBuf>,
}

impl From<RecoverError> for Failure {
    fn from(e: RecoverError) -> Self {
        match e {
            RecoverError::Database(d) => d.into(),
            RecoverError::Audit(a) => a.into(),
            other => Failure::new(other.to_string()),
        }
    }
}

/// The keystore directory under a WALLET_ROOT: `tde` when there is one, else the root itself
/// (a wallet directory given as the override).
fn keystore_dir(root: &Path) -> PathBuf {
    let tde = root.join(crate::tde::layout::KEYSTORE_DIR);
    if tde.is_dir() || !root.join(crate::tde::layout::EWALLET).is_file() {
        tde
    } else {
        root.to_path_buf()
    }
}

/// Runs the check with the HSM thread's session (`operator`: the DBA at the window, for a
/// Manual profile).
pub(crate) fn check<'s>(
    a: &mut Auditor,
    data: &'s DataDir,
    hsm: &'s mut Hsm,
    operator: Option<&'s mut (dyn crate::oracle::Operator + 's)>,
    inputs: RecoverInputs,
) -> Result<Event, Failure> {
    if !hsm.logged_in() {
        return Err(Failure::new(
            "The recoverability check needs a logged-in HSM session (private keys are visible only then): log in on the HSM screen and check again.",
        ));
    }
    let db = crate::databases::get(a, &inputs.database)?;
    let root = inputs
        .wallet_root
        .clone()
        .or_else(|| recover::local_wallet_root(&db, data));
    let src = Sources {
        data,
        hsm,
        operator,
        db_password: inputs.db_password,
        pin_format: inputs.pin_format,
        token: inputs.token,
        wallet_root: inputs.wallet_root,
        wallet_password: inputs.wallet_password,
        backups: inputs.backups,
        backup_passphrase: inputs.backup_passphrase,
    };
    let report = recover::check(a, &db.name, src)?;
    Ok(Event::Recoverability(Box::new(Checked {
        report: Arc::new(report),
        wallet_dir: root.as_deref().map(keystore_dir),
    })))
}

/// Writes the report (the store thread); `force`: a save dialog asked before replacing.
pub(crate) fn write(
    a: &mut Auditor,
    report: &Recoverability,
    path: PathBuf,
    json: bool,
    force: bool,
) -> Result<Event, Failure> {
    recover::write_report(a, report, &path, force, json)?;
    Ok(Event::RecoverabilityWritten {
        database: report.database.clone(),
        path: Some(path),
    })
}

/// The save dialog for a report: the file named, or `None` (then the task ends here).
pub(crate) fn save_dialog(
    sink: &EventSink,
    report: &Recoverability,
    json: bool,
) -> Option<PathBuf> {
    let ext = if json { "json" } else { "html" };
    let name = crate::paths::out::file_stem(&report.database);
    let dialog = rfd::AsyncFileDialog::new()
        .set_title(format!(
            "Write the recoverability report of {}",
            report.database
        ))
        .set_file_name(format!("{name}-recoverability.{ext}"))
        .add_filter(
            if json {
                "JSON (*.json)"
            } else {
                "Web page (*.html)"
            },
            &[ext],
        );
    let picked = pollster::block_on(dialog.save_file()).map(|f| f.path().to_path_buf());
    if picked.is_none() {
        sink.send(Event::RecoverabilityWritten {
            database: report.database.clone(),
            path: None,
        });
    }
    picked
}

/// The open dialog for a tdekey wallet backup.
pub(crate) fn pick_backup(sink: &EventSink, start_dir: Option<PathBuf>) {
    let mut dialog = rfd::AsyncFileDialog::new()
        .set_title("Choose a tdekey wallet backup")
        .add_filter("tdekey wallet backup (*.tdkb)", &["tdkb"])
        .add_filter("All files", &["*"]);
    if let Some(d) = start_dir {
        dialog = dialog.set_directory(d);
    }
    let picked = pollster::block_on(dialog.pick_file());
    sink.send(Event::RecoverBackupPicked(
        picked.map(|f| f.path().to_path_buf()),
    ));
}

impl Engine {
    /// The recoverability report's jobs: the check on the HSM thread, the dialogs on threads
    /// of their own, the writing on the store thread.
    pub(super) fn route_recover(&self, task: Task, cmd: RecoverCommand) -> bool {
        match cmd {
            RecoverCommand::Check(inputs) => self
                .hsm
                .send(Msg::Job(task, super::hsm_worker::Job::Recover(inputs)))
                .is_ok(),
            RecoverCommand::PickBackup { start_dir } => self
                .on_thread("tdekey-backup-dialog", move |sink| {
                    pick_backup(&sink, start_dir)
                }),
            RecoverCommand::Write {
                report,
                json,
                path: Some(path),
            } => self
                .store
                .send(Msg::Job(
                    task,
                    StoreCommand::RecoverabilityWrite {
                        report,
                        json,
                        path,
                        force: false,
                    },
                ))
                .is_ok(),
            RecoverCommand::Write {
                report,
                json,
                path: None,
            } => {
                let store = self.store.clone();
                self.on_thread("tdekey-report-dialog", move |sink| {
                    let Some(path) = save_dialog(&sink, &report, json) else {
                        return;
                    };
                    let database = report.database.clone();
                    // The dialog asked before replacing a file.
                    let job = StoreCommand::RecoverabilityWrite {
                        report,
                        json,
                        path,
                        force: true,
                    };
                    if store.send(Msg::Job(task, job)).is_err() {
                        sink.send(Event::Failed {
                            task,
                            message: format!(
                                "The report of {database} was not written: tdekey's background worker has stopped. Restart tdekey."
                            ),
                            reconnect: false,
                            store_lost: false,
                        });
                    }
                })
            }
        }
    }
}
