//! Step 11 (optional): HSM auto-login, and the external store when chosen.
//!
//! HSM auto-login is the HSM credential kept as the secret `HSM_PASSWORD` in the *software*
//! keystore under `WALLET_ROOT/tde`, made auto-login, with TDE_CONFIGURATION HSM|FILE: after a
//! restart the auto-login file keystore opens, and it opens the HSM keystore. This is the
//! sequence of AWS's procedure for Oracle 19c and of the HSM vendors' guides (Utimaco, Thales,
//! Entrust): ADD SECRET … IDENTIFIED BY "<wallet pw>" WITH BACKUP, close the password keystore,
//! CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE '<WALLET_ROOT>/tde', restart.
//!
//! The external store (`WALLET_ROOT/tde_seps`) is something else: it lets statements say
//! `IDENTIFIED BY EXTERNAL STORE` instead of the HSM password, and opens nothing by itself.
//! It is set up here only when chosen, and named as what it is.

use super::keystore::after_restart;
use super::{
    Check, Context, MigrationError, Need, StepResult, Wizard, cdb, refusal, restart_commands,
    row_of, wallet_rows,
};
use crate::audit::Auditor;
use crate::migration::StepId;
use crate::secret::Secret;
use crate::tde::layout;
use crate::tde::request::{Request, RequestKind};
use crate::tde::sql::Credential;
use crate::tde::views::{WalletStatus, WalletType, WrlType};

/// The backup tag of the keystore backup ADD SECRET makes (WITH BACKUP).
const SECRET_BACKUP_TAG: &str = "tdekey_hsm_password";

/// The statements that set up HSM auto-login, in order (a restart follows them):
/// the HSM_PASSWORD secret added to the software keystore in `tde_dir` WITH BACKUP, the
/// password keystore closed with its password, and an auto-login keystore made from it.
pub(crate) fn auto_login_requests(
    hsm_user: &str,
    hsm_password: &Secret,
    wallet_password: &Secret,
    tde_dir: &str,
    all_containers: bool,
) -> Vec<Request> {
    vec![
        Request::AddHsmSecret {
            hsm_user: hsm_user.to_owned(),
            hsm_password: hsm_password.clone(),
            wallet_password: wallet_password.clone(),
            // FORCE KEYSTORE: the password keystore is opened for the statement if a restart
            // since step 8 closed it.
            force: true,
            backup_tag: Some(SECRET_BACKUP_TAG.to_owned()),
        },
        Request::CloseKeystore {
            credential: Some(Credential::Password(wallet_password.clone())),
            all_containers,
        },
        Request::CreateAutoLogin {
            dir: tde_dir.to_owned(),
            password: wallet_password.clone(),
            local: false,
        },
    ]
}

/// Whether this step already sent a statement of `kind` that Oracle accepted.
fn sent_ok(w: &Wizard, kind: RequestKind) -> bool {
    w.state.step(StepId::AutoLogin).is_some_and(|s| {
        s.sent.iter().any(|x| {
            x.title == kind.title()
                && x.answer
                    .as_deref()
                    .is_some_and(|a| a.to_ascii_lowercase().contains("altered"))
        })
    })
}

pub(super) fn auto_login(
    w: &mut Wizard,
    a: &mut Auditor,
    ctx: &mut Context<'_>,
) -> Result<StepResult, MigrationError> {
    if !ctx.inputs.auto_login && !ctx.inputs.external_store {
        return Ok(StepResult::skipped(
            "Optional and not chosen: without auto-login the HSM keystore is opened after each restart with IDENTIFIED BY \"<user>:<password>\". Recommended for RAC and Data Guard.",
        ));
    }
    let Some(root) = w.state.wallet_root.clone() else {
        return Ok(StepResult::failed("WALLET_ROOT is not known (step 5)."));
    };
    let tde = layout::under_root(&root, layout::KEYSTORE_DIR);
    let seps = layout::under_root(&root, layout::SEPS_DIR);
    let hsm_user = ctx.hsm.user().unwrap_or("").to_owned();

    // The secret, the close and the auto-login keystore, each sent once.
    let todo_auto = ctx.inputs.auto_login
        && !(sent_ok(w, RequestKind::AddHsmSecret)
            && sent_ok(w, RequestKind::CloseKeystore)
            && sent_ok(w, RequestKind::CreateAutoLogin));
    let todo_seps = ctx.inputs.external_store && !sent_ok(w, RequestKind::AddExternalStoreSecret);
    if todo_auto || todo_seps {
        let mut needs = Vec::new();
        if ctx.inputs.hsm_password.is_none() {
            needs.push(Need::HsmPassword);
        }
        if todo_auto && ctx.inputs.wallet_password.is_none() {
            needs.push(Need::WalletPassword);
        }
        if !needs.is_empty() {
            return Ok(StepResult::needs(
                if todo_auto {
                    "The HSM password is stored as the secret HSM_PASSWORD in the software keystore, which needs its password: give both once more."
                } else {
                    "The HSM password is stored in the external store: give it once more."
                },
                needs,
            ));
        }
    }
    if todo_auto {
        let (Some(hsm_pw), Some(wallet_pw)) = (
            ctx.inputs.hsm_password.clone(),
            ctx.inputs.wallet_password.clone(),
        ) else {
            return Ok(StepResult::failed("The passwords were not given."));
        };
        for request in auto_login_requests(&hsm_user, &hsm_pw, &wallet_pw, &tde, cdb(w)) {
            if sent_ok(w, request.kind()) {
                continue;
            }
            let ran = w.send(a, ctx, StepId::AutoLogin, &request)?;
            if let Some(r) = refusal(&ran.answer.reply) {
                ctx.inputs.hsm_password = None;
                return Ok(StepResult::failed(format!(
                    "{r} (at \"{}\"; the statements before it ran and are not sent again)",
                    request.title()
                )));
            }
        }
    }
    if todo_seps {
        let Some(hsm_pw) = ctx.inputs.hsm_password.clone() else {
            return Ok(StepResult::failed("The HSM password was not given."));
        };
        let ran = w.send(
            a,
            ctx,
            StepId::AutoLogin,
            &Request::AddExternalStoreSecret {
                hsm_user: hsm_user.clone(),
                hsm_password: hsm_pw,
                seps_dir: seps.clone(),
                local: false,
            },
        )?;
        if let Some(r) = refusal(&ran.answer.reply) {
            ctx.inputs.hsm_password = None;
            return Ok(StepResult::failed(r));
        }
    }
    ctx.inputs.hsm_password = None;
    if !ctx.inputs.auto_login {
        return Ok(StepResult::done(vec![Check::new(
            "The HSM password is in the external store",
            true,
            format!(
                "{seps}: statements may now say IDENTIFIED BY EXTERNAL STORE. This is not auto-login: the HSM keystore is still opened by hand after a restart."
            ),
        )]));
    }
    if !ctx.inputs.confirmed {
        let mut todo = vec![format!(
            "The HSM_PASSWORD secret is in the software keystore in {tde}, now an auto-login keystore (cwallet.sso). Restart the database, then confirm: the auto-login file keystore should open, and open the HSM keystore."
        )];
        todo.extend(restart_commands(w));
        return Ok(StepResult::attention(
            "Restart the database to check that the HSM keystore opens by itself.",
            todo,
            vec![Need::Confirmation],
        ));
    }
    if let Some(r) = after_restart(w, a, ctx, StepId::AutoLogin)? {
        return Ok(r);
    }
    let rows = wallet_rows(w, a, ctx)?;
    let hsm = row_of(&rows, WrlType::Hsm);
    let file = row_of(&rows, WrlType::File);
    let mut checks = vec![
        Check::new(
            "After the restart the HSM keystore is OPEN without a password",
            hsm.is_some_and(|r| r.status == WalletStatus::Open),
            hsm.map_or("no HSM keystore".into(), |r| r.status.as_str().to_owned()),
        ),
        Check::new(
            "The file keystore opened as an auto-login keystore",
            file.is_some_and(|r| {
                matches!(
                    r.wallet_type,
                    WalletType::Autologin | WalletType::LocalAutologin
                )
            }),
            file.map_or("no FILE row".into(), |r| {
                format!("{} {}", r.status.as_str(), r.wallet_type.as_str())
            }),
        ),
    ];
    if ctx.inputs.external_store {
        checks.push(Check::new(
            "The HSM password is in the external store",
            true,
            format!("{seps} (for IDENTIFIED BY EXTERNAL STORE)"),
        ));
    }
    Ok(StepResult::from_checks(checks))
}
