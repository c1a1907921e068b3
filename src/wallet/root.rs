//! The keystore files of a WALLET_ROOT: who can read them, backups, isolated PDB keystores, and
//! which kind of auto-login wallet a `cwallet.sso` is (from its header, without opening it).

use super::sso::{SsoKind, header_of, kind_of};
use crate::tde::layout;
use serde::Serialize;

/// A file or directory under WALLET_ROOT.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub exists: bool,
    pub size: Option<u64>,
    /// Permission bits, octal.
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<u32>,
}

/// What is in a WALLET_ROOT.
#[derive(Debug, Clone, Serialize)]
pub struct RootReport {
    pub root: String,
    pub files: Vec<FileInfo>,
    /// `tde/ewallet_<timestamp>_<tag>.p12` backups.
    pub backups: Vec<String>,
    /// Isolated PDB keystores: `<WALLET_ROOT>/<PDB GUID>/tde/`.
    pub pdb_keystores: Vec<PdbKeystore>,
    pub warnings: Vec<String>,
    /// Each `cwallet.sso` found (`tde/` first, then `tde_seps/`), with its kind from the
    /// header. Added after the fields above; they keep their names and meaning.
    pub auto_login: Vec<AutoLoginFile>,
    /// Whether the directory is a WALLET_ROOT (`tde/ewallet.p12`) or a wallet directory of
    /// the layout before WALLET_ROOT (`ewallet.p12` directly in it). Added after the fields
    /// above.
    pub layout: RootLayout,
}

/// How the keystore files sit in the directory that was inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootLayout {
    /// `<WALLET_ROOT>/tde/ewallet.p12` (18c and later).
    WalletRoot,
    /// `ewallet.p12` (or `cwallet.sso`) directly in the directory and no `tde/`: the layout
    /// before WALLET_ROOT, named by `ENCRYPTION_WALLET_LOCATION` in sqlnet.ora.
    WalletDirectory,
}

impl RootLayout {
    /// The heading line of a report: `WALLET_ROOT /u01/…` or `Wallet directory /u01/… (…)`.
    pub fn heading(&self, root: &str) -> String {
        match self {
            RootLayout::WalletRoot => format!("WALLET_ROOT {root}"),
            RootLayout::WalletDirectory => format!(
                "Wallet directory {root}: ewallet.p12 is directly in it, the layout before WALLET_ROOT (ENCRYPTION_WALLET_LOCATION in sqlnet.ora); with WALLET_ROOT it would be in {root}/tde/"
            ),
        }
    }
}

impl AutoLoginFile {
    /// What to say about it: its kind and header, or why it cannot be read.
    pub fn describe(&self) -> String {
        match (&self.problem, &self.kind, &self.header) {
            (Some(p), _, _) => p.clone(),
            (None, Some(k), Some(h)) => format!("{} ({h})", k.describe()),
            _ => "its header cannot be read".to_owned(),
        }
    }
}

/// The layout of `root`: a wallet directory when it has no `tde/` directory and holds
/// `ewallet.p12` or `cwallet.sso` itself.
pub fn layout_of(root: &std::path::Path) -> RootLayout {
    if !root.join(layout::KEYSTORE_DIR).is_dir()
        && (root.join(layout::EWALLET).is_file() || root.join(layout::CWALLET).is_file())
    {
        RootLayout::WalletDirectory
    } else {
        RootLayout::WalletRoot
    }
}

/// A `cwallet.sso` and what its header says; the file is not decrypted.
#[derive(Debug, Clone, Serialize)]
pub struct AutoLoginFile {
    pub path: String,
    /// `auto-login` or `local-auto-login`; `None` when the header cannot be read.
    pub kind: Option<SsoKind>,
    /// The header in words: `type 0x36, header version 6, scheme 0x06 (AES-128)`.
    pub header: Option<String>,
    /// Why the header cannot be read, as a sentence.
    pub problem: Option<String>,
}

/// An isolated PDB's keystore under WALLET_ROOT.
#[derive(Debug, Clone, Serialize)]
pub struct PdbKeystore {
    /// The directory name: the PDB's GUID (32 hex digits).
    pub guid: String,
    pub files: Vec<FileInfo>,
    pub backups: Vec<String>,
    /// The PDB's `tde/cwallet.sso`, when there is one.
    pub auto_login: Option<AutoLoginFile>,
}

fn backups_in(tde: &std::path::Path) -> Vec<String> {
    let mut backups: Vec<String> = std::fs::read_dir(tde)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| layout::is_backup_name(n))
                .collect()
        })
        .unwrap_or_default();
    backups.sort();
    backups
}

/// Warnings about who can read keystore files.
fn permission_warnings(paths: &[std::path::PathBuf], files: &[FileInfo], out: &mut Vec<String>) {
    for (p, f) in paths.iter().zip(files) {
        // No permission bits to read on this platform: nothing to warn about.
        let Some(mode) = std::fs::metadata(p)
            .ok()
            .and_then(|m| crate::paths::mode_of(&m))
        else {
            continue;
        };
        let others = mode & 0o077;
        if p.ends_with(layout::CWALLET) && others != 0 {
            out.push(format!(
                "{} (auto-login) is readable by {} (mode {}): anyone who can read it can open the keystore without a password. Make it 0600, owned by the database owner.",
                p.display(),
                if mode & 0o007 != 0 { "other users" } else { "its group" },
                f.mode.as_deref().unwrap_or("?")
            ));
        } else if p.ends_with(layout::EWALLET) && mode & 0o007 != 0 {
            out.push(format!(
                "{} is readable by other users (mode {}): it is only as strong as its password against them. Make it 0600.",
                p.display(),
                f.mode.as_deref().unwrap_or("?")
            ));
        }
    }
}

fn is_pdb_guid(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn info(path: &std::path::Path) -> FileInfo {
    let meta = std::fs::metadata(path).ok();
    let owner = meta.as_ref().and_then(crate::paths::owner_of);
    FileInfo {
        path: path.display().to_string(),
        exists: meta.is_some(),
        size: meta.as_ref().filter(|m| m.is_file()).map(|m| m.len()),
        mode: meta
            .as_ref()
            .and_then(crate::paths::mode_of)
            .map(|m| format!("{m:04o}")),
        owner: owner.map(|(uid, _)| crate::paths::user_name(uid)),
        group: owner.map(|(_, gid)| gid),
    }
}

/// Lists the keystore files of a WALLET_ROOT, with warnings about their permissions.
pub fn inspect_root(root: &std::path::Path) -> RootReport {
    let kind = layout_of(root);
    if kind == RootLayout::WalletDirectory {
        return inspect_wallet_directory(root);
    }
    let tde = root.join(layout::KEYSTORE_DIR);
    let seps = root.join(layout::SEPS_DIR);
    let paths = [
        tde.join(layout::EWALLET),
        tde.join(layout::CWALLET),
        seps.clone(),
        seps.join(layout::CWALLET),
    ];
    let files: Vec<FileInfo> = paths.iter().map(|p| info(p)).collect();
    let backups = backups_in(&tde);
    let mut warnings = Vec::new();
    let mut pdb_keystores = Vec::new();
    if !root.is_dir() {
        warnings.push(format!(
            "{} is not a directory: check WALLET_ROOT.",
            root.display()
        ));
    } else {
        let mut guids: Vec<String> = std::fs::read_dir(root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| is_pdb_guid(n) && root.join(n).join(layout::KEYSTORE_DIR).is_dir())
                    .collect()
            })
            .unwrap_or_default();
        guids.sort();
        for guid in guids {
            let pdb_tde = root.join(&guid).join(layout::KEYSTORE_DIR);
            let pdb_paths = [pdb_tde.join(layout::EWALLET), pdb_tde.join(layout::CWALLET)];
            let pdb_files: Vec<FileInfo> = pdb_paths.iter().map(|p| info(p)).collect();
            permission_warnings(&pdb_paths, &pdb_files, &mut warnings);
            pdb_keystores.push(PdbKeystore {
                guid,
                files: pdb_files,
                backups: backups_in(&pdb_tde),
                auto_login: auto_login_file(&pdb_paths[1]),
            });
        }
        if !files[0].exists && pdb_keystores.is_empty() {
            warnings.push(format!("No {}: the software keystore has not been created here (or WALLET_ROOT points elsewhere).", paths[0].display()));
        }
    }
    permission_warnings(&paths, &files, &mut warnings);
    let auto_login = [&paths[1], &paths[3]]
        .into_iter()
        .filter_map(|p| auto_login_file(p))
        .collect();
    RootReport {
        root: root.display().to_string(),
        files,
        backups,
        pdb_keystores,
        warnings,
        auto_login,
        layout: kind,
    }
}

/// A wallet directory of the layout before WALLET_ROOT: `ewallet.p12`, `cwallet.sso` and
/// Oracle's backups directly in it.
fn inspect_wallet_directory(root: &std::path::Path) -> RootReport {
    let paths = [root.join(layout::EWALLET), root.join(layout::CWALLET)];
    let files: Vec<FileInfo> = paths.iter().map(|p| info(p)).collect();
    let mut warnings = vec![format!(
        "{} holds the keystore itself, not in tde/: a wallet directory of the layout before WALLET_ROOT. Once WALLET_ROOT is set, Oracle looks for the keystore in <WALLET_ROOT>/tde/.",
        root.display()
    )];
    permission_warnings(&paths, &files, &mut warnings);
    RootReport {
        root: root.display().to_string(),
        files,
        backups: backups_in(root),
        pdb_keystores: Vec::new(),
        warnings,
        auto_login: auto_login_file(&paths[1]).into_iter().collect(),
        layout: RootLayout::WalletDirectory,
    }
}

/// What a single wallet file is, from its first bytes: for `--file … --files-only`.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: FileInfo,
    /// `auto-login` (a `cwallet.sso`, with its header), `pkcs12` (an `ewallet.p12`-like file,
    /// whose entries need the password) or `unknown`.
    pub format: &'static str,
    /// For a `cwallet.sso`: its kind and header, or why they cannot be read.
    pub auto_login: Option<AutoLoginFile>,
}

/// Reads the first bytes of `path` and says what kind of wallet file it is; nothing is
/// decrypted.
pub fn inspect_file(path: &std::path::Path) -> Result<FileReport, super::WalletError> {
    use std::io::Read;
    let name = path.display().to_string();
    let io = |e: std::io::Error| super::WalletError::Io {
        path: name.clone(),
        detail: e.to_string(),
    };
    let mut head = Vec::with_capacity(13);
    std::fs::File::open(path)
        .and_then(|f| f.take(13).read_to_end(&mut head))
        .map_err(io)?;
    let (format, auto_login) = if super::sso::is_auto_login(&head) {
        ("auto-login", auto_login_file(path))
    } else if head.first() == Some(&0x30) {
        ("pkcs12", None)
    } else {
        ("unknown", None)
    };
    Ok(FileReport {
        file: info(path),
        format,
        auto_login,
    })
}

/// The header of `path`, when it is a file: its first 13 bytes only.
fn auto_login_file(path: &std::path::Path) -> Option<AutoLoginFile> {
    use std::io::Read;
    if !path.is_file() {
        return None;
    }
    let name = path.display().to_string();
    let mut head = Vec::with_capacity(13);
    let read = std::fs::File::open(path).and_then(|f| f.take(13).read_to_end(&mut head));
    let mut out = AutoLoginFile {
        path: name.clone(),
        kind: None,
        header: None,
        problem: None,
    };
    if let Err(e) = read {
        out.problem = Some(format!("Cannot read {name}: {e}."));
        return Some(out);
    }
    match kind_of(&head, &name) {
        Ok(kind) => match header_of(&head, &name) {
            Ok(h) => {
                out.header = Some(h.describe());
                out.problem = h.problem().map(|p| format!("{name}: {p}."));
                // A header version tdekey does not read does not vouch for the kind byte.
                out.kind = Some(kind).filter(|_| h.version == 6);
            }
            Err(e) => {
                out.kind = Some(kind);
                out.problem = Some(e.to_string());
            }
        },
        Err(e) => out.problem = Some(e.to_string()),
    }
    Some(out)
}

/// Warnings for a RAC database (`rac`): every local auto-login wallet in the report, since a
/// local auto-login wallet opens only on the host that made it and each node's host name
/// differs. Nothing when `rac` is false.
pub fn rac_warnings(report: &RootReport, rac: bool) -> Vec<String> {
    if !rac {
        return Vec::new();
    }
    report
        .auto_login
        .iter()
        .chain(report.pdb_keystores.iter().filter_map(|k| k.auto_login.as_ref()))
        .filter(|a| a.kind == Some(SsoKind::LocalAutoLogin))
        .map(|a| {
            format!(
                "{} is a local auto-login wallet: a local auto-login wallet is not supported on RAC (it opens only on the host that created it, and each node's host name differs). Create an ordinary auto-login wallet (CREATE AUTO_LOGIN KEYSTORE, without LOCAL) on storage every node shares.",
                a.path
            )
        })
        .collect()
}
