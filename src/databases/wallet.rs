//! Reading a wallet on this machine: the keystore files of a WALLET_ROOT (no password, not
//! recorded: file modes only), with the password the entries of `ewallet.p12`, and without one
//! the entries of an auto-login `cwallet.sso` (which holds its own password). Opening either is
//! recorded (`wallet.inspect`) whether it opens or not. Key values are never kept.

use super::DatabaseError;
use crate::audit::{Action, Auditor, Entry};
use crate::secret::Secret;
use crate::tde::layout;
use crate::wallet::{self, RootLayout, RootReport, WalletContents};
use std::path::{Path, PathBuf};

/// What the inspector found under a WALLET_ROOT.
#[derive(Clone, Debug)]
pub struct WalletReport {
    pub report: RootReport,
    /// With a password: the entries of ewallet.p12, or why they could not be read.
    pub contents: Option<Result<WalletContents, String>>,
    /// The keystore's auto-login `cwallet.sso`, opened without a password (as `orapki wallet
    /// display` does): its entries, or why it cannot be opened. `None` when there is none or
    /// its header already says it cannot be read (the report names the problem).
    pub auto_login: Option<Result<WalletContents, String>>,
}

/// The keystore files of a WALLET_ROOT (owners, modes, backups, isolated PDB keystores) with
/// warnings about who can read them. Nothing is opened, so nothing is recorded.
pub fn wallet_files(root: &Path) -> RootReport {
    wallet::inspect_root(root)
}

/// The directory that holds the keystore: `WALLET_ROOT/tde`, or the directory itself for a
/// wallet directory of the layout before WALLET_ROOT (`ewallet.p12` directly in it).
fn keystore_dir(root: &Path) -> PathBuf {
    match wallet::layout_of(root) {
        RootLayout::WalletRoot => root.join(layout::KEYSTORE_DIR),
        RootLayout::WalletDirectory => root.to_path_buf(),
    }
}

/// What a single wallet file is, from its first bytes (kind and header of a `cwallet.sso`,
/// or a PKCS#12 file); nothing is decrypted, so nothing is recorded.
pub fn wallet_file(file: &Path) -> Result<wallet::FileReport, DatabaseError> {
    Ok(wallet::inspect_file(file)?)
}

/// `WALLET_ROOT/tde/ewallet.p12` (or `ewallet.p12` of a wallet directory), when it exists.
pub fn keystore_file(root: &Path) -> Option<PathBuf> {
    Some(keystore_dir(root).join(layout::EWALLET)).filter(|f| f.is_file())
}

/// `WALLET_ROOT/tde/cwallet.sso` (or `cwallet.sso` of a wallet directory), when it exists.
pub fn auto_login_file(root: &Path) -> Option<PathBuf> {
    Some(keystore_dir(root).join(layout::CWALLET)).filter(|f| f.is_file())
}

/// Whether `file` starts with the `cwallet.sso` header (`A1 F8 4E`); false when it cannot be
/// read (opening it then says why).
pub fn is_auto_login_file(file: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(3);
    std::fs::File::open(file)
        .and_then(|f| f.take(3).read_to_end(&mut head))
        .is_ok()
        && wallet::is_auto_login(&head)
}

/// Opens an auto-login `cwallet.sso` without a password (it holds its own) and lists its
/// entries, recorded as `wallet.inspect`. A local auto-login wallet opens only on the host
/// and for the OS user that made it; elsewhere the error says so.
pub fn read_auto_login_file(a: &mut Auditor, file: &Path) -> Result<WalletContents, DatabaseError> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| DatabaseError::Unreadable {
        path: name.clone(),
        detail: e.to_string(),
    })?;
    a.attempt(Entry::new(Action::WalletInspect, &name), |step| {
        if let Ok(h) = wallet::sso_header(&bytes) {
            step.note("auto_login", h.kind.describe());
        }
        let contents = wallet::open_sso_named(&bytes, None, &name);
        if let Ok(c) = &contents {
            step.note("entries", c.entries.len());
            step.note("encryption", c.encryption.as_str());
        }
        contents
    })
    .into_result("The auto-login wallet was read")
}

/// The files of a WALLET_ROOT and, with the password, the entries of its `tde/ewallet.p12`.
pub fn inspect_wallet_root(a: &mut Auditor, root: &Path, password: Option<Secret>) -> WalletReport {
    let report = wallet_files(root);
    let file = keystore_dir(root).join(layout::EWALLET);
    let contents = match password {
        Some(pw) if file.is_file() => {
            Some(read_wallet_file(a, &file, pw).map_err(|e| e.to_string()))
        }
        Some(_) => Some(Err(format!(
            "There is no {} to open with the password.",
            file.display()
        ))),
        None => None,
    };
    let auto_login = open_auto_login(a, root, &report);
    WalletReport {
        report,
        contents,
        auto_login,
    }
}

/// Opens the keystore's `cwallet.sso` when its header was read without a problem.
pub fn open_auto_login(
    a: &mut Auditor,
    root: &Path,
    report: &RootReport,
) -> Option<Result<WalletContents, String>> {
    let file = auto_login_file(root)?;
    let name = file.display().to_string();
    let readable = report
        .auto_login
        .iter()
        .any(|f| f.path == name && f.problem.is_none() && f.kind.is_some());
    readable.then(|| read_auto_login_file(a, &file).map_err(|e| e.to_string()))
}

/// Opens a wallet file with its password and lists its entries, recorded as `wallet.inspect`.
/// The password is dropped before the entry is written.
pub fn read_wallet_file(
    a: &mut Auditor,
    file: &Path,
    password: Secret,
) -> Result<WalletContents, DatabaseError> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| DatabaseError::Unreadable {
        path: name.clone(),
        detail: e.to_string(),
    })?;
    a.attempt(Entry::new(Action::WalletInspect, &name), |step| {
        let contents = wallet::read_wallet(&bytes, &password, &name);
        drop(password);
        if let Ok(c) = &contents {
            step.note("entries", c.entries.len());
            step.note("encryption", c.encryption.as_str());
        }
        contents
    })
    .into_result("The wallet was read")
}
