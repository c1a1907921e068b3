//! The audit log: every state-changing or security-relevant action, hash-chained.
//!
//! `hash = SHA-256(prev_hash || canonical(row))`, the first row chaining from 32 zero bytes.
//! The canonical encoding is, for each of seq, ts_ms, os_user, hsm_user, host, action, target,
//! outcome, details in that order: a 4-byte big-endian length then the UTF-8 bytes (integers
//! as decimal text); an absent hsm_user is the length 0xFFFFFFFF with no bytes. Secrets never
//! reach an entry: the types that hold them cannot be serialized.

pub mod export;

use crate::store::{AuditRow, Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every action tdekey records, by its dotted name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Loading a PKCS#11 module and reading its slots.
    HsmConnect,
    /// A crypto-user login (success or failure).
    HsmLogin,
    HsmLogout,
    /// Closing the session and unloading the module.
    HsmDisconnect,
    /// Listing the objects on a token.
    HsmInventory,
    /// Initializing a (demo) token.
    HsmTokenInit,
    /// Generating a key on the HSM.
    KeyGenerate,
    /// Creating a data object on the HSM.
    DataObjectCreate,
    /// Saving or deleting a connection profile.
    ProfileChange,
    /// Verifying the audit chain.
    AuditVerify,
    /// Anchoring the chain head with an HMAC computed in the HSM.
    AuditCheckpoint,
    /// Exporting entries to a file.
    AuditExport,
    /// Decrypting an encrypted export.
    AuditDecrypt,
    /// Opening a wallet with its password to list its entries.
    WalletInspect,
    /// Adding, changing or removing a database profile.
    DatabaseChange,
    /// Reading the audit log (PCI DSS 10.2.1.3: access to audit logs is captured).
    AuditRead,
    /// A state-changing statement run through a database connector (Rehearsal included).
    OracleStatement,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::HsmConnect,
        Action::HsmLogin,
        Action::HsmLogout,
        Action::HsmDisconnect,
        Action::HsmInventory,
        Action::HsmTokenInit,
        Action::KeyGenerate,
        Action::DataObjectCreate,
        Action::ProfileChange,
        Action::AuditVerify,
        Action::AuditCheckpoint,
        Action::AuditExport,
        Action::AuditDecrypt,
        Action::WalletInspect,
        Action::DatabaseChange,
        Action::AuditRead,
        Action::OracleStatement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::HsmConnect => "hsm.connect",
            Action::HsmLogin => "hsm.login",
            Action::HsmLogout => "hsm.logout",
            Action::HsmDisconnect => "hsm.disconnect",
            Action::HsmInventory => "hsm.inventory",
            Action::HsmTokenInit => "hsm.token_init",
            Action::KeyGenerate => "key.generate",
            Action::DataObjectCreate => "hsm.data_object_create",
            Action::ProfileChange => "profile.change",
            Action::AuditVerify => "audit.verify",
            Action::AuditCheckpoint => "audit.checkpoint",
            Action::AuditExport => "audit.export",
            Action::AuditDecrypt => "audit.decrypt",
            Action::WalletInspect => "wallet.inspect",
            Action::DatabaseChange => "database.change",
            Action::AuditRead => "audit.read",
            Action::OracleStatement => "oracle.statement",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Success,
    Failure,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Who and where: filled into every entry.
#[derive(Clone, Debug)]
pub struct Origin {
    pub os_user: String,
    pub host: String,
}

impl Origin {
    pub fn current() -> Self {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                use std::os::unix::fs::MetadataExt;
                std::fs::metadata("/proc/self")
                    .map(|m| crate::paths::user_name(m.uid()))
                    .unwrap_or_else(|_| "unknown".to_owned())
            });
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        Self { os_user, host }
    }
}

/// The canonical bytes of a row (everything but the hashes).
pub fn canonical(row: &AuditRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + row.details.len());
    let mut field = |b: Option<&[u8]>| match b {
        Some(b) => {
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    };
    field(Some(row.seq.to_string().as_bytes()));
    field(Some(row.ts_ms.to_string().as_bytes()));
    field(Some(row.os_user.as_bytes()));
    field(row.hsm_user.as_deref().map(str::as_bytes));
    field(Some(row.host.as_bytes()));
    field(Some(row.action.as_bytes()));
    field(Some(row.target.as_bytes()));
    field(Some(row.outcome.as_bytes()));
    field(Some(row.details.as_bytes()));
    out
}

pub fn row_hash(prev: &[u8; 32], row: &AuditRow) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(row));
    h.finalize().into()
}

/// Why an action was not performed.
#[derive(Debug, thiserror::Error)]
#[error("The action was not performed because the audit log could not record it: {0}")]
pub struct AuditUnavailable(pub StoreError);

/// Writes entries for one thread (one database connection).
pub struct Auditor {
    store: Store,
    origin: Origin,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("store", &self.store)
            .finish()
    }
}

/// An action whose `started` entry is written; record its outcome with [`Auditor::finish`].
#[derive(Debug)]
#[must_use = "record the outcome with Auditor::finish"]
pub struct Pending {
    action: Action,
    target: String,
    hsm_user: Option<String>,
    started_seq: i64,
}

impl Auditor {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            origin: Origin::current(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Appends one entry.
    pub fn record(
        &mut self,
        action: Action,
        target: &str,
        outcome: Outcome,
        hsm_user: Option<&str>,
        details: Value,
    ) -> Result<AuditRow, StoreError> {
        let origin = &self.origin;
        let details = details.to_string();
        self.store.append_audit(|seq, prev| {
            let mut row = AuditRow {
                seq,
                ts_ms: crate::model::now_ms(),
                os_user: origin.os_user.clone(),
                hsm_user: hsm_user.map(str::to_owned),
                host: origin.host.clone(),
                action: action.as_str().to_owned(),
                target: target.to_owned(),
                outcome: outcome.as_str().to_owned(),
                details: details.clone(),
                prev_hash: prev,
                hash: [0; 32],
            };
            row.hash = row_hash(&prev, &row);
            row
        })
    }

    /// Appends several entries in one transaction: all are written, or none.
    pub fn record_batch(
        &mut self,
        entries: &[(Action, String, Outcome, Option<String>, Value)],
    ) -> Result<Option<AuditRow>, StoreError> {
        let origin = &self.origin;
        let details: Vec<String> = entries.iter().map(|e| e.4.to_string()).collect();
        self.store
            .append_audit_batch(entries.len(), |i, seq, prev| {
                let (action, target, outcome, hsm_user, _) = &entries[i];
                let mut row = AuditRow {
                    seq,
                    ts_ms: crate::model::now_ms(),
                    os_user: origin.os_user.clone(),
                    hsm_user: hsm_user.clone(),
                    host: origin.host.clone(),
                    action: action.as_str().to_owned(),
                    target: target.clone(),
                    outcome: outcome.as_str().to_owned(),
                    details: details[i].clone(),
                    prev_hash: prev,
                    hash: [0; 32],
                };
                row.hash = row_hash(&prev, &row);
                row
            })
    }

    /// Audit before acting: writes the `started` entry of a state-changing action. When it
    /// cannot be written the caller must not act.
    pub fn begin(
        &mut self,
        action: Action,
        target: &str,
        hsm_user: Option<&str>,
        details: Value,
    ) -> Result<Pending, AuditUnavailable> {
        let row = self
            .record(action, target, Outcome::Started, hsm_user, details)
            .map_err(AuditUnavailable)?;
        Ok(Pending {
            action,
            target: target.to_owned(),
            hsm_user: hsm_user.map(str::to_owned),
            started_seq: row.seq,
        })
    }

    /// Writes the outcome of a pending action, linking it to its `started` entry.
    pub fn finish(
        &mut self,
        pending: Pending,
        outcome: Outcome,
        mut details: Value,
    ) -> Result<AuditRow, StoreError> {
        if let Value::Object(m) = &mut details {
            m.insert("started_seq".into(), pending.started_seq.into());
        }
        self.record(
            pending.action,
            &pending.target,
            outcome,
            pending.hsm_user.as_deref(),
            details,
        )
    }
}

/// The result of walking the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    Intact { entries: u64 },
    Broken { seq: i64, reason: String },
}

/// The bytes a checkpoint HMAC covers.
pub fn checkpoint_message(seq: i64, head: &[u8; 32]) -> Vec<u8> {
    let mut m = b"tdekey-audit-checkpoint-v1".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head);
    m
}

/// Recomputes every hash and link, then checks every checkpoint against the chain.
pub fn verify(store: &Store) -> Result<Verification, StoreError> {
    let mut expected_prev = [0u8; 32];
    let mut expected_seq = 1i64;
    let mut broken = None;
    let mut n = 0u64;
    store.for_each_audit_row(|row| {
        if row.seq != expected_seq {
            broken = Some((
                expected_seq,
                format!("gap in seq: expected {expected_seq}, found {}", row.seq),
            ));
            return false;
        }
        if row.prev_hash != expected_prev {
            broken = Some((
                row.seq,
                "broken link: prev_hash is not the previous entry's hash".to_owned(),
            ));
            return false;
        }
        if row_hash(&row.prev_hash, &row) != row.hash {
            broken = Some((
                row.seq,
                "hash mismatch: the entry was changed after it was written".to_owned(),
            ));
            return false;
        }
        expected_prev = row.hash;
        expected_seq += 1;
        n += 1;
        true
    })?;
    if let Some((seq, reason)) = broken {
        return Ok(Verification::Broken { seq, reason });
    }
    let last = expected_seq - 1;
    let mut hashes: std::collections::HashMap<i64, [u8; 32]> = std::collections::HashMap::new();
    let checkpoints = store.checkpoints()?;
    if !checkpoints.is_empty() {
        let wanted: std::collections::HashSet<i64> = checkpoints.iter().map(|c| c.seq).collect();
        store.for_each_audit_row(|row| {
            if wanted.contains(&row.seq) {
                hashes.insert(row.seq, row.hash);
            }
            true
        })?;
    }
    for c in &checkpoints {
        if c.seq > last {
            return Ok(Verification::Broken {
                seq: last + 1,
                reason: format!(
                    "tail truncated: a checkpoint covers seq {} but the log ends at seq {last}",
                    c.seq
                ),
            });
        }
        if hashes.get(&c.seq) != Some(&c.head_hash) {
            return Ok(Verification::Broken {
                seq: c.seq,
                reason: format!(
                    "checkpoint mismatch: the entry's hash differs from the one checkpoint {} recorded",
                    c.id.unwrap_or(0)
                ),
            });
        }
    }
    Ok(Verification::Intact { entries: n })
}

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
pub fn check_macs(store: &Store, hsm: &crate::hsm::Hsm) -> Result<MacCheck, String> {
    let checkpoints = store.checkpoints().map_err(|e| e.to_string())?;
    if checkpoints.is_empty() {
        return Ok(MacCheck::Verified { checkpoints: 0 });
    }
    if !hsm.has_audit_key().map_err(|e| e.to_string())? {
        return Ok(MacCheck::NoKey);
    }
    for c in &checkpoints {
        let mac = hsm
            .audit_hmac(&checkpoint_message(c.seq, &c.head_hash))
            .map_err(|e| e.to_string())?
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

/// Reads a time for a filter: RFC 3339, or a date (YYYY-MM-DD, its start in UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Some(t) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(format!(
        "Cannot read the time {s:?}: use RFC 3339 (2026-11-24T09:30:00Z) or a date (2026-11-24)."
    ))
}

/// Verifies the chain and the checkpoints (their HMACs too when `hsm` is logged in) and says
/// so in one sentence. Returns (intact, sentence).
pub fn verification_summary(
    store: &Store,
    hsm: Option<&crate::hsm::Hsm>,
) -> Result<(bool, String), String> {
    let result = verify(store).map_err(|e| e.to_string())?;
    let checkpoints = store.checkpoints().map_err(|e| e.to_string())?;
    let macs = match (&result, hsm) {
        (Verification::Intact { .. }, Some(h)) => check_macs(store, h)?,
        _ => MacCheck::NotChecked,
    };
    let last = checkpoints.last().map(|c| {
        format!(
            "last checkpoint at seq {} ({})",
            c.seq,
            export::utc(c.created_ms)
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
    pub recorded: Result<(), StoreError>,
}

/// Verifies (see [`verification_summary`]) and records the check as `audit.verify`.
pub fn verify_and_record(
    auditor: &mut Auditor,
    hsm: Option<&crate::hsm::Hsm>,
    via: &str,
) -> Result<Checked, String> {
    let (intact, text) = verification_summary(auditor.store(), hsm)?;
    let user = hsm.and_then(|h| h.user()).filter(|u| !u.is_empty());
    let recorded = auditor
        .record(
            Action::AuditVerify,
            "audit_log",
            if intact {
                Outcome::Success
            } else {
                Outcome::Failure
            },
            user,
            serde_json::json!({ "intact": intact, "result": text, "via": via }),
        )
        .map(|_| ());
    Ok(Checked {
        intact,
        text,
        recorded,
    })
}

/// Writes a checkpoint of the current chain head, creating the HSM's audit key on first use.
/// The checkpoint covers its own `started` entry; its outcome entry follows it.
pub fn checkpoint(
    auditor: &mut Auditor,
    hsm: &crate::hsm::Hsm,
) -> Result<crate::store::CheckpointRow, String> {
    use crate::tde::labels::AUDIT_HMAC_LABEL;
    use serde_json::json;
    let user = hsm.user().map(str::to_owned);
    let token = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    if !hsm.has_audit_key().map_err(|e| e.to_string())? {
        let pending = auditor
            .begin(
                Action::KeyGenerate,
                AUDIT_HMAC_LABEL,
                user.as_deref(),
                json!({ "purpose": "audit checkpoints", "key_type": "CKK_GENERIC_SECRET", "bits": 256, "extractable": false, "token": token }),
            )
            .map_err(|e| e.to_string())?;
        let r = hsm.create_audit_key();
        let (o, d) = match &r {
            Ok(h) => (Outcome::Success, json!({ "handle": h })),
            Err(e) => (Outcome::Failure, json!({ "error": e.to_string() })),
        };
        auditor.finish(pending, o, d).map_err(|e| e.to_string())?;
        r.map_err(|e| e.to_string())?;
    }
    let pending = auditor
        .begin(
            Action::AuditCheckpoint,
            "audit_log",
            user.as_deref(),
            json!({ "token": token }),
        )
        .map_err(|e| e.to_string())?;
    let result = (|| -> Result<crate::store::CheckpointRow, String> {
        let (seq, head) = auditor
            .store()
            .audit_head()
            .map_err(|e| e.to_string())?
            .ok_or("the audit log is empty")?;
        let mac = hsm
            .audit_hmac(&checkpoint_message(seq, &head))
            .map_err(|e| e.to_string())?
            .ok_or("the audit key vanished from the token")?;
        let mut row = crate::store::CheckpointRow {
            id: None,
            seq,
            head_hash: head,
            mac,
            key_label: AUDIT_HMAC_LABEL.to_owned(),
            token_label: token.clone(),
            created_ms: crate::model::now_ms(),
        };
        row.id = Some(
            auditor
                .store()
                .insert_checkpoint(&row)
                .map_err(|e| e.to_string())?,
        );
        Ok(row)
    })();
    let (o, d) = match &result {
        Ok(c) => (
            Outcome::Success,
            json!({ "checkpoint": c.id, "seq": c.seq, "head": hex::encode(c.head_hash) }),
        ),
        Err(e) => (Outcome::Failure, json!({ "error": e })),
    };
    auditor.finish(pending, o, d).map_err(|e| e.to_string())?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn auditor(dir: &tempfile::TempDir) -> Auditor {
        Auditor::new(Store::open(&dir.path().join("t.sqlite3")).unwrap())
    }

    #[test]
    fn entries_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = auditor(&dir);
        let r1 = a
            .record(
                Action::HsmLogin,
                "tok",
                Outcome::Success,
                Some("cu"),
                json!({}),
            )
            .unwrap();
        assert_eq!(r1.seq, 1);
        assert_eq!(r1.prev_hash, [0; 32]);
        let p = a
            .begin(
                Action::KeyGenerate,
                "ORACLE.TDE.HSM.MK.06AA",
                Some("cu"),
                json!({"bits": 256}),
            )
            .unwrap();
        let r3 = a.finish(p, Outcome::Success, json!({})).unwrap();
        assert_eq!(r3.prev_hash, a.store().recent_audit(2).unwrap()[1].hash);
        assert!(r3.details.contains("\"started_seq\":2"), "{}", r3.details);
        assert_eq!(
            verify(a.store()).unwrap(),
            Verification::Intact { entries: 3 }
        );
    }

    #[test]
    fn a_batch_chains_like_single_appends() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = auditor(&dir);
        a.record(Action::HsmLogin, "t", Outcome::Success, None, json!({}))
            .unwrap();
        let batch: Vec<_> = (0..50)
            .map(|i| {
                (
                    Action::HsmInventory,
                    format!("t{i}"),
                    Outcome::Success,
                    Some("cu".to_owned()),
                    json!({ "i": i }),
                )
            })
            .collect();
        let last = a.record_batch(&batch).unwrap().unwrap();
        assert_eq!(last.seq, 51);
        a.record(Action::HsmLogout, "t", Outcome::Success, None, json!({}))
            .unwrap();
        assert_eq!(
            verify(a.store()).unwrap(),
            Verification::Intact { entries: 52 }
        );
    }

    #[test]
    fn canonical_encoding_separates_fields_unambiguously() {
        let base = AuditRow {
            seq: 1,
            ts_ms: 2,
            os_user: "ab".into(),
            hsm_user: None,
            host: "c".into(),
            action: "a".into(),
            target: "t".into(),
            outcome: "success".into(),
            details: "{}".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let mut shifted = base.clone();
        shifted.os_user = "a".into();
        shifted.host = "bc".into();
        assert_ne!(canonical(&base), canonical(&shifted));
        let mut empty_user = base.clone();
        empty_user.hsm_user = Some(String::new());
        assert_ne!(canonical(&base), canonical(&empty_user));
    }

    #[test]
    fn action_names_are_unique_and_dotted() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert!(names.iter().all(|n| n.contains('.')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
