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
    use crate::databases::{
        is_auto_login_file, keystore_file, open_auto_login, read_auto_login_file, wallet_file,
        wallet_files,
    };
    let report = root.map(wallet_files);
    let wallet = match (file, root) {
        (Some(f), _) => Some(f.to_path_buf()),
        (None, Some(r)) => keystore_file(r),
        (None, None) => None,
    };
    // --file with --files-only: what the file is, from its first bytes.
    let file_report = match file.filter(|_| files_only) {
        Some(f) => Some(wallet_file(f)?),
        None => None,
    };
    let mut contents = None;
    let mut auto_login = None;
    let mut note = None;
    let mut a = None;
    if let Some(w) = wallet.as_ref().filter(|_| !files_only) {
        if file.is_some() && is_auto_login_file(w) {
            // A cwallet.sso holds its own password: nothing is asked.
            let a = opened(&mut a, data)?;
            contents = Some(read_auto_login_file(a, w)?);
            if password_file.is_some() {
                note = Some(format!(
                    "{} is an auto-login wallet: it holds its own password, so the password file was not read.",
                    w.display()
                ));
            }
        } else {
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
                    note = Some("Entries of ewallet.p12 not listed: give the wallet password ($TDEKEY_WALLET_PASSWORD, --password-file, or run in a terminal).".to_owned())
                }
                Some(pw) => {
                    let a = opened(&mut a, data)?;
                    contents = Some(crate::databases::read_wallet_file(a, w, pw)?);
                }
            }
        }
    }
    if let (Some(r), Some(rep), false) = (root, &report, files_only)
        && crate::databases::auto_login_file(r).is_some()
    {
        let a = opened(&mut a, data)?;
        auto_login = open_auto_login(a, r, rep);
    }
    if json_out {
        let auto_json = match &auto_login {
            None => serde_json::Value::Null,
            Some(Ok(c)) => serde_json::to_value(c)?,
            Some(Err(e)) => serde_json::json!({ "error": e }),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "wallet_root": report,
                "wallet": contents,
                "auto_login_wallet": auto_json,
                "file": file_report,
                "note": note,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(r) = &report {
        print_root(r);
    }
    if let Some(f) = &file_report {
        print_file(f);
    }
    if let (Some(c), Some(w)) = (&contents, &wallet) {
        print_contents(&w.display().to_string(), c);
    }
    match (
        &auto_login,
        root.and_then(crate::databases::auto_login_file),
    ) {
        (Some(Ok(c)), Some(f)) => print_contents(&f.display().to_string(), c),
        (Some(Err(e)), _) => println!("! {e}"),
        _ => {}
    }
    if let Some(n) = note {
        println!("{n}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The auditor, opened the first time it is needed.
fn opened<'a>(
    slot: &'a mut Option<crate::audit::Auditor>,
    data: &DataDir,
) -> Result<&'a mut crate::audit::Auditor, CliError> {
    match slot {
        Some(a) => Ok(a),
        None => Ok(slot.insert(auditor(data)?)),
    }
}

fn size_of(f: &crate::wallet::FileInfo) -> String {
    f.size
        .map(|s| format!("{s} bytes"))
        .unwrap_or_else(|| "directory".into())
}

fn print_root(r: &crate::wallet::RootReport) {
    println!("{}", r.layout.heading(&r.root));
    for f in &r.files {
        match (&f.mode, &f.owner) {
            (Some(m), Some(o)) => println!("  {}  {m} {o}  {}", f.path, size_of(f)),
            _ => println!("  {}  (absent)", f.path),
        }
    }
    for b in &r.backups {
        println!("  backup: {b}");
    }
    let sso = |a: &crate::wallet::AutoLoginFile, indent: &str| match &a.problem {
        Some(p) => println!("{indent}! {p}"),
        None => println!("{indent}{}: {}", a.path, a.describe()),
    };
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
        if let Some(a) = &k.auto_login {
            sso(a, "    ");
        }
    }
    for a in &r.auto_login {
        sso(a, "  ");
    }
    for w in &r.warnings {
        println!("  ! {w}");
    }
}

fn print_file(f: &crate::wallet::FileReport) {
    let i = &f.file;
    println!(
        "File {}  {} {}  {}",
        i.path,
        i.mode.as_deref().unwrap_or("?"),
        i.owner.as_deref().unwrap_or("?"),
        size_of(i)
    );
    match (f.format, &f.auto_login) {
        ("auto-login", Some(a)) => match &a.problem {
            Some(p) => println!("  ! {p}"),
            None => println!(
                "  an auto-login wallet (cwallet.sso): {}; without --files-only its entries are listed, no password needed",
                a.describe()
            ),
        },
        ("pkcs12", _) => println!(
            "  a PKCS#12 wallet (the ewallet.p12 format): its entries need the wallet password, not asked with --files-only"
        ),
        _ => println!(
            "  ! not a wallet file tdekey knows: it starts neither with the cwallet.sso header (A1 F8 4E) nor like a PKCS#12 file"
        ),
    }
}

fn print_contents(title: &str, c: &crate::wallet::WalletContents) {
    use crate::wallet::EntryKind;
    match &c.auto_login {
        Some(h) => println!(
            "{title}: {}, opened without a password: {}",
            h.kind.describe(),
            c.summary()
        ),
        None => println!("{title}: {}", c.summary()),
    }
    println!(
        "  encryption {}; MAC {} ({} iterations)",
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
