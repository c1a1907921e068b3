//! The wallets the report can open: the keystore under a WALLET_ROOT (with the password, or its
//! auto-login copy), Oracle's backups beside it, isolated PDBs' keystores, and tdekey's own
//! wallet backups. Each master key entry becomes a place; what cannot be opened, a line.

use super::RecoverError;
use super::gather::Sources;
use super::model::{Builder, KeyKind, Place};
use crate::audit::{Action, Auditor, Entry};
use crate::databases;
use crate::tde::labels::wallet_entry_master_key;
use crate::tde::layout;
use crate::wallet::{self, EntryKind, WalletContents};
use std::path::{Path, PathBuf};

/// The master keys in one opened wallet, as places.
fn entries(contents: &WalletContents, mut place: impl FnMut(String) -> Place, b: &mut Builder) {
    for e in &contents.entries {
        if e.kind != EntryKind::MasterKey {
            continue;
        }
        let id = wallet_entry_master_key(&e.name).or_else(|| {
            e.master_key_id
                .as_deref()
                .and_then(|h| crate::tde::labels::parse_masterkeyid(h).ok().flatten())
        });
        if let Some(id) = id {
            b.kind(id, KeyKind::Software);
            b.place(id, place(e.name.clone()));
        }
    }
}

/// `ewallet.p12` (or, without a password, `cwallet.sso`) and Oracle's `ewallet_*.p12` backups
/// under a WALLET_ROOT, and the keystores of isolated PDBs beside it.
pub(super) fn wallets(a: &mut Auditor, root: &Path, src: &Sources<'_>, b: &mut Builder) {
    if !root.is_dir() {
        b.unread(
            root.display().to_string(),
            "there is no such directory here: give the database's WALLET_ROOT, or a copy of it, with --wallet-root DIR",
            false,
        );
        return;
    }
    let report = wallet::inspect_root(root);
    let mut dirs = vec![match report.layout {
        wallet::RootLayout::WalletRoot => root.join(layout::KEYSTORE_DIR),
        wallet::RootLayout::WalletDirectory => root.to_path_buf(),
    }];
    for p in &report.pdb_keystores {
        dirs.push(root.join(&p.guid).join(layout::KEYSTORE_DIR));
    }
    for dir in dirs {
        let current = dir.join(layout::EWALLET);
        let sso = dir.join(layout::CWALLET);
        match (&src.wallet_password, current.is_file()) {
            (Some(pw), true) => match databases::read_wallet_file(a, &current, pw.clone()) {
                Ok(c) => entries(
                    &c,
                    |entry| Place::CurrentWallet {
                        path: current.clone(),
                        entry,
                    },
                    b,
                ),
                Err(e) => {
                    b.unread(current.display().to_string(), e.to_string(), false);
                    // A wrong password does not hide what the auto-login copy beside it holds.
                    if sso.is_file() {
                        auto_login(a, &sso, b);
                    }
                }
            },
            _ if sso.is_file() => auto_login(a, &sso, b),
            (None, true) => b.unread(
                current.display().to_string(),
                "no wallet password was given (TDEKEY_WALLET_PASSWORD) and there is no auto-login cwallet.sso beside it",
                false,
            ),
            (_, false) => {
                if dir == root.join(layout::KEYSTORE_DIR) || dir == root {
                    b.unread(
                        current.display().to_string(),
                        "there is no file keystore here",
                        false,
                    );
                }
            }
        }
        let backups: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(layout::is_backup_name)
                            // Only regular files: a FIFO under that name would block the read.
                            && p.is_file()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut backups = backups;
        backups.sort();
        for f in backups {
            let Some(pw) = &src.wallet_password else {
                b.unread(
                    f.display().to_string(),
                    "Oracle's keystore backup opens with the wallet password: none was given",
                    false,
                );
                continue;
            };
            match databases::read_wallet_file(a, &f, pw.clone()) {
                Ok(c) => entries(
                    &c,
                    |entry| Place::OracleBackup {
                        path: f.clone(),
                        entry,
                    },
                    b,
                ),
                Err(e) => b.unread(f.display().to_string(), e.to_string(), false),
            }
        }
    }
}

/// The auto-login `cwallet.sso` of a keystore, which opens without the wallet password.
fn auto_login(a: &mut Auditor, sso: &Path, b: &mut Builder) {
    match databases::read_auto_login_file(a, sso) {
        Ok(c) => entries(
            &c,
            |entry| Place::CurrentWallet {
                path: sso.to_path_buf(),
                entry,
            },
            b,
        ),
        Err(e) => b.unread(sso.display().to_string(), e.to_string(), false),
    }
}

/// One of tdekey's wallet backups: opened (recorded as `wallet.backup_check`), each keystore
/// file in it read with the wallet password (a `cwallet.sso` without one).
pub(super) fn sealed_backup(a: &mut Auditor, file: &Path, src: &Sources<'_>, b: &mut Builder) {
    let pass = src.backup_passphrase.as_ref();
    let entry = Entry::new(Action::WalletBackupCheck, file.display().to_string());
    let opened = a
        .act(entry, |step| {
            let files = databases::read_backup(file, pass)?;
            step.note("files", files.len());
            step.note("for", "recoverability");
            Ok::<_, databases::DatabaseError>(files)
        })
        .map_err(|e| e.to_string())
        .and_then(|acted| {
            acted
                .into_result::<RecoverError>("The wallet backup was opened")
                .map_err(|e| e.to_string())
        });
    let files = match opened {
        Ok(f) => f,
        Err(e) => {
            b.unread(file.display().to_string(), e, false);
            return;
        }
    };
    for (f, bytes) in files {
        let inner = f.name.clone().unwrap_or_else(|| f.path.clone());
        let base = Path::new(&inner)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let contents = if base == layout::CWALLET {
            wallet::open_sso_named(&bytes, None, &inner).map_err(|e| e.to_string())
        } else if base.ends_with(".p12") {
            match &src.wallet_password {
                Some(pw) => wallet::read_wallet(&bytes, pw, &inner).map_err(|e| e.to_string()),
                None => Err(
                    "it opens with the wallet password: none was given (TDEKEY_WALLET_PASSWORD)"
                        .to_owned(),
                ),
            }
        } else {
            continue;
        };
        match contents {
            Ok(c) => entries(
                &c,
                |entry| Place::SealedBackup {
                    file: file.to_path_buf(),
                    inner: inner.clone(),
                    entry,
                },
                b,
            ),
            Err(e) => b.unread(format!("{} ({inner})", file.display()), e, false),
        }
    }
}
