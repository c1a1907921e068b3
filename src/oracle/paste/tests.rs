//! A paste is read as the answer to the statement it echoes: SQL*Plus transcripts of the
//! statement asked (with or without prompts, CRLF, blank lines, lower case, continuation lines)
//! are accepted; the output of another ADMINISTER KEY MANAGEMENT or ALTER SYSTEM statement is
//! refused with a sentence naming both, whose words never come from the paste.

use super::*;
use crate::oracle::{Connector, Manual, Operator, OracleError};
use crate::secret::Secret;
use crate::tde::request::{Reply, Request};
use crate::tde::sql::{Credential, Options, Statement};

fn open() -> Request {
    Request::OpenKeystore {
        credential: Credential::Password(Secret::from("Wallet-Pw-1")),
        all_containers: false,
    }
}

fn close() -> Request {
    Request::CloseKeystore {
        credential: Some(Credential::Password(Secret::from("Wallet-Pw-1"))),
        all_containers: false,
    }
}

fn migrate() -> Request {
    Request::Migrate {
        hsm_user: "cu_user".into(),
        hsm_password: Secret::from("S3cretPassw0rd"),
        wallet_password: Secret::from("Wallet-Pw-1"),
        backup: Some(Some("pre_hsm".into())),
    }
}

fn use_key(hex: &str) -> Request {
    Request::UseKey {
        id: crate::tde::labels::parse_use_key_id(hex).unwrap(),
        tag: None,
        credential: Credential::Hsm {
            user: "cu_user".into(),
            password: Secret::from("S3cretPassw0rd"),
        },
    }
}

/// What the Manual connector reads for `request` from `paste`.
fn read(request: &Request, paste: &str) -> Result<Reply, String> {
    struct Once(Option<String>, Option<String>);
    impl Operator for Once {
        fn ask(
            &mut self,
            request: &Request,
            _: &Statement,
            problem: Option<&str>,
        ) -> Result<String, OracleError> {
            if problem.is_some() {
                self.1 = problem.map(str::to_owned);
            }
            self.0.take().ok_or(OracleError::Cancelled {
                title: request.title(),
            })
        }
    }
    let mut m = Manual::new(Once(Some(paste.to_owned()), None));
    match m.run(request) {
        Ok(a) => Ok(a.reply),
        Err(OracleError::Cancelled { .. }) => Err(m.operator.1.unwrap_or_default()),
        Err(e) => Err(e.to_string()),
    }
}

const OPEN_ECHO: &str =
    r#"SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "Wallet-Pw-1";"#;

#[test]
fn a_transcript_of_the_statement_asked_is_accepted_in_every_form() {
    let done = Ok(Reply::done("keystore altered"));
    for paste in [
        format!("{OPEN_ECHO}\n\nkeystore altered.\n\nSQL> "),
        format!("{OPEN_ECHO}\r\n\r\nkeystore altered.\r\n\r\nSQL> \r\n"),
        format!("\n\n  {OPEN_ECHO}  \n\n\n\nkeystore altered.\n\n\n"),
        // Without the prompt, typed in lower case, with other spacing.
        "administer key management set keystore open identified by \"Wallet-Pw-1\" ;\nkeystore altered.\n".to_owned(),
        // Continuation lines, as SQL*Plus numbers them.
        "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN\n  2  IDENTIFIED BY \"Wallet-Pw-1\";\n\nkeystore altered.\n".to_owned(),
        "SQL> ADMINISTER KEY MANAGEMENT\n  2  SET KEYSTORE OPEN IDENTIFIED BY \"Wallet-Pw-1\"\n  3  /\n\nkeystore altered.\n".to_owned(),
        // No echo at all (SQL Developer, or only the lines after the statement): read whole.
        "keystore altered.".to_owned(),
        "SQL> \r\nkeystore altered.\r\n".to_owned(),
    ] {
        assert_eq!(read(&open(), &paste), done, "{paste:?}");
    }
    // Any password matches where the statement has one (the display hides it).
    let other_pw = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"typed-by-hand\";\nkeystore altered.\n";
    assert_eq!(read(&open(), other_pw), done);

    let m = "SQL> ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"cu_user:S3cretPassw0rd\"\n  2  MIGRATE USING \"Wallet-Pw-1\" WITH BACKUP USING 'pre_hsm';\n\nkeystore altered.\n\nSQL> ";
    assert_eq!(read(&migrate(), m), done);
}

#[test]
fn the_output_of_another_keystore_statement_is_refused_naming_both() {
    let close_paste = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY \"Wallet-Pw-1\";\n\nkeystore altered.\n\nSQL> ";
    let e = read(&open(), close_paste).expect_err("the output of a CLOSE is not an OPEN's");
    assert!(e.contains("\"Close the keystore\""), "{e}");
    assert!(
        e.contains("ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE"),
        "{e}"
    );
    assert!(e.contains(&format!("\"{}\"", open().title())), "{e}");
    assert!(
        e.contains(r#"ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY "<hidden>";"#),
        "{e}"
    );
    assert!(
        !e.contains("Wallet-Pw-1"),
        "the sentence quotes no secret: {e}"
    );

    // SET KEY's output for a migration: the same feedback, another statement.
    let set_key = "SQL> ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY \"cu_user:S3cretPassw0rd\" WITH BACKUP;\nkeystore altered.\n";
    let e = read(&migrate(), set_key).expect_err("SET KEY is not the migration");
    assert!(e.contains("ADMINISTER KEY MANAGEMENT SET KEY "), "{e}");
    assert!(e.contains("Migrate"), "{e}");
    assert!(!e.contains("S3cretPassw0rd"), "{e}");
    // …and the migration's output for SET KEY or REVERSE MIGRATE.
    let m = "SQL> ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"cu_user:S3cretPassw0rd\" MIGRATE USING \"Wallet-Pw-1\" WITH BACKUP USING 'pre_hsm';\nkeystore altered.\n";
    let rev = Request::ReverseMigrate {
        wallet_password: Secret::from("Wallet-Pw-1"),
        hsm_user: Some("cu_user".into()),
        hsm_password: Secret::from("S3cretPassw0rd"),
    };
    let e = read(&rev, m).expect_err("a migration is not a reverse migration");
    assert!(e.contains("… MIGRATE"), "{e}");
    assert!(!e.contains("REVERSE MIGRATE …)"), "{e}");

    // The same kind of statement with another key id.
    let k1 = "06AABBCCDDEEFF00112233445566778899";
    let k2 = "0600112233445566778899AABBCCDDEEFF";
    let paste = format!(
        "SQL> ADMINISTER KEY MANAGEMENT USE KEY '{k2}' FORCE KEYSTORE IDENTIFIED BY \"cu_user:S3cretPassw0rd\";\n\nkeystore altered.\n"
    );
    let e = read(&use_key(k1), &paste).expect_err("another key id");
    assert!(
        e.contains("another \"Rotate: use a master key made on the HSM\""),
        "{e}"
    );
    assert!(e.contains(k1), "the statement asked is named: {e}");
    assert_eq!(
        read(&use_key(k2), &paste),
        Ok(Reply::done("keystore altered"))
    );

    // ALTER SYSTEM: WALLET_ROOT's output is not TDE_CONFIGURATION's.
    let tde = Request::SetTdeConfiguration {
        value: "HSM|FILE".into(),
        all_instances: false,
    };
    let wr = "SQL> ALTER SYSTEM SET WALLET_ROOT='/u01/wallet' SCOPE=SPFILE;\n\nSystem altered.\n";
    let e = read(&tde, wr).expect_err("WALLET_ROOT is not TDE_CONFIGURATION");
    assert!(e.contains("ALTER SYSTEM SET WALLET_ROOT"), "{e}");
    let other_value = "SQL> ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=FILE\" SCOPE=BOTH;\n\nSystem altered.\n";
    assert!(read(&tde, other_value).is_err(), "FILE is not HSM|FILE");
    let right = "SQL> alter system set tde_configuration=\"KEYSTORE_CONFIGURATION=HSM|FILE\" scope=both;\n\nSystem altered.\n";
    assert_eq!(read(&tde, right), Ok(Reply::done("system altered")));
}

#[test]
fn a_session_is_read_after_the_echo_of_the_statement_asked() {
    // The close failed, the open ran: each statement gets its own answer.
    let session = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY \"Wallet-Pw-1\";\nADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY \"Wallet-Pw-1\"\n*\nERROR at line 1:\nORA-28365: wallet is not open\n\n\nSQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"Wallet-Pw-1\";\n\nkeystore altered.\n\nSQL> ";
    assert_eq!(read(&open(), session), Ok(Reply::done("keystore altered")));
    let closed = read(&close(), session).unwrap();
    assert!(
        matches!(&closed, Reply::Error { error, .. } if error.code == "ORA-28365"),
        "{closed:?}"
    );
    // The statement asked failed; the feedback of the next one is not its answer.
    let failed_then_other = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"Wallet-Pw-1\";\nERROR at line 1:\nORA-28353: failed to open wallet\n\nSQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE;\n\nkeystore altered.\n";
    let r = read(&open(), failed_then_other).unwrap();
    assert!(r.is_error(), "{r:?}");
    // The echo of the statement asked followed by nothing that says it ran.
    let cut = format!(
        "{OPEN_ECHO}\n\nSQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE;\n\nkeystore altered.\n"
    );
    assert!(read(&open(), &cut).is_err());
}

#[test]
fn an_echo_cut_before_its_end_is_not_read_as_a_statement() {
    // SQL*Plus shows the failing line without its `;`: the error is the answer.
    let failing = "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY\n*\nERROR at line 1:\nORA-28353: failed to open wallet\n";
    assert!(read(&migrate(), failing).unwrap().is_error());
    assert!(echoes(failing).is_empty());
    // Queries and restarts are read as before, echo or not.
    let q = "SQL> ALTER SYSTEM SET WALLET_ROOT='/x' SCOPE=SPFILE;\nSystem altered.\nSQL> SHUTDOWN IMMEDIATE\nDatabase closed.\nDatabase dismounted.\nORACLE instance shut down.\nSQL> STARTUP\nORACLE instance started.\nDatabase mounted.\nDatabase opened.\n";
    assert_eq!(
        read(&Request::Restart, q),
        Ok(Reply::done("database opened"))
    );
}

#[test]
fn normalizing_keeps_quoted_text_and_matching_takes_any_secret() {
    assert_eq!(
        normalize("  alter  system set x = 'a  B'  scope=both ;"),
        "ALTER SYSTEM SET X='a  B' SCOPE=BOTH;"
    );
    assert_eq!(
        skeleton(r#"A BY "x:y" USING 'tag';"#),
        r#"A BY "…" USING '…';"#
    );
    let asked = normalize(r#"X ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD' TO 'd';"#);
    assert!(matches(
        &normalize("x add secret 'cu:p''w' for client 'HSM_PASSWORD' to 'd';"),
        &asked
    ));
    assert!(!matches(
        &normalize("x add secret 'cu:pw' for client 'HSM_PASSWORD' to 'e';"),
        &asked
    ));
    assert!(!matches(
        &normalize("x add secret 'cu:pw' for client 'HSM_PASSWORD' to 'd' extra;"),
        &asked
    ));
}

/// A real transcript (tests/fixtures/oracle/feedback/, sources in SOURCES.md there).
macro_rules! real {
    ($file:literal) => {
        include_str!(concat!("../../../tests/fixtures/oracle/feedback/", $file))
    };
}

fn password(p: &str) -> Credential {
    Credential::Password(Secret::from(p))
}

fn set_key(tag: Option<&str>, backup: Option<Option<&str>>, all: bool) -> Request {
    Request::SetKey {
        tag: tag.map(str::to_owned),
        credential: password("any"),
        options: Options {
            backup: backup.map(|b| b.map(str::to_owned)),
            all_containers: all,
        },
    }
}

#[test]
fn real_transcripts_of_the_statement_asked_are_accepted() {
    let open_all = Request::OpenKeystore {
        credential: password("any"),
        all_containers: true,
    };
    let close_all = Request::CloseKeystore {
        credential: Some(password("any")),
        all_containers: true,
    };
    let create = Request::CreateKeystore {
        password: Secret::from("any"),
    };
    let tde_file = Request::SetTdeConfiguration {
        value: "FILE".into(),
        all_instances: false,
    };
    let keystore = Ok(Reply::done("keystore altered"));
    let system = Ok(Reply::done("system altered"));
    for (request, paste, answer) in [
        // A custom prompt (SET SQLPROMPT) and a password typed without quotes.
        (&open(), real!("open-keystore-12.1.txt"), &keystore),
        (
            &open_all,
            real!("open-keystore-container-all-23ai-free.txt"),
            &keystore,
        ),
        // Continuation lines.
        (
            &open_all,
            real!("open-keystore-container-all-19c-livelabs.txt"),
            &keystore,
        ),
        (
            &close_all,
            real!("close-keystore-container-all-19c-livelabs.txt"),
            &keystore,
        ),
        // The password as the publisher marked it up, trailing blanks, no blank line.
        (
            &close_all,
            real!("close-keystore-identified-by-container-all-21c-livelabs.txt"),
            &keystore,
        ),
        (
            &create,
            real!("create-keystore-wallet-root-23ai-free-syskm.txt"),
            &keystore,
        ),
        (
            &create,
            real!("create-keystore-wallet-root-19c-livelabs-no-blank-line.txt"),
            &keystore,
        ),
        (
            &set_key(None, Some(None), false),
            real!("set-key-with-backup-12.1.txt"),
            &keystore,
        ),
        (
            &set_key(None, Some(Some("backup")), true),
            real!("set-key-with-backup-container-all-19c-livelabs.txt"),
            &keystore,
        ),
        (
            &set_key(Some("v1.0_MEK_AllContainer"), Some(None), true),
            real!("set-key-using-tag-with-backup-container-all-23ai-free.txt"),
            &keystore,
        ),
        (
            &tde_file,
            real!("alter-system-set-tde-configuration-file-19c-livelabs.txt"),
            &system,
        ),
        // The value in single quotes.
        (
            &tde_file,
            real!("alter-system-set-tde-configuration-file-scope-both-19c-linhong.txt"),
            &system,
        ),
    ] {
        assert_eq!(&read(request, paste), answer, "{paste}");
    }
}

#[test]
fn real_transcripts_of_a_failed_statement_are_its_error() {
    let close_auto = Request::CloseKeystore {
        credential: None,
        all_containers: true,
    };
    let external = Request::SetKey {
        tag: None,
        credential: Credential::ExternalStore,
        options: Options::default(),
    };
    for (request, paste, code, text) in [
        (
            &set_key(None, Some(None), true),
            real!("ora-46665-set-key-container-all-pdb-not-open-12.2.txt"),
            "ORA-46665",
            "master keys not activated for all PDBs during REKEY",
        ),
        (
            &set_key(None, Some(None), false),
            real!("ora-28374-set-key-in-pdb-key-nevertheless-set-12.2.txt"),
            "ORA-28374",
            "typed master key not found in wallet",
        ),
        (
            &set_key(None, Some(None), true),
            real!("ora-46663-set-key-container-all-pdbseed-no-key-21c-livelabs.txt"),
            "ORA-46663",
            "master keys not created for all PDBs for REKEY",
        ),
        (
            &close_auto,
            real!("ora-28389-close-auto-login-keystore-without-password-21c-livelabs.txt"),
            "ORA-28389",
            "cannot close auto login wallet",
        ),
        (
            &open(),
            real!("ora-28367-open-keystore-ewallet-moved-away-19c-trimmed.txt"),
            "ORA-28367",
            "wallet does not exist",
        ),
        // The PKCS#11 return value on the line after the error.
        (
            &external,
            real!("ora-28407-set-key-identified-by-external-store-okv-ckr-function-failed.txt"),
            "ORA-28407",
            "Hardware Security Module failed with PKCS#11 error CKR_FUNCTION_FAILED(6)",
        ),
    ] {
        let reply = read(request, paste).unwrap_or_else(|e| panic!("{e}\n{paste}"));
        let Reply::Error { error, .. } = &reply else {
            panic!("{reply:?}\n{paste}");
        };
        assert_eq!((error.code.as_str(), error.text.as_str()), (code, text));
    }
}

#[test]
fn a_real_transcript_of_another_statement_is_refused() {
    // FORCE KEYSTORE is not in the statement asked.
    let open_all = Request::OpenKeystore {
        credential: password("any"),
        all_containers: true,
    };
    let e = read(
        &open_all,
        real!("open-keystore-force-keystore-container-all-19c-livelabs.txt"),
    )
    .expect_err("another OPEN");
    assert!(e.contains("another \"Open the keystore\" statement"), "{e}");
    assert!(!e.contains("MyWalletPwd#1"), "no secret quoted: {e}");
    // A custom prompt, an unquoted password: still another statement.
    let e = read(&open(), real!("set-key-with-backup-12.1.txt")).expect_err("SET KEY is not OPEN");
    assert!(e.contains("ADMINISTER KEY MANAGEMENT SET KEY"), "{e}");
    assert!(!e.contains("Password23"), "{e}");
    // WALLET_ROOT's output for TDE_CONFIGURATION.
    let tde = Request::SetTdeConfiguration {
        value: "FILE".into(),
        all_instances: false,
    };
    let e = read(
        &tde,
        real!("alter-system-set-wallet-root-spfile-19c-linhong.txt"),
    )
    .expect_err("WALLET_ROOT");
    assert!(e.contains("ALTER SYSTEM SET WALLET_ROOT"), "{e}");
}

#[test]
fn unquoted_passwords_match_only_where_a_password_goes() {
    let asked = normalize(r#"X IDENTIFIED BY "<hidden>" WITH BACKUP;"#);
    assert!(matches(
        &normalize("x identified by pw1 with backup;"),
        &asked
    ));
    assert!(matches(
        &normalize(r#"x identified by "p w" with backup;"#),
        &asked
    ));
    assert!(!matches(&normalize("x identified by pw1;"), &asked));
    assert!(!matches(&normalize("x identified by with backup;"), &asked));
    assert!(!matches(
        &normalize("x identified by p w with backup;"),
        &asked
    ));
    // A secret in single quotes is a string: it is always quoted.
    let asked = normalize("X ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD';");
    assert!(!matches(
        &normalize("x add secret cu:pw for client 'HSM_PASSWORD';"),
        &asked
    ));
}
