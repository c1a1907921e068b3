//! Data Guard: before step 9 makes the new master key on the primary, every standby must be
//! able to read redo encrypted under it: the same HSM client and Oracle PKCS#11 library (steps
//! 3 and 4 checked its host), TDE_CONFIGURATION HSM|FILE, and its HSM keystore open (or
//! auto-login). The master key itself is shared through the HSM. tdekey does not reach the
//! standbys' databases: step 8 shows each standby's to-do and waits for a person's "done".

use super::{Check, Context, Need, StepResult, Wizard};
use crate::migration::StepId;
use crate::migration::state::{MigrationState, StepStatus};
use crate::model::{DatabaseProfile, Standby};
use crate::secret::Secret;
use crate::tde::sql::{self, Credential};

/// What a standby needs before step 9, one line each.
pub(crate) fn todo(
    db: &DatabaseProfile,
    state: Option<&MigrationState>,
    s: &Standby,
) -> Vec<String> {
    let user = state
        .and_then(|m| m.hsm_user.clone())
        .filter(|u| !u.is_empty());
    let config = sql::set_tde_configuration("HSM|FILE", true)
        .map(|s| s.display)
        .unwrap_or_default();
    let (credential, typed) = match &user {
        Some(u) => (
            Credential::Hsm {
                user: u.clone(),
                password: Secret::from("x"),
            },
            format!("{u}:<its password>"),
        ),
        None => (
            Credential::Password(Secret::from("x")),
            "the HSM password".to_owned(),
        ),
    };
    let open = sql::open_keystore(
        &credential,
        db.multitenant != crate::model::Multitenant::NonCdb,
    )
    .map(|s| s.display)
    .unwrap_or_default();
    let on_host = |step: StepId| host_status(state, step, &s.host);
    vec![
        format!(
            "Standby {} on {}, before step 9 migrates the primary's master key (redo made under the new key must find it):",
            s.name, s.host
        ),
        format!(
            "1. The same HSM client and Oracle PKCS#11 library as the primary: the HSM client {}; the library {}.",
            on_host(StepId::HsmClient),
            on_host(StepId::OracleLibrary)
        ),
        format!(
            "2. On the standby (as SYSDBA): {config} then restart it (srvctl stop database -d {n}; srvctl start database -d {n}, or SHUTDOWN IMMEDIATE and STARTUP MOUNT) and start redo apply again.",
            n = s.name
        ),
        format!(
            "3. Open its HSM keystore: {open} (type {typed} in place of <hidden>), or set up HSM auto-login there as step 11 does on the primary. V$ENCRYPTION_WALLET on the standby then shows the HSM keystore OPEN (OPEN_NO_MASTER_KEY until the new key's redo arrives)."
        ),
    ]
}

/// How step `step` went on `host`, in words.
fn host_status(state: Option<&MigrationState>, step: StepId, host: &str) -> String {
    let Some(rec) = state.and_then(|m| m.step(step)) else {
        return format!("(step {} has not run)", step.number());
    };
    if rec.status == StepStatus::Skipped {
        return format!(
            "was not checked (step {} skipped: {})",
            step.number(),
            rec.reason.as_deref().unwrap_or("")
        );
    }
    match rec.hosts.iter().find(|h| h.host == host) {
        Some(h) if h.passed => format!("passed step {} there", step.number()),
        Some(_) if rec.status == StepStatus::Done => {
            format!(
                "failed step {} there, accepted with a reason",
                step.number()
            )
        }
        Some(_) => format!("FAILED step {} there", step.number()),
        None => format!("was not checked there yet (step {})", step.number()),
    }
}

/// Step 8's last part: with standbys, their to-do and a person's confirmation; `checks` are
/// the step's own (the file keystore open).
pub(super) fn ready(w: &mut Wizard, ctx: &Context<'_>, mut checks: Vec<Check>) -> StepResult {
    if w.db.standbys.is_empty() {
        return StepResult::from_checks(checks);
    }
    let confirmed = ctx.inputs.confirmed;
    let mut lines = Vec::new();
    for s in &w.db.standbys {
        lines.extend(todo(&w.db, Some(&w.state), s));
        checks.push(Check::new(
            format!("Standby {} on {}: ready for the new master key", s.name, s.host),
            confirmed,
            if confirmed {
                "a person confirmed: the same HSM client and library, TDE_CONFIGURATION HSM|FILE, the HSM keystore open (or auto-login)".to_owned()
            } else {
                "not yet: TDE_CONFIGURATION HSM|FILE and the HSM keystore open (or auto-login) there, before step 9".to_owned()
            },
        ));
    }
    if confirmed {
        return StepResult::from_checks(checks).note(format!(
            "A person confirmed that the standbys ({}) have the HSM client and library, TDE_CONFIGURATION HSM|FILE and their HSM keystore open, before the migration.",
            w.db
                .standbys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lines.push("When every standby is ready, confirm it.".into());
    let mut r = StepResult::attention(
        "Data Guard: prepare each standby before the migration (step 9), then confirm.",
        lines,
        vec![Need::Confirmation],
    );
    r.checks = checks;
    r
}
