//! Exports of the audit log: CSV (RFC 4180) or JSON Lines, of the whole log or a filter, with a
//! manifest beside the file, and optional encryption for transport.
//!
//! The file is written to a temporary file in the target's directory and renamed only when it
//! is complete, so nothing half-written is ever presented as an export.
//!
//! Encrypted exports are sealed with [`crate::secret::sealed`] (Argon2id + AES-256-GCM in
//! STREAM chunks); its module documentation gives the container's layout.

use crate::secret::Secret;
use crate::secret::sealed::{self, SealError, Sealer};
use crate::store::{AuditFilter, AuditRowRef, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::secret::sealed::MIN_PASSPHRASE_CHARS;

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
    #[error(transparent)]
    Out(#[from] crate::paths::out::OutError),
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
    #[error(
        "The passphrase is wrong for {path} (or the file's header was changed). Nothing was written."
    )]
    WrongPassphrase { path: PathBuf },
    #[error(
        "{path} was modified: chunk {chunk} of {chunks} fails authentication. Nothing was written; get a fresh copy of the export."
    )]
    Tampered {
        path: PathBuf,
        chunk: u64,
        chunks: u64,
    },
    #[error(
        "{path} was reordered: chunk {belongs} is at position {position}. Nothing was written; get a fresh copy of the export."
    )]
    Reordered {
        path: PathBuf,
        position: u64,
        belongs: u64,
    },
    #[error(
        "{path} is truncated: it ends after chunk {last}, which is not the final chunk, so the rest of the export is missing. Nothing was written; get a complete copy of the export."
    )]
    Truncated { path: PathBuf, last: u64 },
    #[error(
        "{path} is cut off in the middle of chunk {chunk} (or that last chunk was changed): it fails authentication. Nothing was written; get a complete copy of the export."
    )]
    CutShort { path: PathBuf, chunk: u64 },
}

impl ExportError {
    /// Whether trying again can help.
    pub fn retry(&self) -> crate::model::Retry {
        use crate::model::Retry;
        match self {
            ExportError::Store(e) => e.retry(),
            ExportError::Cancelled => Retry::Yes,
            _ => Retry::AfterFix,
        }
    }
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

enum Sink<W: Write> {
    Plain(W),
    Sealed(Box<Sealer<W>>),
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
pub(crate) struct UtcCache {
    second: Option<i64>,
    prefix: String,
    text: String,
}

impl UtcCache {
    pub(crate) fn format(&mut self, ms: i64) -> &str {
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
fn temp_beside(
    out: &Path,
    force: bool,
    prefix: &str,
) -> Result<crate::paths::out::OutFile, ExportError> {
    Ok(crate::paths::out::OutFile::create(out, force, prefix)?)
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
    force: bool,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<Manifest, ExportError> {
    if passphrase.is_some_and(|p| p.expose().chars().count() < MIN_PASSPHRASE_CHARS) {
        return Err(ExportError::WeakPassphrase);
    }
    let tmp = temp_beside(out, force, ".tdekey-export-")?;
    crate::paths::out::check_target(&manifest_path(out), force)?;
    let total = store.audit_count(filter)?;
    let head = store.audit_head()?;
    let checkpoint = store.checkpoints()?.pop();
    let file = tmp.file().try_clone().map_err(|e| write_err(out, e))?;
    let hashing = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        sha: Sha256::new(),
    };
    let encrypted = passphrase.is_some();
    let sink = match passphrase {
        None => Sink::Plain(hashing),
        Some(pass) => Sink::Sealed(Box::new(
            Sealer::new(hashing, pass).map_err(|e| sealing_err(out, e))?,
        )),
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
    crate::paths::set_mode(tmp.temp_path(), 0o600).map_err(|e| write_err(out, e))?;

    let manifest = Manifest {
        tdekey_version: crate::VERSION,
        created_utc: utc(crate::model::now_ms()),
        file: out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        format,
        encrypted: encrypted.then_some(EncryptionInfo {
            container: sealed::CONTAINER,
            kdf: "argon2id",
            m_cost_kib: sealed::M_COST_KIB,
            t_cost: sealed::T_COST,
            parallelism: sealed::P_COST,
            cipher: "AES-256-GCM, STREAM chunks",
            chunk_bytes: sealed::CHUNK,
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
    let mtmp = temp_beside(&mpath, force, ".tdekey-manifest-")?;
    serde_json::to_writer_pretty(mtmp.file(), &manifest).map_err(|e| write_err(&mpath, e))?;
    tmp.commit()?;
    mtmp.commit()?;
    Ok(manifest)
}

fn sealing_err(out: &Path, e: SealError) -> ExportError {
    match e {
        SealError::WeakPassphrase => ExportError::WeakPassphrase,
        other => write_err(out, other),
    }
}

/// Decrypts an encrypted export to `out` (written only when every chunk authenticates).
/// Returns the number of plaintext bytes.
pub fn decrypt(
    input: &Path,
    passphrase: &Secret,
    out: &Path,
    force: bool,
) -> Result<u64, ExportError> {
    let path = input.to_path_buf();
    let file = std::fs::File::open(input).map_err(|e| ExportError::Read {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    let tmp = temp_beside(out, force, ".tdekey-decrypt-")?;
    let written = sealed::unseal(
        std::io::BufReader::new(file),
        passphrase,
        std::io::BufWriter::new(tmp.file()),
    )
    .map_err(|e| match e {
        SealError::NotSealed => ExportError::NotAnExport { path },
        SealError::AbsurdCosts { m_kib, t, p } => ExportError::AbsurdCosts { path, m_kib, t, p },
        SealError::WrongPassphrase => ExportError::WrongPassphrase { path },
        SealError::Tampered { chunk, chunks } => ExportError::Tampered {
            path,
            chunk,
            chunks,
        },
        SealError::Reordered { position, belongs } => ExportError::Reordered {
            path,
            position,
            belongs,
        },
        SealError::Truncated { last } => ExportError::Truncated { path, last },
        SealError::CutShort { chunk } => ExportError::CutShort { path, chunk },
        SealError::Read(e) => ExportError::Read {
            path,
            detail: e.to_string(),
        },
        other => write_err(out, other),
    })?;
    tmp.commit()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

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
