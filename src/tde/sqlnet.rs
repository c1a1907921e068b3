//! `sqlnet.ora`: the deprecated `ENCRYPTION_WALLET_LOCATION` parameter (19c prefers WALLET_ROOT
//! and TDE_CONFIGURATION; 23ai refuses it). Comments (`#` to the end of the line), parameters
//! spread over several lines, and any letter case are accepted.

use serde::Serialize;

/// What `ENCRYPTION_WALLET_LOCATION` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalletLocation {
    /// `FILE` or `HSM` (upper case).
    pub method: String,
    /// `METHOD_DATA = (DIRECTORY = …)`, if given.
    pub directory: Option<String>,
    pub warning: &'static str,
}

pub const DEPRECATION: &str = "ENCRYPTION_WALLET_LOCATION in sqlnet.ora is deprecated from Oracle 19c in favour of the WALLET_ROOT and TDE_CONFIGURATION parameters, and Oracle 23ai refuses it.";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SqlnetError {
    #[error(
        "The sqlnet.ora text has no ENCRYPTION_WALLET_LOCATION parameter (the database then takes its keystore from WALLET_ROOT and TDE_CONFIGURATION)."
    )]
    NotSet,
    #[error("ENCRYPTION_WALLET_LOCATION is malformed: {0}. Check its parentheses.")]
    Malformed(String),
    #[error(
        "ENCRYPTION_WALLET_LOCATION has no (SOURCE = (METHOD = …)): expected METHOD = FILE or METHOD = HSM."
    )]
    NoMethod,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    key: String,
    atom: Option<String>,
    children: Vec<Node>,
}

struct P<'a> {
    s: &'a [char],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.ws();
        self.s.get(self.i).copied()
    }

    /// `(KEY = VALUE)` where VALUE is an atom or one or more groups.
    fn group(&mut self, depth: usize) -> Result<Node, SqlnetError> {
        if depth > 64 {
            return Err(SqlnetError::Malformed("nested too deeply".into()));
        }
        if self.peek() != Some('(') {
            return Err(SqlnetError::Malformed("expected '('".into()));
        }
        self.i += 1;
        let key = self.word();
        if key.is_empty() {
            return Err(SqlnetError::Malformed("a group without a name".into()));
        }
        if self.peek() != Some('=') {
            return Err(SqlnetError::Malformed(format!("expected '=' after {key}")));
        }
        self.i += 1;
        let (atom, children) = self.value(depth)?;
        if self.peek() != Some(')') {
            return Err(SqlnetError::Malformed(format!("')' missing after {key}")));
        }
        self.i += 1;
        Ok(Node {
            key: key.to_ascii_uppercase(),
            atom,
            children,
        })
    }

    fn value(&mut self, depth: usize) -> Result<(Option<String>, Vec<Node>), SqlnetError> {
        if self.peek() == Some('(') {
            let mut children = Vec::new();
            while self.peek() == Some('(') {
                children.push(self.group(depth + 1)?);
            }
            Ok((None, children))
        } else {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != ')' && self.s[self.i] != '(' {
                self.i += 1;
            }
            let v: String = self.s[start..self.i].iter().collect();
            Ok((Some(v.trim().trim_matches('"').to_owned()), Vec::new()))
        }
    }

    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len() && !matches!(self.s[self.i], '=' | '(' | ')') {
            self.i += 1;
        }
        self.s[start..self.i]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned()
    }
}

fn find<'a>(nodes: &'a [Node], key: &str) -> Option<&'a Node> {
    for n in nodes {
        if n.key == key {
            return Some(n);
        }
        if let Some(f) = find(&n.children, key) {
            return Some(f);
        }
    }
    None
}

/// Reads `ENCRYPTION_WALLET_LOCATION` from the text of a sqlnet.ora.
pub fn parse_sqlnet(text: &str) -> Result<WalletLocation, SqlnetError> {
    // Strip comments, keep line structure.
    let cleaned: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let upper = cleaned.to_ascii_uppercase();
    // The parameter starts a line (continuation lines are indented or inside parentheses).
    let mut at = None;
    let mut offset = 0;
    for line in upper.split('\n') {
        let t = line.trim_start();
        if line.len() == t.len() && t.starts_with("ENCRYPTION_WALLET_LOCATION") {
            let rest = t["ENCRYPTION_WALLET_LOCATION".len()..].trim_start();
            if rest.starts_with('=') {
                at = Some(offset);
            }
        }
        offset += line.len() + 1;
    }
    let at = at.ok_or(SqlnetError::NotSet)?;
    let chars: Vec<char> = cleaned[at..].chars().collect();
    let mut p = P { s: &chars, i: 0 };
    let _name = p.word();
    if p.peek() != Some('=') {
        return Err(SqlnetError::Malformed("expected '=' after the name".into()));
    }
    p.i += 1;
    let (_, children) = p.value(0)?;
    if children.is_empty() {
        return Err(SqlnetError::Malformed(
            "the value is not a (SOURCE = …) group".into(),
        ));
    }
    let method = find(&children, "METHOD")
        .and_then(|n| n.atom.clone())
        .filter(|m| !m.is_empty())
        .ok_or(SqlnetError::NoMethod)?
        .to_ascii_uppercase();
    let directory = find(&children, "DIRECTORY").and_then(|n| n.atom.clone());
    Ok(WalletLocation {
        method,
        directory,
        warning: DEPRECATION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_wallet_over_several_lines_with_comments() {
        let t = "# sqlnet.ora Network Configuration File\nNAMES.DIRECTORY_PATH= (TNSNAMES, EZCONNECT)\n\nENCRYPTION_WALLET_LOCATION =\n  (SOURCE = (METHOD = FILE)   # the software keystore\n    (METHOD_DATA =\n      (DIRECTORY = /u01/app/oracle/admin/$ORACLE_SID/wallet)\n    )\n  )\nSQLNET.WALLET_OVERRIDE = TRUE\n";
        let w = parse_sqlnet(t).unwrap();
        assert_eq!(w.method, "FILE");
        assert_eq!(
            w.directory.as_deref(),
            Some("/u01/app/oracle/admin/$ORACLE_SID/wallet")
        );
        assert!(w.warning.contains("deprecated"));
    }

    #[test]
    fn hsm_method_in_any_case_on_one_line() {
        let w = parse_sqlnet("encryption_wallet_location=(source=(method=hsm))").unwrap();
        assert_eq!(w.method, "HSM");
        assert_eq!(w.directory, None);
        let w = parse_sqlnet(
            "Encryption_Wallet_Location = (SOURCE=(METHOD=HSM)(METHOD_DATA=(DIRECTORY=/w/tde)))",
        )
        .unwrap();
        assert_eq!(
            (w.method.as_str(), w.directory.as_deref()),
            ("HSM", Some("/w/tde"))
        );
    }

    #[test]
    fn bad_or_missing() {
        assert_eq!(
            parse_sqlnet("NAMES.DIRECTORY_PATH=(TNSNAMES)"),
            Err(SqlnetError::NotSet)
        );
        assert_eq!(
            parse_sqlnet("# ENCRYPTION_WALLET_LOCATION=(SOURCE=(METHOD=FILE))"),
            Err(SqlnetError::NotSet),
            "a commented-out parameter is not set"
        );
        assert!(matches!(
            parse_sqlnet("ENCRYPTION_WALLET_LOCATION=(SOURCE=(METHOD=FILE)"),
            Err(SqlnetError::Malformed(_))
        ));
        assert_eq!(
            parse_sqlnet("ENCRYPTION_WALLET_LOCATION=(SOURCE=(METHOD_DATA=(DIRECTORY=/x)))"),
            Err(SqlnetError::NoMethod)
        );
        // Never panics on junk.
        for junk in [
            "ENCRYPTION_WALLET_LOCATION=",
            "ENCRYPTION_WALLET_LOCATION=((((",
            "ENCRYPTION_WALLET_LOCATION=(=)",
            "ENCRYPTION_WALLET_LOCATION =)(",
            &"(".repeat(500),
        ] {
            let _ = parse_sqlnet(&format!("ENCRYPTION_WALLET_LOCATION={junk}"));
            let _ = parse_sqlnet(junk);
        }
    }
}
