//! One object on a token, as an inventory shows it: its attributes, never its value.

use serde::Serialize;

/// Boolean attributes; `None` where the token does not report the attribute for this object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObjectFlags {
    pub token: Option<bool>,
    pub private: Option<bool>,
    pub modifiable: Option<bool>,
    pub destroyable: Option<bool>,
    pub sensitive: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub extractable: Option<bool>,
    pub never_extractable: Option<bool>,
    pub local: Option<bool>,
    pub encrypt: Option<bool>,
    pub decrypt: Option<bool>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    pub sign: Option<bool>,
    pub verify: Option<bool>,
    pub derive: Option<bool>,
}

impl ObjectFlags {
    /// (PKCS#11 attribute name, value) for every flag, in table order.
    pub fn named(&self) -> [(&'static str, Option<bool>); 16] {
        [
            ("CKA_TOKEN", self.token),
            ("CKA_PRIVATE", self.private),
            ("CKA_SENSITIVE", self.sensitive),
            ("CKA_ALWAYS_SENSITIVE", self.always_sensitive),
            ("CKA_EXTRACTABLE", self.extractable),
            ("CKA_NEVER_EXTRACTABLE", self.never_extractable),
            ("CKA_LOCAL", self.local),
            ("CKA_ENCRYPT", self.encrypt),
            ("CKA_DECRYPT", self.decrypt),
            ("CKA_WRAP", self.wrap),
            ("CKA_UNWRAP", self.unwrap),
            ("CKA_SIGN", self.sign),
            ("CKA_VERIFY", self.verify),
            ("CKA_DERIVE", self.derive),
            ("CKA_MODIFIABLE", self.modifiable),
            ("CKA_DESTROYABLE", self.destroyable),
        ]
    }
}

/// An object's attributes (never its value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    /// The session's object handle (valid only in the session that listed it).
    pub handle: u64,
    /// `CKO_SECRET_KEY`, `CKO_DATA`, …
    pub class: String,
    /// `CKK_AES`, `CKK_GENERIC_SECRET`, …; absent for objects that are not keys.
    pub key_type: Option<String>,
    /// CKA_LABEL as text (invalid UTF-8 replaced).
    pub label: String,
    /// CKA_ID in upper-case hex ("" when empty).
    pub id_hex: String,
    /// CKA_VALUE_LEN in bytes.
    pub value_len: Option<u64>,
    pub flags: ObjectFlags,
    pub key_gen_mechanism: Option<String>,
    /// CKA_CHECK_VALUE (key check value) in hex.
    pub check_value_hex: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// CKA_APPLICATION of data objects.
    pub application: Option<String>,
    /// CKA_OBJECT_ID of data objects, hex.
    pub object_id_hex: Option<String>,
    /// Set when the token lists the object but its attributes could not be read: which call
    /// failed and its CKR_ code. Every other field is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

impl ObjectInfo {
    pub fn is_secret_key(&self) -> bool {
        self.class == "CKO_SECRET_KEY"
    }

    /// Every attribute as (name, text), for a details pane.
    pub fn attribute_rows(&self) -> Vec<(&'static str, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
        let mut rows = vec![
            ("Object handle", self.handle.to_string()),
            ("CKA_CLASS", self.class.clone()),
            ("CKA_KEY_TYPE", opt(&self.key_type)),
            ("CKA_LABEL", self.label.clone()),
            (
                "CKA_ID",
                if self.id_hex.is_empty() {
                    "(empty)".to_owned()
                } else {
                    self.id_hex.clone()
                },
            ),
            (
                "CKA_VALUE_LEN",
                self.value_len
                    .map_or("—".to_owned(), |n| format!("{n} bytes ({} bits)", n * 8)),
            ),
        ];
        for (name, v) in self.flags.named() {
            rows.push((name, bool_text(v).to_owned()));
        }
        rows.extend([
            ("CKA_KEY_GEN_MECHANISM", opt(&self.key_gen_mechanism)),
            ("CKA_CHECK_VALUE", opt(&self.check_value_hex)),
            ("CKA_START_DATE", opt(&self.start_date)),
            ("CKA_END_DATE", opt(&self.end_date)),
            ("CKA_APPLICATION", opt(&self.application)),
            ("CKA_OBJECT_ID", opt(&self.object_id_hex)),
        ]);
        rows
    }
}

pub fn bool_text(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}
