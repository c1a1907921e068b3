//! Making objects on a token: AES keys generated in the HSM (`C_GenerateKey`, the value never
//! leaves it), data objects, master-key ids from the HSM's random generator, and token
//! initialization.

use super::{Hsm, HsmError};
use crate::model::{OpenToken, TokenSelector};
use crate::secret::Secret;
use crate::tde::labels::MasterKeyId;
use cryptoki::error::Error as CkError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

/// An object found on the token, valid in the session that found it (its handle stays
/// inside the HSM adapter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef(cryptoki::object::ObjectHandle);

/// How a generated AES key is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyTemplate {
    pub bytes: u64,
    pub extractable: bool,
    pub sensitive: bool,
    pub encrypt_decrypt: bool,
}

impl KeyTemplate {
    /// What Oracle (and tdekey) use for a TDE master key: AES-256, sensitive, non-extractable.
    pub const ORACLE_MASTER_KEY: KeyTemplate = KeyTemplate {
        bytes: 32,
        extractable: false,
        sensitive: true,
        encrypt_decrypt: true,
    };

    /// What `cloudhsm-cli key generate-symmetric aes` makes by default: extractable.
    pub const CLOUDHSM_CLI_DEFAULT: KeyTemplate = KeyTemplate {
        bytes: 32,
        extractable: true,
        sensitive: true,
        encrypt_decrypt: true,
    };
}

fn ck(what: &str) -> impl FnOnce(CkError) -> HsmError + '_ {
    move |e| HsmError::from_ck(what, e)
}

impl Hsm {
    /// Initializes the first uninitialized token with `label` and sets its user PIN.
    /// Refuses when a token with that label exists already.
    pub fn init_token(
        &mut self,
        label: &str,
        so_pin: &Secret,
        user_pin: &Secret,
    ) -> Result<OpenToken, HsmError> {
        if let Ok(t) = self.resolve(&TokenSelector::Label(label.to_owned())) {
            return Err(HsmError::TokenExists { label: t.label });
        }
        let ctx = self.ctx()?.clone();
        let slots = ctx
            .get_slots_with_token()
            .map_err(ck("Listing the slots"))?;
        let free: Slot = slots
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or_else(|| HsmError::Pkcs11 {
                what: "Finding a slot with an uninitialized token".into(),
                ckr: "none is free".into(),
            })?;
        let so = AuthPin::from(so_pin.expose());
        ctx.init_token(free, &so, label)
            .map_err(ck("Initializing the token"))?;
        // SoftHSM2 moves an initialized token to a new slot id: find it again by label.
        let token = self.resolve(&TokenSelector::Label(label.to_owned()))?;
        let slot = Slot::try_from(token.slot_id).map_err(ck("Choosing the slot"))?;
        let session = ctx.open_rw_session(slot).map_err(ck("Opening a session"))?;
        session
            .login(UserType::So, Some(&so))
            .map_err(ck("Logging in as security officer"))?;
        session
            .init_pin(&AuthPin::from(user_pin.expose()))
            .map_err(ck("Setting the user PIN"))?;
        session.logout().map_err(ck("Logging out"))?;
        Ok(token)
    }

    /// Generates an AES key on the token (`C_GenerateKey` with `CKM_AES_KEY_GEN`) and returns its
    /// object handle. The key value never leaves the HSM.
    pub fn generate_aes_key(&self, label: &str, t: KeyTemplate) -> Result<u64, HsmError> {
        self.check_label(label)?;
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(super::ulong(t.bytes)?),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(t.sensitive),
            Attribute::Extractable(t.extractable),
            Attribute::Encrypt(t.encrypt_decrypt),
            Attribute::Decrypt(t.encrypt_decrypt),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let h = self
            .session()?
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(ck("Generating the key"))?;
        Ok(super::wide(h.handle()))
    }

    /// Generates a TDE master key for Oracle on the token: AES-256, token, private, sensitive,
    /// never extractable, encrypt and decrypt, labelled `ORACLE.TDE.HSM.MK.06<id>` with
    /// CKA_ID = the id's 16 bytes. Returns the key's attributes as the token reports them
    /// afterwards (read back through PKCS#11, never its value).
    pub fn generate_tde_master_key(
        &self,
        id: &MasterKeyId,
    ) -> Result<crate::model::ObjectInfo, HsmError> {
        let t = KeyTemplate::ORACLE_MASTER_KEY;
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(super::ulong(t.bytes)?),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Label(id.hsm_label().into_bytes()),
            Attribute::Id(id.0.to_vec()),
        ];
        let session = self.session()?;
        let h = session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(ck("Generating the key"))?;
        let attrs = session
            .get_attributes(h, super::objects::INVENTORY_ATTRIBUTES)
            .map_err(ck("Reading the new key's attributes back"))?;
        Ok(super::objects::object_info(super::wide(h.handle()), attrs))
    }

    /// The objects the session sees with this `CKA_LABEL` (one search), to be checked again
    /// later without searching the whole token (see [`Hsm::still_labelled`]).
    pub fn find_label(&self, label: &str) -> Result<Vec<ObjectRef>, HsmError> {
        self.check_label(label)?;
        self.session()?
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map(|v| v.into_iter().map(ObjectRef).collect())
            .map_err(ck("Searching the token by label"))
    }

    /// Whether an object found earlier in this session is still on the token with this label
    /// (one `C_GetAttributeValue`, no search): false when the token says the handle is gone.
    pub fn still_labelled(&self, object: &ObjectRef, label: &str) -> Result<bool, HsmError> {
        use cryptoki::error::RvError;
        match self
            .session()?
            .get_attributes(object.0, &[cryptoki::object::AttributeType::Label])
        {
            Ok(attrs) => Ok(attrs
                .iter()
                .any(|a| matches!(a, Attribute::Label(l) if l.as_slice() == label.as_bytes()))),
            Err(CkError::Pkcs11(RvError::ObjectHandleInvalid, _)) => Ok(false),
            Err(e) => Err(HsmError::from_ck("Reading an object's label", e)),
        }
    }

    /// How many objects the session sees with this `CKA_ID`.
    pub fn count_id(&self, id: &[u8]) -> Result<usize, HsmError> {
        self.session()?
            .find_objects(&[Attribute::Id(id.to_vec())])
            .map(|v| v.len())
            .map_err(ck("Searching the token by CKA_ID"))
    }

    /// Creates a private token data object.
    pub fn create_data_object(
        &self,
        label: &str,
        application: &str,
        value: &[u8],
    ) -> Result<u64, HsmError> {
        self.check_label(label)?;
        let template = vec![
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Application(application.as_bytes().to_vec()),
            Attribute::Value(value.to_vec()),
        ];
        let h = self
            .session()?
            .create_object(&template)
            .map_err(ck("Creating the data object"))?;
        Ok(super::wide(h.handle()))
    }

    /// 16 random bytes from the token's generator: a new master key id.
    pub fn random_master_key_id(&self) -> Result<MasterKeyId, HsmError> {
        let mut id = [0u8; 16];
        self.session()?
            .generate_random_slice(&mut id)
            .map_err(ck("Drawing random bytes"))?;
        Ok(MasterKeyId(id))
    }
}
