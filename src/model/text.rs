//! Names people type (databases, HSM profiles) and text printed back from the audit log: what a
//! name may be, and how any text is printed so that it stays on its own line.

use std::borrow::Cow;

/// The most characters a database or HSM profile name may have.
pub const MAX_NAME_CHARS: usize = 64;

/// Characters that change how text around them is shown without being seen themselves:
/// bidirectional overrides and isolates, zero-width characters, the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
    )
}

/// Whether `c` must not be printed as itself: a control character (newline, tab, ESC, DEL, the
/// C1 controls) or one of the invisible ones above.
fn unprintable(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// `s` with every control or invisible character written as an escape (`\n`, `\t`, `\r`,
/// `\u{1b}`, a backslash as `\\`), so that a name or a detail from the audit log prints as what
/// it is and can never start a line of its own. Text with nothing to escape is returned as is.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| unprintable(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unprintable(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The most bytes tdekey reads as one paste or one host output (1 MiB): far more than any
/// answer it asks for, little enough that a wrong file is refused instead of read.
pub const MAX_PASTE_BYTES: usize = 1 << 20;

/// Why a paste or a host output was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasteTooLarge {
    #[error(
        "The {what} is larger than 1 MiB ({bytes} bytes or more): tdekey reads at most 1 MiB. Paste only the output of the statement or command shown."
    )]
    TooLarge { what: &'static str, bytes: usize },
}

/// A paste as tdekey reads it: at most [`MAX_PASTE_BYTES`], without a leading UTF-8 byte-order
/// mark (which some Windows editors and terminals add).
pub fn admit_paste<'a>(what: &'static str, text: &'a str) -> Result<&'a str, PasteTooLarge> {
    if text.len() > MAX_PASTE_BYTES {
        return Err(PasteTooLarge::TooLarge {
            what,
            bytes: text.len(),
        });
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// A file name stem for a name, one-to-one: ASCII letters, digits and `-` stay as they are,
/// every other byte becomes `_` and two hex digits (`_` itself too), so "A B" (`A_20B`) and
/// "A_B" (`A_5fB`) never share a file, and the stem names no directory.
pub fn file_stem(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    if out.is_empty() { "_".to_owned() } else { out }
}

/// Why a name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "The {what} name is empty. Give it a name of 1 to {MAX_NAME_CHARS} printable characters."
    )]
    Empty { what: &'static str },
    #[error(
        "The {what} name has {chars} characters; at most {MAX_NAME_CHARS} are allowed. Give it a shorter name."
    )]
    TooLong { what: &'static str, chars: usize },
    #[error(
        "The {what} name {shown} holds a control or invisible character ({code}) at position {at}. Use printable characters only: no newline, tab or escape."
    )]
    Unprintable {
        what: &'static str,
        shown: String,
        code: String,
        at: usize,
    },
}

/// Checks a database or HSM profile name (`what`: "database", "HSM profile") and returns it
/// trimmed: 1 to [`MAX_NAME_CHARS`] characters, none of them a control or invisible one.
pub fn check_name(what: &'static str, raw: &str) -> Result<String, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if let Some((at, c)) = name.chars().enumerate().find(|(_, c)| unprintable(*c)) {
        return Err(NameError::Unprintable {
            what,
            shown: format!("\"{}\"", printable(name)),
            code: format!("U+{:04X}", c as u32),
            at: at + 1,
        });
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong { what, chars });
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(check_name("database", "  PROD 1 ").unwrap(), "PROD 1");
        assert_eq!(check_name("database", "Zürich-Ω").unwrap(), "Zürich-Ω");
        let max = "x".repeat(MAX_NAME_CHARS);
        assert_eq!(check_name("database", &max).unwrap(), max);
        let e = check_name("database", &"x".repeat(300)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The database name has 300 characters; at most 64 are allowed. Give it a shorter name."
        );
        assert_eq!(
            check_name("HSM profile", " \t ").unwrap_err(),
            NameError::Empty {
                what: "HSM profile"
            }
        );
        for (bad, code, at) in [
            ("A\nB", "U+000A", 2),
            ("A\u{1b}[2J", "U+001B", 2),
            ("ok\u{202e}gpj", "U+202E", 3),
            ("x\u{7f}", "U+007F", 2),
            ("x\u{85}y", "U+0085", 2),
        ] {
            let e = check_name("database", bad).unwrap_err();
            let s = e.to_string();
            assert!(
                s.contains(code) && s.contains(&format!("position {at}")),
                "{s}"
            );
            assert!(!s.contains('\n') && !s.contains('\u{1b}'), "{s:?}");
        }
    }

    #[test]
    fn file_stems_never_collide() {
        assert_eq!(file_stem("PROD-1"), "PROD-1");
        assert_eq!(file_stem("A B"), "A_20B");
        assert_eq!(file_stem("A_B"), "A_5fB");
        assert_eq!(file_stem("../x"), "_2e_2e_2fx");
        assert_eq!(file_stem("é"), "_c3_a9");
        let names = ["A B", "A_B", "A_20B", "A-B", "AB", "a b", "A  B", "A_5fB"];
        let stems: std::collections::HashSet<_> = names.iter().map(|n| file_stem(n)).collect();
        assert_eq!(stems.len(), names.len());
    }

    #[test]
    fn pastes_lose_their_bom_and_stop_at_one_mib() {
        assert_eq!(
            admit_paste("paste", "\u{feff}HOST db1\nEND").unwrap(),
            "HOST db1\nEND"
        );
        assert_eq!(admit_paste("paste", "x\u{feff}").unwrap(), "x\u{feff}");
        let big = "a".repeat(MAX_PASTE_BYTES);
        assert_eq!(admit_paste("paste", &big).unwrap().len(), MAX_PASTE_BYTES);
        let e = admit_paste("host output", &format!("{big}b")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("The host output is larger than 1 MiB"),
            "{e}"
        );
    }

    #[test]
    fn printable_escapes_what_could_forge_a_line() {
        assert!(matches!(printable("plain name"), Cow::Borrowed(_)));
        assert_eq!(
            printable("PROD\n2026-01-01 00:00 root hsm.login success"),
            "PROD\\n2026-01-01 00:00 root hsm.login success"
        );
        assert_eq!(printable("a\\nb"), "a\\\\nb");
        assert_eq!(printable("\u{1b}[31mred\r\t"), "\\u{1b}[31mred\\r\\t");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
    }
}
