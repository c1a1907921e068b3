//! Every way reaching the PostgreSQL store can fail, each one sentence that says what to do and
//! never holds a password, and the mapping of the `postgres` crate's errors to them.

use std::path::PathBuf;

/// A PostgreSQL store that cannot be named, reached, logged in to or used. `at` is always
/// [`super::PgTarget::display`]'s form, `postgresql://user@host:port/db`, which holds no password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "The store URL holds a password, and argv and TDEKEY_STORE are visible to other users of this computer; put the password in ~/.pgpass, PGPASSWORD or --store-password-file and leave it out of the URL."
    )]
    PasswordInUrl,

    #[error("The store URL cannot be used: {why}.")]
    BadUrl { why: String },

    #[error("The store password file {path} {why}.")]
    PasswordFile { path: PathBuf, why: String },

    #[error("The PostgreSQL password in PGPASSWORD {why}.")]
    PasswordEnv { why: String },

    #[error(
        "Cannot reach the PostgreSQL server at {at} ({detail}); check that it runs and that host and port are right, or leave out --store (and TDEKEY_STORE) to use this computer's own store."
    )]
    Unreachable { at: String, detail: String },

    #[error("The PostgreSQL server at {at} refused user {user}: {why}.")]
    AuthFailed {
        at: String,
        user: String,
        why: String,
    },

    #[error("The TLS connection to the PostgreSQL server at {at} failed: {detail}.")]
    Tls { at: String, detail: String },

    #[error(
        "The PostgreSQL server at {at} has no such database ({detail}); create it (CREATE DATABASE) or name an existing one in the store URL."
    )]
    DatabaseMissing { at: String, detail: String },

    #[error("The connection to the PostgreSQL server at {at} was lost ({detail}); try again.")]
    ConnectionLost { at: String, detail: String },

    #[error(
        "The PostgreSQL server at {at} answered with an error ({detail}); its log says more, and its administrator can help."
    )]
    Other { at: String, detail: String },
}

impl PgError {
    /// Whether trying again can help.
    pub fn retry(&self) -> crate::model::Retry {
        use crate::model::Retry;
        match self {
            PgError::ConnectionLost { .. } | PgError::Unreachable { .. } => Retry::Yes,
            PgError::Other { .. } => Retry::CheckFirst,
            _ => Retry::AfterFix,
        }
    }
}

/// The PostgreSQL error `e` (from connecting or from a query) as a [`PgError`]; `at` is the
/// store's [`super::PgTarget::display`]. An authentication failure names the user found in `at`.
pub fn classify(e: &postgres::Error, at: &str) -> PgError {
    let at = at.to_owned();
    if let Some(db) = e.as_db_error() {
        let detail = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        return match db.code().code() {
            "28P01" => PgError::AuthFailed {
                user: user_in(&at),
                why: WRONG_PASSWORD.to_owned(),
                at,
            },
            "28000" => PgError::AuthFailed {
                user: user_in(&at),
                why: format!(
                    "{}; ask the server's administrator to allow this host, user and database in pg_hba.conf",
                    db.message()
                ),
                at,
            },
            "3D000" => PgError::DatabaseMissing {
                at,
                detail: db.message().to_owned(),
            },
            // The server is shutting down, crashed, or the session was terminated.
            "57P01" | "57P02" => PgError::ConnectionLost { at, detail },
            // Starting up or shutting down: not serving yet.
            "57P03" => PgError::Unreachable { at, detail },
            _ => PgError::Other { at, detail },
        };
    }
    if e.is_closed() {
        return PgError::ConnectionLost {
            at,
            detail: "the server closed it".to_owned(),
        };
    }
    // The crate's Display leaves out the cause: "invalid configuration", not why.
    let cause = std::error::Error::source(e);
    let text = match cause {
        Some(c) => format!("{e}: {c}"),
        None => e.to_string(),
    };
    if text.starts_with("error connecting to server") {
        let detail = cause
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .map_or_else(|| text.clone(), io_detail);
        return PgError::Unreachable { at, detail };
    }
    if text.starts_with("error performing TLS handshake") {
        let detail = cause.map_or_else(|| text.clone(), |c| c.to_string());
        return PgError::Tls { at, detail };
    }
    if text.contains("password missing") {
        return PgError::AuthFailed {
            user: user_in(&at),
            why: NO_PASSWORD.to_owned(),
            at,
        };
    }
    if text.starts_with("error communicating with the server")
        || text.starts_with("timeout waiting for server")
    {
        return PgError::ConnectionLost { at, detail: text };
    }
    PgError::Other { at, detail: text }
}

/// The reason given when the server refuses the password (28P01), whatever its source.
pub(super) const WRONG_PASSWORD: &str = "the password is wrong or the user does not exist; correct the password in --store-password-file, PGPASSWORD or ~/.pgpass, or ask the server's administrator";

/// The reason given when the server asks for a password and tdekey has none.
pub(super) const NO_PASSWORD: &str = "it asks for a password and none was given; put the password in ~/.pgpass, PGPASSWORD or --store-password-file";

/// A connection-level I/O error in words (the OS's text, without "os error N").
fn io_detail(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::TimedOut => "no answer before the connect timeout".to_owned(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

/// The user of a `postgresql://user@host…` display string, or `?` when it has none.
fn user_in(at: &str) -> String {
    at.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map_or_else(|| "?".to_owned(), |(user, _)| user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_read_from_the_display_form() {
        assert_eq!(user_in("postgresql://tdekey@db1:5432/store"), "tdekey");
        assert_eq!(user_in("db1:5432"), "?");
    }

    #[test]
    fn io_errors_read_as_words() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_detail(&refused), "connection refused");
        let other = std::io::Error::other("failed to lookup address information");
        assert_eq!(io_detail(&other), "failed to lookup address information");
    }

    #[test]
    fn every_message_is_one_sentence() {
        let at = "postgresql://u@h:5432/d".to_owned();
        let all = [
            PgError::PasswordInUrl,
            PgError::BadUrl { why: "x".into() },
            PgError::PasswordFile {
                path: "/p".into(),
                why: "is empty; write the password on its first line".into(),
            },
            PgError::PasswordEnv {
                why: "is not UTF-8 text; set it again".into(),
            },
            PgError::Unreachable {
                at: at.clone(),
                detail: "connection refused".into(),
            },
            PgError::AuthFailed {
                at: at.clone(),
                user: "u".into(),
                why: WRONG_PASSWORD.into(),
            },
            PgError::Tls {
                at: at.clone(),
                detail: "x".into(),
            },
            PgError::DatabaseMissing {
                at: at.clone(),
                detail: "x".into(),
            },
            PgError::ConnectionLost {
                at: at.clone(),
                detail: "x".into(),
            },
            PgError::Other {
                at,
                detail: "x".into(),
            },
        ];
        for e in all {
            let s = e.to_string();
            assert!(s.ends_with('.'), "{s}");
            assert_eq!(s.matches(". ").count(), 0, "more than one sentence: {s}");
        }
    }
}
