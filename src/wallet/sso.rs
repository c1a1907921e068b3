//! The auto-login wallet file `cwallet.sso`. Oracle does not document it; the layout below is
//! the one the reference (`oracle-tde.md`, "The auto-login wallet file") gives, on which two
//! public readers agree (go-ora's `v2/configurations/wallet.go` and the Java ssoDecrypt):
//!
//! | offset | size | meaning |
//! | --- | --- | --- |
//! | 0 | 3 | magic `A1 F8 4E` |
//! | 3 | 1 | type: `0x36`/`0x37` auto-login, `0x38` local auto-login |
//! | 4 | 4 | header version, big-endian: 6 (10g files have 5) |
//! | 8 | 4 | length of the key section, big-endian (`0x21` for scheme 6) |
//! | 12 | 1 | scheme: `0x06` AES-128-CBC, `0x35` DES-CBC (11g) |
//! | 12 + length | … | a PKCS#12 wallet, read with [`super::read_wallet`] |
//!
//! Checked on real files: Oracle-made auto-login wallets of type `0x36` and `0x37` with scheme
//! 6 open with this reading (their PKCS#12 MAC verifies with the password read from them;
//! `tests/fixtures/wallets/SOURCES.md`). Not checked on an Oracle-made file (none public):
//! type `0x38` (local auto-login), scheme `0x35` (DES), a header version other than 6.
//!
//! Points the reference leaves open, and the reading chosen here (writer and reader agree):
//!
//! - **Scheme 6, padding** (unverified). The `length − 17` encrypted bytes (16 with `0x21`)
//!   are decrypted with AES-128-CBC and the fixed IV and used *as they are*, with no PKCS#7
//!   unpadding: go-ora does so, a published script that reads 23ai/26ai files decrypts with
//!   `-nopad`, and a 16-byte password in one block leaves no room for padding anyway. Such a
//!   password has been observed to be 16 bytes each 1–127 (ASCII), so it is also text for the
//!   PKCS#12 KDF; a byte above 127 is taken as U+0080–U+00FF (a guess that only a damaged or
//!   unknown file needs, and that then fails the MAC check).
//! - **Scheme 0x35 (DES).** 16 hex characters of DES key, then `length − 17` hex characters of
//!   DES-CBC ciphertext with a zero IV; PKCS#7 padding is removed when it is valid (ssoDecrypt
//!   removes it; go-ora removes it when valid). Read only: tdekey never writes scheme 0x35.
//! - **Local auto-login.** The decrypted value is not the PKCS#12 password: HMAC-SHA1 keyed by
//!   `<short host name><OS user name>` (host cut at the first `.`, user the login name) over
//!   the decrypted bytes, each byte mapped `(b + 128) % 128 % 127 + 1` (so 1–127), the first 16
//!   bytes kept, is. That is the reference's and go-ora's formula; ssoDecrypt's Java arithmetic
//!   gives `0x80` instead of `0x01` for an HMAC byte whose low seven bits are all ones
//!   (unverified which one Oracle uses: a real local wallet whose HMAC hits that case would
//!   open with one reading only). It applies to both schemes (ssoDecrypt applies it with DES,
//!   go-ora with AES).
//! - **Type byte written.** `0x36` for auto-login (both public readers accept it; ssoDecrypt
//!   does not know `0x37`), `0x38` for local auto-login.
//! - **The embedded wallet's password.** Oracle's auto-login wallet has its own random
//!   internal password, unrelated to ewallet.p12's (so a published SQLcl experiment found;
//!   unverified for `orapki`), and a `0x21` key section holds exactly one 16-byte block.
//!   [`write_sso`] therefore re-encrypts: it opens the given wallet with its password and
//!   writes its entries into a new PKCS#12 protected by a fresh random 16-byte password (bytes
//!   1–127) or, for local auto-login, by the password derived from it, in Oracle's 23ai layout
//!   (PBES2 AES-256, HMAC-SHA1 MAC, 10,000 iterations).

use super::write::{random_bytes, write_wallet};
use super::{WalletContents, WalletError, open_wallet, read_wallet};
use crate::secret::Secret;
use serde::Serialize;
use zeroize::Zeroizing;

/// The first bytes of every `cwallet.sso`.
pub const SSO_MAGIC: [u8; 3] = [0xA1, 0xF8, 0x4E];
/// The IV of scheme 6's AES-128-CBC.
const AES_IV: [u8; 16] = [
    0xC0, 0x34, 0xD8, 0x31, 0x1C, 0x02, 0xCE, 0xF8, 0x51, 0xF0, 0x14, 0x4B, 0x81, 0xED, 0x4B, 0xF2,
];
const SCHEME_AES: u8 = 0x06;
const SCHEME_DES: u8 = 0x35;
/// Key section of scheme 6: the scheme byte, the AES key, one encrypted block.
const AES_SECTION: u32 = 0x21;
/// Iterations of the PKCS#12 inside a written `cwallet.sso` (what Oracle 23ai writes).
const SSO_ITERATIONS: u32 = 10_000;
/// The name used in messages when the caller gives none.
const DEFAULT_NAME: &str = "cwallet.sso";

/// Which auto-login wallet a `cwallet.sso` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SsoKind {
    /// Type `0x36` or `0x37`: opens anywhere, for anyone who can read the file.
    AutoLogin,
    /// Type `0x38`: opens only on the host and for the OS user that created it.
    LocalAutoLogin,
}

impl SsoKind {
    /// One phrase for a person.
    pub fn describe(&self) -> &'static str {
        match self {
            SsoKind::AutoLogin => "auto-login",
            SsoKind::LocalAutoLogin => {
                "local auto-login (opens only on the host and for the OS user that created it)"
            }
        }
    }

    fn type_byte(self) -> u8 {
        match self {
            SsoKind::AutoLogin => 0x36,
            SsoKind::LocalAutoLogin => 0x38,
        }
    }
}

/// The fixed part of a `cwallet.sso` header (13 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SsoHeader {
    pub kind: SsoKind,
    /// The type byte itself (`0x36`, `0x37` or `0x38`).
    pub type_byte: u8,
    /// 6 (10g files have 5).
    pub version: u32,
    /// Length of the key section after offset 12.
    pub key_section: u32,
    /// `0x06` AES, `0x35` DES.
    pub scheme: u8,
}

impl SsoHeader {
    /// One line for a report: `type 0x36, header version 6, scheme 0x06 (AES-128)`.
    pub fn describe(&self) -> String {
        let scheme = match self.scheme {
            SCHEME_AES => " (AES-128)",
            SCHEME_DES => " (DES, 11g)",
            _ => " (unknown)",
        };
        format!(
            "type 0x{:02X}, header version {}, scheme 0x{:02X}{scheme}",
            self.type_byte, self.version, self.scheme
        )
    }

    /// Why tdekey cannot open a file with this header, as a sentence; `None` when it can try
    /// (header version 6, scheme AES or DES). The public readers and the real files tdekey
    /// was checked against all have version 6; another version is never shown as readable.
    pub fn problem(&self) -> Option<String> {
        if self.version != 6 {
            return Some(format!(
                "header version {}{}: tdekey reads only version 6, so it cannot open this file and does not vouch for its kind. Recreate it with ADMINISTER KEY MANAGEMENT CREATE [LOCAL] AUTO_LOGIN KEYSTORE (or orapki) on a current release",
                self.version,
                if self.version == 5 {
                    " (a 10g wallet)"
                } else {
                    ""
                }
            ));
        }
        if self.scheme != SCHEME_AES && self.scheme != SCHEME_DES {
            return Some(format!(
                "scheme 0x{:02X}: tdekey knows only 0x06 (AES) and 0x35 (DES), so it cannot open this file",
                self.scheme
            ));
        }
        None
    }
}

/// Whether `bytes` start like a `cwallet.sso` (Oracle's `A1 F8 4E` magic).
pub fn is_auto_login(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[..3] == SSO_MAGIC
}

/// The kind of a `cwallet.sso` from its first four bytes; nothing is decrypted.
pub fn sso_kind(bytes: &[u8]) -> Result<SsoKind, WalletError> {
    kind_of(bytes, DEFAULT_NAME)
}

pub(super) fn kind_of(bytes: &[u8], file: &str) -> Result<SsoKind, WalletError> {
    let magic = &bytes[..bytes.len().min(3)];
    if !SSO_MAGIC.starts_with(magic) {
        return Err(WalletError::NotAutoLogin(file.to_owned()));
    }
    match bytes.get(3) {
        None => Err(WalletError::Truncated(file.to_owned())),
        Some(0x36 | 0x37) => Ok(SsoKind::AutoLogin),
        Some(0x38) => Ok(SsoKind::LocalAutoLogin),
        Some(b) => Err(WalletError::UnsupportedSso {
            file: file.to_owned(),
            what: format!("type byte 0x{b:02X}; tdekey knows 0x36, 0x37 and 0x38"),
        }),
    }
}

/// The 13-byte header of a `cwallet.sso`; nothing is decrypted.
pub fn sso_header(bytes: &[u8]) -> Result<SsoHeader, WalletError> {
    header_of(bytes, DEFAULT_NAME)
}

pub(super) fn header_of(bytes: &[u8], file: &str) -> Result<SsoHeader, WalletError> {
    let kind = kind_of(bytes, file)?;
    if bytes.len() < 13 {
        return Err(WalletError::Truncated(file.to_owned()));
    }
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok(SsoHeader {
        kind,
        type_byte: bytes[3],
        version: be(4),
        key_section: be(8),
        scheme: bytes[12],
    })
}

/// The host name and OS login name of this process, for a local auto-login wallet.
pub fn current_host_user() -> (String, String) {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let user = crate::paths::process_user()
        .filter(|u| !u.starts_with("uid "))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    (host, user)
}

/// Opens a `cwallet.sso` and lists its entries, like [`read_wallet`] does for `ewallet.p12`.
/// `host_user` is `(host name, OS user name)` for a local auto-login wallet (the current ones
/// when `None`); it is ignored for an ordinary auto-login wallet.
pub fn open_sso(
    bytes: &[u8],
    host_user: Option<(&str, &str)>,
) -> Result<WalletContents, WalletError> {
    open_sso_named(bytes, host_user, DEFAULT_NAME)
}

/// [`open_sso`], naming the file `file` in messages.
pub fn open_sso_named(
    bytes: &[u8],
    host_user: Option<(&str, &str)>,
    file: &str,
) -> Result<WalletContents, WalletError> {
    let header = header_of(bytes, file)?;
    if header.version != 6 {
        return Err(WalletError::UnsupportedSso {
            file: file.to_owned(),
            what: format!(
                "header version {}{}",
                header.version,
                if header.version == 5 {
                    " (a 10g wallet)"
                } else {
                    ""
                }
            ),
        });
    }
    let section = usize::try_from(header.key_section).unwrap_or(usize::MAX);
    let end = section
        .checked_add(12)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| WalletError::Truncated(file.to_owned()))?;
    let key_section = &bytes[12..end];
    let stored = match header.scheme {
        SCHEME_AES => decrypt_aes(key_section, file)?,
        SCHEME_DES => decrypt_des(key_section, file)?,
        other => {
            return Err(WalletError::UnsupportedSso {
                file: file.to_owned(),
                what: format!("scheme 0x{other:02X}"),
            });
        }
    };
    let p12 = &bytes[end..];
    if p12.is_empty() {
        return Err(WalletError::Truncated(file.to_owned()));
    }
    let opened = match header.kind {
        SsoKind::AutoLogin => {
            let password = stored_password(&stored);
            read_wallet(p12, &password, file).map_err(|e| match e {
                WalletError::WrongPassword(_) => WalletError::SsoDamaged(file.to_owned()),
                other => other,
            })
        }
        SsoKind::LocalAutoLogin => {
            let (host, user) = resolve(host_user);
            let password = local_password(&stored, &host, &user)?;
            read_wallet(p12, &password, file).map_err(|e| match e {
                WalletError::WrongPassword(_) => WalletError::LocalElsewhere {
                    file: file.to_owned(),
                    host: short_host(&host).to_owned(),
                    user,
                },
                other => other,
            })
        }
    };
    opened.map(|mut c| {
        c.auto_login = Some(header);
        c
    })
}

/// The stored bytes as the PKCS#12 password, one character per byte. Oracle's are 1–127
/// (ASCII), where this is exact for both the PKCS#12 KDF and PBKDF2; a byte above 127 (only in
/// a damaged or unknown file) becomes U+0080–U+00FF, a guess that then fails the MAC check.
fn stored_password(stored: &[u8]) -> Secret {
    let mut text = Zeroizing::new(String::with_capacity(2 * stored.len()));
    text.extend(stored.iter().map(|b| char::from(*b)));
    Secret::new(std::mem::take(&mut *text))
}

fn resolve(host_user: Option<(&str, &str)>) -> (String, String) {
    match host_user {
        Some((h, u)) => (h.to_owned(), u.to_owned()),
        None => current_host_user(),
    }
}

fn short_host(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// Scheme 6: a 16-byte AES-128 key, then `length − 17` bytes of AES-128-CBC with the fixed IV,
/// used without unpadding (see the module comment).
fn decrypt_aes(section: &[u8], file: &str) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    let unsupported = |what: String| WalletError::UnsupportedSso {
        file: file.to_owned(),
        what,
    };
    if section.len() < 1 + 16 + 16 || !(section.len() - 17).is_multiple_of(16) {
        return Err(unsupported(format!(
            "an AES key section of {} bytes (expected 17 + a multiple of 16)",
            section.len()
        )));
    }
    let mut out = Zeroizing::new(section[17..].to_vec());
    let dec = cbc::Decryptor::<aes_gcm::aes::Aes128>::new_from_slices(&section[1..17], &AES_IV)
        .map_err(|_| unsupported("an unusable AES key".into()))?;
    dec.decrypt_padded_mut::<NoPadding>(&mut out)
        .map_err(|_| unsupported("an AES section that does not decrypt".into()))?;
    Ok(out)
}

/// Scheme 0x35 (11g): 16 hex characters of DES key, then hex of DES-CBC ciphertext (zero IV);
/// PKCS#7 padding removed when valid.
fn decrypt_des(section: &[u8], file: &str) -> Result<Zeroizing<Vec<u8>>, WalletError> {
    use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    let unsupported = |what: &str| WalletError::UnsupportedSso {
        file: file.to_owned(),
        what: what.to_owned(),
    };
    if section.len() < 1 + 16 + 16 {
        return Err(unsupported("a DES key section that is too short"));
    }
    let key = Zeroizing::new(
        hex::decode(&section[1..17]).map_err(|_| unsupported("a DES key that is not hex"))?,
    );
    let mut out = Zeroizing::new(
        hex::decode(&section[17..]).map_err(|_| unsupported("a DES password that is not hex"))?,
    );
    if out.is_empty() || !out.len().is_multiple_of(8) {
        return Err(unsupported("a DES password that is not whole blocks"));
    }
    let dec = cbc::Decryptor::<des::Des>::new_from_slices(&key, &[0u8; 8])
        .map_err(|_| unsupported("an unusable DES key"))?;
    dec.decrypt_padded_mut::<NoPadding>(&mut out)
        .map_err(|_| unsupported("a DES password that does not decrypt"))?;
    let pad = usize::from(out[out.len() - 1]);
    if (1..=8).contains(&pad)
        && out[out.len() - pad..]
            .iter()
            .all(|b| usize::from(*b) == pad)
    {
        let keep = out.len() - pad;
        out[keep..].fill(0);
        out.truncate(keep);
    }
    Ok(out)
}

/// The PKCS#12 password of a local auto-login wallet: HMAC-SHA1 keyed by `<short host><user>`
/// over the stored bytes, each byte mapped `(b + 128) % 128 % 127 + 1`, the first 16 kept.
fn local_password(stored: &[u8], host: &str, user: &str) -> Result<Secret, WalletError> {
    use hmac::{Hmac, Mac};
    let mut key = Zeroizing::new(String::with_capacity(host.len() + user.len()));
    key.push_str(short_host(host));
    key.push_str(user);
    let mut h = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key.as_bytes())
        .map_err(|_| WalletError::CannotWrite("the host and user make no HMAC key".into()))?;
    h.update(stored);
    let mut digest = Zeroizing::new([0u8; 20]);
    digest.copy_from_slice(&h.finalize().into_bytes());
    let mut password = Zeroizing::new(String::with_capacity(16));
    for b in digest.iter().take(16) {
        // (b + 128) % 128 % 127 + 1, in u16 so that nothing wraps: 1..=127.
        password.push(char::from(((u16::from(*b) + 128) % 128 % 127 + 1) as u8));
    }
    Ok(Secret::new(std::mem::take(&mut *password)))
}

/// Writes a `cwallet.sso` holding the entries of the PKCS#12 wallet `p12` (opened with
/// `p12_password`): header version 6, key section `0x21`, scheme 6 with a random AES-128 key
/// and a fresh random 16-byte password (bytes 1–127), then a new PKCS#12 with the same
/// entries protected by that password, or, for [`SsoKind::LocalAutoLogin`], by the password
/// derived from it for `host_user` (`(host name, OS user name)`, the current ones when
/// `None`). Only Oracle secret entries are carried over: a wallet with certificates or private
/// keys is refused.
pub fn write_sso(
    p12: &[u8],
    p12_password: &Secret,
    kind: SsoKind,
    host_user: Option<(&str, &str)>,
) -> Result<Vec<u8>, WalletError> {
    let opened = open_wallet(p12, p12_password, "the wallet to make auto-login", true)?;
    if opened.other_bags > 0 {
        return Err(WalletError::CannotWrite(format!(
            "the wallet holds {} item(s) other than Oracle secret entries (certificates or private keys); tdekey carries only secret entries into cwallet.sso",
            opened.other_bags
        )));
    }
    // The stored password: 16 random bytes, each 1..=127.
    let mut stored = Zeroizing::new([0u8; 16]);
    random_bytes(&mut *stored)?;
    for b in stored.iter_mut() {
        *b = *b % 127 + 1;
    }
    let password = match kind {
        SsoKind::AutoLogin => stored_password(&*stored),
        SsoKind::LocalAutoLogin => {
            let (host, user) = resolve(host_user);
            local_password(&*stored, &host, &user)?
        }
    };
    let inner = write_wallet(&opened.values, &password, SSO_ITERATIONS)?;
    drop(opened);
    drop(password);

    use cbc::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    let mut key = Zeroizing::new([0u8; 16]);
    random_bytes(&mut *key)?;
    let mut block = Zeroizing::new(*stored);
    let enc = cbc::Encryptor::<aes_gcm::aes::Aes128>::new_from_slices(&*key, &AES_IV)
        .map_err(|_| WalletError::CannotWrite("the AES key is unusable".into()))?;
    enc.encrypt_padded_mut::<NoPadding>(&mut *block, 16)
        .map_err(|_| WalletError::CannotWrite("the stored password does not encrypt".into()))?;

    let mut out = Vec::with_capacity(12 + AES_SECTION as usize + inner.len());
    out.extend_from_slice(&SSO_MAGIC);
    out.push(kind.type_byte());
    out.extend_from_slice(&6u32.to_be_bytes());
    out.extend_from_slice(&AES_SECTION.to_be_bytes());
    out.push(SCHEME_AES);
    out.extend_from_slice(&*key);
    out.extend_from_slice(&*block);
    out.extend_from_slice(&inner);
    Ok(out)
}

#[cfg(test)]
mod tests;
