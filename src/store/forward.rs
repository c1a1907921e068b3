//! How far each SIEM destination has been sent the audit log (table `forward_positions`): the
//! last seq it acknowledged (written and flushed), keyed by the normalised destination
//! (`syslog+tcp://host:port`, `syslog+tls://host:port`, `journald`). Portable SQL only.

use super::audit_query::read_ref;
use super::db::p;
use super::{AuditRowRef, Store, StoreError};
use crate::model::now_ms;

/// One destination's position.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ForwardPosition {
    pub destination: String,
    /// The last seq the destination acknowledged.
    pub seq: i64,
    pub updated_ms: i64,
}

impl Store {
    /// The last seq `destination` acknowledged (0 when nothing was ever sent to it).
    pub fn forward_position(&self, destination: &str) -> Result<i64, StoreError> {
        self.query_opt(
            "SELECT seq FROM forward_positions WHERE destination = ?1",
            p![destination],
            |r| r.int(0),
        )
        .map(|s| s.unwrap_or(0))
    }

    /// Records that `destination` acknowledged every entry up to `seq`.
    pub fn set_forward_position(&self, destination: &str, seq: i64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO forward_positions (destination, seq, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq,
               updated_ms = excluded.updated_ms",
            p![destination, seq, now_ms()],
        )
        .map(|_| ())
    }

    /// Every destination's position, by destination.
    pub fn forward_positions(&self) -> Result<Vec<ForwardPosition>, StoreError> {
        self.query_map(
            "SELECT destination, seq, updated_ms FROM forward_positions ORDER BY destination",
            p![],
            |r| {
                Ok(ForwardPosition {
                    destination: r.text(0)?,
                    seq: r.int(1)?,
                    updated_ms: r.int(2)?,
                })
            },
        )
    }

    /// Calls `f` for up to `limit` entries after `after_seq`, in seq order, without copying
    /// them; stops early when `f` returns false. How many it was given.
    pub fn for_each_audit_after(
        &self,
        after_seq: i64,
        limit: usize,
        mut f: impl FnMut(&AuditRowRef<'_>) -> bool,
    ) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut seen = 0;
        self.read_snapshot(|ex| {
            ex.each(
                "SELECT seq, ts_ms, os_user, hsm_user, host, action, target, outcome, details,
                        prev_hash, hash
                 FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                p![after_seq, limit],
                &mut |r| {
                    let view = read_ref(r)?;
                    seen += 1;
                    Ok(f(&view))
                },
            )
        })?;
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditRow;

    fn append(s: &mut Store, n: usize) {
        for _ in 0..n {
            s.append_audit(|seq, prev| AuditRow {
                seq,
                ts_ms: seq,
                os_user: "u".into(),
                hsm_user: (seq % 2 == 0).then(|| "cu".to_owned()),
                host: "h".into(),
                action: "audit.read".into(),
                target: format!("t{seq}"),
                outcome: "success".into(),
                details: "{}".into(),
                prev_hash: prev,
                hash: [1; 32],
            })
            .unwrap();
        }
    }

    #[test]
    fn positions_start_at_zero_and_move_per_destination() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        assert_eq!(s.forward_position("journald").unwrap(), 0);
        s.set_forward_position("journald", 7).unwrap();
        s.set_forward_position("syslog+tcp://a:1", 3).unwrap();
        s.set_forward_position("journald", 9).unwrap();
        assert_eq!(s.forward_position("journald").unwrap(), 9);
        let all = s.forward_positions().unwrap();
        let names: Vec<_> = all
            .iter()
            .map(|p| (p.destination.as_str(), p.seq))
            .collect();
        assert_eq!(names, [("journald", 9), ("syslog+tcp://a:1", 3)]);
    }

    #[test]
    fn entries_after_a_seq_come_in_order_and_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        append(&mut s, 10);
        let mut seen = Vec::new();
        let n = s
            .for_each_audit_after(3, 4, |r| {
                seen.push((r.seq, r.hsm_user.map(str::to_owned)));
                true
            })
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            seen,
            [
                (4, Some("cu".to_owned())),
                (5, None),
                (6, Some("cu".to_owned())),
                (7, None)
            ]
        );
        assert_eq!(s.for_each_audit_after(10, 4, |_| true).unwrap(), 0);
        assert_eq!(s.for_each_audit_after(0, 100, |r| r.seq < 2).unwrap(), 2);
    }
}
