//! Writes a PKCS#12 wallet in the layout Oracle 19c/23ai writes and [`super::read_wallet`]
//! reads: one encrypted safe (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC, random 8-byte salt and
//! 16-byte IV), Oracle secret bags (type 1.2.840.113549.1.16.12.12) whose value is
//! `SEQUENCE { UTF8String name, UTF8String value }`, each with a 24-byte localKeyId, and a MAC
//! with the PKCS#12 key derivation (HMAC-SHA1 as Oracle writes it, or HMAC-SHA256).
//!
//! Every buffer that holds a value (the DER of a bag, the plaintext safe) is a [`Zeroizing`]
//! allocated at its final size, so it never reallocates and leaves no stale copy behind.

use super::{
    ID_DATA, ID_ENCRYPTED_DATA, ID_PBES2, ID_SECRET_BAG, ID_SHA1, ID_SHA256, MAX_ITERATIONS,
    WalletError,
};
use crate::secret::Secret;
use crate::tde::labels::{MasterKeyId, format_key_id};
use der::Encode;
use der::asn1::ObjectIdentifier;
use zeroize::Zeroizing;

/// Oracle's secret type: the value is `SEQUENCE { UTF8String name, UTF8String value }`.
pub(super) const ID_ORACLE_SECRET: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.16.12.12");
const ID_LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

/// The digest of the wallet's MAC (always keyed with the PKCS#12 key derivation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacDigest {
    /// HMAC-SHA1: what `orapki`/`mkstore` write, also next to PBES2 in 23ai.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
}

/// How [`write_wallet_with`] protects a wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// PBKDF2 and MAC iteration count, 1 to [`MAX_ITERATIONS`].
    pub iterations: u32,
    pub mac: MacDigest,
}

impl Default for WriteOptions {
    /// Oracle 23ai's choices: 10,000 iterations, HMAC-SHA1 MAC.
    fn default() -> Self {
        Self {
            iterations: 10_000,
            mac: MacDigest::Sha1,
        }
    }
}

/// Writes a wallet holding `entries` (name, value), protected by `password`, with
/// `iterations` PBKDF2 and MAC iterations and Oracle's HMAC-SHA1 MAC.
pub fn write_wallet(
    entries: &[(String, Secret)],
    password: &Secret,
    iterations: u32,
) -> Result<Vec<u8>, WalletError> {
    write_wallet_with(
        entries,
        password,
        &WriteOptions {
            iterations,
            ..WriteOptions::default()
        },
    )
}

/// Writes a wallet with the given options. Names must be non-empty and distinct; the
/// password non-empty and made of characters PKCS#12 can encode (the Basic Multilingual
/// Plane).
pub fn write_wallet_with(
    entries: &[(String, Secret)],
    password: &Secret,
    options: &WriteOptions,
) -> Result<Vec<u8>, WalletError> {
    let iterations = options.iterations;
    if iterations == 0 || i64::from(iterations) > i64::from(MAX_ITERATIONS) {
        return Err(WalletError::CannotWrite(format!(
            "{iterations} iterations asked; tdekey writes between 1 and {MAX_ITERATIONS}"
        )));
    }
    if password.is_empty() {
        return Err(WalletError::CannotWrite(
            "the wallet password is empty".into(),
        ));
    }
    if der::asn1::BmpString::from_utf8(password.expose()).is_err() {
        return Err(WalletError::CannotWrite(
            "the password holds characters PKCS#12 cannot encode (outside the Basic Multilingual Plane)".into(),
        ));
    }
    for (i, (name, _)) in entries.iter().enumerate() {
        if name.is_empty() {
            return Err(WalletError::CannotWrite(
                "an entry has an empty name".into(),
            ));
        }
        if entries[..i].iter().any(|(n, _)| n == name) {
            return Err(WalletError::CannotWrite(format!(
                "the entry {name} is given twice"
            )));
        }
    }

    // SafeContents: one Oracle secret bag per entry.
    let mut bags = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        bags.push(secret_bag(name, value)?);
    }
    let parts: Vec<&[u8]> = bags.iter().map(|b| b.as_slice()).collect();
    let safe_contents = tlv(0x30, &parts);
    drop(bags);

    // One encrypted safe: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
    let mut salt = [0u8; 8];
    let mut iv = [0u8; 16];
    random_bytes(&mut salt)?;
    random_bytes(&mut iv)?;
    let kdf = pkcs5::pbes2::Pbkdf2Params {
        salt: &salt,
        iteration_count: iterations,
        key_length: Some(32),
        prf: pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256,
    };
    let scheme = pkcs5::EncryptionScheme::Pbes2(pkcs5::pbes2::Parameters {
        kdf: kdf.into(),
        encryption: pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
    });
    let algorithm = scheme
        .to_der()
        .map_err(|e| WalletError::CannotWrite(format!("encoding PBES2 parameters: {e}")))?;
    debug_assert_eq!(scheme.oid(), ID_PBES2);
    let padded = (safe_contents.len() / 16 + 1) * 16;
    let mut buffer = Zeroizing::new(vec![0u8; padded]);
    buffer[..safe_contents.len()].copy_from_slice(&safe_contents);
    let ciphertext = scheme
        .encrypt_in_place(
            password.expose().as_bytes(),
            &mut buffer,
            safe_contents.len(),
        )
        .map_err(|e| WalletError::CannotWrite(format!("encrypting the safe: {e}")))?
        .to_vec();
    drop(buffer);
    drop(safe_contents);

    let encrypted_content_info = tlv(
        0x30,
        &[&oid(ID_DATA), &algorithm, &tlv(0x80, &[&ciphertext])],
    );
    let encrypted_data = tlv(0x30, &[&integer(0), &encrypted_content_info]);
    let content_info = tlv(
        0x30,
        &[&oid(ID_ENCRYPTED_DATA), &tlv(0xA0, &[&encrypted_data])],
    );
    let auth_safe = tlv(0x30, &[&content_info]);

    // The MAC over the AuthenticatedSafe's DER, keyed with the PKCS#12 KDF (ID 3).
    let mut mac_salt = [0u8; 8];
    random_bytes(&mut mac_salt)?;
    let (digest_oid, digest) = match options.mac {
        MacDigest::Sha1 => (
            ID_SHA1,
            mac::<sha1::Sha1>(password, &mac_salt, iterations, &auth_safe)?,
        ),
        MacDigest::Sha256 => (
            ID_SHA256,
            mac::<sha2::Sha256>(password, &mac_salt, iterations, &auth_safe)?,
        ),
    };
    let digest_info = tlv(
        0x30,
        &[
            &tlv(0x30, &[&oid(digest_oid), &[0x05, 0x00]]),
            &tlv(0x04, &[&digest]),
        ],
    );
    let mac_data = tlv(
        0x30,
        &[&digest_info, &tlv(0x04, &[&mac_salt]), &integer(iterations)],
    );
    let outer_info = tlv(
        0x30,
        &[&oid(ID_DATA), &tlv(0xA0, &[&tlv(0x04, &[&auth_safe])])],
    );
    let mut pfx = tlv(0x30, &[&integer(3), &outer_info, &mac_data]);
    Ok(std::mem::take(&mut *pfx))
}

fn mac<D>(
    password: &Secret,
    salt: &[u8],
    iterations: u32,
    data: &[u8],
) -> Result<Vec<u8>, WalletError>
where
    D: digest::Digest + digest::FixedOutputReset + digest::core_api::BlockSizeUser + Clone,
    hmac::SimpleHmac<D>: hmac::Mac + digest::KeyInit,
{
    use hmac::Mac;
    let rounds = i32::try_from(iterations)
        .map_err(|_| WalletError::CannotWrite("too many iterations".into()))?;
    let key = Zeroizing::new(
        pkcs12::kdf::derive_key_utf8::<D>(
            password.expose(),
            salt,
            pkcs12::kdf::Pkcs12KeyType::Mac,
            rounds,
            <D as digest::Digest>::output_size(),
        )
        .map_err(|e| WalletError::CannotWrite(format!("deriving the MAC key: {e}")))?,
    );
    let mut h = <hmac::SimpleHmac<D> as digest::KeyInit>::new_from_slice(&key)
        .map_err(|_| WalletError::CannotWrite("the MAC key is unusable".into()))?;
    h.update(data);
    Ok(h.finalize().into_bytes().to_vec())
}

/// `SafeBag { secretBag, [0] SecretBag { Oracle secret, [0] SEQUENCE { name, value } },
/// { localKeyId } }`.
fn secret_bag(name: &str, value: &Secret) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    let pair = tlv(
        0x30,
        &[
            &tlv(0x0C, &[name.as_bytes()]),
            &tlv(0x0C, &[value.expose().as_bytes()]),
        ],
    );
    let secret = tlv(0x30, &[&oid(ID_ORACLE_SECRET), &tlv(0xA0, &[&pair])]);
    let key_id = local_key_id()?;
    let attributes = tlv(
        0x31,
        &[&tlv(
            0x30,
            &[&oid(ID_LOCAL_KEY_ID), &tlv(0x31, &[&tlv(0x04, &[&key_id])])],
        )],
    );
    Ok(tlv(
        0x30,
        &[&oid(ID_SECRET_BAG), &tlv(0xA0, &[&secret]), &attributes],
    ))
}

/// A 24-byte localKeyId shaped like Oracle's: `E6 B6 52 DD`, 8 bytes, `00 00 00 06`, 8 bytes.
/// The real 3DES fixture has a 4, zeros and an entry counter in the free bytes; the 23ai-style
/// fixture random bytes; what they mean is not known, so they are random here (the fixed
/// bytes are kept: readers that care about localKeyId look at them).
fn local_key_id() -> Result<[u8; 24], WalletError> {
    let mut id = [0u8; 24];
    random_bytes(&mut id)?;
    id[..4].copy_from_slice(&[0xE6, 0xB6, 0x52, 0xDD]);
    id[12..16].copy_from_slice(&[0, 0, 0, 6]);
    Ok(id)
}

/// Fills `buf` from the operating system's random number generator.
pub(super) fn random_bytes(buf: &mut [u8]) -> Result<(), WalletError> {
    use aes_gcm::aead::{OsRng, rand_core::RngCore};
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| WalletError::CannotWrite(format!("no random numbers from the system: {e}")))
}

/// The entries Oracle keeps for a TDE software keystore holding `master_keys`, the last one
/// current: per key `ORACLE.SECURITY.DB.ENCRYPTION.<KEY_ID>` (a random base64 value), then
/// `ORACLE.SECURITY.DB.ENCRYPTION.MASTERKEY` (value: the current KEY_ID, as the reader's
/// `CurrentKeyPointer` expects), `ORACLE.SECURITY.ID.ENCRYPTION.` and
/// `ORACLE.SECURITY.KB.ENCRYPTION.` (empty values, as in the synthetic fixture), and per key
/// `ORACLE.SECURITY.KM.ENCRYPTION.<KEY_ID>` (a random base64 value). KEY_IDs are the software
/// keystore form of [`format_key_id`] (byte 0 = 0x01, so they start with `A`).
///
/// The values are random placeholders of the right shape, not keys Oracle can use: this is
/// for rehearsals and tests, never for a production keystore.
pub fn tde_keystore_entries(
    master_keys: &[MasterKeyId],
) -> Result<Vec<(String, Secret)>, WalletError> {
    const DB: &str = "ORACLE.SECURITY.DB.ENCRYPTION.";
    const KM: &str = "ORACLE.SECURITY.KM.ENCRYPTION.";
    let ids: Vec<String> = master_keys.iter().map(|k| format_key_id(0x01, k)).collect();
    let mut out = Vec::with_capacity(2 * ids.len() + 3);
    for id in &ids {
        out.push((format!("{DB}{id}"), random_base64()?));
    }
    if let Some(current) = ids.last() {
        out.push((format!("{DB}MASTERKEY"), Secret::new(current.clone())));
    }
    out.push((
        "ORACLE.SECURITY.ID.ENCRYPTION.".to_owned(),
        Secret::default(),
    ));
    out.push((
        "ORACLE.SECURITY.KB.ENCRYPTION.".to_owned(),
        Secret::default(),
    ));
    for id in &ids {
        out.push((format!("{KM}{id}"), random_base64()?));
    }
    Ok(out)
}

/// 48 random bytes in base64 (64 characters).
fn random_base64() -> Result<Secret, WalletError> {
    use base64::Engine as _;
    let mut raw = Zeroizing::new([0u8; 48]);
    random_bytes(&mut *raw)?;
    let mut text = Zeroizing::new(String::with_capacity(64));
    base64::engine::general_purpose::STANDARD.encode_string(*raw, &mut text);
    Ok(Secret::new(std::mem::take(&mut *text)))
}

/// One DER TLV whose content is `parts` concatenated, allocated at its final size.
pub(super) fn tlv(tag: u8, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len_bytes = len.to_be_bytes();
    let skip = len_bytes.iter().take_while(|b| **b == 0).count();
    let long = &len_bytes[skip..];
    let header = if len < 0x80 { 2 } else { 2 + long.len() };
    let mut out = Zeroizing::new(Vec::with_capacity(header + len));
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x80 | long.len() as u8);
        out.extend_from_slice(long);
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn oid(o: ObjectIdentifier) -> Zeroizing<Vec<u8>> {
    tlv(0x06, &[o.as_bytes()])
}

/// A non-negative DER INTEGER.
fn integer(n: u32) -> Zeroizing<Vec<u8>> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    let body = &bytes[skip..];
    if body[0] & 0x80 != 0 {
        tlv(0x02, &[&[0], body])
    } else {
        tlv(0x02, &[body])
    }
}

#[cfg(test)]
mod tests;
