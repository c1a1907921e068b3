//! The audit log on real database files: checkpoints in a real SoftHSM2 token, tampering of
//! every kind, and appends from several processes at once.

mod common;

use common::{Env, run};
use rusqlite::{Connection, params};
use tdekey::audit::row_hash;
use tdekey::store::AuditRow;

const PIN: &str = "audit-user-pin";

fn env_with_token() -> Env {
    let env = Env::new();
    drop(env.token("audit", PIN));
    env
}

/// Runs a command on the test token; commands that log in get the PIN format and the PIN.
fn tdekey(env: &Env, args: &[&str]) -> (i32, String, String) {
    let mut c = env.tdekey();
    c.args(args)
        .arg("--module")
        .arg(&env.module)
        .args(["--token", "audit"]);
    if args != ["hsm", "info"] {
        c.args(["--pin-format", "plain"]).env("TDEKEY_PIN", PIN);
    }
    run(c)
}

fn verify(env: &Env, hsm: bool) -> (i32, String) {
    let (code, out, err) = if hsm {
        tdekey(env, &["audit", "verify", "--hsm"])
    } else {
        let mut c = env.tdekey();
        c.args(["audit", "verify"]);
        run(c)
    };
    (code, format!("{out}{err}"))
}

/// Every row, read through tdekey's own store.
fn rows(db: &std::path::Path) -> Vec<AuditRow> {
    let store = tdekey::store::Store::open(db).unwrap();
    let mut out = Vec::new();
    store
        .for_each_audit_row(|r| {
            out.push(r);
            true
        })
        .unwrap();
    out
}

/// What someone with the file but not the HSM can do: change an entry and recompute every hash
/// after it, so the chain itself verifies again.
fn forge_from(conn: &Connection, db: &std::path::Path, seq: i64) {
    conn.execute_batch("DROP TRIGGER audit_log_no_update")
        .unwrap();
    let mut all = rows(db);
    let mut prev = all
        .iter()
        .find(|r| r.seq == seq - 1)
        .map(|r| r.hash)
        .unwrap_or([0; 32]);
    for r in all.iter_mut().filter(|r| r.seq >= seq) {
        if r.seq == seq {
            r.target = "forged".into();
        }
        r.prev_hash = prev;
        r.hash = row_hash(&prev, r);
        prev = r.hash;
        conn.execute(
            "UPDATE audit_log SET target = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
            params![r.seq, r.target, r.prev_hash.as_slice(), r.hash.as_slice()],
        )
        .unwrap();
    }
}

#[test]
fn checkpoints_catch_a_rewritten_history_and_need_the_hsm_to_catch_a_forged_checkpoint() {
    let env = env_with_token();
    let (code, out, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Checkpoint 1 written"), "{out}");
    for _ in 0..2 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out) = verify(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("chain intact, 1 checkpoint verified in the HSM"),
        "{out}"
    );

    // The audit key is on the token, non-extractable.
    let (code, out, _) = tdekey(&env, &["hsm", "keys", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["label"] == "TDEKEY.AUDIT.HMAC")
        .expect("audit key on the token");
    assert_eq!(key["flags"]["extractable"], false);
    assert_eq!(key["kind"], "tdekey-audit-hmac-key");

    let conn = Connection::open(env.data.database()).unwrap();
    let cp_seq: i64 = conn
        .query_row("SELECT seq FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    // Rewrite history from before the checkpoint: the chain verifies, the checkpoint does not.
    forge_from(&conn, &env.data.database(), 2);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "Chain broken at seq {cp_seq}: checkpoint mismatch"
        )),
        "{out}"
    );

    // Forge the checkpoint too: only the HSM can tell.
    let new_head: Vec<u8> = conn
        .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [cp_seq], |r| {
            r.get(0)
        })
        .unwrap();
    conn.execute_batch("DROP TRIGGER audit_checkpoints_no_update")
        .unwrap();
    conn.execute("UPDATE audit_checkpoints SET head_hash = ?1", [new_head])
        .unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "without the HSM the forgery holds: {out}");
    assert!(out.contains("not checked"), "{out}");
    let (code, out) = verify(&env, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not verify in the HSM"), "{out}");
}

#[test]
fn a_cut_tail_after_a_checkpoint_is_detected() {
    let env = env_with_token();
    let (code, _, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    let conn = Connection::open(env.data.database()).unwrap();
    let cp_seq: i64 = conn
        .query_row("SELECT seq FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_delete")
        .unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq >= ?1", [cp_seq])
        .unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("Chain broken at seq {cp_seq}: tail truncated")),
        "{out}"
    );
}

#[test]
fn every_kind_of_tampering_names_the_first_broken_entry() {
    let env = env_with_token();
    for _ in 0..6 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let db = env.data.database();
    let pristine = env.dir.path().join("pristine.sqlite3");
    {
        let c = Connection::open(&db).unwrap();
        c.execute("VACUUM INTO ?1", [pristine.display().to_string()])
            .unwrap();
    }
    let cases: &[(&str, &str)] = &[
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = '{}' WHERE seq = 3;",
            "seq 3: hash mismatch",
        ),
        (
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4;",
            "seq 4: gap in seq",
        ),
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET seq = -seq WHERE seq IN (2, 3); UPDATE audit_log SET seq = 3 WHERE seq = -2; UPDATE audit_log SET seq = 2 WHERE seq = -3;",
            "seq 2: broken link",
        ),
        (
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 5;",
            "seq 5: broken link",
        ),
    ];
    for (sql, expected) in cases {
        std::fs::copy(&pristine, &db).unwrap();
        let _ = std::fs::remove_file(db.with_extension("sqlite3-wal"));
        let _ = std::fs::remove_file(db.with_extension("sqlite3-shm"));
        let (code, out) = verify(&env, false);
        assert_eq!(code, 0, "pristine copy verifies: {out}");
        std::fs::copy(&pristine, &db).unwrap();
        let c = Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
        drop(c);
        let (code, out) = verify(&env, false);
        assert_eq!(code, 1, "{sql}: {out}");
        assert!(
            out.contains(&format!("Chain broken at {expected}")),
            "{sql}: {out}"
        );
    }
}

#[test]
fn three_processes_appending_at_once_keep_one_chain() {
    let env = env_with_token();
    let per_process = 15;
    let children: Vec<_> = (0..3)
        .map(|_| {
            let data = env.data.root().to_path_buf();
            let conf = env.conf.clone();
            std::thread::spawn(move || {
                for _ in 0..per_process {
                    let st = std::process::Command::new(env!("CARGO_BIN_EXE_tdekey"))
                        .arg("--data-dir")
                        .arg(&data)
                        // `audit verify` reads the whole chain and appends an entry; it does not
                        // touch SoftHSM2, whose file store is not meant for concurrent processes.
                        .args(["audit", "verify"])
                        .env("SOFTHSM2_CONF", &conf)
                        .stdout(std::process::Stdio::null())
                        .status()
                        .unwrap();
                    assert!(st.success());
                }
            })
        })
        .collect();
    for c in children {
        c.join().unwrap();
    }
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "{out}");
    let conn = Connection::open(env.data.database()).unwrap();
    let verifies: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'audit.verify' AND outcome = 'success'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        verifies,
        3 * per_process + 1,
        "every process saw an intact chain and recorded it (and so did the final check)"
    );
}

#[test]
fn export_with_checkpoint_anchors_what_was_exported() {
    let env = env_with_token();
    let out = env.dir.path().join("log.csv");
    let (code, stdout, err) = tdekey(
        &env,
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            "--checkpoint",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("Checkpoint 1 written"), "{stdout}");
    let (code, out) = verify(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 checkpoint verified in the HSM"), "{out}");
}

#[test]
fn a_database_locked_past_the_busy_timeout_is_reported() {
    let env = env_with_token();
    let (code, _, err) = tdekey(&env, &["hsm", "info"]);
    assert_eq!(code, 0, "{err}");
    let conn = Connection::open(env.data.database()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO settings VALUES ('lock', 'held');")
        .unwrap();
    let (code, out) = verify(&env, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stayed locked by another process for more than 5 seconds"),
        "{out}"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    let (code, out) = verify(&env, false);
    assert_eq!(code, 0, "after the lock is released: {out}");
}

/// The README's `canonical(row)`, written again from its words (not tdekey's code): for seq,
/// ts_ms, os_user, hsm_user, host, action, target, outcome and details in that order, a 4-byte
/// big-endian length and the UTF-8 bytes (integers as decimal text); a missing hsm_user is the
/// length 0xFFFFFFFF with no bytes.
fn readme_canonical(r: &AuditRow) -> Vec<u8> {
    let mut out = Vec::new();
    let fields: [Option<String>; 9] = [
        Some(r.seq.to_string()),
        Some(r.ts_ms.to_string()),
        Some(r.os_user.clone()),
        r.hsm_user.clone(),
        Some(r.host.clone()),
        Some(r.action.clone()),
        Some(r.target.clone()),
        Some(r.outcome.clone()),
        Some(r.details.clone()),
    ];
    for f in fields {
        match f {
            Some(s) => {
                out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            None => out.extend_from_slice(&[0xff; 4]),
        }
    }
    out
}

/// The README's `hash = SHA-256(prev_hash || canonical(row))`.
fn readme_hash(prev: &[u8; 32], r: &AuditRow) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(prev)
        .chain_update(readme_canonical(r))
        .finalize()
        .into()
}

/// The README's checkpoint message: "tdekey-audit-checkpoint-v1" || seq (8 bytes, big-endian)
/// || head hash.
fn readme_checkpoint_message(seq: i64, head: &[u8]) -> Vec<u8> {
    [
        b"tdekey-audit-checkpoint-v1".as_slice(),
        &seq.to_be_bytes(),
        head,
    ]
    .concat()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// A fixed entry with an HSM user and a non-ASCII target (lengths count bytes, not characters).
fn kat_entry() -> AuditRow {
    AuditRow {
        seq: 7,
        ts_ms: 1_795_493_945_610,
        os_user: "oracle".into(),
        hsm_user: Some("cu_tde".into()),
        host: "db01.example.org".into(),
        action: "key.generate".into(),
        target: "ORACLE.TDE.HSM.MK.06 (clé)".into(),
        outcome: "success".into(),
        details: r#"{"bits":256,"via":"cli"}"#.into(),
        prev_hash: std::array::from_fn(|i| i as u8),
        hash: [0; 32],
    }
}

/// A fixed first entry: no HSM user (0xFFFFFFFF), an empty target (length 0), chained from 32
/// zero bytes.
fn kat_first_entry() -> AuditRow {
    AuditRow {
        seq: 1,
        ts_ms: 1_700_000_000_000,
        os_user: "root".into(),
        hsm_user: None,
        host: "h".into(),
        action: "audit.verify".into(),
        target: String::new(),
        outcome: "started".into(),
        details: "{}".into(),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

// Known answers, computed outside tdekey from the README's description (Python's hashlib, hmac
// and struct.pack('>I', len) / struct.pack('>q', seq)).
const KAT_CANONICAL: &str = "00000001370000000d31373935343933393435363130000000066f7261636c650000000663755f74646500000010646230312e6578616d706c652e6f72670000000c6b65792e67656e65726174650000001b4f5241434c452e5444452e48534d2e4d4b2e30362028636cc3a9290000000773756363657373000000187b2262697473223a3235362c22766961223a22636c69227d";
const KAT_HASH: &str = "f7192e1534d740fdce04819d6c1d75c608248e710dcf7f46601f619020d8acf1";
const KAT_FIRST_CANONICAL: &str = "00000001310000000d3137303030303030303030303000000004726f6f74ffffffff00000001680000000c61756469742e766572696679000000000000000773746172746564000000027b7d";
const KAT_FIRST_HASH: &str = "7d0e486bb19fdc1f0b925c024d05e11ae3f2bceb01ed15758af083cf8a4aacff";
/// The checkpoint message for seq 7 and KAT_HASH as the head.
const KAT_CHECKPOINT_MESSAGE: &str = "7464656b65792d61756469742d636865636b706f696e742d76310000000000000007f7192e1534d740fdce04819d6c1d75c608248e710dcf7f46601f619020d8acf1";
/// HMAC-SHA256 of KAT_CHECKPOINT_MESSAGE under the key 0x40, 0x41, …, 0x5f.
const KAT_MAC: &str = "03b1c74ef1486b3aca23f4f44ddd09fcc8c80f61f0962507b7cebdb2bb5ba166";
fn kat_key() -> [u8; 32] {
    std::array::from_fn(|i| 0x40 + i as u8)
}

#[test]
fn the_chain_encoding_and_the_checkpoint_message_are_the_readmes_bytes() {
    let e = kat_entry();
    assert_eq!(hex::encode(tdekey::audit::canonical(&e)), KAT_CANONICAL);
    assert_eq!(hex::encode(row_hash(&e.prev_hash, &e)), KAT_HASH);
    let first = kat_first_entry();
    assert_eq!(
        hex::encode(tdekey::audit::canonical(&first)),
        KAT_FIRST_CANONICAL
    );
    assert_eq!(hex::encode(row_hash(&[0; 32], &first)), KAT_FIRST_HASH);
    // The test's own reading of the README agrees with the known answers too.
    assert_eq!(hex::encode(readme_canonical(&e)), KAT_CANONICAL);
    assert_eq!(hex::encode(readme_hash(&e.prev_hash, &e)), KAT_HASH);

    let head: [u8; 32] = hex::decode(KAT_HASH).unwrap().try_into().unwrap();
    assert_eq!(
        hex::encode(tdekey::audit::checkpoint_message(7, &head)),
        KAT_CHECKPOINT_MESSAGE
    );
    assert_eq!(
        hex::encode(hmac_sha256(
            &kat_key(),
            &hex::decode(KAT_CHECKPOINT_MESSAGE).unwrap()
        )),
        KAT_MAC
    );
}

/// Puts a generic-secret key of known value on the test token as the audit key (what
/// `tdekey audit checkpoint` would otherwise generate, unknown to anyone).
fn import_known_audit_key(env: &Env, key: &[u8]) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, KeyType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let p = Pkcs11::new(&env.module).unwrap();
    match p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = p
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label().trim() == "audit")
        .expect("the audit token");
    let session = p.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN)))
        .unwrap();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(key.to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Label(b"TDEKEY.AUDIT.HMAC".to_vec()),
        ])
        .unwrap();
    session.logout().unwrap();
    drop(session);
    p.finalize().unwrap();
}

#[test]
fn checkpoints_are_the_hsms_hmac_of_the_readmes_message() {
    let env = env_with_token();
    import_known_audit_key(&env, &kat_key());
    // The known answer, from the HSM.
    {
        use tdekey::model::{PinFormat, TokenSelector};
        let mut hsm = tdekey::hsm::Hsm::load(&env.module).unwrap();
        hsm.open(&TokenSelector::Label("audit".into())).unwrap();
        hsm.login("", &tdekey::secret::Secret::from(PIN), PinFormat::Plain)
            .unwrap();
        let head: [u8; 32] = hex::decode(KAT_HASH).unwrap().try_into().unwrap();
        let mac = hsm
            .audit_hmac(&tdekey::audit::checkpoint_message(7, &head))
            .unwrap()
            .expect("the audit key");
        assert_eq!(hex::encode(mac), KAT_MAC);
        hsm.close().unwrap();
    }
    // A real checkpoint of a real log: its HMAC is the README's message under that key, and
    // every stored hash is the README's encoding.
    for _ in 0..2 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Checkpoint 1 written"), "{out}");
    let all = rows(&env.data.database());
    assert!(
        all.iter().all(|r| r.action != "key.generate"),
        "the known key was used, none generated"
    );
    let mut prev = [0u8; 32];
    for r in &all {
        assert_eq!(r.prev_hash, prev, "seq {}", r.seq);
        assert_eq!(readme_hash(&prev, r), r.hash, "seq {}", r.seq);
        prev = r.hash;
    }
    let conn = Connection::open(env.data.database()).unwrap();
    let (seq, head, mac): (i64, Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT seq, head_hash, mac FROM audit_checkpoints",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let at = all.iter().find(|r| r.seq == seq).unwrap();
    assert_eq!(head, at.hash);
    assert_eq!(
        mac,
        hmac_sha256(&kat_key(), &readme_checkpoint_message(seq, &head))
    );
    let (code, out) = verify(&env, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 checkpoint verified in the HSM"), "{out}");
}

/// The permission bits of a file.
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn an_exports_manifest_records_the_chain_head_and_the_checkpoint_verify_reports() {
    let env = env_with_token();
    let (code, _, err) = tdekey(&env, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    for _ in 0..3 {
        let (code, _, err) = tdekey(&env, &["hsm", "info"]);
        assert_eq!(code, 0, "{err}");
    }
    let mut c = env.tdekey();
    c.args(["hsm", "info", "--module", "/nonexistent.so"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    let (code, summary) = verify(&env, false);
    assert_eq!(code, 0, "{summary}");
    let conn = Connection::open(env.data.database()).unwrap();
    let (cp_id, cp_seq): (i64, i64) = conn
        .query_row(
            "SELECT id, seq FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);

    for (name, filter) in [("all.jsonl", None), ("failures.jsonl", Some("failure"))] {
        let out = env.dir.path().join(name);
        let mut args = vec!["audit", "export", "--format", "jsonl"];
        if let Some(o) = filter {
            args.extend(["--outcome", o]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        let mut c = env.tdekey();
        c.args(&args);
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{err}");
        let mpath = tdekey::audit::export::manifest_path(&out);
        assert_eq!(mode(&out), 0o600, "{name}");
        assert_eq!(mode(&mpath), 0o600, "{name} manifest");
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();

        // The chain head: the whole log's last entry when the export ran, which is the
        // export's own `started` entry (audit before acting), whatever the filter.
        let log = rows(&env.data.database());
        let started = log
            .iter()
            .rev()
            .find(|r| r.action == "audit.export" && r.outcome == "started")
            .unwrap();
        let done = log.last().unwrap();
        assert_eq!(done.action, "audit.export");
        assert_eq!(done.outcome, "success");
        assert_eq!(done.seq, started.seq + 1, "nothing between them");
        assert_eq!(m["chain_head"]["seq"], started.seq, "{name}: {m}");
        assert_eq!(
            m["chain_head"]["hash"],
            hex::encode(started.hash),
            "{name}: {m}"
        );
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        match filter {
            None => {
                let last = lines.last().unwrap();
                assert_eq!(last["seq"], m["chain_head"]["seq"]);
                assert_eq!(last["hash"], m["chain_head"]["hash"]);
            }
            Some(_) => {
                assert_eq!(lines.len(), 1, "{lines:?}");
                assert!(
                    m["last_seq"].as_i64().unwrap() < started.seq,
                    "the head is the whole log's, not the filtered export's last entry"
                );
            }
        }

        // The checkpoint: the store's newest one, as `audit verify` names it.
        assert_eq!(m["checkpoint"]["id"], cp_id, "{name}: {m}");
        assert_eq!(m["checkpoint"]["seq"], cp_seq, "{name}: {m}");
        let cp_text = format!(
            "last checkpoint at seq {cp_seq} ({})",
            m["checkpoint"]["created_utc"].as_str().unwrap()
        );
        assert!(summary.contains(&cp_text), "{summary} / {cp_text}");
    }
}
