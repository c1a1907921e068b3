//! Constructed inputs (written for these tests, not real outputs; the real ones are in
//! tests/fixtures/oracle/ and tests/oracle_fixtures.rs): one test per way a real paste differs
//! from the plain layout.

use crate::tde::output::tests::{
    WALLET_80, WALLET_CDB_WIDE, col, keys_fixture, mangle_and_parse, render,
};
use crate::tde::output::*;

/// What SQL*Plus's default `SET TAB ON` prints for `text`: in each run of blanks, every stretch
/// that ends on a tab stop (every 8 columns) and is longer than one blank becomes a TAB.
fn tabify(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            let mut out = String::new();
            let mut i = 0;
            while i < chars.len() {
                if chars[i] != ' ' {
                    out.push(chars[i]);
                    i += 1;
                    continue;
                }
                let end = (i..chars.len())
                    .find(|&j| chars[j] != ' ')
                    .unwrap_or(chars.len());
                let mut pos = i;
                while (pos / 8 + 1) * 8 <= end {
                    let stop = (pos / 8 + 1) * 8;
                    out.push(if stop - pos >= 2 { '\t' } else { ' ' });
                    pos = stop;
                }
                out.extend(std::iter::repeat_n(' ', end - pos));
                i = end;
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn values<'a>(rows: &'a [Row], column: &str) -> Vec<&'a str> {
    rows.iter().map(|r| col(r, column)).collect()
}

fn names(r: &Row) -> Vec<&str> {
    r.0.iter().map(|(c, _)| c.as_str()).collect()
}

#[test]
fn tabs_of_set_tab_on_are_expanded_to_8_column_stops() {
    let tabbed = tabify(WALLET_80);
    assert!(tabbed.contains("OPEN\t\t\t       HSM"), "{tabbed}");
    assert_eq!(
        parse_view(&tabbed, View::EncryptionWallet).unwrap(),
        parse_view(WALLET_80, View::EncryptionWallet).unwrap()
    );
    let tabbed = tabify(WALLET_CDB_WIDE);
    assert_eq!(
        parse_view(&tabbed, View::EncryptionWallet).unwrap(),
        parse_view(WALLET_CDB_WIDE, View::EncryptionWallet).unwrap()
    );
    let (cols, rows) = keys_fixture();
    for linesize in [80, 132, 1000] {
        let text = render(&cols, &rows, linesize, 14);
        assert_eq!(
            parse_view(&tabify(&text), View::EncryptionKeys).unwrap(),
            parse_view(&text, View::EncryptionKeys).unwrap(),
            "linesize {linesize}"
        );
    }
    // A TAB that is not at the start of a stop is expanded from where it stands.
    let text = "WRL_TYPE\t     STATUS\n-------------------- ----------\nHSM\t\t     OPEN\n";
    let rows = parse_view(text, View::EncryptionWallet).unwrap();
    assert_eq!(
        (col(&rows[0], "WRL_TYPE"), col(&rows[0], "STATUS")),
        ("HSM", "OPEN")
    );
}

/// A DBA's session: settings, the keys, a statement, the wallet twice (before and after), the
/// feedback of each, in CRLF.
const SESSION: &str = "SQL> set linesize 200 pagesize 100
SQL> alter session set nls_timestamp_tz_format='YYYY-MM-DD HH24:MI:SS TZH:TZM';

Session altered.

SQL> select key_id, keystore_type, creation_time from v$encryption_keys;

KEY_ID                                                                         KEYSTORE_TYPE     CREATION_TIME
------------------------------------------------------------------------------ ----------------- ---------------------------------------------------------------------------
0615A5142C9E2D3C2F18FD435814257DFD                                             HSM               2024-11-26 05:00:00 +00:00
AQIDBAUGBwgJCgsMDQ4PEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA                           SOFTWARE KEYSTORE 2023-01-02 10:11:12 +00:00

SQL> select wrl_type, wrl_parameter, status, wallet_order from v$encryption_wallet;

WRL_TYPE             WRL_PARAMETER                                      STATUS                         WALLET_OR
-------------------- -------------------------------------------------- ------------------------------ ---------
FILE                 /u01/app/oracle/admin/ORCL/wallet/tde/             OPEN                           SINGLE

SQL> ALTER SYSTEM SET TDE_CONFIGURATION=\"KEYSTORE_CONFIGURATION=HSM|FILE\" SCOPE=BOTH;

System altered.

SQL> ADMINISTER KEY MANAGEMENT SET ENCRYPTION KEY IDENTIFIED BY \"cu_user:pw\" MIGRATE USING \"pw2\";

keystore altered.

SQL> select wrl_type, wrl_parameter, status, wallet_order from v$encryption_wallet;

WRL_TYPE             WRL_PARAMETER                                      STATUS                         WALLET_OR
-------------------- -------------------------------------------------- ------------------------------ ---------
HSM                                                                     OPEN                           PRIMARY
FILE                 /u01/app/oracle/admin/ORCL/wallet/tde/             OPEN                           SECONDARY

SQL> exit
";

#[test]
fn a_session_of_several_statements_gives_each_view_its_own_result() {
    let crlf = SESSION.replace('\n', "\r\n");
    for text in [SESSION.to_owned(), crlf] {
        let wallet = parse_view(&text, View::EncryptionWallet).unwrap();
        assert_eq!(
            values(&wallet, "WRL_TYPE"),
            ["HSM", "FILE"],
            "the last result"
        );
        assert_eq!(values(&wallet, "WALLET_ORDER"), ["PRIMARY", "SECONDARY"]);
        assert_eq!(
            values(&wallet, "WRL_PARAMETER")[1],
            "/u01/app/oracle/admin/ORCL/wallet/tde/"
        );
        assert_eq!(
            names(&wallet[0]),
            ["WRL_TYPE", "WRL_PARAMETER", "STATUS", "WALLET_ORDER"]
        );
        let keys = parse_view(&text, View::EncryptionKeys).unwrap();
        assert_eq!(
            values(&keys, "KEY_ID"),
            [
                "0615A5142C9E2D3C2F18FD435814257DFD",
                "AQIDBAUGBwgJCgsMDQ4PEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ]
        );
        assert_eq!(values(&keys, "KEYSTORE_TYPE"), ["HSM", "SOFTWARE KEYSTORE"]);
        assert_eq!(
            values(&keys, "CREATION_TIME")[0],
            "2024-11-26 05:00:00 +00:00"
        );
    }
    // `sqlplus -S`: no prompt, no echo, feedback only; the keys' result is never the wallet's.
    let silent = "\nKEY_ID                                               TAG\n---------------------------------------------------- ----\nAQIDBAUGBwgJCgsMDQ4PEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA q4\n\n\nSession altered.\n\n\nWRL_TYPE             STATUS\n-------------------- ------------------------------\nFILE                 CLOSED\n\n";
    let wallet = parse_view(silent, View::EncryptionWallet).unwrap();
    assert_eq!(values(&wallet, "STATUS"), ["CLOSED"]);
    assert_eq!(names(&wallet[0]), ["WRL_TYPE", "STATUS"]);
    let keys = parse_view(silent, View::EncryptionKeys).unwrap();
    assert_eq!(values(&keys, "TAG"), ["q4"]);
    // The keys asked when the paste only queried the wallet and another view.
    let other = "SQL> select status from v$instance;\n\nSTATUS\n------------\nOPEN\n\nSQL> select status from v$encryption_wallet;\n\nSTATUS\n------------------------------\nOPEN_NO_MASTER_KEY\n";
    assert_eq!(
        values(
            &parse_view(other, View::EncryptionWallet).unwrap(),
            "STATUS"
        ),
        ["OPEN_NO_MASTER_KEY"]
    );
    let e = parse_view(other, View::EncryptionKeys).unwrap_err();
    assert!(matches!(e, ParseError::WrongColumns { .. }), "{e}");
    // V$INSTANCE's STATUS alone is no wallet's.
    let instance = "SQL> select status from v$instance;\n\nSTATUS\n------------\nOPEN\n";
    assert!(parse_view(instance, View::EncryptionWallet).is_err());
}

#[test]
fn column_sets_of_12_1_gv_and_23ai_are_read_and_unknown_columns_kept() {
    // 12.1: no KEYSTORE_MODE.
    let v121 = "WRL_TYPE             WRL_PARAMETER                            STATUS                         WALLET_TYPE          WALLET_OR FULLY_BAC     CON_ID\n-------------------- ---------------------------------------- ------------------------------ -------------------- --------- --------- ----------\nFILE                 /etc/ORACLE/WALLETS/orcl/                OPEN                           PASSWORD             SINGLE    NO                 0\n";
    let rows = parse_view(v121, View::EncryptionWallet).unwrap();
    assert_eq!(
        names(&rows[0]),
        [
            "WRL_TYPE",
            "WRL_PARAMETER",
            "STATUS",
            "WALLET_TYPE",
            "WALLET_ORDER",
            "FULLY_BACKED_UP",
            "CON_ID"
        ]
    );
    assert_eq!(rows[0].get("KEYSTORE_MODE"), None);
    assert_eq!(col(&rows[0], "FULLY_BACKED_UP"), "NO");
    // GV$: INST_ID first, two instances of a RAC.
    let gv = "   INST_ID WRL_TYPE             STATUS                             CON_ID\n---------- -------------------- ------------------------------ ----------\n         1 HSM                  OPEN                                    0\n         2 HSM                  OPEN                                    0\n";
    let rows = parse_view(gv, View::EncryptionWallet).unwrap();
    assert_eq!(names(&rows[0]), ["INST_ID", "WRL_TYPE", "STATUS", "CON_ID"]);
    assert_eq!(values(&rows, "INST_ID"), ["1", "2"]);
    // 23ai: HEX_MKID after KEY_ID, and a column nobody knows yet.
    let v23 = "KEY_ID                                             HEX_MKID                         KEYSTORE_TYPE     NEW_23AI_COLUMN\n-------------------------------------------------- -------------------------------- ----------------- ---------------\n0615A5142C9E2D3C2F18FD435814257DFD                 15A5142C9E2D3C2F18FD435814257DFD HSM               x y\n";
    let rows = parse_view(v23, View::EncryptionKeys).unwrap();
    assert_eq!(
        names(&rows[0]),
        ["KEY_ID", "HEX_MKID", "KEYSTORE_TYPE", "NEW_23AI_COLUMN"]
    );
    assert_eq!(
        col(&rows[0], "HEX_MKID"),
        "15A5142C9E2D3C2F18FD435814257DFD"
    );
    assert_eq!(col(&rows[0], "NEW_23AI_COLUMN"), "x y");
}

#[test]
fn csv_quoted_padded_and_quote_off() {
    let quoted = "SQL> set markup csv on\nSQL> select * from gv$encryption_wallet;\n\"INST_ID\",\"WRL_TYPE\",\"WRL_PARAMETER\",\"STATUS\",\"WALLET_TYPE\",\"WALLET_ORDER\",\"KEYSTORE_MODE\",\"FULLY_BACKED_UP\",\"CON_ID\"\n1,\"HSM\",,\"OPEN\",\"HSM\",\"PRIMARY\",\"NONE\",\"UNDEFINED\",1\n1,\"FILE\",\"/u01/a,b/\"\"q\"\"/\",\"OPEN\",\"PASSWORD\",\"SECONDARY\",\"NONE\",\"NO\",1\n\nSQL> ";
    let rows = parse_view(quoted, View::EncryptionWallet).unwrap();
    assert_eq!(values(&rows, "WRL_PARAMETER"), ["", "/u01/a,b/\"q\"/"]);
    assert_eq!(values(&rows, "INST_ID"), ["1", "1"]);
    let padded = "\"WRL_TYPE\",\"WRL_PARAMETER\"          ,\"STATUS\" ,\"CON_ID\"\n\"FILE\"    ,\"/u01/app/wallet/tde/\",\"CLOSED\",         1\n\"FILE\"    ,                       ,\"CLOSED\",         2\n";
    let rows = parse_view(padded, View::EncryptionWallet).unwrap();
    assert_eq!(values(&rows, "WRL_PARAMETER"), ["/u01/app/wallet/tde/", ""]);
    assert_eq!(values(&rows, "CON_ID"), ["1", "2"]);
    let off = "SQL> set markup csv on quote off\nSQL> select key_id, keystore_type, con_id from v$encryption_keys;\nKEY_ID,KEYSTORE_TYPE,CON_ID\n0615A5142C9E2D3C2F18FD435814257DFD,HSM,0\nAQIDBAUGBwgJCgsMDQ4PEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,SOFTWARE KEYSTORE,0\n\n2 rows selected.\n";
    let rows = parse_view(off, View::EncryptionKeys).unwrap();
    assert_eq!(values(&rows, "KEYSTORE_TYPE"), ["HSM", "SOFTWARE KEYSTORE"]);
    // A row with a comma in an unquoted value cannot be read exactly: refused.
    let bad = "KEY_ID,TAG,CON_ID\n0615A5142C9E2D3C2F18FD435814257DFD,q3,2024,0\n";
    let e = parse_view(bad, View::EncryptionKeys).unwrap_err();
    assert!(
        matches!(&e, ParseError::Misaligned { detail } if detail.contains("4 values for the 3 columns")),
        "{e}"
    );
    // The count in the feedback line must match.
    let short = off.replace("2 rows selected.", "3 rows selected.");
    let e = parse_view(&short, View::EncryptionKeys).unwrap_err();
    assert!(
        e.to_string().contains("3 rows were selected, but 2 rows"),
        "{e}"
    );
}

/// LINESIZE 80, a WRL_PARAMETER longer than its 80 columns, an HSM row, the page header
/// repeated (PAGESIZE 14).
const WALLET_80_LONG: &str = "SQL> select * from v$encryption_wallet;

WRL_TYPE
--------------------
WRL_PARAMETER
--------------------------------------------------------------------------------
STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC
------------------------------ -------------------- --------- -------- ---------
    CON_ID
----------
FILE
/u01/app/oracle/admin/A_DATABASE_WITH_A_VERY_LONG_NAME_FOR_THIS/wallet_root_dir/
tde/
OPEN                           PASSWORD             SECONDARY NONE     NO
         1


WRL_TYPE
--------------------
WRL_PARAMETER
--------------------------------------------------------------------------------
STATUS                         WALLET_TYPE          WALLET_OR KEYSTORE FULLY_BAC
------------------------------ -------------------- --------- -------- ---------
    CON_ID
----------
HSM

OPEN_UNKNOWN_MASTER_KEY_STATUS HSM                  PRIMARY   NONE     UNDEFINED
         1

";

#[test]
fn values_wrapped_in_their_column_and_rows_wrapped_over_header_lines() {
    let rows = parse_view(WALLET_80_LONG, View::EncryptionWallet).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        col(&rows[0], "WRL_PARAMETER"),
        "/u01/app/oracle/admin/A_DATABASE_WITH_A_VERY_LONG_NAME_FOR_THIS/wallet_root_dir/tde/"
    );
    assert_eq!(col(&rows[0], "STATUS"), "OPEN");
    assert_eq!(col(&rows[0], "WALLET_ORDER"), "SECONDARY");
    assert_eq!(col(&rows[1], "WRL_PARAMETER"), "");
    assert_eq!(col(&rows[1], "STATUS"), "OPEN_UNKNOWN_MASTER_KEY_STATUS");
    assert_eq!(col(&rows[1], "WALLET_ORDER"), "PRIMARY");
    assert_eq!(values(&rows, "CON_ID"), ["1", "1"]);

    // `col wrl_parameter format a20` at LINESIZE 200: the path goes on under its column, the
    // HSM row after it; headings cut to 20 and 9.
    let a20 = "WRL_TYPE             WRL_PARAMETE STATUS                         WALLET_OR\n-------------------- ------------ ------------------------------ ---------\nFILE                 /u01/app/ora OPEN                           SECONDARY\n                     cle/admin/OR\n                     CL/wallet/\n\nHSM                               OPEN                           PRIMARY\n";
    let rows = parse_view(a20, View::EncryptionWallet).unwrap();
    assert_eq!(
        values(&rows, "WRL_PARAMETER"),
        ["/u01/app/oracle/admin/ORCL/wallet/", ""]
    );
    assert_eq!(values(&rows, "WALLET_ORDER"), ["SECONDARY", "PRIMARY"]);
    assert_eq!(
        names(&rows[0]),
        ["WRL_TYPE", "WRL_PARAMETER", "STATUS", "WALLET_ORDER"]
    );

    // A time wrapped in a 10-wide column where the cut falls on a blank, then a second row.
    let times = "KEY_ID                             CREATION_T\n---------------------------------- ----------\n0615A5142C9E2D3C2F18FD435814257DFD 24-NOV-26 \n                                   05.00.00.0\n                                   00000 AM +\n                                   00:00\n\n06AABBCCDDEEFF00112233445566778899 25-NOV-26 \n                                   06.00.00.0\n                                   00000 PM +\n                                   00:00\n\n";
    let rows = parse_view(times, View::EncryptionKeys).unwrap();
    assert_eq!(
        values(&rows, "CREATION_TIME"),
        [
            "24-NOV-26 05.00.00.000000 AM +00:00",
            "25-NOV-26 06.00.00.000000 PM +00:00"
        ]
    );

    // SELECT WRL_PARAMETER, STATUS at LINESIZE 80: each on its own line, the HSM row's first
    // line blank.
    let blank_first = "WRL_PARAMETER\n--------------------------------------------------------------------------------\nSTATUS\n------------------------------\n\nOPEN\n\n/u01/app/oracle/admin/ORCL/wallet/tde/\nOPEN\n\n";
    let rows = parse_view(blank_first, View::EncryptionWallet).unwrap();
    assert_eq!(
        values(&rows, "WRL_PARAMETER"),
        ["", "/u01/app/oracle/admin/ORCL/wallet/tde/"]
    );
    assert_eq!(values(&rows, "STATUS"), ["OPEN", "OPEN"]);

    // SHOW PARAMETER's VALUE wrapped at 30.
    let p = parse_parameters("SQL> show parameter tde_configuration\n\nNAME                                 TYPE        VALUE\n------------------------------------ ----------- ------------------------------\ntde_configuration                    string      KEYSTORE_CONFIGURATION=HSM|FIL\n                                                 E\n").unwrap();
    assert_eq!(p[0].value, "KEYSTORE_CONFIGURATION=HSM|FILE");
}

#[test]
fn some_columns_in_any_order_with_aliases_and_headings() {
    let text = "SQL> col wrl_parameter heading 'Location' format a40\nSQL> select status, con_id, wrl_type as type, wrl_parameter from v$encryption_wallet;\n\nSTATUS                             CON_ID TYPE                 Location\n------------------------------ ---------- -------------------- ----------------------------------------\nOPEN                                    1 FILE                 /u01/app/oracle/admin/CDB1/wallet/tde/\nOPEN                                    2 FILE\n";
    let rows = parse_view(text, View::EncryptionWallet).unwrap();
    assert_eq!(
        names(&rows[0]),
        ["STATUS", "CON_ID", "WRL_TYPE", "WRL_PARAMETER"]
    );
    assert_eq!(
        values(&rows, "WRL_PARAMETER"),
        ["/u01/app/oracle/admin/CDB1/wallet/tde/", ""]
    );
    assert_eq!(values(&rows, "CON_ID"), ["1", "2"]);
    // Keys: a few columns, a heading cut to its column, a join's other columns kept.
    let keys = "SQL> select p.name pdb, k.key_id, k.keystore_type from v$encryption_keys k, v$pdbs p where p.con_id = k.con_id;\n\nPDB      KEY_ID                             KEYSTORE\n-------- ---------------------------------- --------\nPDB1     0615A5142C9E2D3C2F18FD435814257DFD HSM\n";
    let rows = parse_view(keys, View::EncryptionKeys).unwrap();
    assert_eq!(names(&rows[0]), ["PDB", "KEY_ID", "KEYSTORE_TYPE"]);
    assert_eq!(col(&rows[0], "PDB"), "PDB1");
}

#[test]
fn both_forms_of_key_id_are_read_as_printed() {
    let id = crate::tde::labels::MasterKeyId([0x15; 16]);
    let hex = id.use_key_id();
    let b64 = crate::tde::labels::format_key_id(0x01, &id);
    assert_eq!((hex.len(), b64.len()), (34, 52));
    let text = format!(
        "KEY_ID                                                                         KEYSTORE_TYPE\n------------------------------------------------------------------------------ -----------------\n{hex:<78} HSM\n{b64:<78} SOFTWARE KEYSTORE\n"
    );
    let rows = parse_view(&text, View::EncryptionKeys).unwrap();
    assert_eq!(values(&rows, "KEY_ID"), [hex.as_str(), b64.as_str()]);
}

#[test]
fn crlf_trailing_blanks_blank_lines_and_repeated_pages() {
    let messy: String = WALLET_80.lines().map(|l| format!("{l}   \r\n")).collect();
    let messy = format!("\r\n\r\n{messy}\r\n\r\n");
    assert_eq!(
        parse_view(&messy, View::EncryptionWallet).unwrap(),
        parse_view(WALLET_80, View::EncryptionWallet).unwrap()
    );
    // SET NEWPAGE 0: a form feed before each page's header.
    let ff = WALLET_80.replace("\n\nWRL_TYPE\n", "\n\u{c}WRL_TYPE\n");
    assert_eq!(parse_view(&ff, View::EncryptionWallet).unwrap().len(), 2);
    // PAGESIZE 6 at a wide LINESIZE: the header again every 3 rows.
    let page = "\nWRL_TYPE             STATUS                             CON_ID\n-------------------- ------------------------------ ----------\n";
    let row =
        |n: usize| format!("FILE                 OPEN                                    {n}\n");
    let text = format!(
        "{page}{}{}{}{page}{}{}\n5 rows selected.\n",
        row(1),
        row(2),
        row(3),
        row(4),
        row(5)
    );
    let rows = parse_view(&text, View::EncryptionWallet).unwrap();
    assert_eq!(values(&rows, "CON_ID"), ["1", "2", "3", "4", "5"]);
}

#[test]
fn rows_that_cannot_be_read_exactly_are_refused_with_the_reason() {
    let header = "WRL_TYPE             WRL_PARAMETER        STATUS                         WALLET_OR\n-------------------- -------------------- ------------------------------ ---------\n";
    // The HSM row's empty WRL_PARAMETER squeezed out: STATUS under WRL_PARAMETER.
    let shifted = format!(
        "{header}FILE                 /u01/w/              OPEN                           SINGLE\nHSM                  OPEN                 HSM                            SINGLE\n"
    );
    let e = parse_view(&shifted, View::EncryptionWallet).unwrap_err();
    assert!(
        e.to_string()
            .contains("line 4 of the text: its STATUS is \"HSM\""),
        "{e}"
    );
    // A value between two columns.
    let between = format!(
        "{header}FILE                 /u01/wallet/dir/tde/x OPEN                           SINGLE\n"
    );
    let e = parse_view(&between, View::EncryptionWallet).unwrap_err();
    assert!(e.to_string().contains("between two columns"), "{e}");
    // A value that does not start under its header.
    let indented = format!(
        "{header}FILE                   /u01/w/            OPEN                           SINGLE\n"
    );
    let e = parse_view(&indented, View::EncryptionWallet).unwrap_err();
    assert!(
        e.to_string().contains("WRL_PARAMETER value is not where"),
        "{e}"
    );
    // A number not under its column's end.
    let con = "WRL_TYPE             STATUS                             CON_ID\n-------------------- ------------------------------ ----------\nFILE                 OPEN                           1\n";
    let e = parse_view(con, View::EncryptionWallet).unwrap_err();
    assert!(e.to_string().contains("CON_ID value is not where"), "{e}");
    // A wrapped row cut short.
    let cut: String = WALLET_80_LONG
        .lines()
        .take(14)
        .collect::<Vec<_>>()
        .join("\n");
    let e = parse_view(&cut, View::EncryptionWallet).unwrap_err();
    assert!(matches!(e, ParseError::Misaligned { .. }), "{e}");
    // Column names that do not stand over their dashes (an edited output).
    let edited = "WRL_TYPE   WRL_PARAMETER     STATUS\n---------- ---------- ------------------\nFILE       /u01/w/           OPEN\n";
    let e = parse_view(edited, View::EncryptionWallet).unwrap_err();
    assert!(
        e.to_string().contains("do not stand over their dashes"),
        "{e}"
    );
    // A header with no row under it.
    let e = parse_view(header, View::EncryptionWallet).unwrap_err();
    assert!(e.to_string().contains("no row under it"), "{e}");
    // The count said by the feedback line.
    let counted = format!(
        "{header}FILE                 /u01/w/              OPEN                           SINGLE\n\n7 rows selected.\n"
    );
    let e = parse_view(&counted, View::EncryptionWallet).unwrap_err();
    assert!(e.to_string().contains("says 7 rows"), "{e}");
}

/// Real outputs (tests/fixtures/oracle/) and the constructed ones above, mangled: no parser
/// panics.
#[test]
fn parsers_never_panic_on_mangled_real_and_constructed_pastes() {
    let seeds = [
        include_str!(
            "../../../../tests/fixtures/oracle/wallet/19c-cdb-3-containers-file-open-password-wrapped-tabs-livelabs-hybrid-adg.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/wallet/19c-gv-inst-id-file-open-password-livelabs.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/wallet/23ai-free-cdb-file-closed-unknown-csv.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/wallet/19c-se2-dbcs-file-open-autologin-wrl-parameter-wrapped.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/keys/12.1-software-keys-3-rows-backed-up-tabs.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/keys/19c-software-key-pdb1-creator-syskm-livelabs-jul2020.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/parameters/19c-show-parameter-wallet-root-set-value-wrapped-linhong.txt"
        ),
        include_str!(
            "../../../../tests/fixtures/oracle/feedback/ora-28407-set-key-identified-by-external-store-okv-ckr-function-failed.txt"
        ),
        SESSION,
        WALLET_80_LONG,
    ];
    let mut seeds: Vec<String> = seeds.iter().map(|s| (*s).to_owned()).collect();
    seeds.push(tabify(WALLET_80_LONG));
    seeds.push(SESSION.replace('\n', "\r\n"));
    mangle_and_parse(&seeds, 3000);
}
