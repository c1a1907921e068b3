//! The real outputs of V$ENCRYPTED_TABLESPACES and V$DATABASE_KEY_INFO in
//! tests/fixtures/oracle/tablespaces/ and database-key/ (sources S21–S23 in SOURCES.md there),
//! read by the parsers tdekey reads pastes with and by the typed rows a recoverability report
//! uses. A fixture added to either folder without an entry here fails the test.

use std::collections::BTreeSet;
use std::path::PathBuf;

use tdekey::tde::output::{View, parse_view};
use tdekey::tde::views::{DatabaseKeyRow, TablespaceRow, tablespace_label};

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle")
        .join(name)
}

fn read(folder: &str, file: &str) -> String {
    let path = dir(folder).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn same_files(folder: &str, expected: &[&str]) {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir(folder))
        .unwrap_or_else(|e| panic!("{folder}: {e}"))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let named: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        on_disk, named,
        "{folder}/: every fixture has an expectation here"
    );
}

/// (tablespace, ENCRYPTIONALG, CON_ID) of each row.
type Expected = &'static [(&'static str, &'static str, u32)];

#[test]
fn every_tablespaces_fixture_reads_as_v_encrypted_tablespaces() {
    let cases: &[(&str, Expected)] = &[
        (
            "19c-exacc-adb-ts-encryptionalg-encryptedts-con-id-9-rows.txt",
            &[
                ("TS# 0", "AES128", 5),
                ("TS# 1", "AES128", 5),
                ("TS# 2", "AES128", 5),
                ("TS# 4", "AES128", 5),
                ("TS# 6", "AES128", 5),
                ("TS# 7", "AES128", 5),
                ("TS# 8", "AES128", 5),
                ("TS# 10", "AES128", 5),
                ("TS# 9", "AES128", 5),
            ],
        ),
        (
            "21c-dbcs-pdb-name-encryptionalg-join-livelabs-de.txt",
            &[("USERS", "AES128", 0), ("TBSTEST", "AES192", 0)],
        ),
    ];
    same_files(
        "tablespaces",
        &cases.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
    );
    for (file, want) in cases {
        let text = read("tablespaces", file);
        let rows =
            parse_view(&text, View::EncryptedTablespaces).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got: Vec<(String, String, u32)> = rows
            .iter()
            .map(|r| {
                let t = TablespaceRow::from_row(r).unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(t.encrypted, "{file}: {t:?}");
                (tablespace_label(&t), t.algorithm, t.con_id)
            })
            .collect();
        let want: Vec<(String, String, u32)> = want
            .iter()
            .map(|(l, a, c)| ((*l).to_owned(), (*a).to_owned(), *c))
            .collect();
        assert_eq!(got, want, "{file}");
        // Not the output of the other views.
        assert!(parse_view(&text, View::DatabaseKeyInfo).is_err(), "{file}");
        assert!(parse_view(&text, View::EncryptionWallet).is_err(), "{file}");
    }
}

#[test]
fn every_database_key_fixture_reads_as_v_database_key_info() {
    let file = "21c-xe-pdb-con-id-masterkey-activated-hash-prefix-removed.txt";
    same_files("database-key", &[file]);
    let text = read("database-key", file);
    let rows = parse_view(&text, View::DatabaseKeyInfo).unwrap();
    let keys: Vec<DatabaseKeyRow> = rows
        .iter()
        .map(|r| DatabaseKeyRow::from_row(r).unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].con_id, keys[0].activated), (3, Some(true)));
    assert!(parse_view(&text, View::EncryptedTablespaces).is_err());
    assert!(parse_view(&text, View::EncryptionKeys).is_err());
}
