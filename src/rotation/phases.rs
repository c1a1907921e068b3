//! The phases of a rotation run: `check`, `generate` (way hsm), `activate`, `verify`; each
//! reads the database and the HSM, and says in what state it leaves them when it stops.

use super::run::{Check, Context, Run, Stop, UNCHANGED, save, stop};
use super::{RotationError, Way};
use crate::audit::{Action, Auditor, Entry};
use crate::databases;
use crate::databases::Reach;
use crate::inventory::InventoryRow;
use crate::model::{DatabaseProfile, Multitenant, now_ms};
use crate::oracle::Operator;
use crate::store::KeyOwner;
use crate::tde::labels::{MasterKeyId, parse_key_id};
use crate::tde::request::{Reply, Request};
use crate::tde::sql::{Credential, Options};
use crate::tde::views::{KeyRow, KeystoreType, WalletOrder, WalletRow, WalletStatus, WrlType};
use serde_json::json;
use std::collections::BTreeMap;

fn query(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
    request: &Request,
) -> Result<Reply, String> {
    statement(a, ctx, db, request)
        .map(|r| r.answer.reply)
        .map_err(|e| e.to_string())
}

fn statement(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
    request: &Request,
) -> Result<databases::Ran, databases::DatabaseError> {
    let reach = Reach {
        data: ctx.data,
        operator: ctx.operator.as_deref_mut().map(|o| o as &mut dyn Operator),
        db_password: ctx.db_password.clone(),
        hsm: Some(&mut *ctx.hsm),
        pin_format: ctx.pin_format,
        token: None,
    };
    databases::run_statement(a, db, request, reach)
}

fn rows<T>(
    reply: Reply,
    parse: impl Fn(&crate::tde::output::Row) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match reply {
        Reply::Rows { rows } => rows.iter().map(parse).collect(),
        other => Err(crate::tde::ora::refusal(&other)
            .unwrap_or_else(|| format!("the database answered {}", other.summary()))),
    }
}

pub(super) fn wallet_rows(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
) -> Result<Vec<WalletRow>, String> {
    rows(query(a, ctx, db, &Request::QueryWallet)?, |r| {
        WalletRow::from_row(r).map_err(|e| e.to_string())
    })
}

pub(super) fn key_rows(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    db: &DatabaseProfile,
) -> Result<Vec<KeyRow>, String> {
    rows(query(a, ctx, db, &Request::QueryKeys)?, |r| {
        KeyRow::from_row(r).map_err(|e| e.to_string())
    })
}

/// The container a key row belongs to, for people: keyed by CON_ID, never by CREATOR_PDBNAME
/// (a PDB plugged in elsewhere keeps its keys' creator name); the creator PDB's name is only
/// shown beside it.
fn container(k: &KeyRow) -> String {
    match (&k.pdb, k.con_id) {
        (None, 0) => "the database".into(),
        (Some(p), c) if !p.name.is_empty() => format!("CON_ID {c} ({})", p.name),
        (_, c) => format!("CON_ID {c}"),
    }
}

/// After a partial CONTAINER = ALL: which container holds which key now, read from every
/// CON_ID's rows of V$ENCRYPTION_KEYS, against the keys before the run.
fn partial_state(run: &Run<'_>, a: &mut Auditor, ctx: &mut Context<'_>) -> String {
    let keys = match key_rows(a, ctx, run.db) {
        Ok(k) => k,
        Err(e) => {
            return format!(
                "Some containers may have a new key and others not, and V$ENCRYPTION_KEYS could not be read to tell ({e}): read it for every CON_ID before anything else. Nothing was deleted."
            );
        }
    };
    let act = active(&keys);
    let mut changed = Vec::new();
    let mut kept = Vec::new();
    for (c, k) in &act {
        let label = hsm_label(k).unwrap_or_else(|| k.key_id.clone());
        match run.old.get(c) {
            Some(old) if *old == label => kept.push(format!("{c} still uses {label}")),
            _ => changed.push(format!("{c} now uses {label}")),
        }
    }
    for (c, old) in &run.old {
        if !act.contains_key(c) {
            kept.push(format!(
                "{c} shows no key now (its keystore may be closed); it used {old}"
            ));
        }
    }
    format!(
        "Some containers were re-keyed and others not. {}{}. Nothing was deleted: every previous key is still on the HSM. Open the keystore where it is closed and rotate again for the containers left.",
        if changed.is_empty() {
            "No container shows a new key".to_owned()
        } else {
            changed.join("; ")
        },
        if kept.is_empty() {
            String::new()
        } else {
            format!("; {}", kept.join("; "))
        }
    )
}

/// The active key of each container: the one activated last.
pub(super) fn active(keys: &[KeyRow]) -> BTreeMap<String, &KeyRow> {
    let mut out: BTreeMap<String, &KeyRow> = BTreeMap::new();
    for k in keys {
        let c = container(k);
        if out.get(&c).is_none_or(|o| k.activated_ms >= o.activated_ms) {
            out.insert(c, k);
        }
    }
    out
}

pub(super) fn hsm_label(k: &KeyRow) -> Option<String> {
    parse_key_id(&k.key_id).ok().map(|(_, id)| id.hsm_label())
}

pub(super) fn check(run: &mut Run<'_>, a: &mut Auditor, ctx: &mut Context<'_>) -> Result<(), Stop> {
    let db = run.db;
    let read = |e: String| {
        stop(
            "check",
            format!("Reading the database failed: {e}"),
            UNCHANGED,
        )
    };
    let wallet = wallet_rows(a, ctx, db).map_err(read)?;
    let top: Vec<&WalletRow> = wallet.iter().filter(|r| r.con_id <= 1).collect();
    let hsm = top.iter().find(|r| r.wrl_type == WrlType::Hsm);
    let primary = top
        .iter()
        .find(|r| matches!(r.wallet_order, WalletOrder::Primary | WalletOrder::Single));
    let Some(hsm) = hsm else {
        return Err(stop(
            "check",
            format!(
                "{} has no HSM keystore (V$ENCRYPTION_WALLET shows none): migrate its master key to the HSM first (tdekey migrate).",
                db.name
            ),
            UNCHANGED,
        ));
    };
    if primary.is_some_and(|p| p.wrl_type != WrlType::Hsm) {
        return Err(stop(
            "check",
            format!(
                "The file wallet is the primary keystore of {}: its master key is not on the HSM. Finish its migration (tdekey migrate) before rotating it here.",
                db.name
            ),
            UNCHANGED,
        ));
    }
    if hsm.status != WalletStatus::Open {
        let all = if db.multitenant == Multitenant::NonCdb {
            ""
        } else {
            " CONTAINER = ALL"
        };
        return Err(stop(
            "check",
            format!(
                "The HSM keystore of {} is {}: rotation needs it open. Open it (ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<user>:<password>\"{all};) or set up HSM auto-login, then rotate again.",
                db.name,
                hsm.status.as_str()
            ),
            UNCHANGED,
        ));
    }
    // CONTAINER = ALL needs every container's keystore open, or Oracle re-keys some and not
    // others (ORA-46662 … ORA-46666): stop before anything changes.
    let closed: Vec<String> = wallet
        .iter()
        .filter(|r| r.con_id > 1 && r.wrl_type == WrlType::Hsm && r.status != WalletStatus::Open)
        .map(|r| format!("CON_ID {} ({})", r.con_id, r.status.as_str()))
        .collect();
    if !closed.is_empty() {
        return Err(stop(
            "check",
            format!(
                "The HSM keystore of {} is not open in {}: a rotation with CONTAINER = ALL would re-key some containers and not others. Open it there (ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<user>:<password>\" CONTAINER = ALL;), then rotate again.",
                db.name,
                closed.join(", ")
            ),
            UNCHANGED,
        ));
    }
    run.checks.push(Check::new(
        "V$ENCRYPTION_WALLET: the HSM keystore is OPEN and primary",
        true,
        format!("{} {}", hsm.status.as_str(), hsm.wallet_order.as_str()),
    ));
    let keys = key_rows(a, ctx, db).map_err(read)?;
    run.seen = keys
        .iter()
        .filter(|k| k.keystore_type == KeystoreType::Hsm)
        .filter_map(hsm_label)
        .collect();
    let token = run.row.token_label.clone().unwrap_or_default();
    let seen: Vec<KeyOwner> = keys
        .iter()
        .filter(|k| k.keystore_type == KeystoreType::Hsm)
        .filter_map(|k| {
            Some(KeyOwner {
                label: hsm_label(k)?,
                database: db.name.clone(),
                token_label: token.clone(),
                since_ms: k.activated_ms,
                source: "V$ENCRYPTION_KEYS".into(),
                container: k.pdb.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                retired_ms: None,
                retired_why: None,
            })
        })
        .collect();
    if let Err(e) = a.store_mut().claim_seen_keys(&seen) {
        run.notes.push(format!(
            "The keys seen in V$ENCRYPTION_KEYS could not be recorded as {}'s: {e}",
            db.name
        ));
    }
    let act = active(&keys);
    if act.is_empty() {
        return Err(stop(
            "check",
            format!(
                "V$ENCRYPTION_KEYS of {} shows no master key: set one first (ADMINISTER KEY MANAGEMENT SET KEY …).",
                db.name
            ),
            UNCHANGED,
        ));
    }
    for (c, k) in &act {
        let Some(label) = hsm_label(k).filter(|_| k.keystore_type == KeystoreType::Hsm) else {
            return Err(stop(
                "check",
                format!(
                    "The active master key of {c} ({}) is in the {} keystore, not on the HSM: finish its migration (tdekey migrate) before rotating it here.",
                    k.key_id,
                    k.keystore_type.as_str().to_lowercase()
                ),
                UNCHANGED,
            ));
        };
        let found = ctx
            .hsm
            .find_label(&label)
            .map_err(|e| stop("check", e.to_string(), UNCHANGED))?;
        if found.is_empty() {
            return Err(stop(
                "check",
                format!(
                    "The active master key of {c}, {label}, is not on the token {token}: tdekey may be connected to another HSM than the database, or the key was deleted. Nothing was done; find the key before rotating."
                ),
                UNCHANGED,
            ));
        }
        run.old_refs.insert(label.clone(), found);
        run.old.insert(c.clone(), label);
    }
    run.checks.push(Check::new(
        "The active master key of each container is on the token",
        true,
        run.old
            .iter()
            .map(|(c, l)| format!("{c}: {l}"))
            .collect::<Vec<_>>()
            .join("; "),
    ));
    // No listing of the token here: on a shared HSM it costs two calls per object and proves
    // nothing about keys another database makes meanwhile. The keys V$ENCRYPTION_KEYS shows are
    // recorded before SET KEY; the token is listed only after a run stopped inside it.
    save(run, a);
    Ok(())
}

/// The labels of the token's TDE master keys (an audited inventory).
pub(super) fn master_keys(a: &mut Auditor, ctx: &mut Context<'_>) -> Result<Vec<String>, String> {
    Ok(inventory(a, ctx)?
        .into_iter()
        .filter(|r| r.kind == "tde-master-key")
        .map(|r| r.object.label)
        .collect())
}

fn inventory(a: &mut Auditor, ctx: &mut Context<'_>) -> Result<Vec<InventoryRow>, String> {
    crate::session::inventory(a, ctx.hsm, &mut |_, _| {}).map_err(|e| e.to_string())
}

/// The objects carrying `labels` and the previous active keys' labels (one search each).
fn look_up(
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    labels: &[String],
    run: &Run<'_>,
) -> Result<Vec<InventoryRow>, String> {
    let mut all = labels.to_vec();
    for old in run.old.values() {
        if !all.contains(old) {
            all.push(old.clone());
        }
    }
    crate::session::lookup(a, ctx.hsm, &all).map_err(|e| e.to_string())
}

pub(super) fn old_text(run: &Run<'_>) -> String {
    run.old.values().cloned().collect::<Vec<_>>().join(", ")
}

pub(super) fn activate(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<(), Stop> {
    let credential = Credential::Hsm {
        user: ctx.hsm.user().unwrap_or("").to_owned(),
        password: ctx.hsm_password.clone(),
    };
    let request = match run.way {
        Way::Hsm => {
            let id = run
                .new_keys
                .first()
                .and_then(|l| crate::tde::labels::classify(l).master_key())
                .ok_or_else(|| stop("activate", "No key to activate.", UNCHANGED))?;
            Request::UseKey {
                id,
                tag: run.tag.clone(),
                credential,
            }
        }
        Way::Oracle => Request::SetKey {
            tag: run.tag.clone(),
            credential,
            options: Options {
                backup: None,
                all_containers: run.db.multitenant != Multitenant::NonCdb,
            },
        },
    };
    let pending = |run: &Run<'_>| match (&run.row.pending_key, run.way) {
        (Some(k), Way::Hsm) => format!(
            "The key {k} is on the HSM and not active: the database still uses {}. The next rotation of {} uses {k} instead of generating another.",
            old_text(run),
            run.db.name
        ),
        _ => format!(
            "The database still uses {}; nothing was generated.",
            old_text(run)
        ),
    };
    let title = request.title();
    if run.way == Way::Oracle {
        // The keys seen before Oracle makes one: a run stopped inside SET KEY is followed by
        // one that names any key that appeared without being claimed.
        let intent = super::run::Intent {
            generate: None,
            set_key: Some(super::run::SetKeyIntent {
                keys_before: run.seen.clone(),
                token_before: run.before.clone(),
            }),
        };
        super::run::save_intent(run, a, "activate", intent)?;
        crate::faults::point(crate::faults::ROTATION_BEFORE_SET_KEY);
    }
    match statement(a, ctx, run.db, &request) {
        Err(e) if e.never_sent() => Err(stop(
            "activate",
            format!("{title} was not sent: {e}"),
            pending(run),
        )),
        Err(e) => Err(stop(
            "activate",
            format!("The answer to {title} was not seen: {e}"),
            format!(
                "Whether Oracle activated a new key is unknown. The next run reads V$ENCRYPTION_KEYS before it sends anything{}.",
                run.row
                    .pending_key
                    .as_ref()
                    .map(|k| format!(", and finishes with {k} if it is active"))
                    .unwrap_or_default()
            ),
        )),
        Ok(ran) => {
            if let Some(r) = crate::tde::ora::refusal(&ran.answer.reply) {
                let state = match &ran.answer.reply {
                    Reply::Error { error, .. }
                        if crate::tde::ora::partial_container_all(&error.code) =>
                    {
                        partial_state(run, a, ctx)
                    }
                    _ => pending(run),
                };
                let mut s = stop("activate", r, state);
                s.refused = true;
                return Err(s);
            }
            run.notes.extend(ran.answer.notes);
            run.checks.push(Check::new(
                format!("Oracle answered {title}"),
                true,
                ran.answer.reply.summary(),
            ));
            save(run, a);
            Ok(())
        }
    }
}

pub(super) fn verify(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<(), Stop> {
    let unsure = |run: &Run<'_>| {
        format!(
            "Oracle answered that the keystore was altered, but the checks did not pass: read V$ENCRYPTION_KEYS of {} before anything else. Nothing was deleted: {} is still on the HSM.",
            run.db.name,
            old_text(run)
        )
    };
    let read = |e: String| {
        stop(
            "verify",
            format!("Reading the database failed: {e}"),
            unsure(run),
        )
    };
    let keys = key_rows(a, ctx, run.db).map_err(read)?;
    let act = active(&keys);
    let mut fresh: Vec<InventoryRow> = Vec::new();
    // The labels the database names (the new active keys and the previous ones), looked up
    // on the token one by one (a reused key, way oracle); else the key generated and read
    // back, and handles found in `check`. Never a listing of the token: on a shared HSM
    // other databases' keys come and go meanwhile.
    let mut all: Option<Vec<InventoryRow>> = None;
    if run.way == Way::Oracle {
        let mut new_labels: Vec<String> = Vec::new();
        for (c, old) in &run.old {
            if let Some(l) = act.get(c).and_then(|k| hsm_label(k)).filter(|l| l != old)
                && !new_labels.contains(&l)
            {
                new_labels.push(l);
            }
        }
        let rows = look_up(a, ctx, &new_labels, run).map_err(|e| stop("verify", e, unsure(run)))?;
        fresh = rows
            .iter()
            .filter(|r| r.kind == "tde-master-key" && new_labels.contains(&r.object.label))
            .cloned()
            .collect();
        all = Some(rows);
        let want = run.old.len();
        run.checks.push(Check::new(
            if want == 1 {
                "The token has the one new master key V$ENCRYPTION_KEYS names".to_owned()
            } else {
                format!(
                    "The token has the {want} new master keys V$ENCRYPTION_KEYS names, one per container"
                )
            },
            fresh.len() == want,
            match fresh.len() {
                0 => format!(
                    "none found ({})",
                    if new_labels.is_empty() {
                        "no container has a new active key".to_owned()
                    } else {
                        new_labels.join(", ")
                    }
                ),
                _ => fresh
                    .iter()
                    .map(|r| r.object.label.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ));
        run.new_keys = fresh.iter().map(|r| r.object.label.clone()).collect();
    } else if run.generated.is_none() {
        // A reused key: read it back now.
        let labels = run.new_keys.clone();
        let rows = look_up(a, ctx, &labels, run).map_err(|e| stop("verify", e, unsure(run)))?;
        fresh = rows
            .iter()
            .filter(|r| run.new_keys.contains(&r.object.label))
            .cloned()
            .collect();
        all = Some(rows);
    } else {
        fresh.extend(run.generated.clone());
    }
    let mut now_active = Vec::new();
    for (c, old) in run.old.clone() {
        let label = act.get(&c).and_then(|k| hsm_label(k));
        let ok = label
            .as_ref()
            .is_some_and(|l| l != &old && run.new_keys.contains(l));
        run.checks.push(Check::new(
            format!("V$ENCRYPTION_KEYS: the active key of {c} is the new one"),
            ok,
            label.clone().unwrap_or_else(|| "no active key".into()),
        ));
        if let Some(l) = label {
            now_active.push((c, l));
        }
    }
    for (c, l) in &now_active {
        // How many objects carry the label: from the inventory when it was read, else the
        // key generated and read back (its label was on no object before it was made).
        let n = match (&all, &run.generated) {
            (Some(rows), _) => rows.iter().filter(|r| &r.object.label == l).count(),
            (None, Some(g)) if &g.object.label == l => 1,
            (None, _) => ctx.hsm.count_label(l).unwrap_or(0),
        };
        let matches_id = act
            .get(c)
            .and_then(|k| parse_key_id(&k.key_id).ok())
            .is_some_and(|(_, id): (u8, MasterKeyId)| &id.hsm_label() == l);
        run.checks.push(Check::new(
            format!("The active key of {c} is on the HSM under the label its id gives"),
            n == 1 && matches_id,
            format!(
                "{l}: {n} object{} on the token",
                if n == 1 { "" } else { "s" }
            ),
        ));
    }
    let unhealthy: Vec<String> = fresh
        .iter()
        .flat_map(|r| r.health.iter().map(|h| h.reason.clone()))
        .collect();
    run.checks.push(Check::new(
        "The new key is healthy (AES-256, sensitive, never extractable)",
        !fresh.is_empty() && unhealthy.is_empty(),
        if fresh.is_empty() {
            "not found on the token".to_owned()
        } else if unhealthy.is_empty() {
            "no finding".to_owned()
        } else {
            unhealthy.join(" ")
        },
    ));
    let mut missing = Vec::new();
    for old in run.old.values() {
        let there = match &all {
            Some(rows) => rows.iter().any(|r| &r.object.label == old),
            None => run
                .old_refs
                .get(old)
                .into_iter()
                .flatten()
                .any(|o| ctx.hsm.still_labelled(o, old).unwrap_or(false)),
        };
        if !there {
            missing.push(old.clone());
        }
    }
    run.checks.push(Check::new(
        "The previous master key is still on the HSM",
        missing.is_empty(),
        if missing.is_empty() {
            old_text(run)
        } else {
            format!("missing: {}", missing.join(", "))
        },
    ));
    let activated = now_active.iter().any(|(_, l)| run.new_keys.contains(l));
    if run.way == Way::Hsm && activated {
        run.row.pending_key = None;
    }
    save(run, a);
    if let Some(c) = run.checks.iter().find(|c| !c.ok) {
        let message = format!("{}: {}", c.what, c.detail);
        return Err(stop("verify", message, unsure(run)));
    }
    record_owners(run, a, ctx, &now_active);
    Ok(())
}

/// Records each new key as the database's (`key.owner`); a key that cannot be recorded is a
/// note, not a failure: the rotation itself is done and verified.
fn record_owners(
    run: &mut Run<'_>,
    a: &mut Auditor,
    ctx: &Context<'_>,
    now_active: &[(String, String)],
) {
    let token = run.row.token_label.clone().unwrap_or_default();
    for (c, label) in now_active {
        let k = KeyOwner {
            label: label.clone(),
            database: run.db.name.clone(),
            token_label: token.clone(),
            since_ms: now_ms(),
            source: "rotation".into(),
            container: if c == "the database" {
                String::new()
            } else {
                c.clone()
            },
            retired_ms: None,
            retired_why: None,
        };
        let entry = Entry::new(Action::KeyOwner, label)
            .user(ctx.hsm.user())
            .details(json!({ "database": run.db.name, "token": token, "source": "rotation", "run": run.row.id, "container": k.container }));
        let r = a
            .act(entry, |step| step.store().record_key_owner(&k))
            .map_err(|e| e.to_string())
            .and_then(|acted| {
                acted
                    .into_result::<RotationError>("The key was recorded")
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = r {
            run.notes.push(format!(
                "{label} could not be recorded as {}'s: {e}",
                run.db.name
            ));
        }
    }
}
