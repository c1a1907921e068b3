//! Exports, encryption, and faults: read-only storage and processes killed mid-write.

mod common;

use common::{Env, contains, run};
use sha2::{Digest, Sha256};
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

    // One flipped byte, then a cut tail: refused, nothing written.
    for (name, mutate) in [
        (
            "flipped",
            Box::new(|b: &mut Vec<u8>| {
                let i = b.len() - 20;
                b[i] ^= 1;
            }) as Box<dyn Fn(&mut Vec<u8>)>,
        ),
        (
            "truncated",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 5)),
        ),
        ("header", Box::new(|b: &mut Vec<u8>| b[30] ^= 1)),
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
        assert!(
            err.contains("was modified or truncated") || err.contains("passphrase is wrong"),
            "{name}: {err}"
        );
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
        err.contains("the directory /nonexistent-dir does not exist"),
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

/// Runs `args` as the unprivileged user `nobody` when this test runs as root (file permissions
/// do not bind root), else as the current user.
fn as_unprivileged(env: &Env, args: &[&str]) -> (i32, String, String) {
    let is_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut c = if is_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_tdekey"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_tdekey"))
    };
    c.arg("--data-dir")
        .arg(env.data.root())
        .args(args)
        .env("SOFTHSM2_CONF", &env.conf);
    run(c)
}

#[test]
fn a_read_only_database_stops_actions_before_they_happen() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let (code, _, err) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0, "{err}");
    // Everyone may read the data directory; nobody but its owner may write it.
    for dir in [env.dir.path(), env.data.root()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in std::fs::read_dir(env.data.root()).unwrap() {
        let f = f.unwrap().path();
        let mode = if f.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    }
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
}

#[test]
fn processes_killed_mid_append_leave_a_chain_that_verifies() {
    let env = Env::new();
    let (code, _, _) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0);
    // Many short-lived appenders, each killed with SIGKILL after a varying delay: some die
    // before writing, some in the middle of a transaction, some after committing.
    let mut killed = 0;
    for i in 0..60u64 {
        let mut c = env.tdekey();
        c.args(["audit", "verify"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 12_000));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
    }
    assert!(killed > 0, "some appenders were killed mid-run");
    let (code, out, err) = tdekey(&env, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain intact"), "{out}");
}

/// A tmpfs of `kib` KiB mounted on a temp dir, unmounted on drop.
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    fn mount(kib: u32) -> Option<Self> {
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        if !is_root {
            eprintln!("NOT RUN: mounting a small file system for the full-disk test needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount a tmpfs as root");
        Some(TinyFs { dir })
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
fn a_full_disk_refuses_the_action_and_loses_nothing() {
    let Some(fs) = TinyFs::mount(512) else {
        return;
    };
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
    assert!(err.contains("full"), "{err}");
    assert!(!out.exists(), "no half-written export");
    let leftovers: Vec<_> = std::fs::read_dir(fs.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tdekey-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files removed");
    fs.free();
    let (code, stdout, err) = tdekey_at(&["audit", "verify"]);
    assert_eq!(code, 0, "the log survived the full disk: {stdout}{err}");
    assert!(stdout.contains("chain intact"), "{stdout}");
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
