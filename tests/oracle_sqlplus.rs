//! The SQL*Plus connector against a stand-in `sqlplus` (tests/standin/oracle_home/bin/sqlplus)
//! that records how it was called and replays output in the form SQL*Plus 19c prints.

mod common;

use common::contains;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tdekey::audit::Auditor;
use tdekey::databases::{Reach, run_statement};
use tdekey::model::{ConnectorKind as Kind, DatabaseProfile, DbAuth, Multitenant};
use tdekey::oracle::sqlplus::SqlPlus;
use tdekey::oracle::{Connector, OracleError};
use tdekey::paths::DataDir;
use tdekey::secret::Secret;
use tdekey::tde::request::{ParameterName, Reply, Request};
use tdekey::tde::sql::Credential;

const DB_PW: &str = "Right-Db-Pw-1";
const HSM_PW: &str = "Hsm-Secret-9";

fn home() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/standin/oracle_home")
        .to_string_lossy()
        .into_owned()
}

fn profile(sid: &str, auth: DbAuth) -> DatabaseProfile {
    DatabaseProfile {
        id: None,
        name: "FIN".into(),
        connector: Kind::Sqlplus,
        oracle_home: Some(home()),
        oracle_sid: Some(sid.into()),
        connect_string: match auth {
            DbAuth::Os => None,
            DbAuth::User(_) => Some("dbhost:1521/FINPDB".into()),
        },
        auth,
        connect_as: tdekey::model::ConnectAs::Syskm,
        wallet_root: None,
        multitenant: Multitenant::CdbUnited,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    }
}

/// A directory the stand-in writes its argv, environment and stdin to.
fn log_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    // SAFETY: nextest runs each test in its own process; set before any thread starts.
    unsafe { std::env::set_var("SQLPLUS_STANDIN_LOG", d.path()) };
    d
}

fn read(d: &tempfile::TempDir, f: &str) -> String {
    std::fs::read_to_string(d.path().join(f)).unwrap_or_default()
}

fn user() -> DbAuth {
    DbAuth::User("c##sec_admin".into())
}

#[test]
fn queries_come_back_as_rows_with_os_authentication() {
    let log = log_dir();
    let mut c = SqlPlus::new(&profile("FIN", DbAuth::Os), None).unwrap();
    match c.run(&Request::QueryWallet).unwrap().reply {
        Reply::Rows { rows } => {
            assert_eq!(rows.len(), 4);
            assert_eq!(rows[0].get("WRL_TYPE"), Some("HSM"));
            assert_eq!(rows[0].get("WRL_PARAMETER"), Some(""));
            assert_eq!(rows[3].get("KEYSTORE_MODE"), Some("UNITED"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(read(&log, "argv"), "-S\n-L\n/nolog\n");
    let env = read(&log, "env");
    assert!(env.contains("ORACLE_SID=FIN\n"), "{env}");
    assert!(env.contains(&format!("ORACLE_HOME={}\n", home())));
    assert!(env.contains("NLS_LANG=AMERICAN_AMERICA.AL32UTF8\n"));
    let stdin = read(&log, "stdin");
    assert!(stdin.contains("CONNECT / AS SYSKM\n"), "{stdin}");
    assert!(stdin.contains("WHENEVER SQLERROR EXIT SQL.SQLCODE\n"));

    match c.run(&Request::QueryKeys).unwrap().reply {
        Reply::Rows { rows } => assert_eq!(rows[1].get("KEYSTORE_TYPE"), Some("HSM")),
        other => panic!("{other:?}"),
    }
    // The session's NLS settings are set before the statement, feedback off.
    assert!(
        stdin.contains(tdekey::tde::sqlplus::NLS_SETTINGS),
        "{stdin}"
    );
    // SYSKM may not read V$PARAMETER: the refusal is the answer.
    match c
        .run(&Request::ShowParameter(ParameterName::WalletRoot))
        .unwrap()
        .reply
    {
        Reply::Error { error, .. } => assert_eq!(error.code, "ORA-01031"),
        other => panic!("{other:?}"),
    }
    // AS SYSDBA, as the profile says, it may.
    let sysdba = DatabaseProfile {
        connect_as: tdekey::model::ConnectAs::Sysdba,
        ..profile("FIN", DbAuth::Os)
    };
    let mut c = SqlPlus::new(&sysdba, None).unwrap();
    match c
        .run(&Request::ShowParameter(ParameterName::WalletRoot))
        .unwrap()
        .reply
    {
        Reply::Parameter { parameter } => {
            assert_eq!(parameter.value, "/u01/app/oracle/admin/FIN/wallet")
        }
        other => panic!("{other:?}"),
    }
    assert!(read(&log, "stdin").contains("CONNECT / AS SYSDBA\n"));
    match c.run(&Request::QueryPrivileges).unwrap().reply {
        Reply::Rows { rows } => {
            let p = tdekey::tde::privileges::SessionPrivileges::from_rows(&rows);
            assert!(p.has("ALTER SYSTEM") && p.has("ADMINISTER KEY MANAGEMENT"));
        }
        other => panic!("{other:?}"),
    }
    // The stand-in has no recording for tde_configuration and answers as SQL*Plus does for a
    // command it does not know: an SP2- error is an answer too, never a success.
    let a = c
        .run(&Request::ShowParameter(ParameterName::TdeConfiguration))
        .unwrap();
    assert!(a.reply.is_error());
    assert!(a.reply.summary().starts_with("SP2-0734"), "{:?}", a.reply);
}

#[test]
fn passwords_go_through_stdin_only() {
    let log = log_dir();
    // A password the user gave tdekey through its environment is not passed on to sqlplus.
    // SAFETY: set before any thread starts.
    unsafe { std::env::set_var("TDEKEY_DB_PASSWORD", DB_PW) };
    let mut c = SqlPlus::new(&profile("FIN", user()), Some(Secret::from(DB_PW))).unwrap();
    let open = Request::OpenKeystore {
        credential: Credential::Hsm {
            user: "cu_oracle".into(),
            password: Secret::from(HSM_PW),
        },
        all_containers: true,
    };
    let a = c.run(&open).unwrap();
    assert_eq!(
        a.reply,
        Reply::Done {
            feedback: "keystore altered.".into()
        }
    );
    let stdin = read(&log, "stdin");
    assert!(
        stdin.contains("CONNECT c##sec_admin/\"Right-Db-Pw-1\"@dbhost:1521/FINPDB AS SYSKM"),
        "{stdin}"
    );
    assert!(stdin.contains("IDENTIFIED BY \"cu_oracle:Hsm-Secret-9\" CONTAINER = ALL;"));
    for f in ["argv", "env"] {
        let text = read(&log, f);
        assert!(!text.is_empty(), "{f} was recorded");
        for secret in [DB_PW, HSM_PW] {
            assert!(!text.contains(secret), "{secret} in {f}");
        }
    }
    // AS SYSKM, ALTER SYSTEM is refused (reference/oracle-tde.md, "Who may run what").
    let a = c
        .run(&Request::SetTdeConfiguration {
            value: "HSM|FILE".into(),
            all_instances: true,
        })
        .unwrap();
    assert_eq!(a.reply.summary(), "ORA-01031: insufficient privileges");
}

#[test]
fn oracle_errors_are_answers_and_echoed_secrets_are_not_kept() {
    let _log = log_dir();
    let mut c = SqlPlus::new(&profile("FIN", user()), Some(Secret::from("wrong-db-pw"))).unwrap();
    let a = c.run(&Request::QueryWallet).unwrap();
    assert_eq!(
        a.reply.summary(),
        "ORA-01017: invalid username/password; logon denied"
    );

    let mut c = SqlPlus::new(&profile("FIN", DbAuth::Os), None).unwrap();
    let migrate = |wallet: &str| Request::Migrate {
        hsm_user: "cu_oracle".into(),
        hsm_password: Secret::from(HSM_PW),
        wallet_password: Secret::from(wallet),
        backup: None,
    };
    let a = c.run(&migrate("Wrong-Wallet-Pw")).unwrap();
    assert_eq!(a.reply.summary(), "ORA-28353: failed to open wallet");

    // SQL*Plus echoes the failing line, secrets included: only the ORA- error is kept, and the
    // audit log holds neither password.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.sqlite3");
    let mut auditor = Auditor::new(tdekey::store::Store::open(&db).unwrap());
    let req = migrate("Echoed-Wallet-Pw");
    let data = DataDir::at(dir.path());
    let a = run_statement(
        &mut auditor,
        &profile("ECHO", DbAuth::Os),
        &req,
        Reach::new(&data),
    )
    .unwrap()
    .answer;
    assert_eq!(a.reply.summary(), "ORA-00922: missing or invalid option");
    assert!(!format!("{a:?}").contains("Echoed-Wallet-Pw"));
    drop(auditor);
    let mut bytes = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    assert!(contains(&bytes, "ORA-00922"), "the outcome was recorded");
    assert!(contains(&bytes, "SQL*Plus"));
    for secret in ["Echoed-Wallet-Pw", HSM_PW] {
        assert!(!contains(&bytes, secret), "{secret} in the audit log");
    }
}

#[test]
fn a_missing_sqlplus_a_hung_one_and_a_restart_are_sentences() {
    let _log = log_dir();
    let mut p = profile("FIN", DbAuth::Os);
    p.oracle_home = Some("/nonexistent/oracle/19c".into());
    let err = SqlPlus::new(&p, None)
        .unwrap()
        .run(&Request::QueryWallet)
        .unwrap_err();
    assert!(matches!(err, OracleError::SqlplusMissing { .. }));
    assert!(
        err.to_string()
            .contains("/nonexistent/oracle/19c/bin/sqlplus"),
        "{err}"
    );
    p.oracle_home = None;
    assert!(
        SqlPlus::new(&p, None)
            .unwrap_err()
            .to_string()
            .contains("no ORACLE_HOME")
    );

    let mut c = SqlPlus::new(&profile("SLOW", DbAuth::Os), None)
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let start = Instant::now();
    let err = c.run(&Request::QueryWallet).unwrap_err();
    assert!(
        matches!(err, OracleError::Timeout { seconds: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("may or may not have run"));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the child was stopped"
    );

    let err = SqlPlus::new(&profile("FIN", DbAuth::Os), None)
        .unwrap()
        .run(&Request::Restart)
        .unwrap_err();
    assert!(err.to_string().contains("restart it yourself"), "{err}");

    let mut bad = profile("FIN", DbAuth::User("sys as sysdba".into()));
    assert!(SqlPlus::new(&bad, Some(Secret::from(DB_PW))).is_err());
    bad.auth = user();
    let err = SqlPlus::new(&bad, Some(Secret::from("has\"quote")))
        .unwrap()
        .run(&Request::QueryWallet)
        .unwrap_err();
    assert!(err.to_string().contains("double quote"), "{err}");
}

#[test]
fn db_query_runs_through_each_connector_from_the_command_line() {
    let env = common::Env::new();
    let add = |args: &[&str]| {
        let mut c = env.tdekey();
        c.args(["db", "add"]).args(args);
        let (code, _, err) = common::run(c);
        assert_eq!(code, 0, "{err}");
    };
    add(&[
        "FIN",
        "--connector",
        "sqlplus",
        "--oracle-home",
        &home(),
        "--sid",
        "FIN",
    ]);
    add(&["PASTE", "--connector", "manual"]);

    let mut c = env.tdekey();
    c.args(["db", "query", "FIN", "wallet", "--json"]);
    let (code, out, err) = common::run(c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["reply"]["rows"].as_array().unwrap().len(), 4);
    assert_eq!(v["rehearsal"], false);
    assert!(v["connector"].as_str().unwrap().starts_with("SQL*Plus ("));

    // Manual: the statement goes to stderr, the paste comes on stdin.
    let paste = |text: &str| {
        let mut c = env.tdekey();
        c.args(["db", "query", "PASTE", "wallet-root"]);
        common::run_with_stdin(c, text.as_bytes())
    };
    let recorded = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/standin/replies/wallet_root.csv"),
    )
    .unwrap();
    let (code, out, err) = paste(&recorded);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SHOW PARAMETER wallet_root"), "{err}");
    assert!(
        out.contains("wallet_root (string) = /u01/app/oracle/admin/FIN/wallet"),
        "{out}"
    );
    let (code, _, err) = paste("keystore altered.\n");
    assert_eq!(code, 1);
    assert!(
        err.contains("not an answer to \"Show WALLET_ROOT\""),
        "{err}"
    );
    let (code, out, _) = paste("ORA-01031: insufficient privileges\n");
    assert_eq!(code, 3, "an Oracle error exits 3");
    assert!(out.contains("ORA-01031: insufficient privileges"));
}

#[test]
fn a_statement_whose_connector_cannot_be_built_is_recorded_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut auditor =
        Auditor::new(tdekey::store::Store::open(&dir.path().join("audit.sqlite3")).unwrap());
    let mut p = profile("FIN", DbAuth::Os);
    p.oracle_home = None;
    let req = Request::SetTdeConfiguration {
        value: "HSM|FILE".into(),
        all_instances: false,
    };
    let data = DataDir::at(dir.path());
    let err = run_statement(&mut auditor, &p, &req, Reach::new(&data)).unwrap_err();
    assert!(err.to_string().contains("no ORACLE_HOME"), "{err}");
    let entries = auditor.store().recent_audit(2).unwrap();
    let outcomes: Vec<&str> = entries.iter().rev().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["started", "failure"]);
    assert!(entries[0].details.contains("no ORACLE_HOME"));
    // A query is not a change: nothing is recorded for it.
    let _ = run_statement(&mut auditor, &p, &Request::QueryWallet, Reach::new(&data));
    assert_eq!(auditor.store().recent_audit(10).unwrap().len(), 2);
}
