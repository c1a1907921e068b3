//! The recoverability report through the library, on the SoftHSM2 demo token and a real
//! Rehearsal database (issue #23, plan §7–8): a READ ONLY tablespace still wrapped by the file
//! wallet's key after the migration (Oracle does not re-wrap it) makes
//! `Recoverability::before_retiring(FileWallet)` block until a sealed backup also holds the key.

mod common;

use common::{Env, demo, run};
use serde_json::Value;
use std::path::PathBuf;
use tdekey::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN, DEMO_WALLET_PASSWORD,
};
use tdekey::tde::labels::{MasterKeyId, master_key_of};

const PASSPHRASE: &str = "a long backup passphrase 7";

fn tdekey(env: &Env, args: &[&str]) -> String {
    let (code, out, err) = run({
        let mut c = env.tdekey_with_secrets(PASSPHRASE);
        c.args(args);
        c
    });
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The latest activation of V$ENCRYPTION_KEYS, through `db query NAME keys --json`.
fn current(env: &Env) -> MasterKeyId {
    let v = json(&tdekey(
        env,
        &["db", "query", DEMO_DATABASE_NAME, "keys", "--json"],
    ));
    let row = v["reply"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let row = tdekey::tde::output::Row(
                r.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect(),
            );
            tdekey::tde::views::KeyRow::from_row(&row).unwrap()
        })
        .max_by_key(|k| k.activated_ms)
        .unwrap();
    master_key_of(&row.key_id).unwrap()
}

/// The demo's Rehearsal state, with a READ ONLY tablespace wrapped by its file key added as a
/// DBA would make it (the same edit as src/oracle/rehearsal/views/tests.rs, on the file).
fn add_read_only_tablespace(env: &Env) -> MasterKeyId {
    let path = tdekey::oracle::rehearsal::state_path(env.data.root(), DEMO_DATABASE_NAME);
    let mut state = json(&std::fs::read_to_string(&path).unwrap());
    let keys = state["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "the demo's one file key");
    let file_key = keys[0]["key_id"].as_str().unwrap().to_owned();
    let list = state["tablespaces"]
        .as_array_mut()
        .expect("the demo's state lists its tablespaces");
    assert_eq!(list.len(), 1, "USERS: {list:?}");
    list.push(serde_json::json!({
        "con_id": 0,
        "ts": 6,
        "name": "ARCHIVE_2025",
        "algorithm": "AES256",
        "key_id": file_key,
        "key_version": 1,
        "read_only": true,
    }));
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    master_key_of(&file_key).unwrap()
}

/// `tdekey::recover::check` in this process, on the demo token logged in as Oracle's user.
fn check_in_process(env: &Env, passphrase: Option<&str>) -> tdekey::recover::Recoverability {
    use tdekey::model::{PinFormat, TokenSelector};
    use tdekey::secret::Secret;
    let mut a = tdekey::audit::Auditor::open(&env.data).unwrap();
    let mut hsm = tdekey::hsm::Hsm::load(&env.module).unwrap();
    let token = TokenSelector::Label(DEMO_TOKEN_LABEL.into());
    hsm.open(&token).unwrap();
    hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    let report = tdekey::recover::check(
        &mut a,
        DEMO_DATABASE_NAME,
        tdekey::recover::Sources {
            data: &env.data,
            hsm: &mut hsm,
            operator: None,
            db_password: None,
            pin_format: PinFormat::Plain,
            token: Some(token),
            wallet_root: None,
            wallet_password: Some(Secret::from(DEMO_WALLET_PASSWORD)),
            backups: Vec::new(),
            backup_passphrase: passphrase.map(Secret::from),
        },
    )
    .unwrap();
    hsm.close().unwrap();
    report
}

#[test]
fn a_read_only_tablespace_on_the_file_key_blocks_retiring_the_wallet_until_a_sealed_backup_holds_it()
 {
    use tdekey::recover::{Need, Place, Retiring};
    let env = demo();
    let file_key = add_read_only_tablespace(&env);
    let out = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert!(out.contains("is finished"), "{out}");
    let now = current(&env);
    assert_ne!(now, file_key);
    // Without the passphrase the sealed backup the migration made is not read: the file key
    // is only in the keystore directory (ewallet.p12 and Oracle's backup of it).
    let r = check_in_process(&env, None);
    let k = r.keys.iter().find(|k| k.key == file_key).unwrap();
    assert!(
        k.needs.iter().any(|n| matches!(
            n,
            Need::Tablespace { name, encrypted: true, con_id: 0, .. } if name == "ARCHIVE_2025"
        )),
        "{:#?}",
        k.needs
    );
    // USERS was re-wrapped by the migration; the archive was not.
    let users = r.keys.iter().find(|k| k.key == now).unwrap();
    assert!(
        users
            .needs
            .iter()
            .any(|n| matches!(n, Need::Tablespace { name, .. } if name == "USERS"))
    );
    assert!(
        !users
            .needs
            .iter()
            .any(|n| matches!(n, Need::Tablespace { name, .. } if name == "ARCHIVE_2025"))
    );
    let dirs: Vec<PathBuf> = k
        .places
        .iter()
        .map(|p| match p {
            Place::CurrentWallet { path, .. } | Place::OracleBackup { path, .. } => {
                path.parent().unwrap().to_path_buf()
            }
            other => panic!("only the keystore directory holds it: {other:?}"),
        })
        .collect();
    assert!(dirs.len() >= 2, "{:?}", k.places);
    let wallet = Retiring::FileWallet {
        dir: dirs[0].clone(),
    };
    let verdict = r.before_retiring(&wallet);
    assert!(!verdict.safe(), "{}", verdict.sentence);
    assert_eq!(verdict.blocking.len(), 1, "{:?}", verdict.blocking);
    assert_eq!(verdict.blocking[0].key, file_key.software_key_id());
    assert!(
        verdict.blocking[0]
            .needs
            .iter()
            .any(|n| n.contains("tablespace ARCHIVE_2025")),
        "{:?}",
        verdict.blocking
    );
    assert!(
        verdict.sentence.starts_with("Do not retire") && verdict.sentence.contains("ARCHIVE_2025"),
        "{}",
        verdict.sentence
    );
    // Retiring the HSM key that wraps USERS is blocked too: it is the only place of that key.
    assert!(
        !r.before_retiring(&Retiring::HsmKey {
            label: now.hsm_label()
        })
        .safe()
    );
    // With the passphrase the sealed backup holds the file key too: the wallet may go.
    let r = check_in_process(&env, Some(PASSPHRASE));
    let k = r.keys.iter().find(|k| k.key == file_key).unwrap();
    assert!(
        k.places
            .iter()
            .any(|p| matches!(p, Place::SealedBackup { .. })),
        "{:?}",
        k.places
    );
    let verdict = r.before_retiring(&wallet);
    assert!(verdict.safe(), "{}", verdict.sentence);
    assert_eq!(r.exit_code(), 0, "{}", r.summary());
}
