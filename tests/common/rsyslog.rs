//! A real rsyslogd (Debian's `rsyslog`, `rsyslog-gnutls` for TLS) started by a test on a free
//! loopback port with its own configuration and work directory, writing what it parsed of each
//! tdekey message (MSGID, APP-NAME, HOSTNAME, PRI, structured data, MSG) to a file, one line
//! per message; and a test CA made with the `openssl` command line.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for a condition (rsyslog listening, entries written) before failing.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn rsyslogd() -> PathBuf {
    for p in ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("rsyslogd is not installed: make test installs rsyslog and rsyslog-gnutls");
}

/// A loopback port nobody listens on at the time of the call.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Calls `f` until it returns Some, failing with `what` after [`DEADLINE`].
pub fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The TLS files of a listener: a CA, the server's certificate (for 127.0.0.1) and key, and a
/// client certificate and PKCS#8 key signed by the same CA.
pub struct Pki {
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA named `name` in `dir`.
pub fn ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    (dir.join(cert), dir.join(key))
}

fn signed(dir: &Path, name: &str, ca: &str, ca_key: &str, ext: &str) -> (PathBuf, PathBuf) {
    let (cert, key, csr, extf) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&extf), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &extf,
        ],
    );
    (dir.join(cert), dir.join(key))
}

impl Pki {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let (ca, ca_key) = ca(dir, "test-ca");
        let (server_cert, server_key) = signed(
            dir,
            "server",
            "test-ca.pem",
            "test-ca.key",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        let (client_cert, client_key) = signed(
            dir,
            "client",
            "test-ca.pem",
            "test-ca.key",
            "extendedKeyUsage=clientAuth\n",
        );
        Pki {
            ca,
            ca_key,
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }
}

/// A running rsyslogd; stopped (SIGTERM, then waited for) when dropped.
pub struct Rsyslog {
    pub dir: PathBuf,
    pub port: u16,
    pub out: PathBuf,
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
    child: Option<Child>,
}

/// One message as rsyslog parsed it.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub msgid: String,
    pub app_name: String,
    pub hostname: String,
    pub pri: String,
    pub sd: String,
    pub msg: String,
}

impl Parsed {
    /// The value of a structured-data parameter, unescaped.
    pub fn param(&self, name: &str) -> Option<String> {
        let start = self.sd.find(&format!(" {name}=\""))? + name.len() + 3;
        let mut out = String::new();
        let mut chars = self.sd[start..].chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    }

    pub fn seq(&self) -> i64 {
        self.param("seq").and_then(|s| s.parse().ok()).unwrap_or(-1)
    }
}

impl Rsyslog {
    /// rsyslogd on a free loopback port, plain TCP, writing to `dir/out.log` (or /dev/null).
    pub fn tcp(dir: &Path, to_null: bool) -> Self {
        Self::start(dir, free_port(), None, to_null)
    }

    /// rsyslogd with TLS (gtls): the server certificate of `pki`, clients must present a
    /// certificate signed by its CA.
    pub fn tls(dir: &Path, pki: &Pki) -> Self {
        let tls = (
            pki.ca.clone(),
            pki.server_cert.clone(),
            pki.server_key.clone(),
        );
        Self::start(dir, free_port(), Some(tls), false)
    }

    fn start(
        dir: &Path,
        port: u16,
        tls: Option<(PathBuf, PathBuf, PathBuf)>,
        to_null: bool,
    ) -> Self {
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let out = if to_null {
            PathBuf::from("/dev/null")
        } else {
            dir.join("out.log")
        };
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            port,
            out,
            tls,
            child: None,
        };
        r.restart();
        r
    }

    fn config(&self) -> String {
        let d = self.dir.display();
        let (global_tls, module) = match &self.tls {
            None => (String::new(), r#"module(load="imtcp")"#.to_owned()),
            Some((ca, cert, key)) => (
                format!(
                    r#"global(defaultNetstreamDriverCAFile="{}" defaultNetstreamDriverCertFile="{}" defaultNetstreamDriverKeyFile="{}")"#,
                    ca.display(),
                    cert.display(),
                    key.display()
                ),
                r#"module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")"#
                    .to_owned(),
            ),
        };
        format!(
            r#"global(workDirectory="{d}/work")
{global_tls}
{module}
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="parsed" type="list") {{
  property(name="msgid") constant(value="\t")
  property(name="app-name") constant(value="\t")
  property(name="hostname") constant(value="\t")
  property(name="pri") constant(value="\t")
  property(name="structured-data") constant(value="\t")
  property(name="msg") constant(value="\n")
}}
if $app-name == "tdekey" then {{
  action(type="omfile" file="{out}" template="parsed")
}}
"#,
            port = self.port,
            out = self.out.display()
        )
    }

    /// Starts (again) on the same port and output file; returns once it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "rsyslogd is running already");
        let conf = self.dir.join("rsyslog.conf");
        std::fs::write(&conf, self.config()).unwrap();
        let pid = self.dir.join("rsyslogd.pid");
        let _ = std::fs::remove_file(&pid);
        let child = Command::new(rsyslogd())
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(&pid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("rsyslogd.stderr")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        until("rsyslogd to listen", || {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "rsyslogd exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("rsyslogd.stderr")).unwrap_or_default()
                );
            }
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }

    /// Stops rsyslogd (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: a child this test started and has not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            c.wait().unwrap();
        }
    }

    /// What rsyslog wrote so far, one parsed message per line.
    pub fn received(&self) -> Vec<Parsed> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(6, '\t').collect();
                (f.len() == 6).then(|| Parsed {
                    msgid: f[0].to_owned(),
                    app_name: f[1].to_owned(),
                    hostname: f[2].to_owned(),
                    pri: f[3].to_owned(),
                    sd: f[4].to_owned(),
                    msg: f[5].to_owned(),
                })
            })
            .collect()
    }

    /// Waits until rsyslog has written a message with every seq in `1..=last`.
    pub fn wait_for_seqs(&self, last: i64) -> Vec<Parsed> {
        until(&format!("rsyslog to write every seq up to {last}"), || {
            let got = self.received();
            let mut seen = std::collections::HashSet::new();
            for p in &got {
                seen.insert(p.seq());
            }
            (1..=last).all(|s| seen.contains(&s)).then_some(got)
        })
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}
