//! The audit thread: pages of the log and exports, on its own database connection, so a query
//! over a million entries or a long export never waits behind the HSM.

use super::{Command, Event, EventSink, Task};
use crate::audit::export;
use crate::audit::{Action, Auditor, Outcome};
use crate::paths::DataDir;
use crate::store::Store;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

pub(super) fn run(data: DataDir, rx: Receiver<Command>, sink: EventSink) {
    let mut auditor = Store::open(&data.database())
        .map(Auditor::new)
        .map_err(|e| e.to_string());
    // Reading the log is itself recorded, once per window session, before the first page.
    let mut read_recorded = false;
    while let Ok(cmd) = rx.recv() {
        let task = cmd.task();
        let a = match &mut auditor {
            Ok(a) => a,
            Err(e) => {
                sink.send(Event::Failed {
                    task,
                    message: e.clone(),
                    reconnect: false,
                });
                continue;
            }
        };
        match cmd {
            Command::AuditQuery {
                filter,
                before_seq,
                limit,
                generation,
            } => {
                if !read_recorded {
                    if let Err(e) = a.record(
                        Action::AuditRead,
                        "audit_log",
                        Outcome::Success,
                        None,
                        json!({ "via": "gui" }),
                    ) {
                        fail(
                            &sink,
                            task,
                            format!(
                                "The audit log is not shown because this access could not be recorded: {e}"
                            ),
                        );
                        continue;
                    }
                    read_recorded = true;
                }
                // The page first, so it shows without waiting for the count.
                match a.store().audit_page(&filter, before_seq, limit) {
                    Ok(rows) => {
                        let exhausted = rows.len() < limit;
                        sink.send(Event::AuditPage {
                            generation,
                            rows,
                            exhausted,
                            count: None,
                        });
                        match a.store().audit_count(&filter) {
                            Ok(n) => sink.send(Event::AuditPage {
                                generation,
                                rows: Vec::new(),
                                exhausted,
                                count: Some(n),
                            }),
                            Err(e) => fail(&sink, task, e.to_string()),
                        }
                    }
                    Err(e) => fail(&sink, task, e.to_string()),
                }
            }
            Command::AuditExport {
                filter,
                format,
                path,
                passphrase,
                cancel,
            } => {
                let target = path.display().to_string();
                let pending = match a.begin(
                    Action::AuditExport,
                    &target,
                    None,
                    json!({ "format": format.as_str(), "filter": filter, "encrypted": passphrase.is_some(), "via": "gui" }),
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        fail(&sink, task, e.to_string());
                        continue;
                    }
                };
                let progress_sink = sink.clone();
                let result = export::export(
                    a.store(),
                    &filter,
                    format,
                    passphrase.as_ref(),
                    &path,
                    &mut |done, total| {
                        progress_sink.send(Event::AuditExportProgress { done, total });
                        !cancel.load(Ordering::Relaxed)
                    },
                );
                drop(passphrase);
                let (outcome, details) = match &result {
                    Ok(m) => (
                        Outcome::Success,
                        json!({ "entries": m.entries, "first_seq": m.first_seq, "last_seq": m.last_seq, "sha256": m.sha256 }),
                    ),
                    Err(export::ExportError::Cancelled) => (
                        Outcome::Cancelled,
                        json!({ "error": "cancelled by the user" }),
                    ),
                    Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
                };
                let note = a.finish(pending, outcome, details).err();
                match (result, note) {
                    (Ok(m), None) => sink.send(Event::AuditExported(Box::new(m), path)),
                    (Ok(_), Some(n)) => fail(
                        &sink,
                        task,
                        format!(
                            "The export was written, but its outcome could not be recorded in the audit log: {n}"
                        ),
                    ),
                    (Err(e), _) => fail(&sink, task, e.to_string()),
                }
            }
            other => fail(
                &sink,
                other.task(),
                "internal error: a command reached the wrong worker".into(),
            ),
        }
    }
}

fn fail(sink: &EventSink, task: Task, message: String) {
    sink.send(Event::Failed {
        task,
        message,
        reconnect: false,
    });
}
