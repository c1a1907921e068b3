//! What a rotation run stopped by a crash left, read at the start of the next one: the key a
//! way-hsm run drew and recorded (made or not), and for a way-oracle run stopped inside SET
//! KEY, the key Oracle activated (verified, not replaced) and any key that appeared on the
//! token without being claimed (named, and audited as an orphan).

use super::Way;
use super::phases::master_keys;
use super::run::{Context, Intent, Run, Stop, UNCHANGED, save, stop};
use crate::audit::{Action, Auditor, Outcome};
use crate::store::RunRow;
use crate::tde::labels::MasterKeyId;
use serde_json::json;

/// What the next phase is after looking at the previous run.
pub(super) enum Next {
    /// Go on as usual; way hsm: generate (with this id when the stopped run drew one and made
    /// nothing).
    Generate(Option<MasterKeyId>),
    /// The previous run's key is already active: verify it.
    Verify,
}

/// Reads what a failed or stopped previous run of this database left, after `check`.
pub(super) fn after_stop(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    prev: Option<RunRow>,
) -> Result<Next, Stop> {
    let Some(p) = prev.filter(|p| p.outcome == "failure") else {
        return Ok(Next::Generate(None));
    };
    match (run.way, p.way.as_str()) {
        (Way::Hsm, "hsm") => pending_key(run, a, ctx, &p),
        (Way::Oracle, "oracle") => set_key(run, a, ctx, &p),
        _ => Ok(Next::Generate(None)),
    }
}

fn pending_key(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    p: &RunRow,
) -> Result<Next, Stop> {
    let Some(pending) = p.pending_key.clone() else {
        return Ok(Next::Generate(None));
    };
    if run.old.values().any(|l| l == &pending) {
        // The previous run's USE KEY took effect after all (its answer was never seen).
        run.notes.push(format!(
            "Run {} generated {pending} and its USE KEY did take effect: this run verifies it.",
            p.id
        ));
        let old: Vec<String> = serde_json::from_str(&p.old_keys).unwrap_or_default();
        // The key it replaced is the previous run's old key.
        for l in run.old.values_mut() {
            if *l == pending
                && let Some(o) = old.first()
            {
                l.clone_from(o);
            }
        }
        run.reused = Some(pending.clone());
        run.new_keys = vec![pending];
        save(run, a);
        return Ok(Next::Verify);
    }
    let on_token = ctx
        .hsm
        .count_label(&pending)
        .map_err(|e| stop("generate", e.to_string(), UNCHANGED))?;
    let elsewhere = a
        .store()
        .key_owners()
        .map_err(|e| stop("generate", e.to_string(), UNCHANGED))?
        .iter()
        .any(|k| k.label == pending && k.database != run.db.name);
    if elsewhere {
        return Ok(Next::Generate(None));
    }
    if on_token == 1 {
        run.notes.push(format!(
            "Run {} generated {pending} and did not activate it: this run uses it instead of generating another.",
            p.id
        ));
        run.reused = Some(pending.clone());
        run.row.pending_key = Some(pending.clone());
        run.new_keys = vec![pending];
        save(run, a);
        return Ok(Next::Generate(None));
    }
    let recorded = Intent::parse(p.intent.as_deref()).generate;
    match crate::tde::labels::classify(&pending).master_key() {
        Some(id) if on_token == 0 && recorded.as_deref() == Some(pending.as_str()) => {
            run.notes.push(format!(
                "Run {} drew the id of {pending} and stopped before the key was made: this run makes it under that id (one key per rotation).",
                p.id
            ));
            Ok(Next::Generate(Some(id)))
        }
        _ => Ok(Next::Generate(None)),
    }
}

fn set_key(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    p: &RunRow,
) -> Result<Next, Stop> {
    let Some(sk) = Intent::parse(p.intent.as_deref()).set_key else {
        return Ok(Next::Generate(None));
    };
    if !matches!(p.failed_step.as_deref(), Some("interrupted" | "activate")) {
        return Ok(Next::Generate(None));
    }
    let db = run.db.name.clone();
    let token = run.row.token_label.clone().unwrap_or_default();
    // What V$ENCRYPTION_KEYS shows now that it did not before the stopped SET KEY: Oracle made
    // it then (check has recorded it as this database's).
    let appeared: Vec<String> = run
        .seen
        .iter()
        .filter(|l| !sk.keys_before.contains(l))
        .cloned()
        .collect();
    // A key on the token that neither V$ENCRYPTION_KEYS nor tdekey's records know: made by
    // Oracle inside the stopped SET KEY and never activated (one listing of the token, only
    // after such a stop).
    let owners = a
        .store()
        .key_owners()
        .map_err(|e| stop("check", e.to_string(), UNCHANGED))?;
    let on_token = master_keys(a, ctx).map_err(|e| stop("check", e, UNCHANGED))?;
    let orphans: Vec<String> = on_token
        .into_iter()
        .filter(|l| {
            !run.seen.contains(l)
                && !sk.keys_before.contains(l)
                && !sk.token_before.contains(l)
                && !owners.iter().any(|o| &o.label == l)
        })
        .collect();
    for l in &orphans {
        let what = format!(
            "{l} is on the token {token} and neither V$ENCRYPTION_KEYS of {db} nor tdekey's records know it: run {} of {db} was stopped inside SET KEY, so it is {} the key Oracle generated then and never activated. {db} does not use it. Check that no other database uses it (V$ENCRYPTION_KEYS of each database on this token) before removing it with the HSM's own tools; tdekey never deletes a key.",
            p.id,
            if sk.token_before.is_empty() {
                "most likely"
            } else {
                "(it was not on the token before that run)"
            }
        );
        a.record(
            Action::KeyOrphan,
            l,
            Outcome::Success,
            ctx.hsm.user(),
            json!({ "database": db, "token": token, "stopped_run": p.id, "found_by_run": run.row.id, "what_to_do": what }),
        )
        .map_err(|e| {
            stop(
                "check",
                format!("The orphan key {l} could not be recorded in the audit log ({e}), so nothing was done."),
                UNCHANGED,
            )
        })?;
        run.notes.push(what);
    }
    let took_effect: Vec<String> = run
        .old
        .values()
        .filter(|l| appeared.contains(l))
        .cloned()
        .collect();
    if took_effect.is_empty() {
        return Ok(Next::Generate(None));
    }
    // The stopped run's SET KEY took effect: verify its keys instead of making more.
    let old: Vec<String> = serde_json::from_str(&p.old_keys).unwrap_or_default();
    for (i, l) in run.old.values_mut().enumerate() {
        if appeared.contains(l)
            && let Some(o) = old.get(i)
        {
            l.clone_from(o);
        }
    }
    run.notes.push(format!(
        "Run {} was stopped inside SET KEY and Oracle did activate {}: this run verifies it instead of making another key.",
        p.id,
        took_effect.join(", ")
    ));
    run.reused = took_effect.first().cloned();
    run.new_keys = took_effect;
    run.before = sk.token_before;
    save(run, a);
    Ok(Next::Verify)
}
