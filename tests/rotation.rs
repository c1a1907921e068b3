//! Rotation on real SoftHSM2 tokens and Rehearsal databases, through the `tdekey` binary and
//! the workflow: key generation read back through PKCS#11, both ways end to end with the
//! previous key still on the token, a run that fails after generating (the next one reuses
//! the key), `rotate --due` over past, today's and future due dates, a missed window caught up
//! once, a failing database left due, two `rotate --due` at once, credentials files refused.

mod common;

use common::{Env, contains, demo, run};
use tdekey::audit::Auditor;
use tdekey::hsm::Hsm;
use tdekey::hsm::demo::{DEMO_TOKEN_LABEL, DEMO_USER, DEMO_USER_PIN};
use tdekey::model::{PinFormat, TokenSelector, now_ms};
use tdekey::rotation::{self, RotateRequest, Way, local_date, local_zone};
use tdekey::secret::Secret;

fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    run({
        let mut c = env.tdekey();
        c.args(args).env("TDEKEY_PIN", DEMO_USER_PIN);
        c
    })
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The demo token, logged in as the demo crypto user.
fn demo_hsm(env: &Env) -> Hsm {
    let mut hsm = Hsm::load(&env.module).unwrap();
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
        .unwrap();
    hsm.login(DEMO_USER, &Secret::from(DEMO_USER_PIN), PinFormat::Plain)
        .unwrap();
    hsm
}

/// The token's TDE master key labels, read through PKCS#11 (one module per process: only
/// while no other session is open).
fn master_keys(env: &Env) -> Vec<String> {
    labels(&demo_hsm(env))
}

fn labels(hsm: &Hsm) -> Vec<String> {
    let mut v: Vec<String> = hsm
        .inventory(&mut |_, _| {})
        .unwrap()
        .into_iter()
        .filter(|o| o.label.starts_with("ORACLE.TDE.HSM.MK."))
        .map(|o| o.label)
        .collect();
    v.sort();
    v
}

fn runs(env: &Env, db: &str) -> Vec<serde_json::Value> {
    let (code, out, err) = tdekey(env, &["policy", "show", db, "--json"]);
    assert_eq!(code, 0, "{err}");
    json(&out)["runs"].as_array().unwrap().clone()
}

fn credentials(env: &Env, pin: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.dir.path().join("creds");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let f = dir.join("hsm-pin");
    std::fs::write(&f, format!("{pin}\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

#[test]
fn a_generated_master_key_reads_back_with_every_attribute_oracle_needs() {
    let env = demo();
    let (code, out, err) = tdekey(
        &env,
        &[
            "key",
            "generate",
            "--json",
            "--user",
            DEMO_USER,
            "--oracle-user",
            "oracle_cu",
            "--tag",
            "q4",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let k = json(&out);
    let label = k["label"].as_str().unwrap();
    let id = k["use_key_id"].as_str().unwrap();
    assert_eq!(label, format!("ORACLE.TDE.HSM.MK.{id}"));
    assert!(id.starts_with("06") && id.len() == 34, "{id}");
    assert_eq!(k["cka_id"].as_str().unwrap(), &id[2..]);
    // The share command works as printed: single-command mode with the owner's login in its
    // environment (the password read without echo, never printed), or interactive mode.
    let share = k["share_command"].as_str().unwrap();
    assert!(
        share.contains(&format!(
            "CLOUDHSM_ROLE=crypto-user CLOUDHSM_PIN='{DEMO_USER}:'\"$cu_pw\" /opt/cloudhsm/bin/cloudhsm-cli key share --filter attr.label=\"{label}\" attr.class=secret-key --username oracle_cu --role crypto-user"
        )),
        "{share}"
    );
    assert!(share.contains("stty -echo; IFS= read -r cu_pw"), "{share}");
    assert!(!share.contains(DEMO_USER_PIN));
    let interactive: Vec<&str> = k["share_interactive"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(interactive[0], "/opt/cloudhsm/bin/cloudhsm-cli interactive");
    assert!(interactive[1].contains(&format!("login --username {DEMO_USER} --role crypto-user")));
    assert!(interactive[2].ends_with("--username oracle_cu --role crypto-user"));
    let stmt = k["use_key_statement"].as_str().unwrap();
    assert!(
        stmt.starts_with(&format!(
            "ADMINISTER KEY MANAGEMENT USE KEY '{id}' USING TAG 'q4' FORCE KEYSTORE IDENTIFIED BY"
        )),
        "{stmt}"
    );
    assert!(!stmt.contains(DEMO_USER_PIN));

    // Read back independently through PKCS#11.
    let hsm = demo_hsm(&env);
    let o = hsm
        .inventory(&mut |_, _| {})
        .unwrap()
        .into_iter()
        .find(|o| o.label == label)
        .expect("the key is on the token");
    assert_eq!(o.class, "CKO_SECRET_KEY");
    assert_eq!(o.key_type.as_deref(), Some("CKK_AES"));
    assert_eq!(o.value_len, Some(32));
    assert_eq!(o.id_hex, &id[2..]);
    let f = &o.flags;
    assert_eq!(
        (f.token, f.private, f.sensitive, f.extractable),
        (Some(true), Some(true), Some(true), Some(false))
    );
    assert_eq!((f.encrypt, f.decrypt), (Some(true), Some(true)));
    assert_eq!(f.never_extractable, Some(true));

    // Without another Oracle user, no share command; the generation is audited.
    let (code, out, _) = tdekey(&env, &["key", "generate", "--user", DEMO_USER]);
    assert_eq!(code, 0);
    assert!(!out.contains("key share"), "{out}");
    let (_, log, _) = tdekey(
        &env,
        &["audit", "list", "--action", "key.generate", "--json"],
    );
    let entries = json(&log);
    let mine = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == label)
        .count();
    assert_eq!(mine, 2, "started and success: {log}");
}

#[test]
fn a_label_already_on_the_token_is_refused_before_anything_is_made() {
    let env = demo();
    let mut a = Auditor::open(&env.data).unwrap();
    let hsm = demo_hsm(&env);
    let id = tdekey::tde::labels::MasterKeyId(*b"collision-test-1");
    let req = rotation::KeyRequest::default();
    let first = rotation::generate_key_with_id(&mut a, &hsm, &req, id).unwrap();
    assert_eq!(first.label, id.hsm_label());
    let before = labels(&hsm);
    let e = rotation::generate_key_with_id(&mut a, &hsm, &req, id)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "already holds an object labelled {}",
            id.hsm_label()
        )) && e.contains("nothing was generated"),
        "{e}"
    );
    assert_eq!(labels(&hsm), before, "no second key");
}

#[test]
fn both_ways_rotate_verify_and_keep_the_previous_key() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let first = master_keys(&env);

    let (code, out, err) = tdekey(&env, &["rotate", "FIN", "--way", "hsm", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["outcome"], "success", "{out}");
    let old = r["old_keys"][0].as_str().unwrap().to_owned();
    let new = r["new_keys"][0].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );

    let (code, out, err) = tdekey(
        &env,
        &["rotate", "FIN", "--way", "oracle", "--tag", "q1", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let r2 = json(&out);
    assert_eq!(r2["outcome"], "success", "{out}");
    assert_eq!(
        r2["old_keys"][0],
        new.as_str(),
        "the hsm way's key was current"
    );
    let newer = r2["new_keys"][0].as_str().unwrap().to_owned();

    // Every key is still on the token: one more per rotation.
    let after = master_keys(&env);
    assert_eq!(after.len(), first.len() + 2, "{after:?}");
    for k in [&old, &new, &newer] {
        assert!(after.contains(k), "{k} missing from {after:?}");
    }
    // The runs are recorded with who, when, the way and each check.
    let runs = runs(&env, "FIN");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["way"], "hsm");
    assert_eq!(runs[1]["way"], "oracle");
    assert!(runs[1]["who"].as_str().unwrap().contains(DEMO_USER));
    assert!(runs.iter().all(|r| r["outcome"] == "success"));
    // The Keys screen's owners: the new key is FIN's.
    let a = Auditor::open(&env.data).unwrap();
    let claims = rotation::key_claims(&a).unwrap();
    assert_eq!(claims[&newer].database, "FIN");
    assert!(claims[&newer].current);
    assert!(!claims[&new].current, "retired");
    // A database whose active key is not on the token tdekey sees is named.
    let on_token: std::collections::HashSet<String> =
        after.iter().filter(|l| **l != newer).cloned().collect();
    let (rows, _) = rotation::overview(&a, Some((DEMO_TOKEN_LABEL, &on_token)), now_ms()).unwrap();
    let fin = rows.iter().find(|r| r.database == "FIN").unwrap();
    assert_eq!(fin.missing_keys, vec![newer.clone()]);
    let all: std::collections::HashSet<String> = after.iter().cloned().collect();
    let (rows, _) = rotation::overview(&a, Some((DEMO_TOKEN_LABEL, &all)), now_ms()).unwrap();
    assert!(rows.iter().all(|r| r.missing_keys.is_empty()));
    common::audit_intact(&env);
    assert!(!contains(&env.all_bytes_except_tokens(), DEMO_USER_PIN));
}

#[test]
fn a_run_that_fails_after_generating_leaves_its_key_and_the_next_run_uses_it() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["HR"]);
    let before = master_keys(&env);
    let mut a = Auditor::open(&env.data).unwrap();
    let mut hsm = demo_hsm(&env);
    let mut ctx = rotation::Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: None,
        db_password: None,
        pin_format: PinFormat::Plain,
        // The statement's password is wrong: Oracle refuses USE KEY after tdekey generated.
        hsm_password: Secret::from("not-the-pin"),
    };
    let req = RotateRequest::manual(Some(Way::Hsm), None);
    let failed = rotation::rotate(&mut a, &mut ctx, "HR", &req).unwrap();
    assert!(!failed.succeeded());
    assert_eq!(failed.failed_step.as_deref(), Some("activate"));
    assert!(failed.refused, "an ORA- answer");
    let pending = failed.pending_key.clone().expect("the key is named");
    let state = failed.state_left.clone().unwrap();
    assert!(
        state.contains(&pending) && state.contains("not active") && state.contains("uses"),
        "{state}"
    );
    let mid = labels(ctx.hsm);
    assert_eq!(mid.len(), before.len() + 1);
    assert!(mid.contains(&pending));

    ctx.hsm_password = Secret::from(DEMO_USER_PIN);
    let ok = rotation::rotate(&mut a, &mut ctx, "HR", &req).unwrap();
    assert!(ok.succeeded(), "{}", ok.message);
    assert_eq!(ok.reused_key.as_deref(), Some(pending.as_str()));
    assert_eq!(ok.new_keys, vec![pending.clone()]);
    assert_eq!(ok.pending_key, None);
    assert_eq!(
        labels(ctx.hsm).len(),
        before.len() + 1,
        "no second key was generated"
    );
    drop(ctx);
    hsm.close().unwrap();
    let (_, log, _) = tdekey(
        &env,
        &["audit", "list", "--action", "rotation.run", "--json"],
    );
    let outcomes: Vec<String> = json(&log)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        ["success", "started", "failure", "started"],
        "newest first"
    );
    common::audit_intact(&env);
}

#[test]
fn a_key_activated_after_its_run_failed_is_verified_by_the_next_run_not_replaced() {
    use tdekey::oracle::Connector;
    use tdekey::oracle::rehearsal::{self, Rehearsal};
    use tdekey::tde::request::{Reply, Request};
    let env = demo();
    common::rehearsal_on_hsm(&env, &["OPS2"]);
    let mut a = Auditor::open(&env.data).unwrap();
    let mut hsm = demo_hsm(&env);
    let req = RotateRequest::manual(Some(Way::Hsm), None);
    let failed = {
        let mut ctx = rotation::Context {
            data: &env.data,
            hsm: &mut hsm,
            operator: None,
            db_password: None,
            pin_format: PinFormat::Plain,
            hsm_password: Secret::from("not-the-pin"),
        };
        rotation::rotate(&mut a, &mut ctx, "OPS2", &req).unwrap()
    };
    let pending = failed.pending_key.clone().unwrap();
    let old = failed.old_keys[0].clone();
    // A DBA runs the USE KEY the failed run could not (as an answer never seen would leave it).
    {
        let path = rehearsal::state_path(env.data.root(), "OPS2");
        let mut r = Rehearsal::open(
            &path,
            "OPS2",
            tdekey::model::Multitenant::NonCdb,
            &mut hsm,
            PinFormat::Plain,
        )
        .unwrap();
        let id = tdekey::tde::labels::classify(&pending)
            .master_key()
            .unwrap();
        let reply = r
            .run(&Request::UseKey {
                id,
                tag: None,
                credential: tdekey::tde::sql::Credential::Hsm {
                    user: DEMO_USER.into(),
                    password: Secret::from(DEMO_USER_PIN),
                },
            })
            .unwrap()
            .reply;
        assert!(matches!(reply, Reply::Done { .. }), "{reply:?}");
    }
    let before = labels(&hsm);
    let mut ctx = rotation::Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: None,
        db_password: None,
        pin_format: PinFormat::Plain,
        hsm_password: Secret::from(DEMO_USER_PIN),
    };
    let ok = rotation::rotate(&mut a, &mut ctx, "OPS2", &req).unwrap();
    assert!(ok.succeeded(), "{}", ok.message);
    assert_eq!(ok.new_keys, vec![pending.clone()]);
    assert_eq!(ok.old_keys, vec![old], "the key it replaced");
    assert!(
        ok.notes.iter().any(|n| n.contains("did take effect")),
        "{:?}",
        ok.notes
    );
    assert_eq!(labels(ctx.hsm), before, "nothing generated, nothing sent");
}

/// Today's date, local, and a date `days` from it.
fn day(days: i64) -> String {
    local_date(now_ms() + days * 86_400_000, &local_zone())
}

#[test]
fn rotate_due_rotates_what_is_due_once_and_leaves_failures_due() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["PAST", "TODAY", "FUTURE"]);
    // BROKEN was never set up: its keystore is not on the HSM, so its check fails.
    let (code, _, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "BROKEN",
            "--connector",
            "rehearsal",
            "--hsm-profile",
            "Demo token (SoftHSM2)",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let today = day(0);
    for (db, every, due) in [
        ("PAST", "30d", day(-100)),
        ("TODAY", "90d", today.clone()),
        ("FUTURE", "90d", day(10)),
        ("BROKEN", "90d", day(-1)),
    ] {
        let (code, out, err) = tdekey(
            &env,
            &["policy", "set", db, "--every", every, "--next-due", &due],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let creds = credentials(&env, DEMO_USER_PIN, 0o600);
    let creds = creds.to_str().unwrap();

    let (code, out, _) = tdekey(
        &env,
        &[
            "rotate",
            "--due",
            "--dry-run",
            "--credentials",
            creds,
            "--json",
        ],
    );
    assert_eq!(
        code, 1,
        "the dry run logs in and reads each database: BROKEN would fail: {out}"
    );
    let dry = json(&out);
    let mut would: Vec<(&str, &str)> = dry["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["database"].as_str().unwrap(),
                i["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    would.sort_unstable();
    assert_eq!(
        would,
        [
            ("BROKEN", "would-fail"),
            ("PAST", "would-rotate"),
            ("TODAY", "would-rotate")
        ]
    );
    assert!(runs(&env, "PAST").is_empty(), "a dry run changes nothing");

    let (code, out, err) = tdekey(&env, &["rotate", "--due", "--credentials", creds, "--json"]);
    assert_eq!(code, 1, "BROKEN fails: {out}{err}");
    let r = json(&out);
    let outcome = |db: &str| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["database"] == db)
            .map(|i| i["outcome"].as_str().unwrap().to_owned())
    };
    assert_eq!(outcome("PAST").as_deref(), Some("rotated"));
    assert_eq!(outcome("TODAY").as_deref(), Some("rotated"));
    assert_eq!(outcome("FUTURE"), None, "not due");
    assert_eq!(outcome("BROKEN").as_deref(), Some("failed"));

    // PAST missed three 30-day windows: rotated once, due again 30 days from now.
    let (_, out, _) = tdekey(&env, &["policy", "show", "PAST", "--json"]);
    let p = json(&out);
    assert_eq!(p["runs"].as_array().unwrap().len(), 1);
    assert_eq!(p["database"]["policy"]["next_due"], day(30));
    // BROKEN stays due, with its failed run.
    let (_, out, _) = tdekey(&env, &["policy", "show", "BROKEN", "--json"]);
    let b = json(&out);
    assert_eq!(b["database"]["policy"]["next_due"], day(-1));
    assert_eq!(b["database"]["status"], "last-run-failed");
    assert_eq!(b["runs"][0]["failed_step"], "check");

    // A second run in the same window rotates nothing new; BROKEN still fails.
    let (code, out, _) = tdekey(&env, &["rotate", "--due", "--credentials", creds, "--json"]);
    assert_eq!(code, 1);
    let again = json(&out);
    assert_eq!(again["rotated"], 0, "{out}");
    for db in ["PAST", "TODAY", "FUTURE"] {
        assert!(runs(&env, db).len() <= 1, "{db} rotated twice");
    }
    assert_eq!(runs(&env, "BROKEN").len(), 2, "{:#?}", runs(&env, "BROKEN"));

    // The unattended runs are audited, failures included.
    let (_, log, _) = tdekey(
        &env,
        &["audit", "list", "--action", "rotation.due", "--json"],
    );
    let entries = json(&log);
    let outcomes: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["failure", "failure", "failure"],
        "newest first; the dry run last (BROKEN would fail)"
    );
    common::audit_intact(&env);
    assert!(!contains(&env.all_bytes_except_tokens(), DEMO_USER_PIN));
}

#[test]
fn two_rotate_due_at_once_never_rotate_one_database_twice() {
    let env = demo();
    let names = ["A1", "A2", "A3", "A4"];
    common::rehearsal_on_hsm(&env, &names);
    for db in names {
        let (code, _, err) = tdekey(
            &env,
            &[
                "policy",
                "set",
                db,
                "--every",
                "90d",
                "--next-due",
                &day(-1),
            ],
        );
        assert_eq!(code, 0, "{err}");
    }
    let creds = credentials(&env, DEMO_USER_PIN, 0o600);
    // One as systemd starts it (CREDENTIALS_DIRECTORY), one as cron would (--credentials).
    let spawn = |systemd: bool| {
        let mut c = env.tdekey();
        c.args(["rotate", "--due", "--json"]);
        if systemd {
            c.env("CREDENTIALS_DIRECTORY", &creds);
        } else {
            c.arg("--credentials").arg(&creds);
        }
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (p1, p2) = (spawn(true), spawn(false));
    let o1 = p1.wait_with_output().unwrap();
    let o2 = p2.wait_with_output().unwrap();
    let rotated: u64 = [&o1, &o2]
        .iter()
        .map(|o| {
            let v = json(&String::from_utf8_lossy(&o.stdout));
            v["rotated"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(rotated, 4, "each database once between the two");
    for db in names {
        let r = runs(&env, db);
        assert_eq!(
            r.iter().filter(|r| r["outcome"] == "success").count(),
            1,
            "{db}: {r:?}"
        );
    }
    common::audit_intact(&env);
}

#[test]
fn credentials_readable_by_others_or_a_wrong_pin_leave_everything_due() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["OPS"]);
    let (code, _, _) = tdekey(
        &env,
        &[
            "policy",
            "set",
            "OPS",
            "--every",
            "1y",
            "--next-due",
            &day(-2),
        ],
    );
    assert_eq!(code, 0);
    let creds = credentials(&env, DEMO_USER_PIN, 0o644);
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["rotate", "--due", "--credentials"]).arg(&creds);
        c
    });
    assert_eq!(code, 1);
    let file = creds.join("hsm-pin");
    assert!(
        out.contains(&format!(
            "{} can be read by its group or others (mode 0644)",
            file.display()
        )),
        "{out}"
    );
    assert!(runs(&env, "OPS").is_empty(), "nothing was attempted");

    // A wrong PIN: the login fails, is audited, the database stays due.
    let creds = credentials(&env, "wrong-pin-000", 0o600);
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["rotate", "--due", "--credentials"]).arg(&creds);
        c
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED") && out.contains("stays due"), "{out}");
    let (_, out, _) = tdekey(&env, &["policy", "show", "OPS", "--json"]);
    assert_eq!(json(&out)["database"]["policy"]["next_due"], day(-2));
    let (_, log, _) = tdekey(
        &env,
        &[
            "audit",
            "list",
            "--action",
            "hsm.login",
            "--outcome",
            "failure",
            "--json",
        ],
    );
    assert_eq!(json(&log).as_array().unwrap().len(), 1);
    // No credentials at all: a sentence that says where they come from.
    let (code, out, _) = run({
        let mut c = env.tdekey();
        c.args(["rotate", "--due"])
            .env_remove("CREDENTIALS_DIRECTORY");
        c
    });
    assert_eq!(code, 1);
    assert!(
        out.contains("No credentials directory") && out.contains("CREDENTIALS_DIRECTORY"),
        "{out}"
    );
    assert!(!contains(&env.all_bytes_except_tokens(), "wrong-pin-000"));
}

#[test]
fn a_cdb_is_rotated_the_oracle_way_and_a_compromise_needs_a_reason() {
    let env = demo();
    let (code, _, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "CDB1",
            "--connector",
            "rehearsal",
            "--multitenant",
            "cdb-united",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tdekey(
        &env,
        &["policy", "set", "CDB1", "--every", "90d", "--way", "hsm"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("CONTAINER = ALL"), "{err}");
    let (code, _, err) = tdekey(&env, &["rotate", "Rehearsal demo", "--compromise", "short"]);
    assert_eq!(code, 1);
    assert!(err.contains("at least a sentence"), "{err}");
}

/// A DBA answering as a united CDB (root CON_ID 1, PDB1 CON_ID 3) on the HSM: before SET KEY
/// both containers use their own key; SET KEY … CONTAINER = ALL re-keys the root only and
/// answers ORA-46663, as real 21c and 12.2 databases did
/// (tests/fixtures/oracle/feedback/ora-4666[35]-*.txt). With `pdb_closed` the PDB's HSM
/// keystore shows CLOSED.
struct PartialCdb {
    root: String,
    pdb: String,
    new_root: String,
    pdb_closed: bool,
    rekeyed: bool,
}

impl PartialCdb {
    fn key_row(id: &str, con: u32, pdb: &str, activated: &str) -> String {
        format!(
            "\"{id}\",\"\",\"{activated}\",\"{activated}\",\"SYS\",\"HSM\",\"LOCAL\",\"NO\",\"{pdb}\",\"{con}\",\"TDE IN PDB\",\"{con}\"\n"
        )
    }
}

impl tdekey::oracle::Operator for PartialCdb {
    fn ask(
        &mut self,
        request: &tdekey::tde::request::Request,
        _statement: &tdekey::tde::sql::Statement,
        _problem: Option<&str>,
    ) -> Result<String, tdekey::oracle::OracleError> {
        use tdekey::tde::request::Request;
        let t1 = "02-JAN-26 10.00.00.000000 AM +00:00";
        let t2 = "03-JAN-26 10.00.00.000000 AM +00:00";
        Ok(match request {
            Request::QueryWallet => format!(
                "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"HSM\",\"\",\"OPEN\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",1\n\"FILE\",\"/u01/wr/tde/\",\"OPEN\",\"PASSWORD\",\"SECONDARY\",\"NONE\",\"NO\",1\n\"HSM\",\"\",\"{}\",\"HSM\",\"PRIMARY\",\"UNITED\",\"UNDEFINED\",3\n",
                if self.pdb_closed { "CLOSED" } else { "OPEN" }
            ),
            Request::QueryKeys => {
                let mut s = "\"KEY_ID\",\"TAG\",\"CREATION_TIME\",\"ACTIVATION_TIME\",\"CREATOR\",\"KEYSTORE_TYPE\",\"ORIGIN\",\"BACKED_UP\",\"CREATOR_PDBNAME\",\"CREATOR_PDBID\",\"KEY_USE\",\"CON_ID\"\n".to_owned();
                s.push_str(&Self::key_row(&self.root, 1, "CDB$ROOT", t1));
                s.push_str(&Self::key_row(&self.pdb, 3, "PDB1", t1));
                if self.rekeyed {
                    s.push_str(&Self::key_row(&self.new_root, 1, "CDB$ROOT", t2));
                }
                s
            }
            Request::SetKey { .. } => {
                self.rekeyed = true;
                "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY\n*\nERROR at line 1:\nORA-46663: master keys not created for all PDBs for REKEY\n".to_owned()
            }
            other => panic!("not expected here: {}", other.title()),
        })
    }
}

#[test]
fn a_container_all_rotation_done_in_some_containers_only_says_which_holds_which_key() {
    let env = demo();
    // Three keys on the token: the root's, the PDB's, and the root's new one.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (code, out, err) = tdekey(&env, &["key", "generate", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        ids.push(json(&out)["use_key_id"].as_str().unwrap().to_owned());
    }
    let (code, out, err) = tdekey(
        &env,
        &[
            "db",
            "add",
            "CDBM",
            "--connector",
            "manual",
            "--multitenant",
            "cdb-united",
            "--hsm-profile",
            tdekey::hsm::demo::DEMO_PROFILE_NAME,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let mut a = Auditor::open(&env.data).unwrap();
    let mut hsm = demo_hsm(&env);
    let mut dba = PartialCdb {
        root: ids[0].clone(),
        pdb: ids[1].clone(),
        new_root: ids[2].clone(),
        pdb_closed: true,
        rekeyed: false,
    };
    let req = RotateRequest::manual(Some(Way::Oracle), None);
    // A PDB whose HSM keystore is closed: stopped before anything is sent.
    {
        let mut ctx = rotation::Context {
            data: &env.data,
            hsm: &mut hsm,
            operator: Some(&mut dba),
            db_password: None,
            pin_format: PinFormat::Plain,
            hsm_password: Secret::from(DEMO_USER_PIN),
        };
        let r = rotation::rotate(&mut a, &mut ctx, "CDBM", &req).unwrap();
        assert_eq!(r.failed_step.as_deref(), Some("check"), "{}", r.message);
        assert!(
            r.message.contains("not open in CON_ID 3 (CLOSED)"),
            "{}",
            r.message
        );
    }
    assert!(!dba.rekeyed, "SET KEY was not sent");
    // Open everywhere, but Oracle re-keys the root only.
    dba.pdb_closed = false;
    let mut ctx = rotation::Context {
        data: &env.data,
        hsm: &mut hsm,
        operator: Some(&mut dba),
        db_password: None,
        pin_format: PinFormat::Plain,
        hsm_password: Secret::from(DEMO_USER_PIN),
    };
    let r = rotation::rotate(&mut a, &mut ctx, "CDBM", &req).unwrap();
    assert_eq!(r.failed_step.as_deref(), Some("activate"), "{}", r.message);
    assert!(r.refused);
    assert!(r.message.contains("ORA-46663"), "{}", r.message);
    let state = r.state_left.clone().unwrap();
    assert!(
        state.contains(&format!(
            "CON_ID 1 (CDB$ROOT) now uses ORACLE.TDE.HSM.MK.{}",
            ids[2]
        )) && state.contains(&format!(
            "CON_ID 3 (PDB1) still uses ORACLE.TDE.HSM.MK.{}",
            ids[1]
        )),
        "{state}"
    );
    assert!(!state.contains("nothing was generated"), "{state}");
}

/// `rotate NAME --key LABEL` activates a key generated beforehand (`key generate`) instead of
/// making one; a label that is not on the token stops the run before anything changes.
#[test]
fn rotate_with_key_activates_a_key_generated_beforehand() {
    let env = demo();
    common::rehearsal_on_hsm(&env, &["FIN"]);
    let (code, out, err) = tdekey(&env, &["key", "generate", "--json", "--tag", "q4"]);
    assert_eq!(code, 0, "{out}{err}");
    let label = json(&out)["label"].as_str().unwrap().to_owned();
    let before = master_keys(&env);

    let missing = format!("ORACLE.TDE.HSM.MK.06{}", "0".repeat(32));
    let (code, out, err) = tdekey(
        &env,
        &["rotate", "FIN", "--way", "hsm", "--key", &missing, "--json"],
    );
    assert_ne!(code, 0, "{out}{err}");
    assert_eq!(master_keys(&env), before, "nothing generated");

    let (code, out, err) = tdekey(
        &env,
        &["rotate", "FIN", "--way", "hsm", "--key", &label, "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let r = json(&out);
    assert_eq!(r["outcome"], "success", "{out}");
    assert_eq!(r["new_keys"][0].as_str(), Some(label.as_str()), "{out}");
    assert_eq!(master_keys(&env), before, "the chosen key, no other");
}
