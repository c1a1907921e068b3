use super::*;

fn hsm() -> Credential {
    Credential::Hsm {
        user: "cu_oracle".into(),
        password: Secret::from("Hsm-Pw-1"),
    }
}

#[test]
fn statements_hide_every_secret_in_their_display() {
    let all = [
        Request::OpenKeystore {
            credential: hsm(),
            all_containers: true,
        },
        Request::Migrate {
            hsm_user: "cu_oracle".into(),
            hsm_password: Secret::from("Hsm-Pw-1"),
            wallet_password: Secret::from("Wallet-Pw-2"),
            backup: Some(Some("pre".into())),
        },
        Request::SetKey {
            tag: Some("q3".into()),
            credential: hsm(),
            options: Options::default(),
        },
        Request::AddHsmSecret {
            hsm_user: "cu_oracle".into(),
            hsm_password: Secret::from("Hsm-Pw-1"),
            wallet_password: Secret::from("Wallet-Pw-2"),
            force: true,
            backup_tag: None,
        },
        Request::AddExternalStoreSecret {
            hsm_user: "cu_oracle".into(),
            hsm_password: Secret::from("Hsm-Pw-1"),
            seps_dir: "/u01/wr/tde_seps".into(),
            local: false,
        },
    ];
    for r in &all {
        let s = r.statement().expect("builds");
        assert!(s.sql.expose().contains("Hsm-Pw-1"), "{}", s.display);
        assert!(!s.display.contains("Hsm-Pw-1"), "{}", s.display);
        assert!(!s.display.contains("Wallet-Pw-2"), "{}", s.display);
        assert!(s.display.contains("<hidden>"));
        assert!(r.changes_state());
    }
    assert!(!Request::QueryKeys.changes_state());
    assert!(all.iter().all(|r| r.hsm_user() == Some("cu_oracle")));
    let wallet = Request::SetKey {
        tag: None,
        credential: Credential::Password(Secret::from("w")),
        options: Options::default(),
    };
    assert_eq!(wallet.hsm_user(), None);
}

#[test]
fn feedback_is_required_for_statements() {
    let open = Request::OpenKeystore {
        credential: hsm(),
        all_containers: false,
    };
    let r = interpret(
        &open,
        "SQL> ADMINISTER KEY MANAGEMENT ...\n\nkeystore altered.\n",
    )
    .expect("reads");
    assert_eq!(
        r,
        Reply::Done {
            feedback: "keystore altered.".into()
        }
    );
    let e = interpret(&open, "System altered.\n").expect_err("wrong statement");
    assert!(e.to_string().contains("another statement"), "{e}");
    assert!(matches!(
        interpret(&open, "  \n"),
        Err(InterpretError::Empty)
    ));
    let e = interpret(&open, "keystore alt").expect_err("cut");
    assert!(
        e.to_string()
            .contains("does not show that the statement ran")
    );
}

#[test]
fn errors_win_over_everything() {
    let r = interpret(
        &Request::QueryWallet,
        "ERROR at line 1:\nORA-28353: failed to open wallet\n",
    )
    .expect("reads");
    assert_eq!(r.summary(), "ORA-28353: failed to open wallet");
    let r = interpret(&Request::QueryWallet, "SP2-0640: Not connected\n").expect("reads");
    assert!(r.is_error());
    assert_eq!(r.summary(), "SP2-0640: Not connected");
}

#[test]
fn parameters_must_name_the_one_asked() {
    let text = "NAME          TYPE        VALUE\n------------- ----------- ------------------------------\nwallet_root   string      /u01/app/oracle/admin/ORCL/wallet\n";
    let r = interpret(&Request::ShowParameter(ParameterName::WalletRoot), text).expect("ok");
    assert_eq!(
        r.summary(),
        "wallet_root = \"/u01/app/oracle/admin/ORCL/wallet\""
    );
    let e = interpret(
        &Request::ShowParameter(ParameterName::TdeConfiguration),
        text,
    )
    .expect_err("other parameter");
    assert!(e.to_string().contains("no tde_configuration row"), "{e}");
}

/// Constructed, not a real paste: a DBA's session where another statement failed before
/// the query, then the query's own failure, as SQL*Plus prints them.
#[test]
fn a_query_is_read_in_a_session_where_another_statement_failed() {
    let session = "SQL> administer key management set keystore open identified by x;\nadminister key management set keystore open identified by x\n*\nERROR at line 1:\nORA-28354: Encryption wallet, auto login wallet, or HSM is already open\n\n\nSQL> select wrl_type, status from v$encryption_wallet;\n\nWRL_TYPE             STATUS\n-------------------- ------------------------------\nFILE                 OPEN\n\nSQL> show parameter wallet_root\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\nwallet_root                          string      /u01/app/oracle/admin/ORCL/wal\n                                                 let\nSQL> show parameter tde_configuration\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\ntde_configuration                    string      KEYSTORE_CONFIGURATION=FILE\nSQL> ";
    let Ok(Reply::Rows { rows }) = interpret(&Request::QueryWallet, session) else {
        panic!("{:?}", interpret(&Request::QueryWallet, session));
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get("STATUS"), Some("OPEN"));
    assert_eq!(rows[0].get("WRL_TYPE"), Some("FILE"));
    for (p, value) in [
        (
            ParameterName::WalletRoot,
            "/u01/app/oracle/admin/ORCL/wallet",
        ),
        (
            ParameterName::TdeConfiguration,
            "KEYSTORE_CONFIGURATION=FILE",
        ),
    ] {
        let Ok(Reply::Parameter { parameter }) = interpret(&Request::ShowParameter(p), session)
        else {
            panic!("{p:?}");
        };
        assert_eq!(parameter.value, value);
    }
    // No V$ENCRYPTION_KEYS result in it: the error printed is the answer.
    let r = interpret(&Request::QueryKeys, session).expect("reads");
    assert_eq!(
        r.summary(),
        "ORA-28354: Encryption wallet, auto login wallet, or HSM is already open"
    );
    // The query's own failure.
    let failed = "SQL> select * from v$encryption_wallet;\nselect * from v$encryption_wallet\n              *\nERROR at line 1:\nORA-01031: insufficient privileges\n\n\nSQL> ";
    let r = interpret(&Request::QueryWallet, failed).expect("reads");
    assert_eq!(r.summary(), "ORA-01031: insufficient privileges");
    // One SHOW PARAMETER refused, the other shown: the refusal answers the first.
    let refused = "SQL> show parameter wallet_root\nORA-01031: insufficient privileges\nSQL> show parameter tde_configuration\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\ntde_configuration                    string      KEYSTORE_CONFIGURATION=FILE\n";
    let r = interpret(&Request::ShowParameter(ParameterName::WalletRoot), refused).expect("reads");
    assert_eq!(r.summary(), "ORA-01031: insufficient privileges");
    assert!(matches!(
        interpret(
            &Request::ShowParameter(ParameterName::TdeConfiguration),
            refused
        ),
        Ok(Reply::Parameter { .. })
    ));
    // An error printed after the result, before the next statement, is the query's.
    let cut = "SQL> select wrl_type, status from v$encryption_wallet;\n\nWRL_TYPE             STATUS\n-------------------- ------------------------------\nFILE                 OPEN\nERROR:\nORA-01013: user requested cancel of current operation\n\nSQL> ";
    let r = interpret(&Request::QueryWallet, cut).expect("reads");
    assert!(r.is_error(), "{r:?}");
}

/// Real SQL*Plus prints ORA-28407's PKCS#11 return value on the line after it (see
/// tests/fixtures/oracle/feedback/ora-28407-*): it is read as part of the error.
#[test]
fn the_pkcs11_return_value_on_the_next_line_is_part_of_ora_28407() {
    let open = Request::OpenKeystore {
        credential: hsm(),
        all_containers: false,
    };
    let text = "SQL> ADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"cu_oracle:x\";\nADMINISTER KEY MANAGEMENT SET KEYSTORE OPEN IDENTIFIED BY \"cu_oracle:x\"\n*\nERROR at line 1:\nORA-28407: Hardware Security Module failed with PKCS#11 error\nCKR_PIN_INCORRECT(160)\n\n";
    let Ok(Reply::Error { error, more }) = interpret(&open, text) else {
        panic!("{:?}", interpret(&open, text));
    };
    assert_eq!(error, crate::tde::ora::hsm_failed("CKR_PIN_INCORRECT", 160));
    assert!(more.is_empty(), "{more:?}");
}

#[test]
fn a_keys_output_is_not_a_wallet_output() {
    let text = "KEY_ID                                               TAG\n---------------------------------------------------- ---\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x\n";
    assert!(interpret(&Request::QueryWallet, text).is_err());
    assert!(matches!(
        interpret(&Request::QueryKeys, text),
        Ok(Reply::Rows { .. })
    ));
}
