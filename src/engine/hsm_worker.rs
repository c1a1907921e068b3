//! The HSM thread: owns the loaded module and its session, and writes the audit entries of
//! what it does.

use super::{Command, ConnectReport, Event, EventSink, Task};
use crate::audit::{Action, Auditor, Outcome};
use crate::hsm::{Hsm, HsmError, LoginOutcome};
use crate::inventory;
use crate::paths::DataDir;
use crate::store::Store;
use serde_json::json;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

struct Worker {
    data: DataDir,
    hsm: Option<Hsm>,
    auditor: Result<Auditor, String>,
    sink: EventSink,
}

pub(super) fn run(data: DataDir, rx: Receiver<Command>, sink: EventSink) {
    let auditor = Store::open(&data.database())
        .map(Auditor::new)
        .map_err(|e| e.to_string());
    let mut w = Worker {
        data,
        hsm: None,
        auditor,
        sink,
    };
    while let Ok(cmd) = rx.recv() {
        w.handle(cmd);
    }
    // The front end is gone: close the session and finalize the module.
    if let Some(h) = w.hsm.take() {
        let _ = h.close();
    }
}

impl Worker {
    fn fail(&self, task: Task, e: &dyn std::fmt::Display, reconnect: bool) {
        self.sink.send(Event::Failed {
            task,
            message: e.to_string(),
            reconnect,
        });
    }

    fn auditor(&mut self) -> Result<&mut Auditor, String> {
        usable(&mut self.auditor)
    }

    /// Records an outcome. Returns the message to show when it could not be written.
    fn record(
        &mut self,
        action: Action,
        target: &str,
        outcome: Outcome,
        hsm_user: Option<&str>,
        details: serde_json::Value,
    ) -> Result<(), String> {
        let a = self.auditor()?;
        a.record(action, target, outcome, hsm_user, details)
            .map(|_| ())
            .map_err(|e| format!("The audit log could not record this action: {e}"))
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Connect { module } => self.connect(module),
            Command::Disconnect => {
                if let Some(h) = self.hsm.take() {
                    let user = h.user().map(str::to_owned);
                    let target = h.module_path().display().to_string();
                    let token = h.token().map(|t| t.label.clone());
                    let r = h.close();
                    let (outcome, details) = match &r {
                        Ok(()) => (
                            Outcome::Success,
                            json!({ "token": token, "was_logged_in": user.is_some() }),
                        ),
                        Err(e) => (
                            Outcome::Failure,
                            json!({ "token": token, "error": e.to_string() }),
                        ),
                    };
                    if let Err(msg) = self.record(
                        Action::HsmDisconnect,
                        &target,
                        outcome,
                        user.as_deref(),
                        details,
                    ) {
                        self.sink.send(Event::Disconnected);
                        return self.fail(Task::Connect, &msg, false);
                    }
                }
                self.sink.send(Event::Disconnected);
            }
            Command::Login {
                selector,
                user,
                password,
                format,
            } => self.login(selector, user, password, format),
            Command::Logout => self.logout(),
            Command::Inventory => self.inventory(),
            Command::AuditVerify => self.audit_verify(),
            Command::AuditCheckpoint => self.audit_checkpoint(),
            Command::OracleRun {
                database,
                request,
                pin_format,
                token,
                ..
            } => self.rehearse(database, request, pin_format, token),
            // Store and dialog commands never reach this thread.
            other => self.fail(
                other.task(),
                &"internal error: a command reached the wrong worker",
                false,
            ),
        }
    }

    fn connect(&mut self, module: std::path::PathBuf) {
        // One PKCS#11 context per process: finalize the old module before loading another.
        // Whatever happens next, nothing stays connected from before.
        if let Some(h) = self.hsm.take() {
            let _ = h.close();
        }
        if let Err(msg) = self.auditor() {
            return self.fail(Task::Connect, &msg, false);
        }
        let target = module.display().to_string();
        let result = Hsm::load(&module).and_then(|h| {
            let library = h.library()?;
            let slots = h.slots()?;
            Ok((h, ConnectReport { library, slots }))
        });
        match result {
            Ok((h, report)) => {
                let details = json!({
                    "manufacturer": report.library.manufacturer,
                    "library": report.library.description,
                    "library_version": report.library.library_version,
                    "tokens": report.slots.iter().filter_map(|s| s.token.as_ref().filter(|t| t.flags.contains(&"TOKEN_INITIALIZED")).map(|t| t.label.clone())).collect::<Vec<_>>(),
                });
                if let Err(msg) =
                    self.record(Action::HsmConnect, &target, Outcome::Success, None, details)
                {
                    let _ = h.close();
                    return self.fail(Task::Connect, &msg, false);
                }
                self.hsm = Some(h);
                self.sink.send(Event::Connected(Arc::new(report)));
            }
            Err(e) => {
                let msg = e.to_string();
                let note = self
                    .record(
                        Action::HsmConnect,
                        &target,
                        Outcome::Failure,
                        None,
                        json!({ "error": msg }),
                    )
                    .err();
                self.fail(Task::Connect, &join(msg, note), false);
            }
        }
    }

    fn login(
        &mut self,
        selector: crate::model::TokenSelector,
        user: String,
        password: crate::secret::Secret,
        format: crate::model::PinFormat,
    ) {
        if let Err(msg) = self.auditor() {
            return self.fail(Task::Login, &msg, false);
        }
        let Some(hsm) = self.hsm.as_mut() else {
            return self.fail(Task::Login, &HsmError::NotConnected, false);
        };
        let result = hsm
            .open(&selector)
            .and_then(|token| hsm.login(&user, &password, format).map(|o| (token, o)));
        drop(password);
        let failures = hsm.failed_logins();
        match result {
            Ok((token, outcome)) => {
                let details = json!({
                    "slot_id": token.slot_id,
                    "pin_format": format.as_str(),
                    "already_logged_in": outcome == LoginOutcome::AlreadyLoggedIn,
                });
                if let Err(msg) = self.record(
                    Action::HsmLogin,
                    &token.label,
                    Outcome::Success,
                    Some(&user),
                    details,
                ) {
                    // A login the log cannot show must not stand.
                    if let Some(h) = self.hsm.as_mut() {
                        let _ = h.logout();
                    }
                    return self.fail(
                        Task::Login,
                        &format!("{msg} You have been logged out again."),
                        false,
                    );
                }
                let note = (outcome == LoginOutcome::AlreadyLoggedIn).then(|| {
                    "The token reported that this application was already logged in (CKR_USER_ALREADY_LOGGED_IN); tdekey continues with that login.".to_owned()
                });
                self.sink.send(Event::LoggedIn { token, user, note });
            }
            Err(e) => {
                let target = match &selector {
                    crate::model::TokenSelector::Label(l) => l.clone(),
                    crate::model::TokenSelector::Slot(s) => format!("slot {s}"),
                    crate::model::TokenSelector::Only => "the only token".to_owned(),
                };
                let msg = e.to_string();
                let note = self
                    .record(
                        Action::HsmLogin,
                        &target,
                        Outcome::Failure,
                        Some(&user),
                        json!({ "error": msg, "failures_this_session": failures, "pin_format": format.as_str() }),
                    )
                    .err();
                self.fail(Task::Login, &join(msg, note), e.offers_reconnect());
            }
        }
    }

    fn logout(&mut self) {
        let Some(hsm) = self.hsm.as_mut() else {
            return self.fail(Task::Login, &HsmError::NotConnected, false);
        };
        let user = hsm.user().map(str::to_owned);
        let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
        let r = hsm.logout();
        let (outcome, details) = match &r {
            Ok(()) => (Outcome::Success, json!({})),
            Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
        };
        let note = self
            .record(
                Action::HsmLogout,
                &target,
                outcome,
                user.as_deref(),
                details,
            )
            .err();
        match r {
            Ok(()) => match note {
                Some(n) => self.fail(Task::Login, &n, false),
                None => self.sink.send(Event::LoggedOut),
            },
            Err(e) => self.fail(
                Task::Login,
                &join(e.to_string(), note),
                e.offers_reconnect(),
            ),
        }
    }

    fn inventory(&mut self) {
        if let Err(msg) = self.auditor() {
            return self.fail(Task::Inventory, &msg, false);
        }
        let Some(hsm) = self.hsm.as_ref() else {
            return self.fail(Task::Inventory, &HsmError::NotConnected, false);
        };
        let user = hsm.user().map(str::to_owned);
        let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
        let sink = self.sink.clone();
        let result = hsm.inventory(&mut |done, total| {
            sink.send(Event::InventoryProgress { done, total });
        });
        match result {
            Ok(objects) => {
                let rows = inventory::analyze(objects);
                let s = inventory::summarize(&rows);
                let details = json!({
                    "objects": s.objects, "master_keys": s.master_keys,
                    "critical": s.critical, "warnings": s.warnings,
                    "logged_in": user.is_some(),
                });
                if let Err(msg) = self.record(
                    Action::HsmInventory,
                    &target,
                    Outcome::Success,
                    user.as_deref(),
                    details,
                ) {
                    return self.fail(Task::Inventory, &msg, false);
                }
                self.sink.send(Event::Inventory(Arc::new(rows)));
            }
            Err(e) => {
                let msg = e.to_string();
                let note = self
                    .record(
                        Action::HsmInventory,
                        &target,
                        Outcome::Failure,
                        user.as_deref(),
                        json!({ "error": msg }),
                    )
                    .err();
                self.fail(Task::Inventory, &join(msg, note), e.offers_reconnect());
            }
        }
    }
}

impl Worker {
    fn audit_verify(&mut self) {
        let hsm = self.hsm.as_ref().filter(|h| h.user().is_some());
        let a = match usable(&mut self.auditor) {
            Ok(a) => a,
            Err(e) => return self.fail(Task::AuditVerify, &e, false),
        };
        match crate::audit::verify_and_record(a, hsm, "gui") {
            Ok(c) => {
                let text = match c.recorded {
                    Err(n) => format!(
                        "{} (This check could not be recorded in the audit log: {n})",
                        c.text
                    ),
                    Ok(()) => c.text,
                };
                self.sink.send(Event::AuditVerified { ok: c.intact, text });
            }
            Err(e) => self.fail(Task::AuditVerify, &e, false),
        }
    }

    fn audit_checkpoint(&mut self) {
        let Some(hsm) = self.hsm.as_ref().filter(|h| h.user().is_some()) else {
            return self.fail(
                Task::AuditVerify,
                &"Log in to the HSM first: a checkpoint is computed inside the HSM.",
                false,
            );
        };
        let a = match usable(&mut self.auditor) {
            Ok(a) => a,
            Err(e) => return self.fail(Task::AuditVerify, &e, false),
        };
        match crate::audit::checkpoint(a, hsm) {
            Ok(c) => self.sink.send(Event::AuditVerified {
                ok: true,
                text: format!(
                    "Checkpoint {} written at seq {}: HMAC computed in the HSM with {} on token {:?}.",
                    c.id.unwrap_or(0),
                    c.seq,
                    c.key_label,
                    c.token_label
                ),
            }),
            Err(e) => self.fail(Task::AuditVerify, &e, false),
        }
    }
}

impl Worker {
    /// A request to a Rehearsal database: it runs here because its HSM keystore is this
    /// thread's HSM session. Not being connected, a token that will not open and an unreadable
    /// rehearsal are recorded like any other failure of the statement.
    fn rehearse(
        &mut self,
        database: crate::model::DatabaseProfile,
        request: crate::tde::request::Request,
        pin_format: crate::model::PinFormat,
        token: Option<crate::model::TokenSelector>,
    ) {
        use crate::oracle::OracleError;
        use crate::oracle::rehearsal::{self, Rehearsal};
        let auditor = match usable(&mut self.auditor) {
            Ok(a) => a,
            Err(msg) => return self.fail(Task::Oracle, &msg, false),
        };
        let was_logged_in = self.hsm.as_ref().is_some_and(Hsm::logged_in);
        let user = self.hsm.as_ref().and_then(|h| h.user().map(str::to_owned));
        let path = rehearsal::state_path(self.data.root(), &database.name);
        let slot = &mut self.hsm;
        let result = crate::oracle::connect_and_run_audited(
            auditor,
            &database,
            &request,
            user.as_deref(),
            || {
                let hsm = slot.as_mut().ok_or_else(|| {
                    OracleError::Rehearsal(format!(
                        "tdekey is not connected to an HSM. Connect to {} on the HSM screen first; the rehearsal keeps its HSM keys there.",
                        database
                            .hsm_profile
                            .as_deref()
                            .map_or("the token".to_owned(), |p| format!("{p:?}"))
                    ))
                })?;
                if hsm.token().is_none()
                    && let Some(sel) = &token
                {
                    hsm.open(sel)?;
                }
                Rehearsal::open(&path, &database.name, database.multitenant, hsm, pin_format)
            },
        );
        // A statement's HSM password may have logged tdekey in (as Oracle logs itself in).
        if !was_logged_in
            && let Some(h) = self.hsm.as_ref()
            && h.logged_in()
        {
            let token = h.token().cloned();
            let user = h.user().unwrap_or("").to_owned();
            let target = token.as_ref().map(|t| t.label.clone()).unwrap_or_default();
            if let Err(msg) = self.record(
                Action::HsmLogin,
                &target,
                Outcome::Success,
                Some(&user),
                json!({ "by": format!("Rehearsal statement: {}", request.title()) }),
            ) {
                self.fail(Task::Oracle, &msg, false);
            }
            if let Some(token) = token {
                self.sink.send(Event::LoggedIn {
                    token,
                    user,
                    note: Some("The Rehearsal statement's HSM password logged tdekey in.".into()),
                });
            }
        }
        match result {
            Ok((connector, answer)) => {
                self.sink
                    .send(Event::OracleAnswered(Box::new(super::OracleAnswer {
                        database: database.name.clone(),
                        connector,
                        title: request.title(),
                        answer,
                    })))
            }
            Err(e) => self.fail(Task::Oracle, &e, false),
        }
    }
}

/// The thread's audit log, or the sentence that says why no action can be taken.
fn usable(auditor: &mut Result<Auditor, String>) -> Result<&mut Auditor, String> {
    match auditor {
        Ok(a) => Ok(a),
        Err(e) => Err(format!(
            "The action was not performed because the audit log is unavailable: {e}"
        )),
    }
}

fn join(msg: String, note: Option<String>) -> String {
    match note {
        Some(n) => format!("{msg} {n}"),
        None => msg,
    }
}
