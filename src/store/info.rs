//! What `tdekey store info` says about the store in use: which engine and where, the schema
//! version, the chain head and its length, and on PostgreSQL the server, TLS and text index.

use super::db::{Conn, p};
use super::{SCHEMA_VERSION, Store, StoreError};

/// The facts of the store in use.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoreFacts {
    /// `sqlite` or `postgresql`.
    pub engine: &'static str,
    /// The file, or the PostgreSQL location (never with a password).
    pub location: String,
    pub schema_version: i64,
    /// The schema version this build writes.
    pub schema_known: i64,
    pub entries: i64,
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    /// PostgreSQL only: the server's version.
    pub server_version: Option<String>,
    /// PostgreSQL only: `none`, or the TLS version and cipher of this connection.
    pub tls: Option<String>,
    /// How `audit list --text` finds words: `fts5`, `trigram` (pg_trgm) or `scan`.
    pub text_search: &'static str,
}

impl Store {
    /// Whether the store still answers: a round trip to a PostgreSQL server (bounded by the
    /// session's statement timeout and the connection's TCP timeouts); nothing on a file.
    pub fn ping(&self) -> Result<(), StoreError> {
        match &self.conn {
            Conn::Lite(_) => Ok(()),
            Conn::Pg(_) => self
                .query_one("SELECT CAST(1 AS BIGINT)", p![], |r| r.int(0))
                .map(|_| ()),
        }
    }

    /// The PostgreSQL server's version and this connection's TLS (`none`, or the TLS version
    /// and cipher), read without touching a table (the window's top bar); both None on a file.
    pub fn server(&self) -> Result<(Option<String>, Option<String>), StoreError> {
        if let Conn::Lite(_) = &self.conn {
            return Ok((None, None));
        }
        let version = self.query_opt("SHOW server_version", p![], |r| r.text(0))?;
        let tls = self.query_opt(
            "SELECT CASE WHEN ssl THEN version || ' ' || cipher ELSE 'none' END
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            p![],
            |r| r.text(0),
        )?;
        Ok((version, tls))
    }

    pub fn facts(&self) -> Result<StoreFacts, StoreError> {
        let head = self.audit_head()?;
        let entries = self.query_one("SELECT count(*) FROM audit_log", p![], |r| r.int(0))?;
        let location = self.at.to_string();
        let mut facts = StoreFacts {
            engine: "sqlite",
            location,
            schema_version: self.schema_version()?,
            schema_known: SCHEMA_VERSION,
            entries,
            head_seq: head.map(|h| h.0),
            head_hash: head.map(|h| hex::encode(h.1)),
            server_version: None,
            tls: None,
            text_search: "fts5",
        };
        if let Conn::Pg(_) = &self.conn {
            facts.engine = "postgresql";
            (facts.server_version, facts.tls) = self.server()?;
            let trigram = self.query_one(
                "SELECT count(*) FROM pg_indexes WHERE tablename = 'audit_log' AND indexdef LIKE '%gin_trgm_ops%'",
                p![],
                |r| r.int(0),
            )?;
            facts.text_search = if trigram > 0 { "trigram" } else { "scan" };
        }
        Ok(facts)
    }
}
