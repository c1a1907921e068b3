//! Who may run what: the session's privileges and roles (SESSION_PRIVS, SESSION_ROLES), read
//! before anything changes, and the privilege each statement tdekey sends needs.
//!
//! reference/oracle-tde.md, "Who may run what": SYSKM (and a user granted ADMINISTER KEY
//! MANAGEMENT) may run ADMINISTER KEY MANAGEMENT and read the encryption views, but not ALTER
//! SYSTEM nor V$PARAMETER / SHOW PARAMETER. Setting WALLET_ROOT and TDE_CONFIGURATION, and
//! reading them, needs SYSDBA or a user with ALTER SYSTEM and SELECT on V$PARAMETER.

use crate::tde::output::Row;
use crate::tde::request::Request;
use std::collections::BTreeSet;

/// The query: one row per privilege and per role, so that one paste answers both.
pub const QUERY: &str = "SELECT 'PRIVILEGE' AS KIND, PRIVILEGE AS NAME FROM SESSION_PRIVS UNION ALL SELECT 'ROLE', ROLE FROM SESSION_ROLES;";

/// Its columns.
pub const COLUMNS: &[&str] = &["KIND", "NAME"];

pub const ADMINISTER_KEY_MANAGEMENT: &str = "ADMINISTER KEY MANAGEMENT";
pub const ALTER_SYSTEM: &str = "ALTER SYSTEM";
pub const SELECT_ANY_DICTIONARY: &str = "SELECT ANY DICTIONARY";
/// Roles that carry SELECT on the V$ views, V$PARAMETER among them.
pub const DICTIONARY_ROLES: &[&str] = &["SELECT_CATALOG_ROLE", "DBA"];

/// What one statement needs beyond a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Needed {
    /// ADMINISTER KEY MANAGEMENT (SYSKM has it).
    AdministerKeyManagement,
    /// ALTER SYSTEM (not SYSKM).
    AlterSystem,
    /// SELECT on V$PARAMETER, for SHOW PARAMETER (not SYSKM).
    ReadParameters,
    /// SHUTDOWN and STARTUP: SYSDBA or SYSOPER.
    Restart,
}

impl Needed {
    /// What to grant (or how to connect) for it, in a sentence fragment.
    pub fn grant(self) -> &'static str {
        match self {
            Needed::AdministerKeyManagement => {
                "ADMINISTER KEY MANAGEMENT (connect AS SYSKM or AS SYSDBA, or GRANT ADMINISTER KEY MANAGEMENT TO the user)"
            }
            Needed::AlterSystem => {
                "ALTER SYSTEM (connect AS SYSDBA, or GRANT ALTER SYSTEM TO the user)"
            }
            Needed::ReadParameters => {
                "SELECT on V$PARAMETER for SHOW PARAMETER (connect AS SYSDBA, or GRANT SELECT ON SYS.V_$PARAMETER, or SELECT_CATALOG_ROLE, TO the user)"
            }
            Needed::Restart => "SYSDBA or SYSOPER (a restart is done by a person)",
        }
    }
}

/// What a request needs (`None`: anyone with a session, e.g. the encryption views, which
/// SYSKM may read).
pub fn needed(request: &Request) -> Option<Needed> {
    match request {
        // (unverified) for a SYSKM session: V$DATABASE_KEY_INFO and the join to V$TABLESPACE
        // (see `request::TABLESPACES_QUERY`); a refusal is read as the answer.
        Request::QueryWallet
        | Request::QueryKeys
        | Request::QueryDatabaseKey
        | Request::QueryTablespaces
        | Request::QueryPrivileges => None,
        Request::ShowParameter(_) => Some(Needed::ReadParameters),
        Request::SetWalletRoot { .. } | Request::SetTdeConfiguration { .. } => {
            Some(Needed::AlterSystem)
        }
        Request::Restart => Some(Needed::Restart),
        Request::CreateKeystore { .. }
        | Request::OpenKeystore { .. }
        | Request::CloseKeystore { .. }
        | Request::Migrate { .. }
        | Request::ReverseMigrate { .. }
        | Request::SetKey { .. }
        | Request::UseKey { .. }
        | Request::AddHsmSecret { .. }
        | Request::AddExternalStoreSecret { .. }
        | Request::CreateAutoLogin { .. }
        | Request::Backup { .. } => Some(Needed::AdministerKeyManagement),
    }
}

/// The session's privileges and roles, upper case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPrivileges {
    pub privileges: BTreeSet<String>,
    pub roles: BTreeSet<String>,
}

/// Whether a session may do something, as far as SESSION_PRIVS and SESSION_ROLES tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    Yes,
    No,
    /// Not visible in the session's privileges or roles, but an object grant (which these
    /// views do not show) may still allow it.
    Unknown,
}

impl SessionPrivileges {
    /// Reads the rows of [`QUERY`]; rows of another kind are ignored.
    pub fn from_rows(rows: &[Row]) -> Self {
        let mut s = Self::default();
        for r in rows {
            let (Some(kind), Some(name)) = (r.get("KIND"), r.get("NAME")) else {
                continue;
            };
            let name = name.trim().to_ascii_uppercase();
            if name.is_empty() {
                continue;
            }
            match kind.trim().to_ascii_uppercase().as_str() {
                "PRIVILEGE" => {
                    s.privileges.insert(name);
                }
                "ROLE" => {
                    s.roles.insert(name);
                }
                _ => {}
            }
        }
        s
    }

    /// The rows [`QUERY`] returns for these privileges and roles, privileges first.
    pub fn to_rows(&self) -> Vec<Row> {
        let row = |kind: &str, name: &str| {
            Row(vec![
                ("KIND".to_owned(), kind.to_owned()),
                ("NAME".to_owned(), name.to_owned()),
            ])
        };
        self.privileges
            .iter()
            .map(|p| row("PRIVILEGE", p))
            .chain(self.roles.iter().map(|r| row("ROLE", r)))
            .collect()
    }

    pub fn has(&self, privilege: &str) -> bool {
        self.privileges.contains(privilege)
    }

    /// Whether the session may run statements that need `n`.
    pub fn allows(&self, n: Needed) -> Allowed {
        let yes = |b: bool| if b { Allowed::Yes } else { Allowed::No };
        match n {
            Needed::AdministerKeyManagement => yes(self.has(ADMINISTER_KEY_MANAGEMENT)),
            Needed::AlterSystem => yes(self.has(ALTER_SYSTEM)),
            Needed::ReadParameters => {
                if self.has(SELECT_ANY_DICTIONARY)
                    || DICTIONARY_ROLES.iter().any(|r| self.roles.contains(*r))
                {
                    Allowed::Yes
                } else {
                    Allowed::Unknown
                }
            }
            // Not shown in SESSION_PRIVS (SYSDBA and SYSOPER are administrative privileges,
            // not system privileges): tdekey never restarts a real database anyway.
            Needed::Restart => Allowed::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::tde::request::ParameterName;

    #[test]
    fn rows_round_trip_and_say_what_is_allowed() {
        let syskm = SessionPrivileges {
            privileges: [ADMINISTER_KEY_MANAGEMENT, "CREATE SESSION"]
                .map(String::from)
                .into(),
            roles: BTreeSet::new(),
        };
        assert_eq!(SessionPrivileges::from_rows(&syskm.to_rows()), syskm);
        assert_eq!(syskm.allows(Needed::AdministerKeyManagement), Allowed::Yes);
        assert_eq!(syskm.allows(Needed::AlterSystem), Allowed::No);
        assert_eq!(syskm.allows(Needed::ReadParameters), Allowed::Unknown);
        let user = SessionPrivileges {
            privileges: [ALTER_SYSTEM].map(String::from).into(),
            roles: ["SELECT_CATALOG_ROLE"].map(String::from).into(),
        };
        assert_eq!(user.allows(Needed::ReadParameters), Allowed::Yes);
        assert_eq!(user.allows(Needed::AdministerKeyManagement), Allowed::No);
        // Lower case and padding as a paste may have them.
        let rows = vec![Row(vec![
            ("KIND".into(), " privilege ".into()),
            ("NAME".into(), "alter system ".into()),
        ])];
        assert!(SessionPrivileges::from_rows(&rows).has(ALTER_SYSTEM));
    }

    #[test]
    fn a_real_syskm_session_reads_as_syskm_and_administer_key_management() {
        // tests/fixtures/oracle/privileges/23ai-free-syskm-session-privs.txt: SESSION_PRIVS as
        // SYSKM, where the privilege's name alone on a line is a value, not a statement.
        let text = "SQL> select * from session_privs;\n\nPRIVILEGE\n----------------------------------------\nSYSKM\nADMINISTER KEY MANAGEMENT\n";
        let rows = crate::tde::output::parse_table(text, &["PRIVILEGE"], "SESSION_PRIVS")
            .unwrap()
            .rows;
        let names: Vec<&str> = rows.iter().filter_map(|r| r.get("PRIVILEGE")).collect();
        assert_eq!(names, ["SYSKM", ADMINISTER_KEY_MANAGEMENT]);
        // The same rows through tdekey's own query, as SQL*Plus prints them at LINESIZE 80.
        let ours = "KIND\n----------------------------------------\nNAME\n----------------------------------------\nPRIVILEGE\nSYSKM\n\nPRIVILEGE\nADMINISTER KEY MANAGEMENT\n\n\n2 rows selected.\n";
        let rows =
            crate::tde::output::parse_view(ours, crate::tde::output::View::SessionPrivileges)
                .unwrap();
        let p = SessionPrivileges::from_rows(&rows);
        assert!(p.has("SYSKM") && p.has(ADMINISTER_KEY_MANAGEMENT), "{p:?}");
        assert_eq!(p.allows(Needed::AlterSystem), Allowed::No);
    }

    #[test]
    fn each_statement_names_what_it_needs() {
        assert_eq!(
            needed(&Request::ShowParameter(ParameterName::WalletRoot)),
            Some(Needed::ReadParameters)
        );
        assert_eq!(
            needed(&Request::SetTdeConfiguration {
                value: "HSM|FILE".into(),
                all_instances: false
            }),
            Some(Needed::AlterSystem)
        );
        assert_eq!(
            needed(&Request::CreateKeystore {
                password: Secret::from("x")
            }),
            Some(Needed::AdministerKeyManagement)
        );
        assert_eq!(needed(&Request::QueryWallet), None);
        assert_eq!(needed(&Request::QueryPrivileges), None);
    }
}
