//! Exports, encryption, and faults: read-only storage and processes killed mid-write.

mod common;

use common::{Env, contains, run};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PASS: &str = "a long transport passphrase 42";

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = env.tdekey();
    c.args(args).env("TDEKEY_EXPORT_PASSPHRASE", PASS);
    run(c)
}

/// A log with some entries: connects (success and failure) through the CLI.
fn env_with_log() -> Env {
    let env = Env::new();
    let module = env.module.display().to_string();
    for _ in 0..3 {
        let (code, _, err) = tdekey(&env, &["hsm", "info", "--module", &module]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, _) = tdekey(&env, &["hsm", "info", "--module", "/nonexistent.so"]);
    assert_eq!(code, 1);
    env
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// The permission bits of a file.
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The README: an export is renamed into place "when complete (mode 0600)"; its manifest lies
/// beside it and is no more readable than the export it describes.
fn assert_private(export: &Path) {
    let manifest = tdekey::audit::export::manifest_path(export);
    assert_eq!(mode(export), 0o600, "{}", export.display());
    assert_eq!(mode(&manifest), 0o600, "{}", manifest.display());
}

#[test]
fn csv_and_jsonl_exports_match_their_manifests() {
    let env = env_with_log();
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();

    let csv_path = out.join("log.csv");
    let (code, stdout, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("Exported"), "{stdout}");
    assert_private(&csv_path);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("log.csv.manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["sha256"], sha256_file(&csv_path));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "seq");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len() as u64, manifest["entries"].as_u64().unwrap());
    assert_eq!(
        records.first().unwrap()[0],
        manifest["first_seq"].to_string()
    );
    assert_eq!(records.last().unwrap()[0], manifest["last_seq"].to_string());
    // The export's own `started` entry is in the log (audit before acting) and in the export.
    assert!(
        records
            .iter()
            .any(|r| &r[6] == "audit.export" && &r[8] == "started")
    );
    // Details with quotes and commas survive RFC 4180 quoting.
    assert!(records.iter().any(|r| r[9].contains("\"via\":\"cli\"")));

    let jl = out.join("failures.jsonl");
    let (code, _, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--outcome",
            "failure",
            "--out",
            jl.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&jl).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "one failed connect");
    assert_eq!(lines[0]["action"], "hsm.connect");
    assert!(
        lines[0]["details"]["error"]
            .as_str()
            .unwrap()
            .starts_with("No file at")
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("failures.jsonl.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["entries"], 1);
    assert_eq!(m["filter"]["outcome"], "failure");
    assert_eq!(m["sha256"], sha256_file(&jl));
    assert_private(&jl);

    // Both exports are themselves audited, and the chain still verifies.
    let (code, stdout, _) = tdekey(
        &env,
        &["audit", "list", "--action", "audit.export", "--json"],
    );
    assert_eq!(code, 0);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(entries.len(), 4, "started and success for each export");
    let (code, _, _) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0);
}

#[test]
fn encrypted_exports_round_trip_and_refuse_wrong_passphrases_and_modified_files() {
    let env = env_with_log();
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let enc = out.join("log.jsonl.enc");
    let (code, _, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--encrypt",
            "--out",
            enc.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&enc).unwrap();
    assert_eq!(&bytes[..16], b"TDEKEY-EXPORT-v1");
    assert!(
        !contains(&bytes, "hsm.connect"),
        "the export is not in the clear"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("log.jsonl.enc.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["encrypted"]["kdf"], "argon2id");
    assert_eq!(m["sha256"], sha256_file(&enc));
    assert_private(&enc);

    let plain = out.join("log.jsonl");
    let (code, _, err) = tdekey(
        &env,
        &[
            "audit",
            "decrypt",
            "--in",
            enc.to_str().unwrap(),
            "--out",
            plain.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let n = std::fs::read_to_string(&plain).unwrap().lines().count() as u64;
    assert_eq!(n, m["entries"].as_u64().unwrap());

    // A wrong passphrase: refused, nothing written.
    let wrong_out = out.join("wrong.jsonl");
    let mut c = env.tdekey();
    c.args([
        "audit",
        "decrypt",
        "--in",
        enc.to_str().unwrap(),
        "--out",
        wrong_out.to_str().unwrap(),
    ])
    .env("TDEKEY_EXPORT_PASSPHRASE", "not the right passphrase");
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(err.contains("The passphrase is wrong"), "{err}");
    assert!(!wrong_out.exists());

    // This export is one chunk: a flipped byte in it or a cut tail is named as a damaged end;
    // a changed salt derives another key, so it reads as a wrong passphrase. Refused, nothing
    // written. (Exports of several chunks: the tests after this one.)
    for (name, mutate, expected) in [
        (
            "flipped",
            Box::new(|b: &mut Vec<u8>| {
                let i = b.len() - 20;
                b[i] ^= 1;
            }) as Box<dyn Fn(&mut Vec<u8>)>,
            "is cut off in the middle of chunk 0 (or that last chunk was changed)",
        ),
        (
            "truncated",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 5)),
            "is cut off in the middle of chunk 0 (or that last chunk was changed)",
        ),
        (
            "header",
            Box::new(|b: &mut Vec<u8>| b[30] ^= 1),
            "The passphrase is wrong for",
        ),
    ] {
        let mut copy = bytes.clone();
        mutate(&mut copy);
        let bad = out.join(format!("{name}.enc"));
        std::fs::write(&bad, &copy).unwrap();
        let target = out.join(format!("{name}.jsonl"));
        let (code, _, err) = tdekey(
            &env,
            &[
                "audit",
                "decrypt",
                "--in",
                bad.to_str().unwrap(),
                "--out",
                target.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 1, "{name}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!target.exists(), "{name}: nothing written");
    }
    let junk = out.join("junk.enc");
    std::fs::write(&junk, b"not an export").unwrap();
    let (code, _, err) = tdekey(
        &env,
        &[
            "audit",
            "decrypt",
            "--in",
            junk.to_str().unwrap(),
            "--out",
            out.join("j").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("is not an encrypted tdekey export"), "{err}");

    // The passphrase is nowhere on disk.
    let mut all = env.all_bytes_except_tokens();
    for f in std::fs::read_dir(&out).unwrap() {
        all.extend(std::fs::read(f.unwrap().path()).unwrap());
    }
    assert!(!contains(&all, PASS));

    // A short passphrase is refused before anything is written.
    let mut c = env.tdekey();
    c.args([
        "audit",
        "export",
        "--format",
        "csv",
        "--encrypt",
        "--out",
        out.join("short.csv").to_str().unwrap(),
    ])
    .env("TDEKEY_EXPORT_PASSPHRASE", "short");
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(err.contains("at least 12 characters"), "{err}");
    assert!(!out.join("short.csv").exists());
}

/// An encrypted export of several chunks: a log of a few MiB (entries with long details,
/// written through tdekey's own auditor), exported by the CLI with `--encrypt`.
struct Chunked {
    env: Env,
    out: std::path::PathBuf,
    /// The export as written.
    bytes: Vec<u8>,
    /// Where the sealed chunks start, and the size of every sealed chunk but the last.
    header: usize,
    sealed: usize,
}

impl Chunked {
    fn new() -> Self {
        let env = Env::new();
        {
            use tdekey::audit::{Action, Auditor, Outcome};
            let mut a = Auditor::open(&env.data).unwrap();
            let pad = "x".repeat(1000);
            let batch: Vec<_> = (0..4500)
                .map(|i| {
                    (
                        Action::HsmInventory,
                        format!("token-{i}"),
                        Outcome::Success,
                        None,
                        serde_json::json!({ "n": i, "pad": pad }),
                    )
                })
                .collect();
            a.record_batch(&batch).unwrap();
        }
        let out = env.dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let enc = out.join("big.jsonl.enc");
        let (code, _, err) = tdekey(
            &env,
            &[
                "audit",
                "export",
                "--format",
                "jsonl",
                "--encrypt",
                "--out",
                enc.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_private(&enc);
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tdekey::audit::export::manifest_path(&enc)).unwrap(),
        )
        .unwrap();
        let chunk = m["encrypted"]["chunk_bytes"].as_u64().unwrap() as usize;
        let bytes = std::fs::read(&enc).unwrap();
        // The README's layout: a 71-byte header whose bytes 51..55 are the chunk size, then
        // chunks of chunk size + 16 bytes, the last shorter.
        let header = 71;
        assert_eq!(bytes[51..55], (chunk as u32).to_be_bytes());
        let sealed = chunk + 16;
        let c = Chunked {
            env,
            out,
            bytes,
            header,
            sealed,
        };
        assert!(
            c.chunks() >= 5,
            "{} chunks of {chunk} bytes: too few for these tests",
            c.chunks()
        );
        c
    }

    /// How many sealed chunks the export holds.
    fn chunks(&self) -> usize {
        (self.bytes.len() - self.header).div_ceil(self.sealed)
    }

    /// The byte range of chunk `i`.
    fn chunk(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.header + i * self.sealed;
        start..(start + self.sealed).min(self.bytes.len())
    }

    /// Decrypts `bytes` (with `pass`) through the CLI; returns (exit code, stderr), and checks
    /// that a refused file leaves no output and no temporary file behind.
    fn decrypt(&self, name: &str, bytes: &[u8], pass: &str) -> (i32, String) {
        let input = self.out.join(format!("{name}.enc"));
        std::fs::write(&input, bytes).unwrap();
        let target = self.out.join(format!("{name}.jsonl"));
        let mut c = self.env.tdekey();
        c.args([
            "audit",
            "decrypt",
            "--in",
            input.to_str().unwrap(),
            "--out",
            target.to_str().unwrap(),
        ])
        .env("TDEKEY_EXPORT_PASSPHRASE", pass);
        let (code, _, err) = run(c);
        if code != 0 {
            assert!(!target.exists(), "{name}: nothing written");
            let temps: Vec<_> = std::fs::read_dir(&self.out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tdekey-"))
                .collect();
            assert!(temps.is_empty(), "{name}: {temps:?}");
        }
        (code, err)
    }
}

/// The phrase each kind of damage is named by; a refusal names its own and no other.
const DAMAGE: [&str; 5] = [
    "The passphrase is wrong",
    "was modified: chunk",
    "is truncated: it ends after chunk",
    "is cut off in the middle of chunk",
    "was reordered: chunk",
];

fn assert_named(err: &str, phrase: &str) {
    assert!(err.contains(phrase), "expected {phrase:?}: {err}");
    for other in DAMAGE.iter().filter(|d| **d != phrase) {
        assert!(
            !err.contains(other),
            "{other:?} as well as {phrase:?}: {err}"
        );
    }
    assert!(err.contains("Nothing was written"), "{err}");
}

#[test]
fn an_encrypted_export_of_several_chunks_decrypts_to_the_manifests_entries() {
    let c = Chunked::new();
    let (code, err) = c.decrypt("whole", &c.bytes, PASS);
    assert_eq!(code, 0, "{err}");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.out.join("big.jsonl.enc.manifest.json")).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(c.out.join("whole.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len() as u64, m["entries"].as_u64().unwrap());
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(rows[4000]["target"], "token-4000");
    assert_eq!(
        rows.last().unwrap()["hash"],
        m["chain_head"]["hash"],
        "the whole log, up to the export's own started entry"
    );
}

#[test]
fn a_wrong_passphrase_for_an_export_of_several_chunks_is_named() {
    let c = Chunked::new();
    let (code, err) = c.decrypt("wrong", &c.bytes, "not the right passphrase");
    assert_eq!(code, 1, "{err}");
    assert_named(&err, DAMAGE[0]);
}

#[test]
fn a_byte_changed_in_a_middle_chunk_is_named_with_its_chunk() {
    let c = Chunked::new();
    let mut b = c.bytes.clone();
    let r = c.chunk(2);
    b[r.start + 1234] ^= 0x20;
    let (code, err) = c.decrypt("modified", &b, PASS);
    assert_eq!(code, 1, "{err}");
    assert_named(&err, DAMAGE[1]);
    assert!(
        err.contains(&format!("chunk 2 of {} fails authentication", c.chunks())),
        "{err}"
    );
}

#[test]
fn an_export_missing_its_last_chunk_is_named_truncated() {
    let c = Chunked::new();
    let last = c.chunks() - 1;
    let b = &c.bytes[..c.chunk(last).start];
    let (code, err) = c.decrypt("no-last-chunk", b, PASS);
    assert_eq!(code, 1, "{err}");
    assert_named(&err, DAMAGE[2]);
    assert!(
        err.contains(&format!(
            "ends after chunk {}, which is not the final chunk",
            last - 1
        )),
        "{err}"
    );
    // Two chunks short: the same, one chunk earlier.
    let b = &c.bytes[..c.chunk(last - 1).start];
    let (code, err) = c.decrypt("two-short", b, PASS);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("ends after chunk {}, which", last - 2)),
        "{err}"
    );
}

#[test]
fn an_export_cut_inside_a_chunk_is_named() {
    let c = Chunked::new();
    for (name, chunk, keep) in [("mid-chunk-1", 1, 4096), ("mid-last", c.chunks() - 1, 7)] {
        let b = &c.bytes[..c.chunk(chunk).start + keep];
        let (code, err) = c.decrypt(name, b, PASS);
        assert_eq!(code, 1, "{name}: {err}");
        assert_named(&err, DAMAGE[3]);
        assert!(
            err.contains(&format!("in the middle of chunk {chunk} ")),
            "{name}: {err}"
        );
    }
}

#[test]
fn swapped_chunks_are_named_as_reordered() {
    let c = Chunked::new();
    let (one, two) = (c.chunk(1), c.chunk(2));
    let mut b = c.bytes[..one.start].to_vec();
    b.extend_from_slice(&c.bytes[two.clone()]);
    b.extend_from_slice(&c.bytes[one]);
    b.extend_from_slice(&c.bytes[two.end..]);
    assert_eq!(b.len(), c.bytes.len());
    let (code, err) = c.decrypt("swapped", &b, PASS);
    assert_eq!(code, 1, "{err}");
    assert_named(&err, DAMAGE[4]);
    assert!(err.contains("chunk 2 is at position 1"), "{err}");
}

#[test]
fn an_unwritable_target_leaves_nothing_behind() {
    let env = env_with_log();
    let (code, _, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            "/nonexistent-dir/log.csv",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("The directory /nonexistent-dir does not exist"),
        "{err}"
    );
    let (_, stdout, _) = tdekey(
        &env,
        &[
            "audit",
            "list",
            "--action",
            "audit.export",
            "--outcome",
            "failure",
        ],
    );
    assert!(
        stdout.contains("audit.export"),
        "the failed export is audited: {stdout}"
    );
}

/// Whether this test runs as root.
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Stops an ignored test that was asked to run without what it needs, saying what is missing.
fn require_root(test: &str, why: &str) {
    assert!(
        is_root(),
        "NOT RUN: {test} needs root ({why}); this user is not root. Run it as root (`make test` \
         as root runs the ignored tests) or leave it ignored."
    );
}

/// One entry as stored: (seq, action, outcome, details, hash as hex).
type Stored = (i64, String, String, String, String);

/// Every entry of the log, read straight from the file (SELECT only: reading adds nothing; a
/// read-write connection, so that closing it leaves no WAL behind, as tdekey does).
fn stored_log(db: &Path) -> Vec<Stored> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .unwrap();
    let mut st = c
        .prepare("SELECT seq, action, outcome, details, hash FROM audit_log ORDER BY seq")
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            hex::encode(r.get::<_, Vec<u8>>(4)?),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Runs `args` as the unprivileged user `nobody` (file permissions do not bind root).
fn as_unprivileged(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_tdekey"))
        .arg("--data-dir")
        .arg(env.data.root())
        .args(args)
        .env("SOFTHSM2_CONF", &env.conf);
    run(c)
}

#[test]
#[ignore = "Needs root: it makes the database read-only for the unprivileged user nobody (setpriv), which file permissions cannot do to root itself; make test runs it when root."]
fn a_read_only_database_stops_actions_before_they_happen() {
    require_root(
        "the read-only database test",
        "it runs tdekey as the user nobody with setpriv",
    );
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    assert!(
        setpriv.is_ok_and(|o| o.status.success()),
        "NOT RUN: the read-only database test needs setpriv (util-linux) on the PATH"
    );
    let env = Env::new();
    for _ in 0..2 {
        let (code, _, err) = tdekey(&env, &["audit", "verify"]);
        assert_eq!(code, 0, "{err}");
    }
    // Everyone may read the data directory; nobody but its owner may write it.
    for dir in [env.dir.path(), env.data.root()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in std::fs::read_dir(env.data.root()).unwrap() {
        let f = f.unwrap().path();
        let mode = if f.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let db = env.data.database();
    let before = stored_log(&db);
    assert_eq!(before.len(), 2, "{before:?}");
    let tokens_before = std::fs::read_dir(env.data.softhsm_dir().join("tokens"))
        .unwrap()
        .count();
    let (code, _, err) = as_unprivileged(&env, &["hsm", "demo-token"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("audit log is unavailable, so tdekey will not act"),
        "{err}"
    );
    let tokens_after = std::fs::read_dir(env.data.softhsm_dir().join("tokens"))
        .unwrap()
        .count();
    assert_eq!(tokens_before, tokens_after, "no token was created");
    // The README: state-changing actions act only if their `started` entry was written. It
    // could not be, so the log is exactly as it was: no entry lost, changed or added.
    assert_eq!(stored_log(&db), before);
    let (code, out, err) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{} entries, chain intact", before.len())),
        "{out}"
    );
}

/// Set in the environment of the appender processes that the kill test starts (the test binary
/// itself, running that test again): the data directory, and the appender's name.
const APPENDER_DATA: &str = "TDEKEY_TEST_APPENDER_DATA";
const APPENDER_ID: &str = "TDEKEY_TEST_APPENDER_ID";
const KILL_TEST: &str = "processes_killed_mid_append_leave_a_chain_that_verifies";

/// Entries in append `i` of an appender (1 to 8: one transaction each).
fn batch_len(i: u64) -> usize {
    1 + (i % 8) as usize
}

/// The appender process: appends batches to the log with tdekey's own auditor until it is
/// killed, and says on stdout when each append starts and once it is committed.
fn appender(data: &str, id: &str) -> ! {
    use std::io::Write;
    use tdekey::audit::{Action, Auditor, Outcome};
    let mut a = Auditor::open(&tdekey::paths::DataDir::at(data)).unwrap();
    let mut out = std::io::stdout();
    let mut i = 0u64;
    loop {
        let k = batch_len(i);
        let batch: Vec<_> = (0..k)
            .map(|j| {
                (
                    Action::HsmInventory,
                    format!("{id}/{i}/{j}"),
                    Outcome::Success,
                    None,
                    serde_json::json!({ "append": i, "entry": j, "of": k }),
                )
            })
            .collect();
        writeln!(out, "appending {i}").unwrap();
        out.flush().unwrap();
        a.record_batch(&batch).unwrap();
        writeln!(out, "committed {i}").unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

/// Whether another process holds the database's write lock (it is inside a write transaction:
/// appends take it with BEGIN IMMEDIATE and keep it until their commit is durable).
fn write_lock_held(db: &Path) -> bool {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(std::time::Duration::ZERO).unwrap();
    match c.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            c.execute_batch("ROLLBACK").unwrap();
            false
        }
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            true
        }
        Err(e) => panic!("probing the write lock: {e}"),
    }
}

/// The target of every entry in the log.
fn stored_log_targets(db: &Path) -> std::collections::HashSet<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare("SELECT target FROM audit_log").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// What one appender said before it was killed.
struct Killed {
    id: String,
    committed: std::collections::BTreeSet<u64>,
    /// The append it had started and not confirmed, if any.
    in_flight: Option<u64>,
    /// Whether it held the write lock when it was stopped and killed.
    in_transaction: bool,
}

#[test]
fn processes_killed_mid_append_leave_a_chain_that_verifies() {
    if let (Ok(data), Ok(id)) = (std::env::var(APPENDER_DATA), std::env::var(APPENDER_ID)) {
        appender(&data, &id);
    }
    use std::io::BufRead;
    use std::time::Duration;
    let env = Env::new();
    let (code, _, _) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0);
    let db = env.data.database();
    // Appender processes, each stopped (SIGSTOP) after a few commits and a varying delay,
    // wherever it is: the write lock says whether it is inside a transaction; then SIGKILL.
    // Rounds go on until enough kills landed inside a transaction.
    let mut killed: Vec<Killed> = Vec::new();
    // Kills inside a transaction whose append is not in the log: the transaction was cut.
    let mut rolled_back = 0;
    for round in 0..300u64 {
        let inside = killed.iter().filter(|k| k.in_transaction).count();
        if round >= 20 && inside >= 8 && rolled_back >= 3 {
            break;
        }
        let id = format!("c{round}");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", KILL_TEST, "--nocapture", "--test-threads=1"])
            .env(APPENDER_DATA, env.data.root())
            .env(APPENDER_ID, &id)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, commits) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("committed ") {
                    let _ = tx.send(());
                }
                lines.push(line);
            }
            lines
        });
        for _ in 0..=round % 3 {
            commits
                .recv_timeout(Duration::from_secs(60))
                .expect("the appender commits");
        }
        std::thread::sleep(Duration::from_micros((round * 7919) % 4000));
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: `pid` is our child, not yet reaped; WUNTRACED reports the stop without
        // reaping it, so `child.wait()` below still reaps it.
        unsafe {
            libc::kill(pid, libc::SIGSTOP);
            libc::waitpid(pid, &mut status, libc::WUNTRACED);
        }
        assert!(libc::WIFSTOPPED(status), "{id} stopped (status {status})");
        let in_transaction = write_lock_held(&db);
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let number = |l: &str, p: &str| l.strip_prefix(p).map(|n| n.parse::<u64>().unwrap());
        let committed: std::collections::BTreeSet<u64> = lines
            .iter()
            .filter_map(|l| number(l, "committed "))
            .collect();
        let last_started = lines.iter().rev().find_map(|l| number(l, "appending "));
        let in_flight = last_started.filter(|i| !committed.contains(i));
        assert!(
            !in_transaction || in_flight.is_some(),
            "{id} held the write lock, so it was inside an append it had not confirmed"
        );
        if let Some(i) = in_flight.filter(|_| in_transaction) {
            let first = format!("{id}/{i}/0");
            if !stored_log_targets(&db).contains(&first) {
                rolled_back += 1;
            }
        }
        killed.push(Killed {
            id,
            committed,
            in_flight,
            in_transaction,
        });
    }
    let inside = killed.iter().filter(|k| k.in_transaction).count();
    eprintln!(
        "{} appenders killed, {inside} inside a transaction, {rolled_back} of those cut before \
         their commit",
        killed.len()
    );
    assert!(
        inside >= 8 && rolled_back >= 3,
        "only {inside} of {} kills landed inside a transaction, {rolled_back} before the commit",
        killed.len()
    );

    // What the log holds: every confirmed append whole, the append in flight whole or not at
    // all, nothing else.
    let rows = stored_log(&db);
    let store = tdekey::store::Store::open(&db).unwrap();
    let mut targets: std::collections::HashMap<String, Vec<String>> = Default::default();
    store
        .for_each_audit_row(|r| {
            if let Some((who, rest)) = r.target.split_once('/') {
                targets
                    .entry(who.to_owned())
                    .or_default()
                    .push(rest.to_owned());
            }
            true
        })
        .unwrap();
    let mut confirmed_entries = 0;
    let mut in_flight_kept = 0;
    let mut in_flight_rolled_back = 0;
    for k in &killed {
        let mut appends: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
        for t in targets.remove(&k.id).unwrap_or_default() {
            let (i, j) = t.split_once('/').unwrap();
            appends
                .entry(i.parse().unwrap())
                .or_default()
                .push(j.parse().unwrap());
        }
        for (i, entries) in &appends {
            assert_eq!(
                *entries,
                (0..batch_len(*i)).collect::<Vec<_>>(),
                "{}: append {i} is whole, in order, once",
                k.id
            );
            assert!(
                k.committed.contains(i) || k.in_flight == Some(*i),
                "{}: append {i} was never started",
                k.id
            );
        }
        for i in &k.committed {
            assert!(
                appends.contains_key(i),
                "{}: confirmed append {i} is lost",
                k.id
            );
            confirmed_entries += batch_len(*i);
        }
        if let Some(i) = k.in_flight.filter(|_| k.in_transaction) {
            if appends.contains_key(&i) {
                in_flight_kept += 1;
            } else {
                in_flight_rolled_back += 1;
            }
        }
    }
    assert!(targets.is_empty(), "entries of no appender: {targets:?}");
    assert_eq!(in_flight_rolled_back, rolled_back);
    assert_eq!(in_flight_kept + in_flight_rolled_back, inside);
    let appended: usize = rows.iter().filter(|r| r.1 == "hsm.inventory").count();
    assert!(appended >= confirmed_entries && confirmed_entries > 0);
    let (code, out, err) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{} entries, chain intact", rows.len())),
        "{out}"
    );
}

/// A tmpfs of `kib` KiB mounted on a temp dir, unmounted on drop.
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    /// Mounts it; panics, saying why, when that is not possible.
    fn mount(kib: u32) -> Self {
        require_root("the full-disk test", "it mounts a small tmpfs to fill it");
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("NOT RUN: the full-disk test needs mount (util-linux)");
        assert!(
            out.status.success(),
            "NOT RUN: mounting a {kib} KiB tmpfs failed (a container without CAP_SYS_ADMIN?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TinyFs { dir }
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.dir.path().join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.path().join("filler")).unwrap();
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
#[ignore = "Needs root: it mounts a 512 KiB tmpfs and fills it; make test runs it when root."]
fn a_full_disk_refuses_the_action_and_loses_nothing() {
    let fs = TinyFs::mount(512);
    let data = fs.dir.path().join("data");
    let tdekey_at = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tdekey"));
        c.arg("--data-dir").arg(&data).args(args);
        run(c)
    };
    for _ in 0..3 {
        let (code, _, err) = tdekey_at(&["audit", "verify"]);
        assert_eq!(code, 0, "{err}");
    }
    let db = tdekey::paths::DataDir::at(&data).database();
    let before = stored_log(&db);
    assert_eq!(before.len(), 3, "{before:?}");
    fs.fill();
    let out = fs.dir.path().join("export.csv");
    let (code, _, err) = tdekey_at(&[
        "audit",
        "export",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("audit log is unavailable, so tdekey will not act") && err.contains("is full"),
        "{err}"
    );
    assert!(!out.exists(), "no half-written export");
    assert!(!tdekey::audit::export::manifest_path(&out).exists());
    let leftovers: Vec<_> = std::fs::read_dir(fs.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tdekey-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files removed");
    // The README: an action acts only if its `started` entry was written. On a full disk it
    // cannot be, so the export never started and the log is exactly as it was: nothing lost,
    // changed or added. (Read once there is room again: opening the database needs a little;
    // the filler is not the log.)
    fs.free();
    let after = stored_log(&db);
    assert_eq!(
        after, before,
        "the log is as it was before the refused export"
    );
    let (code, stdout, err) = tdekey_at(&["audit", "verify"]);
    assert_eq!(code, 0, "the log survived the full disk: {stdout}{err}");
    assert!(
        stdout.contains(&format!("{} entries, chain intact", after.len())),
        "{stdout}"
    );
}

#[test]
fn a_cancelled_export_leaves_no_file() {
    use tdekey::audit::export::{ExportError, Format, export};
    use tdekey::audit::{Action, Auditor, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let mut a = Auditor::new(tdekey::store::Store::open(&dir.path().join("t.sqlite3")).unwrap());
    let batch: Vec<_> = (0..2500)
        .map(|i| {
            (
                Action::HsmInventory,
                format!("t{i}"),
                Outcome::Success,
                None,
                serde_json::json!({}),
            )
        })
        .collect();
    a.record_batch(&batch).unwrap();
    let out = dir.path().join("out.csv");
    let mut calls = 0;
    let r = export(
        a.store(),
        &Default::default(),
        Format::Csv,
        None,
        &out,
        false,
        &mut |done, total| {
            calls += 1;
            assert_eq!(total, 2500);
            done < 1000
        },
    );
    assert!(matches!(r, Err(ExportError::Cancelled)), "{r:?}");
    assert!(calls >= 1);
    assert!(!out.exists());
    assert!(!tdekey::audit::export::manifest_path(&out).exists());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".tdekey-")),
        "{names:?}"
    );
}

/// The sealed container moved to `secret::sealed`; its format did not change: an export that
/// an earlier tdekey wrote (tests/fixtures, passphrase below) still decrypts, byte for byte.
#[test]
fn an_export_sealed_by_an_earlier_tdekey_still_decrypts() {
    let env = Env::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let pass = env.dir.path().join("pass");
    std::fs::write(&pass, "fixture passphrase 2026\n").unwrap();
    let out = env.dir.path().join("old.jsonl");
    let mut c = env.tdekey();
    c.args([
        "audit",
        "decrypt",
        "--in",
        fixtures.join("export-v1.jsonl.enc").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    let (code, stdout, err) = run(c);
    assert_eq!(code, 0, "{stdout}{err}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(fixtures.join("export-v1.first.jsonl")).unwrap()
    );
}
