//! The `generate` phase of a way-hsm rotation: the key's id drawn (or the one a stopped run
//! recorded), recorded as the run's intent before C_GenerateKey, then the key made and read
//! back.

use super::keygen::{self, KeyRequest};
use super::phases::old_text;
use super::run::{Check, Context, Run, Stop, save, stop};
use crate::audit::Auditor;
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
