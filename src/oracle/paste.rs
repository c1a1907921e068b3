//! Which statement a Manual paste answers.
//!
//! SQL*Plus echoes what the DBA typed after its `SQL> ` prompt, continuation lines numbered
//! (`  2  MIGRATE USING …`), then prints the feedback (`keystore altered.`). Every
//! ADMINISTER KEY MANAGEMENT statement answers with the same feedback, and every ALTER SYSTEM
//! with `System altered.`, so the feedback alone cannot tell one statement's output from
//! another's: the echo can. When the statement asked is one of those and the paste echoes
//! complete ADMINISTER KEY MANAGEMENT or ALTER SYSTEM statements, the answer is read only after
//! the echo of the statement asked (secrets aside, the same text: case, spacing and `SQL>`
//! prompts do not matter), up to the next echoed statement; a paste that echoes only other
//! statements is refused with a sentence naming the statement it is for and the one asked.
//! A paste without an echo (SQL Developer, or only the lines after the statement) is read
//! whole, as before.
//!
//! The sentences never quote the paste: an echo holds the statement's passwords.

use crate::tde::request::{Request, RequestKind};
use crate::tde::sql::{HIDDEN, Statement};

/// A complete statement the paste echoes.
struct Echo {
    /// Normalized (may hold secrets: never shown).
    text: String,
    /// Byte offset of its first line in the paste.
    start: usize,
    /// Byte offset just after its last line.
    end: usize,
}

/// The part of `paste` to read as the answer to `statement`, or why the paste answers another
/// statement.
pub(crate) fn answer_part<'a>(
    request: &Request,
    statement: &Statement,
    paste: &'a str,
) -> Result<&'a str, String> {
    let asked = canonical(normalize(&statement.display));
    if !is_checked(&asked) {
        return Ok(paste);
    }
    let echoes = echoes(paste);
    let Some(last) = echoes.last() else {
        return Ok(paste);
    };
    if let Some(i) = echoes.iter().rposition(|e| matches(&e.text, &asked)) {
        let end = echoes.get(i + 1).map_or(paste.len(), |next| next.start);
        return Ok(&paste[echoes[i].end..end]);
    }
    let asked_title = request.title();
    Err(match classify(&skeleton(&last.text)) {
        Some((kind, head)) if kind == request.kind() => format!(
            "The paste echoes another \"{asked_title}\" statement ({head} …) than the one asked: {}. Paste the output of the statement asked (check its key id, tag, directory and options).",
            statement.display
        ),
        Some((kind, head)) => format!(
            "The paste is the output of \"{}\" ({head} …), not of the statement asked, \"{asked_title}\": {}. Paste the output of the statement asked.",
            kind.title(),
            statement.display
        ),
        None => format!(
            "The paste is the output of another statement, not of the statement asked, \"{asked_title}\": {}. Paste the output of the statement asked.",
            statement.display
        ),
    })
}

/// Statements answered by a feedback line that other statements print too.
fn is_checked(normalized: &str) -> bool {
    normalized.starts_with("ADMINISTER KEY MANAGEMENT ") || normalized.starts_with("ALTER SYSTEM ")
}

/// A line without the prompts in front of it (`SQL> `, or a `SET SQLPROMPT` one such as
/// `sys@orcl(603)> `).
fn without_prompt(line: &str) -> &str {
    crate::tde::output::after_prompt(line)
        .unwrap_or(line)
        .trim()
}

/// A continuation line as SQL*Plus echoes it (`  2  MIGRATE USING …`): its text.
fn continuation(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let rest = &t[digits..];
    (digits > 0 && rest.starts_with([' ', '\t'])).then(|| rest.trim())
}

/// The complete ADMINISTER KEY MANAGEMENT and ALTER SYSTEM statements `paste` echoes, in order.
/// An echo cut before its `;` (SQL*Plus shows the failing line that way) is not one.
fn echoes(paste: &str) -> Vec<Echo> {
    let mut lines = Vec::new();
    let mut at = 0;
    for l in paste.split_inclusive('\n') {
        lines.push((at, l));
        at += l.len();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (start, first) = lines[i];
        let mut text = without_prompt(first).to_owned();
        if !is_checked(&(normalize(&text) + " ")) {
            i += 1;
            continue;
        }
        let mut j = i;
        while !text.trim_end().ends_with(';') {
            match lines.get(j + 1).and_then(|(_, l)| continuation(l)) {
                Some("/") => text.push(';'),
                Some(more) => {
                    text.push(' ');
                    text.push_str(more);
                }
                None => break,
            }
            j += 1;
        }
        if text.trim_end().ends_with(';') {
            out.push(Echo {
                text: canonical(normalize(&text)),
                start,
                end: lines[j].0 + lines[j].1.len(),
            });
        }
        i = j + 1;
    }
    out
}

/// Upper case and single spaces outside quotes (none around `=`, `,` and `;`), quoted text
/// as it is.
fn normalize(s: &str) -> String {
    crate::tde::output::normalize_sql(s, true)
}

/// A normalized ALTER SYSTEM statement with its string values in one kind of quotes (Oracle
/// takes `'…'` and `"…"` alike there: `tde_configuration='KEYSTORE_CONFIGURATION=FILE'`), the
/// TDE_CONFIGURATION value in upper case (Oracle reads it in any case); any other statement as
/// it is (a password in double quotes is not a string in single quotes).
fn canonical(normalized: String) -> String {
    if !normalized.starts_with("ALTER SYSTEM ") {
        return normalized;
    }
    let quoted = normalized.replace('\'', "\"");
    if quoted.starts_with("ALTER SYSTEM SET TDE_CONFIGURATION") {
        quoted.to_uppercase()
    } else {
        quoted
    }
}

/// The normalized text with every quoted string's content replaced by `…`.
fn skeleton(normalized: &str) -> String {
    let mut out = String::with_capacity(normalized.len());
    let mut quote: Option<char> = None;
    for c in normalized.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// The kind of statement a skeleton is, and the words that say so (constants: never the
/// paste's own text).
fn classify(s: &str) -> Option<(RequestKind, &'static str)> {
    let Some(r) = s.strip_prefix("ADMINISTER KEY MANAGEMENT ") else {
        if s.starts_with("ALTER SYSTEM SET WALLET_ROOT") {
            return Some((RequestKind::SetWalletRoot, "ALTER SYSTEM SET WALLET_ROOT"));
        }
        if s.starts_with("ALTER SYSTEM SET TDE_CONFIGURATION") {
            return Some((
                RequestKind::SetTdeConfiguration,
                "ALTER SYSTEM SET TDE_CONFIGURATION",
            ));
        }
        return None;
    };
    Some(if r.starts_with("SET KEYSTORE OPEN") {
        (
            RequestKind::OpenKeystore,
            "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN",
        )
    } else if r.starts_with("SET KEYSTORE CLOSE") {
        (
            RequestKind::CloseKeystore,
            "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE",
        )
    } else if r.starts_with("SET ENCRYPTION KEY") || r.starts_with("SET KEY") {
        if r.contains(" REVERSE MIGRATE ") {
            (
                RequestKind::ReverseMigrate,
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY … REVERSE MIGRATE",
            )
        } else if r.contains(" MIGRATE ") {
            (
                RequestKind::Migrate,
                "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY … MIGRATE",
            )
        } else {
            (RequestKind::SetKey, "ADMINISTER KEY MANAGEMENT SET KEY")
        }
    } else if r.starts_with("USE KEY") || r.starts_with("USE ENCRYPTION KEY") {
        (RequestKind::UseKey, "ADMINISTER KEY MANAGEMENT USE KEY")
    } else if r.starts_with("CREATE KEYSTORE") {
        (
            RequestKind::CreateKeystore,
            "ADMINISTER KEY MANAGEMENT CREATE KEYSTORE",
        )
    } else if r.starts_with("CREATE AUTO_LOGIN") || r.starts_with("CREATE LOCAL AUTO_LOGIN") {
        (
            RequestKind::CreateAutoLogin,
            "ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE",
        )
    } else if r.starts_with("ADD SECRET") && r.contains(" AUTO_LOGIN KEYSTORE") {
        (
            RequestKind::AddExternalStoreSecret,
            "ADMINISTER KEY MANAGEMENT ADD SECRET … TO AUTO_LOGIN KEYSTORE",
        )
    } else if r.starts_with("ADD SECRET") {
        (
            RequestKind::AddHsmSecret,
            "ADMINISTER KEY MANAGEMENT ADD SECRET … IDENTIFIED BY",
        )
    } else if r.starts_with("BACKUP KEYSTORE") {
        (
            RequestKind::Backup,
            "ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE",
        )
    } else {
        return None;
    })
}

/// Whether an echoed statement is the statement asked, whose normalized display text holds
/// `<hidden>` inside quotes where a secret goes: any secret matches there, quoted as the
/// statement quotes it or, for a password in double quotes, typed without quotes
/// (`IDENTIFIED BY Password23`, as DBAs type it).
fn matches(echo: &str, asked: &str) -> bool {
    let parts: Vec<&str> = asked.split(HIDDEN).collect();
    matches_parts(echo, &parts)
}

/// Whether `echo` is `parts` with a secret between each two.
fn matches_parts(echo: &str, parts: &[&str]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return echo.is_empty();
    };
    let Some(next) = rest.first() else {
        return echo == *first;
    };
    if let Some(after) = echo.strip_prefix(first)
        && let Some(end) = secret_end(after, first.chars().last())
        && matches_parts(&after[end..], rest)
    {
        return true;
    }
    if let (Some(open), Some(close)) = (first.strip_suffix('"'), next.strip_prefix('"'))
        && let Some(after) = echo.strip_prefix(open)
    {
        let end = after
            .find(|c: char| c.is_whitespace() || c == ';' || c == '"')
            .unwrap_or(after.len());
        let mut tail = vec![close];
        tail.extend_from_slice(&rest[1..]);
        return end > 0 && matches_parts(&after[end..], &tail);
    }
    false
}

/// Where a quoted secret ends: at its closing quote (`''` inside single quotes is a quote).
fn secret_end(s: &str, quote: Option<char>) -> Option<usize> {
    match quote {
        Some('"') => s.find('"'),
        Some('\'') => {
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i);
                }
                i += 1;
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
