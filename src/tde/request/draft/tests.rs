use super::*;
use crate::model::{ConnectorKind, DbAuth, Multitenant};
use crate::tde::request::Needs;

fn db(wallet_root: Option<&str>, rac: bool) -> DatabaseProfile {
    DatabaseProfile {
        id: None,
        name: "FIN".into(),
        connector: ConnectorKind::Manual,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: crate::model::ConnectAs::Sysdba,
        wallet_root: wallet_root.map(str::to_owned),
        multitenant: Multitenant::CdbUnited,
        rac,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    }
}

const KEY: &str = "0615A5142C9E2D3C2F18FD435814257DFD";

fn filled(kind: RequestKind) -> Draft {
    Draft {
        kind,
        hsm_user: " cu_oracle ".into(),
        hsm_password: Secret::from("Hsm-Pw-1"),
        wallet_password: Secret::from("Wallet-Pw-2"),
        tag: " q3 ".into(),
        key_id: format!(" {KEY} "),
        ..Draft::default()
    }
}

/// The statement a draft builds, as it is shown.
fn shown(d: &Draft, profile: &DatabaseProfile) -> String {
    d.build(profile)
        .unwrap_or_else(|e| panic!("{:?}: {e}", d.kind))
        .statement()
        .unwrap_or_else(|e| panic!("{:?}: {e}", d.kind))
        .display
}

#[test]
fn every_kind_builds_its_own_request_with_its_title() {
    let profile = db(Some("/u01/wr/"), false);
    for &kind in RequestKind::ALL {
        let r = filled(kind).build(&profile).unwrap();
        assert_eq!(r.kind(), kind);
        assert_eq!(r.title(), kind.title());
        r.statement().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
    assert_eq!(RequestKind::ALL.len(), 21);
    let titles: std::collections::HashSet<&str> =
        RequestKind::ALL.iter().map(|k| k.title()).collect();
    assert_eq!(titles.len(), RequestKind::ALL.len(), "titles are distinct");
}

#[test]
fn defaults_come_from_the_profile() {
    let profile = db(Some("/u01/wr/"), false);
    // HSM auto-login: the secret in the software keystore, WITH BACKUP.
    assert_eq!(
        shown(&filled(RequestKind::AddHsmSecret), &profile),
        "ADMINISTER KEY MANAGEMENT ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD' IDENTIFIED BY \"<hidden>\" WITH BACKUP USING 'q3';"
    );
    // The external store: its own request, in WALLET_ROOT/tde_seps.
    assert_eq!(
        shown(&filled(RequestKind::AddExternalStoreSecret), &profile),
        "ADMINISTER KEY MANAGEMENT ADD SECRET '<hidden>' FOR CLIENT 'HSM_PASSWORD' TO AUTO_LOGIN KEYSTORE '/u01/wr/tde_seps';"
    );
    assert_eq!(
        shown(
            &Draft {
                local: true,
                ..filled(RequestKind::CreateAutoLogin)
            },
            &profile
        ),
        "ADMINISTER KEY MANAGEMENT CREATE LOCAL AUTO_LOGIN KEYSTORE FROM KEYSTORE '/u01/wr/tde' IDENTIFIED BY \"<hidden>\";"
    );
    assert_eq!(
        shown(
            &Draft {
                dir: " /elsewhere ".into(),
                ..filled(RequestKind::CreateAutoLogin)
            },
            &profile
        ),
        "ADMINISTER KEY MANAGEMENT CREATE AUTO_LOGIN KEYSTORE FROM KEYSTORE '/elsewhere' IDENTIFIED BY \"<hidden>\";"
    );
    assert_eq!(
        shown(&filled(RequestKind::SetWalletRoot), &profile),
        "ALTER SYSTEM SET WALLET_ROOT='/u01/wr/' SCOPE=SPFILE;"
    );
    let rac = db(Some("/u01/wr"), true);
    assert_eq!(
        shown(&filled(RequestKind::SetTdeConfiguration), &rac),
        "ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=HSM|FILE\" SCOPE=BOTH SID='*';"
    );
    // No WALLET_ROOT anywhere: the sentence the console shows.
    let none = db(None, false);
    let e = filled(RequestKind::SetWalletRoot).build(&none).unwrap_err();
    assert_eq!(e, DraftError::NoWalletRoot);
    assert_eq!(e.to_string(), "Type the WALLET_ROOT directory.");
    // Without WALLET_ROOT the directory is empty, and the statement says so.
    match filled(RequestKind::AddExternalStoreSecret)
        .build(&none)
        .unwrap()
    {
        Request::AddExternalStoreSecret { seps_dir, .. } => assert_eq!(seps_dir, ""),
        other => panic!("{other:?}"),
    }
}

#[test]
fn credentials_backups_tags_and_key_ids() {
    let profile = db(Some("/u01/wr"), false);
    assert_eq!(
        shown(&filled(RequestKind::Migrate), &profile),
        "ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"<hidden>\" MIGRATE USING \"<hidden>\" WITH BACKUP USING 'q3';"
    );
    match filled(RequestKind::Migrate).build(&profile).unwrap() {
        Request::Migrate { hsm_user, .. } => assert_eq!(hsm_user, "cu_oracle", "trimmed"),
        other => panic!("{other:?}"),
    }
    let no_backup = Draft {
        with_backup: false,
        all_containers: true,
        credential: CredentialChoice::Wallet,
        ..filled(RequestKind::SetKey)
    };
    assert_eq!(
        shown(&no_backup, &profile),
        "ADMINISTER KEY MANAGEMENT SET KEY IDENTIFIED BY \"<hidden>\" CONTAINER = ALL;",
        "SET KEY never takes the tag as USING TAG"
    );
    let closed = Draft {
        credential: CredentialChoice::ExternalStore,
        ..filled(RequestKind::CloseKeystore)
    };
    // A bare CLOSE closes only an auto-login keystore: the console always says how.
    assert_eq!(
        shown(&closed, &profile),
        "ADMINISTER KEY MANAGEMENT SET KEYSTORE CLOSE IDENTIFIED BY EXTERNAL STORE;"
    );
    let opened = Draft {
        credential: CredentialChoice::ExternalStore,
        ..filled(RequestKind::OpenKeystore)
    };
    assert_eq!(
        shown(&opened, &profile),
        "ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY EXTERNAL STORE;"
    );
    assert_eq!(
        shown(&filled(RequestKind::UseKey), &profile),
        format!(
            "ADMINISTER KEY MANAGEMENT USE KEY '{KEY}' USING TAG 'q3' FORCE KEYSTORE IDENTIFIED BY \"<hidden>\";"
        )
    );
    assert_eq!(
        shown(&filled(RequestKind::Backup), &profile),
        "ADMINISTER KEY MANAGEMENT BACKUP KEYSTORE USING 'q3' IDENTIFIED BY \"<hidden>\";"
    );
    let bad = Draft {
        key_id: "06XYZ".into(),
        ..filled(RequestKind::UseKey)
    };
    let e = bad.build(&profile).unwrap_err();
    assert!(matches!(e, DraftError::BadKeyId(_)));
    assert!(
        e.to_string()
            .starts_with("The key id is not one Oracle's USE KEY takes: "),
        "{e}"
    );
    // An empty password builds a request; its statement refuses it.
    let empty = Draft {
        wallet_password: Secret::default(),
        ..filled(RequestKind::CreateKeystore)
    };
    assert!(empty.build(&profile).unwrap().statement().is_err());
}

/// The console's table before it moved here: (HSM user+password, wallet password, choice of
/// credential).
fn console_needs(kind: RequestKind, auth: CredentialChoice) -> (bool, bool, bool) {
    use RequestKind as K;
    match kind {
        K::Migrate | K::ReverseMigrate => (true, true, false),
        K::AddHsmSecret => (true, true, false),
        K::AddExternalStoreSecret => (true, false, false),
        K::CreateKeystore | K::CreateAutoLogin | K::Backup => (false, true, false),
        K::OpenKeystore | K::CloseKeystore | K::SetKey | K::UseKey => (
            auth == CredentialChoice::Hsm,
            auth == CredentialChoice::Wallet,
            true,
        ),
        _ => (false, false, false),
    }
}

#[test]
fn needs_are_what_the_console_showed() {
    use RequestKind as K;
    for &kind in K::ALL {
        for auth in [
            CredentialChoice::Hsm,
            CredentialChoice::Wallet,
            CredentialChoice::ExternalStore,
        ] {
            for with_backup in [false, true] {
                let n: Needs = kind.needs(auth, with_backup);
                assert_eq!(
                    (n.hsm_login, n.wallet_password, n.credential_choice),
                    console_needs(kind, auth),
                    "{kind:?} {auth:?}"
                );
                assert_eq!(n.configuration, kind == K::SetTdeConfiguration);
                assert_eq!(n.key_id, kind == K::UseKey);
                assert_eq!(
                    n.directory.is_some(),
                    matches!(
                        kind,
                        K::SetWalletRoot | K::AddExternalStoreSecret | K::CreateAutoLogin
                    )
                );
                assert_eq!(
                    n.local,
                    matches!(kind, K::AddExternalStoreSecret | K::CreateAutoLogin)
                );
                assert_eq!(n.with_backup, matches!(kind, K::Migrate | K::SetKey));
                assert_eq!(
                    n.tag,
                    matches!(kind, K::UseKey | K::Backup | K::AddHsmSecret)
                        || (matches!(kind, K::Migrate | K::SetKey) && with_backup)
                );
                assert_eq!(
                    n.all_containers,
                    matches!(
                        kind,
                        K::OpenKeystore | K::CloseKeystore | K::Migrate | K::SetKey
                    )
                );
            }
        }
    }
    let profile = db(Some("/u01/wr/"), false);
    assert_eq!(DirectoryField::WalletRoot.default_for(&profile), "/u01/wr/");
    assert_eq!(
        DirectoryField::TdeSeps.default_for(&profile),
        "/u01/wr/tde_seps"
    );
    assert_eq!(DirectoryField::Tde.default_for(&profile), "/u01/wr/tde");
    assert_eq!(
        filled(K::Backup).needs(),
        K::Backup.needs(CredentialChoice::Hsm, true)
    );
}
