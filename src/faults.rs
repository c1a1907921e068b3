//! Named fault points for the crash tests: compiled in only with the `failpoints` feature
//! (which only the tests turn on), and configured then from the `FAILPOINTS` environment
//! variable (`name=return(abort)`; several joined by `;`), as the `fail` crate reads it.
//!
//! Besides `fail`'s own actions (`panic`, `sleep(ms)`, …) a point configured with `return(…)`
//! does what its argument says:
//! - `abort`: the process ends at once (SIGABRT), as a kill at that instant would end it;
//! - `wait:<path>`: the process opens the FIFO at `<path>` for reading and reads it to its
//!   end. A test that opens the FIFO for writing knows, when its open returns, that the
//!   process stands at the point; when it closes it, the process goes on. A barrier, not a
//!   guess at timing.
//!
//! Without the feature [`point`] does nothing and release builds hold no trace of it.

/// Right after the HSM's random generator gave a new master key's id.
pub const AFTER_RANDOM: &str = "keygen.after-random";
/// The id is recorded (the run's intent); `C_GenerateKey` comes next.
pub const BEFORE_GENERATE: &str = "keygen.before-generate";
/// The `key.generate` entry is written (`started`, naming the label); `C_GenerateKey` is
/// next.
pub const GENERATE_STARTED: &str = "keygen.started";
/// `C_GenerateKey` returned; nothing has been recorded of the key yet.
pub const AFTER_GENERATE: &str = "keygen.after-generate";
/// Inside an audit append's transaction, its write lock held and the chain head read; the
/// rows are not written yet.
pub const STORE_AUDIT_LOCKED: &str = "store.audit-locked";
/// Inside the Rehearsal's MIGRATE: the new HSM key is made, the answer not given, the
/// simulated database not saved.
pub const REHEARSAL_MIGRATE: &str = "rehearsal.migrate";
/// Inside the Rehearsal's SET KEY (HSM keystore): the new key is made, the simulated database
/// not saved.
pub const REHEARSAL_SET_KEY: &str = "rehearsal.set-key";
/// Inside any Rehearsal statement, its file lock held, the state read.
pub const REHEARSAL_STATEMENT: &str = "rehearsal.statement";
/// A Rehearsal statement found the simulated database locked by another process and waits.
pub const REHEARSAL_LOCK_WAIT: &str = "rehearsal.lock-wait";
/// Before a rotation run's state is saved.
pub const ROTATION_BEFORE_SAVE: &str = "rotation.before-save";
/// Before a migration's state is saved.
pub const MIGRATION_BEFORE_SAVE: &str = "migration.before-save";
/// Before SET KEY is sent (way oracle): the keys seen are recorded.
pub const ROTATION_BEFORE_SET_KEY: &str = "rotation.before-set-key";
/// `tdekey audit forward`: a batch was acknowledged and its position saved.
pub const FORWARD_BATCH_SAVED: &str = "forward.batch-saved";

/// Reads `FAILPOINTS` (with the feature; nothing without). Keep the value alive for the
/// life of the process.
#[cfg(feature = "failpoints")]
pub fn setup() -> Option<fail::FailScenario<'static>> {
    Some(fail::FailScenario::setup())
}

/// Reads `FAILPOINTS` (with the feature; nothing without).
#[cfg(not(feature = "failpoints"))]
pub fn setup() -> Option<()> {
    None
}

/// The fault point `name`: does what `FAILPOINTS` says for it, else nothing.
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "failpoints")]
    {
        let _ = fail::eval(name, |arg| act(name, arg));
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(feature = "failpoints")]
fn act(name: &str, arg: Option<String>) {
    use std::io::Read;
    match arg.as_deref() {
        Some("abort") => std::process::abort(),
        Some(a) if a.starts_with("wait:") => {
            let path = &a["wait:".len()..];
            let mut sink = Vec::new();
            match std::fs::File::open(path) {
                Ok(mut f) => {
                    let _ = f.read_to_end(&mut sink);
                }
                Err(e) => {
                    eprintln!("fault point {name}: {path} could not be opened: {e}");
                    std::process::abort();
                }
            }
        }
        other => {
            eprintln!("fault point {name}: unknown action {other:?} (abort, wait:<fifo>)");
            std::process::abort();
        }
    }
}
