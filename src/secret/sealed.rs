//! The sealed-file container: a passphrase-encrypted stream (Argon2id, then AES-256-GCM in
//! STREAM chunks). Encrypted audit exports use it; the migration wizard's wallet backups will.
//!
//! Layout (all integers big-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 16 | magic `TDEKEY-EXPORT-v1` |
//! | 16 | 4 | Argon2id memory cost, KiB |
//! | 20 | 4 | Argon2id time cost |
//! | 24 | 4 | Argon2id parallelism |
//! | 28 | 16 | salt |
//! | 44 | 7 | nonce prefix |
//! | 51 | 4 | chunk size (plaintext bytes per chunk) |
//! | 55 | 16 | key check: SHA-256("tdekey-export-key-check" ‖ key), first 16 bytes |
//! | 71 | … | chunks: AES-256-GCM of each plaintext chunk (chunk size + 16 bytes; the last shorter) |
//!
//! Chunk `i` uses the nonce `prefix ‖ i (4 bytes) ‖ last (1 byte: 1 for the final chunk, else 0)`
//! and the 71-byte header as associated data (the STREAM construction), so a reordered,
//! removed, truncated or modified chunk fails authentication. The magic keeps its historical
//! name so that every file written so far still opens.

use super::Secret;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// The container's name, as its first bytes say.
pub const CONTAINER: &str = "TDEKEY-EXPORT-v1";
const MAGIC: &[u8; 16] = b"TDEKEY-EXPORT-v1";
const HEADER_LEN: usize = 71;
/// Plaintext bytes per chunk in the files tdekey writes.
pub const CHUNK: usize = 1 << 20;
const TAG: usize = 16;
/// Argon2id cost for new files: 64 MiB, 3 passes, 1 lane.
pub const M_COST_KIB: u32 = 64 * 1024;
pub const T_COST: u32 = 3;
pub const P_COST: u32 = 1;
/// Shortest passphrase accepted for sealing.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Why a file could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("The passphrase must be at least {MIN_PASSPHRASE_CHARS} characters long.")]
    WeakPassphrase,
    #[error("the key derivation failed")]
    KeyDerivation,
    #[error("it is not a sealed tdekey file (its header is not {CONTAINER})")]
    NotSealed,
    #[error(
        "it asks for Argon2id costs tdekey refuses (memory {m_kib} KiB, {t} passes, {p} lanes)"
    )]
    AbsurdCosts { m_kib: u32, t: u32, p: u32 },
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    /// A chunk that authenticates nowhere in the file (its bytes were changed).
    #[error("chunk {chunk} of {chunks} was modified (it fails authentication)")]
    Tampered { chunk: u64, chunks: u64 },
    /// The chunk at `position` authenticates, but as the chunk of position `belongs`.
    #[error("the chunks are out of order (chunk {belongs} is at position {position})")]
    Reordered { position: u64, belongs: u64 },
    /// The file ends on a whole chunk that was not sealed as the final one.
    #[error("it is truncated: it ends after chunk {last}, which is not the final chunk")]
    Truncated { last: u64 },
    /// The file ends inside a chunk: it was cut in the middle of one, or its end was changed.
    #[error(
        "it ends in the middle of a chunk or its end was changed: its last chunk ({chunk}) is incomplete or fails authentication"
    )]
    CutShort { chunk: u64 },
    #[error("reading failed: {0}")]
    Read(std::io::Error),
    #[error("writing failed: {0}")]
    Write(std::io::Error),
}

/// Argon2id; `None` when the parameters are ones Argon2 refuses (only a forged header has them).
fn derive_key(pass: &Secret, salt: &[u8], m: u32, t: u32, p: u32) -> Option<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    let params = argon2::Params::new(m, t, p, Some(32)).ok()?;
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(pass.expose().as_bytes(), salt, key.as_mut())
        .ok()?;
    Some(key)
}

fn key_check(key: &[u8; 32]) -> [u8; 16] {
    let d = Sha256::new()
        .chain_update(b"tdekey-export-key-check")
        .chain_update(key)
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn nonce(prefix: &[u8; 7], i: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&i.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Seals what is written to it, chunk by chunk; [`Sealer::finish`] seals the last chunk.
pub struct Sealer<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    prefix: [u8; 7],
    buf: Zeroizing<Vec<u8>>,
    index: u32,
}

impl<W: Write> Sealer<W> {
    /// Derives the key from the passphrase and writes the header to `inner`.
    pub fn new(mut inner: W, passphrase: &Secret) -> Result<Self, SealError> {
        if passphrase.expose().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(SealError::WeakPassphrase);
        }
        let mut salt = [0u8; 16];
        let mut prefix = [0u8; 7];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut prefix);
        let key = derive_key(passphrase, &salt, M_COST_KIB, T_COST, P_COST)
            .ok_or(SealError::KeyDerivation)?;
        let mut header = [0u8; HEADER_LEN];
        header[..16].copy_from_slice(MAGIC);
        header[16..20].copy_from_slice(&M_COST_KIB.to_be_bytes());
        header[20..24].copy_from_slice(&T_COST.to_be_bytes());
        header[24..28].copy_from_slice(&P_COST.to_be_bytes());
        header[28..44].copy_from_slice(&salt);
        header[44..51].copy_from_slice(&prefix);
        header[51..55].copy_from_slice(&(CHUNK as u32).to_be_bytes());
        header[55..71].copy_from_slice(&key_check(&key));
        inner.write_all(&header).map_err(SealError::Write)?;
        Ok(Self {
            inner,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref())),
            header,
            prefix,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            index: 0,
        })
    }

    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let n = nonce(&self.prefix, self.index, last);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&n),
                Payload {
                    msg: &self.buf,
                    aad: &self.header,
                },
            )
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        self.inner.write_all(&ct)?;
        self.buf.clear();
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("too large to seal"))?;
        Ok(())
    }

    /// Seals the final chunk and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            let room = CHUNK - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            // A full chunk is sealed only once more data arrives, so the final chunk is known.
            if self.buf.len() == CHUNK && !data.is_empty() {
                self.seal(false)?;
            }
        }
        Ok(total)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a sealed stream into `out`; every chunk is authenticated before it is written, and a
/// caller that writes to a temporary file keeps nothing when this fails. Returns the number
/// of plaintext bytes.
pub fn unseal(
    mut input: impl Read,
    passphrase: &Secret,
    mut out: impl Write,
) -> Result<u64, SealError> {
    let mut header = [0u8; HEADER_LEN];
    if input.read_exact(&mut header).is_err() || &header[..16] != MAGIC {
        return Err(SealError::NotSealed);
    }
    let be =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (m, t, p, chunk) = (be(16), be(20), be(24), be(51) as usize);
    let absurd = SealError::AbsurdCosts { m_kib: m, t, p };
    if !(8..=1024 * 1024).contains(&m)
        || !(1..=64).contains(&t)
        || !(1..=16).contains(&p)
        || !(1..=64 << 20).contains(&chunk)
    {
        return Err(absurd);
    }
    let key = derive_key(passphrase, &header[28..44], m, t, p).ok_or(absurd)?;
    if key_check(&key) != header[55..71] {
        return Err(SealError::WrongPassphrase);
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()));
    let mut prefix = [0u8; 7];
    prefix.copy_from_slice(&header[44..51]);
    let size = chunk + TAG;
    let mut cur = vec![0u8; size];
    let mut cur_len = read_full(&mut input, &mut cur).map_err(SealError::Read)?;
    let mut index: u32 = 0;
    let mut written = 0u64;
    loop {
        let mut next = vec![0u8; size];
        let next_len = if cur_len == size {
            read_full(&mut input, &mut next).map_err(SealError::Read)?
        } else {
            0
        };
        let last = next_len == 0;
        let Some(pt) = open(&cipher, &prefix, &header, index, last, &cur[..cur_len]) else {
            let later = u64::from(next_len > 0) + chunks_left(&mut input, size);
            return Err(diagnose(
                &cipher,
                &prefix,
                &header,
                (index, last),
                &cur[..cur_len],
                size,
                later,
            ));
        };
        out.write_all(&pt).map_err(SealError::Write)?;
        written += pt.len() as u64;
        if last {
            break;
        }
        cur = next;
        cur_len = next_len;
        index = index.checked_add(1).ok_or(SealError::Tampered {
            chunk: u64::from(index),
            chunks: u64::from(index),
        })?;
    }
    out.flush().map_err(SealError::Write)?;
    Ok(written)
}

/// Opens one chunk as the chunk at `index` (the final one when `last`).
fn open(
    cipher: &Aes256Gcm,
    prefix: &[u8; 7],
    header: &[u8; HEADER_LEN],
    index: u32,
    last: bool,
    ct: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    cipher
        .decrypt(
            Nonce::from_slice(&nonce(prefix, index, last)),
            Payload {
                msg: ct,
                aad: header,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// How many chunks of `size` bytes (the last one shorter) remain in `input`; reads it to the end.
fn chunks_left(input: &mut impl Read, size: usize) -> u64 {
    let bytes = std::io::copy(input, &mut std::io::sink()).unwrap_or(0);
    bytes.div_ceil(size as u64)
}

/// Why the chunk at `index` (`ct`, the file's final chunk when `last`, `later` chunks after it)
/// fails authentication: it belongs elsewhere (reordered), it is a whole chunk that was not
/// sealed as the final one (the file was cut after it), the file ends inside it (cut mid-chunk,
/// or its end was changed), or its bytes were changed. Only runs when a file is refused.
fn diagnose(
    cipher: &Aes256Gcm,
    prefix: &[u8; 7],
    header: &[u8; HEADER_LEN],
    (index, last): (u32, bool),
    ct: &[u8],
    size: usize,
    later: u64,
) -> SealError {
    let position = u64::from(index);
    let chunks = position + 1 + later;
    if last && ct.len() == size && open(cipher, prefix, header, index, false, ct).is_some() {
        return SealError::Truncated { last: position };
    }
    let positions = u32::try_from(chunks).unwrap_or(u32::MAX);
    for j in (0..positions).filter(|&j| j != index) {
        if [false, true]
            .into_iter()
            .any(|fin| open(cipher, prefix, header, j, fin, ct).is_some())
        {
            return SealError::Reordered {
                position,
                belongs: u64::from(j),
            };
        }
    }
    if last {
        SealError::CutShort { chunk: position }
    } else {
        SealError::Tampered {
            chunk: position,
            chunks,
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(data: &[u8], pass: &str) -> Vec<u8> {
        let mut s = Sealer::new(Vec::new(), &Secret::from(pass)).unwrap();
        s.write_all(data).unwrap();
        s.finish().unwrap()
    }

    #[test]
    fn what_is_sealed_opens_and_any_change_is_caught() {
        let pass = "a long enough passphrase";
        // Two full chunks and a short one: chunk boundaries and the final flag are exercised.
        let data: Vec<u8> = (0..(2 * CHUNK + 1234)).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&data, pass);
        assert_eq!(sealed.len(), HEADER_LEN + data.len() + 3 * TAG);
        assert!(!sealed.windows(64).any(|w| w == &data[1000..1064]));
        let mut out = Vec::new();
        assert_eq!(
            unseal(&sealed[..], &Secret::from(pass), &mut out).unwrap(),
            data.len() as u64
        );
        assert_eq!(out, data);

        let wrong = unseal(&sealed[..], &Secret::from("another passphrase"), Vec::new());
        assert!(matches!(wrong, Err(SealError::WrongPassphrase)));
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + CHUNK + 20] ^= 1;
        let e = unseal(&flipped[..], &Secret::from(pass), Vec::new()).unwrap_err();
        assert!(
            matches!(
                e,
                SealError::Tampered {
                    chunk: 1,
                    chunks: 3
                }
            ),
            "{e}"
        );
        // Cut after a whole chunk: the new last chunk was not sealed as the last one.
        let cut = &sealed[..HEADER_LEN + CHUNK + TAG];
        let e = unseal(cut, &Secret::from(pass), Vec::new()).unwrap_err();
        assert!(matches!(e, SealError::Truncated { last: 0 }), "{e}");
        // Cut inside a chunk.
        let cut = &sealed[..HEADER_LEN + CHUNK + TAG + 1000];
        let e = unseal(cut, &Secret::from(pass), Vec::new()).unwrap_err();
        assert!(matches!(e, SealError::CutShort { chunk: 1 }), "{e}");
        // The two whole chunks swapped.
        let (a, b) = (HEADER_LEN, HEADER_LEN + CHUNK + TAG);
        let mut swapped = sealed[..a].to_vec();
        swapped.extend_from_slice(&sealed[b..b + CHUNK + TAG]);
        swapped.extend_from_slice(&sealed[a..b]);
        swapped.extend_from_slice(&sealed[b + CHUNK + TAG..]);
        let e = unseal(&swapped[..], &Secret::from(pass), Vec::new()).unwrap_err();
        assert!(
            matches!(
                e,
                SealError::Reordered {
                    position: 0,
                    belongs: 1
                }
            ),
            "{e}"
        );
        assert!(matches!(
            unseal(&b"not sealed at all"[..], &Secret::from(pass), Vec::new()),
            Err(SealError::NotSealed)
        ));
    }

    #[test]
    fn short_passphrases_are_refused() {
        assert!(matches!(
            Sealer::new(Vec::new(), &Secret::from("short")),
            Err(SealError::WeakPassphrase)
        ));
    }

    #[test]
    fn a_forged_header_with_costs_argon2_refuses_is_an_error_not_a_panic() {
        let mut header = [0u8; HEADER_LEN];
        header[..16].copy_from_slice(MAGIC);
        header[16..20].copy_from_slice(&8u32.to_be_bytes()); // 8 KiB …
        header[20..24].copy_from_slice(&1u32.to_be_bytes());
        header[24..28].copy_from_slice(&16u32.to_be_bytes()); // … for 16 lanes: too little
        header[51..55].copy_from_slice(&1024u32.to_be_bytes());
        let e = unseal(
            &header[..],
            &Secret::from("whatever passphrase"),
            Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(e, SealError::AbsurdCosts { .. }), "{e}");
    }
}
