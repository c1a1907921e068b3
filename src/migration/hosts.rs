//! Every host the migration depends on: the database host (or each RAC node) and each Data
//! Guard standby's host. Steps 3, 4 and 5 check the HSM client, Oracle's PKCS#11 library and
//! the wallet files on each: tdekey reads the one it runs on (or the Rehearsal's simulated
//! host) itself, and for every other one shows the command and reads the paste back.

use super::host::Host;
use crate::model::{DatabaseProfile, same_host};
use crate::paths::DataDir;

/// What a host is to the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// The database host of a profile that lists no RAC nodes.
    Database,
    /// A RAC node of the primary.
    Node,
    /// A standby's host (its DB_UNIQUE_NAME).
    Standby(String),
}

/// One host to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// The host name as the profile lists it; none for the database host of a profile that
    /// lists no RAC nodes.
    pub host: Option<String>,
    pub role: Role,
    /// How tdekey reaches its files.
    pub reach: Host,
}

impl Target {
    /// The key its result is recorded under ("" for the unnamed database host).
    pub fn key(&self) -> String {
        self.host.clone().unwrap_or_default()
    }

    /// What it is, in words: "RAC node rac1", "standby FINSBY on sby1", "the database host".
    pub fn describe(&self) -> String {
        let host = self.host.as_deref().unwrap_or("");
        match &self.role {
            Role::Database => "the database host".to_owned(),
            Role::Node => format!("RAC node {host}"),
            Role::Standby(name) => format!("standby {name} on {host}"),
        }
    }

    /// Its role alone, as the report's table shows it.
    pub fn role_text(&self) -> String {
        match &self.role {
            Role::Database => "database host".to_owned(),
            Role::Node => "RAC node".to_owned(),
            Role::Standby(name) => format!("standby {name}"),
        }
    }

    pub fn is_remote(&self) -> bool {
        self.reach == Host::Remote
    }
}

/// This machine's host name.
fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The hosts of `db`, primary first. tdekey reaches at most one of them itself: the Rehearsal's
/// simulated host stands for the first RAC node; with SQL*Plus and a local ORACLE_HOME, the
/// node whose name is this machine's (none when no node's is). Standbys are always reached
/// through the person.
pub(super) fn targets(db: &DatabaseProfile, data: &DataDir) -> Vec<Target> {
    let here = Host::of(db, data);
    let mut out = Vec::new();
    if db.rac_nodes.is_empty() {
        out.push(Target {
            host: None,
            role: Role::Database,
            reach: here,
        });
    } else {
        let me = this_host();
        let mut taken = false;
        for n in &db.rac_nodes {
            let local = !taken
                && match &here {
                    Host::Local {
                        simulated: true, ..
                    } => true,
                    Host::Local {
                        simulated: false, ..
                    } => same_host(n, &me),
                    Host::Remote => false,
                };
            taken |= local;
            out.push(Target {
                host: Some(n.clone()),
                role: Role::Node,
                reach: if local { here.clone() } else { Host::Remote },
            });
        }
    }
    for s in &db.standbys {
        out.push(Target {
            host: Some(s.host.clone()),
            role: Role::Standby(s.name.clone()),
            reach: Host::Remote,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectAs, ConnectorKind, DbAuth, Multitenant, Standby};

    fn profile(connector: ConnectorKind, nodes: &[&str], standbys: &[&str]) -> DatabaseProfile {
        DatabaseProfile {
            id: None,
            name: "FIN".into(),
            connector,
            oracle_home: None,
            oracle_sid: None,
            connect_string: None,
            auth: DbAuth::Os,
            connect_as: ConnectAs::Sysdba,
            wallet_root: None,
            multitenant: Multitenant::NonCdb,
            rac: !nodes.is_empty(),
            rac_nodes: nodes.iter().map(|n| n.to_string()).collect(),
            standbys: standbys.iter().map(|s| Standby::parse(s)).collect(),
            hsm_profile: None,
        }
    }

    #[test]
    fn every_node_and_standby_is_a_host_to_check() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::at(dir.path().to_path_buf());
        let t = targets(&profile(ConnectorKind::Manual, &[], &[]), &data);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].describe(), "the database host");
        assert!(t[0].is_remote());

        let t = targets(
            &profile(ConnectorKind::Manual, &["rac1", "rac2"], &["FINSBY@sby1"]),
            &data,
        );
        let d: Vec<String> = t.iter().map(Target::describe).collect();
        assert_eq!(
            d,
            ["RAC node rac1", "RAC node rac2", "standby FINSBY on sby1"]
        );
        assert!(t.iter().all(Target::is_remote));
        assert_eq!(t[2].key(), "sby1");

        // The Rehearsal's simulated host is the first node; the others are asked for.
        let t = targets(
            &profile(
                ConnectorKind::Rehearsal,
                &["rac1", "rac2"],
                &["FINSBY@sby1"],
            ),
            &data,
        );
        let remote: Vec<bool> = t.iter().map(Target::is_remote).collect();
        assert_eq!(remote, [false, true, true]);
    }
}
