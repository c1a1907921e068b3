//! The PostgreSQL test harness itself (tests/common/pg.rs): a cluster starts from the
//! template, takes password logins over TCP, stops and starts again on its port, serves TLS
//! with a localhost-only certificate, and leaves nothing behind, even when its process dies.

mod common;

use common::pg::Cluster;
use postgres::{Client, Config, NoTls};
use std::str::FromStr;

fn config(c: &Cluster, db: &str) -> Config {
    let mut cfg = Config::from_str(&c.url(db)).expect("the harness's URL parses");
    cfg.password(c.password());
    cfg
}

fn connect(c: &Cluster, db: &str) -> Result<Client, postgres::Error> {
    config(c, db).connect(NoTls)
}

#[test]
fn a_cluster_serves_password_logins_restarts_and_is_removed_when_dropped() {
    let c = Cluster::start();
    let dir = c.dir().to_path_buf();
    assert!(dir.join("owner.pid").exists());
    let db = c.create_db();
    assert_ne!(db, c.create_db(), "each scenario gets a fresh database");

    let mut client = connect(&c, &db).expect("password login over TCP");
    let row = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("tdekey_test".to_owned(), db.clone())
    );
    // TCP needs the password (SCRAM): the URL alone does not log in.
    let mut no_pw = Config::from_str(&c.url(&db)).unwrap();
    let e = no_pw.connect(NoTls).err().expect("no password, no login");
    assert!(format!("{e:?}").contains("password"), "{e:?}");
    no_pw.password("wrong-password");
    let e = no_pw
        .connect(NoTls)
        .err()
        .expect("a wrong password, no login");
    assert_eq!(e.code().map(|c| c.code()), Some("28P01"), "{e}");

    // psql, over the socket as the superuser.
    c.psql(
        &db,
        "CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (41), (1)",
    );
    assert_eq!(c.psql(&db, "SELECT sum(x) FROM t"), "42");
    let e = c.try_psql(&db, "SELECT * FROM missing").unwrap_err();
    assert!(e.contains("missing"), "{e}");

    c.stop();
    assert!(client.is_closed() || client.simple_query("SELECT 1").is_err());
    assert!(connect(&c, &db).is_err(), "stopped");
    c.start_again();
    let mut again = connect(&c, &db).expect("the same port after a restart");
    let n: i64 = again
        .query_one("SELECT sum(x)::bigint FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 42, "the data survived the restart");

    drop(again);
    drop(c);
    assert!(!dir.exists(), "Drop removes {}", dir.display());
}

#[test]
fn two_clusters_in_one_process_are_independent() {
    let a = Cluster::start();
    let b = Cluster::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    let (da, db) = (a.create_db(), b.create_db());
    a.psql(&da, "CREATE TABLE only_in_a (x BIGINT)");
    let mut cb = connect(&b, &db).unwrap();
    let n: i64 = cb
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    drop(a);
    cb.simple_query("SELECT 1")
        .expect("b serves after a is gone");
}

#[test]
fn the_cluster_of_a_dead_process_is_swept_by_the_next_start() {
    let orphan = Cluster::start();
    let (dir, port) = (orphan.dir().to_path_buf(), orphan.port());
    // A process that has exited: its pid is free (pids are not reused this quickly).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(dir.join("owner.pid"), dead.to_string()).unwrap();
    // As if this process had been killed: no Drop.
    std::mem::forget(orphan);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let c = Cluster::start();
    assert!(!dir.exists(), "the orphan {} was removed", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the orphan's server was stopped"
    );
    // A live owner's cluster is left alone.
    assert!(c.dir().exists());
    let other = Cluster::start();
    assert!(c.dir().exists() && other.dir().exists());
}

#[test]
fn tls_is_served_with_a_certificate_for_localhost_only() {
    let c = Cluster::start();
    let db = c.create_db();
    let tls = c.enable_tls();
    let connector = |ca: &std::path::Path| {
        let pem = std::fs::read(ca).unwrap();
        let tls = native_tls::TlsConnector::builder()
            .disable_built_in_roots(true)
            .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        postgres_native_tls::MakeTlsConnector::new(tls)
    };
    // A Config of its own: `Config::host` adds a host to those of the URL.
    let with_host = |host: &str| {
        let mut cfg = Config::new();
        cfg.host(host)
            .port(c.port())
            .user("tdekey_test")
            .password(c.password())
            .dbname(&db)
            .ssl_mode(postgres::config::SslMode::Require);
        cfg
    };

    let mut client = with_host("localhost")
        .connect(connector(&tls.ca))
        .expect("verified against the test CA, for localhost");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl, "the session is encrypted");

    let e = with_host("127.0.0.1")
        .connect(connector(&tls.ca))
        .err()
        .expect("the certificate names localhost only, not 127.0.0.1");
    assert!(format!("{e:?}").contains("certificate"), "{e:?}");
    let e = with_host("localhost")
        .connect(connector(&tls.other_ca))
        .err()
        .expect("another CA did not sign it");
    assert!(format!("{e:?}").contains("certificate"), "{e:?}");

    // The key is the server user's alone.
    use std::os::unix::fs::MetadataExt;
    let key = std::fs::metadata(c.dir().join("data/server.key")).unwrap();
    assert_eq!(key.mode() & 0o777, 0o600);
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(key.uid(), 65534);
    }
    // Plain TCP still works: TLS is offered, not required.
    connect(&c, &db).expect("without TLS");
}

#[test]
fn a_test_that_panics_leaves_no_cluster_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let c = Cluster::start();
        tx.send((c.dir().to_path_buf(), c.port())).unwrap();
        panic!("the test failed");
    })
    .join();
    assert!(panicked.is_err());
    let (dir, port) = rx.recv().unwrap();
    assert!(
        !dir.exists(),
        "{} was removed while unwinding",
        dir.display()
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_password_file_is_private_and_holds_the_password() {
    use std::os::unix::fs::MetadataExt;
    let c = Cluster::start();
    let f = c.password_file();
    assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&f).unwrap();
    assert_eq!(text.trim_end(), c.password());
    let db = c.create_db();
    let mut cfg = Config::from_str(&c.url(&db)).unwrap();
    cfg.password(text.trim_end());
    cfg.connect(NoTls).expect("the file's password logs in");
}

#[test]
fn a_durable_cluster_keeps_fsync_and_synchronous_commit_on_across_restarts() {
    let fast = Cluster::start();
    let durable = Cluster::start_durable();
    let settings = |c: &Cluster| {
        c.psql(
            "postgres",
            "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings \
             WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')",
        )
    };
    assert_eq!(
        settings(&fast),
        "fsync=off full_page_writes=off synchronous_commit=off"
    );
    let on = "fsync=on full_page_writes=on synchronous_commit=on";
    assert_eq!(settings(&durable), on);
    durable.stop();
    durable.start_again();
    assert_eq!(settings(&durable), on, "the restart keeps them on");
}
