//! The engine: front ends send [`Command`]s, background threads do the work and send
//! [`Event`]s back, then ask for a repaint. The UI thread never waits on the HSM, SQLite, the
//! disk or a file dialog.
//!
//! Threads: `tdekey-hsm` owns the PKCS#11 module and its session (and a database connection
//! for the audit entries it writes; Rehearsal requests run there, on its HSM);
//! `tdekey-store` owns the connection for profiles; `tdekey-audit` reads and exports the log;
//! `tdekey-oracle` runs Manual and SQL*Plus requests. A task
//! (see [`Task`]) cannot start twice: [`Engine::send`] refuses while it is pending.

mod audit_worker;
mod hsm_worker;
mod oracle_worker;
mod store_worker;

pub use store_worker::{inspect_wallet, remove_database, save as save_profile, save_database};

use crate::audit::export::{Format as ExportFormat, Manifest};
use crate::hsm::{LibraryReport, ModuleCandidate, SlotReport};
use crate::inventory::InventoryRow;
use crate::model::{HsmProfile, OpenToken, PinFormat, TokenSelector};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::store::{AuditFilter, AuditRow};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, Sender, channel};

/// Named background tasks; one of each may run at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    Connect,
    Login,
    Inventory,
    Profiles,
    FileDialog,
    DetectModules,
    AuditQuery,
    AuditExport,
    /// Verification and checkpoints (run where the HSM session is).
    AuditVerify,
    Databases,
    SaveDialog,
    /// A request to a database (one at a time, whatever the connector).
    Oracle,
    /// Reading a WALLET_ROOT (and, with its password, ewallet.p12).
    Wallet,
}

/// What the wallet inspector found.
#[derive(Clone, Debug)]
pub struct WalletReport {
    pub report: crate::wallet::RootReport,
    /// With a password: the entries of ewallet.p12, or why they could not be read.
    pub contents: Option<Result<crate::wallet::WalletContents, String>>,
}

/// A statement the Manual connector asks the DBA to run.
#[derive(Clone, Debug)]
pub struct ManualAsk {
    pub title: &'static str,
    /// Secrets `<hidden>`.
    pub display: String,
    /// The text to copy: it may carry secrets.
    pub sql: Secret,
    /// Why the previous paste was refused.
    pub problem: Option<String>,
}

/// The DBA's answer to a [`ManualAsk`].
pub enum ManualReply {
    Pasted(String),
    Cancel,
}

/// What a database answered, with the connector that asked it.
#[derive(Clone, Debug)]
pub struct OracleAnswer {
    pub database: String,
    pub connector: String,
    pub title: &'static str,
    pub answer: crate::oracle::Answer,
}

pub enum Command {
    /// Load a PKCS#11 module and read its slots (closing any module loaded before).
    Connect {
        module: PathBuf,
    },
    /// Close the session and finalize the module.
    Disconnect,
    /// Open a session on a token and log the crypto user in.
    Login {
        selector: TokenSelector,
        user: String,
        password: Secret,
        format: PinFormat,
    },
    Logout,
    /// List every object on the token.
    Inventory,
    LoadProfiles,
    /// Save a profile; `make_default` also makes it the one the GUI opens at start.
    SaveProfile {
        profile: HsmProfile,
        make_default: bool,
    },
    DeleteProfile {
        id: i64,
        name: String,
    },
    /// Open a file dialog to choose a PKCS#11 library.
    PickModuleFile {
        start_dir: Option<PathBuf>,
    },
    /// Look for PKCS#11 modules in the usual places (reads the disk, so off the UI thread).
    DetectModules,
    /// One page of audit entries, newest first, older than `before_seq`.
    AuditQuery {
        filter: AuditFilter,
        before_seq: Option<i64>,
        limit: usize,
        generation: u64,
    },
    /// Export the entries matching `filter`; set `cancel` to stop.
    AuditExport {
        filter: AuditFilter,
        format: ExportFormat,
        path: PathBuf,
        passphrase: Option<Secret>,
        cancel: Arc<AtomicBool>,
    },
    /// Verify the chain (and, when logged in, the checkpoints' HMACs in the HSM).
    AuditVerify,
    /// Write a checkpoint with the logged-in HSM session.
    AuditCheckpoint,
    /// Ask where to save an export.
    PickSavePath {
        suggested: String,
    },
    LoadDatabases,
    SaveDatabase {
        profile: crate::model::DatabaseProfile,
    },
    DeleteDatabase {
        name: String,
    },
    /// Run a request against a database through its profile's connector. `pin_format` is how
    /// a Rehearsal turns an HSM password into the token's PIN.
    OracleRun {
        database: crate::model::DatabaseProfile,
        request: crate::tde::request::Request,
        db_password: Option<Secret>,
        pin_format: PinFormat,
        /// The token of the database's HSM profile, opened when no session is open yet.
        token: Option<TokenSelector>,
    },
    /// Inspect a WALLET_ROOT on this machine; with the password, list ewallet.p12's entries.
    WalletInspect {
        root: PathBuf,
        password: Option<Secret>,
    },
}

impl Command {
    /// A Rehearsal's HSM keystore is the HSM thread's session, so it runs there.
    fn runs_on_hsm_thread(&self) -> bool {
        matches!(self, Command::OracleRun { database, .. }
            if database.connector == crate::model::ConnectorKind::Rehearsal)
    }

    pub fn task(&self) -> Task {
        match self {
            Command::Connect { .. } | Command::Disconnect => Task::Connect,
            Command::Login { .. } | Command::Logout => Task::Login,
            Command::Inventory => Task::Inventory,
            Command::LoadProfiles | Command::SaveProfile { .. } | Command::DeleteProfile { .. } => {
                Task::Profiles
            }
            Command::PickModuleFile { .. } => Task::FileDialog,
            Command::DetectModules => Task::DetectModules,
            Command::AuditQuery { .. } => Task::AuditQuery,
            Command::AuditExport { .. } => Task::AuditExport,
            Command::AuditVerify | Command::AuditCheckpoint => Task::AuditVerify,
            Command::PickSavePath { .. } => Task::SaveDialog,
            Command::LoadDatabases
            | Command::SaveDatabase { .. }
            | Command::DeleteDatabase { .. } => Task::Databases,
            Command::OracleRun { .. } => Task::Oracle,
            Command::WalletInspect { .. } => Task::Wallet,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConnectReport {
    pub library: LibraryReport,
    pub slots: Vec<SlotReport>,
}

#[derive(Clone, Debug)]
pub enum Event {
    Connected(Arc<ConnectReport>),
    Disconnected,
    LoggedIn {
        token: OpenToken,
        user: String,
        /// Something the user should know (e.g. the token reported an existing login).
        note: Option<String>,
    },
    LoggedOut,
    InventoryProgress {
        done: usize,
        total: usize,
    },
    Inventory(Arc<Vec<InventoryRow>>),
    Profiles {
        profiles: Vec<HsmProfile>,
        default_id: Option<i64>,
        /// The id of the profile just saved, if any.
        saved: Option<i64>,
    },
    ModulePicked(Option<PathBuf>),
    Modules(Vec<ModuleCandidate>),
    AuditPage {
        generation: u64,
        rows: Vec<AuditRow>,
        /// The page was shorter than asked: nothing older matches.
        exhausted: bool,
        /// Number of matching entries (counted after the page was sent).
        count: Option<u64>,
    },
    AuditExportProgress {
        done: u64,
        total: u64,
    },
    AuditExported(Box<Manifest>, PathBuf),
    AuditVerified {
        ok: bool,
        text: String,
    },
    SavePathPicked(Option<PathBuf>),
    Databases {
        databases: Vec<crate::model::DatabaseProfile>,
        /// The name of the profile just saved, if any.
        saved: Option<String>,
    },
    Failed {
        task: Task,
        message: String,
        /// The session went away: offer to reconnect.
        reconnect: bool,
    },
    /// The Manual connector waits for the DBA's paste (answer with [`Engine::manual_reply`]).
    OracleAsk(Box<ManualAsk>),
    OracleAnswered(Box<OracleAnswer>),
    WalletInspected(Box<WalletReport>),
}

impl Event {
    /// The task this event ends, if it ends one.
    pub fn finished_task(&self) -> Option<Task> {
        match self {
            Event::Connected(_) | Event::Disconnected => Some(Task::Connect),
            Event::LoggedIn { .. } | Event::LoggedOut => Some(Task::Login),
            Event::InventoryProgress { .. } => None,
            Event::Inventory(_) => Some(Task::Inventory),
            Event::Profiles { .. } => Some(Task::Profiles),
            Event::ModulePicked(_) => Some(Task::FileDialog),
            Event::Modules(_) => Some(Task::DetectModules),
            Event::AuditPage { count, .. } => count.map(|_| Task::AuditQuery),
            Event::AuditExportProgress { .. } => None,
            Event::AuditExported(..) => Some(Task::AuditExport),
            Event::AuditVerified { .. } => Some(Task::AuditVerify),
            Event::SavePathPicked(_) => Some(Task::SaveDialog),
            Event::Databases { .. } => Some(Task::Databases),
            Event::Failed { task, .. } => Some(*task),
            Event::OracleAsk(_) => None,
            Event::OracleAnswered(_) => Some(Task::Oracle),
            Event::WalletInspected(_) => Some(Task::Wallet),
        }
    }
}

/// Asks the front end to draw again (egui's `Context::request_repaint`).
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Sends events back and wakes the front end.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: Sender<Event>,
    repaint: Repaint,
}

impl EventSink {
    pub(crate) fn send(&self, e: Event) {
        // The receiver is gone only when the front end has shut down: nothing left to tell.
        let _ = self.tx.send(e);
        (self.repaint)();
    }
}

pub struct Engine {
    hsm_tx: Sender<Command>,
    store_tx: Sender<Command>,
    audit_tx: Sender<Command>,
    oracle_tx: Sender<Command>,
    manual_tx: Sender<ManualReply>,
    events: Receiver<Event>,
    sink: EventSink,
    pending: HashSet<Task>,
}

impl Engine {
    /// Starts the background threads.
    pub fn start(data: DataDir, repaint: Repaint) -> Self {
        let (etx, erx) = channel();
        let sink = EventSink { tx: etx, repaint };
        let (hsm_tx, hsm_rx) = channel();
        let (store_tx, store_rx) = channel();
        {
            let sink = sink.clone();
            let data = data.clone();
            std::thread::Builder::new()
                .name("tdekey-hsm".into())
                .spawn(move || hsm_worker::run(data, hsm_rx, sink))
                .ok();
        }
        {
            let sink = sink.clone();
            let data = data.clone();
            std::thread::Builder::new()
                .name("tdekey-store".into())
                .spawn(move || store_worker::run(data, store_rx, sink))
                .ok();
        }
        let (oracle_tx, oracle_rx) = channel();
        let (manual_tx, manual_rx) = channel();
        {
            let sink = sink.clone();
            let data = data.clone();
            std::thread::Builder::new()
                .name("tdekey-oracle".into())
                .spawn(move || oracle_worker::run(data, oracle_rx, manual_rx, sink))
                .ok();
        }
        let (audit_tx, audit_rx) = channel();
        {
            let sink = sink.clone();
            std::thread::Builder::new()
                .name("tdekey-audit".into())
                .spawn(move || audit_worker::run(data, audit_rx, sink))
                .ok();
        }
        Engine {
            hsm_tx,
            store_tx,
            audit_tx,
            oracle_tx,
            manual_tx,
            events: erx,
            sink,
            pending: HashSet::new(),
        }
    }

    /// Starts a command. Returns false (and does nothing) while the same task is pending.
    pub fn send(&mut self, cmd: Command) -> bool {
        let task = cmd.task();
        if self.pending.contains(&task) {
            return false;
        }
        let sent = match cmd {
            Command::PickModuleFile { start_dir } => {
                let sink = self.sink.clone();
                std::thread::Builder::new()
                    .name("tdekey-file-dialog".into())
                    .spawn(move || {
                        let mut dialog = rfd::AsyncFileDialog::new()
                            .set_title("Choose the HSM's PKCS#11 library")
                            .add_filter("PKCS#11 library (*.so)", &["so"])
                            .add_filter("All files", &["*"]);
                        if let Some(d) = start_dir {
                            dialog = dialog.set_directory(d);
                        }
                        let picked = pollster::block_on(dialog.pick_file());
                        sink.send(Event::ModulePicked(picked.map(|f| f.path().to_path_buf())));
                    })
                    .is_ok()
            }
            Command::DetectModules => {
                let sink = self.sink.clone();
                std::thread::Builder::new()
                    .name("tdekey-detect".into())
                    .spawn(move || sink.send(Event::Modules(crate::hsm::detect_modules())))
                    .is_ok()
            }
            Command::PickSavePath { suggested } => {
                let sink = self.sink.clone();
                std::thread::Builder::new()
                    .name("tdekey-save-dialog".into())
                    .spawn(move || {
                        let dialog = rfd::AsyncFileDialog::new()
                            .set_title("Export the audit log")
                            .set_file_name(suggested);
                        let picked = pollster::block_on(dialog.save_file());
                        sink.send(Event::SavePathPicked(
                            picked.map(|f| f.path().to_path_buf()),
                        ));
                    })
                    .is_ok()
            }
            c @ (Command::AuditQuery { .. } | Command::AuditExport { .. }) => {
                self.audit_tx.send(c).is_ok()
            }
            c @ (Command::LoadProfiles
            | Command::SaveProfile { .. }
            | Command::DeleteProfile { .. }
            | Command::LoadDatabases
            | Command::SaveDatabase { .. }
            | Command::DeleteDatabase { .. }
            | Command::WalletInspect { .. }) => self.store_tx.send(c).is_ok(),
            // A rehearsal runs where its HSM is; real databases on their own thread.
            c @ Command::OracleRun { .. } if !c.runs_on_hsm_thread() => {
                self.oracle_tx.send(c).is_ok()
            }
            c => self.hsm_tx.send(c).is_ok(),
        };
        if sent {
            self.pending.insert(task);
        } else {
            self.sink.send(Event::Failed {
                task,
                message: "tdekey's background worker has stopped. Restart tdekey.".to_owned(),
                reconnect: false,
            });
        }
        sent
    }

    /// Answers the Manual connector's question.
    pub fn manual_reply(&self, reply: ManualReply) {
        // The Oracle thread is gone only at shutdown.
        let _ = self.manual_tx.send(reply);
    }

    pub fn is_pending(&self, task: Task) -> bool {
        self.pending.contains(&task)
    }

    pub fn any_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drains the events that arrived since the last call.
    pub fn poll(&mut self) -> Vec<Event> {
        let events: Vec<Event> = self.events.try_iter().collect();
        for e in &events {
            if let Some(t) = e.finished_task() {
                self.pending.remove(&t);
            }
        }
        events
    }
}
