//! The shared store on a real PostgreSQL (issue #21), through the real `tdekey` binary and the
//! library: two data directories on one database see one state and write one audit chain;
//! appends from four processes at once keep one gap-free chain, and a second appender waits
//! for the first's lock (a FIFO barrier at `store.audit-locked`, never a sleep); bad input
//! (a closed port, a wrong password, a newer schema, someone else's database, a password in the
//! URL) is one sentence, a failure exit and nothing written; `store info` says where the store
//! is, its schema and its head; a lease's database lock is free when its keeper is dropped.
#![cfg(feature = "failpoints")]

mod common;
#[path = "common/shared.rs"]
mod shared;

use common::Env;
use shared::{Held, Shared, json, mkfifo, ok, run, tdekey};
use std::path::Path;
use std::str::FromStr;
use tdekey::audit::{Action, Auditor, Outcome};
use tdekey::store::{AuditRow, Store};

/// Every row of the chain, in seq order, read through the library.
fn chain(s: &Shared) -> Vec<AuditRow> {
    let store = Store::connect(&s.location()).unwrap();
    let mut rows = Vec::new();
    store
        .for_each_audit_row(|r| {
            rows.push(r);
            true
        })
        .unwrap();
    rows
}

/// seq is exactly 1..=N and each row's prev_hash is the previous row's hash.
fn gap_free_and_linked(rows: &[AuditRow]) {
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1, "seq has a gap or a fork at {i}");
        let prev = if i == 0 { [0u8; 32] } else { rows[i - 1].hash };
        assert_eq!(
            r.prev_hash, prev,
            "seq {} does not link to seq {}",
            r.seq, i
        );
    }
}

#[test]
fn two_data_directories_on_one_postgresql_see_one_state_and_write_one_chain() {
    let s = Shared::new();
    let (a, b) = (Env::new(), Env::new());
    // A names the store with --store and --store-password-file; B, as a systemd unit or a
    // shell profile would, with TDEKEY_STORE and its ~/.pgpass.
    let home = b.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(
        home.join(".pgpass"),
        format!(
            "127.0.0.1:{}:{}:{}:{}\n",
            s.pg.port(),
            s.db,
            common::pg::SUPERUSER,
            s.pg.password()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        home.join(".pgpass"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let on_b = |args: &[&str]| {
        let mut c = b.tdekey();
        c.args(args)
            .env("TDEKEY_STORE", &s.url)
            .env("HOME", &home)
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE");
        run(c)
    };
    let module = a.module.to_str().unwrap();
    ok(
        "A adds an HSM profile",
        tdekey(
            &s,
            &a,
            &[
                "hsm",
                "profile",
                "add",
                "team-hsm",
                "--module",
                module,
                "--token",
                "team-token",
                "--user",
                "team_cu",
                "--pin-format",
                "plain",
            ],
        ),
    );
    ok(
        "A adds a database profile",
        tdekey(
            &s,
            &a,
            &[
                "db",
                "add",
                "FIN",
                "--connector",
                "manual",
                "--wallet-root",
                "/u01/app/oracle/admin/FIN/wallet",
                "--hsm-profile",
                "team-hsm",
            ],
        ),
    );
    // B, with a data directory of its own, sees both.
    let profiles = json(&ok(
        "B lists HSM profiles",
        on_b(&["hsm", "profile", "list", "--json"]),
    ));
    let team = profiles
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"]["name"] == "team-hsm")
        .unwrap_or_else(|| panic!("B does not see A's HSM profile: {profiles}"));
    assert_eq!(team["profile"]["user_name"], "team_cu", "{team}");
    assert_eq!(team["profile"]["token_label"], "team-token", "{team}");
    let dbs = json(&ok("B lists databases", on_b(&["db", "list", "--json"])));
    let fin = dbs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "FIN")
        .unwrap_or_else(|| panic!("B does not see A's database profile: {dbs}"));
    assert_eq!(fin["hsm_profile"], "team-hsm", "{fin}");
    // A policy set by B is listed by A.
    ok(
        "B sets a policy",
        on_b(&[
            "policy",
            "set",
            "FIN",
            "--every",
            "90d",
            "--next-due",
            "2031-01-01",
        ]),
    );
    let policies = ok(
        "A lists policies",
        tdekey(&s, &a, &["policy", "list", "--json"]),
    );
    let v = json(&policies);
    let fin = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["database"] == "FIN")
        .unwrap_or_else(|| panic!("{policies}"));
    assert_eq!(fin["policy"]["schedule"], "every:90d", "{fin}");
    assert!(
        fin["policy"]["next_due"]
            .as_str()
            .unwrap()
            .starts_with("2031-01-01"),
        "{fin}"
    );
    // One chain: each verifies it (and records that it did), the other's entries in it.
    let va = ok("A verifies", tdekey(&s, &a, &["audit", "verify"]));
    let vb = ok("B verifies", on_b(&["audit", "verify"]));
    let entries = |out: &str| -> i64 {
        assert!(out.contains("chain intact"), "{out}");
        out.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert_eq!(
        entries(&vb),
        entries(&va) + 1,
        "B's chain holds A's verification: {va} / {vb}"
    );
    // Both say the same head, the one in the database.
    let ia = json(&ok(
        "A's store info",
        tdekey(&s, &a, &["store", "info", "--json"]),
    ));
    let ib = json(&ok("B's store info", on_b(&["store", "info", "--json"])));
    let (seq, hash) = s.head().unwrap();
    for i in [&ia, &ib] {
        assert_eq!(i["head_seq"], seq, "{i}");
        assert_eq!(i["head_hash"], hash.as_str(), "{i}");
    }
    // Who wrote what: A's list shows B's policy entry, B's shows A's profile entries.
    let list = ["audit", "list", "--json", "--action"];
    let on_a = ok(
        "A lists",
        tdekey(&s, &a, &[&list[..], &["rotation.policy"]].concat()),
    );
    assert!(on_a.contains("FIN"), "{on_a}");
    let on_b = ok("B lists", on_b(&[&list[..], &["database.change"]].concat()));
    assert!(on_b.contains("FIN"), "{on_b}");
    gap_free_and_linked(&chain(&s));
    for env in [&a, &b] {
        assert!(
            !env.data.database().exists(),
            "a shared store leaves no SQLite file in {}",
            env.data.root().display()
        );
    }
}

/// The environment that makes this test executable an appender (see [`appender`]): its tag.
const CHILD_TAG: &str = "TDEKEY_TEST_APPENDER";
const CHILD_URL: &str = "TDEKEY_TEST_APPENDER_URL";
const CHILD_PASSWORD_FILE: &str = "TDEKEY_TEST_APPENDER_PASSWORD_FILE";
const CHILD_COUNT: &str = "TDEKEY_TEST_APPENDER_COUNT";
/// A FIFO the appender waits at (connected, nothing appended) until the test lets it go.
const CHILD_BARRIER: &str = "TDEKEY_TEST_APPENDER_BARRIER";

/// This process, re-run as an appender: connects to the shared store through the library,
/// waits at its barrier if it has one, then appends COUNT entries one by one (each its own
/// transaction), targets `TAG/0`, `TAG/1`, …; exits 0, or panics (exit 101) on any error.
fn appender() -> ! {
    use std::io::Read;
    let _faults = tdekey::faults::setup();
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let tag = var(CHILD_TAG);
    let location = tdekey::store::Location::shared(
        &var(CHILD_URL),
        Some(Path::new(&var(CHILD_PASSWORD_FILE))),
    )
    .unwrap();
    let mut a = Auditor::new(Store::connect(&location).unwrap());
    if let Ok(barrier) = std::env::var(CHILD_BARRIER) {
        let mut sink = Vec::new();
        std::fs::File::open(barrier)
            .unwrap()
            .read_to_end(&mut sink)
            .unwrap();
    }
    let n: usize = var(CHILD_COUNT).parse().unwrap();
    for i in 0..n {
        a.record(
            Action::HsmInventory,
            &format!("{tag}/{i}"),
            Outcome::Success,
            None,
            serde_json::json!({ "appender": tag, "i": i }),
        )
        .unwrap();
    }
    std::process::exit(0);
}

/// This test executable, to run test `name` as appender `tag` of `n` entries.
fn appender_cmd(s: &Shared, name: &str, tag: &str, n: usize) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_TAG, tag)
        .env(CHILD_URL, &s.url)
        .env(CHILD_PASSWORD_FILE, &s.password_file)
        .env(CHILD_COUNT, n.to_string())
        .env_remove(CHILD_BARRIER)
        .env_remove("FAILPOINTS")
        .env_remove("PGPASSWORD");
    c
}

/// `tdekey audit verify` (in a data directory of its own) says the chain is intact; returns
/// how many entries it counted (its own entry is written after).
fn verified(s: &Shared) -> i64 {
    let env = Env::new();
    let out = ok("audit verify", tdekey(s, &env, &["audit", "verify"]));
    assert!(out.contains("chain intact"), "{out}");
    out.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn four_processes_appending_at_once_keep_one_gap_free_chain() {
    const NAME: &str = "four_processes_appending_at_once_keep_one_gap_free_chain";
    const PER: usize = 250;
    if std::env::var_os(CHILD_TAG).is_some() {
        appender();
    }
    let s = Shared::new();
    let dir = tempfile::tempdir().unwrap();
    // Four appenders, each connected to the (still empty) database and waiting at a FIFO of
    // its own; once all four stand there, they are let go at once.
    let held: Vec<Held> = (0..4)
        .map(|k| {
            let fifo = dir.path().join(format!("go-{k}"));
            mkfifo(&fifo);
            let mut c = appender_cmd(&s, NAME, &format!("p{k}"), PER);
            c.env(CHILD_BARRIER, &fifo);
            Held::start(c, fifo)
        })
        .collect();
    let gates: Vec<std::fs::File> = held.iter().map(Held::arrived).collect();
    assert_eq!(s.count("SELECT count(*) FROM audit_log"), 0);
    drop(gates);
    for (k, h) in held.into_iter().enumerate() {
        let (code, out, err) = h.finish();
        assert_eq!(code, 0, "appender p{k}: {out}{err}");
    }
    let rows = chain(&s);
    assert_eq!(rows.len(), 4 * PER);
    gap_free_and_linked(&rows);
    // Each appender's entries are all there, in its own order.
    for k in 0..4 {
        let mine: Vec<&str> = rows
            .iter()
            .map(|r| r.target.as_str())
            .filter(|t| t.starts_with(&format!("p{k}/")))
            .collect();
        let want: Vec<String> = (0..PER).map(|i| format!("p{k}/{i}")).collect();
        assert_eq!(mine, want, "appender p{k}");
    }
    // In the database too: 1..=N, no gap, no duplicate.
    assert_eq!(
        s.psql("SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) || ' ' || count(DISTINCT seq) FROM audit_log"),
        format!("{n} 1 {n} {n}", n = 4 * PER)
    );
    let switches = rows
        .windows(2)
        .filter(|w| w[0].target.split('/').next() != w[1].target.split('/').next())
        .count();
    eprintln!(
        "{} entries from 4 processes, {switches} switches between appenders",
        rows.len()
    );
    assert_eq!(verified(&s), (4 * PER) as i64);
}

#[test]
fn a_second_appender_waits_for_the_first_ones_lock() {
    const NAME: &str = "a_second_appender_waits_for_the_first_ones_lock";
    if std::env::var_os(CHILD_TAG).is_some() {
        appender();
    }
    let s = Shared::new();
    let mut first = Auditor::new(Store::connect(&s.location()).unwrap());
    first
        .record(
            Action::HsmInventory,
            "first",
            Outcome::Success,
            None,
            serde_json::json!({}),
        )
        .unwrap();
    drop(first);
    let before = s.head().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A stands inside its append: the audit lock taken, the head (seq 1) read, nothing written.
    let a = Held::spawn(
        dir.path(),
        "a",
        appender_cmd(&s, NAME, "A", 1),
        tdekey::faults::STORE_AUDIT_LOCKED,
    );
    let gate = a.arrived();
    let mut b = appender_cmd(&s, NAME, "B", 1)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // B waits for the audit domain's lock (7627883, 1): PostgreSQL shows its request not
    // granted. (Polled: a state B reaches by itself; the order is the lock's.)
    s.wait_for(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
         AND classid = 7627883 AND objid = 1 AND objsubid = 2",
        "1",
    );
    assert!(
        b.try_wait().unwrap().is_none(),
        "B ended while A held the lock"
    );
    assert_eq!(
        s.head().unwrap(),
        before,
        "nothing committed while A holds the lock"
    );
    drop(gate);
    let (code, out, err) = a.finish();
    assert_eq!(code, 0, "A: {out}{err}");
    let out = b.wait_with_output().unwrap();
    assert!(out.status.success(), "B: {out:?}");
    let rows = chain(&s);
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["first", "A/0", "B/0"],
        "A's head read stood; B appended after it"
    );
    gap_free_and_linked(&rows);
    assert_eq!(verified(&s), 3);
}

/// `db add` (a command that writes) with `store` (the store's options) before it, in a fresh
/// data directory: refused with one line on stderr that holds every one of `says`, a failure
/// exit, nothing on stdout, and no SQLite file left in the data directory. Returns the line.
fn refused(store: &[String], says: &[&str]) -> String {
    let env = Env::new();
    let mut c = env.tdekey();
    c.args(store)
        .args(["db", "add", "NEWDB", "--connector", "manual"])
        .env_remove("TDEKEY_STORE")
        .env_remove("PGPASSWORD")
        .env_remove("PGPASSFILE")
        .env("HOME", env.dir.path());
    let (code, out, err) = run(c);
    assert_ne!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    let line = err.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {err}");
    assert!(
        line.starts_with("tdekey: ") && line.ends_with('.'),
        "{line}"
    );
    for w in says {
        assert!(line.contains(w), "{w:?} in {line}");
    }
    assert!(
        !env.data.database().exists(),
        "a refused shared store leaves no SQLite file: {line}"
    );
    eprintln!("{line}");
    line.to_owned()
}

/// `--store URL --store-password-file FILE`.
fn store_args(url: &str, password_file: &Path) -> Vec<String> {
    vec![
        "--store".into(),
        url.into(),
        "--store-password-file".into(),
        password_file.to_str().unwrap().into(),
    ]
}

#[test]
fn bad_input_is_one_sentence_a_failure_exit_and_nothing_written() {
    let s = Shared::new();
    let with = |url: &str| store_args(url, &s.password_file);

    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    refused(
        &with(&format!(
            "postgresql://tdekey_test@127.0.0.1:{closed}/tdekey"
        )),
        &["Cannot reach", "check that it runs", "--store"],
    );

    // A wrong password: the database untouched (still empty).
    let empty = s.snapshot();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "wrong-pw-58e1\n").unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let line = refused(
        &store_args(&s.url, &wrong),
        &["refused user tdekey_test", "correct it there"],
    );
    assert!(!line.contains("wrong-pw-58e1"), "{line}");
    assert_eq!(s.snapshot(), empty);

    // A password in the URL: refused before anything is contacted, the password not shown.
    let url = format!(
        "postgresql://tdekey_test:{}@127.0.0.1:{}/{}",
        s.pg.password(),
        s.pg.port(),
        s.db
    );
    let line = refused(&with(&url), &["holds a password", "--store-password-file"]);
    assert!(!line.contains(s.pg.password()), "{line}");
    assert_eq!(s.snapshot(), empty);

    // A schema newer than this tdekey.
    ok("store info", tdekey(&s, &Env::new(), &["store", "info"]));
    s.psql("UPDATE tdekey_schema SET version = 99");
    let newer = s.snapshot();
    assert!(newer.contains("public.audit_log="), "{newer}");
    refused(
        &with(&s.url),
        &["schema version 99", "use the newer tdekey"],
    );
    assert_eq!(s.snapshot(), newer);

    // A database that is not tdekey's: someone else's table in it.
    let theirs = s.pg.create_db();
    s.pg.psql(
        &theirs,
        "CREATE TABLE invoices (id BIGINT PRIMARY KEY, amount NUMERIC);
         INSERT INTO invoices VALUES (1, 9.5), (2, 120)",
    );
    let snap = |db: &str| {
        s.pg.psql(
            db,
            "SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY 1)
             FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
        ) + &s.pg.psql(db, "SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM invoices i")
    };
    let before = snap(&theirs);
    assert!(before.starts_with("public.invoices"), "{before}");
    refused(
        &with(&s.pg.url(&theirs)),
        &[&theirs, "invoices", "point tdekey at an empty database"],
    );
    assert_eq!(snap(&theirs), before);
}

#[test]
fn store_info_on_postgresql_says_engine_location_schema_and_head() {
    let s = Shared::new();
    let env = Env::new();
    ok(
        "db add",
        tdekey(&s, &env, &["db", "add", "FIN", "--connector", "manual"]),
    );
    let (seq, hash) = s.head().unwrap();
    let text = ok("store info", tdekey(&s, &env, &["store", "info"]));
    eprintln!("{text}");
    let v = json(&ok(
        "store info --json",
        tdekey(&s, &env, &["store", "info", "--json"]),
    ));
    eprintln!("{v}");
    let location = format!(
        "postgresql://tdekey_test@127.0.0.1:{}/{}",
        s.pg.port(),
        s.db
    );
    assert_eq!(v["engine"], "postgresql", "{v}");
    assert!(
        v["location"].as_str().unwrap().starts_with(&location),
        "{v}"
    );
    assert_eq!(v["schema_version"], tdekey::store::SCHEMA_VERSION, "{v}");
    assert_eq!(v["schema_known"], tdekey::store::SCHEMA_VERSION, "{v}");
    assert_eq!(v["head_seq"], seq, "{v}");
    assert_eq!(v["head_hash"], hash.as_str(), "{v}");
    assert_eq!(
        v["entries"],
        s.count("SELECT count(*) FROM audit_log"),
        "{v}"
    );
    assert_eq!(v["tls"], "none", "{v}");
    assert!(
        v["server_version"].as_str().is_some_and(|x| !x.is_empty()),
        "{v}"
    );
    assert!(
        text.contains(&format!("PostgreSQL, shared: {location}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("version {}", tdekey::store::SCHEMA_VERSION)),
        "{text}"
    );
    assert!(
        text.contains(&format!("head seq {seq}, hash {hash}")),
        "{text}"
    );
    for out in [&text, &v.to_string()] {
        assert!(!out.contains(s.pg.password()), "{out}");
    }
    // Reading the facts writes nothing.
    assert_eq!(s.head().unwrap(), (seq, hash));
    assert!(!env.data.database().exists());
}

#[test]
fn a_lease_lock_given_back_is_free_when_the_keeper_is_dropped_and_its_connection_kept() {
    use tdekey::store::{LeaseKeeper, LeaseKey, Leased};
    let s = Shared::new();
    let mut store = Store::connect(&s.location()).unwrap();
    // A watcher connected beforehand: it asks the server at once, without a connect's delay.
    let mut watcher = postgres::Config::from_str(&s.url)
        .unwrap()
        .password(s.pg.password())
        .connect(postgres::NoTls)
        .unwrap();
    let mut pids = std::collections::BTreeSet::new();
    // How many hold the lock; the holders' server processes noted.
    let mut held = || -> i64 {
        let rows = watcher
            .query(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted",
                &[],
            )
            .unwrap();
        for r in &rows {
            pids.insert(r.get::<_, i32>(0));
        }
        rows.len() as i64
    };
    // As `migrate run` does, one step after the other: each step's keeper is dropped, and the
    // next step's takes the lock again straight away. (Each round connects twice, which a
    // debug build's SCRAM makes slow: a few rounds.)
    // Every other round the keeper renews a lease (its thread then holds the connection).
    let id = store.insert_migration("FIN", "{}").unwrap();
    for i in 0..6 {
        let mut k = LeaseKeeper::lock(&store, LeaseKey::Migration("FIN"))
            .unwrap()
            .unwrap_or_else(|| panic!("round {i}: the lock given back is still held"));
        assert!(k.holds_lock());
        if i % 2 == 1 {
            assert!(
                store
                    .lease_migration(id, "me", tdekey::model::now_ms() + 60_000, true)
                    .unwrap()
                    .is_none()
            );
            k.renew(&store, Leased::Migration(id), "me", 60_000);
        }
        assert_eq!(held(), 1, "round {i}");
        // While held, nobody else gets it.
        assert!(
            LeaseKeeper::lock(&store, LeaseKey::Migration("FIN"))
                .unwrap()
                .is_none(),
            "round {i}"
        );
        drop(k);
        // Given back when the drop returns, not when the server gets round to ending the
        // keeper's session.
        assert_eq!(
            held(),
            0,
            "round {i}: the dropped keeper's lock is still held"
        );
    }
    // The keepers' connections are kept for the next keeper (a new connection per lock cost
    // `rotate --due` ~130 ms a database): six rounds, at most the two kept and the one that
    // was busy while another asked (a new one per round would be six).
    assert!(pids.len() <= 3, "a connection per round: {pids:?}");
}
