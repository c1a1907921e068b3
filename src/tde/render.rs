//! What SQL*Plus prints: the counterpart of the parsers in [`crate::tde::output`] and
//! [`crate::tde::request::interpret`]. A query's rows in the column layout (at any LINESIZE and
//! PAGESIZE) or as `SET MARKUP CSV ON` prints them, a `SHOW PARAMETER` result, an ORA- error,
//! and the feedback line of a statement, as `sqlplus -S` prints them with `SET FEEDBACK ON`
//! (no prompt, no echo).
//!
//! Column layout, as SQL*Plus does it: each column as wide as its declared width (a NUMBER
//! column NUMWIDTH, 10), narrowed to LINESIZE; columns packed left to right into lines of at most
//! LINESIZE characters, a row printed over as many lines as it takes with a blank line after it
//! when it takes more than one; headers cut to the column width, numbers right-aligned, trailing
//! blanks trimmed; each page starts with a blank line and the header, a page holding PAGESIZE
//! lines (at least one row); the `N rows selected.` / `no rows selected` footer. Where SQL*Plus
//! would cut or wrap a value inside its column, the column is widened instead so that nothing
//! is lost (the line is then longer than LINESIZE).

use crate::tde::output::{OraError, Parameter, Row, View};
use crate::tde::request::{Expect, INSTANCE_STARTED, Reply, Request};

/// How SQL*Plus is set to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `SET MARKUP CSV ON` (what tdekey's SQL*Plus connector sets).
    Csv,
    /// The column layout: `SET LINESIZE`, `SET PAGESIZE` (0 is taken as one endless page; SQL*Plus
    /// would print no header at all, which nothing can read).
    Columns { linesize: usize, pagesize: usize },
}

impl Layout {
    /// SQL*Plus's defaults: LINESIZE 80, PAGESIZE 14.
    pub const DEFAULT: Layout = Layout::Columns {
        linesize: 80,
        pagesize: 14,
    };
}

/// SQL*Plus's default width of a NUMBER column.
pub const NUMWIDTH: usize = 10;

/// A column as SQL*Plus formats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The declared display width (before LINESIZE narrows it and long values widen it).
    pub width: usize,
    /// A NUMBER: right-aligned, unquoted in CSV.
    pub numeric: bool,
}

impl Column {
    pub fn text(name: &str, width: usize) -> Self {
        Self {
            name: name.to_owned(),
            width,
            numeric: false,
        }
    }

    /// SQL*Plus does not cut a NUMBER column's heading: the column is NUMWIDTH wide, or as
    /// wide as its heading when that is wider (SQL*Plus User's Guide, "Formatting NUMBER
    /// Columns").
    pub fn number(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            width: NUMWIDTH.max(name.chars().count()),
            numeric: true,
        }
    }
}

/// How a column of a view prints (widths as SQL*Plus 19c showed them; a column tdekey does not
/// know is as wide as its name).
pub fn view_column(view: Option<View>, name: &str) -> Column {
    let wallet = |n: &str| match n {
        "WRL_TYPE" | "WALLET_TYPE" => Some(Column::text(n, 20)),
        "WRL_PARAMETER" => Some(Column::text(n, 4000)),
        "STATUS" => Some(Column::text(n, 30)),
        "WALLET_ORDER" | "FULLY_BACKED_UP" => Some(Column::text(n, 9)),
        "KEYSTORE_MODE" => Some(Column::text(n, 8)),
        "CON_ID" => Some(Column::number(n)),
        _ => None,
    };
    let keys = |n: &str| match n {
        // VARCHAR2(78): printed 78 wide unless formatted (real 12.1 output:
        // tests/fixtures/oracle/keys/12.1-software-keys-3-rows-backed-up-tabs.txt).
        "KEY_ID" => Some(Column::text(n, 78)),
        "CREATION_TIME" | "ACTIVATION_TIME" => Some(Column::text(n, 35)),
        "CREATOR_ID"
        | "USER_ID"
        | "CREATOR_DBID"
        | "CREATOR_INSTANCE_NUMBER"
        | "CREATOR_INSTANCE_SERIAL"
        | "CREATOR_PDBID"
        | "CREATOR_PDBUID"
        | "ACTIVATING_DBID"
        | "ACTIVATING_INSTANCE_NUMBER"
        | "ACTIVATING_INSTANCE_SERIAL"
        | "ACTIVATING_PDBID"
        | "ACTIVATING_PDBUID"
        | "CON_ID" => Some(Column::number(n)),
        "CREATOR_PDBGUID" | "ACTIVATING_PDBGUID" => Some(Column::text(n, 32)),
        _ if View::EncryptionKeys.columns().contains(&n) => Some(Column::text(n, 14)),
        _ => None,
    };
    // V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES: widths of their types (VARCHAR2(7),
    // VARCHAR2(3), RAW(16) as 32 hex digits, V$TABLESPACE.NAME VARCHAR2(30); a real 19c output:
    // tests/fixtures/oracle/tablespaces/).
    let encryption = |n: &str| match n {
        "ENCRYPTIONALG" => Some(Column::text(n, 7)),
        "ENCRYPTEDTS" | "MASTERKEY_ACTIVATED" => Some(Column::text(n, 3)),
        "MASTERKEYID" => Some(Column::text(n, 32)),
        "ENCRYPTEDKEY" => Some(Column::text(n, 96)),
        "NAME" => Some(Column::text(n, 30)),
        "STATUS" => Some(Column::text(n, 10)),
        "TS#" | "KEY_VERSION" | "BLOCKS_ENCRYPTED" | "BLOCKS_DECRYPTED" | "CON_ID" => {
            Some(Column::number(n))
        }
        _ => None,
    };
    let known = match view {
        Some(View::EncryptionWallet) => wallet(name),
        Some(View::EncryptionKeys) => keys(name),
        Some(View::SessionPrivileges) => Some(Column::text(name, 40)),
        Some(View::DatabaseKeyInfo | View::EncryptedTablespaces) => encryption(name),
        None => None,
    };
    known.unwrap_or_else(|| Column::text(name, name.chars().count().max(1)))
}

/// The feedback line of a query: `no rows selected`, `1 row selected.`, `N rows selected.`.
pub fn rows_selected(n: usize) -> String {
    match n {
        0 => "no rows selected".to_owned(),
        1 => "1 row selected.".to_owned(),
        n => format!("{n} rows selected."),
    }
}

/// `SELECT * FROM <view>` as SQL*Plus prints it. The columns are the first row's (the view's
/// when there is no row).
pub fn render_rows(view: View, rows: &[Row], layout: Layout) -> String {
    render_rows_of(Some(view), rows, layout)
}

fn render_rows_of(view: Option<View>, rows: &[Row], layout: Layout) -> String {
    let names: Vec<String> = match rows.first() {
        Some(r) => r.0.iter().map(|(c, _)| c.clone()).collect(),
        None => view
            .map(|v| v.columns().iter().map(|c| (*c).to_owned()).collect())
            .unwrap_or_default(),
    };
    let columns: Vec<Column> = names.iter().map(|n| view_column(view, n)).collect();
    let values: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| match r.0.get(i) {
                    Some((c, v)) if c == n => v.clone(),
                    _ => r.get(n).unwrap_or("").to_owned(),
                })
                .collect()
        })
        .collect();
    render_table(&columns, &values, layout)
}

/// Any query result with its feedback line. Each row holds one value per column.
pub fn render_table(columns: &[Column], rows: &[Vec<String>], layout: Layout) -> String {
    let mut out = match layout {
        Layout::Csv if !rows.is_empty() => csv_table(columns, rows),
        Layout::Columns { linesize, pagesize } if !rows.is_empty() => {
            column_table(columns, rows, linesize, pagesize)
        }
        _ => String::new(),
    };
    out.push('\n');
    out.push_str(&rows_selected(rows.len()));
    out.push_str("\n\n");
    out
}

fn csv_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn is_number(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') && t != "."
}

fn csv_line(columns: &[Column], values: &[String]) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            if v.is_empty() || (c.numeric && is_number(v)) {
                v.clone()
            } else {
                csv_quote(v)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_table(columns: &[Column], rows: &[Vec<String>]) -> String {
    let mut out = columns
        .iter()
        .map(|c| csv_quote(&c.name))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&csv_line(columns, r));
        out.push('\n');
    }
    out
}

fn cell(s: &str, width: usize, right: bool) -> String {
    let s: String = s.chars().take(width).collect();
    if right {
        format!("{s:>width$}")
    } else {
        format!("{s:<width$}")
    }
}

fn column_table(
    columns: &[Column],
    rows: &[Vec<String>],
    linesize: usize,
    pagesize: usize,
) -> String {
    let linesize = linesize.max(1);
    let pagesize = if pagesize == 0 { usize::MAX } else { pagesize };
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let longest = rows
                .iter()
                .map(|r| r.get(i).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0);
            c.width.min(linesize).max(longest).max(1)
        })
        .collect();
    // Columns packed into lines of at most `linesize`.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, w) in widths.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if used + 1 + w <= linesize => {
                g.push(i);
                used += 1 + w;
            }
            _ => {
                groups.push(vec![i]);
                used = *w;
            }
        }
    }
    let line = |g: &[usize], text: &dyn Fn(usize) -> String| -> String {
        let l = g
            .iter()
            .map(|&i| cell(&text(i), widths[i], columns[i].numeric))
            .collect::<Vec<_>>()
            .join(" ");
        l.trim_end().to_owned()
    };
    let mut header = String::new();
    for g in &groups {
        header.push_str(&line(g, &|i| columns[i].name.clone()));
        header.push('\n');
        header.push_str(
            &g.iter()
                .map(|&i| "-".repeat(widths[i]))
                .collect::<Vec<_>>()
                .join(" "),
        );
        header.push('\n');
    }
    let wrapped = groups.len() > 1;
    let per_row = groups.len() + usize::from(wrapped);
    let mut out = String::new();
    // Lines used on the current page; `None` before the first.
    let mut used_on_page: Option<usize> = None;
    for r in rows {
        let line_in_page = match used_on_page {
            Some(n) if n.saturating_add(per_row) <= pagesize => n,
            _ => {
                out.push('\n');
                out.push_str(&header);
                1 + 2 * groups.len()
            }
        };
        for g in &groups {
            out.push_str(&line(g, &|i| r.get(i).cloned().unwrap_or_default()));
            out.push('\n');
        }
        if wrapped {
            out.push('\n');
        }
        used_on_page = Some(line_in_page.saturating_add(per_row));
    }
    out
}

/// The widths of `SHOW PARAMETER`'s NAME, TYPE and VALUE columns.
const PARAMETER_WIDTHS: [usize; 3] = [36, 11, 30];

/// `SHOW PARAMETER …` as SQL*Plus prints it. In the column layout a VALUE longer than its 30
/// characters continues on the next lines under VALUE (a value whose cut falls next to a blank
/// cannot be read back exactly: SQL*Plus's own output has the same ambiguity).
pub fn render_parameters(parameters: &[Parameter], layout: Layout) -> String {
    let cells = |p: &Parameter| [p.name.clone(), p.kind.clone(), p.value.clone()];
    match layout {
        Layout::Csv => {
            let columns = [
                Column::text("NAME", PARAMETER_WIDTHS[0]),
                Column::text("TYPE", PARAMETER_WIDTHS[1]),
                Column::text("VALUE", PARAMETER_WIDTHS[2]),
            ];
            let rows: Vec<Vec<String>> = parameters.iter().map(|p| cells(p).to_vec()).collect();
            csv_table(&columns, &rows)
        }
        Layout::Columns { .. } => {
            let longest = |f: fn(&Parameter) -> &str| {
                parameters
                    .iter()
                    .map(|p| f(p).chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let nw = PARAMETER_WIDTHS[0].max(longest(|p| &p.name));
            let tw = PARAMETER_WIDTHS[1].max(longest(|p| &p.kind));
            let vw = PARAMETER_WIDTHS[2];
            let mut out = format!(
                "\n{:<nw$} {:<tw$} VALUE\n{} {} {}\n",
                "NAME",
                "TYPE",
                "-".repeat(nw),
                "-".repeat(tw),
                "-".repeat(vw)
            );
            for p in parameters {
                let chars: Vec<char> = p.value.chars().collect();
                let mut chunks = chars.chunks(vw).map(|c| c.iter().collect::<String>());
                let first = chunks.next().unwrap_or_default();
                let l = format!("{:<nw$} {:<tw$} {first}", p.name, p.kind);
                out.push_str(l.trim_end());
                out.push('\n');
                for more in chunks {
                    let l = format!("{:<nw$} {:<tw$} {more}", "", "");
                    out.push_str(l.trim_end());
                    out.push('\n');
                }
            }
            out
        }
    }
}

/// An error as SQL*Plus prints it: `ERROR at line 1:` then each error on its line (an SP2-
/// error of SQL*Plus itself comes without the `ERROR at line 1:`).
pub fn render_error(error: &OraError, more: &[OraError]) -> String {
    let mut out = String::new();
    if error.code.starts_with("ORA-") {
        out.push_str("ERROR at line 1:\n");
    }
    for e in std::iter::once(error).chain(more) {
        out.push_str(&e.code);
        if !e.text.is_empty() {
            out.push_str(": ");
            // ORA-28407 prints the PKCS#11 return value on a line of its own
            // (tests/fixtures/oracle/feedback/ora-28407-*.txt).
            match e.text.rsplit_once(" CKR_") {
                Some((head, ckr)) if e.code == "ORA-28407" => {
                    out.push_str(head);
                    out.push_str("\nCKR_");
                    out.push_str(ckr);
                }
                _ => out.push_str(&e.text),
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The line SQL*Plus prints after a statement ran (`keystore altered.`), as `sqlplus -S` prints
/// it: between blank lines.
pub fn render_feedback(feedback: &str) -> String {
    format!("\n{feedback}\n\n")
}

/// What `SHUTDOWN IMMEDIATE` then `STARTUP` print, ending with `feedback` (`Database opened.`);
/// the SGA sizes STARTUP lists are left out.
pub fn render_restart(feedback: &str) -> String {
    format!(
        "Database closed.\nDatabase dismounted.\nORACLE instance shut down.\nORACLE instance started.\n\nDatabase mounted.\n{feedback}\n"
    )
}

/// What SQL*Plus prints when `request` gets `reply`: what [`crate::tde::request::interpret`]
/// reads back into `reply`.
pub fn render_reply(request: &Request, reply: &Reply, layout: Layout) -> String {
    match reply {
        Reply::Rows { rows } => {
            let view = match request.expected_answer() {
                Expect::Rows(v) => Some(v),
                _ => None,
            };
            render_rows_of(view, rows, layout)
        }
        Reply::Parameter { parameter } => {
            render_parameters(std::slice::from_ref(parameter), layout)
        }
        Reply::Done { feedback }
            if request.expected_answer() == Expect::Feedback(INSTANCE_STARTED) =>
        {
            render_restart(feedback)
        }
        Reply::Done { feedback } => render_feedback(feedback),
        Reply::Error { error, more } => render_error(error, more),
    }
}

#[cfg(test)]
mod tests;
