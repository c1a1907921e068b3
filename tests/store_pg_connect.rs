//! Connecting to a real PostgreSQL (a throw-away cluster per test, `tests/common/pg.rs`): the
//! password from each of its places, the refusals (wrong password, none, closed port, missing
//! database), TLS by sslmode, a lost connection; and no message that holds the password.

mod common;

use common::pg::Cluster;
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tdekey::store::pg::{PasswordFrom, PgError, PgTarget, SslMode};

/// An environment of its own (`HOME` a temp directory, so no real ~/.pgpass is read).
struct Env {
    home: tempfile::TempDir,
    vars: HashMap<String, OsString>,
}

impl Env {
    fn new() -> Env {
        let home = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".to_owned(), home.path().as_os_str().to_owned());
        Env { home, vars }
    }

    fn with(mut self, k: &str, v: &str) -> Env {
        self.vars.insert(k.to_owned(), v.into());
        self
    }

    fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn target(&self, url: &str, password_file: Option<&Path>) -> PgTarget {
        let env = |k: &str| self.vars.get(k).cloned();
        PgTarget::parse(url, password_file, &env).unwrap()
    }

    fn connect(
        &self,
        url: &str,
        password_file: Option<&Path>,
    ) -> Result<postgres::Client, PgError> {
        self.target(url, password_file).connect("tdekey/test")
    }
}

fn one(client: &mut postgres::Client, sql: &str) -> String {
    let rows = client.simple_query(sql).unwrap();
    rows.iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap()
}

fn ssl_in_use(client: &mut postgres::Client) -> String {
    one(
        client,
        "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
}

/// Every message of `e` (Display and Debug) is free of `secret`.
fn holds_no(e: &PgError, secret: &str) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(secret), "{shown}");
}

#[test]
fn connects_with_a_password_file_and_sets_the_session_timeouts() {
    let pg = Cluster::start();
    let db = pg.create_db();
    let env = Env::new();
    let pw = env.file("pw", &format!("{}\n", pg.password()), 0o600);
    let target = env.target(&pg.url(&db), Some(&pw));
    assert_eq!(target.password_from(), &PasswordFrom::File(pw.clone()));
    let mut c = target.connect("tdekey/test").unwrap();
    assert_eq!(one(&mut c, "SELECT current_database()"), db);
    assert_eq!(one(&mut c, "SHOW lock_timeout"), "5s");
    assert_eq!(one(&mut c, "SHOW statement_timeout"), "30s");
    assert_eq!(one(&mut c, "SHOW application_name"), "tdekey/test");
    // The caller may change them.
    c.batch_execute("SET statement_timeout = 0").unwrap();
    assert_eq!(one(&mut c, "SHOW statement_timeout"), "0");
    // sslmode=prefer by default: the server here has no TLS, so none.
    assert_eq!(target.sslmode(), SslMode::Prefer);
    assert_eq!(ssl_in_use(&mut c), "false");
}

#[test]
fn a_wrong_password_is_auth_failed_naming_its_source_not_its_value() {
    let pg = Cluster::start();
    let db = pg.create_db();
    let env = Env::new().with("PGPASSWORD", "wrong-pw-91f3");
    let e = env.connect(&pg.url(&db), None).map(drop).unwrap_err();
    assert!(
        matches!(&e, PgError::AuthFailed { user, .. } if user == "tdekey_test"),
        "{e:?}"
    );
    let s = e.to_string();
    assert!(s.contains("PGPASSWORD") && s.contains("tdekey_test"), "{s}");
    holds_no(&e, "wrong-pw-91f3");
    holds_no(&e, pg.password());
    // No password at all: the server asks for one.
    let e = Env::new()
        .connect(&pg.url(&db), None)
        .map(drop)
        .unwrap_err();
    assert!(matches!(e, PgError::AuthFailed { .. }), "{e:?}");
    assert!(e.to_string().contains("none was given"), "{e}");
}

#[test]
fn a_closed_port_is_unreachable_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = Env::new().with("PGPASSWORD", "some-pw-4417");
    // A connect timeout of 60 s: a refusal must not wait for it.
    let url = format!("postgresql://u@127.0.0.1:{port}/d?connect_timeout=60");
    let start = std::time::Instant::now();
    let e = env.connect(&url, None).map(drop).unwrap_err();
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "waited for the timeout"
    );
    let PgError::Unreachable { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(detail, "connection refused");
    let s = e.to_string();
    assert!(
        s.starts_with("Cannot reach the PostgreSQL server at postgresql://u@127.0.0.1:"),
        "{s}"
    );
    assert!(s.contains("--store"), "{s}");
    holds_no(&e, "some-pw-4417");
}

#[test]
fn a_server_that_accepts_and_never_answers_is_unreachable_not_a_hang() {
    // Bound and listening, never accepted: the kernel completes the TCP handshake, then nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgresql://u@127.0.0.1:{port}/d?connect_timeout=1");
    let e = Env::new().connect(&url, None).map(drop).unwrap_err();
    let PgError::Unreachable { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        detail,
        "it accepted the connection but did not answer within 4 s"
    );
    drop(silent);
}

#[test]
fn the_password_from_a_pgpass_file_and_a_pgpass_others_can_read() {
    let pg = Cluster::start();
    let db = pg.create_db();
    let env = Env::new();
    let line = format!(
        "127.0.0.1:{}:{db}:tdekey_test:{}\n",
        pg.port(),
        pg.password()
    );
    let pgpass = env.file(".pgpass", &format!("other:1:x:y:z\n{line}"), 0o600);
    let target = env.target(&pg.url(&db), None);
    assert_eq!(
        target.password_from(),
        &PasswordFrom::PgPass(pgpass.clone())
    );
    assert!(target.warnings().is_empty());
    let mut c = target.connect("tdekey/test").unwrap();
    assert_eq!(one(&mut c, "SELECT current_user"), "tdekey_test");
    // Readable by others: passed over with a warning, as psql does; then no password.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let target = env.target(&pg.url(&db), None);
    assert_eq!(target.password_from(), &PasswordFrom::Nowhere);
    assert!(target.warnings()[0].contains("group or world access"));
    let e = target.connect("tdekey/test").map(drop).unwrap_err();
    assert!(matches!(e, PgError::AuthFailed { .. }), "{e:?}");
    // A wrong password in the pgpass names the file.
    env.file(".pgpass", "*:*:*:*:not-it-5521\n", 0o600);
    let e = env.connect(&pg.url(&db), None).map(drop).unwrap_err();
    assert!(e.to_string().contains(".pgpass"), "{e}");
    holds_no(&e, "not-it-5521");
}

#[test]
fn a_missing_database_and_a_lost_connection() {
    let pg = Cluster::start();
    let env = Env::new().with("PGPASSWORD", pg.password());
    let e = env
        .connect(&pg.url("no_such_db"), None)
        .map(drop)
        .unwrap_err();
    assert!(matches!(e, PgError::DatabaseMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such_db"), "{e}");
    holds_no(&e, pg.password());
    let db = pg.create_db();
    let target = env.target(&pg.url(&db), None);
    let mut c = target.connect("tdekey/lost").unwrap();
    // With a timeout, pg_terminate_backend returns once the backend has ended (PostgreSQL 14+).
    pg.psql(
        "postgres",
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = 'tdekey/lost'",
    );
    let e = c.simple_query("SELECT 1").unwrap_err();
    let e = tdekey::store::pg::classify(&e, &target.display());
    assert!(matches!(e, PgError::ConnectionLost { .. }), "{e:?}");
    assert!(e.to_string().contains("try again"), "{e}");
}

#[test]
fn the_local_socket_with_trust_needs_no_password() {
    let pg = Cluster::start();
    let db = pg.create_db();
    let socket = pg.dir().join("data");
    let url = format!(
        "postgresql://tdekey_test@{}:{}/{db}?sslmode=require",
        socket.display().to_string().replace('/', "%2F"),
        pg.port()
    );
    let target = Env::new().target(&url, None);
    assert_eq!(target.sslmode(), SslMode::Disable);
    assert!(target.warnings()[0].contains("never encrypted"));
    let mut c = target.connect("tdekey/test").unwrap();
    assert_eq!(one(&mut c, "SELECT current_user"), "tdekey_test");
}

#[test]
fn tls_by_sslmode() {
    let pg = Cluster::start();
    let files = pg.enable_tls();
    let db = pg.create_db();
    let env = Env::new().with("PGPASSWORD", pg.password());
    let ca = files.ca.display().to_string();
    let at = |host: &str, query: &str| {
        format!("postgresql://tdekey_test@{host}:{}/{db}?{query}", pg.port())
    };
    // verify-full against the name in the certificate.
    let mut c = env
        .connect(
            &at(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            None,
        )
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "true");
    // verify-full against 127.0.0.1, which the certificate does not name: refused.
    let e = env
        .connect(
            &at(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            None,
        )
        .map(drop)
        .unwrap_err();
    let PgError::Tls { detail, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        detail.contains("sslmode=verify-full") && detail.contains(&ca),
        "{detail}"
    );
    holds_no(&e, pg.password());
    // verify-ca checks the chain only: 127.0.0.1 is fine.
    let mut c = env
        .connect(
            &at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
            None,
        )
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "true");
    // Another CA: refused, by verify-ca too.
    let other = files.other_ca.display().to_string();
    let e = env
        .connect(
            &at(
                "localhost",
                &format!("sslmode=verify-ca&sslrootcert={other}"),
            ),
            None,
        )
        .map(drop)
        .unwrap_err();
    assert!(matches!(e, PgError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("not accepted"), "{e}");
    // require: encrypted, the certificate (unknown to this client) taken as it is.
    let mut c = env
        .connect(&at("127.0.0.1", "sslmode=require"), None)
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "true");
    // prefer takes TLS when offered; disable never does.
    let mut c = env
        .connect(&at("127.0.0.1", "sslmode=prefer"), None)
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "true");
    let mut c = env
        .connect(&at("127.0.0.1", "sslmode=disable"), None)
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "false");
}

#[test]
fn require_takes_a_self_signed_certificate_and_verify_full_refuses_it() {
    let pg = Cluster::start();
    let files = pg.enable_tls();
    let db = pg.create_db();
    // The server's certificate replaced by a self-signed one.
    let data = pg.dir().join("data");
    let (crt, key) = (data.join("server.crt"), data.join("server.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&data).unwrap());
    for f in [&crt, &key] {
        std::os::unix::fs::chown(f, Some(owner), None).unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A restart, not a reload: the reload is signalled and would need waiting for.
    pg.stop();
    pg.start_again();
    let env = Env::new().with("PGPASSWORD", pg.password());
    let url =
        |host: &str, q: &str| format!("postgresql://tdekey_test@{host}:{}/{db}?{q}", pg.port());
    let ca = files.ca.display().to_string();
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let e = env.connect(&full, None).map(drop).unwrap_err();
    assert!(matches!(e, PgError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("self-signed"), "{e}");
    let mut c = env
        .connect(&url("127.0.0.1", "sslmode=require"), None)
        .unwrap();
    assert_eq!(ssl_in_use(&mut c), "true");
}
