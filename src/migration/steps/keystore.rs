//! Steps 7 to 10 and 12: HSM|FILE, the file keystore open, the migration, its verification on
//! both sides, and the end (step 11, auto-login, is in `auto_login.rs`).

use super::in_flight::InFlight;
use super::{
    Check, Context, MigrationError, Need, StepResult, Wizard, cdb, is_rehearsal, key_rows,
    keystore_configuration, primary_of, refusal, restart_commands, row_of, wallet_rows,
};
use crate::audit::{Action, Auditor, Entry};
use crate::inventory::InventoryRow;
use crate::migration::StepId;
use crate::migration::state::Path;
use crate::secret::Secret;
use crate::tde::labels::{hsm_key_id, key_metadata_label, parse_key_id};
use crate::tde::request::Request;
use crate::tde::sql::Credential;
use crate::tde::views::{KeyRow, KeystoreType, WalletOrder, WalletStatus, WrlType};
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

/// The migration's key, as the database tells it: the root's active key (the one activated
/// last) when it is an HSM key V$ENCRYPTION_KEYS did not list at step 1, with the label its
/// id gives on the token and Oracle's metadata label.
pub(super) struct Migrated {
    pub key_id: String,
    pub label: String,
    pub metadata: String,
}

pub(super) fn migrated(w: &Wizard, keys: &[KeyRow]) -> Option<Migrated> {
    let current = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms)?;
    if current.keystore_type != KeystoreType::Hsm || w.state.keys_before.contains(&current.key_id) {
        return None;
    }
    let (_, id) = parse_key_id(&current.key_id).ok()?;
    Some(Migrated {
        key_id: current.key_id.clone(),
        label: id.hsm_label(),
        metadata: key_metadata_label(&hsm_key_id(&id)),
    })
}

/// Looks up `labels` on the token (one search each, audited).
fn look_up(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    labels: &[String],
) -> Result<Vec<InventoryRow>, MigrationError> {
    Ok(crate::session::lookup(a, ctx.hsm, labels)?)
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
    let mut notes = Vec::new();
    if unknown || hsm_open {
        // A migrate sent earlier whose answer was never seen, or a database that looks
        // migrated already: read both sides and continue from what they show.
        match super::in_flight::in_flight(w, a, ctx, hsm_open, unknown)? {
            InFlight::Ran(r) | InFlight::Stop(r) => return Ok(r),
            InFlight::NotRun(n) => notes = n,
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
        let mut r = StepResult::from_checks(before);
        r.notes = notes;
        return Ok(r);
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
        let mut r = StepResult::needs(
            "The migration needs the crypto user's HSM password and the file keystore's password.",
            needs,
        );
        r.notes = notes;
        return Ok(r);
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
        let keys = key_rows(w, a, ctx)?;
        let nothing = migrated(w, &keys).is_none();
        let mut r = StepResult::failed(format!(
            "{r}{}",
            if nothing {
                " The statement did not take effect (V$ENCRYPTION_KEYS shows no new active key in the HSM): check the passwords and run this step again."
            } else {
                ""
            }
        ));
        r.notes = notes;
        if ctx.hsm.module_path().to_string_lossy().contains("cloudhsm") {
            r = r.note("On a single-HSM CloudHSM cluster, key generation fails unless the client configuration sets disable_key_availability_check.");
        }
        return Ok(r);
    }
    let mut r = StepResult::done(vec![Check::new(
        "Oracle migrated the master key",
        true,
        ran.answer.reply.summary(),
    )]);
    r.notes = notes;
    Ok(r)
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
    let keys = key_rows(w, a, ctx)?;
    // Each container's active key (the one activated last) must be an HSM key the database
    // did not list at step 1.
    let mut active: std::collections::BTreeMap<u32, &KeyRow> = std::collections::BTreeMap::new();
    for k in &keys {
        if active
            .get(&k.con_id)
            .is_none_or(|o| k.activated_ms >= o.activated_ms)
        {
            active.insert(k.con_id, k);
        }
    }
    let stale: Vec<String> = active
        .values()
        .filter(|k| k.keystore_type != KeystoreType::Hsm || w.state.keys_before.contains(&k.key_id))
        .map(|k| {
            format!(
                "CON_ID {}: {} ({})",
                k.con_id,
                k.key_id,
                k.keystore_type.as_str()
            )
        })
        .collect();
    if cdb(w) {
        checks.push(Check::new(
            "V$ENCRYPTION_KEYS: each container's active key is new since step 1, in the HSM",
            !active.is_empty() && stale.is_empty(),
            if active.is_empty() {
                "no active key".to_owned()
            } else if stale.is_empty() {
                format!("{} container(s)", active.len())
            } else {
                format!("not new: {}", stale.join("; "))
            },
        ));
    }
    let current = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms);
    let m = migrated(w, &keys);
    checks.push(Check::new(
        "V$ENCRYPTION_KEYS: the active key is new since step 1, in the HSM",
        m.is_some(),
        match (current, &m) {
            (_, Some(m)) => format!("{} ({}), HSM", m.key_id, m.label),
            (Some(k), None) => format!(
                "{}, {}: not a key made in the HSM since step 1",
                k.key_id,
                k.keystore_type.as_str()
            ),
            (None, None) => "no active key".into(),
        },
    ));
    // Only the migration's labels are read from the token: a key another database makes on
    // a shared HSM meanwhile changes nothing here.
    let found = match &m {
        Some(m) => look_up(a, ctx, &[m.label.clone(), m.metadata.clone()])?,
        None => Vec::new(),
    };
    let new: Option<&InventoryRow> = m
        .as_ref()
        .and_then(|m| found.iter().find(|r| r.object.label == m.label));
    if let Some(m) = &m {
        let n = found.iter().filter(|r| r.object.label == m.label).count();
        checks.push(Check::new(
            "The new key is on the token, once, under the label its id gives",
            n == 1,
            format!(
                "{}: {n} object{} on token {:?}",
                m.label,
                if n == 1 { "" } else { "s" },
                ctx.hsm.token().map(|t| t.label.as_str()).unwrap_or("")
            ),
        ));
    }
    if let (Some(m), Some(n)) = (&m, new) {
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
        checks.push(Check::new(
            "Oracle's key metadata object is on the token",
            found.iter().any(|r| r.object.label == m.metadata),
            m.metadata.clone(),
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
