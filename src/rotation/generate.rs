//! The `generate` phase of a way-hsm rotation: the key's id drawn (or the one a stopped run
//! recorded), recorded as the run's intent before C_GenerateKey, then the key made and read
//! back.

use super::keygen::{self, KeyRequest};
use super::phases::old_text;
use super::run::{Check, Context, Run, Stop, save, stop};
use crate::audit::Auditor;
use crate::inventory::Severity;
use crate::tde::labels::MasterKeyId;

/// Way hsm: a new key, its id drawn from the HSM's random generator (or `id`, the one a
/// stopped run drew and recorded), recorded as this run's intent before C_GenerateKey so a
/// run stopped in between is found again by its label and never followed by a second key.
pub(super) fn generate(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    id: Option<MasterKeyId>,
) -> Result<(), Stop> {
    let req = KeyRequest {
        tag: run.tag.clone(),
        oracle_user: None,
        database: Some(run.db.name.clone()),
    };
    let id = match id {
        Some(id) => id,
        None => {
            let id = ctx.hsm.random_master_key_id().map_err(|e| {
                stop(
                    "generate",
                    e.to_string(),
                    format!(
                        "The database was not changed: it still uses {}. Nothing was generated.",
                        old_text(run)
                    ),
                )
            })?;
            crate::faults::point(crate::faults::AFTER_RANDOM);
            id
        }
    };
    let label = id.hsm_label();
    // An id already in use (a collision of the random generator) is refused by keygen below;
    // it must not become this run's intent, or the next run would take that object for its key.
    let taken =
        ctx.hsm.count_label(&label).unwrap_or(0) > 0 || ctx.hsm.count_id(&id.0).unwrap_or(0) > 0;
    if !taken {
        run.row.pending_key = Some(label.clone());
        let intent = super::run::Intent {
            generate: Some(label),
            set_key: None,
        };
        super::run::save_intent(run, a, "generate", intent)?;
    }
    let key = match keygen::generate_key_with_id(a, ctx.hsm, &req, id) {
        Ok(k) => k,
        Err(e) => {
            // No key under the recorded id: none is pending (the intent stays in the row).
            if run.row.pending_key.as_deref() == Some(id.hsm_label().as_str())
                && ctx.hsm.count_label(&id.hsm_label()).is_ok_and(|n| n == 0)
            {
                run.row.pending_key = None;
            }
            return Err(stop(
                "generate",
                e.to_string(),
                format!(
                    "The database was not changed: it still uses {}. No key was activated.",
                    old_text(run)
                ),
            ));
        }
    };
    run.checks.push(Check::new(
        "A new AES-256 key generated on the HSM and read back healthy",
        true,
        format!("{} (CKA_ID {})", key.label, key.cka_id),
    ));
    run.row.pending_key = Some(key.label.clone());
    run.new_keys = vec![key.label.clone()];
    run.generated = Some(key.row);
    save(run, a);
    Ok(())
}

/// Way hsm with a key generated beforehand (Keys › Generate, `tdekey key generate`): that key
/// is activated instead of a new one, once it is known to be a healthy TDE master key, alone
/// under its label on the token, that no database claims.
pub(super) fn use_chosen(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    label: &str,
) -> Result<(), Stop> {
    let unchanged = format!(
        "The database was not changed: it still uses {}. Nothing was generated.",
        old_text(run)
    );
    let refuse = |why: String| stop("generate", why, unchanged.clone());
    if crate::tde::labels::classify(label).master_key().is_none() {
        return Err(refuse(format!(
            "{label} is not a TDE master key label (ORACLE.TDE.HSM.MK.06 and 32 hexadecimal digits): choose a key generated for USE KEY."
        )));
    }
    let owners = a.store().key_owners().map_err(|e| refuse(e.to_string()))?;
    if let Some(k) = owners.iter().find(|k| k.label == label) {
        return Err(refuse(format!(
            "{label} is recorded as a master key of {} already: a key is never made the master key of a second database, nor made current again. Choose an unclaimed key, or let the rotation generate one.",
            k.database
        )));
    }
    let rows = crate::session::lookup(a, ctx.hsm, &[label.to_owned()])
        .map_err(|e| refuse(e.to_string()))?;
    let token = run.row.token_label.clone().unwrap_or_default();
    let row = match rows.as_slice() {
        [] => {
            return Err(refuse(format!(
                "{label} is not on the token {token}: choose a key on the token the database uses, or let the rotation generate one."
            )));
        }
        [r] => r.clone(),
        many => {
            return Err(refuse(format!(
                "{} objects on {token} carry the label {label}: Oracle could not tell which one is its master key. Choose another key.",
                many.len()
            )));
        }
    };
    let problems: Vec<&str> = row
        .health
        .iter()
        .filter(|h| h.severity == Severity::Critical)
        .map(|h| h.reason.as_str())
        .collect();
    if !problems.is_empty() {
        return Err(refuse(format!(
            "{label} breaks the master-key rules: {} Choose a healthy key.",
            problems.join(" ")
        )));
    }
    run.checks.push(Check::new(
        "The key chosen for this rotation is a healthy master key on the token that no database claims",
        true,
        format!("{label} (CKA_ID {})", row.object.id_hex),
    ));
    run.notes.push(format!(
        "{label} was generated beforehand and chosen for this rotation: no key was generated."
    ));
    run.row.pending_key = Some(label.to_owned());
    run.new_keys = vec![label.to_owned()];
    run.generated = Some(row);
    save(run, a);
    Ok(())
}
