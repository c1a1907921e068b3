//! Finding named objects without listing the token, and proving the mechanisms tdekey and
//! Oracle rely on before anything depends on them.

use super::SessionError;
use crate::audit::{Action, Auditor, Entry};
use crate::hsm::{Hsm, HsmError};
use crate::inventory::{self, InventoryRow};
use serde::Serialize;

/// The objects carrying each of `labels`, with their health findings (`hsm.inventory`, its
/// details naming the labels): one search per label, whatever else the token holds. On a
/// shared HSM this is how a workflow finds the keys it knows the names of.
pub fn lookup(
    a: &mut Auditor,
    hsm: &Hsm,
    labels: &[String],
) -> Result<Vec<InventoryRow>, SessionError> {
    let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let entry = Entry::new(Action::HsmInventory, target).user(hsm.user());
    a.attempt(entry, |step| {
        step.note("labels", labels.to_vec());
        let mut objects = Vec::new();
        for l in labels {
            objects.extend(hsm.objects_labelled(l)?);
        }
        let rows = inventory::analyze(objects);
        let s = inventory::summarize(&rows);
        step.note("objects", s.objects);
        step.note("master_keys", s.master_keys);
        step.note("critical", s.critical);
        Ok::<_, HsmError>(rows)
    })
    .into_result("The labelled objects were looked up")
}

/// What a probe proved: `None` where the mechanism worked, else the token's refusal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// `CKM_AES_KEY_GEN` of an AES-256 session key (the master key's mechanism).
    pub aes_key_gen: Option<String>,
    /// `CKM_GENERIC_SECRET_KEY_GEN` and `CKM_SHA256_HMAC` (the audit checkpoint's).
    pub hmac: Option<String>,
}

impl Probe {
    /// Checks as (what, ok, detail), for a step or a report.
    pub fn checks(&self) -> Vec<(String, bool, String)> {
        let said = |r: &Option<String>, ok: &str| match r {
            None => ok.to_owned(),
            Some(e) => e.clone(),
        };
        vec![
            (
                "The token generates an AES-256 key (a session key, destroyed at once)".into(),
                self.aes_key_gen.is_none(),
                said(
                    &self.aes_key_gen,
                    "C_GenerateKey with CKM_AES_KEY_GEN works: Oracle can make its master key here",
                ),
            ),
            (
                "The token computes the audit checkpoint's HMAC-SHA256 (with a session key)".into(),
                self.hmac.is_none(),
                said(
                    &self.hmac,
                    "CKM_GENERIC_SECRET_KEY_GEN and CKM_SHA256_HMAC work",
                ),
            ),
        ]
    }

    pub fn aes_ok(&self) -> bool {
        self.aes_key_gen.is_none()
    }
}

/// Proves key generation and the checkpoint HMAC on the open, logged-in token with session
/// objects (CKA_TOKEN false) that are destroyed at once: nothing stays on the token. Recorded
/// as `hsm.probe`, a failure of either mechanism as a failure.
pub fn probe(a: &mut Auditor, hsm: &Hsm) -> Result<Probe, SessionError> {
    let target = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let entry = Entry::new(Action::HsmProbe, target).user(hsm.user());
    let refusal = |r: Result<(), HsmError>| -> Result<Option<String>, HsmError> {
        match r {
            Ok(()) => Ok(None),
            Err(e @ HsmError::Pkcs11 { .. }) => Ok(Some(e.to_string())),
            Err(other) => Err(other),
        }
    };
    let probe = a
        .attempt(entry, |step| {
            let p = Probe {
                aes_key_gen: refusal(hsm.probe_aes_key_gen())?,
                hmac: refusal(hsm.probe_hmac())?,
            };
            step.note("aes_key_gen", p.aes_key_gen.as_deref().unwrap_or("ok"));
            step.note("hmac", p.hmac.as_deref().unwrap_or("ok"));
            if p.aes_key_gen.is_some() || p.hmac.is_some() {
                step.outcome(crate::audit::Outcome::Failure);
            }
            Ok::<_, HsmError>(p)
        })
        .into_result::<SessionError>("The token's mechanisms were probed")?;
    Ok(probe)
}
