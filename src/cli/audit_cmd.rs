//! `tdekey audit …`

use super::{AuditCommand, CliError, FilterArgs, FormatArg, hsm_cmd};
use crate::audit::export::{self, Format};
use crate::audit::{Action, Outcome};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::store::AuditFilter;
use serde_json::json;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, cmd: AuditCommand) -> Result<ExitCode, CliError> {
    match cmd {
        AuditCommand::List {
            filter,
            limit,
            json,
        } => list(data, &filter, limit, json),
        AuditCommand::Export {
            format,
            out,
            filter,
            encrypt,
            passphrase_file,
            checkpoint,
            target,
            login,
        } => {
            let code = export_cmd(
                data,
                format,
                &out,
                &filter,
                encrypt,
                passphrase_file.as_deref(),
            )?;
            if checkpoint {
                let mut auditor = hsm_cmd::auditor(data)?;
                let (hsm, _, _, _) = hsm_cmd::open_logged_in(&mut auditor, &target, &login)?;
                let c = crate::audit::checkpoint(&mut auditor, &hsm).map_err(CliError)?;
                println!("Checkpoint {} written at seq {}.", c.id.unwrap_or(0), c.seq);
            }
            Ok(code)
        }
        AuditCommand::Decrypt {
            input,
            out,
            passphrase_file,
        } => decrypt_cmd(data, &input, &out, passphrase_file.as_deref()),
        other => verify_or_checkpoint(data, other),
    }
}

/// Parses RFC 3339 or a plain date (its start, UTC) into milliseconds.
pub fn parse_time(s: &str) -> Result<i64, CliError> {
    crate::audit::parse_time(s).map_err(CliError)
}

pub fn to_filter(f: &FilterArgs) -> Result<AuditFilter, CliError> {
    if let Some(o) = &f.outcome
        && !["started", "success", "failure", "cancelled"].contains(&o.as_str())
    {
        return Err(CliError(format!(
            "Unknown outcome {o:?}: use started, success, failure or cancelled."
        )));
    }
    Ok(AuditFilter {
        since_ms: f.since.as_deref().map(parse_time).transpose()?,
        until_ms: f.until.as_deref().map(parse_time).transpose()?,
        action: f.action.clone(),
        user: f.actor.clone(),
        outcome: f.outcome.clone(),
        text: f.text.clone(),
    })
}

fn list(
    data: &DataDir,
    f: &FilterArgs,
    limit: usize,
    json_out: bool,
) -> Result<ExitCode, CliError> {
    let filter = to_filter(f)?;
    let mut auditor = hsm_cmd::auditor(data)?;
    let rows = auditor.store().audit_page(&filter, None, limit)?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in &rows {
            println!(
                "{:>7}  {}  {:<9}  {:<22}  {:<10} {:<12} {}",
                r.seq,
                export::utc(r.ts_ms),
                r.outcome,
                r.action,
                r.os_user,
                r.hsm_user.as_deref().unwrap_or("-"),
                r.target
            );
        }
        if rows.is_empty() {
            println!("No entries match.");
        }
    }
    // Access to the audit log is itself recorded (after the listing, so it is not in it).
    auditor.record(
        Action::AuditRead,
        "audit_log",
        Outcome::Success,
        None,
        json!({ "via": "cli", "filter": filter, "entries": rows.len() }),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn passphrase(file: Option<&std::path::Path>, confirm: bool) -> Result<Secret, CliError> {
    if let Some(v) = std::env::var_os("TDEKEY_EXPORT_PASSPHRASE") {
        return Ok(Secret::new(v.to_string_lossy().into_owned()));
    }
    if let Some(f) = file {
        return Secret::from_file(f).map_err(|e| {
            CliError(format!(
                "Cannot read the passphrase file {}: {e}.",
                f.display()
            ))
        });
    }
    let no_tty = |_| {
        CliError("No passphrase: set TDEKEY_EXPORT_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal to be asked.".into())
    };
    let first = Secret::new(
        rpassword::prompt_password("Export passphrase (not echoed): ").map_err(no_tty)?,
    );
    if confirm {
        let again = Secret::new(rpassword::prompt_password("Once more: ").map_err(no_tty)?);
        if again.expose() != first.expose() {
            return Err(CliError(
                "The two passphrases differ. Nothing was exported.".into(),
            ));
        }
    }
    Ok(first)
}

fn export_cmd(
    data: &DataDir,
    format: FormatArg,
    out: &std::path::Path,
    f: &FilterArgs,
    encrypt: bool,
    passphrase_file: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    let filter = to_filter(f)?;
    let format = match format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let pass = if encrypt {
        Some(passphrase(passphrase_file, true)?)
    } else {
        None
    };
    let mut auditor = hsm_cmd::auditor(data)?;
    let pending = auditor.begin(
        Action::AuditExport,
        &out.display().to_string(),
        None,
        json!({ "format": format.as_str(), "filter": filter, "encrypted": encrypt, "via": "cli" }),
    )?;
    let result = export::export(
        auditor.store(),
        &filter,
        format,
        pass.as_ref(),
        out,
        &mut |_, _| true,
    );
    drop(pass);
    match result {
        Ok(m) => {
            auditor.finish(
                pending,
                Outcome::Success,
                json!({ "entries": m.entries, "first_seq": m.first_seq, "last_seq": m.last_seq, "sha256": m.sha256 }),
            )?;
            println!(
                "Exported {} entries (seq {}..{}) to {}{}.\nManifest: {}\nSHA-256: {}",
                m.entries,
                m.first_seq.map(|s| s.to_string()).unwrap_or_default(),
                m.last_seq.map(|s| s.to_string()).unwrap_or_default(),
                out.display(),
                if m.encrypted.is_some() {
                    ", encrypted"
                } else {
                    ""
                },
                export::manifest_path(out).display(),
                m.sha256
            );
            if m.checkpoint.is_none() {
                println!(
                    "No checkpoint yet: run `tdekey audit checkpoint` so the exported history can be checked against the HSM."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let outcome = if matches!(e, export::ExportError::Cancelled) {
                Outcome::Cancelled
            } else {
                Outcome::Failure
            };
            auditor.finish(pending, outcome, json!({ "error": e.to_string() }))?;
            Err(e.into())
        }
    }
}

fn decrypt_cmd(
    data: &DataDir,
    input: &std::path::Path,
    out: &std::path::Path,
    passphrase_file: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    let pass = passphrase(passphrase_file, false)?;
    let mut auditor = hsm_cmd::auditor(data)?;
    let result = export::decrypt(input, &pass, out);
    drop(pass);
    let (outcome, details) = match &result {
        Ok(n) => (
            Outcome::Success,
            json!({ "bytes": n, "out": out.display().to_string() }),
        ),
        Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
    };
    auditor.record(
        Action::AuditDecrypt,
        &input.display().to_string(),
        outcome,
        None,
        details,
    )?;
    let n = result?;
    println!(
        "Decrypted {} ({n} bytes) to {}.",
        input.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify_or_checkpoint(data: &DataDir, cmd: AuditCommand) -> Result<ExitCode, CliError> {
    use crate::audit::checkpoint;
    match cmd {
        AuditCommand::Checkpoint { target, login } => {
            let mut auditor = hsm_cmd::auditor(data)?;
            let (hsm, _, _, _) = hsm_cmd::open_logged_in(&mut auditor, &target, &login)?;
            let c = checkpoint(&mut auditor, &hsm).map_err(CliError)?;
            println!(
                "Checkpoint {} written: seq {}, head {}, HMAC computed in the HSM with {} on token {:?}.",
                c.id.unwrap_or(0),
                c.seq,
                hex::encode(c.head_hash),
                c.key_label,
                c.token_label
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { hsm, target, login } => {
            let mut auditor = hsm_cmd::auditor(data)?;
            let session = if hsm {
                Some(hsm_cmd::open_logged_in(&mut auditor, &target, &login)?.0)
            } else {
                None
            };
            let checked = crate::audit::verify_and_record(&mut auditor, session.as_ref(), "cli")
                .map_err(CliError)?;
            println!("{}", checked.text);
            checked.recorded?;
            Ok(if checked.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        _ => Err(CliError(
            "internal error: an audit command reached the wrong handler".into(),
        )),
    }
}
