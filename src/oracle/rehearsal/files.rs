//! The rehearsal database's keystore as real files on its simulated host: `ewallet.p12` (a
//! PKCS#12 wallet with the entry names Oracle uses and random values), its backups, and
//! `cwallet.sso` once auto-login is created, under `<host>/<WALLET_ROOT>/tde/`, so that the
//! wallet inspector, the wizard's backup and a restore work on files. The bytes are made by
//! a [`WalletWriter`] (the wallet adapter, plugged in by the workflow layer); without one, no
//! file is written.

use super::state::Ks;
use super::{HsmKeystore, Rehearsal};
use crate::oracle::OracleError;
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, parse_key_id};
use crate::tde::layout;
use std::path::PathBuf;

/// Makes the bytes of a rehearsal's keystore files.
pub trait WalletWriter {
    /// An `ewallet.p12` holding these master keys (the last one current), under `password`.
    fn keystore(&self, master_keys: &[MasterKeyId], password: &Secret) -> Result<Vec<u8>, String>;
    /// A `cwallet.sso` with the entries of `p12` (opened with `password`).
    fn auto_login(&self, p12: &[u8], password: &Secret, local: bool) -> Result<Vec<u8>, String>;
}

fn failed(what: &str, e: impl std::fmt::Display) -> OracleError {
    OracleError::Rehearsal(format!("the rehearsal's {what} could not be written: {e}."))
}

/// The temporary files of the keystore files' atomic writes on the simulated host.
const TEMP_PREFIX: &str = ".tdekey-rehearsal-";

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), OracleError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let fail = |e: std::io::Error| failed(&path.display().to_string(), e);
    crate::paths::create_private_dir(dir).map_err(fail)?;
    // Written under the simulated database's lock: a temporary file here is a killed write's.
    crate::paths::remove_leftovers(dir, TEMP_PREFIX, ".tmp").map_err(fail)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    crate::paths::set_mode(tmp.path(), 0o600).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    /// `<host>/<WALLET_ROOT>/tde/`, when WALLET_ROOT is set and files are written.
    pub(super) fn keystore_dir(&self) -> Option<PathBuf> {
        self.files.as_ref()?;
        let root = self.state.memory.wallet_root.as_deref()?;
        Some(
            self.path
                .with_extension("host")
                .join(root.trim_start_matches('/'))
                .join(layout::KEYSTORE_DIR),
        )
    }

    /// Writes ewallet.p12 (and cwallet.sso when auto-login exists) for the file keystore as
    /// it stands, with the password the statement just proved.
    pub(super) fn write_keystore(&mut self, password: &Secret) -> Result<(), OracleError> {
        let (Some(dir), Some(writer)) = (self.keystore_dir(), self.files.as_deref()) else {
            return Ok(());
        };
        let mut keys: Vec<(i64, MasterKeyId)> = self
            .state
            .keys
            .iter()
            .filter(|k| k.keystore == Ks::File)
            .filter_map(|k| {
                parse_key_id(&k.key_id)
                    .ok()
                    .map(|(_, id)| (k.activated_ms, id))
            })
            .collect();
        keys.sort_by_key(|(at, _)| *at);
        let ids: Vec<MasterKeyId> = keys.into_iter().map(|(_, id)| id).collect();
        let p12 = writer
            .keystore(&ids, password)
            .map_err(|e| failed(layout::EWALLET, e))?;
        write_private(&dir.join(layout::EWALLET), &p12)?;
        if let Some(local) = self.state.file.as_ref().and_then(|f| f.autologin) {
            let sso = writer
                .auto_login(&p12, password, local)
                .map_err(|e| failed(layout::CWALLET, e))?;
            write_private(&dir.join(layout::CWALLET), &sso)?;
        }
        Ok(())
    }

    /// Copies ewallet.p12 to the backup name Oracle gives it.
    pub(super) fn copy_backup(&self, name: &str) -> Result<(), OracleError> {
        let Some(dir) = self.keystore_dir() else {
            return Ok(());
        };
        let current = dir.join(layout::EWALLET);
        match std::fs::read(&current) {
            Ok(bytes) => write_private(&dir.join(name), &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(name, e)),
        }
    }
}
