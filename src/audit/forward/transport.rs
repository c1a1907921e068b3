//! Where entries go: syslog over TCP (octet counting, RFC 6587), syslog over TLS (RFC 5425,
//! through the system's TLS library via `native-tls`), and journald's native protocol on its
//! datagram socket. "Acknowledged" means written and flushed; before a batch and after its
//! flush the connection is checked for a close by the peer (a syslog receiver never sends
//! application data), so entries written into a connection the SIEM had already dropped are
//! not counted as delivered.

use super::ForwardError;
use super::syslog::Formatter;
use crate::secret::Secret;
use crate::store::AuditRowRef;
use std::io::{BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The journald socket of the native protocol.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
const DEFAULT_TCP_PORT: u16 = 601;
const DEFAULT_TLS_PORT: u16 = 6514;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A SIEM that stops reading fails the batch instead of hanging the forwarder.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A destination, parsed from its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Tcp { host: String, port: u16 },
    Tls { host: String, port: u16 },
    Journald,
}

impl Destination {
    /// Reads `syslog+tcp://HOST[:PORT]` (port 601 by default), `syslog+tls://HOST[:PORT]`
    /// (6514) or `journald`.
    pub fn parse(url: &str) -> Result<Self, ForwardError> {
        let bad = || ForwardError::BadUrl(url.to_owned());
        let url = url.trim();
        if url.eq_ignore_ascii_case("journald") || url.eq_ignore_ascii_case("journald://") {
            return Ok(Destination::Journald);
        }
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (format!("[{h}]"), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        let valid_host = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
        if !valid_host {
            return Err(bad());
        }
        let host = host.to_ascii_lowercase();
        let port = |default: u16| -> Result<u16, ForwardError> {
            match port {
                None => Ok(default),
                Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad),
            }
        };
        match scheme.to_ascii_lowercase().as_str() {
            "syslog+tcp" => Ok(Destination::Tcp {
                host,
                port: port(DEFAULT_TCP_PORT)?,
            }),
            "syslog+tls" => Ok(Destination::Tls {
                host,
                port: port(DEFAULT_TLS_PORT)?,
            }),
            _ => Err(bad()),
        }
    }

    /// The normalised name, the key of its position in the store.
    pub fn key(&self) -> String {
        match self {
            Destination::Tcp { host, port } => format!("syslog+tcp://{host}:{port}"),
            Destination::Tls { host, port } => format!("syslog+tls://{host}:{port}"),
            Destination::Journald => "journald".to_owned(),
        }
    }
}

/// What a TLS connection trusts and presents.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// A PEM file of the CA certificate(s) that signed the SIEM's certificate; when given, only
    /// these are trusted (not the system's roots).
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM) for SIEMs that authenticate their senders, with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PKCS#8 PEM.
    pub key: Option<PathBuf>,
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, ForwardError> {
    std::fs::read(path).map_err(|e| ForwardError::ReadFile {
        what: what.to_owned(),
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// A connection to a destination.
pub(super) enum Link {
    Tcp(BufWriter<TcpStream>),
    Tls(Box<BufWriter<native_tls::TlsStream<TcpStream>>>),
    Journal(Journal),
}

fn tcp(dest: &Destination, host: &str, port: u16) -> Result<TcpStream, ForwardError> {
    let connect_err = |detail: String| ForwardError::Connect {
        destination: dest.key(),
        detail,
    };
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = (name, port)
        .to_socket_addrs()
        .map_err(|e| connect_err(format!("cannot resolve {name}: {e}")))?;
    let mut last = format!("{name} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                s.set_write_timeout(Some(WRITE_TIMEOUT))
                    .and_then(|()| s.set_nodelay(false))
                    .map_err(|e| connect_err(e.to_string()))?;
                return Ok(s);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(connect_err(last))
}

impl Link {
    /// Connects (and for TLS, completes the handshake).
    pub(super) fn open(dest: &Destination, tls: &TlsOptions) -> Result<Self, ForwardError> {
        match dest {
            Destination::Tcp { host, port } => Ok(Link::Tcp(BufWriter::with_capacity(
                1 << 16,
                tcp(dest, host, *port)?,
            ))),
            Destination::Tls { host, port } => {
                let connector = connector(tls)?;
                let stream = tcp(dest, host, *port)?;
                let name = host.trim_start_matches('[').trim_end_matches(']');
                let tls = connector
                    .connect(name, stream)
                    .map_err(|e| ForwardError::Tls {
                        destination: dest.key(),
                        detail: match e {
                            native_tls::HandshakeError::Failure(e) => e.to_string(),
                            native_tls::HandshakeError::WouldBlock(_) => {
                                "the handshake did not finish".to_owned()
                            }
                        },
                    })?;
                Ok(Link::Tls(Box::new(BufWriter::with_capacity(1 << 16, tls))))
            }
            Destination::Journald => Journal::open().map(Link::Journal),
        }
    }

    /// Sends one entry (buffered: acknowledged only by [`Link::flush`]).
    pub(super) fn send(&mut self, f: &mut Formatter, r: &AuditRowRef<'_>) -> std::io::Result<()> {
        match self {
            Link::Tcp(w) => f.frame(r, w),
            Link::Tls(w) => f.frame(r, w.as_mut()),
            Link::Journal(j) => j.send(f, r),
        }
    }

    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Link::Tcp(w) => w.flush(),
            Link::Tls(w) => w.flush(),
            Link::Journal(_) => Ok(()),
        }
    }

    /// False when the peer closed the connection (or reset it).
    pub(super) fn alive(&mut self) -> bool {
        match self {
            Link::Tcp(w) => {
                let s = w.get_ref();
                let mut b = [0u8; 1];
                if s.set_nonblocking(true).is_err() {
                    return false;
                }
                let r = s.peek(&mut b);
                let back = s.set_nonblocking(false).is_ok();
                back && still_open(r)
            }
            Link::Tls(w) => {
                let tls = w.get_mut();
                if tls.get_mut().set_nonblocking(true).is_err() {
                    return false;
                }
                // What a TLS 1.3 server sends after the handshake (session tickets) is read
                // and dropped; a close_notify or a closed socket reads as the end.
                let mut b = [0u8; 512];
                let r = tls.read(&mut b);
                let back = tls.get_mut().set_nonblocking(false).is_ok();
                back && still_open(r)
            }
            Link::Journal(_) => true,
        }
    }

    /// Says goodbye where the protocol has a way to (TLS close_notify); errors do not matter.
    pub(super) fn close(self) {
        if let Link::Tls(w) = self
            && let Ok(mut tls) = w.into_inner()
        {
            let _ = tls.shutdown();
        }
    }
}

fn still_open(r: std::io::Result<usize>) -> bool {
    match r {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

fn connector(o: &TlsOptions) -> Result<native_tls::TlsConnector, ForwardError> {
    let mut b = native_tls::TlsConnector::builder();
    b.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    if let Some(ca) = &o.ca {
        let pem = read("CA certificate file", ca)?;
        let certs =
            native_tls::Certificate::stack_from_pem(&pem).map_err(|e| ForwardError::BadCa {
                path: ca.clone(),
                detail: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(ForwardError::BadCa {
                path: ca.clone(),
                detail: "it holds no PEM certificate".to_owned(),
            });
        }
        for c in certs {
            b.add_root_certificate(c);
        }
        b.disable_built_in_roots(true);
    }
    match (&o.cert, &o.key) {
        (Some(cert), Some(key)) => {
            let cert_pem = read("client certificate", cert)?;
            let key_pem =
                Secret::new(String::from_utf8(read("client key", key)?).map_err(|_| {
                    ForwardError::Identity("the key file is not PEM text".to_owned())
                })?);
            let id = native_tls::Identity::from_pkcs8(&cert_pem, key_pem.expose().as_bytes())
                .map_err(|e| ForwardError::Identity(e.to_string()))?;
            b.identity(id);
        }
        (None, None) => {}
        _ => {
            return Err(ForwardError::Identity(
                "--cert and --key go together".to_owned(),
            ));
        }
    }
    b.build().map_err(|e| ForwardError::Identity(e.to_string()))
}

/// journald's native protocol: one datagram per entry, or a sealed memfd passed along when
/// the entry is too large for a datagram.
pub(super) struct Journal {
    socket: std::os::unix::net::UnixDatagram,
    buf: Vec<u8>,
}

impl Journal {
    fn open() -> Result<Self, ForwardError> {
        if !Path::new(JOURNAL_SOCKET).exists() {
            return Err(ForwardError::NoJournal);
        }
        let socket =
            std::os::unix::net::UnixDatagram::unbound().map_err(|e| ForwardError::Connect {
                destination: "journald".to_owned(),
                detail: e.to_string(),
            })?;
        socket
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .map_err(|e| ForwardError::Connect {
                destination: "journald".to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            socket,
            buf: Vec::with_capacity(4096),
        })
    }

    fn send(&mut self, f: &mut Formatter, r: &AuditRowRef<'_>) -> std::io::Result<()> {
        f.journal_fields(r, &mut self.buf);
        match self.socket.send_to(&self.buf, JOURNAL_SOCKET) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMSGSIZE | libc::ENOBUFS)) => {
                send_memfd(&self.socket, Path::new(JOURNAL_SOCKET), &self.buf)
            }
            Err(e) => Err(e),
        }
    }
}

/// The large-entry path of the native protocol: the payload in a sealed memfd, its descriptor
/// sent alone with SCM_RIGHTS.
fn send_memfd(
    socket: &std::os::unix::net::UnixDatagram,
    to: &Path,
    payload: &[u8],
) -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let name = c"tdekey-journal";
    // SAFETY: a valid C string and flags; the result is checked.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned here only.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    file.write_all(payload)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on an open descriptor with a valid command.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let path = std::os::unix::ffi::OsStrExt::as_bytes(to.as_os_str());
    // SAFETY: zeroed sockaddr_un is valid; the path fits (checked).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.len() >= addr.sun_path.len() {
        return Err(std::io::Error::other("journal socket path too long"));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let fd = file.as_raw_fd();
    // SAFETY: CMSG_SPACE of a constant size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at a buffer of CMSG_SPACE(sizeof(int)) bytes.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(std::io::Error::other("no room for the descriptor"));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
    }
    // SAFETY: a valid socket and message.
    let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel passes the descriptor; the receiver reads exactly the payload from a memfd
    /// it cannot change (journald's own requirements for the large-entry path).
    #[test]
    fn a_large_entry_goes_as_a_sealed_memfd() {
        use std::os::fd::{AsRawFd, FromRawFd};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sock");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let tx = std::os::unix::net::UnixDatagram::unbound().unwrap();
        let payload = b"MESSAGE=large\nTDEKEY_SEQ=7\n".repeat(20_000);
        send_memfd(&tx, &path, &payload).unwrap();

        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) };
        let mut control = vec![0u8; space as usize];
        let mut data = [0u8; 16];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
        let n = unsafe { libc::recvmsg(rx.as_raw_fd(), &mut msg, 0) };
        assert_eq!(n, 0, "no bytes besides the descriptor");
        let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        assert!(!cmsg.is_null());
        let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
        assert_eq!((level, kind), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
        let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>()) };
        let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
        for seal in [
            libc::F_SEAL_WRITE,
            libc::F_SEAL_SHRINK,
            libc::F_SEAL_GROW,
            libc::F_SEAL_SEAL,
        ] {
            assert_ne!(seals & seal, 0, "seal {seal} missing from {seals:#x}");
        }
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut got = Vec::new();
        std::io::Seek::rewind(&mut f).unwrap();
        std::io::Read::read_to_end(&mut f, &mut got).unwrap();
        assert_eq!(got, payload);
    }

    #[test]
    fn destinations_parse_and_normalise() {
        let d = |s: &str| Destination::parse(s).map(|d| d.key());
        assert_eq!(
            d("syslog+tcp://SIEM.example.com:514").unwrap(),
            "syslog+tcp://siem.example.com:514"
        );
        assert_eq!(d("syslog+tcp://siem").unwrap(), "syslog+tcp://siem:601");
        assert_eq!(d("SYSLOG+TLS://siem/").unwrap(), "syslog+tls://siem:6514");
        assert_eq!(
            d("syslog+tls://[::1]:6514").unwrap(),
            "syslog+tls://[::1]:6514"
        );
        assert_eq!(d("journald").unwrap(), "journald");
        for bad in [
            "syslog://siem:514",
            "syslog+tcp://:514",
            "syslog+tcp://siem:0",
            "syslog+tcp://siem:99999",
            "syslog+tcp://si em:514",
            "siem:514",
            "syslog+tcp://user@siem:514",
        ] {
            let e = Destination::parse(bad).unwrap_err();
            assert!(matches!(e, ForwardError::BadUrl(_)), "{bad}: {e}");
            assert!(e.to_string().contains("syslog+tls://"), "{e}");
        }
    }
}
