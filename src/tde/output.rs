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
//!   their feedback: the result read is the one whose header has the view's columns (and whose
//!   echoed query, when there is one, reads that view), the last one when there are several;
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

pub use lines::after_prompt;

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

/// `SHOW PARAMETER` columns.
pub const PARAMETER_COLUMNS: &[&str] = &["NAME", "TYPE", "VALUE"];

/// Columns Oracle prints as NUMBER (right-aligned, never wrapped), in any of these views.
const NUMBER_COLUMNS: &[&str] = &[
    "CON_ID",
    "INST_ID",
    "CREATOR_ID",
    "USER_ID",
    "CREATOR_DBID",
    "CREATOR_INSTANCE_NUMBER",
    "CREATOR_INSTANCE_SERIAL",
    "CREATOR_PDBID",
    "CREATOR_PDBUID",
    "ACTIVATING_DBID",
    "ACTIVATING_INSTANCE_NUMBER",
    "ACTIVATING_INSTANCE_SERIAL",
    "ACTIVATING_PDBID",
    "ACTIVATING_PDBUID",
];

/// V$ENCRYPTION_WALLET.STATUS values (the same as [`crate::tde::views::WalletStatus`]).
const STATUSES: &[&str] = &[
    "CLOSED",
    "NOT_AVAILABLE",
    "OPEN",
    "OPEN_NO_MASTER_KEY",
    "OPEN_UNKNOWN_MASTER_KEY_STATUS",
    "UNDEFINED",
];
const WALLET_ORDERS: &[&str] = &["SINGLE", "PRIMARY", "SECONDARY"];
const KEYSTORE_MODES: &[&str] = &["NONE", "UNITED", "ISOLATED"];
const FULLY_BACKED_UP: &[&str] = &["YES", "NO", "UNDEFINED"];

/// The longest KEY_ID: 52 characters of base64 (a software keystore's).
const KEY_ID_LEN: usize = 52;

/// Which view the text should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    EncryptionWallet,
    EncryptionKeys,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::EncryptionWallet => "V$ENCRYPTION_WALLET",
            View::EncryptionKeys => "V$ENCRYPTION_KEYS",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            View::EncryptionWallet => WALLET_COLUMNS,
            View::EncryptionKeys => KEYS_COLUMNS,
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
        }
    }

    /// The view's name as any query of it spells it (`V$…`, `GV$…`, `SYS.V_$…`).
    fn stem(self) -> &'static str {
        match self {
            View::EncryptionWallet => "ENCRYPTION_WALLET",
            View::EncryptionKeys => "ENCRYPTION_KEYS",
        }
    }
}

/// What a column of `view` may hold.
fn rule(view: Option<View>, column: &str, right_aligned: bool) -> columns::Rule {
    let numeric = NUMBER_COLUMNS.contains(&column) || right_aligned;
    let mut r = columns::Rule {
        numeric,
        ..Default::default()
    };
    let domain = |d: &'static [&'static str]| (Some(d), d.iter().map(|v| v.len()).max());
    match (view, column) {
        (Some(_), "CON_ID" | "INST_ID") => r.non_null = true,
        (Some(View::EncryptionWallet), "WRL_TYPE") => r.non_null = true,
        (Some(View::EncryptionWallet), "STATUS") => {
            r.non_null = true;
            (r.domain, r.max_len) = domain(STATUSES);
        }
        (Some(View::EncryptionWallet), "WALLET_ORDER") => {
            (r.domain, r.max_len) = domain(WALLET_ORDERS)
        }
        (Some(View::EncryptionWallet), "KEYSTORE_MODE") => {
            (r.domain, r.max_len) = domain(KEYSTORE_MODES);
        }
        (Some(View::EncryptionWallet), "FULLY_BACKED_UP") => {
            (r.domain, r.max_len) = domain(FULLY_BACKED_UP);
        }
        (Some(View::EncryptionKeys), "KEY_ID") => {
            r.non_null = true;
            r.max_len = Some(KEY_ID_LEN);
        }
        _ => {}
    }
    r
}

/// Checks the values of read rows against what `view` holds.
fn check_rows(rows: &[(usize, Row)], view: Option<View>) -> Result<(), ParseError> {
    let Some(v) = view else {
        return Ok(());
    };
    for (line, row) in rows {
        for (c, value) in &row.0 {
            let r = rule(view, c, false);
            let problem = if value.is_empty() {
                r.non_null.then(|| columns::Problem::Empty(c.clone()))
            } else if r.numeric && !columns::number_like(value) {
                Some(columns::Problem::NotNumber(c.clone()))
            } else if r.domain.is_some_and(|d| !columns::in_domain(d, value)) {
                Some(columns::Problem::Value {
                    column: c.clone(),
                    value: columns::shown(value),
                })
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(ParseError::Misaligned {
                    detail: format!(
                        "the row on line {} of the text: {}",
                        line + 1,
                        p.describe(v.name())
                    ),
                });
            }
        }
    }
    Ok(())
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

/// A result's column names, and its rows with the index of each one's first line.
type Read = (Vec<String>, Vec<(usize, Row)>);

/// The prepared text and the results found in it.
struct Doc<'t> {
    text: &'t str,
    lines: Vec<Vec<char>>,
    found: Vec<Found>,
    /// Lines of column names over a line of dashes that they do not fit (an edited output, or
    /// one whose blanks were collapsed): (index, the names).
    bad_heads: Vec<(usize, String)>,
}

/// What a result is made of.
enum Body {
    /// The column layout: its header lines, and the stretches of lines under each page's header.
    Columns {
        head: Vec<columns::HeadLine>,
        chunks: Vec<(usize, usize)>,
    },
    Csv(csv::CsvTable),
    /// `no rows selected`
    NoRows,
}

/// A query result in the text.
struct Found {
    body: Body,
    /// The statement echoed before it, normalized.
    query: Option<String>,
    /// Aliases of that statement and `COLUMN … HEADING` names: (heading, column).
    renames: Vec<(String, String)>,
    /// `N rows selected.` after it.
    footer: Option<usize>,
    /// An error printed after it, before the next statement.
    error: Option<OraError>,
}

/// Every column name tdekey knows, for telling a CSV header from a row.
fn any_known(n: &str) -> bool {
    WALLET_COLUMNS.contains(&n)
        || KEYS_COLUMNS.contains(&n)
        || PARAMETER_COLUMNS.contains(&n)
        || NUMBER_COLUMNS.contains(&n)
}

impl<'t> Doc<'t> {
    fn new(text: &'t str, known: &[&str]) -> Self {
        let lines = lines::prepare(text);
        let strs: Vec<String> = lines.iter().map(|l| lines::string(l)).collect();
        let found = scan(&lines, &strs, known);
        let bad_heads = (0..lines.len())
            .filter(|&i| {
                lines
                    .get(i + 1)
                    .is_some_and(|d| columns::dash_spans(d).is_some())
                    && !lines::is_blank(&lines[i])
                    && columns::dash_spans(&lines[i]).is_none()
                    && !lines::ends_result(&strs[i])
                    && columns::head_line_at(&lines, &strs, i).is_none()
            })
            .map(|i| (i, strs[i].to_uppercase()))
            .collect();
        Doc {
            text,
            lines,
            found,
            bad_heads,
        }
    }

    /// The column names of result `f`, resolved against `known`.
    fn names(&self, f: &Found, known: &[&str]) -> Vec<String> {
        match &f.body {
            Body::Columns { head, .. } => {
                let heads: Vec<(String, Option<usize>)> = head
                    .iter()
                    .flat_map(|h| {
                        h.names
                            .iter()
                            .zip(&h.spans)
                            .map(|(n, (a, b))| (n.clone(), Some(b - a)))
                    })
                    .collect();
                resolve(&heads, known, &f.renames)
            }
            Body::Csv(t) => {
                let heads: Vec<(String, Option<usize>)> =
                    t.header.iter().map(|h| (h.clone(), None)).collect();
                resolve(&heads, known, &f.renames)
            }
            Body::NoRows => known.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn tables(&self) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(|f| !matches!(f.body, Body::NoRows))
    }

    /// Why nothing in the text is the result asked for.
    fn nothing(&self, known: &[&str], expected: &str, wanted: &str) -> ParseError {
        let ours = |names: &str| {
            names
                .split_whitespace()
                .any(|w| known.iter().any(|k| k.starts_with(w) && w.len() >= 4))
        };
        if let Some((i, _)) = self.bad_heads.iter().find(|(_, names)| ours(names)) {
            return ParseError::Misaligned {
                detail: format!(
                    "line {} of the text: the column names do not stand over their dashes",
                    i + 1
                ),
            };
        }
        if let Some(last) = self.tables().last() {
            return ParseError::WrongColumns {
                expected: expected.to_owned(),
                wanted: wanted.to_owned(),
                found: self.names(last, known).join(", "),
            };
        }
        if let Some(e) = ora_errors(self.text).into_iter().next() {
            return ParseError::Oracle(e);
        }
        ParseError::NoTable {
            expected: expected.to_owned(),
        }
    }

    /// The rows of result `f`, each with the index of its first line.
    fn read(
        &self,
        f: &Found,
        known: &[&str],
        view: Option<View>,
    ) -> Result<Read, ParseError> {
        if let Some(e) = &f.error {
            return Err(ParseError::Oracle(e.clone()));
        }
        let names = self.names(f, known);
        let what = view.map_or("the result", View::name);
        let mut rows: Vec<(usize, Row)> = Vec::new();
        match &f.body {
            Body::NoRows => return Ok((names, rows)),
            Body::Csv(t) => {
                if let Some(bad) = &t.bad {
                    return Err(ParseError::Misaligned {
                        detail: bad.clone(),
                    });
                }
                for (line, values) in &t.rows {
                    rows.push((
                        *line,
                        Row(names.iter().cloned().zip(values.iter().cloned()).collect()),
                    ));
                }
            }
            Body::Columns { head, chunks } => {
                let mut c = 0;
                let groups: Vec<Vec<columns::Col>> = head
                    .iter()
                    .map(|h| {
                        h.spans
                            .iter()
                            .enumerate()
                            .map(|(n, &(start, end))| {
                                let name = names.get(c).cloned().unwrap_or_default();
                                c += 1;
                                columns::Col {
                                    rule: rule(view, &name, h.right[n]),
                                    name,
                                    start,
                                    end,
                                    last: n + 1 == h.spans.len(),
                                }
                            })
                            .collect()
                    })
                    .collect();
                for &(a, b) in chunks {
                    let ls: Vec<&[char]> = self.lines[a..b].iter().map(Vec::as_slice).collect();
                    let Some(records) = columns::split(&ls, &groups) else {
                        return Err(ParseError::Misaligned {
                            detail: columns::explain(&ls, &groups, a + 1, what),
                        });
                    };
                    for rec in records {
                        let values = columns::values(&ls, &groups, &rec);
                        let line = a + rec.first().map_or(0, |r| r.0);
                        rows.push((line, Row(names.iter().cloned().zip(values).collect())));
                    }
                }
                if rows.is_empty() {
                    return Err(ParseError::Misaligned {
                        detail: "the header has no row under it".into(),
                    });
                }
            }
        }
        if let Some(n) = f.footer
            && n != rows.len()
        {
            return Err(ParseError::Misaligned {
                detail: format!(
                    "the text says {n} row{} selected, but {} row{} could be read",
                    if n == 1 { " was" } else { "s were" },
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" }
                ),
            });
        }
        check_rows(&rows, view)?;
        Ok((names, rows))
    }
}

/// Whether an echoed statement is a query of something other than `stem`.
fn queries_other(query: Option<&str>, stem: &str) -> bool {
    query.is_some_and(|q| (q.starts_with("SELECT ") || q.starts_with("WITH ")) && !q.contains(stem))
}

/// Maps headings (with the width they were cut to, in the column layout) to column names:
/// an alias or `COLUMN … HEADING` of the echo, a column of `known`, a column of `known` whose
/// name was cut to the column width (the next one in view order when several fit), or the
/// heading itself (a column tdekey does not know, kept).
fn resolve(
    heads: &[(String, Option<usize>)],
    known: &[&str],
    renames: &[(String, String)],
) -> Vec<String> {
    let mut used = vec![false; known.len()];
    let mut next = 0;
    let mut out = Vec::with_capacity(heads.len());
    for (h, width) in heads {
        let cut = |full: &str| {
            width.is_some_and(|w| h.chars().count() == w)
                && full.len() > h.len()
                && full.starts_with(h.as_str())
        };
        let mark = |name: &str, used: &mut [bool], next: &mut usize| {
            if let Some(p) = known.iter().position(|k| *k == name) {
                used[p] = true;
                *next = p + 1;
            }
        };
        if h.is_empty() {
            out.push(String::new());
            continue;
        }
        // Only renames of this view's columns: `pdb.name AS pdb` in a join stays PDB.
        let ours = || {
            renames
                .iter()
                .rev()
                .filter(|(_, c)| known.contains(&c.as_str()))
        };
        let renamed = ours().find(|(a, _)| a == h).or_else(|| {
            (!known.contains(&h.as_str()))
                .then(|| ours().find(|(a, _)| cut(a)))
                .flatten()
        });
        if let Some((_, col)) = renamed {
            mark(col, &mut used, &mut next);
            out.push(col.clone());
            continue;
        }
        if known.contains(&h.as_str()) {
            mark(h, &mut used, &mut next);
            out.push(h.clone());
            continue;
        }
        let fits: Vec<usize> = (0..known.len())
            .filter(|&p| !used[p] && cut(known[p]))
            .collect();
        if let Some(&p) = fits.iter().find(|&&p| p >= next).or(fits.first()) {
            mark(known[p], &mut used, &mut next);
            out.push(known[p].to_owned());
            continue;
        }
        out.push(h.clone());
    }
    out
}

/// The header lines from `i` on, and the line after them.
fn head_block(lines: &[Vec<char>], strs: &[String], i: usize) -> (Vec<columns::HeadLine>, usize) {
    let mut head = Vec::new();
    let mut j = i;
    while let Some(h) = columns::head_line_at(lines, strs, j) {
        head.push(h);
        j += 2;
    }
    (head, j)
}

/// The query results in the text, in order, with the statements echoed before them.
fn scan(lines: &[Vec<char>], strs: &[String], known: &[&str]) -> Vec<Found> {
    let n = lines.len();
    let is_name = |s: &str| known.contains(&s) || any_known(s);
    let mut out: Vec<Found> = Vec::new();
    let mut query: Option<String> = None;
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut headings: Vec<(String, String)> = Vec::new();
    // The result whose statement is still printing.
    let mut open: Option<usize> = None;
    let mut i = 0;
    while i < n {
        let s = &strs[i];
        let echo = match lines::after_prompt(s) {
            Some(rest) => Some(rest.to_owned()),
            None => lines::is_bare_statement(s).then(|| s.trim().to_owned()),
        };
        if let Some(mut stmt) = echo {
            open = None;
            i += 1;
            while lines::needs_more(&stmt)
                && let Some(more) = strs.get(i).and_then(|l| lines::continuation(l))
            {
                i += 1;
                if more == "/" {
                    break;
                }
                stmt.push(' ');
                stmt.push_str(more);
            }
            if stmt.trim().is_empty() {
                continue;
            }
            let norm = lines::normalize(&stmt);
            if norm.starts_with("COL ") || norm.starts_with("COLUMN ") {
                headings.extend(lines::renames(&stmt));
            } else {
                aliases = lines::renames(&stmt);
                query = Some(norm);
            }
            continue;
        }
        if lines::is_error_line(s) {
            if let Some(k) = open
                && out[k].error.is_none()
            {
                out[k].error = ora_errors(s).into_iter().next();
            }
            i += 1;
            continue;
        }
        let body_end = if columns::head_line_at(lines, strs, i).is_some() {
            let (head, mut j) = head_block(lines, strs, i);
            let mut chunks = Vec::new();
            loop {
                let start = j;
                while j < n
                    && columns::head_line_at(lines, strs, j).is_none()
                    && !lines::ends_result(&strs[j])
                {
                    j += 1;
                }
                chunks.push((start, j));
                let (again, after) = head_block(lines, strs, j);
                if !again.is_empty() && again == head {
                    j = after;
                    continue;
                }
                break;
            }
            Some((Body::Columns { head, chunks }, j))
        } else if let Some(t) = csv::table_at(strs, i, &is_name) {
            let end = t.end;
            Some((Body::Csv(t), end))
        } else if lines::rows_selected(s) == Some(0) {
            Some((Body::NoRows, i + 1))
        } else {
            None
        };
        let Some((body, mut j)) = body_end else {
            i += 1;
            continue;
        };
        let mut footer = None;
        if !matches!(body, Body::NoRows) {
            let mut k = j;
            while k < n && lines::is_blank(&lines[k]) {
                k += 1;
            }
            if let Some(rows) = strs.get(k).and_then(|l| lines::rows_selected(l))
                && rows > 0
            {
                footer = Some(rows);
                j = k + 1;
            }
        }
        let mut renames = aliases.clone();
        renames.extend(headings.iter().cloned());
        out.push(Found {
            body,
            query: query.take(),
            renames,
            footer,
            error: None,
        });
        open = Some(out.len() - 1);
        i = j.max(i + 1);
    }
    out
}

/// Rows of a V$ view's output (or its GV$ form's): the last result in the text whose header
/// has the view's required columns (and whose echoed query, if any, reads the view).
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
