//! The store's executor: one SQL text for both engines. Statements are written once, with
//! SQLite's `?N` placeholders (rewritten to PostgreSQL's `$N` by [`translate`]); parameters are
//! [`Val`]s and rows are read through [`Row`], so no method of the store names an engine.
//! Writes that read before they write run in [`Store::write_tx`]: an IMMEDIATE transaction on
//! SQLite, a transaction serialised by an advisory lock per [`Domain`] on PostgreSQL.

mod pg;
mod translate;

use super::errors::{map_err, retry_busy};
use super::{Store, StoreError};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;

pub(super) use pg::PgConn;

/// Where the store is, as people read it: a file, or a PostgreSQL location without password.
/// (Shared, so that errors naming it stay small.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreName(std::sync::Arc<Named>);

#[derive(Debug, PartialEq, Eq)]
enum Named {
    File(PathBuf),
    Server(String),
}

impl StoreName {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self(std::sync::Arc::new(Named::File(path.into())))
    }
    pub fn server(display: impl Into<String>) -> Self {
        Self(std::sync::Arc::new(Named::Server(display.into())))
    }
    /// The SQLite file, when the store is one.
    pub fn as_file(&self) -> Option<&std::path::Path> {
        match &*self.0 {
            Named::File(p) => Some(p),
            Named::Server(_) => None,
        }
    }
}

impl fmt::Display for StoreName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Named::File(p) => write!(f, "{}", p.display()),
            Named::Server(s) => f.write_str(s),
        }
    }
}

/// How to open a store: this computer's SQLite file, or a PostgreSQL database.
#[derive(Clone, Debug)]
pub enum Location {
    Sqlite(PathBuf),
    Pg(std::sync::Arc<super::pg::PgTarget>),
}

impl Location {
    /// The store a data directory uses: its shared store if one is named (`--store`,
    /// `TDEKEY_STORE`), else its own SQLite file. Nothing is contacted yet.
    pub fn of(data: &crate::paths::DataDir) -> Result<Self, StoreError> {
        match data.shared_store() {
            None => Ok(Location::Sqlite(data.database())),
            Some(s) => Self::shared(&s.url, s.password_file.as_deref()),
        }
    }

    /// A PostgreSQL store at `url` (without password), the password from `password_file`,
    /// PGPASSWORD or the pgpass file.
    pub fn shared(url: &str, password_file: Option<&std::path::Path>) -> Result<Self, StoreError> {
        let target = super::pg::PgTarget::parse(url, password_file, &super::pg::process_env)?;
        Ok(Location::Pg(std::sync::Arc::new(target)))
    }

    /// Where it is, as people read it (never with a password).
    pub fn name(&self) -> StoreName {
        match self {
            Location::Sqlite(p) => StoreName::file(p.clone()),
            Location::Pg(t) => StoreName::server(t.display()),
        }
    }
}

/// The connection under a store.
pub(super) enum Conn {
    Lite(rusqlite::Connection),
    Pg(Box<RefCell<PgConn>>),
}

/// The writers that must not interleave. On SQLite one IMMEDIATE transaction serialises every
/// writer; on PostgreSQL each domain has its own transaction-scoped advisory lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Domain {
    Schema = 0,
    Audit = 1,
    Migrations = 2,
    Rotation = 3,
    KeyOwners = 4,
}

/// The first key of every advisory lock tdekey takes ("td" "ek" in ASCII, kept from the plan).
pub(super) const LOCK_NAMESPACE: i32 = 7_627_883;

/// A statement parameter.
#[derive(Clone, Debug)]
pub(super) enum Val<'a> {
    Int(i64),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Null,
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Val::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// Values that can be statement parameters (see the [`p!`] macro).
pub(super) trait ToVal {
    fn val(&self) -> Val<'_>;
}

impl ToVal for i64 {
    fn val(&self) -> Val<'_> {
        Val::Int(*self)
    }
}
impl ToVal for bool {
    fn val(&self) -> Val<'_> {
        Val::Int(i64::from(*self))
    }
}
impl ToVal for str {
    fn val(&self) -> Val<'_> {
        Val::Text(Cow::Borrowed(self))
    }
}
impl ToVal for String {
    fn val(&self) -> Val<'_> {
        Val::Text(Cow::Borrowed(self))
    }
}
impl ToVal for [u8] {
    fn val(&self) -> Val<'_> {
        Val::Bytes(Cow::Borrowed(self))
    }
}
impl ToVal for Vec<u8> {
    fn val(&self) -> Val<'_> {
        Val::Bytes(Cow::Borrowed(self))
    }
}
impl<const N: usize> ToVal for [u8; N] {
    fn val(&self) -> Val<'_> {
        Val::Bytes(Cow::Borrowed(self))
    }
}
impl<T: ToVal + ?Sized> ToVal for &T {
    fn val(&self) -> Val<'_> {
        (**self).val()
    }
}
impl<T: ToVal> ToVal for Option<T> {
    fn val(&self) -> Val<'_> {
        self.as_ref().map_or(Val::Null, ToVal::val)
    }
}
impl ToVal for Val<'_> {
    fn val(&self) -> Val<'_> {
        match self {
            Val::Int(v) => Val::Int(*v),
            Val::Text(t) => Val::Text(Cow::Borrowed(t)),
            Val::Bytes(b) => Val::Bytes(Cow::Borrowed(b)),
            Val::Null => Val::Null,
        }
    }
}

/// `p![a, b]`: the parameters of a statement, in order (`?1` is the first).
macro_rules! p {
    ($($e:expr),* $(,)?) => {
        &[$($crate::store::db::ToVal::val(&$e)),*]
    };
}
pub(super) use p;

/// Why reading a row or running a statement failed, before it is turned into a [`StoreError`]
/// that names the store.
#[derive(Debug)]
pub(super) enum Fault {
    Lite(rusqlite::Error),
    Pg(postgres::Error),
    /// A value that is not what the schema says (a text column holding something else).
    Decode(String),
    /// The store was asked for something while it was already answering (a store call from
    /// inside a walk's callback).
    Reentered,
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Self {
        Fault::Lite(e)
    }
}
impl From<postgres::Error> for Fault {
    fn from(e: postgres::Error) -> Self {
        Fault::Pg(e)
    }
}

/// One row of a result, from either engine.
pub(super) enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

impl<'r> Row<'r> {
    pub(super) fn int(&self, i: usize) -> Result<i64, Fault> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
    pub(super) fn opt_int(&self, i: usize) -> Result<Option<i64>, Fault> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
    pub(super) fn text(&self, i: usize) -> Result<String, Fault> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
    pub(super) fn opt_text(&self, i: usize) -> Result<Option<String>, Fault> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
    pub(super) fn bytes(&self, i: usize) -> Result<Vec<u8>, Fault> {
        Ok(match self {
            Row::Lite(r) => r.get(i)?,
            Row::Pg(r) => r.try_get(i)?,
        })
    }
    /// A 32-byte hash column (a wrong length reads as zeros, which never verifies).
    pub(super) fn hash32(&self, i: usize) -> Result<[u8; 32], Fault> {
        Ok(self.bytes_ref(i)?.try_into().unwrap_or([0u8; 32]))
    }
    /// Any column as an owned parameter (for copying rows between stores).
    pub(super) fn owned(&self, i: usize) -> Result<Val<'static>, Fault> {
        match self {
            Row::Lite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(v) => Val::Int(v),
                    ValueRef::Text(t) => Val::Text(Cow::Owned(
                        String::from_utf8(t.to_vec())
                            .map_err(|e| Fault::Decode(format!("column {i}: {e}")))?,
                    )),
                    ValueRef::Blob(b) => Val::Bytes(Cow::Owned(b.to_vec())),
                    ValueRef::Real(_) => {
                        return Err(Fault::Decode(format!(
                            "column {i} holds a real number, which no tdekey column does"
                        )));
                    }
                })
            }
            Row::Pg(r) => {
                use postgres::types::Type;
                let ty = r.columns().get(i).map(|c| c.type_().clone());
                Ok(match ty {
                    Some(Type::INT8) => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
                    Some(Type::BYTEA) => r
                        .try_get::<_, Option<Vec<u8>>>(i)?
                        .map_or(Val::Null, |b| Val::Bytes(Cow::Owned(b))),
                    _ => r
                        .try_get::<_, Option<String>>(i)?
                        .map_or(Val::Null, |t| Val::Text(Cow::Owned(t))),
                })
            }
        }
    }

    pub(super) fn str_ref(&self, i: usize) -> Result<&'r str, Fault> {
        match self {
            Row::Lite(r) => r
                .get_ref(i)?
                .as_str()
                .map_err(|e| Fault::Decode(format!("column {i}: {e}"))),
            Row::Pg(r) => Ok(r.try_get(i)?),
        }
    }
    pub(super) fn opt_str_ref(&self, i: usize) -> Result<Option<&'r str>, Fault> {
        match self {
            Row::Lite(r) => r
                .get_ref(i)?
                .as_str_or_null()
                .map_err(|e| Fault::Decode(format!("column {i}: {e}"))),
            Row::Pg(r) => Ok(r.try_get(i)?),
        }
    }
    pub(super) fn bytes_ref(&self, i: usize) -> Result<&'r [u8], Fault> {
        match self {
            Row::Lite(r) => r
                .get_ref(i)?
                .as_blob()
                .map_err(|e| Fault::Decode(format!("column {i}: {e}"))),
            Row::Pg(r) => Ok(r.try_get(i)?),
        }
    }
}

/// What statements run on: the connection, or a transaction open on it.
pub(super) enum Ex<'c> {
    Lite(&'c rusqlite::Connection),
    Pg(&'c RefCell<PgConn>),
    PgTx(RefCell<pg::PgTx<'c>>),
}

impl Ex<'_> {
    /// Commits the transaction this runs on (nothing to do on a plain connection).
    fn commit(self) -> Result<(), Fault> {
        match self {
            Ex::PgTx(t) => t.into_inner().commit(),
            Ex::Lite(_) | Ex::Pg(_) => Ok(()),
        }
    }

    pub(super) fn execute(&self, sql: &str, params: &[Val<'_>]) -> Result<u64, Fault> {
        match self {
            Ex::Lite(c) => {
                let mut stmt = c.prepare(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Ex::Pg(c) => c
                .try_borrow_mut()
                .map_err(|_| Fault::Reentered)?
                .execute(sql, params),
            Ex::PgTx(t) => t
                .try_borrow_mut()
                .map_err(|_| Fault::Reentered)?
                .execute(sql, params),
        }
    }

    /// Runs `sql` and calls `f` for each row until it returns false (rows are streamed).
    pub(super) fn each(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: &mut dyn FnMut(&Row<'_>) -> Result<bool, Fault>,
    ) -> Result<(), Fault> {
        match self {
            Ex::Lite(c) => {
                let mut stmt = c.prepare(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(r) = rows.next()? {
                    if !f(&Row::Lite(r))? {
                        break;
                    }
                }
                Ok(())
            }
            Ex::Pg(c) => c
                .try_borrow_mut()
                .map_err(|_| Fault::Reentered)?
                .each(sql, params, f),
            Ex::PgTx(t) => t
                .try_borrow_mut()
                .map_err(|_| Fault::Reentered)?
                .each(sql, params, f),
        }
    }

    /// Inserts `rows` (each a value per column, in order) into `columns` of `table`: in a
    /// PostgreSQL transaction with one COPY (two round trips for any number of rows), on SQLite
    /// with one INSERT prepared once. Returns the number of rows written.
    pub(super) fn insert_rows(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Val<'_>>],
    ) -> Result<u64, Fault> {
        let marks = (1..=columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            columns.join(", ")
        );
        match self {
            Ex::Lite(c) => {
                let mut stmt = c.prepare(&insert)?;
                let mut n = 0;
                for row in rows {
                    n += stmt.execute(rusqlite::params_from_iter(row.iter()))? as u64;
                }
                Ok(n)
            }
            Ex::Pg(_) => {
                let mut n = 0;
                for row in rows {
                    n += self.execute(&insert, row)?;
                }
                Ok(n)
            }
            Ex::PgTx(t) => t
                .try_borrow_mut()
                .map_err(|_| Fault::Reentered)?
                .insert_rows(table, columns, &insert, rows),
        }
    }

    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<Option<T>, Fault> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    pub(super) fn query_map<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<Vec<T>, Fault> {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }
}

impl Store {
    /// The statements' target outside a transaction.
    pub(super) fn ex(&self) -> Ex<'_> {
        match &self.conn {
            Conn::Lite(c) => Ex::Lite(c),
            Conn::Pg(c) => Ex::Pg(c.as_ref()),
        }
    }

    pub(super) fn err(&self, f: Fault) -> StoreError {
        match f {
            Fault::Lite(e) => map_err(&self.at, e),
            Fault::Pg(e) => pg::map_err(&self.at, e),
            Fault::Decode(detail) => StoreError::Other {
                at: self.at.clone(),
                detail,
            },
            Fault::Reentered => StoreError::Other {
                at: self.at.clone(),
                detail: "the store was called again while it was answering (a program error)"
                    .to_owned(),
            },
        }
    }

    pub(super) fn execute(&self, sql: &str, params: &[Val<'_>]) -> Result<u64, StoreError> {
        self.ex().execute(sql, params).map_err(|e| self.err(e))
    }

    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<Option<T>, StoreError> {
        self.ex().query_opt(sql, params, f).map_err(|e| self.err(e))
    }

    pub(super) fn query_one<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| StoreError::Other {
                at: self.at.clone(),
                detail: "a query that always returns a row returned none".to_owned(),
            })
    }

    pub(super) fn query_map<T>(
        &self,
        sql: &str,
        params: &[Val<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T, Fault>,
    ) -> Result<Vec<T>, StoreError> {
        self.ex().query_map(sql, params, f).map_err(|e| self.err(e))
    }

    /// Runs `f` in one transaction that no other writer of `domain` can interleave with,
    /// committed when `f` returns Ok (rolled back otherwise); tried again while the store is
    /// busy, for at most its busy timeout.
    pub(super) fn write_tx<T>(
        &self,
        domain: Domain,
        mut f: impl FnMut(&Ex<'_>) -> Result<T, Fault>,
    ) -> Result<T, StoreError> {
        retry_busy(|| match &self.conn {
            Conn::Lite(c) => {
                let tx = rusqlite::Transaction::new_unchecked(
                    c,
                    rusqlite::TransactionBehavior::Immediate,
                )
                .map_err(|e| self.err(e.into()))?;
                let out = f(&Ex::Lite(&tx)).map_err(|e| self.err(e))?;
                tx.commit().map_err(|e| self.err(e.into()))?;
                Ok(out)
            }
            Conn::Pg(c) => {
                let mut conn = c.try_borrow_mut().map_err(|_| self.err(Fault::Reentered))?;
                let tx = conn.begin_locked(domain).map_err(|e| self.err(e))?;
                let ex = Ex::PgTx(RefCell::new(tx));
                let out = f(&ex).map_err(|e| self.err(e))?;
                ex.commit().map_err(|e| self.err(e))?;
                Ok(out)
            }
        })
    }

    /// Runs `f` on one consistent snapshot (a read-only REPEATABLE READ transaction on
    /// PostgreSQL; SQLite's read transaction per statement is enough for one statement).
    pub(super) fn read_snapshot<T>(
        &self,
        f: impl FnOnce(&Ex<'_>) -> Result<T, Fault>,
    ) -> Result<T, StoreError> {
        match &self.conn {
            Conn::Lite(c) => f(&Ex::Lite(c)).map_err(|e| self.err(e)),
            Conn::Pg(c) => {
                let mut conn = c.try_borrow_mut().map_err(|_| self.err(Fault::Reentered))?;
                let tx = conn.begin_snapshot().map_err(|e| self.err(e))?;
                let ex = Ex::PgTx(RefCell::new(tx));
                let out = f(&ex).map_err(|e| self.err(e))?;
                ex.commit().map_err(|e| self.err(e))?;
                Ok(out)
            }
        }
    }

    /// Whether this store lives on a PostgreSQL server.
    pub fn is_shared(&self) -> bool {
        matches!(self.conn, Conn::Pg(_))
    }
}
