//! Where tdekey keeps its files. Everything lives in one data directory: the SQLite database
//! and, for the demo, a SoftHSM2 configuration with its token directory.

pub mod input;
pub mod out;

use std::path::{Path, PathBuf};

/// Environment variable that points tdekey at another data directory (as `--data-dir` does).
pub const DATA_DIR_ENV: &str = "TDEKEY_DATA_DIR";

#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    store: Option<SharedStore>,
}

/// A team's shared store named on the command line (`--store`, `TDEKEY_STORE`): a PostgreSQL
/// URL without password, and where the password is, if in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedStore {
    pub url: String,
    pub password_file: Option<PathBuf>,
}

impl DataDir {
    /// `--data-dir`, else `$TDEKEY_DATA_DIR`, else the XDG data directory (`~/.local/share/tdekey`).
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, String> {
        if let Some(p) = explicit {
            return Ok(Self::at(p));
        }
        if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            return Ok(Self::at(p));
        }
        directories::ProjectDirs::from("", "", "tdekey")
            .map(|d| Self::at(d.data_dir()))
            .ok_or_else(|| {
                "Cannot find a home directory for tdekey's data. Pass --data-dir DIR or set TDEKEY_DATA_DIR."
                    .to_owned()
            })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            store: None,
        }
    }

    /// The same data directory, with its store on a team's PostgreSQL server (`None`: the
    /// directory's own SQLite file).
    pub fn with_store(mut self, store: Option<SharedStore>) -> Self {
        self.store = store;
        self
    }

    /// The shared store in use, if any.
    pub fn shared_store(&self) -> Option<&SharedStore> {
        self.store.as_ref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("tdekey.sqlite3")
    }

    /// Directory of the demo SoftHSM2 token (configuration file and token store).
    pub fn softhsm_dir(&self) -> PathBuf {
        self.root.join("softhsm2")
    }

    pub fn softhsm_conf(&self) -> PathBuf {
        self.softhsm_dir().join("softhsm2.conf")
    }

    /// Creates the directory (mode 0700) if it is missing.
    pub fn ensure(&self) -> std::io::Result<()> {
        create_private_dir(&self.root)
    }
}

/// Creates `dir` and its parents; the last component gets mode 0700 (on Windows a
/// directory under the user's profile is private to the user already).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// A file's permission bits (`None` where the platform has none: Windows).
pub fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// A file's owner and group ids (`None` on Windows, where files have no numeric owner).
pub fn owner_of(meta: &std::fs::Metadata) -> Option<(u32, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.uid(), meta.gid()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Sets a file's permission bits; on Windows there are none to set (a file under the user's
/// profile is private to the user already), so nothing is done there.
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The user this process runs as, by name (from its uid on Unix).
pub fn process_user() -> Option<String> {
    #[cfg(unix)]
    {
        std::fs::metadata("/proc/self")
            .ok()
            .and_then(|m| owner_of(&m))
            .map(|(uid, _)| user_name(uid))
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").ok()
    }
}

/// Points SoftHSM2 at the data directory's configuration when the user has not chosen one.
///
/// SoftHSM2 reads `SOFTHSM2_CONF` when a process calls `C_Initialize`, so this must run at the
/// start of `main`, before any thread exists. A `SOFTHSM2_CONF` the user set is left alone.
pub fn adopt_demo_softhsm_conf(data: &DataDir) {
    if std::env::var_os("SOFTHSM2_CONF").is_some() {
        return;
    }
    let conf = data.softhsm_conf();
    if conf.is_file() {
        // SAFETY: called from `main` before any other thread is started (see above).
        unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
    }
}

/// The user name of `uid` from the password database, else `uid N`.
pub fn user_name(uid: u32) -> String {
    name_in("/etc/passwd", uid).unwrap_or_else(|| format!("uid {uid}"))
}

/// The group name of `gid` from the group database, else `gid N`.
pub fn group_name(gid: u32) -> String {
    name_in("/etc/group", gid).unwrap_or_else(|| format!("gid {gid}"))
}

/// The name whose third field is `id` in a colon-separated database (`/etc/passwd`, `/etc/group`).
fn name_in(file: &str, id: u32) -> Option<String> {
    std::fs::read_to_string(file).ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == id.to_string()).then(|| f[0].to_owned())
        })
    })
}

/// Removes the files of `dir` named `<prefix>…<suffix>`: temporary files of an atomic write
/// that a killed process left. Only for a caller that holds what keeps any other process from
/// writing such files there now (a file lock); each is an unfinished copy, never the only one.
/// Returns the names removed.
pub fn remove_leftovers(dir: &Path, prefix: &str, suffix: &str) -> std::io::Result<Vec<String>> {
    remove_files_where(dir, |name| {
        name.len() > prefix.len() + suffix.len()
            && name.starts_with(prefix)
            && name.ends_with(suffix)
    })
}

/// Removes the regular files of `dir` whose name `doomed` accepts; returns the names removed.
fn remove_files_where(dir: &Path, doomed: impl Fn(&str) -> bool) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if doomed(&name) && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// The prefix of a temporary file this process writes beside `kind` files (`.tdekey-backup-`
/// → `.tdekey-backup-<pid>-`): [`remove_dead_temps`] knows from it whether its writer still
/// runs.
pub fn temp_prefix(kind: &str) -> String {
    format!("{kind}{}-", std::process::id())
}

/// Removes the files of `dir` named `<kind><pid>-…` whose process no longer runs on this host
/// (a write killed before it finished: an unfinished copy, never the only one). A file whose
/// writer still runs, or whose name carries no pid, is left. Returns the names removed.
pub fn remove_dead_temps(dir: &Path, kind: &str) -> std::io::Result<Vec<String>> {
    remove_files_where(dir, |name| {
        let Some(pid) = name
            .strip_prefix(kind)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return false;
        };
        cfg!(target_os = "linux")
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_and_dead_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let dead = {
            // A pid that ran and ended.
            let mut c = std::process::Command::new("true").spawn().unwrap();
            let pid = c.id();
            c.wait().unwrap();
            pid
        };
        let me = std::process::id();
        for n in [
            ".db.json.a1.tmp".to_owned(),
            ".db.json.tmp".to_owned(),
            "db.json".to_owned(),
            ".other.json.b2.tmp".to_owned(),
            format!(".tdekey-backup-{dead}-x"),
            format!(".tdekey-backup-{me}-y"),
            ".tdekey-backup-nopid".to_owned(),
        ] {
            std::fs::write(p(&n), b"x").unwrap();
        }
        let removed = remove_leftovers(dir.path(), ".db.json.", ".tmp").unwrap();
        assert_eq!(removed, vec![".db.json.a1.tmp".to_owned()]);
        assert!(p(".db.json.tmp").exists() && p("db.json").exists());
        assert!(p(".other.json.b2.tmp").exists());
        let removed = remove_dead_temps(dir.path(), ".tdekey-backup-").unwrap();
        assert_eq!(removed, vec![format!(".tdekey-backup-{dead}-x")]);
        assert!(p(&format!(".tdekey-backup-{me}-y")).exists());
        assert!(p(".tdekey-backup-nopid").exists());
        assert!(temp_prefix(".tdekey-backup-").starts_with(&format!(".tdekey-backup-{me}-")));
        assert!(
            remove_leftovers(&p("absent"), ".", ".tmp")
                .unwrap()
                .is_empty()
        );
    }
}
