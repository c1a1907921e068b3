//! Forwarding the audit log to a SIEM (`tdekey audit forward`): every entry as one RFC 5424
//! message over TCP or TLS, or as a journald entry; at least once, in seq order, resumable.
//!
//! The last seq a destination acknowledged (written and flushed, its connection still open
//! after the flush) is kept per destination in the store (`forward_positions`) after each
//! batch, so a restart or an outage re-sends at most the one batch that was not acknowledged;
//! the SIEM drops duplicates by the `seq` of the structured data.
//!
//! The forwarding is audited without an entry per forwarded entry: `--once` writes
//! `audit.forward` started and its outcome (entries, first and last seq); following writes one
//! entry when it starts, one when the destination fails and one when it is back, and one when
//! it stops. Those entries are forwarded like any other, once each: no feedback loop.

pub mod syslog;
mod transport;

pub use transport::{Destination, JOURNAL_SOCKET, TlsOptions};

use super::{Action, AuditError, Auditor, Entry, Outcome};
use crate::model::Retry;
use crate::store::{ForwardPosition, Store, StoreError};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use transport::Link;

/// Entries per acknowledged batch unless told otherwise.
pub const DEFAULT_BATCH: usize = 1000;
/// How often a follower looks for new entries.
pub const POLL: Duration = Duration::from_millis(500);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(
        "Cannot read the destination {0:?}: use syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT or journald."
    )]
    BadUrl(String),
    #[error(
        "--ca, --cert and --key apply to syslog+tls:// destinations only: remove them or use syslog+tls://."
    )]
    TlsOptionsWithoutTls,
    #[error("The batch size must be between 1 and 1000000.")]
    BadBatch,
    #[error(
        "Cannot connect to {destination}: {detail}. Check that the SIEM is up and listens there and that the network lets tdekey through."
    )]
    Connect { destination: String, detail: String },
    #[error(
        "The TLS handshake with {destination} failed ({detail}): check that --ca names the CA that signed the SIEM's certificate and that the host name is in that certificate."
    )]
    Tls { destination: String, detail: String },
    #[error("Cannot read the {what} {path}: {detail}.")]
    ReadFile {
        what: String,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "{path} is not a PEM CA certificate ({detail}): give the CA certificate that signed the SIEM's certificate."
    )]
    BadCa { path: PathBuf, detail: String },
    #[error(
        "Cannot use --cert and --key as the client identity ({0}): give the certificate and its PKCS#8 private key as PEM files."
    )]
    Identity(String),
    #[error(
        "journald is not running here ({JOURNAL_SOCKET} is absent): forward to syslog+tcp:// or syslog+tls:// instead."
    )]
    NoJournal,
    #[error(
        "Sending to {destination} failed ({detail}); it has everything up to seq {acknowledged}, and the rest is sent again once it is back."
    )]
    Send {
        destination: String,
        detail: String,
        acknowledged: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl ForwardError {
    /// Whether the destination (or the way to it) is what failed: worth retrying by itself.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            ForwardError::Connect { .. } | ForwardError::Tls { .. } | ForwardError::Send { .. }
        )
    }

    pub fn retry(&self) -> Retry {
        match self {
            ForwardError::Connect { .. } | ForwardError::Send { .. } => Retry::Yes,
            ForwardError::Store(e) => e.retry(),
            ForwardError::Audit(e) => e.retry(),
            _ => Retry::AfterFix,
        }
    }
}

/// How to forward.
#[derive(Clone, Debug)]
pub struct Options {
    pub destination: Destination,
    pub tls: TlsOptions,
    /// Entries per acknowledged batch.
    pub batch: usize,
}

impl Options {
    pub fn new(url: &str, tls: TlsOptions, batch: Option<usize>) -> Result<Self, ForwardError> {
        let destination = Destination::parse(url)?;
        let any_tls = tls.ca.is_some() || tls.cert.is_some() || tls.key.is_some();
        if any_tls && !matches!(destination, Destination::Tls { .. }) {
            return Err(ForwardError::TlsOptionsWithoutTls);
        }
        let batch = batch.unwrap_or(DEFAULT_BATCH);
        if !(1..=1_000_000).contains(&batch) {
            return Err(ForwardError::BadBatch);
        }
        Ok(Self {
            destination,
            tls,
            batch,
        })
    }
}

/// What a run sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Entries acknowledged by this run.
    pub entries: u64,
    pub first_seq: Option<i64>,
    /// The destination's position at the end: every entry up to it was acknowledged.
    pub position: i64,
}

impl Sent {
    fn notes(&self, destination: &str) -> serde_json::Value {
        json!({
            "destination": destination,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "last_seq": self.position,
        })
    }
}

/// Each destination's position and the chain head: how far behind each one is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub head: i64,
    pub destinations: Vec<ForwardPosition>,
}

/// Where every destination stands (for the window's Audit screen and `--status`).
pub fn status(store: &Store) -> Result<Status, ForwardError> {
    Ok(Status {
        head: store.audit_head()?.map(|(s, _)| s).unwrap_or(0),
        destinations: store.forward_positions()?,
    })
}

/// Sends batches over `link` until the destination has everything up to the head, `stop` is
/// set, or sending fails. The position is saved after each acknowledged batch.
fn pump(
    store: &Store,
    opts: &Options,
    link: &mut Link,
    f: &mut syslog::Formatter,
    sent: &mut Sent,
    stop: &AtomicBool,
) -> Result<(), ForwardError> {
    let key = opts.destination.key();
    let fail = |detail: String, acknowledged: i64| ForwardError::Send {
        destination: key.clone(),
        detail,
        acknowledged,
    };
    loop {
        if !link.alive() {
            return Err(fail("it closed the connection".into(), sent.position));
        }
        let mut first = None;
        let mut last = None;
        let mut error = None;
        let mut n = 0u64;
        store.for_each_audit_after(sent.position, opts.batch, |r| {
            if let Err(e) = link.send(f, r) {
                error = Some(e.to_string());
                return false;
            }
            first.get_or_insert(r.seq);
            last = Some(r.seq);
            n += 1;
            true
        })?;
        if let Some(e) = error {
            return Err(fail(e, sent.position));
        }
        let Some(last) = last else {
            return Ok(());
        };
        link.flush()
            .map_err(|e| fail(e.to_string(), sent.position))?;
        if !link.alive() {
            return Err(fail("it closed the connection".into(), sent.position));
        }
        store.set_forward_position(&key, last)?;
        sent.first_seq = sent.first_seq.or(first);
        sent.position = last;
        sent.entries += n;
        crate::faults::point(crate::faults::FORWARD_BATCH_SAVED);
        if stop.load(Ordering::SeqCst) || n < opts.batch as u64 {
            return Ok(());
        }
    }
}

/// Forwards every entry the destination has not acknowledged, once, and stops: audited as
/// `audit.forward` started and its outcome. An error says how far the destination got.
pub fn forward_once(a: &mut Auditor, opts: &Options) -> Result<Sent, ForwardError> {
    let key = opts.destination.key();
    let position = a.store().forward_position(&key)?;
    let entry = Entry::new(Action::AuditForward, &key)
        .details(json!({ "destination": key, "mode": "once", "from_seq": position }));
    let never = AtomicBool::new(false);
    let acted = a.act(entry, |step| {
        let mut sent = Sent {
            position,
            ..Sent::default()
        };
        let result = Link::open(&opts.destination, &opts.tls).and_then(|mut link| {
            let mut f = syslog::Formatter::default();
            let r = pump(step.store(), opts, &mut link, &mut f, &mut sent, &never);
            link.close();
            r
        });
        if let serde_json::Value::Object(m) = sent.notes(&key) {
            for (k, v) in m {
                step.note(&k, v);
            }
        }
        result.map(|()| sent)
    })?;
    acted.into_result::<ForwardError>("The entries were forwarded")
}

/// What a follower reports as it goes (for the command line's output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Connected,
    Failed { error: String, retry_in: Duration },
    Sent(Sent),
}

fn wait(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Follows the log until `stop` is set: forwards what the destination lacks, then new entries
/// as they are written (the head is looked at every [`POLL`]); a failing destination is tried
/// again after 1 s, doubling to 60 s. Audited at the start, at each failure and recovery, and
/// at the stop (with the entries sent and the last seq acknowledged).
pub fn follow(
    a: &mut Auditor,
    opts: &Options,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Sent, ForwardError> {
    let key = opts.destination.key();
    let position = a.store().forward_position(&key)?;
    let started = a
        .record(
            Action::AuditForward,
            &key,
            Outcome::Started,
            None,
            json!({ "destination": key, "mode": "follow", "from_seq": position }),
        )
        .map_err(AuditError::NotStarted)?;
    let mut sent = Sent {
        position,
        ..Sent::default()
    };
    let mut f = syslog::Formatter::default();
    let mut link: Option<Link> = None;
    let mut backoff = BACKOFF_FIRST;
    let mut failing: Option<String> = None;
    let mut reported = sent.clone();
    let mut fatal = None;
    while !stop.load(Ordering::SeqCst) {
        let result = match link.as_mut() {
            Some(l) => pump(a.store(), opts, l, &mut f, &mut sent, stop),
            None => Link::open(&opts.destination, &opts.tls).map(|l| {
                link = Some(l);
                on_event(&Event::Connected);
            }),
        };
        match result {
            Ok(()) if link.is_some() => {
                if let Some(error) = failing.take() {
                    a.record(
                        Action::AuditForward,
                        &key,
                        Outcome::Success,
                        None,
                        json!({ "destination": key, "event": "resumed", "after": error,
                                "started_seq": started.seq, "last_seq": sent.position }),
                    )?;
                    backoff = BACKOFF_FIRST;
                }
                if sent != reported {
                    on_event(&Event::Sent(sent.clone()));
                    reported = sent.clone();
                }
                let head = a.store().audit_head()?.map(|(s, _)| s).unwrap_or(0);
                if head <= sent.position {
                    wait(stop, POLL);
                }
            }
            Ok(()) => {}
            // What waiting cannot mend (the database, a CA or key file, no journald here)
            // ends the run, recorded as its stop.
            Err(e) if !e.is_outage() => {
                fatal = Some(e);
                break;
            }
            Err(e) => {
                if let Some(l) = link.take() {
                    l.close();
                }
                let error = e.to_string();
                if failing.is_none() {
                    a.record(
                        Action::AuditForward,
                        &key,
                        Outcome::Failure,
                        None,
                        json!({ "destination": key, "event": "failed", "error": error,
                                "started_seq": started.seq, "last_seq": sent.position }),
                    )?;
                    failing = Some(error.clone());
                }
                on_event(&Event::Failed {
                    error,
                    retry_in: backoff,
                });
                wait(stop, backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    if let Some(l) = link.take() {
        l.close();
    }
    let mut notes = sent.notes(&key);
    if let serde_json::Value::Object(m) = &mut notes {
        m.insert("event".into(), "stopped".into());
        m.insert("started_seq".into(), started.seq.into());
        if let Some(e) = &failing {
            m.insert("failing".into(), e.clone().into());
        }
        if let Some(e) = &fatal {
            m.insert("error".into(), e.to_string().into());
        }
    }
    a.record(
        Action::AuditForward,
        &key,
        if failing.is_some() || fatal.is_some() {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        None,
        notes,
    )
    .map_err(|source| AuditError::Unrecorded {
        done: format!(
            "Forwarding to {key} stopped with everything up to seq {} acknowledged",
            sent.position
        ),
        source,
    })?;
    match fatal {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}
