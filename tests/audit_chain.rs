//! The audit log on real database files: checkpoints in a real SoftHSM2 token, tampering of
//! every kind, and appends from several processes at once.

mod common;

use common::{Env, run};
use rusqlite::{Connection, params};
use tdekey::audit::row_hash;
use tdekey::store::AuditRow;

const PIN: &str = "audit-user-pin";

fn env_with_token() -> Env {
    let env = Env::new();
    drop(env.token("audit", PIN));
    env
}

/// Runs a command on the test token; commands that log in get the PIN format and the PIN.
fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = env.tdekey();
    c.args(args)
        .arg("--module")
        .arg(&env.module)
        .args(["--token", "audit"]);
    if args != ["hsm", "info"] {
        c.args(["--pin-format", "plain"]).env("TDEKEY_PIN", PIN);
    }
    run(c)
}

fn verify(env: &Env, hsm: bool) -> (i32, String) {
    let (code, out, err) = if hsm {
        tdekey(env, &["audit", "verify", "--hsm"])
    } else {
        let mut c = env.tdekey();
        c.args(["audit", "verify"]);
        run(c)
    };
    (code, format!("{out}{err}"))
}

/// Every row, read through tdekey's own store.
fn rows(db: &std::path::Path) -> Vec<AuditRow> {
    let store = tdekey::store::Store::open(db).unwrap();
    let mut out = Vec::new();
    store
        .for_each_audit_row(|r| {
            out.push(r);
            true
        })
        .unwrap();
    out
}

/// What someone with the file but not the HSM can do: change an entry and recompute every hash
/// after it, so the chain itself verifies again.
fn forge_from(conn: &Connection, db: &std::path::Path, seq: i64) {
    conn.execute_batch("DROP TRIGGER audit_log_no_update")
        .unwrap();
    let mut all = rows(db);
    let mut prev = all
        .iter()
        .find(|r| r.seq == seq - 1)
        .map(|r| r.hash)
        .unwrap_or([0; 32]);
    for r in all.iter_mut().filter(|r| r.seq >= seq) {
        if r.seq == seq {
            r.target = "forged".into();
        }
        r.prev_hash = prev;
        r.hash = row_hash(&prev, r);
        prev = r.hash;
        conn.execute(
            "UPDATE audit_log SET target = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
            params![r.seq, r.target, r.prev_hash.as_slice(), r.hash.as_slice()],
        )
        .unwrap();
    }
}

#[test]
fn checkpoints_catch_a_rewritten_history_and_need_the_hsm_to_catch_a_forged_checkpoint() {
    let env = env_with_token();
    let (code, out, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Checkpoint 1 written"), "{out}");
    for _ in 0..2 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out) = verify(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("chain intact, 1 checkpoint verified in the HSM"),
        "{out}"
    );

    // The audit key is on the token, non-extractable.
    let (code, out, _) = tdekey(&env, &["hsm", "keys", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == "TDEKEY.AUDIT.HMAC")
        .expect("audit key on the token");
    assert_eq!(key["flags"]["extractable"], false);
    assert_eq!(key["kind"], "tdekey-audit-hmac-key");

    let conn = Connection::open(env.data.database()).unwrap();
    let cp_seq: i64 = conn
        .query_row("SELECT seq FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    // Rewrite history from before the checkpoint: the chain verifies, the checkpoint does not.
    forge_from(&conn, &env.data.database(), 2);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Chain broken at seq {cp_seq}: checkpoint mismatch"
        )),
        "{out}"
    );

    // Forge the checkpoint too: only the HSM can tell.
    let new_head: Vec<u8> = conn
        .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [cp_seq], |r| {
            r.get(0)
        })
        .unwrap();
    conn.execute_batch("DROP TRIGGER audit_checkpoints_no_update")
        .unwrap();
    conn.execute("UPDATE audit_checkpoints SET head_hash = ?1", [new_head])
        .unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "without the HSM the forgery holds: {out}");
    assert!(out.contains("not checked"), "{out}");
    let (code, out) = verify(&env, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not verify in the HSM"), "{out}");
}

#[test]
fn a_cut_tail_after_a_checkpoint_is_detected() {
    let env = env_with_token();
    let (code, _, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    let conn = Connection::open(env.data.database()).unwrap();
    let cp_seq: i64 = conn
        .query_row("SELECT seq FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_delete")
        .unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq >= ?1", [cp_seq])
        .unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("Chain broken at seq {cp_seq}: tail truncated")),
        "{out}"
    );
}

#[test]
fn every_kind_of_tampering_names_the_first_broken_entry() {
    let env = env_with_token();
    for _ in 0..6 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let db = env.data.database();
    let pristine = env.dir.path().join("pristine.sqlite3");
    {
        let c = Connection::open(&db).unwrap();
        c.execute("VACUUM INTO ?1", [pristine.display().to_string()])
            .unwrap();
    }
    let cases: &[(&str, &str)] = &[
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = '{}' WHERE seq = 3;",
            "seq 3: hash mismatch",
        ),
        (
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4;",
            "seq 4: gap in seq",
        ),
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3); UPDATE audit_log SET seq = 3 WHERE seq = -2; UPDATE audit_log SET seq = 2 WHERE seq = -3;",
            "seq 2: broken link",
        ),
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 5;",
            "seq 5: broken link",
        ),
    ];
    for (sql, expected) in cases {
        std::fs::copy(&pristine, &db).unwrap();
        let _ = std::fs::remove_file(db.with_extension("sqlite3-wal"));
        let _ = std::fs::remove_file(db.with_extension("sqlite3-shm"));
        let (code, out) = verify(&env, false);
        assert_eq!(code, 0, "pristine copy verifies: {out}");
        std::fs::copy(&pristine, &db).unwrap();
        let c = Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
        drop(c);
        let (code, out) = verify(&env, false);
        assert_eq!(code, 1, "{sql}: {out}");
        assert!(
            out.contains(&format!("Chain broken at {expected}")),
            "{sql}: {out}"
        );
    }
}

#[test]
fn three_processes_appending_at_once_keep_one_chain() {
    let env = env_with_token();
    let per_process = 15;
    let children: Vec<_> = (0..3)
        .map(|_| {
            let data = env.data.root().to_path_buf();
            let conf = env.conf.clone();
            std::thread::spawn(move || {
                for _ in 0..per_process {
                    let st = std::process::Command::new(env!("CARGO_BIN_EXE_tdekey"))
                        .arg("--data-dir")
                        .arg(&data)
                        // `audit verify` reads the whole chain and appends an entry; it does not
                        // touch SoftHSM2, whose file store is not meant for concurrent processes.
                        .args(["audit", "verify"])
                        .env("SOFTHSM2_CONF", &conf)
                        .stdout(std::process::Stdio::null())
                        .status()
                        .unwrap();
                    assert!(st.success());
                }
            })
        })
        .collect();
    for c in children {
        c.join().unwrap();
    }
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "{out}");
    let conn = Connection::open(env.data.database()).unwrap();
    let verifies: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'audit.verify' AND outcome = 'success'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        verifies,
        3 * per_process + 1,
        "every process saw an intact chain and recorded it (and so did the final check)"
    );
}

#[test]
fn export_with_checkpoint_anchors_what_was_exported() {
    let env = env_with_token();
    let out = env.dir.path().join("log.csv");
    let (code, stdout, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("Checkpoint 1 written"), "{stdout}");
    let (code, out) = verify(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 checkpoint verified in the HSM"), "{out}");
}

#[test]
fn a_database_locked_past_the_busy_timeout_is_reported() {
    let env = env_with_token();
    let (code, _, err) = tdekey(&env, &["hsm", "info"]);
    assert_eq!(code, 0, "{err}");
    let conn = Connection::open(env.data.database()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO settings VALUES ('lock', 'held');")
        .unwrap();
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stayed locked by another process for more than 5 seconds"),
        "{out}"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "after the lock is released: {out}");
}
