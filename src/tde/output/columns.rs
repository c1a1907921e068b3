//! SQL*Plus's column layout: a header of one or more lines of column names, each over its line
//! of dashes, then the rows.
//!
//! How SQL*Plus prints a row, and what this reader relies on:
//! - each column's values sit inside its dashes: text starts at the first dash, a number ends at
//!   the last one (numbers are right-aligned; so is a NUMBER column's heading); nothing is printed
//!   between two columns but blanks;
//! - a row too long for LINESIZE is printed over as many lines as the header has lines, one line
//!   per header line, even when all the values of a line are empty (a blank line);
//! - a value longer than its column (`WRAPPED`, the default) goes on under the same column on the
//!   next lines, cut every column width: the line it continues fills its column up to the last
//!   dash (or up to the one before, when the cut falls on a blank);
//! - with `RECSEP WRAPPED` (the default) a row printed over several lines is followed by a blank
//!   line, with `RECSEP OFF` it is not, with `RECSEP EACH` every row is.
//!
//! Which lines make up which row is chosen by a dynamic programme over the lines, so that every
//! line of the output is read under the header line it belongs to, or the output is refused:
//! preferred are the continuation of a wrapped value over the next header line, and one blank
//! line between rows over none or several.

use super::lines::is_blank;

/// One header line and its dashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HeadLine {
    /// Where each column's dashes are: `[start, end)` in characters.
    pub spans: Vec<(usize, usize)>,
    /// The headings as printed, trimmed and upper case.
    pub names: Vec<String>,
    /// Headings printed right-aligned in their column: NUMBER columns.
    pub right: Vec<bool>,
}

pub(super) fn dash_spans(l: &[char]) -> Option<Vec<(usize, usize)>> {
    if l.first() != Some(&'-') || !l.iter().all(|c| *c == '-' || *c == ' ') {
        return None;
    }
    let mut spans = Vec::new();
    let mut k = 0;
    while k < l.len() {
        if l[k] == '-' {
            let start = k;
            while k < l.len() && l[k] == '-' {
                k += 1;
            }
            spans.push((start, k));
        } else {
            k += 1;
        }
    }
    Some(spans)
}

/// The header line at `i` (its names at `i`, its dashes at `i + 1`).
pub(super) fn head_line_at(lines: &[Vec<char>], strs: &[String], i: usize) -> Option<HeadLine> {
    let names = lines.get(i)?;
    let spans = dash_spans(lines.get(i + 1)?)?;
    if is_blank(names) || dash_spans(names).is_some() || super::lines::ends_result(&strs[i]) {
        return None;
    }
    let last_start = spans.last()?.0;
    let inside = |p: usize| p >= last_start || spans.iter().any(|&(a, b)| p >= a && p < b);
    if names
        .iter()
        .enumerate()
        .any(|(p, c)| !c.is_whitespace() && !inside(p))
    {
        return None;
    }
    // A heading starts at its first dash, or ends at its last (a NUMBER's); anything else is
    // not SQL*Plus's header (an edited one).
    let aligned = spans.iter().enumerate().all(|(n, &(a, b))| {
        let end = if n + 1 == spans.len() {
            names.len().max(b)
        } else {
            b
        };
        let cell = slice(names, a, end);
        match (
            cell.iter().position(|c| !c.is_whitespace()),
            last_text(cell),
        ) {
            (None, _) | (_, None) => true,
            (Some(first), Some(last)) => first == 0 || a + last + 1 == b,
        }
    });
    if !aligned {
        return None;
    }
    let mut out = HeadLine {
        spans: spans.clone(),
        names: Vec::new(),
        right: Vec::new(),
    };
    for (n, &(a, b)) in spans.iter().enumerate() {
        let b = if n + 1 == spans.len() {
            names.len().max(b)
        } else {
            b
        };
        let cell = slice(names, a, b);
        let text: String = cell.iter().collect::<String>().trim().to_uppercase();
        out.right
            .push(!text.is_empty() && cell.first().is_some_and(|c| c.is_whitespace()));
        out.names.push(text);
    }
    out.names.iter().any(|n| !n.is_empty()).then_some(out)
}

fn slice(l: &[char], a: usize, b: usize) -> &[char] {
    let a = a.min(l.len());
    &l[a..b.min(l.len()).max(a)]
}

/// What a column's values may be.
#[derive(Clone, Debug, Default)]
pub(super) struct Rule {
    /// Never empty in this view.
    pub non_null: bool,
    /// The only values Oracle prints there (any case).
    pub domain: Option<&'static [&'static str]>,
    /// The longest value Oracle prints there: such a column is never wrapped when it is as
    /// wide.
    pub max_len: Option<usize>,
    /// A NUMBER: right-aligned, never wrapped.
    pub numeric: bool,
}

/// A column of the layout.
#[derive(Clone, Debug)]
pub(super) struct Col {
    pub name: String,
    pub start: usize,
    pub end: usize,
    /// The last column of its line: it takes the rest of the line.
    pub last: bool,
    pub rule: Rule,
}

impl Col {
    fn width(&self) -> usize {
        self.end - self.start
    }

    fn raw<'l>(&self, line: &'l [char]) -> &'l [char] {
        let end = if self.last { line.len() } else { self.end };
        slice(line, self.start, end)
    }

    /// Whether a value longer than the column can go on on the next line.
    fn wraps(&self) -> bool {
        !self.rule.numeric
            && self
                .rule
                .max_len
                .is_none_or(|longest| self.width() < longest)
    }
}

fn trimmed(cell: &[char]) -> String {
    cell.iter().collect::<String>().trim().to_owned()
}

/// The index of the last non-blank character.
fn last_text(cell: &[char]) -> Option<usize> {
    cell.iter().rposition(|c| !c.is_whitespace())
}

pub(super) fn number_like(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit() || c == '#')
        && s.chars()
            .all(|c| c.is_ascii_digit() || "+-.,#E".contains(c))
}

/// Why a line is not the first line of a row's header line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    Between,
    NotUnder(String),
    NotNumber(String),
    Empty(String),
    Value { column: String, value: String },
}

impl Problem {
    pub(super) fn describe(&self, view: &str) -> String {
        match self {
            Problem::Between => "it has text between two columns of the header".into(),
            Problem::NotUnder(c) => format!("its {c} value is not where the header puts {c}"),
            Problem::NotNumber(c) => format!("its {c} is not a number"),
            Problem::Empty(c) => format!("its {c} is empty, which {view} never shows"),
            Problem::Value { column, value } => {
                format!("its {column} is \"{value}\", which is not a {column} of {view}")
            }
        }
    }
}

pub(super) fn in_domain(domain: &[&str], v: &str) -> bool {
    domain.iter().any(|d| d.eq_ignore_ascii_case(v))
}

/// A value cut for a message (row values hold no secret).
pub(super) fn shown(v: &str) -> String {
    if v.chars().count() > 40 {
        format!("{}…", v.chars().take(40).collect::<String>())
    } else {
        v.to_owned()
    }
}

fn gaps_clear(line: &[char], g: &[Col]) -> bool {
    line.iter().enumerate().all(|(p, c)| {
        c.is_whitespace()
            || g.iter()
                .any(|col| p >= col.start && (col.last || p < col.end))
    })
}

/// Whether `line` can be the first line of a row's header line `g`.
pub(super) fn first_line(line: &[char], g: &[Col]) -> Result<(), Problem> {
    if !gaps_clear(line, g) {
        return Err(Problem::Between);
    }
    for col in g {
        let raw = col.raw(line);
        let text = trimmed(raw);
        if text.is_empty() {
            if col.rule.non_null {
                return Err(Problem::Empty(col.name.clone()));
            }
            continue;
        }
        if col.rule.numeric {
            if last_text(raw).map(|p| col.start + p + 1) != Some(col.end) {
                return Err(Problem::NotUnder(col.name.clone()));
            }
            if !number_like(&text) {
                return Err(Problem::NotNumber(col.name.clone()));
            }
            continue;
        }
        if raw.first().is_some_and(|c| c.is_whitespace()) {
            return Err(Problem::NotUnder(col.name.clone()));
        }
        if let Some(domain) = col.rule.domain {
            let fits = if col.wraps() {
                let up = text.to_uppercase();
                domain.iter().any(|d| d.starts_with(up.as_str()))
            } else {
                in_domain(domain, &text)
            };
            if !fits {
                return Err(Problem::Value {
                    column: col.name.clone(),
                    value: shown(&text),
                });
            }
        }
    }
    Ok(())
}

/// Whether the value of `col` on `prev` fills its column, so that it may go on on the next
/// line: to the last dash, or to the one before when the cut fell on a blank of the value
/// (`24-NOV-26 ` of `24-NOV-26 05.00.00…` in 10 columns).
fn full(prev: &[char], col: &Col) -> bool {
    last_text(col.raw(prev)).is_some_and(|p| p + 2 >= col.width())
}

/// Whether `line` goes on with the wrapped values of header line `g` from `prev`.
fn continues(prev: &[char], line: &[char], g: &[Col]) -> bool {
    if is_blank(line) || !gaps_clear(line, g) {
        return false;
    }
    let mut any = false;
    for col in g {
        let raw = col.raw(line);
        if last_text(raw).is_none() {
            continue;
        }
        if !col.wraps() || raw[0].is_whitespace() || !full(prev, col) {
            return false;
        }
        any = true;
    }
    any
}

/// A row: for each header line, the range of lines printed for it.
pub(super) type Record = Vec<(usize, usize)>;

/// Splits `lines` (the lines under a header, up to the next header or the end of the result)
/// into rows, or `None` when they cannot be read under `groups`.
pub(super) fn split(lines: &[&[char]], groups: &[Vec<Col>]) -> Option<Vec<Record>> {
    let n = lines.len();
    let k = groups.len();
    if k == 0 {
        return None;
    }
    let blank: Vec<bool> = lines.iter().map(|l| is_blank(l)).collect();
    let mut blank_from = vec![true; n + 1];
    for i in (0..n).rev() {
        blank_from[i] = blank[i] && blank_from[i + 1];
    }
    let first: Vec<Vec<bool>> = lines
        .iter()
        .map(|l| groups.iter().map(|g| first_line(l, g).is_ok()).collect())
        .collect();
    let cont: Vec<Vec<bool>> = (0..n)
        .map(|i| {
            groups
                .iter()
                .map(|g| i > 0 && continues(lines[i - 1], lines[i], g))
                .collect()
        })
        .collect();
    // State tables, filled from the end: f(i, g, nb) line i starts header line g of a row
    // (nb: the row has a non-blank line before); m(i, g, nb) header line g has lines up to
    // i - 1 and goes on at i or ends; r(i) a row starts at i or only blank lines are left;
    // a(i) a row ended just before i.
    let ix = |i: usize, g: usize, nb: bool| (i * k + g) * 2 + usize::from(nb);
    let mut f = vec![false; (n + 1) * k * 2];
    let mut m = vec![false; (n + 1) * k * 2];
    let mut r = vec![false; n + 2];
    let mut a = vec![false; n + 2];
    for i in (0..=n).rev() {
        for g in 0..k {
            for nb in [false, true] {
                f[ix(i, g, nb)] = i < n && first[i][g] && m[ix(i + 1, g, nb || !blank[i])];
            }
        }
        r[i] = blank_from[i] || f[ix(i, 0, false)];
        a[i] = (i < n && blank[i] && r[i + 1]) || r[i] || (i < n && blank[i] && a[i + 1]);
        for g in 0..k {
            for nb in [false, true] {
                m[ix(i, g, nb)] = (i < n && cont[i][g] && m[ix(i + 1, g, true)])
                    || (g + 1 < k && f[ix(i, g + 1, nb)])
                    || (g + 1 == k && nb && a[i]);
            }
        }
    }
    if !r[0] {
        return None;
    }
    // Walk the preferred way through.
    enum At {
        R(usize),
        F(usize, usize, bool),
        M(usize, usize, bool),
        A(usize),
    }
    let mut out = Vec::new();
    let mut rec: Record = Vec::new();
    let mut at = At::R(0);
    loop {
        at = match at {
            At::R(i) => {
                if blank_from[i] {
                    return Some(out);
                }
                At::F(i, 0, false)
            }
            At::F(i, g, nb) => {
                rec.push((i, i + 1));
                At::M(i + 1, g, nb || !blank[i])
            }
            At::M(i, g, nb) => {
                if i < n && cont[i][g] && m[ix(i + 1, g, true)] {
                    if let Some(last) = rec.last_mut() {
                        last.1 = i + 1;
                    }
                    At::M(i + 1, g, true)
                } else if g + 1 < k && f[ix(i, g + 1, nb)] {
                    At::F(i, g + 1, nb)
                } else {
                    out.push(std::mem::take(&mut rec));
                    At::A(i)
                }
            }
            At::A(i) => {
                if i < n && blank[i] && r[i + 1] {
                    At::R(i + 1)
                } else if r[i] {
                    At::R(i)
                } else {
                    At::A(i + 1)
                }
            }
        };
    }
}

/// The values of a row, column by column: a wrapped value joined again.
pub(super) fn values(lines: &[&[char]], groups: &[Vec<Col>], rec: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for (g, &(a, b)) in groups.iter().zip(rec) {
        for col in g {
            let mut v = String::new();
            let mut space = false;
            for line in &lines[a..b] {
                let raw = col.raw(line);
                let text = trimmed(raw);
                if text.is_empty() {
                    continue;
                }
                if space {
                    v.push(' ');
                }
                v.push_str(&text);
                space = last_text(raw).is_some_and(|p| p + 2 == col.width());
            }
            out.push(v);
        }
    }
    out
}

/// Why `lines` do not split into rows: the first line that fits none of the header lines where
/// a plain reading (one line per header line, blank lines between rows) expects it.
pub(super) fn explain(
    lines: &[&[char]],
    groups: &[Vec<Col>],
    first_line_no: usize,
    view: &str,
) -> String {
    let k = groups.len().max(1);
    let mut g = 0;
    for (i, l) in lines.iter().enumerate() {
        if g == 0 && is_blank(l) {
            continue;
        }
        if let Some(group) = groups.get(g)
            && let Err(p) = first_line(l, group)
        {
            let continued = i > 0 && g > 0 && continues(lines[i - 1], l, &groups[g - 1]);
            if !continued {
                return format!(
                    "line {} of the text: {}",
                    first_line_no + i,
                    p.describe(view)
                );
            }
            continue;
        }
        g = (g + 1) % k;
    }
    if g != 0 {
        return format!("the last row stops after {g} of its {k} lines");
    }
    format!(
        "lines {} to {} of the text do not split into rows of the header's {k} line{}",
        first_line_no,
        first_line_no + lines.len().saturating_sub(1),
        if k == 1 { "" } else { "s" }
    )
}
