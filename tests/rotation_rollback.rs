//! A rolled-back migration's key on the HSM is nobody's current key: the rollback retires the
//! claim (audited), the database is "not on the HSM" with no policy to save, and a later
//! migration makes a new key current and clears the failed run left meanwhile. Through the
//! real binary on the Rehearsal demo.

mod common;

use common::{Env, demo, run};
use tdekey::hsm::demo::{DEMO_DATABASE_NAME, DEMO_USER_PIN, DEMO_WALLET_PASSWORD};

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args)
            .env("TDEKEY_PIN", DEMO_USER_PIN)
            .env("TDEKEY_WALLET_PASSWORD", DEMO_WALLET_PASSWORD)
            .env("TDEKEY_BACKUP_PASSPHRASE", "a long backup passphrase 7");
        c
    })
}

/// The demo database's row of `policy list --json`.
fn row(env: &Env) -> serde_json::Value {
    let (code, out, err) = tdekey(env, &["policy", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["database"] == DEMO_DATABASE_NAME)
        .cloned()
        .unwrap()
}

fn current(row: &serde_json::Value) -> Vec<String> {
    row["current_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap().to_owned())
        .collect()
}

fn new_key(env: &Env) -> String {
    common::migration_status(env, DEMO_DATABASE_NAME)["new_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_rolled_back_migration_retires_its_key_and_a_later_migration_makes_the_database_rotatable() {
    let env = demo();
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let first = new_key(&env);
    let r = row(&env);
    assert_eq!(current(&r), std::slice::from_ref(&first), "{r}");
    assert!(r["not_on_hsm"].is_null(), "{r}");
    let (code, out, err) = tdekey(
        &env,
        &["policy", "set", DEMO_DATABASE_NAME, "--every", "90d"],
    );
    assert_eq!(code, 0, "{out}{err}");
    // Rotated once on the HSM before the rollback: that key is retired with the first.
    let (code, out, err) = tdekey(&env, &["rotate", DEMO_DATABASE_NAME, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let rotated = current(&row(&env));
    assert!(
        !rotated.is_empty() && !rotated.contains(&first),
        "{rotated:?}"
    );
    let rotated_at = row(&env)["last_run"]["finished_ms"].as_i64().unwrap();

    let (code, out, err) = tdekey(
        &env,
        &[
            "migrate",
            "rollback",
            DEMO_DATABASE_NAME,
            "--yes",
            "--reason",
            "The application team did not sign off the change.",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("marked as no longer in use"),
        "the reverse step says it: {out}"
    );

    // Nobody's current key: the database is not on the HSM, whatever its policy says.
    let r = row(&env);
    assert!(current(&r).is_empty(), "{r}");
    let claims = {
        let (code, out, err) = tdekey(&env, &["policy", "show", DEMO_DATABASE_NAME, "--json"]);
        assert_eq!(code, 0, "{err}");
        out
    };
    assert!(claims.contains("not-on-hsm"), "{claims}");
    assert_eq!(r["status"], "not-on-hsm", "{r}");
    assert!(r["key_since_ms"].is_null(), "{r}");
    assert!(
        r["not_on_hsm"].as_str().unwrap().contains("rolled back"),
        "{r}"
    );
    // The retirement is audited, with the key it retired.
    let (code, out, err) = tdekey(&env, &["audit", "list", "--action", "key.owner", "--json"]);
    assert_eq!(code, 0, "{err}");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let started = entries
        .iter()
        .find(|e| {
            let d = e["details"].as_str().unwrap_or("");
            e["outcome"] == "started"
                && d.contains("\"retire\"")
                && d.contains(&first)
                && rotated.iter().all(|k| d.contains(k.as_str()))
        })
        .unwrap_or_else(|| panic!("no retire entry naming {first}: {out}"));
    let seq = format!("\"started_seq\":{}", started["seq"]);
    assert!(
        entries.iter().any(
            |e| e["outcome"] == "success" && e["details"].as_str().unwrap_or("").contains(&seq)
        ),
        "{out}"
    );

    // A policy cannot be saved as if there were a key to rotate; the sentence says why.
    let (code, out, err) = tdekey(
        &env,
        &["policy", "set", DEMO_DATABASE_NAME, "--every", "30d"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("has no master key on the HSM")
            && err.contains("migrate it to the HSM first")
            && err.contains("No policy was saved"),
        "{err}"
    );
    // Rotating it fails, and the run is recorded as failed.
    let (code, out, err) = tdekey(&env, &["rotate", DEMO_DATABASE_NAME, "--json"]);
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(row(&env)["last_run"]["outcome"], "failure");

    // A new migration makes its new key current; the failed run no longer marks the database.
    let (code, out, err) = tdekey(&env, &["migrate", "run", DEMO_DATABASE_NAME, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let second = new_key(&env);
    assert_ne!(second, first);
    let r = row(&env);
    assert_eq!(current(&r), [second], "{r}");
    assert!(
        r["key_since_ms"].as_i64().unwrap() > rotated_at,
        "the key's age counts from the new migration, not the rotation before the rollback: {r}"
    );
    assert!(r["not_on_hsm"].is_null(), "{r}");
    assert_eq!(
        r["last_run"]["outcome"], "failure",
        "the run stays recorded: {r}"
    );
    assert!(
        !matches!(r["status"].as_str(), Some("last-run-failed" | "not-on-hsm")),
        "{r}"
    );
    let (code, out, err) = tdekey(
        &env,
        &["policy", "set", DEMO_DATABASE_NAME, "--every", "30d"],
    );
    assert_eq!(code, 0, "{out}{err}");
    common::audit_intact(&env);
}
