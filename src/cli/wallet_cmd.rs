//! `tdekey wallet inspect`: a WALLET_ROOT's keystore files and, with the password, the
//! entries of ewallet.p12 (never their values).

use super::CliError;
use super::hsm_cmd::auditor;
use crate::paths::DataDir;
use std::process::ExitCode;

pub(super) fn inspect(
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
        let password = if let Some(v) = std::env::var_os("TDEKEY_WALLET_PASSWORD") {
            Some(crate::secret::Secret::new(v.to_string_lossy().into_owned()))
        } else if let Some(f) = password_file {
            Some(crate::secret::Secret::from_file(f).map_err(|e| {
                CliError(format!(
                    "Cannot read the password file {}: {e}.",
                    f.display()
                ))
            })?)
        } else {
            rpassword::prompt_password(format!("Password of {} (not echoed): ", w.display()))
                .ok()
                .map(crate::secret::Secret::new)
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
