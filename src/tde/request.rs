//! What tdekey asks of a database, as data: every connector (manual, sqlplus, rehearsal) takes a
//! [`Request`], and [`interpret`] reads what SQL*Plus printed for it.

use crate::secret::Secret;
use crate::tde::labels::MasterKeyId;
use crate::tde::output::{self, OraError, Parameter, ParseError, Row, View};
use crate::tde::sql::{self, Credential, Options, SqlError, Statement};

mod draft;
mod kind;

pub use draft::{Draft, DraftError};
pub use kind::{CredentialChoice, DirectoryField, Needs, RequestKind};

/// A `SHOW PARAMETER` tdekey reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ParameterName {
    WalletRoot,
    TdeConfiguration,
}

impl ParameterName {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterName::WalletRoot => "wallet_root",
            ParameterName::TdeConfiguration => "tde_configuration",
        }
    }

    /// What `SHOW PARAMETER` answers when the parameter's value is `value` ("" when unset):
    /// both are strings.
    pub fn reply(self, value: &str) -> Reply {
        Reply::Parameter {
            parameter: Parameter {
                name: self.as_str().to_owned(),
                kind: "string".to_owned(),
                value: value.to_owned(),
            },
        }
    }
}

/// One thing to run against a database.
#[derive(Clone, Debug)]
pub enum Request {
    /// `SELECT * FROM V$ENCRYPTION_WALLET;`
    QueryWallet,
    /// `SELECT * FROM V$ENCRYPTION_KEYS;`
    QueryKeys,
    /// The session's privileges and roles ([`crate::tde::privileges::QUERY`]).
    QueryPrivileges,
    /// `SHOW PARAMETER wallet_root` / `tde_configuration`
    ShowParameter(ParameterName),
    SetWalletRoot {
        dir: String,
        all_instances: bool,
    },
    SetTdeConfiguration {
        value: String,
        all_instances: bool,
    },
    CreateKeystore {
        password: Secret,
    },
    OpenKeystore {
        credential: Credential,
        all_containers: bool,
    },
    CloseKeystore {
        credential: Option<Credential>,
        all_containers: bool,
    },
    /// MIGRATE has no CONTAINER clause (the `migrate_key` grammar of the 18c–23ai SQL
    /// Reference): in a united CDB it runs in the root and re-keys the root and its PDBs.
    Migrate {
        hsm_user: String,
        hsm_password: Secret,
        wallet_password: Secret,
        /// `WITH BACKUP [USING '<tag>']`
        backup: Option<Option<String>>,
    },
    /// `hsm_user` none: an HSM that takes a password only (some vendors' Oracle guides), the
    /// credential rendered `"<password>"` without `user:`.
    ReverseMigrate {
        wallet_password: Secret,
        hsm_user: Option<String>,
        hsm_password: Secret,
    },
    SetKey {
        tag: Option<String>,
        credential: Credential,
        options: Options,
    },
    UseKey {
        id: MasterKeyId,
        tag: Option<String>,
        credential: Credential,
    },
    /// HSM auto-login: the HSM credential as the secret HSM_PASSWORD in the software keystore
    /// (WALLET_ROOT/tde), always `WITH BACKUP` (a password keystore changes).
    AddHsmSecret {
        hsm_user: String,
        hsm_password: Secret,
        wallet_password: Secret,
        /// `FORCE KEYSTORE`: opens the password keystore for the statement.
        force: bool,
        backup_tag: Option<String>,
    },
    /// The external store: the HSM credential as HSM_PASSWORD in the auto-login keystore in
    /// WALLET_ROOT/tde_seps, for `IDENTIFIED BY EXTERNAL STORE` (it opens nothing by itself).
    AddExternalStoreSecret {
        hsm_user: String,
        hsm_password: Secret,
        seps_dir: String,
        local: bool,
    },
    CreateAutoLogin {
        dir: String,
        password: Secret,
        local: bool,
    },
    Backup {
        tag: Option<String>,
        credential: Credential,
    },
    /// `SHUTDOWN IMMEDIATE` then `STARTUP`: static parameters (WALLET_ROOT) take effect.
    Restart,
}

/// What a correct answer to a request looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Rows(View),
    Parameter(ParameterName),
    /// The line SQL*Plus prints after the statement ran, lower-case, without the full stop.
    Feedback(&'static str),
}

pub const KEYSTORE_ALTERED: &str = "keystore altered";
pub const SYSTEM_ALTERED: &str = "system altered";
pub const INSTANCE_STARTED: &str = "database opened";

impl Request {
    /// What kind of request this is (one entry of the console's list).
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::QueryWallet => RequestKind::QueryWallet,
            Request::QueryKeys => RequestKind::QueryKeys,
            Request::QueryPrivileges => RequestKind::QueryPrivileges,
            Request::ShowParameter(ParameterName::WalletRoot) => RequestKind::ShowWalletRoot,
            Request::ShowParameter(ParameterName::TdeConfiguration) => {
                RequestKind::ShowTdeConfiguration
            }
            Request::SetWalletRoot { .. } => RequestKind::SetWalletRoot,
            Request::SetTdeConfiguration { .. } => RequestKind::SetTdeConfiguration,
            Request::CreateKeystore { .. } => RequestKind::CreateKeystore,
            Request::OpenKeystore { .. } => RequestKind::OpenKeystore,
            Request::CloseKeystore { .. } => RequestKind::CloseKeystore,
            Request::Migrate { .. } => RequestKind::Migrate,
            Request::ReverseMigrate { .. } => RequestKind::ReverseMigrate,
            Request::SetKey { .. } => RequestKind::SetKey,
            Request::UseKey { .. } => RequestKind::UseKey,
            Request::AddHsmSecret { .. } => RequestKind::AddHsmSecret,
            Request::AddExternalStoreSecret { .. } => RequestKind::AddExternalStoreSecret,
            Request::CreateAutoLogin { .. } => RequestKind::CreateAutoLogin,
            Request::Backup { .. } => RequestKind::Backup,
            Request::Restart => RequestKind::Restart,
        }
    }

    /// A short title for screens and audit entries.
    pub fn title(&self) -> &'static str {
        self.kind().title()
    }

    /// The HSM crypto user the statement authenticates as, if it names one.
    pub fn hsm_user(&self) -> Option<&str> {
        match self {
            Request::Migrate { hsm_user, .. }
            | Request::AddHsmSecret { hsm_user, .. }
            | Request::AddExternalStoreSecret { hsm_user, .. } => Some(hsm_user),
            Request::ReverseMigrate { hsm_user, .. } => hsm_user.as_deref(),
            Request::OpenKeystore { credential, .. }
            | Request::SetKey { credential, .. }
            | Request::UseKey { credential, .. }
            | Request::Backup { credential, .. }
            | Request::CloseKeystore {
                credential: Some(credential),
                ..
            } => match credential {
                Credential::Hsm { user, .. } => Some(user),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for everything but the read-only queries.
    pub fn changes_state(&self) -> bool {
        !matches!(
            self,
            Request::QueryWallet
                | Request::QueryKeys
                | Request::QueryPrivileges
                | Request::ShowParameter(_)
        )
    }

    /// What a correct answer looks like.
    pub fn expected_answer(&self) -> Expect {
        match self {
            Request::QueryWallet => Expect::Rows(View::EncryptionWallet),
            Request::QueryKeys => Expect::Rows(View::EncryptionKeys),
            Request::QueryPrivileges => Expect::Rows(View::SessionPrivileges),
            Request::ShowParameter(p) => Expect::Parameter(*p),
            Request::SetWalletRoot { .. } | Request::SetTdeConfiguration { .. } => {
                Expect::Feedback(SYSTEM_ALTERED)
            }
            Request::Restart => Expect::Feedback(INSTANCE_STARTED),
            _ => Expect::Feedback(KEYSTORE_ALTERED),
        }
    }

    /// The text to run (it may carry secrets) and the text to show and log.
    pub fn statement(&self) -> Result<Statement, SqlError> {
        let plain = |s: &str| Statement {
            sql: Secret::from(s),
            display: s.to_owned(),
        };
        Ok(match self {
            Request::QueryWallet => plain("SELECT * FROM V$ENCRYPTION_WALLET;"),
            Request::QueryKeys => plain("SELECT * FROM V$ENCRYPTION_KEYS;"),
            Request::QueryPrivileges => plain(crate::tde::privileges::QUERY),
            Request::ShowParameter(p) => plain(&format!("SHOW PARAMETER {}", p.as_str())),
            Request::SetWalletRoot { dir, all_instances } => {
                sql::set_wallet_root(dir, *all_instances)?
            }
            Request::SetTdeConfiguration {
                value,
                all_instances,
            } => sql::set_tde_configuration(value, *all_instances)?,
            Request::CreateKeystore { password } => sql::create_keystore(None, password)?,
            Request::OpenKeystore {
                credential,
                all_containers,
            } => sql::open_keystore(credential, *all_containers)?,
            Request::CloseKeystore {
                credential,
                all_containers,
            } => sql::close_keystore(credential.as_ref(), *all_containers)?,
            Request::Migrate {
                hsm_user,
                hsm_password,
                wallet_password,
                backup,
            } => sql::migrate_to_hsm(hsm_user, hsm_password, wallet_password, backup.as_ref())?,
            Request::ReverseMigrate {
                wallet_password,
                hsm_user,
                hsm_password,
            } => sql::reverse_migrate(wallet_password, hsm_user.as_deref(), hsm_password)?,
            Request::SetKey {
                tag,
                credential,
                options,
            } => sql::set_key(tag.as_deref(), credential, options)?,
            Request::UseKey {
                id,
                tag,
                credential,
            } => sql::use_key(id, tag.as_deref(), credential)?,
            Request::AddHsmSecret {
                hsm_user,
                hsm_password,
                wallet_password,
                force,
                backup_tag,
            } => sql::add_hsm_secret(
                hsm_user,
                hsm_password,
                wallet_password,
                *force,
                backup_tag.as_deref(),
            )?,
            Request::AddExternalStoreSecret {
                hsm_user,
                hsm_password,
                seps_dir,
                local,
            } => sql::add_external_store_secret(hsm_user, hsm_password, seps_dir, *local)?,
            Request::CreateAutoLogin {
                dir,
                password,
                local,
            } => sql::create_auto_login(dir, password, *local)?,
            Request::Backup { tag, credential } => {
                sql::backup_keystore(tag.as_deref(), false, credential, None)?
            }
            Request::Restart => plain("SHUTDOWN IMMEDIATE\nSTARTUP"),
        })
    }
}

/// What the database answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Reply {
    /// The statement ran; `feedback` is the line that says so.
    Done {
        feedback: String,
    },
    Rows {
        rows: Vec<Row>,
    },
    Parameter {
        parameter: Parameter,
    },
    /// Oracle refused: the first error and any that followed it.
    Error {
        error: OraError,
        more: Vec<OraError>,
    },
}

/// The feedback line as SQL*Plus prints it. ADMINISTER KEY MANAGEMENT prints `keystore
/// altered.` in lower case in every real output found (12.1 to 23ai,
/// tests/fixtures/oracle/feedback/); ALTER SYSTEM prints `System altered.` and STARTUP
/// `Database opened.`, capitalised.
pub fn feedback_line(expected: &str) -> String {
    if expected == KEYSTORE_ALTERED {
        return format!("{expected}.");
    }
    let mut c = expected.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_ascii_uppercase(), c.as_str()),
        None => String::new(),
    }
}

impl Reply {
    /// The statement ran: `Reply::done(KEYSTORE_ALTERED)` is `Done { "keystore altered." }`.
    pub fn done(expected: &str) -> Reply {
        Reply::Done {
            feedback: feedback_line(expected),
        }
    }

    /// One line for a status bar or an audit entry.
    pub fn summary(&self) -> String {
        match self {
            Reply::Done { feedback } => feedback.clone(),
            Reply::Rows { rows } => match rows.len() {
                0 => "no rows selected".to_owned(),
                1 => "1 row".to_owned(),
                n => format!("{n} rows"),
            },
            Reply::Parameter { parameter } => {
                format!("{} = {:?}", parameter.name, parameter.value)
            }
            Reply::Error { error, .. } => format!("{}: {}", error.code, error.text),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error { .. })
    }
}

/// Why a text is not an answer to the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpretError {
    #[error("The output is empty. Paste everything SQL*Plus printed after the statement.")]
    Empty,
    #[error("{0}")]
    Parse(ParseError),
    #[error(
        "The output has no {wanted} row; it shows {found}. Run SHOW PARAMETER {wanted} and paste its output."
    )]
    NoParameter { wanted: String, found: String },
    #[error(
        "The output does not say \"{expected}.\" and holds no ORA- error, so it does not show that the statement ran{found}. Paste the whole output of this statement."
    )]
    NoFeedback {
        expected: &'static str,
        found: String,
    },
}

/// SQL*Plus errors that are not ORA- errors (`SP2-0640: Not connected`).
pub fn sp2_errors(text: &str) -> Vec<OraError> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("SP2-")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (digits.len() == 4).then(|| OraError {
                code: format!("SP2-{digits}"),
                text: rest[4..].trim_start_matches(':').trim().to_owned(),
            })
        })
        .collect()
}

/// Reads what SQL*Plus printed for `request` (pasted by a DBA or captured from sqlplus).
/// An ORA- or SP2- error anywhere is the answer; otherwise the text must be what the request
/// expects, or it is refused with a sentence.
pub fn interpret(request: &Request, text: &str) -> Result<Reply, InterpretError> {
    if text.trim().is_empty() {
        return Err(InterpretError::Empty);
    }
    // ORA- and SP2- errors in the order SQL*Plus printed them (an ORA-28407's PKCS#11 return
    // value, printed on the next line, is part of its text).
    let mut errors: Vec<(usize, OraError)> = text
        .lines()
        .enumerate()
        .flat_map(|(n, l)| sp2_errors(l).into_iter().map(move |e| (n, e)))
        .collect();
    errors.extend(output::ora_error_lines(text));
    errors.sort_by_key(|(n, _)| *n);
    let error = crate::tde::ora::reply_of(errors.into_iter().map(|(_, e)| e));
    // A query's result in a paste of several statements is read even when another statement
    // failed; the query's own failure (no result, or an error after it) is the answer.
    let error_or = |e: ParseError| match &error {
        Some(reply) => Ok(reply.clone()),
        None => Err(InterpretError::Parse(e)),
    };
    match request.expected_answer() {
        Expect::Rows(view) => match output::parse_view(text, view) {
            Ok(rows) => Ok(Reply::Rows { rows }),
            Err(e) => error_or(e),
        },
        Expect::Parameter(p) => {
            let params = match output::parse_parameters(text) {
                Ok(params) => params,
                Err(e) => return error_or(e),
            };
            let found = params
                .iter()
                .map(|x| x.name.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let asked = params
                .into_iter()
                .find(|x| x.name.eq_ignore_ascii_case(p.as_str()));
            match (asked, error) {
                (Some(parameter), _) => Ok(Reply::Parameter { parameter }),
                // Its SHOW PARAMETER failed while another one in the paste ran.
                (None, Some(reply)) => Ok(reply),
                (None, None) => Err(InterpretError::NoParameter {
                    wanted: p.as_str().to_owned(),
                    found: if found.is_empty() {
                        "no parameter".to_owned()
                    } else {
                        found
                    },
                }),
            }
        }
        Expect::Feedback(expected) => {
            if let Some(reply) = error {
                return Ok(reply);
            }
            let lower = text.to_ascii_lowercase();
            if lower.lines().any(|l| l.contains(expected)) {
                return Ok(Reply::done(expected));
            }
            let other = [KEYSTORE_ALTERED, SYSTEM_ALTERED, INSTANCE_STARTED]
                .into_iter()
                .find(|f| *f != expected && lower.contains(f));
            Err(InterpretError::NoFeedback {
                expected,
                found: match other {
                    Some(f) => format!(" (it says \"{f}.\", the answer to another statement)"),
                    None => String::new(),
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsm() -> Credential {
        Credential::Hsm {
            user: "cu_oracle".into(),
            password: Secret::from("Hsm-Pw-1"),
        }
    }

    #[test]
    fn statements_hide_every_secret_in_their_display() {
        let all = [
            Request::OpenKeystore {
                credential: hsm(),
                all_containers: true,
            },
            Request::Migrate {
                hsm_user: "cu_oracle".into(),
                hsm_password: Secret::from("Hsm-Pw-1"),
                wallet_password: Secret::from("Wallet-Pw-2"),
                backup: Some(Some("pre".into())),
            },
            Request::SetKey {
                tag: Some("q3".into()),
                credential: hsm(),
                options: Options::default(),
            },
            Request::AddHsmSecret {
                hsm_user: "cu_oracle".into(),
                hsm_password: Secret::from("Hsm-Pw-1"),
                wallet_password: Secret::from("Wallet-Pw-2"),
                force: true,
                backup_tag: None,
            },
            Request::AddExternalStoreSecret {
                hsm_user: "cu_oracle".into(),
                hsm_password: Secret::from("Hsm-Pw-1"),
                seps_dir: "/u01/wr/tde_seps".into(),
                local: false,
            },
        ];
        for r in &all {
            let s = r.statement().expect("builds");
            assert!(s.sql.expose().contains("Hsm-Pw-1"), "{}", s.display);
            assert!(!s.display.contains("Hsm-Pw-1"), "{}", s.display);
            assert!(!s.display.contains("Wallet-Pw-2"), "{}", s.display);
            assert!(s.display.contains("<hidden>"));
            assert!(r.changes_state());
        }
        assert!(!Request::QueryKeys.changes_state());
        assert!(all.iter().all(|r| r.hsm_user() == Some("cu_oracle")));
        let wallet = Request::SetKey {
            tag: None,
            credential: Credential::Password(Secret::from("w")),
            options: Options::default(),
        };
        assert_eq!(wallet.hsm_user(), None);
    }

    #[test]
    fn feedback_is_required_for_statements() {
        let open = Request::OpenKeystore {
            credential: hsm(),
            all_containers: false,
        };
        let r = interpret(
            &open,
            "SQL> ADMINISTER KEY MANAGEMENT ...\n\nkeystore altered.\n",
        )
        .expect("reads");
        assert_eq!(
            r,
            Reply::Done {
                feedback: "keystore altered.".into()
            }
        );
        let e = interpret(&open, "System altered.\n").expect_err("wrong statement");
        assert!(e.to_string().contains("another statement"), "{e}");
        assert!(matches!(
            interpret(&open, "  \n"),
            Err(InterpretError::Empty)
        ));
        let e = interpret(&open, "keystore alt").expect_err("cut");
        assert!(
            e.to_string()
                .contains("does not show that the statement ran")
        );
    }

    #[test]
    fn errors_win_over_everything() {
        let r = interpret(
            &Request::QueryWallet,
            "ERROR at line 1:\nORA-28353: failed to open wallet\n",
        )
        .expect("reads");
        assert_eq!(r.summary(), "ORA-28353: failed to open wallet");
        let r = interpret(&Request::QueryWallet, "SP2-0640: Not connected\n").expect("reads");
        assert!(r.is_error());
        assert_eq!(r.summary(), "SP2-0640: Not connected");
    }

    #[test]
    fn parameters_must_name_the_one_asked() {
        let text = "NAME          TYPE        VALUE\n------------- ----------- ------------------------------\nwallet_root   string      /u01/app/oracle/admin/ORCL/wallet\n";
        let r = interpret(&Request::ShowParameter(ParameterName::WalletRoot), text).expect("ok");
        assert_eq!(
            r.summary(),
            "wallet_root = \"/u01/app/oracle/admin/ORCL/wallet\""
        );
        let e = interpret(
            &Request::ShowParameter(ParameterName::TdeConfiguration),
            text,
        )
        .expect_err("other parameter");
        assert!(e.to_string().contains("no tde_configuration row"), "{e}");
    }

    /// Constructed, not a real paste: a DBA's session where another statement failed before
    /// the query, then the query's own failure, as SQL*Plus prints them.
    #[test]
    fn a_query_is_read_in_a_session_where_another_statement_failed() {
        let session = "SQL> administer key management set keystore open identified by x;\nadminister key management set keystore open identified by x\n*\nERROR at line 1:\nORA-28354: Encryption wallet, auto login wallet, or HSM is already open\n\n\nSQL> select wrl_type, status from v$encryption_wallet;\n\nWRL_TYPE             STATUS\n-------------------- ------------------------------\nFILE                 OPEN\n\nSQL> show parameter wallet_root\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\nwallet_root                          string      /u01/app/oracle/admin/ORCL/wal\n                                                 let\nSQL> show parameter tde_configuration\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\ntde_configuration                    string      KEYSTORE_CONFIGURATION=FILE\nSQL> ";
        let Ok(Reply::Rows { rows }) = interpret(&Request::QueryWallet, session) else {
            panic!("{:?}", interpret(&Request::QueryWallet, session));
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("STATUS"), Some("OPEN"));
        assert_eq!(rows[0].get("WRL_TYPE"), Some("FILE"));
        for (p, value) in [
            (
                ParameterName::WalletRoot,
                "/u01/app/oracle/admin/ORCL/wallet",
            ),
            (
                ParameterName::TdeConfiguration,
                "KEYSTORE_CONFIGURATION=FILE",
            ),
        ] {
            let Ok(Reply::Parameter { parameter }) = interpret(&Request::ShowParameter(p), session)
            else {
                panic!("{p:?}");
            };
            assert_eq!(parameter.value, value);
        }
        // No V$ENCRYPTION_KEYS result in it: the error printed is the answer.
        let r = interpret(&Request::QueryKeys, session).expect("reads");
        assert_eq!(
            r.summary(),
            "ORA-28354: Encryption wallet, auto login wallet, or HSM is already open"
        );
        // The query's own failure.
        let failed = "SQL> select * from v$encryption_wallet;\nselect * from v$encryption_wallet\n              *\nERROR at line 1:\nORA-01031: insufficient privileges\n\n\nSQL> ";
        let r = interpret(&Request::QueryWallet, failed).expect("reads");
        assert_eq!(r.summary(), "ORA-01031: insufficient privileges");
        // One SHOW PARAMETER refused, the other shown: the refusal answers the first.
        let refused = "SQL> show parameter wallet_root\nORA-01031: insufficient privileges\nSQL> show parameter tde_configuration\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\ntde_configuration                    string      KEYSTORE_CONFIGURATION=FILE\n";
        let r =
            interpret(&Request::ShowParameter(ParameterName::WalletRoot), refused).expect("reads");
        assert_eq!(r.summary(), "ORA-01031: insufficient privileges");
        assert!(matches!(
            interpret(
                &Request::ShowParameter(ParameterName::TdeConfiguration),
                refused
            ),
            Ok(Reply::Parameter { .. })
        ));
        // An error printed after the result, before the next statement, is the query's.
        let cut = "SQL> select wrl_type, status from v$encryption_wallet;\n\nWRL_TYPE             STATUS\n-------------------- ------------------------------\nFILE                 OPEN\nERROR:\nORA-01013: user requested cancel of current operation\n\nSQL> ";
        let r = interpret(&Request::QueryWallet, cut).expect("reads");
        assert!(r.is_error(), "{r:?}");
    }

    /// Real SQL*Plus prints ORA-28407's PKCS#11 return value on the line after it (see
    /// tests/fixtures/oracle/feedback/ora-28407-*): it is read as part of the error.
    #[test]
    fn the_pkcs11_return_value_on_the_next_line_is_part_of_ora_28407() {
        let open = Request::OpenKeystore {
            credential: hsm(),
            all_containers: false,
        };
        let text = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"cu_oracle:x\";\nADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"cu_oracle:x\"\n*\nERROR at line 1:\nORA-28407: Hardware Security Module failed with PKCS#11 error\nCKR_PIN_INCORRECT(160)\n\n";
        let Ok(Reply::Error { error, more }) = interpret(&open, text) else {
            panic!("{:?}", interpret(&open, text));
        };
        assert_eq!(error, crate::tde::ora::hsm_failed("CKR_PIN_INCORRECT", 160));
        assert!(more.is_empty(), "{more:?}");
    }

    #[test]
    fn a_keys_output_is_not_a_wallet_output() {
        let text = "KEY_ID                                               TAG\n---------------------------------------------------- ---\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x\n";
        assert!(interpret(&Request::QueryWallet, text).is_err());
        assert!(matches!(
            interpret(&Request::QueryKeys, text),
            Ok(Reply::Rows { .. })
        ));
    }
}
