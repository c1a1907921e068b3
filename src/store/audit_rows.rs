//! Rows of `audit_log` and `audit_checkpoints`: appends (one chain across processes), the
//! chain head, ordered walks and checkpoints. The hashing itself is the audit workflow's.

use super::db::{Domain, p};
use super::{AuditFilter, Store, StoreError};

/// The columns of `audit_log`, in the order of [`AuditRow`]'s fields.
const AUDIT_COLUMNS: &[&str] = &[
    "seq",
    "ts_ms",
    "os_user",
    "hsm_user",
    "host",
    "action",
    "target",
    "outcome",
    "details",
    "prev_hash",
    "hash",
];

/// One row of `audit_log`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub ts_ms: i64,
    pub os_user: String,
    pub hsm_user: Option<String>,
    pub host: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub details: String,
    #[serde(serialize_with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    #[serde(serialize_with = "hex_bytes")]
    pub hash: [u8; 32],
}

/// A checkpoint: the chain head at `seq`, with an HMAC computed inside the HSM.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointRow {
    pub id: Option<i64>,
    pub seq: i64,
    #[serde(serialize_with = "hex_bytes")]
    pub head_hash: [u8; 32],
    #[serde(serialize_with = "hex_vec")]
    pub mac: Vec<u8>,
    pub key_label: String,
    pub token_label: String,
    pub created_ms: i64,
}

fn hex_vec<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

fn hex_bytes<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

impl Store {
    /// Appends one audit row: reads the chain head and writes the row in one IMMEDIATE
    /// transaction, so appends from several processes keep one unbroken chain. `build` gets the
    /// next seq and the previous hash (32 zero bytes for the first row) and returns the row.
    pub fn append_audit(
        &mut self,
        build: impl Fn(i64, [u8; 32]) -> AuditRow,
    ) -> Result<AuditRow, StoreError> {
        self.append_audit_batch(1, |_, seq, prev| build(seq, prev))?
            .ok_or_else(|| StoreError::Other {
                at: self.at.clone(),
                detail: "an append of one entry wrote none".to_owned(),
            })
    }

    /// Appends `n` rows in one IMMEDIATE transaction (all or none); `build(i, seq, prev)` makes
    /// the i-th row. Returns the last row. The rows are built first, then written at once (one
    /// COPY on PostgreSQL), so a batch costs a few round trips however long it is.
    pub fn append_audit_batch(
        &mut self,
        n: usize,
        build: impl Fn(usize, i64, [u8; 32]) -> AuditRow,
    ) -> Result<Option<AuditRow>, StoreError> {
        self.write_tx(Domain::Audit, |tx| {
            // On PostgreSQL this is a statement of its own after the lock is granted: under
            // READ COMMITTED it sees the previous holder's rows.
            let head = tx.query_opt(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                p![],
                |r| Ok((r.int(0)?, r.hash32(1)?)),
            )?;
            let (mut next, mut prev) = head.map_or((1, [0u8; 32]), |(seq, h)| (seq + 1, h));
            crate::faults::point(crate::faults::STORE_AUDIT_LOCKED);
            let mut rows = Vec::with_capacity(n);
            for i in 0..n {
                let row = build(i, next, prev);
                next += 1;
                prev = row.hash;
                rows.push(row);
            }
            let values: Vec<Vec<_>> = rows
                .iter()
                .map(|r| {
                    p![
                        r.seq,
                        r.ts_ms,
                        r.os_user,
                        r.hsm_user,
                        r.host,
                        r.action,
                        r.target,
                        r.outcome,
                        r.details,
                        r.prev_hash,
                        r.hash
                    ]
                    .to_vec()
                })
                .collect();
            // One COPY on PostgreSQL, one prepared INSERT on SQLite.
            tx.insert_rows("audit_log", AUDIT_COLUMNS, &values)?;
            Ok(rows.pop())
        })
    }

    /// Calls `f` for each audit row in seq order; stops early when `f` returns false.
    pub fn for_each_audit_row(&self, f: impl FnMut(AuditRow) -> bool) -> Result<(), StoreError> {
        self.for_each_audit_filtered(&AuditFilter::default(), f)
    }

    /// The chain head: the last seq and its hash.
    pub fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, StoreError> {
        self.query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            p![],
            |r| Ok((r.int(0)?, r.hash32(1)?)),
        )
    }

    pub fn insert_checkpoint(&self, c: &CheckpointRow) -> Result<i64, StoreError> {
        self.query_one(
            "INSERT INTO audit_checkpoints (seq, head_hash, mac, key_label, token_label, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            p![
                c.seq,
                c.head_hash,
                c.mac,
                c.key_label,
                c.token_label,
                c.created_ms
            ],
            |r| r.int(0),
        )
    }

    /// Every checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        self.query_map(
            "SELECT id, seq, head_hash, mac, key_label, token_label, created_ms
             FROM audit_checkpoints ORDER BY id",
            p![],
            |r| {
                Ok(CheckpointRow {
                    id: Some(r.int(0)?),
                    seq: r.int(1)?,
                    head_hash: r.hash32(2)?,
                    mac: r.bytes(3)?,
                    key_label: r.text(4)?,
                    token_label: r.text(5)?,
                    created_ms: r.int(6)?,
                })
            },
        )
    }

    /// The newest `limit` audit rows, newest first.
    pub fn recent_audit(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_page(&AuditFilter::default(), None, limit)
    }
}
