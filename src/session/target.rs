//! Which module and token a command uses: the flags it was given, merged with an HSM profile
//! (the one named, else the default one).

use super::SessionError;
use crate::model::{HsmProfile, TokenSelector};
use crate::store::Store;
use std::path::PathBuf;

/// What the user asked for; every field may be absent.
#[derive(Clone, Debug, Default)]
pub struct TargetSpec {
    pub module: Option<PathBuf>,
    pub token: Option<String>,
    pub slot: Option<u64>,
    /// An HSM profile to take defaults from; else the default profile.
    pub profile: Option<String>,
}

/// A module and a token, after merging the flags with the profile.
#[derive(Clone, Debug)]
pub struct Target {
    pub module: PathBuf,
    pub selector: TokenSelector,
    /// The profile the module came from (none when a module was given explicitly).
    pub profile: Option<HsmProfile>,
}

impl Target {
    pub fn resolve(store: &Store, spec: &TargetSpec) -> Result<Self, SessionError> {
        let profile = match &spec.profile {
            Some(name) => Some(store.hsm_profile_by_name(name)?.ok_or_else(|| {
                SessionError::Invalid(format!("No connection profile is named {name:?}."))
            })?),
            None => store.default_hsm_profile()?,
        };
        let module = match (&spec.module, &profile) {
            (Some(m), _) => m.clone(),
            (None, Some(p)) => p.module_path.clone(),
            (None, None) => {
                return Err(SessionError::Invalid(
                    "No PKCS#11 module: pass --module PATH (see `tdekey hsm modules`), or create the demo token with `tdekey hsm demo-token`.".into(),
                ));
            }
        };
        let from_profile = spec.module.is_none();
        let selector = match (&spec.token, spec.slot, &profile) {
            (Some(l), _, _) => TokenSelector::Label(l.clone()),
            (None, Some(s), _) => TokenSelector::Slot(s),
            (None, None, Some(p)) if from_profile => p.selector(),
            _ => TokenSelector::Only,
        };
        Ok(Target {
            module,
            selector,
            profile: profile.filter(|_| from_profile),
        })
    }
}
