//! `SET MARKUP CSV ON` output: a line of column names, then one line per row; strings quoted
//! (`QUOTE OFF`: not quoted), numbers not; SQL*Plus may pad a field with blanks outside its
//! quotes (`"FILE"    ,"OPEN"`).

use super::lines::{ends_result, is_blank};

/// A field: its text and whether it was quoted.
type Field = (String, bool);

/// The fields of a CSV line, or `None` when its quotes do not close.
pub(super) fn fields(s: &str) -> Option<Vec<Field>> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < cs.len() && cs[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip(&mut i);
        if i < cs.len() && cs[i] == '"' {
            i += 1;
            let mut v = String::new();
            loop {
                let c = *cs.get(i)?;
                i += 1;
                if c == '"' {
                    if cs.get(i) == Some(&'"') {
                        v.push('"');
                        i += 1;
                        continue;
                    }
                    break;
                }
                v.push(c);
            }
            skip(&mut i);
            out.push((v, true));
            match cs.get(i) {
                None => break,
                Some(',') => i += 1,
                Some(_) => return None,
            }
        } else {
            let start = i;
            while i < cs.len() && cs[i] != ',' {
                i += 1;
            }
            let v: String = cs[start..i].iter().collect();
            out.push((v.trim().to_owned(), false));
            if i >= cs.len() {
                break;
            }
            i += 1;
        }
    }
    Some(out)
}

fn identifier(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && cs.all(|c| c.is_alphanumeric() || "_$#".contains(c))
}

/// The column names of a CSV header line: every field a name, at least one of them a column
/// `is_name` knows; one quoted name alone is a header too.
pub(super) fn header(s: &str, is_name: &dyn Fn(&str) -> bool) -> Option<Vec<String>> {
    let t = s.trim();
    let f = fields(t)?;
    if f.len() == 1 && !f[0].1 {
        return None;
    }
    if !f.iter().all(|(x, _)| identifier(x.trim())) {
        return None;
    }
    let names: Vec<String> = f.iter().map(|(x, _)| x.trim().to_uppercase()).collect();
    names.iter().any(|n| is_name(n)).then_some(names)
}

/// A CSV result: its header, its rows and where it ends.
#[derive(Clone, Debug)]
pub(super) struct CsvTable {
    pub header: Vec<String>,
    /// (line index, values)
    pub rows: Vec<(usize, Vec<String>)>,
    /// The first line that is not a row of this header, when one is.
    pub bad: Option<String>,
    /// The line after the last one read.
    pub end: usize,
}

/// The CSV result whose header is line `i`.
pub(super) fn table_at(
    strs: &[String],
    i: usize,
    is_name: &dyn Fn(&str) -> bool,
) -> Option<CsvTable> {
    let header = header(&strs[i], is_name)?;
    let mut t = CsvTable {
        header,
        rows: Vec::new(),
        bad: None,
        end: i + 1,
    };
    let mut after_blank = false;
    let mut j = i + 1;
    while j < strs.len() {
        let s = &strs[j];
        if is_blank(&s.chars().collect::<Vec<_>>()) {
            after_blank = true;
            j += 1;
            continue;
        }
        if ends_result(s) || self::header(s, is_name).is_some() {
            break;
        }
        match fields(s.trim()) {
            Some(f) if f.len() == t.header.len() => {
                t.rows.push((j, f.into_iter().map(|(v, _)| v).collect()));
            }
            // Text after the result: not a row of this header.
            _ if after_blank => break,
            Some(f) if f.len() == 1 && !f[0].1 && t.header.len() > 1 => break,
            f => {
                if t.bad.is_none() {
                    t.bad = Some(match f {
                        Some(f) => format!(
                            "line {} of the text has {} values for the {} columns of the header",
                            j + 1,
                            f.len(),
                            t.header.len()
                        ),
                        None => {
                            format!("line {} of the text has a quote that does not close", j + 1)
                        }
                    });
                }
            }
        }
        j += 1;
        t.end = j;
    }
    Some(t)
}
