//! The audit thread: pages of the log and exports, on its own database connection, so a query
//! over a million entries or a long export never waits behind the HSM.

use super::store_slot::StoreSlot;
use super::{Event, EventSink, Failure, Task, Worker};
use crate::audit;
use crate::audit::export::{ExportError, Format};
use crate::paths::DataDir;
use crate::paths::out::OutError;
use crate::secret::Secret;
use crate::store::AuditFilter;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the audit thread does for the window.
pub enum AuditCommand {
    /// One page of entries, newest first, older than `before_seq`.
    Query {
        filter: AuditFilter,
        before_seq: Option<i64>,
        limit: usize,
        generation: u64,
        /// The HSM user logged in in the window, recorded with the reading.
        hsm_user: Option<String>,
    },
    /// The newest entry's sequence number (not an access to the entries: nothing is recorded).
    Head,
    /// Export the entries matching `filter`; set `cancel` to stop.
    Export {
        filter: AuditFilter,
        format: Format,
        path: PathBuf,
        passphrase: Option<Secret>,
        /// The person answered "replace it?" for this path: an existing regular file is
        /// replaced (a link, a device or a FIFO never is).
        replace: bool,
        cancel: Arc<AtomicBool>,
    },
}

impl AuditCommand {
    pub fn task(&self) -> Task {
        match self {
            AuditCommand::Query { .. } => Task::AuditQuery,
            AuditCommand::Head => Task::AuditHead,
            AuditCommand::Export { .. } => Task::AuditExport,
        }
    }
}

pub(crate) struct AuditWorker {
    slot: StoreSlot,
    /// Reading the log is recorded once per window session, before the first page shows.
    reading_recorded: bool,
}

impl AuditWorker {
    pub(crate) fn new(data: &DataDir) -> Self {
        Self {
            slot: StoreSlot::open(data),
            reading_recorded: false,
        }
    }
}

impl Worker for AuditWorker {
    type Job = AuditCommand;

    fn slot(&mut self) -> &mut StoreSlot {
        &mut self.slot
    }

    fn reads_only(job: &AuditCommand) -> bool {
        matches!(job, AuditCommand::Query { .. } | AuditCommand::Head)
    }

    fn handle(&mut self, job: AuditCommand, sink: &EventSink) -> Result<Event, Failure> {
        let a = self.slot.get(sink)?;
        match job {
            AuditCommand::Query {
                filter,
                before_seq,
                limit,
                generation,
                hsm_user,
            } => {
                if !self.reading_recorded {
                    audit::begin_reading(a, "gui", hsm_user.as_deref()).map_err(|e| {
                        Failure::new(format!(
                            "The audit log is not shown because this access could not be recorded: {e}"
                        ))
                    })?;
                    self.reading_recorded = true;
                }
                let head = audit::head_seq(a)?;
                sink.send(forward_positions(a)?);
                // The page first, so it shows without waiting for the count.
                let rows = audit::page(a, &filter, before_seq, limit)?;
                let exhausted = rows.len() < limit;
                sink.send(Event::AuditPage {
                    generation,
                    rows,
                    exhausted,
                    count: None,
                    head,
                });
                Ok(Event::AuditPage {
                    generation,
                    rows: Vec::new(),
                    exhausted,
                    count: Some(audit::count(a, &filter)?),
                    head,
                })
            }
            AuditCommand::Head => {
                sink.send(forward_positions(a)?);
                Ok(Event::AuditHead(audit::head_seq(a)?))
            }
            AuditCommand::Export {
                filter,
                format,
                path,
                passphrase,
                replace,
                cancel,
            } => {
                let result = audit::export(
                    a,
                    &filter,
                    format,
                    passphrase,
                    &path,
                    replace,
                    "gui",
                    &mut |done, total| {
                        sink.send(Event::AuditExportProgress { done, total });
                        !cancel.load(Ordering::Relaxed)
                    },
                );
                match result {
                    Ok(manifest) => Ok(Event::AuditExported(Box::new(manifest), path)),
                    // Not every desktop's save dialog asks before replacing a file: the window
                    // asks itself.
                    Err(audit::LogError::Export(ExportError::Out(OutError::Exists { path }))) => {
                        Ok(Event::AuditExportExists(path))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}

/// Where each SIEM destination stands, for the screen's forwarding line.
fn forward_positions(a: &audit::Auditor) -> Result<Event, Failure> {
    audit::forward::status(a.store())
        .map(|s| Event::ForwardPositions(s.destinations))
        .map_err(|e| Failure::new(e.to_string()))
}
