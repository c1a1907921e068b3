//! Secrets for unattended runs: one file per secret in a credentials directory, named as
//! systemd names credentials (`hsm-pin`, `db-password`, each optionally `.<name>` for one HSM
//! profile or one database). The directory is `$CREDENTIALS_DIRECTORY` when systemd sets it
//! (`LoadCredentialEncrypted=`), else the one given on the command line. Never from tdekey's
//! database or the command line itself. A file its group or others can read is refused.
//!
//! A directory given with `--credentials` must be the user's own, mode 0700 or 0500; each
//! credential must be a regular file (not a symbolic link, not a FIFO or a device) of at most
//! [`MAX_CREDENTIAL_BYTES`]. systemd's `$CREDENTIALS_DIRECTORY` is private to the service by
//! systemd's own arrangement (a private mount, ACLs), so only the per-file checks apply to it.

use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// The credential with Oracle's crypto user's password on the HSM.
pub const HSM_PIN: &str = "hsm-pin";
/// The credential with a SQL*Plus profile's database user's password.
pub const DB_PASSWORD: &str = "db-password";

/// The largest credential file tdekey reads.
pub const MAX_CREDENTIAL_BYTES: u64 = 4096;

/// Why a credential could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "No credentials directory: run under systemd with LoadCredentialEncrypted= (which sets CREDENTIALS_DIRECTORY), or give --credentials DIR (a directory of files named hsm-pin, db-password, each readable by its owner only)."
    )]
    NoDirectory,
    #[error(
        "The credentials directory {0} cannot be read: {1}. Check the path and its permissions."
    )]
    Directory(PathBuf, String),
    #[error(
        "No credential {wanted} in {dir}: create the file {dir}/{name} (mode 0600) holding the {what}{also}."
    )]
    Missing {
        wanted: String,
        name: String,
        dir: PathBuf,
        what: &'static str,
        also: String,
    },
    #[error(
        "The credential file {path} can be read by its group or others (mode {mode:04o}): tdekey does not use it. Make it private (chmod 600 {path}) or encrypt it with systemd-creds."
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("The credential file {path} cannot be read: {detail}.")]
    Unreadable { path: PathBuf, detail: String },
    #[error("The credential file {0} is empty: write the secret in it.")]
    Empty(PathBuf),
    #[error(
        "The credentials directory {dir} can be reached by its group or others (mode {mode:04o}): tdekey does not read secrets from it. Make it private (chmod 700 {dir})."
    )]
    DirectoryExposed { dir: PathBuf, mode: u32 },
    #[error(
        "The credentials directory {dir} belongs to {owner}, not to the user tdekey runs as ({me}): tdekey does not read secrets from it. Use a directory of your own (mode 0700)."
    )]
    DirectoryNotOwned {
        dir: PathBuf,
        owner: String,
        me: String,
    },
    #[error(
        "The credential {path} {what}: tdekey reads a credential only from a regular file. Put the secret in the file itself (mode 0600)."
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error(
        "The credential file {path} is {size} bytes; a credential is at most {MAX_CREDENTIAL_BYTES} bytes. Check that it is the right file."
    )]
    TooLarge { path: PathBuf, size: u64 },
}

/// Where unattended runs find their secrets.
#[derive(Clone, Debug)]
pub struct Credentials {
    dir: PathBuf,
}

impl Credentials {
    /// `$CREDENTIALS_DIRECTORY` when set (systemd), else `given`.
    pub fn locate(given: Option<&Path>) -> Result<Self, CredentialError> {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .map(|d| Self::systemd(&d));
        match dir {
            Some(d) => d,
            None => Self::at(given.ok_or(CredentialError::NoDirectory)?),
        }
    }

    /// systemd's `$CREDENTIALS_DIRECTORY`: a directory (systemd makes it private).
    fn systemd(dir: &Path) -> Result<Self, CredentialError> {
        let meta = std::fs::metadata(dir)
            .map_err(|e| CredentialError::Directory(dir.to_path_buf(), e.to_string()))?;
        if !meta.is_dir() {
            return Err(CredentialError::Directory(
                dir.to_path_buf(),
                "it is not a directory".into(),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The credentials in `dir`: a directory of the user's own, mode 0700 or 0500.
    pub fn at(dir: &Path) -> Result<Self, CredentialError> {
        let c = Self::systemd(dir)?;
        dir_private(dir)?;
        Ok(c)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Oracle's crypto user's password for an HSM profile: `hsm-pin.<profile>`, else `hsm-pin`.
    pub fn hsm_pin(&self, profile: Option<&str>) -> Result<Secret, CredentialError> {
        self.read(
            HSM_PIN,
            profile,
            "password of Oracle's crypto user on the HSM",
        )
    }

    /// A database user's password: `db-password.<database>`, else `db-password`.
    pub fn db_password(&self, database: &str) -> Result<Secret, CredentialError> {
        self.read(
            DB_PASSWORD,
            Some(database),
            "password of the database user of the profile",
        )
    }

    /// Which file would be read, without reading it (for a dry run): its name, or the error
    /// reading it would give.
    pub fn check(&self, base: &str, name: Option<&str>) -> Result<String, CredentialError> {
        let what = if base == HSM_PIN {
            "password of Oracle's crypto user on the HSM"
        } else {
            "password of the database user of the profile"
        };
        let path = self.find(base, name, what)?;
        file_ok(&path)?;
        Ok(path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
    }

    fn find(
        &self,
        base: &str,
        name: Option<&str>,
        what: &'static str,
    ) -> Result<PathBuf, CredentialError> {
        let specific = name.map(|n| format!("{base}.{n}"));
        // symlink_metadata: a link (even a dangling one) is found, then refused by name.
        let present = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        if let Some(s) = &specific {
            let p = self.dir.join(s);
            if present(&p) {
                return Ok(p);
            }
        }
        let p = self.dir.join(base);
        if present(&p) {
            return Ok(p);
        }
        Err(CredentialError::Missing {
            wanted: specific.clone().unwrap_or_else(|| base.to_owned()),
            name: base.to_owned(),
            dir: self.dir.clone(),
            what,
            also: specific
                .map(|s| format!(" (or {s} for this one only)"))
                .unwrap_or_default(),
        })
    }

    fn read(
        &self,
        base: &str,
        name: Option<&str>,
        what: &'static str,
    ) -> Result<Secret, CredentialError> {
        let path = self.find(base, name, what)?;
        file_ok(&path)?;
        let s = Secret::from_file(&path).map_err(|e| CredentialError::Unreadable {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if s.is_empty() {
            return Err(CredentialError::Empty(path));
        }
        Ok(s)
    }
}

/// A credential file: a regular file (not a link, FIFO or device), at most
/// [`MAX_CREDENTIAL_BYTES`], readable by its owner only.
fn file_ok(path: &Path) -> Result<(), CredentialError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| CredentialError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let ft = meta.file_type();
    let not = |what| {
        Err(CredentialError::NotRegular {
            path: path.to_path_buf(),
            what,
        })
    };
    if ft.is_symlink() {
        return not("is a symbolic link");
    }
    if ft.is_dir() {
        return not("is a directory");
    }
    if !ft.is_file() {
        return not("is a FIFO, a socket or a device");
    }
    if meta.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
        });
    }
    mode_ok(path, &meta)
}

/// A `--credentials` directory: owned by the user tdekey runs as, mode 0700 or 0500.
#[cfg(unix)]
fn dir_private(dir: &Path) -> Result<(), CredentialError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| CredentialError::Directory(dir.to_path_buf(), e.to_string()))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CredentialError::DirectoryExposed {
            dir: dir.to_path_buf(),
            mode,
        });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(CredentialError::DirectoryNotOwned {
            dir: dir.to_path_buf(),
            owner: crate::paths::user_name(meta.uid()),
            me: crate::paths::user_name(me),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn dir_private(_dir: &Path) -> Result<(), CredentialError> {
    Ok(())
}

#[cfg(unix)]
fn mode_ok(path: &Path, meta: &std::fs::Metadata) -> Result<(), CredentialError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CredentialError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn mode_ok(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), CredentialError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn specific_names_win_and_exposed_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        write(dir.path(), "hsm-pin", "general-pin\n", 0o600);
        write(dir.path(), "hsm-pin.prod", "prod-pin", 0o400);
        write(dir.path(), "db-password", "db-pw\n", 0o644);
        let c = Credentials::at(dir.path()).unwrap();
        assert_eq!(c.hsm_pin(Some("prod")).unwrap().expose(), "prod-pin");
        assert_eq!(c.hsm_pin(Some("test")).unwrap().expose(), "general-pin");
        assert_eq!(c.hsm_pin(None).unwrap().expose(), "general-pin");
        let e = c.db_password("ORCL").unwrap_err().to_string();
        assert!(e.contains("db-password") && e.contains("0644"), "{e}");
        assert!(!e.contains("db-pw"), "the secret is not in the error: {e}");
        std::fs::remove_file(dir.path().join("hsm-pin")).unwrap();
        let e = c.hsm_pin(Some("test")).unwrap_err().to_string();
        assert!(
            e.contains("hsm-pin.test") && e.contains("create the file"),
            "{e}"
        );
        write(dir.path(), "db-password.ORCL", "", 0o600);
        assert!(matches!(
            c.db_password("ORCL"),
            Err(CredentialError::Empty(_))
        ));
    }

    #[test]
    fn the_directory_must_be_private_and_each_credential_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = Credentials::at(d).unwrap_err().to_string();
        assert!(e.contains("mode 0755") && e.contains("chmod 700"), "{e}");
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o500)).unwrap();
        Credentials::at(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
        let c = Credentials::at(d).unwrap();

        // A link to a private file elsewhere, dangling or not: refused, named.
        let elsewhere = tempfile::tempdir().unwrap();
        write(elsewhere.path(), "pin", "linked-pin", 0o600);
        std::os::unix::fs::symlink(elsewhere.path().join("pin"), d.join("hsm-pin")).unwrap();
        std::os::unix::fs::symlink(d.join("nowhere"), d.join("hsm-pin.dangling")).unwrap();
        for profile in [None, Some("dangling")] {
            let e = c.hsm_pin(profile).unwrap_err().to_string();
            assert!(
                e.contains("is a symbolic link") && e.contains("hsm-pin"),
                "{e}"
            );
            assert!(!e.contains("linked-pin"), "{e}");
            assert!(c.check(HSM_PIN, profile).is_err());
        }
        // A FIFO: refused without reading (a read would wait for a writer for ever).
        let fifo = d.join("db-password.ORCL");
        let cpath = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) }, 0);
        let e = c.db_password("ORCL").unwrap_err().to_string();
        assert!(e.contains("db-password.ORCL") && e.contains("FIFO"), "{e}");
        // A directory in a credential's place.
        std::fs::create_dir(d.join("db-password.DIR")).unwrap();
        let e = c.db_password("DIR").unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        // Larger than 4 KiB.
        write(d, "db-password.BIG", &"x".repeat(4097), 0o600);
        let e = c.db_password("BIG").unwrap_err().to_string();
        assert!(
            e.contains("4097 bytes") && e.contains("db-password.BIG"),
            "{e}"
        );
        assert!(!e.contains("xxxx"), "{e}");
        write(d, "db-password.FULL", &"y".repeat(200), 0o600);
        assert_eq!(c.db_password("FULL").unwrap().expose().len(), 200);
    }
}
