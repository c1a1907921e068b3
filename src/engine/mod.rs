//! The engine: the window's way to run a workflow off the UI thread. The front end sends a
//! [`Command`]; [`Engine::send`] routes it, by one exhaustive match, to the thread that owns
//! what it needs, as that thread's own job type; the thread makes one workflow call and sends
//! exactly one [`Event`] that ends the task, success or failure, then asks for a repaint.
//! The engine has no logic of its own.
//!
//! Threads: `tdekey-hsm` owns the PKCS#11 module and its session (Rehearsal statements run
//! there, on its HSM); `tdekey-store` owns a connection for profiles, databases and wallet
//! reads; `tdekey-audit` reads and exports the log; `tdekey-oracle` runs Manual and SQL*Plus
//! statements; file dialogs and module detection get a short-lived thread each. A task
//! ([`Task`]) cannot start twice: [`Engine::send`] refuses while it is pending.
//!
//! Each of the four workers holds its own connection to the store (`store_slot`): opened on
//! its thread, opened again on its next job after the store went away, or at once on Retry
//! ([`Command::ReconnectStore`]). A job that met a lost store ends with its failure as usual,
//! and the worker also says [`Event::StoreLost`] (a banner with Retry in the window).

mod audit_worker;
mod hsm_worker;
mod oracle_worker;
mod recover_jobs;
mod store_slot;
mod store_worker;
mod worker;

pub use crate::databases::WalletReport;
pub use crate::session::ConnectReport;
pub use audit_worker::AuditCommand;
pub use hsm_worker::HsmCommand;
pub use recover_jobs::{Checked, RecoverCommand, RecoverInputs};
pub use store_slot::StoreShown;
pub use store_worker::StoreCommand;
use worker::{JobSender, Msg, Worker, spawn};

use crate::audit::export::Manifest;
use crate::hsm::ModuleCandidate;
use crate::inventory::InventoryRow;
use crate::model::{
    ConnectorKind, DatabaseProfile, HsmProfile, OpenToken, PinFormat, TokenSelector,
};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::store::AuditRow;
use crate::tde::request::Request;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
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
    /// The newest entry's sequence number, read while the Audit screen is shown.
    AuditHead,
    AuditExport,
    /// Verification and checkpoints (run where the HSM session is).
    AuditVerify,
    Databases,
    SaveDialog,
    /// A request to a database (one at a time, whatever the connector).
    Oracle,
    /// Reading a WALLET_ROOT (and, with its password, ewallet.p12).
    Wallet,
    /// The migration wizard (a step, its status, an override, the report).
    Migration,
    /// A rotation run or a key generated on the HSM (the HSM thread).
    Rotation,
    /// The Rotation screen's data, and policy changes (the store thread).
    RotationOverview,
    /// Which store is in use and whether it answers (the top bar), and Retry after its
    /// connection was lost.
    StoreInfo,
    /// A recoverability report (the HSM thread).
    Recoverability,
    /// Choosing a wallet backup for the report (a file dialog).
    RecoverabilityPick,
    /// Writing the report to a file (a save dialog, then the store thread).
    RecoverabilityWrite,
}

/// A statement the Manual connector asks the DBA to run.
#[derive(Clone, Debug)]
pub struct ManualAsk {
    /// The database the statement is for.
    pub database: String,
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
    /// The statement's HSM password logged tdekey in (Rehearsal): the token and the user.
    pub logged_in: Option<(OpenToken, String)>,
}

impl OracleAnswer {
    /// The event that ends a statement's task.
    pub(crate) fn event(database: String, request: &Request, ran: crate::databases::Ran) -> Event {
        Event::OracleAnswered(Box::new(OracleAnswer {
            database,
            connector: ran.connector,
            title: request.title(),
            answer: ran.answer,
            logged_in: ran.logged_in,
        }))
    }
}

/// A statement for a database, through its profile's connector (a job of the Oracle thread,
/// or of the HSM thread for a Rehearsal).
pub(crate) struct OracleRun {
    pub database: DatabaseProfile,
    pub request: Request,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    /// How a Rehearsal turns an HSM password into the token's PIN.
    pub pin_format: PinFormat,
    /// The token of the database's HSM profile, opened when no session is open yet.
    pub token: Option<TokenSelector>,
}

/// What the window asks for. Each group is the job type of the thread that does it, so a
/// command that no thread takes does not compile.
pub enum Command {
    /// The HSM thread: the session, checks that need the HSM.
    Hsm(HsmCommand),
    /// The store thread: profiles, databases, wallet reads.
    Store(StoreCommand),
    /// The audit thread: pages and exports of the log.
    Audit(AuditCommand),
    /// The recoverability report: checked on the HSM thread, written by the store thread.
    Recover(RecoverCommand),
    /// Run a request against a database through its profile's connector (a Rehearsal on the
    /// HSM thread, whose session is its keystore; any other on the Oracle thread).
    /// `pin_format` is how a Rehearsal turns an HSM password into the token's PIN.
    OracleRun {
        database: DatabaseProfile,
        request: Request,
        db_password: Option<Secret>,
        pin_format: PinFormat,
        /// The token of the database's HSM profile, opened when no session is open yet.
        token: Option<TokenSelector>,
    },
    /// Open a file dialog to choose a PKCS#11 library.
    PickModuleFile { start_dir: Option<PathBuf> },
    /// Look for PKCS#11 modules in the usual places (reads the disk, so off the UI thread).
    DetectModules,
    /// Ask where to save an export.
    PickSavePath { suggested: String },
    /// Retry after the store's connection was lost: every worker keeps a connection that
    /// answers and opens any other again; the store thread then says how the store is
    /// ([`Event::StoreShown`]).
    ReconnectStore,
}

impl Command {
    pub fn task(&self) -> Task {
        match self {
            Command::Hsm(c) => c.task(),
            Command::Store(c) => c.task(),
            Command::Audit(c) => c.task(),
            Command::Recover(c) => c.task(),
            Command::OracleRun { .. } => Task::Oracle,
            Command::PickModuleFile { .. } => Task::FileDialog,
            Command::DetectModules => Task::DetectModules,
            Command::PickSavePath { .. } => Task::SaveDialog,
            Command::ReconnectStore => Task::StoreInfo,
        }
    }
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
        /// The newest entry in the log when the first page was read (read before it: an entry
        /// written meanwhile is in the page and counted as newer, never missed).
        head: Option<i64>,
    },
    /// The newest entry in the log now.
    AuditHead(Option<i64>),
    /// How far each SIEM destination has been sent the log (`tdekey audit forward`).
    ForwardPositions(Vec<crate::store::ForwardPosition>),
    AuditExportProgress {
        done: u64,
        total: u64,
    },
    AuditExported(Box<Manifest>, PathBuf),
    /// The export was not written: this file (the export or its manifest) exists already. The
    /// window asks whether to replace it and sends the export again with `replace`.
    AuditExportExists(PathBuf),
    AuditVerified {
        ok: bool,
        text: String,
    },
    SavePathPicked(Option<PathBuf>),
    Databases {
        databases: Vec<DatabaseProfile>,
        /// The name of the profile just saved, if any.
        saved: Option<String>,
        /// Where each database stands with its migrations.
        standings: std::collections::BTreeMap<String, crate::migration::Standing>,
    },
    Failed {
        task: Task,
        message: String,
        /// The session went away: offer to reconnect.
        reconnect: bool,
        /// A read that failed because the store went away: the store's banner
        /// ([`Event::StoreLost`]) says all there is to say.
        store_lost: bool,
    },
    /// The Manual connector waits for the DBA's paste (answer with [`Engine::manual_reply`]).
    OracleAsk(Box<ManualAsk>),
    OracleAnswered(Box<OracleAnswer>),
    WalletInspected(Box<WalletReport>),
    /// A database's migration: its plan and each step's state, and what the last step did.
    Migration {
        database: String,
        state: Option<Box<crate::migration::MigrationState>>,
        progress: Option<Box<crate::migration::Progress>>,
        /// The database's earlier migrations, newest first (read-only in the window).
        past: Vec<crate::migration::MigrationState>,
    },
    /// The migration report was written.
    MigrationReport(PathBuf),
    /// Where each database stands on rotation, the timeline, and who claims which key.
    RotationOverview(Box<RotationOverview>),
    /// A rotation run ended (success or failure: the report says).
    Rotated(Box<crate::rotation::RunReport>),
    /// A master key was generated on the HSM, read back and checked.
    KeyGenerated(Box<crate::rotation::GeneratedKey>),
    /// Which store is in use, and whether it answers.
    StoreShown(Box<StoreShown>),
    /// A worker's connection to the store went away or cannot be made (ends no task: the job
    /// that met it ends with its own failure). The sentence says what to do; Retry
    /// ([`Command::ReconnectStore`]) reconnects.
    StoreLost {
        message: String,
    },
    /// A recoverability report was made (and recorded in the audit log).
    Recoverability(Box<Checked>),
    /// A wallet backup chosen for the report, or `None` when the dialog was cancelled.
    RecoverBackupPicked(Option<PathBuf>),
    /// The report was written to the file, or `None`: the save dialog was cancelled.
    RecoverabilityWritten {
        database: String,
        path: Option<PathBuf>,
    },
}

/// The Rotation screen's data.
#[derive(Clone, Debug)]
pub struct RotationOverview {
    pub rows: Vec<crate::rotation::DatabaseRotation>,
    pub timeline: Vec<crate::rotation::TimelineRow>,
    pub claims: std::collections::HashMap<String, crate::rotation::KeyClaim>,
    /// What a policy change did, in a sentence.
    pub message: Option<String>,
    pub now_ms: i64,
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
            Event::AuditHead(_) => Some(Task::AuditHead),
            Event::ForwardPositions(_) => None,
            Event::AuditExportProgress { .. } => None,
            Event::AuditExported(..) | Event::AuditExportExists(_) => Some(Task::AuditExport),
            Event::AuditVerified { .. } => Some(Task::AuditVerify),
            Event::SavePathPicked(_) => Some(Task::SaveDialog),
            Event::Databases { .. } => Some(Task::Databases),
            Event::Failed { task, .. } => Some(*task),
            Event::OracleAsk(_) => None,
            Event::OracleAnswered(_) => Some(Task::Oracle),
            Event::WalletInspected(_) => Some(Task::Wallet),
            Event::Migration { .. } | Event::MigrationReport(_) => Some(Task::Migration),
            Event::RotationOverview(_) => Some(Task::RotationOverview),
            Event::Rotated(_) | Event::KeyGenerated(_) => Some(Task::Rotation),
            Event::StoreShown(_) => Some(Task::StoreInfo),
            Event::StoreLost { .. } => None,
            Event::Recoverability(_) => Some(Task::Recoverability),
            Event::RecoverBackupPicked(_) => Some(Task::RecoverabilityPick),
            Event::RecoverabilityWritten { .. } => Some(Task::RecoverabilityWrite),
        }
    }
}

/// Where the window's pastes for the Manual connector arrive; whichever thread runs a Manual
/// statement (the Oracle thread, or the HSM thread for the migration wizard) reads them.
pub(crate) type Replies = std::sync::Arc<std::sync::Mutex<Receiver<ManualReply>>>;

/// The DBA at the keyboard: each statement is shown in the window; the answer is the paste.
pub(crate) struct WindowOperator<'a> {
    sink: &'a EventSink,
    database: String,
    replies: std::sync::MutexGuard<'a, Receiver<ManualReply>>,
}

impl<'a> WindowOperator<'a> {
    pub(crate) fn new(sink: &'a EventSink, replies: &'a Replies, database: &str) -> Self {
        // A poisoned lock only means another worker panicked while holding it; the channel
        // itself is still good.
        let replies = replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Answers pasted for an earlier, finished request are stale.
        while replies.try_recv().is_ok() {}
        Self {
            sink,
            replies,
            database: database.to_owned(),
        }
    }
}

impl crate::oracle::Operator for WindowOperator<'_> {
    fn ask(
        &mut self,
        request: &Request,
        statement: &crate::tde::sql::Statement,
        problem: Option<&str>,
    ) -> Result<String, crate::oracle::OracleError> {
        self.sink.send(Event::OracleAsk(Box::new(ManualAsk {
            database: self.database.clone(),
            title: request.title(),
            display: statement.display.clone(),
            sql: statement.sql.clone(),
            problem: problem.map(str::to_owned),
        })));
        match self.replies.recv() {
            Ok(ManualReply::Pasted(text)) => Ok(text),
            Ok(ManualReply::Cancel) | Err(_) => Err(crate::oracle::OracleError::Cancelled {
                title: request.title(),
            }),
        }
    }
}

/// Why a job failed, as the window shows it.
pub(crate) struct Failure {
    message: String,
    reconnect: bool,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reconnect: false,
        }
    }
}

macro_rules! failure_from {
    ($($t:ty),+) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure {
                    message: e.to_string(),
                    reconnect: e.retry() == crate::model::Retry::AfterReconnect,
                }
            }
        }
    )+};
}

failure_from!(
    crate::rotation::RotationError,
    crate::migration::MigrationError,
    crate::audit::AuditError,
    crate::audit::LogError,
    crate::session::SessionError,
    crate::databases::DatabaseError
);

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

/// How long the front end waits, when it closes, for the workers to finish their job and shut
/// down (the HSM session closed and its audit entries written) before the process ends.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Engine {
    hsm: JobSender<hsm_worker::Job>,
    store: JobSender<StoreCommand>,
    audit: JobSender<AuditCommand>,
    oracle: JobSender<oracle_worker::Job>,
    manual_tx: Sender<ManualReply>,
    events: Receiver<Event>,
    sink: EventSink,
    pending: HashSet<Task>,
    /// One message per worker that has shut down.
    finished: Receiver<()>,
}

impl Drop for Engine {
    /// Closes the job queues and waits (at most `SHUTDOWN_WAIT`) for every worker to finish:
    /// a process that ended first would cut off the HSM session's close, its audit entries,
    /// or a PKCS#11 module still finalizing.
    fn drop(&mut self) {
        self.hsm = channel().0;
        self.store = channel().0;
        self.audit = channel().0;
        self.oracle = channel().0;
        self.manual_tx = channel().0;
        let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
        for _ in 0..WORKERS {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if self.finished.recv_timeout(left).is_err() {
                break;
            }
        }
    }
}

/// The number of worker threads `Engine::start` spawns.
const WORKERS: usize = 4;

impl Engine {
    /// Starts the background threads.
    pub fn start(data: DataDir, repaint: Repaint) -> Self {
        let (etx, erx) = channel();
        let sink = EventSink { tx: etx, repaint };
        let (manual_tx, manual_rx) = channel();
        let replies: Replies = std::sync::Arc::new(std::sync::Mutex::new(manual_rx));
        let (done_tx, finished) = channel();
        let (d1, d2, d3, r1) = (data.clone(), data.clone(), data.clone(), replies.clone());
        Engine {
            hsm: spawn(
                "tdekey-hsm",
                move || hsm_worker::HsmWorker::new(d1, r1),
                sink.clone(),
                done_tx.clone(),
            ),
            store: spawn(
                "tdekey-store",
                move || store_worker::StoreWorker::new(&d2),
                sink.clone(),
                done_tx.clone(),
            ),
            audit: spawn(
                "tdekey-audit",
                move || audit_worker::AuditWorker::new(&d3),
                sink.clone(),
                done_tx.clone(),
            ),
            oracle: spawn(
                "tdekey-oracle",
                move || oracle_worker::OracleWorker::new(data, replies),
                sink.clone(),
                done_tx,
            ),
            manual_tx,
            events: erx,
            sink,
            pending: HashSet::new(),
            finished,
        }
    }

    /// Starts a command. Returns false (and does nothing) while the same task is pending.
    pub fn send(&mut self, cmd: Command) -> bool {
        let task = cmd.task();
        if self.pending.contains(&task) {
            return false;
        }
        let sent = self.route(task, cmd);
        if sent {
            self.pending.insert(task);
        } else {
            self.sink.send(Event::Failed {
                task,
                message: "tdekey's background worker has stopped. Restart tdekey.".to_owned(),
                reconnect: false,
                store_lost: false,
            });
        }
        sent
    }

    /// Every command goes to exactly one place; a command that is not routed here does not
    /// compile.
    fn route(&self, task: Task, cmd: Command) -> bool {
        match cmd {
            Command::Hsm(c) => self
                .hsm
                .send(Msg::Job(task, hsm_worker::Job::Command(c)))
                .is_ok(),
            Command::Store(c) => self.store.send(Msg::Job(task, c)).is_ok(),
            Command::Audit(c) => self.audit.send(Msg::Job(task, c)).is_ok(),
            Command::Recover(c) => self.route_recover(task, c),
            // Each worker reconnects between its jobs; the store thread then answers.
            Command::ReconnectStore => {
                let _ = self.hsm.send(Msg::Reconnect);
                let _ = self.audit.send(Msg::Reconnect);
                let _ = self.oracle.send(Msg::Reconnect);
                self.store.send(Msg::Reconnect).is_ok()
                    && self.store.send(Msg::Job(task, StoreCommand::Info)).is_ok()
            }
            Command::OracleRun {
                database,
                request,
                db_password,
                pin_format,
                token,
            } => {
                let run = Box::new(OracleRun {
                    database,
                    request,
                    db_password,
                    pin_format,
                    token,
                });
                if run.database.connector == ConnectorKind::Rehearsal {
                    self.hsm
                        .send(Msg::Job(task, hsm_worker::Job::Rehearse(run)))
                        .is_ok()
                } else {
                    self.oracle.send(Msg::Job(task, run)).is_ok()
                }
            }
            Command::PickModuleFile { start_dir } => self.on_thread("tdekey-file-dialog", |sink| {
                let mut dialog = rfd::AsyncFileDialog::new()
                    .set_title("Choose the HSM's PKCS#11 library")
                    .add_filter("PKCS#11 library (*.so)", &["so"])
                    .add_filter("All files", &["*"]);
                if let Some(d) = start_dir {
                    dialog = dialog.set_directory(d);
                }
                let picked = pollster::block_on(dialog.pick_file());
                sink.send(Event::ModulePicked(picked.map(|f| f.path().to_path_buf())));
            }),
            Command::PickSavePath { suggested } => self.on_thread("tdekey-save-dialog", |sink| {
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title("Export the audit log")
                    .set_file_name(suggested);
                let picked = pollster::block_on(dialog.save_file());
                sink.send(Event::SavePathPicked(
                    picked.map(|f| f.path().to_path_buf()),
                ));
            }),
            Command::DetectModules => self.on_thread("tdekey-detect", |sink| {
                sink.send(Event::Modules(crate::session::detect_modules()))
            }),
        }
    }

    /// Runs a short job (a file dialog, a scan of the disk) on a thread of its own.
    fn on_thread(&self, name: &str, job: impl FnOnce(EventSink) + Send + 'static) -> bool {
        let sink = self.sink.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || job(sink))
            .is_ok()
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
