//! The SQL*Plus connector: runs `ORACLE_HOME/bin/sqlplus -S -L /nolog`, one process per request.
//!
//! The connection, the settings and the statement go through stdin, never argv or the
//! environment (both are visible to other users in /proc). tdekey adds only ORACLE_HOME,
//! ORACLE_SID, NLS_LANG (English messages, which tdekey reads) and LD_LIBRARY_PATH, and removes
//! its own `TDEKEY_*` variables (which may hold a PIN or a password). The output is
//! read with [`interpret`]: an ORA- or SP2- error anywhere is the answer. Raw output is never
//! logged or kept, since SQL*Plus echoes the failing line of a statement, secrets included.

use super::{Answer, Connector, OracleError};
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth};
use crate::secret::Secret;
use crate::tde::request::{Request, interpret};
use crate::tde::sqlplus::{Login, LoginError, check_login_fields, script};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one request may take before sqlplus is stopped.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

pub struct SqlPlus {
    path: PathBuf,
    oracle_home: PathBuf,
    sid: Option<String>,
    connect_string: Option<String>,
    auth: DbAuth,
    connect_as: crate::model::ConnectAs,
    password: Option<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for SqlPlus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlPlus")
            .field("path", &self.path)
            .field("sid", &self.sid)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl From<LoginError> for OracleError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadUser { user } => OracleError::BadUser { user },
            LoginError::BadConnectString(c) => OracleError::BadConnectString(c),
            LoginError::Statement(e) => OracleError::Statement(e),
        }
    }
}

impl SqlPlus {
    /// `password` is the named user's password (`None` for OS authentication).
    pub fn new(profile: &DatabaseProfile, password: Option<Secret>) -> Result<Self, OracleError> {
        let home = profile
            .oracle_home
            .as_deref()
            .filter(|h| !h.trim().is_empty())
            .ok_or_else(|| OracleError::NoOracleHome {
                name: profile.name.clone(),
            })?;
        check_login_fields(&profile.auth, profile.connect_string.as_deref())?;
        let oracle_home = PathBuf::from(home);
        Ok(Self {
            path: oracle_home.join("bin").join("sqlplus"),
            oracle_home,
            sid: profile.oracle_sid.clone().filter(|s| !s.is_empty()),
            connect_string: profile.connect_string.clone().filter(|s| !s.is_empty()),
            auth: profile.auth.clone(),
            connect_as: profile.connect_as,
            password,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Everything sqlplus reads on stdin for one request.
    fn script(&self, statement: &Secret) -> Result<Secret, OracleError> {
        let login = Login {
            auth: &self.auth,
            connect_as: self.connect_as,
            connect_string: self.connect_string.as_deref(),
            password: self.password.as_ref(),
        };
        Ok(script(&login, statement)?)
    }

    /// Runs sqlplus with `script` on stdin; returns (exit code, stdout).
    fn execute(&self, script: Secret) -> Result<(Option<i32>, String), OracleError> {
        if !self.path.is_file() {
            return Err(OracleError::SqlplusMissing {
                path: self.path.clone(),
            });
        }
        let mut cmd = Command::new(&self.path);
        cmd.args(["-S", "-L", "/nolog"])
            .env("ORACLE_HOME", &self.oracle_home)
            .env("NLS_LANG", "AMERICAN_AMERICA.AL32UTF8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // tdekey's own variables may carry secrets the user gave it (TDEKEY_PIN, …).
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("TDEKEY_") {
                cmd.env_remove(k);
            }
        }
        match &self.sid {
            Some(sid) => cmd.env("ORACLE_SID", sid),
            None => cmd.env_remove("ORACLE_SID"),
        };
        let lib = self.oracle_home.join("lib");
        let ld = match std::env::var_os("LD_LIBRARY_PATH") {
            Some(old) if !old.is_empty() => {
                let mut v = lib.into_os_string();
                v.push(":");
                v.push(old);
                v
            }
            _ => lib.into_os_string(),
        };
        cmd.env("LD_LIBRARY_PATH", ld);
        // Its own process group, so a timeout stops sqlplus and anything it started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => OracleError::SqlplusMissing {
                path: self.path.clone(),
            },
            _ => OracleError::SqlplusStart {
                path: self.path.clone(),
                detail: e.to_string(),
            },
        })?;
        let pipe = |what: &str| OracleError::SqlplusStart {
            path: self.path.clone(),
            detail: format!("its {what} could not be connected"),
        };
        let mut stdin = child.stdin.take().ok_or_else(|| pipe("stdin"))?;
        let writer = std::thread::spawn(move || {
            // A sqlplus that exits early closes the pipe: that is reported through its output.
            let _ = stdin.write_all(script.expose().as_bytes());
        });
        let mut stdout = child.stdout.take().ok_or_else(|| pipe("stdout"))?;
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let mut stderr = child.stderr.take().ok_or_else(|| pipe("stderr"))?;
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() >= self.timeout => {
                    #[cfg(unix)]
                    if let Ok(pid) = i32::try_from(child.id()) {
                        // SAFETY: signals the process group created for this child.
                        unsafe { libc::kill(-pid, libc::SIGKILL) };
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(OracleError::Timeout {
                        path: self.path.clone(),
                        seconds: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(OracleError::SqlplusStart {
                        path: self.path.clone(),
                        detail: e.to_string(),
                    });
                }
            }
        };
        let _ = writer.join();
        let out = reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        let mut text = String::from_utf8_lossy(&out).into_owned();
        if !err.is_empty() {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&err));
        }
        Ok((status.code(), text))
    }
}

impl Connector for SqlPlus {
    fn label(&self) -> String {
        format!("SQL*Plus ({})", self.path.display())
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Sqlplus
    }

    fn run(&mut self, request: &Request) -> Result<Answer, OracleError> {
        if matches!(request, Request::Restart) {
            return Err(OracleError::Unsupported {
                what: "Restarting the database",
                connector: "SQL*Plus",
                instead: "tdekey never restarts a real database: restart it yourself (SHUTDOWN IMMEDIATE and STARTUP as SYSDBA, or srvctl stop/start database on RAC), then continue.",
            });
        }
        let statement = request.statement()?;
        let script = self.script(&statement.sql)?;
        let (code, text) = self.execute(script)?;
        match interpret(request, &text) {
            Ok(reply) => Ok(Answer::of(reply)),
            Err(problem) => match code {
                Some(0) => Err(OracleError::Unreadable {
                    title: request.title(),
                    problem,
                }),
                other => Err(OracleError::SqlplusOutput {
                    path: self.path.clone(),
                    detail: format!(
                        "exited with {} and printed no answer to \"{}\" ({}).",
                        other.map_or("a signal".to_owned(), |c| format!("status {c}")),
                        request.title(),
                        problem
                    ),
                }),
            },
        }
    }
}
