//! The PKCS#11 adapter: the only module that names cryptoki.
//!
//! One [`Hsm`] is one loaded module with at most one session. The engine's HSM thread owns it;
//! it is `Send` (a cryptoki `Session` is Send, not Sync). Dropping it closes the session and
//! calls `C_Finalize`.

pub mod audit_key;
pub mod cloudhsm_cli;
pub mod demo;
pub mod error;
mod keys;
mod lookup;
pub mod module;
pub mod objects;
mod raw;
mod token_facts;
use token_facts::{TokenFacts, unpad};

pub use error::{HsmError, ckr_name};

/// A PKCS#11 number (a handle, flags, a length) as u64: CK_ULONG is 32 bits on Windows, 64
/// on Linux and macOS.
#[allow(clippy::useless_conversion)]
pub(crate) fn wide(n: cryptoki_sys::CK_ULONG) -> u64 {
    u64::from(n)
}

/// A length as the module's CK_ULONG.
pub(crate) fn ulong(n: u64) -> Result<cryptoki::types::Ulong, HsmError> {
    usize::try_from(n)
        .ok()
        .and_then(|n| cryptoki::types::Ulong::try_from(n).ok())
        .ok_or_else(|| HsmError::Pkcs11 {
            what: format!("Giving the module the number {n}"),
            ckr: "too large for this platform's CK_ULONG".into(),
        })
}

/// Object handles asked for per C_FindObjects when listing a whole token.
pub const FIND_BATCH: usize = 256;
pub use keys::{KeyTemplate, ObjectRef};
pub use lookup::MasterKeyLookup;
pub use module::{ModuleCandidate, check_module_path, detect_modules};

use crate::model::{ObjectInfo, OpenToken, PinFormat, TokenSelector};
use crate::secret::Secret;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize)]
pub struct LibraryReport {
    pub path: PathBuf,
    pub manufacturer: String,
    pub description: String,
    pub library_version: String,
    pub cryptoki_version: String,
}

/// A mechanism tdekey relies on, and whether the token offers it.
#[derive(Clone, Debug, Serialize)]
pub struct MechanismCheck {
    pub name: &'static str,
    pub purpose: &'static str,
    pub present: bool,
}

/// The mechanisms tdekey needs and what for. (Which mechanism Oracle's C_Encrypt and
/// C_Decrypt use to wrap the data keys is not published: no mechanism is claimed for it.)
pub const REQUIRED_MECHANISMS: &[(MechanismType, &str, &str)] = &[
    (
        MechanismType::AES_KEY_GEN,
        "CKM_AES_KEY_GEN",
        "generating AES-256 master keys",
    ),
    (
        MechanismType::SHA256_HMAC,
        "CKM_SHA256_HMAC",
        "audit-log checkpoints computed inside the HSM",
    ),
];

#[derive(Clone, Debug, Serialize)]
pub struct TokenReport {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    /// Flags that are set, by their PKCS#11 names without the CKF_ prefix.
    pub flags: Vec<&'static str>,
    pub mechanisms: Vec<MechanismCheck>,
    /// Set when the mechanism list could not be read.
    pub mechanisms_error: Option<String>,
    /// What of the token's information could not be read (the rest is shown).
    pub unreadable: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlotReport {
    pub slot_id: u64,
    pub description: String,
    pub manufacturer: String,
    pub token: Option<TokenReport>,
}

/// What a login attempt found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    LoggedIn,
    /// `CKR_USER_ALREADY_LOGGED_IN`: the token already holds a login for this application.
    AlreadyLoggedIn,
}

pub struct Hsm {
    pkcs11: Option<Pkcs11>,
    path: PathBuf,
    session: Option<Session>,
    token: Option<OpenToken>,
    user: Option<String>,
    failures: u32,
    /// HMAC-SHA256 of the PIN of the current login under `pin_key`, to check a password given
    /// later (a Rehearsal statement) without a second `C_Login`. Never the PIN itself.
    pin_digest: Option<[u8; 32]>,
    pin_key: zeroize::Zeroizing<[u8; 32]>,
    /// The module's C_GetAttributeValue without cryptoki, for one call per object.
    raw: Option<raw::Raw>,
}

/// `None` only if HMAC refused the key, which it does for no length: that login then has no
/// digest, and a later check logs in afresh.
fn pin_digest(key: &[u8; 32], pin: &str) -> Option<[u8; 32]> {
    use hmac::{Mac, SimpleHmac};
    let mut m = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(key).ok()?;
    m.update(pin.as_bytes());
    Some(m.finalize().into_bytes().into())
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("path", &self.path)
            .field("token", &self.token)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn initialize_hint(path: &Path) -> String {
    let p = path.to_string_lossy();
    if p.contains("softhsm") {
        let conf = std::env::var("SOFTHSM2_CONF")
            .unwrap_or_else(|_| "/etc/softhsm/softhsm2.conf (SOFTHSM2_CONF is not set)".into());
        format!(
            "SoftHSM2 reads its configuration from {conf}: check that the file exists and that its directories.tokendir exists and is writable."
        )
    } else if p.contains("cloudhsm") {
        "Check the CloudHSM client configuration in /opt/cloudhsm/etc/ (run /opt/cloudhsm/bin/configure-pkcs11 -a <HSM IP addresses>) and that the cluster is reachable.".to_owned()
    } else {
        "Check the vendor's client configuration and that the HSM is reachable.".to_owned()
    }
}

impl Hsm {
    /// Loads and initializes a PKCS#11 module.
    pub fn load(path: &Path) -> Result<Self, HsmError> {
        check_module_path(path)?;
        let pkcs11 = Pkcs11::new(path).map_err(|e| match e {
            CkError::MissingSymbol(_) => HsmError::NotPkcs11 {
                path: path.to_path_buf(),
            },
            CkError::LibraryLoading(le) => HsmError::LoadFailed {
                path: path.to_path_buf(),
                detail: le.to_string(),
            },
            CkError::Pkcs11(rv, _) => HsmError::InitializeFailed {
                path: path.to_path_buf(),
                ckr: ckr_name(rv),
                hint: initialize_hint(path),
            },
            other => HsmError::LoadFailed {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(CkError::Pkcs11(rv, _)) => {
                return Err(HsmError::InitializeFailed {
                    path: path.to_path_buf(),
                    ckr: ckr_name(rv),
                    hint: initialize_hint(path),
                });
            }
            Err(other) => {
                return Err(HsmError::InitializeFailed {
                    path: path.to_path_buf(),
                    ckr: other.to_string(),
                    hint: initialize_hint(path),
                });
            }
        }
        Ok(Self {
            raw: raw::Raw::load(path),
            pkcs11: Some(pkcs11),
            path: path.to_path_buf(),
            session: None,
            token: None,
            user: None,
            failures: 0,
            pin_digest: None,
            pin_key: {
                use aes_gcm::aead::{OsRng, rand_core::RngCore};
                let mut k = zeroize::Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(&mut *k);
                k
            },
        })
    }

    fn ctx(&self) -> Result<&Pkcs11, HsmError> {
        self.pkcs11.as_ref().ok_or(HsmError::NotConnected)
    }

    pub fn module_path(&self) -> &Path {
        &self.path
    }

    pub fn library(&self) -> Result<LibraryReport, HsmError> {
        let info = self
            .ctx()?
            .get_library_info()
            .map_err(|e| HsmError::from_ck("Reading the library information", e))?;
        Ok(LibraryReport {
            path: self.path.clone(),
            manufacturer: info.manufacturer_id().trim().to_owned(),
            description: info.library_description().trim().to_owned(),
            library_version: info.library_version().to_string(),
            cryptoki_version: info.cryptoki_version().to_string(),
        })
    }

    /// Every slot, with its token (if any) and the mechanisms tdekey needs.
    pub fn slots(&self) -> Result<Vec<SlotReport>, HsmError> {
        let ctx = self.ctx()?;
        let slots = ctx
            .get_all_slots()
            .map_err(|e| HsmError::from_ck("Listing the slots", e))?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let si = ctx
                .get_slot_info(slot)
                .map_err(|e| HsmError::from_ck("Reading a slot", e))?;
            let token = if si.token_present() {
                match ctx.get_token_info(slot) {
                    Ok(ti) => Some(self.token_report(slot, TokenFacts::of(&ti), None)),
                    Err(CkError::Pkcs11(RvError::TokenNotPresent, _)) => None,
                    Err(e @ CkError::Pkcs11(..)) => {
                        return Err(HsmError::from_ck("Reading a token", e));
                    }
                    // cryptoki could not decode what the token answered (opencryptoki's
                    // clock): read the structure itself, and say what could not be read.
                    Err(e) => {
                        let raw = self
                            .raw
                            .as_ref()
                            .and_then(|r| r.token_info(slot.id()).ok())
                            .ok_or_else(|| HsmError::from_ck("Reading a token", e))?;
                        let note = raw.clock.as_ref().map(|c| {
                            format!(
                                "The token's clock reads {c:?}, not PKCS#11's YYYYMMDDhhmmss00: tdekey shows the token without it."
                            )
                        });
                        Some(self.token_report(slot, TokenFacts::raw(&raw), note))
                    }
                }
            } else {
                None
            };
            out.push(SlotReport {
                slot_id: slot.id(),
                description: unpad(si.slot_description()),
                manufacturer: unpad(si.manufacturer_id()),
                token,
            });
        }
        Ok(out)
    }

    fn token_report(&self, slot: Slot, facts: TokenFacts, note: Option<String>) -> TokenReport {
        let flags = facts.flag_names();
        let (mechanisms, mechanisms_error) = match self.ctx().and_then(|c| {
            c.get_mechanism_list(slot)
                .map_err(|e| HsmError::from_ck("Listing the token's mechanisms", e))
        }) {
            Ok(list) => (
                REQUIRED_MECHANISMS
                    .iter()
                    .map(|(m, name, purpose)| MechanismCheck {
                        name,
                        purpose,
                        present: list.contains(m),
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        TokenReport {
            label: facts.label,
            manufacturer: facts.manufacturer,
            model: facts.model,
            serial: facts.serial,
            flags,
            mechanisms,
            mechanisms_error,
            unreadable: note,
        }
    }

    /// Finds the slot of the token the selector names.
    pub fn resolve(&self, selector: &TokenSelector) -> Result<OpenToken, HsmError> {
        let slots = self.slots()?;
        let with_token: Vec<(u64, String)> = slots
            .iter()
            .filter_map(|s| {
                s.token
                    .as_ref()
                    .filter(|t| t.flags.contains(&"TOKEN_INITIALIZED"))
                    .map(|t| (s.slot_id, t.label.clone()))
            })
            .collect();
        let available = if with_token.is_empty() {
            "none".to_owned()
        } else {
            with_token
                .iter()
                .map(|(id, l)| format!("{l:?} in slot {id}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match selector {
            TokenSelector::Slot(id) => {
                let Some(slot) = slots.iter().find(|s| s.slot_id == *id) else {
                    return Err(HsmError::SlotNotFound {
                        slot: *id,
                        available,
                    });
                };
                match with_token.iter().find(|(sid, _)| sid == id) {
                    Some((_, label)) => Ok(OpenToken {
                        slot_id: slot.slot_id,
                        label: label.clone(),
                    }),
                    None => Err(HsmError::NoTokenInSlot {
                        slot: *id,
                        available,
                    }),
                }
            }
            TokenSelector::Label(label) => {
                let hits: Vec<&(u64, String)> =
                    with_token.iter().filter(|(_, l)| l == label).collect();
                match hits.as_slice() {
                    [] => Err(HsmError::TokenNotFound {
                        label: label.clone(),
                        available,
                    }),
                    [(id, l)] => Ok(OpenToken {
                        slot_id: *id,
                        label: l.clone(),
                    }),
                    many => Err(HsmError::TokenAmbiguous {
                        label: label.clone(),
                        count: many.len(),
                        slots: many
                            .iter()
                            .map(|(id, _)| id.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                }
            }
            TokenSelector::Only => match with_token.as_slice() {
                [] => Err(HsmError::NoTokens),
                [(id, l)] => Ok(OpenToken {
                    slot_id: *id,
                    label: l.clone(),
                }),
                many => Err(HsmError::TokenNotChosen {
                    count: many.len(),
                    available,
                }),
            },
        }
    }

    /// Opens a read-write session on the chosen token (CloudHSM offers no read-only sessions),
    /// closing any earlier one.
    pub fn open(&mut self, selector: &TokenSelector) -> Result<OpenToken, HsmError> {
        let token = self.resolve(selector)?;
        self.session = None;
        self.user = None;
        self.pin_digest = None;
        let slot =
            Slot::try_from(token.slot_id).map_err(|e| HsmError::from_ck("Choosing the slot", e))?;
        let session = self
            .ctx()?
            .open_rw_session(slot)
            .map_err(|e| HsmError::from_ck("Opening a session", e))?;
        self.session = Some(session);
        self.token = Some(token.clone());
        Ok(token)
    }

    /// Whether the open token offers AES key generation: one C_GetMechanismList on its slot
    /// only (every PKCS#11 call is a round trip on CloudHSM).
    pub fn offers_aes_key_gen(&self) -> Result<bool, HsmError> {
        let token = self.token.as_ref().ok_or(HsmError::NotConnected)?;
        let slot =
            Slot::try_from(token.slot_id).map_err(|e| HsmError::from_ck("Choosing the slot", e))?;
        let list = self
            .ctx()?
            .get_mechanism_list(slot)
            .map_err(|e| HsmError::from_ck("Listing the token's mechanisms", e))?;
        Ok(list.contains(&MechanismType::AES_KEY_GEN))
    }

    pub fn token(&self) -> Option<&OpenToken> {
        self.token.as_ref()
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Failed logins since this module was loaded.
    pub fn failed_logins(&self) -> u32 {
        self.failures
    }

    pub fn session(&self) -> Result<&Session, HsmError> {
        self.session.as_ref().ok_or(HsmError::NotConnected)
    }

    /// Logs the crypto user in on the open session.
    pub fn login(
        &mut self,
        user: &str,
        password: &Secret,
        format: PinFormat,
    ) -> Result<LoginOutcome, HsmError> {
        if password.is_empty() {
            return Err(HsmError::EmptyPassword);
        }
        let pin = match format {
            PinFormat::CloudHsm => {
                if user.is_empty() || user.contains(':') {
                    return Err(HsmError::BadCloudHsmUser);
                }
                password.joined_with_user(user)
            }
            PinFormat::Plain => password.clone(),
        };
        let auth = AuthPin::from(pin.expose());
        let digest = pin_digest(&self.pin_key, pin.expose());
        drop(pin);
        let result = self.session()?.login(UserType::User, Some(&auth));
        match result {
            Ok(()) => {
                self.user = Some(user.to_owned());
                self.pin_digest = digest;
                Ok(LoginOutcome::LoggedIn)
            }
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                self.user = Some(user.to_owned());
                Ok(LoginOutcome::AlreadyLoggedIn)
            }
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                self.failures += 1;
                Err(HsmError::PinIncorrect {
                    failures: self.failures,
                    cloudhsm: format == PinFormat::CloudHsm,
                })
            }
            Err(e) => Err(HsmError::from_ck("Logging in", e)),
        }
    }

    /// Checks a crypto user's password the way a database would when a statement carries it:
    /// logs in when no one is, and otherwise compares it with the PIN of the current login
    /// (PKCS#11 keeps one login per application, so a second `C_Login` would prove nothing).
    pub fn check_login(
        &mut self,
        user: &str,
        password: &Secret,
        format: PinFormat,
    ) -> Result<(), HsmError> {
        if self.user.is_none() {
            if self.pin_digest.is_none() {
                // Maybe another part of this process holds the login: start clean.
                let _ = self.session()?.logout();
            }
            return self.login(user, password, format).map(|_| ());
        }
        let pin = match format {
            PinFormat::CloudHsm => password.joined_with_user(user),
            PinFormat::Plain => password.clone(),
        };
        let given = pin_digest(&self.pin_key, pin.expose());
        match self.pin_digest {
            Some(d)
                if Some(d) == given
                    && (format == PinFormat::Plain || self.user.as_deref() == Some(user)) =>
            {
                Ok(())
            }
            Some(_) => Err(HsmError::NotTheLoggedInPin {
                user: self.user.clone().unwrap_or_default(),
            }),
            None => {
                // Logged in without a recorded PIN (CKR_USER_ALREADY_LOGGED_IN): log in afresh.
                self.logout()?;
                self.login(user, password, format).map(|_| ())
            }
        }
    }

    /// True when a user is logged in on the session.
    pub fn logged_in(&self) -> bool {
        self.user.is_some()
    }

    /// How many objects the session sees with this `CKA_LABEL`.
    pub fn count_label(&self, label: &str) -> Result<usize, HsmError> {
        use cryptoki::object::Attribute;
        self.check_label(label)?;
        self.session()?
            .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .map(|v| v.len())
            .map_err(|e| HsmError::from_ck("Searching the token by label", e))
    }

    /// Whether the module is AWS CloudHSM's (by its path), whose limits tdekey checks before
    /// calling it.
    pub fn is_cloudhsm(&self) -> bool {
        self.path.to_string_lossy().contains("cloudhsm")
    }

    /// A label CloudHSM would refuse (longer than 127 characters) is refused before the call.
    pub(crate) fn check_label(&self, label: &str) -> Result<(), HsmError> {
        let len = label.chars().count();
        if self.is_cloudhsm() && len > error::CLOUDHSM_MAX_LABEL {
            return Err(HsmError::LabelTooLong {
                label: label.to_owned(),
                len,
            });
        }
        Ok(())
    }

    pub fn logout(&mut self) -> Result<(), HsmError> {
        self.pin_digest = None;
        let r = self.session()?.logout();
        self.user = None;
        match r {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserNotLoggedIn, _)) => Ok(()),
            Err(e) => Err(HsmError::from_ck("Logging out", e)),
        }
    }

    /// Every object the session can see, with the attributes the Keys table shows. `progress`
    /// is called with (done, total) as objects are read.
    pub fn inventory(
        &self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<ObjectInfo>, HsmError> {
        let session = self.session()?;
        // Handles in batches of FIND_BATCH per C_FindObjects (cryptoki's default is 10): on
        // CloudHSM every call is a round trip.
        let batch = std::num::NonZeroUsize::new(FIND_BATCH).unwrap_or(std::num::NonZeroUsize::MIN);
        let handles = session
            .iter_objects_with_cache_size(&[], batch)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| HsmError::from_ck("Listing the token's objects", e))?;
        let total = handles.len();
        let mut out = Vec::with_capacity(total);
        for (i, h) in handles.into_iter().enumerate() {
            out.push(self.object(session, h)?);
            if i % 256 == 255 {
                progress(i + 1, total);
            }
        }
        progress(total, total);
        Ok(out)
    }

    /// Every object with the inventory's attributes read one `C_GetAttributeValue` per
    /// attribute: the slow, sure way, to check the one-call reading against.
    pub fn inventory_attribute_by_attribute(&self) -> Result<Vec<ObjectInfo>, HsmError> {
        let session = self.session()?;
        let handles = session
            .find_objects(&[])
            .map_err(|e| HsmError::from_ck("Listing the token's objects", e))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let mut attrs = Vec::new();
            for t in objects::INVENTORY_ATTRIBUTES {
                attrs.extend(
                    session
                        .get_attributes(h, std::slice::from_ref(t))
                        .map_err(|e| HsmError::from_ck("Reading an attribute", e))?,
                );
            }
            out.push(objects::object_info(wide(h.handle()), attrs));
        }
        Ok(out)
    }

    /// An object's attributes in one `C_GetAttributeValue` when the token answers `CKR_OK`
    /// and every value fits; values that did not fit are read again, and a token that refuses
    /// an attribute of the template (CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE) is
    /// read through cryptoki, which asks again attribute by attribute as needed. A
    /// CKR_DEVICE_ERROR (CloudHSM throttling) is tried again with a backoff.
    fn attributes(
        &self,
        session: &Session,
        h: cryptoki::object::ObjectHandle,
        types: &[cryptoki::object::AttributeType],
    ) -> Result<Vec<cryptoki::object::Attribute>, HsmError> {
        let what = "Reading an object's attributes";
        if let Some(raw) = &self.raw
            && let Ok((mut attrs, again)) = raw.attributes_once(session.handle(), h.handle(), types)
        {
            if !again.is_empty() {
                attrs.extend(error::retry_device_error(what, || {
                    session.get_attributes(h, &again)
                })?);
            }
            return Ok(attrs);
        }
        error::retry_device_error(what, || session.get_attributes(h, types))
    }

    /// Closes the session and finalizes the module.
    pub fn close(mut self) -> Result<(), HsmError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), HsmError> {
        self.session = None;
        self.user = None;
        self.pin_digest = None;
        self.token = None;
        match self.pkcs11.take() {
            Some(p) => p
                .finalize()
                .map_err(|e| HsmError::from_ck("Finalizing the module", e)),
            None => Ok(()),
        }
    }
}

impl Drop for Hsm {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
