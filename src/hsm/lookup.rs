//! Looking objects up by label (no search of the whole token), objects whose attributes cannot
//! be read, and probes that prove a mechanism works before anything depends on it.

use super::{Hsm, HsmError, objects};
use crate::model::ObjectInfo;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};

impl Hsm {
    /// The objects labelled `label`, with the inventory's attributes: one search with a
    /// CKA_LABEL template and one read per object found, whatever else the token holds. An
    /// object whose attributes cannot be read is returned as unreadable, not as an error.
    pub fn objects_labelled(&self, label: &str) -> Result<Vec<ObjectInfo>, HsmError> {
        self.check_label(label)?;
        let session = self.session()?;
        let handles = session
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map_err(|e| HsmError::from_ck("Searching the token by label", e))?;
        handles
            .into_iter()
            .map(|h| self.object(session, h))
            .collect()
    }

    /// One object with the inventory's attributes, or marked unreadable (see
    /// [`objects::unreadable`]).
    pub(super) fn object(
        &self,
        session: &cryptoki::session::Session,
        h: ObjectHandle,
    ) -> Result<ObjectInfo, HsmError> {
        match self.attributes(session, h, objects::INVENTORY_ATTRIBUTES) {
            Ok(attrs) => Ok(objects::object_info(super::wide(h.handle()), attrs)),
            Err(e) => objects::unreadable(super::wide(h.handle()), e),
        }
    }

    /// Proves that the token generates an AES-256 key with `CKM_AES_KEY_GEN`, as Oracle and
    /// tdekey do for a master key: a session key (CKA_TOKEN false, gone at logout), destroyed
    /// at once. Some tokens list the mechanism and refuse the call (tpm2-pkcs11 does).
    pub fn probe_aes_key_gen(&self) -> Result<(), HsmError> {
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ];
        let session = self.session()?;
        let h = session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| HsmError::from_ck("Generating a test AES-256 session key", e))?;
        session
            .destroy_object(h)
            .map_err(|e| HsmError::from_ck("Destroying the test session key", e))
    }

    /// Proves the audit checkpoint's mechanisms: a generic secret session key
    /// (`CKM_GENERIC_SECRET_KEY_GEN`, CKA_TOKEN false) and one `CKM_SHA256_HMAC` signature
    /// under it, then the key destroyed.
    pub fn probe_hmac(&self) -> Result<(), HsmError> {
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Verify(true),
        ];
        let session = self.session()?;
        let h = session
            .generate_key(&Mechanism::GenericSecretKeyGen, &template)
            .map_err(|e| HsmError::from_ck("Generating a test HMAC session key", e))?;
        let signed = session
            .sign(&Mechanism::Sha256Hmac, h, b"tdekey probe")
            .map_err(|e| HsmError::from_ck("Computing a test HMAC-SHA256", e));
        let destroyed = session
            .destroy_object(h)
            .map_err(|e| HsmError::from_ck("Destroying the test session key", e));
        signed.map(|_| ()).and(destroyed)
    }
}
