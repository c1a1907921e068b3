//! Secrets for unattended runs: one file per secret in a credentials directory, named as
//! systemd names credentials (`hsm-pin`, `db-password`, each optionally `.<name>` for one HSM
//! profile or one database). The directory is `$CREDENTIALS_DIRECTORY` when systemd sets it
//! (`LoadCredentialEncrypted=`), else the one given on the command line. Never from tdekey's
//! database or the command line itself. A file its group or others can read is refused.

use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// The credential with Oracle's crypto user's password on the HSM.
pub const HSM_PIN: &str = "hsm-pin";
/// The credential with a SQL*Plus profile's database user's password.
pub const DB_PASSWORD: &str = "db-password";

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
            .or_else(|| given.map(Path::to_path_buf))
            .ok_or(CredentialError::NoDirectory)?;
        Self::at(&dir)
    }

    /// The credentials in `dir`.
    pub fn at(dir: &Path) -> Result<Self, CredentialError> {
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
        mode_ok(&path)?;
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
        if let Some(s) = &specific {
            let p = self.dir.join(s);
            if p.exists() {
                return Ok(p);
            }
        }
        let p = self.dir.join(base);
        if p.exists() {
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
        mode_ok(&path)?;
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

#[cfg(unix)]
fn mode_ok(path: &Path) -> Result<(), CredentialError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| CredentialError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
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
fn mode_ok(_path: &Path) -> Result<(), CredentialError> {
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
}
