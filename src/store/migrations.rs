//! Rows of `migrations` (the wizard's state, stored as the JSON the migration workflow writes)
//! with their lease.

use super::db::{Domain, Fault, Row, p};
use super::{Store, StoreError};
use crate::model::now_ms;

/// One migration as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRow {
    pub id: i64,
    pub database: String,
    /// `active`, `done`, `rolled-back` or `abandoned`.
    pub status: String,
    /// The workflow's JSON.
    pub state: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub lock_owner: Option<String>,
    pub lock_until_ms: Option<i64>,
}

/// Who holds a migration's lease, when it is held by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until_ms: i64,
}

const COLUMNS: &str =
    "id, database, status, state, created_ms, updated_ms, lock_owner, lock_until_ms";

fn row(r: &Row<'_>) -> Result<MigrationRow, Fault> {
    Ok(MigrationRow {
        id: r.int(0)?,
        database: r.text(1)?,
        status: r.text(2)?,
        state: r.text(3)?,
        created_ms: r.int(4)?,
        updated_ms: r.int(5)?,
        lock_owner: r.opt_text(6)?,
        lock_until_ms: r.opt_int(7)?,
    })
}

impl Store {
    /// The active migration of a database, if one is under way.
    pub fn active_migration(&self, database: &str) -> Result<Option<MigrationRow>, StoreError> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM migrations WHERE database = ?1 AND status = 'active'"),
            p![database],
            row,
        )
    }

    /// The newest migration of a database, whatever its status.
    pub fn latest_migration(&self, database: &str) -> Result<Option<MigrationRow>, StoreError> {
        self.query_opt(
            &format!(
                "SELECT {COLUMNS} FROM migrations WHERE database = ?1 ORDER BY id DESC LIMIT 1"
            ),
            p![database],
            row,
        )
    }

    /// Every migration of a database, newest first.
    pub fn migrations_of(&self, database: &str) -> Result<Vec<MigrationRow>, StoreError> {
        self.query_map(
            &format!("SELECT {COLUMNS} FROM migrations WHERE database = ?1 ORDER BY id DESC"),
            p![database],
            row,
        )
    }

    /// Starts a migration for a database (refused by the unique index while one is active).
    pub fn insert_migration(&self, database: &str, state: &str) -> Result<i64, StoreError> {
        let now = now_ms();
        self.query_one(
            "INSERT INTO migrations (database, status, state, created_ms, updated_ms)
             VALUES (?1, 'active', ?2, ?3, ?3) RETURNING id",
            p![database, state, now],
            |r| r.int(0),
        )
    }

    /// Writes a migration's state and status, only while `owner` holds its lease.
    pub fn save_migration(
        &self,
        id: i64,
        owner: &str,
        status: &str,
        state: &str,
    ) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE migrations SET state = ?3, status = ?4, updated_ms = ?5
             WHERE id = ?1 AND lock_owner = ?2",
            p![id, owner, state, status, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Takes a migration's lease for `owner` until `until_ms`, unless someone else holds an
    /// unexpired one (`steal` takes it anyway: its holder is known to be gone). Returns the
    /// other holder when it is refused.
    pub fn lease_migration(
        &mut self,
        id: i64,
        owner: &str,
        until_ms: i64,
        steal: bool,
    ) -> Result<Option<Lease>, StoreError> {
        self.write_tx(Domain::Migrations, |tx| {
            let held = tx.query_opt(
                "SELECT lock_owner, lock_until_ms FROM migrations WHERE id = ?1",
                p![id],
                |r| Ok((r.opt_text(0)?, r.opt_int(1)?)),
            )?;
            if let Some((Some(other), Some(until))) = held
                && other != owner
                && until > now_ms()
                && !steal
            {
                return Ok(Some(Lease {
                    owner: other,
                    until_ms: until,
                }));
            }
            tx.execute(
                "UPDATE migrations SET lock_owner = ?2, lock_until_ms = ?3 WHERE id = ?1",
                p![id, owner, until_ms],
            )?;
            Ok(None)
        })
    }

    pub fn release_migration(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE migrations SET lock_owner = NULL, lock_until_ms = NULL
             WHERE id = ?1 AND lock_owner = ?2",
            p![id, owner],
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_active_migration_per_database_and_one_lease_holder() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let id = s.insert_migration("ORCL", "{}").unwrap();
        assert!(
            s.insert_migration("ORCL", "{}").is_err(),
            "one active per database"
        );
        assert!(s.insert_migration("FIN", "{}").is_ok());
        let later = now_ms() + 60_000;
        assert_eq!(s.lease_migration(id, "a", later, false).unwrap(), None);
        let held = s.lease_migration(id, "b", later, false).unwrap().unwrap();
        assert_eq!(held.owner, "a");
        assert!(!s.save_migration(id, "b", "active", "{\"x\":1}").unwrap());
        assert!(s.save_migration(id, "a", "active", "{\"x\":1}").unwrap());
        assert_eq!(
            s.active_migration("ORCL").unwrap().unwrap().state,
            "{\"x\":1}"
        );
        assert_eq!(
            s.lease_migration(id, "b", later, true).unwrap(),
            None,
            "stolen"
        );
        s.release_migration(id, "b").unwrap();
        assert_eq!(s.lease_migration(id, "c", later, false).unwrap(), None);
        assert!(s.save_migration(id, "c", "done", "{}").unwrap());
        assert!(s.active_migration("ORCL").unwrap().is_none());
        assert_eq!(s.latest_migration("ORCL").unwrap().unwrap().status, "done");
        assert!(
            s.insert_migration("ORCL", "{}").is_ok(),
            "a new one once done"
        );
    }
}
