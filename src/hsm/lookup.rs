//! Looking objects up by label (no search of the whole token), objects whose attributes cannot
//! be read, and probes that prove a mechanism works before anything depends on it.

use super::{Hsm, HsmError, objects};
use crate::model::ObjectInfo;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};

/// What [`Hsm::find_master_key`] found under one label.
#[derive(Clone, Debug, Default)]
pub struct MasterKeyLookup {
    /// Objects found by the healthy template (their attributes were not read: they match).
    pub healthy: usize,
    /// Objects found by label alone, with their attributes (when the healthy search found none).
    pub objects: Vec<ObjectInfo>,
    /// PKCS#11 calls made (each search 3, each read 1; a read the token answers in two
    /// calls counts one).
    pub calls: u64,
}

impl MasterKeyLookup {
    pub fn found(&self) -> bool {
        self.healthy > 0 || !self.objects.is_empty()
    }
}

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

    /// A master key looked up by its label for the recoverability report, in as few round
    /// trips as the answer allows. `expect_healthy`: the key is one Oracle made on an HSM, so
    /// the first search asks for it as a healthy master key looks (AES-256, sensitive, not
    /// extractable, encrypt and decrypt): found that way it costs 3 calls (`C_FindObjectsInit`,
    /// one `C_FindObjects` for at most 2 handles, `C_FindObjectsFinal`) and no read. Otherwise,
    /// or when that search finds nothing or the token refuses its template, a search by label
    /// alone (3 calls) tells a missing key from an unhealthy one, whose attributes are then
    /// read (1 call each with the one-call read). A second object under one label is a finding
    /// of its own (Oracle cannot tell them apart).
    pub fn find_master_key(
        &self,
        label: &str,
        expect_healthy: bool,
    ) -> Result<MasterKeyLookup, HsmError> {
        self.check_label(label)?;
        let session = self.session()?;
        let search = |template: &[Attribute]| -> Result<Vec<ObjectHandle>, cryptoki::error::Error> {
            session
                .iter_objects_with_cache_size(
                    template,
                    std::num::NonZeroUsize::MIN.saturating_add(1),
                )?
                .take(2)
                .collect()
        };
        let mut calls = 0u64;
        let by_label = Attribute::Label(label.as_bytes().to_vec());
        if expect_healthy {
            let healthy = [
                by_label.clone(),
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ];
            calls += 3;
            if let Ok(found) = search(&healthy)
                && !found.is_empty()
            {
                return Ok(MasterKeyLookup {
                    healthy: found.len(),
                    objects: Vec::new(),
                    calls,
                });
            }
        }
        calls += 3;
        let found = search(&[by_label])
            .map_err(|e| HsmError::from_ck("Searching the token by label", e))?;
        let mut objects = Vec::with_capacity(found.len());
        for h in found {
            calls += 1;
            objects.push(self.object(session, h)?);
        }
        Ok(MasterKeyLookup {
            healthy: 0,
            objects,
            calls,
        })
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
