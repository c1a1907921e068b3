//! Every real SQL*Plus output in tests/fixtures/oracle/ (sources in SOURCES.md there) read by
//! the parsers tdekey reads pastes with: the rows each one holds, a few of their values as the
//! file shows them, and for the outputs their publishers edited out of shape, the refusal and
//! its reason. A fixture added to wallet/, keys/, parameters/ or feedback/ without an entry
//! here fails the test, as does an entry whose file is gone.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tdekey::tde::output::{self, ParseError, View};

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle")
        .join(name)
}

fn read(folder: &str, file: &str) -> String {
    let path = dir(folder).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files of a fixture folder and the files `expected` names are the same.
fn same_files(folder: &str, expected: impl IntoIterator<Item = &'static str>) {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir(folder))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let named: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
    assert_eq!(
        on_disk, named,
        "{folder}/: every fixture has an expectation here"
    );
}

/// What a view fixture reads as: its number of rows and (row, column, value) checks, or a
/// refusal whose sentence holds the given words.
enum Expect {
    Rows(usize, &'static [(usize, &'static str, &'static str)]),
    Refused(fn(&ParseError) -> bool, &'static str),
}

use Expect::{Refused, Rows};

fn misaligned(e: &ParseError) -> bool {
    matches!(e, ParseError::Misaligned { .. })
}

fn no_table(e: &ParseError) -> bool {
    matches!(e, ParseError::NoTable { .. })
}

fn check_view(folder: &str, view: View, cases: &[(&'static str, Expect)]) {
    same_files(folder, cases.iter().map(|(f, _)| *f));
    for (file, expect) in cases {
        let text = read(folder, file);
        let got = output::parse_view(&text, view);
        match expect {
            Rows(n, checks) => {
                let rows = got.unwrap_or_else(|e| panic!("{folder}/{file}: {e}"));
                assert_eq!(rows.len(), *n, "{folder}/{file}: {rows:?}");
                for (row, column, value) in *checks {
                    assert_eq!(
                        rows[*row].get(column),
                        Some(*value),
                        "{folder}/{file}: row {row} {column} in {:?}",
                        rows[*row]
                    );
                }
            }
            Refused(kind, words) => {
                let e = got.expect_err(file);
                assert!(kind(&e), "{folder}/{file}: {e:?}");
                assert!(e.to_string().contains(words), "{folder}/{file}: {e}");
            }
        }
    }
}

#[test]
fn every_wallet_fixture_reads_as_v_encryption_wallet() {
    check_view(
        "wallet",
        View::EncryptionWallet,
        &[
            (
                "12.1-file-closed-unknown-no-keystore-mode-column.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_TYPE", "FILE"),
                        (0, "WRL_PARAMETER", "/etc/ORACLE/WALLETS/tdecdb/"),
                        (0, "STATUS", "CLOSED"),
                        (0, "WALLET_TYPE", "UNKNOWN"),
                        (0, "WALLET_ORDER", "SINGLE"),
                        (0, "FULLY_BACKED_UP", "UNDEFINED"),
                        (0, "CON_ID", "0"),
                    ],
                ),
            ),
            (
                "12.1-file-open-no-master-key-password-no-keystore-mode-column.txt",
                Rows(
                    1,
                    &[
                        (0, "STATUS", "OPEN_NO_MASTER_KEY"),
                        (0, "WALLET_TYPE", "PASSWORD"),
                        (0, "FULLY_BACKED_UP", "UNDEFINED"),
                        (0, "CON_ID", "0"),
                    ],
                ),
            ),
            (
                "12.1-file-open-password-no-keystore-mode-column.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_PARAMETER", "/etc/ORACLE/WALLETS/tdecdb/"),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_TYPE", "PASSWORD"),
                        (0, "FULLY_BACKED_UP", "NO"),
                    ],
                ),
            ),
            (
                // After a SHOW PDBS result in the same paste.
                "12.1-pdb-file-closed-while-root-open-selected-columns-tabs.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_TYPE", "FILE"),
                        (0, "WRL_PARAMETER", "/etc/ORACLE/WALLETS/tdecdb/"),
                        (0, "STATUS", "CLOSED"),
                    ],
                ),
            ),
            (
                "12.2-cdb-status-closed-after-create-keystore.txt",
                Rows(1, &[(0, "STATUS", "CLOSED")]),
            ),
            (
                "12.2-cdb-status-not-available.txt",
                Rows(1, &[(0, "STATUS", "NOT_AVAILABLE")]),
            ),
            (
                "12.2-cdb-status-open-no-master-key.txt",
                Rows(1, &[(0, "STATUS", "OPEN_NO_MASTER_KEY")]),
            ),
            (
                "12.2-cdb-status-wallet-type-open-autologin.txt",
                Rows(1, &[(0, "STATUS", "OPEN"), (0, "WALLET_TYPE", "AUTOLOGIN")]),
            ),
            (
                "12.2-cdb-status-wallet-type-open-password-after-create-auto-login.txt",
                Rows(1, &[(0, "STATUS", "OPEN"), (0, "WALLET_TYPE", "PASSWORD")]),
            ),
            (
                "12.2-pdbseed-status-closed-after-open-container-all.txt",
                Rows(1, &[(0, "STATUS", "CLOSED")]),
            ),
            (
                "12c-dbaas-pdb-open-password-wrl-parameter-shown-selected-columns.txt",
                Rows(
                    1,
                    &[
                        (
                            0,
                            "WRL_PARAMETER",
                            "/u01/app/oracle/admin/CSDEMO/tde_wallet/",
                        ),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_TYPE", "PASSWORD"),
                    ],
                ),
            ),
            (
                // Published with its blanks collapsed and no dash line: no column positions.
                "12c-hsm-closed-unknown-thales-ciphertrust-whitespace-collapsed.txt",
                Refused(no_table, "a line of column names over a line of dashes"),
            ),
            (
                "19c-cdb-3-containers-file-open-autologin-linesize-semode.txt",
                Rows(
                    3,
                    &[
                        (0, "WRL_PARAMETER", "/u01/app/oracle/admin/ORCL/wallet/"),
                        (0, "WALLET_TYPE", "AUTOLOGIN"),
                        (0, "KEYSTORE_MODE", "NONE"),
                        (0, "CON_ID", "1"),
                        (1, "WRL_PARAMETER", ""),
                        (1, "KEYSTORE_MODE", "UNITED"),
                        (2, "FULLY_BACKED_UP", "NO"),
                        (2, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-file-open-autologin-wrapped-tabs-livelabs-hybrid-adg.txt",
                Rows(
                    3,
                    &[
                        (0, "WRL_TYPE", "FILE"),
                        (0, "WRL_PARAMETER", "/u01/app/oracle/admin/ORCL/wallet/"),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_TYPE", "AUTOLOGIN"),
                        (0, "CON_ID", "1"),
                        (1, "WRL_PARAMETER", ""),
                        (1, "KEYSTORE_MODE", "UNITED"),
                        (2, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                // The query echoed without `;`, then run by `SQL> /`.
                "19c-cdb-3-containers-file-open-password-linesize-semode.txt",
                Rows(
                    3,
                    &[
                        (0, "WALLET_TYPE", "PASSWORD"),
                        (0, "WALLET_ORDER", "SINGLE"),
                        (1, "CON_ID", "2"),
                        (2, "KEYSTORE_MODE", "UNITED"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-file-open-password-wrapped-tabs-livelabs-hybrid-adg.txt",
                Rows(
                    3,
                    &[
                        (0, "WRL_PARAMETER", "/u01/app/oracle/admin/ORCL/wallet/"),
                        (0, "WALLET_TYPE", "PASSWORD"),
                        (0, "WALLET_ORDER", "SINGLE"),
                        (0, "FULLY_BACKED_UP", "NO"),
                        (1, "CON_ID", "2"),
                        (2, "STATUS", "OPEN"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-keystore-mode-open-local-autologin-livelabs.txt",
                Rows(
                    3,
                    &[
                        (0, "CON_ID", "1"),
                        (0, "KEYSTORE_MODE", "NONE"),
                        (0, "WALLET_TYPE", "LOCAL_AUTOLOGIN"),
                        (2, "KEYSTORE_MODE", "UNITED"),
                        (2, "STATUS", "OPEN"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-keystore-mode-open-no-master-key-password-livelabs.txt",
                Rows(
                    3,
                    &[
                        (0, "STATUS", "OPEN_NO_MASTER_KEY"),
                        (1, "CON_ID", "2"),
                        (1, "KEYSTORE_MODE", "UNITED"),
                        (2, "WALLET_TYPE", "PASSWORD"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-keystore-mode-open-password-livelabs.txt",
                Rows(3, &[(0, "STATUS", "OPEN"), (2, "CON_ID", "3")]),
            ),
            (
                "19c-cdb-3-containers-open-autologin-after-close-password-linhong.txt",
                Rows(
                    3,
                    &[
                        (0, "CON_ID", "1"),
                        (1, "WALLET_TYPE", "AUTOLOGIN"),
                        (2, "STATUS", "OPEN"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-open-no-master-key-password-linhong.txt",
                Rows(
                    3,
                    &[
                        (0, "STATUS", "OPEN_NO_MASTER_KEY"),
                        (1, "WALLET_TYPE", "PASSWORD"),
                        (2, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                "19c-cdb-3-containers-open-password-linhong.txt",
                Rows(3, &[(0, "WALLET_TYPE", "PASSWORD"), (1, "STATUS", "OPEN")]),
            ),
            (
                "19c-cdb-3-containers-select-star-autologin-narrow-status-linhong.txt",
                Rows(
                    3,
                    &[
                        (
                            0,
                            "WRL_PARAMETER",
                            "/u01/app/oracle/product/19.0.0/dbhome_1/admin/cdb1/wallet/tde/",
                        ),
                        (0, "STATUS", "OPEN"),
                        (0, "KEYSTORE_MODE", "NONE"),
                        (1, "WRL_PARAMETER", ""),
                        (2, "KEYSTORE_MODE", "UNITED"),
                        (2, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                // The HSM row's empty WRL_PARAMETER squeezed out by its publisher: OPEN stands
                // under WRL_PARAMETER and HSM under STATUS.
                "19c-file-local-autologin-plus-hsm-securosys-edited.txt",
                Refused(misaligned, "line 4 of the text: its STATUS is \"HSM\""),
            ),
            (
                "19c-gv-inst-id-file-open-local-autologin-livelabs.txt",
                Rows(
                    1,
                    &[
                        (0, "INST_ID", "1"),
                        (0, "WRL_TYPE", "FILE"),
                        (0, "WRL_PARAMETER", "/u01/oracle/db/admin/CONT/tde_wallet/"),
                        (0, "WALLET_TYPE", "LOCAL_AUTOLOGIN"),
                        (0, "CON_ID", "1"),
                    ],
                ),
            ),
            (
                "19c-gv-inst-id-file-open-no-master-key-password-livelabs.txt",
                Rows(
                    1,
                    &[
                        (0, "INST_ID", "1"),
                        (0, "STATUS", "OPEN_NO_MASTER_KEY"),
                        (0, "FULLY_BACKED_UP", "UNDEFINED"),
                    ],
                ),
            ),
            (
                "19c-gv-inst-id-file-open-password-livelabs.txt",
                Rows(
                    1,
                    &[
                        (0, "INST_ID", "1"),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_TYPE", "PASSWORD"),
                        (0, "FULLY_BACKED_UP", "NO"),
                    ],
                ),
            ),
            (
                "19c-hsm-open-no-master-key-single-securosys.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_TYPE", "HSM"),
                        (0, "WRL_PARAMETER", ""),
                        (0, "STATUS", "OPEN_NO_MASTER_KEY"),
                        (0, "WALLET_TYPE", "HSM"),
                        (0, "WALLET_ORDER", "SINGLE"),
                    ],
                ),
            ),
            (
                "19c-hsm-open-single-securosys.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_TYPE", "HSM"),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_ORDER", "SINGLE"),
                    ],
                ),
            ),
            (
                "19c-noncdb-file-not-available-unknown-wallet-root-set-no-tde-configuration.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_TYPE", "FILE"),
                        (0, "WRL_PARAMETER", ""),
                        (0, "STATUS", "NOT_AVAILABLE"),
                        (0, "WALLET_TYPE", "UNKNOWN"),
                        (0, "CON_ID", "0"),
                    ],
                ),
            ),
            (
                "19c-se2-dbcs-file-open-autologin-wrl-parameter-wrapped.txt",
                Rows(
                    1,
                    &[
                        (
                            0,
                            "WRL_PARAMETER",
                            "/opt/oracle/dcs/commonstore/wallets/vcccdb_rtn_yyz/tde/",
                        ),
                        (0, "STATUS", "OPEN"),
                        (0, "WALLET_TYPE", "AUTOLOGIN"),
                        (0, "CON_ID", "1"),
                    ],
                ),
            ),
            (
                "23ai-free-cdb-3-containers-file-closed-unknown-after-restart-csv.txt",
                Rows(
                    3,
                    &[
                        (0, "WRL_PARAMETER", "/opt/oracle/admin/FREE/wallet/tde/"),
                        (0, "STATUS", "CLOSED"),
                        (1, "WRL_PARAMETER", ""),
                        (1, "KEYSTORE_MODE", "UNITED"),
                        (2, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                "23ai-free-cdb-3-containers-file-open-autologin-after-restart-csv.txt",
                Rows(
                    3,
                    &[
                        (0, "WALLET_TYPE", "AUTOLOGIN"),
                        (2, "FULLY_BACKED_UP", "NO"),
                    ],
                ),
            ),
            (
                "23ai-free-cdb-3-containers-file-open-password-csv.txt",
                Rows(3, &[(0, "STATUS", "OPEN"), (1, "WALLET_TYPE", "PASSWORD")]),
            ),
            (
                "23ai-free-cdb-file-closed-unknown-csv.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_PARAMETER", "/opt/oracle/admin/FREE/wallet/tde/"),
                        (0, "STATUS", "CLOSED"),
                        (0, "WALLET_TYPE", "UNKNOWN"),
                        (0, "FULLY_BACKED_UP", "UNDEFINED"),
                        (0, "CON_ID", "1"),
                    ],
                ),
            ),
            (
                "23ai-free-cdb-file-open-no-master-key-password-csv.txt",
                Rows(
                    1,
                    &[(0, "STATUS", "OPEN_NO_MASTER_KEY"), (0, "CON_ID", "1")],
                ),
            ),
            (
                // Hand-edited by its publisher: headings, dashes and values do not line up.
                "23ai-free-hsm-file-cdb-3-containers-autologin-akeyless-edited.txt",
                Refused(
                    misaligned,
                    "line 1 of the text: the column names do not stand over their dashes",
                ),
            ),
            (
                "23ai-free-pdb-file-open-password-united-csv.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_PARAMETER", ""),
                        (0, "STATUS", "OPEN"),
                        (0, "KEYSTORE_MODE", "UNITED"),
                        (0, "CON_ID", "3"),
                    ],
                ),
            ),
            (
                "rds-file-open-password-con-id-0-wrapped.txt",
                Rows(
                    1,
                    &[
                        (0, "WRL_PARAMETER", "/rdsdbbin/oracle/dbs/wallet/"),
                        (0, "STATUS", "OPEN"),
                        (0, "KEYSTORE_MODE", "NONE"),
                        (0, "CON_ID", "0"),
                    ],
                ),
            ),
            (
                // A hand-made sample: the blank WRL_PARAMETER line is missing, so OPEN falls
                // under WRL_PARAMETER and STATUS is left empty.
                "rds-hsm-open-cloudhsm-classic-aws-sample.txt",
                Refused(misaligned, "line 9 of the text: its STATUS is empty"),
            ),
        ],
    );
}

#[test]
fn every_keys_fixture_reads_as_v_encryption_keys() {
    check_view(
        "keys",
        View::EncryptionKeys,
        &[
            (
                "12.1-noncdb-software-key-creator-syskm-tabs.txt",
                Rows(
                    1,
                    &[
                        (
                            0,
                            "KEY_ID",
                            "AZE+jaWrrk8ivxzQvU6S8VUAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (0, "TAG", ""),
                        (0, "KEYSTORE_TYPE", "SOFTWARE KEYSTORE"),
                        (0, "USER", "SYSKM"),
                        (0, "CON_ID", "0"),
                        (0, "BACKED_UP", "NO"),
                    ],
                ),
            ),
            (
                "12.1-pdb-software-key-creator-sys-tabs.txt",
                Rows(
                    1,
                    &[
                        (
                            0,
                            "KEY_ID",
                            "AWu5OW5+ME/0v1fb0UTWgLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (0, "KEYSTORE_TYPE", "SOFTWARE KEYSTORE"),
                        (0, "USER", "SYS"),
                        (0, "BACKED_UP", "NO"),
                    ],
                ),
            ),
            (
                "12.1-software-key-col-a60-tabs.txt",
                Rows(
                    1,
                    &[
                        (
                            0,
                            "KEY_ID",
                            "AcBapz/5vk9Av29fJl/NzJwAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (0, "TAG", ""),
                        (0, "USER", "SYSKM"),
                        (0, "CON_ID", "0"),
                    ],
                ),
            ),
            (
                "12.1-software-keys-3-rows-backed-up-tabs.txt",
                Rows(
                    3,
                    &[
                        (
                            0,
                            "KEY_ID",
                            "AWeotlcyUk+tv7GiOqqILFAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (0, "BACKED_UP", "NO"),
                        (
                            1,
                            "KEY_ID",
                            "AcZdrtdJe0+fvxhez7ShUQIAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (1, "BACKED_UP", "YES"),
                        (
                            2,
                            "KEY_ID",
                            "AaKq/ko7lk9VvzWShBQ73qkAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (2, "USER", "SYS"),
                        (2, "BACKED_UP", "YES"),
                    ],
                ),
            ),
            (
                // A join with V$PDBS, aliases: PDB stays PDB, ACTED_FROM is ACTIVATING_PDBNAME.
                "19c-software-key-pdb1-creator-syskm-livelabs-jul2020.txt",
                Rows(
                    1,
                    &[
                        (0, "PDB", "PDB1"),
                        (
                            0,
                            "KEY_ID",
                            "AdpQ/ENA5k/7v4TdZMwRJSUAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                        ),
                        (0, "CREATED", "24-JUL-20 12:43:08"),
                        (0, "CREATOR", "SYSKM"),
                        (0, "ACTIVATING_PDBNAME", "PDB1"),
                    ],
                ),
            ),
            (
                // Its publisher re-spaced the last two headings off their dashes.
                "19c-software-key-pdb1-creator-syskm-livelabs-may2020.txt",
                Refused(
                    misaligned,
                    "line 10 of the text: the column names do not stand over their dashes",
                ),
            ),
            (
                // The KEY_ID shortened by its publisher is read as printed.
                "23ai-free-pdb-key-id-shortened-csv.txt",
                Rows(
                    1,
                    &[
                        (0, "KEY_ID", "AU1kv...AAAA"),
                        (0, "TAG", "v1.0_MEK_AllContainer"),
                        (0, "CREATOR", "SYSKM"),
                        (0, "USER", "SYS"),
                        (0, "KEY_USE", "TDE IN PDB"),
                        (0, "KEYSTORE_TYPE", "SOFTWARE KEYSTORE"),
                        (0, "ACTIVATING_DBNAME", "FREE"),
                    ],
                ),
            ),
        ],
    );
}

#[test]
fn every_parameter_fixture_reads_as_its_parameter() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "19c-show-parameter-tde-configuration-file-linhong.txt",
            "tde_configuration",
            "string",
            "KEYSTORE_CONFIGURATION=FILE",
        ),
        (
            "19c-show-parameter-tde-configuration-file-livelabs.txt",
            "tde_configuration",
            "string",
            "KEYSTORE_CONFIGURATION=FILE",
        ),
        (
            "19c-show-parameter-tde-configuration-unset-linhong.txt",
            "tde_configuration",
            "string",
            "",
        ),
        (
            // The value runs past its dashes (the publisher narrowed the column): kept whole.
            "19c-show-parameter-wallet-root-livelabs-a.txt",
            "wallet_root",
            "string",
            "/u01/oracle/db/admin/CONT/wallet",
        ),
        (
            "19c-show-parameter-wallet-root-livelabs-b.txt",
            "wallet_root",
            "string",
            "/u01/oracle/db/admin/CONT/wallet",
        ),
        (
            "19c-show-parameter-wallet-root-set-ora19c.txt",
            "wallet_root",
            "string",
            "/home/oracle/wallet",
        ),
        (
            // VALUE wrapped at 30 onto a second line.
            "19c-show-parameter-wallet-root-set-value-wrapped-linhong.txt",
            "wallet_root",
            "string",
            "/u01/app/oracle/product/19.0.0/dbhome_1/admin/cdb1/wallet",
        ),
        (
            "19c-show-parameter-wallet-root-unset-linhong.txt",
            "wallet_root",
            "string",
            "",
        ),
        (
            "19c-show-parameter-wallet-root-unset-ora19c-comment-block.txt",
            "wallet_root",
            "string",
            "",
        ),
        // GV$PARAMETER in CSV: NAME and VALUE, no TYPE.
        (
            "23ai-free-gv-parameter-tde-configuration-file-csv.txt",
            "tde_configuration",
            "",
            "keystore_configuration=file",
        ),
        (
            "23ai-free-gv-parameter-tde-configuration-unset-csv.txt",
            "tde_configuration",
            "",
            "",
        ),
        (
            "23ai-free-gv-parameter-wallet-root-set-csv.txt",
            "wallet_root",
            "",
            "/opt/oracle/admin/FREE/wallet",
        ),
        (
            "23ai-free-gv-parameter-wallet-root-unset-csv.txt",
            "wallet_root",
            "",
            "",
        ),
    ];
    same_files("parameters", cases.iter().map(|c| c.0));
    for (file, name, kind, value) in cases {
        let text = read("parameters", file);
        let params = output::parse_parameters(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(params.len(), 1, "{file}: {params:?}");
        assert_eq!(
            (
                params[0].name.as_str(),
                params[0].kind.as_str(),
                params[0].value.as_str()
            ),
            (*name, *kind, *value),
            "{file}"
        );
    }
}

#[test]
fn every_feedback_fixture_has_exactly_its_ora_errors() {
    let none: &[(&str, &str)] = &[];
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "alter-system-set-tde-configuration-file-19c-livelabs.txt",
            none,
        ),
        (
            "alter-system-set-tde-configuration-file-scope-both-19c-linhong.txt",
            none,
        ),
        ("alter-system-set-wallet-root-spfile-19c-linhong.txt", none),
        ("alter-system-set-wallet-root-spfile-19c-livelabs.txt", none),
        ("close-keystore-container-all-19c-livelabs.txt", none),
        (
            "close-keystore-identified-by-container-all-21c-livelabs.txt",
            none,
        ),
        (
            "create-auto-login-keystore-from-keystore-23ai-free.txt",
            none,
        ),
        ("create-keystore-12.2.txt", none),
        ("create-keystore-sqlnet-location-19c-livelabs.txt", none),
        (
            "create-keystore-wallet-root-19c-livelabs-no-blank-line.txt",
            none,
        ),
        ("create-keystore-wallet-root-23ai-free-syskm.txt", none),
        ("create-local-auto-login-keystore-19c-livelabs.txt", none),
        ("open-keystore-12.1.txt", none),
        ("open-keystore-container-all-19c-livelabs.txt", none),
        ("open-keystore-container-all-23ai-free.txt", none),
        (
            "open-keystore-force-keystore-container-all-19c-livelabs.txt",
            none,
        ),
        (
            "open-keystore-force-keystore-container-all-autologin-present-19c-linhong.txt",
            none,
        ),
        (
            "ora-28354-alter-system-set-wallet-open-already-open-akeyless-trimmed.txt",
            &[(
                "ORA-28354",
                "Encryption wallet, auto login wallet, or HSM is already open.",
            )],
        ),
        (
            "ora-28365-alter-tablespace-encrypt-keystore-closed-livelabs.txt",
            &[("ORA-28365", "wallet is not open")],
        ),
        (
            "ora-28367-open-keystore-ewallet-moved-away-19c-trimmed.txt",
            &[("ORA-28367", "wallet does not exist")],
        ),
        (
            "ora-28374-set-key-in-pdb-key-nevertheless-set-12.2.txt",
            &[("ORA-28374", "typed master key not found in wallet")],
        ),
        (
            "ora-28389-close-auto-login-keystore-without-password-21c-livelabs.txt",
            &[("ORA-28389", "cannot close auto login wallet")],
        ),
        (
            // The PKCS#11 return value Oracle prints on the next line belongs to the error.
            "ora-28407-azure-cloud-hsm-ckr-general-error-trimmed.txt",
            &[(
                "ORA-28407",
                "Hardware Security Module failed with PKCS#11 error CKR_GENERAL_ERROR(5)",
            )],
        ),
        (
            "ora-28407-set-key-identified-by-external-store-okv-ckr-function-failed.txt",
            &[(
                "ORA-28407",
                "Hardware Security Module failed with PKCS#11 error CKR_FUNCTION_FAILED(6)",
            )],
        ),
        (
            "ora-46663-set-key-container-all-pdbseed-no-key-21c-livelabs.txt",
            &[(
                "ORA-46663",
                "master keys not created for all PDBs for REKEY",
            )],
        ),
        (
            "ora-46665-set-key-container-all-pdb-not-open-12.2.txt",
            &[(
                "ORA-46665",
                "master keys not activated for all PDBs during REKEY",
            )],
        ),
        (
            "ora-65040-create-keystore-in-pdb-as-syskm-12.1.txt",
            &[(
                "ORA-65040",
                "operation not allowed from within a pluggable database",
            )],
        ),
        (
            "set-encryption-key-using-tag-force-keystore-container-all-19c-livelabs.txt",
            none,
        ),
        (
            "set-key-force-keystore-with-backup-container-all-19c-linhong.txt",
            none,
        ),
        (
            "set-key-using-tag-with-backup-container-all-23ai-free.txt",
            none,
        ),
        ("set-key-with-backup-12.1.txt", none),
        ("set-key-with-backup-container-all-19c-livelabs.txt", none),
    ];
    same_files("feedback", cases.iter().map(|c| c.0));
    for (file, expected) in cases {
        let text = read("feedback", file);
        let got: Vec<(String, String)> = output::ora_errors(&text)
            .into_iter()
            .map(|e| (e.code, e.text))
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(c, t)| ((*c).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(got, want, "{file}");
        // A feedback line is no query result.
        assert!(
            output::parse_view(&text, View::EncryptionWallet).is_err(),
            "{file}"
        );
    }
}
