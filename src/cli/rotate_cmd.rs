//! `tdekey key generate`, `tdekey rotate …` and `tdekey policy …`: rotation on the command line.

use super::db_cmd::TerminalOperator;
use super::hsm_cmd::auditor;
use super::{CliError, KeyCommand, PolicyCommand, RotateArgs};
use crate::databases;
use crate::model::now_ms;
use crate::model::printable as p;
use crate::oracle::Operator;
use crate::paths::DataDir;
use crate::rotation::{
    self, Credentials, DueOutcome, KeyRequest, PolicyChange, RotateRequest, RunReport, Schedule,
    Trigger, local_date, local_minute, local_zone,
};
use crate::session;
use std::process::ExitCode;

pub(super) fn key(data: &DataDir, cmd: KeyCommand) -> Result<ExitCode, CliError> {
    let KeyCommand::Generate {
        tag,
        oracle_user,
        database,
        json,
        target,
        login,
    } = cmd;
    let mut a = auditor(data)?;
    let target = target.resolve(&a)?;
    let credentials = login.credentials()?;
    let req = KeyRequest {
        tag,
        oracle_user: oracle_user.or_else(|| target.profile.as_ref().map(|p| p.user_name.clone())),
        database,
    };
    let key = session::with_login(&mut a, &target, credentials, "cli", |a, hsm, _| {
        rotation::generate_key(a, hsm, &req).map_err(CliError::from)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&key)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Generated {} on {}.", key.label, key.token);
    println!(
        "  AES-256, token, private, sensitive, not extractable, encrypt and decrypt; CKA_ID {}.",
        key.cka_id
    );
    println!("  Read back through PKCS#11: no health finding.");
    if let Some(share) = &key.share_command {
        println!(
            "The key belongs to {}; Oracle's crypto user must be given it first (CloudHSM, by its owner {}). In a shell where the CloudHSM CLI is installed (it asks for {}'s password without echo and gives the login to this command only):",
            key.owner, key.owner, key.owner
        );
        println!("  {share}");
        println!("or in the CLI's interactive mode:");
        for l in &key.share_interactive {
            println!("  {l}");
        }
    }
    println!("To make it a database's master key:");
    println!("  {}", key.use_key_statement);
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rotate(data: &DataDir, args: RotateArgs) -> Result<ExitCode, CliError> {
    if args.due {
        return due(data, &args);
    }
    let name = args.name.clone().unwrap_or_default();
    let mut a = auditor(data)?;
    let db = databases::get(&a, &name)?;
    let super::DatabaseLogin {
        target,
        pin_format,
        hsm_password,
        credentials,
        db_password,
        manual,
    } = super::DatabaseLogin::ask(&a, &db, &args.target, &args.login)?;
    let req = RotateRequest {
        way: args.way.map(Into::into),
        tag: args.tag.clone(),
        trigger: if args.compromise.is_some() {
            Trigger::Compromise
        } else {
            Trigger::Manual
        },
        reason: args.compromise.clone(),
        only_if_due_at: None,
        key: args.key.clone(),
    };
    // One login for either: the dry run reads and probes, the rotation acts.
    let done = session::with_login(&mut a, &target, credentials, "cli", |a, hsm, _| {
        let mut operator = TerminalOperator;
        let mut ctx = rotation::Context {
            data,
            hsm,
            operator: manual.then_some(&mut operator as &mut dyn Operator),
            db_password,
            pin_format,
            hsm_password,
        };
        if args.dry_run {
            rotation::dry_run(a, &mut ctx, &name, req.way).map(Done::Dry)
        } else {
            rotation::rotate(a, &mut ctx, &name, &req).map(|r| Done::Ran(Box::new(r)))
        }
        .map_err(CliError::from)
    })?;
    let report = match done {
        Done::Dry(dry) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&dry)?);
            } else {
                println!(
                    "{}: {} ({}). Dry run: nothing was changed.",
                    p(&dry.database),
                    if dry.would_rotate {
                        "would rotate"
                    } else {
                        "WOULD FAIL"
                    },
                    p(&dry.message)
                );
            }
            return Ok(if dry.would_rotate {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Done::Ran(report) => *report,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_run(&report);
    }
    Ok(exit(&report))
}

/// What `rotate NAME` did: a dry run, or a rotation.
enum Done {
    Dry(rotation::DryRun),
    Ran(Box<RunReport>),
}

fn exit(r: &RunReport) -> ExitCode {
    if r.succeeded() {
        ExitCode::SUCCESS
    } else if r.refused {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    }
}

/// Names and sentences from the store are printed with their control characters escaped
/// (`model::printable`): a name saved by an older version cannot forge a line.
fn print_run(r: &RunReport) {
    println!(
        "Rotation run #{} of {} ({}): {}",
        r.run_id,
        p(&r.database),
        r.way.describe(),
        if r.succeeded() { "verified" } else { "FAILED" }
    );
    println!("  {}", p(&r.message));
    for c in &r.checks {
        println!(
            "  {} {} — {}",
            if c.ok { "ok  " } else { "FAIL" },
            p(&c.what),
            p(&c.detail)
        );
    }
    for n in &r.notes {
        println!("  Note: {}", p(n));
    }
    if let Some(s) = &r.state_left {
        println!("  State: {}", p(s));
    }
    if let Some(d) = r.next_due_ms {
        println!("  Next rotation due {}.", local_date(d, &local_zone()));
    }
}

fn due(data: &DataDir, args: &RotateArgs) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    let credentials = Credentials::locate(args.credentials.as_deref());
    let report = rotation::rotate_due(&mut a, data, credentials, args.dry_run, now_ms())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if report.items.is_empty() {
            println!("No database is due for rotation.");
        }
        for i in &report.items {
            let mark = match i.outcome {
                DueOutcome::Rotated => "rotated",
                DueOutcome::Failed => "FAILED",
                DueOutcome::NotDue => "not due",
                DueOutcome::Busy => "busy",
                DueOutcome::WouldRotate => "would rotate",
                DueOutcome::WouldFail => "WOULD FAIL",
            };
            println!(
                "{:<14} {} (due {}): {}",
                mark,
                p(&i.database),
                i.next_due,
                p(&i.message)
            );
            if let Some(s) = i.run.as_ref().and_then(|r| r.state_left.as_ref()) {
                println!("{:<14} State: {}", "", p(s));
            }
        }
        if !report.items.is_empty() {
            println!(
                "{} rotated, {} failed{}.",
                report.rotated,
                report.failed,
                if report.dry_run {
                    " (dry run: nothing was changed)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(if report.all_done() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) fn policy(data: &DataDir, cmd: PolicyCommand) -> Result<ExitCode, CliError> {
    let mut a = auditor(data)?;
    let tz = local_zone();
    match cmd {
        PolicyCommand::Set {
            name,
            every,
            cron,
            next_due,
            way,
        } => {
            let schedule = match (every, cron) {
                (Some(e), _) => Schedule::parse_every(&e)?,
                (None, Some(c)) => Schedule::parse_cron(&c)?,
                (None, None) => {
                    return Err(CliError("Give --every INTERVAL or --cron EXPR.".into()));
                }
            };
            let next_due_ms = next_due
                .as_deref()
                .map(|d| rotation::parse_due_date(d, &tz))
                .transpose()?;
            let p = rotation::set_policy(
                &mut a,
                &PolicyChange {
                    database: name,
                    schedule,
                    way: way.map(Into::into),
                    next_due_ms,
                },
            )?;
            println!(
                "{}: rotated {}, {}; next due {}.",
                crate::model::printable(&p.database),
                p.describe,
                p.way.describe(),
                local_minute(p.next_due_ms, &tz)
            );
            if p.next_due_ms <= now_ms() {
                println!(
                    "That date is past: {} is due now, and the next `tdekey rotate --due` rotates it.",
                    crate::model::printable(&p.database)
                );
            }
        }
        PolicyCommand::Show { name, json } => {
            databases::get(&a, &name)?;
            let (rows, timeline) = rotation::overview(&a, None, now_ms())?;
            let row = rows.into_iter().find(|r| r.database == name);
            let runs = a.store().rotation_runs(Some(&name), 0)?;
            if json {
                let out = serde_json::json!({
                    "database": row,
                    "timeline": timeline.into_iter().find(|t| t.database == name),
                    "runs": runs.iter().map(|r| serde_json::json!({
                        "id": r.id, "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                        "outcome": r.outcome, "way": r.way, "trigger": r.trigger, "reason": r.reason,
                        "who": r.who, "old_keys": serde_json::from_str::<serde_json::Value>(&r.old_keys).ok(),
                        "new_keys": serde_json::from_str::<serde_json::Value>(&r.new_keys).ok(),
                        "pending_key": r.pending_key, "failed_step": r.failed_step,
                        "state_left": r.state_left,
                        "checks": serde_json::from_str::<serde_json::Value>(&r.checks).ok(),
                    })).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(r) = &row {
                print_status(r);
            }
            if runs.is_empty() {
                println!("  No rotation run yet.");
            }
            for r in runs.iter().rev().take(10) {
                println!(
                    "  run {:>4}  {}  {:<7}  {:<7}  {:<10} {}",
                    r.id,
                    local_minute(r.started_ms, &tz),
                    r.outcome,
                    r.way,
                    r.trigger,
                    serde_json::from_str::<Vec<String>>(&r.new_keys)
                        .unwrap_or_default()
                        .join(", ")
                );
                if let Some(s) = &r.state_left {
                    println!("            {}", p(s));
                }
            }
        }
        PolicyCommand::List { json } => {
            let (rows, _) = rotation::overview(&a, None, now_ms())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("No database profile yet: `tdekey db add` adds one.");
            } else {
                for r in &rows {
                    print_status(r);
                }
            }
        }
        PolicyCommand::Remove { name } => {
            let old = rotation::remove_policy(&mut a, &name)?;
            println!(
                "Removed the rotation policy of {name} (was: {}, next due {}). Its keys and runs stay.",
                old.describe, old.next_due
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(r: &rotation::DatabaseRotation) {
    let tz = local_zone();
    println!("{}: {}", p(&r.database), r.status.label());
    if let Some(why) = &r.not_on_hsm {
        println!(
            "  No master key on the HSM: {why}. Its keys there are retired (kept for backups). `tdekey migrate run {:?}` migrates it again.",
            r.database
        );
    }
    match &r.policy {
        Some(p) => println!(
            "  Policy: {}, {}; next due {}.",
            p.describe,
            p.way.describe(),
            local_minute(p.next_due_ms, &tz)
        ),
        None => println!(
            "  No policy: `tdekey policy set {:?} --every 90d` sets one.",
            r.database
        ),
    }
    for (c, l) in &r.current_keys {
        let c = if c.is_empty() {
            String::new()
        } else {
            format!(" ({c})")
        };
        println!("  Current key{c}: {l}");
    }
    if let Some(s) = r.key_since_ms {
        let days = (now_ms() - s) / 86_400_000;
        println!(
            "  Key age: {days} day{} (since {}).",
            if days == 1 { "" } else { "s" },
            local_date(s, &tz)
        );
    }
    if let Some(run) = &r.last_run {
        println!(
            "  Last run: {} {} ({}){}",
            local_minute(run.started_ms, &tz),
            run.outcome,
            run.way,
            run.failed_step
                .as_ref()
                .map(|s| format!(", failed at {s}"))
                .unwrap_or_default()
        );
    }
}
