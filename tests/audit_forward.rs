//! `tdekey audit forward` against a real rsyslogd (Debian's rsyslog and rsyslog-gnutls),
//! started by each test on a free loopback port: every entry arrives once and rsyslog parses
//! it as RFC 5424; an outage mid-stream loses nothing; a down destination and a wrong CA fail
//! with a sentence; journald where the machine has it.

mod common;

use common::rsyslog::{Parsed, Pki, Rsyslog, until};
use common::{Env, run};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use tdekey::audit::{Action, Auditor, Outcome};
use tdekey::store::{AuditRow, Store};

fn auditor(env: &Env) -> Auditor {
    Auditor::new(Store::open(&env.data.database()).unwrap())
}

/// Appends `n` entries of every outcome, some with an HSM user, some with text that needs
/// escaping in structured data and in a one-line message.
fn fill(env: &Env, n: usize) {
    let mut a = auditor(env);
    let outcomes = [
        Outcome::Started,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Cancelled,
    ];
    let entries: Vec<_> = (0..n)
        .map(|i| {
            (
                if i % 2 == 0 {
                    Action::HsmLogin
                } else {
                    Action::KeyGenerate
                },
                format!("target \"{i}\" \\ ] line\nbreak"),
                outcomes[i % 4],
                (i % 3 == 0).then(|| "crypto_user".to_owned()),
                json!({ "i": i }),
            )
        })
        .collect();
    a.record_batch(&entries).unwrap();
}

fn rows(env: &Env) -> Vec<AuditRow> {
    let s = Store::open(&env.data.database()).unwrap();
    let mut out = Vec::new();
    s.for_each_audit_row(|r| {
        out.push(r);
        true
    })
    .unwrap();
    out
}

fn position(env: &Env, key: &str) -> i64 {
    Store::open(&env.data.database())
        .unwrap()
        .forward_position(key)
        .unwrap()
}

fn forward(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = env.tdekey();
    c.args(["audit", "forward"]).args(args);
    run(c)
}

fn forward_entries(env: &Env) -> Vec<Value> {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args([
            "audit",
            "list",
            "--action",
            "audit.forward",
            "--json",
            "--limit",
            "100",
        ]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let mut v: Vec<Value> = serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    v.reverse();
    v
}

fn details(e: &Value) -> Value {
    serde_json::from_str(e["details"].as_str().unwrap()).unwrap()
}

/// Checks every message against the entry it came from; returns how many times each seq came.
fn check_parsed(got: &[Parsed], rows: &[AuditRow]) -> BTreeMap<i64, usize> {
    let by_seq: BTreeMap<i64, &AuditRow> = rows.iter().map(|r| (r.seq, r)).collect();
    let mut counts = BTreeMap::new();
    for p in got {
        let seq = p.seq();
        let r = by_seq
            .get(&seq)
            .unwrap_or_else(|| panic!("seq {seq} is not in the log: {p:?}"));
        *counts.entry(seq).or_insert(0) += 1;
        assert_eq!(p.app_name, "tdekey", "{p:?}");
        assert_eq!(p.msgid, r.action, "{p:?}");
        assert_eq!(p.hostname, r.host, "{p:?}");
        let sev = match r.outcome.as_str() {
            "failure" => 4,
            "started" => 6,
            _ => 5,
        };
        assert_eq!(p.pri, (10 * 8 + sev).to_string(), "{p:?}");
        assert!(p.sd.starts_with("[tdekey@32473 seq=\""), "{p:?}");
        assert_eq!(p.param("hash"), Some(hex::encode(r.hash)), "{p:?}");
        assert_eq!(p.param("prev"), Some(hex::encode(r.prev_hash)), "{p:?}");
        assert_eq!(p.param("outcome").as_deref(), Some(r.outcome.as_str()));
        assert_eq!(p.param("osuser").as_deref(), Some(r.os_user.as_str()));
        assert_eq!(p.param("hsmuser"), r.hsm_user, "{p:?}");
        let text = p
            .msg
            .strip_prefix('\u{feff}')
            .expect("MSG starts with a BOM");
        assert!(text.contains(&r.action), "{p:?}");
        assert!(
            text.contains(&tdekey::model::printable(&r.target).into_owned()),
            "{p:?}"
        );
    }
    counts
}

#[test]
fn every_entry_arrives_once_in_rfc5424_form_and_a_second_run_sends_only_what_is_new() {
    let env = Env::new();
    fill(&env, 250);
    let mut syslog = Rsyslog::tcp(&env.dir.path().join("rsyslog"), false);
    let url = format!("syslog+tcp://127.0.0.1:{}", syslog.port);
    let (code, out, err) = forward(&env, &["--to", &url, "--once", "--batch", "100"]);
    assert_eq!(code, 0, "{out}{err}");
    // The 250 entries and the run's own `started` entry.
    assert!(out.contains("Forwarded 251 entries (seq 1..251)"), "{out}");
    assert_eq!(position(&env, &url), 251);
    let got = syslog.wait_for_seqs(251);
    let counts = check_parsed(&got, &rows(&env));
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    assert_eq!(counts.len(), 251);

    // Again: only the first run's outcome entry and this run's start are new.
    let (code, out, err) = forward(&env, &["--to", &url, "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Forwarded 2 entries (seq 252..253)"), "{out}");
    let got = syslog.wait_for_seqs(253);
    let counts = check_parsed(&got, &rows(&env));
    assert_eq!(counts.len(), 253);
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");

    // Audited per run, not per entry.
    let runs = forward_entries(&env);
    let outcomes: Vec<&str> = runs
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["started", "success", "started", "success"]);
    let d = details(&runs[1]);
    assert_eq!(
        (
            d["entries"].as_i64(),
            d["first_seq"].as_i64(),
            d["last_seq"].as_i64()
        ),
        (Some(251), Some(1), Some(251)),
        "{d}"
    );
    assert_eq!(d["destination"], url.as_str());

    let (code, out, _) = forward(&env, &["--status"]);
    assert_eq!(code, 0);
    // The head moved on by the `audit list` above (audit.read).
    assert!(
        out.contains(&format!("{url}  seq 253 of 255 (2 behind)")),
        "{out}"
    );
    syslog.stop();
}

/// The forwarder held at `forward.batch-saved` the second time a batch is acknowledged.
struct Held {
    fifo: PathBuf,
    child: Child,
}

impl Held {
    fn spawn(env: &Env, args: &[&str]) -> Self {
        let fifo = env.dir.path().join("batch.fifo");
        let cpath = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
        let mut c = env.tdekey();
        c.args(["audit", "forward"])
            .args(args)
            .env(
                "FAILPOINTS",
                format!(
                    "forward.batch-saved=1*off->1*return(wait:{})",
                    fifo.display()
                ),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Held {
            fifo,
            child: c.spawn().unwrap(),
        }
    }

    /// Returns once the forwarder stands at the point; it stays there while the file lives.
    fn arrived(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&self.fifo)
            .unwrap()
    }

    /// SIGTERM, then its exit code and output.
    fn stop(mut self) -> (i32, String, String) {
        // SAFETY: a child this test started and has not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        let mut err = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code().unwrap_or(-1), out, err)
    }
}

#[test]
fn rsyslog_stopped_mid_stream_and_restarted_loses_nothing_and_follows_new_entries() {
    let env = Env::new();
    fill(&env, 1000);
    let mut syslog = Rsyslog::tcp(&env.dir.path().join("rsyslog"), false);
    let url = format!("syslog+tcp://127.0.0.1:{}", syslog.port);
    let held = Held::spawn(&env, &["--to", &url, "--batch", "200"]);

    // Two batches acknowledged and saved; rsyslog has written them; then it goes down.
    let gate = held.arrived();
    assert_eq!(position(&env, &url), 400);
    syslog.wait_for_seqs(400);
    syslog.stop();
    drop(gate);

    // The forwarder finds the connection closed, records the failure once and retries.
    until("the failure to be audited", || {
        forward_entries(&env)
            .iter()
            .any(|e| e["outcome"] == "failure")
            .then_some(())
    });
    assert_eq!(
        position(&env, &url),
        400,
        "nothing counted while rsyslog is down"
    );
    syslog.restart();
    // The 1000 entries and the follower's start (1001); its failure and recovery come after,
    // among the `audit.read` entries of this test's `audit list`.
    syslog.wait_for_seqs(1001);

    // New entries are forwarded as they are written.
    fill(&env, 50);
    let head = Store::open(&env.data.database())
        .unwrap()
        .audit_head()
        .unwrap()
        .unwrap()
        .0;
    syslog.wait_for_seqs(head);
    let (code, out, err) = held.stop();
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("it closed the connection"), "{err}");
    assert!(err.contains("Trying again in 1 s."), "{err}");
    assert!(out.contains("Stopped:"), "{out}");

    let last = position(&env, &url);
    assert!(last >= head, "{last} < {head}");
    let got = syslog.wait_for_seqs(last);
    let counts = check_parsed(&got, &rows(&env));
    let missing: Vec<i64> = (1..=last).filter(|s| !counts.contains_key(s)).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    let dups: usize = counts.values().map(|n| n - 1).sum();
    println!(
        "{} messages for {} entries: {dups} duplicates by seq",
        got.len(),
        counts.len()
    );
    assert!(
        dups <= 200,
        "more than the one unacknowledged batch came twice: {dups}"
    );

    // Audited at start, failure, recovery and stop: not per batch (there were more than six).
    let runs = forward_entries(&env);
    let events: Vec<(String, String)> = runs
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap().to_owned(),
                details(e)["event"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("started".into(), "".into()),
            ("failure".into(), "failed".into()),
            ("success".into(), "resumed".into()),
            ("success".into(), "stopped".into()),
        ]
    );
    let stopped = details(&runs[3]);
    assert_eq!(stopped["last_seq"].as_i64(), Some(last), "{stopped}");
    let seqs: HashSet<i64> = got.iter().map(Parsed::seq).collect();
    let failure_seq = runs[1]["seq"].as_i64().unwrap();
    assert!(
        seqs.contains(&failure_seq),
        "the failure entry itself was forwarded"
    );
}

#[test]
fn a_down_destination_fails_once_with_a_sentence_and_the_failure_is_audited() {
    let env = Env::new();
    fill(&env, 10);
    let port = common::rsyslog::free_port();
    let url = format!("syslog+tcp://127.0.0.1:{port}");
    let (code, out, err) = forward(&env, &["--to", &url, "--once"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with(&format!("tdekey: Cannot connect to {url}: ")),
        "{err}"
    );
    assert!(err.contains("Check that the SIEM is up"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(position(&env, &url), 0);
    let runs = forward_entries(&env);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["outcome"], "failure");
    let d = details(&runs[1]);
    assert!(
        d["error"].as_str().unwrap().contains("Cannot connect"),
        "{d}"
    );
    assert_eq!(d["entries"].as_i64(), Some(0));

    let (code, _, err) = forward(&env, &["--to", "syslog://siem", "--once"]);
    assert_eq!(code, 1);
    assert!(err.contains("use syslog+tcp://HOST:PORT"), "{err}");
}

#[test]
fn tls_with_the_right_ca_and_a_client_certificate_delivers_everything() {
    let env = Env::new();
    fill(&env, 120);
    let pki = Pki::new(&env.dir.path().join("pki"));
    let mut syslog = Rsyslog::tls(&env.dir.path().join("rsyslog"), &pki);
    let url = format!("syslog+tls://127.0.0.1:{}", syslog.port);
    let (code, out, err) = forward(
        &env,
        &[
            "--to",
            &url,
            "--once",
            "--ca",
            pki.ca.to_str().unwrap(),
            "--cert",
            pki.client_cert.to_str().unwrap(),
            "--key",
            pki.client_key.to_str().unwrap(),
            "--batch",
            "50",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Forwarded 121 entries"), "{out}");
    let got = syslog.wait_for_seqs(121);
    let counts = check_parsed(&got, &rows(&env));
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    syslog.stop();
}

#[test]
fn tls_with_a_wrong_ca_is_refused_with_a_sentence() {
    let env = Env::new();
    fill(&env, 5);
    let pki = Pki::new(&env.dir.path().join("pki"));
    let (other_ca, _) = common::rsyslog::ca(&env.dir.path().join("pki"), "other-ca");
    let mut syslog = Rsyslog::tls(&env.dir.path().join("rsyslog"), &pki);
    let url = format!("syslog+tls://127.0.0.1:{}", syslog.port);
    let (code, out, err) = forward(
        &env,
        &[
            "--to",
            &url,
            "--once",
            "--ca",
            other_ca.to_str().unwrap(),
            "--cert",
            pki.client_cert.to_str().unwrap(),
            "--key",
            pki.client_key.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with(&format!("tdekey: The TLS handshake with {url} failed")),
        "{err}"
    );
    assert!(err.contains("check that --ca names the CA"), "{err}");
    assert_eq!(position(&env, &url), 0);
    syslog.stop();
    assert!(syslog.received().is_empty());

    // Following, a CA file that cannot be read is not an outage to wait out: it ends the run,
    // recorded as its stop.
    let missing = env.dir.path().join("no-such-ca.pem");
    let (code, out, err) = forward(&env, &["--to", &url, "--ca", missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("tdekey: Cannot read the CA certificate file"),
        "{err}"
    );
    let runs = forward_entries(&env);
    let last = runs.last().unwrap();
    assert_eq!(last["outcome"], "failure");
    let d = details(last);
    assert_eq!(d["event"], "stopped");
    assert!(
        d["error"].as_str().unwrap().contains("no-such-ca.pem"),
        "{d}"
    );

    // TLS options on a TCP destination are a mistake said as such.
    let (code, _, err) = forward(
        &env,
        &[
            "--to",
            "syslog+tcp://127.0.0.1:1",
            "--once",
            "--ca",
            other_ca.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("apply to syslog+tls:// destinations only"),
        "{err}"
    );
}

#[test]
#[ignore = "Needs systemd-journald (its socket /run/systemd/journal/socket); make test runs it when the socket exists."]
fn journald_receives_every_entry_with_its_fields() {
    let socket = tdekey::audit::forward::JOURNAL_SOCKET;
    assert!(
        std::path::Path::new(socket).exists(),
        "journald is not running here ({socket} is absent): this test cannot run"
    );
    let env = Env::new();
    fill(&env, 20);
    let (code, out, err) = forward(&env, &["--to", "journald", "--once"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Forwarded 21 entries"), "{out}");
    let rows = rows(&env);
    for r in rows.iter().filter(|r| r.seq <= 21) {
        let hash = hex::encode(r.hash);
        let found = until(&format!("seq {} in the journal", r.seq), || {
            let mut c = std::process::Command::new("journalctl");
            c.args(["--no-pager", "-o", "json", &format!("TDEKEY_HASH={hash}")]);
            let (code, out, _) = run(c);
            (code == 0 && !out.trim().is_empty()).then_some(out)
        });
        let v: Value = serde_json::from_str(found.lines().next().unwrap()).unwrap();
        assert_eq!(v["SYSLOG_IDENTIFIER"], "tdekey");
        assert_eq!(v["TDEKEY_SEQ"], r.seq.to_string());
        assert_eq!(v["TDEKEY_ACTION"], r.action.as_str());
        assert_eq!(v["TDEKEY_OUTCOME"], r.outcome.as_str());
        assert_eq!(v["TDEKEY_TARGET"], r.target.as_str());
    }
}
