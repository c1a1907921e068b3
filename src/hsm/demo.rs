//! Creating SoftHSM2 tokens (the demo token, test tokens, benchmark tokens) and the objects
//! Oracle writes to an HSM. Everything here goes through the real PKCS#11 module.

use super::{Hsm, HsmError, OpenToken, PinFormat, TokenSelector, module::SOFTHSM_MODULES};
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, SUPPORTED_IDEN, format_key_id, key_metadata_label};
use cryptoki::error::Error as CkError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};

/// Label of the demo token `make run` creates.
pub const DEMO_TOKEN_LABEL: &str = "tdekey-demo";
/// The demo token's crypto-user PIN. A demo value, shown as such in the UI: never a real PIN.
pub const DEMO_USER_PIN: &str = "demo-pin-1234";
/// The demo token's security-officer PIN (demo value).
pub const DEMO_SO_PIN: &str = "demo-so-pin-5678";
/// User name recorded for the demo token (SoftHSM2 takes a plain PIN; the name is for the log).
pub const DEMO_USER: &str = "demo_cu";
/// Name of the demo connection profile.
/// The Rehearsal database `make run` creates on the demo token.
pub const DEMO_DATABASE_NAME: &str = "Rehearsal demo";
/// Its file wallet's password: a demo value, shown as such.
pub const DEMO_WALLET_PASSWORD: &str = "demo-wallet-1234";
/// Its simulated WALLET_ROOT.
pub const DEMO_WALLET_ROOT: &str = "/u01/app/oracle/admin/REHEARSAL/wallet";
pub const DEMO_PROFILE_NAME: &str = "Demo token (SoftHSM2)";

/// The first SoftHSM2 library found on this machine.
pub fn softhsm_module() -> Option<PathBuf> {
    SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Writes a SoftHSM2 configuration whose token directory is `dir/tokens`. Returns the path of
/// the configuration file.
pub fn write_softhsm_conf(dir: &Path) -> std::io::Result<PathBuf> {
    crate::paths::create_private_dir(dir)?;
    let tokens = dir.join("tokens");
    crate::paths::create_private_dir(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "# Written by tdekey for its demo and test tokens.\n\
             directories.tokendir = {}\n\
             objectstore.backend = file\n\
             log.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

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
        let template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(t.bytes.into()),
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
        Ok(h.handle())
    }

    /// Creates a private token data object.
    pub fn create_data_object(
        &self,
        label: &str,
        application: &str,
        value: &[u8],
    ) -> Result<u64, HsmError> {
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
        Ok(h.handle())
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

/// One object the demo puts on its token.
#[derive(Clone, Debug)]
pub struct DemoObject {
    pub label: String,
    pub what: &'static str,
    pub key: Option<KeyTemplate>,
}

/// What the demo token holds: what Oracle leaves on an HSM after a migration (a master key, its
/// metadata object, the keystore marker), plus a second master key made the way cloudhsm-cli
/// makes keys by default (extractable), so the health check has something to show.
pub fn demo_objects(first: MasterKeyId, second: MasterKeyId) -> Vec<DemoObject> {
    vec![
        DemoObject {
            label: first.hsm_label(),
            what: "TDE master key as Oracle generates it",
            key: Some(KeyTemplate::ORACLE_MASTER_KEY),
        },
        DemoObject {
            label: key_metadata_label(&format_key_id(0x06, &first)),
            what: "Oracle key metadata for that master key",
            key: None,
        },
        DemoObject {
            label: SUPPORTED_IDEN.to_owned(),
            what: "Oracle keystore marker",
            key: None,
        },
        DemoObject {
            label: second.hsm_label(),
            what: "TDE master key made with cloudhsm-cli defaults (extractable: flagged)",
            key: Some(KeyTemplate::CLOUDHSM_CLI_DEFAULT),
        },
    ]
}

/// Settings for a demo or test token.
pub struct TokenSpec<'a> {
    pub label: &'a str,
    pub so_pin: Secret,
    pub user_pin: Secret,
}

impl TokenSpec<'_> {
    pub fn demo() -> TokenSpec<'static> {
        TokenSpec {
            label: DEMO_TOKEN_LABEL,
            so_pin: Secret::from(DEMO_SO_PIN),
            user_pin: Secret::from(DEMO_USER_PIN),
        }
    }
}

/// Creates a SoftHSM2 token and logs the user in on it; the caller adds objects.
/// `SOFTHSM2_CONF` must already point at the configuration to use.
pub fn create_softhsm_token(spec: &TokenSpec<'_>) -> Result<Hsm, HsmError> {
    let module = softhsm_module().ok_or_else(|| HsmError::ModuleNotFound {
        path: PathBuf::from(SOFTHSM_MODULES[0]),
    })?;
    let mut hsm = Hsm::load(&module)?;
    hsm.init_token(spec.label, &spec.so_pin, &spec.user_pin)?;
    hsm.open(&TokenSelector::Label(spec.label.to_owned()))?;
    hsm.login("", &spec.user_pin, PinFormat::Plain)?;
    Ok(hsm)
}
