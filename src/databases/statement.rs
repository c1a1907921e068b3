//! Running one statement against a database through its profile's connector, recorded.

use super::DatabaseError;
use crate::audit::{Action, Auditor, Entry, Outcome};
use crate::hsm::Hsm;
use crate::model::{ConnectorKind, DatabaseProfile, OpenToken, PinFormat, TokenSelector};
use crate::oracle::rehearsal::{self, Rehearsal};
use crate::oracle::sqlplus::SqlPlus;
use crate::oracle::{Answer, Connector, Manual, Operator, OracleError};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::tde::labels::MASTER_KEY_PREFIX;
use crate::tde::request::Request;
use serde_json::json;

/// What a connector needs to reach the database; each kind uses its part.
pub struct Reach<'a> {
    /// Where Rehearsal keeps its simulated databases.
    pub data: &'a DataDir,
    /// Manual: the DBA who runs the statement and pastes the output.
    pub operator: Option<&'a mut dyn Operator>,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    /// Rehearsal: the HSM session its keystore lives on.
    pub hsm: Option<&'a mut Hsm>,
    /// Rehearsal: how an HSM password becomes the token's PIN.
    pub pin_format: PinFormat,
    /// Rehearsal: the token to open when no session is open yet.
    pub token: Option<TokenSelector>,
}

impl<'a> Reach<'a> {
    pub fn new(data: &'a DataDir) -> Self {
        Self {
            data,
            operator: None,
            db_password: None,
            hsm: None,
            pin_format: PinFormat::Plain,
            token: None,
        }
    }
}

/// Builds the connector a profile names.
pub fn connector_for<'a>(
    db: &DatabaseProfile,
    reach: Reach<'a>,
) -> Result<Box<dyn Connector + 'a>, OracleError> {
    match db.connector {
        ConnectorKind::Manual => {
            let operator = reach.operator.ok_or_else(|| {
                OracleError::Rehearsal(
                    "internal error: the Manual connector was asked to run without anyone to ask"
                        .into(),
                )
            })?;
            Ok(Box::new(Manual::new(operator)))
        }
        ConnectorKind::Sqlplus => Ok(Box::new(SqlPlus::new(db, reach.db_password)?)),
        ConnectorKind::Rehearsal => {
            let hsm = reach.hsm.ok_or_else(|| {
                OracleError::Rehearsal(format!(
                    "tdekey is not connected to an HSM. Connect to {} on the HSM screen first; the rehearsal keeps its HSM keys there.",
                    db.hsm_profile
                        .as_deref()
                        .map_or("the token".to_owned(), |p| format!("{p:?}"))
                ))
            })?;
            if hsm.token().is_none()
                && let Some(selector) = &reach.token
            {
                hsm.open(selector).map_err(|e| OracleError::Token {
                    retry: e.retry(),
                    sentence: e.to_string(),
                })?;
            }
            let path = rehearsal::state_path(reach.data.root(), &db.name);
            Ok(Box::new(
                Rehearsal::open(&path, &db.name, db.multitenant, hsm, reach.pin_format)?
                    .connected_as(
                        db.connect_as,
                        match &db.auth {
                            crate::model::DbAuth::User(u) => Some(u.as_str()),
                            crate::model::DbAuth::Os => None,
                        },
                    )
                    .with_files(Box::new(super::keystore::RehearsalWalletFiles)),
            ))
        }
    }
}

/// What a statement brought back.
#[derive(Clone, Debug)]
pub struct Ran {
    /// How the connector named itself.
    pub connector: String,
    pub answer: Answer,
    /// The statement's HSM password logged tdekey in (Rehearsal): the token and user.
    pub logged_in: Option<(OpenToken, String)>,
}

/// Builds the connector and runs the request. A state-changing statement is recorded before
/// anything is attempted (no entry, no statement) and again with its outcome: the statement
/// with its secrets `<hidden>`, the connector, and what Oracle answered (an ORA- answer is a
/// failure). A connector that cannot be built is such a failure too. Each HSM object the
/// statement created gets its own entry, and so does a login its HSM password made. Queries
/// are not recorded.
pub fn run_statement(
    a: &mut Auditor,
    db: &DatabaseProfile,
    request: &Request,
    reach: Reach<'_>,
) -> Result<Ran, DatabaseError> {
    let Reach {
        data,
        operator,
        db_password,
        mut hsm,
        pin_format,
        token,
    } = reach;
    let was_logged_in = hsm.as_deref().is_some_and(Hsm::logged_in);
    // The crypto user of the session, else the one the statement itself names.
    let hsm_user = hsm
        .as_deref()
        .and_then(Hsm::user)
        .or(request.hsm_user())
        .map(str::to_owned);
    // Each branch below builds the connector once, with these parts.
    macro_rules! reach {
        () => {
            Reach {
                data,
                operator: operator.map(|o| -> &mut dyn Operator { o }),
                db_password,
                hsm: hsm.as_deref_mut(),
                pin_format,
                token,
            }
        };
    }
    let ran = (|| -> Result<(String, Answer), DatabaseError> {
        if !request.changes_state() {
            return Ok(run_once(db, request, reach!())?);
        }
        let statement = request.statement().map_err(OracleError::from)?;
        let entry = Entry::new(Action::OracleStatement, format!("database {}", db.name))
            .user(hsm_user.as_deref())
            .details(json!({
                "connector": db.connector.label(),
                "rehearsal": db.connector == ConnectorKind::Rehearsal,
                "request": request.title(),
                "statement": statement.display,
            }));
        let (connector, answer) = a
            .act(entry, |step| {
                let result = run_once(db, request, reach!());
                match &result {
                    Ok((label, answer)) => {
                        step.note("request", request.title());
                        step.note("statement", statement.display.as_str());
                        step.note("connector", label.as_str());
                        step.note("reply", answer.reply.summary());
                        step.note("notes", answer.notes.clone());
                        step.note("hsm_created", answer.hsm_created.clone());
                        if answer.reply.is_error() {
                            step.outcome(Outcome::Failure);
                        }
                    }
                    Err(OracleError::Cancelled { .. }) => step.outcome(Outcome::Cancelled),
                    Err(_) => step.note("statement", statement.display.as_str()),
                }
                result
            })?
            .into_result::<DatabaseError>(&format!("\"{}\" ran", request.title()))?;
        record_created(a, db, request, &connector, &answer, hsm_user.as_deref())?;
        Ok((connector, answer))
    })();
    // A statement's HSM password may have logged tdekey in, as Oracle logs itself in. That
    // login is recorded; it does not stand if it cannot be, or if the statement failed.
    let mut logged_in = None;
    if let Some(h) = hsm
        && !was_logged_in
        && h.logged_in()
    {
        let by = format!("Rehearsal statement: {}", request.title());
        match (&ran, crate::session::record_implicit_login(a, h, &by)) {
            (Ok((_, answer)), Err(source)) => {
                return Err(DatabaseError::AfterStatement {
                    answer: answer.reply.summary(),
                    source,
                });
            }
            (Ok(_), Ok(())) => {
                logged_in = h
                    .token()
                    .cloned()
                    .map(|t| (t, h.user().unwrap_or("").to_owned()));
            }
            (Err(_), Ok(())) => {
                let _ = crate::session::logout(a, h);
            }
            // The login could not be recorded and was undone already.
            (Err(_), Err(_)) => {}
        }
    }
    let (connector, answer) = ran?;
    Ok(Ran {
        connector,
        answer,
        logged_in,
    })
}

fn run_once(
    db: &DatabaseProfile,
    request: &Request,
    reach: Reach<'_>,
) -> Result<(String, Answer), OracleError> {
    let mut c = connector_for(db, reach)?;
    Ok((c.label(), c.run(request)?))
}

/// One entry for each object a statement created on the HSM, in one transaction.
fn record_created(
    a: &mut Auditor,
    db: &DatabaseProfile,
    request: &Request,
    connector: &str,
    answer: &Answer,
    hsm_user: Option<&str>,
) -> Result<(), DatabaseError> {
    if answer.hsm_created.is_empty() {
        return Ok(());
    }
    let by = format!("{connector}: {}", request.title());
    let entries: Vec<_> = answer
        .hsm_created
        .iter()
        .map(|label| {
            let action = if label.starts_with(MASTER_KEY_PREFIX) {
                Action::KeyGenerate
            } else {
                Action::DataObjectCreate
            };
            (
                action,
                label.clone(),
                Outcome::Success,
                hsm_user.map(str::to_owned),
                json!({ "by": by, "database": db.name }),
            )
        })
        .collect();
    a.record_batch(&entries)
        .map_err(|source| crate::audit::AuditError::Unrecorded {
            done: format!(
                "\"{}\" created {} on the HSM",
                request.title(),
                answer.hsm_created.join(", ")
            ),
            source,
        })?;
    Ok(())
}
