//! Step 1's look at the session: which privileges and roles it has (SESSION_PRIVS and
//! SESSION_ROLES) and whether it may read V$PARAMETER, so that, before anything changes, the
//! person learns which later steps this connection could not run and what grant or role (or
//! which "Connect as") they need. reference/oracle-tde.md, "Who may run what".

use super::{Check, Context, MigrationError, Wizard};
use crate::audit::Auditor;
use crate::tde::privileges::{Allowed, Needed, SessionPrivileges};
use crate::tde::request::{ParameterName, Reply, Request};

/// The steps of the plan (and of a rollback) that send statements needing `n`.
fn steps_needing(n: Needed) -> &'static str {
    match n {
        Needed::AdministerKeyManagement => {
            "steps 2 (path B), 8, 9 and 11, and rollback step R2 (ADMINISTER KEY MANAGEMENT)"
        }
        Needed::AlterSystem => {
            "steps 2 (path B), 5 (when WALLET_ROOT must be set) and 7, and rollback steps R1 and R3 (ALTER SYSTEM SET WALLET_ROOT / TDE_CONFIGURATION)"
        }
        Needed::ReadParameters => {
            "steps 1, 2, 5 and 7, and rollback steps R1 and R3 (SHOW PARAMETER wallet_root / tde_configuration)"
        }
        Needed::Restart => "the restarts (done by a person)",
    }
}

/// The checks of the session's privileges; any that fails stops step 1 before anything is
/// sent that changes the database.
pub(super) fn session_checks(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<Vec<Check>, MigrationError> {
    let how = match w.db.connect_as {
        crate::model::ConnectAs::Sysdba => "AS SYSDBA",
        crate::model::ConnectAs::Syskm => "AS SYSKM",
        crate::model::ConnectAs::Normal => "without an administrative privilege",
    };
    let privileges = match w.query(a, ctx, &Request::QueryPrivileges)? {
        Reply::Rows { rows } => SessionPrivileges::from_rows(&rows),
        other => return Err(super::refused(&other)),
    };
    // SESSION_PRIVS does not show object grants (SELECT on V_$PARAMETER): the parameter is read
    // once to learn the answer, a read that changes nothing.
    let read = match privileges.allows(Needed::ReadParameters) {
        Allowed::Yes => Allowed::Yes,
        _ => match w.query(
            a,
            ctx,
            &Request::ShowParameter(ParameterName::TdeConfiguration),
        )? {
            Reply::Parameter { .. } => Allowed::Yes,
            // reference/oracle-tde.md names ORA-01031 for a SYSKM session reading V$PARAMETER;
            // a view the session may not select from is also commonly answered ORA-00942
            // ("table or view does not exist"): both mean the session cannot read it.
            Reply::Error { error, .. }
                if error.code == "ORA-01031" || error.code == "ORA-00942" =>
            {
                Allowed::No
            }
            other => return Err(super::refused(&other)),
        },
    };
    let mut checks = Vec::new();
    for (n, allowed) in [
        (
            Needed::AdministerKeyManagement,
            privileges.allows(Needed::AdministerKeyManagement),
        ),
        (Needed::AlterSystem, privileges.allows(Needed::AlterSystem)),
        (Needed::ReadParameters, read),
    ] {
        let ok = allowed == Allowed::Yes;
        checks.push(Check::new(
            match n {
                Needed::AdministerKeyManagement => {
                    "The session may run ADMINISTER KEY MANAGEMENT"
                }
                Needed::AlterSystem => "The session may run ALTER SYSTEM",
                Needed::ReadParameters => "The session may read V$PARAMETER (SHOW PARAMETER)",
                Needed::Restart => "The session may restart the database",
            },
            ok,
            if ok {
                format!("connected {how}: {}", steps_needing(n))
            } else {
                format!(
                    "connected {how}, the session cannot run {}. They need {}. Nothing was changed.",
                    steps_needing(n),
                    n.grant()
                )
            },
        ));
    }
    Ok(checks)
}
