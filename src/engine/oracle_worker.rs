//! The Oracle thread: statements through the Manual and SQL*Plus connectors (Rehearsal runs
//! on the HSM thread, which owns the HSM it uses).

use super::hsm_worker::usable;
use super::{Event, EventSink, Failure, ManualAsk, ManualReply, OracleAnswer, OracleRun, Worker};
use crate::audit::Auditor;
use crate::databases::{self, Reach};
use crate::oracle::{Operator, OracleError};
use crate::paths::DataDir;
use crate::tde::request::Request;
use crate::tde::sql::Statement;
use std::sync::mpsc::Receiver;

pub(crate) type Job = Box<OracleRun>;

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

pub(crate) struct OracleWorker {
    data: DataDir,
    auditor: Result<Auditor, String>,
    replies: Receiver<ManualReply>,
}

impl OracleWorker {
    pub(crate) fn new(data: DataDir, replies: Receiver<ManualReply>) -> Self {
        Self {
            auditor: Auditor::open(&data).map_err(|e| e.to_string()),
            data,
            replies,
        }
    }
}

impl Worker for OracleWorker {
    type Job = Job;

    fn handle(&mut self, run: Job, sink: &EventSink) -> Result<Event, Failure> {
        let a = usable(&mut self.auditor)?;
        let OracleRun {
            database,
            request,
            db_password,
            ..
        } = *run;
        // Answers pasted for an earlier, finished request are stale.
        while self.replies.try_recv().is_ok() {}
        let mut operator = WindowOperator {
            sink,
            replies: &self.replies,
        };
        let reach = Reach {
            operator: Some(&mut operator),
            db_password,
            ..Reach::new(&self.data)
        };
        let ran = databases::run_statement(a, &database, &request, reach)?;
        Ok(OracleAnswer::event(database.name, &request, ran))
    }
}
