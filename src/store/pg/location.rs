//! [`PgTarget`]: one PostgreSQL store, named by a URL, with its password (held as a
//! [`Secret`]) and its TLS plan, and the one way a connection to it is opened.
//!
//! Environment variables honoured, each only where the URL says nothing (as libpq): `PGUSER`,
//! `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, `PGPASSWORD`, `PGPASSFILE`, and `HOME`
//! for `~/.pgpass` and `~/.postgresql/root.crt`. `PGHOST`, `PGPORT` and `PGDATABASE` are not:
//! the store is named in one place, the URL, so that a shell set up for other work cannot point
//! tdekey at another database.

use super::PgError;
use super::errors::{self, NO_PASSWORD, WRONG_PASSWORD};
use super::pgpass::{self, PasswordFrom, PgPassFile};
use super::tls::{RootCert, SslMode, TlsPlan};
use super::url::{self, PgHost};
use crate::secret::{MAX_SECRET_BYTES, Secret};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment, injected so that tests set no process variable: `env("PGPASSWORD")`.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process's own environment, for [`PgTarget::parse`] outside tests.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// How long a connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Sent on every new connection; a caller may change them afterwards (`SET LOCAL …`).
const SESSION_SETTINGS: &str = "SET lock_timeout = '5s'; SET statement_timeout = '30s'";
/// TCP keepalives (first probe after 30 s of silence, then every 10 s, 3 tries) and
/// `tcp_user_timeout` 30 s: a vanished server is noticed within about a minute.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);
/// A whole connection (TCP, TLS, login) may take twice the connect timeout and this.
const DEADLINE_SLACK: Duration = Duration::from_secs(2);

/// Options the `postgres` crate understands and tdekey hands to it unchanged.
const PASSED_THROUGH: &[&str] = &[
    "options",
    "hostaddr",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "tcp_user_timeout",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// libpq options that tdekey does not take (yet), refused by name rather than ignored.
const NOT_TAKEN: &[&str] = &[
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "require_auth",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "service",
    "client_encoding",
    "fallback_application_name",
    "replication",
];

/// A PostgreSQL store: where it is, as whom, with which password and which TLS.
#[derive(Clone)]
pub struct PgTarget {
    user: String,
    host: PgHost,
    port: u16,
    dbname: String,
    tls: TlsPlan,
    connect_timeout: Duration,
    application_name: Option<String>,
    passed: Vec<(String, String)>,
    password: Option<Secret>,
    password_from: PasswordFrom,
    warnings: Vec<String>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("at", &self.display())
            .field("tls", &self.tls)
            .field("password", &self.password)
            .field("password_from", &self.password_from)
            .finish_non_exhaustive()
    }
}

fn bad(why: impl Into<String>) -> PgError {
    PgError::BadUrl { why: why.into() }
}

/// An environment variable as text; a variable that is not UTF-8 is refused by name.
fn var(env: Env<'_>, name: &str) -> Result<Option<String>, PgError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(|s| Some(s).filter(|s| !s.is_empty()))
            .map_err(|_| {
                bad(format!(
                    "{name} is not UTF-8 text; set it again or unset it"
                ))
            }),
    }
}

impl PgTarget {
    /// Takes `url` (`postgresql://user@host:port/db?sslmode=…`) apart, finds the password
    /// (`password_file`, then `PGPASSWORD`, then `PGPASSFILE` or `~/.pgpass`; none is fine) and
    /// plans TLS. Nothing is contacted. A pgpass file passed over is in [`PgTarget::warnings`].
    pub fn parse(
        url: &str,
        password_file: Option<&Path>,
        env: Env<'_>,
    ) -> Result<PgTarget, PgError> {
        let raw = url::parse(url)?;
        let home = home(env)?;
        let mut sslmode = None;
        let mut rootcert = None;
        let mut connect_timeout = None;
        let mut application_name = None;
        let mut passfile = None;
        let mut passed = Vec::new();
        for (key, value) in raw.options {
            match key.as_str() {
                "sslmode" => sslmode = Some(SslMode::parse(&value).map_err(bad)?),
                // JDBC's spelling, which libpq takes too.
                "ssl" if value == "true" => sslmode = Some(SslMode::Require),
                "ssl" => {
                    return Err(bad(
                        "ssl=true is the only value of ssl that tdekey takes; say sslmode=disable, require or verify-full instead",
                    ));
                }
                "sslrootcert" => rootcert = Some(value),
                "connect_timeout" => connect_timeout = Some(timeout_of(&value, "connect_timeout")?),
                "application_name" => application_name = Some(value),
                "passfile" => passfile = Some(PathBuf::from(value)),
                k if PASSED_THROUGH.contains(&k) => {
                    check_passed(k, &value)?;
                    passed.push((key, value));
                }
                k if NOT_TAKEN.contains(&k) => {
                    return Err(bad(format!(
                        "tdekey does not take the option {k} (yet); leave it out"
                    )));
                }
                k => {
                    return Err(bad(format!(
                        "{k} is not a connection option tdekey knows; it takes sslmode, sslrootcert, connect_timeout, application_name, passfile, {}",
                        PASSED_THROUGH.join(", ")
                    )));
                }
            }
        }
        let Some(host) = raw.host else {
            return Err(bad(
                "it names no host; write postgresql://user@HOST:5432/database (or ?host=/var/run/postgresql for the local socket)",
            ));
        };
        if cfg!(not(unix)) && matches!(host, PgHost::Socket(_)) {
            return Err(bad(
                "a host that starts with / is a Unix socket directory, and this system has none; name the server's host",
            ));
        }
        let user = match raw.user.or(var(env, "PGUSER")?) {
            Some(u) => u,
            None => crate::paths::process_user().ok_or_else(|| {
                bad("it names no user and the user this process runs as is unknown; write postgresql://USER@host/database")
            })?,
        };
        let dbname = raw.dbname.unwrap_or_else(|| user.clone());
        let port = raw.port.unwrap_or(5432);
        let connect_timeout = match connect_timeout {
            Some(t) => t,
            None => match var(env, "PGCONNECT_TIMEOUT")? {
                Some(v) => timeout_of(&v, "PGCONNECT_TIMEOUT")?,
                None => CONNECT_TIMEOUT,
            },
        };
        let mut warnings = Vec::new();
        let sslmode = match sslmode {
            Some(m) => m,
            None => match var(env, "PGSSLMODE")? {
                Some(v) => SslMode::parse(&v).map_err(|w| bad(format!("PGSSLMODE: {w}")))?,
                None => SslMode::Prefer,
            },
        };
        let tls = if let PgHost::Socket(dir) = &host {
            if matches!(
                sslmode,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
            ) {
                warnings.push(format!(
                    "sslmode={sslmode} does not apply to the local socket in {}: socket connections are never encrypted, as with psql.",
                    dir.display()
                ));
            }
            TlsPlan::new(SslMode::Disable, None, None).map_err(bad)?
        } else {
            let explicit = match rootcert.or(var(env, "PGSSLROOTCERT")?) {
                None => None,
                Some(s) if s == "system" => Some(RootCert::System),
                Some(s) => Some(RootCert::File(PathBuf::from(s))),
            };
            let default_root = home
                .as_ref()
                .map(|h| h.join(".postgresql").join("root.crt"))
                .filter(|p| p.is_file());
            TlsPlan::new(sslmode, explicit, default_root).map_err(bad)?
        };
        let mut target = PgTarget {
            user,
            host,
            port,
            dbname,
            tls,
            connect_timeout,
            application_name,
            passed,
            password: None,
            password_from: PasswordFrom::Nowhere,
            warnings,
        };
        target.find_password(password_file, passfile, home.as_deref(), env)?;
        Ok(target)
    }

    fn find_password(
        &mut self,
        password_file: Option<&Path>,
        passfile: Option<PathBuf>,
        home: Option<&Path>,
        env: Env<'_>,
    ) -> Result<(), PgError> {
        if let Some(p) = password_file {
            self.password = Some(pgpass::read_password_file(p)?);
            self.password_from = PasswordFrom::File(p.to_path_buf());
            return Ok(());
        }
        if let Some(v) = env("PGPASSWORD").filter(|v| !v.is_empty()) {
            let v = v.into_string().map_err(|_| PgError::PasswordEnv {
                why: "is not UTF-8 text; set it again".to_owned(),
            })?;
            if v.len() > MAX_SECRET_BYTES {
                return Err(PgError::PasswordEnv {
                    why: format!(
                        "is {} bytes long; tdekey takes at most {MAX_SECRET_BYTES} bytes and never shortens a password",
                        v.len()
                    ),
                });
            }
            self.password = Some(Secret::new(v));
            self.password_from = PasswordFrom::Env;
            return Ok(());
        }
        let path = match passfile.or(var(env, "PGPASSFILE")?.map(PathBuf::from)) {
            Some(p) => p,
            None => match home {
                Some(h) if cfg!(windows) => h.join("postgresql").join("pgpass.conf"),
                Some(h) => h.join(".pgpass"),
                None => return Ok(()),
            },
        };
        match pgpass::read_pgpass(&path) {
            PgPassFile::Missing => {}
            PgPassFile::Ignored(w) => self.warnings.push(w),
            PgPassFile::Text(text) => {
                let port = self.port.to_string();
                let host = self.pgpass_host();
                if let Some(pw) = pgpass::lookup(&text, &host, &port, &self.dbname, &self.user) {
                    self.password = Some(pw);
                    self.password_from = PasswordFrom::PgPass(path);
                }
            }
        }
        Ok(())
    }

    /// The host as a pgpass line names it: the host name, or for a socket `localhost` when it
    /// is the default socket directory (as libpq), else the directory.
    fn pgpass_host(&self) -> String {
        match &self.host {
            PgHost::Tcp(h) => h.clone(),
            PgHost::Socket(d) if d == Path::new("/var/run/postgresql") => "localhost".to_owned(),
            PgHost::Socket(d) if d == Path::new("/run/postgresql") => "localhost".to_owned(),
            PgHost::Socket(d) => d.display().to_string(),
        }
    }

    /// `postgresql://user@host:port/db`: the store for messages and the window; never a
    /// password, and it parses back to the same place.
    pub fn display(&self) -> String {
        let host = match &self.host {
            PgHost::Tcp(h) if h.contains(':') => format!("[{h}]"),
            PgHost::Tcp(h) => url::encode(h),
            PgHost::Socket(d) => url::encode(&d.display().to_string()),
        };
        format!(
            "postgresql://{}@{host}:{}/{}",
            url::encode(&self.user),
            self.port,
            url::encode(&self.dbname)
        )
    }

    /// The TLS mode in effect (`disable` for a local socket, whatever was asked).
    pub fn sslmode(&self) -> SslMode {
        self.tls.mode
    }

    /// What the server's certificate is checked for.
    pub fn tls_check(&self) -> super::Check {
        self.tls.check
    }

    /// Where the password came from (never the password).
    pub fn password_from(&self) -> &PasswordFrom {
        &self.password_from
    }

    /// Sentences for the user that did not stop anything (a pgpass file others may read, passed
    /// over as psql would; an sslmode that a local socket ignores). The caller shows them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn host(&self) -> &PgHost {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// Opens a connection: `application_name` unless the URL names one, the connect timeout
    /// (5 s unless the URL or PGCONNECT_TIMEOUT says otherwise; the whole login gets twice that
    /// and 2 s), TCP keepalives, then `lock_timeout` 5 s and `statement_timeout` 30 s, which
    /// the caller may change.
    pub fn connect(&self, application_name: &str) -> Result<postgres::Client, PgError> {
        let at = self.display();
        let config = self.config(application_name)?;
        let connector = self.tls.connector().map_err(|detail| PgError::Tls {
            at: at.clone(),
            detail,
        })?;
        // The crate's connect_timeout covers the TCP connect only: a server that accepts and
        // then says nothing (stopped, or a port forward to nowhere) would hold the login for
        // ever. So the whole connection runs on a thread of its own, waited for until the
        // deadline; past it the thread is left to end with its socket.
        let deadline = self.connect_timeout * 2 + DEADLINE_SLACK;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("tdekey-pg-connect".to_owned())
            .spawn(move || {
                let connected = match connector {
                    None => config.connect(postgres::NoTls),
                    Some(c) => config.connect(c),
                };
                // The receiver may have given up waiting: then nobody wants the client.
                let _ = tx.send(connected);
            })
            .map_err(|e| PgError::Other {
                at: at.clone(),
                detail: format!("no thread could be started to connect ({e})"),
            })?;
        let connected = rx
            .recv_timeout(deadline)
            .map_err(|_| PgError::Unreachable {
                at: at.clone(),
                detail: format!(
                    "it accepted the connection but did not answer within {} s",
                    deadline.as_secs()
                ),
            })?;
        let mut client = connected.map_err(|e| self.connect_error(&e, &at))?;
        client
            .batch_execute(SESSION_SETTINGS)
            .map_err(|e| errors::classify(&e, &at))?;
        Ok(client)
    }

    fn config(&self, application_name: &str) -> Result<postgres::Config, PgError> {
        let given = |k: &str| self.passed.iter().any(|(key, _)| key == k);
        let mut c = passed_config(&self.passed)?;
        c.user(&self.user).dbname(&self.dbname).port(self.port);
        match &self.host {
            PgHost::Tcp(h) => c.host(h),
            #[cfg(unix)]
            PgHost::Socket(d) => c.host_path(d),
            // Refused by `parse` where there are no Unix sockets.
            #[cfg(not(unix))]
            PgHost::Socket(d) => c.host(&d.to_string_lossy()),
        };
        c.ssl_mode(self.tls.crate_mode())
            .connect_timeout(self.connect_timeout)
            .application_name(self.application_name.as_deref().unwrap_or(application_name));
        if !given("keepalives") {
            c.keepalives(true);
        }
        if !given("keepalives_idle") {
            c.keepalives_idle(KEEPALIVES_IDLE);
        }
        if !given("keepalives_interval") {
            c.keepalives_interval(KEEPALIVES_INTERVAL);
        }
        if !given("keepalives_retries") {
            c.keepalives_retries(KEEPALIVES_RETRIES);
        }
        if !given("tcp_user_timeout") {
            c.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if let Some(pw) = &self.password {
            // The crate keeps its own copy (a Vec it does not zeroize) until `c` is dropped.
            c.password(pw.expose());
        }
        Ok(c)
    }

    /// [`errors::classify`], then told where the password came from and what TLS was asked.
    fn connect_error(&self, e: &postgres::Error, at: &str) -> PgError {
        match errors::classify(e, at) {
            PgError::AuthFailed { at, why, .. } if why == WRONG_PASSWORD => {
                let why = match &self.password_from {
                    PasswordFrom::Nowhere => NO_PASSWORD.to_owned(),
                    from => format!(
                        "the password from {from} is wrong or the user does not exist; correct it there, or ask the server's administrator"
                    ),
                };
                PgError::AuthFailed {
                    at,
                    user: self.user.clone(),
                    why,
                }
            }
            PgError::AuthFailed { at, why, .. } => PgError::AuthFailed {
                at,
                user: self.user.clone(),
                why,
            },
            PgError::Tls { at, detail } => PgError::Tls {
                at,
                detail: self.tls_detail(&detail),
            },
            PgError::Unreachable { at, detail } if detail.contains("connect timeout") => {
                PgError::Unreachable {
                    at,
                    detail: format!("no answer within {} s", self.connect_timeout.as_secs()),
                }
            }
            other => other,
        }
    }

    fn tls_detail(&self, detail: &str) -> String {
        let asked = self.tls.describe();
        if detail.contains("does not support TLS") {
            return format!(
                "the server does not offer TLS ({asked}); turn ssl on in its postgresql.conf, or use sslmode=disable on a network you trust"
            );
        }
        if detail.contains("certificate verify failed") {
            let reason = detail
                .rfind(": (")
                .map_or("", |i| detail[i + 3..].trim_end_matches(')'));
            return format!(
                "the server's certificate was not accepted ({}{asked}); check that sslrootcert holds the CA that signed it and, for verify-full, that it names the host of the URL",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!("{}, ", reason.to_lowercase())
                }
            );
        }
        format!("{detail} ({asked}); check the server's TLS set-up and the sslmode")
    }
}

/// The options passed through, as the crate parses them (a key=value string, quoted).
fn passed_config(passed: &[(String, String)]) -> Result<postgres::Config, PgError> {
    let text: Vec<String> = passed
        .iter()
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    text.join(" ").parse::<postgres::Config>().map_err(|e| {
        bad(format!(
            "tdekey's PostgreSQL client does not take its options ({e})"
        ))
    })
}

/// One passed-through option, checked now rather than when connecting.
fn check_passed(key: &str, value: &str) -> Result<(), PgError> {
    passed_config(&[(key.to_owned(), value.to_owned())])
        .map(|_| ())
        .map_err(|_| bad(format!("the value of {key} is not one PostgreSQL takes")))
}

fn timeout_of(text: &str, name: &str) -> Result<Duration, PgError> {
    match text.trim().parse::<u64>() {
        Ok(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(bad(format!(
            "{name} must be a whole number of seconds from 1 to 3600 (tdekey never waits forever)"
        ))),
    }
}

/// The home directory: `HOME` (on Windows `APPDATA`, where libpq looks), else the system's.
fn home(env: Env<'_>) -> Result<Option<PathBuf>, PgError> {
    let name = if cfg!(windows) { "APPDATA" } else { "HOME" };
    Ok(match var(env, name)? {
        Some(h) => Some(PathBuf::from(h)),
        None => directories::BaseDirs::new().map(|b| {
            if cfg!(windows) {
                b.config_dir().to_path_buf()
            } else {
                b.home_dir().to_path_buf()
            }
        }),
    })
}

#[cfg(test)]
mod tests;
