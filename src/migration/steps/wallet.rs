//! Steps 5 and 6: where the keystore is (WALLET_ROOT, TDE_CONFIGURATION, sqlnet.ora, the files),
//! and its backup.

use super::per_host::{Remote, each_host};
use super::{Check, Context, MigrationError, Need, StepResult, Wizard, parameter};
use crate::audit::Auditor;
use crate::migration::StepId;
use crate::migration::host::Host;
use crate::migration::host_output::{WalletFile, parse_wallet, wallet_command};
use crate::migration::hosts::{self, Role, Target};
use crate::migration::state::BackupRecord;
use crate::tde::layout;
use crate::tde::request::ParameterName;

pub(super) fn wallet_config(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let wallet_root = parameter(w, a, ctx, ParameterName::WalletRoot)?;
    let configuration = super::keystore_configuration(w, a, ctx)?;
    if configuration.is_empty()
        && let Some(r) = relocation(w, a, ctx, &wallet_root)?
    {
        return Ok(r);
    }
    let mut checks = vec![
        Check::new(
            "WALLET_ROOT is set",
            !wallet_root.is_empty(),
            if wallet_root.is_empty() {
                "not set: the database has no keystore location".to_owned()
            } else {
                wallet_root.clone()
            },
        ),
        Check::new(
            "TDE_CONFIGURATION is set",
            !configuration.is_empty(),
            if configuration.is_empty() {
                "not set".to_owned()
            } else {
                format!("KEYSTORE_CONFIGURATION={configuration}")
            },
        ),
    ];
    if wallet_root.is_empty() {
        let dir =
            w.db.wallet_root
                .clone()
                .unwrap_or_else(|| "/u01/app/oracle/admin/<DB_NAME>/wallet".into());
        let mut r = StepResult::attention(
            "WALLET_ROOT is not set. Set it (it is static: it takes effect at the next restart), restart, and run this step again.",
            vec![
                format!("ALTER SYSTEM SET WALLET_ROOT='{dir}' SCOPE=SPFILE SID='*';"),
                "Restart the database (RAC: srvctl stop database -d <db>; srvctl start database -d <db>).".into(),
                "ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=FILE\" SCOPE=BOTH SID='*';".into(),
            ],
            Vec::new(),
        );
        r.checks = checks;
        return Ok(r);
    }
    let mut notes = Vec::new();
    if let Some(p) = w.db.wallet_root.as_deref()
        && p.trim_end_matches('/') != wallet_root.trim_end_matches('/')
    {
        notes.push(format!(
            "The database profile names WALLET_ROOT {p}, the database {wallet_root}: the database's is used."
        ));
    }
    let targets = hosts::targets(&w.db, ctx.data);
    // The host tdekey reads itself (this machine or the Rehearsal's simulated host), if any.
    let host = targets
        .iter()
        .find(|t| !t.is_remote())
        .map_or(Host::Remote, |t| t.reach.clone());
    let common = checks.len();
    // sqlnet.ora, where tdekey can read it.
    if let (
        Host::Local {
            simulated: false, ..
        },
        Some(home),
    ) = (&host, w.db.oracle_home.as_deref())
    {
        let sqlnet = std::path::Path::new(home).join("network/admin/sqlnet.ora");
        if let Ok(text) = std::fs::read_to_string(&sqlnet)
            && let Ok(loc) = crate::tde::sqlnet::parse_sqlnet(&text)
        {
            notes.push(format!(
                "{}: ENCRYPTION_WALLET_LOCATION (METHOD={}). {}",
                sqlnet.display(),
                loc.method,
                loc.warning
            ));
        }
    }
    match host.path(&wallet_root) {
        Some(root) => {
            let report = crate::databases::wallet_files(&root);
            let ewallet = root.join(layout::KEYSTORE_DIR).join(layout::EWALLET);
            checks.push(Check::new(
                "The software keystore file is under WALLET_ROOT/tde",
                ewallet.is_file(),
                ewallet.display().to_string(),
            ));
            notes.extend(report.warnings.iter().cloned());
            if let Some(r) = auto_login(w, a, ctx, &report, &ewallet, &mut checks, &mut notes)? {
                return Ok(r);
            }
        }
        None if w.db.rac_nodes.is_empty() => notes.push(
            "tdekey does not run on the database host: the keystore files are checked there (step 6 shows the commands).".into(),
        ),
        None => {}
    }
    w.state.wallet_root = Some(wallet_root.clone());
    // Every other host the profile names (RAC nodes, standbys): its keystore files, pasted.
    let named: Vec<Target> = targets
        .into_iter()
        .filter(|t| !t.is_remote() || t.host.is_some())
        .collect();
    if named.iter().all(|t| !t.is_remote()) {
        let mut r = StepResult::from_checks(checks);
        r.notes = notes;
        return Ok(r);
    }
    let file_checks = checks.split_off(common);
    let local = named.iter().any(|t| !t.is_remote()).then(|| {
        let mut r = StepResult::from_checks(file_checks);
        r.notes = notes;
        r
    });
    let tde = layout::under_root(&wallet_root, layout::KEYSTORE_DIR);
    let rac = w.db.rac;
    let command = |t: &Target| {
        vec![
            format!(
                "Run this on {} and paste everything it prints{}:",
                t.host.as_deref().unwrap_or("the database host"),
                if matches!(t.role, Role::Standby(_)) {
                    format!(
                        " (if this standby's WALLET_ROOT is not {wallet_root}, put its own in the command)"
                    )
                } else {
                    String::new()
                }
            ),
            wallet_command(&tde),
        ]
    };
    let check =
        |t: &Target, text: &str| parse_wallet(text).map(|f| remote_wallet_checks(t, rac, &f));
    let remote = Remote {
        why: "Run the command on the database host and paste its output.",
        command: &command,
        check: &check,
    };
    Ok(each_host(
        w,
        ctx,
        StepId::WalletConfig,
        &named,
        local,
        checks,
        &remote,
    ))
}

/// Step 5 on a host tdekey does not reach: `ewallet.p12` there, and `cwallet.sso`'s kind from
/// its header (a local auto-login wallet opens on the host and for the user it was made for
/// only: not on RAC, and a copy from another host fails with ORA-12578).
fn remote_wallet_checks(t: &Target, rac: bool, files: &[WalletFile]) -> Vec<Check> {
    let named = |n: &str| files.iter().find(|f| f.path.ends_with(&format!("/{n}")));
    let ewallet = named(layout::EWALLET);
    let mut checks = vec![Check::new(
        "The software keystore file is under WALLET_ROOT/tde",
        ewallet.is_some_and(|f| f.mode.is_some()),
        ewallet.map_or("not listed".to_owned(), |f| match &f.mode {
            Some(m) => format!("{} (mode {m})", f.path),
            None => format!("{} is missing", f.path),
        }),
    )];
    let Some(sso) = named(layout::CWALLET).filter(|f| f.mode.is_some()) else {
        return checks;
    };
    let bytes: Vec<u8> = (0..sso.head.len() / 2)
        .filter_map(|i| u8::from_str_radix(&sso.head[2 * i..2 * i + 2], 16).ok())
        .collect();
    let kind = crate::wallet::sso_kind(&bytes);
    let detail = format!(
        "{} (mode {}): {}",
        sso.path,
        sso.mode.as_deref().unwrap_or("?"),
        match &kind {
            Ok(k) => k.describe().to_owned(),
            Err(e) => e.to_string(),
        }
    );
    let local = matches!(kind, Ok(crate::wallet::SsoKind::LocalAutoLogin));
    checks.push(match (&t.role, rac) {
        (Role::Node, _) | (_, true) => Check::new(
            "No local auto-login wallet (the database is RAC)",
            !local,
            detail,
        ),
        _ => Check::new(
            "cwallet.sso is an auto-login wallet",
            kind.is_ok(),
            if local {
                format!("{detail}; it must have been made on this host (a copy from the primary fails with ORA-12578)")
            } else {
                detail
            },
        ),
    });
    checks
}

/// A keystore found through sqlnet.ora's ENCRYPTION_WALLET_LOCATION (TDE_CONFIGURATION not set,
/// and V$ENCRYPTION_WALLET's FILE row names another directory than `<WALLET_ROOT>/tde`): the
/// files are copied into `<WALLET_ROOT>/tde` and checked (same bytes, modes, owners) before
/// TDE_CONFIGURATION=FILE takes effect. `None` when the database is not in that state.
fn relocation(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    wallet_root: &str,
) -> Result<Option<StepResult>, MigrationError> {
    use crate::migration::relocate;
    let rows = super::wallet_rows(w, a, ctx)?;
    let Some(old) = super::row_of(&rows, crate::tde::views::WrlType::File)
        .map(|r| r.wrl_parameter.trim().trim_end_matches('/').to_owned())
        .filter(|d| !d.is_empty())
    else {
        return Ok(None);
    };
    let root = if wallet_root.is_empty() {
        w.db.wallet_root
            .clone()
            .unwrap_or_else(|| "/u01/app/oracle/admin/<DB_NAME>/wallet".into())
    } else {
        wallet_root.to_owned()
    };
    let tde = layout::under_root(&root, layout::KEYSTORE_DIR);
    if old == tde {
        return Ok(None);
    }
    let sid = if w.db.rac { " SID='*'" } else { "" };
    let set_config = format!(
        "ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=FILE\" SCOPE=BOTH{sid};"
    );
    if wallet_root.is_empty() {
        let mut todo = vec![format!(
            "The keystore is in {old} (sqlnet.ora's ENCRYPTION_WALLET_LOCATION). Move it to WALLET_ROOT: set WALLET_ROOT, copy the files into {tde}, restart, then run this step again: it checks the copy before TDE_CONFIGURATION=FILE is set."
        )];
        todo.push(format!(
            "ALTER SYSTEM SET WALLET_ROOT='{root}' SCOPE=SPFILE{sid};"
        ));
        todo.extend(relocate::copy_commands(&old, &tde));
        todo.extend(super::restart_commands(w));
        return Ok(Some(StepResult::attention(
            "WALLET_ROOT is not set: the keystore is found through sqlnet.ora, which 19c deprecates and 23ai refuses. Move it under WALLET_ROOT first.",
            todo,
            Vec::new(),
        )));
    }
    let host = Host::of(&w.db, ctx.data);
    let listing = match (host.path(&old), host.path(&tde)) {
        (Some(from), Some(to)) => relocate::list_local(&from, &to),
        _ => {
            let ask = |problem: Option<String>| {
                let mut todo = vec![
                    "Run this on the database host (as the Oracle software owner) and paste everything it prints:".to_owned(),
                    relocate::check_command(&old, &tde),
                ];
                todo.push(format!(
                    "To copy the files first: {}",
                    relocate::copy_commands(&old, &tde).join("; ")
                ));
                StepResult::attention(
                    problem.unwrap_or_else(|| format!(
                        "The keystore must be copied from {old} into {tde} (same bytes, modes and owners) before TDE_CONFIGURATION=FILE takes effect: paste the listing of both directories."
                    )),
                    todo,
                    vec![Need::HostOutput],
                )
            };
            let Some(text) = ctx.inputs.host_output.take() else {
                return Ok(Some(ask(None)));
            };
            match relocate::parse_check(&text) {
                Ok(l) => l,
                Err(e) => return Ok(Some(ask(Some(e.to_string())))),
            }
        }
    };
    let diff = relocate::differences(&listing);
    let check = Check::new(
        "The keystore files are copied into WALLET_ROOT/tde (same bytes, modes and owners)",
        diff.is_empty(),
        if diff.is_empty() {
            format!(
                "{} from {old} in {tde}",
                listing.from.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        } else {
            diff.join("; ")
        },
    );
    if !diff.is_empty() {
        let mut todo = relocate::copy_commands(&old, &tde);
        todo.push("Then run this step again.".into());
        let mut r = StepResult::attention(
            format!(
                "The keystore is not yet in {tde} as it is in {old}: {}. Setting TDE_CONFIGURATION=FILE now would leave the database without its keystore (NOT_AVAILABLE after the restart).",
                diff.join("; ")
            ),
            todo,
            Vec::new(),
        );
        r.checks = vec![check];
        return Ok(Some(r));
    }
    let mut r = StepResult::attention(
        format!(
            "The keystore files are in {tde}, the same as in {old}. Now set TDE_CONFIGURATION so that Oracle uses WALLET_ROOT, remove ENCRYPTION_WALLET_LOCATION from sqlnet.ora, and run this step again."
        ),
        vec![
            set_config,
            "Remove the ENCRYPTION_WALLET_LOCATION entry from $ORACLE_HOME/network/admin/sqlnet.ora (and $TNS_ADMIN/sqlnet.ora).".into(),
        ],
        Vec::new(),
    );
    r.checks = vec![check];
    Ok(Some(r))
}

/// The auto-login wallets under WALLET_ROOT: each one's kind (from its header), a local one on
/// RAC (an error), and whether `tde/cwallet.sso` holds the same keys as `ewallet.p12` (a stale
/// one is a classic cause of ORA-28374 after a change). Asks for the wallet password to
/// compare them; returns the result to stop with when it must.
fn auto_login(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    report: &crate::wallet::RootReport,
    ewallet: &std::path::Path,
    checks: &mut Vec<Check>,
    notes: &mut Vec<String>,
) -> Result<Option<StepResult>, MigrationError> {
    for al in &report.auto_login {
        // A problem wins over a kind (a file tdekey cannot read is never shown as a kind
        // without it); the problem's sentence names the file itself.
        notes.push(match &al.problem {
            Some(p) => p.clone(),
            None => format!("{}: {}.", al.path, al.describe()),
        });
    }
    if w.db.rac {
        let rac = crate::wallet::rac_warnings(report, true);
        checks.push(Check::new(
            "No local auto-login wallet (the database is RAC)",
            rac.is_empty(),
            if rac.is_empty() {
                "none".to_owned()
            } else {
                rac.join(" ")
            },
        ));
    }
    let sso = ewallet.with_file_name(layout::CWALLET);
    if !sso.is_file() || !ewallet.is_file() {
        return Ok(None);
    }
    let Some(pw) = ctx.inputs.wallet_password.clone() else {
        let mut r = StepResult::needs(
            "WALLET_ROOT/tde has an auto-login cwallet.sso: the wallet password opens ewallet.p12 to check that cwallet.sso holds the same keys (a stale one makes the database fail with ORA-28374 after a restart).",
            vec![Need::WalletPassword],
        );
        r.checks = checks.clone();
        return Ok(Some(r));
    };
    let contents = crate::databases::read_wallet_file(a, ewallet, pw)?;
    let name = sso.display().to_string();
    let opened = std::fs::read(&sso)
        .map_err(|e| e.to_string())
        .and_then(|b| crate::wallet::open_sso_named(&b, None, &name).map_err(|e| e.to_string()));
    match opened {
        Ok(auto) => {
            let diffs = crate::wallet::compare_entries(&contents, &auto);
            checks.push(Check::new(
                "cwallet.sso holds the same keys as ewallet.p12",
                diffs.is_empty(),
                if diffs.is_empty() {
                    format!("{} entries, the same", contents.entries.len())
                } else {
                    format!(
                        "{} Re-create it from ewallet.p12: move it aside, then ADMINISTER KEY MANAGEMENT CREATE [LOCAL] AUTO_LOGIN KEYSTORE FROM KEYSTORE '<WALLET_ROOT>/tde' IDENTIFIED BY \"<wallet password>\";",
                        diffs.join(" ")
                    )
                },
            ));
        }
        Err(e) => notes.push(format!(
            "cwallet.sso could not be opened here to compare it with ewallet.p12: {e}"
        )),
    }
    Ok(None)
}

/// Step 6 on a host tdekey does not run on: the person copies the keystore files there with
/// the command shown and pastes the SHA-256 of the originals and the copies; tdekey checks that
/// every original has a copy with the same bytes and records them (the rollback compares the
/// wallet with them).
fn remote_backup(w: &mut Wizard, ctx: &mut Context<'_>, wallet_root: &str) -> StepResult {
    use crate::migration::host_output::{backup_command, parse_sums};
    let tde = layout::under_root(wallet_root, layout::KEYSTORE_DIR);
    let stamp = chrono::DateTime::from_timestamp_millis(crate::model::now_ms())
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ");
    let dir = format!("/home/oracle/tde-backup-{stamp}");
    let ask = |problem: Option<String>| {
        StepResult::attention(
            problem.unwrap_or_else(|| {
                "tdekey does not run on the database host: back the keystore files up there with this command (as the Oracle software owner; change the directory if you like) and paste everything it prints.".into()
            }),
            vec![backup_command(&tde, &dir)],
            vec![Need::HostOutput],
        )
    };
    let Some(text) = ctx.inputs.host_output.take() else {
        return ask(None);
    };
    let sums = match parse_sums(&text) {
        Ok(s) => s,
        Err(e) => return ask(Some(e.to_string())),
    };
    let prefix = format!("{tde}/");
    let originals: Vec<&(String, String)> = sums
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .collect();
    let copies: Vec<&(String, String)> = sums
        .iter()
        .filter(|(p, _)| !p.starts_with(&prefix))
        .collect();
    let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_owned();
    let uncopied: Vec<String> = originals
        .iter()
        .filter(|(p, h)| !copies.iter().any(|(c, ch)| name(c) == name(p) && ch == h))
        .map(|(p, _)| p.clone())
        .collect();
    let has_ewallet = originals
        .iter()
        .any(|(p, _)| p.ends_with(&format!("/{}", layout::EWALLET)));
    let checks = vec![
        Check::new(
            "ewallet.p12 is among the files",
            has_ewallet,
            format!("{} keystore file(s) under {tde}", originals.len()),
        ),
        Check::new(
            "Every keystore file has a copy with the same SHA-256",
            has_ewallet && uncopied.is_empty(),
            if uncopied.is_empty() {
                format!("{} copies", copies.len())
            } else {
                format!("no identical copy of {}", uncopied.join(", "))
            },
        ),
    ];
    let r = StepResult::from_checks(checks);
    if r.status == crate::migration::StepStatus::Done {
        w.state.backup = Some(BackupRecord {
            file: format!(
                "{} on the database host",
                copies
                    .first()
                    .and_then(|(p, _)| p.rsplit_once('/').map(|(d, _)| d.to_owned()))
                    .unwrap_or(dir)
            ),
            sha256: String::new(),
            encrypted: false,
            files: originals
                .iter()
                .map(|(p, h)| (p.clone(), 0, h.clone()))
                .collect(),
        });
    }
    r
}

pub(super) fn backup(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let wallet_root = match w.state.wallet_root.clone() {
        Some(r) => r,
        None => parameter(w, a, ctx, ParameterName::WalletRoot)?,
    };
    let host = Host::of(&w.db, ctx.data);
    let Some(root) = host.path(&wallet_root) else {
        return Ok(remote_backup(w, ctx, &wallet_root));
    };
    let files = match crate::databases::keystore_backup_files(&root) {
        Ok(f) => f,
        Err(e) => {
            return Ok(StepResult::failed(format!(
                "{e} Check WALLET_ROOT (step 5)."
            )));
        }
    };
    let passphrase = match ctx.inputs.backup_passphrase.take() {
        Some(p) => Some(p),
        None if ctx.inputs.unencrypted_backup => None,
        None => {
            return Ok(StepResult::needs(
                format!(
                    "A passphrase for the backup of {} files (at least {} characters; tdekey cannot recover a backup whose passphrase is lost). An unencrypted backup needs an explicit choice.",
                    files.len(),
                    crate::secret::sealed::MIN_PASSPHRASE_CHARS
                ),
                vec![Need::BackupPassphrase],
            ));
        }
    };
    let stamp = chrono::DateTime::from_timestamp_millis(crate::model::now_ms())
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ");
    // One-to-one with the name: "A B" and "A_B" never share a backup's name.
    let name = crate::model::file_stem(&w.db.name);
    // A backup is never written over another: a run stopped after writing one, resumed in the
    // same second, writes the next name.
    let dir = ctx.data.root().join("backups");
    let out = (1..)
        .map(|n| match n {
            1 => dir.join(format!("{name}-wallet-{stamp}.tdkb")),
            n => dir.join(format!("{name}-wallet-{stamp}-{n}.tdkb")),
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_default();
    let backup = crate::databases::backup_wallet(a, &root, &files, &out, passphrase)?;
    let checks = vec![Check::new(
        "The keystore files are sealed in a backup that reads back",
        true,
        format!(
            "{} ({} files, SHA-256 {}{})",
            backup.file,
            backup.files.len(),
            backup.sha256,
            if backup.encrypted {
                ""
            } else {
                ", NOT encrypted"
            }
        ),
    )];
    w.state.backup = Some(BackupRecord {
        file: backup.file.clone(),
        sha256: backup.sha256.clone(),
        encrypted: backup.encrypted,
        files: backup
            .files
            .iter()
            .map(|f| (f.path.clone(), f.size, f.sha256.clone()))
            .collect(),
    });
    Ok(StepResult::from_checks(checks))
}
