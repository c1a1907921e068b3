//! Lines of SQL*Plus output as they are measured, and what kind of line each one is: prompts
//! and echoed statements, feedback lines, error lines.

/// The lines of `text` ready to be measured: `\r\n` and `\r` end lines, TAB characters (SQL*Plus's
/// default `SET TAB ON` prints them for runs of spaces) are expanded to stops every 8 columns,
/// form feeds (`SET NEWPAGE 0`) are dropped and trailing blanks trimmed.
pub(super) fn prepare(text: &str) -> Vec<Vec<char>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(finish(std::mem::take(&mut line)));
            }
            '\t' => {
                let n = 8 - line.len() % 8;
                line.extend(std::iter::repeat_n(' ', n));
            }
            '\u{c}' => {}
            c => line.push(c),
        }
    }
    out.push(finish(line));
    out
}

fn finish(mut line: Vec<char>) -> Vec<char> {
    while line.last().is_some_and(|c| c.is_whitespace()) {
        line.pop();
    }
    line
}

pub(super) fn is_blank(l: &[char]) -> bool {
    l.iter().all(|c| c.is_whitespace())
}

pub(super) fn string(l: &[char]) -> String {
    l.iter().collect()
}

/// SQL and SQL*Plus commands a DBA types at the prompt (first word, upper case).
const COMMANDS: &[&str] = &[
    "@",
    "@@",
    "/",
    "ACCEPT",
    "ADMINISTER",
    "ALTER",
    "ANALYZE",
    "BEGIN",
    "BREAK",
    "BTITLE",
    "CLEAR",
    "COL",
    "COLUMN",
    "COMMIT",
    "COMPUTE",
    "CONN",
    "CONNECT",
    "CREATE",
    "DECLARE",
    "DEFINE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISCONNECT",
    "DROP",
    "EXEC",
    "EXECUTE",
    "EXIT",
    "GRANT",
    "HOST",
    "INSERT",
    "MERGE",
    "PROMPT",
    "QUIT",
    "RECOVER",
    "REM",
    "REMARK",
    "REVOKE",
    "ROLLBACK",
    "RUN",
    "SELECT",
    "SET",
    "SHO",
    "SHOW",
    "SHUTDOWN",
    "SPOOL",
    "START",
    "STARTUP",
    "TRUNCATE",
    "TTITLE",
    "UPDATE",
    "VAR",
    "VARIABLE",
    "WHENEVER",
    "WITH",
];

fn first_word(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn is_command(s: &str) -> bool {
    let w = first_word(s);
    COMMANDS.contains(&w.as_str()) || w.starts_with('@')
}

/// A custom prompt (`SET SQLPROMPT`): one word ending in `>` such as `sys@orcl(603)>`.
fn custom_prompt(word: &str) -> bool {
    let Some(body) = word.strip_suffix('>') else {
        return false;
    };
    !body.is_empty()
        && body.len() <= 60
        && body.chars().any(|c| c.is_alphanumeric())
        && body
            .chars()
            .all(|c| c.is_alphanumeric() || "@_$#.:-()[]/".contains(c))
}

/// The text after the SQL*Plus prompts that start `line` (`SQL> `, or a custom prompt such as
/// `sys@orcl(603)> ` followed by a command or by nothing), or `None` when the line does not
/// start with a prompt.
pub fn after_prompt(line: &str) -> Option<&str> {
    let mut l = line.trim_start();
    let mut found = false;
    loop {
        if let Some(rest) = l.strip_prefix("SQL>") {
            l = rest.trim_start();
            found = true;
            continue;
        }
        let word = l.split_whitespace().next().unwrap_or("");
        if custom_prompt(word) {
            let rest = l[word.len()..].trim_start();
            if rest.is_empty() || is_command(rest) || rest.starts_with("SQL>") {
                l = rest;
                found = true;
                continue;
            }
        }
        break;
    }
    found.then_some(l)
}

/// A statement echoed without a prompt (a script run with `SET ECHO ON`), as it starts a line.
pub(super) fn is_bare_statement(line: &str) -> bool {
    if line.starts_with(char::is_whitespace) {
        return false;
    }
    let w = first_word(line);
    let rest = line[w.len().min(line.len())..].trim_start();
    let second = first_word(rest);
    match w.as_str() {
        "SELECT" | "WITH" => !rest.is_empty(),
        // `ADMINISTER KEY MANAGEMENT` alone is also a value: SESSION_PRIVS lists that privilege.
        "ADMINISTER" => {
            second == "KEY" && rest.split_whitespace().count() > 2 || rest.trim_end().ends_with(';')
        }
        "ALTER" => matches!(
            second.as_str(),
            "SYSTEM" | "SESSION" | "DATABASE" | "PLUGGABLE"
        ),
        "SHOW" | "SHO" => matches!(
            second.as_str(),
            "PARAMETER" | "PARAMETERS" | "PARAM" | "USER" | "CON_NAME" | "CON_ID" | "PDBS" | "SGA"
        ),
        "COL" | "COLUMN" => rest.split_whitespace().count() >= 2,
        "SET" => {
            const SETTINGS: &[&str] = &[
                "LINESIZE",
                "LINES",
                "LIN",
                "PAGESIZE",
                "PAGES",
                "PAGE",
                "MARKUP",
                "TAB",
                "WRAP",
                "RECSEP",
                "FEEDBACK",
                "FEED",
                "ECHO",
                "HEADING",
                "HEA",
                "TRIMSPOOL",
                "TRIMS",
                "TRIMOUT",
                "TRIMO",
                "COLSEP",
                "NUMWIDTH",
                "NUMW",
                "LONG",
                "SERVEROUTPUT",
                "TIMING",
                "TERMOUT",
                "VERIFY",
                "NEWPAGE",
                "UNDERLINE",
                "SQLPROMPT",
            ];
            SETTINGS.contains(&second.as_str())
        }
        _ => false,
    }
}

/// `N rows selected.`, `1 row selected.` or `no rows selected`: the number of rows.
pub(super) fn rows_selected(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.eq_ignore_ascii_case("no rows selected") {
        return Some(0);
    }
    let mut words = t.split_whitespace();
    let n: usize = words.next()?.parse().ok()?;
    let noun = words.next()?;
    let rest: Vec<&str> = words.collect();
    (matches!(noun, "row" | "rows") && rest == ["selected."]).then_some(n)
}

/// A line SQL*Plus prints after a statement (`Keystore altered.`, `System altered.`,
/// `Session altered.`, `PL/SQL procedure successfully completed.`, `N rows selected.`,
/// `Elapsed: …`, `Connected.`), which no row of a query result looks like.
pub(super) fn is_feedback(line: &str) -> bool {
    let t = line.trim();
    if rows_selected(t).is_some()
        || t.starts_with("Elapsed:")
        || t.starts_with("Connected to")
        || t.starts_with("Disconnected from")
        || t == "Connected."
    {
        return true;
    }
    let Some(body) = t.strip_suffix('.') else {
        return false;
    };
    let words: Vec<&str> = body.split_whitespace().collect();
    const LAST: &[&str] = &[
        "altered",
        "analyzed",
        "closed",
        "complete",
        "completed",
        "created",
        "deleted",
        "dismounted",
        "down",
        "dropped",
        "granted",
        "inserted",
        "merged",
        "mounted",
        "opened",
        "purged",
        "renamed",
        "revoked",
        "selected",
        "started",
        "succeeded",
        "truncated",
        "updated",
    ];
    (1..=6).contains(&words.len())
        && words.iter().enumerate().all(|(i, w)| {
            w.chars().all(|c| c.is_ascii_alphabetic() || c == '/')
                || (i == 0 && w.chars().all(|c| c.is_ascii_digit()))
        })
        && words
            .last()
            .is_some_and(|w| LAST.contains(&w.to_ascii_lowercase().as_str()))
}

/// An error line: `ORA-nnnnn`, `SP2-nnnn`, `ERROR at line n:`, `ERROR:`.
pub(super) fn is_error_line(line: &str) -> bool {
    let t = line.trim_start();
    ["ORA-", "SP2-", "ERROR at line", "ERROR:", "TNS-", "CPY-"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// A line that ends a query result: a prompt, a statement, a feedback line or an error.
pub(super) fn ends_result(line: &str) -> bool {
    after_prompt(line).is_some()
        || is_bare_statement(line)
        || is_feedback(line)
        || is_error_line(line)
}

/// A continuation line of an echoed statement as SQL*Plus numbers it (`  2  FROM v$x;`): its
/// text.
pub(super) fn continuation(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let rest = &t[digits..];
    (digits > 0 && (rest.is_empty() || rest.starts_with(char::is_whitespace))).then(|| rest.trim())
}

/// Whether an echoed statement is finished (`;` or a `/` line): SQL*Plus commands need neither.
pub(super) fn needs_more(statement: &str) -> bool {
    let w = first_word(statement);
    matches!(
        w.as_str(),
        "SELECT" | "WITH" | "ALTER" | "ADMINISTER" | "CREATE" | "DROP" | "GRANT" | "REVOKE"
    ) && !statement.trim_end().ends_with(';')
}

/// Upper case and single spaces outside quotes; quoted text as it is.
pub(super) fn normalize(s: &str) -> String {
    normalize_sql(s, false)
}

/// Upper case and single spaces outside quotes, quoted text as it is; with `tight`, no space
/// around `=`, `,` and `;` either (how a pasted statement is compared with the one shown).
pub fn normalize_sql(s: &str, tight: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut quote: Option<char> = None;
    let mut space = false;
    let punct = |x: char| tight && matches!(x, '=' | ',' | ';');
    for c in s.trim().chars() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !punct(c) && !out.ends_with(punct) && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Splits `s` at `sep` outside quotes and parentheses.
pub(super) fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                c if c == sep && depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out
}

/// Words of `s` separated by blanks outside quotes.
pub(super) fn words(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c.is_whitespace() => {
                if let Some(st) = start.take() {
                    out.push(&s[st..i]);
                }
                continue;
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
        if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(&s[st..]);
    }
    out
}

/// A quoted word without its quotes, or the word upper-cased (as Oracle names it).
pub(super) fn unquote(w: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = w.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    w.to_ascii_uppercase()
}

/// What a statement renames, as `(heading as printed, column)` pairs, both upper case: the
/// aliases of a `SELECT` list (`wrl_type AS t`, `status "State"`) and `COLUMN x HEADING 'y'`.
pub(super) fn renames(statement: &str) -> Vec<(String, String)> {
    let n = normalize(statement);
    let w = first_word(&n);
    let mut out = Vec::new();
    if w == "COL" || w == "COLUMN" {
        let ws = words(&n);
        if let (Some(col), Some(h)) = (
            ws.get(1),
            ws.iter()
                .position(|x| matches!(*x, "HEA" | "HEAD" | "HEADI" | "HEADIN" | "HEADING")),
        ) && let Some(text) = ws.get(h + 1)
        {
            let text = unquote(text);
            let last = text.rsplit('|').next().unwrap_or("").trim().to_uppercase();
            out.push((last, column_name(col)));
        }
        return out;
    }
    if w != "SELECT" {
        return out;
    }
    let body = n["SELECT".len()..].trim_start();
    let Some(list) = split_top(body, ' ')
        .iter()
        .position(|x| *x == "FROM")
        .map(|i| split_top(body, ' ')[..i].join(" "))
    else {
        return out;
    };
    for item in split_top(&list, ',') {
        let ws = words(item.trim());
        let (expr, alias) = match ws.as_slice() {
            [e, a] => (e, a),
            [e, as_, a] if *as_ == "AS" => (e, a),
            _ => continue,
        };
        if expr
            .chars()
            .all(|c| c.is_alphanumeric() || "_$#.\"".contains(c))
        {
            out.push((unquote(alias).to_uppercase(), column_name(expr)));
        }
    }
    out
}

/// `t.col` or `"COL"` as the column's upper-case name.
fn column_name(expr: &str) -> String {
    let last = expr.rsplit('.').next().unwrap_or(expr);
    unquote(last).to_uppercase()
}
