//! HSM profiles: module, token, crypto user, PIN format. Saving and deleting are audited
//! (`profile.change`) before they are made.

use super::SessionError;
use crate::audit::{Action, Auditor, Entry};
use crate::model::HsmProfile;
use crate::store::StoreError;
use serde_json::json;

/// Every saved profile and which one the window opens at start.
#[derive(Clone, Debug, Default)]
pub struct HsmProfiles {
    pub profiles: Vec<HsmProfile>,
    pub default_id: Option<i64>,
}

pub fn load_hsm_profiles(a: &Auditor) -> Result<HsmProfiles, SessionError> {
    let store = a.store();
    Ok(HsmProfiles {
        profiles: store.hsm_profiles()?,
        default_id: store.default_hsm_profile()?.and_then(|p| p.id),
    })
}

/// Saves a profile (a new one, or by id an existing one); `make_default` also makes it the
/// one the window opens at start. Returns its id.
pub fn save_hsm_profile(
    a: &mut Auditor,
    profile: &HsmProfile,
    make_default: bool,
) -> Result<i64, SessionError> {
    // Printable, at most 64 characters, trimmed: refused before anything is saved.
    let name = crate::model::check_name("HSM profile", &profile.name)
        .map_err(|e| SessionError::Invalid(e.to_string()))?;
    let trimmed;
    let profile = if name == profile.name {
        profile
    } else {
        trimmed = HsmProfile {
            name,
            ..profile.clone()
        };
        &trimmed
    };
    if profile.module_path.as_os_str().is_empty() {
        return Err(SessionError::Invalid(
            "Choose the PKCS#11 library (module path) before saving the profile.".into(),
        ));
    }
    let entry = Entry::new(Action::ProfileChange, &profile.name).details(json!({
        "operation": if profile.id.is_some() { "update" } else { "create" },
        "module_path": profile.module_path.display().to_string(),
        "token_label": profile.token_label,
        "slot_id": profile.slot_id,
        "user_name": profile.user_name,
        "pin_format": profile.pin_format.as_str(),
        "make_default": make_default,
    }));
    a.act(entry, |step| {
        let id = step.store().save_hsm_profile(profile)?;
        if make_default {
            step.store().set_default_hsm_profile(id)?;
        }
        step.note("id", id);
        Ok::<_, StoreError>(id)
    })?
    .into_result("The profile was saved")
}

pub fn delete_hsm_profile(a: &mut Auditor, id: i64, name: &str) -> Result<(), SessionError> {
    let entry =
        Entry::new(Action::ProfileChange, name).details(json!({ "operation": "delete", "id": id }));
    a.act(entry, |step| step.store().delete_hsm_profile(id))?
        .into_result("The profile was deleted")
}
