//! The Oracle thread: statements through the Manual and SQL*Plus connectors (Rehearsal runs
//! on the HSM thread, which owns the HSM it uses).

use super::store_slot::StoreSlot;
use super::{Event, EventSink, Failure, OracleAnswer, OracleRun, Replies, WindowOperator, Worker};
use crate::databases::{self, Reach};
use crate::paths::DataDir;

pub(crate) type Job = Box<OracleRun>;

pub(crate) struct OracleWorker {
    data: DataDir,
    slot: StoreSlot,
    replies: Replies,
}

impl OracleWorker {
    pub(crate) fn new(data: DataDir, replies: Replies) -> Self {
        Self {
            slot: StoreSlot::open(&data),
            data,
            replies,
        }
    }
}

impl Worker for OracleWorker {
    type Job = Job;

    fn slot(&mut self) -> &mut StoreSlot {
        &mut self.slot
    }

    fn handle(&mut self, run: Job, sink: &EventSink) -> Result<Event, Failure> {
        let a = self.slot.get(sink)?;
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
