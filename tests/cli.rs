//! The `tdekey` command line, run as a user runs it.

mod common;

use common::{Env, contains, run};
use tdekey::hsm::KeyTemplate;
use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER_PIN};

#[test]
fn demo_token_is_created_once_and_listed_as_json() {
    let env = Env::new();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Created the demo token"), "{out}");
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0);
    assert!(out.contains("exists already"), "{out}");

    // The default profile made by demo-token supplies module, token and user.
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "keys", "--json"])
            .env("TDEKEY_PIN", DEMO_USER_PIN);
        c
    });
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["token"]["label"], DEMO_TOKEN_LABEL);
    assert_eq!(v["summary"]["objects"], 4);
    assert_eq!(v["summary"]["master_keys"], 2);
    assert_eq!(v["summary"]["critical"], 1);
    let objects = v["objects"].as_array().unwrap();
    let flagged: Vec<_> = objects
        .iter()
        .filter(|o| !o["health"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["health"][0]["code"], "extractable");
    assert_eq!(flagged[0]["flags"]["extractable"], true);
    assert_eq!(flagged[0]["kind"], "tde-master-key");
    for key in [
        "handle",
        "class",
        "key_type",
        "label",
        "id_hex",
        "value_len",
        "flags",
        "kind",
        "meaning",
        "master_key_id",
        "health",
    ] {
        assert!(objects[0].get(key).is_some(), "every object has {key}");
    }
}

#[test]
fn keys_with_a_pin_file_and_explicit_target_and_secrets_stay_off_disk() {
    let env = Env::new();
    let secret_pin = "Zq7-unique-user-pin-4417";
    let wrong_pin = "Wx9-unique-wrong-pin-8830";
    {
        let hsm = env.token("ops", secret_pin);
        hsm.generate_aes_key(
            "ORACLE.TDE.HSM.MK.0611111111111111111111111111111111",
            KeyTemplate::ORACLE_MASTER_KEY,
        )
        .unwrap();
    }
    let pin_file = env.dir.path().join("pin.txt");
    std::fs::write(&pin_file, format!("{secret_pin}\n")).unwrap();
    let module = env.module.display().to_string();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args([
            "hsm",
            "keys",
            "--module",
            &module,
            "--token",
            "ops",
            "--user",
            "cu_ops",
            "--pin-format",
            "plain",
            "--pin-file",
        ])
        .arg(&pin_file);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ORACLE.TDE.HSM.MK.0611111111111111111111111111111111"),
        "{out}"
    );
    assert!(out.contains("1 objects, 1 TDE master keys"), "{out}");

    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args([
            "hsm",
            "keys",
            "--module",
            &module,
            "--token",
            "ops",
            "--pin-format",
            "plain",
        ])
        .env("TDEKEY_PIN", wrong_pin);
        c
    });
    assert_eq!(code, 1);
    assert!(
        err.contains("The PIN was rejected (CKR_PIN_INCORRECT)"),
        "{err}"
    );
    assert!(!err.contains(wrong_pin));

    // Every file under the test's directory but the PIN file the test wrote itself.
    let scan = env.assert_no_secrets_written(&[secret_pin, wrong_pin], &[&pin_file]);
    assert!(scan.read("tdekey.sqlite3"), "{:?}", scan.files);
    // The search finds what is there: the PIN file it was told to leave out holds the PIN.
    let with_input = env.scan_written(&[]);
    assert!(contains(&with_input.bytes, secret_pin));

    // Both attempts are in the audit log, and the chain verifies.
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "verify"]);
        c
    });
    assert_eq!(code, 0);
    assert!(out.contains("chain intact"), "{out}");
}

#[test]
fn bad_input_exits_non_zero_with_a_sentence() {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", "/nonexistent/libpkcs11.so"]);
        c
    });
    assert_eq!(code, 1);
    assert!(
        err.contains("No file at /nonexistent/libpkcs11.so"),
        "{err}"
    );

    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info"]);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("No PKCS#11 module"), "{err}");

    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module"])
            .arg(&env.module)
            .args(["--json"]);
        c
    });
    assert_eq!(code, 0, "{err}");

    // No password source and no terminal: a clear refusal, not a hang.
    let (code, _, err) = run({
        let mut c = std::process::Command::new("setsid");
        c.arg("-w")
            .arg(env!("CARGO_BIN_EXE_tdekey"))
            .arg("--data-dir")
            .arg(env.data.root())
            .args(["hsm", "keys", "--module"])
            .arg(&env.module)
            .env("SOFTHSM2_CONF", &env.conf)
            .env_remove("TDEKEY_PIN")
            .stdin(std::process::Stdio::null());
        c
    });
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("No password"), "{err}");
}

#[test]
fn a_corrupt_database_is_reported_and_left_untouched() {
    let env = Env::new();
    let db = env.data.database();
    let junk = b"SQLite format 3\0 but then garbage follows...".repeat(100);
    std::fs::write(&db, &junk).unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module"]).arg(&env.module);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("is not a tdekey database"), "{err}");
    assert!(
        err.contains(&db.display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), junk, "the file was changed");
}

#[test]
fn audit_verify_names_the_first_tampered_entry() {
    let env = Env::new();
    for _ in 0..3 {
        let (code, _, err) = run({
            let mut c = env.tdekey();
            c.args(["hsm", "info", "--module"]).arg(&env.module);
            c
        });
        assert_eq!(code, 0, "{err}");
    }
    let conn = rusqlite::Connection::open(env.data.database()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET target = 'forged' WHERE seq = 2;",
    )
    .unwrap();
    drop(conn);
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "verify"]);
        c
    });
    assert_eq!(code, 1);
    assert!(
        out.contains("Chain broken at seq 2: hash mismatch"),
        "{out}"
    );
}

#[test]
fn oracle_parse_reads_pasted_output_from_a_file_or_stdin() {
    let env = Env::new();
    let wrapped = "SQL> SELECT * FROM V$ENCRYPTION_WALLET;\n\nWRL_TYPE\n--------------------\nWRL_PARAMETER\n--------------------------------------------------------------------------------\nSTATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC\n------------------------------ -------------------- --------- -------- ---------\n    CON_ID\n----------\nHSM\n\nOPEN                           HSM                  PRIMARY   NONE     UNDEFINED\n         0\n\nFILE\n/u01/app/oracle/admin/ORCL/wallet/tde/\nOPEN                           PASSWORD             SECONDARY NONE     NO\n         0\n\n2 rows selected.\n";
    let f = env.dir.path().join("wallet.txt");
    std::fs::write(&f, wrapped).unwrap();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["oracle", "parse", "wallet"]).arg(&f);
        c
    });
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(
        v[0]["WALLET_ORDER"], "PRIMARY",
        "the cut header WALLET_OR is named in full"
    );
    assert_eq!(v[0]["WRL_PARAMETER"], "", "empty cells are empty strings");
    assert_eq!(v[1]["FULLY_BACKED_UP"], "NO");

    let mut c = env.tdekey();
    c.args(["oracle", "parse", "sqlnet"]);
    let (code, out, _) =
        common::run_with_stdin(c, b"ENCRYPTION_WALLET_LOCATION=(SOURCE=(METHOD=HSM))\n");
    assert!(code == 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["method"], "HSM");

    let junk = env.dir.path().join("junk.txt");
    std::fs::write(&junk, "nothing to see").unwrap();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["oracle", "parse", "keys"]).arg(&junk);
        c
    });
    assert_eq!(code, 1);
    assert!(
        err.contains(&junk.display().to_string()),
        "names the input: {err}"
    );
    assert!(err.contains("No query result"), "{err}");
}

#[test]
fn wallet_inspect_lists_entries_and_never_values_or_the_password() {
    let env = Env::new();
    let root = env.dir.path().join("wallet_root");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets/synthetic-tde-pbes2-aes256.p12");
    std::fs::copy(&fixture, root.join("tde/ewallet.p12")).unwrap();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--json", "--wallet-root"])
            .arg(&root)
            .env("TDEKEY_WALLET_PASSWORD", "Test123Wallet");
        c
    });
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = v["wallet"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "master-key" && e["current"] == true)
    );
    assert!(contains(
        out.as_bytes(),
        "ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY"
    ));
    assert!(
        !contains(&env.all_bytes_except_tokens(), "Test123Wallet"),
        "the password reached a file"
    );

    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "inspect", "--wallet-root"])
            .arg(&root)
            .env("TDEKEY_WALLET_PASSWORD", "wrong");
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("password is wrong"), "{err}");
    let (_, out, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "wallet.inspect"]);
        c
    });
    assert_eq!(
        out.lines().count(),
        2,
        "both inspections are audited: {out}"
    );
}

#[test]
fn database_profiles_are_saved_listed_and_removed_with_audit_entries() {
    let env = Env::new();
    let t = |args: &[&str]| {
        let mut c = env.tdekey();
        c.args(args);
        run(c)
    };
    let (code, _, err) = t(&[
        "db",
        "add",
        "ORCL",
        "--connector",
        "sqlplus",
        "--oracle-home",
        "/u01/app/oracle/product/19.0.0/dbhome_1",
        "--sid",
        "ORCL",
        "--wallet-root",
        "/u01/app/oracle/admin/ORCL/wallet",
        "--multitenant",
        "cdb-united",
        "--rac",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = t(&[
        "db",
        "add",
        "bad",
        "--connector",
        "manual",
        "--hsm-profile",
        "missing",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no HSM connection profile is named \"missing\""),
        "{err}"
    );
    let (code, out, _) = t(&["db", "show", "ORCL", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["connector"], "sqlplus");
    assert_eq!(v["multitenant"], "cdb-united");
    assert_eq!(v["rac"], true);
    assert_eq!(v["auth"]["kind"], "os");
    let (code, _, _) = t(&["db", "remove", "ORCL"]);
    assert_eq!(code, 0);
    let (_, out, _) = t(&["db", "list", "--json"]);
    assert_eq!(out.trim(), "[]");
    let (_, out, _) = t(&["audit", "list", "--action", "database.change", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let outcomes: Vec<&str> = entries
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "success", "started", "failure", "started", "success", "started"
        ],
        "newest first"
    );
}

#[test]
fn reading_the_audit_log_is_itself_recorded() {
    let env = Env::new();
    let list = || {
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "audit.read", "--json"]);
        run(c)
    };
    let (code, out, err) = list();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "[]",
        "the first listing does not show its own entry"
    );
    let (_, out, _) = list();
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(v.len(), 1, "the first listing was recorded");
    assert_eq!(
        v[0]["details"]
            .as_str()
            .map(|d| d.contains("\"via\":\"cli\"")),
        Some(true)
    );
}

/// A command-line session ends as the window's does: logout and disconnect are recorded,
/// after the inventory, and a failed login still records the disconnect.
#[test]
fn hsm_keys_records_the_whole_session_like_the_window() {
    let env = Env::new();
    let demo = |args: &[&str], pin: &str| {
        run({
            let mut c = env.tdekey();
            c.args(args).env("TDEKEY_PIN", pin);
            c
        })
    };
    assert_eq!(demo(&["hsm", "demo-token"], "").0, 0);
    let seq_before = |env: &Env| {
        let (_, out, _) = run({
            let mut c = env.tdekey();
            c.args(["audit", "list", "--json", "--limit", "1"]);
            c
        });
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["seq"].as_i64().unwrap()
    };
    let session = |env: &Env, after: i64| -> Vec<(String, String)> {
        let (_, out, _) = run({
            let mut c = env.tdekey();
            c.args([
                "audit", "list", "--json", "--action", "hsm.", "--limit", "100",
            ]);
            c
        });
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut rows: Vec<(i64, String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["seq"].as_i64().unwrap() > after)
            .map(|r| {
                (
                    r["seq"].as_i64().unwrap(),
                    r["action"].as_str().unwrap().to_owned(),
                    r["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, a, o)| (a, o)).collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, o)| ((*a).to_owned(), (*o).to_owned()))
            .collect()
    };

    let before = seq_before(&env);
    let (code, _, err) = demo(&["hsm", "keys"], DEMO_USER_PIN);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        session(&env, before),
        pairs(&[
            ("hsm.connect", "success"),
            ("hsm.login", "success"),
            ("hsm.inventory", "success"),
            ("hsm.logout", "success"),
            ("hsm.disconnect", "success"),
        ])
    );

    let before = seq_before(&env);
    let (code, _, err) = demo(&["hsm", "keys"], "not-the-pin");
    assert_eq!(code, 1);
    assert!(err.contains("CKR_PIN_INCORRECT"), "{err}");
    assert_eq!(
        session(&env, before),
        pairs(&[
            ("hsm.connect", "success"),
            ("hsm.login", "failure"),
            ("hsm.disconnect", "success"),
        ])
    );
}

#[test]
fn a_wallet_backup_is_sealed_checked_and_restored_only_when_asked() {
    let env = Env::new();
    let root = env.dir.path().join("wallet_root");
    std::fs::create_dir_all(root.join("tde")).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wallets/synthetic-tde-pbes2-aes256.p12");
    let ewallet = root.join("tde/ewallet.p12");
    std::fs::copy(&fixture, &ewallet).unwrap();
    let older = root.join("tde/ewallet_2026112912000000_before.p12");
    std::fs::write(&older, b"an older wallet").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ewallet, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let original = std::fs::read(&ewallet).unwrap();
    let out = env.dir.path().join("safe/w.tdkb");
    let pass = "correct horse battery staple";

    let (code, stdout, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "backup", "--wallet-root"])
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .env("TDEKEY_BACKUP_PASSPHRASE", pass);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("2 files, sealed"), "{stdout}");
    let sealed = std::fs::read(&out).unwrap();
    assert!(
        !contains(&sealed, "ORACLE.SECURITY"),
        "the backup is sealed"
    );

    // The same --out again is refused: a backup is never overwritten.
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "backup", "--wallet-root"])
            .arg(&root)
            .arg("--out")
            .arg(&out)
            .env("TDEKEY_BACKUP_PASSPHRASE", pass);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("does not overwrite"), "{err}");

    // Checked with the wrong passphrase: a sentence, exit 1.
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "check-backup"])
            .arg(&out)
            .env("TDEKEY_BACKUP_PASSPHRASE", "not the passphrase at all");
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("cannot be opened"), "{err}");

    // The wallet changes; the check says so, and restore refuses without --force.
    std::fs::write(&ewallet, b"a wallet that changed since").unwrap();
    let (code, stdout, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "check-backup"])
            .arg(&out)
            .env("TDEKEY_BACKUP_PASSPHRASE", pass);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("on disk: DIFFERENT"), "{stdout}");
    assert!(stdout.contains("on disk: the same"), "{stdout}");
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "restore"])
            .arg(&out)
            .arg("--wallet-root")
            .arg(&root)
            .env("TDEKEY_BACKUP_PASSPHRASE", pass);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(
        std::fs::read(&ewallet).unwrap(),
        b"a wallet that changed since"
    );

    let (code, stdout, err) = run({
        let mut c = env.tdekey();
        c.args(["wallet", "restore", "--force"])
            .arg(&out)
            .arg("--wallet-root")
            .arg(&root)
            .env("TDEKEY_BACKUP_PASSPHRASE", pass);
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("Restored 1 of 2 files"), "{stdout}");
    assert_eq!(std::fs::read(&ewallet).unwrap(), original);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ewallet).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (_, listed, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "wallet.restore"]);
        c
    });
    assert_eq!(
        listed.lines().count(),
        4,
        "the refused and the done restore are audited (started, then the outcome): {listed}"
    );
    let (_, listed, _) = run({
        let mut c = env.tdekey();
        c.args(["audit", "list", "--action", "wallet.backup_check"]);
        c
    });
    assert!(
        listed.contains("failure") && listed.contains("success"),
        "both checks are audited: {listed}"
    );
    assert!(
        !contains(&env.all_bytes_except_tokens(), pass),
        "the passphrase reached a file"
    );
}

/// A CloudHSM-format login (`user:password` sent to `C_Login`), a wrong one, an audit
/// checkpoint computed in the HSM with that login and verified there, and an export: neither
/// `cu_user:S3cretPassw0rd` nor its password alone is in any file written (the database, its
/// WAL, the export and its manifest), and the checkpoint's HMAC key cannot be read out at all.
#[test]
fn a_cloudhsm_pin_and_the_audit_checkpoint_leave_no_secret_on_disk() {
    const PIN: &str = "cu_user:S3cretPassw0rd";
    const WRONG: &str = "cu_user:Wr0ngPassw0rd-77";
    let env = Env::new();
    // SoftHSM2 takes the joined string as its PIN, as CloudHSM takes user:password.
    env.token("cloud-like", PIN).close().unwrap();
    let module = env.module.display().to_string();
    let target = ["--module", &module, "--token", "cloud-like"];
    let login = ["--user", "cu_user", "--pin-format", "cloudhsm"];
    let tdekey = |args: &[&str], password: &str| {
        run({
            let mut c = env.tdekey();
            c.args(args)
                .args(target)
                .args(login)
                .env("TDEKEY_PIN", password);
            c
        })
    };
    let (code, out, err) = tdekey(&["hsm", "keys"], "S3cretPassw0rd");
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = tdekey(&["hsm", "keys"], "Wr0ngPassw0rd-77");
    assert_eq!(code, 1);
    assert!(err.contains("CKR_PIN_INCORRECT"), "{err}");
    assert!(!err.contains("Wr0ngPassw0rd-77"), "{err}");
    let (code, out, err) = tdekey(&["audit", "checkpoint"], "S3cretPassw0rd");
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = tdekey(&["audit", "verify", "--hsm"], "S3cretPassw0rd");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("chain intact"), "{out}");
    let export = env.dir.path().join("export.jsonl");
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["audit", "export", "--format", "jsonl", "--out"])
            .arg(&export);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        std::fs::read_to_string(&export)
            .unwrap()
            .contains("audit.checkpoint"),
        "the export holds the checkpoint"
    );

    let scan = env.assert_no_secrets_written(&[PIN, WRONG], &[]);
    for f in [
        "tdekey.sqlite3",
        "export.jsonl",
        "export.jsonl.manifest.json",
    ] {
        assert!(scan.read(f), "{f} was searched: {:?}", scan.files);
    }
    // The checkpoint key is the HSM's: sensitive and never extractable, so no value to write.
    let hsm = {
        let mut h = tdekey::hsm::Hsm::load(&env.module).unwrap();
        h.open(&tdekey::model::TokenSelector::Label("cloud-like".into()))
            .unwrap();
        h.login(
            "cu_user",
            &tdekey::secret::Secret::from("S3cretPassw0rd"),
            tdekey::model::PinFormat::CloudHsm,
        )
        .unwrap();
        h
    };
    let objects = hsm.inventory(&mut |_, _| {}).unwrap();
    let key = objects
        .iter()
        .find(|o| o.label == tdekey::tde::labels::AUDIT_HMAC_LABEL)
        .expect("the checkpoint made its HMAC key");
    assert_eq!(key.flags.sensitive, Some(true));
    assert_eq!(key.flags.extractable, Some(false));
    hsm.close().unwrap();
}

/// Reading the log is recorded before it is shown: when the `audit.read` entry cannot be
/// written, `audit list` prints no entry and says why.
#[test]
fn the_log_is_not_listed_when_its_reading_cannot_be_recorded() {
    let env = Env::new();
    let module = env.module.display().to_string();
    // Something to list: a connect and its disconnect.
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", &module]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let listed = |json: bool| {
        run({
            let mut c = env.tdekey();
            c.args(["audit", "list"]);
            if json {
                c.arg("--json");
            }
            c
        })
    };
    // Before: the entries are there.
    let (code, out, err) = listed(false);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hsm.connect"), "{out}");

    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute_batch(
        "CREATE TRIGGER test_refuses_reads BEFORE INSERT ON audit_log
         WHEN new.action = 'audit.read'
         BEGIN SELECT RAISE(ABORT, 'this test refuses audit.read entries'); END;",
    )
    .unwrap();
    drop(c);
    for json in [false, true] {
        let (code, out, err) = listed(json);
        assert_eq!(code, 1, "json {json}: {out}{err}");
        assert!(out.trim().is_empty(), "nothing is shown: {out}");
        assert!(
            !err.contains("hsm.connect") && !err.contains("hsm.disconnect"),
            "{err}"
        );
        assert!(
            err.contains("audit log") || err.contains("recorded"),
            "the message says the reading could not be recorded: {err}"
        );
        assert!(err.contains("this test refuses audit.read"), "{err}");
    }
}

/// With SOFTHSM2_CONF unset, tdekey points SoftHSM2 at the data directory's configuration
/// (where `hsm demo-token` puts the demo token); with SOFTHSM2_CONF set, it uses that one and
/// the demo token is not visible.
#[test]
fn without_softhsm2_conf_tdekey_uses_the_data_directorys_configuration() {
    let env = Env::new();
    let module = env.module.display().to_string();
    let unset = |args: &[&str]| {
        run({
            let mut c = env.tdekey();
            c.args(args).env_remove("SOFTHSM2_CONF");
            c
        })
    };
    let (code, out, err) = unset(&["hsm", "demo-token"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(env.data.softhsm_conf().is_file());
    let (code, out, err) = unset(&["hsm", "info", "--module", &module, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    // (label, serial) of every token listed.
    let tokens = |out: &str| -> Vec<(String, String)> {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let t = &s["token"];
                Some((
                    t["label"].as_str()?.to_owned(),
                    t["serial"].as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let labels = |out: &str| -> Vec<String> { tokens(out).into_iter().map(|t| t.0).collect() };
    // The same token as through the data directory's configuration named explicitly.
    let (code, explicit, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", &module, "--json"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let demo = tokens(&explicit)
        .into_iter()
        .find(|t| t.0 == DEMO_TOKEN_LABEL)
        .expect("the demo token, through SOFTHSM2_CONF");
    assert!(
        tokens(&out).contains(&demo),
        "the demo token is found through the data directory's configuration: {out}"
    );
    // The user's own configuration wins, and it has no demo token.
    let other = env.dir.path().join("other-softhsm");
    std::fs::create_dir_all(other.join("tokens")).unwrap();
    let conf = other.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            other.join("tokens").display()
        ),
    )
    .unwrap();
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "info", "--module", &module, "--json"])
            .env("SOFTHSM2_CONF", &conf);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !labels(&out).iter().any(|l| l == DEMO_TOKEN_LABEL),
        "SOFTHSM2_CONF set by the user is used: {out}"
    );
}
