//! `tdekey db query`: a read-only query through the database profile's connector, and the
//! Rehearsal database `tdekey hsm demo-token` creates.

use super::hsm_cmd::{auditor, connect_to, resolve_target};
use super::{CliError, TargetArgs};
use crate::audit::Auditor;
use crate::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, DEMO_WALLET_PASSWORD,
    DEMO_WALLET_ROOT,
};
use crate::model::{ConnectorKind as Kind, DatabaseProfile, DbAuth, Multitenant};
use crate::model::{PinFormat, TokenSelector};
use crate::oracle::rehearsal::{self, Rehearsal};
use crate::oracle::sqlplus::SqlPlus;
use crate::oracle::{Answer, Connector, Manual, Operator, OracleError, run_audited};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::tde::request::{ParameterName, Reply, Request};
use crate::tde::sql::Statement;
use std::io::Read;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum QueryArg {
    /// SELECT * FROM V$ENCRYPTION_WALLET
    Wallet,
    /// SELECT * FROM V$ENCRYPTION_KEYS
    Keys,
    /// SHOW PARAMETER wallet_root
    WalletRoot,
    /// SHOW PARAMETER tde_configuration
    TdeConfiguration,
}

/// The Manual connector on a terminal: the statement goes to stderr, the pasted output is read
/// from stdin to its end.
struct TerminalOperator;

impl Operator for TerminalOperator {
    fn ask(
        &mut self,
        request: &Request,
        statement: &Statement,
        problem: Option<&str>,
    ) -> Result<String, OracleError> {
        if let Some(p) = problem {
            // One paste per run on a terminal: a refused paste ends it.
            return Err(OracleError::Refused {
                title: request.title(),
                problem: p.to_owned(),
            });
        }
        eprintln!(
            "Run this in SQL*Plus, then paste its whole output here and end with Ctrl-D:\n\n{}\n",
            statement.display
        );
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|_| OracleError::Cancelled {
                title: request.title(),
            })?;
        Ok(text)
    }
}

pub(super) fn query(
    data: &DataDir,
    name: &str,
    what: QueryArg,
    json: bool,
    target: &TargetArgs,
) -> Result<ExitCode, CliError> {
    let mut auditor = auditor(data)?;
    let db = auditor.store().database(name)?.ok_or_else(|| {
        CliError(format!(
            "No database profile is named {name:?} (see `tdekey db list`)."
        ))
    })?;
    let request = match what {
        QueryArg::Wallet => Request::QueryWallet,
        QueryArg::Keys => Request::QueryKeys,
        QueryArg::WalletRoot => Request::ShowParameter(ParameterName::WalletRoot),
        QueryArg::TdeConfiguration => Request::ShowParameter(ParameterName::TdeConfiguration),
    };
    let (label, answer) = match db.connector {
        Kind::Rehearsal => {
            let mut t = TargetArgs {
                module: target.module.clone(),
                token: target.token.clone(),
                slot: target.slot,
                profile: target.profile.clone(),
            };
            if t.profile.is_none() && t.module.is_none() {
                t.profile = db.hsm_profile.clone();
            }
            let tgt = resolve_target(auditor.store(), &t)?;
            let format = tgt
                .profile
                .as_ref()
                .map_or(PinFormat::guess(&tgt.module), |p| p.pin_format);
            let mut hsm = connect_to(&mut auditor, &tgt.module)?;
            hsm.open(&tgt.selector)?;
            let path = rehearsal::state_path(data.root(), &db.name);
            let mut r = Rehearsal::open(&path, &db.name, db.multitenant, &mut hsm, format)?;
            (
                r.label(),
                run_audited(&mut auditor, &db, &mut r, &request, None)?,
            )
        }
        Kind::Sqlplus => {
            let password = match &db.auth {
                DbAuth::User(u) => Some(read_db_password(u)?),
                DbAuth::Os => None,
            };
            let mut c = SqlPlus::new(&db, password)?;
            (
                c.label(),
                run_audited(&mut auditor, &db, &mut c, &request, None)?,
            )
        }
        Kind::Manual => {
            let mut c = Manual::new(TerminalOperator);
            (
                c.label(),
                run_audited(&mut auditor, &db, &mut c, &request, None)?,
            )
        }
    };
    print_answer(&db, &label, &request, &answer, json)?;
    Ok(if answer.reply.is_error() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_db_password(user: &str) -> Result<Secret, CliError> {
    if let Ok(p) = std::env::var("TDEKEY_DB_PASSWORD") {
        return Ok(Secret::new(p));
    }
    rpassword::prompt_password(format!("Password of database user {user}: "))
        .map(Secret::new)
        .map_err(|e| CliError(format!("Could not read the password: {e}")))
}

fn print_answer(
    db: &DatabaseProfile,
    label: &str,
    request: &Request,
    a: &Answer,
    json: bool,
) -> Result<(), CliError> {
    let rehearsal = db.connector == Kind::Rehearsal;
    if json {
        let v = serde_json::json!({
            "database": db.name,
            "connector": label,
            "rehearsal": rehearsal,
            "request": request.title(),
            "reply": a.reply,
            "notes": a.notes,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{} — {} via {label}", db.name, request.title());
    if rehearsal {
        println!("REHEARSAL: a simulated Oracle 19c keystore, not a real database.");
    }
    match &a.reply {
        Reply::Rows { rows } if rows.is_empty() => println!("no rows selected"),
        Reply::Rows { rows } => {
            for (i, r) in rows.iter().enumerate() {
                println!("-- row {}", i + 1);
                for (c, v) in &r.0 {
                    if !v.is_empty() {
                        println!("{c:<28} {v}");
                    }
                }
            }
        }
        Reply::Parameter { parameter } => {
            println!(
                "{} ({}) = {}",
                parameter.name, parameter.kind, parameter.value
            )
        }
        Reply::Done { feedback } => println!("{feedback}"),
        Reply::Error { error, more } => {
            println!("{}: {}", error.code, error.text);
            for m in more {
                println!("{}: {}", m.code, m.text);
            }
        }
    }
    for n in &a.notes {
        println!("Note: {n}");
    }
    Ok(())
}

/// The Rehearsal database on the demo token: a password file keystore with one master key,
/// open, TDE_CONFIGURATION=FILE: where a DBA stands before migrating. Created once; every
/// statement of the set-up is run and audited like any other.
pub(super) fn ensure_demo_database(
    auditor: &mut Auditor,
    data: &DataDir,
    module: &std::path::Path,
) -> Result<(), CliError> {
    let db = DatabaseProfile {
        id: None,
        name: DEMO_DATABASE_NAME.into(),
        connector: Kind::Rehearsal,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        wallet_root: Some(DEMO_WALLET_ROOT.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        hsm_profile: Some(DEMO_PROFILE_NAME.into()),
    };
    if auditor.store().database(DEMO_DATABASE_NAME)?.is_none() {
        crate::engine::save_database(auditor, &db).map_err(CliError)?;
    }
    let path = rehearsal::state_path(data.root(), DEMO_DATABASE_NAME);
    if path.exists() {
        return Ok(());
    }
    let mut hsm = connect_to(auditor, module)?;
    hsm.open(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))?;
    let mut r = Rehearsal::open(
        &path,
        DEMO_DATABASE_NAME,
        Multitenant::NonCdb,
        &mut hsm,
        PinFormat::Plain,
    )?;
    for req in rehearsal::seed_requests(DEMO_WALLET_ROOT, &Secret::from(DEMO_WALLET_PASSWORD)) {
        let a = run_audited(auditor, &db, &mut r, &req, Some(DEMO_USER))?;
        if let Reply::Error { error, .. } = a.reply {
            return Err(CliError(format!(
                "Setting up the Rehearsal demo database failed at \"{}\": {}: {}",
                req.title(),
                error.code,
                error.text
            )));
        }
    }
    drop(r);
    hsm.close()?;
    println!(
        "Created the Rehearsal database {DEMO_DATABASE_NAME:?} (simulated Oracle 19c): a password file keystore with one master key, ready to migrate to the demo token."
    );
    Ok(())
}
