//! Filtered reads of the audit log: pages newest first (keyset paging on seq, so the first page
//! of a filtered view comes back without scanning the whole result) and ordered walks for exports.

use super::db::{Conn, Fault, Row, Val};
use super::{AuditRow, Store, StoreError};
use std::borrow::Cow;

/// Which entries to show or export. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditFilter {
    /// Inclusive lower bound, UTC milliseconds.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, UTC milliseconds.
    pub until_ms: Option<i64>,
    /// Exact action name (`hsm.login`), or a prefix ending in `.` (`hsm.`).
    pub action: Option<String>,
    /// OS user or HSM user, exact.
    pub user: Option<String>,
    /// `started`, `success`, `failure` or `cancelled`.
    pub outcome: Option<String>,
    /// Case-insensitive text searched in target and details.
    pub text: Option<String>,
}

impl AuditFilter {
    pub fn is_empty(&self) -> bool {
        *self == AuditFilter::default()
    }

    /// The WHERE clause and its parameters; `pg`: written for PostgreSQL (its trigram index
    /// serves ILIKE, where SQLite's serves an FTS5 MATCH).
    fn where_clause(&self, pg: bool, extra: Option<(&str, i64)>) -> (String, Vec<Val<'static>>) {
        let mut parts: Vec<String> = Vec::new();
        let mut args: Vec<Val<'static>> = Vec::new();
        if let Some(v) = self.since_ms {
            parts.push("ts_ms >= ?".into());
            args.push(Val::Int(v));
        }
        if let Some(v) = self.until_ms {
            parts.push("ts_ms < ?".into());
            args.push(Val::Int(v));
        }
        if let Some(a) = self.action.as_deref().filter(|s| !s.is_empty()) {
            if a.ends_with('.') {
                parts.push("substr(action, 1, ?) = ?".into());
                args.push(Val::Int(a.len() as i64));
                args.push(text(a.to_owned()));
            } else {
                parts.push("action = ?".into());
                args.push(text(a.to_owned()));
            }
        }
        if let Some(u) = self.user.as_deref().filter(|s| !s.is_empty()) {
            parts.push("(os_user = ? OR hsm_user = ?)".into());
            args.push(text(u.to_owned()));
            args.push(text(u.to_owned()));
        }
        if let Some(o) = self.outcome.as_deref().filter(|s| !s.is_empty()) {
            parts.push("outcome = ?".into());
            args.push(text(o.to_owned()));
        }
        if let Some(t) = self
            .text
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if t.chars().count() >= 3 && !pg {
                // The trigram index finds substrings (case-insensitively) without a scan.
                parts.push("seq IN (SELECT rowid FROM audit_text WHERE audit_text MATCH ?)".into());
                args.push(text(format!("\"{}\"", t.replace('"', "\"\""))));
            } else {
                let pattern = format!(
                    "%{}%",
                    t.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                );
                // SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE does the same (and uses
                // the trigram indexes when the extension is there).
                let like = if pg { "ILIKE" } else { "LIKE" };
                parts.push(format!(
                    "(target {like} ? ESCAPE '\\' OR details {like} ? ESCAPE '\\')"
                ));
                args.push(text(pattern.clone()));
                args.push(text(pattern));
            }
        }
        if let Some((sql, v)) = extra {
            parts.push(sql.into());
            args.push(Val::Int(v));
        }
        if parts.is_empty() {
            (String::new(), args)
        } else {
            (format!("WHERE {}", parts.join(" AND ")), args)
        }
    }
}

fn text(s: String) -> Val<'static> {
    Val::Text(Cow::Owned(s))
}

/// A borrowed view of an audit row, valid inside the callback that receives it.
#[derive(Clone, Copy, Debug)]
pub struct AuditRowRef<'a> {
    pub seq: i64,
    pub ts_ms: i64,
    pub os_user: &'a str,
    pub hsm_user: Option<&'a str>,
    pub host: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub details: &'a str,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

impl AuditRowRef<'_> {
    pub fn to_row(&self) -> AuditRow {
        let hash = |b: &[u8]| -> [u8; 32] { b.try_into().unwrap_or([0u8; 32]) };
        AuditRow {
            seq: self.seq,
            ts_ms: self.ts_ms,
            os_user: self.os_user.to_owned(),
            hsm_user: self.hsm_user.map(str::to_owned),
            host: self.host.to_owned(),
            action: self.action.to_owned(),
            target: self.target.to_owned(),
            outcome: self.outcome.to_owned(),
            details: self.details.to_owned(),
            prev_hash: hash(self.prev_hash),
            hash: hash(self.hash),
        }
    }
}

const COLUMNS: &str =
    "seq, ts_ms, os_user, hsm_user, host, action, target, outcome, details, prev_hash, hash";

fn read_row(r: &Row<'_>) -> Result<AuditRow, Fault> {
    Ok(AuditRow {
        seq: r.int(0)?,
        ts_ms: r.int(1)?,
        os_user: r.text(2)?,
        hsm_user: r.opt_text(3)?,
        host: r.text(4)?,
        action: r.text(5)?,
        target: r.text(6)?,
        outcome: r.text(7)?,
        details: r.text(8)?,
        prev_hash: r.hash32(9)?,
        hash: r.hash32(10)?,
    })
}

pub(super) fn read_ref<'r>(r: &Row<'r>) -> Result<AuditRowRef<'r>, Fault> {
    Ok(AuditRowRef {
        seq: r.int(0)?,
        ts_ms: r.int(1)?,
        os_user: r.str_ref(2)?,
        hsm_user: r.opt_str_ref(3)?,
        host: r.str_ref(4)?,
        action: r.str_ref(5)?,
        target: r.str_ref(6)?,
        outcome: r.str_ref(7)?,
        details: r.str_ref(8)?,
        prev_hash: r.bytes_ref(9)?,
        hash: r.bytes_ref(10)?,
    })
}

impl Store {
    /// Up to `limit` matching entries, newest first, older than `before_seq` when given.
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let (clause, mut args) =
            filter.where_clause(self.on_pg(), before_seq.map(|s| ("seq < ?", s)));
        args.push(Val::Int(limit as i64));
        let sql = format!("SELECT {COLUMNS} FROM audit_log {clause} ORDER BY seq DESC LIMIT ?");
        self.query_map(&sql, &args, read_row)
    }

    /// Number of matching entries.
    pub fn audit_count(&self, filter: &AuditFilter) -> Result<u64, StoreError> {
        let (clause, args) = filter.where_clause(self.on_pg(), None);
        let sql = format!("SELECT count(*) FROM audit_log {clause}");
        self.query_one(&sql, &args, |r| r.int(0)).map(|n| n as u64)
    }

    /// Calls `f` for each matching entry in seq order (one consistent snapshot); stops when `f`
    /// returns false.
    pub fn for_each_audit_filtered(
        &self,
        filter: &AuditFilter,
        mut f: impl FnMut(AuditRow) -> bool,
    ) -> Result<(), StoreError> {
        self.for_each_audit_ref(filter, |r| f(r.to_row()))
    }
}

impl Store {
    /// Like [`Store::for_each_audit_filtered`], without copying each row: for exports.
    pub fn for_each_audit_ref(
        &self,
        filter: &AuditFilter,
        mut f: impl FnMut(&AuditRowRef<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let (clause, args) = filter.where_clause(self.on_pg(), None);
        let sql = format!("SELECT {COLUMNS} FROM audit_log {clause} ORDER BY seq");
        self.read_snapshot(|ex| {
            ex.each(&sql, &args, &mut |r| {
                let view = read_ref(r)?;
                Ok(f(&view))
            })
        })
    }

    fn on_pg(&self) -> bool {
        matches!(self.conn, Conn::Pg(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditRow;
    use serde_json::json;

    const T0: i64 = 1_795_000_000_000;

    /// 30 rows in which every filter below keeps some rows and drops others.
    fn sample() -> (tempfile::TempDir, Store, Vec<AuditRow>) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let mut rows = Vec::new();
        for i in 0..30i64 {
            let action = [
                "hsm.login",
                "hsmx.login",
                "audit.export",
                "hsm.inventory",
                "hsm.logout",
            ][(i % 5) as usize];
            let outcome = ["started", "success", "failure", "cancelled"][(i % 4) as usize];
            let target = if i % 2 == 0 {
                format!("token-{i}")
            } else {
                format!("key_{i}")
            };
            let note = if i % 3 == 0 { "50%_off" } else { "50a_off" };
            // The filters read rows as stored; the chain's hashes are the audit workflow's.
            let row = s
                .append_audit(|seq, prev| AuditRow {
                    seq,
                    ts_ms: T0 + i * 1000,
                    os_user: if i % 2 == 0 { "dba" } else { "sec" }.into(),
                    hsm_user: [Some("cu_a"), Some("cu_b"), None][(i % 3) as usize]
                        .map(str::to_owned),
                    host: "h".into(),
                    action: action.into(),
                    target: target.clone(),
                    outcome: outcome.into(),
                    details: json!({ "n": i, "note": note }).to_string(),
                    prev_hash: prev,
                    hash: [0; 32],
                })
                .unwrap();
            rows.push(row);
        }
        (dir, s, rows)
    }

    /// The filter keeps exactly the rows `keep` says (checked against the rows written, with
    /// some kept and some dropped), through every read: count, walk and pages.
    fn check(s: &Store, rows: &[AuditRow], filter: AuditFilter, keep: impl Fn(&AuditRow) -> bool) {
        let expected: Vec<i64> = rows.iter().filter(|r| keep(r)).map(|r| r.seq).collect();
        assert!(
            !expected.is_empty() && expected.len() < rows.len(),
            "{filter:?}: the sample must keep some rows and drop some ({expected:?})"
        );
        let mut walked = Vec::new();
        s.for_each_audit_filtered(&filter, |r| {
            walked.push(r.seq);
            true
        })
        .unwrap();
        assert_eq!(walked, expected, "{filter:?}");
        assert_eq!(
            s.audit_count(&filter).unwrap(),
            expected.len() as u64,
            "{filter:?}"
        );
        let mut paged: Vec<i64> = s
            .audit_page(&filter, None, 4)
            .unwrap()
            .into_iter()
            .map(|r| r.seq)
            .collect();
        while let Some(&oldest) = paged.last() {
            let more = s.audit_page(&filter, Some(oldest), 4).unwrap();
            if more.is_empty() {
                break;
            }
            paged.extend(more.iter().map(|r| r.seq));
        }
        paged.reverse();
        assert_eq!(paged, expected, "{filter:?}: pages");
    }

    #[test]
    fn pages_walk_the_whole_log_newest_first() {
        let (_dir, s, _) = sample();
        let all = AuditFilter::default();
        assert_eq!(s.audit_count(&all).unwrap(), 30);
        let p1 = s.audit_page(&all, None, 10).unwrap();
        assert_eq!(p1.first().unwrap().seq, 30);
        assert_eq!(p1.last().unwrap().seq, 21);
        let p3 = s.audit_page(&all, Some(6), 10).unwrap();
        assert_eq!(
            p3.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn each_filter_keeps_its_rows_and_drops_the_others() {
        let (_dir, s, rows) = sample();
        let f = AuditFilter::default;
        // Time: the lower bound is inclusive, the upper exclusive.
        check(
            &s,
            &rows,
            AuditFilter {
                since_ms: Some(T0 + 10_000),
                ..f()
            },
            |r| r.ts_ms >= T0 + 10_000,
        );
        check(
            &s,
            &rows,
            AuditFilter {
                until_ms: Some(T0 + 20_000),
                ..f()
            },
            |r| r.ts_ms < T0 + 20_000,
        );
        check(
            &s,
            &rows,
            AuditFilter {
                since_ms: Some(T0 + 10_000),
                until_ms: Some(T0 + 20_000),
                ..f()
            },
            |r| (10..20).contains(&(r.seq - 1)),
        );
        // Actions: exact, or a prefix ending in a dot (`hsm.` is not `hsmx.`).
        check(
            &s,
            &rows,
            AuditFilter {
                action: Some("hsm.login".into()),
                ..f()
            },
            |r| r.action == "hsm.login",
        );
        check(
            &s,
            &rows,
            AuditFilter {
                action: Some("hsm.".into()),
                ..f()
            },
            |r| ["hsm.login", "hsm.inventory", "hsm.logout"].contains(&&*r.action),
        );
        assert_eq!(
            s.audit_count(&AuditFilter {
                action: Some("hsm".into()),
                ..f()
            })
            .unwrap(),
            0,
            "without the dot an action is matched exactly"
        );
        // Users: the OS user or the HSM user.
        check(
            &s,
            &rows,
            AuditFilter {
                user: Some("cu_a".into()),
                ..f()
            },
            |r| r.hsm_user.as_deref() == Some("cu_a"),
        );
        check(
            &s,
            &rows,
            AuditFilter {
                user: Some("sec".into()),
                ..f()
            },
            |r| r.os_user == "sec",
        );
        check(
            &s,
            &rows,
            AuditFilter {
                outcome: Some("failure".into()),
                ..f()
            },
            |r| r.outcome == "failure",
        );
        // Filters combine with AND.
        check(
            &s,
            &rows,
            AuditFilter {
                action: Some("hsm.login".into()),
                user: Some("cu_a".into()),
                ..f()
            },
            |r| r.action == "hsm.login" && r.hsm_user.as_deref() == Some("cu_a"),
        );
        // Text, case-insensitively, in target and details (the trigram index).
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("TOKEN-1".into()),
                ..f()
            },
            |r| r.target.starts_with("token-1"),
        );
        // LIKE wildcards and quotes in the search text are literal: `50%_off` is not `50a_off`.
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("50%_off".into()),
                ..f()
            },
            |r| r.details.contains("50%_off"),
        );
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("\"note\":\"50%".into()),
                ..f()
            },
            |r| r.details.contains("\"note\":\"50%"),
        );
        // Short texts (under three characters) take the LIKE path, with the same meaning.
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("_1".into()),
                ..f()
            },
            |r| r.target.contains("_1") || r.details.contains("_1"),
        );
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("%".into()),
                ..f()
            },
            |r| r.details.contains('%'),
        );
        check(
            &s,
            &rows,
            AuditFilter {
                text: Some("y_".into()),
                ..f()
            },
            |r| r.target.contains("y_"),
        );
        assert_eq!(
            s.audit_count(&AuditFilter {
                text: Some("5_%".into()),
                ..f()
            })
            .unwrap(),
            0
        );
    }
}
