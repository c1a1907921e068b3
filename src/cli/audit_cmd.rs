//! `tdekey audit …`

use super::hsm_cmd::auditor;
use super::{AuditCommand, CliError, FilterArgs, FormatArg};
use crate::audit::export::{self, Format};
use crate::audit::{self, LogError};
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::session;
use crate::store::AuditFilter;
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
            force,
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
                force,
                &filter,
                encrypt,
                passphrase_file.as_deref(),
            )?;
            if checkpoint {
                let mut a = auditor(data)?;
                let target = target.resolve(&a)?;
                let c = session::with_login(
                    &mut a,
                    &target,
                    login.credentials()?,
                    "cli",
                    |a, hsm, _| Ok::<_, CliError>(audit::checkpoint(a, hsm)?),
                )?;
                println!("Checkpoint {} written at seq {}.", c.id.unwrap_or(0), c.seq);
            }
            Ok(code)
        }
        AuditCommand::Forward(args) => super::forward_cmd::run(data, &args),
        AuditCommand::Decrypt {
            input,
            out,
            force,
            passphrase_file,
        } => {
            let pass = passphrase(passphrase_file.as_deref(), false)?;
            let mut a = auditor(data)?;
            let n = audit::decrypt(&mut a, &input, pass, &out, force)?;
            println!(
                "Decrypted {} ({n} bytes) to {}.",
                input.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { target, login } => {
            let mut a = auditor(data)?;
            let target = target.resolve(&a)?;
            let c =
                session::with_login(&mut a, &target, login.credentials()?, "cli", |a, hsm, _| {
                    Ok::<_, CliError>(audit::checkpoint(a, hsm)?)
                })?;
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
            let mut a = auditor(data)?;
            let checked = if hsm {
                let target = target.resolve(&a)?;
                session::with_login(&mut a, &target, login.credentials()?, "cli", |a, hsm, _| {
                    Ok::<_, CliError>(audit::verify_log(a, Some(hsm), "cli")?)
                })?
            } else {
                audit::verify_log(&mut a, None, "cli")?
            };
            println!("{}", checked.text);
            checked.recorded?;
            Ok(if checked.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

pub fn to_filter(f: &FilterArgs) -> Result<AuditFilter, CliError> {
    if let Some(o) = &f.outcome {
        audit::check_outcome(o)?;
    }
    let time = |s: &Option<String>| -> Result<Option<i64>, CliError> {
        s.as_deref()
            .map(audit::parse_time)
            .transpose()
            .map_err(|e| CliError::from(LogError::BadFilter(e)))
    };
    Ok(AuditFilter {
        since_ms: time(&f.since)?,
        until_ms: time(&f.until)?,
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
    let mut a = auditor(data)?;
    let rows = audit::list(&mut a, &filter, limit, "cli")?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    // Every field escaped: a name holding a newline or an escape sequence prints as one
    // line and cannot forge another entry.
    use crate::model::printable as p;
    for r in &rows {
        println!(
            "{:>7}  {}  {:<9}  {:<22}  {:<10} {:<12} {}",
            r.seq,
            export::utc(r.ts_ms),
            p(&r.outcome),
            p(&r.action),
            p(&r.os_user),
            p(r.hsm_user.as_deref().unwrap_or("-")),
            p(&r.target)
        );
    }
    if rows.is_empty() {
        println!("No entries match.");
    }
    Ok(ExitCode::SUCCESS)
}

fn passphrase(file: Option<&std::path::Path>, confirm: bool) -> Result<Secret, CliError> {
    super::read_secret(
        "TDEKEY_EXPORT_PASSPHRASE",
        file,
        "Export passphrase",
        confirm,
    )
}

fn export_cmd(
    data: &DataDir,
    format: FormatArg,
    out: &std::path::Path,
    force: bool,
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
    let mut a = auditor(data)?;
    let m = audit::export(
        &mut a,
        &filter,
        format,
        pass,
        out,
        force,
        "cli",
        &mut |_, _| true,
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
