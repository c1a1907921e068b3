//! Database profiles: how tdekey reaches one Oracle database. Never a password.

use serde::{Deserialize, Serialize};

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
    /// The RAC nodes (host names, as `hostname` prints them): each needs the HSM client and
    /// Oracle's PKCS#11 library, and the wizard checks each one.
    pub rac_nodes: Vec<String>,
    /// The Data Guard standby databases: each needs the same HSM client and library,
    /// TDE_CONFIGURATION and an open HSM keystore before redo made under the new master key
    /// reaches it.
    pub standbys: Vec<Standby>,
    /// The HSM connection profile this database's keystore uses.
    pub hsm_profile: Option<String>,
}

/// A Data Guard standby database and the host it runs on (`NAME@HOST`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standby {
    /// Its DB_UNIQUE_NAME.
    pub name: String,
    /// The host it runs on, as `hostname` prints it there.
    pub host: String,
}

impl Standby {
    /// `NAME@HOST`; a text without `@` gives a standby without host, which
    /// [`DatabaseProfile::check_hosts`] refuses with a sentence.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        match s.rsplit_once('@') {
            Some((n, h)) => Self {
                name: n.trim().to_owned(),
                host: h.trim().to_owned(),
            },
            None => Self {
                name: s.to_owned(),
                host: String::new(),
            },
        }
    }
}

impl std::fmt::Display for Standby {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.host)
    }
}

/// Whether `h` can be a host name: letters, digits, `-`, `_` and `.`, at most 253 characters.
pub fn valid_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && !h.starts_with(['-', '.'])
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether two host names are the same host: equal, or equal in their first label (`hostname`
/// prints `rac1` on one host and `rac1.example.com` on another), ignoring case.
pub fn same_host(a: &str, b: &str) -> bool {
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    a.eq_ignore_ascii_case(b) || short(a) == short(b)
}

impl DatabaseProfile {
    /// The RAC nodes and standbys as a person can act on them: a sentence for the first that
    /// is not a host name, repeated, or a standby without `NAME@HOST`.
    pub fn check_hosts(&self) -> Result<(), String> {
        for (i, n) in self.rac_nodes.iter().enumerate() {
            if !valid_host_name(n) {
                return Err(format!(
                    "The RAC node {n:?} is not a host name: give each node as `hostname` prints it there (letters, digits, '-', '_' and '.')."
                ));
            }
            if self.rac_nodes[..i].iter().any(|m| same_host(m, n)) {
                return Err(format!("The RAC node {n:?} is listed twice."));
            }
        }
        for (i, s) in self.standbys.iter().enumerate() {
            let name_ok = !s.name.is_empty()
                && s.name.len() <= 30
                && s.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '#'));
            if !name_ok || !valid_host_name(&s.host) {
                return Err(format!(
                    "The standby {:?} is not NAME@HOST: give its DB_UNIQUE_NAME (letters, digits, '_', '$', '#'; at most 30) and the host it runs on, e.g. FINSBY@sby1.example.com.",
                    if s.host.is_empty() {
                        s.name.clone()
                    } else {
                        s.to_string()
                    }
                ));
            }
            if self.standbys[..i]
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(&s.name) && same_host(&t.host, &s.host))
            {
                return Err(format!("The standby {s} is listed twice."));
            }
        }
        Ok(())
    }

    /// `WALLET_ROOT/<sub>` for this profile, or "" when it has no WALLET_ROOT.
    pub fn wallet_dir(&self, sub: &str) -> String {
        self.wallet_root
            .as_deref()
            .map(|r| format!("{}/{sub}", r.trim_end_matches('/')))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standbys_and_nodes_are_read_and_checked() {
        let s = Standby::parse(" FINSBY@sby1.example.com ");
        assert_eq!(
            (s.name.as_str(), s.host.as_str()),
            ("FINSBY", "sby1.example.com")
        );
        assert_eq!(s.to_string(), "FINSBY@sby1.example.com");
        assert_eq!(Standby::parse("FINSBY").host, "");
        assert!(same_host("rac1", "RAC1.example.com"));
        assert!(!same_host("rac1", "rac10"));
        let mut d = DatabaseProfile {
            id: None,
            name: "FIN".into(),
            connector: ConnectorKind::Manual,
            oracle_home: None,
            oracle_sid: None,
            connect_string: None,
            auth: DbAuth::Os,
            connect_as: ConnectAs::Sysdba,
            wallet_root: None,
            multitenant: Multitenant::NonCdb,
            rac: true,
            rac_nodes: vec!["rac1".into(), "rac2.example.com".into()],
            standbys: vec![Standby::parse("FINSBY@sby1")],
            hsm_profile: None,
        };
        assert_eq!(d.check_hosts(), Ok(()));
        d.rac_nodes.push("rac1.example.com".into());
        assert!(d.check_hosts().unwrap_err().contains("listed twice"));
        d.rac_nodes = vec!["rac 1".into()];
        assert!(d.check_hosts().unwrap_err().contains("not a host name"));
        d.rac_nodes.clear();
        d.standbys = vec![Standby::parse("FINSBY")];
        assert!(
            d.check_hosts()
                .unwrap_err()
                .contains("FINSBY@sby1.example.com")
        );
    }
}
