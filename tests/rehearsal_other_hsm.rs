//! A Rehearsal database that starts on another vendor's HSM (the migration wizard's path B),
//! through the real `tdekey` binary on the demo token: `db add --start-on-other-hsm`, what the
//! database then shows, the old HSM's password checked, and the whole wizard from the other HSM
//! to the demo token. After each, the token is read through PKCS#11.

mod common;

use common::{Env, contains, run};
use tdekey::hsm::Hsm;
use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::model::{Multitenant, PinFormat, TokenSelector};
use tdekey::oracle::Connector;
use tdekey::oracle::rehearsal::{self, Rehearsal};
use tdekey::secret::Secret;
use tdekey::tde::labels::{MASTER_KEY_PREFIX, parse_key_id};
use tdekey::tde::request::{Reply, Request};
use tdekey::tde::sql::Credential;
use tdekey::tde::views::parse_oracle_time;

const NAME: &str = "Path B";
const OLD_USER: &str = "ov_oracle";
const OLD_PW: &str = "Old-Vendor-Pw-42";
const WALLET_PW: &str = "Path-B-Wallet-Pw-7";
const PASSPHRASE: &str = "a long backup passphrase for path B";

/// The demo token, and the database NAME set up on the other HSM.
fn on_other_hsm() -> Env {
    let env = Env::new();
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", NAME, "--connector", "rehearsal"])
            .args(["--start-on-other-hsm", "--old-hsm-user", OLD_USER])
            .env("TDEKEY_OLD_HSM_PASSWORD", OLD_PW)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PW);
        c
    });
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("simulated other vendor's HSM"), "{out}");
    env
}

fn query(env: &Env, what: &str) -> (i32, serde_json::Value) {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "query", NAME, what, "--json"]);
        c
    });
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, v)
}

/// (KEYSTORE_TYPE, HSM label or key id, ACTIVATION_TIME in ms) of each row of
/// V$ENCRYPTION_KEYS.
fn key_rows(env: &Env) -> Vec<(String, String, i64)> {
    let (code, v) = query(env, "keys");
    assert_eq!(code, 0, "{v}");
    v["reply"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("rows in {v}"))
        .iter()
        .map(|row| {
            let get = |c: &str| row[c].as_str().unwrap_or_default().to_owned();
            let id = get("KEY_ID");
            let label = parse_key_id(&id).map_or(id, |(_, m)| m.hsm_label());
            let at = parse_oracle_time(&get("ACTIVATION_TIME"))
                .unwrap_or_else(|| panic!("ACTIVATION_TIME in {row}"));
            (get("KEYSTORE_TYPE"), label, at)
        })
        .collect()
}

/// The current key: the one activated last.
fn current_key(env: &Env) -> (String, String) {
    let rows = key_rows(env);
    let k = rows
        .iter()
        .max_by_key(|k| k.2)
        .unwrap_or_else(|| panic!("no key in {rows:?}"));
    (k.0.clone(), k.1.clone())
}

fn state_text(env: &Env) -> String {
    std::fs::read_to_string(rehearsal::state_path(env.data.root(), NAME)).unwrap()
}

fn audit(env: &Env, action: &str) -> String {
    let (code, out, err) = run({
        let mut c = env.tdekey();
        c.args([
            "audit", "list", "--action", action, "--limit", "500", "--json",
        ]);
        c
    });
    assert_eq!(code, 0, "{err}");
    out
}

/// `tdekey migrate <args> NAME` with the secrets in the environment.
fn migrate(env: &Env, args: &[&str], old_pw: &str) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.arg("migrate")
            .arg(args[0])
            .arg(NAME)
            .args(&args[1..])
            .args(["--old-hsm-user", OLD_USER])
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PW)
            .env("TDEKEY_BACKUP_PASSPHRASE", PASSPHRASE)
            .env("TDEKEY_OLD_HSM_PASSWORD", old_pw);
        c
    })
}

/// The labels of the master keys the simulated other HSM holds.
fn other_hsm_keys(env: &Env) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&state_text(env)).unwrap();
    v["other_hsm"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_database_starts_on_the_other_hsm_with_its_key_off_the_token() {
    let env = on_other_hsm();
    let host = rehearsal::host_root(env.data.root(), NAME);

    // Its master key is on an HSM, not on tdekey's token.
    let (keystore, label) = current_key(&env);
    assert_eq!(keystore, "HSM");
    assert!(
        label.starts_with(&format!("{MASTER_KEY_PREFIX}06")),
        "{label}"
    );
    let token = common::demo_master_keys(&env);
    assert!(
        token.iter().all(|k| k.0 != label),
        "{label} is on the token"
    );
    assert_eq!(other_hsm_keys(&env), vec![label.clone()]);

    // TDE_CONFIGURATION=HSM in effect, the HSM keystore open; the file keystore on disk.
    let (_, wallet) = query(&env, "wallet");
    let rows = wallet["reply"]["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{wallet}");
    assert_eq!(
        (rows[0]["WRL_TYPE"].as_str(), rows[0]["STATUS"].as_str()),
        (Some("HSM"), Some("OPEN")),
        "{wallet}"
    );
    let (_, conf) = query(&env, "tde-configuration");
    assert!(
        conf.to_string().contains("KEYSTORE_CONFIGURATION=HSM\""),
        "{conf}"
    );
    let profile = run({
        let mut c = env.tdekey();
        c.args(["db", "show", NAME, "--json"]);
        c
    });
    let profile: serde_json::Value = serde_json::from_str(&profile.1).unwrap();
    let root = profile["wallet_root"].as_str().unwrap().to_owned();
    assert!(profile["hsm_profile"].is_string(), "{profile}");
    assert!(
        host.join(root.trim_start_matches('/'))
            .join("tde/ewallet.p12")
            .is_file()
    );

    // Oracle's library on the simulated host is the other vendor's, the only one there.
    let library = rehearsal::other_vendor_library(&host);
    assert_eq!(rehearsal::oracle_libraries(&host), vec![library.clone()]);
    assert!(
        std::fs::read_to_string(&library)
            .unwrap()
            .starts_with("tdekey Rehearsal stand-in")
    );

    // The set-up is recorded: the other HSM, then each statement (secrets hidden); no key
    // made on the token.
    let changes = audit(&env, "database.change");
    assert!(
        changes.contains("rehearsal_other_hsm") && changes.contains(OLD_USER),
        "{changes}"
    );
    let statements = audit(&env, "oracle.statement");
    assert!(
        statements.contains("Migrate the master key to the HSM"),
        "{statements}"
    );
    assert!(statements.contains("<hidden>"), "{statements}");
    assert!(!audit(&env, "key.generate").contains(&label));
    common::audit_intact(&env);

    // No secret on disk; the state keeps the old HSM's user and a verifier only.
    let state = state_text(&env);
    assert!(state.contains(OLD_USER) && state.contains("$argon2id$"));
    let bytes = env.all_bytes_except_tokens();
    for secret in [OLD_PW, WALLET_PW] {
        assert!(!contains(&bytes, secret), "{secret} written to disk");
    }

    // The same name again is refused, and the database is left as it was.
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["db", "add", NAME, "--connector", "rehearsal"])
            .args(["--start-on-other-hsm", "--old-hsm-user", OLD_USER])
            .env("TDEKEY_OLD_HSM_PASSWORD", OLD_PW)
            .env("TDEKEY_WALLET_PASSWORD", WALLET_PW);
        c
    });
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(current_key(&env).1, label);
}

#[test]
fn the_old_hsm_password_is_checked_by_the_other_hsm() {
    let env = on_other_hsm();
    let label = current_key(&env).1;
    let path = rehearsal::state_path(env.data.root(), NAME);
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    let mut r =
        Rehearsal::open(&path, NAME, Multitenant::NonCdb, &mut hsm, PinFormat::Plain).unwrap();
    let hsm_cred = |user: &str, pw: &str| Credential::Hsm {
        user: user.into(),
        password: Secret::from(pw),
    };
    let refused = |reply: Reply| match reply {
        Reply::Error { error, more } => {
            assert_eq!(error.code, "ORA-28353", "{error:?}");
            assert!(
                more.iter().any(|m| m.text.contains("CKR_PIN_INCORRECT")),
                "{more:?}"
            );
        }
        other => panic!("expected ORA-28353, got {other:?}"),
    };
    let mut ask = |req: Request| r.run(&req).unwrap().reply;
    // Wrong password, wrong user, and tdekey's own PIN: the other HSM refuses them all.
    for (user, pw) in [
        (OLD_USER, "wrong-password"),
        ("someone", OLD_PW),
        (DEMO_USER, DEMO_USER_PIN),
    ] {
        refused(ask(Request::CloseKeystore {
            credential: Some(hsm_cred(user, pw)),
            all_containers: false,
        }));
    }
    let closed = ask(Request::CloseKeystore {
        credential: Some(hsm_cred(OLD_USER, OLD_PW)),
        all_containers: false,
    });
    assert!(!closed.is_error(), "{closed:?}");
    refused(ask(Request::OpenKeystore {
        credential: hsm_cred(OLD_USER, "wrong-password"),
        all_containers: false,
    }));
    let Reply::Rows { rows } = ask(Request::QueryKeys) else {
        panic!("rows")
    };
    assert!(rows.is_empty(), "the keystore stays closed");
    let opened = ask(Request::OpenKeystore {
        credential: hsm_cred(OLD_USER, OLD_PW),
        all_containers: false,
    });
    assert!(!opened.is_error(), "{opened:?}");
    drop(r);
    assert!(!hsm.logged_in(), "nothing logged in to the token");
    hsm.close().unwrap();
    assert_eq!(current_key(&env), ("HSM".to_owned(), label.clone()));
    assert!(common::demo_master_keys(&env).iter().all(|k| k.0 != label));

    // The wizard with a wrong old password: Oracle refuses the reverse migration at step 2.
    let before = common::demo_master_keys(&env);
    let (code, out, err) = migrate(&env, &["run", "--yes"], "wrong-password");
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("ORA-28353"), "{out}");
    assert_eq!(
        common::step_status(&common::migration_status(&env, NAME), "from-other-hsm"),
        "failed"
    );
    assert_eq!(common::demo_master_keys(&env), before);
    let bytes = env.all_bytes_except_tokens();
    assert!(!contains(&bytes, "wrong-password") && !contains(&bytes, OLD_PW));
}

#[test]
fn the_wizard_brings_the_key_from_the_other_hsm_to_the_token() {
    let env = on_other_hsm();
    let old_key = current_key(&env).1;
    let before = common::demo_master_keys(&env);
    let (code, out, err) = migrate(&env, &["run", "--yes"], OLD_PW);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("is finished"), "{out}");

    // Exactly one new master key on the token, sensitive and never extractable.
    let after = common::demo_master_keys(&env);
    let new: Vec<_> = after.iter().filter(|k| !before.contains(k)).collect();
    assert_eq!(new.len(), 1, "{after:?}");
    assert_eq!((new[0].1, new[0].2), (Some(true), Some(false)));
    let v = common::migration_status(&env, NAME);
    assert_eq!(common::step_status(&v, "from-other-hsm"), "done");
    assert_eq!(common::step_status(&v, "oracle-library"), "done");
    assert_eq!(common::step_status(&v, "verify"), "done");
    assert_eq!(v["new_key"], new[0].0.as_str());
    // The database's current key is that one, on the token; the old one never came there.
    assert_eq!(current_key(&env), ("HSM".to_owned(), new[0].0.clone()));
    assert!(
        after.iter().all(|k| k.0 != old_key),
        "{old_key} on the token"
    );
    assert_eq!(other_hsm_keys(&env), vec![old_key.clone()]);
    // The end and the report say to keep the other HSM reachable, naming the key that is
    // only there.
    assert_eq!(v["old_hsm_keys"], serde_json::json!([old_key]));
    assert!(
        out.contains("Path B: keep the other HSM running") && out.contains(&old_key),
        "{out}"
    );
    let report = env.dir.path().join("report.html");
    let (code, _, err) = run({
        let mut c = env.tdekey();
        c.args(["migrate", "report", NAME, "--out"]).arg(&report);
        c
    });
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<h1>The other HSM</h1>") && html.contains(&old_key));

    // Oracle's library on the simulated host is tdekey's module now, byte for byte.
    let host = rehearsal::host_root(env.data.root(), NAME);
    let libraries = rehearsal::oracle_libraries(&host);
    assert_eq!(libraries.len(), 1, "{libraries:?}");
    assert_eq!(
        std::fs::read(&libraries[0]).unwrap(),
        std::fs::read(&env.module).unwrap()
    );

    common::audit_intact(&env);
    let bytes = env.all_bytes_except_tokens();
    for secret in [DEMO_USER_PIN, WALLET_PW, OLD_PW, PASSPHRASE] {
        assert!(!contains(&bytes, secret), "{secret} written to disk");
    }
}
