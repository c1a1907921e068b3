//! A worker's way to the store: an [`Auditor`] opened on the worker's own thread, and opened
//! again after its connection to a shared store went away: on the worker's next job, or when
//! the person clicks Retry. A worker whose server came back therefore never keeps failing, and
//! its first job that succeeds says so ([`Event::StoreShown`]: the banner goes).
//!
//! Nothing here waits without bound: opening a PostgreSQL connection has a deadline and every
//! statement a timeout (`store::pg`), and all of it runs on the worker's thread, never on the
//! window's.

use super::{Event, EventSink, Failure};
use crate::audit::{AuditError, Auditor};
use crate::paths::DataDir;
use crate::store::{Location, StoreError};
use std::path::PathBuf;

/// Which store the window uses and whether it answers (the top bar and the store's banner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreShown {
    /// This computer's SQLite file (Some), or a shared PostgreSQL store (None).
    pub file: Option<PathBuf>,
    /// The file, or `postgresql://user@host:port/db` (never a password); None when the store
    /// named cannot even be parsed (`problem` says why).
    pub location: Option<String>,
    /// PostgreSQL: `none`, or the TLS version and cipher of the connection (None when not
    /// connected).
    pub tls: Option<String>,
    /// PostgreSQL: the server's version, when connected.
    pub server_version: Option<String>,
    /// Why the store cannot be used now (one sentence), or None when it answered.
    pub problem: Option<String>,
}

/// Whether `e` means that the store could not be reached, or that its connection went away:
/// opening it again later may help.
fn lost(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::ConnectionLost { .. } | StoreError::Connect(_)
    )
}

/// The banner's sentence for a store that went away or cannot be reached.
fn lost_sentence(e: &StoreError) -> String {
    match e {
        StoreError::ConnectionLost { at } => format!(
            "The connection to the store {at} was lost: check the PostgreSQL server and the network, then click Retry."
        ),
        other => other.to_string(),
    }
}

/// A worker's auditor, opened when needed.
pub(crate) struct StoreSlot {
    data: DataDir,
    auditor: Option<Auditor>,
    /// The store could not be reached, or its connection went away, and it has not been
    /// opened since.
    lost: bool,
}

impl StoreSlot {
    /// Opens the data directory's store (a failure is said by the first job that needs it).
    pub(crate) fn open(data: &DataDir) -> Self {
        Self {
            data: data.clone(),
            auditor: Auditor::open(data).ok(),
            lost: false,
        }
    }

    /// The open auditor, if any (for a worker's last words at shutdown).
    pub(crate) fn opened(&mut self) -> Option<&mut Auditor> {
        self.auditor.as_mut()
    }

    /// Opens the store if it is not open; the error says why it cannot be.
    fn ensure(&mut self) -> Result<&mut Auditor, AuditError> {
        let a = match self.auditor.take() {
            Some(a) => a,
            None => Auditor::open(&self.data)?,
        };
        self.lost = false;
        Ok(self.auditor.insert(a))
    }

    /// The worker's auditor for a job, opened again if it is not open. A store that cannot be
    /// reached is also reported as [`Event::StoreLost`], besides the job's own failure.
    pub(crate) fn get(&mut self, sink: &EventSink) -> Result<&mut Auditor, Failure> {
        if let Err(e) = self.ensure() {
            if let AuditError::Unavailable(s) = &e
                && lost(s)
            {
                self.lost = true;
                sink.send(Event::StoreLost {
                    message: lost_sentence(s),
                });
            }
            return Err(Failure::new(e.to_string()));
        }
        // Open now: this returns it.
        self.ensure().map_err(|e| Failure::new(e.to_string()))
    }

    /// After a job failed: whether the store still answers. A connection that does not is
    /// closed (the next job opens another) and reported as [`Event::StoreLost`], after the
    /// job's own failure: returns that sentence.
    pub(crate) fn after_failure(&mut self) -> Option<String> {
        let Some(a) = &self.auditor else {
            // Not open: `get` said why, when it failed.
            return None;
        };
        match a.store().ping() {
            Err(e) if lost(&e) => {
                self.auditor = None;
                self.lost = true;
                Some(lost_sentence(&e))
            }
            _ => None,
        }
    }

    /// Whether the store could not be reached, or its connection went away, and has not been
    /// opened since.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost
    }

    /// Retry: a connection that still answers is kept, any other is opened again. A failure
    /// is reported as [`Event::StoreLost`].
    pub(crate) fn reconnect(&mut self, sink: &EventSink) {
        if let Some(a) = &self.auditor
            && a.store().ping().is_ok()
        {
            return;
        }
        self.auditor = None;
        // `get` reports a store that cannot be reached; nothing else is for this worker to say.
        let _ = self.get(sink);
    }

    /// Which store this is and whether it answers (the store's facts when it does).
    pub(crate) fn shown(&mut self) -> StoreShown {
        let located = Location::of(&self.data);
        let mut shown = StoreShown {
            file: match &located {
                Ok(Location::Sqlite(p)) => Some(p.clone()),
                Ok(Location::Pg(_)) | Err(_) => None,
            },
            location: located.as_ref().ok().map(|l| l.name().to_string()),
            tls: None,
            server_version: None,
            problem: None,
        };
        if self.data.shared_store().is_none() {
            shown.file = Some(self.data.database());
        }
        // The server and the TLS only: no table is read (counting a long log would hold up
        // the jobs queued behind).
        let facts = match self.ensure() {
            Ok(a) => a.store().server().map(|s| (a.store().at().to_string(), s)),
            Err(e) => {
                shown.problem = Some(match &e {
                    AuditError::Unavailable(s) if lost(s) => {
                        self.lost = true;
                        lost_sentence(s)
                    }
                    other => other.to_string(),
                });
                return shown;
            }
        };
        match facts {
            Ok((location, (server_version, tls))) => {
                shown.location = Some(location);
                shown.tls = tls;
                shown.server_version = server_version;
            }
            Err(e) => {
                if lost(&e) {
                    self.auditor = None;
                    self.lost = true;
                }
                shown.problem = Some(lost_sentence(&e));
            }
        }
        shown
    }
}
