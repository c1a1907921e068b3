//! Helpers for the shared-store tests (issue #21): one PostgreSQL database that several tdekey
//! processes use, the real binary pointed at it, snapshots of what the database holds, and
//! processes held at a fault point behind a FIFO barrier.
//!
//! Included with `#[path = "common/shared.rs"] mod shared;` by the files that need it (next to
//! `mod common;`), so the other test binaries do not compile it.
#![allow(dead_code)]

use crate::common::Env;
use crate::common::pg::Cluster;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tdekey::paths::{DataDir, SharedStore};

/// A throwaway cluster, one fresh database in it, and a 0600 file with its password.
pub struct Shared {
    pub pg: Cluster,
    pub db: String,
    /// `postgresql://tdekey_test@127.0.0.1:PORT/tdekey_N`, without the password.
    pub url: String,
    pub password_file: PathBuf,
    _files: tempfile::TempDir,
}

impl Shared {
    pub fn new() -> Shared {
        let pg = Cluster::start();
        let db = pg.create_db();
        let url = pg.url(&db);
        let files = tempfile::tempdir().unwrap();
        let password_file = files.path().join("store-password");
        std::fs::write(&password_file, format!("{}\n", pg.password())).unwrap();
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Shared {
            pg,
            db,
            url,
            password_file,
            _files: files,
        }
    }

    /// `env`'s `tdekey` with `--store URL --store-password-file FILE`, and no store or password
    /// from the environment.
    pub fn tdekey(&self, env: &Env) -> Command {
        let mut c = env.tdekey();
        c.arg("--store")
            .arg(&self.url)
            .arg("--store-password-file")
            .arg(&self.password_file)
            .env_remove("TDEKEY_STORE")
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE");
        c
    }

    /// `env`'s data directory pointed at this store (for the library).
    pub fn data(&self, env: &Env) -> DataDir {
        env.data.clone().with_store(Some(SharedStore {
            url: self.url.clone(),
            password_file: Some(self.password_file.clone()),
        }))
    }

    /// The store, for the library.
    pub fn location(&self) -> tdekey::store::Location {
        tdekey::store::Location::shared(&self.url, Some(&self.password_file)).unwrap()
    }

    pub fn psql(&self, sql: &str) -> String {
        self.pg.psql(&self.db, sql)
    }

    /// One number from psql.
    pub fn count(&self, sql: &str) -> i64 {
        let out = self.psql(sql);
        out.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{sql}: {out:?}: {e}"))
    }

    /// Every table of the database (every schema but PostgreSQL's own) with a digest of its
    /// rows: equal snapshots mean nothing was created, dropped or written.
    pub fn snapshot(&self) -> String {
        self.psql(
            "SELECT string_agg(t.table_schema || '.' || t.table_name || '=' ||
               (xpath('/row/d/text()', query_to_xml(format(
                  'SELECT count(*) || '':'' || md5(coalesce(string_agg(x::text, '','' ORDER BY x::text), '''')) AS d FROM %I.%I x',
                  t.table_schema, t.table_name), false, true, '')))[1]::text, E'\\n' ORDER BY 1)
             FROM information_schema.tables t
             WHERE t.table_schema NOT IN ('pg_catalog', 'information_schema')",
        )
    }

    /// `(seq, hex hash)` of the chain head, read with psql.
    pub fn head(&self) -> Option<(i64, String)> {
        let out = self.psql(
            "SELECT seq || ' ' || encode(hash, 'hex') FROM audit_log ORDER BY seq DESC LIMIT 1",
        );
        let (seq, hash) = out.split_once(' ')?;
        Some((seq.parse().unwrap(), hash.to_owned()))
    }

    /// Waits (polling, up to a minute) until `sql` answers `want`: only to observe a state
    /// another process reaches by itself, never to order events.
    pub fn wait_for(&self, sql: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.psql(sql);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{sql} still answers {got:?}, not {want:?}, after a minute"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `tdekey ARGS` in `env`'s data directory on the shared store; (exit code, stdout, stderr).
pub fn tdekey(s: &Shared, env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = s.tdekey(env);
    c.args(args);
    run(c)
}

/// The command's stdout, once it exited 0 (else the test fails, saying `what`).
pub fn ok(what: &str, (code, out, err): (i32, String, String)) -> String {
    assert_eq!(code, 0, "{what}: {out}{err}");
    out
}

/// Runs a command; (exit code, stdout, stderr).
pub fn run(mut c: Command) -> (i32, String, String) {
    crate::common::run({
        c.stdin(Stdio::null());
        c
    })
}

pub fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[allow(unused_imports)]
pub use crate::common::held::{Held, mkfifo};
