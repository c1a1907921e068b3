//! What a dry run checks on one database before saying it would be rotated: the keystore as
//! V$ENCRYPTION_WALLET shows it and each container's active key on the token, read only (no
//! run is recorded, nothing is sent but queries).

use super::phases::{active, hsm_label, key_rows, wallet_rows};
use super::run::Context;
use super::{RotationError, Way};
use crate::audit::Auditor;
use crate::databases;
use crate::model::DatabaseProfile;
use crate::tde::views::{KeystoreType, WalletOrder, WalletStatus, WrlType};
use serde::Serialize;

/// `Ok` with what was found when a rotation would get past its checks, else the sentence
/// that the rotation would stop with.
pub(super) fn preflight(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
) -> Result<String, String> {
    let read = |e: String| format!("Reading the database failed: {e}");
    let wallet = wallet_rows(a, ctx, db).map_err(read)?;
    let top: Vec<_> = wallet.iter().filter(|r| r.con_id <= 1).collect();
    let Some(hsm) = top.iter().find(|r| r.wrl_type == WrlType::Hsm) else {
        return Err(format!(
            "{} has no HSM keystore (V$ENCRYPTION_WALLET shows none): migrate its master key to the HSM first (tdekey migrate).",
            db.name
        ));
    };
    let primary = top
        .iter()
        .find(|r| matches!(r.wallet_order, WalletOrder::Primary | WalletOrder::Single));
    if primary.is_some_and(|p| p.wrl_type != WrlType::Hsm) {
        return Err(format!(
            "The file wallet is the primary keystore of {}: finish its migration (tdekey migrate) before rotating it.",
            db.name
        ));
    }
    let closed: Vec<String> = wallet
        .iter()
        .filter(|r| r.wrl_type == WrlType::Hsm && r.status != WalletStatus::Open)
        .map(|r| format!("CON_ID {} ({})", r.con_id, r.status.as_str()))
        .collect();
    if hsm.status != WalletStatus::Open || !closed.is_empty() {
        return Err(format!(
            "The HSM keystore of {} is not open ({}): a rotation needs it open. Open it or set up HSM auto-login before the rotation is due.",
            db.name,
            if closed.is_empty() {
                hsm.status.as_str().to_owned()
            } else {
                closed.join(", ")
            }
        ));
    }
    let keys = key_rows(a, ctx, db).map_err(read)?;
    let act = active(&keys);
    if act.is_empty() {
        return Err(format!(
            "V$ENCRYPTION_KEYS of {} shows no master key: set one first.",
            db.name
        ));
    }
    let token = ctx.hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let mut found = Vec::new();
    for (c, k) in &act {
        let Some(label) = hsm_label(k).filter(|_| k.keystore_type == KeystoreType::Hsm) else {
            return Err(format!(
                "The active master key of {c} ({}) is not on the HSM: finish its migration (tdekey migrate) before rotating it.",
                k.key_id
            ));
        };
        let n = ctx.hsm.count_label(&label).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "The active master key of {c}, {label}, is not on the token {token:?}: tdekey may be connected to another HSM than the database. Find the key before the rotation is due."
            ));
        }
        found.push(format!("{c}: {label}"));
    }
    Ok(format!(
        "the HSM keystore is OPEN and primary; the active key{} on the token ({})",
        if found.len() == 1 { " is" } else { "s are" },
        found.join("; ")
    ))
}

/// What a dry run of one rotation found.
#[derive(Clone, Debug, Serialize)]
pub struct DryRun {
    pub database: String,
    pub way: Way,
    pub would_rotate: bool,
    /// What was found, or the sentence the rotation would stop with.
    pub message: String,
}

/// `tdekey rotate NAME --dry-run`: on the open, logged-in token, proves key generation with a
/// session key (`hsm.probe`) and reads the database as a rotation's first phase would; sends
/// no statement that changes anything and records no run.
pub fn dry_run(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    database: &str,
    way: Option<Way>,
) -> Result<DryRun, RotationError> {
    let db = databases::get(a, database)?;
    let policy = a.store().rotation_policy(&db.name)?;
    let way = way
        .or_else(|| policy.as_ref().and_then(|p| Way::parse(&p.way)))
        .unwrap_or_else(|| Way::default_for(db.multitenant));
    let done = |would_rotate: bool, message: String| {
        Ok(DryRun {
            database: db.name.clone(),
            way,
            would_rotate,
            message,
        })
    };
    if let Some(r) = way.refusal(&db.name, db.multitenant) {
        return done(false, r);
    }
    let probe = crate::session::probe(a, ctx.hsm)?;
    if let Some(e) = &probe.aes_key_gen {
        return done(
            false,
            format!(
                "The token refuses to generate an AES-256 key ({e}): the new master key is generated there, by tdekey (way hsm) or by Oracle (SET KEY)."
            ),
        );
    }
    match preflight(a, ctx, &db) {
        Ok(found) => done(
            true,
            format!(
                "{}; {found}; key generation proved with a session key",
                way.describe()
            ),
        ),
        Err(e) => done(false, e),
    }
}
