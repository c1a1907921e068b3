//! The Rehearsal as Oracle really is (issue 18), end to end through the real `tdekey` binary on
//! a SoftHSM2 token: a migration with HSM auto-login then a rotation each way shows HSM keys in
//! V$ENCRYPTION_KEYS as Oracle's 34 hex digits `06…`, writes 98-character key-metadata labels,
//! sends no `tde_seps` statement for auto-login and no CONTAINER clause with MIGRATE, and every
//! step and check passes; in a united CDB too; and a SYSKM profile is told at step 1, before
//! anything changes, which steps it could not run and what they need.

mod common;

use common::{Env, demo, run};
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};
use tdekey::tde::labels::{KEY_METADATA_PREFIX, MASTER_KEY_PREFIX, parse_key_id};

const PASSPHRASE: &str = "a long backup passphrase 7";

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE);
        c
    })
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Every statement the migration sent (secrets hidden), from its status.
fn sent_statements(env: &Env, db: &str) -> Vec<String> {
    let v = common::migration_status(env, db);
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["sent"].as_array().cloned().unwrap_or_default())
        .map(|x| x["statement"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// V$ENCRYPTION_KEYS through the profile's connector.
fn key_rows(env: &Env, db: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = tdekey(env, &["db", "query", db, "keys", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    json(&out)["reply"]["rows"].as_array().unwrap().clone()
}

/// The token's labels through `hsm keys --json`.
fn token_labels(env: &Env) -> Vec<String> {
    let (code, out, err) = tdekey(env, &["hsm", "keys", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    json(&out)["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// HSM rows show `06<32 hex>`, software rows 52 characters of base64 starting with `A`; each
/// HSM key's label is on the token with its 98-character metadata object.
fn assert_key_forms(rows: &[serde_json::Value], labels: &[String]) -> usize {
    let mut hsm = 0;
    for r in rows {
        let id = r["KEY_ID"].as_str().unwrap();
        match r["KEYSTORE_TYPE"].as_str().unwrap() {
            "HSM" => {
                hsm += 1;
                assert_eq!(id.len(), 34, "{id}");
                assert!(id.starts_with("06"), "{id}");
                assert!(
                    id.bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
                    "{id}"
                );
                assert!(labels.contains(&format!("{MASTER_KEY_PREFIX}{id}")), "{id}");
                let km = format!("{KEY_METADATA_PREFIX}{}", hex::encode_upper(id));
                assert_eq!(km.len(), 98);
                assert!(labels.contains(&km), "{km} for {id}");
            }
            "SOFTWARE KEYSTORE" => {
                assert_eq!(id.len(), 52, "{id}");
                assert!(id.starts_with('A'), "{id}");
                assert_eq!(parse_key_id(id).unwrap().0, 0x01);
            }
            other => panic!("KEYSTORE_TYPE {other}"),
        }
    }
    // No key-metadata object of another length (the old 134-character form).
    for l in labels.iter().filter(|l| l.starts_with(KEY_METADATA_PREFIX)) {
        assert_eq!(l.len(), 98, "{l}");
    }
    hsm
}

#[test]
fn auto_login_migration_then_rotation_each_way_is_what_oracle_shows() {
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
    assert!(out.contains("is finished"), "{out}");
    let v = common::migration_status(&env, DEMO_DATABASE_NAME);
    for s in v["steps"].as_array().unwrap() {
        assert!(
            matches!(s["status"].as_str(), Some("done" | "skipped")),
            "{s}"
        );
        for c in s["checks"].as_array().cloned().unwrap_or_default() {
            assert_eq!(c["ok"], true, "{c}");
        }
    }
    assert_eq!(common::step_status(&v, "auto-login"), "done");

    let sent = sent_statements(&env, DEMO_DATABASE_NAME);
    let migrate: Vec<&String> = sent
        .iter()
        .filter(|s| s.contains(" MIGRATE USING "))
        .collect();
    assert_eq!(migrate.len(), 1, "{sent:?}");
    assert!(!migrate[0].contains("CONTAINER"), "{}", migrate[0]);
    assert!(
        !sent.iter().any(|s| s.contains("tde_seps")),
        "auto-login never goes through tde_seps: {sent:?}"
    );
    // The AWS procedure's sequence, in order.
    let pos = |needle: &str| {
        sent.iter()
            .position(|s| s.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not sent: {sent:?}"))
    };
    let add = pos("FOR CLIENT 'HSM_PASSWORD'");
    assert!(sent[add].contains("IDENTIFIED BY \"<hidden>\" WITH BACKUP"));
    let close = pos("SET KEYSTORE CLOSE IDENTIFIED BY");
    let create = pos("CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE");
    assert!(add < close && close < create, "{sent:?}");

    let rows = key_rows(&env, DEMO_DATABASE_NAME);
    assert_eq!(assert_key_forms(&rows, &token_labels(&env)), 1, "{rows:?}");
    // The migration ran AS SYSDBA: Oracle names SYS as the keys' CREATOR.
    assert!(rows.iter().all(|r| r["CREATOR"] == "SYS"), "{rows:?}");

    // Rotation needs ADMINISTER KEY MANAGEMENT and the encryption views only: AS SYSKM.
    let (code, out, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            DEMO_DATABASE_NAME,
            "--connector",
            "rehearsal",
            "--connect-as",
            "syskm",
            "--wallet-root",
            tdekey::hsm::demo::DEMO_WALLET_ROOT,
            "--hsm-profile",
            DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    for way in ["hsm", "oracle"] {
        let (code, out, err) = tdekey(
            &env,
            &["rotate", DEMO_DATABASE_NAME, "--way", way, "--json"],
        );
        assert_eq!(code, 0, "{way}: {out}{err}");
        let r = json(&out);
        assert_eq!(r["outcome"], "success", "{way}: {out}");
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["ok"] == true),
            "{way}: {out}"
        );
    }
    let rows = key_rows(&env, DEMO_DATABASE_NAME);
    assert_eq!(assert_key_forms(&rows, &token_labels(&env)), 3, "{rows:?}");
    // Keys set AS SYSKM name SYSKM; the key made on the HSM and only activated by USE KEY is
    // not one Oracle made (ORIGIN).
    let creators: Vec<&str> = rows
        .iter()
        .filter(|r| r["KEYSTORE_TYPE"] == "HSM")
        .map(|r| r["CREATOR"].as_str().unwrap())
        .collect();
    assert_eq!(creators, ["SYS", "SYSKM", "SYSKM"], "{rows:?}");
    let origins: Vec<&str> = rows
        .iter()
        .filter(|r| r["KEYSTORE_TYPE"] == "HSM")
        .map(|r| r["ORIGIN"].as_str().unwrap())
        .collect();
    assert_eq!(
        origins,
        ["LOCAL", "UNKNOWN BUT KEY METADATA CREATED LOCALLY", "LOCAL"],
        "{rows:?}"
    );
    common::audit_intact(&env);
    // The HSM password went into the simulated keystore's secret and the wallet password into
    // three statements: neither is in any file tdekey wrote.
    let bytes = env.all_bytes_except_tokens();
    for secret in [DEMO_USER_PIN, DEMO_WALLET_PASSWORD, PASSPHRASE] {
        assert!(
            !common::contains(&bytes, secret),
            "{secret} written to disk"
        );
    }
}

#[test]
fn a_united_cdb_migrates_with_auto_login_every_container_on_the_hsm() {
    let env = demo();
    let (code, out, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "CDB1",
            "--connector",
            "rehearsal",
            "--multitenant",
            "cdb-united",
            "--with-file-wallet",
            "--wallet-root",
            "/u01/app/oracle/admin/CDB1/wallet",
            "--hsm-profile",
            DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = tdekey(&env, &["migrate", "run", "CDB1", "--yes", "--auto-login"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");
    let sent = sent_statements(&env, "CDB1");
    let migrate = sent.iter().find(|s| s.contains(" MIGRATE USING ")).unwrap();
    assert!(!migrate.contains("CONTAINER"), "{migrate}");
    // Open and close take CONTAINER = ALL in a CDB.
    assert!(
        sent.iter().any(
            |s| s.contains("SET KEYSTORE CLOSE IDENTIFIED BY") && s.contains("CONTAINER = ALL")
        ),
        "{sent:?}"
    );
    let rows = key_rows(&env, "CDB1");
    // One HSM key per container (the root and its PDB), each active.
    assert_eq!(assert_key_forms(&rows, &token_labels(&env)), 2, "{rows:?}");
    let cons: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["KEYSTORE_TYPE"] == "HSM")
        .map(|r| r["CON_ID"].as_str().unwrap())
        .collect();
    assert_eq!(cons.len(), 2, "{rows:?}");
}

#[test]
fn a_syskm_profile_is_told_at_step_1_what_it_cannot_run_before_anything_changes() {
    let env = demo();
    let add = |connect_as: &str, seed: bool| {
        let mut args = vec![
            "db",
            "add",
            "KM",
            "--connector",
            "rehearsal",
            "--connect-as",
            connect_as,
            "--wallet-root",
            "/u01/app/oracle/admin/KM/wallet",
            "--hsm-profile",
            DEMO_PROFILE_NAME,
        ];
        if seed {
            // Its simulated database is set up as a DBA would have, AS SYSDBA.
            args.push("--with-file-wallet");
        }
        let (code, out, err) = tdekey(&env, &args);
        assert_eq!(code, 0, "{out}{err}");
    };
    add("syskm", true);
    let (code, out, err) = tdekey(&env, &["migrate", "next", "KM"]);
    assert_eq!(code, 1, "{out}{err}");
    for needle in [
        "The session may run ALTER SYSTEM",
        "connected AS SYSKM",
        "steps 2 (path B), 5 (when WALLET_ROOT must be set) and 7, and rollback steps R1 and R3",
        "connect AS SYSDBA, or GRANT ALTER SYSTEM TO the user",
        "SELECT on V$PARAMETER",
        "Nothing was changed.",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
    let v = common::migration_status(&env, "KM");
    assert_eq!(common::step_status(&v, "choose"), "failed");
    assert!(sent_statements(&env, "KM").is_empty(), "nothing was sent");
    // The session may run ADMINISTER KEY MANAGEMENT: that check passes.
    let checks = v["steps"][0]["checks"].as_array().unwrap().clone();
    let akm = checks
        .iter()
        .find(|c| c["what"] == "The session may run ADMINISTER KEY MANAGEMENT")
        .unwrap();
    assert_eq!(akm["ok"], true, "{akm}");
    // The Rehearsal refuses what a SYSKM session may not run, as Oracle does.
    let (code, out, err) = tdekey(&env, &["db", "query", "KM", "wallet-root", "--json"]);
    assert!(
        out.contains("ORA-01031") || err.contains("ORA-01031"),
        "{code} {out}{err}"
    );

    // AS SYSDBA, the same database passes step 1.
    add("sysdba", false);
    let (code, out, err) = tdekey(&env, &["migrate", "next", "KM"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = common::migration_status(&env, "KM");
    assert_eq!(common::step_status(&v, "choose"), "done", "{out}");
}
