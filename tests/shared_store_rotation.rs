//! Rotation across processes sharing a PostgreSQL store (issue #21), through the real `tdekey`
//! binary built with its fault points: two overlapping `rotate --due` runners (one held at a
//! FIFO barrier, never a sleep) rotate each due database exactly once; a runner killed while
//! it holds a run's lease frees it at once, by the database lock its connection held (not by
//! the lease's expiry, not by the check of this host's process ids), and a live holder of
//! another host keeps it; a migration driven from another host has one driver.
//!
//! The runners here share one data directory: the Rehearsal's simulated databases (files in
//! it) and the demo SoftHSM2 token stand for the network databases and the HSM that runners on
//! two hosts would both reach. What runners must share through PostgreSQL is the store, and
//! that is what these tests exercise: each runner is its own process with its own connections
//! and locks, and no SQLite file is written.
#![cfg(feature = "failpoints")]

mod common;
#[path = "common/shared.rs"]
mod shared;

use common::Env;
use shared::{Held, Shared, json, ok, run, tdekey};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use tdekey::faults;
use tdekey::hsm::demo::DEMO_USER_PIN;

fn master_keys(env: &Env) -> Vec<String> {
    common::demo_master_key_labels(env)
}

/// `tdekey audit verify` says the chain is intact.
fn intact(s: &Shared, env: &Env) {
    let out = ok("audit verify", tdekey(s, env, &["audit", "verify"]));
    assert!(out.contains("chain intact"), "{out}");
}

/// A data directory with the demo token, its store the shared one, and Rehearsal databases
/// `names` whose master keys are on the HSM.
fn on_the_hsm(s: &Shared, names: &[&str]) -> Env {
    let env = Env::new();
    ok("hsm demo-token", tdekey(s, &env, &["hsm", "demo-token"]));
    common::rehearsal_on_hsm_in(&env, &s.data(&env), names);
    env
}

/// A credentials directory (0700) with the demo token's PIN, for `rotate --due`.
fn credentials(env: &Env) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let creds = env.dir.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("hsm-pin"), format!("{DEMO_USER_PIN}\n")).unwrap();
    let mode = std::fs::Permissions::from_mode;
    std::fs::set_permissions(creds.join("hsm-pin"), mode(0o600)).unwrap();
    std::fs::set_permissions(&creds, mode(0o700)).unwrap();
    creds
}

/// The rotation runs in the store, one line each: `database:outcome`, by id.
fn runs(s: &Shared) -> Vec<String> {
    s.psql("SELECT database || ':' || outcome FROM rotation_runs ORDER BY id")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The due item of `db` in a `rotate --due --json` report.
fn item<'a>(report: &'a serde_json::Value, db: &str) -> &'a serde_json::Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["database"] == db)
        .unwrap_or_else(|| panic!("no item for {db}: {report}"))
}

/// Session-level advisory locks held on the server: the leases' locks (tdekey's transaction
/// locks are two-key, objsubid 2).
const LEASE_LOCKS: &str =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted";

#[test]
fn two_overlapping_rotate_due_runners_rotate_each_database_once() {
    let s = Shared::new();
    let env = on_the_hsm(&s, &["FIN", "HR"]);
    for db in ["FIN", "HR"] {
        ok(
            "policy set",
            tdekey(
                &s,
                &env,
                &[
                    "policy",
                    "set",
                    db,
                    "--every",
                    "90d",
                    "--next-due",
                    "2020-01-01",
                ],
            ),
        );
    }
    let creds = credentials(&env);
    let due = || {
        let mut c = s.tdekey(&env);
        c.args(["rotate", "--due", "--json", "--credentials"])
            .arg(&creds)
            .env_remove("TDEKEY_PIN");
        c
    };
    let before = master_keys(&env);
    assert!(runs(&s).is_empty());
    // A stands before the first save of its first database's run: the run claimed, its lease
    // and its database lock held, nothing done to the database yet.
    let a = Held::spawn_once(env.dir.path(), "a", due(), faults::ROTATION_BEFORE_SAVE);
    let gate = a.arrived();
    let running = runs(&s);
    assert_eq!(running.len(), 1, "{running:?}");
    let (held, rest) = running[0].split_once(':').unwrap();
    assert_eq!(rest, "running");
    let other = if held == "FIN" { "HR" } else { "FIN" };
    assert_eq!(s.count(LEASE_LOCKS), 1, "A's run holds its database lock");
    // B runs from start to end meanwhile: the held database is another runner's, the other
    // one is B's to rotate.
    let (code, out, err) = run(due());
    let b = json(&out);
    assert_eq!(item(&b, held)["outcome"], "busy", "{out}{err}");
    let busy = item(&b, held)["message"].as_str().unwrap();
    assert!(
        busy.contains("Another tdekey") && busy.contains(held),
        "{busy}"
    );
    assert_eq!(item(&b, other)["outcome"], "rotated", "{out}{err}");
    assert_eq!(
        (b["rotated"].as_i64(), b["failed"].as_i64()),
        (Some(1), Some(0))
    );
    // A database another runner is rotating is not a failure of this one: exit 0, so that a
    // systemd timer's unit does not turn red for it (the database is rotated by the other).
    assert_eq!(code, 0, "{out}{err}");
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "{out}{err}");
    let a = json(&out);
    assert_eq!(item(&a, held)["outcome"], "rotated", "{out}");
    assert_eq!(item(&a, other)["outcome"], "not-due", "{out}");
    assert_eq!(
        (a["rotated"].as_i64(), a["failed"].as_i64()),
        (Some(1), Some(0))
    );
    // Each database: exactly one run, a success, and one new key.
    let mut all = runs(&s);
    all.sort();
    assert_eq!(all, ["FIN:success", "HR:success"]);
    let after = master_keys(&env);
    let new: Vec<&String> = after.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(new.len(), 2, "{new:?}");
    let ran: Vec<String> = [item(&a, held), item(&b, other)]
        .iter()
        .map(|i| i["run"]["new_keys"][0].as_str().unwrap().to_owned())
        .collect();
    assert_ne!(ran[0], ran[1]);
    for k in &ran {
        assert!(new.contains(&k), "{k} in {new:?}");
    }
    // Both are no longer due, and nothing is held.
    assert_eq!(
        s.count("SELECT count(*) FROM rotation_policies WHERE next_due_ms <= (extract(epoch FROM now()) * 1000)::bigint"),
        0
    );
    assert_eq!(s.count(LEASE_LOCKS), 0);
    intact(&s, &env);
    assert!(!env.data.database().exists(), "no SQLite file was written");
}

fn rotate_fin(s: &Shared, env: &Env) -> Command {
    let mut c = s.tdekey(env);
    c.args(["rotate", "FIN", "--way", "hsm", "--json"])
        .env("TDEKEY_PIN", DEMO_USER_PIN)
        .env_remove("TDEKEY_TEST_HOSTNAME");
    c
}

#[test]
fn a_runner_killed_holding_its_lease_frees_it_at_once_and_a_live_one_keeps_it() {
    let s = Shared::new();
    let env = on_the_hsm(&s, &["FIN"]);
    // Leases of an hour: an expiry cannot explain a takeover here.
    s.psql("INSERT INTO settings (key, value) VALUES ('lease_ms', '3600000')");
    let before = master_keys(&env);
    // A runs on "another host" as its lease says (tdekey's check of process ids judges only
    // this host's holders, so only the database lock can free A's lease), and stands before
    // its run's first save: the run claimed, its lease and its lock held.
    let mut c = rotate_fin(&s, &env);
    c.env("TDEKEY_TEST_HOSTNAME", "elsewhere-7");
    let a = Held::spawn_once(env.dir.path(), "a", c, faults::ROTATION_BEFORE_SAVE);
    let gate = a.arrived();
    let lease = s.psql(
        "SELECT id || ' ' || lock_owner || ' ' || lock_until_ms || ' ' ||
           (lock_until_ms - (extract(epoch FROM now()) * 1000)::bigint)
         FROM rotation_runs WHERE outcome = 'running'",
    );
    let parts: Vec<&str> = lease.split(' ').collect();
    let (a_run, owner) = (parts[0], parts[1]);
    let (until_ms, left_ms): (i64, i64) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
    assert!(owner.starts_with("elsewhere-7:"), "{lease}");
    assert!(
        left_ms > 50 * 60 * 1000,
        "the lease runs for an hour: {lease}"
    );
    assert_eq!(s.count(LEASE_LOCKS), 1, "A holds its database lock");

    // While A lives (held at the barrier), B is refused: another tdekey is rotating FIN.
    let (code, out, err) = run(rotate_fin(&s, &env));
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("Another tdekey") && err.contains("elsewhere-7") && err.contains("FIN"),
        "{err}"
    );
    assert_eq!(runs(&s), ["FIN:running"], "B claimed nothing");

    // A is killed where it stands. Its connections end with it; PostgreSQL ends its sessions
    // and frees the lock (observed, not waited for by a guess: B would be refused before).
    let out = a.kill();
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
    drop(gate);
    s.wait_for(LEASE_LOCKS, "0");
    assert_eq!(
        runs(&s),
        ["FIN:running"],
        "A's run is still open, its lease unexpired"
    );

    // B starts at once and closes A's run as interrupted.
    let (code, out, err) = run(rotate_fin(&s, &env));
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["outcome"], "success", "{out}");
    assert_eq!(runs(&s), ["FIN:failure", "FIN:success"]);
    let b_started: i64 = s
        .psql(&format!(
            "SELECT started_ms FROM rotation_runs WHERE id = {}",
            r["run_id"]
        ))
        .parse()
        .unwrap();
    assert!(
        b_started < until_ms,
        "B claimed the run only after A's lease ran out ({} s before its claim)",
        (b_started - until_ms) / 1000
    );
    let closed = s.psql(&format!(
        "SELECT failed_step || ' | ' || state_left || ' | ' || (lock_owner IS NULL)
         FROM rotation_runs WHERE id = {a_run}"
    ));
    assert!(
        closed.starts_with("interrupted | ")
            && closed.contains("was interrupted")
            && closed.ends_with("| true"),
        "{closed}"
    );
    let after = master_keys(&env);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert_eq!(s.count(LEASE_LOCKS), 0);
    intact(&s, &env);
}

fn migrate(s: &Shared, env: &Env, args: &[&str]) -> Command {
    let mut c = s.tdekey(env);
    c.args(["migrate"])
        .args(args)
        .env("TDEKEY_PIN", DEMO_USER_PIN)
        .env(
            "TDEKEY_WALLET_PASSWORD",
            tdekey::hsm::demo::DEMO_WALLET_PASSWORD,
        )
        .env("TDEKEY_BACKUP_PASSPHRASE", "a long backup passphrase 7")
        .env_remove("TDEKEY_TEST_HOSTNAME");
    c
}

#[test]
fn a_migration_on_the_shared_store_has_one_driver_across_hosts() {
    use tdekey::hsm::demo::DEMO_DATABASE_NAME;
    let s = Shared::new();
    let env = Env::new();
    ok("hsm demo-token", tdekey(&s, &env, &["hsm", "demo-token"]));
    let before = master_keys(&env);
    // A drives the migration from "another host" and stands before its first save.
    let mut c = migrate(&s, &env, &["run", DEMO_DATABASE_NAME, "--yes"]);
    c.env("TDEKEY_TEST_HOSTNAME", "elsewhere-9");
    let a = Held::spawn_once(env.dir.path(), "a", c, faults::MIGRATION_BEFORE_SAVE);
    let gate = a.arrived();
    let owner = s.psql("SELECT lock_owner FROM migrations");
    assert!(owner.starts_with("elsewhere-9:"), "{owner}");
    // B, on this host, is refused while A lives.
    let (code, out, err) = run(migrate(&s, &env, &["next", DEMO_DATABASE_NAME, "--yes"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("Another tdekey") && err.contains("elsewhere-9"),
        "{err}"
    );
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    assert_eq!(master_keys(&env).len(), before.len() + 1);
    assert_eq!(
        s.psql("SELECT status || ' ' || (lock_owner IS NULL) FROM migrations"),
        "done true"
    );
    assert_eq!(s.count(LEASE_LOCKS), 0);
    intact(&s, &env);
}

/// A `key generate` on "another host" killed after `C_GenerateKey`: while it lives (held at the
/// fault point, its label's lock held) a second `key generate` for the same database leaves its
/// key alone and makes its own; once it is killed (its connection, and so its lock, gone) the
/// next one, on this host, returns that key instead of making a third, whatever the pid says.
#[test]
fn a_key_generate_killed_on_another_host_is_taken_up_from_here_and_a_live_one_left_alone() {
    let s = Shared::new();
    let env = on_the_hsm(&s, &["FIN"]);
    let generate = |host: Option<&str>| {
        let mut c = s.tdekey(&env);
        c.args(["key", "generate", "--json", "--database", "FIN"])
            .env("TDEKEY_PIN", DEMO_USER_PIN);
        match host {
            Some(h) => c.env("TDEKEY_TEST_HOSTNAME", h),
            None => c.env_remove("TDEKEY_TEST_HOSTNAME"),
        };
        c
    };
    let before = master_keys(&env);
    let a = Held::spawn_once(
        env.dir.path(),
        "a",
        generate(Some("elsewhere-3")),
        faults::AFTER_GENERATE,
    );
    let gate = a.arrived();
    let made: Vec<String> = master_keys(&env)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(s.count(LEASE_LOCKS), 1, "A holds its label's lock");

    // A lives: B makes a key of its own.
    let (code, out, err) = run(generate(None));
    assert_eq!(code, 0, "{out}{err}");
    let b = json(&out)["label"].as_str().unwrap().to_owned();
    assert_ne!(b, made[0], "a live run's key was taken: {out}");

    // A is killed; PostgreSQL ends its session and frees the lock.
    let out = a.kill();
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
    drop(gate);
    s.wait_for(LEASE_LOCKS, "0");
    let (code, out, err) = run(generate(None));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        json(&out)["label"].as_str(),
        Some(made[0].as_str()),
        "the killed run's key returned: {out}"
    );
    assert_eq!(master_keys(&env).len(), before.len() + 2, "no third key");
    let answered = s.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'key.generate' AND target = '{}' AND outcome = 'success'",
        made[0]
    ));
    assert_eq!(answered, 1, "its outcome written once, by the later run");
    intact(&s, &env);
}
