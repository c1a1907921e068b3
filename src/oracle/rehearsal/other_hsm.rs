//! A rehearsal database that starts on another vendor's HSM (the wizard's path B), and the rule
//! that decides which HSM "the HSM keystore" is. Oracle decides it by the PKCS#11 library it
//! finds under `/opt/oracle/extapi/64/hsm/<vendor>/<version>/`; so does the rehearsal, on its
//! simulated host:
//!
//! - exactly one library, byte for byte the module tdekey loads ([`HsmKeystore::module_path`]):
//!   tdekey's token, as for every rehearsal;
//! - exactly one library, the other vendor's stand-in ([`other_vendor_library`]): the simulated
//!   other HSM kept in the state (its user, an Argon2id verifier of its password, the labels
//!   Oracle made there), never tdekey's token;
//! - none, or more than one: ORA-28376 (cannot find PKCS11 library) for every statement that
//!   reaches the HSM;
//! - one that is neither: the rehearsal cannot say which HSM is behind it, and says so.
//!
//! The rule applies to the databases that started on the other HSM. Every other rehearsal (the
//! demo) reaches tdekey's token whatever extapi holds, as before: its simulated host starts
//! without a library, and the console and the tests run HSM statements before the wizard's
//! step 4 puts one there.

use super::state::{self, KeyRecord, OtherHsm, State};
use super::{HsmKeystore, Rehearsal, host_root, seed_requests, state_path};
use crate::model::Multitenant;
use crate::oracle::OracleError;
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, SUPPORTED_IDEN, hsm_key_id, key_metadata_label};
use crate::tde::ora;
use crate::tde::request::{Reply, Request};
use crate::tde::sql::Credential;
use std::path::{Path, PathBuf};

/// Where Oracle looks for the HSM vendor's PKCS#11 library (64-bit), from the host's `/`.
const EXTAPI_HSM: &str = "opt/oracle/extapi/64/hsm";

/// The simulated other vendor: its directory under extapi/64/hsm/, its version, its library.
pub const OTHER_VENDOR: &str = "othervendor";
const OTHER_VENDOR_VERSION: &str = "1.0";
const OTHER_VENDOR_FILE: &str = "libothervendor_pkcs11.so";

/// The stand-in for the other vendor's library: recognisable text, not a shared library.
const STAND_IN: &[u8] = b"tdekey Rehearsal stand-in for libothervendor_pkcs11.so: the PKCS#11 library of a simulated other vendor's HSM (not a shared library).\n";

/// `<host>/opt/oracle/extapi/64/hsm/othervendor/1.0/libothervendor_pkcs11.so`
pub fn other_vendor_library(host: &Path) -> PathBuf {
    host.join(EXTAPI_HSM)
        .join(OTHER_VENDOR)
        .join(OTHER_VENDOR_VERSION)
        .join(OTHER_VENDOR_FILE)
}

/// The libraries Oracle would find on `host`: `lib*.so*` files under
/// `opt/oracle/extapi/64/hsm/<vendor>/<version>/`, sorted.
pub fn oracle_libraries(host: &Path) -> Vec<PathBuf> {
    let entries = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for vendor in entries(&host.join(EXTAPI_HSM))
        .into_iter()
        .filter(|p| p.is_dir())
    {
        for version in entries(&vendor).into_iter().filter(|p| p.is_dir()) {
            for f in entries(&version) {
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

/// The WALLET_ROOT a rehearsal database gets when its profile names none.
pub fn default_wallet_root(database: &str) -> String {
    format!("/u01/app/oracle/admin/{}/wallet", state::db_name(database))
}

/// Which HSM the rehearsal's HSM keystore reaches now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reached {
    /// tdekey's token.
    Token,
    /// The simulated other vendor's HSM.
    Other,
    /// No library, or this many: Oracle answers ORA-28376.
    Missing(usize),
    /// One library that is neither tdekey's module nor the other vendor's stand-in.
    Foreign(PathBuf),
}

/// Creates the simulated database of `database` on another vendor's HSM: its state (nothing
/// configured yet, the other HSM with `user` and a verifier of `password`) and the other
/// vendor's library on its simulated host. The database itself is then set up with
/// [`other_hsm_seed_requests`]. Refused when the rehearsal already exists. Returns the
/// library's path.
pub fn create_other_hsm(
    data_dir: &Path,
    database: &str,
    multitenant: Multitenant,
    user: &str,
    password: &Secret,
) -> Result<PathBuf, OracleError> {
    let refuse = |why: String| Err(OracleError::Rehearsal(why));
    if multitenant == Multitenant::CdbIsolated {
        return refuse("the rehearsal simulates a non-CDB or a CDB in united mode; isolated PDB keystores are not simulated. Set the profile's multitenant option to one of those.".into());
    }
    if user.is_empty() || user.contains([':', '"', '\'']) || user.contains(char::is_whitespace) {
        return refuse(format!(
            "the other HSM's user name {user:?} cannot go into \"user:password\": give a name without colons, quotes or spaces."
        ));
    }
    if password.expose().is_empty() {
        return refuse("the other HSM's user needs a password.".into());
    }
    let path = state_path(data_dir, database);
    let host = host_root(data_dir, database);
    for p in [&path, &host] {
        if p.exists() {
            return refuse(format!(
                "a rehearsal database named {database:?} exists already ({}). Choose another name, or move {} and {} away to start it afresh.",
                p.display(),
                path.display(),
                host.display()
            ));
        }
    }
    let mut st = State::fresh(database, multitenant);
    st.other_hsm = Some(OtherHsm {
        vendor: OTHER_VENDOR.to_owned(),
        user: user.to_owned(),
        verifier: state::make_verifier(password)?,
        keys: Vec::new(),
        objects: Vec::new(),
    });
    let library = other_vendor_library(&host);
    let written = library
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&library, STAND_IN));
    if let Err(e) = written {
        return refuse(format!(
            "the other vendor's library could not be written to {}: {e}.",
            library.display()
        ));
    }
    if let Err(e) = state::write(&path, &st) {
        let _ = std::fs::remove_dir_all(&host);
        return Err(e);
    }
    Ok(library)
}

/// The statements that set a rehearsal database (created by [`create_other_hsm`]) up on the
/// other HSM, the way a DBA got there: the demo's file keystore with one master key
/// ([`seed_requests`]), HSM|FILE and a restart, the migration to the other HSM (logged in as
/// its user), then TDE_CONFIGURATION=HSM, a restart, and the HSM keystore opened.
pub fn other_hsm_seed_requests(
    wallet_root: &str,
    wallet_password: &Secret,
    user: &str,
    password: &Secret,
) -> Vec<Request> {
    let configuration = |value: &str| Request::SetTdeConfiguration {
        value: value.to_owned(),
        all_instances: false,
    };
    let mut requests = seed_requests(wallet_root, wallet_password);
    requests.extend([
        configuration("HSM|FILE"),
        Request::Restart,
        Request::Migrate {
            hsm_user: user.to_owned(),
            hsm_password: password.clone(),
            wallet_password: wallet_password.clone(),
            backup: Some(Some(format!("pre_{OTHER_VENDOR}"))),
        },
        configuration("HSM"),
        Request::Restart,
        Request::OpenKeystore {
            credential: Credential::Hsm {
                user: user.to_owned(),
                password: password.clone(),
            },
            all_containers: true,
        },
    ]);
    requests
}

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    /// Which HSM the HSM keystore reaches (see the module's comment).
    pub(super) fn reached(&self) -> Reached {
        if self.state.other_hsm.is_none() {
            return Reached::Token;
        }
        let found = oracle_libraries(&self.path.with_extension("host"));
        let [library] = found.as_slice() else {
            return Reached::Missing(found.len());
        };
        let Ok(bytes) = std::fs::read(library) else {
            return Reached::Foreign(library.clone());
        };
        if bytes == STAND_IN {
            return Reached::Other;
        }
        // The module is read only when its size matches.
        let module = self
            .hsm
            .module_path()
            .filter(|m| std::fs::metadata(m).is_ok_and(|md| md.len() == bytes.len() as u64))
            .and_then(|m| std::fs::read(m).ok());
        if module.is_some_and(|m| m == bytes) {
            Reached::Token
        } else {
            Reached::Foreign(library.clone())
        }
    }

    /// `Some(answer)` when Oracle could not reach an HSM at all (`reached` is Missing);
    /// on tdekey's token, the rehearsal's token rule ([`Self::check_token`]).
    pub(super) fn reach(&mut self, reached: &Reached) -> Result<Option<Reply>, OracleError> {
        match reached {
            Reached::Token => {
                self.check_token()?;
                Ok(None)
            }
            Reached::Other => Ok(None),
            Reached::Missing(n) => {
                self.notes.push(format!(
                    "Oracle found {} PKCS#11 library under /{EXTAPI_HSM}/<vendor>/<version>/ on the database host: it needs exactly one, the HSM's.",
                    if *n == 0 { "no".to_owned() } else { n.to_string() }
                ));
                Ok(Some(ora::NO_PKCS11_LIBRARY.reply()))
            }
            Reached::Foreign(p) => Err(OracleError::Rehearsal(format!(
                "the PKCS#11 library on the rehearsal's simulated host ({}) is neither the module tdekey loads (byte for byte) nor the simulated other vendor's, so the rehearsal cannot tell which HSM Oracle would reach. Put one of them there (the migration wizard's step 4 puts tdekey's).",
                p.display()
            ))),
        }
    }

    /// Logs in to the simulated other HSM as Oracle would with "user:password".
    pub(super) fn other_login(&mut self, user: &str, password: &Secret) -> Option<Reply> {
        let ok = self
            .state
            .other_hsm
            .as_ref()
            .is_some_and(|o| o.user == user && state::verify(&o.verifier, password));
        if ok {
            return None;
        }
        self.notes.push(format!(
            "The {OTHER_VENDOR} HSM (simulated) refused the login of {user:?}: wrong user or password."
        ));
        Some(ora::FAILED_TO_OPEN.then(ora::HSM_PIN_INCORRECT))
    }

    /// Oracle's marker object, on the other HSM.
    pub(super) fn other_marker(&mut self) {
        if let Some(o) = &mut self.state.other_hsm
            && !o.objects.iter().any(|x| x == SUPPORTED_IDEN)
        {
            o.objects.push(SUPPORTED_IDEN.to_owned());
        }
    }

    /// A master key generated on the other HSM, with its key-metadata object. Nothing reaches
    /// tdekey's token; the statement's notes say where the key is.
    pub(super) fn other_new_key(&mut self) -> String {
        use aes_gcm::aead::{OsRng, rand_core::RngCore};
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        let id = MasterKeyId(bytes);
        let key_id = hsm_key_id(&id);
        if let Some(o) = &mut self.state.other_hsm {
            o.keys.push(id.hsm_label());
            o.objects.push(key_metadata_label(&key_id));
        }
        self.notes.push(format!(
            "Oracle generated {} on the {OTHER_VENDOR} HSM (simulated, not tdekey's token).",
            id.hsm_label()
        ));
        key_id
    }

    /// Whether the other HSM holds `label`.
    pub(super) fn other_holds(&self, label: &str) -> bool {
        self.state
            .other_hsm
            .as_ref()
            .is_some_and(|o| o.keys.iter().chain(&o.objects).any(|x| x == label))
    }

    /// Whether an HSM master key is on the HSM the keystore reaches now (V$ENCRYPTION_KEYS
    /// lists only those). A file keystore's key: always.
    pub(super) fn key_reachable(&self, k: &KeyRecord, reached: &Reached) -> bool {
        use super::state::Ks;
        if k.keystore == Ks::File {
            return true;
        }
        let on_other = crate::tde::labels::parse_key_id(&k.key_id)
            .is_ok_and(|(_, id)| self.other_holds(&id.hsm_label()));
        match reached {
            Reached::Token => !on_other,
            Reached::Other => on_other,
            Reached::Missing(_) | Reached::Foreign(_) => false,
        }
    }
}
