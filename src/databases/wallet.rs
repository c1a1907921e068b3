//! Reading a wallet on this machine: the keystore files of a WALLET_ROOT (no password, not
//! recorded: file modes only) and, with the password, the entries of `ewallet.p12`, which is
//! recorded (`wallet.inspect`) whether it opens or not. Key values are never kept.

use super::DatabaseError;
use crate::audit::{Action, Auditor, Entry};
use crate::secret::Secret;
use crate::tde::layout;
use crate::wallet::{self, RootReport, WalletContents};
use std::path::{Path, PathBuf};

/// What the inspector found under a WALLET_ROOT.
#[derive(Clone, Debug)]
pub struct WalletReport {
    pub report: RootReport,
    /// With a password: the entries of ewallet.p12, or why they could not be read.
    pub contents: Option<Result<WalletContents, String>>,
}

/// The keystore files of a WALLET_ROOT (owners, modes, backups, isolated PDB keystores) with
/// warnings about who can read them. Nothing is opened, so nothing is recorded.
pub fn wallet_files(root: &Path) -> RootReport {
    wallet::inspect_root(root)
}

/// `WALLET_ROOT/tde/ewallet.p12`, when it exists.
pub fn keystore_file(root: &Path) -> Option<PathBuf> {
    Some(root.join(layout::KEYSTORE_DIR).join(layout::EWALLET)).filter(|f| f.is_file())
}

/// The files of a WALLET_ROOT and, with the password, the entries of its `tde/ewallet.p12`.
pub fn inspect_wallet_root(a: &mut Auditor, root: &Path, password: Option<Secret>) -> WalletReport {
    let report = wallet_files(root);
    let file = root.join(layout::KEYSTORE_DIR).join(layout::EWALLET);
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
    WalletReport { report, contents }
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
