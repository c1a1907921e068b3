//! A `key generate` killed between `C_GenerateKey` and the entry that records its outcome
//! leaves a key on the token that only its `started` entry names (the label is drawn from
//! `C_GenerateRandom` and written there before the key is made). The next `key generate` for
//! the same database, token and Oracle user returns that key instead of making a second one,
//! and writes the outcome the killed run could not; a run killed before its key was made is
//! closed as a failure. A `started` entry of a process that still runs is left alone: on this
//! host told by its pid, on a shared store from any host by the lock the run holds on its
//! label until its outcome is written.

use super::RotationError;
use super::keygen::{GeneratedKey, KeyRequest, read_back};
use crate::audit::{Action, Auditor, Outcome};
use crate::hsm::Hsm;
use crate::store::{AuditFilter, AuditRow};
use serde_json::{Value, json};
use std::collections::HashSet;

/// The key of an interrupted `key generate` that this request would have made, if there is
/// one; its outcome recorded.
pub(super) fn interrupted_key(
    a: &mut Auditor,
    hsm: &Hsm,
    req: &KeyRequest,
) -> Result<Option<GeneratedKey>, RotationError> {
    let token = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let owner = hsm.user().unwrap_or("").to_owned();
    let oracle_user = req
        .oracle_user
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| owner.clone());
    for (started, details) in unfinished(a)? {
        let process = details["process"].as_str().unwrap_or("");
        if details["standalone"] != true || details["token"] != token.as_str() {
            continue;
        }
        let label = started.target.clone();
        // This host's processes by their pid; on a shared store any host's by the lock the run
        // holds until it records its outcome (free: its process, or its connection, ended).
        let _lock = if crate::migration::holder_gone(process) {
            None
        } else if a.store().is_shared() {
            match crate::store::LeaseKeeper::lock(
                a.store(),
                crate::store::LeaseKey::KeyGenerate(&label),
            )? {
                Some(k) => Some(k),
                None => continue,
            }
        } else {
            continue;
        };
        let Some(id) = crate::tde::labels::classify(&label).master_key() else {
            continue;
        };
        let objects = hsm.objects_labelled(&label)?;
        let Some(object) = objects.into_iter().next() else {
            // Killed before the key was made: nothing is on the token; close the entry.
            a.record(
                Action::KeyGenerate,
                &label,
                Outcome::Failure,
                started.hsm_user.as_deref(),
                json!({
                    "started_seq": started.seq,
                    "error": "The key generate that drew this id stopped before the key was made (its process ended): nothing is on the token.",
                    "closed_by": "a later key generate",
                }),
            )?;
            continue;
        };
        let same = details["database"] == json!(req.database)
            && details["oracle_user"] == oracle_user.as_str();
        let claimed = a.store().key_owners()?.iter().any(|k| k.label == label);
        if !same || claimed {
            continue;
        }
        a.record(
            Action::KeyGenerate,
            &label,
            Outcome::Success,
            started.hsm_user.as_deref(),
            json!({
                "started_seq": started.seq,
                "handle": object.handle,
                "cka_id": object.id_hex,
                "found_by": "a later key generate: the run that made this key stopped before it recorded it; this one returns it instead of making a second key",
            }),
        )?;
        let key = read_back(
            object,
            &id,
            &label,
            token.clone(),
            started.hsm_user.clone().unwrap_or_else(|| owner.clone()),
            &oracle_user,
            req,
        )?;
        return Ok(Some(key));
    }
    Ok(None)
}

/// The `started` entries of `key.generate` that no outcome answers, newest first, with their
/// details.
fn unfinished(a: &Auditor) -> Result<Vec<(AuditRow, Value)>, RotationError> {
    let filter = AuditFilter {
        action: Some(Action::KeyGenerate.as_str().to_owned()),
        ..AuditFilter::default()
    };
    let mut started = Vec::new();
    let mut answered = HashSet::new();
    a.store().for_each_audit_filtered(&filter, |r| {
        let details: Value = serde_json::from_str(&r.details).unwrap_or(Value::Null);
        if r.outcome == Outcome::Started.as_str() {
            started.push((r, details));
        } else if let Some(seq) = details["started_seq"].as_i64() {
            answered.insert(seq);
        }
        true
    })?;
    started.retain(|(r, _)| !answered.contains(&r.seq));
    started.reverse();
    Ok(started)
}
