//! Checkpoints (the chain head anchored with an HMAC computed inside the HSM) and the
//! verification of the chain and of every checkpoint, as workflows: each is recorded.

use super::{Action, Auditor, Entry, LogError, Outcome, Verification, checkpoint_message, verify};
use crate::hsm::{Hsm, HsmError};
use crate::store::{CheckpointRow, Store, StoreError};
use crate::tde::labels::AUDIT_HMAC_LABEL;
use serde_json::json;

/// What the HSM said about the checkpoints' HMACs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacCheck {
    /// Every checkpoint's HMAC was recomputed in the HSM and matches.
    Verified { checkpoints: usize },
    /// No HSM session was available: hashes were compared, HMACs were not.
    NotChecked,
    /// The connected token has no audit key.
    NoKey,
    /// A checkpoint's HMAC does not match: the checkpoint (or the chain under it) was forged.
    Mismatch { checkpoint: i64, seq: i64 },
}

/// Recomputes every checkpoint's HMAC in the HSM.
pub fn check_macs(store: &Store, hsm: &Hsm) -> Result<MacCheck, LogError> {
    let checkpoints = store.checkpoints()?;
    if checkpoints.is_empty() {
        return Ok(MacCheck::Verified { checkpoints: 0 });
    }
    if !hsm.has_audit_key()? {
        return Ok(MacCheck::NoKey);
    }
    for c in &checkpoints {
        let mac = hsm
            .audit_hmac(&checkpoint_message(c.seq, &c.head_hash))?
            .unwrap_or_default();
        if mac != c.mac {
            return Ok(MacCheck::Mismatch {
                checkpoint: c.id.unwrap_or(0),
                seq: c.seq,
            });
        }
    }
    Ok(MacCheck::Verified {
        checkpoints: checkpoints.len(),
    })
}

/// Verifies the chain and the checkpoints (their HMACs too when `hsm` is logged in) and says
/// so in one sentence. Returns (intact, sentence).
pub fn verification_summary(store: &Store, hsm: Option<&Hsm>) -> Result<(bool, String), LogError> {
    let result = verify(store)?;
    let checkpoints = store.checkpoints()?;
    let macs = match (&result, hsm) {
        (Verification::Intact { .. }, Some(h)) => check_macs(store, h)?,
        _ => MacCheck::NotChecked,
    };
    let last = checkpoints.last().map(|c| {
        format!(
            "last checkpoint at seq {} ({})",
            c.seq,
            super::export::utc(c.created_ms)
        )
    });
    Ok(match (&result, &macs) {
        (Verification::Broken { seq, reason }, _) => {
            (false, format!("Chain broken at seq {seq}: {reason}."))
        }
        (Verification::Intact { .. }, MacCheck::Mismatch { checkpoint, seq }) => (
            false,
            format!(
                "Checkpoint {checkpoint} (seq {seq}) does not verify in the HSM: the checkpoint or the chain under it was forged."
            ),
        ),
        (Verification::Intact { entries }, m) => {
            let cp = match (m, &last) {
                (_, None) => "no checkpoints yet".to_owned(),
                (MacCheck::Verified { checkpoints: 1 }, Some(l)) => {
                    format!("1 checkpoint verified in the HSM, {l}")
                }
                (MacCheck::Verified { checkpoints }, Some(l)) => {
                    format!("{checkpoints} checkpoints verified in the HSM, {l}")
                }
                (MacCheck::NoKey, Some(l)) => format!(
                    "{l}; the connected token has no audit key, so the checkpoint HMACs were not checked"
                ),
                (_, Some(l)) => {
                    format!(
                        "{l}; checkpoint HMACs not checked (log in to the HSM to check them; on the command line, add --hsm)"
                    )
                }
            };
            (true, format!("{entries} entries, chain intact, {cp}."))
        }
    })
}

/// A verification and whether its own audit entry was written.
#[derive(Debug)]
pub struct Checked {
    pub intact: bool,
    pub text: String,
    /// The `audit.verify` entry, or why it could not be written.
    pub recorded: Result<(), StoreError>,
}

/// Verifies the chain and the checkpoints (their HMACs in the HSM too, when `hsm` is a
/// logged-in session) and records the check as `audit.verify`.
pub fn verify_log(a: &mut Auditor, hsm: Option<&Hsm>, via: &str) -> Result<Checked, LogError> {
    let hsm = hsm.filter(|h| h.logged_in());
    let user = hsm.and_then(|h| h.user());
    let entry = Entry::new(Action::AuditVerify, "audit_log")
        .user(user)
        .details(json!({ "via": via }));
    let acted = a.attempt(entry, |step| {
        let (intact, text) = verification_summary(step.store(), hsm)?;
        step.note("intact", intact);
        step.note("result", text.as_str());
        if !intact {
            step.outcome(Outcome::Failure);
        }
        Ok::<_, LogError>((intact, text))
    });
    let (intact, text) = acted.result?;
    Ok(Checked {
        intact,
        text,
        recorded: acted.recorded.map(|_| ()),
    })
}

/// Writes a checkpoint of the current chain head with a logged-in HSM session, creating the
/// HSM's audit key (`TDEKEY.AUDIT.HMAC`, never extractable) on first use. The checkpoint covers
/// its own `started` entry; its outcome entry follows it.
pub fn checkpoint(a: &mut Auditor, hsm: &Hsm) -> Result<CheckpointRow, LogError> {
    if !hsm.logged_in() {
        return Err(LogError::NotLoggedIn);
    }
    let user = hsm.user();
    let token = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    if !hsm.has_audit_key()? {
        let entry = Entry::new(Action::KeyGenerate, AUDIT_HMAC_LABEL)
            .user(user)
            .details(json!({ "purpose": "audit checkpoints", "key_type": "CKK_GENERIC_SECRET", "bits": 256, "extractable": false, "token": token }));
        a.act(entry, |step| {
            let handle = hsm.create_audit_key()?;
            step.note("handle", handle);
            Ok::<_, HsmError>(handle)
        })?
        .into_result::<LogError>("The audit key was created on the token")?;
    }
    let entry = Entry::new(Action::AuditCheckpoint, "audit_log")
        .user(user)
        .details(json!({ "token": token }));
    a.act(entry, |step| {
        let (seq, head) = step.store().audit_head()?.ok_or(LogError::Empty)?;
        let mac = hsm
            .audit_hmac(&checkpoint_message(seq, &head))?
            .ok_or(LogError::AuditKeyVanished)?;
        let mut row = CheckpointRow {
            id: None,
            seq,
            head_hash: head,
            mac,
            key_label: AUDIT_HMAC_LABEL.to_owned(),
            token_label: token.clone(),
            created_ms: crate::model::now_ms(),
        };
        row.id = Some(step.store().insert_checkpoint(&row)?);
        step.note("checkpoint", row.id);
        step.note("seq", seq);
        step.note("head", hex::encode(head));
        Ok::<_, LogError>(row)
    })?
    .into_result("The checkpoint was written")
}
