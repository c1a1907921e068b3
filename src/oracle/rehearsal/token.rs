//! The HSM side of a rehearsal: its keystore is a real token, reached through [`HsmKeystore`]
//! (implemented for the HSM adapter in the workflow layer), or, for a database that started on
//! another vendor's HSM, whichever HSM the library on its host points to (`other_hsm.rs`).

use super::other_hsm::Reached;
use super::{APPLICATION, Rehearsal};
use crate::model::PinFormat;
use crate::oracle::OracleError;
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, SUPPORTED_IDEN, hsm_key_id, key_metadata_label};
use crate::tde::ora;
use crate::tde::request::Reply;
use crate::tde::sql::Credential;

/// The HSM side of a rehearsal: the token its HSM keystore lives on. The HSM adapter
/// implements it in the workflow layer, so this adapter knows no other adapter.
pub trait HsmKeystore {
    /// The label of the token a session is open on.
    fn token_label(&self) -> Option<String>;
    /// The PKCS#11 module (library file) the session was loaded from: a host whose Oracle
    /// library is a byte-for-byte copy of it reaches this token.
    fn module_path(&self) -> Option<&std::path::Path>;
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

impl<K: HsmKeystore + ?Sized> Rehearsal<'_, K> {
    /// Checks an HSM password against the HSM the keystore reaches (the token, or the other
    /// vendor's). `Ok(None)`: accepted; `Ok(Some(answer))`: Oracle's refusal.
    pub(super) fn hsm_login(
        &mut self,
        user: &str,
        password: &Secret,
    ) -> Result<Option<Reply>, OracleError> {
        let reached = self.reached();
        if let Some(refused) = self.reach(&reached)? {
            return Ok(Some(refused));
        }
        if reached == Reached::Other {
            return Ok(self.other_login(user, password));
        }
        match self.hsm.check_login(user, password, self.pin_format) {
            Ok(()) => Ok(None),
            Err(LoginRefused::Wrong(e)) => {
                self.notes
                    .push(format!("The HSM refused the password: {e}"));
                Ok(Some(ora::FAILED_TO_OPEN.then(ora::HSM_PIN_INCORRECT)))
            }
            Err(LoginRefused::Locked) => Ok(Some(ora::FAILED_TO_OPEN.then(ora::HSM_PIN_LOCKED))),
            Err(LoginRefused::Fault(e)) => Err(e),
        }
    }

    /// The HSM credential of a key statement checked: "user:password" logs in, EXTERNAL STORE
    /// uses the HSM_PASSWORD secret; a keystore password answers `wrong` (Oracle's answer differs
    /// by statement). `Ok(None)` when the HSM accepts it.
    pub(super) fn hsm_credential(
        &mut self,
        c: &Credential,
        wrong: ora::OraCode,
    ) -> Result<Option<Reply>, OracleError> {
        match c {
            Credential::Hsm { user, password } => self.hsm_login(user, password),
            Credential::ExternalStore => self.external_store(),
            Credential::Password(_) => Ok(Some(wrong.reply())),
        }
    }

    /// The HSM reached with the HSM_PASSWORD secret (`IDENTIFIED BY EXTERNAL STORE`): `Ok(None)`
    /// when the secret is there, logged in when it was added, and was added for the HSM the
    /// library points to now; else Oracle's refusal.
    pub(super) fn external_store(&mut self) -> Result<Option<Reply>, OracleError> {
        let Some(seps) = self.state.seps.clone() else {
            self.notes.push("WALLET_ROOT/tde_seps holds no HSM_PASSWORD secret: add it first (ADD SECRET … FOR CLIENT 'HSM_PASSWORD').".into());
            return Ok(Some(ora::FAILED_TO_OPEN.reply()));
        };
        if !seps.valid {
            return Ok(Some(ora::FAILED_TO_OPEN.then(ora::HSM_PIN_INCORRECT)));
        }
        let reached = self.reached();
        if let Some(refused) = self.reach(&reached)? {
            return Ok(Some(refused));
        }
        if seps.on_other_hsm != (reached == Reached::Other) {
            self.notes.push(
                "The HSM_PASSWORD secret was added for another HSM than the one Oracle's library reaches now: add it again for this one.".into(),
            );
            return Ok(Some(ora::FAILED_TO_OPEN.then(ora::HSM_PIN_INCORRECT)));
        }
        Ok(None)
    }

    /// The key-metadata object of an HSM master key, on the HSM the keystore reaches.
    pub(super) fn ensure_key_metadata(&mut self, key_id: &str) -> Result<(), OracleError> {
        let km = key_metadata_label(key_id);
        if self.hsm_holds(&km)? {
            return Ok(());
        }
        if self.reached() == Reached::Other {
            if let Some(o) = &mut self.state.other_hsm {
                o.objects.push(km);
            }
            return Ok(());
        }
        self.hsm
            .create_data_object(&km, APPLICATION, key_id.as_bytes())?;
        self.created.push(km);
        Ok(())
    }

    /// Whether the HSM the keystore reaches holds an object labelled `label`.
    pub(super) fn hsm_holds(&self, label: &str) -> Result<bool, OracleError> {
        if self.reached() == Reached::Other {
            return Ok(self.other_holds(label));
        }
        Ok(self.hsm.count_label(label)? > 0)
    }

    /// The rehearsal's HSM keys stay on one token.
    pub(super) fn check_token(&mut self) -> Result<(), OracleError> {
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

    pub(super) fn ensure_marker(&mut self) -> Result<(), OracleError> {
        if self.reached() == Reached::Other {
            self.other_marker();
            return Ok(());
        }
        if self.hsm.count_label(SUPPORTED_IDEN)? == 0 {
            self.hsm
                .create_data_object(SUPPORTED_IDEN, APPLICATION, b"tdekey rehearsal")?;
            self.created.push(SUPPORTED_IDEN.to_owned());
        }
        Ok(())
    }

    /// Generates an HSM master key as Oracle would, with its key-metadata object, on the HSM
    /// the keystore reaches.
    pub(super) fn new_hsm_key(&mut self) -> Result<String, OracleError> {
        if self.reached() == Reached::Other {
            return Ok(self.other_new_key());
        }
        let id = self.hsm.generate_master_key()?;
        self.created.push(id.hsm_label());
        // KEY_ID as reference/oracle-tde.md, "Key identifiers", gives it for an HSM key: the 34
        // hex digits after ORACLE.TDE.HSM.MK. (no public output shows one: tdekey reads the
        // base64 form too); the metadata label is the hex of that ASCII text (98 characters, as
        // the two real labels it cites).
        let key_id = hsm_key_id(&id);
        let km = key_metadata_label(&key_id);
        self.hsm
            .create_data_object(&km, APPLICATION, key_id.as_bytes())?;
        self.created.push(km);
        Ok(key_id)
    }
}
