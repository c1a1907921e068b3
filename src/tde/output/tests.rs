use super::*;
use crate::tde::render::{Column, Layout, render_rows, render_table, view_column};

/// After a migration with HSM|FILE, non-CDB, at the default LINESIZE 80 and PAGESIZE 14: the
/// header repeats for each row, and the HSM row's empty WRL_PARAMETER prints as a blank line.
pub(super) const WALLET_80: &str = "SQL> SELECT * FROM V$ENCRYPTION_WALLET;

WRL_TYPE
--------------------
WRL_PARAMETER
--------------------------------------------------------------------------------
STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC
------------------------------ -------------------- --------- -------- ---------
    CON_ID
----------
HSM

OPEN                           HSM                  PRIMARY   NONE     UNDEFINED
         0


WRL_TYPE
--------------------
WRL_PARAMETER
--------------------------------------------------------------------------------
STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC
------------------------------ -------------------- --------- -------- ---------
    CON_ID
----------
FILE
/u01/app/oracle/admin/ORCL/wallet/tde/
OPEN                           PASSWORD             SECONDARY NONE     NO
         0


2 rows selected.

SQL> ";

/// A united CDB before any master key, with `col wrl_parameter format a40` and LINESIZE 200.
pub(super) const WALLET_CDB_WIDE: &str = "
WRL_TYPE             WRL_PARAMETER                            STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC     CON_ID
-------------------- ---------------------------------------- ------------------------------ -------------------- --------- -------- --------- ----------
FILE                 /u01/app/oracle/admin/CDB1/wallet/tde/   OPEN_NO_MASTER_KEY             PASSWORD             SINGLE    NONE     UNDEFINED          1
FILE                                                          OPEN_NO_MASTER_KEY             PASSWORD             SINGLE    UNITED   UNDEFINED          2
FILE                                                          OPEN_NO_MASTER_KEY             PASSWORD             SINGLE    UNITED   UNDEFINED          3
";

const WALLET_CSV: &str = r#"SQL> set markup csv on
SQL> select * from v$encryption_wallet;

"WRL_TYPE","WRL_PARAMETER","STATUS","WALLET_TYPE","WALLET_ORDER","KEYSTORE_MODE","FULLY_BACKED_UP","CON_ID"
"HSM",,"OPEN","HSM","PRIMARY","NONE","UNDEFINED",0
"FILE","/u01/app/oracle/admin/ORCL/wallet/tde/","OPEN","PASSWORD","SECONDARY","NONE","NO",0
"#;

pub(super) fn col<'a>(r: &'a Row, c: &str) -> &'a str {
    r.get(c).unwrap_or_else(|| panic!("no column {c} in {r:?}"))
}

#[test]
fn wallet_at_linesize_80_with_repeated_headers_and_a_blank_hsm_parameter() {
    let rows = parse_view(WALLET_80, View::EncryptionWallet).unwrap();
    assert_eq!(rows.len(), 2);
    let cols: Vec<&str> = rows[0].0.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cols, WALLET_COLUMNS, "cut headers become full names");
    assert_eq!(col(&rows[0], "WRL_TYPE"), "HSM");
    assert_eq!(col(&rows[0], "WRL_PARAMETER"), "");
    assert_eq!(col(&rows[0], "STATUS"), "OPEN");
    assert_eq!(col(&rows[0], "WALLET_ORDER"), "PRIMARY");
    assert_eq!(col(&rows[0], "FULLY_BACKED_UP"), "UNDEFINED");
    assert_eq!(col(&rows[0], "CON_ID"), "0");
    assert_eq!(col(&rows[1], "WRL_TYPE"), "FILE");
    assert_eq!(
        col(&rows[1], "WRL_PARAMETER"),
        "/u01/app/oracle/admin/ORCL/wallet/tde/"
    );
    assert_eq!(col(&rows[1], "WALLET_ORDER"), "SECONDARY");
    assert_eq!(col(&rows[1], "KEYSTORE_MODE"), "NONE");
}

#[test]
fn cdb_rows_with_con_id_and_open_no_master_key() {
    let rows = parse_view(WALLET_CDB_WIDE, View::EncryptionWallet).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| col(r, "STATUS") == "OPEN_NO_MASTER_KEY")
    );
    assert_eq!(
        rows.iter().map(|r| col(r, "CON_ID")).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(col(&rows[1], "KEYSTORE_MODE"), "UNITED");
    assert_eq!(col(&rows[1], "WRL_PARAMETER"), "");
}

#[test]
fn csv_markup_equals_the_column_layout() {
    let csv = parse_view(WALLET_CSV, View::EncryptionWallet).unwrap();
    let cols = parse_view(WALLET_80, View::EncryptionWallet).unwrap();
    assert_eq!(csv, cols);
}

#[test]
fn no_rows_errors_and_the_wrong_query() {
    assert_eq!(
        parse_view(
            "SQL> select * from v$encryption_keys;\n\nno rows selected\n\nSQL> ",
            View::EncryptionKeys
        )
        .unwrap(),
        Vec::<Row>::new()
    );
    let e = parse_view(
        "SELECT * FROM V$ENCRYPTION_WALLET\n              *\nERROR at line 1:\nORA-00942: table or view does not exist\n",
        View::EncryptionWallet,
    )
    .unwrap_err();
    assert_eq!(
        e,
        ParseError::Oracle(OraError {
            code: "ORA-00942".into(),
            text: "table or view does not exist".into()
        })
    );
    let keys_text = "KEY_ID                                               TAG\n---------------------------------------------------- ----\nAQIDBAUGBwgJCgsMDQ4PEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA q4\n";
    let e = parse_view(keys_text, View::EncryptionWallet).unwrap_err();
    assert!(matches!(e, ParseError::WrongColumns { .. }), "{e}");
    assert!(e.to_string().contains("another query"), "{e}");
    let e = parse_view("hello\nworld\n", View::EncryptionWallet).unwrap_err();
    assert!(matches!(e, ParseError::NoTable { .. }));
    // Cut in the middle of a wrapped row.
    let cut: String = WALLET_80.lines().take(12).collect::<Vec<_>>().join("\n");
    assert!(matches!(
        parse_view(&cut, View::EncryptionWallet),
        Err(ParseError::Misaligned { .. })
    ));
}

#[test]
fn errors_and_parameters() {
    let errs = ora_errors(
        "ADMINISTER KEY MANAGEMENT ...\n*\nERROR at line 1:\nORA-28353: failed to open wallet\nORA-06512: at line 3\n",
    );
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].code, "ORA-28353");
    assert_eq!(errs[0].text, "failed to open wallet");
    assert_eq!(
        parse_error("ORA-46631: keystore needs to be backed up")
            .unwrap()
            .code,
        "ORA-46631"
    );
    assert_eq!(parse_error("all fine"), Err(ParseError::NoError));

    let p = parse_parameters(
        "SQL> show parameter wallet_root\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\nwallet_root                          string      /u01/app/oracle/admin/ORCL/wal\n                                                 let\n",
    )
    .unwrap();
    assert_eq!(
        p,
        [Parameter {
            name: "wallet_root".into(),
            kind: "string".into(),
            value: "/u01/app/oracle/admin/ORCL/wallet".into()
        }]
    );
    let p = parse_parameters("NAME              TYPE   VALUE\n----------------- ------ ------------------------------\ntde_configuration string KEYSTORE_CONFIGURATION=HSM|FILE\n").unwrap();
    assert_eq!(p[0].value, "KEYSTORE_CONFIGURATION=HSM|FILE");
}

/// The rows as SQL*Plus prints them after the prompt and the echoed query.
pub(super) fn render(
    cols: &[Column],
    rows: &[Vec<String>],
    linesize: usize,
    pagesize: usize,
) -> String {
    format!(
        "SQL> select * from v$encryption_keys;\n{}SQL> ",
        render_table(cols, rows, Layout::Columns { linesize, pagesize })
    )
}

#[test]
fn the_renderer_prints_what_sqlplus_printed() {
    let rows = parse_view(WALLET_80, View::EncryptionWallet).unwrap();
    let text = render_rows(View::EncryptionWallet, &rows, Layout::DEFAULT);
    let printed = WALLET_80
        .strip_prefix("SQL> SELECT * FROM V$ENCRYPTION_WALLET;\n")
        .and_then(|t| t.strip_suffix("SQL> "))
        .unwrap();
    assert_eq!(text, printed);
    let csv = render_rows(View::EncryptionWallet, &rows, Layout::Csv);
    let printed = WALLET_CSV
        .strip_prefix("SQL> set markup csv on\nSQL> select * from v$encryption_wallet;\n\n")
        .unwrap();
    assert!(csv.starts_with(printed), "{csv}");
}

pub(super) fn keys_fixture() -> (Vec<Column>, Vec<Vec<String>>) {
    let widths: Vec<Column> = KEYS_COLUMNS
        .iter()
        .map(|c| view_column(Some(View::EncryptionKeys), c))
        .collect();
    let rows: Vec<Vec<String>> = (0..5)
        .map(|n| {
            widths
                .iter()
                .map(|col| match col.name.as_str() {
                    "KEY_ID" => crate::tde::labels::hsm_key_id(&crate::tde::labels::MasterKeyId(
                        [n as u8 + 1; 16],
                    )),
                    "KEYSTORE_TYPE" => "HSM".into(),
                    "TAG" if n == 2 => String::new(),
                    "CON_ID" => (n % 3).to_string(),
                    "ACTIVATION_TIME" => format!("24-NOV-26 05.0{n}.00.000000 AM +00:00"),
                    _ if col.numeric => (1000 + n).to_string(),
                    _ => format!("v{n}"),
                })
                .collect()
        })
        .collect();
    (widths, rows)
}

#[test]
fn keys_at_any_linesize_and_pagesize() {
    let (cols, rows) = keys_fixture();
    for linesize in [80, 132, 1000] {
        for pagesize in [14, 100, 50_000] {
            let text = render(&cols, &rows, linesize, pagesize);
            let parsed = parse_view(&text, View::EncryptionKeys)
                .unwrap_or_else(|e| panic!("linesize {linesize} pagesize {pagesize}: {e}\n{text}"));
            assert_eq!(
                parsed.len(),
                rows.len(),
                "linesize {linesize} pagesize {pagesize}"
            );
            for (p, r) in parsed.iter().zip(&rows) {
                let names: Vec<&str> = p.0.iter().map(|(c, _)| c.as_str()).collect();
                assert_eq!(names, KEYS_COLUMNS, "linesize {linesize}");
                for ((_, got), want) in p.0.iter().zip(r) {
                    assert_eq!(got, want, "linesize {linesize} pagesize {pagesize}");
                }
            }
        }
    }
}

#[test]
fn parsers_never_panic_on_mangled_input() {
    let (cols, rows) = keys_fixture();
    mangle_and_parse(
        &[
            WALLET_80.to_owned(),
            WALLET_CDB_WIDE.to_owned(),
            WALLET_CSV.to_owned(),
            render(&cols, &rows, 80, 14),
        ],
        3000,
    );
}

/// Mangles `seeds` in `rounds` ways (cuts, insertions of the characters that matter, repeats)
/// and reads each result with every parser: none may panic.
pub(super) fn mangle_and_parse(seeds: &[String], rounds: usize) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet: Vec<char> = "-\n \r\t\u{c}\"',|>ORA-0123456789é€\u{0}".chars().collect();
    for round in 0..rounds {
        let mut s: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..(1 + next() % 8) {
            let at = (next() as usize) % (s.len() + 1);
            match next() % 4 {
                0 if !s.is_empty() => {
                    let end = (at + (next() as usize % 40)).min(s.len());
                    s.drain(at.min(s.len())..end);
                }
                1 => s.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                2 if !s.is_empty() => s.truncate(at),
                _ => {
                    let dup: Vec<char> = s[at.min(s.len())..(at + 30).min(s.len())].to_vec();
                    s.splice(at.min(s.len())..at.min(s.len()), dup);
                }
            }
        }
        let text: String = s.into_iter().collect();
        let _ = parse_view(&text, View::EncryptionWallet);
        let _ = parse_view(&text, View::EncryptionKeys);
        let _ = parse_parameters(&text);
        let _ = parse_table(&text, &["A", "STATUS", "KEY_ID"], "t");
        let _ = ora_errors(&text);
        let _ = after_prompt(&text);
    }
}
