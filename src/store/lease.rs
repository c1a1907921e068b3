//! Keeping a lease while a process waits (for a person pasting an answer, a slow statement): a
//! thread with its own connection renews it every third of its length until it is dropped.

use super::db::p;
use super::{Location, Store, StoreError};
use crate::model::now_ms;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a lease is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leased {
    Migration(i64),
    RotationRun(i64),
}

impl Store {
    /// Moves the end of `owner`'s lease to `until_ms`; false when `owner` no longer holds it
    /// (it is never taken back from another holder).
    pub fn renew_lease(
        &self,
        what: Leased,
        owner: &str,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = match what {
            Leased::Migration(id) => self.execute(
                "UPDATE migrations SET lock_until_ms = ?3 WHERE id = ?1 AND lock_owner = ?2",
                p![id, owner, until_ms],
            ),
            Leased::RotationRun(id) => self.execute(
                "UPDATE rotation_runs SET lock_until_ms = ?3
                 WHERE id = ?1 AND lock_owner = ?2 AND outcome = 'running'",
                p![id, owner, until_ms],
            ),
        }?;
        Ok(n == 1)
    }
}

/// What a lease is taken for, before the row it guards exists: one driver per database's
/// migration, one run per database's rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseKey<'a> {
    Migration(&'a str),
    Rotation(&'a str),
    /// A standalone `key generate` of one label, held until its outcome is recorded: on a
    /// shared store a later `key generate` on any host can tell a run that died (the lock is
    /// free) from one still running.
    KeyGenerate(&'a str),
}

impl LeaseKey<'_> {
    /// The advisory lock's key on PostgreSQL: a tag in the top byte, then 56 bits of the
    /// database name's SHA-256.
    fn lock_id(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let (tag, name) = match self {
            LeaseKey::Migration(n) => (0x4du8, n),
            LeaseKey::Rotation(n) => (0x52u8, n),
            LeaseKey::KeyGenerate(n) => (0x4bu8, n),
        };
        let h = Sha256::digest(name.as_bytes());
        let mut b = [0u8; 8];
        b[0] = tag;
        b[1..].copy_from_slice(&h[..7]);
        i64::from_be_bytes(b)
    }
}

impl Store {
    /// Takes the session-level advisory lock `id` on this connection without waiting; whether
    /// it was free. (PostgreSQL only: a SQLite store has no such lock and says false.)
    fn try_session_lock(&self, id: i64) -> Result<bool, StoreError> {
        if !self.is_shared() {
            return Ok(false);
        }
        self.query_one(
            "SELECT CAST(CASE WHEN pg_try_advisory_lock(?1) THEN 1 ELSE 0 END AS BIGINT)",
            p![id],
            |r| r.int(0),
        )
        .map(|v| v == 1)
    }

    /// Gives back the session-level advisory lock `id` taken on this connection. Done before
    /// the connection is closed: a closed connection's locks are freed only when the server has
    /// ended its session, a moment later, and a process that takes the lock again at once (the
    /// next step of `migrate run`) would find it still held.
    fn release_session_lock(&self, id: i64) -> Result<(), StoreError> {
        self.query_one(
            "SELECT CAST(CASE WHEN pg_advisory_unlock(?1) THEN 1 ELSE 0 END AS BIGINT)",
            p![id],
            |r| r.int(0),
        )
        .map(drop)
    }
}

/// Connections a keeper has finished with, kept for the next keeper of this process on the same
/// shared store: `rotate --due` takes one lock per database, and a new PostgreSQL connection
/// (TLS, SCRAM, the schema check) costs far more than the lock. Each is given back only after
/// its advisory lock was released on it.
static IDLE: std::sync::Mutex<Vec<(usize, Store)>> = std::sync::Mutex::new(Vec::new());

/// At most this many idle connections are kept.
const MAX_IDLE: usize = 2;

/// The identity of a shared store's location within this process (its target's address:
/// every connection made from one `--store` shares it); `None` for SQLite.
fn pool_key(location: &Location) -> Option<usize> {
    match location {
        Location::Pg(t) => Some(std::sync::Arc::as_ptr(t) as usize),
        Location::Sqlite(_) => None,
    }
}

/// An idle connection to `location`, else a new one.
fn connection(location: &Location) -> Result<Store, StoreError> {
    if let Some(key) = pool_key(location)
        && let Ok(mut idle) = IDLE.lock()
        && let Some(i) = idle.iter().position(|(k, _)| *k == key)
    {
        return Ok(idle.swap_remove(i).1);
    }
    Store::connect(location)
}

/// Keeps `store` for the next keeper (its lock already given back), or closes it.
fn give_back(store: Store) {
    let Some(key) = pool_key(store.location()) else {
        return;
    };
    if let Ok(mut idle) = IDLE.lock()
        && idle.len() < MAX_IDLE
    {
        idle.push((key, store));
    }
}

/// Keeps a lease: on a shared store, the database lock that proves its holder alive (held by a
/// connection of the keeper's own: a holder that dies loses it when its connection ends); on
/// either store, the lease's row, renewed every third of its length until the keeper is
/// dropped (the lease then ends by itself unless given back). A lease taken over by another
/// process is left to it.
pub struct LeaseKeeper {
    /// The keeper's own connection until the renewals start (they take it over).
    store: Option<Store>,
    /// The advisory lock held on that connection, if any.
    lock: Option<i64>,
    locked: bool,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Takes `key`'s lock for this process. On a shared (PostgreSQL) store: `None` when another
    /// session holds it, a live holder wherever it runs. On this computer's store there is no
    /// lock to take (the rows' leases and the holders' process ids decide) and the keeper
    /// holds none.
    pub fn lock(store: &Store, key: LeaseKey<'_>) -> Result<Option<Self>, StoreError> {
        if !store.is_shared() {
            return Ok(Some(Self {
                store: None,
                lock: None,
                locked: false,
                stop: None,
                thread: None,
            }));
        }
        let mut own = connection(store.location())?;
        let free = match own.try_session_lock(key.lock_id()) {
            Ok(free) => free,
            // An idle connection the server has closed since: a new one.
            Err(_) => {
                own = Store::connect(store.location())?;
                own.try_session_lock(key.lock_id())?
            }
        };
        if !free {
            give_back(own);
            return Ok(None);
        }
        Ok(Some(Self {
            store: Some(own),
            lock: Some(key.lock_id()),
            locked: true,
            stop: None,
            thread: None,
        }))
    }

    /// Whether this keeper holds the store's lock: then whoever holds the lease's row has lost
    /// its lock, so its process (or its connection) ended, and the row may be taken over.
    pub fn holds_lock(&self) -> bool {
        self.locked
    }

    /// Starts renewing `owner`'s lease on `what` every third of `lease_ms`.
    pub fn renew(&mut self, from: &Store, what: Leased, owner: &str, lease_ms: i64) {
        let (stop, stopped) = channel::<()>();
        let location: Location = from.location().clone();
        let own = self.store.take();
        let lock = self.lock.take();
        let owner = owner.to_owned();
        let period = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1).max(1));
        self.thread = std::thread::Builder::new()
            .name("tdekey-lease".into())
            .spawn(move || {
                // Without a connection nothing is renewed: the lease ends by itself, and the
                // process's next save finds out whether another took it.
                let Some(store) = own.or_else(|| connection(&location).ok()) else {
                    return;
                };
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    match store.renew_lease(what, &owner, now_ms() + lease_ms) {
                        Ok(true) => {}
                        // Given back, or taken over: nothing left to keep.
                        Ok(false) => break,
                        // A busy or failing database: try again at the next tick. (A lost
                        // connection lost its lock too: another process may take the lease
                        // over, and this one's next save then finds it gone and stops.)
                        Err(_) => {}
                    }
                }
                match lock {
                    // A lost connection has no lock left to give back, and is not kept.
                    Some(id) => {
                        if store.release_session_lock(id).is_ok() {
                            give_back(store);
                        }
                    }
                    None => give_back(store),
                }
            })
            .ok();
        self.stop = Some(stop);
    }

    /// `lock` and `renew` in one, for a lease whose row exists already.
    pub fn start(store: &Store, what: Leased, owner: &str, lease_ms: i64) -> Self {
        let mut k = Self {
            store: None,
            lock: None,
            locked: false,
            stop: None,
            thread: None,
        };
        k.renew(store, what, owner, lease_ms);
        k
    }
}

impl Drop for LeaseKeeper {
    /// Stops the renewals and gives the lock back (the renewals' thread gives back the lock it
    /// took over): when the drop returns, another process may take it.
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let (Some(store), Some(id)) = (self.store.take(), self.lock.take())
            && store.release_session_lock(id).is_ok()
        {
            give_back(store);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewal_keeps_its_own_lease_and_never_takes_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let id = s.insert_migration("ORCL", "{}").unwrap();
        let soon = now_ms() + 1_000;
        assert_eq!(s.lease_migration(id, "a", soon, false).unwrap(), None);
        assert!(
            s.renew_lease(Leased::Migration(id), "a", soon + 5_000)
                .unwrap()
        );
        assert_eq!(
            s.active_migration("ORCL").unwrap().unwrap().lock_until_ms,
            Some(soon + 5_000)
        );
        assert!(
            !s.renew_lease(Leased::Migration(id), "b", soon + 9_000)
                .unwrap()
        );
        let row = s.active_migration("ORCL").unwrap().unwrap();
        assert_eq!(row.lock_owner.as_deref(), Some("a"));
        assert_eq!(row.lock_until_ms, Some(soon + 5_000));
    }

    #[test]
    fn a_keeper_renews_a_running_rotations_lease_while_it_lives() {
        use super::super::{Claim, RunRow};
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let row = RunRow::new("ORCL", "hsm", "manual", "test");
        let lease_ms = 300;
        let Claim::Started(id) = s
            .claim_rotation(&row, "a", now_ms() + lease_ms, None, &|_| false)
            .unwrap()
        else {
            panic!("the run did not start");
        };
        let until = |s: &Store| s.rotation_run(id).unwrap().unwrap().lock_until_ms.unwrap();
        let first = until(&s);
        let keeper = LeaseKeeper::start(&s, Leased::RotationRun(id), "a", lease_ms);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while until(&s) <= first {
            assert!(std::time::Instant::now() < deadline, "never renewed");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(keeper);
        let run = s.rotation_run(id).unwrap().unwrap();
        assert_eq!(run.lock_owner.as_deref(), Some("a"));
        assert_eq!(run.outcome, "running");
    }
}
