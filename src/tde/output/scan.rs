//! Finding the query results in a paste: header lines over dashes or CSV headers, the
//! statements echoed before them (prompts, continuation lines, aliases and `COLUMN … HEADING`),
//! their pages, their `N rows selected.` and the errors printed after them; and reading a
//! result's rows.

use super::rules::{NUMBER_COLUMNS, check_rows, rule};
use super::{
    DATABASE_KEY_COLUMNS, KEYS_COLUMNS, OraError, PARAMETER_COLUMNS, ParseError, Row,
    TABLESPACE_COLUMNS, View, WALLET_COLUMNS, columns, csv, lines, ora_errors,
};

/// A result's column names, and its rows with the index of each one's first line.
pub(super) type Read = (Vec<String>, Vec<(usize, Row)>);

/// The prepared text and the results found in it.
pub(super) struct Doc<'t> {
    text: &'t str,
    lines: Vec<Vec<char>>,
    pub(super) found: Vec<Found>,
    /// Lines of column names over a line of dashes that they do not fit (an edited output, or
    /// one whose blanks were collapsed): (index, the names).
    bad_heads: Vec<(usize, String)>,
}

/// What a result is made of.
pub(super) enum Body {
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
pub(super) struct Found {
    pub(super) body: Body,
    /// The statement echoed before it, normalized.
    pub(super) query: Option<String>,
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
        || DATABASE_KEY_COLUMNS.contains(&n)
        || TABLESPACE_COLUMNS.contains(&n)
        || NUMBER_COLUMNS.contains(&n)
}

impl<'t> Doc<'t> {
    pub(super) fn new(text: &'t str, known: &[&str]) -> Self {
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
    pub(super) fn names(&self, f: &Found, known: &[&str]) -> Vec<String> {
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

    pub(super) fn tables(&self) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(|f| !matches!(f.body, Body::NoRows))
    }

    /// Why nothing in the text is the result asked for.
    pub(super) fn nothing(&self, known: &[&str], expected: &str, wanted: &str) -> ParseError {
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
    pub(super) fn read(
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
pub(super) fn queries_other(query: Option<&str>, stem: &str) -> bool {
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
        // A cut heading goes to the column of its width first (`ENC` is ENCRYPTEDTS, never
        // ENCRYPTIONALG, which prints `ENCRYPT`).
        let by_width: Vec<usize> = fits
            .iter()
            .copied()
            .filter(|&p| width.is_some() && super::rules::declared_width(known[p]) == *width)
            .collect();
        let fits = if by_width.is_empty() { fits } else { by_width };
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
            // A statement pasted without SQL*Plus's line numbers (a blog's copy, the real 21c
            // output in tests/fixtures/oracle/tablespaces/): the next few lines up to the one
            // that ends it with `;`, none of them blank, a prompt or a result.
            if lines::needs_more(&stmt)
                && let Some(end) = (i..n.min(i + 8))
                    .take_while(|&j| {
                        !lines::is_blank(&lines[j])
                            && lines::after_prompt(&strs[j]).is_none()
                            && columns::dash_spans(&lines[j]).is_none()
                    })
                    .find(|&j| strs[j].trim_end().ends_with(';'))
            {
                for more in &strs[i..=end] {
                    stmt.push(' ');
                    stmt.push_str(more.trim());
                }
                i = end + 1;
            }
            if stmt.trim().is_empty() {
                continue;
            }
            let norm = lines::normalize(&stmt);
            let word = norm.split(' ').next().unwrap_or("");
            if matches!(norm.as_str(), "/" | "R" | "RUN")
                || matches!(
                    word,
                    "SET"
                        | "SPOOL"
                        | "TTITLE"
                        | "BTITLE"
                        | "BREAK"
                        | "CLEAR"
                        | "DEFINE"
                        | "PROMPT"
                        | "REM"
                        | "REMARK"
                        | "WHENEVER"
                        | "TIMING"
                )
            {
                // `/` runs the statement before again: its echo still says what the result is;
                // a setting changes the layout, not what the next result is of.
                continue;
            }
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

#[cfg(test)]
mod tests;
