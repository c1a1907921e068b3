//! The rollback's steps: back to the file wallet with this HSM's crypto user (the stages of
//! `reverse`), the wallet compared with (and, when the master key never left it, restored
//! from) the step-6 backup, and the end.

use super::reverse::{
    HsmLogin, Stage, configuration_before, confirmation, file_first, file_only, reverse,
};
use super::{Check, Context, MigrationError, Need, StepResult, Wizard, key_rows};
use crate::audit::{Action, Auditor, Entry};
use crate::migration::BackStep;
use crate::migration::host::Host;
use crate::migration::wizard::At;

/// A step of the rollback.
pub(in crate::migration) fn run_back(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    step: BackStep,
    waiting: bool,
) -> Result<StepResult, MigrationError> {
    let at = At::Back(step);
    let mut confirmed = confirmation(w, ctx, waiting);
    let moved = w.state.migrate_may_have_run();
    let reversed = w.state.rollback.as_ref().is_some_and(|r| r.reversed);
    let never = "The migrate statement never ran (it was not sent, or Oracle refused it): the master key is still in the file wallet, so there is nothing to reverse-migrate.";
    let stage = match step {
        BackStep::FileFirst | BackStep::Reverse if !moved => {
            return Ok(StepResult::skipped(never));
        }
        BackStep::FileFirst if reversed => {
            return Ok(StepResult::done(vec![Check::new(
                "The reverse migration is done",
                true,
                "FILE|HSM is no longer needed",
            )]));
        }
        BackStep::FileFirst => file_first(w, a, ctx, at, &mut confirmed)?,
        BackStep::Reverse => {
            let login = HsmLogin {
                user: Some(ctx.hsm.user().unwrap_or("").to_owned()),
                password: ctx.inputs.hsm_password.clone(),
                need: Need::HsmPassword,
            };
            let mut s = reverse(w, a, ctx, at, login)?;
            if let Stage::Go(checks) = &mut s {
                ctx.inputs.hsm_password = None;
                if let Some(r) = w.state.rollback.as_mut() {
                    r.reversed = true;
                }
                match retire_keys(w, a, ctx) {
                    Ok(c) => checks.extend(c),
                    Err(e) => {
                        // The reverse migration is done: the step is not run again for this.
                        let mut r = StepResult::from_checks(std::mem::take(checks));
                        r.notes.push(format!("The keys on the HSM recorded as {}'s could not be marked as no longer in use ({e}): the Keys and Rotation screens still call them its active keys.", w.db.name));
                        return Ok(r);
                    }
                }
            }
            s
        }
        BackStep::FileOnly if moved && !reversed => {
            return Ok(StepResult::failed(
                "The reverse migration is not done: without it the database could not read its keys from the file keystore alone.",
            ));
        }
        BackStep::FileOnly => {
            let target = configuration_before(w);
            file_only(w, a, ctx, at, &target, &mut confirmed)?
        }
        BackStep::Wallet => return wallet(w, a, ctx, confirmed.take()),
        BackStep::Closed => return Ok(closed(w)),
    };
    Ok(match stage {
        Stage::Go(checks) => StepResult::from_checks(checks),
        Stage::Stop(r) => r,
    })
}

/// After the reverse migration: no key on the HSM is the database's master key any more. The
/// keys recorded as its own are retired (the claims stay, with why: backups taken while a key
/// was current need it), audited as `key.owner` with operation `retire`.
fn retire_keys(
    w: &Wizard,
    a: &mut Auditor,
    ctx: &Context<'_>,
) -> Result<Option<Check>, MigrationError> {
    let database = w.db.name.clone();
    let mine: Vec<String> = a
        .store()
        .key_owners()?
        .into_iter()
        .filter(|k| k.database == database && k.retired_ms.is_none())
        .map(|k| k.label)
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    let why = "its migration was rolled back: REVERSE MIGRATE moved its master key back to the file wallet";
    let entry = Entry::new(Action::KeyOwner, format!("database {database}"))
        .user(ctx.hsm.user())
        .details(serde_json::json!({ "operation": "retire", "database": database, "labels": mine, "why": why }));
    let retired = a
        .act(entry, |step| step.store().retire_key_owners(&database, why))?
        .into_result::<MigrationError>("The keys were retired")?;
    Ok(Some(Check::new(
        "The HSM keys recorded as the database's are marked as no longer in use",
        true,
        format!("retired (kept on the HSM): {}", retired.join(", ")),
    )))
}

/// R4: the wallet against the step-6 backup.
fn wallet(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    confirmed: bool,
) -> Result<StepResult, MigrationError> {
    let Some(backup) = w.state.backup.clone() else {
        return Ok(StepResult::skipped(
            "No backup was made by tdekey at step 6 (the migration stopped before it, or the files were backed up on the database host): nothing to compare the wallet with.",
        ));
    };
    let reversed = w.state.rollback.as_ref().is_some_and(|r| r.reversed);
    let host = Host::of(&w.db, ctx.data);
    // Each file's SHA-256 now: read here, or pasted from the database host.
    let now: Vec<(String, Option<String>)> = if host == Host::Remote {
        use crate::migration::host_output::{parse_sums, sums_command};
        let paths: Vec<String> = backup.files.iter().map(|(p, _, _)| p.clone()).collect();
        let ask = |problem: Option<String>| {
            let mut todo = vec![
                "Run this on the database host and paste everything it prints:".to_owned(),
                sums_command(&paths),
            ];
            if reversed {
                todo.push("After the reverse migration the files differ from the backup: that is expected (the wallet holds the new master key), and they are not restored.".into());
            }
            StepResult::attention(
                problem.unwrap_or_else(|| {
                    "tdekey does not run on the database host: the wallet files are compared with the step-6 backup from there.".into()
                }),
                todo,
                vec![Need::HostOutput],
            )
        };
        let Some(text) = ctx.inputs.host_output.take() else {
            return Ok(ask(None));
        };
        match parse_sums(&text) {
            Ok(sums) => paths
                .iter()
                .map(|p| {
                    let h = sums.iter().find(|(q, _)| q == p).map(|(_, h)| h.clone());
                    (p.clone(), h)
                })
                .collect(),
            Err(e) => return Ok(ask(Some(e.to_string()))),
        }
    } else {
        backup
            .files
            .iter()
            .map(|(p, _, _)| {
                (
                    p.clone(),
                    std::fs::read(p)
                        .ok()
                        .map(|b| crate::databases::sha256_hex(&b)),
                )
            })
            .collect()
    };
    let changed: Vec<&(String, u64, String)> = backup
        .files
        .iter()
        .filter(|(p, _, h)| {
            now.iter()
                .find(|(q, _)| q == p)
                .and_then(|(_, x)| x.as_ref())
                != Some(h)
        })
        .collect();
    let same = Check::new(
        "The wallet files match their SHA-256 in the step-6 backup",
        changed.is_empty(),
        if changed.is_empty() {
            format!("{} files, unchanged", backup.files.len())
        } else {
            format!(
                "changed or missing: {}",
                changed
                    .iter()
                    .map(|(p, _, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    );
    if changed.is_empty() {
        return Ok(StepResult::done(vec![same]));
    }
    if reversed {
        let mut checks = vec![Check::new(
            "The wallet is kept as it is (not restored)",
            true,
            format!(
                "{}; after a reverse migration the wallet holds the master key the data now needs, which the backup does not have",
                same.detail
            ),
        )];
        let checked = holds_current_key(w, a, ctx)?;
        let unchecked = checked.is_none();
        checks.extend(checked);
        let mut r = StepResult::from_checks(checks);
        if unchecked {
            r.notes.push("Whether ewallet.p12 holds the current master key was not checked: tdekey cannot read the file here, or the wallet password was not given.".into());
        }
        r.notes.push(format!(
            "The step-6 backup {} (SHA-256 {}) is kept: it holds the wallet as it was before the migration.",
            backup.file, backup.sha256
        ));
        return Ok(r);
    }
    if host == Host::Remote {
        let mut r = StepResult::attention(
            "The wallet files changed since the step-6 backup although the master key never left them: restore them on the database host from the copies made at step 6 (close the keystore first), then paste the SHA-256 again.",
            changed
                .iter()
                .map(|(p, _, _)| {
                    let name = p.rsplit('/').next().unwrap_or(p);
                    format!(
                        "cp -p {}/{name} {p}",
                        backup.file.trim_end_matches(" on the database host")
                    )
                })
                .collect(),
            vec![Need::HostOutput],
        );
        r.checks = vec![same];
        return Ok(r);
    }
    if !confirmed {
        let mut r = StepResult::attention(
            "The wallet files changed since the step-6 backup although the master key never left them. Restoring writes the backup's files over them (with their modes).",
            vec![
                format!(
                    "Files that will be overwritten: {}",
                    changed
                        .iter()
                        .map(|(p, _, _)| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "Close the keystore first if the database has it open (ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE), then confirm.".into(),
            ],
            vec![Need::Confirmation],
        );
        r.checks = vec![same];
        return Ok(r);
    }
    let passphrase = ctx.inputs.backup_passphrase.take();
    if backup.encrypted && passphrase.is_none() {
        let mut r = StepResult::needs(
            "The backup is sealed: its passphrase opens it.",
            vec![Need::BackupPassphrase],
        );
        // The confirmation stands: the step keeps waiting for it.
        r.todo = vec!["Give the backup passphrase and confirm again.".into()];
        r.needs.push(Need::Confirmation);
        return Ok(r);
    }
    let Some(root) = w.state.wallet_root.as_deref().and_then(|r| host.path(r)) else {
        return Ok(StepResult::failed(
            "WALLET_ROOT is not known here, so the backup has nowhere safe to be restored to. Restore it with tdekey wallet restore, naming the backup file and the wallet root.",
        ));
    };
    let restored = crate::databases::restore_wallet(
        a,
        std::path::Path::new(&backup.file),
        passphrase,
        &root,
        true,
    )?;
    let still: Vec<&str> = backup
        .files
        .iter()
        .filter(|(p, _, h)| {
            std::fs::read(p).map_or(true, |b| &crate::databases::sha256_hex(&b) != h)
        })
        .map(|(p, _, _)| p.as_str())
        .collect();
    Ok(StepResult::from_checks(vec![Check::new(
        "The wallet files were restored from the step-6 backup, byte for byte",
        still.is_empty(),
        if still.is_empty() {
            format!(
                "{} restored, {} already the same",
                restored.iter().filter(|r| !r.unchanged).count(),
                restored.iter().filter(|r| r.unchanged).count()
            )
        } else {
            format!("still different: {}", still.join(", "))
        },
    )])
    .note("Open the keystore again (or restart the database) so that Oracle reads the restored files."))
}

/// After a reverse migration: ewallet.p12 (opened with its password) holds the master key
/// V$ENCRYPTION_KEYS shows as current. `None` when it cannot be checked here.
fn holds_current_key(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<Option<Check>, MigrationError> {
    let what = "ewallet.p12 holds the current master key of V$ENCRYPTION_KEYS";
    let keys = key_rows(w, a, ctx)?;
    let Some(current) = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms)
        .map(|k| k.key_id.clone())
    else {
        return Ok(Some(Check::new(
            what,
            false,
            "V$ENCRYPTION_KEYS shows no key: is the file keystore open?",
        )));
    };
    let file = w.state.wallet_root.as_deref().and_then(|r| {
        Host::of(&w.db, ctx.data).path(&crate::tde::layout::under_root(
            r,
            &format!(
                "{}/{}",
                crate::tde::layout::KEYSTORE_DIR,
                crate::tde::layout::EWALLET
            ),
        ))
    });
    let (Some(file), Some(pw)) = (file, ctx.inputs.wallet_password.clone()) else {
        return Ok(None);
    };
    let contents = crate::databases::read_wallet_file(a, &file, pw)?;
    let found = contents.entries.iter().any(|e| {
        e.key_id
            .as_deref()
            .is_some_and(|k| crate::tde::labels::same_key(k, &current))
    });
    Ok(Some(Check::new(
        what,
        found,
        if found {
            format!("{current} is in {}", file.display())
        } else {
            format!("{current} is NOT in {}", file.display())
        },
    )))
}

/// R5: the end of the rollback.
fn closed(w: &Wizard) -> StepResult {
    let open: Vec<String> = w
        .state
        .rollback
        .as_ref()
        .map(|r| {
            r.steps
                .iter()
                .filter(|s| s.step != BackStep::Closed && !s.status.settled())
                .map(|s| s.step.title().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut r = StepResult::from_checks(vec![Check::new(
        "Every rollback step is done or skipped",
        open.is_empty(),
        if open.is_empty() {
            "yes".to_owned()
        } else {
            open.join(", ")
        },
    )]);
    if let Some(k) = &w.state.new_key {
        r.notes.push(format!(
            "The master key {k} stays on the HSM (tdekey never deletes a master key): backups of the database taken while it was current need it."
        ));
    }
    r
}
