//! The store thread: HSM profiles, database profiles and wallet reads.

use super::store_slot::StoreSlot;
use super::{Event, EventSink, Failure, Task, Worker};
use crate::audit::Auditor;
use crate::databases;
use crate::model::{DatabaseProfile, HsmProfile};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session;
use std::path::PathBuf;

/// What the store thread does for the window.
pub enum StoreCommand {
    /// Which store is in use and whether it answers (the top bar).
    Info,
    LoadProfiles,
    /// Save a profile; `make_default` also makes it the one the window opens at start.
    SaveProfile {
        profile: HsmProfile,
        make_default: bool,
    },
    DeleteProfile {
        id: i64,
        name: String,
    },
    LoadDatabases,
    SaveDatabase {
        profile: DatabaseProfile,
    },
    DeleteDatabase {
        name: String,
    },
    /// Inspect a WALLET_ROOT on this machine; with the password, list ewallet.p12's entries.
    WalletInspect {
        root: PathBuf,
        password: Option<Secret>,
    },
    /// A database's migration plan and each step's state.
    MigrationStatus {
        database: String,
    },
    /// Start a new migration of a database; `replacing`: the finished migration the person
    /// chose to leave behind (refused if it is no longer the newest).
    MigrationStart {
        database: String,
        replacing: Option<i64>,
    },
    /// Accept the current step's failed checks with a reason.
    MigrationOverride {
        database: String,
        reason: String,
    },
    /// Write the migration report (HTML, or JSON when the file name ends in .json).
    MigrationReport {
        database: String,
        path: PathBuf,
    },
    /// The Rotation screen's data; `on_token`: the connected token's label and the labels on
    /// it (from the last inventory), to name current keys missing from it.
    RotationOverview {
        on_token: Option<(String, std::collections::HashSet<String>)>,
    },
    /// Set a database's rotation policy, then the screen's data again.
    SetPolicy {
        change: crate::rotation::PolicyChange,
        on_token: Option<(String, std::collections::HashSet<String>)>,
    },
    /// Remove a database's rotation policy, then the screen's data again.
    RemovePolicy {
        database: String,
        on_token: Option<(String, std::collections::HashSet<String>)>,
    },
    /// Write a recoverability report (HTML, or JSON); `force`: replace an existing file (a
    /// save dialog asked).
    RecoverabilityWrite {
        report: std::sync::Arc<crate::recover::Recoverability>,
        json: bool,
        path: PathBuf,
        force: bool,
    },
}

impl StoreCommand {
    pub fn task(&self) -> Task {
        match self {
            StoreCommand::Info => Task::StoreInfo,
            StoreCommand::LoadProfiles
            | StoreCommand::SaveProfile { .. }
            | StoreCommand::DeleteProfile { .. } => Task::Profiles,
            StoreCommand::LoadDatabases
            | StoreCommand::SaveDatabase { .. }
            | StoreCommand::DeleteDatabase { .. } => Task::Databases,
            StoreCommand::WalletInspect { .. } => Task::Wallet,
            StoreCommand::MigrationStatus { .. }
            | StoreCommand::MigrationStart { .. }
            | StoreCommand::MigrationOverride { .. }
            | StoreCommand::MigrationReport { .. } => Task::Migration,
            StoreCommand::RotationOverview { .. }
            | StoreCommand::SetPolicy { .. }
            | StoreCommand::RemovePolicy { .. } => Task::RotationOverview,
            StoreCommand::RecoverabilityWrite { .. } => Task::RecoverabilityWrite,
        }
    }
}

pub(crate) struct StoreWorker {
    slot: StoreSlot,
}

impl StoreWorker {
    pub(crate) fn new(data: &DataDir) -> Self {
        Self {
            slot: StoreSlot::open(data),
        }
    }
}

fn profiles(a: &Auditor, saved: Option<i64>) -> Result<Event, Failure> {
    let p = session::load_hsm_profiles(a)?;
    Ok(Event::Profiles {
        profiles: p.profiles,
        default_id: p.default_id,
        saved,
    })
}

fn databases(a: &Auditor, saved: Option<String>) -> Result<Event, Failure> {
    let databases = databases::list(a)?;
    let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
    Ok(Event::Databases {
        standings: crate::migration::standings(a, &names)?,
        databases,
        saved,
    })
}

fn rotation(
    a: &Auditor,
    on_token: Option<&(String, std::collections::HashSet<String>)>,
    message: Option<String>,
) -> Result<Event, Failure> {
    let now_ms = crate::model::now_ms();
    let (rows, timeline) =
        crate::rotation::overview(a, on_token.map(|(t, l)| (t.as_str(), l)), now_ms)?;
    Ok(Event::RotationOverview(Box::new(super::RotationOverview {
        rows,
        timeline,
        claims: crate::rotation::key_claims(a)?,
        message,
        now_ms,
    })))
}

impl Worker for StoreWorker {
    type Job = StoreCommand;

    fn slot(&mut self) -> &mut StoreSlot {
        &mut self.slot
    }

    fn reads_only(job: &StoreCommand) -> bool {
        matches!(
            job,
            StoreCommand::Info
                | StoreCommand::LoadProfiles
                | StoreCommand::LoadDatabases
                | StoreCommand::MigrationStatus { .. }
                | StoreCommand::RotationOverview { .. }
        )
    }

    fn handle(&mut self, job: StoreCommand, sink: &EventSink) -> Result<Event, Failure> {
        // Answered whether the store answers or not: its problem is part of the answer.
        if let StoreCommand::Info = job {
            return Ok(Event::StoreShown(Box::new(self.slot.shown())));
        }
        let a = self.slot.get(sink)?;
        match job {
            StoreCommand::Info => Ok(Event::StoreShown(Box::new(self.slot.shown()))),
            StoreCommand::LoadProfiles => profiles(a, None),
            StoreCommand::SaveProfile {
                profile,
                make_default,
            } => {
                let id = session::save_hsm_profile(a, &profile, make_default)?;
                profiles(a, Some(id))
            }
            StoreCommand::DeleteProfile { id, name } => {
                session::delete_hsm_profile(a, id, &name)?;
                profiles(a, None)
            }
            StoreCommand::LoadDatabases => databases(a, None),
            StoreCommand::SaveDatabase { profile } => {
                databases::save(a, &profile)?;
                databases(a, Some(profile.name))
            }
            StoreCommand::DeleteDatabase { name } => {
                databases::remove(a, &name)?;
                databases(a, None)
            }
            StoreCommand::WalletInspect { root, password } => Ok(Event::WalletInspected(Box::new(
                databases::inspect_wallet_root(a, &root, password),
            ))),
            StoreCommand::MigrationStatus { database } => Ok(Event::Migration {
                state: crate::migration::status(a, &database)?.map(Box::new),
                past: crate::migration::past(a, &database)?,
                database,
                progress: None,
            }),
            StoreCommand::MigrationStart {
                database,
                replacing,
            } => Ok(Event::Migration {
                state: Some(Box::new(crate::migration::start(a, &database, replacing)?)),
                past: crate::migration::past(a, &database)?,
                database,
                progress: None,
            }),
            StoreCommand::MigrationOverride { database, reason } => {
                let progress = crate::migration::override_step(a, &database, &reason)?;
                Ok(Event::Migration {
                    state: crate::migration::status(a, &database)?.map(Box::new),
                    past: crate::migration::past(a, &database)?,
                    database,
                    progress: Some(Box::new(progress)),
                })
            }
            StoreCommand::RotationOverview { on_token } => rotation(a, on_token.as_ref(), None),
            StoreCommand::SetPolicy { change, on_token } => {
                let p = crate::rotation::set_policy(a, &change)?;
                let tz = crate::rotation::local_zone();
                let message = format!(
                    "{}: rotated {}, {}; next due {}.",
                    p.database,
                    p.describe,
                    p.way.describe(),
                    crate::rotation::local_minute(p.next_due_ms, &tz)
                );
                rotation(a, on_token.as_ref(), Some(message))
            }
            StoreCommand::RemovePolicy { database, on_token } => {
                crate::rotation::remove_policy(a, &database)?;
                let message = format!("The rotation policy of {database} was removed.");
                rotation(a, on_token.as_ref(), Some(message))
            }
            StoreCommand::MigrationReport { database, path } => {
                let json = path.extension().is_some_and(|e| e == "json");
                // The save dialog asked before replacing a file.
                let report = crate::migration::write_report(a, &database, &path, true, json)?;
                if !report.trustworthy() {
                    // Written, with its warnings at the top: the window says so as an error.
                    return Err(Failure::new(format!(
                        "The report was written to {}, with warnings: {}",
                        path.display(),
                        report.warnings.join(" ")
                    )));
                }
                Ok(Event::MigrationReport(path))
            }
            StoreCommand::RecoverabilityWrite {
                report,
                json,
                path,
                force,
            } => super::recover_jobs::write(a, &report, path, json, force),
        }
    }
}
