//! Rehearsal: a simulated Oracle 19c TDE keystore whose HSM side is the real HSM connection.
//!
//! It answers every [`Request`] the way Oracle 19c does for the migration and rotation
//! procedures: WALLET_ROOT (static: it takes effect at the next restart), TDE_CONFIGURATION (not
//! before WALLET_ROOT; while a keystore is open a changed KEYSTORE_CONFIGURATION waits for the
//! keystores to close or the database to restart), the file keystore's states and password,
//! migrate, reverse migrate, SET KEY, USE KEY, auto-login, backups, the V$ENCRYPTION_WALLET and
//! V$ENCRYPTION_KEYS rows, and the ORA- errors of wrong orders and wrong passwords.
//!
//! Its HSM keystore is the token tdekey is connected to: a migration or `SET KEY` generates a
//! real `ORACLE.TDE.HSM.MK.06…` AES-256 key (sensitive, not extractable) and a key-metadata data
//! object, `USE KEY` looks the label up on the token (ORA-28374 when it is not there), and an HSM
//! password is checked against the token. The simulated database's state is a JSON file in the
//! data directory (`rehearsal/<name>.json`, mode 0600) so a rehearsal survives a restart of
//! tdekey. It holds no secret: the file keystore's password is kept as an Argon2id verifier.
//!
//! Where Oracle's exact behaviour is not documented the choice is marked (unverified) below.

use super::{Answer, Connector, OracleError};
use crate::model::PinFormat;
use crate::model::{ConnectorKind, Multitenant};
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, SUPPORTED_IDEN, format_key_id, key_metadata_label};
use crate::tde::output::{KEYS_COLUMNS, OraError, Parameter, Row, WALLET_COLUMNS};
use crate::tde::request::{INSTANCE_STARTED, KEYSTORE_ALTERED, Reply, Request, SYSTEM_ALTERED};
use crate::tde::sql::{Credential, Options, keystore_configuration};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the rehearsal calls itself everywhere it appears.
pub const LABEL: &str = ConnectorKind::Rehearsal.label();

/// The HSM side of a rehearsal: the token its HSM keystore lives on. The HSM adapter
/// implements it in the workflow layer, so this adapter knows no other adapter.
pub trait HsmKeystore {
    /// The label of the token a session is open on.
    fn token_label(&self) -> Option<String>;
    fn logged_in(&self) -> bool;
    /// Checks an HSM password the way a database would when a statement carries it.
    fn check_login(
        &mut self,
        user: &str,
        password: &Secret,
        format: PinFormat,
    ) -> Result<(), LoginRefused>;
    /// How many objects the session sees with this label.
    fn count_label(&self, label: &str) -> Result<usize, OracleError>;
    /// Creates a private token data object.
    fn create_data_object(
        &self,
        label: &str,
        application: &str,
        value: &[u8],
    ) -> Result<(), OracleError>;
    /// Generates a master key as Oracle does: a random 16-byte id from the HSM, an AES-256
    /// key labelled `ORACLE.TDE.HSM.MK.06<id>`, sensitive and never extractable.
    fn generate_master_key(&self) -> Result<MasterKeyId, OracleError>;
}

/// Why the token did not accept an HSM password.
#[derive(Debug)]
pub enum LoginRefused {
    /// A wrong password or user (the sentence says which).
    Wrong(String),
    /// The user is locked (CKR_PIN_LOCKED).
    Locked,
    /// Something else failed.
    Fault(OracleError),
}
/// The application attribute of the data objects the rehearsal writes to the token.
const APPLICATION: &str = "tdekey Rehearsal";
const STATE_FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Ks {
    File,
    Hsm,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Params {
    wallet_root: Option<String>,
    tde_configuration: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Container {
    con_id: u32,
    name: String,
    /// How the file keystore is open here: PASSWORD, AUTOLOGIN, LOCAL_AUTOLOGIN.
    file_open: Option<String>,
    hsm_open: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct FileKeystore {
    /// Argon2id PHC string of the keystore password (never the password).
    verifier: String,
    /// `Some(local)` once an auto-login `cwallet.sso` exists.
    autologin: Option<bool>,
    /// Changed since the last backup?
    backed_up: bool,
    backups: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Seps {
    dir: String,
    local: bool,
    user: String,
    /// Whether the stored HSM password logged in when it was added (Oracle only finds out when
    /// it opens the HSM with EXTERNAL STORE).
    valid: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyRecord {
    key_id: String,
    keystore: Ks,
    tag: String,
    created_ms: i64,
    activated_ms: i64,
    con_id: u32,
    backed_up: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    format: u32,
    database: String,
    created_ms: i64,
    restarts: u32,
    spfile: Params,
    memory: Params,
    /// The KEYSTORE_CONFIGURATION the keystores run with now.
    active_configuration: Option<String>,
    containers: Vec<Container>,
    file: Option<FileKeystore>,
    seps: Option<Seps>,
    keys: Vec<KeyRecord>,
    /// The token the rehearsal's HSM keys live on, fixed at first use.
    hsm_token: Option<String>,
}

impl State {
    fn fresh(database: &str, multitenant: Multitenant) -> Self {
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
        }
    }

    fn cdb(&self) -> bool {
        self.containers.len() > 1
    }

    fn keystores(&self) -> Vec<Ks> {
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

    fn primary(&self) -> Option<Ks> {
        self.keystores().first().copied()
    }

    fn targets(&self, all_containers: bool) -> Vec<usize> {
        if all_containers {
            (0..self.containers.len()).collect()
        } else {
            vec![0]
        }
    }

    fn current_key(&self, con_id: u32) -> Option<&KeyRecord> {
        self.keys
            .iter()
            .filter(|k| k.con_id == con_id)
            .max_by_key(|k| k.activated_ms)
    }

    fn any_open(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.file_open.is_some() || c.hsm_open)
    }

    fn wallet_dir(&self) -> Option<String> {
        self.memory
            .wallet_root
            .as_ref()
            .map(|r| format!("{}/tde/", r.trim_end_matches('/')))
    }
}

impl Container {
    fn new(con_id: u32, name: &str) -> Self {
        Self {
            con_id,
            name: name.to_owned(),
            file_open: None,
            hsm_open: false,
        }
    }
}

/// An Oracle DB_NAME for a profile name: its last word of at most 8 letters and digits, else
/// its first 8 letters and digits, in upper case ("Rehearsal demo" → DEMO).
fn db_name(profile: &str) -> String {
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

fn now_ms() -> i64 {
    crate::model::now_ms()
}

fn ora(code: &str, text: &str) -> Reply {
    Reply::Error {
        error: OraError {
            code: code.to_owned(),
            text: text.to_owned(),
        },
        more: Vec::new(),
    }
}

fn ora2(code: &str, text: &str, code2: &str, text2: &str) -> Reply {
    Reply::Error {
        error: OraError {
            code: code.to_owned(),
            text: text.to_owned(),
        },
        more: vec![OraError {
            code: code2.to_owned(),
            text: text2.to_owned(),
        }],
    }
}

fn altered() -> Reply {
    Reply::Done {
        feedback: "Keystore altered.".into(),
    }
}

const FAILED_TO_OPEN: (&str, &str) = ("ORA-28353", "failed to open wallet");
const ALREADY_OPEN: (&str, &str) = (
    "ORA-28354",
    "Encryption wallet, auto login wallet, or HSM is already open",
);
const NOT_OPEN: (&str, &str) = ("ORA-28365", "wallet is not open");
const DOES_NOT_EXIST: (&str, &str) = ("ORA-28367", "wallet does not exist");
const KEY_NOT_FOUND: (&str, &str) = ("ORA-28374", "typed master key not found in wallet");
const NO_MASTER_KEY: (&str, &str) = ("ORA-28362", "master key not found");
const INVALID_OPERATION: (&str, &str) = ("ORA-28366", "invalid wallet operation");
const MISMATCH: (&str, &str) = ("ORA-46627", "keystore password mismatch");
const CANNOT_CREATE: (&str, &str) = (
    "ORA-46630",
    "keystore cannot be created at the specified location",
);
const NEEDS_BACKUP: (&str, &str) = ("ORA-46631", "keystore needs to be backed up");
const NO_WALLET_ROOT: (&str, &str) = (
    "ORA-46693",
    "The WALLET_ROOT location is missing or invalid.",
);

fn e(x: (&str, &str)) -> Reply {
    ora(x.0, x.1)
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes: OWASP's minimum): these are
/// rehearsal passwords, checked often in tests.
fn argon() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::default(),
    )
}

fn make_verifier(password: &Secret) -> Result<String, OracleError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut aes_gcm::aead::OsRng);
    argon()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OracleError::Rehearsal(format!("could not derive a password verifier: {e}")))
}

fn verify(verifier: &str, password: &Secret) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(verifier)
        .map(|h| {
            argon()
                .verify_password(password.expose().as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

/// `<data dir>/rehearsal/<name>.json`
pub fn state_path(data_dir: &Path, database: &str) -> PathBuf {
    data_dir
        .join("rehearsal")
        .join(format!("{}.json", sanitize(database)))
}

/// Oracle's TIMESTAMP WITH TIME ZONE display: `24-NOV-26 09.15.02.123456 AM +00:00`.
fn oracle_time(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    t.format("%d-%b-%y %I.%M.%S.%6f %p +00:00")
        .to_string()
        .to_ascii_uppercase()
}

/// The statements that make a demo database ready for a migration: WALLET_ROOT set (and the
/// instance restarted), TDE_CONFIGURATION=FILE, a password file keystore, opened, with one
/// master key, backed up.
pub fn seed_requests(wallet_root: &str, wallet_password: &Secret) -> Vec<Request> {
    vec![
        Request::SetWalletRoot {
            dir: wallet_root.to_owned(),
            all_instances: false,
        },
        Request::Restart,
        Request::SetTdeConfiguration {
            value: "FILE".into(),
            all_instances: false,
        },
        Request::CreateKeystore {
            password: wallet_password.clone(),
        },
        Request::OpenKeystore {
            credential: Credential::Password(wallet_password.clone()),
            all_containers: true,
        },
        Request::SetKey {
            tag: Some("initial".into()),
            credential: Credential::Password(wallet_password.clone()),
            options: Options {
                backup: Some(Some("initial".into())),
                all_containers: true,
            },
        },
    ]
}

pub struct Rehearsal<'h, K: HsmKeystore + ?Sized = dyn HsmKeystore + 'h> {
    path: PathBuf,
    state: State,
    hsm: &'h mut K,
    pin_format: PinFormat,
    notes: Vec<String>,
    created: Vec<String>,
}

impl<K: HsmKeystore + ?Sized> std::fmt::Debug for Rehearsal<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rehearsal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'h, K: HsmKeystore + ?Sized> Rehearsal<'h, K> {
    /// Opens the rehearsal database stored at `path`, or starts a new one there: an instance
    /// with nothing configured (no WALLET_ROOT, no keystore).
    pub fn open(
        path: &Path,
        database: &str,
        multitenant: Multitenant,
        hsm: &'h mut K,
        pin_format: PinFormat,
    ) -> Result<Self, OracleError> {
        if multitenant == Multitenant::CdbIsolated {
            return Err(OracleError::Rehearsal(
                "the rehearsal simulates a non-CDB or a CDB in united mode; isolated PDB keystores are not simulated. Set the profile's multitenant option to one of those.".into(),
            ));
        }
        let state = match std::fs::read(path) {
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
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                State::fresh(database, multitenant)
            }
            Err(e) => {
                return Err(OracleError::Rehearsal(format!(
                    "the rehearsal state {} could not be read: {e}.",
                    path.display()
                )));
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            state,
            hsm,
            pin_format,
            notes: Vec::new(),
            created: Vec::new(),
        })
    }

    /// The HSM keystore the rehearsal uses.
    pub fn keystore(&mut self) -> &mut K {
        self.hsm
    }

    fn save(&self) -> Result<(), OracleError> {
        use std::io::Write;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let fail = |e: std::io::Error| {
            OracleError::Rehearsal(format!(
                "the rehearsal state could not be written to {}: {e}.",
                self.path.display()
            ))
        };
        crate::paths::create_private_dir(dir).map_err(fail)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| OracleError::Rehearsal(format!("the state could not be encoded: {e}.")))?;
        tmp.write_all(&json).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&self.path).map_err(|e| fail(e.error))?;
        Ok(())
    }

    /// Makes a demo database ready for a migration: WALLET_ROOT set (restarted), a password
    /// file keystore with one master key, open, backed up, TDE_CONFIGURATION=FILE. Each step is
    /// an ordinary request, so the demo starts from a state Oracle could be in.
    pub fn seed(&mut self, wallet_root: &str, wallet_password: &Secret) -> Result<(), OracleError> {
        for r in &seed_requests(wallet_root, wallet_password) {
            let a = self.run(r)?;
            if let Reply::Error { error, .. } = &a.reply {
                return Err(OracleError::Rehearsal(format!(
                    "setting up the demo database failed at \"{}\": {}: {}",
                    r.title(),
                    error.code,
                    error.text
                )));
            }
        }
        Ok(())
    }

    /// Checks an HSM password against the token. `Ok(None)`: accepted.
    fn hsm_login(&mut self, user: &str, password: &Secret) -> Result<Option<Reply>, OracleError> {
        self.check_token()?;
        match self.hsm.check_login(user, password, self.pin_format) {
            Ok(()) => Ok(None),
            Err(LoginRefused::Wrong(e)) => {
                self.notes
                    .push(format!("The HSM refused the password: {e}"));
                Ok(Some(ora2(
                    FAILED_TO_OPEN.0,
                    FAILED_TO_OPEN.1,
                    "ORA-28407",
                    "Hardware Security Module failed with PKCS#11 error CKR_PIN_INCORRECT(160)",
                )))
            }
            Err(LoginRefused::Locked) => Ok(Some(ora2(
                FAILED_TO_OPEN.0,
                FAILED_TO_OPEN.1,
                "ORA-28407",
                "Hardware Security Module failed with PKCS#11 error CKR_PIN_LOCKED(164)",
            ))),
            Err(LoginRefused::Fault(e)) => Err(e),
        }
    }

    /// The rehearsal's HSM keys stay on one token.
    fn check_token(&mut self) -> Result<(), OracleError> {
        let current = self.hsm.token_label().ok_or_else(|| {
                OracleError::Rehearsal(
                    "tdekey has no session on the token this rehearsal uses. Connect to its HSM connection profile first (the HSM screen, or --profile on the command line).".into(),
                )
            })?;
        match &self.state.hsm_token {
            Some(t) if *t != current => Err(OracleError::Rehearsal(format!(
                "this rehearsal keeps its HSM keys on token {t:?}, but tdekey is connected to {current:?}. Connect to {t:?} first."
            ))),
            Some(_) => Ok(()),
            None => {
                self.state.hsm_token = Some(current);
                Ok(())
            }
        }
    }

    fn ensure_marker(&mut self) -> Result<(), OracleError> {
        if self.hsm.count_label(SUPPORTED_IDEN)? == 0 {
            self.hsm
                .create_data_object(SUPPORTED_IDEN, APPLICATION, b"tdekey rehearsal")?;
            self.created.push(SUPPORTED_IDEN.to_owned());
        }
        Ok(())
    }

    /// Generates an HSM master key as Oracle would, with its key-metadata object.
    fn new_hsm_key(&mut self) -> Result<String, OracleError> {
        let id = self.hsm.generate_master_key()?;
        self.created.push(id.hsm_label());
        let key_id = format_key_id(0x06, &id);
        let km = key_metadata_label(&key_id);
        self.hsm
            .create_data_object(&km, APPLICATION, key_id.as_bytes())?;
        self.created.push(km);
        Ok(key_id)
    }

    fn new_file_key() -> String {
        use aes_gcm::aead::{OsRng, rand_core::RngCore};
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        format_key_id(0x01, &MasterKeyId(id))
    }

    fn add_key(&mut self, key_id: String, keystore: Ks, tag: Option<&str>, con_id: u32) {
        let now = now_ms();
        self.state.keys.push(KeyRecord {
            key_id,
            keystore,
            tag: tag.unwrap_or("").to_owned(),
            created_ms: now,
            activated_ms: now,
            con_id,
            backed_up: false,
        });
    }

    fn backup_file(&mut self, tag: Option<&str>) {
        if let Some(f) = &mut self.state.file {
            let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
            let name = match tag {
                Some(t) => format!("ewallet_{stamp}_{t}.p12"),
                None => format!("ewallet_{stamp}.p12"),
            };
            f.backups.push(name.clone());
            f.backed_up = true;
            for k in &mut self.state.keys {
                if k.keystore == Ks::File {
                    k.backed_up = true;
                }
            }
            self.notes.push(format!("Backup written: {name}."));
        }
    }

    /// Opens auto-login keystores, as Oracle does at startup and on a query of the view.
    fn auto_open(&mut self) {
        let ks = self.state.keystores();
        if ks.contains(&Ks::File)
            && let Some(local) = self.state.file.as_ref().and_then(|f| f.autologin)
        {
            let how = if local {
                "LOCAL_AUTOLOGIN"
            } else {
                "AUTOLOGIN"
            };
            for c in &mut self.state.containers {
                if c.file_open.is_none() {
                    c.file_open = Some(how.to_owned());
                }
            }
        }
        if ks.contains(&Ks::Hsm)
            && self.state.seps.as_ref().is_some_and(|s| s.valid)
            && self.hsm.logged_in()
        {
            for c in &mut self.state.containers {
                c.hsm_open = true;
            }
        }
    }

    fn file_password_ok(&self, password: &Secret) -> bool {
        self.state
            .file
            .as_ref()
            .is_some_and(|f| verify(&f.verifier, password))
    }

    fn wallet_rows(&mut self) -> Vec<Row> {
        self.auto_open();
        let st = &self.state;
        let ks = st.keystores();
        let mut rows = Vec::new();
        for c in &st.containers {
            let mode = if c.con_id <= 1 { "NONE" } else { "UNITED" };
            let current = st.current_key(c.con_id);
            let mut push = |values: [String; 7]| {
                let mut r: Vec<(String, String)> = WALLET_COLUMNS[..7]
                    .iter()
                    .map(|n| (*n).to_owned())
                    .zip(values)
                    .collect();
                r.push(("CON_ID".into(), c.con_id.to_string()));
                rows.push(Row(r));
            };
            if ks.is_empty() {
                push([
                    "FILE".into(),
                    st.wallet_dir().unwrap_or_default(),
                    "NOT_AVAILABLE".into(),
                    "UNKNOWN".into(),
                    "SINGLE".into(),
                    mode.into(),
                    "UNDEFINED".into(),
                ]);
                continue;
            }
            for (i, k) in ks.iter().enumerate() {
                let order = if ks.len() == 1 {
                    "SINGLE"
                } else if i == 0 {
                    "PRIMARY"
                } else {
                    "SECONDARY"
                };
                match k {
                    Ks::File => {
                        let (status, wtype, backed) = match (&st.file, &c.file_open) {
                            (None, _) => ("NOT_AVAILABLE", "UNKNOWN".to_owned(), "UNDEFINED"),
                            (Some(_), None) => ("CLOSED", "UNKNOWN".to_owned(), "UNDEFINED"),
                            (Some(f), Some(how)) => {
                                let has_key = st
                                    .keys
                                    .iter()
                                    .any(|x| x.con_id == c.con_id && x.keystore == Ks::File);
                                (
                                    if has_key {
                                        "OPEN"
                                    } else {
                                        "OPEN_NO_MASTER_KEY"
                                    },
                                    how.clone(),
                                    if f.backed_up { "YES" } else { "NO" },
                                )
                            }
                        };
                        let dir = if c.con_id <= 1 {
                            st.wallet_dir().unwrap_or_default()
                        } else {
                            String::new()
                        };
                        push([
                            "FILE".into(),
                            dir,
                            status.into(),
                            wtype,
                            order.into(),
                            mode.into(),
                            backed.into(),
                        ]);
                    }
                    Ks::Hsm => {
                        let (status, wtype) = if !c.hsm_open {
                            ("CLOSED", "UNKNOWN")
                        } else if current.is_some_and(|k| k.keystore == Ks::Hsm) {
                            ("OPEN", "HSM")
                        } else {
                            ("OPEN_NO_MASTER_KEY", "HSM")
                        };
                        push([
                            "HSM".into(),
                            String::new(),
                            status.into(),
                            wtype.into(),
                            order.into(),
                            mode.into(),
                            "UNDEFINED".into(),
                        ]);
                    }
                }
            }
        }
        rows
    }

    fn key_rows(&self) -> Vec<Row> {
        let st = &self.state;
        let dbid = {
            use sha2::Digest;
            let h = sha2::Sha256::digest(st.database.as_bytes());
            u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff
        };
        let mut keys: Vec<&KeyRecord> = st
            .keys
            .iter()
            .filter(|k| {
                st.containers.iter().any(|c| {
                    c.con_id == k.con_id
                        && match k.keystore {
                            Ks::File => c.file_open.is_some(),
                            Ks::Hsm => c.hsm_open,
                        }
                })
            })
            .collect();
        keys.sort_by_key(|k| (k.con_id, k.created_ms));
        keys.into_iter()
            .map(|k| {
                let pdb = if st.cdb() {
                    st.containers
                        .iter()
                        .find(|c| c.con_id == k.con_id)
                        .map(|c| c.name.clone())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                let value = |col: &str| -> String {
                    match col {
                        "KEY_ID" => k.key_id.clone(),
                        "TAG" => k.tag.clone(),
                        "CREATION_TIME" => oracle_time(k.created_ms),
                        "ACTIVATION_TIME" => oracle_time(k.activated_ms),
                        "CREATOR" | "USER" => "SYSKM".into(),
                        "CREATOR_ID" | "USER_ID" => "2147483617".into(),
                        "KEY_USE" => if st.cdb() { "TDE IN PDB" } else { "TDE" }.into(),
                        "KEYSTORE_TYPE" => match k.keystore {
                            Ks::File => "SOFTWARE KEYSTORE".into(),
                            Ks::Hsm => "HSM".into(),
                        },
                        "ORIGIN" => "LOCAL".into(),
                        "BACKED_UP" => if k.backed_up { "YES" } else { "NO" }.into(),
                        "CREATOR_DBNAME" | "ACTIVATING_DBNAME" => st.database.clone(),
                        "CREATOR_DBID" | "ACTIVATING_DBID" => dbid.to_string(),
                        "CREATOR_INSTANCE_NAME" | "ACTIVATING_INSTANCE_NAME" => {
                            st.database.to_ascii_lowercase()
                        }
                        "CREATOR_INSTANCE_NUMBER" | "ACTIVATING_INSTANCE_NUMBER" => "1".into(),
                        "CREATOR_INSTANCE_SERIAL" | "ACTIVATING_INSTANCE_SERIAL" => {
                            (st.restarts + 1).to_string()
                        }
                        "CREATOR_PDBNAME" | "ACTIVATING_PDBNAME" => pdb.clone(),
                        "CREATOR_PDBID" | "ACTIVATING_PDBID" => {
                            if st.cdb() {
                                k.con_id.to_string()
                            } else {
                                String::new()
                            }
                        }
                        "CON_ID" => k.con_id.to_string(),
                        _ => String::new(),
                    }
                };
                Row(KEYS_COLUMNS
                    .iter()
                    .map(|c| ((*c).to_owned(), value(c)))
                    .collect())
            })
            .collect()
    }

    fn show_parameter(&self, p: crate::tde::request::ParameterName) -> Reply {
        use crate::tde::request::ParameterName;
        let value = match p {
            ParameterName::WalletRoot => self.state.memory.wallet_root.clone(),
            ParameterName::TdeConfiguration => self
                .state
                .memory
                .tde_configuration
                .as_ref()
                .map(|c| format!("KEYSTORE_CONFIGURATION={c}")),
        };
        Reply::Parameter {
            parameter: Parameter {
                name: p.as_str().to_owned(),
                kind: "string".into(),
                value: value.unwrap_or_default(),
            },
        }
    }

    fn restart(&mut self) -> Reply {
        let st = &mut self.state;
        st.memory = st.spfile.clone();
        st.active_configuration = st.memory.tde_configuration.clone();
        for c in &mut st.containers {
            c.file_open = None;
            c.hsm_open = false;
        }
        st.restarts += 1;
        self.notes.push(format!(
            "The rehearsal database restarted: WALLET_ROOT={}, TDE_CONFIGURATION={}.",
            st.memory.wallet_root.as_deref().unwrap_or("(not set)"),
            st.memory
                .tde_configuration
                .as_deref()
                .map_or("(not set)".to_owned(), |c| format!(
                    "KEYSTORE_CONFIGURATION={c}"
                )),
        ));
        self.auto_open();
        Reply::Done {
            feedback: "Database opened.".into(),
        }
    }

    fn set_tde_configuration(&mut self, value: &str) -> Result<Reply, OracleError> {
        let v = keystore_configuration(value)?;
        if v.contains("OKV") {
            return Err(OracleError::Rehearsal(
                "the rehearsal simulates FILE and HSM keystores only, not Oracle Key Vault.".into(),
            ));
        }
        if self.state.memory.wallet_root.is_none() {
            return Ok(ora2(
                "ORA-32017",
                "failure in updating SPFILE",
                NO_WALLET_ROOT.0,
                NO_WALLET_ROOT.1,
            ));
        }
        self.state.spfile.tde_configuration = Some(v.to_owned());
        self.state.memory.tde_configuration = Some(v.to_owned());
        if self.state.active_configuration.as_deref() != Some(v) {
            if self.state.any_open() {
                // (unverified) Oracle's exact rule for a configuration changed under an open
                // keystore; the rehearsal makes the DBA close or restart.
                self.notes.push(format!(
                    "A keystore is open, so KEYSTORE_CONFIGURATION={v} takes effect when every keystore is closed or the database restarts."
                ));
            } else {
                self.state.active_configuration = Some(v.to_owned());
            }
        }
        Ok(Reply::Done {
            feedback: "System altered.".into(),
        })
    }

    fn create_keystore(&mut self, password: &Secret) -> Result<Reply, OracleError> {
        if self.state.memory.wallet_root.is_none() {
            return Ok(e(NO_WALLET_ROOT));
        }
        if self.state.file.is_some() {
            return Ok(e(CANNOT_CREATE));
        }
        self.state.file = Some(FileKeystore {
            verifier: make_verifier(password)?,
            autologin: None,
            backed_up: false,
            backups: Vec::new(),
        });
        Ok(altered())
    }

    fn open_keystore(&mut self, c: &Credential, all: bool) -> Result<Reply, OracleError> {
        let ks = self.state.keystores();
        if ks.is_empty() {
            return Ok(e(DOES_NOT_EXIST));
        }
        let targets = self.state.targets(all);
        match c {
            Credential::Hsm { user, password } if ks.contains(&Ks::Hsm) => {
                if targets.iter().all(|&i| self.state.containers[i].hsm_open) {
                    return Ok(e(ALREADY_OPEN));
                }
                if let Some(err) = self.hsm_login(user, password)? {
                    return Ok(err);
                }
                self.ensure_marker()?;
                for i in targets {
                    self.state.containers[i].hsm_open = true;
                }
                Ok(altered())
            }
            Credential::ExternalStore if ks.contains(&Ks::Hsm) => {
                let Some(seps) = self.state.seps.clone() else {
                    self.notes.push("WALLET_ROOT/tde_seps holds no HSM_PASSWORD secret: add it first (ADD SECRET … FOR CLIENT 'HSM_PASSWORD').".into());
                    return Ok(e(FAILED_TO_OPEN));
                };
                if !seps.valid {
                    return Ok(ora2(
                        FAILED_TO_OPEN.0,
                        FAILED_TO_OPEN.1,
                        "ORA-28407",
                        "Hardware Security Module failed with PKCS#11 error CKR_PIN_INCORRECT(160)",
                    ));
                }
                self.check_token()?;
                if !self.hsm.logged_in() {
                    return Err(OracleError::Rehearsal(
                        "the rehearsal keeps no HSM password, so EXTERNAL STORE uses tdekey's own HSM login: log in on the HSM screen first.".into(),
                    ));
                }
                if targets.iter().all(|&i| self.state.containers[i].hsm_open) {
                    return Ok(e(ALREADY_OPEN));
                }
                self.ensure_marker()?;
                for i in targets {
                    self.state.containers[i].hsm_open = true;
                }
                Ok(altered())
            }
            Credential::Password(pw) | Credential::Hsm { password: pw, .. }
                if ks.contains(&Ks::File) =>
            {
                if self.state.file.is_none() {
                    return Ok(e(DOES_NOT_EXIST));
                }
                if targets
                    .iter()
                    .all(|&i| self.state.containers[i].file_open.is_some())
                {
                    return Ok(e(ALREADY_OPEN));
                }
                let pw = match c {
                    // "user:password" given to a file keystore is taken whole, as Oracle would.
                    Credential::Hsm { user, .. } => pw.joined_with_user(user),
                    _ => pw.clone(),
                };
                if !self.file_password_ok(&pw) {
                    return Ok(e(FAILED_TO_OPEN));
                }
                for i in targets {
                    self.state.containers[i]
                        .file_open
                        .get_or_insert_with(|| "PASSWORD".to_owned());
                }
                Ok(altered())
            }
            _ => Ok(e(FAILED_TO_OPEN)),
        }
    }

    fn close(&mut self, c: Option<&Credential>, all: bool) -> Result<Reply, OracleError> {
        let targets = self.state.targets(all);
        let (file, hsm) = match c {
            None => (true, true),
            Some(Credential::Password(pw)) => {
                if !self.file_password_ok(pw) {
                    return Ok(e(FAILED_TO_OPEN));
                }
                (true, false)
            }
            Some(Credential::Hsm { user, password }) => {
                if let Some(err) = self.hsm_login(user, password)? {
                    return Ok(err);
                }
                (false, true)
            }
            Some(Credential::ExternalStore) => (true, true),
        };
        let mut closed = false;
        for i in targets {
            let ct = &mut self.state.containers[i];
            if file && ct.file_open.take().is_some() {
                closed = true;
            }
            if hsm && ct.hsm_open {
                ct.hsm_open = false;
                closed = true;
            }
        }
        if !closed {
            return Ok(e(NOT_OPEN));
        }
        self.apply_pending_configuration();
        Ok(altered())
    }

    fn apply_pending_configuration(&mut self) {
        let st = &mut self.state;
        if !st.any_open() && st.active_configuration != st.memory.tde_configuration {
            st.active_configuration = st.memory.tde_configuration.clone();
            self.notes.push(format!(
                "Every keystore is closed: KEYSTORE_CONFIGURATION={} is now in effect.",
                st.active_configuration.as_deref().unwrap_or("(not set)")
            ));
        }
    }

    fn set_key(
        &mut self,
        tag: Option<&str>,
        c: &Credential,
        o: &Options,
    ) -> Result<Reply, OracleError> {
        let targets = self.state.targets(o.all_containers);
        match self.state.primary() {
            None => Ok(e(DOES_NOT_EXIST)),
            Some(Ks::Hsm) => {
                if !targets.iter().all(|&i| self.state.containers[i].hsm_open) {
                    return Ok(e(NOT_OPEN));
                }
                match c {
                    Credential::Hsm { user, password } => {
                        if let Some(err) = self.hsm_login(user, password)? {
                            return Ok(err);
                        }
                    }
                    Credential::ExternalStore => {
                        if !self.state.seps.as_ref().is_some_and(|s| s.valid) {
                            return Ok(e(FAILED_TO_OPEN));
                        }
                        self.check_token()?;
                    }
                    Credential::Password(_) => return Ok(e(MISMATCH)),
                }
                for i in targets {
                    let key_id = self.new_hsm_key()?;
                    let con = self.state.containers[i].con_id;
                    self.add_key(key_id, Ks::Hsm, tag, con);
                }
                if o.backup.is_some() {
                    // (unverified) Oracle ignores or refuses (ORA-46623) WITH BACKUP for an
                    // HSM keystore depending on the state; the rehearsal ignores it.
                    self.notes.push(
                        "WITH BACKUP does not apply to an HSM keystore; nothing was backed up."
                            .into(),
                    );
                }
                Ok(altered())
            }
            Some(Ks::File) => {
                if self.state.file.is_none() {
                    return Ok(e(DOES_NOT_EXIST));
                }
                if !targets
                    .iter()
                    .all(|&i| self.state.containers[i].file_open.is_some())
                {
                    return Ok(e(NOT_OPEN));
                }
                let Credential::Password(pw) = c else {
                    return Ok(e(MISMATCH));
                };
                if !self.file_password_ok(pw) {
                    return Ok(e(MISMATCH));
                }
                let autologin = self
                    .state
                    .containers
                    .first()
                    .and_then(|c| c.file_open.as_deref())
                    != Some("PASSWORD");
                if o.backup.is_none() && !autologin {
                    return Ok(e(NEEDS_BACKUP));
                }
                if let Some(t) = &o.backup {
                    self.backup_file(t.as_deref());
                }
                for i in targets {
                    let con = self.state.containers[i].con_id;
                    self.add_key(Self::new_file_key(), Ks::File, tag, con);
                }
                if let Some(f) = &mut self.state.file {
                    f.backed_up = false;
                }
                Ok(altered())
            }
        }
    }

    fn use_key(
        &mut self,
        id: &MasterKeyId,
        tag: Option<&str>,
        c: &Credential,
    ) -> Result<Reply, OracleError> {
        if !self.state.keystores().contains(&Ks::Hsm) {
            return Ok(e(KEY_NOT_FOUND));
        }
        match c {
            Credential::Hsm { user, password } => {
                if let Some(err) = self.hsm_login(user, password)? {
                    return Ok(err);
                }
            }
            Credential::ExternalStore if self.state.seps.as_ref().is_some_and(|s| s.valid) => {
                self.check_token()?;
            }
            _ => return Ok(e(FAILED_TO_OPEN)),
        }
        let label = id.hsm_label();
        if self.hsm.count_label(&label)? == 0 {
            self.notes.push(format!(
                "The token holds no key labelled {label}: generate it first, or check the id."
            ));
            return Ok(e(KEY_NOT_FOUND));
        }
        let key_id = format_key_id(0x06, id);
        let km = key_metadata_label(&key_id);
        if self.hsm.count_label(&km)? == 0 {
            self.hsm
                .create_data_object(&km, APPLICATION, key_id.as_bytes())?;
            self.created.push(km);
        }
        self.ensure_marker()?;
        let con = self.state.containers[0].con_id;
        let now = now_ms();
        match self
            .state
            .keys
            .iter_mut()
            .find(|k| k.key_id == key_id && k.con_id == con)
        {
            Some(k) => {
                k.activated_ms = now;
                if let Some(t) = tag {
                    t.clone_into(&mut k.tag);
                }
            }
            None => self.add_key(key_id, Ks::Hsm, tag, con),
        }
        // FORCE KEYSTORE: a closed keystore is opened for the operation and left as it was.
        Ok(altered())
    }

    fn migrate(
        &mut self,
        user: &str,
        hsm_password: &Secret,
        wallet_password: &Secret,
        o: &Options,
    ) -> Result<Reply, OracleError> {
        let ks = self.state.keystores();
        if ks.first() != Some(&Ks::Hsm) {
            self.notes.push(
                "Set TDE_CONFIGURATION to KEYSTORE_CONFIGURATION=HSM|FILE first (and restart if a keystore was open).".into(),
            );
            return Ok(e(INVALID_OPERATION));
        }
        if self.state.file.is_none() {
            return Ok(e(DOES_NOT_EXIST));
        }
        if !self.file_password_ok(wallet_password) {
            return Ok(e(FAILED_TO_OPEN));
        }
        let targets = self.state.targets(o.all_containers);
        for &i in &targets {
            let con = self.state.containers[i].con_id;
            match self.state.current_key(con) {
                None => return Ok(e(NO_MASTER_KEY)),
                Some(k) if k.keystore == Ks::Hsm => {
                    self.notes.push(format!(
                        "The master key of container {con} is already on the HSM."
                    ));
                    return Ok(e(INVALID_OPERATION));
                }
                Some(_) => {}
            }
        }
        if let Some(err) = self.hsm_login(user, hsm_password)? {
            return Ok(err);
        }
        self.ensure_marker()?;
        if let Some(t) = &o.backup {
            self.backup_file(t.as_deref());
        }
        for i in targets {
            let key_id = self.new_hsm_key()?;
            let ct = &mut self.state.containers[i];
            ct.hsm_open = true;
            ct.file_open.get_or_insert_with(|| "PASSWORD".to_owned());
            let con = ct.con_id;
            self.add_key(key_id, Ks::Hsm, None, con);
        }
        Ok(altered())
    }

    fn reverse_migrate(
        &mut self,
        wallet_password: &Secret,
        user: &str,
        hsm_password: &Secret,
    ) -> Result<Reply, OracleError> {
        let ks = self.state.keystores();
        if ks.first() != Some(&Ks::File) || !ks.contains(&Ks::Hsm) {
            self.notes.push(
                "Set TDE_CONFIGURATION to KEYSTORE_CONFIGURATION=FILE|HSM first (and restart if a keystore was open).".into(),
            );
            return Ok(e(INVALID_OPERATION));
        }
        if self.state.file.is_none() {
            return Ok(e(DOES_NOT_EXIST));
        }
        if !self.file_password_ok(wallet_password) {
            return Ok(e(FAILED_TO_OPEN));
        }
        let con = self.state.containers[0].con_id;
        if !self
            .state
            .current_key(con)
            .is_some_and(|k| k.keystore == Ks::Hsm)
        {
            self.notes
                .push("The current master key is not on the HSM: nothing to reverse.".into());
            return Ok(e(INVALID_OPERATION));
        }
        if let Some(err) = self.hsm_login(user, hsm_password)? {
            return Ok(err);
        }
        self.backup_file(None);
        for i in 0..self.state.containers.len() {
            let ct = &mut self.state.containers[i];
            ct.file_open.get_or_insert_with(|| "PASSWORD".to_owned());
            let con = ct.con_id;
            self.add_key(Self::new_file_key(), Ks::File, None, con);
        }
        if let Some(f) = &mut self.state.file {
            f.backed_up = false;
        }
        Ok(altered())
    }

    fn add_hsm_secret(
        &mut self,
        user: &str,
        password: &Secret,
        dir: &str,
        local: bool,
    ) -> Result<Reply, OracleError> {
        let Some(root) = self.state.memory.wallet_root.clone() else {
            return Ok(e(NO_WALLET_ROOT));
        };
        let expected = format!("{}/tde_seps", root.trim_end_matches('/'));
        if dir.trim_end_matches('/') != expected {
            self.notes.push(format!(
                "Oracle reads the HSM_PASSWORD secret only from {expected}; this one went to {dir}."
            ));
        }
        // Oracle stores the secret without checking it; the rehearsal checks it now so that
        // a later EXTERNAL STORE open fails the way Oracle's would.
        let valid = self.hsm_login(user, password)?.is_none();
        if !valid {
            self.notes.push(
                "The stored HSM password does not log in: opening with EXTERNAL STORE will fail."
                    .into(),
            );
        }
        self.state.seps = Some(Seps {
            dir: dir.to_owned(),
            local,
            user: user.to_owned(),
            valid: valid && dir.trim_end_matches('/') == expected,
        });
        Ok(altered())
    }

    fn create_auto_login(
        &mut self,
        dir: &str,
        password: &Secret,
        local: bool,
    ) -> Result<Reply, OracleError> {
        if self.state.file.is_none() {
            return Ok(e(DOES_NOT_EXIST));
        }
        if let Some(w) = self.state.wallet_dir()
            && dir.trim_end_matches('/') != w.trim_end_matches('/')
        {
            return Ok(e(DOES_NOT_EXIST));
        }
        if !self.file_password_ok(password) {
            return Ok(e(MISMATCH));
        }
        if let Some(f) = &mut self.state.file {
            f.autologin = Some(local);
        }
        Ok(altered())
    }

    fn backup(&mut self, tag: Option<&str>, c: &Credential) -> Result<Reply, OracleError> {
        if self.state.file.is_none() {
            return Ok(e(DOES_NOT_EXIST));
        }
        if self.state.containers[0].file_open.is_none() {
            return Ok(e(NOT_OPEN));
        }
        let Credential::Password(pw) = c else {
            return Ok(e(MISMATCH));
        };
        if !self.file_password_ok(pw) {
            return Ok(e(MISMATCH));
        }
        self.backup_file(tag);
        Ok(altered())
    }

    fn dispatch(&mut self, request: &Request) -> Result<Reply, OracleError> {
        Ok(match request {
            Request::QueryWallet => Reply::Rows {
                rows: self.wallet_rows(),
            },
            Request::QueryKeys => {
                self.auto_open();
                Reply::Rows {
                    rows: self.key_rows(),
                }
            }
            Request::ShowParameter(p) => self.show_parameter(*p),
            Request::SetWalletRoot { dir, .. } => {
                if dir.trim().is_empty() || !dir.starts_with('/') {
                    return Ok(ora2(
                        "ORA-32017",
                        "failure in updating SPFILE",
                        NO_WALLET_ROOT.0,
                        NO_WALLET_ROOT.1,
                    ));
                }
                self.state.spfile.wallet_root = Some(dir.trim_end_matches('/').to_owned());
                self.notes.push(
                    "WALLET_ROOT is a static parameter: it takes effect after a restart.".into(),
                );
                Reply::Done {
                    feedback: "System altered.".into(),
                }
            }
            Request::SetTdeConfiguration { value, .. } => self.set_tde_configuration(value)?,
            Request::CreateKeystore { password } => self.create_keystore(password)?,
            Request::OpenKeystore {
                credential,
                all_containers,
            } => self.open_keystore(credential, *all_containers)?,
            Request::CloseKeystore {
                credential,
                all_containers,
            } => self.close(credential.as_ref(), *all_containers)?,
            Request::Migrate {
                hsm_user,
                hsm_password,
                wallet_password,
                options,
            } => self.migrate(hsm_user, hsm_password, wallet_password, options)?,
            Request::ReverseMigrate {
                wallet_password,
                hsm_user,
                hsm_password,
            } => self.reverse_migrate(wallet_password, hsm_user, hsm_password)?,
            Request::SetKey {
                tag,
                credential,
                options,
            } => self.set_key(tag.as_deref(), credential, options)?,
            Request::UseKey {
                id,
                tag,
                credential,
            } => self.use_key(id, tag.as_deref(), credential)?,
            Request::AddHsmSecret {
                hsm_user,
                hsm_password,
                seps_dir,
                local,
            } => self.add_hsm_secret(hsm_user, hsm_password, seps_dir, *local)?,
            Request::CreateAutoLogin {
                dir,
                password,
                local,
            } => self.create_auto_login(dir, password, *local)?,
            Request::Backup { tag, credential } => self.backup(tag.as_deref(), credential)?,
            Request::Restart => self.restart(),
        })
    }
}

impl<K: HsmKeystore + ?Sized> Connector for Rehearsal<'_, K> {
    fn label(&self) -> String {
        LABEL.to_owned()
    }

    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Rehearsal
    }

    fn run(&mut self, request: &Request) -> Result<Answer, OracleError> {
        // The statement must build, exactly as for a real database.
        request.statement()?;
        self.notes.clear();
        self.created.clear();
        let snapshot = |s: &State| serde_json::to_vec(s).unwrap_or_default();
        let before = snapshot(&self.state);
        let result = self.dispatch(request);
        // Saved whenever the state moved (and if it could not be encoded, save says so).
        let changed = before.is_empty() || snapshot(&self.state) != before;
        if changed {
            self.save()?;
        }
        match result {
            Ok(reply) => {
                // Keep the feedback lines identical to SQL*Plus's, whatever built them.
                debug_assert!(match &reply {
                    Reply::Done { feedback } => {
                        let f = feedback.to_ascii_lowercase();
                        [KEYSTORE_ALTERED, SYSTEM_ALTERED, INSTANCE_STARTED]
                            .iter()
                            .any(|x| f.contains(x))
                    }
                    _ => true,
                });
                Ok(Answer {
                    reply,
                    notes: std::mem::take(&mut self.notes),
                    hsm_created: std::mem::take(&mut self.created),
                })
            }
            Err(err) if !self.created.is_empty() => Err(OracleError::Rehearsal(format!(
                "{err} The HSM objects created before the failure stay on the token: {}.",
                self.created.join(", ")
            ))),
            Err(err) => Err(err),
        }
    }
}
