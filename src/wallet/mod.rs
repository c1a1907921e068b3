//! The wallet inspector: what an Oracle wallet (`ewallet.p12`) holds, by entry name, without
//! ever showing or keeping a key value. The MAC is verified before anything is decrypted;
//! iteration counts over 10,000,000 are refused; every decrypted buffer is zeroized.
//!
//! Encryptions Oracle uses: pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12 PBE, `orapki` and
//! `mkstore` up to 21c) and PBES2 (PBKDF2-HMAC-SHA1/SHA256 with AES-128/192/256-CBC, 23ai).
//!
//! Beside the reader: a writer for the same layout ([`write_wallet`], in `write.rs`), the
//! auto-login file `cwallet.sso` ([`sso_kind`], [`open_sso`], [`write_sso`], in `sso.rs`), the
//! comparison of a password wallet with its auto-login copy ([`compare_entries`]) and the
//! WALLET_ROOT report ([`inspect_root`], in `root.rs`).

mod compare;
mod root;
mod sso;
mod write;

pub use compare::compare_entries;
pub use root::{
    AutoLoginFile, FileInfo, FileReport, PdbKeystore, RootLayout, RootReport, inspect_file,
    inspect_root, layout_of, rac_warnings,
};
pub use sso::{
    SsoHeader, SsoKind, current_host_user, is_auto_login, open_sso, open_sso_named, sso_header,
    sso_kind, write_sso,
};
pub use write::{MacDigest, WriteOptions, tde_keystore_entries, write_wallet, write_wallet_with};

use crate::secret::Secret;
use crate::tde::labels::parse_key_id;
use der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode, Encode};
use serde::Serialize;
use zeroize::Zeroizing;

/// Iteration counts above this are refused (a hostile file could ask for years of work).
pub const MAX_ITERATIONS: i32 = 10_000_000;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const ID_SECRET_BAG: ObjectIdentifier = pkcs12::PKCS_12_SECRET_BAG_OID;
const ID_CERT_BAG: ObjectIdentifier = pkcs12::PKCS_12_CERT_BAG_OID;
const ID_PBE_3DES: ObjectIdentifier = pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error(
        "{0} is not a PKCS#12 wallet (it does not decode as one). Point tdekey at ewallet.p12."
    )]
    NotAWallet(String),
    #[error("{0} ends too early: the file is truncated. Restore it from a backup.")]
    Truncated(String),
    #[error(
        "The password is wrong for {0}, or the file was modified (its integrity check fails). Nothing was decrypted."
    )]
    WrongPassword(String),
    #[error("{file} asks for {iterations} iterations; tdekey refuses more than {MAX_ITERATIONS}.")]
    TooManyIterations { file: String, iterations: i64 },
    #[error("{file} uses an encryption tdekey does not read ({what}).")]
    Unsupported { file: String, what: String },
    #[error(
        "{file} has no integrity check (MAC): tdekey will not decrypt a wallet it cannot verify."
    )]
    NoMac { file: String },
    #[error("Cannot read {path}: {detail}.")]
    Io { path: String, detail: String },
    #[error(
        "{0} is not an auto-login wallet (it does not start with Oracle's A1 F8 4E header). Point tdekey at cwallet.sso."
    )]
    NotAutoLogin(String),
    #[error("{file} is an auto-login wallet of a kind tdekey does not read ({what}).")]
    UnsupportedSso { file: String, what: String },
    #[error(
        "{0}: the password stored in the auto-login wallet does not open the wallet inside it (its integrity check fails): the file was modified or damaged. Recreate it from ewallet.p12."
    )]
    SsoDamaged(String),
    #[error(
        "{file} is a local auto-login wallet that does not open for OS user {user} on host {host}: it was created on another host or by another user, or it is damaged (Oracle answers ORA-12578 \"TNS:wallet open failed\" for a copied local wallet). Open it where it was made, or create a new one here from ewallet.p12."
    )]
    LocalElsewhere {
        file: String,
        host: String,
        user: String,
    },
    #[error("Cannot write the wallet: {0}.")]
    CannotWrite(String),
}

/// What an entry is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// `ORACLE.SECURITY.DB.ENCRYPTION.<KEY_ID>`: a master key.
    MasterKey,
    /// `ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY[.<PDB GUID>]`: names the current master key.
    CurrentKeyPointer,
    /// `ORACLE.SECURITY.KM.ENCRYPTION.<KEY_ID>`: key metadata.
    KeyMetadata,
    /// `ORACLE.SECURITY.ID.ENCRYPTION.`
    Identity,
    /// `ORACLE.SECURITY.KB.ENCRYPTION.`
    KeyBag,
    /// `ORACLE.SECURITY.TS.ENCRYPTION.*`: tablespace keys.
    Tablespace,
    /// Anything else (secret-store credentials, …).
    Other,
}

/// One entry of the wallet: its name and what it means, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    /// The V$ENCRYPTION_KEYS-style key id in the name, or (for MASTERKEY entries) the id it
    /// points to.
    pub key_id: Option<String>,
    /// The 16-byte master key id in hex, when the key id decodes.
    pub master_key_id: Option<String>,
    /// For a MASTERKEY entry: the PDB GUID after `MASTERKEY.`, if any.
    pub pdb: Option<String>,
    /// For master keys: whether a MASTERKEY entry names this key as current.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WalletContents {
    pub encryption: String,
    pub mac: String,
    pub iterations: i64,
    pub entries: Vec<Entry>,
    /// Certificates in the wallet (certBags): counted, never listed by value. Added after the
    /// fields above.
    pub certificates: usize,
    /// Other items that are not Oracle secret entries (private keys, CRLs, unknown bags).
    pub other_items: usize,
    /// For a `cwallet.sso`: its header (kind, type byte, version, scheme); `None` for a
    /// PKCS#12 file opened with its password.
    pub auto_login: Option<SsoHeader>,
}

impl WalletContents {
    /// How many TDE master keys (`ORACLE.SECURITY.DB.ENCRYPTION.<KEY_ID>`) the wallet holds.
    pub fn master_keys(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::MasterKey)
            .count()
    }

    /// One line for a person: `2 master keys (1 current)`; for a wallet without any,
    /// `0 master keys: this is not a TDE keystore (10 certificates)` when it holds only
    /// certificates (or private keys), `0 master keys (3 other entries, listed below)` when it
    /// holds secret entries (a keystore that keeps only an HSM password for auto-login has no
    /// master key either), `0 master keys (the wallet is empty)`.
    pub fn summary(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let keys = self.master_keys();
        if keys > 0 {
            let current = self.entries.iter().filter(|e| e.current).count();
            return format!(
                "{} ({current} current)",
                plural(keys, "master key", "master keys")
            );
        }
        if !self.entries.is_empty() {
            return format!(
                "0 master keys ({}, listed below)",
                plural(self.entries.len(), "other entry", "other entries")
            );
        }
        let mut held = Vec::new();
        if self.certificates > 0 {
            held.push(plural(self.certificates, "certificate", "certificates"));
        }
        if self.other_items > 0 {
            held.push(plural(
                self.other_items,
                "private key or other item",
                "private keys or other items",
            ));
        }
        if held.is_empty() {
            return "0 master keys (the wallet is empty)".to_owned();
        }
        format!(
            "0 master keys: this is not a TDE keystore ({})",
            held.join(", ")
        )
    }
}

fn classify(name: &str) -> (EntryKind, Option<String>, Option<String>) {
    const DB: &str = "ORACLE.SECURITY.DB.ENCRYPTION.";
    const KM: &str = "ORACLE.SECURITY.KM.ENCRYPTION.";
    if let Some(rest) = name.strip_prefix(DB) {
        if rest == "MASTERKEY" {
            return (EntryKind::CurrentKeyPointer, None, None);
        }
        if let Some(pdb) = rest.strip_prefix("MASTERKEY.") {
            return (EntryKind::CurrentKeyPointer, None, Some(pdb.to_owned()));
        }
        return (EntryKind::MasterKey, Some(rest.to_owned()), None);
    }
    if let Some(rest) = name.strip_prefix(KM) {
        return (
            EntryKind::KeyMetadata,
            Some(rest.to_owned()).filter(|s| !s.is_empty()),
            None,
        );
    }
    if name.starts_with("ORACLE.SECURITY.ID.ENCRYPTION.") {
        return (EntryKind::Identity, None, None);
    }
    if name.starts_with("ORACLE.SECURITY.KB.ENCRYPTION.") {
        return (EntryKind::KeyBag, None, None);
    }
    if name.starts_with("ORACLE.SECURITY.TS.ENCRYPTION.") {
        return (EntryKind::Tablespace, None, None);
    }
    (EntryKind::Other, None, None)
}

fn der_err(file: &str, e: der::Error) -> WalletError {
    if matches!(e.kind(), der::ErrorKind::Incomplete { .. }) {
        WalletError::Truncated(file.to_owned())
    } else {
        WalletError::NotAWallet(file.to_owned())
    }
}

fn check_iterations(file: &str, n: i64) -> Result<(), WalletError> {
    if n > i64::from(MAX_ITERATIONS) || n < 1 {
        return Err(WalletError::TooManyIterations {
            file: file.to_owned(),
            iterations: n,
        });
    }
    Ok(())
}

/// Reads the entries of a wallet. `file` names it in messages.
pub fn read_wallet(
    bytes: &[u8],
    password: &Secret,
    file: &str,
) -> Result<WalletContents, WalletError> {
    open_wallet(bytes, password, file, false).map(|o| o.contents)
}

/// A wallet opened by [`open_wallet`].
struct Opened {
    contents: WalletContents,
    /// With `keep_values`: every Oracle secret entry, name and value, in file order.
    values: Vec<(String, Secret)>,
    /// Bags that are not Oracle name/value secrets (certificates, private keys, …).
    other_bags: usize,
}

/// The reader's core. With `keep_values` the values are kept too (as [`Secret`]s, for
/// re-encrypting a wallet into `cwallet.sso`); [`read_wallet`] never asks for them.
fn open_wallet(
    bytes: &[u8],
    password: &Secret,
    file: &str,
    keep_values: bool,
) -> Result<Opened, WalletError> {
    let pfx = pkcs12::pfx::Pfx::from_der(bytes).map_err(|e| der_err(file, e))?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(WalletError::NotAWallet(file.to_owned()));
    }
    let auth_safe = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|e| der_err(file, e))?;
    let auth_bytes = auth_safe.as_bytes();

    // The MAC first: a wrong password or a modified file stops here.
    let mac = pfx.mac_data.ok_or_else(|| WalletError::NoMac {
        file: file.to_owned(),
    })?;
    check_iterations(file, i64::from(mac.iterations))?;
    let mac_name;
    let ok = if mac.mac.algorithm.oid == ID_SHA1 {
        mac_name = "HMAC-SHA1".to_owned();
        verify_mac::<sha1::Sha1>(password, &mac, auth_bytes)?
    } else if mac.mac.algorithm.oid == ID_SHA256 {
        mac_name = "HMAC-SHA256".to_owned();
        verify_mac::<sha2::Sha256>(password, &mac, auth_bytes)?
    } else {
        return Err(WalletError::Unsupported {
            file: file.to_owned(),
            what: format!("MAC digest {}", mac.mac.algorithm.oid),
        });
    };
    if !ok {
        return Err(WalletError::WrongPassword(file.to_owned()));
    }

    let safes: Vec<cms::content_info::ContentInfo> =
        Vec::from_der(auth_bytes).map_err(|e| der_err(file, e))?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut other_bags = 0;
    let mut certificates = 0;
    let mut current_ids: Vec<(Option<String>, String)> = Vec::new();
    let mut encryption = String::from("none");
    for ci in safes {
        let contents: Zeroizing<Vec<u8>> = if ci.content_type == ID_DATA {
            Zeroizing::new(
                ci.content
                    .decode_as::<OctetString>()
                    .map_err(|e| der_err(file, e))?
                    .as_bytes()
                    .to_vec(),
            )
        } else if ci.content_type == ID_ENCRYPTED_DATA {
            let ed = ci
                .content
                .decode_as::<cms::encrypted_data::EncryptedData>()
                .map_err(|e| der_err(file, e))?;
            let alg = ed.enc_content_info.content_enc_alg;
            let ct = ed
                .enc_content_info
                .encrypted_content
                .ok_or_else(|| WalletError::NotAWallet(file.to_owned()))?;
            let (plain, name) = decrypt(file, password, &alg, ct.as_bytes())?;
            encryption = name;
            plain
        } else {
            continue;
        };
        let bags: Vec<pkcs12::safe_bag::SafeBag> =
            Vec::from_der(&contents).map_err(|e| der_err(file, e))?;
        for bag in bags {
            if bag.bag_id == ID_CERT_BAG {
                certificates += 1;
                continue;
            }
            if bag.bag_id != ID_SECRET_BAG {
                other_bags += 1;
                continue;
            }
            let Some((name, value)) = secret_bag(&bag.bag_value) else {
                other_bags += 1;
                continue;
            };
            let (kind, _, pdb) = classify(&name);
            if kind == EntryKind::CurrentKeyPointer {
                // The value names the current key: an identifier, not key material.
                let id = String::from_utf8_lossy(&value).trim().to_owned();
                current_ids.push((pdb, id));
            }
            if keep_values {
                values.push((name.clone(), secret_from(value)));
            }
            names.push(name);
        }
    }
    let entries = names
        .into_iter()
        .map(|name| {
            let (kind, key_id, pdb) = classify(&name);
            let key_id = match kind {
                EntryKind::CurrentKeyPointer => current_ids
                    .iter()
                    .find(|(p, _)| *p == pdb)
                    .map(|(_, id)| id.clone()),
                _ => key_id,
            };
            let master_key_id = key_id
                .as_deref()
                .and_then(|k| parse_key_id(k).ok())
                .map(|(_, id)| id.raw_hex());
            let current = kind == EntryKind::MasterKey
                && key_id
                    .as_deref()
                    .is_some_and(|k| current_ids.iter().any(|(_, c)| c == k));
            Entry {
                name,
                kind,
                key_id,
                master_key_id,
                pdb,
                current,
            }
        })
        .collect();
    Ok(Opened {
        contents: WalletContents {
            encryption,
            mac: mac_name,
            iterations: i64::from(mac.iterations),
            entries,
            certificates,
            other_items: other_bags,
            auto_login: None,
        },
        values,
        other_bags: other_bags + certificates,
    })
}

/// Moves a decrypted UTF-8 value into a [`Secret`] without leaving a copy behind.
fn secret_from(mut value: Zeroizing<Vec<u8>>) -> Secret {
    match String::from_utf8(std::mem::take(&mut *value)) {
        Ok(s) => Secret::new(s),
        // Cannot happen: the value was decoded from a UTF8String.
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Secret::default()
        }
    }
}

fn verify_mac<D>(
    password: &Secret,
    mac: &pkcs12::mac_data::MacData,
    data: &[u8],
) -> Result<bool, WalletError>
where
    D: digest::Digest + digest::FixedOutputReset + digest::core_api::BlockSizeUser + Clone,
    hmac::SimpleHmac<D>: hmac::Mac + digest::KeyInit,
{
    use hmac::Mac;
    let key = Zeroizing::new(
        pkcs12::kdf::derive_key_utf8::<D>(
            password.expose(),
            mac.mac_salt.as_bytes(),
            pkcs12::kdf::Pkcs12KeyType::Mac,
            mac.iterations,
            <D as digest::Digest>::output_size(),
        )
        .map_err(|_| WalletError::WrongPassword("the wallet".into()))?,
    );
    let mut h = <hmac::SimpleHmac<D> as digest::KeyInit>::new_from_slice(&key)
        .map_err(|_| WalletError::WrongPassword("the wallet".into()))?;
    h.update(data);
    Ok(h.verify_slice(mac.mac.digest.as_bytes()).is_ok())
}

fn decrypt(
    file: &str,
    password: &Secret,
    alg: &spki::AlgorithmIdentifierOwned,
    ct: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, String), WalletError> {
    if alg.oid == ID_PBE_3DES {
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| WalletError::NotAWallet(file.to_owned()))?
            .decode_as::<pkcs12::pbe_params::Pkcs12PbeParams>()
            .map_err(|e| der_err(file, e))?;
        check_iterations(file, i64::from(params.iterations))?;
        let derive = |id, len| {
            pkcs12::kdf::derive_key_utf8::<sha1::Sha1>(
                password.expose(),
                params.salt.as_bytes(),
                id,
                params.iterations,
                len,
            )
            .map(Zeroizing::new)
            .map_err(|_| WalletError::WrongPassword(file.to_owned()))
        };
        let key = derive(pkcs12::kdf::Pkcs12KeyType::EncryptionKey, 24)?;
        let iv = derive(pkcs12::kdf::Pkcs12KeyType::Iv, 8)?;
        use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
        let dec = cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| WalletError::NotAWallet(file.to_owned()))?;
        let plain = dec
            .decrypt_padded_vec_mut::<Pkcs7>(ct)
            .map_err(|_| WalletError::WrongPassword(file.to_owned()))?;
        return Ok((
            Zeroizing::new(plain),
            format!(
                "pbeWithSHAAnd3-KeyTripleDES-CBC, {} iterations",
                params.iterations
            ),
        ));
    }
    if alg.oid == ID_PBES2 {
        let der = alg.to_der().map_err(|e| der_err(file, e))?;
        let scheme =
            pkcs5::EncryptionScheme::from_der(&der).map_err(|_| WalletError::Unsupported {
                file: file.to_owned(),
                what: "a PBES2 variant".into(),
            })?;
        let (iterations, prf, cipher) = match &scheme {
            pkcs5::EncryptionScheme::Pbes2(p) => {
                let (it, prf) = match &p.kdf {
                    pkcs5::pbes2::Kdf::Pbkdf2(k) => {
                        (i64::from(k.iteration_count), format!("{:?}", k.prf))
                    }
                    _ => {
                        return Err(WalletError::Unsupported {
                            file: file.to_owned(),
                            what: "PBES2 with a key derivation other than PBKDF2".into(),
                        });
                    }
                };
                (it, prf, format!("{:?}", p.encryption))
            }
            _ => {
                return Err(WalletError::Unsupported {
                    file: file.to_owned(),
                    what: "a PBES1 scheme".into(),
                });
            }
        };
        check_iterations(file, iterations)?;
        let plain = scheme
            .decrypt(password.expose().as_bytes(), ct)
            .map_err(|_| WalletError::WrongPassword(file.to_owned()))?;
        let cipher = cipher.split(' ').next().unwrap_or("").to_owned();
        return Ok((
            Zeroizing::new(plain),
            format!("PBES2, PBKDF2 {prf}, {cipher}, {iterations} iterations"),
        ));
    }
    Err(WalletError::Unsupported {
        file: file.to_owned(),
        what: format!("encryption {}", alg.oid),
    })
}

/// A secret bag: `[0] EXPLICIT SecretBag`, SecretBag = `SEQUENCE { secretTypeId OID,
/// secretValue [0] EXPLICIT … }`, Oracle's value being `SEQUENCE { UTF8String name, UTF8String
/// value }` (directly or inside an OCTET STRING). Returns (name, value); the value is zeroized
/// on drop.
fn secret_bag(tlv: &[u8]) -> Option<(String, Zeroizing<Vec<u8>>)> {
    use der::{Reader, SliceReader, Tag, TagNumber, Tagged};
    let outer = der::asn1::Any::from_der(tlv).ok()?;
    // [0] EXPLICIT → SecretBag SEQUENCE
    let mut r = SliceReader::new(outer.value()).ok()?;
    let bag = r
        .sequence(|r| {
            let _type_id: ObjectIdentifier = r.decode()?;
            let v: der::asn1::Any = r.decode()?;
            Ok(v)
        })
        .ok()?;
    if bag.tag()
        != (Tag::ContextSpecific {
            constructed: true,
            number: TagNumber::N0,
        })
    {
        return None;
    }
    let inner = der::asn1::Any::from_der(bag.value()).ok()?;
    let seq_bytes: Zeroizing<Vec<u8>> = if inner.tag() == Tag::OctetString {
        Zeroizing::new(inner.value().to_vec())
    } else {
        Zeroizing::new(bag.value().to_vec())
    };
    let mut r = SliceReader::new(&seq_bytes).ok()?;
    r.sequence(|r| {
        let name: Utf8StringRef<'_> = r.decode()?;
        let value: Utf8StringRef<'_> = r.decode()?;
        Ok((
            name.as_str().to_owned(),
            Zeroizing::new(value.as_str().as_bytes().to_vec()),
        ))
    })
    .ok()
}

#[cfg(test)]
mod tests;
