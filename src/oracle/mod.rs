//! Connectors: the one seam between tdekey and an Oracle database.
//!
//! Every connector takes a [`Request`] and answers with rows, a parameter, the line that says a
//! statement ran, or the ORA- error Oracle gave ([`Reply`]). What it could not do at all (sqlplus
//! missing, a timeout, a DBA who cancelled) is an [`OracleError`] sentence.
//!
//! - [`Manual`]: the DBA runs the statement elsewhere and pastes the output.
//! - [`sqlplus::SqlPlus`]: tdekey runs `sqlplus -S -L /nolog` itself.
//! - [`rehearsal::Rehearsal`]: a simulated Oracle 19c keystore on the real HSM connection.

mod paste;
pub mod rehearsal;
pub mod sqlplus;

use crate::model::{ConnectorKind, Retry};
use crate::tde::request::{InterpretError, Reply, Request, interpret};
use crate::tde::sql::{SqlError, Statement};
use std::path::PathBuf;

/// What a connector brings back.
#[derive(Clone, Debug)]
pub struct Answer {
    pub reply: Reply,
    /// What the connector wants the user to know besides the reply (a restart needed, …).
    pub notes: Vec<String>,
    /// Objects the statement created on the HSM (Rehearsal), by label.
    pub hsm_created: Vec<String>,
}

impl Answer {
    pub fn of(reply: Reply) -> Self {
        Self {
            reply,
            notes: Vec::new(),
            hsm_created: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("{0}")]
    Statement(#[from] SqlError),
    #[error(
        "The database profile {name:?} has no ORACLE_HOME. Set it on the Databases screen (tdekey runs ORACLE_HOME/bin/sqlplus)."
    )]
    NoOracleHome { name: String },
    #[error(
        "sqlplus was not found at {path}. Check the profile's ORACLE_HOME (tdekey runs ORACLE_HOME/bin/sqlplus), or use the Manual connector."
    )]
    SqlplusMissing { path: PathBuf },
    #[error("sqlplus at {path} could not be started: {detail}.")]
    SqlplusStart { path: PathBuf, detail: String },
    #[error(
        "sqlplus at {path} did not finish within {seconds} s and was stopped. The statement may or may not have run: query V$ENCRYPTION_WALLET before trying again."
    )]
    Timeout { path: PathBuf, seconds: u64 },
    #[error("sqlplus at {path} {detail}")]
    SqlplusOutput { path: PathBuf, detail: String },
    #[error("The database user name {user:?} is not a plain Oracle user name.")]
    BadUser { user: String },
    #[error("The connect string {0:?} contains spaces, quotes or line breaks.")]
    BadConnectString(String),
    #[error("The output is not an answer to \"{title}\": {problem}")]
    Unreadable {
        title: &'static str,
        problem: InterpretError,
    },
    #[error("The pasted output is not an answer to \"{title}\": {problem}")]
    Refused {
        title: &'static str,
        problem: String,
    },
    #[error("Cancelled: \"{title}\" was not confirmed as run.")]
    Cancelled { title: &'static str },
    #[error("{what} cannot be done through the {connector} connector. {instead}")]
    Unsupported {
        what: &'static str,
        connector: &'static str,
        instead: &'static str,
    },
    #[error("Rehearsal: {0}")]
    Rehearsal(String),
    /// The token a rehearsal keeps its HSM keystore on failed or refused.
    #[error("Rehearsal: {sentence}")]
    Token { sentence: String, retry: Retry },
}

impl OracleError {
    /// Whether trying again can help.
    pub fn retry(&self) -> Retry {
        match self {
            OracleError::Unreadable { .. } | OracleError::Refused { .. } => Retry::CheckFirst,
            // The statement may or may not have run.
            OracleError::Timeout { .. } | OracleError::SqlplusOutput { .. } => Retry::CheckFirst,
            OracleError::Cancelled { .. } => Retry::Yes,
            OracleError::Token { retry, .. } => *retry,
            _ => Retry::AfterFix,
        }
    }
}

/// One database, reached one way.
pub trait Connector {
    /// How the connector names itself in screens, CLI output and audit entries.
    fn label(&self) -> String;
    fn kind(&self) -> ConnectorKind;
    fn run(&mut self, request: &Request) -> Result<Answer, OracleError>;
}

/// The person at the other end of the Manual connector.
pub trait Operator {
    /// Shows the statement and returns what the DBA pasted. `problem` says why the previous
    /// paste was refused. An `Err` (normally [`OracleError::Cancelled`]) ends the request.
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        problem: Option<&str>,
    ) -> Result<String, OracleError>;
}

impl<O: Operator + ?Sized> Operator for &mut O {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        problem: Option<&str>,
    ) -> Result<String, OracleError> {
        (**self).ask(request, statement, problem)
    }
}

/// The DBA runs each statement in their own SQL*Plus or SQL Developer and pastes the output.
pub struct Manual<O: Operator> {
    operator: O,
}

impl<O: Operator> Manual<O> {
    pub fn new(operator: O) -> Self {
        Self { operator }
    }
}

impl<O: Operator> Connector for Manual<O> {
    fn label(&self) -> String {
        "Manual".to_owned()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Manual
    }

    /// Asks until the paste is an answer to the request (rows, the feedback line or an ORA-
    /// error) or the DBA cancels. A paste that is not an answer is never taken as success, nor
    /// is one that echoes another ADMINISTER KEY MANAGEMENT or ALTER SYSTEM statement.
    fn run(&mut self, request: &Request) -> Result<Answer, OracleError> {
        let statement = request.statement()?;
        let mut problem: Option<String> = None;
        loop {
            let text = self.operator.ask(request, &statement, problem.as_deref())?;
            // At most 1 MiB, a leading byte-order mark dropped.
            let text = match crate::model::admit_paste("paste", &text) {
                Ok(t) => t,
                Err(e) => {
                    problem = Some(e.to_string());
                    continue;
                }
            };
            // A paste that echoes statements is read after the echo of this one.
            let part = match paste::answer_part(request, &statement, text) {
                Ok(part) => part,
                Err(sentence) => {
                    problem = Some(sentence);
                    continue;
                }
            };
            match interpret(request, part) {
                Ok(reply) => return Ok(Answer::of(reply)),
                Err(e) => problem = Some(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::tde::sql::Credential;

    struct Scripted(Vec<&'static str>, Vec<Option<String>>);

    impl Operator for Scripted {
        fn ask(
            &mut self,
            _: &Request,
            statement: &Statement,
            problem: Option<&str>,
        ) -> Result<String, OracleError> {
            assert!(!statement.display.contains("pw-secret"));
            self.1.push(problem.map(str::to_owned));
            if self.0.is_empty() {
                return Err(OracleError::Cancelled { title: "test" });
            }
            Ok(self.0.remove(0).to_owned())
        }
    }

    fn open() -> Request {
        Request::OpenKeystore {
            credential: Credential::Password(Secret::from("pw-secret")),
            all_containers: false,
        }
    }

    #[test]
    fn manual_asks_again_until_the_paste_answers_the_statement() {
        let mut m = Manual::new(Scripted(
            vec!["System altered.", "", "keystore altered."],
            vec![],
        ));
        let a = m.run(&open()).expect("third paste is an answer");
        assert_eq!(a.reply.summary(), "keystore altered.");
        let problems = &m.operator.1;
        assert_eq!(problems.len(), 3);
        assert!(problems[0].is_none());
        assert!(
            problems[1]
                .as_deref()
                .is_some_and(|p| p.contains("another statement"))
        );
        assert!(problems[2].as_deref().is_some_and(|p| p.contains("empty")));
    }

    #[test]
    fn manual_reports_oracle_errors_and_cancels() {
        let mut m = Manual::new(Scripted(
            vec!["ERROR at line 1:\nORA-28353: failed to open wallet"],
            vec![],
        ));
        let a = m.run(&open()).expect("an error is an answer");
        assert!(a.reply.is_error());
        let mut m = Manual::new(Scripted(vec![], vec![]));
        assert!(matches!(m.run(&open()), Err(OracleError::Cancelled { .. })));
    }
}
