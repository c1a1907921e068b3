//! What a step may send, with its secrets hidden: shown before the person runs it. The
//! statements are built by the same `Request`s the steps send, with placeholders for the
//! secrets (which `Statement::display` hides anyway).

use super::{BackStep, MigrationState, StepId};
use crate::model::{DatabaseProfile, Multitenant};
use crate::secret::Secret;
use crate::tde::layout;
use crate::tde::request::Request;
use crate::tde::sql::Credential;

fn hidden() -> Secret {
    Secret::from("placeholder")
}

fn render(requests: Vec<Request>) -> Vec<String> {
    requests
        .iter()
        .filter_map(|r| r.statement().ok().map(|s| s.display))
        .collect()
}

fn set(value: &str, db: &DatabaseProfile) -> Request {
    Request::SetTdeConfiguration {
        value: value.into(),
        all_instances: db.rac,
    }
}

fn open_file(db: &DatabaseProfile) -> Request {
    Request::OpenKeystore {
        credential: Credential::Password(hidden()),
        all_containers: db.multitenant != Multitenant::NonCdb,
    }
}

fn reverse(user: &str) -> Request {
    Request::ReverseMigrate {
        wallet_password: hidden(),
        hsm_user: Some(user.into()),
        hsm_password: hidden(),
    }
}

/// The statements a step of the plan may send (none for steps that only read or check).
pub fn statements(
    state: Option<&MigrationState>,
    db: &DatabaseProfile,
    step: StepId,
    tag: Option<&str>,
) -> Vec<String> {
    let user = state
        .and_then(|s| s.hsm_user.clone())
        .unwrap_or_else(|| "<crypto user>".into());
    render(match step {
        // Path B only: on path A the step sends nothing.
        StepId::FromOtherHsm if state.is_some_and(|s| s.path == Some(super::Path::OtherHsm)) => {
            vec![
                set("FILE|HSM", db),
                reverse("<other HSM user>"),
                set("FILE", db),
                open_file(db),
            ]
        }
        StepId::HsmFile => vec![set("HSM|FILE", db)],
        StepId::FileOpen => vec![open_file(db)],
        StepId::Migrate => vec![Request::Migrate {
            hsm_user: user,
            hsm_password: hidden(),
            wallet_password: hidden(),
            backup: Some(Some(
                tag.filter(|t| !t.trim().is_empty())
                    .unwrap_or("tdekey_pre_hsm")
                    .to_owned(),
            )),
        }],
        StepId::AutoLogin => {
            let root = state.and_then(|s| s.wallet_root.as_deref());
            let under = |sub: &str| {
                root.map_or(format!("<WALLET_ROOT>/{sub}"), |r| {
                    layout::under_root(r, sub)
                })
            };
            let mut v = crate::migration::steps::auto_login_requests(
                &user,
                &hidden(),
                &hidden(),
                &under(layout::KEYSTORE_DIR),
                db.multitenant != crate::model::Multitenant::NonCdb,
            );
            v.push(Request::Restart);
            v.push(Request::AddExternalStoreSecret {
                hsm_user: user,
                hsm_password: hidden(),
                seps_dir: under(layout::SEPS_DIR),
                local: false,
            });
            v
        }
        _ => Vec::new(),
    })
}

/// The statements a step of the rollback may send.
pub fn back_statements(
    state: &MigrationState,
    db: &DatabaseProfile,
    step: BackStep,
) -> Vec<String> {
    let user = state
        .hsm_user
        .clone()
        .unwrap_or_else(|| "<crypto user>".into());
    let before = match state.configuration_before.as_deref() {
        Some(c) if !c.is_empty() && !c.contains("HSM") => c.to_owned(),
        _ => "FILE".to_owned(),
    };
    render(match step {
        BackStep::FileFirst => vec![set("FILE|HSM", db)],
        BackStep::Reverse => vec![reverse(&user)],
        BackStep::FileOnly => vec![set(&before, db), open_file(db)],
        BackStep::Wallet | BackStep::Closed => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectorKind, DbAuth};

    #[test]
    fn previews_hide_every_secret_and_follow_the_profile() {
        let db = DatabaseProfile {
            id: None,
            name: "FIN".into(),
            connector: ConnectorKind::Manual,
            oracle_home: None,
            oracle_sid: None,
            connect_string: None,
            auth: DbAuth::Os,
            connect_as: crate::model::ConnectAs::Sysdba,
            wallet_root: None,
            multitenant: Multitenant::CdbUnited,
            rac: true,
            rac_nodes: Vec::new(),
            standbys: Vec::new(),
            hsm_profile: None,
        };
        let mut m = MigrationState::new("FIN", 1);
        m.hsm_user = Some("cu_oracle".into());
        let migrate = statements(Some(&m), &db, StepId::Migrate, Some("pre_hsm"));
        // In a CDB too: MIGRATE has no CONTAINER clause.
        assert_eq!(
            migrate,
            [
                r#"ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY "<hidden>" MIGRATE USING "<hidden>" WITH BACKUP USING 'pre_hsm';"#
            ]
        );
        // Auto-login: the secret in the software keystore, the close, the auto-login keystore,
        // the restart, then the external store (its own choice); never tde_seps for auto-login.
        m.wallet_root = Some("/u01/wr".into());
        let auto = statements(Some(&m), &db, StepId::AutoLogin, None);
        assert_eq!(
            auto,
            [
                r#"ADMINISTER KEY MANAGEMENT ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD' FORCE KEYSTORE IDENTIFIED BY "<hidden>" WITH BACKUP USING 'tdekey_hsm_password';"#,
                r#"ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY "<hidden>" CONTAINER = ALL;"#,
                r#"ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE '/u01/wr/tde' IDENTIFIED BY "<hidden>";"#,
                "SHUTDOWN IMMEDIATE\nSTARTUP",
                "ADMINISTER KEY MANAGEMENT ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '/u01/wr/tde_seps';",
            ]
        );
        let hsm_file = statements(Some(&m), &db, StepId::HsmFile, None);
        assert!(hsm_file[0].contains("HSM|FILE") && hsm_file[0].contains("SID='*'"));
        assert!(statements(None, &db, StepId::Verify, None).is_empty());
        assert!(
            statements(Some(&m), &db, StepId::FromOtherHsm, None).is_empty(),
            "path A"
        );
        m.path = Some(crate::migration::Path::OtherHsm);
        assert_eq!(
            statements(Some(&m), &db, StepId::FromOtherHsm, None).len(),
            4
        );
        let back = back_statements(&m, &db, BackStep::Reverse);
        assert!(
            back[0].contains("REVERSE MIGRATE USING \"<hidden>\""),
            "{back:?}"
        );
        for s in migrate.iter().chain(&back) {
            assert!(!s.contains("placeholder"));
        }
    }
}
