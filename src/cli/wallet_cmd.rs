//! `tdekey wallet`: a WALLET_ROOT's keystore files and, with the password, the entries of
//! ewallet.p12 (never their values); sealed backups of the keystore files, checked and restored.

use super::hsm_cmd::auditor;
use super::{CliError, WalletCommand, read_secret};
use crate::paths::DataDir;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, command: WalletCommand) -> Result<ExitCode, CliError> {
    match command {
        WalletCommand::Inspect {
            wallet_root,
            file,
            password_file,
            files_only,
            json,
        } => inspect(
            data,
            wallet_root.as_deref(),
            file.as_deref(),
            password_file.as_deref(),
            files_only,
            json,
        ),
        WalletCommand::Backup {
            wallet_root,
            out,
            passphrase_file,
            unencrypted,
        } => backup(
            data,
            &wallet_root,
            out.as_deref(),
            passphrase_file.as_deref(),
            unencrypted,
        ),
        WalletCommand::CheckBackup {
            input,
            passphrase_file,
            json,
        } => check_backup(data, &input, passphrase_file.as_deref(), json),
        WalletCommand::Restore {
            input,
            passphrase_file,
            wallet_root,
            force,
        } => restore(
            data,
            &input,
            passphrase_file.as_deref(),
            &wallet_root,
            force,
        ),
    }
}

const PASSPHRASE_ENV: &str = "TDEKEY_BACKUP_PASSPHRASE";

fn backup(
    data: &DataDir,
    root: &Path,
    out: Option<&Path>,
    passphrase_file: Option<&Path>,
    unencrypted: bool,
) -> Result<ExitCode, CliError> {
    let files = crate::databases::keystore_backup_files(root)?;
    let out = match out {
        Some(o) => o.to_path_buf(),
        None => data.root().join("backups").join(format!(
            "wallet-{}.tdkb",
            chrono::DateTime::from_timestamp_millis(crate::model::now_ms())
                .unwrap_or_default()
                .format("%Y%m%dT%H%M%SZ")
        )),
    };
    let passphrase = if unencrypted {
        None
    } else {
        Some(read_secret(
            PASSPHRASE_ENV,
            passphrase_file,
            "Backup passphrase",
            true,
        )?)
    };
    let mut a = auditor(data)?;
    let b = crate::databases::backup_wallet(&mut a, root, &files, &out, passphrase)?;
    println!(
        "Backup {} written and read back ({} files, {}).",
        b.file,
        b.files.len(),
        if b.encrypted {
            "sealed under the passphrase"
        } else {
            "NOT encrypted: keep it as safe as the wallet itself"
        }
    );
    println!("  SHA-256 {}", b.sha256);
    for f in &b.files {
        println!(
            "  {}  {:o}  {} bytes  SHA-256 {}",
            f.path,
            f.mode & 0o7777,
            f.size,
            f.sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The passphrase, asked only when the backup is sealed.
fn backup_passphrase(
    input: &Path,
    file: Option<&Path>,
) -> Result<Option<crate::secret::Secret>, CliError> {
    if crate::databases::backup_is_sealed(input)? {
        Ok(Some(read_secret(
            PASSPHRASE_ENV,
            file,
            "Backup passphrase",
            false,
        )?))
    } else {
        Ok(None)
    }
}

fn check_backup(
    data: &DataDir,
    input: &Path,
    passphrase_file: Option<&Path>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let pass = backup_passphrase(input, passphrase_file)?;
    let mut a = auditor(data)?;
    let listed = crate::databases::check_backup(&mut a, input, pass)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} files, each matches its SHA-256.",
        input.display(),
        listed.len()
    );
    for f in &listed {
        let here = match std::fs::read(&f.path) {
            Ok(b) if crate::databases::sha256_hex(&b) == f.sha256 => "on disk: the same",
            Ok(_) => "on disk: DIFFERENT",
            Err(_) => "on disk: absent",
        };
        println!(
            "  {}  {:o}  {} bytes  ({here})",
            crate::model::printable(&f.path),
            f.mode & 0o7777,
            f.size
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn restore(
    data: &DataDir,
    input: &Path,
    passphrase_file: Option<&Path>,
    root: &Path,
    force: bool,
) -> Result<ExitCode, CliError> {
    let pass = backup_passphrase(input, passphrase_file)?;
    let mut a = auditor(data)?;
    let restored = crate::databases::restore_wallet(&mut a, input, pass, root, force)?;
    for r in &restored {
        println!(
            "  {}  {}",
            crate::model::printable(&r.path),
            if r.unchanged {
                "already the same: left alone"
            } else {
                "restored"
            }
        );
    }
    println!(
        "Restored {} of {} files. If the database had the keystore open, close and open it (ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE / OPEN) or restart it.",
        restored.iter().filter(|r| !r.unchanged).count(),
        restored.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn inspect(
    data: &DataDir,
    root: Option<&std::path::Path>,
    file: Option<&std::path::Path>,
    password_file: Option<&std::path::Path>,
    files_only: bool,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    use crate::databases::{keystore_file, wallet_files};
    use crate::wallet::EntryKind;
    let report = root.map(wallet_files);
    let wallet = match (file, root) {
        (Some(f), _) => Some(f.to_path_buf()),
        (None, Some(r)) => keystore_file(r),
        (None, None) => None,
    };
    let mut contents = None;
    let mut note = None;
    if let Some(w) = wallet.filter(|_| !files_only) {
        let password = match super::read_secret(
            "TDEKEY_WALLET_PASSWORD",
            password_file,
            &format!("Password of {}", w.display()),
            false,
        ) {
            Ok(p) => Some(p),
            Err(e) if password_file.is_some() => return Err(e),
            Err(_) => None,
        };
        match password {
            None => {
                note = Some("Entries not listed: give the wallet password ($TDEKEY_WALLET_PASSWORD, --password-file, or run in a terminal).".to_owned())
            }
            Some(pw) => {
                let mut a = auditor(data)?;
                contents = Some(crate::databases::read_wallet_file(&mut a, &w, pw)?);
            }
        }
    }
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "wallet_root": report,
                "wallet": contents,
                "note": note,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(r) = &report {
        println!("WALLET_ROOT {}", r.root);
        for f in &r.files {
            match (&f.mode, &f.owner) {
                (Some(m), Some(o)) => println!(
                    "  {}  {m} {o}  {}",
                    f.path,
                    f.size
                        .map(|s| format!("{s} bytes"))
                        .unwrap_or_else(|| "directory".into())
                ),
                _ => println!("  {}  (absent)", f.path),
            }
        }
        for b in &r.backups {
            println!("  backup: {b}");
        }
        for k in &r.pdb_keystores {
            println!("  isolated PDB keystore {}:", k.guid);
            for f in &k.files {
                match &f.mode {
                    Some(m) => {
                        println!("    {}  {m} {}", f.path, f.owner.as_deref().unwrap_or("?"))
                    }
                    None => println!("    {}  (absent)", f.path),
                }
            }
            for b in &k.backups {
                println!("    backup: {b}");
            }
        }
        for w in &r.warnings {
            println!("  ! {w}");
        }
    }
    if let Some(c) = &contents {
        println!(
            "Wallet: {}; MAC {} ({} iterations)",
            c.encryption, c.mac, c.iterations
        );
        for e in &c.entries {
            let what = match e.kind {
                EntryKind::MasterKey if e.current => "master key (current)",
                EntryKind::MasterKey => "master key",
                EntryKind::CurrentKeyPointer => "names the current key",
                EntryKind::KeyMetadata => "key metadata",
                EntryKind::Identity => "identity",
                EntryKind::KeyBag => "key bag",
                EntryKind::Tablespace => "tablespace key",
                EntryKind::Other => "other",
            };
            println!("  {:<24} {}", what, e.name);
            if let (EntryKind::CurrentKeyPointer, Some(k)) = (e.kind, &e.key_id) {
                println!("  {:<24} -> {k}", "");
            }
        }
        println!("(Key values are never shown.)");
    }
    if let Some(n) = note {
        println!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}
