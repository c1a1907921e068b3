//! Back to the file wallet: TDE_CONFIGURATION FILE|HSM, the reverse migration, TDE_CONFIGURATION
//! FILE. Shared by the rollback (with this HSM's crypto user) and path B's step 2 (with the
//! other HSM's user). Each stage reads the database first and acts only when it must, so a run
//! stopped anywhere (a restart to wait for, a crash) resumes at the right stage; a reverse
//! migration whose answer was never seen is found out from V$ENCRYPTION_KEYS, not sent again.

use super::{
    Check, Context, MigrationError, Need, StepResult, Wizard, is_rehearsal, key_rows,
    keystore_configuration, refusal, row_of, wallet_rows,
};
use crate::audit::Auditor;
use crate::migration::StepId;
use crate::migration::wizard::At;
use crate::secret::Secret;
use crate::tde::request::Request;
use crate::tde::sql::Credential;
use crate::tde::views::{KeystoreType, WalletRow, WalletStatus, WrlType};

const FILE_HSM: &str = "FILE|HSM";

/// A stage either is satisfied (with its checks) or stops the step.
pub(super) enum Stage {
    Go(Vec<Check>),
    Stop(StepResult),
}

/// Who Oracle logs in to the HSM as for the reverse migration.
pub(super) struct HsmLogin {
    /// None: an HSM that takes a password only (`"<password>"`, without `user:`).
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// What to ask for when the password is missing.
    pub need: Need,
}

/// Where the database's current master key is, as V$ENCRYPTION_KEYS shows it. The view lists
/// the keys of the open keystores only, so the answer counts only when every keystore of the
/// root is open; with `open` (the wallet password and the HSM login) the closed ones are
/// opened first.
enum Where {
    Hsm,
    File,
    /// Not every keystore is open: the view would show part of the keys.
    Unseen(String),
}

fn key_location(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    open: Option<(&Secret, &HsmLogin)>,
) -> Result<Where, MigrationError> {
    let is_open = |s: WalletStatus| {
        matches!(
            s,
            WalletStatus::Open
                | WalletStatus::OpenNoMasterKey
                | WalletStatus::OpenUnknownMasterKeyStatus
        )
    };
    let mut rows = wallet_rows(w, a, ctx)?;
    if let Some((wallet_password, login)) = open {
        for kind in [WrlType::File, WrlType::Hsm] {
            let closed = row_of(&rows, kind).is_some_and(|r| !is_open(r.status));
            let credential = match kind {
                WrlType::Hsm => login.password.clone().map(|password| match &login.user {
                    Some(user) => Credential::Hsm {
                        user: user.clone(),
                        password,
                    },
                    None => Credential::Password(password),
                }),
                _ => Some(Credential::Password(wallet_password.clone())),
            };
            if let (true, Some(credential)) = (closed, credential) {
                let ran = w.send(
                    a,
                    ctx,
                    at,
                    &Request::OpenKeystore {
                        credential,
                        all_containers: super::cdb(w),
                    },
                )?;
                if let Some(r) = refusal(&ran.answer.reply) {
                    return Ok(Where::Unseen(format!(
                        "the {} keystore could not be opened: {r}",
                        kind.as_str()
                    )));
                }
            }
        }
        rows = wallet_rows(w, a, ctx)?;
    }
    let closed: Vec<String> = rows
        .iter()
        .filter(|r| r.con_id <= 1 && !is_open(r.status))
        .map(|r| format!("{} {}", r.wrl_type.as_str(), r.status.as_str()))
        .collect();
    if !closed.is_empty() {
        return Ok(Where::Unseen(format!(
            "not every keystore is open ({}), so V$ENCRYPTION_KEYS shows part of the keys",
            closed.join(", ")
        )));
    }
    let keys = key_rows(w, a, ctx)?;
    Ok(
        match keys
            .iter()
            .filter(|k| k.con_id <= 1)
            .max_by_key(|k| k.activated_ms)
            .map(|k| k.keystore_type)
        {
            Some(KeystoreType::Hsm) => Where::Hsm,
            Some(_) => Where::File,
            None => Where::Unseen("V$ENCRYPTION_KEYS shows no key".into()),
        },
    )
}

fn file_primary(rows: &[WalletRow]) -> bool {
    super::primary_of(rows) == Some(WrlType::File) && row_of(rows, WrlType::Hsm).is_some()
}

fn restart_todo(w: &Wizard, what: &str) -> Vec<String> {
    let mut todo = vec![format!(
        "{what} takes effect when the database restarts. tdekey never restarts a database: restart it, then confirm."
    )];
    todo.extend(super::restart_commands(w));
    todo
}

/// The Rehearsal is restarted the way the person would have restarted a real database.
fn restarted(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
) -> Result<Option<StepResult>, MigrationError> {
    if is_rehearsal(w) {
        let ran = w.send(a, ctx, at, &Request::Restart)?;
        if let Some(r) = refusal(&ran.answer.reply) {
            return Ok(Some(StepResult::failed(r)));
        }
    }
    Ok(None)
}

/// Sets TDE_CONFIGURATION unless it already reads `value`.
fn set_configuration(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    value: &str,
) -> Result<Option<StepResult>, MigrationError> {
    if keystore_configuration(w, a, ctx)? == value {
        return Ok(None);
    }
    let ran = w.send(
        a,
        ctx,
        at,
        &Request::SetTdeConfiguration {
            value: value.into(),
            all_instances: w.db.rac,
        },
    )?;
    Ok(refusal(&ran.answer.reply).map(StepResult::failed))
}

/// FILE|HSM in effect (the file keystore primary), before a reverse migration.
/// `confirmed`: the person says the restart this stage asked for is done.
pub(super) fn file_first(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    confirmed: &mut Confirmation,
) -> Result<Stage, MigrationError> {
    let in_effect = |rows: &[WalletRow]| {
        Check::new(
            "V$ENCRYPTION_WALLET: the FILE keystore PRIMARY, the HSM keystore SECONDARY",
            file_primary(rows),
            row_of(rows, WrlType::File).map_or("no FILE keystore".into(), |r| {
                format!("FILE {}", r.wallet_order.as_str())
            }),
        )
    };
    let rows = wallet_rows(w, a, ctx)?;
    if file_primary(&rows) {
        // A confirmation given for this stage's restart is used up: the next stage's restart
        // (path B's FILE) needs its own.
        confirmed.take();
        return Ok(Stage::Go(vec![in_effect(&rows)]));
    }
    if let Some(r) = set_configuration(w, a, ctx, at, FILE_HSM)? {
        return Ok(Stage::Stop(r));
    }
    let rows = wallet_rows(w, a, ctx)?;
    if file_primary(&rows) {
        return Ok(Stage::Go(vec![in_effect(&rows)]));
    }
    let configured = Check::new(
        "TDE_CONFIGURATION reads FILE|HSM",
        true,
        "KEYSTORE_CONFIGURATION=FILE|HSM",
    );
    if !confirmed.take() {
        let mut r = StepResult::attention(
            "Restart the database so that FILE|HSM takes effect, then confirm.",
            restart_todo(w, "TDE_CONFIGURATION FILE|HSM"),
            vec![Need::Confirmation],
        );
        r.checks = vec![configured, in_effect(&rows)];
        return Ok(Stage::Stop(r));
    }
    if let Some(r) = restarted(w, a, ctx, at)? {
        return Ok(Stage::Stop(r));
    }
    let rows = wallet_rows(w, a, ctx)?;
    if file_primary(&rows) {
        return Ok(Stage::Go(vec![configured, in_effect(&rows)]));
    }
    let mut r = StepResult::from_checks(vec![configured, in_effect(&rows)]);
    r.reason = Some(
        "FILE|HSM is not in effect after the restart: V$ENCRYPTION_WALLET does not show the FILE keystore primary. Was the database restarted (all instances on RAC)?".into(),
    );
    Ok(Stage::Stop(r))
}

/// The reverse migration, with FILE|HSM in effect: sent only when V$ENCRYPTION_KEYS (with
/// both keystores open) does not already show the master key in the file wallet, and checked
/// there after.
pub(super) fn reverse(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    login: HsmLogin,
) -> Result<Stage, MigrationError> {
    let rows = wallet_rows(w, a, ctx)?;
    if !file_primary(&rows) {
        return Ok(Stage::Stop(StepResult::failed(
            "FILE|HSM is not in effect (V$ENCRYPTION_WALLET does not show the FILE keystore primary): the reverse migration needs it. Run the step before this one again.",
        )));
    }
    let (Some(wallet_password), Some(_)) = (ctx.inputs.wallet_password.clone(), &login.password)
    else {
        let mut needs = Vec::new();
        if ctx.inputs.wallet_password.is_none() {
            needs.push(Need::WalletPassword);
        }
        if login.password.is_none() {
            needs.push(login.need.clone());
        }
        return Ok(Stage::Stop(StepResult::needs(
            "The reverse migration needs the file keystore's password and the HSM user's password.",
            needs,
        )));
    };
    let in_file = |wh: &Where| {
        Check::new(
            "V$ENCRYPTION_KEYS: the current master key is in the software keystore",
            matches!(wh, Where::File),
            match wh {
                Where::File => "SOFTWARE KEYSTORE".to_owned(),
                Where::Hsm => "HSM".to_owned(),
                Where::Unseen(why) => why.clone(),
            },
        )
    };
    let before = key_location(w, a, ctx, at, Some((&wallet_password, &login)))?;
    if matches!(before, Where::File) {
        return Ok(Stage::Go(vec![in_file(&before)]));
    }
    let Some(hsm_password) = login.password.clone() else {
        return Ok(Stage::Stop(StepResult::needs(
            "The reverse migration needs the HSM user's password.",
            vec![login.need],
        )));
    };
    let ran = w.send(
        a,
        ctx,
        at,
        &Request::ReverseMigrate {
            wallet_password: wallet_password.clone(),
            hsm_user: login.user.clone(),
            hsm_password,
        },
    )?;
    if let Some(r) = refusal(&ran.answer.reply) {
        return Ok(Stage::Stop(StepResult::failed(r)));
    }
    let after = key_location(w, a, ctx, at, Some((&wallet_password, &login)))?;
    let checks = vec![
        Check::new(
            "Oracle reverse-migrated the master key",
            true,
            ran.answer.reply.summary(),
        ),
        in_file(&after),
    ];
    if matches!(after, Where::File) {
        Ok(Stage::Go(checks))
    } else {
        Ok(Stage::Stop(StepResult::from_checks(checks)))
    }
}

/// TDE_CONFIGURATION `target` in effect (the file keystore only), and the file keystore open.
pub(super) fn file_only(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    target: &str,
    confirmed: &mut Confirmation,
) -> Result<Stage, MigrationError> {
    if matches!(key_location(w, a, ctx, at, None)?, Where::Hsm) {
        return Ok(Stage::Stop(StepResult::failed(
            "The current master key is still on an HSM: without the reverse migration the database could not read its keys from the file keystore alone. Run the reverse migration first.",
        )));
    }
    let effect = |conf: &str, rows: &[WalletRow]| {
        let file = row_of(rows, WrlType::File);
        Check::new(
            format!(
                "KEYSTORE_CONFIGURATION={target} in effect: V$ENCRYPTION_WALLET shows the FILE keystore only"
            ),
            conf == target && file.is_some() && row_of(rows, WrlType::Hsm).is_none(),
            format!(
                "TDE_CONFIGURATION {conf}; {}",
                rows.iter()
                    .filter(|r| r.con_id <= 1)
                    .map(|r| format!("{} {}", r.wrl_type.as_str(), r.status.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    let mut conf = keystore_configuration(w, a, ctx)?;
    let mut rows = wallet_rows(w, a, ctx)?;
    if !effect(&conf, &rows).ok {
        if let Some(r) = set_configuration(w, a, ctx, at, target)? {
            return Ok(Stage::Stop(r));
        }
        conf = keystore_configuration(w, a, ctx)?;
        rows = wallet_rows(w, a, ctx)?;
    }
    if !effect(&conf, &rows).ok {
        if !confirmed.take() {
            let mut r = StepResult::attention(
                format!("Restart the database so that {target} takes effect, then confirm."),
                restart_todo(w, &format!("TDE_CONFIGURATION {target}")),
                vec![Need::Confirmation],
            );
            r.checks = vec![effect(&conf, &rows)];
            return Ok(Stage::Stop(r));
        }
        if let Some(r) = restarted(w, a, ctx, at)? {
            return Ok(Stage::Stop(r));
        }
        conf = keystore_configuration(w, a, ctx)?;
        rows = wallet_rows(w, a, ctx)?;
        if !effect(&conf, &rows).ok {
            let mut r = StepResult::from_checks(vec![effect(&conf, &rows)]);
            r.reason = Some(format!(
                "{target} is not in effect after the restart. Was the database restarted (all instances on RAC)?"
            ));
            return Ok(Stage::Stop(r));
        }
    }
    let open = |rows: &[WalletRow]| {
        let s = row_of(rows, WrlType::File).map(|r| r.status);
        Check::new(
            "V$ENCRYPTION_WALLET: the FILE keystore OPEN",
            s == Some(WalletStatus::Open),
            s.map_or("no FILE keystore".into(), |s| s.as_str().to_owned()),
        )
    };
    if !open(&rows).ok {
        let Some(pw) = ctx.inputs.wallet_password.clone() else {
            let mut r = StepResult::needs(
                "The file keystore is closed after the restart: its password opens it.",
                vec![Need::WalletPassword],
            );
            r.checks = vec![effect(&conf, &rows), open(&rows)];
            return Ok(Stage::Stop(r));
        };
        let ran = w.send(
            a,
            ctx,
            at,
            &Request::OpenKeystore {
                credential: Credential::Password(pw),
                all_containers: super::cdb(w),
            },
        )?;
        if let Some(r) = refusal(&ran.answer.reply) {
            return Ok(Stage::Stop(StepResult::failed(r)));
        }
        rows = wallet_rows(w, a, ctx)?;
    }
    let checks = vec![effect(&conf, &rows), open(&rows)];
    if checks.iter().all(|c| c.ok) {
        Ok(Stage::Go(checks))
    } else {
        Ok(Stage::Stop(StepResult::from_checks(checks)))
    }
}

/// The person's "done" for the restarts a step asks for: one confirmation answers the restart
/// the step was waiting for; a Rehearsal run unattended (`--yes`) confirms every restart.
pub(super) struct Confirmation {
    given: bool,
    unattended: bool,
}

impl Confirmation {
    /// Uses the confirmation for one restart: whether there was one.
    pub(super) fn take(&mut self) -> bool {
        let had = self.given || self.unattended;
        self.given = false;
        had
    }
}

/// The confirmation a step run has: it counts when the step asked for it (it was waiting), or
/// when the person runs the Rehearsal unattended.
pub(super) fn confirmation(w: &Wizard, ctx: &Context<'_>, waiting: bool) -> Confirmation {
    let unattended = ctx.inputs.confirmed && ctx.inputs.apply_fix && is_rehearsal(w);
    Confirmation {
        given: ctx.inputs.confirmed && waiting,
        unattended,
    }
}

/// The value TDE_CONFIGURATION goes back to: what it was at step 1 (FILE when it was not set
/// or named an HSM).
pub(super) fn configuration_before(w: &Wizard) -> String {
    match w.state.configuration_before.as_deref() {
        Some(c) if !c.is_empty() && !c.contains("HSM") => c.to_owned(),
        _ => "FILE".to_owned(),
    }
}

/// Step 2: path B, from another HSM to the file wallet (skipped on path A).
pub(super) fn from_other_hsm(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    waiting: bool,
) -> Result<StepResult, MigrationError> {
    if w.state.path != Some(crate::migration::Path::OtherHsm) {
        return Ok(StepResult::skipped(
            "The master key is not in another HSM (path A): nothing to bring back to the file wallet.",
        ));
    }
    let at = At::Step(StepId::FromOtherHsm);
    let mut confirmed = confirmation(w, ctx, waiting);
    let mut checks = Vec::new();
    if !w.state.other_hsm_reversed {
        match file_first(w, a, ctx, at, &mut confirmed)? {
            Stage::Go(c) => checks.extend(c),
            Stage::Stop(r) => return Ok(r),
        }
        if let Some(r) = reverse_from_other(w, a, ctx, at, &mut checks)? {
            return Ok(r);
        }
    }
    match file_only(w, a, ctx, at, "FILE", &mut confirmed)? {
        Stage::Go(c) => checks.extend(c),
        Stage::Stop(r) => return Ok(r),
    }
    Ok(StepResult::from_checks(checks).note(
        "The master key is in the file wallet now. Replace the old vendor's PKCS#11 library under /opt/oracle/extapi/64/hsm/ with this HSM's (step 4), then the migration goes on as from a file wallet.",
    ))
}

/// Path B's reverse migration, logged in to the other HSM.
fn reverse_from_other(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    at: At,
    checks: &mut Vec<Check>,
) -> Result<Option<StepResult>, MigrationError> {
    let user = ctx.inputs.old_hsm_user.clone().filter(|u| !u.is_empty());
    if user.is_none() && !ctx.inputs.old_hsm_password_only {
        return Ok(Some(StepResult::needs(
            "The reverse migration logs in to the HSM the database uses now: give its user and password (for CloudHSM, the crypto user; for other vendors, what their Oracle guide names), or say that it takes a password only (no user name).",
            vec![Need::OldHsmCredential],
        )));
    }
    let login = HsmLogin {
        user,
        password: ctx.inputs.old_hsm_password.clone(),
        need: Need::OldHsmCredential,
    };
    match reverse(w, a, ctx, at, login)? {
        Stage::Go(c) => {
            checks.extend(c);
            w.state.other_hsm_reversed = true;
            ctx.inputs.old_hsm_password = None;
            // With both keystores open, V$ENCRYPTION_KEYS lists every key the other HSM holds
            // for this database, the older ones too.
            let keys = key_rows(w, a, ctx)?;
            note_old_hsm_keys(w, &keys, ctx.hsm)?;
            Ok(None)
        }
        Stage::Stop(r) => Ok(Some(r)),
    }
}

/// Path B: the HSM master keys V$ENCRYPTION_KEYS shows that are not on this token (they are
/// on the other HSM), added to the state's list. Each is looked up by its label (one search
/// per key, not a listing of the token).
pub(super) fn note_old_hsm_keys(
    w: &mut Wizard,
    keys: &[crate::tde::views::KeyRow],
    hsm: &crate::hsm::Hsm,
) -> Result<(), MigrationError> {
    for k in keys.iter().filter(|k| k.keystore_type == KeystoreType::Hsm) {
        let Ok((_, id)) = crate::tde::labels::parse_key_id(&k.key_id) else {
            continue;
        };
        let label = id.hsm_label();
        if !w.state.old_hsm_keys.contains(&label) && hsm.count_label(&label)? == 0 {
            w.state.old_hsm_keys.push(label);
        }
    }
    Ok(())
}

/// Path B, said at the end and in the report: keep the other HSM reachable.
pub(crate) fn keep_old_hsm(keys: &[String]) -> String {
    format!(
        "Path B: keep the other HSM running, its user and password, and a copy of its PKCS#11 library (outside /opt/oracle/extapi/64/hsm/, where only this HSM's may be) for the whole recovery window. Backups and archived redo made before the migration are encrypted under master keys that exist only there: {}. To restore one, put that library back in place of this HSM's for the restore (and this one back after).",
        if keys.is_empty() {
            "the ones V$ENCRYPTION_KEYS showed in the HSM before step 2".to_owned()
        } else {
            keys.join(", ")
        }
    )
}
