//! The Rehearsal database on the demo token: a password file keystore with one master key,
//! open, TDE_CONFIGURATION=FILE, which is where a DBA stands before migrating. Created once;
//! every statement of the set-up is run and recorded like any other. Also a Rehearsal
//! database that starts on another vendor's HSM (the migration wizard's path B), set up the
//! same way.

use super::{DatabaseError, Reach, run_statement, save};
use crate::audit::{Action, Auditor, Entry};
use crate::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_WALLET_PASSWORD, DEMO_WALLET_ROOT,
};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat, TokenSelector};
use crate::oracle::rehearsal;
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session::with_connection;
use crate::tde::request::Reply;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The profile of the demo database.
pub fn demo_database() -> DatabaseProfile {
    DatabaseProfile {
        id: None,
        name: DEMO_DATABASE_NAME.into(),
        connector: ConnectorKind::Rehearsal,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: crate::model::ConnectAs::Sysdba,
        wallet_root: Some(DEMO_WALLET_ROOT.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: Some(DEMO_PROFILE_NAME.into()),
    }
}

/// Saves the demo database's profile if it is missing, and sets up its simulated database on
/// the demo token if that was never done. Returns whether the database was set up now.
pub fn ensure_demo_database(
    a: &mut Auditor,
    data: &DataDir,
    module: &Path,
) -> Result<bool, DatabaseError> {
    let db = demo_database();
    if a.store().database(DEMO_DATABASE_NAME)?.is_none() {
        save(a, &db)?;
    }
    if rehearsal::state_path(data.root(), DEMO_DATABASE_NAME).exists() {
        return Ok(false);
    }
    with_connection(a, module, "cli", |a, hsm| {
        let reach = Reach {
            hsm: Some(&mut *hsm),
            pin_format: PinFormat::Plain,
            token: Some(TokenSelector::Label(DEMO_TOKEN_LABEL.into())),
            ..Reach::new(data)
        };
        seed_file_wallet(reach, a, &db, &Secret::from(DEMO_WALLET_PASSWORD))?;
        Ok(true)
    })
}

/// The profile as the DBA who set the simulated database up used it: AS SYSDBA, whatever the
/// profile's own session may run later (a SYSKM profile cannot set WALLET_ROOT).
fn as_sysdba(db: &DatabaseProfile) -> DatabaseProfile {
    DatabaseProfile {
        connect_as: crate::model::ConnectAs::Sysdba,
        ..db.clone()
    }
}

/// Sets up a Rehearsal database as the demo's is: a password file keystore (`wallet_password`)
/// with one master key under the profile's WALLET_ROOT, open, TDE_CONFIGURATION=FILE; where a
/// DBA stands before migrating. Each statement recorded. Refused when the Rehearsal database
/// exists already.
pub fn seed_file_wallet(
    reach: Reach<'_>,
    a: &mut Auditor,
    db: &DatabaseProfile,
    wallet_password: &Secret,
) -> Result<(), DatabaseError> {
    let Some(root) = db.wallet_root.clone() else {
        return Err(DatabaseError::Invalid(
            "A Rehearsal database with a file wallet needs its WALLET_ROOT (--wallet-root DIR)."
                .into(),
        ));
    };
    let Reach {
        data,
        mut hsm,
        pin_format,
        token,
        ..
    } = reach;
    if rehearsal::state_path(data.root(), &db.name).exists() {
        return Err(DatabaseError::Invalid(format!(
            "A Rehearsal database named {:?} exists already: nothing was changed.",
            db.name
        )));
    }
    for request in rehearsal::seed_requests(&root, wallet_password) {
        let reach = Reach {
            hsm: hsm.as_deref_mut(),
            pin_format,
            token: token.clone(),
            ..Reach::new(data)
        };
        let ran = run_statement(a, &as_sysdba(db), &request, reach)?;
        if let Reply::Error { error, .. } = ran.answer.reply {
            return Err(DatabaseError::Invalid(format!(
                "Setting up the Rehearsal database {:?} failed at \"{}\": {}: {}",
                db.name,
                request.title(),
                error.code,
                error.text
            )));
        }
    }
    Ok(())
}

/// Saves the Rehearsal profile `db` and sets its simulated database up on another vendor's
/// HSM: the other HSM (simulated, with `old_user` and a verifier of `old_password`) and its
/// PKCS#11 library on the simulated host, recorded as a `database.change`; then, as
/// [`ensure_demo_database`] does, one recorded statement at a time: a password file keystore
/// (`wallet_password`) with one master key under the profile's WALLET_ROOT, HSM|FILE, the
/// migration to the other HSM, TDE_CONFIGURATION=HSM, a restart and the HSM keystore open.
/// The reach's HSM session is the token tdekey will migrate to; nothing is written there.
/// Refused when the Rehearsal database exists already. Returns the library's path.
pub fn start_on_other_hsm(
    reach: Reach<'_>,
    a: &mut Auditor,
    db: &DatabaseProfile,
    old_user: &str,
    old_password: &Secret,
    wallet_password: &Secret,
) -> Result<PathBuf, DatabaseError> {
    if db.connector != ConnectorKind::Rehearsal {
        return Err(DatabaseError::Invalid(
            "Only a Rehearsal database can start on a simulated other HSM (--connector rehearsal)."
                .into(),
        ));
    }
    let Some(wallet_root) = db.wallet_root.clone() else {
        return Err(DatabaseError::Invalid(
            "A Rehearsal database on another HSM needs its WALLET_ROOT (--wallet-root DIR).".into(),
        ));
    };
    let requests =
        rehearsal::other_hsm_seed_requests(&wallet_root, wallet_password, old_user, old_password);
    // Every statement must build (no `"` in a password…) before anything is made.
    for request in &requests {
        request
            .statement()
            .map_err(crate::oracle::OracleError::from)?;
    }
    let Reach {
        data,
        mut hsm,
        pin_format,
        token,
        ..
    } = reach;
    let (state, host) = (
        rehearsal::state_path(data.root(), &db.name),
        rehearsal::host_root(data.root(), &db.name),
    );
    if state.exists() || host.exists() {
        return Err(DatabaseError::Invalid(format!(
            "A Rehearsal database named {:?} exists already ({}). Choose another name, or move {} and {} away to start it afresh.",
            db.name,
            state.display(),
            state.display(),
            host.display()
        )));
    }
    save(a, db)?;
    let entry = Entry::new(Action::DatabaseChange, &db.name).details(json!({
        "operation": "rehearsal_other_hsm",
        "rehearsal": true,
        "vendor": rehearsal::OTHER_VENDOR,
        "hsm_user": old_user,
    }));
    let library = a
        .act(entry, |step| {
            let library = rehearsal::create_other_hsm(
                data.root(),
                &db.name,
                db.multitenant,
                old_user,
                old_password,
            )?;
            step.note("library", library.display().to_string());
            Ok::<_, crate::oracle::OracleError>(library)
        })?
        .into_result::<DatabaseError>("The simulated other HSM was created")?;
    for request in &requests {
        let reach = Reach {
            hsm: hsm.as_deref_mut(),
            pin_format,
            token: token.clone(),
            ..Reach::new(data)
        };
        let ran = run_statement(a, &as_sysdba(db), request, reach)?;
        if let Reply::Error { error, .. } = ran.answer.reply {
            return Err(DatabaseError::Invalid(format!(
                "Setting up the Rehearsal database {:?} on the other HSM failed at \"{}\": {}: {}. To start again, move {} and {} away.",
                db.name,
                request.title(),
                error.code,
                error.text,
                state.display(),
                host.display(),
            )));
        }
    }
    Ok(library)
}
