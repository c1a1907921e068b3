//! The store thread: HSM profiles, database profiles and wallet reads.

use super::hsm_worker::usable;
use super::{Event, EventSink, Failure, Worker};
use crate::audit::Auditor;
use crate::databases;
use crate::model::{DatabaseProfile, HsmProfile};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session;
use std::path::PathBuf;

pub(crate) enum Job {
    LoadProfiles,
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
    WalletInspect {
        root: PathBuf,
        password: Option<Secret>,
    },
}

pub(crate) struct StoreWorker {
    auditor: Result<Auditor, String>,
}

impl StoreWorker {
    pub(crate) fn new(data: &DataDir) -> Self {
        Self {
            auditor: Auditor::open(data).map_err(|e| e.to_string()),
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
    Ok(Event::Databases {
        databases: databases::list(a)?,
        saved,
    })
}

impl Worker for StoreWorker {
    type Job = Job;

    fn handle(&mut self, job: Job, _: &EventSink) -> Result<Event, Failure> {
        let a = usable(&mut self.auditor)?;
        match job {
            Job::LoadProfiles => profiles(a, None),
            Job::SaveProfile {
                profile,
                make_default,
            } => {
                let id = session::save_hsm_profile(a, &profile, make_default)?;
                profiles(a, Some(id))
            }
            Job::DeleteProfile { id, name } => {
                session::delete_hsm_profile(a, id, &name)?;
                profiles(a, None)
            }
            Job::LoadDatabases => databases(a, None),
            Job::SaveDatabase { profile } => {
                databases::save(a, &profile)?;
                databases(a, Some(profile.name))
            }
            Job::DeleteDatabase { name } => {
                databases::remove(a, &name)?;
                databases(a, None)
            }
            Job::WalletInspect { root, password } => Ok(Event::WalletInspected(Box::new(
                databases::inspect_wallet_root(a, &root, password),
            ))),
        }
    }
}
