//! HSM profiles (table `hsm_profiles`): module path, token, user name, PIN format. Never a password.

use super::{Store, StoreError, map_err};
use crate::model::{HsmProfile, PinFormat, now_ms};
use rusqlite::params;
use std::path::PathBuf;

/// Settings key of the profile the GUI opens at start.
pub const DEFAULT_PROFILE_KEY: &str = "default_hsm_profile";

impl Store {
    pub fn hsm_profiles(&self) -> Result<Vec<HsmProfile>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, module_path, token_label, slot_id, user_name, pin_format
                 FROM hsm_profiles ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let fmt: String = r.get(6)?;
                Ok(HsmProfile {
                    id: Some(r.get(0)?),
                    name: r.get(1)?,
                    module_path: PathBuf::from(r.get::<_, String>(2)?),
                    token_label: r.get(3)?,
                    slot_id: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    user_name: r.get(5)?,
                    pin_format: PinFormat::parse(&fmt).unwrap_or(PinFormat::Plain),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| map_err(&self.path, e))
    }

    /// Inserts or updates (by id) a profile; returns its id.
    pub fn save_hsm_profile(&self, p: &HsmProfile) -> Result<i64, StoreError> {
        let now = now_ms();
        let module = p.module_path.to_string_lossy().into_owned();
        let slot = p.slot_id.map(|s| s as i64);
        // A new profile (no id) gets one; an existing one is updated in place.
        let result = self.conn.query_row(
            "INSERT INTO hsm_profiles (id, name, module_path, token_label, slot_id, user_name, pin_format, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, module_path = excluded.module_path,
               token_label = excluded.token_label, slot_id = excluded.slot_id, user_name = excluded.user_name,
               pin_format = excluded.pin_format, updated_ms = excluded.updated_ms
             RETURNING id",
            params![
                p.id,
                p.name,
                module,
                p.token_label,
                slot,
                p.user_name,
                p.pin_format.as_str(),
                now
            ],
            |r| r.get(0),
        );
        result.map_err(|e| match self.err(e) {
            StoreError::DuplicateName { .. } => StoreError::DuplicateName {
                name: p.name.clone(),
            },
            other => other,
        })
    }

    pub fn delete_hsm_profile(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM hsm_profiles WHERE id = ?1", [id])
            .map(|_| ())
            .map_err(|e| self.err(e))
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
