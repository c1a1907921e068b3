use super::*;
use crate::model::{ConnectorKind, DatabaseProfile, DbAuth, Multitenant};
use crate::secret::Secret;
use crate::tde::ora;
use crate::tde::output::{self, KEYS_COLUMNS, WALLET_COLUMNS};
use crate::tde::request::{Draft, ParameterName, RequestKind, interpret};
use crate::tde::views::{
    FullyBackedUp, KeyOrigin, KeyPdb, KeyRow, KeystoreMode, KeystoreType, WalletOrder, WalletRow,
    WalletStatus, WalletType, WrlType,
};

const LAYOUTS: &[Layout] = &[
    Layout::Csv,
    Layout::Columns {
        linesize: 80,
        pagesize: 14,
    },
    Layout::Columns {
        linesize: 80,
        pagesize: 5,
    },
    Layout::Columns {
        linesize: 80,
        pagesize: 0,
    },
    Layout::Columns {
        linesize: 132,
        pagesize: 14,
    },
    Layout::Columns {
        linesize: 132,
        pagesize: 100,
    },
    Layout::Columns {
        linesize: 1000,
        pagesize: 14,
    },
    Layout::Columns {
        linesize: 1000,
        pagesize: 50_000,
    },
];

fn profile() -> DatabaseProfile {
    DatabaseProfile {
        id: None,
        name: "FIN".into(),
        connector: ConnectorKind::Manual,
        oracle_home: None,
        oracle_sid: None,
        connect_string: None,
        auth: DbAuth::Os,
        connect_as: crate::model::ConnectAs::Sysdba,
        wallet_root: Some("/u01/app/oracle/admin/FIN/wallet".into()),
        multitenant: Multitenant::CdbUnited,
        rac: true,
        rac_nodes: Vec::new(),
        standbys: Vec::new(),
        hsm_profile: None,
    }
}

/// One request of every kind.
fn requests() -> Vec<Request> {
    RequestKind::ALL
        .iter()
        .map(|&kind| {
            Draft {
                kind,
                hsm_user: "cu_oracle".into(),
                hsm_password: Secret::from("Hsm-Pw-1"),
                wallet_password: Secret::from("Wallet-Pw-2"),
                key_id: "0615A5142C9E2D3C2F18FD435814257DFD".into(),
                tag: "q3".into(),
                ..Draft::default()
            }
            .build(&profile())
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn wallet(
    wrl_type: WrlType,
    dir: &str,
    status: WalletStatus,
    wallet_type: WalletType,
    order: WalletOrder,
    mode: KeystoreMode,
    backed_up: FullyBackedUp,
    con_id: u32,
) -> Row {
    WalletRow {
        wrl_type,
        wrl_parameter: dir.into(),
        status,
        wallet_type,
        wallet_order: order,
        keystore_mode: mode,
        fully_backed_up: backed_up,
        con_id,
    }
    .to_row()
}

fn wallet_replies() -> Vec<Vec<Row>> {
    use FullyBackedUp as B;
    use KeystoreMode as M;
    use WalletOrder as O;
    use WalletStatus as S;
    use WrlType as W;
    let long = format!(
        "/u01/app/oracle/admin/{}/wallet/tde/",
        "VERYLONGNAME".repeat(10)
    );
    vec![
        vec![],
        // After a migration with HSM|FILE, non-CDB.
        vec![
            wallet(
                W::Hsm,
                "",
                S::Open,
                WalletType::Hsm,
                O::Primary,
                M::None,
                B::Undefined,
                0,
            ),
            wallet(
                W::File,
                "/u01/app/oracle/admin/ORCL/wallet/tde/",
                S::Open,
                WalletType::Password,
                O::Secondary,
                M::None,
                B::No,
                0,
            ),
        ],
        // A united CDB, and a WRL_PARAMETER longer than any LINESIZE but the widest.
        vec![
            wallet(
                W::File,
                &long,
                S::OpenNoMasterKey,
                WalletType::LocalAutologin,
                O::Single,
                M::None,
                B::Undefined,
                1,
            ),
            wallet(
                W::File,
                "",
                S::Closed,
                WalletType::Unknown,
                O::Single,
                M::United,
                B::Undefined,
                2,
            ),
            wallet(
                W::File,
                "",
                S::OpenUnknownMasterKeyStatus,
                WalletType::Other("SOMETHING NEW".into()),
                O::Single,
                M::Isolated,
                B::Yes,
                3,
            ),
        ],
    ]
}

fn key(n: u8, pdb: Option<(&str, u32)>, keystore_type: KeystoreType, tag: &str) -> Row {
    let id = crate::tde::labels::MasterKeyId([n; 16]);
    KeyRow {
        creator: "SYSKM".into(),
        key_origin: "LOCAL".into(),
        key_id: if keystore_type == KeystoreType::Hsm {
            crate::tde::labels::hsm_key_id(&id)
        } else {
            crate::tde::labels::format_key_id(0x01, &id)
        },
        tag: tag.into(),
        created_ms: 1_710_237_731_482 + i64::from(n) * 86_400_000,
        activated_ms: 1_710_237_731_482 + i64::from(n) * 90_000_000,
        keystore_type,
        backed_up: n.is_multiple_of(2),
        origin: KeyOrigin {
            db_name: "FIN".into(),
            dbid: 1_122_334_455,
            instance_name: "fin1".into(),
            instance_number: 1,
            instance_serial: 42,
        },
        pdb: pdb.map(|(name, id)| KeyPdb {
            name: name.into(),
            id,
        }),
        con_id: pdb.map_or(0, |(_, id)| id),
    }
    .to_row()
}

fn key_replies() -> Vec<Vec<Row>> {
    vec![
        vec![],
        vec![key(1, None, KeystoreType::SoftwareKeystore, "initial")],
        vec![
            key(1, None, KeystoreType::SoftwareKeystore, "initial"),
            key(2, None, KeystoreType::Hsm, ""),
            key(3, None, KeystoreType::Hsm, "rotated, \"quarterly\""),
        ],
        (1u8..=7)
            .map(|n| {
                let pdb = if n.is_multiple_of(2) {
                    ("CDB$ROOT", 1)
                } else {
                    ("PDB1", 3)
                };
                key(
                    n,
                    Some(pdb),
                    KeystoreType::Hsm,
                    if n == 4 { "" } else { "q" },
                )
            })
            .collect(),
    ]
}

/// V$DATABASE_KEY_INFO and V$ENCRYPTED_TABLESPACES replies: a non-CDB, a CDB with a key in
/// each container and one without (all-zero MASTERKEYID), tablespaces without a name.
fn encryption_replies(view: View) -> Vec<Vec<Row>> {
    use crate::tde::labels::MasterKeyId;
    use crate::tde::views::{DatabaseKeyRow, TablespaceRow};
    let mk = |n: u8| Some(MasterKeyId([n; 16]));
    match view {
        View::DatabaseKeyInfo => {
            let row = |master_key, con_id| {
                DatabaseKeyRow {
                    algorithm: "AES128".into(),
                    master_key,
                    activated: Some(master_key.is_some()),
                    con_id,
                }
                .to_row()
            };
            vec![
                vec![],
                vec![row(mk(0x4F), 0)],
                vec![row(mk(1), 1), row(None, 2), row(mk(0xAB), 3)],
            ]
        }
        _ => {
            let row = |ts, name: &str, alg: &str, n: u8, con_id| {
                TablespaceRow {
                    ts: Some(ts),
                    name: name.into(),
                    algorithm: alg.into(),
                    encrypted: true,
                    master_key: mk(n),
                    key_version: Some(1),
                    status: "NORMAL".into(),
                    con_id,
                }
                .to_row()
            };
            vec![
                vec![],
                vec![row(4, "USERS", "AES256", 7, 0)],
                vec![
                    row(0, "SYSTEM", "AES128", 1, 1),
                    row(5, "USERS", "AES256", 2, 3),
                    row(7, "ARCHIVE_2025_WITH_A_LONG_NAME", "AES192", 3, 3),
                    row(9, "TBSTEST", "3DES168", 3, 3),
                ],
            ]
        }
    }
}

fn errors() -> Vec<Reply> {
    vec![
        ora::NOT_OPEN.reply(),
        ora::FAILED_TO_OPEN.then(ora::HSM_PIN_INCORRECT),
        ora::reply(
            ora::SPFILE_UPDATE_FAILED,
            &[ora::NO_WALLET_ROOT, ora::FAILED_TO_OPEN],
        ),
        Reply::Error {
            error: OraError {
                code: "SP2-0640".into(),
                text: "Not connected".into(),
            },
            more: vec![],
        },
        // In the order printed, whichever kind comes first.
        Reply::Error {
            error: OraError {
                code: "SP2-0734".into(),
                text: "unknown command beginning \"ADMINISTER...\" - rest of line ignored.".into(),
            },
            more: vec![ora::NOT_OPEN.error()],
        },
    ]
}

fn replies_for(request: &Request) -> Vec<Reply> {
    let mut out = errors();
    match request.expected_answer() {
        Expect::Rows(View::EncryptionWallet) => out.extend(
            wallet_replies()
                .into_iter()
                .map(|rows| Reply::Rows { rows }),
        ),
        Expect::Rows(View::EncryptionKeys) => {
            out.extend(key_replies().into_iter().map(|rows| Reply::Rows { rows }))
        }
        Expect::Rows(view @ (View::DatabaseKeyInfo | View::EncryptedTablespaces)) => out.extend(
            encryption_replies(view)
                .into_iter()
                .map(|rows| Reply::Rows { rows }),
        ),
        Expect::Rows(View::SessionPrivileges) => {
            let syskm = crate::tde::privileges::SessionPrivileges {
                privileges: ["SYSKM", "ADMINISTER KEY MANAGEMENT"]
                    .map(String::from)
                    .into(),
                roles: ["SELECT_CATALOG_ROLE"].map(String::from).into(),
            };
            out.push(Reply::Rows {
                rows: syskm.to_rows(),
            });
            out.push(Reply::Rows { rows: Vec::new() });
        }
        Expect::Parameter(p) => {
            for value in [
                "",
                "/u01/app/oracle/admin/FIN/wallet",
                "KEYSTORE_CONFIGURATION=HSM|FILE",
                "/u01/app/oracle/admin/a-database-with-a-rather-long-name/wallet",
            ] {
                out.push(p.reply(value));
            }
        }
        Expect::Feedback(f) => out.push(Reply::done(f)),
    }
    out
}

#[test]
fn every_request_and_reply_reads_back_in_every_layout() {
    let mut checked = 0;
    for request in requests() {
        for reply in replies_for(&request) {
            for &layout in LAYOUTS {
                let text = render_reply(&request, &reply, layout);
                assert_eq!(
                    interpret(&request, &text).as_ref(),
                    Ok(&reply),
                    "{:?} in {layout:?}:\n{text}",
                    request.kind()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn lines_stay_within_linesize_unless_a_value_is_wider() {
    for rows in key_replies().into_iter().chain(wallet_replies()) {
        let view = if rows.first().is_some_and(|r| r.get("KEY_ID").is_some()) {
            View::EncryptionKeys
        } else {
            View::EncryptionWallet
        };
        for linesize in [80, 132] {
            let layout = Layout::Columns {
                linesize,
                pagesize: 14,
            };
            let text = render_rows(view, &rows, layout);
            let widest = rows
                .iter()
                .flat_map(|r| r.0.iter().map(|(_, v)| v.chars().count()))
                .max()
                .unwrap_or(0);
            for l in text.lines() {
                let n = l.chars().count();
                assert!(n <= linesize.max(widest), "{n} > {linesize}: {l}");
                assert_eq!(l, l.trim_end(), "trailing blanks are trimmed");
            }
        }
    }
}

#[test]
fn csv_markup_as_sqlplus_prints_it() {
    let rows = &wallet_replies()[1];
    assert_eq!(
        render_rows(View::EncryptionWallet, rows, Layout::Csv),
        "\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n\"HSM\",,\"OPEN\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",0\n\"FILE\",\"/u01/app/oracle/admin/ORCL/wallet/tde/\",\"OPEN\",\"PASSWORD\",\"SECONDARY\",\"NONE\",\"NO\",0\n\n2 rows selected.\n\n"
    );
    assert_eq!(
        render_rows(View::EncryptionKeys, &[], Layout::Csv),
        "\nno rows selected\n\n"
    );
    let one = render_rows(View::EncryptionKeys, &key_replies()[1], Layout::Csv);
    assert!(one.ends_with("\n\n1 row selected.\n\n"), "{one}");
    assert!(
        one.contains(",\"SOFTWARE KEYSTORE\",\"LOCAL\",\"NO\",\"FIN\",1122334455,"),
        "{one}"
    );
    let quoted = render_rows(View::EncryptionKeys, &key_replies()[2], Layout::Csv);
    assert!(
        quoted.contains(",\"rotated, \"\"quarterly\"\"\","),
        "{quoted}"
    );
}

#[test]
fn column_layout_details() {
    let rows = &wallet_replies()[1];
    let wide = render_rows(
        View::EncryptionWallet,
        rows,
        Layout::Columns {
            linesize: 1000,
            pagesize: 14,
        },
    );
    let lines: Vec<&str> = wide.lines().collect();
    assert_eq!(lines[0], "");
    // WRL_PARAMETER is as wide as LINESIZE: a line of its own.
    assert_eq!(lines[1], "WRL_TYPE");
    assert_eq!(lines[3], "WRL_PARAMETER");
    assert_eq!(lines[4].len(), 1000);
    assert_eq!(
        lines[5],
        "STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC     CON_ID",
        "headers cut to the column width, numbers right-aligned"
    );
    assert_eq!(lines[7], "HSM");
    assert_eq!(
        lines[8], "",
        "an empty WRL_PARAMETER prints as a blank line"
    );
    assert!(lines[9].ends_with("UNDEFINED          0"), "{}", lines[9]);
    assert_eq!(lines[10], "", "a blank line after a wrapped row");
    assert_eq!(&lines[lines.len() - 3..], ["", "2 rows selected.", ""]);
    assert!(wide.ends_with("\n\n2 rows selected.\n\n"));
    assert_eq!(
        render_rows(View::EncryptionWallet, &[], Layout::DEFAULT),
        "\nno rows selected\n\n"
    );
    // A small page holds at least one row and repeats the header.
    let small = render_rows(
        View::EncryptionKeys,
        &key_replies()[3],
        Layout::Columns {
            linesize: 80,
            pagesize: 5,
        },
    );
    assert_eq!(small.matches("\nKEY_ID").count(), 7, "{small}");
    let one_page = render_rows(
        View::EncryptionKeys,
        &key_replies()[3],
        Layout::Columns {
            linesize: 80,
            pagesize: 0,
        },
    );
    assert_eq!(one_page.matches("\nKEY_ID").count(), 1);
}

#[test]
fn parameters_errors_and_feedback() {
    let p = ParameterName::WalletRoot
        .reply("/u01/app/oracle/admin/a-database-with-a-rather-long-name/wallet");
    let Reply::Parameter { parameter } = &p else {
        panic!("{p:?}")
    };
    assert_eq!(
        render_parameters(std::slice::from_ref(parameter), Layout::DEFAULT),
        "
NAME                                 TYPE        VALUE
------------------------------------ ----------- ------------------------------
wallet_root                          string      /u01/app/oracle/admin/a-databa
                                                 se-with-a-rather-long-name/wal
                                                 let
"
    );
    assert_eq!(
        render_parameters(std::slice::from_ref(parameter), Layout::Csv),
        "\"NAME\",\"TYPE\",\"VALUE\"\n\"wallet_root\",\"string\",\"/u01/app/oracle/admin/a-database-with-a-rather-long-name/wallet\"\n"
    );
    assert_eq!(
        render_error(&ora::FAILED_TO_OPEN.error(), &[ora::HSM_PIN_LOCKED.error()]),
        "ERROR at line 1:\nORA-28353: failed to open wallet\nORA-28407: Hardware Security Module failed with PKCS#11 error\nCKR_PIN_LOCKED(164)\n\n"
    );
    assert_eq!(
        render_feedback("keystore altered."),
        "\nkeystore altered.\n\n"
    );
    let restart = render_reply(
        &Request::Restart,
        &Reply::done(crate::tde::request::INSTANCE_STARTED),
        Layout::DEFAULT,
    );
    assert!(
        restart.ends_with("Database mounted.\nDatabase opened.\n"),
        "{restart}"
    );
}

#[test]
fn a_value_cut_by_a_narrow_column_would_not_read_back() {
    // The reason columns are widened to their longest value: SQL*Plus's own cut loses text.
    let rows = vec![vec!["x".repeat(30)]];
    let text = render_table(&[Column::text("TAG", 10)], &rows, Layout::DEFAULT);
    let t = output::parse_table(&text, &["TAG"], "t").unwrap();
    assert_eq!(t.rows[0].get("TAG"), Some("x".repeat(30).as_str()));
    assert!(
        text.contains(&format!("\nTAG\n{}\n", "-".repeat(30))),
        "{text}"
    );
}

/// Three columns on three lines at LINESIZE 80: A, B, C.
fn three_lines() -> Vec<Column> {
    vec![
        Column::text("A", 60),
        Column::text("B", 60),
        Column::text("C", 60),
    ]
}

fn read_back(columns: &[Column], rows: &[Vec<String>], text: &str) {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let t = output::parse_table(text, &names, "t").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let got: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.0.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    assert_eq!(got, rows, "{text}");
}

#[test]
fn wrapped_rows_whose_first_or_last_line_is_blank() {
    let columns = three_lines();
    let rows: Vec<Vec<String>> = [
        ["", "b1", "c1"],
        ["a2", "b2", ""],
        ["", "", "c3"],
        ["a4", "", ""],
    ]
    .iter()
    .map(|r| r.iter().map(|v| (*v).to_owned()).collect())
    .collect();
    for pagesize in [5, 14, 100] {
        let layout = Layout::Columns {
            linesize: 80,
            pagesize,
        };
        read_back(&columns, &rows, &render_table(&columns, &rows, layout));
        read_back(
            &columns,
            &rows[..1],
            &render_table(&columns, &rows[..1], layout),
        );
        read_back(
            &columns,
            &rows[1..2],
            &render_table(&columns, &rows[1..2], layout),
        );
    }
}

#[test]
fn wrapped_rows_without_record_separators() {
    // SET RECSEP OFF: no blank line after a wrapped row. Four rows of two lines are eight
    // lines, which also fits three rows with separators (3 × 2 + 2).
    let columns = vec![Column::text("A", 60), Column::text("B", 60)];
    let rows: Vec<Vec<String>> = (1..=4)
        .map(|n| vec![format!("a{n}"), format!("b{n}")])
        .collect();
    let text = render_table(
        &columns,
        &rows,
        Layout::Columns {
            linesize: 80,
            pagesize: 1000,
        },
    );
    let no_recsep = text.replace("\n\n", "\n").replacen("\n", "\n\n", 1);
    let no_recsep = no_recsep.replace("\n4 rows selected.", "\n\n4 rows selected.");
    read_back(&columns, &rows, &no_recsep);
}

#[test]
fn every_view_column_has_a_width() {
    for c in WALLET_COLUMNS {
        assert!(
            view_column(Some(View::EncryptionWallet), c).width >= 8,
            "{c}"
        );
    }
    for c in KEYS_COLUMNS {
        assert!(view_column(Some(View::EncryptionKeys), c).width >= 8, "{c}");
    }
    assert_eq!(view_column(None, "ANYTHING"), Column::text("ANYTHING", 8));
    assert!(view_column(Some(View::EncryptionKeys), "CON_ID").numeric);
}
