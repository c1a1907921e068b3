//! A throwaway PostgreSQL cluster per test process (issue #21, docs/plans/21-postgresql-store.md
//! section 5), on the Debian `postgresql` package's binaries.
//!
//! - The binaries come from the newest `/usr/lib/postgresql/*/bin`, or `TDEKEY_TEST_PG_BIN`.
//! - initdb, pg_ctl and postgres refuse to run as root: as root they run as `nobody` (65534),
//!   with a cleared environment (`HOME`, `LC_ALL=C.UTF-8`, `PATH` only).
//! - A template data directory is made once per run (under `CARGO_TARGET_TMPDIR`, guarded by a
//!   file lock) and copied per process: nextest runs every test in its own process, so each one
//!   pays a copy and a start, not an initdb.
//! - Each cluster lives in `/tmp/tdekey-pg-*` (0700, owned by the server's user), listens on
//!   127.0.0.1 at a free port and on a socket in its data directory, and holds `owner.pid`; a
//!   later `Cluster::start` removes the clusters of processes that died (a test killed by a
//!   timeout never runs its `Drop`).
//! - The superuser is `tdekey_test`: password (SCRAM) over TCP, trust over the socket.
//!
//! Keep the `Cluster` in a local of the test: dropping it stops the server and removes the
//! directory, also when the test panics. A `static` is never dropped.
//!
//! This file names neither tdekey nor the `postgres` crate, so benches can include it with
//! `#[path]`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser the clusters are made with.
pub const SUPERUSER: &str = "tdekey_test";
/// Its password (SCRAM over TCP). A test value, never a real one.
const PASSWORD: &str = "tdekey-test-pw-7c1e";
/// nobody:nogroup on Debian: who runs the server when the tests run as root.
const NOBODY: u32 = 65534;
/// Where the clusters live; `Cluster::start` sweeps the orphans among them.
const PREFIX: &str = "tdekey-pg-";
/// Bumped when the template's making changes, so that an old template is not reused.
const TEMPLATE_REV: u32 = 2;

pub struct Cluster {
    /// `/tmp/tdekey-pg-XXXXXX`: owner.pid, the server log, the password file, TLS files.
    dir: PathBuf,
    /// `dir/data`, also the socket directory.
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    next_db: AtomicU32,
    /// fsync, synchronous_commit and full_page_writes left on (see [`Cluster::start_durable`]).
    durable: bool,
}

/// What [`Cluster::enable_tls`] made.
pub struct TlsFiles {
    /// The test CA's certificate (PEM), which signed the server's certificate.
    pub ca: PathBuf,
    /// Another CA's certificate (PEM), which signed nothing the server shows.
    pub other_ca: PathBuf,
}

impl Cluster {
    /// A new cluster, started, with fsync, synchronous_commit and full_page_writes off (the
    /// tests' speed; a crash of the machine could lose what it holds). Panics with a sentence
    /// when PostgreSQL is not installed.
    pub fn start() -> Cluster {
        Self::start_with(false)
    }

    /// A new cluster, started, with PostgreSQL's durable defaults (fsync, synchronous_commit
    /// and full_page_writes on): what the benchmarks measure, as a team's server would run.
    pub fn start_durable() -> Cluster {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Cluster {
        let bin = pg_bin();
        sweep_orphans(&bin);
        let template = template(&bin);
        let dir = private_dir();
        let data = dir.join("data");
        copy_tree(&template, &data).unwrap_or_else(|e| {
            panic!("copying {} to {}: {e}", template.display(), data.display())
        });
        set_mode(&data, 0o700);
        chown_tree(&data);
        let mut c = Cluster {
            dir,
            data,
            bin,
            port: 0,
            next_db: AtomicU32::new(1),
            durable,
        };
        let mut last = String::new();
        for _ in 0..5 {
            c.port = free_port();
            match c.try_start() {
                Ok(()) => return c,
                Err(log) if log.contains("could not bind") || log.contains("in use") => last = log,
                Err(log) => panic!("PostgreSQL did not start on port {}:\n{log}", c.port),
            }
        }
        panic!("PostgreSQL found no free port in 5 tries:\n{last}")
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgresql://tdekey_test@127.0.0.1:PORT/db`, without the password (see [`Self::password`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The superuser's password: hand it to tdekey through a 0600 file or `PGPASSWORD`.
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// A file holding [`Self::password`] and a newline (as `echo` writes it), mode 0600, in the
    /// cluster's directory: for `--store-password-file`.
    pub fn password_file(&self) -> PathBuf {
        let f = self.dir.join("store-password");
        std::fs::write(&f, format!("{PASSWORD}\n")).expect("password file");
        set_mode(&f, 0o600);
        f
    }

    /// The cluster's own directory (`/tmp/tdekey-pg-…`): a place for a test's extra files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty database, named `tdekey_N` (N counts up per cluster).
    pub fn create_db(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("tdekey_{n}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Runs `sql` in `db` with psql as the superuser over the socket; its output unaligned and
    /// without headers (`-At`). Panics when psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql)
            .unwrap_or_else(|e| panic!("psql refused {sql:?} in {db}: {e}"))
    }

    /// [`Self::psql`], returning psql's error output when it fails (`ON_ERROR_STOP`).
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.exists())
            .expect("psql is installed with postgresql (make test installs it)");
        let mut cmd = Command::new(psql);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.data)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                db,
                "-c",
                sql,
            ]);
        clean_env(&mut cmd, &self.dir);
        let out = cmd.output().expect("psql runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim_end().to_owned())
        }
    }

    /// Stops the server (fast shutdown: open sessions are ended). The directory stays.
    pub fn stop(&self) {
        let out = self.pg_ctl(&["stop", "-w", "-m", "fast"]);
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again on the same port, after [`Self::stop`].
    pub fn start_again(&self) {
        if let Err(log) = self.try_start() {
            panic!(
                "PostgreSQL did not start again on port {}:\n{log}",
                self.port
            )
        }
    }

    /// Turns TLS on: a test CA, a server certificate it signed for `DNS:localhost` only (not
    /// for 127.0.0.1), the key 0600 and owned by the server's user; then a restart. Connections
    /// over TCP may then use TLS (they are not required to).
    pub fn enable_tls(&self) -> TlsFiles {
        let tls = self.dir.join("tls");
        std::fs::create_dir_all(&tls).expect("tls dir");
        let cnf = tls.join("openssl.cnf");
        std::fs::write(
            &cnf,
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n\
             [ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
             subjectKeyIdentifier = hash\n\
             [server]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost\n\
             subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        )
        .expect("openssl.cnf");
        let ca = tls.join("ca.crt");
        let other_ca = tls.join("other-ca.crt");
        for (cert, name) in [(&ca, "tdekey test CA"), (&other_ca, "tdekey other CA")] {
            let key = cert.with_extension("key");
            openssl(&[
                OsStr::new("req"),
                "-x509".as_ref(),
                "-newkey".as_ref(),
                "ec".as_ref(),
                "-pkeyopt".as_ref(),
                "ec_paramgen_curve:prime256v1".as_ref(),
                "-nodes".as_ref(),
                "-days".as_ref(),
                "3".as_ref(),
                "-config".as_ref(),
                cnf.as_os_str(),
                "-extensions".as_ref(),
                "ca".as_ref(),
                "-subj".as_ref(),
                format!("/CN={name}").as_ref(),
                "-keyout".as_ref(),
                key.as_os_str(),
                "-out".as_ref(),
                cert.as_os_str(),
            ]);
        }
        let key = self.data.join("server.key");
        let csr = tls.join("server.csr");
        let crt = self.data.join("server.crt");
        openssl(&[
            OsStr::new("req"),
            "-new".as_ref(),
            "-newkey".as_ref(),
            "ec".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:prime256v1".as_ref(),
            "-nodes".as_ref(),
            "-config".as_ref(),
            cnf.as_os_str(),
            "-subj".as_ref(),
            "/CN=tdekey test server".as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            csr.as_os_str(),
        ]);
        openssl(&[
            OsStr::new("x509"),
            "-req".as_ref(),
            "-in".as_ref(),
            csr.as_os_str(),
            "-CA".as_ref(),
            ca.as_os_str(),
            "-CAkey".as_ref(),
            ca.with_extension("key").as_os_str(),
            "-CAcreateserial".as_ref(),
            "-days".as_ref(),
            "3".as_ref(),
            "-extfile".as_ref(),
            cnf.as_os_str(),
            "-extensions".as_ref(),
            "server".as_ref(),
            "-out".as_ref(),
            crt.as_os_str(),
        ]);
        for f in [&key, &crt] {
            set_mode(f, 0o600);
            chown(f);
        }
        // One statement per psql: `-c` runs its statements in one transaction, which ALTER
        // SYSTEM refuses.
        for set in [
            "ssl_cert_file = 'server.crt'",
            "ssl_key_file = 'server.key'",
            "ssl = on",
        ] {
            self.psql("postgres", &format!("ALTER SYSTEM SET {set}"));
        }
        self.stop();
        self.start_again();
        let on = self.psql("postgres", "SHOW ssl");
        assert_eq!(on, "on", "ssl is not on after the restart");
        TlsFiles { ca, other_ca }
    }

    fn try_start(&self) -> Result<(), String> {
        let log = self.dir.join("server.log");
        let _ = std::fs::remove_file(&log);
        let fast = if self.durable {
            ""
        } else {
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=60{fast}",
            self.port,
            self.data.display()
        );
        let out = self.pg_ctl(&[
            "start".as_ref(),
            "-w".as_ref(),
            "-t".as_ref(),
            "60".as_ref(),
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            opts.as_ref(),
        ]);
        if out.status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Err(format!(
            "{}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn pg_ctl<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let mut cmd = server_cmd(&self.bin, "pg_ctl", &self.dir);
        cmd.arg("-D").arg(&self.data).args(args);
        cmd.stdin(Stdio::null()).output().expect("pg_ctl runs")
    }
}

impl Drop for Cluster {
    /// Stops the server at once and removes the directory; errors are ignored (a Drop that
    /// panics while a test unwinds aborts the process).
    fn drop(&mut self) {
        stop_and_remove(&self.bin, &self.dir);
    }
}

fn stop_and_remove(bin: &Path, dir: &Path) {
    let data = dir.join("data");
    if data.join("postmaster.pid").exists() {
        let mut cmd = server_cmd(bin, "pg_ctl", dir);
        cmd.arg("-D")
            .arg(&data)
            .args(["stop", "-w", "-m", "immediate"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The newest `/usr/lib/postgresql/*/bin`, or `TDEKEY_TEST_PG_BIN`.
fn pg_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("TDEKEY_TEST_PG_BIN") {
        let b = PathBuf::from(b);
        assert!(
            b.join("initdb").exists(),
            "TDEKEY_TEST_PG_BIN={} has no initdb: point it at PostgreSQL's bin directory",
            b.display()
        );
        return b;
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server in /usr/lib/postgresql/*/bin: make test installs postgresql \
             (or set TDEKEY_TEST_PG_BIN)"
        ),
    }
}

fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command with a cleared environment; `HOME` is `home`.
fn clean_env(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("HOME", home)
        .env("LC_ALL", "C.UTF-8")
        .env("PATH", "/usr/bin:/bin");
}

/// One of the server's programs, as nobody when root.
fn server_cmd(bin: &Path, program: &str, home: &Path) -> Command {
    let mut cmd = Command::new(bin.join(program));
    clean_env(&mut cmd, home);
    if as_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd
}

/// `/tmp/tdekey-pg-XXXXXX`, 0700, owned by the server's user, with `owner.pid`.
fn private_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in("/tmp")
        .expect("a temp dir in /tmp")
        .keep();
    std::fs::write(dir.join("owner.pid"), std::process::id().to_string()).expect("owner.pid");
    set_mode(&dir, 0o700);
    chown(&dir);
    dir
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn chown(p: &Path) {
    if as_root() {
        std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY))
            .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
    }
}

fn chown_tree(p: &Path) {
    chown(p);
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).expect("readable").flatten() {
            chown_tree(&e.path());
        }
    }
}

/// Copies a directory tree (files keep their modes; symlinks are copied as links).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let kind = e.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
            std::fs::set_permissions(&dst, std::fs::metadata(&src)?.permissions())?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The template data directory for these binaries, made by the first process of the run that
/// needs it; the others wait on the lock, then find it ready.
fn template(bin: &Path) -> PathBuf {
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "custom".into());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("CARGO_TARGET_TMPDIR");
    let template = base.join(format!("pg-template-{version}-r{TEMPLATE_REV}"));
    // Next to the template, not in it: the copies are data directories and nothing else.
    let ready = base.join(format!("pg-template-{version}-r{TEMPLATE_REV}.ready"));
    if ready.exists() {
        return template;
    }
    let lock = std::fs::File::create(base.join(format!("pg-template-{version}.lock")))
        .expect("the template's lock file");
    lock.lock().expect("lock the template");
    if ready.exists() {
        return template;
    }
    // initdb runs as the server's user, so it writes into a directory of its own in /tmp; the
    // result is copied here, then marked ready.
    let work = private_dir();
    let pwfile = work.join("pwfile");
    std::fs::write(&pwfile, PASSWORD).expect("pwfile");
    set_mode(&pwfile, 0o600);
    chown(&pwfile);
    let data = work.join("data");
    let out = server_cmd(bin, "initdb", &work)
        .arg("-D")
        .arg(&data)
        .args([
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--username",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .stdin(Stdio::null())
        .output()
        .expect("initdb runs");
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&work);
        panic!(
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&template);
    copy_tree(&data, &template).expect("copy the template");
    std::fs::write(&ready, "").expect("mark the template ready");
    let _ = std::fs::remove_dir_all(&work);
    template
}

/// Stops and removes the clusters in /tmp whose owning process is gone.
fn sweep_orphans(bin: &Path) {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = e.path();
        // No owner.pid yet: its process is making it right now.
        let Some(pid) = std::fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            stop_and_remove(bin, &dir);
        }
    }
}

fn openssl(args: &[&OsStr]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed (make test installs it)");
    assert!(
        out.status.success(),
        "openssl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}
