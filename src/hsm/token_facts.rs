//! A token's information as tdekey shows it, from cryptoki's decoding or read raw.

/// A PKCS#11 string without its blank or NUL padding.
pub(super) fn unpad(s: &str) -> String {
    s.trim_matches([' ', '\0']).to_owned()
}

/// A token's information, from cryptoki or read raw.
pub(super) struct TokenFacts {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: u64,
}

impl TokenFacts {
    pub(super) fn of(ti: &cryptoki::slot::TokenInfo) -> Self {
        use cryptoki_sys as sys;
        let mut flags: u64 = 0;
        for (set, f) in [
            (ti.token_initialized(), sys::CKF_TOKEN_INITIALIZED),
            (ti.user_pin_initialized(), sys::CKF_USER_PIN_INITIALIZED),
            (ti.login_required(), sys::CKF_LOGIN_REQUIRED),
            (ti.rng(), sys::CKF_RNG),
            (ti.write_protected(), sys::CKF_WRITE_PROTECTED),
            (
                ti.protected_authentication_path(),
                sys::CKF_PROTECTED_AUTHENTICATION_PATH,
            ),
            (ti.user_pin_count_low(), sys::CKF_USER_PIN_COUNT_LOW),
            (ti.user_pin_final_try(), sys::CKF_USER_PIN_FINAL_TRY),
            (ti.user_pin_locked(), sys::CKF_USER_PIN_LOCKED),
            (ti.user_pin_to_be_changed(), sys::CKF_USER_PIN_TO_BE_CHANGED),
            (ti.so_pin_locked(), sys::CKF_SO_PIN_LOCKED),
            (ti.error_state(), sys::CKF_ERROR_STATE),
        ] {
            if set {
                flags |= super::wide(f);
            }
        }
        Self {
            label: ti.label().trim_end_matches([' ', '\0']).to_owned(),
            manufacturer: unpad(ti.manufacturer_id()),
            model: unpad(ti.model()),
            serial: unpad(ti.serial_number()),
            flags,
        }
    }

    pub(super) fn raw(t: &super::raw::RawToken) -> Self {
        Self {
            label: t.label.clone(),
            manufacturer: t.manufacturer.clone(),
            model: t.model.clone(),
            serial: t.serial.clone(),
            flags: super::wide(t.flags),
        }
    }

    /// The flags that are set, by their PKCS#11 names without the CKF_ prefix.
    pub(super) fn flag_names(&self) -> Vec<&'static str> {
        use cryptoki_sys as sys;
        [
            (sys::CKF_TOKEN_INITIALIZED, "TOKEN_INITIALIZED"),
            (sys::CKF_USER_PIN_INITIALIZED, "USER_PIN_INITIALIZED"),
            (sys::CKF_LOGIN_REQUIRED, "LOGIN_REQUIRED"),
            (sys::CKF_RNG, "RNG"),
            (sys::CKF_WRITE_PROTECTED, "WRITE_PROTECTED"),
            (
                sys::CKF_PROTECTED_AUTHENTICATION_PATH,
                "PROTECTED_AUTHENTICATION_PATH",
            ),
            (sys::CKF_USER_PIN_COUNT_LOW, "USER_PIN_COUNT_LOW"),
            (sys::CKF_USER_PIN_FINAL_TRY, "USER_PIN_FINAL_TRY"),
            (sys::CKF_USER_PIN_LOCKED, "USER_PIN_LOCKED"),
            (sys::CKF_USER_PIN_TO_BE_CHANGED, "USER_PIN_TO_BE_CHANGED"),
            (sys::CKF_SO_PIN_LOCKED, "SO_PIN_LOCKED"),
            (sys::CKF_ERROR_STATE, "ERROR_STATE"),
        ]
        .into_iter()
        .filter(|(f, _)| self.flags & super::wide(*f) != 0)
        .map(|(_, n)| n)
        .collect()
    }
}
