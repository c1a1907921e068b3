//! Typed rows of V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES: which master key wraps each
//! container's database key and each encrypted tablespace's key. What a recoverability report
//! stands on: every MASTERKEYID here must be found somewhere (an HSM, a wallet, a backup).
//!
//! What the sources say (tests/fixtures/oracle/SOURCES.md: S21–S23 and "Not found for issue
//! #23"):
//! - both MASTERKEYID columns are RAW(16), printed as 32 hex digits; the id is the 16 bytes
//!   of the master key's KEY_ID ([`crate::tde::labels::parse_masterkeyid`]);
//! - a rotation (SET KEY, USE KEY) re-wraps the database key and the tablespace keys under the
//!   new master key, so the MASTERKEYID of both views changes to the new key's; the tablespace
//!   key itself and its KEY_VERSION do not change (alert log "Tablespace key rewrap done";
//!   a published 26ai lab measured it), and a READ ONLY tablespace is **not** re-wrapped: it
//!   keeps pointing at the old master key, which stays needed;
//! - V$DATABASE_KEY_INFO has one row per container (CON_ID 0 in a non-CDB); the database key
//!   exists whether or not any tablespace is encrypted.

use super::{RowError, number, parsed, unexpected};
use crate::tde::labels::{MasterKeyId, parse_masterkeyid};
use crate::tde::output::Row;

const DATABASE_KEY: &str = "V$DATABASE_KEY_INFO";
const TABLESPACES: &str = "V$ENCRYPTED_TABLESPACES";

/// The default database and tablespace algorithm (Oracle Database Reference:
/// "AES128 is the default encryption algorithm").
pub const DEFAULT_ALGORITHM: &str = "AES128";

fn masterkeyid(row: &Row, view: &'static str) -> Result<Option<MasterKeyId>, RowError> {
    match row.get("MASTERKEYID").map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => parse_masterkeyid(v).map_err(|_| unexpected(view, "MASTERKEYID", v)),
    }
}

fn yes_no(row: &Row, view: &'static str, column: &'static str) -> Result<Option<bool>, RowError> {
    match row.get(column).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("YES") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("NO") => Ok(Some(false)),
        Some(v) => Err(unexpected(view, column, v)),
    }
}

fn yes_no_text(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

fn optional_number(
    row: &Row,
    view: &'static str,
    column: &'static str,
) -> Result<Option<u32>, RowError> {
    match row.get(column).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => number(v)
            .map(Some)
            .ok_or_else(|| unexpected(view, column, v)),
    }
}

/// One row of V$DATABASE_KEY_INFO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseKeyRow {
    /// ENCRYPTIONALG as printed (AES128 by default; any text Oracle prints is kept).
    pub algorithm: String,
    /// The master key that wraps the database key; `None` when none does (an all-zero id).
    pub master_key: Option<MasterKeyId>,
    /// MASTERKEY_ACTIVATED: whether a master key is set in this container; `None` where the
    /// column is absent (12.2) or not selected.
    pub activated: Option<bool>,
    /// 0 in a non-CDB, 1 the root, n a PDB.
    pub con_id: u32,
}

impl DatabaseKeyRow {
    /// The columns tdekey selects ([`crate::tde::request::Request::QueryDatabaseKey`]), in its
    /// order: ENCRYPTIONALG, MASTERKEYID, MASTERKEY_ACTIVATED, CON_ID.
    pub fn to_row(&self) -> Row {
        let raw = self
            .master_key
            .map_or_else(|| "0".repeat(32), |m| m.raw_hex());
        Row(vec![
            ("ENCRYPTIONALG".into(), self.algorithm.clone()),
            ("MASTERKEYID".into(), raw),
            (
                "MASTERKEY_ACTIVATED".into(),
                yes_no_text(self.activated.unwrap_or(self.master_key.is_some())).into(),
            ),
            ("CON_ID".into(), self.con_id.to_string()),
        ])
    }

    /// Reads a parsed row: CON_ID must be there; MASTERKEYID and MASTERKEY_ACTIVATED are read
    /// when present (the real 21c output in tests/fixtures/oracle/database-key/ selects only
    /// CON_ID and MASTERKEY_ACTIVATED), ENCRYPTIONALG defaults to [`DEFAULT_ALGORITHM`].
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(Self {
            algorithm: row
                .get("ENCRYPTIONALG")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .unwrap_or(DEFAULT_ALGORITHM)
                .to_owned(),
            master_key: masterkeyid(row, DATABASE_KEY)?,
            activated: yes_no(row, DATABASE_KEY, "MASTERKEY_ACTIVATED")?,
            con_id: parsed(row, DATABASE_KEY, "CON_ID", number)?,
        })
    }
}

/// One row of V$ENCRYPTED_TABLESPACES, with V$TABLESPACE's NAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablespaceRow {
    /// TS#: the tablespace's number inside its container; `None` when not selected (a query
    /// by name only, as the real 21c output in tests/fixtures/oracle/tablespaces/ is).
    pub ts: Option<u32>,
    /// V$TABLESPACE.NAME; "" when the query did not join it.
    pub name: String,
    /// ENCRYPTIONALG as printed (AES128, AES192, AES256, 3DES168, ARIA…, any text kept).
    pub algorithm: String,
    /// ENCRYPTEDTS: NO for a tablespace decrypted since (the view keeps its row).
    pub encrypted: bool,
    /// The master key that wraps the tablespace key; `None` when the column is not selected.
    pub master_key: Option<MasterKeyId>,
    /// KEY_VERSION: one more for each encrypt, decrypt and rekey of the tablespace (not for a
    /// master key rotation).
    pub key_version: Option<u32>,
    /// STATUS: NORMAL, REKEYING, ENCRYPTING, DECRYPTING, UNKNOWN (mounted, not open).
    pub status: String,
    pub con_id: u32,
}

impl TablespaceRow {
    /// The columns tdekey selects ([`crate::tde::request::Request::QueryTablespaces`]), in
    /// its order: TS#, NAME, ENCRYPTIONALG, ENCRYPTEDTS, MASTERKEYID, KEY_VERSION, STATUS, CON_ID.
    pub fn to_row(&self) -> Row {
        Row(vec![
            (
                "TS#".into(),
                self.ts.map(|n| n.to_string()).unwrap_or_default(),
            ),
            ("NAME".into(), self.name.clone()),
            ("ENCRYPTIONALG".into(), self.algorithm.clone()),
            ("ENCRYPTEDTS".into(), yes_no_text(self.encrypted).into()),
            (
                "MASTERKEYID".into(),
                self.master_key
                    .map_or_else(|| "0".repeat(32), |m| m.raw_hex()),
            ),
            (
                "KEY_VERSION".into(),
                self.key_version.unwrap_or(0).to_string(),
            ),
            ("STATUS".into(), self.status.clone()),
            ("CON_ID".into(), self.con_id.to_string()),
        ])
    }

    /// Reads a parsed row: TS# or NAME must be there; CON_ID is 0 when not selected (a non-CDB's
    /// output), ENCRYPTEDTS YES when not selected (the view lists encrypted tablespaces), the
    /// other columns empty or `None` when not selected. A value that is there must be one the
    /// column holds.
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        let ts = optional_number(row, TABLESPACES, "TS#")?;
        let name = row.get("NAME").unwrap_or("").trim().to_owned();
        if ts.is_none() && name.is_empty() {
            return Err(RowError::Missing {
                view: TABLESPACES,
                column: "TS#",
            });
        }
        Ok(Self {
            ts,
            name,
            algorithm: row.get("ENCRYPTIONALG").unwrap_or("").trim().to_owned(),
            encrypted: yes_no(row, TABLESPACES, "ENCRYPTEDTS")?.unwrap_or(true),
            master_key: masterkeyid(row, TABLESPACES)?,
            key_version: optional_number(row, TABLESPACES, "KEY_VERSION")?,
            status: row.get("STATUS").unwrap_or("").trim().to_owned(),
            con_id: optional_number(row, TABLESPACES, "CON_ID")?.unwrap_or(0),
        })
    }
}

/// Which tablespace a row is, for a person: its name, or its number when the query did not
/// join V$TABLESPACE (the real 19c output in tests/fixtures/oracle/tablespaces/).
pub fn tablespace_label(t: &TablespaceRow) -> String {
    match (&t.name, t.ts) {
        (n, _) if !n.is_empty() => n.clone(),
        (_, Some(ts)) => format!("TS# {ts}"),
        (_, None) => "a tablespace".to_owned(),
    }
}

#[cfg(test)]
mod tests;
