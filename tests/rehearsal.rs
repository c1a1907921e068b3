//! The Rehearsal connector end to end on a real SoftHSM2 token: a migration from a file wallet
//! to the HSM and two rotations (SET KEY, then USE KEY of a key made on the HSM first), the
//! ORA- errors of wrong orders and wrong passwords, auto-login, reverse migration, persistence
//! across a restart of tdekey, and the token checked afterwards through PKCS#11.

mod common;

use common::{Env, contains};
use tdekey::audit::Auditor;
use tdekey::databases::{Reach, run_statement};
use tdekey::hsm::Hsm;
use tdekey::hsm::KeyTemplate;
use tdekey::model::PinFormat;
use tdekey::model::{ConnectorKind as Kind, DatabaseProfile, DbAuth, Multitenant};
use tdekey::oracle::Connector;
use tdekey::oracle::rehearsal::{self, Rehearsal};
use tdekey::secret::Secret;
use tdekey::tde::labels::{MASTER_KEY_PREFIX, MasterKeyId, classify, hsm_key_id};
use tdekey::tde::output::Row;
use tdekey::tde::request::{Reply, Request};
use tdekey::tde::sql::{Credential, Options};

const PIN: &str = "user-pin-R1";
const WALLET_PW: &str = "Wallet-Pw-R2";
const WRONG_HSM_PIN: &str = "wrong-hsm-pin-R3";
const ROOT: &str = "/u01/app/oracle/admin/FINDB/wallet";

/// Opens (or starts) the rehearsal NAME of this test's data directory on `hsm`.
fn rehearse<'h>(env: &Env, name: &str, mt: Multitenant, hsm: &'h mut Hsm) -> Rehearsal<'h, Hsm> {
    let path = rehearsal::state_path(env.data.root(), name);
    Rehearsal::open(&path, name, mt, hsm, PinFormat::Plain).unwrap()
}

fn hsm_cred(pin: &str) -> Credential {
    Credential::Hsm {
        user: "cu_oracle".into(),
        password: Secret::from(pin),
    }
}

fn wallet() -> Credential {
    Credential::Password(Secret::from(WALLET_PW))
}

fn migrate(wallet_pw: &str, pin: &str) -> Request {
    Request::Migrate {
        hsm_user: "cu_oracle".into(),
        hsm_password: Secret::from(pin),
        wallet_password: Secret::from(wallet_pw),
        backup: Some(Some("pre_hsm".into())),
    }
}

fn run(r: &mut Rehearsal<'_, Hsm>, req: &Request) -> Reply {
    r.run(req)
        .unwrap_or_else(|e| panic!("{}: {e}", req.title()))
        .reply
}

fn code(reply: &Reply) -> String {
    match reply {
        Reply::Error { error, .. } => error.code.clone(),
        other => panic!("expected an ORA- error, got {other:?}"),
    }
}

fn done(reply: &Reply) {
    assert!(matches!(reply, Reply::Done { .. }), "{reply:?}");
}

fn rows(r: &mut Rehearsal<'_, Hsm>, req: &Request) -> Vec<Row> {
    match run(r, req) {
        Reply::Rows { rows } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

/// (WRL_TYPE, STATUS, WALLET_TYPE, WALLET_ORDER) of each V$ENCRYPTION_WALLET row.
fn wallet_state(r: &mut Rehearsal<'_, Hsm>) -> Vec<(String, String, String, String)> {
    rows(r, &Request::QueryWallet)
        .iter()
        .map(|row| {
            let g = |c: &str| row.get(c).unwrap_or("?").to_owned();
            (
                g("WRL_TYPE"),
                g("STATUS"),
                g("WALLET_TYPE"),
                g("WALLET_ORDER"),
            )
        })
        .collect()
}

fn w(t: &str, s: &str, ty: &str, o: &str) -> (String, String, String, String) {
    (t.into(), s.into(), ty.into(), o.into())
}

/// The master keys on the token, through PKCS#11: (label, sensitive, extractable, length).
type KeyFacts = (String, Option<bool>, Option<bool>, Option<u64>);

fn token_master_keys(hsm: &Hsm) -> Vec<KeyFacts> {
    hsm.inventory(&mut |_, _| {})
        .unwrap()
        .into_iter()
        .filter(|o| o.label.starts_with(MASTER_KEY_PREFIX))
        .map(|o| (o.label, o.flags.sensitive, o.flags.extractable, o.value_len))
        .collect()
}

fn current_key(r: &mut Rehearsal<'_, Hsm>) -> String {
    let keys = rows(r, &Request::QueryKeys);
    let newest = keys
        .iter()
        .max_by_key(|k| k.get("ACTIVATION_TIME").unwrap_or("").to_owned())
        .expect("a key");
    newest.get("KEY_ID").unwrap().to_owned()
}

#[test]
fn a_full_migration_and_two_rotations_leave_real_keys_on_the_token() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    let path = rehearsal::state_path(env.data.root(), "FINDB");
    let mut r = rehearse(&env, "FINDB", Multitenant::NonCdb, &mut hsm);

    // A fresh instance: nothing configured, and the wrong orders fail as Oracle's do.
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "NOT_AVAILABLE", "UNKNOWN", "SINGLE")]
    );
    let set_file = Request::SetTdeConfiguration {
        value: "file".into(),
        all_instances: false,
    };
    let reply = run(&mut r, &set_file);
    assert_eq!(
        code(&reply),
        "ORA-32017",
        "TDE_CONFIGURATION before WALLET_ROOT"
    );
    assert!(reply.summary().contains("ORA-32017"));
    r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "OPEN", "PASSWORD", "SINGLE")]
    );
    let wallet_rows = rows(&mut r, &Request::QueryWallet);
    assert_eq!(
        wallet_rows[0].get("WRL_PARAMETER"),
        Some(format!("{ROOT}/tde/").as_str())
    );
    assert_eq!(wallet_rows[0].get("FULLY_BACKED_UP"), Some("NO"));
    let file_key = current_key(&mut r);
    assert!(file_key.starts_with('A'), "{file_key}");

    assert_eq!(
        code(&run(
            &mut r,
            &Request::CreateKeystore {
                password: Secret::from(WALLET_PW)
            }
        )),
        "ORA-46630"
    );
    assert_eq!(
        code(&run(
            &mut r,
            &Request::OpenKeystore {
                credential: wallet(),
                all_containers: false
            }
        )),
        "ORA-28354"
    );
    let no_backup = Request::SetKey {
        tag: None,
        credential: wallet(),
        options: Options::default(),
    };
    assert_eq!(code(&run(&mut r, &no_backup)), "ORA-46631");
    // Migrating while TDE_CONFIGURATION is FILE is refused, with a note saying what to do.
    let a = r.run(&migrate(WALLET_PW, PIN)).unwrap();
    assert_eq!(code(&a.reply), "ORA-28366");
    assert!(
        a.notes.iter().any(|n| n.contains("HSM|FILE")),
        "{:?}",
        a.notes
    );

    // TDE_CONFIGURATION changed under an open keystore waits for the restart.
    let a = r
        .run(&Request::SetTdeConfiguration {
            value: "HSM|FILE".into(),
            all_instances: true,
        })
        .unwrap();
    done(&a.reply);
    assert!(
        a.notes.iter().any(|n| n.contains("restarts")),
        "{:?}",
        a.notes
    );
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "OPEN", "PASSWORD", "SINGLE")]
    );
    done(&run(&mut r, &Request::Restart));
    assert_eq!(
        wallet_state(&mut r),
        vec![
            w("HSM", "CLOSED", "UNKNOWN", "PRIMARY"),
            w("FILE", "CLOSED", "UNKNOWN", "SECONDARY")
        ]
    );

    // Wrong passwords: the wallet's, then the HSM's (checked against the token).
    assert_eq!(
        code(&run(&mut r, &migrate("not-the-wallet-pw", PIN))),
        "ORA-28353"
    );
    match run(&mut r, &migrate(WALLET_PW, "not-the-pin")) {
        Reply::Error { error, more } => {
            assert_eq!(error.code, "ORA-28353");
            assert_eq!(more[0].code, "ORA-28407");
        }
        other => panic!("{other:?}"),
    }
    assert!(token_master_keys(r_hsm(&mut r)).is_empty());

    // The migration: a real AES-256 key on the token, HSM primary, file secondary.
    let a = r.run(&migrate(WALLET_PW, PIN)).unwrap();
    done(&a.reply);
    assert!(
        a.notes.iter().any(|n| n.contains("_pre_hsm.p12")),
        "{:?}",
        a.notes
    );
    let created_key = a
        .hsm_created
        .iter()
        .find(|l| l.starts_with(MASTER_KEY_PREFIX))
        .expect("a master key was created")
        .clone();
    assert!(
        a.hsm_created
            .iter()
            .any(|l| l == "DATA_OBJECT_SUPPORTED_IDEN")
    );
    assert!(
        a.hsm_created
            .iter()
            .any(|l| l.starts_with("ORACLE.SECURITY.KM.ENCRYPTION."))
    );
    assert_eq!(
        wallet_state(&mut r),
        vec![
            w("HSM", "OPEN", "HSM", "PRIMARY"),
            w("FILE", "OPEN", "PASSWORD", "SECONDARY")
        ]
    );
    let id = classify(&created_key).master_key().unwrap();
    assert_eq!(current_key(&mut r), hsm_key_id(&id));
    assert_eq!(code(&run(&mut r, &migrate(WALLET_PW, PIN))), "ORA-28366");

    // Rotation 1: Oracle generates the new key (SET KEY).
    let a = r
        .run(&Request::SetKey {
            tag: Some("rotation-1".into()),
            credential: hsm_cred(PIN),
            options: Options::default(),
        })
        .unwrap();
    done(&a.reply);
    let second = a
        .hsm_created
        .iter()
        .find(|l| l.starts_with(MASTER_KEY_PREFIX))
        .unwrap()
        .clone();
    assert_ne!(second, created_key);

    // Rotation 2: a key made on the HSM first, then USE KEY. An id not on the token is ORA-28374.
    let third = MasterKeyId(*b"tdekey-rotate-02");
    let missing = MasterKeyId(*b"not-on-the-token");
    assert_eq!(
        code(&run(
            &mut r,
            &Request::UseKey {
                id: missing,
                tag: None,
                credential: hsm_cred(PIN)
            }
        )),
        "ORA-28374"
    );
    r_hsm(&mut r)
        .generate_aes_key(&third.hsm_label(), KeyTemplate::ORACLE_MASTER_KEY)
        .unwrap();
    let a = r
        .run(&Request::UseKey {
            id: third,
            tag: Some("rotation-2".into()),
            credential: hsm_cred(PIN),
        })
        .unwrap();
    done(&a.reply);
    assert_eq!(current_key(&mut r), hsm_key_id(&third));
    let keys = rows(&mut r, &Request::QueryKeys);
    assert_eq!(keys.len(), 4, "one file key and three HSM keys");
    assert_eq!(
        keys.iter()
            .filter(|k| k.get("KEYSTORE_TYPE") == Some("HSM"))
            .count(),
        3
    );
    assert!(
        keys.iter()
            .any(|k| k.get("TAG") == Some("rotation-2") && k.get("CREATOR_DBNAME") == Some("FINDB"))
    );
    drop(r);

    // Checked through PKCS#11: three AES-256 master keys, sensitive and not extractable.
    let mut on_token = token_master_keys(&hsm);
    on_token.sort();
    let mut expected = vec![created_key.clone(), second.clone(), third.hsm_label()];
    expected.sort();
    assert_eq!(
        on_token.iter().map(|k| k.0.clone()).collect::<Vec<_>>(),
        expected
    );
    for (label, sensitive, extractable, len) in &on_token {
        assert_eq!(*sensitive, Some(true), "{label}");
        assert_eq!(*extractable, Some(false), "{label}");
        assert_eq!(*len, Some(32), "{label}");
    }

    // The state survives a restart of tdekey, and holds no password.
    let mut r = rehearse(&env, "FINDB", Multitenant::NonCdb, &mut hsm);
    assert_eq!(current_key(&mut r), hsm_key_id(&third));
    let bytes = std::fs::read(&path).unwrap();
    for secret in [PIN, WALLET_PW, "not-the-pin", "not-the-wallet-pw"] {
        assert!(!contains(&bytes, secret), "{secret} in the state file");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// The rehearsal's HSM, for checks in the middle of a test.
fn r_hsm<'a>(r: &'a mut Rehearsal<'_, Hsm>) -> &'a mut Hsm {
    r.keystore()
}

#[test]
fn auto_login_external_store_and_reverse_migration() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    let mut r = rehearse(&env, "CDB1", Multitenant::CdbUnited, &mut hsm);
    r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
    // A CDB: the root and a PDB, each with its own key (the seed used CONTAINER = ALL).
    let state = rows(&mut r, &Request::QueryWallet);
    assert_eq!(
        state
            .iter()
            .map(|x| (x.get("CON_ID").unwrap(), x.get("KEYSTORE_MODE").unwrap()))
            .collect::<Vec<_>>(),
        vec![("1", "NONE"), ("3", "UNITED")]
    );
    done(&run(
        &mut r,
        &Request::SetTdeConfiguration {
            value: "HSM|FILE".into(),
            all_instances: false,
        },
    ));
    done(&run(&mut r, &Request::Restart));
    // MIGRATE has no CONTAINER clause: run in the root, it re-keys the root and every PDB.
    let m = migrate(WALLET_PW, PIN);
    assert!(!m.statement().unwrap().display.contains("CONTAINER"));
    let a = r.run(&m).unwrap();
    done(&a.reply);
    assert_eq!(
        a.hsm_created
            .iter()
            .filter(|l| l.starts_with(MASTER_KEY_PREFIX))
            .count(),
        2,
        "one key per container"
    );

    // HSM auto-login (reference/oracle-tde.md, "Statements"): the secret HSM_PASSWORD in the
    // software keystore WITH BACKUP, the password keystore closed IDENTIFIED BY its password,
    // an auto-login keystore made from it; after a restart the HSM opens itself.
    done(&run(
        &mut r,
        &Request::AddHsmSecret {
            hsm_user: "cu_oracle".into(),
            hsm_password: Secret::from(PIN),
            wallet_password: Secret::from(WALLET_PW),
            force: false,
            backup_tag: Some("hsm_pw".into()),
        },
    ));
    // A bare CLOSE closes an auto-login keystore only: here the keystores are password and HSM.
    assert_eq!(
        code(&run(
            &mut r,
            &Request::CloseKeystore {
                credential: None,
                all_containers: true,
            },
        )),
        "ORA-28391"
    );
    done(&run(
        &mut r,
        &Request::CloseKeystore {
            credential: Some(wallet()),
            all_containers: true,
        },
    ));
    done(&run(
        &mut r,
        &Request::CreateAutoLogin {
            dir: format!("{ROOT}/tde"),
            password: Secret::from(WALLET_PW),
            local: true,
        },
    ));
    // Without the restart nothing opens by itself yet: the HSM keystore was left open here.
    done(&run(&mut r, &Request::Restart));
    assert_eq!(
        wallet_state(&mut r),
        vec![
            w("HSM", "OPEN", "HSM", "PRIMARY"),
            w("FILE", "OPEN", "LOCAL_AUTOLOGIN", "SECONDARY"),
            w("HSM", "OPEN", "HSM", "PRIMARY"),
            w("FILE", "OPEN", "LOCAL_AUTOLOGIN", "SECONDARY"),
        ]
    );
    // The external store is its own choice: it lets a statement say EXTERNAL STORE.
    done(&run(
        &mut r,
        &Request::AddExternalStoreSecret {
            hsm_user: "cu_oracle".into(),
            hsm_password: Secret::from(PIN),
            seps_dir: format!("{ROOT}/tde_seps"),
            local: false,
        },
    ));
    // Close the HSM keystore with its credential and the auto-login file keystore bare, then
    // open with EXTERNAL STORE.
    done(&run(
        &mut r,
        &Request::CloseKeystore {
            credential: Some(hsm_cred(PIN)),
            all_containers: true,
        },
    ));
    done(&run(
        &mut r,
        &Request::CloseKeystore {
            credential: None,
            all_containers: true,
        },
    ));
    assert_eq!(
        code(&run(
            &mut r,
            &Request::SetKey {
                tag: None,
                credential: Credential::ExternalStore,
                options: Options::default()
            }
        )),
        "ORA-28365"
    );
    done(&run(
        &mut r,
        &Request::OpenKeystore {
            credential: Credential::ExternalStore,
            all_containers: true,
        },
    ));
    done(&run(
        &mut r,
        &Request::OpenKeystore {
            credential: wallet(),
            all_containers: true,
        },
    ));

    // Reverse migration needs FILE|HSM, which waits until the keystores close.
    let rev = Request::ReverseMigrate {
        wallet_password: Secret::from(WALLET_PW),
        hsm_user: Some("cu_oracle".into()),
        hsm_password: Secret::from(PIN),
    };
    assert_eq!(code(&run(&mut r, &rev)), "ORA-28366");
    done(&run(
        &mut r,
        &Request::SetTdeConfiguration {
            value: "FILE|HSM".into(),
            all_instances: false,
        },
    ));
    done(&run(
        &mut r,
        &Request::CloseKeystore {
            credential: Some(hsm_cred(PIN)),
            all_containers: true,
        },
    ));
    let a = r
        .run(&Request::CloseKeystore {
            credential: Some(wallet()),
            all_containers: true,
        })
        .unwrap();
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("FILE|HSM is now in effect")),
        "{:?}",
        a.notes
    );
    done(&run(&mut r, &rev));
    let keys = rows(&mut r, &Request::QueryKeys);
    let newest = keys
        .iter()
        .filter(|k| k.get("CON_ID") == Some("1"))
        .max_by_key(|k| k.get("ACTIVATION_TIME").unwrap().to_owned())
        .unwrap();
    assert_eq!(newest.get("KEYSTORE_TYPE"), Some("SOFTWARE KEYSTORE"));
    // tdekey never deletes a master key: both HSM keys are still on the token.
    assert_eq!(token_master_keys(r.keystore()).len(), 2);
}

#[test]
fn statements_through_the_rehearsal_are_audited_without_secrets() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    let db = DatabaseProfile {
        id: None,
        name: "AUD".into(),
        connector: Kind::Rehearsal,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: tdekey::model::ConnectAs::Sysdba,
        wallet_root: Some(ROOT.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    };
    let mut auditor =
        Auditor::new(tdekey::store::Store::open(&env.data.database()).expect("store"));
    {
        let mut r = rehearse(&env, "AUD", Multitenant::NonCdb, &mut hsm);
        r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
    }
    // No one logged in: the statement's HSM password logs in, as Oracle logs itself in, and a
    // wrong one is a failed C_Login with a known wrong PIN.
    hsm.logout().unwrap();
    {
        for req in [
            Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false,
            },
            Request::Restart,
            migrate(WALLET_PW, WRONG_HSM_PIN),
            migrate("wrong-wallet-pw", PIN),
            migrate(WALLET_PW, PIN),
        ] {
            let reach = Reach {
                hsm: Some(&mut hsm),
                ..Reach::new(&env.data)
            };
            run_statement(&mut auditor, &db, &req, reach).unwrap();
        }
    }
    let mut entries = Vec::new();
    auditor
        .store()
        .for_each_audit_row(|row| {
            entries.push((row.action, row.outcome, row.target, row.details));
            true
        })
        .unwrap();
    let statements: Vec<_> = entries
        .iter()
        .filter(|e| e.0 == "oracle.statement")
        .collect();
    assert_eq!(
        hsm.failed_logins(),
        1,
        "the wrong HSM password was a failed login"
    );
    assert_eq!(statements.len(), 10, "started + outcome for 5 statements");
    assert!(statements.iter().all(|e| e.2 == "database AUD"));
    assert!(statements.iter().all(|e| e.3.contains("Rehearsal")));
    let outcomes: Vec<&str> = statements
        .iter()
        .filter(|e| e.1 != "started")
        .map(|e| e.1.as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["success", "success", "failure", "failure", "success"]
    );
    assert!(
        statements
            .iter()
            .any(|e| e.3.contains("ORA-28353") && e.3.contains("CKR_PIN_INCORRECT")),
        "the wrong HSM password is refused by the HSM: {statements:?}"
    );
    assert!(
        statements
            .iter()
            .any(|e| e.3.contains("ORA-28353") && e.3.contains("<hidden>"))
    );
    let generated: Vec<_> = entries.iter().filter(|e| e.0 == "key.generate").collect();
    assert_eq!(generated.len(), 1);
    assert!(generated[0].2.starts_with(MASTER_KEY_PREFIX));
    assert!(generated[0].3.contains("Rehearsal"));
    // The database, its WAL, the Rehearsal's state file and simulated host: no secret, and
    // not the wrong HSM password of the failed login either.
    let scan =
        env.assert_no_secrets_written(&[PIN, WALLET_PW, "wrong-wallet-pw", WRONG_HSM_PIN], &[]);
    assert!(scan.read("AUD.json"), "{:?}", scan.files);
    assert!(
        contains(&scan.bytes, "CKR_PIN_INCORRECT"),
        "the search reads the log"
    );
}

#[test]
fn a_rehearsal_refuses_another_token_and_a_corrupt_state() {
    let env = Env::new();
    let mut hsm = env.token("first", PIN);
    let path = rehearsal::state_path(env.data.root(), "T");
    {
        let mut r = rehearse(&env, "T", Multitenant::NonCdb, &mut hsm);
        r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
        done(&run(
            &mut r,
            &Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false,
            },
        ));
        done(&run(&mut r, &Request::Restart));
        done(&run(
            &mut r,
            &Request::OpenKeystore {
                credential: hsm_cred(PIN),
                all_containers: false,
            },
        ));
    }
    hsm.close().unwrap();
    let mut other = env.token("second", PIN);
    let mut r = rehearse(&env, "T", Multitenant::NonCdb, &mut other);
    let err = r.run(&migrate(WALLET_PW, PIN)).unwrap_err().to_string();
    assert!(
        err.contains("\"first\"") && err.contains("\"second\""),
        "{err}"
    );
    drop(r);

    std::fs::write(&path, b"{ not json").unwrap();
    let err = Rehearsal::open(
        &path,
        "T",
        Multitenant::NonCdb,
        &mut other,
        PinFormat::Plain,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("not readable") && err.contains("Move it away"),
        "{err}"
    );
    let err = Rehearsal::open(
        &rehearsal::state_path(env.data.root(), "ISO"),
        "ISO",
        Multitenant::CdbIsolated,
        &mut other,
        PinFormat::Plain,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("isolated"), "{err}");
}

#[test]
fn the_demo_token_comes_with_a_rehearsal_database_ready_to_migrate() {
    let env = Env::new();
    let demo = || {
        let mut c = env.tdekey();
        c.args(["hsm", "demo-token"]);
        common::run(c)
    };
    let (code, out, err) = demo();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Created the Rehearsal database"), "{out}");
    let (code, out, err) = demo();
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("Created the Rehearsal database"), "made once");

    let mut c = env.tdekey();
    c.args(["db", "query", "Rehearsal demo", "wallet", "--json"]);
    let (code, out, err) = common::run(c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rehearsal"], true);
    assert_eq!(v["connector"], "Rehearsal (simulated Oracle 19c)");
    let row = &v["reply"]["rows"][0];
    assert_eq!(row["WRL_TYPE"], "FILE");
    assert_eq!(row["STATUS"], "OPEN");
    assert_eq!(row["WALLET_TYPE"], "PASSWORD");

    let mut c = env.tdekey();
    c.args(["db", "query", "Rehearsal demo", "tde-configuration"]);
    let (code, out, err) = common::run(c);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("REHEARSAL: a simulated Oracle 19c keystore"),
        "{out}"
    );
    assert!(out.contains("KEYSTORE_CONFIGURATION=FILE"), "{out}");
}

#[test]
fn keystores_open_without_a_master_key_say_so() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    let mut r = rehearse(&env, "NEWDB", Multitenant::NonCdb, &mut hsm);
    // No WALLET_ROOT yet: creating a keystore is refused.
    let create = Request::CreateKeystore {
        password: Secret::from(WALLET_PW),
    };
    assert_eq!(code(&run(&mut r, &create)), "ORA-46693");
    for req in [
        Request::SetWalletRoot {
            dir: ROOT.into(),
            all_instances: false,
        },
        Request::Restart,
        Request::SetTdeConfiguration {
            value: "FILE".into(),
            all_instances: false,
        },
    ] {
        done(&run(&mut r, &req));
    }
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "NOT_AVAILABLE", "UNKNOWN", "SINGLE")]
    );
    done(&run(&mut r, &create));
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "CLOSED", "UNKNOWN", "SINGLE")]
    );
    let open_file = Request::OpenKeystore {
        credential: wallet(),
        all_containers: false,
    };
    done(&run(&mut r, &open_file));
    assert_eq!(
        wallet_state(&mut r),
        vec![w("FILE", "OPEN_NO_MASTER_KEY", "PASSWORD", "SINGLE")]
    );
    assert!(rows(&mut r, &Request::QueryKeys).is_empty());
    // Migrating a keystore with no master key: ORA-28362 (after switching to HSM|FILE).
    done(&run(
        &mut r,
        &Request::CloseKeystore {
            credential: Some(wallet()),
            all_containers: false,
        },
    ));
    done(&run(
        &mut r,
        &Request::SetTdeConfiguration {
            value: "HSM|FILE".into(),
            all_instances: false,
        },
    ));
    done(&run(
        &mut r,
        &Request::OpenKeystore {
            credential: hsm_cred(PIN),
            all_containers: false,
        },
    ));
    assert_eq!(
        wallet_state(&mut r),
        vec![
            w("HSM", "OPEN_NO_MASTER_KEY", "HSM", "PRIMARY"),
            w("FILE", "CLOSED", "UNKNOWN", "SECONDARY")
        ]
    );
    assert_eq!(code(&run(&mut r, &migrate(WALLET_PW, PIN))), "ORA-28362");
}

/// A statement that logs tdekey in with its HSM password and then fails (here: its outcome
/// cannot be recorded) does not leave that login standing behind the window's back: the login
/// and the logout that undoes it are both on record.
#[test]
fn a_failed_statement_does_not_leave_its_hsm_login_behind() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    hsm.logout().unwrap();
    let db = DatabaseProfile {
        id: None,
        name: "UNDO".into(),
        connector: Kind::Rehearsal,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: tdekey::model::ConnectAs::Sysdba,
        wallet_root: Some(ROOT.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    };
    {
        let mut r = rehearse(&env, "UNDO", Multitenant::NonCdb, &mut hsm);
        r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
        done(&run(
            &mut r,
            &Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false,
            },
        ));
        done(&run(&mut r, &Request::Restart));
    }
    assert!(!hsm.logged_in());
    let mut auditor =
        Auditor::new(tdekey::store::Store::open(&env.data.database()).expect("store"));
    // The log takes the statement's start, then refuses its successful outcome.
    let c = rusqlite::Connection::open(env.data.database()).unwrap();
    c.execute_batch(
        "CREATE TRIGGER test_refuses_outcomes BEFORE INSERT ON audit_log
         WHEN new.action = 'oracle.statement' AND new.outcome = 'success'
         BEGIN SELECT RAISE(ABORT, 'this test refuses statement outcomes'); END;",
    )
    .unwrap();
    drop(c);
    let reach = Reach {
        hsm: Some(&mut hsm),
        ..Reach::new(&env.data)
    };
    let err = run_statement(&mut auditor, &db, &migrate(WALLET_PW, PIN), reach).unwrap_err();
    assert!(
        err.to_string()
            .contains("could not be written to the audit log"),
        "{err}"
    );
    assert!(!hsm.logged_in(), "the statement's login was undone");
    let rows = auditor.store().recent_audit(4).unwrap();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .rev()
        .map(|r| (r.action.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("oracle.statement", "started"),
            ("hsm.login", "success"),
            ("hsm.logout", "success")
        ]
    );
    assert!(rows[1].details.contains("Rehearsal statement: Migrate"));
}

#[test]
fn set_key_for_all_containers_with_a_pdb_closed_rekeys_the_open_ones_and_answers_ora_46663() {
    let env = Env::new();
    let mut hsm = env.token("rehearsal", PIN);
    let path = rehearsal::state_path(env.data.root(), "CDBP");
    {
        let mut r = rehearse(&env, "CDBP", Multitenant::CdbUnited, &mut hsm);
        r.seed(ROOT, &Secret::from(WALLET_PW)).unwrap();
        done(&run(
            &mut r,
            &Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false,
            },
        ));
        done(&run(&mut r, &Request::Restart));
        done(&run(
            &mut r,
            &Request::OpenKeystore {
                credential: wallet(),
                all_containers: true,
            },
        ));
        done(&run(&mut r, &migrate(WALLET_PW, PIN)));
    }
    // PDB1's HSM keystore closed (the simulated database's state, as a DBA closing it there
    // would leave it).
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["containers"][1]["hsm_open"] = serde_json::Value::Bool(false);
    std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();

    let mut r = rehearse(&env, "CDBP", Multitenant::CdbUnited, &mut hsm);
    let before = token_master_keys(r.keystore()).len();
    let a = r
        .run(&Request::SetKey {
            tag: None,
            credential: hsm_cred(PIN),
            options: Options {
                backup: None,
                all_containers: true,
            },
        })
        .unwrap();
    // The 21c text of a real output (tests/fixtures/oracle/feedback/ora-46663-*.txt).
    match &a.reply {
        Reply::Error { error, .. } => {
            assert_eq!(error.code, "ORA-46663");
            assert_eq!(error.text, "master keys not created for all PDBs for REKEY");
        }
        other => panic!("{other:?}"),
    }
    assert!(a.notes.iter().any(|n| n.contains("PDB1")), "{:?}", a.notes);
    // The root got a new key on the token; the PDB kept its own.
    assert_eq!(token_master_keys(r.keystore()).len(), before + 1);
    let keys = rows(&mut r, &Request::QueryKeys);
    let root_hsm = keys
        .iter()
        .filter(|k| k.get("CON_ID") == Some("1") && k.get("KEYSTORE_TYPE") == Some("HSM"))
        .count();
    assert_eq!(root_hsm, 2, "{keys:?}");
}
