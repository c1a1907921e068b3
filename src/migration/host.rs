//! The database host's files the migration depends on: the CloudHSM client, Oracle's PKCS#11
//! library under /opt/oracle/extapi, the wallet under WALLET_ROOT. tdekey reads them itself
//! when it runs on the database host (a SQL*Plus profile with a local ORACLE_HOME) or when the
//! host is the Rehearsal's simulated one (a directory in the data directory standing for `/`);
//! otherwise it shows the commands to run there.

use crate::hsm::LibraryReport;
use crate::model::{ConnectorKind, DatabaseProfile};
use crate::paths::DataDir;
use std::path::{Path, PathBuf};

/// Where the database host's files are, as tdekey can reach them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Host {
    /// On this machine, under `root` (`/`, or the Rehearsal's simulated host).
    Local { root: PathBuf, simulated: bool },
    /// Elsewhere: the person runs the commands there.
    Remote,
}

impl Host {
    pub(super) fn of(db: &DatabaseProfile, data: &DataDir) -> Self {
        match db.connector {
            ConnectorKind::Rehearsal => Host::Local {
                root: crate::oracle::rehearsal::host_root(data.root(), &db.name),
                simulated: true,
            },
            ConnectorKind::Sqlplus
                if db
                    .oracle_home
                    .as_deref()
                    .is_some_and(|h| Path::new(h).is_dir()) =>
            {
                Host::Local {
                    root: PathBuf::from("/"),
                    simulated: false,
                }
            }
            _ => Host::Remote,
        }
    }

    /// `path` (absolute on the database host) as tdekey reaches it.
    pub(super) fn path(&self, path: &str) -> Option<PathBuf> {
        match self {
            Host::Local { root, .. } => Some(root.join(path.trim_start_matches('/'))),
            Host::Remote => None,
        }
    }
}

impl Host {
    /// `path` (as tdekey reaches it) as the database host names it: under the simulated
    /// host's root, the part after it.
    pub(super) fn show(&self, path: &Path) -> String {
        match self {
            Host::Local { root, .. } => match path.strip_prefix(root) {
                Ok(rest) => format!("/{}", rest.display()),
                Err(_) => path.display().to_string(),
            },
            Host::Remote => path.display().to_string(),
        }
    }
}

/// Where Oracle looks for the HSM vendor's PKCS#11 library (64-bit).
pub(super) const EXTAPI_HSM: &str = "/opt/oracle/extapi/64/hsm";

/// The libraries under `<root>/opt/oracle/extapi/64/hsm/<vendor>/<version>/`.
pub(super) fn oracle_libraries(host: &Host) -> Vec<PathBuf> {
    let Some(base) = host.path(EXTAPI_HSM) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    for vendor in dirs(&base).into_iter().filter(|p| p.is_dir()) {
        for version in dirs(&vendor).into_iter().filter(|p| p.is_dir()) {
            for f in dirs(&version) {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                if f.is_file() && name.is_some_and(|n| n.starts_with("lib") && n.contains(".so")) {
                    found.push(f);
                }
            }
        }
    }
    found.sort();
    found
}

/// The `<vendor>/<version>` directory name for a library, as AWS's procedure names CloudHSM's
/// (`aws/<version>`).
pub(super) fn vendor_dir(module: &Path, library: &LibraryReport) -> String {
    let text = format!("{} {}", module.display(), library.manufacturer).to_ascii_lowercase();
    let vendor = if text.contains("cloudhsm") || text.contains("amazon") || text.contains("aws") {
        "aws".to_owned()
    } else {
        let v: String = library
            .manufacturer
            .split_whitespace()
            .next()
            .unwrap_or("vendor")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if v.is_empty() { "vendor".into() } else { v }
    };
    let version: String = library
        .library_version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!(
        "{vendor}/{}",
        if version.is_empty() { "1" } else { &version }
    )
}

/// The commands that put the library where Oracle looks, for the Oracle software owner.
pub(super) fn library_commands(module: &Path, dir: &str, owner: &str) -> Vec<String> {
    vec![
        format!("sudo mkdir -p {EXTAPI_HSM}/{dir}"),
        format!("sudo cp {} {EXTAPI_HSM}/{dir}/", module.display()),
        format!("sudo chown -R {owner} /opt/oracle/extapi"),
    ]
}

/// The CloudHSM client's files on the host tdekey (and the database) runs on.
pub(super) struct CloudHsmClient {
    pub configure: bool,
    /// The cluster's CA certificate where the client configuration names it (or the default
    /// path when it names none), as the database host names it.
    pub ca_path: String,
    /// Whether that file exists.
    pub ca_cert: bool,
    /// HSM addresses the PKCS#11 client configuration names.
    pub servers: Vec<String>,
    pub config: PathBuf,
}

/// Client SDK 5's PKCS#11 client configuration (JSON).
pub(super) const CLIENT_CONFIG: &str = "/opt/cloudhsm/etc/cloudhsm-pkcs11.cfg";

/// Where `configure-pkcs11` looks for the cluster's CA certificate when `--hsm-ca-cert` was
/// never given.
pub(super) const DEFAULT_CA: &str = "/opt/cloudhsm/etc/customerCA.crt";

/// The CA certificate path the client configuration names. Client SDK 5 writes it as
/// `clusters[].cluster.hsm_ca_file` (AWS's documentation and every published SDK 5
/// configuration); `configure-pkcs11 --hsm-ca-cert <path>` sets it to any path. Some
/// write-ups name the key `ca_file` instead (no published SDK 5 file does): both are read,
/// wherever they are nested, `hsm_ca_file` first.
pub(super) fn configured_ca(v: &serde_json::Value) -> Option<String> {
    fn find(v: &serde_json::Value, key: &str) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => m
                .get(key)
                .and_then(|x| x.as_str())
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_owned())
                .or_else(|| m.values().find_map(|x| find(x, key))),
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, key)),
            _ => None,
        }
    }
    find(v, "hsm_ca_file").or_else(|| find(v, "ca_file"))
}

pub(super) fn cloudhsm_client(root: &Path) -> CloudHsmClient {
    let config = root.join(CLIENT_CONFIG.trim_start_matches('/'));
    let json = std::fs::read(&config)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let mut servers = Vec::new();
    if let Some(v) = &json {
        collect_servers(v, &mut servers);
    }
    let ca_path = json
        .as_ref()
        .and_then(configured_ca)
        .unwrap_or_else(|| DEFAULT_CA.to_owned());
    CloudHsmClient {
        configure: root.join("opt/cloudhsm/bin/configure-pkcs11").is_file(),
        ca_cert: root.join(ca_path.trim_start_matches('/')).is_file(),
        ca_path,
        servers,
        config,
    }
}

/// Every `hostname` under a `servers` array, wherever the client's JSON puts it.
pub(super) fn collect_servers(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "servers"
                    && let Some(list) = x.as_array()
                {
                    for s in list {
                        if let Some(h) = s.get("hostname").and_then(|h| h.as_str()) {
                            out.push(h.to_owned());
                        }
                    }
                } else {
                    collect_servers(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_servers(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(manufacturer: &str, version: &str) -> LibraryReport {
        LibraryReport {
            path: "/x.so".into(),
            manufacturer: manufacturer.into(),
            description: String::new(),
            library_version: version.into(),
            cryptoki_version: "2.40".into(),
        }
    }

    #[test]
    fn one_library_per_vendor_and_version_is_found_under_extapi() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::Local {
            root: dir.path().to_path_buf(),
            simulated: true,
        };
        assert!(oracle_libraries(&host).is_empty());
        let d = dir.path().join("opt/oracle/extapi/64/hsm/aws/5.12");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("libcloudhsm_pkcs11.so"), b"elf").unwrap();
        std::fs::write(d.join("README"), b"x").unwrap();
        assert_eq!(oracle_libraries(&host).len(), 1);
        assert!(oracle_libraries(&Host::Remote).is_empty());
        assert_eq!(
            vendor_dir(
                Path::new("/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"),
                &library("Amazon", "5.12")
            ),
            "aws/5.12"
        );
        assert_eq!(
            vendor_dir(
                Path::new("/usr/lib/softhsm/libsofthsm2.so"),
                &library("SoftHSM", "2.6")
            ),
            "softhsm/2.6"
        );
    }

    #[test]
    fn the_cloudhsm_client_configuration_names_its_servers_and_ca_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("opt/cloudhsm/etc");
        std::fs::create_dir_all(&etc).unwrap();
        // Client SDK 5's layout, with the CA certificate somewhere else than the default.
        std::fs::write(
            etc.join("cloudhsm-pkcs11.cfg"),
            r#"{"clusters":[{"type":"hsm1","cluster":{"hsm_ca_file":"/etc/pki/cloudhsm/cluster-1-CA.crt","servers":[{"hostname":"10.0.1.12","port":2223,"enable":true}]}}],"logging":{"log_type":"file"}}"#,
        )
        .unwrap();
        let c = cloudhsm_client(dir.path());
        assert_eq!(c.servers, ["10.0.1.12"]);
        assert_eq!(c.ca_path, "/etc/pki/cloudhsm/cluster-1-CA.crt");
        assert!(!c.configure && !c.ca_cert);
        // The default customerCA.crt does not count when the configuration names another file.
        std::fs::write(etc.join("customerCA.crt"), b"PEM").unwrap();
        assert!(!cloudhsm_client(dir.path()).ca_cert);
        let pki = dir.path().join("etc/pki/cloudhsm");
        std::fs::create_dir_all(&pki).unwrap();
        std::fs::write(pki.join("cluster-1-CA.crt"), b"PEM").unwrap();
        assert!(cloudhsm_client(dir.path()).ca_cert);

        // No key in the configuration: the default path; the other key name is read too.
        let v: serde_json::Value =
            serde_json::from_str(r#"{"clusters":[{"cluster":{}}]}"#).unwrap();
        assert_eq!(configured_ca(&v), None);
        std::fs::write(etc.join("cloudhsm-pkcs11.cfg"), r#"{"clusters":[]}"#).unwrap();
        let c = cloudhsm_client(dir.path());
        assert_eq!((c.ca_path.as_str(), c.ca_cert), (DEFAULT_CA, true));
        let v: serde_json::Value =
            serde_json::from_str(r#"{"server":{"ca_file":"/x/ca.pem"}}"#).unwrap();
        assert_eq!(configured_ca(&v).as_deref(), Some("/x/ca.pem"));
    }
}
