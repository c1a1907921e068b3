//! The HSM adapter as a Rehearsal's HSM keystore. The glue between two adapters lives here,
//! in the workflow layer, so that neither adapter knows the other.

use crate::hsm::{Hsm, HsmError, KeyTemplate};
use crate::model::PinFormat;
use crate::oracle::OracleError;
use crate::oracle::rehearsal::{HsmKeystore, LoginRefused, WalletWriter};
use crate::secret::Secret;
use crate::tde::labels::MasterKeyId;

fn fault(e: HsmError) -> OracleError {
    OracleError::Token {
        retry: e.retry(),
        sentence: e.to_string(),
    }
}

impl HsmKeystore for Hsm {
    fn token_label(&self) -> Option<String> {
        self.token().map(|t| t.label.clone())
    }

    fn module_path(&self) -> Option<&std::path::Path> {
        Some(Hsm::module_path(self))
    }

    fn logged_in(&self) -> bool {
        Hsm::logged_in(self)
    }

    fn check_login(
        &mut self,
        user: &str,
        password: &Secret,
        format: PinFormat,
    ) -> Result<(), LoginRefused> {
        Hsm::check_login(self, user, password, format).map_err(|e| match e {
            HsmError::PinIncorrect { .. }
            | HsmError::NotTheLoggedInPin { .. }
            | HsmError::BadCloudHsmUser
            | HsmError::EmptyPassword => LoginRefused::Wrong(e.to_string()),
            HsmError::PinLocked => LoginRefused::Locked,
            other => LoginRefused::Fault(fault(other)),
        })
    }

    fn count_label(&self, label: &str) -> Result<usize, OracleError> {
        Hsm::count_label(self, label).map_err(fault)
    }

    fn create_data_object(
        &self,
        label: &str,
        application: &str,
        value: &[u8],
    ) -> Result<(), OracleError> {
        Hsm::create_data_object(self, label, application, value)
            .map(|_| ())
            .map_err(fault)
    }

    fn generate_master_key(&self) -> Result<MasterKeyId, OracleError> {
        let id = self.random_master_key_id().map_err(fault)?;
        self.generate_aes_key(&id.hsm_label(), KeyTemplate::ORACLE_MASTER_KEY)
            .map_err(fault)?;
        Ok(id)
    }
}

/// The wallet adapter as the writer of a Rehearsal's keystore files.
pub(super) struct RehearsalWalletFiles;

impl WalletWriter for RehearsalWalletFiles {
    fn keystore(&self, master_keys: &[MasterKeyId], password: &Secret) -> Result<Vec<u8>, String> {
        let entries =
            crate::wallet::tde_keystore_entries(master_keys).map_err(|e| e.to_string())?;
        crate::wallet::write_wallet(&entries, password, 10_000).map_err(|e| e.to_string())
    }

    fn auto_login(&self, p12: &[u8], password: &Secret, local: bool) -> Result<Vec<u8>, String> {
        let kind = if local {
            crate::wallet::SsoKind::LocalAutoLogin
        } else {
            crate::wallet::SsoKind::AutoLogin
        };
        crate::wallet::write_sso(p12, password, kind, None).map_err(|e| e.to_string())
    }
}
