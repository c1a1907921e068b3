//! What the views' columns hold: NUMBER columns, the closed sets of values of some columns, the
//! columns never empty; used to read each line under the right header line and to refuse a row
//! whose value stands under the wrong column.

use super::{ParseError, Row, View, columns};

/// Columns Oracle prints as NUMBER (right-aligned, never wrapped), in any of these views.
pub(super) const NUMBER_COLUMNS: &[&str] = &[
    "CON_ID",
    "INST_ID",
    "CREATOR_ID",
    "USER_ID",
    "CREATOR_DBID",
    "CREATOR_INSTANCE_NUMBER",
    "CREATOR_INSTANCE_SERIAL",
    "CREATOR_PDBID",
    "CREATOR_PDBUID",
    "ACTIVATING_DBID",
    "ACTIVATING_INSTANCE_NUMBER",
    "ACTIVATING_INSTANCE_SERIAL",
    "ACTIVATING_PDBID",
    "ACTIVATING_PDBUID",
    "TS#",
    "KEY_VERSION",
    "BLOCKS_ENCRYPTED",
    "BLOCKS_DECRYPTED",
];

/// V$ENCRYPTION_WALLET.STATUS values (the same as [`crate::tde::views::WalletStatus`]).
const STATUSES: &[&str] = &[
    "CLOSED",
    "NOT_AVAILABLE",
    "OPEN",
    "OPEN_NO_MASTER_KEY",
    "OPEN_UNKNOWN_MASTER_KEY_STATUS",
    "UNDEFINED",
];
const WALLET_ORDERS: &[&str] = &["SINGLE", "PRIMARY", "SECONDARY"];
const KEYSTORE_MODES: &[&str] = &["NONE", "UNITED", "ISOLATED"];
const FULLY_BACKED_UP: &[&str] = &["YES", "NO", "UNDEFINED"];
const YES_NO: &[&str] = &["YES", "NO"];

/// The width SQL*Plus gives a column by its type when no COLUMN format says otherwise, for the
/// columns whose heading it cuts: VARCHAR2(7) ENCRYPTIONALG prints `ENCRYPT`, VARCHAR2(3)
/// ENCRYPTEDTS and MASTERKEY_ACTIVATED print `ENC` and `MAS` (a real 19c output:
/// tests/fixtures/oracle/tablespaces/19c-exacc-*.txt). A cut heading goes to the column whose
/// width it has before any other it is the start of.
pub(super) fn declared_width(column: &str) -> Option<usize> {
    match column {
        "ENCRYPTIONALG" => Some(7),
        "ENCRYPTEDTS" | "MASTERKEY_ACTIVATED" => Some(3),
        _ => None,
    }
}

/// The longest KEY_ID: 52 characters of base64 (a software keystore's).
const KEY_ID_LEN: usize = 52;

/// What a column of `view` may hold.
pub(super) fn rule(view: Option<View>, column: &str, right_aligned: bool) -> columns::Rule {
    let numeric = NUMBER_COLUMNS.contains(&column) || right_aligned;
    let mut r = columns::Rule {
        numeric,
        ..Default::default()
    };
    let domain = |d: &'static [&'static str]| (Some(d), d.iter().map(|v| v.len()).max());
    match (view, column) {
        (Some(_), "CON_ID" | "INST_ID") => r.non_null = true,
        (Some(View::EncryptionWallet), "WRL_TYPE") => r.non_null = true,
        (Some(View::EncryptionWallet), "STATUS") => {
            r.non_null = true;
            (r.domain, r.max_len) = domain(STATUSES);
        }
        (Some(View::EncryptionWallet), "WALLET_ORDER") => {
            (r.domain, r.max_len) = domain(WALLET_ORDERS)
        }
        (Some(View::EncryptionWallet), "KEYSTORE_MODE") => {
            (r.domain, r.max_len) = domain(KEYSTORE_MODES);
        }
        (Some(View::EncryptionWallet), "FULLY_BACKED_UP") => {
            (r.domain, r.max_len) = domain(FULLY_BACKED_UP);
        }
        (Some(View::DatabaseKeyInfo | View::EncryptedTablespaces), "ENCRYPTEDTS")
        | (Some(View::DatabaseKeyInfo), "MASTERKEY_ACTIVATED") => {
            (r.domain, r.max_len) = domain(YES_NO);
        }
        (Some(View::EncryptedTablespaces), "TS#" | "NAME" | "STATUS") => r.non_null = true,
        (Some(View::EncryptionKeys), "KEY_ID") => {
            r.non_null = true;
            r.max_len = Some(KEY_ID_LEN);
        }
        _ => {}
    }
    r
}

/// Checks the values of read rows against what `view` holds.
pub(super) fn check_rows(rows: &[(usize, Row)], view: Option<View>) -> Result<(), ParseError> {
    let Some(v) = view else {
        return Ok(());
    };
    for (line, row) in rows {
        for (c, value) in &row.0 {
            let r = rule(view, c, false);
            let problem = if value.is_empty() {
                r.non_null.then(|| columns::Problem::Empty(c.clone()))
            } else if r.numeric && !columns::number_like(value) {
                Some(columns::Problem::NotNumber(c.clone()))
            } else if r.domain.is_some_and(|d| !columns::in_domain(d, value)) {
                Some(columns::Problem::Value {
                    column: c.clone(),
                    value: columns::shown(value),
                })
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(ParseError::Misaligned {
                    detail: format!(
                        "the row on line {} of the text: {}",
                        line + 1,
                        p.describe(v.name())
                    ),
                });
            }
        }
    }
    Ok(())
}
