//! The one way tdekey writes a file the user names (`--out`, a save dialog): only a regular
//! file, never through a symbolic link, never over a device or a FIFO, and never over an
//! existing file unless the person said so (`--force`, or a save dialog that asked).
//!
//! The bytes go to a temporary file in the same directory (mode 0600), which is synced and then
//! renamed over the target: a reader sees the old file or the new one, never half of one. A
//! rename replaces a directory entry and follows no link, so a symbolic link put in place of the
//! target after the check is replaced, not followed; without `force` the rename refuses to
//! replace anything at all (`persist_noclobber`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file the user named was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error(
        "{} is a symbolic link: tdekey writes only regular files and never follows or replaces a link. Name the file itself, not a link to it.",
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error(
        "{} is {kind}, not a regular file: tdekey writes only regular files and left it as it was. Name a regular file.",
        path.display()
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{} exists already and was left as it was. Pass --force to replace it, or name another file.",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error(
        "The directory {} does not exist. Create it first, or name a file in a directory that exists.",
        dir.display()
    )]
    NoDirectory { dir: PathBuf },
    #[error(
        "{} could not be written ({detail}). Choose a directory with room that you can write to.",
        path.display()
    )]
    Io { path: PathBuf, detail: String },
}

/// What kind of thing a non-regular directory entry is, in words.
fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Checks that `path` may be written: absent, or (with `force`) a regular file. Never follows a
/// symbolic link, dangling or not.
pub fn check_target(path: &Path, force: bool) -> Result<(), OutError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(OutError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
        Ok(m) if m.file_type().is_symlink() => Err(OutError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(m) if !m.file_type().is_file() => Err(OutError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(&m.file_type()),
        }),
        Ok(_) if !force => Err(OutError::Exists {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
    }
}

/// The directory a file is written in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A file being written: a temporary file beside the target until [`OutFile::commit`].
/// Dropped without a commit, the temporary file is removed and the target is untouched.
pub struct OutFile {
    path: PathBuf,
    force: bool,
    tmp: tempfile::NamedTempFile,
}

impl OutFile {
    /// Checks the target (see [`check_target`]) and opens a temporary file beside it.
    /// `prefix` names the temporary file (`.tdekey-report-`, …) so a leftover one is recognisable.
    pub fn create(path: &Path, force: bool, prefix: &str) -> Result<Self, OutError> {
        check_target(path, force)?;
        let dir = dir_of(path);
        if !dir.is_dir() {
            return Err(OutError::NoDirectory {
                dir: dir.to_path_buf(),
            });
        }
        // A write killed before it finished left `<prefix><pid>-…`: an unfinished copy of what
        // its source still holds, removed once its process is gone (never one still writing).
        crate::paths::remove_dead_temps(dir, prefix).map_err(|e| io(path, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&crate::paths::temp_prefix(prefix))
            .tempfile_in(dir)
            .map_err(|e| io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            force,
            tmp,
        })
    }

    /// The target's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file, to write into.
    pub fn file(&self) -> &std::fs::File {
        self.tmp.as_file()
    }

    /// The temporary file's own path (to set its mode before the commit).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn file_mut(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Syncs the bytes, checks the target once more and renames the temporary file over it.
    pub fn commit(self) -> Result<(), OutError> {
        let Self { path, force, tmp } = self;
        tmp.as_file().sync_all().map_err(|e| io(&path, e))?;
        check_target(&path, force)?;
        if force {
            tmp.persist(&path).map_err(|e| io(&path, e.error))?;
        } else {
            tmp.persist_noclobber(&path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    OutError::Exists { path: path.clone() }
                } else {
                    io(&path, e.error)
                }
            })?;
        }
        Ok(())
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> OutError {
    OutError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Writes `bytes` to `path` through an [`OutFile`].
pub fn write(path: &Path, force: bool, prefix: &str, bytes: &[u8]) -> Result<(), OutError> {
    let mut f = OutFile::create(path, force, prefix)?;
    f.file_mut().write_all(bytes).map_err(|e| io(path, e))?;
    f.commit()
}

/// Text made safe inside an HTML page tdekey writes (a report for a change ticket).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The start of a report page, up to and including its `<h1>`: the title (escaped), the
/// house style and `extra_css`.
pub fn html_page_start(title: &str, extra_css: &str) -> String {
    let t = html_escape(title);
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#111}}table{{border-collapse:collapse;width:100%;margin:.5em 0}}td,th{{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}}code,pre{{font-family:monospace;white-space:pre-wrap}}.ok{{color:#060}}.bad{{color:#a00}}@media print{{body{{margin:0}}}}{extra_css}</style></head><body><h1>{t}</h1>"
    )
}

/// A database's name as part of a file name: ASCII letters, digits, `-` and `_` kept, every
/// other character `-`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_written_and_an_existing_one_needs_force() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("report.html");
        write(&p, false, ".t-", b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        let e = write(&p, false, ".t-", b"two").unwrap_err();
        assert!(matches!(e, OutError::Exists { .. }), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write(&p, true, ".t-", b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // No temporary file is left behind, on success or refusal.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_fifos_devices_and_directories_are_refused_even_with_force() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        std::fs::write(&real, b"keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let dangling = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("nowhere"), &dangling).unwrap();
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for force in [false, true] {
            for (p, want) in [
                (&link, "symbolic link"),
                (&dangling, "symbolic link"),
                (&fifo, "FIFO"),
                (&Path::new("/dev/null").to_path_buf(), "character device"),
                (&d.path().to_path_buf(), "directory"),
            ] {
                let e = write(p, force, ".t-", b"x").unwrap_err();
                assert!(e.to_string().contains(want), "{}: {e}", p.display());
            }
        }
        assert_eq!(std::fs::read(&real).unwrap(), b"keep");
        assert!(!d.path().join("nowhere").exists());
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // Only the four entries made above: no temporary file left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let d = tempfile::tempdir().unwrap();
        let e = write(&d.path().join("no/such/x"), false, ".t-", b"x").unwrap_err();
        assert!(matches!(e, OutError::NoDirectory { .. }), "{e}");
    }
}
