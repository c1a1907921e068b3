//! The script tdekey's SQL*Plus connector writes to `sqlplus -S -L /nolog` on stdin: the
//! connection (`CONNECT … [AS SYSDBA | AS SYSKM]`, as the profile says), the session's NLS
//! settings tdekey parses (so that the DBA's environment cannot change the language of the
//! feedback or the form of a time stamp), the settings tdekey reads the output with, the
//! statement and `EXIT`. Nothing goes through argv or the environment. The user name and connect string
//! are checked here, since they are written into the CONNECT line.

use crate::model::{ConnectAs, DbAuth};
use crate::secret::Secret;
use crate::tde::sql::SqlError;

/// Why the login cannot be written into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("The database user name {user:?} is not a plain Oracle user name.")]
    BadUser { user: String },
    #[error("The connect string {0:?} contains spaces, quotes or line breaks.")]
    BadConnectString(String),
    #[error("{0}")]
    Statement(#[from] SqlError),
}

/// How sqlplus connects.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub auth: &'a DbAuth,
    /// `AS SYSDBA`, `AS SYSKM` or nothing.
    pub connect_as: ConnectAs,
    /// `@<connect string>`; `None` or "" for a local connection through ORACLE_SID.
    pub connect_string: Option<&'a str>,
    /// The named user's password (unused with OS authentication).
    pub password: Option<&'a Secret>,
}

/// A plain Oracle user name: a letter then letters, digits, `_`, `$`, `#`, optionally after a
/// `C##` common-user prefix, at most 128 characters.
pub fn valid_user(u: &str) -> bool {
    let body = u
        .strip_prefix("C##")
        .or_else(|| u.strip_prefix("c##"))
        .unwrap_or(u);
    !body.is_empty()
        && u.len() <= 128
        && body.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '#'))
}

/// Checks the fields of a database profile that go into the CONNECT line.
pub fn check_login_fields(auth: &DbAuth, connect_string: Option<&str>) -> Result<(), LoginError> {
    if let DbAuth::User(u) = auth
        && !valid_user(u)
    {
        return Err(LoginError::BadUser { user: u.clone() });
    }
    if let Some(c) = connect_string
        && c.chars()
            .any(|ch| ch.is_whitespace() || ch == '"' || ch == '\'')
    {
        return Err(LoginError::BadConnectString(c.to_owned()));
    }
    Ok(())
}

const DB_PASSWORD: &str = "database password";

/// The session settings the connector sets before every statement, with feedback off so that
/// they print nothing: English feedback and error texts, and V$ENCRYPTION_KEYS's time stamps in
/// the one form [`crate::tde::views::parse_oracle_time`] reads (`24-NOV-26 09.15.02.123456 AM
/// +00:00`: a numeric offset, never a region name) whatever NLS_LANG the DBA's environment has.
pub const NLS_SETTINGS: &str = "SET FEEDBACK OFF
ALTER SESSION SET NLS_LANGUAGE='AMERICAN';
ALTER SESSION SET NLS_TERRITORY='AMERICA';
ALTER SESSION SET NLS_DATE_LANGUAGE='AMERICAN';
ALTER SESSION SET NLS_TIMESTAMP_TZ_FORMAT='DD-MON-RR HH.MI.SSXFF AM TZH:TZM';
ALTER SESSION SET NLS_TIMESTAMP_FORMAT='DD-MON-RR HH.MI.SSXFF AM';
";

/// Everything sqlplus reads on stdin for one statement.
pub fn script(login: &Login<'_>, statement: &Secret) -> Result<Secret, LoginError> {
    check_login_fields(login.auth, login.connect_string)?;
    let mut s = zeroize::Zeroizing::new(String::with_capacity(512));
    s.push_str("WHENEVER OSERROR EXIT 9\nWHENEVER SQLERROR EXIT SQL.SQLCODE\n");
    let at = login
        .connect_string
        .filter(|c| !c.is_empty())
        .map(|c| format!("@{c}"))
        .unwrap_or_default();
    match login.auth {
        DbAuth::Os => {
            s.push_str("CONNECT /");
            s.push_str(&at);
            s.push_str(login.connect_as.clause());
            s.push('\n');
        }
        DbAuth::User(u) => {
            let pw = login
                .password
                .ok_or(SqlError::Empty { what: DB_PASSWORD })?;
            if pw.is_empty() {
                return Err(SqlError::Empty { what: DB_PASSWORD }.into());
            }
            if pw.expose().contains('"') {
                return Err(SqlError::DoubleQuote { what: DB_PASSWORD }.into());
            }
            if pw.expose().contains(['\n', '\r', '\0']) {
                return Err(SqlError::LineBreak { what: DB_PASSWORD }.into());
            }
            s.push_str("CONNECT ");
            s.push_str(u);
            s.push_str("/\"");
            s.push_str(pw.expose());
            s.push('"');
            s.push_str(&at);
            s.push_str(login.connect_as.clause());
            s.push('\n');
        }
    }
    s.push_str(NLS_SETTINGS);
    s.push_str("SET MARKUP CSV ON\nSET FEEDBACK ON\nSET ECHO OFF\n");
    s.push_str(statement.expose());
    s.push_str("\nEXIT\n");
    Ok(Secret::new(std::mem::take(&mut *s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt() -> Secret {
        Secret::from("SELECT * FROM V$ENCRYPTION_WALLET;")
    }

    #[test]
    fn user_names_are_plain_identifiers() {
        for ok in ["SYSTEM", "c##sec_admin", "C##KM$1", "tde_admin#2"] {
            assert!(valid_user(ok), "{ok}");
        }
        for bad in ["", "a b", "x/y", "1abc", "C##", "sys as sysdba", "a\"b"] {
            assert!(!valid_user(bad), "{bad}");
        }
        assert!(valid_user(&"a".repeat(128)));
        assert!(!valid_user(&"a".repeat(129)));
    }

    #[test]
    fn os_authentication_script() {
        let login = Login {
            auth: &DbAuth::Os,
            connect_as: ConnectAs::Syskm,
            connect_string: None,
            password: None,
        };
        assert_eq!(
            script(&login, &stmt()).unwrap().expose(),
            format!(
                "WHENEVER OSERROR EXIT 9\nWHENEVER SQLERROR EXIT SQL.SQLCODE\nCONNECT / AS SYSKM\n{NLS_SETTINGS}SET MARKUP CSV ON\nSET FEEDBACK ON\nSET ECHO OFF\nSELECT * FROM V$ENCRYPTION_WALLET;\nEXIT\n"
            )
        );
        // The profile says how to connect.
        for (connect_as, line) in [
            (ConnectAs::Sysdba, "\nCONNECT / AS SYSDBA\n"),
            (ConnectAs::Normal, "\nCONNECT /\n"),
        ] {
            let l = Login {
                connect_as,
                ..login
            };
            assert!(
                script(&l, &stmt()).unwrap().expose().contains(line),
                "{line}"
            );
        }
        let remote = Login {
            connect_string: Some("dbhost:1521/FIN"),
            ..login
        };
        assert!(
            script(&remote, &stmt())
                .unwrap()
                .expose()
                .contains("\nCONNECT /@dbhost:1521/FIN AS SYSKM\n")
        );
        let empty = Login {
            connect_string: Some(""),
            ..login
        };
        assert!(
            script(&empty, &stmt())
                .unwrap()
                .expose()
                .contains("\nCONNECT / AS SYSKM\n")
        );
    }

    #[test]
    fn named_user_script_and_its_password() {
        let auth = DbAuth::User("c##sec_admin".into());
        let pw = Secret::from("Right-Db-Pw-1");
        let login = Login {
            auth: &auth,
            connect_as: ConnectAs::Syskm,
            connect_string: Some("dbhost:1521/FINPDB"),
            password: Some(&pw),
        };
        assert_eq!(
            script(&login, &stmt()).unwrap().expose(),
            format!(
                "WHENEVER OSERROR EXIT 9\nWHENEVER SQLERROR EXIT SQL.SQLCODE\nCONNECT c##sec_admin/\"Right-Db-Pw-1\"@dbhost:1521/FINPDB AS SYSKM\n{NLS_SETTINGS}SET MARKUP CSV ON\nSET FEEDBACK ON\nSET ECHO OFF\nSELECT * FROM V$ENCRYPTION_WALLET;\nEXIT\n"
            )
        );
        let check = |p: Option<&Secret>| {
            script(
                &Login {
                    password: p,
                    ..login
                },
                &stmt(),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(check(None), "The database password is empty.");
        assert_eq!(
            check(Some(&Secret::from(""))),
            "The database password is empty."
        );
        assert!(check(Some(&Secret::from("has\"quote"))).contains("double quote"));
        assert!(check(Some(&Secret::from("two\nlines"))).contains("line break"));
    }

    #[test]
    fn login_fields_are_checked() {
        let bad = DbAuth::User("sys as sysdba".into());
        assert_eq!(
            check_login_fields(&bad, None).unwrap_err().to_string(),
            "The database user name \"sys as sysdba\" is not a plain Oracle user name."
        );
        for c in ["db host", "db\"host", "db'host", "db\nhost"] {
            assert_eq!(
                check_login_fields(&DbAuth::Os, Some(c)).unwrap_err(),
                LoginError::BadConnectString(c.to_owned())
            );
        }
        assert_eq!(
            LoginError::BadConnectString("a b".into()).to_string(),
            "The connect string \"a b\" contains spaces, quotes or line breaks."
        );
        assert!(check_login_fields(&DbAuth::User("SYSTEM".into()), Some("h:1521/S")).is_ok());
        // The script refuses what the profile check refuses.
        let pw = Secret::from("x");
        let login = Login {
            auth: &bad,
            connect_as: ConnectAs::Syskm,
            connect_string: None,
            password: Some(&pw),
        };
        assert!(matches!(
            script(&login, &stmt()),
            Err(LoginError::BadUser { .. })
        ));
    }
}
