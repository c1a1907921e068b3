//! HSM profiles (table `hsm_profiles`): module path, token, user name, PIN format. Never a password.

use super::db::{Row, p};
use super::{Store, StoreError, db::Fault};
use crate::model::{HsmProfile, PinFormat, now_ms};
use std::path::PathBuf;

/// A new profile (its id given by the database).
const INSERT: &str = "INSERT INTO hsm_profiles (name, module_path, token_label, slot_id, user_name, pin_format, created_ms, updated_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
     RETURNING id";

/// Settings key of the profile the GUI opens at start.
pub const DEFAULT_PROFILE_KEY: &str = "default_hsm_profile";

fn profile(r: &Row<'_>) -> Result<HsmProfile, Fault> {
    Ok(HsmProfile {
        id: Some(r.int(0)?),
        name: r.text(1)?,
        module_path: PathBuf::from(r.text(2)?),
        token_label: r.opt_text(3)?,
        slot_id: r.opt_int(4)?.map(|v| v as u64),
        user_name: r.text(5)?,
        pin_format: PinFormat::parse(&r.text(6)?).unwrap_or(PinFormat::Plain),
    })
}

impl Store {
    pub fn hsm_profiles(&self) -> Result<Vec<HsmProfile>, StoreError> {
        self.query_map(
            "SELECT id, name, module_path, token_label, slot_id, user_name, pin_format
             FROM hsm_profiles ORDER BY name",
            p![],
            profile,
        )
    }

    /// Inserts (no id) or updates (by id) a profile; returns its id.
    pub fn save_hsm_profile(&self, p: &HsmProfile) -> Result<i64, StoreError> {
        let now = now_ms();
        let module = p.module_path.to_string_lossy().into_owned();
        let slot = p.slot_id.map(|s| s as i64);
        let format = p.pin_format.as_str();
        let fields = p![
            p.name,
            module,
            p.token_label,
            slot,
            p.user_name,
            format,
            now
        ];
        // Two statements, not one upsert on id: PostgreSQL's identity column takes no NULL.
        let result = match p.id {
            None => self.query_one(INSERT, fields, |r| r.int(0)),
            Some(id) => {
                let mut args = fields.to_vec();
                args.push(super::db::ToVal::val(&id));
                self.query_opt(
                    "UPDATE hsm_profiles SET name = ?1, module_path = ?2, token_label = ?3,
                       slot_id = ?4, user_name = ?5, pin_format = ?6, updated_ms = ?7
                     WHERE id = ?8
                     RETURNING id",
                    &args,
                    |r| r.int(0),
                )
                .and_then(|found| match found {
                    Some(id) => Ok(id),
                    // Deleted meanwhile (by another window or host): saved again as new.
                    None => self.query_one(INSERT, fields, |r| r.int(0)),
                })
            }
        };
        result.map_err(|e| match e {
            StoreError::DuplicateName { .. } => StoreError::DuplicateName {
                name: p.name.clone(),
            },
            other => other,
        })
    }

    pub fn delete_hsm_profile(&self, id: i64) -> Result<(), StoreError> {
        self.execute("DELETE FROM hsm_profiles WHERE id = ?1", p![id])
            .map(|_| ())
    }

    pub fn hsm_profile_by_name(&self, name: &str) -> Result<Option<HsmProfile>, StoreError> {
        Ok(self.hsm_profiles()?.into_iter().find(|p| p.name == name))
    }

    /// The profile the GUI opens at start, if one is set and still exists.
    pub fn default_hsm_profile(&self) -> Result<Option<HsmProfile>, StoreError> {
        let Some(id) = self.setting(DEFAULT_PROFILE_KEY)? else {
            return Ok(None);
        };
        Ok(self
            .hsm_profiles()?
            .into_iter()
            .find(|p| p.id.map(|i| i.to_string()).as_deref() == Some(id.as_str())))
    }

    pub fn set_default_hsm_profile(&self, id: i64) -> Result<(), StoreError> {
        self.set_setting(DEFAULT_PROFILE_KEY, &id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let mut p = HsmProfile {
            id: None,
            name: "CloudHSM prod".into(),
            module_path: "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so".into(),
            token_label: Some("hsm1".into()),
            slot_id: None,
            user_name: "cu_oracle".into(),
            pin_format: PinFormat::CloudHsm,
        };
        let id = s.save_hsm_profile(&p).unwrap();
        p.id = Some(id);
        assert_eq!(s.hsm_profiles().unwrap(), vec![p.clone()]);
        p.user_name = "cu2".into();
        s.save_hsm_profile(&p).unwrap();
        assert_eq!(s.hsm_profiles().unwrap()[0].user_name, "cu2");
        s.set_default_hsm_profile(id).unwrap();
        assert_eq!(s.default_hsm_profile().unwrap().unwrap().id, Some(id));

        let mut dup = p.clone();
        dup.id = None;
        let e = s.save_hsm_profile(&dup).unwrap_err();
        assert!(e.to_string().contains("CloudHSM prod"), "{e}");

        s.delete_hsm_profile(id).unwrap();
        assert!(s.hsm_profiles().unwrap().is_empty());
        assert!(s.default_hsm_profile().unwrap().is_none());
    }
}
