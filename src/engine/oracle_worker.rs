//! The Oracle thread: statements through the Manual and SQL*Plus connectors (Rehearsal runs
//! on the HSM thread, which owns the HSM it uses).

use super::hsm_worker::usable;
use super::{Event, EventSink, Failure, OracleAnswer, OracleRun, Replies, WindowOperator, Worker};
use crate::audit::Auditor;
use crate::databases::{self, Reach};
use crate::paths::DataDir;

pub(crate) type Job = Box<OracleRun>;

pub(crate) struct OracleWorker {
    data: DataDir,
    auditor: Result<Auditor, String>,
    replies: Replies,
}

impl OracleWorker {
    pub(crate) fn new(data: DataDir, replies: Replies) -> Self {
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
        let mut operator = WindowOperator::new(sink, &self.replies, &database.name);
        let reach = Reach {
            operator: Some(&mut operator),
            db_password,
            ..Reach::new(&self.data)
        };
        let ran = databases::run_statement(a, &database, &request, reach)?;
        Ok(OracleAnswer::event(database.name, &request, ran))
    }
}
