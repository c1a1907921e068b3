//! Copying a store into another, row for row with the same ids (`tdekey store copy`): this
//! computer's SQLite file into a team's empty PostgreSQL database.

use super::db::{Domain, Val, p};
use super::{Store, StoreError};

/// Every table a store holds, parents before children: the order a copy writes them in.
/// (A test checks that it names every table of the SQLite schema.)
pub const TABLES: &[&str] = &[
    "hsm_profiles",
    "settings",
    "databases",
    "migrations",
    "key_owners",
    "rotation_policies",
    "rotation_runs",
    "audit_log",
    "audit_checkpoints",
    "forward_positions",
];

/// Rows written per COPY (or per run of one prepared INSERT on SQLite) when copying.
const COPY_BATCH: usize = 5_000;

impl Store {
    /// The columns of `table`, in the order the SQLite schema has them.
    fn columns_of(&self, table: &str) -> Result<Vec<String>, StoreError> {
        if self.is_shared() {
            self.query_map(
                "SELECT column_name FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
                p![table],
                |r| r.text(0),
            )
        } else {
            self.query_map(
                "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
                p![table],
                |r| r.text(0),
            )
        }
    }

    /// The number of rows in each of the store's tables.
    pub fn row_counts(&self) -> Result<Vec<(&'static str, i64)>, StoreError> {
        TABLES
            .iter()
            .map(|t| {
                self.query_one(&format!("SELECT count(*) FROM {t}"), p![], |r| r.int(0))
                    .map(|n| (*t, n))
            })
            .collect()
    }

    /// What holds a lease that has not ended at `now_ms`: "migration of NAME (held by …)" or
    /// "rotation of NAME (…)".
    pub fn live_leases(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let mut held = self.query_map(
            "SELECT database, lock_owner FROM migrations WHERE lock_until_ms > ?1",
            p![now_ms],
            |r| {
                Ok(format!(
                    "the migration of {} (held by {})",
                    r.text(0)?,
                    r.opt_text(1)?.unwrap_or_default()
                ))
            },
        )?;
        held.extend(self.query_map(
            "SELECT database, lock_owner FROM rotation_runs WHERE outcome = 'running' AND lock_until_ms > ?1",
            p![now_ms],
            |r| Ok(format!("a rotation of {} (held by {})", r.text(0)?, r.opt_text(1)?.unwrap_or_default())),
        )?);
        Ok(held)
    }

    /// Copies every row of this store into `to`, which must be empty, in one transaction on
    /// `to` (all or nothing), keeping ids; returns the rows copied per table.
    pub fn copy_into(&self, to: &Store) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut plans = Vec::new();
        for t in TABLES {
            let cols = self.columns_of(t)?;
            let theirs = to.columns_of(t)?;
            if let Some(c) = cols.iter().find(|c| !theirs.contains(c)) {
                return Err(StoreError::NotHere {
                    at: to.at.clone(),
                    detail: format!(
                        "its table {t} has no column {c}: its schema is older than this store's"
                    ),
                });
            }
            let list = cols.join(", ");
            plans.push((
                *t,
                format!("SELECT {list} FROM {t} ORDER BY 1"),
                cols.iter().any(|c| c == "id") && *t != "settings",
                cols,
            ));
        }
        to.write_tx(Domain::Schema, |tx| {
            if to.is_shared() {
                // No append may slip in between the copied entries (the copy's seq values are
                // taken as they are), nor any statement time out on a large store.
                tx.query_opt(
                    "SELECT pg_advisory_xact_lock(?1, ?2)",
                    p![i64::from(super::db::LOCK_NAMESPACE), Domain::Audit as i64],
                    |_| Ok(()),
                )?;
                tx.execute("SET LOCAL statement_timeout = 0", p![])?;
            }
            let mut counts = Vec::new();
            for (table, select, has_id, cols) in &plans {
                let names: Vec<&str> = cols.iter().map(String::as_str).collect();
                let mut n = 0u64;
                let mut batch: Vec<Vec<Val<'static>>> = Vec::with_capacity(COPY_BATCH);
                let mut failed = None;
                self.ex()
                    .each(select, p![], &mut |r| {
                        let row = (0..cols.len())
                            .map(|i| r.owned(i))
                            .collect::<Result<Vec<Val<'static>>, _>>()?;
                        batch.push(row);
                        if batch.len() == COPY_BATCH {
                            match tx.insert_rows(table, &names, &batch) {
                                Ok(k) => n += k,
                                Err(e) => {
                                    failed = Some(e);
                                    return Ok(false);
                                }
                            }
                            batch.clear();
                        }
                        Ok(true)
                    })
                    .map_err(|e| super::db::Fault::Decode(self.err(e).to_string()))?;
                if let Some(e) = failed {
                    return Err(e);
                }
                n += tx.insert_rows(table, &names, &batch)?;
                if *has_id && to.is_shared() {
                    // The identity column goes on after the highest id copied.
                    tx.query_opt(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) IS NOT NULL"
                        ),
                        p![],
                        |_| Ok(()),
                    )?;
                }
                counts.push((*table, n));
            }
            Ok(counts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_list_names_every_table_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let mut tables = s
            .query_map(
                "SELECT name FROM sqlite_master WHERE type = 'table'
                   AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'audit_text%'",
                p![],
                |r| r.text(0),
            )
            .unwrap();
        tables.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(tables, listed);
    }
}
