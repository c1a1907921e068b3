//! `tdekey recoverability NAME`: can everything the database's data and backups need still be
//! decrypted? Exit 0 when every key is found, 4 when one is found nowhere, 1 when a source a
//! complete answer needs could not be read.

use super::args_recover::RecoverabilityArgs;
use super::db_cmd::TerminalOperator;
use super::hsm_cmd::auditor;
use super::{CliError, read_secret};
use crate::databases;
use crate::oracle::Operator;
use crate::paths::DataDir;
use crate::recover::{self, Recoverability, Sources};
use crate::secret::Secret;
use crate::session;
use std::io::IsTerminal;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, args: RecoverabilityArgs) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    let db = databases::get(&a, &args.name)
        .map_err(|e| CliError(format!("{e} (see `tdekey db list`)")))?;
    let super::DatabaseLogin {
        target,
        pin_format,
        hsm_password,
        credentials,
        db_password,
        manual,
    } = super::DatabaseLogin::ask(&a, &db, &args.target, &args.login)?;
    drop(hsm_password);
    let wallet_password = wallet_password(&args)?;
    let backup_passphrase = passphrase(&args)?;
    let report = session::with_login(&mut a, &target, credentials, "cli", |a, hsm, _| {
        let mut operator = TerminalOperator;
        let src = Sources {
            data,
            hsm,
            operator: manual.then_some(&mut operator as &mut dyn Operator),
            db_password,
            pin_format,
            token: Some(target.selector.clone()),
            wallet_root: args.wallet_root.clone(),
            wallet_password,
            backups: args.backups.clone(),
            backup_passphrase,
        };
        recover::check(a, &db.name, src).map_err(CliError::from)
    })?;
    for (path, json) in [(&args.html, false), (&args.json_file, true)] {
        if let Some(p) = path {
            recover::write_report(&mut a, &report, p, args.force, json)?;
            eprintln!("Wrote {}", p.display());
        }
    }
    if args.json {
        println!("{}", report.json()?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// The wallet password when the person gives one; on a terminal, Enter alone means none.
fn wallet_password(args: &RecoverabilityArgs) -> Result<Option<Secret>, CliError> {
    const ENV: &str = "TDEKEY_WALLET_PASSWORD";
    if std::env::var_os(ENV).is_some_and(|v| !v.is_empty()) || args.wallet_password_file.is_some() {
        return read_secret(
            ENV,
            args.wallet_password_file.as_deref(),
            "Wallet password",
            false,
        )
        .map(Some);
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = rpassword::prompt_password(
        "Wallet password, to open ewallet.p12 and its backups (not echoed; Enter alone to skip): ",
    )
    .map(Secret::new)
    .map_err(|e| CliError(format!("Could not read the password: {e}")))?;
    Ok((!typed.is_empty()).then_some(typed))
}

/// The backups' passphrase: from the variable or the file when given, else asked only when a
/// backup on the command line is sealed.
fn passphrase(args: &RecoverabilityArgs) -> Result<Option<Secret>, CliError> {
    const ENV: &str = "TDEKEY_BACKUP_PASSPHRASE";
    let given =
        std::env::var_os(ENV).is_some_and(|v| !v.is_empty()) || args.passphrase_file.is_some();
    let mut sealed = false;
    for b in &args.backups {
        sealed |= databases::backup_is_sealed(b)?;
    }
    if given || sealed {
        return read_secret(
            ENV,
            args.passphrase_file.as_deref(),
            "Backup passphrase",
            false,
        )
        .map(Some);
    }
    Ok(None)
}

fn print_report(r: &Recoverability) {
    println!("{}", r.summary());
    for k in &r.keys {
        let state = if k.missing() {
            "MISSING "
        } else if k.unusable() {
            "UNUSABLE"
        } else if k.places.is_empty() && k.unchecked {
            "UNCHECKED"
        } else if k.needs.is_empty() {
            "kept    "
        } else {
            "found   "
        };
        println!("\n{state} {} (MASTERKEYID {})", k.id, k.forms.masterkeyid);
        for n in &k.needs {
            println!("  needed by  {}", n.describe());
        }
        if k.needs.is_empty() {
            println!("  needed by  nothing tdekey can see");
        }
        for p in &k.places {
            println!("  found in   {}", p.describe());
        }
        if k.places.is_empty() {
            println!("  found in   NOWHERE tdekey looked");
        }
    }
    if !r.unread.is_empty() {
        println!("\nNot read:");
        for u in &r.unread {
            println!(
                "  {}{}: {}",
                u.source,
                if u.needed { " (needed)" } else { "" },
                u.why
            );
        }
    }
    println!(
        "\n{} PKCS#11 calls for the HSM lookups; recorded in the audit log{}.",
        r.hsm_calls,
        r.audit_seq
            .map(|s| format!(" as seq {s}"))
            .unwrap_or_default()
    );
}

/// After a migration: what the recoverability report says about retiring the file wallet
/// (audited like any report). A report that cannot be made is said, not an error of the
/// migration.
pub(super) fn before_retiring_wallet(
    a: &mut crate::audit::Auditor,
    db: &crate::model::DatabaseProfile,
    src: Sources<'_>,
) {
    let name = &db.name;
    let Some(root) = recover::local_wallet_root(db, src.data) else {
        println!(
            "Before the file wallet is retired, check that no key the database needs is only there: `tdekey recoverability {name:?} --wallet-root <a copy of its WALLET_ROOT>`."
        );
        return;
    };
    let dir = match crate::wallet::layout_of(&root) {
        crate::wallet::RootLayout::WalletRoot => root.join(crate::tde::layout::KEYSTORE_DIR),
        crate::wallet::RootLayout::WalletDirectory => root,
    };
    match recover::check(a, name, src) {
        Ok(r) => {
            let v = r.before_retiring(&recover::Retiring::FileWallet { dir });
            println!(
                "{} {}",
                if v.safe() {
                    "Recoverability:"
                } else {
                    "RECOVERABILITY:"
                },
                v.sentence
            );
            // Path B: the other HSM is the next thing someone will want to give back.
            if r.keys.iter().any(|k| {
                k.places
                    .iter()
                    .any(|p| matches!(p, recover::Place::OtherHsm { .. }))
            }) {
                let other = r.before_retiring(&recover::Retiring::OtherHsm);
                println!("RECOVERABILITY: {}", other.sentence);
            }
            if r.exit_code() != 0 {
                println!("  {}", r.summary());
            }
            println!("  `tdekey recoverability {name:?}` shows every key and where it is.");
        }
        Err(e) => println!(
            "The recoverability report could not be made ({e}): run `tdekey recoverability {name:?}` before the file wallet is retired."
        ),
    }
}
