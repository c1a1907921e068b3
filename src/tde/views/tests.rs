use super::*;

/// 2026-11-24 09:15:02.123 UTC
const T: i64 = 1_795_511_702_123;

fn origin() -> KeyOrigin {
    KeyOrigin {
        db_name: "DEMO".into(),
        dbid: 1_234_567_890,
        instance_name: "demo".into(),
        instance_number: 1,
        instance_serial: 3,
    }
}

fn hsm_key(pdb: Option<KeyPdb>, con_id: u32) -> KeyRow {
    KeyRow {
        creator: "SYSKM".into(),
        key_origin: "LOCAL".into(),
        key_id: "0615A5142C9E2D3C2F18FD435814257DFD".into(),
        tag: String::new(),
        created_ms: T,
        activated_ms: T + 61_000,
        keystore_type: KeystoreType::Hsm,
        backed_up: false,
        origin: origin(),
        pdb,
        con_id,
    }
}

/// What `Rehearsal::key_rows` in src/oracle/rehearsal.rs builds for one key, column by column
/// (copied from it, with its state's fields as arguments).
#[allow(clippy::too_many_arguments)]
fn rehearsal_key_row(
    key_id: &str,
    tag: &str,
    created_ms: i64,
    activated_ms: i64,
    file_keystore: bool,
    backed_up: bool,
    database: &str,
    dbid: u32,
    restarts: u32,
    cdb: bool,
    pdb: &str,
    con_id: u32,
) -> Row {
    let value = |col: &str| -> String {
        match col {
            "KEY_ID" => key_id.to_owned(),
            "TAG" => tag.to_owned(),
            "CREATION_TIME" => oracle_time(created_ms),
            "ACTIVATION_TIME" => oracle_time(activated_ms),
            "CREATOR" | "USER" => "SYSKM".into(),
            "CREATOR_ID" | "USER_ID" => "2147483617".into(),
            "KEY_USE" => if cdb { "TDE IN PDB" } else { "TDE" }.into(),
            "KEYSTORE_TYPE" => if file_keystore {
                "SOFTWARE KEYSTORE"
            } else {
                "HSM"
            }
            .into(),
            "ORIGIN" => "LOCAL".into(),
            "BACKED_UP" => if backed_up { "YES" } else { "NO" }.into(),
            "CREATOR_DBNAME" | "ACTIVATING_DBNAME" => database.to_owned(),
            "CREATOR_DBID" | "ACTIVATING_DBID" => dbid.to_string(),
            "CREATOR_INSTANCE_NAME" | "ACTIVATING_INSTANCE_NAME" => database.to_ascii_lowercase(),
            "CREATOR_INSTANCE_NUMBER" | "ACTIVATING_INSTANCE_NUMBER" => "1".into(),
            "CREATOR_INSTANCE_SERIAL" | "ACTIVATING_INSTANCE_SERIAL" => (restarts + 1).to_string(),
            "CREATOR_PDBNAME" | "ACTIVATING_PDBNAME" => pdb.to_owned(),
            "CREATOR_PDBID" | "ACTIVATING_PDBID" => {
                if cdb {
                    con_id.to_string()
                } else {
                    String::new()
                }
            }
            "CON_ID" => con_id.to_string(),
            _ => String::new(),
        }
    };
    Row(KEYS_COLUMNS
        .iter()
        .map(|c| ((*c).to_owned(), value(c)))
        .collect())
}

/// What `Rehearsal::wallet_rows` pushes for one keystore of one container.
fn rehearsal_wallet_row(values: [&str; 7], con_id: u32) -> Row {
    let mut r: Vec<(String, String)> = WALLET_COLUMNS[..7]
        .iter()
        .map(|n| (*n).to_owned())
        .zip(values.iter().map(|v| (*v).to_owned()))
        .collect();
    r.push(("CON_ID".into(), con_id.to_string()));
    Row(r)
}

#[test]
fn key_rows_are_what_the_rehearsal_built() {
    let non_cdb = KeyRow {
        key_id: "AQhcvB4B6k8Fv8TqXs4m4nIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        tag: "initial".into(),
        keystore_type: KeystoreType::SoftwareKeystore,
        backed_up: true,
        ..hsm_key(None, 0)
    };
    assert_eq!(
        non_cdb.to_row(),
        rehearsal_key_row(
            &non_cdb.key_id,
            "initial",
            T,
            T + 61_000,
            true,
            true,
            "DEMO",
            1_234_567_890,
            2,
            false,
            "",
            0
        )
    );
    let in_pdb = hsm_key(
        Some(KeyPdb {
            name: "PDB1".into(),
            id: 3,
        }),
        3,
    );
    assert_eq!(
        in_pdb.to_row(),
        rehearsal_key_row(
            &in_pdb.key_id,
            "",
            T,
            T + 61_000,
            false,
            false,
            "DEMO",
            1_234_567_890,
            2,
            true,
            "PDB1",
            3
        )
    );
    let row = in_pdb.to_row();
    assert_eq!(row.get("KEY_USE"), Some("TDE IN PDB"));
    assert_eq!(
        row.get("ACTIVATION_TIME"),
        Some("24-NOV-26 09.16.03.123000 AM +00:00")
    );
    assert_eq!(row.get("CREATOR_PDBGUID"), Some(""));
    assert_eq!(row.0.len(), KEYS_COLUMNS.len());
}

#[test]
fn key_rows_read_back() {
    for k in [
        hsm_key(None, 0),
        hsm_key(
            Some(KeyPdb {
                name: "CDB$ROOT".into(),
                id: 1,
            }),
            1,
        ),
        hsm_key(
            Some(KeyPdb {
                name: String::new(),
                id: 3,
            }),
            3,
        ),
        KeyRow {
            tag: "q3 rotation".into(),
            created_ms: 0,
            activated_ms: 3_155_759_999_999,
            backed_up: true,
            keystore_type: KeystoreType::SoftwareKeystore,
            ..hsm_key(None, 0)
        },
    ] {
        assert_eq!(KeyRow::from_row(&k.to_row()), Ok(k.clone()));
    }
    let mut bad = hsm_key(None, 0).to_row();
    bad.0[2].1 = "yesterday".into();
    assert!(matches!(
        KeyRow::from_row(&bad),
        Err(RowError::Unexpected {
            column: "CREATION_TIME",
            ..
        })
    ));
    let e = KeyRow::from_row(&Row(vec![("KEY_ID".into(), "x".into())])).unwrap_err();
    assert!(
        e.to_string().contains("V$ENCRYPTION_KEYS row has no"),
        "{e}"
    );
}

#[test]
fn oracle_times() {
    assert_eq!(oracle_time(T), "24-NOV-26 09.15.02.123000 AM +00:00");
    assert_eq!(
        oracle_time(T + 12 * 3_600_000),
        "24-NOV-26 09.15.02.123000 PM +00:00"
    );
    assert_eq!(oracle_time(0), "01-JAN-70 12.00.00.000000 AM +00:00");
    assert_eq!(parse_oracle_time(&oracle_time(T)), Some(T));
    assert_eq!(
        parse_oracle_time("24-NOV-26 09.15.02.123456 AM +00:00"),
        Some(T),
        "microseconds below a millisecond are dropped"
    );
    assert_eq!(
        parse_oracle_time("24-nov-26 11.15.02.123000 AM +02:00"),
        Some(T)
    );
    assert_eq!(
        parse_oracle_time("12-MAR-24 10.02.11.482113 AM +00:00").map(|t| t % 1000),
        Some(482)
    );
    assert_eq!(parse_oracle_time(""), None);
    assert_eq!(parse_oracle_time("2026-11-24T09:15:02Z"), None);
}

#[test]
fn wallet_rows_are_what_the_rehearsal_built_and_read_back() {
    let hsm = WalletRow {
        wrl_type: WrlType::Hsm,
        wrl_parameter: String::new(),
        status: WalletStatus::Open,
        wallet_type: WalletType::Hsm,
        wallet_order: WalletOrder::Primary,
        keystore_mode: KeystoreMode::None,
        fully_backed_up: FullyBackedUp::Undefined,
        con_id: 0,
    };
    let file = WalletRow {
        wrl_type: WrlType::File,
        wrl_parameter: "/u01/app/oracle/admin/DEMO/wallet/tde/".into(),
        status: WalletStatus::OpenNoMasterKey,
        wallet_type: WalletType::LocalAutologin,
        wallet_order: WalletOrder::Secondary,
        keystore_mode: KeystoreMode::United,
        fully_backed_up: FullyBackedUp::No,
        con_id: 3,
    };
    assert_eq!(
        hsm.to_row(),
        rehearsal_wallet_row(
            ["HSM", "", "OPEN", "HSM", "PRIMARY", "NONE", "UNDEFINED"],
            0
        )
    );
    assert_eq!(
        file.to_row(),
        rehearsal_wallet_row(
            [
                "FILE",
                "/u01/app/oracle/admin/DEMO/wallet/tde/",
                "OPEN_NO_MASTER_KEY",
                "LOCAL_AUTOLOGIN",
                "SECONDARY",
                "UNITED",
                "NO"
            ],
            3
        )
    );
    for w in [&hsm, &file] {
        assert_eq!(WalletRow::from_row(&w.to_row()).as_ref(), Ok(w));
    }
    // Any WALLET_TYPE is taken; an unknown STATUS is not.
    let odd = WalletRow {
        wallet_type: WalletType::Other("FUTURE_KIND".into()),
        ..hsm.clone()
    };
    assert_eq!(WalletRow::from_row(&odd.to_row()), Ok(odd));
    let mut bad = hsm.to_row();
    bad.0[2].1 = "HALF_OPEN".into();
    let e = WalletRow::from_row(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "The V$ENCRYPTION_WALLET row has \"HALF_OPEN\" in STATUS, which is not a value tdekey knows there."
    );
}

#[test]
fn rows_parsed_from_sqlplus_output_are_typed() {
    let text = r#""WRL_TYPE","WRL_PARAMETER","STATUS","WALLET_TYPE","WALLET_ORDER","KEYSTORE_MODE","FULLY_BACKED_UP","CON_ID"
"HSM",,"OPEN","HSM","PRIMARY","NONE","UNDEFINED",1
"FILE","/u01/app/oracle/admin/FIN/wallet/tde/","OPEN","PASSWORD","SECONDARY","NONE","YES",1
"#;
    let rows =
        crate::tde::output::parse_view(text, crate::tde::output::View::EncryptionWallet).unwrap();
    let typed: Vec<WalletRow> = rows
        .iter()
        .map(|r| WalletRow::from_row(r).unwrap())
        .collect();
    assert_eq!(typed[0].wrl_type, WrlType::Hsm);
    assert_eq!(typed[1].wallet_type, WalletType::Password);
    assert_eq!(typed[1].fully_backed_up, FullyBackedUp::Yes);
    assert_eq!(typed[1].con_id, 1);
}

#[test]
fn words_read_in_any_case() {
    assert_eq!(
        WalletStatus::parse("open_no_master_key"),
        Some(WalletStatus::OpenNoMasterKey)
    );
    assert_eq!(
        KeystoreType::parse("software keystore"),
        Some(KeystoreType::SoftwareKeystore)
    );
    assert_eq!(WrlType::parse("OKV"), Some(WrlType::Okv));
    assert_eq!(WrlType::parse("TAPE"), None);
    assert_eq!(WalletType::parse("autologin"), WalletType::Autologin);
    assert_eq!(WalletType::Autologin.as_str(), "AUTOLOGIN");
    assert_eq!(WalletType::parse("").as_str(), "");
    for s in WalletStatus::ALL {
        assert_eq!(WalletStatus::parse(s.as_str()), Some(*s));
    }
}
