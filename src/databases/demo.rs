//! The Rehearsal database on the demo token: a password file keystore with one master key,
//! open, TDE_CONFIGURATION=FILE, which is where a DBA stands before migrating. Created once;
//! every statement of the set-up is run and recorded like any other.

use super::{DatabaseError, Reach, run_statement, save};
use crate::audit::Auditor;
use crate::hsm::demo::{
    DEMO_DATABASE_NAME, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_WALLET_PASSWORD, DEMO_WALLET_ROOT,
};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant, PinFormat, TokenSelector};
use crate::oracle::rehearsal;
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session::with_connection;
use crate::tde::request::Reply;
use std::path::Path;

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
        wallet_root: Some(DEMO_WALLET_ROOT.into()),
        multitenant: Multitenant::NonCdb,
        rac: false,
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
        let password = Secret::from(DEMO_WALLET_PASSWORD);
        for request in rehearsal::seed_requests(DEMO_WALLET_ROOT, &password) {
            let reach = Reach {
                hsm: Some(&mut *hsm),
                pin_format: PinFormat::Plain,
                token: Some(TokenSelector::Label(DEMO_TOKEN_LABEL.into())),
                ..Reach::new(data)
            };
            let ran = run_statement(a, &db, &request, reach)?;
            if let Reply::Error { error, .. } = ran.answer.reply {
                return Err(DatabaseError::Invalid(format!(
                    "Setting up the Rehearsal demo database failed at \"{}\": {}: {}",
                    request.title(),
                    error.code,
                    error.text
                )));
            }
        }
        Ok(true)
    })
}
