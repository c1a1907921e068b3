//! The recoverability report's bad input through the real `tdekey` binary (issue #23): a
//! WALLET_ROOT that does not exist, a backup that does not exist, a wrong wallet password, an
//! unknown profile, and no password or passphrase in any file written, reports included; and a
//! SQL*Plus connection that may not read V$DATABASE_KEY_INFO (a stand-in `sqlplus` answering
//! ORA-00942) makes an incomplete report, exit 1, with the grant to ask for.

mod common;

use common::{Env, demo, run};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};

const PASSPHRASE: &str = "a long backup passphrase 7";
const WRONG_WALLET: &str = "Wrong-Wallet-Pw-42";

fn with_secrets(env: &Env) -> Command {
    let mut c = env.tdekey();
    c.env("TDEKEY_PIN", DEMO_USER_PIN)
        .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
        .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
    c
}

/// Runs `args` with `c`'s environment; fails on a panic, and on a secret in the output.
fn tdekey_with(mut c: Command, args: &[&str]) -> (i32, String, String) {
    c.args(args);
    let (code, out, err) = run(c);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for secret in [
        DEMO_WALLET_PASSWORD,
        PASSPHRASE,
        WRONG_WALLET,
        DEMO_USER_PIN,
    ] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{args:?}: {secret} in the output"
        );
    }
    (code, out, err)
}

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    tdekey_with(with_secrets(env), args)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The lines under "Not read:" in the report's text.
fn not_read(text: &str) -> Vec<String> {
    text.split("\nNot read:\n")
        .nth(1)
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bad_input_is_a_sentence_or_a_line_of_the_report_and_no_secret_is_written() {
    let env = demo();
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");

    // A WALLET_ROOT that does not exist: a line, and the keys found elsewhere (the HSM, the
    // sealed backup the migration recorded).
    let (code, out, err) = tdekey(
        &env,
        &[
            "recoverability",
            DEMO_DATABASE_NAME,
            "--wallet-root",
            "/nonexistent/wallet-root",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let lines = not_read(&out);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("/nonexistent/wallet-root"))
            .collect::<Vec<_>>(),
        [
            "  /nonexistent/wallet-root: there is no such directory here: give the database's WALLET_ROOT, or a copy of it, with --wallet-root DIR"
        ],
        "{out}"
    );
    assert!(
        !out.contains("found in   file keystore"),
        "nothing read from the profile's WALLET_ROOT: {out}"
    );

    // A backup that does not exist: one sentence naming it, nothing printed, exit 1.
    let (code, out, err) = tdekey(
        &env,
        &[
            "recoverability",
            DEMO_DATABASE_NAME,
            "--backup",
            "/nonexistent/backup.tdkb",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tdekey: ") && err.contains("/nonexistent/backup.tdkb"),
        "{err}"
    );
    assert!(err.trim_end().ends_with('.'), "{err}");

    // A wrong wallet password: each wallet a line (a reason, not an error), and the file key
    // missing since nothing opens it.
    let mut c = with_secrets(&env);
    c.env("TDEKEY_WALLET_PASSWORD", WRONG_WALLET);
    let (code, out, err) = tdekey_with(c, &["recoverability", DEMO_DATABASE_NAME]);
    assert_eq!(code, 4, "{out}{err}");
    let lines = not_read(&out);
    let wallet = lines
        .iter()
        .find(|l| l.contains("/tde/ewallet.p12: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(wallet.contains("password is wrong"), "{wallet}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(".tdkb (tde/ewallet.p12): ")),
        "the sealed backup's wallet too: {out}"
    );

    // An unknown profile.
    let (code, out, err) = tdekey(&env, &["recoverability", "NO SUCH DB"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("NO SUCH DB") && err.contains("tdekey db list"),
        "{err}"
    );

    // The reports written, the wallet password from a file this time.
    let secrets = env.dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let pw_file = secrets.join("wallet-pw");
    std::fs::write(&pw_file, format!("{DEMO_WALLET_PASSWORD}\n")).unwrap();
    let html = env.dir.path().join("reports/recoverability.html");
    let json_file = env.dir.path().join("reports/recoverability.json");
    std::fs::create_dir_all(html.parent().unwrap()).unwrap();
    let mut c = with_secrets(&env);
    c.env_remove("TDEKEY_WALLET_PASSWORD");
    let (code, out, err) = tdekey_with(
        c,
        &[
            "recoverability",
            DEMO_DATABASE_NAME,
            "--wallet-password-file",
            pw_file.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--json-file",
            json_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("found in   file keystore"), "{out}");
    let page = std::fs::read_to_string(&html).unwrap();
    let written = json(&std::fs::read_to_string(&json_file).unwrap());
    let keys = written["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{written:#}");
    for k in keys {
        let id = k["id"].as_str().unwrap();
        assert!(page.contains(id), "{id} in the page");
        assert!(!k["places"].as_array().unwrap().is_empty(), "{k:#}");
    }
    // Written again without --force: refused, the files kept.
    let (code, _, err) = tdekey(
        &env,
        &[
            "recoverability",
            DEMO_DATABASE_NAME,
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&html).unwrap(), page);

    let scan = env.assert_no_secrets_written(
        &[DEMO_WALLET_PASSWORD, PASSPHRASE, WRONG_WALLET],
        &[secrets.as_path()],
    );
    for f in ["recoverability.html", "recoverability.json", "ewallet.p12"] {
        assert!(scan.read(f), "{f} was searched");
    }
    assert!(
        scan.files
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "tdkb")),
        "the sealed backup was searched"
    );
}

/// A stand-in `sqlplus` that answers V$ENCRYPTION_KEYS and V$ENCRYPTED_TABLESPACES with the
/// HSM key `id` (34 hex), and ORA-00942 for V$DATABASE_KEY_INFO, as for a session without
/// SELECT_CATALOG_ROLE. Returns its ORACLE_HOME.
fn standin_home(dir: &Path, id: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = dir.join("oracle_home");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    let script = r#"#!/usr/bin/env bash
input="$(cat)"
case "$input" in
  *'FROM V$DATABASE_KEY_INFO'*)
    printf 'SELECT ENCRYPTIONALG, MASTERKEYID, MASTERKEY_ACTIVATED, CON_ID FROM V$DATABASE_KEY_INFO ORDER BY CON_ID\n                                                                         *\nERROR at line 1:\nORA-00942: table or view does not exist\n\n'
    exit 174 ;;
  *'FROM V$ENCRYPTED_TABLESPACES'*)
    printf '"TS#","NAME","ENCRYPTIONALG","ENCRYPTEDTS","MASTERKEYID","KEY_VERSION","STATUS","CON_ID"\n4,"USERS","AES256","YES","@MKID@",1,"NORMAL",0\n\n1 row selected.\n\n' ;;
  *'FROM V$ENCRYPTION_KEYS'*)
    printf '"KEY_ID","TAG","CREATION_TIME","ACTIVATION_TIME","KEYSTORE_TYPE","ORIGIN","BACKED_UP","CON_ID"\n"@ID@",,"24-NOV-26 09.15.02.123456 AM +00:00","24-NOV-26 09.15.02.123456 AM +00:00","HSM","LOCAL","NO",0\n\n1 row selected.\n\n' ;;
  *) printf 'SP2-0734: unknown command beginning "%s..." - rest of line ignored.\n' "${input:0:10}" ;;
esac
exit 0
"#
    .replace("@ID@", id)
    .replace("@MKID@", &id[2..]);
    let path = home.join("bin/sqlplus");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    home
}

#[test]
fn a_view_the_connection_may_not_read_makes_the_report_incomplete_with_the_grant_to_ask() {
    let env = demo();
    let (code, out, err) = tdekey(&env, &["key", "generate", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let id = json(&out)["use_key_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 34, "{id}");
    let home = standin_home(env.dir.path(), &id);
    let (code, out, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "SQ",
            "--connector",
            "sqlplus",
            "--oracle-home",
            home.to_str().unwrap(),
            "--sid",
            "SQ",
            "--hsm-profile",
            DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = tdekey(&env, &["recoverability", "SQ"]);
    assert_eq!(code, 1, "incomplete, nothing missing: {out}{err}");
    let lines = not_read(&out);
    let view = lines
        .iter()
        .find(|l| l.starts_with("  V$DATABASE_KEY_INFO (needed): "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        view.contains("ORA-00942") && view.contains("SELECT_CATALOG_ROLE"),
        "{view}"
    );
    assert!(out.lines().next().unwrap().contains("incomplete"), "{out}");
    // The two views it read are in the report: the key is current, wraps USERS, is on the HSM.
    let (code, out, _) = tdekey(&env, &["recoverability", "SQ", "--json"]);
    assert_eq!(code, 1);
    let v = json(&out);
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{v:#}");
    assert_eq!(keys[0]["forms"]["hsm_key_id"], id.as_str());
    let needs: Vec<&str> = keys[0]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert!(
        needs.contains(&"current")
            && needs.contains(&"tablespace")
            && !needs.contains(&"database-key"),
        "{v:#}"
    );
    assert_eq!(keys[0]["places"][0]["kind"], "hsm", "{v:#}");
    let unread = v["unread"].as_array().unwrap();
    let needed: Vec<&str> = unread
        .iter()
        .filter(|u| u["needed"] == true)
        .map(|u| u["source"].as_str().unwrap())
        .collect();
    assert_eq!(needed, ["V$DATABASE_KEY_INFO"], "{v:#}");
    let audit = json(&{
        let (code, out, err) = tdekey(
            &env,
            &[
                "audit",
                "list",
                "--action",
                "recoverability.report",
                "--json",
            ],
        );
        assert_eq!(code, 0, "{err}");
        out
    });
    let details: Vec<Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json(e["details"].as_str().unwrap_or("{}")))
        .filter(|d| d.get("complete").is_some())
        .collect();
    assert_eq!(details[0]["complete"], false, "{details:?}");
    assert_eq!(details[0]["exit_code"], 1, "{details:?}");
    assert!(
        details[0]["unread"]
            .to_string()
            .contains("V$DATABASE_KEY_INFO"),
        "{details:?}"
    );
}

#[test]
fn a_wrong_wallet_password_still_reads_the_auto_login_wallet_beside_it() {
    let env = demo();
    let (code, out, err) = tdekey(
        &env,
        &[
            "migrate",
            "run",
            DEMO_DATABASE_NAME,
            "--yes",
            "--auto-login",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let mut c = with_secrets(&env);
    c.env("TDEKEY_WALLET_PASSWORD", WRONG_WALLET);
    let (code, out, err) = tdekey_with(c, &["recoverability", DEMO_DATABASE_NAME, "--json"]);
    assert_eq!(code, 0, "the file key is in cwallet.sso: {out}{err}");
    let v = json(&out);
    let sso: Vec<&Value> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["places"].as_array().unwrap().iter().any(|p| {
                p["kind"] == "current-wallet"
                    && p["path"].as_str().unwrap().ends_with("/tde/cwallet.sso")
            })
        })
        .collect();
    assert_eq!(sso.len(), 1, "{v:#}");
    // The password was wrong all the same, and the report says so.
    let ewallet = v["unread"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["source"].as_str().unwrap().ends_with("/tde/ewallet.p12"))
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        ewallet["why"]
            .as_str()
            .unwrap()
            .contains("password is wrong"),
        "{ewallet}"
    );
}
