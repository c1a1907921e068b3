//! Restoring a wallet backup: only under the WALLET_ROOT the restore is given, only from
//! relative names, only with the modes a keystore file has. The whole backup is checked before
//! the first byte is written: one bad entry and nothing is written at all.

use super::DatabaseError;
use super::backup::{BackedUpFile, read_backup};
use crate::audit::{Action, Auditor, Entry};
use crate::secret::Secret;
use serde::Serialize;
use serde_json::json;
use std::path::{Component, Path, PathBuf};

/// The modes a restored file may have (a keystore file is never executable, never set-uid).
pub const RESTORE_MODES: [u32; 3] = [0o600, 0o640, 0o644];

/// What a restore did to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Restored {
    pub path: String,
    /// The file was already there with the same bytes: nothing was written.
    pub unchanged: bool,
}

/// The name under WALLET_ROOT a backed-up file is restored to, or why it is refused.
/// A backup made before tdekey recorded names has only the absolute path it was read from:
/// that is accepted when it lies under `root`, and refused otherwise.
fn relative_name(root: &Path, f: &BackedUpFile) -> Result<PathBuf, String> {
    let name = match &f.name {
        Some(n) => PathBuf::from(n),
        None => {
            let p = Path::new(&f.path);
            match p.strip_prefix(root) {
                Ok(rest) if p.is_absolute() => rest.to_path_buf(),
                _ if p.is_absolute() => {
                    return Err("is an absolute path outside the WALLET_ROOT given".into());
                }
                _ => p.to_path_buf(),
            }
        }
    };
    if name.as_os_str().is_empty() {
        return Err("has an empty name".into());
    }
    if name.to_string_lossy().chars().any(char::is_control) {
        return Err("has a control character in its name".into());
    }
    for c in name.components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return Err("climbs out of the WALLET_ROOT with \"..\"".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err(
                    "is an absolute path (a backup names files relative to the WALLET_ROOT)".into(),
                );
            }
            Component::CurDir => return Err("has a \".\" component".into()),
        }
    }
    Ok(name)
}

/// Checks the path under `root` where `name` goes: every directory on the way is a real
/// directory or absent (never a symbolic link), and the file itself is a regular file or absent.
fn check_destination(root: &Path, name: &Path) -> Result<PathBuf, String> {
    let mut at = root.to_path_buf();
    let parts: Vec<_> = name.components().collect();
    for (i, c) in parts.iter().enumerate() {
        at.push(c);
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{} cannot be read ({e})", at.display())),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!("{} is a symbolic link", at.display()));
            }
            Ok(m) if last && !m.file_type().is_file() => {
                return Err(format!("{} is not a regular file", at.display()));
            }
            Ok(m) if !last && !m.is_dir() => {
                return Err(format!("{} is not a directory", at.display()));
            }
            Ok(_) => {}
        }
    }
    Ok(at)
}

/// Where each file of a backup goes under `root`, every entry checked; the first refusal
/// names the entry and why.
pub fn plan_restore(root: &Path, files: &[BackedUpFile]) -> Result<Vec<PathBuf>, DatabaseError> {
    let refuse = |f: &BackedUpFile, why: &str| {
        DatabaseError::Invalid(format!(
            "The backup's entry {} {why}: nothing was restored. Restore only backups tdekey wrote, and name the WALLET_ROOT with --wallet-root.",
            crate::model::printable(f.name.as_deref().unwrap_or(&f.path))
        ))
    };
    let meta = std::fs::symlink_metadata(root).map_err(|e| {
        DatabaseError::Invalid(format!(
            "The WALLET_ROOT {} cannot be read ({e}): nothing was restored. Name an existing directory with --wallet-root.",
            root.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(DatabaseError::Invalid(format!(
            "The WALLET_ROOT {} is not a directory (a symbolic link is not followed): nothing was restored. Name the directory itself.",
            root.display()
        )));
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for f in files {
        let mode = f.mode & 0o7777;
        if f.mode & !0o7777 != 0 && f.mode & 0o170000 != 0o100000 {
            return Err(refuse(f, "is not a regular file"));
        }
        if !RESTORE_MODES.contains(&mode) {
            return Err(refuse(
                f,
                &format!("has mode {mode:04o}; a restored file may have only 0600, 0640 or 0644"),
            ));
        }
        let name = relative_name(root, f).map_err(|why| refuse(f, &why))?;
        let dest = check_destination(root, &name).map_err(|why| refuse(f, &why))?;
        if out.contains(&dest) {
            return Err(refuse(f, "appears twice"));
        }
        out.push(dest);
    }
    Ok(out)
}

/// Writes the files of a backup back under `root` (the WALLET_ROOT), with their modes, each
/// checked against its SHA-256 first and every destination checked (see [`plan_restore`])
/// before anything is written. A file that exists with other bytes is not overwritten without
/// `force`. Recorded as `wallet.restore`.
pub fn restore_wallet(
    a: &mut Auditor,
    file: &Path,
    passphrase: Option<Secret>,
    root: &Path,
    force: bool,
) -> Result<Vec<Restored>, DatabaseError> {
    let entry = Entry::new(Action::WalletRestore, file.display().to_string())
        .details(json!({ "force": force, "wallet_root": root.display().to_string() }));
    a.act(entry, |step| {
        let files = read_backup(file, passphrase.as_ref())?;
        drop(passphrase);
        let listed: Vec<BackedUpFile> = files.iter().map(|(f, _)| f.clone()).collect();
        let dests = plan_restore(root, &listed)?;
        let mut conflicts = Vec::new();
        for ((_, bytes), dest) in files.iter().zip(&dests) {
            if let Ok(existing) = std::fs::read(dest)
                && existing != *bytes
            {
                conflicts.push(dest.display().to_string());
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(DatabaseError::Invalid(format!(
                "{} exist(s) with other contents: nothing was restored. Look at them first; restore over them with --force.",
                conflicts.join(", ")
            )));
        }
        let mut out = Vec::new();
        for ((f, bytes), dest) in files.into_iter().zip(dests) {
            let unchanged = std::fs::read(&dest).is_ok_and(|b| b == bytes);
            if !unchanged {
                write_file(&dest, &bytes, f.mode & 0o7777)?;
            }
            out.push(Restored {
                path: dest.display().to_string(),
                unchanged,
            });
        }
        step.note(
            "files",
            out.iter()
                .map(|r| json!({ "path": r.path, "unchanged": r.unchanged }))
                .collect::<Vec<_>>(),
        );
        Ok::<_, DatabaseError>(out)
    })?
    .into_result("The wallet was restored")
}

/// Writes `bytes` to `path` with `mode`, through a temporary file in the same directory
/// (never through a link: see [`crate::paths::out`]).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DatabaseError> {
    let fail = |e: &dyn std::fmt::Display| {
        DatabaseError::Invalid(format!(
            "{} could not be restored: {e}. Nothing else was changed after it.",
            path.display()
        ))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::paths::create_private_dir(dir).map_err(|e| fail(&e))?;
    let mut tmp =
        crate::paths::out::OutFile::create(path, true, ".tdekey-restore-").map_err(|e| fail(&e))?;
    std::io::Write::write_all(tmp.file_mut(), bytes).map_err(|e| fail(&e))?;
    crate::paths::set_mode(tmp.temp_path(), mode).map_err(|e| fail(&e))?;
    tmp.commit().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databases::backup_wallet;

    #[test]
    fn a_restore_writes_the_files_back_byte_for_byte_with_their_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut a = Auditor::new(crate::store::Store::open(&dir.path().join("t.sqlite3")).unwrap());
        let root = dir.path().join("wallet");
        let tde = root.join("tde");
        std::fs::create_dir_all(&tde).unwrap();
        let p12 = tde.join("ewallet.p12");
        std::fs::write(&p12, b"the original wallet").unwrap();
        std::fs::set_permissions(&p12, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = dir.path().join("backup.tdkb");
        let pass = Secret::from("a long backup passphrase");
        let b = backup_wallet(
            &mut a,
            &dir.path().join("wallet"),
            std::slice::from_ref(&p12),
            &out,
            Some(pass.clone()),
        )
        .unwrap();
        assert_eq!(b.files[0].mode, 0o640);

        std::fs::write(&p12, b"changed since").unwrap();
        let e = restore_wallet(&mut a, &out, Some(pass.clone()), &root, false).unwrap_err();
        assert!(e.to_string().contains("nothing was restored"), "{e}");
        assert_eq!(std::fs::read(&p12).unwrap(), b"changed since");
        let r = restore_wallet(&mut a, &out, Some(pass.clone()), &root, true).unwrap();
        assert!(!r[0].unchanged);
        assert_eq!(std::fs::read(&p12).unwrap(), b"the original wallet");
        assert_eq!(
            std::fs::metadata(&p12).unwrap().permissions().mode() & 0o777,
            0o640
        );
        std::fs::remove_file(&p12).unwrap();
        let r = restore_wallet(&mut a, &out, Some(pass), &root, false).unwrap();
        assert!(!r[0].unchanged, "a missing file is written back");
        let rows = a.store().recent_audit(10).unwrap();
        assert!(
            rows.iter()
                .any(|r| r.action == "wallet.restore" && r.outcome == "failure")
        );
        assert!(
            rows.iter()
                .any(|r| r.action == "wallet.backup" && r.details.contains("sha256"))
        );
    }

    /// A plain backup whose list says what a crafted one could say.
    fn crafted(dir: &Path, entries: &[(serde_json::Value, &[u8])]) -> PathBuf {
        use sha2::Digest;
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|(v, bytes)| {
                let mut v = v.clone();
                v["size"] = json!(bytes.len());
                v["sha256"] = json!(hex::encode(sha2::Sha256::digest(bytes)));
                if v.get("mode").is_none() {
                    v["mode"] = json!(0o600);
                }
                if v.get("path").is_none() {
                    v["path"] = json!("/somewhere/else");
                }
                v
            })
            .collect();
        let mut raw = b"TDEKEY-WALLET-BACKUP-v1\n".to_vec();
        raw.extend_from_slice(serde_json::to_string(&list).unwrap().as_bytes());
        raw.push(b'\n');
        for (_, b) in entries {
            raw.extend_from_slice(b);
        }
        let p = dir.join(format!("crafted-{}.tdkb", entries.len()));
        std::fs::write(&p, raw).unwrap();
        p
    }

    /// Every file under `dir`, as paths.
    fn tree(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.clone());
            if e.file_type().unwrap().is_dir() {
                out.extend(tree(&p));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_crafted_backup_writes_nothing_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Auditor::new(crate::store::Store::open(&dir.path().join("t.sqlite3")).unwrap());
        let root = dir.path().join("wallet");
        std::fs::create_dir_all(root.join("tde")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let evil = outside.join("evil");
        let good = (json!({ "name": "tde/ewallet.p12" }), &b"good"[..]);
        type Entries<'a> = Vec<(serde_json::Value, &'a [u8])>;
        let cases: Vec<(Entries<'_>, &str)> = vec![
            (
                vec![
                    good.clone(),
                    (json!({ "name": evil.display().to_string() }), b"x"),
                ],
                "is an absolute path",
            ),
            (
                vec![
                    good.clone(),
                    (json!({ "name": "tde/../../outside/evil" }), b"x"),
                ],
                "climbs out of the WALLET_ROOT",
            ),
            (
                vec![
                    good.clone(),
                    (json!({ "name": "tde/run", "mode": 0o4755 }), b"x"),
                ],
                "has mode 4755",
            ),
            (
                vec![
                    good.clone(),
                    (json!({ "name": "tde/x", "mode": 0o755 }), b"x"),
                ],
                "has mode 0755",
            ),
            (
                vec![
                    good.clone(),
                    (json!({ "path": evil.display().to_string() }), b"x"),
                ],
                "absolute path outside the WALLET_ROOT",
            ),
            (
                vec![good.clone(), (json!({ "name": "link/evil" }), b"x")],
                "is a symbolic link",
            ),
            (
                vec![
                    good.clone(),
                    (json!({ "name": "tde/ewallet.p12" }), b"again"),
                ],
                "appears twice",
            ),
        ];
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        // The audit database changes with each refusal; everything else must not.
        let files = |d: &Path| -> Vec<PathBuf> {
            tree(d)
                .into_iter()
                .filter(|p| !p.to_string_lossy().contains("t.sqlite3"))
                .collect()
        };
        let before = files(dir.path());
        for (i, (entries, want)) in cases.into_iter().enumerate() {
            let b = crafted(dir.path(), &entries);
            let e = restore_wallet(&mut a, &b, None, &root, true).unwrap_err();
            let s = e.to_string();
            assert!(
                s.contains(want) && s.contains("nothing was restored"),
                "{i}: {s}"
            );
            std::fs::remove_file(&b).unwrap();
            assert_eq!(files(dir.path()), before, "{i}: something was written");
        }
        assert!(!evil.exists());
        assert!(
            !root.join("tde/ewallet.p12").exists(),
            "not even the good entry"
        );

        // A link as the last component is refused too, and left as it is.
        std::os::unix::fs::symlink(&evil, root.join("tde/ewallet.p12")).unwrap();
        let b = crafted(dir.path(), std::slice::from_ref(&good));
        let e = restore_wallet(&mut a, &b, None, &root, true).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(!evil.exists());
        std::fs::remove_file(root.join("tde/ewallet.p12")).unwrap();

        // A backup written before names were recorded restores when its paths lie under the
        // WALLET_ROOT given.
        let old = (
            json!({ "path": root.join("tde/ewallet.p12").display().to_string(), "mode": 0o640 }),
            &b"old style"[..],
        );
        std::fs::remove_file(&b).unwrap();
        let b = crafted(dir.path(), &[old]);
        let r = restore_wallet(&mut a, &b, None, &root, false).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            std::fs::read(root.join("tde/ewallet.p12")).unwrap(),
            b"old style"
        );
    }
}
