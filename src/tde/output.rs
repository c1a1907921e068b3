//! Parsers for what Oracle prints: `SELECT * FROM V$ENCRYPTION_WALLET` / `V$ENCRYPTION_KEYS`
//! in SQL*Plus column layout at any LINESIZE (a row wrapped over several lines, headers cut to
//! the column width, headers repeated every page, the `SQL>` prompt and the echoed query, the
//! `N rows selected.` footer, `no rows selected`) or `SET MARKUP CSV ON`; `SHOW PARAMETER`; and
//! ORA- error lines. Unknown columns and values are kept. Nothing here panics on any input.

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

/// Which view the text should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    EncryptionWallet,
    EncryptionKeys,
    /// SESSION_PRIVS and SESSION_ROLES through [`crate::tde::privileges::QUERY`].
    SessionPrivileges,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::EncryptionWallet => "V$ENCRYPTION_WALLET",
            View::EncryptionKeys => "V$ENCRYPTION_KEYS",
            View::SessionPrivileges => "SESSION_PRIVS and SESSION_ROLES",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            View::EncryptionWallet => WALLET_COLUMNS,
            View::EncryptionKeys => KEYS_COLUMNS,
            View::SessionPrivileges => crate::tde::privileges::COLUMNS,
        }
    }

    /// Columns that must be present for the text to be this view's output.
    fn required(self) -> &'static [&'static str] {
        match self {
            View::EncryptionWallet => &["WRL_TYPE", "STATUS"],
            View::EncryptionKeys => &["KEY_ID"],
            View::SessionPrivileges => &["KIND", "NAME"],
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

/// Every `ORA-nnnnn: text` in the text, in order.
pub fn ora_errors(text: &str) -> Vec<OraError> {
    let mut out: Vec<OraError> = Vec::new();
    for line in text.lines() {
        // ORA-28407 prints the PKCS#11 return value on the next line, alone:
        // `CKR_FUNCTION_FAILED(6)` (tests/fixtures/oracle/feedback/ora-28407-*.txt).
        let t = line.trim();
        if t.starts_with("CKR_")
            && t.ends_with(')')
            && !t.contains(' ')
            && let Some(last) = out.last_mut()
            && last.code == "ORA-28407"
            && !last.text.contains("CKR_")
        {
            last.text.push(' ');
            last.text.push_str(t);
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("ORA-") {
            let after = &rest[i + 4..];
            let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.len() == 5 {
                let tail = after[5..].trim_start_matches(':').trim();
                // The text runs to the next ORA- on the same line, if any.
                let end = tail.find("ORA-").unwrap_or(tail.len());
                out.push(OraError {
                    code: format!("ORA-{digits}"),
                    text: tail[..end].trim().to_owned(),
                });
            }
            rest = &after[digits.len().min(after.len())..];
        }
    }
    out
}

/// The first ORA- error in the text.
pub fn parse_error(text: &str) -> Result<OraError, ParseError> {
    ora_errors(text)
        .into_iter()
        .next()
        .ok_or(ParseError::NoError)
}

/// Rows of a V$ view's output.
pub fn parse_view(text: &str, view: View) -> Result<Vec<Row>, ParseError> {
    let table = parse_table(text, view.columns(), view.name())?;
    let names: Vec<&str> = table.columns.iter().map(String::as_str).collect();
    if !view.required().iter().all(|r| names.contains(r)) {
        return Err(ParseError::WrongColumns {
            expected: view.name().to_owned(),
            wanted: view.columns().join(", "),
            found: names.join(", "),
        });
    }
    Ok(table.rows)
}

/// A `SHOW PARAMETER` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Rows of `SHOW PARAMETER …` (a long VALUE wrapped onto further lines is joined).
pub fn parse_parameters(text: &str) -> Result<Vec<Parameter>, ParseError> {
    let table = parse_table(text, PARAMETER_COLUMNS, "SHOW PARAMETER output")?;
    if !["NAME", "TYPE", "VALUE"]
        .iter()
        .all(|c| table.columns.iter().any(|x| x == c))
    {
        return Err(ParseError::WrongColumns {
            expected: "SHOW PARAMETER output".into(),
            wanted: "NAME, TYPE, VALUE".into(),
            found: table.columns.join(", "),
        });
    }
    let mut out: Vec<Parameter> = Vec::new();
    for r in table.rows {
        let name = r.get("NAME").unwrap_or("").to_owned();
        let kind = r.get("TYPE").unwrap_or("").to_owned();
        let value = r.get("VALUE").unwrap_or("").to_owned();
        match out.last_mut() {
            // A continuation line of a wrapped VALUE: NAME and TYPE are blank.
            Some(prev) if name.is_empty() && kind.is_empty() => prev.value.push_str(&value),
            _ => out.push(Parameter { name, kind, value }),
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

fn is_dash_line(l: &str) -> bool {
    let t = l.trim_end();
    !t.is_empty() && t.starts_with('-') && t.chars().all(|c| c == '-' || c == ' ')
}

fn is_footer(l: &str) -> bool {
    let t = l.trim();
    t.eq_ignore_ascii_case("no rows selected")
        || (t.ends_with("selected.")
            && t.split_whitespace()
                .next()
                .is_some_and(|w| w.chars().all(|c| c.is_ascii_digit())))
        || t.starts_with("Elapsed:")
}

/// A header line group: column names and their character spans.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    spans: Vec<(usize, usize)>,
    names: Vec<String>,
}

fn chars(l: &str) -> Vec<char> {
    l.trim_end_matches('\r').chars().collect()
}

fn cell(line: &[char], (a, b): (usize, usize)) -> String {
    if a >= line.len() {
        return String::new();
    }
    line[a..b.min(line.len())]
        .iter()
        .collect::<String>()
        .trim()
        .to_owned()
}

fn group_at(lines: &[&str], i: usize) -> Option<Group> {
    let names = lines.get(i)?;
    let dashes = lines.get(i + 1)?;
    if !is_dash_line(dashes) || is_dash_line(names) || names.trim().is_empty() {
        return None;
    }
    let d = chars(dashes);
    let mut spans = Vec::new();
    let mut k = 0;
    while k < d.len() {
        if d[k] == '-' {
            let start = k;
            while k < d.len() && d[k] == '-' {
                k += 1;
            }
            spans.push((start, k));
        } else {
            k += 1;
        }
    }
    let n = chars(names);
    let names = spans.iter().map(|s| cell(&n, *s).to_uppercase()).collect();
    Some(Group { spans, names })
}

/// Maps header texts (possibly cut to the column width) to full column names, in view order.
fn resolve_names(headers: &[String], known: &[&str]) -> Vec<String> {
    let mut next = 0;
    headers
        .iter()
        .map(|h| {
            if let Some(p) = known[next.min(known.len())..].iter().position(|k| k == h) {
                next += p + 1;
                return h.clone();
            }
            if let Some(p) = known[next.min(known.len())..]
                .iter()
                .position(|k| !h.is_empty() && k.starts_with(h.as_str()))
            {
                next += p + 1;
                return known[next - 1].to_owned();
            }
            h.clone()
        })
        .collect()
}

fn parse_csv(lines: &[&str], known: &[&str]) -> Option<Table> {
    let start = lines.iter().position(|l| {
        let t = l.trim();
        t.starts_with('"') && t.contains("\",\"")
            || (t.starts_with('"')
                && t.ends_with('"')
                && t.len() > 2
                && known.iter().any(|k| t == format!("\"{k}\"")))
    })?;
    let body: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !is_footer(l) && !l.trim_start().starts_with("SQL>"))
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let joined = body.join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(joined.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .ok()?
        .iter()
        .map(|h| h.trim().to_uppercase())
        .collect();
    let columns = resolve_names(&headers, known);
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.ok()?;
        rows.push(Row(columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), rec.get(i).unwrap_or("").to_owned()))
            .collect()));
    }
    Some(Table { columns, rows })
}

fn is_blank(l: &str) -> bool {
    l.trim().is_empty()
}

/// Splits the data lines under a header of `k` line groups into rows of `k` lines. A row on one
/// line is any line that is not blank. A row over several lines is taken line by line, whether
/// or not some of its lines are blank (every column on that line empty), and the blank line
/// SQL*Plus prints after it (RECSEP WRAPPED, the default) is skipped when there is one (none
/// with RECSEP OFF); blank lines after the last row end the data.
fn records<'a, 'l>(data: &'a [&'l str], k: usize) -> Result<Vec<&'a [&'l str]>, ParseError> {
    if k == 1 {
        return Ok(data
            .iter()
            .filter(|l| !is_blank(l))
            .map(std::slice::from_ref)
            .collect());
    }
    let mut out = Vec::new();
    let mut p = 0;
    while data[p..].iter().any(|l| !is_blank(l)) {
        let Some(rec) = data.get(p..p + k) else {
            let content = data.iter().rposition(|l| !is_blank(l)).map_or(0, |e| e + 1);
            return Err(ParseError::Misaligned {
                detail: format!(
                    "{} lines of data after {} whole rows, for rows of {k} lines each",
                    content - p,
                    out.len()
                ),
            });
        };
        out.push(rec);
        p += k;
        if data.get(p).is_some_and(|l| is_blank(l)) {
            p += 1;
        }
    }
    Ok(out)
}

/// Parses SQL*Plus column output or CSV markup.
pub fn parse_table(text: &str, known: &[&str], what: &str) -> Result<Table, ParseError> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    // Find the first header block.
    let first = (0..lines.len()).find(|&i| group_at(&lines, i).is_some());
    let Some(first) = first else {
        if let Some(t) = parse_csv(&lines, known) {
            return Ok(t);
        }
        if lines
            .iter()
            .any(|l| l.trim().eq_ignore_ascii_case("no rows selected"))
        {
            return Ok(Table {
                columns: known.iter().map(|s| (*s).to_owned()).collect(),
                rows: Vec::new(),
            });
        }
        if let Some(e) = ora_errors(text).into_iter().next() {
            return Err(ParseError::Oracle(e));
        }
        return Err(ParseError::NoTable {
            expected: what.to_owned(),
        });
    };
    let read_block = |at: usize| -> (Vec<Group>, usize) {
        let mut groups = Vec::new();
        let mut i = at;
        while let Some(g) = group_at(&lines, i) {
            groups.push(g);
            i += 2;
        }
        (groups, i)
    };
    let (groups, mut i) = read_block(first);
    let headers: Vec<String> = groups.iter().flat_map(|g| g.names.clone()).collect();
    let columns = resolve_names(&headers, known);
    let k = groups.len();
    let mut rows = Vec::new();
    loop {
        // Data lines up to the next header block, footer, prompt or end.
        let mut data: Vec<&str> = Vec::new();
        let mut next_block = None;
        while i < lines.len() {
            let l = lines[i];
            if group_at(&lines, i).is_some() {
                next_block = Some(i);
                break;
            }
            if is_footer(l) || l.trim_start().starts_with("SQL>") {
                break;
            }
            data.push(l);
            i += 1;
        }
        for rec in records(&data, k)? {
            let mut row = Vec::with_capacity(columns.len());
            let mut c = 0;
            for (g, line) in groups.iter().zip(rec.iter()) {
                let lc = chars(line);
                for (n, span) in g.spans.iter().enumerate() {
                    // The last column of a line has nothing to its right: take the rest.
                    let span = if n + 1 == g.spans.len() {
                        (span.0, lc.len().max(span.1))
                    } else {
                        *span
                    };
                    row.push((columns[c].clone(), cell(&lc, span)));
                    c += 1;
                }
            }
            rows.push(Row(row));
        }
        match next_block {
            Some(at) => {
                let (again, after) = read_block(at);
                if again != groups {
                    return Err(ParseError::Misaligned {
                        detail: "a repeated header differs from the first".into(),
                    });
                }
                i = after;
            }
            None => break,
        }
    }
    Ok(Table { columns, rows })
}

#[cfg(test)]
mod tests;
