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
    /// V$DATABASE_KEY_INFO: which master key wraps each container's database key
    /// ([`DATABASE_KEY_QUERY`]).
    QueryDatabaseKey,
    /// V$ENCRYPTED_TABLESPACES joined to V$TABLESPACE: which master key wraps each encrypted
    /// tablespace's key ([`TABLESPACES_QUERY`]).
    QueryTablespaces,
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

/// V$DATABASE_KEY_INFO without ENCRYPTEDKEY (the wrapped database key: nothing tdekey needs to
/// see or log). Every container's row when run in the root. MASTERKEY_ACTIVATED is not in the
/// 12.2 reference (ORA-00904 there); tdekey's databases are 18c and later (WALLET_ROOT).
pub const DATABASE_KEY_QUERY: &str = "SELECT ENCRYPTIONALG, MASTERKEYID, MASTERKEY_ACTIVATED, CON_ID FROM V$DATABASE_KEY_INFO ORDER BY CON_ID;";

/// V$ENCRYPTED_TABLESPACES with each tablespace's name from V$TABLESPACE (same TS# and
/// CON_ID), without ENCRYPTEDKEY; every container's rows when run in the root (the views show
/// the tablespaces of open containers only). (unverified) Whether a SYSKM session may read
/// V$TABLESPACE: the reference lists V$ENCRYPTED_TABLESPACES among what SYSKM reads, not
/// V$TABLESPACE; an ORA-00942 or ORA-01031 here means the connection needs SELECT_CATALOG_ROLE.
pub const TABLESPACES_QUERY: &str = "SELECT E.TS#, T.NAME, E.ENCRYPTIONALG, E.ENCRYPTEDTS, E.MASTERKEYID, E.KEY_VERSION, E.STATUS, E.CON_ID FROM V$ENCRYPTED_TABLESPACES E JOIN V$TABLESPACE T ON T.TS# = E.TS# AND T.CON_ID = E.CON_ID ORDER BY E.CON_ID, E.TS#;";

pub const KEYSTORE_ALTERED: &str = "keystore altered";
pub const SYSTEM_ALTERED: &str = "system altered";
pub const INSTANCE_STARTED: &str = "database opened";

impl Request {
    /// What kind of request this is (one entry of the console's list).
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::QueryWallet => RequestKind::QueryWallet,
            Request::QueryKeys => RequestKind::QueryKeys,
            Request::QueryDatabaseKey => RequestKind::QueryDatabaseKey,
            Request::QueryTablespaces => RequestKind::QueryTablespaces,
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
                | Request::QueryDatabaseKey
                | Request::QueryTablespaces
                | Request::QueryPrivileges
                | Request::ShowParameter(_)
        )
    }

    /// What a correct answer looks like.
    pub fn expected_answer(&self) -> Expect {
        match self {
            Request::QueryWallet => Expect::Rows(View::EncryptionWallet),
            Request::QueryKeys => Expect::Rows(View::EncryptionKeys),
            Request::QueryDatabaseKey => Expect::Rows(View::DatabaseKeyInfo),
            Request::QueryTablespaces => Expect::Rows(View::EncryptedTablespaces),
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
            Request::QueryDatabaseKey => plain(DATABASE_KEY_QUERY),
            Request::QueryTablespaces => plain(TABLESPACES_QUERY),
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
mod tests;
