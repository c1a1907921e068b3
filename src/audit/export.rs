//! Exports of the audit log: CSV (RFC 4180) or JSON Lines, of the whole log or a filter, with a
//! manifest beside the file, and optional encryption for transport.
//!
//! The file is written to a temporary file in the target's directory and renamed only when it
//! is complete, so nothing half-written is ever presented as an export.
//!
//! Encrypted container (all integers big-endian):
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
//! removed, truncated or modified chunk fails authentication.

use crate::secret::Secret;
use crate::store::{AuditFilter, AuditRowRef, Store, StoreError};
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const MAGIC: &[u8; 16] = b"TDEKEY-EXPORT-v1";
const HEADER_LEN: usize = 71;
const CHUNK: usize = 1 << 20;
const TAG: usize = 16;
/// Argon2id cost for new exports: 64 MiB, 3 passes, 1 lane.
const M_COST_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;
/// Shortest passphrase accepted for encryption.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("Cannot write the export to {path}: {detail}. Choose a directory you can write to.")]
    Write { path: PathBuf, detail: String },
    #[error("The export was cancelled; no file was written.")]
    Cancelled,
    #[error("The passphrase must be at least {MIN_PASSPHRASE_CHARS} characters long.")]
    WeakPassphrase,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Cannot read {path}: {detail}.")]
    Read { path: PathBuf, detail: String },
    #[error("{path} is not an encrypted tdekey export (its header is not TDEKEY-EXPORT-v1).")]
    NotAnExport { path: PathBuf },
    #[error(
        "{path} asks for Argon2id costs tdekey refuses (memory {m_kib} KiB, {t} passes, {p} lanes): it was not written by tdekey."
    )]
    AbsurdCosts {
        path: PathBuf,
        m_kib: u32,
        t: u32,
        p: u32,
    },
    #[error("The passphrase is wrong for {path}. Nothing was written.")]
    WrongPassphrase { path: PathBuf },
    #[error(
        "{path} was modified or truncated: chunk {chunk} fails authentication. Nothing was written; get a fresh copy of the export."
    )]
    Tampered { path: PathBuf, chunk: u64 },
}

/// Written beside every export as `<file>.manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub tdekey_version: &'static str,
    pub created_utc: String,
    pub file: String,
    pub format: Format,
    pub encrypted: Option<EncryptionInfo>,
    pub entries: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The whole log's head when the export was made.
    pub chain_head: Option<ChainHead>,
    /// The newest checkpoint at that moment.
    pub checkpoint: Option<CheckpointInfo>,
    pub filter: AuditFilter,
    /// SHA-256 of the export file as written (of the ciphertext when encrypted).
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct EncryptionInfo {
    pub container: &'static str,
    pub kdf: &'static str,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub parallelism: u32,
    pub cipher: &'static str,
    pub chunk_bytes: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckpointInfo {
    pub id: i64,
    pub seq: i64,
    pub created_utc: String,
}

pub(crate) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
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

/// Counts what passes through and hashes it.
struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Seals what is written in chunks.
struct Sealing<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    header: [u8; HEADER_LEN],
    prefix: [u8; 7],
    buf: Zeroizing<Vec<u8>>,
    index: u32,
}

impl<W: Write> Sealing<W> {
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
            .ok_or_else(|| std::io::Error::other("export too large to encrypt"))?;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Sealing<W> {
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

enum Sink<W: Write> {
    Plain(W),
    Sealed(Box<Sealing<W>>),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(s) => s.flush(),
        }
    }
}

const CSV_HEADER: [&str; 12] = [
    "seq",
    "ts_utc",
    "ts_ms",
    "os_user",
    "hsm_user",
    "host",
    "action",
    "target",
    "outcome",
    "details",
    "prev_hash",
    "hash",
];

#[derive(Serialize)]
struct JsonRow<'a> {
    seq: i64,
    ts_utc: String,
    ts_ms: i64,
    os_user: &'a str,
    hsm_user: Option<&'a str>,
    host: &'a str,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    details: serde_json::Value,
    prev_hash: String,
    hash: String,
}

/// Formats UTC times, reusing the text of the last second seen (log entries come in bursts).
#[derive(Default)]
struct UtcCache {
    second: Option<i64>,
    prefix: String,
    text: String,
}

impl UtcCache {
    fn format(&mut self, ms: i64) -> &str {
        let sec = ms.div_euclid(1000);
        if self.second != Some(sec) {
            let full = utc(sec * 1000);
            // "2026-11-24T05:05:26.000Z" without "000Z".
            self.prefix = full[..full.len().saturating_sub(4)].to_owned();
            self.second = Some(sec);
        }
        self.text.clear();
        self.text.push_str(&self.prefix);
        let millis = ms.rem_euclid(1000);
        self.text.push(char::from(b'0' + (millis / 100) as u8));
        self.text.push(char::from(b'0' + (millis / 10 % 10) as u8));
        self.text.push(char::from(b'0' + (millis % 10) as u8));
        self.text.push('Z');
        &self.text
    }
}

enum RowWriter<W: Write> {
    Csv(Box<csv::Writer<Sink<W>>>, UtcCache),
    Jsonl(Sink<W>),
}

impl<W: Write> RowWriter<W> {
    fn row(&mut self, r: &AuditRowRef<'_>) -> Result<(), String> {
        match self {
            RowWriter::Csv(w, times) => {
                let mut n1 = itoa::Buffer::new();
                let mut n2 = itoa::Buffer::new();
                let mut h1 = [0u8; 64];
                let mut h2 = [0u8; 64];
                hex::encode_to_slice(r.prev_hash, &mut h1[..r.prev_hash.len().min(32) * 2])
                    .map_err(|e| e.to_string())?;
                hex::encode_to_slice(r.hash, &mut h2[..r.hash.len().min(32) * 2])
                    .map_err(|e| e.to_string())?;
                let fields: [&[u8]; 12] = [
                    n1.format(r.seq).as_bytes(),
                    times.format(r.ts_ms).as_bytes(),
                    n2.format(r.ts_ms).as_bytes(),
                    r.os_user.as_bytes(),
                    r.hsm_user.unwrap_or("").as_bytes(),
                    r.host.as_bytes(),
                    r.action.as_bytes(),
                    r.target.as_bytes(),
                    r.outcome.as_bytes(),
                    r.details.as_bytes(),
                    &h1,
                    &h2,
                ];
                w.write_record(fields).map_err(|e| e.to_string())
            }
            RowWriter::Jsonl(w) => {
                let row = JsonRow {
                    seq: r.seq,
                    ts_utc: utc(r.ts_ms),
                    ts_ms: r.ts_ms,
                    os_user: r.os_user,
                    hsm_user: r.hsm_user,
                    host: r.host,
                    action: r.action,
                    target: r.target,
                    outcome: r.outcome,
                    details: serde_json::from_str(r.details)
                        .unwrap_or_else(|_| serde_json::Value::String(r.details.to_owned())),
                    prev_hash: hex::encode(r.prev_hash),
                    hash: hex::encode(r.hash),
                };
                serde_json::to_writer(&mut *w, &row).map_err(|e| e.to_string())?;
                w.write_all(b"\n").map_err(|e| e.to_string())
            }
        }
    }

    fn into_sink(self) -> Result<Sink<W>, String> {
        match self {
            RowWriter::Csv(w, _) => w.into_inner().map_err(|e| e.error().to_string()),
            RowWriter::Jsonl(s) => Ok(s),
        }
    }
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// A temporary file in `out`'s directory, renamed over `out` once complete.
fn temp_beside(out: &Path, prefix: &str) -> Result<tempfile::NamedTempFile, ExportError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(write_err(
            out,
            format!("the directory {} does not exist", dir.display()),
        ));
    }
    tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(|e| write_err(out, e))
}

/// The path of the manifest written beside `out`.
pub fn manifest_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".manifest.json");
    PathBuf::from(s)
}

/// Exports the entries matching `filter` to `out`. `progress(done, total)` returns false to cancel.
pub fn export(
    store: &Store,
    filter: &AuditFilter,
    format: Format,
    passphrase: Option<&Secret>,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Manifest, ExportError> {
    if passphrase.is_some_and(|p| p.expose().chars().count() < MIN_PASSPHRASE_CHARS) {
        return Err(ExportError::WeakPassphrase);
    }
    let tmp = temp_beside(out, ".tdekey-export-")?;
    let total = store.audit_count(filter)?;
    let head = store.audit_head()?;
    let checkpoint = store.checkpoints()?.pop();
    let file = tmp.as_file().try_clone().map_err(|e| write_err(out, e))?;
    let mut hashing = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        sha: Sha256::new(),
    };
    let encryption = match passphrase {
        None => None,
        Some(pass) => {
            let mut salt = [0u8; 16];
            let mut prefix = [0u8; 7];
            OsRng.fill_bytes(&mut salt);
            OsRng.fill_bytes(&mut prefix);
            let key = derive_key(pass, &salt, M_COST_KIB, T_COST, P_COST)
                .ok_or_else(|| write_err(out, "the key derivation failed"))?;
            let mut header = [0u8; HEADER_LEN];
            header[..16].copy_from_slice(MAGIC);
            header[16..20].copy_from_slice(&M_COST_KIB.to_be_bytes());
            header[20..24].copy_from_slice(&T_COST.to_be_bytes());
            header[24..28].copy_from_slice(&P_COST.to_be_bytes());
            header[28..44].copy_from_slice(&salt);
            header[44..51].copy_from_slice(&prefix);
            header[51..55].copy_from_slice(&(CHUNK as u32).to_be_bytes());
            header[55..71].copy_from_slice(&key_check(&key));
            hashing.write_all(&header).map_err(|e| write_err(out, e))?;
            Some((
                Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref())),
                header,
                prefix,
            ))
        }
    };
    let encrypted = encryption.is_some();
    let sink = match encryption {
        None => Sink::Plain(hashing),
        Some((cipher, header, prefix)) => Sink::Sealed(Box::new(Sealing {
            inner: hashing,
            cipher,
            header,
            prefix,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            index: 0,
        })),
    };

    let mut writer = match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(CSV_HEADER).map_err(|e| write_err(out, e))?;
            RowWriter::Csv(Box::new(w), UtcCache::default())
        }
        Format::Jsonl => RowWriter::Jsonl(sink),
    };
    let mut done = 0u64;
    let mut first = None;
    let mut last = None;
    let mut failure = None;
    let mut cancelled = false;
    store.for_each_audit_ref(filter, |r| {
        if let Err(e) = writer.row(r) {
            failure = Some(write_err(out, e));
            return false;
        }
        first.get_or_insert(r.seq);
        last = Some(r.seq);
        done += 1;
        if done.is_multiple_of(1000) && !progress(done, total) {
            cancelled = true;
            return false;
        }
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if cancelled || !progress(done, total) {
        return Err(ExportError::Cancelled);
    }
    let mut hashing = match writer.into_sink().map_err(|e| write_err(out, e))? {
        Sink::Plain(h) => h,
        Sink::Sealed(s) => s.finish().map_err(|e| write_err(out, e))?,
    };
    hashing.flush().map_err(|e| write_err(out, e))?;
    let sha256 = hex::encode(hashing.sha.finalize_reset());
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| write_err(out, e.error()))?;
    file.sync_all().map_err(|e| write_err(out, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(|e| write_err(out, e))?;
    }

    let manifest = Manifest {
        tdekey_version: crate::VERSION,
        created_utc: utc(crate::model::now_ms()),
        file: out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format,
        encrypted: encrypted.then_some(EncryptionInfo {
            container: "TDEKEY-EXPORT-v1",
            kdf: "argon2id",
            m_cost_kib: M_COST_KIB,
            t_cost: T_COST,
            parallelism: P_COST,
            cipher: "AES-256-GCM, STREAM chunks",
            chunk_bytes: CHUNK,
        }),
        entries: done,
        first_seq: first,
        last_seq: last,
        chain_head: head.map(|(seq, h)| ChainHead {
            seq,
            hash: hex::encode(h),
        }),
        checkpoint: checkpoint.map(|c| CheckpointInfo {
            id: c.id.unwrap_or(0),
            seq: c.seq,
            created_utc: utc(c.created_ms),
        }),
        filter: filter.clone(),
        sha256,
    };
    let mpath = manifest_path(out);
    let mtmp = temp_beside(&mpath, ".tdekey-manifest-")?;
    serde_json::to_writer_pretty(mtmp.as_file(), &manifest).map_err(|e| write_err(&mpath, e))?;
    mtmp.as_file()
        .sync_all()
        .map_err(|e| write_err(&mpath, e))?;
    tmp.persist(out).map_err(|e| write_err(out, e.error))?;
    mtmp.persist(&mpath)
        .map_err(|e| write_err(&mpath, e.error))?;
    Ok(manifest)
}

/// Decrypts an encrypted export to `out` (written only when every chunk authenticates).
/// Returns the number of plaintext bytes.
pub fn decrypt(input: &Path, passphrase: &Secret, out: &Path) -> Result<u64, ExportError> {
    let read_err = |e: std::io::Error| ExportError::Read {
        path: input.to_path_buf(),
        detail: e.to_string(),
    };
    let mut f = std::io::BufReader::new(std::fs::File::open(input).map_err(read_err)?);
    let mut header = [0u8; HEADER_LEN];
    if f.read_exact(&mut header).is_err() || &header[..16] != MAGIC {
        return Err(ExportError::NotAnExport {
            path: input.to_path_buf(),
        });
    }
    let be =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (m, t, p, chunk) = (be(16), be(20), be(24), be(51) as usize);
    if !(8..=1024 * 1024).contains(&m)
        || !(1..=64).contains(&t)
        || !(1..=16).contains(&p)
        || !(1..=64 << 20).contains(&chunk)
    {
        return Err(ExportError::AbsurdCosts {
            path: input.to_path_buf(),
            m_kib: m,
            t,
            p,
        });
    }
    let absurd = || ExportError::AbsurdCosts {
        path: input.to_path_buf(),
        m_kib: m,
        t,
        p,
    };
    let key = derive_key(passphrase, &header[28..44], m, t, p).ok_or_else(absurd)?;
    if key_check(&key) != header[55..71] {
        return Err(ExportError::WrongPassphrase {
            path: input.to_path_buf(),
        });
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()));
    let mut prefix = [0u8; 7];
    prefix.copy_from_slice(&header[44..51]);
    let tmp = temp_beside(out, ".tdekey-decrypt-")?;
    let mut w = std::io::BufWriter::new(tmp.as_file());
    let size = chunk + TAG;
    let mut cur = vec![0u8; size];
    let mut cur_len = read_full(&mut f, &mut cur).map_err(read_err)?;
    let mut index: u32 = 0;
    let mut written = 0u64;
    loop {
        let mut next = vec![0u8; size];
        let next_len = if cur_len == size {
            read_full(&mut f, &mut next).map_err(read_err)?
        } else {
            0
        };
        let last = next_len == 0;
        let tampered = || ExportError::Tampered {
            path: input.to_path_buf(),
            chunk: u64::from(index),
        };
        let pt = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(&nonce(&prefix, index, last)),
                    Payload {
                        msg: &cur[..cur_len],
                        aad: &header,
                    },
                )
                .map_err(|_| tampered())?,
        );
        w.write_all(&pt).map_err(|e| write_err(out, e))?;
        written += pt.len() as u64;
        if last {
            break;
        }
        cur = next;
        cur_len = next_len;
        index = index.checked_add(1).ok_or_else(tampered)?;
    }
    w.flush().map_err(|e| write_err(out, e))?;
    drop(w);
    tmp.as_file().sync_all().map_err(|e| write_err(out, e))?;
    tmp.persist(out).map_err(|e| write_err(out, e.error))?;
    Ok(written)
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

    #[test]
    fn a_forged_header_with_costs_argon2_refuses_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut header = [0u8; HEADER_LEN];
        header[..16].copy_from_slice(MAGIC);
        header[16..20].copy_from_slice(&8u32.to_be_bytes()); // 8 KiB …
        header[20..24].copy_from_slice(&1u32.to_be_bytes());
        header[24..28].copy_from_slice(&16u32.to_be_bytes()); // … for 16 lanes: too little
        header[51..55].copy_from_slice(&1024u32.to_be_bytes());
        let f = dir.path().join("forged.enc");
        std::fs::write(&f, header).unwrap();
        let e = decrypt(
            &f,
            &Secret::from("whatever passphrase"),
            &dir.path().join("o"),
        )
        .unwrap_err();
        assert!(matches!(e, ExportError::AbsurdCosts { .. }), "{e}");
    }

    #[test]
    fn cached_times_match_chrono() {
        let mut c = UtcCache::default();
        for ms in [
            0i64,
            999,
            1000,
            1_795_493_945_610,
            1_795_493_945_007,
            1_795_493_946_120,
            -1,
        ] {
            assert_eq!(c.format(ms), utc(ms), "{ms}");
        }
    }
}
