//! The simulated database: its parameters, containers, file keystore, HSM_PASSWORD secret,
//! master keys and, for a database that started on another vendor's HSM, that HSM; kept as
//! JSON in the data directory (no secret: the keystore password and the other HSM's password
//! are Argon2id verifiers).

use crate::model::Multitenant;
use crate::oracle::OracleError;
use crate::secret::Secret;
use crate::tde::layout;
use serde::{Deserialize, Serialize};
use std::path::Path;

const STATE_FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Ks {
    File,
    Hsm,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Params {
    pub(super) wallet_root: Option<String>,
    pub(super) tde_configuration: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Container {
    pub(super) con_id: u32,
    pub(super) name: String,
    /// How the file keystore is open here: PASSWORD, AUTOLOGIN, LOCAL_AUTOLOGIN.
    pub(super) file_open: Option<String>,
    pub(super) hsm_open: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct FileKeystore {
    /// Argon2id PHC string of the keystore password (never the password).
    pub(super) verifier: String,
    /// `Some(local)` once an auto-login `cwallet.sso` exists.
    pub(super) autologin: Option<bool>,
    /// Changed since the last backup?
    pub(super) backed_up: bool,
    pub(super) backups: Vec<String>,
    /// The secret HSM_PASSWORD kept in this software keystore (ADD SECRET … FOR CLIENT
    /// 'HSM_PASSWORD' IDENTIFIED BY …): with an auto-login keystore made from it and
    /// TDE_CONFIGURATION HSM|FILE, the HSM keystore opens by itself. Absent from older state
    /// files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) hsm_secret: Option<Seps>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Seps {
    pub(super) dir: String,
    pub(super) local: bool,
    pub(super) user: String,
    /// Whether the stored HSM password logged in when it was added (Oracle only finds out when
    /// it opens the HSM with EXTERNAL STORE).
    pub(super) valid: bool,
    /// It was checked against the simulated other vendor's HSM (not tdekey's token). Absent
    /// from older state files: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) on_other_hsm: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct KeyRecord {
    pub(super) key_id: String,
    pub(super) keystore: Ks,
    pub(super) tag: String,
    pub(super) created_ms: i64,
    pub(super) activated_ms: i64,
    pub(super) con_id: u32,
    pub(super) backed_up: bool,
    /// CREATOR as V$ENCRYPTION_KEYS shows it: the session's user when the key was made or
    /// activated (SYS AS SYSDBA, SYSKM AS SYSKM). Absent from older state files: SYSKM, the
    /// only session older rehearsals had.
    #[serde(default = "syskm")]
    pub(super) creator: String,
    /// Oracle only activated this key (USE KEY of a key made on the HSM), it did not make it.
    /// Absent from older state files: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) activated_only: bool,
}

fn syskm() -> String {
    crate::tde::views::SYSKM.to_owned()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) format: u32,
    pub(super) database: String,
    pub(super) created_ms: i64,
    pub(super) restarts: u32,
    pub(super) spfile: Params,
    pub(super) memory: Params,
    /// The KEYSTORE_CONFIGURATION the keystores run with now.
    pub(super) active_configuration: Option<String>,
    pub(super) containers: Vec<Container>,
    pub(super) file: Option<FileKeystore>,
    pub(super) seps: Option<Seps>,
    pub(super) keys: Vec<KeyRecord>,
    /// The token the rehearsal's HSM keys live on, fixed at first use.
    pub(super) hsm_token: Option<String>,
    /// The other vendor's HSM the database started on (simulated: its keys are never on
    /// tdekey's token). Absent from older state files and from every database that did not
    /// start there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) other_hsm: Option<OtherHsm>,
    /// The encrypted tablespaces (V$ENCRYPTED_TABLESPACES). Absent from state files written
    /// before tdekey knew them: made from the key history when such a file is loaded
    /// ([`State::upgrade`]), and left absent for a database that never had a master key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tablespaces: Option<Vec<TablespaceRecord>>,
}

/// An encrypted tablespace of the simulated database, and the master key its key is wrapped
/// by (V$ENCRYPTED_TABLESPACES.MASTERKEYID).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TablespaceRecord {
    pub(super) con_id: u32,
    /// TS#
    pub(super) ts: u32,
    pub(super) name: String,
    pub(super) algorithm: String,
    /// The KEY_ID of the master key that wraps the tablespace key.
    pub(super) key_id: String,
    pub(super) key_version: u32,
    /// A READ ONLY tablespace: a rotation does not re-wrap its key (its header cannot be
    /// written), so it keeps needing the master key it was last wrapped by.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) read_only: bool,
}

/// The tablespace the rehearsal encrypts in a container when the container gets its first
/// master key, as a DBA does right after setting it (`ALTER TABLESPACE USERS ENCRYPTION ONLINE
/// USING 'AES256' ENCRYPT`): USERS, TS# 4 in a non-CDB and 5 in a PDB (the numbers Oracle's
/// seed databases give it). The root of a CDB keeps none encrypted (on premises nothing is
/// encrypted by default; a cloud database encrypts every tablespace, as the real 19c output
/// in tests/fixtures/oracle/tablespaces/ shows).
fn demo_tablespace(cdb: bool, con_id: u32, key_id: &str) -> Option<TablespaceRecord> {
    (!cdb || con_id > 1).then(|| TablespaceRecord {
        con_id,
        ts: if cdb { 5 } else { 4 },
        name: "USERS".to_owned(),
        algorithm: "AES256".to_owned(),
        key_id: key_id.to_owned(),
        key_version: 1,
        read_only: false,
    })
}

/// A simulated HSM of another vendor: its user, the Argon2id verifier of that user's
/// password (never the password), and what Oracle made there. Oracle reaches it while that
/// vendor's PKCS#11 library is the one under `/opt/oracle/extapi/64/hsm/` on the host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct OtherHsm {
    /// The `<vendor>` directory of its library under extapi/64/hsm/.
    pub(super) vendor: String,
    pub(super) user: String,
    /// Argon2id PHC string of the user's password.
    pub(super) verifier: String,
    /// The labels of the master keys Oracle generated there (`ORACLE.TDE.HSM.MK.06…`).
    pub(super) keys: Vec<String>,
    /// The labels of the data objects Oracle wrote there (key metadata, the marker).
    pub(super) objects: Vec<String>,
}

impl State {
    pub(super) fn fresh(database: &str, multitenant: Multitenant) -> Self {
        let upper = db_name(database);
        let containers = match multitenant {
            Multitenant::NonCdb => vec![Container::new(0, &upper)],
            Multitenant::CdbUnited | Multitenant::CdbIsolated => {
                vec![Container::new(1, "CDB$ROOT"), Container::new(3, "PDB1")]
            }
        };
        Self {
            format: STATE_FORMAT,
            database: upper,
            created_ms: now_ms(),
            restarts: 0,
            spfile: Params::default(),
            memory: Params::default(),
            active_configuration: None,
            containers,
            file: None,
            seps: None,
            keys: Vec::new(),
            hsm_token: None,
            other_hsm: None,
            tablespaces: None,
        }
    }

    /// Brings a state written by an older tdekey up to what Oracle shows: HSM keys written
    /// with a base64 KEY_ID get the 34-hex-digit `06…` form Oracle uses for HSM keys.
    pub(super) fn upgrade(&mut self) {
        for k in &mut self.keys {
            if k.keystore == Ks::Hsm
                && let Ok((_, id)) = crate::tde::labels::parse_key_id(&k.key_id)
            {
                k.key_id = crate::tde::labels::hsm_key_id(&id);
            }
        }
        // Before tdekey knew the tablespaces: each container with a key has its USERS
        // tablespace, re-wrapped by every rotation since, so wrapped by its current key now.
        if self.tablespaces.is_none() && !self.keys.is_empty() {
            let cons: Vec<u32> = self.containers.iter().map(|c| c.con_id).collect();
            for con in cons {
                self.rewrap(con);
            }
        }
    }

    /// After container `con_id` got a new current master key (SET KEY, USE KEY, MIGRATE,
    /// REVERSE MIGRATE): Oracle re-wraps the database key and every tablespace key under it
    /// (alert log "Tablespace key rewrap done"; KEY_VERSION unchanged), except a READ ONLY
    /// tablespace's: the 26ai lab report cited in tests/fixtures/oracle/SOURCES.md, "Not found
    /// for issue #23". A container's first key also encrypts its demo tablespace.
    pub(super) fn rewrap(&mut self, con_id: u32) {
        let Some(current) = self.current_key(con_id).map(|k| k.key_id.clone()) else {
            return;
        };
        let cdb = self.cdb();
        let list = self.tablespaces.get_or_insert_with(Vec::new);
        if !list.iter().any(|t| t.con_id == con_id)
            && let Some(t) = demo_tablespace(cdb, con_id, &current)
        {
            list.push(t);
        }
        for t in list
            .iter_mut()
            .filter(|t| t.con_id == con_id && !t.read_only)
        {
            t.key_id.clone_from(&current);
        }
    }

    pub(super) fn cdb(&self) -> bool {
        self.containers.len() > 1
    }

    pub(super) fn keystores(&self) -> Vec<Ks> {
        match self.active_configuration.as_deref() {
            None => Vec::new(),
            Some(c) => c
                .split('|')
                .filter_map(|p| match p {
                    "FILE" => Some(Ks::File),
                    "HSM" => Some(Ks::Hsm),
                    _ => None,
                })
                .collect(),
        }
    }

    pub(super) fn primary(&self) -> Option<Ks> {
        self.keystores().first().copied()
    }

    pub(super) fn targets(&self, all_containers: bool) -> Vec<usize> {
        if all_containers {
            (0..self.containers.len()).collect()
        } else {
            vec![0]
        }
    }

    pub(super) fn current_key(&self, con_id: u32) -> Option<&KeyRecord> {
        self.keys
            .iter()
            .filter(|k| k.con_id == con_id)
            .max_by_key(|k| k.activated_ms)
    }

    pub(super) fn any_open(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.file_open.is_some() || c.hsm_open)
    }

    pub(super) fn wallet_dir(&self) -> Option<String> {
        self.memory
            .wallet_root
            .as_ref()
            .map(|r| format!("{}/", layout::under_root(r, layout::KEYSTORE_DIR)))
    }
}

impl Container {
    pub(super) fn new(con_id: u32, name: &str) -> Self {
        Self {
            con_id,
            name: name.to_owned(),
            file_open: None,
            hsm_open: false,
        }
    }
}

/// The state in `path`, or a fresh one when there is none. A state file written before a field
/// was added loads with that field's default.
pub(super) fn load(
    path: &Path,
    database: &str,
    multitenant: Multitenant,
) -> Result<State, OracleError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let s: State = serde_json::from_slice(&bytes).map_err(|e| {
                OracleError::Rehearsal(format!(
                    "the rehearsal state {} is not readable ({e}). Move it away to start the rehearsal afresh.",
                    path.display()
                ))
            })?;
            if s.format != STATE_FORMAT {
                return Err(OracleError::Rehearsal(format!(
                    "the rehearsal state {} has format {}, this tdekey reads format {STATE_FORMAT}.",
                    path.display(),
                    s.format
                )));
            }
            let mut s = s;
            s.upgrade();
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(State::fresh(database, multitenant))
        }
        Err(e) => Err(OracleError::Rehearsal(format!(
            "the rehearsal state {} could not be read: {e}.",
            path.display()
        ))),
    }
}

/// Writes `state` to `path` atomically, in a private directory.
pub(super) fn write(path: &Path, state: &State) -> Result<(), OracleError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| {
        OracleError::Rehearsal(format!(
            "the rehearsal state could not be written to {}: {e}.",
            path.display()
        ))
    };
    crate::paths::create_private_dir(dir).map_err(fail)?;
    let (prefix, suffix) = temp_name(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(suffix)
        .tempfile_in(dir)
        .map_err(fail)?;
    let json = serde_json::to_vec_pretty(state)
        .map_err(|e| OracleError::Rehearsal(format!("the state could not be encoded: {e}.")))?;
    tmp.write_all(&json).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The temporary file of an atomic write of `path`: `.<name>.<random>.tmp` beside it.
fn temp_name(path: &Path) -> (String, &'static str) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (format!(".{name}."), ".tmp")
}

/// The simulated database's file lock (`<state>.lock` beside it), held for one statement:
/// read the state, apply, write it atomically, release. Another process (the window's console
/// and a command line at once) waits for it, so no statement loses another's update. Under it,
/// the temporary files of the state's writes that a killed process left are removed.
pub(super) struct Lock {
    _file: std::fs::File,
}

pub(super) fn lock(path: &Path) -> Result<Lock, OracleError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = std::path::PathBuf::from(lock_path);
    let fail = |e: std::io::Error| {
        OracleError::Rehearsal(format!(
            "the rehearsal database's lock {} could not be taken: {e}.",
            lock_path.display()
        ))
    };
    crate::paths::create_private_dir(dir).map_err(fail)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(fail)?;
    crate::paths::set_mode(&lock_path, 0o600).map_err(fail)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::faults::point(crate::faults::REHEARSAL_LOCK_WAIT);
            file.lock().map_err(fail)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
    }
    let (prefix, suffix) = temp_name(path);
    crate::paths::remove_leftovers(dir, &prefix, suffix).map_err(fail)?;
    Ok(Lock { _file: file })
}

/// An Oracle DB_NAME for a profile name: its last word of at most 8 letters and digits, else
/// its first 8 letters and digits, in upper case ("Rehearsal demo" → DEMO).
pub(super) fn db_name(profile: &str) -> String {
    let word = profile
        .split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|w| !w.is_empty() && w.len() <= 8)
        .map(str::to_owned);
    let name = word.unwrap_or_else(|| {
        profile
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect()
    });
    if name.is_empty() {
        "ORCL".to_owned()
    } else {
        name.to_ascii_uppercase()
    }
}

pub(super) fn now_ms() -> i64 {
    crate::model::now_ms()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes: OWASP's minimum): these are
/// rehearsal passwords, checked often in tests.
pub(super) fn argon() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::default(),
    )
}

pub(super) fn make_verifier(password: &Secret) -> Result<String, OracleError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut aes_gcm::aead::OsRng);
    argon()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OracleError::Rehearsal(format!("could not derive a password verifier: {e}")))
}

pub(super) fn verify(verifier: &str, password: &Secret) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(verifier)
        .map(|h| {
            argon()
                .verify_password(password.expose().as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}
