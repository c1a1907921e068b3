//! The Oracle thread: runs requests through the Manual and SQL*Plus connectors (Rehearsal runs
//! on the HSM thread, which owns the HSM it uses) and writes their audit entries.

use super::{Command, Event, EventSink, ManualAsk, ManualReply, OracleAnswer, Task};
use crate::audit::Auditor;
use crate::model::ConnectorKind as Kind;
use crate::oracle::sqlplus::SqlPlus;
use crate::oracle::{Manual, Operator, OracleError, connect_and_run_audited};
use crate::paths::DataDir;
use crate::store::Store;
use crate::tde::request::Request;
use crate::tde::sql::Statement;
use std::sync::mpsc::Receiver;

/// The DBA at the keyboard: each statement is shown in the window; the answer is the paste.
struct WindowOperator<'a> {
    sink: &'a EventSink,
    replies: &'a Receiver<ManualReply>,
}

impl Operator for WindowOperator<'_> {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        problem: Option<&str>,
    ) -> Result<String, OracleError> {
        self.sink.send(Event::OracleAsk(Box::new(ManualAsk {
            title: request.title(),
            display: statement.display.clone(),
            sql: statement.sql.clone(),
            problem: problem.map(str::to_owned),
        })));
        match self.replies.recv() {
            Ok(ManualReply::Pasted(text)) => Ok(text),
            Ok(ManualReply::Cancel) | Err(_) => Err(OracleError::Cancelled {
                title: request.title(),
            }),
        }
    }
}

pub(super) fn run(
    data: DataDir,
    rx: Receiver<Command>,
    replies: Receiver<ManualReply>,
    sink: EventSink,
) {
    let mut auditor = Store::open(&data.database())
        .map(Auditor::new)
        .map_err(|e| e.to_string());
    while let Ok(cmd) = rx.recv() {
        let Command::OracleRun {
            database,
            request,
            db_password,
            ..
        } = cmd
        else {
            sink.send(Event::Failed {
                task: cmd.task(),
                message: "internal error: a command reached the wrong worker".into(),
                reconnect: false,
            });
            continue;
        };
        let a = match &mut auditor {
            Ok(a) => a,
            Err(e) => {
                sink.send(Event::Failed {
                    task: Task::Oracle,
                    message: format!(
                        "The statement was not run because the audit log is unavailable: {e}"
                    ),
                    reconnect: false,
                });
                continue;
            }
        };
        // Answers pasted for an earlier, finished request are stale.
        while replies.try_recv().is_ok() {}
        let result = match database.connector {
            Kind::Manual => connect_and_run_audited(a, &database, &request, None, || {
                Ok(Manual::new(WindowOperator {
                    sink: &sink,
                    replies: &replies,
                }))
            }),
            Kind::Sqlplus => connect_and_run_audited(a, &database, &request, None, || {
                SqlPlus::new(&database, db_password)
            }),
            Kind::Rehearsal => Err(OracleError::Rehearsal(
                "internal error: a rehearsal reached the Oracle thread".into(),
            )),
        };
        match result {
            Ok((connector, answer)) => sink.send(Event::OracleAnswered(Box::new(OracleAnswer {
                database: database.name.clone(),
                connector,
                title: request.title(),
                answer,
            }))),
            Err(e) => sink.send(Event::Failed {
                task: Task::Oracle,
                message: e.to_string(),
                reconnect: false,
            }),
        }
    }
}
