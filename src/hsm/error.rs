//! Every way the HSM side can fail, each a sentence a DBA can act on.

use cryptoki::error::{Error as CkError, RvError};
use std::path::PathBuf;

/// The longest label AWS CloudHSM accepts.
pub const CLOUDHSM_MAX_LABEL: usize = 127;

/// CloudHSM locks a crypto user after this many failed logins.
pub const CLOUDHSM_LOCKOUT: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error(
        "No file at {path}. Pick the HSM's PKCS#11 library (.so); for AWS CloudHSM it is /opt/cloudhsm/lib/libcloudhsm_pkcs11.so."
    )]
    ModuleNotFound { path: PathBuf },

    #[error("{path} is a directory. Pick the PKCS#11 library file inside it (a .so file).")]
    ModuleIsDirectory { path: PathBuf },

    #[error(
        "{path} is not a shared library ({detail}). Pick the HSM vendor's PKCS#11 library (.so)."
    )]
    NotASharedLibrary { path: PathBuf, detail: String },

    #[error(
        "{path} could not be loaded as a shared library: {detail}. Check that it is built for this machine (64-bit Linux) and that the libraries it needs are installed."
    )]
    LoadFailed { path: PathBuf, detail: String },

    #[error(
        "{path} is a shared library but not a PKCS#11 module: it has no C_GetFunctionList. Pick the HSM vendor's PKCS#11 library."
    )]
    NotPkcs11 { path: PathBuf },

    #[error("The PKCS#11 module {path} failed to initialize ({ckr}). {hint}")]
    InitializeFailed {
        path: PathBuf,
        ckr: String,
        hint: String,
    },

    #[error(
        "{what} failed: the HSM answered CKR_DEVICE_ERROR {tries} times in a row (AWS CloudHSM does so when the cluster is throttling requests). Wait a minute, then try again; if it persists, check the cluster's health."
    )]
    DeviceBusy { what: String, tries: u32 },

    #[error(
        "The module reports no slot with a token. Check that the HSM is reachable (for CloudHSM: the cluster's IP addresses in /opt/cloudhsm/etc/ and the customer CA certificate)."
    )]
    NoTokens,

    #[error("Slot {slot} does not exist. Slots with a token: {available}.")]
    SlotNotFound { slot: u64, available: String },

    #[error("Slot {slot} holds no initialized token. Slots with a token: {available}.")]
    NoTokenInSlot { slot: u64, available: String },

    #[error("No token is labelled {label:?}. Tokens found: {available}.")]
    TokenNotFound { label: String, available: String },

    #[error(
        "{count} tokens are labelled {label:?} (slots {slots}). Choose one by slot id instead."
    )]
    TokenAmbiguous {
        label: String,
        count: usize,
        slots: String,
    },

    #[error("{count} tokens are present ({available}). Say which one: by token label or slot id.")]
    TokenNotChosen { count: usize, available: String },

    #[error("{}", pin_incorrect_sentence(*.failures, *.cloudhsm))]
    PinIncorrect { failures: u32, cloudhsm: bool },

    #[error(
        "The token refuses this user: the PIN is locked (CKR_PIN_LOCKED). An HSM administrator must unlock or reset the user; tdekey will not try again."
    )]
    PinLocked,

    #[error(
        "The CloudHSM user name must not be empty or contain ':' (the PIN is passed as user:password)."
    )]
    BadCloudHsmUser,

    #[error("Type the password before logging in.")]
    EmptyPassword,

    #[error(
        "The HSM session went away ({ckr}). Reconnect to open a new session; if it keeps happening, check the network path to the HSM."
    )]
    SessionLost { ckr: String },

    #[error("Not connected to a PKCS#11 module. Connect first.")]
    NotConnected,

    #[error(
        "That HSM password is not the one tdekey is logged in with (as {user}). Check the crypto user and password, or log out on the HSM screen to use another user."
    )]
    NotTheLoggedInPin { user: String },

    #[error("Not logged in to the token. Log in as the crypto user first.")]
    NotLoggedIn,

    #[error(
        "The token is already initialized with label {label:?}. tdekey does not re-initialize tokens."
    )]
    TokenExists { label: String },

    #[error("{what} failed ({ckr}).")]
    Pkcs11 { what: String, ckr: String },

    #[error(
        "The label {label:?} is {len} characters long; AWS CloudHSM takes at most {CLOUDHSM_MAX_LABEL}. Nothing was sent to the HSM."
    )]
    LabelTooLong { label: String, len: usize },

    #[error("{0}")]
    Io(String),
}

fn pin_incorrect_sentence(failures: u32, cloudhsm: bool) -> String {
    let tries = if failures == 1 {
        "1 failed attempt".to_owned()
    } else {
        format!("{failures} failed attempts")
    };
    let mut s = format!("The PIN was rejected (CKR_PIN_INCORRECT); {tries} in this session.");
    if cloudhsm {
        s.push_str(&format!(
            " CloudHSM locks a crypto user after {CLOUDHSM_LOCKOUT} failures and only an administrator can unlock it: check the user name and password before trying again."
        ));
    } else {
        s.push_str(
            " Check the PIN before trying again: most HSMs lock a user after a few failures.",
        );
    }
    s
}

impl HsmError {
    /// Whether trying again can help.
    pub fn retry(&self) -> crate::model::Retry {
        use crate::model::Retry;
        match self {
            HsmError::SessionLost { .. } => Retry::AfterReconnect,
            // A PKCS#11 call failed part-way through an operation: look before repeating it.
            HsmError::Pkcs11 { .. } | HsmError::Io(_) => Retry::CheckFirst,
            HsmError::DeviceBusy { .. } => Retry::Yes,
            _ => Retry::AfterFix,
        }
    }

    /// True when reconnecting (a new session) is the way forward.
    pub fn offers_reconnect(&self) -> bool {
        self.retry() == crate::model::Retry::AfterReconnect
    }

    /// Maps a cryptoki error during `what` ("Listing the token's objects", …).
    pub fn from_ck(what: &str, e: CkError) -> Self {
        match e {
            CkError::Pkcs11(rv, _) => Self::from_rv(what, rv),
            other => HsmError::Pkcs11 {
                what: what.to_owned(),
                ckr: other.to_string(),
            },
        }
    }

    pub fn from_rv(what: &str, rv: RvError) -> Self {
        match rv {
            RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::CryptokiNotInitialized => HsmError::SessionLost { ckr: ckr_name(rv) },
            RvError::UserNotLoggedIn => HsmError::NotLoggedIn,
            RvError::PinLocked => HsmError::PinLocked,
            _ => HsmError::Pkcs11 {
                what: what.to_owned(),
                ckr: ckr_name(rv),
            },
        }
    }
}

/// How many times a read the HSM answered with CKR_DEVICE_ERROR is tried in all.
pub const DEVICE_ERROR_TRIES: u32 = 5;

/// Runs a read that CloudHSM may refuse with CKR_DEVICE_ERROR while it throttles, again after
/// 20, 40, 80 and 160 ms; then says so. Other errors are mapped at once.
pub fn retry_device_error<T>(
    what: &str,
    mut read: impl FnMut() -> Result<T, CkError>,
) -> Result<T, HsmError> {
    let mut wait = std::time::Duration::from_millis(20);
    for attempt in 1..=DEVICE_ERROR_TRIES {
        match read() {
            Ok(v) => return Ok(v),
            Err(CkError::Pkcs11(RvError::DeviceError, _)) if attempt < DEVICE_ERROR_TRIES => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err(CkError::Pkcs11(RvError::DeviceError, _)) => break,
            Err(e) => return Err(HsmError::from_ck(what, e)),
        }
    }
    Err(HsmError::DeviceBusy {
        what: what.to_owned(),
        tries: DEVICE_ERROR_TRIES,
    })
}

/// The PKCS#11 name of a return value: `PinIncorrect` becomes `CKR_PIN_INCORRECT`.
pub fn ckr_name(rv: RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_read_is_tried_again_a_bounded_number_of_times() {
        let device = || {
            CkError::Pkcs11(
                RvError::DeviceError,
                cryptoki::context::Function::GetAttributeValue,
            )
        };
        let mut calls = 0;
        let v = retry_device_error("Reading", || {
            calls += 1;
            if calls < 3 { Err(device()) } else { Ok(7) }
        })
        .unwrap();
        assert_eq!((v, calls), (7, 3));
        let mut calls = 0;
        let e = retry_device_error("Reading an object's attributes", || {
            calls += 1;
            Err::<(), _>(device())
        })
        .unwrap_err();
        assert_eq!(calls, DEVICE_ERROR_TRIES);
        assert!(matches!(e, HsmError::DeviceBusy { tries: 5, .. }), "{e}");
        assert!(e.to_string().contains("CKR_DEVICE_ERROR 5 times"), "{e}");
        let mut calls = 0;
        let e = retry_device_error("Reading", || {
            calls += 1;
            Err::<(), _>(CkError::Pkcs11(
                RvError::ObjectHandleInvalid,
                cryptoki::context::Function::GetAttributeValue,
            ))
        })
        .unwrap_err();
        assert_eq!(calls, 1, "other errors are not retried");
        assert!(e.to_string().contains("CKR_OBJECT_HANDLE_INVALID"), "{e}");
    }

    #[test]
    fn ckr_names() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(RvError::SessionHandleInvalid),
            "CKR_SESSION_HANDLE_INVALID"
        );
    }

    #[test]
    fn pin_sentence_counts_and_warns_about_cloudhsm_lockout() {
        let e = HsmError::PinIncorrect {
            failures: 2,
            cloudhsm: true,
        };
        let s = e.to_string();
        assert!(s.contains("CKR_PIN_INCORRECT"), "{s}");
        assert!(s.contains("2 failed attempts"), "{s}");
        assert!(s.contains("after 5 failures"), "{s}");
    }

    #[test]
    fn lost_sessions_offer_reconnect() {
        assert!(HsmError::from_rv("x", RvError::DeviceRemoved).offers_reconnect());
        assert!(!HsmError::from_rv("x", RvError::GeneralError).offers_reconnect());
    }
}
