//! Parsers for what Oracle prints: `SELECT … FROM V$ENCRYPTION_WALLET` / `V$ENCRYPTION_KEYS`
//! (and their GV$ forms), `SHOW PARAMETER`, and ORA- error lines, as a DBA pastes them from
//! SQL*Plus or as tdekey's SQL*Plus connector captures them.
//!
//! What a real paste holds, and what is read:
//! - the column layout at any LINESIZE (a row printed over several lines, one per header line;
//!   headings cut to the column width; values wrapped inside their column; the header repeated
//!   every page), TAB characters for runs of spaces (`SET TAB ON`, expanded to stops every 8
//!   columns), CRLF line ends, trailing blanks, form feeds; or `SET MARKUP CSV ON` output, quoted,
//!   padded or `QUOTE OFF`;
//! - several statements, with their prompts (`SQL>` or a custom `SET SQLPROMPT`), their echo and
//!   their feedback: the result read is the view's own (a column only that view has in its
//!   header, or its echoed query reads that view), the last one when there are several;
//! - any subset of the view's columns in any order, aliases and `COLUMN … HEADING` names known
//!   from the echo, columns of other versions (12.1 has no KEYSTORE_MODE, 23ai adds columns):
//!   unknown columns are kept under their heading, missing ones are simply absent.
//!
//! A row that cannot be read exactly (a value outside its column, a row cut short, a value that
//! the view never has in that column, a row count that disagrees with `N rows selected.`) is
//! refused with a [`ParseError`] that says why; no value is ever put under another column.
//! Nothing here panics on any input.

mod columns;
mod csv;
mod lines;
mod rules;
mod scan;

pub use lines::{after_prompt, normalize_sql};

use scan::{Body, Doc, Found, queries_other};
use serde::Serialize;

/// The columns of V$ENCRYPTION_WALLET, in view order (19c).
pub const WALLET_COLUMNS: &[&str] = &[
    "WRL_TYPE",
    "WRL_PARAMETER",
    "STATUS",
    "WALLET_TYPE",
    "WALLET_ORDER",
    "KEYSTORE_MODE",
    "FULLY_BACKED_UP",
    "CON_ID",
];

/// The columns of V$ENCRYPTION_KEYS, in view order (19c).
pub const KEYS_COLUMNS: &[&str] = &[
    "KEY_ID",
    "TAG",
    "CREATION_TIME",
    "ACTIVATION_TIME",
    "CREATOR",
    "CREATOR_ID",
    "USER",
    "USER_ID",
    "KEY_USE",
    "KEYSTORE_TYPE",
    "ORIGIN",
    "BACKED_UP",
    "CREATOR_DBNAME",
    "CREATOR_DBID",
    "CREATOR_INSTANCE_NAME",
    "CREATOR_INSTANCE_NUMBER",
    "CREATOR_INSTANCE_SERIAL",
    "CREATOR_PDBNAME",
    "CREATOR_PDBID",
    "CREATOR_PDBUID",
    "CREATOR_PDBGUID",
    "ACTIVATING_DBNAME",
    "ACTIVATING_DBID",
    "ACTIVATING_INSTANCE_NAME",
    "ACTIVATING_INSTANCE_NUMBER",
    "ACTIVATING_INSTANCE_SERIAL",
    "ACTIVATING_PDBNAME",
    "ACTIVATING_PDBID",
    "ACTIVATING_PDBUID",
    "ACTIVATING_PDBGUID",
    "CON_ID",
];

/// The columns of V$DATABASE_KEY_INFO tdekey reads, in view order (19c). The 12.2 reference
/// lists ENCRYPTIONALG, ENCRYPTEDKEY, MASTERKEYID, CON_ID only; MASTERKEY_ACTIVATED is in the
/// 18c–23ai references (the Japanese 19c reference spells it MASTER_ACTIVATED, but the queries
/// and the output published use MASTERKEY_ACTIVATED: tests/fixtures/oracle/database-key/).
/// MASTERKEY_ACTIVATED is listed before MASTERKEYID so that its heading cut to `MAS` is not
/// taken for MASTERKEYID, which SQL*Plus prints 32 wide and never cuts.
pub const DATABASE_KEY_COLUMNS: &[&str] = &[
    "ENCRYPTIONALG",
    "ENCRYPTEDKEY",
    "MASTERKEY_ACTIVATED",
    "MASTERKEYID",
    "CON_ID",
];

/// The columns of V$ENCRYPTED_TABLESPACES (19c), with V$TABLESPACE's NAME after TS# for the
/// join tdekey sends ([`crate::tde::request::Request::QueryTablespaces`]).
pub const TABLESPACE_COLUMNS: &[&str] = &[
    "TS#",
    "NAME",
    "ENCRYPTIONALG",
    "ENCRYPTEDTS",
    "ENCRYPTEDKEY",
    "MASTERKEYID",
    "BLOCKS_ENCRYPTED",
    "BLOCKS_DECRYPTED",
    "KEY_VERSION",
    "STATUS",
    "CON_ID",
];

/// `SHOW PARAMETER` columns.
pub const PARAMETER_COLUMNS: &[&str] = &["NAME", "TYPE", "VALUE"];

/// Which view the text should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    EncryptionWallet,
    EncryptionKeys,
    /// SESSION_PRIVS and SESSION_ROLES through [`crate::tde::privileges::QUERY`].
    SessionPrivileges,
    /// V$DATABASE_KEY_INFO: the master key that wraps each container's database key.
    DatabaseKeyInfo,
    /// V$ENCRYPTED_TABLESPACES (joined to V$TABLESPACE for the names): the master key that
    /// wraps each encrypted tablespace's key.
    EncryptedTablespaces,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::EncryptionWallet => "V$ENCRYPTION_WALLET",
            View::EncryptionKeys => "V$ENCRYPTION_KEYS",
            View::SessionPrivileges => "SESSION_PRIVS and SESSION_ROLES",
            View::DatabaseKeyInfo => "V$DATABASE_KEY_INFO",
            View::EncryptedTablespaces => "V$ENCRYPTED_TABLESPACES",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            View::EncryptionWallet => WALLET_COLUMNS,
            View::EncryptionKeys => KEYS_COLUMNS,
            View::SessionPrivileges => crate::tde::privileges::COLUMNS,
            View::DatabaseKeyInfo => DATABASE_KEY_COLUMNS,
            View::EncryptedTablespaces => TABLESPACE_COLUMNS,
        }
    }

    /// Columns only this view has: a result whose header has one of them is this view's output.
    /// A result with other columns of the view only (`SELECT STATUS FROM …`) is taken when its
    /// echoed query reads the view.
    pub fn distinctive(self) -> &'static [&'static str] {
        match self {
            View::EncryptionWallet => &[
                "WRL_TYPE",
                "WRL_PARAMETER",
                "WALLET_TYPE",
                "WALLET_ORDER",
                "KEYSTORE_MODE",
                "FULLY_BACKED_UP",
            ],
            View::EncryptionKeys => &[
                "KEY_ID",
                "KEYSTORE_TYPE",
                "KEY_USE",
                "ACTIVATION_TIME",
                "CREATOR_DBNAME",
                "ACTIVATING_DBNAME",
            ],
            View::SessionPrivileges => &["KIND"],
            View::DatabaseKeyInfo => &["MASTERKEY_ACTIVATED"],
            View::EncryptedTablespaces => &[
                "TS#",
                "ENCRYPTEDTS",
                "BLOCKS_ENCRYPTED",
                "BLOCKS_DECRYPTED",
                "KEY_VERSION",
            ],
        }
    }

    /// The view's name as any query of it spells it (`V$…`, `GV$…`, `SYS.V_$…`).
    fn stem(self) -> &'static str {
        match self {
            View::EncryptionWallet => "ENCRYPTION_WALLET",
            View::EncryptionKeys => "ENCRYPTION_KEYS",
            View::SessionPrivileges => "SESSION_PRIVS",
            View::DatabaseKeyInfo => "DATABASE_KEY_INFO",
            View::EncryptedTablespaces => "ENCRYPTED_TABLESPACES",
        }
    }
}

/// One row: (full upper-case column name, value) in column order; "" for an empty cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row(pub Vec<(String, String)>);

impl Row {
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// An Oracle error line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OraError {
    /// `ORA-28353`
    pub code: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("The output is an Oracle error, not a query result: {}: {}", .0.code, .0.text)]
    Oracle(OraError),
    #[error(
        "No query result in the text: expected {expected} as SQL*Plus prints it (a line of column names over a line of dashes) or as SET MARKUP CSV ON prints it."
    )]
    NoTable { expected: String },
    #[error(
        "This is the output of another query: {expected} has the columns {wanted}, but the text has {found}."
    )]
    WrongColumns {
        expected: String,
        wanted: String,
        found: String,
    },
    #[error(
        "The rows under the header do not line up with it ({detail}): the text looks cut or edited. Paste the whole output."
    )]
    Misaligned { detail: String },
    #[error("No ORA- error in the text (expected a line like ORA-28353: failed to open wallet).")]
    NoError,
}

/// Every `ORA-nnnnn: text` in the text, in order. The PKCS#11 return value Oracle prints on
/// the line after `ORA-28407: … PKCS#11 error` (`CKR_GENERAL_ERROR(5)`) is part of its text.
pub fn ora_errors(text: &str) -> Vec<OraError> {
    ora_error_lines(text).into_iter().map(|(_, e)| e).collect()
}

/// [`ora_errors`] with the index of the line each error starts on.
pub fn ora_error_lines(text: &str) -> Vec<(usize, OraError)> {
    let mut out: Vec<(usize, OraError)> = Vec::new();
    let mut last_line_had_error = false;
    for (n, line) in text.lines().enumerate() {
        let before = out.len();
        let mut rest = line;
        while let Some(i) = rest.find("ORA-") {
            let after = &rest[i + 4..];
            let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.len() == 5 {
                let tail = after[5..].trim_start_matches(':').trim();
                // The text runs to the next ORA- on the same line, if any.
                let end = tail.find("ORA-").unwrap_or(tail.len());
                out.push((
                    n,
                    OraError {
                        code: format!("ORA-{digits}"),
                        text: tail[..end].trim().to_owned(),
                    },
                ));
            }
            rest = &after[digits.len().min(after.len())..];
        }
        if out.len() == before
            && last_line_had_error
            && let Some(ckr) = pkcs11_return_value(line)
            && let Some((_, prev)) = out.last_mut()
            && !prev.text.contains("CKR_")
        {
            prev.text = format!("{} {ckr}", prev.text);
        }
        last_line_had_error = out.len() > before;
    }
    out
}

/// A line that is only a PKCS#11 return value: `CKR_FUNCTION_FAILED(6)`.
fn pkcs11_return_value(line: &str) -> Option<&str> {
    let t = line.trim();
    let name = t.strip_prefix("CKR_")?;
    let (name, number) = match name.split_once('(') {
        Some((n, rest)) => (n, Some(rest.strip_suffix(')')?)),
        None => (name, None),
    };
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && number.is_none_or(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
    .then_some(t)
}

/// The first ORA- error in the text.
pub fn parse_error(text: &str) -> Result<OraError, ParseError> {
    ora_errors(text)
        .into_iter()
        .next()
        .ok_or(ParseError::NoError)
}

/// Rows of a V$ view's output (or its GV$ form's): the last result in the text that is the
/// view's (its header has one of the view's [distinctive](View::distinctive) columns, or its
/// echoed query reads the view), never one whose echoed query reads something else.
pub fn parse_view(text: &str, view: View) -> Result<Vec<Row>, ParseError> {
    let known = view.columns();
    let doc = Doc::new(text, known);
    let stem = view.stem();
    let named = |f: &Found| f.query.as_deref().is_some_and(|q| q.contains(stem));
    let fits = |f: &Found| {
        !queries_other(f.query.as_deref(), stem)
            && match f.body {
                Body::NoRows => true,
                _ => {
                    let names = doc.names(f, known);
                    let has = |set: &[&str]| names.iter().any(|n| set.contains(&n.as_str()));
                    has(view.distinctive()) || (named(f) && has(known))
                }
            }
    };
    let is_table = |f: &Found| !matches!(f.body, Body::NoRows);
    let pick = doc
        .found
        .iter()
        .rfind(|f| fits(f) && named(f))
        .or_else(|| doc.found.iter().rfind(|f| fits(f) && is_table(f)))
        .or_else(|| doc.found.iter().rfind(|f| fits(f)));
    let Some(f) = pick else {
        return Err(doc.nothing(known, view.name(), &view.columns().join(", ")));
    };
    let (_, rows) = doc.read(f, known, Some(view))?;
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// A `SHOW PARAMETER` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Rows of `SHOW PARAMETER …` (a long VALUE wrapped onto further lines is joined), of every
/// such result in the text; a query of `V$PARAMETER` / `GV$PARAMETER` with NAME and VALUE reads
/// the same (TYPE empty).
pub fn parse_parameters(text: &str) -> Result<Vec<Parameter>, ParseError> {
    let doc = Doc::new(text, PARAMETER_COLUMNS);
    let tables: Vec<&Found> = doc
        .found
        .iter()
        .filter(|f| {
            !queries_other(f.query.as_deref(), "PARAMETER")
                && match f.body {
                    Body::NoRows => true,
                    _ => {
                        let names = doc.names(f, PARAMETER_COLUMNS);
                        ["NAME", "VALUE"]
                            .iter()
                            .all(|c| names.iter().any(|n| n == c))
                    }
                }
        })
        .collect();
    if tables.is_empty() {
        return Err(doc.nothing(
            PARAMETER_COLUMNS,
            "SHOW PARAMETER output",
            "NAME, TYPE, VALUE",
        ));
    }
    let mut out: Vec<Parameter> = Vec::new();
    for f in tables {
        let (_, rows) = doc.read(f, PARAMETER_COLUMNS, None)?;
        let mut continued = false;
        for (_, r) in rows {
            let name = r.get("NAME").unwrap_or("").to_owned();
            let kind = r.get("TYPE").unwrap_or("").to_owned();
            let value = r.get("VALUE").unwrap_or("").to_owned();
            match out.last_mut() {
                // A continuation line of a wrapped VALUE: NAME and TYPE are blank.
                Some(prev) if continued && name.is_empty() && kind.is_empty() => {
                    prev.value.push_str(&value)
                }
                _ => out.push(Parameter { name, kind, value }),
            }
            continued = true;
        }
    }
    Ok(out)
}

/// A parsed result table.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Parses SQL*Plus column output or CSV markup: of the results in the text, the one with the
/// most columns of `known` (the last of those), its values not checked against any view.
pub fn parse_table(text: &str, known: &[&str], what: &str) -> Result<Table, ParseError> {
    let doc = Doc::new(text, known);
    let score = |f: &Found| {
        doc.names(f, known)
            .iter()
            .filter(|n| known.contains(&n.as_str()))
            .count()
    };
    let best = doc
        .tables()
        .fold(None::<(&Found, usize)>, |best, f| {
            let s = score(f);
            match best {
                Some((_, b)) if b > s => best,
                _ => Some((f, s)),
            }
        })
        .map(|(f, _)| f)
        .or_else(|| doc.found.iter().rfind(|f| matches!(f.body, Body::NoRows)));
    let Some(f) = best else {
        return Err(doc.nothing(known, what, &known.join(", ")));
    };
    let (columns, rows) = doc.read(f, known, None)?;
    Ok(Table {
        columns,
        rows: rows.into_iter().map(|(_, r)| r).collect(),
    })
}

#[cfg(test)]
mod tests;
