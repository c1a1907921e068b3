//! Where the store's password comes from, none of which the `postgres` crate reads itself:
//! `--store-password-file`, then `PGPASSWORD`, then `PGPASSFILE` or `~/.pgpass` in libpq's
//! format. No password at all is fine (trust or peer authentication).

use super::PgError;
use crate::secret::{MAX_SECRET_BYTES, Secret};
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where a password came from, for messages (never the password itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordFrom {
    /// No password: the server's trust or peer authentication is expected.
    Nowhere,
    /// `--store-password-file`.
    File(PathBuf),
    /// The `PGPASSWORD` environment variable.
    Env,
    /// A line of a pgpass file.
    PgPass(PathBuf),
}

impl std::fmt::Display for PasswordFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordFrom::Nowhere => f.write_str("no password"),
            PasswordFrom::File(p) => write!(f, "the password file {}", p.display()),
            PasswordFrom::Env => f.write_str("PGPASSWORD"),
            PasswordFrom::PgPass(p) => write!(f, "the password file {}", p.display()),
        }
    }
}

/// The largest pgpass file read (libpq reads any size; a larger one is surely not a pgpass).
const MAX_PGPASS_BYTES: u64 = 1 << 20;

/// The password on the first line of a `--store-password-file`: a regular file (not a link,
/// FIFO or device), owned by this user, mode 0600 or stricter.
pub fn read_password_file(path: &Path) -> Result<Secret, PgError> {
    let fail = |why: String| PgError::PasswordFile {
        path: path.to_path_buf(),
        why,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    let mut file = options.open(path).map_err(|e| {
        if is_link_refusal(&e) {
            fail("is a symbolic link; name the file itself".to_owned())
        } else {
            fail(format!(
                "cannot be opened ({e}); name a file this user can read"
            ))
        }
    })?;
    let meta = file.metadata().map_err(|e| {
        fail(format!(
            "cannot be read ({e}); name a file this user can read"
        ))
    })?;
    if !meta.is_file() {
        return Err(fail(
            "is not a regular file (a directory, FIFO, socket or device); name a file that holds the password on its first line"
                .to_owned(),
        ));
    }
    private_to_me(&meta).map_err(fail)?;
    let mut raw = Zeroizing::new(Vec::new());
    file.by_ref()
        .take(4097)
        .read_to_end(&mut raw)
        .map_err(|e| {
            fail(format!(
                "cannot be read ({e}); name a file this user can read"
            ))
        })?;
    if raw.len() > 4096 {
        return Err(fail(
            "is larger than 4 KiB; it should hold the password on its first line and nothing else"
                .to_owned(),
        ));
    }
    let text = std::str::from_utf8(&raw)
        .map_err(|_| fail("is not UTF-8 text; write the password in UTF-8".to_owned()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(fail(
            "is empty; write the password on its first line".to_owned(),
        ));
    }
    if line.len() > MAX_SECRET_BYTES {
        return Err(fail(format!(
            "holds a first line of {} bytes; tdekey takes at most {MAX_SECRET_BYTES} bytes and never shortens a password",
            line.len()
        )));
    }
    Ok(Secret::new(line.to_owned()))
}

/// The error `open` gives for a symbolic link under `O_NOFOLLOW`.
#[cfg(unix)]
fn is_link_refusal(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_link_refusal(_e: &std::io::Error) -> bool {
    false
}

/// Owned by the user this process runs as and unreadable by anyone else.
#[cfg(unix)]
fn private_to_me(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "can be read or written by other users (mode {mode:04o}); run chmod 600 on it"
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "belongs to {}, not to {} whom tdekey runs as; use a file of your own (mode 0600)",
            crate::paths::user_name(meta.uid()),
            crate::paths::user_name(me)
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_to_me(_meta: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// A pgpass file as read: its text, or why it was passed over (libpq's two warnings), or
/// nothing when there is no such file.
pub enum PgPassFile {
    Missing,
    Ignored(String),
    Text(Zeroizing<String>),
}

/// Reads a pgpass file as libpq does: a missing file is passed over in silence; one that is not
/// a plain file, or that its group or others may read, is passed over with a warning.
pub fn read_pgpass(path: &Path) -> PgPassFile {
    let Ok(meta) = std::fs::metadata(path) else {
        return PgPassFile::Missing;
    };
    let shown = path.display();
    if !meta.is_file() {
        return PgPassFile::Ignored(format!(
            "The password file {shown} is not a plain file, so tdekey did not read it."
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return PgPassFile::Ignored(format!(
                "The password file {shown} has group or world access (mode {mode:04o}), so tdekey did not read it, as psql would not; run chmod 600 on it."
            ));
        }
    }
    let mut text = Zeroizing::new(String::new());
    let read =
        std::fs::File::open(path).and_then(|f| f.take(MAX_PGPASS_BYTES).read_to_string(&mut text));
    match read {
        Ok(_) => PgPassFile::Text(text),
        Err(e) => PgPassFile::Ignored(format!(
            "The password file {shown} cannot be read ({e}), so tdekey went on without it."
        )),
    }
}

/// The password of the first line of a pgpass file (`host:port:database:user:password`) that
/// matches, as libpq matches: `*` alone matches anything, `\:` and `\\` stand for `:` and `\`,
/// lines starting with `#` and empty lines are skipped, the password ends at the next
/// unescaped `:`.
pub fn lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<Secret> {
    let wanted = [host, port, db, user];
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = fields
            .iter()
            .zip(wanted)
            .all(|(f, w)| f.wildcard || f.text.as_str() == w);
        if matches {
            let pw = &fields[4].text;
            return (!pw.is_empty()).then(|| Secret::new(pw.as_str().to_owned()));
        }
    }
    None
}

struct Field {
    text: Zeroizing<String>,
    /// The field was a lone, unescaped `*`.
    wildcard: bool,
}

/// The fields of a line split at unescaped `:`, de-escaped (a `\` takes the next character
/// as it is).
fn split_fields(line: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut text = Zeroizing::new(String::new());
    let mut raw_star = true;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                raw_star = false;
                if let Some(n) = chars.next() {
                    text.push(n);
                }
            }
            ':' => {
                let wildcard = raw_star && text.as_str() == "*";
                fields.push(Field {
                    text: std::mem::take(&mut text),
                    wildcard,
                });
                raw_star = true;
            }
            c => text.push(c),
        }
    }
    fields.push(Field {
        wildcard: raw_star && text.as_str() == "*",
        text,
    });
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pw(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
        lookup(text, host, port, db, user).map(|s| s.expose().to_owned())
    }

    #[test]
    fn first_matching_line_wins_with_wildcards() {
        let f = "# comment\n\
                 db1:5432:store:tdekey:first\n\
                 *:5432:store:tdekey:second\n\
                 *:*:*:*:fallback\n";
        assert_eq!(
            pw(f, "db1", "5432", "store", "tdekey").as_deref(),
            Some("first")
        );
        assert_eq!(
            pw(f, "db2", "5432", "store", "tdekey").as_deref(),
            Some("second")
        );
        assert_eq!(
            pw(f, "db2", "6432", "store", "tdekey").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pw("db1:5432:store:tdekey:x\n", "db1", "5432", "store", "other"),
            None
        );
        // Fewer than five fields never match; an empty password is no password.
        assert_eq!(pw("*:*:*:*\n", "h", "1", "d", "u"), None);
        assert_eq!(pw("*:*:*:*:\n", "h", "1", "d", "u"), None);
        // Windows line endings.
        assert_eq!(
            pw("*:*:*:*:crlf\r\n", "h", "1", "d", "u").as_deref(),
            Some("crlf")
        );
    }

    #[test]
    fn escapes_in_fields_and_passwords() {
        let f = "h:5432:d:dom\\\\user:pa\\:ss\\\\w:ignored\n";
        assert_eq!(
            pw(f, "h", "5432", "d", "dom\\user").as_deref(),
            Some("pa:ss\\w")
        );
        // An escaped star is a star, not a wildcard.
        let f = "\\*:5432:d:u:literal\n";
        assert_eq!(pw(f, "*", "5432", "d", "u").as_deref(), Some("literal"));
        assert_eq!(pw(f, "h", "5432", "d", "u"), None);
        // A star inside a field is not a wildcard either.
        assert_eq!(pw("h*:5432:d:u:x\n", "hx", "5432", "d", "u"), None);
        // IPv6 hosts are written with escaped colons.
        let f = "\\:\\:1:5432:d:u:v6\n";
        assert_eq!(pw(f, "::1", "5432", "d", "u").as_deref(), Some("v6"));
    }

    fn file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_pgpass_others_can_read_is_passed_over_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let open = file(dir.path(), "open", "*:*:*:*:leaked\n", 0o644);
        match read_pgpass(&open) {
            PgPassFile::Ignored(w) => {
                assert!(w.contains("group or world") && w.contains("0644"), "{w}");
                assert!(!w.contains("leaked"));
            }
            _ => panic!("a 0644 pgpass must be ignored"),
        }
        let closed = file(dir.path(), "closed", "*:*:*:*:ok\n", 0o600);
        assert!(matches!(read_pgpass(&closed), PgPassFile::Text(t) if t.contains("ok")));
        assert!(matches!(
            read_pgpass(&dir.path().join("none")),
            PgPassFile::Missing
        ));
        assert!(
            matches!(read_pgpass(dir.path()), PgPassFile::Ignored(w) if w.contains("not a plain file"))
        );
    }

    #[test]
    fn the_password_file_must_be_private_and_regular() {
        let dir = tempfile::tempdir().unwrap();
        let ok = file(dir.path(), "ok", "s3cret\nsecond line\n", 0o600);
        assert_eq!(read_password_file(&ok).unwrap().expose(), "s3cret");
        let ro = file(dir.path(), "ro", "s3cret", 0o400);
        assert_eq!(read_password_file(&ro).unwrap().expose(), "s3cret");
        let why = |p: &Path| match read_password_file(p) {
            Err(PgError::PasswordFile { why, .. }) => why,
            other => panic!("{other:?}"),
        };
        let open = file(dir.path(), "open", "s3cret", 0o640);
        let w = why(&open);
        assert!(w.contains("mode 0640") && w.contains("chmod 600"), "{w}");
        let empty = file(dir.path(), "empty", "\nx", 0o600);
        assert!(why(&empty).contains("empty"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert!(why(&link).contains("symbolic link"));
        assert!(why(dir.path()).contains("not a regular file"));
        assert!(why(&dir.path().join("missing")).contains("cannot be opened"));
        let long = file(dir.path(), "long", &"p".repeat(MAX_SECRET_BYTES + 1), 0o600);
        assert!(why(&long).contains("never shortens"));
        // No message holds the password.
        let e = read_password_file(&open).unwrap_err().to_string();
        assert!(!e.contains("s3cret") && e.ends_with('.'), "{e}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_password_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
