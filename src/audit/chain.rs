//! The hash chain: `hash = SHA-256(prev_hash || canonical(row))`, the first row chaining from
//! 32 zero bytes, and its verification (links, hashes, checkpoints).

use crate::store::{AuditRow, Store, StoreError};
use sha2::{Digest, Sha256};

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
