//! Step 9 after a migrate statement whose answer was never seen, or on a database that looks
//! migrated already: both sides are read and the step continues from what they show, saying
//! what was found. A key the database does not know is never taken for the migration's.

use super::keystore::migrated;
use super::{Check, Context, MigrationError, StepResult, Wizard, cdb, key_rows};
use crate::audit::{Action, Auditor, Outcome};
use crate::tde::labels::parse_key_id;
use crate::tde::views::{KeyRow, KeystoreType};
use serde_json::json;

pub(super) enum InFlight {
    /// The statement had run: step 9 is done.
    Ran(StepResult),
    /// Neither side shows it: it may be sent again; the notes say what was found.
    NotRun(Vec<String>),
    /// The two sides disagree in a way only a person can settle: what was found, what to do.
    Stop(StepResult),
}

const READ_BOTH: [&str; 2] = [
    "SELECT * FROM V$ENCRYPTION_WALLET;",
    "SELECT KEY_ID, KEYSTORE_TYPE, ACTIVATION_TIME, CON_ID FROM V$ENCRYPTION_KEYS;",
];

/// Reads V$ENCRYPTION_KEYS and looks the migration's key up on the token by its label.
/// `hsm_open`: V$ENCRYPTION_WALLET shows the HSM keystore OPEN and PRIMARY. `unknown`: a
/// migrate statement was sent and its answer never seen.
pub(super) fn in_flight(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    hsm_open: bool,
    unknown: bool,
) -> Result<InFlight, MigrationError> {
    let keys = key_rows(w, a, ctx)?;
    let token = ctx.hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let Some(m) = migrated(w, &keys) else {
        if hsm_open {
            return Ok(InFlight::Stop(StepResult::attention(
                "V$ENCRYPTION_WALLET shows the HSM keystore OPEN and PRIMARY, but the active master key in V$ENCRYPTION_KEYS is not an HSM key made since step 1: the database uses the HSM with a key this migration did not make. tdekey does not send the migrate statement again. Read both views; if the active key is on this HSM already, start a new migration (its step 1 then finds the key there).",
                READ_BOTH.iter().map(|s| (*s).to_owned()).collect(),
                Vec::new(),
            )));
        }
        let current = keys
            .iter()
            .filter(|k| k.con_id <= 1)
            .max_by_key(|k| k.activated_ms);
        match current {
            Some(k) if k.keystore_type != KeystoreType::Hsm => {}
            _ => {
                let all = if cdb(w) { " CONTAINER = ALL" } else { "" };
                return Ok(InFlight::Stop(StepResult::attention(
                    "V$ENCRYPTION_KEYS shows no active master key (its keystores are closed, a restart closes them), so tdekey cannot tell whether the migrate statement sent before it stopped took effect; it is not sent again. Open the file keystore and, if the migration may have run, the HSM keystore, then run this step again: it reads both sides before anything is sent.",
                    vec![
                        format!(
                            "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<wallet password>\"{all};"
                        ),
                        format!(
                            "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<user>:<password>\"{all};"
                        ),
                        READ_BOTH[1].to_owned(),
                    ],
                    Vec::new(),
                )));
            }
        }
        let mut notes = vec![
            "Found: V$ENCRYPTION_KEYS lists no new HSM master key and the active master key is still the file wallet's. The migrate statement sent before tdekey stopped did not take effect: it is sent again.".to_owned(),
        ];
        if unknown {
            notes.extend(orphans(w, a, ctx, &keys, &token)?);
        }
        return Ok(InFlight::NotRun(notes));
    };
    let on_token = ctx.hsm.count_label(&m.label)?;
    if on_token == 0 {
        return Ok(InFlight::Stop(StepResult::attention(
            format!(
                "V$ENCRYPTION_KEYS shows the new HSM master key {} as active, but the token {token:?} has no object labelled {}: the database uses another HSM, token or crypto user than the one tdekey is logged in to. Nothing is sent again. Compare the database's PKCS#11 library and crypto user with tdekey's HSM profile, log in to the token that holds {}, and run this step again.",
                m.key_id, m.label, m.label
            ),
            READ_BOTH.iter().map(|s| (*s).to_owned()).collect(),
            Vec::new(),
        )));
    }
    if !hsm_open {
        let all = if cdb(w) { " CONTAINER = ALL" } else { "" };
        return Ok(InFlight::Stop(StepResult::attention(
            format!(
                "The migration ran: V$ENCRYPTION_KEYS shows the new HSM master key {} and the token {token:?} holds {}. But V$ENCRYPTION_WALLET does not show the HSM keystore OPEN and PRIMARY now (a restart closes it). Open the HSM keystore, then run this step again: the migrate statement is not sent again.",
                m.key_id, m.label
            ),
            vec![
                format!(
                    "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"<user>:<password>\"{all};"
                ),
                READ_BOTH[0].to_owned(),
            ],
            Vec::new(),
        )));
    }
    Ok(InFlight::Ran(
        StepResult::done(vec![Check::new(
            "The migration ran",
            true,
            format!(
                "V$ENCRYPTION_WALLET shows the HSM keystore OPEN and PRIMARY; V$ENCRYPTION_KEYS shows the new HSM master key {}, and the token holds {}",
                m.key_id, m.label
            ),
        )])
        .note("The migrate statement sent before tdekey stopped had run: it is not sent again."),
    ))
}

/// After an interrupted migrate that did not take effect: the master keys on the token that
/// neither this database's V$ENCRYPTION_KEYS nor any database recorded in tdekey claims (a
/// key Oracle made before the statement stopped would be one of them), named in a note and
/// recorded as `key.orphan`. They stay on the token. This reads the whole token, on this
/// recovery path only.
fn orphans(
    w: &Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
    keys: &[KeyRow],
    token: &str,
) -> Result<Vec<String>, MigrationError> {
    let known: Vec<String> = keys
        .iter()
        .filter(|k| k.keystore_type == KeystoreType::Hsm)
        .filter_map(|k| parse_key_id(&k.key_id).ok().map(|(_, id)| id.hsm_label()))
        .collect();
    let owned: Vec<String> = a
        .store()
        .key_owners()?
        .into_iter()
        .map(|o| o.label)
        .collect();
    let rows = crate::session::inventory(a, ctx.hsm, &mut |_, _| {})?;
    let unclaimed: Vec<String> = rows
        .into_iter()
        .filter(|r| r.kind == "tde-master-key")
        .map(|r| r.object.label)
        .filter(|l| !known.contains(l) && !owned.contains(l) && !w.state.snapshot.contains(l))
        .collect();
    if unclaimed.is_empty() {
        return Ok(Vec::new());
    }
    a.record(
        Action::KeyOrphan,
        token,
        Outcome::Success,
        ctx.hsm.user(),
        json!({
            "database": w.db.name,
            "labels": unclaimed,
            "why": "a migrate statement was interrupted; a key Oracle made before it stopped would be one of these",
        }),
    )?;
    Ok(vec![format!(
        "Master keys on the token {token:?} that neither this database's V$ENCRYPTION_KEYS nor any database recorded in tdekey claims: {}. If Oracle made a key before the interrupted statement stopped, it is one of these. tdekey leaves them on the token (it never deletes a master key): find out whose each is (the other databases' V$ENCRYPTION_KEYS) before anyone removes one with the HSM's own tool.",
        unclaimed.join(", ")
    )])
}
