//! Step 1: the database and the HSM (steps 3 and 4 are in `host_steps.rs`).

use super::{
    Check, Context, MigrationError, StepResult, Wizard, key_rows, keystore_configuration,
    wallet_rows,
};
use crate::audit::Auditor;
use crate::migration::StepId;
use crate::migration::state::{Path, StepStatus};
use crate::tde::labels::parse_key_id;
use crate::tde::views::{KeystoreType, WalletStatus, WrlType};

pub(super) fn choose(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    let Some(token) = ctx.hsm.token().cloned().filter(|_| ctx.hsm.logged_in()) else {
        return Ok(StepResult::attention(
            "Log in to the HSM first, as the crypto user Oracle will use.",
            Vec::new(),
            Vec::new(),
        ));
    };
    let user = ctx.hsm.user().unwrap_or("").to_owned();
    let mut checks = vec![Check::new(
        "Logged in to the HSM",
        true,
        format!("as {user} on token {:?}", token.label),
    )];
    let aes = ctx.hsm.offers_aes_key_gen()?;
    checks.push(Check::new(
        "The token offers CKM_AES_KEY_GEN",
        aes,
        if aes {
            "Oracle can generate its AES-256 master key there"
        } else {
            "without it Oracle cannot make a master key on this token"
        },
    ));
    // The list is not proof (tpm2-pkcs11 lists the mechanism and refuses the call): generate
    // a session key, as Oracle will generate its master key, before the database changes.
    let probe = crate::session::probe(a, ctx.hsm)?;
    let proved = probe.aes_ok();
    checks.extend(
        probe
            .checks()
            .into_iter()
            .map(|(what, ok, detail)| Check::new(what, ok, detail)),
    );
    if !aes || !proved || probe.hmac.is_some() {
        return Ok(StepResult::from_checks(checks).note(
            "Nothing was changed on the database. Oracle makes the master key with C_GenerateKey (CKM_AES_KEY_GEN) on this token, and tdekey signs its audit checkpoints there with CKM_SHA256_HMAC: use a token and crypto user that can do both, then run step 1 again.",
        ));
    }
    w.state.token = Some(token.label.clone());
    w.state.hsm_user = Some(user);
    w.state.hsm_module = Some(ctx.hsm.module_path().display().to_string());

    let refuse = |checks: &mut Vec<Check>, why: String| {
        checks.push(Check::new(
            "The keystore is the root's (a non-CDB, or a CDB in united mode)",
            false,
            format!(
                "{why}: each isolated PDB has its own keystore, migrated from inside that PDB with its own passwords. This wizard migrates a non-CDB or a united CDB (CONTAINER = ALL); it does not drive isolated PDB keystores. Migrate each isolated PDB by hand (the console shows the statements), or unite them first (ADMINISTER KEY MANAGEMENT UNITE KEYSTORE)."
            ),
        ));
    };
    if w.db.multitenant == crate::model::Multitenant::CdbIsolated {
        refuse(
            &mut checks,
            "The database profile says isolated PDB keystores".into(),
        );
        return Ok(StepResult::from_checks(checks));
    }
    // Before anything else is read from the database or changed: what this connection may run.
    let session = super::privileges::session_checks(w, a, ctx)?;
    let lacking = session.iter().any(|c| !c.ok);
    checks.extend(session);
    if lacking {
        return Ok(StepResult::from_checks(checks).note(
            "Change the profile's \"Connect as\" to SYSDBA, or grant what is missing, then run step 1 again.",
        ));
    }
    let rows = wallet_rows(w, a, ctx)?;
    let isolated: Vec<String> = rows
        .iter()
        .filter(|r| r.keystore_mode == crate::tde::views::KeystoreMode::Isolated)
        .map(|r| r.con_id.to_string())
        .collect();
    if !isolated.is_empty() {
        refuse(
            &mut checks,
            format!(
                "V$ENCRYPTION_WALLET shows isolated keystores in container(s) {}",
                isolated.join(", ")
            ),
        );
        return Ok(StepResult::from_checks(checks));
    }
    let configuration = keystore_configuration(w, a, ctx)?;
    let keys = key_rows(w, a, ctx)?;
    // What the database knows now: the migration's key is the one it did not know, found by
    // its id, whatever else other databases put on a shared HSM meanwhile.
    w.state.keys_before = keys.iter().map(|k| k.key_id.clone()).collect();
    let current = keys
        .iter()
        .filter(|k| k.con_id <= 1)
        .max_by_key(|k| k.activated_ms);
    let file = super::row_of(&rows, WrlType::File);
    let (path, why) = match current {
        Some(k) if k.keystore_type == KeystoreType::Hsm => {
            let label = parse_key_id(&k.key_id)
                .map(|(_, id)| id.hsm_label())
                .unwrap_or_default();
            if ctx.hsm.count_label(&label)? > 0 {
                (
                    Path::AlreadyOnHsm,
                    format!("The current master key is already on this HSM ({label})."),
                )
            } else {
                (
                    Path::OtherHsm,
                    format!(
                        "The current master key is in an HSM, but not on this token ({label} is not here): the database uses another HSM."
                    ),
                )
            }
        }
        Some(_) => (
            Path::FileToHsm,
            "The current master key is in the software keystore (file wallet): it will be migrated to the HSM.".to_owned(),
        ),
        None => match file {
            Some(f) if f.status != WalletStatus::NotAvailable => (
                Path::FileToHsm,
                format!(
                    "TDE_CONFIGURATION is {}, and the file keystore is {} (its keys show once it is open): it will be migrated to the HSM.",
                    if configuration.is_empty() { "not set" } else { &configuration },
                    f.status.as_str()
                ),
            ),
            _ => {
                checks.push(Check::new(
                    "A software keystore with a master key",
                    false,
                    "V$ENCRYPTION_WALLET shows no file keystore: there is nothing to migrate. Check WALLET_ROOT and TDE_CONFIGURATION.",
                ));
                return Ok(StepResult::from_checks(checks));
            }
        },
    };
    checks.push(Check::new("Where the master key is", true, why));
    if path == Path::OtherHsm {
        super::reverse::note_old_hsm_keys(w, &keys, ctx.hsm)?;
    }
    w.state.path = Some(path);
    w.state.configuration_before.get_or_insert(configuration);
    match path {
        Path::FileToHsm => Ok(StepResult::from_checks(checks)),
        Path::AlreadyOnHsm => {
            for s in &mut w.state.steps {
                if !matches!(s.step, StepId::Choose | StepId::Done) {
                    s.status = StepStatus::Skipped;
                    s.reason = Some("The master key is already on this HSM.".into());
                }
            }
            Ok(StepResult::from_checks(checks))
        }
        Path::OtherHsm => Ok(StepResult::from_checks(checks).note(
            "Path B: step 2 brings the master key back from the other HSM to the file wallet (with the old vendor's library still in place), step 4 has its library replaced by this HSM's, and the migration goes on as from a file wallet.",
        )),
    }
}
