//! The store thread: connection profiles. Profile changes are audited before they are made.

use super::{Command, Event, EventSink, Task, WalletReport};
use crate::audit::{Action, Auditor, Outcome};
use crate::paths::DataDir;
use crate::store::Store;
use serde_json::json;
use std::sync::mpsc::Receiver;

pub(super) fn run(data: DataDir, rx: Receiver<Command>, sink: EventSink) {
    let mut auditor = Store::open(&data.database())
        .map(Auditor::new)
        .map_err(|e| e.to_string());
    while let Ok(cmd) = rx.recv() {
        let a = match &mut auditor {
            Ok(a) => a,
            Err(e) => {
                sink.send(Event::Failed {
                    task: Task::Profiles,
                    message: e.clone(),
                    reconnect: false,
                });
                continue;
            }
        };
        if let Command::WalletInspect { root, password } = cmd {
            let report = crate::wallet::inspect_root(&root);
            let wallet = root.join("tde").join("ewallet.p12");
            let contents = match password {
                Some(pw) if wallet.is_file() => Some(inspect_wallet(a, &wallet, pw)),
                Some(_) => Some(Err(format!(
                    "There is no {} to open with the password.",
                    wallet.display()
                ))),
                None => None,
            };
            sink.send(Event::WalletInspected(Box::new(WalletReport {
                report,
                contents,
            })));
            continue;
        }
        let db_result = match &cmd {
            Command::LoadDatabases => Some(Ok(None)),
            Command::SaveDatabase { profile } => {
                Some(save_database(a, profile).map(|_| Some(profile.name.clone())))
            }
            Command::DeleteDatabase { name } => Some(remove_database(a, name).map(|_| None)),
            _ => None,
        };
        if let Some(r) = db_result {
            let event = r.and_then(|saved| {
                Ok(Event::Databases {
                    databases: a.store().databases().map_err(|e| e.to_string())?,
                    saved,
                })
            });
            sink.send(event.unwrap_or_else(|message| Event::Failed {
                task: Task::Databases,
                message,
                reconnect: false,
            }));
            continue;
        }
        let result = match cmd {
            Command::LoadProfiles => Ok(None),
            Command::SaveProfile {
                profile,
                make_default,
            } => save(a, &profile, make_default).map(Some),
            Command::DeleteProfile { id, name } => delete(a, id, &name).map(|_| None),
            _ => Err("internal error: a command reached the wrong worker".to_owned()),
        };
        let event = result.and_then(|saved| {
            let store = a.store();
            let profiles = store.hsm_profiles().map_err(|e| e.to_string())?;
            let default_id = store
                .default_hsm_profile()
                .map_err(|e| e.to_string())?
                .and_then(|p| p.id);
            Ok(Event::Profiles {
                profiles,
                default_id,
                saved,
            })
        });
        sink.send(event.unwrap_or_else(|message| Event::Failed {
            task: Task::Profiles,
            message,
            reconnect: false,
        }));
    }
}

fn profile_details(p: &crate::model::HsmProfile) -> serde_json::Value {
    json!({
        "module_path": p.module_path.display().to_string(),
        "token_label": p.token_label,
        "slot_id": p.slot_id,
        "user_name": p.user_name,
        "pin_format": p.pin_format.as_str(),
    })
}

pub fn save(
    a: &mut Auditor,
    profile: &crate::model::HsmProfile,
    make_default: bool,
) -> Result<i64, String> {
    if profile.name.trim().is_empty() {
        return Err("Give the profile a name before saving it.".to_owned());
    }
    if profile.module_path.as_os_str().is_empty() {
        return Err(
            "Choose the PKCS#11 library (module path) before saving the profile.".to_owned(),
        );
    }
    let mut details = profile_details(profile);
    details["operation"] = json!(if profile.id.is_some() {
        "update"
    } else {
        "create"
    });
    let pending = a
        .begin(Action::ProfileChange, &profile.name, None, details)
        .map_err(|e| e.to_string())?;
    let result = a.store().save_hsm_profile(profile).and_then(|id| {
        if make_default {
            a.store().set_default_hsm_profile(id)?;
        }
        Ok(id)
    });
    let (outcome, d) = match &result {
        Ok(id) => (Outcome::Success, json!({ "id": id })),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    let note = a.finish(pending, outcome, d).err();
    match (result, note) {
        (Ok(id), None) => Ok(id),
        (Ok(_), Some(n)) => Err(format!(
            "The profile was saved, but its outcome could not be written to the audit log: {n}"
        )),
        (Err(e), _) => Err(e.to_string()),
    }
}

/// Saves a database profile, audited before it is made.
pub fn save_database(a: &mut Auditor, d: &crate::model::DatabaseProfile) -> Result<i64, String> {
    if d.name.trim().is_empty() {
        return Err("Give the database profile a name before saving it.".to_owned());
    }
    if d.connector == crate::model::ConnectorKind::Sqlplus
        && d.oracle_home.as_deref().is_none_or(|h| h.trim().is_empty())
    {
        return Err("A sqlplus profile needs its ORACLE_HOME (where bin/sqlplus is).".to_owned());
    }
    let pending = a
        .begin(
            Action::DatabaseChange,
            &d.name,
            None,
            json!({ "operation": "save", "profile": d }),
        )
        .map_err(|e| e.to_string())?;
    let r = a.store().save_database(d);
    let (o, det) = match &r {
        Ok(id) => (Outcome::Success, json!({ "id": id })),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    let note = a.finish(pending, o, det).err();
    match (r, note) {
        (Ok(id), None) => Ok(id),
        (Ok(_), Some(n)) => Err(format!(
            "The profile was saved, but its outcome could not be written to the audit log: {n}"
        )),
        (Err(e), _) => Err(e.to_string()),
    }
}

/// Removes a database profile, audited before it is removed.
pub fn remove_database(a: &mut Auditor, name: &str) -> Result<(), String> {
    if a.store()
        .database(name)
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err(format!("No database profile is named {name:?}."));
    }
    let pending = a
        .begin(
            Action::DatabaseChange,
            name,
            None,
            json!({ "operation": "remove" }),
        )
        .map_err(|e| e.to_string())?;
    let r = a.store().remove_database(name);
    let (o, det) = match &r {
        Ok(_) => (Outcome::Success, json!({})),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    let note = a.finish(pending, o, det).err();
    match (r, note) {
        (Ok(_), None) => Ok(()),
        (Ok(_), Some(n)) => Err(format!(
            "The profile was removed, but its outcome could not be written to the audit log: {n}"
        )),
        (Err(e), _) => Err(e.to_string()),
    }
}

fn delete(a: &mut Auditor, id: i64, name: &str) -> Result<(), String> {
    let pending = a
        .begin(
            Action::ProfileChange,
            name,
            None,
            json!({ "operation": "delete", "id": id }),
        )
        .map_err(|e| e.to_string())?;
    let result = a.store().delete_hsm_profile(id);
    let (outcome, d) = match &result {
        Ok(()) => (Outcome::Success, json!({})),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    let note = a.finish(pending, outcome, d).err();
    match (result, note) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(n)) => Err(format!(
            "The profile was deleted, but its outcome could not be written to the audit log: {n}"
        )),
        (Err(e), _) => Err(e.to_string()),
    }
}

/// Opens a wallet file with its password and records the attempt (`wallet.inspect`), for the
/// CLI and the window alike. The password is dropped before the entry is written.
pub fn inspect_wallet(
    a: &mut Auditor,
    wallet: &std::path::Path,
    password: crate::secret::Secret,
) -> Result<crate::wallet::WalletContents, String> {
    let name = wallet.display().to_string();
    let bytes =
        std::fs::read(wallet).map_err(|e| format!("Cannot read {name}: {e}. Check the path."))?;
    let result = crate::wallet::read_wallet(&bytes, &password, &name);
    drop(password);
    let (outcome, details) = match &result {
        Ok(c) => (
            Outcome::Success,
            json!({ "entries": c.entries.len(), "encryption": c.encryption }),
        ),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    a.record(Action::WalletInspect, &name, outcome, None, details)
        .map_err(|e| format!("The audit log could not record the wallet inspection: {e}"))?;
    result.map_err(|e| e.to_string())
}
