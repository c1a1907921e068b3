//! `tdekey db …`: database profiles, and read-only queries through a profile's connector.

use super::hsm_cmd::auditor;
use super::{CliError, ConnectAsArg, ConnectorArg, DbCommand, MultitenantArg, TargetArgs};
use crate::databases::{self, Reach};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat};
use crate::oracle::{Operator, OracleError};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session;
use crate::tde::request::{ParameterName, Reply, Request};
use crate::tde::sql::Statement;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum QueryArg {
    /// SELECT * FROM V$ENCRYPTION_WALLET
    Wallet,
    /// SELECT * FROM V$ENCRYPTION_KEYS
    Keys,
    /// V$DATABASE_KEY_INFO: the master key wrapping each container's database key
    DatabaseKey,
    /// V$ENCRYPTED_TABLESPACES with the tablespaces' names: the master key wrapping each one's key
    Tablespaces,
    /// SHOW PARAMETER wallet_root
    WalletRoot,
    /// SHOW PARAMETER tde_configuration
    TdeConfiguration,
}

pub(super) fn run(data: &DataDir, cmd: DbCommand) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    match cmd {
        DbCommand::Add {
            name,
            connector,
            oracle_home,
            sid,
            connect,
            db_user,
            wallet_root,
            multitenant,
            connect_as,
            rac,
            rac_nodes,
            standbys,
            hsm_profile,
            start_on_other_hsm,
            with_file_wallet,
            old_hsm_user,
        } => {
            // Refused before anything is asked, seeded or saved.
            let name = crate::model::check_name("database", &name)?;
            let d = DatabaseProfile {
                id: None,
                name,
                connector: match connector {
                    ConnectorArg::Manual => ConnectorKind::Manual,
                    ConnectorArg::Sqlplus => ConnectorKind::Sqlplus,
                    ConnectorArg::Rehearsal => ConnectorKind::Rehearsal,
                },
                oracle_home,
                oracle_sid: sid,
                connect_string: connect,
                auth: db_user.map_or(DbAuth::Os, DbAuth::User),
                connect_as: match connect_as {
                    ConnectAsArg::Sysdba => crate::model::ConnectAs::Sysdba,
                    ConnectAsArg::Syskm => crate::model::ConnectAs::Syskm,
                    ConnectAsArg::Normal => crate::model::ConnectAs::Normal,
                },
                wallet_root,
                multitenant: match multitenant {
                    MultitenantArg::NonCdb => Multitenant::NonCdb,
                    MultitenantArg::CdbUnited => Multitenant::CdbUnited,
                    MultitenantArg::CdbIsolated => Multitenant::CdbIsolated,
                },
                rac: rac || !rac_nodes.is_empty(),
                rac_nodes: rac_nodes.iter().map(|n| n.trim().to_owned()).collect(),
                standbys: standbys
                    .iter()
                    .map(|s| crate::model::Standby::parse(s))
                    .collect(),
                hsm_profile,
            };
            if with_file_wallet {
                return add_with_file_wallet(&mut a, data, d);
            }
            match old_hsm_user.filter(|_| start_on_other_hsm) {
                Some(user) => return add_on_other_hsm(&mut a, data, d, &user),
                None => {
                    databases::save(&mut a, &d)?;
                    println!("Saved the database profile {:?}.", d.name);
                }
            }
        }
        DbCommand::List { json } => {
            let all = databases::list(&a)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!(
                    "No database profiles yet: add one with `tdekey db add NAME --connector …`."
                );
            } else {
                for d in &all {
                    println!(
                        "{:<24} {:<10} {:<12} {}",
                        crate::model::printable(&d.name),
                        d.connector.as_str(),
                        d.multitenant.as_str(),
                        d.oracle_sid
                            .as_deref()
                            .or(d.connect_string.as_deref())
                            .unwrap_or("")
                    );
                }
            }
        }
        DbCommand::Show { name, json } => {
            let d = databases::get(&a, &name).map_err(see_list)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!("{}", describe(&d));
            }
        }
        DbCommand::Query {
            name,
            what,
            json,
            target,
        } => return query(&mut a, data, &name, what, json, &target),
        DbCommand::Remove { name } => {
            databases::remove(&mut a, &name).map_err(see_list)?;
            println!(
                "Removed the database profile {name:?}. Nothing in the database or on the HSM changed."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The HSM a new Rehearsal database's keys go to (its profile's, else the default one), with
/// the profile and WALLET_ROOT filled in when they were not given.
fn rehearsal_target(
    a: &crate::audit::Auditor,
    d: &mut DatabaseProfile,
) -> Result<(session::Target, PinFormat), CliError> {
    let target = session::Target::resolve(
        a.store(),
        &session::TargetSpec {
            profile: d.hsm_profile.clone(),
            ..session::TargetSpec::default()
        },
    )?;
    if d.hsm_profile.is_none() {
        d.hsm_profile = target.profile.as_ref().map(|p| p.name.clone());
    }
    d.wallet_root
        .get_or_insert_with(|| crate::oracle::rehearsal::default_wallet_root(&d.name));
    let pin_format = target
        .profile
        .as_ref()
        .map_or(PinFormat::guess(&target.module), |p| p.pin_format);
    Ok((target, pin_format))
}

/// `db add … --with-file-wallet`: the profile saved and its Rehearsal database set up with a
/// password file keystore, as the demo's, ready to migrate.
fn add_with_file_wallet(
    a: &mut crate::audit::Auditor,
    data: &DataDir,
    mut d: DatabaseProfile,
) -> Result<ExitCode, CliError> {
    if d.connector != ConnectorKind::Rehearsal {
        return Err(CliError(
            "--with-file-wallet sets up a simulated database: use it with --connector rehearsal."
                .into(),
        ));
    }
    let (target, pin_format) = rehearsal_target(a, &mut d)?;
    let wallet_password =
        super::read_secret("TDEKEY_WALLET_PASSWORD", None, "Wallet password", true)?;
    if crate::oracle::rehearsal::state_path(data.root(), &d.name).exists() {
        return Err(CliError(format!(
            "A Rehearsal database named {:?} exists already: nothing was changed.",
            d.name
        )));
    }
    databases::save(a, &d)?;
    session::with_connection(a, &target.module, "cli", |a, hsm| {
        let reach = Reach {
            hsm: Some(hsm),
            pin_format,
            token: Some(target.selector.clone()),
            ..Reach::new(data)
        };
        Ok::<_, CliError>(databases::seed_file_wallet(reach, a, &d, &wallet_password)?)
    })?;
    println!(
        "Saved the database profile {:?} and set up its Rehearsal database: a password file keystore under {}/tde with one master key, TDE_CONFIGURATION=FILE. Migrate it: tdekey migrate run {:?} --yes",
        d.name,
        d.wallet_root.as_deref().unwrap_or(""),
        d.name
    );
    Ok(ExitCode::SUCCESS)
}

/// `db add … --start-on-other-hsm`: the profile saved and its Rehearsal database set up on a
/// simulated other vendor's HSM, connected to the HSM connection tdekey will migrate to (the
/// profile's, else the default one).
fn add_on_other_hsm(
    a: &mut crate::audit::Auditor,
    data: &DataDir,
    mut d: DatabaseProfile,
    user: &str,
) -> Result<ExitCode, CliError> {
    if d.connector != ConnectorKind::Rehearsal {
        return Err(CliError(
            "--start-on-other-hsm sets up a simulated database: use it with --connector rehearsal."
                .into(),
        ));
    }
    let (target, pin_format) = rehearsal_target(a, &mut d)?;
    let old_password = super::read_secret(
        "TDEKEY_OLD_HSM_PASSWORD",
        None,
        "Password of the other HSM's user",
        true,
    )?;
    let wallet_password =
        super::read_secret("TDEKEY_WALLET_PASSWORD", None, "Wallet password", true)?;
    let library = session::with_connection(a, &target.module, "cli", |a, hsm| {
        let reach = Reach {
            hsm: Some(hsm),
            pin_format,
            token: Some(target.selector.clone()),
            ..Reach::new(data)
        };
        Ok::<_, CliError>(databases::start_on_other_hsm(
            reach,
            a,
            &d,
            user,
            &old_password,
            &wallet_password,
        )?)
    })?;
    println!(
        "Saved the database profile {:?} and set up its Rehearsal database on a simulated other vendor's HSM (user {user}): its master key is there, TDE_CONFIGURATION=HSM, the HSM keystore is open, and the file keystore under {}/tde keeps the older key.",
        d.name,
        d.wallet_root.as_deref().unwrap_or("")
    );
    println!("The other vendor's PKCS#11 library: {}", library.display());
    println!(
        "Migrate it to {}: tdekey migrate run {:?} --old-hsm-user {user}",
        d.hsm_profile.as_deref().unwrap_or("the HSM"),
        d.name
    );
    Ok(ExitCode::SUCCESS)
}

fn see_list(e: databases::DatabaseError) -> CliError {
    CliError(format!("{e} (see `tdekey db list`)"))
}

fn describe(d: &DatabaseProfile) -> String {
    format!(
        "{}\n  connector     {}{}\n  ORACLE_HOME   {}\n  SID/connect   {}\n  connect as    {}\n  WALLET_ROOT   {}\n  multitenant   {}\n  RAC           {}\n  standbys      {}\n  HSM profile   {}",
        d.name,
        d.connector.as_str(),
        if d.connector == ConnectorKind::Rehearsal {
            " (Rehearsal: simulated, not a real database)"
        } else {
            ""
        },
        d.oracle_home.as_deref().unwrap_or("—"),
        d.oracle_sid
            .as_deref()
            .or(d.connect_string.as_deref())
            .unwrap_or("—"),
        match &d.auth {
            DbAuth::Os => format!("/{}", d.connect_as.clause()),
            DbAuth::User(u) => format!("{u}{} (password asked when needed)", d.connect_as.clause()),
        },
        d.wallet_root.as_deref().unwrap_or("—"),
        d.multitenant.as_str(),
        match (d.rac, d.rac_nodes.is_empty()) {
            (false, _) => "no".to_owned(),
            (true, true) => "yes (nodes not listed)".to_owned(),
            (true, false) => format!("yes, nodes {}", d.rac_nodes.join(", ")),
        },
        if d.standbys.is_empty() {
            "—".to_owned()
        } else {
            d.standbys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
        d.hsm_profile.as_deref().unwrap_or("—"),
    )
}

/// The Manual connector on a terminal: the statement goes to stderr, the pasted output is read
/// from stdin to its end.
pub(super) struct TerminalOperator;

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
        match crate::paths::input::read_stdin("paste") {
            Ok(text) => Ok(text),
            Err(crate::paths::input::InputError::Io { .. }) => Err(OracleError::Cancelled {
                title: request.title(),
            }),
            Err(e) => Err(OracleError::Refused {
                title: request.title(),
                problem: e.to_string(),
            }),
        }
    }
}

/// A read-only query through the profile's connector; exits 3 when Oracle answers with an
/// error. A Rehearsal connects to its HSM profile's token (or the one the flags name) for the
/// query and disconnects after it, both recorded.
fn query(
    a: &mut crate::audit::Auditor,
    data: &DataDir,
    name: &str,
    what: QueryArg,
    json: bool,
    target: &TargetArgs,
) -> Result<ExitCode, CliError> {
    let db = databases::get(a, name).map_err(see_list)?;
    let request = match what {
        QueryArg::Wallet => Request::QueryWallet,
        QueryArg::Keys => Request::QueryKeys,
        QueryArg::DatabaseKey => Request::QueryDatabaseKey,
        QueryArg::Tablespaces => Request::QueryTablespaces,
        QueryArg::WalletRoot => Request::ShowParameter(ParameterName::WalletRoot),
        QueryArg::TdeConfiguration => Request::ShowParameter(ParameterName::TdeConfiguration),
    };
    let ran = match db.connector {
        ConnectorKind::Rehearsal => {
            let mut spec = target.spec();
            if spec.profile.is_none() && spec.module.is_none() {
                spec.profile = db.hsm_profile.clone();
            }
            let tgt = session::Target::resolve(a.store(), &spec)?;
            let pin_format = tgt
                .profile
                .as_ref()
                .map_or(PinFormat::guess(&tgt.module), |p| p.pin_format);
            session::with_connection(a, &tgt.module, "cli", |a, hsm| {
                let reach = Reach {
                    hsm: Some(hsm),
                    pin_format,
                    token: Some(tgt.selector.clone()),
                    ..Reach::new(data)
                };
                Ok::<_, CliError>(databases::run_statement(a, &db, &request, reach)?)
            })?
        }
        ConnectorKind::Sqlplus => {
            let db_password = match &db.auth {
                DbAuth::User(u) => Some(read_db_password(u)?),
                DbAuth::Os => None,
            };
            let reach = Reach {
                db_password,
                ..Reach::new(data)
            };
            databases::run_statement(a, &db, &request, reach)?
        }
        ConnectorKind::Manual => {
            let mut operator = TerminalOperator;
            let reach = Reach {
                operator: Some(&mut operator),
                ..Reach::new(data)
            };
            databases::run_statement(a, &db, &request, reach)?
        }
    };
    print_answer(&db, &ran.connector, &request, &ran.answer, json)?;
    Ok(if ran.answer.reply.is_error() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn read_db_password(user: &str) -> Result<Secret, CliError> {
    if let Ok(p) = std::env::var("TDEKEY_DB_PASSWORD") {
        return Ok(Secret::new(p).within_limit("database password in TDEKEY_DB_PASSWORD")?);
    }
    let s = rpassword::prompt_password(format!("Password of database user {user}: "))
        .map(Secret::new)
        .map_err(|e| CliError(format!("Could not read the password: {e}")))?;
    Ok(s.within_limit("database password")?)
}

fn print_answer(
    db: &DatabaseProfile,
    label: &str,
    request: &Request,
    a: &crate::oracle::Answer,
    json: bool,
) -> Result<(), CliError> {
    let rehearsal = db.connector == ConnectorKind::Rehearsal;
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
