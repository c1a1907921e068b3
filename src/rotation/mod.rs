//! Rotation, as a workflow: master keys generated on the HSM, a database's master key rotated
//! one of two ways and verified on both sides, policies per database, what is due, and the
//! unattended run of everything due. The window and the command line are its two front ends.
//!
//! Every run is a row of `rotation_runs` (who, when, which way, the old and new keys, each
//! check, the outcome, and in what state a failed run left the database and the HSM) and two
//! audit entries (`rotation.run` started, then its outcome). A key generated for a run and
//! never activated is named as such and reused by the next run of that database. Retired keys
//! stay on the HSM: tdekey never deletes a master key.

mod credentials;
mod due;
mod generate;
mod keygen;
mod keygen_resume;
mod overview;
mod phases;
mod policy;
mod preflight;
mod recover;
mod run;
mod schedule;

pub use credentials::{CredentialError, Credentials};
pub use due::{DueItem, DueOutcome, DueReport, rotate_due};
pub use keygen::{
    GeneratedKey, KeyRequest, generate_key, generate_key_with_id, share_command, share_interactive,
};
pub use overview::{DatabaseRotation, KeyClaim, TimelineRow, key_claims, overview};
pub use policy::{Policy, PolicyChange, policies, policy, remove_policy, set_policy};
pub use preflight::{DryRun, dry_run};
pub use run::{Check, Context, RotateRequest, RunReport, rotate};
pub use schedule::{
    DUE_SOON_DAYS, DueStatus, Every, Schedule, ScheduleError, local_date, local_minute, local_zone,
    parse_due_date,
};

use crate::audit::AuditError;
use crate::databases::DatabaseError;
use crate::hsm::HsmError;
use crate::model::{Multitenant, Retry};
use crate::oracle::OracleError;
use crate::session::SessionError;
use crate::store::StoreError;
use serde::Serialize;

/// Why a rotation use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Hsm(#[from] HsmError),
    #[error(transparent)]
    Oracle(#[from] OracleError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(
        "Another tdekey ({owner}) is rotating the master key of {database} until {until}. Wait for it to finish; a run that is not renewed ends by itself."
    )]
    Busy {
        database: String,
        owner: String,
        until: String,
        /// When the run that holds it started, when known.
        since_ms: Option<i64>,
    },
    #[error("The rotation policy of {0} is not due: nothing was done.")]
    NotDue(String),
    #[error("{0}")]
    Invalid(String),
}

impl RotationError {
    pub fn retry(&self) -> Retry {
        match self {
            RotationError::Audit(e) => e.retry(),
            RotationError::Store(e) => e.retry(),
            RotationError::Database(e) => e.retry(),
            RotationError::Session(e) => e.retry(),
            RotationError::Hsm(e) => e.retry(),
            RotationError::Oracle(e) => e.retry(),
            RotationError::Busy { .. } => Retry::Yes,
            RotationError::Schedule(_)
            | RotationError::Credential(_)
            | RotationError::NotDue(_)
            | RotationError::Invalid(_) => Retry::AfterFix,
        }
    }
}

/// How a database's master key is rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Way {
    /// tdekey generates the key on the HSM, then `USE KEY '<id>' … FORCE KEYSTORE`.
    Hsm,
    /// Oracle generates it: `SET KEY …`; tdekey finds the new label on the token.
    Oracle,
}

impl Way {
    pub fn as_str(self) -> &'static str {
        match self {
            Way::Hsm => "hsm",
            Way::Oracle => "oracle",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hsm" => Some(Way::Hsm),
            "oracle" => Some(Way::Oracle),
            _ => None,
        }
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            Way::Hsm => "tdekey generates the key on the HSM, then USE KEY",
            Way::Oracle => "Oracle generates the key (SET KEY)",
        }
    }

    /// The way used when neither the person nor a policy chose one: tdekey's own key on a
    /// non-CDB; SET KEY … CONTAINER = ALL on a CDB, since USE KEY changes one container's key.
    pub fn default_for(m: Multitenant) -> Self {
        match m {
            Multitenant::NonCdb => Way::Hsm,
            Multitenant::CdbUnited | Multitenant::CdbIsolated => Way::Oracle,
        }
    }

    /// Why this way cannot rotate a database with this layout, if it cannot.
    pub fn refusal(self, database: &str, m: Multitenant) -> Option<String> {
        match (self, m) {
            (_, Multitenant::CdbIsolated) => Some(format!(
                "{database} is a CDB whose PDBs have isolated keystores: each PDB's key is rotated in that PDB with its own keystore password, which tdekey does not drive. Rotate them in each PDB, or change the profile if the keystores are united."
            )),
            (Way::Hsm, Multitenant::CdbUnited) => Some(format!(
                "{database} is a CDB: USE KEY changes the master key of the one container it runs in, and would leave every PDB on its old key. Use --way oracle (SET KEY … CONTAINER = ALL gives every container a new key)."
            )),
            _ => None,
        }
    }
}

/// Why a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A person asked for it.
    Manual,
    /// The policy was due (`tdekey rotate --due`).
    Scheduled,
    /// A person asked for it now, because the key may be compromised (with a reason).
    Compromise,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Scheduled => "scheduled",
            Trigger::Compromise => "compromise",
        }
    }
}

/// Who runs tdekey, for the runs table: the OS user and the HSM user.
fn who(hsm_user: Option<&str>) -> String {
    let os = crate::audit::Origin::current().os_user;
    match hsm_user {
        Some(u) if !u.is_empty() => format!("{os} (HSM user {u})"),
        _ => os,
    }
}
