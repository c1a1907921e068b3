//! Hostile files and input, through the real `tdekey` binary: output targets that are links,
//! FIFOs or devices; files that exist; crafted wallet backups; oversized or odd pastes and host
//! outputs; names that would break a line or a profile; oversized secrets; a migration report
//! over a tampered log. Each asserts the sentence and that nothing was written or changed.

mod common;

use common::{Env, demo, run, run_with_stdin};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args);
        c
    })
}

fn audit_export(env: &Env, out: &Path, force: bool) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(["audit", "export", "--format", "csv", "--out"])
            .arg(out);
        if force {
            c.arg("--force");
        }
        c
    })
}

/// Every entry under `dir` (recursively), sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            out.extend(tree(&p));
        }
    }
    out.sort();
    out
}

#[test]
fn out_never_follows_a_link_nor_replaces_a_device_a_fifo_or_a_file() {
    let env = Env::new();
    let d = env.dir.path().join("outs");
    std::fs::create_dir(&d).unwrap();
    let victim = d.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let link = d.join("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let dangling = d.join("dangling.csv");
    std::os::unix::fs::symlink(d.join("created-through-the-link"), &dangling).unwrap();
    let fifo = d.join("fifo.csv");
    mkfifo(&fifo);
    let before = tree(&d);

    for force in [false, true] {
        for (target, want) in [
            (&link, "is a symbolic link"),
            (&dangling, "is a symbolic link"),
            (&fifo, "is a FIFO (named pipe), not a regular file"),
            (
                &PathBuf::from("/dev/full"),
                "is a character device, not a regular file",
            ),
        ] {
            let (code, _, err) = audit_export(&env, target, force);
            assert_eq!(code, 1, "{}: {err}", target.display());
            assert!(err.contains(want), "{}: {err}", target.display());
        }
    }
    assert_eq!(tree(&d), before, "nothing written, nothing left behind");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(
        std::fs::symlink_metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/full is still the device"
    );

    // An existing regular file: refused without --force, replaced with it.
    let out = d.join("log.csv");
    let (code, _, err) = audit_export(&env, &out, false);
    assert_eq!(code, 0, "{err}");
    let first = std::fs::read(&out).unwrap();
    std::fs::write(&out, b"mine").unwrap();
    let (code, _, err) = audit_export(&env, &out, false);
    assert_eq!(code, 1);
    assert!(
        err.contains("exists already and was left as it was. Pass --force to replace it"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
    let (code, _, err) = audit_export(&env, &out, true);
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read(&out).unwrap(), b"mine");
    assert!(std::fs::read(&out).unwrap().len() >= first.len());

    // Each refusal is in the audit log, as a failed export.
    let (_, listed, _) = tdekey(
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
    assert!(listed.lines().count() >= 9, "{listed}");

    // A decrypted export and a wallet backup go through the same checks.
    let (code, _, err) = run_with_stdin(
        {
            let mut c = env.tdekey();
            c.args(["audit", "decrypt", "--in"])
                .arg(&out)
                .arg("--out")
                .arg(&link)
                .env("TDEKEY_EXPORT_PASSPHRASE", "a passphrase long enough");
            c
        },
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("is a symbolic link"), "{err}");
    let root = env.dir.path().join("wallet");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    std::fs::write(root.join("tde/ewallet.p12"), b"p12").unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "backup", "--unencrypted", "--wallet-root"])
            .arg(&root)
            .arg("--out")
            .arg(&dangling);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("is a symbolic link"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!d.join("created-through-the-link").exists());
}

/// A plain (unsealed) backup whose file list says what a crafted one could say.
fn crafted_backup(path: &Path, entries: &[(serde_json::Value, &[u8])]) {
    use sha2::Digest;
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|(v, bytes)| {
            let mut v = v.clone();
            v["size"] = bytes.len().into();
            v["sha256"] = hex::encode(sha2::Sha256::digest(bytes)).into();
            v
        })
        .collect();
    let mut raw = b"TDEKEY-WALLET-BACKUP-v1\n".to_vec();
    raw.extend_from_slice(serde_json::to_string(&list).unwrap().as_bytes());
    raw.push(b'\n');
    for (_, b) in entries {
        raw.extend_from_slice(b);
    }
    std::fs::write(path, raw).unwrap();
}

#[test]
fn a_crafted_wallet_backup_writes_nothing_anywhere() {
    let env = Env::new();
    let top = env.dir.path().join("restore");
    let root = top.join("wallet");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    let outside = top.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
    let good = serde_json::json!({ "path": "/x", "name": "tde/ewallet.p12", "mode": 0o600 });
    let backup = env.dir.path().join("crafted.tdkb");
    let cases = [
        (
            serde_json::json!({ "path": "/x", "name": outside.join("evil").display().to_string(), "mode": 0o600 }),
            "is an absolute path",
        ),
        (
            serde_json::json!({ "path": "/x", "name": "tde/../../outside/evil", "mode": 0o600 }),
            "climbs out of the WALLET_ROOT",
        ),
        (
            serde_json::json!({ "path": "/x", "name": "tde/evil", "mode": 0o4755 }),
            "has mode 4755; a restored file may have only 0600, 0640 or 0644",
        ),
        (
            serde_json::json!({ "path": "/x", "name": "escape/evil", "mode": 0o600 }),
            "is a symbolic link",
        ),
        (
            serde_json::json!({ "path": outside.join("evil").display().to_string(), "mode": 0o600 }),
            "is an absolute path outside the WALLET_ROOT given",
        ),
    ];
    let before = tree(&top);
    for (bad, want) in cases {
        // The good entry comes first: it is not written either.
        crafted_backup(&backup, &[(good.clone(), b"good"), (bad, b"evil")]);
        let (code, out, err) = run({
            let mut c = env.tdekey();
            c.args(["wallet", "restore", "--force"])
                .arg(&backup)
                .arg("--wallet-root")
                .arg(&root);
            c
        });
        assert_eq!(code, 1, "{want}: {out}");
        assert!(
            err.contains(want) && err.contains("nothing was restored"),
            "{want}: {err}"
        );
        assert_eq!(tree(&top), before, "{want}: something was written");
    }
    // The same backup without the bad entry restores under the root, with its mode.
    crafted_backup(&backup, &[(good, b"good")]);
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "restore"])
            .arg(&backup)
            .arg("--wallet-root")
            .arg(&root);
        c
    });
    assert_eq!(code, 0, "{err}");
    let p12 = root.join("tde/ewallet.p12");
    assert_eq!(std::fs::read(&p12).unwrap(), b"good");
    assert_eq!(
        std::fs::metadata(&p12).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    let (_, listed, _) = tdekey(
        &env,
        &[
            "audit",
            "list",
            "--action",
            "wallet.restore",
            "--outcome",
            "failure",
        ],
    );
    assert_eq!(listed.lines().count(), 5, "each refusal audited: {listed}");
}

#[test]
fn pastes_and_host_outputs_are_bounded_and_fifos_are_not_read() {
    let env = Env::new();
    let d = env.dir.path();
    const KEYS: &str = "KEY_ID,TAG\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,t1\n";
    // A leading byte-order mark is accepted: the same JSON as without it.
    let plain = d.join("keys.csv");
    std::fs::write(&plain, KEYS).unwrap();
    let bom = d.join("keys-bom.csv");
    std::fs::write(&bom, format!("\u{feff}{KEYS}")).unwrap();
    let (c1, j1, e1) = tdekey(&env, &["oracle", "parse", "keys", plain.to_str().unwrap()]);
    let (c2, j2, e2) = tdekey(&env, &["oracle", "parse", "keys", bom.to_str().unwrap()]);
    assert_eq!((c1, c2), (0, 0), "{e1}{e2}");
    assert_eq!(j1, j2);

    // A FIFO is refused without being opened (the command would wait for ever), and a device.
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let (code, _, err) = tdekey(&env, &["oracle", "parse", "keys", fifo.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is a FIFO (named pipe), not a regular file"),
        "{err}"
    );
    let (code, _, err) = tdekey(&env, &["oracle", "parse", "keys", "/dev/zero"]);
    assert_eq!(code, 1);
    assert!(err.contains("is a device"), "{err}");

    // Over 1 MiB, from a file or standard input: a sentence, exit 1.
    let big = d.join("big.csv");
    let mut text = KEYS.as_bytes().to_vec();
    text.resize((1 << 20) + 1, b'\n');
    std::fs::write(&big, &text).unwrap();
    let (code, _, err) = tdekey(&env, &["oracle", "parse", "keys", big.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("larger than 1 MiB"), "{err}");
    let (code, _, err) = run_with_stdin(
        {
            let mut c = env.tdekey();
            c.args(["oracle", "parse", "keys"]);
            c
        },
        &text,
    );
    assert_eq!(code, 1);
    assert!(err.contains("Standard input is larger than 1 MiB"), "{err}");
}

#[test]
fn a_refused_manual_paste_exits_non_zero() {
    let env = Env::new();
    let (code, _, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "PASTE",
            "--connector",
            "manual",
            "--wallet-root",
            "/u01/w",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let query = || {
        let mut c = env.tdekey();
        c.args(["db", "query", "PASTE", "keys"]);
        c
    };
    // Too large: refused, exit non-zero.
    let mut big = b"KEY_ID,TAG\n".to_vec();
    big.resize((1 << 20) + 10, b' ');
    let (code, _, err) = run_with_stdin(query(), &big);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("larger than 1 MiB"), "{err}");
    // Not an answer: refused, exit non-zero.
    let (code, _, err) = run_with_stdin(query(), b"hello\n");
    assert_ne!(code, 0, "{err}");
    // Rows a real 19c printed, with a byte-order mark in front: read as without it.
    let rows = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/oracle/keys/12.1-software-keys-3-rows-backed-up-tabs.txt"),
    )
    .unwrap();
    let (code, plain, err) = run_with_stdin(query(), &rows);
    assert_eq!(code, 0, "{err}");
    let mut with_bom = "\u{feff}".as_bytes().to_vec();
    with_bom.extend_from_slice(&rows);
    let (code, out, err) = run_with_stdin(query(), &with_bom);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, plain);
}

#[test]
fn names_are_refused_before_anything_is_saved_and_audit_lines_cannot_be_forged() {
    let env = Env::new();
    let long = "N".repeat(300);
    for (name, want) in [
        (
            long.as_str(),
            "The database name has 300 characters; at most 64 are allowed.",
        ),
        (
            "PROD\nFORGED",
            "holds a control or invisible character (U+000A) at position 5",
        ),
        ("   ", "The database name is empty."),
    ] {
        let (code, _, err) = tdekey(
            &env,
            &[
                "db",
                "add",
                name,
                "--connector",
                "manual",
                "--wallet-root",
                "/u01/w",
            ],
        );
        assert_eq!(code, 1, "{name:?}");
        assert!(err.contains(want), "{name:?}: {err}");
        assert!(
            !err.contains("\nFORGED"),
            "the sentence escapes the name: {err}"
        );
    }
    let (code, listed, _) = tdekey(&env, &["db", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(listed.trim(), "[]", "nothing was saved");
    let (code, _, err) = tdekey(
        &env,
        &[
            "hsm",
            "profile",
            "add",
            &"P".repeat(65),
            "--module",
            "/x.so",
            "--user",
            "cu",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("The HSM profile name has 65 characters"),
        "{err}"
    );
    let (_, listed, _) = tdekey(&env, &["hsm", "profile", "list", "--json"]);
    assert!(!listed.contains("PPPP"), "{listed}");

    // Trimmed, and kept apart from its look-alike.
    let (code, _, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "  A B  ",
            "--connector",
            "manual",
            "--wallet-root",
            "/u01/w",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, listed, _) = tdekey(&env, &["db", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(v[0]["name"], "A B");

    // A newline in an audited target (here a file name) prints escaped, on one line.
    let forged = env
        .dir
        .path()
        .join("x\n   99  2026-01-01 root success hsm.login forged");
    // A damaged plain backup: opened (and audited), then refused.
    std::fs::write(&forged, b"TDEKEY-WALLET-BACKUP-v1\nnot a list\n").unwrap();
    let (code, _, _) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "check-backup"]).arg(&forged);
        c
    });
    assert_eq!(code, 1);
    let (_, listed, _) = tdekey(&env, &["audit", "list", "--action", "wallet.backup_check"]);
    assert_eq!(
        listed.lines().count(),
        2,
        "started and failed, one line each: {listed}"
    );
    assert!(listed.contains("x\\n   99  2026-01-01"), "{listed}");
    assert!(
        !listed.lines().any(|l| l.trim_start().starts_with("99")),
        "{listed}"
    );
}

#[test]
fn a_secret_over_256_bytes_is_refused_never_shortened() {
    let env = Env::new();
    let out = env.dir.path().join("enc.csv");
    let long = "s".repeat(257);
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "export", "--format", "csv", "--encrypt", "--out"])
            .arg(&out)
            .env("TDEKEY_EXPORT_PASSPHRASE", &long);
        c
    });
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "is 257 bytes long; tdekey takes at most 256 bytes and never shortens a secret"
        ),
        "{err}"
    );
    assert!(!err.contains("sss"), "{err}");
    assert!(!out.exists());
    let file = env.dir.path().join("pass");
    std::fs::write(&file, format!("{long}\n")).unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "export", "--format", "csv", "--encrypt", "--out"])
            .arg(&out)
            .arg("--passphrase-file")
            .arg(&file);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("its first line is 257 bytes"), "{err}");
    assert!(!out.exists());
    // 256 bytes exactly: taken whole.
    std::fs::write(&file, format!("{}\n", "s".repeat(256))).unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "export", "--format", "csv", "--encrypt", "--out"])
            .arg(&out)
            .arg("--passphrase-file")
            .arg(&file);
        c
    });
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "decrypt", "--in"])
            .arg(&out)
            .arg("--out")
            .arg(env.dir.path().join("plain.csv"))
            .env("TDEKEY_EXPORT_PASSPHRASE", "s".repeat(256));
        c
    });
    assert_eq!(code, 0, "the whole 256 bytes were the passphrase: {err}");
}

#[test]
fn the_migration_report_verifies_the_chain_and_the_new_key() {
    use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};
    let env = demo();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "run", DEMO_DATABASE_NAME, "--yes"])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long backup passphrase 7");
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    let report = |name: &str| {
        let f = env.dir.path().join(name);
        let r = run({
            let mut c = env.tdekey();
            c.args([
                "migrate",
                "report",
                DEMO_DATABASE_NAME,
                "--format",
                "json",
                "--out",
            ])
            .arg(&f);
            c
        });
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        (r, v)
    };
    let ((code, out, err), v) = report("ok.json");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("The audit log's chain was verified"), "{out}");
    assert_eq!(v["audit_chain"]["intact"], true);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0);

    // The migration's record names another key than the audit log: a warning, exit 1.
    let db = env.data.database();
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE migrations SET state = json_set(state, '$.new_key', 'ORACLE.TDE.HSM.MK.06FORGED')",
        [],
    )
    .unwrap();
    let ((code, _, err), v) = report("mismatch.json");
    assert_eq!(code, 1);
    assert!(err.contains("names ORACLE.TDE.HSM.MK.06FORGED as the new master key, but the audit log has no key.owner entry"), "{err}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1, "{v}");

    // A changed audit entry: the chain is broken, the report says so, exit 1.
    c.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = '{}' WHERE seq = 3;",
    )
    .unwrap();
    let ((code, _, err), v) = report("broken.json");
    assert_eq!(code, 1);
    assert!(
        err.contains("the audit log's chain is broken at seq 3"),
        "{err}"
    );
    assert_eq!(v["audit_chain"]["intact"], false);
    let html = env.dir.path().join("broken.html");
    let (code, _, _) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "report", DEMO_DATABASE_NAME, "--out"])
            .arg(&html);
        c
    });
    assert_eq!(code, 1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("WARNING: the audit log's chain is broken at seq 3"),
        "{page}"
    );
}

#[test]
fn unattended_rotation_reads_credentials_only_from_a_private_directory_of_regular_files() {
    use tdekey::hsm::demo::DEMO_USER_PIN;
    use tdekey::rotation::{local_date, local_zone};
    let env = demo();
    common::rehearsal_on_hsm(&env, &["OPS"]);
    let due = local_date(tdekey::model::now_ms() - 2 * 86_400_000, &local_zone());
    let (code, _, err) = tdekey(
        &env,
        &["policy", "set", "OPS", "--every", "1y", "--next-due", &due],
    );
    assert_eq!(code, 0, "{err}");
    let creds = env.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    let pin = creds.join("hsm-pin");
    std::fs::write(&pin, format!("{DEMO_USER_PIN}\n")).unwrap();
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
    let rotate = || {
        run({
            let mut c = env.tdekey();
            c.args(["rotate", "--due", "--credentials"])
                .arg(&creds)
                .env_remove("CREDENTIALS_DIRECTORY");
            c
        })
    };
    let runs = || {
        let (code, out, err) = tdekey(&env, &["policy", "show", "OPS", "--json"]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["runs"].as_array().map_or(0, Vec::len)
    };

    // The directory others can enter: refused, named.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out, err) = rotate();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!(
            "The credentials directory {} can be reached by its group or others (mode 0755)",
            creds.display()
        )),
        "{out}{err}"
    );
    assert_eq!(runs(), 0, "nothing was attempted");

    // A private directory whose hsm-pin is a link to a private file elsewhere: refused, named.
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o700)).unwrap();
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::rename(&pin, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &pin).unwrap();
    let (code, out, err) = rotate();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!(
            "The credential {} is a symbolic link",
            pin.display()
        )),
        "{out}{err}"
    );
    assert!(!format!("{out}{err}").contains(DEMO_USER_PIN));
    assert_eq!(runs(), 0, "nothing was attempted");

    // The file itself, in the private directory: the rotation runs.
    std::fs::remove_file(&pin).unwrap();
    std::fs::rename(&elsewhere, &pin).unwrap();
    let (code, out, err) = rotate();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(runs(), 1);
}

/// A profile saved by an older version with a newline in its name (names are checked before
/// saving now, so the store is written directly here): `policy list` prints it escaped, on one
/// line, so it cannot forge a line of the listing.
#[test]
fn rotation_listings_escape_a_legacy_name() {
    let env = Env::new();
    let store = tdekey::store::Store::open(&env.data.database()).unwrap();
    store
        .save_database(&common::manual_profile("LEGACY\nFORGED: OK", "/u01/w"))
        .unwrap();
    drop(store);
    let (code, out, err) = tdekey(&env, &["policy", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("LEGACY\\nFORGED: OK"), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("FORGED")),
        "no forged line: {out}"
    );
}
