//! Reading everything the report needs: the database's three views, tdekey's records, the
//! wallets and backups it can open, and each key on the HSM by its label (never a listing of
//! the token). A source that cannot be read becomes a line of the report, not an error.

use super::RecoverError;
use super::model::{Builder, KeyKind, Need, Place, Recoverability, Shared};
use crate::audit::{Action, Auditor, Entry};
use crate::databases::{self, Reach};
use crate::hsm::Hsm;
use crate::inventory;
use crate::migration::MigrationState;
use crate::model::{ConnectorKind, DatabaseProfile, PinFormat, TokenSelector};
use crate::oracle::Operator;
use crate::paths::DataDir;
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, master_key_of};
use crate::tde::ora;
use crate::tde::output::Row;
use crate::tde::request::{Reply, Request};
use crate::tde::views::{DatabaseKeyRow, KeyRow, KeystoreType, TablespaceRow};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the report may read, and with what.
pub struct Sources<'a> {
    pub data: &'a DataDir,
    /// An open session on the database's HSM, logged in (private objects are visible only
    /// then); the Rehearsal's keystore lives on it too.
    pub hsm: &'a mut Hsm,
    /// Manual profiles: the DBA who runs the three queries and pastes their output.
    pub operator: Option<&'a mut dyn Operator>,
    /// SQL*Plus with a named user: that user's password.
    pub db_password: Option<Secret>,
    /// Rehearsal: how an HSM password becomes the token's PIN.
    pub pin_format: PinFormat,
    pub token: Option<TokenSelector>,
    /// A WALLET_ROOT to read instead of the profile's (a copy, a standby's).
    pub wallet_root: Option<PathBuf>,
    /// Opens `ewallet.p12`, Oracle's backups of it and the ones inside tdekey's backups.
    pub wallet_password: Option<Secret>,
    /// tdekey wallet backups to open, besides the ones its store records.
    pub backups: Vec<PathBuf>,
    /// Opens sealed backups.
    pub backup_passphrase: Option<Secret>,
}

/// Where a profile's WALLET_ROOT is on this machine: a Rehearsal database's under its
/// simulated host, a SQL*Plus profile's when its ORACLE_HOME is here; `None` elsewhere (the
/// report then reads only what `--wallet-root` gives it).
pub fn local_wallet_root(db: &DatabaseProfile, data: &DataDir) -> Option<PathBuf> {
    let root = db.wallet_root.as_deref().filter(|r| !r.is_empty())?;
    match db.connector {
        ConnectorKind::Rehearsal => Some(
            crate::oracle::rehearsal::host_root(data.root(), &db.name)
                .join(root.trim_start_matches('/')),
        ),
        ConnectorKind::Sqlplus
            if db
                .oracle_home
                .as_deref()
                .is_some_and(|h| Path::new(h).is_dir()) =>
        {
            Some(PathBuf::from(root))
        }
        _ => None,
    }
}

/// `tdekey recoverability NAME`: reads every source, builds the report and records it as
/// `recoverability.report` (counts, missing ids, HSM calls), whether it finds everything or not.
pub fn check(
    a: &mut Auditor,
    database: &str,
    mut src: Sources<'_>,
) -> Result<Recoverability, RecoverError> {
    let db = databases::get(a, database)?;
    let gathered = gather(a, &db, &mut src);
    drop(src);
    let mut entry = Entry::new(
        Action::RecoverabilityReport,
        format!("database {}", db.name),
    );
    if let Ok(r) = &gathered {
        let missing: Vec<String> = r.missing().iter().map(|k| k.id.clone()).collect();
        let unusable: Vec<String> = r.unusable().iter().map(|k| k.id.clone()).collect();
        entry = entry.details(json!({
            "keys": r.keys.len(),
            "found": r.found(),
            "missing": missing.len(),
            "missing_ids": missing,
            "unusable_ids": unusable,
            "complete": r.complete(),
            "unread": r.unread.iter().map(|u| u.source.clone()).collect::<Vec<_>>(),
            "hsm_calls": r.hsm_calls,
            "exit_code": r.exit_code(),
        }));
    }
    // One entry, after the gathering, with what it found: the seq the report prints is the
    // entry that holds its counts and missing ids.
    let acted = a.attempt(entry, |_| gathered);
    let seq = acted.recorded.as_ref().ok().map(|row| row.seq);
    let mut report = acted.into_result::<RecoverError>("The recoverability report was made")?;
    report.audit_seq = seq;
    Ok(report)
}

fn gather(
    a: &mut Auditor,
    db: &DatabaseProfile,
    src: &mut Sources<'_>,
) -> Result<Recoverability, RecoverError> {
    let mut b = Builder::default();
    let mut hsm_keys: BTreeSet<MasterKeyId> = BTreeSet::new();
    let mut names: BTreeMap<u32, String> = BTreeMap::new();

    // The database: every row of the three views.
    let keys: Vec<KeyRow> = view(
        a,
        db,
        src,
        &mut b,
        Request::QueryKeys,
        "V$ENCRYPTION_KEYS",
        |r| KeyRow::from_row(r).map_err(|e| e.to_string()),
    );
    for k in &keys {
        if let Some(p) = &k.pdb
            && !p.name.is_empty()
        {
            names.insert(k.con_id, p.name.clone());
        }
    }
    let container = |c: u32| container_name(&names, c);
    let mut latest: BTreeMap<u32, (i64, MasterKeyId)> = BTreeMap::new();
    for k in &keys {
        let Some(id) = master_key_of(&k.key_id) else {
            b.unread(
                "V$ENCRYPTION_KEYS",
                format!(
                    "KEY_ID {:?} names no master key tdekey can read: that key cannot be looked for, so the answer is incomplete",
                    k.key_id
                ),
                true,
            );
            continue;
        };
        match k.keystore_type {
            KeystoreType::Hsm => {
                hsm_keys.insert(id);
            }
            KeystoreType::SoftwareKeystore => b.kind(id, KeyKind::Software),
            _ => {}
        }
        b.need(
            id,
            Need::History {
                con_id: k.con_id,
                container: container(k.con_id),
                activated_ms: k.activated_ms,
                tag: k.tag.clone(),
            },
        );
        let e = latest.entry(k.con_id).or_insert((k.activated_ms, id));
        if k.activated_ms > e.0 {
            *e = (k.activated_ms, id);
        }
    }
    for (con_id, (_, id)) in latest {
        b.need(
            id,
            Need::Current {
                con_id,
                container: container(con_id),
            },
        );
    }
    let dbkeys: Vec<DatabaseKeyRow> = view(
        a,
        db,
        src,
        &mut b,
        Request::QueryDatabaseKey,
        "V$DATABASE_KEY_INFO",
        |r| DatabaseKeyRow::from_row(r).map_err(|e| e.to_string()),
    );
    for d in dbkeys {
        if let Some(id) = d.master_key {
            b.need(
                id,
                Need::DatabaseKey {
                    con_id: d.con_id,
                    container: container(d.con_id),
                },
            );
        }
    }
    let tablespaces: Vec<TablespaceRow> = view(
        a,
        db,
        src,
        &mut b,
        Request::QueryTablespaces,
        "V$ENCRYPTED_TABLESPACES",
        |r| TablespaceRow::from_row(r).map_err(|e| e.to_string()),
    );
    for t in tablespaces {
        if let Some(id) = t.master_key {
            b.need(
                id,
                Need::Tablespace {
                    con_id: t.con_id,
                    container: container(t.con_id),
                    name: t.name.clone(),
                    ts: t.ts,
                    encrypted: t.encrypted,
                },
            );
        }
    }

    // tdekey's records.
    let mut recorded_backups = Vec::new();
    let oracle_user = records(a, db, &mut b, &mut hsm_keys, &mut recorded_backups)?;
    for id in &hsm_keys {
        b.kind(*id, KeyKind::Hsm);
    }

    // The wallets on this machine.
    let root = src
        .wallet_root
        .clone()
        .or_else(|| local_wallet_root(db, src.data));
    match &root {
        Some(root) => super::wallets::wallets(a, root, src, &mut b),
        None => b.unread(
            "WALLET_ROOT",
            format!(
                "the file keystore of {} is not on this machine: give a copy of its WALLET_ROOT with --wallet-root DIR",
                db.name
            ),
            false,
        ),
    }
    let mut files: Vec<PathBuf> = src.backups.clone();
    for f in recorded_backups {
        if !files.contains(&f) {
            if f.is_file() {
                files.push(f);
            } else {
                b.unread(
                    f.display().to_string(),
                    "tdekey recorded this wallet backup but the file is not there any more",
                    false,
                );
            }
        }
    }
    for f in &files {
        super::wallets::sealed_backup(a, f, src, &mut b);
    }

    // The HSM, one lookup per key.
    let token = src.hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let user = src.hsm.user().unwrap_or_default().to_owned();
    // A token logged in by PIN alone (no user name: SoftHSM2, a PIN-only HSM) has one user, so
    // what tdekey sees is what Oracle's login sees.
    let shared = match &oracle_user {
        _ if user.is_empty() => Shared::Yes,
        Some(u) if *u == user => Shared::Yes,
        None => Shared::Yes,
        Some(_) => Shared::Unknown,
    };
    let mut calls = 0u64;
    let ids = b.ids();
    for (i, id) in ids.iter().copied().enumerate() {
        let label = id.hsm_label();
        match src.hsm.find_master_key(&label, hsm_keys.contains(&id)) {
            Ok(found) => {
                calls += found.calls;
                if !found.found() {
                    continue;
                }
                b.kind(id, KeyKind::Hsm);
                let health = if found.objects.is_empty() {
                    duplicate_flags(found.healthy)
                } else {
                    let mut flags: Vec<inventory::HealthFlag> = inventory::analyze(found.objects)
                        .into_iter()
                        .flat_map(|r| r.health)
                        .collect();
                    flags.dedup_by(|x, y| x.code == y.code);
                    flags
                };
                b.place(
                    id,
                    Place::Hsm {
                        token: token.clone(),
                        label,
                        health,
                        shared,
                        user: user.clone(),
                    },
                );
            }
            Err(e) => {
                b.unread(
                    format!("HSM token {token:?}"),
                    format!(
                        "looking up {label} failed: {e}; {} key{} not looked up on the HSM",
                        ids.len() - i,
                        if ids.len() - i == 1 { " was" } else { "s were" }
                    ),
                    true,
                );
                // Not looked up is not found nowhere: those keys are unchecked.
                for id in &ids[i..] {
                    b.unchecked(*id);
                }
                break;
            }
        }
    }
    Ok(b.finish(
        &db.name,
        crate::audit::export::utc(crate::model::now_ms()),
        calls,
    ))
}

fn duplicate_flags(n: usize) -> Vec<inventory::HealthFlag> {
    if n < 2 {
        return Vec::new();
    }
    vec![inventory::HealthFlag {
        severity: inventory::Severity::Critical,
        code: "duplicate-label",
        reason: "Several objects share this label: Oracle finds keys by label and cannot tell them apart.".into(),
    }]
}

fn container_name(names: &BTreeMap<u32, String>, con_id: u32) -> String {
    match (con_id, names.get(&con_id)) {
        (0, _) => "the database".into(),
        (1, _) => "CDB$ROOT".into(),
        (_, Some(n)) => format!("{n} (CON_ID {con_id})"),
        (c, None) => format!("CON_ID {c}"),
    }
}

/// One view's rows; a view that cannot be read is a needed source left unread.
fn view<T>(
    a: &mut Auditor,
    db: &DatabaseProfile,
    src: &mut Sources<'_>,
    b: &mut Builder,
    request: Request,
    name: &str,
    parse: impl Fn(&Row) -> Result<T, String>,
) -> Vec<T> {
    let reach = Reach {
        data: src.data,
        operator: src.operator.as_deref_mut().map(|o| o as &mut dyn Operator),
        db_password: src.db_password.clone(),
        hsm: Some(&mut *src.hsm),
        pin_format: src.pin_format,
        token: src.token.clone(),
    };
    let why = match databases::run_statement(a, db, &request, reach) {
        Ok(ran) => match ran.answer.reply {
            Reply::Rows { rows } => match rows.iter().map(&parse).collect() {
                Ok(v) => return v,
                Err(e) => format!("its output could not be read: {e}"),
            },
            other => {
                let refused = ora::refusal(&other)
                    .unwrap_or_else(|| format!("the database answered {}", other.summary()));
                if refused.contains("ORA-00942") || refused.contains("ORA-01031") {
                    format!(
                        "{refused} This connection may not read {name}: grant it SELECT_CATALOG_ROLE (or SELECT on {name})."
                    )
                } else {
                    refused
                }
            }
        },
        Err(e) => e.to_string(),
    };
    b.unread(name, why, true);
    Vec::new()
}

/// Keys tdekey's store records for the database (key owners, rotation runs, migrations), and
/// the wallet backups its migrations made. Returns the HSM user Oracle's keystore uses, when a
/// migration recorded it.
fn records(
    a: &Auditor,
    db: &DatabaseProfile,
    b: &mut Builder,
    hsm_keys: &mut BTreeSet<MasterKeyId>,
    backups: &mut Vec<PathBuf>,
) -> Result<Option<String>, RecoverError> {
    let store = a.store();
    for o in store.key_owners()? {
        if o.database != db.name {
            continue;
        }
        let Some(id) = master_key_of(&o.label) else {
            continue;
        };
        hsm_keys.insert(id);
        let of = if o.container.is_empty() {
            String::new()
        } else {
            format!(" of {}", o.container)
        };
        let retired = o
            .retired_why
            .as_deref()
            .map(|w| format!(", retired: {w}"))
            .unwrap_or_default();
        b.need(
            id,
            Need::Recorded {
                what: format!("key{of} recorded from the {}{retired}", o.source),
                at_ms: o.since_ms,
            },
        );
    }
    for r in store.rotation_runs(Some(&db.name), 0)? {
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
        for k in list(&r.old_keys) {
            if let Some(id) = master_key_of(&k) {
                b.need(
                    id,
                    Need::Recorded {
                        what: format!("the key before rotation #{} (way {})", r.id, r.way),
                        at_ms: r.started_ms,
                    },
                );
            }
        }
        if r.outcome == "success" {
            for k in list(&r.new_keys) {
                if let Some(id) = master_key_of(&k) {
                    hsm_keys.insert(id);
                    b.need(
                        id,
                        Need::Recorded {
                            what: format!("the key rotation #{} activated (way {})", r.id, r.way),
                            at_ms: r.started_ms,
                        },
                    );
                }
            }
        }
    }
    let mut oracle_user = None;
    for m in store.migrations_of(&db.name)? {
        let Ok(state) = serde_json::from_str::<MigrationState>(&m.state) else {
            b.unread(
                format!("migration #{}", m.id),
                "its record could not be read",
                false,
            );
            continue;
        };
        if oracle_user.is_none() {
            oracle_user = state.hsm_user.clone();
        }
        for k in &state.keys_before {
            if let Some(id) = master_key_of(k) {
                b.need(
                    id,
                    Need::Recorded {
                        what: format!("a key the database had before migration #{}", m.id),
                        at_ms: state.started_ms,
                    },
                );
            }
        }
        for k in &state.old_hsm_keys {
            if let Some(id) = master_key_of(k) {
                b.need(
                    id,
                    Need::Recorded {
                        what: format!("a key on the other HSM before migration #{}", m.id),
                        at_ms: state.started_ms,
                    },
                );
                b.kind(id, KeyKind::Hsm);
                b.place(
                    id,
                    Place::OtherHsm {
                        migration: m.id,
                        label: id.hsm_label(),
                    },
                );
            }
        }
        if !state.old_hsm_keys.is_empty() {
            b.unread(
                format!("the other HSM (path B, migration #{})", m.id),
                format!(
                    "tdekey is not connected to the HSM the database used before this migration; backups and archived redo from before it need {} there. Check with that vendor's tools that it still holds {} and keep it, its user and its library for the whole recovery window.",
                    if state.old_hsm_keys.len() == 1 { "the key" } else { "the keys" },
                    state.old_hsm_keys.join(", ")
                ),
                true,
            );
        }
        if m.status == "done"
            && let Some(id) = state.new_key.as_deref().and_then(master_key_of)
        {
            hsm_keys.insert(id);
            b.need(
                id,
                Need::Recorded {
                    what: format!("the key migration #{} made on the HSM", m.id),
                    at_ms: state.started_ms,
                },
            );
        }
        if let Some(backup) = &state.backup {
            backups.push(PathBuf::from(&backup.file));
        }
    }
    Ok(oracle_user)
}
