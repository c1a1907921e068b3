//! Steps 7 to 10 and 12: HSM|FILE, the file keystore open, the migration, its verification on
//! both sides, and the end (step 11, auto-login, is in `auto_login.rs`).

use super::{
    Check, Context, MigrationError, Need, StepResult, Wizard, cdb, is_rehearsal, key_rows,
    keystore_configuration, primary_of, refusal, restart_commands, row_of, wallet_rows,
};
use crate::audit::{Action, Auditor, Entry};
use crate::migration::StepId;
use crate::migration::state::Path;
use crate::secret::Secret;
use crate::tde::labels::{hsm_key_id, key_metadata_label, parse_key_id};
use crate::tde::request::Request;
use crate::tde::sql::Credential;
use crate::tde::views::{KeystoreType, WalletOrder, WalletStatus, WrlType};
use serde_json::json;

const HSM_FILE: &str = "HSM|FILE";

/// After the person's "restarted": a Rehearsal database is restarted the way the person would
/// have restarted a real one.
pub(super) fn after_restart(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    step: StepId,
) -> Result<Option<StepResult>, MigrationError> {
    if is_rehearsal(w) {
        let ran = w.send(a, ctx, step, &Request::Restart)?;
        if let Some(r) = refusal(&ran.answer.reply) {
            return Ok(Some(StepResult::failed(r)));
        }
    }
    Ok(None)
}

pub(super) fn hsm_file(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    _unknown: bool,
) -> Result<StepResult, MigrationError> {
    let mut configuration = keystore_configuration(w, a, ctx)?;
    let in_effect = |rows: &[crate::tde::views::WalletRow]| row_of(rows, WrlType::Hsm).is_some();
    let rows = wallet_rows(w, a, ctx)?;
    if configuration == HSM_FILE && in_effect(&rows) {
        return Ok(StepResult::done(effect_checks(&configuration, true)));
    }
    if configuration != HSM_FILE {
        // Setting a parameter twice is harmless: an unknown earlier attempt is simply re-sent.
        let ran = w.send(
            a,
            ctx,
            StepId::HsmFile,
            &Request::SetTdeConfiguration {
                value: HSM_FILE.into(),
                all_instances: w.db.rac,
            },
        )?;
        if let Some(r) = refusal(&ran.answer.reply) {
            return Ok(StepResult::failed(r));
        }
        configuration = keystore_configuration(w, a, ctx)?;
        let rows = wallet_rows(w, a, ctx)?;
        if configuration == HSM_FILE && in_effect(&rows) {
            return Ok(StepResult::done(effect_checks(&configuration, true)));
        }
    }
    if !ctx.inputs.confirmed {
        let mut todo = vec![
            "TDE_CONFIGURATION is set to HSM|FILE; it takes effect when the database restarts. tdekey never restarts a database: restart it, then confirm.".to_owned(),
        ];
        todo.extend(restart_commands(w));
        let mut r = StepResult::attention(
            "Restart the database so that HSM|FILE takes effect, then confirm.",
            todo,
            vec![Need::Confirmation],
        );
        r.checks = effect_checks(&configuration, false);
        return Ok(r);
    }
    if let Some(r) = after_restart(w, a, ctx, StepId::HsmFile)? {
        return Ok(r);
    }
    let configuration = keystore_configuration(w, a, ctx)?;
    let rows = wallet_rows(w, a, ctx)?;
    let ok = configuration == HSM_FILE && in_effect(&rows);
    let mut r = StepResult::from_checks(effect_checks(&configuration, in_effect(&rows)));
    if !ok {
        r.reason = Some(
            "HSM|FILE is not in effect after the restart: V$ENCRYPTION_WALLET shows no HSM keystore. Was the database restarted (all instances on RAC)?".into(),
        );
    }
    Ok(r)
}

fn effect_checks(configuration: &str, hsm_row: bool) -> Vec<Check> {
    vec![
        Check::new(
            "TDE_CONFIGURATION reads HSM|FILE",
            configuration == HSM_FILE,
            format!("KEYSTORE_CONFIGURATION={configuration}"),
        ),
        Check::new(
            "V$ENCRYPTION_WALLET shows the HSM keystore",
            hsm_row,
            if hsm_row {
                "HSM|FILE is in effect"
            } else {
                "not yet: it takes effect at the restart"
            },
        ),
    ]
}

fn wallet_password(ctx: &Context<'_>) -> Option<Secret> {
    ctx.inputs.wallet_password.clone()
}

pub(super) fn file_open(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let status =
        |rows: &[crate::tde::views::WalletRow]| row_of(rows, WrlType::File).map(|r| r.status);
    let rows = wallet_rows(w, a, ctx)?;
    let check = |s: Option<WalletStatus>| {
        Check::new(
            "V$ENCRYPTION_WALLET shows the FILE keystore OPEN",
            s == Some(WalletStatus::Open),
            s.map_or("no FILE keystore".into(), |s| s.as_str().to_owned()),
        )
    };
    if status(&rows) == Some(WalletStatus::Open) {
        return Ok(super::standbys::ready(w, ctx, vec![check(status(&rows))]));
    }
    let Some(pw) = wallet_password(ctx) else {
        return Ok(StepResult::needs(
            "The file keystore is not open: its password opens it.",
            vec![Need::WalletPassword],
        ));
    };
    let ran = w.send(
        a,
        ctx,
        StepId::FileOpen,
        &Request::OpenKeystore {
            credential: Credential::Password(pw),
            all_containers: cdb(w),
        },
    )?;
    if let Some(r) = refusal(&ran.answer.reply) {
        return Ok(StepResult::failed(r));
    }
    let rows = wallet_rows(w, a, ctx)?;
    let opened = vec![check(status(&rows))];
    if opened.iter().all(|c| c.ok) {
        return Ok(super::standbys::ready(w, ctx, opened));
    }
    Ok(StepResult::from_checks(opened))
}

/// The master keys on the token now that were not there at step 1.
fn new_keys(
    w: &Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<Vec<crate::inventory::InventoryRow>, MigrationError> {
    Ok(super::token_master_keys(a, ctx)?
        .into_iter()
        .filter(|r| !w.state.snapshot.contains(&r.object.label))
        .collect())
}

pub(super) fn migrate(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    unknown: bool,
) -> Result<StepResult, MigrationError> {
    let rows = wallet_rows(w, a, ctx)?;
    let hsm_open = row_of(&rows, WrlType::Hsm).is_some_and(|r| r.status == WalletStatus::Open)
        && primary_of(&rows) == Some(WrlType::Hsm);
    if unknown || hsm_open {
        let fresh = new_keys(w, a, ctx)?;
        // A migrate sent earlier whose answer was never seen, or a database that looks
        // migrated already: read both sides before anything is sent again.
        if hsm_open && !fresh.is_empty() {
            return Ok(StepResult::done(vec![Check::new(
                "The migration ran",
                true,
                format!(
                    "V$ENCRYPTION_WALLET shows the HSM keystore OPEN and PRIMARY, and the token has {} new master key(s)",
                    fresh.len()
                ),
            )])
            .note("The migrate statement sent before tdekey stopped had run: it is not sent again."));
        }
        if !fresh.is_empty() || hsm_open {
            return Ok(StepResult::attention(
                "The database and the token disagree about whether the migration ran: the HSM keystore and the new master keys do not both show. tdekey will not send the statement again; look at both sides.",
                vec![
                    "SELECT * FROM V$ENCRYPTION_WALLET;".into(),
                    "SELECT * FROM V$ENCRYPTION_KEYS;".into(),
                ],
                Vec::new(),
            ));
        }
    }
    let file_open = row_of(&rows, WrlType::File).is_some_and(|r| r.status == WalletStatus::Open);
    let before = vec![
        Check::new(
            "The FILE keystore is open",
            file_open,
            "the migration reads the current master key from it (step 8)",
        ),
        Check::new(
            "HSM|FILE is in effect",
            row_of(&rows, WrlType::Hsm).is_some(),
            "step 7",
        ),
    ];
    if before.iter().any(|c| !c.ok) {
        return Ok(StepResult::from_checks(before));
    }
    let (Some(hsm_password), Some(wallet_password)) =
        (ctx.inputs.hsm_password.clone(), wallet_password(ctx))
    else {
        let mut needs = Vec::new();
        if ctx.inputs.hsm_password.is_none() {
            needs.push(Need::HsmPassword);
        }
        if ctx.inputs.wallet_password.is_none() {
            needs.push(Need::WalletPassword);
        }
        return Ok(StepResult::needs(
            "The migration needs the crypto user's HSM password and the file keystore's password.",
            needs,
        ));
    };
    let hsm_user = ctx.hsm.user().unwrap_or("").to_owned();
    let tag = ctx
        .inputs
        .tag
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "tdekey_pre_hsm".into());
    let request = Request::Migrate {
        hsm_user,
        hsm_password,
        wallet_password,
        backup: Some(Some(tag)),
    };
    let ran = w.send(a, ctx, StepId::Migrate, &request)?;
    drop(request);
    ctx.inputs.hsm_password = None;
    if let Some(r) = refusal(&ran.answer.reply) {
        let nothing = new_keys(w, a, ctx)?.is_empty();
        let mut r = StepResult::failed(format!(
            "{r}{}",
            if nothing {
                " Nothing was created on the HSM; check the passwords and run this step again."
            } else {
                ""
            }
        ));
        if ctx.hsm.module_path().to_string_lossy().contains("cloudhsm") {
            r = r.note("On a single-HSM CloudHSM cluster, key generation fails unless the client configuration sets disable_key_availability_check.");
        }
        return Ok(r);
    }
    Ok(StepResult::done(vec![Check::new(
        "Oracle migrated the master key",
        true,
        ran.answer.reply.summary(),
    )]))
}

pub(super) fn verify(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let rows = wallet_rows(w, a, ctx)?;
    let hsm = row_of(&rows, WrlType::Hsm);
    let file = row_of(&rows, WrlType::File);
    let mut checks = vec![
        Check::new(
            "V$ENCRYPTION_WALLET: the HSM keystore OPEN and PRIMARY",
            hsm.is_some_and(|r| r.status == WalletStatus::Open)
                && primary_of(&rows) == Some(WrlType::Hsm),
            hsm.map_or("no HSM keystore".into(), |r| {
                format!("{} {}", r.status.as_str(), r.wallet_order.as_str())
            }),
        ),
        Check::new(
            "V$ENCRYPTION_WALLET: the FILE keystore SECONDARY",
            file.is_some_and(|r| r.wallet_order != WalletOrder::Primary)
                && primary_of(&rows) == Some(WrlType::Hsm),
            file.map_or("no FILE keystore".into(), |r| {
                format!("{} {}", r.status.as_str(), r.wallet_order.as_str())
            }),
        ),
    ];
    let all = crate::session::inventory(a, ctx.hsm, &mut |_, _| {})?;
    let fresh: Vec<&crate::inventory::InventoryRow> = all
        .iter()
        .filter(|r| r.kind == "tde-master-key" && !w.state.snapshot.contains(&r.object.label))
        .collect();
    let containers = if cdb(w) { "each container's" } else { "the" };
    checks.push(Check::new(
        "The token has exactly one new TDE master key since step 1",
        fresh.len() == 1 || (cdb(w) && !fresh.is_empty()),
        match fresh.len() {
            0 => "none".to_owned(),
            _ => fresh
                .iter()
                .map(|r| r.object.label.clone())
                .collect::<Vec<_>>()
                .join(", "),
        },
    ));
    let keys = key_rows(w, a, ctx)?;
    let current = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms);
    let current_label = current
        .and_then(|k| parse_key_id(&k.key_id).ok())
        .map(|(_, id)| id.hsm_label());
    let new = current_label
        .as_ref()
        .and_then(|l| fresh.iter().find(|r| &r.object.label == l).copied());
    checks.push(Check::new(
        format!("V$ENCRYPTION_KEYS: {containers} active key is the new one, in the HSM"),
        current.is_some_and(|k| k.keystore_type == KeystoreType::Hsm) && new.is_some(),
        match (current, &current_label) {
            (Some(k), Some(l)) => format!("{} ({l}), {}", k.key_id, k.keystore_type.as_str()),
            _ => "no active key".into(),
        },
    ));
    if let Some(n) = new {
        let healthy = n.health.is_empty();
        checks.push(Check::new(
            "The new key is healthy (AES-256, sensitive, never extractable)",
            healthy,
            if healthy {
                "no finding".to_owned()
            } else {
                n.health
                    .iter()
                    .map(|h| h.reason.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        ));
        let km = parse_key_id(current.map(|k| k.key_id.as_str()).unwrap_or(""))
            .map(|(_, id)| key_metadata_label(&hsm_key_id(&id)))
            .unwrap_or_default();
        checks.push(Check::new(
            "Oracle's key metadata object is on the token",
            all.iter().any(|r| r.object.label == km),
            km.clone(),
        ));
    }
    let result = StepResult::from_checks(checks);
    if result.status == crate::migration::StepStatus::Done
        && let Some(n) = new
    {
        let label = n.object.label.clone();
        let token = w.state.token.clone().unwrap_or_default();
        let database = w.db.name.clone();
        let entry = Entry::new(Action::KeyOwner, &label)
            .user(ctx.hsm.user())
            .details(json!({ "database": database, "token": token, "source": "migration" }));
        a.act(entry, |step| {
            step.store()
                .set_key_owner(&label, &database, &token, "migration")
        })?
        .into_result::<MigrationError>("The key was recorded as the database's")?;
        w.state.new_key = Some(label);
    }
    Ok(result)
}

pub(super) fn done(w: &mut Wizard, _a: &mut Auditor) -> Result<StepResult, MigrationError> {
    let open: Vec<String> = w
        .state
        .steps
        .iter()
        .filter(|s| s.step != StepId::Done && !s.status.settled())
        .map(|s| s.step.title().to_owned())
        .collect();
    let key = match (w.state.path, &w.state.new_key) {
        (Some(Path::AlreadyOnHsm), _) => Some("the master key was already on this HSM".into()),
        (_, Some(k)) => Some(k.clone()),
        _ => None,
    };
    let mut notes = Vec::new();
    if w.state.path == Some(Path::OtherHsm) {
        notes.push(super::reverse::keep_old_hsm(&w.state.old_hsm_keys));
    }
    let mut r = StepResult::from_checks(vec![
        Check::new(
            "Every step is done or skipped",
            open.is_empty(),
            if open.is_empty() {
                "yes".to_owned()
            } else {
                open.join(", ")
            },
        ),
        Check::new(
            "The database's master key is on the HSM",
            key.is_some(),
            key.unwrap_or_else(|| "no verified new key".into()),
        ),
    ]);
    r.notes = notes;
    Ok(r)
}
