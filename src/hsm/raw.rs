//! The few PKCS#11 calls tdekey makes itself rather than through cryptoki, for round trips:
//! `C_GetAttributeValue` with buffers large enough for every attribute an inventory reads, so
//! that one call per object suffices (cryptoki's `get_attributes` always makes two when a
//! template has a variable-length attribute, and on AWS CloudHSM every call is a network
//! round trip).
//!
//! The module is opened a second time with `dlopen` (the loader returns the library cryptoki
//! loaded) to reach its function list; the session and object handles are cryptoki's. When
//! anything here is unavailable, or a token answers anything but `CKR_OK`, the caller falls
//! back to cryptoki.

use cryptoki::object::{Attribute, AttributeType};
use cryptoki_sys::{
    CK_ATTRIBUTE, CK_C_GetAttributeValue, CK_C_GetTokenInfo, CK_FLAGS, CK_FUNCTION_LIST,
    CK_OBJECT_HANDLE, CK_RV, CK_SESSION_HANDLE, CK_SLOT_ID, CK_TOKEN_INFO, CK_ULONG,
    CK_UNAVAILABLE_INFORMATION, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_BUFFER_TOO_SMALL, CKR_OK,
};

/// What the buffers hold before the call: a token that stops at the first attribute it
/// refuses (instead of going on, as PKCS#11 asks) leaves the later ones untouched, and a
/// boolean or a number still all made of this byte was not written.
const UNTOUCHED: u8 = 0xA5;
use std::path::Path;

/// Room for a variable-length attribute in the one-call read: a TDE master key's label is 52
/// bytes (CloudHSM allows 127), its id 16; a longer value is read again on its own.
pub const VARIABLE_ROOM: usize = 256;

/// The module's `C_GetAttributeValue`, reached without cryptoki.
pub struct Raw {
    get_attribute_value: CK_C_GetAttributeValue,
    get_token_info: CK_C_GetTokenInfo,
    /// Keeps the library loaded as long as the pointer above is used.
    _library: libloading::Library,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Raw")
    }
}

// SAFETY: the pointer is a function of a PKCS#11 module initialized with OS locking
// (CKF_OS_LOCKING_OK): its functions may be called from any thread. The struct holds nothing
// else but the library handle, which libloading makes Send and Sync.
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

impl Raw {
    /// The function list of the module at `path` (already loaded and initialized by
    /// cryptoki); `None` when it cannot be reached.
    pub fn load(path: &Path) -> Option<Self> {
        // SAFETY: loading the same PKCS#11 library again runs no initializer of its own (the
        // loader returns the handle it has), and `C_GetFunctionList` has the standard
        // signature; the list it returns lives as long as the library stays loaded.
        unsafe {
            let library = libloading::Library::new(path).ok()?;
            let get_list: libloading::Symbol<
                unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV,
            > = library.get(b"C_GetFunctionList\0").ok()?;
            let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
            if get_list(&mut list) != CKR_OK || list.is_null() {
                return None;
            }
            let get_attribute_value = (*list).C_GetAttributeValue;
            get_attribute_value?;
            Some(Self {
                get_attribute_value,
                get_token_info: (*list).C_GetTokenInfo,
                _library: library,
            })
        }
    }

    /// Reads `types` of one object in a single `C_GetAttributeValue`. Returns the
    /// attributes the token gave (those it does not have for this object, or will not reveal,
    /// left out) and the types to read again: a value that did not fit, or an entry the token
    /// left untouched. `Err(rv)` for any other answer than `CKR_OK` or the three that still
    /// describe each attribute (CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_SENSITIVE,
    /// CKR_BUFFER_TOO_SMALL): the caller then reads the object another way.
    pub fn attributes_once(
        &self,
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        types: &[AttributeType],
    ) -> Result<(Vec<Attribute>, Vec<AttributeType>), CK_RV> {
        let Some(call) = self.get_attribute_value else {
            return Err(CK_RV::MAX);
        };
        let mut buffers: Vec<Vec<u8>> = types
            .iter()
            .map(|t| vec![UNTOUCHED; t.fixed_size().unwrap_or(VARIABLE_ROOM)])
            .collect();
        let mut template: Vec<CK_ATTRIBUTE> = types
            .iter()
            .zip(buffers.iter_mut())
            .map(|(t, b)| CK_ATTRIBUTE {
                type_: (*t).into(),
                pValue: b.as_mut_ptr().cast(),
                ulValueLen: b.len() as CK_ULONG,
            })
            .collect();
        let count = CK_ULONG::try_from(template.len()).map_err(|_| CK_RV::MAX)?;
        // SAFETY: every entry points into a buffer of the length it states, all of which
        // outlive the call; the handles come from a live cryptoki session.
        let rv = unsafe { call(session, object, template.as_mut_ptr(), count) };
        if ![
            CKR_OK,
            CKR_ATTRIBUTE_TYPE_INVALID,
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_BUFFER_TOO_SMALL,
        ]
        .contains(&rv)
        {
            return Err(rv);
        }
        let mut out = Vec::with_capacity(types.len());
        let mut again = Vec::new();
        for (i, a) in template.iter().enumerate() {
            if a.ulValueLen == CK_UNAVAILABLE_INFORMATION {
                continue;
            }
            let room = buffers[i].len();
            let Ok(len) = usize::try_from(a.ulValueLen) else {
                again.push(types[i]);
                continue;
            };
            let untouched = match types[i].fixed_size() {
                Some(_) => len == room && buffers[i].iter().all(|b| *b == UNTOUCHED),
                // A value exactly as long as the room may be one the token never wrote.
                None => len == room,
            };
            if len > room || untouched {
                again.push(types[i]);
                continue;
            }
            // The conversion copies the value out of our buffer.
            match Attribute::try_from(*a) {
                Ok(attr) => out.push(attr),
                Err(_) => again.push(types[i]),
            }
        }
        Ok((out, again))
    }
}

/// What tdekey shows of a token, read from the raw `CK_TOKEN_INFO` when cryptoki cannot decode
/// it (opencryptoki 3.8 sets CKF_CLOCK_ON_TOKEN and writes its clock as "18:19:14", which
/// cryptoki refuses, losing the whole structure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawToken {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: CK_FLAGS,
    /// The clock as the token wrote it, when CKF_CLOCK_ON_TOKEN is set.
    pub clock: Option<String>,
}

/// A fixed-size, blank-padded PKCS#11 string; NUL padding (opencryptoki's) is trimmed too.
fn padded(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches([' ', '\0'])
        .trim_start()
        .to_owned()
}

impl RawToken {
    pub fn from_info(info: &CK_TOKEN_INFO) -> Self {
        let clock =
            (info.flags & cryptoki_sys::CKF_CLOCK_ON_TOKEN != 0).then(|| padded(&info.utcTime));
        Self {
            label: padded(&info.label),
            manufacturer: padded(&info.manufacturerID),
            model: padded(&info.model),
            serial: padded(&info.serialNumber),
            flags: info.flags,
            clock,
        }
    }
}

impl Raw {
    /// `C_GetTokenInfo` without cryptoki's decoding.
    #[allow(clippy::unnecessary_fallible_conversions)]
    pub fn token_info(&self, slot: u64) -> Result<RawToken, CK_RV> {
        let Some(call) = self.get_token_info else {
            return Err(CK_RV::MAX);
        };
        let slot = CK_SLOT_ID::try_from(slot).map_err(|_| CK_RV::MAX)?;
        // SAFETY: CK_TOKEN_INFO is plain data (arrays and integers): all zeros is a valid
        // value, and the call writes at most its size.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        let rv = unsafe { call(slot, &mut info) };
        if rv != CKR_OK {
            return Err(rv);
        }
        Ok(RawToken::from_info(&info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<const N: usize>(s: &str, pad: u8) -> [u8; N] {
        let mut a = [pad; N];
        a[..s.len()].copy_from_slice(s.as_bytes());
        a
    }

    #[test]
    fn a_token_whose_clock_cryptoki_cannot_parse_is_still_read() {
        // What opencryptoki 3.8's soft token answers: NUL padding, CKF_CLOCK_ON_TOKEN, and a
        // clock of "HH:MM:SS" where PKCS#11 asks for YYYYMMDDhhmmss00.
        // SAFETY: plain data, all zeros is valid.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        info.label = field("occ-test", b' ');
        info.manufacturerID = field("IBM Corp.", b' ');
        info.model = field("IBM SoftTok", b'\0');
        info.serialNumber = field("123", b' ');
        info.flags = cryptoki_sys::CKF_TOKEN_INITIALIZED
            | cryptoki_sys::CKF_CLOCK_ON_TOKEN
            | cryptoki_sys::CKF_LOGIN_REQUIRED;
        info.utcTime = field("18:19:14", b'\0');
        let e = cryptoki::slot::TokenInfo::try_from(info).unwrap_err();
        assert!(
            e.to_string().contains("parsing"),
            "cryptoki refuses it: {e}"
        );
        let t = RawToken::from_info(&info);
        assert_eq!(
            (
                t.label.as_str(),
                t.manufacturer.as_str(),
                t.model.as_str(),
                t.serial.as_str()
            ),
            ("occ-test", "IBM Corp.", "IBM SoftTok", "123")
        );
        assert_eq!(t.clock.as_deref(), Some("18:19:14"));
        assert_ne!(t.flags & cryptoki_sys::CKF_TOKEN_INITIALIZED, 0);
    }
}
