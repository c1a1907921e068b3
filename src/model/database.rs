//! Database profiles: how tdekey reaches one Oracle database. Never a password.

use serde::Serialize;

/// How tdekey reaches a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// tdekey shows each statement; the DBA runs it and pastes the output.
    Manual,
    /// tdekey runs sqlplus from ORACLE_HOME.
    Sqlplus,
    /// A simulated keystore on the real HSM connection, for trying things out.
    Rehearsal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Multitenant {
    NonCdb,
    CdbUnited,
    CdbIsolated,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(<$t>::$v),)+ _ => None }
            }
        }
    };
}

/// The administrative privilege a connection asks for: `AS SYSDBA`, `AS SYSKM`, or none (a
/// named user with the privileges granted to it).
///
/// SYSKM (or ADMINISTER KEY MANAGEMENT) may run ADMINISTER KEY MANAGEMENT and read the
/// encryption views, but not ALTER SYSTEM nor SHOW PARAMETER / V$PARAMETER, which WALLET_ROOT
/// and TDE_CONFIGURATION need (reference/oracle-tde.md, "Who may run what").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectAs {
    Sysdba,
    Syskm,
    Normal,
}

impl ConnectAs {
    pub const ALL: &'static [ConnectAs] = &[ConnectAs::Sysdba, ConnectAs::Syskm, ConnectAs::Normal];

    /// What follows the credentials in SQL*Plus's CONNECT line: ` AS SYSDBA`, ` AS SYSKM`, or "".
    pub fn clause(self) -> &'static str {
        match self {
            ConnectAs::Sysdba => " AS SYSDBA",
            ConnectAs::Syskm => " AS SYSKM",
            ConnectAs::Normal => "",
        }
    }

    /// The user Oracle names for a session with this privilege and OS authentication (`SYS` as
    /// SYSDBA, `SYSKM` as SYSKM).
    pub fn session_user(self) -> Option<&'static str> {
        match self {
            ConnectAs::Sysdba => Some("SYS"),
            ConnectAs::Syskm => Some("SYSKM"),
            ConnectAs::Normal => None,
        }
    }
}

text_enum!(ConnectAs { Sysdba => "sysdba", Syskm => "syskm", Normal => "normal" });

text_enum!(ConnectorKind { Manual => "manual", Sqlplus => "sqlplus", Rehearsal => "rehearsal" });
text_enum!(Multitenant { NonCdb => "non-cdb", CdbUnited => "cdb-united", CdbIsolated => "cdb-isolated" });

impl ConnectorKind {
    /// How screens, CLI output and audit entries name the connector; Rehearsal says it is one.
    pub const fn label(self) -> &'static str {
        match self {
            ConnectorKind::Manual => "Manual",
            ConnectorKind::Sqlplus => "SQL*Plus",
            ConnectorKind::Rehearsal => "Rehearsal (simulated Oracle 19c)",
        }
    }
}

/// How tdekey authenticates to the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "user")]
pub enum DbAuth {
    /// `CONNECT / AS SYSKM` (OS authentication).
    Os,
    /// A named user whose password is asked when needed.
    User(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseProfile {
    pub id: Option<i64>,
    pub name: String,
    pub connector: ConnectorKind,
    pub oracle_home: Option<String>,
    pub oracle_sid: Option<String>,
    pub connect_string: Option<String>,
    pub auth: DbAuth,
    /// `AS SYSDBA`, `AS SYSKM` or no administrative privilege.
    pub connect_as: ConnectAs,
    pub wallet_root: Option<String>,
    pub multitenant: Multitenant,
    pub rac: bool,
    /// The HSM connection profile this database's keystore uses.
    pub hsm_profile: Option<String>,
}

impl DatabaseProfile {
    /// `WALLET_ROOT/<sub>` for this profile, or "" when it has no WALLET_ROOT.
    pub fn wallet_dir(&self, sub: &str) -> String {
        self.wallet_root
            .as_deref()
            .map(|r| format!("{}/{sub}", r.trim_end_matches('/')))
            .unwrap_or_default()
    }
}
