//! The audit-log checkpoint key: a non-extractable generic secret labelled `TDEKEY.AUDIT.HMAC`,
//! created on the token on first use. HMAC-SHA256 is computed inside the HSM; the key value
//! never leaves it.

use super::{Hsm, HsmError};
use crate::tde::labels::AUDIT_HMAC_LABEL;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};

impl Hsm {
    fn find_audit_key(&self) -> Result<Option<ObjectHandle>, HsmError> {
        let found = self
            .session()?
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(AUDIT_HMAC_LABEL.as_bytes().to_vec()),
            ])
            .map_err(|e| HsmError::from_ck("Looking for the audit key", e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(HsmError::Pkcs11 {
                what: format!(
                    "Choosing the audit key: {} keys are labelled {AUDIT_HMAC_LABEL}, so tdekey cannot tell which one signs the checkpoints",
                    many.len()
                ),
                ckr: "ambiguous label".into(),
            }),
        }
    }

    /// Whether the token holds the audit key.
    pub fn has_audit_key(&self) -> Result<bool, HsmError> {
        Ok(self.find_audit_key()?.is_some())
    }

    /// Creates the audit key (non-extractable, sensitive, sign/verify only). Returns its handle.
    pub fn create_audit_key(&self) -> Result<u64, HsmError> {
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Label(AUDIT_HMAC_LABEL.as_bytes().to_vec()),
        ];
        let h = self
            .session()?
            .generate_key(&Mechanism::GenericSecretKeyGen, &template)
            .map_err(|e| HsmError::from_ck("Creating the audit key", e))?;
        Ok(super::wide(h.handle()))
    }

    /// HMAC-SHA256 of `data` under the audit key, computed in the HSM. `None` when the token
    /// has no audit key.
    pub fn audit_hmac(&self, data: &[u8]) -> Result<Option<Vec<u8>>, HsmError> {
        let Some(key) = self.find_audit_key()? else {
            return Ok(None);
        };
        self.session()?
            .sign(&Mechanism::Sha256Hmac, key, data)
            .map(Some)
            .map_err(|e| HsmError::from_ck("Computing the checkpoint HMAC", e))
    }
}
