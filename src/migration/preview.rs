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

fn open_hsm(user: &str, db: &DatabaseProfile) -> Request {
    Request::OpenKeystore {
        credential: Credential::Hsm {
            user: user.into(),
            password: hidden(),
        },
        all_containers: db.multitenant != Multitenant::NonCdb,
    }
}

/// The restart a Rehearsal's simulated database gets when the person confirms one (a real
/// database is restarted by the person, never by tdekey).
fn restart(db: &DatabaseProfile) -> Vec<Request> {
    if db.connector == crate::model::ConnectorKind::Rehearsal {
        vec![Request::Restart]
    } else {
        Vec::new()
    }
}

/// The reverse migration with what it may send around it: the keystores opened (so that
/// V$ENCRYPTION_KEYS shows every key), before and after.
fn reverse_all(user: &str, db: &DatabaseProfile) -> Vec<Request> {
    vec![open_file(db), open_hsm(user, db), reverse(user)]
}

fn reverse(user: &str) -> Request {
    Request::ReverseMigrate {
        wallet_password: hidden(),
        hsm_user: Some(user.into()),
        hsm_password: hidden(),
    }
}

/// Why a step of the plan does not apply and is skipped without a click, when that is known
/// before it runs: path A's step 2 (the master key is not in another HSM), step 3 with a module
/// other than CloudHSM's. Such a step sends nothing.
pub fn skipped_alone(
    state: &MigrationState,
    step: StepId,
    module: &std::path::Path,
) -> Option<&'static str> {
    match step {
        StepId::FromOtherHsm
            if state.path.is_some() && state.path != Some(super::Path::OtherHsm) =>
        {
            Some("path A: the master key is not in another HSM")
        }
        StepId::HsmClient
            if !module
                .to_string_lossy()
                .to_ascii_lowercase()
                .contains("cloudhsm") =>
        {
            Some("the HSM is not AWS CloudHSM: there is no CloudHSM client to check")
        }
        _ => None,
    }
}

/// Whether a step of the rollback settles by itself, sending and changing nothing: R1 and R2
/// when the migrate statement never ran (nothing to reverse), R1 once the reverse migration
/// is done, R4 when tdekey made no backup to compare with.
pub fn back_settles_alone(state: &MigrationState, step: BackStep) -> bool {
    let moved = state.migrate_may_have_run();
    let reversed = state.rollback.as_ref().is_some_and(|r| r.reversed);
    match step {
        BackStep::FileFirst | BackStep::Reverse if !moved => true,
        BackStep::FileFirst => reversed,
        BackStep::Wallet => state.backup.is_none(),
        _ => false,
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
            let mut v = vec![set("FILE|HSM", db)];
            v.extend(restart(db));
            v.extend(reverse_all("<other HSM user>", db));
            v.push(set("FILE", db));
            v.extend(restart(db));
            v.push(open_file(db));
            v
        }
        StepId::HsmFile => {
            let mut v = vec![set("HSM|FILE", db)];
            v.extend(restart(db));
            v
        }
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
        StepId::AutoLogin => auto_login_requests(state, db, &user, true, true),
        _ => Vec::new(),
    })
}

fn auto_login_requests(
    state: Option<&MigrationState>,
    db: &DatabaseProfile,
    user: &str,
    auto_login: bool,
    external_store: bool,
) -> Vec<Request> {
    let root = state.and_then(|s| s.wallet_root.as_deref());
    let under = |sub: &str| {
        root.map_or(format!("<WALLET_ROOT>/{sub}"), |r| {
            layout::under_root(r, sub)
        })
    };
    let mut v = Vec::new();
    if auto_login {
        v = crate::migration::steps::auto_login_requests(
            user,
            &hidden(),
            &hidden(),
            &under(layout::KEYSTORE_DIR),
            db.multitenant != Multitenant::NonCdb,
        );
        v.extend(restart(db));
    }
    if external_store {
        v.push(Request::AddExternalStoreSecret {
            hsm_user: user.to_owned(),
            hsm_password: hidden(),
            seps_dir: under(layout::SEPS_DIR),
            local: false,
        });
    }
    v
}

/// What step 11 sends for the choices ticked: nothing when neither is (the step is skipped),
/// the external store's secret alone, the auto-login statements and the restart, or both.
pub fn auto_login_statements(
    state: Option<&MigrationState>,
    db: &DatabaseProfile,
    auto_login: bool,
    external_store: bool,
) -> Vec<String> {
    let user = state
        .and_then(|s| s.hsm_user.clone())
        .unwrap_or_else(|| "<crypto user>".into());
    render(auto_login_requests(
        state,
        db,
        &user,
        auto_login,
        external_store,
    ))
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
        BackStep::FileFirst => {
            let mut v = vec![set("FILE|HSM", db)];
            v.extend(restart(db));
            v
        }
        BackStep::Reverse => reverse_all(&user, db),
        BackStep::FileOnly => {
            let mut v = vec![set(&before, db)];
            v.extend(restart(db));
            v.push(open_file(db));
            v
        }
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
        // FILE|HSM, the two keystores opened, the reverse migration, FILE, the file keystore.
        assert_eq!(
            statements(Some(&m), &db, StepId::FromOtherHsm, None).len(),
            6
        );
        // The reverse migration lists the keystores it opens around it, not only itself.
        let back = back_statements(&m, &db, BackStep::Reverse);
        assert_eq!(back.len(), 3, "{back:?}");
        assert!(back[0].contains("SET KEYSTORE OPEN"), "{back:?}");
        assert!(back[1].contains("SET KEYSTORE OPEN"), "{back:?}");
        assert!(
            back[2].contains("REVERSE MIGRATE USING \"<hidden>\""),
            "{back:?}"
        );
        // A Rehearsal's restart, which tdekey makes when the person confirms, is listed too.
        let manual = back_statements(&m, &db, BackStep::FileOnly);
        let mut rehearsal_db = db.clone();
        rehearsal_db.connector = ConnectorKind::Rehearsal;
        let rehearsal = back_statements(&m, &rehearsal_db, BackStep::FileOnly);
        assert_eq!(rehearsal.len(), manual.len() + 1);
        assert!(rehearsal.contains(&"SHUTDOWN IMMEDIATE\nSTARTUP".to_owned()));
        // Only what is nothing but a skip goes on without a click.
        let soft = std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so");
        let cloud = std::path::Path::new("/opt/cloudhsm/lib/libcloudhsm_pkcs11.so");
        assert!(
            skipped_alone(&m, StepId::FromOtherHsm, soft).is_none(),
            "path B"
        );
        m.path = Some(crate::migration::Path::FileToHsm);
        assert!(skipped_alone(&m, StepId::FromOtherHsm, soft).is_some());
        assert!(skipped_alone(&m, StepId::HsmClient, soft).is_some());
        assert!(skipped_alone(&m, StepId::HsmClient, cloud).is_none());
        assert!(skipped_alone(&m, StepId::HsmFile, soft).is_none());
        assert!(
            back_settles_alone(&m, BackStep::FileFirst),
            "nothing migrated"
        );
        assert!(!back_settles_alone(&m, BackStep::FileOnly));
        // Step 11 lists what is ticked, and nothing when nothing is.
        assert!(auto_login_statements(Some(&m), &db, false, false).is_empty());
        assert_eq!(auto_login_statements(Some(&m), &db, false, true).len(), 1);
        assert_eq!(auto_login_statements(Some(&m), &db, true, false).len(), 3);
        for s in migrate.iter().chain(&back) {
            assert!(!s.contains("placeholder"));
        }
    }
}
