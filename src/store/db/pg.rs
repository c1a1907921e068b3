//! The executor on PostgreSQL: statements prepared once per connection (the SQL translated from
//! SQLite's placeholders), parameters typed by what the server asked for, rows streamed, and
//! the server's errors turned into [`StoreError`]s.

use super::translate::translate;
use super::{Domain, Fault, LOCK_NAMESPACE, Row, StoreName, Val};
use crate::store::StoreError;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, IsolationLevel, Statement, Transaction};
use std::collections::HashMap;

/// A connection and its prepared statements.
pub(crate) struct PgConn {
    client: Client,
    cache: HashMap<String, Statement>,
}

/// A transaction open on a [`PgConn`].
pub(crate) struct PgTx<'c> {
    tx: Transaction<'c>,
    cache: &'c mut HashMap<String, Statement>,
}

impl PgConn {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            cache: HashMap::new(),
        }
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64, Fault> {
        let stmt = prepared(&mut self.client, &mut self.cache, sql)?;
        run_execute(&mut self.client, &stmt, params)
    }

    pub(super) fn each(
        &mut self,
        sql: &str,
        params: &[Val<'_>],
        f: &mut dyn FnMut(&Row<'_>) -> Result<bool, Fault>,
    ) -> Result<(), Fault> {
        let stmt = prepared(&mut self.client, &mut self.cache, sql)?;
        run_each(&mut self.client, &stmt, params, f)
    }

    /// A READ COMMITTED transaction whose first statement waits for `domain`'s advisory lock, so
    /// that every later statement (each with a fresh snapshot) sees what the previous holder
    /// committed.
    pub(super) fn begin_locked(&mut self, domain: Domain) -> Result<PgTx<'_>, Fault> {
        let mut tx = self.client.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_NAMESPACE, &(domain as i32)],
        )?;
        Ok(PgTx {
            tx,
            cache: &mut self.cache,
        })
    }

    /// A read-only REPEATABLE READ transaction: every statement in it sees one snapshot.
    pub(super) fn begin_snapshot(&mut self) -> Result<PgTx<'_>, Fault> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // A walk (verify, export) reads the whole log: the session's 30 s limit is for single
        // statements, not for this.
        tx.batch_execute("SET LOCAL statement_timeout = 0")?;
        Ok(PgTx {
            tx,
            cache: &mut self.cache,
        })
    }
}

impl PgTx<'_> {
    pub(super) fn execute(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64, Fault> {
        let stmt = prepared_tx(&mut self.tx, self.cache, sql)?;
        run_execute(&mut self.tx, &stmt, params)
    }

    pub(super) fn each(
        &mut self,
        sql: &str,
        params: &[Val<'_>],
        f: &mut dyn FnMut(&Row<'_>) -> Result<bool, Fault>,
    ) -> Result<(), Fault> {
        let stmt = prepared_tx(&mut self.tx, self.cache, sql)?;
        run_each(&mut self.tx, &stmt, params, f)
    }

    /// Writes `rows` into `columns` of `table` with one `COPY … FROM STDIN (FORMAT binary)`:
    /// two round trips whatever the number of rows, where an INSERT per row costs one each.
    /// One or two rows go as INSERTs (`insert`, with `?N` placeholders), which is then cheaper.
    pub(super) fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        insert: &str,
        rows: &[Vec<Val<'_>>],
    ) -> Result<u64, Fault> {
        if rows.len() <= 2 {
            let mut n = 0;
            for row in rows {
                n += self.execute(insert, row)?;
            }
            return Ok(n);
        }
        let list = columns.join(", ");
        // The columns' types, as the server has them (prepared once per connection).
        let probe = prepared_tx(
            &mut self.tx,
            self.cache,
            &format!("SELECT {list} FROM {table} WHERE false"),
        )?;
        let types: Vec<Type> = probe.columns().iter().map(|c| c.type_().clone()).collect();
        let sink = self
            .tx
            .copy_in(&format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"))?;
        let mut w = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let boxed = typed(&types, row)?;
            let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
            w.write(&refs)?;
        }
        // Dropped unfinished (an error above), the writer aborts the COPY: nothing is written.
        Ok(w.finish()?)
    }

    pub(super) fn commit(self) -> Result<(), Fault> {
        Ok(self.tx.commit()?)
    }
}

fn prepared(
    client: &mut Client,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, Fault> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let stmt = client.prepare(&translate(sql).map_err(Fault::Decode)?)?;
    cache.insert(sql.to_owned(), stmt.clone());
    Ok(stmt)
}

fn prepared_tx(
    tx: &mut Transaction<'_>,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, Fault> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let stmt = tx.prepare(&translate(sql).map_err(Fault::Decode)?)?;
    cache.insert(sql.to_owned(), stmt.clone());
    Ok(stmt)
}

/// The parameters as the server's types for them: integers narrowed where the server inferred
/// `integer`, a NULL typed as the column.
fn args<'a>(
    stmt: &Statement,
    params: &'a [Val<'_>],
) -> Result<Vec<Box<dyn ToSql + Sync + 'a>>, Fault> {
    typed(stmt.params(), params)
}

/// The values as `types` (a statement's parameters, or the columns a COPY writes).
fn typed<'a>(
    types: &[Type],
    params: &'a [Val<'_>],
) -> Result<Vec<Box<dyn ToSql + Sync + 'a>>, Fault> {
    if types.len() != params.len() {
        return Err(Fault::Decode(format!(
            "the statement takes {} values and was given {}",
            types.len(),
            params.len()
        )));
    }
    params
        .iter()
        .zip(types)
        .map(|(v, ty)| -> Result<Box<dyn ToSql + Sync + 'a>, Fault> {
            Ok(match v {
                Val::Int(i) if *ty == Type::INT4 => Box::new(
                    i32::try_from(*i).map_err(|_| Fault::Decode(format!("{i} is out of range")))?,
                ),
                Val::Int(i) if *ty == Type::INT2 => Box::new(
                    i16::try_from(*i).map_err(|_| Fault::Decode(format!("{i} is out of range")))?,
                ),
                Val::Int(i) => Box::new(*i),
                Val::Text(t) => Box::new(t.as_ref()),
                Val::Bytes(b) => Box::new(b.as_ref()),
                Val::Null if *ty == Type::INT8 => Box::new(None::<i64>),
                Val::Null if *ty == Type::INT4 => Box::new(None::<i32>),
                Val::Null if *ty == Type::BYTEA => Box::new(None::<&[u8]>),
                Val::Null => Box::new(None::<&str>),
            })
        })
        .collect()
}

fn run_execute<C: postgres::GenericClient>(
    c: &mut C,
    stmt: &Statement,
    params: &[Val<'_>],
) -> Result<u64, Fault> {
    let boxed = args(stmt, params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
    Ok(c.execute(stmt, &refs)?)
}

fn run_each<C: postgres::GenericClient>(
    c: &mut C,
    stmt: &Statement,
    params: &[Val<'_>],
    f: &mut dyn FnMut(&Row<'_>) -> Result<bool, Fault>,
) -> Result<(), Fault> {
    let boxed = args(stmt, params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
    let mut rows = c.query_raw(stmt, refs)?;
    while let Some(r) = rows.next()? {
        if !f(&Row::Pg(&r))? {
            break;
        }
    }
    Ok(())
}

/// The server's error as a sentence that names the store and says what to do.
pub(super) fn map_err(at: &StoreName, e: postgres::Error) -> StoreError {
    let at = at.clone();
    if e.is_closed() {
        return StoreError::ConnectionLost { at };
    }
    let Some(db) = e.as_db_error() else {
        // An I/O error on the socket: the connection is gone.
        if std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
            return StoreError::ConnectionLost { at };
        }
        return StoreError::Other {
            at,
            detail: e.to_string(),
        };
    };
    let code = db.code();
    if *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
    {
        StoreError::Busy { at }
    } else if *code == SqlState::UNIQUE_VIOLATION
        && db
            .constraint()
            .is_some_and(|c| c.starts_with("hsm_profiles_name"))
    {
        StoreError::DuplicateName {
            name: String::new(),
        }
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
    {
        StoreError::Denied {
            at,
            detail: db.message().to_owned(),
        }
    } else if *code == SqlState::DISK_FULL {
        StoreError::DiskFull { at }
    } else if *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        StoreError::ConnectionLost { at }
    } else {
        StoreError::Other {
            at,
            detail: format!("{} (SQLSTATE {})", db.message(), code.code()),
        }
    }
}
