//! `tdekey migrate …`: the migration wizard on the command line.

use super::db_cmd::TerminalOperator;
use super::hsm_cmd::{auditor, read_password};
use super::{CliError, MigrateCommand, ReportFormat, StepArgs, given_secret, read_secret};
use crate::databases;
use crate::migration::{
    self, Context, Expected, ExpectedStep, Inputs, MigrationState, Need, Progress, StepStatus,
};
use crate::model::ConnectorKind;
use crate::oracle::Operator;
use crate::paths::DataDir;
use crate::session;
use std::process::ExitCode;

pub(super) fn run(data: &DataDir, cmd: MigrateCommand) -> Result<ExitCode, CliError> {
    match cmd {
        MigrateCommand::Status { name, json } => {
            let a = auditor(data)?;
            let state = migration::status(&a, &name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&state)?);
            } else {
                match &state {
                    None => println!(
                        "No migration of {name:?} yet. `tdekey migrate next {name:?}` starts it."
                    ),
                    Some(s) => print_plan(s),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Start { name, new } => {
            let mut a = auditor(data)?;
            let before = migration::status(&a, &name)?;
            let replacing = before.as_ref().filter(|_| new).map(|s| s.id);
            let s = migration::start(&mut a, &name, replacing)?;
            match before {
                Some(old) => println!(
                    "Started migration number {} of {name:?}; migration number {} ({}) stays in the audit log. `tdekey migrate next {name:?}` runs its first step.",
                    s.id,
                    old.id,
                    if old.rollback.is_some() {
                        "rolled back"
                    } else {
                        "finished"
                    }
                ),
                None => println!(
                    "Started migration number {} of {name:?}. `tdekey migrate next {name:?}` runs its first step.",
                    s.id
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Next { name, step } => drive(data, &name, &step, Mode::Next),
        MigrateCommand::Run { name, step } => drive(data, &name, &step, Mode::Run),
        MigrateCommand::Rollback { name, reason, step } => {
            drive(data, &name, &step, Mode::Rollback(reason))
        }
        MigrateCommand::Override { name, reason } => {
            let mut a = auditor(data)?;
            let p = migration::override_step(&mut a, &name, &reason)?;
            print_progress(&p);
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Report {
            name,
            out,
            force,
            format,
        } => {
            let mut a = auditor(data)?;
            let r = migration::write_report(
                &mut a,
                &name,
                &out,
                force,
                matches!(format, ReportFormat::Json),
            )?;
            println!(
                "Wrote the migration report of {} to {}.",
                crate::model::printable(&name),
                out.display()
            );
            if r.trustworthy() {
                println!("{}", r.audit_chain.statement);
                return Ok(ExitCode::SUCCESS);
            }
            for w in &r.warnings {
                eprintln!("{}", crate::model::printable(w));
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn print_plan(s: &MigrationState) {
    use crate::model::printable as p;
    println!("Migration number {} of {}", s.id, p(&s.database));
    for r in &s.steps {
        println!(
            "{:>3}. {:<38} {}",
            r.step.number(),
            r.step.title(),
            mark(r.status)
        );
        if let Some(reason) = &r.reason
            && !r.status.settled()
        {
            println!("      {}", p(reason));
        }
    }
    if let Some(k) = &s.new_key {
        println!("New master key: {}", p(k));
    }
    if let Some(r) = &s.rollback {
        println!("Rollback ({})", p(&r.reason));
        for rec in &r.steps {
            println!(
                "  R{}. {:<37} {}",
                rec.step.number(),
                rec.step.title(),
                mark(rec.status)
            );
            if let Some(reason) = &rec.reason
                && !rec.status.settled()
            {
                println!("      {}", p(reason));
            }
        }
        if r.finished_ms.is_some() {
            println!("The migration is rolled back.");
        }
    }
}

fn mark(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Done => "done",
        StepStatus::Skipped => "skipped",
        StepStatus::Failed => "FAILED",
        StepStatus::NeedsAttention => "ATTENTION",
        StepStatus::Unknown => "UNKNOWN",
        StepStatus::NotStarted => "",
    }
}

fn print_progress(p: &Progress) {
    match p.back {
        Some(b) => println!(
            "Rollback step R{}/{} {}: {}",
            b.number(),
            migration::BackStep::ALL.len(),
            b.title(),
            p.status.as_str()
        ),
        None => println!(
            "Step {}/{} {}: {}",
            p.step.number(),
            migration::StepId::ALL.len(),
            p.step.title(),
            p.status.as_str()
        ),
    }
    println!("  {}", p.message);
    // While the step waits for a person, a check that has not passed yet is "wait", not FAIL.
    let waiting = p.status == StepStatus::NeedsAttention;
    for c in &p.checks {
        let mark = match (c.ok, &c.overridden) {
            (true, _) => "ok  ",
            (false, Some(_)) => "acc ",
            (false, None) if waiting => "wait",
            (false, None) => "FAIL",
        };
        println!("  {mark} {} — {}", c.what, c.detail);
    }
    for n in &p.notes {
        println!("  Note: {n}");
    }
    if !p.todo.is_empty() {
        println!("  To do:");
        for t in &p.todo {
            println!("    {t}");
        }
    }
}

/// What `drive` runs.
enum Mode {
    /// The next step.
    Next,
    /// Every step it can.
    Run,
    /// The rollback's steps (with the reason to start it).
    Rollback(Option<String>),
}

/// What `--step` and `--migration` say the person confirmed.
fn expected(args: &StepArgs, rollback: bool) -> Result<Option<Expected>, CliError> {
    let Some(step) = args.step.as_deref().map(str::trim) else {
        return Ok(None);
    };
    let number = step.trim_start_matches(['R', 'r']);
    let back = number.len() < step.len();
    let bad = || {
        CliError(format!(
            "--step {step:?} is not a step of the {}: give its number as `tdekey migrate status` shows it ({}).",
            if rollback { "rollback" } else { "plan" },
            if rollback {
                format!("R1 to R{}", migration::BackStep::ALL.len())
            } else {
                format!("1 to {}", migration::StepId::ALL.len())
            }
        ))
    };
    let n: usize = number.parse().map_err(|_| bad())?;
    let step = if rollback {
        migration::BackStep::ALL
            .iter()
            .find(|b| b.number() == n)
            .map(|b| ExpectedStep::Back(*b))
    } else if back {
        None
    } else {
        migration::StepId::ALL
            .iter()
            .find(|s| s.number() == n)
            .map(|s| ExpectedStep::Plan(*s))
    }
    .ok_or_else(bad)?;
    Ok(Some(Expected {
        migration: args.migration,
        step,
    }))
}

/// Runs the next step (or every step it can), asking for the secrets a step needs, once.
fn drive(data: &DataDir, name: &str, args: &StepArgs, mode: Mode) -> Result<ExitCode, CliError> {
    let (all, mut reason) = match mode {
        Mode::Next => (false, None),
        Mode::Run => (true, None),
        Mode::Rollback(r) => (true, Some(r)),
    };
    let rollback = reason.is_some();
    let expect = expected(args, rollback)?;
    let mut a = auditor(data)?;
    let db = databases::get(&a, name)?;
    // A finished migration stays finished: the wizard run again has nothing to do (and the
    // workflow would refuse to start another); a step confirmed for it is not there.
    if !rollback
        && let Some(s) =
            migration::status(&a, name)?.filter(|s| s.finished_ms.is_some() && s.rollback.is_none())
    {
        let message = format!(
            "The migration of {name:?} (number {}) is finished{}: nothing to run. Running the wizard again does not start another; `tdekey migrate start {name:?} --new` starts a new migration.",
            s.id,
            s.new_key
                .as_deref()
                .map(|k| format!(", with master key {k}"))
                .unwrap_or_default()
        );
        if args.step.is_some() {
            return Err(CliError(format!(
                "{message} The step you confirmed was not run."
            )));
        }
        println!("{message}");
        return Ok(ExitCode::SUCCESS);
    }
    let rehearsal = db.connector == ConnectorKind::Rehearsal;
    if args.yes && !rehearsal {
        return Err(CliError(
            "--yes is for Rehearsal databases only: on a real database, each restart and each fix on the host is confirmed with --confirm after a person has done it.".into(),
        ));
    }
    let super::DatabaseLogin {
        target,
        pin_format,
        hsm_password,
        credentials,
        db_password,
        manual,
    } = super::DatabaseLogin::ask(&a, &db, &args.target, &args.login)?;
    let mut outputs = Vec::new();
    for f in &args.host_output {
        outputs.push(crate::paths::input::read_text_file(f, "host output")?);
    }
    let host_output = (!outputs.is_empty()).then(|| outputs.join("\n"));
    session::with_login(&mut a, &target, credentials, "cli", |a, hsm, _| {
        let mut operator = TerminalOperator;
        let mut ctx = Context {
            data,
            hsm,
            operator: manual.then_some(&mut operator as &mut dyn Operator),
            db_password,
            pin_format,
            inputs: Inputs {
                hsm_password: Some(hsm_password),
                confirmed: args.confirm || args.yes,
                apply_fix: args.yes,
                unencrypted_backup: args.unencrypted_backup,
                auto_login: args.auto_login,
                external_store: args.external_store,
                tag: args.tag.clone(),
                old_hsm_user: args.old_hsm_user.clone(),
                old_hsm_password_only: args.old_hsm_password_only,
                host_output,
                expect,
                // Given without a prompt: ready for the step that needs it.
                wallet_password: given_secret(
                    "TDEKEY_WALLET_PASSWORD",
                    args.wallet_password_file.as_deref(),
                    "Wallet password",
                )?,
                backup_passphrase: given_secret(
                    "TDEKEY_BACKUP_PASSPHRASE",
                    args.passphrase_file.as_deref(),
                    "Backup passphrase",
                )?,
                old_hsm_password: given_secret(
                    "TDEKEY_OLD_HSM_PASSWORD",
                    args.old_hsm_password_file.as_deref(),
                    "Password of the other HSM's user",
                )?,
            },
        };
        let mut asked: Vec<Need> = Vec::new();
        loop {
            let p = match reason.as_mut() {
                Some(r) => migration::rollback_next(a, &mut ctx, name, r.take().as_deref())?,
                None => migration::next(a, &mut ctx, name)?,
            };
            // A confirmation answers the step that asked for it, not the ones after.
            if p.status.settled() {
                ctx.inputs.expect = None;
                if !args.yes {
                    ctx.inputs.confirmed = false;
                }
            }
            let missing: Vec<Need> = p
                .needs
                .iter()
                .filter(|n| {
                    matches!(
                        n,
                        Need::HsmPassword
                            | Need::WalletPassword
                            | Need::BackupPassphrase
                            | Need::OldHsmCredential
                    ) && !asked.contains(n)
                })
                .cloned()
                .collect();
            if !missing.is_empty() {
                for n in missing {
                    match n {
                        Need::HsmPassword => {
                            ctx.inputs.hsm_password = Some(read_password(&args.login)?)
                        }
                        Need::WalletPassword => {
                            ctx.inputs.wallet_password = Some(read_secret(
                                "TDEKEY_WALLET_PASSWORD",
                                args.wallet_password_file.as_deref(),
                                "Wallet password",
                                false,
                            )?)
                        }
                        Need::BackupPassphrase => {
                            ctx.inputs.backup_passphrase = Some(read_secret(
                                "TDEKEY_BACKUP_PASSPHRASE",
                                args.passphrase_file.as_deref(),
                                "Backup passphrase",
                                true,
                            )?)
                        }
                        Need::OldHsmCredential => {
                            if ctx.inputs.old_hsm_user.is_none()
                                && !ctx.inputs.old_hsm_password_only
                            {
                                return Err(CliError(
                                    "Path B needs the user of the HSM the database uses now: give --old-hsm-user USER (or --old-hsm-password-only when that HSM takes a password only).".into(),
                                ));
                            }
                            ctx.inputs.old_hsm_password = Some(read_secret(
                                "TDEKEY_OLD_HSM_PASSWORD",
                                args.old_hsm_password_file.as_deref(),
                                "Password of the other HSM's user",
                                false,
                            )?)
                        }
                        _ => {}
                    }
                    asked.push(n);
                }
                continue;
            }
            print_progress(&p);
            if p.finished && rollback {
                println!(
                    "The migration of {name:?} is rolled back. `tdekey migrate report {name:?} --out FILE` writes its report."
                );
                return Ok(ExitCode::SUCCESS);
            }
            if p.finished {
                println!(
                    "The migration of {name:?} is finished. `tdekey migrate report {name:?} --out FILE` writes its report."
                );
                if manual {
                    println!(
                        "Before the file wallet is retired, check that no key the database needs is only there: `tdekey recoverability {name:?}`."
                    );
                } else {
                    let src = crate::recover::Sources {
                        data,
                        hsm: &mut *ctx.hsm,
                        operator: None,
                        db_password: ctx.db_password.clone(),
                        pin_format: ctx.pin_format,
                        token: Some(target.selector.clone()),
                        wallet_root: None,
                        wallet_password: ctx.inputs.wallet_password.clone(),
                        backups: Vec::new(),
                        // The step that sealed the backup took the passphrase: read it again
                        // where it was given without a prompt.
                        backup_passphrase: match ctx.inputs.backup_passphrase.clone() {
                            Some(p) => Some(p),
                            None => given_secret(
                                "TDEKEY_BACKUP_PASSPHRASE",
                                args.passphrase_file.as_deref(),
                                "Backup passphrase",
                            )?,
                        },
                    };
                    super::recover_cmd::before_retiring_wallet(a, &db, src);
                }
                if crate::rotation::policy(a, name).ok().flatten().is_none() {
                    println!(
                        "Its master key has no rotation policy yet: `tdekey policy set {name:?} --every 90d` (or 180d, 1y, --cron EXPR) sets one; the Rotation screen does too."
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            if p.status.settled() && all {
                continue;
            }
            let (verb, at) = match p.back {
                Some(b) => ("rollback", format!("R{}", b.number())),
                None => ("next", p.step.number().to_string()),
            };
            if p.needs.contains(&Need::Confirmation) {
                println!(
                    "Waiting for a person: when it is done, run `tdekey migrate {verb} {name:?} --confirm --step {at}` (it runs only while the migration still stands at that step)."
                );
            } else if p.needs.contains(&Need::HostOutput) {
                println!(
                    "Waiting for the database host (each host named above): run the command there, save everything it prints in a file, then run `tdekey migrate {} {name:?} --host-output FILE` (repeat --host-output for several hosts).",
                    if rollback { "rollback" } else { "next" }
                );
            } else if p.needs.contains(&Need::Fix) {
                println!(
                    "tdekey can apply this fix on the Rehearsal's simulated host: `tdekey migrate next {name:?} --yes`."
                );
            }
            return Ok(if p.refused {
                ExitCode::from(3)
            } else if p.status == StepStatus::Failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
    })
}
