use super::*;
use crate::store::pg::Check;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

/// A home directory of its own and an environment that holds only `vars`.
struct Fixture {
    home: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let home = tempfile::tempdir().unwrap();
        let mut vars = HashMap::new();
        vars.insert("HOME".to_owned(), home.path().display().to_string());
        Fixture { home, vars }
    }

    fn set(mut self, k: &str, v: &str) -> Fixture {
        self.vars.insert(k.to_owned(), v.to_owned());
        self
    }

    fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.home.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn parse(&self, url: &str, file: Option<&Path>) -> Result<PgTarget, PgError> {
        let env = |k: &str| self.vars.get(k).map(OsString::from);
        PgTarget::parse(url, file, &env)
    }

    fn ok(&self, url: &str) -> PgTarget {
        self.parse(url, None).unwrap()
    }

    fn why(&self, url: &str) -> String {
        match self.parse(url, None) {
            Err(PgError::BadUrl { why }) => why,
            other => panic!("{url}: {other:?}"),
        }
    }
}

fn password(t: &PgTarget) -> Option<&str> {
    t.password.as_ref().map(|s| s.expose())
}

#[test]
fn defaults_port_5432_database_named_as_the_user() {
    let f = Fixture::new();
    let t = f.ok("postgresql://tdekey@db1.example.com/store");
    assert_eq!(
        t.display(),
        "postgresql://tdekey@db1.example.com:5432/store"
    );
    assert_eq!((t.user(), t.port(), t.dbname()), ("tdekey", 5432, "store"));
    assert_eq!(t.sslmode(), SslMode::Prefer);
    assert_eq!(t.tls_check(), Check::Nothing);
    let t = f.ok("postgres://dba@h:6432");
    assert_eq!(t.display(), "postgresql://dba@h:6432/dba");
    // PGUSER, else the user this process runs as.
    let t = Fixture::new()
        .set("PGUSER", "from_env")
        .ok("postgresql://h/d");
    assert_eq!(t.user(), "from_env");
    let t = f.ok("postgresql://h/d");
    assert_eq!(Some(t.user().to_owned()), crate::paths::process_user());
    // PGHOST, PGPORT and PGDATABASE are not taken: the URL names the store.
    let g = Fixture::new()
        .set("PGPORT", "7000")
        .set("PGDATABASE", "other");
    assert_eq!(
        g.ok("postgresql://u@h").display(),
        "postgresql://u@h:5432/u"
    );
    let w = Fixture::new().set("PGHOST", "h").why("postgresql://u@/d");
    assert!(w.contains("names no host"), "{w}");
}

#[test]
fn display_reads_back_for_ipv6_sockets_and_odd_names() {
    let f = Fixture::new();
    for url in [
        "postgresql://u@[::1]:5433/d",
        "postgresql://dba%40corp@h:5432/my%20db",
        "postgresql://u@%2Fvar%2Frun%2Fpostgresql:5432/d",
    ] {
        let t = f.ok(url);
        assert_eq!(t.display(), url);
        assert_eq!(f.ok(&t.display()).display(), url);
    }
    let t = f.ok("postgresql:///d?host=/tmp&user=u");
    assert_eq!(t.host(), &PgHost::Socket("/tmp".into()));
}

#[test]
fn passwords_and_unknown_options_are_refused_with_a_sentence() {
    let f = Fixture::new();
    let e = f.parse("postgresql://u:hunter2@h/d", None).unwrap_err();
    assert!(matches!(e, PgError::PasswordInUrl));
    let s = e.to_string();
    assert!(s.contains("~/.pgpass, PGPASSWORD or --store-password-file") && !s.contains("hunter2"));
    let w = f.why("postgresql://u@h/d?sslmod=require");
    assert!(
        w.contains("sslmod is not a connection option") && w.contains("sslmode"),
        "{w}"
    );
    assert!(
        f.why("postgresql://u@h/d?sslcert=/c.pem")
            .contains("does not take the option sslcert")
    );
    assert!(
        f.why("postgresql://u@h/d?sslmode=allow")
            .contains("sslmode=allow")
    );
    assert!(
        f.why("postgresql://u@h/d?keepalives=yes")
            .contains("value of keepalives")
    );
    assert!(
        f.why("postgresql://u@h/d?target_session_attrs=primary")
            .contains("target_session_attrs")
    );
    assert!(
        f.why("postgresql://u@h/d?connect_timeout=0")
            .contains("1 to 3600")
    );
    // What the crate understands passes through.
    let t = f.ok("postgresql://u@h/d?keepalives_idle=5&target_session_attrs=read-write&options=-c%20search_path%3Dtdekey&application_name=team&connect_timeout=2");
    assert_eq!(t.connect_timeout, Duration::from_secs(2));
    assert_eq!(t.application_name.as_deref(), Some("team"));
    let c = t.config("tdekey/x").unwrap();
    assert_eq!(c.get_keepalives_idle(), Duration::from_secs(5));
    assert_eq!(c.get_options(), Some("-c search_path=tdekey"));
    assert_eq!(c.get_application_name(), Some("team"));
    assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(2)));
    // Without them: the caller's name, 5 s, keepalives every 10 s after 30 s.
    let c = f.ok("postgresql://u@h/d").config("tdekey/store").unwrap();
    assert_eq!(c.get_application_name(), Some("tdekey/store"));
    assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
    assert!(c.get_keepalives());
    assert_eq!(c.get_keepalives_idle(), KEEPALIVES_IDLE);
    assert_eq!(c.get_password(), None);
    let t = Fixture::new()
        .set("PGCONNECT_TIMEOUT", "9")
        .ok("postgresql://u@h/d");
    assert_eq!(t.connect_timeout, Duration::from_secs(9));
}

#[test]
fn the_password_order_file_then_pgpassword_then_pgpass() {
    let f = Fixture::new();
    let pgpass = "h:5432:d:u:from-pgpass\n";
    f.file(".pgpass", pgpass, 0o600);
    let own = f.file("own-pgpass", "*:*:*:*:from-pgpassfile\n", 0o600);
    let pwfile = f.file("pw", "from-file\n", 0o600);
    let url = "postgresql://u@h/d";
    // ~/.pgpass alone.
    let t = f.ok(url);
    assert_eq!(password(&t), Some("from-pgpass"));
    assert_eq!(
        t.password_from(),
        &PasswordFrom::PgPass(f.home.path().join(".pgpass"))
    );
    // PGPASSFILE instead of ~/.pgpass; the URL's passfile before PGPASSFILE.
    let g = Fixture {
        home: f.home,
        vars: f.vars.clone(),
    }
    .set("PGPASSFILE", own.to_str().unwrap());
    assert_eq!(password(&g.ok(url)), Some("from-pgpassfile"));
    let t = g.ok(&format!(
        "{url}?passfile={}",
        g.home.path().join(".pgpass").display()
    ));
    assert_eq!(password(&t), Some("from-pgpass"));
    // PGPASSWORD before any pgpass; an empty one is no password.
    let g = g.set("PGPASSWORD", "from-env");
    let t = g.ok(url);
    assert_eq!(
        (password(&t), t.password_from()),
        (Some("from-env"), &PasswordFrom::Env)
    );
    // --store-password-file before everything.
    let t = g.parse(url, Some(&pwfile)).unwrap();
    assert_eq!(password(&t), Some("from-file"));
    assert_eq!(t.password_from(), &PasswordFrom::File(pwfile.clone()));
    // A password file that fails stops: no falling through to PGPASSWORD.
    std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        g.parse(url, Some(&pwfile)),
        Err(PgError::PasswordFile { .. })
    ));
    let g = g.set("PGPASSWORD", "");
    assert_eq!(password(&g.ok(url)), Some("from-pgpassfile"));
    // No password at all is fine.
    let t = Fixture::new().ok(url);
    assert_eq!(
        (password(&t), t.password_from()),
        (None, &PasswordFrom::Nowhere)
    );
    let long = "x".repeat(MAX_SECRET_BYTES + 1);
    let e = Fixture::new()
        .set("PGPASSWORD", &long)
        .parse(url, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("257 bytes") && !e.contains("xxx"), "{e}");
}

#[test]
fn pgpass_lines_match_host_port_database_and_user() {
    let f = Fixture::new();
    f.file(
        ".pgpass",
        "db1:6432:store:tdekey:one\n*:5432:store:tdekey:two\nlocalhost:5432:*:*:socket\n",
        0o600,
    );
    assert_eq!(
        password(&f.ok("postgresql://tdekey@db1:6432/store")),
        Some("one")
    );
    assert_eq!(
        password(&f.ok("postgresql://tdekey@db1/store")),
        Some("two")
    );
    assert_eq!(password(&f.ok("postgresql://tdekey@db1:7000/store")), None);
    // The default socket directory is `localhost` to a pgpass file, as libpq has it.
    let t = f.ok("postgresql://x@%2Fvar%2Frun%2Fpostgresql/any");
    assert_eq!(password(&t), Some("socket"));
}

#[test]
fn a_pgpass_others_can_read_is_a_warning_not_a_password() {
    let f = Fixture::new();
    f.file(".pgpass", "*:*:*:*:exposed\n", 0o644);
    let t = f.ok("postgresql://u@h/d");
    assert_eq!(password(&t), None);
    assert_eq!(t.warnings().len(), 1);
    assert!(
        t.warnings()[0].contains("group or world access"),
        "{:?}",
        t.warnings()
    );
    assert!(!t.warnings()[0].contains("exposed"));
}

#[test]
fn sslmode_from_the_url_then_pgsslmode_and_roots_from_home() {
    let f = Fixture::new().set("PGSSLMODE", "require");
    assert_eq!(f.ok("postgresql://u@h/d").sslmode(), SslMode::Require);
    assert_eq!(
        f.ok("postgresql://u@h/d?sslmode=disable").sslmode(),
        SslMode::Disable
    );
    assert_eq!(
        f.ok("postgresql://u@h/d?ssl=true").sslmode(),
        SslMode::Require
    );
    let w = Fixture::new()
        .set("PGSSLMODE", "allow")
        .why("postgresql://u@h/d");
    assert!(w.starts_with("PGSSLMODE: sslmode=allow"), "{w}");
    // verify-full needs a CA: none yet, then ~/.postgresql/root.crt, then PGSSLROOTCERT.
    let f = Fixture::new();
    assert!(
        f.why("postgresql://u@h/d?sslmode=verify-full")
            .contains("needs the CA certificate")
    );
    f.file(".postgresql/root.crt", "pem", 0o644);
    let t = f.ok("postgresql://u@h/d?sslmode=verify-full");
    assert_eq!(t.tls_check(), Check::ChainAndHost);
    assert_eq!(
        t.tls.roots,
        Some(RootCert::File(f.home.path().join(".postgresql/root.crt")))
    );
    // As libpq: with a root file, require checks the chain.
    assert_eq!(
        f.ok("postgresql://u@h/d?sslmode=require").tls_check(),
        Check::Chain
    );
    let ca = f.file("ca.pem", "pem", 0o644);
    let g = Fixture::new().set("PGSSLROOTCERT", ca.to_str().unwrap());
    let t = g.ok("postgresql://u@h/d?sslmode=verify-ca");
    assert_eq!(
        (t.sslmode(), t.tls_check()),
        (SslMode::VerifyCa, Check::Chain)
    );
    assert_eq!(t.tls.roots, Some(RootCert::File(ca)));
    let t = Fixture::new().ok("postgresql://u@h/d?sslmode=verify-full&sslrootcert=system");
    assert_eq!(t.tls.roots, Some(RootCert::System));
    // A local socket is never encrypted; a mode that asks for TLS there is a warning.
    let t = Fixture::new().ok("postgresql://u@%2Ftmp/d?sslmode=verify-full");
    assert_eq!(t.sslmode(), SslMode::Disable);
    assert!(t.warnings()[0].contains("never encrypted"));
}

#[test]
fn debug_and_display_never_show_the_password() {
    let f = Fixture::new().set("PGPASSWORD", "hunter2-secret");
    let t = f.ok("postgresql://u@h/d");
    assert_eq!(password(&t), Some("hunter2-secret"));
    let shown = format!("{t:?} {} {}", t.display(), t.password_from());
    assert!(!shown.contains("hunter2"), "{shown}");
    let c = t.config("tdekey").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.get_password(), Some("hunter2-secret".as_bytes()));
}
