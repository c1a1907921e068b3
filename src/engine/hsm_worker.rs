//! The HSM thread: owns the loaded module and its session; runs the session use cases, the
//! checks that need the HSM (audit verification and checkpoints) and Rehearsal statements,
//! whose HSM keystore is this session.

use super::store_slot::StoreSlot;
use super::{
    Event, EventSink, Failure, OracleAnswer, OracleRun, Replies, Task, WindowOperator, Worker,
};
use crate::audit::{self, Auditor};
use crate::databases::{self, Reach};
use crate::hsm::{Hsm, HsmError};
use crate::model::{PinFormat, TokenSelector};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session::{self, Connected, SessionError};
use std::path::PathBuf;
use std::sync::Arc;

/// What the HSM thread does for the window.
pub enum HsmCommand {
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
    /// Verify the chain (and, when logged in, the checkpoints' HMACs in the HSM).
    AuditVerify,
    /// Write a checkpoint with the logged-in HSM session.
    AuditCheckpoint,
    /// Run the next step of a database's migration (the wizard uses this thread's session).
    MigrationStep {
        database: String,
        inputs: Box<crate::migration::Inputs>,
        /// SQL*Plus with a named user: that user's password.
        db_password: Option<Secret>,
        pin_format: PinFormat,
    },
    /// Starts the rollback of a database's migration (with the reason) or runs its next step.
    MigrationRollback {
        database: String,
        /// The person's reason, to start it.
        reason: Option<String>,
        inputs: Box<crate::migration::Inputs>,
        db_password: Option<Secret>,
        pin_format: PinFormat,
    },
    /// Rotate a database's master key with this thread's session (logged in as Oracle's
    /// crypto user, whose password the statement needs again).
    Rotate {
        database: String,
        request: crate::rotation::RotateRequest,
        hsm_password: Secret,
        db_password: Option<Secret>,
        pin_format: PinFormat,
    },
    /// Generate a TDE master key on the logged-in token.
    GenerateKey {
        request: crate::rotation::KeyRequest,
    },
}

impl HsmCommand {
    pub fn task(&self) -> Task {
        match self {
            HsmCommand::Connect { .. } | HsmCommand::Disconnect => Task::Connect,
            HsmCommand::Login { .. } | HsmCommand::Logout => Task::Login,
            HsmCommand::Inventory => Task::Inventory,
            HsmCommand::AuditVerify | HsmCommand::AuditCheckpoint => Task::AuditVerify,
            HsmCommand::MigrationStep { .. } | HsmCommand::MigrationRollback { .. } => {
                Task::Migration
            }
            HsmCommand::Rotate { .. } | HsmCommand::GenerateKey { .. } => Task::Rotation,
        }
    }
}

/// The HSM thread's jobs: the window's commands, and Rehearsal statements (whose keystore is
/// this thread's session).
pub(crate) enum Job {
    Command(HsmCommand),
    Rehearse(Box<OracleRun>),
    /// A recoverability report, with this thread's session.
    Recover(Box<super::RecoverInputs>),
}

pub(crate) struct HsmWorker {
    data: DataDir,
    hsm: Option<Hsm>,
    slot: StoreSlot,
    replies: Replies,
}

impl HsmWorker {
    pub(crate) fn new(data: DataDir, replies: Replies) -> Self {
        Self {
            slot: StoreSlot::open(&data),
            data,
            hsm: None,
            replies,
        }
    }
}

/// The thread's parts a migration step uses.
struct Parts<'w> {
    data: &'w DataDir,
    hsm: &'w mut Option<Hsm>,
    replies: &'w Replies,
}

impl<'w> Parts<'w> {
    /// The data directory, the HSM session and, for a Manual database, the DBA at the window.
    fn session_for<'s>(
        self,
        a: &Auditor,
        sink: &'s EventSink,
        database: &str,
    ) -> Result<(&'w DataDir, &'w mut Hsm, Option<WindowOperator<'s>>), Failure>
    where
        'w: 's,
    {
        let hsm = self
            .hsm
            .as_mut()
            .ok_or_else(|| Failure::from(SessionError::from(HsmError::NotConnected)))?;
        let manual = crate::databases::get(a, database)
            .map_err(Failure::from)?
            .connector
            == crate::model::ConnectorKind::Manual;
        let operator = manual.then(|| WindowOperator::new(sink, self.replies, database));
        Ok((self.data, hsm, operator))
    }

    /// Runs the next step of a migration, or (`rollback`: with the reason to start it) of its
    /// rollback.
    #[allow(clippy::too_many_arguments)]
    fn migration(
        self,
        a: &mut Auditor,
        sink: &EventSink,
        database: String,
        rollback: Option<Option<String>>,
        inputs: crate::migration::Inputs,
        db_password: Option<Secret>,
        pin_format: PinFormat,
    ) -> Result<Event, Failure> {
        let (data, hsm, mut operator) = self.session_for(a, sink, &database)?;
        let mut ctx = crate::migration::Context {
            data,
            hsm,
            operator: operator
                .as_mut()
                .map(|o| o as &mut dyn crate::oracle::Operator),
            db_password,
            pin_format,
            inputs,
        };
        let progress = match rollback {
            // The step clicked, then the steps after it that do not apply (skipped without
            // sending anything); what the clicked step found is what the window shows.
            None => {
                let mut ran = crate::migration::run(a, &mut ctx, &database)?;
                if ran.is_empty() {
                    return Err(Failure::new("The migration ran no step.".to_owned()));
                }
                ran.swap_remove(0)
            }
            // The rollback goes on through the steps that settle by themselves (nothing to
            // reverse, nothing to compare) and stops at the next step that may send a statement
            // or waits for a person.
            Some(reason) => crate::migration::rollback(a, &mut ctx, &database, reason.as_deref())?
                .pop()
                .ok_or_else(|| Failure::new("The rollback ran no step.".to_owned()))?,
        };
        let state = crate::migration::status(a, &database)?;
        Ok(Event::Migration {
            past: crate::migration::past(a, &database)?,
            database,
            state: state.map(Box::new),
            progress: Some(Box::new(progress)),
        })
    }
}

impl Parts<'_> {
    #[allow(clippy::too_many_arguments)]
    fn rotate(
        self,
        a: &mut Auditor,
        sink: &EventSink,
        database: String,
        request: crate::rotation::RotateRequest,
        hsm_password: Secret,
        db_password: Option<Secret>,
        pin_format: PinFormat,
    ) -> Result<Event, Failure> {
        let (data, hsm, mut operator) = self.session_for(a, sink, &database)?;
        let mut ctx = crate::rotation::Context {
            data,
            hsm,
            operator: operator
                .as_mut()
                .map(|o| o as &mut dyn crate::oracle::Operator),
            db_password,
            pin_format,
            hsm_password,
        };
        let report = crate::rotation::rotate(a, &mut ctx, &database, &request)?;
        Ok(Event::Rotated(Box::new(report)))
    }
}

impl Worker for HsmWorker {
    type Job = Job;

    fn slot(&mut self) -> &mut StoreSlot {
        &mut self.slot
    }

    fn handle(&mut self, job: Job, sink: &EventSink) -> Result<Event, Failure> {
        let a = self.slot.get(sink)?;
        fn connected(hsm: &mut Option<Hsm>) -> Result<&mut Hsm, Failure> {
            hsm.as_mut()
                .ok_or_else(|| SessionError::from(HsmError::NotConnected).into())
        }
        match job {
            Job::Command(HsmCommand::Connect { module }) => {
                let Connected { hsm, report } =
                    session::switch_module(a, self.hsm.take(), &module, "gui")?;
                self.hsm = Some(hsm);
                Ok(Event::Connected(Arc::new(report)))
            }
            Job::Command(HsmCommand::Disconnect) => match self.hsm.take() {
                Some(h) => session::disconnect(a, h)
                    .map(|()| Event::Disconnected)
                    .map_err(Failure::from),
                None => Ok(Event::Disconnected),
            },
            Job::Command(HsmCommand::Login {
                selector,
                user,
                password,
                format,
            }) => {
                let hsm = connected(&mut self.hsm)?;
                let done = session::login(a, hsm, &selector, &user, password, format, "gui")?;
                Ok(Event::LoggedIn {
                    token: done.token,
                    user,
                    note: done.note,
                })
            }
            Job::Command(HsmCommand::Logout) => {
                session::logout(a, connected(&mut self.hsm)?)?;
                Ok(Event::LoggedOut)
            }
            Job::Command(HsmCommand::Inventory) => {
                let hsm = connected(&mut self.hsm)?;
                let rows = session::inventory(a, hsm, &mut |done, total| {
                    sink.send(Event::InventoryProgress { done, total })
                })?;
                Ok(Event::Inventory(Arc::new(rows)))
            }
            Job::Command(HsmCommand::AuditVerify) => {
                let checked = audit::verify_log(a, self.hsm.as_ref(), "gui")?;
                let text = match checked.recorded {
                    Err(n) => format!(
                        "{} (This check could not be recorded in the audit log: {n})",
                        checked.text
                    ),
                    Ok(()) => checked.text,
                };
                Ok(Event::AuditVerified {
                    ok: checked.intact,
                    text,
                })
            }
            Job::Command(HsmCommand::AuditCheckpoint) => {
                let hsm = self
                    .hsm
                    .as_ref()
                    .ok_or(audit::LogError::NotLoggedIn)
                    .map_err(Failure::from)?;
                let c = audit::checkpoint(a, hsm)?;
                Ok(Event::AuditVerified {
                    ok: true,
                    text: format!(
                        "Checkpoint {} written at seq {}: HMAC computed in the HSM with {} on token {:?}.",
                        c.id.unwrap_or(0),
                        c.seq,
                        c.key_label,
                        c.token_label
                    ),
                })
            }
            Job::Command(HsmCommand::MigrationStep {
                database,
                inputs,
                db_password,
                pin_format,
            }) => Parts {
                data: &self.data,
                hsm: &mut self.hsm,
                replies: &self.replies,
            }
            .migration(a, sink, database, None, *inputs, db_password, pin_format),
            Job::Command(HsmCommand::MigrationRollback {
                database,
                reason,
                inputs,
                db_password,
                pin_format,
            }) => Parts {
                data: &self.data,
                hsm: &mut self.hsm,
                replies: &self.replies,
            }
            .migration(
                a,
                sink,
                database,
                Some(reason),
                *inputs,
                db_password,
                pin_format,
            ),
            Job::Command(HsmCommand::Rotate {
                database,
                request,
                hsm_password,
                db_password,
                pin_format,
            }) => Parts {
                data: &self.data,
                hsm: &mut self.hsm,
                replies: &self.replies,
            }
            .rotate(
                a,
                sink,
                database,
                request,
                hsm_password,
                db_password,
                pin_format,
            ),
            Job::Command(HsmCommand::GenerateKey { request }) => {
                let hsm = connected(&mut self.hsm)?;
                let key = crate::rotation::generate_key(a, hsm, &request)?;
                Ok(Event::KeyGenerated(Box::new(key)))
            }
            Job::Recover(inputs) => {
                let (data, hsm, mut operator) = Parts {
                    data: &self.data,
                    hsm: &mut self.hsm,
                    replies: &self.replies,
                }
                .session_for(a, sink, &inputs.database)?;
                let operator = operator
                    .as_mut()
                    .map(|o| o as &mut dyn crate::oracle::Operator);
                super::recover_jobs::check(a, data, hsm, operator, *inputs)
            }
            Job::Rehearse(run) => {
                let OracleRun {
                    database,
                    request,
                    pin_format,
                    token,
                    ..
                } = *run;
                let reach = Reach {
                    hsm: self.hsm.as_mut(),
                    pin_format,
                    token,
                    ..Reach::new(&self.data)
                };
                let ran = databases::run_statement(a, &database, &request, reach)?;
                Ok(OracleAnswer::event(database.name, &request, ran))
            }
        }
    }

    fn shut_down(&mut self) {
        // The front end is gone: close the session and finalize the module.
        if let (Some(h), Some(a)) = (self.hsm.take(), self.slot.opened()) {
            let _ = session::disconnect(a, h);
        }
    }
}
