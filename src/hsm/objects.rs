//! One object on the token, as the inventory shows it. Values of keys are never read: the
//! attribute list below holds no CKA_VALUE.

use super::HsmError;
use crate::model::ObjectInfo;
use cryptoki::object::{Attribute, AttributeType};

/// The attributes the inventory reads, in one C_GetAttributeValue round per object.
pub const INVENTORY_ATTRIBUTES: &[AttributeType] = &[
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::Label,
    AttributeType::Id,
    AttributeType::ValueLen,
    AttributeType::Token,
    AttributeType::Private,
    AttributeType::Modifiable,
    AttributeType::Destroyable,
    AttributeType::Sensitive,
    AttributeType::AlwaysSensitive,
    AttributeType::Extractable,
    AttributeType::NeverExtractable,
    AttributeType::Local,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Sign,
    AttributeType::Verify,
    AttributeType::Derive,
    AttributeType::KeyGenMechanism,
    AttributeType::CheckValue,
    AttributeType::StartDate,
    AttributeType::EndDate,
    AttributeType::Application,
    AttributeType::ObjectId,
];

fn date(d: &cryptoki::types::Date) -> Option<String> {
    if d.is_empty() {
        None
    } else {
        Some(d.to_string())
    }
}

/// Reads the attributes of one object (never its value) into an [`ObjectInfo`].
pub(crate) fn object_info(handle: u64, attributes: Vec<Attribute>) -> ObjectInfo {
    let mut o = ObjectInfo {
        handle,
        ..Default::default()
    };
    for a in attributes {
        match a {
            Attribute::Class(c) => o.class = c.to_string(),
            Attribute::KeyType(k) => o.key_type = Some(k.to_string()),
            Attribute::Label(l) => o.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(id) => o.id_hex = hex::encode_upper(id),
            Attribute::ValueLen(n) => o.value_len = Some(super::wide(*n)),
            Attribute::Token(b) => o.flags.token = Some(b),
            Attribute::Private(b) => o.flags.private = Some(b),
            Attribute::Modifiable(b) => o.flags.modifiable = Some(b),
            Attribute::Destroyable(b) => o.flags.destroyable = Some(b),
            Attribute::Sensitive(b) => o.flags.sensitive = Some(b),
            Attribute::AlwaysSensitive(b) => o.flags.always_sensitive = Some(b),
            Attribute::Extractable(b) => o.flags.extractable = Some(b),
            Attribute::NeverExtractable(b) => o.flags.never_extractable = Some(b),
            Attribute::Local(b) => o.flags.local = Some(b),
            Attribute::Encrypt(b) => o.flags.encrypt = Some(b),
            Attribute::Decrypt(b) => o.flags.decrypt = Some(b),
            Attribute::Wrap(b) => o.flags.wrap = Some(b),
            Attribute::Unwrap(b) => o.flags.unwrap = Some(b),
            Attribute::Sign(b) => o.flags.sign = Some(b),
            Attribute::Verify(b) => o.flags.verify = Some(b),
            Attribute::Derive(b) => o.flags.derive = Some(b),
            Attribute::KeyGenMechanism(m) => o.key_gen_mechanism = Some(m.to_string()),
            Attribute::CheckValue(v) if !v.is_empty() => {
                o.check_value_hex = Some(hex::encode_upper(v))
            }
            Attribute::StartDate(d) => o.start_date = date(&d),
            Attribute::EndDate(d) => o.end_date = date(&d),
            Attribute::Application(v) if !v.is_empty() => {
                o.application = Some(String::from_utf8_lossy(&v).into_owned())
            }
            Attribute::ObjectId(v) if !v.is_empty() => o.object_id_hex = Some(hex::encode_upper(v)),
            _ => {}
        }
    }
    o
}

/// An object the token lists but whose attributes it will not give (a process killed inside
/// `C_GenerateKey` or `C_CreateObject` can leave one): kept, with what failed, so that one
/// such object does not hide every other. A lost session or login, or a busy HSM, is not about
/// the object: that error is returned.
pub(crate) fn unreadable(handle: u64, e: HsmError) -> Result<ObjectInfo, HsmError> {
    match e {
        HsmError::Pkcs11 { what, ckr } => Ok(ObjectInfo {
            handle,
            unreadable: Some(format!("{what}: {ckr}")),
            ..Default::default()
        }),
        other => Err(other),
    }
}
