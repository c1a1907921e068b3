//! `tdekey store copy`: this computer's store (its SQLite file) into a team's empty PostgreSQL
//! database, the audit chain verified before and after, and the copy recorded in both chains.

use super::{Action, Auditor, Outcome, Verification, verify};
use crate::model::now_ms;
use crate::store::{Location, Store, StoreError};
use serde_json::json;

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// Rows copied, per table, in the order written.
    pub tables: Vec<(&'static str, u64)>,
    /// The chain head copied: seq and hash (none for an empty log).
    pub head: Option<(i64, [u8; 32])>,
    /// The shared store's entry recording the copy.
    pub recorded_seq: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "This store's audit chain does not verify (seq {seq}: {reason}); nothing was copied. Find out why with `tdekey audit verify` before copying it anywhere."
    )]
    SourceBroken { seq: i64, reason: String },
    #[error(
        "{0} is under way here; nothing was copied. Let it finish (or roll it back), then copy."
    )]
    Leased(String),
    #[error(
        "{at} already holds tdekey data ({what}); nothing was copied. Copy into an empty database, or use that store as it is with --store."
    )]
    NotEmpty { at: String, what: String },
    #[error("`tdekey store copy` copies this computer's store into a PostgreSQL database: {0}")]
    Usage(String),
    #[error(
        "The copy in {at} does not verify as the original does ({why}); the copy was written but must not be used: drop that database's tables and copy again."
    )]
    CopyBroken { at: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies `source`'s store (this computer's) into the empty PostgreSQL store at `to`.
/// Audited in both chains: `store.copy` success in the new one (its first entry after the
/// copied ones), and success or failure in this computer's.
pub fn copy_store(source: &mut Auditor, to: &Location) -> Result<Copied, CopyError> {
    let result = copy_checked(source.store(), to);
    let details = match &result {
        Ok(c) => json!({
            "to": to.name().to_string(),
            "tables": c.tables.iter().map(|(t, n)| json!({ "table": t, "rows": n })).collect::<Vec<_>>(),
            "head_seq": c.head.map(|h| h.0),
            "head_hash": c.head.map(|h| hex::encode(h.1)),
            "recorded_seq": c.recorded_seq,
        }),
        Err(e) => json!({ "to": to.name().to_string(), "error": e.to_string() }),
    };
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    source.record(
        Action::StoreCopy,
        &to.name().to_string(),
        outcome,
        None,
        details,
    )?;
    result
}

fn copy_checked(from: &Store, to: &Location) -> Result<Copied, CopyError> {
    if from.is_shared() {
        return Err(CopyError::Usage(
            "leave out --store (and TDEKEY_STORE): the copy reads this computer's store".into(),
        ));
    }
    if !matches!(to, Location::Pg(_)) {
        return Err(CopyError::Usage(
            "--to names a PostgreSQL URL (postgresql://user@host:port/db)".into(),
        ));
    }
    if let Verification::Broken { seq, reason } = verify(from)? {
        return Err(CopyError::SourceBroken { seq, reason });
    }
    if let Some(held) = from.live_leases(now_ms())?.into_iter().next() {
        return Err(CopyError::Leased(held));
    }
    let head = from.audit_head()?;
    let target = Store::connect(to)?;
    let filled: Vec<String> = target
        .row_counts()?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{n} {} in {t}", if n == 1 { "row" } else { "rows" }))
        .collect();
    if !filled.is_empty() {
        return Err(CopyError::NotEmpty {
            at: to.name().to_string(),
            what: filled.join(", "),
        });
    }
    let tables = from.copy_into(&target)?;
    let broken = |why: String| CopyError::CopyBroken {
        at: to.name().to_string(),
        why,
    };
    match verify(&target)? {
        Verification::Broken { seq, reason } => return Err(broken(format!("seq {seq}: {reason}"))),
        Verification::Intact { .. } => {}
    }
    if target.audit_head()? != head {
        return Err(broken("its chain head differs from this store's".into()));
    }
    let mut shared = Auditor::new(target);
    let row = shared.record(
        Action::StoreCopy,
        &to.name().to_string(),
        Outcome::Success,
        None,
        json!({
            "from": from.at().to_string(),
            "tables": tables.iter().map(|(t, n)| json!({ "table": t, "rows": n })).collect::<Vec<_>>(),
            "head_seq": head.map(|h| h.0),
            "head_hash": head.map(|h| hex::encode(h.1)),
        }),
    )?;
    Ok(Copied {
        tables,
        head,
        recorded_seq: row.seq,
    })
}
