//! The recoverability report through the real `tdekey` binary on the SoftHSM2 demo token and
//! real Rehearsal databases (issue #23, plan §8): after a migration and a rotation each way
//! every key Oracle's views name is found; an old HSM key deleted behind tdekey's back
//! (pkcs11-tool) is missing with exit 4; a wallet moved away is found again in tdekey's
//! sealed backup given with its passphrase; a united CDB reports each container's key; a
//! READ ONLY tablespace still wrapped by the file key blocks retiring the file keystore until
//! a sealed backup holds it (tests/recoverability_retire.rs, through the library). Bad input and
//! a SQL*Plus connection that may not read a view are in tests/recoverability_input.rs.

mod common;

use common::{Env, demo, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};
use tdekey::tde::labels::{MasterKeyId, master_key_of, parse_masterkeyid};

const PASSPHRASE: &str = "a long backup passphrase 7";

/// `tdekey` with the demo PIN, the demo wallet's password and the backups' passphrase.
fn with_secrets(env: &Env) -> Command {
    env.tdekey_with_secrets(PASSPHRASE)
}

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = with_secrets(env);
        c.args(args);
        c
    })
}

fn ok(env: &Env, args: &[&str]) -> String {
    let (code, out, err) = tdekey(env, args);
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `recoverability NAME --json` with `c`'s environment: (exit code, the report, stderr).
fn report_with(mut c: Command, name: &str, extra: &[&str]) -> (i32, Value, String) {
    c.args(["recoverability", name, "--json"]).args(extra);
    let (code, out, err) = run(c);
    assert!(!err.contains("panicked"), "{err}");
    (code, json(&out), err)
}

fn report(env: &Env, name: &str) -> (i32, Value) {
    let (code, v, _) = report_with(with_secrets(env), name, &[]);
    (code, v)
}

/// The report's key whose 34-hex id is `id`.
fn key<'a>(v: &'a Value, id: &MasterKeyId) -> &'a Value {
    let want = id.forms().hsm_key_id;
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["forms"]["hsm_key_id"] == want.as_str())
        .unwrap_or_else(|| panic!("{want} is not a key of the report: {v:#}"))
}

/// The report's keys with a need that `need` accepts.
fn keys_needed_by(v: &Value, need: impl Fn(&Value) -> bool) -> Vec<&Value> {
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["needs"].as_array().unwrap().iter().any(&need))
        .collect()
}

fn kinds(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect()
}

/// A column of `db query NAME WHAT --json`, each value read as a master key id.
fn view_ids(env: &Env, name: &str, what: &str, column: &str) -> Vec<MasterKeyId> {
    let v = json(&ok(env, &["db", "query", name, what, "--json"]));
    v["reply"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {v}"))
        .iter()
        .map(|r| {
            let text = r[column].as_str().unwrap();
            master_key_of(text)
                .or_else(|| parse_masterkeyid(text).ok().flatten())
                .unwrap_or_else(|| panic!("{what}.{column} {text:?} is no key id"))
        })
        .collect()
}

/// The `recoverability.report` entries' details, newest first (the entry that carries them).
fn report_audits(env: &Env) -> Vec<Value> {
    let v = json(&ok(
        env,
        &[
            "audit",
            "list",
            "--action",
            "recoverability.report",
            "--json",
        ],
    ));
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| json(e["details"].as_str().unwrap_or("{}")))
        .filter(|d| d.get("missing").is_some())
        .collect()
}

/// The audit entries of `action`, newest first.
fn audits(env: &Env, action: &str) -> Vec<Value> {
    json(&ok(env, &["audit", "list", "--action", action, "--json"]))
        .as_array()
        .unwrap()
        .clone()
}

/// `migrate status NAME --json` after a finished migration: the file wallet's key before it,
/// the key it made, the sealed backup it recorded.
fn migrated(env: &Env, name: &str) -> (MasterKeyId, MasterKeyId, PathBuf) {
    let s = common::migration_status(env, name);
    assert!(s["finished_ms"].is_number(), "{s}");
    let before = s["keys_before"].as_array().unwrap();
    assert_eq!(before.len(), 1, "{s}");
    let id = |v: &Value| master_key_of(v.as_str().unwrap()).unwrap();
    (
        id(&before[0]),
        id(&s["new_key"]),
        PathBuf::from(s["backup"]["file"].as_str().unwrap()),
    )
}

/// The latest activation of V$ENCRYPTION_KEYS (the current key of a non-CDB).
fn current(env: &Env, name: &str) -> MasterKeyId {
    let v = json(&ok(env, &["db", "query", name, "keys", "--json"]));
    let rows = v["reply"]["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .map(|r| tdekey::tde::views::KeyRow::from_row(&as_row(r)).unwrap())
        .max_by_key(|k| k.activated_ms)
        .unwrap();
    master_key_of(&row.key_id).unwrap()
}

fn as_row(r: &Value) -> tdekey::tde::output::Row {
    tdekey::tde::output::Row(
        r.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect(),
    )
}

/// The directory of the file keystore the report read (WALLET_ROOT/tde on the simulated host).
fn keystore_dir(v: &Value, id: &MasterKeyId) -> PathBuf {
    let k = key(v, id);
    let p = k["places"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "current-wallet")
        .unwrap_or_else(|| panic!("{k:#}"));
    Path::new(p["path"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf()
}

fn migrate(env: &Env, name: &str) {
    let out = ok(env, &["migrate", "run", name, "--yes"]);
    assert!(out.contains("is finished"), "{out}");
}

#[test]
fn after_a_migration_and_rotations_each_way_every_key_is_found() {
    let env = demo();
    migrate(&env, DEMO_DATABASE_NAME);
    for way in ["oracle", "hsm"] {
        ok(
            &env,
            &["rotate", DEMO_DATABASE_NAME, "--way", way, "--json"],
        );
    }
    let (code, v) = report(&env, DEMO_DATABASE_NAME);
    assert_eq!(code, 0, "{v:#}");
    // The file key, the migration's, one per rotation.
    assert_eq!(v["keys"].as_array().unwrap().len(), 4, "{v:#}");
    let mut seen = Vec::new();
    for (what, column) in [
        ("keys", "KEY_ID"),
        ("database-key", "MASTERKEYID"),
        ("tablespaces", "MASTERKEYID"),
    ] {
        let ids = view_ids(&env, DEMO_DATABASE_NAME, what, column);
        assert!(!ids.is_empty(), "{what}");
        for id in ids {
            let k = key(&v, &id);
            assert!(!k["places"].as_array().unwrap().is_empty(), "{what}: {k:#}");
            seen.push(id);
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "V$ENCRYPTION_KEYS has every key");
    // USERS is wrapped by the current key, which the report says is current and on the token.
    let now = current(&env, DEMO_DATABASE_NAME);
    assert_eq!(
        view_ids(&env, DEMO_DATABASE_NAME, "tablespaces", "MASTERKEYID"),
        vec![now]
    );
    let k = key(&v, &now);
    let needs = kinds(&k["needs"]);
    for n in ["current", "database-key", "tablespace", "history"] {
        assert!(needs.contains(&n), "{n}: {k:#}");
    }
    let users = k["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "tablespace")
        .unwrap();
    assert_eq!(users["name"], "USERS");
    assert_eq!(kinds(&k["places"]), ["hsm"]);
    assert_eq!(k["places"][0]["label"], now.hsm_label().as_str());
    assert_eq!(k["places"][0]["health"], serde_json::json!([]));
    // The pre-migration key: in ewallet.p12, in Oracle's backup the migration made, in the
    // sealed backup the migration recorded.
    let (before, made, sealed) = migrated(&env, DEMO_DATABASE_NAME);
    assert!(!seen.is_empty() && seen.contains(&made) && seen.contains(&before));
    let k = key(&v, &before);
    let places = k["places"].as_array().unwrap();
    let path = |kind: &str| -> Vec<String> {
        places
            .iter()
            .filter(|p| p["kind"] == kind)
            .map(|p| {
                p["path"]
                    .as_str()
                    .or(p["file"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert!(
        path("current-wallet")
            .iter()
            .any(|p| p.ends_with("/tde/ewallet.p12")),
        "{k:#}"
    );
    assert!(
        path("oracle-backup")
            .iter()
            .any(|p| p.contains("/tde/ewallet_") && p.ends_with("_tdekey_pre_hsm.p12")),
        "{k:#}"
    );
    assert_eq!(
        path("sealed-backup"),
        [sealed.display().to_string()],
        "{k:#}"
    );
    assert!(!kinds(&k["places"]).contains(&"hsm"), "{k:#}");
    // Recorded: 0 missing, every key counted, in the entry whose seq the report gives.
    let entry = &audits(&env, "recoverability.report")[0];
    assert_eq!(entry["seq"], v["audit_seq"], "{entry}");
    assert_eq!(entry["outcome"], "success", "{entry}");
    let audit = &report_audits(&env)[0];
    assert_eq!(&json(entry["details"].as_str().unwrap()), audit, "{entry}");
    assert_eq!(audit["missing"], 0, "{audit}");
    assert_eq!(audit["keys"], 4, "{audit}");
    assert_eq!(audit["found"], 4, "{audit}");
    assert_eq!(audit["exit_code"], 0, "{audit}");
    assert_eq!(audit["complete"], true, "{audit}");
    // Three lookups per key known to be on the HSM, never a listing of the token.
    assert_eq!(v["hsm_calls"], audit["hsm_calls"]);
    common::audit_intact(&env);
}

#[test]
fn a_retired_hsm_key_deleted_behind_tdekeys_back_is_missing_with_exit_4() {
    let env = demo();
    migrate(&env, DEMO_DATABASE_NAME);
    ok(
        &env,
        &["rotate", DEMO_DATABASE_NAME, "--way", "hsm", "--json"],
    );
    let (_, old, _) = migrated(&env, DEMO_DATABASE_NAME);
    assert_ne!(current(&env, DEMO_DATABASE_NAME), old);
    let (code, v) = report(&env, DEMO_DATABASE_NAME);
    assert_eq!(code, 0, "found while it is on the token: {v:#}");
    // Someone deletes the retired key with pkcs11-tool (opensc, make test installs it).
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&env.module)
        .args(["--token-label", DEMO_TOKEN_LABEL, "--login", "--pin"])
        .arg(DEMO_USER_PIN)
        .args(["--delete-object", "--type", "secrkey", "--label"])
        .arg(old.hsm_label())
        .env("SOFTHSM2_CONF", &env.conf)
        .output()
        .expect("pkcs11-tool runs (the opensc package; make test installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !common::demo_master_keys(&env)
            .iter()
            .any(|(l, _, _)| *l == old.hsm_label()),
        "pkcs11-tool deleted it"
    );
    // The text names the id, what depends on it, and that it was found nowhere.
    let (code, text, err) = tdekey(&env, &["recoverability", DEMO_DATABASE_NAME]);
    assert_eq!(code, 4, "{text}{err}");
    let id = old.forms().hsm_key_id;
    let first = text.lines().next().unwrap();
    assert!(
        first.contains("1 MISSING") && first.contains(&id),
        "{first}"
    );
    assert!(
        first.ends_with(
            "(an older wallet or backup: tdekey recoverability \"Rehearsal demo\" --backup FILE) before anything else is retired."
        ),
        "{first}"
    );
    let block: String = text
        .split("\n\n")
        .find(|b| b.starts_with("MISSING "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    assert!(block.contains(&id), "{block}");
    assert!(block.contains("V$ENCRYPTION_KEYS"), "{block}");
    assert!(block.contains("the key before rotation #1"), "{block}");
    assert!(block.contains("NOWHERE"), "{block}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("MISSING ")).count(),
        1,
        "{text}"
    );
    // The JSON: the key with its needs and no place; the others still found.
    let (code, v) = report(&env, DEMO_DATABASE_NAME);
    assert_eq!(code, 4);
    let k = key(&v, &old);
    assert_eq!(k["places"], serde_json::json!([]), "{k:#}");
    let needs = kinds(&k["needs"]);
    assert!(
        needs.contains(&"history") && needs.contains(&"recorded"),
        "{k:#}"
    );
    assert!(!needs.contains(&"current"), "{k:#}");
    for other in v["keys"].as_array().unwrap() {
        if other["forms"]["hsm_key_id"] != id.as_str() {
            assert!(!other["places"].as_array().unwrap().is_empty(), "{other:#}");
        }
    }
    let audit = &report_audits(&env)[0];
    assert_eq!(audit["missing"], 1, "{audit}");
    assert_eq!(audit["missing_ids"], serde_json::json!([id]), "{audit}");
    assert_eq!(audit["exit_code"], 4, "{audit}");
    common::audit_intact(&env);
}

/// Moves every file of `dir` whose name starts with `prefix` into `aside`.
fn move_aside(dir: &Path, prefix: &str, aside: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(aside).unwrap();
    let mut moved = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with(prefix) {
            let to = aside.join(&name);
            std::fs::rename(&p, &to).unwrap();
            moved.push(to);
        }
    }
    moved
}

#[test]
fn a_wallet_backup_with_its_passphrase_finds_the_pre_migration_key_again() {
    let env = demo();
    migrate(&env, DEMO_DATABASE_NAME);
    let (before, _, sealed) = migrated(&env, DEMO_DATABASE_NAME);
    let (code, v) = report(&env, DEMO_DATABASE_NAME);
    assert_eq!(code, 0, "{v:#}");
    // Out of the way: ewallet.p12, Oracle's ewallet_*.p12 backups, cwallet.sso if any, and the
    // sealed backup the migration recorded.
    let dir = keystore_dir(&v, &before);
    let aside = env.dir.path().join("aside");
    let wallets = move_aside(&dir, "ewallet", &aside.join("tde"));
    assert!(wallets.len() >= 2, "ewallet.p12 and a backup: {wallets:?}");
    move_aside(&dir, "cwallet", &aside.join("tde"));
    let moved = aside.join(sealed.file_name().unwrap());
    std::fs::rename(&sealed, &moved).unwrap();

    let (code, v) = report(&env, DEMO_DATABASE_NAME);
    assert_eq!(code, 4, "{v:#}");
    assert_eq!(key(&v, &before)["places"], serde_json::json!([]), "{v:#}");
    let unread = v["unread"].to_string();
    assert!(
        unread.contains(&sealed.display().to_string()) && unread.contains("not there any more"),
        "{unread}"
    );
    assert_eq!(
        report_audits(&env)[0]["missing_ids"],
        serde_json::json!([before.software_key_id()])
    );

    // The moved backup given back, with its passphrase: found there, and only there.
    let backup = moved.display().to_string();
    let checks = audits(&env, "wallet.backup_check").len();
    let (code, text, err) = tdekey(
        &env,
        &["recoverability", DEMO_DATABASE_NAME, "--backup", &backup],
    );
    assert_eq!(code, 0, "{text}{err}");
    assert!(
        text.contains(&format!(
            "found in   tdekey's wallet backup {backup} (tde/ewallet.p12)"
        )),
        "{text}"
    );
    let (code, v, _) = report_with(
        with_secrets(&env),
        DEMO_DATABASE_NAME,
        &["--backup", &backup],
    );
    assert_eq!(code, 0, "{v:#}");
    let k = key(&v, &before);
    assert!(
        k["places"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["kind"] == "sealed-backup" && p["file"] == backup.as_str()),
        "{k:#}"
    );
    assert!(!k["places"].as_array().unwrap().is_empty(), "{k:#}");
    // Audited: the backup opened (twice, one per run), then the report.
    let opened = audits(&env, "wallet.backup_check");
    assert!(opened.len() > checks, "{opened:#?}");
    assert!(
        opened
            .iter()
            .any(|e| e["target"] == backup.as_str() && e["outcome"] == "success"),
        "{opened:#?}"
    );
    let audit = &report_audits(&env)[0];
    assert_eq!(audit["missing"], 0, "{audit}");
    assert!(
        opened[0]["seq"].as_i64() < Some(audit_seq(&env)),
        "the backup is opened before the report is recorded"
    );

    // A wrong passphrase: a line that names the file, still missing, no panic, no secret.
    let wrong = "not the passphrase at all 9";
    let mut c = with_secrets(&env);
    c.env("TDEKEY_BACKUP_PASSPHRASE", wrong).args([
        "recoverability",
        DEMO_DATABASE_NAME,
        "--backup",
        &backup,
    ]);
    let (code, text, err) = run(c);
    assert_eq!(code, 4, "{text}{err}");
    assert!(!err.contains("panicked"), "{err}");
    let not_read = text
        .split("\nNot read:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        not_read
            .lines()
            .any(|l| l.starts_with(&format!("  {backup}: "))),
        "{not_read}"
    );
    for secret in [wrong, PASSPHRASE, DEMO_WALLET_PASSWORD] {
        assert!(!text.contains(secret) && !err.contains(secret), "{secret}");
    }
    assert!(
        audits(&env, "wallet.backup_check")
            .iter()
            .any(|e| e["target"] == backup.as_str() && e["outcome"] == "failure"),
        "the failed opening is audited"
    );
    env.assert_no_secrets_written(&[wrong, PASSPHRASE, DEMO_WALLET_PASSWORD], &[]);
    common::audit_intact(&env);
}

/// The seq of the newest `recoverability.report` entry.
fn audit_seq(env: &Env) -> i64 {
    audits(env, "recoverability.report")[0]["seq"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_united_cdb_with_per_pdb_keys_reports_each_container() {
    let env = demo();
    ok(
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
    migrate(&env, "CDB1");
    let (code, v) = report(&env, "CDB1");
    assert_eq!(code, 0, "{v:#}");
    // Each container's current key, from the report's needs.
    let current_of = |con: u64| -> &Value {
        let found = keys_needed_by(&v, |n| n["kind"] == "current" && n["con_id"] == con);
        assert_eq!(found.len(), 1, "one current key in CON_ID {con}: {v:#}");
        found[0]
    };
    let root = current_of(1);
    let pdb = current_of(3);
    assert_ne!(root["forms"]["hsm_key_id"], pdb["forms"]["hsm_key_id"]);
    // PDB1's USERS depends on PDB1's key, and only on it.
    let users = keys_needed_by(&v, |n| n["kind"] == "tablespace" && n["name"] == "USERS");
    assert_eq!(users.len(), 1, "{v:#}");
    assert_eq!(users[0]["forms"], pdb["forms"]);
    let need = pdb["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "tablespace")
        .unwrap();
    assert_eq!(need["con_id"], 3);
    assert!(
        need["container"].as_str().unwrap().contains("PDB1"),
        "{need}"
    );
    // The root has nothing encrypted: its key wraps its database key, no tablespace.
    let root_needs = kinds(&root["needs"]);
    assert!(!root_needs.contains(&"tablespace"), "{root:#}");
    assert!(root_needs.contains(&"database-key"), "{root:#}");
    for k in [root, pdb] {
        assert_eq!(kinds(&k["places"]), ["hsm"], "{k:#}");
    }
    // Every key found: both containers' keys before the migration too (in the wallet).
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "{v:#}");
    for k in keys {
        assert!(!k["places"].as_array().unwrap().is_empty(), "{k:#}");
    }
    let history: Vec<u64> = keys
        .iter()
        .flat_map(|k| k["needs"].as_array().unwrap())
        .filter(|n| n["kind"] == "history")
        .map(|n| n["con_id"].as_u64().unwrap())
        .collect();
    assert_eq!(history.iter().filter(|c| **c == 1).count(), 2, "{v:#}");
    assert_eq!(history.iter().filter(|c| **c == 3).count(), 2, "{v:#}");
}
