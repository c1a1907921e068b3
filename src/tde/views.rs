//! Typed rows of V$ENCRYPTION_WALLET and V$ENCRYPTION_KEYS: built into the [`Row`]s the
//! parsers in [`crate::tde::output`] produce, and read back from them.

use crate::tde::output::{KEYS_COLUMNS, Row, WALLET_COLUMNS};

/// Why a [`Row`] is not a row of the view.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("The {view} row has no {column} column.")]
    Missing {
        view: &'static str,
        column: &'static str,
    },
    #[error(
        "The {view} row has {value:?} in {column}, which is not a value tdekey knows there.{}",
        time_hint(column)
    )]
    Unexpected {
        view: &'static str,
        column: &'static str,
        value: String,
    },
}

/// For a time stamp tdekey cannot read: the session setting that decides its form.
fn time_hint(column: &str) -> &'static str {
    if column.ends_with("_TIME") {
        " Time stamps are read in the session's default form (24-NOV-26 09.15.02.123456 AM +00:00): run ALTER SESSION SET NLS_TIMESTAMP_TZ_FORMAT='DD-MON-RR HH.MI.SSXFF AM TZH:TZM' and ALTER SESSION SET NLS_DATE_LANGUAGE='AMERICAN' before the query (tdekey's SQL*Plus connector sets both itself)."
    } else {
        ""
    }
}

const WALLET: &str = "V$ENCRYPTION_WALLET";
const KEYS: &str = "V$ENCRYPTION_KEYS";

fn get<'r>(row: &'r Row, view: &'static str, column: &'static str) -> Result<&'r str, RowError> {
    row.get(column).ok_or(RowError::Missing { view, column })
}

fn unexpected(view: &'static str, column: &'static str, value: &str) -> RowError {
    RowError::Unexpected {
        view,
        column,
        value: value.to_owned(),
    }
}

fn parsed<T>(
    row: &Row,
    view: &'static str,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, RowError> {
    let v = get(row, view, column)?;
    parse(v.trim()).ok_or_else(|| unexpected(view, column, v))
}

/// A V$ENCRYPTION_WALLET column that may be absent: `default` then.
fn optional<T>(
    row: &Row,
    column: &'static str,
    parse: impl Fn(&str) -> Option<T>,
    default: T,
) -> Result<T, RowError> {
    match row.get(column) {
        None => Ok(default),
        Some(_) => parsed(row, WALLET, column, parse),
    }
}

fn number(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Enums over a closed set of upper-case words, with `as_str` and `parse` (any case).
macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            }
        }
    };
}

words! {
    /// WRL_TYPE: where the keystore is.
    WrlType {
        File => "FILE",
        Hsm => "HSM",
        /// Oracle Key Vault (23ai).
        Okv => "OKV",
    }
}

words! {
    /// STATUS of a keystore.
    WalletStatus {
        Closed => "CLOSED",
        NotAvailable => "NOT_AVAILABLE",
        Open => "OPEN",
        OpenNoMasterKey => "OPEN_NO_MASTER_KEY",
        OpenUnknownMasterKeyStatus => "OPEN_UNKNOWN_MASTER_KEY_STATUS",
        Undefined => "UNDEFINED",
    }
}

words! {
    /// WALLET_ORDER: SINGLE, or PRIMARY and SECONDARY with two keystores (HSM|FILE).
    WalletOrder {
        Single => "SINGLE",
        Primary => "PRIMARY",
        Secondary => "SECONDARY",
    }
}

words! {
    /// KEYSTORE_MODE: NONE in the root or a non-CDB, UNITED or ISOLATED in a PDB.
    KeystoreMode {
        None => "NONE",
        United => "UNITED",
        Isolated => "ISOLATED",
    }
}

words! {
    /// FULLY_BACKED_UP
    FullyBackedUp {
        Yes => "YES",
        No => "NO",
        Undefined => "UNDEFINED",
    }
}

words! {
    /// V$ENCRYPTION_KEYS.KEYSTORE_TYPE
    KeystoreType {
        SoftwareKeystore => "SOFTWARE KEYSTORE",
        Hsm => "HSM",
        Undefined => "UNDEFINED",
        Okv => "OKV",
    }
}

/// WALLET_TYPE: how a keystore is (or would be) opened. Any other text Oracle prints is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WalletType {
    Password,
    Autologin,
    LocalAutologin,
    Hsm,
    Unknown,
    Other(String),
}

impl WalletType {
    const KNOWN: &'static [(WalletType, &'static str)] = &[
        (WalletType::Password, "PASSWORD"),
        (WalletType::Autologin, "AUTOLOGIN"),
        (WalletType::LocalAutologin, "LOCAL_AUTOLOGIN"),
        (WalletType::Hsm, "HSM"),
        (WalletType::Unknown, "UNKNOWN"),
    ];

    pub fn as_str(&self) -> &str {
        match self {
            WalletType::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(k, _)| k == known)
                .map_or("", |(_, s)| s),
        }
    }

    /// Any text: the known words in any case, anything else as `Other`.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        Self::KNOWN
            .iter()
            .find(|(_, w)| w.eq_ignore_ascii_case(t))
            .map_or_else(|| WalletType::Other(t.to_owned()), |(k, _)| k.clone())
    }
}

/// One row of V$ENCRYPTION_WALLET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletRow {
    pub wrl_type: WrlType,
    /// The wallet directory for FILE (often only in the root's row); empty for HSM.
    pub wrl_parameter: String,
    pub status: WalletStatus,
    pub wallet_type: WalletType,
    pub wallet_order: WalletOrder,
    pub keystore_mode: KeystoreMode,
    pub fully_backed_up: FullyBackedUp,
    /// 0 for a whole CDB or a non-CDB, 1 the root, n a PDB.
    pub con_id: u32,
}

impl WalletRow {
    /// Every column of [`WALLET_COLUMNS`], in view order.
    pub fn to_row(&self) -> Row {
        let values = [
            self.wrl_type.as_str().to_owned(),
            self.wrl_parameter.clone(),
            self.status.as_str().to_owned(),
            self.wallet_type.as_str().to_owned(),
            self.wallet_order.as_str().to_owned(),
            self.keystore_mode.as_str().to_owned(),
            self.fully_backed_up.as_str().to_owned(),
            self.con_id.to_string(),
        ];
        Row(WALLET_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .zip(values)
            .collect())
    }

    /// Reads a parsed row; other columns are ignored. WRL_TYPE and STATUS must be there; the
    /// columns older releases or a narrower SELECT leave out take what their absence means:
    /// no WALLET_TYPE (11g) UNKNOWN, no WALLET_ORDER (11g) SINGLE, no KEYSTORE_MODE (12.1,
    /// where a PDB's keystore is always the root's) NONE for the root or a non-CDB and UNITED
    /// for a PDB, no FULLY_BACKED_UP UNDEFINED, no CON_ID 0 (tests/fixtures/oracle/wallet/).
    /// A column that is there must hold a value Oracle prints.
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        let con_id = optional(row, "CON_ID", number, 0)?;
        Ok(Self {
            wrl_type: parsed(row, WALLET, "WRL_TYPE", WrlType::parse)?,
            wrl_parameter: row.get("WRL_PARAMETER").unwrap_or("").to_owned(),
            status: parsed(row, WALLET, "STATUS", WalletStatus::parse)?,
            wallet_type: row
                .get("WALLET_TYPE")
                .map_or(WalletType::Unknown, WalletType::parse),
            wallet_order: optional(row, "WALLET_ORDER", WalletOrder::parse, WalletOrder::Single)?,
            keystore_mode: optional(
                row,
                "KEYSTORE_MODE",
                KeystoreMode::parse,
                if con_id > 1 {
                    KeystoreMode::United
                } else {
                    KeystoreMode::None
                },
            )?,
            fully_backed_up: optional(
                row,
                "FULLY_BACKED_UP",
                FullyBackedUp::parse,
                FullyBackedUp::Undefined,
            )?,
            con_id,
        })
    }
}

/// The database and instance a key was created and activated in (tdekey shows the same for
/// both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOrigin {
    /// DB_NAME, upper case.
    pub db_name: String,
    pub dbid: u32,
    pub instance_name: String,
    pub instance_number: u32,
    /// Counts the instance's startups.
    pub instance_serial: u32,
}

/// The PDB a key belongs to, in a CDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPdb {
    pub name: String,
    pub id: u32,
}

/// The user Oracle names as CREATOR of a key made through a SYSKM connection, even one that
/// logged in as a named user (`c##sec_admin as syskm`: tests/fixtures/oracle/keys/).
pub const SYSKM: &str = "SYSKM";
/// The CREATOR_ID and USER_ID shown with [`SYSKM`].
pub const SYSKM_USER_ID: &str = "2147483617";
/// The CREATOR of a key made AS SYSDBA (tests/fixtures/oracle/keys/, 12.1 PDB key).
pub const SYS: &str = "SYS";

/// The CREATOR_ID Oracle shows for a user: SYS is 0, SYSKM 2147483617; any other user's id is
/// not known to tdekey (a stable number stands for it).
pub fn user_id(user: &str) -> String {
    match user {
        SYS => "0".into(),
        SYSKM => SYSKM_USER_ID.into(),
        other => {
            use sha2::Digest;
            let h = sha2::Sha256::digest(other.as_bytes());
            (100 + u32::from_be_bytes([h[0], h[1], h[2], h[3]]) % 10_000).to_string()
        }
    }
}
/// ORIGIN of a key made in this database.
pub const ORIGIN_LOCAL: &str = "LOCAL";
/// ORIGIN of a key Oracle did not create but activated (USE KEY of a key made on the HSM):
/// Oracle's reference defines this value as "unknown whether the master key was imported
/// from another database or created locally, but the key metadata was created locally due to
/// activation". (unverified: no real output shows ORIGIN for such a key.)
pub const ORIGIN_ACTIVATED_HERE: &str = "UNKNOWN BUT KEY METADATA CREATED LOCALLY";
/// KEY_USE in a non-CDB and in a CDB.
pub const KEY_USE_TDE: &str = "TDE";
pub const KEY_USE_TDE_IN_PDB: &str = "TDE IN PDB";

/// One row of V$ENCRYPTION_KEYS, from what tdekey knows about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// The base64 KEY_ID.
    pub key_id: String,
    /// TAG, "" for none.
    pub tag: String,
    /// CREATION_TIME, UTC milliseconds.
    pub created_ms: i64,
    /// ACTIVATION_TIME, UTC milliseconds.
    pub activated_ms: i64,
    pub keystore_type: KeystoreType,
    pub backed_up: bool,
    /// CREATOR (and USER): `SYS` AS SYSDBA, `SYSKM` AS SYSKM, else the user; "" when unknown.
    pub creator: String,
    /// ORIGIN: [`ORIGIN_LOCAL`] for a key Oracle made, [`ORIGIN_ACTIVATED_HERE`] for one it
    /// only activated; "" when the row does not show it.
    pub key_origin: String,
    pub origin: KeyOrigin,
    /// `Some` in a CDB (KEY_USE `TDE IN PDB`), `None` in a non-CDB (KEY_USE `TDE`).
    pub pdb: Option<KeyPdb>,
    pub con_id: u32,
}

impl KeyRow {
    /// Whether the key is in a CDB.
    pub fn is_cdb(&self) -> bool {
        self.pdb.is_some()
    }

    /// Every column of [`KEYS_COLUMNS`], in view order (CREATOR and USER the creator, ORIGIN
    /// `LOCAL`; the PDB UID and GUID columns empty).
    pub fn to_row(&self) -> Row {
        let o = &self.origin;
        let value = |col: &str| -> String {
            match col {
                "KEY_ID" => self.key_id.clone(),
                "TAG" => self.tag.clone(),
                "CREATION_TIME" => oracle_time(self.created_ms),
                "ACTIVATION_TIME" => oracle_time(self.activated_ms),
                "CREATOR" | "USER" => self.creator.clone(),
                "CREATOR_ID" | "USER_ID" => user_id(&self.creator),
                "KEY_USE" => if self.is_cdb() {
                    KEY_USE_TDE_IN_PDB
                } else {
                    KEY_USE_TDE
                }
                .into(),
                "KEYSTORE_TYPE" => self.keystore_type.as_str().into(),
                "ORIGIN" => self.key_origin.clone(),
                "BACKED_UP" => yes_no(self.backed_up).into(),
                "CREATOR_DBNAME" | "ACTIVATING_DBNAME" => o.db_name.clone(),
                "CREATOR_DBID" | "ACTIVATING_DBID" => o.dbid.to_string(),
                "CREATOR_INSTANCE_NAME" | "ACTIVATING_INSTANCE_NAME" => o.instance_name.clone(),
                "CREATOR_INSTANCE_NUMBER" | "ACTIVATING_INSTANCE_NUMBER" => {
                    o.instance_number.to_string()
                }
                "CREATOR_INSTANCE_SERIAL" | "ACTIVATING_INSTANCE_SERIAL" => {
                    o.instance_serial.to_string()
                }
                "CREATOR_PDBNAME" | "ACTIVATING_PDBNAME" => self
                    .pdb
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                "CREATOR_PDBID" | "ACTIVATING_PDBID" => self
                    .pdb
                    .as_ref()
                    .map(|p| p.id.to_string())
                    .unwrap_or_default(),
                "CON_ID" => self.con_id.to_string(),
                _ => String::new(),
            }
        };
        Row(KEYS_COLUMNS
            .iter()
            .map(|c| ((*c).to_owned(), value(c)))
            .collect())
    }

    /// Reads a parsed row: KEY_ID, ACTIVATION_TIME, KEYSTORE_TYPE and CON_ID must be there
    /// (what tdekey decides on); the creator's database, instance and PDB columns, TAG,
    /// CREATION_TIME and BACKED_UP are read when present (older releases and narrower SELECTs
    /// leave some out) and refused only when present with a value that is not theirs. The
    /// activating columns, CREATOR, USER and ORIGIN are not kept. In a CDB row (KEY_USE
    /// `TDE IN PDB`, or a CREATOR_PDBID) [`KeyRow::pdb`] is set.
    pub fn from_row(row: &Row) -> Result<Self, RowError> {
        let text = |c: &'static str| row.get(c).map(|v| v.to_owned()).unwrap_or_default();
        let num = |c: &'static str| match row.get(c).map(str::trim) {
            None | Some("") => Ok(0),
            Some(v) => number(v).ok_or_else(|| unexpected(KEYS, c, v)),
        };
        let pdb_id = row.get("CREATOR_PDBID").map(str::trim).unwrap_or("");
        let cdb =
            !pdb_id.is_empty() || row.get("KEY_USE").map(str::trim) == Some(KEY_USE_TDE_IN_PDB);
        let pdb = if cdb {
            Some(KeyPdb {
                name: text("CREATOR_PDBNAME"),
                id: num("CREATOR_PDBID")?,
            })
        } else {
            None
        };
        let activated_ms = parsed(row, KEYS, "ACTIVATION_TIME", parse_oracle_time)?;
        Ok(Self {
            key_id: get(row, KEYS, "KEY_ID")?.to_owned(),
            tag: text("TAG"),
            created_ms: match row.get("CREATION_TIME") {
                Some(_) => parsed(row, KEYS, "CREATION_TIME", parse_oracle_time)?,
                None => activated_ms,
            },
            activated_ms,
            keystore_type: parsed(row, KEYS, "KEYSTORE_TYPE", KeystoreType::parse)?,
            backed_up: match row.get("BACKED_UP") {
                Some(_) => parsed(row, KEYS, "BACKED_UP", parse_yes_no)?,
                None => false,
            },
            creator: text("CREATOR").trim().to_owned(),
            key_origin: text("ORIGIN").trim().to_owned(),
            origin: KeyOrigin {
                db_name: text("CREATOR_DBNAME"),
                dbid: num("CREATOR_DBID")?,
                instance_name: text("CREATOR_INSTANCE_NAME"),
                instance_number: num("CREATOR_INSTANCE_NUMBER")?,
                instance_serial: num("CREATOR_INSTANCE_SERIAL")?,
            },
            pdb,
            con_id: num("CON_ID")?,
        })
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

fn parse_yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_uppercase().as_str() {
        "YES" => Some(true),
        "NO" => Some(false),
        _ => None,
    }
}

const ORACLE_TIME: &str = "%d-%b-%y %I.%M.%S.%6f %p %:z";

/// Oracle's TIMESTAMP WITH TIME ZONE display (NLS defaults) of a UTC time in milliseconds:
/// `24-NOV-26 09.15.02.123456 AM +00:00`. A time out of chrono's range shows 1970-01-01.
pub fn oracle_time(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    t.format("%d-%b-%y %I.%M.%S.%6f %p +00:00")
        .to_string()
        .to_ascii_uppercase()
}

/// Reads [`oracle_time`]'s format with any `+hh:mm` offset, to UTC milliseconds (two-digit
/// years 00–69 are 20xx, 70–99 are 19xx, as chrono reads `%y`).
pub fn parse_oracle_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(s.trim(), ORACLE_TIME)
        .ok()
        .map(|t| t.timestamp_millis())
}

mod encryption;
pub use encryption::{DEFAULT_ALGORITHM, DatabaseKeyRow, TablespaceRow, tablespace_label};

#[cfg(test)]
mod tests;
