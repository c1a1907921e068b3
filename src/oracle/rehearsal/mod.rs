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
//! A database can also start on another vendor's HSM ([`create_other_hsm`]), simulated in the
//! state; then, as with Oracle, the PKCS#11 library on its simulated host decides which HSM
//! the HSM keystore reaches (`other_hsm.rs`).
//!
//! Where Oracle's exact behaviour is not documented the choice is marked (unverified) below.
//!
//! Its parts: `state.rs` (the simulated database and its file), `token.rs` (the HSM keystore),
//! `keystore.rs` (parameters, restarts, opening and closing, backups, auto-login),
//! `keys.rs` (migrate, reverse migrate, SET KEY, USE KEY), `views.rs` (what the V$ views
//! and SHOW PARAMETER show), `files.rs` (the keystore files on the simulated host) and
//! `other_hsm.rs` (another vendor's HSM, and which HSM the library points to). Every Oracle
//! string it answers with comes from `tde/`.

mod files;
mod keys;
mod keystore;
mod other_hsm;
mod state;
#[cfg(test)]
mod tests;
mod token;
mod views;

pub use files::WalletWriter;
pub use other_hsm::{
    OTHER_VENDOR, create_other_hsm, default_wallet_root, oracle_libraries, other_hsm_seed_requests,
    other_vendor_library,
};
pub use token::{HsmKeystore, LoginRefused};

use super::{Answer, Connector, OracleError};
use crate::model::{ConnectAs, ConnectorKind, Multitenant, PinFormat};
use crate::secret::Secret;
use crate::tde::ora;
use crate::tde::privileges::{self, SessionPrivileges};
use crate::tde::request::{INSTANCE_STARTED, KEYSTORE_ALTERED, Reply, Request, SYSTEM_ALTERED};
use crate::tde::sql::{Credential, Options};
use state::State;
use std::path::{Path, PathBuf};

/// What the rehearsal calls itself everywhere it appears.
pub const LABEL: &str = ConnectorKind::Rehearsal.label();

/// The application attribute of the data objects the rehearsal writes to the token.
const APPLICATION: &str = "tdekey Rehearsal";

/// The stem tdekey named a Rehearsal's files with before the names were one-to-one: every
/// character other than an ASCII letter, a digit, `-` and `_` became `_`, so "A B" and "A_B"
/// shared one simulated database.
fn legacy_stem(name: &str) -> String {
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

/// Moves a Rehearsal's files named the old way (`<legacy stem>.json`, `<legacy stem>.host/`) to
/// their one-to-one names, once, so an existing Rehearsal database is found where it now
/// belongs. When two names shared the old files, the first one used takes them.
fn adopt_legacy(dir: &Path, database: &str) {
    let (old, new) = (legacy_stem(database), crate::model::file_stem(database));
    if old == new {
        return;
    }
    let new_state = dir.join(format!("{new}.json"));
    let old_state = dir.join(format!("{old}.json"));
    if std::fs::symlink_metadata(&new_state).is_ok() || !old_state.is_file() {
        return;
    }
    // Renames are atomic: when two processes race, one moves the files and the other finds
    // them moved (its rename fails and is of no consequence).
    let _ = std::fs::rename(
        dir.join(format!("{old}.host")),
        dir.join(format!("{new}.host")),
    );
    let _ = std::fs::rename(&old_state, &new_state);
}

/// `<data dir>/rehearsal/<stem>.json`, the stem one-to-one with the profile's name
/// ([`crate::model::file_stem`]); files named the old way are moved there first.
pub fn state_path(data_dir: &Path, database: &str) -> PathBuf {
    let dir = data_dir.join("rehearsal");
    adopt_legacy(&dir, database);
    dir.join(format!("{}.json", crate::model::file_stem(database)))
}

/// `<data dir>/rehearsal/<stem>.host/`: the rehearsal database's host, a directory standing for
/// `/` (where Oracle's PKCS#11 library and the wallet files are looked for).
pub fn host_root(data_dir: &Path, database: &str) -> PathBuf {
    let dir = data_dir.join("rehearsal");
    adopt_legacy(&dir, database);
    dir.join(format!("{}.host", crate::model::file_stem(database)))
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
    database: String,
    multitenant: Multitenant,
    state: State,
    hsm: &'h mut K,
    pin_format: PinFormat,
    notes: Vec<String>,
    created: Vec<String>,
    /// Writes the keystore files on the simulated host; none without it.
    files: Option<Box<dyn WalletWriter>>,
    /// How the simulated session connected: what it may run.
    connect_as: ConnectAs,
    /// The named user the profile logs in as, if any (upper case).
    user: Option<String>,
}

impl<K: HsmKeystore + ?Sized> std::fmt::Debug for Rehearsal<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rehearsal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'h, K: HsmKeystore + ?Sized> Rehearsal<'h, K> {
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
        let state = state::load(path, database, multitenant)?;
        Ok(Self {
            path: path.to_path_buf(),
            database: database.to_owned(),
            multitenant,
            state,
            hsm,
            pin_format,
            notes: Vec::new(),
            created: Vec::new(),
            files: None,
            connect_as: ConnectAs::Sysdba,
            user: None,
        })
    }

    /// The simulated session connects AS SYSDBA (the default), AS SYSKM, or as a user without
    /// an administrative privilege; it answers ORA-01031 for what that session may not run.
    pub fn connected_as(mut self, connect_as: ConnectAs, user: Option<&str>) -> Self {
        self.connect_as = connect_as;
        self.user = user.map(str::to_ascii_uppercase);
        self
    }

    /// The user Oracle names as a key's CREATOR for this session: SYS AS SYSDBA, SYSKM AS SYSKM
    /// (even for a named user: tests/fixtures/oracle/keys/), else the named user.
    pub(super) fn session_user(&self) -> String {
        match (self.connect_as.session_user(), &self.user) {
            (Some(u), _) => u.to_owned(),
            (None, Some(u)) => u.clone(),
            (None, None) => crate::tde::views::SYS.to_owned(),
        }
    }

    /// The HSM keystore the rehearsal uses.
    /// Writes the keystore files (ewallet.p12, its backups, cwallet.sso) on the simulated host
    /// with `writer`.
    pub fn with_files(mut self, writer: Box<dyn WalletWriter>) -> Self {
        self.files = Some(writer);
        self
    }

    pub fn keystore(&mut self) -> &mut K {
        self.hsm
    }
}

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    fn save(&self) -> Result<(), OracleError> {
        state::write(&self.path, &self.state)
    }

    /// Makes a demo database ready for a migration: WALLET_ROOT set (restarted), a password
    /// file keystore with one master key, open, backed up, TDE_CONFIGURATION=FILE. Each step is
    /// an ordinary request, so the demo starts from a state Oracle could be in.
    pub fn seed(&mut self, wallet_root: &str, wallet_password: &Secret) -> Result<(), OracleError> {
        // A DBA set the database up AS SYSDBA before this profile's session existed.
        let profile_session = std::mem::replace(&mut self.connect_as, ConnectAs::Sysdba);
        let result = self.seed_as_sysdba(wallet_root, wallet_password);
        self.connect_as = profile_session;
        result
    }

    fn seed_as_sysdba(
        &mut self,
        wallet_root: &str,
        wallet_password: &Secret,
    ) -> Result<(), OracleError> {
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

    /// The privileges and roles of the simulated session.
    ///
    /// A SYSKM session lists exactly SYSKM and ADMINISTER KEY MANAGEMENT (a real 23ai session:
    /// tests/fixtures/oracle/privileges/23ai-free-syskm-session-privs.txt). (unverified) A
    /// SYSDBA session holds every system privilege (about 240 in 19c; the few tdekey reads are
    /// listed), and a named user without an administrative privilege is simulated as the usual
    /// TDE administrator: CREATE SESSION and ADMINISTER KEY MANAGEMENT granted.
    fn session_privileges(&self) -> SessionPrivileges {
        let set = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect();
        match self.connect_as {
            ConnectAs::Sysdba => SessionPrivileges {
                privileges: set(&[
                    privileges::ADMINISTER_KEY_MANAGEMENT,
                    "ALTER DATABASE",
                    privileges::ALTER_SYSTEM,
                    "CREATE SESSION",
                    privileges::SELECT_ANY_DICTIONARY,
                ]),
                roles: set(&[]),
            },
            ConnectAs::Syskm => SessionPrivileges {
                privileges: set(&["SYSKM", privileges::ADMINISTER_KEY_MANAGEMENT]),
                roles: set(&[]),
            },
            ConnectAs::Normal => SessionPrivileges {
                privileges: set(&[privileges::ADMINISTER_KEY_MANAGEMENT, "CREATE SESSION"]),
                roles: set(&[]),
            },
        }
    }

    fn dispatch(&mut self, request: &Request) -> Result<Reply, OracleError> {
        // ORA-01031 for what the session may not run (a restart is done by a person, not
        // through the session, so it is not checked).
        if let Some(n) = privileges::needed(request)
            && n != privileges::Needed::Restart
            && self.session_privileges().allows(n) != privileges::Allowed::Yes
        {
            self.notes.push(format!(
                "The session ({}) may not run this: it needs {}.",
                match self.connect_as {
                    ConnectAs::Sysdba => "AS SYSDBA",
                    ConnectAs::Syskm => "AS SYSKM",
                    ConnectAs::Normal => "no administrative privilege",
                },
                n.grant()
            ));
            return Ok(ora::INSUFFICIENT_PRIVILEGES.reply());
        }
        Ok(match request {
            Request::QueryPrivileges => Reply::Rows {
                rows: self.session_privileges().to_rows(),
            },
            Request::QueryWallet => Reply::Rows {
                rows: self.wallet_rows(),
            },
            Request::QueryKeys => {
                self.auto_open();
                Reply::Rows {
                    rows: self.key_rows(),
                }
            }
            Request::QueryDatabaseKey => Reply::Rows {
                rows: self.database_key_rows(),
            },
            Request::QueryTablespaces => Reply::Rows {
                rows: self.tablespace_rows(),
            },
            Request::ShowParameter(p) => self.show_parameter(*p),
            Request::SetWalletRoot { dir, .. } => {
                if dir.trim().is_empty() || !dir.starts_with('/') {
                    return Ok(ora::SPFILE_UPDATE_FAILED.then(ora::NO_WALLET_ROOT));
                }
                self.state.spfile.wallet_root = Some(dir.trim_end_matches('/').to_owned());
                self.notes.push(
                    "WALLET_ROOT is a static parameter: it takes effect after a restart.".into(),
                );
                Reply::done(SYSTEM_ALTERED)
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
                backup,
            } => self.migrate(hsm_user, hsm_password, wallet_password, backup.as_ref())?,
            Request::ReverseMigrate {
                wallet_password,
                hsm_user,
                hsm_password,
            } => self.reverse_migrate(
                wallet_password,
                hsm_user.as_deref().unwrap_or(""),
                hsm_password,
            )?,
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
                wallet_password,
                force,
                backup_tag,
            } => self.add_hsm_secret(
                hsm_user,
                hsm_password,
                wallet_password,
                *force,
                backup_tag.as_deref(),
            )?,
            Request::AddExternalStoreSecret {
                hsm_user,
                hsm_password,
                seps_dir,
                local,
            } => self.add_external_store_secret(hsm_user, hsm_password, seps_dir, *local)?,
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
        // One statement at a time per simulated database, across processes: read the state
        // under the lock (another process may have moved it since), apply, write, release.
        let _lock = state::lock(&self.path)?;
        self.state = state::load(&self.path, &self.database, self.multitenant)?;
        crate::faults::point(crate::faults::REHEARSAL_STATEMENT);
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

#[cfg(test)]
mod file_names {
    use super::*;

    #[test]
    fn look_alike_names_get_their_own_files_and_old_files_are_adopted() {
        let d = tempfile::tempdir().unwrap();
        assert_ne!(state_path(d.path(), "A B"), state_path(d.path(), "A_B"));
        assert_ne!(host_root(d.path(), "A B"), host_root(d.path(), "A_B"));
        // A Rehearsal made by an earlier version, named the old way.
        let dir = d.path().join("rehearsal");
        std::fs::create_dir_all(dir.join("Rehearsal_demo.host/u01")).unwrap();
        std::fs::write(dir.join("Rehearsal_demo.json"), b"{\"state\":1}").unwrap();
        let p = state_path(d.path(), "Rehearsal demo");
        assert_eq!(p, dir.join("Rehearsal_20demo.json"));
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"state\":1}");
        assert!(host_root(d.path(), "Rehearsal demo").join("u01").is_dir());
        assert!(!dir.join("Rehearsal_demo.json").exists());
        // Its look-alike does not take it, and starts with no files.
        assert!(!state_path(d.path(), "Rehearsal_demo").exists());
    }
}
