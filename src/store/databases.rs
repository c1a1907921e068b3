//! Database profiles: how tdekey reaches one Oracle database. Never a password.

use super::db::{Fault, Row, p};
use super::{Store, StoreError};
use crate::model::{ConnectAs, ConnectorKind, DatabaseProfile, DbAuth, Multitenant, now_ms};

const COLUMNS: &str = "d.id, d.name, d.connector, d.oracle_home, d.oracle_sid, d.connect_string, d.auth_user, d.wallet_root, d.multitenant, d.rac, h.name, d.connect_as, d.rac_nodes, d.standbys";

/// A JSON list column (the RAC nodes, the standbys); a value another version wrote that does
/// not read is an error, not an empty list.
fn json_list<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> Result<Vec<T>, Fault> {
    let text = r.text(i)?;
    serde_json::from_str(&text).map_err(|e| Fault::Decode(format!("column {i}: {e}")))
}

fn row(r: &Row<'_>) -> Result<DatabaseProfile, Fault> {
    let connector = r.text(2)?;
    let mt = r.text(8)?;
    let user = r.opt_text(6)?;
    Ok(DatabaseProfile {
        id: Some(r.int(0)?),
        name: r.text(1)?,
        connector: ConnectorKind::parse(&connector).unwrap_or(ConnectorKind::Manual),
        oracle_home: r.opt_text(3)?,
        oracle_sid: r.opt_text(4)?,
        connect_string: r.opt_text(5)?,
        auth: user.map_or(DbAuth::Os, DbAuth::User),
        wallet_root: r.opt_text(7)?,
        multitenant: Multitenant::parse(&mt).unwrap_or(Multitenant::NonCdb),
        rac: r.int(9)? != 0,
        rac_nodes: json_list(r, 12)?,
        standbys: json_list(r, 13)?,
        hsm_profile: r.opt_text(10)?,
        connect_as: ConnectAs::parse(&r.text(11)?).unwrap_or(ConnectAs::Syskm),
    })
}

impl Store {
    pub fn databases(&self) -> Result<Vec<DatabaseProfile>, StoreError> {
        self.query_map(
            &format!(
                "SELECT {COLUMNS} FROM databases d LEFT JOIN hsm_profiles h ON h.id = d.hsm_profile_id ORDER BY d.name"
            ),
            p![],
            row,
        )
    }

    pub fn database(&self, name: &str) -> Result<Option<DatabaseProfile>, StoreError> {
        Ok(self.databases()?.into_iter().find(|d| d.name == name))
    }

    /// Inserts or (by name) replaces a database profile. The HSM profile must exist.
    pub fn save_database(&self, d: &DatabaseProfile) -> Result<i64, StoreError> {
        let hsm_id: Option<i64> =
            match &d.hsm_profile {
                None => None,
                Some(n) => Some(self.hsm_profile_by_name(n)?.and_then(|p| p.id).ok_or_else(
                    || StoreError::Other {
                        at: self.at.clone(),
                        detail: format!("no HSM connection profile is named {n:?}"),
                    },
                )?),
            };
        let user = match &d.auth {
            DbAuth::Os => None,
            DbAuth::User(u) => Some(u.clone()),
        };
        let now = now_ms();
        let json = |v: serde_json::Result<String>| {
            v.map_err(|e| StoreError::Other {
                at: self.at.clone(),
                detail: format!("the profile's hosts could not be written: {e}"),
            })
        };
        let rac_nodes = json(serde_json::to_string(&d.rac_nodes))?;
        let standbys = json(serde_json::to_string(&d.standbys))?;
        self.query_one(
                "INSERT INTO databases (name, connector, oracle_home, oracle_sid, connect_string, auth_user, wallet_root, multitenant, rac, hsm_profile_id, created_ms, updated_ms, connect_as, rac_nodes, standbys)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)
                 ON CONFLICT (name) DO UPDATE SET connector = excluded.connector, oracle_home = excluded.oracle_home,
                   oracle_sid = excluded.oracle_sid, connect_string = excluded.connect_string, auth_user = excluded.auth_user,
                   wallet_root = excluded.wallet_root, multitenant = excluded.multitenant, rac = excluded.rac,
                   hsm_profile_id = excluded.hsm_profile_id, updated_ms = excluded.updated_ms,
                   connect_as = excluded.connect_as, rac_nodes = excluded.rac_nodes, standbys = excluded.standbys
                 RETURNING id",
                p![
                    d.name,
                    d.connector.as_str(),
                    d.oracle_home,
                    d.oracle_sid,
                    d.connect_string,
                    user,
                    d.wallet_root,
                    d.multitenant.as_str(),
                    d.rac,
                    hsm_id,
                    now,
                    d.connect_as.as_str(),
                    rac_nodes,
                    standbys
                ],
                |r| r.int(0),
            )
    }

    /// Removes a profile by name; returns whether one existed.
    pub fn remove_database(&self, name: &str) -> Result<bool, StoreError> {
        self.execute("DELETE FROM databases WHERE name = ?1", p![name])
            .map(|n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_profiles_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let mut d = DatabaseProfile {
            id: None,
            name: "ORCL prod".into(),
            connector: ConnectorKind::Sqlplus,
            oracle_home: Some("/u01/app/oracle/product/19.0.0/dbhome_1".into()),
            oracle_sid: Some("ORCL".into()),
            connect_string: None,
            auth: DbAuth::Os,
            connect_as: crate::model::ConnectAs::Sysdba,
            wallet_root: Some("/u01/app/oracle/admin/ORCL/wallet".into()),
            multitenant: Multitenant::CdbUnited,
            rac: true,
            rac_nodes: vec!["rac1".into(), "rac2".into()],
            standbys: vec![crate::model::Standby::parse("ORCLSBY@sby1.example.com")],
            hsm_profile: Some("CloudHSM".into()),
        };
        assert!(
            s.save_database(&d)
                .unwrap_err()
                .to_string()
                .contains("no HSM connection profile")
        );
        s.save_hsm_profile(&crate::model::HsmProfile {
            id: None,
            name: "CloudHSM".into(),
            module_path: "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so".into(),
            token_label: None,
            slot_id: None,
            user_name: "cu".into(),
            pin_format: crate::model::PinFormat::CloudHsm,
        })
        .unwrap();
        let id = s.save_database(&d).unwrap();
        d.id = Some(id);
        assert_eq!(s.databases().unwrap(), vec![d.clone()]);
        d.auth = DbAuth::User("c##tde_admin".into());
        d.rac = false;
        d.rac_nodes.clear();
        assert_eq!(s.save_database(&d).unwrap(), id, "same name updates");
        let back = s.database("ORCL prod").unwrap().unwrap();
        assert_eq!(back.auth, DbAuth::User("c##tde_admin".into()));
        assert!(back.rac_nodes.is_empty());
        assert_eq!(back.standbys, d.standbys);
        assert!(s.remove_database("ORCL prod").unwrap());
        assert!(!s.remove_database("ORCL prod").unwrap());
    }
}
