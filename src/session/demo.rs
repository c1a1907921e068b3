//! `tdekey hsm demo-token`: the demo SoftHSM2 token, its profile and its Rehearsal database,
//! each created once and every step recorded like any other.

use super::{SessionError, save_hsm_profile, with_connection};
use crate::audit::{Action, Auditor, Entry};
use crate::hsm::demo::{self, DEMO_PROFILE_NAME, DEMO_TOKEN_LABEL, DEMO_USER, TokenSpec};
use crate::hsm::{Hsm, HsmError};
use crate::model::{HsmProfile, PinFormat, TokenSelector};
use crate::paths::DataDir;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What `demo_token` did.
#[derive(Clone, Debug)]
pub struct DemoReport {
    pub module: PathBuf,
    pub created_token: bool,
    pub created_database: bool,
}

/// Makes sure the demo token (with what Oracle leaves on an HSM after a migration), its HSM
/// profile (the default one when none is) and the Rehearsal demo database exist.
/// `SOFTHSM2_CONF` must already point at the data directory's configuration.
pub fn demo_token(a: &mut Auditor, data: &DataDir) -> Result<DemoReport, SessionError> {
    let module = demo::softhsm_module().ok_or_else(|| {
        SessionError::Invalid("SoftHSM2 is not installed. Install it (Debian/Ubuntu: sudo apt-get install softhsm2) or run `make run`, which installs it.".into())
    })?;
    let exists = with_connection(a, &module, "cli", |_, hsm| {
        Ok::<_, SessionError>(
            hsm.resolve(&TokenSelector::Label(DEMO_TOKEN_LABEL.into()))
                .is_ok(),
        )
    })?;
    if !exists {
        create_demo_token(a, &module)?;
    }
    ensure_demo_profile(a, &module)?;
    let created_database = crate::databases::ensure_demo_database(a, data, &module)
        .map_err(|e| SessionError::Invalid(e.to_string()))?;
    Ok(DemoReport {
        module,
        created_token: !exists,
        created_database,
    })
}

fn create_demo_token(a: &mut Auditor, module: &Path) -> Result<(), SessionError> {
    let entry = Entry::new(Action::HsmTokenInit, DEMO_TOKEN_LABEL)
        .details(json!({ "module": module.display().to_string(), "demo": true }));
    let hsm: Hsm = a
        .act(entry, |_| demo::create_softhsm_token(&TokenSpec::demo()))?
        .into_result::<SessionError>("The demo token was created")?;
    let first = hsm.random_master_key_id()?;
    let second = hsm.random_master_key_id()?;
    for obj in demo::demo_objects(first, second) {
        let (action, details) = match obj.key {
            Some(k) => (
                Action::KeyGenerate,
                json!({ "demo": true, "what": obj.what, "bits": k.bytes * 8, "extractable": k.extractable, "sensitive": k.sensitive }),
            ),
            None => (
                Action::DataObjectCreate,
                json!({ "demo": true, "what": obj.what }),
            ),
        };
        let entry = Entry::new(action, &obj.label)
            .user(Some(DEMO_USER))
            .details(details);
        a.act(entry, |step| {
            let handle = match obj.key {
                Some(k) => hsm.generate_aes_key(&obj.label, k),
                None => hsm.create_data_object(&obj.label, "tdekey demo", obj.what.as_bytes()),
            }?;
            step.note("handle", handle);
            Ok::<_, HsmError>(handle)
        })?
        .into_result::<SessionError>("The demo object was created")?;
    }
    hsm.close()?;
    Ok(())
}

fn ensure_demo_profile(a: &mut Auditor, module: &Path) -> Result<(), SessionError> {
    let existing = a.store().hsm_profile_by_name(DEMO_PROFILE_NAME)?;
    let has_default = a.store().default_hsm_profile()?.is_some();
    let profile = HsmProfile {
        id: existing.as_ref().and_then(|p| p.id),
        name: DEMO_PROFILE_NAME.into(),
        module_path: module.to_path_buf(),
        token_label: Some(DEMO_TOKEN_LABEL.into()),
        slot_id: None,
        user_name: DEMO_USER.into(),
        pin_format: PinFormat::Plain,
    };
    if existing.as_ref() == Some(&profile) && has_default {
        return Ok(());
    }
    save_hsm_profile(a, &profile, !has_default).map(|_| ())
}
