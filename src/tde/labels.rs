//! Labels of the objects Oracle (and tdekey) write to an HSM, and the key ids inside them.

use base64::Engine as _;

/// Prefix of an HSM master key label; `06` and 32 upper-case hex digits follow.
pub const MASTER_KEY_PREFIX: &str = "ORACLE.TDE.HSM.MK.";
/// Prefix of Oracle's key-metadata data object; the hex of the ASCII key id follows.
pub const KEY_METADATA_PREFIX: &str = "ORACLE.SECURITY.KM.ENCRYPTION.";
/// Prefix of an 11g tablespace master key; 38 hex digits follow.
pub const LEGACY_TABLESPACE_PREFIX: &str = "ORACLE.TSE.HSM.MK.";
/// Data object Oracle creates the first time it opens an HSM keystore.
pub const SUPPORTED_IDEN: &str = "DATA_OBJECT_SUPPORTED_IDEN";
/// tdekey's own HMAC key for audit-log checkpoints.
pub const AUDIT_HMAC_LABEL: &str = "TDEKEY.AUDIT.HMAC";

/// A 16-byte Oracle master key id (ordered by its bytes, for maps keyed by key id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasterKeyId(pub [u8; 16]);

impl MasterKeyId {
    /// The 34 hex digits Oracle uses in `USE KEY '<id>'` and after `ORACLE.TDE.HSM.MK.`.
    pub fn use_key_id(&self) -> String {
        format!("06{}", hex::encode_upper(self.0))
    }

    /// `ORACLE.TDE.HSM.MK.06…`
    pub fn hsm_label(&self) -> String {
        format!("{MASTER_KEY_PREFIX}{}", self.use_key_id())
    }

    /// `RAWTOHEX(MASTERKEYID)` as V$DATABASE_KEY_INFO shows it.
    pub fn raw_hex(&self) -> String {
        hex::encode_upper(self.0)
    }
}

/// What a label tells about the object that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelMeaning {
    /// `ORACLE.TDE.HSM.MK.06<32 hex>`: a TDE master key.
    MasterKey(MasterKeyId),
    /// Starts like a master key label but is not one; the reason says what is wrong.
    MalformedMasterKey(String),
    /// `ORACLE.SECURITY.KM.ENCRYPTION.<hex>`: Oracle's key metadata; the decoded ASCII key id
    /// and, when that id is a V$ENCRYPTION_KEYS-style base64 id, the master key it names.
    KeyMetadata {
        key_id: String,
        master_key: Option<MasterKeyId>,
    },
    /// Starts like key metadata but the rest is not hex of ASCII text.
    MalformedKeyMetadata(String),
    /// `DATA_OBJECT_SUPPORTED_IDEN`.
    SupportedIden,
    /// `ORACLE.TSE.HSM.MK.<38 hex>`: an 11g tablespace master key.
    LegacyTablespaceKey(String),
    /// `TDEKEY.AUDIT.HMAC`.
    AuditHmacKey,
    /// Anything else.
    Other,
}

impl LabelMeaning {
    /// A short category name for tables and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            LabelMeaning::MasterKey(_) => "tde-master-key",
            LabelMeaning::MalformedMasterKey(_) => "malformed-tde-master-key",
            LabelMeaning::KeyMetadata { .. } => "oracle-key-metadata",
            LabelMeaning::MalformedKeyMetadata(_) => "malformed-oracle-key-metadata",
            LabelMeaning::SupportedIden => "oracle-supported-iden",
            LabelMeaning::LegacyTablespaceKey(_) => "legacy-tablespace-master-key",
            LabelMeaning::AuditHmacKey => "tdekey-audit-hmac-key",
            LabelMeaning::Other => "other",
        }
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        match self {
            LabelMeaning::MasterKey(id) => format!("TDE master key, key id {}", id.use_key_id()),
            LabelMeaning::MalformedMasterKey(why) => {
                format!("Malformed TDE master key label: {why}")
            }
            LabelMeaning::KeyMetadata {
                key_id,
                master_key: Some(mk),
            } if *key_id == mk.use_key_id() => {
                format!("Oracle key metadata for master key {key_id}")
            }
            LabelMeaning::KeyMetadata {
                key_id,
                master_key: Some(mk),
            } => format!(
                "Oracle key metadata for key id {key_id} (master key {})",
                mk.use_key_id()
            ),
            LabelMeaning::KeyMetadata {
                key_id,
                master_key: None,
            } => format!("Oracle key metadata for key id {key_id}"),
            LabelMeaning::MalformedKeyMetadata(why) => {
                format!("Malformed Oracle key metadata label: {why}")
            }
            LabelMeaning::SupportedIden => {
                "Oracle keystore marker (V$ENCRYPTION_KEYS depends on it)".to_owned()
            }
            LabelMeaning::LegacyTablespaceKey(hex) => {
                format!("Legacy 11g tablespace master key {hex}")
            }
            LabelMeaning::AuditHmacKey => "tdekey audit-log checkpoint key".to_owned(),
            LabelMeaning::Other => "Not an Oracle TDE object".to_owned(),
        }
    }

    /// The master key id this object belongs to, if any.
    pub fn master_key(&self) -> Option<MasterKeyId> {
        match self {
            LabelMeaning::MasterKey(id) => Some(*id),
            LabelMeaning::KeyMetadata { master_key, .. } => *master_key,
            _ => None,
        }
    }
}

/// Reads a label.
pub fn classify(label: &str) -> LabelMeaning {
    if let Some(rest) = label.strip_prefix(MASTER_KEY_PREFIX) {
        return match parse_use_key_id(rest) {
            Ok(id) => LabelMeaning::MasterKey(id),
            Err(why) => LabelMeaning::MalformedMasterKey(why),
        };
    }
    if let Some(rest) = label.strip_prefix(KEY_METADATA_PREFIX) {
        return match hex::decode(rest) {
            Ok(bytes) if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic()) => {
                let key_id = String::from_utf8_lossy(&bytes).into_owned();
                let master_key = parse_key_id(&key_id).ok().map(|(_, id)| id);
                LabelMeaning::KeyMetadata { key_id, master_key }
            }
            Ok(_) => LabelMeaning::MalformedKeyMetadata(
                "the hex after the prefix does not decode to printable ASCII".to_owned(),
            ),
            Err(_) => LabelMeaning::MalformedKeyMetadata(format!(
                "expected hex digits after {KEY_METADATA_PREFIX}, found {rest:?}"
            )),
        };
    }
    if label == SUPPORTED_IDEN {
        return LabelMeaning::SupportedIden;
    }
    if let Some(rest) = label.strip_prefix(LEGACY_TABLESPACE_PREFIX)
        && rest.len() == 38
        && rest.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return LabelMeaning::LegacyTablespaceKey(rest.to_owned());
    }
    if label == AUDIT_HMAC_LABEL {
        return LabelMeaning::AuditHmacKey;
    }
    LabelMeaning::Other
}

/// Parses the 34 hex digits of `USE KEY '<id>'`: `06` then the 16-byte id, upper case.
pub fn parse_use_key_id(s: &str) -> Result<MasterKeyId, String> {
    if s.len() != 34 {
        return Err(format!(
            "expected 34 hex digits (06 and a 16-byte key id), found {} characters",
            s.chars().count()
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("expected only hex digits, found {s:?}"));
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err("hex digits must be upper case, as Oracle writes them".to_owned());
    }
    if !s.starts_with("06") {
        return Err(format!(
            "expected the id to start with 06, found {}",
            &s[..2]
        ));
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(&s[2..], &mut id).map_err(|e| e.to_string())?;
    Ok(MasterKeyId(id))
}

/// Byte 0 of a software keystore's key id (its base64 KEY_ID starts with `A`).
pub const SOFTWARE_KEYSTORE: u8 = 0x01;
/// Byte 0 of an HSM key id: the `06` of `ORACLE.TDE.HSM.MK.06…`.
pub const HSM_KEYSTORE: u8 = 0x06;

/// Parses a `V$ENCRYPTION_KEYS.KEY_ID` in either of the forms Oracle uses and returns the
/// keystore byte (0x01 software, 0x06 HSM) and the 16-byte master key id:
///
/// - a software keystore's key: 52 characters of base64 (byte 0 = 0x01, then the 16-byte id,
///   then zero padding), as every published V$ENCRYPTION_KEYS output shows;
/// - an HSM key: the 34 hex digits `06<32 hex>`, the text after `ORACLE.TDE.HSM.MK.` in its
///   label and the text `USE KEY` takes (Oracle's SQL Reference: "query the KEY_ID column of
///   V$ENCRYPTION_KEYS" for USE KEY; the AWS procedure's `USE KEY '0615A5…'`).
///
/// No published output shows an HSM row of V$ENCRYPTION_KEYS directly, so both forms are read
/// for either keystore (a base64 id whose byte 0 is 0x06 is an HSM key too), lower-case hex as
/// well, and keys are compared on their 16-byte id ([`same_key`]), never on the text.
pub fn parse_key_id(s: &str) -> Result<(u8, MasterKeyId), String> {
    let s = s.trim();
    if s.len() == 34 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let up = s.to_ascii_uppercase();
        return parse_use_key_id(&up).map(|id| (HSM_KEYSTORE, id));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| {
            format!("the key id is neither 34 hex digits (06 and a 16-byte id) nor base64 ({e})")
        })?;
    if bytes.len() < 17 {
        return Err(format!(
            "the key id decodes to {} bytes; Oracle's key ids hold at least 17",
            bytes.len()
        ));
    }
    if bytes[17..].iter().any(|b| *b != 0) {
        return Err("bytes after the 16-byte master key id are not zero padding".to_owned());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[1..17]);
    Ok((bytes[0], MasterKeyId(id)))
}

/// Whether two KEY_ID texts name the same master key (the same 16-byte id, whichever form
/// each is written in). Texts that do not parse are compared as they are.
pub fn same_key(a: &str, b: &str) -> bool {
    match (parse_key_id(a), parse_key_id(b)) {
        (Ok((_, x)), Ok((_, y))) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// The KEY_ID Oracle shows for an HSM master key: the 34 hex digits `06<32 hex>`.
pub fn hsm_key_id(id: &MasterKeyId) -> String {
    id.use_key_id()
}

/// Formats a `V$ENCRYPTION_KEYS.KEY_ID` the way Oracle does: keystore byte, 16-byte id, zero
/// padding to 39 bytes (52 base64 characters).
pub fn format_key_id(keystore: u8, id: &MasterKeyId) -> String {
    let mut bytes = [0u8; 39];
    bytes[0] = keystore;
    bytes[1..17].copy_from_slice(&id.0);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The label of Oracle's key-metadata object for an ASCII key id: for an HSM key's 34-digit id,
/// 30 + 68 = 98 characters (well under CloudHSM's 127).
pub fn key_metadata_label(key_id: &str) -> String {
    format!(
        "{KEY_METADATA_PREFIX}{}",
        hex::encode_upper(key_id.as_bytes())
    )
}

/// Prefix of a master key's entry in a software keystore (`ewallet.p12`, `cwallet.sso`): the
/// V$ENCRYPTION_KEYS KEY_ID of the key follows (reference/oracle-tde.md, "Wallet entry names";
/// tests/fixtures/oracle/software-wallet-entries/).
pub const WALLET_MASTER_KEY_PREFIX: &str = "ORACLE.SECURITY.DB.ENCRYPTION.";
/// The entry that names a software keystore's current master key (`MASTERKEY`, or
/// `MASTERKEY.<PDB GUID>` for a PDB's): it holds no key of its own.
pub const WALLET_CURRENT_KEY_ENTRY: &str = "MASTERKEY";

/// Reads `V$DATABASE_KEY_INFO.MASTERKEYID` or `V$ENCRYPTED_TABLESPACES.MASTERKEYID`.
///
/// Both columns are RAW(16) (Oracle Database Reference 12.2 to 23ai): SQL*Plus prints a RAW as
/// its hex digits, upper case, 32 of them, which is also what `RAWTOHEX(MASTERKEYID)` returns.
/// Oracle's own diagnostic scripts (MOS 1541818.1, as copied in public repositories) turn the
/// id into the KEY_ID form instead (`'01' || RAWTOHEX(mkid)` in base64), so a paste may hold
/// that form: the 34 hex digits `06…` and the base64 KEY_ID are read too. Lower-case hex is
/// read (a `LOWER()` or another client's display). An all-zero id means "no master key"
/// (unverified: a database key not yet wrapped by any master key, MASTERKEY_ACTIVATED NO) and
/// reads as `Ok(None)`.
pub fn parse_masterkeyid(s: &str) -> Result<Option<MasterKeyId>, String> {
    let t = s.trim();
    if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut id = [0u8; 16];
        hex::decode_to_slice(t, &mut id).map_err(|e| e.to_string())?;
        return Ok((id != [0u8; 16]).then_some(MasterKeyId(id)));
    }
    match parse_key_id(t) {
        Ok((_, id)) => Ok((id.0 != [0u8; 16]).then_some(id)),
        Err(_) => Err(format!(
            "expected the 32 hex digits of a RAW(16) master key id, found {:?}",
            t.chars().take(60).collect::<String>()
        )),
    }
}

impl MasterKeyId {
    /// The KEY_ID V$ENCRYPTION_KEYS shows for this key in a software keystore: 52 characters
    /// of base64 starting with `A` (byte 0x01, the id, zero padding).
    pub fn software_key_id(&self) -> String {
        format_key_id(SOFTWARE_KEYSTORE, self)
    }

    /// The KEY_ID V$ENCRYPTION_KEYS shows for this key in the keystore `keystore` (0x01
    /// software, 0x06 HSM): base64 for a software keystore, the 34 hex digits for an HSM.
    pub fn key_id_in(&self, keystore: u8) -> String {
        if keystore == HSM_KEYSTORE {
            self.use_key_id()
        } else {
            format_key_id(keystore, self)
        }
    }

    /// The name of this key's entry in a software keystore (`ewallet.p12`):
    /// `ORACLE.SECURITY.DB.ENCRYPTION.` and its software KEY_ID.
    pub fn wallet_entry_name(&self) -> String {
        format!("{WALLET_MASTER_KEY_PREFIX}{}", self.software_key_id())
    }

    /// Every name this one key goes by, for a report and for matching across sources.
    pub fn forms(&self) -> KeyForms {
        KeyForms {
            masterkeyid: self.raw_hex(),
            hsm_key_id: self.use_key_id(),
            software_key_id: self.software_key_id(),
            hsm_label: self.hsm_label(),
            hsm_metadata_label: key_metadata_label(&self.use_key_id()),
            wallet_entry: self.wallet_entry_name(),
        }
    }
}

/// The names of one master key in each place it can appear.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyForms {
    /// `RAWTOHEX(MASTERKEYID)`: V$DATABASE_KEY_INFO, V$ENCRYPTED_TABLESPACES (32 hex).
    pub masterkeyid: String,
    /// V$ENCRYPTION_KEYS.KEY_ID of an HSM key and the id `USE KEY` takes (34 hex, `06…`).
    pub hsm_key_id: String,
    /// V$ENCRYPTION_KEYS.KEY_ID of a software keystore's key (52 base64, `A…`).
    pub software_key_id: String,
    /// The HSM object `ORACLE.TDE.HSM.MK.06…`.
    pub hsm_label: String,
    /// Oracle's key-metadata data object beside it on the HSM.
    pub hsm_metadata_label: String,
    /// The entry `ORACLE.SECURITY.DB.ENCRYPTION.<software KEY_ID>` of `ewallet.p12`.
    pub wallet_entry: String,
}

/// The master key a software keystore entry holds: `ORACLE.SECURITY.DB.ENCRYPTION.<KEY_ID>`.
/// `None` for the `MASTERKEY[.<GUID>]` pointer entry and for any other entry.
pub fn wallet_entry_master_key(name: &str) -> Option<MasterKeyId> {
    let rest = name.strip_prefix(WALLET_MASTER_KEY_PREFIX)?;
    if rest == WALLET_CURRENT_KEY_ENTRY || rest.starts_with("MASTERKEY.") {
        return None;
    }
    parse_key_id(rest).ok().map(|(_, id)| id)
}

/// The master key any of its names denotes: an HSM label (`ORACLE.TDE.HSM.MK.06…`), Oracle's
/// key-metadata label, a wallet entry name, a KEY_ID in either form, or a MASTERKEYID. `None`
/// for text that names no master key.
pub fn master_key_of(text: &str) -> Option<MasterKeyId> {
    let t = text.trim();
    if t.starts_with(MASTER_KEY_PREFIX) || t.starts_with(KEY_METADATA_PREFIX) {
        return classify(t).master_key();
    }
    if t.starts_with(WALLET_MASTER_KEY_PREFIX) {
        return wallet_entry_master_key(t);
    }
    parse_masterkeyid(t).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "ORACLE.TDE.HSM.MK.0615A5142C9E2D3C2F18FD435814257DFD";

    #[test]
    fn reads_the_reference_example() {
        let m = classify(EXAMPLE);
        let LabelMeaning::MasterKey(id) = m else {
            panic!("not a master key: {m:?}")
        };
        assert_eq!(id.use_key_id(), "0615A5142C9E2D3C2F18FD435814257DFD");
        assert_eq!(id.raw_hex(), "15A5142C9E2D3C2F18FD435814257DFD");
        assert_eq!(id.hsm_label(), EXAMPLE);
    }

    #[test]
    fn malformed_master_key_labels_say_why() {
        for (label, needle) in [
            ("ORACLE.TDE.HSM.MK.", "34 hex digits"),
            (
                "ORACLE.TDE.HSM.MK.0615A5142C9E2D3C2F18FD435814257D",
                "34 hex digits",
            ),
            (
                "ORACLE.TDE.HSM.MK.0615a5142c9e2d3c2f18fd435814257dfd",
                "upper case",
            ),
            (
                "ORACLE.TDE.HSM.MK.0715A5142C9E2D3C2F18FD435814257DFD",
                "start with 06",
            ),
            (
                "ORACLE.TDE.HSM.MK.06ZZA5142C9E2D3C2F18FD435814257DFD",
                "only hex",
            ),
        ] {
            match classify(label) {
                LabelMeaning::MalformedMasterKey(why) => {
                    assert!(why.contains(needle), "{label}: {why}")
                }
                other => panic!("{label}: {other:?}"),
            }
        }
    }

    #[test]
    fn key_id_round_trips_and_links_metadata_to_its_master_key() {
        let id = MasterKeyId([0xAB; 16]);
        let kid = format_key_id(0x06, &id);
        assert_eq!(kid.len(), 52);
        assert_eq!(parse_key_id(&kid).unwrap(), (0x06, id));
        let sw = format_key_id(0x01, &id);
        assert!(sw.starts_with('A'), "software key ids start with A: {sw}");

        let label = key_metadata_label(&kid);
        match classify(&label) {
            LabelMeaning::KeyMetadata { key_id, master_key } => {
                assert_eq!(key_id, kid);
                assert_eq!(master_key, Some(id));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hsm_key_ids_read_in_both_forms_and_compare_on_their_id() {
        let id = MasterKeyId([0x15; 16]);
        let hex = hsm_key_id(&id);
        assert_eq!(hex.len(), 34);
        assert!(hex.starts_with("06"));
        assert_eq!(parse_key_id(&hex).unwrap(), (HSM_KEYSTORE, id));
        assert_eq!(
            parse_key_id(&hex.to_ascii_lowercase()).unwrap(),
            (HSM_KEYSTORE, id)
        );
        let b64 = format_key_id(HSM_KEYSTORE, &id);
        assert!(same_key(&hex, &b64));
        assert!(same_key(&hex, &format_key_id(SOFTWARE_KEYSTORE, &id)));
        assert!(!same_key(&hex, &hsm_key_id(&MasterKeyId([0x16; 16]))));
        // 34 hex digits that do not start with 06 are not a key id.
        assert!(parse_key_id(&format!("07{}", "1".repeat(32))).is_err());
    }

    #[test]
    fn the_metadata_label_of_the_reference_example_is_98_characters() {
        // reference/oracle-tde.md: seen in two independent public sources.
        let label = key_metadata_label("069F37D091A73D4F13BF2CE921EB2CF080");
        assert_eq!(
            label,
            "ORACLE.SECURITY.KM.ENCRYPTION.30363946333744303931413733443446313342463243453932314542324346303830"
        );
        assert_eq!(label.len(), 98);
        match classify(&label) {
            LabelMeaning::KeyMetadata { key_id, master_key } => {
                assert_eq!(key_id, "069F37D091A73D4F13BF2CE921EB2CF080");
                assert_eq!(
                    master_key.map(|m| m.hsm_label()).as_deref(),
                    Some("ORACLE.TDE.HSM.MK.069F37D091A73D4F13BF2CE921EB2CF080")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_oracle_objects() {
        assert_eq!(classify(SUPPORTED_IDEN), LabelMeaning::SupportedIden);
        let legacy = format!("{LEGACY_TABLESPACE_PREFIX}{}", "A1".repeat(19));
        assert!(matches!(
            classify(&legacy),
            LabelMeaning::LegacyTablespaceKey(_)
        ));
        assert_eq!(classify(AUDIT_HMAC_LABEL), LabelMeaning::AuditHmacKey);
        assert_eq!(classify("my-app-key"), LabelMeaning::Other);
        assert!(matches!(
            classify("ORACLE.SECURITY.KM.ENCRYPTION.XYZ"),
            LabelMeaning::MalformedKeyMetadata(_)
        ));
        assert!(parse_key_id("not base64!").is_err());
        assert!(parse_key_id("AQID").is_err());
    }
    /// Real ids from the fixtures: the software KEY_ID of a 12.1 output
    /// (tests/fixtures/oracle/keys/12.1-software-keys-3-rows-backed-up-tabs.txt) and an HSM label
    /// on a Luna HSM (tests/fixtures/oracle/hsm-objects/), each through every form and back.
    #[test]
    fn every_form_of_a_real_key_leads_back_to_it() {
        let (ks, sw) =
            parse_key_id("AWeotlcyUk+tv7GiOqqILFAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(ks, SOFTWARE_KEYSTORE);
        assert_eq!(sw.raw_hex(), "67A8B65732524FADBFB1A23AAA882C50");
        let LabelMeaning::MasterKey(hsm) =
            classify("ORACLE.TDE.HSM.MK.0699468E1DC88E4F27BF426176B94D4907")
        else {
            panic!("the Luna label is a master key")
        };
        for id in [sw, hsm] {
            let f = id.forms();
            assert_eq!(f.masterkeyid.len(), 32);
            assert_eq!(f.software_key_id.len(), 52);
            assert_eq!(f.hsm_metadata_label.len(), 98);
            for text in [
                &f.masterkeyid,
                &f.masterkeyid.to_ascii_lowercase(),
                &f.hsm_key_id,
                &f.software_key_id,
                &f.hsm_label,
                &f.hsm_metadata_label,
                &f.wallet_entry,
            ] {
                assert_eq!(master_key_of(text), Some(id), "{text}");
            }
            assert_eq!(parse_masterkeyid(&f.masterkeyid), Ok(Some(id)));
            assert_eq!(wallet_entry_master_key(&f.wallet_entry), Some(id));
            assert_eq!(id.key_id_in(HSM_KEYSTORE), f.hsm_key_id);
            assert_eq!(id.key_id_in(SOFTWARE_KEYSTORE), f.software_key_id);
            assert!(same_key(&f.hsm_key_id, &f.software_key_id));
        }
        assert_eq!(hsm.forms().masterkeyid, "99468E1DC88E4F27BF426176B94D4907");
    }

    #[test]
    fn masterkeyid_refusals_and_the_zero_id() {
        assert_eq!(parse_masterkeyid(&"0".repeat(32)), Ok(None));
        assert_eq!(
            parse_masterkeyid(&format!("06{}", "0".repeat(32))),
            Ok(None)
        );
        for bad in ["", "XYZ", &"A".repeat(31), &"G".repeat(32), "not base64!"] {
            let e = parse_masterkeyid(bad).unwrap_err();
            assert!(e.contains("32 hex digits"), "{bad}: {e}");
        }
        // The pointer entry and other entries hold no key.
        assert_eq!(
            wallet_entry_master_key("ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY"),
            None
        );
        assert_eq!(
            wallet_entry_master_key(
                "ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY.0123456789ABCDEF0123456789ABCDEF"
            ),
            None
        );
        assert_eq!(
            wallet_entry_master_key("ORACLE.SECURITY.ID.ENCRYPTION."),
            None
        );
        assert_eq!(master_key_of("DATA_OBJECT_SUPPORTED_IDEN"), None);
        assert_eq!(master_key_of("ORACLE.TDE.HSM.MK.06"), None);
    }
}
