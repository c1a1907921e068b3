//! A worker thread of the engine: one job at a time, each answered by the event that ends its
//! task; between jobs, Retry's reconnection to the store.

use super::store_slot::StoreSlot;
use super::{Event, EventSink, Failure, Task};
use std::sync::mpsc::{Sender, channel};

/// A worker thread: it takes one job at a time and answers each with the event that ends its
/// task. A failure becomes `Event::Failed` for that same task, so every task ends.
pub(crate) trait Worker: Send + 'static {
    type Job: Send + 'static;
    fn handle(&mut self, job: Self::Job, sink: &EventSink) -> Result<Event, Failure>;
    /// Whether a job only reads the store (its failure on a lost store needs no words of its
    /// own).
    fn reads_only(_job: &Self::Job) -> bool {
        false
    }
    /// The worker's connection to the store.
    fn slot(&mut self) -> &mut StoreSlot;
    /// Called once when the front end has gone.
    fn shut_down(&mut self) {}
}

/// What a worker's queue carries.
pub(super) enum Msg<J> {
    /// A job, with the task it ends.
    Job(Task, J),
    /// Retry: keep the store's connection if it answers, else open it again.
    Reconnect,
}

/// Where a worker's jobs are sent.
pub(super) type JobSender<J> = Sender<Msg<J>>;

/// Starts a worker's thread; the worker is made there (each opens the database), so the UI
/// thread never waits on a disk, a lock or a network while the window starts. `finished` hears
/// from it once its jobs are over and it has shut down (closed its HSM session, written its
/// audit entries).
pub(super) fn spawn<W: Worker>(
    name: &str,
    make: impl FnOnce() -> W + Send + 'static,
    sink: EventSink,
    finished: Sender<()>,
) -> JobSender<W::Job> {
    let (tx, rx) = channel::<Msg<W::Job>>();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut worker = make();
            while let Ok(msg) = rx.recv() {
                let (task, job) = match msg {
                    Msg::Job(task, job) => (task, job),
                    Msg::Reconnect => {
                        worker.slot().reconnect(&sink);
                        continue;
                    }
                };
                let read = W::reads_only(&job);
                let was_lost = worker.slot().is_lost();
                match worker.handle(job, &sink) {
                    Ok(event) => {
                        sink.send(event);
                        // The store answered this job after it had gone away: the window's
                        // banner goes without waiting for Retry.
                        if was_lost && !worker.slot().is_lost() {
                            sink.send(Event::StoreShown(Box::new(worker.slot().shown())));
                        }
                    }
                    Err(f) => {
                        // A job that failed because the store went away also says so (once,
                        // after its own failure), and the next job opens the store again.
                        let lost = worker.slot().after_failure();
                        sink.send(Event::Failed {
                            task,
                            message: f.message,
                            reconnect: f.reconnect,
                            store_lost: read && (lost.is_some() || worker.slot().is_lost()),
                        });
                        if let Some(message) = lost {
                            sink.send(Event::StoreLost { message });
                        }
                    }
                }
            }
            worker.shut_down();
            let _ = finished.send(());
        });
    // A thread that could not start drops `rx`: every send to it fails, and `Engine::send`
    // turns that into a failure event.
    drop(spawned);
    tx
}
