//! A TDE master key generated on the HSM: its id from the HSM's random generator, refused if
//! the label or the id is on the token already, read back and checked with the Keys screen's
//! health rules before it is reported, with what to run next.

use super::RotationError;
use crate::audit::{Action, Auditor, Entry};
use crate::hsm::{Hsm, HsmError};
use crate::inventory::{self, InventoryRow};
use crate::secret::Secret;
use crate::tde::labels::MasterKeyId;
use crate::tde::request::Request;
use crate::tde::sql::Credential;
use serde::Serialize;
use serde_json::json;

/// What the person asks for.
#[derive(Clone, Debug, Default)]
pub struct KeyRequest {
    /// The tag the `USE KEY` statement shown gives the key.
    pub tag: Option<String>,
    /// Oracle's crypto user, who must be able to use the key (default: the logged-in user).
    pub oracle_user: Option<String>,
    /// The database the key is meant for (recorded in the audit entry).
    pub database: Option<String>,
}

/// A key generated, read back and checked.
#[derive(Clone, Debug, Serialize)]
pub struct GeneratedKey {
    /// `ORACLE.TDE.HSM.MK.06<32 hex>`.
    pub label: String,
    /// The 34 hex digits `USE KEY` takes.
    pub use_key_id: String,
    /// CKA_ID as read back (32 hex digits).
    pub cka_id: String,
    pub token: String,
    /// Who generated it (and owns it, on CloudHSM).
    pub owner: String,
    /// The key as the token reports it, with its health findings (none when healthy).
    pub row: InventoryRow,
    /// `cloudhsm-cli key share …` in single-command mode, logged in as the key's owner (its
    /// password read without echo), when the owner is not Oracle's crypto user.
    pub share_command: Option<String>,
    /// The same in interactive mode: start the CLI, log in as the owner, share, quit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub share_interactive: Vec<String>,
    /// The statement that makes it the database's master key (password hidden).
    pub use_key_statement: String,
    /// The tag given for its USE KEY, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The `cloudhsm-cli` command with which the key's owner shares it with Oracle's crypto user,
/// as one shell line that runs as printed (single-command mode: the owner's password read
/// without echo, the login in that command's environment only).
pub fn share_command(label: &str, owner: &str, oracle_user: &str) -> String {
    use crate::hsm::cloudhsm_cli as cli;
    cli::single_command(
        Some(owner),
        cli::Role::CryptoUser,
        &cli::key_share(label, oracle_user),
    )
}

/// The same in interactive mode.
pub fn share_interactive(label: &str, owner: &str, oracle_user: &str) -> Vec<String> {
    use crate::hsm::cloudhsm_cli as cli;
    cli::interactive(
        Some(owner),
        cli::Role::CryptoUser,
        &cli::key_share(label, oracle_user),
    )
}

/// Generates a TDE master key on the open, logged-in token (`key.generate`, audited before
/// and after). A label or CKA_ID already on the token is refused before anything is made; a
/// key whose read-back attributes break a health rule is reported as an error (it stays on
/// the token: tdekey never deletes a key).
pub fn generate_key(
    a: &mut Auditor,
    hsm: &Hsm,
    req: &KeyRequest,
) -> Result<GeneratedKey, RotationError> {
    if !hsm.logged_in() {
        return Err(RotationError::Invalid(
            "Log in as a crypto user first: keys are generated in a logged-in session.".into(),
        ));
    }
    if let Some(found) = super::keygen_resume::interrupted_key(a, hsm, req)? {
        return Ok(found);
    }
    let id = hsm.random_master_key_id()?;
    crate::faults::point(crate::faults::AFTER_RANDOM);
    generate(a, hsm, req, id, true)
}

/// [`generate_key`] with an id the caller drew (a rotation run, which records the id in its
/// own state first): refused when its label or CKA_ID is on the token already, as a collision
/// of the HSM's random ids would be.
pub fn generate_key_with_id(
    a: &mut Auditor,
    hsm: &Hsm,
    req: &KeyRequest,
    id: MasterKeyId,
) -> Result<GeneratedKey, RotationError> {
    generate(a, hsm, req, id, false)
}

/// Generates the key. `standalone` (a `key generate`, not a rotation run): the `started` entry
/// names this process, so that a later `key generate` can tell a run killed after
/// `C_GenerateKey` from one still running (see `keygen_resume`).
fn generate(
    a: &mut Auditor,
    hsm: &Hsm,
    req: &KeyRequest,
    id: MasterKeyId,
    standalone: bool,
) -> Result<GeneratedKey, RotationError> {
    let owner = hsm.user().unwrap_or("").to_owned();
    if !hsm.logged_in() {
        return Err(RotationError::Invalid(
            "Log in as a crypto user first: keys are generated in a logged-in session.".into(),
        ));
    }
    let token = hsm.token().map(|t| t.label.clone()).unwrap_or_default();
    let label = id.hsm_label();
    let taken_label = hsm.count_label(&label)?;
    let taken_id = hsm.count_id(&id.0)?;
    if taken_label > 0 || taken_id > 0 {
        return Err(RotationError::Invalid(format!(
            "The token {token} already holds {} (the HSM's random generator gave an id in use): nothing was generated. Run it again to draw another id, and check the token's random generator.",
            if taken_label > 0 {
                format!("an object labelled {label}")
            } else {
                format!("an object with CKA_ID {}", id.raw_hex())
            }
        )));
    }
    let oracle_user = req
        .oracle_user
        .clone()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| owner.clone());
    let entry = Entry::new(Action::KeyGenerate, &label)
        .user(Some(&owner))
        .details(json!({
            "token": token,
            "template": "AES-256, token, private, sensitive, not extractable, encrypt and decrypt, CKA_ID = the master key id",
            "id_from": "C_GenerateRandom",
            "database": req.database,
            "oracle_user": oracle_user,
        }));
    let entry = if standalone {
        let mut e = entry;
        e.details["standalone"] = true.into();
        e.details["process"] = crate::migration::lease_owner().into();
        e
    } else {
        entry
    };
    // On a shared store the run holds its label's lock until its outcome is written: a later
    // `key generate` on another host then knows from the lock whether this one still runs.
    let _alive = if standalone {
        crate::store::LeaseKeeper::lock(a.store(), crate::store::LeaseKey::KeyGenerate(&label))?
    } else {
        None
    };
    crate::faults::point(crate::faults::BEFORE_GENERATE);
    let object = a
        .act(entry, |step| {
            crate::faults::point(crate::faults::GENERATE_STARTED);
            let o = hsm.generate_tde_master_key(&id)?;
            crate::faults::point(crate::faults::AFTER_GENERATE);
            step.note("handle", o.handle);
            step.note("cka_id", o.id_hex.as_str());
            Ok::<_, HsmError>(o)
        })?
        .into_result::<RotationError>(&format!("The key {label} was generated"))?;
    read_back(object, &id, &label, token, owner, &oracle_user, req)
}

/// The key as read back, checked with the health rules, with what to run next.
pub(super) fn read_back(
    object: crate::model::ObjectInfo,
    id: &MasterKeyId,
    label: &str,
    token: String,
    owner: String,
    oracle_user: &str,
    req: &KeyRequest,
) -> Result<GeneratedKey, RotationError> {
    let row = inventory::analyze(vec![object])
        .pop()
        .ok_or_else(|| RotationError::Invalid("The key read back is missing.".into()))?;
    let mut problems: Vec<String> = row.health.iter().map(|h| h.reason.clone()).collect();
    if row.object.label != label {
        problems.push(format!(
            "The token reports the label {:?}, not {label}.",
            row.object.label
        ));
    }
    if !row.object.id_hex.eq_ignore_ascii_case(&id.raw_hex()) {
        problems.push(format!(
            "The token reports CKA_ID {:?}, not {}.",
            row.object.id_hex,
            id.raw_hex()
        ));
    }
    if !problems.is_empty() {
        return Err(RotationError::Invalid(format!(
            "The key {label} was generated on {token}, but read back it breaks the master-key rules: {} Do not use it as a master key; it stays on the token (tdekey never deletes a key). Check the token's key template support.",
            problems.join(" ")
        )));
    }
    let use_key_statement = use_key_display(id, req.tag.as_deref(), oracle_user)?;
    Ok(GeneratedKey {
        use_key_id: id.use_key_id(),
        cka_id: row.object.id_hex.clone(),
        token,
        share_command: (oracle_user != owner).then(|| share_command(label, &owner, oracle_user)),
        share_interactive: if oracle_user != owner {
            share_interactive(label, &owner, oracle_user)
        } else {
            Vec::new()
        },
        owner,
        label: label.to_owned(),
        row,
        use_key_statement,
        tag: req.tag.clone(),
    })
}

/// The USE KEY statement for people, its password hidden.
pub(super) fn use_key_display(
    id: &MasterKeyId,
    tag: Option<&str>,
    oracle_user: &str,
) -> Result<String, RotationError> {
    let request = Request::UseKey {
        id: *id,
        tag: tag.map(str::to_owned),
        credential: Credential::Hsm {
            user: if oracle_user.is_empty() {
                "<crypto user>".into()
            } else {
                oracle_user.to_owned()
            },
            password: Secret::from("password"),
        },
    };
    Ok(request
        .statement()
        .map_err(crate::oracle::OracleError::from)?
        .display)
}
