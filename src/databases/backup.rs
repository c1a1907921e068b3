//! Wallet backups: keystore files (ewallet.p12, cwallet.sso, Oracle's own backups) in one file,
//! sealed under a passphrase with the `secret::sealed` container (or, after an explicit
//! choice, plain), each file's SHA-256 in the audit log, and the backup read back and checked
//! before it is reported.
//!
//! Inside the (sealed) stream: the line `TDEKEY-WALLET-BACKUP-v1`, a line of JSON listing the
//! files (path, mode, size, SHA-256), then the files' bytes one after the other.

use super::DatabaseError;
use crate::audit::{Action, Auditor, Entry};
use crate::secret::Secret;
use crate::secret::sealed::{self, Sealer};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "TDEKEY-WALLET-BACKUP-v1";

/// One file in a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackedUpFile {
    /// Where it was when backed up (shown; a restore does not trust it).
    pub path: String,
    /// Its name under WALLET_ROOT (`tde/ewallet.p12`): where a restore writes it, under the
    /// WALLET_ROOT the restore is given. Backups made before tdekey recorded it have only `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unix permission bits.
    pub mode: u32,
    pub size: u64,
    pub sha256: String,
}

/// A backup as written and checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    pub file: String,
    /// SHA-256 of the backup file itself.
    pub sha256: String,
    pub encrypted: bool,
    pub files: Vec<BackedUpFile>,
}

/// Lower-case hex SHA-256, as backups list it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> DatabaseError {
    DatabaseError::Unreadable {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The keystore files of a WALLET_ROOT worth keeping: `tde/ewallet.p12`, `tde/cwallet.sso` if
/// present, and the `ewallet_*.p12` backups Oracle wrote beside them, oldest name first.
pub fn keystore_backup_files(root: &Path) -> Result<Vec<PathBuf>, DatabaseError> {
    use crate::tde::layout;
    let tde = root.join(layout::KEYSTORE_DIR);
    let ewallet = tde.join(layout::EWALLET);
    if !ewallet.is_file() {
        return Err(DatabaseError::Invalid(format!(
            "There is no {} to back up.",
            ewallet.display()
        )));
    }
    let mut files = vec![ewallet];
    let sso = tde.join(layout::CWALLET);
    if sso.is_file() {
        files.push(sso);
    }
    let mut older: Vec<PathBuf> = std::fs::read_dir(&tde)
        .map_err(|e| unreadable(&tde, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| layout::is_backup_name(&n.to_string_lossy()))
        })
        .collect();
    older.sort();
    files.extend(older);
    Ok(files)
}

/// The archive (before sealing) of the files.
fn archive(
    root: &Path,
    files: &[PathBuf],
) -> Result<(Vec<BackedUpFile>, zeroize::Zeroizing<Vec<u8>>), DatabaseError> {
    let mut listed = Vec::new();
    let mut body = zeroize::Zeroizing::new(Vec::new());
    for f in files {
        let bytes = zeroize::Zeroizing::new(std::fs::read(f).map_err(|e| unreadable(f, e))?);
        let meta = std::fs::metadata(f).map_err(|e| unreadable(f, e))?;
        let mode = crate::paths::mode_of(&meta).unwrap_or(0o600);
        let name = f
            .strip_prefix(root)
            .ok()
            .map(|r| r.to_string_lossy().into_owned());
        listed.push(BackedUpFile {
            path: f.display().to_string(),
            name,
            mode,
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        body.extend_from_slice(&bytes);
    }
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(body.len() + 512));
    out.extend_from_slice(MAGIC.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(
        serde_json::to_string(&listed)
            .map_err(|e| {
                DatabaseError::Invalid(format!("The backup list could not be written: {e}"))
            })?
            .as_bytes(),
    );
    out.push(b'\n');
    out.extend_from_slice(&body);
    Ok((listed, out))
}

/// Reads an archive back: the list and each file's bytes, every SHA-256 checked.
fn unarchive(bytes: &[u8], name: &str) -> Result<Vec<(BackedUpFile, Vec<u8>)>, DatabaseError> {
    let bad = |why: &str| {
        DatabaseError::Invalid(format!(
            "{name} is not a tdekey wallet backup, or it is damaged ({why})."
        ))
    };
    let first = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("no header"))?;
    if &bytes[..first] != MAGIC.as_bytes() {
        return Err(bad("wrong header"));
    }
    let rest = &bytes[first + 1..];
    let second = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("no file list"))?;
    let listed: Vec<BackedUpFile> =
        serde_json::from_slice(&rest[..second]).map_err(|_| bad("unreadable file list"))?;
    let mut body = &rest[second + 1..];
    let mut out = Vec::new();
    for f in listed {
        let n = usize::try_from(f.size).map_err(|_| bad("a size too large"))?;
        if body.len() < n {
            return Err(bad("cut short"));
        }
        let (content, tail) = body.split_at(n);
        if sha256_hex(content) != f.sha256 {
            return Err(bad(&format!("{} does not match its SHA-256", f.path)));
        }
        out.push((f, content.to_vec()));
        body = tail;
    }
    if !body.is_empty() {
        return Err(bad("bytes after the last file"));
    }
    Ok(out)
}

/// Seals `files` into `out` (plain when `passphrase` is `None`: the caller has asked the person
/// first), records `wallet.backup` with each file's SHA-256, and reads the backup back before
/// saying it is done. The file is written next to `out` first and renamed when complete.
pub fn backup_wallet(
    a: &mut Auditor,
    root: &Path,
    files: &[PathBuf],
    out: &Path,
    passphrase: Option<Secret>,
) -> Result<Backup, DatabaseError> {
    let entry = Entry::new(Action::WalletBackup, out.display().to_string()).details(json!({
        "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "encrypted": passphrase.is_some(),
    }));
    a.act(entry, |step| {
        let backup = write_backup(root, files, out, passphrase.as_ref())?;
        let read = read_backup(out, passphrase.as_ref())?;
        if read.iter().map(|(f, _)| f).cloned().collect::<Vec<_>>() != backup.files {
            return Err(DatabaseError::Invalid(format!(
                "The backup {} does not read back as written. Check the disk and try again.",
                out.display()
            )));
        }
        drop(passphrase);
        step.note("sha256", backup.sha256.as_str());
        step.note(
            "files",
            backup
                .files
                .iter()
                .map(|f| json!({ "path": f.path, "size": f.size, "sha256": f.sha256 }))
                .collect::<Vec<_>>(),
        );
        Ok::<_, DatabaseError>(backup)
    })?
    .into_result("The wallet backup was written")
}

/// Why a backup file was not written; a backup is never written over anything.
fn out_err(e: crate::paths::out::OutError) -> DatabaseError {
    match e {
        crate::paths::out::OutError::Exists { path } => DatabaseError::Invalid(format!(
            "{} exists: tdekey does not overwrite a backup. Choose another --out.",
            path.display()
        )),
        other => DatabaseError::Invalid(other.to_string()),
    }
}

fn write_backup(
    root: &Path,
    files: &[PathBuf],
    out: &Path,
    passphrase: Option<&Secret>,
) -> Result<Backup, DatabaseError> {
    let (listed, archive) = archive(root, files)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write_err = |e: &dyn std::fmt::Display| {
        DatabaseError::Invalid(format!(
            "The backup could not be written to {}: {e}. Choose a directory with room that you can write to.",
            out.display()
        ))
    };
    crate::paths::create_private_dir(dir).map_err(|e| write_err(&e))?;
    // A backup is never written over anything: each has its own name.
    let mut tmp =
        crate::paths::out::OutFile::create(out, false, ".tdekey-backup-").map_err(out_err)?;
    match passphrase {
        Some(p) => {
            let mut s = Sealer::new(tmp.file_mut(), p).map_err(|e| write_err(&e))?;
            s.write_all(&archive).map_err(|e| write_err(&e))?;
            s.finish().map_err(|e| write_err(&e))?;
        }
        None => tmp
            .file_mut()
            .write_all(&archive)
            .map_err(|e| write_err(&e))?,
    }
    crate::paths::set_mode(tmp.temp_path(), 0o600).map_err(|e| write_err(&e))?;
    tmp.commit().map_err(out_err)?;
    let written = std::fs::read(out).map_err(|e| unreadable(out, e))?;
    Ok(Backup {
        file: out.display().to_string(),
        sha256: sha256_hex(&written),
        encrypted: passphrase.is_some(),
        files: listed,
    })
}

/// Opens a backup and checks every file in it against its SHA-256, recorded as
/// `wallet.backup_check` (opening a sealed backup exposes keystore files to this process).
pub fn check_backup(
    a: &mut Auditor,
    file: &Path,
    passphrase: Option<Secret>,
) -> Result<Vec<BackedUpFile>, DatabaseError> {
    let entry = Entry::new(Action::WalletBackupCheck, file.display().to_string());
    a.act(entry, |step| {
        let files = read_backup(file, passphrase.as_ref())?;
        drop(passphrase);
        let listed: Vec<BackedUpFile> = files.into_iter().map(|(f, _)| f).collect();
        step.note("files", listed.len());
        Ok::<_, DatabaseError>(listed)
    })?
    .into_result("The wallet backup was checked")
}

/// The largest wallet backup tdekey opens: keystores are kilobytes, and a file named by
/// mistake (a disk image, `/dev/zero`) must not be read into memory.
pub const MAX_BACKUP_BYTES: u64 = 64 * 1024 * 1024;

/// Refuses what is not a regular file of at most [`MAX_BACKUP_BYTES`] before it is opened (a
/// FIFO would block the read, a device never end it).
fn check_backup_file(file: &Path) -> Result<(), DatabaseError> {
    let meta = std::fs::metadata(file).map_err(|e| unreadable(file, e))?;
    if !meta.is_file() {
        return Err(DatabaseError::Invalid(format!(
            "{} is not a regular file: name the wallet backup file itself (wallet-….tdkb).",
            file.display()
        )));
    }
    if meta.len() > MAX_BACKUP_BYTES {
        return Err(DatabaseError::Invalid(format!(
            "{} is {} bytes, more than a wallet backup can be ({MAX_BACKUP_BYTES} at most): check that it is the right file.",
            file.display(),
            meta.len()
        )));
    }
    Ok(())
}

/// Whether a backup file is sealed (needs a passphrase) rather than plain.
pub fn backup_is_sealed(file: &Path) -> Result<bool, DatabaseError> {
    check_backup_file(file)?;
    let mut head = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|e| unreadable(file, e))?;
    Ok(head != MAGIC.as_bytes())
}

/// Opens a backup (sealed or plain) and checks every file in it.
pub fn read_backup(
    file: &Path,
    passphrase: Option<&Secret>,
) -> Result<Vec<(BackedUpFile, Vec<u8>)>, DatabaseError> {
    check_backup_file(file)?;
    let mut raw = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_BACKUP_BYTES + 1).read_to_end(&mut raw))
        .map_err(|e| unreadable(file, e))?;
    let name = file.display().to_string();
    if raw.starts_with(MAGIC.as_bytes()) {
        return unarchive(&raw, &name);
    }
    let pass = passphrase.ok_or_else(|| {
        DatabaseError::Invalid(format!("{name} is sealed: give its passphrase to read it."))
    })?;
    let mut plain = zeroize::Zeroizing::new(Vec::new());
    sealed::unseal(&raw[..], pass, &mut *plain)
        .map_err(|e| DatabaseError::Invalid(format!("{name} cannot be opened: {e}.")))?;
    unarchive(&plain, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_reads_back_and_any_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("ewallet.p12");
        let b = dir.path().join("cwallet.sso");
        std::fs::write(&a, b"p12 bytes").unwrap();
        std::fs::write(&b, b"sso").unwrap();
        let out = dir.path().join("b/backup.tdkb");
        let pass = Secret::from("a long backup passphrase");
        let written = write_backup(dir.path(), &[a.clone(), b.clone()], &out, Some(&pass)).unwrap();
        assert!(written.encrypted);
        assert_eq!(written.files.len(), 2);
        let read = read_backup(&out, Some(&pass)).unwrap();
        assert_eq!(read[0].1, b"p12 bytes");
        assert_eq!(read[1].0.path, b.display().to_string());
        assert_eq!(read[1].0.name.as_deref(), Some("cwallet.sso"));
        let raw = std::fs::read(&out).unwrap();
        assert!(!raw.windows(9).any(|w| w == b"p12 bytes"), "sealed");
        assert!(read_backup(&out, Some(&Secret::from("another passphrase!"))).is_err());
        assert!(read_backup(&out, None).is_err());

        let plain = dir.path().join("plain.tdkb");
        write_backup(dir.path(), &[a], &plain, None).unwrap();
        let mut raw = std::fs::read(&plain).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&plain, raw).unwrap();
        let e = read_backup(&plain, None).unwrap_err();
        assert!(e.to_string().contains("does not match its SHA-256"), "{e}");

        // Not a regular file: refused before anything is read (a FIFO would block).
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for f in [&fifo, dir.path(), Path::new("/dev/zero")] {
            let e = read_backup(f, None).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
            assert!(backup_is_sealed(f).is_err());
        }
    }
}
